// NMS on the GPU (nms.cu): the device half of yl_nms_cuda (engine/eval/nms.h), which checks the
// arguments and turns a reported problem into the CPU path's error message.
//
// Per image, all on the device: one thread per anchor writes a sort key for every (anchor, class)
// pair (multi-label) or anchor (best class): the score's bits when the pair is a candidate, else 0;
// CUB's stable radix sort orders the keys descending, so candidates come first by descending score
// and equal scores stay in (anchor, class) order — the CPU path's order; the first min(candidates,
// max_nms) are gathered with their class-offset boxes; a 64 x 64 tile kernel writes, for every box,
// a bit mask of the later boxes it suppresses (IoU > iou_thres, computed as the CPU path does); one
// block then walks the boxes in order, keeping those not yet suppressed, up to max_det.
//
// Outside CUDA builds yl_cuda_nms_run is an inline stub that returns YL_ERR_UNSUPPORTED.
#pragma once
#include <stdint.h>

#include "engine/core/status.h"
#include "engine/core/tensor.h"
#include "engine/ops/backend.h"

#ifdef __cplusplus
extern "C" {
#endif
// The engine/eval headers have no C++ guards of their own.
#include "engine/eval/nms.h"

#ifdef YOLOOP_HAVE_CUDA

// pred: checked CUDA tensor (B, 4 + nc, A), any strides; options checked. Writes image b's detections
// to device_out[b * max_det ...] (device memory; NULL: scratch, then only `out` receives them), copies
// them to out (host, may be NULL) and the per-image counts to counts (host). Blocks until done.
// *problem: -1, or the first (in the CPU path's scan order) NaN score or non-finite candidate box,
// encoded (image * A + anchor) * (nc + 1) + class, class = nc for the box; outputs are then garbage.
yl_status yl_cuda_nms_run(yl_backend *be, const yl_tensor *pred, const yl_nms_options *options,
                          yl_detection *device_out, yl_detection *out, int64_t *counts, int64_t *problem);

#else

static inline yl_status yl_cuda_nms_run(yl_backend *be, const yl_tensor *pred, const yl_nms_options *options,
                                        yl_detection *device_out, yl_detection *out, int64_t *counts,
                                        int64_t *problem) {
    (void)be, (void)pred, (void)options, (void)device_out, (void)out, (void)counts;
    if (problem) *problem = -1;
    return yl_error(YL_ERR_UNSUPPORTED, "nms: this build of yoloop has no CUDA backend (nvcc or cuDNN was not found)");
}

#endif

#ifdef __cplusplus
}
#endif
