// NMS on the GPU (nms_cuda.h explains the steps). Parity with engine/eval/nms.c is bit for bit, so
// every product and sum that the CPU rounds separately is written with __fmul_rn / __fadd_rn /
// __fsub_rn, which nvcc never fuses into a multiply-add.
#include <cub/cub.cuh>

#include "cuda_internal.h"
#include "launch_config.cuh"
#include "nms_cuda.h"

#define TILE 64  // boxes per mask word
#define SCAN_THREADS 256
#define MAX_MASK_WORDS (48 * 1024 / 8)  // the scan's suppression bits live in static-size shared memory
#define NO_PROBLEM 0xffffffffffffffffull

// The eval output of one batch: element (b, row, a) at data[b * s0 + row * s1 + a * s2].
struct nms_input {
    const float *data;
    int64_t s0, s1, s2;
    int anchors, classes;
};

struct nms_settings {
    float conf_thres;
    double iou_thres;
    bool multi_label;        // already false when nc == 1
    float class_offset;      // max_wh, or 0 when agnostic
    const int32_t *classes;  // device copy of the class filter, NULL for every class
    int n_classes;
    int max_nms, max_det;
};

// The boxes entering NMS, in rank order (descending score).
struct nms_ranked {
    float *box;         // [4] xyxy as output
    float *offset_box;  // [4] with the class offset
    float *area;        // of the offset box
    float *score;
    int32_t *cls, *anchor;
};

__device__ __forceinline__ bool class_allowed(int c, const nms_settings &s) {
    if (!s.classes) return true;
    for (int i = 0; i < s.n_classes; i++)
        if (s.classes[i] == c) return true;
    return false;
}

// yl_xywh_to_xyxy.
__device__ __forceinline__ void xywh_to_xyxy(const float *column, int64_t s1, float xyxy[4]) {
    const float cx = column[0], cy = column[s1], half_w = __fdiv_rn(column[2 * s1], 2.0f),
                half_h = __fdiv_rn(column[3 * s1], 2.0f);
    xyxy[0] = __fsub_rn(cx, half_w);
    xyxy[1] = __fsub_rn(cy, half_h);
    xyxy[2] = __fadd_rn(cx, half_w);
    xyxy[3] = __fadd_rn(cy, half_h);
}

__device__ __forceinline__ int min_candidates(const int *count, const nms_settings &s) {
    return *count < s.max_nms ? *count : s.max_nms;
}

// Keys: a candidate's score bits (scores > conf_thres >= 0 are positive, so their bits order as the
// scores do and are never 0), 0 otherwise. Values: the dense index, which is the candidate order.
__global__ void candidates_kernel(nms_input in, int b, nms_settings s, unsigned *keys, int *values, int *best_class,
                                  int *count, unsigned long long *problem) {
    const int nc = in.classes;
    int found = 0;
    for (int a = blockIdx.x * blockDim.x + threadIdx.x; a < in.anchors; a += gridDim.x * blockDim.x) {
        const float *column = in.data + b * in.s0 + a * in.s2;
        const unsigned long long key_base = ((unsigned long long)b * in.anchors + a) * (nc + 1);
        float best = -INFINITY;
        int best_c = 0;
        bool ok = true;
        for (int c = 0; c < nc; c++) {
            const float v = column[(4 + c) * in.s1];
            if (isnan(v)) {
                atomicMin(problem, key_base + c);
                ok = false;
                break;
            }
            if (v > best) best = v, best_c = c;
        }
        bool candidate = ok && best > s.conf_thres;
        if (candidate) {
            float xyxy[4];
            xywh_to_xyxy(column, in.s1, xyxy);
            for (int k = 0; k < 4; k++) candidate &= isfinite(xyxy[k]);
            if (!candidate) atomicMin(problem, key_base + nc);
        }
        if (s.multi_label) {
            for (int c = 0; c < nc; c++) {
                const float v = column[(4 + c) * in.s1];
                const bool take = candidate && v > s.conf_thres && class_allowed(c, s);
                const int64_t i = (int64_t)a * nc + c;
                keys[i] = take ? __float_as_uint(v) : 0u;
                values[i] = (int)i;
                found += take;
            }
        } else {
            const bool take = candidate && class_allowed(best_c, s);
            keys[a] = take ? __float_as_uint(best) : 0u;
            values[a] = a;
            best_class[a] = best_c;
            found += take;
        }
    }
    if (found) atomicAdd(count, found);  // an integer sum: the same total in any order
}

