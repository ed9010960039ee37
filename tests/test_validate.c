// The validation pipeline (engine/train/validate.h) on a tiny synthetic dataset:
// - a "perfect predictor": boxes made from the ORIGINAL label files (original pixels, mapped forward
//   into each letterboxed batch with the loader's gain/pad) go through the validator's mapping step
//   and the engine evaluator against the batch GT; Ultralytics gives mAP50 = 0.995 for that, and any
//   error in either mapping direction (gain, pad, rect shapes, x/y swap) breaks it;
// - mapped GT lands on the original labels (within the resize rounding);
// - a tiny random model: finite metrics, image/instance counts equal the dataset's, deterministic
//   across runs and worker counts, the validation loss finite and positive;
// - bad options and mismatched nc fail with messages.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data_test_util.h"
#include "engine/data/data_yaml.h"
#include "engine/data/dataset.h"
#include "engine/data/loader.h"
#include "engine/data/synth.h"
#include "engine/eval/nms.h"
#include "cli/commands.h"
#include "engine/train/validate.h"
#include "weights/checkpoint.h"
#include "test_common.h"

#define NC 3
#define IMGSZ 64

typedef struct {
    char *dir;
    yl_data_config cfg;
    yl_dataset ds;
} fixture;

static int make_fixture(fixture *f) {
    memset(f, 0, sizeof *f);
    f->dir = data_test_tempdir();
    yl_synth_options so = yl_synth_defaults();
    so.out_dir = f->dir;
    so.n = 16;
    so.imgsz = 80;  // 80x80 and 80x60 images, resized to a long side of 64: gain 0.8
    so.seed = 7;
    so.val_fraction = 0.75f;
    yl_synth_report rep;
    if (yl_synth_write(&so, &rep) != YL_OK) return 0;
    char *yaml = yl_path_join(f->dir, "data.yaml");
    yl_status st = yl_data_yaml_load(yaml, &f->cfg);
    free(yaml);
    if (st != YL_OK) return 0;
    return yl_dataset_build((const char *const *)f->cfg.val.images.paths, f->cfg.val.images.count, f->cfg.nc,
                            &f->ds) == YL_OK;
}

static void free_fixture(fixture *f) {
    yl_dataset_free(&f->ds);
    yl_data_config_free(&f->cfg);
    data_test_remove_tree(f->dir);
    free(f->dir);
}

