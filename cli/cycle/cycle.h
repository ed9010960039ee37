// One continual-learning cycle (spec continual_learning.md "One cycle"):
//   lock the workspace -> complete an interrupted cycle (see Safety) -> snapshot -> temporal split -> evaluate the deployed model on the new
//   data (and the golden set) -> decide -> fine-tune from the deployed weights with replay ->
//   compare on the same evaluation set -> deploy or not -> log (history, decisions, report).
//
// Outcomes (the exit codes of `yoloop cycle`):
//   YL_CYCLE_NOTHING_TO_DO  0  no new verified data, the baseline recorded, or the decision said
//                              "no action"
//   YL_CYCLE_DEPLOYED      10  a candidate was fine-tuned, won the comparison and was deployed
//   YL_CYCLE_NOT_DEPLOYED  11  a candidate was fine-tuned but lost the comparison (kept under
//                              models/candidates/, not deployed)
//   YL_CYCLE_ERROR          1  anything failed; before the commit point (see Safety) the workspace
//                              is as it was before the cycle, after it the next run completes it
// A dry run takes the snapshot into a temporary folder, evaluates, and prints what it would do
// (fine-tune or not, on how many images) without training, deploying or writing history.
//
// Safety: a write-ahead commit journal. Until the outcome is decided the cycle writes only where
// nothing reads it yet (a new snapshot folder, cycles/<cycle>/, models/candidates/<cycle>/, and
// for a deploy a new registry version, which is not deployed). Then it writes ONE file atomically,
// history/pending_commit.json, holding everything the end of the cycle changes: the version to
// deploy, the evaluation records to move into history/evals/, the eval_history.csv rows (times
// filled), the decisions.jsonl objects and the snapshot for last_eval_snapshot. Writing it is the
// commit point. The cycle then applies it, each step idempotent (deploy only if the pointer does
// not name the version yet; move only records still staged; append only rows and decisions not
// yet present, keyed by cycle + role + eval_set and cycle + step; set last_eval_snapshot), and
// removes it (unlink + fsync of history/).
//   Killed before the journal: the deployed model, the history and earlier snapshots are exactly
//   as they were; the next cycle sees the same data as new and starts over. It removes the
//   models/candidates/<cycle>/ and cycles/<cycle>/ folders of cycles that never committed (their
//   id is in neither the history nor a pending journal; a log line each). A version added by
//   yl_registry_add whose cycle was killed before the journal stays in the registry as an
//   undeployed candidate (versions are never deleted; `rollback to=` can still deploy it).
//   Killed after the journal: the history may be partly updated (the pointer moved, some files
//   appended), never inconsistent with the journal. The next non-dry-run cycle, right after taking
//   the lock, completes the interrupted cycle from the journal ("completing the interrupted cycle
//   <id>"; result.recovered), exactly once, before it reads the history or the pointer. A dry run
//   only says that an interrupted cycle is pending and would be completed.
//
// Test hook: when the environment variable YOLOOP_CYCLE_KILL_AT names a step, the cycle raises
// SIGKILL there (tests/test_cycle.c checks what each kill leaves). Steps: after_lock,
// after_snapshot, after_eval, finetune (the first training batch), after_finetune, after_compare,
// after_registry_add (all before the commit point), after_journal, after_deploy,
// after_history_rows, before_last_eval_snapshot, after_last_eval_snapshot (after it; the last four
// also fire while a pending journal is being completed). Never set it outside tests.
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
    // A cycle killed after its commit point, completed from history/pending_commit.json before
    // this one started: recovered is true and recovered_cycle names it. In a dry run recovered
    // stays false and recovered_cycle names the pending cycle a real run would complete.
    bool recovered;
    char recovered_cycle[40];
} yl_cycle_result;

// Runs one cycle in the workspace whose yoloop.yaml is loaded in `config`.
yl_status yl_cycle_run(const yl_workspace_config *config, const yl_cycle_options *options, yl_cycle_result *result);
