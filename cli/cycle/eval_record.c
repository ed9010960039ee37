#include "cli/cycle/eval_record.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/fs_util.h"

#define RECORD_PR_POINTS 101

// Six decimals: a PR curve is for plotting, and full doubles would triple the file's size.
static double round6(double v) { return isfinite(v) ? round(v * 1e6) / 1e6 : v; }

// np.interp of the 1000-point curve (x = px, linspace(0, 1, 1000)) at recall x.
static double curve_at(const double *px, const double *curve, int n, double x) {
    if (x <= px[0]) return curve[0];
    if (x >= px[n - 1]) return curve[n - 1];
    int lo = 0, hi = n - 1;
    while (hi - lo > 1) {
        int mid = (lo + hi) / 2;
        if (px[mid] <= x)
            lo = mid;
        else
            hi = mid;
    }
    double span = px[hi] - px[lo];
    double t = span > 0.0 ? (x - px[lo]) / span : 0.0;
    return curve[lo] + t * (curve[hi] - curve[lo]);
}

static const char *class_name(const char *const *names, int c, char *buf, size_t size) {
    if (names && names[c]) return names[c];
    snprintf(buf, size, "class%d", c);
    return buf;
}

static cJSON *add_string_or_null(cJSON *obj, const char *key, const char *value) {
    return value ? cJSON_AddStringToObject(obj, key, value) : cJSON_AddNullToObject(obj, key);
}

static bool add_classes(cJSON *root, const yl_eval_results *r, const char *const *names) {
    cJSON *classes = cJSON_AddArrayToObject(root, "classes");
    if (!classes) return false;
    for (int c = 0; c < r->nc; c++) {
        char buf[32];
        cJSON *o = cJSON_CreateObject();
        if (!o || !cJSON_AddItemToArray(classes, o)) {
            cJSON_Delete(o);
            return false;
        }
        bool ok = cJSON_AddStringToObject(o, "name", class_name(names, c, buf, sizeof buf)) &&
                  cJSON_AddNumberToObject(o, "instances", (double)r->nt_per_class[c]) &&
                  cJSON_AddNumberToObject(o, "images", (double)r->nt_per_image[c]) &&
                  cJSON_AddNumberToObject(o, "ap50", r->ap50[c]) &&
                  cJSON_AddNumberToObject(o, "ap50_95", r->ap50_95[c]) &&
                  cJSON_AddNumberToObject(o, "precision", r->ap.p[c]) &&
                  cJSON_AddNumberToObject(o, "recall", r->ap.r[c]) && cJSON_AddBoolToObject(o, "has_gt", r->has_gt[c]);
        if (!ok) return false;
    }
    return true;
}

// Only the classes with GT get a curve: without GT, pr_curve is all zeros and means nothing.
static bool add_pr_curve(cJSON *root, const yl_eval_results *r, const char *const *names) {
    cJSON *pr = cJSON_AddObjectToObject(root, "pr_curve");
    if (!pr) return false;
    double recall[RECORD_PR_POINTS], values[RECORD_PR_POINTS];
    for (int i = 0; i < RECORD_PR_POINTS; i++) recall[i] = (double)i / (RECORD_PR_POINTS - 1);
    cJSON *rec = cJSON_CreateDoubleArray(recall, RECORD_PR_POINTS);
    if (!rec || !cJSON_AddItemToObject(pr, "recall", rec)) {
        cJSON_Delete(rec);
        return false;
    }
    cJSON *precision = cJSON_AddObjectToObject(pr, "precision");
    if (!precision) return false;
    for (int c = 0; c < r->nc; c++) {
        if (!r->has_gt[c]) continue;
        const double *row = r->ap.pr_curve + (size_t)c * YL_EVAL_CURVE_POINTS;
        for (int i = 0; i < RECORD_PR_POINTS; i++)
            values[i] = round6(curve_at(r->ap.px, row, YL_EVAL_CURVE_POINTS, recall[i]));
        char buf[32];
        cJSON *arr = cJSON_CreateDoubleArray(values, RECORD_PR_POINTS);
        if (!arr || !cJSON_AddItemToObject(precision, class_name(names, c, buf, sizeof buf), arr)) {
            cJSON_Delete(arr);
            return false;
        }
    }
    return true;
}

