// cli/cycle/report*.c and `yoloop report`: a fake workspace (yoloop.yaml, three registry
// versions with two deployments, seven history rows over three cycles, decisions, evaluation
// records including a class named "<script>..." and a broken record file) gives a page with one
// polyline point per history row where the plot puts it, the threshold line from yoloop.yaml, the
// deployment mark, per-class bars and PR curves of the newest records, escaped text, the
// decisions and registry tables, and no external reference. An empty workspace gives a "no cycles
// yet" page; a malformed history fails and leaves the previous page untouched. The terminal
// summary and the command's exit codes.
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "cli/commands.h"
#include "cli/cycle/eval_record.h"
#include "cli/cycle/history.h"
#include "cli/cycle/registry.h"
#include "cli/cycle/report.h"
#include "cli/cycle/report_internal.h"
#include "cli/fs_util.h"
#include "engine/eval/metrics.h"
#include "tests/fs_test_util.h"
#include "tests/test_command.h"
#include "tests/test_common.h"

static const char *const names[3] = {"dentado", "x<script>alert(1)</script>", "perforation"};

static int count_of(const char *text, const char *needle) {
    int n = 0;
    for (const char *p = text; (p = strstr(p, needle)) != NULL; p += strlen(needle)) n++;
    return n;
}

static void expect(const char *text, const char *piece) {
    CHECK(text && strstr(text, piece) != NULL, "the page lacks '%s'", piece);
}

static void write_file(const char *dir, const char *name, const char *text) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    CHECK_OK(yl_fs_write_atomic(path, text, strlen(text)));
}

// ---- the fake workspace -----------------------------------------------------------------------

static void add_row(const char *ws, const char *time, const char *cycle, const char *model, const char *role,
                    const char *set, double map50, double map50_95) {
    yl_eval_row row = {.images = 20, .instances = 57, .precision = 0.7, .recall = 0.6, .map50 = map50,
                       .map50_95 = map50_95};
    snprintf(row.time, sizeof row.time, "%s", time);
    snprintf(row.cycle, sizeof row.cycle, "%s", cycle);
    snprintf(row.snapshot, sizeof row.snapshot, "s%s", cycle);
    snprintf(row.model, sizeof row.model, "%s", model);
    snprintf(row.role, sizeof row.role, "%s", role);
    snprintf(row.eval_set, sizeof row.eval_set, "%s", set);
    CHECK_OK(yl_history_append_eval(ws, &row));
}

static void add_decision(const char *ws, const char *time, const char *cycle, const char *step, const char *action,
                         const char *reason) {
    cJSON *d = cJSON_CreateObject();
    cJSON_AddStringToObject(d, "time", time);
    cJSON_AddStringToObject(d, "cycle", cycle);
    cJSON_AddStringToObject(d, "step", step);
    cJSON_AddStringToObject(d, "action", action);
    cJSON_AddStringToObject(d, "reason", reason);
    cJSON *inputs = cJSON_AddObjectToObject(d, "inputs");
    cJSON_AddNumberToObject(inputs, "min_map50", 0.55);
    CHECK_OK(yl_history_append_decision(ws, d));
    cJSON_Delete(d);
}

// An evaluation of two images; `extra_fp` adds a confident false positive of class 0.
static void write_record(const char *ws, yl_evaluator *ev, bool extra_fp, const char *time, const char *cycle,
                         const char *model, const char *role) {
    yl_evaluator_reset(ev);
    float gt1[] = {10, 10, 50, 50, 60, 60, 100, 100};
    int32_t gc1[] = {0, 1};
    yl_detection p1[] = {{200, 200, 240, 240, 0.95f, 0, -1}, {10, 10, 50, 50, 0.9f, 0, -1}, {60, 60, 100, 100, 0.8f, 1, -1}};
    CHECK_OK(yl_evaluator_add_image(ev, extra_fp ? p1 : p1 + 1, extra_fp ? 3 : 2, gt1, gc1, 2, NULL));
    float gt2[] = {20, 20, 80, 80, 100, 100, 150, 150};
    int32_t gc2[] = {0, 2};
    yl_detection p2[] = {{20, 20, 80, 80, 0.6f, 0, -1}, {100, 100, 150, 150, 0.5f, 2, -1}};
    CHECK_OK(yl_evaluator_add_image(ev, p2, 2, gt2, gc2, 2, NULL));
    const yl_eval_results *r;
    CHECK_OK(yl_evaluator_compute(ev, &r));
    yl_eval_record_info info = {.cycle = cycle, .model = model, .role = role, .eval_set = "new", .imgsz = 128,
                                .conf = 0.001, .iou = 0.7};
    cJSON *record;
    CHECK_OK(yl_eval_record_build(r, names, &info, &record));
    cJSON_ReplaceItemInObject(record, "time", cJSON_CreateString(time));  // a stable order for the test
    char *text = cJSON_PrintUnformatted(record);
    char name[128];
    snprintf(name, sizeof name, "history/evals/%s_%s_new.json", cycle, model);
    write_file(ws, name, text);
    free(text);
    cJSON_Delete(record);
}

