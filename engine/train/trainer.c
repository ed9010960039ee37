// yl_train: setup, the epoch loop (train, validate the EMA, fitness, checkpoints, results.csv,
// early stopping) and teardown. The per-batch work is in train_step.c.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/train/train_internal.h"

yl_trainer_options yl_trainer_defaults(void) {
    yl_trainer_options o;
    memset(&o, 0, sizeof o);
    o.model = "yolov8n.yaml";
    o.epochs = 100;
    o.imgsz = 640;
    o.batch = 16;
    o.workers = 2;
    o.lr0 = 0.01;
    o.lrf = 0.01;
    o.momentum = 0.937;
    o.weight_decay = 0.0005;
    o.warmup_epochs = 3.0;
    o.warmup_momentum = 0.8;
    o.warmup_bias_lr = 0.1;
    o.optimizer = "auto";
    o.close_mosaic = 10;
    o.nbs = YL_NOMINAL_BATCH;
    o.patience = 100;
    o.seed = 0;
    o.replay_ratio = 0.3f;
    o.save_dir = "runs/train/exp";
    o.device = YL_DEVICE_CPU;
    o.validate = true;
    return o;
}

// Ultralytics' EarlyStopping: a fitness at least as good as the best resets the count; training
// stops once `patience` epochs pass without one (patience 0: never).
static bool patience_exhausted(const yl_trainer *t, int epoch1) {
    if (t->o.patience <= 0) return false;
    return epoch1 - t->best_epoch >= t->o.patience;
}

static yl_status finish_epoch(yl_trainer *t, int epoch, yl_train_epoch *e, double run_start) {
    e->epoch = epoch + 1;
    YL_TRY(yl_trainer_validate(t, e));
    if (!e->validated) e->fitness = -(e->train_box + e->train_cls + e->train_dfl);
    // Ultralytics keeps best.pt when fitness improves, and also while the best is still 0.
    e->best = !t->has_best || t->best_fitness == 0 || e->fitness > t->best_fitness;
    if (e->best) {
        t->best_fitness = e->fitness;
        t->has_best = true;
    }
    if (e->fitness >= t->best_fitness || t->best_epoch == 0) t->best_epoch = e->epoch;
    e->stopped_early = patience_exhausted(t, e->epoch);
    e->skipped_steps = t->skipped_steps;
    e->val_table = e->validated ? t->val_table : "";
    e->time_s = t->time_offset + (yl_train_now() - run_start);
    YL_TRY(yl_trainer_write_results(t, e));
    return yl_trainer_save(t, e, e->best);
}

static yl_status run(yl_trainer *t, yl_train_summary *summary) {
    if (t->o.resume) YL_TRY(yl_trainer_resume(t));
    else YL_TRY(yl_model_zero_grad(t->model));
    double run_start = yl_train_now();
    yl_train_timing timing = {0, 0, 0};
    bool interrupted = false;
    for (int epoch = t->start_epoch; epoch < t->o.epochs; epoch++) {
        yl_train_epoch e;
        memset(&e, 0, sizeof e);
        YL_TRY(yl_trainer_run_epoch(t, epoch, &e, &timing));
        YL_TRY(finish_epoch(t, epoch, &e, run_start));
        if (t->o.on_epoch) t->o.on_epoch(t->o.user, &e);
        summary->epochs_run++;
        summary->last_epoch = e.epoch;
        if (t->o.stop_after_epochs > 0 && summary->epochs_run >= t->o.stop_after_epochs && epoch + 1 < t->o.epochs) {
            interrupted = true;
            break;
        }
        if (e.stopped_early) {
            summary->stopped_early = true;
            yl_engine_log(&t->eng, "Stopping training early as no improvement observed in last %d epochs. "
                          "Best results observed at epoch %d.", t->o.patience, t->best_epoch);
            break;
        }
    }
    summary->best_fitness = t->best_fitness;
    summary->best_epoch = t->best_epoch;
    summary->skipped_steps = t->skipped_steps;
    const double steps = (double)timing.steps;
    summary->seconds_per_step = steps > 0 ? timing.step_seconds / steps : 0;
    summary->wait_seconds_per_step = steps > 0 ? timing.wait_seconds / steps : 0;
    const double busy = timing.step_seconds + timing.wait_seconds;
    summary->loader_share = busy > 0 ? timing.wait_seconds / busy : 0;
    snprintf(summary->last_path, sizeof summary->last_path, "%s", t->last_path);
    snprintf(summary->best_path, sizeof summary->best_path, "%s", t->best_path);
    snprintf(summary->results_path, sizeof summary->results_path, "%s", t->results_path);
    // An interrupted run (stop_after_epochs) has no final model yet: its resumption validates it.
    if (!interrupted && summary->epochs_run > 0) YL_TRY(yl_trainer_final_validate(t, summary));
    return YL_OK;
}

yl_status yl_train(const yl_trainer_options *options, yl_train_summary *summary) {
    yl_train_summary local;
    if (!summary) summary = &local;
    memset(summary, 0, sizeof *summary);
    yl_trainer *t = calloc(1, sizeof *t);
    if (!t) return yl_error(YL_ERR_OOM, "train: trainer state");
    yl_status st = yl_trainer_setup(t, options);
    if (st == YL_OK) st = run(t, summary);
    yl_trainer_teardown(t);
    free(t);
    return st;
}
