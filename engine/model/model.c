// Model structure: layers and conv units from the layout, state entries and their arenas,
// summaries.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model_internal.h"

static yl_status declare_layer(yl_model *m, int i) {
    const yl_layer_layout *ll = &m->layout.layers[i];
    yl_layer *layer = &m->layers[i];
    layer->kind = ll->kind;
    layer->index = i;
    layer->in_count = ll->from_count;
    for (int f = 0; f < ll->from_count; f++)
        layer->in[f] = ll->from[f] < 0 ? &m->input : m->layers[ll->from[f]].out;
    char name[YL_UNIT_NAME_SIZE];
    switch (ll->kind) {
    case YL_LAYER_CONV:
        snprintf(name, sizeof name, "model.%d", i);
        YL_TRY(yl_conv_unit_declare(&m->state, &layer->conv, name, i, ll->c_in, ll->c_out, ll->kernel, ll->stride,
                                    ll->down, true));
        layer->out = &layer->conv.out;
        break;
    case YL_LAYER_C2F:
        YL_TRY(yl_c2f_declare(&m->state, &layer->c2f, i, ll->c_in, ll->c_out, ll->repeats, ll->shortcut, ll->down));
        layer->out = &layer->c2f.cv2.out;
        break;
    case YL_LAYER_SPPF:
        YL_TRY(yl_sppf_declare(&m->state, &layer->sppf, i, ll->c_in, ll->c_out, ll->kernel, ll->down));
        layer->out = &layer->sppf.cv2.out;
        break;
    case YL_LAYER_UPSAMPLE:
    case YL_LAYER_CONCAT: layer->out = &layer->own; break;
    case YL_LAYER_DETECT:
        YL_TRY(yl_detect_declare(&m->state, &layer->detect, i, &m->layout));
        layer->out = NULL;
        break;
    }
    return YL_OK;
}

// Lists every conv unit in state_dict order (or only counts them when units is NULL).
static int collect_units(yl_model *m, yl_conv_unit **units) {
    int n = 0;
#define YL_ADD_UNIT(u)            \
    do {                          \
        if (units) units[n] = (u); \
        n++;                      \
    } while (0)
    for (int i = 0; i < YL_YOLOV8_LAYER_COUNT; i++) {
        yl_layer *layer = &m->layers[i];
        switch (layer->kind) {
        case YL_LAYER_CONV: YL_ADD_UNIT(&layer->conv); break;
        case YL_LAYER_C2F:
            YL_ADD_UNIT(&layer->c2f.cv1);
            YL_ADD_UNIT(&layer->c2f.cv2);
            for (int k = 0; k < layer->c2f.n; k++) {
                YL_ADD_UNIT(&layer->c2f.m[k].cv1);
                YL_ADD_UNIT(&layer->c2f.m[k].cv2);
            }
            break;
        case YL_LAYER_SPPF:
            YL_ADD_UNIT(&layer->sppf.cv1);
            YL_ADD_UNIT(&layer->sppf.cv2);
            break;
        case YL_LAYER_DETECT:
            for (int l = 0; l < YL_YOLOV8_LEVELS; l++)
                for (int j = 0; j < 3; j++) YL_ADD_UNIT(&layer->detect.box[l][j]);
            for (int l = 0; l < YL_YOLOV8_LEVELS; l++)
                for (int j = 0; j < 3; j++) YL_ADD_UNIT(&layer->detect.cls[l][j]);
            break;
        case YL_LAYER_UPSAMPLE:
        case YL_LAYER_CONCAT: break;
        }
    }
#undef YL_ADD_UNIT
    return n;
}

