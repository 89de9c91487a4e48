/* Validators that turn regex candidates into confirmed findings: payment
 * cards (Luhn + issuer prefix), IBAN (ISO 13616 length table + ISO 7064
 * mod 97-10), ABA routing numbers (3-7-1 weights + Federal Reserve prefix),
 * US SSNs (SSA rules since 2011), phone digit counts, entropy. They exist
 * because a regex alone cannot tell a card number from an order number:
 * the checksum is what keeps precision up. */
#include <math.h>
#include <string.h>

#include "mask_internal.h"

static bool is_digit(char c) { return c >= '0' && c <= '9'; }
static bool is_upper(char c) { return c >= 'A' && c <= 'Z'; }
static bool is_alnum(char c) { return is_digit(c) || is_upper(c) || (c >= 'a' && c <= 'z'); }

bool mt_mask_luhn_valid(const char *s, size_t len)
{
    unsigned sum = 0, n = 0;
    for (size_t i = len; i-- > 0;) {
        char c = s[i];
        if (c == ' ' || c == '-')
            continue;
        if (!is_digit(c))
            return false;
        unsigned v = (unsigned)(c - '0');
        if (n % 2 == 1) {
            v *= 2;
            if (v > 9)
                v -= 9;
        }
        sum += v;
        n++;
    }
    return n >= 12 && n <= 19 && sum % 10 == 0;
}

/* Issuer prefixes of the networks that matter for audit logs: Visa,
 * Mastercard (51-55, 2221-2720), Amex, Discover, JCB, Diners. */
static bool card_iin_ok(const char *d, size_t n)
{
    unsigned p2 = (unsigned)(d[0] - '0') * 10 + (unsigned)(d[1] - '0');
    unsigned p4 = p2 * 100 + (unsigned)(d[2] - '0') * 10 + (unsigned)(d[3] - '0');
    if (d[0] == '4')
        return n == 16 || n == 19; /* 13-digit Visa is retired; git modes look like it */
    if (p2 >= 51 && p2 <= 55)
        return n == 16;
    if (p4 >= 2221 && p4 <= 2720)
        return n == 16;
    if (p2 == 34 || p2 == 37)
        return n == 15;
    if (p4 == 6011 || p2 == 65)
        return n >= 16 && n <= 19;
    if (p2 == 35)
        return n >= 16 && n <= 19;
    if (p2 == 36 || p2 == 38 || p2 == 30)
        return n == 14;
    return false;
}

/* True when s[start..] sits inside an IBAN-shaped token (two letters, two
 * digits, then groups): IBAN digit runs often pass Luhn. */
static bool inside_iban(const char *s, size_t start)
{
    size_t lim = start > 40 ? start - 40 : 0;
    for (size_t p = start; p-- > lim;) {
        char c = s[p];
        if (!(is_digit(c) || is_upper(c) || c == ' '))
            return false;
        if (p + 4 <= start && is_upper(s[p]) && is_upper(s[p + 1]) && is_digit(s[p + 2]) &&
            is_digit(s[p + 3]) && (p == 0 || !is_alnum(s[p - 1])))
            return true;
    }
    return false;
}

bool mask_card_ok(const char *s, size_t len, size_t start, size_t end)
{
    char d[20];
    size_t n = 0;
    char sep = 0;
    size_t group = 0, ngroups = 0;
    (void)len;
    for (size_t i = start; i < end; i++) {
        char c = s[i];
        if (is_digit(c)) {
            if (n == sizeof d)
                return false;
            d[n++] = c;
            group++;
        } else {
            if (sep && c != sep)
                return false; /* mixed separators: not one card number */
            sep = c;
            /* Printed cards group digits 4-4-4-4(-3) or 4-6-5: anything else
             * (a diff's "index 4807046 100644") is not a card. */
            if ((ngroups == 0 && group != 4) || group < 3 || group > 6)
                return false;
            ngroups++;
            group = 0;
        }
    }
    if (sep && (group < 3 || group > 6))
        return false;
    if (n < 13 || n > 19 || !card_iin_ok(d, n))
        return false;
    if (!mt_mask_luhn_valid(d, n))
        return false;
    return !inside_iban(s, start);
}

