/* Log lines through the masking engine (mt_mask_log_install, mask.h). */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "mcptrail/log.h"
#include "mcptrail/mask.h"

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static mt_mask_ctx *log_ctx;

static char *mask_for_log(void *ud, const char *s, size_t len)
{
    (void)ud;
    char *out = NULL;
    if (len == 0)
        return NULL;
    pthread_mutex_lock(&mu);
    if (log_ctx) {
        mt_buf b = MT_BUF_INIT;
        if (mt_mask_text(log_ctx, s, len, &b, NULL, NULL) == MT_OK &&
            (b.len != len || memcmp(b.data, s, len) != 0) && mt_buf_append_byte(&b, 0) == MT_OK)
            out = (char *)b.data; /* NUL-terminated copy, handed over */
        else
            mt_buf_free(&b);
    }
    pthread_mutex_unlock(&mu);
    return out;
}

mt_err mt_mask_log_install(const mt_mask_engine *e, mt_errbuf *eb)
{
    mt_mask_ctx *ctx = NULL;
    mt_err err = mt_mask_ctx_new(e, &ctx, eb);
    if (err != MT_OK)
        return err;
    pthread_mutex_lock(&mu);
    mt_mask_ctx *old = log_ctx;
    log_ctx = ctx;
    pthread_mutex_unlock(&mu);
    mt_mask_ctx_free(old);
    mt_log_set_masker(mask_for_log, NULL);
    return MT_OK;
}

void mt_mask_log_uninstall(void)
{
    mt_log_set_masker(NULL, NULL);
    pthread_mutex_lock(&mu);
    mt_mask_ctx *old = log_ctx;
    log_ctx = NULL;
    pthread_mutex_unlock(&mu);
    mt_mask_ctx_free(old);
}
