// The report's plots as inline SVG written by hand: the mAP history, per-class AP50 bars and PR
// curves. No scripts: values show as text and as <title> tooltips.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cycle/report_internal.h"

static const char *const palette[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                                      "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};
#define PALETTE_SIZE ((int)(sizeof palette / sizeof palette[0]))

static const char *const known_roles[] = {"deployed", "candidate", "deployed_golden", "candidate_golden"};
#define KNOWN_ROLES 4

static double clamp01(double v) { return isnan(v) ? 0.0 : v < 0.0 ? 0.0 : v > 1.0 ? 1.0 : v; }

void yl_report_history_xy(int index, int count, double value, double *x, double *y) {
    const double pad = 20.0, x0 = YL_REPORT_PLOT_LEFT + pad, x1 = YL_REPORT_PLOT_RIGHT - pad;
    *x = count <= 1 ? (x0 + x1) / 2.0 : x0 + (x1 - x0) * index / (count - 1);
    *y = YL_REPORT_PLOT_BOTTOM - clamp01(value) * (YL_REPORT_PLOT_BOTTOM - YL_REPORT_PLOT_TOP);
}

static int cycle_index(const char **ids, int n, const char *cycle) {
    for (int i = 0; i < n; i++)
        if (!strcmp(ids[i], cycle)) return i;
    return -1;
}

static void axes(yl_html *h, int left, int right, int top, int bottom, const char *y_label) {
    for (int t = 0; t <= 5; t++) {
        double v = t / 5.0, y = bottom - v * (bottom - top);
        yl_html_printf(h, "<line class=\"grid\" x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\"/>", left, y, right, y);
        yl_html_printf(h, "<text class=\"tick\" x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%.1f</text>", left - 6, y + 4,
                       v);
    }
    yl_html_printf(h, "<line class=\"axis\" x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\"/>", left, bottom, right, bottom);
    yl_html_printf(h, "<line class=\"axis\" x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\"/>\n", left, top, left, bottom);
    yl_html_printf(h,
                   "<text class=\"label\" x=\"12\" y=\"%d\" transform=\"rotate(-90 12 %d)\" "
                   "text-anchor=\"middle\">%s</text>\n",
                   (top + bottom) / 2, (top + bottom) / 2, y_label);
}

// The roles present in the rows: the known ones first, in their order, then any other.
static int history_roles(const yl_report_data *d, const char **roles) {
    int n = 0;
    for (int k = 0; k < KNOWN_ROLES; k++)
        for (int i = 0; i < d->row_count; i++)
            if (!strcmp(d->rows[i].role, known_roles[k])) {
                roles[n++] = known_roles[k];
                break;
            }
    for (int i = 0; i < d->row_count; i++) {
        bool seen = false;
        for (int j = 0; j < n && !seen; j++) seen = !strcmp(roles[j], d->rows[i].role);
        if (!seen) roles[n++] = d->rows[i].role;
    }
    return n;
}

static void history_series(yl_html *h, const yl_report_data *d, const char **ids, int n_cycles, const char *role,
                           const char *color, bool map50) {
    const char *metric = map50 ? "map50" : "map50_95";
    yl_html_printf(h, "<polyline class=\"series\" data-role=\"");
    yl_html_text(h, role);
    yl_html_printf(h, "\" data-metric=\"%s\" stroke=\"%s\"%s points=\"", metric, color,
                   map50 ? "" : " stroke-dasharray=\"6 4\"");
    for (int i = 0, first = 1; i < d->row_count; i++) {
        const yl_eval_row *r = &d->rows[i];
        if (strcmp(r->role, role)) continue;
        double x, y;
        yl_report_history_xy(cycle_index(ids, n_cycles, r->cycle), n_cycles, map50 ? r->map50 : r->map50_95, &x, &y);
        yl_html_printf(h, "%s%.1f,%.1f", first ? "" : " ", x, y);
        first = 0;
    }
    yl_html_put(h, "\"/>\n");
    for (int i = 0; i < d->row_count; i++) {
        const yl_eval_row *r = &d->rows[i];
        if (strcmp(r->role, role)) continue;
        double x, y, v = map50 ? r->map50 : r->map50_95;
        yl_report_history_xy(cycle_index(ids, n_cycles, r->cycle), n_cycles, v, &x, &y);
        yl_html_printf(h, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\"><title>", x, y, color);
        yl_html_text(h, r->cycle);
        yl_html_put(h, " ");
        yl_html_text(h, r->model);
        yl_html_put(h, " ");
        yl_html_text(h, role);
        yl_html_printf(h, " %s %.4f</title></circle>\n", map50 ? "mAP50" : "mAP50-95", v);
    }
}

static void deployment_marks(yl_html *h, const yl_report_data *d, const char **ids, int n_cycles) {
    int n = cJSON_GetArraySize(d->decisions);
    for (int i = 0; i < n; i++) {
        const cJSON *dec = cJSON_GetArrayItem(d->decisions, i);
        if (strcmp(yl_report_json_str(dec, "step"), "deploy") && strcmp(yl_report_json_str(dec, "action"), "deploy"))
            continue;
        int c = cycle_index(ids, n_cycles, yl_report_json_str(dec, "cycle"));
        if (c < 0) continue;
        double x, y;
        yl_report_history_xy(c, n_cycles, 1.0, &x, &y);
        yl_html_printf(h,
                       "<g class=\"deploy-mark\"><line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\"/>"
                       "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">deploy</text><title>deployed in ",
                       x, YL_REPORT_PLOT_TOP, x, YL_REPORT_PLOT_BOTTOM, x, YL_REPORT_PLOT_TOP - 6);
        yl_html_text(h, ids[c]);
        yl_html_put(h, ": ");
        yl_html_text(h, yl_report_json_str(dec, "reason"));
        yl_html_put(h, "</title></g>\n");
    }
}

void yl_report_svg_history(yl_html *h, const yl_report_data *d) {
    const char **ids = NULL;
    int n_cycles = yl_report_cycles(d, &ids);
    if (n_cycles < 0) {
        h->failed = true;
        return;
    }
    const int left = YL_REPORT_PLOT_LEFT, right = YL_REPORT_PLOT_RIGHT, top = YL_REPORT_PLOT_TOP,
              bottom = YL_REPORT_PLOT_BOTTOM;
    yl_html_printf(h, "<svg class=\"plot history\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" role=\"img\">\n",
                   YL_REPORT_PLOT_WIDTH, YL_REPORT_PLOT_HEIGHT, YL_REPORT_PLOT_WIDTH, YL_REPORT_PLOT_HEIGHT);
    axes(h, left, right, top, bottom, "mAP");
    // Cycle ticks: every one when few, else about twelve labels.
    int step = n_cycles > 12 ? (n_cycles + 11) / 12 : 1;
    for (int c = 0; c < n_cycles; c++) {
        if (c % step && c != n_cycles - 1) continue;
        double x, y;
        yl_report_history_xy(c, n_cycles, 0.0, &x, &y);
        yl_html_printf(h, "<text class=\"tick\" x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%d<title>", x, bottom + 16,
                       c + 1);
        yl_html_text(h, ids[c]);
        yl_html_put(h, "</title></text>");
    }
    yl_html_printf(h, "<text class=\"label\" x=\"%d\" y=\"%d\" text-anchor=\"middle\">cycle</text>\n",
                   (left + right) / 2, bottom + 34);
    deployment_marks(h, d, ids, n_cycles);
    double tx, ty;
    yl_report_history_xy(0, 1, d->min_map50, &tx, &ty);
    yl_html_printf(h,
                   "<line class=\"threshold\" x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\"/>"
                   "<text class=\"threshold-label\" x=\"%d\" y=\"%.1f\">min_map50 %.2f</text>\n",
                   left, ty, right, ty, left + 4, ty - 4, d->min_map50);

    const char **roles = malloc((size_t)(d->row_count + KNOWN_ROLES) * sizeof *roles);
    if (!roles) {
        h->failed = true;
        free(ids);
        return;
    }
    int n_roles = history_roles(d, roles);
    for (int k = 0; k < n_roles; k++) {
        const char *color = palette[k % PALETTE_SIZE];
        history_series(h, d, ids, n_cycles, roles[k], color, true);
        history_series(h, d, ids, n_cycles, roles[k], color, false);
        int ly = top + 10 + 36 * k;
        yl_html_printf(h,
                       "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"%s\" stroke-width=\"2\"/>"
                       "<text class=\"legend\" x=\"%d\" y=\"%d\">",
                       right + 16, ly, right + 40, ly, color, right + 46, ly + 4);
        yl_html_text(h, roles[k]);
        yl_html_printf(h,
                       " mAP50</text><line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"%s\" stroke-width=\"2\" "
                       "stroke-dasharray=\"6 4\"/><text class=\"legend\" x=\"%d\" y=\"%d\">",
                       right + 16, ly + 16, right + 40, ly + 16, color, right + 46, ly + 20);
        yl_html_text(h, roles[k]);
        yl_html_put(h, " mAP50-95</text>\n");
    }
    yl_html_put(h, "</svg>\n");
    free(roles);
    free(ids);
}

// ---- per-class AP50 bars ----------------------------------------------------------------------

static const cJSON *class_entry(const cJSON *record, const char *name) {
    const cJSON *c;
    cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(record, "classes")) {
        if (!strcmp(yl_report_json_str(c, "name"), name)) return c;
    }
    return NULL;
}

