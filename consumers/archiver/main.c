/* mcptrail-archiver entry point: subcommands run, verify, prove, ids, keygen.
 * `run` takes the usual option table (config file, MCPTRAIL_* environment,
 * flags); the offline subcommands take plain arguments and need no Kafka. */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "archiver.h"
#include "mcptrail/archive.h"
#include "mcptrail/log.h"
#include "mcptrail/runtime.h"

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: mcptrail-archiver run [options]        archive the topics (run --help)\n"
            "       mcptrail-archiver verify DIR --pubkey PUB.pem [--from T] [--to T]\n"
            "                                [--max-age DURATION] [--schemas DIR] [--threads N]\n"
            "                                [--sidecar-key PUB.pem ...] [--quiet]\n"
            "       mcptrail-archiver prove DIR ID          inclusion proof (JSON) of a record\n"
            "       mcptrail-archiver ids DIR               topic, partition, offset, id per record\n"
            "       mcptrail-archiver keygen PRIV.pem PUB.pem\n"
            "T: milliseconds since the epoch or YYYY-MM-DDTHH:MM:SSZ. verify exits 0 when the\n"
            "archive is valid, 1 on any problem, 2 on a usage or read error. --pubkey may be\n"
            "repeated (up to 16): after a signing-key rotation give the old and the new key;\n"
            "each manifest must verify under the key its key_id names. --sidecar-key (up to\n"
            "16): the sidecars' record.signing_key_file public keys; every stream must then\n"
            "carry checkpoints that verify under them (docs/archive.md \"Streams\").\n");
}

static int parse_duration_ms(const char *s, int64_t *out)
{
    char *end;
    long long v = strtoll(s, &end, 10);
    if (end == s || v < 0)
        return -1;
    if (!*end || strcmp(end, "ms") == 0)
        *out = v;
    else if (strcmp(end, "s") == 0)
        *out = v * 1000;
    else if (strcmp(end, "m") == 0)
        *out = v * 60000;
    else if (strcmp(end, "h") == 0)
        *out = v * 3600000;
    else
        return -1;
    return 0;
}

static int cmd_verify(int argc, char **argv)
{
    mt_verify_opts o = {.from_ms = INT64_MIN, .to_ms = INT64_MAX};
    const char *pub[MT_VERIFY_MAX_KEYS], *spub[MT_VERIFY_MAX_KEYS];
    size_t npub = 0, nspub = 0;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--pubkey") == 0 && val) {
            if (npub == MT_VERIFY_MAX_KEYS) {
                fprintf(stderr, "mcptrail-archiver verify: more than %d --pubkey\n",
                        MT_VERIFY_MAX_KEYS);
                return 2;
            }
            pub[npub++] = val;
            i++;
        } else if (strcmp(a, "--sidecar-key") == 0 && val) {
            if (nspub == MT_VERIFY_MAX_KEYS) {
                fprintf(stderr, "mcptrail-archiver verify: more than %d --sidecar-key\n",
                        MT_VERIFY_MAX_KEYS);
                return 2;
            }
            spub[nspub++] = val;
            i++;
        } else if (strcmp(a, "--from") == 0 && val) {
            if (mt_archive_parse_time_ms(val, &o.from_ms) != 0)
                goto bad_time;
            i++;
        } else if (strcmp(a, "--to") == 0 && val) {
            if (mt_archive_parse_time_ms(val, &o.to_ms) != 0)
                goto bad_time;
            i++;
        } else if (strcmp(a, "--max-age") == 0 && val) {
            int64_t d;
            if (parse_duration_ms(val, &d) != 0) {
                fprintf(stderr, "mcptrail-archiver verify: --max-age '%s' is not a duration "
                        "(e.g. 5m)\n", val);
                return 2;
            }
            struct timespec t;
            clock_gettime(CLOCK_REALTIME, &t);
            o.max_age_ms = d;
            o.now_ms = (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
            i++;
        } else if (strcmp(a, "--schemas") == 0 && val) {
            o.schema_dir = val;
            i++;
        } else if (strcmp(a, "--threads") == 0 && val) {
            char *end;
            long t = strtol(val, &end, 10);
            if (end == val || *end || t < 1 || t > 8) {
                fprintf(stderr, "mcptrail-archiver verify: --threads '%s' is not 1..8\n", val);
                return 2;
            }
            o.threads = (unsigned)t;
            i++;
        } else if (strcmp(a, "--quiet") == 0) {
            o.quiet = true;
        } else if (a[0] != '-' && !o.dir) {
            o.dir = a;
        } else {
            fprintf(stderr, "mcptrail-archiver verify: unexpected argument '%s'\n", a);
            usage(stderr);
            return 2;
        }
        continue;
    bad_time:
        fprintf(stderr, "mcptrail-archiver verify: '%s' is not a time (ms since the epoch or "
                "YYYY-MM-DDTHH:MM:SSZ)\n", val);
        return 2;
    }
    if (!o.dir || !npub) {
        usage(stderr);
        return 2;
    }
    mt_errbuf eb = {{0}};
    mt_ed25519_key *keys[MT_VERIFY_MAX_KEYS] = {0}, *skeys[MT_VERIFY_MAX_KEYS] = {0};
    mt_err err = MT_OK;
    for (size_t k = 0; k < npub && !err; k++)
        err = mt_ed25519_load_public_pem_file(pub[k], &keys[k], &eb);
    for (size_t k = 0; k < nspub && !err; k++)
        err = mt_ed25519_load_public_pem_file(spub[k], &skeys[k], &eb);
    uint64_t problems = 0;
    if (!err) {
        o.pubs = (const mt_ed25519_key *const *)keys;
        o.npubs = npub;
        o.sidecar_pubs = (const mt_ed25519_key *const *)skeys;
        o.nsidecar_pubs = nspub;
        err = mt_archive_verify(&o, stdout, &problems, &eb);
    }
    for (size_t k = 0; k < MT_VERIFY_MAX_KEYS; k++) {
        mt_ed25519_free(keys[k]);
        mt_ed25519_free(skeys[k]);
    }
    if (err) {
        fprintf(stderr, "mcptrail-archiver verify: %s\n", eb.msg);
        return 2;
    }
    return problems ? 1 : 0;
}

