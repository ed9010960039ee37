// cli/cycle/eval_record.c: the evaluation record of a small hand-made set (three classes: one
// detected perfectly, one with a false positive between two true positives, one only predicted),
// written, read back with cJSON and checked field by field against the evaluator's results; the
// 101-point PR curve against an independent interpolation of the 1000-point one; error paths.
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "cli/cycle/eval_record.h"
#include "cli/fs_util.h"
#include "engine/eval/metrics.h"
#include "tests/test_common.h"

static const char *const names[3] = {"dentado", "con<cave>", "perforation"};

static const yl_eval_results *evaluate(yl_evaluator **ev) {
    yl_evaluator_options o = yl_evaluator_defaults(3);
    CHECK_OK(yl_evaluator_create(ev, &o));
    // Image 1: class 0 found (0.9), a class-0 false positive (0.7), class 1 found (0.8).
    float gt1[] = {10, 10, 50, 50, 60, 60, 100, 100};
    int32_t gc1[] = {0, 1};
    yl_detection p1[] = {{10, 10, 50, 50, 0.9f, 0, -1}, {60, 60, 100, 100, 0.8f, 1, -1}, {200, 200, 240, 240, 0.7f, 0, -1}};
    CHECK_OK(yl_evaluator_add_image(*ev, p1, 3, gt1, gc1, 2, NULL));
    // Image 2: class 0 found late (0.6) and a prediction of class 2, which has no GT anywhere.
    float gt2[] = {20, 20, 80, 80};
    int32_t gc2[] = {0};
    yl_detection p2[] = {{20, 20, 80, 80, 0.6f, 0, -1}, {100, 100, 150, 150, 0.5f, 2, -1}};
    CHECK_OK(yl_evaluator_add_image(*ev, p2, 2, gt2, gc2, 1, NULL));
    const yl_eval_results *r = NULL;
    CHECK_OK(yl_evaluator_compute(*ev, &r));
    return r;
}

// cJSON prints a double with 15 significant digits when that reads back within DBL_EPSILON
// (relative), else with 17: the text round trip is exact to about one ulp.
static bool same(double a, double b) { return fabs(a - b) <= 1e-15 * fmax(fabs(a), fabs(b)); }

static double num(const cJSON *obj, const char *key) {
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, key);
    CHECK(cJSON_IsNumber(item), "member %s is a number", key);
    return cJSON_IsNumber(item) ? item->valuedouble : NAN;
}

static const char *str(const cJSON *obj, const char *key) {
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, key);
    CHECK(cJSON_IsString(item), "member %s is a string", key);
    return cJSON_IsString(item) ? item->valuestring : "";
}

// Linear interpolation of the 1000-point curve at recall x, computed on the index grid (px[i] =
// i / 999) rather than by searching px as the implementation does.
static double expected_pr(const double *row, double x) {
    double pos = x * (YL_EVAL_CURVE_POINTS - 1);
    int lo = (int)pos;
    if (lo >= YL_EVAL_CURVE_POINTS - 1) return row[YL_EVAL_CURVE_POINTS - 1];
    double t = pos - lo;
    return row[lo] + t * (row[lo + 1] - row[lo]);
}