// The class names of both records, the first record's order first.
static int class_names(const cJSON *a, const cJSON *b, const char ***out) {
    int cap = cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(a, "classes")) +
              cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(b, "classes"));
    const char **names = malloc((size_t)(cap > 0 ? cap : 1) * sizeof *names);
    if (!names) return -1;
    int n = 0;
    const cJSON *records[2] = {a, b};
    for (int k = 0; k < 2; k++) {
        const cJSON *c;
        cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(records[k], "classes")) {
            const char *name = yl_report_json_str(c, "name");
            bool seen = false;
            for (int j = 0; j < n && !seen; j++) seen = !strcmp(names[j], name);
            if (!seen) names[n++] = name;
        }
    }
    *out = names;
    return n;
}

static void bar(yl_html *h, const cJSON *record, const char *role, const char *name, const char *color, int x0,
                int width, int y) {
    const cJSON *entry = class_entry(record, name);
    if (!entry) return;
    double ap = yl_report_json_num(entry, "ap50", 0.0);
    bool has_gt = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(entry, "has_gt"));
    yl_html_printf(h, "<rect x=\"%d\" y=\"%d\" width=\"%.1f\" height=\"11\" fill=\"%s\"><title>", x0, y,
                   clamp01(ap) * width, color);
    yl_html_text(h, name);
    yl_html_printf(h, " %s AP50 %.4f</title></rect>", role, ap);
    yl_html_printf(h, "<text class=\"value\" x=\"%.1f\" y=\"%d\">%.3f%s</text>\n", x0 + clamp01(ap) * width + 4,
                   y + 10, ap, has_gt ? "" : " (no GT)");
}

