// The model's internals, shared by model.c (structure and state), model_init.c (parameter
// initialisation) and model_run.c (planning, forward, backward). Not part of the public API.
#pragma once
#include "blocks.h"
#include "model.h"

typedef struct {
    yl_layer_kind kind;
    int index;
    yl_conv_unit conv;    // YL_LAYER_CONV
    yl_c2f c2f;           // YL_LAYER_C2F
    yl_sppf sppf;         // YL_LAYER_SPPF
    yl_detect detect;     // YL_LAYER_DETECT
    yl_activation own;    // output of UPSAMPLE and CONCAT
    yl_activation *out;   // the layer's output (NULL for Detect, whose outputs are the maps)
    yl_activation *in[YL_YOLOV8_LEVELS];
    int in_count;
} yl_layer;

struct yl_model {
    yl_engine *eng;
    yl_device device;
    yl_model_layout layout;
    yl_layer layers[YL_YOLOV8_LAYER_COUNT];
    yl_state_list state;
    yl_conv_unit **units;  // every conv unit, in state_dict order
    int unit_count;
    yl_activation input;   // the images of the last forward (a view of the caller's tensor)

    yl_arena params, grads, acts;
    bool allocated;

    // Plan: the largest input the activations hold, and the shape they are set to now.
    bool planned, plan_gradients;
    int plan_batch, plan_height, plan_width;
    int cur_batch, cur_height, cur_width;
    yl_tensor scratch_a, scratch_b, scratch_dgamma, scratch_dbeta;

    bool backward_ready;  // the last forward was a training forward
    bool fresh_grads;     // zero_grad ran and no backward since
    int64_t num_batches_tracked;
};

// Builds layers, units and state entries for `cfg` without touching any device memory.
yl_status yl_model_declare(yl_model *m, const yl_model_config *cfg);
// Frees what yl_model_declare allocated on the host.
void yl_model_release_structure(yl_model *m);