static void build_workspace(const char *ws) {
    write_file(ws,
               "yoloop.yaml",
               "source:\n  kind: json\n  export: exports/\n  images: images/\n"
               "names: [dentado, concave, perforation]\n"
               "decide:\n  min_map50: 0.55\n");
    char model[512], dir[512];
    snprintf(model, sizeof model, "%s/weights.bin", ws);
    write_file(ws, "weights.bin", "not really a checkpoint");
    char id[YL_VERSION_ID_SIZE];
    cJSON *meta = cJSON_Parse("{\"metrics\": {\"map50\": 0.62}}");
    CHECK_OK(yl_registry_add(ws, model, "init", NULL, meta, id));
    CHECK_OK(yl_registry_deploy(ws, id, "initial"));
    cJSON_ReplaceItemInObject(cJSON_GetObjectItem(meta, "metrics"), "map50", cJSON_CreateNumber(0.71));
    CHECK_OK(yl_registry_add(ws, model, "finetune", "v0001", meta, id));
    CHECK_OK(yl_registry_deploy(ws, id, "candidate won"));
    CHECK_OK(yl_registry_add(ws, model, "finetune", "v0002", NULL, id));
    cJSON_Delete(meta);

    add_row(ws, "2026-11-20T10:00:00Z", "c1", "v0001", "deployed", "new", 0.62, 0.40);
    add_row(ws, "2026-11-21T10:00:00Z", "c2", "v0001", "deployed", "new", 0.52, 0.33);
    add_row(ws, "2026-11-21T10:05:00Z", "c2", "v0002", "candidate", "new", 0.71, 0.45);
    add_row(ws, "2026-11-22T10:00:00Z", "c3", "v0002", "deployed", "new", 0.58, 0.37);
    add_row(ws, "2026-11-22T10:01:00Z", "c3", "v0002", "deployed_golden", "golden", 0.80, 0.50);
    add_row(ws, "2026-11-22T10:05:00Z", "c3", "v0003", "candidate", "new", 0.60, 0.38);
    add_row(ws, "2026-11-22T10:06:00Z", "c3", "v0003", "candidate_golden", "golden", 0.79, 0.49);

    add_decision(ws, "2026-11-20T10:00:01Z", "c1", "baseline", "none", "first evaluation: baseline recorded");
    add_decision(ws, "2026-11-21T10:00:01Z", "c2", "decide", "finetune", "mAP50 0.52 < 0.55");
    add_decision(ws, "2026-11-21T10:05:01Z", "c2", "deploy", "deploy", "candidate 0.71 > 0.52 + 0.02");
    add_decision(ws, "2026-11-22T10:05:01Z", "c3", "compare", "keep", "candidate 0.60 <= 0.58 + 0.02 <b>bold</b>");

    snprintf(dir, sizeof dir, "%s/history/evals", ws);
    CHECK_OK(yl_fs_mkdirs(dir));
    yl_evaluator_options o = yl_evaluator_defaults(3);
    yl_evaluator *ev;
    CHECK_OK(yl_evaluator_create(&ev, &o));
    write_record(ws, ev, true, "2026-11-21T10:00:00Z", "c2", "v0001", "deployed");
    write_record(ws, ev, true, "2026-11-22T10:00:00Z", "c3", "v0002", "deployed");
    write_record(ws, ev, false, "2026-11-22T10:05:00Z", "c3", "v0003", "candidate");
    yl_evaluator_destroy(ev);
    write_file(ws, "history/evals/broken.json", "{not json");
}

// ---- checks -----------------------------------------------------------------------------------

