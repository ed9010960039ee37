#include <stdio.h>

#include "cli/commands.h"

// Replaced by the model's forward/backward demo.
int yl_cmd_demo(int argc, char **argv) {
    (void)argc;
    (void)argv;
    fprintf(stderr, "demo: not available yet\n");
    return 1;
}
