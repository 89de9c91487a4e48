/* Library-internal helper shared by the modules that call OpenSSL (crypto,
 * jwt): not part of the public API. */
#ifndef MCPTRAIL_OSSL_INTERNAL_H
#define MCPTRAIL_OSSL_INTERNAL_H

#include "mcptrail/err.h"

/* Formats the caller's message followed by OpenSSL's queued error(s), then
 * empties the queue; returns code. */
mt_err mt_ossl_fail(mt_errbuf *eb, mt_err code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
