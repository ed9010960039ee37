// The continual-learning cycle end to end (cli/cycle/cycle.h, `yoloop init`, `yoloop cycle`) on a
// tiny model and synthetic images served through a Label Studio JSON export:
//   init -> cycle 1 baseline -> cycle 2 nothing new -> dry run writes nothing -> cycle 3 fine-tunes
//   and loses (min_gain 1) -> cycle 4 fine-tunes and deploys (min_gain -1) -> kills before the
//   commit journal leave the deployed pointer, the history and earlier snapshots as they were ->
//   kills after the journal (each on new data) leave what the journal says, and the next cycle
//   completes the interrupted one exactly once -> a replay-only cycle. Kills run in a re-executed
//   copy of this program (a fresh process: forking a process that has used OpenMP is not safe).
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "cli/commands.h"
#include "cli/cycle/cycle.h"
#include "cli/cycle/cycle_internal.h"
#include "cli/cycle/history.h"
#include "cli/cycle/registry.h"
#include "cli/cycle/workspace.h"
#include "cli/fs_util.h"
#include "engine/data/dataset.h"
#include "engine/data/image_list.h"
#include "engine/data/synth.h"
#include "engine/model/model.h"
#include "cycle_fixtures.h"
#include "test_common.h"
#include "weights/checkpoint.h"

static const char *const NAMES[] = {"dentado", "concave", "perforation"};
static char g_tmp[512], g_ws[600], g_export_dir[600], g_incoming[600];
static char g_self[1024];
static char g_cycle3[40];  // a committed cycle whose candidate lost: its folder must stay
#define EXPORTS 9

static int run_cmd(int (*cmd)(int, char **), int argc, const char **argv) {
    fflush(stdout);
    return cmd(argc, (char **)argv);
}

// ---- fixtures --------------------------------------------------------------------------------

// A Label Studio JSON export (export_<k>.json) of images [first, first + count) of the incoming
// train split: one submitted annotation per task with the synth boxes in percent.
static void write_export_ids(int k, int first, int count, int id_base) {
    char dir[700];
    snprintf(dir, sizeof dir, "%s/images/train", g_incoming);
    yl_path_list list = {0};
    CHECK_OK(yl_path_list_add_source(&list, dir));
    yl_path_list_sort(&list);
    yl_dataset ds;
    CHECK_OK(yl_dataset_build((const char *const *)list.paths, list.count, 3, &ds));
    CHECK(first + count <= ds.count, "incoming has %d images", ds.count);
    cJSON *tasks = cJSON_CreateArray();
    for (int i = first; i < first + count && i < ds.count; i++) {
        const yl_dataset_item *it = &ds.items[i];
        const char *base = strrchr(it->image_path, '/') + 1;
        cJSON *task = cJSON_CreateObject();
        cJSON_AddNumberToObject(task, "id", id_base + i);
        cJSON *data = cJSON_AddObjectToObject(task, "data");
        char url[300];
        snprintf(url, sizeof url, "/data/upload/1/%08x-%s", 0xabc00000u + (unsigned)i, base);
        cJSON_AddStringToObject(data, "image", url);
        cJSON *anns = cJSON_AddArrayToObject(task, "annotations");
        cJSON *ann = cJSON_CreateObject();
        cJSON_AddNumberToObject(ann, "id", 10 * id_base + i);
        cJSON_AddBoolToObject(ann, "was_cancelled", 0);
        cJSON_AddStringToObject(ann, "last_action", "submitted");
        cJSON_AddNumberToObject(ann, "completed_by", 1);
        cJSON_AddStringToObject(ann, "updated_at", "2026-11-20T10:00:00.000000Z");
        cJSON *result = cJSON_AddArrayToObject(ann, "result");
        for (int b = 0; b < it->label_count; b++) {
            const yl_box_label *l = &it->labels[b];
            cJSON *r = cJSON_CreateObject();
            char id[16];
            snprintf(id, sizeof id, "r%d_%d", i, b);
            cJSON_AddStringToObject(r, "id", id);
            cJSON_AddStringToObject(r, "type", "rectanglelabels");
            cJSON_AddStringToObject(r, "from_name", "label");
            cJSON_AddStringToObject(r, "to_name", "image");
            cJSON_AddNumberToObject(r, "original_width", it->width);
            cJSON_AddNumberToObject(r, "original_height", it->height);
            cJSON *v = cJSON_AddObjectToObject(r, "value");
            cJSON_AddNumberToObject(v, "x", 100.0 * (l->cx - l->w / 2));
            cJSON_AddNumberToObject(v, "y", 100.0 * (l->cy - l->h / 2));
            cJSON_AddNumberToObject(v, "width", 100.0 * l->w);
            cJSON_AddNumberToObject(v, "height", 100.0 * l->h);
            cJSON_AddNumberToObject(v, "rotation", 0);
            cJSON *labels = cJSON_AddArrayToObject(v, "rectanglelabels");
            cJSON_AddItemToArray(labels, cJSON_CreateString(NAMES[l->cls]));
            cJSON_AddItemToArray(result, r);
        }
        cJSON_AddItemToArray(anns, ann);
        cJSON_AddItemToArray(tasks, task);
    }
    char *text = cJSON_Print(tasks);
    char path[700];
    snprintf(path, sizeof path, "%s/export_%d.json", g_export_dir, k);
    CHECK_OK(yl_fs_write_atomic(path, text, strlen(text)));
    free(text);
    cJSON_Delete(tasks);
    yl_dataset_free(&ds);
    yl_path_list_free(&list);
}

