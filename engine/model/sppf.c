// SPPF: y1 = cv1(x); y2..y4 = three chained 5x5 max-pools; out = cv2(concat(y1, y2, y3, y4)).
#include <stdio.h>
#include <string.h>

#include "blocks.h"

yl_status yl_sppf_declare(yl_state_list *state, yl_sppf *s, int layer, int c_in, int c_out, int kernel, int down) {
    memset(s, 0, sizeof *s);
    int hidden = c_in / 2;
    char name[YL_UNIT_NAME_SIZE];
    snprintf(name, sizeof name, "model.%d.cv1", layer);
    YL_TRY(yl_conv_unit_declare(state, &s->cv1, name, layer, c_in, hidden, 1, 1, down, true));
    snprintf(name, sizeof name, "model.%d.cv2", layer);
    YL_TRY(yl_conv_unit_declare(state, &s->cv2, name, layer, 4 * hidden, c_out, 1, 1, down, true));
    s->pool = (yl_maxpool2d_params){.kernel = kernel, .stride = 1, .pad = kernel / 2};
    return YL_OK;
}

void yl_sppf_plan(yl_planner *p, yl_sppf *s) {
    int hidden = s->cv1.c_out, down = s->cv1.down_out;
    yl_conv_unit_plan(p, &s->cv1);
    for (int i = 0; i < 3; i++) yl_plan_activation(p, &s->pooled[i], hidden, down);
    yl_plan_activation(p, &s->cat, 4 * hidden, down);
    yl_conv_unit_plan(p, &s->cv2);
}

yl_status yl_sppf_forward(yl_block_context *ctx, yl_sppf *s, const yl_tensor *x) {
    YL_TRY(yl_conv_unit_forward(ctx, &s->cv1, x));
    const yl_tensor *source = &s->cv1.out.value;
    for (int i = 0; i < 3; i++) {
        YL_TRY(yl_maxpool2d_forward(ctx->eng, source, &s->pooled[i].value, &s->pool));
        source = &s->pooled[i].value;
    }
    const yl_tensor *parts[4] = {&s->cv1.out.value, &s->pooled[0].value, &s->pooled[1].value, &s->pooled[2].value};
    YL_TRY(yl_concat_channels(ctx->eng, parts, 4, &s->cat.value, false));
    return yl_conv_unit_forward(ctx, &s->cv2, &s->cat.value);
}

yl_status yl_sppf_backward(yl_block_context *ctx, yl_sppf *s, yl_activation *input, bool input_grad) {
    YL_TRY(yl_conv_unit_backward(ctx, &s->cv2, &s->cat, true));
    yl_activation *parts[4] = {&s->cv1.out, &s->pooled[0], &s->pooled[1], &s->pooled[2]};
    YL_TRY(yl_split_grads(ctx->eng, &s->cat.grad, parts, 4));
    // Each pool's output gradient flows back into its input, which also fed the concat.
    for (int i = 2; i >= 0; i--) {
        yl_activation *source = parts[i];
        YL_TRY(yl_maxpool2d_backward(ctx->eng, &source->value, &s->pooled[i].grad, &source->grad, &s->pool,
                                     yl_grad_accumulate(source)));
    }
    return yl_conv_unit_backward(ctx, &s->cv1, input, input_grad);
}
