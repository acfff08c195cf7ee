/* `icstr data synth`: placeholder until the renderer lands. */
#include "cli.h"

#include <stdio.h>

int icstr_cmd_data_synth(int argc, char **argv) {
    (void)argc;
    (void)argv;
    fprintf(stderr, "icstr data synth: not implemented yet\n");
    return 1;
}