// The points attribute of the polyline of `role` and `metric`.
static void expect_series(const char *page, const char *role, const char *metric, const int *cycles,
                          const double *values, int n) {
    char tag[128];
    snprintf(tag, sizeof tag, "data-role=\"%s\" data-metric=\"%s\"", role, metric);
    const char *at = strstr(page, tag);
    CHECK(at != NULL, "no polyline %s", tag);
    if (!at) return;
    const char *points = strstr(at, "points=\"");
    char want[1024] = "";
    for (int i = 0; i < n; i++) {
        double x, y;
        yl_report_history_xy(cycles[i], 3, values[i], &x, &y);
        snprintf(want + strlen(want), sizeof want - strlen(want), "%s%.1f,%.1f", i ? " " : "", x, y);
    }
    CHECK(points && !strncmp(points + 8, want, strlen(want)) && points[8 + strlen(want)] == '"',
          "%s %s points: want \"%s\", page has %.80s", role, metric, want, points ? points + 8 : "(none)");
}

// The plot's mapping itself: mAP 0 at the bottom, 1 at the top, clamped; cycles evenly spaced
// left to right inside the frame.
static void test_plot_mapping(void) {
    double x0, y0, x1, y1, x2, y2, xm, ym;
    yl_report_history_xy(0, 3, 0.0, &x0, &y0);
    yl_report_history_xy(1, 3, 0.5, &x1, &y1);
    yl_report_history_xy(2, 3, 1.0, &x2, &y2);
    CHECK(y0 == YL_REPORT_PLOT_BOTTOM && y2 == YL_REPORT_PLOT_TOP &&
              fabs(y1 - (YL_REPORT_PLOT_BOTTOM + YL_REPORT_PLOT_TOP) / 2.0) < 1e-9,
          "y of 0, 0.5, 1: %g %g %g", y0, y1, y2);
    CHECK(YL_REPORT_PLOT_LEFT < x0 && x0 < x1 && x1 < x2 && x2 < YL_REPORT_PLOT_RIGHT && fabs((x1 - x0) - (x2 - x1)) < 1e-9,
          "x of cycles 0, 1, 2: %g %g %g", x0, x1, x2);
    yl_report_history_xy(0, 3, 1.7, &xm, &ym);
    CHECK(ym == YL_REPORT_PLOT_TOP, "values above 1 are clamped");
    yl_report_history_xy(0, 3, NAN, &xm, &ym);
    CHECK(ym == YL_REPORT_PLOT_BOTTOM, "NaN is drawn at 0");
}

static void lowercase(char *s) {
    for (; *s; s++)
        if (*s >= 'A' && *s <= 'Z') *s = (char)(*s - 'A' + 'a');
}

