#include "param_groups.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "py_float.h"

static bool layer_is_frozen(const yl_freeze_spec *freeze, long layer) {
    if (!freeze) return false;
    if (layer < freeze->first) return true;
    for (int i = 0; i < freeze->layer_count; i++)
        if (freeze->layers[i] == layer) return true;
    return false;
}

// Ultralytics tests `f"model.{i}." in name` for every frozen i; equivalently, some "model."
// in the name is followed by a frozen layer's decimal number (written without leading zeros,
// as Python writes it) and a dot.
static bool name_is_frozen(const char *name, const yl_freeze_spec *freeze) {
    if (strstr(name, ".dfl")) return true;
    for (const char *p = strstr(name, "model."); p; p = strstr(p + 1, "model.")) {
        const char *digits = p + 6, *end = digits;
        while (*end >= '0' && *end <= '9') end++;
        size_t n = (size_t)(end - digits);
        if (n == 0 || n > 9 || *end != '.' || (n > 1 && digits[0] == '0')) continue;
        if (layer_is_frozen(freeze, strtol(digits, NULL, 10))) return true;
    }
    return false;
}

yl_status yl_param_groups_build(yl_param_groups *g, yl_state_entry *entries, int count, const yl_freeze_spec *freeze) {
    if (!g || (!entries && count > 0) || count < 0)
        return yl_error(YL_ERR_INVALID_ARG, "param_groups_build: NULL or negative argument");
    memset(g, 0, sizeof *g);
    if (freeze) {
        if (freeze->first < 0)
            return yl_error(YL_ERR_INVALID_ARG, "param_groups_build: freeze=%d is negative", freeze->first);
        if (freeze->layer_count < 0 || (freeze->layer_count > 0 && !freeze->layers))
            return yl_error(YL_ERR_INVALID_ARG, "param_groups_build: bad freeze list (%d layers)", freeze->layer_count);
        for (int i = 0; i < freeze->layer_count; i++)
            if (freeze->layers[i] < 0)
                return yl_error(YL_ERR_INVALID_ARG, "param_groups_build: freeze layer %d is negative",
                                freeze->layers[i]);
    }
    g->frozen = calloc(count > 0 ? (size_t)count : 1, sizeof *g->frozen);
    if (!g->frozen) return yl_error(YL_ERR_OOM, "param_groups_build: out of memory");
    g->entries = entries;
    g->count = count;
    for (int i = 0; i < YL_YOLOV8_LAYER_COUNT; i++) g->frozen_layers[i] = layer_is_frozen(freeze, i);
    for (int i = 0; i < count; i++) {
        const yl_state_entry *e = &entries[i];
        if (!e->is_parameter) continue;
        if (e->group < 0 || e->group >= YL_PARAM_GROUP_COUNT) {
            yl_param_groups_release(g);
            return yl_error(YL_ERR_INVALID_ARG, "param_groups_build: parameter '%s' has no optimizer group", e->name);
        }
        g->group_size[e->group]++;
        g->frozen[i] = name_is_frozen(e->name, freeze);
        if (yl_param_groups_updates(g, i)) g->trainable++;
    }
    return YL_OK;
}

yl_status yl_param_groups_build_for_model(yl_param_groups *g, yl_model *m, const yl_freeze_spec *freeze) {
    if (!m) return yl_error(YL_ERR_INVALID_ARG, "param_groups_build_for_model: NULL model");
    return yl_param_groups_build(g, yl_model_state_at(m, 0), yl_model_state_count(m), freeze);
}

void yl_param_groups_release(yl_param_groups *g) {
    if (!g) return;
    free(g->frozen);
    memset(g, 0, sizeof *g);
}

bool yl_param_groups_updates(const yl_param_groups *g, int index) {
    if (!g || index < 0 || index >= g->count) return false;
    const yl_state_entry *e = &g->entries[index];
    return e->is_parameter && e->requires_grad && e->grad.data && !g->frozen[index];
}

const char *yl_param_groups_describe(const yl_param_groups *g, double weight_decay, char *buf, size_t size) {
    if (!buf || size == 0) return buf;
    if (!g) {
        buf[0] = '\0';
        return buf;
    }
    char decay[32];
    snprintf(buf, size, "%d weight(decay=0.0), %d weight(decay=%s), %d bias(decay=0.0)",
             g->group_size[YL_PARAM_GROUP_BN_WEIGHT], g->group_size[YL_PARAM_GROUP_WEIGHT],
             yl_format_py_float(weight_decay, decay, sizeof decay), g->group_size[YL_PARAM_GROUP_BIAS]);
    return buf;
}
