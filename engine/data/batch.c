#include "batch.h"

#include <stdlib.h>
#include <string.h>

yl_status yl_batch_init(yl_batch *b, int capacity, int max_height, int max_width) {
    if (!b) return yl_error(YL_ERR_INVALID_ARG, "batch: NULL");
    memset(b, 0, sizeof *b);
    if (capacity < 1 || max_height < 1 || max_width < 1)
        return yl_error(YL_ERR_INVALID_ARG, "batch: capacity %d and size %dx%d must be >= 1", capacity, max_width,
                        max_height);
    b->capacity = capacity;
    b->pixel_capacity = (size_t)max_height * max_width;
    b->target_capacity = capacity * 8;
    b->images = malloc((size_t)capacity * 3 * b->pixel_capacity * sizeof(float));
    b->targets = malloc((size_t)b->target_capacity * YL_TARGET_COLUMNS * sizeof(float));
    b->info = calloc((size_t)capacity, sizeof *b->info);
    if (!b->images || !b->targets || !b->info) {
        yl_batch_free(b);
        return yl_error(YL_ERR_OOM, "batch: %d images of %dx%d", capacity, max_width, max_height);
    }
    b->height = max_height;
    b->width = max_width;
    return YL_OK;
}

void yl_batch_free(yl_batch *b) {
    if (!b) return;
    free(b->images);
    free(b->targets);
    free(b->info);
    memset(b, 0, sizeof *b);
}

yl_status yl_batch_begin(yl_batch *b, int height, int width) {
    if (!b || !b->images) return yl_error(YL_ERR_INVALID_ARG, "batch: not initialised");
    if (height < 1 || width < 1 || (size_t)height * width > b->pixel_capacity)
        return yl_error(YL_ERR_SHAPE, "batch: input %dx%d does not fit the %zu pixels per image allocated", width,
                        height, b->pixel_capacity);
    b->count = 0;
    b->target_count = 0;
    b->height = height;
    b->width = width;
    return YL_OK;
}

static yl_status reserve_targets(yl_batch *b, int rows) {
    if (rows <= b->target_capacity) return YL_OK;
    int capacity = b->target_capacity * 2 > rows ? b->target_capacity * 2 : rows;
    float *t = realloc(b->targets, (size_t)capacity * YL_TARGET_COLUMNS * sizeof(float));
    if (!t) return yl_error(YL_ERR_OOM, "batch: %d target rows", capacity);
    b->targets = t;
    b->target_capacity = capacity;
    return YL_OK;
}

yl_status yl_batch_add(yl_batch *b, const yl_sample *s, const yl_batch_image *info) {
    if (!b || !s || !b->images || !s->image.pixels) return yl_error(YL_ERR_INVALID_ARG, "batch add: NULL argument");
    if (b->count >= b->capacity) return yl_error(YL_ERR_SHAPE, "batch add: batch is full (%d images)", b->capacity);
    if (s->image.width != b->width || s->image.height != b->height)
        return yl_error(YL_ERR_SHAPE, "batch add: image is %dx%d, the batch is %dx%d", s->image.width,
                        s->image.height, b->width, b->height);
    if (s->label_count < 0 || (s->label_count > 0 && !s->labels))
        return yl_error(YL_ERR_INVALID_ARG, "batch add: %d labels without an array", s->label_count);
    YL_TRY(reserve_targets(b, b->target_count + s->label_count));
    const size_t plane = (size_t)b->height * b->width;
    float *dst = b->images + (size_t)b->count * 3 * plane;
    const uint8_t *src = s->image.pixels;
    const float inv255 = 1.0f / 255.0f;
    for (size_t p = 0; p < plane; p++) {
        dst[p] = src[p * 3] * inv255;
        dst[plane + p] = src[p * 3 + 1] * inv255;
        dst[2 * plane + p] = src[p * 3 + 2] * inv255;
    }
    for (int k = 0; k < s->label_count; k++) {
        float *row = b->targets + (size_t)(b->target_count + k) * YL_TARGET_COLUMNS;
        const yl_box_label *l = &s->labels[k];
        row[0] = (float)b->count;
        row[1] = (float)l->cls;
        row[2] = l->cx;
        row[3] = l->cy;
        row[4] = l->w;
        row[5] = l->h;
    }
    b->target_count += s->label_count;
    if (info) b->info[b->count] = *info;
    else memset(&b->info[b->count], 0, sizeof b->info[b->count]);
    b->count++;
    return YL_OK;
}

yl_tensor yl_batch_images_tensor(const yl_batch *b) {
    return yl_tensor_4d(b->images, YL_DEVICE_CPU, b->count, 3, b->height, b->width);
}

yl_tensor yl_batch_targets_tensor(const yl_batch *b) {
    const int64_t shape[2] = {b->target_count, YL_TARGET_COLUMNS};
    return yl_tensor_view(b->targets, YL_F32, YL_DEVICE_CPU, 2, shape);
}
