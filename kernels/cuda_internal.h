// State shared by the CUDA translation units: the stream, library handles, the one shared
// workspace, and error-check macros. Only .cu files include this.
#pragma once
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include "engine/core/status.h"
#include "engine/ops/backend.h"

typedef struct yl_cuda_conv_cache yl_cuda_conv_cache;  // conv_cudnn.cu: algorithm choice per shape

typedef struct {
    int device_index;
    cudaStream_t stream;
    cublasHandle_t cublas;
    void *cudnn;  // cudnnHandle_t; cuDNN types stay inside conv_cudnn.cu
    yl_cuda_conv_cache *conv_cache;
    void *workspace;  // one scratch buffer for cuDNN and any kernel, grown to the largest need
    size_t workspace_bytes;
} yl_cuda_state;

static inline yl_cuda_state *yl_cuda_state_of(yl_backend *be) { return (yl_cuda_state *)be->impl; }

#ifdef __cplusplus
extern "C" {
#endif
// Grows the shared workspace to at least `bytes` (synchronising before a resize) and returns it.
yl_status yl_cuda_workspace(yl_backend *be, size_t bytes, void **out);
// conv_cudnn.cu: create and destroy the cuDNN handle and the algorithm cache.
yl_status yl_cuda_conv_init(yl_backend *be);
void yl_cuda_conv_release(yl_backend *be);
#ifdef __cplusplus
}
#endif

#define YL_CUDA_CHECK(call)                                                                        \
    do {                                                                                           \
        cudaError_t yl_cuda_err_ = (call);                                                         \
        if (yl_cuda_err_ != cudaSuccess)                                                           \
            return yl_error(YL_ERR_BACKEND, "%s:%d: %s: %s", __FILE__, __LINE__, #call,            \
                            cudaGetErrorString(yl_cuda_err_));                                     \
    } while (0)

// After a kernel launch: reports launch-configuration errors (not asynchronous faults).
#define YL_CUDA_CHECK_LAUNCH(what)                                                                 \
    do {                                                                                           \
        cudaError_t yl_cuda_err_ = cudaGetLastError();                                             \
        if (yl_cuda_err_ != cudaSuccess)                                                           \
            return yl_error(YL_ERR_BACKEND, "%s: kernel launch failed: %s", what,                  \
                            cudaGetErrorString(yl_cuda_err_));                                     \
    } while (0)

#define YL_CUBLAS_CHECK(call)                                                                      \
    do {                                                                                           \
        cublasStatus_t yl_cublas_st_ = (call);                                                     \
        if (yl_cublas_st_ != CUBLAS_STATUS_SUCCESS)                                                \
            return yl_error(YL_ERR_BACKEND, "%s:%d: %s: cuBLAS status %d", __FILE__, __LINE__,     \
                            #call, (int)yl_cublas_st_);                                            \
    } while (0)
