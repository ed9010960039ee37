// Per-anchor arithmetic of the detection loss on the device: the CPU reference's formulas
// (engine/loss/box_iou.c, detection_loss_terms.c, tal_assigner.c), operation for operation, in the
// same precision (fp32 where a value feeds the assignment, double for the terms and gradients).
// They differ from the CPU only by the last bits of expf/atanf/powf and by the fused multiply-adds
// nvcc forms, far below the 1e-5 the tests allow. Only .cu files include this.
#pragma once
#include <cstdint>

#include "loss_internal.cuh"

#define YL_LOSS_CIOU_EPS 1e-7f                        // YL_CIOU_EPS
#define YL_LOSS_ASPECT_FACTOR 0.40528473456935108578  // 4 / pi^2
#define YL_LOSS_DFL_TARGET_MAX ((float)(YL_LOSS_BINS - 1) - 0.01f)

// Expected distance of one side in grid units: fp32 softmax, the 16-term expectation in double.
__device__ __forceinline__ float yl_loss_dfl_side(const float *x, int64_t cs) {
    float max = x[0];
    for (int k = 1; k < YL_LOSS_BINS; k++) max = fmaxf(max, x[k * cs]);
    float e[YL_LOSS_BINS], sum = 0.0f;
    for (int k = 0; k < YL_LOSS_BINS; k++) {
        e[k] = expf(x[k * cs] - max);
        sum += e[k];
    }
    double expectation = 0.0;
    for (int k = 0; k < YL_LOSS_BINS; k++) expectation += (double)(e[k] / sum) * k;
    return (float)expectation;
}

// CIoU in fp32 (yl_box_ciou), box1 = GT, box2 = prediction in the assigner.
__device__ __forceinline__ float yl_loss_ciou(const float b1[4], const float b2[4]) {
    const float eps = YL_LOSS_CIOU_EPS;
    float w1 = b1[2] - b1[0], h1 = b1[3] - b1[1] + eps;
    float w2 = b2[2] - b2[0], h2 = b2[3] - b2[1] + eps;
    float iw = fmaxf(fminf(b1[2], b2[2]) - fmaxf(b1[0], b2[0]), 0.0f);
    float ih = fmaxf(fminf(b1[3], b2[3]) - fmaxf(b1[1], b2[1]), 0.0f);
    float inter = iw * ih;
    float union_area = w1 * h1 + w2 * h2 - inter + eps;
    float iou = inter / union_area;
    float cw = fmaxf(b1[2], b2[2]) - fminf(b1[0], b2[0]);
    float ch = fmaxf(b1[3], b2[3]) - fminf(b1[1], b2[1]);
    float c2 = cw * cw + ch * ch + eps;
    float dx = b2[0] + b2[2] - b1[0] - b1[2], dy = b2[1] + b2[3] - b1[1] - b1[3];
    float rho2 = (dx * dx + dy * dy) / 4.0f;
    float da = atanf(w2 / h2) - atanf(w1 / h1);
    float v = (float)YL_LOSS_ASPECT_FACTOR * (da * da);
    float alpha = v / (v - iou + (1.0f + eps));
    return iou - (rho2 / c2 + v * alpha);
}

__device__ __forceinline__ double yl_loss_d_min(double a, double b) { return a < b ? 1.0 : a == b ? 0.5 : 0.0; }
__device__ __forceinline__ double yl_loss_d_max(double a, double b) { return a > b ? 1.0 : a == b ? 0.5 : 0.0; }

// CIoU in double and d CIoU / d box1 with alpha constant (yl_box_ciou_grad).
__device__ inline double yl_loss_ciou_grad(const float box1[4], const float box2[4], double d[4]) {
    const double eps = YL_LOSS_CIOU_EPS;
    double x1 = box1[0], y1 = box1[1], x2 = box1[2], y2 = box1[3];
    double tx1 = box2[0], ty1 = box2[1], tx2 = box2[2], ty2 = box2[3];

    double w1 = x2 - x1, h1 = y2 - y1 + eps, w2 = tx2 - tx1, h2 = ty2 - ty1 + eps;
    double iw_raw = fmin(x2, tx2) - fmax(x1, tx1), ih_raw = fmin(y2, ty2) - fmax(y1, ty1);
    double iw = fmax(iw_raw, 0.0), ih = fmax(ih_raw, 0.0);
    double inter = iw * ih;
    double union_area = w1 * h1 + w2 * h2 - inter + eps;
    double iou = inter / union_area;
    double cw = fmax(x2, tx2) - fmin(x1, tx1), ch = fmax(y2, ty2) - fmin(y1, ty1);
    double c2 = cw * cw + ch * ch + eps;
    double sx = tx1 + tx2 - x1 - x2, sy = ty1 + ty2 - y1 - y2;
    double rho2 = (sx * sx + sy * sy) / 4.0;
    double r1 = w1 / h1;
    double da = atan(w2 / h2) - atan(r1);
    double v = YL_LOSS_ASPECT_FACTOR * da * da;
    double alpha = v / (v - iou + (1.0 + eps));
    double ciou = iou - (rho2 / c2 + v * alpha);

    double g_iou = 1.0, g_rho2 = -1.0 / c2, g_c2 = rho2 / (c2 * c2), g_v = -alpha;
    double g_inter = g_iou / union_area;
    double g_union = -g_iou * inter / (union_area * union_area);
    g_inter -= g_union;
    double g_w1 = g_union * h1, g_h1 = g_union * w1;
    double g_iw = iw_raw >= 0.0 ? g_inter * ih : 0.0;
    double g_ih = ih_raw >= 0.0 ? g_inter * iw : 0.0;
    double g_cw = g_c2 * 2.0 * cw, g_ch = g_c2 * 2.0 * ch;
    double g_r1 = -(g_v * YL_LOSS_ASPECT_FACTOR * 2.0 * da) / (1.0 + r1 * r1);
    g_w1 += g_r1 / h1;
    g_h1 -= g_r1 * w1 / (h1 * h1);

    d[0] = -g_iw * yl_loss_d_max(x1, tx1) - g_cw * yl_loss_d_min(x1, tx1) - g_rho2 * sx / 2.0 - g_w1;
    d[1] = -g_ih * yl_loss_d_max(y1, ty1) - g_ch * yl_loss_d_min(y1, ty1) - g_rho2 * sy / 2.0 - g_h1;
    d[2] = g_iw * yl_loss_d_min(x2, tx2) + g_cw * yl_loss_d_max(x2, tx2) - g_rho2 * sx / 2.0 + g_w1;
    d[3] = g_ih * yl_loss_d_min(y2, ty2) + g_ch * yl_loss_d_max(y2, ty2) - g_rho2 * sy / 2.0 + g_h1;
    return ciou;
}

