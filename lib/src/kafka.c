/* Kafka producer, consumer and topic admin over librdkafka.
 *
 * Producer. librdkafka's idempotent producer guarantees order and no
 * duplicates within one instance, but a fatal error (e.g. an out-of-order
 * sequence the broker rejects) ends the instance for good. So every message
 * is first copied into an in-flight table: a doubly linked list in send
 * order, bounded by message count and bytes. librdkafka produces straight
 * from that copy (no second copy) with the table entry as the message
 * opaque. A successful delivery report unlinks the entry and hands the
 * caller its report. On a fatal error (error_cb, a __FATAL report or a
 * __FATAL from producev) the producer purges and drains the old instance
 * (failed reports of purged messages are swallowed, acks that still arrive
 * are reported), destroys it, creates a new one and produces every entry
 * still in the table again, front to back, before any newer message. This
 * is why a re-sent message may appear twice on the topic but an acked one
 * never again, and none is lost. Recreations back off (100 ms doubling to
 * 30 s, reset by an ack) so a fatal error that recurs at once cannot spin;
 * a fatal authorization or authentication failure (no ACL for the
 * principal, a wrong password) cannot heal by re-sending, so the messages
 * waiting then are reported failed with that reason instead of being held.
 *
 * Consumer. A balanced group consumer with offsets committed only by
 * mt_consumer_commit, after the caller's side effect is durable.
 *
 * Logs. librdkafka's log lines and errors go to stderr as one JSON object
 * per line, formatted here with bounded buffers and written with a single
 * write(2), so lines from librdkafka's threads do not interleave. */
#include "mcptrail/kafka.h"

#include <errno.h>
#include <inttypes.h>
#include <librdkafka/rdkafka.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* ---- shared helpers ---------------------------------------------------- */

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int ms_left(int64_t deadline)
{
    int64_t left = deadline - now_ms();
    if (left < 0)
        return 0;
    return left > INT32_MAX ? INT32_MAX : (int)left;
}

/* Back-off between retries of a condition check; never used to wait for
 * an event that has a notification. */
static void backoff_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

static mt_err map_rd_err(rd_kafka_resp_err_t e)
{
    switch (e) {
    case RD_KAFKA_RESP_ERR_NO_ERROR:
        return MT_OK;
    case RD_KAFKA_RESP_ERR__MSG_TIMED_OUT:
    case RD_KAFKA_RESP_ERR__TIMED_OUT:
    case RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT:
        return MT_ERR_TIMEOUT;
    case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
        return MT_ERR_TOO_LARGE;
    case RD_KAFKA_RESP_ERR__FATAL:
        return MT_ERR_KAFKA_FATAL;
    case RD_KAFKA_RESP_ERR__INVALID_ARG:
        return MT_ERR_INVALID_ARG;
    default:
        return MT_ERR_KAFKA;
    }
}

/* Appends s to out[*pos..cap) as JSON string content; stops (truncating)
 * when fewer than 8 bytes remain so the closing text always fits. */
static void json_escape_into(char *out, size_t cap, size_t *pos, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    for (; s && *s && *pos + 8 < cap; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\') {
            out[(*pos)++] = '\\';
            out[(*pos)++] = (char)ch;
        } else if (ch == '\n') {
            out[(*pos)++] = '\\';
            out[(*pos)++] = 'n';
        } else if (ch < 0x20 || ch == 0x7f) {
            out[(*pos)++] = '\\';
            out[(*pos)++] = 'u';
            out[(*pos)++] = '0';
            out[(*pos)++] = '0';
            out[(*pos)++] = hex[ch >> 4];
            out[(*pos)++] = hex[ch & 0xf];
        } else {
            out[(*pos)++] = (char)ch;
        }
    }
}

static void append_raw(char *out, size_t cap, size_t *pos, const char *s)
{
    size_t n = strlen(s);
    if (*pos + n >= cap)
        n = cap - *pos - 1;
    memcpy(out + *pos, s, n);
    *pos += n;
}

/* One JSON line on stderr: {"ts","level","component","client","facility","msg"}. */
static void kafka_log_line(const char *level, const char *client, const char *facility,
                           const char *msg)
{
    char line[2048];
    size_t pos = 0;
    char ts[40];
    struct timespec now;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &now);
    gmtime_r(&now.tv_sec, &tm);
    size_t tl = strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(ts + tl, sizeof ts - tl, ".%03ldZ", now.tv_nsec / 1000000L);

    append_raw(line, sizeof line - 4, &pos, "{\"ts\":\"");
    append_raw(line, sizeof line - 4, &pos, ts);
    append_raw(line, sizeof line - 4, &pos, "\",\"level\":\"");
    append_raw(line, sizeof line - 4, &pos, level);
    append_raw(line, sizeof line - 4, &pos, "\",\"component\":\"kafka\",\"client\":\"");
    json_escape_into(line, sizeof line - 4, &pos, client);
    append_raw(line, sizeof line - 4, &pos, "\",\"facility\":\"");
    json_escape_into(line, sizeof line - 4, &pos, facility);
    append_raw(line, sizeof line - 4, &pos, "\",\"msg\":\"");
    json_escape_into(line, sizeof line - 4, &pos, msg);
    memcpy(line + pos, "\"}\n", 3);
    pos += 3;
    ssize_t w = write(STDERR_FILENO, line, pos);
    (void)w; /* nowhere left to report a failed log write */
}

static const char *syslog_level_name(int level)
{
    if (level <= 3)
        return "error";
    if (level == 4)
        return "warn";
    if (level <= 6)
        return "info";
    return "debug";
}

static void log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    kafka_log_line(syslog_level_name(level), rd_kafka_name(rk), fac, buf);
}

/* Property names whose values are secrets (sasl.password, ssl.key.password,
 * sasl.oauthbearer.client.secret, ...). */
static bool secret_key(const char *k)
{
    return strstr(k, "password") || strstr(k, "secret") || strstr(k, ".key.pem") ||
           strstr(k, "sasl.jaas");
}

/* Common configuration: bootstrap, client id, logging, then the caller's
 * extra properties (last, so they override mcptrail's defaults). */
