// The scoring arguments `rank` and `push` share (strategy, aggregate, imgsz, conf, iou, max_det,
// device), their checks, and the scorer options they make.
#pragma once
#include <stdbool.h>

#include "cli/rank/model_source.h"
#include "cli/rank/scorer.h"
#include "engine/eval/uncertainty.h"

typedef struct {
    yl_unc_strategy strategy;    // combined
    yl_unc_aggregate aggregate;  // max
    int imgsz;                   // 0: the model source's, else 640
    int max_det;                 // 300
    double conf, iou;            // 0.25, 0.7
    int flip;                    // -1: run the mirrored input when the strategy needs it; 0 / 1: forced
    yl_device device;            // cpu
    int cuda_index;
} yl_rank_scoring_args;

yl_rank_scoring_args yl_rank_scoring_defaults(void);

// One key=value argument of the above (not flip): 1 parsed, 0 a bad value (message printed as
// "<command>: ..."), -1 not one of these keys. allow_random: whether strategy=random is accepted.
int yl_rank_scoring_parse_arg(const char *command, const char *key, const char *value, bool allow_random,
                              yl_rank_scoring_args *args);

// After parsing: imgsz a multiple of 32, and model= or workspace= given. 0, or 2 with a message.
int yl_rank_args_check(const char *command, const yl_rank_source_args *source, const yl_rank_scoring_args *args);

// The scorer options: imgsz from the arguments, else source_imgsz when known, else 640.
yl_scorer_options yl_rank_scorer_options(const yl_rank_scoring_args *args, int source_imgsz);
