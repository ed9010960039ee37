// Orchestration of the YOLOv8 detection loss: argument checks, the workspace, target grouping,
// decoding, the assigner per image, then the three terms and their gradients. For CUDA head maps
// the checks and the grouping stay here and the rest runs on the device (kernels/loss_cuda.h).
#include "engine/loss/detection_loss.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine/loss/detection_loss_terms.h"
#include "kernels/loss_cuda.h"

static int ceil_div(int a, int b) { return (a + b - 1) / b; }

static int anchors_for(const int strides[YL_DETECT_LEVELS], int image_h, int image_w) {
    int n = 0;
    for (int i = 0; i < YL_DETECT_LEVELS; i++) n += ceil_div(image_h, strides[i]) * ceil_div(image_w, strides[i]);
    return n;
}

yl_detection_loss_config yl_detection_loss_default_config(int max_batch, int num_classes, int max_image_h,
                                                          int max_image_w, int max_gt_per_image) {
    return (yl_detection_loss_config){
        .max_batch = max_batch,
        .num_classes = num_classes,
        .max_image_h = max_image_h,
        .max_image_w = max_image_w,
        .max_gt_per_image = max_gt_per_image,
        .strides = {8, 16, 32},
        .box_gain = 7.5f,
        .cls_gain = 0.5f,
        .dfl_gain = 1.5f,
        .tal = yl_tal_default_params(),
    };
}

static void *alloc_array(size_t count, size_t size, int *failed) {
    void *p = calloc(count ? count : 1, size);
    if (!p) *failed = 1;
    return p;
}

static void free_gt_arrays(yl_detection_loss *loss) {
    free(loss->gt_labels);
    free(loss->gt_boxes);
    free(loss->image_rows);
    free(loss->overlaps);
    free(loss->align);
    free(loss->mask_pos);
    free(loss->packed_targets);
    loss->gt_labels = loss->image_rows = NULL;
    loss->gt_boxes = loss->overlaps = loss->align = NULL;
    loss->mask_pos = NULL;
    loss->packed_targets = NULL;
    loss->gt_capacity = 0;
}

void yl_detection_loss_free(yl_detection_loss *loss) {
    if (!loss) return;
    yl_cuda_detection_loss_destroy(loss->cuda);
    free_gt_arrays(loss);
    void *arrays[] = {loss->anchor_points, loss->anchor_pixels, loss->anchor_stride, loss->pred_dist,
                      loss->pred_boxes,    loss->fg,            loss->gt_index,      loss->target_label,
                      loss->target_score,  loss->target_boxes,  loss->scores,        loss->pred_pixels,
                      loss->image_gt_count};
    for (size_t i = 0; i < sizeof arrays / sizeof arrays[0]; i++) free(arrays[i]);
    memset(loss, 0, sizeof *loss);
}

yl_status yl_detection_loss_reserve(yl_detection_loss *loss, int max_gt) {
    if (!loss || !loss->anchor_points) return yl_error(YL_ERR_INVALID_ARG, "detection loss: reserve before init");
    if (max_gt < 0) return yl_error(YL_ERR_INVALID_ARG, "detection loss: max_gt_per_image %d < 0", max_gt);
    if (max_gt <= loss->gt_capacity && loss->gt_labels) return YL_OK;
    free_gt_arrays(loss);
    size_t m = (size_t)max_gt, A = (size_t)loss->anchor_capacity;
    int failed = 0;
    loss->gt_labels = alloc_array(m, sizeof(int), &failed);
    loss->gt_boxes = alloc_array(m * 4, sizeof(float), &failed);
    loss->image_rows = alloc_array((size_t)loss->config.max_batch * m, sizeof(int), &failed);
    loss->overlaps = alloc_array(m * A, sizeof(float), &failed);
    loss->align = alloc_array(m * A, sizeof(float), &failed);
    loss->mask_pos = alloc_array(m * A, 1, &failed);
    loss->packed_targets = alloc_array(yl_cuda_loss_targets_bytes(loss->config.max_batch, max_gt), 1, &failed);
    if (failed) {
        free_gt_arrays(loss);
        return yl_error(YL_ERR_OOM, "detection loss: out of memory for %d GTs per image x %zu anchors", max_gt, A);
    }
    loss->gt_capacity = max_gt;
    loss->config.max_gt_per_image = max_gt;
    return YL_OK;
}

