// conv2d forward, backward-data and backward-weight through cuDNN's legacy convolution API,
// NCHW fp32, cross-correlation (PyTorch's convention), "same" padding k/2, stride 1 or 2.
//
// Per convolution shape (N, C, H, W, K, k, stride, pad) the first call of each direction creates
// the descriptors and chooses an algorithm; both are cached, so a training step creates no
// descriptors and measures nothing. Algorithm policy, per direction:
//   1. cudnnFind*AlgorithmEx times every algorithm on the real inputs, writing into a scratch
//      output (so an accumulate = true destination is not clobbered) with a tuning workspace of
//      at most YL_CUDNN_WORKSPACE_LIMIT bytes (less when the GPU has less than twice that free).
//   2. Candidates, fastest first, must have succeeded, use no tensor-core math, and need at most
//      that workspace in FMA math mode. The fastest deterministic one wins; only when none
//      qualifies does the fastest non-deterministic one. (cuDNN's forward algorithms are all
//      deterministic; backward-data and backward-filter have the deterministic ALGO_1, which
//      needs little workspace, so the non-deterministic fallback should stay theoretical.)
//   3. If timing found nothing usable, cudnnGet*Algorithm_v7's heuristic ranking is filtered the
//      same way.
// The choice can differ between runs when two algorithms time alike, so results are repeatable
// within a process and across processes only up to fp32 rounding.
//
// The bias gradient is a deterministic per-channel reduction of our own (double accumulation),
// not cudnnConvolutionBackwardBias, whose reduction order is not documented.
#include <cudnn.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "cuda_internal.h"
#include "cuda_ops.h"

// Largest workspace an algorithm may ask for. The YOLOv8 convolutions are 1x1 and 3x3, whose
// fast algorithms (implicit GEMM, Winograd) need far less; this only rules out FFT variants that
// would hold hundreds of MiB for a few percent.
#define YL_CUDNN_WORKSPACE_LIMIT ((size_t)256 << 20)
#define YL_CUDNN_ALIGNMENT ((size_t)256)

// cuDNN 9 keeps a thread-local explanation of the last failure; it often names the bad field.
static yl_status cudnn_failure(cudnnStatus_t status, const char *what, const char *file, int line) {
    char detail[512] = "";
    cudnnGetLastErrorString(detail, sizeof detail);
    return yl_error(YL_ERR_BACKEND, "%s:%d: %s: %s%s%s", file, line, what, cudnnGetErrorString(status),
                    detail[0] ? ": " : "", detail);
}

#define YL_CUDNN_CHECK_STATUS(status, what)                                                        \
    do {                                                                                           \
        cudnnStatus_t yl_cudnn_st_ = (status);                                                     \
        if (yl_cudnn_st_ != CUDNN_STATUS_SUCCESS)                                                  \
            return cudnn_failure(yl_cudnn_st_, what, __FILE__, __LINE__);                          \
    } while (0)
#define YL_CUDNN_CHECK(call) YL_CUDNN_CHECK_STATUS(call, #call)

// ---- the per-shape cache ----------------------------------------------------------------------

struct conv_key {
    int n, c, h, w;  // input (or dx)
    int k;           // output channels
    int kernel, stride, pad;
};

struct conv_entry {
    conv_key key;
    cudnnTensorDescriptor_t x_desc;     // (N, C, H, W): x and dx
    cudnnTensorDescriptor_t y_desc;     // (N, K, Ho, Wo): y and dy
    cudnnTensorDescriptor_t bias_desc;  // (1, K, 1, 1): broadcast by cudnnAddTensor
    cudnnFilterDescriptor_t w_desc;     // (K, C, k, k): w and dw
    cudnnConvolutionDescriptor_t conv_desc;
    int out_h, out_w;

    bool forward_ready, backward_data_ready, backward_filter_ready;
    cudnnConvolutionFwdAlgo_t forward_algo;
    cudnnConvolutionBwdDataAlgo_t backward_data_algo;
    cudnnConvolutionBwdFilterAlgo_t backward_filter_algo;
    size_t forward_workspace, backward_data_workspace, backward_filter_workspace;
};

