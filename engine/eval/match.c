#include "match.h"

#include <string.h>

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