static void write_export(int k, int first, int count) { write_export_ids(k, first, count, 100); }

static void set_thresholds(double min_map50, double min_gain) {
    yl_workspace_config c;
    CHECK_OK(yl_workspace_config_load(g_ws, &c));
    c.min_map50 = min_map50;
    c.min_gain = min_gain;
    c.ft_epochs = 1;
    c.ft_batch = 4;
    c.eval_batch = 8;
    c.ft_max_batches_per_epoch = 2;
    c.ft_warmup_epochs = 0;
    c.ft_close_mosaic = 0;
    CHECK_OK(yl_workspace_config_save(&c));
    yl_workspace_config_free(&c);
}

// ---- workspace state -------------------------------------------------------------------------

static void file_hash(const char *relative, char hex[65]) {
    char path[900];
    snprintf(path, sizeof path, "%s/%s", g_ws, relative);
    if (!yl_fs_is_file(path) || yl_fs_sha256_file(path, hex) != YL_OK) snprintf(hex, 65, "absent");
}

static void read_line(const char *relative, char *out, size_t size) {
    char path[900], *data = NULL;
    size_t n = 0;
    snprintf(path, sizeof path, "%s/%s", g_ws, relative);
    out[0] = '\0';
    if (yl_fs_read_all(path, &data, &n) != YL_OK) return;
    snprintf(out, size, "%s", data);
    char *nl = strchr(out, '\n');
    if (nl) *nl = '\0';
    free(data);
}

// What a killed cycle must not change: the deployed pointer, the history files and every
// snapshot's manifest that existed before.
typedef struct {
    char deployed[65], evals[65], decisions[65], last[65];
    int snapshots;
    char **snapshot_ids;
    char manifests[16][65];
    int versions;
    int eval_records;  // files in history/evals
} ws_state;

static void state_take(ws_state *s) {
    memset(s, 0, sizeof *s);
    file_hash("models/deployed", s->deployed);
    file_hash("history/eval_history.csv", s->evals);
    file_hash("history/decisions.jsonl", s->decisions);
    file_hash("history/last_eval_snapshot", s->last);
    char dir[700];
    snprintf(dir, sizeof dir, "%s/snapshots", g_ws);
    CHECK_OK(yl_fs_list_dir(dir, &s->snapshot_ids, &s->snapshots));
    for (int i = 0; i < s->snapshots && i < 16; i++) {
        char rel[200];
        snprintf(rel, sizeof rel, "snapshots/%s/manifest.json", s->snapshot_ids[i]);
        file_hash(rel, s->manifests[i]);
    }
    char **records = NULL;
    snprintf(dir, sizeof dir, "%s/history/evals", g_ws);
    if (yl_fs_list_dir(dir, &records, &s->eval_records) == YL_OK) yl_fs_free_names(records, s->eval_records);
    yl_model_version *v = NULL;
    CHECK_OK(yl_registry_list(g_ws, &v, &s->versions));
    yl_registry_list_free(v, s->versions);
}

static void state_free(ws_state *s) { yl_fs_free_names(s->snapshot_ids, s->snapshots); }

// The history and earlier snapshots are unchanged (the deployed pointer is checked by the caller).
static void state_check_history(const ws_state *before, const char *step) {
    ws_state now;
    state_take(&now);
    CHECK(!strcmp(before->evals, now.evals), "%s: eval_history.csv changed", step);
    CHECK(!strcmp(before->decisions, now.decisions), "%s: decisions.jsonl changed", step);
    CHECK(!strcmp(before->last, now.last), "%s: last_eval_snapshot changed", step);
    CHECK(before->eval_records == now.eval_records, "%s: history/evals/ went from %d to %d records", step,
          before->eval_records, now.eval_records);
    for (int i = 0; i < before->snapshots && i < 16; i++) {
        char rel[200], hex[65];
        snprintf(rel, sizeof rel, "snapshots/%s/manifest.json", before->snapshot_ids[i]);
        file_hash(rel, hex);
        CHECK(!strcmp(hex, before->manifests[i]), "%s: snapshot %s changed", step, before->snapshot_ids[i]);
    }
    state_free(&now);
}

static int count_lines(const char *relative) {
    char path[900], *data = NULL;
    size_t n = 0;
    snprintf(path, sizeof path, "%s/%s", g_ws, relative);
    if (yl_fs_read_all(path, &data, &n) != YL_OK) return 0;
    int lines = 0;
    for (size_t i = 0; i < n; i++) lines += data[i] == '\n';
    free(data);
    return lines;
}