// Sum over classes of BCEWithLogits (yl_class_bce); grad (may be NULL) gets scale * (sigmoid - target).
__device__ __forceinline__ double yl_loss_class_bce(const float *logits, int64_t cs, int classes, int label,
                                                    float score, float *grad, double scale) {
    double sum = 0.0;
    for (int c = 0; c < classes; c++) {
        double x = logits[c * cs], t = c == label ? score : 0.0f;
        sum += fmax(x, 0.0) - x * t + log1p(exp(-fabs(x)));
        if (grad) grad[c * cs] = (float)(scale * (1.0 / (1.0 + exp(-x)) - t));
    }
    return sum;
}

// One foreground anchor's box and DFL terms (yl_box_dfl_terms): adds (1 - CIoU) * weight and
// mean_over_sides(DFL) * weight; with grad != NULL writes the 64 box channels.
__device__ inline void yl_loss_box_dfl_terms(const float *logits, int64_t cs, float anchor_x, float anchor_y,
                                             float stride, const float pred_box[4], const float target_px[4],
                                             float weight, double *box_sum, double *dfl_sum, float *grad,
                                             double box_scale, double dfl_scale) {
    float target[4];
    for (int i = 0; i < 4; i++) target[i] = target_px[i] / stride;

    double d_box[4];
    double ciou = yl_loss_ciou_grad(pred_box, target, d_box);
    *box_sum += (1.0 - ciou) * weight;
    double d_dist[4] = {d_box[0], d_box[1], -d_box[2], -d_box[3]};
    for (int i = 0; i < 4; i++) d_dist[i] *= weight * box_scale;

    float distance[4] = {anchor_x - target[0], anchor_y - target[1], target[2] - anchor_x, target[3] - anchor_y};
    double dfl = 0.0;
    for (int side = 0; side < 4; side++) {
        const float *x = logits + (int64_t)side * YL_LOSS_BINS * cs;
        float t = fminf(fmaxf(distance[side], 0.0f), YL_LOSS_DFL_TARGET_MAX);
        int left = (int)t;
        float w_left = (float)(left + 1) - t, w_right = 1.0f - w_left;
        double max = x[0];
        for (int k = 1; k < YL_LOSS_BINS; k++) max = fmax(max, (double)x[k * cs]);
        double p[YL_LOSS_BINS], sum = 0.0;
        for (int k = 0; k < YL_LOSS_BINS; k++) {
            p[k] = exp(x[k * cs] - max);
            sum += p[k];
        }
        for (int k = 0; k < YL_LOSS_BINS; k++) p[k] /= sum;
        double lse = max + log(sum);
        dfl += (lse - x[left * cs]) * w_left + (lse - x[(left + 1) * cs]) * w_right;
        if (!grad) continue;
        double expectation = 0.0;
        for (int k = 0; k < YL_LOSS_BINS; k++) expectation += p[k] * k;
        double g_dfl = dfl_scale * weight / 4.0;
        for (int k = 0; k < YL_LOSS_BINS; k++) {
            double g = g_dfl * (p[k] * ((double)w_left + w_right) - (k == left ? w_left : 0.0f) -
                                (k == left + 1 ? w_right : 0.0f));
            g += d_dist[side] * p[k] * (k - expectation);
            grad[(side * YL_LOSS_BINS + k) * cs] = (float)g;
        }
    }
    *dfl_sum += dfl / 4.0 * weight;
}

// The assigner's pieces (tal_assigner.c).
__device__ __forceinline__ float yl_loss_power(float x, float exponent) {
    if (exponent == 0.5f) return sqrtf(x);
    if (exponent == 1.0f) return x;
    return powf(x, exponent);
}

__device__ __forceinline__ bool yl_loss_anchor_in_box(float ax, float ay, const float box[4], float eps) {
    float d = fminf(fminf(ax - box[0], ay - box[1]), fminf(box[2] - ax, box[3] - ay));
    return d > eps;
}

__device__ __forceinline__ bool yl_loss_is_real_gt(const float box[4]) {
    return box[0] + box[1] + box[2] + box[3] > 0.0f;
}
