/* Prints sample records as JSON lines (the JSON mapping of mcptrail/avro.h)
 * for the cross-language tests: the regular mt_sample_* records plus edge
 * cases the samples do not reach on their own (extreme longs and ints, every
 * optional field null, empty strings and arrays, astral-plane Unicode).
 *   crosslang_samples SCHEMA_FULLNAME COUNT */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sample_events.h"

static json_t *edge_session_event(int which)
{
    json_t *ev = mt_sample_session_event(1000 + (uint64_t)which);
    static const char *const nullable[] = {
        "http",     "rpc",           "payload_masked", "payload_hmac", "policy",
        "approval", "justification", "latency_us",     "traceparent",  "prev_hash"};
    switch (which) {
    case 0: /* every optional field null, arrays empty */
        for (size_t i = 0; i < sizeof nullable / sizeof nullable[0]; i++)
            json_object_set_new(ev, nullable[i], json_null());
        json_object_set_new(ev, "mask_summary", json_array());
        json_object_set_new(ev, "identity",
                            json_pack("{s:n,s:n,s:n,s:n,s:n,s:n}", "issuer", "subject", "audience",
                                      "auth_method", "token_fingerprint", "ci"));
        break;
    case 1: /* extreme numbers */
        json_object_set_new(ev, "seq", json_integer(INT64_MAX));
        json_object_set_new(ev, "ts", json_integer(INT64_MIN));
        json_object_set_new(ev, "latency_us", json_integer(-1));
        json_object_set_new(json_object_get(ev, "identity"), "ci",
                            json_pack("{s:n,s:n,s:n,s:n,s:i,s:n,s:n,s:n,s:n}", "repository",
                                      "workflow", "job", "run_id", "run_attempt", INT32_MIN, "sha",
                                      "ref", "actor", "environment"));
        json_object_set_new(ev, "rpc",
                            json_pack("{s:s,s:n,s:n,s:n,s:b,s:I}", "id", "\"x\"", "method", "tool",
                                      "resource_uri", "is_error", 1, "error_code",
                                      (json_int_t)INT64_MIN));
        break;
    case 2: /* Unicode: astral plane, combining marks, RTL, NUL-free control chars */
        json_object_set_new(ev, "payload_masked",
                            json_string("{\"t\":\"\xf0\x9f\x98\x80 \xf0\x9d\x84\x9e e\xcc\x81 "
                                        "\xd7\xa9\xd7\x9c\xd7\x95\xd7\x9d \\u0007 tab\\t\"}"));
        json_object_set_new(ev, "justification", json_string("\xe2\x80\xae reversed \x01\x1f"));
        json_object_set_new(ev, "session_id", json_string(""));
        break;
    default: /* long strings and many array items */ {
        json_t *mask = json_array();
        for (int i = 0; i < 300; i++)
            json_array_append_new(mask, json_pack("{s:s,s:s,s:i}", "detector", "d", "action",
                                                  (i % 2) ? "drop" : "tokenize", "count", i));
        json_object_set_new(ev, "mask_summary", mask);
        char *big = malloc(70000);
        memset(big, 'x', 69999);
        big[69999] = '\0';
        json_object_set_new(ev, "payload_masked", json_string(big));
        free(big);
        break;
    }
    }
    return ev;
}

int main(int argc, char **argv)
{
    static const struct {
        const char *name;
        json_t *(*fn)(uint64_t);
    } kinds[] = {
        {"dev.mcptrail.SessionEvent", mt_sample_session_event},
        {"dev.mcptrail.ApprovalRequest", mt_sample_approval_request},
        {"dev.mcptrail.ApprovalVote", mt_sample_approval_vote},
        {"dev.mcptrail.ApprovalDecision", mt_sample_approval_decision},
    };
    if (argc != 3) {
        fprintf(stderr, "usage: crosslang_samples SCHEMA_FULLNAME COUNT\n");
        return 2;
    }
    long count = strtol(argv[2], NULL, 10);
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        if (strcmp(kinds[k].name, argv[1]) != 0)
            continue;
        for (long i = 0; i < count; i++) {
            json_t *v = kinds[k].fn((uint64_t)i);
            if (json_dumpf(v, stdout, JSON_COMPACT) || fputc('\n', stdout) == EOF)
                return 1;
            json_decref(v);
        }
        for (int e = 0; k == 0 && e < 4; e++) {
            json_t *v = edge_session_event(e);
            if (json_dumpf(v, stdout, JSON_COMPACT) || fputc('\n', stdout) == EOF)
                return 1;
            json_decref(v);
        }
        return fflush(stdout) ? 1 : 0;
    }
    fprintf(stderr, "crosslang_samples: unknown schema %s\n", argv[1]);
    return 2;
}