static void last_decision_step(char *step, size_t size) {
    cJSON *all = NULL;
    step[0] = '\0';
    if (yl_history_read_decisions(g_ws, &all) != YL_OK) return;
    const int n = cJSON_GetArraySize(all);
    const char *s = n ? cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetArrayItem(all, n - 1), "step")) : NULL;
    snprintf(step, size, "%s", s ? s : "");
    cJSON_Delete(all);
}

// A recursive listing of every file with its size and hash ("what a dry run may not change").
static void tree_digest(const char *dir, char *acc, size_t size) {
    char **names = NULL;
    int count = 0;
    if (yl_fs_list_dir(dir, &names, &count) != YL_OK) return;
    for (int i = 0; i < count; i++) {
        if (!strcmp(names[i], ".lock")) continue;
        char path[1200];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        if (yl_fs_is_dir(path)) {
            tree_digest(path, acc, size);
            continue;
        }
        char hex[65];
        if (yl_fs_sha256_file(path, hex) != YL_OK) snprintf(hex, sizeof hex, "?");
        size_t used = strlen(acc);
        snprintf(acc + used, size - used, "%s %.12s\n", path + strlen(g_ws), hex);
    }
    yl_fs_free_names(names, count);
}

// ---- cycles ----------------------------------------------------------------------------------

static yl_cycle_outcome run_cycle(bool dry_run, yl_cycle_result *r) {
    yl_workspace_config c;
    CHECK_OK(yl_workspace_config_load(g_ws, &c));
    yl_cycle_options o = {.dry_run = dry_run, .log = stdout};
    yl_status st = yl_cycle_run(&c, &o, r);
    CHECK(st == YL_OK, "cycle: %s", yl_last_error());
    yl_workspace_config_free(&c);
    return r->outcome;
}

// Runs `yoloop cycle` in a fresh process told to kill itself at `step`; true when it died by SIGKILL.
static bool killed_cycle_at(const char *step) {
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        setenv("YOLOOP_CYCLE_KILL_AT", step, 1);
        char arg[700];
        snprintf(arg, sizeof arg, "workspace=%s", g_ws);
        char *argv[] = {g_self, "--child-cycle", arg, NULL};
        execv(g_self, argv);
        _exit(127);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    return WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
}

static void test_decisions(void) {
    yl_workspace_config c = yl_workspace_config_defaults();
    c.nc = 3;
    c.names = (char **)NAMES;
    char reason[512];
    CHECK(yl_cycle_decide(&c, 0.5, false, 0, false, reason, sizeof reason), "below min_map50: %s", reason);
    CHECK(strstr(reason, "min_map50"), "reason names the threshold: %s", reason);
    CHECK(!yl_cycle_decide(&c, 0.7, true, 0.72, false, reason, sizeof reason), "small drop: %s", reason);
    CHECK(yl_cycle_decide(&c, 0.7, true, 0.75, false, reason, sizeof reason), "drop 0.05 > 0.03: %s", reason);
    CHECK(yl_cycle_decide(&c, 0.9, true, 0.9, true, reason, sizeof reason) && strstr(reason, "forced"), "%s", reason);
    double ap_a[3] = {0.8, 0.8, 0.8}, ap_b[3] = {0.95, 0.9, 0.5};
    bool gt[3] = {true, true, true};
    yl_cycle_metrics dep = {.measured = true, .map50 = 0.80, .nc = 3, .ap50 = ap_a, .has_gt = gt};
    yl_cycle_metrics cand = {.measured = true, .map50 = 0.81, .nc = 3, .ap50 = ap_b, .has_gt = gt};
    CHECK(!yl_cycle_compare(&c, &dep, &cand, NULL, NULL, reason, sizeof reason), "gain 0.01 < 0.02: %s", reason);
    cand.map50 = 0.85;
    CHECK(yl_cycle_compare(&c, &dep, &cand, NULL, NULL, reason, sizeof reason), "gain 0.05: %s", reason);
    c.class_max_drop = 0.1;
    CHECK(!yl_cycle_compare(&c, &dep, &cand, NULL, NULL, reason, sizeof reason) && strstr(reason, "perforation"),
          "class gate: %s", reason);
    c.class_max_drop = -1;
    c.golden_max_drop = 0.05;
    yl_cycle_metrics gd = {.measured = true, .map50 = 0.9}, gc = {.measured = true, .map50 = 0.8};
    CHECK(!yl_cycle_compare(&c, &dep, &cand, &gd, &gc, reason, sizeof reason) && strstr(reason, "golden"),
          "golden gate: %s", reason);
}

static void test_args(void) {
    const char *no_ws[] = {"dry_run=true"};
    CHECK(run_cmd(yl_cmd_cycle, 1, no_ws) == 2, "cycle without workspace= exits 2");
    const char *bad[] = {"workspace=x", "frobnicate=1"};
    CHECK(run_cmd(yl_cmd_cycle, 2, bad) == 2, "unknown key exits 2");
    char missing[700];
    snprintf(missing, sizeof missing, "workspace=%s/nope", g_tmp);
    const char *nows[] = {missing};
    CHECK(run_cmd(yl_cmd_cycle, 1, nows) == 1, "missing workspace exits 1");
    const char *token[] = {"workspace=x", "token=secret"};
    CHECK(run_cmd(yl_cmd_init, 2, token) == 2, "init refuses token=");
}

