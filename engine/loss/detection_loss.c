// Orchestration of the YOLOv8 detection loss: argument checks, the workspace, target grouping,
// decoding, the assigner per image, then the three terms and their gradients.
#include "engine/loss/detection_loss.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine/loss/detection_loss_terms.h"

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
    loss->gt_labels = loss->image_rows = NULL;
    loss->gt_boxes = loss->overlaps = loss->align = NULL;
    loss->mask_pos = NULL;
    loss->gt_capacity = 0;
}

void yl_detection_loss_free(yl_detection_loss *loss) {
    if (!loss) return;
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

static yl_status check_map(const yl_detection_loss *loss, const yl_tensor *t, const char *what, int level,
                           int64_t batch, int64_t h, int64_t w) {
    char got[64];
    int64_t channels = YL_BOX_CHANNELS + loss->config.num_classes;
    if (!t->data) return yl_error(YL_ERR_INVALID_ARG, "detection loss: %s %d has no data", what, level);
    if (t->device != YL_DEVICE_CPU)
        return yl_error(YL_ERR_DEVICE, "detection loss: %s %d is on %s, the reference runs on the CPU", what, level,
                        yl_device_name(t->device));
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
        YL_TRY(check_map(loss, &heads[i], "head", i, batch, h, w));
        if (grads) YL_TRY(check_map(loss, &grads[i], "grad", i, batch, h, w));
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
    for (int i = 0; i < YL_DETECT_LEVELS; i++) {
        const float *x = heads[i].data;
        int64_t n = yl_tensor_numel(&heads[i]);
        for (int64_t e = 0; e < n; e++)
            if (!isfinite(x[e])) {
                int64_t H = heads[i].shape[2], W = heads[i].shape[3], C = heads[i].shape[1];
                return yl_error(YL_ERR_NUMERIC, "detection loss: head %d (stride %d) holds %g at (b=%lld, c=%lld, "
                                "y=%lld, x=%lld)", i, c->strides[i], (double)x[e], (long long)(e / (C * H * W)),
                                (long long)(e / (H * W) % C), (long long)(e / W % H), (long long)(e % W));
            }
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

// Runs after decode_image(b), whose pixel boxes and scores it reads.
static void assign_image(yl_detection_loss *loss, const float *targets, int b) {
    int A = loss->num_anchors, nc = loss->config.num_classes;
    size_t base = (size_t)b * A;
    // Targets in pixels of the P3 grid times its stride (Ultralytics' imgsz), xywh -> xyxy in fp32.
    float scale_w = (float)(loss->level_w[0] * loss->config.strides[0]);
    float scale_h = (float)(loss->level_h[0] * loss->config.strides[0]);
    int M = loss->image_gt_count[b];
    for (int j = 0; j < M; j++) {
        const float *row = targets + (size_t)loss->image_rows[(size_t)b * loss->gt_capacity + j] * YL_TARGET_COLUMNS;
        float cx = row[2] * scale_w, cy = row[3] * scale_h, half_w = row[4] * scale_w / 2, half_h = row[5] * scale_h / 2;
        float *g = loss->gt_boxes + 4 * j;
        g[0] = cx - half_w;
        g[1] = cy - half_h;
        g[2] = cx + half_w;
        g[3] = cy + half_h;
        loss->gt_labels[j] = (int)row[1];
    }
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

yl_status yl_detection_loss_compute(yl_detection_loss *loss, const yl_tensor heads[YL_DETECT_LEVELS], int image_h,
                                    int image_w, const float *targets, int64_t num_targets, const yl_tensor *grads,
                                    yl_detection_loss_result *result) {
    if (!loss || !loss->anchor_points) return yl_error(YL_ERR_INVALID_ARG, "detection loss: NULL or uninitialised workspace");
    if (!heads || !result) return yl_error(YL_ERR_INVALID_ARG, "detection loss: NULL %s", heads ? "result" : "heads");
    if (num_targets < 0 || (!targets && num_targets > 0))
        return yl_error(YL_ERR_INVALID_ARG, "detection loss: %lld target rows at %s", (long long)num_targets,
                        targets ? "a valid pointer" : "NULL");
    YL_TRY(check_heads(loss, heads, image_h, image_w, grads));
    int B = loss->batch, A = loss->num_anchors, nc = loss->config.num_classes;
    if (loss->hold_assignment && (B != loss->assigned_batch || A != loss->assigned_anchors))
        return yl_error(YL_ERR_INVALID_ARG, "detection loss: hold_assignment needs the previous call's batch %d and "
                        "%d anchors, got %d and %d", loss->assigned_batch, loss->assigned_anchors, B, A);
    if (!loss->hold_assignment) YL_TRY(group_targets(loss, targets, num_targets));
    make_anchors(loss);
    for (int b = 0; b < B; b++) {
        decode_image(loss, heads, b);
        if (!loss->hold_assignment) assign_image(loss, targets, b);
    }
    loss->assigned_batch = B;
    loss->assigned_anchors = A;

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
    result->box = box_sum / normaliser * c->box_gain;
    result->cls = bce_sum / normaliser * c->cls_gain;
    result->dfl = dfl_sum / normaliser * c->dfl_gain;
    result->total = (result->box + result->cls + result->dfl) * B;
    result->target_scores_sum = score_sum;
    result->num_fg = num_fg;
    return YL_OK;
}
