// A named set of host tensors read from a file (safetensors, an Ultralytics .pt): the common
// currency between the readers in weights/ and the model. Readers fill it; the model loader
// copies entries into model state by name.
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/core/status.h"
#include "engine/core/tensor.h"

#define YL_TENSOR_SET_MAX_DIMS 8

typedef struct {
    char *name;       // e.g. "model.0.conv.weight"
    yl_dtype dtype;   // F32, F16, BF16, I64, ...
    int ndim;
    int64_t shape[YL_TENSOR_SET_MAX_DIMS];
    const void *data;  // little-endian, contiguous, owned by the set's reader
    size_t nbytes;
} yl_named_tensor;

typedef struct {
    yl_named_tensor *items;
    int count;
} yl_tensor_set;

typedef struct {
    int transferred;  // model entries that received a value
    int total;        // model state entries
    int skipped_shape;    // names present in both with different shapes (kept at init)
    int missing;          // model entries absent from the set
    int unexpected;       // set entries the model does not have
} yl_transfer_report;
