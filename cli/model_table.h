// The model summary Ultralytics prints when it builds a model: one row per yolov8.yaml layer
// (index, from, repeats, parameters, module, arguments) and the summary line
// "YOLOv8n summary: 129 layers, 3,157,200 parameters, 3,157,184 gradients, 8.7 GFLOPs".
#pragma once
#include <stdio.h>

#include "engine/model/model.h"

// GFLOPs at imgsz x imgsz. Fails only for an invalid config.
yl_status yl_print_model_table(FILE *out, const yl_model_config *cfg, int imgsz);
