/* The built-in detector table and the rules file loader.
 *
 * Every detector is one regex compiled into the engine's single Vectorscan
 * database (with start-of-match), optionally re-run by PCRE2 anchored at the
 * candidate to pick capture group 1 (the secret inside its context, e.g. the
 * password of a URL), then confirmed by a C check (checksums, key/value
 * reading, PEM block extent). Ids are stable: rules files refer to them. */
#include <stdlib.h>
#include <string.h>

#include "mask_internal.h"
#include "mcptrail/json.h"

#define F_CI HS_FLAG_CASELESS
#define F_ML HS_FLAG_MULTILINE

/* Characters of a key name in env/YAML/INI/JSON text. */
#define KC "[A-Za-z0-9_.-]"
/* Between a key and its value (the regex-found keyed forms): optional
 * closing quote (escaped any number of times when the text is JSON inside
 * JSON), spaces, a separator. */
#define KSEP "\\\\*[\"']?[ \\t]*(?:=>|:=|=|:)[ \\t]*"
/* Secret words (any case; '_', '-', '.' or nothing between their parts:
 * API_KEY, api-key, apiKey, api.key). The keyed detectors find only the
 * word in Vectorscan (literals are cheap there; a word followed by a
 * key-character run and a separator costs the database several times
 * over): the key around it, its separator and its value are read in C
 * (mask.c keyed_word). */
#define KW_SEP "[_.-]?"
#define KW_SECRET                                                                                  \
    "secret|token|api" KW_SEP "key|app" KW_SEP "key|access" KW_SEP "key|auth" KW_SEP "key|private" \
    KW_SEP "key|signing" KW_SEP "key|credential|encryption" KW_SEP "key|master" KW_SEP             \
    "key|license" KW_SEP "key|hmac" KW_SEP "key|jwt" KW_SEP "key|session" KW_SEP "key|shared"      \
    KW_SEP "key|deploy" KW_SEP "key"
#define KW_NAMED                                                                                   \
    "password|passwd|pwd|pass|secret|token|api" KW_SEP "key|app" KW_SEP "key|passphrase|credential|key"

typedef struct builtin {
    const char *id, *type, *regex;
    unsigned flags;
    bool pcre;
    mask_check check;
    double entropy;
    bool pii;
    const char *pcre_regex; /* when Vectorscan only finds the anchor */
    size_t window;
} builtin;