// Ground truth as detections, built from the dataset index (original image, normalised labels),
// through the loader's batches, into the validator's mapping step and the engine evaluator.
static void test_perfect_predictor(const fixture *f, bool rect) {
    yl_sample_source src = yl_dataset_sample_source(&f->ds);
    yl_loader_options lo = yl_loader_defaults(YL_LOADER_VAL, 5, IMGSZ);
    lo.workers = 1;
    lo.rect = rect;
    yl_loader *loader = NULL;
    CHECK_OK(yl_loader_create(&loader, &src, NULL, &lo));
    yl_evaluator *ev = NULL;
    yl_evaluator_options eo = yl_evaluator_defaults(NC);
    CHECK_OK(yl_evaluator_create(&ev, &eo));
    if (!loader || !ev) return;
    int batches = 0;
    CHECK_OK(yl_loader_begin_epoch(loader, 0, &batches));
    double worst_gt_px = 0.0;
    int64_t images = 0, instances = 0;
    bool saw_resize = false, saw_pad = false;
    for (;;) {
        const yl_batch *b = NULL;
        CHECK_OK(yl_loader_next(loader, &b));
        if (!b) break;
        int row = 0;
        for (int i = 0; i < b->count; i++) {
            const yl_batch_image *info = &b->info[i];
            const yl_dataset_item *item = &f->ds.items[info->index];
            const int w0 = item->width, h0 = item->height;
            CHECK(info->original_width == w0 && info->original_height == h0, "original size %dx%d vs %dx%d",
                  info->original_width, info->original_height, w0, h0);
            saw_resize |= info->gain_x < 0.99f;
            saw_pad |= info->pad_x > 0 || info->pad_y > 0;
            const int n = item->label_count;
            yl_detection dets[16];
            float gt_xywhn[16 * 4], gt_xyxy[16 * 4];
            int32_t gt_cls[16];
            CHECK(n <= 16, "too many labels");
            const double gx = (double)info->gain_x, gy = (double)info->gain_y;
            for (int k = 0; k < n; k++) {
                const yl_box_label *l = &item->labels[k];
                // original pixels -> network input pixels (forward map, independent of boxes.c)
                const double x1 = (l->cx - l->w / 2) * w0, y1 = (l->cy - l->h / 2) * h0;
                const double x2 = (l->cx + l->w / 2) * w0, y2 = (l->cy + l->h / 2) * h0;
                dets[k] = (yl_detection){(float)(x1 * gx + info->pad_x), (float)(y1 * gy + info->pad_y),
                                         (float)(x2 * gx + info->pad_x), (float)(y2 * gy + info->pad_y),
                                         0.9f - 0.01f * (float)k, l->cls, -1};
            }
            int n_gt = 0;
            for (; row < b->target_count && (int)b->targets[row * YL_TARGET_COLUMNS] == i; row++, n_gt++) {
                gt_cls[n_gt] = (int32_t)b->targets[row * YL_TARGET_COLUMNS + 1];
                memcpy(gt_xywhn + n_gt * 4, b->targets + row * YL_TARGET_COLUMNS + 2, 4 * sizeof(float));
            }
            CHECK(n_gt == n, "image %d: %d batch targets vs %d labels", info->index, n_gt, n);
            const yl_ratio_pad rp = yl_validator_ratio_pad(info);
            CHECK_OK(yl_validator_add_mapped(ev, dets, n, gt_xywhn, gt_cls, n_gt, b->height, b->width, &rp, h0, w0,
                                             gt_xyxy));
            // mapped GT vs the original label file, in original pixels
            for (int k = 0; k < n && k < n_gt; k++) {
                const yl_box_label *l = &item->labels[k];
                const double want[4] = {(l->cx - l->w / 2) * w0, (l->cy - l->h / 2) * h0, (l->cx + l->w / 2) * w0,
                                        (l->cy + l->h / 2) * h0};
                for (int c = 0; c < 4; c++) {
                    const double lim = c % 2 == 0 ? w0 : h0;
                    const double wc = want[c] < 0 ? 0 : want[c] > lim ? lim : want[c];
                    const double d = fabs(gt_xyxy[k * 4 + c] - wc);
                    if (d > worst_gt_px) worst_gt_px = d;
                }
            }
            images++;
            instances += n;
        }
    }
    const yl_eval_results *r = NULL;
    CHECK_OK(yl_evaluator_compute(ev, &r));
    CHECK(saw_resize, "the fixture should exercise a resize");
    CHECK(saw_pad, "the fixture should exercise padding");
    // The loader resizes (gain 0.8), so GT mapped back moves by the resize rounding only.
    CHECK(worst_gt_px < 0.5, "rect=%d: mapped GT differs from the labels by %.4f px", rect, worst_gt_px);
    if (r) {
        CHECK(r->images == f->ds.count && images == f->ds.count, "images %lld, dataset %d", (long long)r->images,
              f->ds.count);
        CHECK(r->instances == f->ds.counts.instances && instances == r->instances, "instances %lld, dataset %d",
              (long long)r->instances, f->ds.counts.instances);
        CHECK(fabs(r->map50 - 0.995) < 1e-9, "rect=%d: perfect mAP50 = %.6f, want 0.995", rect, r->map50);
        CHECK(r->map50_95 > 0.95, "rect=%d: perfect mAP50-95 = %.6f", rect, r->map50_95);
        CHECK(fabs(r->precision - 1.0) < 1e-6 && fabs(r->recall - 1.0) < 1e-6, "P %.6f R %.6f", r->precision,
              r->recall);
    }
    yl_evaluator_destroy(ev);
    yl_loader_destroy(loader);
}

static bool same_results(const yl_eval_results *a, const yl_eval_results *b) {
    if (a->images != b->images || a->instances != b->instances || a->predictions != b->predictions) return false;
    if (a->precision != b->precision || a->recall != b->recall || a->map50 != b->map50 || a->map50_95 != b->map50_95)
        return false;
    for (int c = 0; c < a->nc; c++)
        if (a->ap50[c] != b->ap50[c] || a->ap50_95[c] != b->ap50_95[c]) return false;
    return true;
}

