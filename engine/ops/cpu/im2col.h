// Column-matrix transforms behind the CPU convolution (one image, NCHW fp32).
//
// The column matrix has one row per (channel, kernel row, kernel column) and one column per
// output pixel, so a convolution becomes W (K x C*k*k) times columns (C*k*k x Ho*Wo).
#pragma once
#include <stdbool.h>
#include <stdint.h>

// The largest kernel the transforms take (col2im keeps per-kernel-column ranges on the stack);
// the conv op itself accepts 1x1 and 3x3 (ops.c).
#define YL_CONV_KERNEL_MAX 7

typedef struct {
    int64_t channels, height, width;  // input image
    int64_t out_height, out_width;
    int kernel, stride, pad;
} yl_conv_geometry;

// Whether the column transforms (and the conv's other elementwise passes) should use OpenMP.
// Only when sgemm runs on the same OpenMP threads, or on one thread: a pthreads OpenBLAS keeps
// its workers spinning after each call, and an OpenMP team interleaved with them fights them for
// the cores (measured on 2 cores: convs ~2x slower in total than with serial transforms).
bool yl_cpu_conv_transforms_parallel(void);

// Rows of the column matrix: channels * kernel * kernel.
int64_t yl_conv_geometry_rows(const yl_conv_geometry *g);
// Columns of the column matrix: out_height * out_width.
int64_t yl_conv_geometry_cols(const yl_conv_geometry *g);

// The columns of output rows [oh_begin, oh_end) (a tile of (oh_end - oh_begin) * out_width columns):
// columns[(c,kh,kw)][(oh - oh_begin, ow)] = image[c][oh*stride - pad + kh][ow*stride - pad + kw],
// 0 in the padding.
void yl_cpu_im2col(const float *image, const yl_conv_geometry *g, int64_t oh_begin, int64_t oh_end,
                   float *columns);

// The adjoint of im2col: every image pixel gets the sum of the column entries that read it,
// added in a fixed (kh, kw) order so the result does not depend on the thread count.
// The sum is formed first and then stored (accumulate = false) or added once to the image's
// previous contents (accumulate = true), so accumulating equals overwriting plus the old value exactly.
void yl_cpu_col2im(const float *columns, const yl_conv_geometry *g, float *image, bool accumulate);