static const builtin builtins[] = {
    /* cloud providers */
    {"aws_access_key_id", "aws_access_key_id", "\\b(?:AKIA|ASIA|ABIA|ACCA|A3T[A-Z0-9])[A-Z0-9]{12}", 0,
     true, CHK_NONE, 0, false, "(?:AKIA|ASIA|ABIA|ACCA|A3T[A-Z0-9])[A-Za-z0-9]{12,24}\\b", 32},
    {"aws_session_token", "aws_session_token",
     "(?:IQoJb3JpZ2luX2Vj|FwoGZXIvYXdz)[A-Za-z0-9+/=]{40}", 0, true, CHK_NONE, 0, false,
     "(?:IQoJb3JpZ2luX2Vj|FwoGZXIvYXdz)[A-Za-z0-9+/=]{40,}", 8192},
    {"gcp_api_key", "gcp_api_key", "\\bAIza[0-9A-Za-z_-]{30}", 0, true, CHK_NONE, 0, false,
     "AIza[0-9A-Za-z_-]{30,40}", 64},
    {"gcp_oauth_access_token", "gcp_oauth_access_token", "\\bya29\\.[0-9A-Za-z_-]{20}", 0, true,
     CHK_NONE, 0, false, "ya29\\.[0-9A-Za-z_-]{20,}", 4096},
    {"gcp_oauth_client_secret", "gcp_oauth_client_secret", "\\bGOCSPX-[0-9A-Za-z_-]{28}", 0, false,
     CHK_NONE, 0, false, NULL, 0},
    {"azure_storage_key", "azure_storage_key", "AccountKey=([A-Za-z0-9+/]{40,}={0,2})", F_CI, true,
     CHK_NONE, 0, false, NULL, 0},
    {"azure_client_secret", "azure_client_secret",
     "(?:^|[^A-Za-z0-9_~.-])([A-Za-z0-9_~.-]{3}[0-9]Q~[A-Za-z0-9_~.-]{31,34})", 0, true, CHK_NONE,
     0, false, NULL, 0},
    /* source hosting and package registries */
    {"github_token", "github_token", "\\bgh[posur]_[A-Za-z0-9]{20}", 0, true, CHK_NONE, 0,
     false, "gh[posur]_[A-Za-z0-9]{20,80}\\b", 128},
    {"github_pat_fine_grained", "github_pat_fine_grained",
     "\\bgithub_pat_[A-Za-z0-9_]{30}", 0, true, CHK_NONE, 0, false, "github_pat_[A-Za-z0-9_]{30,255}",
     256},
    {"gitlab_pat", "gitlab_pat", "\\bglpat-[A-Za-z0-9_-]{16}", 0, false, CHK_NONE, 0, false, NULL, 0},
    {"npm_token", "npm_token", "\\bnpm_[A-Za-z0-9]{30}", 0, true, CHK_NONE, 0, false,
     "npm_[A-Za-z0-9]{30,64}\\b", 128},
    {"pypi_token", "pypi_token", "\\bpypi-AgEI[A-Za-z0-9_-]{50}", 0, true, CHK_NONE,
     0, false, "pypi-AgEI[A-Za-z0-9_-]{50,}", 4096},
    {"docker_hub_pat", "docker_hub_pat", "\\bdckr_pat_[A-Za-z0-9_-]{20}", 0, false, CHK_NONE, 0,
     false, NULL, 0},
    {"huggingface_token", "huggingface_token", "\\bhf_[A-Za-z0-9]{30}", 0, true, CHK_NONE, 0,
     false, "hf_[A-Za-z0-9]{30,40}\\b", 64},
    /* SaaS APIs */
    {"slack_token", "slack_token", "\\bxox[abposr]-[A-Za-z0-9-]{10}", 0, true, CHK_NONE, 0,
     false, "xox[abposr]-[A-Za-z0-9-]{10,}", 1024},
    {"slack_webhook_url", "slack_webhook_url",
     "https://hooks\\.slack\\.com/(?:services|workflows)/[A-Za-z0-9/_-]{20,}", 0, false, CHK_NONE,
     0, false, NULL, 0},
    {"stripe_key", "stripe_key", "\\b[rs]k_live_[A-Za-z0-9]{20}", 0, true, CHK_NONE, 0, false,
     "[rs]k_live_[A-Za-z0-9]{20,}", 1024},
    {"sendgrid_api_key", "sendgrid_api_key", "\\bSG\\.[A-Za-z0-9_-]{16}", 0,
     true, CHK_NONE, 0, false, "SG\\.[A-Za-z0-9_-]{16,32}\\.?[A-Za-z0-9_-]{16,64}", 128},
    {"twilio_api_key", "twilio_api_key", "\\bSK[0-9a-fA-F]{32}\\b", 0, false, CHK_NONE, 0, false, NULL, 0},
    {"mailgun_api_key", "mailgun_api_key", "\\bkey-[0-9a-zA-Z]{32}\\b", 0, false, CHK_NONE, 0, false, NULL, 0},
    {"vault_token", "vault_token", "\\bhv[sbr]\\.[A-Za-z0-9_-]{24}", 0, true, CHK_NONE, 0, false,
     "hv[sbr]\\.[A-Za-z0-9_-]{24,}", 1024},
    {"shopify_token", "shopify_token", "\\bshp(?:at|ca|pa|ss)_[a-fA-F0-9]{32}\\b", 0, false,
     CHK_NONE, 0, false, NULL, 0},
    {"openai_api_key", "openai_api_key",
     "\\bsk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{16,}T3BlbkFJ[A-Za-z0-9_-]{16,}", 0, false,
     CHK_NONE, 0, false, NULL, 0},
    {"datadog_key", "datadog_key",
     "(?:dd|datadog)[_-]?(?:api|app)[_-]?key", F_CI, true, CHK_NONE, 0, false,
     "(?:dd|datadog)[_-]?(?:api|app)[_-]?key[^\\n]{0,24}?(?:\\n[^\\n]{0,60}?)?[^0-9a-fA-F]([0-9a-f]{40}|[0-9a-f]{32})\\b",
     120},
    /* generic formats */
    {"jwt", "jwt", "\\beyJ[A-Za-z0-9_-]{8}", 0, true,
     CHK_NONE, 0, false, "eyJ[A-Za-z0-9_-]{8,}\\.eyJ[A-Za-z0-9_-]{2,}\\.[A-Za-z0-9_-]*", 16384},
    {"private_key", "private_key", "-----BEGIN [A-Z0-9 ]{0,30}PRIVATE KEY(?: BLOCK)?-----", 0,
     false, CHK_PEM, 0, false, NULL, 0},
    {"db_connection_string", "db_connection_string",
     "\\b(?:postgres(?:ql)?|mysql|mariadb|mongodb(?:\\+srv)?|rediss?|amqps?|mssql|sqlserver|"
     "clickhouse|cockroachdb)://[^\\s:/@\"'\\\\]*:([^\\s@/\"'\\\\]+)@",
     F_CI, true, CHK_NONE, 0, false, NULL, 0},
    {"basic_auth_url", "basic_auth_url",
     "\\b(?:https?|ftps?|git|ssh|svn|smtps?|ldaps?|wss?)://[^\\s:/@\"'\\\\]+:([^\\s@/\"'\\\\]+)@",
     F_CI, true, CHK_NONE, 0, false, NULL, 0},
    {"connection_string_password", "db_connection_string",
     "[?&;](?:password|pwd)=([^&;\\s\"'\\\\)]+)", F_CI, true, CHK_NONE, 0, false, NULL, 0},
    {"basic_auth_header", "basic_auth_header", "\\bBasic[ \\t]+([A-Za-z0-9+/]{8,}={0,2})", F_CI,
     true, CHK_NONE, 0, false, NULL, 0},
    {"bearer_token", "bearer_token", "\\bBearer[ \\t]+[A-Za-z0-9._~+/-]{8}", F_CI, true,
     CHK_NONE, 0, false, "Bearer[ \\t]+([A-Za-z0-9._~+/-]{8,}=*)", 8192},
    /* values next to key-like names: the word is found here, the rest in C */
    {"password_assignment", "password", "(?:password|passwd|pwd|pass)", F_CI, false, CHK_KEYED, 0,
     false, NULL, 0},
    {"passphrase_assignment", "private_key_passphrase", "passphrase", F_CI, false, CHK_KEYED, 0,
     false, NULL, 0},
    {"secret_assignment", "generic_secret", "(?:" KW_SECRET "|[_.-]pat\\b|key\\b)", F_CI, false, CHK_KEYED,
     0, false, NULL, 0},
    /* keyed forms a regex finds: group 1 is the key, the match ends where the value starts */
    {"docker_config_auth", "docker_config_auth", "(\\bauth)\\\\*\"[ \\t]*:[ \\t]*", 0, true,
     CHK_KEYED_RE, 0, false, NULL, 0},
    {"env_list_secret", "generic_secret",
     "\\\\*\"name\\\\*\"[ \\t]*:[ \\t]*\\\\*\"(" KC "*(?:" KW_NAMED ")" KC
     "*)\\\\*\"[ \\t]*,\\s{0,40}\\\\*\"value\\\\*\"[ \\t]*:[ \\t]*",
     F_CI, true, CHK_KEYED_RE, 0, false, NULL, 0},
    {"env_list_secret_yaml", "generic_secret",
     "name:[ \\t]*\\\\*[\"']?(" KC "*(?:" KW_NAMED ")" KC "*)\\\\*[\"']?[ \\t]*\\r?\\n[ \\t]*value:[ \\t]*",
     F_CI, true, CHK_KEYED_RE, 0, false, NULL, 0},
    /* <entry key="authToken">v</entry> (Java XML properties) */
    {"xml_entry_secret", "generic_secret",
     "\\b(?:key|name)=\\\\*[\"'](" KC "*(?:" KW_NAMED ")" KC "*)\\\\*[\"']>", F_CI, true, CHK_KEYED_RE,
     0, false, NULL, 0},
    /* variable "db_password" { ... default = "v" } (Terraform) */
    {"terraform_variable_default", "generic_secret", "\\bvariable[ \\t]+\"", 0, true, CHK_KEYED_RE, 0,
     false,
     "variable[ \\t]+\"(" KC "*(?:" KW_NAMED ")" KC "*)\"[ \\t]*\\{[^}]{0,400}?\\bdefault[ \\t]*=[ \\t]*",
     512},
    /* new AuthenticationHeaderValue("Bearer", "v") (.NET) */
    {"dotnet_auth_header", "bearer_token", "AuthenticationHeaderValue\\(", 0, true, CHK_NONE, 0, false,
     "AuthenticationHeaderValue\\([ \\t]*\"[A-Za-z-]{3,20}\"[ \\t]*,[ \\t]*\"([^\"\\s]{6,})\"", 256},
    /* ENV/ARG NAME value in a Dockerfile: the name must itself be secret-like */
    {"dockerfile_env_secret", "generic_secret", "\\b(?:ENV|ARG)[ \\t]+(" KC "{1,128})(?:[ \\t]+|=)", 0,
     true, CHK_KEYED_NAME, 0, false, NULL, 0},
    /* passwords given to well-known clients: mysql -pPASS, sshpass -p, docker login -p,
     * redis-cli -a; curl -u user:pass */
    {"cli_password_arg", "password",
     "\\b(?:mysql(?:dump|admin|sh)?|sshpass|(?:docker|podman|nerdctl|buildah)[ \\t]+login|"
     "helm[ \\t]+registry[ \\t]+login|redis-cli)\\b",
     0, true, CHK_NONE, 0, false,
     "(?|mysql(?:dump|admin|sh)?\\b[^\\n]{0,256}?[ \\t]-p([^\\s'\"$-][^\\s'\"]{2,})"
     "|sshpass[ \\t]+-p[ \\t]*['\"]?([^\\s'\"$-][^\\s'\"]{2,})"
     "|(?:docker|podman|nerdctl|buildah|helm[ \\t]+registry)[ \\t]+login\\b[^\\n]{0,256}?[ \\t]"
     "(?:-p|--password)[ \\t]+['\"]?([^\\s'\"$-][^\\s'\"]{2,})"
     "|redis-cli\\b[^\\n]{0,256}?[ \\t]-a[ \\t]+['\"]?([^\\s'\"$-][^\\s'\"]{2,}))",
     512},
    {"curl_user_password", "password", "\\bcurl\\b", 0, true, CHK_NONE, 0, false,
     "curl\\b[^\\n]{0,512}?[ \\t](?:-u|--user)(?:[ \\t]+|=)?['\"]?[^\\s:'\"$]+:([^\\s'\"$][^\\s'\"]*)",
     1024},
    /* Authorization: <scheme> <credentials> for schemes other than Bearer and Basic */
    {"authorization_header", "authorization", "\\bauthorization\\\\*[\"']?\\]?[ \\t]*[:=,]", F_CI, true,
     CHK_NONE, 0, false,
     "authorization\\\\*[\"']?\\]?[ \\t]*[:=,][ \\t]*\\\\*[\"']?(?:(?:token|apikey|api-key|key|ssws|splunk|"
     "sso-key|geniekey|otp|klaviyo-api-key)[ \\t]+)?([A-Za-z0-9._~+/=:-]{8,})",
     256},
    /* request.setValue("v", forHTTPHeaderField: "X-Api-Token") (Swift) */
    {"swift_header_secret", "generic_secret", "setValue\\([ \\t]*\"", 0, true, CHK_NONE, 0, false,
     "setValue\\([ \\t]*\"([^\"\\s$%{<][^\"\\s]{5,})\"[ \\t]*,[ \\t]*forHTTPHeaderField:[ \\t]*\"[A-Za-z0-9-]*(?i:"
     "password|passwd|pwd|secret|token|key|auth|credential|pat)[A-Za-z0-9-]*\"",
     512},
    /* what a CLI prints when asked for a secret: the line after gcloud secrets
     * versions access, vault kv get -field=, op read; az storage account keys list rows */
    {"cli_secret_output", "generic_secret",
     "(?:secrets[ \\t]+versions[ \\t]+access|vault[ \\t]+kv[ \\t]+get[ \\t]+-field=|\\bop[ \\t]+read[ \\t])", 0,
     true, CHK_NONE, 0, false,
     "(?:secrets[ \\t]+versions[ \\t]+access|vault[ \\t]+kv[ \\t]+get[ \\t]+-field=|op[ \\t]+read[ \\t])[^\\n]{0,256}\\n"
     "[ \\t]*([^\\s$#][^\\n]{4,}?)[ \\t]*(?:\\n|$)",
     4096},
    {"cloud_key_table_row", "generic_secret", "\\bkey[12][ \\t]+(?:FULL|READ)[ \\t]+[A-Za-z0-9+/]{20}", 0, true,
     CHK_NONE, 0, false, "key[12][ \\t]+(?:FULL|READ)[ \\t]+([A-Za-z0-9+/]{20,}={0,2})", 256},
    /* secrets in URL query strings: ?access_token=, &sig=, ?api_key= */
    {"url_query_secret", "url_secret",
     "[?&;](?:(?:access|auth|api|refresh|id|private|client|session)[_-]?)?(?:token|key|secret|sig|"
     "signature|apikey|password|passwd)=",
     F_CI, true, CHK_NONE, 0, false,
     "[?&;](?:(?:access|auth|api|refresh|id|private|client|session)[_-]?)?(?:token|key|secret|sig|"
     "signature|apikey|password|passwd)=([^&\\s\"'#\\\\<>]{8,})",
     1024},
    /* provider tokens and private keys wrapped in base64 (a base64 run that
     * starts with the encoding of ghp_, xoxb-, sk_live_, -----BEGIN ... PRIVATE KEY, ...) */
    {"base64_wrapped_secret", "base64_secret",
     "(?:^|[^A-Za-z0-9+/])(?:Z2hwX|Z2hvX|Z2hzX|Z2h1X|Z2hyX|Z2l0aHViX3BhdF|Z2xwYXQt|eG94Yi|eG94cC|"
     "eGFwcC|c2tfbGl2ZV|cmtfbGl2ZV|c2stYW50L|c2stcHJvai|QUtJQ|QVNJQ|bnBtX|ZGNrcl9wYXRf|aHZzL|"
     "cHlwaS1BZ0VJ|LS0tLS1CRUdJTiBSU0EgUFJJVkFURSBLRV|LS0tLS1CRUdJTiBQUklWQVRFIEtFW|"
     "LS0tLS1CRUdJTiBPUEVOU1NIIFBSSVZBVEUgS0VZ|LS0tLS1CRUdJTiBFQyBQUklWQVRFIEtFW|"
     "LS0tLS1CRUdJTiBFTkNSWVBURUQgUFJJVkFURSBLRV|LS0tLS1CRUdJTiBEU0EgUFJJVkFURSBLRV|"
     /* pat-na1- pat-eu1- duffel_live_ glsa_ dop_v1_ sntrys_ lin_api_ shpat_ AIza ya29. API- */
     "cGF0LW5hMS|cGF0LWV1MS|ZHVmZmVsX2xpdmVf|Z2xzYV|ZG9wX3YxX|c250cnlzX|bGluX2FwaV|c2hwYXRf|"
     "QUl6Y|eWEyOS|QVBJL)"
     "[A-Za-z0-9+/]{12}",
     0, true, CHK_NONE, 0, false,
     "(?:^|[^A-Za-z0-9+/])([A-Za-z0-9+/]{24,}={0,2})", 16384},
    {"k8s_secret_data", "k8s_secret_data", "(?:^|[\\s{,\"\\\\])data\\\\*\"?[ \\t]*:", F_ML, false,
     CHK_K8S_DATA, 0, false, NULL, 0},
    /* financial and personal data */
    {"credit_card", "credit_card", NULL /* native: \\b[0-9]{13,19}\\b */, 0, false, CHK_CARD, 0, true, NULL, 0},
    {"credit_card_grouped", "credit_card",
     NULL /* native: \\b[0-9]{4}[ -][0-9]{4,6}[ -][0-9]{4,5}(?:[ -][0-9]{4})?(?:[ -][0-9]{3})?\\b */, 0, false,
     CHK_CARD, 0, true, NULL, 0},
    {"iban", "iban", NULL /* native: \\b[A-Z]{2}[0-9]{2} ?[A-Z0-9]{4} */, 0, false, CHK_IBAN, 0, true, NULL, 0},
    {"us_ssn", "us_ssn", NULL /* native: \\b[0-9]{3}-[0-9]{2}-[0-9]{4}\\b */, 0, false, CHK_SSN, 0, true, NULL, 0},
    {"aba_routing_or_ssn", "aba_routing", NULL /* native: \\b[0-9]{9}\\b */, 0, false, CHK_ABA_SSN9, 0, true, NULL, 0},
    {"email", "email", NULL /* native: [A-Za-z0-9._%+-]@[A-Za-z0-9-], then the confirmation */,
     0, false, CHK_EMAIL, 0, true, NULL, 0},
    {"phone_e164", "phone_number", NULL /* native: \\+[1-9][0-9]{7,14}\\b */, 0, false, CHK_PHONE, 0, true, NULL, 0},
    {"phone_intl", "phone_number", NULL /* native: \\+[1-9][0-9]{0,2}[ .-][0-9]{1,4}(?:[ .-][0-9]{2,4}){1,4}\\b */, 0,
     false, CHK_PHONE, 0, true, NULL, 0},
    {"phone_us", "phone_number",
     NULL /* native: (?:\\([0-9]{3}\\)[ .-]?|\\b[0-9]{3}[.-])[0-9]{3}[.-][0-9]{4}\\b */, 0, false, CHK_PHONE, 0,
     true, NULL, 0},
};

