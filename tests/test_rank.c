// `yoloop rank` (cli/cmd_rank.c) with a tiny model on synthetic images:
// - local source: out= lists the budget's images, exactly the top-K by the scorer's own scores
//   (recomputed here through cli/rank/scorer.h); random is seeded (same seed, same order; another
//   seed, another order); diversity picks the top score first and only from the 4 x budget pool;
//   an undecodable file is skipped with a warning; selection helpers (yl_rank_select) directly;
// - a Label Studio project (the mock, stateful): only unlabeled tasks with a downloadable image
//   get a prediction (model_version "<model>-uncertainty-<strategy>", score = the image's
//   uncertainty, regions with the project's labels), the project's model_version is set, a second
//   run writes nothing twice; no token -> exit 1 and nothing written;
// - bad arguments exit 2 with a message naming the key.
#include <math.h>

#include "cli/commands.h"
#include "cli/rank/rank.h"
#include "engine/data/image_list.h"
#include "rank_test_util.h"

#define IMGSZ_ARG "imgsz=64"

static char **read_lines(const char *path, int *n) {
    char *text = NULL;
    size_t size = 0;
    *n = 0;
    if (yl_read_file(path, 1 << 20, &text, &size) != YL_OK) return NULL;
    char **lines = calloc(256, sizeof *lines);
    for (char *p = text, *e; p && *p && *n < 256; p = e) {
        e = strchr(p, '\n');
        if (e) *e++ = '\0';
        lines[(*n)++] = yl_strdup(p);
    }
    free(text);
    return lines;
}

static void free_lines(char **lines, int n) {
    for (int i = 0; lines && i < n; i++) free(lines[i]);
    free(lines);
}

// The scorer's scores for every image of `list`, under combined/max with flip, conf 0.
static void reference_scores(const char *model_path, const yl_path_list *list, double *scores, float conf) {
    yl_engine eng = yl_test_cpu_engine();
    yl_loaded_model lm;
    CHECK_OK(yl_load_model_file(model_path, &eng, &lm));
    yl_scorer_options o = yl_scorer_defaults();
    o.imgsz = 64;
    o.conf = conf;
    o.max_det = 3;
    o.flip = true;
    yl_scorer *s = NULL;
    CHECK_OK(yl_scorer_create(&s, lm.model, &o));
    for (int i = 0; s && i < list->count; i++) {
        yl_scored_image r;
        scores[i] = -1;
        if (yl_scorer_run_file(s, list->paths[i], &r) != YL_OK) continue;
        scores[i] = yl_unc_image_score(&r.unc, YL_UNC_COMBINED);
        yl_scored_image_free(&r);
    }
    yl_scorer_destroy(s);
    yl_loaded_model_free(&lm);
    yl_engine_release(&eng);
}

static int index_of(const yl_path_list *list, const char *path) {
    for (int i = 0; i < list->count; i++)
        if (!strcmp(list->paths[i], path)) return i;
    return -1;
}

