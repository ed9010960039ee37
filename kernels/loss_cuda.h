// The YOLOv8 detection loss on the GPU (loss_tal.cu): the device half of yl_detection_loss_compute
// (engine/loss/detection_loss.c), which checks the arguments, validates and groups the target rows
// on the host, packs them, and calls yl_cuda_detection_loss_run when the head maps are CUDA tensors.
//
// One call enqueues, on the backend's stream: a scan of the head maps for NaN/Inf, the DFL decode, the
// task-aligned assigner for every image at once (one block per GT selects its top-k over all anchors),
// the soft targets, the normaliser, the three loss terms and, when asked, the gradients written
// straight into the three gradient maps. The packed targets go up in one copy; the sums come back in
// one copy at the end (the only synchronisation). Sums are reduced in a fixed order (block partial
// sums, then one block), so the same inputs give the same bits on the same GPU.
//
// Outside CUDA builds the functions below are inline stubs that return YL_ERR_UNSUPPORTED.
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/core/status.h"
#include "engine/core/tensor.h"
#include "engine/ops/backend.h"

#ifdef __cplusplus
extern "C" {
#endif

#define YL_CUDA_LOSS_LEVELS 3

// Persistent device state: the last assignment (kept for hold_assignment and for reading back) and
// the result block. Scratch lives in the backend's shared workspace.
typedef struct yl_cuda_detection_loss yl_cuda_detection_loss;

// One call: geometry and constants, as in engine/loss/detection_loss.h.
typedef struct {
    int batch, num_anchors, num_classes;
    int level_h[YL_CUDA_LOSS_LEVELS], level_w[YL_CUDA_LOSS_LEVELS], strides[YL_CUDA_LOSS_LEVELS];
    int topk;                // already clipped to num_anchors
    float alpha, beta, eps;  // assigner
    float box_gain, cls_gain, dfl_gain;
    bool assign;          // false: reuse the previous call's assignment (hold_assignment)
    int max_gt;           // GT slots per image in `targets` (the batch's largest count; may be 0)
    const void *targets;  // host memory, laid out as below (read only when assign is true)
} yl_cuda_loss_problem;

// Packed targets, all 4-byte fields: int32 count[batch] (GT rows of each image), int32
// label[batch][max_gt], float box[batch][max_gt][4] (xyxy, pixels). Slots past an image's count are
// unused.
static inline size_t yl_cuda_loss_labels_offset(int batch) { return (size_t)batch * 4; }
static inline size_t yl_cuda_loss_boxes_offset(int batch, int max_gt) {
    return yl_cuda_loss_labels_offset(batch) + (size_t)batch * (size_t)max_gt * 4;
}
static inline size_t yl_cuda_loss_targets_bytes(int batch, int max_gt) {
    return yl_cuda_loss_boxes_offset(batch, max_gt) + (size_t)batch * (size_t)max_gt * 16;
}

// What comes back to the host: sums before the normaliser and gains, as the CPU path accumulates them.
typedef struct {
    double bce_sum, box_sum, dfl_sum;
    double score_sum;  // sum of the soft targets over the batch
    int num_fg;
    int64_t first_nonfinite[YL_CUDA_LOSS_LEVELS];  // per head map: first NaN/Inf element, -1 if none
} yl_cuda_loss_sums;

#ifdef YOLOOP_HAVE_CUDA

#define YL_CUDA_LOSS_BUILT 1

// Device buffers for up to max_batch * anchor_capacity anchors, allocated with the backend.
yl_status yl_cuda_detection_loss_create(yl_backend *be, int max_batch, int anchor_capacity,
                                        yl_cuda_detection_loss **out);
void yl_cuda_detection_loss_destroy(yl_cuda_detection_loss *state);

// heads / grads: three contiguous f32 CUDA maps (B, 64 + nc, H_i, W_i), already checked; grads NULL
// for the loss alone (otherwise overwritten, every element). Blocks until the sums are on the host.
// A NaN/Inf in a head map is reported through sums->first_nonfinite, not as an error: the caller
// names the element; the assignment and gradients of such a call are garbage.
yl_status yl_cuda_detection_loss_run(yl_cuda_detection_loss *state, const yl_cuda_loss_problem *problem,
                                     const yl_tensor heads[YL_CUDA_LOSS_LEVELS], const yl_tensor *grads,
                                     yl_cuda_loss_sums *sums);

// Copies the last call's assignment (batch * anchors entries, batch-major) to host arrays, as the CPU
// workspace holds it: fg, gt_index, target_label (-1 background), target_score, target_boxes (x4).
// Any pointer may be NULL. For tests and inspection, not the training step.
yl_status yl_cuda_detection_loss_read_assignment(yl_cuda_detection_loss *state, int batch, int anchors,
                                                 unsigned char *fg, int *gt_index, int *target_label,
                                                 float *target_score, float *target_boxes);

#else  // no CUDA in this build

#define YL_CUDA_LOSS_BUILT 0

static inline yl_status yl_cuda_loss_unsupported(void) {
    return yl_error(YL_ERR_UNSUPPORTED,
                    "detection loss: this build of yoloop has no CUDA backend (nvcc or cuDNN was not found)");
}
static inline yl_status yl_cuda_detection_loss_create(yl_backend *be, int max_batch, int anchor_capacity,
                                                      yl_cuda_detection_loss **out) {
    (void)be, (void)max_batch, (void)anchor_capacity;
    if (out) *out = NULL;
    return yl_cuda_loss_unsupported();
}
static inline void yl_cuda_detection_loss_destroy(yl_cuda_detection_loss *state) { (void)state; }
static inline yl_status yl_cuda_detection_loss_run(yl_cuda_detection_loss *state, const yl_cuda_loss_problem *problem,
                                                   const yl_tensor heads[YL_CUDA_LOSS_LEVELS], const yl_tensor *grads,
                                                   yl_cuda_loss_sums *sums) {
    (void)state, (void)problem, (void)heads, (void)grads, (void)sums;
    return yl_cuda_loss_unsupported();
}
static inline yl_status yl_cuda_detection_loss_read_assignment(yl_cuda_detection_loss *state, int batch, int anchors,
                                                               unsigned char *fg, int *gt_index, int *target_label,
                                                               float *target_score, float *target_boxes) {
    (void)state, (void)batch, (void)anchors, (void)fg, (void)gt_index, (void)target_label, (void)target_score,
        (void)target_boxes;
    return yl_cuda_loss_unsupported();
}

#endif

#ifdef __cplusplus
}
#endif