// Open addressing with linear probing; entries live on the heap so growing moves pointers only.
struct yl_cuda_conv_cache {
    conv_entry **slots;
    size_t capacity;  // a power of two
    size_t count;
};

static bool key_equal(const conv_key &a, const conv_key &b) {
    return a.n == b.n && a.c == b.c && a.h == b.h && a.w == b.w && a.k == b.k && a.kernel == b.kernel &&
           a.stride == b.stride && a.pad == b.pad;
}

static uint64_t key_hash(const conv_key &key) {
    const int fields[] = {key.n, key.c, key.h, key.w, key.k, key.kernel, key.stride, key.pad};
    uint64_t hash = 1469598103934665603ull;  // FNV-1a
    for (int field : fields) {
        hash ^= (uint32_t)field;
        hash *= 1099511628211ull;
    }
    return hash;
}

static void entry_destroy(conv_entry *e) {
    if (!e) return;
    if (e->x_desc) cudnnDestroyTensorDescriptor(e->x_desc);
    if (e->y_desc) cudnnDestroyTensorDescriptor(e->y_desc);
    if (e->bias_desc) cudnnDestroyTensorDescriptor(e->bias_desc);
    if (e->w_desc) cudnnDestroyFilterDescriptor(e->w_desc);
    if (e->conv_desc) cudnnDestroyConvolutionDescriptor(e->conv_desc);
    free(e);
}

static yl_status entry_describe(conv_entry *e) {
    const conv_key &key = e->key;
    YL_CUDNN_CHECK(cudnnCreateTensorDescriptor(&e->x_desc));
    YL_CUDNN_CHECK(cudnnCreateTensorDescriptor(&e->y_desc));
    YL_CUDNN_CHECK(cudnnCreateTensorDescriptor(&e->bias_desc));
    YL_CUDNN_CHECK(cudnnCreateFilterDescriptor(&e->w_desc));
    YL_CUDNN_CHECK(cudnnCreateConvolutionDescriptor(&e->conv_desc));
    YL_CUDNN_CHECK(cudnnSetTensor4dDescriptor(e->x_desc, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, key.n, key.c, key.h,
                                              key.w));
    YL_CUDNN_CHECK(cudnnSetFilter4dDescriptor(e->w_desc, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW, key.k, key.c,
                                              key.kernel, key.kernel));
    YL_CUDNN_CHECK(cudnnSetConvolution2dDescriptor(e->conv_desc, key.pad, key.pad, key.stride, key.stride, 1, 1,
                                                   CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT));
    // FMA math, not the default: on Ampere and later CUDNN_DEFAULT_MATH lets fp32 convolutions
    // run on TF32 tensor cores (10-bit mantissa products, ~1e-3 relative error), which would put
    // the GPU far from the CPU reference and from PyTorch with allow_tf32 off. TF32 can become
    // an explicit option later.
    YL_CUDNN_CHECK(cudnnSetConvolutionMathType(e->conv_desc, CUDNN_FMA_MATH));
    int n = 0, k = 0;
    YL_CUDNN_CHECK(cudnnGetConvolution2dForwardOutputDim(e->conv_desc, e->x_desc, e->w_desc, &n, &k, &e->out_h,
                                                         &e->out_w));
    YL_CUDNN_CHECK(cudnnSetTensor4dDescriptor(e->y_desc, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, n, k, e->out_h,
                                              e->out_w));
    YL_CUDNN_CHECK(cudnnSetTensor4dDescriptor(e->bias_desc, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, 1, key.k, 1, 1));
    return YL_OK;
}

static void cache_insert(yl_cuda_conv_cache *cache, conv_entry *e) {
    size_t mask = cache->capacity - 1;
    size_t slot = (size_t)key_hash(e->key) & mask;
    while (cache->slots[slot]) slot = (slot + 1) & mask;
    cache->slots[slot] = e;
    cache->count++;
}