static mt_err conf_common(rd_kafka_conf_t *conf, const mt_kafka_config *kc,
                          const mt_kafka_prop *defaults, size_t ndefaults, mt_errbuf *eb)
{
    char errstr[512];
    if (!kc || !kc->bootstrap || !*kc->bootstrap)
        return mt_fail(eb, MT_ERR_INVALID_ARG,
                       "kafka: no bootstrap servers configured (expected host:port[,host:port])");
    const mt_kafka_prop base[] = {
        {"bootstrap.servers", kc->bootstrap},
        {"client.id", kc->client_id ? kc->client_id : "mcptrail"},
    };
    for (size_t i = 0; i < sizeof base / sizeof base[0]; i++) {
        if (rd_kafka_conf_set(conf, base[i].key, base[i].value, errstr, sizeof errstr) !=
            RD_KAFKA_CONF_OK)
            return mt_fail(eb, MT_ERR_CONFIG, "kafka: %s=%s: %s", base[i].key, base[i].value,
                           errstr);
    }
    for (size_t i = 0; i < ndefaults; i++) {
        if (rd_kafka_conf_set(conf, defaults[i].key, defaults[i].value, errstr, sizeof errstr) !=
            RD_KAFKA_CONF_OK)
            return mt_fail(eb, MT_ERR_CONFIG, "kafka: %s=%s: %s", defaults[i].key,
                           defaults[i].value, errstr);
    }
    for (size_t i = 0; i < kc->nprops; i++) {
        const mt_kafka_prop *pr = &kc->props[i];
        if (!pr->key || !pr->value)
            return mt_fail(eb, MT_ERR_INVALID_ARG, "kafka: extra property %zu has no %s", i,
                           pr->key ? "value" : "key");
        if (rd_kafka_conf_set(conf, pr->key, pr->value, errstr, sizeof errstr) !=
            RD_KAFKA_CONF_OK)
            /* A password or key never goes into a message. */
            return mt_fail(eb, MT_ERR_CONFIG, "kafka: property %s=%s rejected: %s", pr->key,
                           secret_key(pr->key) ? "[REDACTED]" : pr->value, errstr);
    }
    rd_kafka_conf_set_log_cb(conf, log_cb);
    return MT_OK;
}

void mt_kafka_fingerprint_hex(uint64_t fingerprint, char out[17])
{
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < 16; i++)
        out[i] = hex[(fingerprint >> (60 - 4 * i)) & 0xf];
    out[16] = '\0';
}

const mt_kafka_header *mt_kafka_avro_headers_init(mt_kafka_avro_headers *ah, uint64_t fingerprint)
{
    mt_kafka_fingerprint_hex(fingerprint, ah->fingerprint_hex);
    ah->h[0].name = MT_KAFKA_HEADER_CONTENT_TYPE;
    ah->h[0].value = MT_KAFKA_CONTENT_TYPE_AVRO;
    ah->h[0].len = strlen(MT_KAFKA_CONTENT_TYPE_AVRO);
    ah->h[1].name = MT_KAFKA_HEADER_FINGERPRINT;
    ah->h[1].value = ah->fingerprint_hex;
    ah->h[1].len = 16;
    return ah->h;
}

/* ---- producer ---------------------------------------------------------- */

typedef struct pmsg {
    struct pmsg *prev, *next;
    char *topic;
    uint8_t *key;
    size_t klen;
    uint8_t *value;
    size_t vlen;
    mt_kafka_header *hdrs; /* names and values point into this allocation */
    size_t nhdrs;
    size_t bytes; /* what counts against max_inflight_bytes */
    void *opaque;
    bool in_rk; /* librdkafka currently holds it (a report will come) */
    unsigned unconfirmed; /* acks without an offset so far (see producer_dr_cb) */
} pmsg;

struct mt_producer {
    rd_kafka_t *rk;
    mt_producer_config cfg; /* cfg.kafka points at caller-owned strings */
    pmsg *head, *tail;
    size_t count, bytes;
    size_t max_count, max_bytes;
    bool fatal;          /* librdkafka raised a fatal error: recreate */
    rd_kafka_resp_err_t fatal_code; /* the underlying error of the last fatal one */
    int64_t recreate_at;            /* no recreation before this (now_ms clock) */
    int recreate_backoff_ms;        /* doubles per fatal error in a row; an ack resets it */
    bool resend_pending; /* table entries not in rk must be produced, in order */
    bool closing;
    unsigned recreations;
    unsigned long resent; /* messages sent again after an ack without an offset */
    unsigned long reported;
    int wakeup_fd; /* -1: none; else written by librdkafka when reports wait */
    char fatal_reason[256];
};

static void pmsg_unlink(mt_producer *p, pmsg *m)
{
    if (m->prev)
        m->prev->next = m->next;
    else
        p->head = m->next;
    if (m->next)
        m->next->prev = m->prev;
    else
        p->tail = m->prev;
    m->prev = m->next = NULL;
    p->count--;
    p->bytes -= m->bytes;
}

static void pmsg_append(mt_producer *p, pmsg *m)
{
    m->prev = p->tail;
    m->next = NULL;
    if (p->tail)
        p->tail->next = m;
    else
        p->head = m;
    p->tail = m;
    p->count++;
    p->bytes += m->bytes;
}

/* Unlinks m, hands the caller its report and frees m. */
static void pmsg_report(mt_producer *p, pmsg *m, mt_err err, const char *errstr,
                        int32_t partition, int64_t offset)
{
    pmsg_unlink(p, m);
    mt_delivery d = {
        .opaque = m->opaque,
        .err = err,
        .errstr = errstr ? errstr : "",
        .topic = m->topic,
        .partition = partition,
        .offset = err == MT_OK && offset >= 0 ? offset : -1,
        .key = m->key,
        .key_len = m->klen,
        .value = m->value,
        .value_len = m->vlen,
    };
    p->reported++;
    p->cfg.on_delivery(&d, p->cfg.ctx);
    free(m);
}

/* Re-sends of one message acknowledged without an offset before its ack is
 * passed on as it is (offset -1). */
#define MAX_UNCONFIRMED_ACKS 3

static void producer_dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *rkm, void *opaque)
{
    mt_producer *p = opaque;
    pmsg *m = rkm->_private;
    m->in_rk = false;
    if (rkm->err == RD_KAFKA_RESP_ERR_NO_ERROR && rkm->offset < 0 &&
        m->unconfirmed < MAX_UNCONFIRMED_ACKS && !p->closing) {
        /* An ack without an offset: the broker answered "duplicate
         * sequence", which librdkafka 2.0.2 takes as written. On a real
         * broker such batches were sometimes never stored (right after topic
         * creation), so the ack proves nothing: send the message again.
         * Worst case the record is on the topic twice; consumers drop
         * duplicates by event id, an audit trail must not lose one. */
        m->unconfirmed++;
        p->resent++;
        p->resend_pending = true;
        if (p->resent <= 10 || p->resent % 1000 == 0) { /* a whole batch may come back so */
            char msg[300];
            snprintf(msg, sizeof msg, "%s [%" PRId32 "]: acknowledged without an offset "
                     "(duplicate sequence); sending it again (attempt %u, %lu so far)",
                     m->topic, rkm->partition, m->unconfirmed + 1, p->resent);
            kafka_log_line("warn", rd_kafka_name(rk), "UNCONFIRMED", msg);
        }
        return;
    }
    if (rkm->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        p->recreate_backoff_ms = 0;
        pmsg_report(p, m, MT_OK, NULL, rkm->partition, rkm->offset);
        return;
    }
    if (rkm->err == RD_KAFKA_RESP_ERR__FATAL)
        p->fatal = true;
    /* Purged or failed by a fatal error, or the producer is closing: the
     * entry stays in the table, to be re-sent or reported by destroy. */
    if (p->fatal || p->closing || rkm->err == RD_KAFKA_RESP_ERR__PURGE_QUEUE ||
        rkm->err == RD_KAFKA_RESP_ERR__PURGE_INFLIGHT)
        return;
    pmsg_report(p, m, map_rd_err(rkm->err), rd_kafka_err2str(rkm->err), rkm->partition, -1);
}

