// What `yoloop train` prints while the engine trains: Ultralytics' progress line per batch
// (rewritten in place with \r on a terminal, one line every few batches in a log), the
// validation table and a line per epoch.
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
