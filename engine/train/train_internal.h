// The trainer's private state, shared by the files of engine/train/ (setup, loop, checkpoints,
// results, validation bridge).
#pragma once
#include "engine/data/data_yaml.h"
#include "engine/data/dataset.h"
#include "engine/data/loader.h"
#include "engine/data/replay.h"
#include "engine/data/sampler.h"
#include "engine/loss/detection_loss.h"
#include "engine/model/model.h"
#include "engine/optim/ema.h"
#include "engine/optim/optimizer.h"
#include "engine/optim/param_groups.h"
#include "engine/optim/schedule.h"
#include "engine/train/trainer.h"
#include "engine/train/validate.h"

#define YL_TRAIN_PATH_SIZE 512

typedef struct {
    yl_trainer_options o;
    yl_engine eng;
    bool eng_ready;
    yl_model_config cfg;
    char scale[4];
    yl_model *model;
    yl_data_config data, replay_data;
    bool data_ready, replay_ready;
    yl_dataset train_set, val_set, replay_set;
    bool train_set_ready, val_set_ready, replay_set_ready;
    yl_sample_source train_source_single, val_source, replay_source_part;
    yl_replay_source replay_source;
    yl_sample_source train_source;  // the dataset, or dataset + replay
    yl_replay_sampler replay_sampler;
    bool replay_sampler_ready;
    yl_batch_sampler sampler;
    yl_loader *loader;
    yl_validator *validator;
    char val_table[4096];  // the last validation summary table
    yl_detection_loss loss;
    bool loss_ready;
    yl_param_groups groups;
    bool groups_ready;
    yl_optimizer_choice choice;
    yl_optimizer *opt;
    yl_schedule sched;
    yl_ema *ema;
    int batches_per_epoch;
    float *device_images;  // staging buffer on the device (CUDA only)
    void *d_map_data[YL_DETECT_LEVELS];  // gradients of the head maps (loss -> backward)
    int *gt_per_image;      // batch entries: targets per image, to grow the loss workspace
    // progress of the run
    int start_epoch;  // 0-based first epoch to run
    double best_fitness;
    bool has_best;
    int best_epoch;   // 1-based
    long skipped_steps;
    double time_offset;  // seconds of earlier (resumed) runs
    char **rows;      // results.csv rows, one per finished epoch
    int row_count;
    char save_dir[YL_TRAIN_PATH_SIZE - 64];  // room for the file names below
    char last_path[YL_TRAIN_PATH_SIZE], best_path[YL_TRAIN_PATH_SIZE], state_path[YL_TRAIN_PATH_SIZE];
    char results_path[YL_TRAIN_PATH_SIZE];
} yl_trainer;

// train_setup.c
yl_status yl_trainer_setup(yl_trainer *t, const yl_trainer_options *options);
void yl_trainer_teardown(yl_trainer *t);

// train_step.c: buffers of the step (on the engine's device), one epoch of training.
yl_status yl_trainer_alloc_step(yl_trainer *t);
void yl_trainer_free_step(yl_trainer *t);
// Runs epoch `epoch` (0-based): schedule, batches, steps; fills the train losses and lrs of `e`.
// Adds to `timing` the loop's wait for batches and the steps' time.
typedef struct {
    double step_seconds, wait_seconds;
    long steps;
} yl_train_timing;
yl_status yl_trainer_run_epoch(yl_trainer *t, int epoch, yl_train_epoch *e, yl_train_timing *timing);

// train_results.c
// Appends the row of `e` and rewrites results.csv (temp + rename).
yl_status yl_trainer_write_results(yl_trainer *t, const yl_train_epoch *e);
// Resume: takes back the first `epochs` rows of an existing results.csv.
yl_status yl_trainer_read_results(yl_trainer *t, int epochs);
// The options as a JSON object (heap string) for the checkpoints' train_args.
char *yl_trainer_args_json(const yl_trainer *t);

// train_checkpoint.c
// last (and best when `best`) from the EMA weights, then the resume state.
yl_status yl_trainer_save(yl_trainer *t, const yl_train_epoch *e, bool best);
// Loads the resume state; sets start_epoch, best fitness and the counters.
yl_status yl_trainer_resume(yl_trainer *t);

// train_eval.c: validates the EMA weights (swapped in and back), fills metrics, fitness and
// the val losses of `e`, and re-plans the model for training.
yl_status yl_trainer_validate(yl_trainer *t, yl_train_epoch *e);
// Ultralytics' final_eval: loads best.safetensors into the model (strictly) and validates it with
// the per-class table into the summary's final_* fields. Does nothing without a validator. The
// model holds best's weights afterwards: call it after the last epoch only.
yl_status yl_trainer_final_validate(yl_trainer *t, yl_train_summary *summary);

// train_util.c
yl_status yl_train_mkdirs(const char *path);
double yl_train_now(void);
double yl_train_memory_gb(const yl_trainer *t);
