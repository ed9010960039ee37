// The learning-rate schedule of Ultralytics' trainer (yolov8.md §3.1, §3.4): gradient
// accumulation to a nominal batch of 64, the weight-decay scaling that goes with it, the per-epoch
// LambdaLR factor lf (linear or cosine) and the warm-up of lr, SGD momentum and accumulation.
//
// Per epoch:   yl_schedule_epoch_start(&s, settings, epoch);      // scheduler.step(): lr = lr0 * lf(epoch)
// Per batch i: yl_schedule_batch_start(&s, settings, epoch, i);   // warm-up while ni <= nw
//              ... forward, backward (gradients accumulate) ...
//              if (yl_schedule_step_due(&s)) { clip; optimizer step; zero_grad; EMA update }
// Gradients are not flushed at the end of an epoch: a partial accumulation carries over.
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "optimizer.h"

#define YL_NOMINAL_BATCH 64         // Ultralytics' nbs
#define YL_MIN_WARMUP_ITERATIONS 100

typedef struct {
    int epochs;                 // E
    double lrf;                 // final lr fraction (0.01)
    bool cos_lr;                // cosine lf instead of linear
    double warmup_epochs;       // 3.0; <= 0 disables warm-up
    double warmup_bias_lr;      // pg0's starting lr: yl_optimizer_choice.warmup_bias_lr (0 under auto)
    double warmup_momentum;     // 0.8
    double momentum;            // args.momentum (0.937): where SGD's momentum ends the warm-up, also
                                // under optimizer=auto (which built the optimizer with 0.9)
    int batch;                  // B
    int nbs;                    // nominal batch size (YL_NOMINAL_BATCH)
    int64_t batches_per_epoch;  // nb
} yl_schedule_config;

// Ultralytics' defaults (lrf 0.01, linear, warm-up 3 epochs from bias lr 0.1 and momentum 0.8 to
// 0.937, nbs 64) for the given run shape.
yl_schedule_config yl_schedule_config_default(int epochs, int batch, int64_t batches_per_epoch);

typedef struct {
    yl_schedule_config cfg;
    int64_t warmup_iterations;  // nw; -1 without warm-up
    int accumulate;             // batches per optimizer step (warm-up raises it)
    int64_t last_opt_step;      // ni of the last step; -1 before the first
    int64_t iteration;          // ni = i + nb * epoch of the current batch
    int epoch;
} yl_schedule;

// max(round(nbs / batch), 1), Python's round (half to even).
int yl_accumulate_steps(int batch, int nbs);
// weight_decay * batch * accumulate / nbs (B 16: 5e-4; B 24: 5.625e-4; B 128: 1e-3).
double yl_scaled_weight_decay(double weight_decay, int batch, int nbs);
// max(round(warmup_epochs * nb), 100), or -1 when warmup_epochs <= 0.
int64_t yl_warmup_iterations(double warmup_epochs, int64_t batches_per_epoch);
// numpy.interp(x, [x0, x1], [y0, y1]) for x0 < x1, the same arithmetic (y1 exactly at x1).
double yl_interp(double x, double x0, double x1, double y0, double y1);

yl_status yl_schedule_init(yl_schedule *s, const yl_schedule_config *cfg);
// The LambdaLR factor of a 0-based epoch.
double yl_schedule_lf(const yl_schedule *s, int epoch);
// Start of an epoch (LambdaLR.step()): every group's lr = initial_lr * lf(epoch).
yl_status yl_schedule_epoch_start(yl_schedule *s, yl_optimizer_settings *settings, int epoch);
// Start of batch `batch_index` of `epoch`: while ni <= nw, interpolates accumulate, the lrs (pg0
// from warmup_bias_lr, the others from 0, to initial_lr * lf(epoch)) and, for SGD, the momentum.
yl_status yl_schedule_batch_start(yl_schedule *s, yl_optimizer_settings *settings, int epoch, int64_t batch_index);
// After the current batch's backward: true when an optimizer step is due (ni - last_opt_step >=
// accumulate); it then records ni as the last step.
bool yl_schedule_step_due(yl_schedule *s);