yl_status yl_detection_loss_init(yl_detection_loss *loss, const yl_detection_loss_config *config) {
    if (!loss || !config) return yl_error(YL_ERR_INVALID_ARG, "detection loss: NULL %s", loss ? "config" : "loss");
    memset(loss, 0, sizeof *loss);
    const yl_detection_loss_config *c = config;
    if (c->max_batch < 1 || c->num_classes < 1 || c->max_image_h < 1 || c->max_image_w < 1 || c->max_gt_per_image < 0)
        return yl_error(YL_ERR_INVALID_ARG,
                        "detection loss: bad config (max_batch %d, num_classes %d, image %dx%d, max_gt %d)",
                        c->max_batch, c->num_classes, c->max_image_h, c->max_image_w, c->max_gt_per_image);
    for (int i = 0; i < YL_DETECT_LEVELS; i++)
        if (c->strides[i] < 1) return yl_error(YL_ERR_INVALID_ARG, "detection loss: stride %d is %d", i, c->strides[i]);
    if (c->tal.topk < 1 || c->tal.topk > YL_TAL_MAX_TOPK)
        return yl_error(YL_ERR_INVALID_ARG, "detection loss: topk %d not in [1, %d]", c->tal.topk, YL_TAL_MAX_TOPK);
    loss->config = *c;
    int A = anchors_for(c->strides, c->max_image_h, c->max_image_w);
    size_t BA = (size_t)c->max_batch * A;
    loss->anchor_capacity = A;
    int failed = 0;
    loss->anchor_points = alloc_array((size_t)A * 2, sizeof(float), &failed);
    loss->anchor_pixels = alloc_array((size_t)A * 2, sizeof(float), &failed);
    loss->anchor_stride = alloc_array((size_t)A, sizeof(float), &failed);
    loss->pred_dist = alloc_array(BA * 4, sizeof(float), &failed);
    loss->pred_boxes = alloc_array(BA * 4, sizeof(float), &failed);
    loss->fg = alloc_array(BA, 1, &failed);
    loss->gt_index = alloc_array(BA, sizeof(int), &failed);
    loss->target_label = alloc_array(BA, sizeof(int), &failed);
    loss->target_score = alloc_array(BA, sizeof(float), &failed);
    loss->target_boxes = alloc_array(BA * 4, sizeof(float), &failed);
    loss->scores = alloc_array((size_t)c->num_classes * A, sizeof(float), &failed);
    loss->pred_pixels = alloc_array((size_t)A * 4, sizeof(float), &failed);
    loss->image_gt_count = alloc_array((size_t)c->max_batch, sizeof(int), &failed);
    if (failed) {
        yl_detection_loss_free(loss);
        return yl_error(YL_ERR_OOM, "detection loss: out of memory for batch %d x %d anchors", c->max_batch, A);
    }
    yl_status status = yl_detection_loss_reserve(loss, c->max_gt_per_image);
    if (status != YL_OK) yl_detection_loss_free(loss);
    return status;
}

// ---- argument checks ------------------------------------------------------------------------

// device: where head 0 is; every map must be there too.
static yl_status check_map(const yl_detection_loss *loss, const yl_tensor *t, const char *what, int level,
                           int64_t batch, int64_t h, int64_t w, yl_device device) {
    char got[64];
    int64_t channels = YL_BOX_CHANNELS + loss->config.num_classes;
    if (!t->data) return yl_error(YL_ERR_INVALID_ARG, "detection loss: %s %d has no data", what, level);
    if (t->device != device)
        return yl_error(YL_ERR_DEVICE, "detection loss: %s %d is on %s, head 0 on %s", what, level,
                        yl_device_name(t->device), yl_device_name(device));
    if (t->dtype != YL_F32)
        return yl_error(YL_ERR_DTYPE, "detection loss: %s %d is %s, expected f32", what, level,
                        yl_dtype_name(t->dtype));
    if (t->ndim != 4 || t->shape[0] != batch || t->shape[1] != channels || t->shape[2] != h || t->shape[3] != w)
        return yl_error(YL_ERR_SHAPE, "detection loss: %s %d has shape %s, expected (%lld, %lld, %lld, %lld)", what,
                        level, yl_tensor_shape_str(t, got, sizeof got), (long long)batch, (long long)channels,
                        (long long)h, (long long)w);
    if (!yl_tensor_is_contiguous(t))
        return yl_error(YL_ERR_SHAPE, "detection loss: %s %d is not contiguous", what, level);
    return YL_OK;
}

