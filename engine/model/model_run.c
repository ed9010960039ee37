// Planning the activations, and the forward and backward passes over the layer graph.
#include <string.h>

#include "model_internal.h"

#define YL_BN_EPS 1e-3f
#define YL_BN_MOMENTUM 0.03f

// Visits every activation and saved tensor of the graph with the planner.
static void walk_activations(yl_model *m, yl_planner *p) {
    for (int i = 0; i < YL_YOLOV8_LAYER_COUNT; i++) {
        yl_layer *layer = &m->layers[i];
        const yl_layer_layout *ll = &m->layout.layers[i];
        switch (layer->kind) {
        case YL_LAYER_CONV: yl_conv_unit_plan(p, &layer->conv); break;
        case YL_LAYER_C2F: yl_c2f_plan(p, &layer->c2f); break;
        case YL_LAYER_SPPF: yl_sppf_plan(p, &layer->sppf); break;
        case YL_LAYER_UPSAMPLE:
        case YL_LAYER_CONCAT: yl_plan_activation(p, &layer->own, ll->c_out, ll->down); break;
        case YL_LAYER_DETECT: yl_detect_plan(p, &layer->detect); break;
        }
    }
}

static yl_status check_size(const char *op, int batch, int height, int width) {
    if (batch < 1) return yl_error(YL_ERR_SHAPE, "%s: batch %d must be >= 1", op, batch);
    if (height < YL_YOLOV8_MAX_STRIDE || width < YL_YOLOV8_MAX_STRIDE || height % YL_YOLOV8_MAX_STRIDE ||
        width % YL_YOLOV8_MAX_STRIDE)
        return yl_error(YL_ERR_SHAPE, "%s: image size %dx%d must be a positive multiple of %d", op, height, width,
                        YL_YOLOV8_MAX_STRIDE);
    return YL_OK;
}

yl_status yl_model_plan(yl_model *m, int batch, int height, int width, bool gradients) {
    if (!m || !m->allocated) return yl_error(YL_ERR_INVALID_ARG, "model_plan: no model");
    YL_TRY(check_size("model_plan", batch, height, width));
    yl_arena_destroy(&m->acts);
    m->planned = false;
    m->backward_ready = false;
    yl_planner p = {.mode = YL_PLAN_MEASURE, .device = m->device, .gradients = gradients,
                    .batch = batch, .height = height, .width = width};
    walk_activations(m, &p);
    YL_TRY(p.status);
    size_t scratch_spatial = yl_arena_aligned_size((size_t)p.max_numel * sizeof(float));
    size_t scratch_vector = yl_arena_aligned_size((size_t)p.max_channels * sizeof(float));
    size_t capacity = p.bytes + (gradients ? 2 * scratch_spatial + 2 * scratch_vector : 0);
    yl_status status = yl_arena_create(&m->acts, "activations", yl_engine_backend(m->eng, m->device), capacity);
    if (status != YL_OK) return yl_error_context(status, "model_plan %dx3x%dx%d", batch, height, width);

    int64_t max_numel = p.max_numel;
    int max_channels = p.max_channels;
    p = (yl_planner){.mode = YL_PLAN_CARVE, .arena = &m->acts, .device = m->device, .gradients = gradients,
                     .batch = batch, .height = height, .width = width};
    walk_activations(m, &p);
    YL_TRY(p.status);
    if (gradients) {
        const int64_t spatial[1] = {max_numel};
        const int64_t vector[1] = {max_channels};
        YL_TRY(yl_arena_tensor(&m->acts, &m->scratch_a, YL_F32, 1, spatial));
        YL_TRY(yl_arena_tensor(&m->acts, &m->scratch_b, YL_F32, 1, spatial));
        YL_TRY(yl_arena_tensor(&m->acts, &m->scratch_dgamma, YL_F32, 1, vector));
        YL_TRY(yl_arena_tensor(&m->acts, &m->scratch_dbeta, YL_F32, 1, vector));
    }
    m->planned = true;
    m->plan_gradients = gradients;
    m->plan_batch = m->cur_batch = batch;
    m->plan_height = m->cur_height = height;
    m->plan_width = m->cur_width = width;
    return YL_OK;
}