__global__ void gather_kernel(nms_input in, int b, nms_settings s, const unsigned *keys, const int *values,
                              const int *best_class, const int *count, nms_ranked r) {
    const int m = min_candidates(count, s);
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < m; i += gridDim.x * blockDim.x) {
        const int index = values[i];
        const int a = s.multi_label ? index / in.classes : index;
        const int c = s.multi_label ? index - a * in.classes : best_class[a];
        float xyxy[4];
        xywh_to_xyxy(in.data + b * in.s0 + a * in.s2, in.s1, xyxy);
        const float offset = __fmul_rn((float)c, s.class_offset);
        float *box = r.box + 4 * (size_t)i, *obox = r.offset_box + 4 * (size_t)i;
        for (int k = 0; k < 4; k++) {
            box[k] = xyxy[k];
            obox[k] = __fadd_rn(xyxy[k], offset);
        }
        r.area[i] = __fmul_rn(__fsub_rn(obox[2], obox[0]), __fsub_rn(obox[3], obox[1]));
        r.score[i] = __uint_as_float(keys[i]);
        r.cls[i] = c;
        r.anchor[i] = a;
    }
}

// IoU > threshold exactly as engine/eval/nms.c's suppress() (torchvision's CPU kernel) computes it.
__device__ __forceinline__ bool suppresses(const float *bi, float area_i, const float *bj, float area_j,
                                           double iou_thres) {
    const float xx1 = bi[0] < bj[0] ? bj[0] : bi[0];
    const float yy1 = bi[1] < bj[1] ? bj[1] : bi[1];
    const float xx2 = bj[2] < bi[2] ? bj[2] : bi[2];
    const float yy2 = bj[3] < bi[3] ? bj[3] : bi[3];
    const float dw = __fsub_rn(xx2, xx1), dh = __fsub_rn(yy2, yy1);
    const float w = 0.0f < dw ? dw : 0.0f, h = 0.0f < dh ? dh : 0.0f;
    const float inter = __fmul_rn(w, h);
    const float iou = __fdiv_rn(inter, __fsub_rn(__fadd_rn(area_i, area_j), inter));
    return (double)iou > iou_thres;
}

// Block (column tile, row tile): bit j of mask[i][column tile] = box i suppresses box (tile * 64 + j),
// for later boxes only; tiles left of the diagonal are never read and stay unwritten.
__global__ void __launch_bounds__(TILE)
    mask_kernel(const int *count, nms_settings s, nms_ranked r, int words, unsigned long long *mask) {
    const int m = min_candidates(count, s);
    const int row_tile = blockIdx.y, column_tile = blockIdx.x;
    if (row_tile > column_tile) return;
    const int rows = min(m - row_tile * TILE, TILE), columns = min(m - column_tile * TILE, TILE);
    if (rows <= 0 || columns <= 0) return;
    __shared__ float column_box[TILE][4], column_area[TILE];
    if ((int)threadIdx.x < columns) {
        const int j = column_tile * TILE + threadIdx.x;
        for (int k = 0; k < 4; k++) column_box[threadIdx.x][k] = r.offset_box[4 * (size_t)j + k];
        column_area[threadIdx.x] = r.area[j];
    }
    __syncthreads();
    if ((int)threadIdx.x >= rows) return;
    const int i = row_tile * TILE + threadIdx.x;
    const float bi[4] = {r.offset_box[4 * (size_t)i], r.offset_box[4 * (size_t)i + 1], r.offset_box[4 * (size_t)i + 2],
                         r.offset_box[4 * (size_t)i + 3]};
    const float area_i = r.area[i];
    unsigned long long bits = 0;
    for (int j = row_tile == column_tile ? (int)threadIdx.x + 1 : 0; j < columns; j++)
        if (suppresses(bi, area_i, column_box[j], column_area[j], s.iou_thres)) bits |= 1ull << j;
    mask[(size_t)i * words + column_tile] = bits;
}

// Greedy NMS over the ranked boxes: keep box i unless a kept box suppressed it, up to max_det.
__global__ void __launch_bounds__(SCAN_THREADS)
    scan_kernel(const int *count, nms_settings s, nms_ranked r, int words, const unsigned long long *mask,
                yl_detection *out, int64_t *kept_out) {
    __shared__ unsigned long long removed[MAX_MASK_WORDS];
    const int m = min_candidates(count, s), used_words = (m + TILE - 1) / TILE;
    for (int w = threadIdx.x; w < used_words; w += SCAN_THREADS) removed[w] = 0;
    __syncthreads();
    int kept = 0;  // the same in every thread
    for (int i = 0; i < m && kept < s.max_det; i++) {
        if (removed[i / TILE] >> (i % TILE) & 1ull) continue;
        if (threadIdx.x == 0) {
            yl_detection d;
            d.x1 = r.box[4 * (size_t)i];
            d.y1 = r.box[4 * (size_t)i + 1];
            d.x2 = r.box[4 * (size_t)i + 2];
            d.y2 = r.box[4 * (size_t)i + 3];
            d.conf = r.score[i];
            d.cls = r.cls[i];
            d.anchor = r.anchor[i];
            out[kept] = d;
        }
        kept++;
        __syncthreads();  // every thread has read bit i before any word changes
        const unsigned long long *row = mask + (size_t)i * words;
        for (int w = i / TILE + threadIdx.x; w < used_words; w += SCAN_THREADS) removed[w] |= row[w];
        __syncthreads();
    }
    if (threadIdx.x == 0) *kept_out = kept;
}

