/* Masking engine core: compiles every detector into one Vectorscan block
 * database, scans a string once, confirms each candidate (PCRE2 anchored at
 * the candidate's start for the secret's capture group, then a C check),
 * merges overlapping findings and writes the masked copy.
 *
 * Vectorscan reports every end offset of a match; with start-of-match on,
 * consecutive reports of one detector with the same start are one
 * candidate growing to its longest end, so candidates stay few. A string
 * producing more than MAX_CAND candidates is masked whole (fail closed)
 * rather than letting memory grow with hostile input. */
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mask_internal.h"

#define MAX_CAND 65536u
#define PEM_MAX ((size_t)64 << 10)
#define KEYED_VALUE_MAX 4096u
#define PCRE_MATCH_LIMIT 1000000u

const char *mt_mask_action_name(mt_mask_action a)
{
    switch (a) {
    case MT_MASK_REDACT:
        return "redact";
    case MT_MASK_TOKENIZE:
        return "tokenize";
    case MT_MASK_PARTIAL:
        return "partial";
    case MT_MASK_DROP:
        return "drop";
    }
    return "?";
}

void mt_mask_summary_init(mt_mask_summary *s) { memset(s, 0, sizeof *s); }

/* --- engine ------------------------------------------------------------------ */

static mt_err add_pseudo(mt_mask_rules *r, const char *id, const char *type, mt_mask_action a,
                         size_t *idx, mt_errbuf *eb)
{
    mask_det d = {.id = (char *)id, .type = (char *)type, .regex = (char *)"", .action = a};
    *idx = r->n;
    return mask_rules_push(r, &d, eb);
}

/* Runs a user regex on strings built to trip nested quantifiers; a pattern
 * that exhausts the match limit on them would stall the recorder. */
static bool catastrophic(pcre2_code *re)
{
    static const char probe_chars[] = "a0A -_.=/";
    char buf[130];
    bool bad = false;
    pcre2_match_context *mc = pcre2_match_context_create(NULL);
    pcre2_match_data *md = pcre2_match_data_create_from_pattern(re, NULL);
    if (!mc || !md) {
        bad = true;
        goto out;
    }
    pcre2_set_match_limit(mc, 200000);
    pcre2_set_depth_limit(mc, 10000);
    for (size_t c = 0; c + 1 < sizeof probe_chars && !bad; c++) {
        memset(buf, probe_chars[c], 128);
        buf[128] = '\x01';
        buf[129] = 0;
        int rc = pcre2_match(re, (PCRE2_SPTR)buf, 129, 0, 0, md, mc);
        bad = rc == PCRE2_ERROR_MATCHLIMIT || rc == PCRE2_ERROR_DEPTHLIMIT ||
              rc == PCRE2_ERROR_HEAPLIMIT;
    }
out:
    pcre2_match_data_free(md);
    pcre2_match_context_free(mc);
    return bad;
}

mt_err mt_mask_engine_new(mt_mask_rules *rules, mt_mask_engine **out, mt_errbuf *eb)
{
    return mt_mask_engine_new_opts(rules, NULL, out, eb);
}

bool mt_mask_engine_from_cache(const mt_mask_engine *e) { return e && e->from_cache; }

/* Shortest match of any of the n expressions (Vectorscan's analysis); 0 when
 * one cannot be analysed (the compile then reports it). */
static size_t hs_min_width(const char *const *exprs, const unsigned *flags, size_t n)
{
    size_t mw = SIZE_MAX;
    for (size_t i = 0; i < n; i++) {
        hs_expr_info_t *info = NULL;
        hs_compile_error_t *ie = NULL;
        /* SOM does not change widths; the analysis rejects it anyway */
        if (hs_expression_info(exprs[i], flags[i] & ~(unsigned)HS_FLAG_SOM_LEFTMOST, &info,
                               &ie) != HS_SUCCESS) {
            hs_free_compile_error(ie);
            return 0;
        }
        if (info->min_width < mw)
            mw = info->min_width;
        free(info);
    }
    return mw;
}

/* --- Vectorscan defect probe ---------------------------------------------------
 * Vectorscan 5.4.9 (Debian 12's libhs5) aborts the whole process ("buffer
 * overflow detected": an snprintf into a 255-byte stack buffer in its
 * reverse double-character search, fixed upstream by VectorCamp PR 392)
 * when a database holding a pattern such as `a+bc` or `.*@e.a` scans more
 * than 255 bytes, whatever the bytes are. The built-in detectors do not
 * reach that code; a user rule may, and one such rule would let any large
 * payload kill the sidecar. So a database with user rules is scanned once
 * in a child process over inputs of every kind: if the child dies, the
 * rules are refused at load with the rule named, never at run time. */

static int probe_noop(unsigned id, unsigned long long from, unsigned long long to,
                      unsigned fl, void *ctx)
{
    (void)id, (void)from, (void)to, (void)fl, (void)ctx;
    return 0;
}

#define PROBE_LEN 4096u
#define PROBE_KINDS 6

typedef uint8_t probe_inputs[PROBE_KINDS][PROBE_LEN];

static void probe_inputs_fill(probe_inputs in)
{
    for (size_t i = 0; i < PROBE_LEN; i++) {
        in[0][i] = 'x';
        in[1][i] = ' ';
        in[2][i] = (uint8_t)('0' + i % 10);
        in[3][i] = (uint8_t)(0x20 + i % 95); /* every printable byte */
        in[4][i] = (uint8_t)i;               /* every byte value */
        in[5][i] = (uint8_t)"ab_-.@:=/\"\\ \n"[i % 13];
    }
}

/* Scans every probe input with db in a child process. 1: the scans ran,
 * 0: the child died, -1: the probe could not run. */
static int hs_db_survives(const hs_database_t *db, hs_scratch_t *scratch,
                          const probe_inputs in)
{
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        /* only async-signal-safe calls and hs_scan (no allocation) here;
         * default dispositions so a sanitizer's or fuzzer's crash handler
         * does not report the expected abort as its own crash */
        int nul = open("/dev/null", O_WRONLY);
        if (nul >= 0)
            dup2(nul, 2);
        struct sigaction dfl;
        memset(&dfl, 0, sizeof dfl);
        dfl.sa_handler = SIG_DFL;
        sigaction(SIGABRT, &dfl, NULL);
        sigaction(SIGSEGV, &dfl, NULL);
        sigaction(SIGBUS, &dfl, NULL);
        static const unsigned lens[] = {256, 300, 1000, PROBE_LEN};
        for (size_t k = 0; k < PROBE_KINDS; k++)
            for (size_t l = 0; l < sizeof lens / sizeof lens[0]; l++)
                if (hs_scan(db, (const char *)in[k], lens[l], 0, scratch, probe_noop, NULL) !=
                    HS_SUCCESS)
                    _exit(3);
        _exit(0);
    }
    int st = 0;
    pid_t r;
    while ((r = waitpid(pid, &st, 0)) < 0 && errno == EINTR)
        ;
    if (r != pid)
        return -1; /* SIGCHLD ignored: the child was reaped for us */
    return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 1 : 0;
}