static void test_local(const char *dir, const char *model, const char *images) {
    yl_path_list list = {0};
    CHECK_OK(yl_path_list_add_source(&list, images));
    yl_path_list_sort(&list);
    CHECK(list.count == 10, "synthetic images: %d", list.count);
    double scores[16];
    reference_scores(model, &list, scores, 0.0f);

    char a_model[600], a_source[600], a_out[600], a_out2[600];
    snprintf(a_model, sizeof a_model, "model=%s", model);
    snprintf(a_source, sizeof a_source, "source=%s", images);
    char *out = yl_path_join(dir, "top.txt"), *out2 = yl_path_join(dir, "top2.txt");
    snprintf(a_out, sizeof a_out, "out=%s", out);
    snprintf(a_out2, sizeof a_out2, "out=%s", out2);
    char *argv[] = {a_model, a_source, a_out, IMGSZ_ARG, "conf=0", "max_det=3", "budget=4"};
    CHECK(yl_cmd_rank(7, argv) == 0, "rank local failed: %s", yl_last_error());
    int n = 0;
    char **lines = read_lines(out, &n);
    CHECK(n == 4, "out= holds %d lines, expected the budget 4", n);
    // exactly the 4 best by the reference scores, best first
    int better_outside = 0;
    for (int i = 0; i < n; i++) {
        int k = index_of(&list, lines[i]);
        CHECK(k >= 0, "%s is not a source image", lines[i]);
        if (k < 0) continue;
        if (i > 0) {
            int prev = index_of(&list, lines[i - 1]);
            CHECK(prev >= 0 && scores[prev] >= scores[k], "not in descending score order at %d", i);
        }
        for (int j = 0; j < list.count; j++) {
            int chosen = 0;
            for (int q = 0; q < n; q++) chosen |= !strcmp(lines[q], list.paths[j]);
            if (!chosen && scores[j] > scores[k] + 1e-12) better_outside++;
        }
    }
    CHECK(better_outside == 0, "%d unselected images score higher than a selected one", better_outside);
    printf("local top-4 scores: ");
    for (int i = 0; i < n; i++) printf("%.4f ", scores[index_of(&list, lines[i])]);
    printf("\n");
    free_lines(lines, n);

    // random: seeded
    char *argv_r1[] = {a_model, a_source, a_out, IMGSZ_ARG, "strategy=random", "seed=1", "budget=10"};
    char *argv_r1b[] = {a_model, a_source, a_out2, IMGSZ_ARG, "strategy=random", "seed=1", "budget=10"};
    CHECK(yl_cmd_rank(7, argv_r1) == 0 && yl_cmd_rank(7, argv_r1b) == 0, "random rank failed");
    CHECK(data_test_same_file(out, out2), "same seed, different order");
    char *argv_r2[] = {a_model, a_source, a_out2, IMGSZ_ARG, "strategy=random", "seed=2", "budget=10"};
    CHECK(yl_cmd_rank(7, argv_r2) == 0, "random rank seed 2 failed");
    CHECK(!data_test_same_file(out, out2), "seed 1 and seed 2 gave the same order");

    // diversity: budget 2 from the top-8 pool; the top score is always picked
    char *argv_d[] = {a_model, a_source, a_out, IMGSZ_ARG, "conf=0", "max_det=3", "budget=2", "diversity=true"};
    CHECK(yl_cmd_rank(8, argv_d) == 0, "diversity rank failed: %s", yl_last_error());
    lines = read_lines(out, &n);
    CHECK(n == 2, "diversity picked %d", n);
    int best = 0;
    for (int j = 1; j < list.count; j++)
        if (scores[j] > scores[best]) best = j;
    int has_best = 0;
    for (int i = 0; i < n; i++) {
        int k = index_of(&list, lines[i]), above = 0;
        has_best |= k == best;
        for (int j = 0; k >= 0 && j < list.count; j++) above += scores[j] > scores[k] + 1e-12;
        CHECK(k >= 0 && above < 8, "a diversity pick lies outside the 4 x budget pool (%d above it)", above);
    }
    CHECK(has_best, "diversity did not keep the top-scoring image");
    free_lines(lines, n);

    // an undecodable image is skipped, not fatal
    char *bad_dir = yl_path_join(dir, "withbad");
    char *bad = data_test_write(bad_dir, "broken.png", "not a png");
    char *good = yl_path_join(bad_dir, "good.png");
    CHECK_OK(yl_fs_copy_file(list.paths[0], good));
    char a_bad[600];
    snprintf(a_bad, sizeof a_bad, "source=%s", bad_dir);
    char *argv_bad[] = {a_model, a_bad, a_out, IMGSZ_ARG, "budget=5"};
    CHECK(yl_cmd_rank(5, argv_bad) == 0, "a broken image should be skipped: %s", yl_last_error());
    lines = read_lines(out, &n);
    CHECK(n == 1 && strstr(lines[0], "good.png"), "only the good image is ranked (%d lines)", n);
    free_lines(lines, n);
    free(data_test_write(bad_dir, "good.png", "also broken now"));
    CHECK(yl_cmd_rank(5, argv_bad) == 1, "no image scored should exit 1");

    // bad arguments
    char *bad1[] = {a_model, a_source, "strategy=bogus"};
    CHECK(yl_cmd_rank(3, bad1) == 2, "bad strategy");
    char *bad2[] = {a_model, a_source, "aggregate=median"};
    CHECK(yl_cmd_rank(3, bad2) == 2, "bad aggregate");
    char *bad3[] = {a_source};
    CHECK(yl_cmd_rank(1, bad3) == 2, "no model");
    char *bad4[] = {a_model, a_source, "project=1", "url=http://127.0.0.1:1"};
    CHECK(yl_cmd_rank(4, bad4) == 2, "source and project together");
    char *bad5[] = {a_model, a_source, "imgsz=70"};
    CHECK(yl_cmd_rank(3, bad5) == 2, "imgsz not a multiple of 32");
    char *bad6[] = {a_model, a_source, "token=secret"};
    CHECK(yl_cmd_rank(3, bad6) == 2, "a token argument must be refused");
    char *bad7[] = {"model=/nonexistent/m.safetensors", a_source};
    CHECK(yl_cmd_rank(2, bad7) == 1, "missing model file");
    char *bad8[] = {a_model};
    CHECK(yl_cmd_rank(1, bad8) == 2, "neither source nor project");
    char *help[] = {"--help"};
    CHECK(yl_cmd_rank(1, help) == 0, "--help");

    free(bad);
    free(good);
    free(bad_dir);
    free(out);
    free(out2);
    yl_path_list_free(&list);
}

