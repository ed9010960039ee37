// Prediction <-> ground-truth matching for one image, as Ultralytics 8.3 validates detections
// (BaseValidator.match_predictions, greedy path) and fills its confusion matrix
// (ConfusionMatrix.process_batch).
//
// Ties in IoU: Ultralytics orders candidate pairs with numpy's argsort()[::-1], so among equal
// IoUs the later pair in (gt, prediction) row-major order comes first — exactly so for up to 16
// pairs, where numpy's quicksort is an insertion sort; for more, numpy leaves the order of equal
// values unspecified. We always apply that small-array rule.
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "boxes.h"
#include "engine/core/status.h"
#include "engine/ops/backend.h"

#define YL_EVAL_IOU_COUNT 10
// torch.linspace(0.5, 0.95, 10) in float32: 0.50, 0.55, ..., 0.95.
extern const float yl_eval_iou_thresholds[YL_EVAL_IOU_COUNT];

// A bit mask per prediction: bit t set = a true positive at yl_eval_iou_thresholds[t].
typedef uint16_t yl_tp_mask;

// match_predictions. iou: n_gt x n_pred (row = GT), as box_iou(gt_boxes, pred_boxes) gives.
// For each threshold t: pairs with the same class and IoU >= t; each prediction keeps its
// highest-IoU GT; each GT then keeps the lowest-index prediction among those that chose it (the
// highest confidence when predictions are in NMS order); those predictions are correct at t.
// Writes n_pred masks to tp. Needs n_pred + n_gt int32 of scratch.
void yl_match_predictions(const float *iou, const int32_t *gt_cls, int64_t n_gt, const int32_t *pred_cls,
                          int64_t n_pred, int32_t *scratch, yl_tp_mask *tp);

// ConfusionMatrix.process_batch for detection. matrix: (nc + 1) x (nc + 1) doubles, row =
// predicted class, column = true class, index nc = background. Predictions with conf <= conf_thres
// are ignored (Ultralytics uses 0.25 when validation runs at its default conf 0.001). A GT is
// matched to a prediction of any class with IoU > iou_thres (0.45): each prediction keeps its
// highest-IoU GT, each GT the highest-IoU prediction among those (equal IoUs: the later
// prediction). Matched -> matrix[pred class][gt class]; unmatched GT -> matrix[nc][gt class];
// unmatched prediction -> matrix[pred class][nc].
// iou: n_gt x n_pred as above (for all predictions; filtering happens here). Needs
// 2 * n_pred + n_gt int32 of scratch.
void yl_confusion_update(double *matrix, int nc, const float *iou, const int32_t *gt_cls, int64_t n_gt,
                         const float *pred_conf, const int32_t *pred_cls, int64_t n_pred, float conf_thres,
                         float iou_thres, int32_t *scratch);

// One image for yl_match_predictions_cuda.
typedef struct {
    int64_t n_pred;    // its detections (its NMS count)
    int64_t gt_begin;  // its first row in gt_boxes / gt_cls
    int64_t n_gt;
    // h0 > 0: the predictions are first mapped to the original image h0 x w0 as yl_scale_detections does
    // (Ultralytics <= 8.3.167 matches there; the GT must then be there too). h0 == 0: used as they are.
    yl_ratio_pad ratio_pad;
    int h0, w0;
} yl_match_image;

// yl_match_predictions for a batch of images on the GPU (kernels/match.cu), reading the detections
// where yl_nms_cuda left them: image i's are device_dets[i * det_stride ...] (device memory, NMS order).
// gt_boxes (n_gt_total xyxy rows) and gt_cls are host arrays, the images' GT rows in order and not
// overlapping (each image's range is its scratch on the device); tp (host) receives image i's masks at
// tp[i * det_stride ...], the same masks yl_match_predictions gives on yl_box_iou_matrix(GT, preds).
// One upload of the GT, one kernel (a block per image), one download; blocks until done.
// Errors: NULLs, a count or GT range that does not fit, YL_ERR_DEVICE for a non-CUDA backend,
// YL_ERR_UNSUPPORTED in a build without CUDA.
yl_status yl_match_predictions_cuda(yl_backend *cuda, const yl_detection *device_dets, int64_t det_stride,
                                    const yl_match_image *images, int64_t n_images, const float *gt_boxes,
                                    const int32_t *gt_cls, int64_t n_gt_total, yl_tp_mask *tp);
