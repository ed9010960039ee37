#include "metrics.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "numeric.h"

struct yl_evaluator {
    yl_evaluator_options options;
    // What DetMetrics.update_stats accumulates: one entry per prediction of the whole set.
    yl_tp_mask *tp;
    float *conf;
    int32_t *pred_cls;
    int64_t count, capacity;
    int64_t images, instances;
    int64_t *nt_per_class, *nt_per_image;
    double *confusion;
    // Per-image scratch, grown on demand (evaluation runs once per epoch, not per step).
    float *pred_boxes, *pred_conf, *iou;
    int32_t *pred_classes, *match_scratch;
    yl_tp_mask *image_tp;
    int64_t image_pred_capacity, image_gt_capacity;
    unsigned char *class_seen;
    // Results, sized by nc once.
    yl_eval_results results;
    double *result_block;
};

yl_evaluator_options yl_evaluator_defaults(int nc) {
    yl_evaluator_options o = {.nc = nc, .confusion_conf = 0.25f, .confusion_iou = 0.45f};
    return o;
}

void yl_evaluator_destroy(yl_evaluator *ev) {
    if (!ev) return;
    free(ev->tp);
    free(ev->conf);
    free(ev->pred_cls);
    free(ev->nt_per_class);
    free(ev->nt_per_image);
    free(ev->confusion);
    free(ev->pred_boxes);
    free(ev->pred_conf);
    free(ev->iou);
    free(ev->pred_classes);
    free(ev->match_scratch);
    free(ev->image_tp);
    free(ev->class_seen);
    free(ev->result_block);
    free(ev->results.has_gt);
    free(ev->results.nt_per_class);
    free(ev->results.nt_per_image);
    free(ev->results.confusion);
    free(ev);
}

yl_status yl_evaluator_create(yl_evaluator **out, const yl_evaluator_options *options) {
    if (!out || !options) return yl_error(YL_ERR_INVALID_ARG, "evaluator: NULL argument");
    *out = NULL;
    int nc = options->nc;
    if (nc < 1 || nc > 100000) return yl_error(YL_ERR_INVALID_ARG, "evaluator: nc %d must be in [1, 100000]", nc);
    if (!(options->confusion_conf >= 0.0f && options->confusion_conf <= 1.0f) ||
        !(options->confusion_iou >= 0.0f && options->confusion_iou <= 1.0f))
        return yl_error(YL_ERR_INVALID_ARG, "evaluator: confusion conf %g / IoU %g must be in [0, 1]",
                        (double)options->confusion_conf, (double)options->confusion_iou);
    yl_evaluator *ev = calloc(1, sizeof *ev);
    if (!ev) return yl_error(YL_ERR_OOM, "evaluator: no memory");
    ev->options = *options;
    size_t n = (size_t)nc, curves = n * YL_EVAL_CURVE_POINTS;
    // ap (n x 10), p, r, f1, ap50, ap50_95, maps (n each), px, four curves, the confusion matrix.
    size_t doubles = n * YL_EVAL_IOU_COUNT + 6 * n + YL_EVAL_CURVE_POINTS + 4 * curves;
    ev->result_block = calloc(doubles, sizeof(double));
    ev->confusion = calloc((n + 1) * (n + 1), sizeof(double));
    ev->nt_per_class = calloc(n, sizeof(int64_t));
    ev->nt_per_image = calloc(n, sizeof(int64_t));
    ev->class_seen = calloc(n, 1);
    ev->results.has_gt = calloc(n, sizeof(bool));
    ev->results.nt_per_class = calloc(n, sizeof(int64_t));
    ev->results.nt_per_image = calloc(n, sizeof(int64_t));
    ev->results.confusion = calloc((n + 1) * (n + 1), sizeof(double));
    if (!ev->result_block || !ev->confusion || !ev->nt_per_class || !ev->nt_per_image || !ev->class_seen ||
        !ev->results.has_gt || !ev->results.nt_per_class || !ev->results.nt_per_image || !ev->results.confusion) {
        yl_evaluator_destroy(ev);
        return yl_error(YL_ERR_OOM, "evaluator: no memory for nc %d", nc);
    }
    double *p = ev->result_block;
    yl_eval_results *r = &ev->results;
    r->nc = nc;
    r->ap.ap = p, p += n * YL_EVAL_IOU_COUNT;
    r->ap.p = p, p += n;
    r->ap.r = p, p += n;
    r->ap.f1 = p, p += n;
    r->ap50 = p, p += n;
    r->ap50_95 = p, p += n;
    r->maps = p, p += n;
    r->ap.px = p, p += YL_EVAL_CURVE_POINTS;
    r->ap.p_curve = p, p += curves;
    r->ap.r_curve = p, p += curves;
    r->ap.f1_curve = p, p += curves;
    r->ap.pr_curve = p;
    *out = ev;
    return YL_OK;
}

