#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "engine/ops/ops.h"

int yl_cmd_version(int argc, char **argv) {
    if (argc > 0 && !strcmp(argv[0], "--help")) {
        printf("usage: yoloop version\n  prints the version and whether a CUDA backend can be created\n");
        return 0;
    }
    printf("yoloop 0.1.0\n");
    yl_backend *cuda = NULL;
    if (yl_backend_cuda_create(&cuda, 0) == YL_OK) {
        printf("backends: cpu, cuda\n");
        yl_backend_destroy(cuda);
    } else {
        printf("backends: cpu (cuda: %s)\n", yl_last_error());
    }
    return 0;
}
