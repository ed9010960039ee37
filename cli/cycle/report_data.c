// Loads what the report shows: history rows, decisions, evaluation records, the registry and the
// decision threshold. A broken evaluation record is skipped with a warning on the page; a broken
// history or registry is an error, since the page would silently lie without it.
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cycle/report_internal.h"
#include "cli/cycle/workspace.h"
#include "cli/fs_util.h"

const char *yl_report_json_str(const cJSON *obj, const char *key) {
    const cJSON *item = obj ? cJSON_GetObjectItemCaseSensitive(obj, key) : NULL;
    return cJSON_IsString(item) && item->valuestring ? item->valuestring : "";
}

double yl_report_json_num(const cJSON *obj, const char *key, double fallback) {
    const cJSON *item = obj ? cJSON_GetObjectItemCaseSensitive(obj, key) : NULL;
    return cJSON_IsNumber(item) ? item->valuedouble : fallback;
}

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static yl_status add_warning(yl_report_data *d, const char *fmt, ...) {
    char text[512];
    va_list args;
    va_start(args, fmt);
    vsnprintf(text, sizeof text, fmt, args);
    va_end(args);
    char **grown = realloc(d->warnings, (size_t)(d->warning_count + 1) * sizeof *grown);
    if (!grown) return yl_error(YL_ERR_OOM, "report: no memory for a warning");
    d->warnings = grown;
    if (!(d->warnings[d->warning_count] = strdup(text))) return yl_error(YL_ERR_OOM, "report: no memory for a warning");
    d->warning_count++;
    return YL_OK;
}

static bool ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && !strcmp(s + n - m, suffix);
}

// Oldest first by "time"; records of the same second keep their file-name order, kept in the
// in-memory member "_order" since qsort is not stable.
static int by_time(const void *pa, const void *pb) {
    const cJSON *a = *(const cJSON *const *)pa, *b = *(const cJSON *const *)pb;
    int c = strcmp(yl_report_json_str(a, "time"), yl_report_json_str(b, "time"));
    if (c) return c;
    double oa = yl_report_json_num(a, "_order", 0), ob = yl_report_json_num(b, "_order", 0);
    return (oa > ob) - (oa < ob);
}

static yl_status load_evals(const char *workspace, yl_report_data *d) {
    char dir[4096];
    if (snprintf(dir, sizeof dir, "%s/history/evals", workspace) >= (int)sizeof dir)
        return yl_error(YL_ERR_INVALID_ARG, "report: workspace path too long: %s", workspace);
    if (!yl_fs_is_dir(dir)) return YL_OK;
    char **names;
    int count;
    YL_TRY(yl_fs_list_dir(dir, &names, &count));
    yl_status status = YL_OK;
    d->evals = calloc((size_t)(count > 0 ? count : 1), sizeof *d->evals);
    if (!d->evals) status = yl_error(YL_ERR_OOM, "report: no memory for %d evaluation records", count);
    for (int i = 0; status == YL_OK && i < count; i++) {
        if (!ends_with(names[i], ".json") || strstr(names[i], ".tmp.")) continue;
        char path[4096 + 256];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        char *text = NULL;
        size_t size = 0;
        if (yl_fs_read_all(path, &text, &size) != YL_OK) {
            status = add_warning(d, "skipped %s: %s", path, yl_last_error());
            continue;
        }
        cJSON *record = cJSON_ParseWithLength(text, size);
        free(text);
        if (!cJSON_IsObject(record) || !yl_report_json_str(record, "role")[0]) {
            cJSON_Delete(record);
            status = add_warning(d, "skipped %s: not an evaluation record (a JSON object with a role)", path);
            continue;
        }
        cJSON_AddNumberToObject(record, "_order", i);
        d->evals[d->eval_count++] = record;
    }
    yl_fs_free_names(names, count);
    if (status == YL_OK && d->eval_count > 1) qsort(d->evals, (size_t)d->eval_count, sizeof *d->evals, by_time);
    return status;
}

static void load_threshold(const char *workspace, yl_report_data *d) {
    yl_workspace_config defaults = yl_workspace_config_defaults();
    d->min_map50 = defaults.min_map50;
    char path[4096];
    snprintf(path, sizeof path, "%s/yoloop.yaml", workspace);
    if (!yl_fs_is_file(path)) return;  // a bare history folder: the default threshold
    yl_workspace_config config;
    if (yl_workspace_config_load(workspace, &config) == YL_OK) {
        d->min_map50 = config.min_map50;
        d->config_loaded = true;
        yl_workspace_config_free(&config);
    } else {
        add_warning(d, "yoloop.yaml not loaded (threshold line at the default %.2f): %s", d->min_map50,
                    yl_last_error());
    }
}

static yl_status load_registry(const char *workspace, yl_report_data *d) {
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/models", workspace);
    if (!yl_fs_is_dir(dir)) return YL_OK;  // no model registered yet
    YL_TRY(yl_registry_list(workspace, &d->versions, &d->version_count));
    return yl_registry_deployed(workspace, d->deployed);
}

yl_status yl_report_data_load(const char *workspace, yl_report_data *d) {
    memset(d, 0, sizeof *d);
    d->workspace = workspace;
    yl_status status = YL_OK;
    if (!workspace || !yl_fs_is_dir(workspace))
        return yl_error(YL_ERR_IO, "report: workspace %s is not a directory", workspace ? workspace : "(null)");
    if ((status = yl_history_read_evals(workspace, &d->rows, &d->row_count)) != YL_OK ||
        (status = yl_history_read_decisions(workspace, &d->decisions)) != YL_OK ||
        (status = load_registry(workspace, d)) != YL_OK || (status = load_evals(workspace, d)) != YL_OK) {
        yl_report_data_free(d);
        return yl_error_context(status, "report");
    }
    load_threshold(workspace, d);
    return YL_OK;
}

void yl_report_data_free(yl_report_data *d) {
    free(d->rows);
    cJSON_Delete(d->decisions);
    if (d->versions) yl_registry_list_free(d->versions, d->version_count);
    for (int i = 0; i < d->eval_count; i++) cJSON_Delete(d->evals[i]);
    free(d->evals);
    for (int i = 0; i < d->warning_count; i++) free(d->warnings[i]);
    free(d->warnings);
    memset(d, 0, sizeof *d);
}

const cJSON *yl_report_latest_eval(const yl_report_data *d, const char *role, const char *cycle) {
    for (int i = d->eval_count - 1; i >= 0; i--) {
        const cJSON *r = d->evals[i];
        if (strcmp(yl_report_json_str(r, "role"), role)) continue;
        if (cycle && strcmp(yl_report_json_str(r, "cycle"), cycle)) continue;
        return r;
    }
    return NULL;
}

int yl_report_cycles(const yl_report_data *d, const char ***ids) {
    const char **out = malloc((size_t)(d->row_count > 0 ? d->row_count : 1) * sizeof *out);
    if (!out) return -1;
    int n = 0;
    for (int i = 0; i < d->row_count; i++) {
        bool seen = false;
        for (int j = 0; j < n && !seen; j++) seen = !strcmp(out[j], d->rows[i].cycle);
        if (!seen) out[n++] = d->rows[i].cycle;
    }
    *ids = out;
    return n;
}
