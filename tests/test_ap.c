// Matching, AP/mAP, P/R and the confusion matrix: parity with Ultralytics 8.3.166 on a synthetic
// validation set (tests/fixtures/eval_ap.safetensors, from tools/reference/make_eval_fixtures.py:
// DetectionValidator._process_batch, DetMetrics, ConfusionMatrix), hand-computed cases, the numpy
// helpers, and bad input.
#include <stdint.h>

#include "engine/eval/ap.h"
#include "engine/eval/match.h"
#include "engine/eval/metrics.h"
#include "engine/eval/numeric.h"
#include "test_common.h"
#include "weights/safetensors.h"

#define FIXTURE YL_TEST_FIXTURES "/eval_ap.safetensors"
#define TOL 1e-6  // the stated tolerance for AP, P, R (measured: 0, see the printed diffs)

static const void *tensor_data(const yl_safetensors *st, const char *name, yl_dtype dtype, int64_t *numel) {
    const yl_safetensors_entry *e = yl_safetensors_find(st, name);
    if (!e || e->dtype != dtype) {
        fprintf(stderr, "fixture: tensor %s missing or of another dtype\n", name);
        exit(2);
    }
    if (numel) *numel = (int64_t)(e->nbytes / yl_dtype_size(dtype));
    return yl_safetensors_data(st, e);
}

// float64 arrays are stored as their bit patterns in I64 tensors (the fixture dtypes have no F64).
static double *f64(const yl_safetensors *st, const char *name, int64_t *numel) {
    int64_t n;
    const int64_t *bits = tensor_data(st, name, YL_I64, &n);
    double *out = malloc((size_t)(n ? n : 1) * sizeof(double));
    memcpy(out, bits, (size_t)n * sizeof(double));  // little-endian host, like the file
    if (numel) *numel = n;
    return out;
}

static double max_diff(const double *a, const double *b, int64_t n) {
    double m = 0.0;
    for (int64_t i = 0; i < n; i++) {
        double d = fabs(a[i] - b[i]);
        if (d > m || isnan(d)) m = d;
    }
    return m;
}

typedef struct {
    int nc, images;
    const int32_t *gt_count, *pred_count, *gt_cls, *pred_cls;
    const float *gt_boxes, *pred_boxes, *pred_conf;
    const uint8_t *tp;  // (P, 10)
} ap_set;

static ap_set load_set(const yl_safetensors *st) {
    ap_set s;
    s.nc = atoi(yl_safetensors_metadata(st, "nc"));
    int64_t images;
    s.gt_count = tensor_data(st, "image.gt_count", YL_I32, &images);
    s.images = (int)images;
    s.pred_count = tensor_data(st, "image.pred_count", YL_I32, NULL);
    s.gt_boxes = tensor_data(st, "gt.boxes", YL_F32, NULL);
    s.gt_cls = tensor_data(st, "gt.cls", YL_I32, NULL);
    s.pred_boxes = tensor_data(st, "pred.boxes", YL_F32, NULL);
    s.pred_conf = tensor_data(st, "pred.conf", YL_F32, NULL);
    s.pred_cls = tensor_data(st, "pred.cls", YL_I32, NULL);
    s.tp = tensor_data(st, "pred.tp", YL_U8, NULL);
    return s;
}