static void producer_error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    mt_producer *p = opaque;
    if (err == RD_KAFKA_RESP_ERR__FATAL) {
        char detail[256];
        rd_kafka_resp_err_t orig = rd_kafka_fatal_error(rk, detail, sizeof detail);
        p->fatal = true;
        p->fatal_code = orig;
        snprintf(p->fatal_reason, sizeof p->fatal_reason, "%.60s: %.180s",
                 rd_kafka_err2name(orig), detail);
        char msg[400];
        snprintf(msg, sizeof msg, "fatal producer error, recreating producer: %s",
                 p->fatal_reason);
        kafka_log_line("error", rd_kafka_name(rk), "FATAL", msg);
        return;
    }
    char msg[600];
    snprintf(msg, sizeof msg, "%s: %s", rd_kafka_err2name((rd_kafka_resp_err_t)err), reason);
    kafka_log_line("warn", rd_kafka_name(rk), "ERROR", msg);
}

/* Asks librdkafka to write one byte to the wake-up fd whenever the main
 * queue (delivery reports, errors) goes from empty to non-empty, so an event
 * loop can sleep on the fd instead of polling. A new rk after a fatal error
 * has a new main queue, hence re-applied by producer_create_rk. */
static void producer_apply_wakeup(mt_producer *p)
{
    if (!p->rk || p->wakeup_fd < 0)
        return;
    rd_kafka_queue_t *q = rd_kafka_queue_get_main(p->rk);
    rd_kafka_queue_io_event_enable(q, p->wakeup_fd, "1", 1);
    /* librdkafka writes only when the queue goes from empty to non-empty:
     * events queued before this call (the instance's threads start inside
     * rd_kafka_new) would never wake the loop, so wake it ourselves. */
    if (rd_kafka_queue_length(q) > 0) {
        ssize_t w = write(p->wakeup_fd, "1", 1);
        (void)w; /* EAGAIN: the pipe is full, so a wake-up is pending anyway */
    }
    rd_kafka_queue_destroy(q); /* drops our reference only */
}

static mt_err producer_create_rk(mt_producer *p, mt_errbuf *eb)
{
    char errstr[512], maxmsgs[32], maxkb[32], tmo[32];
    snprintf(maxmsgs, sizeof maxmsgs, "%zu", p->max_count);
    /* librdkafka's queue must never refuse before our table does. */
    snprintf(maxkb, sizeof maxkb, "%zu", p->max_bytes / 1024 + 1024);
    snprintf(tmo, sizeof tmo, "%d", p->cfg.delivery_timeout_ms);
    mt_kafka_prop defaults[] = {
        {"enable.idempotence", "true"},
        {"acks", "all"},
        {"queue.buffering.max.messages", maxmsgs},
        {"queue.buffering.max.kbytes", maxkb},
        {"message.timeout.ms", tmo},
    };
    size_t nd = sizeof defaults / sizeof defaults[0];
    if (p->cfg.delivery_timeout_ms <= 0)
        nd--;
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    mt_err err = conf_common(conf, &p->cfg.kafka, defaults, nd, eb);
    if (err)
        goto fail;
    rd_kafka_conf_set_opaque(conf, p);
    rd_kafka_conf_set_dr_msg_cb(conf, producer_dr_cb);
    rd_kafka_conf_set_error_cb(conf, producer_error_cb);
    p->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    if (!p->rk) {
        err = mt_fail(eb, MT_ERR_KAFKA, "kafka: cannot create producer for %s: %s",
                      p->cfg.kafka.bootstrap, errstr);
        goto fail;
    }
    producer_apply_wakeup(p);
    return MT_OK; /* conf now owned by rk */
fail:
    rd_kafka_conf_destroy(conf);
    return err;
}

/* Hands m to librdkafka. Returns the librdkafka error (NO_ERROR: queued). */
static rd_kafka_resp_err_t pmsg_produce(mt_producer *p, pmsg *m)
{
    rd_kafka_headers_t *hs = NULL;
    if (m->nhdrs) {
        hs = rd_kafka_headers_new(m->nhdrs);
        for (size_t i = 0; i < m->nhdrs; i++)
            rd_kafka_header_add(hs, m->hdrs[i].name, -1, m->hdrs[i].value,
                                (ssize_t)m->hdrs[i].len);
    }
    rd_kafka_resp_err_t e = rd_kafka_producev(
        p->rk, RD_KAFKA_V_TOPIC(m->topic), RD_KAFKA_V_MSGFLAGS(0),
        RD_KAFKA_V_KEY(m->key, m->klen), RD_KAFKA_V_VALUE(m->value, m->vlen),
        RD_KAFKA_V_HEADERS(hs), RD_KAFKA_V_OPAQUE(m), RD_KAFKA_V_END);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
        if (hs)
            rd_kafka_headers_destroy(hs); /* ownership passes only on success */
        return e;
    }
    m->in_rk = true;
    return e;
}

#define RECREATE_BACKOFF_MIN_MS 100
#define RECREATE_BACKOFF_MAX_MS 30000

/* Errors no re-send can cure until an operator changes ACLs or credentials. */
static bool is_auth_error(rd_kafka_resp_err_t e)
{
    return e == RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED ||
           e == RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED ||
           e == RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED ||
           e == RD_KAFKA_RESP_ERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED ||
           e == RD_KAFKA_RESP_ERR_SASL_AUTHENTICATION_FAILED ||
           e == RD_KAFKA_RESP_ERR__AUTHENTICATION;
}

/* Destroys a fatally failed instance and starts a new one (not before the
 * back-off allows). Acks that arrive while draining are still reported;
 * everything else stays, unless the failure was an authorization one: then
 * the messages waiting are reported failed with its reason. */
