// The commit journal of a cycle (cycle_internal.h; cycle.h "Safety"). The end of a cycle touches
// several files (the deployed pointer, history/evals/, eval_history.csv, decisions.jsonl,
// last_eval_snapshot), each atomically but not all at once. So the whole outcome is first written
// as one file, history/pending_commit.json, and only then applied. Every step of the apply checks
// what is already done, so applying the same journal again (after a kill in the middle) completes
// the cycle exactly once. The end of every cycle goes through the same read-and-apply code as the
// recovery, so the recovery path is exercised by every cycle, not only after a crash.
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cycle/cycle_internal.h"
#include "cli/fs_util.h"

#define COMMIT_PATH 4096

typedef struct {
    cJSON *root;
    const char *cycle, *snapshot;
    const char *version, *from, *reason;  // version NULL: nothing to deploy
    const cJSON *records, *rows, *decisions;
} journal;

static yl_status in_workspace(const char *workspace, const char *relative, char *out) {
    int n = snprintf(out, COMMIT_PATH, "%s/%s", workspace, relative);
    if (n < 0 || n >= COMMIT_PATH)
        return yl_error(YL_ERR_INVALID_ARG, "cycle: path too long: %s/%s", workspace, relative);
    return YL_OK;
}

// ---- reading ----------------------------------------------------------------------------------

static yl_status bad(const char *path, const char *what) {
    return yl_error(YL_ERR_FORMAT, "%s: %s (the commit journal of an interrupted cycle; it is left in place)", path,
                    what);
}

static const char *string_field(const cJSON *object, const char *name) {
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(object, name);
    return cJSON_IsString(item) ? item->valuestring : NULL;
}

// A name used in a path: non-empty, no '/', not "." or "..".
static bool plain_name(const char *s) {
    return s && s[0] && !strchr(s, '/') && strcmp(s, ".") && strcmp(s, "..");
}

static yl_status copy_text(char *dst, size_t size, const cJSON *object, const char *name, const char *path, int index) {
    const char *s = string_field(object, name);
    if (!s || strlen(s) >= size) {
        char what[160];
        snprintf(what, sizeof what, "rows[%d].%s is missing, not a string or longer than %zu", index, name, size - 1);
        return bad(path, what);
    }
    memcpy(dst, s, strlen(s) + 1);
    return YL_OK;
}

static yl_status copy_number(double *dst, const cJSON *object, const char *name, const char *path, int index) {
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(object, name);
    if (!cJSON_IsNumber(item)) {
        char what[160];
        snprintf(what, sizeof what, "rows[%d].%s is missing or not a number", index, name);
        return bad(path, what);
    }
    *dst = item->valuedouble;
    return YL_OK;
}

static yl_status row_from_json(const cJSON *j, yl_eval_row *r, const char *path, int index) {
    memset(r, 0, sizeof *r);
    double images = 0, instances = 0;
    YL_TRY(copy_text(r->time, sizeof r->time, j, "time", path, index));
    YL_TRY(copy_text(r->cycle, sizeof r->cycle, j, "cycle", path, index));
    YL_TRY(copy_text(r->snapshot, sizeof r->snapshot, j, "snapshot", path, index));
    YL_TRY(copy_text(r->model, sizeof r->model, j, "model", path, index));
    YL_TRY(copy_text(r->role, sizeof r->role, j, "role", path, index));
    YL_TRY(copy_text(r->eval_set, sizeof r->eval_set, j, "eval_set", path, index));
    YL_TRY(copy_number(&images, j, "images", path, index));
    YL_TRY(copy_number(&instances, j, "instances", path, index));
    YL_TRY(copy_number(&r->precision, j, "precision", path, index));
    YL_TRY(copy_number(&r->recall, j, "recall", path, index));
    YL_TRY(copy_number(&r->map50, j, "map50", path, index));
    YL_TRY(copy_number(&r->map50_95, j, "map50_95", path, index));
    r->images = (long)images;
    r->instances = (long)instances;
    return YL_OK;
}

