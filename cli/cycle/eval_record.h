// One evaluation of the cycle, kept in full for the report (history/evals/<name>.json):
//   {"cycle", "model", "role", "eval_set", "time", "imgsz", "conf", "iou",
//    "images", "instances", "precision", "recall", "map50", "map50_95", "fitness",
//    "classes": [{"name", "instances", "images", "ap50", "ap50_95", "precision", "recall",
//                 "has_gt"}],
//    "pr_curve": {"recall": [101 points 0..1], "precision": {"<class>": [101 values]}},
//    "confusion": [[...]]}
// PR curves are resampled from the evaluator's 1000-point curves to 101 recall points so the
// file stays small (linear interpolation on px, values rounded to 6 decimals); only classes with
// GT ("has_gt") get a curve. "time" is when the record was built (UTC); a NULL info string is
// written as null; names may be NULL ("class<N>").
#pragma once
#include <cjson/cJSON.h>

#include "engine/core/status.h"
#include "engine/eval/metrics.h"

typedef struct {
    const char *cycle, *model, *role, *eval_set;
    int imgsz;
    double conf, iou;
} yl_eval_record_info;

// Builds the JSON object above; *out is owned by the caller.
yl_status yl_eval_record_build(const yl_eval_results *results, const char *const *names, const yl_eval_record_info *info,
                               cJSON **out);
// Builds it and writes it atomically to path.
yl_status yl_eval_record_write(const char *path, const yl_eval_results *results, const char *const *names,
                               const yl_eval_record_info *info);
