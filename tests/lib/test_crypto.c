/* crypto: published test vectors (FIPS 180 SHA-256, RFC 4231 HMAC, RFC 8032
 * Ed25519, the Certificate Transparency RFC 6962 tree), PEM key files on
 * disk, refusal of wrong key types, and Merkle proofs that verify only for
 * the exact leaf, index, size and root they were made for. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "mcptrail/crypto.h"

/* ---- helpers ---------------------------------------------------------- */

/* Decodes a hex literal from the test source; the test fails on bad hex. */
static size_t unhex(const char *hex, uint8_t *out, size_t cap)
{
    size_t n = 0;
    mt_errbuf eb = {{0}};
    assert_int_equal(mt_hex_decode(hex, strlen(hex), out, cap, &n, &eb), MT_OK);
    return n;
}

static void assert_hex(const uint8_t *bytes, size_t len, const char *want)
{
    char got[2 * 128 + 1];
    assert_true(len <= 128);
    assert_int_equal(mt_hex_encode(bytes, len, got, sizeof got), MT_OK);
    assert_string_equal(got, want);
}

/* A private temp dir per test, removed with its files afterwards. */
typedef struct tmpdir {
    char path[64];
} tmpdir;

static void tmpdir_make(tmpdir *t)
{
    const char *base = getenv("TMPDIR");
    int n = snprintf(t->path, sizeof t->path, "%s/mt_crypto_XXXXXX",
                     base != NULL && strlen(base) < 40 ? base : "/tmp");
    assert_true(n > 0 && (size_t)n < sizeof t->path);
    assert_non_null(mkdtemp(t->path));
}

static void tmpdir_file(const tmpdir *t, const char *name, char *out, size_t out_size)
{
    int n = snprintf(out, out_size, "%s/%s", t->path, name);
    assert_true(n > 0 && (size_t)n < out_size);
}

static void tmpdir_remove(tmpdir *t, const char *const *names, size_t count)
{
    char p[128];
    for (size_t i = 0; i < count; i++) {
        tmpdir_file(t, names[i], p, sizeof p);
        unlink(p);
    }
    assert_int_equal(rmdir(t->path), 0); /* fails if a stray tmp file was left */
}

