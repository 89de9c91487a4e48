/* Native scanner for numeric personal data: payment cards, IBANs, US SSNs,
 * ABA routing numbers and phone numbers.
 *
 * These formats have no literal to anchor on, so as Vectorscan patterns
 * they made every string pay for several digit automata (they cut the
 * database's throughput by two thirds on MCP traffic, which is full of
 * timestamps and UUIDs). One pass over the digit runs of a string finds the
 * same shapes the regexes in docs/masking.md describe and hands each to the
 * same validators.
 *
 * Digit runs are found from 64-bit masks of the digits, '+', capitals and
 * letters of the next 64 bytes (mask_simd.c), and most
 * runs are dismissed by their length and the bytes around them before any
 * shape is tried, for a whole window at once with bit operations: every
 * shape starts with a run of 9 or 13-19 digits not followed by a letter, a
 * run of 3 digits followed by '-' or '.' and two digits or by ')', a run of
 * 4 followed by ' ' or '-' and four digits, or a run after '+' or after two
 * capitals (phones, IBAN). Runs of one or two digits (timestamps, UUIDs,
 * versions) are three quarters of all runs in MCP traffic, dates and hex
 * most of the rest; only a few percent reach run_may_match, which checks
 * the same steps exactly, and one_run. mask_scan_native_ref walks the
 * runs byte by byte and tries every shape on every run; tests and fuzz_mask
 * compare the two. */
#include <string.h>

#include "mask_internal.h"

static bool dig(char ch) { return ch >= '0' && ch <= '9'; }
static bool upper(char ch) { return ch >= 'A' && ch <= 'Z'; }
static bool wordch(char ch)
{
    return dig(ch) || upper(ch) || (ch >= 'a' && ch <= 'z') || ch == '_';
}

/* Digits at s[i..], up to max; returns how many. */
static size_t digits(const char *s, size_t len, size_t i, size_t max)
{
    size_t n = 0;
    while (i + n < len && n < max && dig(s[i + n]))
        n++;
    return n;
}

static bool bound_after(const char *s, size_t len, size_t q) { return q >= len || !wordch(s[q]); }

/* Groups "dddd[ -]dddd..." starting at p with one separator kind; tries
 * the longest group count first. */
static mt_err grouped_card(mt_mask_ctx *c, const char *s, size_t len, size_t p, size_t det)
{
    static const unsigned lo[5] = {4, 4, 4, 4, 3}, hi[5] = {4, 6, 5, 4, 3};
    size_t ends[5];
    size_t ng = 0, i = p;
    char sep = 0;
    for (; ng < 5; ng++) {
        if (ng > 0) {
            if (i >= len || (s[i] != ' ' && s[i] != '-') || (sep && s[i] != sep))
                break;
            sep = s[i];
            i++;
        }
        size_t n = digits(s, len, i, 7);
        if (n < lo[ng] || n > hi[ng])
            break;
        i += n;
        ends[ng] = i;
    }
    for (size_t g = ng; g >= 3; g--)
        if (bound_after(s, len, ends[g - 1]) && mask_card_ok(s, len, p, ends[g - 1]))
            return mask_finding(c, s, p, ends[g - 1], det);
    return MT_OK;
}

/* "+CC GROUP GROUP..." (E.164 printed with separators). */
static mt_err phone_intl(mt_mask_ctx *c, const char *s, size_t len, size_t plus, size_t det)
{
    size_t i = plus + 1, n = digits(s, len, i, 4);
    if (n < 1 || n > 3)
        return MT_OK;
    i += n;
    size_t best = 0;
    for (unsigned g = 0; g < 5; g++) {
        if (i + 1 >= len || (s[i] != ' ' && s[i] != '.' && s[i] != '-'))
            break;
        n = digits(s, len, i + 1, 5);
        if (n < (g == 0 ? 1u : 2u) || n > 4)
            break;
        i += 1 + n;
        if (g >= 1 && bound_after(s, len, i))
            best = i;
    }
    if (best && mask_phone_ok(s, plus, best))
        return mask_finding(c, s, plus, best, det);
    return MT_OK;
}

