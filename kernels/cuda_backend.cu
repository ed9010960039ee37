// The CUDA backend: one device, one stream, a cuBLAS and a cuDNN handle bound to that stream,
// one shared workspace, and the op table filled with the yl_cuda_* functions (cuda_ops.h).
// Every op enqueues on the stream; errors from asynchronous work surface at synchronize().
#include <cstdlib>

#include "cuda_internal.h"
#include "cuda_ops.h"

// Workspace sizes are rounded up so a sequence of slightly growing requests does not resize
// (and synchronise) every time.
#define YL_CUDA_WORKSPACE_GRANULE ((size_t)1 << 20)

static bool cuda_supports(const yl_backend *be, yl_op op) {
    (void)be;
    return (unsigned)op < YL_OP_COUNT;
}

// Releases whatever cuda_backend_init managed to create, so it also cleans up a failed start.
static void cuda_destroy(yl_backend *be) {
    if (!be) return;
    yl_cuda_state *state = yl_cuda_state_of(be);
    if (state) {
        cudaSetDevice(state->device_index);
        if (state->stream) cudaStreamSynchronize(state->stream);
        yl_cuda_conv_release(be);
        if (state->cublas) cublasDestroy(state->cublas);
        if (state->workspace) cudaFree(state->workspace);
        if (state->stream) cudaStreamDestroy(state->stream);
        // Errors met while tearing down must not be reported by a later, unrelated check.
        cudaGetLastError();
        free(state);
    }
    free(be);
}

static yl_status cuda_alloc(yl_backend *be, size_t bytes, void **out) {
    (void)be;
    *out = NULL;
    // cudaMalloc returns at least 256-byte aligned memory, which is what the arenas assume.
    cudaError_t err = cudaMalloc(out, bytes ? bytes : 1);
    if (err != cudaSuccess) {
        cudaGetLastError();
        *out = NULL;
        return yl_error(YL_ERR_OOM, "cuda: cannot allocate %zu bytes of device memory: %s", bytes,
                        cudaGetErrorString(err));
    }
    return YL_OK;
}

static void cuda_free(yl_backend *be, void *ptr) {
    (void)be;
    if (ptr) cudaFree(ptr);
}

// Asynchronous on the stream. A pageable source may be reused as soon as this returns (the
// runtime stages it); a pinned source must stay untouched until the next synchronize().
static yl_status cuda_copy_from_host(yl_backend *be, void *dst, const void *src, size_t bytes) {
    if (!bytes) return YL_OK;
    YL_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, yl_cuda_state_of(be)->stream));
    return YL_OK;
}

// Waits for the copy (and everything queued before it), so the host data is ready on return.
static yl_status cuda_copy_to_host(yl_backend *be, void *dst, const void *src, size_t bytes) {
    if (!bytes) return YL_OK;
    cudaStream_t stream = yl_cuda_state_of(be)->stream;
    YL_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, stream));
    YL_CUDA_CHECK(cudaStreamSynchronize(stream));
    return YL_OK;
}

static yl_status cuda_memset_zero(yl_backend *be, void *dst, size_t bytes) {
    if (!bytes) return YL_OK;
    YL_CUDA_CHECK(cudaMemsetAsync(dst, 0, bytes, yl_cuda_state_of(be)->stream));
    return YL_OK;
}

// A fault inside a kernel is only seen here (or at the next blocking call): report it with
// the hint that the failing op is somewhere in the queued work, not necessarily the last one.
static yl_status cuda_synchronize(yl_backend *be) {
    cudaError_t err = cudaStreamSynchronize(yl_cuda_state_of(be)->stream);
    if (err == cudaSuccess) err = cudaGetLastError();
    if (err != cudaSuccess)
        return yl_error(YL_ERR_BACKEND,
                        "cuda: error in work queued on the stream (any op since the last synchronize): %s",
                        cudaGetErrorString(err));
    return YL_OK;
}

extern "C" yl_status yl_cuda_workspace(yl_backend *be, size_t bytes, void **out) {
    yl_cuda_state *state = yl_cuda_state_of(be);
    if (bytes > state->workspace_bytes) {
        size_t size = (bytes + YL_CUDA_WORKSPACE_GRANULE - 1) / YL_CUDA_WORKSPACE_GRANULE * YL_CUDA_WORKSPACE_GRANULE;
        // Queued kernels may still be using the old buffer.
        YL_CUDA_CHECK(cudaStreamSynchronize(state->stream));
        if (state->workspace) YL_CUDA_CHECK(cudaFree(state->workspace));
        state->workspace = NULL;
        state->workspace_bytes = 0;
        cudaError_t err = cudaMalloc(&state->workspace, size);
        if (err != cudaSuccess) {
            cudaGetLastError();
            state->workspace = NULL;
            *out = NULL;
            return yl_error(YL_ERR_OOM, "cuda workspace: cannot grow to %zu bytes: %s", size, cudaGetErrorString(err));
        }
        state->workspace_bytes = size;
    }
    *out = state->workspace;
    return YL_OK;
}

