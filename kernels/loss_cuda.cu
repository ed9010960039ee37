// The YOLOv8 detection loss on the GPU: state, decode, normaliser, loss terms and gradients, and the
// order in which they run (loss_cuda.h). The assigner is in loss_tal.cu.
//
// Reductions are deterministic: every sum is a fixed grid of blocks, each reducing its threads'
// values in a fixed tree, then one block adding the partial sums in a fixed order — no float atomics.
// The only atomic is an integer minimum (first NaN/Inf index), whose result does not depend on order.
#include <cmath>
#include <cstdlib>

#include "cuda_internal.h"
#include "launch_config.cuh"
#include "loss_math.cuh"

#define SUM_THREADS 256
#define MAX_SUM_BLOCKS 1024
#define NO_NONFINITE 0xffffffffffffffffull

// The result block, written on the device and copied back once per call.
struct loss_totals {
    double bce_sum, box_sum, dfl_sum, score_sum;
    double per_sum;  // batch / max(score_sum, 1): d(total) / d(term sum before its gain)
    double num_fg;
    unsigned long long first_nonfinite[YL_CUDA_LOSS_LEVELS];
};

struct yl_cuda_detection_loss {
    yl_backend *be;
    int capacity;  // images x anchors the assignment arrays hold
    void *memory;  // one allocation for everything below
    yl_loss_assignment assignment;
    loss_totals *totals;
    loss_totals host_totals;
};

static size_t align_up(size_t bytes) { return (bytes + 255) & ~(size_t)255; }

// Carves consecutive 256-byte aligned pieces out of one buffer (or only measures when base is NULL).
struct carver {
    char *base;
    size_t used;
    template <typename T>
    T *take(size_t count) {
        T *p = base ? (T *)(base + used) : nullptr;
        used += align_up(count * sizeof(T));
        return p;
    }
};

static void carve_state(carver &c, int capacity, yl_loss_assignment &a, loss_totals *&totals) {
    a.fg = c.take<unsigned char>(capacity);
    a.gt_index = c.take<int>(capacity);
    a.target_label = c.take<int>(capacity);
    a.target_score = c.take<float>(capacity);
    a.target_boxes = c.take<float>((size_t)capacity * 4);
    totals = c.take<loss_totals>(1);
}

extern "C" yl_status yl_cuda_detection_loss_create(yl_backend *be, int max_batch, int anchor_capacity,
                                                   yl_cuda_detection_loss **out) {
    if (!out || !be) return yl_error(YL_ERR_INVALID_ARG, "detection loss (cuda): NULL argument");
    *out = nullptr;
    if (be->device != YL_DEVICE_CUDA)
        return yl_error(YL_ERR_DEVICE, "detection loss (cuda): backend '%s' is not a CUDA backend", be->name);
    if (max_batch < 1 || anchor_capacity < 1)
        return yl_error(YL_ERR_INVALID_ARG, "detection loss (cuda): capacity %d images x %d anchors", max_batch,
                        anchor_capacity);
    const size_t capacity = (size_t)max_batch * (size_t)anchor_capacity;
    if (capacity > (size_t)INT32_MAX / 4)
        return yl_error(YL_ERR_INVALID_ARG, "detection loss (cuda): %zu anchors over the batch is too many", capacity);
    yl_cuda_detection_loss *state = (yl_cuda_detection_loss *)calloc(1, sizeof *state);
    if (!state) return yl_error(YL_ERR_OOM, "detection loss (cuda): out of memory");
    state->be = be;
    state->capacity = (int)capacity;
    carver measure = {nullptr, 0};
    carve_state(measure, state->capacity, state->assignment, state->totals);
    yl_status status = be->alloc(be, measure.used, &state->memory);
    if (status != YL_OK) {
        free(state);
        return yl_error_context(status, "detection loss (cuda)");
    }
    carver c = {(char *)state->memory, 0};
    carve_state(c, state->capacity, state->assignment, state->totals);
    // A defined (background) assignment until the first call writes one.
    status = be->memset_zero(be, state->memory, measure.used);
    if (status != YL_OK) {
        yl_cuda_detection_loss_destroy(state);
        return status;
    }
    *out = state;
    return YL_OK;
}