// Gives every Conv with BN the activation the config asks for; an override naming no such Conv
// is an error (a checkpoint built differently, or a typo).
static yl_status apply_activations(yl_model *m, const yl_model_config *cfg) {
    for (int u = 0; u < m->unit_count; u++) m->units[u]->act = YL_CONV_ACT_SILU;
    for (int i = 0; i < YL_YOLOV8_LAYER_COUNT; i++)
        if (m->layers[i].kind == YL_LAYER_SPPF)
            m->layers[i].sppf.cv1.act = yl_model_config_activation(cfg, m->layers[i].sppf.cv1.name, true);
    for (int k = 0; k < cfg->act_override_count; k++) {
        const yl_conv_act_override *o = &cfg->act_overrides[k];
        yl_conv_unit *unit = NULL;
        for (int u = 0; u < m->unit_count && !unit; u++)
            if (m->units[u]->has_bn && !strcmp(m->units[u]->name, o->module)) unit = m->units[u];
        if (!unit)
            return yl_error(YL_ERR_INVALID_ARG, "model config: activation %s for '%s', which is no Conv of this model",
                            yl_conv_act_name(o->act), o->module);
        unit->act = o->act;
    }
    return YL_OK;
}

yl_status yl_model_declare(yl_model *m, const yl_model_config *cfg) {
    YL_TRY(yl_model_layout_build(cfg, &m->layout));
    m->input.channels = 3;
    m->input.down = 1;
    for (int i = 0; i < YL_YOLOV8_LAYER_COUNT; i++) {
        yl_status status = declare_layer(m, i);
        if (status != YL_OK) return yl_error_context(status, "model declare");
    }
    m->unit_count = collect_units(m, NULL);
    m->units = calloc((size_t)m->unit_count, sizeof *m->units);
    if (!m->units) return yl_error(YL_ERR_OOM, "model declare: out of memory");
    collect_units(m, m->units);
    return apply_activations(m, cfg);
}

void yl_model_release_structure(yl_model *m) {
    for (int i = 0; i < YL_YOLOV8_LAYER_COUNT; i++)
        if (m->layers[i].kind == YL_LAYER_C2F) yl_c2f_release(&m->layers[i].c2f);
    free(m->units);
    m->units = NULL;
    yl_state_list_free(&m->state);
}

// Carves every state entry from the parameter arena and every gradient from the gradient
// arena, in state_dict order.
static yl_status allocate_state(yl_model *m) {
    yl_backend *be = yl_engine_backend(m->eng, m->device);
    size_t param_bytes = 0, grad_bytes = 0;
    for (int i = 0; i < m->state.count; i++) {
        const yl_state_entry *e = &m->state.items[i];
        size_t bytes = yl_arena_aligned_size(yl_tensor_nbytes(&e->value));
        param_bytes += bytes;
        if (e->requires_grad) grad_bytes += bytes;
    }
    YL_TRY(yl_arena_create(&m->params, "parameters", be, param_bytes));
    YL_TRY(yl_arena_create(&m->grads, "gradients", be, grad_bytes));
    for (int i = 0; i < m->state.count; i++) {
        yl_state_entry *e = &m->state.items[i];
        yl_tensor shape = e->value;
        YL_TRY(yl_arena_tensor(&m->params, &e->value, shape.dtype, shape.ndim, shape.shape));
        if (e->requires_grad) {
            YL_TRY(yl_arena_tensor(&m->grads, &e->grad, YL_F32, shape.ndim, shape.shape));
        } else {
            e->grad = e->value;
            e->grad.data = NULL;
        }
    }
    for (int u = 0; u < m->unit_count; u++) yl_conv_unit_bind(m->units[u], m->state.items);
    YL_TRY(yl_model_zero_grad(m));
    return YL_OK;
}

