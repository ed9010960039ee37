#include "boxes.h"

#include <math.h>

void yl_xywh_to_xyxy(const float xywh[4], float xyxy[4]) {
    float half_w = xywh[2] / 2.0f, half_h = xywh[3] / 2.0f;
    xyxy[0] = xywh[0] - half_w;
    xyxy[1] = xywh[1] - half_h;
    xyxy[2] = xywh[0] + half_w;
    xyxy[3] = xywh[1] + half_h;
}

// torch.min/max/clamp propagate NaN (fminf/fmaxf would drop it).
static float min_nan(float a, float b) { return (a < b || isnan(a)) ? a : b; }
static float max_nan(float a, float b) { return (a > b || isnan(a)) ? a : b; }
static float clamp_low_zero(float v) { return v < 0.0f ? 0.0f : v; }

float yl_box_iou(const float a[4], const float b[4]) {
    float w = clamp_low_zero(min_nan(a[2], b[2]) - max_nan(a[0], b[0]));
    float h = clamp_low_zero(min_nan(a[3], b[3]) - max_nan(a[1], b[1]));
    float inter = w * h;
    float area_a = (a[2] - a[0]) * (a[3] - a[1]);
    float area_b = (b[2] - b[0]) * (b[3] - b[1]);
    // Same association as Ultralytics: ((area_a + area_b) - inter) + eps, all in float32.
    return inter / (area_a + area_b - inter + 1e-7f);
}

void yl_box_iou_matrix(const float *a, int64_t na, const float *b, int64_t nb, float *out) {
    for (int64_t i = 0; i < na; i++)
        for (int64_t j = 0; j < nb; j++) out[i * nb + j] = yl_box_iou(a + 4 * i, b + 4 * j);
}

yl_ratio_pad yl_ratio_pad_from_shapes(int h1, int w1, int h0, int w0) {
    double gain = fmin((double)h1 / (double)h0, (double)w1 / (double)w0);
    yl_ratio_pad rp = {
        .gain = gain,
        // Python's round(): half to even, which nearbyint gives in the default rounding mode.
        .pad_x = nearbyint(((double)w1 - (double)w0 * gain) / 2.0 - 0.1),
        .pad_y = nearbyint(((double)h1 - (double)h0 * gain) / 2.0 - 0.1),
    };
    return rp;
}

static float clamp_to(float v, float high) {
    if (v < 0.0f) return 0.0f;
    if (v > high) return high;
    return v;  // NaN too
}

void yl_clip_boxes(float *boxes, int64_t n, int h, int w) {
    for (int64_t i = 0; i < n; i++) {
        float *b = boxes + 4 * i;
        b[0] = clamp_to(b[0], (float)w);
        b[1] = clamp_to(b[1], (float)h);
        b[2] = clamp_to(b[2], (float)w);
        b[3] = clamp_to(b[3], (float)h);
    }
}

// torch computes `boxes -= pad` and `boxes /= gain` in the tensor's dtype: both Python numbers
// become float32 first.
static void scale_one(float b[4], const yl_ratio_pad *rp, int h0, int w0) {
    float pad_x = (float)rp->pad_x, pad_y = (float)rp->pad_y, gain = (float)rp->gain;
    b[0] = (b[0] - pad_x) / gain;
    b[1] = (b[1] - pad_y) / gain;
    b[2] = (b[2] - pad_x) / gain;
    b[3] = (b[3] - pad_y) / gain;
    yl_clip_boxes(b, 1, h0, w0);
}

void yl_scale_boxes(float *boxes, int64_t n, const yl_ratio_pad *ratio_pad, int h0, int w0) {
    for (int64_t i = 0; i < n; i++) scale_one(boxes + 4 * i, ratio_pad, h0, w0);
}

void yl_scale_detections(yl_detection *dets, int64_t n, const yl_ratio_pad *ratio_pad, int h0, int w0) {
    for (int64_t i = 0; i < n; i++) {
        float b[4] = {dets[i].x1, dets[i].y1, dets[i].x2, dets[i].y2};
        scale_one(b, ratio_pad, h0, w0);
        dets[i].x1 = b[0];
        dets[i].y1 = b[1];
        dets[i].x2 = b[2];
        dets[i].y2 = b[3];
    }
}

void yl_labels_to_original(const float *xywhn, int64_t n, int h1, int w1, const yl_ratio_pad *ratio_pad, int h0,
                           int w0, float *xyxy) {
    const float size[4] = {(float)w1, (float)h1, (float)w1, (float)h1};
    for (int64_t i = 0; i < n; i++) {
        float box[4];
        yl_xywh_to_xyxy(xywhn + 4 * i, box);
        for (int k = 0; k < 4; k++) xyxy[4 * i + k] = box[k] * size[k];
        scale_one(xyxy + 4 * i, ratio_pad, h0, w0);
    }
}
