/* Byte-class scans of the masking engine, 16 bytes at a time: where a JSON
 * string's plain run stops (quote, backslash, control byte), as an index or
 * as a 64-bit mask of such bytes (the JSON walker steps from one to the next
 * within a window without rescanning), and which of
 * 64 bytes are ASCII digits, '+', capitals, letters or '_', and the
 * separators of numeric formats (the native numeric scanner walks digit
 * runs from those bit masks instead of byte by byte).
 *
 * SSE2 on x86_64 (part of the base ISA), and for the 64-byte masks
 * AVX-512BW when the CPU has it (checked at run time: one masked load and a
 * handful of compares per window); a portable scalar loop elsewhere. The
 * scalar versions (*_ref) are also the reference the unit tests and
 * fuzz_mask compare the fast ones with. */
#include <string.h>

#include "mask_internal.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#define MASK_HAVE_SSE2 1
#endif
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define MASK_HAVE_AVX512 1
#endif

static bool avx512_off; /* tests: exercise the SSE2 path on any CPU */

void mask_simd_avx512(bool on)
{
    avx512_off = !on;
}

#ifdef MASK_HAVE_AVX512
static bool use_avx512(void)
{
    return !avx512_off && __builtin_cpu_supports("avx512bw");
}

__attribute__((target("avx512bw"))) static uint64_t str_masks64_avx512(const char *p, size_t n,
                                                                         uint64_t *high)
{
    __mmask64 k = n >= 64 ? ~(__mmask64)0 : ((__mmask64)1 << n) - 1;
    __m512i x = _mm512_maskz_loadu_epi8(k, p); /* bytes past n read as 0, never touched */
    __mmask64 m = _mm512_cmpeq_epi8_mask(x, _mm512_set1_epi8('"')) |
                  _mm512_cmpeq_epi8_mask(x, _mm512_set1_epi8('\\')) |
                  _mm512_cmple_epu8_mask(x, _mm512_set1_epi8(0x1F));
    *high = _mm512_movepi8_mask(x) & k;
    return m & k;
}

__attribute__((target("avx512bw"))) static void classes64_avx512(const char *p, size_t n,
                                                                  mask_classes *m)
{
    __mmask64 k = n >= 64 ? ~(__mmask64)0 : ((__mmask64)1 << n) - 1;
    __m512i x = _mm512_maskz_loadu_epi8(k, p);
    __m512i lc = _mm512_or_si512(x, _mm512_set1_epi8(0x20));
#define IN(v, lo, hi)                                                                          \
    (_mm512_cmpge_epu8_mask(v, _mm512_set1_epi8(lo)) & _mm512_cmple_epu8_mask(v, _mm512_set1_epi8(hi)))
#define EQ(c) _mm512_cmpeq_epi8_mask(x, _mm512_set1_epi8(c))
    m->digit = IN(x, '0', '9') & k;
    m->plus = EQ('+') & k;
    m->upper = IN(x, 'A', 'Z') & k;
    m->word = (IN(lc, 'a', 'z') | EQ('_')) & k;
    m->dashdot = (EQ('-') | EQ('.')) & k;
    m->space = EQ(' ') & k;
    m->paren = EQ(')') & k;
#undef IN
#undef EQ
}
#endif

size_t mask_str_stop_ref(const char *p, size_t n, bool *high)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)p[i];
        if (ch == '"' || ch == '\\' || ch < 0x20)
            return i;
        if (ch >= 0x80)
            *high = true;
    }
    return n;
}

uint64_t mask_str_masks64_ref(const char *p, size_t n, uint64_t *high)
{
    uint64_t m = 0, h = 0;
    if (n > 64)
        n = 64;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)p[i];
        if (ch == '"' || ch == '\\' || ch < 0x20)
            m |= (uint64_t)1 << i;
        if (ch >= 0x80)
            h |= (uint64_t)1 << i;
    }
    *high = h;
    return m;
}

void mask_classes64_ref(const char *p, size_t n, mask_classes *m)
{
    memset(m, 0, sizeof *m);
    if (n > 64)
        n = 64;
    for (size_t i = 0; i < n; i++) {
        char ch = p[i];
        uint64_t bit = (uint64_t)1 << i;
        if (ch >= '0' && ch <= '9')
            m->digit |= bit;
        if (ch == '+')
            m->plus |= bit;
        if (ch >= 'A' && ch <= 'Z')
            m->upper |= bit;
        if ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || ch == '_')
            m->word |= bit;
        if (ch == '-' || ch == '.')
            m->dashdot |= bit;
        if (ch == ' ')
            m->space |= bit;
        if (ch == ')')
            m->paren |= bit;
    }
}

#ifdef MASK_HAVE_SSE2

size_t mask_str_stop(const char *p, size_t n, bool *high)
{
    const __m128i q = _mm_set1_epi8('"'), bs = _mm_set1_epi8('\\'), c1f = _mm_set1_epi8(0x1F);
    size_t i = 0;
    while (n - i >= 16) {
        __m128i x = _mm_loadu_si128((const __m128i *)(const void *)(p + i));
        __m128i hit = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(x, q), _mm_cmpeq_epi8(x, bs)),
                                   _mm_cmpeq_epi8(_mm_max_epu8(x, c1f), c1f));
        unsigned m = (unsigned)_mm_movemask_epi8(hit), h = (unsigned)_mm_movemask_epi8(x);
        if (m) {
            unsigned k = (unsigned)__builtin_ctz(m);
            if (h & ((1u << k) - 1))
                *high = true;
            return i + k;
        }
        if (h)
            *high = true;
        i += 16;
    }
    return i + mask_str_stop_ref(p + i, n - i, high);
}

