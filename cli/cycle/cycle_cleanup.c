// What killed cycles leave behind (cycle_internal.h): a cycle killed before its commit point may
// have written cycles/<cycle>/ (its datasets and staged records) and models/candidates/<cycle>/
// (a half- or fully-trained candidate). Nothing refers to them (the history never names the
// cycle), so the next cycle removes them rather than letting killed runs fill the disk.
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cycle/cycle_internal.h"
#include "cli/fs_util.h"

#define CLEANUP_PATH 4096

typedef struct {
    const yl_eval_row *rows;
    int row_count;
    const cJSON *decisions;
    const char *pending;  // the pending journal's cycle ("" when none)
} committed_cycles;

static bool is_committed(const committed_cycles *c, const char *id) {
    if (!strcmp(c->pending, id)) return true;
    for (int i = 0; i < c->row_count; i++)
        if (!strcmp(c->rows[i].cycle, id)) return true;
    for (const cJSON *d = c->decisions ? c->decisions->child : NULL; d; d = d->next) {
        const cJSON *cycle = cJSON_GetObjectItemCaseSensitive(d, "cycle");
        if (cJSON_IsString(cycle) && !strcmp(cycle->valuestring, id)) return true;
    }
    return false;
}

// Cycle ids are "c" + a snapshot stamp ("c20261123T150405Z", "c20261123T150405Z-2"); anything
// else in these folders was not put there by a cycle and is left alone.
static bool looks_like_cycle_id(const char *name) {
    return name[0] == 'c' && isdigit((unsigned char)name[1]);
}

static yl_status clean_folder(const char *workspace, const char *parent, const committed_cycles *c, FILE *log) {
    char dir[CLEANUP_PATH];
    if (snprintf(dir, sizeof dir, "%s/%s", workspace, parent) >= (int)sizeof dir)
        return yl_error(YL_ERR_INVALID_ARG, "cycle: path too long: %s/%s", workspace, parent);
    if (!yl_fs_is_dir(dir)) return YL_OK;
    char **names = NULL;
    int count = 0;
    YL_TRY(yl_fs_list_dir(dir, &names, &count));
    yl_status st = YL_OK;
    for (int i = 0; st == YL_OK && i < count; i++) {
        char path[CLEANUP_PATH];
        if (!looks_like_cycle_id(names[i]) || is_committed(c, names[i])) continue;
        if (snprintf(path, sizeof path, "%s/%s", dir, names[i]) >= (int)sizeof path || !yl_fs_is_dir(path)) continue;
        st = yl_fs_remove_tree(path);
        if (st == YL_OK)
            yl_cycle_logf(log, "cleanup: removed %s/%s, left by cycle %s, which was interrupted before it committed",
                          parent, names[i], names[i]);
    }
    yl_fs_free_names(names, count);
    return st;
}

yl_status yl_cycle_remove_uncommitted(const char *workspace, FILE *log) {
    bool pending = false;
    char pending_cycle[40], version[YL_VERSION_ID_SIZE];
    YL_TRY(yl_cycle_commit_pending(workspace, &pending, pending_cycle, version));
    yl_eval_row *rows = NULL;
    int row_count = 0;
    YL_TRY(yl_history_read_evals(workspace, &rows, &row_count));
    cJSON *decisions = NULL;
    yl_status st = yl_history_read_decisions(workspace, &decisions);
    committed_cycles c = {.rows = rows, .row_count = row_count, .decisions = decisions, .pending = pending_cycle};
    if (st == YL_OK) st = clean_folder(workspace, "models/candidates", &c, log);
    if (st == YL_OK) st = clean_folder(workspace, "cycles", &c, log);
    free(rows);
    cJSON_Delete(decisions);
    return st;
}