static int init_workspace(const char *names) {
    char a_ws[700], a_model[700], a_replay[700], a_export[700], a_images[700], a_golden[700], a_names[200];
    snprintf(a_ws, sizeof a_ws, "workspace=%s", g_ws);
    snprintf(a_model, sizeof a_model, "model=%s/tiny.safetensors", g_tmp);
    snprintf(a_replay, sizeof a_replay, "replay=%s/base/data.yaml", g_tmp);
    snprintf(a_golden, sizeof a_golden, "golden=%s/base/data.yaml", g_tmp);
    snprintf(a_export, sizeof a_export, "export=%s", g_export_dir);
    snprintf(a_images, sizeof a_images, "images=%s/images/train", g_incoming);
    snprintf(a_names, sizeof a_names, "names=%s", names);
    const char *argv[] = {a_ws, a_model, a_names, a_replay, "source=json", a_export, a_images, "imgsz=64", a_golden};
    return run_cmd(yl_cmd_init, 9, argv);
}

static void test_init(void) {
    // A names= that disagrees with the replay set: refused, nothing left behind.
    CHECK(init_workspace("dentado,perforation,concave") == 1, "init with swapped names fails");
    CHECK(!yl_fs_exists(g_ws), "a failed init leaves no workspace");
    CHECK(init_workspace("dentado,concave,perforation") == 0, "init");
    char path[900], id[16];
    snprintf(path, sizeof path, "%s/yoloop.yaml", g_ws);
    CHECK(yl_fs_is_file(path), "yoloop.yaml written");
    snprintf(path, sizeof path, "%s/replay/data.yaml", g_ws);
    CHECK(yl_fs_is_file(path), "replay/data.yaml written");
    CHECK_OK(yl_registry_deployed(g_ws, id));
    CHECK(!strcmp(id, "v0001"), "v0001 deployed, got '%s'", id);
    yl_model_version v;
    CHECK_OK(yl_registry_get(g_ws, "v0001", &v));
    CHECK(!strcmp(v.origin, "init"), "origin %s", v.origin);
    yl_registry_version_free(&v);
    CHECK(init_workspace("dentado,concave,perforation") == 1, "init refuses an existing workspace");
}

static void test_cycles(void) {
    yl_cycle_result r;
    char step[64], last[64], id[16];
    // Cycle 1: baseline.
    write_export(1, 0, 6);
    char a_ws[700];
    snprintf(a_ws, sizeof a_ws, "workspace=%s", g_ws);
    const char *argv[] = {a_ws};
    CHECK(run_cmd(yl_cmd_cycle, 1, argv) == 0, "cycle 1 (baseline) exits 0");
    CHECK(count_lines("history/eval_history.csv") == 3, "header + deployed + deployed_golden rows, got %d",
          count_lines("history/eval_history.csv") - 1);
    read_line("history/last_eval_snapshot", last, sizeof last);
    CHECK(last[0], "last_eval_snapshot set after the baseline");
    last_decision_step(step, sizeof step);
    CHECK(!strcmp(step, "baseline"), "decision step %s", step);

    // Cycle 2: nothing new.
    CHECK(run_cmd(yl_cmd_cycle, 1, argv) == 0, "cycle 2 (nothing new) exits 0");
    CHECK(count_lines("history/eval_history.csv") == 3, "no row added when nothing is new");
    last_decision_step(step, sizeof step);
    CHECK(!strcmp(step, "nothing_new"), "decision step %s", step);

    // New tasks; the dry run writes nothing.
    write_export(2, 6, 6);
    set_thresholds(1.0, 1.0);
    static char before[1 << 16], after[1 << 16];
    before[0] = after[0] = '\0';
    tree_digest(g_ws, before, sizeof before);
    CHECK(run_cycle(true, &r) == YL_CYCLE_NOTHING_TO_DO, "dry run outcome %d", r.outcome);
    CHECK(r.eval_images == 6 && r.train_images == 6, "dry run split: %d eval, %d train", r.eval_images,
          r.train_images);
    tree_digest(g_ws, after, sizeof after);
    CHECK(!strcmp(before, after), "the dry run changed the workspace:\n--- before\n%s--- after\n%s", before, after);

    // Cycle 3: min_map50 1.0 forces a fine-tune, min_gain 1.0 forbids the deploy.
    CHECK(run_cycle(false, &r) == YL_CYCLE_NOT_DEPLOYED, "cycle 3 outcome %d (%s)", r.outcome, r.reason);
    CHECK(r.eval_images == 6 && r.train_images == 6, "cycle 3 evaluates only the 6 new images (%d), trains on 6 (%d)",
          r.eval_images, r.train_images);
    CHECK(r.map50_candidate >= 0 && r.map50_deployed >= 0, "both measured");
    CHECK_OK(yl_registry_deployed(g_ws, id));
    CHECK(!strcmp(id, "v0001"), "still v0001 deployed, got %s", id);
    char cand[900];
    snprintf(cand, sizeof cand, "%s/models/candidates/%s/weights/last.safetensors", g_ws, r.cycle);
    CHECK(yl_fs_is_file(cand), "candidate kept at %s", cand);
    snprintf(g_cycle3, sizeof g_cycle3, "%s", r.cycle);
    snprintf(cand, sizeof cand, "%s/history/evals/%s_candidate_new.json", g_ws, r.cycle);
    CHECK(yl_fs_is_file(cand), "evaluation record %s", cand);
    CHECK(count_lines("history/eval_history.csv") == 7, "4 rows added, file has %d lines",
          count_lines("history/eval_history.csv"));
    read_line("history/last_eval_snapshot", last, sizeof last);
    CHECK(!strcmp(last, r.snapshot), "last_eval_snapshot %s, cycle snapshot %s", last, r.snapshot);

    // Cycle 4: min_gain -1 deploys.
    write_export(3, 12, 6);
    set_thresholds(1.0, -1.0);
    CHECK(run_cycle(false, &r) == YL_CYCLE_DEPLOYED, "cycle 4 outcome %d (%s)", r.outcome, r.reason);
    CHECK(r.eval_images == 6 && r.train_images == 12, "cycle 4: %d eval, %d train", r.eval_images, r.train_images);
    CHECK_OK(yl_registry_deployed(g_ws, id));
    CHECK(!strcmp(id, "v0002") && !strcmp(r.deployed_after, "v0002"), "v0002 deployed, got %s", id);
    yl_model_version v;
    CHECK_OK(yl_registry_get(g_ws, "v0002", &v));
    CHECK(!strcmp(v.parent, "v0001") && !strcmp(v.origin, "finetune"), "lineage %s <- %s", v.parent, v.origin);
    const cJSON *cy = cJSON_GetObjectItem(v.meta, "cycle");
    CHECK(cJSON_IsString(cy) && !strcmp(cy->valuestring, r.cycle), "meta.json names the cycle");
    CHECK(cJSON_IsObject(cJSON_GetObjectItem(v.meta, "train_args")), "meta.json has train_args");
    yl_registry_version_free(&v);
    last_decision_step(step, sizeof step);
    CHECK(!strcmp(step, "deploy"), "last decision step %s", step);
}