// Points every activation at the shape of an input that fits the plan.
static yl_status bind_input(yl_model *m, const char *op, const yl_tensor *images) {
    if (!m || !m->allocated) return yl_error(YL_ERR_INVALID_ARG, "%s: no model", op);
    if (!images || !images->data) return yl_error(YL_ERR_INVALID_ARG, "%s: images tensor is NULL", op);
    if (!m->planned) return yl_error(YL_ERR_INVALID_ARG, "%s: call yl_model_plan first", op);
    char shape[96];
    if (images->ndim != 4 || images->shape[1] != 3 || images->dtype != YL_F32)
        return yl_error(YL_ERR_SHAPE, "%s: images must be (B, 3, H, W) f32, got %s %s", op,
                        yl_tensor_shape_str(images, shape, sizeof shape), yl_dtype_name(images->dtype));
    if (images->device != m->device)
        return yl_error(YL_ERR_DEVICE, "%s: images are on %s, the model on %s", op, yl_device_name(images->device),
                        yl_device_name(m->device));
    int batch = (int)images->shape[0], height = (int)images->shape[2], width = (int)images->shape[3];
    YL_TRY(check_size(op, batch, height, width));
    if (batch > m->plan_batch || height > m->plan_height || width > m->plan_width)
        return yl_error(YL_ERR_SHAPE, "%s: images %s exceed the plan (%d, 3, %d, %d); plan a larger size", op,
                        yl_tensor_shape_str(images, shape, sizeof shape), m->plan_batch, m->plan_height,
                        m->plan_width);
    if (batch != m->cur_batch || height != m->cur_height || width != m->cur_width) {
        yl_planner p = {.mode = YL_PLAN_RESHAPE, .device = m->device, .gradients = m->plan_gradients,
                        .batch = batch, .height = height, .width = width};
        walk_activations(m, &p);
        YL_TRY(p.status);
        m->cur_batch = batch;
        m->cur_height = height;
        m->cur_width = width;
    }
    m->input.value = *images;
    m->input.grad = *images;
    m->input.grad.data = NULL;
    return YL_OK;
}

static yl_block_context block_context(yl_model *m, bool training) {
    return (yl_block_context){
        .eng = m->eng,
        .bn = {.eps = YL_BN_EPS, .momentum = YL_BN_MOMENTUM},
        .training = training,
        .scratch_a = m->scratch_a,
        .scratch_b = m->scratch_b,
        .scratch_dgamma = m->scratch_dgamma,
        .scratch_dbeta = m->scratch_dbeta,
    };
}

// Names the layer in the message; a Conv layer's unit already carries its name ("model.3").
static yl_status layer_error(yl_status status, const char *op, const yl_layer *layer) {
    if (layer->kind == YL_LAYER_CONV) return yl_error_context(status, "%s", op);
    return yl_error_context(status, "%s: model.%d", op, layer->index);
}

static yl_status layer_forward(yl_block_context *ctx, yl_layer *layer) {
    const yl_tensor *x = &layer->in[0]->value;
    switch (layer->kind) {
    case YL_LAYER_CONV: return yl_conv_unit_forward(ctx, &layer->conv, x);
    case YL_LAYER_C2F: return yl_c2f_forward(ctx, &layer->c2f, x);
    case YL_LAYER_SPPF: return yl_sppf_forward(ctx, &layer->sppf, x);
    case YL_LAYER_UPSAMPLE: return yl_upsample_nearest2x_forward(ctx->eng, x, &layer->own.value);
    case YL_LAYER_CONCAT: {
        const yl_tensor *parts[YL_YOLOV8_LEVELS];
        for (int f = 0; f < layer->in_count; f++) parts[f] = &layer->in[f]->value;
        return yl_concat_channels(ctx->eng, parts, layer->in_count, &layer->own.value, false);
    }
    case YL_LAYER_DETECT: return yl_detect_forward(ctx, &layer->detect, layer->in);
    }
    return yl_error(YL_ERR_INVALID_ARG, "unknown layer kind %d", (int)layer->kind);
}

static yl_status model_forward(yl_model *m, const char *op, const yl_tensor *images, yl_tensor *maps,
                               bool training) {
    if (m) m->backward_ready = false;
    YL_TRY(bind_input(m, op, images));
    if (training && !m->plan_gradients)
        return yl_error(YL_ERR_INVALID_ARG, "%s: the plan has no gradients; plan with gradients to train", op);
    yl_block_context ctx = block_context(m, training);
    for (int i = 0; i < YL_YOLOV8_LAYER_COUNT; i++) {
        yl_status status = layer_forward(&ctx, &m->layers[i]);
        if (status != YL_OK) return layer_error(status, op, &m->layers[i]);
    }
    yl_detect *d = &m->layers[YL_YOLOV8_DETECT_LAYER].detect;
    if (maps)
        for (int i = 0; i < YL_YOLOV8_LEVELS; i++) maps[i] = d->map[i].value;
    if (training) {
        m->num_batches_tracked++;
        m->backward_ready = true;
    }
    return YL_OK;
}

yl_status yl_model_forward_train(yl_model *m, const yl_tensor *images, yl_tensor maps[YL_YOLOV8_LEVELS]) {
    return model_forward(m, "model_forward_train", images, maps, true);
}