static char *dup_str(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

mt_err mask_rules_push(mt_mask_rules *r, const mask_det *d, mt_errbuf *eb)
{
    if (r->n == r->cap) {
        size_t nc = r->cap ? r->cap * 2 : 64;
        mask_det *nd = realloc(r->dets, nc * sizeof *nd);
        if (!nd)
            return mt_fail(eb, MT_ERR_NOMEM, "mask rules: out of memory");
        r->dets = nd;
        r->cap = nc;
    }
    mask_det *t = &r->dets[r->n];
    *t = *d;
    t->id = dup_str(d->id);
    t->type = dup_str(d->type);
    t->regex = dup_str(d->regex);
    t->pcre_regex = d->pcre_regex ? dup_str(d->pcre_regex) : NULL;
    if (!t->id || !t->type || !t->regex || (d->pcre_regex && !t->pcre_regex)) {
        free(t->pcre_regex);
        free(t->id);
        free(t->type);
        free(t->regex);
        return mt_fail(eb, MT_ERR_NOMEM, "mask rules: out of memory");
    }
    r->n++;
    return MT_OK;
}

/* Detectors that find a secret by what surrounds it rather than by its
 * format (besides the keyed ones). */
static bool is_context_detector(const char *id)
{
    static const char *const ids[] = {"bearer_token", "authorization_header", "url_query_secret",
                                      "cli_password_arg", "curl_user_password", "basic_auth_url",
                                      "db_connection_string", "connection_string_password",
                                      "dotnet_auth_header", "swift_header_secret",
                                      "cli_secret_output", "cloud_key_table_row"};
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++)
        if (strcmp(ids[i], id) == 0)
            return true;
    return false;
}