// ---- kills ------------------------------------------------------------------------------------

static cJSON *read_journal(void) {
    char path[900], *text = NULL;
    snprintf(path, sizeof path, "%s/history/pending_commit.json", g_ws);
    if (yl_fs_read_all(path, &text, NULL) != YL_OK) return NULL;
    cJSON *j = cJSON_Parse(text);
    free(text);
    return j;
}

static bool journal_exists(void) {
    char path[900];
    snprintf(path, sizeof path, "%s/history/pending_commit.json", g_ws);
    return yl_fs_exists(path);
}

static bool decided(const cJSON *decisions, const char *cycle) {
    for (const cJSON *d = decisions->child; d; d = d->next)
        if (!strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(d, "cycle")), cycle)) return true;
    return false;
}

// Every models/candidates/<cycle>/ and cycles/<cycle>/ belongs to a committed cycle (one in
// decisions.jsonl) or to `pending` (may be ""); returns how many do not.
static int stale_folders(const char *pending, bool report) {
    cJSON *decisions = NULL;
    CHECK_OK(yl_history_read_decisions(g_ws, &decisions));
    int stale = 0;
    static const char *const parents[] = {"models/candidates", "cycles"};
    for (int p = 0; p < 2; p++) {
        char dir[900], **names = NULL;
        int n = 0;
        snprintf(dir, sizeof dir, "%s/%s", g_ws, parents[p]);
        if (yl_fs_list_dir(dir, &names, &n) != YL_OK) continue;
        for (int i = 0; i < n; i++) {
            if (names[i][0] == '.' || decided(decisions, names[i]) || !strcmp(names[i], pending)) continue;
            if (report) printf("  stale: %s/%s\n", parents[p], names[i]);
            stale++;
        }
        yl_fs_free_names(names, n);
    }
    cJSON_Delete(decisions);
    return stale;
}

// No two rows share cycle + role + eval_set, no two decisions cycle + step.
static void check_no_duplicates(const char *step) {
    yl_eval_row *rows = NULL;
    int n = 0;
    CHECK_OK(yl_history_read_evals(g_ws, &rows, &n));
    for (int i = 0; i < n; i++)
        for (int k = i + 1; k < n; k++)
            CHECK(strcmp(rows[i].cycle, rows[k].cycle) || strcmp(rows[i].role, rows[k].role) ||
                  strcmp(rows[i].eval_set, rows[k].eval_set), "%s: row %s/%s/%s twice", step, rows[i].cycle,
                  rows[i].role, rows[i].eval_set);
    free(rows);
    cJSON *all = NULL;
    CHECK_OK(yl_history_read_decisions(g_ws, &all));
    for (const cJSON *a = all->child; a; a = a->next)
        for (const cJSON *b = a->next; b; b = b->next)
            CHECK(strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(a, "cycle")),
                         cJSON_GetStringValue(cJSON_GetObjectItem(b, "cycle"))) ||
                  strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(a, "step")),
                         cJSON_GetStringValue(cJSON_GetObjectItem(b, "step"))),
                  "%s: decision %s/%s twice", step, cJSON_GetStringValue(cJSON_GetObjectItem(a, "cycle")),
                  cJSON_GetStringValue(cJSON_GetObjectItem(a, "step")));
    cJSON_Delete(all);
}

