/* JWKS over HTTPS (auth.jwks_url): fetch, cache, periodic and on-demand
 * refresh of the keys that sign client tokens.
 *
 * The fetcher runs on the proxy's event_base with libevent's HTTP client over
 * bufferevent_openssl, so nothing on the request path ever blocks on the
 * identity provider. Only the first fetch (mt_jwks_fetch_initial) is
 * synchronous: it runs on a private event_base before the sidecar serves,
 * so a sidecar that cannot get its keys does not start (unless a cached copy
 * from an earlier run is in auth.jwks_cache_file).
 *
 * Every fetched document goes through the same checks: https only, the
 * server certificate verified (system CA store or ca_file) including the
 * host name or IP address of the URL, HTTP 200, body at most max_bytes, no
 * redirect followed, whole exchange within timeout_ms, and mt_jwks_parse.
 * A document that fails any check is logged (component "jwks", with the URL
 * and the reason) and the keys in use stay. A good one is handed to
 * on_keys (ownership passes; the proxy swaps its pointer on the loop
 * thread, so no verification ever sees a half-updated key set) and written
 * to cache_file (temp file + rename) when one is configured.
 *
 * Refresh: every refresh_ms, and on demand (a token with an unknown kid)
 * through mt_jwks_fetch_refresh_now(), which starts a fetch at most once per
 * min_refresh_ms (counted from the last on-demand fetch) and never while
 * one is in flight, so a flood of tokens with made-up kids costs the
 * identity provider at most one request per min_refresh_ms. */
#ifndef MCPTRAIL_SIDECAR_JWKS_FETCH_H
#define MCPTRAIL_SIDECAR_JWKS_FETCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mcptrail/err.h"
#include "mcptrail/jwt.h"

struct event_base;

typedef struct mt_jwks_fetch_config {
    const char *url;        /* https://host[:port]/path */
    const char *ca_file;    /* PEM bundle; NULL: the system CA store */
    const char *cache_file; /* last good JWKS; NULL: no cache */
    int64_t refresh_ms;     /* periodic refresh; > 0 */
    int64_t min_refresh_ms; /* spacing of on-demand refreshes; >= 0 */
    int64_t timeout_ms;     /* one fetch, connect to last byte; > 0 */
    size_t max_bytes;       /* largest accepted body; 0: MT_JWKS_MAX_BYTES */
    /* Receives every new key set (ownership passes). Called on the loop
     * thread, never from inside mt_jwks_fetch_new/initial. */
    void (*on_keys)(void *arg, mt_jwks *jwks);
    void *arg;
} mt_jwks_fetch_config;

typedef struct mt_jwks_fetch_stats {
    uint64_t fetch_ok;         /* documents accepted (the initial one included) */
    uint64_t fetch_failed;     /* fetches that failed (TLS, HTTP, size, parse, timeout) */
    uint64_t ondemand_started; /* refreshes started by mt_jwks_fetch_refresh_now */
    uint64_t ondemand_limited; /* refresh_now calls refused by the rate limit or in flight */
    int64_t last_ok_unix;      /* wall clock of the last accepted document; 0: never */
} mt_jwks_fetch_stats;

typedef struct mt_jwks_fetch mt_jwks_fetch;

/* Checks cfg (MT_ERR_CONFIG: not https, no host, bad port, unreadable
 * ca_file) and prepares the TLS client context. Starts nothing. cfg's
 * strings are copied. */
mt_err mt_jwks_fetch_new(struct event_base *base, const mt_jwks_fetch_config *cfg,
                         mt_jwks_fetch **out, mt_errbuf *eb);

/* The start-up fetch, synchronous (bounded by timeout_ms). On success *out is
 * the key set (caller owns it). When the fetch fails and cache_file holds a
 * valid JWKS, that copy is returned instead (logged as a warning). When both
 * fail the error names the URL and the reason. Arms the periodic refresh
 * either way on MT_OK. */
mt_err mt_jwks_fetch_initial(mt_jwks_fetch *f, mt_jwks **out, mt_errbuf *eb);

/* A token named a kid the current keys lack: starts a fetch unless one is in
 * flight or the last on-demand fetch started less than min_refresh_ms ago.
 * True when a fetch was started. */
bool mt_jwks_fetch_refresh_now(mt_jwks_fetch *f);

/* True while a fetch is in flight. */
bool mt_jwks_fetch_busy(const mt_jwks_fetch *f);

void mt_jwks_fetch_get_stats(const mt_jwks_fetch *f, mt_jwks_fetch_stats *out);

/* Cancels a fetch in flight (on_keys is not called) and frees everything. */
void mt_jwks_fetch_free(mt_jwks_fetch *f);

#endif