static yl_status check_heads(yl_detection_loss *loss, const yl_tensor *heads, int image_h, int image_w,
                             const yl_tensor *grads) {
    yl_device device = heads[0].device;
    const yl_detection_loss_config *c = &loss->config;
    if (image_h < 1 || image_w < 1)
        return yl_error(YL_ERR_INVALID_ARG, "detection loss: image size %dx%d", image_h, image_w);
    if (heads[0].ndim != 4 || heads[0].shape[0] < 1 || heads[0].shape[0] > c->max_batch)
        return yl_error(YL_ERR_SHAPE, "detection loss: head 0 must be (B, %d, H, W) with 1 <= B <= %d",
                        YL_BOX_CHANNELS + c->num_classes, c->max_batch);
    int64_t batch = heads[0].shape[0];
    int A = 0;
    for (int i = 0; i < YL_DETECT_LEVELS; i++) {
        int h = ceil_div(image_h, c->strides[i]), w = ceil_div(image_w, c->strides[i]);
        YL_TRY(check_map(loss, &heads[i], "head", i, batch, h, w, device));
        if (grads) YL_TRY(check_map(loss, &grads[i], "grad", i, batch, h, w, device));
        for (int j = 0; grads && j <= i; j++)  // the gradients are zeroed before the heads are read
            if (grads[i].data == heads[j].data || grads[j].data == heads[i].data)
                return yl_error(YL_ERR_INVALID_ARG, "detection loss: a grad map shares memory with head %d",
                                grads[i].data == heads[j].data ? j : i);
        loss->level_h[i] = h;
        loss->level_w[i] = w;
        A += h * w;
    }
    if (A > loss->anchor_capacity)
        return yl_error(YL_ERR_INVALID_ARG, "detection loss: image %dx%d has %d anchors, the workspace holds %d",
                        image_h, image_w, A, loss->anchor_capacity);
    loss->batch = (int)batch;
    loss->num_anchors = A;
    return YL_OK;
}

// Element e of head map i holds `value`, which is NaN or Inf.
static yl_status nonfinite_head_error(const yl_detection_loss *loss, const yl_tensor *heads, int i, int64_t e,
                                      float value) {
    int64_t H = heads[i].shape[2], W = heads[i].shape[3], C = heads[i].shape[1];
    return yl_error(YL_ERR_NUMERIC, "detection loss: head %d (stride %d) holds %g at (b=%lld, c=%lld, y=%lld, x=%lld)",
                    i, loss->config.strides[i], (double)value, (long long)(e / (C * H * W)),
                    (long long)(e / (H * W) % C), (long long)(e / W % H), (long long)(e % W));
}

static yl_status check_finite_heads(const yl_detection_loss *loss, const yl_tensor *heads) {
    for (int i = 0; i < YL_DETECT_LEVELS; i++) {
        const float *x = heads[i].data;
        int64_t n = yl_tensor_numel(&heads[i]);
        for (int64_t e = 0; e < n; e++)
            if (!isfinite(x[e])) return nonfinite_head_error(loss, heads, i, e, x[e]);
    }
    return YL_OK;
}