static void check_page(const char *ws, const char *page) {
    CHECK(!strncmp(page, "<!DOCTYPE html>", 15) && strstr(page, "</html>\n") != NULL, "a whole HTML page");
    // Points: three cycles, each row where the plot puts it.
    expect_series(page, "deployed", "map50", (int[]){0, 1, 2}, (double[]){0.62, 0.52, 0.58}, 3);
    expect_series(page, "deployed", "map50_95", (int[]){0, 1, 2}, (double[]){0.40, 0.33, 0.37}, 3);
    expect_series(page, "candidate", "map50", (int[]){1, 2}, (double[]){0.71, 0.60}, 2);
    expect_series(page, "candidate", "map50_95", (int[]){1, 2}, (double[]){0.45, 0.38}, 2);
    expect_series(page, "deployed_golden", "map50", (int[]){2}, (double[]){0.80}, 1);
    expect_series(page, "candidate_golden", "map50", (int[]){2}, (double[]){0.79}, 1);
    CHECK(count_of(page, "<circle") == 14, "one marker per row and metric: %d", count_of(page, "<circle"));
    // The threshold from yoloop.yaml (0.55, not the default 0.60).
    double x, y;
    yl_report_history_xy(0, 1, 0.55, &x, &y);
    char piece[256];
    snprintf(piece, sizeof piece, "<line class=\"threshold\" x1=\"%d\" y1=\"%.1f\"", YL_REPORT_PLOT_LEFT, y);
    expect(page, piece);
    expect(page, "min_map50 0.55</text>");
    // One deployment, in cycle c2 (index 1).
    CHECK(count_of(page, "class=\"deploy-mark\"") == 1, "one deployment mark: %d", count_of(page, "class=\"deploy-mark\""));
    yl_report_history_xy(1, 3, 1.0, &x, &y);
    snprintf(piece, sizeof piece, "<g class=\"deploy-mark\"><line x1=\"%.1f\"", x);
    expect(page, piece);
    // Per-class bars and PR curves of the newest records (c3), with the class names escaped.
    expect(page, "<h2>Per-class AP50</h2>\n<p>Cycle c3,");
    expect(page, ">dentado</text>");
    expect(page, ">perforation</text>");
    expect(page, "x&lt;script&gt;alert(1)&lt;/script&gt;");
    CHECK(!strstr(page, "<script"), "no unescaped <script");
    CHECK(count_of(page, "class=\"pr-curve\"") == 6, "2 PR plots x 3 classes with GT: %d",
          count_of(page, "class=\"pr-curve\""));
    expect(page, "<figcaption><b>deployed</b> v0002, cycle c3, set new");
    expect(page, "<figcaption><b>candidate</b> v0003, cycle c3, set new");
    CHECK(!strstr(page, "<b>deployed</b> v0001"), "the older c2 record is not the deployed PR plot");
    expect(page, "deployed v0002</text>");
    expect(page, "candidate v0003</text>");
    // The broken record is skipped with a warning on the page.
    expect(page, "class=\"warnings\"");
    expect(page, "broken.json: not an evaluation record");
    // Decisions, newest first, escaped.
    expect(page, "<td>candidate 0.60 &lt;= 0.58 + 0.02 &lt;b&gt;bold&lt;/b&gt;</td>");
    expect(page, "<td>mAP50 0.52 &lt; 0.55</td>");
    expect(page, "<td class=\"json\">{&quot;min_map50&quot;:0.55}</td>");
    const char *newest = strstr(page, "<td>keep</td>"), *oldest = strstr(page, "<td>baseline</td>");
    CHECK(newest && oldest && newest < oldest, "decisions newest first");
    // The registry.
    expect(page, "<tr><td>v0001</td><td>-</td><td>init</td>");
    expect(page, "<tr class=\"deployed\"><td>v0002</td><td>v0001</td><td>finetune</td>");
    expect(page, "<td class=\"num\">0.7100</td><td>yes</td></tr>");
    expect(page, "<tr><td>v0003</td><td>v0002</td><td>finetune</td>");
    // Summary.
    expect(page, "<tr><th>deployed version</th><td>v0002</td></tr>");
    expect(page, "3 cycles, 7 evaluations, 4 decisions, 3 model versions");
    // Self-contained: no scripts, no external references of any kind.
    char *lower = strdup(page);
    lowercase(lower);
    CHECK(!strstr(lower, "http") && !strstr(lower, "<script") && !strstr(lower, "src=") && !strstr(lower, "href=") &&
              !strstr(lower, "@import") && !strstr(lower, "url("),
          "no external reference");
    free(lower);
    // Nothing left behind by the atomic write.
    char **entries;
    int n = 0;
    CHECK_OK(yl_fs_list_dir(ws, &entries, &n));
    for (int i = 0; i < n; i++) CHECK(!strstr(entries[i], ".tmp."), "temp file %s left behind", entries[i]);
    yl_fs_free_names(entries, n);
}

static char *summary_of(const char *ws) {
    FILE *f = tmpfile();
    CHECK_OK(yl_report_print_summary(ws, f));
    long n = ftell(f);
    rewind(f);
    char *text = calloc((size_t)n + 1, 1);
    CHECK(fread(text, 1, (size_t)n, f) == (size_t)n, "read the summary back");
    fclose(f);
    return text;
}

static void check_summary(const char *ws) {
    char *s = summary_of(ws);
    printf("--- summary ---\n%s---\n", s);
    CHECK(!strncmp(s, "Cycle      c3\n", 14), "first line names the last cycle: %s", s);
    const char *lines[] = {"  deployed         v0002  mAP50 0.5800  mAP50-95 0.3700  P 0.700  R 0.600  (new: 20 images, 57 instances)\n",
                           "  deployed_golden  v0002  mAP50 0.8000  mAP50-95 0.5000",
                           "  candidate        v0003  mAP50 0.6000  mAP50-95 0.3800",
                           "  candidate_golden v0003  mAP50 0.7900",
                           "Decision   keep: candidate 0.60 <= 0.58 + 0.02 <b>bold</b>\n", "Deployed   v0002\n"};
    for (size_t i = 0; i < sizeof lines / sizeof *lines; i++)
        CHECK(strstr(s, lines[i]) != NULL, "summary lacks '%s'", lines[i]);
    CHECK(!strstr(s, "c2"), "only the last cycle");
    free(s);
}

