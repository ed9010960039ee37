// The one validation pipeline (training validation, `yoloop val`, the continual-learning cycle),
// as Ultralytics 8.3's DetectionValidator runs it (spec §4.5, §5, §5.8):
//   val loader (letterbox, scaleup off, rect batch shapes with pad 0.5, no augmentation)
//   -> eval forward with Detect's decode -> NMS (conf 0.001, IoU 0.7, multi-label, max_det 300)
//   -> predictions and GT mapped to original-image pixels (scale_boxes with the sample's ratio_pad)
//   -> evaluator (engine/eval/metrics.h) -> P, R, mAP50, mAP50-95, per-class AP, fitness.
// Optionally the validation loss (box, cls, dfl) on the same eval-mode raw maps (§5.8).
//
// The validator borrows the model and the dataset (both must outlive it). It plans the model for
// forward-only at (batch, S, S), S = imgsz + 32 with rect (the largest rect batch shape) else imgsz,
// on create and again at the start of every run; a trainer that trains the same model re-plans for
// training after yl_validator_run. A model on CUDA gets its batches uploaded and the decoded output
// copied back for NMS (the loss then runs on the device).
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/core/status.h"
#include "engine/data/batch.h"
#include "engine/data/dataset.h"
#include "engine/eval/metrics.h"
#include "engine/model/model.h"

typedef struct {
    int imgsz;            // network input size (multiple of 32); 640
    int batch;            // images per batch; 16 (the trainer passes 2 x its training batch)
    int workers;          // loader threads; 2
    float conf;           // NMS confidence threshold; 0.001
    double iou;           // NMS IoU threshold; 0.7
    int max_det;          // detections per image; 300
    bool rect;            // rect batch shapes (Ultralytics' val loader); true
    bool single_cls;      // every GT counted as class 0, class-agnostic NMS; the model must have nc 1; false
    bool compute_loss;    // also compute the validation loss (box, cls, dfl); false
    uint64_t seed;        // loader seed (validation is deterministic anyway); 0
    // Class names (nc entries, borrowed; may be NULL: "class<i>" is used). Typically data_yaml names.
    const char *const *names;
} yl_validator_options;

yl_validator_options yl_validator_defaults(void);

typedef struct yl_validator yl_validator;

// Errors: NULL arguments, imgsz not a positive multiple of 32, batch < 1, conf/iou out of [0, 1],
// max_det < 1, the dataset's nc different from the model's (single_cls: the model must have nc 1),
// an empty dataset, model planning failures.
yl_status yl_validator_create(yl_validator **out, yl_model *model, const yl_dataset *dataset,
                              const yl_validator_options *options);
void yl_validator_destroy(yl_validator *v);

// Runs one full pass over the dataset. *results belongs to the validator and stays valid until
// the next run or destroy. val_loss (optional, 3 floats: box, cls, dfl) receives the mean
// validation loss per batch (as Ultralytics' loss_items averaged over batches) when
// compute_loss is set, zeros otherwise. The model is left planned for forward-only at the
// validator's batch and imgsz; a trainer re-plans with yl_model_plan(..., true) afterwards.
// Unreadable images are skipped (counted in yl_validator_skipped, warnings via the loader rule).
yl_status yl_validator_run(yl_validator *v, const yl_eval_results **results, float *val_loss);

// Images skipped in the last run because they could not be loaded.
long yl_validator_skipped(const yl_validator *v);
// Milliseconds per image of the last run: preprocess (loader wait), inference, loss, postprocess
// (NMS + mapping + matching).
void yl_validator_speed(const yl_validator *v, double speed_ms[4]);
// Class name i (from the options, or "class<i>").
const char *yl_validator_class_name(const yl_validator *v, int cls);

// Ultralytics' summary table, into buffer (truncated to size, always NUL-terminated):
//                  Class     Images  Instances      Box(P          R      mAP50  mAP50-95)
//                    all         12         30      0.512      0.433      0.455      0.301
//                 person         10         20      ...
// An `all` row, then one row per class that has GT (Ultralytics prints per-class rows when
// verbose; per_class=false prints the `all` row only). names: nc entries or NULL ("class<i>").
// Returns the length the full table needs (excluding the NUL), like snprintf.
size_t yl_format_val_table(const yl_eval_results *results, const char *const *names, bool per_class, char *buffer,
                           size_t size);

// ---- the mapping step, exposed so that tests can feed GT as detections ---------------------------
// Ultralytics' ratio_pad ((resized_h / h0, ...), (left, top)) of one validation batch image.
yl_ratio_pad yl_validator_ratio_pad(const yl_batch_image *info);
// One image of a validation batch, mapped to original pixels and added to the evaluator: predictions
// (xyxy in network-input pixels, NMS order) are scaled with ratio_pad (§5.3) and clipped to
// (h0, w0); GT (normalized xywh on the (h1, w1) letterboxed input) goes through
// yl_labels_to_original. `dets` is modified in place. The validator uses exactly this function.
yl_status yl_validator_add_mapped(yl_evaluator *ev, yl_detection *dets, int64_t n_det, const float *gt_xywhn,
                                  const int32_t *gt_cls, int64_t n_gt, int h1, int w1, const yl_ratio_pad *ratio_pad,
                                  int h0, int w0, float *gt_scratch);
