/* Start-up steps mcptrail-sidecar and mcptrail-wrap share (their main()s
 * stay thin): the masking engine from the mask.* options, the recorder's
 * Kafka settings for its mode, and the instance_start event. */
#ifndef MCPTRAIL_SIDECAR_SETUP_H
#define MCPTRAIL_SIDECAR_SETUP_H

#include <stdbool.h>

#include "mcptrail/config.h"
#include "mcptrail/err.h"
#include "mcptrail/kafka.h"
#include "mcptrail/mask.h"
#include "recorder.h"

/* The masking engine of rules_file (NULL: the built-in detectors), compiled
 * or read back from cache_dir (NULL: no cache; its MAC key is derived from
 * hmac_key), installed on the log too: log lines get the payloads'
 * detectors. Uninstall with mt_mask_log_uninstall before freeing. */
mt_err mt_setup_mask(const char *rules_file, const char *cache_dir, const mt_cfg_secret *hmac_key,
                     mt_mask_engine **out, mt_errbuf *eb);

/* The recorder's Kafka configuration: strict mode holds every message until
 * its event is acknowledged, so librdkafka's default 5 ms linger would be
 * added to each: linger.ms=0 unless kafka.properties sets a linger itself.
 * *props (free it) backs out->props when a property was added. */
mt_err mt_setup_rec_kafka(const mt_kafka_config *in, bool strict, mt_kafka_prop **props,
                          mt_kafka_config *out);

/* Records instance_start: the SHA-256 of the effective configuration as
 * --print-config prints it (spec, cfg), of policy_file's bytes (NULL: none)
 * and where the instance serves (listen). */
mt_err mt_setup_instance_start(mt_recorder *rec, const mt_cfg_spec *spec, const void *cfg,
                               const char *policy_file, const char *listen, mt_errbuf *eb);

#endif