static void compare_results(const yl_safetensors *st, const yl_eval_results *r, bool with_confusion,
                            const char *label) {
    int64_t n_classes, n;
    const int32_t *cls_index = tensor_data(st, "ap_class_index", YL_I32, &n_classes);
    double *all_ap = f64(st, "all_ap.f64bits", &n), *p = f64(st, "p.f64bits", NULL), *rr = f64(st, "r.f64bits", NULL);
    double *f1 = f64(st, "f1.f64bits", NULL), *mean = f64(st, "mean_results.f64bits", NULL);
    double *p_curve = f64(st, "p_curve.f64bits", NULL), *r_curve = f64(st, "r_curve.f64bits", NULL);
    int64_t n_prec;
    double *prec = f64(st, "prec_values.f64bits", &n_prec), *maps = f64(st, "maps.f64bits", NULL);
    CHECK(n == n_classes * YL_EVAL_IOU_COUNT, "all_ap size");

    double d_ap = 0, d_pr = 0, d_curves = 0, d_prec = 0;
    int classes = 0, prec_row = 0;
    for (int64_t i = 0; i < n_classes; i++) {
        int c = cls_index[i];
        CHECK(c >= 0 && c < r->nc && r->has_gt[c], "%s: class %d is evaluated", label, c);
        classes++;
        d_ap = fmax(d_ap, max_diff(r->ap.ap + c * YL_EVAL_IOU_COUNT, all_ap + i * YL_EVAL_IOU_COUNT, YL_EVAL_IOU_COUNT));
        d_pr = fmax(d_pr, fmax(fmax(fabs(r->ap.p[c] - p[i]), fabs(r->ap.r[c] - rr[i])), fabs(r->ap.f1[c] - f1[i])));
        d_curves = fmax(d_curves, max_diff(r->ap.p_curve + c * YL_EVAL_CURVE_POINTS, p_curve + i * YL_EVAL_CURVE_POINTS,
                                           YL_EVAL_CURVE_POINTS));
        d_curves = fmax(d_curves, max_diff(r->ap.r_curve + c * YL_EVAL_CURVE_POINTS, r_curve + i * YL_EVAL_CURVE_POINTS,
                                           YL_EVAL_CURVE_POINTS));
        // Ultralytics' prec_values only has rows for classes that have predictions.
        bool has_predictions = false;
        for (int k = 0; k < YL_EVAL_CURVE_POINTS; k++) has_predictions |= r->ap.r_curve[c * YL_EVAL_CURVE_POINTS + k] != 0;
        if (has_predictions && (prec_row + 1) * YL_EVAL_CURVE_POINTS <= n_prec) {
            d_prec = fmax(d_prec, max_diff(r->ap.pr_curve + c * YL_EVAL_CURVE_POINTS, prec + prec_row * YL_EVAL_CURVE_POINTS,
                                           YL_EVAL_CURVE_POINTS));
            prec_row++;
        }
    }
    CHECK(r->ap.classes == classes, "%s: %d classes averaged, Ultralytics %d", label, r->ap.classes, classes);
    CHECK(prec_row * YL_EVAL_CURVE_POINTS == n_prec, "%s: PR rows %d", label, prec_row);
    double got_mean[6] = {r->precision, r->recall, r->map50, r->map50_95, r->map75, r->fitness};
    double d_mean = max_diff(got_mean, mean, 6);
    double d_maps = max_diff(r->maps, maps, r->nc);
    CHECK(d_ap <= TOL, "%s: per-class AP differs by %g", label, d_ap);
    CHECK(d_pr <= TOL, "%s: per-class P/R/F1 differ by %g", label, d_pr);
    CHECK(d_mean <= TOL, "%s: P, R, mAP50, mAP50-95, mAP75, fitness differ by %g", label, d_mean);
    CHECK(d_maps <= TOL, "%s: maps differ by %g", label, d_maps);
    CHECK(d_curves <= TOL && d_prec <= TOL, "%s: curves differ by %g / %g", label, d_curves, d_prec);
    printf("  %s: P %.6f R %.6f mAP50 %.6f mAP50-95 %.6f fitness %.6f\n", label, r->precision, r->recall, r->map50,
           r->map50_95, r->fitness);
    printf("  %s: max |diff| vs Ultralytics: AP %g, P/R/F1 %g, means %g, maps %g, P/R curves %g, PR curve %g\n", label,
           d_ap, d_pr, d_mean, d_maps, d_curves, d_prec);

    const int32_t *nt = tensor_data(st, "nt_per_class", YL_I32, NULL), *ni = tensor_data(st, "nt_per_image", YL_I32, NULL);
    for (int c = 0; c < r->nc; c++)
        CHECK(r->nt_per_class[c] == nt[c] && r->nt_per_image[c] == ni[c], "%s: class %d counts %lld/%lld vs %d/%d", label,
              c, (long long)r->nt_per_class[c], (long long)r->nt_per_image[c], nt[c], ni[c]);
    if (with_confusion) {
        const float *cm = tensor_data(st, "confusion", YL_F32, &n);
        CHECK(n == (r->nc + 1) * (r->nc + 1), "confusion size");
        int64_t wrong = 0;
        for (int64_t i = 0; i < n; i++) wrong += r->confusion[i] != (double)cm[i];
        CHECK(wrong == 0, "%s: %lld confusion cells differ", label, (long long)wrong);
        printf("  %s: confusion matrix %dx%d: %lld cells differ\n", label, r->nc + 1, r->nc + 1, (long long)wrong);
    }
    free(all_ap), free(p), free(rr), free(f1), free(mean), free(p_curve), free(r_curve), free(prec), free(maps);
}

