#include "match.h"

#include <string.h>

#include "kernels/match_cuda.h"

const float yl_eval_iou_thresholds[YL_EVAL_IOU_COUNT] = {0.50f, 0.55f, 0.60f, 0.65f, 0.70f,
                                                         0.75f, 0.80f, 0.85f, 0.90f, 0.95f};

// Ultralytics sorts the pairs and de-duplicates them with np.unique; the same outcome without a
// sort: a prediction's pick is its best pair (equal IoUs: the larger GT index, which the reversed
// ascending sort puts first).

void yl_match_predictions(const float *iou, const int32_t *gt_cls, int64_t n_gt, const int32_t *pred_cls,
                          int64_t n_pred, int32_t *scratch, yl_tp_mask *tp) {
    if (n_pred == 0) return;
    memset(tp, 0, (size_t)n_pred * sizeof *tp);
    if (n_gt == 0) return;
    int32_t *pred_choice = scratch, *gt_winner = scratch + n_pred;
    for (int t = 0; t < YL_EVAL_IOU_COUNT; t++) {
        float threshold = yl_eval_iou_thresholds[t];
        for (int64_t d = 0; d < n_pred; d++) {
            pred_choice[d] = -1;
            float best = 0.0f;
            for (int64_t g = 0; g < n_gt; g++) {
                float v = iou[g * n_pred + d];
                if (gt_cls[g] != pred_cls[d] || !(v >= threshold)) continue;
                if (pred_choice[d] < 0 || v >= best) {
                    best = v;
                    pred_choice[d] = (int32_t)g;
                }
            }
        }
        // Survivors come out in ascending prediction order; a GT keeps the first one that chose it.
        for (int64_t g = 0; g < n_gt; g++) gt_winner[g] = -1;
        for (int64_t d = 0; d < n_pred; d++)
            if (pred_choice[d] >= 0 && gt_winner[pred_choice[d]] < 0) gt_winner[pred_choice[d]] = (int32_t)d;
        for (int64_t g = 0; g < n_gt; g++)
            if (gt_winner[g] >= 0) tp[gt_winner[g]] |= (yl_tp_mask)(1u << t);
    }
}

void yl_confusion_update(double *matrix, int nc, const float *iou, const int32_t *gt_cls, int64_t n_gt,
                         const float *pred_conf, const int32_t *pred_cls, int64_t n_pred, float conf_thres,
                         float iou_thres, int32_t *scratch) {
    int64_t stride = nc + 1;
    int32_t *kept = scratch, *pred_choice = scratch + n_pred, *gt_winner = scratch + 2 * n_pred;
    int64_t n_kept = 0;
    for (int64_t d = 0; d < n_pred; d++)
        if (pred_conf[d] > conf_thres) kept[n_kept++] = (int32_t)d;

    // Each kept prediction picks its highest-IoU GT (any class).
    for (int64_t k = 0; k < n_kept; k++) {
        pred_choice[k] = -1;
        float best = 0.0f;
        for (int64_t g = 0; g < n_gt; g++) {
            float v = iou[g * n_pred + kept[k]];
            if (!(v > iou_thres)) continue;
            if (pred_choice[k] < 0 || v >= best) {
                best = v;
                pred_choice[k] = (int32_t)g;
            }
        }
    }
    // Each GT keeps the highest-IoU prediction among those that picked it; Ultralytics re-sorts
    // the survivors (in ascending prediction order) with argsort()[::-1], so equal IoUs favour
    // the later prediction.
    for (int64_t g = 0; g < n_gt; g++) gt_winner[g] = -1;
    for (int64_t k = 0; k < n_kept; k++) {
        int32_t g = pred_choice[k];
        if (g < 0) continue;
        if (gt_winner[g] < 0 || iou[g * n_pred + kept[k]] >= iou[g * n_pred + kept[gt_winner[g]]])
            gt_winner[g] = (int32_t)k;
    }

    for (int64_t g = 0; g < n_gt; g++) {
        if (gt_winner[g] >= 0)
            matrix[pred_cls[kept[gt_winner[g]]] * stride + gt_cls[g]] += 1.0;
        else
            matrix[nc * stride + gt_cls[g]] += 1.0;
    }
    // A prediction is matched when it won its GT; the others are background false positives.
    for (int64_t k = 0; k < n_kept; k++) pred_choice[k] = -1;
    for (int64_t g = 0; g < n_gt; g++)
        if (gt_winner[g] >= 0) pred_choice[gt_winner[g]] = (int32_t)g;
    for (int64_t k = 0; k < n_kept; k++)
        if (pred_choice[k] < 0) matrix[pred_cls[kept[k]] * stride + nc] += 1.0;
}

yl_status yl_match_predictions_cuda(yl_backend *cuda, const yl_detection *device_dets, int64_t det_stride,
                                    const yl_match_image *images, int64_t n_images, const float *gt_boxes,
                                    const int32_t *gt_cls, int64_t n_gt_total, yl_tp_mask *tp) {
    if (!cuda || (n_images > 0 && (!images || !tp)) || (n_gt_total > 0 && (!gt_boxes || !gt_cls)))
        return yl_error(YL_ERR_INVALID_ARG, "match (cuda): NULL argument");
    if (cuda->device != YL_DEVICE_CUDA)
        return yl_error(YL_ERR_DEVICE, "match (cuda): backend '%s' is not a CUDA backend", cuda->name);
    if (n_images < 0 || det_stride < 0 || n_gt_total < 0 || det_stride > INT32_MAX || n_gt_total > INT32_MAX)
        return yl_error(YL_ERR_INVALID_ARG, "match (cuda): %lld images, stride %lld, %lld GT rows", (long long)n_images,
                        (long long)det_stride, (long long)n_gt_total);
    int64_t gt_end = 0;  // where the previous image's GT rows end
    for (int64_t i = 0; i < n_images; i++) {
        const yl_match_image *im = &images[i];
        if (im->gt_begin < gt_end)
            return yl_error(YL_ERR_INVALID_ARG, "match (cuda): image %lld: GT rows start at %lld, inside image %lld's",
                            (long long)i, (long long)im->gt_begin, (long long)(i - 1));
        if (im->n_pred < 0 || im->n_pred > det_stride || im->n_gt < 0 || im->gt_begin < 0 ||
            im->gt_begin + im->n_gt > n_gt_total)
            return yl_error(YL_ERR_INVALID_ARG,
                            "match (cuda): image %lld: %lld predictions (stride %lld), GT rows [%lld, %lld) of %lld",
                            (long long)i, (long long)im->n_pred, (long long)det_stride, (long long)im->gt_begin,
                            (long long)(im->gt_begin + im->n_gt), (long long)n_gt_total);
        gt_end = im->gt_begin + im->n_gt;
        if (im->n_pred > 0 && !device_dets) return yl_error(YL_ERR_INVALID_ARG, "match (cuda): NULL detections");
        if (im->h0 > 0 && (im->w0 <= 0 || !(im->ratio_pad.gain > 0.0)))
            return yl_error(YL_ERR_INVALID_ARG, "match (cuda): image %lld: original size %dx%d, gain %g", (long long)i,
                            im->h0, im->w0, im->ratio_pad.gain);
    }
    if (n_images == 0) return YL_OK;
    return yl_cuda_match_run(cuda, device_dets, det_stride, images, n_images, gt_boxes, gt_cls, n_gt_total, tp);
}