/* Probes e's database; when it fails, each user rule alone, to name one. */
static mt_err probe_user_rules(const mt_mask_engine *e, const char *const *exprs,
                               const unsigned *flags, const unsigned *ids, size_t nhs,
                               mt_errbuf *eb)
{
    probe_inputs *in = malloc(sizeof *in);
    if (!in)
        return mt_fail(eb, MT_ERR_NOMEM, "mask engine: out of memory");
    probe_inputs_fill(*in);
    mt_err err = MT_OK;
    int ok = hs_db_survives(e->db, e->scratch, *in);
    if (ok == 1)
        goto out;
    if (ok < 0) {
        err = mt_fail(eb, MT_ERR_IO, "mask engine: cannot check the user rules against a "
                      "Vectorscan defect (fork/wait failed: %s)", strerror(errno));
        goto out;
    }
    for (size_t i = 0; i < nhs; i++) {
        const mask_det *d = &e->rules->dets[ids[i]];
        if (!d->user)
            continue;
        hs_database_t *db = NULL;
        hs_scratch_t *scr = NULL;
        hs_compile_error_t *ce = NULL;
        int alone = 1;
        if (hs_compile(exprs[i], flags[i], HS_MODE_BLOCK, NULL, &db, &ce) == HS_SUCCESS &&
            hs_alloc_scratch(db, &scr) == HS_SUCCESS)
            alone = hs_db_survives(db, scr, *in);
        hs_free_compile_error(ce);
        hs_free_scratch(scr);
        hs_free_database(db);
        if (alone == 0) {
            err = mt_fail(eb, MT_ERR_CONFIG,
                          "mask rule \"%s\": this Vectorscan build aborts the process when the "
                          "regex scans more than 255 bytes (a leading repeat before a short "
                          "literal, e.g. `a+bc`; VectorCamp/vectorscan PR 392); start it with a "
                          "literal or bound the leading repeat (e.g. `a{1,64}bc`)",
                          d->id);
            goto out;
        }
    }
    err = mt_fail(eb, MT_ERR_CONFIG,
                  "mask rules: together they make this Vectorscan build abort when scanning "
                  "more than 255 bytes (VectorCamp/vectorscan PR 392); remove user rules one by "
                  "one to find the one to rewrite");
out:
    free(in);
    return err;
}

mt_err mt_mask_engine_new_opts(mt_mask_rules *rules, const mt_mask_engine_opts *opts,
                               mt_mask_engine **out, mt_errbuf *eb)
{
    *out = NULL;
    mt_err err = MT_OK;
    const char **exprs = NULL;
    unsigned *flags = NULL, *ids = NULL;
    mt_mask_engine *e = calloc(1, sizeof *e);
    if (!e) {
        mt_mask_rules_free(rules);
        return mt_fail(eb, MT_ERR_NOMEM, "mask engine: out of memory");
    }
    e->rules = rules;
    size_t n = rules->n;
    exprs = calloc(n + 1, sizeof *exprs);
    flags = calloc(n + 1, sizeof *flags);
    ids = calloc(n + 1, sizeof *ids);
    e->re = calloc(n + 3, sizeof *e->re);
    if (!exprs || !flags || !ids || !e->re) {
        err = mt_fail(eb, MT_ERR_NOMEM, "mask engine: out of memory");
        goto fail;
    }
    bool need_key = rules->field_action == MT_MASK_TOKENIZE;
    e->min_width = SIZE_MAX;
    size_t nhs = 0;
    e->native = (mask_native){SIZE_MAX, SIZE_MAX, SIZE_MAX, SIZE_MAX, SIZE_MAX,
                              SIZE_MAX, SIZE_MAX, SIZE_MAX, SIZE_MAX};
    for (size_t i = 0; i < n; i++) {
        mask_det *d = &rules->dets[i];
        need_key = need_key || d->action == MT_MASK_TOKENIZE;
        if (d->native) {
            /* min: shorter strings are not scanned (numeric shapes: 9 digits at least) */
            static const struct {
                const char *id;
                size_t off, min;
            } nat[] = {
                {"credit_card", offsetof(mask_native, card), 9},
                {"credit_card_grouped", offsetof(mask_native, card_grouped), 9},
                {"iban", offsetof(mask_native, iban), 9},
                {"us_ssn", offsetof(mask_native, ssn), 9},
                {"aba_routing_or_ssn", offsetof(mask_native, nine), 9},
                {"phone_e164", offsetof(mask_native, phone_e164), 9},
                {"phone_intl", offsetof(mask_native, phone_intl), 9},
                {"phone_us", offsetof(mask_native, phone_us), 9},
                {"email", offsetof(mask_native, email), 3},
            };
            for (size_t k = 0; k < sizeof nat / sizeof nat[0]; k++)
                if (strcmp(nat[k].id, d->id) == 0) {
                    *(size_t *)((char *)&e->native + nat[k].off) = i;
                    if (e->min_width > nat[k].min)
                        e->min_width = nat[k].min;
                }
            continue;
        }
        exprs[nhs] = d->regex;
        flags[nhs] = d->hs_flags | HS_FLAG_SOM_LEFTMOST;
        ids[nhs] = (unsigned)i;
        nhs++;
        if (d->use_pcre) {
            int code;
            PCRE2_SIZE off;
            uint32_t popts = (d->caseless ? PCRE2_CASELESS : 0) |
                            ((d->hs_flags & HS_FLAG_MULTILINE) ? PCRE2_MULTILINE : 0) |
                            ((d->hs_flags & HS_FLAG_DOTALL) ? PCRE2_DOTALL : 0);
            e->re[i] = pcre2_compile((PCRE2_SPTR)(d->pcre_regex ? d->pcre_regex : d->regex), PCRE2_ZERO_TERMINATED, popts, &code, &off,
                                     NULL);
            if (!e->re[i]) {
                PCRE2_UCHAR msg[160];
                pcre2_get_error_message(code, msg, sizeof msg);
                err = mt_fail(eb, MT_ERR_CONFIG, "mask rule \"%s\": invalid regex at offset %zu: %s",
                              d->id, (size_t)off, (const char *)msg);
                goto fail;
            }
            (void)pcre2_jit_compile(e->re[i], PCRE2_JIT_COMPLETE); /* best effort */
            if (d->user && catastrophic(e->re[i])) {
                err = mt_fail(eb, MT_ERR_CONFIG,
                              "mask rule \"%s\": regex backtracks catastrophically (nested or "
                              "overlapping quantifiers); rewrite it without them",
                              d->id);
                goto fail;
            }
        }
    }
    if (need_key && !rules->token_key) {
        err = mt_fail(eb, MT_ERR_CONFIG,
                      "mask rules: an action is tokenize but no tokenize_key is set in the rules file");
        goto fail;
    }
    hs_compile_error_t *ce = NULL;
    uint8_t ckey[MT_SHA256_LEN];
    size_t hs_mw = SIZE_MAX;
    if (nhs > 0)
        mask_cache_key(exprs, flags, ids, nhs, ckey);
    if (nhs == 0) {
        /* builtin_detectors false and no user rules: field names only. */
    } else if (mask_cache_load(opts, ckey, &e->db, &hs_mw)) {
        e->from_cache = true;
    } else if ((hs_mw = hs_min_width(exprs, flags, nhs)), hs_compile_multi(exprs, flags, ids, (unsigned)nhs, HS_MODE_BLOCK, NULL, &e->db,
                                &ce) != HS_SUCCESS) {
        if (ce && ce->expression >= 0 && (size_t)ce->expression < nhs)
            err = mt_fail(eb, MT_ERR_CONFIG, "mask rule \"%s\": Vectorscan rejects the regex: %s",
                          rules->dets[ids[ce->expression]].id, ce->message);
        else
            err = mt_fail(eb, MT_ERR_CONFIG, "mask engine: Vectorscan compile failed: %s",
                          ce ? ce->message : "unknown error");
        hs_free_compile_error(ce);
        goto fail;
    } else {
        mask_cache_store(opts, ckey, e->db, hs_mw);
    }
    if (hs_mw < e->min_width)
        e->min_width = hs_mw;
    if (e->db && hs_alloc_scratch(e->db, &e->scratch) != HS_SUCCESS) {
        err = mt_fail(eb, MT_ERR_NOMEM, "mask engine: cannot allocate Vectorscan scratch");
        goto fail;
    }
    bool user_regex = false;
    for (size_t i = 0; i < nhs; i++)
        user_regex = user_regex || rules->dets[ids[i]].user;
    if (user_regex && (err = probe_user_rules(e, exprs, flags, ids, nhs, eb)))
        goto fail;
    if ((err = add_pseudo(rules, "field_name", "secret_field", rules->field_action, &e->field_det,
                          eb)) ||
        (err = add_pseudo(rules, "oversize_string", "oversize", MT_MASK_REDACT, &e->oversize_det,
                          eb)) ||
        (err = add_pseudo(rules, "candidate_overflow", "unscannable", MT_MASK_REDACT,
                          &e->overflow_det, eb)))
        goto fail;
    free(exprs);
    free(flags);
    free(ids);
    *out = e;
    return MT_OK;
fail:
    free(exprs);
    free(flags);
    free(ids);
    mt_mask_engine_free(e);
    return err;
}

