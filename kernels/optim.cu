// Optimizer steps, gradient sums of squares and scaling, EMA blend and swap on the GPU (see
// optim_cuda.h). The arithmetic is spelled with __fmul_rn / __fadd_rn / __fdiv_rn / __fsqrt_rn so
// nvcc does not fuse it into FMAs: every element then rounds exactly as the CPU loops in
// engine/optim/optim_cpu.c (and torch's float32 ops) round, and CUDA and CPU agree bit for bit.
#include "cuda_internal.h"
#include "launch_config.cuh"
#include "optim_cuda.h"

#define YL_CUDA_OPTIM_BATCH 32       // tensors per launch, passed by value in the kernel arguments
#define YL_CUDA_OPTIM_MAX_BLOCKS 256  // blocks per tensor (grid x); a grid-stride loop covers the rest
#define YL_CUDA_OPTIM_THREADS 256

struct SegmentBatch {
    int count;
    yl_optim_segment seg[YL_CUDA_OPTIM_BATCH];
};
struct PairBatch {
    int count;
    yl_optim_pair pair[YL_CUDA_OPTIM_BATCH];
};
struct SgdCoefs {
    yl_sgd_coefs g[YL_OPTIM_GROUPS];
};
struct AdamwCoefs {
    yl_adamw_coefs g[YL_OPTIM_GROUPS];
};

#define TENSOR_STRIDE_LOOP(i, n) \
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < (n); i += (int64_t)gridDim.x * blockDim.x)

__global__ void sgd_kernel(SegmentBatch batch, SgdCoefs coefs, bool first_step) {
    const yl_optim_segment s = batch.seg[blockIdx.y];
    const yl_sgd_coefs c = coefs.g[s.group];
    TENSOR_STRIDE_LOOP(i, s.count) {
        float p = s.param[i];
        float d = s.grad[i];
        if (c.weight_decay != 0.0f) d = __fadd_rn(d, __fmul_rn(c.weight_decay, p));
        float b = first_step ? d : __fadd_rn(__fmul_rn(s.state_a[i], c.momentum), d);
        s.state_a[i] = b;
        s.param[i] = __fadd_rn(p, __fmul_rn(c.neg_lr, __fadd_rn(d, __fmul_rn(c.momentum, b))));
    }
}

__global__ void adamw_kernel(SegmentBatch batch, AdamwCoefs coefs) {
    const yl_optim_segment s = batch.seg[blockIdx.y];
    const yl_adamw_coefs c = coefs.g[s.group];
    TENSOR_STRIDE_LOOP(i, s.count) {
        float g = s.grad[i];
        float p = __fmul_rn(s.param[i], c.decay_factor);
        float m = __fadd_rn(__fmul_rn(s.state_a[i], c.beta1), __fmul_rn(c.one_minus_beta1, g));
        float v = __fadd_rn(__fmul_rn(s.state_b[i], c.beta2), __fmul_rn(__fmul_rn(c.one_minus_beta2, g), g));
        float denom = __fadd_rn(__fdiv_rn(__fsqrt_rn(v), c.bias_correction2_sqrt), c.eps);
        s.state_a[i] = m;
        s.state_b[i] = v;
        s.param[i] = __fadd_rn(p, __fdiv_rn(__fmul_rn(c.neg_step_size, m), denom));
    }
}

__global__ void scale_kernel(SegmentBatch batch, float factor) {
    const yl_optim_segment s = batch.seg[blockIdx.y];
    TENSOR_STRIDE_LOOP(i, s.count) s.grad[i] = __fmul_rn(s.grad[i], factor);
}

// One double partial per block: partials[(first + blockIdx.y) * gridDim.x + blockIdx.x].
__global__ void sum_squares_kernel(SegmentBatch batch, int first, double *partials) {
    __shared__ double shared[YL_CUDA_OPTIM_THREADS];
    const yl_optim_segment s = batch.seg[blockIdx.y];
    double sum = 0.0;
    TENSOR_STRIDE_LOOP(i, s.count) {
        double g = (double)s.grad[i];
        sum += g * g;
    }
    shared[threadIdx.x] = sum;
    __syncthreads();
    for (int half = blockDim.x / 2; half > 0; half /= 2) {
        if ((int)threadIdx.x < half) shared[threadIdx.x] += shared[threadIdx.x + half];
        __syncthreads();
    }
    if (threadIdx.x == 0) partials[(int64_t)(first + blockIdx.y) * gridDim.x + blockIdx.x] = shared[0];
}

