#include "ema.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../core/arena.h"
#include "kernels/optim_cuda.h"
#include "optim_kernels.h"

struct yl_ema {
    yl_backend *backend;
    yl_state_entry *entries;
    int count;
    yl_tensor *values;    // per entry: the EMA copy (data NULL for integer entries)
    yl_optim_pair *pairs; // dst = EMA copy, src = the model's value, one per float entry
    int pair_count;
    yl_arena arena;
    int64_t updates;
    bool swapped;
};

double yl_ema_decay(int64_t updates) { return YL_EMA_DECAY * (1.0 - exp(-(double)updates / YL_EMA_TAU)); }

static bool is_float(const yl_state_entry *e) {
    yl_dtype t = e->value.dtype;
    return t == YL_F32 || t == YL_F16 || t == YL_BF16;
}

static yl_status blend(yl_ema *ema, float keep, float mix) {
    if (ema->backend->device == YL_DEVICE_CUDA)
        return yl_cuda_optim_blend(ema->backend, ema->pairs, ema->pair_count, keep, mix);
    yl_optim_blend_cpu(ema->pairs, ema->pair_count, keep, mix);
    return YL_OK;
}

static yl_status build(yl_ema *ema, yl_engine *eng) {
    yl_device device = eng->device;
    size_t bytes = 0;
    for (int i = 0; i < ema->count; i++) {
        const yl_state_entry *e = &ema->entries[i];
        if (!is_float(e)) continue;
        if (e->value.dtype != YL_F32)
            return yl_error(YL_ERR_DTYPE, "ema: '%s' is %s, only f32 state is supported", e->name,
                            yl_dtype_name(e->value.dtype));
        if (!e->value.data || !yl_tensor_is_contiguous(&e->value))
            return yl_error(YL_ERR_INVALID_ARG, "ema: '%s' has no contiguous storage", e->name);
        if (ema->pair_count == 0) device = e->value.device;
        if (e->value.device != device)
            return yl_error(YL_ERR_DEVICE, "ema: '%s' is on %s, the other entries on %s", e->name,
                            yl_device_name(e->value.device), yl_device_name(device));
        bytes += yl_arena_aligned_size(yl_tensor_nbytes(&e->value));
        ema->pair_count++;
    }
    ema->backend = yl_engine_backend(eng, device);
    if (!ema->backend) return yl_error(YL_ERR_DEVICE, "ema: the engine has no %s backend", yl_device_name(device));
    ema->values = calloc((size_t)(ema->count > 0 ? ema->count : 1), sizeof *ema->values);
    ema->pairs = calloc((size_t)(ema->pair_count > 0 ? ema->pair_count : 1), sizeof *ema->pairs);
    if (!ema->values || !ema->pairs) return yl_error(YL_ERR_OOM, "ema: out of memory");
    YL_TRY(yl_arena_create(&ema->arena, "ema", ema->backend, bytes));
    int p = 0;
    for (int i = 0; i < ema->count; i++) {
        yl_state_entry *e = &ema->entries[i];
        ema->values[i] = e->value;
        ema->values[i].data = NULL;
        if (!is_float(e)) continue;
        YL_TRY(yl_arena_tensor(&ema->arena, &ema->values[i], YL_F32, e->value.ndim, e->value.shape));
        ema->pairs[p].dst = ema->values[i].data;
        ema->pairs[p].src = e->value.data;
        ema->pairs[p].count = yl_tensor_numel(&e->value);
        p++;
    }
    return blend(ema, 0.0f, 1.0f);  // an exact copy: 1 * x == x
}

yl_status yl_ema_create(yl_ema **out, yl_engine *eng, yl_state_entry *entries, int count) {
    if (!out || !eng || (!entries && count > 0) || count < 0)
        return yl_error(YL_ERR_INVALID_ARG, "ema_create: NULL or negative argument");
    *out = NULL;
    yl_ema *ema = calloc(1, sizeof *ema);
    if (!ema) return yl_error(YL_ERR_OOM, "ema_create: out of memory");
    ema->entries = entries;
    ema->count = count;
    yl_status status = build(ema, eng);
    if (status != YL_OK) {
        yl_ema_destroy(ema);
        return status;
    }
    *out = ema;
    return YL_OK;
}

yl_status yl_ema_create_for_model(yl_ema **out, yl_model *m) {
    if (!m) return yl_error(YL_ERR_INVALID_ARG, "ema_create_for_model: NULL model");
    return yl_ema_create(out, yl_model_engine(m), yl_model_state_at(m, 0), yl_model_state_count(m));
}

void yl_ema_destroy(yl_ema *ema) {
    if (!ema) return;
    yl_arena_destroy(&ema->arena);
    free(ema->values);
    free(ema->pairs);
    free(ema);
}

yl_status yl_ema_update(yl_ema *ema) {
    if (!ema) return yl_error(YL_ERR_INVALID_ARG, "ema_update: NULL ema");
    if (ema->swapped)
        return yl_error(YL_ERR_INVALID_ARG, "ema_update: the EMA is swapped into the model; swap back first");
    double d = yl_ema_decay(ema->updates + 1);
    // torch: v *= d; v += (1 - d) * model, each Python scalar rounded to float32 on its own.
    yl_status status = blend(ema, (float)d, (float)(1.0 - d));
    if (status != YL_OK) return yl_error_context(status, "ema_update");
    ema->updates++;
    return YL_OK;
}

int64_t yl_ema_updates(const yl_ema *ema) { return ema ? ema->updates : 0; }

yl_status yl_ema_set_updates(yl_ema *ema, int64_t updates) {
    if (!ema || updates < 0) return yl_error(YL_ERR_INVALID_ARG, "ema_set_updates: bad argument");
    ema->updates = updates;
    return YL_OK;
}

yl_status yl_ema_swap(yl_ema *ema) {
    if (!ema) return yl_error(YL_ERR_INVALID_ARG, "ema_swap: NULL ema");
    if (ema->backend->device == YL_DEVICE_CUDA) {
        yl_status status = yl_cuda_optim_swap(ema->backend, ema->pairs, ema->pair_count);
        if (status != YL_OK) return yl_error_context(status, "ema_swap");
    } else {
        yl_optim_swap_cpu(ema->pairs, ema->pair_count);
    }
    ema->swapped = !ema->swapped;
    return YL_OK;
}

bool yl_ema_is_swapped(const yl_ema *ema) { return ema && ema->swapped; }

yl_tensor *yl_ema_value(yl_ema *ema, int index) {
    if (!ema || index < 0 || index >= ema->count || !ema->values[index].data) return NULL;
    return &ema->values[index];
}
