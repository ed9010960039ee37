#include "nms.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/nms_cuda.h"

yl_nms_options yl_nms_options_val(void) {
    yl_nms_options o = {.conf_thres = 0.001f, .iou_thres = 0.7, .multi_label = true, .agnostic = false,
                        .max_det = 300, .max_nms = 30000, .max_wh = 7680.0f, .classes = NULL, .n_classes = 0};
    return o;
}

yl_nms_options yl_nms_options_predict(void) {
    yl_nms_options o = yl_nms_options_val();
    o.conf_thres = 0.25f;
    o.multi_label = false;
    return o;
}

typedef struct {
    float box[4];  // xyxy, network-input pixels
    float score;
    int32_t cls;
    int32_t anchor;
} candidate;

typedef struct {
    float score;
    int32_t index;  // into the candidate list
} ranked;

typedef struct {
    candidate *candidates;  // capacity: every (anchor, class) pair that could pass
    ranked *order;          // same capacity
    float *offset_boxes;    // 4 per NMS entry (at most max_nms)
    float *areas;
    unsigned char *suppressed;
} nms_workspace;

static size_t align8(size_t n) { return (n + 7) & ~(size_t)7; }

static int64_t candidate_capacity(int64_t anchors, int64_t nc, const yl_nms_options *o) {
    return (o->multi_label && nc > 1) ? anchors * nc : anchors;
}

static int64_t nms_capacity(int64_t candidates, const yl_nms_options *o) {
    return candidates < o->max_nms ? candidates : o->max_nms;
}

size_t yl_nms_workspace_bytes(int64_t anchors, int64_t nc, const yl_nms_options *options) {
    if (!options || anchors < 0 || nc < 1) return 0;
    int64_t cap = candidate_capacity(anchors, nc, options);
    int64_t m = nms_capacity(cap, options);
    return align8((size_t)cap * sizeof(candidate)) + align8((size_t)cap * sizeof(ranked)) +
           align8((size_t)m * 4 * sizeof(float)) + align8((size_t)m * sizeof(float)) + align8((size_t)m);
}

static nms_workspace carve(void *base, int64_t cap, int64_t m) {
    unsigned char *p = base;
    nms_workspace ws;
    ws.candidates = (candidate *)p;
    p += align8((size_t)cap * sizeof(candidate));
    ws.order = (ranked *)p;
    p += align8((size_t)cap * sizeof(ranked));
    ws.offset_boxes = (float *)p;
    p += align8((size_t)m * 4 * sizeof(float));
    ws.areas = (float *)p;
    p += align8((size_t)m * sizeof(float));
    ws.suppressed = p;
    return ws;
}

// Descending score; equal scores keep candidate order (what torchvision's sort gives).
static int by_score_descending(const void *pa, const void *pb) {
    const ranked *a = pa, *b = pb;
    if (a->score > b->score) return -1;
    if (a->score < b->score) return 1;
    return (a->index > b->index) - (a->index < b->index);
}

static void swap_ranked(ranked *a, ranked *b) {
    ranked t = *a;
    *a = *b;
    *b = t;
}

// Moves the k best entries (in by_score_descending order, a total order) to the front, in any
// order: quickselect with a median-of-three pivot, so that only those k need a full sort.
static void select_best(ranked *r, int64_t n, int64_t k) {
    int64_t lo = 0, hi = n - 1;
    while (hi > lo) {
        int64_t mid = lo + (hi - lo) / 2;
        if (by_score_descending(&r[mid], &r[lo]) < 0) swap_ranked(&r[mid], &r[lo]);
        if (by_score_descending(&r[hi], &r[lo]) < 0) swap_ranked(&r[hi], &r[lo]);
        if (by_score_descending(&r[hi], &r[mid]) < 0) swap_ranked(&r[hi], &r[mid]);
        ranked pivot = r[mid];  // the median of r[lo], r[mid], r[hi]
        int64_t i = lo, j = hi;
        while (i <= j) {  // Hoare partition: [lo, j] precede or equal the pivot, [i, hi] follow or equal it
            while (by_score_descending(&r[i], &pivot) < 0) i++;
            while (by_score_descending(&pivot, &r[j]) < 0) j--;
            if (i <= j) swap_ranked(&r[i++], &r[j--]);
        }
        if (k - 1 <= j)
            hi = j;
        else if (k - 1 >= i)
            lo = i;
        else
            return;
    }
}

static bool class_allowed(int32_t cls, const yl_nms_options *o) {
    if (!o->classes) return true;
    for (int i = 0; i < o->n_classes; i++)
        if (o->classes[i] == cls) return true;
    return false;
}

