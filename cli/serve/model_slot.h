// The model the ML backend serves, swapped without a restart (spec continual_learning.md step 8,
// label_studio.md §5.2: the version id is what /setup and /predict report as model_version).
//
// In workspace mode a watcher thread reads <workspace>/models/deployed every poll interval
// (registry.h). When the pointer names another version it loads that version in the background
// and swaps it in; requests that hold the old model (acquire ... release) finish on it, and the
// old model is freed when its last holder releases it. A version that fails to load is kept out
// (the old one keeps serving, the error is reported by status) until the pointer changes again.
// In file mode (model=<file>) the one file is served under its stem as the version.
//
// One model runs one image at a time (the engine's planned activations are per model), so
// yl_served_model_predict serialises on the model; /health and the watcher never wait for it.
#pragma once
#include <stdbool.h>
#include <stddef.h>

#include "engine/core/status.h"
#include "engine/ops/ops.h"
#include "engine/train/predict.h"

typedef struct yl_model_slot yl_model_slot;
typedef struct yl_served_model yl_served_model;

typedef struct {
    const char *workspace;   // watch this workspace's deployed pointer, or
    const char *model_file;  // serve this file (.safetensors or .pt)
    yl_device device;
    int cuda_index;
    int imgsz;               // 0: the checkpoint's training size, else 640
    float conf;              // the NMS confidence floor; regions are filtered further per request
    double iou;              // NMS IoU (0: 0.7)
    int poll_ms;             // how often the pointer is read (0: 1000)
} yl_model_slot_options;

// Loads what is deployed now (synchronously; nothing deployed is fine, a model that fails to
// load is an error) and starts the watcher in workspace mode.
yl_status yl_model_slot_open(yl_model_slot **out, const yl_model_slot_options *options);
// Stops the watcher and frees the models; every acquired model must have been released.
void yl_model_slot_close(yl_model_slot *slot);

// The current model with a reference held, or NULL when none is loaded.
yl_served_model *yl_model_slot_acquire(yl_model_slot *slot);
void yl_model_slot_release(yl_model_slot *slot, yl_served_model *model);

typedef struct {
    char version[64];      // served now ("" when none)
    char deployed[64];     // what the pointer named at the last read ("" when nothing)
    char loading[64];      // being loaded now ("")
    char load_error[512];  // the last failed load ("" when none)
    int swaps;             // models swapped in since open (the first load included)
    int imgsz;
} yl_model_slot_status;

void yl_model_slot_get_status(yl_model_slot *slot, yl_model_slot_status *out);
// Wakes the watcher to read the pointer now (cheap; /setup calls it before each batch).
void yl_model_slot_poke(yl_model_slot *slot);

const char *yl_served_model_version(const yl_served_model *model);
int yl_served_model_class_count(const yl_served_model *model);
const char *yl_served_model_class_name(const yl_served_model *model, int index);
// Runs one image. *boxes (malloc'd, caller frees) receives the detections in original pixels.
yl_status yl_served_model_predict(yl_served_model *model, const yl_image_u8 *image, yl_detection **boxes,
                                  int64_t *count);
