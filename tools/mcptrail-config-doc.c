/* mcptrail-config-doc: prints the configuration reference (Markdown) built
 * from every option table the library knows, i.e. docs/configuration.md:
 *
 *   build/tools/mcptrail-config-doc > docs/configuration.md
 *
 * The rendering lives in the library (mt_cfg_write_reference) so the unit
 * test can regenerate the page and fail when the committed copy is stale. */
#include <stdio.h>

#include "mcptrail/config.h"

int main(int argc, char **argv)
{
    (void)argv;
    if (argc > 1) {
        fputs("usage: mcptrail-config-doc > docs/configuration.md\n", stderr);
        return 2;
    }
    if (mt_cfg_write_reference(mt_cfg_doc_sections, stdout) != MT_OK || fflush(stdout) != 0) {
        perror("mcptrail-config-doc: write failed");
        return 1;
    }
    return 0;
}
