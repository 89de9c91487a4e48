/* Fuzzes the approvals service's handling of records from its topics
 * (consumers/approvals/ingest.c, trust.c, state.c): arbitrary bytes are
 * decoded like a Kafka record and, when they are an ApprovalRequest,
 * ApprovalVote or ApprovalDecision, go through the signature check and the
 * state machine against one table that lives across inputs, so sequences
 * (request, then votes) are explored too. Nothing may crash, leak or read
 * outside the input, and a record that fails the signature check must leave
 * every approval's state and votes as they were.
 *
 * The trusted keys come from fixed seeds (service 0x01.., sidecar 0x02..,
 * bot 0x03.. repeated), so the seeds in fuzz/corpus/approvals (records
 * signed with them) start past the signature check. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ingest.h"
#include "mcptrail/approval.h"

#define TABLE_MAX 256

static mt_avro_registry *reg;
static const mt_avro_schema *s_req, *s_vote, *s_dec;
static mt_trust trust;
static mt_appr_table tbl;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static mt_ed25519_key *seeded(uint8_t b)
{
    uint8_t seed[MT_ED25519_SEED_LEN];
    memset(seed, b, sizeof seed);
    mt_ed25519_key *k = NULL;
    if (mt_ed25519_from_seed(seed, &k, NULL) != MT_OK)
        abort();
    return k;
}

static char *pem(const mt_ed25519_key *k)
{
    mt_buf b = MT_BUF_INIT;
    if (mt_ed25519_public_pem(k, &b, NULL) != MT_OK)
        abort();
    char *s = strndup((const char *)b.data, b.len);
    mt_buf_free(&b);
    return s;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    mt_errbuf eb = {""};
    if (mt_avro_registry_load(NULL, &reg, &eb)) {
        fprintf(stderr, "fuzz_approvals: %s\n", eb.msg);
        abort();
    }
    s_req = mt_avro_registry_find(reg, MT_APPROVAL_REQUEST_SCHEMA);
    s_vote = mt_avro_registry_find(reg, MT_APPROVAL_VOTE_SCHEMA);
    s_dec = mt_avro_registry_find(reg, MT_APPROVAL_DECISION_SCHEMA);
    mt_ed25519_key *service = seeded(1), *sidecar = seeded(2), *bot = seeded(3);
    mt_trust_init(&trust);
    if (mt_trust_add_service(&trust, service, false, &eb) != MT_OK)
        abort();
    char *p1 = pem(sidecar), *p2 = pem(bot);
    json_t *doc = json_pack("{s:[{s:s,s:s}],s:[{s:s,s:s,s:s,s:s,s:[s]}]}", "sidecars", "name",
                            "fuzz-sidecar", "public_key", p1, "bots", "name", "fuzz-bot",
                            "public_key", p2, "subject", "fuzz-bot", "issuer", "fuzz", "groups",
                            "bots");
    char path[] = "/tmp/fuzz-approvals-trust.XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0 || !doc || json_dumpfd(doc, fd, 0) != 0)
        abort();
    close(fd);
    if (mt_trust_load_file(&trust, path, &eb) != MT_OK) {
        fprintf(stderr, "fuzz_approvals: %s\n", eb.msg);
        abort();
    }
    unlink(path);
    json_decref(doc);
    free(p1);
    free(p2);
    mt_ed25519_free(service);
    mt_ed25519_free(sidecar);
    mt_ed25519_free(bot);
    mt_appr_table_init(&tbl);
    return 0;
}

/* What a rejected record may not change. */
typedef struct snap {
    mt_appr_state state;
    size_t nvotes;
} snap;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *rec = NULL;
    const mt_avro_schema *s = NULL;
    if (mt_avro_decode(reg, data, size, &s, &rec, NULL) != MT_OK)
        return 0;
    if (tbl.n >= TABLE_MAX) {
        mt_appr_table_free(&tbl);
        mt_appr_table_init(&tbl);
    }
    snap *before = calloc(tbl.n + 1, sizeof *before);
    size_t n = tbl.n;
    for (size_t i = 0; before && i < n; i++)
        before[i] = (snap){tbl.items[i]->state, tbl.items[i]->nvotes};
    mt_appr_ingest in;
    memset(&in, 0, sizeof in);
    if (s == s_req)
        mt_appr_ingest_request(&tbl, &trust, s, rec, &in);
    else if (s == s_vote)
        mt_appr_ingest_vote(&tbl, &trust, s, rec, (size & 1) != 0, &in);
    else if (s == s_dec)
        mt_appr_ingest_decision(&tbl, &trust, s, rec, &in);
    /* A rejected record changes no approval, except a vote at or after the
     * expiry, which expires it (rule 5). */
    if (in.reason && strcmp(in.reason, "expired") != 0 && before && tbl.n == n)
        for (size_t i = 0; i < n; i++)
            if (tbl.items[i]->state != before[i].state ||
                tbl.items[i]->nvotes != before[i].nvotes)
                abort();
    free(before);
    json_decref(rec);
    return 0;
}
