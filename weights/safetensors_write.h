// Writing safetensors files (the format weights/safetensors.h reads): an 8-byte little-endian
// header length, a JSON header {"__metadata__": {str: str}, "name": {"dtype", "shape",
// "data_offsets": [begin, end]}, ...} padded with spaces to a multiple of 8 bytes, then the
// data without holes. Tensors are laid out widest element first (stable), so every tensor sits
// on its element size; the header lists them in the order given.
//
// The write is atomic: the bytes go to a temporary file in the destination's directory, which
// is flushed, fsync'ed and renamed over `path`, and the directory is fsync'ed. A failure at any
// step removes the temporary file and leaves an existing `path` untouched; the message names
// the file.
#pragma once
#include "engine/core/status.h"
#include "weights/tensor_set.h"

typedef struct {
    const char *key;
    const char *value;
} yl_metadata_item;

// tensors: data little-endian and contiguous (nbytes = numel * dtype size); names unique and
// non-empty, none "__metadata__". metadata may be NULL when metadata_count is 0.
yl_status yl_safetensors_write(const char *path, const yl_tensor_set *tensors, const yl_metadata_item *metadata,
                               int metadata_count);
