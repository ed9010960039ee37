// Average precision per class, as Ultralytics 8.3 ap_per_class / compute_ap compute it (§5.4, §5.5
// of the spec), with numpy's arithmetic reproduced (numeric.h) so the results match bit for bit.
//
// Classes evaluated: those with at least one GT (nt[c] > 0); classes that only appear in
// predictions are ignored; a GT class without predictions has AP 0 and still counts in the means.
// Equal confidences are ordered by prediction index (a stable sort); Ultralytics uses numpy's
// unstable argsort there, which agrees for up to 16 predictions and is unspecified beyond.
#pragma once
#include <stdint.h>

#include "engine/core/status.h"
#include "match.h"

#define YL_EVAL_CURVE_POINTS 1000  // confidence grid of the P, R, F1 curves (linspace(0, 1, 1000))
#define YL_EVAL_AP_POINTS 101      // recall grid of the AP integral (COCO 101-point)

// compute_ap: AP of one precision/recall curve of n >= 0 points (recall increasing). Pads to
// mrec = [0, recall, 1], mpre = [1, precision, 0], takes the envelope (running max from the
// right), integrates np.interp on linspace(0, 1, 101) with the trapezoid rule.
// mrec and mpre receive the n + 2 padded points (mpre as the envelope).
double yl_compute_ap(const double *recall, const double *precision, int64_t n, double *mrec, double *mpre);

// What ap_per_class returns, laid out by class id. Arrays are provided by the caller:
// ap: nc x 10; p, r, f1: nc; p_curve, r_curve, f1_curve, pr_curve: nc x 1000; px: 1000.
// Rows of classes without GT are zero.
typedef struct {
    double *ap;        // AP at each IoU threshold of yl_eval_iou_thresholds
    double *p, *r, *f1;  // per class at the confidence of the best smoothed mean F1
    double *px;          // the confidence grid (linspace(0, 1, 1000))
    double *p_curve;     // precision vs confidence (IoU 0.5); 1 above the highest confidence
    double *r_curve;     // recall vs confidence (IoU 0.5)
    double *f1_curve;    // 2pr / (p + r + 1e-16)
    double *pr_curve;    // precision envelope vs recall on px (IoU 0.5), the PR plot; 0 without predictions
    int64_t best_index;  // argmax of the mean F1 smoothed by a 101-wide box filter
    double best_conf;    // px[best_index]
    int classes;         // classes with GT (the ones averaged)
    double mp, mr;       // mean P and R over those classes at best_index
    double map50, map75, map;  // mean AP at IoU 0.5, 0.75, and over all 10 thresholds
} yl_ap_results;

// tp, conf, pred_cls: n_pred predictions of the whole set, in any order; nt: GT count per class
// (nc entries). Predictions of classes outside [0, nc) are an error (checked by the caller of
// the evaluator API; here they are simply never counted). Fails only with YL_ERR_OOM.
yl_status yl_ap_per_class(const yl_tp_mask *tp, const float *conf, const int32_t *pred_cls, int64_t n_pred,
                          const int64_t *nt, int nc, yl_ap_results *out);
