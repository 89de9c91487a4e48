/* MCP JSON-RPC 2.0 message classification for the sidecar (pure, no I/O).
 *
 * mt_mcp_parse() turns an HTTP POST body (one message, or a batch array where
 * the protocol version allows one) into an array of mt_mcp_msg that say what
 * each message is (request, notification, response, error response) and pull
 * out what the sidecar decides on: id, method, tool / prompt name, resource
 * URI, progress token, tool-result isError, JSON-RPC error code. The parsed
 * jansson tree is kept so policy can read params. Validation failures carry
 * the JSON-RPC error code to answer with and a precise message.
 *
 * The header helpers cover the Streamable HTTP transport: MCP-Protocol-Version
 * (known versions), Mcp-Session-Id syntax, and for the 2026-07-28 stateless
 * revision the Mcp-Method / Mcp-Name headers checked against the body.
 * mt_mcp_error_body() builds the compact JSON-RPC error the sidecar answers
 * with when it denies, cannot authenticate or cannot record. */
#ifndef MCPTRAIL_SIDECAR_MCP_H
#define MCPTRAIL_SIDECAR_MCP_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "mcptrail/buf.h"
#include "mcptrail/err.h"

/* JSON-RPC 2.0 error codes, and the MCP 2026-07-28 header mismatch code
 * (answered with HTTP 400). */
#define MT_MCP_PARSE_ERROR (-32700)
#define MT_MCP_INVALID_REQUEST (-32600)
#define MT_MCP_METHOD_NOT_FOUND (-32601)
#define MT_MCP_INVALID_PARAMS (-32602)
#define MT_MCP_INTERNAL_ERROR (-32603)
#define MT_MCP_HEADER_MISMATCH (-32020)
#define MT_MCP_MISSING_CAPABILITY (-32021) /* 2026-07-28 MissingRequiredClientCapability */
#define MT_MCP_UNSUPPORTED_VERSION (-32022) /* 2026-07-28 UnsupportedProtocolVersionError */

/* Mcp-Session-Id values longer than this are refused (the spec bounds only
 * the character set; the sidecar bounds memory). */
#define MT_MCP_SESSION_ID_MAX 256

typedef enum mt_mcp_version {
    MT_MCP_V_UNKNOWN = 0,
    MT_MCP_V_2024_11_05, /* HTTP+SSE transport (endpoint event) */
    MT_MCP_V_2025_03_26, /* Streamable HTTP, JSON-RPC batches */
    MT_MCP_V_2025_06_18, /* batches removed, MCP-Protocol-Version header */
    MT_MCP_V_2025_11_25,
    MT_MCP_V_2026_07_28, /* stateless: no sessions, Mcp-Method / Mcp-Name */
} mt_mcp_version;

typedef enum mt_mcp_kind {
    MT_MCP_REQUEST,       /* method + id */
    MT_MCP_NOTIFICATION,  /* method, no id */
    MT_MCP_RESPONSE,      /* result + id */
    MT_MCP_ERROR_RESPONSE /* error + id (id may be null) */
} mt_mcp_kind;

typedef struct mt_mcp_limits {
    size_t max_bytes;   /* body size; larger: MT_ERR_TOO_LARGE */
    unsigned max_depth; /* JSON nesting depth */
    size_t max_batch;   /* messages in one batch */
    bool allow_batch;   /* false: a top-level array is -32600 (see
                           mt_mcp_version_allows_batch) */
} mt_mcp_limits;

/* 1 MiB, depth 64, at most 100 messages, batches allowed. */
#define MT_MCP_LIMITS_DEFAULT                                                                      \
    {                                                                                              \
        1u << 20, 64, 100, true                                                                    \
    }

/* One message. Borrowed pointers (json, method, params, tool_name, ...) point
 * into the batch's root tree and live as long as the batch; id and
 * progress_token are owned by the batch. */
typedef struct mt_mcp_msg {
    mt_mcp_kind kind;
    json_t *json;               /* the message object */
    const char *id;             /* canonical JSON text ("7", "\"a\"", "null");
                                   NULL for notifications */
    const char *method;         /* requests and notifications; else NULL */
    json_t *params;             /* NULL when absent */
    const char *tool_name;      /* tools/call params.name */
    const char *prompt_name;    /* prompts/get params.name */
    const char *resource_uri;   /* resources/read|subscribe|unsubscribe params.uri */
    bool has_progress_token;    /* params._meta.progressToken (string or number) */
    const char *progress_token; /* its canonical JSON text, else NULL */
    bool is_error;              /* error response, or result.isError == true */
    long long error_code;       /* error responses: error.code */
    const char *error_message;  /* error responses: error.message */
} mt_mcp_msg;

typedef struct mt_mcp_batch {
    json_t *root;     /* whole parsed body (owned) */
    bool is_batch;    /* body was a JSON array */
    mt_mcp_msg *msgs; /* n messages, in body order */
    size_t n;
    /* On failure: the JSON-RPC error code to answer with, the 0-based index
     * of the offending message (SIZE_MAX when the body as a whole is at
     * fault) and its id text when it could be read (else "null"). */
    int rpc_code;
    size_t err_index;
    const char *err_id;
    char *owned_; /* id / token texts, one allocation */
} mt_mcp_batch;

