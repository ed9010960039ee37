// Max-pool (-inf padding) and nearest upsample x2, forward and backward.
//
// Every backward is a gather: each dx element is computed by one thread from the dy elements
// that depend on it, summed in the CPU backend's order, then stored or added once. No atomics,
// so results repeat bit for bit and do not depend on the launch shape, and accumulate = true
// equals the overwrite result plus the old contents exactly.
//
// Max-pool backward routes each dy to the first maximum of its window in scan order (PyTorch's
// choice), found again from x: a first kernel writes every window's argmax (an index within the
// plane) to the shared workspace, and the gather kernel then sums, for each input position, dy
// over the windows whose argmax it is. That costs k*k reads per output plus, per input, one read
// per window covering it, instead of a k*k scan for each of those windows.
#include "activation.cuh"
#include "cuda_internal.h"
#include "cuda_ops.h"
#include "launch_config.cuh"

#define GRID_STRIDE_LOOP(Index, i, n) \
    for (Index i = (Index)blockIdx.x * blockDim.x + threadIdx.x; i < (n); i += (Index)gridDim.x * blockDim.x)

struct pool_geometry {
    int64_t planes, height, width, out_height, out_width;
    int kernel, stride, pad;
};

// ---- max-pool ------------------------------------------------------------------------------------

// First maximum of each window in scan order, a NaN winning over any number (PyTorch's rule, and
// the CPU backend's); padded positions are skipped, which is what -inf padding amounts to (every
// window holds at least one real position when pad <= kernel / 2, which ops.c checks). Writes
// the value to y and/or the in-plane index to argmax (either NULL).
template <typename Index>
__global__ void maxpool_forward_kernel(const float *x, float *y, int32_t *argmax, pool_geometry g, Index outputs) {
    const Index H = (Index)g.height, W = (Index)g.width, Ho = (Index)g.out_height, Wo = (Index)g.out_width;
    GRID_STRIDE_LOOP(Index, o, outputs) {
        const Index ow = o % Wo, rest = o / Wo, oh = rest % Ho, plane = rest / Ho;
        const float *xp = x + plane * H * W;
        const Index h0 = oh * g.stride - g.pad, w0 = ow * g.stride - g.pad;
        const Index h_begin = h0 > 0 ? h0 : 0, h_end = h0 + g.kernel < H ? h0 + g.kernel : H;
        const Index w_begin = w0 > 0 ? w0 : 0, w_end = w0 + g.kernel < W ? w0 + g.kernel : W;
        Index best_at = h_begin * W + w_begin;
        float best = -INFINITY;
        for (Index h = h_begin; h < h_end; h++)
            for (Index w = w_begin; w < w_end; w++) {
                const float v = xp[h * W + w];
                if (v > best || isnan(v)) {
                    best = v;
                    best_at = h * W + w;
                }
            }
        if (y) y[o] = best;
        if (argmax) argmax[o] = (int32_t)best_at;
    }
}

// Output rows (or columns) whose window [o*stride - pad, o*stride - pad + kernel) contains
// position p: o*stride in [p + pad - kernel + 1, p + pad], clipped to [0, outputs).
template <typename Index>
__device__ __forceinline__ void covering_windows(Index p, Index outputs, const pool_geometry &g, Index *first,
                                                 Index *last) {
    const Index low = p + g.pad - g.kernel + 1;
    *first = low <= 0 ? 0 : (low + g.stride - 1) / g.stride;
    const Index high = (p + g.pad) / g.stride;
    *last = high < outputs - 1 ? high : outputs - 1;
}

