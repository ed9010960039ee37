// Pieces of one cycle (cycle.h) shared by cycle.c (orchestration), cycle_eval.c (evaluation),
// cycle_finetune.c (training a candidate), cycle_decide.c (the two decisions), cycle_commit.c
// (the commit journal), cycle_cleanup.c (what killed cycles leave behind) and cycle_kill.c (the
// test hook and log lines).
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include <cjson/cJSON.h>

#include "cli/cycle/history.h"
#include "cli/cycle/registry.h"
#include "cli/cycle/workspace.h"
#include "engine/core/status.h"
#include "engine/data/image_list.h"
#include "engine/ops/ops.h"

// What the cycle keeps of one evaluation (the full record goes to an eval_record.h file).
typedef struct {
    bool measured;
    long images, instances;
    double precision, recall, map50, map50_95;
    int nc;
    double *ap50;  // per class, nc entries (owned)
    bool *has_gt;  // per class (owned)
} yl_cycle_metrics;

void yl_cycle_metrics_free(yl_cycle_metrics *m);

// What names one evaluation (written into the record and the history row), and where its
// warnings go (images skipped; may be NULL).
typedef struct {
    const char *cycle, *model, *role, *eval_set;
    FILE *log;
} yl_cycle_eval_label;

// Evaluates the checkpoint at model_path on `images` (labels beside them, YOLO layout) with the
// workspace's fixed settings (eval.imgsz, eval.conf, eval.iou), on `eng`. The model's class names
// must be the workspace's `names` in the same order. Writes the full record (eval_record.h) to
// record_path and the summary to *out.
yl_status yl_cycle_evaluate(const yl_workspace_config *config, yl_engine *eng, const char *model_path,
                            const yl_path_list *images, const yl_cycle_eval_label *label, const char *record_path,
                            yl_cycle_metrics *out);

// The image list of a data.yaml's val split (the temporal split's data_eval.yaml), checking that
// its names are the workspace's.
yl_status yl_cycle_images_from_yaml(const yl_workspace_config *config, const char *yaml, yl_path_list *out);

typedef struct {
    const char *deployed_model;  // the checkpoint to start from
    const char *parent_id;       // its registry id (lineage in the checkpoint)
    const char *train_yaml;      // the verified training pool; NULL: replay only
    const char *replay_yaml;     // <workspace>/replay/data.yaml
    const char *save_dir;        // models/candidates/<cycle>
    FILE *log;                   // progress lines (may be NULL)
} yl_cycle_finetune_request;

// Fine-tunes a candidate with the workspace's recipe (explicit optimizer, lr0, warm-up, epochs,
// freeze, replay at replay_ratio per batch, no per-epoch validation: the evaluation set must never
// influence training). The candidate is <save_dir>/weights/last.safetensors (into candidate);
// *train_args (may be NULL) receives the arguments used, for the registry's meta.json.
yl_status yl_cycle_finetune(const yl_workspace_config *config, const yl_cycle_finetune_request *request,
                            char *candidate, size_t size, cJSON **train_args);

// Test hook (cycle.h): when YOLOOP_CYCLE_KILL_AT names `step`, the process kills itself with
// SIGKILL here, as a power cut or `kill -9` would.
void yl_cycle_kill_point(const char *step);

// Formats into a log line and writes it (with a newline) when log is not NULL.
void yl_cycle_logf(FILE *log, const char *fmt, ...);

// Step 5: fine-tune or not (spec: mAP50 < min_map50, or a drop of more than max_drop since the
// previous evaluation). force turns a "no" into a "yes" (the reason says so). The reason in words
// goes to reason.
bool yl_cycle_decide(const yl_workspace_config *config, double map50, bool had_previous, double previous, bool force,
                     char *reason, size_t size);
// Step 7: deploy the candidate or not (candidate mAP50 > deployed + min_gain; when configured,
// golden-set and per-class non-regression). Golden metrics may be NULL or unmeasured.
bool yl_cycle_compare(const yl_workspace_config *config, const yl_cycle_metrics *deployed,
                      const yl_cycle_metrics *candidate, const yl_cycle_metrics *deployed_golden,
                      const yl_cycle_metrics *candidate_golden, char *reason, size_t size);

// ---- the commit journal (cycle_commit.c) -----------------------------------------------------
// history/pending_commit.json holds everything the end of a cycle writes, as one file written
// atomically; writing it is the cycle's commit point (cycle.h):
//   {"cycle", "snapshot",
//    "deploy": {"version", "from", "reason"} or null,
//    "records": [{"file": "<cycle>_<model>_<set>.json", "staged_in": "cycles/<cycle>/evals"}],
//    "rows": [yl_eval_row as an object, "time" filled],
//    "decisions": [decision objects, "time" filled]}
// Paths are relative to the workspace, so a workspace moved after a kill still recovers.
#define YL_CYCLE_JOURNAL "history/pending_commit.json"

typedef struct {
    const char *cycle, *snapshot;
    const char *deploy_version;  // NULL or "": nothing to deploy
    const char *deploy_from, *deploy_reason;
    const char *records_dir;     // the staged records' folder, relative to the workspace
    const char *const *records;  // file names in records_dir
    int record_count;
    const yl_eval_row *rows;     // an empty time is filled with the time of the journal
    int row_count;
    const cJSON *decisions;      // array; copied, "time" added first where absent
} yl_cycle_commit;

typedef struct {
    bool applied;                       // a journal was found, applied and removed
    char cycle[40], snapshot[40];
    char deployed[YL_VERSION_ID_SIZE];  // the version it deploys ("" when none)
    bool deploy_done;                   // the pointer was moved by this call (not already there)
} yl_cycle_commit_info;

// Writes the journal (the commit point). Fails when one is already pending.
yl_status yl_cycle_commit_write(const char *workspace, const yl_cycle_commit *commit);
// Applies a pending journal idempotently (deploy unless the pointer already names the version;
// move the staged records that are still staged; append the rows and decisions not yet in the
// history; set last_eval_snapshot) and removes it. No journal: YL_OK, info->applied false.
// A journal that cannot be parsed is an error naming the file and field (it is left in place).
yl_status yl_cycle_commit_apply(const char *workspace, FILE *log, yl_cycle_commit_info *info);
// Whether a journal is pending, and its cycle id and version to deploy (each "" when absent).
yl_status yl_cycle_commit_pending(const char *workspace, bool *pending, char cycle[40],
                                  char version[YL_VERSION_ID_SIZE]);

// ---- what killed cycles leave behind (cycle_cleanup.c) ----------------------------------------
// Removes models/candidates/<cycle>/ and cycles/<cycle>/ of cycles that never committed: their id
// is in neither eval_history.csv nor decisions.jsonl nor a pending journal. Folders of committed
// cycles stay (a candidate that lost its comparison is kept on purpose). One log line per removal.
yl_status yl_cycle_remove_uncommitted(const char *workspace, FILE *log);