extern "C" void yl_cuda_detection_loss_destroy(yl_cuda_detection_loss *state) {
    if (!state) return;
    if (state->memory) {
        // Queued kernels may still use the buffers.
        cudaStreamSynchronize(yl_cuda_state_of(state->be)->stream);
        state->be->free(state->be, state->memory);
    }
    free(state);
}

// ---- kernels ----------------------------------------------------------------------------------

#define GRID_STRIDE_LOOP(i, n) for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < (n); i += gridDim.x * blockDim.x)

__global__ void reset_totals_kernel(loss_totals *t) {
    t->bce_sum = t->box_sum = t->dfl_sum = t->score_sum = t->per_sum = t->num_fg = 0.0;
    for (int l = 0; l < YL_CUDA_LOSS_LEVELS; l++) t->first_nonfinite[l] = NO_NONFINITE;
}

__global__ void find_nonfinite_kernel(const float *x, int64_t n, unsigned long long *first) {
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
        if (!isfinite(x[i])) atomicMin(first, (unsigned long long)i);
}

// pred_boxes[b][a] = (ax - l, ay - t, ax + r, ay + b) in grid units, from the DFL expectation.
__global__ void decode_kernel(yl_loss_geometry g, float *pred_boxes) {
    GRID_STRIDE_LOOP(i, g.batch * g.anchors) {
        const int b = i / g.anchors, a = i - b * g.anchors;
        const yl_loss_anchor r = yl_loss_locate(g, a);
        const int64_t cs = g.level_size[r.level];
        const float *x = g.head[r.level] + yl_loss_offset(g, b, r);
        float dist[4];
        for (int side = 0; side < 4; side++) dist[side] = yl_loss_dfl_side(x + (int64_t)side * YL_LOSS_BINS * cs, cs);
        float *box = pred_boxes + 4 * (size_t)i;
        box[0] = r.x - dist[0];
        box[1] = r.y - dist[1];
        box[2] = r.x + dist[2];
        box[3] = r.y + dist[3];
    }
}

// Adds N values over the block in a fixed tree; thread 0 gets the sums.
template <int N>
__device__ __forceinline__ void block_sum(double (&values)[N], double (*shared)[SUM_THREADS]) {
    for (int k = 0; k < N; k++) shared[k][threadIdx.x] = values[k];
    __syncthreads();
    for (int half = SUM_THREADS / 2; half > 0; half >>= 1) {
        if ((int)threadIdx.x < half)
            for (int k = 0; k < N; k++) shared[k][threadIdx.x] += shared[k][threadIdx.x + half];
        __syncthreads();
    }
    for (int k = 0; k < N; k++) values[k] = shared[k][0];
}

// One block: adds `blocks` rows of N partial sums in a fixed order.
template <int N>
__device__ __forceinline__ void sum_partials(const double *partials, int blocks, double (&sums)[N]) {
    __shared__ double shared[N][SUM_THREADS];
    for (int k = 0; k < N; k++) sums[k] = 0.0;
    for (int i = threadIdx.x; i < blocks; i += SUM_THREADS)
        for (int k = 0; k < N; k++) sums[k] += partials[(size_t)i * N + k];
    block_sum<N>(sums, shared);
}

__global__ void __launch_bounds__(SUM_THREADS)
    score_partials_kernel(int count, yl_loss_assignment asg, double *partials) {
    __shared__ double shared[2][SUM_THREADS];
    double v[2] = {0.0, 0.0};
    GRID_STRIDE_LOOP(i, count) {
        v[0] += asg.target_score[i];
        v[1] += asg.fg[i];
    }
    block_sum<2>(v, shared);
    if (threadIdx.x == 0) partials[2 * blockIdx.x] = v[0], partials[2 * blockIdx.x + 1] = v[1];
}

__global__ void __launch_bounds__(SUM_THREADS)
    normaliser_kernel(const double *partials, int blocks, int batch, loss_totals *t) {
    double sums[2];
    sum_partials<2>(partials, blocks, sums);
    if (threadIdx.x == 0) {
        t->score_sum = sums[0];
        t->num_fg = sums[1];
        const float normaliser = fmaxf((float)sums[0], 1.0f);
        t->per_sum = (double)batch / normaliser;
    }
}