/* Tries every numeric shape on the maximal digit run s[p..q). */
static mt_err one_run(mt_mask_ctx *c, const char *s, size_t len, size_t p, size_t q)
{
    const mask_native *nd = &c->e->native;
    mt_err err;
    {
        size_t run = q - p;
        bool lb = p == 0 || !wordch(s[p - 1]);
        bool rb = bound_after(s, len, q);
        if (lb && rb && run == 9 && nd->nine != SIZE_MAX &&
            (mt_mask_aba_valid(s + p, 9) || mt_mask_ssn_valid(s + p, 9)) &&
            (err = mask_finding(c, s, p, q, nd->nine)))
            return err;
        if (lb && rb && run >= 13 && run <= 19 && nd->card != SIZE_MAX &&
            mask_card_ok(s, len, p, q) && (err = mask_finding(c, s, p, q, nd->card)))
            return err;
        if (lb && run == 3 && q + 8 <= len && s[q] == '-' && digits(s, len, q + 1, 3) == 2 &&
            s[q + 3] == '-' && digits(s, len, q + 4, 5) == 4 && bound_after(s, len, q + 8) &&
            nd->ssn != SIZE_MAX && mt_mask_ssn_valid(s + p, 11) &&
            (err = mask_finding(c, s, p, q + 8, nd->ssn)))
            return err;
        if (lb && run == 4 && q < len && (s[q] == ' ' || s[q] == '-') &&
            nd->card_grouped != SIZE_MAX && (err = grouped_card(c, s, len, p, nd->card_grouped)))
            return err;
        if (run == 3 && nd->phone_us != SIZE_MAX && q + 1 < len) {
            /* (ddd) ddd-dddd, (ddd)ddd-dddd, ddd-ddd-dddd, ddd.ddd.dddd */
            size_t st = SIZE_MAX, r = q;
            if (p > 0 && s[p - 1] == '(' && s[q] == ')') {
                st = p - 1;
                r = q + 1;
                if (r < len && (s[r] == ' ' || s[r] == '.' || s[r] == '-'))
                    r++;
            } else if (lb && (s[q] == '-' || s[q] == '.')) {
                st = p;
                r = q + 1;
            }
            if (st != SIZE_MAX && digits(s, len, r, 4) == 3 && r + 8 <= len &&
                (s[r + 3] == '-' || s[r + 3] == '.') && digits(s, len, r + 4, 5) == 4 &&
                bound_after(s, len, r + 8) &&
                (err = mask_finding(c, s, st, r + 8, nd->phone_us)))
                return err;
        }
        if (p > 0 && s[p - 1] == '+' && s[p] != '0') {
            if (run >= 8 && run <= 15 && rb && nd->phone_e164 != SIZE_MAX &&
                mask_phone_ok(s, p - 1, q) && (err = mask_finding(c, s, p - 1, q, nd->phone_e164)))
                return err;
            if (run <= 3 && nd->phone_intl != SIZE_MAX &&
                (err = phone_intl(c, s, len, p - 1, nd->phone_intl)))
                return err;
        }
        if (p >= 2 && run >= 2 && upper(s[p - 2]) && upper(s[p - 1]) &&
            (p == 2 || !wordch(s[p - 3])) && nd->iban != SIZE_MAX) {
            size_t end;
            if (mask_iban_span(s, len, p - 2, &end) && (err = mask_finding(c, s, p - 2, end, nd->iban)))
                return err;
        }
    }
    return MT_OK;
}

mt_err mask_scan_native_ref(mt_mask_ctx *c, const char *s, size_t len)
{
    mt_err err;
    size_t i = 0;
    while (i < len) {
        while (i < len && !dig(s[i]))
            i++;
        if (i >= len)
            break;
        size_t p = i, q = p;
        while (q < len && dig(s[q]))
            q++;
        if ((err = one_run(c, s, len, p, q)))
            return err;
        i = q;
    }
    return MT_OK;
}

/* Whether one_run can find anything in the run s[p..q): see the comment at
 * the top. Each test is the first step of a shape of one_run: a run of 9
 * or 13-19 digits with a boundary after it; 3 digits, '-' or '.', and two
 * more digits (SSN, US phone) or 3 digits and ')' (US phone); 4 digits,
 * ' ' or '-', and 4 more digits (grouped card); '+' and a digit other than
 * 0 (phones); two capitals at a word start and 2+ digits (IBAN). */
