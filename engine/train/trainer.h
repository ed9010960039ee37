// The training loop of Ultralytics' DetectionTrainer (yolov8.md §3), on one device:
//   setup: model (built from a scale, or fine-tuned from a .pt / .safetensors by transfer),
//          dataset + loader (optionally mixed with a replay set), parameter groups + freeze,
//          optimizer (auto|SGD|AdamW), schedule, EMA;
//   per epoch: LambdaLR lr, mosaic off for the last close_mosaic epochs (the loader), per batch:
//          warm-up, forward_train, loss (items logged as they are, the gradient of sum * B),
//          backward, and when an accumulation is due: clip 10.0 -> step -> zero_grad -> EMA;
//          then validation of the EMA weights, fitness = 0.1 mAP50 + 0.9 mAP50-95,
//          last/best checkpoints (the EMA weights), the resume state and results.csv;
//   after the last epoch: best.safetensors validated once more (the summary's final_* fields).
// Files in save_dir: weights/last.safetensors, weights/best.safetensors,
// weights/last.state.safetensors (what resume=true needs to continue identically), results.csv.
// Nothing is printed: progress goes to callbacks, errors are returned.
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "engine/core/status.h"
#include "engine/data/augment.h"
#include "engine/model/model_config.h"
#include "engine/ops/ops.h"

#define YL_TRAIN_MAX_FREEZE 64

// One batch's progress (Ultralytics' tqdm line).
typedef struct {
    int epoch, epochs;            // 0-based epoch
    int batch_index, batch_count; // 0-based batch within the epoch
    double mem_gb;                // GPU arena use on CUDA, process RSS on the CPU
    double box_loss, cls_loss, dfl_loss;  // running means over the epoch so far
    int instances;                // targets in this batch
    int size;                     // input size of this batch
    double it_per_s;              // batches per second over the epoch so far
} yl_train_progress;

// One finished epoch (one results.csv row).
typedef struct {
    int epoch;  // 1-based, as results.csv writes it
    double time_s;  // since training started
    double train_box, train_cls, train_dfl;
    double precision, recall, map50, map50_95;
    double val_box, val_cls, val_dfl;
    double lr[3];  // pg0, pg1, pg2 at the last batch
    double fitness;
    bool best;               // this epoch improved the fitness
    bool validated;          // metrics come from a validator run
    bool stopped_early;      // patience ran out after this epoch
    long skipped_steps;      // optimizer steps skipped for NaN/Inf gradients so far
    const char *val_table;   // the validator's summary table ("" when not validated); valid
                             // during the on_epoch callback only
} yl_train_epoch;

typedef void (*yl_train_progress_fn)(void *user, const yl_train_progress *progress);
typedef void (*yl_train_epoch_fn)(void *user, const yl_train_epoch *epoch);

typedef struct {
    // model source: "yolov8n.yaml", "yolov8s", "n", a .pt (Ultralytics) or a .safetensors to
    // fine-tune from (weights transferred by name and shape). model_config, when set, overrides
    // the name (tests: a tiny custom model); its nc is replaced by the dataset's.
    const char *model;
    const yl_model_config *model_config;
    const char *data;  // data.yaml
    int epochs, imgsz, batch, workers;
    double lr0, lrf, momentum, weight_decay, warmup_epochs, warmup_momentum, warmup_bias_lr;
    const char *optimizer;  // auto | SGD | AdamW
    bool cos_lr;
    int close_mosaic;
    int nbs;     // nominal batch size (64): accumulate = round(nbs / batch), decay scaled by it
    int freeze;  // layers 0 .. freeze-1
    int freeze_list[YL_TRAIN_MAX_FREEZE];
    int freeze_list_count;
    int patience;
    uint64_t seed;
    const char *replay_data;  // NULL: no replay
    float replay_ratio;
    const char *save_dir;     // created if absent
    yl_device device;
    int cuda_index;           // which GPU when device is CUDA
    bool resume;              // continue from save_dir/weights/last.state.safetensors
    bool validate;            // per-epoch validation (true)
    yl_augment_options augment;  // used when augment_set (imgsz and close_mosaic come from above)
    bool augment_set;            // false: yl_augment_defaults(imgsz)
    int max_batches_per_epoch;   // > 0: cut epochs short (tests, smoke runs); 0: full epochs
    int stop_after_epochs;       // > 0: return after this many epochs of this call, as if
                                 // interrupted (resume tests); the schedule still spans `epochs`
    const char *parent_version;  // lineage written into the checkpoints (may be NULL)
    yl_train_progress_fn on_progress;
    yl_train_epoch_fn on_epoch;
    void *user;
    yl_log_fn log;  // setup lines ("Transferred 319/355 items ...", optimizer line); may be NULL
    void *log_user;
} yl_trainer_options;

// Ultralytics' defaults (yolov8.md §6): epochs 100, imgsz 640, batch 16, workers 2, lr0 0.01,
// lrf 0.01, momentum 0.937, weight_decay 5e-4, warmup 3 epochs (momentum 0.8, bias lr 0.1),
// optimizer auto, close_mosaic 10, nbs 64, patience 100, seed 0, replay ratio 0.3, save_dir runs/train/exp.
yl_trainer_options yl_trainer_defaults(void);

typedef struct {
    int epochs_run;           // epochs completed in this call
    int last_epoch;           // 1-based epoch of the last row written
    double best_fitness;
    int best_epoch;           // 1-based
    bool stopped_early;
    double seconds_per_step;  // mean wall time of a training batch (forward + loss + backward + step)
    double wait_seconds_per_step;  // mean wall time the loop waited for the loader's next batch
    double loader_share;      // wait / (wait + step): the share of the loop spent waiting for data
    long skipped_steps;
    char last_path[512], best_path[512], results_path[512];
    // Ultralytics' final_eval: after the last epoch, best.safetensors is loaded back into the model
    // and validated once more (per-class table). Not done (final_validated false) when validation
    // is off, there is no val split, or the run stopped at stop_after_epochs (an interruption).
    bool final_validated;
    double final_precision, final_recall, final_map50, final_map50_95;
    char final_table[8192];  // yl_format_val_table(per_class=true); truncated beyond ~90 classes
} yl_train_summary;

// Runs the whole training. summary may be NULL.
yl_status yl_train(const yl_trainer_options *options, yl_train_summary *summary);
