// Where the data pipeline gets its samples from: an indexable set of decoded images with labels.
// The dataset index (dataset.h) is adapted to this; tests use small in-memory sources.
#pragma once
#include "engine/data/sample.h"

typedef struct yl_sample_source {
    int count;
    // Loads sample `index` into `out`: an RGB image whose long side is `imgsz` (aspect kept),
    // labels normalised to it, original_width/height set. `out` is owned by the caller afterwards
    // (yl_sample_free). Loader threads call this concurrently, so it must be thread-safe.
    // On failure: a status and a yl_error message (naming the file), `out` left empty.
    yl_status (*load)(void *ctx, int index, int imgsz, yl_sample *out);
    // Optional: the original image size without decoding it (rect validation batches need the
    // aspect ratio of every image before the first batch is built).
    yl_status (*image_size)(void *ctx, int index, int *width, int *height);
    void *ctx;
} yl_sample_source;

// YL_ERR_INVALID_ARG naming `who` unless the source is usable (load set, count >= 1).
yl_status yl_sample_source_check(const yl_sample_source *source, const char *who);
