/* Fuzzes mcptrail-replay's summary decoder of SessionEvents (consumers/replay/
 * event.c), which reads untrusted archive and topic bytes without the
 * generic Avro decoder. Inputs not starting with C3 01 get the real
 * SessionEvent header prepended, so the fuzzer spends its time in the datum.
 * Differential check: whenever the library's full decoder (mt_avro_decode)
 * accepts a record, the summary decoder must accept it too and agree on
 * session_id, seq and ts, and the direct JSON writer (mt_rev_write_json)
 * must print exactly what json_dumps prints for the decoded value; any
 * disagreement aborts. The input also goes through the payload re-indenter, and
 * accepted events with a stream feed the stream judgement (archive_streams.c),
 * checked and reset every 64 events. Seeds in fuzz/corpus/replay are real
 * recorded events. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mcptrail/archive.h"
#include "mcptrail/event.h"
#include "mcptrail/avro.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static mt_avro_registry *reg;
static uint64_t fp;
static mt_streams *streams;
static unsigned nstream;

static void ignore_problem(void *ctx, mt_stream_problem c, const char *where, const char *d)
{
    (void)ctx;
    if ((unsigned)c >= MT_SP_N || !where || !d)
        abort();
}

static void feed_streams(const mt_rev *ev)
{
    if (ev->stream_seq < 0)
        return;
    if (!streams && mt_streams_new(&streams, NULL) != MT_OK)
        abort();
    /* the record's "hash": its timestamp, so equal seqs with equal ts are duplicates */
    uint8_t own[32] = {0};
    char place[MT_STREAM_PLACE_MAX];
    mt_stream_obs o;
    memcpy(own, &ev->ts_us, sizeof ev->ts_us);
    mt_stream_obs_of(ev, own, place, &o);
    if (mt_streams_add(streams, &o) != MT_OK)
        abort();
    if (++nstream % 64 == 0) {
        mt_streams_summary sum;
        mt_streams_check(streams, ev->ts_us / 1000, ignore_problem, NULL, NULL, &sum);
        mt_streams_free(streams);
        streams = NULL;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!reg) {
        if (mt_avro_registry_load(NULL, &reg, NULL) != MT_OK)
            abort();
        fp = mt_avro_schema_fingerprint(mt_avro_registry_find(reg, "dev.mcptrail.SessionEvent"));
    }
    uint8_t *buf = malloc(size + 10);
    if (!buf)
        return 0;
    size_t n = size;
    if (size >= 2 && data[0] == 0xC3 && data[1] == 0x01) {
        memcpy(buf, data, size);
    } else {
        buf[0] = 0xC3;
        buf[1] = 0x01;
        for (int i = 0; i < 8; i++)
            buf[2 + i] = (uint8_t)(fp >> (8 * i));
        memcpy(buf + 10, data, size);
        n = size + 10;
    }
    mt_rev ev;
    mt_err err = mt_rev_parse(buf, n, fp, &ev);
    if (err == MT_OK)
        feed_streams(&ev);
    json_t *d = NULL;
    if (mt_avro_decode(reg, buf, n, NULL, &d, NULL) == MT_OK) {
        if (err != MT_OK)
            abort();
        const char *sid = json_string_value(json_object_get(d, "session_id"));
        if (!sid || json_string_length(json_object_get(d, "session_id")) != ev.session_id.n || memcmp(sid, ev.session_id.p, ev.session_id.n) ||
            json_integer_value(json_object_get(d, "seq")) != ev.seq ||
            json_integer_value(json_object_get(d, "ts")) != ev.ts_us)
            abort();
        /* the direct JSON writer must print what the generic decoder prints */
        char *want = json_dumps(d, JSON_COMPACT | JSON_PRESERVE_ORDER);
        mt_buf w = {0};
        if (mt_rev_write_json(buf, n, fp, &w) != MT_OK || !want || strlen(want) != w.len ||
            memcmp(want, w.data, w.len) != 0)
            abort();
        mt_buf_free(&w);
        free(want);
        json_decref(d);
    } else if (err == MT_OK) {
        mt_buf w = {0};
        mt_rev_write_json(buf, n, fp, &w); /* accepted by the summary decoder: must not crash */
        mt_buf_free(&w);
    }
    /* the payload re-indenter takes any bytes */
    mt_buf r = {0};
    mt_json_reindent((const char *)data, size, "  ", &r);
    mt_buf_free(&r);
    free(buf);
    return 0;
}
