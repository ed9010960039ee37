// Optimizer, gradient-clipping and EMA loops on the GPU (optim.cu): the device half of
// engine/optim (optimizer.c, grad_clip.c, ema.c), which check everything and build the segment
// lists once. The formulas are engine/optim/optim_kernels.h's, element by element.
//
// Segments are processed in launches of up to YL_CUDA_OPTIM_BATCH tensors passed by value in the
// kernel arguments (PyTorch's multi-tensor-apply idea): blockIdx.y picks the tensor, a grid-stride
// loop over blockIdx.x covers it; no device-side table, so nothing goes stale. Sums of squares
// reduce per block in double into the shared workspace, then one block per tensor adds its block
// partials in a fixed order: repeatable bit for bit.
//
// Outside CUDA builds every function is an inline stub that returns YL_ERR_UNSUPPORTED.
#pragma once
#include <stdbool.h>

#include "engine/core/status.h"
#include "engine/ops/backend.h"
#include "engine/optim/optim_kernels.h"

#ifdef __cplusplus
extern "C" {
#endif

#ifdef YOLOOP_HAVE_CUDA

yl_status yl_cuda_optim_sgd(yl_backend *be, const yl_optim_segment *segments, int count,
                            const yl_sgd_coefs coefs[YL_OPTIM_GROUPS], bool first_step);
yl_status yl_cuda_optim_adamw(yl_backend *be, const yl_optim_segment *segments, int count,
                              const yl_adamw_coefs coefs[YL_OPTIM_GROUPS]);
// sums (host, count doubles) receives each segment's sum of grad^2; blocks until done.
yl_status yl_cuda_optim_sum_squares(yl_backend *be, const yl_optim_segment *segments, int count, double *sums);
yl_status yl_cuda_optim_scale_grads(yl_backend *be, const yl_optim_segment *segments, int count, float factor);
yl_status yl_cuda_optim_blend(yl_backend *be, const yl_optim_pair *pairs, int count, float keep, float blend);
yl_status yl_cuda_optim_swap(yl_backend *be, const yl_optim_pair *pairs, int count);

#else

static inline yl_status yl_cuda_optim_unavailable(void) {
    return yl_error(YL_ERR_UNSUPPORTED,
                    "optimizer: this build of yoloop has no CUDA backend (nvcc or cuDNN was not found)");
}
static inline yl_status yl_cuda_optim_sgd(yl_backend *be, const yl_optim_segment *segments, int count,
                                          const yl_sgd_coefs coefs[YL_OPTIM_GROUPS], bool first_step) {
    (void)be, (void)segments, (void)count, (void)coefs, (void)first_step;
    return yl_cuda_optim_unavailable();
}
static inline yl_status yl_cuda_optim_adamw(yl_backend *be, const yl_optim_segment *segments, int count,
                                            const yl_adamw_coefs coefs[YL_OPTIM_GROUPS]) {
    (void)be, (void)segments, (void)count, (void)coefs;
    return yl_cuda_optim_unavailable();
}
static inline yl_status yl_cuda_optim_sum_squares(yl_backend *be, const yl_optim_segment *segments, int count,
                                                  double *sums) {
    (void)be, (void)segments, (void)count, (void)sums;
    return yl_cuda_optim_unavailable();
}
static inline yl_status yl_cuda_optim_scale_grads(yl_backend *be, const yl_optim_segment *segments, int count,
                                                  float factor) {
    (void)be, (void)segments, (void)count, (void)factor;
    return yl_cuda_optim_unavailable();
}
static inline yl_status yl_cuda_optim_blend(yl_backend *be, const yl_optim_pair *pairs, int count, float keep,
                                            float blend) {
    (void)be, (void)pairs, (void)count, (void)keep, (void)blend;
    return yl_cuda_optim_unavailable();
}
static inline yl_status yl_cuda_optim_swap(yl_backend *be, const yl_optim_pair *pairs, int count) {
    (void)be, (void)pairs, (void)count;
    return yl_cuda_optim_unavailable();
}

#endif

#ifdef __cplusplus
}
#endif
