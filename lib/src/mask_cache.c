/* On-disk cache of the masking engine's compiled Vectorscan database (see
 * mt_mask_engine_new_opts in mask.h).
 *
 * File cache_dir/mask-<64 hex of the key>.hsdb:
 *   "MTHSDB1\0" | HMAC-SHA256(cache_key, key | min_width | db) (32) |
 *   min_width (8, little-endian) | hs_serialize_database bytes
 * The key hashes everything the database depends on (patterns, flags, ids,
 * Vectorscan version, CPU platform), so a stale file is never picked; the MAC
 * means only a holder of cache_key could have written it. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mask_internal.h"

#define CACHE_MAGIC "MTHSDB1"
#define CACHE_HDR (8 + MT_SHA256_LEN + 8)
#define CACHE_MAX ((size_t)64 << 20)

void mask_cache_key(const char *const *exprs, const unsigned *flags, const unsigned *ids,
                    size_t n, uint8_t key_out[MT_SHA256_LEN])
{
    mt_sha256_ctx c = MT_SHA256_CTX_INIT;
    hs_platform_info_t plat;
    memset(&plat, 0, sizeof plat);
    (void)hs_populate_platform(&plat);
    const char *ver = hs_version();
    mt_err err = mt_sha256_init(&c, NULL);
    err = err ? err : mt_sha256_update(&c, "mcptrail-mask-hsdb-v1", 22, NULL);
    err = err ? err : mt_sha256_update(&c, ver, strlen(ver) + 1, NULL);
    err = err ? err : mt_sha256_update(&c, &plat, sizeof plat, NULL);
    for (size_t i = 0; i < n && !err; i++) {
        uint32_t fi[2] = {flags[i], ids[i]};
        err = mt_sha256_update(&c, exprs[i], strlen(exprs[i]) + 1, NULL);
        err = err ? err : mt_sha256_update(&c, fi, sizeof fi, NULL);
    }
    if (err || mt_sha256_final(&c, key_out, NULL) != MT_OK)
        memset(key_out, 0, MT_SHA256_LEN); /* all-zero key: never matches a file's MAC input */
    mt_sha256_free(&c);
}

static bool usable(const mt_mask_engine_opts *o)
{
    return o && o->cache_dir && o->cache_dir[0] && o->cache_key && o->cache_key_len > 0;
}

static void cache_path(const mt_mask_engine_opts *o, const uint8_t key[MT_SHA256_LEN], char *out,
                       size_t cap)
{
    char hex[2 * MT_SHA256_LEN + 1];
    mt_hex_encode(key, MT_SHA256_LEN, hex, sizeof hex);
    snprintf(out, cap, "%s/mask-%s.hsdb", o->cache_dir, hex);
}

static void le64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* HMAC over key | min_width | serialized database. */
static bool cache_mac(const mt_mask_engine_opts *o, const uint8_t key[MT_SHA256_LEN],
                      const uint8_t mw[8], const void *ser, size_t len, uint8_t mac[MT_SHA256_LEN])
{
    uint8_t *buf = malloc(MT_SHA256_LEN + 8 + len);
    if (!buf)
        return false;
    memcpy(buf, key, MT_SHA256_LEN);
    memcpy(buf + MT_SHA256_LEN, mw, 8);
    memcpy(buf + MT_SHA256_LEN + 8, ser, len);
    bool ok = mt_hmac_sha256(o->cache_key, o->cache_key_len, buf, MT_SHA256_LEN + 8 + len, mac,
                             NULL) == MT_OK;
    free(buf);
    return ok;
}

bool mask_cache_load(const mt_mask_engine_opts *o, const uint8_t key[MT_SHA256_LEN],
                     hs_database_t **db, size_t *min_width)
{
    if (!usable(o))
        return false;
    char path[4200];
    cache_path(o, key, path, sizeof path);
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return false;
    bool hit = false;
    uint8_t *buf = NULL;
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size <= CACHE_HDR ||
        (size_t)st.st_size > CACHE_MAX)
        goto out;
    size_t len = (size_t)st.st_size;
    if (!(buf = malloc(len)))
        goto out;
    size_t got = 0;
    while (got < len) {
        ssize_t r = read(fd, buf + got, len - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            goto out;
        got += (size_t)r;
    }
    uint8_t mac[MT_SHA256_LEN];
    if (memcmp(buf, CACHE_MAGIC, 8) != 0 ||
        !cache_mac(o, key, buf + 8 + MT_SHA256_LEN, buf + CACHE_HDR, len - CACHE_HDR, mac) ||
        !mt_ct_equal(mac, buf + 8, MT_SHA256_LEN))
        goto out;
    uint64_t mw = 0;
    for (int i = 7; i >= 0; i--)
        mw = (mw << 8) | buf[8 + MT_SHA256_LEN + i];
    hs_database_t *d = NULL;
    if (hs_deserialize_database((const char *)buf + CACHE_HDR, len - CACHE_HDR, &d) !=
        HS_SUCCESS)
        goto out;
    *db = d;
    *min_width = (size_t)mw;
    hit = true;
out:
    free(buf);
    close(fd);
    return hit;
}

void mask_cache_store(const mt_mask_engine_opts *o, const uint8_t key[MT_SHA256_LEN],
                      const hs_database_t *db, size_t min_width)
{
    if (!usable(o) || !db)
        return;
    char *ser = NULL;
    size_t len = 0;
    if (hs_serialize_database(db, &ser, &len) != HS_SUCCESS)
        return;
    uint8_t hdr[CACHE_HDR];
    memcpy(hdr, CACHE_MAGIC, 8);
    le64(hdr + 8 + MT_SHA256_LEN, (uint64_t)min_width);
    char path[4200], tmp[4300];
    if (len + CACHE_HDR > CACHE_MAX ||
        !cache_mac(o, key, hdr + 8 + MT_SHA256_LEN, ser, len, hdr + 8))
        goto out;
    (void)mkdir(o->cache_dir, 0700);
    cache_path(o, key, path, sizeof path);
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        goto out;
    bool ok = write(fd, hdr, sizeof hdr) == (ssize_t)sizeof hdr &&
              write(fd, ser, len) == (ssize_t)len;
    ok = close(fd) == 0 && ok;
    if (!ok || rename(tmp, path) != 0)
        unlink(tmp);
out:
    free(ser);
}