// One block per tensor adds its `blocks` partials in a fixed tree order.
__global__ void sum_partials_kernel(const double *partials, int blocks, double *sums) {
    __shared__ double shared[YL_CUDA_OPTIM_THREADS];
    const double *mine = partials + (int64_t)blockIdx.x * blocks;
    double sum = 0.0;
    for (int b = threadIdx.x; b < blocks; b += blockDim.x) sum += mine[b];
    shared[threadIdx.x] = sum;
    __syncthreads();
    for (int half = blockDim.x / 2; half > 0; half /= 2) {
        if ((int)threadIdx.x < half) shared[threadIdx.x] += shared[threadIdx.x + half];
        __syncthreads();
    }
    if (threadIdx.x == 0) sums[blockIdx.x] = shared[0];
}

__global__ void blend_kernel(PairBatch batch, float keep, float mix) {
    const yl_optim_pair q = batch.pair[blockIdx.y];
    if (keep == 0.0f) {
        TENSOR_STRIDE_LOOP(i, q.count) q.dst[i] = __fmul_rn(mix, q.src[i]);
    } else {
        TENSOR_STRIDE_LOOP(i, q.count) q.dst[i] = __fadd_rn(__fmul_rn(q.dst[i], keep), __fmul_rn(mix, q.src[i]));
    }
}

__global__ void swap_kernel(PairBatch batch) {
    const yl_optim_pair q = batch.pair[blockIdx.y];
    TENSOR_STRIDE_LOOP(i, q.count) {
        float t = q.dst[i];
        q.dst[i] = q.src[i];
        q.src[i] = t;
    }
}

static unsigned blocks_for(int64_t largest) {
    int64_t blocks = (largest + YL_CUDA_OPTIM_THREADS - 1) / YL_CUDA_OPTIM_THREADS;
    if (blocks < 1) blocks = 1;
    if (blocks > YL_CUDA_OPTIM_MAX_BLOCKS) blocks = YL_CUDA_OPTIM_MAX_BLOCKS;
    return (unsigned)blocks;
}

// Calls launch(batch, first_index, grid) for consecutive batches of up to YL_CUDA_OPTIM_BATCH
// segments; `blocks` fixed for all (the sums' partial layout depends on it).
template <typename Launch>
static yl_status for_segment_batches(const yl_optim_segment *segments, int count, unsigned blocks, Launch launch) {
    for (int first = 0; first < count; first += YL_CUDA_OPTIM_BATCH) {
        SegmentBatch batch;
        batch.count = count - first < YL_CUDA_OPTIM_BATCH ? count - first : YL_CUDA_OPTIM_BATCH;
        for (int k = 0; k < batch.count; k++) batch.seg[k] = segments[first + k];
        launch(batch, first, dim3(blocks, (unsigned)batch.count));
        YL_CUDA_CHECK_LAUNCH("optimizer kernel");
    }
    return YL_OK;
}

template <typename Launch>
static yl_status for_pair_batches(const yl_optim_pair *pairs, int count, Launch launch) {
    int64_t largest = 0;
    for (int k = 0; k < count; k++) largest = pairs[k].count > largest ? pairs[k].count : largest;
    unsigned blocks = blocks_for(largest);
    for (int first = 0; first < count; first += YL_CUDA_OPTIM_BATCH) {
        PairBatch batch;
        batch.count = count - first < YL_CUDA_OPTIM_BATCH ? count - first : YL_CUDA_OPTIM_BATCH;
        for (int k = 0; k < batch.count; k++) batch.pair[k] = pairs[first + k];
        launch(batch, dim3(blocks, (unsigned)batch.count));
        YL_CUDA_CHECK_LAUNCH("ema kernel");
    }
    return YL_OK;
}

