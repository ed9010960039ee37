// One continual-learning cycle (cycle.h): the orchestration. Everything before the commit point
// writes only where nothing reads it yet:
//   snapshot (a folder renamed into place) -> per-cycle datasets (cycles/<cycle>/) -> evaluation
//   records staged in cycles/<cycle>/evals/ -> candidate under models/candidates/<cycle>/ ->
//   registry add (a new, undeployed version: a folder renamed into place)
// then the commit point, one atomic file (cycle_commit.c):
//   history/pending_commit.json: the deploy, the records to move, the rows, the decisions, the
//   snapshot to record
// and only then its application (pointer, history/evals/, eval_history.csv, decisions.jsonl,
// last_eval_snapshot), after which the journal is removed. Killed before the journal: the next
// cycle sees the same data as new and starts over (and removes the dead cycle's folders). Killed
// after it: the next cycle first completes this one from the journal, exactly once.
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cycle/cycle.h"
#include "cli/cycle/cycle_internal.h"
#include "cli/cycle/history.h"
#include "cli/cycle/registry.h"
#include "cli/cycle/report.h"
#include "cli/cycle/snapshot.h"
#include "cli/cycle/temporal.h"
#include "cli/fs_util.h"
#include "cli/model_load.h"
#include "engine/data/data_yaml.h"

#define PATH_SIZE 1200
#define MAX_RECORDS 4

typedef struct {
    const yl_workspace_config *config;  // the workspace
    yl_workspace_config work;           // what snapshot/temporal write into (root = a temp dir in a dry run)
    const yl_cycle_options *opt;
    yl_cycle_result *res;
    FILE *log;
    char dry_root[PATH_SIZE];  // "" unless a dry run
    yl_snapshot snap, prev;
    bool snap_ready, prev_ready;
    yl_temporal_split split;
    bool split_ready;
    yl_path_list eval_images, golden_images;
    yl_engine eng;
    bool eng_ready;
    char deployed_path[PATH_SIZE];
    char replay_yaml[PATH_SIZE];
    yl_cycle_metrics dep_new, dep_golden, cand_new, cand_golden;
    char records[MAX_RECORDS][256];  // staged record file names (in <split.dir>/evals)
    int record_count;
    cJSON *decisions;  // the decisions of this cycle, appended at the end
    yl_eval_row rows[MAX_RECORDS];
    int row_count;
    char deploy_version[YL_VERSION_ID_SIZE];  // the version the commit deploys ("" when none)
    char deploy_reason[700];
} cycle_run;

static void snapshot_log(void *user, const char *line) {
    cycle_run *c = user;
    yl_cycle_logf(c->log, "  %s", line);
}

static yl_status path_in(const cycle_run *c, const char *relative, char *out) {
    return yl_workspace_path(c->config, relative, out, PATH_SIZE);
}

// ---- setup ----------------------------------------------------------------------------------

static yl_status make_dry_root(cycle_run *c) {
    const char *tmp = getenv("TMPDIR");
    snprintf(c->dry_root, sizeof c->dry_root, "%s/yoloop-dry-run-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(c->dry_root)) {
        c->dry_root[0] = '\0';
        return yl_error(YL_ERR_IO, "cycle: dry run: cannot create a temporary folder in %s", tmp ? tmp : "/tmp");
    }
    c->work.root = c->dry_root;
    return YL_OK;
}

static yl_status load_previous_snapshot(cycle_run *c) {
    char id[64];
    YL_TRY(yl_history_last_eval_snapshot(c->config->root, id, sizeof id));
    if (!id[0]) return YL_OK;
    yl_status st = yl_snapshot_load(c->config, id, &c->prev);
    if (st != YL_OK)
        return yl_error_context(st, "cycle: history/last_eval_snapshot names snapshot %s, which cannot be read: ", id);
    c->prev_ready = true;
    return YL_OK;
}