static void test_fixture(const yl_safetensors *st) {
    ap_set s = load_set(st);
    printf("fixture from Ultralytics %s: %d images, nc %d\n", yl_safetensors_metadata(st, "ultralytics"), s.images, s.nc);
    yl_evaluator_options o = yl_evaluator_defaults(s.nc);
    yl_evaluator *ev, *ev_matched;
    CHECK_OK(yl_evaluator_create(&ev, &o));
    CHECK_OK(yl_evaluator_create(&ev_matched, &o));
    int64_t g0 = 0, p0 = 0, tp_wrong = 0, total = 0;
    yl_detection dets[256];
    yl_tp_mask tp[256], want_tp[256];
    for (int i = 0; i < s.images; i++) {
        int np = s.pred_count[i], ng = s.gt_count[i];
        CHECK(np <= 256, "image %d has %d predictions", i, np);
        for (int d = 0; d < np; d++) {
            const float *b = s.pred_boxes + 4 * (p0 + d);
            dets[d] = (yl_detection){b[0], b[1], b[2], b[3], s.pred_conf[p0 + d], s.pred_cls[p0 + d], -1};
            want_tp[d] = 0;
            for (int t = 0; t < YL_EVAL_IOU_COUNT; t++)
                if (s.tp[(p0 + d) * YL_EVAL_IOU_COUNT + t]) want_tp[d] |= (yl_tp_mask)(1u << t);
        }
        CHECK_OK(yl_evaluator_add_image(ev, dets, np, s.gt_boxes + 4 * g0, s.gt_cls + g0, ng, tp));
        for (int d = 0; d < np; d++) tp_wrong += tp[d] != want_tp[d];
        total += np;
        // The same image through the pre-matched path, with Ultralytics' own masks.
        CHECK_OK(yl_evaluator_add_matched(ev_matched, want_tp, s.pred_conf + p0, s.pred_cls + p0, np, s.gt_cls + g0, ng));
        g0 += ng, p0 += np;
    }
    CHECK(tp_wrong == 0, "match_predictions: %lld of %lld predictions have another tp row", (long long)tp_wrong,
          (long long)total);
    printf("  match_predictions: %lld predictions, %lld tp rows differ from Ultralytics\n", (long long)total,
           (long long)tp_wrong);
    const yl_eval_results *r;
    CHECK_OK(yl_evaluator_compute(ev, &r));
    CHECK(r->images == s.images && r->predictions == total && r->instances == g0, "totals");
    compare_results(st, r, true, "evaluator");
    CHECK_OK(yl_evaluator_compute(ev_matched, &r));
    compare_results(st, r, false, "add_matched");
    // A class with GT and no predictions, and a predicted class without GT, are both in the set.
    CHECK(r->has_gt[3] && r->ap50[3] == 0.0 && !r->has_gt[4] && r->maps[4] == r->map50_95, "classes 3 and 4");
    yl_evaluator_destroy(ev);
    yl_evaluator_destroy(ev_matched);
}

// ---- hand-computed cases ----------------------------------------------------------------------

static yl_detection det(float x1, float y1, float x2, float y2, float conf, int cls) {
    return (yl_detection){x1, y1, x2, y2, conf, cls, -1};
}

static const yl_eval_results *evaluate(yl_evaluator *ev) {
    const yl_eval_results *r = NULL;
    CHECK_OK(yl_evaluator_compute(ev, &r));
    return r;
}