yl_status yl_model_create(yl_model **out, yl_engine *eng, const yl_model_config *cfg, uint64_t seed) {
    if (!out || !eng || !cfg) return yl_error(YL_ERR_INVALID_ARG, "model_create: NULL argument");
    *out = NULL;
    if (!yl_engine_backend(eng, eng->device))
        return yl_error(YL_ERR_DEVICE, "model_create: the engine has no %s backend", yl_device_name(eng->device));
    yl_model *m = calloc(1, sizeof *m);
    if (!m) return yl_error(YL_ERR_OOM, "model_create: out of memory");
    m->eng = eng;
    m->device = eng->device;
    yl_status status = yl_model_declare(m, cfg);
    if (status == YL_OK) {
        m->allocated = true;
        status = allocate_state(m);
    }
    if (status == YL_OK) status = yl_model_init_parameters(m, seed);
    if (status != YL_OK) {
        yl_model_destroy(m);
        return status;
    }
    *out = m;
    return YL_OK;
}

void yl_model_destroy(yl_model *m) {
    if (!m) return;
    if (m->allocated) {
        yl_arena_destroy(&m->acts);
        yl_arena_destroy(&m->grads);
        yl_arena_destroy(&m->params);
    }
    yl_model_release_structure(m);
    free(m);
}

const yl_model_layout *yl_model_get_layout(const yl_model *m) { return m ? &m->layout : NULL; }
yl_engine *yl_model_engine(const yl_model *m) { return m ? m->eng : NULL; }

int yl_model_state_count(const yl_model *m) { return m ? m->state.count : 0; }

yl_state_entry *yl_model_state_at(yl_model *m, int index) {
    if (!m || index < 0 || index >= m->state.count) return NULL;
    return &m->state.items[index];
}

yl_state_entry *yl_model_state_find(yl_model *m, const char *name) {
    if (!m || !name) return NULL;
    for (int i = 0; i < m->state.count; i++)
        if (!strcmp(m->state.items[i].name, name)) return &m->state.items[i];
    return NULL;
}

const yl_arena *yl_model_parameter_arena(const yl_model *m) { return m ? &m->params : NULL; }
const yl_arena *yl_model_gradient_arena(const yl_model *m) { return m ? &m->grads : NULL; }
const yl_arena *yl_model_activation_arena(const yl_model *m) { return m ? &m->acts : NULL; }

// Counted like Ultralytics' number (thop on the inference graph): every Conv2d's multiply-
// accumulates, a bias add per output of the biased head convs, and the DFL's 1x1 conv over
// 4 sides x anchors; reproduces yolov8.md §1.5 (n 8.75, s 28.61, m 78.94, l 165.15, x 257.81).
double yl_model_gflops(const yl_model *m, int height, int width) {
    if (!m) return 0.0;
    double macs = 0.0, anchors = 0.0;
    for (int u = 0; u < m->unit_count; u++) macs += yl_conv_unit_macs(m->units[u], height, width);
    for (int l = 0; l < YL_YOLOV8_LEVELS; l++) {
        int stride = m->layout.detect_strides[l];
        anchors += (double)(height / stride) * (double)(width / stride);
    }
    macs += 4.0 * anchors * YL_YOLOV8_REG_MAX;
    return 2.0 * macs / 1e9;
}

static void fill_summary(const yl_model *m, int imgsz, yl_model_summary *out) {
    memset(out, 0, sizeof *out);
    for (int i = 0; i < m->state.count; i++) {
        const yl_state_entry *e = &m->state.items[i];
        if (!e->is_parameter) continue;
        int64_t n = yl_tensor_numel(&e->value);
        out->parameters += n;
        if (e->requires_grad) out->trainable += n;
        out->layer_parameters[e->layer] += n;
    }
    out->state_entries = m->state.count;
    int upsample = 0, concat = 0;
    for (int i = 0; i < YL_YOLOV8_LAYER_COUNT; i++) {
        upsample += m->layers[i].kind == YL_LAYER_UPSAMPLE;
        concat += m->layers[i].kind == YL_LAYER_CONCAT;
    }
    int silu = 0, identity = 0;
    for (int u = 0; u < m->unit_count; u++) {
        out->batchnorm_layers += m->units[u]->has_bn;
        silu += m->units[u]->has_bn && m->units[u]->act == YL_CONV_ACT_SILU;
        identity += m->units[u]->has_bn && m->units[u]->act == YL_CONV_ACT_IDENTITY;
    }
    out->conv_layers = m->unit_count + 1;  // + DFL
    // Conv2d + BatchNorm2d + the one shared SiLU + one Identity per act=False Conv (each its own
    // module) + SPPF's MaxPool2d + Upsample + Concat.
    out->leaf_layers = out->conv_layers + out->batchnorm_layers + (silu > 0) + identity + 1 + upsample + concat;
    out->gflops = yl_model_gflops(m, imgsz, imgsz);
}

