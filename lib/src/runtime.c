/* Start-up glue: common options -> logging, Kafka client config, schemas.
 * kafka.properties items were validated as key=value by the config module;
 * here they are copied once into one buffer and split in place. */
#include "mcptrail/runtime.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mcptrail/log.h"

mt_err mt_runtime_init(mt_runtime *rt, const mt_common_config *common, int need_kafka,
                       mt_errbuf *eb)
{
    memset(rt, 0, sizeof *rt);
    mt_log_set_level((mt_log_level)common->log_level);
    mt_log_set_format((mt_log_format)common->log_format);

    if (need_kafka && (!common->kafka_brokers || !*common->kafka_brokers))
        return mt_fail(eb, MT_ERR_CONFIG,
                       "kafka.brokers is not set (use --kafka.brokers=host:port or "
                       "MCPTRAIL_KAFKA_BROKERS)");
    rt->kafka.bootstrap = common->kafka_brokers;
    rt->kafka.client_id = common->kafka_client_id;

    const mt_strlist *pl = &common->kafka_properties;
    const mt_cfg_secret *pw = &common->kafka_sasl_password;
    size_t total = 0, extra = pw->value ? 1 : 0;
    for (size_t i = 0; i < pl->n; i++)
        total += strlen(pl->items[i]) + 1;
    mt_err err = MT_OK;
    if (pl->n || extra) {
        /* The password is copied too: producers re-read the properties when
         * they are recreated, long after the config may be gone. */
        if (extra)
            total += pw->len + 1;
        rt->props = calloc(pl->n + extra, sizeof *rt->props);
        rt->props_text = malloc(total ? total : 1);
        if (!rt->props || !rt->props_text) {
            err = mt_fail(eb, MT_ERR_NOMEM, "out of memory for kafka.properties");
            goto fail;
        }
        char *w = rt->props_text;
        for (size_t i = 0; i < pl->n; i++) {
            size_t len = strlen(pl->items[i]);
            memcpy(w, pl->items[i], len + 1);
            char *eq = strchr(w, '=');
            if (!eq || eq == w) {
                err = mt_fail(eb, MT_ERR_CONFIG,
                              "kafka.properties item %zu is not key=value", i + 1);
                goto fail;
            }
            *eq = '\0';
            if (extra && strcmp(w, "sasl.password") == 0) {
                err = mt_fail(eb, MT_ERR_CONFIG,
                              "kafka.properties has sasl.password and kafka.sasl_password_file "
                              "is set too: give the password in one place");
                goto fail;
            }
            rt->props[i].key = w;
            rt->props[i].value = eq + 1;
            w += len + 1;
        }
        if (extra) {
            if (!pw->len || memchr(pw->value, '\n', pw->len)) {
                err = mt_fail(eb, MT_ERR_CONFIG,
                              "kafka.sasl_password_file %s: want one line with the password",
                              pw->path ? pw->path : "");
                goto fail;
            }
            memcpy(w, pw->value, pw->len);
            w[pw->len] = '\0';
            rt->props[pl->n].key = "sasl.password";
            rt->props[pl->n].value = w;
        }
        rt->kafka.props = rt->props;
        rt->kafka.nprops = pl->n + extra;
    }
    if ((err = mt_avro_registry_load(common->schema_dir, &rt->schemas, eb)))
        goto fail;
    return MT_OK;
fail:
    mt_runtime_free(rt);
    return err;
}

void mt_runtime_free(mt_runtime *rt)
{
    free(rt->props);
    free(rt->props_text);
    mt_avro_registry_free(rt->schemas);
    memset(rt, 0, sizeof *rt);
}

int64_t mt_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int mt_wake_pipe(int fds[2])
{
    if (pipe(fds) != 0)
        return -1;
    for (int i = 0; i < 2; i++) {
        int fl = fcntl(fds[i], F_GETFL);
        if (fl < 0 || fcntl(fds[i], F_SETFL, fl | O_NONBLOCK) != 0 ||
            fcntl(fds[i], F_SETFD, FD_CLOEXEC) != 0) {
            close(fds[0]);
            close(fds[1]);
            fds[0] = fds[1] = -1;
            return -1;
        }
    }
    return 0;
}

void mt_wake_drain(int fd)
{
    char b[256];
    while (read(fd, b, sizeof b) > 0) {
    }
}
