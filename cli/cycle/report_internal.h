// Pieces of the workspace report (report.h) shared by report.c, report_data.c, report_html.c and
// report_svg.c; also used by tests/test_report.c to check plot coordinates.
#pragma once
#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "cli/cycle/history.h"
#include "cli/cycle/registry.h"
#include "engine/core/status.h"

// ---- what the report reads from a workspace (report_data.c) ---------------------------------

typedef struct {
    const char *workspace;
    yl_eval_row *rows;  // history/eval_history.csv, file order
    int row_count;
    cJSON *decisions;   // history/decisions.jsonl as an array
    yl_model_version *versions;
    int version_count;
    char deployed[YL_VERSION_ID_SIZE];  // "" when nothing is deployed
    double min_map50;                   // from yoloop.yaml, else the default
    bool config_loaded;
    cJSON **evals;  // history/evals/*.json records, oldest first (by "time", then file name)
    int eval_count;
    char **warnings;  // files skipped and why; shown on the page
    int warning_count;
} yl_report_data;

yl_status yl_report_data_load(const char *workspace, yl_report_data *data);
void yl_report_data_free(yl_report_data *data);

// The latest record of `role` (and of `cycle` when not NULL), or NULL.
const cJSON *yl_report_latest_eval(const yl_report_data *data, const char *role, const char *cycle);
// The distinct cycle ids of the history rows in order of first appearance; *ids points into rows
// (malloc'd array, free it). Returns the count, -1 when out of memory.
int yl_report_cycles(const yl_report_data *data, const char ***ids);
// The string member `key` of obj, "" when absent or not a string.
const char *yl_report_json_str(const cJSON *obj, const char *key);
// The number member `key` of obj, fallback when absent or not a number.
double yl_report_json_num(const cJSON *obj, const char *key, double fallback);

// ---- a growing HTML text (report_html.c) ----------------------------------------------------

typedef struct {
    char *data;
    size_t len, cap;
    bool failed;  // an allocation failed; everything after it is dropped
} yl_html;

void yl_html_put(yl_html *h, const char *s);
#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
void yl_html_printf(yl_html *h, const char *fmt, ...);
// s escaped for HTML text and attribute values (& < > " '); NULL writes nothing.
void yl_html_text(yl_html *h, const char *s);
void yl_html_free(yl_html *h);

// The tables: decisions (newest first), registry, evaluation history (newest first).
void yl_report_decisions_table(yl_html *h, const yl_report_data *data);
void yl_report_registry_table(yl_html *h, const yl_report_data *data);
void yl_report_history_table(yl_html *h, const yl_report_data *data);

// ---- inline SVG (report_svg.c) --------------------------------------------------------------

// The history plot's frame: mAP 0..1 on the y axis, cycle index 0..count-1 on the x axis.
#define YL_REPORT_PLOT_WIDTH 820
#define YL_REPORT_PLOT_HEIGHT 320
#define YL_REPORT_PLOT_LEFT 50
#define YL_REPORT_PLOT_RIGHT 600  // the legend lies right of this
#define YL_REPORT_PLOT_TOP 20
#define YL_REPORT_PLOT_BOTTOM 280

// Where cycle `index` of `count` and value v (0..1, clamped) are drawn in the history plot.
void yl_report_history_xy(int index, int count, double value, double *x, double *y);

// mAP50 (solid) and mAP50-95 (dashed) per role over cycles, the min_map50 line, deployments.
void yl_report_svg_history(yl_html *h, const yl_report_data *data);
// Per-class AP50 bars of two records (either may be NULL).
void yl_report_svg_class_bars(yl_html *h, const cJSON *deployed, const cJSON *candidate);
// The PR curves of one record, one line per class with GT.
void yl_report_svg_pr(yl_html *h, const cJSON *record);