mt_err mask_rules_add_builtins(mt_mask_rules *r, mt_errbuf *eb)
{
    for (size_t i = 0; i < sizeof builtins / sizeof builtins[0]; i++) {
        const builtin *b = &builtins[i];
        mask_det d = {.id = (char *)b->id,
                      .type = (char *)b->type,
                      .regex = (char *)(b->regex ? b->regex : ""),
                      .native = b->regex == NULL,
                      .hs_flags = b->flags,
                      .use_pcre = b->pcre,
                      .caseless = (b->flags & HS_FLAG_CASELESS) != 0,
                      .check = b->check,
                      .min_entropy = b->entropy,
                      .action = MT_MASK_REDACT,
                      .pii = b->pii,
                      .pcre_regex = (char *)b->pcre_regex,
                      .window = b->window,
                      .generic = mask_key_is_keyed(b->check) || is_context_detector(b->id),
                      .user = false};
        mt_err err = mask_rules_push(r, &d, eb);
        if (err)
            return err;
    }
    for (size_t i = 0; i < mask_providers_count; i++) {
        const mask_provider *p = &mask_providers[i];
        mask_det d = {.id = (char *)p->id,
                      .type = (char *)p->id,
                      .regex = (char *)p->regex,
                      .hs_flags = p->flags,
                      .use_pcre = p->pcre_regex != NULL,
                      .caseless = (p->flags & HS_FLAG_CASELESS) != 0,
                      .check = CHK_NONE,
                      .action = MT_MASK_REDACT,
                      .pcre_regex = (char *)p->pcre_regex,
                      .window = p->window};
        mt_err err = mask_rules_push(r, &d, eb);
        if (err)
            return err;
    }
    return MT_OK;
}

/* --- key and value heuristics ---------------------------------------------- */

bool mask_has_ci(const char *s, size_t len, const char *w)
{
    size_t wl = strlen(w);
    for (size_t i = 0; i + wl <= len; i++) {
        size_t k = 0;
        while (k < wl && mask_fold(s[i + k]) == w[k])
            k++;
        if (k == wl)
            return true;
    }
    return false;
}

static bool eq_ci(const char *s, size_t len, const char *w)
{
    for (size_t i = 0; i < len; i++)
        if (!w[i] || mask_fold(s[i]) != w[i])
            return false;
    return w[len] == 0;
}

/* Lower-cases key into buf with '-' as '_' (X-Api-Key is as secret as
 * x_api_key) so the word checks below are plain strstr calls. Returns false
 * when the key is too long to fold; callers then treat it as not secret
 * unless the slow path says otherwise. */
static bool fold_key(const char *key, size_t len, char *buf, size_t cap)
{
    if (len + 1 > cap)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = mask_fold(key[i]);
        buf[i] = c ? c : '?';
    }
    buf[len] = 0;
    return true;
}

/* Names that look secret but hold metadata about a secret: its name, file,
 * lifetime, type, id; MCP progress tokens and LLM token counts. Grouped by
 * first byte (a-z, then '_') so one pass over the name tries only the parts
 * that can start at each byte: this runs for every keyed candidate. */
