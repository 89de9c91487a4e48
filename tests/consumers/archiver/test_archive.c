/* Unit tests of the archiver's files without Kafka: segments
 * (lib/src/archive_segment.c) round trip and reject damage, manifests
 * (manifest.c) sign, parse and refuse edits, crash recovery of a partition
 * directory (archiver.c) and verify's report on a small archive (verify.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <zlib.h>

#include "archiver.h"
#include "mcptrail/archive.h"

static char tmpdir[] = "/tmp/mt-archiver-unit.XXXXXX";

static void rm_rf(const char *path)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "chmod -R u+w '%s' 2>/dev/null; rm -rf '%s'", path, path);
    assert_int_equal(system(cmd), 0);
}

typedef struct collected {
    uint64_t n;
    int64_t offsets_sum;
    size_t bytes;
} collected;

static int collect(const mt_segment_record *r, void *ctx)
{
    collected *c = ctx;
    assert_int_equal(r->value_len, 20 + (size_t)(r->offset % 50));
    for (size_t i = 0; i < r->value_len; i++)
        assert_int_equal(r->value[i], (uint8_t)(r->offset + (int64_t)i));
    assert_true(r->offset % 3 == 0 ? r->key == NULL : r->key_len == 4);
    c->n++;
    c->offsets_sum += r->offset;
    c->bytes += r->value_len;
    return 0;
}

static mt_segment_pool *test_pool; /* set: write_segment compresses on the pool */

