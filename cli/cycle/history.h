// The history of a workspace (spec continual_learning.md "Log"):
//
//   history/eval_history.csv     one row per evaluation, header first:
//       time,cycle,snapshot,model,role,eval_set,images,instances,precision,recall,map50,map50_95
//     role: "deployed" (the deployed model on the cycle's evaluation set: the series the decision
//     compares), "candidate", "deployed_golden", "candidate_golden"
//   history/decisions.jsonl      one JSON object per cycle step that decides something:
//       {"time", "cycle", "step": "decide"|"compare"|"deploy"|"baseline"|"nothing_new", "action",
//        "reason", "inputs": {...}}
//   history/last_eval_snapshot   one line: the snapshot id whose data has been evaluated (temporal.h)
//   history/evals/<cycle>_<model>_<eval_set>.json   eval_record.h: per-class AP, PR curve
//
// Every write is atomic (the whole file rewritten to a temp file, fsync'd, renamed): a killed
// cycle leaves each file as it was before or as it is after the append, never truncated.
#pragma once
#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "engine/core/status.h"

typedef struct {
    char time[32];
    char cycle[40];
    char snapshot[40];
    char model[16];
    char role[24];
    char eval_set[24];  // "new" (the cycle's evaluation set), "golden"
    long images, instances;
    double precision, recall, map50, map50_95;
} yl_eval_row;

yl_status yl_history_append_eval(const char *workspace, const yl_eval_row *row);
// All rows, file order; *rows malloc'd (NULL, 0 when the file is absent). A malformed line is
// an error naming the file and line.
yl_status yl_history_read_evals(const char *workspace, yl_eval_row **rows, int *count);
// The mAP50 of the last row with role "deployed" and eval_set "new" (what "previous mAP50" means
// in the decision). *found = false when there is none.
yl_status yl_history_previous_map50(const char *workspace, double *map50, bool *found);

// Appends one JSON object as a line (compact); "time" is added when absent.
yl_status yl_history_append_decision(const char *workspace, const cJSON *decision);
// All decisions as a JSON array (empty when none); caller deletes it.
yl_status yl_history_read_decisions(const char *workspace, cJSON **array);

// The last evaluated snapshot id ("" when none) and its update.
yl_status yl_history_last_eval_snapshot(const char *workspace, char *id, size_t size);
yl_status yl_history_set_last_eval_snapshot(const char *workspace, const char *id);
