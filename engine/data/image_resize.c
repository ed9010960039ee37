#include "image_resize.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define RESIZE_COEF_BITS 11
#define RESIZE_COEF_SCALE (1 << RESIZE_COEF_BITS)

void yl_image_fit_long_side(int width0, int height0, int imgsz, int *width, int *height) {
    *width = width0;
    *height = height0;
    if (imgsz <= 0 || width0 <= 0 || height0 <= 0) return;
    double r = (double)imgsz / (double)(width0 > height0 ? width0 : height0);
    if (r == 1.0) return;
    double w = ceil(width0 * r), h = ceil(height0 * r);
    *width = w < imgsz ? (int)w : imgsz;
    *height = h < imgsz ? (int)h : imgsz;
    if (*width < 1) *width = 1;
    if (*height < 1) *height = 1;
}

// Per destination coordinate: the first source index and the two fixed-point weights, computed as
// cv::resize does (float f from a double expression). Columns outside the image are clamped with
// weight (1, 0); rows are not: their weights stay fractional and the row index is clamped when
// the row is fetched (measured against cv2: the first and last rows of an up-scaled image differ
// by 1 otherwise).
typedef struct {
    int index;
    short weight0, weight1;
} linear_tap;

static void compute_taps(int src_size, int dst_size, int clamp_weights, linear_tap *taps) {
    double scale = (double)src_size / (double)dst_size;
    for (int d = 0; d < dst_size; d++) {
        float f = (float)((d + 0.5) * scale - 0.5);
        int s = (int)floorf(f);
        f -= (float)s;
        if (clamp_weights && s < 0) f = 0.0f, s = 0;
        if (clamp_weights && s >= src_size - 1) f = 0.0f, s = src_size - 1;
        taps[d].index = s;
        taps[d].weight0 = (short)lrintf((1.0f - f) * RESIZE_COEF_SCALE);
        taps[d].weight1 = (short)lrintf(f * RESIZE_COEF_SCALE);
    }
}

static int clamp_index(int i, int size) { return i < 0 ? 0 : i >= size ? size - 1 : i; }

static void shrink_by_two(const yl_image_u8 *src, yl_image_u8 *dst) {
    size_t src_stride = (size_t)src->width * 3;
    for (int y = 0; y < dst->height; y++) {
        const uint8_t *row0 = src->pixels + (size_t)(2 * y) * src_stride, *row1 = row0 + src_stride;
        uint8_t *out = dst->pixels + (size_t)y * dst->width * 3;
        for (int x = 0; x < dst->width; x++)
            for (int c = 0; c < 3; c++) {
                int i = 6 * x + c;
                out[3 * x + c] = (uint8_t)((row0[i] + row0[i + 3] + row1[i] + row1[i + 3] + 2) >> 2);
            }
    }
}

// Horizontal pass for one source row: 3 channels of sums scaled by RESIZE_COEF_SCALE.
static void resize_row(const uint8_t *src_row, int src_width, const linear_tap *taps, int dst_width, int *out) {
    for (int x = 0; x < dst_width; x++) {
        const uint8_t *p0 = src_row + (size_t)taps[x].index * 3;
        const uint8_t *p1 = taps[x].index + 1 < src_width ? p0 + 3 : p0;
        for (int c = 0; c < 3; c++) out[3 * x + c] = p0[c] * taps[x].weight0 + p1[c] * taps[x].weight1;
    }
}

yl_status yl_image_resize_linear(const yl_image_u8 *src, int width, int height, yl_image_u8 *dst) {
    if (!src || !dst || !src->pixels) return yl_error(YL_ERR_INVALID_ARG, "resize: NULL image");
    if (src->width < 1 || src->height < 1 || width < 1 || height < 1)
        return yl_error(YL_ERR_INVALID_ARG, "resize: %dx%d -> %dx%d: sizes must be positive", src->width,
                        src->height, width, height);
    size_t dst_bytes = (size_t)width * (size_t)height * 3;
    *dst = (yl_image_u8){.width = width, .height = height, .pixels = malloc(dst_bytes)};
    if (!dst->pixels) return yl_error(YL_ERR_OOM, "resize: out of memory for %dx%d", width, height);
    if (width == src->width && height == src->height) {
        memcpy(dst->pixels, src->pixels, dst_bytes);
        return YL_OK;
    }
    if (src->width == 2 * width && src->height == 2 * height) {
        shrink_by_two(src, dst);
        return YL_OK;
    }
    linear_tap *x_taps = malloc((size_t)width * sizeof *x_taps), *y_taps = malloc((size_t)height * sizeof *y_taps);
    int *rows = malloc((size_t)width * 3 * 2 * sizeof *rows);
    if (!x_taps || !y_taps || !rows) {
        free(x_taps);
        free(y_taps);
        free(rows);
        yl_image_u8_free(dst);
        return yl_error(YL_ERR_OOM, "resize: out of memory");
    }
    compute_taps(src->width, width, 1, x_taps);
    compute_taps(src->height, height, 0, y_taps);
    int *row0 = rows, *row1 = rows + (size_t)width * 3;
    int cached0 = -1, cached1 = -1;  // source rows held in row0 / row1
    size_t src_stride = (size_t)src->width * 3;
    for (int y = 0; y < height; y++) {
        int s0 = clamp_index(y_taps[y].index, src->height), s1 = clamp_index(y_taps[y].index + 1, src->height);
        if (cached0 != s0) {
            if (cached1 == s0) {  // moving down one row: reuse the lower row
                int *t = row0;
                row0 = row1;
                row1 = t;
                cached0 = s0;
                cached1 = -1;
            } else {
                resize_row(src->pixels + (size_t)s0 * src_stride, src->width, x_taps, width, row0);
                cached0 = s0;
            }
        }
        if (cached1 != s1) {
            resize_row(src->pixels + (size_t)s1 * src_stride, src->width, x_taps, width, row1);
            cached1 = s1;
        }
        int b0 = y_taps[y].weight0, b1 = y_taps[y].weight1;
        uint8_t *out = dst->pixels + (size_t)y * width * 3;
        for (int i = 0; i < width * 3; i++) {
            // OpenCV's VResizeLinearVec_32s8u: 16-bit high multiplies, then (t + 2) >> 2.
            int t = (((row0[i] >> 4) * b0) >> 16) + (((row1[i] >> 4) * b1) >> 16);
            t = (t + 2) >> 2;
            out[i] = (uint8_t)(t < 0 ? 0 : t > 255 ? 255 : t);
        }
    }
    free(x_taps);
    free(y_taps);
    free(rows);
    return YL_OK;
}