static bool run_may_match(const char *s, size_t len, size_t p, size_t q)
{
    size_t run = q - p;
    char next = q < len ? s[q] : 0;
    if ((run == 9 || (run >= 13 && run <= 19)) && !wordch(next))
        return true;
    if (run == 3 && (((next == '-' || next == '.') && len - q > 2 && dig(s[q + 1]) &&
                      dig(s[q + 2])) ||
                     next == ')'))
        return true;
    if (run == 4 && (next == ' ' || next == '-') && len - q > 4 && dig(s[q + 1]) &&
        dig(s[q + 2]) && dig(s[q + 3]) && dig(s[q + 4]))
        return true;
    if (p == 0)
        return false;
    if (s[p - 1] == '+')
        return s[p] != '0';
    return run >= 2 && p >= 2 && upper(s[p - 1]) && upper(s[p - 2]) &&
           (p == 2 || !wordch(s[p - 3]));
}

mt_err mask_scan_native(mt_mask_ctx *c, const char *s, size_t len)
{
    mt_err err;
    size_t i = 0;
    while (i < len) {
        /* s[i - 1], when there is one, is not a digit: i is 0, the end of
         * a run, or follows a window whose last byte is not a digit. */
        mask_classes k;
        mask_classes64(s + i, len - i, &k);
        uint64_t d = k.digit;
        size_t blk = len - i < 64 ? len - i : 64;
        bool more = len - i > 64; /* bytes past this window exist */
        uint64_t starts = d & ~(d << 1);
        /* Runs are named by the bit after their last digit: adding a set
         * of run starts to d carries through each of those runs to that
         * bit. Runs that reach bit 63 lose the carry and are finished
         * below, so every run named here lies inside the window and the
         * shifted masks below are exact for it. */
        uint64_t r2 = d & d >> 1, r4 = r2 & r2 >> 2, r8 = r4 & r4 >> 4; /* 2, 4, 8 digits from k */
        uint64_t ge4 = r4, ge5 = r4 & d >> 4, ge3 = r2 & d >> 2;
        uint64_t ge9 = r8 & d >> 8, ge10 = r8 & r2 >> 8, ge13 = r8 & r4 >> 8 & d >> 12;
        uint64_t ge20 = r8 & r8 >> 8 & r4 >> 16;
        uint64_t len1 = starts & ~(d >> 1);
#define AFTER(st) ((d + (st)) & ~d)
        /* bit f: the 2 (4) bytes after f are digits; unknown near the top
         * of a window with more bytes after it, so kept there */
        uint64_t dig2 = r2 >> 1 | (more ? ~(uint64_t)0 << 62 : 0);
        uint64_t dig4 = r4 >> 1 | (more ? ~(uint64_t)0 << 60 : 0);
        /* the first step of each shape, as in run_may_match */
        uint64_t m = AFTER(starts & ((ge9 & ~ge10) | (ge13 & ~ge20))) & ~k.word;
        m |= AFTER(starts & ge3 & ~ge4) & ((k.dashdot & dig2) | k.paren);
        m |= AFTER(starts & ge4 & ~ge5) & (k.space | k.dashdot) & dig4;
        /* '+' before the run, or two capitals and 2+ digits (IBAN) */
        uint64_t up1 = k.upper << 1 | (i > 0 && upper(s[i - 1]));
        uint64_t up2 = up1 << 1 | (i > 1 && upper(s[i - 2]));
        uint64_t plus1 = k.plus << 1 | (i > 0 && s[i - 1] == '+');
        m |= AFTER(starts & (plus1 | (up1 & up2 & ~len1)));
#undef AFTER
        while (m) {
            unsigned f = (unsigned)__builtin_ctzll(m); /* >= 1: a digit is at f - 1 */
            uint64_t gaps = ~d & (((uint64_t)1 << (f - 1)) - 1);
            unsigned a = gaps ? 64u - (unsigned)__builtin_clzll(gaps) : 0;
            size_t p = i + a, q = i + f;
            if (run_may_match(s, len, p, q) && (err = one_run(c, s, len, p, q)))
                return err;
            m &= m - 1;
        }
        if (d >> 63) {
            /* the run reaching the end of the window: finish it byte by
             * byte (runs longer than a window are rare) */
            uint64_t gaps = ~d;
            unsigned a = gaps ? 64u - (unsigned)__builtin_clzll(gaps) : 0;
            size_t p = i + a, q = i + 64;
            while (q < len && dig(s[q]))
                q++;
            if (run_may_match(s, len, p, q) && (err = one_run(c, s, len, p, q)))
                return err;
            i = q;
            continue;
        }
        i += blk;
    }
    return MT_OK;
}