// device: where pred must be for the chosen path.
static yl_status check_arguments(const yl_tensor *pred, const yl_nms_options *o, yl_device device) {
    if (pred->dtype != YL_F32) return yl_error(YL_ERR_DTYPE, "nms: pred is %s, expected f32", yl_dtype_name(pred->dtype));
    if (pred->device != device)
        return yl_error(YL_ERR_DEVICE, "nms: pred is on %s; the %s NMS needs %s memory", yl_device_name(pred->device),
                        device == YL_DEVICE_CPU ? "CPU" : "CUDA", device == YL_DEVICE_CPU ? "host" : "device");
    if (pred->ndim != 3 || pred->shape[1] < 5) {
        char shape[64];
        return yl_error(YL_ERR_SHAPE, "nms: pred has shape %s, expected (batch, 4 + nc, anchors) with nc >= 1",
                        yl_tensor_shape_str(pred, shape, sizeof shape));
    }
    if (!pred->data && yl_tensor_numel(pred) > 0) return yl_error(YL_ERR_INVALID_ARG, "nms: pred has no data");
    if (!(o->conf_thres >= 0.0f && o->conf_thres <= 1.0f))
        return yl_error(YL_ERR_INVALID_ARG, "nms: conf_thres %g is outside [0, 1]", (double)o->conf_thres);
    if (!(o->iou_thres >= 0.0 && o->iou_thres <= 1.0))
        return yl_error(YL_ERR_INVALID_ARG, "nms: iou_thres %g is outside [0, 1]", o->iou_thres);
    if (o->max_det < 1) return yl_error(YL_ERR_INVALID_ARG, "nms: max_det %d must be >= 1", o->max_det);
    if (o->max_nms < 1) return yl_error(YL_ERR_INVALID_ARG, "nms: max_nms %lld must be >= 1", (long long)o->max_nms);
    if (!(o->max_wh > 0.0f) || isinf(o->max_wh))
        return yl_error(YL_ERR_INVALID_ARG, "nms: max_wh %g must be a positive finite number", (double)o->max_wh);
    if (o->n_classes < 0 || (o->n_classes > 0 && !o->classes))
        return yl_error(YL_ERR_INVALID_ARG, "nms: class filter with %d classes and no class list", o->n_classes);
    return YL_OK;
}

// Collects the detections that enter NMS for one image; returns their number in *count.
static yl_status collect_candidates(const yl_tensor *pred, int64_t b, const yl_nms_options *o, candidate *cands,
                                    int64_t *count) {
    const float *data = pred->data;
    int64_t nc = pred->shape[1] - 4, anchors = pred->shape[2];
    int64_t s0 = pred->stride[0], s1 = pred->stride[1], s2 = pred->stride[2];
    bool multi_label = o->multi_label && nc > 1;
    int64_t n = 0;
    for (int64_t a = 0; a < anchors; a++) {
        const float *col = data + b * s0 + a * s2;
        float best = -INFINITY;
        int32_t best_class = 0;
        for (int64_t c = 0; c < nc; c++) {
            float s = col[(4 + c) * s1];
            if (isnan(s))
                return yl_error(YL_ERR_NUMERIC, "nms: image %lld anchor %lld class %lld: score is NaN", (long long)b,
                                (long long)a, (long long)c);
            if (s > best) {
                best = s;
                best_class = (int32_t)c;
            }
        }
        if (!(best > o->conf_thres)) continue;
        float xywh[4] = {col[0], col[s1], col[2 * s1], col[3 * s1]}, xyxy[4];
        yl_xywh_to_xyxy(xywh, xyxy);
        for (int k = 0; k < 4; k++)
            if (!isfinite(xyxy[k]))
                return yl_error(YL_ERR_NUMERIC, "nms: image %lld anchor %lld: box (%g, %g, %g, %g) is not finite",
                                (long long)b, (long long)a, (double)xywh[0], (double)xywh[1], (double)xywh[2],
                                (double)xywh[3]);
        for (int64_t c = multi_label ? 0 : best_class; c < (multi_label ? nc : best_class + 1); c++) {
            float s = col[(4 + c) * s1];
            if (!(s > o->conf_thres) || !class_allowed((int32_t)c, o)) continue;
            candidate *d = &cands[n++];
            memcpy(d->box, xyxy, sizeof xyxy);
            d->score = s;
            d->cls = (int32_t)c;
            d->anchor = (int32_t)a;
        }
    }
    *count = n;
    return YL_OK;
}

