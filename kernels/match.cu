// Prediction <-> GT matching at the ten IoU thresholds on the GPU (match_cuda.h explains the method).
#include <climits>

#include "cuda_internal.h"
#include "match_cuda.h"

#define MATCH_THREADS 256

struct iou_thresholds {
    float t[YL_EVAL_IOU_COUNT];
};

// torch.min/max propagate NaN (boxes.c's min_nan / max_nan).
__device__ __forceinline__ float min_nan(float a, float b) { return (a < b || isnan(a)) ? a : b; }
__device__ __forceinline__ float max_nan(float a, float b) { return (a > b || isnan(a)) ? a : b; }

// yl_box_iou: inter / (((area_a + area_b) - inter) + 1e-7), every step rounded on its own.
__device__ __forceinline__ float box_iou(const float *a, const float *b) {
    float w = __fsub_rn(min_nan(a[2], b[2]), max_nan(a[0], b[0]));
    float h = __fsub_rn(min_nan(a[3], b[3]), max_nan(a[1], b[1]));
    w = w < 0.0f ? 0.0f : w;
    h = h < 0.0f ? 0.0f : h;
    const float inter = __fmul_rn(w, h);
    const float area_a = __fmul_rn(__fsub_rn(a[2], a[0]), __fsub_rn(a[3], a[1]));
    const float area_b = __fmul_rn(__fsub_rn(b[2], b[0]), __fsub_rn(b[3], b[1]));
    return __fdiv_rn(inter, __fadd_rn(__fsub_rn(__fadd_rn(area_a, area_b), inter), 1e-7f));
}

__device__ __forceinline__ float clamp_to(float v, float high) {
    if (v < 0.0f) return 0.0f;
    if (v > high) return high;
    return v;  // NaN too
}

// yl_scale_detections for one box: unpad, divide by the gain (all float32), clip.
__device__ __forceinline__ void scale_box(float b[4], const yl_match_image &im) {
    const float pad_x = (float)im.ratio_pad.pad_x, pad_y = (float)im.ratio_pad.pad_y, gain = (float)im.ratio_pad.gain;
    b[0] = clamp_to(__fdiv_rn(__fsub_rn(b[0], pad_x), gain), (float)im.w0);
    b[1] = clamp_to(__fdiv_rn(__fsub_rn(b[1], pad_y), gain), (float)im.h0);
    b[2] = clamp_to(__fdiv_rn(__fsub_rn(b[2], pad_x), gain), (float)im.w0);
    b[3] = clamp_to(__fdiv_rn(__fsub_rn(b[3], pad_y), gain), (float)im.h0);
}

// One block per image. choice / best_iou: [image][det_stride]; winner: one int per GT row.
__global__ void __launch_bounds__(MATCH_THREADS)
    match_kernel(const yl_detection *dets, int64_t det_stride, const yl_match_image *images, const float *gt_boxes,
                 const int32_t *gt_cls, iou_thresholds thresholds, int *choice_all, float *best_all, int *winner_all,
                 yl_tp_mask *tp_all) {
    const int64_t image = blockIdx.x;
    const yl_match_image im = images[image];
    const int n_pred = (int)im.n_pred, n_gt = (int)im.n_gt;
    const yl_detection *d = dets + image * det_stride;
    int *choice = choice_all + image * det_stride;
    float *best_iou = best_all + image * det_stride;
    yl_tp_mask *tp = tp_all + image * det_stride;
    const float *gt_box = gt_boxes + 4 * im.gt_begin;
    const int32_t *gt_class = gt_cls + im.gt_begin;
    int *winner = winner_all + im.gt_begin;

    // Each thread keeps to its own predictions p = t, t + T, ... throughout.
    for (int p = threadIdx.x; p < n_pred; p += blockDim.x) {
        float box[4] = {d[p].x1, d[p].y1, d[p].x2, d[p].y2};
        if (im.h0 > 0) scale_box(box, im);
        int chosen = -1;
        float best = 0.0f;
        for (int g = 0; g < n_gt; g++) {
            if (gt_class[g] != d[p].cls) continue;
            const float v = box_iou(gt_box + 4 * g, box);
            if (isnan(v)) continue;
            if (chosen < 0 || v >= best) best = v, chosen = g;
        }
        choice[p] = chosen;
        best_iou[p] = best;
        tp[p] = 0;
    }
    for (int t = 0; t < YL_EVAL_IOU_COUNT; t++) {
        const float threshold = thresholds.t[t];
        for (int g = threadIdx.x; g < n_gt; g += blockDim.x) winner[g] = INT_MAX;
        __syncthreads();
        for (int p = threadIdx.x; p < n_pred; p += blockDim.x)
            if (choice[p] >= 0 && best_iou[p] >= threshold) atomicMin(&winner[choice[p]], p);
        __syncthreads();
        for (int p = threadIdx.x; p < n_pred; p += blockDim.x)
            if (choice[p] >= 0 && best_iou[p] >= threshold && winner[choice[p]] == p) tp[p] |= (yl_tp_mask)(1u << t);
        __syncthreads();
    }
}