static void copy_results(const yl_eval_results *r, yl_eval_results *out, double *ap50, double *ap5095) {
    *out = *r;
    memcpy(ap50, r->ap50, NC * sizeof *ap50);
    memcpy(ap5095, r->ap50_95, NC * sizeof *ap5095);
    out->ap50 = ap50;
    out->ap50_95 = ap5095;
}

// The validator's numbers recomputed by a second loop written here: the loader's batches, the model,
// yl_nms one image at a time (a (1, C, A) view per image instead of the batched call), GT picked from
// the dataset index rather than the batch targets, the same mapping step and a fresh evaluator. Catches
// per-image offsets, target grouping and option plumbing (conf, iou, max_det) in the validator.
static void manual_pipeline(const fixture *f, yl_model *m, const yl_validator_options *o, const yl_eval_results *want,
                            const double *want_confusion) {
    yl_sample_source src = yl_dataset_sample_source(&f->ds);
    yl_loader_options lo = yl_loader_defaults(YL_LOADER_VAL, o->batch, o->imgsz);
    lo.workers = 1;
    lo.rect = o->rect;
    yl_loader *loader = NULL;
    yl_evaluator *ev = NULL;
    yl_evaluator_options eo = yl_evaluator_defaults(NC);
    CHECK_OK(yl_loader_create(&loader, &src, NULL, &lo));
    CHECK_OK(yl_evaluator_create(&ev, &eo));
    CHECK_OK(yl_model_plan(m, o->batch, o->imgsz + 32, o->imgsz + 32, false));
    yl_nms_options no = yl_nms_options_val();
    no.conf_thres = o->conf;
    no.iou_thres = o->iou;
    no.max_det = o->max_det;
    yl_detection *dets = malloc((size_t)o->max_det * sizeof *dets);
    int batches = 0;
    if (loader) CHECK_OK(yl_loader_begin_epoch(loader, 0, &batches));
    for (const yl_batch *b = NULL; loader && ev;) {
        CHECK_OK(yl_loader_next(loader, &b));
        if (!b) break;
        yl_tensor x = yl_batch_images_tensor(b), dec;
        CHECK_OK(yl_model_forward_eval_decoded(m, &x, &dec, NULL));
        for (int i = 0; i < b->count; i++) {
            yl_tensor one = dec;
            one.shape[0] = 1;
            one.data = (float *)dec.data + (size_t)i * dec.stride[0];
            const size_t bytes = yl_nms_workspace_bytes(dec.shape[2], NC, &no);
            void *ws = malloc(bytes);
            int64_t n = 0;
            CHECK_OK(yl_nms(&one, &no, ws, bytes, dets, &n));
            free(ws);
            const yl_batch_image *info = &b->info[i];
            const yl_dataset_item *item = &f->ds.items[info->index];
            float xywhn[16 * 4], xyxy[16 * 4];
            int32_t cls[16];
            // dataset labels (normalised to the original) -> normalised to the letterboxed input
            for (int k = 0; k < item->label_count && k < 16; k++) {
                const yl_box_label *l = &item->labels[k];
                const float w0 = (float)item->width, h0 = (float)item->height;
                xywhn[k * 4 + 0] = (l->cx * w0 * info->gain_x + info->pad_x) / (float)b->width;
                xywhn[k * 4 + 1] = (l->cy * h0 * info->gain_y + info->pad_y) / (float)b->height;
                xywhn[k * 4 + 2] = l->w * w0 * info->gain_x / (float)b->width;
                xywhn[k * 4 + 3] = l->h * h0 * info->gain_y / (float)b->height;
                cls[k] = l->cls;
            }
            const yl_ratio_pad rp = yl_validator_ratio_pad(info);
            CHECK_OK(yl_validator_add_mapped(ev, dets, n, xywhn, cls, item->label_count, b->height, b->width, &rp,
                                             item->height, item->width, xyxy));
        }
    }
    const yl_eval_results *r = NULL;
    if (ev) CHECK_OK(yl_evaluator_compute(ev, &r));
    if (r && want) {
        CHECK(r->images == want->images && r->instances == want->instances, "manual images/instances differ");
        CHECK(r->predictions == want->predictions, "manual route: %lld predictions, validator %lld",
              (long long)r->predictions, (long long)want->predictions);
        // GT rebuilt from the index rounds differently in the last bit: allow a hair
        CHECK(fabs(r->map50 - want->map50) < 1e-6 && fabs(r->map50_95 - want->map50_95) < 1e-6 &&
                  fabs(r->precision - want->precision) < 1e-6 && fabs(r->recall - want->recall) < 1e-6,
              "manual route mAP50 %.8f mAP50-95 %.8f P %.8f R %.8f vs validator %.8f %.8f %.8f %.8f", r->map50,
              r->map50_95, r->precision, r->recall, want->map50, want->map50_95, want->precision, want->recall);
    }
    // the confusion matrix sees which classes each image's predictions have (conf > 0.25)
    if (r && want && want_confusion) {
        double diff = 0, total = 0;
        for (int i = 0; i < (NC + 1) * (NC + 1); i++) {
            diff += fabs(r->confusion[i] - want_confusion[i]);
            total += want_confusion[i];
        }
        CHECK(diff == 0, "manual route: confusion matrices differ by %g (of %g)", diff, total);
        CHECK(total > r->instances, "the confusion matrix should hold predictions too (%g)", total);
    }
    free(dets);
    yl_evaluator_destroy(ev);
    yl_loader_destroy(loader);
}