static void test_select(void) {
    yl_rank_item items[5] = {0};
    const char *names[5] = {"e", "d", "c", "b", "a"};
    const double s[5] = {0.2, 0.9, 0.9, 0.1, 0.5};
    for (int i = 0; i < 5; i++) {
        items[i].name = (char *)names[i];
        items[i].ok = i != 3;
        items[i].score = s[i];
    }
    int *sel = NULL, count = 0;
    CHECK_OK(yl_rank_select(items, 5, 3, false, &sel, &count));
    // ties by name: "c" (2) before "d" (1); item 3 is not ok
    CHECK(count == 3 && sel && sel[0] == 2 && sel[1] == 1 && sel[2] == 4, "select order");
    free(sel);
    CHECK_OK(yl_rank_select(items, 5, 0, false, &sel, &count));
    CHECK(count == 4, "budget 0 = every ok item, got %d", count);
    free(sel);
    CHECK_STATUS(yl_rank_select(items, 5, 1, true, &sel, &count), YL_ERR_INVALID_ARG);  // no features
    CHECK(fabs(yl_rank_ls_score(3.0, YL_UNC_AGG_SUM) - 0.75) < 1e-12, "sum maps to s / (1 + s)");
    CHECK(yl_rank_ls_score(0.4, YL_UNC_AGG_MAX) == 0.4 && yl_rank_ls_score(-1, YL_UNC_AGG_MAX) == 0, "ls score");
    double r1 = yl_rank_random_score(1, "x"), r2 = yl_rank_random_score(1, "x"), r3 = yl_rank_random_score(2, "x");
    CHECK(r1 == r2 && r1 != r3 && r1 >= 0 && r1 < 1, "random score");
}

static yl_ls_label_config config_of_mock(void) {
    yl_ls_label_config c;
    CHECK_OK(yl_ls_label_config_parse(RT_CONFIG, NULL, &c));
    return c;
}