/* Parses body[0..len). lim NULL = MT_MCP_LIMITS_DEFAULT. On success *out
 * holds n >= 1 messages; free it with mt_mcp_batch_free. On failure *out
 * holds only rpc_code / err_index / err_id (still call mt_mcp_batch_free)
 * and eb says what was wrong, e.g. "message 2: 'jsonrpc' must be \"2.0\""
 * (1-based in messages; a single message has no prefix).
 * Errors: MT_ERR_PARSE (malformed JSON: -32700; invalid message: -32600, or
 * -32602 when a tools/call, prompts/get or resources/read request lacks its
 * string name/uri), MT_ERR_TOO_LARGE (size, depth, batch length: -32600),
 * MT_ERR_NOMEM. */
mt_err mt_mcp_parse(const void *body, size_t len, const mt_mcp_limits *lim, mt_mcp_batch *out,
                    mt_errbuf *eb);
void mt_mcp_batch_free(mt_mcp_batch *b);

const char *mt_mcp_kind_name(mt_mcp_kind kind);

/* MCP-Protocol-Version header. NULL or empty: the spec's backwards-compatible
 * default 2025-03-26. Unknown or malformed: MT_ERR_PARSE, message lists the
 * supported versions (answer HTTP 400). */
mt_err mt_mcp_parse_version(const char *header, mt_mcp_version *out, mt_errbuf *eb);
/* The i-th version the sidecar speaks, oldest first; NULL past the last. */
const char *mt_mcp_version_at(size_t i, mt_mcp_version *v);
/* "2025-06-18", ...; "unknown" for MT_MCP_V_UNKNOWN. */
const char *mt_mcp_version_name(mt_mcp_version v);
/* JSON-RPC batches: JSON-RPC 2.0 itself (2024-11-05) and 2025-03-26 only;
 * 2025-06-18 removed them. */
bool mt_mcp_version_allows_batch(mt_mcp_version v);
/* 2026-07-28 and later: no sessions, Mcp-Method / Mcp-Name required. */
bool mt_mcp_version_is_stateless(mt_mcp_version v);

/* Mcp-Session-Id: 1..MT_MCP_SESSION_ID_MAX visible ASCII bytes (0x21-0x7E).
 * MT_ERR_PARSE otherwise (answer HTTP 400). */
mt_err mt_mcp_check_session_id(const char *value, size_t len, mt_errbuf *eb);

/* 2026-07-28 header/body agreement for a parsed body. For stateless versions
 * every request needs Mcp-Method equal to its method (a notification only
 * when it sends one: the revision defines no headers for them), and
 * tools/call and prompts/get need Mcp-Name equal to params.name,
 * resources/read Mcp-Name equal to params.uri. Header values may be NULL
 * (absent); surrounding spaces/tabs are ignored and a "=?base64?...?="
 * value is decoded before comparing. Bodies of responses carry no method and
 * are not checked. Older versions: MT_OK without looking. Failure:
 * MT_ERR_PARSE with e.g. "Mcp-Name header 'a' does not match params.name
 * 'b' of tools/call" — answer HTTP 400 with MT_MCP_HEADER_MISMATCH. */
mt_err mt_mcp_check_headers(mt_mcp_version v, const char *mcp_method, const char *mcp_name,
                            const mt_mcp_batch *b, mt_errbuf *eb);

/* 2026-07-28 header values that are not plain header text travel as
 * "=?base64?PAYLOAD?=": true when v[0..len) has that form, with PAYLOAD's
 * span. */
bool mt_mcp_b64_sentinel(const char *v, size_t len, const char **payload, size_t *plen);
/* Standard-alphabet Base64 with padding into out (room for len / 4 * 3
 * bytes; not NUL-terminated). false: malformed. *canonical (may be NULL):
 * whether the bits after the data are zero, as canonical encoders write. */
bool mt_mcp_b64_decode(const char *in, size_t len, char *out, size_t *olen, bool *canonical);

/* The HTTP status the 2026-07-28 HTTP binding gives a JSON-RPC error
 * response msg that is the protocol's own (the server's checks before a
 * handler runs), for a server that cannot say it (stdio): 400 for parse
 * error, invalid request, unsupported version, missing client capability,
 * header mismatch and an invalid _meta envelope (-32602 whose data or
 * message names the envelope, as the SDKs word it); 404 for method not
 * found; 0 for everything else (in-band, HTTP 200). */
int mt_mcp_error_http_status(const json_t *msg);

/* Appends {"jsonrpc":"2.0","id":<id>,"error":{"code":C,"message":"M"
 * [,"data":D]}} to out, compact, data in canonical form. id_json is JSON
 * text as in mt_mcp_msg.id (NULL = null); it must be a string, number or
 * null literal. message must be valid UTF-8. MT_ERR_INVALID_ARG otherwise. */
mt_err mt_mcp_error_body(const char *id_json, int code, const char *message, const json_t *data,
                         mt_buf *out, mt_errbuf *eb);

#endif