void yl_evaluator_reset(yl_evaluator *ev) {
    if (!ev) return;
    size_t n = (size_t)ev->options.nc;
    ev->count = ev->images = ev->instances = 0;
    memset(ev->nt_per_class, 0, n * sizeof(int64_t));
    memset(ev->nt_per_image, 0, n * sizeof(int64_t));
    memset(ev->confusion, 0, (n + 1) * (n + 1) * sizeof(double));
}

static yl_status grow(void **p, int64_t count, size_t element) {
    void *q = realloc(*p, (size_t)(count > 0 ? count : 1) * element);
    if (!q) return yl_error(YL_ERR_OOM, "evaluator: no memory for %lld entries", (long long)count);
    *p = q;
    return YL_OK;
}

static yl_status reserve_predictions(yl_evaluator *ev, int64_t more) {
    if (ev->count + more <= ev->capacity) return YL_OK;
    int64_t cap = ev->capacity ? ev->capacity : 1024;
    while (cap < ev->count + more) cap *= 2;
    YL_TRY(grow((void **)&ev->tp, cap, sizeof *ev->tp));
    YL_TRY(grow((void **)&ev->conf, cap, sizeof *ev->conf));
    YL_TRY(grow((void **)&ev->pred_cls, cap, sizeof *ev->pred_cls));
    ev->capacity = cap;
    return YL_OK;
}

static yl_status reserve_image(yl_evaluator *ev, int64_t n_pred, int64_t n_gt) {
    if (n_pred > ev->image_pred_capacity || n_gt > ev->image_gt_capacity) {
        int64_t np = n_pred > ev->image_pred_capacity ? n_pred : ev->image_pred_capacity;
        int64_t ng = n_gt > ev->image_gt_capacity ? n_gt : ev->image_gt_capacity;
        YL_TRY(grow((void **)&ev->pred_boxes, 4 * np, sizeof(float)));
        YL_TRY(grow((void **)&ev->pred_conf, np, sizeof(float)));
        YL_TRY(grow((void **)&ev->pred_classes, np, sizeof(int32_t)));
        YL_TRY(grow((void **)&ev->image_tp, np, sizeof(yl_tp_mask)));
        YL_TRY(grow((void **)&ev->iou, np * ng, sizeof(float)));
        YL_TRY(grow((void **)&ev->match_scratch, 2 * np + ng, sizeof(int32_t)));
        ev->image_pred_capacity = np;
        ev->image_gt_capacity = ng;
    }
    return reserve_predictions(ev, n_pred);
}

static yl_status check_classes(const yl_evaluator *ev, const int32_t *cls, int64_t n, const char *what) {
    for (int64_t i = 0; i < n; i++)
        if (cls[i] < 0 || cls[i] >= ev->options.nc)
            return yl_error(YL_ERR_INVALID_ARG, "evaluator: image %lld: %s %lld has class %d, outside [0, nc %d)",
                            (long long)ev->images, what, (long long)i, cls[i], ev->options.nc);
    return YL_OK;
}