// Keeps the load factor at most 1/2 so probes stay short.
static yl_status cache_reserve(yl_cuda_conv_cache *cache) {
    if (2 * (cache->count + 1) <= cache->capacity) return YL_OK;
    size_t capacity = cache->capacity ? 2 * cache->capacity : 64;
    conv_entry **slots = (conv_entry **)calloc(capacity, sizeof *slots);
    if (!slots) return yl_error(YL_ERR_OOM, "cudnn conv cache: cannot grow to %zu slots", capacity);
    conv_entry **old = cache->slots;
    size_t old_capacity = cache->capacity;
    cache->slots = slots;
    cache->capacity = capacity;
    cache->count = 0;
    for (size_t i = 0; i < old_capacity; i++)
        if (old[i]) cache_insert(cache, old[i]);
    free(old);
    return YL_OK;
}

static yl_status cache_entry(yl_backend *be, const conv_key &key, conv_entry **out) {
    yl_cuda_conv_cache *cache = yl_cuda_state_of(be)->conv_cache;
    if (cache->capacity) {
        size_t mask = cache->capacity - 1;
        for (size_t slot = (size_t)key_hash(key) & mask; cache->slots[slot]; slot = (slot + 1) & mask)
            if (key_equal(cache->slots[slot]->key, key)) {
                *out = cache->slots[slot];
                return YL_OK;
            }
    }
    YL_TRY(cache_reserve(cache));
    conv_entry *e = (conv_entry *)calloc(1, sizeof *e);
    if (!e) return yl_error(YL_ERR_OOM, "cudnn conv cache: out of memory");
    e->key = key;
    yl_status status = entry_describe(e);
    if (status != YL_OK) {
        entry_destroy(e);
        return status;
    }
    cache_insert(cache, e);
    *out = e;
    return YL_OK;
}

static bool fits_int(int64_t v) { return v > 0 && v <= INT32_MAX; }

// x (or dx) and w give the key; the dispatch layer has checked that they fit together.
static yl_status make_key(const yl_tensor *x, const yl_tensor *w, const yl_conv2d_params *p, conv_key *key) {
    for (int d = 0; d < 4; d++)
        if (!fits_int(x->shape[d]) || !fits_int(w->shape[d]))
            return yl_error(YL_ERR_UNSUPPORTED, "a dimension exceeds cuDNN's 32-bit limit");
    // cuDNN's 4-d descriptors address elements with 32-bit strides.
    if (yl_tensor_numel(x) > INT32_MAX)
        return yl_error(YL_ERR_UNSUPPORTED, "%lld elements exceed cuDNN's 2^31 limit for one tensor",
                        (long long)yl_tensor_numel(x));
    *key = conv_key{(int)x->shape[0], (int)x->shape[1], (int)x->shape[2], (int)x->shape[3],
                    (int)w->shape[0], (int)w->shape[2], p->stride, p->pad};
    return YL_OK;
}

static yl_status lookup(yl_backend *be, const yl_tensor *x, const yl_tensor *w, const yl_tensor *y,
                        const yl_conv2d_params *p, conv_entry **out) {
    conv_key key;
    YL_TRY(make_key(x, w, p, &key));
    if (yl_tensor_numel(y) > INT32_MAX)
        return yl_error(YL_ERR_UNSUPPORTED, "%lld output elements exceed cuDNN's 2^31 limit for one tensor",
                        (long long)yl_tensor_numel(y));
    YL_TRY(cache_entry(be, key, out));
    if ((*out)->out_h != y->shape[2] || (*out)->out_w != y->shape[3])
        return yl_error(YL_ERR_SHAPE, "cuDNN computes a %dx%d output, the tensor is %lldx%lld", (*out)->out_h,
                        (*out)->out_w, (long long)y->shape[2], (long long)y->shape[3]);
    return YL_OK;
}

static cudnnHandle_t handle_of(yl_backend *be) { return (cudnnHandle_t)yl_cuda_state_of(be)->cudnn; }

// ---- algorithm choice -------------------------------------------------------------------------

// A scratch output and a workspace for timing; freed as soon as the choice is made, so the
// shared workspace only ever grows to what the chosen algorithms need.
struct tuning_buffers {
    void *base;
    void *output;
    void *workspace;
    size_t workspace_bytes;
};