static void producer_recreate(mt_producer *p)
{
    int64_t now = now_ms();
    if (now < p->recreate_at)
        return; /* p->fatal stays set: retried once the back-off has passed */
    p->recreate_backoff_ms = p->recreate_backoff_ms
                                 ? (p->recreate_backoff_ms >= RECREATE_BACKOFF_MAX_MS / 2
                                        ? RECREATE_BACKOFF_MAX_MS
                                        : p->recreate_backoff_ms * 2)
                                 : RECREATE_BACKOFF_MIN_MS;
    p->recreate_at = now + p->recreate_backoff_ms;
    if (p->rk) {
        /* The instance's own fatal error is the one that counts (the flag may
         * have been raised by a send or a report before error_cb ran). */
        char detail[256];
        rd_kafka_resp_err_t fe = rd_kafka_fatal_error(p->rk, detail, sizeof detail);
        if (fe != RD_KAFKA_RESP_ERR_NO_ERROR) {
            p->fatal_code = fe;
            snprintf(p->fatal_reason, sizeof p->fatal_reason, "%.60s: %.180s",
                     rd_kafka_err2name(fe), detail);
        }
        rd_kafka_purge(p->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
        int64_t deadline = now_ms() + 5000;
        while (rd_kafka_outq_len(p->rk) > 0 && ms_left(deadline) > 0)
            rd_kafka_poll(p->rk, 50);
        rd_kafka_destroy(p->rk);
        p->rk = NULL;
    }
    for (pmsg *m = p->head; m; m = m->next)
        m->in_rk = false;
    if (is_auth_error(p->fatal_code)) {
        char why[400];
        snprintf(why, sizeof why, "not authorized by the brokers (%s): check this principal's "
                 "ACLs and credentials (docs/kafka-security.md)", p->fatal_reason);
        kafka_log_line("error", "mcptrail", "AUTHZ", why);
        /* Only the messages waiting now: a report callback may send more. */
        for (size_t n = p->count; n > 0 && p->head; n--)
            pmsg_report(p, p->head, MT_ERR_KAFKA, why, -1, -1);
    }
    mt_errbuf eb;
    if (producer_create_rk(p, &eb) != MT_OK) {
        kafka_log_line("error", "mcptrail", "RECREATE", eb.msg);
        return; /* p->fatal stays set: retried on the next poll */
    }
    p->fatal = false;
    p->recreations++;
    p->resend_pending = p->head != NULL;
    char msg[400];
    snprintf(msg, sizeof msg, "producer recreated after fatal error (%s); re-sending %zu unacked",
             p->fatal_reason[0] ? p->fatal_reason : "unknown", p->count);
    kafka_log_line("warn", rd_kafka_name(p->rk), "RECREATE", msg);
    p->fatal_code = RD_KAFKA_RESP_ERR_NO_ERROR; /* the next fatal error brings its own */
    p->fatal_reason[0] = '\0';
}

/* Produces table entries not yet in librdkafka, front to back. */
static void producer_resend(mt_producer *p)
{
    pmsg *next;
    for (pmsg *m = p->head; m; m = next) {
        next = m->next;
        if (m->in_rk)
            continue;
        rd_kafka_resp_err_t e = pmsg_produce(p, m);
        if (e == RD_KAFKA_RESP_ERR_NO_ERROR)
            continue;
        if (e == RD_KAFKA_RESP_ERR__FATAL) {
            p->fatal = true;
            return;
        }
        if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL)
            return; /* retried on the next poll, order kept */
        pmsg_report(p, m, map_rd_err(e), rd_kafka_err2str(e), -1, -1);
    }
    p->resend_pending = false;
}

/* Recovers from a fatal error and re-sends; cheap when nothing is wrong. */
static void producer_service(mt_producer *p)
{
    if (p->rk && !p->fatal) {
        char detail[256];
        rd_kafka_resp_err_t fe = rd_kafka_fatal_error(p->rk, detail, sizeof detail);
        if (fe != RD_KAFKA_RESP_ERR_NO_ERROR) {
            p->fatal = true;
            p->fatal_code = fe;
            snprintf(p->fatal_reason, sizeof p->fatal_reason, "%.60s: %.180s",
                     rd_kafka_err2name(fe), detail);
        }
    }
    if (p->fatal)
        producer_recreate(p);
    if (!p->fatal && p->resend_pending)
        producer_resend(p);
}

mt_err mt_producer_new(const mt_producer_config *cfg, mt_producer **out, mt_errbuf *eb)
{
    if (!cfg || !out || !cfg->on_delivery)
        return mt_fail(eb, MT_ERR_INVALID_ARG, "mt_producer_new: config with on_delivery required");
    mt_producer *p = calloc(1, sizeof *p);
    if (!p)
        return mt_fail(eb, MT_ERR_NOMEM, "mt_producer_new: out of memory");
    p->cfg = *cfg;
    p->wakeup_fd = -1;
    p->max_count = cfg->max_inflight ? cfg->max_inflight : MT_PRODUCER_DEFAULT_MAX_INFLIGHT;
    p->max_bytes =
        cfg->max_inflight_bytes ? cfg->max_inflight_bytes : MT_PRODUCER_DEFAULT_MAX_INFLIGHT_BYTES;
    if (p->max_count > 10000000) {
        free(p);
        return mt_fail(eb, MT_ERR_CONFIG, "mt_producer_new: max_inflight %zu above 10000000",
                       cfg->max_inflight);
    }
    mt_err err = producer_create_rk(p, eb);
    if (err) {
        free(p);
        return err;
    }
    *out = p;
    return MT_OK;
}