static void check_record(const cJSON *root, const yl_eval_results *r) {
    CHECK(!strcmp(str(root, "cycle"), "c20261123T150405Z"), "cycle");
    CHECK(!strcmp(str(root, "model"), "v0002"), "model");
    CHECK(!strcmp(str(root, "role"), "candidate"), "role");
    CHECK(!strcmp(str(root, "eval_set"), "new"), "eval_set");
    CHECK(strlen(str(root, "time")) == 20 && str(root, "time")[19] == 'Z', "time is an ISO UTC stamp: %s",
          str(root, "time"));
    CHECK(num(root, "imgsz") == 128 && num(root, "conf") == 0.001 && num(root, "iou") == 0.7, "settings");
    CHECK(num(root, "images") == 2 && num(root, "instances") == 3, "images %g instances %g", num(root, "images"),
          num(root, "instances"));
    CHECK(same(num(root, "precision"), r->precision) && same(num(root, "recall"), r->recall), "P %g R %g vs %g %g",
          num(root, "precision"), num(root, "recall"), r->precision, r->recall);
    CHECK(same(num(root, "map50"), r->map50) && same(num(root, "map50_95"), r->map50_95) &&
              same(num(root, "fitness"), r->fitness),
          "mAP50 %g mAP50-95 %g fitness %g", num(root, "map50"), num(root, "map50_95"), num(root, "fitness"));
    CHECK(r->map50 > 0.5 && r->map50 < 1.0, "the set is neither perfect nor empty: mAP50 %g", r->map50);

    const cJSON *classes = cJSON_GetObjectItemCaseSensitive(root, "classes");
    CHECK(cJSON_GetArraySize(classes) == 3, "3 classes, got %d", cJSON_GetArraySize(classes));
    const int want_instances[3] = {2, 1, 0}, want_images[3] = {2, 1, 0};
    for (int c = 0; c < 3 && c < cJSON_GetArraySize(classes); c++) {
        const cJSON *k = cJSON_GetArrayItem(classes, c);
        CHECK(!strcmp(str(k, "name"), names[c]), "class %d name %s", c, str(k, "name"));
        CHECK(num(k, "instances") == want_instances[c] && num(k, "images") == want_images[c],
              "class %d: %g instances in %g images", c, num(k, "instances"), num(k, "images"));
        CHECK(same(num(k, "ap50"), r->ap50[c]) && same(num(k, "ap50_95"), r->ap50_95[c]), "class %d AP", c);
        CHECK(same(num(k, "precision"), r->ap.p[c]) && same(num(k, "recall"), r->ap.r[c]), "class %d P/R", c);
        CHECK(cJSON_IsBool(cJSON_GetObjectItemCaseSensitive(k, "has_gt")) &&
                  cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(k, "has_gt")) == (c < 2),
              "class %d has_gt", c);
    }
    CHECK(r->ap50[1] > 0.99 && r->ap50[0] < r->ap50[1], "class 1 perfect (%g), class 0 worse (%g)", r->ap50[1],
          r->ap50[0]);

    const cJSON *pr = cJSON_GetObjectItemCaseSensitive(root, "pr_curve");
    const cJSON *recall = cJSON_GetObjectItemCaseSensitive(pr, "recall");
    const cJSON *precision = cJSON_GetObjectItemCaseSensitive(pr, "precision");
    CHECK(cJSON_GetArraySize(recall) == 101, "101 recall points, got %d", cJSON_GetArraySize(recall));
    for (int i = 0; i < cJSON_GetArraySize(recall); i++)
        CHECK(fabs(cJSON_GetArrayItem(recall, i)->valuedouble - i / 100.0) < 1e-12, "recall[%d]", i);
    CHECK(cJSON_GetArraySize(precision) == 2, "curves of the 2 classes with GT only, got %d",
          cJSON_GetArraySize(precision));
    CHECK(!cJSON_GetObjectItemCaseSensitive(precision, "perforation"), "no curve for a class without GT");
    double worst = 0.0;
    for (int c = 0; c < 2; c++) {
        const cJSON *curve = cJSON_GetObjectItemCaseSensitive(precision, names[c]);
        CHECK(cJSON_GetArraySize(curve) == 101, "class %d curve of %d points", c, cJSON_GetArraySize(curve));
        const double *row = r->ap.pr_curve + (size_t)c * YL_EVAL_CURVE_POINTS;
        for (int i = 0; i < 101 && i < cJSON_GetArraySize(curve); i++)
            yl_test_track_worst(&worst, fabs(cJSON_GetArrayItem(curve, i)->valuedouble - expected_pr(row, i / 100.0)));
    }
    CHECK(worst <= 5.1e-7, "PR curves differ from the 1000-point curves by %g", worst);
    printf("  PR curve: max |resampled - interpolated| = %.2e\n", worst);
    // The perfect class has precision 1 at every recall short of 1; class 0 falls to 2/3 after 0.5.
    const cJSON *perfect = cJSON_GetObjectItemCaseSensitive(precision, names[1]);
    const cJSON *c0 = cJSON_GetObjectItemCaseSensitive(precision, names[0]);
    CHECK(cJSON_GetArrayItem(perfect, 0)->valuedouble == 1.0 && cJSON_GetArrayItem(perfect, 99)->valuedouble == 1.0,
          "class 1 precision 1 up to recall 0.99");
    CHECK(cJSON_GetArrayItem(c0, 25)->valuedouble == 1.0 && fabs(cJSON_GetArrayItem(c0, 75)->valuedouble - 2.0 / 3) < 1e-6,
          "class 0: precision 1 at recall .25 (%g), 2/3 at .75 (%g)", cJSON_GetArrayItem(c0, 25)->valuedouble,
          cJSON_GetArrayItem(c0, 75)->valuedouble);

    const cJSON *confusion = cJSON_GetObjectItemCaseSensitive(root, "confusion");
    CHECK(cJSON_GetArraySize(confusion) == 4, "confusion has nc + 1 rows");
    int differ = 0;
    double total = 0;
    for (int i = 0; i < 4; i++) {
        const cJSON *row = cJSON_GetArrayItem(confusion, i);
        CHECK(cJSON_GetArraySize(row) == 4, "confusion row %d has nc + 1 columns", i);
        for (int j = 0; j < 4; j++) {
            double v = cJSON_GetArrayItem(row, j) ? cJSON_GetArrayItem(row, j)->valuedouble : -1;
            differ += v != r->confusion[i * 4 + j];
            total += v;
        }
    }
    CHECK(differ == 0 && total > 0, "%d confusion cells differ (total %g)", differ, total);
}

