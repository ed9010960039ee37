// Small helpers of the trainer: directories, wall clock, memory in use.
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "engine/train/train_internal.h"

yl_status yl_train_mkdirs(const char *path) {
    char buf[YL_TRAIN_PATH_SIZE + 32];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf)
        return yl_error(YL_ERR_INVALID_ARG, "train: path too long: %s", path);
    for (char *p = buf + 1;; p++) {
        bool end = *p == '\0';
        if (*p == '/' || end) {
            *p = '\0';
            if (mkdir(buf, 0777) != 0 && errno != EEXIST)
                return yl_error(YL_ERR_IO, "train: cannot create directory %s: %s", buf, strerror(errno));
            if (end) break;
            *p = '/';
        }
    }
    return YL_OK;
}

double yl_train_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

// Resident set size from /proc/self/statm (CPU runs); the model's arenas on CUDA.
double yl_train_memory_gb(const yl_trainer *t) {
    if (t->o.device == YL_DEVICE_CUDA && t->model) {
        double bytes = (double)yl_model_parameter_arena(t->model)->capacity +
                       (double)yl_model_gradient_arena(t->model)->capacity +
                       (double)yl_model_activation_arena(t->model)->capacity;
        return bytes / 1e9;
    }
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f) return 0;
    long pages = 0, resident = 0;
    int n = fscanf(f, "%ld %ld", &pages, &resident);
    fclose(f);
    if (n != 2) return 0;
    return (double)resident * (double)sysconf(_SC_PAGESIZE) / 1e9;
}
