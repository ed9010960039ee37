// Batch norm (PyTorch semantics) and the fused batch norm + SiLU, forward and backward.
//
// Training-mode kernels give one block to each channel. The block walks the channel's N*H*W
// values a few times: statistics in two passes (the mean, then the centred sum of squares, which
// avoids the cancellation of E[x^2] - E[x]^2), then the normalised output; the backward pass
// sums dy and dy*xhat, then writes dx. Sums are kept per thread in float and combined by a
// fixed-shape tree (warp shuffles, then one warp), so a result depends only on the shape and
// repeats bit for bit; there are no atomics and no scratch memory.
//
// Eval-mode forward is elementwise (running statistics are known), on a 2-D grid of
// (position in plane, plane) so the channel is found with one division per plane, not per value.
#include "cuda_internal.h"
#include "cuda_ops.h"
#include "activation.cuh"
#include "launch_config.cuh"

#define BN_THREADS 512  // a multiple of 32, at most 32 warps (block_sum's assumptions)

// ---- device helpers ----------------------------------------------------------------------------

// Calls visit(offset) for the elements of channel c of an (N, C, HW) tensor that belong to this
// thread: flat index j = threadIdx.x, threadIdx.x + blockDim.x, ... over the channel's N*HW
// values, with j = n*HW + i living at n*C*HW + c*HW + i. The (n, i) pair is advanced by the
// block stride without dividing per element.
template <typename Visit>
__device__ __forceinline__ void for_each_in_channel(int64_t N, int64_t C, int64_t HW, int64_t c, Visit visit) {
    const int64_t step_n = blockDim.x / HW, step_i = blockDim.x % HW;
    int64_t n = threadIdx.x / HW, i = threadIdx.x % HW;
    const int64_t image_stride = C * HW, channel_offset = c * HW;
    while (n < N) {
        visit(n * image_stride + channel_offset + i);
        n += step_n;
        i += step_i;
        if (i >= HW) {
            i -= HW;
            n++;
        }
    }
}

// Sum of v over the block, returned to every thread. `scratch` holds 32 floats; the leading
// barrier lets consecutive calls reuse it.
__device__ float block_sum(float v, float *scratch) {
    const unsigned lane = threadIdx.x & 31u, warp = threadIdx.x >> 5;
    for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_down_sync(0xffffffffu, v, offset);
    __syncthreads();
    if (lane == 0) scratch[warp] = v;
    __syncthreads();
    if (warp == 0) {
        v = lane < blockDim.x / 32 ? scratch[lane] : 0.0f;
        for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_down_sync(0xffffffffu, v, offset);
        if (lane == 0) scratch[0] = v;
    }
    __syncthreads();
    return scratch[0];
}

// ---- kernels -----------------------------------------------------------------------------------

// One block per channel. y may alias x: every value is read before its own thread writes it, and
// the statistics passes end at a barrier before any write.
template <bool with_silu>
__global__ void __launch_bounds__(BN_THREADS)
    batchnorm_forward_train_kernel(const float *x, const float *gamma, const float *beta, float *running_mean,
                                   float *running_var, float *y_bn, float *y_silu, float *save_mean,
                                   float *save_invstd, int64_t N, int64_t C, int64_t HW, float eps,
                                   float momentum) {
    __shared__ float scratch[32];
    const int64_t c = blockIdx.x;
    const float count = (float)(N * HW);

    float partial = 0.0f;
    for_each_in_channel(N, C, HW, c, [&](int64_t at) { partial += x[at]; });
    const float mean = block_sum(partial, scratch) / count;

    partial = 0.0f;
    for_each_in_channel(N, C, HW, c, [&](int64_t at) {
        float d = x[at] - mean;
        partial += d * d;
    });
    const float centred_squares = block_sum(partial, scratch);
    const float var = centred_squares / count;  // biased: what the batch is normalised with
    const float invstd = 1.0f / sqrtf(var + eps);

    if (threadIdx.x == 0) {
        save_mean[c] = mean;
        save_invstd[c] = invstd;
        const float unbiased_var = centred_squares / (count - 1.0f);
        running_mean[c] = (1.0f - momentum) * running_mean[c] + momentum * mean;
        running_var[c] = (1.0f - momentum) * running_var[c] + momentum * unbiased_var;
    }

    const float scale = gamma[c] * invstd, shift = beta[c];
    for_each_in_channel(N, C, HW, c, [&](int64_t at) {
        float v = (x[at] - mean) * scale + shift;
        y_bn[at] = v;
        if (with_silu) y_silu[at] = yl_silu_of(v);
    });
}