static int cmd_run(int argc, char **argv)
{
    int rc = 1;
    mt_errbuf eb = {{0}};
    mt_archiver_config cfg = {0};
    mt_runtime rt = {0};
    bool rt_ok = false;
    mt_ed25519_key *key = NULL;
    mt_cfg_result res = {0};
    if (mt_cfg_load(&mt_archiver_spec, &cfg, argc - 1, argv + 1, NULL, &res, &eb) != MT_OK)
        goto fail;
    switch (res.action) {
    case MT_CFG_RUN:
        break;
    case MT_CFG_SHOW_HELP:
        rc = mt_cfg_print_help(&mt_archiver_spec, stdout) == MT_OK ? 0 : 1;
        goto out;
    case MT_CFG_SHOW_VERSION:
        mt_cfg_print_version(&mt_archiver_spec, stdout);
        rc = 0;
        goto out;
    case MT_CFG_PRINT_CONFIG:
        rc = mt_cfg_print_effective(&mt_archiver_spec, &cfg, stdout) == MT_OK ? 0 : 1;
        goto out;
    }
    if (mt_runtime_init(&rt, &cfg.common, 1, &eb) != MT_OK)
        goto fail;
    rt_ok = true;
    if (mt_ed25519_load_private_pem(cfg.signing_key.value, cfg.signing_key.len,
                                    cfg.signing_key.path, &key, &eb) != MT_OK)
        goto fail;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    mt_archiver_params p = {.cfg = &cfg, .kafka = rt.kafka, .key = key, .stop = &stop_flag};
    if (mt_archiver_run(&p, &eb) != MT_OK)
        goto fail;
    rc = 0;
    goto out;
fail:
    fprintf(stderr, "mcptrail-archiver: %s\n", eb.msg);
out:
    mt_ed25519_free(key);
    if (rt_ok)
        mt_runtime_free(&rt);
    mt_cfg_result_free(&res);
    mt_cfg_free(&mt_archiver_spec, &cfg);
    return rc;
}

int main(int argc, char **argv)
{
    mt_errbuf eb = {{0}};
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "run") == 0)
        return cmd_run(argc, argv);
    if (strcmp(cmd, "verify") == 0)
        return cmd_verify(argc, argv);
    if (strcmp(cmd, "prove") == 0 && argc == 4) {
        if (mt_archive_prove(argv[2], argv[3], stdout, &eb) != MT_OK) {
            fprintf(stderr, "mcptrail-archiver prove: %s\n", eb.msg);
            return 1;
        }
        return 0;
    }
    if (strcmp(cmd, "ids") == 0 && argc == 3) {
        if (mt_archive_list_ids(argv[2], stdout, &eb) != MT_OK) {
            fprintf(stderr, "mcptrail-archiver ids: %s\n", eb.msg);
            return 1;
        }
        return fflush(stdout) == 0 ? 0 : 1;
    }
    if (strcmp(cmd, "keygen") == 0 && argc == 4) {
        mt_ed25519_key *k = NULL;
        if (mt_ed25519_generate(&k, &eb) != MT_OK ||
            mt_ed25519_write_private_pem(k, argv[2], &eb) != MT_OK ||
            mt_ed25519_write_public_pem(k, argv[3], &eb) != MT_OK) {
            fprintf(stderr, "mcptrail-archiver keygen: %s\n", eb.msg);
            mt_ed25519_free(k);
            return 1;
        }
        mt_ed25519_free(k);
        return 0;
    }
    usage(stderr);
    return 2;
}
