// Elementwise CUDA ops: SiLU, sigmoid, add, forward and backward.
//
// The scalar formulas are the CPU backend's (activation.cuh). Each output element depends on its
// own inputs only: results do not depend on the launch shape and repeat bit for bit. No pointer
// is __restrict__: in-place use (y aliasing x, dx aliasing dy) is legal, since each element is
// read before the same thread writes it.
#include "cuda_internal.h"
#include "cuda_ops.h"
#include "activation.cuh"
#include "launch_config.cuh"

#define GRID_STRIDE_LOOP(i, n) \
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < (n); i += (int64_t)gridDim.x * blockDim.x)

__global__ void silu_forward_kernel(const float *x, float *y, int64_t n) {
    GRID_STRIDE_LOOP(i, n) y[i] = yl_silu_of(x[i]);
}

__global__ void silu_backward_kernel(const float *x, const float *dy, float *dx, int64_t n,
                                     bool accumulate) {
    GRID_STRIDE_LOOP(i, n) yl_store_gradient(&dx[i], dy[i] * yl_silu_grad_of(x[i]), accumulate);
}

__global__ void sigmoid_forward_kernel(const float *x, float *y, int64_t n) {
    GRID_STRIDE_LOOP(i, n) y[i] = yl_sigmoid_of(x[i]);
}

__global__ void sigmoid_backward_kernel(const float *y, const float *dy, float *dx,
                                        int64_t n, bool accumulate) {
    GRID_STRIDE_LOOP(i, n) yl_store_gradient(&dx[i], dy[i] * y[i] * (1.0f - y[i]), accumulate);
}

__global__ void add_forward_kernel(const float *a, const float *b, float *y, int64_t n) {
    GRID_STRIDE_LOOP(i, n) y[i] = a[i] + b[i];
}

// Either destination may be NULL; one launch serves both.
__global__ void add_backward_kernel(const float *dy, float *da, float *db, int64_t n, bool accumulate) {
    GRID_STRIDE_LOOP(i, n) {
        float g = dy[i];
        if (da) yl_store_gradient(&da[i], g, accumulate);
        if (db) yl_store_gradient(&db[i], g, accumulate);
    }
}

static dim3 grid_for(int64_t n) { return dim3(yl_grid_blocks(n, YL_ELEMENTWISE_THREADS)); }

extern "C" yl_status yl_cuda_silu_forward(yl_backend *be, const yl_tensor *x, yl_tensor *y) {
    int64_t n = yl_tensor_numel(x);
    silu_forward_kernel<<<grid_for(n), YL_ELEMENTWISE_THREADS, 0, yl_cuda_state_of(be)->stream>>>(
        (const float *)x->data, (float *)y->data, n);
    YL_CUDA_CHECK_LAUNCH("silu_forward");
    return YL_OK;
}

extern "C" yl_status yl_cuda_silu_backward(yl_backend *be, const yl_tensor *x, const yl_tensor *dy, yl_tensor *dx,
                                           bool accumulate) {
    int64_t n = yl_tensor_numel(x);
    silu_backward_kernel<<<grid_for(n), YL_ELEMENTWISE_THREADS, 0, yl_cuda_state_of(be)->stream>>>(
        (const float *)x->data, (const float *)dy->data, (float *)dx->data, n, accumulate);
    YL_CUDA_CHECK_LAUNCH("silu_backward");
    return YL_OK;
}

extern "C" yl_status yl_cuda_sigmoid_forward(yl_backend *be, const yl_tensor *x, yl_tensor *y) {
    int64_t n = yl_tensor_numel(x);
    sigmoid_forward_kernel<<<grid_for(n), YL_ELEMENTWISE_THREADS, 0, yl_cuda_state_of(be)->stream>>>(
        (const float *)x->data, (float *)y->data, n);
    YL_CUDA_CHECK_LAUNCH("sigmoid_forward");
    return YL_OK;
}

extern "C" yl_status yl_cuda_sigmoid_backward(yl_backend *be, const yl_tensor *y, const yl_tensor *dy, yl_tensor *dx,
                                              bool accumulate) {
    int64_t n = yl_tensor_numel(y);
    sigmoid_backward_kernel<<<grid_for(n), YL_ELEMENTWISE_THREADS, 0, yl_cuda_state_of(be)->stream>>>(
        (const float *)y->data, (const float *)dy->data, (float *)dx->data, n, accumulate);
    YL_CUDA_CHECK_LAUNCH("sigmoid_backward");
    return YL_OK;
}

extern "C" yl_status yl_cuda_add_forward(yl_backend *be, const yl_tensor *a, const yl_tensor *b, yl_tensor *y) {
    int64_t n = yl_tensor_numel(a);
    add_forward_kernel<<<grid_for(n), YL_ELEMENTWISE_THREADS, 0, yl_cuda_state_of(be)->stream>>>(
        (const float *)a->data, (const float *)b->data, (float *)y->data, n);
    YL_CUDA_CHECK_LAUNCH("add_forward");
    return YL_OK;
}

extern "C" yl_status yl_cuda_add_backward(yl_backend *be, const yl_tensor *dy, yl_tensor *da, yl_tensor *db,
                                          bool accumulate) {
    int64_t n = yl_tensor_numel(dy);
    // A destination that is dy itself already holds the overwrite result.
    float *da_data = da && !(!accumulate && da->data == dy->data) ? (float *)da->data : NULL;
    float *db_data = db && !(!accumulate && db->data == dy->data) ? (float *)db->data : NULL;
    if (!da_data && !db_data) return YL_OK;
    add_backward_kernel<<<grid_for(n), YL_ELEMENTWISE_THREADS, 0, yl_cuda_state_of(be)->stream>>>(
        (const float *)dy->data, da_data, db_data, n, accumulate);
    YL_CUDA_CHECK_LAUNCH("add_backward");
    return YL_OK;
}
