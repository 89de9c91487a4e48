/* mcptrail-sidecar option table; see options.h. */
#include "options.h"

const mt_cfg_option mt_sidecar_options[] = {
    MT_CFG_END,
};