// Makes the random model detect something: every anchor predicts a box of +-half a stride around
// itself (DFL bins 0 and 1 equally likely on each side) and class scores near sigmoid(2) that still vary with the
// input, so that some predictions hit GT and per-image mix-ups change the metrics.
static void make_model_detect(yl_model *m) {
    for (int level = 0; level < 3; level++) {
        char name[64];
        snprintf(name, sizeof name, "model.22.cv2.%d.2.weight", level);
        yl_state_entry *bw = yl_model_state_find(m, name);
        snprintf(name, sizeof name, "model.22.cv2.%d.2.bias", level);
        yl_state_entry *bb = yl_model_state_find(m, name);
        snprintf(name, sizeof name, "model.22.cv3.%d.2.bias", level);
        yl_state_entry *cb = yl_model_state_find(m, name);
        CHECK(bw && bb && cb, "Detect head entries not found");
        if (!bw || !bb || !cb) return;
        float *w = bw->value.data, *b = bb->value.data, *c = cb->value.data;
        for (int64_t i = 0; i < yl_tensor_numel(&bw->value); i++) w[i] = 0.0f;
        for (int64_t i = 0; i < yl_tensor_numel(&bb->value); i++) b[i] = i % 16 <= 1 ? 8.0f : 0.0f;
        for (int64_t i = 0; i < yl_tensor_numel(&cb->value); i++) c[i] = 2.0f;
    }
}

