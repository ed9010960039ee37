#include "engine/loss/box_iou.h"

#include <math.h>

#define CIOU_ASPECT_FACTOR 0.40528473456935108578  // 4 / pi^2

float yl_box_ciou(const float b1[4], const float b2[4]) {
    const float eps = YL_CIOU_EPS;
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
    float v = (float)CIOU_ASPECT_FACTOR * (da * da);
    float alpha = v / (v - iou + (1.0f + eps));
    return iou - (rho2 / c2 + v * alpha);
}

// d min(a, b) / da and d max(a, b) / da, ties split like torch.minimum/maximum.
static double d_min(double a, double b) { return a < b ? 1.0 : a == b ? 0.5 : 0.0; }
static double d_max(double a, double b) { return a > b ? 1.0 : a == b ? 0.5 : 0.0; }

double yl_box_ciou_grad(const float box1[4], const float box2[4], double d[4]) {
    const double eps = YL_CIOU_EPS;
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
    double v = CIOU_ASPECT_FACTOR * da * da;
    double alpha = v / (v - iou + (1.0 + eps));
    double ciou = iou - (rho2 / c2 + v * alpha);

    // Backward from d(ciou) = 1.
    double g_iou = 1.0, g_rho2 = -1.0 / c2, g_c2 = rho2 / (c2 * c2), g_v = -alpha;
    double g_inter = g_iou / union_area;
    double g_union = -g_iou * inter / (union_area * union_area);
    g_inter -= g_union;
    double g_w1 = g_union * h1, g_h1 = g_union * w1;
    double g_iw = iw_raw >= 0.0 ? g_inter * ih : 0.0;
    double g_ih = ih_raw >= 0.0 ? g_inter * iw : 0.0;
    double g_cw = g_c2 * 2.0 * cw, g_ch = g_c2 * 2.0 * ch;
    double g_r1 = -(g_v * CIOU_ASPECT_FACTOR * 2.0 * da) / (1.0 + r1 * r1);
    g_w1 += g_r1 / h1;
    g_h1 -= g_r1 * w1 / (h1 * h1);

    double gx1 = -g_iw * d_max(x1, tx1) - g_cw * d_min(x1, tx1) - g_rho2 * sx / 2.0 - g_w1;
    double gx2 = g_iw * d_min(x2, tx2) + g_cw * d_max(x2, tx2) - g_rho2 * sx / 2.0 + g_w1;
    double gy1 = -g_ih * d_max(y1, ty1) - g_ch * d_min(y1, ty1) - g_rho2 * sy / 2.0 - g_h1;
    double gy2 = g_ih * d_min(y2, ty2) + g_ch * d_max(y2, ty2) - g_rho2 * sy / 2.0 + g_h1;
    d[0] = gx1;
    d[1] = gy1;
    d[2] = gx2;
    d[3] = gy2;
    return ciou;
}
