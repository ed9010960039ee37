// What `yoloop train` prints while the engine trains: Ultralytics' progress line per batch
// (rewritten in place with \r on a terminal, one line every few batches in a log), the
// validation table and a line per epoch; at the end, the final validation of best and the
// split of step time between waiting for the loader and computing.
#pragma once
#include <stdbool.h>
#include <stdio.h>

#include "engine/train/trainer.h"

typedef struct {
    FILE *out;
    bool tty;
    int log_every;  // batches between lines when not a terminal
} yl_train_printer;

void yl_train_printer_init(yl_train_printer *p, FILE *out);
// Callbacks for yl_trainer_options (user = the printer).
void yl_train_print_progress(void *user, const yl_train_progress *progress);
void yl_train_print_epoch(void *user, const yl_train_epoch *epoch);
void yl_train_print_log(void *user, const char *message);
// The end of a run: the final validation of best.safetensors (or why there is none: validate
// is whether validation was on) and the time split per step.
void yl_train_print_summary(FILE *out, const yl_train_summary *summary, bool validate);
