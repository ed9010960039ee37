// SGD (Nesterov) and AdamW over the model's trainable parameters: checks, state layout and the
// per-group constants; the element loops are in optim_cpu.c and kernels/optim.cu.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/optim_cuda.h"
#include "optimizer_internal.h"

static int state_slots(yl_optimizer_kind kind) { return kind == YL_OPTIMIZER_ADAMW ? 2 : 1; }

static yl_status check_settings(const yl_optimizer_settings *s) {
    if (s->kind != YL_OPTIMIZER_SGD && s->kind != YL_OPTIMIZER_ADAMW)
        return yl_error(YL_ERR_INVALID_ARG, "optimizer: unknown kind %d", (int)s->kind);
    for (int g = 0; g < YL_PARAM_GROUP_COUNT; g++) {
        const yl_group_settings *gs = &s->groups[g];
        if (!isfinite(gs->lr) || gs->lr < 0.0)
            return yl_error(YL_ERR_INVALID_ARG, "optimizer: group %d lr=%g must be finite and >= 0", g, gs->lr);
        if (!(gs->momentum >= 0.0 && gs->momentum < 1.0))
            return yl_error(YL_ERR_INVALID_ARG, "optimizer: group %d momentum=%g must be in [0, 1)", g, gs->momentum);
        if (!isfinite(gs->weight_decay) || gs->weight_decay < 0.0)
            return yl_error(YL_ERR_INVALID_ARG, "optimizer: group %d weight_decay=%g must be finite and >= 0", g,
                            gs->weight_decay);
    }
    if (s->kind == YL_OPTIMIZER_ADAMW && (!(s->beta2 >= 0.0 && s->beta2 < 1.0) || !(s->eps > 0.0)))
        return yl_error(YL_ERR_INVALID_ARG, "optimizer: AdamW beta2=%g must be in [0, 1) and eps=%g > 0", s->beta2,
                        s->eps);
    return YL_OK;
}

static yl_status check_entry(const yl_state_entry *e, yl_device device) {
    if (e->value.dtype != YL_F32 || e->grad.dtype != YL_F32)
        return yl_error(YL_ERR_DTYPE, "optimizer: '%s' is %s, only f32 parameters are supported", e->name,
                        yl_dtype_name(e->value.dtype));
    if (!e->value.data) return yl_error(YL_ERR_INVALID_ARG, "optimizer: '%s' has no storage", e->name);
    if (!yl_tensor_same_shape(&e->value, &e->grad))
        return yl_error(YL_ERR_SHAPE, "optimizer: '%s' and its gradient differ in shape", e->name);
    if (!yl_tensor_is_contiguous(&e->value) || !yl_tensor_is_contiguous(&e->grad))
        return yl_error(YL_ERR_SHAPE, "optimizer: '%s' or its gradient is not contiguous", e->name);
    if (e->value.device != device || e->grad.device != device)
        return yl_error(YL_ERR_DEVICE, "optimizer: '%s' is not on %s like the other parameters", e->name,
                        yl_device_name(device));
    return YL_OK;
}

static yl_status build_segments(yl_optimizer *opt) {
    const yl_param_groups *g = opt->groups;
    int slots = state_slots(opt->settings.kind);
    size_t bytes = 0;
    for (int i = 0; i < g->count; i++) {
        if (!yl_param_groups_updates(g, i)) continue;
        YL_TRY(check_entry(&g->entries[i], opt->backend->device));
        bytes += (size_t)slots * yl_arena_aligned_size(yl_tensor_nbytes(&g->entries[i].value));
        opt->segment_count++;
    }
    int n = opt->segment_count > 0 ? opt->segment_count : 1;
    opt->segments = calloc((size_t)n, sizeof *opt->segments);
    opt->segment_entry = calloc((size_t)n, sizeof *opt->segment_entry);
    opt->sums = calloc((size_t)n, sizeof *opt->sums);
    if (!opt->segments || !opt->segment_entry || !opt->sums) return yl_error(YL_ERR_OOM, "optimizer: out of memory");
    YL_TRY(yl_arena_create(&opt->state, "optimizer state", opt->backend, bytes));
    int s = 0;
    for (int i = 0; i < g->count; i++) {
        if (!yl_param_groups_updates(g, i)) continue;
        yl_state_entry *e = &g->entries[i];
        yl_optim_segment *seg = &opt->segments[s];
        seg->param = e->value.data;
        seg->grad = e->grad.data;
        seg->count = yl_tensor_numel(&e->value);
        seg->group = e->group;
        void *a = NULL, *b = NULL;
        size_t nbytes = yl_tensor_nbytes(&e->value);
        YL_TRY(yl_arena_alloc(&opt->state, nbytes, &a));
        if (slots == 2) YL_TRY(yl_arena_alloc(&opt->state, nbytes, &b));
        seg->state_a = a;
        seg->state_b = b;
        opt->segment_entry[s++] = i;
    }
    return yl_arena_zero(&opt->state);
}

