// Task-Aligned Assigner of YOLOv8 (Ultralytics TaskAlignedAssigner, spec yolov8.md §2.4), one image
// at a time. Chooses, for every ground-truth box, the anchors whose predictions best combine class
// score and box overlap, and gives each chosen (foreground) anchor a soft class target.
//
// Ties in the top-k: Ultralytics uses torch.topk, whose order among equal metrics is unspecified.
// Here equal metrics are ranked by lower anchor index. Only anchors whose align metric is 0 can tie
// in practice (a float tie between two positive metrics needs bit-equal products); such an anchor
// becomes a positive only when its centre lies in the GT and fewer than topk anchors have a positive
// metric, and then its target weight is 0 (its norm is align * ... = 0), so it adds nothing to the box,
// DFL or class loss; it could only win a conflict against another GT if its overlap were larger while
// its align product underflowed to 0. So the tie order changes the foreground mask at most, never the
// loss (the parity fixtures record zero such positives).
#pragma once
#include <stddef.h>

#define YL_TAL_MAX_TOPK 64

typedef struct {
    int topk;     // 10
    float alpha;  // 0.5, exponent of the class score
    float beta;   // 6.0, exponent of the CIoU overlap
    float eps;    // 1e-9: candidate test margin and normalisation guard
} yl_tal_params;

yl_tal_params yl_tal_default_params(void);

// One image's inputs. GT rows keep their batch order; rows whose x1+y1+x2+y2 is not > 0 count as
// padding, as in Ultralytics (mask_gt).
typedef struct {
    int num_anchors;
    int num_classes;
    const float *anchor_points;  // (A, 2) anchor centres in pixels
    const float *pred_boxes;     // (A, 4) predicted xyxy boxes in pixels (no gradient flows through them)
    const float *scores;         // (num_classes, A) sigmoid of the class logits
    int num_gt;
    const int *gt_labels;     // (num_gt)
    const float *gt_boxes;    // (num_gt, 4) xyxy in pixels
} yl_tal_image;

// Scratch for one image, each array num_gt x num_anchors (sized by the caller for its largest image).
typedef struct {
    float *overlaps;
    float *align;
    unsigned char *mask_pos;
} yl_tal_scratch;

// Per-anchor results (arrays of num_anchors).
typedef struct {
    unsigned char *fg;    // 1 for foreground anchors
    int *gt_index;        // index of the assigned GT row in this image; 0 for background, as Ultralytics
    float *target_score;  // soft target of the assigned class; 0 for background
} yl_tal_result;

// The caller guarantees consistent sizes (yl_detection_loss checks them); 1 <= topk <= YL_TAL_MAX_TOPK.
// topk larger than the anchor count is clipped to it (torch.topk would fail there).
void yl_tal_assign(const yl_tal_params *params, const yl_tal_image *image, const yl_tal_scratch *scratch,
                   const yl_tal_result *result);