static void test_perfect_and_miss(void) {
    yl_evaluator_options o = yl_evaluator_defaults(2);
    yl_evaluator *ev;
    CHECK_OK(yl_evaluator_create(&ev, &o));
    // Perfect detector over three images (one of them without GT or predictions).
    float gt1[8] = {10, 10, 50, 60, 100, 100, 180, 150};
    int32_t cls1[2] = {0, 1};
    yl_detection p1[2] = {det(10, 10, 50, 60, 0.9f, 0), det(100, 100, 180, 150, 0.8f, 1)};
    float gt2[4] = {5, 5, 25, 30};
    int32_t cls2[1] = {0};
    yl_detection p2[1] = {det(5, 5, 25, 30, 0.7f, 0)};
    CHECK_OK(yl_evaluator_add_image(ev, p1, 2, gt1, cls1, 2, NULL));
    CHECK_OK(yl_evaluator_add_image(ev, p2, 1, gt2, cls2, 1, NULL));
    CHECK_OK(yl_evaluator_add_image(ev, NULL, 0, NULL, NULL, 0, NULL));
    const yl_eval_results *r = evaluate(ev);
    // 101-point interpolation ends on the (recall 1, precision 0) sentinel: the last trapezoid
    // is half a triangle, so a perfect class scores 1 - 0.01 / 2 = 0.995 (Ultralytics' ceiling).
    CHECK(fabs(r->map50 - 0.995) < 1e-12 && fabs(r->map50_95 - 0.995) < 1e-12, "perfect: mAP50 %.15g mAP50-95 %.15g",
          r->map50, r->map50_95);
    CHECK(r->precision == 1.0 && r->recall == 1.0, "perfect: P %g R %g", r->precision, r->recall);
    CHECK(fabs(r->fitness - 0.995) < 1e-12, "fitness %g", r->fitness);
    CHECK(r->images == 3 && r->instances == 3 && r->nt_per_image[0] == 2 && r->nt_per_class[0] == 2, "counts");
    CHECK(r->confusion[0 * 3 + 0] == 2 && r->confusion[1 * 3 + 1] == 1, "confusion diagonal");

    // One miss: a class with 4 GT, 3 found (conf .9 .8 .7): recall .25 .5 .75 at precision 1, then
    // a ramp to (1, 0): AP = 0.75 + 0.25 / 2 = 0.875.
    yl_evaluator_reset(ev);
    float gt[16] = {0, 0, 10, 10, 20, 0, 30, 10, 40, 0, 50, 10, 60, 0, 70, 10};
    int32_t cls[4] = {0, 0, 0, 0};
    yl_detection p[3] = {det(0, 0, 10, 10, 0.9f, 0), det(20, 0, 30, 10, 0.8f, 0), det(40, 0, 50, 10, 0.7f, 0)};
    CHECK_OK(yl_evaluator_add_image(ev, p, 3, gt, cls, 4, NULL));
    r = evaluate(ev);
    CHECK(fabs(r->ap50[0] - 0.875) < 1e-12, "one miss: AP50 %.15g, want 0.875", r->ap50[0]);
    CHECK(r->ap.classes == 1 && fabs(r->map50 - 0.875) < 1e-12, "only class 0 has GT");
    CHECK(fabs(r->recall - 0.75) < 1e-12 && r->precision == 1.0, "one miss: P %g R %g", r->precision, r->recall);
    CHECK(r->confusion[2 * 3 + 0] == 1, "the missed GT is a background FN");

    // A class without predictions counts as AP 0 in the mean.
    yl_evaluator_reset(ev);
    CHECK_OK(yl_evaluator_add_image(ev, p1, 1, gt1, cls1, 2, NULL));  // only the class-0 box is predicted
    r = evaluate(ev);
    CHECK(fabs(r->ap50[0] - 0.995) < 1e-12 && r->ap50[1] == 0.0 && fabs(r->map50 - 0.995 / 2) < 1e-12,
          "class without predictions: AP %g / %g, mAP50 %g", r->ap50[0], r->ap50[1], r->map50);
    yl_evaluator_destroy(ev);
}

