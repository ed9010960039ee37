// The report's text buffer, HTML escaping and its tables. Every string that comes from a file goes
// through yl_html_text: class names, reasons and ids are data, never markup.
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cycle/report_internal.h"

static bool reserve(yl_html *h, size_t extra) {
    if (h->failed) return false;
    if (h->len + extra + 1 <= h->cap) return true;
    size_t cap = h->cap ? h->cap : 16384;
    while (cap < h->len + extra + 1) cap *= 2;
    char *grown = realloc(h->data, cap);
    if (!grown) {
        h->failed = true;
        return false;
    }
    h->data = grown;
    h->cap = cap;
    return true;
}

static void put_n(yl_html *h, const char *s, size_t n) {
    if (!reserve(h, n)) return;
    memcpy(h->data + h->len, s, n);
    h->len += n;
    h->data[h->len] = '\0';
}

void yl_html_put(yl_html *h, const char *s) { put_n(h, s, strlen(s)); }

void yl_html_printf(yl_html *h, const char *fmt, ...) {
    va_list args;
    va_start(args, fmt);
    char small[512];
    int n = vsnprintf(small, sizeof small, fmt, args);
    va_end(args);
    if (n < 0) return;
    if ((size_t)n < sizeof small) {
        put_n(h, small, (size_t)n);
        return;
    }
    if (!reserve(h, (size_t)n)) return;
    va_start(args, fmt);
    vsnprintf(h->data + h->len, (size_t)n + 1, fmt, args);
    va_end(args);
    h->len += (size_t)n;
}

void yl_html_text(yl_html *h, const char *s) {
    if (!s) return;
    const char *run = s;
    for (; *s; s++) {
        const char *entity = NULL;
        switch (*s) {
            case '&': entity = "&amp;"; break;
            case '<': entity = "&lt;"; break;
            case '>': entity = "&gt;"; break;
            case '"': entity = "&quot;"; break;
            case '\'': entity = "&#39;"; break;
            default: break;
        }
        if (!entity) continue;
        put_n(h, run, (size_t)(s - run));
        yl_html_put(h, entity);
        run = s + 1;
    }
    put_n(h, run, (size_t)(s - run));
}

void yl_html_free(yl_html *h) {
    free(h->data);
    memset(h, 0, sizeof *h);
}

static void cell(yl_html *h, const char *text) {
    yl_html_put(h, "<td>");
    yl_html_text(h, text);
    yl_html_put(h, "</td>");
}

static void number_cell(yl_html *h, double v, const char *fmt) {
    yl_html_put(h, "<td class=\"num\">");
    if (v < 0)
        yl_html_put(h, "-");
    else
        yl_html_printf(h, fmt, v);
    yl_html_put(h, "</td>");
}

// A JSON member as text: strings as they are, anything else printed compactly.
static void json_cell(yl_html *h, const cJSON *obj, const char *key) {
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!item || cJSON_IsNull(item)) {
        cell(h, "");
        return;
    }
    if (cJSON_IsString(item)) {
        cell(h, item->valuestring);
        return;
    }
    char *text = cJSON_PrintUnformatted(item);
    yl_html_put(h, "<td class=\"json\">");
    yl_html_text(h, text ? text : "");
    yl_html_put(h, "</td>");
    free(text);
}

void yl_report_decisions_table(yl_html *h, const yl_report_data *d) {
    int n = cJSON_GetArraySize(d->decisions);
    if (n == 0) {
        yl_html_put(h, "<p class=\"empty\">No decisions yet.</p>\n");
        return;
    }
    yl_html_put(h,
                "<table class=\"decisions\"><thead><tr><th>time</th><th>cycle</th><th>step</th><th>action</th>"
                "<th>reason</th><th>inputs</th></tr></thead><tbody>\n");
    for (int i = n - 1; i >= 0; i--) {
        const cJSON *dec = cJSON_GetArrayItem(d->decisions, i);
        yl_html_printf(h, "<tr class=\"step-%s\">", strcmp(yl_report_json_str(dec, "step"), "deploy") ? "other" : "deploy");
        json_cell(h, dec, "time");
        json_cell(h, dec, "cycle");
        json_cell(h, dec, "step");
        json_cell(h, dec, "action");
        json_cell(h, dec, "reason");
        json_cell(h, dec, "inputs");
        yl_html_put(h, "</tr>\n");
    }
    yl_html_put(h, "</tbody></table>\n");
}

void yl_report_registry_table(yl_html *h, const yl_report_data *d) {
    if (d->version_count == 0) {
        yl_html_put(h, "<p class=\"empty\">No model versions registered.</p>\n");
        return;
    }
    yl_html_put(h,
                "<table class=\"registry\"><thead><tr><th>id</th><th>parent</th><th>origin</th><th>created</th>"
                "<th>mAP50</th><th>deployed</th></tr></thead><tbody>\n");
    for (int i = 0; i < d->version_count; i++) {
        const yl_model_version *v = &d->versions[i];
        yl_html_put(h, v->deployed ? "<tr class=\"deployed\">" : "<tr>");
        cell(h, v->id);
        cell(h, v->parent[0] ? v->parent : "-");
        cell(h, v->origin);
        cell(h, v->created_at);
        number_cell(h, v->map50, "%.4f");
        cell(h, v->deployed ? "yes" : "");
        yl_html_put(h, "</tr>\n");
    }
    yl_html_put(h, "</tbody></table>\n");
}

void yl_report_history_table(yl_html *h, const yl_report_data *d) {
    yl_html_put(h,
                "<table class=\"history\"><thead><tr><th>time</th><th>cycle</th><th>model</th><th>role</th>"
                "<th>eval set</th><th>images</th><th>instances</th><th>P</th><th>R</th><th>mAP50</th>"
                "<th>mAP50-95</th></tr></thead><tbody>\n");
    for (int i = d->row_count - 1; i >= 0; i--) {
        const yl_eval_row *r = &d->rows[i];
        yl_html_put(h, "<tr>");
        cell(h, r->time);
        cell(h, r->cycle);
        cell(h, r->model);
        cell(h, r->role);
        cell(h, r->eval_set);
        yl_html_printf(h, "<td class=\"num\">%ld</td><td class=\"num\">%ld</td>", r->images, r->instances);
        number_cell(h, r->precision, "%.3f");
        number_cell(h, r->recall, "%.3f");
        number_cell(h, r->map50, "%.4f");
        number_cell(h, r->map50_95, "%.4f");
        yl_html_put(h, "</tr>\n");
    }
    yl_html_put(h, "</tbody></table>\n");
}
