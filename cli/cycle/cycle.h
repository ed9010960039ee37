// One continual-learning cycle (spec continual_learning.md "One cycle"):
//   lock the workspace -> snapshot -> temporal split -> evaluate the deployed model on the new
//   data (and the golden set) -> decide -> fine-tune from the deployed weights with replay ->
//   compare on the same evaluation set -> deploy or not -> log (history, decisions, report).
//
// Outcomes (the exit codes of `yoloop cycle`):
//   YL_CYCLE_NOTHING_TO_DO  0  no new verified data, the baseline recorded, or the decision said
//                              "no action"
//   YL_CYCLE_DEPLOYED      10  a candidate was fine-tuned, won the comparison and was deployed
//   YL_CYCLE_NOT_DEPLOYED  11  a candidate was fine-tuned but lost the comparison (kept under
//                              models/candidates/, not deployed)
//   YL_CYCLE_ERROR          1  anything failed; the workspace is as it was before the cycle
// A dry run takes the snapshot into a temporary folder, evaluates, and prints what it would do
// (fine-tune or not, on how many images) without training, deploying or writing history.
//
// Safety: every file that matters is written atomically (fs_util.h) and in an order that keeps
// the workspace consistent at every instant: history rows and last_eval_snapshot are written
// only after the step they record has finished, the deployed pointer only after the new version
// is complete in the registry. A cycle killed at any point leaves the deployed model, the
// history and earlier snapshots as they were; the next cycle cleans temp files and starts over.
// What a kill can leave: a snapshot folder and cycles/<cycle>/ (working data, harmless: the next
// cycle takes a new snapshot), a candidate under models/candidates/, a registry version that is
// not deployed (killed between yl_registry_add and yl_registry_deploy), or a deployed pointer
// already advanced with history not yet written (killed right after the deploy: the next cycle
// evaluates the same new data again with the new model). Killed in the middle of the history
// writes (a few milliseconds), some of the cycle's rows may be present without
// last_eval_snapshot; the next cycle then repeats the evaluation under a new cycle id.
//
// Test hook: when the environment variable YOLOOP_CYCLE_KILL_AT names a step, the cycle raises
// SIGKILL there (tests/test_cycle.c checks what each kill leaves). Steps: after_lock,
// after_snapshot, after_eval, finetune (the first training batch), after_finetune, after_compare,
// after_registry_add, after_deploy, after_history_rows, before_last_eval_snapshot,
// after_last_eval_snapshot. Never set it outside tests.
#pragma once
#include <stdbool.h>
#include <stdio.h>

#include "cli/cycle/workspace.h"
#include "engine/core/status.h"

typedef enum {
    YL_CYCLE_NOTHING_TO_DO = 0,
    YL_CYCLE_ERROR = 1,
    YL_CYCLE_DEPLOYED = 10,
    YL_CYCLE_NOT_DEPLOYED = 11,
} yl_cycle_outcome;

typedef struct {
    bool dry_run;
    bool force_finetune;  // fine-tune even when the decision says no action (manual runs)
    bool wait_for_lock;   // wait for another cycle in the same workspace instead of failing
    FILE *log;            // progress lines (NULL: silent)
} yl_cycle_options;

typedef struct {
    yl_cycle_outcome outcome;
    char cycle[40];        // the cycle id ("c" + snapshot stamp)
    char snapshot[40];
    char deployed_before[16], deployed_after[16], candidate[16];
    int eval_images, train_images, replay_images;
    double map50_deployed, map50_previous, map50_candidate;  // -1 when not measured
    bool had_previous;
    char reason[512];      // the decision's reason in words
} yl_cycle_result;

// Runs one cycle in the workspace whose yoloop.yaml is loaded in `config`.
yl_status yl_cycle_run(const yl_workspace_config *config, const yl_cycle_options *options, yl_cycle_result *result);