static yl_status find_deployed(cycle_run *c) {
    YL_TRY(yl_registry_deployed(c->config->root, c->res->deployed_before));
    if (!c->res->deployed_before[0])
        return yl_error(YL_ERR_INVALID_ARG, "cycle: %s: no model is deployed (yoloop init adds and deploys one)",
                        c->config->root);
    snprintf(c->res->deployed_after, sizeof c->res->deployed_after, "%s", c->res->deployed_before);
    return yl_registry_model_path(c->config->root, c->res->deployed_before, c->deployed_path, sizeof c->deployed_path);
}

static yl_status count_replay(cycle_run *c) {
    YL_TRY(path_in(c, "replay/data.yaml", c->replay_yaml));
    yl_data_config data;
    memset(&data, 0, sizeof data);
    yl_status st = yl_data_yaml_load(c->replay_yaml, &data);
    if (st != YL_OK) return yl_error_context(st, "cycle: the replay set: ");
    c->res->replay_images = data.train.images.count;
    yl_data_config_free(&data);
    return YL_OK;
}

static yl_status find_golden(cycle_run *c) {
    char dir[PATH_SIZE];
    YL_TRY(path_in(c, "golden/images", dir));
    if (!yl_fs_is_dir(dir)) return YL_OK;
    yl_status st = yl_path_list_add_source(&c->golden_images, dir);
    if (st == YL_OK) yl_path_list_sort(&c->golden_images);
    if (st == YL_OK && c->golden_images.count == 0) yl_cycle_logf(c->log, "WARNING %s holds no images", dir);
    return st;
}

// ---- evaluation -------------------------------------------------------------------------------

static yl_status evaluate(cycle_run *c, const char *model_path, const char *model, const char *role,
                          const char *eval_set, const yl_path_list *images, yl_cycle_metrics *out) {
    if (c->record_count == MAX_RECORDS) return yl_error(YL_ERR_INVALID_ARG, "cycle: too many evaluations");
    char *name = c->records[c->record_count];
    snprintf(name, sizeof c->records[0], "%s_%s_%s.json", c->res->cycle, model, eval_set);
    char dir[PATH_SIZE], path[PATH_SIZE + 300], relative[128];
    // The same folder as <split.dir>/evals, named from the (work) root like the journal names it.
    snprintf(relative, sizeof relative, "cycles/%s/evals", c->res->cycle);
    YL_TRY(yl_workspace_path(&c->work, relative, dir, sizeof dir));
    YL_TRY(yl_fs_mkdirs(dir));
    snprintf(path, sizeof path, "%s/%s", dir, name);
    yl_cycle_eval_label label = {.cycle = c->res->cycle, .model = model, .role = role, .eval_set = eval_set, .log = c->log};
    YL_TRY(yl_cycle_evaluate(c->config, &c->eng, model_path, images, &label, path, out));
    c->record_count++;
    yl_cycle_logf(c->log, "  %-9s %-6s on %-6s set: %ld images, %ld instances, P %.3f R %.3f mAP50 %.4f mAP50-95 %.4f",
                  role, model, eval_set, out->images, out->instances, out->precision, out->recall, out->map50,
                  out->map50_95);
    return YL_OK;
}

static void add_row(cycle_run *c, const char *model, const char *role, const char *eval_set, const yl_cycle_metrics *m) {
    if (c->row_count == MAX_RECORDS) return;
    yl_eval_row *r = &c->rows[c->row_count++];
    memset(r, 0, sizeof *r);
    snprintf(r->cycle, sizeof r->cycle, "%s", c->res->cycle);
    snprintf(r->snapshot, sizeof r->snapshot, "%s", c->res->snapshot);
    snprintf(r->model, sizeof r->model, "%s", model);
    snprintf(r->role, sizeof r->role, "%s", role);
    snprintf(r->eval_set, sizeof r->eval_set, "%s", eval_set);
    r->images = m->images;
    r->instances = m->instances;
    r->precision = m->precision;
    r->recall = m->recall;
    r->map50 = m->map50;
    r->map50_95 = m->map50_95;
}