/* Records with offsets start..start+n-1 (value bytes derived from the offset). */
static void write_segment_from(const char *path, int level, uint64_t start, uint64_t n,
                               uint8_t sha[32], uint64_t *size)
{
    uint8_t sync[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
    mt_segment_writer *w = NULL;
    mt_errbuf eb = {{0}};
    assert_int_equal(mt_segment_writer_open(path, sync, level, 4096, test_pool, &w, &eb), MT_OK);
    uint8_t val[100];
    for (uint64_t o = start; o < start + n; o++) {
        size_t len = 20 + (size_t)(o % 50);
        for (size_t i = 0; i < len; i++)
            val[i] = (uint8_t)(o + i);
        mt_segment_record r = {.offset = (int64_t)o, .timestamp_ms = 1700000000000 + (int64_t)o,
                               .key = o % 3 == 0 ? NULL : (const uint8_t *)"key!",
                               .key_len = o % 3 == 0 ? 0 : 4, .value = val, .value_len = len};
        assert_int_equal(mt_segment_writer_append(w, &r, &eb), MT_OK);
    }
    assert_int_equal(mt_segment_writer_finish(w, sha, size, &eb), MT_OK);
}

static void write_segment(const char *path, int level, uint64_t n, uint8_t sha[32], uint64_t *size)
{
    write_segment_from(path, level, 0, n, sha, size);
}

static void segments_round_trip_with_and_without_deflate(void **state)
{
    (void)state;
    for (int level = -1; level <= 9; level += 5) {
        char path[256];
        snprintf(path, sizeof path, "%s/rt%d.avro", tmpdir, level);
        uint8_t sha[32], sha2[32];
        uint64_t size;
        write_segment(path, level, 2000, sha, &size);
        mt_buf b = MT_BUF_INIT;
        mt_errbuf eb = {{0}};
        assert_int_equal(mt_read_file(path, 1 << 24, &b, &eb), MT_OK);
        assert_int_equal(b.len, size);
        mt_sha256(b.data, b.len, sha2);
        assert_memory_equal(sha, sha2, 32); /* hashed while writing == the file */
        collected c = {0};
        assert_int_equal(mt_segment_read(b.data, b.len, collect, &c, &eb), MT_OK);
        assert_int_equal(c.n, 2000);
        assert_int_equal(c.offsets_sum, 1999 * 2000 / 2);
        mt_buf_free(&b);
    }
}

static void the_compression_thread_writes_the_same_file(void **state)
{
    (void)state;
    mt_errbuf eb = {{0}};
    char a[256], b[256];
    uint8_t sha_a[32], sha_b[32];
    uint64_t size_a, size_b;
    snprintf(a, sizeof a, "%s/inline.avro", tmpdir);
    snprintf(b, sizeof b, "%s/pooled.avro", tmpdir);
    write_segment(a, 6, 5000, sha_a, &size_a);
    assert_int_equal(mt_segment_pool_new(&test_pool, &eb), MT_OK);
    write_segment(b, 6, 5000, sha_b, &size_b);
    assert_int_equal(size_a, size_b);
    assert_memory_equal(sha_a, sha_b, 32); /* same bytes, same order */
    /* Two writers interleaved on one pool keep their own block order. */
    uint8_t sync[16] = {0};
    mt_segment_writer *w[2] = {NULL, NULL};
    char path[2][256];
    for (int k = 0; k < 2; k++) {
        snprintf(path[k], sizeof path[k], "%s/interleaved%d.avro", tmpdir, k);
        assert_int_equal(mt_segment_writer_open(path[k], sync, 1, 1024, test_pool, &w[k], &eb),
                         MT_OK);
    }
    uint8_t val[100];
    for (uint64_t o = 0; o < 3000; o++) {
        size_t len = 20 + (size_t)(o % 50);
        for (size_t i = 0; i < len; i++)
            val[i] = (uint8_t)(o + i);
        mt_segment_record r = {.offset = (int64_t)o, .key = o % 3 ? (const uint8_t *)"key!" : NULL,
                               .key_len = o % 3 ? 4 : 0, .value = val, .value_len = len};
        assert_int_equal(mt_segment_writer_append(w[o % 2], &r, &eb), MT_OK);
    }
    for (int k = 0; k < 2; k++) {
        assert_int_equal(mt_segment_writer_finish(w[k], sha_a, &size_a, &eb), MT_OK);
        mt_buf buf = MT_BUF_INIT;
        assert_int_equal(mt_read_file(path[k], 1 << 24, &buf, &eb), MT_OK);
        mt_sha256(buf.data, buf.len, sha_b);
        assert_memory_equal(sha_a, sha_b, 32);
        collected c = {0};
        assert_int_equal(mt_segment_read(buf.data, buf.len, collect, &c, &eb), MT_OK);
        assert_int_equal(c.n, 1500);
        mt_buf_free(&buf);
    }
    mt_segment_pool_free(test_pool);
    test_pool = NULL;
}

static void damaged_segments_are_refused_cleanly(void **state)
{
    (void)state;
    char path[256];
    snprintf(path, sizeof path, "%s/dmg.avro", tmpdir);
    uint8_t sha[32];
    uint64_t size;
    write_segment(path, 6, 500, sha, &size);
    mt_buf b = MT_BUF_INIT;
    assert_int_equal(mt_read_file(path, 1 << 24, &b, NULL), MT_OK);
    /* A truncation fails, or (cut exactly after a block: OCF has no end
     * marker) reads fewer records, which the signed count and SHA-256 catch. */
    for (size_t len = 0; len < b.len; len += 7) {
        collected c = {0};
        if (mt_segment_read(b.data, len, collect, &c, NULL) == MT_OK)
            assert_true(c.n < 500);
    }
    mt_errbuf eb = {{0}};
    b.data[0] = 'X';
    assert_int_equal(mt_segment_read(b.data, b.len, NULL, NULL, &eb), MT_ERR_BAD_MAGIC);
    b.data[0] = 'O';
    b.data[b.len - 1] ^= 0xff; /* last sync marker */
    assert_int_equal(mt_segment_read(b.data, b.len, NULL, NULL, &eb), MT_ERR_SCHEMA);
    assert_non_null(strstr(eb.msg, "sync marker"));
    mt_buf_free(&b);
}

/* ---- deflate blocks built by hand: what the writer never produces ---------- */

static void zz_put(mt_buf *b, int64_t v)
{
    uint64_t u = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
    do {
        uint8_t c = (uint8_t)(u & 0x7f);
        u >>= 7;
        assert_int_equal(mt_buf_append_byte(b, (uint8_t)(c | (u ? 0x80 : 0))), MT_OK);
    } while (u);
}

/* Raw deflate (the Avro codec) of `zeros` zero bytes after `prefix`. */
static void deflate_zeros(const mt_buf *prefix, size_t zeros, mt_buf *out)
{
    static uint8_t zbuf[1 << 20];
    z_stream zs = {0};
    assert_int_equal(deflateInit2(&zs, 9, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY), Z_OK);
    uint8_t chunk[65536];
    zs.next_in = prefix->data;
    zs.avail_in = (uInt)prefix->len;
    int flush = Z_NO_FLUSH;
    for (;;) {
        if (zs.avail_in == 0 && flush == Z_NO_FLUSH) {
            size_t n = zeros < sizeof zbuf ? zeros : sizeof zbuf;
            zeros -= n;
            zs.next_in = zbuf;
            zs.avail_in = (uInt)n;
            if (zeros == 0)
                flush = Z_FINISH;
        }
        zs.next_out = chunk;
        zs.avail_out = sizeof chunk;
        int zr = deflate(&zs, flush);
        assert_int_equal(mt_buf_append(out, chunk, sizeof chunk - zs.avail_out), MT_OK);
        if (zr == Z_STREAM_END)
            break;
        assert_true(zr == Z_OK || zr == Z_BUF_ERROR);
    }
    deflateEnd(&zs);
}

/* A segment of the writer's header and one block: count, the given
 * compressed bytes (their length as the block size), the sync marker. */
static void one_block_segment(const mt_buf *header, const uint8_t *z, size_t zn, mt_buf *seg)
{
    mt_buf_reset(seg);
    assert_int_equal(mt_buf_append(seg, header->data, header->len), MT_OK);
    zz_put(seg, 1);
    zz_put(seg, (int64_t)zn);
    assert_int_equal(mt_buf_append(seg, z, zn), MT_OK);
    assert_int_equal(mt_buf_append(seg, header->data + header->len - 16, 16), MT_OK);
}

static int count_records(const mt_segment_record *r, void *ctx)
{
    size_t *n = ctx;
    for (size_t i = 0; i < r->value_len; i++)
        if (r->value[i])
            return 1;
    (*n)++;
    return 0;
}

static void deflate_blocks_inflate_in_bounded_memory(void **state)
{
    (void)state;
    char path[256];
    snprintf(path, sizeof path, "%s/header.avro", tmpdir);
    uint8_t sha[32];
    uint64_t size;
    write_segment(path, 1, 0, sha, &size); /* header only: magic, metadata, sync */
    mt_buf header = MT_BUF_INIT, z = MT_BUF_INIT, seg = MT_BUF_INIT, rec = MT_BUF_INIT;
    assert_int_equal(mt_read_file(path, 1 << 20, &header, NULL), MT_OK);
    mt_errbuf eb = {{0}};

    /* 1 MiB of zeros deflates ~1000:1, far past the reader's first guess
     * (4x the block): it must grow and still read the record. */
    const size_t vlen = (size_t)1 << 20;
    zz_put(&rec, 7);  /* offset */
    zz_put(&rec, 1);  /* timestamp_ms */
    zz_put(&rec, 0);  /* key: null branch */
    zz_put(&rec, (int64_t)vlen);
    deflate_zeros(&rec, vlen, &z);
    assert_true(z.len * 100 < vlen);
    one_block_segment(&header, z.data, z.len, &seg);
    size_t n = 0;
    assert_int_equal(mt_segment_read(seg.data, seg.len, count_records, &n, &eb), MT_OK);
    assert_int_equal(n, 1);

    /* the same block cut short, and with an invalid block type */
    one_block_segment(&header, z.data, z.len / 2, &seg);
    assert_int_equal(mt_segment_read(seg.data, seg.len, NULL, NULL, &eb), MT_ERR_SCHEMA);
    assert_non_null(strstr(eb.msg, "corrupt or truncated"));
    z.data[0] = 0xff; /* BTYPE 11: reserved */
    one_block_segment(&header, z.data, z.len, &seg);
    assert_int_equal(mt_segment_read(seg.data, seg.len, NULL, NULL, &eb), MT_ERR_SCHEMA);

    /* a deflate bomb: ~70 KB inflating past MT_SEGMENT_MAX_BLOCK is refused
     * once the bound is reached, not inflated to its end */
    mt_buf_reset(&z);
    deflate_zeros(&rec, MT_SEGMENT_MAX_BLOCK + 4096, &z);
    one_block_segment(&header, z.data, z.len, &seg);
    assert_int_equal(mt_segment_read(seg.data, seg.len, NULL, NULL, &eb), MT_ERR_TOO_LARGE);
    assert_non_null(strstr(eb.msg, "inflates beyond"));
    mt_buf_free(&header);
    mt_buf_free(&z);
    mt_buf_free(&seg);
    mt_buf_free(&rec);
}

static void fast_merkle_matches_the_library(void **state)
{
    (void)state;
    mt_leaf_hasher lh;
    mt_errbuf eb = {{0}};
    assert_int_equal(mt_leaf_hasher_init(&lh, &eb), MT_OK);
    uint8_t leaves[130 * 32];
    mt_merkle_builder b;
    mt_merkle_builder_init(&b);
    for (uint64_t n = 1; n <= 130; n++) {
        char data[32];
        int len = snprintf(data, sizeof data, "record %llu", (unsigned long long)n);
        uint8_t fast[32], want[32];
        assert_int_equal(mt_leaf_hash(&lh, data, (size_t)len, fast), MT_OK);
        assert_int_equal(mt_merkle_leaf_hash(data, (size_t)len, leaves + (n - 1) * 32), MT_OK);
        assert_memory_equal(fast, leaves + (n - 1) * 32, 32);
        assert_int_equal(mt_leaf_append(&lh, &b, fast), MT_OK);
        assert_int_equal(mt_merkle_builder_root(&b, fast, &eb), MT_OK);
        assert_int_equal(mt_merkle_root(leaves, n, want, &eb), MT_OK);
        assert_memory_equal(fast, want, 32);
    }
    mt_leaf_hasher_free(&lh);
}

static mt_manifest sample_manifest(void)
{
    mt_manifest m = {.kind = MT_MANIFEST_SEGMENT, .partition = 2, .seq = 7, .first_offset = 100,
                     .last_offset = 199, .next_offset = 200, .records = 100,
                     .segment_bytes = 12345, .created_ms = 1700000000000,
                     .ts_first_ms = 1700000000001, .ts_last_ms = 1700000000002,
                     .heartbeat_ms = 60000};
    snprintf(m.topic, sizeof m.topic, "mcptrail.events");
    snprintf(m.segment, sizeof m.segment, "000000000007.avro");
    memset(m.sha256, 0xab, 32);
    memset(m.merkle_root, 0xcd, 32);
    memset(m.prev_sha256, 0xef, 32);
    return m;
}

static void manifests_are_canonical_signed_and_refuse_edits(void **state)
{
    (void)state;
    mt_ed25519_key *k = NULL, *other = NULL;
    mt_errbuf eb = {{0}};
    assert_int_equal(mt_ed25519_generate(&k, &eb), MT_OK);
    assert_int_equal(mt_ed25519_generate(&other, &eb), MT_OK);
    mt_manifest m = sample_manifest(), p;
    mt_buf b = MT_BUF_INIT;
    assert_int_equal(mt_manifest_sign_encode(&m, k, &b, &eb), MT_OK);
    assert_memory_equal(b.data, "{\"created_ms\":1700000000000,", 28); /* sorted keys */
    assert_null(memchr(b.data, ' ', b.len));
    bool canonical = false;
    assert_int_equal(mt_manifest_parse(b.data, b.len, &p, &canonical, &eb), MT_OK);
    assert_true(canonical);
    assert_int_equal(p.records, 100);
    assert_int_equal(p.next_offset, 200);
    assert_string_equal(p.topic, "mcptrail.events");
    assert_int_equal(mt_manifest_verify_sig(&p, k, &eb), MT_OK);
    assert_int_equal(mt_manifest_verify_sig(&p, other, &eb), MT_ERR_BAD_SIGNATURE);
    p.records = 99;
    assert_int_equal(mt_manifest_verify_sig(&p, k, &eb), MT_ERR_BAD_SIGNATURE);
    /* Unknown fields, missing fields and path-like segment names are refused. */
    const char *bad[] = {
        "{\"v\":1}",
        "[1,2]",
        "{\"v\":1,\"extra\":true}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_not_equal(mt_manifest_parse((const uint8_t *)bad[i], strlen(bad[i]), &p,
                                               NULL, &eb), MT_OK);
    char *t = malloc(b.len + 1);
    memcpy(t, b.data, b.len);
    t[b.len] = 0;
    char *s = strstr(t, "000000000007.avro");
    assert_non_null(s);
    memcpy(s, "../../../etc/pass", 17);
    assert_int_equal(mt_manifest_parse((const uint8_t *)t, b.len, &p, NULL, &eb), MT_ERR_PARSE);
    free(t);
    mt_buf_free(&b);
    mt_ed25519_free(k);
    mt_ed25519_free(other);
}