#define BENIGN_GROUP(ch) ((ch) == '_' ? 26 : (ch) - 'a')
static const char *const benign_parts[27][17] = {
    [BENIGN_GROUP('d')] = {"duration"},
    [BENIGN_GROUP('e')] = {"endpoint", "expir", "enabled"},
    [BENIGN_GROUP('f')] = {"file", "format"},
    [BENIGN_GROUP('h')] = {"helper"},
    [BENIGN_GROUP('i')] = {"inputtokens"},
    [BENIGN_GROUP('k')] = {"key_id", "keyid"},
    [BENIGN_GROUP('l')] = {"length", "lifetime"},
    [BENIGN_GROUP('m')] = {"maxtokens", "max_tokens"},
    [BENIGN_GROUP('n')] = {"name"},
    [BENIGN_GROUP('o')] = {"outputtokens"},
    [BENIGN_GROUP('p')] = {"path", "policy", "progresstoken"},
    [BENIGN_GROUP('r')] = {"rotation"},
    [BENIGN_GROUP('s')] = {"second", "store"},
    [BENIGN_GROUP('t')] = {"ttl", "type", "timeout", "tokens_", "totaltokens", "tokeniz"},
    [BENIGN_GROUP('v')] = {"version"},
    [BENIGN_GROUP('_')] = {"_url", "_uri", "_mode", "_arn", "_ref", "_tokens", "_dir", "_env",
                           "_hint", "_prompt", "_label", "_header", "_param", "_field", "_size",
                           "_limit"},
};

/* Endings of names that describe a secret rather than hold it: its id, the
 * URL it comes from, a reference to it (tokenUrl, secretRef, api_key_id,
 * credentialSource). */
static const char *const benign_suffixes[] = {"url", "uri", "urls", "ref", "id", "ids", "source",
                                              "method", "provider", "issuer", "audience", "scope",
                                              "host", "port", "user", "username", "prefix", "count",
                                              "suffix", "names", "header"};

static bool folded_is_benign(const char *b)
{
    size_t n = strlen(b);
    for (size_t i = 0; i < sizeof benign_suffixes / sizeof benign_suffixes[0]; i++) {
        size_t sl = strlen(benign_suffixes[i]);
        if (n > sl && memcmp(b + n - sl, benign_suffixes[i], sl) == 0)
            return true;
    }
    /* existingSecret (the name of a Secret a chart reads), --secret NAME */
    if (strncmp(b, "existing", 8) == 0 || strcmp(b, "__secret") == 0 || strcmp(b, "_secret") == 0)
        return true;
    for (size_t i = 0; i < n; i++) {
        char ch = b[i];
        if (ch != '_' && (ch < 'a' || ch > 'z'))
            continue;
        const char *const *g = benign_parts[BENIGN_GROUP(ch)];
        for (size_t k = 0; k < sizeof benign_parts[0] / sizeof *g && g[k]; k++) {
            size_t pl = strlen(g[k]);
            if (pl <= n - i && memcmp(b + i, g[k], pl) == 0)
                return true;
        }
    }
    return false;
}

#define KEY_FOLD_MAX 256

/* One pass: does the folded name b[0..n) hold a stem of any secret word?
 * (Fixed-size compares the compiler inlines: this runs for every member
 * name of every payload.) */
static bool has_stem(const char *b, size_t n)
{
    for (size_t i = 0; i + 3 <= n; i++) {
        const char *p = b + i;
        size_t left = n - i;
        switch (*p) {
        case 'p':
            if (left >= 4 && memcmp(p, "pass", 4) == 0)
                return true;
            break;
        case 's':
            if (left >= 6 && memcmp(p, "secret", 6) == 0)
                return true;
            break;
        case 't':
            if (left >= 5 && memcmp(p, "token", 5) == 0)
                return true;
            break;
        case 'a':
            if (left >= 4 && memcmp(p, "auth", 4) == 0)
                return true;
            break;
        case 'k':
            if (memcmp(p, "key", 3) == 0)
                return true;
            break;
        case 'c':
            if ((left >= 10 && memcmp(p, "credential", 10) == 0) ||
                (left >= 6 && memcmp(p, "cookie", 6) == 0))
                return true;
            break;
        default:
            break;
        }
    }
    return false;
}

bool mask_key_is_keyed(mask_check c)
{
    return c == CHK_KEYED || c == CHK_KEYED_RE || c == CHK_KEYED_NAME;
}

bool mask_key_is_benign(const char *key, size_t len)
{
    char b[KEY_FOLD_MAX];
    return fold_key(key, len, b, sizeof b) && folded_is_benign(b);
}

bool mask_key_is_secret(const char *key, size_t len)
{
    static const char *const words[] = {
        "password",    "passwd",         "passphrase",    "secret",       "token",
        "authorization", "api_key",      "apikey",        "app_key",      "appkey",
        "access_key",  "accesskey",      "private_key",   "privatekey",   "credential",
        "cookie",      "signing_key",    "signingkey",    "auth_key",     "authkey",
        "encryption_key", "encryptionkey", "master_key",  "masterkey",    "client_secret",
        "license_key", "licensekey",     "hmac_key",      "jwt_key",      "session_key",
        "shared_key",  "deploy_key",
    };
    char b[KEY_FOLD_MAX];
    if (len < 3)
        return false;
    if (!fold_key(key, len, b, sizeof b)) {
        /* Very long names: only the secret words, no exceptions. */
        for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
            if (mask_has_ci(key, len, words[i]))
                return true;
        return false;
    }
    if (strcmp(b, "auth") == 0 || strcmp(b, "pwd") == 0 || strcmp(b, "dsn") == 0)
        return true;
    /* Most names hold none of these stems: leave before the long lists. */
    if (!has_stem(b, len))
        return false;
    if (folded_is_benign(b))
        return false;
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
        if (strstr(b, words[i]))
            return true;
    return mask_key_has_word(key, len, "pass") || mask_key_has_word(key, len, "pat") ||
           mask_key_has_word(key, len, "pwd");
}

/* w (lower case) as a word of a name: "pass" in DB_PASS, smtpPass, --pass,
 * pass.word, not in bypass, passenger, compass, PASSED; "pat" in GITHUB_PAT,
 * X-Ado-Pat, not in path or patch. */

static bool is_up(char ch) { return ch >= 'A' && ch <= 'Z'; }
static bool is_low(char ch) { return ch >= 'a' && ch <= 'z'; }
static bool is_alnum(char ch) { return is_up(ch) || is_low(ch) || (ch >= '0' && ch <= '9'); }

/* Names that end in "key" but name no secret word hold a secret only when
 * the value looks generated (STORAGE_ACCOUNT_KEY, ALGOLIA_ADMIN_KEY,
 * HONEYCOMB_WRITEKEY), and not for keys that are data, public or ids. */
