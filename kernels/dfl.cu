// DFL decode: x (B, 4*R, A) box logits with channel = side * R + bin; for each (b, side, a) the
// R bins are softmaxed and y = sum_k k * p_k, the expected distance in grid units. Backward:
// dx_k = p_k * (k - y) * dy.
//
// One thread per (b, side, a): neighbouring threads take neighbouring anchors, so each of the R
// reads of a bin is coalesced. The softmax subtracts the maximum first, so exp never overflows.
#include "activation.cuh"
#include "cuda_internal.h"
#include "cuda_ops.h"
#include "launch_config.cuh"

#define GRID_STRIDE_LOOP(Index, i, n) \
    for (Index i = (Index)blockIdx.x * blockDim.x + threadIdx.x; i < (n); i += (Index)gridDim.x * blockDim.x)

// The softmax of the bins at xs[0], xs[A], ..., xs[(R-1)*A]: its maximum, the sum of exp (the
// denominator), and the expectation sum_k k * p_k. Divisions, not a reciprocal, as on the CPU.
struct bin_softmax {
    float max, denominator, expectation;
};

template <typename Index>
__device__ __forceinline__ bin_softmax softmax_of_bins(const float *xs, Index A, int R) {
    bin_softmax s;
    s.max = xs[0];
    for (int k = 1; k < R; k++) s.max = fmaxf(s.max, xs[k * A]);
    float sum = 0.0f, weighted = 0.0f;
    for (int k = 0; k < R; k++) {
        const float e = expf(xs[k * A] - s.max);
        sum += e;
        weighted += (float)k * e;
    }
    s.denominator = sum;
    s.expectation = weighted / sum;
    return s;
}

// t runs over (b, side, a) in y's layout; (b*4 + side) is the row of R bins in x.
template <typename Index>
__global__ void dfl_forward_kernel(const float *x, float *y, Index A, int R, Index outputs) {
    GRID_STRIDE_LOOP(Index, t, outputs) {
        const Index a = t % A, row = t / A;
        y[t] = softmax_of_bins(x + row * R * A + a, A, R).expectation;
    }
}

template <typename Index>
__global__ void dfl_backward_kernel(const float *x, const float *dy, float *dx, Index A, int R, Index outputs,
                                    bool accumulate) {
    GRID_STRIDE_LOOP(Index, t, outputs) {
        const Index a = t % A, row = t / A;
        const float *xs = x + row * R * A + a;
        float *dxs = dx + row * R * A + a;
        const bin_softmax s = softmax_of_bins(xs, A, R);
        const float g = dy[t];
        for (int k = 0; k < R; k++) {
            const float p = expf(xs[k * A] - s.max) / s.denominator;
            yl_store_gradient(&dxs[k * A], p * ((float)k - s.expectation) * g, accumulate);
        }
    }
}

extern "C" yl_status yl_cuda_dfl_decode_forward(yl_backend *be, const yl_tensor *x, yl_tensor *y) {
    const int64_t A = x->shape[2], outputs = yl_tensor_numel(y);
    const int R = (int)(x->shape[1] / 4);
    const unsigned blocks = yl_grid_blocks(outputs, YL_ELEMENTWISE_THREADS);
    cudaStream_t stream = yl_cuda_state_of(be)->stream;
    if (yl_fits_int32(yl_tensor_numel(x)))
        dfl_forward_kernel<int32_t><<<blocks, YL_ELEMENTWISE_THREADS, 0, stream>>>(
            (const float *)x->data, (float *)y->data, (int32_t)A, R, (int32_t)outputs);
    else
        dfl_forward_kernel<int64_t><<<blocks, YL_ELEMENTWISE_THREADS, 0, stream>>>(
            (const float *)x->data, (float *)y->data, A, R, outputs);
    YL_CUDA_CHECK_LAUNCH("dfl_decode_forward");
    return YL_OK;
}

extern "C" yl_status yl_cuda_dfl_decode_backward(yl_backend *be, const yl_tensor *x, const yl_tensor *dy,
                                                 yl_tensor *dx, bool accumulate) {
    const int64_t A = x->shape[2], outputs = yl_tensor_numel(dy);
    const int R = (int)(x->shape[1] / 4);
    const unsigned blocks = yl_grid_blocks(outputs, YL_ELEMENTWISE_THREADS);
    cudaStream_t stream = yl_cuda_state_of(be)->stream;
    if (yl_fits_int32(yl_tensor_numel(x)))
        dfl_backward_kernel<int32_t><<<blocks, YL_ELEMENTWISE_THREADS, 0, stream>>>(
            (const float *)x->data, (const float *)dy->data, (float *)dx->data, (int32_t)A, R, (int32_t)outputs,
            accumulate);
    else
        dfl_backward_kernel<int64_t><<<blocks, YL_ELEMENTWISE_THREADS, 0, stream>>>(
            (const float *)x->data, (const float *)dy->data, (float *)dx->data, A, R, outputs, accumulate);
    YL_CUDA_CHECK_LAUNCH("dfl_decode_backward");
    return YL_OK;
}