// Grid: x over positions in a plane, y over planes (n, c), both grid-strided.
template <bool with_silu>
__global__ void batchnorm_forward_eval_kernel(const float *x, const float *gamma, const float *beta,
                                              const float *running_mean, const float *running_var, float *y_bn,
                                              float *y_silu, int64_t planes, int64_t C, int64_t HW, float eps) {
    for (int64_t plane = blockIdx.y; plane < planes; plane += gridDim.y) {
        const int64_t c = plane % C;
        const float mean = running_mean[c], scale = gamma[c] * (1.0f / sqrtf(running_var[c] + eps));
        const float shift = beta[c];
        const int64_t base = plane * HW;
        for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < HW; i += (int64_t)gridDim.x * blockDim.x) {
            float v = (x[base + i] - mean) * scale + shift;
            y_bn[base + i] = v;
            if (with_silu) y_silu[base + i] = yl_silu_of(v);
        }
    }
}

// dx = gamma * invstd / M * (M * dy - sum(dy) - xhat * sum(dy * xhat)), xhat = (x - mean) * invstd;
// dgamma = sum(dy * xhat), dbeta = sum(dy). One block per channel.
__global__ void __launch_bounds__(BN_THREADS)
    batchnorm_backward_train_kernel(const float *x, const float *dy, const float *gamma, const float *save_mean,
                                    const float *save_invstd, float *dx, float *dgamma, float *dbeta, int64_t N,
                                    int64_t C, int64_t HW, bool accumulate) {
    __shared__ float scratch[32];
    const int64_t c = blockIdx.x;
    const float mean = save_mean[c], invstd = save_invstd[c];

    float partial_dy = 0.0f, partial_dy_xhat = 0.0f;
    for_each_in_channel(N, C, HW, c, [&](int64_t at) {
        float g = dy[at];
        partial_dy += g;
        partial_dy_xhat += g * ((x[at] - mean) * invstd);
    });
    const float sum_dy = block_sum(partial_dy, scratch);
    const float sum_dy_xhat = block_sum(partial_dy_xhat, scratch);

    if (threadIdx.x == 0) {
        yl_store_gradient(&dgamma[c], sum_dy_xhat, accumulate);
        yl_store_gradient(&dbeta[c], sum_dy, accumulate);
    }

    // The same expression divided through by M, so no term grows with the batch.
    const float count = (float)(N * HW);
    const float gain = gamma[c] * invstd, dy_shift = sum_dy / count, x_slope = invstd * sum_dy_xhat / count;
    for_each_in_channel(N, C, HW, c, [&](int64_t at) {
        yl_store_gradient(&dx[at], gain * (dy[at] - dy_shift - (x[at] - mean) * x_slope), accumulate);
    });
}

// Running statistics are constants here: dx = dy * gamma * invstd needs no reduction, so it is
// written in the same pass that sums dy and dy*xhat for dgamma and dbeta. One block per channel.
__global__ void __launch_bounds__(BN_THREADS)
    batchnorm_backward_eval_kernel(const float *x, const float *dy, const float *gamma, const float *running_mean,
                                   const float *running_var, float *dx, float *dgamma, float *dbeta, int64_t N,
                                   int64_t C, int64_t HW, float eps, bool accumulate) {
    __shared__ float scratch[32];
    const int64_t c = blockIdx.x;
    const float mean = running_mean[c], invstd = 1.0f / sqrtf(running_var[c] + eps);
    const float gain = gamma[c] * invstd;

    float partial_dy = 0.0f, partial_dy_xhat = 0.0f;
    for_each_in_channel(N, C, HW, c, [&](int64_t at) {
        float grad = dy[at];
        partial_dy += grad;
        partial_dy_xhat += grad * ((x[at] - mean) * invstd);
        yl_store_gradient(&dx[at], grad * gain, accumulate);
    });
    const float sum_dy = block_sum(partial_dy, scratch);
    const float sum_dy_xhat = block_sum(partial_dy_xhat, scratch);
    if (threadIdx.x == 0) {
        yl_store_gradient(&dgamma[c], sum_dy_xhat, accumulate);
        yl_store_gradient(&dbeta[c], sum_dy, accumulate);
    }
}