static size_t align_up(size_t bytes) { return (bytes + 255) & ~(size_t)255; }

extern "C" yl_status yl_cuda_match_run(yl_backend *be, const yl_detection *device_dets, int64_t det_stride,
                                       const yl_match_image *images, int64_t n_images, const float *gt_boxes,
                                       const int32_t *gt_cls, int64_t n_gt_total, yl_tp_mask *tp) {
    cudaStream_t stream = yl_cuda_state_of(be)->stream;
    const size_t per_pred = (size_t)n_images * (size_t)det_stride;
    const size_t image_bytes = (size_t)n_images * sizeof(yl_match_image);
    const size_t box_bytes = (size_t)n_gt_total * 4 * sizeof(float), class_bytes = (size_t)n_gt_total * sizeof(int32_t);
    const size_t choice_bytes = per_pred * sizeof(int), best_bytes = per_pred * sizeof(float);
    const size_t winner_bytes = (size_t)n_gt_total * sizeof(int), tp_bytes = per_pred * sizeof(yl_tp_mask);
    // Uploaded: images, GT boxes, GT classes; the kernel's: choice, best IoU, winner, tp.
    const size_t sizes[7] = {image_bytes, box_bytes, class_bytes, choice_bytes, best_bytes, winner_bytes, tp_bytes};
    size_t total = 0;
    for (size_t s : sizes) total += align_up(s);
    void *workspace;
    YL_TRY(yl_cuda_workspace(be, total, &workspace));
    char *parts[7];
    char *next = (char *)workspace;
    for (int i = 0; i < 7; i++) {
        parts[i] = next;
        next += align_up(sizes[i]);
    }
    if (image_bytes) YL_CUDA_CHECK(cudaMemcpyAsync(parts[0], images, image_bytes, cudaMemcpyHostToDevice, stream));
    if (box_bytes) YL_CUDA_CHECK(cudaMemcpyAsync(parts[1], gt_boxes, box_bytes, cudaMemcpyHostToDevice, stream));
    if (class_bytes) YL_CUDA_CHECK(cudaMemcpyAsync(parts[2], gt_cls, class_bytes, cudaMemcpyHostToDevice, stream));
    iou_thresholds thresholds;
    for (int t = 0; t < YL_EVAL_IOU_COUNT; t++) thresholds.t[t] = yl_eval_iou_thresholds[t];
    match_kernel<<<(unsigned)n_images, MATCH_THREADS, 0, stream>>>(
        device_dets, det_stride, (const yl_match_image *)parts[0], (const float *)parts[1], (const int32_t *)parts[2],
        thresholds, (int *)parts[3], (float *)parts[4], (int *)parts[5], (yl_tp_mask *)parts[6]);
    YL_CUDA_CHECK_LAUNCH("match (cuda)");
    if (tp_bytes) YL_CUDA_CHECK(cudaMemcpyAsync(tp, parts[6], tp_bytes, cudaMemcpyDeviceToHost, stream));
    cudaError_t err = cudaStreamSynchronize(stream);
    if (err != cudaSuccess)
        return yl_error(YL_ERR_BACKEND, "match (cuda): error in queued work (this call or an op before it): %s",
                        cudaGetErrorString(err));
    return YL_OK;
}
