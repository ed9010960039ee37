// The model's state: parameters and buffers, one entry per Ultralytics state_dict key, in
// state_dict order. Entries are declared first (names, shapes) and carved from the arenas
// once the total size is known.
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "../core/status.h"
#include "../core/tensor.h"

#define YL_STATE_NAME_SIZE 64

typedef enum {
    YL_STATE_CONV_WEIGHT = 0,
    YL_STATE_CONV_BIAS,           // the head's final 1x1 convs
    YL_STATE_BN_WEIGHT,           // gamma
    YL_STATE_BN_BIAS,             // beta
    YL_STATE_BN_RUNNING_MEAN,
    YL_STATE_BN_RUNNING_VAR,
    YL_STATE_BN_NUM_BATCHES_TRACKED,  // int64 scalar
    YL_STATE_DFL_WEIGHT,          // fixed 0..15, never trained
} yl_state_kind;

// Ultralytics' optimizer parameter groups (8.3.x): pg0 biases (no decay), pg1 weights (decay),
// pg2 norm-layer weights (no decay). Buffers have no group.
typedef enum {
    YL_PARAM_GROUP_NONE = -1,
    YL_PARAM_GROUP_BIAS = 0,
    YL_PARAM_GROUP_WEIGHT = 1,
    YL_PARAM_GROUP_BN_WEIGHT = 2,
} yl_param_group;

typedef struct {
    char name[YL_STATE_NAME_SIZE];  // "model.2.m.0.cv1.bn.running_var"
    yl_state_kind kind;
    yl_param_group group;
    int layer;             // the <i> of "model.<i>."
    int fan_in;            // conv weights and biases: in_channels * k * k (PyTorch's init bound)
    bool is_parameter;     // counted in the parameter total (nn.Parameter), buffers are not
    bool requires_grad;    // has a gradient; false for buffers and the DFL weight
    yl_tensor value;       // in the parameter arena
    yl_tensor grad;        // in the gradient arena; data NULL when !requires_grad
} yl_state_entry;

typedef struct {
    yl_state_entry *items;
    int count;
    int capacity;
} yl_state_list;

// Appends an entry (value.data NULL until carved); *index receives its position.
yl_status yl_state_list_add(yl_state_list *list, const char *name, yl_state_kind kind, int layer, int fan_in,
                            int ndim, const int64_t *shape, int *index);
void yl_state_list_free(yl_state_list *list);
const char *yl_state_kind_name(yl_state_kind kind);