void mt_mask_engine_free(mt_mask_engine *e)
{
    if (!e)
        return;
    if (e->re && e->rules)
        for (size_t i = 0; i < e->rules->n; i++)
            pcre2_code_free(e->re[i]);
    free(e->re);
    hs_free_scratch(e->scratch);
    hs_free_database(e->db);
    mt_mask_rules_free(e->rules);
    free(e);
}

size_t mt_mask_engine_detector_count(const mt_mask_engine *e) { return e->rules->n; }
const char *mt_mask_engine_detector_id(const mt_mask_engine *e, size_t i)
{
    return i < e->rules->n ? e->rules->dets[i].id : NULL;
}
const char *mt_mask_engine_detector_type(const mt_mask_engine *e, size_t i)
{
    return i < e->rules->n ? e->rules->dets[i].type : NULL;
}

/* --- context ---------------------------------------------------------------- */

mt_err mt_mask_ctx_new(const mt_mask_engine *e, mt_mask_ctx **out, mt_errbuf *eb)
{
    *out = NULL;
    mt_mask_ctx *c = calloc(1, sizeof *c);
    if (!c)
        return mt_fail(eb, MT_ERR_NOMEM, "mask: out of memory");
    c->e = e;
    c->slots = calloc(e->rules->n, sizeof *c->slots);
    c->touched = calloc(e->rules->n, sizeof *c->touched);
    c->md = pcre2_match_data_create(32, NULL);
    c->mctx = pcre2_match_context_create(NULL);
    if (!c->slots || !c->touched || !c->md || !c->mctx ||
        (e->scratch && hs_clone_scratch(e->scratch, &c->scratch) != HS_SUCCESS)) {
        mt_mask_ctx_free(c);
        return mt_fail(eb, MT_ERR_NOMEM, "mask: out of memory for scan scratch");
    }
    pcre2_set_match_limit(c->mctx, PCRE_MATCH_LIMIT);
    if (e->rules->token_key &&
        mt_hmac_new(e->rules->token_key, e->rules->token_key_len, &c->hmac, eb) != MT_OK) {
        mt_mask_ctx_free(c);
        return MT_ERR_CRYPTO;
    }
    *out = c;
    return MT_OK;
}

void mt_mask_ctx_free(mt_mask_ctx *c)
{
    if (!c)
        return;
    hs_free_scratch(c->scratch);
    pcre2_match_data_free(c->md);
    pcre2_match_context_free(c->mctx);
    mt_hmac_free(c->hmac);
    free(c->slots);
    free(c->touched);
    free(c->cand);
    free(c->spans);
    mt_buf_free(&c->str);
    mt_buf_free(&c->path);
    mt_buf_free(&c->key);
    free(c);
}

void mt_mask_ctx_set_explain(mt_mask_ctx *c, mt_mask_explain_fn fn, void *ud)
{
    c->explain = fn;
    c->explain_ud = ud;
}

/* --- scanning --------------------------------------------------------------- */

static bool push_cand(mt_mask_ctx *c, size_t from, size_t to, size_t det)
{
    if (c->ncand == c->capcand) {
        if (c->capcand >= MAX_CAND) {
            c->overflow = true;
            return false;
        }
        size_t nc = c->capcand ? c->capcand * 2 : 64;
        mask_span *n = realloc(c->cand, nc * sizeof *n);
        if (!n) {
            c->overflow = true;
            return false;
        }
        c->cand = n;
        c->capcand = nc;
    }
    c->cand[c->ncand++] = (mask_span){from, to, (uint32_t)det, 0};
    return true;
}

