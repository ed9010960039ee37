// Detect head (training output): per level i, map_i = concat(cv2[i](x_i), cv3[i](x_i)) with
// cv2 the box branch (64 = 4 * reg_max channels) and cv3 the class branch (nc channels).
// The DFL weight is state only: the DFL is a fixed expectation, applied by yl_detect_decode
// (detect_decode.c) for the eval-mode output.
#include <stdio.h>
#include <string.h>

#include "blocks.h"

static yl_status declare_branch(yl_state_list *state, yl_conv_unit units[3], const char *branch, int layer,
                                int level, int c_in, int hidden, int c_out, int down) {
    char name[YL_UNIT_NAME_SIZE];
    snprintf(name, sizeof name, "model.%d.%s.%d.0", layer, branch, level);
    YL_TRY(yl_conv_unit_declare(state, &units[0], name, layer, c_in, hidden, 3, 1, down, true));
    snprintf(name, sizeof name, "model.%d.%s.%d.1", layer, branch, level);
    YL_TRY(yl_conv_unit_declare(state, &units[1], name, layer, hidden, hidden, 3, 1, down, true));
    snprintf(name, sizeof name, "model.%d.%s.%d.2", layer, branch, level);
    return yl_conv_unit_declare(state, &units[2], name, layer, hidden, c_out, 1, 1, down, false);
}

yl_status yl_detect_declare(yl_state_list *state, yl_detect *d, int layer, const yl_model_layout *layout) {
    memset(d, 0, sizeof *d);
    d->nc = layout->config.nc;
    for (int i = 0; i < YL_YOLOV8_LEVELS; i++) d->strides[i] = layout->detect_strides[i];
    // state_dict order: every cv2 level, then every cv3 level, then dfl.
    for (int i = 0; i < YL_YOLOV8_LEVELS; i++)
        YL_TRY(declare_branch(state, d->box[i], "cv2", layer, i, layout->detect_in[i], layout->box_hidden,
                              4 * YL_YOLOV8_REG_MAX, layout->detect_strides[i]));
    for (int i = 0; i < YL_YOLOV8_LEVELS; i++)
        YL_TRY(declare_branch(state, d->cls[i], "cv3", layer, i, layout->detect_in[i], layout->cls_hidden, d->nc,
                              layout->detect_strides[i]));
    char name[YL_STATE_NAME_SIZE];
    snprintf(name, sizeof name, "model.%d.dfl.conv.weight", layer);
    const int64_t dfl_shape[4] = {1, YL_YOLOV8_REG_MAX, 1, 1};
    return yl_state_list_add(state, name, YL_STATE_DFL_WEIGHT, layer, YL_YOLOV8_REG_MAX, 4, dfl_shape,
                             &d->dfl_entry);
}

void yl_detect_plan(yl_planner *p, yl_detect *d) {
    for (int i = 0; i < YL_YOLOV8_LEVELS; i++) {
        for (int j = 0; j < 3; j++) yl_conv_unit_plan(p, &d->box[i][j]);
        for (int j = 0; j < 3; j++) yl_conv_unit_plan(p, &d->cls[i][j]);
        // The map's gradient comes from the caller (the loss), so it needs no buffer here.
        bool gradients = p->gradients;
        p->gradients = false;
        yl_plan_activation(p, &d->map[i], 4 * YL_YOLOV8_REG_MAX + d->nc, d->box[i][2].down_out);
        p->gradients = gradients;
    }
    yl_detect_decode_buffers *b = &d->decode;
    yl_plan_anchor_tensor(p, &b->box_logits, 4 * YL_YOLOV8_REG_MAX, d->strides, YL_YOLOV8_LEVELS);
    yl_plan_anchor_tensor(p, &b->cls_logits, d->nc, d->strides, YL_YOLOV8_LEVELS);
    yl_plan_anchor_tensor(p, &b->distances, 4, d->strides, YL_YOLOV8_LEVELS);
    yl_plan_anchor_tensor(p, &b->boxes, 4, d->strides, YL_YOLOV8_LEVELS);
    yl_plan_anchor_tensor(p, &b->scores, d->nc, d->strides, YL_YOLOV8_LEVELS);
    yl_plan_anchor_tensor(p, &b->output, 4 + d->nc, d->strides, YL_YOLOV8_LEVELS);
}

static yl_status branch_forward(yl_block_context *ctx, yl_conv_unit units[3], const yl_tensor *x) {
    YL_TRY(yl_conv_unit_forward(ctx, &units[0], x));
    YL_TRY(yl_conv_unit_forward(ctx, &units[1], &units[0].out.value));
    return yl_conv_unit_forward(ctx, &units[2], &units[1].out.value);
}

static yl_status branch_backward(yl_block_context *ctx, yl_conv_unit units[3], yl_activation *input) {
    YL_TRY(yl_conv_unit_backward(ctx, &units[2], &units[1].out, true));
    YL_TRY(yl_conv_unit_backward(ctx, &units[1], &units[0].out, true));
    return yl_conv_unit_backward(ctx, &units[0], input, true);
}

yl_status yl_detect_forward(yl_block_context *ctx, yl_detect *d, yl_activation *const inputs[YL_YOLOV8_LEVELS]) {
    for (int i = 0; i < YL_YOLOV8_LEVELS; i++) {
        YL_TRY(branch_forward(ctx, d->box[i], &inputs[i]->value));
        YL_TRY(branch_forward(ctx, d->cls[i], &inputs[i]->value));
        const yl_tensor *parts[2] = {&d->box[i][2].out.value, &d->cls[i][2].out.value};
        YL_TRY(yl_concat_channels(ctx->eng, parts, 2, &d->map[i].value, false));
    }
    return YL_OK;
}

yl_status yl_detect_backward(yl_block_context *ctx, yl_detect *d, const yl_tensor d_maps[YL_YOLOV8_LEVELS],
                             yl_activation *const inputs[YL_YOLOV8_LEVELS]) {
    for (int i = 0; i < YL_YOLOV8_LEVELS; i++) {
        if (!yl_tensor_same_shape(&d_maps[i], &d->map[i].value)) {
            char got[96], want[96];
            return yl_error(YL_ERR_SHAPE, "model backward: head map gradient %d is %s, expected %s", i,
                            yl_tensor_shape_str(&d_maps[i], got, sizeof got),
                            yl_tensor_shape_str(&d->map[i].value, want, sizeof want));
        }
        yl_activation *branch_out[2] = {&d->box[i][2].out, &d->cls[i][2].out};
        YL_TRY(yl_split_grads(ctx->eng, &d_maps[i], branch_out, 2));
        YL_TRY(branch_backward(ctx, d->box[i], inputs[i]));
        YL_TRY(branch_backward(ctx, d->cls[i], inputs[i]));
    }
    return YL_OK;
}
