#include "state.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *yl_state_kind_name(yl_state_kind kind) {
    switch (kind) {
    case YL_STATE_CONV_WEIGHT: return "conv_weight";
    case YL_STATE_CONV_BIAS: return "conv_bias";
    case YL_STATE_BN_WEIGHT: return "bn_weight";
    case YL_STATE_BN_BIAS: return "bn_bias";
    case YL_STATE_BN_RUNNING_MEAN: return "bn_running_mean";
    case YL_STATE_BN_RUNNING_VAR: return "bn_running_var";
    case YL_STATE_BN_NUM_BATCHES_TRACKED: return "bn_num_batches_tracked";
    case YL_STATE_DFL_WEIGHT: return "dfl_weight";
    }
    return "unknown";
}

static yl_param_group group_of(yl_state_kind kind) {
    switch (kind) {
    case YL_STATE_CONV_BIAS:
    case YL_STATE_BN_BIAS: return YL_PARAM_GROUP_BIAS;
    case YL_STATE_BN_WEIGHT: return YL_PARAM_GROUP_BN_WEIGHT;
    case YL_STATE_CONV_WEIGHT:
    case YL_STATE_DFL_WEIGHT: return YL_PARAM_GROUP_WEIGHT;
    default: return YL_PARAM_GROUP_NONE;
    }
}

yl_status yl_state_list_add(yl_state_list *list, const char *name, yl_state_kind kind, int layer, int fan_in,
                            int ndim, const int64_t *shape, int *index) {
    if (!list || !name || (ndim > 0 && !shape)) return yl_error(YL_ERR_INVALID_ARG, "state_list_add: NULL argument");
    if (strlen(name) >= YL_STATE_NAME_SIZE)
        return yl_error(YL_ERR_INVALID_ARG, "state_list_add: name '%s' is too long", name);
    if (list->count == list->capacity) {
        int capacity = list->capacity ? 2 * list->capacity : 256;
        yl_state_entry *items = realloc(list->items, (size_t)capacity * sizeof *items);
        if (!items) return yl_error(YL_ERR_OOM, "state_list_add: cannot grow the entry list to %d", capacity);
        list->items = items;
        list->capacity = capacity;
    }
    yl_state_entry *e = &list->items[list->count];
    memset(e, 0, sizeof *e);
    snprintf(e->name, sizeof e->name, "%s", name);
    e->kind = kind;
    e->group = group_of(kind);
    e->layer = layer;
    e->fan_in = fan_in;
    e->is_parameter = e->group != YL_PARAM_GROUP_NONE;
    e->requires_grad = e->is_parameter && kind != YL_STATE_DFL_WEIGHT;
    yl_dtype dtype = kind == YL_STATE_BN_NUM_BATCHES_TRACKED ? YL_I64 : YL_F32;
    e->value = yl_tensor_view(NULL, dtype, YL_DEVICE_CPU, ndim, shape);
    e->grad = e->value;
    if (index) *index = list->count;
    list->count++;
    return YL_OK;
}

void yl_state_list_free(yl_state_list *list) {
    if (!list) return;
    free(list->items);
    list->items = NULL;
    list->count = list->capacity = 0;
}
