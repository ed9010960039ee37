// The detection evaluator: add images one at a time (predictions after NMS, ground truth), then
// compute P, R, mAP50, mAP50-95, per-class AP and the confusion matrix as Ultralytics 8.3.166's
// DetectionValidator + DetMetrics + ConfusionMatrix do. Used by training validation, `yoloop val`
// and the continual-learning cycle.
//
// Coordinates: predictions and GT must be in the same space. Ultralytics <= 8.3.167 (our
// reference) maps both to the original image with scale_boxes (clipping) before matching —
// use yl_scale_detections / yl_scale_boxes (boxes.h) for that.
// Order: give predictions in NMS order (descending confidence); when two predictions compete for
// one GT the earlier one wins, as in Ultralytics.
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "ap.h"
#include "boxes.h"
#include "engine/core/status.h"
#include "match.h"

typedef struct {
    int nc;                // classes of the dataset; class ids are 0..nc-1
    float confusion_conf;  // 0.25: Ultralytics' value when validation runs at conf 0.001 (else it uses that conf)
    float confusion_iou;   // 0.45
} yl_evaluator_options;

yl_evaluator_options yl_evaluator_defaults(int nc);

typedef struct {
    int nc;
    int64_t images;       // images added
    int64_t instances;    // GT boxes
    int64_t predictions;  // predictions added
    // The Ultralytics numbers: metrics/precision(B), recall(B), mAP50(B), mAP50-95(B), fitness
    // (0.1 mAP50 + 0.9 mAP50-95, the 8.3.166 definition), and mAP75.
    double precision, recall, map50, map50_95, map75, fitness;
    yl_ap_results ap;          // per-class AP (nc x 10), P/R/F1 at the best confidence, curves
    double *ap50, *ap50_95;    // per class (0 for a class without GT)
    double *maps;              // Ultralytics `maps`: AP50-95 of the class, mAP50-95 for a class without GT
    bool *has_gt;              // the classes that are averaged (Ultralytics' ap_class_index)
    int64_t *nt_per_class;     // GT boxes per class
    int64_t *nt_per_image;     // images containing the class
    double *confusion;         // (nc + 1) x (nc + 1): row = predicted class, column = true class; nc = background
} yl_eval_results;

typedef struct yl_evaluator yl_evaluator;

yl_status yl_evaluator_create(yl_evaluator **out, const yl_evaluator_options *options);
void yl_evaluator_destroy(yl_evaluator *ev);
// Forgets every image added (keeps the memory).
void yl_evaluator_reset(yl_evaluator *ev);

// One image: n_pred detections (NMS order), n_gt GT boxes (xyxy, rows of 4) with classes.
// Matches them at the ten IoU thresholds, updates the confusion matrix and stores the result.
// tp_out (optional, n_pred entries) receives each prediction's true-positive mask.
// Errors (nothing is stored then): NULL arrays with a nonzero count, a class outside [0, nc)
// (naming image, index and class), a NaN/Inf confidence or box (YL_ERR_NUMERIC).
yl_status yl_evaluator_add_image(yl_evaluator *ev, const yl_detection *preds, int64_t n_pred, const float *gt_boxes,
                                 const int32_t *gt_cls, int64_t n_gt, yl_tp_mask *tp_out);

// Adds an image whose matching was done elsewhere (e.g. on the GPU): per-prediction masks,
// confidences and classes, and the image's GT classes. No confusion-matrix update.
yl_status yl_evaluator_add_matched(yl_evaluator *ev, const yl_tp_mask *tp, const float *conf, const int32_t *pred_cls,
                                   int64_t n_pred, const int32_t *gt_cls, int64_t n_gt);

// Computes the metrics over every image added so far. The results belong to the evaluator and
// stay valid until the next compute, reset or destroy. With no GT at all every metric is 0.
yl_status yl_evaluator_compute(yl_evaluator *ev, const yl_eval_results **results);
