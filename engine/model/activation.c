#include "activation.h"

#define YL_SPLIT_MAX_PARTS 16

static void set_shape_4d(yl_tensor *t, yl_device device, int64_t n, int64_t c, int64_t h, int64_t w) {
    void *data = t->data;
    *t = yl_tensor_4d(data, device, n, c, h, w);
}

static void note_size(yl_planner *p, int channels, int64_t numel) {
    if (numel > p->max_numel) p->max_numel = numel;
    if (channels > p->max_channels) p->max_channels = channels;
}

// Measures, carves or reshapes one (N, C, H/down, W/down) tensor.
static void plan_spatial(yl_planner *p, yl_tensor *t, int channels, int down) {
    if (p->status != YL_OK || p->mode == YL_PLAN_RESET_FLAGS) return;
    int64_t h = p->height / down, w = p->width / down;
    int64_t numel = (int64_t)p->batch * channels * h * w;
    note_size(p, channels, numel);
    switch (p->mode) {
    case YL_PLAN_MEASURE: p->bytes += yl_arena_aligned_size((size_t)numel * sizeof(float)); break;
    case YL_PLAN_CARVE: {
        const int64_t shape[4] = {p->batch, channels, h, w};
        p->status = yl_arena_tensor(p->arena, t, YL_F32, 4, shape);
        break;
    }
    case YL_PLAN_RESHAPE: set_shape_4d(t, p->device, p->batch, channels, h, w); break;
    case YL_PLAN_RESET_FLAGS: break;
    }
}

void yl_plan_activation(yl_planner *p, yl_activation *a, int channels, int down) {
    if (p->mode == YL_PLAN_RESET_FLAGS) {
        a->grad_written = false;
        return;
    }
    a->channels = channels;
    a->down = down;
    plan_spatial(p, &a->value, channels, down);
    if (p->gradients) {
        plan_spatial(p, &a->grad, channels, down);
    } else if (p->mode == YL_PLAN_CARVE) {
        a->grad = a->value;
        a->grad.data = NULL;
    }
}

void yl_plan_activation_shared_grad(yl_planner *p, yl_activation *a, int channels, int down,
                                    const yl_activation *source) {
    if (p->mode == YL_PLAN_RESET_FLAGS) {
        a->grad_written = false;
        return;
    }
    a->channels = channels;
    a->down = down;
    plan_spatial(p, &a->value, channels, down);
    if (p->mode == YL_PLAN_MEASURE) return;
    a->grad = a->value;
    a->grad.data = p->gradients ? source->grad.data : NULL;
}

void yl_plan_tensor(yl_planner *p, yl_tensor *t, int channels, int down) { plan_spatial(p, t, channels, down); }

void yl_plan_vector(yl_planner *p, yl_tensor *t, int channels) {
    if (p->status != YL_OK) return;
    note_size(p, channels, 0);
    switch (p->mode) {
    case YL_PLAN_MEASURE: p->bytes += yl_arena_aligned_size((size_t)channels * sizeof(float)); break;
    case YL_PLAN_CARVE: {
        const int64_t shape[1] = {channels};
        p->status = yl_arena_tensor(p->arena, t, YL_F32, 1, shape);
        break;
    }
    case YL_PLAN_RESHAPE:
    case YL_PLAN_RESET_FLAGS: break;
    }
}

void yl_plan_anchor_tensor(yl_planner *p, yl_tensor *t, int channels, const int *downs, int levels) {
    if (p->status != YL_OK) return;
    int64_t anchors = 0;
    for (int l = 0; l < levels; l++) anchors += (int64_t)(p->height / downs[l]) * (p->width / downs[l]);
    const int64_t shape[3] = {p->batch, channels, anchors};
    switch (p->mode) {
    case YL_PLAN_MEASURE:
        p->bytes += yl_arena_aligned_size((size_t)(p->batch * channels * anchors) * sizeof(float));
        break;
    case YL_PLAN_CARVE: p->status = yl_arena_tensor(p->arena, t, YL_F32, 3, shape); break;
    case YL_PLAN_RESHAPE: *t = yl_tensor_view(t->data, YL_F32, p->device, 3, shape); break;
    case YL_PLAN_RESET_FLAGS: break;
    }
}

yl_tensor yl_view_4d(const yl_tensor *base, int64_t n, int64_t c, int64_t h, int64_t w) {
    return yl_tensor_4d(base->data, base->device, n, c, h, w);
}

yl_tensor yl_view_like(const yl_tensor *base, const yl_tensor *shape_of) {
    return yl_tensor_view(base->data, base->dtype, base->device, shape_of->ndim, shape_of->shape);
}

yl_tensor yl_view_1d(const yl_tensor *base, int64_t n) { return yl_tensor_1d(base->data, base->device, n); }

bool yl_grad_accumulate(yl_activation *a) {
    bool accumulate = a->grad_written;
    a->grad_written = true;
    return accumulate;
}

yl_status yl_split_grads(yl_engine *eng, const yl_tensor *dwhole, yl_activation *const *parts, int count) {
    if (count < 1 || count > YL_SPLIT_MAX_PARTS)
        return yl_error(YL_ERR_INVALID_ARG, "split_grads: %d parts (1..%d)", count, YL_SPLIT_MAX_PARTS);
    int written = 0;
    for (int i = 0; i < count; i++) written += parts[i]->grad_written;
    // Mixed fresh and written gradients: zero the fresh ones so one accumulating split serves all.
    if (written > 0 && written < count) {
        yl_backend *be = yl_engine_backend(eng, dwhole->device);
        if (!be) return yl_error(YL_ERR_DEVICE, "split_grads: no backend for %s", yl_device_name(dwhole->device));
        for (int i = 0; i < count; i++) {
            if (parts[i]->grad_written) continue;
            YL_TRY(be->memset_zero(be, parts[i]->grad.data, yl_tensor_nbytes(&parts[i]->grad)));
        }
    }
    yl_tensor *grads[YL_SPLIT_MAX_PARTS];
    for (int i = 0; i < count; i++) {
        grads[i] = &parts[i]->grad;
        parts[i]->grad_written = true;
    }
    return yl_split_channels(eng, dwhole, grads, count, written > 0);
}
