// CPU elementwise ops: SiLU, sigmoid, add, forward and backward.
//
// Every output element depends on its own inputs only, so splitting the loop over threads
// cannot change a result. Backward values are formed first and then stored or added once, so
// accumulate = true equals overwrite plus the old contents exactly.
#include "activation_spans.h"
#include "cpu_ops.h"

// Below this many elements a parallel region costs more than it saves.
#define PARALLEL_MIN_ELEMENTS 32768
// Threads take the activations in blocks of this many elements (vectorised spans).
#define SPAN_ELEMENTS 4096

static inline int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

static inline void store(float *dst, float value, bool accumulate) { *dst = accumulate ? *dst + value : value; }

yl_status yl_cpu_silu_forward(yl_backend *be, const yl_tensor *x, yl_tensor *y) {
    (void)be;
    const int64_t n = yl_tensor_numel(x);
    const float *xd = x->data;
    float *yd = y->data;
#pragma omp parallel for schedule(static) if (n >= PARALLEL_MIN_ELEMENTS)
    for (int64_t i = 0; i < n; i += SPAN_ELEMENTS) yl_cpu_silu_span(xd + i, yd + i, min64(SPAN_ELEMENTS, n - i));
    return YL_OK;
}

yl_status yl_cpu_silu_backward(yl_backend *be, const yl_tensor *x, const yl_tensor *dy, yl_tensor *dx,
                               bool accumulate) {
    (void)be;
    const int64_t n = yl_tensor_numel(x);
    const float *xd = x->data, *dyd = dy->data;
    float *dxd = dx->data;
#pragma omp parallel for schedule(static) if (n >= PARALLEL_MIN_ELEMENTS)
    for (int64_t i = 0; i < n; i += SPAN_ELEMENTS)
        yl_cpu_silu_backward_span(xd + i, dyd + i, dxd + i, min64(SPAN_ELEMENTS, n - i), accumulate);
    return YL_OK;
}

yl_status yl_cpu_sigmoid_forward(yl_backend *be, const yl_tensor *x, yl_tensor *y) {
    (void)be;
    const int64_t n = yl_tensor_numel(x);
    const float *xd = x->data;
    float *yd = y->data;
#pragma omp parallel for schedule(static) if (n >= PARALLEL_MIN_ELEMENTS)
    for (int64_t i = 0; i < n; i += SPAN_ELEMENTS) yl_cpu_sigmoid_span(xd + i, yd + i, min64(SPAN_ELEMENTS, n - i));
    return YL_OK;
}

yl_status yl_cpu_sigmoid_backward(yl_backend *be, const yl_tensor *y, const yl_tensor *dy, yl_tensor *dx,
                                  bool accumulate) {
    (void)be;
    const int64_t n = yl_tensor_numel(y);
    const float *yd = y->data, *dyd = dy->data;
    float *dxd = dx->data;
#pragma omp parallel for schedule(static) if (n >= PARALLEL_MIN_ELEMENTS)
    for (int64_t i = 0; i < n; i += SPAN_ELEMENTS)
        yl_cpu_sigmoid_backward_span(yd + i, dyd + i, dxd + i, min64(SPAN_ELEMENTS, n - i), accumulate);
    return YL_OK;
}

yl_status yl_cpu_add_forward(yl_backend *be, const yl_tensor *a, const yl_tensor *b, yl_tensor *y) {
    (void)be;
    const int64_t n = yl_tensor_numel(a);
    const float *ad = a->data, *bd = b->data;
    float *yd = y->data;
#pragma omp parallel for schedule(static) if (n >= PARALLEL_MIN_ELEMENTS)
    for (int64_t i = 0; i < n; i++) yd[i] = ad[i] + bd[i];
    return YL_OK;
}

// The gradient of a sum passes through unchanged to each operand that wants it.
static void pass_gradient(const float *dy, float *d, int64_t n, bool accumulate) {
    if (!accumulate && d == dy) return;
#pragma omp parallel for schedule(static) if (n >= PARALLEL_MIN_ELEMENTS)
    for (int64_t i = 0; i < n; i++) store(&d[i], dy[i], accumulate);
}

yl_status yl_cpu_add_backward(yl_backend *be, const yl_tensor *dy, yl_tensor *da, yl_tensor *db, bool accumulate) {
    (void)be;
    const int64_t n = yl_tensor_numel(dy);
    if (da) pass_gradient(dy->data, da->data, n, accumulate);
    if (db) pass_gradient(dy->data, db->data, n, accumulate);
    return YL_OK;
}
