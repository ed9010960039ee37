// A batch as the training step consumes it: images as an NCHW fp32 tensor (RGB, /255) and the
// targets as rows (image index, class, cx, cy, w, h) normalised to the network input, plus what
// validation needs to map predictions back to each original image. Also the rect batch shapes
// of Ultralytics' validation loader.
#pragma once
#include <stddef.h>

#include "engine/core/tensor.h"
#include "engine/data/sample.h"

#define YL_TARGET_COLUMNS 6

typedef struct {
    int index;  // in the source
    int original_width, original_height;
    // network-input pixel = original pixel * gain + pad (validation). Training samples, whose
    // augmentation has no such mapping, have gain 0.
    float gain_x, gain_y;
    float pad_x, pad_y;
    const char *path;  // borrowed from the source
} yl_batch_image;

typedef struct {
    int capacity;           // images
    size_t pixel_capacity;  // largest height * width an image may have
    int count;              // images in this batch
    int height, width;      // network input size of this batch
    float *images;          // count x 3 x height x width
    float *targets;         // target_count rows of YL_TARGET_COLUMNS
    int target_count;
    int target_capacity;    // rows
    yl_batch_image *info;   // count entries
    int epoch, batch_index;
} yl_batch;

yl_status yl_batch_init(yl_batch *batch, int capacity, int max_height, int max_width);
void yl_batch_free(yl_batch *batch);
// Empties the batch and sets its input size (at most the pixel capacity).
yl_status yl_batch_begin(yl_batch *batch, int height, int width);
// Appends one sample: its image must be width x height of the batch, its labels normalised to
// it. YL_ERR_SHAPE / YL_ERR_INVALID_ARG when it does not fit; targets grow as needed.
yl_status yl_batch_add(yl_batch *batch, const yl_sample *sample, const yl_batch_image *info);
// Views of the batch: (count, 3, height, width) and (target_count, 6), fp32 on the CPU.
yl_tensor yl_batch_images_tensor(const yl_batch *batch);
yl_tensor yl_batch_targets_tensor(const yl_batch *batch);

// ---- validation rect batches (Ultralytics' set_rectangle) --------------------------------------

typedef struct {
    int height, width;
} yl_batch_shape;

// Sorts images by aspect ratio h/w (ties by index: a stable order where Ultralytics' argsort is
// not) into `order` (n entries) and gives each batch of `batch_size` consecutive images the
// shape ceil(shape * imgsz / stride + pad) * stride, shape = [max_ar, 1] when every ar < 1,
// [1, 1 / min_ar] when every ar > 1, else [1, 1]. `shapes` holds ceil(n / batch_size) entries.
yl_status yl_rect_batch_plan(const int *widths, const int *heights, int n, int batch_size, int imgsz, int stride,
                             float pad, int *order, yl_batch_shape *shapes);