static cJSON *decision(cycle_run *c, const char *step, const char *action, const char *reason) {
    cJSON *d = cJSON_CreateObject();
    cJSON_AddStringToObject(d, "cycle", c->res->cycle);
    cJSON_AddStringToObject(d, "step", step);
    cJSON_AddStringToObject(d, "action", action);
    cJSON_AddStringToObject(d, "reason", reason);
    cJSON *inputs = cJSON_AddObjectToObject(d, "inputs");
    cJSON_AddStringToObject(inputs, "snapshot", c->res->snapshot);
    cJSON_AddStringToObject(inputs, "deployed", c->res->deployed_before);
    cJSON_AddNumberToObject(inputs, "eval_images", c->res->eval_images);
    cJSON_AddNumberToObject(inputs, "train_images", c->res->train_images);
    if (c->dep_new.measured) cJSON_AddNumberToObject(inputs, "map50", c->dep_new.map50);
    if (c->res->had_previous) cJSON_AddNumberToObject(inputs, "previous_map50", c->res->map50_previous);
    if (c->dep_golden.measured) cJSON_AddNumberToObject(inputs, "golden_map50", c->dep_golden.map50);
    cJSON_AddItemToArray(c->decisions, d);
    return inputs;
}

static yl_status evaluate_deployed(cycle_run *c) {
    YL_TRY(yl_cycle_images_from_yaml(c->config, c->split.eval_yaml, &c->eval_images));
    yl_cycle_logf(c->log, "evaluate: deployed %s on the %d new images%s", c->res->deployed_before,
                  c->eval_images.count, c->golden_images.count ? " and the golden set" : "");
    YL_TRY(evaluate(c, c->deployed_path, c->res->deployed_before, "deployed", "new", &c->eval_images, &c->dep_new));
    if (c->golden_images.count)
        YL_TRY(evaluate(c, c->deployed_path, c->res->deployed_before, "deployed_golden", "golden", &c->golden_images,
                        &c->dep_golden));
    c->res->map50_deployed = c->dep_new.map50;
    // The previous mAP50 is read before this cycle's row exists (the row is appended at the end).
    double previous = -1;
    bool found = false;
    YL_TRY(yl_history_previous_map50(c->config->root, &previous, &found));
    c->res->had_previous = found;
    c->res->map50_previous = found ? previous : -1;
    return YL_OK;
}

// ---- the end of a cycle: the commit journal, then its application ------------------------------

static void write_report(cycle_run *c) {
    char report[PATH_SIZE];
    if (yl_report_write(c->config->root, report, sizeof report) == YL_OK)
        yl_cycle_logf(c->log, "report: %s", report);
    else
        yl_cycle_logf(c->log, "WARNING the report could not be written: %s", yl_last_error());
}

static yl_status commit(cycle_run *c) {
    char staged[128];
    snprintf(staged, sizeof staged, "cycles/%s/evals", c->res->cycle);
    const char *records[MAX_RECORDS];
    for (int i = 0; i < c->record_count; i++) records[i] = c->records[i];
    for (int i = 0; i < c->row_count; i++) yl_utc_now_iso(c->rows[i].time);
    yl_cycle_commit journal = {.cycle = c->res->cycle, .snapshot = c->res->snapshot,
                               .deploy_version = c->deploy_version, .deploy_from = c->res->deployed_before,
                               .deploy_reason = c->deploy_reason, .records_dir = staged, .records = records,
                               .record_count = c->record_count, .rows = c->rows, .row_count = c->row_count,
                               .decisions = c->decisions};
    YL_TRY(yl_cycle_commit_write(c->config->root, &journal));
    yl_cycle_kill_point("after_journal");
    yl_cycle_commit_info info;
    YL_TRY(yl_cycle_commit_apply(c->config->root, c->log, &info));
    if (info.deployed[0]) snprintf(c->res->deployed_after, sizeof c->res->deployed_after, "%s", info.deployed);
    write_report(c);
    return YL_OK;
}

