// Progress output of `yoloop train`, in Ultralytics' column layout.
#include "cli/train_print.h"

#include <unistd.h>

void yl_train_printer_init(yl_train_printer *p, FILE *out) {
    p->out = out;
    p->tty = isatty(fileno(out));
    p->log_every = 10;
}

static void print_header(FILE *out) {
    fprintf(out, "%11s%11s%11s%11s%11s%11s%11s\n", "Epoch", "GPU_mem", "box_loss", "cls_loss", "dfl_loss", "Instances",
            "Size");
}

void yl_train_print_progress(void *user, const yl_train_progress *pr) {
    yl_train_printer *p = user;
    bool last = pr->batch_index + 1 == pr->batch_count;
    if (pr->batch_index == 0) print_header(p->out);
    if (!p->tty && !last && pr->batch_index % p->log_every) return;
    char epoch[24], mem[24];
    snprintf(epoch, sizeof epoch, "%d/%d", pr->epoch + 1, pr->epochs);
    snprintf(mem, sizeof mem, "%.3gG", pr->mem_gb);
    fprintf(p->out, "%s%11s%11s%11.4g%11.4g%11.4g%11d%11d: %3d%% %d/%d %.2fit/s%s", p->tty ? "\r" : "", epoch, mem,
            pr->box_loss, pr->cls_loss, pr->dfl_loss, pr->instances, pr->size,
            100 * (pr->batch_index + 1) / pr->batch_count, pr->batch_index + 1, pr->batch_count, pr->it_per_s,
            p->tty && !last ? "" : "\n");
    fflush(p->out);
}

void yl_train_print_epoch(void *user, const yl_train_epoch *e) {
    yl_train_printer *p = user;
    if (e->validated && e->val_table[0]) fprintf(p->out, "%s", e->val_table);
    fprintf(p->out, "epoch %d: fitness %.5g%s (%.1f s)%s\n", e->epoch, e->fitness, e->best ? ", best so far" : "",
            e->time_s, e->skipped_steps ? " (some optimizer steps skipped: non-finite gradients)" : "");
    fflush(p->out);
}

void yl_train_print_log(void *user, const char *message) {
    yl_train_printer *p = user;
    fprintf(p->out, "%s\n", message);
}
