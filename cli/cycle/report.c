// The workspace report page and the terminal summary (report.h). The data comes from
// report_data.c, the tables from report_html.c, the plots from report_svg.c.
#include "cli/cycle/report.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cycle/report_internal.h"
#include "cli/fs_util.h"

static const char page_style[] =
    "body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:24px auto;max-width:1100px;"
    "color:#222;padding:0 16px}"
    "h1{font-size:1.6em;margin-bottom:4px}h2{font-size:1.2em;margin-top:32px;border-bottom:1px solid #ddd}"
    ".meta{color:#666}.empty{color:#666;font-style:italic}"
    ".warnings{background:#fff4e5;border:1px solid #f0b860;padding:8px 16px}"
    "table{border-collapse:collapse;font-size:.9em;margin:8px 0}"
    "th,td{border:1px solid #ddd;padding:4px 8px;text-align:left;vertical-align:top}"
    "th{background:#f4f4f4}td.num{text-align:right;font-variant-numeric:tabular-nums}"
    "td.json{font-family:monospace;font-size:.85em;max-width:380px;word-break:break-all}"
    "tr.deployed td,tr.step-deploy td{background:#eef8ee}"
    "table.summary th{width:180px}"
    "svg.plot{display:block;margin:8px 0;font-size:11px}"
    "svg .grid{stroke:#eee}svg .axis{stroke:#444}svg .tick{fill:#555}svg .label{fill:#333;font-size:12px}"
    "svg polyline{fill:none;stroke-width:2}svg polyline.pr-curve{stroke-width:1.5}"
    "svg .threshold{stroke:#d62728;stroke-dasharray:3 3}svg .threshold-label{fill:#d62728}"
    "svg .deploy-mark line{stroke:#2ca02c;stroke-dasharray:2 3}svg .deploy-mark text{fill:#2ca02c}"
    "svg .legend,svg .class-name,svg .value{fill:#333}"
    "figure{display:inline-block;margin:0 16px 16px 0}figcaption{font-size:.9em;color:#444}";

// The decision of `cycle` when one was logged, else the last one.
static const cJSON *last_decision(const yl_report_data *d, const char *cycle) {
    int n = cJSON_GetArraySize(d->decisions);
    for (int i = n - 1; cycle && i >= 0; i--) {
        const cJSON *dec = cJSON_GetArrayItem(d->decisions, i);
        if (!strcmp(yl_report_json_str(dec, "cycle"), cycle)) return dec;
    }
    return n ? cJSON_GetArrayItem(d->decisions, n - 1) : NULL;
}

static const char *last_cycle(const yl_report_data *d) {
    return d->row_count ? d->rows[d->row_count - 1].cycle : NULL;
}

static void summary_row(yl_html *h, const char *name, const char *value) {
    yl_html_printf(h, "<tr><th>%s</th><td>", name);
    yl_html_text(h, value);
    yl_html_put(h, "</td></tr>\n");
}

static void summary_section(yl_html *h, const yl_report_data *d) {
    const char **ids = NULL;
    int n_cycles = yl_report_cycles(d, &ids);
    free(ids);
    char text[256];
    yl_html_put(h, "<h2>Summary</h2>\n<table class=\"summary\">\n");
    summary_row(h, "deployed version", d->deployed[0] ? d->deployed : "none");
    snprintf(text, sizeof text, "%d cycles, %d evaluations, %d decisions, %d model versions", n_cycles < 0 ? 0 : n_cycles,
             d->row_count, cJSON_GetArraySize(d->decisions), d->version_count);
    summary_row(h, "counts", text);
    const char *cycle = last_cycle(d);
    if (cycle) {
        summary_row(h, "last cycle", cycle);
        for (int i = 0; i < d->row_count; i++) {
            const yl_eval_row *r = &d->rows[i];
            if (strcmp(r->cycle, cycle)) continue;
            yl_html_put(h, "<tr><th>");
            yl_html_text(h, r->role);
            yl_html_put(h, "</th><td>");
            yl_html_text(h, r->model);
            yl_html_printf(h, ": mAP50 %.4f, mAP50-95 %.4f, P %.3f, R %.3f on ", r->map50, r->map50_95, r->precision,
                           r->recall);
            yl_html_text(h, r->eval_set);
            yl_html_printf(h, " (%ld images, %ld instances)</td></tr>\n", r->images, r->instances);
        }
    }
    const cJSON *dec = last_decision(d, cycle);
    if (dec) {
        yl_html_put(h, "<tr><th>last decision</th><td>");
        yl_html_text(h, yl_report_json_str(dec, "step"));
        yl_html_put(h, " / ");
        yl_html_text(h, yl_report_json_str(dec, "action"));
        yl_html_put(h, ": ");
        yl_html_text(h, yl_report_json_str(dec, "reason"));
        yl_html_put(h, "</td></tr>\n");
    }
    snprintf(text, sizeof text, "%.2f (%s)", d->min_map50, d->config_loaded ? "yoloop.yaml" : "default");
    summary_row(h, "min_map50", text);
    yl_html_put(h, "</table>\n");
}