// ---- launchers -----------------------------------------------------------------------------------

// Channel counts come from int64 shapes; one block per channel needs them to fit a grid.
static yl_status check_channel_grid(const char *op, int64_t channels) {
    if (channels > (int64_t)INT32_MAX)
        return yl_error(YL_ERR_UNSUPPORTED, "%s: %lld channels is more than one block per channel allows", op,
                        (long long)channels);
    return YL_OK;
}

static yl_status forward_train(yl_backend *be, const char *op, const yl_tensor *x, const yl_tensor *gamma,
                               const yl_tensor *beta, yl_tensor *running_mean, yl_tensor *running_var,
                               yl_tensor *y_bn, yl_tensor *y_silu, yl_tensor *save_mean, yl_tensor *save_invstd,
                               const yl_batchnorm_params *p) {
    const int64_t N = x->shape[0], C = x->shape[1], HW = x->shape[2] * x->shape[3];
    YL_TRY(check_channel_grid(op, C));
    cudaStream_t stream = yl_cuda_state_of(be)->stream;
    const float *xd = (const float *)x->data, *gd = (const float *)gamma->data, *bd = (const float *)beta->data;
    float *rm = (float *)running_mean->data, *rv = (float *)running_var->data;
    float *sm = (float *)save_mean->data, *si = (float *)save_invstd->data;
    if (y_silu)
        batchnorm_forward_train_kernel<true><<<(unsigned)C, BN_THREADS, 0, stream>>>(
            xd, gd, bd, rm, rv, (float *)y_bn->data, (float *)y_silu->data, sm, si, N, C, HW, p->eps, p->momentum);
    else
        batchnorm_forward_train_kernel<false><<<(unsigned)C, BN_THREADS, 0, stream>>>(
            xd, gd, bd, rm, rv, (float *)y_bn->data, NULL, sm, si, N, C, HW, p->eps, p->momentum);
    YL_CUDA_CHECK_LAUNCH(op);
    return YL_OK;
}

static yl_status forward_eval(yl_backend *be, const char *op, const yl_tensor *x, const yl_tensor *gamma,
                              const yl_tensor *beta, const yl_tensor *running_mean, const yl_tensor *running_var,
                              yl_tensor *y_bn, yl_tensor *y_silu, const yl_batchnorm_params *p) {
    const int64_t planes = x->shape[0] * x->shape[1], C = x->shape[1], HW = x->shape[2] * x->shape[3];
    cudaStream_t stream = yl_cuda_state_of(be)->stream;
    int64_t blocks_per_plane = (HW + YL_ELEMENTWISE_THREADS - 1) / YL_ELEMENTWISE_THREADS;
    dim3 grid((unsigned)(blocks_per_plane < 1024 ? blocks_per_plane : 1024), (unsigned)(planes < 65535 ? planes : 65535));
    const float *xd = (const float *)x->data, *gd = (const float *)gamma->data, *bd = (const float *)beta->data;
    const float *rm = (const float *)running_mean->data, *rv = (const float *)running_var->data;
    if (y_silu)
        batchnorm_forward_eval_kernel<true><<<grid, YL_ELEMENTWISE_THREADS, 0, stream>>>(
            xd, gd, bd, rm, rv, (float *)y_bn->data, (float *)y_silu->data, planes, C, HW, p->eps);
    else
        batchnorm_forward_eval_kernel<false><<<grid, YL_ELEMENTWISE_THREADS, 0, stream>>>(
            xd, gd, bd, rm, rv, (float *)y_bn->data, NULL, planes, C, HW, p->eps);
    YL_CUDA_CHECK_LAUNCH(op);
    return YL_OK;
}