static yl_status check_records(const journal *j, const char *path) {
    if (!cJSON_IsArray(j->records)) return bad(path, "\"records\" is missing or not an array");
    int i = 0;
    for (const cJSON *r = j->records->child; r; r = r->next, i++) {
        const char *staged = string_field(r, "staged_in");
        if (!plain_name(string_field(r, "file")) || !staged || !staged[0] || staged[0] == '/' || strstr(staged, "..")) {
            char what[160];
            snprintf(what, sizeof what, "records[%d] needs \"file\" (a file name) and \"staged_in\" (a folder inside "
                     "the workspace)", i);
            return bad(path, what);
        }
    }
    return YL_OK;
}

static yl_status check_rows_and_decisions(const journal *j, const char *path) {
    if (!cJSON_IsArray(j->rows)) return bad(path, "\"rows\" is missing or not an array");
    int i = 0;
    for (const cJSON *r = j->rows->child; r; r = r->next, i++) {
        yl_eval_row row;
        YL_TRY(row_from_json(r, &row, path, i));
    }
    if (!cJSON_IsArray(j->decisions)) return bad(path, "\"decisions\" is missing or not an array");
    i = 0;
    for (const cJSON *d = j->decisions->child; d; d = d->next, i++) {
        if (!cJSON_IsObject(d) || !string_field(d, "cycle") || !string_field(d, "step")) {
            char what[120];
            snprintf(what, sizeof what, "decisions[%d] is not an object with \"cycle\" and \"step\"", i);
            return bad(path, what);
        }
    }
    return YL_OK;
}

static yl_status parse_journal(const char *path, const char *text, journal *j) {
    memset(j, 0, sizeof *j);
    j->root = cJSON_Parse(text);
    if (!cJSON_IsObject(j->root)) {
        cJSON_Delete(j->root);
        j->root = NULL;
        return bad(path, "not a JSON object");
    }
    yl_status st = YL_OK;
    j->cycle = string_field(j->root, "cycle");
    j->snapshot = string_field(j->root, "snapshot");
    const cJSON *deploy = cJSON_GetObjectItemCaseSensitive(j->root, "deploy");
    if (!plain_name(j->cycle)) st = bad(path, "\"cycle\" is missing or not a cycle id");
    else if (!plain_name(j->snapshot)) st = bad(path, "\"snapshot\" is missing or not a snapshot id");
    else if (cJSON_IsObject(deploy)) {
        j->version = string_field(deploy, "version");
        j->from = string_field(deploy, "from");
        j->reason = string_field(deploy, "reason");
        if (!plain_name(j->version)) st = bad(path, "\"deploy\".\"version\" is missing or not a version id");
    } else if (!cJSON_IsNull(deploy)) {
        st = bad(path, "\"deploy\" is missing or neither an object nor null");
    }
    j->records = cJSON_GetObjectItemCaseSensitive(j->root, "records");
    j->rows = cJSON_GetObjectItemCaseSensitive(j->root, "rows");
    j->decisions = cJSON_GetObjectItemCaseSensitive(j->root, "decisions");
    if (st == YL_OK) st = check_records(j, path);
    if (st == YL_OK) st = check_rows_and_decisions(j, path);
    if (st != YL_OK) {
        cJSON_Delete(j->root);
        memset(j, 0, sizeof *j);
    }
    return st;
}

// Reads the journal; *found = false (and YL_OK) when there is none.
static yl_status read_journal(const char *workspace, journal *j, bool *found) {
    memset(j, 0, sizeof *j);
    char path[COMMIT_PATH];
    YL_TRY(in_workspace(workspace, YL_CYCLE_JOURNAL, path));
    *found = yl_fs_is_file(path);
    if (!*found) return YL_OK;
    char *text = NULL;
    YL_TRY(yl_fs_read_all(path, &text, NULL));
    yl_status st = parse_journal(path, text, j);
    free(text);
    return st;
}