static void class_section(yl_html *h, const yl_report_data *d) {
    // The latest cycle that has a deployed or candidate record.
    const cJSON *latest_d = yl_report_latest_eval(d, "deployed", NULL);
    const cJSON *latest_c = yl_report_latest_eval(d, "candidate", NULL);
    const cJSON *latest = latest_d;
    if (latest_c && (!latest || strcmp(yl_report_json_str(latest_c, "time"), yl_report_json_str(latest, "time")) > 0))
        latest = latest_c;
    yl_html_put(h, "<h2>Per-class AP50</h2>\n");
    if (!latest) {
        yl_html_put(h, "<p class=\"empty\">No evaluation records (history/evals/) yet.</p>\n");
        return;
    }
    const char *cycle = yl_report_json_str(latest, "cycle");
    yl_html_put(h, "<p>Cycle ");
    yl_html_text(h, cycle);
    yl_html_put(h, ", deployed vs candidate on the same evaluation set.</p>\n");
    yl_report_svg_class_bars(h, yl_report_latest_eval(d, "deployed", cycle), yl_report_latest_eval(d, "candidate", cycle));
}

static void pr_section(yl_html *h, const yl_report_data *d) {
    yl_html_put(h, "<h2>PR curves</h2>\n");
    if (d->eval_count == 0) {
        yl_html_put(h, "<p class=\"empty\">No evaluation records (history/evals/) yet.</p>\n");
        return;
    }
    // The known roles first, then any other role, each once, newest record of it.
    const char *known[] = {"deployed", "candidate", "deployed_golden", "candidate_golden"};
    const char **roles = malloc((size_t)(d->eval_count + 4) * sizeof *roles);
    if (!roles) {
        h->failed = true;
        return;
    }
    int n = 0;
    for (int k = 0; k < 4; k++)
        if (yl_report_latest_eval(d, known[k], NULL)) roles[n++] = known[k];
    for (int i = 0; i < d->eval_count; i++) {
        const char *role = yl_report_json_str(d->evals[i], "role");
        bool seen = false;
        for (int j = 0; j < n && !seen; j++) seen = !strcmp(roles[j], role);
        if (!seen) roles[n++] = role;
    }
    for (int k = 0; k < n; k++) {
        const cJSON *r = yl_report_latest_eval(d, roles[k], NULL);
        yl_html_put(h, "<figure><figcaption><b>");
        yl_html_text(h, roles[k]);
        yl_html_put(h, "</b> ");
        yl_html_text(h, yl_report_json_str(r, "model"));
        yl_html_put(h, ", cycle ");
        yl_html_text(h, yl_report_json_str(r, "cycle"));
        yl_html_put(h, ", set ");
        yl_html_text(h, yl_report_json_str(r, "eval_set"));
        yl_html_printf(h, ": mAP50 %.4f, mAP50-95 %.4f</figcaption>\n", yl_report_json_num(r, "map50", 0.0),
                       yl_report_json_num(r, "map50_95", 0.0));
        yl_report_svg_pr(h, r);
        yl_html_put(h, "</figure>\n");
    }
    free(roles);
}