// Checks every row and groups row indices by image, keeping batch order.
static yl_status group_targets(yl_detection_loss *loss, const float *targets, int64_t n) {
    int B = loss->batch, nc = loss->config.num_classes;
    memset(loss->image_gt_count, 0, (size_t)B * sizeof(int));
    for (int64_t r = 0; r < n; r++) {
        const float *row = targets + r * YL_TARGET_COLUMNS;
        for (int k = 0; k < YL_TARGET_COLUMNS; k++)
            if (!isfinite(row[k]))
                return yl_error(YL_ERR_NUMERIC, "detection loss: target row %lld column %d is %g", (long long)r, k,
                                (double)row[k]);
        if (row[0] < 0 || row[0] >= B || floorf(row[0]) != row[0])
            return yl_error(YL_ERR_INVALID_ARG, "detection loss: target row %lld: image index %g not in [0, %d)",
                            (long long)r, (double)row[0], B);
        if (row[1] < 0 || row[1] >= nc || floorf(row[1]) != row[1])
            return yl_error(YL_ERR_INVALID_ARG, "detection loss: target row %lld: class %g not in [0, nc=%d)",
                            (long long)r, (double)row[1], nc);
        int b = (int)row[0];
        if (loss->image_gt_count[b] == loss->gt_capacity)
            return yl_error(YL_ERR_INVALID_ARG,
                            "detection loss: image %d has more than %d target rows; grow the workspace with "
                            "yl_detection_loss_reserve",
                            b, loss->gt_capacity);
        loss->image_rows[(size_t)b * loss->gt_capacity + loss->image_gt_count[b]++] = (int)r;
    }
    return YL_OK;
}

// ---- the computation ------------------------------------------------------------------------

static void make_anchors(yl_detection_loss *loss) {
    int a = 0;
    for (int i = 0; i < YL_DETECT_LEVELS; i++) {
        float s = (float)loss->config.strides[i];
        for (int y = 0; y < loss->level_h[i]; y++)
            for (int x = 0; x < loss->level_w[i]; x++, a++) {
                loss->anchor_points[2 * a] = (float)x + 0.5f;
                loss->anchor_points[2 * a + 1] = (float)y + 0.5f;
                loss->anchor_pixels[2 * a] = loss->anchor_points[2 * a] * s;
                loss->anchor_pixels[2 * a + 1] = loss->anchor_points[2 * a + 1] * s;
                loss->anchor_stride[a] = s;
            }
    }
}

// Where anchor a of image b starts in its head map (channel 0), and the channel stride.
static int64_t anchor_offset(const yl_detection_loss *loss, const yl_tensor *maps, int b, int a, int *level,
                             int64_t *channel_stride) {
    int i = 0;
    while (a >= loss->level_h[i] * loss->level_w[i]) a -= loss->level_h[i] * loss->level_w[i], i++;
    *level = i;
    *channel_stride = maps[i].shape[2] * maps[i].shape[3];
    return (int64_t)b * maps[i].shape[1] * *channel_stride + a;
}

// Expected distances, boxes (grid units) and, for the assigner, boxes in pixels and class scores.
static void decode_image(yl_detection_loss *loss, const yl_tensor *heads, int b) {
    int A = loss->num_anchors, nc = loss->config.num_classes;
    size_t base = (size_t)b * A;
    for (int a = 0; a < A; a++) {
        int level;
        int64_t cs, off = anchor_offset(loss, heads, b, a, &level, &cs);
        const float *x = (const float *)heads[level].data + off;
        float *dist = loss->pred_dist + 4 * (base + a), *box = loss->pred_boxes + 4 * (base + a);
        yl_loss_dfl_expectation(x, cs, dist);
        const float *p = loss->anchor_points + 2 * a;
        box[0] = p[0] - dist[0];
        box[1] = p[1] - dist[1];
        box[2] = p[0] + dist[2];
        box[3] = p[1] + dist[3];
        for (int k = 0; k < 4; k++) loss->pred_pixels[4 * a + k] = box[k] * loss->anchor_stride[a];
        for (int c = 0; c < nc; c++)
            loss->scores[(size_t)c * A + a] = 1.0f / (1.0f + expf(-x[(YL_BOX_CHANNELS + c) * cs]));
    }
}