struct loss_gains {
    float box, cls, dfl;
};

// Every (image, anchor): the BCE of its classes; for foreground anchors the box and DFL terms. With
// gradient maps, writes every channel of the anchor (box channels 0 for background anchors).
__global__ void __launch_bounds__(SUM_THREADS)
    terms_kernel(yl_loss_geometry g, const float *pred_boxes, yl_loss_assignment asg, const loss_totals *t,
                 loss_gains gains, double *partials) {
    __shared__ double shared[3][SUM_THREADS];
    const double per_sum = t->per_sum;
    const double cls_scale = per_sum * gains.cls, box_scale = per_sum * gains.box, dfl_scale = per_sum * gains.dfl;
    double v[3] = {0.0, 0.0, 0.0};  // bce, box, dfl
    GRID_STRIDE_LOOP(i, g.batch * g.anchors) {
        const int b = i / g.anchors, a = i - b * g.anchors;
        const yl_loss_anchor r = yl_loss_locate(g, a);
        const int64_t cs = g.level_size[r.level], offset = yl_loss_offset(g, b, r);
        const float *x = g.head[r.level] + offset;
        float *grad = g.grad[r.level] ? g.grad[r.level] + offset : nullptr;
        v[0] += yl_loss_class_bce(x + YL_LOSS_BOX_CHANNELS * cs, cs, g.classes, asg.target_label[i],
                                  asg.target_score[i], grad ? grad + YL_LOSS_BOX_CHANNELS * cs : nullptr, cls_scale);
        if (!asg.fg[i]) {
            if (grad)
                for (int c = 0; c < YL_LOSS_BOX_CHANNELS; c++) grad[c * cs] = 0.0f;
            continue;
        }
        const float *pred = pred_boxes + 4 * (size_t)i, *target = asg.target_boxes + 4 * (size_t)i;
        const float pred_box[4] = {pred[0], pred[1], pred[2], pred[3]};
        const float target_box[4] = {target[0], target[1], target[2], target[3]};
        yl_loss_box_dfl_terms(x, cs, r.x, r.y, r.stride, pred_box, target_box, asg.target_score[i], &v[1], &v[2], grad,
                              box_scale, dfl_scale);
    }
    block_sum<3>(v, shared);
    if (threadIdx.x == 0)
        for (int k = 0; k < 3; k++) partials[3 * blockIdx.x + k] = v[k];
}

__global__ void __launch_bounds__(SUM_THREADS) finish_kernel(const double *partials, int blocks, loss_totals *t) {
    double sums[3];
    sum_partials<3>(partials, blocks, sums);
    if (threadIdx.x == 0) t->bce_sum = sums[0], t->box_sum = sums[1], t->dfl_sum = sums[2];
}

// ---- orchestration -----------------------------------------------------------------------------

// The per-call scratch in the shared workspace (sizes only when base is NULL).
struct loss_scratch {
    float *pred_boxes;
    void *targets;
    yl_loss_tal_scratch tal;
    double *partials;
};

static void carve_scratch(carver &c, const yl_cuda_loss_problem *p, loss_scratch &s) {
    const size_t BA = (size_t)p->batch * p->num_anchors, per_gt = (size_t)p->batch * p->max_gt;
    s.pred_boxes = c.take<float>(BA * 4);
    s.targets = c.take<char>(p->assign ? yl_cuda_loss_targets_bytes(p->batch, p->max_gt) : 0);
    const size_t rows = p->assign ? per_gt * p->num_anchors : 0;
    s.tal.overlaps = c.take<float>(rows);
    s.tal.align = c.take<float>(rows);
    s.tal.mask = c.take<unsigned char>(rows);
    s.tal.gt_max = c.take<float>(p->assign ? per_gt * 2 : 0);
    s.partials = c.take<double>(MAX_SUM_BLOCKS * 3);
}