static void record(yl_evaluator *ev, const yl_tp_mask *tp, const float *conf, const int32_t *pred_cls, int64_t n_pred,
                   const int32_t *gt_cls, int64_t n_gt) {
    if (n_pred > 0) {
        memcpy(ev->tp + ev->count, tp, (size_t)n_pred * sizeof *tp);
        memcpy(ev->conf + ev->count, conf, (size_t)n_pred * sizeof *conf);
        memcpy(ev->pred_cls + ev->count, pred_cls, (size_t)n_pred * sizeof *pred_cls);
        ev->count += n_pred;
    }
    memset(ev->class_seen, 0, (size_t)ev->options.nc);
    for (int64_t g = 0; g < n_gt; g++) {
        ev->nt_per_class[gt_cls[g]]++;
        if (!ev->class_seen[gt_cls[g]]) {
            ev->class_seen[gt_cls[g]] = 1;
            ev->nt_per_image[gt_cls[g]]++;
        }
    }
    ev->instances += n_gt;
    ev->images++;
}

yl_status yl_evaluator_add_image(yl_evaluator *ev, const yl_detection *preds, int64_t n_pred, const float *gt_boxes,
                                 const int32_t *gt_cls, int64_t n_gt, yl_tp_mask *tp_out) {
    if (!ev) return yl_error(YL_ERR_INVALID_ARG, "evaluator: NULL evaluator");
    if (n_pred < 0 || n_gt < 0)
        return yl_error(YL_ERR_INVALID_ARG, "evaluator: image %lld: negative counts (%lld predictions, %lld GT)",
                        (long long)ev->images, (long long)n_pred, (long long)n_gt);
    if ((n_pred > 0 && !preds) || (n_gt > 0 && (!gt_boxes || !gt_cls)))
        return yl_error(YL_ERR_INVALID_ARG, "evaluator: image %lld: NULL predictions or GT arrays",
                        (long long)ev->images);
    YL_TRY(check_classes(ev, gt_cls, n_gt, "GT"));
    for (int64_t g = 0; g < n_gt; g++)
        for (int k = 0; k < 4; k++)
            if (!isfinite(gt_boxes[4 * g + k]))
                return yl_error(YL_ERR_NUMERIC, "evaluator: image %lld: GT %lld has a non-finite box",
                                (long long)ev->images, (long long)g);
    for (int64_t d = 0; d < n_pred; d++) {
        const yl_detection *p = &preds[d];
        if (p->cls < 0 || p->cls >= ev->options.nc)
            return yl_error(YL_ERR_INVALID_ARG, "evaluator: image %lld: prediction %lld has class %d, outside [0, nc %d)",
                            (long long)ev->images, (long long)d, p->cls, ev->options.nc);
        if (!isfinite(p->conf) || !isfinite(p->x1) || !isfinite(p->y1) || !isfinite(p->x2) || !isfinite(p->y2))
            return yl_error(YL_ERR_NUMERIC, "evaluator: image %lld: prediction %lld has a non-finite box or conf %g",
                            (long long)ev->images, (long long)d, (double)p->conf);
    }
    YL_TRY(reserve_image(ev, n_pred, n_gt));

    for (int64_t d = 0; d < n_pred; d++) {
        float *b = ev->pred_boxes + 4 * d;
        b[0] = preds[d].x1, b[1] = preds[d].y1, b[2] = preds[d].x2, b[3] = preds[d].y2;
        ev->pred_conf[d] = preds[d].conf;
        ev->pred_classes[d] = preds[d].cls;
    }
    yl_box_iou_matrix(gt_boxes, n_gt, ev->pred_boxes, n_pred, ev->iou);
    yl_match_predictions(ev->iou, gt_cls, n_gt, ev->pred_classes, n_pred, ev->match_scratch, ev->image_tp);
    yl_confusion_update(ev->confusion, ev->options.nc, ev->iou, gt_cls, n_gt, ev->pred_conf, ev->pred_classes, n_pred,
                        ev->options.confusion_conf, ev->options.confusion_iou, ev->match_scratch);
    if (tp_out && n_pred > 0) memcpy(tp_out, ev->image_tp, (size_t)n_pred * sizeof *tp_out);
    record(ev, ev->image_tp, ev->pred_conf, ev->pred_classes, n_pred, gt_cls, n_gt);
    return YL_OK;
}