static bool key_named(const char *k, size_t n)
{
    static const char *const data[] = {
        "public", "pub",    "primary",  "foreign", "sort",    "partition", "cache",   "lookup",
        "routing", "idempot", "object", "group",   "dedup",   "hash",      "index",   "unique",
        "composite", "translation", "label", "metric", "event", "message", "shortcut", "hotkey",
        "keyboard", "verif", "host",   "gpg",     "pgp",     "kms",       "monkey",  "hockey",
        "turkey",  "jockey", "whiskey", "donkey", "bucket",  "s3",        "cursor",  "page",
        "row",     "column", "field",  "dict",    "map",     "lock",      "idemp",   "request",
        "trace",   "correlation", "order", "product", "item", "issue",     "project", "user"};
    char b[KEY_FOLD_MAX];
    if (n < 5 || mask_fold(k[n - 3]) != 'k' || mask_fold(k[n - 2]) != 'e' ||
        mask_fold(k[n - 1]) != 'y' || !fold_key(k, n, b, sizeof b) || folded_is_benign(b))
        return false;
    for (size_t i = 0; i < sizeof data / sizeof data[0]; i++)
        if (strstr(b, data[i]))
            return false;
    return true;
}

int mask_key_class(const char *key, size_t len)
{
    if (mask_key_is_secret(key, len))
        return MASK_KEY_SECRET;
    return key_named(key, len) ? MASK_KEY_NAMED : MASK_KEY_PLAIN;
}

/* A value that looks generated rather than chosen: token characters only,
 * 16 bytes or more, letters and digits, and the entropy of random text. */
bool mask_value_looks_generated(const char *v, size_t n)
{
    size_t digits = 0, letters = 0;
    if (n < 16 || n > 4096)
        return false;
    for (size_t i = 0; i < n; i++) {
        char ch = v[i];
        if (ch >= '0' && ch <= '9')
            digits++;
        else if (is_up(ch) || is_low(ch))
            letters++;
        else if (!strchr("+/=_.-~", ch))
            return false;
    }
    return digits >= 2 && letters >= 2 && mt_mask_entropy(v, n) >= 3.3;
}

bool mask_key_has_word(const char *k, size_t n, const char *w)
{
    size_t wl = strlen(w);
    for (size_t i = 0; i + wl <= n; i++) {
        size_t m = 0;
        while (m < wl && mask_fold(k[i + m]) == w[m])
            m++;
        if (m < wl)
            continue;
        size_t j = i + wl;
        bool before = i == 0 || !is_alnum(k[i - 1]) || (is_low(k[i - 1]) && is_up(k[i]));
        bool after = j == n || !(is_up(k[j]) || is_low(k[j])) || (is_up(k[j]) && is_low(k[j - 1]));
        if (before && after)
            return true;
    }
    return false;
}

static bool starts(const char *v, size_t len, const char *p)
{
    size_t n = strlen(p);
    return len >= n && memcmp(v, p, n) == 0;
}

/* References and obvious non-secrets found where a secret could be: ${VAR},
 * %(VAR)s, {{ .Values.x }}, (sensitive value), paths, words, digits. */
bool mask_value_is_reference(const char *v, size_t len)
{
    static const char *const pre[] = {"${", "$(", "%(", "{{", "<", "(sensitive", "(known after",
                                      "*", "./", "../", "~/", "[REDACTED", "[TOKEN:",
                                      "REDACTED", "file:", "env:", "vault:", "arn:", "secretsmanager:",
                                      "${{", "$", "...", "!", "os.environ", "os.getenv", "getenv(",
                                      "process.env", "System.getenv", "ENV[", "env(", "secrets.",
                                      "vars.", "settings.", "config.",
                                      /* a JSON document as the value: its members are read */
                                      "{\"", "{\\\"", "[{"};
    static const char *const roots[] = {"/run/", "/etc/", "/var/", "/home/", "/tmp/", "/usr/",
                                        "/opt/", "/secrets/", "/mnt/", "/data/", "/app/", "/srv/",
                                        "/root/", "/dev/", "/proc/", "/workspace/", "/vault/"};
    static const char *const whole[] = {"true", "false", "null", "none", "yes", "no",
                                        "bearer", "basic", "required", "optional", "string",
                                        "changeme", "redacted", "hidden", "masked", "empty"};
    if (len < 6)
        return true;
    for (size_t i = 0; i < sizeof pre / sizeof pre[0]; i++)
        if (starts(v, len, pre[i]))
            return true;
    for (size_t i = 0; i < sizeof roots / sizeof roots[0]; i++)
        if (starts(v, len, roots[i]))
            return true;
    for (size_t i = 0; i < sizeof whole / sizeof whole[0]; i++)
        if (eq_ci(v, len, whole[i]))
            return true;
    bool digits = true;
    for (size_t i = 0; i < len; i++)
        digits = digits && v[i] >= '0' && v[i] <= '9';
    return digits;
}

bool mask_value_is_benign(const char *v, size_t len)
{
    return mask_value_is_reference(v, len) || mask_value_is_placeholder(v, len);
}

/* folded v[i..] starts with w */
static bool folded_at(const char *v, size_t len, size_t i, const char *w)
{
    size_t k = 0;
    while (w[k] && i + k < len && mask_fold(v[i + k]) == w[k])
        k++;
    return w[k] == 0;
}

/* Placeholders written where a secret goes: YOUR_API_KEY,
 * <your-token-here>, REPLACE_ME, xxxxxxxx, ********. Short values only (a
 * placeholder is short). One pass: this runs for every finding. */
bool mask_value_is_placeholder(const char *v, size_t len)
{
    if (len == 0 || len > 64)
        return false;
    size_t same = 1;
    while (same < len && v[same] == v[0])
        same++;
    if (same == len)
        return true;
    for (size_t i = 0; i < len; i++) {
        switch (mask_fold(v[i])) {
        case 'y':
            if (folded_at(v, len, i, "your_") || folded_at(v, len, i, "yourapi") ||
                folded_at(v, len, i, "yourtoken") || folded_at(v, len, i, "yoursecret") ||
                folded_at(v, len, i, "yourpass"))
                return true;
            break;
        case 'p':
            if (folded_at(v, len, i, "placeholder"))
                return true;
            break;
        case 'r':
            if (folded_at(v, len, i, "replace_me") || folded_at(v, len, i, "replaceme"))
                return true;
            break;
        case 'i':
            if (folded_at(v, len, i, "insert_"))
                return true;
            break;
        case 'x':
            if (folded_at(v, len, i, "xxxx"))
                return true;
            break;
        case 'c':
            if (folded_at(v, len, i, "changeme"))
                return true;
            break;
        default:
            break;
        }
    }
    return false;
}

/* --- rules file --------------------------------------------------------------- */

static mt_err parse_action(const char *s, mt_mask_action *a)
{
    for (int i = 0; i < MT_MASK_ACTION_COUNT; i++)
        if (strcmp(s, mt_mask_action_name((mt_mask_action)i)) == 0) {
            *a = (mt_mask_action)i;
            return MT_OK;
        }
    return MT_ERR_CONFIG;
}