static void test_full(void) {
    char ws[] = "/tmp/yl_report_XXXXXX";
    CHECK(mkdtemp(ws) != NULL, "mkdtemp");
    build_workspace(ws);
    char path[512];
    CHECK_OK(yl_report_write(ws, path, sizeof path));
    char want[512];
    snprintf(want, sizeof want, "%s/report.html", ws);
    CHECK(!strcmp(path, want), "path %s", path);
    char *page = yl_test_read_text(want);
    CHECK(page != NULL, "report.html written");
    if (page) {
        check_page(ws, page);
        printf("  report of 3 cycles: %zu bytes\n", strlen(page));
    }
    check_summary(ws);

    // A path buffer too small is refused before anything is written.
    char tiny[8];
    CHECK_STATUS(yl_report_write(ws, tiny, sizeof tiny), YL_ERR_INVALID_ARG);

    // A malformed history fails and leaves the previous page as it was.
    char csv[512];
    snprintf(csv, sizeof csv, "%s/history/eval_history.csv", ws);
    FILE *f = fopen(csv, "a");
    fputs("garbage line without the columns\n", f);
    fclose(f);
    CHECK_STATUS(yl_report_write(ws, NULL, 0), YL_ERR_FORMAT);
    CHECK(strstr(yl_last_error(), "eval_history.csv") != NULL, "the message names the file: %s", yl_last_error());
    char *after = yl_test_read_text(want);
    CHECK(page && after && !strcmp(page, after), "the previous report is untouched");
    free(after);
    free(page);
    CHECK_OK(yl_fs_remove_tree(ws));
}

static void test_empty(void) {
    char ws[] = "/tmp/yl_report_empty_XXXXXX";
    CHECK(mkdtemp(ws) != NULL, "mkdtemp");
    CHECK_OK(yl_report_write(ws, NULL, 0));
    char path[512];
    snprintf(path, sizeof path, "%s/report.html", ws);
    char *page = yl_test_read_text(path);
    CHECK(page != NULL, "report.html written for an empty workspace");
    if (page) {
        expect(page, "No cycles yet");
        expect(page, "<tr><th>deployed version</th><td>none</td></tr>");
        expect(page, "No decisions yet.");
        expect(page, "No model versions registered.");
        expect(page, "0.60 (default)");
        CHECK(!strstr(page, "<svg") && !strstr(page, "http"), "no plot and no external reference");
    }
    free(page);
    char *s = summary_of(ws);
    CHECK(!strcmp(s, "No cycles yet.\nDeployed   none\n"), "empty summary: '%s'", s);
    free(s);
    // Not a workspace at all.
    char missing[600];
    snprintf(missing, sizeof missing, "%s/absent", ws);
    CHECK_STATUS(yl_report_write(missing, NULL, 0), YL_ERR_IO);
    CHECK(strstr(yl_last_error(), "absent") != NULL, "the message names the folder: %s", yl_last_error());
    CHECK_OK(yl_fs_remove_tree(ws));
}

// ---- the command ------------------------------------------------------------------------------

// *text is malloc'd (the callers free it).
static int run_report(char **text, int argc, char **argv) {
    char *captured = NULL;
    int rc = yl_test_run_command(yl_cmd_report, argc, argv, &captured);
    *text = strdup(captured);
    return rc;
}

static void test_command(void) {
    char ws[] = "/tmp/yl_report_cmd_XXXXXX";
    CHECK(mkdtemp(ws) != NULL, "mkdtemp");
    char arg[600], *text = NULL;
    snprintf(arg, sizeof arg, "workspace=%s", ws);
    char *ok_args[] = {arg, "open=false"};
    CHECK(run_report(&text, 2, ok_args) == 0, "report workspace= succeeds");
    char want[700];
    snprintf(want, sizeof want, "Report     %s/report.html\nNo cycles yet.\nDeployed   none\n", ws);
    CHECK(text && !strcmp(text, want), "output: '%s'", text ? text : "");
    free(text);
    char *help[] = {"--help"};
    CHECK(run_report(&text, 1, help) == 0 && text && strstr(text, "usage: yoloop report workspace="), "--help");
    free(text);
    CHECK(run_report(&text, 0, NULL) == 2 && text && !text[0], "no workspace= is exit code 2, nothing on stdout");
    free(text);
    char *bad_key[] = {arg, "colour=red"};
    CHECK(run_report(&text, 2, bad_key) == 2, "unknown key is exit code 2");
    free(text);
    char *bad_bool[] = {arg, "open=perhaps"};
    CHECK(run_report(&text, 2, bad_bool) == 2, "open=perhaps is exit code 2");
    free(text);
    char missing[700];
    snprintf(missing, sizeof missing, "workspace=%s/absent", ws);
    char *absent[] = {missing};
    CHECK(run_report(&text, 1, absent) == 1, "a missing workspace is exit code 1");
    free(text);
    CHECK_OK(yl_fs_remove_tree(ws));
}

int main(void) {
    test_plot_mapping();
    test_empty();
    test_full();
    test_command();
    return yl_test_finish("test_report");
}