yl_status yl_model_get_summary(const yl_model *m, int imgsz, yl_model_summary *out) {
    if (!m || !out) return yl_error(YL_ERR_INVALID_ARG, "model_get_summary: NULL argument");
    fill_summary(m, imgsz, out);
    return YL_OK;
}

yl_status yl_model_summarize(const yl_model_config *cfg, int imgsz, yl_model_summary *out) {
    if (!cfg || !out) return yl_error(YL_ERR_INVALID_ARG, "model_summarize: NULL argument");
    yl_model *m = calloc(1, sizeof *m);
    if (!m) return yl_error(YL_ERR_OOM, "model_summarize: out of memory");
    yl_status status = yl_model_declare(m, cfg);
    if (status == YL_OK) fill_summary(m, imgsz, out);
    yl_model_release_structure(m);
    free(m);
    return status;
}

int64_t yl_model_num_batches_tracked(const yl_model *m) { return m ? m->num_batches_tracked : 0; }

yl_status yl_model_store_num_batches_tracked(yl_model *m) {
    if (!m) return yl_error(YL_ERR_INVALID_ARG, "model_store_num_batches_tracked: NULL model");
    yl_backend *be = yl_engine_backend(m->eng, m->device);
    for (int i = 0; i < m->state.count; i++) {
        yl_state_entry *e = &m->state.items[i];
        if (e->kind != YL_STATE_BN_NUM_BATCHES_TRACKED) continue;
        YL_TRY(be->copy_from_host(be, e->value.data, &m->num_batches_tracked, sizeof m->num_batches_tracked));
    }
    return YL_OK;
}

yl_status yl_model_load_num_batches_tracked(yl_model *m) {
    if (!m) return yl_error(YL_ERR_INVALID_ARG, "model_load_num_batches_tracked: NULL model");
    yl_backend *be = yl_engine_backend(m->eng, m->device);
    for (int i = 0; i < m->state.count; i++) {
        yl_state_entry *e = &m->state.items[i];
        if (e->kind != YL_STATE_BN_NUM_BATCHES_TRACKED) continue;
        YL_TRY(be->synchronize(be));
        return be->copy_to_host(be, &m->num_batches_tracked, e->value.data, sizeof m->num_batches_tracked);
    }
    return YL_OK;
}

yl_status yl_model_zero_grad(yl_model *m) {
    if (!m || !m->allocated) return yl_error(YL_ERR_INVALID_ARG, "model_zero_grad: no model");
    YL_TRY(yl_arena_zero(&m->grads));
    m->fresh_grads = true;
    return YL_OK;
}

yl_status yl_model_set_frozen_bn_layers(yl_model *m, const bool *frozen, int layer_count) {
    if (!m || (!frozen && layer_count)) return yl_error(YL_ERR_INVALID_ARG, "model: NULL argument");
    if (layer_count < 0 || layer_count > YL_YOLOV8_LAYER_COUNT)
        return yl_error(YL_ERR_INVALID_ARG, "model: %d frozen-layer flags (0..%d)", layer_count, YL_YOLOV8_LAYER_COUNT);
    for (int u = 0; u < m->unit_count; u++) {
        int layer = -1;
        sscanf(m->units[u]->name, "model.%d.", &layer);
        m->units[u]->bn_frozen = layer >= 0 && layer < layer_count && frozen[layer];
    }
    return YL_OK;
}
