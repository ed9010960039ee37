// CPU convolution: im2col + OpenBLAS sgemm, one image at a time.
//
// forward:         y_n  = W (K x Ckk) * col(x_n) (Ckk x P) [+ bias]      Ckk = C*k*k, P = Ho*Wo
// backward data:   dx_n = col2im(W^T * dy_n)
// backward weight: dW   = sum_n dy_n * col(x_n)^T,  dbias = sum over n and pixels of dy
// A 1x1 stride-1 convolution needs no im2col: the image already is its column matrix.
//
// Determinism: im2col and col2im give every output element to one loop iteration and sum in a
// fixed order; sgemm is called from outside parallel regions, with its own threads, and the
// batch sum runs in image order. Accumulating outputs are first computed whole in the workspace
// and then added once, so accumulate = true equals overwrite plus the old contents exactly.
#include <cblas.h>
#include <limits.h>
#include <string.h>

#include "cpu_ops.h"
#include "im2col.h"

// Workspace pieces start on 64-float (256-byte) boundaries.
#define WORKSPACE_ALIGN_FLOATS 64

#define PARALLEL_MIN_FLOATS 32768

static size_t aligned_floats(int64_t count) {
    return ((size_t)count + WORKSPACE_ALIGN_FLOATS - 1) / WORKSPACE_ALIGN_FLOATS * WORKSPACE_ALIGN_FLOATS;
}

static yl_conv_geometry conv_geometry(const yl_tensor *input, const yl_tensor *w, const yl_tensor *output,
                                      const yl_conv2d_params *p) {
    return (yl_conv_geometry){
        .channels = input->shape[1],
        .height = input->shape[2],
        .width = input->shape[3],
        .out_height = output->shape[2],
        .out_width = output->shape[3],
        .kernel = (int)w->shape[2],
        .stride = p->stride,
        .pad = p->pad,
    };
}

static bool is_pointwise(const yl_conv_geometry *g) {
    return g->kernel == 1 && g->stride == 1 && g->pad == 0;
}

// sgemm takes int dimensions; the column matrix of a huge image could exceed them.
static yl_status check_gemm_size(const char *op, const yl_conv_geometry *g, int64_t out_channels) {
    int64_t rows = yl_conv_geometry_rows(g), cols = yl_conv_geometry_cols(g);
    if (rows > INT_MAX || cols > INT_MAX || out_channels > INT_MAX || g->height * g->width > INT_MAX)
        return yl_error(YL_ERR_UNSUPPORTED, "%s: matrix of %lld x %lld (K = %lld) is too large for sgemm", op,
                        (long long)rows, (long long)cols, (long long)out_channels);
    return YL_OK;
}

static void add_into(float *dst, const float *src, int64_t n) {
#pragma omp parallel for schedule(static) if (n >= PARALLEL_MIN_FLOATS)
    for (int64_t i = 0; i < n; i++) dst[i] += src[i];
}

yl_status yl_cpu_conv2d_forward(yl_backend *be, const yl_tensor *x, const yl_tensor *w, const yl_tensor *bias,
                                yl_tensor *y, const yl_conv2d_params *p) {
    const yl_conv_geometry g = conv_geometry(x, w, y, p);
    const int64_t batch = x->shape[0], out_channels = w->shape[0];
    const int64_t rows = yl_conv_geometry_rows(&g), cols = yl_conv_geometry_cols(&g);
    const int64_t image_size = g.channels * g.height * g.width, out_size = out_channels * cols;
    YL_TRY(check_gemm_size("conv2d_forward", &g, out_channels));

    const bool pointwise = is_pointwise(&g);
    float *columns = NULL;
    if (!pointwise) YL_TRY(yl_cpu_workspace(be, aligned_floats(rows * cols) * sizeof(float), &columns));

    const float *xd = x->data, *wd = w->data;
    float *yd = y->data;
    for (int64_t n = 0; n < batch; n++) {
        const float *image = xd + n * image_size;
        if (!pointwise) yl_cpu_im2col(image, &g, columns);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)out_channels, (int)cols, (int)rows, 1.0f, wd,
                    (int)rows, pointwise ? image : columns, (int)cols, 0.0f, yd + n * out_size, (int)cols);
    }

    if (bias) {
        const float *bd = bias->data;
#pragma omp parallel for collapse(2) schedule(static) if (batch * out_size >= PARALLEL_MIN_FLOATS)
        for (int64_t n = 0; n < batch; n++)
            for (int64_t k = 0; k < out_channels; k++) {
                float *plane = yd + n * out_size + k * cols;
                const float b = bd[k];
                for (int64_t i = 0; i < cols; i++) plane[i] += b;
            }
    }
    return YL_OK;
}

