/* Start-up steps shared by mcptrail-sidecar and mcptrail-wrap; see setup.h. */
#include "setup.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "mcptrail/buf.h"
#include "mcptrail/crypto.h"

mt_err mt_setup_mask(const char *rules_file, const char *cache_dir, const mt_cfg_secret *hmac_key,
                     mt_mask_engine **out, mt_errbuf *eb)
{
    mt_mask_rules *rules = NULL;
    mt_err err = rules_file ? mt_mask_rules_load_file(rules_file, &rules, eb)
                            : mt_mask_rules_load(NULL, 0, &rules, eb);
    if (err)
        return err;
    uint8_t ck[MT_SHA256_LEN] = {0}; /* cache MAC key, separate from the payload HMAC's use */
    static const char label[] = "mcptrail mask cache v1";
    mt_mask_engine_opts mo = {NULL, NULL, 0}; /* no cache dir: no key to derive */
    if (cache_dir) {
        err = mt_hmac_sha256(hmac_key->value, hmac_key->len, label, sizeof label - 1, ck, eb);
        mo = (mt_mask_engine_opts){cache_dir, ck, sizeof ck};
    }
    if (err == MT_OK)
        err = mt_mask_engine_new_opts(rules, &mo, out, eb);
    else
        mt_mask_rules_free(rules);
    OPENSSL_cleanse(ck, sizeof ck);
    if (err == MT_OK && (err = mt_mask_log_install(*out, eb)) != MT_OK) {
        mt_mask_engine_free(*out);
        *out = NULL;
    }
    return err;
}

mt_err mt_setup_rec_kafka(const mt_kafka_config *in, bool strict, mt_kafka_prop **props,
                          mt_kafka_config *out)
{
    *out = *in;
    *props = NULL;
    if (!strict)
        return MT_OK;
    for (size_t i = 0; i < in->nprops; i++)
        if (in->props[i].key && (strcmp(in->props[i].key, "linger.ms") == 0 ||
                                 strcmp(in->props[i].key, "queue.buffering.max.ms") == 0))
            return MT_OK; /* the user's linger wins */
    mt_kafka_prop *p = calloc(in->nprops + 1, sizeof *p);
    if (!p)
        return MT_ERR_NOMEM;
    p[0] = (mt_kafka_prop){"linger.ms", "0"};
    for (size_t i = 0; i < in->nprops; i++)
        p[i + 1] = in->props[i];
    out->props = p;
    out->nprops = in->nprops + 1;
    *props = p;
    return MT_OK;
}

mt_err mt_setup_instance_start(mt_recorder *rec, const mt_cfg_spec *spec, const void *cfg,
                               const char *policy_file, const char *listen, mt_errbuf *eb)
{
    uint8_t csha[MT_SHA256_LEN], psha[MT_SHA256_LEN];
    char *text = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&text, &len);
    if (!mem)
        return mt_fail(eb, MT_ERR_NOMEM, "instance_start: out of memory");
    mt_err err = mt_cfg_print_effective(spec, cfg, mem);
    fclose(mem);
    if (err == MT_OK)
        mt_sha256(text, len, csha);
    free(text);
    if (err)
        return mt_fail(eb, err, "instance_start: cannot print the configuration");
    if (policy_file) {
        /* the file the policy was just loaded from (SIGHUP reloads are logged) */
        mt_buf pb = MT_BUF_INIT;
        if ((err = mt_read_file(policy_file, 1 << 24, &pb, eb)) != MT_OK) {
            mt_buf_free(&pb);
            return mt_fail(eb, MT_ERR_IO, "instance_start: cannot read policy.file %s",
                           policy_file);
        }
        mt_sha256(pb.data, pb.len, psha);
        mt_buf_free(&pb);
    }
    mt_rec_instance info = {csha, policy_file ? psha : NULL, listen};
    return mt_rec_instance_start(rec, &info, eb);
}