extern "C" yl_status yl_cuda_batchnorm2d_forward_train(yl_backend *be, const yl_tensor *x, const yl_tensor *gamma,
                                                       const yl_tensor *beta, yl_tensor *running_mean,
                                                       yl_tensor *running_var, yl_tensor *y, yl_tensor *save_mean,
                                                       yl_tensor *save_invstd, const yl_batchnorm_params *p) {
    return forward_train(be, "batchnorm2d_forward_train", x, gamma, beta, running_mean, running_var, y, NULL,
                         save_mean, save_invstd, p);
}

extern "C" yl_status yl_cuda_batchnorm2d_forward_eval(yl_backend *be, const yl_tensor *x, const yl_tensor *gamma,
                                                      const yl_tensor *beta, const yl_tensor *running_mean,
                                                      const yl_tensor *running_var, yl_tensor *y,
                                                      const yl_batchnorm_params *p) {
    return forward_eval(be, "batchnorm2d_forward_eval", x, gamma, beta, running_mean, running_var, y, NULL, p);
}

extern "C" yl_status yl_cuda_bn_silu_forward_train(yl_backend *be, const yl_tensor *x, const yl_tensor *gamma,
                                                   const yl_tensor *beta, yl_tensor *running_mean,
                                                   yl_tensor *running_var, yl_tensor *y_bn, yl_tensor *y,
                                                   yl_tensor *save_mean, yl_tensor *save_invstd,
                                                   const yl_batchnorm_params *p) {
    return forward_train(be, "bn_silu_forward_train", x, gamma, beta, running_mean, running_var, y_bn, y, save_mean,
                         save_invstd, p);
}

extern "C" yl_status yl_cuda_bn_silu_forward_eval(yl_backend *be, const yl_tensor *x, const yl_tensor *gamma,
                                                  const yl_tensor *beta, const yl_tensor *running_mean,
                                                  const yl_tensor *running_var, yl_tensor *y_bn, yl_tensor *y,
                                                  const yl_batchnorm_params *p) {
    return forward_eval(be, "bn_silu_forward_eval", x, gamma, beta, running_mean, running_var, y_bn, y, p);
}

extern "C" yl_status yl_cuda_batchnorm2d_backward_train(yl_backend *be, const yl_tensor *x, const yl_tensor *dy,
                                                        const yl_tensor *gamma, const yl_tensor *save_mean,
                                                        const yl_tensor *save_invstd, yl_tensor *dx,
                                                        yl_tensor *dgamma, yl_tensor *dbeta, bool accumulate) {
    const char *op = "batchnorm2d_backward_train";
    const int64_t N = x->shape[0], C = x->shape[1], HW = x->shape[2] * x->shape[3];
    YL_TRY(check_channel_grid(op, C));
    batchnorm_backward_train_kernel<<<(unsigned)C, BN_THREADS, 0, yl_cuda_state_of(be)->stream>>>(
        (const float *)x->data, (const float *)dy->data, (const float *)gamma->data, (const float *)save_mean->data,
        (const float *)save_invstd->data, (float *)dx->data, (float *)dgamma->data, (float *)dbeta->data, N, C, HW,
        accumulate);
    YL_CUDA_CHECK_LAUNCH(op);
    return YL_OK;
}

extern "C" yl_status yl_cuda_batchnorm2d_backward_eval(yl_backend *be, const yl_tensor *x, const yl_tensor *dy,
                                                       const yl_tensor *gamma, const yl_tensor *running_mean,
                                                       const yl_tensor *running_var, yl_tensor *dx,
                                                       yl_tensor *dgamma, yl_tensor *dbeta,
                                                       const yl_batchnorm_params *p, bool accumulate) {
    const char *op = "batchnorm2d_backward_eval";
    const int64_t N = x->shape[0], C = x->shape[1], HW = x->shape[2] * x->shape[3];
    YL_TRY(check_channel_grid(op, C));
    batchnorm_backward_eval_kernel<<<(unsigned)C, BN_THREADS, 0, yl_cuda_state_of(be)->stream>>>(
        (const float *)x->data, (const float *)dy->data, (const float *)gamma->data,
        (const float *)running_mean->data, (const float *)running_var->data, (float *)dx->data,
        (float *)dgamma->data, (float *)dbeta->data, N, C, HW, p->eps, accumulate);
    YL_CUDA_CHECK_LAUNCH(op);
    return YL_OK;
}