static void test_duplicates_and_thresholds(void) {
    // One GT; prediction A (higher conf) overlaps with IoU 0.6, B with IoU 0.9. At IoU 0.5..0.6
    // the earlier prediction A takes the GT and B is a duplicate (FP); from 0.65 on only B
    // qualifies; nothing qualifies at 0.95.
    yl_evaluator_options o = yl_evaluator_defaults(1);
    yl_evaluator *ev;
    CHECK_OK(yl_evaluator_create(&ev, &o));
    float gt[4] = {0, 0, 100, 100};
    int32_t cls[1] = {0};
    // A: [0,0,60,100] -> IoU 0.6; B: [0,0,90,100] -> IoU 0.9
    yl_detection p[2] = {det(0, 0, 60, 100, 0.9f, 0), det(0, 0, 90, 100, 0.8f, 0)};
    yl_tp_mask tp[2];
    CHECK_OK(yl_evaluator_add_image(ev, p, 2, gt, cls, 1, tp));
    // thresholds 0.50 0.55 0.60 -> A (IoU 0.6 >= 0.6 in float: 0.6f*100*100 / ... see below)
    float iou_a = yl_box_iou(gt, (float[]){0, 0, 60, 100});
    yl_tp_mask want_a = 0, want_b = 0;
    for (int t = 0; t < YL_EVAL_IOU_COUNT; t++) {
        if (iou_a >= yl_eval_iou_thresholds[t])
            want_a |= (yl_tp_mask)(1u << t);
        else if (t < 9)
            want_b |= (yl_tp_mask)(1u << t);
    }
    CHECK(tp[0] == want_a && tp[1] == want_b, "tp masks A %#x B %#x, want %#x %#x (IoU A %.9g)", tp[0], tp[1], want_a,
          want_b, (double)iou_a);
    CHECK(want_a != 0 && want_b != 0, "the case exercises both predictions");
    const yl_eval_results *r = evaluate(ev);
    // Confusion: B has the higher IoU, so B is the match; A is a background FP.
    CHECK(r->confusion[0 * 2 + 0] == 1 && r->confusion[0 * 2 + 1] == 1 && r->confusion[1 * 2 + 0] == 0,
          "confusion: match B, A background FP (got %g %g %g)", r->confusion[0], r->confusion[1], r->confusion[2]);
    // At IoU 0.5 the duplicate comes after the TP: the PR curve reaches recall 1 at precision 1.
    CHECK(fabs(r->ap50[0] - 0.995) < 1e-12, "duplicate after the TP: AP50 %g", r->ap50[0]);
    yl_evaluator_destroy(ev);
}

static void test_images_without_gt_and_empty(void) {
    yl_evaluator_options o = yl_evaluator_defaults(3);
    yl_evaluator *ev;
    CHECK_OK(yl_evaluator_create(&ev, &o));
    const yl_eval_results *r = evaluate(ev);  // nothing added
    CHECK(r->map50 == 0 && r->map50_95 == 0 && r->precision == 0 && r->recall == 0 && r->fitness == 0,
          "empty evaluator gives zeros");
    // Predictions on an image without GT: all FP, of a class (2) that has GT elsewhere, and of a class
    // (1) without GT, which does not count.
    yl_detection fp[3] = {det(0, 0, 10, 10, 0.95f, 2), det(0, 0, 10, 10, 0.9f, 1), det(50, 50, 60, 60, 0.1f, 2)};
    CHECK_OK(yl_evaluator_add_image(ev, fp, 3, NULL, NULL, 0, NULL));
    float gt[4] = {0, 0, 10, 10};
    int32_t cls[1] = {2};
    yl_detection tp[1] = {det(0, 0, 10, 10, 0.5f, 2)};
    CHECK_OK(yl_evaluator_add_image(ev, tp, 1, gt, cls, 1, NULL));
    r = evaluate(ev);
    // Class 2 sorted: FP .95, TP .5, FP .1 -> recall 0, 1, 1; precision 0, .5, .33: envelope 0.5
    // up to recall 1, then the sentinel: AP = 0.5 * 0.995 = 0.4975.
    CHECK(r->ap.classes == 1 && fabs(r->ap50[2] - 0.4975) < 1e-12, "AP with FP on an image without GT: %.15g",
          r->ap50[2]);
    // Confusion at conf 0.25: FP .95 (class 2) and .9 (class 1) are background FP; .1 is ignored.
    CHECK(r->confusion[2 * 4 + 3] == 1 && r->confusion[1 * 4 + 3] == 1 && r->confusion[2 * 4 + 2] == 1,
          "confusion of the FP image");

    // GT but no predictions anywhere: mAP 0.
    yl_evaluator_reset(ev);
    CHECK_OK(yl_evaluator_add_image(ev, NULL, 0, gt, cls, 1, NULL));
    r = evaluate(ev);
    CHECK(r->map50 == 0 && r->precision == 0 && r->recall == 0 && r->confusion[3 * 4 + 2] == 1, "no predictions");
    yl_evaluator_destroy(ev);
}