// A cycle killed after its commit point left history/pending_commit.json: complete it before
// anything else reads the history or the pointer. A dry run only says so.
static yl_status complete_interrupted(cycle_run *c) {
    bool pending = false;
    char cycle[40], version[YL_VERSION_ID_SIZE];
    YL_TRY(yl_cycle_commit_pending(c->config->root, &pending, cycle, version));
    if (!pending) return YL_OK;
    snprintf(c->res->recovered_cycle, sizeof c->res->recovered_cycle, "%s", cycle);
    if (c->opt->dry_run) {
        yl_cycle_logf(c->log, "dry run: the interrupted cycle %s is pending (%s)%s%s; a real run would complete it "
                      "first; this dry run reads the history and the deployed model as they are now",
                      cycle, YL_CYCLE_JOURNAL, version[0] ? " and deploys " : "", version);
        return YL_OK;
    }
    yl_cycle_logf(c->log, "completing the interrupted cycle %s (from %s)", cycle, YL_CYCLE_JOURNAL);
    yl_cycle_commit_info info;
    YL_TRY(yl_cycle_commit_apply(c->config->root, c->log, &info));
    c->res->recovered = info.applied;
    yl_cycle_logf(c->log, "the interrupted cycle %s is complete: snapshot %s recorded%s%s", cycle, info.snapshot,
                  info.deployed[0] ? ", deployed model " : "", info.deployed);
    write_report(c);
    return YL_OK;
}

// ---- fine-tune, compare, deploy ----------------------------------------------------------------

static cJSON *candidate_meta(cycle_run *c, cJSON *train_args) {
    cJSON *meta = cJSON_CreateObject();
    cJSON_AddStringToObject(meta, "cycle", c->res->cycle);
    cJSON_AddStringToObject(meta, "snapshot", c->res->snapshot);
    cJSON_AddStringToObject(meta, "source_model", c->deployed_path);
    cJSON *metrics = cJSON_AddObjectToObject(meta, "metrics");
    cJSON_AddNumberToObject(metrics, "map50", c->cand_new.map50);
    cJSON_AddNumberToObject(metrics, "map50_95", c->cand_new.map50_95);
    cJSON_AddNumberToObject(metrics, "precision", c->cand_new.precision);
    cJSON_AddNumberToObject(metrics, "recall", c->cand_new.recall);
    cJSON_AddNumberToObject(metrics, "eval_images", (double)c->cand_new.images);
    cJSON_AddNumberToObject(metrics, "deployed_map50", c->dep_new.map50);
    if (c->cand_golden.measured) cJSON_AddNumberToObject(metrics, "golden_map50", c->cand_golden.map50);
    if (train_args) cJSON_AddItemToObject(meta, "train_args", cJSON_Duplicate(train_args, true));
    cJSON_AddStringToObject(meta, "note", "fine-tuned by yoloop cycle");
    return meta;
}

// Adds the winner to the registry as a new version; the commit (journal) deploys it. Killed
// in between, the version stays in the registry as an undeployed candidate (cycle.h).
static yl_status add_candidate(cycle_run *c, const char *candidate, cJSON *train_args, const char *reason) {
    cJSON *meta = candidate_meta(c, train_args);
    if (!meta) return yl_error(YL_ERR_OOM, "cycle: out of memory for meta.json");
    char id[YL_VERSION_ID_SIZE];
    yl_status st = yl_registry_add(c->config->root, candidate, "finetune", c->res->deployed_before, meta, id);
    cJSON_Delete(meta);
    if (st != YL_OK) return st;
    snprintf(c->res->candidate, sizeof c->res->candidate, "%s", id);
    yl_cycle_kill_point("after_registry_add");
    snprintf(c->deploy_version, sizeof c->deploy_version, "%s", id);
    snprintf(c->deploy_reason, sizeof c->deploy_reason, "cycle %s: %.600s", c->res->cycle, reason);
    return YL_OK;
}

