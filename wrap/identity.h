/* The CI job's identity for mcptrail-wrap: its OIDC token, obtained the way
 * the CI system provides it (identity.token_file, else the identity.token_env
 * variable: GitLab's id_tokens), verified like the sidecar verifies a
 * client's token (auth.*); else, with identity.github_audience, requested
 * from GitHub Actions (github_oidc.h). The token itself is kept only until verified:
 * events carry its SHA-256 fingerprint and the verified claims. */
#ifndef MCPTRAIL_WRAP_IDENTITY_H
#define MCPTRAIL_WRAP_IDENTITY_H

#include <jansson.h>

#include "mcptrail/err.h"
#include "options.h"

/* *identity: the SessionEvent identity; *claims: the verified claims (NULL
 * when anonymous). MT_ERR_NOT_FOUND: no token where the options say (and
 * not auth.anonymous); MT_ERR_AUTH-class errors name why it was refused. */
mt_err mt_wrap_identity(const mt_wrap_config *cfg, json_t **identity, json_t **claims,
                        mt_errbuf *eb);

#endif