static yl_loss_geometry make_geometry(const yl_cuda_loss_problem *p, const yl_tensor *heads, const yl_tensor *grads) {
    yl_loss_geometry g;
    g.batch = p->batch;
    g.anchors = p->num_anchors;
    g.classes = p->num_classes;
    g.channels = YL_LOSS_BOX_CHANNELS + p->num_classes;
    int start = 0;
    for (int l = 0; l < YL_CUDA_LOSS_LEVELS; l++) {
        g.level_start[l] = start;
        g.level_size[l] = p->level_h[l] * p->level_w[l];
        g.level_w[l] = p->level_w[l];
        g.stride[l] = (float)p->strides[l];
        g.head[l] = (const float *)heads[l].data;
        g.grad[l] = grads ? (float *)grads[l].data : nullptr;
        start += g.level_size[l];
    }
    return g;
}

static unsigned sum_blocks(int items) {
    int blocks = (items + SUM_THREADS - 1) / SUM_THREADS;
    return (unsigned)(blocks < 1 ? 1 : blocks > MAX_SUM_BLOCKS ? MAX_SUM_BLOCKS : blocks);
}

extern "C" yl_status yl_cuda_detection_loss_run(yl_cuda_detection_loss *state, const yl_cuda_loss_problem *p,
                                                const yl_tensor heads[YL_CUDA_LOSS_LEVELS], const yl_tensor *grads,
                                                yl_cuda_loss_sums *sums) {
    if (!state || !p || !heads || !sums) return yl_error(YL_ERR_INVALID_ARG, "detection loss (cuda): NULL argument");
    const int BA = p->batch * p->num_anchors;
    if (p->batch < 1 || p->num_anchors < 1 || BA > state->capacity)
        return yl_error(YL_ERR_INVALID_ARG, "detection loss (cuda): %d images x %d anchors, the device state holds %d",
                        p->batch, p->num_anchors, state->capacity);
    if (p->assign && (p->max_gt < 0 || (!p->targets)))
        return yl_error(YL_ERR_INVALID_ARG, "detection loss (cuda): no packed targets");
    yl_backend *be = state->be;
    cudaStream_t stream = yl_cuda_state_of(be)->stream;
    const yl_loss_geometry g = make_geometry(p, heads, grads);

    carver measure = {nullptr, 0};
    loss_scratch s;
    carve_scratch(measure, p, s);
    void *workspace;
    YL_TRY(yl_cuda_workspace(be, measure.used, &workspace));
    carver c = {(char *)workspace, 0};
    carve_scratch(c, p, s);

    reset_totals_kernel<<<1, 1, 0, stream>>>(state->totals);
    YL_CUDA_CHECK_LAUNCH("detection loss: reset");
    for (int l = 0; l < YL_CUDA_LOSS_LEVELS; l++) {
        const int64_t n = yl_tensor_numel(&heads[l]);
        find_nonfinite_kernel<<<yl_grid_blocks(n, YL_ELEMENTWISE_THREADS), YL_ELEMENTWISE_THREADS, 0, stream>>>(
            g.head[l], n, &state->totals->first_nonfinite[l]);
        YL_CUDA_CHECK_LAUNCH("detection loss: non-finite scan");
    }
    const unsigned anchor_blocks = yl_grid_blocks(BA, YL_ELEMENTWISE_THREADS);
    decode_kernel<<<anchor_blocks, YL_ELEMENTWISE_THREADS, 0, stream>>>(g, s.pred_boxes);
    YL_CUDA_CHECK_LAUNCH("detection loss: decode");

    const yl_loss_assignment &asg = state->assignment;
    if (p->assign) {
        YL_CUDA_CHECK(cudaMemcpyAsync(s.targets, p->targets, yl_cuda_loss_targets_bytes(p->batch, p->max_gt),
                                      cudaMemcpyHostToDevice, stream));
        const char *packed = (const char *)s.targets;
        yl_loss_targets targets;
        targets.count = (const int *)packed;
        targets.label = (const int *)(packed + yl_cuda_loss_labels_offset(p->batch));
        targets.box = (const float *)(packed + yl_cuda_loss_boxes_offset(p->batch, p->max_gt));
        targets.max_gt = p->max_gt;
        yl_loss_tal_params params = {p->topk, p->alpha, p->beta, p->eps};
        YL_TRY(yl_cuda_tal_assign(g, s.pred_boxes, targets, params, s.tal, asg, stream));
    }

    const unsigned blocks = sum_blocks(BA);
    score_partials_kernel<<<blocks, SUM_THREADS, 0, stream>>>(BA, asg, s.partials);
    YL_CUDA_CHECK_LAUNCH("detection loss: score sum");
    normaliser_kernel<<<1, SUM_THREADS, 0, stream>>>(s.partials, (int)blocks, p->batch, state->totals);
    YL_CUDA_CHECK_LAUNCH("detection loss: normaliser");
    const loss_gains gains = {p->box_gain, p->cls_gain, p->dfl_gain};
    terms_kernel<<<blocks, SUM_THREADS, 0, stream>>>(g, s.pred_boxes, asg, state->totals, gains, s.partials);
    YL_CUDA_CHECK_LAUNCH("detection loss: terms");
    finish_kernel<<<1, SUM_THREADS, 0, stream>>>(s.partials, (int)blocks, state->totals);
    YL_CUDA_CHECK_LAUNCH("detection loss: finish");

    YL_CUDA_CHECK(
        cudaMemcpyAsync(&state->host_totals, state->totals, sizeof(loss_totals), cudaMemcpyDeviceToHost, stream));
    cudaError_t err = cudaStreamSynchronize(stream);
    if (err != cudaSuccess)
        return yl_error(YL_ERR_BACKEND,
                        "detection loss (cuda): error in queued work (this call or an op before it): %s",
                        cudaGetErrorString(err));
    const loss_totals &t = state->host_totals;
    sums->bce_sum = t.bce_sum;
    sums->box_sum = t.box_sum;
    sums->dfl_sum = t.dfl_sum;
    sums->score_sum = t.score_sum;
    sums->num_fg = (int)t.num_fg;
    for (int l = 0; l < YL_CUDA_LOSS_LEVELS; l++)
        sums->first_nonfinite[l] = t.first_nonfinite[l] == NO_NONFINITE ? -1 : (int64_t)t.first_nonfinite[l];
    return YL_OK;
}