yl_status yl_cycle_commit_pending(const char *workspace, bool *pending, char cycle[40],
                                  char version[YL_VERSION_ID_SIZE]) {
    journal j;
    cycle[0] = version[0] = '\0';
    YL_TRY(read_journal(workspace, &j, pending));
    if (!*pending) return YL_OK;
    snprintf(cycle, 40, "%s", j.cycle);
    snprintf(version, YL_VERSION_ID_SIZE, "%s", j.version ? j.version : "");
    cJSON_Delete(j.root);
    return YL_OK;
}

// ---- writing ----------------------------------------------------------------------------------

static cJSON *row_to_json(const yl_eval_row *r, const char *now) {
    cJSON *j = cJSON_CreateObject();
    if (!j) return NULL;
    cJSON_AddStringToObject(j, "time", r->time[0] ? r->time : now);
    cJSON_AddStringToObject(j, "cycle", r->cycle);
    cJSON_AddStringToObject(j, "snapshot", r->snapshot);
    cJSON_AddStringToObject(j, "model", r->model);
    cJSON_AddStringToObject(j, "role", r->role);
    cJSON_AddStringToObject(j, "eval_set", r->eval_set);
    cJSON_AddNumberToObject(j, "images", (double)r->images);
    cJSON_AddNumberToObject(j, "instances", (double)r->instances);
    cJSON_AddNumberToObject(j, "precision", r->precision);
    cJSON_AddNumberToObject(j, "recall", r->recall);
    cJSON_AddNumberToObject(j, "map50", r->map50);
    cJSON_AddNumberToObject(j, "map50_95", r->map50_95);
    return j;
}

// A copy with "time" first (history.h's convention), the time of the journal when absent: the
// decision then reads the same whether the cycle applied it or a later run completed it.
static cJSON *decision_with_time(const cJSON *d, const char *now) {
    cJSON *copy = cJSON_CreateObject();
    const char *time = string_field(d, "time");
    bool ok = copy && cJSON_AddStringToObject(copy, "time", time ? time : now);
    for (const cJSON *item = d->child; ok && item; item = item->next) {
        if (item->string && !strcmp(item->string, "time")) continue;
        cJSON *dup = cJSON_Duplicate(item, true);
        ok = dup && cJSON_AddItemToObject(copy, item->string, dup);
        if (!ok) cJSON_Delete(dup);
    }
    if (!ok) {
        cJSON_Delete(copy);
        return NULL;
    }
    return copy;
}

static cJSON *journal_json(const yl_cycle_commit *c) {
    char now[32];
    yl_utc_now_iso(now);
    cJSON *j = cJSON_CreateObject();
    if (!j) return NULL;
    cJSON_AddStringToObject(j, "cycle", c->cycle);
    cJSON_AddStringToObject(j, "snapshot", c->snapshot);
    if (c->deploy_version && c->deploy_version[0]) {
        cJSON *d = cJSON_AddObjectToObject(j, "deploy");
        cJSON_AddStringToObject(d, "version", c->deploy_version);
        cJSON_AddStringToObject(d, "from", c->deploy_from ? c->deploy_from : "");
        cJSON_AddStringToObject(d, "reason", c->deploy_reason ? c->deploy_reason : "");
    } else {
        cJSON_AddNullToObject(j, "deploy");
    }
    cJSON *records = cJSON_AddArrayToObject(j, "records");
    for (int i = 0; records && i < c->record_count; i++) {
        cJSON *r = cJSON_CreateObject();
        cJSON_AddStringToObject(r, "file", c->records[i]);
        cJSON_AddStringToObject(r, "staged_in", c->records_dir);
        cJSON_AddItemToArray(records, r);
    }
    cJSON *rows = cJSON_AddArrayToObject(j, "rows");
    for (int i = 0; rows && i < c->row_count; i++) cJSON_AddItemToArray(rows, row_to_json(&c->rows[i], now));
    cJSON *decisions = cJSON_AddArrayToObject(j, "decisions");
    for (const cJSON *d = c->decisions ? c->decisions->child : NULL; decisions && d; d = d->next)
        cJSON_AddItemToArray(decisions, decision_with_time(d, now));
    return j;
}