static void write_text(const char *path, const char *text, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

/* ---- SHA-256 ---------------------------------------------------------- */

static void sha256_matches_fips_180_vectors(void **state)
{
    (void)state;
    uint8_t d[MT_SHA256_LEN];

    assert_int_equal(mt_sha256("", 0, d), MT_OK);
    assert_hex(d, sizeof d, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    assert_int_equal(mt_sha256(NULL, 0, d), MT_OK);
    assert_hex(d, sizeof d, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    assert_int_equal(mt_sha256("abc", 3, d), MT_OK);
    assert_hex(d, sizeof d, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    const char *m448 = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    assert_int_equal(mt_sha256(m448, strlen(m448), d), MT_OK);
    assert_hex(d, sizeof d, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

static void sha256_incremental_hashes_a_million_a_in_uneven_chunks(void **state)
{
    (void)state;
    uint8_t chunk[1000];
    uint8_t d[MT_SHA256_LEN];
    mt_sha256_ctx ctx = MT_SHA256_CTX_INIT;
    size_t done = 0, step = 1;

    memset(chunk, 'a', sizeof chunk);
    assert_int_equal(mt_sha256_init(&ctx, NULL), MT_OK);
    while (done < 1000000) {
        size_t n = step < 1000000 - done ? step : 1000000 - done;
        assert_int_equal(mt_sha256_update(&ctx, chunk, n, NULL), MT_OK);
        done += n;
        step = step * 7 % 1000 + 1; /* varied sizes cross block boundaries */
    }
    assert_int_equal(mt_sha256_update(&ctx, NULL, 0, NULL), MT_OK);
    assert_int_equal(mt_sha256_final(&ctx, d, NULL), MT_OK);
    assert_hex(d, sizeof d, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
    mt_sha256_free(&ctx); /* harmless after final */
    assert_int_equal(mt_sha256_update(&ctx, "x", 1, NULL), MT_ERR_STATE);
}

static void sha256_file_equals_one_shot_and_missing_file_is_not_found(void **state)
{
    (void)state;
    tmpdir t;
    char p[128];
    uint8_t want[MT_SHA256_LEN], got[MT_SHA256_LEN];
    size_t len = 200000;
    char *data = malloc(len);
    mt_errbuf eb = {{0}};

    assert_non_null(data);
    for (size_t i = 0; i < len; i++)
        data[i] = (char)(i * 31 + 7);
    tmpdir_make(&t);
    tmpdir_file(&t, "seg.avro", p, sizeof p);
    write_text(p, data, len);
    assert_int_equal(mt_sha256(data, len, want), MT_OK);
    assert_int_equal(mt_sha256_file(p, got, &eb), MT_OK);
    assert_memory_equal(got, want, sizeof want);
    tmpdir_file(&t, "absent", p, sizeof p);
    assert_int_equal(mt_sha256_file(p, got, &eb), MT_ERR_NOT_FOUND);
    assert_non_null(strstr(eb.msg, "absent"));
    const char *names[] = {"seg.avro"};
    tmpdir_remove(&t, names, 1);
    free(data);
}

/* ---- hex -------------------------------------------------------------- */

static void hex_round_trips_and_encode_needs_room_for_nul(void **state)
{
    (void)state;
    const uint8_t in[] = {0x00, 0x7f, 0x80, 0xff, 0xab};
    char s[11];
    uint8_t back[5];
    size_t n = 0;

    assert_int_equal(mt_hex_encode(in, sizeof in, s, sizeof s), MT_OK);
    assert_string_equal(s, "007f80ffab");
    assert_int_equal(mt_hex_encode(in, sizeof in, s, 10), MT_ERR_INVALID_ARG);
    assert_int_equal(mt_hex_decode("007F80fFAb", 10, back, sizeof back, &n, NULL), MT_OK);
    assert_int_equal(n, 5);
    assert_memory_equal(back, in, sizeof in);
    assert_int_equal(mt_hex_encode(NULL, 0, s, 1), MT_OK);
    assert_string_equal(s, "");
    assert_int_equal(mt_hex_decode("", 0, back, sizeof back, &n, NULL), MT_OK);
    assert_int_equal(n, 0);
}

static void hex_decode_rejects_odd_length_bad_digits_and_small_buffer(void **state)
{
    (void)state;
    uint8_t out[4];
    size_t n = 99;
    mt_errbuf eb = {{0}};

    assert_int_equal(mt_hex_decode("abc", 3, out, sizeof out, &n, &eb), MT_ERR_PARSE);
    assert_non_null(strstr(eb.msg, "odd length"));
    assert_int_equal(n, 0);
    assert_int_equal(mt_hex_decode("0g", 2, out, sizeof out, &n, &eb), MT_ERR_PARSE);
    assert_non_null(strstr(eb.msg, "offset 1"));
    assert_int_equal(mt_hex_decode(" 0", 2, out, sizeof out, &n, &eb), MT_ERR_PARSE);
    assert_int_equal(mt_hex_decode("0x00", 4, out, sizeof out, &n, &eb), MT_ERR_PARSE);
    assert_int_equal(mt_hex_decode("0000000000", 10, out, sizeof out, &n, &eb),
                     MT_ERR_TOO_LARGE);
    /* An embedded NUL inside the given length is a bad digit, not an end. */
    assert_int_equal(mt_hex_decode("00\0000", 4, out, sizeof out, &n, &eb), MT_ERR_PARSE);
}

/* ---- HMAC ------------------------------------------------------------- */

static void hmac_sha256_matches_rfc4231_vectors(void **state)
{
    (void)state;
    struct {
        const char *key_hex;
        const char *data_hex; /* NULL: use data_text */
        const char *data_text;
        const char *mac;
        size_t mac_len; /* case 5 is truncated to 128 bits */
    } v[] = {
        {"0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b", NULL, "Hi There",
         "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7", 32},
        {"4a656665", NULL, "what do ya want for nothing?",
         "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843", 32},
        {"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
         "dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd"
         "dddddddddddddddddddd",
         NULL, "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe", 32},
        {"0102030405060708090a0b0c0d0e0f10111213141516171819",
         "cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd"
         "cdcdcdcdcdcdcdcdcdcd",
         NULL, "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b", 32},
        {"0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c", NULL, "Test With Truncation",
         "a3b6167473100ee06e0c796c2955552b", 16},
        {NULL, NULL, "Test Using Larger Than Block-Size Key - Hash Key First",
         "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54", 32},
        {NULL, NULL,
         "This is a test using a larger than block-size key and a larger than block-size "
         "data. The key needs to be hashed before being used by the HMAC algorithm.",
         "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2", 32},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        uint8_t key[131], data[64], mac[MT_SHA256_LEN];
        size_t key_len, data_len;
        const void *d;
        if (v[i].key_hex != NULL) {
            key_len = unhex(v[i].key_hex, key, sizeof key);
        } else { /* cases 6 and 7: 131 bytes of 0xaa, longer than a block */
            memset(key, 0xaa, sizeof key);
            key_len = sizeof key;
        }
        if (v[i].data_hex != NULL) {
            data_len = unhex(v[i].data_hex, data, sizeof data);
            d = data;
        } else {
            d = v[i].data_text;
            data_len = strlen(v[i].data_text);
        }
        assert_int_equal(mt_hmac_sha256(key, key_len, d, data_len, mac, NULL), MT_OK);
        assert_hex(mac, v[i].mac_len, v[i].mac);
        /* the keyed object gives the same MAC, and again on reuse */
        mt_hmac *h = NULL;
        assert_int_equal(mt_hmac_new(key, key_len, &h, NULL), MT_OK);
        for (int round = 0; round < 2; round++) {
            memset(mac, 0, sizeof mac);
            assert_int_equal(mt_hmac_compute(h, d, data_len, mac, NULL), MT_OK);
            assert_hex(mac, v[i].mac_len, v[i].mac);
        }
        mt_hmac_free(h);
    }
}

static void sha256_hasher_matches_one_shot_and_is_reusable(void **state)
{
    (void)state;
    mt_sha256_hasher *h = NULL;
    assert_int_equal(mt_sha256_hasher_new(&h, NULL), MT_OK);
    const char *msgs[] = {"", "abc", "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"};
    for (int round = 0; round < 2; round++)
        for (size_t i = 0; i < 3; i++) {
            uint8_t a[MT_SHA256_LEN], b[MT_SHA256_LEN];
            assert_int_equal(mt_sha256_hasher_digest(h, msgs[i], strlen(msgs[i]), a), MT_OK);
            assert_int_equal(mt_sha256(msgs[i], strlen(msgs[i]), b), MT_OK);
            assert_memory_equal(a, b, sizeof a);
        }
    uint8_t d[MT_SHA256_LEN];
    assert_int_equal(mt_sha256_hasher_digest(h, "abc", 3, d), MT_OK);
    assert_hex(d, sizeof d, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    mt_sha256_hasher_free(h);
}

static void hmac_sha256_accepts_empty_key_and_message(void **state)
{
    (void)state;
    uint8_t mac[MT_SHA256_LEN];
    assert_int_equal(mt_hmac_sha256(NULL, 0, NULL, 0, mac, NULL), MT_OK);
    assert_hex(mac, sizeof mac,
               "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
    mt_hmac *h = NULL;
    assert_int_equal(mt_hmac_new(NULL, 0, &h, NULL), MT_OK);
    assert_int_equal(mt_hmac_compute(h, NULL, 0, mac, NULL), MT_OK);
    assert_hex(mac, sizeof mac,
               "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
    mt_hmac_free(h);
}

static void ct_equal_reports_any_differing_byte(void **state)
{
    (void)state;
    uint8_t a[32], b[32];
    memset(a, 0x5a, sizeof a);
    memcpy(b, a, sizeof b);
    assert_true(mt_ct_equal(a, b, sizeof a));
    for (size_t i = 0; i < sizeof a; i++) {
        b[i] ^= 0x01;
        assert_false(mt_ct_equal(a, b, sizeof a));
        b[i] ^= 0x01;
    }
    assert_true(mt_ct_equal(NULL, NULL, 0));
}

/* ---- Ed25519 ---------------------------------------------------------- */

static void ed25519_rfc8032_vectors_1_and_2_sign_exactly(void **state)
{
    (void)state;
    struct {
        const char *seed, *pub, *msg, *sig;
    } v[] = {
        {"9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
         "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "",
         "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155"
         "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"},
        {"4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
         "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", "72",
         "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da"
         "085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"},
    };
    for (size_t i = 0; i < 2; i++) {
        uint8_t seed[32], msg[8], sig[MT_ED25519_SIG_LEN], pub[32];
        mt_ed25519_key *k = NULL, *pk = NULL;
        mt_errbuf eb = {{0}};
        unhex(v[i].seed, seed, sizeof seed);
        size_t msg_len = unhex(v[i].msg, msg, sizeof msg);

        assert_int_equal(mt_ed25519_from_seed(seed, &k, &eb), MT_OK);
        assert_true(mt_ed25519_has_private(k));
        assert_int_equal(mt_ed25519_public_raw(k, pub, &eb), MT_OK);
        assert_hex(pub, sizeof pub, v[i].pub);
        assert_int_equal(mt_ed25519_sign(k, msg, msg_len, sig, &eb), MT_OK);
        assert_hex(sig, sizeof sig, v[i].sig);

        /* The public half alone verifies the published signature. */
        assert_int_equal(mt_ed25519_from_public_raw(pub, &pk, &eb), MT_OK);
        assert_false(mt_ed25519_has_private(pk));
        assert_int_equal(mt_ed25519_verify(pk, msg, msg_len, sig, sizeof sig, &eb), MT_OK);
        mt_ed25519_free(k);
        mt_ed25519_free(pk);
    }
}

static void ed25519_key_id_is_hex_of_first_8_bytes_of_sha256_of_public_key(void **state)
{
    (void)state;
    uint8_t seed[32];
    char id[MT_ED25519_KEY_ID_SIZE];
    mt_ed25519_key *k = NULL;
    unhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60", seed, sizeof seed);
    assert_int_equal(mt_ed25519_from_seed(seed, &k, NULL), MT_OK);
    assert_int_equal(mt_ed25519_key_id(k, id, NULL), MT_OK);
    /* SHA-256(d75a98...511a) starts 21fe31dfa154a261, computed independently. */
    assert_string_equal(id, "21fe31dfa154a261");
    mt_ed25519_free(k);
}

static void ed25519_pem_files_round_trip_and_private_file_is_0600(void **state)
{
    (void)state;
    tmpdir t;
    char priv_path[128], pub_path[128];
    mt_ed25519_key *gen = NULL, *priv = NULL, *pub = NULL, *mem = NULL;
    uint8_t sig[MT_ED25519_SIG_LEN];
    char id_gen[MT_ED25519_KEY_ID_SIZE], id_pub[MT_ED25519_KEY_ID_SIZE];
    const char *msg = "approval 42: approved by alice, bob";
    mt_errbuf eb = {{0}};
    struct stat st;

    tmpdir_make(&t);
    tmpdir_file(&t, "signing.key", priv_path, sizeof priv_path);
    tmpdir_file(&t, "signing.pub", pub_path, sizeof pub_path);
    assert_int_equal(mt_ed25519_generate(&gen, &eb), MT_OK);
    assert_int_equal(mt_ed25519_write_private_pem(gen, priv_path, &eb), MT_OK);
    assert_int_equal(mt_ed25519_write_public_pem(gen, pub_path, &eb), MT_OK);
    /* Writing again replaces the file atomically and leaves no tmp file. */
    assert_int_equal(mt_ed25519_write_private_pem(gen, priv_path, &eb), MT_OK);

    assert_int_equal(stat(priv_path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(stat(pub_path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0644);

    assert_int_equal(mt_ed25519_load_private_pem_file(priv_path, &priv, &eb), MT_OK);
    assert_int_equal(mt_ed25519_load_public_pem_file(pub_path, &pub, &eb), MT_OK);
    assert_true(mt_ed25519_has_private(priv));
    assert_false(mt_ed25519_has_private(pub));
    assert_int_equal(mt_ed25519_sign(priv, msg, strlen(msg), sig, &eb), MT_OK);
    assert_int_equal(mt_ed25519_verify(pub, msg, strlen(msg), sig, sizeof sig, &eb), MT_OK);
    assert_int_equal(mt_ed25519_key_id(gen, id_gen, &eb), MT_OK);
    assert_int_equal(mt_ed25519_key_id(pub, id_pub, &eb), MT_OK);
    assert_string_equal(id_gen, id_pub);

    /* The in-memory loader accepts what public_pem produces. */
    mt_buf pem = MT_BUF_INIT;
    assert_int_equal(mt_ed25519_public_pem(gen, &pem, &eb), MT_OK);
    assert_non_null(strstr((const char *)pem.data, "-----BEGIN PUBLIC KEY-----"));
    assert_int_equal(mt_ed25519_load_public_pem((const char *)pem.data, pem.len, "test pem",
                                                &mem, &eb),
                     MT_OK);
    assert_int_equal(mt_ed25519_verify(mem, msg, strlen(msg), sig, sizeof sig, &eb), MT_OK);
    mt_buf_free(&pem);

    mt_ed25519_free(gen);
    mt_ed25519_free(priv);
    mt_ed25519_free(pub);
    mt_ed25519_free(mem);
    const char *names[] = {"signing.key", "signing.pub"};
    tmpdir_remove(&t, names, 2);
}

static void ed25519_tampered_message_wrong_key_and_bad_length_fail(void **state)
{
    (void)state;
    mt_ed25519_key *a = NULL, *b = NULL;
    uint8_t sig[MT_ED25519_SIG_LEN];
    char msg[] = "tools/call delete_repo";
    mt_errbuf eb = {{0}};

    assert_int_equal(mt_ed25519_generate(&a, &eb), MT_OK);
    assert_int_equal(mt_ed25519_generate(&b, &eb), MT_OK);
    assert_int_equal(mt_ed25519_sign(a, msg, strlen(msg), sig, &eb), MT_OK);
    assert_int_equal(mt_ed25519_verify(a, msg, strlen(msg), sig, sizeof sig, &eb), MT_OK);

    msg[0] ^= 0x20;
    assert_int_equal(mt_ed25519_verify(a, msg, strlen(msg), sig, sizeof sig, &eb),
                     MT_ERR_BAD_SIGNATURE);
    assert_true(eb.msg[0] != '\0');
    msg[0] ^= 0x20;
    assert_int_equal(mt_ed25519_verify(b, msg, strlen(msg), sig, sizeof sig, &eb),
                     MT_ERR_BAD_SIGNATURE);
    sig[10] ^= 0x01;
    assert_int_equal(mt_ed25519_verify(a, msg, strlen(msg), sig, sizeof sig, &eb),
                     MT_ERR_BAD_SIGNATURE);
    sig[10] ^= 0x01;
    assert_int_equal(mt_ed25519_verify(a, msg, strlen(msg), sig, 63, &eb),
                     MT_ERR_BAD_SIGNATURE);
    assert_int_equal(mt_ed25519_verify(a, msg, strlen(msg), NULL, 0, &eb),
                     MT_ERR_BAD_SIGNATURE);
    mt_ed25519_free(a);
    mt_ed25519_free(b);
}

static void ed25519_public_only_key_cannot_sign_or_be_written_as_private(void **state)
{
    (void)state;
    uint8_t pub[32] = {0}, sig[MT_ED25519_SIG_LEN];
    mt_ed25519_key *k = NULL;
    mt_errbuf eb = {{0}};
    unhex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", pub, sizeof pub);
    assert_int_equal(mt_ed25519_from_public_raw(pub, &k, &eb), MT_OK);
    assert_int_equal(mt_ed25519_sign(k, "x", 1, sig, &eb), MT_ERR_STATE);
    assert_int_equal(mt_ed25519_write_private_pem(k, "/nonexistent/never-written", &eb),
                     MT_ERR_STATE);
    mt_ed25519_free(k);
}

/* Writes an EC P-256 key pair, the most likely wrong key to be configured. */
static void write_p256_pems(const char *priv_path, const char *pub_path)
{
    EVP_PKEY *ec = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    assert_non_null(ec);
    FILE *f = fopen(priv_path, "wb");
    assert_non_null(f);
    assert_int_equal(PEM_write_PrivateKey(f, ec, NULL, NULL, 0, NULL, NULL), 1);
    assert_int_equal(fclose(f), 0);
    f = fopen(pub_path, "wb");
    assert_non_null(f);
    assert_int_equal(PEM_write_PUBKEY(f, ec), 1);
    assert_int_equal(fclose(f), 0);
    EVP_PKEY_free(ec);
}

static void ed25519_loading_ec_p256_key_fails_with_message_naming_the_file(void **state)
{
    (void)state;
    tmpdir t;
    char priv_path[128], pub_path[128];
    mt_ed25519_key *k = NULL;
    mt_errbuf eb = {{0}};

    tmpdir_make(&t);
    tmpdir_file(&t, "ec.key", priv_path, sizeof priv_path);
    tmpdir_file(&t, "ec.pub", pub_path, sizeof pub_path);
    write_p256_pems(priv_path, pub_path);

    assert_int_equal(mt_ed25519_load_private_pem_file(priv_path, &k, &eb), MT_ERR_CONFIG);
    assert_null(k);
    assert_non_null(strstr(eb.msg, priv_path));
    assert_non_null(strstr(eb.msg, "Ed25519"));
    assert_non_null(strstr(eb.msg, "EC"));

    memset(&eb, 0, sizeof eb);
    assert_int_equal(mt_ed25519_load_public_pem_file(pub_path, &k, &eb), MT_ERR_CONFIG);
    assert_null(k);
    assert_non_null(strstr(eb.msg, pub_path));
    assert_non_null(strstr(eb.msg, "Ed25519"));

    const char *names[] = {"ec.key", "ec.pub"};
    tmpdir_remove(&t, names, 2);
}

static void ed25519_loading_missing_garbage_or_mismatched_pem_fails(void **state)
{
    (void)state;
    tmpdir t;
    char p[128], pub_path[128];
    mt_ed25519_key *k = NULL, *gen = NULL;
    mt_errbuf eb = {{0}};

    tmpdir_make(&t);
    tmpdir_file(&t, "missing.key", p, sizeof p);
    assert_int_equal(mt_ed25519_load_private_pem_file(p, &k, &eb), MT_ERR_NOT_FOUND);
    assert_non_null(strstr(eb.msg, "missing.key"));

    tmpdir_file(&t, "garbage.key", p, sizeof p);
    write_text(p, "not a key\n", 10);
    assert_int_equal(mt_ed25519_load_private_pem_file(p, &k, &eb), MT_ERR_PARSE);
    assert_non_null(strstr(eb.msg, "garbage.key"));

    /* A public key where a private key is expected is refused, and vice
     * versa, rather than silently producing a key that cannot sign. */
    tmpdir_file(&t, "ed.pub", pub_path, sizeof pub_path);
    assert_int_equal(mt_ed25519_generate(&gen, &eb), MT_OK);
    assert_int_equal(mt_ed25519_write_public_pem(gen, pub_path, &eb), MT_OK);
    assert_int_equal(mt_ed25519_load_private_pem_file(pub_path, &k, &eb), MT_ERR_PARSE);
    assert_null(k);

    assert_int_equal(mt_ed25519_load_public_pem("", 0, "empty secret", &k, &eb), MT_ERR_PARSE);
    assert_non_null(strstr(eb.msg, "empty secret"));
    assert_int_equal(mt_ed25519_load_public_pem("x", MT_PEM_MAX + 1, "huge", &k, &eb),
                     MT_ERR_TOO_LARGE);
    assert_int_equal(mt_ed25519_load_public_pem_file(t.path, &k, &eb), MT_ERR_CONFIG);

    mt_ed25519_free(gen);
    const char *names[] = {"garbage.key", "ed.pub"};
    tmpdir_remove(&t, names, 2);
}

static int test_passphrase(char *buf, int size, int rwflag, void *u)
{
    (void)rwflag;
    (void)u;
    const char *pw = "hunter22";
    int n = (int)strlen(pw);
    if (n > size)
        return -1;
    memcpy(buf, pw, (size_t)n);
    return n;
}

static void ed25519_encrypted_private_key_is_refused_without_prompting(void **state)
{
    (void)state;
    mt_ed25519_key *gen = NULL, *k = NULL;
    uint8_t seed[32] = {1};
    mt_errbuf eb = {{0}};
    char *pem = NULL;

    assert_int_equal(mt_ed25519_from_seed(seed, &gen, &eb), MT_OK);
    /* Build the encrypted PEM with OpenSSL directly: the library never
     * writes one. */
    EVP_PKEY *pk = EVP_PKEY_new_raw_private_key_ex(NULL, "ED25519", NULL, seed, 32);
    assert_non_null(pk);
    BIO *bio = BIO_new(BIO_s_mem());
    assert_non_null(bio);
    assert_int_equal(PEM_write_bio_PKCS8PrivateKey(bio, pk, EVP_aes_256_cbc(), NULL, 0,
                                                   test_passphrase, NULL),
                     1);
    long len = BIO_get_mem_data(bio, &pem);
    assert_true(len > 0);
    assert_int_equal(
        mt_ed25519_load_private_pem(pem, (size_t)len, "encrypted secret", &k, &eb),
        MT_ERR_PARSE);
    assert_null(k);
    assert_non_null(strstr(eb.msg, "encrypted"));
    BIO_free(bio);
    EVP_PKEY_free(pk);
    mt_ed25519_free(gen);
}

/* ---- RFC 6962 Merkle -------------------------------------------------- */

/* Certificate Transparency reference inputs (transparency-dev/merkle
 * testonly data), and the published root for each size 0..8. */
static const char *const ct_leaves_hex[8] = {
    "", "00", "10", "2021", "3031", "40414243", "5051525354555657",
    "606162636465666768696a6b6c6d6e6f",
};
static const char *const ct_roots[9] = {
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
};

static void ct_leaf_hashes(uint8_t out[8 * MT_SHA256_LEN])
{
    for (size_t i = 0; i < 8; i++) {
        uint8_t data[16];
        size_t n = unhex(ct_leaves_hex[i], data, sizeof data);
        assert_int_equal(mt_merkle_leaf_hash(data, n, out + i * MT_SHA256_LEN), MT_OK);
    }
}

/* Deterministic distinct leaf hashes for generated trees. */
static uint8_t *synthetic_leaves(uint64_t n)
{
    uint8_t *leaves = malloc(n > 0 ? n * MT_SHA256_LEN : 1);
    assert_non_null(leaves);
    for (uint64_t i = 0; i < n; i++) {
        uint8_t rec[8];
        for (int b = 0; b < 8; b++)
            rec[b] = (uint8_t)(i >> (8 * b));
        assert_int_equal(mt_merkle_leaf_hash(rec, sizeof rec, leaves + i * MT_SHA256_LEN),
                         MT_OK);
    }
    return leaves;
}

static void merkle_empty_tree_root_is_sha256_of_empty_string(void **state)
{
    (void)state;
    uint8_t root[MT_SHA256_LEN];
    mt_merkle_builder b;
    assert_int_equal(mt_merkle_root(NULL, 0, root, NULL), MT_OK);
    assert_hex(root, sizeof root, ct_roots[0]);
    mt_merkle_builder_init(&b);
    assert_int_equal(mt_merkle_builder_root(&b, root, NULL), MT_OK);
    assert_hex(root, sizeof root, ct_roots[0]);
}

static void merkle_one_leaf_tree_root_is_the_0x00_prefixed_leaf_hash(void **state)
{
    (void)state;
    uint8_t leaf[MT_SHA256_LEN], root[MT_SHA256_LEN];
    assert_int_equal(mt_merkle_leaf_hash("", 0, leaf), MT_OK);
    assert_hex(leaf, sizeof leaf, ct_roots[1]); /* SHA256(0x00) */
    assert_int_equal(mt_merkle_root(leaf, 1, root, NULL), MT_OK);
    assert_hex(root, sizeof root, ct_roots[1]);
}

static void merkle_ct_reference_roots_match_for_sizes_0_to_8(void **state)
{
    (void)state;
    uint8_t leaves[8 * MT_SHA256_LEN], root[MT_SHA256_LEN];
    mt_merkle_builder b;

    ct_leaf_hashes(leaves);
    mt_merkle_builder_init(&b);
    for (uint64_t n = 0; n <= 8; n++) {
        assert_int_equal(mt_merkle_root(leaves, n, root, NULL), MT_OK);
        assert_hex(root, sizeof root, ct_roots[n]);
        assert_int_equal(mt_merkle_builder_root(&b, root, NULL), MT_OK);
        assert_hex(root, sizeof root, ct_roots[n]);
        if (n < 8)
            assert_int_equal(mt_merkle_builder_append(&b, leaves + n * MT_SHA256_LEN, NULL),
                             MT_OK);
    }
    /* The interior hash uses the 0x01 prefix: the 2-leaf root is node(l0, l1). */
    assert_int_equal(mt_merkle_node_hash(leaves, leaves + MT_SHA256_LEN, root), MT_OK);
    assert_hex(root, sizeof root, ct_roots[2]);
}

static void merkle_ct_reference_inclusion_proofs_match_published_paths(void **state)
{
    (void)state;
    /* 0-based index, tree size, published PATH. */
    struct {
        uint64_t index, size;
        size_t len;
        const char *path[3];
    } v[] = {
        {0, 8, 3,
         {"96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
          "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
          "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"}},
        {5, 8, 3,
         {"bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
          "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
          "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"}},
        {2, 3, 1, {"fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"}},
        {1, 5, 3,
         {"6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
          "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
          "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"}},
        {0, 1, 0, {NULL}},
    };
    uint8_t leaves[8 * MT_SHA256_LEN], root[MT_SHA256_LEN];
    uint8_t proof[MT_MERKLE_MAX_PROOF * MT_SHA256_LEN];
    size_t proof_len = 99;

    ct_leaf_hashes(leaves);
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        assert_int_equal(
            mt_merkle_inclusion_proof(leaves, v[i].size, v[i].index, proof, &proof_len, NULL),
            MT_OK);
        assert_int_equal(proof_len, v[i].len);
        for (size_t j = 0; j < v[i].len; j++)
            assert_hex(proof + j * MT_SHA256_LEN, MT_SHA256_LEN, v[i].path[j]);
        unhex(ct_roots[v[i].size], root, sizeof root);
        assert_int_equal(mt_merkle_verify_inclusion(leaves + v[i].index * MT_SHA256_LEN,
                                                    v[i].index, v[i].size, proof, proof_len,
                                                    root, NULL),
                         MT_OK);
    }
}

static void merkle_every_leaf_of_the_7_and_8_leaf_ct_trees_has_a_verifying_proof(void **state)
{
    (void)state;
    uint8_t leaves[8 * MT_SHA256_LEN], root[MT_SHA256_LEN];
    uint8_t proof[MT_MERKLE_MAX_PROOF * MT_SHA256_LEN];
    size_t proof_len;
    mt_errbuf eb = {{0}};

    ct_leaf_hashes(leaves);
    for (uint64_t n = 7; n <= 8; n++) {
        unhex(ct_roots[n], root, sizeof root);
        for (uint64_t m = 0; m < n; m++) {
            assert_int_equal(mt_merkle_inclusion_proof(leaves, n, m, proof, &proof_len, &eb),
                             MT_OK);
            assert_int_equal(mt_merkle_verify_inclusion(leaves + m * MT_SHA256_LEN, m, n,
                                                        proof, proof_len, root, &eb),
                             MT_OK);
        }
    }
}

static void merkle_proof_fails_for_wrong_index_root_leaf_size_and_altered_proof(void **state)
{
    (void)state;
    uint8_t leaves[8 * MT_SHA256_LEN], root[MT_SHA256_LEN], other[MT_SHA256_LEN];
    uint8_t proof[(MT_MERKLE_MAX_PROOF + 1) * MT_SHA256_LEN];
    size_t len;
    const uint64_t n = 7;
    mt_errbuf eb = {{0}};

    ct_leaf_hashes(leaves);
    unhex(ct_roots[n], root, sizeof root);
    for (uint64_t m = 0; m < n; m++) {
        const uint8_t *leaf = leaves + m * MT_SHA256_LEN;
        assert_int_equal(mt_merkle_inclusion_proof(leaves, n, m, proof, &len, NULL), MT_OK);
        assert_true(len >= 2);

        /* Wrong index: every other position in the tree. */
        for (uint64_t w = 0; w < n; w++)
            if (w != m)
                assert_int_equal(
                    mt_merkle_verify_inclusion(leaf, w, n, proof, len, root, &eb),
                    MT_ERR_BAD_SIGNATURE);
        /* Wrong root: the roots of the neighbouring tree sizes. */
        unhex(ct_roots[8], other, sizeof other);
        assert_int_equal(mt_merkle_verify_inclusion(leaf, m, n, proof, len, other, &eb),
                         MT_ERR_BAD_SIGNATURE);
        assert_non_null(strstr(eb.msg, "root"));
        /* Wrong leaf: the neighbouring leaf's hash. */
        const uint8_t *wrong = leaves + ((m + 1) % n) * MT_SHA256_LEN;
        assert_int_equal(mt_merkle_verify_inclusion(wrong, m, n, proof, len, root, &eb),
                         MT_ERR_BAD_SIGNATURE);
        /* Truncated proof, and one with an extra hash appended. */
        assert_int_equal(mt_merkle_verify_inclusion(leaf, m, n, proof, len - 1, root, &eb),
                         MT_ERR_BAD_SIGNATURE);
        memcpy(proof + len * MT_SHA256_LEN, root, MT_SHA256_LEN);
        assert_int_equal(mt_merkle_verify_inclusion(leaf, m, n, proof, len + 1, root, &eb),
                         MT_ERR_BAD_SIGNATURE);
        /* Wrong tree size (double, half). Not size+1: for leaves 0..3 the
         * 7- and 8-leaf paths have the same shape, which is why the size
         * must come from the signed manifest, never from the proof. */
        assert_int_equal(mt_merkle_verify_inclusion(leaf, m, 2 * n, proof, len, root, &eb),
                         MT_ERR_BAD_SIGNATURE);
        if (m < n / 2)
            assert_int_equal(
                mt_merkle_verify_inclusion(leaf, m, n / 2, proof, len, root, &eb),
                MT_ERR_BAD_SIGNATURE);
        /* One flipped bit in any proof element. */
        for (size_t j = 0; j < len; j++) {
            proof[j * MT_SHA256_LEN] ^= 0x08;
            assert_int_equal(mt_merkle_verify_inclusion(leaf, m, n, proof, len, root, &eb),
                             MT_ERR_BAD_SIGNATURE);
            proof[j * MT_SHA256_LEN] ^= 0x08;
        }
        assert_int_equal(mt_merkle_verify_inclusion(leaf, m, n, proof, len, root, &eb), MT_OK);
    }
}

static void merkle_verify_rejects_out_of_range_index_size_and_proof_length(void **state)
{
    (void)state;
    uint8_t h[MT_SHA256_LEN] = {0};
    uint8_t proof[(MT_MERKLE_MAX_PROOF + 1) * MT_SHA256_LEN] = {0};
    mt_errbuf eb = {{0}};

    assert_int_equal(mt_merkle_verify_inclusion(h, 0, 0, NULL, 0, h, &eb), MT_ERR_INVALID_ARG);
    assert_int_equal(mt_merkle_verify_inclusion(h, 7, 7, proof, 3, h, &eb), MT_ERR_INVALID_ARG);
    assert_non_null(strstr(eb.msg, "index 7"));
    assert_int_equal(
        mt_merkle_verify_inclusion(h, 0, MT_MERKLE_MAX_SIZE + 1, proof, 3, h, &eb),
        MT_ERR_INVALID_ARG);
    assert_int_equal(mt_merkle_verify_inclusion(h, 0, MT_MERKLE_MAX_SIZE, proof,
                                                MT_MERKLE_MAX_PROOF + 1, h, &eb),
                     MT_ERR_INVALID_ARG);
    /* The largest tree needs 63 hashes; 64 is accepted as input and found
     * too long rather than read past. */
    assert_int_equal(mt_merkle_verify_inclusion(h, MT_MERKLE_MAX_SIZE - 1, MT_MERKLE_MAX_SIZE,
                                                proof, MT_MERKLE_MAX_PROOF, h, &eb),
                     MT_ERR_BAD_SIGNATURE);
    assert_int_equal(mt_merkle_verify_inclusion(h, 0, MT_MERKLE_MAX_SIZE, proof, 62, h, &eb),
                     MT_ERR_BAD_SIGNATURE);
    assert_non_null(strstr(eb.msg, "too short"));

    uint8_t leaves[3 * MT_SHA256_LEN] = {0};
    size_t len;
    assert_int_equal(mt_merkle_inclusion_proof(leaves, 3, 3, proof, &len, &eb),
                     MT_ERR_INVALID_ARG);
}

static void merkle_streaming_builder_root_equals_array_root_for_0_to_100_leaves(void **state)
{
    (void)state;
    uint8_t *leaves = synthetic_leaves(100);
    uint8_t want[MT_SHA256_LEN], got[MT_SHA256_LEN];
    mt_merkle_builder b;

    mt_merkle_builder_init(&b);
    for (uint64_t n = 0; n <= 100; n++) {
        assert_int_equal(mt_merkle_root(leaves, n, want, NULL), MT_OK);
        assert_int_equal(mt_merkle_builder_root(&b, got, NULL), MT_OK);
        assert_memory_equal(got, want, MT_SHA256_LEN);
        assert_int_equal(b.size, n);
        if (n < 100)
            assert_int_equal(mt_merkle_builder_append(&b, leaves + n * MT_SHA256_LEN, NULL),
                             MT_OK);
    }
    free(leaves);
}

static void merkle_every_proof_verifies_in_every_tree_up_to_70_leaves(void **state)
{
    (void)state;
    uint8_t *leaves = synthetic_leaves(70);
    uint8_t root[MT_SHA256_LEN];
    uint8_t proof[MT_MERKLE_MAX_PROOF * MT_SHA256_LEN];
    size_t len;

    for (uint64_t n = 1; n <= 70; n++) {
        assert_int_equal(mt_merkle_root(leaves, n, root, NULL), MT_OK);
        for (uint64_t m = 0; m < n; m++) {
            assert_int_equal(mt_merkle_inclusion_proof(leaves, n, m, proof, &len, NULL), MT_OK);
            assert_int_equal(mt_merkle_verify_inclusion(leaves + m * MT_SHA256_LEN, m, n, proof,
                                                        len, root, NULL),
                             MT_OK);
        }
    }
    free(leaves);
}

static void merkle_builder_reaches_2_63_leaves_and_refuses_more(void **state)
{
    (void)state;
    uint8_t leaf[MT_SHA256_LEN] = {0}, root[MT_SHA256_LEN];
    mt_merkle_builder b;
    mt_errbuf eb = {{0}};

    /* A checkpoint one short of the limit: every level 0..62 is full, so
     * the next append carries all the way to level 63. */
    mt_merkle_builder_init(&b);
    b.size = MT_MERKLE_MAX_SIZE - 1;
    assert_int_equal(mt_merkle_builder_append(&b, leaf, &eb), MT_OK);
    assert_int_equal(b.size, MT_MERKLE_MAX_SIZE);
    assert_int_equal(mt_merkle_builder_root(&b, root, &eb), MT_OK);
    assert_memory_equal(root, b.peaks[63], MT_SHA256_LEN);
    assert_int_equal(mt_merkle_builder_append(&b, leaf, &eb), MT_ERR_TOO_LARGE);
    assert_non_null(strstr(eb.msg, "maximum"));
    assert_int_equal(b.size, MT_MERKLE_MAX_SIZE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sha256_matches_fips_180_vectors),
        cmocka_unit_test(sha256_incremental_hashes_a_million_a_in_uneven_chunks),
        cmocka_unit_test(sha256_file_equals_one_shot_and_missing_file_is_not_found),
        cmocka_unit_test(hex_round_trips_and_encode_needs_room_for_nul),
        cmocka_unit_test(hex_decode_rejects_odd_length_bad_digits_and_small_buffer),
        cmocka_unit_test(hmac_sha256_matches_rfc4231_vectors),
        cmocka_unit_test(hmac_sha256_accepts_empty_key_and_message),
        cmocka_unit_test(sha256_hasher_matches_one_shot_and_is_reusable),
        cmocka_unit_test(ct_equal_reports_any_differing_byte),
        cmocka_unit_test(ed25519_rfc8032_vectors_1_and_2_sign_exactly),
        cmocka_unit_test(ed25519_key_id_is_hex_of_first_8_bytes_of_sha256_of_public_key),
        cmocka_unit_test(ed25519_pem_files_round_trip_and_private_file_is_0600),
        cmocka_unit_test(ed25519_tampered_message_wrong_key_and_bad_length_fail),
        cmocka_unit_test(ed25519_public_only_key_cannot_sign_or_be_written_as_private),
        cmocka_unit_test(ed25519_loading_ec_p256_key_fails_with_message_naming_the_file),
        cmocka_unit_test(ed25519_loading_missing_garbage_or_mismatched_pem_fails),
        cmocka_unit_test(ed25519_encrypted_private_key_is_refused_without_prompting),
        cmocka_unit_test(merkle_empty_tree_root_is_sha256_of_empty_string),
        cmocka_unit_test(merkle_one_leaf_tree_root_is_the_0x00_prefixed_leaf_hash),
        cmocka_unit_test(merkle_ct_reference_roots_match_for_sizes_0_to_8),
        cmocka_unit_test(merkle_ct_reference_inclusion_proofs_match_published_paths),
        cmocka_unit_test(merkle_every_leaf_of_the_7_and_8_leaf_ct_trees_has_a_verifying_proof),
        cmocka_unit_test(merkle_proof_fails_for_wrong_index_root_leaf_size_and_altered_proof),
        cmocka_unit_test(merkle_verify_rejects_out_of_range_index_size_and_proof_length),
        cmocka_unit_test(merkle_streaming_builder_root_equals_array_root_for_0_to_100_leaves),
        cmocka_unit_test(merkle_every_proof_verifies_in_every_tree_up_to_70_leaves),
        cmocka_unit_test(merkle_builder_reaches_2_63_leaves_and_refuses_more),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