static void test_numeric_helpers(void) {
    // np.interp with duplicate xp: the last duplicate wins at an exact hit; linear in between.
    double xp[5] = {0.0, 0.5, 0.5, 0.5, 1.0}, fp[5] = {1.0, 0.8, 0.6, 0.4, 0.0};
    CHECK(yl_np_interp(0.5, xp, fp, 5, 9, 9) == 0.4, "interp at a duplicate");
    CHECK(yl_np_interp(0.25, xp, fp, 5, 9, 9) == 0.9, "interp left of duplicates: %g", yl_np_interp(0.25, xp, fp, 5, 9, 9));
    CHECK(yl_np_interp(0.75, xp, fp, 5, 9, 9) == 0.2, "interp right of duplicates");
    CHECK(yl_np_interp(-1, xp, fp, 5, 7, 8) == 7 && yl_np_interp(2, xp, fp, 5, 7, 8) == 8, "left/right");
    CHECK(yl_np_interp(1.0, xp, fp, 5, 7, 8) == 0.0, "exact last point");
    // Pairwise sum: a sum where left-to-right and numpy's order differ.
    double a[16];
    for (int i = 0; i < 16; i++) a[i] = (i % 2 ? 1e16 : 1.0) * (i % 4 < 2 ? 1 : -1);
    double naive = 0;
    for (int i = 0; i < 16; i++) naive += a[i];
    double r0 = a[0] + a[8], r1 = a[1] + a[9], r2 = a[2] + a[10], r3 = a[3] + a[11], r4 = a[4] + a[12],
           r5 = a[5] + a[13], r6 = a[6] + a[14], r7 = a[7] + a[15];
    double want = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7));
    CHECK(yl_np_sum(a, 16) == want, "pairwise sum %g want %g (naive %g)", yl_np_sum(a, 16), want, naive);
    double x[101], y[101], scratch[100];
    yl_np_linspace(x, 101, 0.0, 1.0);
    CHECK(x[100] == 1.0 && x[1] == 0.01 && x[50] == 50 * 0.01, "linspace");
    for (int i = 0; i < 101; i++) y[i] = x[i];
    CHECK(fabs(yl_np_trapz(y, x, 101, scratch) - 0.5) < 1e-15, "trapz of y = x");
    // compute_ap straight: one point at recall 1 precision 1 -> 0.995.
    double mrec[3], mpre[3];
    CHECK(fabs(yl_compute_ap((double[]){1.0}, (double[]){1.0}, 1, mrec, mpre) - 0.995) < 1e-15, "compute_ap");
}

