// Step 3 of a cycle: temporal separation (spec continual_learning.md "Temporal separation").
//
// The evaluation set is the verified data that is new since the last evaluated snapshot: items of
// the current snapshot whose key is not in that snapshot, or whose label changed (label_sha256 or
// image sha256 differ: a re-labelled image is new verified data). The training pool is the rest:
// items an earlier cycle already evaluated (with their current labels). The evaluation set is
// never trained on in the same cycle; once the cycle ends, history/last_eval_snapshot names the
// current snapshot and the evaluation set joins the pool. With no previous snapshot every item is
// new (the first cycle only records the baseline).
//
// yl_temporal_build writes cycles/<cycle>/{eval,train}/{images,labels}/ (hard links into the
// snapshot) and the list files and data.yaml the engine reads:
//   cycles/<cycle>/eval.txt, train.txt              image paths, one per line
//   cycles/<cycle>/data_train.yaml                  path, train: train.txt, val: train.txt, names
//   cycles/<cycle>/data_eval.yaml                   path, train: eval.txt, val: eval.txt, names
// Items deleted from Label Studio since the last snapshot simply drop out of both sets.
#pragma once
#include "cli/cycle/snapshot.h"
#include "cli/cycle/workspace.h"
#include "engine/core/status.h"

typedef struct {
    int num_eval, num_train;
    int *eval_items;   // indices into the current snapshot's items
    int *train_items;
    int num_removed;   // items of the previous snapshot that are gone now
    int num_relabelled;  // items in both whose labels changed (they are in eval)
    char dir[1024];    // <workspace>/cycles/<cycle>
    char eval_list[1100], train_list[1100];
    char eval_yaml[1100], train_yaml[1100];
} yl_temporal_split;

// previous may be NULL (no snapshot evaluated yet).
yl_status yl_temporal_split_compute(const yl_snapshot *current, const yl_snapshot *previous, yl_temporal_split *out);
// Writes the folders and files above for cycle id `cycle` (the folder is rebuilt from scratch).
yl_status yl_temporal_build(const yl_workspace_config *config, const char *cycle, const yl_snapshot *current,
                            yl_temporal_split *split);
void yl_temporal_split_free(yl_temporal_split *split);
