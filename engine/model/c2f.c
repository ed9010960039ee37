// C2f: cv1 (1x1) -> split in halves y0, y1 -> n Bottlenecks chained on y1 -> concat(y0, y1,
// every bottleneck output) -> cv2 (1x1). Bottleneck: two 3x3 Convs, plus the input when it
// has a shortcut.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blocks.h"

#define YL_C2F_MAX_REPEATS 14  // parts (n + 2) must fit yl_split_grads' limit

yl_activation *yl_bottleneck_output(yl_bottleneck *b) { return b->add ? &b->sum : &b->cv2.out; }

yl_status yl_c2f_declare(yl_state_list *state, yl_c2f *c, int layer, int c_in, int c_out, int n, bool shortcut,
                         int down) {
    memset(c, 0, sizeof *c);
    if (n < 1 || n > YL_C2F_MAX_REPEATS)
        return yl_error(YL_ERR_UNSUPPORTED, "model.%d C2f: %d repeats (1..%d supported)", layer, n,
                        YL_C2F_MAX_REPEATS);
    c->n = n;
    c->hidden = c_out / 2;  // int(c2 * 0.5)
    c->m = calloc((size_t)n, sizeof *c->m);
    c->parts = calloc((size_t)n + 2, sizeof *c->parts);
    if (!c->m || !c->parts) return yl_error(YL_ERR_OOM, "model.%d C2f: out of memory", layer);
    char name[YL_UNIT_NAME_SIZE];
    // state_dict order: cv1, cv2, then m.0, m.1, ...
    snprintf(name, sizeof name, "model.%d.cv1", layer);
    YL_TRY(yl_conv_unit_declare(state, &c->cv1, name, layer, c_in, 2 * c->hidden, 1, 1, down, true));
    snprintf(name, sizeof name, "model.%d.cv2", layer);
    YL_TRY(yl_conv_unit_declare(state, &c->cv2, name, layer, (2 + n) * c->hidden, c_out, 1, 1, down, true));
    for (int k = 0; k < n; k++) {
        yl_bottleneck *b = &c->m[k];
        snprintf(name, sizeof name, "model.%d.m.%d.cv1", layer, k);
        YL_TRY(yl_conv_unit_declare(state, &b->cv1, name, layer, c->hidden, c->hidden, 3, 1, down, true));
        snprintf(name, sizeof name, "model.%d.m.%d.cv2", layer, k);
        YL_TRY(yl_conv_unit_declare(state, &b->cv2, name, layer, c->hidden, c->hidden, 3, 1, down, true));
        b->add = shortcut;  // Bottleneck(c, c, ...): c1 == c2 always holds inside C2f
    }
    c->parts[0] = &c->split[0];
    c->parts[1] = &c->split[1];
    for (int k = 0; k < n; k++) c->parts[k + 2] = yl_bottleneck_output(&c->m[k]);
    return YL_OK;
}

void yl_c2f_release(yl_c2f *c) {
    if (!c) return;
    free(c->m);
    free(c->parts);
    c->m = NULL;
    c->parts = NULL;
}

void yl_c2f_plan(yl_planner *p, yl_c2f *c) {
    int down = c->cv1.down_out;
    yl_conv_unit_plan(p, &c->cv1);
    yl_plan_activation(p, &c->split[0], c->hidden, down);
    yl_plan_activation(p, &c->split[1], c->hidden, down);
    for (int k = 0; k < c->n; k++) {
        yl_bottleneck *b = &c->m[k];
        yl_conv_unit_plan(p, &b->cv1);
        if (b->add) {
            // d(cv2 out) = d(sum): one buffer serves both.
            yl_plan_activation(p, &b->sum, c->hidden, down);
            yl_plan_tensor(p, &b->cv2.conv_out, c->hidden, down);
            if (b->cv2.act == YL_CONV_ACT_SILU) yl_plan_tensor(p, &b->cv2.bn_out, c->hidden, down);
            yl_plan_vector(p, &b->cv2.save_mean, c->hidden);
            yl_plan_vector(p, &b->cv2.save_invstd, c->hidden);
            yl_plan_activation_shared_grad(p, &b->cv2.out, c->hidden, down, &b->sum);
        } else {
            yl_conv_unit_plan(p, &b->cv2);
        }
    }
    yl_plan_activation(p, &c->cat, (2 + c->n) * c->hidden, down);
    yl_conv_unit_plan(p, &c->cv2);
}

static yl_status bottleneck_forward(yl_block_context *ctx, yl_bottleneck *b, const yl_tensor *x) {
    YL_TRY(yl_conv_unit_forward(ctx, &b->cv1, x));
    YL_TRY(yl_conv_unit_forward(ctx, &b->cv2, &b->cv1.out.value));
    if (b->add) YL_TRY(yl_add_forward(ctx->eng, x, &b->cv2.out.value, &b->sum.value));
    return YL_OK;
}

static yl_status bottleneck_backward(yl_block_context *ctx, yl_bottleneck *b, yl_activation *input) {
    if (b->add) {
        // The shortcut passes the sum's gradient to the input unchanged; cv2's output gradient
        // is the sum's buffer itself.
        YL_TRY(yl_add_backward(ctx->eng, &b->sum.grad, &input->grad, NULL, yl_grad_accumulate(input)));
        b->cv2.out.grad_written = b->sum.grad_written;
    }
    YL_TRY(yl_conv_unit_backward(ctx, &b->cv2, &b->cv1.out, true));
    return yl_conv_unit_backward(ctx, &b->cv1, input, true);
}

yl_status yl_c2f_forward(yl_block_context *ctx, yl_c2f *c, const yl_tensor *x) {
    YL_TRY(yl_conv_unit_forward(ctx, &c->cv1, x));
    yl_tensor *halves[2] = {&c->split[0].value, &c->split[1].value};
    YL_TRY(yl_split_channels(ctx->eng, &c->cv1.out.value, halves, 2, false));
    for (int k = 0; k < c->n; k++) YL_TRY(bottleneck_forward(ctx, &c->m[k], &c->parts[k + 1]->value));
    const yl_tensor *parts[YL_C2F_MAX_REPEATS + 2];
    for (int i = 0; i < c->n + 2; i++) parts[i] = &c->parts[i]->value;
    YL_TRY(yl_concat_channels(ctx->eng, parts, c->n + 2, &c->cat.value, false));
    return yl_conv_unit_forward(ctx, &c->cv2, &c->cat.value);
}

yl_status yl_c2f_backward(yl_block_context *ctx, yl_c2f *c, yl_activation *input, bool input_grad) {
    YL_TRY(yl_conv_unit_backward(ctx, &c->cv2, &c->cat, true));
    YL_TRY(yl_split_grads(ctx->eng, &c->cat.grad, c->parts, c->n + 2));
    for (int k = c->n - 1; k >= 0; k--) YL_TRY(bottleneck_backward(ctx, &c->m[k], c->parts[k + 1]));
    const yl_tensor *halves[2] = {&c->split[0].grad, &c->split[1].grad};
    YL_TRY(yl_concat_channels(ctx->eng, halves, 2, &c->cv1.out.grad, yl_grad_accumulate(&c->cv1.out)));
    return yl_conv_unit_backward(ctx, &c->cv1, input, input_grad);
}