static void test_bad_input(void) {
    yl_evaluator *ev;
    yl_evaluator_options o = yl_evaluator_defaults(0);
    CHECK_STATUS(yl_evaluator_create(&ev, &o), YL_ERR_INVALID_ARG);
    CHECK_STATUS(yl_evaluator_create(NULL, &o), YL_ERR_INVALID_ARG);
    o = yl_evaluator_defaults(3);
    o.confusion_iou = 2.0f;
    CHECK_STATUS(yl_evaluator_create(&ev, &o), YL_ERR_INVALID_ARG);
    o = yl_evaluator_defaults(3);
    CHECK_OK(yl_evaluator_create(&ev, &o));
    float gt[8] = {0, 0, 10, 10, 5, 5, 20, 20};
    int32_t cls[2] = {1, 7};
    yl_detection p[1] = {det(0, 0, 10, 10, 0.9f, 1)};
    CHECK_OK(yl_evaluator_add_image(ev, p, 1, gt, cls, 1, NULL));  // image 0 is fine
    CHECK_STATUS(yl_evaluator_add_image(ev, p, 1, gt, cls, 2, NULL), YL_ERR_INVALID_ARG);
    CHECK(strstr(yl_last_error(), "image 1") && strstr(yl_last_error(), "GT 1") && strstr(yl_last_error(), "class 7") &&
              strstr(yl_last_error(), "nc 3"),
          "message names image, GT, class and nc: %s", yl_last_error());
    p[0].cls = -1;
    CHECK_STATUS(yl_evaluator_add_image(ev, p, 1, gt, cls, 1, NULL), YL_ERR_INVALID_ARG);
    CHECK(strstr(yl_last_error(), "prediction 0") && strstr(yl_last_error(), "class -1"), "pred class: %s",
          yl_last_error());
    p[0].cls = 1;
    p[0].conf = NAN;
    CHECK_STATUS(yl_evaluator_add_image(ev, p, 1, gt, cls, 1, NULL), YL_ERR_NUMERIC);
    p[0].conf = 0.9f;
    p[0].x2 = INFINITY;
    CHECK_STATUS(yl_evaluator_add_image(ev, p, 1, gt, cls, 1, NULL), YL_ERR_NUMERIC);
    p[0].x2 = 10;
    gt[1] = NAN;
    CHECK_STATUS(yl_evaluator_add_image(ev, p, 1, gt, cls, 1, NULL), YL_ERR_NUMERIC);
    gt[1] = 0;
    CHECK_STATUS(yl_evaluator_add_image(ev, NULL, 1, gt, cls, 1, NULL), YL_ERR_INVALID_ARG);
    CHECK_STATUS(yl_evaluator_add_image(ev, p, 1, NULL, cls, 1, NULL), YL_ERR_INVALID_ARG);
    CHECK_STATUS(yl_evaluator_add_image(ev, p, -1, gt, cls, 1, NULL), YL_ERR_INVALID_ARG);
    CHECK_STATUS(yl_evaluator_add_image(NULL, p, 1, gt, cls, 1, NULL), YL_ERR_INVALID_ARG);
    yl_tp_mask tp = 1;
    float conf = NAN;
    CHECK_STATUS(yl_evaluator_add_matched(ev, &tp, &conf, cls, 1, cls, 1), YL_ERR_NUMERIC);
    conf = 0.5f;
    CHECK_STATUS(yl_evaluator_add_matched(ev, &tp, &conf, cls + 1, 1, cls, 1), YL_ERR_INVALID_ARG);
    CHECK_STATUS(yl_evaluator_compute(ev, NULL), YL_ERR_INVALID_ARG);
    // The failed calls stored nothing: one image, one GT, one prediction.
    const yl_eval_results *r = evaluate(ev);
    CHECK(r->images == 1 && r->instances == 1 && r->predictions == 1, "failed adds left no trace: %lld %lld %lld",
          (long long)r->images, (long long)r->instances, (long long)r->predictions);
    yl_evaluator_destroy(ev);
    yl_evaluator_destroy(NULL);
}

int main(void) {
    yl_safetensors st;
    if (yl_safetensors_open(&st, FIXTURE) != YL_OK) {
        fprintf(stderr, "cannot open %s: %s\n", FIXTURE, yl_last_error());
        return 1;
    }
    test_fixture(&st);
    yl_safetensors_close(&st);
    test_perfect_and_miss();
    test_duplicates_and_thresholds();
    test_images_without_gt_and_empty();
    test_numeric_helpers();
    test_bad_input();
    return yl_test_finish("test_ap");
}
