// Loading a model for the CLI commands that run one (val, predict): a yoloop checkpoint
// (.safetensors) or an Ultralytics checkpoint (.pt), with its class names.
#pragma once
#include <stdbool.h>

#include "engine/core/status.h"
#include "engine/model/model.h"
#include "engine/ops/ops.h"

typedef struct {
    yl_model *model;
    char **names;  // nc entries (the file's, else "class<i>")
    int nc;
    int imgsz;     // the training image size the file records; 0 when unknown
} yl_loaded_model;

// True when path names a kind of file yl_load_model_file reads (.safetensors, .pt).
bool yl_model_file_kind_ok(const char *path);

// path ends in .safetensors or .pt; anything else is YL_ERR_INVALID_ARG naming it.
yl_status yl_load_model_file(const char *path, yl_engine *eng, yl_loaded_model *out);
void yl_loaded_model_free(yl_loaded_model *m);

// The engine for device= (CPU, or CUDA with the given index; no silent fallback).
yl_status yl_cli_engine_init(yl_engine *eng, yl_device device, int cuda_index);