yl_status yl_evaluator_add_matched(yl_evaluator *ev, const yl_tp_mask *tp, const float *conf, const int32_t *pred_cls,
                                   int64_t n_pred, const int32_t *gt_cls, int64_t n_gt) {
    if (!ev) return yl_error(YL_ERR_INVALID_ARG, "evaluator: NULL evaluator");
    if (n_pred < 0 || n_gt < 0 || (n_pred > 0 && (!tp || !conf || !pred_cls)) || (n_gt > 0 && !gt_cls))
        return yl_error(YL_ERR_INVALID_ARG, "evaluator: image %lld: bad matched arrays (%lld predictions, %lld GT)",
                        (long long)ev->images, (long long)n_pred, (long long)n_gt);
    YL_TRY(check_classes(ev, gt_cls, n_gt, "GT"));
    YL_TRY(check_classes(ev, pred_cls, n_pred, "prediction"));
    for (int64_t d = 0; d < n_pred; d++)
        if (!isfinite(conf[d]))
            return yl_error(YL_ERR_NUMERIC, "evaluator: image %lld: prediction %lld has conf %g", (long long)ev->images,
                            (long long)d, (double)conf[d]);
    YL_TRY(reserve_predictions(ev, n_pred));
    record(ev, tp, conf, pred_cls, n_pred, gt_cls, n_gt);
    return YL_OK;
}

yl_status yl_evaluator_compute(yl_evaluator *ev, const yl_eval_results **results) {
    if (!ev || !results) return yl_error(YL_ERR_INVALID_ARG, "evaluator: NULL argument");
    yl_eval_results *r = &ev->results;
    int nc = ev->options.nc;
    YL_TRY(yl_ap_per_class(ev->tp, ev->conf, ev->pred_cls, ev->count, ev->nt_per_class, nc, &r->ap));
    r->images = ev->images;
    r->instances = ev->instances;
    r->predictions = ev->count;
    r->precision = r->ap.mp;
    r->recall = r->ap.mr;
    r->map50 = r->ap.map50;
    r->map50_95 = r->ap.map;
    r->map75 = r->ap.map75;
    // (nan_to_num([P, R, mAP50, mAP50-95]) * [0, 0, 0.1, 0.9]).sum(), term by term as numpy adds them.
    double terms[4] = {r->precision * 0.0, r->recall * 0.0, r->map50 * 0.1, r->map50_95 * 0.9};
    r->fitness = 0.0;
    for (int i = 0; i < 4; i++) r->fitness += isnan(terms[i]) ? 0.0 : terms[i];
    for (int c = 0; c < nc; c++) {
        r->has_gt[c] = ev->nt_per_class[c] > 0;
        r->nt_per_class[c] = ev->nt_per_class[c];
        r->nt_per_image[c] = ev->nt_per_image[c];
        const double *row = r->ap.ap + (size_t)c * YL_EVAL_IOU_COUNT;
        r->ap50[c] = row[0];
        r->ap50_95[c] = r->has_gt[c] ? yl_np_mean(row, YL_EVAL_IOU_COUNT) : 0.0;
        r->maps[c] = r->has_gt[c] ? r->ap50_95[c] : r->map50_95;
    }
    memcpy(r->confusion, ev->confusion, (size_t)(nc + 1) * (size_t)(nc + 1) * sizeof(double));
    *results = r;
    return YL_OK;
}