static size_t align_up(size_t bytes) {
    return (bytes + YL_CUDNN_ALIGNMENT - 1) / YL_CUDNN_ALIGNMENT * YL_CUDNN_ALIGNMENT;
}

static yl_status tuning_buffers_alloc(size_t output_bytes, tuning_buffers *t) {
    *t = tuning_buffers{};
    size_t free_bytes = 0, total_bytes = 0;
    YL_CUDA_CHECK(cudaMemGetInfo(&free_bytes, &total_bytes));
    size_t output_size = align_up(output_bytes);
    size_t limit = YL_CUDNN_WORKSPACE_LIMIT;
    size_t spare = free_bytes > output_size ? (free_bytes - output_size) / 2 : 0;
    if (limit > spare) limit = spare & ~(YL_CUDNN_ALIGNMENT - 1);
    for (;;) {
        cudaError_t err = cudaMalloc(&t->base, output_size + limit);
        if (err == cudaSuccess) break;
        cudaGetLastError();  // an allocation failure is not sticky; keep it from later checks
        t->base = NULL;
        if (limit == 0)
            return yl_error(YL_ERR_OOM, "cannot allocate %zu bytes to choose a cuDNN algorithm: %s", output_size,
                            cudaGetErrorString(err));
        limit = limit > ((size_t)1 << 20) ? (limit / 2) & ~(YL_CUDNN_ALIGNMENT - 1) : 0;
    }
    t->output = t->base;
    t->workspace = limit ? (char *)t->base + output_size : NULL;
    t->workspace_bytes = limit;
    return YL_OK;
}

static void tuning_buffers_free(tuning_buffers *t) {
    if (t->base) cudaFree(t->base);
    *t = tuning_buffers{};
}

// Picks from perf results ranked best first (see the policy at the top of the file).
// `workspace_size(algo, &bytes)` asks cuDNN what the algorithm needs with our descriptors.
template <typename Perf, typename Algo, typename WorkspaceSize>
static bool pick_algorithm(const Perf *perf, int count, size_t limit, WorkspaceSize workspace_size, Algo *algo,
                           size_t *workspace) {
    for (int pass = 0; pass < 2; pass++) {
        bool deterministic_only = pass == 0;
        for (int i = 0; i < count; i++) {
            const Perf &r = perf[i];
            if (r.status != CUDNN_STATUS_SUCCESS || r.memory > limit) continue;
            if (r.mathType == CUDNN_TENSOR_OP_MATH || r.mathType == CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION) continue;
            if (deterministic_only && r.determinism != CUDNN_DETERMINISTIC) continue;
            size_t bytes = 0;
            if (workspace_size(r.algo, &bytes) != CUDNN_STATUS_SUCCESS || bytes > limit) continue;
            *algo = r.algo;
            *workspace = bytes;
            return true;
        }
    }
    return false;
}

