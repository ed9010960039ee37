// The mapping step of validation (spec §5.3): predictions and GT to original-image pixels, then
// the evaluator. Kept apart so that tests can push ground truth through exactly this path.
#include <math.h>

#include "engine/train/validate.h"

yl_ratio_pad yl_validator_ratio_pad(const yl_batch_image *info) {
    // The loader records gain = letterbox ratio * resized / original in float; in validation the
    // letterbox ratio is 1 (scaleup off, the batch shape holds the resized image), so the resized
    // height is recovered exactly and Ultralytics' double ratio resized_h / h0 rebuilt from it.
    const double resized_h = nearbyint((double)info->gain_y * info->original_height);
    yl_ratio_pad rp = {
        .gain = info->original_height > 0 ? resized_h / info->original_height : 1.0,
        .pad_x = info->pad_x,
        .pad_y = info->pad_y,
    };
    return rp;
}

yl_status yl_validator_add_mapped(yl_evaluator *ev, yl_detection *dets, int64_t n_det, const float *gt_xywhn,
                                  const int32_t *gt_cls, int64_t n_gt, int h1, int w1, const yl_ratio_pad *ratio_pad,
                                  int h0, int w0, float *gt_scratch) {
    if (!ev || !ratio_pad || (n_det > 0 && !dets) || (n_gt > 0 && (!gt_xywhn || !gt_cls || !gt_scratch)))
        return yl_error(YL_ERR_INVALID_ARG, "validator: NULL argument in add_mapped");
    if (h1 <= 0 || w1 <= 0 || h0 <= 0 || w0 <= 0)
        return yl_error(YL_ERR_INVALID_ARG, "validator: bad image sizes input %dx%d original %dx%d", w1, h1, w0, h0);
    if (n_det > 0) yl_scale_detections(dets, n_det, ratio_pad, h0, w0);
    if (n_gt > 0) yl_labels_to_original(gt_xywhn, n_gt, h1, w1, ratio_pad, h0, w0, gt_scratch);
    return yl_evaluator_add_image(ev, dets, n_det, gt_scratch, gt_cls, n_gt, NULL);
}
