#include "engine/loss/detection_loss_terms.h"

#include <math.h>

#include "engine/loss/box_iou.h"
#include "engine/loss/detection_loss.h"

// Targets past the last bin are clamped just inside it so that the right bin (floor + 1) exists.
#define DFL_TARGET_MAX ((float)(YL_DFL_BINS - 1) - 0.01f)

// Softmax of one side's bins in double (for gradients and cross-entropy).
static void side_softmax(const float *logits, int64_t cs, double p[YL_DFL_BINS], double *log_sum_exp) {
    double max = logits[0];
    for (int k = 1; k < YL_DFL_BINS; k++) max = fmax(max, logits[k * cs]);
    double sum = 0.0;
    for (int k = 0; k < YL_DFL_BINS; k++) sum += p[k] = exp(logits[k * cs] - max);
    for (int k = 0; k < YL_DFL_BINS; k++) p[k] /= sum;
    *log_sum_exp = max + log(sum);
}

void yl_loss_dfl_expectation(const float *logits, int64_t cs, float dist[4]) {
    for (int side = 0; side < 4; side++) {
        // fp32 softmax as torch computes it; the 16-term expectation is summed in double.
        const float *x = logits + (int64_t)side * YL_DFL_BINS * cs;
        float max = x[0];
        for (int k = 1; k < YL_DFL_BINS; k++) max = fmaxf(max, x[k * cs]);
        float e[YL_DFL_BINS], sum = 0.0f;
        for (int k = 0; k < YL_DFL_BINS; k++) sum += e[k] = expf(x[k * cs] - max);
        double expectation = 0.0;
        for (int k = 0; k < YL_DFL_BINS; k++) expectation += (double)(e[k] / sum) * k;
        dist[side] = (float)expectation;
    }
}

double yl_class_bce(const float *logits, int64_t cs, int num_classes, int label, float score, float *grad,
                    double scale) {
    double sum = 0.0;
    for (int c = 0; c < num_classes; c++) {
        double x = logits[c * cs], t = c == label ? score : 0.0f;
        sum += fmax(x, 0.0) - x * t + log1p(exp(-fabs(x)));
        if (grad) grad[c * cs] = (float)(scale * (1.0 / (1.0 + exp(-x)) - t));
    }
    return sum;
}

void yl_box_dfl_terms(const float *logits, int64_t cs, const yl_fg_anchor *f, double *box_sum, double *dfl_sum,
                      float *grad, double box_scale, double dfl_scale) {
    float target[4];
    for (int i = 0; i < 4; i++) target[i] = f->target_box[i] / f->stride;

    double d_box[4];
    double ciou = yl_box_ciou_grad(f->pred_box, target, d_box);
    *box_sum += (1.0 - ciou) * f->weight;
    // pred_box = (ax - l, ay - t, ax + r, ay + b): d/d(l,t,r,b) of -ciou * weight * box_scale.
    double d_dist[4] = {d_box[0], d_box[1], -d_box[2], -d_box[3]};
    for (int i = 0; i < 4; i++) d_dist[i] *= f->weight * box_scale;

    float distance[4] = {f->anchor[0] - target[0], f->anchor[1] - target[1], target[2] - f->anchor[0],
                         target[3] - f->anchor[1]};
    double dfl = 0.0;
    for (int side = 0; side < 4; side++) {
        const float *x = logits + (int64_t)side * YL_DFL_BINS * cs;
        float t = fminf(fmaxf(distance[side], 0.0f), DFL_TARGET_MAX);
        int left = (int)t;
        float w_left = (float)(left + 1) - t, w_right = 1.0f - w_left;
        double p[YL_DFL_BINS], lse;
        side_softmax(x, cs, p, &lse);
        dfl += (lse - x[left * cs]) * w_left + (lse - x[(left + 1) * cs]) * w_right;
        if (!grad) continue;
        double expectation = 0.0;
        for (int k = 0; k < YL_DFL_BINS; k++) expectation += p[k] * k;
        double g_dfl = dfl_scale * f->weight / 4.0;
        for (int k = 0; k < YL_DFL_BINS; k++) {
            double g = g_dfl * (p[k] * ((double)w_left + w_right) - (k == left ? w_left : 0.0f) -
                                (k == left + 1 ? w_right : 0.0f));
            g += d_dist[side] * p[k] * (k - expectation);
            grad[(side * YL_DFL_BINS + k) * cs] = (float)g;
        }
    }
    *dfl_sum += dfl / 4.0 * f->weight;
}
