// The task-aligned assigner of the detection loss on the GPU, for the whole batch at once (spec
// yolov8.md §2.4; the CPU reference is engine/loss/tal_assigner.c):
//   1. tal_select: one block per (GT, image). Every thread scores the anchors a = t, t + T, ...
//      (candidate test, CIoU overlap, align metric) and keeps its own top-k list; the block then
//      merges the lists with k rounds of a block-wide argmax. Order: larger metric first, equal metrics
//      by lower anchor index, as the CPU's select_topk. mask_pos = in_top_k & in_gt & real GT.
//   2. tal_resolve: one thread per (image, anchor): an anchor claimed by several GTs goes to the GT
//      with the largest overlap over all the image's GTs (first on ties); fg, gt_index, label and box.
//   3. tal_gt_max: one block per (GT, image): max align and max overlap over the GT's positives.
//   4. tal_soft_target: one thread per (image, anchor): align * max_overlap / (max_align + eps).
// No atomics: each output has exactly one writer, and the maxima are order-independent.
#include <climits>
#include <cmath>

#include "cuda_internal.h"
#include "launch_config.cuh"
#include "loss_math.cuh"

#define SELECT_THREADS 256
#define SELECT_WARPS (SELECT_THREADS / 32)
#define SMALL_TOPK 16
#define LARGE_TOPK 64  // YL_TAL_MAX_TOPK

#define GRID_STRIDE_LOOP(i, n) for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < (n); i += gridDim.x * blockDim.x)

// (value, index) ranks before (other_value, other_index): larger value, then lower index.
__device__ __forceinline__ bool ranks_before(float value, int index, float other_value, int other_index) {
    return value > other_value || (value == other_value && index < other_index);
}

// Inserts (value, index) into a descending list of at most k, where every earlier index is already
// in or out: equal values keep the earlier index first (the CPU's select_topk, element for element).
template <int MAXK>
__device__ __forceinline__ void topk_insert(float (&values)[MAXK], int (&indices)[MAXK], int &count, int k, float value,
                                            int index) {
    if (count == k && !(value > values[k - 1])) return;
    int p = count < k ? count++ : k - 1;
    while (p > 0 && values[p - 1] < value) {
        values[p] = values[p - 1];
        indices[p] = indices[p - 1];
        p--;
    }
    values[p] = value;
    indices[p] = index;
}

// The block's best (value, index) pair, returned to every thread. Two barriers, so consecutive calls
// may reuse the shared arrays.
__device__ __forceinline__ void block_best(float &value, int &index, float *warp_value, int *warp_index,
                                           float *best_value, int *best_index) {
    const unsigned full = 0xffffffffu;
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    for (int offset = 16; offset > 0; offset >>= 1) {
        float v = __shfl_down_sync(full, value, offset);
        int i = __shfl_down_sync(full, index, offset);
        if (ranks_before(v, i, value, index)) value = v, index = i;
    }
    if (lane == 0) warp_value[warp] = value, warp_index[warp] = index;
    __syncthreads();
    if (warp == 0) {
        value = lane < SELECT_WARPS ? warp_value[lane] : -INFINITY;
        index = lane < SELECT_WARPS ? warp_index[lane] : INT_MAX;
        for (int offset = 16; offset > 0; offset >>= 1) {
            float v = __shfl_down_sync(full, value, offset);
            int i = __shfl_down_sync(full, index, offset);
            if (ranks_before(v, i, value, index)) value = v, index = i;
        }
        if (lane == 0) *best_value = value, *best_index = index;
    }
    __syncthreads();
    value = *best_value;
    index = *best_index;
}

