/* Fuzzes the two untrusted inputs of the jwt module.
 *
 * - Input starting with '{' is a JWKS document for mt_jwks_parse (a JWKS file
 *   is configuration, but with auth.jwks_url the sidecar parses whatever the
 *   identity provider's HTTPS endpoint returns, up to MT_JWKS_MAX_BYTES).
 * - Anything else is a bearer token verified against a fixed JWKS (the public
 *   keys of a development key set: Ed25519, RSA-2048, EC P-256) with a fixed
 *   clock. Seeds in fuzz/corpus/jwt are tokens really signed by those keys
 *   with exp far in the future, so mutations start past signature checking
 *   only for the payloads that still verify and exercise header, base64 and
 *   key selection everywhere else.
 * Either way the result must be MT_OK or a clean error code with an empty
 * identity, never a crash, leak or out-of-bounds read. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mcptrail/jwt.h"

static const char fixed_jwks[] =
    "{\"keys\":[{\"alg\":\"EdDSA\",\"crv\":\"Ed25519\",\"kid\":\"dev-ed25519\",\"kty\":\"OKP\","
    "\"use\":\"sig\",\"x\":\"GCJdVNiF9yZQzwobShiDwyx3IbNNIpXKZNPaQsRnyS4\"},{\"alg\":\"RS256\","
    "\"e\":\"AQAB\",\"kid\":\"dev-rs256\",\"kty\":\"RSA\","
    "\"n\":\""
    "jTo2FRuaZzzxgpen8Pk60IaqOSjdBfS6PEOnlINNp7K8AMBmt3yfPqGKIQSdHmOVGxxU8TRAsvlANEWpUhEqFkLQ"
    "B8syLI2BtZc_Iv6pv-la3iKlATtvqWYpM7lN9p0Nt_HtY7jIMzcx2IeR2-yGfsYrcFGRvUCnOI7YS105wRFVtsQz"
    "eyVScraisybkkF6sAe4rmk2c4aHTlENiOiVeiSUYaRggAEsjRK_ETa9gQpu8oDQJmo6S7KKb0vZo_8a7_uUNMfS_"
    "foYCb7TThEt6NknIKRMQkQgu1TqdQcpsO-DC9dBNgNplt3uYdYgWLjHTjo28ppC1W6t36o4X2bz_3w"
    "\","
    "\"use\":\"sig\"},{\"alg\":\"ES256\",\"crv\":\"P-256\",\"kid\":\"dev-es256\",\"kty\":\"EC\","
    "\"use\":\"sig\",\"x\":\"IiQIuh5guR0usio3Mu6-M7xzFcW3VNRb-L73vELJ4mE\","
    "\"y\":\"ecJasoN-C6yRRshSUIOmODutlc0AC1V8aONMkOT-_08\"}]}";

static const char *const auds[] = {"mcptrail", "other"};
static const char *const algs[] = {"RS256", "ES256", "EdDSA"};
static const mt_jwt_policy policy = {"https://issuer.example", auds, 2, algs, 3, 60};
#define NOW INT64_C(1800000000)

static mt_jwks *jwks;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    mt_errbuf eb = {""};
    if (mt_jwks_parse(fixed_jwks, sizeof fixed_jwks - 1, &jwks, &eb)) {
        fprintf(stderr, "fuzz_jwt: %s\n", eb.msg);
        abort();
    }
    return 0;
}

static void fuzz_jwks(const uint8_t *data, size_t size)
{
    mt_jwks *j = NULL;
    mt_errbuf eb;
    mt_err err = mt_jwks_parse((const char *)data, size, &j, &eb);
    if ((err == MT_OK) != (j != NULL))
        abort(); /* a JWKS exactly when MT_OK */
    if (err == MT_OK && mt_jwks_count(j) == 0)
        abort(); /* an accepted JWKS has a usable key */
    mt_jwks_free(j);
}

static void fuzz_token(const uint8_t *data, size_t size)
{
    mt_identity id;
    mt_errbuf eb;
    mt_err err = mt_jwt_verify(jwks, &policy, (const char *)data, size, NOW, &id, &eb);
    if (err != MT_OK) {
        if (id.issuer != NULL || id.claims != NULL || id.token_fingerprint[0] != '\0')
            abort(); /* failure leaves nothing behind */
        return;
    }
    if (id.issuer == NULL || id.audience == NULL || id.claims == NULL ||
        strlen(id.token_fingerprint) != 64)
        abort();
    json_t *j = mt_identity_to_json(&id);
    if (j == NULL)
        abort();
    json_decref(j);
    mt_identity_free(&id);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 0 && data[0] == '{')
        fuzz_jwks(data, size);
    else
        fuzz_token(data, size);
    return 0;
}