// Kills before the commit point: the pointer, the history and earlier snapshots stay as they were.
static void test_kills_before_journal(void) {
    write_export(4, 18, 6);
    set_thresholds(1.0, -1.0);
    static const char *const steps[] = {"after_snapshot", "after_eval", "finetune", "after_compare",
                                        "after_registry_add"};
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        ws_state before;
        state_take(&before);
        CHECK(killed_cycle_at(steps[i]), "the cycle died by SIGKILL at %s", steps[i]);
        state_check_history(&before, steps[i]);
        ws_state now;
        state_take(&now);
        CHECK(!strcmp(before.deployed, now.deployed), "%s: the deployed pointer changed", steps[i]);
        // after_registry_add leaves an undeployed version (cycle.h), nothing else adds one.
        const int added = !strcmp(steps[i], "after_registry_add") ? 1 : 0;
        CHECK(now.versions == before.versions + added, "%s: %d -> %d versions", steps[i], before.versions,
              now.versions);
        CHECK(!journal_exists(), "%s: no journal before the commit point", steps[i]);
        state_free(&now);
        state_free(&before);
    }
    // A second cycle while one holds the workspace lock fails at once (exit 1) and changes nothing.
    yl_fs_lock lock;
    CHECK_OK(yl_fs_lock_dir(g_ws, false, &lock));
    ws_state before;
    state_take(&before);
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        char arg[700];
        snprintf(arg, sizeof arg, "workspace=%s", g_ws);
        char *argv[] = {g_self, "--child-cycle", arg, NULL};
        execv(g_self, argv);
        _exit(127);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 1, "a locked workspace: exit status %d", status);
    state_check_history(&before, "locked");
    state_free(&before);
    yl_fs_unlock(&lock);
}

// A journal that cannot be read stops the next cycle with a message naming it, and is kept.
static void check_bad_journal(void) {
    char path[900], *text = NULL;
    snprintf(path, sizeof path, "%s/history/pending_commit.json", g_ws);
    CHECK_OK(yl_fs_read_all(path, &text, NULL));
    const char *bad = "{\"cycle\": 3}";
    CHECK_OK(yl_fs_write_atomic(path, bad, strlen(bad)));
    ws_state before;
    state_take(&before);
    yl_workspace_config c;
    CHECK_OK(yl_workspace_config_load(g_ws, &c));
    yl_cycle_options o = {.log = stdout};
    yl_cycle_result r;
    yl_status st = yl_cycle_run(&c, &o, &r);
    yl_workspace_config_free(&c);
    CHECK(st != YL_OK && strstr(yl_last_error(), "pending_commit.json") && strstr(yl_last_error(), "cycle"),
          "a bad journal: status %d, message '%s'", st, yl_last_error());
    CHECK(r.outcome == YL_CYCLE_ERROR, "a bad journal: outcome %d", r.outcome);
    state_check_history(&before, "bad journal");
    CHECK(yl_fs_is_file(path), "the bad journal is left in place");
    CHECK_OK(yl_fs_write_atomic(path, text, strlen(text)));
    free(text);
    state_free(&before);
}