static void test_model_run(const fixture *f) {
    yl_engine eng = yl_test_cpu_engine();
    yl_model_config cfg;
    CHECK_OK(yl_model_config_custom(&cfg, 0.33, 0.0625, 64, NC));
    yl_model *m = NULL;
    CHECK_OK(yl_model_create(&m, &eng, &cfg, 1));
    if (!m) return;
    make_model_detect(m);
    yl_validator_options o = yl_validator_defaults();
    o.imgsz = IMGSZ;
    o.batch = 4;
    o.workers = 2;
    o.compute_loss = true;
    const char *names[NC] = {"dent", "concave", "hole"};
    o.names = names;
    yl_validator *v = NULL;
    CHECK_OK(yl_validator_create(&v, m, &f->ds, &o));
    if (!v) {
        yl_model_destroy(m);
        return;
    }
    const yl_eval_results *r = NULL;
    float loss[3] = {-1, -1, -1};
    CHECK_OK(yl_validator_run(v, &r, loss));
    yl_eval_results first;
    double ap50[NC], ap5095[NC];
    if (r) {
        CHECK(r->images == f->ds.count, "images %lld vs %d", (long long)r->images, f->ds.count);
        CHECK(r->instances == f->ds.counts.instances, "instances %lld vs %d", (long long)r->instances,
              f->ds.counts.instances);
        CHECK(isfinite(r->precision) && isfinite(r->recall) && isfinite(r->map50) && isfinite(r->map50_95) &&
                  isfinite(r->fitness),
              "non-finite metrics");
        CHECK(r->map50 >= 0 && r->map50 <= 1 && r->map50_95 <= r->map50 + 1e-12, "mAP50 %g mAP50-95 %g", r->map50,
              r->map50_95);
        CHECK(r->predictions > 0, "a random model at conf 0.001 should produce some predictions");
        CHECK(r->predictions <= (int64_t)f->ds.count * o.max_det, "predictions %lld", (long long)r->predictions);
        copy_results(r, &first, ap50, ap5095);
        char table[2048];
        const size_t len = yl_format_val_table(r, names, true, table, sizeof table);
        CHECK(len > 0 && len < sizeof table, "table length %zu", len);
        CHECK(strstr(table, "Class") && strstr(table, "mAP50-95)") && strstr(table, "all"), "table:\n%s", table);
        CHECK(strstr(table, "dent") != NULL, "per-class row missing:\n%s", table);
        char small[20];
        CHECK(yl_format_val_table(r, names, true, small, sizeof small) == len && strlen(small) == sizeof small - 1,
              "truncation");
    }
    for (int i = 0; i < 3; i++) CHECK(isfinite(loss[i]) && loss[i] > 0, "val loss %d = %g", i, (double)loss[i]);
    CHECK(!strcmp(yl_validator_class_name(v, 2), "hole"), "name");
    // same numbers on a second run (the evaluator is reset, the loader restarted)
    CHECK_OK(yl_validator_run(v, &r, NULL));
    if (r) CHECK(same_results(&first, r), "second run differs");
    if (r) {
        double confusion[(NC + 1) * (NC + 1)];
        memcpy(confusion, r->confusion, sizeof confusion);
        manual_pipeline(f, m, &o, &first, confusion);
    }
    // a stricter conf / max_det reach NMS
    yl_validator_destroy(v);
    yl_validator_options strict = o;
    strict.conf = 0.0015f;
    strict.max_det = 5;
    strict.iou = 0.5;
    CHECK_OK(yl_validator_create(&v, m, &f->ds, &strict));
    if (v) {
        CHECK_OK(yl_validator_run(v, &r, NULL));
        if (r) {
            CHECK(r->predictions <= 5 * r->images && r->predictions < first.predictions, "max_det/conf ignored: %lld",
                  (long long)r->predictions);
            double confusion[(NC + 1) * (NC + 1)];
            memcpy(confusion, r->confusion, sizeof confusion);
            yl_eval_results copy = *r;
            manual_pipeline(f, m, &strict, &copy, confusion);
        }
    }
    yl_validator_destroy(v);
    // another worker count, no rect, no loss: rect changes the inputs, so only counts are compared
    o.workers = 1;
    o.compute_loss = false;
    CHECK_OK(yl_validator_create(&v, m, &f->ds, &o));
    if (v) {
        CHECK_OK(yl_validator_run(v, &r, loss));
        if (r) CHECK(same_results(&first, r), "workers=1 differs from workers=2");
        CHECK(loss[0] == 0 && loss[1] == 0 && loss[2] == 0, "loss without compute_loss");
        yl_validator_destroy(v);
    }
    o.rect = false;
    CHECK_OK(yl_validator_create(&v, m, &f->ds, &o));
    if (v) {
        CHECK_OK(yl_validator_run(v, &r, NULL));
        if (r) CHECK(r->images == f->ds.count && isfinite(r->map50), "rect=false run");
        yl_validator_destroy(v);
    }
    // bad arguments
    yl_validator_options bad = yl_validator_defaults();
    bad.imgsz = 33;
    CHECK_STATUS(yl_validator_create(&v, m, &f->ds, &bad), YL_ERR_INVALID_ARG);
    bad = yl_validator_defaults();
    bad.iou = 1.5;
    CHECK_STATUS(yl_validator_create(&v, m, &f->ds, &bad), YL_ERR_INVALID_ARG);
    bad = yl_validator_defaults();
    bad.batch = 0;
    CHECK_STATUS(yl_validator_create(&v, m, &f->ds, &bad), YL_ERR_INVALID_ARG);
    CHECK_STATUS(yl_validator_create(&v, NULL, &f->ds, &o), YL_ERR_INVALID_ARG);
    CHECK_STATUS(yl_validator_run(NULL, &r, NULL), YL_ERR_INVALID_ARG);
    yl_model_destroy(m);
    CHECK_OK(yl_model_config_custom(&cfg, 0.33, 0.0625, 64, NC + 1));
    CHECK_OK(yl_model_create(&m, &eng, &cfg, 1));
    if (m) CHECK_STATUS(yl_validator_create(&v, m, &f->ds, &o), YL_ERR_INVALID_ARG);
    yl_model_destroy(m);
    yl_engine_release(&eng);
}