yl_status yl_optimizer_create(yl_optimizer **out, yl_engine *eng, const yl_param_groups *groups,
                              const yl_optimizer_settings *settings) {
    if (!out || !eng || !groups || !settings) return yl_error(YL_ERR_INVALID_ARG, "optimizer_create: NULL argument");
    *out = NULL;
    YL_TRY(check_settings(settings));
    yl_device device = eng->device;
    for (int i = 0; i < groups->count; i++)
        if (yl_param_groups_updates(groups, i)) {
            device = groups->entries[i].value.device;
            break;
        }
    yl_backend *be = yl_engine_backend(eng, device);
    if (!be) return yl_error(YL_ERR_DEVICE, "optimizer_create: the engine has no %s backend", yl_device_name(device));
    yl_optimizer *opt = calloc(1, sizeof *opt);
    if (!opt) return yl_error(YL_ERR_OOM, "optimizer_create: out of memory");
    opt->eng = eng;
    opt->backend = be;
    opt->groups = groups;
    opt->settings = *settings;
    yl_status status = build_segments(opt);
    if (status != YL_OK) {
        yl_optimizer_destroy(opt);
        return status;
    }
    *out = opt;
    return YL_OK;
}

void yl_optimizer_destroy(yl_optimizer *opt) {
    if (!opt) return;
    yl_arena_destroy(&opt->state);
    free(opt->segments);
    free(opt->segment_entry);
    free(opt->sums);
    free(opt);
}

yl_optimizer_settings *yl_optimizer_settings_of(yl_optimizer *opt) { return opt ? &opt->settings : NULL; }
int64_t yl_optimizer_step_count(const yl_optimizer *opt) { return opt ? opt->steps : 0; }

// PyTorch passes each Python scalar to a float32 kernel as float32: round each constant once,
// from the double the Python code would have computed.
static yl_status sgd_step(yl_optimizer *opt) {
    yl_sgd_coefs coefs[YL_OPTIM_GROUPS];
    for (int g = 0; g < YL_OPTIM_GROUPS; g++) {
        const yl_group_settings *gs = &opt->settings.groups[g];
        coefs[g].weight_decay = (float)gs->weight_decay;
        coefs[g].momentum = (float)gs->momentum;
        coefs[g].neg_lr = (float)-gs->lr;
    }
    bool first = opt->steps == 0;
    if (opt->backend->device == YL_DEVICE_CUDA)
        return yl_cuda_optim_sgd(opt->backend, opt->segments, opt->segment_count, coefs, first);
    yl_optim_sgd_cpu(opt->segments, opt->segment_count, coefs, first);
    return YL_OK;
}

static yl_status adamw_step(yl_optimizer *opt) {
    double step = (double)(opt->steps + 1);
    double beta2 = opt->settings.beta2;
    double bias_correction2 = 1.0 - pow(beta2, step);
    yl_adamw_coefs coefs[YL_OPTIM_GROUPS];
    for (int g = 0; g < YL_OPTIM_GROUPS; g++) {
        const yl_group_settings *gs = &opt->settings.groups[g];
        double beta1 = gs->momentum;
        double step_size = gs->lr / (1.0 - pow(beta1, step));
        coefs[g].decay_factor = (float)(1.0 - gs->lr * gs->weight_decay);
        coefs[g].beta1 = (float)beta1;
        coefs[g].one_minus_beta1 = (float)(1.0 - beta1);
        coefs[g].beta2 = (float)beta2;
        coefs[g].one_minus_beta2 = (float)(1.0 - beta2);
        coefs[g].bias_correction2_sqrt = (float)sqrt(bias_correction2);
        coefs[g].eps = (float)opt->settings.eps;
        coefs[g].neg_step_size = (float)-step_size;
    }
    if (opt->backend->device == YL_DEVICE_CUDA)
        return yl_cuda_optim_adamw(opt->backend, opt->segments, opt->segment_count, coefs);
    yl_optim_adamw_cpu(opt->segments, opt->segment_count, coefs);
    return YL_OK;
}

yl_status yl_optimizer_step(yl_optimizer *opt) {
    if (!opt) return yl_error(YL_ERR_INVALID_ARG, "optimizer_step: NULL optimizer");
    YL_TRY(check_settings(&opt->settings));
    yl_status status = opt->settings.kind == YL_OPTIMIZER_SGD ? sgd_step(opt) : adamw_step(opt);
    if (status != YL_OK)
        return yl_error_context(status, "optimizer_step (%s)", yl_optimizer_kind_name(opt->settings.kind));
    opt->steps++;
    return YL_OK;
}

yl_status yl_optimizer_state_view(yl_optimizer *opt, int index, int slot, yl_tensor *out) {
    if (!opt || !out) return yl_error(YL_ERR_INVALID_ARG, "optimizer_state_view: NULL argument");
    if (slot < 0 || slot >= state_slots(opt->settings.kind))
        return yl_error(YL_ERR_INVALID_ARG, "optimizer_state_view: %s has no state slot %d",
                        yl_optimizer_kind_name(opt->settings.kind), slot);
    for (int s = 0; s < opt->segment_count; s++) {
        if (opt->segment_entry[s] != index) continue;
        *out = opt->groups->entries[index].value;
        out->data = slot == 0 ? opt->segments[s].state_a : opt->segments[s].state_b;
        return YL_OK;
    }
    return yl_error(YL_ERR_INVALID_ARG, "optimizer_state_view: entry %d is not updated by the optimizer", index);
}

yl_status yl_optimizer_set_step_count(yl_optimizer *opt, int64_t steps) {
    if (!opt || steps < 0) return yl_error(YL_ERR_INVALID_ARG, "optimizer_set_step_count: bad argument");
    opt->steps = steps;
    return YL_OK;
}
