/* mcptrail-devtoken: development keys, JWKS and signed JWTs for scripts/up.sh
 * and tests. Not for production identity: the keys are unencrypted PEM files.
 *
 *   keygen --out-dir DIR
 *       writes DIR/dev-ed25519.pem, DIR/dev-rs256.pem, DIR/dev-es256.pem
 *       (PKCS#8, mode 0600) and DIR/jwks.json with their public keys under
 *       kids "dev-ed25519", "dev-rs256", "dev-es256".
 *   mint --key PEM [--kid KID] [--alg ALG] --iss URL --aud AUD [--aud AUD2 ...]
 *        [--sub SUB] [--ttl SECONDS] [--exp-offset SECONDS] [--nbf-offset SECONDS]
 *        [--group G ...] [--claim k=v ...] [--claims-json '{...}']
 *       prints a compact JWS on stdout. ALG defaults to the key's (EdDSA,
 *       RS256, ES256). exp = now + ttl (default 600), or now + exp-offset when
 *       given (negative for an already expired token); iat = now. --claim adds
 *       string claims; --group adds G to the "groups" array claim (the
 *       approver groups mcptrail-approvals reads by default); --claims-json
 *       merges an object last (it can override
 *       anything, e.g. {"run_attempt":"2"} or {"aud":["a","b"]}).
 *
 * Signing goes through mt_jwt_sign, the same encoder the tests use, so the
 * tokens are exactly what mt_jwt_verify expects. Usage errors exit 2, other
 * failures 1 with a message on stderr. */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "mcptrail/json.h"
#include "mcptrail/jwt.h"

#define MAX_AUD 16

static void usage(FILE *f)
{
    fprintf(f, "usage: mcptrail-devtoken keygen --out-dir DIR\n"
               "       mcptrail-devtoken mint --key PEM [--kid KID] [--alg RS256|ES256|EdDSA]\n"
               "              --iss URL --aud AUD [--aud AUD ...] [--sub SUB] [--ttl SECONDS]\n"
               "              [--exp-offset SECONDS] [--nbf-offset SECONDS] [--claim k=v ...]\n"
               "              [--group G ...] [--claims-json '{...}']\n"
               "\n"
               "keygen writes dev-ed25519.pem, dev-rs256.pem, dev-es256.pem and jwks.json\n"
               "(kids dev-ed25519, dev-rs256, dev-es256) into DIR. mint prints a signed\n"
               "compact JWT: exp = now + ttl (600) or now + exp-offset; iat = now.\n");
}

static int cmd_keygen(const char *dir)
{
    static const struct {
        const char *kty, *kid;
    } kinds[] = {{"OKP", "dev-ed25519"}, {"RSA", "dev-rs256"}, {"EC", "dev-es256"}};
    mt_errbuf eb = {""};
    json_t *keys = json_array();
    json_t *jwks = json_pack("{s:o}", "keys", keys);
    char path[4096];
    int rc = 1;

    if (jwks == NULL) {
        fprintf(stderr, "mcptrail-devtoken: out of memory\n");
        return 1;
    }
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        fprintf(stderr, "mcptrail-devtoken: mkdir %s: %s\n", dir, strerror(errno));
        goto done;
    }
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        mt_jwt_key *key = NULL;
        json_t *jwk = NULL;
        int n = snprintf(path, sizeof path, "%s/%s.pem", dir, kinds[i].kid);
        if (n < 0 || (size_t)n >= sizeof path) {
            fprintf(stderr, "mcptrail-devtoken: directory name too long\n");
            goto done;
        }
        if (mt_jwt_key_generate(kinds[i].kty, &key, &eb) ||
            mt_jwt_key_write_pem_file(key, path, &eb) ||
            mt_jwt_key_public_jwk(key, kinds[i].kid, &jwk, &eb) ||
            json_array_append_new(keys, jwk) != 0) {
            fprintf(stderr, "mcptrail-devtoken: %s: %s\n", kinds[i].kid, eb.msg);
            mt_jwt_key_free(key);
            goto done;
        }
        mt_jwt_key_free(key);
    }
    int n = snprintf(path, sizeof path, "%s/jwks.json", dir);
    if (n < 0 || (size_t)n >= sizeof path ||
        json_dump_file(jwks, path, JSON_INDENT(2) | JSON_SORT_KEYS) != 0) {
        fprintf(stderr, "mcptrail-devtoken: cannot write %s/jwks.json\n", dir);
        goto done;
    }
    printf("%s/jwks.json\n", dir);
    rc = 0;
done:
    json_decref(jwks);
    return rc;
}

static int parse_i64(const char *opt, const char *s, int64_t *out)
{
    char *end = NULL;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < -100000000LL || v > 100000000LL) {
        fprintf(stderr, "mcptrail-devtoken: %s wants an integer number of seconds, got '%s'\n", opt,
                s);
        return 2;
    }
    *out = v;
    return 0;
}