template <int MAXK>
__global__ void __launch_bounds__(SELECT_THREADS)
    tal_select_kernel(yl_loss_geometry g, const float *pred_boxes, yl_loss_targets targets, yl_loss_tal_params params,
                      yl_loss_tal_scratch scratch) {
    const int j = blockIdx.x, b = blockIdx.y, A = g.anchors;
    if (j >= targets.count[b]) return;  // the whole block leaves together
    const size_t slot = (size_t)b * targets.max_gt + j, row = slot * A;
    const float gt[4] = {targets.box[4 * slot], targets.box[4 * slot + 1], targets.box[4 * slot + 2],
                         targets.box[4 * slot + 3]};
    const int label = targets.label[slot];
    const bool real = yl_loss_is_real_gt(gt);
    const int k = params.topk;

    float top_value[MAXK];
    int top_index[MAXK];
    int count = 0;
    for (int a = threadIdx.x; a < A; a += blockDim.x) {
        const yl_loss_anchor r = yl_loss_locate(g, a);
        const bool inside = yl_loss_anchor_in_box(r.x * r.stride, r.y * r.stride, gt, params.eps) && real;
        float overlap = 0.0f, metric = 0.0f;
        if (inside) {
            const float *p = pred_boxes + ((size_t)b * A + a) * 4;
            const float pred_px[4] = {p[0] * r.stride, p[1] * r.stride, p[2] * r.stride, p[3] * r.stride};
            overlap = fmaxf(yl_loss_ciou(gt, pred_px), 0.0f);
            const int64_t channel = YL_LOSS_BOX_CHANNELS + label;
            const float logit = g.head[r.level][yl_loss_offset(g, b, r) + channel * g.level_size[r.level]];
            const float score = 1.0f / (1.0f + expf(-logit));
            metric = yl_loss_power(score, params.alpha) * yl_loss_power(overlap, params.beta);
        }
        scratch.overlaps[row + a] = overlap;
        scratch.align[row + a] = metric;
        scratch.mask[row + a] = inside;
        if (real) topk_insert<MAXK>(top_value, top_index, count, k, metric, a);
    }
    if (!real) return;  // padding rows get no positives (mask already 0)

    __shared__ float warp_value[SELECT_WARPS], best_value;
    __shared__ int warp_index[SELECT_WARPS], best_index, selected[MAXK];
    int head = 0;  // next entry of this thread's list to offer
    for (int i = 0; i < k; i++) {
        float value = head < count ? top_value[head] : -INFINITY;
        int index = head < count ? top_index[head] : INT_MAX;
        block_best(value, index, warp_value, warp_index, &best_value, &best_index);
        if (threadIdx.x == 0) selected[i] = index;
        // Thread t scanned the anchors congruent to t, so it owns the winner.
        if (index != INT_MAX && index % (int)blockDim.x == (int)threadIdx.x) head++;
    }
    __syncthreads();
    // Same anchor-to-thread mapping as the scan above: each thread rewrites only its own entries.
    for (int a = threadIdx.x; a < A; a += blockDim.x) {
        if (!scratch.mask[row + a]) continue;
        bool chosen = false;
        for (int i = 0; i < k; i++) chosen |= selected[i] == a;
        scratch.mask[row + a] = chosen;
    }
}

__global__ void tal_resolve_kernel(int batch, int A, yl_loss_targets targets, yl_loss_tal_scratch scratch,
                                   yl_loss_assignment out) {
    GRID_STRIDE_LOOP(i, batch * A) {
        const int b = i / A, a = i - b * A, M = targets.count[b];
        const size_t first = (size_t)b * targets.max_gt * A + a;  // GT j at first + j * A
        int claims = 0;
        for (int j = 0; j < M; j++) claims += scratch.mask[first + (size_t)j * A];
        if (claims > 1) {
            int best = 0;
            for (int j = 1; j < M; j++)
                if (scratch.overlaps[first + (size_t)j * A] > scratch.overlaps[first + (size_t)best * A]) best = j;
            for (int j = 0; j < M; j++) scratch.mask[first + (size_t)j * A] = j == best;
        }
        int gt = 0;
        bool fg = false;
        for (int j = 0; j < M && !fg; j++)
            if (scratch.mask[first + (size_t)j * A]) gt = j, fg = true;
        const size_t slot = (size_t)b * targets.max_gt + gt;
        out.fg[i] = fg;
        out.gt_index[i] = gt;
        out.target_label[i] = fg ? targets.label[slot] : -1;
        for (int c = 0; c < 4; c++) out.target_boxes[4 * (size_t)i + c] = fg ? targets.box[4 * slot + c] : 0.0f;
    }
}

