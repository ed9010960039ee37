// CPU channel concat and split (each the other's backward).
//
// In NCHW a part's channels for image n are one contiguous block of C_i * H * W floats inside
// the whole's image n, so both ops are block copies (or block adds when accumulating). Each
// (image, part) block belongs to one loop iteration: no two threads touch the same float.
#include <string.h>

#include "cpu_ops.h"

#define PARALLEL_MIN_ELEMENTS 32768
// Part lists live on the stack; YOLOv8 concatenates at most 2 + n bottleneck outputs.
#define MAX_STACK_PARTS 64
// Part lists live on the stack; YOLOv8 concatenates at most 2 + n bottleneck outputs.
static void move_block(float *dst, const float *src, int64_t n, bool accumulate) {
    if (accumulate) {
        for (int64_t i = 0; i < n; i++) dst[i] += src[i];
    } else if (dst != src) {  // a part may already be a view into the whole
        memmove(dst, src, (size_t)n * sizeof(float));
    }
}

// Copies between whole and parts in either direction.
static void copy_channels(float *whole, float *const *parts, const int64_t *part_channels, int count, int64_t batch,
                          int64_t whole_channels, int64_t plane, bool to_whole, bool accumulate) {
    const int64_t image = whole_channels * plane;
    const bool parallel = batch * image >= PARALLEL_MIN_ELEMENTS;
    int64_t offsets[MAX_STACK_PARTS];
    int64_t offset = 0;
    for (int i = 0; i < count; i++) {
        offsets[i] = offset;
        offset += part_channels[i];
    }
#pragma omp parallel for collapse(2) schedule(static) if (parallel)
    for (int64_t n = 0; n < batch; n++)
        for (int i = 0; i < count; i++) {
            const int64_t block = part_channels[i] * plane;
            float *w = whole + n * image + offsets[i] * plane;
            float *part = parts[i] + n * block;
            if (to_whole)
                move_block(w, part, block, accumulate);
            else
                move_block(part, w, block, accumulate);
        }
}

static yl_status gather_parts(const char *op, const yl_tensor *const *parts, int count, float **data,
                              int64_t *channels) {
    if (count > MAX_STACK_PARTS)
        return yl_error(YL_ERR_UNSUPPORTED, "%s: %d parts (at most %d are supported)", op, count, MAX_STACK_PARTS);
    for (int i = 0; i < count; i++) {
        data[i] = parts[i]->data;
        channels[i] = parts[i]->shape[1];
    }
    return YL_OK;
}

yl_status yl_cpu_concat_channels(yl_backend *be, const yl_tensor *const *parts, int count, yl_tensor *whole,
                                 bool accumulate) {
    (void)be;
    float *data[MAX_STACK_PARTS];
    int64_t channels[MAX_STACK_PARTS];
    YL_TRY(gather_parts("concat_channels", parts, count, data, channels));
    copy_channels(whole->data, data, channels, count, whole->shape[0], whole->shape[1],
                  whole->shape[2] * whole->shape[3], true, accumulate);
    return YL_OK;
}

yl_status yl_cpu_split_channels(yl_backend *be, const yl_tensor *whole, yl_tensor *const *parts, int count,
                                bool accumulate) {
    (void)be;
    float *data[MAX_STACK_PARTS];
    int64_t channels[MAX_STACK_PARTS];
    YL_TRY(gather_parts("split_channels", (const yl_tensor *const *)parts, count, data, channels));
    copy_channels(whole->data, data, channels, count, whole->shape[0], whole->shape[1],
                  whole->shape[2] * whole->shape[3], false, accumulate);
    return YL_OK;
}