static int cmd_mint(int argc, char **argv)
{
    const char *key_path = NULL, *kid = NULL, *alg = NULL, *iss = NULL, *sub = NULL;
    const char *auds[MAX_AUD];
    size_t naud = 0;
    int64_t ttl = 600, exp_off = 0, nbf_off = 0;
    int have_exp_off = 0, have_nbf_off = 0;
    json_t *claims = json_object();
    json_t *extra = NULL;
    mt_jwt_key *key = NULL;
    mt_buf tok = MT_BUF_INIT;
    char *payload = NULL;
    mt_errbuf eb = {""};
    int rc = 2;

    if (claims == NULL)
        return 1;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (v == NULL) {
            fprintf(stderr, "mcptrail-devtoken: %s needs a value\n", a);
            goto done;
        }
        i++;
        if (strcmp(a, "--key") == 0) {
            key_path = v;
        } else if (strcmp(a, "--kid") == 0) {
            kid = v;
        } else if (strcmp(a, "--alg") == 0) {
            alg = v;
        } else if (strcmp(a, "--iss") == 0) {
            iss = v;
        } else if (strcmp(a, "--aud") == 0) {
            if (naud == MAX_AUD) {
                fprintf(stderr, "mcptrail-devtoken: at most %d --aud\n", MAX_AUD);
                goto done;
            }
            auds[naud++] = v;
        } else if (strcmp(a, "--sub") == 0) {
            sub = v;
        } else if (strcmp(a, "--ttl") == 0) {
            if (parse_i64(a, v, &ttl))
                goto done;
        } else if (strcmp(a, "--exp-offset") == 0) {
            if (parse_i64(a, v, &exp_off))
                goto done;
            have_exp_off = 1;
        } else if (strcmp(a, "--nbf-offset") == 0) {
            if (parse_i64(a, v, &nbf_off))
                goto done;
            have_nbf_off = 1;
        } else if (strcmp(a, "--claim") == 0) {
            const char *eq = strchr(v, '=');
            if (eq == NULL || eq == v) {
                fprintf(stderr, "mcptrail-devtoken: --claim wants k=v, got '%s'\n", v);
                goto done;
            }
            json_t *k = json_stringn(v, (size_t)(eq - v));
            if (k == NULL ||
                json_object_set_new(claims, json_string_value(k), json_string(eq + 1))) {
                json_decref(k);
                fprintf(stderr, "mcptrail-devtoken: --claim '%s' is not UTF-8\n", v);
                goto done;
            }
            json_decref(k);
        } else if (strcmp(a, "--group") == 0) {
            json_t *g = json_object_get(claims, "groups");
            if (!json_is_array(g)) {
                g = json_array();
                json_object_set_new(claims, "groups", g);
            }
            if (g == NULL || json_array_append_new(g, json_string(v))) {
                fprintf(stderr, "mcptrail-devtoken: --group '%s' is not UTF-8\n", v);
                goto done;
            }
        } else if (strcmp(a, "--claims-json") == 0) {
            json_decref(extra);
            extra = NULL;
            if (mt_json_parse(v, strlen(v), NULL, &extra, &eb) || !json_is_object(extra)) {
                fprintf(stderr, "mcptrail-devtoken: --claims-json must be a JSON object%s%s\n",
                        eb.msg[0] ? ": " : "", eb.msg);
                goto done;
            }
        } else {
            fprintf(stderr, "mcptrail-devtoken: unknown option %s\n", a);
            usage(stderr);
            goto done;
        }
    }
    if (key_path == NULL || iss == NULL || naud == 0) {
        fprintf(stderr, "mcptrail-devtoken: mint needs --key, --iss and --aud\n");
        usage(stderr);
        goto done;
    }
    rc = 1;
    if (mt_jwt_key_load_pem_file(key_path, &key, &eb)) {
        fprintf(stderr, "mcptrail-devtoken: %s\n", eb.msg);
        goto done;
    }
    if (alg == NULL)
        alg = mt_jwt_key_alg(key);

    int64_t now = (int64_t)time(NULL);
    json_t *aud = naud == 1 ? json_string(auds[0]) : json_array();
    for (size_t i = 0; naud > 1 && i < naud; i++)
        json_array_append_new(aud, json_string(auds[i]));
    if (json_object_set_new(claims, "iss", json_string(iss)) ||
        json_object_set_new(claims, "aud", aud) ||
        json_object_set_new(claims, "iat", json_integer(now)) ||
        json_object_set_new(claims, "exp", json_integer(now + (have_exp_off ? exp_off : ttl))) ||
        (have_nbf_off && json_object_set_new(claims, "nbf", json_integer(now + nbf_off))) ||
        (sub != NULL && json_object_set_new(claims, "sub", json_string(sub))) ||
        (extra != NULL && json_object_update(claims, extra))) {
        fprintf(stderr, "mcptrail-devtoken: cannot build the claims (strings must be UTF-8)\n");
        goto done;
    }
    payload = json_dumps(claims, JSON_COMPACT | JSON_SORT_KEYS);
    if (payload == NULL) {
        fprintf(stderr, "mcptrail-devtoken: out of memory\n");
        goto done;
    }
    if (mt_jwt_sign(key, alg, kid, payload, strlen(payload), &tok, &eb)) {
        fprintf(stderr, "mcptrail-devtoken: %s\n", eb.msg);
        goto done;
    }
    fwrite(tok.data, 1, tok.len, stdout);
    fputc('\n', stdout);
    rc = fflush(stdout) == 0 ? 0 : 1;
done:
    free(payload);
    mt_buf_free(&tok);
    mt_jwt_key_free(key);
    json_decref(extra);
    json_decref(claims);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc >= 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
        usage(stdout);
        return 0;
    }
    if (argc == 4 && strcmp(argv[1], "keygen") == 0 && strcmp(argv[2], "--out-dir") == 0)
        return cmd_keygen(argv[3]);
    if (argc >= 2 && strcmp(argv[1], "mint") == 0)
        return cmd_mint(argc - 2, argv + 2);
    usage(stderr);
    return 2;
}
