/* Configuration of mcptrail-sidecar: the option table (one declaration per
 * key drives the config file, MCPTRAIL_* environment, flags, --help and
 * docs/configuration.md) and the struct it fills. */
#ifndef MCPTRAIL_SIDECAR_OPTIONS_H
#define MCPTRAIL_SIDECAR_OPTIONS_H

#include "mcptrail/config.h"

extern const mt_cfg_option mt_sidecar_options[];

#endif
