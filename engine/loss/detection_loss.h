// YOLOv8 detection loss (Ultralytics v8DetectionLoss, 8.3.x; spec yolov8.md §2): a CPU reference
// computing the three loss items and the gradient of (box + cls + dfl) * batch with respect to the
// three raw head maps.
//
// Inputs as the model produces them in training mode: per level i a contiguous fp32 tensor
// (B, 64 + nc, H_i, W_i); channel side*16 + bin holds the DFL logits of side l, t, r, b, channels
// 64.. the class logits. Targets are rows (image index, class, cx, cy, w, h) with the box
// normalised to the network input, in batch order.
//
// Behaviour worth knowing (all as Ultralytics does it):
// * Targets are scaled by (H_0 * stride_0, W_0 * stride_0), the P3 grid times 8, which is the image
//   size whenever that is a multiple of 8. The image size passed in is checked against the grids
//   (H_i must be ceil(image_h / stride_i)).
// * A zero-width or zero-height box is kept as a GT but no anchor centre lies strictly inside it, so
//   it never gets a positive: it adds nothing to any term. A row whose pixel corners sum to <= 0
//   (e.g. all zeros) counts as padding. Negative sizes likewise give no positives.
// * The box/DFL/class normaliser T = max(sum of soft targets over the batch, 1) is pooled over the
//   batch; a batch without any GT gets cls = 0.5 * (sum of all BCE terms), box = dfl = 0.
// * Soft targets, the assigner and the DFL target are constants (no gradient), as is CIoU's alpha.
// * Ties in the assigner's top-k: see tal_assigner.h (they cannot change the loss).
// Precision: fp32 like Ultralytics wherever a value feeds the assignment (DFL decode, boxes, CIoU,
// align metric, soft targets), so the same anchors are chosen; the loss terms, their sums and the
// gradients in double, gradients stored as fp32.
// Cost (CPU): O(B * A * (nc + max GT)) per call, single-threaded; no allocation after _init/_reserve.
//
// CUDA: when the head maps are CUDA tensors, _compute runs the same loss on the GPU (kernels/
// loss_cuda.h) for a workspace given a CUDA backend with yl_detection_loss_attach_cuda: the checks and
// the target grouping stay here on the host, the targets go up in one copy, everything else stays on
// the device, and only the sums come back. The heads must then all be on the device (grads too), the
// assignment lives on the device (read it with yl_detection_loss_fetch_assignment), and a NaN/Inf in
// a head map is found after the device work, so on that error the gradients are garbage. Scratch
// comes from the backend's shared workspace (about B * max GT per image * A * 9 bytes for the
// assigner). In builds without CUDA, CUDA heads give YL_ERR_UNSUPPORTED.
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "engine/core/status.h"
#include "engine/core/tensor.h"
#include "engine/loss/tal_assigner.h"
#include "engine/ops/backend.h"

#define YL_DETECT_LEVELS 3
#define YL_DFL_BINS 16  // reg_max
#define YL_BOX_CHANNELS (4 * YL_DFL_BINS)
#define YL_TARGET_COLUMNS 6  // image index, class, cx, cy, w, h

typedef struct {
    int max_batch;
    int num_classes;
    int max_image_h, max_image_w;  // sizes the anchor capacity
    int max_gt_per_image;          // most target rows one image may have (grow with _reserve)
    int strides[YL_DETECT_LEVELS];  // 8, 16, 32
    float box_gain, cls_gain, dfl_gain;  // 7.5, 0.5, 1.5 (hyp box, cls, dfl)
    yl_tal_params tal;                   // topk 10, alpha 0.5, beta 6, eps 1e-9
} yl_detection_loss_config;

// In double: Ultralytics' values are fp32; the extra digits serve finite-difference checks.
typedef struct {
    double box, cls, dfl;      // gains applied, not multiplied by the batch: what Ultralytics logs
    double total;              // (box + cls + dfl) * batch: the value whose gradient is returned
    double target_scores_sum;  // before the max(., 1)
    int num_fg;                // foreground anchors in the batch
} yl_detection_loss_result;

