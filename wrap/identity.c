/* The CI job's identity; see identity.h. */
#include "identity.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "mcptrail/buf.h"
#include "mcptrail/jwt.h"
#include "github_oidc.h"

#define MAX_TOKEN_BYTES 65536

/* The token text without surrounding whitespace (files end with a newline). */
static void trim(mt_buf *b)
{
    size_t a = 0, e = b->len;
    while (a < e && (b->data[a] == ' ' || b->data[a] == '\n' || b->data[a] == '\r' ||
                     b->data[a] == '\t'))
        a++;
    while (e > a && (b->data[e - 1] == ' ' || b->data[e - 1] == '\n' ||
                     b->data[e - 1] == '\r' || b->data[e - 1] == '\t'))
        e--;
    memmove(b->data, b->data + a, e - a);
    b->len = e - a;
}

static mt_err obtain(const mt_wrap_config *cfg, mt_buf *tok, const char **from, mt_errbuf *eb)
{
    if (cfg->token_file) {
        *from = "identity.token_file";
        mt_err err = mt_read_file(cfg->token_file, MAX_TOKEN_BYTES, tok, eb);
        if (err)
            return err; /* the message names the file */
        trim(tok);
        return tok->len ? MT_OK
                        : mt_fail(eb, MT_ERR_NOT_FOUND, "identity.token_file %s is empty",
                                  cfg->token_file);
    }
    const char *v = cfg->token_env ? getenv(cfg->token_env) : NULL;
    *from = "identity.token_env";
    if ((!v || !*v) && cfg->github_audience) {
        *from = "the GitHub Actions token request";
        return mt_github_id_token(cfg->github_audience, cfg->github_ca_file, 10000, tok, eb);
    }
    if (!v || !*v)
        return mt_fail(eb, MT_ERR_NOT_FOUND,
                       "no CI identity token: set identity.token_file, put the token in $%s "
                       "(GitLab: id_tokens), set identity.github_audience (GitHub Actions), or "
                       "auth.anonymous for development",
                       cfg->token_env ? cfg->token_env : "(identity.token_env unset)");
    if (strlen(v) > MAX_TOKEN_BYTES)
        return mt_fail(eb, MT_ERR_TOO_LARGE, "$%s holds more than %d bytes", cfg->token_env,
                       MAX_TOKEN_BYTES);
    mt_err err = mt_buf_append(tok, v, strlen(v));
    if (err == MT_OK)
        trim(tok);
    return err;
}

mt_err mt_wrap_identity(const mt_wrap_config *cfg, json_t **identity, json_t **claims,
                        mt_errbuf *eb)
{
    *identity = NULL;
    *claims = NULL;
    mt_buf tok = MT_BUF_INIT;
    const char *from = NULL;
    mt_err err = obtain(cfg, &tok, &from, eb);
    if (err == MT_ERR_NOT_FOUND && cfg->auth_anonymous) {
        *identity = json_pack("{s:n, s:n, s:n, s:s, s:n, s:n}", "issuer", "subject", "audience",
                              "auth_method", "anonymous", "token_fingerprint", "ci");
        return *identity ? MT_OK : mt_fail(eb, MT_ERR_NOMEM, "out of memory");
    }
    if (err) {
        mt_buf_free(&tok);
        return err;
    }
    mt_jwks *jwks = NULL;
    if ((err = mt_jwks_load_file(cfg->jwks_file, &jwks, eb)) != MT_OK) {
        OPENSSL_cleanse(tok.data, tok.len);
        mt_buf_free(&tok);
        return err;
    }
    mt_jwt_policy pol = {
        .issuer = cfg->auth_issuer,
        .audiences = (const char *const *)cfg->auth_audiences.items,
        .naud = cfg->auth_audiences.n,
        .algs = (const char *const *)cfg->auth_algs.items,
        .nalgs = cfg->auth_algs.n,
        .leeway_s = cfg->auth_leeway_ms / 1000,
    };
    mt_identity id;
    err = mt_jwt_verify(jwks, &pol, (const char *)tok.data, tok.len, (int64_t)time(NULL), &id,
                        eb);
    OPENSSL_cleanse(tok.data, tok.len);
    mt_buf_free(&tok);
    mt_jwks_free(jwks);
    if (err) {
        char why[sizeof eb->msg];
        memcpy(why, eb->msg, sizeof why);
        return mt_fail(eb, err, "the token from %s was refused: %s", from, why);
    }
    *identity = mt_identity_to_json(&id);
    *claims = id.claims ? json_incref(id.claims) : NULL;
    mt_identity_free(&id);
    if (!*identity) {
        json_decref(*claims);
        *claims = NULL;
        return mt_fail(eb, MT_ERR_NOMEM, "out of memory");
    }
    return MT_OK;
}