// ---- orchestration -----------------------------------------------------------------------------

static size_t align_up(size_t bytes) { return (bytes + 255) & ~(size_t)255; }

struct nms_scratch {
    unsigned long long *problem;
    int64_t *kept;  // [batch] detections kept per image
    int *count;     // [batch] candidates per image
    int32_t *classes;
    unsigned *keys_in, *keys_out;
    int *values_in, *values_out;
    int *best_class;
    void *sort_temp;
    nms_ranked ranked;
    unsigned long long *mask;
    yl_detection *detections;  // when the caller gives no device output
};

struct nms_sizes {
    int64_t batch;
    int anchors, dense, ranked, words, n_classes, max_det;
    size_t sort_bytes;
    bool own_detections;
};

// Carves the scratch out of base (or only measures when base is NULL); returns the bytes used.
static size_t carve(char *base, const nms_sizes &z, nms_scratch &s) {
    size_t used = 0;
    auto take = [&](size_t bytes) -> void * {
        void *p = base ? base + used : nullptr;
        used += align_up(bytes);
        return p;
    };
    s.problem = (unsigned long long *)take(sizeof(unsigned long long));
    s.kept = (int64_t *)take((size_t)z.batch * sizeof(int64_t));
    s.count = (int *)take((size_t)z.batch * sizeof(int));
    s.classes = (int32_t *)take((size_t)z.n_classes * sizeof(int32_t));
    s.keys_in = (unsigned *)take((size_t)z.dense * sizeof(unsigned));
    s.keys_out = (unsigned *)take((size_t)z.dense * sizeof(unsigned));
    s.values_in = (int *)take((size_t)z.dense * sizeof(int));
    s.values_out = (int *)take((size_t)z.dense * sizeof(int));
    s.best_class = (int *)take((size_t)z.anchors * sizeof(int));
    s.sort_temp = take(z.sort_bytes);
    s.ranked.box = (float *)take((size_t)z.ranked * 4 * sizeof(float));
    s.ranked.offset_box = (float *)take((size_t)z.ranked * 4 * sizeof(float));
    s.ranked.area = (float *)take((size_t)z.ranked * sizeof(float));
    s.ranked.score = (float *)take((size_t)z.ranked * sizeof(float));
    s.ranked.cls = (int32_t *)take((size_t)z.ranked * sizeof(int32_t));
    s.ranked.anchor = (int32_t *)take((size_t)z.ranked * sizeof(int32_t));
    s.mask = (unsigned long long *)take((size_t)z.ranked * z.words * sizeof(unsigned long long));
    s.detections = (yl_detection *)take(z.own_detections ? (size_t)z.batch * z.max_det * sizeof(yl_detection) : 0);
    return used;
}