static yl_status finetune_compare_deploy(cycle_run *c, const char *decide_reason) {
    char save_dir[PATH_SIZE], relative[128], candidate[PATH_SIZE + 64];
    snprintf(relative, sizeof relative, "models/candidates/%s", c->res->cycle);
    YL_TRY(path_in(c, relative, save_dir));
    YL_TRY(yl_fs_remove_tree(save_dir));  // a killed earlier run of this same cycle id
    const bool pool = c->split.num_train > 0;
    if (pool)
        yl_cycle_logf(c->log, "fine-tune: from %s on %d pool images + replay (%d images, ratio %.2f per batch), %d epochs",
                      c->res->deployed_before, c->split.num_train, c->res->replay_images, c->config->replay_ratio,
                      c->config->ft_epochs);
    else
        yl_cycle_logf(c->log, "fine-tune: from %s on the replay set only (%d images): the verified training pool is "
                      "empty (every verified image so far is in this cycle's evaluation set), %d epochs",
                      c->res->deployed_before, c->res->replay_images, c->config->ft_epochs);
    cJSON *train_args = NULL;
    yl_cycle_finetune_request req = {.deployed_model = c->deployed_path, .parent_id = c->res->deployed_before,
                                     .train_yaml = pool ? c->split.train_yaml : NULL, .replay_yaml = c->replay_yaml,
                                     .save_dir = save_dir, .log = c->log};
    YL_TRY(yl_cycle_finetune(c->config, &req, candidate, sizeof candidate, &train_args));
    yl_cycle_kill_point("after_finetune");

    yl_cycle_logf(c->log, "compare: candidate vs deployed %s on the same %d images", c->res->deployed_before,
                  c->eval_images.count);
    yl_status st = evaluate(c, candidate, "candidate", "candidate", "new", &c->eval_images, &c->cand_new);
    if (st == YL_OK && c->golden_images.count)
        st = evaluate(c, candidate, "candidate", "candidate_golden", "golden", &c->golden_images, &c->cand_golden);
    if (st != YL_OK) {
        cJSON_Delete(train_args);
        return st;
    }
    c->res->map50_candidate = c->cand_new.map50;
    char reason[600];
    const bool deploy = yl_cycle_compare(c->config, &c->dep_new, &c->cand_new, &c->dep_golden, &c->cand_golden, reason,
                                         sizeof reason);
    yl_cycle_logf(c->log, "compare: %s -> %s", reason, deploy ? "deploy" : "keep the deployed model");
    cJSON *inputs = decision(c, "compare", deploy ? "deploy" : "keep", reason);
    cJSON_AddNumberToObject(inputs, "candidate_map50", c->cand_new.map50);
    cJSON_AddNumberToObject(inputs, "min_gain", c->config->min_gain);
    if (c->cand_golden.measured) cJSON_AddNumberToObject(inputs, "candidate_golden_map50", c->cand_golden.map50);
    cJSON_AddStringToObject(inputs, "candidate_path", candidate);
    yl_cycle_kill_point("after_compare");
    if (deploy) {
        st = add_candidate(c, candidate, train_args, reason);
        if (st == YL_OK) {
            char line[300];
            snprintf(line, sizeof line, "%s replaces %s", c->res->candidate, c->res->deployed_before);
            cJSON *d = decision(c, "deploy", "deployed", line);
            cJSON_AddStringToObject(d, "version", c->res->candidate);
        }
    }
    cJSON_Delete(train_args);
    YL_TRY(st);
    add_row(c, c->res->deployed_before, "deployed", "new", &c->dep_new);
    if (c->dep_golden.measured) add_row(c, c->res->deployed_before, "deployed_golden", "golden", &c->dep_golden);
    const char *cand_name = deploy ? c->res->candidate : "candidate";
    add_row(c, cand_name, "candidate", "new", &c->cand_new);
    if (c->cand_golden.measured) add_row(c, cand_name, "candidate_golden", "golden", &c->cand_golden);
    snprintf(c->res->reason, sizeof c->res->reason, "%.200s; %.300s", decide_reason, reason);
    c->res->outcome = deploy ? YL_CYCLE_DEPLOYED : YL_CYCLE_NOT_DEPLOYED;
    if (!deploy) yl_cycle_logf(c->log, "candidate kept in %s (not deployed)", save_dir);
    return commit(c);
}