// Greedy NMS over the first m ranked candidates (already in descending score order), exactly as
// torchvision's CPU kernel: float areas and IoU, IoU > iou_thres compared in double.
static int64_t suppress(const nms_workspace *ws, int64_t m, const yl_nms_options *o, yl_detection *out) {
    for (int64_t i = 0; i < m; i++) {
        const candidate *c = &ws->candidates[ws->order[i].index];
        float offset = (float)c->cls * (o->agnostic ? 0.0f : o->max_wh);
        float *box = ws->offset_boxes + 4 * i;
        for (int k = 0; k < 4; k++) box[k] = c->box[k] + offset;
        ws->areas[i] = (box[2] - box[0]) * (box[3] - box[1]);
        ws->suppressed[i] = 0;
    }
    int64_t kept = 0;
    for (int64_t i = 0; i < m && kept < o->max_det; i++) {
        if (ws->suppressed[i]) continue;
        const candidate *c = &ws->candidates[ws->order[i].index];
        out[kept++] = (yl_detection){.x1 = c->box[0], .y1 = c->box[1], .x2 = c->box[2], .y2 = c->box[3],
                                     .conf = c->score, .cls = c->cls, .anchor = c->anchor};
        const float *bi = ws->offset_boxes + 4 * i;
        float area_i = ws->areas[i];
        for (int64_t j = i + 1; j < m; j++) {
            if (ws->suppressed[j]) continue;
            const float *bj = ws->offset_boxes + 4 * j;
            float xx1 = bi[0] < bj[0] ? bj[0] : bi[0];  // std::max / std::min argument order
            float yy1 = bi[1] < bj[1] ? bj[1] : bi[1];
            float xx2 = bj[2] < bi[2] ? bj[2] : bi[2];
            float yy2 = bj[3] < bi[3] ? bj[3] : bi[3];
            float w = 0.0f < xx2 - xx1 ? xx2 - xx1 : 0.0f;
            float h = 0.0f < yy2 - yy1 ? yy2 - yy1 : 0.0f;
            float inter = w * h;
            float iou = inter / (area_i + ws->areas[j] - inter);
            if ((double)iou > o->iou_thres) ws->suppressed[j] = 1;
        }
    }
    return kept;
}

yl_status yl_nms(const yl_tensor *pred, const yl_nms_options *options, void *workspace, size_t workspace_bytes,
                 yl_detection *out, int64_t *counts) {
    if (!pred || !options || !out || !counts) return yl_error(YL_ERR_INVALID_ARG, "nms: NULL argument");
    YL_TRY(check_arguments(pred, options, YL_DEVICE_CPU));
    int64_t batch = pred->shape[0], nc = pred->shape[1] - 4, anchors = pred->shape[2];
    size_t need = yl_nms_workspace_bytes(anchors, nc, options);
    if (need > 0 && !workspace) return yl_error(YL_ERR_INVALID_ARG, "nms: NULL workspace (%zu bytes needed)", need);
    if (workspace_bytes < need)
        return yl_error(YL_ERR_INVALID_ARG, "nms: workspace has %zu bytes, %zu needed", workspace_bytes, need);
    int64_t cap = candidate_capacity(anchors, nc, options);
    nms_workspace ws = carve(workspace, cap, nms_capacity(cap, options));
    for (int64_t b = 0; b < batch; b++) counts[b] = 0;
    for (int64_t b = 0; b < batch; b++) {
        int64_t n = 0;
        YL_TRY(collect_candidates(pred, b, options, ws.candidates, &n));
        for (int64_t i = 0; i < n; i++) ws.order[i] = (ranked){.score = ws.candidates[i].score, .index = (int32_t)i};
        // Keep the max_nms best, then sort them: descending score, ties in candidate order.
        int64_t m = n < options->max_nms ? n : options->max_nms;
        if (m < n) select_best(ws.order, n, m);
        if (m > 1) qsort(ws.order, (size_t)m, sizeof(ranked), by_score_descending);
        counts[b] = suppress(&ws, m, options, out + b * options->max_det);
    }
    return YL_OK;
}

// The CPU path's messages for a problem the device found: (image * A + anchor) * (nc + 1) + class,
// class == nc meaning the anchor's box.
static yl_status device_problem(yl_backend *cuda, const yl_tensor *pred, int64_t problem) {
    int64_t nc = pred->shape[1] - 4, anchors = pred->shape[2];
    int64_t c = problem % (nc + 1), a = problem / (nc + 1) % anchors, b = problem / (nc + 1) / anchors;
    if (c < nc)
        return yl_error(YL_ERR_NUMERIC, "nms: image %lld anchor %lld class %lld: score is NaN", (long long)b,
                        (long long)a, (long long)c);
    float xywh[4] = {NAN, NAN, NAN, NAN};
    const float *column = (const float *)pred->data + b * pred->stride[0] + a * pred->stride[2];
    for (int k = 0; k < 4; k++)
        if (cuda->copy_to_host(cuda, &xywh[k], column + k * pred->stride[1], sizeof(float)) != YL_OK) xywh[k] = NAN;
    return yl_error(YL_ERR_NUMERIC, "nms: image %lld anchor %lld: box (%g, %g, %g, %g) is not finite", (long long)b,
                    (long long)a, (double)xywh[0], (double)xywh[1], (double)xywh[2], (double)xywh[3]);
}

yl_status yl_nms_cuda(yl_backend *cuda, const yl_tensor *pred, const yl_nms_options *options, yl_detection *device_out,
                      yl_detection *out, int64_t *counts) {
    if (!cuda || !pred || !options || !counts) return yl_error(YL_ERR_INVALID_ARG, "nms: NULL argument");
    if (cuda->device != YL_DEVICE_CUDA)
        return yl_error(YL_ERR_DEVICE, "nms: backend '%s' is not a CUDA backend", cuda->name);
    YL_TRY(check_arguments(pred, options, YL_DEVICE_CUDA));
    int64_t problem = -1;
    YL_TRY(yl_cuda_nms_run(cuda, pred, options, device_out, out, counts, &problem));
    if (problem >= 0) return device_problem(cuda, pred, problem);
    return YL_OK;
}