static int iban_length(const char *cc)
{
    static const struct {
        char cc[3];
        int len;
    } t[] = {
        {"AD", 24}, {"AE", 23}, {"AL", 28}, {"AT", 20}, {"AZ", 28}, {"BA", 20}, {"BE", 16},
        {"BG", 22}, {"BH", 22}, {"BR", 29}, {"CH", 21}, {"CR", 22}, {"CY", 28}, {"CZ", 24},
        {"DE", 22}, {"DK", 18}, {"DO", 28}, {"EE", 20}, {"EG", 29}, {"ES", 24}, {"FI", 18},
        {"FO", 18}, {"FR", 27}, {"GB", 22}, {"GE", 22}, {"GI", 23}, {"GL", 18}, {"GR", 27},
        {"GT", 28}, {"HR", 21}, {"HU", 28}, {"IE", 22}, {"IL", 23}, {"IS", 26}, {"IT", 27},
        {"JO", 30}, {"KW", 30}, {"KZ", 20}, {"LB", 28}, {"LI", 21}, {"LT", 20}, {"LU", 20},
        {"LV", 21}, {"MC", 27}, {"MD", 24}, {"ME", 22}, {"MK", 19}, {"MR", 27}, {"MT", 31},
        {"MU", 30}, {"NL", 18}, {"NO", 15}, {"PK", 24}, {"PL", 28}, {"PS", 29}, {"PT", 25},
        {"QA", 29}, {"RO", 24}, {"RS", 22}, {"SA", 24}, {"SE", 24}, {"SI", 19}, {"SK", 24},
        {"SM", 27}, {"TN", 24}, {"TR", 26}, {"UA", 29}, {"VG", 24}, {"XK", 20},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        if (t[i].cc[0] == cc[0] && t[i].cc[1] == cc[1])
            return t[i].len;
    return 0;
}

static bool iban_mod97(const char *c, size_t n)
{
    /* Rearranged: chars 4.. then 0..3; letters count as 10..35. */
    unsigned rem = 0;
    for (size_t k = 0; k < n; k++) {
        char ch = c[(k + 4) % n];
        if (is_digit(ch)) {
            rem = (rem * 10 + (unsigned)(ch - '0')) % 97;
        } else if (is_upper(ch)) {
            unsigned v = (unsigned)(ch - 'A') + 10;
            rem = (rem * 100 + v) % 97;
        } else {
            return false;
        }
    }
    return rem == 1;
}

bool mt_mask_iban_valid(const char *s, size_t len)
{
    char c[40];
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == ' ')
            continue;
        if (n == sizeof c)
            return false;
        char ch = s[i];
        if (ch >= 'a' && ch <= 'z')
            ch = (char)(ch - 'a' + 'A');
        c[n++] = ch;
    }
    if (n < 5 || !is_upper(c[0]) || !is_upper(c[1]) || !is_digit(c[2]) || !is_digit(c[3]))
        return false;
    if (iban_length(c) != (int)n)
        return false;
    return iban_mod97(c, n);
}

bool mask_iban_span(const char *s, size_t len, size_t start, size_t *end)
{
    if (start + 4 > len)
        return false;
    int want = iban_length(s + start);
    if (want == 0)
        return false;
    char c[40];
    size_t n = 0, i = start;
    while (i < len && n < (size_t)want) {
        if (s[i] == ' ' && n > 0 && i + 1 < len && s[i + 1] != ' ') {
            i++;
            continue;
        }
        if (!(is_digit(s[i]) || is_upper(s[i])))
            break;
        c[n++] = s[i++];
    }
    if (n != (size_t)want)
        return false;
    if (i < len && is_alnum(s[i]))
        return false; /* longer token: not this IBAN */
    if (!iban_mod97(c, n))
        return false;
    *end = i;
    return true;
}

bool mt_mask_aba_valid(const char *s, size_t len)
{
    static const unsigned w[9] = {3, 7, 1, 3, 7, 1, 3, 7, 1};
    if (len != 9)
        return false;
    unsigned sum = 0;
    for (size_t i = 0; i < 9; i++) {
        if (!is_digit(s[i]))
            return false;
        sum += (unsigned)(s[i] - '0') * w[i];
    }
    unsigned p = (unsigned)(s[0] - '0') * 10 + (unsigned)(s[1] - '0');
    bool fed = p <= 12 || (p >= 21 && p <= 32) || (p >= 61 && p <= 72) || p == 80;
    return fed && sum % 10 == 0;
}

bool mt_mask_ssn_valid(const char *s, size_t len)
{
    char d[9];
    size_t n = 0;
    if (len == 11) {
        if (s[3] != '-' || s[6] != '-')
            return false;
    } else if (len != 9) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '-' && len == 11)
            continue;
        if (!is_digit(s[i]) || n == 9)
            return false;
        d[n++] = s[i];
    }
    if (n != 9)
        return false;
    if (memcmp(d, "000", 3) == 0 || memcmp(d, "666", 3) == 0 || d[0] == '9')
        return false;
    if (d[3] == '0' && d[4] == '0')
        return false;
    return memcmp(d + 5, "0000", 4) != 0;
}

bool mask_phone_ok(const char *s, size_t start, size_t end)
{
    size_t n = 0;
    for (size_t i = start; i < end; i++)
        n += is_digit(s[i]);
    return n >= 10 && n <= 15;
}

bool mask_is_b64(const char *s, size_t len)
{
    if (len < 4)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!(is_alnum(c) || c == '+' || c == '/' || c == '=' || c == '-' || c == '_'))
            return false;
    }
    return true;
}

double mt_mask_entropy(const char *s, size_t len)
{
    unsigned counts[256] = {0};
    if (len == 0)
        return 0.0;
    for (size_t i = 0; i < len; i++)
        counts[(unsigned char)s[i]]++;
    double h = 0.0;
    for (size_t i = 0; i < 256; i++) {
        if (!counts[i])
            continue;
        double p = (double)counts[i] / (double)len;
        h -= p * log2(p);
    }
    return h;
}
