/* Incremental text/event-stream parser (WHATWG HTML "server-sent events").
 *
 * Feed it any split of the stream; it calls back once per block that ends on
 * a blank line, with the event's fields and the exact raw bytes the block
 * occupied in the input, so the proxy can record the event and forward the
 * bytes unchanged. Blocks the spec does not dispatch (comments only, no data
 * field) are reported too, with dispatched = false, because their bytes
 * (keep-alives, id/retry updates) still have to be forwarded. Concatenating
 * every callback's raw bytes, then mt_sse_pending(), gives back the input.
 *
 * Line endings CR, LF and CRLF; a UTF-8 BOM at the start is skipped. A block
 * ends on the blank line's CR when the stream uses CRLF: the LF that follows
 * is the first raw byte of the next block. That choice keeps the result
 * identical for every split of the input without waiting for one more byte.
 * Field values are bytes as received (no UTF-8 replacement).
 *
 * Memory is bounded: one line never exceeds limits.max_line bytes and one
 * block never exceeds limits.max_event raw bytes, else MT_ERR_TOO_LARGE. */
#ifndef MCPTRAIL_SIDECAR_SSE_H
#define MCPTRAIL_SIDECAR_SSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mcptrail/buf.h"
#include "mcptrail/err.h"

typedef struct mt_sse_limits {
    size_t max_line;  /* bytes in one line, terminator excluded */
    size_t max_event; /* raw bytes in one block, terminators included */
} mt_sse_limits;

/* 64 KiB lines, 4 MiB events. */
#define MT_SSE_LIMITS_DEFAULT                                                                      \
    {                                                                                              \
        64u << 10, 4u << 20                                                                        \
    }

typedef struct mt_sse_event {
    bool dispatched;  /* false: the spec discards this block (no data) */
    const char *type; /* event field, "message" when absent; NUL-terminated */
    size_t type_len;
    const char *data; /* data lines joined with \n, no trailing \n; NUL-terminated */
    size_t data_len;
    const char *id; /* this block's id field (last one wins), NULL if none */
    size_t id_len;
    const char *last_event_id; /* the stream's last event ID after this block */
    size_t last_event_id_len;
    int64_t retry_ms;   /* this block's valid retry field, -1 if none */
    const uint8_t *raw; /* the block's bytes as they appeared in the input */
    size_t raw_len;
} mt_sse_event;

/* Called per block; pointers are valid only during the call. A non-OK return
 * stops mt_sse_feed, which returns it; the parser is then unusable. */
typedef mt_err (*mt_sse_cb)(void *ctx, const mt_sse_event *ev, mt_errbuf *eb);

typedef struct mt_sse_parser {
    mt_sse_limits lim;
    mt_buf blk;           /* raw bytes of the block in progress */
    size_t line_start;    /* offset in blk of the line in progress */
    size_t lines;         /* complete non-blank lines in the block */
    mt_buf data;          /* data buffer */
    mt_buf type;          /* event type buffer */
    mt_buf id;            /* last event ID buffer (persists across blocks) */
    bool has_id;          /* this block set the id */
    int64_t retry_ms;     /* this block's retry, -1 none */
    int64_t reconnect_ms; /* stream's reconnection time, -1 never set */
    unsigned bom;         /* BOM bytes matched; 3 or 4 (4 = decided, no BOM) */
    bool skip_lf;         /* previous byte was a CR terminator */
    bool failed;
    uint64_t consumed; /* bytes handed to callbacks so far */
} mt_sse_parser;

/* lim NULL = MT_SSE_LIMITS_DEFAULT. Cannot fail. */
void mt_sse_parser_init(mt_sse_parser *p, const mt_sse_limits *lim);
void mt_sse_parser_free(mt_sse_parser *p);

/* Parses bytes[0..len), calling cb per complete block. Errors:
 * MT_ERR_TOO_LARGE (line or event limit, eb says which), MT_ERR_NOMEM, the
 * callback's error, MT_ERR_STATE after a previous failure. */
mt_err mt_sse_feed(mt_sse_parser *p, const void *bytes, size_t len, mt_sse_cb cb, void *ctx,
                   mt_errbuf *eb);

/* End of stream. MT_OK when nothing is pending but a skipped BOM or LF;
 * MT_ERR_TRUNCATED when an unterminated block remains: the spec discards it,
 * it is not dispatched (its bytes are still in mt_sse_pending). */
mt_err mt_sse_finish(mt_sse_parser *p, mt_errbuf *eb);

/* Raw bytes received but not yet part of a reported block. */
void mt_sse_pending(const mt_sse_parser *p, const uint8_t **raw, size_t *len);

/* True when the pending bytes are only the LF of the CRLF that ended the
 * last block, and takes them: the caller forwards that byte now, so a relay
 * does not hold an event's last byte until the stream's next one arrives
 * (a client parser may wait for it). The next block's raw bytes then start
 * after it. */
bool mt_sse_take_lone_lf(mt_sse_parser *p);

/* 2024-11-05 HTTP+SSE: rewrites the first `endpoint` event's data (the URI
 * the client must POST to) so it points at the sidecar. base_url is the
 * sidecar's public "http(s)://host[:port][/prefix]" (a trailing '/' is
 * ignored). An absolute URI ("http://127.0.0.1:3001/messages?s=1") or a
 * network-path reference ("//host/messages") keeps its path, query and
 * fragment behind base_url; an absolute path ("/messages?s=1") is appended
 * to base_url; a relative path ("messages?s=1") is copied unchanged, since
 * the client resolves it against the sidecar URL it connected to. The result
 * (appended to out, not NUL-terminated) never contains CR, LF or NUL.
 * MT_ERR_PARSE for data with CR/LF/NUL or a non-hierarchical scheme,
 * MT_ERR_INVALID_ARG for a base_url that is not http(s). */
mt_err mt_sse_rewrite_endpoint(const char *data, size_t len, const char *base_url, mt_buf *out,
                               mt_errbuf *eb);

#endif
