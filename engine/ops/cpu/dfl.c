// CPU DFL decode: the expectation of a softmax over R bins, per (image, side, anchor).
//
// forward:  p_k = softmax_k(x[b, side*R + k, a]),  y[b, side, a] = sum_k k * p_k
// backward: dy/dx_k = p_k * (k - y), so dx_k = p_k * (k - y) * dy   (recomputed from x)
//
// The bins of one anchor are R floats A apart, so anchors are handled in blocks of
// ANCHOR_BLOCK with the bin loop outside: every inner loop then runs over contiguous anchors.
// The softmax subtracts the block's per-anchor maximum, so no exp overflows. Each
// (image, side, block) belongs to one loop iteration: results do not depend on the thread count.
#include <math.h>

#include "cpu_ops.h"

#define ANCHOR_BLOCK 64
#define PARALLEL_MIN_ELEMENTS 32768

typedef struct {
    int64_t batch, bins, anchors;
} dfl_geometry;

static dfl_geometry dfl_geometry_of(const yl_tensor *x) {
    return (dfl_geometry){x->shape[0], x->shape[1] / 4, x->shape[2]};
}

// For anchors [0, count) of one (image, side): logits[k * A + j] is bin k of anchor j.
// Fills the per-anchor maximum, softmax denominator and expectation.
static void softmax_expectation(const float *logits, int64_t bins, int64_t anchors, int64_t count, float *max,
                                float *denominator, float *expectation) {
    for (int64_t j = 0; j < count; j++) max[j] = logits[j];
    for (int64_t k = 1; k < bins; k++) {
        const float *row = logits + k * anchors;
        for (int64_t j = 0; j < count; j++) max[j] = row[j] > max[j] ? row[j] : max[j];
    }
    for (int64_t j = 0; j < count; j++) denominator[j] = expectation[j] = 0.0f;
    for (int64_t k = 0; k < bins; k++) {
        const float *row = logits + k * anchors;
        for (int64_t j = 0; j < count; j++) {
            const float e = expf(row[j] - max[j]);
            denominator[j] += e;
            expectation[j] += (float)k * e;
        }
    }
    for (int64_t j = 0; j < count; j++) expectation[j] /= denominator[j];
}

static inline int64_t block_count(const dfl_geometry *g) { return (g->anchors + ANCHOR_BLOCK - 1) / ANCHOR_BLOCK; }

yl_status yl_cpu_dfl_decode_forward(yl_backend *be, const yl_tensor *x, yl_tensor *y) {
    (void)be;
    const dfl_geometry g = dfl_geometry_of(x);
    const int64_t blocks = block_count(&g), sides = g.batch * 4;
    const float *xd = x->data;
    float *yd = y->data;
#pragma omp parallel for collapse(2) schedule(static) if (yl_tensor_numel(x) >= PARALLEL_MIN_ELEMENTS)
    for (int64_t s = 0; s < sides; s++)
        for (int64_t blk = 0; blk < blocks; blk++) {
            const int64_t a0 = blk * ANCHOR_BLOCK;
            const int64_t count = g.anchors - a0 < ANCHOR_BLOCK ? g.anchors - a0 : ANCHOR_BLOCK;
            float max[ANCHOR_BLOCK], denominator[ANCHOR_BLOCK];
            // (b, side) pairs are consecutive in both x (R channels each) and y (1 channel each).
            softmax_expectation(xd + s * g.bins * g.anchors + a0, g.bins, g.anchors, count, max, denominator,
                                yd + s * g.anchors + a0);
        }
    return YL_OK;
}

yl_status yl_cpu_dfl_decode_backward(yl_backend *be, const yl_tensor *x, const yl_tensor *dy, yl_tensor *dx,
                                     bool accumulate) {
    (void)be;
    const dfl_geometry g = dfl_geometry_of(x);
    const int64_t blocks = block_count(&g), sides = g.batch * 4;
    const float *xd = x->data, *dyd = dy->data;
    float *dxd = dx->data;
#pragma omp parallel for collapse(2) schedule(static) if (yl_tensor_numel(x) >= PARALLEL_MIN_ELEMENTS)
    for (int64_t s = 0; s < sides; s++)
        for (int64_t blk = 0; blk < blocks; blk++) {
            const int64_t a0 = blk * ANCHOR_BLOCK;
            const int64_t count = g.anchors - a0 < ANCHOR_BLOCK ? g.anchors - a0 : ANCHOR_BLOCK;
            const float *logits = xd + s * g.bins * g.anchors + a0;
            const float *grad = dyd + s * g.anchors + a0;
            float *out = dxd + s * g.bins * g.anchors + a0;
            float max[ANCHOR_BLOCK], denominator[ANCHOR_BLOCK], expectation[ANCHOR_BLOCK];
            softmax_expectation(logits, g.bins, g.anchors, count, max, denominator, expectation);
            for (int64_t k = 0; k < g.bins; k++) {
                const float *row = logits + k * g.anchors;
                float *out_row = out + k * g.anchors;
                for (int64_t j = 0; j < count; j++) {
                    const float p = expf(row[j] - max[j]) / denominator[j];
                    const float v = p * ((float)k - expectation[j]) * grad[j];
                    out_row[j] = accumulate ? out_row[j] + v : v;
                }
            }
        }
    return YL_OK;
}