static int on_match(unsigned id, unsigned long long from, unsigned long long to, unsigned flags,
                    void *ud)
{
    mt_mask_ctx *c = ud;
    mask_slot *s = &c->slots[id];
    (void)flags;
    if (s->active && s->from == from) {
        s->to = (size_t)to;
        return 0;
    }
    if (s->active && !push_cand(c, s->from, s->to, id))
        return 1;
    if (!s->active)
        c->touched[c->ntouched++] = id;
    s->active = true;
    s->from = (size_t)from;
    s->to = (size_t)to;
    return 0;
}

mt_err mask_span_push(mt_mask_ctx *c, size_t start, size_t end, size_t det)
{
    if (end <= start)
        return MT_OK;
    if (c->nspans == c->capspans) {
        size_t nc = c->capspans ? c->capspans * 2 : 32;
        mask_span *n = realloc(c->spans, nc * sizeof *n);
        if (!n)
            return MT_ERR_NOMEM;
        c->spans = n;
        c->capspans = nc;
    }
    c->spans[c->nspans++] =
        (mask_span){start, end, (uint32_t)det, c->e->rules->dets[det].generic};
    return MT_OK;
}

static bool has_sub(const char *s, size_t len, const char *w)
{
    size_t wl = strlen(w);
    for (size_t i = 0; i + wl <= len; i++)
        if (s[i] == w[0] && memcmp(s + i, w, wl) == 0)
            return true;
    return false;
}

mt_err mask_finding(mt_mask_ctx *c, const char *s, size_t start, size_t end, size_t det)
{
    const mt_mask_rules *r = c->e->rules;
    if (end <= start)
        return MT_OK;
    for (size_t i = 0; i < r->n_allow; i++)
        if (strlen(r->allow_values[i]) == end - start &&
            memcmp(r->allow_values[i], s + start, end - start) == 0)
            return MT_OK;
    /* Documentation keys (AKIAIOSFODNN7EXAMPLE, ...EXAMPLEKEY) are public. */
    if (!r->dets[det].pii && !r->dets[det].user &&
        (has_sub(s + start, end - start, "EXAMPLE") ||
         mask_value_is_placeholder(s + start, end - start)))
        return MT_OK;
    return mask_span_push(c, start, end, det);
}

