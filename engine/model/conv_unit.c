// Conv = Conv2d(bias=False) + BatchNorm2d + SiLU (or Identity), and the plain biased Conv2d of the
// head.
#include <stdio.h>
#include <string.h>

#include "blocks.h"

static yl_status add_entry(yl_state_list *state, const yl_conv_unit *u, const char *suffix, yl_state_kind kind,
                           int layer, int fan_in, int ndim, const int64_t *shape) {
    char name[YL_STATE_NAME_SIZE];
    int n = snprintf(name, sizeof name, "%s.%s", u->name, suffix);
    if (n < 0 || n >= (int)sizeof name) return yl_error(YL_ERR_INVALID_ARG, "conv unit: name '%s' too long", u->name);
    return yl_state_list_add(state, name, kind, layer, fan_in, ndim, shape, NULL);
}

yl_status yl_conv_unit_declare(yl_state_list *state, yl_conv_unit *u, const char *name, int layer, int c_in,
                               int c_out, int kernel, int stride, int down_out, bool has_bn) {
    memset(u, 0, sizeof *u);
    if (strlen(name) >= sizeof u->name) return yl_error(YL_ERR_INVALID_ARG, "conv unit: name '%s' too long", name);
    snprintf(u->name, sizeof u->name, "%s", name);
    u->c_in = c_in;
    u->c_out = c_out;
    u->kernel = kernel;
    u->stride = stride;
    u->down_out = down_out;
    u->has_bn = has_bn;
    u->first_entry = state->count;
    int fan_in = c_in * kernel * kernel;
    const int64_t weight_shape[4] = {c_out, c_in, kernel, kernel};
    const int64_t channel_shape[1] = {c_out};
    if (!has_bn) {
        YL_TRY(add_entry(state, u, "weight", YL_STATE_CONV_WEIGHT, layer, fan_in, 4, weight_shape));
        return add_entry(state, u, "bias", YL_STATE_CONV_BIAS, layer, fan_in, 1, channel_shape);
    }
    YL_TRY(add_entry(state, u, "conv.weight", YL_STATE_CONV_WEIGHT, layer, fan_in, 4, weight_shape));
    YL_TRY(add_entry(state, u, "bn.weight", YL_STATE_BN_WEIGHT, layer, 0, 1, channel_shape));
    YL_TRY(add_entry(state, u, "bn.bias", YL_STATE_BN_BIAS, layer, 0, 1, channel_shape));
    YL_TRY(add_entry(state, u, "bn.running_mean", YL_STATE_BN_RUNNING_MEAN, layer, 0, 1, channel_shape));
    YL_TRY(add_entry(state, u, "bn.running_var", YL_STATE_BN_RUNNING_VAR, layer, 0, 1, channel_shape));
    return add_entry(state, u, "bn.num_batches_tracked", YL_STATE_BN_NUM_BATCHES_TRACKED, layer, 0, 0, NULL);
}

void yl_conv_unit_bind(yl_conv_unit *u, yl_state_entry *entries) {
    yl_state_entry *e = &entries[u->first_entry];
    u->weight = &e[0].value;
    u->grad_weight = &e[0].grad;
    if (!u->has_bn) {
        u->bias = &e[1].value;
        u->grad_bias = &e[1].grad;
        return;
    }
    u->gamma = &e[1].value;
    u->grad_gamma = &e[1].grad;
    u->beta = &e[2].value;
    u->grad_beta = &e[2].grad;
    u->running_mean = &e[3].value;
    u->running_var = &e[4].value;
}

void yl_conv_unit_plan(yl_planner *p, yl_conv_unit *u) {
    yl_plan_activation(p, &u->out, u->c_out, u->down_out);
    if (!u->has_bn) return;
    yl_plan_tensor(p, &u->conv_out, u->c_out, u->down_out);
    if (u->act == YL_CONV_ACT_SILU) yl_plan_tensor(p, &u->bn_out, u->c_out, u->down_out);
    yl_plan_vector(p, &u->save_mean, u->c_out);
    yl_plan_vector(p, &u->save_invstd, u->c_out);
}

static yl_conv2d_params conv_params(const yl_conv_unit *u) {
    return (yl_conv2d_params){.stride = u->stride, .pad = u->kernel / 2};
}