void yl_report_svg_class_bars(yl_html *h, const cJSON *deployed, const cJSON *candidate) {
    const char **names = NULL;
    int n = class_names(deployed, candidate, &names);
    if (n < 0) {
        h->failed = true;
        return;
    }
    const int label_w = 200, bar_w = 440, row_h = 30, top = 30;
    int height = top + n * row_h + 10;
    yl_html_printf(h, "<svg class=\"plot bars\" width=\"760\" height=\"%d\" viewBox=\"0 0 760 %d\" role=\"img\">\n",
                   height, height);
    const cJSON *records[2] = {deployed, candidate};
    const char *roles[2] = {"deployed", "candidate"};
    for (int k = 0; k < 2; k++) {
        if (!records[k]) continue;
        int lx = label_w + 200 * k;
        yl_html_printf(h, "<rect x=\"%d\" y=\"8\" width=\"12\" height=\"11\" fill=\"%s\"/>"
                       "<text class=\"legend\" x=\"%d\" y=\"18\">%s ", lx, palette[k], lx + 16, roles[k]);
        yl_html_text(h, yl_report_json_str(records[k], "model"));
        yl_html_put(h, "</text>\n");
    }
    for (int i = 0; i < n; i++) {
        int y = top + i * row_h;
        yl_html_printf(h, "<text class=\"class-name\" x=\"%d\" y=\"%d\" text-anchor=\"end\">", label_w - 8, y + 16);
        yl_html_text(h, names[i]);
        yl_html_put(h, "</text>\n");
        for (int k = 0; k < 2; k++)
            if (records[k]) bar(h, records[k], roles[k], names[i], palette[k], label_w, bar_w, y + 2 + 12 * k);
    }
    yl_html_put(h, "</svg>\n");
    free(names);
}

