/* Growable byte buffer used by encoders (Avro, JSON, canonical forms).
 * Invariant: data[0..len) is valid, len <= cap; data is NULL when cap is 0.
 * Growth is bounded by MT_BUF_MAX so a runaway encoder fails cleanly. */
#ifndef MCPTRAIL_BUF_H
#define MCPTRAIL_BUF_H

#include <stddef.h>
#include <stdint.h>

#include "mcptrail/err.h"

#define MT_BUF_MAX ((size_t)1 << 30) /* 1 GiB: no single record may exceed it */

typedef struct mt_buf {
    uint8_t *data;
    size_t len;
    size_t cap;
} mt_buf;

#define MT_BUF_INIT {NULL, 0, 0}

/* Ensures room for `extra` more bytes. MT_ERR_TOO_LARGE past MT_BUF_MAX. */
mt_err mt_buf_reserve(mt_buf *b, size_t extra);
mt_err mt_buf_append(mt_buf *b, const void *src, size_t n);
mt_err mt_buf_append_byte(mt_buf *b, uint8_t byte);
/* Forgets the contents, keeps the allocation. */
void mt_buf_reset(mt_buf *b);
void mt_buf_free(mt_buf *b);

/* Typed arrays: ensures *v (of *cap elements of elem bytes) holds at least
 * need elements, doubling from `first`; *v and *cap change only on success.
 * MT_ERR_NOMEM on allocation failure or a size that would overflow. */
mt_err mt_array_reserve(void **v, size_t *cap, size_t need, size_t elem, size_t first);

/* Reads a whole file into out (replacing its contents), at most max_size bytes:
 * MT_ERR_NOT_FOUND, MT_ERR_IO, MT_ERR_TOO_LARGE (eb names the path). */
mt_err mt_read_file(const char *path, size_t max_size, mt_buf *out, mt_errbuf *eb);

#endif
