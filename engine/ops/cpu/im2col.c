#include "im2col.h"

#include <cblas.h>
#include <string.h>

// col2im accumulates one image row in pieces of this many pixels on the stack.
#define COL2IM_CHUNK 256

// Below this many floats moved, thread start-up costs more than the copy.
#define PARALLEL_MIN_FLOATS 32768

bool yl_cpu_conv_transforms_parallel(void) {
    return openblas_get_parallel() == OPENBLAS_OPENMP || openblas_get_num_threads() == 1;
}

int64_t yl_conv_geometry_rows(const yl_conv_geometry *g) {
    return g->channels * g->kernel * g->kernel;
}

int64_t yl_conv_geometry_cols(const yl_conv_geometry *g) {
    return g->out_height * g->out_width;
}

// Smallest integer >= a / b for b > 0 (C division truncates, which is the ceiling for a <= 0).
static int64_t ceil_div(int64_t a, int64_t b) {
    return a > 0 ? (a + b - 1) / b : a / b;
}

static int64_t clamp(int64_t v, int64_t lo, int64_t hi) {
    return v < lo ? lo : (v > hi ? hi : v);
}

// Output columns [*first, *last) whose input column ow*stride - pad + kw lies in [lo, hi).
static void output_range(int64_t lo, int64_t hi, int kw, const yl_conv_geometry *g, int64_t *first,
                         int64_t *last) {
    *first = clamp(ceil_div(lo + g->pad - kw, g->stride), 0, g->out_width);
    *last = clamp(ceil_div(hi + g->pad - kw, g->stride), *first, g->out_width);
}

// One output row's piece of column-matrix row (c, kh, kw): a strided slice of input row
// oh*stride - pad + kh of `plane` (channel c), zero-padded. [first, last) is output_range(0, width)
// for kw, the same for every output row, so the caller computes it once.
static void im2col_line(const float *plane, const yl_conv_geometry *g, int kh, int kw, int64_t first, int64_t last,
                        int64_t oh, float *dst) {
    const int64_t ih = oh * g->stride - g->pad + kh;
    if (ih < 0 || ih >= g->height) {
        memset(dst, 0, (size_t)g->out_width * sizeof *dst);
        return;
    }
    const float *src = plane + ih * g->width;
    for (int64_t ow = 0; ow < first; ow++) dst[ow] = 0.0f;
    if (g->stride == 1) {
        memcpy(dst + first, src + first - g->pad + kw, (size_t)(last - first) * sizeof *dst);
    } else {
        for (int64_t ow = first; ow < last; ow++) dst[ow] = src[ow * g->stride - g->pad + kw];
    }
    for (int64_t ow = last; ow < g->out_width; ow++) dst[ow] = 0.0f;
}

void yl_cpu_im2col(const float *image, const yl_conv_geometry *g, int64_t oh_begin, int64_t oh_end,
                   float *columns) {
    const int64_t rows = yl_conv_geometry_rows(g);
    const int64_t cols = (oh_end - oh_begin) * g->out_width;
    const bool parallel = rows * cols >= PARALLEL_MIN_FLOATS && yl_cpu_conv_transforms_parallel();
    // One column-matrix row per iteration: its (c, kh, kw) and valid output range are worked out
    // once, not per output row (the divisions cost more than the copy on small feature maps).
#pragma omp parallel for schedule(static) if (parallel)
    for (int64_t row = 0; row < rows; row++) {
        const int k = g->kernel;
        const int64_t c = row / (k * k);
        const int kh = (int)(row / k % k), kw = (int)(row % k);
        int64_t first, last;
        output_range(0, g->width, kw, g, &first, &last);
        const float *plane = image + c * g->height * g->width;
        float *dst = columns + row * cols;
        for (int64_t oh = oh_begin; oh < oh_end; oh++)
            im2col_line(plane, g, kh, kw, first, last, oh, dst + (oh - oh_begin) * g->out_width);
    }
}

// Pixels [w0, w1) of image row h of channel c: gathers every column entry that read each pixel.
// first[kw], last[kw] = output_range(w0, w1, kw): the same for every row of the chunk.
static void col2im_chunk(const float *columns, const yl_conv_geometry *g, int64_t c, int64_t h, int64_t w0,
                         int64_t w1, const int64_t *first, const int64_t *last, float *dst, bool accumulate) {
    const int k = g->kernel;
    const int s = g->stride;
    const int64_t cols = yl_conv_geometry_cols(g);
    float sum[COL2IM_CHUNK] = {0};
    for (int kh = 0; kh < k; kh++) {
        const int64_t t = h + g->pad - kh;  // = oh * stride for the output row that read image row h
        if (t < 0) continue;
        int64_t oh = t;
        if (s != 1) {
            if (t % s != 0) continue;
            oh = t / s;
        }
        if (oh >= g->out_height) continue;
        for (int kw = 0; kw < k; kw++) {
            const float *src = columns + ((c * k + kh) * k + kw) * cols + oh * g->out_width;
            // Output column ow read pixel ow * s + offset + w0.
            const int64_t offset = kw - g->pad - w0;
            if (s == 1) {  // contiguous: lets the compiler vectorise
                float *out = sum + offset + first[kw];
                const float *in = src + first[kw];
                for (int64_t i = 0; i < last[kw] - first[kw]; i++) out[i] += in[i];
            } else {
                for (int64_t ow = first[kw]; ow < last[kw]; ow++) sum[ow * s + offset] += src[ow];
            }
        }
    }
    const int64_t n = w1 - w0;
    if (accumulate) {
        for (int64_t i = 0; i < n; i++) dst[i] += sum[i];
    } else {
        memcpy(dst, sum, (size_t)n * sizeof *dst);
    }
}

void yl_cpu_col2im(const float *columns, const yl_conv_geometry *g, float *image, bool accumulate) {
    const int64_t channels = g->channels;
    const int64_t height = g->height;
    const int64_t width = g->width;
    const int64_t chunks = (width + COL2IM_CHUNK - 1) / COL2IM_CHUNK;
    const int64_t work = yl_conv_geometry_rows(g) * yl_conv_geometry_cols(g);
    const bool parallel = work >= PARALLEL_MIN_FLOATS && yl_cpu_conv_transforms_parallel();
    // Each (c, chunk) iteration writes its own pixels of every row of channel c, so iterations can
    // run in parallel without races; the output ranges per kernel column are worked out once per
    // iteration, not once per row.
#pragma omp parallel for collapse(2) schedule(static) if (parallel)
    for (int64_t c = 0; c < channels; c++)
        for (int64_t chunk = 0; chunk < chunks; chunk++) {
            const int64_t w0 = chunk * COL2IM_CHUNK;
            const int64_t w1 = w0 + COL2IM_CHUNK < width ? w0 + COL2IM_CHUNK : width;
            int64_t first[YL_CONV_KERNEL_MAX], last[YL_CONV_KERNEL_MAX];
            for (int kw = 0; kw < g->kernel; kw++) output_range(w0, w1, kw, g, &first[kw], &last[kw]);
            for (int64_t h = 0; h < height; h++)
                col2im_chunk(columns, g, c, h, w0, w1, first, last, image + (c * height + h) * width + w0,
                             accumulate);
        }
}