mt_err mt_producer_send(mt_producer *p, const char *topic, const void *key, size_t klen,
                        const void *value, size_t vlen, const mt_kafka_header *headers,
                        size_t nheaders, void *opaque, mt_errbuf *eb)
{
    if (!p || !topic || !*topic || (klen && !key) || (vlen && !value) || (nheaders && !headers))
        return mt_fail(eb, MT_ERR_INVALID_ARG, "mt_producer_send: missing topic or buffer");
    if (nheaders > 64)
        return mt_fail(eb, MT_ERR_INVALID_ARG, "mt_producer_send: %zu headers (at most 64)",
                       nheaders);
    size_t tlen = strlen(topic);
    size_t hbytes = 0;
    for (size_t i = 0; i < nheaders; i++) {
        if (!headers[i].name || (headers[i].len && !headers[i].value))
            return mt_fail(eb, MT_ERR_INVALID_ARG, "mt_producer_send: header %zu malformed", i);
        hbytes += strlen(headers[i].name) + 1 + headers[i].len;
    }
    size_t payload = klen + vlen + hbytes;
    if (payload > p->max_bytes)
        return mt_fail(eb, MT_ERR_INVALID_ARG,
                       "mt_producer_send: message of %zu bytes exceeds max_inflight_bytes %zu",
                       payload, p->max_bytes);
    if (p->count >= p->max_count || p->bytes + payload > p->max_bytes)
        return mt_fail(eb, MT_ERR_TOO_LARGE,
                       "mt_producer_send: in-flight table full (%zu messages, %zu bytes); "
                       "poll and retry",
                       p->count, p->bytes);

    size_t total = sizeof(pmsg) + nheaders * sizeof(mt_kafka_header) + tlen + 1 + payload;
    pmsg *m = calloc(1, total);
    if (!m)
        return mt_fail(eb, MT_ERR_NOMEM, "mt_producer_send: no memory for %zu bytes", total);
    uint8_t *cur = (uint8_t *)(m + 1);
    m->hdrs = nheaders ? (mt_kafka_header *)cur : NULL;
    cur += nheaders * sizeof(mt_kafka_header);
    m->topic = (char *)cur;
    memcpy(cur, topic, tlen + 1);
    cur += tlen + 1;
    m->key = klen ? cur : NULL;
    m->klen = klen;
    if (klen)
        memcpy(cur, key, klen);
    cur += klen;
    m->value = vlen ? cur : NULL;
    m->vlen = vlen;
    if (vlen)
        memcpy(cur, value, vlen);
    cur += vlen;
    for (size_t i = 0; i < nheaders; i++) {
        size_t nl = strlen(headers[i].name) + 1;
        m->hdrs[i].name = (char *)cur;
        memcpy(cur, headers[i].name, nl);
        cur += nl;
        m->hdrs[i].value = headers[i].value ? cur : NULL;
        m->hdrs[i].len = headers[i].len;
        if (headers[i].len)
            memcpy(cur, headers[i].value, headers[i].len);
        cur += headers[i].len;
    }
    m->nhdrs = nheaders;
    m->bytes = payload;
    m->opaque = opaque;
    pmsg_append(p, m);

    /* While recovering, newer messages queue behind the ones to re-send. */
    if (!p->rk || p->fatal || p->resend_pending)
        return MT_OK;
    rd_kafka_resp_err_t e = pmsg_produce(p, m);
    if (e == RD_KAFKA_RESP_ERR_NO_ERROR)
        return MT_OK;
    if (e == RD_KAFKA_RESP_ERR__FATAL) {
        p->fatal = true; /* kept; the next poll recreates and sends it */
        return MT_OK;
    }
    pmsg_unlink(p, m);
    free(m);
    if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL)
        return mt_fail(eb, MT_ERR_TOO_LARGE,
                       "mt_producer_send: librdkafka queue full; poll and retry");
    return mt_fail(eb, map_rd_err(e), "mt_producer_send: topic %s: %s", topic,
                   rd_kafka_err2str(e));
}

int mt_producer_poll(mt_producer *p, int timeout_ms)
{
    unsigned long before = p->reported;
    producer_service(p);
    if (p->rk)
        rd_kafka_poll(p->rk, timeout_ms);
    producer_service(p);
    return (int)(p->reported - before);
}

mt_err mt_producer_flush(mt_producer *p, int timeout_ms, mt_errbuf *eb)
{
    int64_t deadline = now_ms() + (timeout_ms < 0 ? 0 : timeout_ms);
    for (;;) {
        producer_service(p);
        if (p->count == 0)
            return MT_OK;
        int left = ms_left(deadline);
        if (left == 0)
            break;
        int slice = left < 100 ? left : 100;
        if (!p->rk)
            backoff_ms(slice < 10 ? slice : 10); /* recreation failed: retry soon */
        else if (rd_kafka_outq_len(p->rk) > 0)
            rd_kafka_flush(p->rk, slice);
        else
            rd_kafka_poll(p->rk, slice < 10 ? slice : 10);
    }
    return mt_fail(eb, MT_ERR_TIMEOUT,
                   "mt_producer_flush: %zu message(s) still unacknowledged after %d ms "
                   "(brokers %s reachable?)",
                   p->count, timeout_ms, p->cfg.kafka.bootstrap);
}

mt_err mt_producer_set_wakeup_fd(mt_producer *p, int fd)
{
    if (!p || fd < 0)
        return MT_ERR_INVALID_ARG;
    p->wakeup_fd = fd;
    producer_apply_wakeup(p);
    return MT_OK;
}

size_t mt_producer_inflight(const mt_producer *p)
{
    return p->count;
}

int mt_producer_retry_ms(const mt_producer *p)
{
    if (!p || !p->fatal)
        return -1;
    int64_t left = p->recreate_at - now_ms();
    return left <= 0 ? 0 : (int)left;
}

unsigned mt_producer_recreations(const mt_producer *p)
{
    return p->recreations;
}

unsigned long mt_producer_resent(const mt_producer *p)
{
    return p->resent;
}

struct rd_kafka_s *mt_producer_rdkafka(mt_producer *p)
{
    return p->rk;
}

void mt_producer_destroy(mt_producer *p)
{
    if (!p)
        return;
    p->closing = true;
    if (p->rk) {
        rd_kafka_purge(p->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
        int64_t deadline = now_ms() + 5000;
        while (rd_kafka_outq_len(p->rk) > 0 && ms_left(deadline) > 0)
            rd_kafka_poll(p->rk, 50);
        rd_kafka_destroy(p->rk);
        p->rk = NULL;
    }
    while (p->head)
        pmsg_report(p, p->head, MT_ERR_STATE, "producer destroyed before delivery", -1, -1);
    free(p);
}

/* ---- consumer ---------------------------------------------------------- */

struct mt_consumer {
    rd_kafka_t *rk;
    bool report_eof;
    bool assign_only;
    bool group_denied_noted; /* assign-only: GROUP_AUTHORIZATION_FAILED logged once */
    char **topics; /* assign_only: the topics to assign */
    size_t ntopics;
    size_t assigned; /* partitions of the last successful mt_consumer_assign_all */
};

static void free_topics(mt_consumer *c)
{
    for (size_t i = 0; c->topics && i < c->ntopics; i++)
        free(c->topics[i]);
    free(c->topics);
}

static void consumer_error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    (void)opaque;
    char msg[600];
    snprintf(msg, sizeof msg, "%s: %s", rd_kafka_err2name((rd_kafka_resp_err_t)err), reason);
    kafka_log_line("warn", rd_kafka_name(rk), "ERROR", msg);
}