static mt_err parse_check(const char *s, mask_det *d)
{
    if (strcmp(s, "luhn") == 0)
        d->check = CHK_LUHN;
    else if (strcmp(s, "card") == 0)
        d->check = CHK_CARD;
    else if (strcmp(s, "iban") == 0)
        d->check = CHK_IBAN;
    else if (strcmp(s, "aba") == 0 || strcmp(s, "ssn") == 0)
        d->check = strcmp(s, "aba") == 0 ? CHK_ABA_SSN9 : CHK_SSN;
    else if (strncmp(s, "entropy:", 8) == 0) {
        char *end;
        double v = strtod(s + 8, &end);
        if (*end || v <= 0 || v > 8)
            return MT_ERR_CONFIG;
        d->check = CHK_ENTROPY;
        d->min_entropy = v;
    } else {
        return MT_ERR_CONFIG;
    }
    return MT_OK;
}

static mt_err add_strings(json_t *arr, char ***out, size_t *n, const char *what, mt_errbuf *eb)
{
    size_t i;
    json_t *v;
    if (!arr)
        return MT_OK;
    if (!json_is_array(arr))
        return mt_fail(eb, MT_ERR_CONFIG, "mask rules: %s must be an array of strings", what);
    char **a = calloc(json_array_size(arr) + 1, sizeof *a);
    if (!a)
        return mt_fail(eb, MT_ERR_NOMEM, "mask rules: out of memory");
    *out = a;
    json_array_foreach(arr, i, v) {
        if (!json_is_string(v))
            return mt_fail(eb, MT_ERR_CONFIG, "mask rules: %s[%zu] must be a string", what, i);
        if (!(a[i] = dup_str(json_string_value(v))))
            return mt_fail(eb, MT_ERR_NOMEM, "mask rules: out of memory");
        *n = i + 1;
    }
    return MT_OK;
}

