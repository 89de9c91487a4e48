/* Growable byte buffer: doubling growth with an overflow-checked hard cap. */
#include "mcptrail/buf.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

mt_err mt_buf_reserve(mt_buf *b, size_t extra)
{
    if (extra > MT_BUF_MAX || b->len > MT_BUF_MAX - extra)
        return MT_ERR_TOO_LARGE;
    size_t need = b->len + extra;
    if (need <= b->cap)
        return MT_OK;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap = cap > MT_BUF_MAX / 2 ? MT_BUF_MAX : cap * 2;
    uint8_t *p = realloc(b->data, cap);
    if (!p)
        return MT_ERR_NOMEM;
    b->data = p;
    b->cap = cap;
    return MT_OK;
}

mt_err mt_buf_append(mt_buf *b, const void *src, size_t n)
{
    if (n == 0)
        return MT_OK;
    mt_err err = mt_buf_reserve(b, n);
    if (err)
        return err;
    memcpy(b->data + b->len, src, n);
    b->len += n;
    return MT_OK;
}

mt_err mt_buf_append_byte(mt_buf *b, uint8_t byte)
{
    return mt_buf_append(b, &byte, 1);
}

void mt_buf_reset(mt_buf *b)
{
    b->len = 0;
}

void mt_buf_free(mt_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

mt_err mt_array_reserve(void **v, size_t *cap, size_t need, size_t elem, size_t first)
{
    if (need <= *cap)
        return MT_OK;
    size_t ncap = *cap ? *cap : (first ? first : 1);
    while (ncap < need) {
        if (ncap > SIZE_MAX / 2)
            return MT_ERR_NOMEM;
        ncap *= 2;
    }
    if (elem && ncap > SIZE_MAX / elem)
        return MT_ERR_NOMEM;
    void *p = realloc(*v, ncap * elem);
    if (!p)
        return MT_ERR_NOMEM;
    *v = p;
    *cap = ncap;
    return MT_OK;
}

mt_err mt_read_file(const char *path, size_t max_size, mt_buf *out, mt_errbuf *eb)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return mt_fail(eb, errno == ENOENT ? MT_ERR_NOT_FOUND : MT_ERR_IO, "%s: %s", path,
                       strerror(errno));
    struct stat st;
    mt_err err = MT_OK;
    if (fstat(fd, &st) != 0) {
        err = mt_fail(eb, MT_ERR_IO, "%s: fstat: %s", path, strerror(errno));
        goto out;
    }
    if ((uint64_t)st.st_size > max_size) {
        err = mt_fail(eb, MT_ERR_TOO_LARGE, "%s: %lld bytes, more than the limit %zu", path,
                      (long long)st.st_size, max_size);
        goto out;
    }
    mt_buf_reset(out);
    if ((err = mt_buf_reserve(out, (size_t)st.st_size + 1)) != MT_OK) {
        mt_fail(eb, err, "%s: out of memory", path);
        goto out;
    }
    for (;;) {
        if (out->len == out->cap && (err = mt_buf_reserve(out, 65536)) != MT_OK) {
            mt_fail(eb, err, "%s: out of memory", path);
            goto out;
        }
        ssize_t n = read(fd, out->data + out->len, out->cap - out->len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            err = mt_fail(eb, MT_ERR_IO, "%s: read: %s", path, strerror(errno));
            goto out;
        }
        if (n == 0)
            break;
        out->len += (size_t)n;
        if (out->len > max_size) {
            err = mt_fail(eb, MT_ERR_TOO_LARGE, "%s: grew beyond %zu bytes", path, max_size);
            goto out;
        }
    }
out:
    close(fd);
    return err;
}