// ---- the steps after the split --------------------------------------------------------------------

static void add_deployed_rows(cycle_run *c) {
    add_row(c, c->res->deployed_before, "deployed", "new", &c->dep_new);
    if (c->dep_golden.measured) add_row(c, c->res->deployed_before, "deployed_golden", "golden", &c->dep_golden);
}

static yl_status after_evaluation(cycle_run *c) {
    if (!c->prev_ready) {
        snprintf(c->res->reason, sizeof c->res->reason, "first cycle: baseline mAP50 %.4f of %s on %d images recorded",
                 c->dep_new.map50, c->res->deployed_before, c->res->eval_images);
        yl_cycle_logf(c->log, "decide: %s", c->res->reason);
        if (c->opt->dry_run) return YL_OK;
        decision(c, "baseline", "record", c->res->reason);
        add_deployed_rows(c);
        return commit(c);
    }
    char reason[512];
    const bool finetune = yl_cycle_decide(c->config, c->dep_new.map50, c->res->had_previous, c->res->map50_previous,
                                          c->opt->force_finetune, reason, sizeof reason);
    snprintf(c->res->reason, sizeof c->res->reason, "%s", reason);
    yl_cycle_logf(c->log, "decide: %s -> %s", reason, finetune ? "fine-tune" : "no action");
    if (c->opt->dry_run) {
        if (finetune)
            yl_cycle_logf(c->log, "dry run: would fine-tune from %s on %d pool images + %d replay images (ratio %.2f), "
                          "%d epochs, then compare on the %d new images",
                          c->res->deployed_before, c->split.num_train, c->res->replay_images, c->config->replay_ratio,
                          c->config->ft_epochs, c->res->eval_images);
        else
            yl_cycle_logf(c->log, "dry run: would take no action");
        return YL_OK;
    }
    cJSON *inputs = decision(c, "decide", finetune ? "finetune" : "no_action", reason);
    cJSON_AddNumberToObject(inputs, "min_map50", c->config->min_map50);
    cJSON_AddNumberToObject(inputs, "max_drop", c->config->max_drop);
    cJSON_AddBoolToObject(inputs, "force", c->opt->force_finetune);
    if (!finetune) {
        add_deployed_rows(c);
        return commit(c);
    }
    return finetune_compare_deploy(c, reason);
}

static yl_status nothing_new(cycle_run *c) {
    snprintf(c->res->reason, sizeof c->res->reason,
             "nothing new: no verified data since snapshot %s (%d items, %d removed)", c->prev.id, c->snap.num_items,
             c->split.num_removed);
    yl_cycle_logf(c->log, "%s", c->res->reason);
    if (c->opt->dry_run) return YL_OK;
    decision(c, "nothing_new", "none", c->res->reason);
    return yl_history_append_decision(c->config->root, cJSON_GetArrayItem(c->decisions, 0));
}

