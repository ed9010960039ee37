// Prediction (engine/train/predict.h) and `yoloop predict` on synthetic images with a tiny model:
// - boxes lie inside the original image, in descending confidence, classes in range, at most max_det,
//   every confidence above conf; the batch-of-files helper agrees with the single-image call;
// - the command writes <project>/exp/<stem>.png (decodable, the original size) and
//   labels/<stem>.txt (rows "cls cx cy w h" normalised, one per detection), a second run goes to exp2;
// - bad arguments exit 2, a missing model file exits 1, bad options fail with a message.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/predict_output.h"
#include "data_test_util.h"
#include "engine/data/image_io.h"
#include "engine/data/image_list.h"
#include "engine/data/synth.h"
#include "engine/data/batch.h"
#include "engine/data/letterbox.h"
#include "engine/eval/nms.h"
#include "engine/train/predict.h"
#include "test_common.h"
#include "weights/checkpoint.h"

#define NC 3
#define MAX_DET 7

static void check_prediction(const yl_prediction *p, float conf, int w, int h) {
    CHECK(p->width == w && p->height == h, "size %dx%d vs %dx%d", p->width, p->height, w, h);
    CHECK(p->count >= 0 && p->count <= MAX_DET, "count %lld", (long long)p->count);
    for (int64_t i = 0; i < p->count; i++) {
        const yl_detection *d = &p->boxes[i];
        CHECK(d->x1 >= 0 && d->y1 >= 0 && d->x2 <= w && d->y2 <= h && d->x1 <= d->x2 && d->y1 <= d->y2,
              "box %lld (%g %g %g %g) outside %dx%d", (long long)i, d->x1, d->y1, d->x2, d->y2, w, h);
        CHECK(d->cls >= 0 && d->cls < NC, "class %d", d->cls);
        CHECK(d->conf > conf && d->conf <= 1, "conf %g", d->conf);
        if (i > 0) CHECK(d->conf <= p->boxes[i - 1].conf, "not in descending confidence at %lld", (long long)i);
    }
}

// The same prediction by a second route: letterbox plan/apply, the model, yl_nms, and the letterbox's
// own inverse (yl_letterbox_unmap_xyxy, independent of boxes.c's scale_boxes) plus clipping.
static void check_against_manual(yl_model *m, const yl_predict_options *po, const char *path,
                                 const yl_prediction *got) {
    yl_image_u8 img = {0};
    CHECK_OK(yl_image_read(path, &img));
    yl_letterbox_options lo = yl_letterbox_defaults(po->imgsz, po->imgsz);
    lo.auto_pad = true;
    yl_letterbox_info info;
    CHECK_OK(yl_letterbox_plan(img.width, img.height, &lo, &info));
    yl_image_u8 boxed = {info.width, info.height, malloc((size_t)info.width * info.height * 3)};
    CHECK_OK(yl_letterbox_apply(&img, &info, 114, &boxed));
    yl_batch b;
    CHECK_OK(yl_batch_init(&b, 1, info.height, info.width));
    CHECK_OK(yl_batch_begin(&b, info.height, info.width));
    yl_sample s = {.image = boxed};
    yl_batch_image meta = {0};
    CHECK_OK(yl_batch_add(&b, &s, &meta));
    yl_tensor x = yl_batch_images_tensor(&b), dec;
    CHECK_OK(yl_model_plan(m, 1, po->imgsz, po->imgsz, false));
    CHECK_OK(yl_model_forward_eval_decoded(m, &x, &dec, NULL));
    yl_nms_options no = yl_nms_options_predict();
    no.conf_thres = po->conf;
    no.max_det = po->max_det;
    size_t bytes = yl_nms_workspace_bytes(dec.shape[2], NC, &no);
    void *ws = malloc(bytes);
    yl_detection d[MAX_DET];
    int64_t n = 0;
    CHECK_OK(yl_nms(&dec, &no, ws, bytes, d, &n));
    CHECK(n == got->count, "manual route: %lld detections vs %lld", (long long)n, (long long)got->count);
    double worst = 0;
    for (int64_t i = 0; i < n && i < got->count; i++) {
        float in[4] = {d[i].x1, d[i].y1, d[i].x2, d[i].y2}, o[4];
        yl_letterbox_unmap_xyxy(&info, in, o);
        const float lim[4] = {(float)img.width, (float)img.height, (float)img.width, (float)img.height};
        const float g[4] = {got->boxes[i].x1, got->boxes[i].y1, got->boxes[i].x2, got->boxes[i].y2};
        for (int k = 0; k < 4; k++) {
            const float v = o[k] < 0 ? 0 : o[k] > lim[k] ? lim[k] : o[k];
            if (fabs(v - g[k]) > worst) worst = fabs(v - g[k]);
        }
        CHECK(d[i].cls == got->boxes[i].cls && d[i].conf == got->boxes[i].conf, "detection %lld differs",
              (long long)i);
    }
    // pad rounding (Python round of dh - 0.1) may differ from the letterbox's by under a pixel / gain
    CHECK(worst < 1e-3, "%s: predicted boxes differ from the manual route by %.5f px", path, worst);
    free(ws);
    yl_batch_free(&b);
    free(boxed.pixels);
    yl_image_u8_free(&img);
}