// GT j of image b (grouped by group_targets): its class and its box in pixels of the P3 grid times
// its stride (Ultralytics' imgsz), xywh -> xyxy in fp32.
static int image_gt(const yl_detection_loss *loss, const float *targets, int b, int j, float box[4]) {
    float scale_w = (float)(loss->level_w[0] * loss->config.strides[0]);
    float scale_h = (float)(loss->level_h[0] * loss->config.strides[0]);
    const float *row = targets + (size_t)loss->image_rows[(size_t)b * loss->gt_capacity + j] * YL_TARGET_COLUMNS;
    float cx = row[2] * scale_w, cy = row[3] * scale_h, half_w = row[4] * scale_w / 2, half_h = row[5] * scale_h / 2;
    box[0] = cx - half_w;
    box[1] = cy - half_h;
    box[2] = cx + half_w;
    box[3] = cy + half_h;
    return (int)row[1];
}

// Runs after decode_image(b), whose pixel boxes and scores it reads.
static void assign_image(yl_detection_loss *loss, const float *targets, int b) {
    int A = loss->num_anchors, nc = loss->config.num_classes;
    size_t base = (size_t)b * A;
    int M = loss->image_gt_count[b];
    for (int j = 0; j < M; j++) loss->gt_labels[j] = image_gt(loss, targets, b, j, loss->gt_boxes + 4 * j);
    yl_tal_image image = {.num_anchors = A, .num_classes = nc, .anchor_points = loss->anchor_pixels,
                          .pred_boxes = loss->pred_pixels, .scores = loss->scores, .num_gt = M,
                          .gt_labels = loss->gt_labels, .gt_boxes = loss->gt_boxes};
    yl_tal_scratch scratch = {.overlaps = loss->overlaps, .align = loss->align, .mask_pos = loss->mask_pos};
    yl_tal_result result = {.fg = loss->fg + base, .gt_index = loss->gt_index + base,
                            .target_score = loss->target_score + base};
    yl_tal_assign(&loss->config.tal, &image, &scratch, &result);
    for (int a = 0; a < A; a++) {
        int j = loss->gt_index[base + a];
        int fg = loss->fg[base + a];
        loss->target_label[base + a] = fg ? loss->gt_labels[j] : -1;
        for (int k = 0; k < 4; k++) loss->target_boxes[4 * (base + a) + k] = fg ? loss->gt_boxes[4 * j + k] : 0.0f;
    }
}

// The three items from the batch's sums, as both paths finish.
static void finish_result(const yl_detection_loss *loss, double bce_sum, double box_sum, double dfl_sum,
                          double score_sum, int num_fg, yl_detection_loss_result *result) {
    const yl_detection_loss_config *c = &loss->config;
    float normaliser = fmaxf((float)score_sum, 1.0f);
    result->box = box_sum / normaliser * c->box_gain;
    result->cls = bce_sum / normaliser * c->cls_gain;
    result->dfl = dfl_sum / normaliser * c->dfl_gain;
    result->total = (result->box + result->cls + result->dfl) * loss->batch;
    result->target_scores_sum = score_sum;
    result->num_fg = num_fg;
}