// The workspace: sized once by _init (and _reserve), reused by every _compute without allocating.
// After a _compute the per-anchor assignment (batch-major, anchors ordered P3, P4, P5 row-major)
// can be read from fg, gt_index (row within its image), target_label and target_score.
typedef struct {
    yl_detection_loss_config config;
    // For gradient checks: when set, _compute keeps the previous call's assignment, soft targets and
    // normaliser (the targets argument is ignored), so the loss becomes the smooth function of the
    // head maps whose gradient _compute returns (Ultralytics detaches the assignment likewise).
    bool hold_assignment;
    int assigned_batch, assigned_anchors;
    int anchor_capacity;
    int gt_capacity;
    // last call's geometry
    int batch, num_anchors;
    int level_h[YL_DETECT_LEVELS], level_w[YL_DETECT_LEVELS];
    // per anchor (anchor_capacity)
    float *anchor_points;  // (A, 2) grid units
    float *anchor_pixels;  // (A, 2) pixels
    float *anchor_stride;  // (A)
    // per batch and anchor (max_batch * anchor_capacity)
    float *pred_dist;    // (B, A, 4) expected l, t, r, b in grid units
    float *pred_boxes;   // (B, A, 4) xyxy in grid units
    unsigned char *fg;   // (B, A)
    int *gt_index;       // (B, A)
    int *target_label;   // (B, A), -1 for background
    float *target_score; // (B, A)
    float *target_boxes; // (B, A, 4) xyxy in pixels
    // per image scratch
    float *scores;       // (nc, A) sigmoid of the class logits
    float *pred_pixels;  // (A, 4)
    int *gt_labels;      // (gt_capacity)
    float *gt_boxes;     // (gt_capacity, 4) pixels
    int *image_rows;     // (max_batch * gt_capacity) target row of each image's GTs
    int *image_gt_count; // (max_batch)
    float *overlaps, *align;  // (gt_capacity, A)
    unsigned char *mask_pos;  // (gt_capacity, A)
    // CUDA path (yl_detection_loss_attach_cuda)
    yl_backend *cuda_backend;
    struct yl_cuda_detection_loss *cuda;  // device state, kernels/loss_cuda.h
    void *packed_targets;                 // host staging of the targets, (max_batch, gt_capacity) slots
    yl_device assigned_device;            // where the last assignment was made (hold_assignment)
} yl_detection_loss;

// Ultralytics defaults for a batch shape: strides 8/16/32, gains 7.5/0.5/1.5, TAL 10/0.5/6/1e-9.
yl_detection_loss_config yl_detection_loss_default_config(int max_batch, int num_classes, int max_image_h,
                                                          int max_image_w, int max_gt_per_image);

yl_status yl_detection_loss_init(yl_detection_loss *loss, const yl_detection_loss_config *config);
// Grows the per-image GT capacity (allocates; call it outside the training step when a batch needs more).
yl_status yl_detection_loss_reserve(yl_detection_loss *loss, int max_gt_per_image);
void yl_detection_loss_free(yl_detection_loss *loss);

// Lets _compute take CUDA head maps: allocates the device state (the assignment for max_batch x the
// anchor capacity) on `cuda`, which must outlive the workspace. YL_ERR_UNSUPPORTED without CUDA.
yl_status yl_detection_loss_attach_cuda(yl_detection_loss *loss, yl_backend *cuda);
// After a CUDA _compute: copies the assignment (fg, gt_index, target_label, target_score, target_boxes)
// into the host arrays above, where a CPU _compute leaves it. Nothing to do after a CPU _compute.
yl_status yl_detection_loss_fetch_assignment(yl_detection_loss *loss);

// heads: the three head maps (batch <= max_batch, grids matching image_h x image_w), all on the CPU or
//        all on CUDA (after yl_detection_loss_attach_cuda).
// targets: num_targets rows of YL_TARGET_COLUMNS floats (NULL when num_targets is 0).
// grads: NULL for the loss alone, or three tensors shaped like heads that receive
//        d((box + cls + dfl) * B) / d(head) (overwritten, not accumulated).
// Errors: YL_ERR_INVALID_ARG (NULL, class id >= nc or not an integer, image index out of range, an
// image with more rows than the workspace holds), YL_ERR_SHAPE / YL_ERR_DTYPE / YL_ERR_DEVICE (head or
// grad tensors, heads on different devices), YL_ERR_NUMERIC (NaN/Inf in a head map or a target row,
// naming where), YL_ERR_UNSUPPORTED (CUDA heads in a build without CUDA).
yl_status yl_detection_loss_compute(yl_detection_loss *loss, const yl_tensor heads[YL_DETECT_LEVELS], int image_h,
                                    int image_w, const float *targets, int64_t num_targets,
                                    const yl_tensor *grads, yl_detection_loss_result *result);