extern "C" yl_status yl_cuda_nms_run(yl_backend *be, const yl_tensor *pred, const yl_nms_options *o,
                                     yl_detection *device_out, yl_detection *out, int64_t *counts, int64_t *problem) {
    const int64_t batch = pred->shape[0], nc = pred->shape[1] - 4, anchors = pred->shape[2];
    *problem = -1;
    for (int64_t b = 0; b < batch; b++) counts[b] = 0;
    if (batch == 0 || anchors == 0) return YL_OK;
    const bool multi_label = o->multi_label && nc > 1;
    const int64_t dense = multi_label ? anchors * nc : anchors;
    if (dense > INT32_MAX / 2)
        return yl_error(YL_ERR_UNSUPPORTED, "nms (cuda): %lld anchors x %lld classes is too many", (long long)anchors,
                        (long long)nc);
    const int64_t ranked = dense < o->max_nms ? dense : o->max_nms;
    const int64_t words = (ranked + TILE - 1) / TILE;
    if (words > MAX_MASK_WORDS)
        return yl_error(YL_ERR_UNSUPPORTED,
                        "nms (cuda): up to %lld boxes could enter NMS (max_nms %lld), above the %d the scan holds",
                        (long long)ranked, (long long)o->max_nms, MAX_MASK_WORDS * TILE);

    cudaStream_t stream = yl_cuda_state_of(be)->stream;
    nms_sizes z;
    z.batch = batch;
    z.anchors = (int)anchors;
    z.dense = (int)dense;
    z.ranked = (int)ranked;
    z.words = (int)words;
    z.n_classes = o->classes ? o->n_classes : 0;
    z.max_det = o->max_det;
    z.sort_bytes = 0;
    z.own_detections = device_out == nullptr;
    YL_CUDA_CHECK(cub::DeviceRadixSort::SortPairsDescending(nullptr, z.sort_bytes, (const unsigned *)nullptr,
                                                            (unsigned *)nullptr, (const int *)nullptr, (int *)nullptr,
                                                            z.dense, 0, 32, stream));
    nms_scratch s;
    const size_t bytes = carve(nullptr, z, s);
    void *workspace;
    YL_TRY(yl_cuda_workspace(be, bytes, &workspace));
    carve((char *)workspace, z, s);
    yl_detection *detections = device_out ? device_out : s.detections;

    YL_CUDA_CHECK(cudaMemsetAsync(s.problem, 0xff, sizeof(unsigned long long), stream));
    YL_CUDA_CHECK(cudaMemsetAsync(s.count, 0, (size_t)batch * sizeof(int), stream));
    if (z.n_classes > 0)
        YL_CUDA_CHECK(cudaMemcpyAsync(s.classes, o->classes, (size_t)z.n_classes * sizeof(int32_t),
                                      cudaMemcpyHostToDevice, stream));

    nms_input in;
    in.data = (const float *)pred->data;
    in.s0 = pred->stride[0], in.s1 = pred->stride[1], in.s2 = pred->stride[2];
    in.anchors = (int)anchors;
    in.classes = (int)nc;
    nms_settings settings;
    settings.conf_thres = o->conf_thres;
    settings.iou_thres = o->iou_thres;
    settings.multi_label = multi_label;
    settings.class_offset = o->agnostic ? 0.0f : o->max_wh;
    settings.classes = z.n_classes > 0 ? s.classes : nullptr;
    settings.n_classes = z.n_classes;
    settings.max_nms = (int)ranked;  // min(pairs, max_nms): what can enter NMS
    settings.max_det = o->max_det;
    const unsigned anchor_blocks = yl_grid_blocks(anchors, YL_ELEMENTWISE_THREADS);
    const unsigned ranked_blocks = yl_grid_blocks(ranked, YL_ELEMENTWISE_THREADS);
    for (int b = 0; b < (int)batch; b++) {
        candidates_kernel<<<anchor_blocks, YL_ELEMENTWISE_THREADS, 0, stream>>>(in, b, settings, s.keys_in, s.values_in,
                                                                                s.best_class, s.count + b, s.problem);
        YL_CUDA_CHECK_LAUNCH("nms: candidates");
        size_t sort_bytes = z.sort_bytes;
        YL_CUDA_CHECK(cub::DeviceRadixSort::SortPairsDescending(s.sort_temp, sort_bytes, s.keys_in, s.keys_out,
                                                                s.values_in, s.values_out, z.dense, 0, 32, stream));
        gather_kernel<<<ranked_blocks, YL_ELEMENTWISE_THREADS, 0, stream>>>(in, b, settings, s.keys_out, s.values_out,
                                                                            s.best_class, s.count + b, s.ranked);
        YL_CUDA_CHECK_LAUNCH("nms: gather");
        mask_kernel<<<dim3(z.words, z.words), TILE, 0, stream>>>(s.count + b, settings, s.ranked, z.words, s.mask);
        YL_CUDA_CHECK_LAUNCH("nms: suppression masks");
        scan_kernel<<<1, SCAN_THREADS, 0, stream>>>(s.count + b, settings, s.ranked, z.words, s.mask,
                                                    detections + (size_t)b * o->max_det, s.kept + b);
        YL_CUDA_CHECK_LAUNCH("nms: scan");
    }

    unsigned long long problem_bits;
    YL_CUDA_CHECK(cudaMemcpyAsync(&problem_bits, s.problem, sizeof problem_bits, cudaMemcpyDeviceToHost, stream));
    YL_CUDA_CHECK(cudaMemcpyAsync(counts, s.kept, (size_t)batch * sizeof(int64_t), cudaMemcpyDeviceToHost, stream));
    if (out)
        YL_CUDA_CHECK(cudaMemcpyAsync(out, detections, (size_t)batch * o->max_det * sizeof(yl_detection),
                                      cudaMemcpyDeviceToHost, stream));
    cudaError_t err = cudaStreamSynchronize(stream);
    if (err != cudaSuccess)
        return yl_error(YL_ERR_BACKEND, "nms (cuda): error in queued work (this call or an op before it): %s",
                        cudaGetErrorString(err));
    if (problem_bits != NO_PROBLEM) *problem = (int64_t)problem_bits;
    return YL_OK;
}