static bool is_space(char ch) { return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r'; }

static bool is_keych(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           ch == '_' || ch == '.' || ch == '-';
}

static bool is_email_local(char ch)
{
    return is_keych(ch) || ch == '%' || ch == '+';
}

/* "pass" alone is a secret word only as a word of the name (DB_PASS, not
 * bypass): keys holding another secret word pass. */
static bool key_pass_ok(const char *k, size_t n)
{
    static const char *const strong[] = {"password", "passwd", "passphrase", "pwd", "secret",
                                         "token", "key", "credential", "auth"};
    for (size_t i = 0; i < sizeof strong / sizeof strong[0]; i++)
        if (mask_has_ci(k, n, strong[i]))
            return true;
    return mask_key_has_word(k, n, "pass") || mask_key_has_word(k, n, "pat");
}

/* Reads the value that follows a key and its separator at p: a quoted
 * string (", ', `; escaped quotes of JSON inside JSON matched by count) or
 * a bare word. xml: a bare value ends at '<'. */
static bool keyed_value(const char *s, size_t len, size_t p, bool xml, size_t *vs, size_t *ve,
                        bool *quoted)
{
    size_t k = 0;
    *quoted = false;
    while (p < len && s[p] == '\\' && k < 8) {
        k++;
        p++;
    }
    if (p < len && (s[p] == '"' || s[p] == '\'' || s[p] == '`')) {
        char q = s[p++];
        size_t lim = len - p > KEYED_VALUE_MAX ? p + KEYED_VALUE_MAX : len;
        for (size_t i = p; i < lim; i++) {
            if (s[i] == '\n')
                return false;
            if (s[i] != q)
                continue;
            size_t b = 0;
            while (b < i - p && s[i - 1 - b] == '\\')
                b++;
            if (b == k) {
                *vs = p;
                *ve = i - k;
                *quoted = true;
                return *ve > *vs;
            }
        }
        return false;
    }
    if (k)
        return false;
    size_t i = p;
    size_t lim = len - p > KEYED_VALUE_MAX ? p + KEYED_VALUE_MAX : len;
    while (i < lim && !is_space(s[i]) && s[i] != ',' && s[i] != ';' && s[i] != '&' &&
           s[i] != '"' && s[i] != '\'' && !(xml && s[i] == '<') &&
           !(s[i] == '\\' && i + 1 < len &&
             (s[i + 1] == 'n' || s[i + 1] == 'r' || s[i + 1] == 't' || s[i + 1] == '"' ||
              s[i + 1] == '\\')))
        i++;
    *vs = p;
    *ve = i;
    return i > p;
}

/* The separators that need their context (see KSEP in mask_rules.c). */
static bool keyed_context_ok(const char *s, size_t ks, size_t ke, char sep)
{
    const char *key = s + ks;
    size_t kn = ke - ks;
    switch (sep) {
    case ',': { /* setProperty("X_TOKEN", "v"), os.Setenv("X_TOKEN", "v") */
        size_t p = ks;
        if (p == 0 || (s[p - 1] != '"' && s[p - 1] != '\'' && s[p - 1] != '`'))
            return false;
        p--;
        while (p > 0 && (s[p - 1] == '\\' || s[p - 1] == ' '))
            p--;
        return p > 0 && s[p - 1] == '(';
    }
    case '>': /* <password>v</password> */
        return ks > 0 && s[ks - 1] == '<';
    case '(': { /* setPassword("v"), withToken("v") */
        size_t b = kn;
        while (b > 0 && key[b - 1] != '.')
            b--;
        return (kn - b >= 3 && mask_fold(key[b]) == 's' && mask_fold(key[b + 1]) == 'e' &&
                mask_fold(key[b + 2]) == 't') ||
               (kn - b >= 4 && mask_fold(key[b]) == 'w' && mask_fold(key[b + 1]) == 'i' &&
                mask_fold(key[b + 2]) == 't' && mask_fold(key[b + 3]) == 'h');
    }
    default: /* blank: --password value */
        return key[0] == '-';
    }
}

static bool is_ident(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           ch == '_';
}

/* Only blanks between the start of the line and ks. */
static bool line_starts_at(const char *s, size_t ks)
{
    while (ks > 0 && (s[ks - 1] == ' ' || s[ks - 1] == '\t'))
        ks--;
    return ks == 0 || s[ks - 1] == '\n';
}

/* A declared type between a name and its '=' (static KEY: &str = "v",
 * apiKey: string = "v", let token: String = ..., var apiKey string = "v",
 * public string Token { get; set; } = "v"; and <add key="ApiKey" value="v"/>,
 * where value reads as the type): the offset just past '=', or 0.
 * p is the first non-blank byte after the name. */
static size_t skip_declared_type(const char *s, size_t len, size_t p)
{
    size_t q = p;
    if (q + 14 <= len && memcmp(s + q, "{ get; set; }", 13) == 0)
        q += 13;
    else if (q + 15 <= len && memcmp(s + q, "{ get; init; }", 14) == 0)
        q += 14;
    else {
        if (q < len && s[q] == ':' && !(q + 1 < len && (s[q + 1] == '=' || s[q + 1] == ':')))
            q++;
        else if (q == p && !(q < len && is_ident(s[q])))
            return 0;
        while (q < len && (s[q] == ' ' || s[q] == '\t'))
            q++;
        size_t t = q;
        while (q < len && q - t < 48 &&
               (is_ident(s[q]) || s[q] == '&' || s[q] == '\'' || s[q] == '<' || s[q] == '>' ||
                s[q] == '[' || s[q] == ']' || s[q] == '.' || s[q] == '?' ||
                (s[q] == ' ' && q > t && (s[q - 1] == '\'' || s[q - 1] == ','))))
            q++;
        if (q == t || s[t] == '\'' || (s[t] >= '0' && s[t] <= '9'))
            return 0;
    }
    while (q < len && (s[q] == ' ' || s[q] == '\t'))
        q++;
    /* '=' then a blank or a quote: not the padding of a base64 value */
    if (q + 1 < len && s[q] == '=' &&
        (s[q + 1] == ' ' || s[q + 1] == '\t' || s[q + 1] == '"' || s[q + 1] == '\''))
        return q + 1;
    return 0;
}

/* A literal wrapped in a constructor: String::from("v"), Some("v"),
 * SecretStr("v"), new String("v"): the offset of the quote, else p. */
static size_t keyed_unwrap(const char *s, size_t len, size_t p)
{
    static const char *const wrappers[] = {"from", "new", "String", "Some", "SecretString",
                                           "SecretStr", "Secret", "str", "Password", "Zeroizing"};
    size_t q = p, last = p;
    if (q + 4 <= len && memcmp(s + q, "new ", 4) == 0)
        q += 4;
    for (int k = 0; k < 6 && q < len && is_ident(s[q]); k++) {
        last = q;
        while (q < len && is_ident(s[q]))
            q++;
        if (q + 1 < len && s[q] == ':' && s[q + 1] == ':')
            q += 2;
        else if (q < len && s[q] == '.')
            q++;
        else
            break;
    }
    if (q >= len || s[q] != '(' || q + 1 >= len || (s[q + 1] != '"' && s[q + 1] != '\''))
        return p;
    for (size_t i = 0; i < sizeof wrappers / sizeof wrappers[0]; i++)
        if (strlen(wrappers[i]) == q - last && memcmp(s + last, wrappers[i], q - last) == 0)
            return q + 1;
    return p;
}

/* Key at [ks, ke), separator sep, value from p: the checks every keyed
 * detector shares, then the value. weak: the name only ends in "key"
 * (STORAGE_ACCOUNT_KEY), so the value must look generated. */
static mt_err keyed_finish(mt_mask_ctx *c, const char *s, size_t len, size_t ks, size_t ke,
                           size_t p, char sep, bool weak, size_t det)
{
    size_t vs, ve;
    bool quoted;
    /* A key inside a colon-separated identifier (arn:aws:secretsmanager:...)
     * is not a key; PowerShell's $env:API_KEY and Ruby's :api_key are. */
    if (ks > 0 && s[ks - 1] == ':' &&
        !(ks >= 5 && s[ks - 5] == '$' && mask_has_ci(s + ks - 4, 3, "env")) &&
        !(ks == 1 || !is_ident(s[ks - 2])))
        return MT_OK;
    if (mask_key_is_benign(s + ks, ke - ks) || (!weak && !key_pass_ok(s + ks, ke - ks)))
        return MT_OK;
    if (sep != '=' && sep != ':' && !keyed_context_ok(s, ks, ke, sep))
        return MT_OK;
    if (!keyed_value(s, len, p, sep == '>' || (p > 0 && s[p - 1] == '>'), &vs, &ve, &quoted))
        return MT_OK;
    if ((sep == ',' || sep == '(') && !quoted)
        return MT_OK;
    /* go test / jest output: "--- PASS: TestX", "PASS: suite" */
    if (sep == ':' && !quoted && ke - ks == 4 && memcmp(s + ks, "PASS", 4) == 0)
        return MT_OK;
    /* an unquoted value that calls or indexes is code reading the secret
     * from elsewhere: os.Getenv("X"), environ["X"], std::env::var("X") */
    if (!quoted && (memchr(s + vs, '(', ve - vs) || memchr(s + vs, '[', ve - vs)))
        return MT_OK;
    /* placeholders (YOUR_TOKEN, xxxx) are refused by mask_finding, for every detector */
    if (mask_value_is_reference(s + vs, ve - vs) ||
        (weak && !mask_value_looks_generated(s + vs, ve - vs)))
        return MT_OK;
    return mask_finding(c, s, vs, ve, det);
}

/* A secret word found at [ws, we): the key is the run of key characters
 * around it; after it may come (in this order) escaping backslashes, a
 * closing quote, a ']' (config["api_key"] = ...), blanks and a separator:
 * = : => and the assignments of Go, Make, PHP, Ruby and shells (:= ::= ?=
 * .= += ||=), or ',' '>' '(' and a blank, which keyed_context_ok allows
 * only in their context. */
static mt_err keyed_word(mt_mask_ctx *c, const char *s, size_t len, size_t ws, size_t we,
                         size_t det)
{
    size_t ks = ws, ke = we, p;
    /* passphrase_assignment reads PASSPHRASE keys */
    if (we - ws == 4 && len - we >= 6 && mask_has_ci(s + we, 6, "phrase"))
        return MT_OK;
    for (size_t k = 0; ks > 0 && k < 128 && is_keych(s[ks - 1]); k++)
        ks--;
    while (ke < len && ke - we < 128 && is_keych(s[ke]))
        ke++;
    if (ke < len && is_keych(s[ke]))
        return MT_OK; /* a key longer than any name */
    /* process.env.SMTP_PASSWORD = "v": the name is what follows */
    if (ke - ks > 12 && memcmp(s + ks, "process.env.", 12) == 0)
        ks += 12;
    /* only "key" matched: a name ending in key (ALGOLIA_ADMIN_KEY) */
    bool weak = we - ws == 3 && mask_has_ci(s + ws, 3, "key");
    if (weak && (ke != we || ke - ks < 5 || mask_key_class(s + ks, ke - ks) != MASK_KEY_NAMED))
        return MT_OK;
    p = ke;
    for (int k = 0; k < 8 && p < len && s[p] == '\\'; k++)
        p++;
    if (p < len && (s[p] == '"' || s[p] == '\'' || s[p] == '`'))
        p++;
    if (p < len && s[p] == ']')
        p++;
    size_t blank = p;
    while (p < len && (s[p] == ' ' || s[p] == '\t'))
        p++;
    if (p >= len)
        return MT_OK;
    size_t typed = skip_declared_type(s, len, p);
    if (typed) {
        p = typed;
        while (p < len && (s[p] == ' ' || s[p] == '\t'))
            p++;
        return keyed_finish(c, s, len, ks, ke, keyed_unwrap(s, len, p), '=', weak, det);
    }
    char sep = s[p], n1 = p + 1 < len ? s[p + 1] : 0, n2 = p + 2 < len ? s[p + 2] : 0;
    if (sep == '=') {
        p += n1 == '>' ? 2 : 1;
    } else if (sep == ':') {
        if (n1 == '/' && n2 == '/')
            return MT_OK; /* a URL scheme, not a separator */
        if (n1 == '=' || (n1 == ':' && n2 == '='))
            sep = '=';
        p += n1 == '=' ? 2 : sep == '=' ? 3 : 1;
    } else if ((sep == '?' || sep == '.' || sep == '+') && n1 == '=') {
        sep = '=';
        p += 2;
    } else if (sep == '|' && n1 == '|' && n2 == '=') {
        sep = '=';
        p += 3;
    } else if (sep == ',' || sep == '>' || sep == '(') {
        p++;
    } else if (p > blank) {
        /* a blank separator: NAME  value as a row of CLI table output
         * (two blanks or more, the name first on its line) */
        sep = p - blank >= 2 && line_starts_at(s, ks) ? '=' : ' ';
    } else {
        return MT_OK;
    }
    while (p < len && (s[p] == ' ' || s[p] == '\t'))
        p++;
    return keyed_finish(c, s, len, ks, ke, keyed_unwrap(s, len, p), sep, weak, det);
}

/* A keyed form the regex found whole: group 1 is the key, the match ends
 * where the value starts. */
static mt_err keyed_re(mt_mask_ctx *c, const char *s, size_t len, size_t det)
{
    PCRE2_SIZE *ov = pcre2_get_ovector_pointer(c->md);
    size_t ks = ov[2];
    if (ov[2] == PCRE2_UNSET)
        return MT_OK;
    for (size_t k = 0; ks > 0 && k < 128 && is_keych(s[ks - 1]); k++)
        ks--;
    int cls = mask_key_class(s + ks, ov[3] - ks);
    if (cls == MASK_KEY_PLAIN)
        return MT_OK;
    return keyed_finish(c, s, len, ks, ov[3], ov[1], '=', cls == MASK_KEY_NAMED, det);
}

/* The "data:" block of a Kubernetes Secret, as YAML or as (escaped) JSON:
 * every value that is base64 is secret. Only in text that says it is a
 * Secret, so ConfigMap data survives. */
static mt_err check_k8s(mt_mask_ctx *c, const char *s, size_t len, size_t from, size_t to,
                        size_t det)
{
    mt_err err;
    if (c->says_secret < 0) /* once per scan: candidates must not each rescan the text */
        c->says_secret = has_sub(s, len, "Secret");
    if (!c->says_secret)
        return MT_OK;
    size_t p = to;
    while (p < len && (s[p] == ' ' || s[p] == '\t'))
        p++;
    if (p < len && s[p] == '{') {
        size_t lim = len - p > 65536 ? p + 65536 : len;
        p++;
        for (int m = 0; m < 256 && p < lim; m++) {
            /* key */
            while (p < lim && s[p] != ':' && s[p] != '}')
                p++;
            if (p >= lim || s[p] == '}')
                break;
            p++;
            while (p < lim && (is_space(s[p]) || s[p] == '\\' || s[p] == '"'))
                p++;
            size_t vs = p;
            while (p < lim && s[p] != '\\' && s[p] != '"' && s[p] != ',' && s[p] != '}' &&
                   !is_space(s[p]))
                p++;
            if (mask_is_b64(s + vs, p - vs) && (err = mask_finding(c, s, vs, p, det)))
                return err;
            while (p < lim && s[p] != ',' && s[p] != '}')
                p++;
            if (p >= lim || s[p] == '}')
                break;
            p++;
        }
        return MT_OK;
    }
    if (p >= len || (s[p] != '\n' && s[p] != '\r'))
        return MT_OK;
    /* YAML: indentation of the "data:" line, then each deeper "k: v" line. */
    size_t ls = from;
    while (ls > 0 && s[ls - 1] != '\n')
        ls--;
    size_t base = 0;
    while (ls + base < len && s[ls + base] == ' ')
        base++;
    for (int m = 0; m < 1024 && p < len; m++) {
        if (s[p] == '\r')
            p++;
        if (p >= len || s[p] != '\n')
            break;
        p++;
        size_t ind = 0;
        while (p + ind < len && s[p + ind] == ' ')
            ind++;
        if (ind <= base)
            break;
        size_t q = p + ind;
        if (q < len && s[q] == '#') { /* a comment line inside the block */
            while (q < len && s[q] != '\n')
                q++;
            p = q;
            continue;
        }
        while (q < len && s[q] != ':' && s[q] != '\n')
            q++;
        if (q >= len || s[q] != ':')
            break;
        q++;
        while (q < len && (s[q] == ' ' || s[q] == '"' || s[q] == '\''))
            q++;
        size_t vs = q;
        while (q < len && s[q] != '"' && s[q] != '\'' && s[q] != '\n' && s[q] != '\r' && s[q] != ' ')
            q++;
        if (mask_is_b64(s + vs, q - vs) && (err = mask_finding(c, s, vs, q, det)))
            return err;
        while (q < len && s[q] != '\n')
            q++;
        p = q;
    }
    return MT_OK;
}

static mt_err confirm(mt_mask_ctx *c, const char *s, size_t len, const mask_span *cd)
{
    const mt_mask_engine *e = c->e;
    const mask_det *d = &e->rules->dets[cd->det];
    size_t start = cd->start, end = cd->end;
    if (d->use_pcre) {
        size_t subj = len - end > d->window ? end + d->window : len;
        int rc = pcre2_match(e->re[cd->det], (PCRE2_SPTR)s, subj, start, PCRE2_ANCHORED, c->md,
                             c->mctx);
        if (rc == PCRE2_ERROR_MATCHLIMIT || rc == PCRE2_ERROR_DEPTHLIMIT ||
            rc == PCRE2_ERROR_HEAPLIMIT)
            return mask_finding(c, s, start, end, cd->det); /* fail closed */
        if (rc < 0)
            return MT_OK;
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(c->md);
        if (mask_key_is_keyed(d->check))
            return keyed_re(c, s, len, cd->det);
        if (rc >= 2 && ov[2] != PCRE2_UNSET) {
            start = ov[2];
            end = ov[3];
        } else {
            start = ov[0];
            end = ov[1];
        }
    }
    switch (d->check) {
    case CHK_KEYED:
        return keyed_word(c, s, len, start, end, cd->det);
    case CHK_NONE:
    case CHK_KEYED_RE:
    case CHK_KEYED_NAME:
        break;
    case CHK_CARD:
        if (!mask_card_ok(s, len, start, end))
            return MT_OK;
        break;
    case CHK_IBAN:
        if (!mask_iban_span(s, len, start, &end))
            return MT_OK;
        break;
    case CHK_SSN:
        if (!mt_mask_ssn_valid(s + start, end - start))
            return MT_OK;
        break;
    case CHK_ABA_SSN9:
        if (!mt_mask_aba_valid(s + start, end - start) && !mt_mask_ssn_valid(s + start, end - start))
            return MT_OK;
        break;
    case CHK_PHONE:
        if (!mask_phone_ok(s, start, end))
            return MT_OK;
        break;
    case CHK_LUHN: {
        char dg[64];
        size_t n = 0;
        for (size_t i = start; i < end && n < sizeof dg; i++)
            if (s[i] >= '0' && s[i] <= '9')
                dg[n++] = s[i];
        if (!mt_mask_luhn_valid(dg, n))
            return MT_OK;
        break;
    }
    case CHK_EMAIL: {
        /* The pattern is "x@y": take the rest of the local part and the
         * longest domain whose last label is two or more letters. */
        size_t at = start + 1;
        for (size_t k = 0; start > 0 && k < 64 && is_email_local(s[start - 1]); k++)
            start--;
        while (start < at && (s[start] == '.' || s[start] == '-'))
            start++;
        size_t dom = at + 1, dend = dom;
        while (dend < len && dend - dom < 255 && is_keych(s[dend]) && s[dend] != '_')
            dend++;
        end = 0;
        for (size_t cut = dend; cut > dom; cut--) {
            if (cut != dend && s[cut] != '.')
                continue; /* labels end at a dot or where the domain ends */
            size_t lab = cut;
            while (lab > dom && s[lab - 1] != '.')
                lab--;
            if (lab <= dom + 1)
                break; /* no dot left: no top-level label */
            if (cut - lab < 2 || s[lab - 2] == '.')
                continue;
            bool alpha = true;
            for (size_t k = lab; k < cut; k++)
                alpha = alpha && ((s[k] >= 'a' && s[k] <= 'z') || (s[k] >= 'A' && s[k] <= 'Z'));
            if (!alpha || (cut < len && s[cut] == '_'))
                continue;
            end = cut;
            break;
        }
        if (!end || start >= at)
            return MT_OK;
        /* user:pass@host in a URL: the password detectors own it. */
        size_t lim = start > 256 ? start - 256 : 0;
        for (size_t i = start; i > lim && !is_space(s[i - 1]) && s[i - 1] != '"'; i--)
            if (i >= 3 && s[i - 1] == '/' && s[i - 2] == '/' && s[i - 3] == ':')
                return MT_OK;
        break;
    }
    case CHK_ENTROPY:
        if (mt_mask_entropy(s + start, end - start) < d->min_entropy)
            return MT_OK;
        break;
    case CHK_PEM: {
        size_t lim = len - end > PEM_MAX ? end + PEM_MAX : len, e2 = len;
        for (size_t i = end; i + 9 <= lim; i++)
            if (s[i] == '-' && memcmp(s + i, "-----END ", 9) == 0) {
                size_t j = i + 9;
                while (j + 5 <= lim && memcmp(s + j, "-----", 5) != 0 && s[j] != '\n')
                    j++;
                e2 = j + 5 <= lim && s[j] == '-' ? j + 5 : j;
                break;
            }
        end = e2;
        break;
    }
    case CHK_K8S_DATA:
        return check_k8s(c, s, len, start, end, cd->det);
    }
    return mask_finding(c, s, start, end, cd->det);
}

/* The email anchor "[A-Za-z0-9._%+-]@[A-Za-z0-9-]" without an automaton:
 * '@' is rare in MCP traffic, so memchr finds every candidate for less
 * than the pattern cost in the Vectorscan database (docs/masking.md). One
 * candidate per '@', the same span the pattern's match had. */
static void email_anchors(mt_mask_ctx *c, const char *s, size_t len, size_t det)
{
    for (const char *p = len > 2 ? memchr(s + 1, '@', len - 2) : NULL; p;
         p = memchr(p + 1, '@', len - 2 - (size_t)(p - s))) {
        size_t at = (size_t)(p - s);
        char d = s[at + 1];
        if (is_email_local(s[at - 1]) &&
            ((d >= 'a' && d <= 'z') || (d >= 'A' && d <= 'Z') || (d >= '0' && d <= '9') ||
             d == '-') &&
            !push_cand(c, at - 1, at + 2, det))
            return;
    }
}

/* Start, longest first; of identical spans the specific detector before a
 * keyed one, then table order, so which detector names a span never
 * depends on the order candidates were found in. */
static int span_cmp(const void *a, const void *b)
{
    const mask_span *x = a, *y = b;
    if (x->start != y->start)
        return x->start < y->start ? -1 : 1;
    if (x->end != y->end)
        return x->end > y->end ? -1 : 1;
    if (x->generic != y->generic)
        return x->generic < y->generic ? -1 : 1;
    return x->det < y->det ? -1 : x->det > y->det;
}

mt_err mask_scan(mt_mask_ctx *c, const char *s, size_t len, mt_errbuf *eb)
{
    const mt_mask_engine *e = c->e;
    mt_err err;
    c->ncand = 0;
    c->nspans = 0;
    c->overflow = false;
    c->says_secret = -1;
    if (len == 0)
        return MT_OK;
    if (len > UINT_MAX)
        return mask_span_push(c, 0, len, e->oversize_det);
    if (len < e->min_width)
        return MT_OK;
    c->ntouched = 0;
    hs_error_t hr = e->db ? hs_scan(e->db, s, (unsigned)len, 0, c->scratch, on_match, c) : HS_SUCCESS;
    if (hr != HS_SUCCESS && hr != HS_SCAN_TERMINATED)
        return mt_fail(eb, MT_ERR_STATE, "mask: Vectorscan scan failed (%d)", (int)hr);
    for (size_t k = 0; k < c->ntouched; k++) {
        mask_slot *sl = &c->slots[c->touched[k]];
        if (sl->active && !c->overflow)
            push_cand(c, sl->from, sl->to, c->touched[k]);
        sl->active = false;
    }
    if (e->native.email != SIZE_MAX && !c->overflow)
        email_anchors(c, s, len, e->native.email);
    if (c->overflow) {
        c->nspans = 0;
        return mask_span_push(c, 0, len, e->overflow_det);
    }
    for (size_t i = 0; i < c->ncand; i++)
        if ((err = confirm(c, s, len, &c->cand[i])))
            return mt_fail(eb, err, "mask: out of memory");
    if ((err = mask_scan_native(c, s, len)))
        return mt_fail(eb, err, "mask: out of memory");
    if (c->nspans > 1) {
        qsort(c->spans, c->nspans, sizeof *c->spans, span_cmp);
        size_t w = 0;
        for (size_t i = 1; i < c->nspans; i++) {
            mask_span *cur = &c->spans[w], *nx = &c->spans[i];
            if (nx->start < cur->end) {
                if (nx->end > cur->end) {
                    if (nx->end - nx->start > cur->end - cur->start)
                        cur->det = nx->det;
                    cur->end = nx->end;
                }
                if (e->rules->dets[nx->det].action == MT_MASK_DROP)
                    cur->det = nx->det;
            } else {
                c->spans[++w] = *nx;
            }
        }
        c->nspans = w + 1;
    }
    return MT_OK;
}

bool mask_any_drop(const mt_mask_ctx *c)
{
    for (size_t i = 0; i < c->nspans; i++)
        if (c->e->rules->dets[c->spans[i].det].action == MT_MASK_DROP)
            return true;
    return false;
}

/* --- output ----------------------------------------------------------------- */

static void summary_add(mt_mask_summary *sum, const char *det, mt_mask_action a)
{
    if (!sum)
        return;
    sum->total++;
    for (size_t i = 0; i < sum->n; i++)
        if (sum->items[i].detector == det && sum->items[i].action == a) {
            sum->items[i].count++;
            return;
        }
    if (sum->n == MT_MASK_SUMMARY_MAX) {
        sum->overflow = true;
        return;
    }
    sum->items[sum->n++] = (mt_mask_count){det, a, 1};
}

static mt_err put(mt_buf *out, const char *s, size_t n, bool json)
{
    return json ? mask_json_escape(out, s, n) : mt_buf_append(out, s, n);
}

static mt_err put_str(mt_buf *out, const char *s) { return mt_buf_append(out, s, strlen(s)); }

static mt_err marker(mt_mask_ctx *c, const char *v, size_t n, const mask_det *d,
                     mt_mask_action a, mt_buf *out, bool json)
{
    mt_err err;
    if (a == MT_MASK_PARTIAL) {
        size_t cps = 0, tail = n, seen = 0;
        for (size_t i = 0; i < n; i++)
            cps += ((unsigned char)v[i] & 0xC0) != 0x80;
        if (cps >= 8) {
            while (tail > 0 && seen < 4) {
                tail--;
                if (((unsigned char)v[tail] & 0xC0) != 0x80)
                    seen++;
            }
            if ((err = put_str(out, "...")))
                return err;
            return put(out, v + tail, n - tail, json);
        }
        a = MT_MASK_REDACT;
    }
    if (a == MT_MASK_TOKENIZE && c->hmac) {
        uint8_t mac[MT_SHA256_LEN];
        char hex[17];
        if (mt_hmac_compute(c->hmac, v, n, mac, NULL) != MT_OK ||
            mt_hex_encode(mac, 8, hex, sizeof hex) != MT_OK)
            a = MT_MASK_REDACT;
        else if ((err = put_str(out, "[TOKEN:")) || (err = put_str(out, d->type)) ||
                 (err = put_str(out, ":")) || (err = put_str(out, hex)) || (err = put_str(out, "]")))
            return err;
        else
            return MT_OK;
    }
    if ((err = put_str(out, "[REDACTED:")) || (err = put_str(out, d->type)))
        return err;
    return put_str(out, "]");
}

mt_err mask_emit(mt_mask_ctx *c, const char *s, size_t len, mt_buf *out, bool json,
                 mt_mask_summary *sum, const char *pointer, mt_errbuf *eb)
{
    size_t at = 0;
    mt_err err;
    for (size_t i = 0; i < c->nspans; i++) {
        const mask_span *sp = &c->spans[i];
        const mask_det *d = &c->e->rules->dets[sp->det];
        mt_mask_action a = d->action == MT_MASK_DROP ? MT_MASK_REDACT : d->action;
        if ((err = put(out, s + at, sp->start - at, json)) ||
            (err = marker(c, s + sp->start, sp->end - sp->start, d, a, out, json)))
            return mt_fail(eb, err, "mask: output too large or out of memory");
        summary_add(sum, d->id, d->action);
        if (c->explain) {
            mt_mask_match m = {d->id, d->type, d->action, pointer ? pointer : "", sp->start,
                               sp->end - sp->start};
            c->explain(c->explain_ud, &m);
        }
        at = sp->end;
    }
    if ((err = put(out, s + at, len - at, json)))
        return mt_fail(eb, err, "mask: output too large or out of memory");
    return MT_OK;
}

/* Reports spans that mask_emit will not write because the whole value is
 * replaced (drop, field rule): summary and explain still see them. */
void mask_report_whole(mt_mask_ctx *c, size_t det, size_t len, mt_mask_summary *sum,
                       const char *pointer)
{
    const mask_det *d = &c->e->rules->dets[det];
    summary_add(sum, d->id, d->action);
    if (c->explain) {
        mt_mask_match m = {d->id, d->type, d->action, pointer ? pointer : "", 0, len};
        c->explain(c->explain_ud, &m);
    }
}

mt_err mt_mask_text(mt_mask_ctx *c, const void *in, size_t len, mt_buf *out, mt_mask_summary *sum,
                    mt_errbuf *eb)
{
    const char *s = in;
    mt_err err = mask_scan(c, s, len, eb);
    if (err)
        return err;
    if (c->nspans == 0)
        return mt_buf_append(out, s, len) ? mt_fail(eb, MT_ERR_NOMEM, "mask: out of memory") : MT_OK;
    return mask_emit(c, s, len, out, false, sum, "", eb);
}

mt_err mt_mask_payload(mt_mask_ctx *c, const void *in, size_t len, mt_buf *out,
                       mt_mask_summary *sum, bool *as_text, mt_errbuf *eb)
{
    mt_errbuf sub = {""};
    mt_err err = mt_mask_json(c, in, len, out, sum, &sub);
    if (as_text)
        *as_text = false;
    if (err == MT_ERR_PARSE || err == MT_ERR_TOO_LARGE) {
        if (as_text)
            *as_text = true;
        return mt_mask_text(c, in, len, out, sum, eb);
    }
    if (err)
        return mt_fail(eb, err, "%s", sub.msg);
    return MT_OK;
}