extern "C" yl_status yl_cuda_detection_loss_read_assignment(yl_cuda_detection_loss *state, int batch, int anchors,
                                                            unsigned char *fg, int *gt_index, int *target_label,
                                                            float *target_score, float *target_boxes) {
    if (!state) return yl_error(YL_ERR_INVALID_ARG, "detection loss (cuda): NULL state");
    const size_t n = (size_t)batch * (size_t)anchors;
    if (batch < 0 || anchors < 0 || n > (size_t)state->capacity)
        return yl_error(YL_ERR_INVALID_ARG, "detection loss (cuda): %d x %d anchors to read, %d held", batch, anchors,
                        state->capacity);
    cudaStream_t stream = yl_cuda_state_of(state->be)->stream;
    const yl_loss_assignment &a = state->assignment;
    if (fg) YL_CUDA_CHECK(cudaMemcpyAsync(fg, a.fg, n, cudaMemcpyDeviceToHost, stream));
    if (gt_index) YL_CUDA_CHECK(cudaMemcpyAsync(gt_index, a.gt_index, n * sizeof(int), cudaMemcpyDeviceToHost, stream));
    if (target_label)
        YL_CUDA_CHECK(cudaMemcpyAsync(target_label, a.target_label, n * sizeof(int), cudaMemcpyDeviceToHost, stream));
    if (target_score)
        YL_CUDA_CHECK(cudaMemcpyAsync(target_score, a.target_score, n * sizeof(float), cudaMemcpyDeviceToHost, stream));
    if (target_boxes)
        YL_CUDA_CHECK(
            cudaMemcpyAsync(target_boxes, a.target_boxes, n * 4 * sizeof(float), cudaMemcpyDeviceToHost, stream));
    YL_CUDA_CHECK(cudaStreamSynchronize(stream));
    return YL_OK;
}