template <typename Index>
__global__ void maxpool_backward_gather_kernel(const int32_t *argmax, const float *dy, float *dx, pool_geometry g,
                                               Index inputs, bool accumulate) {
    const Index H = (Index)g.height, W = (Index)g.width, Ho = (Index)g.out_height, Wo = (Index)g.out_width;
    GRID_STRIDE_LOOP(Index, i, inputs) {
        const Index iw = i % W, rest = i / W, ih = rest % H, plane = rest / H;
        const int32_t me = (int32_t)(ih * W + iw);
        const int32_t *ap = argmax + plane * Ho * Wo;
        const float *dyp = dy + plane * Ho * Wo;
        Index oh_first, oh_last, ow_first, ow_last;
        covering_windows(ih, Ho, g, &oh_first, &oh_last);
        covering_windows(iw, Wo, g, &ow_first, &ow_last);
        float sum = 0.0f;
        for (Index oh = oh_first; oh <= oh_last; oh++)
            for (Index ow = ow_first; ow <= ow_last; ow++)
                if (ap[oh * Wo + ow] == me) sum += dyp[oh * Wo + ow];
        yl_store_gradient(&dx[i], sum, accumulate);
    }
}

static pool_geometry pool_geometry_of(const yl_tensor *x, const yl_tensor *y, const yl_maxpool2d_params *p) {
    pool_geometry g;
    g.planes = x->shape[0] * x->shape[1];
    g.height = x->shape[2];
    g.width = x->shape[3];
    g.out_height = y->shape[2];
    g.out_width = y->shape[3];
    g.kernel = p->kernel;
    g.stride = p->stride;
    g.pad = p->pad;
    return g;
}

template <typename Index>
static void launch_maxpool_forward(cudaStream_t stream, const float *x, float *y, int32_t *argmax,
                                   const pool_geometry &g) {
    const int64_t outputs = g.planes * g.out_height * g.out_width;
    maxpool_forward_kernel<Index><<<yl_grid_blocks(outputs, YL_ELEMENTWISE_THREADS), YL_ELEMENTWISE_THREADS, 0,
                                    stream>>>(x, y, argmax, g, (Index)outputs);
}

template <typename Index>
static void launch_maxpool_backward_gather(cudaStream_t stream, const int32_t *argmax, const float *dy, float *dx,
                                           const pool_geometry &g, bool accumulate) {
    const int64_t inputs = g.planes * g.height * g.width;
    maxpool_backward_gather_kernel<Index><<<yl_grid_blocks(inputs, YL_ELEMENTWISE_THREADS), YL_ELEMENTWISE_THREADS,
                                            0, stream>>>(argmax, dy, dx, g, (Index)inputs, accumulate);
}

extern "C" yl_status yl_cuda_maxpool2d_forward(yl_backend *be, const yl_tensor *x, yl_tensor *y,
                                               const yl_maxpool2d_params *p) {
    const pool_geometry g = pool_geometry_of(x, y, p);
    cudaStream_t stream = yl_cuda_state_of(be)->stream;
    if (yl_fits_int32(yl_tensor_numel(x)) && yl_fits_int32(yl_tensor_numel(y)))
        launch_maxpool_forward<int32_t>(stream, (const float *)x->data, (float *)y->data, NULL, g);
    else
        launch_maxpool_forward<int64_t>(stream, (const float *)x->data, (float *)y->data, NULL, g);
    YL_CUDA_CHECK_LAUNCH("maxpool2d_forward");
    return YL_OK;
}

extern "C" yl_status yl_cuda_maxpool2d_backward(yl_backend *be, const yl_tensor *x, const yl_tensor *dy,
                                                yl_tensor *dx, const yl_maxpool2d_params *p, bool accumulate) {
    const char *op = "maxpool2d_backward";
    const pool_geometry g = pool_geometry_of(x, dy, p);
    if (!yl_fits_int32(g.height * g.width))
        return yl_error(YL_ERR_UNSUPPORTED, "%s: planes of %lld x %lld positions do not fit 32-bit indices", op,
                        (long long)g.height, (long long)g.width);
    void *workspace;
    YL_TRY(yl_cuda_workspace(be, (size_t)yl_tensor_numel(dy) * sizeof(int32_t), &workspace));
    int32_t *argmax = (int32_t *)workspace;
    cudaStream_t stream = yl_cuda_state_of(be)->stream;
    if (yl_fits_int32(yl_tensor_numel(x)) && yl_fits_int32(yl_tensor_numel(dy))) {
        launch_maxpool_forward<int32_t>(stream, (const float *)x->data, NULL, argmax, g);
        YL_CUDA_CHECK_LAUNCH(op);
        launch_maxpool_backward_gather<int32_t>(stream, argmax, (const float *)dy->data, (float *)dx->data, g,
                                                accumulate);
    } else {
        launch_maxpool_forward<int64_t>(stream, (const float *)x->data, NULL, argmax, g);
        YL_CUDA_CHECK_LAUNCH(op);
        launch_maxpool_backward_gather<int64_t>(stream, argmax, (const float *)dy->data, (float *)dx->data, g,
                                                accumulate);
    }
    YL_CUDA_CHECK_LAUNCH(op);
    return YL_OK;
}