yl_status yl_model_forward_eval(yl_model *m, const yl_tensor *images, yl_tensor maps[YL_YOLOV8_LEVELS]) {
    return model_forward(m, "model_forward_eval", images, maps, false);
}

yl_status yl_model_forward_eval_decoded(yl_model *m, const yl_tensor *images, yl_tensor *decoded,
                                        yl_tensor maps[YL_YOLOV8_LEVELS]) {
    const char *op = "model_forward_eval_decoded";
    if (!decoded) return yl_error(YL_ERR_INVALID_ARG, "%s: decoded tensor is NULL", op);
    YL_TRY(model_forward(m, op, images, maps, false));
    yl_block_context ctx = block_context(m, false);
    yl_status status = yl_detect_decode(&ctx, &m->layers[YL_YOLOV8_DETECT_LAYER].detect, decoded);
    return status == YL_OK ? YL_OK : yl_error_context(status, "%s", op);
}

yl_status yl_model_layer_output(const yl_model *m, int index, yl_tensor *out) {
    if (!m || !out) return yl_error(YL_ERR_INVALID_ARG, "model_layer_output: NULL argument");
    if (index < 0 || index >= YL_YOLOV8_DETECT_LAYER)
        return yl_error(YL_ERR_INVALID_ARG, "model_layer_output: layer %d is not in 0..%d", index,
                        YL_YOLOV8_DETECT_LAYER - 1);
    if (!m->planned || !m->layers[index].out)
        return yl_error(YL_ERR_INVALID_ARG, "model_layer_output: no forward has run (plan and run the model first)");
    *out = m->layers[index].out->value;
    return YL_OK;
}

static yl_status layer_backward(yl_block_context *ctx, yl_model *m, yl_layer *layer,
                                const yl_tensor d_maps[YL_YOLOV8_LEVELS], bool input_grad) {
    yl_activation *x = layer->in[0];
    bool x_grad = x != &m->input || input_grad;
    if (layer->out && !layer->out->grad_written)
        return yl_error(YL_ERR_INVALID_ARG, "the output gradient was never written");
    switch (layer->kind) {
    case YL_LAYER_CONV: return yl_conv_unit_backward(ctx, &layer->conv, x, x_grad);
    case YL_LAYER_C2F: return yl_c2f_backward(ctx, &layer->c2f, x, x_grad);
    case YL_LAYER_SPPF: return yl_sppf_backward(ctx, &layer->sppf, x, x_grad);
    case YL_LAYER_UPSAMPLE:
        return yl_upsample_nearest2x_backward(ctx->eng, &layer->own.grad, &x->grad, yl_grad_accumulate(x));
    case YL_LAYER_CONCAT: return yl_split_grads(ctx->eng, &layer->own.grad, layer->in, layer->in_count);
    case YL_LAYER_DETECT: return yl_detect_backward(ctx, &layer->detect, d_maps, layer->in);
    }
    return yl_error(YL_ERR_INVALID_ARG, "unknown layer kind %d", (int)layer->kind);
}

yl_status yl_model_backward(yl_model *m, const yl_tensor d_maps[YL_YOLOV8_LEVELS], yl_tensor *d_images) {
    const char *op = "model_backward";
    if (!m || !m->allocated || !d_maps) return yl_error(YL_ERR_INVALID_ARG, "%s: NULL argument", op);
    if (!m->backward_ready) return yl_error(YL_ERR_INVALID_ARG, "%s: needs a training forward first", op);
    if (d_images) {
        if (!yl_tensor_same_shape(d_images, &m->input.value) || d_images->device != m->device || !d_images->data) {
            char got[96], want[96];
            return yl_error(YL_ERR_SHAPE, "%s: d_images is %s, expected %s on %s", op,
                            yl_tensor_shape_str(d_images, got, sizeof got),
                            yl_tensor_shape_str(&m->input.value, want, sizeof want), yl_device_name(m->device));
        }
        m->input.grad = *d_images;
    } else {
        m->input.grad.data = NULL;
    }
    yl_planner p = {.mode = YL_PLAN_RESET_FLAGS, .gradients = m->plan_gradients};
    walk_activations(m, &p);
    m->input.grad_written = false;
    yl_block_context ctx = block_context(m, true);
    ctx.fresh_grads = m->fresh_grads;
    // Whatever happens below, the gradients are no longer known to be zero.
    m->fresh_grads = false;
    for (int i = YL_YOLOV8_LAYER_COUNT - 1; i >= 0; i--) {
        yl_status status = layer_backward(&ctx, m, &m->layers[i], d_maps, d_images != NULL);
        if (status != YL_OK) return layer_error(status, op, &m->layers[i]);
    }
    return YL_OK;
}