static mt_err load_user_rule(mt_mask_rules *r, json_t *o, size_t idx, mt_errbuf *eb)
{
    const char *id, *type, *regex, *action = "redact", *confirm = NULL;
    mt_errbuf sub = {""};
    if (!json_is_object(o))
        return mt_fail(eb, MT_ERR_CONFIG, "mask rules: rules[%zu] must be an object", idx);
    if (mt_json_get_string(o, "id", &id, &sub))
        return mt_fail(eb, MT_ERR_CONFIG, "mask rules: rules[%zu]: %s", idx, sub.msg);
    if (mt_json_get_string(o, "type", &type, &sub) || mt_json_get_string(o, "regex", &regex, &sub) ||
        mt_json_opt_string(o, "action", "redact", &action, &sub) ||
        mt_json_opt_string(o, "confirm", NULL, &confirm, &sub))
        return mt_fail(eb, MT_ERR_CONFIG, "mask rules: rule \"%s\": %s", id, sub.msg);
    const char *k;
    json_t *v;
    json_object_foreach(o, k, v) {
        if (strcmp(k, "id") && strcmp(k, "type") && strcmp(k, "regex") && strcmp(k, "action") &&
            strcmp(k, "confirm") && strcmp(k, "caseless"))
            return mt_fail(eb, MT_ERR_CONFIG, "mask rules: rule \"%s\": unknown key \"%s\"", id, k);
    }
    if (!*id || !*type || !*regex)
        return mt_fail(eb, MT_ERR_CONFIG, "mask rules: rule \"%s\": id, type and regex must not be empty",
                       id);
    for (const char *p = type; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_'))
            return mt_fail(eb, MT_ERR_CONFIG,
                           "mask rules: rule \"%s\": type must be [a-z0-9_]+ (it appears in markers)", id);
    for (size_t i = 0; i < r->n; i++)
        if (strcmp(r->dets[i].id, id) == 0)
            return mt_fail(eb, MT_ERR_CONFIG, "mask rules: rule \"%s\": id already used", id);
    mask_det d = {.id = (char *)id, .type = (char *)type, .regex = (char *)regex, .use_pcre = true,
                  .check = CHK_NONE, .user = true};
    json_t *ci = json_object_get(o, "caseless");
    if (ci && json_is_true(ci)) {
        d.caseless = true;
        d.hs_flags |= HS_FLAG_CASELESS;
    }
    if (parse_action(action, &d.action))
        return mt_fail(eb, MT_ERR_CONFIG,
                       "mask rules: rule \"%s\": action \"%s\" is not redact, tokenize, partial or drop",
                       id, action);
    if (confirm && parse_check(confirm, &d))
        return mt_fail(eb, MT_ERR_CONFIG,
                       "mask rules: rule \"%s\": confirm \"%s\" is not luhn, card, iban, aba, ssn or entropy:<bits>",
                       id, confirm);
    return mask_rules_push(r, &d, eb);
}

static mt_err load_json(mt_mask_rules *r, json_t *root, mt_errbuf *eb)
{
    const char *k;
    json_t *v;
    if (!json_is_object(root))
        return mt_fail(eb, MT_ERR_CONFIG, "mask rules: the file must hold a JSON object");
    json_object_foreach(root, k, v) {
        if (strcmp(k, "rules") && strcmp(k, "allow") && strcmp(k, "actions") &&
            strcmp(k, "tokenize_key") && strcmp(k, "max_string") && strcmp(k, "max_depth") &&
            strcmp(k, "field_names") && strcmp(k, "disable") && strcmp(k, "builtin_detectors"))
            return mt_fail(eb, MT_ERR_CONFIG,
                           "mask rules: unknown key \"%s\" (expected rules, allow, actions, disable, "
                           "tokenize_key, field_names, builtin_detectors, max_string, max_depth)",
                           k);
    }
    mt_err err;
    json_t *bi = json_object_get(root, "builtin_detectors");
    if (bi && !json_is_boolean(bi))
        return mt_fail(eb, MT_ERR_CONFIG, "mask rules: builtin_detectors must be true or false");
    if (bi && json_is_false(bi)) {
        /* Only the user rules (and field names unless disabled) remain. */
        for (size_t i = 0; i < r->n; i++) {
            free(r->dets[i].id);
            free(r->dets[i].type);
            free(r->dets[i].regex);
            free(r->dets[i].pcre_regex);
        }
        r->n = 0;
    }
    json_t *rules = json_object_get(root, "rules");
    if (rules) {
        size_t i;
        json_t *o;
        if (!json_is_array(rules))
            return mt_fail(eb, MT_ERR_CONFIG, "mask rules: \"rules\" must be an array");
        json_array_foreach(rules, i, o) {
            if ((err = load_user_rule(r, o, i, eb)))
                return err;
        }
    }
    json_t *allow = json_object_get(root, "allow");
    if (allow) {
        if (!json_is_object(allow))
            return mt_fail(eb, MT_ERR_CONFIG, "mask rules: \"allow\" must be an object {values, paths}");
        if ((err = add_strings(json_object_get(allow, "values"), &r->allow_values, &r->n_allow,
                               "allow.values", eb)) ||
            (err = add_strings(json_object_get(allow, "paths"), &r->allow_paths, &r->n_paths,
                               "allow.paths", eb)))
            return err;
        for (size_t i = 0; i < r->n_paths; i++)
            if (r->allow_paths[i][0] != '/')
                return mt_fail(eb, MT_ERR_CONFIG,
                               "mask rules: allow.paths[%zu] \"%s\" is not a JSON pointer (starts with /)",
                               i, r->allow_paths[i]);
    }
    json_t *actions = json_object_get(root, "actions");
    if (actions) {
        if (!json_is_object(actions))
            return mt_fail(eb, MT_ERR_CONFIG, "mask rules: \"actions\" must map detector ids to actions");
        json_object_foreach(actions, k, v) {
            mt_mask_action a;
            if (!json_is_string(v) || parse_action(json_string_value(v), &a))
                return mt_fail(eb, MT_ERR_CONFIG,
                               "mask rules: actions.%s must be redact, tokenize, partial or drop", k);
            bool found = false;
            if (strcmp(k, "field_name") == 0) {
                r->field_action = a;
                found = true;
            }
            for (size_t i = 0; i < r->n; i++)
                if (strcmp(r->dets[i].id, k) == 0 || strcmp(r->dets[i].type, k) == 0) {
                    r->dets[i].action = a;
                    found = true;
                }
            if (!found)
                return mt_fail(eb, MT_ERR_CONFIG,
                               "mask rules: actions.%s: no detector has that id or type "
                               "(mcptrail-mask --list shows them)",
                               k);
        }
    }
    json_t *dis = json_object_get(root, "disable");
    if (dis) {
        size_t i;
        json_t *s;
        if (!json_is_array(dis))
            return mt_fail(eb, MT_ERR_CONFIG, "mask rules: \"disable\" must be an array of detector ids");
        json_array_foreach(dis, i, s) {
            const char *id = json_string_value(s);
            bool found = false;
            if (id && strcmp(id, "field_name") == 0) {
                r->field_rule = false;
                found = true;
            }
            for (size_t j = 0; id && j < r->n; j++)
                if (strcmp(r->dets[j].id, id) == 0) {
                    free(r->dets[j].id);
                    free(r->dets[j].type);
                    free(r->dets[j].regex);
                    free(r->dets[j].pcre_regex);
                    memmove(&r->dets[j], &r->dets[j + 1], (r->n - j - 1) * sizeof r->dets[0]);
                    r->n--;
                    found = true;
                    break;
                }
            if (!found)
                return mt_fail(eb, MT_ERR_CONFIG, "mask rules: disable[%zu]: no detector \"%s\"", i,
                               id ? id : "(not a string)");
        }
    }
    json_t *key = json_object_get(root, "tokenize_key");
    if (key) {
        if (!json_is_string(key) || json_string_length(key) < 16)
            return mt_fail(eb, MT_ERR_CONFIG,
                           "mask rules: tokenize_key must be a string of at least 16 bytes");
        r->token_key_len = json_string_length(key);
        r->token_key = malloc(r->token_key_len);
        if (!r->token_key)
            return mt_fail(eb, MT_ERR_NOMEM, "mask rules: out of memory");
        memcpy(r->token_key, json_string_value(key), r->token_key_len);
    }
    json_t *fn = json_object_get(root, "field_names");
    if (fn && !json_is_boolean(fn))
        return mt_fail(eb, MT_ERR_CONFIG, "mask rules: field_names must be true or false");
    if (fn)
        r->field_rule = json_is_true(fn);
    json_t *ms = json_object_get(root, "max_string");
    if (ms) {
        if (!json_is_integer(ms) || json_integer_value(ms) < 1024)
            return mt_fail(eb, MT_ERR_CONFIG, "mask rules: max_string must be an integer >= 1024");
        r->max_string = (size_t)json_integer_value(ms);
    }
    json_t *md = json_object_get(root, "max_depth");
    if (md) {
        if (!json_is_integer(md) || json_integer_value(md) < 1 || json_integer_value(md) > 1024)
            return mt_fail(eb, MT_ERR_CONFIG, "mask rules: max_depth must be an integer in 1..1024");
        r->max_depth = (unsigned)json_integer_value(md);
    }
    return MT_OK;
}

mt_err mt_mask_rules_load(const char *json, size_t len, mt_mask_rules **out, mt_errbuf *eb)
{
    *out = NULL;
    mt_mask_rules *r = calloc(1, sizeof *r);
    if (!r)
        return mt_fail(eb, MT_ERR_NOMEM, "mask rules: out of memory");
    r->max_string = MT_MASK_MAX_STRING_DEFAULT;
    r->max_depth = MT_MASK_MAX_DEPTH_DEFAULT;
    r->field_rule = true;
    mt_err err = mask_rules_add_builtins(r, eb);
    if (!err && json) {
        json_t *root = NULL;
        mt_json_limits lim = MT_JSON_LIMITS_DEFAULT;
        lim.max_bytes = 16u << 20;
        mt_errbuf sub = {""};
        err = mt_json_parse(json, len, &lim, &root, &sub);
        if (err)
            err = mt_fail(eb, MT_ERR_CONFIG, "mask rules: %s", sub.msg);
        else
            err = load_json(r, root, eb);
        json_decref(root);
    }
    if (err) {
        mt_mask_rules_free(r);
        return err;
    }
    *out = r;
    return MT_OK;
}

mt_err mt_mask_rules_load_file(const char *path, mt_mask_rules **out, mt_errbuf *eb)
{
    *out = NULL;
    json_t *root = NULL;
    mt_json_limits lim = MT_JSON_LIMITS_DEFAULT;
    lim.max_bytes = 16u << 20;
    mt_err err = mt_json_load_file(path, &lim, &root, eb);
    if (err)
        return err;
    char *text = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    if (!text)
        return mt_fail(eb, MT_ERR_NOMEM, "mask rules: out of memory");
    err = mt_mask_rules_load(text, strlen(text), out, eb);
    free(text);
    return err;
}

void mt_mask_rules_free(mt_mask_rules *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n; i++) {
        free(r->dets[i].id);
        free(r->dets[i].type);
        free(r->dets[i].regex);
        free(r->dets[i].pcre_regex);
    }
    free(r->dets);
    for (size_t i = 0; i < r->n_allow; i++)
        free(r->allow_values[i]);
    free(r->allow_values);
    for (size_t i = 0; i < r->n_paths; i++)
        free(r->allow_paths[i]);
    free(r->allow_paths);
    free(r->token_key);
    free(r);
}
