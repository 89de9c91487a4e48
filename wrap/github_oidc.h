/* GitHub Actions' OIDC token for mcptrail-wrap (identity.github_audience):
 * a job with `permissions: id-token: write` gets ACTIONS_ID_TOKEN_REQUEST_URL
 * and ACTIONS_ID_TOKEN_REQUEST_TOKEN; GET <url>&audience=<aud> with
 * "Authorization: Bearer <request token>" answers {"value": "<JWT>"}. */
#ifndef MCPTRAIL_WRAP_GITHUB_OIDC_H
#define MCPTRAIL_WRAP_GITHUB_OIDC_H

#include "mcptrail/buf.h"
#include "mcptrail/err.h"

/* Appends the token to out. https only, the server certificate and name
 * verified (ca_file, or the system store when NULL), no redirects, at most
 * 64 KiB within timeout_ms. MT_ERR_NOT_FOUND: the variables are not set (not
 * a GitHub Actions job, or no id-token permission). */
mt_err mt_github_id_token(const char *audience, const char *ca_file, int timeout_ms,
                          mt_buf *out, mt_errbuf *eb);

#endif