mt_err mt_consumer_new(const mt_consumer_config *cfg, mt_consumer **out, mt_errbuf *eb)
{
    char errstr[512];
    rd_kafka_conf_t *conf = NULL;
    rd_kafka_topic_partition_list_t *subs = NULL;
    mt_err err;
    if (!cfg || !out || !cfg->group_id || !*cfg->group_id || !cfg->ntopics || !cfg->topics)
        return mt_fail(eb, MT_ERR_INVALID_ARG,
                       "mt_consumer_new: group_id and at least one topic are required");
    mt_consumer *c = calloc(1, sizeof *c);
    if (!c)
        return mt_fail(eb, MT_ERR_NOMEM, "mt_consumer_new: out of memory");
    c->report_eof = cfg->report_eof != 0;
    const mt_kafka_prop defaults[] = {
        {"group.id", cfg->group_id},
        {"enable.auto.commit", "false"},
        {"enable.auto.offset.store", "false"},
        {"auto.offset.reset", cfg->offset_reset ? cfg->offset_reset : "earliest"},
        {"enable.partition.eof", c->report_eof ? "true" : "false"},
    };
    conf = rd_kafka_conf_new();
    err = conf_common(conf, &cfg->kafka, defaults, sizeof defaults / sizeof defaults[0], eb);
    if (err)
        goto fail;
    rd_kafka_conf_set_opaque(conf, c);
    rd_kafka_conf_set_error_cb(conf, consumer_error_cb);
    c->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
    if (!c->rk) {
        err = mt_fail(eb, MT_ERR_KAFKA, "mt_consumer_new: cannot create consumer for %s: %s",
                      cfg->kafka.bootstrap, errstr);
        goto fail;
    }
    conf = NULL; /* owned by rk */
    rd_kafka_poll_set_consumer(c->rk);
    subs = rd_kafka_topic_partition_list_new((int)cfg->ntopics);
    for (size_t i = 0; i < cfg->ntopics; i++) {
        if (!cfg->topics[i] || !*cfg->topics[i]) {
            err = mt_fail(eb, MT_ERR_INVALID_ARG, "mt_consumer_new: topic %zu is empty", i);
            goto fail;
        }
        rd_kafka_topic_partition_list_add(subs, cfg->topics[i], RD_KAFKA_PARTITION_UA);
    }
    if (cfg->assign_only) {
        c->assign_only = true;
        c->topics = calloc(cfg->ntopics, sizeof *c->topics);
        c->ntopics = c->topics ? cfg->ntopics : 0;
        for (size_t i = 0; c->topics && i < cfg->ntopics; i++)
            if (!(c->topics[i] = strdup(cfg->topics[i]))) {
                err = mt_fail(eb, MT_ERR_NOMEM, "mt_consumer_new: out of memory");
                goto fail;
            }
        if (!c->topics) {
            err = mt_fail(eb, MT_ERR_NOMEM, "mt_consumer_new: out of memory");
            goto fail;
        }
        rd_kafka_topic_partition_list_destroy(subs);
        *out = c;
        return MT_OK;
    }
    rd_kafka_resp_err_t e = rd_kafka_subscribe(c->rk, subs);
    if (e) {
        err = mt_fail(eb, MT_ERR_KAFKA, "mt_consumer_new: subscribe to %s...: %s",
                      cfg->topics[0], rd_kafka_err2str(e));
        goto fail;
    }
    rd_kafka_topic_partition_list_destroy(subs);
    *out = c;
    return MT_OK;
fail:
    if (subs)
        rd_kafka_topic_partition_list_destroy(subs);
    if (conf)
        rd_kafka_conf_destroy(conf);
    if (c->rk)
        rd_kafka_destroy(c->rk);
    free_topics(c);
    free(c);
    return err;
}

static bool consumer_err_is_permanent(rd_kafka_resp_err_t e)
{
    switch (e) {
    case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
    case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
    case RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION:
    case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR__FATAL:
    case RD_KAFKA_RESP_ERR__AUTHENTICATION:
        return true;
    default:
        return false;
    }
}

mt_err mt_consumer_poll(mt_consumer *c, int timeout_ms, mt_kafka_msg *out, mt_errbuf *eb)
{
    if (!c || !out)
        return mt_fail(eb, MT_ERR_INVALID_ARG, "mt_consumer_poll: NULL argument");
    memset(out, 0, sizeof *out);
    int64_t deadline = now_ms() + (timeout_ms < 0 ? 0 : timeout_ms);
    for (;;) {
        rd_kafka_message_t *rkm = rd_kafka_consumer_poll(c->rk, ms_left(deadline));
        if (!rkm) {
            if (ms_left(deadline) == 0)
                return MT_ERR_TIMEOUT;
            continue;
        }
        if (rkm->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            if (!c->report_eof) {
                rd_kafka_message_destroy(rkm);
                continue;
            }
            out->eof = 1;
        } else if (rkm->err) {
            const char *topic = rkm->rkt ? rd_kafka_topic_name(rkm->rkt) : "-";
            if (c->assign_only && rkm->err == RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED) {
                /* librdkafka looks up the group's coordinator even for an
                 * assign-only reader, which never commits: with least-
                 * privilege ACLs it has no right on the group and needs
                 * none (docs/kafka-security.md). */
                if (!c->group_denied_noted) {
                    c->group_denied_noted = true;
                    kafka_log_line("info", rd_kafka_name(c->rk), "GROUP",
                                   "no right on the consumer group; not needed by this "
                                   "assign-only reader (no offsets are committed)");
                }
                rd_kafka_message_destroy(rkm);
                if (ms_left(deadline) == 0)
                    return MT_ERR_TIMEOUT;
                continue;
            }
            if (consumer_err_is_permanent(rkm->err)) {
                mt_err err = mt_fail(eb, MT_ERR_KAFKA, "mt_consumer_poll: %s [%" PRId32 "]: %s",
                                     topic, rkm->partition, rd_kafka_message_errstr(rkm));
                rd_kafka_message_destroy(rkm);
                return err;
            }
            char msg[600];
            snprintf(msg, sizeof msg, "consumer error on %s [%" PRId32 "]: %s", topic,
                     rkm->partition, rd_kafka_message_errstr(rkm));
            kafka_log_line("warn", rd_kafka_name(c->rk), "CONSUME", msg);
            rd_kafka_message_destroy(rkm);
            if (ms_left(deadline) == 0)
                return MT_ERR_TIMEOUT;
            continue;
        }
        out->topic = rkm->rkt ? rd_kafka_topic_name(rkm->rkt) : "";
        out->partition = rkm->partition;
        out->offset = rkm->offset;
        out->timestamp_ms = rd_kafka_message_timestamp(rkm, NULL);
        if (!out->eof) {
            out->key = rkm->key;
            out->key_len = rkm->key_len;
            out->value = rkm->payload;
            out->value_len = rkm->len;
        }
        out->priv = rkm;
        return MT_OK;
    }
}