yl_status yl_cycle_commit_write(const char *workspace, const yl_cycle_commit *commit) {
    char dir[COMMIT_PATH], path[COMMIT_PATH];
    YL_TRY(in_workspace(workspace, "history", dir));
    YL_TRY(in_workspace(workspace, YL_CYCLE_JOURNAL, path));
    YL_TRY(yl_fs_mkdirs(dir));
    if (yl_fs_exists(path))
        return yl_error(YL_ERR_INVALID_ARG, "cycle: %s already exists: another cycle's commit is pending", path);
    cJSON *j = journal_json(commit);
    char *text = j ? cJSON_Print(j) : NULL;
    cJSON_Delete(j);
    if (!text) return yl_error(YL_ERR_OOM, "cycle: out of memory for %s", path);
    // Only a journal the apply can read may become the commit point (this also catches a cJSON
    // call that ran out of memory above and left a field out).
    journal check;
    yl_status st = parse_journal(path, text, &check);
    if (st == YL_OK) {
        const int decisions = commit->decisions ? cJSON_GetArraySize(commit->decisions) : 0;
        if (cJSON_GetArraySize(check.records) != commit->record_count ||
            cJSON_GetArraySize(check.rows) != commit->row_count || cJSON_GetArraySize(check.decisions) != decisions)
            st = yl_error(YL_ERR_OOM, "out of memory: an entry is missing");
        cJSON_Delete(check.root);
    }
    else st = yl_error_context(st, "cycle: writing the commit journal: ");
    if (st == YL_OK) st = yl_fs_write_atomic(path, text, strlen(text));
    free(text);
    return st;
}

// ---- applying ---------------------------------------------------------------------------------

static yl_status apply_deploy(const char *workspace, const journal *j, FILE *log, yl_cycle_commit_info *info) {
    if (!j->version) return YL_OK;
    char now[YL_VERSION_ID_SIZE];
    YL_TRY(yl_registry_deployed(workspace, now));
    if (strcmp(now, j->version)) {
        YL_TRY(yl_registry_deploy(workspace, j->version, j->reason));
        info->deploy_done = true;
        yl_cycle_logf(log, "deploy: %s is deployed (was %s)", j->version, now[0] ? now : "none");
    }
    yl_cycle_kill_point("after_deploy");
    return YL_OK;
}

static yl_status apply_records(const char *workspace, const journal *j, FILE *log) {
    char evals[COMMIT_PATH];
    YL_TRY(in_workspace(workspace, "history/evals", evals));
    YL_TRY(yl_fs_mkdirs(evals));
    for (const cJSON *r = j->records->child; r; r = r->next) {
        const char *file = string_field(r, "file"), *staged = string_field(r, "staged_in");
        char from[COMMIT_PATH], to[COMMIT_PATH], relative[COMMIT_PATH];
        if (snprintf(relative, sizeof relative, "%s/%s", staged, file) >= (int)sizeof relative)
            return yl_error(YL_ERR_INVALID_ARG, "cycle: record path too long: %s/%s", staged, file);
        YL_TRY(in_workspace(workspace, relative, from));
        if (snprintf(to, sizeof to, "%s/%s", evals, file) >= (int)sizeof to)
            return yl_error(YL_ERR_INVALID_ARG, "cycle: record path too long: %s/%s", evals, file);
        if (yl_fs_is_file(from)) YL_TRY(yl_fs_rename_durable(from, to));
        else if (!yl_fs_is_file(to))
            yl_cycle_logf(log, "WARNING the evaluation record %s of cycle %s is missing (neither in %s nor in "
                          "history/evals); its history row is kept", file, j->cycle, staged);
    }
    return YL_OK;
}