static bool add_confusion(cJSON *root, const yl_eval_results *r) {
    cJSON *rows = cJSON_AddArrayToObject(root, "confusion");
    if (!rows) return false;
    int n = r->nc + 1;
    for (int i = 0; i < n; i++) {
        cJSON *row = cJSON_CreateDoubleArray(r->confusion + (size_t)i * n, n);
        if (!row || !cJSON_AddItemToArray(rows, row)) {
            cJSON_Delete(row);
            return false;
        }
    }
    return true;
}

yl_status yl_eval_record_build(const yl_eval_results *results, const char *const *names, const yl_eval_record_info *info,
                               cJSON **out) {
    if (!results || !info || !out) return yl_error(YL_ERR_INVALID_ARG, "eval_record: NULL results, info or out");
    *out = NULL;
    const yl_eval_results *r = results;
    if (r->nc <= 0 || !r->ap50 || !r->ap50_95 || !r->has_gt || !r->nt_per_class || !r->nt_per_image ||
        !r->confusion || !r->ap.p || !r->ap.r || !r->ap.px || !r->ap.pr_curve)
        return yl_error(YL_ERR_INVALID_ARG, "eval_record: results with nc %d lack per-class arrays", r->nc);
    char now[32];
    yl_utc_now_iso(now);
    cJSON *root = cJSON_CreateObject();
    bool ok = root && add_string_or_null(root, "cycle", info->cycle) && add_string_or_null(root, "model", info->model) &&
              add_string_or_null(root, "role", info->role) && add_string_or_null(root, "eval_set", info->eval_set) &&
              cJSON_AddStringToObject(root, "time", now) && cJSON_AddNumberToObject(root, "imgsz", info->imgsz) &&
              cJSON_AddNumberToObject(root, "conf", info->conf) && cJSON_AddNumberToObject(root, "iou", info->iou) &&
              cJSON_AddNumberToObject(root, "images", (double)r->images) &&
              cJSON_AddNumberToObject(root, "instances", (double)r->instances) &&
              cJSON_AddNumberToObject(root, "precision", r->precision) &&
              cJSON_AddNumberToObject(root, "recall", r->recall) && cJSON_AddNumberToObject(root, "map50", r->map50) &&
              cJSON_AddNumberToObject(root, "map50_95", r->map50_95) &&
              cJSON_AddNumberToObject(root, "fitness", r->fitness) && add_classes(root, r, names) &&
              add_pr_curve(root, r, names) && add_confusion(root, r);
    if (!ok) {
        cJSON_Delete(root);
        return yl_error(YL_ERR_OOM, "eval_record: no memory for the record of %d classes", r->nc);
    }
    *out = root;
    return YL_OK;
}

yl_status yl_eval_record_write(const char *path, const yl_eval_results *results, const char *const *names,
                               const yl_eval_record_info *info) {
    if (!path) return yl_error(YL_ERR_INVALID_ARG, "eval_record: NULL path");
    cJSON *root;
    YL_TRY(yl_eval_record_build(results, names, info, &root));
    char *text = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    if (!text) return yl_error(YL_ERR_OOM, "eval_record: no memory to print %s", path);
    size_t n = strlen(text);
    // One trailing newline so the file is a proper text file.
    char *with_nl = realloc(text, n + 2);
    if (!with_nl) {
        free(text);
        return yl_error(YL_ERR_OOM, "eval_record: no memory to print %s", path);
    }
    with_nl[n] = '\n';
    with_nl[n + 1] = '\0';
    yl_status status = yl_fs_write_atomic(path, with_nl, n + 1);
    free(with_nl);
    if (status != YL_OK) return yl_error_context(status, "eval record");
    return YL_OK;
}