static void build_page(yl_html *h, const yl_report_data *d) {
    char now[32];
    yl_utc_now_iso(now);
    yl_html_put(h, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>yoloop report: ");
    yl_html_text(h, d->workspace);
    yl_html_printf(h, "</title>\n<style>%s</style>\n</head>\n<body>\n<h1>yoloop report</h1>\n", page_style);
    yl_html_put(h, "<p class=\"meta\">Workspace <code>");
    yl_html_text(h, d->workspace);
    yl_html_printf(h, "</code>, written %s</p>\n", now);
    if (d->warning_count) {
        yl_html_put(h, "<div class=\"warnings\"><p>Skipped while reading the workspace:</p><ul>\n");
        for (int i = 0; i < d->warning_count; i++) {
            yl_html_put(h, "<li>");
            yl_html_text(h, d->warnings[i]);
            yl_html_put(h, "</li>\n");
        }
        yl_html_put(h, "</ul></div>\n");
    }
    summary_section(h, d);
    if (d->row_count == 0) {
        yl_html_put(h, "<p class=\"empty\" id=\"no-cycles\">No cycles yet: run <code>yoloop cycle</code> to "
                       "evaluate the deployed model on new verified data.</p>\n");
    } else {
        yl_html_put(h, "<h2>mAP history</h2>\n");
        yl_report_svg_history(h, d);
        class_section(h, d);
        pr_section(h, d);
        yl_html_put(h, "<h2>Evaluations</h2>\n");
        yl_report_history_table(h, d);
    }
    yl_html_put(h, "<h2>Decisions</h2>\n");
    yl_report_decisions_table(h, d);
    yl_html_put(h, "<h2>Model registry</h2>\n");
    yl_report_registry_table(h, d);
    yl_html_put(h, "</body>\n</html>\n");
}

yl_status yl_report_write(const char *workspace, char *path_out, size_t size) {
    if (!workspace) return yl_error(YL_ERR_INVALID_ARG, "report: NULL workspace");
    char path[4096];
    if (snprintf(path, sizeof path, "%s/report.html", workspace) >= (int)sizeof path)
        return yl_error(YL_ERR_INVALID_ARG, "report: workspace path too long: %s", workspace);
    if (path_out && snprintf(path_out, size, "%s", path) >= (int)size)
        return yl_error(YL_ERR_INVALID_ARG, "report: %s does not fit in %zu bytes", path, size);
    yl_report_data d;
    YL_TRY(yl_report_data_load(workspace, &d));
    yl_html h = {0};
    build_page(&h, &d);
    yl_report_data_free(&d);
    if (h.failed) {
        yl_html_free(&h);
        return yl_error(YL_ERR_OOM, "report: no memory for the page of %s", workspace);
    }
    yl_status status = yl_fs_write_atomic(path, h.data, h.len);
    yl_html_free(&h);
    return status == YL_OK ? YL_OK : yl_error_context(status, "report");
}

yl_status yl_report_print_summary(const char *workspace, FILE *out) {
    if (!workspace || !out) return yl_error(YL_ERR_INVALID_ARG, "report: NULL workspace or output");
    yl_report_data d;
    YL_TRY(yl_report_data_load(workspace, &d));
    const char *cycle = last_cycle(&d);
    if (!cycle) {
        fprintf(out, "No cycles yet.\n");
    } else {
        fprintf(out, "%-10s %s\n", "Cycle", cycle);
        for (int i = 0; i < d.row_count; i++) {
            const yl_eval_row *r = &d.rows[i];
            if (strcmp(r->cycle, cycle)) continue;
            fprintf(out, "  %-16s %-6s mAP50 %.4f  mAP50-95 %.4f  P %.3f  R %.3f  (%s: %ld images, %ld instances)\n",
                    r->role, r->model, r->map50, r->map50_95, r->precision, r->recall, r->eval_set, r->images,
                    r->instances);
        }
    }
    const cJSON *dec = last_decision(&d, cycle);
    if (dec) {
        const char *action = yl_report_json_str(dec, "action");
        fprintf(out, "%-10s %s: %s\n", "Decision", action[0] ? action : yl_report_json_str(dec, "step"),
                yl_report_json_str(dec, "reason"));
    }
    fprintf(out, "%-10s %s\n", "Deployed", d.deployed[0] ? d.deployed : "none");
    yl_report_data_free(&d);
    return YL_OK;
}
