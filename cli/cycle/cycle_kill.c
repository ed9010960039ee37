// The kill-safety test hook (cycle.h) and the cycle's log lines.
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cycle/cycle_internal.h"

void yl_cycle_kill_point(const char *step) {
    const char *at = getenv("YOLOOP_CYCLE_KILL_AT");
    if (!at || strcmp(at, step)) return;
    fflush(NULL);
    raise(SIGKILL);
}

void yl_cycle_logf(FILE *log, const char *fmt, ...) {
    if (!log) return;
    va_list args;
    va_start(args, fmt);
    vfprintf(log, fmt, args);
    va_end(args);
    fputc('\n', log);
    fflush(log);
}