static void fill_op_table(yl_backend *be) {
    be->conv2d_forward = yl_cuda_conv2d_forward;
    be->conv2d_backward_data = yl_cuda_conv2d_backward_data;
    be->conv2d_backward_weight = yl_cuda_conv2d_backward_weight;
    be->batchnorm2d_forward_train = yl_cuda_batchnorm2d_forward_train;
    be->batchnorm2d_forward_eval = yl_cuda_batchnorm2d_forward_eval;
    be->batchnorm2d_backward_train = yl_cuda_batchnorm2d_backward_train;
    be->batchnorm2d_backward_eval = yl_cuda_batchnorm2d_backward_eval;
    be->bn_silu_forward_train = yl_cuda_bn_silu_forward_train;
    be->bn_silu_forward_eval = yl_cuda_bn_silu_forward_eval;
    be->silu_forward = yl_cuda_silu_forward;
    be->silu_backward = yl_cuda_silu_backward;
    be->sigmoid_forward = yl_cuda_sigmoid_forward;
    be->sigmoid_backward = yl_cuda_sigmoid_backward;
    be->add_forward = yl_cuda_add_forward;
    be->add_backward = yl_cuda_add_backward;
    be->maxpool2d_forward = yl_cuda_maxpool2d_forward;
    be->maxpool2d_backward = yl_cuda_maxpool2d_backward;
    be->upsample_nearest2x_forward = yl_cuda_upsample_nearest2x_forward;
    be->upsample_nearest2x_backward = yl_cuda_upsample_nearest2x_backward;
    be->concat_channels = yl_cuda_concat_channels;
    be->split_channels = yl_cuda_split_channels;
    be->dfl_decode_forward = yl_cuda_dfl_decode_forward;
    be->dfl_decode_backward = yl_cuda_dfl_decode_backward;
    be->box_decode_forward = yl_cuda_box_decode_forward;
}

// Everything that can fail, in order; the caller destroys the partial backend on failure.
static yl_status cuda_backend_init(yl_backend *be, int device_index) {
    yl_cuda_state *state = yl_cuda_state_of(be);
    YL_CUDA_CHECK(cudaSetDevice(device_index));
    // A blocking stream (not cudaStreamNonBlocking) keeps any stray default-stream call ordered
    // with our work, at no cost when there is none.
    YL_CUDA_CHECK(cudaStreamCreate(&state->stream));
    YL_CUBLAS_CHECK(cublasCreate(&state->cublas));
    YL_CUBLAS_CHECK(cublasSetStream(state->cublas, state->stream));
    // cuBLAS's default math mode keeps fp32 GEMMs in fp32 (no TF32), like the cuDNN convolutions.
    YL_CUBLAS_CHECK(cublasSetMathMode(state->cublas, CUBLAS_DEFAULT_MATH));
    YL_TRY(yl_cuda_conv_init(be));
    return YL_OK;
}

extern "C" yl_status yl_backend_cuda_create(yl_backend **out, int device_index) {
    if (!out) return yl_error(YL_ERR_INVALID_ARG, "backend_cuda_create: NULL argument");
    *out = NULL;
    int count = 0;
    cudaError_t err = cudaGetDeviceCount(&count);
    if (err != cudaSuccess) {
        cudaGetLastError();
        return yl_error(YL_ERR_DEVICE, "no CUDA device: %s", cudaGetErrorString(err));
    }
    if (count < 1) return yl_error(YL_ERR_DEVICE, "no CUDA device: the driver reports none");
    if (device_index < 0 || device_index >= count)
        return yl_error(YL_ERR_DEVICE, "CUDA device %d does not exist (%d device%s present)", device_index, count,
                        count == 1 ? "" : "s");

    yl_backend *be = (yl_backend *)calloc(1, sizeof *be);
    yl_cuda_state *state = (yl_cuda_state *)calloc(1, sizeof *state);
    if (!be || !state) {
        free(be);
        free(state);
        return yl_error(YL_ERR_OOM, "backend_cuda_create: out of memory");
    }
    state->device_index = device_index;
    be->name = "cuda";
    be->device = YL_DEVICE_CUDA;
    be->impl = state;
    be->supports = cuda_supports;
    be->destroy = cuda_destroy;
    be->alloc = cuda_alloc;
    be->free = cuda_free;
    be->copy_from_host = cuda_copy_from_host;
    be->copy_to_host = cuda_copy_to_host;
    be->memset_zero = cuda_memset_zero;
    be->synchronize = cuda_synchronize;
    fill_op_table(be);

    yl_status status = cuda_backend_init(be, device_index);
    if (status != YL_OK) {
        cuda_destroy(be);
        return yl_error_context(status, "CUDA device %d", device_index);
    }
    *out = be;
    return YL_OK;
}