int main(void) {
    yl_evaluator *ev = NULL;
    const yl_eval_results *r = evaluate(&ev);
    if (!r) return yl_test_finish("test_eval_record");
    yl_eval_record_info info = {.cycle = "c20261123T150405Z", .model = "v0002", .role = "candidate",
                                .eval_set = "new", .imgsz = 128, .conf = 0.001, .iou = 0.7};

    // Built in memory.
    cJSON *root = NULL;
    CHECK_OK(yl_eval_record_build(r, names, &info, &root));
    if (root) check_record(root, r);
    cJSON_Delete(root);

    // Written to a file and parsed back.
    char dir[] = "/tmp/yl_eval_record_XXXXXX";
    CHECK(mkdtemp(dir) != NULL, "mkdtemp");
    char path[256];
    snprintf(path, sizeof path, "%s/c1_v0002_new.json", dir);
    CHECK_OK(yl_eval_record_write(path, r, names, &info));
    char *text = NULL;
    size_t size = 0;
    CHECK_OK(yl_fs_read_all(path, &text, &size));
    CHECK(text && size > 0 && text[size - 1] == '\n', "the file ends with a newline");
    printf("  record of 3 classes: %zu bytes\n", size);
    root = text ? cJSON_Parse(text) : NULL;
    CHECK(cJSON_IsObject(root), "the file is a JSON object");
    if (root) check_record(root, r);
    cJSON_Delete(root);
    free(text);
    // Rewriting it leaves one file and no temp file behind.
    CHECK_OK(yl_eval_record_write(path, r, names, &info));
    char **entries;
    int count = 0;
    CHECK_OK(yl_fs_list_dir(dir, &entries, &count));
    CHECK(count == 1, "only the record is in the folder (%d entries)", count);
    if (count >= 0) yl_fs_free_names(entries, count);

    // Without names the classes are called class<N>.
    CHECK_OK(yl_eval_record_build(r, NULL, &info, &root));
    const cJSON *k = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(root, "classes"), 2);
    CHECK(!strcmp(str(k, "name"), "class2"), "unnamed class 2 is class2");
    CHECK(cJSON_GetObjectItemCaseSensitive(
              cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(root, "pr_curve"), "precision"),
              "class1") != NULL,
          "curve of class1");
    cJSON_Delete(root);

    // Errors.
    CHECK_STATUS(yl_eval_record_build(NULL, names, &info, &root), YL_ERR_INVALID_ARG);
    CHECK_STATUS(yl_eval_record_build(r, names, NULL, &root), YL_ERR_INVALID_ARG);
    char missing[300];
    snprintf(missing, sizeof missing, "%s/no/such/dir/x.json", dir);
    CHECK_STATUS(yl_eval_record_write(missing, r, names, &info), YL_ERR_IO);
    CHECK(strstr(yl_last_error(), "no/such/dir") != NULL, "the message names the path: %s", yl_last_error());
    CHECK(!yl_fs_exists(missing), "nothing written");

    yl_evaluator_destroy(ev);
    CHECK_OK(yl_fs_remove_tree(dir));
    return yl_test_finish("test_eval_record");
}