// Counts the rows of a label file and checks each one; -1 when the file is missing.
static int check_label_file(const char *path, bool with_conf) {
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    int rows = 0, cls;
    float v[5];
    char line[256];
    while (fgets(line, sizeof line, f)) {
        int n = sscanf(line, "%d %f %f %f %f %f", &cls, &v[0], &v[1], &v[2], &v[3], &v[4]);
        CHECK(n == (with_conf ? 6 : 5), "%s: row '%s' has %d fields", path, line, n);
        CHECK(cls >= 0 && cls < NC, "%s: class %d", path, cls);
        for (int k = 0; k < 4; k++) CHECK(v[k] >= 0 && v[k] <= 1.0001f, "%s: value %g", path, v[k]);
        rows++;
    }
    fclose(f);
    return rows;
}

int main(void) {
    char *dir = data_test_tempdir();
    yl_synth_options so = yl_synth_defaults();
    char *data_dir = yl_path_join(dir, "data");
    so.out_dir = data_dir;
    so.n = 8;
    so.imgsz = 80;
    so.seed = 3;
    so.val_fraction = 0.5f;
    yl_synth_report rep;
    CHECK_OK(yl_synth_write(&so, &rep));
    char *val_dir = yl_path_join(data_dir, "images");

    yl_engine eng = yl_test_cpu_engine();
    yl_model_config cfg;
    CHECK_OK(yl_model_config_custom(&cfg, 0.33, 0.0625, 64, NC));
    yl_model *m = NULL;
    CHECK_OK(yl_model_create(&m, &eng, &cfg, 5));
    char *ckpt = yl_path_join(dir, "tiny.safetensors");
    if (m) CHECK_OK(yl_checkpoint_save(m, NULL, ckpt));

    // engine API on every val image (80x80 and 80x60 originals)
    yl_path_list list = {0};
    CHECK_OK(yl_path_list_add_source(&list, val_dir));
    yl_path_list_sort(&list);
    CHECK(list.count >= 1, "no val images");
    yl_predict_options po = yl_predict_defaults();
    po.imgsz = 64;
    po.conf = 0.0f;  // a random model scores ~0: keep everything above 0 so that boxes exist
    po.max_det = MAX_DET;
    yl_predictor *p = NULL;
    if (m) CHECK_OK(yl_predictor_create(&p, m, &po));
    yl_prediction *many = NULL;
    if (m) CHECK_OK(yl_predict_files(m, (const char *const *)list.paths, list.count, &po, &many));
    bool saw_non_square = false;
    for (int i = 0; p && i < list.count; i++) {
        yl_image_u8 img = {0};
        yl_prediction pred;
        CHECK_OK(yl_predictor_run_file(p, list.paths[i], &pred, &img));
        check_prediction(&pred, po.conf, img.width, img.height);
        CHECK(pred.count == MAX_DET, "conf 0 should fill max_det, got %lld", (long long)pred.count);
        saw_non_square |= img.width != img.height;
        yl_prediction copy = pred;
        yl_detection saved[MAX_DET];
        memcpy(saved, pred.boxes, (size_t)pred.count * sizeof *saved);
        copy.boxes = saved;
        check_against_manual(m, &po, list.paths[i], &copy);
        CHECK_OK(yl_model_plan(m, 1, po.imgsz, po.imgsz, false));
        if (many) {
            CHECK(many[i].count == pred.count, "file list count differs");
            CHECK(pred.count == 0 || !memcmp(many[i].boxes, pred.boxes, (size_t)pred.count * sizeof *pred.boxes),
                  "file list boxes differ");
        }
        yl_image_u8_free(&img);
    }
    CHECK(saw_non_square, "the fixture should hold a non-square image");
    yl_predictions_free(many, list.count);
    // bad input
    if (p) {
        yl_prediction pred;
        CHECK_STATUS(yl_predictor_run_file(p, "/nonexistent/x.png", &pred, NULL), YL_ERR_IO);
        CHECK_STATUS(yl_predictor_run_image(p, NULL, &pred), YL_ERR_INVALID_ARG);
    }
    yl_predictor_destroy(p);
    yl_predict_options bad = po;
    bad.imgsz = 50;
    CHECK_STATUS(yl_predictor_create(&p, m, &bad), YL_ERR_INVALID_ARG);
    bad = po;
    bad.conf = 2.0f;
    CHECK_STATUS(yl_predictor_create(&p, m, &bad), YL_ERR_INVALID_ARG);

    // the command
    char *project = yl_path_join(dir, "runs");
    char arg_model[600], arg_source[600], arg_project[600];
    snprintf(arg_model, sizeof arg_model, "model=%s", ckpt);
    snprintf(arg_source, sizeof arg_source, "source=%s", val_dir);
    snprintf(arg_project, sizeof arg_project, "project=%s", project);
    char *argv[] = {arg_model, arg_source, arg_project, "imgsz=64", "conf=0", "max_det=7", "name=exp"};
    CHECK(yl_cmd_predict(7, argv) == 0, "predict failed: %s", yl_last_error());
    CHECK(yl_cmd_predict(7, argv) == 0, "second predict failed");
    for (int run = 0; run < 2; run++) {
        for (int i = 0; i < list.count; i++) {
            char stem[256], rel[400];
            yl_path_stem(list.paths[i], stem, sizeof stem);
            snprintf(rel, sizeof rel, "%s/%s.png", run ? "exp2" : "exp", stem);
            char *png = yl_path_join(project, rel);
            yl_image_u8 out = {0}, src = {0};
            CHECK_OK(yl_image_read(png, &out));
            CHECK_OK(yl_image_read(list.paths[i], &src));
            CHECK(out.width == src.width && out.height == src.height, "annotated %s is %dx%d", png, out.width,
                  out.height);
            CHECK(out.pixels && src.pixels &&
                      memcmp(out.pixels, src.pixels, (size_t)src.width * src.height * 3) != 0,
                  "nothing drawn on %s", png);
            yl_image_u8_free(&out);
            yl_image_u8_free(&src);
            snprintf(rel, sizeof rel, "%s/labels/%s.txt", run ? "exp2" : "exp", stem);
            char *txt = yl_path_join(project, rel);
            CHECK(check_label_file(txt, false) == MAX_DET, "%s: expected %d rows", txt, MAX_DET);
            free(png);
            free(txt);
        }
    }
    // save_conf adds the sixth column; save=false writes no image
    char *argv_conf[] = {arg_model, arg_source, arg_project, "imgsz=64", "conf=0", "max_det=7", "name=conf",
                         "save_conf=true", "save=false"};
    CHECK(yl_cmd_predict(9, argv_conf) == 0, "save_conf run failed");
    if (list.count > 0) {
        char stem[256], rel[400];
        yl_path_stem(list.paths[0], stem, sizeof stem);
        snprintf(rel, sizeof rel, "conf/labels/%s.txt", stem);
        char *txt = yl_path_join(project, rel);
        CHECK(check_label_file(txt, true) == MAX_DET, "%s with conf", txt);
        snprintf(rel, sizeof rel, "conf/%s.png", stem);
        char *png = yl_path_join(project, rel);
        CHECK(!yl_is_regular_file(png), "save=false wrote %s", png);
        free(txt);
        free(png);
    }
    // exit codes
    char *argv_bad[] = {arg_model, arg_source, "conf=1.5"};
    CHECK(yl_cmd_predict(3, argv_bad) == 2, "conf=1.5 should exit 2");
    char *argv_unknown[] = {arg_model, arg_source, "colour=red"};
    CHECK(yl_cmd_predict(3, argv_unknown) == 2, "unknown key should exit 2");
    char *argv_noeq[] = {arg_model, "oops"};
    CHECK(yl_cmd_predict(2, argv_noeq) == 2, "not key=value should exit 2");
    char *argv_missing[] = {"model=/nonexistent/m.safetensors", arg_source, arg_project};
    CHECK(yl_cmd_predict(3, argv_missing) == 1, "missing model should exit 1");
    char *argv_help[] = {"--help"};
    CHECK(yl_cmd_predict(1, argv_help) == 0, "--help");

    yl_path_list_free(&list);
    yl_model_destroy(m);
    yl_engine_release(&eng);
    data_test_remove_tree(dir);
    free(project);
    free(ckpt);
    free(val_dir);
    free(data_dir);
    free(dir);
    return yl_test_finish("test_predict");
}