static bool row_present(const yl_eval_row *have, int count, const yl_eval_row *row) {
    for (int i = 0; i < count; i++)
        if (!strcmp(have[i].cycle, row->cycle) && !strcmp(have[i].role, row->role) &&
            !strcmp(have[i].eval_set, row->eval_set))
            return true;
    return false;
}

static yl_status apply_rows(const char *workspace, const journal *j, const char *path) {
    yl_eval_row *have = NULL;
    int count = 0;
    YL_TRY(yl_history_read_evals(workspace, &have, &count));
    yl_status st = YL_OK;
    int i = 0;
    for (const cJSON *r = j->rows->child; st == YL_OK && r; r = r->next, i++) {
        yl_eval_row row;
        st = row_from_json(r, &row, path, i);
        if (st == YL_OK && !row_present(have, count, &row)) st = yl_history_append_eval(workspace, &row);
    }
    free(have);
    return st;
}

static bool decision_present(const cJSON *have, const cJSON *d) {
    const char *cycle = string_field(d, "cycle"), *step = string_field(d, "step");
    for (const cJSON *h = have ? have->child : NULL; h; h = h->next) {
        const char *hc = string_field(h, "cycle"), *hs = string_field(h, "step");
        if (hc && hs && !strcmp(hc, cycle) && !strcmp(hs, step)) return true;
    }
    return false;
}

static yl_status apply_decisions(const char *workspace, const journal *j) {
    cJSON *have = NULL;
    YL_TRY(yl_history_read_decisions(workspace, &have));
    yl_status st = YL_OK;
    for (const cJSON *d = j->decisions->child; st == YL_OK && d; d = d->next)
        if (!decision_present(have, d)) st = yl_history_append_decision(workspace, d);
    cJSON_Delete(have);
    return st;
}

static yl_status remove_journal(const char *workspace, const char *path) {
    if (unlink(path) != 0 && errno != ENOENT)
        return yl_error(YL_ERR_IO, "cycle: cannot remove %s: %s", path, strerror(errno));
    char dir[COMMIT_PATH];
    YL_TRY(in_workspace(workspace, "history", dir));
    return yl_fs_fsync_dir(dir);  // the removal is durable before the next cycle may start
}

yl_status yl_cycle_commit_apply(const char *workspace, FILE *log, yl_cycle_commit_info *info) {
    memset(info, 0, sizeof *info);
    char path[COMMIT_PATH];
    YL_TRY(in_workspace(workspace, YL_CYCLE_JOURNAL, path));
    journal j;
    bool found = false;
    YL_TRY(read_journal(workspace, &j, &found));
    if (!found) return YL_OK;
    snprintf(info->cycle, sizeof info->cycle, "%s", j.cycle);
    snprintf(info->snapshot, sizeof info->snapshot, "%s", j.snapshot);
    snprintf(info->deployed, sizeof info->deployed, "%s", j.version ? j.version : "");
    yl_status st = apply_deploy(workspace, &j, log, info);
    if (st == YL_OK) st = apply_records(workspace, &j, log);
    if (st == YL_OK) st = apply_rows(workspace, &j, path);
    if (st == YL_OK) yl_cycle_kill_point("after_history_rows");
    if (st == YL_OK) st = apply_decisions(workspace, &j);
    if (st == YL_OK) yl_cycle_kill_point("before_last_eval_snapshot");
    if (st == YL_OK) {
        char last[64];
        st = yl_history_last_eval_snapshot(workspace, last, sizeof last);
        if (st == YL_OK && strcmp(last, j.snapshot)) st = yl_history_set_last_eval_snapshot(workspace, j.snapshot);
    }
    if (st == YL_OK) yl_cycle_kill_point("after_last_eval_snapshot");
    if (st == YL_OK) st = remove_journal(workspace, path);
    if (st == YL_OK) info->applied = true;
    else st = yl_error_context(st, "cycle: applying the commit of cycle %s (%s stays for the next run): ", j.cycle, path);
    cJSON_Delete(j.root);
    return st;
}