static unsigned segment_blocks(const yl_optim_segment *segments, int count) {
    int64_t largest = 0;
    for (int k = 0; k < count; k++) largest = segments[k].count > largest ? segments[k].count : largest;
    return blocks_for(largest);
}

extern "C" yl_status yl_cuda_optim_sgd(yl_backend *be, const yl_optim_segment *segments, int count,
                                       const yl_sgd_coefs coefs[YL_OPTIM_GROUPS], bool first_step) {
    cudaStream_t stream = yl_cuda_state_of(be)->stream;
    SgdCoefs c;
    for (int g = 0; g < YL_OPTIM_GROUPS; g++) c.g[g] = coefs[g];
    return for_segment_batches(segments, count, segment_blocks(segments, count),
                               [&](const SegmentBatch &batch, int, dim3 grid) {
                                   sgd_kernel<<<grid, YL_CUDA_OPTIM_THREADS, 0, stream>>>(batch, c, first_step);
                               });
}

extern "C" yl_status yl_cuda_optim_adamw(yl_backend *be, const yl_optim_segment *segments, int count,
                                         const yl_adamw_coefs coefs[YL_OPTIM_GROUPS]) {
    cudaStream_t stream = yl_cuda_state_of(be)->stream;
    AdamwCoefs c;
    for (int g = 0; g < YL_OPTIM_GROUPS; g++) c.g[g] = coefs[g];
    return for_segment_batches(segments, count, segment_blocks(segments, count),
                               [&](const SegmentBatch &batch, int, dim3 grid) {
                                   adamw_kernel<<<grid, YL_CUDA_OPTIM_THREADS, 0, stream>>>(batch, c);
                               });
}

extern "C" yl_status yl_cuda_optim_scale_grads(yl_backend *be, const yl_optim_segment *segments, int count,
                                               float factor) {
    cudaStream_t stream = yl_cuda_state_of(be)->stream;
    return for_segment_batches(segments, count, segment_blocks(segments, count),
                               [&](const SegmentBatch &batch, int, dim3 grid) {
                                   scale_kernel<<<grid, YL_CUDA_OPTIM_THREADS, 0, stream>>>(batch, factor);
                               });
}

extern "C" yl_status yl_cuda_optim_sum_squares(yl_backend *be, const yl_optim_segment *segments, int count,
                                               double *sums) {
    if (count <= 0) return YL_OK;
    cudaStream_t stream = yl_cuda_state_of(be)->stream;
    unsigned blocks = segment_blocks(segments, count);
    size_t partial_count = (size_t)count * blocks;
    void *workspace = NULL;
    YL_TRY(yl_cuda_workspace(be, (partial_count + (size_t)count) * sizeof(double), &workspace));
    double *partials = (double *)workspace;
    double *device_sums = partials + partial_count;
    YL_TRY(for_segment_batches(segments, count, blocks, [&](const SegmentBatch &batch, int first, dim3 grid) {
        sum_squares_kernel<<<grid, YL_CUDA_OPTIM_THREADS, 0, stream>>>(batch, first, partials);
    }));
    sum_partials_kernel<<<count, YL_CUDA_OPTIM_THREADS, 0, stream>>>(partials, (int)blocks, device_sums);
    YL_CUDA_CHECK_LAUNCH("clip_grad_norm sums");
    return be->copy_to_host(be, sums, device_sums, (size_t)count * sizeof(double));
}

extern "C" yl_status yl_cuda_optim_blend(yl_backend *be, const yl_optim_pair *pairs, int count, float keep,
                                         float blend) {
    cudaStream_t stream = yl_cuda_state_of(be)->stream;
    return for_pair_batches(pairs, count, [&](const PairBatch &batch, dim3 grid) {
        blend_kernel<<<grid, YL_CUDA_OPTIM_THREADS, 0, stream>>>(batch, keep, blend);
    });
}

extern "C" yl_status yl_cuda_optim_swap(yl_backend *be, const yl_optim_pair *pairs, int count) {
    cudaStream_t stream = yl_cuda_state_of(be)->stream;
    return for_pair_batches(pairs, count, [&](const PairBatch &batch, dim3 grid) {
        swap_kernel<<<grid, YL_CUDA_OPTIM_THREADS, 0, stream>>>(batch);
    });
}