mt_err mt_kafka_msg_header(const mt_kafka_msg *m, const char *name, const void **value,
                           size_t *len)
{
    rd_kafka_headers_t *hs = NULL;
    if (!m || !m->priv || !name || !value || !len)
        return MT_ERR_INVALID_ARG;
    if (rd_kafka_message_headers(m->priv, &hs) != RD_KAFKA_RESP_ERR_NO_ERROR)
        return MT_ERR_NOT_FOUND;
    if (rd_kafka_header_get_last(hs, name, value, len) != RD_KAFKA_RESP_ERR_NO_ERROR)
        return MT_ERR_NOT_FOUND;
    return MT_OK;
}

void mt_kafka_msg_release(mt_kafka_msg *m)
{
    if (m && m->priv) {
        rd_kafka_message_destroy(m->priv);
        memset(m, 0, sizeof *m);
    }
}

mt_err mt_consumer_commit(mt_consumer *c, const mt_kafka_msg *m, mt_errbuf *eb)
{
    if (!c || !m || !m->topic || m->offset < 0)
        return mt_fail(eb, MT_ERR_INVALID_ARG, "mt_consumer_commit: no message to commit");
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, m->topic, m->partition)->offset = m->offset + 1;
    mt_err err = MT_OK;
    rd_kafka_resp_err_t e = rd_kafka_commit(c->rk, l, 0);
    if (e == RD_KAFKA_RESP_ERR_NO_ERROR)
        e = l->elems[0].err;
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
        err = mt_fail(eb, MT_ERR_KAFKA, "mt_consumer_commit: %s [%" PRId32 "] offset %" PRId64 ": %s",
                      m->topic, m->partition, m->offset + 1, rd_kafka_err2str(e));
    rd_kafka_topic_partition_list_destroy(l);
    return err;
}

void mt_consumer_destroy(mt_consumer *c)
{
    if (!c)
        return;
    rd_kafka_resp_err_t e = rd_kafka_consumer_close(c->rk);
    if (e) {
        char msg[300];
        snprintf(msg, sizeof msg, "consumer close: %s", rd_kafka_err2str(e));
        kafka_log_line("warn", rd_kafka_name(c->rk), "CLOSE", msg);
    }
    rd_kafka_destroy(c->rk);
    free_topics(c);
    free(c);
}

mt_err mt_consumer_assign_all(mt_consumer *c, int64_t from_ms, int timeout_ms, mt_errbuf *eb)
{
    if (!c)
        return mt_fail(eb, MT_ERR_INVALID_ARG, "mt_consumer_assign_all: NULL consumer");
    if (!c->assign_only)
        return mt_fail(eb, MT_ERR_STATE, "mt_consumer_assign_all: consumer subscribes to a group");
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(16);
    mt_err err = MT_OK;
    for (size_t t = 0; t < c->ntopics && err == MT_OK; t++) {
        rd_kafka_topic_t *rkt = rd_kafka_topic_new(c->rk, c->topics[t], NULL);
        const struct rd_kafka_metadata *md = NULL;
        rd_kafka_resp_err_t e =
            rkt ? rd_kafka_metadata(c->rk, 0, rkt, &md, timeout_ms) : RD_KAFKA_RESP_ERR__FAIL;
        if (!e && md->topic_cnt == 1 && md->topics[0].err)
            e = md->topics[0].err;
        if (!e && (md->topic_cnt != 1 || md->topics[0].partition_cnt == 0))
            e = RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART;
        if (e)
            err = mt_fail(eb,
                          e == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART ? MT_ERR_NOT_FOUND
                                                                       : MT_ERR_KAFKA,
                          "topic %s: %s", c->topics[t], rd_kafka_err2str(e));
        for (int i = 0; !e && i < md->topics[0].partition_cnt; i++)
            rd_kafka_topic_partition_list_add(l, c->topics[t], md->topics[0].partitions[i].id)
                ->offset = from_ms > 0 ? from_ms : RD_KAFKA_OFFSET_BEGINNING;
        if (md)
            rd_kafka_metadata_destroy(md);
        if (rkt)
            rd_kafka_topic_destroy(rkt);
    }
    if (err == MT_OK && from_ms > 0) {
        /* timestamps -> offsets; -1 (no record that late) means the end */
        rd_kafka_resp_err_t e = rd_kafka_offsets_for_times(c->rk, l, timeout_ms);
        if (e)
            err = mt_fail(eb, MT_ERR_KAFKA, "offsets for time %lld: %s", (long long)from_ms,
                          rd_kafka_err2str(e));
        for (int i = 0; !err && i < l->cnt; i++)
            if (l->elems[i].offset < 0)
                l->elems[i].offset = RD_KAFKA_OFFSET_END;
    }
    if (err == MT_OK) {
        rd_kafka_resp_err_t e = rd_kafka_assign(c->rk, l);
        if (e)
            err = mt_fail(eb, MT_ERR_KAFKA, "assign: %s", rd_kafka_err2str(e));
        else
            c->assigned = (size_t)l->cnt;
    }
    rd_kafka_topic_partition_list_destroy(l);
    return err;
}

size_t mt_consumer_assigned(const mt_consumer *c)
{
    return c ? c->assigned : 0;
}

mt_err mt_consumer_set_wakeup_fd(mt_consumer *c, int fd)
{
    if (!c || fd < 0)
        return MT_ERR_INVALID_ARG;
    rd_kafka_queue_t *q = rd_kafka_queue_get_consumer(c->rk);
    if (!q)
        return MT_ERR_KAFKA;
    rd_kafka_queue_io_event_enable(q, fd, "1", 1);
    rd_kafka_queue_destroy(q);
    return MT_OK;
}

/* ---- admin ------------------------------------------------------------- */

/* True when metadata shows `name` with every partition led. */
static bool topic_ready(rd_kafka_t *rk, const char *name, int timeout_ms)
{
    bool ok = false;
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, name, NULL);
    if (!rkt)
        return false;
    if (rd_kafka_metadata(rk, 0, rkt, &md, timeout_ms) != RD_KAFKA_RESP_ERR_NO_ERROR)
        goto done;
    if (md->topic_cnt != 1 || md->topics[0].err || md->topics[0].partition_cnt < 1)
        goto done;
    for (int i = 0; i < md->topics[0].partition_cnt; i++) {
        const rd_kafka_metadata_partition_t *pt = &md->topics[0].partitions[i];
        if (pt->err || pt->leader < 0)
            goto done;
    }
    ok = true;