// ---- nearest upsample x2 -------------------------------------------------------------------------

// One thread per output: y[plane, oh, ow] = x[plane, oh / 2, ow / 2].
template <typename Index>
__global__ void upsample_forward_kernel(const float *x, float *y, Index height, Index width, Index outputs) {
    const Index Wo = 2 * width, Ho = 2 * height;
    GRID_STRIDE_LOOP(Index, o, outputs) {
        const Index ow = o % Wo, rest = o / Wo, oh = rest % Ho, plane = rest / Ho;
        y[o] = x[(plane * height + oh / 2) * width + ow / 2];
    }
}

// One thread per input: the 2x2 block of dy it was copied to, summed row by row as on the CPU.
template <typename Index>
__global__ void upsample_backward_kernel(const float *dy, float *dx, Index height, Index width, Index inputs,
                                         bool accumulate) {
    const Index Wo = 2 * width;
    GRID_STRIDE_LOOP(Index, i, inputs) {
        const Index iw = i % width, rest = i / width, ih = rest % height, plane = rest / height;
        const float *top = dy + (plane * 2 * height + 2 * ih) * Wo + 2 * iw;
        const float *bottom = top + Wo;
        yl_store_gradient(&dx[i], (top[0] + top[1]) + (bottom[0] + bottom[1]), accumulate);
    }
}

extern "C" yl_status yl_cuda_upsample_nearest2x_forward(yl_backend *be, const yl_tensor *x, yl_tensor *y) {
    const int64_t outputs = yl_tensor_numel(y), height = x->shape[2], width = x->shape[3];
    const unsigned blocks = yl_grid_blocks(outputs, YL_ELEMENTWISE_THREADS);
    cudaStream_t stream = yl_cuda_state_of(be)->stream;
    if (yl_fits_int32(outputs))
        upsample_forward_kernel<int32_t><<<blocks, YL_ELEMENTWISE_THREADS, 0, stream>>>(
            (const float *)x->data, (float *)y->data, (int32_t)height, (int32_t)width, (int32_t)outputs);
    else
        upsample_forward_kernel<int64_t><<<blocks, YL_ELEMENTWISE_THREADS, 0, stream>>>(
            (const float *)x->data, (float *)y->data, height, width, outputs);
    YL_CUDA_CHECK_LAUNCH("upsample_nearest2x_forward");
    return YL_OK;
}

extern "C" yl_status yl_cuda_upsample_nearest2x_backward(yl_backend *be, const yl_tensor *dy, yl_tensor *dx,
                                                         bool accumulate) {
    const int64_t inputs = yl_tensor_numel(dx), height = dx->shape[2], width = dx->shape[3];
    const unsigned blocks = yl_grid_blocks(inputs, YL_ELEMENTWISE_THREADS);
    cudaStream_t stream = yl_cuda_state_of(be)->stream;
    // Indices into dy reach four times the dx count.
    if (yl_fits_int32(yl_tensor_numel(dy)))
        upsample_backward_kernel<int32_t><<<blocks, YL_ELEMENTWISE_THREADS, 0, stream>>>(
            (const float *)dy->data, (float *)dx->data, (int32_t)height, (int32_t)width, (int32_t)inputs,
            accumulate);
    else
        upsample_backward_kernel<int64_t><<<blocks, YL_ELEMENTWISE_THREADS, 0, stream>>>(
            (const float *)dy->data, (float *)dx->data, height, width, inputs, accumulate);
    YL_CUDA_CHECK_LAUNCH("upsample_nearest2x_backward");
    return YL_OK;
}
