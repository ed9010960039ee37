// The YOLOv8 detection model: parameters and buffers named by their Ultralytics state_dict
// keys, activations planned once per (batch, height, width), a training forward (BN with batch
// statistics), an eval forward (BN with running statistics) and the full backward pass.
//
// Memory: three arenas on the engine's device: parameters + buffers (state_dict order),
// gradients (one per trainable parameter, same order) and activations (carved by
// yl_model_plan). After planning, forward and backward allocate nothing.
//
// Typical step:
//   yl_model_plan(m, batch, 640, 640, true);            // once
//   yl_model_zero_grad(m);
//   yl_model_forward_train(m, &images, maps);           // maps[i]: (B, 64 + nc, H/s_i, W/s_i)
//   ... loss writes d_maps[i] (same shapes) ...
//   yl_model_backward(m, d_maps, NULL);                 // parameter gradients accumulate
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "../core/arena.h"
#include "../ops/ops.h"
#include "model_config.h"
#include "state.h"

typedef struct yl_model yl_model;

typedef struct {
    int64_t parameters;       // Ultralytics' parameter count (includes the frozen DFL weight)
    int64_t trainable;        // parameters with a gradient
    int64_t layer_parameters[YL_YOLOV8_LAYER_COUNT];
    int state_entries;        // state_dict entries (parameters + buffers)
    int conv_layers;          // Conv2d modules, DFL included
    int batchnorm_layers;
    int leaf_layers;          // leaf modules, as Ultralytics >= 8.3.76 counts "layers"
    double gflops;            // 2 x conv multiply-accumulates at the requested size (yl_model_gflops)
} yl_model_summary;

// Counts for a config without allocating tensors (GFLOPs at imgsz x imgsz).
yl_status yl_model_summarize(const yl_model_config *cfg, int imgsz, yl_model_summary *out);

// Builds the model on the engine's device and initialises it like a fresh Ultralytics
// DetectionModel (PyTorch default conv init from our RNG, BN 1/0/0/1, Detect bias_init,
// DFL weight 0..15), seeded by `seed`.
yl_status yl_model_create(yl_model **out, yl_engine *eng, const yl_model_config *cfg, uint64_t seed);
void yl_model_destroy(yl_model *m);
// Re-initialises every parameter and buffer (as at creation).
yl_status yl_model_init_parameters(yl_model *m, uint64_t seed);

const yl_model_layout *yl_model_get_layout(const yl_model *m);
yl_engine *yl_model_engine(const yl_model *m);
yl_status yl_model_get_summary(const yl_model *m, int imgsz, yl_model_summary *out);
// 2 x the multiply-accumulates of every Conv2d (DFL included, bias adds counted), as Ultralytics
// reports GFLOPs: 8.7 for yolov8n at 640.
double yl_model_gflops(const yl_model *m, int height, int width);

// ---- state (parameters and buffers) --------------------------------------------------------
int yl_model_state_count(const yl_model *m);
// Entries in state_dict order; NULL when out of range.
yl_state_entry *yl_model_state_at(yl_model *m, int index);
// The entry named `name` (e.g. "model.0.conv.weight"), or NULL.
yl_state_entry *yl_model_state_find(yl_model *m, const char *name);
// The arenas (for checkpointing or a flat optimizer). Gradients exist only for trainable
// parameters.
const yl_arena *yl_model_parameter_arena(const yl_model *m);
const yl_arena *yl_model_gradient_arena(const yl_model *m);
const yl_arena *yl_model_activation_arena(const yl_model *m);

// BN's num_batches_tracked is counted on the host (it does not change any number while
// momentum is set): `store` writes the count into every num_batches_tracked entry (before
// saving), `load` takes it back from the first one (after loading weights).
int64_t yl_model_num_batches_tracked(const yl_model *m);
yl_status yl_model_store_num_batches_tracked(yl_model *m);
yl_status yl_model_load_num_batches_tracked(yl_model *m);

// Layers whose BatchNorms run in eval mode during training (running statistics, no update), as
// Ultralytics does for frozen layers: frozen[i] for layer i < layer_count; others train normally.
yl_status yl_model_set_frozen_bn_layers(yl_model *m, const bool *frozen, int layer_count);

// ---- running it ----------------------------------------------------------------------------
// Carves activations for inputs up to (batch, 3, height, width); height and width multiples of
// 32. gradients = false plans a forward-only model (half the memory). Re-planning replaces the
// previous plan. Any smaller input (batch, height and width each at most the plan's) runs in the
// same buffers.
yl_status yl_model_plan(yl_model *m, int batch, int height, int width, bool gradients);

// images: (B, 3, H, W) on the engine's device; it must stay valid until backward (the first
// conv's weight gradient reads it). maps receive views of the three head maps, valid until
// the next forward.
yl_status yl_model_forward_train(yl_model *m, const yl_tensor *images, yl_tensor maps[YL_YOLOV8_LEVELS]);
yl_status yl_model_forward_eval(yl_model *m, const yl_tensor *images, yl_tensor maps[YL_YOLOV8_LEVELS]);
// The eval forward plus Detect's inference decode (Ultralytics' eval output y): *decoded receives
// a view of (B, 4 + nc, A), A = anchors of P3, P4, P5 concatenated (row-major within a level);
// rows 0-3 = box (cx, cy, w, h) in input pixels, rows 4.. = sigmoid class scores. maps (may be
// NULL) receive the raw head maps as in yl_model_forward_eval. Valid until the next forward.
yl_status yl_model_forward_eval_decoded(yl_model *m, const yl_tensor *images, yl_tensor *decoded,
                                        yl_tensor maps[YL_YOLOV8_LEVELS]);

// The output activation of layer `index` (0 .. YL_YOLOV8_DETECT_LAYER - 1) of the last forward,
// e.g. the SPPF output (layer 9, (B, C, H/32, W/32)) as image features for diversity sampling.
// A view on the engine's device, valid until the next forward or plan.
yl_status yl_model_layer_output(const yl_model *m, int index, yl_tensor *out);

// Backward of the last training forward from the gradients of the three head maps. Parameter
// gradients accumulate into the gradient arena (call zero_grad between optimizer steps).
// d_images, when not NULL, receives (overwritten) the gradient of the input images.
yl_status yl_model_backward(yl_model *m, const yl_tensor d_maps[YL_YOLOV8_LEVELS], yl_tensor *d_images);
yl_status yl_model_zero_grad(yl_model *m);