done:
    if (md)
        rd_kafka_metadata_destroy(md);
    rd_kafka_topic_destroy(rkt);
    return ok;
}

/* Whether the cluster's metadata lists every named topic with partitions.
 * Any live broker answers metadata, whereas CreateTopics goes through the
 * controller: right after a broker dies, clients may still name it as the
 * controller and a CreateTopics of topics that exist anyway would wait for
 * it until the deadline (seen with a 3-node cluster under load). */
static bool topics_exist(rd_kafka_t *rk, const char *const *names, size_t n, int timeout_ms)
{
    const struct rd_kafka_metadata *md = NULL;
    if (rd_kafka_metadata(rk, 1, NULL, &md, timeout_ms) != RD_KAFKA_RESP_ERR_NO_ERROR)
        return false;
    size_t found = 0;
    for (size_t i = 0; i < n; i++)
        for (int t = 0; t < md->topic_cnt; t++)
            if (!md->topics[t].err && md->topics[t].partition_cnt > 0 &&
                strcmp(md->topics[t].topic, names[i]) == 0) {
                found++;
                break;
            }
    rd_kafka_metadata_destroy(md);
    return found == n;
}

mt_err mt_kafka_create_topics(const mt_kafka_config *kc, const char *const *names, size_t n,
                              int partitions, int rf, const mt_kafka_prop *configs,
                              size_t nconfigs, int timeout_ms, mt_errbuf *eb)
{
    char errstr[512];
    mt_err err = MT_OK;
    rd_kafka_t *rk = NULL;
    rd_kafka_NewTopic_t **nts = NULL;
    rd_kafka_AdminOptions_t *opts = NULL;
    rd_kafka_queue_t *q = NULL;
    rd_kafka_event_t *ev = NULL;
    int64_t deadline = now_ms() + (timeout_ms > 0 ? timeout_ms : 0);
    if (!names || !n || n > 1000 || partitions < 1 || rf < 1 || (nconfigs && !configs))
        return mt_fail(eb, MT_ERR_INVALID_ARG,
                       "mt_kafka_create_topics: need 1..1000 names, partitions >= 1, rf >= 1");

    static const mt_kafka_prop defaults[] = {{"allow.auto.create.topics", "false"}};
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    err = conf_common(conf, kc, defaults, 1, eb);
    if (err) {
        rd_kafka_conf_destroy(conf);
        return err;
    }
    rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    if (!rk) {
        rd_kafka_conf_destroy(conf);
        return mt_fail(eb, MT_ERR_KAFKA, "mt_kafka_create_topics: client for %s: %s",
                       kc->bootstrap, errstr);
    }
    nts = calloc(n, sizeof *nts);
    if (!nts) {
        err = mt_fail(eb, MT_ERR_NOMEM, "mt_kafka_create_topics: out of memory");
        goto fail;
    }
    for (size_t i = 0; i < n; i++) {
        nts[i] = rd_kafka_NewTopic_new(names[i], partitions, rf, errstr, sizeof errstr);
        if (!nts[i]) {
            err = mt_fail(eb, MT_ERR_INVALID_ARG, "mt_kafka_create_topics: topic '%s': %s",
                          names[i] ? names[i] : "(null)", errstr);
            goto fail;
        }
        for (size_t j = 0; j < nconfigs; j++) {
            rd_kafka_resp_err_t e =
                rd_kafka_NewTopic_set_config(nts[i], configs[j].key, configs[j].value);
            if (e) {
                err = mt_fail(eb, MT_ERR_CONFIG, "mt_kafka_create_topics: config %s=%s: %s",
                              configs[j].key, configs[j].value, rd_kafka_err2str(e));
                goto fail;
            }
        }
    }
    if (topics_exist(rk, names, n, ms_left(deadline) < 5000 ? ms_left(deadline) : 5000))
        goto wait_ready;
    opts = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
    rd_kafka_AdminOptions_set_request_timeout(opts, ms_left(deadline), errstr, sizeof errstr);
    rd_kafka_AdminOptions_set_operation_timeout(opts, ms_left(deadline), errstr, sizeof errstr);
    q = rd_kafka_queue_new(rk);
    rd_kafka_CreateTopics(rk, nts, n, opts, q);
    ev = rd_kafka_queue_poll(q, ms_left(deadline) + 1000);
    if (!ev) {
        err = mt_fail(eb, MT_ERR_TIMEOUT, "mt_kafka_create_topics: no answer from %s in %d ms",
                      kc->bootstrap, timeout_ms);
        goto fail;
    }
    if (rd_kafka_event_error(ev)) {
        err = mt_fail(eb, MT_ERR_KAFKA, "mt_kafka_create_topics: %s: %s", kc->bootstrap,
                      rd_kafka_event_error_string(ev));
        goto fail;
    }
    const rd_kafka_CreateTopics_result_t *res = rd_kafka_event_CreateTopics_result(ev);
    size_t cnt = 0;
    const rd_kafka_topic_result_t **trs = res ? rd_kafka_CreateTopics_result_topics(res, &cnt)
                                              : NULL;
    for (size_t i = 0; i < cnt; i++) {
        rd_kafka_resp_err_t e = rd_kafka_topic_result_error(trs[i]);
        if (e && e != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
            const char *es = rd_kafka_topic_result_error_string(trs[i]);
            err = mt_fail(eb, map_rd_err(e) == MT_ERR_TIMEOUT ? MT_ERR_TIMEOUT : MT_ERR_KAFKA,
                          "mt_kafka_create_topics: topic %s: %s",
                          rd_kafka_topic_result_name(trs[i]), es ? es : rd_kafka_err2str(e));
            goto fail;
        }
    }
wait_ready:
    for (size_t i = 0; i < n; i++) {
        while (!topic_ready(rk, names[i], ms_left(deadline) < 2000 ? ms_left(deadline) + 1 : 2000)) {
            if (ms_left(deadline) == 0) {
                err = mt_fail(eb, MT_ERR_TIMEOUT,
                              "mt_kafka_create_topics: topic %s has partitions without a "
                              "leader after %d ms",
                              names[i], timeout_ms);
                goto fail;
            }
            backoff_ms(50);
        }
    }
fail:
    if (ev)
        rd_kafka_event_destroy(ev);
    if (q)
        rd_kafka_queue_destroy(q);
    if (opts)
        rd_kafka_AdminOptions_destroy(opts);
    if (nts) {
        for (size_t i = 0; i < n; i++)
            if (nts[i])
                rd_kafka_NewTopic_destroy(nts[i]);
        free(nts);
    }
    rd_kafka_destroy(rk);
    return err;
}
