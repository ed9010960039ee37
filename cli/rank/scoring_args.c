// Scoring arguments shared by `rank` and `push` (see scoring_args.h).
#include "cli/rank/scoring_args.h"

#include <stdio.h>
#include <string.h>

#include "cli/args.h"

yl_rank_scoring_args yl_rank_scoring_defaults(void) {
    return (yl_rank_scoring_args){.strategy = YL_UNC_COMBINED, .aggregate = YL_UNC_AGG_MAX, .max_det = 300,
                                  .conf = 0.25, .iou = 0.7, .flip = -1, .device = YL_DEVICE_CPU};
}

int yl_rank_scoring_parse_arg(const char *command, const char *key, const char *value, bool allow_random,
                              yl_rank_scoring_args *a) {
    if (!strcmp(key, "strategy")) {
        if (yl_unc_strategy_parse(value, &a->strategy) && (allow_random || a->strategy != YL_UNC_RANDOM)) return 1;
        fprintf(stderr, "%s: strategy=%s: expected least_confidence, margin, entropy, dfl_entropy, flip%s\n", command,
                value, allow_random ? ", combined or random" : " or combined");
        return 0;
    }
    if (!strcmp(key, "aggregate")) {
        if (yl_unc_aggregate_parse(value, &a->aggregate)) return 1;
        fprintf(stderr, "%s: aggregate=%s: expected max, mean or sum\n", command, value);
        return 0;
    }
    if (!strcmp(key, "imgsz")) return yl_arg_int(command, key, value, 32, 8192, &a->imgsz);
    if (!strcmp(key, "max_det")) return yl_arg_int(command, key, value, 1, 100000, &a->max_det);
    if (!strcmp(key, "conf")) return yl_arg_double(command, key, value, 0.0, 1.0, &a->conf);
    if (!strcmp(key, "iou")) return yl_arg_double(command, key, value, 0.0, 1.0, &a->iou);
    if (!strcmp(key, "device")) return yl_arg_device(command, key, value, &a->device, &a->cuda_index);
    return -1;
}

int yl_rank_args_check(const char *command, const yl_rank_source_args *source, const yl_rank_scoring_args *a) {
    if (a->imgsz % 32) {
        fprintf(stderr, "%s: imgsz=%d: must be a multiple of 32\n", command, a->imgsz);
        return 2;
    }
    if (!source->model && !source->workspace) {
        fprintf(stderr, "%s: model= or workspace= is required (see yoloop %s --help)\n", command, command);
        return 2;
    }
    return 0;
}

yl_scorer_options yl_rank_scorer_options(const yl_rank_scoring_args *a, int source_imgsz) {
    yl_scorer_options so = yl_scorer_defaults();
    so.imgsz = a->imgsz ? a->imgsz : source_imgsz > 0 ? source_imgsz : 640;
    so.conf = (float)a->conf;
    so.iou = a->iou;
    so.max_det = a->max_det;
    so.aggregate = a->aggregate;
    so.flip = a->flip >= 0 ? a->flip != 0 : (a->strategy == YL_UNC_FLIP || a->strategy == YL_UNC_COMBINED);
    return so;
}
