// Copying a named tensor set (from a safetensors file, an Ultralytics .pt, our checkpoint) into
// a model's state by Ultralytics state_dict key, converting F16/BF16/F32/I32/I64 on the way.
//
// STRICT: the set and the model hold exactly the same names with the same shapes (like
// PyTorch's load_state_dict(strict=True)); the first difference is an error naming the key and
// both shapes, and nothing is copied.
// TRANSFER: Ultralytics' intersect_dicts for fine-tuning (yolov8.md §1.7): every entry whose name
// and shape match is copied, everything else keeps its current value; the report says how many
// ("Transferred 319/355 items from pretrained weights" for yolov8n nc=80 -> nc=3).
// Either way BN's num_batches_tracked is taken back into the model's host counter afterwards.
#pragma once
#include <stddef.h>

#include "engine/model/model.h"
#include "weights/tensor_set.h"

typedef enum {
    YL_LOAD_STRICT = 0,
    YL_LOAD_TRANSFER,
} yl_load_mode;

// report may be NULL. On failure in STRICT mode the model is unchanged unless the failure
// happened while copying (a device error), after the checks.
yl_status yl_model_load_tensor_set(yl_model *m, const yl_tensor_set *set, yl_load_mode mode,
                                   yl_transfer_report *report);

// "Transferred X/Y items from pretrained weights" into buf; returns buf.
const char *yl_transfer_report_format(const yl_transfer_report *report, char *buf, size_t size);
