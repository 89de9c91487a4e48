/* mcptrail-decision-verify: checks the Ed25519 signatures of approval
 * records offline, with only public keys.
 *
 *   mcptrail-events tail mcptrail.approval.decisions \
 *     | mcptrail-decision-verify --public-key approvals.pub.pem
 *   mcptrail-events tail mcptrail.approval.votes \
 *     | mcptrail-decision-verify --public-key approvals.pub.pem --public-key bot.pub.pem
 *
 * Reads JSON Lines of ApprovalDecision, ApprovalVote and ApprovalRequest
 * records in the JSON mapping of mcptrail/avro.h ("$schema" names the type;
 * a line without it is a decision; other members starting with '$', as
 * added by `mcptrail-events tail`, are ignored; other record types are
 * skipped). Each record is checked under the given key its key_id names
 * (--public-key may be repeated: the service's, bots', sidecars' keys) and
 * one line is printed:
 *   decisions: "ok|BAD <approval_id> <decision> <key_id> approvers=<subjects>"
 *   votes:     "ok|BAD|UNSIGNED <approval_id> vote <vote> <key_id|-> voter=<subject> source=<source>"
 *   requests:  "ok|BAD|UNSIGNED <approval_id> request <tool|method> <key_id|->"
 * Which key may sign which record is mcptrail-approvals' rule (docs/approvals.md
 * "Who may vote"); this tool shows who signed. Exit 0 when every record
 * verified, 1 when one did not or was unsigned, 2 on usage errors. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mcptrail/approval.h"
#include "mcptrail/json.h"

#define MAX_KEYS 16

typedef struct vkey {
    mt_ed25519_key *key;
    char id[MT_ED25519_KEY_ID_SIZE];
} vkey;

static const mt_ed25519_key *key_for(const vkey *keys, int n, const char *kid)
{
    for (int i = 0; kid && i < n; i++)
        if (strcmp(keys[i].id, kid) == 0)
            return keys[i].key;
    return NULL;
}

static const char *str(const json_t *o, const char *k, const char *dflt)
{
    const char *v = json_string_value(json_object_get(o, k));
    return v ? v : dflt;
}

int main(int argc, char **argv)
{
    vkey keys[MAX_KEYS];
    int nkeys = 0, rc = 0;
    mt_errbuf eb = {{0}};
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--public-key") != 0 || i + 1 >= argc || nkeys == MAX_KEYS) {
            fputs("usage: mcptrail-decision-verify --public-key PEM [--public-key PEM ...] "
                  "< records.jsonl\n",
                  stderr);
            rc = 2;
            goto out;
        }
        if (mt_ed25519_load_public_pem_file(argv[++i], &keys[nkeys].key, &eb) != MT_OK ||
            mt_ed25519_key_id(keys[nkeys].key, keys[nkeys].id, &eb) != MT_OK) {
            fprintf(stderr, "mcptrail-decision-verify: %s\n", eb.msg);
            nkeys += keys[nkeys].key != NULL;
            rc = 2;
            goto out;
        }
        nkeys++;
    }
    if (nkeys == 0) {
        fputs("usage: mcptrail-decision-verify --public-key PEM [--public-key PEM ...] "
              "< records.jsonl\n",
              stderr);
        return 2;
    }
    mt_avro_registry *reg = NULL;
    if (mt_avro_registry_load(NULL, &reg, &eb) != MT_OK) {
        fprintf(stderr, "mcptrail-decision-verify: %s\n", eb.msg);
        rc = 2;
        goto out;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int lineno = 0;
    while ((n = getline(&line, &cap, stdin)) > 0) {
        lineno++;
        json_t *d = NULL;
        if (mt_json_parse(line, (size_t)n, NULL, &d, &eb) != MT_OK || !json_is_object(d)) {
            fprintf(stderr, "line %d: not a JSON object: %s\n", lineno, eb.msg);
            json_decref(d);
            rc = 1;
            continue;
        }
        const mt_avro_schema *s =
            mt_avro_registry_find(reg, str(d, "$schema", MT_APPROVAL_DECISION_SCHEMA));
        if (!s || !mt_approval_context(s)) {
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
        const char *kid = str(d, "key_id", NULL);
        const mt_ed25519_key *key = key_for(keys, nkeys, kid);
        const char *type = mt_avro_schema_name(s); /* "$schema" is gone: the schema's own */
        bool is_dec = strcmp(type, MT_APPROVAL_DECISION_SCHEMA) == 0;
        bool unsigned_rec = !is_dec && (!kid || json_is_null(json_object_get(d, "signature")));
        mt_err err = MT_ERR_BAD_SIGNATURE;
        if (unsigned_rec)
            snprintf(eb.msg, sizeof eb.msg, "not signed");
        else if (!key)
            snprintf(eb.msg, sizeof eb.msg, "key %s is not among the --public-key keys",
                     kid ? kid : "(none)");
        else
            err = mt_approval_verify(s, d, key, &eb);
        const char *verdict = err == MT_OK ? "ok" : unsigned_rec ? "UNSIGNED" : "BAD";
        const char *id = str(d, "approval_id", "?");
        if (is_dec) {
            printf("%s %s %s %s approvers=", verdict, id, str(d, "decision", "?"),
                   kid ? kid : "-");
            size_t i;
            json_array_foreach(json_object_get(d, "approvers"), i, v)
                printf("%s%s", i ? "," : "", str(v, "subject", "?"));
            printf("\n");
        } else if (strcmp(type, MT_APPROVAL_VOTE_SCHEMA) == 0) {
            printf("%s %s vote %s %s voter=%s source=%s\n", verdict, id, str(d, "vote", "?"),
                   kid ? kid : "-", str(json_object_get(d, "voter"), "subject", "?"),
                   str(d, "source", "?"));
        } else {
            printf("%s %s request %s %s\n", verdict, id,
                   str(d, "tool", str(d, "method", "?")), kid ? kid : "-");
        }
        if (err != MT_OK) {
            fprintf(stderr, "line %d: %s\n", lineno, eb.msg);
            rc = 1;
        }
        json_decref(d);
    }
    free(line);
    mt_avro_registry_free(reg);
out:
    for (int i = 0; i < nkeys; i++)
        mt_ed25519_free(keys[i].key);
    return rc;
}
