// Shared by the detection-loss translation units (loss_cuda.cu: decode, terms, orchestration;
// loss_tal.cu: the task-aligned assigner): how an anchor index maps into the three head maps, the
// packed targets on the device, and the assigner's launchers. Only .cu files include this.
#pragma once
#include <cstdint>

#include <cuda_runtime.h>

#include "engine/core/status.h"
#include "loss_cuda.h"

#define YL_LOSS_BINS 16                          // reg_max (YL_DFL_BINS in engine/loss/detection_loss.h)
#define YL_LOSS_BOX_CHANNELS (4 * YL_LOSS_BINS)  // YL_BOX_CHANNELS

// Anchors are numbered level by level (P3, P4, P5), row-major inside a level, as on the CPU.
struct yl_loss_geometry {
    int batch, anchors, classes, channels;  // channels = 64 + classes
    int level_start[YL_CUDA_LOSS_LEVELS];   // first anchor of each level
    int level_size[YL_CUDA_LOSS_LEVELS];    // H * W, also the channel stride of that map
    int level_w[YL_CUDA_LOSS_LEVELS];
    float stride[YL_CUDA_LOSS_LEVELS];
    const float *head[YL_CUDA_LOSS_LEVELS];
    float *grad[YL_CUDA_LOSS_LEVELS];  // all NULL for the loss alone
};

struct yl_loss_anchor {
    int level, cell;  // cell = y * W + x inside the level
    float x, y;       // centre in grid units (x + 0.5, y + 0.5)
    float stride;
};

__device__ __forceinline__ yl_loss_anchor yl_loss_locate(const yl_loss_geometry &g, int a) {
    yl_loss_anchor r;
    r.level = a >= g.level_start[2] ? 2 : (a >= g.level_start[1] ? 1 : 0);
    r.cell = a - g.level_start[r.level];
    const int row = r.cell / g.level_w[r.level], column = r.cell - row * g.level_w[r.level];
    r.x = (float)column + 0.5f;
    r.y = (float)row + 0.5f;
    r.stride = g.stride[r.level];
    return r;
}

// Offset of (image b, channel 0) at the anchor's cell in its level's map; channel c is at
// + c * level_size[level].
__device__ __forceinline__ int64_t yl_loss_offset(const yl_loss_geometry &g, int b, const yl_loss_anchor &r) {
    return (int64_t)b * g.channels * g.level_size[r.level] + r.cell;
}

// The packed targets (loss_cuda.h) once on the device.
struct yl_loss_targets {
    const int *count;  // [batch]
    const int *label;  // [batch][max_gt]
    const float *box;  // [batch][max_gt][4], xyxy pixels
    int max_gt;
};

struct yl_loss_tal_params {
    int topk;
    float alpha, beta, eps;
};

// The assigner's per-GT scratch, [batch][max_gt][anchors] each (shared workspace).
struct yl_loss_tal_scratch {
    float *overlaps;
    float *align;
    unsigned char *mask;  // in_gt first, mask_pos once the top-k and conflicts are applied
    float *gt_max;        // [batch][max_gt][2]: max align and max overlap over the GT's positives
};

// The assignment, [batch][anchors] (persistent device memory, loss_cuda.cu).
struct yl_loss_assignment {
    unsigned char *fg;
    int *gt_index;
    int *target_label;  // -1 for background
    float *target_score;
    float *target_boxes;  // [4], pixels
};

// loss_tal.cu: enqueues the whole assigner (top-k per GT, conflicts, soft targets) on `stream`.
// pred_boxes: [batch][anchors][4] in grid units.
yl_status yl_cuda_tal_assign(const yl_loss_geometry &g, const float *pred_boxes, const yl_loss_targets &targets,
                             const yl_loss_tal_params &params, const yl_loss_tal_scratch &scratch,
                             const yl_loss_assignment &out, cudaStream_t stream);