yl_status yl_cpu_conv2d_backward_data(yl_backend *be, const yl_tensor *dy, const yl_tensor *w, yl_tensor *dx,
                                      const yl_conv2d_params *p, bool accumulate) {
    const yl_conv_geometry g = conv_geometry(dx, w, dy, p);
    const int64_t batch = dx->shape[0], out_channels = w->shape[0];
    const int64_t rows = yl_conv_geometry_rows(&g), cols = yl_conv_geometry_cols(&g);
    const int64_t image_size = g.channels * g.height * g.width, out_size = out_channels * cols;
    YL_TRY(check_gemm_size("conv2d_backward_data", &g, out_channels));

    // A pointwise conv writes W^T * dy straight into dx unless it must be added to old contents.
    const bool pointwise = is_pointwise(&g);
    const bool direct = pointwise && !accumulate;
    float *columns = NULL;
    if (!direct) YL_TRY(yl_cpu_workspace(be, aligned_floats(rows * cols) * sizeof(float), &columns));

    const float *dyd = dy->data, *wd = w->data;
    float *dxd = dx->data;
    for (int64_t n = 0; n < batch; n++) {
        float *image = dxd + n * image_size;
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)rows, (int)cols, (int)out_channels, 1.0f, wd,
                    (int)rows, dyd + n * out_size, (int)cols, 0.0f, direct ? image : columns, (int)cols);
        if (direct) continue;
        if (pointwise)
            add_into(image, columns, image_size);
        else
            yl_cpu_col2im(columns, &g, image, accumulate);
    }
    return YL_OK;
}

yl_status yl_cpu_conv2d_backward_weight(yl_backend *be, const yl_tensor *x, const yl_tensor *dy, yl_tensor *dw,
                                        yl_tensor *dbias, const yl_conv2d_params *p, bool accumulate) {
    const yl_conv_geometry g = conv_geometry(x, dw, dy, p);
    const int64_t batch = x->shape[0], out_channels = dw->shape[0];
    const int64_t rows = yl_conv_geometry_rows(&g), cols = yl_conv_geometry_cols(&g);
    const int64_t image_size = g.channels * g.height * g.width, out_size = out_channels * cols;
    const int64_t weight_size = out_channels * rows;
    YL_TRY(check_gemm_size("conv2d_backward_weight", &g, out_channels));

    // Workspace: [columns (unless pointwise) | weight gradient sum (when accumulating)].
    const bool pointwise = is_pointwise(&g);
    const size_t columns_floats = pointwise ? 0 : aligned_floats(rows * cols);
    const size_t total_floats = columns_floats + (accumulate ? aligned_floats(weight_size) : 0);
    float *workspace = NULL;
    if (total_floats) YL_TRY(yl_cpu_workspace(be, total_floats * sizeof(float), &workspace));
    float *columns = workspace;
    float *dwd = dw->data;
    float *weight_sum = accumulate ? workspace + columns_floats : dwd;

    const float *xd = x->data, *dyd = dy->data;
    for (int64_t n = 0; n < batch; n++) {
        const float *image = xd + n * image_size;
        if (!pointwise) yl_cpu_im2col(image, &g, columns);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)out_channels, (int)rows, (int)cols, 1.0f,
                    dyd + n * out_size, (int)cols, pointwise ? image : columns, (int)cols, n == 0 ? 0.0f : 1.0f,
                    weight_sum, (int)rows);
    }
    if (accumulate) add_into(dwd, weight_sum, weight_size);

    if (dbias) {
        float *dbd = dbias->data;
#pragma omp parallel for schedule(static) if (batch * out_size >= PARALLEL_MIN_FLOATS)
        for (int64_t k = 0; k < out_channels; k++) {
            double sum = 0.0;  // a whole batch of pixels per channel: keep the sum in double
            for (int64_t n = 0; n < batch; n++) {
                const float *plane = dyd + n * out_size + k * cols;
                for (int64_t i = 0; i < cols; i++) sum += plane[i];
            }
            dbd[k] = accumulate ? dbd[k] + (float)sum : (float)sum;
        }
    }
    return YL_OK;
}