yl_status yl_conv_unit_forward(yl_block_context *ctx, yl_conv_unit *u, const yl_tensor *x) {
    yl_conv2d_params cp = conv_params(u);
    yl_status status;
    if (!u->has_bn) {
        status = yl_conv2d_forward(ctx->eng, x, u->weight, u->bias, &u->out.value, &cp);
    } else {
        status = yl_conv2d_forward(ctx->eng, x, u->weight, NULL, &u->conv_out, &cp);
        bool batch_stats = ctx->training && !u->bn_frozen;
        if (status == YL_OK && u->act == YL_CONV_ACT_IDENTITY)
            status = batch_stats ? yl_batchnorm2d_forward_train(ctx->eng, &u->conv_out, u->gamma, u->beta,
                                                                u->running_mean, u->running_var, &u->out.value,
                                                                &u->save_mean, &u->save_invstd, &ctx->bn)
                                 : yl_batchnorm2d_forward_eval(ctx->eng, &u->conv_out, u->gamma, u->beta,
                                                               u->running_mean, u->running_var, &u->out.value,
                                                               &ctx->bn);
        else if (status == YL_OK && batch_stats)
            status = yl_bn_silu_forward_train(ctx->eng, &u->conv_out, u->gamma, u->beta, u->running_mean,
                                              u->running_var, &u->bn_out, &u->out.value, &u->save_mean,
                                              &u->save_invstd, &ctx->bn);
        else if (status == YL_OK)
            status = yl_bn_silu_forward_eval(ctx->eng, &u->conv_out, u->gamma, u->beta, u->running_mean,
                                             u->running_var, &u->bn_out, &u->out.value, &ctx->bn);
    }
    return status == YL_OK ? YL_OK : yl_error_context(status, "%s forward", u->name);
}

static yl_status conv_unit_backward(yl_block_context *ctx, yl_conv_unit *u, yl_activation *input, bool input_grad) {
    yl_conv2d_params cp = conv_params(u);
    const yl_tensor *dz = &u->out.grad;
    yl_tensor d_conv;
    if (u->has_bn) {
        // An Identity unit's BN output is its output: its gradient goes into BN's backward as is.
        const yl_tensor *d_bn = &u->out.grad;
        yl_tensor d_silu = yl_view_like(&ctx->scratch_a, &u->out.value);
        d_conv = yl_view_like(&ctx->scratch_b, &u->out.value);
        if (u->act == YL_CONV_ACT_SILU) {
            YL_TRY(yl_silu_backward(ctx->eng, &u->bn_out, &u->out.grad, &d_silu, false));
            d_bn = &d_silu;
        }
        // A frozen layer's BN ran with running statistics: its backward is the eval-mode one.
        // Parameter gradients accumulate and dx must not, so unless the gradients are fresh the
        // BN parameter gradients go through scratch and are added here.
        yl_tensor dgamma = yl_view_1d(&ctx->scratch_dgamma, u->c_out);
        yl_tensor dbeta = yl_view_1d(&ctx->scratch_dbeta, u->c_out);
        yl_tensor *out_gamma = ctx->fresh_grads ? u->grad_gamma : &dgamma;
        yl_tensor *out_beta = ctx->fresh_grads ? u->grad_beta : &dbeta;
        if (u->bn_frozen)
            YL_TRY(yl_batchnorm2d_backward_eval(ctx->eng, &u->conv_out, d_bn, u->gamma, u->running_mean,
                                                u->running_var, &d_conv, out_gamma, out_beta, &ctx->bn, false));
        else
            YL_TRY(yl_batchnorm2d_backward_train(ctx->eng, &u->conv_out, d_bn, u->gamma, &u->save_mean,
                                                 &u->save_invstd, &d_conv, out_gamma, out_beta, false));
        if (!ctx->fresh_grads) {
            YL_TRY(yl_add_backward(ctx->eng, &dgamma, u->grad_gamma, NULL, true));
            YL_TRY(yl_add_backward(ctx->eng, &dbeta, u->grad_beta, NULL, true));
        }
        dz = &d_conv;
    }
    YL_TRY(yl_conv2d_backward_weight(ctx->eng, &input->value, dz, u->grad_weight, u->has_bn ? NULL : u->grad_bias,
                                     &cp, !ctx->fresh_grads));
    if (input_grad)
        YL_TRY(yl_conv2d_backward_data(ctx->eng, dz, u->weight, &input->grad, &cp, yl_grad_accumulate(input)));
    return YL_OK;
}

yl_status yl_conv_unit_backward(yl_block_context *ctx, yl_conv_unit *u, yl_activation *input, bool input_grad) {
    if (!u->out.grad_written)
        return yl_error(YL_ERR_INVALID_ARG, "%s backward: the output gradient was never written", u->name);
    yl_status status = conv_unit_backward(ctx, u, input, input_grad);
    return status == YL_OK ? YL_OK : yl_error_context(status, "%s backward", u->name);
}

double yl_conv_unit_macs(const yl_conv_unit *u, int height, int width) {
    double pixels = (double)(height / u->down_out) * (double)(width / u->down_out);
    int bias_add = u->has_bn ? 0 : 1;  // counted as one more operation per output, as thop does
    return pixels * u->c_out * ((double)u->c_in * u->kernel * u->kernel + bias_add);
}
