// POST /webhook and POST /train of the ML backend (spec label_studio.md §2.8, §5.4, §5.5): count
// new verified annotations and, every `retrain_after` of them, start one continual-learning cycle
// in the background; "Start Training" (START_TRAINING or /train) starts one at once. The webhook
// is answered at once (Label Studio waits 1 s and runs it in the annotator's request).
//
// A cycle is a child process, `<this executable> cycle workspace=<dir>` (posix_spawn), so a crash
// or a long training run never takes the server down; its output goes to the server's own
// stdout/stderr. One at a time: a trigger while one runs is counted but starts nothing; the
// annotations keep counting and the next event after it ends starts the next one. The exit
// status of the last cycle (0, 10, 11 = done, see cycle.h; anything else failed) is reported.
//
// Verified, as annotations.h counts them: not cancelled, and ground_truth or a last_action other
// than prediction / propagated_annotation / rejected; imported ones only with trust_imported.
#pragma once
#include <stdbool.h>

#include <cjson/cJSON.h>

#include "cli/serve/reply.h"
#include "engine/core/status.h"

typedef struct yl_cycle_runner yl_cycle_runner;

typedef struct {
    const char *workspace;       // NULL: no cycles (file mode); events are still counted
    int retrain_after;           // 0: never start one from annotation counts
    bool trust_imported;
    const char *const *argv;     // the command to run (NULL: this executable, "cycle", "workspace=<dir>")
} yl_cycle_runner_options;

yl_status yl_cycle_runner_create(yl_cycle_runner **out, const yl_cycle_runner_options *options);
// wait = true waits for a running cycle to end; false leaves it running (it holds the workspace
// lock and finishes on its own) and does not free what the waiting thread still uses.
void yl_cycle_runner_destroy(yl_cycle_runner *runner, bool wait);

void yl_serve_webhook(yl_cycle_runner *runner, const cJSON *event, yl_serve_reply *reply);
void yl_serve_train(yl_cycle_runner *runner, yl_serve_reply *reply);
// {"running", "pid", "runs", "last_exit", "last_started", "last_finished", "pending_annotations",
//  "retrain_after"}
cJSON *yl_cycle_runner_status(yl_cycle_runner *runner);
bool yl_cycle_runner_running(yl_cycle_runner *runner);
