/* Mcp-Param-* headers of MCP 2026-07-28 (pure, no I/O; docs/sidecar.md
 * "Headers"). A tool marks a primitive argument with "x-mcp-header": NAME in
 * its inputSchema (on a chain of `properties` only); a client then mirrors
 * that argument into the header Mcp-Param-NAME, so load balancers and
 * gateways can route on it without parsing JSON. The policy decides on the
 * body, so a header that disagrees with the body is refused, as the spec
 * asks of servers:
 *   - the body carries the argument (not null) and the header is absent:
 *     "param-header-missing";
 *   - the header is "=?base64?...?=" with a payload that is not canonical
 *     Base64: "param-header-invalid-encoding";
 *   - the decoded header differs from the argument's string form (strings
 *     as is, booleans true/false, numbers compared as numbers, so "3.0"
 *     matches 3): "param-header-mismatch".
 * An absent or null argument expects no header (one that is sent is ignored).
 *
 * The declarations are learned from the tools/list results the sidecar
 * relays (each listed tool's replace the previous ones); a tool not listed
 * yet has none to check. */
#ifndef MCPTRAIL_SIDECAR_MCP_PARAMS_H
#define MCPTRAIL_SIDECAR_MCP_PARAMS_H

#include <stddef.h>

#include <jansson.h>

#include "mcptrail/err.h"

#define MT_MCP_PARAMS_MAX_TOOLS 4096u /* tools remembered; beyond: not learned */
#define MT_MCP_PARAMS_MAX_DECLS 32u   /* x-mcp-header declarations kept per tool */
#define MT_MCP_PARAMS_MAX_DEPTH 8u    /* nesting of `properties` walked */

typedef struct mt_mcp_params mt_mcp_params;

mt_err mt_mcp_params_new(mt_mcp_params **out);
void mt_mcp_params_free(mt_mcp_params *p);

/* A tools/list result object ({"tools": [...]}): each listed tool's
 * declarations replace what was known of it. Malformed entries are skipped.
 * Returns how many tools were learned. */
size_t mt_mcp_params_learn(mt_mcp_params *p, const json_t *result);

/* Declarations known for tool (0 when none or unknown). */
size_t mt_mcp_params_count(const mt_mcp_params *p, const char *tool);

/* Header lookup: the value of header `name` (case-insensitive), or NULL. */
typedef const char *(*mt_mcp_header_fn)(void *ctx, const char *name);

/* Checks a tools/call's headers against its arguments. MT_OK: consistent
 * (or nothing declared). MT_ERR_PARSE: refused; eb names the header and the
 * condition (see above) and *cell (when not NULL) gets the condition. */
mt_err mt_mcp_params_check(const mt_mcp_params *p, const char *tool, const json_t *arguments,
                           mt_mcp_header_fn header, void *ctx, const char **cell,
                           mt_errbuf *eb);

#endif