// ---- PR curves --------------------------------------------------------------------------------

void yl_report_svg_pr(yl_html *h, const cJSON *record) {
    const int left = 50, right = 330, top = 20, bottom = 290;
    const cJSON *pr = cJSON_GetObjectItemCaseSensitive(record, "pr_curve");
    const cJSON *recall = cJSON_GetObjectItemCaseSensitive(pr, "recall");
    const cJSON *precision = cJSON_GetObjectItemCaseSensitive(pr, "precision");
    int n_points = cJSON_GetArraySize(recall);
    yl_html_put(h, "<svg class=\"plot pr\" width=\"560\" height=\"330\" viewBox=\"0 0 560 330\" role=\"img\">\n");
    axes(h, left, right, top, bottom, "precision");
    for (int t = 0; t <= 5; t++)
        yl_html_printf(h, "<text class=\"tick\" x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%.1f</text>",
                       left + t / 5.0 * (right - left), bottom + 16, t / 5.0);
    yl_html_printf(h, "<text class=\"label\" x=\"%d\" y=\"%d\" text-anchor=\"middle\">recall</text>\n",
                   (left + right) / 2, bottom + 34);
    int k = 0;
    const cJSON *curve;
    cJSON_ArrayForEach(curve, precision) {
        const char *color = palette[k % PALETTE_SIZE];
        const char *name = curve->string ? curve->string : "";
        yl_html_printf(h, "<polyline class=\"pr-curve\" stroke=\"%s\" points=\"", color);
        int n = cJSON_GetArraySize(curve) < n_points ? cJSON_GetArraySize(curve) : n_points;
        for (int i = 0; i < n; i++) {
            double r = clamp01(cJSON_GetArrayItem(recall, i)->valuedouble);
            double p = clamp01(cJSON_GetArrayItem(curve, i)->valuedouble);
            yl_html_printf(h, "%s%.1f,%.1f", i ? " " : "", left + r * (right - left), bottom - p * (bottom - top));
        }
        yl_html_put(h, "\"><title>");
        yl_html_text(h, name);
        yl_html_put(h, "</title></polyline>\n");
        const cJSON *entry = class_entry(record, name);
        int ly = top + 6 + 18 * k;
        yl_html_printf(h,
                       "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"%s\" stroke-width=\"2\"/>"
                       "<text class=\"legend\" x=\"%d\" y=\"%d\">",
                       right + 16, ly, right + 36, ly, color, right + 42, ly + 4);
        yl_html_text(h, name);
        if (entry) yl_html_printf(h, " %.3f", yl_report_json_num(entry, "ap50", 0.0));
        yl_html_put(h, "</text>\n");
        k++;
    }
    if (k == 0)
        yl_html_printf(h, "<text class=\"label\" x=\"%d\" y=\"%d\" text-anchor=\"middle\">no class with ground truth</text>\n",
                       (left + right) / 2, (top + bottom) / 2);
    yl_html_put(h, "</svg>\n");
}