// `yoloop val` end to end: exit 0 with a checkpoint of the right nc, 1 for a wrong nc or a missing
// file, 2 for bad arguments.
static void test_command(const fixture *f) {
    yl_engine eng = yl_test_cpu_engine();
    yl_model_config cfg;
    yl_model *m = NULL;
    char *good = yl_path_join(f->dir, "good.safetensors"), *wrong = yl_path_join(f->dir, "wrong.safetensors");
    CHECK_OK(yl_model_config_custom(&cfg, 0.33, 0.0625, 64, NC));
    CHECK_OK(yl_model_create(&m, &eng, &cfg, 2));
    if (m) CHECK_OK(yl_checkpoint_save(m, NULL, good));
    yl_model_destroy(m);
    m = NULL;
    CHECK_OK(yl_model_config_custom(&cfg, 0.33, 0.0625, 64, NC + 2));
    CHECK_OK(yl_model_create(&m, &eng, &cfg, 2));
    if (m) CHECK_OK(yl_checkpoint_save(m, NULL, wrong));
    yl_model_destroy(m);
    char a_model[600], a_wrong[600], a_data[600];
    snprintf(a_model, sizeof a_model, "model=%s", good);
    snprintf(a_wrong, sizeof a_wrong, "model=%s", wrong);
    snprintf(a_data, sizeof a_data, "data=%s/data.yaml", f->dir);
    char *ok_args[] = {a_model, a_data, "imgsz=64", "batch=4", "workers=1"};
    CHECK(yl_cmd_val(5, ok_args) == 0, "val failed");
    char *nc_args[] = {a_wrong, a_data, "imgsz=64"};
    CHECK(yl_cmd_val(3, nc_args) == 1, "nc mismatch should exit 1");
    char *missing[] = {"model=/nonexistent.safetensors", a_data};
    CHECK(yl_cmd_val(2, missing) == 1, "missing model should exit 1");
    char *bad_imgsz[] = {a_model, a_data, "imgsz=65"};
    CHECK(yl_cmd_val(3, bad_imgsz) == 2, "imgsz=65 should exit 2");
    char *bad_split[] = {a_model, a_data, "split=dev"};
    CHECK(yl_cmd_val(3, bad_split) == 2, "split=dev should exit 2");
    char *bad_device[] = {a_model, a_data, "device=tpu"};
    CHECK(yl_cmd_val(3, bad_device) == 2, "device=tpu should exit 2");
    char *no_data[] = {a_model};
    CHECK(yl_cmd_val(1, no_data) == 2, "missing data= should exit 2");
    char *bad_kind[] = {"model=m.onnx", a_data};
    CHECK(yl_cmd_val(2, bad_kind) == 2, "model=m.onnx should exit 2");
    char *help[] = {"--help"};
    CHECK(yl_cmd_val(1, help) == 0, "--help");
    free(good);
    free(wrong);
    yl_engine_release(&eng);
}

int main(void) {
    fixture f;
    const int ok = make_fixture(&f);
    CHECK(ok, "fixture: %s", yl_last_error());
    if (ok) {
        test_perfect_predictor(&f, true);
        test_perfect_predictor(&f, false);
        test_model_run(&f);
        test_command(&f);
    }
    free_fixture(&f);
    return yl_test_finish("test_validate");
}
