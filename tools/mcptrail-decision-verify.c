/* mcptrail-decision-verify: checks the Ed25519 signatures of approval
 * decisions offline, with only the public key.
 *
 *   mcptrail-events tail mcptrail.approval.decisions \
 *     | mcptrail-decision-verify --public-key approvals.pub.pem
 *
 * Reads JSON Lines of ApprovalDecision records in the JSON mapping of
 * mcptrail/avro.h (members starting with '$', as added by `mcptrail-events
 * tail`, are ignored; lines of other record types are skipped) and prints
 * one line per decision: "ok|BAD <approval_id> <decision> <key_id>
 * approvers=<subjects>". Exit 0 when every decision verified, 1 when one did
 * not, 2 on usage errors. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mcptrail/approval.h"
#include "mcptrail/json.h"

int main(int argc, char **argv)
{
    if (argc != 3 || strcmp(argv[1], "--public-key") != 0) {
        fputs("usage: mcptrail-decision-verify --public-key PEM < decisions.jsonl\n", stderr);
        return 2;
    }
    mt_errbuf eb = {{0}};
    mt_ed25519_key *key = NULL;
    mt_avro_registry *reg = NULL;
    if (mt_ed25519_load_public_pem_file(argv[2], &key, &eb) != MT_OK ||
        mt_avro_registry_load(NULL, &reg, &eb) != MT_OK) {
        fprintf(stderr, "mcptrail-decision-verify: %s\n", eb.msg);
        mt_ed25519_free(key);
        return 2;
    }
    const mt_avro_schema *s = mt_avro_registry_find(reg, MT_APPROVAL_DECISION_SCHEMA);
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int bad = 0, lineno = 0;
    while (s && (n = getline(&line, &cap, stdin)) > 0) {
        lineno++;
        json_t *d = NULL;
        if (mt_json_parse(line, (size_t)n, NULL, &d, &eb) != MT_OK || !json_is_object(d)) {
            fprintf(stderr, "line %d: not a JSON object: %s\n", lineno, eb.msg);
            json_decref(d);
            bad = 1;
            continue;
        }
        const char *type = json_string_value(json_object_get(d, "$schema"));
        if (type && strcmp(type, MT_APPROVAL_DECISION_SCHEMA) != 0) {
            json_decref(d);
            continue;
        }
        const char *k;
        json_t *v, *tmp;
        json_object_foreach_safe(d, tmp, k, v)
        {
            if (k[0] == '$')
                json_object_del(d, k);
        }
        mt_err err = mt_approval_verify(s, d, key, &eb);
        printf("%s %s %s %s approvers=", err == MT_OK ? "ok" : "BAD",
               json_string_value(json_object_get(d, "approval_id")),
               json_string_value(json_object_get(d, "decision")),
               json_string_value(json_object_get(d, "key_id")));
        size_t i;
        json_array_foreach(json_object_get(d, "approvers"), i, v)
            printf("%s%s", i ? "," : "", json_string_value(json_object_get(v, "subject")));
        printf("\n");
        if (err != MT_OK) {
            fprintf(stderr, "line %d: %s\n", lineno, eb.msg);
            bad = 1;
        }
        json_decref(d);
    }
    free(line);
    mt_avro_registry_free(reg);
    mt_ed25519_free(key);
    return bad;
}