__global__ void __launch_bounds__(SELECT_THREADS)
    tal_gt_max_kernel(int A, yl_loss_targets targets, yl_loss_tal_scratch scratch) {
    const int j = blockIdx.x, b = blockIdx.y;
    if (j >= targets.count[b]) return;
    const size_t slot = (size_t)b * targets.max_gt + j, row = slot * A;
    float align_max = 0.0f, overlap_max = 0.0f;
    for (int a = threadIdx.x; a < A; a += blockDim.x)
        if (scratch.mask[row + a]) {
            align_max = fmaxf(align_max, scratch.align[row + a]);
            overlap_max = fmaxf(overlap_max, scratch.overlaps[row + a]);
        }
    __shared__ float align_part[SELECT_THREADS], overlap_part[SELECT_THREADS];
    align_part[threadIdx.x] = align_max;
    overlap_part[threadIdx.x] = overlap_max;
    __syncthreads();
    for (int half = SELECT_THREADS / 2; half > 0; half >>= 1) {
        if ((int)threadIdx.x < half) {
            align_part[threadIdx.x] = fmaxf(align_part[threadIdx.x], align_part[threadIdx.x + half]);
            overlap_part[threadIdx.x] = fmaxf(overlap_part[threadIdx.x], overlap_part[threadIdx.x + half]);
        }
        __syncthreads();
    }
    if (threadIdx.x == 0) {
        scratch.gt_max[2 * slot] = align_part[0];
        scratch.gt_max[2 * slot + 1] = overlap_part[0];
    }
}

__global__ void tal_soft_target_kernel(int batch, int A, yl_loss_targets targets, yl_loss_tal_scratch scratch,
                                       float eps, yl_loss_assignment out) {
    GRID_STRIDE_LOOP(i, batch * A) {
        float score = 0.0f;
        if (out.fg[i]) {
            const int b = i / A, a = i - b * A;
            const size_t slot = (size_t)b * targets.max_gt + out.gt_index[i];
            score = scratch.align[slot * A + a] * scratch.gt_max[2 * slot + 1] / (scratch.gt_max[2 * slot] + eps);
        }
        out.target_score[i] = score;
    }
}

yl_status yl_cuda_tal_assign(const yl_loss_geometry &g, const float *pred_boxes, const yl_loss_targets &targets,
                             const yl_loss_tal_params &params, const yl_loss_tal_scratch &scratch,
                             const yl_loss_assignment &out, cudaStream_t stream) {
    const int per_anchor = g.batch * g.anchors;
    const unsigned anchor_blocks = yl_grid_blocks(per_anchor, YL_ELEMENTWISE_THREADS);
    if (targets.max_gt > 0) {
        const dim3 per_gt(targets.max_gt, g.batch);
        if (params.topk <= SMALL_TOPK)
            tal_select_kernel<SMALL_TOPK>
                <<<per_gt, SELECT_THREADS, 0, stream>>>(g, pred_boxes, targets, params, scratch);
        else
            tal_select_kernel<LARGE_TOPK>
                <<<per_gt, SELECT_THREADS, 0, stream>>>(g, pred_boxes, targets, params, scratch);
        YL_CUDA_CHECK_LAUNCH("detection loss: tal_select");
    }
    tal_resolve_kernel<<<anchor_blocks, YL_ELEMENTWISE_THREADS, 0, stream>>>(g.batch, g.anchors, targets, scratch, out);
    YL_CUDA_CHECK_LAUNCH("detection loss: tal_resolve");
    if (targets.max_gt > 0) {
        tal_gt_max_kernel<<<dim3(targets.max_gt, g.batch), SELECT_THREADS, 0, stream>>>(g.anchors, targets, scratch);
        YL_CUDA_CHECK_LAUNCH("detection loss: tal_gt_max");
    }
    tal_soft_target_kernel<<<anchor_blocks, YL_ELEMENTWISE_THREADS, 0, stream>>>(g.batch, g.anchors, targets, scratch,
                                                                                 params.eps, out);
    YL_CUDA_CHECK_LAUNCH("detection loss: tal_soft_target");
    return YL_OK;
}
