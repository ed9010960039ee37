// Prediction <-> GT matching on the GPU (match.cu): the device half of yl_match_predictions_cuda
// (engine/eval/match.h), which checks the arguments.
//
// One block per image. Each thread takes predictions d = t, t + T, ...: it optionally maps the box to
// the original image (scale_boxes), then finds its best same-class GT (largest IoU, equal IoUs: the
// later GT). That one pass serves all ten thresholds: at threshold t the CPU's choice for d is the best
// same-class GT among those with IoU >= t, which is the overall best when its IoU >= t and none
// otherwise. Per threshold, each GT keeps the lowest prediction index that chose it (an integer
// atomicMin, whose result does not depend on order), and those predictions get bit t.
// IoU and scaling are written with __fmul_rn etc. so they round exactly as engine/eval/boxes.c.
//
// Outside CUDA builds yl_cuda_match_run is an inline stub that returns YL_ERR_UNSUPPORTED.
#pragma once
#include <stdint.h>

#include "engine/core/status.h"
#include "engine/ops/backend.h"

#ifdef __cplusplus
extern "C" {
#endif
// The engine/eval headers have no C++ guards of their own.
#include "engine/eval/boxes.h"
#include "engine/eval/match.h"

#ifdef YOLOOP_HAVE_CUDA

// Arguments already checked (engine/eval/match.c). Blocks until tp (host) is written.
yl_status yl_cuda_match_run(yl_backend *be, const yl_detection *device_dets, int64_t det_stride,
                            const yl_match_image *images, int64_t n_images, const float *gt_boxes,
                            const int32_t *gt_cls, int64_t n_gt_total, yl_tp_mask *tp);

#else

static inline yl_status yl_cuda_match_run(yl_backend *be, const yl_detection *device_dets, int64_t det_stride,
                                          const yl_match_image *images, int64_t n_images, const float *gt_boxes,
                                          const int32_t *gt_cls, int64_t n_gt_total, yl_tp_mask *tp) {
    (void)be, (void)device_dets, (void)det_stride, (void)images, (void)n_images, (void)gt_boxes, (void)gt_cls,
        (void)n_gt_total, (void)tp;
    return yl_error(YL_ERR_UNSUPPORTED,
                    "match: this build of yoloop has no CUDA backend (nvcc or cuDNN was not found)");
}

#endif

#ifdef __cplusplus
}
#endif
