// Detect's inference output (Ultralytics Detect._inference, 8.3.x), built from ops:
//   gather    each level's box logits (N, 64, H, W) and class logits (N, nc, H, W) into
//             (N, 64, A) and (N, nc, A): a channel concat of (N*C, HW_l, 1, 1) views is exactly a
//             concatenation along the anchor axis
//   DFL       (N, 64, A) -> (N, 4, A) expected distances in grid units
//   box       distances -> (cx, cy, w, h) pixels around the anchors (x + 0.5, y + 0.5), times stride
//   sigmoid   class logits -> scores
//   output    concat (N, 4, A) and (N, nc, A) along rows -> (N, 4 + nc, A)
#include "blocks.h"

// Views the (N, C, H, W) tensors of one branch as (N*C, H*W, 1, 1) and concatenates them along
// dimension 1 into `whole` (N, C, A) viewed as (N*C, A, 1, 1).
static yl_status gather_levels(yl_engine *eng, yl_conv_unit *last[YL_YOLOV8_LEVELS], yl_tensor *whole) {
    yl_tensor parts[YL_YOLOV8_LEVELS];
    const yl_tensor *part_ptrs[YL_YOLOV8_LEVELS];
    for (int i = 0; i < YL_YOLOV8_LEVELS; i++) {
        const yl_tensor *t = &last[i]->out.value;
        parts[i] = yl_tensor_4d(t->data, t->device, t->shape[0] * t->shape[1], t->shape[2] * t->shape[3], 1, 1);
        part_ptrs[i] = &parts[i];
    }
    yl_tensor flat = yl_tensor_4d(whole->data, whole->device, whole->shape[0] * whole->shape[1], whole->shape[2], 1, 1);
    return yl_concat_channels(eng, part_ptrs, YL_YOLOV8_LEVELS, &flat, false);
}

// (N, C, A) as the (N, C, A, 1) the channel concat takes.
static yl_tensor rows_as_4d(const yl_tensor *t) {
    return yl_tensor_4d(t->data, t->device, t->shape[0], t->shape[1], t->shape[2], 1);
}

static yl_status decode(yl_block_context *ctx, yl_detect *d, yl_tensor *out) {
    yl_detect_decode_buffers *b = &d->decode;
    yl_conv_unit *box_last[YL_YOLOV8_LEVELS], *cls_last[YL_YOLOV8_LEVELS];
    yl_box_decode_params grid = {.levels = YL_YOLOV8_LEVELS};
    for (int i = 0; i < YL_YOLOV8_LEVELS; i++) {
        box_last[i] = &d->box[i][2];
        cls_last[i] = &d->cls[i][2];
        grid.height[i] = (int)d->box[i][2].out.value.shape[2];
        grid.width[i] = (int)d->box[i][2].out.value.shape[3];
        grid.stride[i] = (float)d->strides[i];
    }
    YL_TRY(gather_levels(ctx->eng, box_last, &b->box_logits));
    YL_TRY(gather_levels(ctx->eng, cls_last, &b->cls_logits));
    YL_TRY(yl_dfl_decode_forward(ctx->eng, &b->box_logits, &b->distances));
    YL_TRY(yl_box_decode_forward(ctx->eng, &b->distances, &b->boxes, &grid));
    YL_TRY(yl_sigmoid_forward(ctx->eng, &b->cls_logits, &b->scores));
    yl_tensor boxes = rows_as_4d(&b->boxes), scores = rows_as_4d(&b->scores), output = rows_as_4d(&b->output);
    const yl_tensor *parts[2] = {&boxes, &scores};
    YL_TRY(yl_concat_channels(ctx->eng, parts, 2, &output, false));
    *out = b->output;
    return YL_OK;
}

yl_status yl_detect_decode(yl_block_context *ctx, yl_detect *d, yl_tensor *out) {
    if (!out) return yl_error(YL_ERR_INVALID_ARG, "detect decode: output tensor is NULL");
    yl_status status = decode(ctx, d, out);
    return status == YL_OK ? YL_OK : yl_error_context(status, "detect decode");
}