// A kill after the commit point (on data no cycle has evaluated yet): the workspace holds what the
// journal says up to `step`, and the next cycle completes the interrupted one exactly once.
static void test_kill_after_journal(const char *step) {
    ws_state before;
    state_take(&before);
    const int rows_before = count_lines("history/eval_history.csv");
    const int decisions_before = count_lines("history/decisions.jsonl");
    const int deployments_before = count_lines("models/deployments.jsonl");
    char deployed_before[16], id[16], last[64];
    CHECK_OK(yl_registry_deployed(g_ws, deployed_before));
    CHECK(killed_cycle_at(step), "the cycle died by SIGKILL at %s", step);
    cJSON *j = read_journal();
    CHECK(j != NULL, "%s: history/pending_commit.json is there and parses", step);
    if (!j) return;
    char cycle[40], snapshot[40], version[16];
    snprintf(cycle, sizeof cycle, "%s", cJSON_GetStringValue(cJSON_GetObjectItem(j, "cycle")));
    snprintf(snapshot, sizeof snapshot, "%s", cJSON_GetStringValue(cJSON_GetObjectItem(j, "snapshot")));
    const char *v = cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "deploy"), "version"));
    snprintf(version, sizeof version, "%s", v ? v : "");
    const int nrows = cJSON_GetArraySize(cJSON_GetObjectItem(j, "rows"));
    const int ndecisions = cJSON_GetArraySize(cJSON_GetObjectItem(j, "decisions"));
    const int nrecords = cJSON_GetArraySize(cJSON_GetObjectItem(j, "records"));
    const cJSON *row0 = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "rows"), 0);
    CHECK(version[0] && strcmp(version, deployed_before), "%s: the journal deploys a new version (%s)", step, version);
    CHECK(nrows == 4 && ndecisions == 3 && nrecords == 4, "%s: journal has %d rows, %d decisions, %d records", step,
          nrows, ndecisions, nrecords);
    CHECK(cJSON_GetNumberValue(cJSON_GetObjectItem(row0, "images")) == 6 &&
          cJSON_GetStringValue(cJSON_GetObjectItem(row0, "time"))[0],
          "%s: the deployed row evaluates the 6 new images, time filled", step);
    cJSON_Delete(j);

    // What the kill left: exactly the steps of the journal applied before `step`.
    const bool deployed = strcmp(step, "after_journal") != 0;
    const bool rows = !strcmp(step, "after_history_rows") || !strcmp(step, "before_last_eval_snapshot") ||
                      !strcmp(step, "after_last_eval_snapshot");
    const bool decisions = !strcmp(step, "before_last_eval_snapshot") || !strcmp(step, "after_last_eval_snapshot");
    const bool snapshot_set = !strcmp(step, "after_last_eval_snapshot");
    ws_state now;
    state_take(&now);
    CHECK_OK(yl_registry_deployed(g_ws, id));
    CHECK(!strcmp(id, deployed ? version : deployed_before), "%s: deployed %s", step, id);
    CHECK(rows ? count_lines("history/eval_history.csv") == rows_before + nrows : !strcmp(before.evals, now.evals),
          "%s: eval_history.csv", step);
    CHECK(now.eval_records == before.eval_records + (rows ? nrecords : 0), "%s: %d -> %d records", step,
          before.eval_records, now.eval_records);
    CHECK(decisions ? count_lines("history/decisions.jsonl") == decisions_before + ndecisions
                    : !strcmp(before.decisions, now.decisions), "%s: decisions.jsonl", step);
    read_line("history/last_eval_snapshot", last, sizeof last);
    CHECK(snapshot_set ? !strcmp(last, snapshot) : !strcmp(before.last, now.last), "%s: last_eval_snapshot %s", step,
          last);
    state_free(&now);

    if (!strcmp(step, "after_journal")) {
        // The killed cycle removed, before anything else, what the cycles killed before the
        // journal had left (their candidates), and kept the committed cycles' folders.
        CHECK(stale_folders(cycle, true) == 0, "after_journal: folders of uncommitted cycles remain");
        char kept[900];
        snprintf(kept, sizeof kept, "%s/models/candidates/%s", g_ws, g_cycle3);
        CHECK(yl_fs_is_dir(kept), "the losing candidate of committed cycle %s is kept", g_cycle3);
        check_bad_journal();
        // A dry run says the cycle is pending and changes nothing.
        static char digest_before[1 << 16], digest_after[1 << 16];
        digest_before[0] = digest_after[0] = '\0';
        tree_digest(g_ws, digest_before, sizeof digest_before);
        yl_cycle_result dry;
        run_cycle(true, &dry);
        CHECK(!dry.recovered && !strcmp(dry.recovered_cycle, cycle), "dry run: recovered %d, pending '%s'",
              dry.recovered, dry.recovered_cycle);
        tree_digest(g_ws, digest_after, sizeof digest_after);
        CHECK(!strcmp(digest_before, digest_after), "the dry run changed the workspace with a journal pending");
    }

    // The next cycle completes it (and finds nothing new: the journal recorded the snapshot).
    yl_cycle_result r;
    CHECK(run_cycle(false, &r) == YL_CYCLE_NOTHING_TO_DO, "%s: the next cycle: outcome %d (%s)", step, r.outcome,
          r.reason);
    CHECK(r.recovered && !strcmp(r.recovered_cycle, cycle), "%s: recovered %d '%s', journal cycle %s", step,
          r.recovered, r.recovered_cycle, cycle);
    CHECK(!journal_exists(), "%s: the journal is gone", step);
    CHECK_OK(yl_registry_deployed(g_ws, id));
    CHECK(!strcmp(id, version) && !strcmp(r.deployed_before, version), "%s: deployed %s, journal %s", step, id,
          version);
    CHECK(count_lines("models/deployments.jsonl") == deployments_before + 1, "%s: %d deployments logged, 1 expected",
          step, count_lines("models/deployments.jsonl") - deployments_before);
    read_line("history/last_eval_snapshot", last, sizeof last);
    CHECK(!strcmp(last, snapshot), "%s: last_eval_snapshot %s, journal %s", step, last, snapshot);
    CHECK(count_lines("history/eval_history.csv") == rows_before + nrows, "%s: %d rows added, journal has %d", step,
          count_lines("history/eval_history.csv") - rows_before, nrows);
    CHECK(count_lines("history/decisions.jsonl") == decisions_before + ndecisions + 1,
          "%s: %d decisions added, journal has %d (+ nothing_new)", step,
          count_lines("history/decisions.jsonl") - decisions_before, ndecisions);
    ws_state after;
    state_take(&after);
    CHECK(after.eval_records == before.eval_records + nrecords, "%s: %d -> %d records", step, before.eval_records,
          after.eval_records);
    for (int i = 0; i < before.snapshots && i < 16; i++) {
        char rel[200], hex[65];
        snprintf(rel, sizeof rel, "snapshots/%s/manifest.json", before.snapshot_ids[i]);
        file_hash(rel, hex);
        CHECK(!strcmp(hex, before.manifests[i]), "%s: snapshot %s changed", step, before.snapshot_ids[i]);
    }
    state_free(&after);
    state_free(&before);
    check_no_duplicates(step);
    CHECK(stale_folders("", true) == 0, "%s: folders of uncommitted cycles remain", step);
}