static void test_project(const char *dir, const char *model, const char *images) {
    ls_mock mock;
    ls_store store;
    char *media = yl_path_join(dir, "media"), *cache = yl_path_join(dir, "cache");
    rt_start_mock(&mock, &store, media);
    yl_path_list list = {0};
    CHECK_OK(yl_path_list_add_source(&list, images));
    yl_path_list_sort(&list);
    int ids[4];
    for (int i = 0; i < 3; i++) {
        char name[64], url[128];
        snprintf(name, sizeof name, "0000000%d-img%d.png", i, i);
        char *dest = yl_path_join(media, name);
        CHECK_OK(yl_fs_copy_file(list.paths[i], dest));
        free(dest);
        snprintf(url, sizeof url, "/data/upload/1/%s", name);
        ids[i] = ls_store_add_task(&store, url, i == 2);  // task 3 is labeled
    }
    ids[3] = ls_store_add_task(&store, "/data/upload/1/missing-img.png", 0);

    char a_model[600], a_url[128], a_cache[600];
    snprintf(a_model, sizeof a_model, "model=%s", model);
    snprintf(a_url, sizeof a_url, "url=%s", mock.base_url);
    snprintf(a_cache, sizeof a_cache, "cache=%s", cache);
    char *argv[] = {a_model, a_url, "project=1", a_cache, IMGSZ_ARG, "conf=0", "max_det=3", "budget=5"};
    CHECK(yl_cmd_rank(8, argv) == 0, "rank project failed: %s", yl_last_error());
    const char *version = "tiny-uncertainty-combined";
    CHECK(!strcmp(mock.model_version, version), "project model_version '%s'", mock.model_version);
    yl_ls_label_config config = config_of_mock();
    for (int i = 0; i < 4; i++) {
        cJSON *task = ls_store_task(&store, ids[i]);
        cJSON *preds = cJSON_GetObjectItemCaseSensitive(task, "predictions");
        const int want = i < 2 ? 1 : 0;
        CHECK(cJSON_GetArraySize(preds) == want, "task %d has %d predictions, expected %d", ids[i],
              cJSON_GetArraySize(preds), want);
        if (!want || cJSON_GetArraySize(preds) != 1) continue;
        cJSON *p = cJSON_GetArrayItem(preds, 0);
        CHECK(!strcmp(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(p, "model_version")), version),
              "model_version");
        const double score = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(p, "score"));
        const cJSON *result = cJSON_GetObjectItemCaseSensitive(p, "result");
        CHECK(cJSON_GetArraySize(result) == 3, "task %d: %d regions (max_det 3 at conf 0)", ids[i],
              cJSON_GetArraySize(result));
        // the score is the image's uncertainty, recomputed from the cached copy
        char name[64];
        snprintf(name, sizeof name, "task%d_0000000%d-img%d.png", ids[i], i, i);
        char *cached = yl_path_join(cache, name);
        CHECK(data_test_same_file(cached, list.paths[i]), "cached %s differs from the served image", cached);
        yl_path_list one = {0};
        CHECK_OK(yl_path_list_append(&one, cached));
        double ref = -1;
        reference_scores(model, &one, &ref, 0.0f);
        CHECK(fabs(score - ref) < 1e-6, "task %d: written score %.6f, uncertainty %.6f", ids[i], score, ref);
        yl_path_list_free(&one);
        free(cached);
    }
    // a second run writes nothing twice
    const int imports = store.prediction_imports;
    CHECK(yl_cmd_rank(8, argv) == 0, "second rank failed: %s", yl_last_error());
    CHECK(store.prediction_imports == imports, "the second run imported predictions again");
    for (int i = 0; i < 2; i++)
        CHECK(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(ls_store_task(&store, ids[i]), "predictions")) == 1,
              "task %d got a duplicate prediction", ids[i]);
    // write_back=false: a table only; another strategy is another version
    char *argv_nw[] = {a_model, a_url, "project=1", a_cache, IMGSZ_ARG, "strategy=margin", "write_back=false"};
    CHECK(yl_cmd_rank(7, argv_nw) == 0, "write_back=false failed");
    CHECK(store.prediction_imports == imports, "write_back=false wrote predictions");
    // no token: exit 1, nothing written
    unsetenv("LABEL_STUDIO_API_KEY");
    char *argv_margin[] = {a_model, a_url, "project=1", a_cache, IMGSZ_ARG, "strategy=margin"};
    CHECK(yl_cmd_rank(6, argv_margin) == 1, "no token should exit 1");
    CHECK(strstr(yl_last_error(), "LABEL_STUDIO_API_KEY"), "message names the token source: %s", yl_last_error());
    setenv("LABEL_STUDIO_API_KEY", RT_TOKEN, 1);
    CHECK(store.prediction_imports == imports, "wrote without a token");
    // a model class the project lacks: refused, nothing written
    mock.label_config = "<View><Image name=\"image\" value=\"$image\"/><RectangleLabels name=\"label\" "
                        "toName=\"image\"><Label value=\"Airplane\"/></RectangleLabels></View>";
    CHECK(yl_cmd_rank(6, argv_margin) == 1, "an unknown class should exit 1");
    CHECK(strstr(yl_last_error(), "Car"), "message names the class: %s", yl_last_error());
    CHECK(store.prediction_imports == imports, "wrote with a wrong label config");
    yl_ls_label_config_free(&config);
    ls_store_detach(&store, &mock);
    ls_mock_stop(&mock);
    yl_path_list_free(&list);
    free(media);
    free(cache);
}

int main(void) {
    char *dir = data_test_tempdir();
    char *images = rt_synth(dir, 10, 5);
    char *model = rt_model(dir);
    test_select();
    test_local(dir, model, images);
    test_project(dir, model, images);
    data_test_remove_tree(dir);
    free(images);
    free(model);
    free(dir);
    return yl_test_finish("test_rank");
}
