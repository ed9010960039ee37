// The optimizer: SGD with Nesterov momentum and AdamW, exactly as torch.optim computes them,
// with per-group lr, momentum (AdamW: beta1) and weight decay, and Ultralytics' choice of
// optimizer (optimizer=auto). yolov8.md §3.3.
//
// The state (SGD momentum buffers; AdamW exp_avg and exp_avg_sq) lives in its own arena on the
// model's device, one tensor per updated parameter, zero at creation. A step reads the gradients
// of every parameter yl_param_groups_updates() accepts and updates it in place; frozen
// parameters and those without a gradient are never touched. On CUDA the update runs as a few
// multi-tensor kernel launches (kernels/optim_cuda.h); on the CPU as plain loops.
//
// Typical use (the trainer):
//   yl_optimizer_choose(&request, &choice);                     // optimizer=auto|SGD|AdamW
//   yl_optimizer_create(&opt, eng, &groups, &choice.settings);
//   ... per batch: yl_schedule_batch_start(&sched, yl_optimizer_settings_of(opt), epoch, i);
//   ... backward ...; if due: yl_clip_grad_norm(opt, 10.0, &norm); yl_optimizer_step(opt);
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "../ops/ops.h"
#include "param_groups.h"

typedef enum { YL_OPTIMIZER_SGD = 0, YL_OPTIMIZER_ADAMW } yl_optimizer_kind;

const char *yl_optimizer_kind_name(yl_optimizer_kind kind);  // "SGD", "AdamW"

typedef struct {
    double lr;            // this step's learning rate (the schedule sets it)
    double initial_lr;    // LambdaLR's base lr: the lr the optimizer was built with
    double momentum;      // SGD momentum (warm-up moves it); AdamW beta1 (fixed)
    double weight_decay;  // pg1: the scaled decay; pg0 and pg2: 0
} yl_group_settings;

typedef struct {
    yl_optimizer_kind kind;
    yl_group_settings groups[YL_PARAM_GROUP_COUNT];  // indexed by yl_param_group
    double beta2;  // AdamW: 0.999
    double eps;    // AdamW: 1e-8
} yl_optimizer_settings;

// Settings as Ultralytics builds them: every group at lr and momentum, weight decay only in pg1.
yl_optimizer_settings yl_optimizer_settings_make(yl_optimizer_kind kind, double lr, double momentum,
                                                 double weight_decay);

// ---- optimizer=... (BaseTrainer.build_optimizer) ------------------------------------------------
typedef struct {
    const char *name;       // "auto", "SGD", "AdamW" (case-insensitive); NULL = "auto"
    double lr0;             // honoured by an explicit optimizer, ignored by auto
    double momentum;        // likewise (AdamW: beta1)
    double weight_decay;    // already scaled: yl_scaled_weight_decay (schedule.h)
    double warmup_bias_lr;  // args.warmup_bias_lr (0.1)
    int64_t iterations;     // yl_auto_optimizer_iterations(...): auto picks SGD above 10000
    int nc;                 // number of classes: auto's AdamW lr = round(0.002 * 5 / (4 + nc), 6)
} yl_optimizer_request;

typedef struct {
    yl_optimizer_settings settings;
    bool automatic;         // chosen by optimizer=auto
    double warmup_bias_lr;  // what the warm-up must use: auto forces 0
    char description[96];   // "AdamW(lr=0.001667, momentum=0.9)", as Ultralytics logs it
} yl_optimizer_choice;

// Resolves the request. Adam, Adamax, NAdam, RAdam and RMSProp (which Ultralytics also accepts)
// are YL_ERR_UNSUPPORTED; other names YL_ERR_INVALID_ARG.
yl_status yl_optimizer_choose(const yl_optimizer_request *request, yl_optimizer_choice *out);
// ceil(dataset_size / max(batch, nbs)) * epochs: the iteration count auto decides on.
int64_t yl_auto_optimizer_iterations(int64_t dataset_size, int batch, int nbs, int epochs);

// ---- the optimizer --------------------------------------------------------------------------------
typedef struct yl_optimizer yl_optimizer;

// The groups (and their entries) must outlive the optimizer. Every updated entry must be a
// contiguous fp32 tensor with a gradient of the same shape on one device with a backend in eng.
yl_status yl_optimizer_create(yl_optimizer **out, yl_engine *eng, const yl_param_groups *groups,
                              const yl_optimizer_settings *settings);
void yl_optimizer_destroy(yl_optimizer *opt);

// The live settings: the schedule writes lr (and SGD momentum) here before each step.
yl_optimizer_settings *yl_optimizer_settings_of(yl_optimizer *opt);
// One update of every trainable parameter from its current gradient (gradients are not zeroed).
yl_status yl_optimizer_step(yl_optimizer *opt);
// Steps taken so far (AdamW's bias correction uses it; SGD's first step initialises the buffers).
int64_t yl_optimizer_step_count(const yl_optimizer *opt);

// ---- state access (checkpoints, resume) ----------------------------------------------------------
// slot 0: SGD momentum buffer / AdamW exp_avg; slot 1: AdamW exp_avg_sq. *out receives a view
// of entry `index`'s state; YL_ERR_INVALID_ARG when the entry is not updated or the slot absent.
yl_status yl_optimizer_state_view(yl_optimizer *opt, int index, int slot, yl_tensor *out);
// Restores the step count after loading state (SGD: 0 means "buffers not yet initialised").
yl_status yl_optimizer_set_step_count(yl_optimizer *opt, int64_t steps);