static yl_status run_steps(cycle_run *c) {
    YL_TRY(find_deployed(c));
    YL_TRY(count_replay(c));
    YL_TRY(find_golden(c));
    YL_TRY(load_previous_snapshot(c));

    yl_cycle_logf(c->log, "snapshot: reading the %s source", c->config->source == YL_SOURCE_LABEL_STUDIO ? "Label Studio"
                                                              : c->config->source == YL_SOURCE_JSON_EXPORT ? "JSON export"
                                                                                                           : "YOLO export");
    YL_TRY(yl_snapshot_create(&c->work, snapshot_log, c, &c->snap));
    c->snap_ready = true;
    snprintf(c->res->snapshot, sizeof c->res->snapshot, "%s", c->snap.id);
    snprintf(c->res->cycle, sizeof c->res->cycle, "c%.38s", c->snap.id);
    yl_cycle_logf(c->log, "snapshot %s: %d verified images (%ld could not be fetched)", c->snap.id, c->snap.num_items,
                  c->snap.images_failed);
    for (int i = 0; i < c->snap.num_warnings; i++) yl_cycle_logf(c->log, "WARNING %s", c->snap.warnings[i]);
    yl_cycle_kill_point("after_snapshot");

    YL_TRY(yl_temporal_split_compute(&c->snap, c->prev_ready ? &c->prev : NULL, &c->split));
    c->split_ready = true;
    c->res->eval_images = c->split.num_eval;
    c->res->train_images = c->split.num_train;
    yl_cycle_logf(c->log, "split: %d new images to evaluate (%d re-labelled), %d in the training pool, %d removed%s%s",
                  c->split.num_eval, c->split.num_relabelled, c->split.num_train, c->split.num_removed,
                  c->prev_ready ? " since snapshot " : " (no snapshot evaluated yet)", c->prev_ready ? c->prev.id : "");
    if (c->split.num_eval == 0) return nothing_new(c);
    YL_TRY(yl_temporal_build(&c->work, c->res->cycle, &c->snap, &c->split));

    YL_TRY(yl_cli_engine_init(&c->eng, c->config->device, c->config->cuda_index));
    c->eng_ready = true;
    YL_TRY(evaluate_deployed(c));
    yl_cycle_kill_point("after_eval");
    return after_evaluation(c);
}

static void cleanup(cycle_run *c) {
    if (c->eng_ready) yl_engine_release(&c->eng);
    if (c->split_ready) yl_temporal_split_free(&c->split);
    if (c->snap_ready) yl_snapshot_free(&c->snap);
    if (c->prev_ready) yl_snapshot_free(&c->prev);
    yl_path_list_free(&c->eval_images);
    yl_path_list_free(&c->golden_images);
    yl_cycle_metrics_free(&c->dep_new);
    yl_cycle_metrics_free(&c->dep_golden);
    yl_cycle_metrics_free(&c->cand_new);
    yl_cycle_metrics_free(&c->cand_golden);
    cJSON_Delete(c->decisions);
    if (c->dry_root[0]) yl_fs_remove_tree(c->dry_root);
}

static void init_result(yl_cycle_result *r) {
    memset(r, 0, sizeof *r);
    r->outcome = YL_CYCLE_ERROR;
    r->map50_deployed = r->map50_previous = r->map50_candidate = -1;
}

yl_status yl_cycle_run(const yl_workspace_config *config, const yl_cycle_options *options, yl_cycle_result *result) {
    if (!config || !options || !result || !config->root)
        return yl_error(YL_ERR_INVALID_ARG, "cycle: NULL argument");
    init_result(result);
    yl_fs_lock lock;
    yl_status st = yl_fs_lock_dir(config->root, options->wait_for_lock, &lock);
    if (st != YL_OK) return st;  // the message names the lock and its holder
    yl_cycle_kill_point("after_lock");

    cycle_run c;
    memset(&c, 0, sizeof c);
    c.config = config;
    c.work = *config;
    c.opt = options;
    c.res = result;
    c.log = options->log;
    c.decisions = cJSON_CreateArray();
    char history[PATH_SIZE];
    st = c.decisions ? YL_OK : yl_error(YL_ERR_OOM, "cycle: out of memory");
    if (st == YL_OK) st = path_in(&c, "history", history);
    if (st == YL_OK && !options->dry_run && yl_fs_is_dir(history)) st = yl_fs_remove_stale_temps(history);
    if (st == YL_OK) st = complete_interrupted(&c);
    if (st == YL_OK && !options->dry_run) st = yl_cycle_remove_uncommitted(config->root, c.log);
    if (st == YL_OK && options->dry_run) st = make_dry_root(&c);
    if (st == YL_OK) st = run_steps(&c);
    if (st == YL_OK && result->outcome == YL_CYCLE_ERROR) result->outcome = YL_CYCLE_NOTHING_TO_DO;
    if (st != YL_OK) result->outcome = YL_CYCLE_ERROR;
    cleanup(&c);
    yl_fs_unlock(&lock);
    return st;
}