static yl_status compute_cpu(yl_detection_loss *loss, const yl_tensor heads[YL_DETECT_LEVELS], const float *targets,
                             int64_t num_targets, const yl_tensor *grads, yl_detection_loss_result *result) {
    YL_TRY(check_finite_heads(loss, heads));
    int B = loss->batch, A = loss->num_anchors, nc = loss->config.num_classes;
    if (!loss->hold_assignment) YL_TRY(group_targets(loss, targets, num_targets));
    make_anchors(loss);
    for (int b = 0; b < B; b++) {
        decode_image(loss, heads, b);
        if (!loss->hold_assignment) assign_image(loss, targets, b);
    }
    loss->assigned_batch = B;
    loss->assigned_anchors = A;
    loss->assigned_device = YL_DEVICE_CPU;

    double score_sum = 0.0;
    int num_fg = 0;
    for (size_t i = 0; i < (size_t)B * A; i++) {
        score_sum += loss->target_score[i];
        num_fg += loss->fg[i];
    }
    float normaliser = fmaxf((float)score_sum, 1.0f);
    const yl_detection_loss_config *c = &loss->config;
    double per_sum = (double)B / normaliser;  // d(total) / d(sum of a term before gain)

    if (grads)
        for (int i = 0; i < YL_DETECT_LEVELS; i++) memset(grads[i].data, 0, yl_tensor_nbytes(&grads[i]));
    double bce_sum = 0.0, box_sum = 0.0, dfl_sum = 0.0;
    for (int b = 0; b < B; b++)
        for (int a = 0; a < A; a++) {
            size_t ba = (size_t)b * A + a;
            int level;
            int64_t cs, off = anchor_offset(loss, heads, b, a, &level, &cs);
            const float *x = (const float *)heads[level].data + off;
            float *g = grads ? (float *)grads[level].data + off : NULL;
            bce_sum += yl_class_bce(x + YL_BOX_CHANNELS * cs, cs, nc, loss->target_label[ba], loss->target_score[ba],
                                    g ? g + YL_BOX_CHANNELS * cs : NULL, per_sum * c->cls_gain);
            if (!loss->fg[ba]) continue;
            yl_fg_anchor f = {.stride = loss->anchor_stride[a], .weight = loss->target_score[ba]};
            memcpy(f.anchor, loss->anchor_points + 2 * a, sizeof f.anchor);
            memcpy(f.pred_box, loss->pred_boxes + 4 * ba, sizeof f.pred_box);
            memcpy(f.target_box, loss->target_boxes + 4 * ba, sizeof f.target_box);
            yl_box_dfl_terms(x, cs, &f, &box_sum, &dfl_sum, g, per_sum * c->box_gain, per_sum * c->dfl_gain);
        }
    finish_result(loss, bce_sum, box_sum, dfl_sum, score_sum, num_fg, result);
    return YL_OK;
}

// The grouped targets in the layout of kernels/loss_cuda.h; returns the slots per image (the batch's
// largest GT count, Ultralytics' padded M).
static int pack_targets(yl_detection_loss *loss, const float *targets) {
    int B = loss->batch, M = 0;
    for (int b = 0; b < B; b++) M = loss->image_gt_count[b] > M ? loss->image_gt_count[b] : M;
    unsigned char *base = loss->packed_targets;
    int *count = (int *)base;
    int *label = (int *)(base + yl_cuda_loss_labels_offset(B));
    float *box = (float *)(base + yl_cuda_loss_boxes_offset(B, M));
    for (int b = 0; b < B; b++) {
        count[b] = loss->image_gt_count[b];
        for (int j = 0; j < M; j++) {
            size_t slot = (size_t)b * M + j;
            if (j < count[b]) {
                label[slot] = image_gt(loss, targets, b, j, box + 4 * slot);
            } else {
                label[slot] = 0;
                memset(box + 4 * slot, 0, 4 * sizeof(float));
            }
        }
    }
    return M;
}

static yl_status compute_cuda(yl_detection_loss *loss, const yl_tensor heads[YL_DETECT_LEVELS], const float *targets,
                              int64_t num_targets, const yl_tensor *grads, yl_detection_loss_result *result) {
    if (!loss->cuda) {
        if (!YL_CUDA_LOSS_BUILT)
            return yl_error(YL_ERR_UNSUPPORTED,
                            "detection loss: the head maps are on cuda, but this build of yoloop has no CUDA backend");
        return yl_error(YL_ERR_INVALID_ARG,
                        "detection loss: the head maps are on cuda; attach a CUDA backend with "
                        "yl_detection_loss_attach_cuda first");
    }
    const yl_detection_loss_config *c = &loss->config;
    int B = loss->batch, A = loss->num_anchors;
    yl_cuda_loss_problem p = {.batch = B, .num_anchors = A, .num_classes = c->num_classes,
                              .topk = c->tal.topk < A ? c->tal.topk : A, .alpha = c->tal.alpha, .beta = c->tal.beta,
                              .eps = c->tal.eps, .box_gain = c->box_gain, .cls_gain = c->cls_gain,
                              .dfl_gain = c->dfl_gain, .assign = !loss->hold_assignment};
    for (int i = 0; i < YL_DETECT_LEVELS; i++) {
        p.level_h[i] = loss->level_h[i];
        p.level_w[i] = loss->level_w[i];
        p.strides[i] = c->strides[i];
    }
    if (p.assign) {
        YL_TRY(group_targets(loss, targets, num_targets));
        p.max_gt = pack_targets(loss, targets);
        p.targets = loss->packed_targets;
        loss->assigned_batch = 0;  // the device assignment is being replaced
    }
    yl_cuda_loss_sums sums = {0};
    YL_TRY(yl_cuda_detection_loss_run(loss->cuda, &p, heads, grads, &sums));
    for (int i = 0; i < YL_DETECT_LEVELS; i++)
        if (sums.first_nonfinite[i] >= 0) {
            float value = NAN;
            yl_backend *be = loss->cuda_backend;
            if (be->copy_to_host(be, &value, (const float *)heads[i].data + sums.first_nonfinite[i], sizeof value) !=
                YL_OK)
                value = NAN;
            if (p.assign) loss->assigned_batch = 0;
            return nonfinite_head_error(loss, heads, i, sums.first_nonfinite[i], value);
        }
    loss->assigned_batch = B;
    loss->assigned_anchors = A;
    loss->assigned_device = YL_DEVICE_CUDA;
    finish_result(loss, sums.bce_sum, sums.box_sum, sums.dfl_sum, sums.score_sum, sums.num_fg, result);
    return YL_OK;
}