static void recovery_discards_tmp_and_gives_a_renamed_segment_its_manifest(void **state)
{
    (void)state;
    char dir[256], path[300], tmp[300];
    snprintf(dir, sizeof dir, "%s/arch/mcptrail.events/0", tmpdir);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s'", dir);
    assert_int_equal(system(cmd), 0);
    mt_ed25519_key *k = NULL;
    mt_errbuf eb = {{0}};
    assert_int_equal(mt_ed25519_generate(&k, &eb), MT_OK);
    /* Crash 1: a segment renamed to its final name, no manifest yet. */
    snprintf(path, sizeof path, "%s/000000000000.avro", dir);
    uint8_t sha[32];
    uint64_t size;
    write_segment(path, 6, 300, sha, &size);
    /* Crash 2: an open segment still under its .tmp name. */
    snprintf(tmp, sizeof tmp, "%s/open-00000000000000000300.avro.tmp", dir);
    FILE *f = fopen(tmp, "w");
    assert_non_null(f);
    fputs("partial", f);
    fclose(f);
    assert_int_equal(mt_archiver_recover_dir(dir, "mcptrail.events", 0, k, 1000, &eb), MT_OK);
    assert_int_not_equal(access(tmp, F_OK), 0);
    snprintf(path, sizeof path, "%s/000000000000.manifest.json", dir);
    mt_buf b = MT_BUF_INIT;
    mt_manifest m;
    assert_int_equal(mt_read_file(path, 1 << 16, &b, &eb), MT_OK);
    assert_int_equal(mt_manifest_parse(b.data, b.len, &m, NULL, &eb), MT_OK);
    assert_int_equal(m.records, 300);
    assert_int_equal(m.first_offset, 0);
    assert_int_equal(m.next_offset, 300);
    assert_memory_equal(m.sha256, sha, 32);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0444);
    /* Recovering again changes nothing. */
    assert_int_equal(mt_archiver_recover_dir(dir, "mcptrail.events", 0, k, 1000, &eb), MT_OK);
    snprintf(path, sizeof path, "%s/000000000001.manifest.json", dir);
    assert_int_not_equal(access(path, F_OK), 0);

    /* verify: valid with the key; a deleted manifest is reported. */
    mt_buf pem = MT_BUF_INIT;
    mt_ed25519_key *pub = NULL;
    uint8_t raw[32];
    assert_int_equal(mt_ed25519_public_raw(k, raw, &eb), MT_OK);
    assert_int_equal(mt_ed25519_from_public_raw(raw, &pub, &eb), MT_OK);
    char adir[256];
    snprintf(adir, sizeof adir, "%s/arch", tmpdir);
    const mt_ed25519_key *keys[2] = {pub, NULL};
    mt_verify_opts o = {.dir = adir, .pubs = keys, .npubs = 1, .from_ms = INT64_MIN,
                        .to_ms = INT64_MAX};
    uint64_t problems = 99;
    FILE *out = tmpfile();
    assert_int_equal(mt_archive_verify(&o, out, &problems, &eb), MT_OK);
    assert_int_equal(problems, 0);

    /* key rotation: the next segment's manifest is signed by a new key and
     * chained to the old one; verify needs both keys, either alone fails */
    mt_ed25519_key *k2 = NULL, *pub2 = NULL;
    assert_int_equal(mt_ed25519_generate(&k2, &eb), MT_OK);
    assert_int_equal(mt_ed25519_public_raw(k2, raw, &eb), MT_OK);
    assert_int_equal(mt_ed25519_from_public_raw(raw, &pub2, &eb), MT_OK);
    chmod(dir, 0755);
    snprintf(path, sizeof path, "%s/000000000001.avro", dir);
    write_segment_from(path, 6, 300, 200, sha, &size);
    assert_int_equal(mt_archiver_recover_dir(dir, "mcptrail.events", 0, k2, 1000, &eb), MT_OK);
    assert_int_equal(mt_archive_verify(&o, out, &problems, &eb), MT_OK);
    assert_int_equal(problems, 1); /* seq 1 signed by a key not given */
    keys[0] = pub2;
    assert_int_equal(mt_archive_verify(&o, out, &problems, &eb), MT_OK);
    assert_int_equal(problems, 1); /* seq 0 now */
    keys[1] = pub;
    o.npubs = 2;
    assert_int_equal(mt_archive_verify(&o, out, &problems, &eb), MT_OK);
    assert_int_equal(problems, 0);
    o.npubs = 0;
    assert_int_equal(mt_archive_verify(&o, out, &problems, &eb), MT_ERR_INVALID_ARG);
    o.npubs = 2;
    mt_ed25519_free(pub2);
    mt_ed25519_free(k2);
    snprintf(path, sizeof path, "%s/000000000000.manifest.json", dir);
    chmod(dir, 0755);
    keys[0] = pub;
    o.npubs = 1;
    assert_int_equal(unlink(path), 0);
    assert_int_equal(mt_archive_verify(&o, out, &problems, &eb), MT_OK);
    assert_true(problems > 0); /* the segment is now an orphan */
    fclose(out);
    mt_buf_free(&b);
    mt_buf_free(&pem);
    mt_ed25519_free(pub);
    mt_ed25519_free(k);
}

static int setup(void **state)
{
    (void)state;
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    rm_rf(tmpdir);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(segments_round_trip_with_and_without_deflate),
        cmocka_unit_test(damaged_segments_are_refused_cleanly),
        cmocka_unit_test(deflate_blocks_inflate_in_bounded_memory),
        cmocka_unit_test(fast_merkle_matches_the_library),
        cmocka_unit_test(the_compression_thread_writes_the_same_file),
        cmocka_unit_test(manifests_are_canonical_signed_and_refuse_edits),
        cmocka_unit_test(recovery_discards_tmp_and_gives_a_renamed_segment_its_manifest),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