static yl_status tune_forward(yl_backend *be, conv_entry *e, const void *x, const void *w, size_t y_bytes) {
    cudnnHandle_t h = handle_of(be);
    auto workspace_size = [&](cudnnConvolutionFwdAlgo_t algo, size_t *bytes) {
        return cudnnGetConvolutionForwardWorkspaceSize(h, e->x_desc, e->w_desc, e->conv_desc, e->y_desc, algo, bytes);
    };
    cudnnConvolutionFwdAlgoPerf_t perf[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
    int count = 0;
    tuning_buffers t;
    YL_TRY(tuning_buffers_alloc(y_bytes, &t));
    cudnnStatus_t st = cudnnFindConvolutionForwardAlgorithmEx(h, e->x_desc, x, e->w_desc, w, e->conv_desc, e->y_desc,
                                                              t.output, CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &count,
                                                              perf, t.workspace, t.workspace_bytes);
    size_t limit = t.workspace_bytes;
    tuning_buffers_free(&t);
    YL_CUDNN_CHECK_STATUS(st, "cudnnFindConvolutionForwardAlgorithmEx");
    bool found = pick_algorithm(perf, count, limit, workspace_size, &e->forward_algo, &e->forward_workspace);
    if (!found) {
        YL_CUDNN_CHECK(cudnnGetConvolutionForwardAlgorithm_v7(h, e->x_desc, e->w_desc, e->conv_desc, e->y_desc,
                                                              CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &count, perf));
        found = pick_algorithm(perf, count, limit, workspace_size, &e->forward_algo, &e->forward_workspace);
    }
    if (!found)
        return yl_error(YL_ERR_BACKEND,
                        "no cuDNN forward algorithm runs in fp32 FMA math within %zu bytes of workspace", limit);
    e->forward_ready = true;
    return YL_OK;
}

static yl_status tune_backward_data(yl_backend *be, conv_entry *e, const void *w, const void *dy, size_t dx_bytes) {
    cudnnHandle_t h = handle_of(be);
    auto workspace_size = [&](cudnnConvolutionBwdDataAlgo_t algo, size_t *bytes) {
        return cudnnGetConvolutionBackwardDataWorkspaceSize(h, e->w_desc, e->y_desc, e->conv_desc, e->x_desc, algo,
                                                            bytes);
    };
    cudnnConvolutionBwdDataAlgoPerf_t perf[CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT];
    int count = 0;
    tuning_buffers t;
    YL_TRY(tuning_buffers_alloc(dx_bytes, &t));
    cudnnStatus_t st = cudnnFindConvolutionBackwardDataAlgorithmEx(
        h, e->w_desc, w, e->y_desc, dy, e->conv_desc, e->x_desc, t.output, CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT,
        &count, perf, t.workspace, t.workspace_bytes);
    size_t limit = t.workspace_bytes;
    tuning_buffers_free(&t);
    YL_CUDNN_CHECK_STATUS(st, "cudnnFindConvolutionBackwardDataAlgorithmEx");
    bool found = pick_algorithm(perf, count, limit, workspace_size, &e->backward_data_algo,
                                &e->backward_data_workspace);
    if (!found) {
        YL_CUDNN_CHECK(cudnnGetConvolutionBackwardDataAlgorithm_v7(h, e->w_desc, e->y_desc, e->conv_desc, e->x_desc,
                                                                   CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT, &count,
                                                                   perf));
        found = pick_algorithm(perf, count, limit, workspace_size, &e->backward_data_algo,
                               &e->backward_data_workspace);
    }
    if (!found)
        return yl_error(YL_ERR_BACKEND,
                        "no cuDNN backward-data algorithm runs in fp32 FMA math within %zu bytes of workspace", limit);
    e->backward_data_ready = true;
    return YL_OK;
}

static yl_status tune_backward_filter(yl_backend *be, conv_entry *e, const void *x, const void *dy, size_t dw_bytes) {
    cudnnHandle_t h = handle_of(be);
    auto workspace_size = [&](cudnnConvolutionBwdFilterAlgo_t algo, size_t *bytes) {
        return cudnnGetConvolutionBackwardFilterWorkspaceSize(h, e->x_desc, e->y_desc, e->conv_desc, e->w_desc, algo,
                                                              bytes);
    };
    cudnnConvolutionBwdFilterAlgoPerf_t perf[CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT];
    int count = 0;
    tuning_buffers t;
    YL_TRY(tuning_buffers_alloc(dw_bytes, &t));
    cudnnStatus_t st = cudnnFindConvolutionBackwardFilterAlgorithmEx(
        h, e->x_desc, x, e->y_desc, dy, e->conv_desc, e->w_desc, t.output, CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT,
        &count, perf, t.workspace, t.workspace_bytes);
    size_t limit = t.workspace_bytes;
    tuning_buffers_free(&t);
    YL_CUDNN_CHECK_STATUS(st, "cudnnFindConvolutionBackwardFilterAlgorithmEx");
    bool found = pick_algorithm(perf, count, limit, workspace_size, &e->backward_filter_algo,
                                &e->backward_filter_workspace);
    if (!found) {
        YL_CUDNN_CHECK(cudnnGetConvolutionBackwardFilterAlgorithm_v7(h, e->x_desc, e->y_desc, e->conv_desc, e->w_desc,
                                                                     CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT, &count,
                                                                     perf));
        found = pick_algorithm(perf, count, limit, workspace_size, &e->backward_filter_algo,
                               &e->backward_filter_workspace);
    }
    if (!found)
        return yl_error(YL_ERR_BACKEND,
                        "no cuDNN backward-filter algorithm runs in fp32 FMA math within %zu bytes of workspace",
                        limit);
    e->backward_filter_ready = true;
    return YL_OK;
}

// ---- bias gradient ----------------------------------------------------------------------------

#define BIAS_GRAD_THREADS 256

// One block per output channel; fixed summation order, so the result is deterministic. Double
// accumulation keeps it as exact as the CPU reference however many pixels are summed.
static __global__ void conv2d_bias_grad_kernel(const float *dy, float *dbias, int batch, int channels, int plane,
                                        bool accumulate) {
    __shared__ double partial[BIAS_GRAD_THREADS];
    int channel = blockIdx.x;
    double sum = 0.0;
    for (int n = 0; n < batch; n++) {
        const float *p = dy + ((size_t)n * channels + channel) * (size_t)plane;
        for (int i = threadIdx.x; i < plane; i += BIAS_GRAD_THREADS) sum += p[i];
    }
    partial[threadIdx.x] = sum;
    __syncthreads();
    for (int stride = BIAS_GRAD_THREADS / 2; stride > 0; stride /= 2) {
        if (threadIdx.x < stride) partial[threadIdx.x] += partial[threadIdx.x + stride];
        __syncthreads();
    }
    if (threadIdx.x == 0) {
        float total = (float)partial[0];
        dbias[channel] = accumulate ? dbias[channel] + total : total;
    }
}

// ---- the ops ----------------------------------------------------------------------------------

static yl_status conv2d_forward(yl_backend *be, const yl_tensor *x, const yl_tensor *w, const yl_tensor *bias,
                                yl_tensor *y, const yl_conv2d_params *p) {
    conv_entry *e;
    YL_TRY(lookup(be, x, w, y, p, &e));
    if (!e->forward_ready) YL_TRY(tune_forward(be, e, x->data, w->data, yl_tensor_nbytes(y)));
    void *workspace = NULL;
    YL_TRY(yl_cuda_workspace(be, e->forward_workspace, &workspace));
    const float one = 1.0f, zero = 0.0f;
    cudnnHandle_t h = handle_of(be);
    YL_CUDNN_CHECK(cudnnConvolutionForward(h, &one, e->x_desc, x->data, e->w_desc, w->data, e->conv_desc,
                                           e->forward_algo, workspace, e->forward_workspace, &zero, e->y_desc,
                                           y->data));
    if (bias) YL_CUDNN_CHECK(cudnnAddTensor(h, &one, e->bias_desc, bias->data, &one, e->y_desc, y->data));
    return YL_OK;
}

static yl_status conv2d_backward_data(yl_backend *be, const yl_tensor *dy, const yl_tensor *w, yl_tensor *dx,
                                      const yl_conv2d_params *p, bool accumulate) {
    conv_entry *e;
    YL_TRY(lookup(be, dx, w, dy, p, &e));
    if (!e->backward_data_ready) YL_TRY(tune_backward_data(be, e, w->data, dy->data, yl_tensor_nbytes(dx)));
    void *workspace = NULL;
    YL_TRY(yl_cuda_workspace(be, e->backward_data_workspace, &workspace));
    // cuDNN blends: dx = 1 * conv_transpose(dy, w) + beta * dx; with beta = 0 dx is not read.
    const float one = 1.0f, beta = accumulate ? 1.0f : 0.0f;
    YL_CUDNN_CHECK(cudnnConvolutionBackwardData(handle_of(be), &one, e->w_desc, w->data, e->y_desc, dy->data,
                                                e->conv_desc, e->backward_data_algo, workspace,
                                                e->backward_data_workspace, &beta, e->x_desc, dx->data));
    return YL_OK;
}

static yl_status conv2d_backward_weight(yl_backend *be, const yl_tensor *x, const yl_tensor *dy, yl_tensor *dw,
                                        yl_tensor *dbias, const yl_conv2d_params *p, bool accumulate) {
    conv_entry *e;
    YL_TRY(lookup(be, x, dw, dy, p, &e));
    if (!e->backward_filter_ready) YL_TRY(tune_backward_filter(be, e, x->data, dy->data, yl_tensor_nbytes(dw)));
    void *workspace = NULL;
    YL_TRY(yl_cuda_workspace(be, e->backward_filter_workspace, &workspace));
    const float one = 1.0f, beta = accumulate ? 1.0f : 0.0f;
    YL_CUDNN_CHECK(cudnnConvolutionBackwardFilter(handle_of(be), &one, e->x_desc, x->data, e->y_desc, dy->data,
                                                  e->conv_desc, e->backward_filter_algo, workspace,
                                                  e->backward_filter_workspace, &beta, e->w_desc, dw->data));
    if (dbias) {
        conv2d_bias_grad_kernel<<<e->key.k, BIAS_GRAD_THREADS, 0, yl_cuda_state_of(be)->stream>>>(
            (const float *)dy->data, (float *)dbias->data, e->key.n, e->key.k, e->out_h * e->out_w, accumulate);
        YL_CUDA_CHECK_LAUNCH("conv2d_backward_weight: bias gradient");
    }
    return YL_OK;
}

// The public entry points add the op and shapes to any error message.
static yl_status with_context(yl_status status, const char *op, const yl_tensor *a, const char *a_name,
                              const yl_tensor *b, const char *b_name) {
    if (status == YL_OK) return YL_OK;
    char sa[96], sb[96];
    return yl_error_context(status, "cuda %s (%s %s, %s %s)", op, a_name, yl_tensor_shape_str(a, sa, sizeof sa),
                            b_name, yl_tensor_shape_str(b, sb, sizeof sb));
}

extern "C" yl_status yl_cuda_conv2d_forward(yl_backend *be, const yl_tensor *x, const yl_tensor *w,
                                            const yl_tensor *bias, yl_tensor *y, const yl_conv2d_params *p) {
    return with_context(conv2d_forward(be, x, w, bias, y, p), "conv2d_forward", x, "x", w, "w");
}

extern "C" yl_status yl_cuda_conv2d_backward_data(yl_backend *be, const yl_tensor *dy, const yl_tensor *w,
                                                  yl_tensor *dx, const yl_conv2d_params *p, bool accumulate) {
    return with_context(conv2d_backward_data(be, dy, w, dx, p, accumulate), "conv2d_backward_data", dy, "dy", w,
                        "w");
}

extern "C" yl_status yl_cuda_conv2d_backward_weight(yl_backend *be, const yl_tensor *x, const yl_tensor *dy,
                                                    yl_tensor *dw, yl_tensor *dbias, const yl_conv2d_params *p,
                                                    bool accumulate) {
    return with_context(conv2d_backward_weight(be, x, dy, dw, dbias, p, accumulate), "conv2d_backward_weight", x,
                        "x", dw, "dw");
}

// ---- handle and cache lifetime ----------------------------------------------------------------

extern "C" yl_status yl_cuda_conv_init(yl_backend *be) {
    yl_cuda_state *state = yl_cuda_state_of(be);
    cudnnHandle_t h = NULL;
    YL_CUDNN_CHECK(cudnnCreate(&h));
    state->cudnn = h;
    YL_CUDNN_CHECK(cudnnSetStream(h, state->stream));
    state->conv_cache = (yl_cuda_conv_cache *)calloc(1, sizeof *state->conv_cache);
    if (!state->conv_cache) return yl_error(YL_ERR_OOM, "cudnn conv cache: out of memory");
    return YL_OK;
}

extern "C" void yl_cuda_conv_release(yl_backend *be) {
    yl_cuda_state *state = yl_cuda_state_of(be);
    if (!state) return;
    yl_cuda_conv_cache *cache = state->conv_cache;
    if (cache) {
        for (size_t i = 0; i < cache->capacity; i++) entry_destroy(cache->slots[i]);
        free(cache->slots);
        free(cache);
        state->conv_cache = NULL;
    }
    if (state->cudnn) cudnnDestroy((cudnnHandle_t)state->cudnn);
    state->cudnn = NULL;
}
