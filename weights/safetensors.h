// Reading safetensors files: an 8-byte little-endian header length, a JSON header
// {"name": {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {str: str}}, then
// the raw little-endian data. Used for our checkpoints and for the parity fixtures written by
// tools/reference/. Every inconsistency (offsets past the end, overlapping or unaligned data,
// a shape that disagrees with the byte count, an unknown dtype) is an error naming the file.
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "engine/core/status.h"
#include "engine/core/tensor.h"

#define YL_SAFETENSORS_MAX_DIMS 8

typedef struct {
    char *name;
    yl_dtype dtype;  // F32, F16, BF16, I32, I64, U8
    int ndim;
    int64_t shape[YL_SAFETENSORS_MAX_DIMS];
    size_t offset;  // from the start of the data section
    size_t nbytes;
} yl_safetensors_entry;

typedef struct {
    char *path;
    unsigned char *file;  // the whole file
    size_t file_size;
    size_t data_start;  // 8 + header length
    int count;
    yl_safetensors_entry *entries;  // in header order
    int metadata_count;
    char **metadata_keys;
    char **metadata_values;
} yl_safetensors;

yl_status yl_safetensors_open(yl_safetensors *st, const char *path);
void yl_safetensors_close(yl_safetensors *st);

// NULL when absent.
const yl_safetensors_entry *yl_safetensors_find(const yl_safetensors *st, const char *name);
const void *yl_safetensors_data(const yl_safetensors *st, const yl_safetensors_entry *entry);
// Copies tensor `name` into `out` as f32 (converting F16/BF16/I32/I64). Fails, naming the file
// and the tensor, when it is absent or does not hold exactly `count` elements.
yl_status yl_safetensors_read_f32(const yl_safetensors *st, const char *name, float *out, size_t count);
// NULL when absent.
const char *yl_safetensors_metadata(const yl_safetensors *st, const char *key);