static inline uint64_t stops16(const char *p, uint64_t *high)
{
    const __m128i q = _mm_set1_epi8('"'), bs = _mm_set1_epi8('\\'), c1f = _mm_set1_epi8(0x1F);
    __m128i x = _mm_loadu_si128((const __m128i *)(const void *)p);
    __m128i hit = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(x, q), _mm_cmpeq_epi8(x, bs)),
                               _mm_cmpeq_epi8(_mm_max_epu8(x, c1f), c1f));
    *high = (uint64_t)(unsigned)_mm_movemask_epi8(x);
    return (uint64_t)(unsigned)_mm_movemask_epi8(hit);
}

uint64_t mask_str_masks64(const char *p, size_t n, uint64_t *high)
{
#ifdef MASK_HAVE_AVX512
    if (use_avx512())
        return str_masks64_avx512(p, n, high);
#endif
    uint64_t m = 0, h = 0, t;
    size_t i = 0;
    for (; i < 64 && n - i >= 16; i += 16) {
        m |= stops16(p + i, &t) << i;
        h |= t << i;
    }
    if (i < 64 && i < n) {
        /* the last 1-15 bytes through a zero-padded copy (zeros are
         * control bytes: their stop bits are cut off) */
        char tmp[16] = {0};
        size_t r = n - i;
        memcpy(tmp, p + i, r);
        uint64_t keep = ((uint64_t)1 << r) - 1;
        m |= (stops16(tmp, &t) & keep) << i;
        h |= (t & keep) << i;
    }
    *high = h;
    return m;
}

/* The classes of 16 bytes, or-ed into m at bit offset sh. */
static inline void classes16(const char *p, mask_classes *m, unsigned sh)
{
    __m128i x = _mm_loadu_si128((const __m128i *)(const void *)p);
    __m128i d = _mm_and_si128(_mm_cmpgt_epi8(x, _mm_set1_epi8('0' - 1)),
                              _mm_cmplt_epi8(x, _mm_set1_epi8('9' + 1)));
    __m128i u = _mm_and_si128(_mm_cmpgt_epi8(x, _mm_set1_epi8('A' - 1)),
                              _mm_cmplt_epi8(x, _mm_set1_epi8('Z' + 1)));
    __m128i lc = _mm_or_si128(x, _mm_set1_epi8(0x20));
    __m128i l = _mm_and_si128(_mm_cmpgt_epi8(lc, _mm_set1_epi8('a' - 1)),
                              _mm_cmplt_epi8(lc, _mm_set1_epi8('z' + 1)));
    __m128i w = _mm_or_si128(l, _mm_cmpeq_epi8(x, _mm_set1_epi8('_')));
    __m128i dd = _mm_or_si128(_mm_cmpeq_epi8(x, _mm_set1_epi8('-')),
                              _mm_cmpeq_epi8(x, _mm_set1_epi8('.')));
#define MV(v) ((uint64_t)(unsigned)_mm_movemask_epi8(v) << sh)
    m->digit |= MV(d);
    m->plus |= MV(_mm_cmpeq_epi8(x, _mm_set1_epi8('+')));
    m->upper |= MV(u);
    m->word |= MV(w);
    m->dashdot |= MV(dd);
    m->space |= MV(_mm_cmpeq_epi8(x, _mm_set1_epi8(' ')));
    m->paren |= MV(_mm_cmpeq_epi8(x, _mm_set1_epi8(')')));
#undef MV
}

void mask_classes64(const char *p, size_t n, mask_classes *m)
{
#ifdef MASK_HAVE_AVX512
    if (use_avx512()) {
        classes64_avx512(p, n, m);
        return;
    }
#endif
    size_t i = 0;
    memset(m, 0, sizeof *m);
    for (; i < 64 && n - i >= 16; i += 16)
        classes16(p + i, m, (unsigned)i);
    if (i < 64 && i < n) {
        /* the last 1-15 bytes through a zero-padded copy (a zero byte is
         * in no class) */
        char tmp[16] = {0};
        memcpy(tmp, p + i, n - i);
        classes16(tmp, m, (unsigned)i);
    }
}

#else /* portable */

size_t mask_str_stop(const char *p, size_t n, bool *high)
{
    /* Eight bytes at a time while none is '"', '\\', a control byte or
     * non-ASCII (a non-ASCII byte sends the word to the byte loop). */
    const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
    size_t i = 0;
    for (;;) {
        while (n - i >= 8) {
            uint64_t x;
            memcpy(&x, p + i, 8);
            uint64_t qq = x ^ (ones * '"'), b = x ^ (ones * '\\');
            uint64_t hit = ((qq - ones) & ~qq) | ((b - ones) & ~b) | (x - ones * 0x20) | x;
            if (hit & highs)
                break;
            i += 8;
        }
        size_t lim = n - i > 8 ? i + 8 : n;
        for (; i < lim; i++) {
            unsigned char ch = (unsigned char)p[i];
            if (ch == '"' || ch == '\\' || ch < 0x20)
                return i;
            if (ch >= 0x80)
                *high = true;
        }
        if (i >= n)
            return n;
    }
}

void mask_classes64(const char *p, size_t n, mask_classes *m) { mask_classes64_ref(p, n, m); }

uint64_t mask_str_masks64(const char *p, size_t n, uint64_t *high)
{
    return mask_str_masks64_ref(p, n, high);
}

#endif
