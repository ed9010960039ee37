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

void yl_train_print_summary(FILE *out, const yl_train_summary *s, bool validate) {
    fprintf(out, "\n%d epochs completed (last epoch %d), best fitness %.5g at epoch %d.\n", s->epochs_run,
            s->last_epoch, s->best_fitness, s->best_epoch);
    if (s->final_validated) {
        fprintf(out, "\nValidating %s...\n%s", s->best_path, s->final_table);
        fprintf(out, "final: P %.4g  R %.4g  mAP50 %.4g  mAP50-95 %.4g\n", s->final_precision, s->final_recall,
                s->final_map50, s->final_map50_95);
    } else {
        fprintf(out, "final validation of best skipped: %s\n",
                !validate ? "validation is off" : "no val split or no finished run");
    }
    fprintf(out, "Time per step: %.1f ms compute (forward + loss + backward + step), %.1f ms waiting for the "
                 "loader (%.0f%% of the loop)\n",
            1e3 * s->seconds_per_step, 1e3 * s->wait_seconds_per_step, 100 * s->loader_share);
    fflush(out);
}