yl_status yl_detection_loss_compute(yl_detection_loss *loss, const yl_tensor heads[YL_DETECT_LEVELS], int image_h,
                                    int image_w, const float *targets, int64_t num_targets, const yl_tensor *grads,
                                    yl_detection_loss_result *result) {
    if (!loss || !loss->anchor_points) return yl_error(YL_ERR_INVALID_ARG, "detection loss: NULL or uninitialised workspace");
    if (!heads || !result) return yl_error(YL_ERR_INVALID_ARG, "detection loss: NULL %s", heads ? "result" : "heads");
    if (num_targets < 0 || (!targets && num_targets > 0))
        return yl_error(YL_ERR_INVALID_ARG, "detection loss: %lld target rows at %s", (long long)num_targets,
                        targets ? "a valid pointer" : "NULL");
    YL_TRY(check_heads(loss, heads, image_h, image_w, grads));
    int B = loss->batch, A = loss->num_anchors;
    yl_device device = heads[0].device;
    if (loss->hold_assignment &&
        (B != loss->assigned_batch || A != loss->assigned_anchors || device != loss->assigned_device))
        return yl_error(YL_ERR_INVALID_ARG, "detection loss: hold_assignment needs the previous call's batch %d, "
                        "%d anchors and device %s, got %d, %d and %s", loss->assigned_batch, loss->assigned_anchors,
                        yl_device_name(loss->assigned_device), B, A, yl_device_name(device));
    if (device == YL_DEVICE_CUDA) return compute_cuda(loss, heads, targets, num_targets, grads, result);
    return compute_cpu(loss, heads, targets, num_targets, grads, result);
}

yl_status yl_detection_loss_attach_cuda(yl_detection_loss *loss, yl_backend *cuda) {
    if (!loss || !loss->anchor_points || !cuda)
        return yl_error(YL_ERR_INVALID_ARG, "detection loss: attach_cuda needs an initialised workspace and a backend");
    struct yl_cuda_detection_loss *state = NULL;
    YL_TRY(yl_cuda_detection_loss_create(cuda, loss->config.max_batch, loss->anchor_capacity, &state));
    yl_cuda_detection_loss_destroy(loss->cuda);
    loss->cuda = state;
    loss->cuda_backend = cuda;
    if (loss->assigned_device == YL_DEVICE_CUDA) loss->assigned_batch = 0;  // that assignment went with the old state
    return YL_OK;
}

yl_status yl_detection_loss_fetch_assignment(yl_detection_loss *loss) {
    if (!loss || !loss->anchor_points)
        return yl_error(YL_ERR_INVALID_ARG, "detection loss: NULL or uninitialised workspace");
    if (loss->assigned_device != YL_DEVICE_CUDA || !loss->cuda) return YL_OK;
    return yl_cuda_detection_loss_read_assignment(loss->cuda, loss->assigned_batch, loss->assigned_anchors, loss->fg,
                                                  loss->gt_index, loss->target_label, loss->target_score,
                                                  loss->target_boxes);
}