static void test_kills(void) {
    test_kills_before_journal();
    CHECK(stale_folders("", false) > 0, "the kills before the journal left candidate folders behind");
    // The first kill after the journal runs on the data the kills above never committed.
    static const char *const steps[] = {"after_journal", "after_deploy", "after_history_rows",
                                        "before_last_eval_snapshot", "after_last_eval_snapshot"};
    for (int i = 0; i < 5 && yl_test_failures == 0; i++) {
        if (i > 0) write_export(4 + i, 18 + 6 * i, 6);
        test_kill_after_journal(steps[i]);
    }
}

// Every earlier task deleted in Label Studio, new ones added: the verified pool is empty, so the
// fine-tune runs on the replay set alone (and says so).
static void test_replay_only(void) {
    for (int k = 1; k < EXPORTS; k++) {
        char path[700];
        snprintf(path, sizeof path, "%s/export_%d.json", g_export_dir, k);
        CHECK(remove(path) == 0, "remove %s", path);
    }
    write_export_ids(EXPORTS, 0, 6, 5000);
    set_thresholds(1.0, 1.0);
    yl_cycle_result r;
    CHECK(run_cycle(false, &r) == YL_CYCLE_NOT_DEPLOYED, "replay-only cycle outcome %d (%s)", r.outcome, r.reason);
    CHECK(r.eval_images == 6 && r.train_images == 0, "replay only: %d eval, %d train", r.eval_images, r.train_images);
    yl_model_version *v = NULL;
    int n = 0;
    CHECK_OK(yl_registry_list(g_ws, &v, &n));
    yl_registry_list_free(v, n);
    char cand[900];
    snprintf(cand, sizeof cand, "%s/models/candidates/%s/weights/last.safetensors", g_ws, r.cycle);
    CHECK(yl_fs_is_file(cand), "replay-only candidate at %s", cand);
    yl_checkpoint_info info;
    memset(&info, 0, sizeof info);
    CHECK_OK(yl_checkpoint_read_info(cand, &info));
    cJSON *args = info.train_args_json ? cJSON_Parse(info.train_args_json) : NULL;
    const char *data = cJSON_GetStringValue(cJSON_GetObjectItem(args, "data"));
    const char *replay = cJSON_GetStringValue(cJSON_GetObjectItem(args, "replay"));
    CHECK(data && strstr(data, "replay/data.yaml") && (!replay || !replay[0]),
          "trained on replay/data.yaml alone: data=%s replay=%s", data ? data : "?", replay ? replay : "?");
    cJSON_Delete(args);
    yl_checkpoint_info_free(&info);
}

int main(int argc, char **argv) {
    if (argc >= 2 && !strcmp(argv[1], "--child-cycle")) return yl_cmd_cycle(argc - 2, argv + 2);
    ssize_t n = readlink("/proc/self/exe", g_self, sizeof g_self - 1);
    if (n <= 0) {
        printf("SKIPPED: /proc/self/exe is not readable (needed to re-run this test in a fresh process)\n");
        return YL_TEST_SKIPPED;
    }
    g_self[n] = '\0';
    snprintf(g_tmp, sizeof g_tmp, "%s/yoloop-test-cycle-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(g_tmp)) {
        perror("mkdtemp");
        return 1;
    }
    snprintf(g_ws, sizeof g_ws, "%s/ws", g_tmp);
    snprintf(g_export_dir, sizeof g_export_dir, "%s/exports", g_tmp);
    snprintf(g_incoming, sizeof g_incoming, "%s/incoming", g_tmp);
    char base[700];
    snprintf(base, sizeof base, "%s/base", g_tmp);
    CHECK_OK(yl_fixture_synth(base, 12, 1, 0.0f));
    CHECK_OK(yl_fixture_synth(g_incoming, 64, 2, 0.3f));  // 48 in the train split: 6 per export
    CHECK_OK(yl_fs_mkdirs(g_export_dir));
    char model[700];
    snprintf(model, sizeof model, "%s/tiny.safetensors", g_tmp);
    CHECK_OK(yl_fixture_tiny_model(model));

    test_decisions();
    test_args();
    test_init();
    if (yl_test_failures == 0) test_cycles();
    if (yl_test_failures == 0) test_kills();
    if (yl_test_failures == 0) test_replay_only();
    if (yl_test_failures == 0) yl_fs_remove_tree(g_tmp);
    else printf("workspace kept for inspection: %s\n", g_tmp);
    return yl_test_finish("test_cycle");
}
