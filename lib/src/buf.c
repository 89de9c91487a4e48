/* Growable byte buffer: doubling growth with an overflow-checked hard cap. */
#include "mcptrail/buf.h"

#include <stdlib.h>
#include <string.h>

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
