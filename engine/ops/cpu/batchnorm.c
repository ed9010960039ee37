// CPU batchnorm2d (PyTorch semantics) and the fused BN + SiLU forward.
//
// Every op works channel by channel: one thread owns a channel, reduces it over (n, h, w) in a
// fixed order with double accumulators (vectorised in fixed lanes, activation_spans.c) and then
// writes that channel's outputs, so results do not depend on the thread count and no scratch
// memory is needed.
//
// train forward: mean, var = biased batch statistics over M = N*H*W values (two passes, so the
//                variance does not suffer the cancellation of E[x^2] - E[x]^2);
//                y = (x - mean) * gamma / sqrt(var + eps) + beta;
//                running = (1 - momentum) * running + momentum * (mean, var * M / (M - 1)).
// eval forward:  the same with the running estimates.
// train backward: dx = gamma * invstd * (dy - mean(dy) - xhat * mean(dy * xhat)),
//                 dgamma = sum(dy * xhat), dbeta = sum(dy).
// eval backward:  statistics are constants: dx = dy * gamma / sqrt(running_var + eps).
#include <math.h>

#include "activation_spans.h"
#include "cpu_ops.h"

#define PARALLEL_MIN_ELEMENTS 32768

typedef struct {
    int64_t batch, channels, plane;  // plane = H * W
} bn_geometry;

static bn_geometry geometry_of(const yl_tensor *x) {
    return (bn_geometry){x->shape[0], x->shape[1], x->shape[2] * x->shape[3]};
}

static bool worth_parallel(const bn_geometry *g) {
    return g->channels > 1 && g->batch * g->channels * g->plane >= PARALLEL_MIN_ELEMENTS;
}

// Offset of plane (n, c).
static inline int64_t plane_offset(const bn_geometry *g, int64_t n, int64_t c) {
    return (n * g->channels + c) * g->plane;
}

static void channel_moments(const float *x, const bn_geometry *g, int64_t c, double *mean, double *biased_var) {
    const double count = (double)(g->batch * g->plane);
    double sum = 0.0;
    for (int64_t n = 0; n < g->batch; n++) yl_cpu_sum_span(x + plane_offset(g, n, c), g->plane, &sum);
    const double m = sum / count;
    double squares = 0.0;
    for (int64_t n = 0; n < g->batch; n++) yl_cpu_centered_squares_span(x + plane_offset(g, n, c), g->plane, m, &squares);
    *mean = m;
    *biased_var = squares / count;
}

// y_bn = (x - center) * scale + shift over one channel, and SiLU of it into y_act when given.
// Subtracting the centre first keeps fp32 cancellation out when |mean| >> std.
static void normalize_channel(const float *x, float *y_bn, float *y_act, const bn_geometry *g, int64_t c, float center,
                              float scale, float shift) {
    for (int64_t n = 0; n < g->batch; n++) {
        const int64_t offset = plane_offset(g, n, c);
        yl_cpu_normalize_span(x + offset, y_bn + offset, y_act ? y_act + offset : NULL, g->plane, center, scale, shift);
    }
}

typedef struct {
    const float *gamma, *beta;
    float *running_mean, *running_var;  // updated in training, read in eval
    float *save_mean, *save_invstd;     // NULL in eval
    float eps, momentum;
} bn_forward_args;

// The one forward behind batchnorm2d and bn_silu, train and eval. y_act may be NULL.
static void bn_forward(const yl_tensor *x, const bn_forward_args *a, bool train, float *y_bn, float *y_act) {
    const bn_geometry g = geometry_of(x);
    const float *xd = x->data;
    const double count = (double)(g.batch * g.plane);
#pragma omp parallel for schedule(static) if (worth_parallel(&g))
    for (int64_t c = 0; c < g.channels; c++) {
        double mean, var;
        if (train) {
            channel_moments(xd, &g, c, &mean, &var);
            const double m = a->momentum;
            // count >= 2 is checked by the dispatch layer.
            a->running_mean[c] = (float)((1.0 - m) * a->running_mean[c] + m * mean);
            a->running_var[c] = (float)((1.0 - m) * a->running_var[c] + m * var * count / (count - 1.0));
        } else {
            mean = a->running_mean[c];
            var = a->running_var[c];
        }
        const double invstd = 1.0 / sqrt(var + (double)a->eps);
        if (train) {
            a->save_mean[c] = (float)mean;
            a->save_invstd[c] = (float)invstd;
        }
        // The centre is the fp32 mean; its rounding residual goes into the shift, so a channel
        // with |mean| >> std is still normalised to double-precision statistics.
        const float center = (float)mean;
        const double scale = a->gamma[c] * invstd;
        normalize_channel(xd, y_bn, y_act, &g, c, center, (float)scale,
                          (float)(a->beta[c] + ((double)center - mean) * scale));
    }
}

yl_status yl_cpu_batchnorm2d_forward_train(yl_backend *be, const yl_tensor *x, const yl_tensor *gamma,
                                           const yl_tensor *beta, yl_tensor *running_mean, yl_tensor *running_var,
                                           yl_tensor *y, yl_tensor *save_mean, yl_tensor *save_invstd,
                                           const yl_batchnorm_params *p) {
    (void)be;
    bn_forward_args a = {gamma->data,       beta->data, running_mean->data, running_var->data, save_mean->data,
                         save_invstd->data, p->eps,     p->momentum};
    bn_forward(x, &a, true, y->data, NULL);
    return YL_OK;
}

yl_status yl_cpu_batchnorm2d_forward_eval(yl_backend *be, const yl_tensor *x, const yl_tensor *gamma,
                                          const yl_tensor *beta, const yl_tensor *running_mean,
                                          const yl_tensor *running_var, yl_tensor *y, const yl_batchnorm_params *p) {
    (void)be;
    // Eval only reads the running estimates; the cast drops const for the shared argument struct.
    bn_forward_args a = {gamma->data, beta->data, (float *)running_mean->data, (float *)running_var->data, NULL, NULL,
                         p->eps,      p->momentum};
    bn_forward(x, &a, false, y->data, NULL);
    return YL_OK;
}

yl_status yl_cpu_bn_silu_forward_train(yl_backend *be, const yl_tensor *x, const yl_tensor *gamma,
                                       const yl_tensor *beta, yl_tensor *running_mean, yl_tensor *running_var,
                                       yl_tensor *y_bn, yl_tensor *y, yl_tensor *save_mean, yl_tensor *save_invstd,
                                       const yl_batchnorm_params *p) {
    (void)be;
    bn_forward_args a = {gamma->data,       beta->data, running_mean->data, running_var->data, save_mean->data,
                         save_invstd->data, p->eps,     p->momentum};
    bn_forward(x, &a, true, y_bn->data, y->data);
    return YL_OK;
}

yl_status yl_cpu_bn_silu_forward_eval(yl_backend *be, const yl_tensor *x, const yl_tensor *gamma, const yl_tensor *beta,
                                      const yl_tensor *running_mean, const yl_tensor *running_var, yl_tensor *y_bn,
                                      yl_tensor *y, const yl_batchnorm_params *p) {
    (void)be;
    bn_forward_args a = {gamma->data, beta->data, (float *)running_mean->data, (float *)running_var->data, NULL, NULL,
                         p->eps,      p->momentum};
    bn_forward(x, &a, false, y_bn->data, y->data);
    return YL_OK;
}

// ---- backward -------------------------------------------------------------------------------

// sum(dy) and sum(dy * (x - center)) over one channel.
static void channel_gradient_sums(const float *x, const float *dy, const bn_geometry *g, int64_t c, float center,
                                  double *sum_dy, double *sum_dy_centered) {
    *sum_dy = 0.0;
    *sum_dy_centered = 0.0;
    for (int64_t n = 0; n < g->batch; n++) {
        const int64_t offset = plane_offset(g, n, c);
        yl_cpu_gradient_sums_span(x + offset, dy + offset, g->plane, center, sum_dy, sum_dy_centered);
    }
}

// dx = gain * (dy - dy_shift - (x - center) * x_slope) over one channel, stored or added once.
static void write_input_gradient(const float *x, const float *dy, float *dx, const bn_geometry *g, int64_t c,
                                 float center, float gain, float dy_shift, float x_slope, bool accumulate) {
    for (int64_t n = 0; n < g->batch; n++) {
        const int64_t offset = plane_offset(g, n, c);
        yl_cpu_batchnorm_input_gradient_span(x + offset, dy + offset, dx + offset, g->plane, center, gain, dy_shift,
                                             x_slope, accumulate);
    }
}

static inline void store(float *dst, double value, bool accumulate) {
    float v = (float)value;
    *dst = accumulate ? *dst + v : v;
}

yl_status yl_cpu_batchnorm2d_backward_train(yl_backend *be, const yl_tensor *x, const yl_tensor *dy,
                                            const yl_tensor *gamma, const yl_tensor *save_mean,
                                            const yl_tensor *save_invstd, yl_tensor *dx, yl_tensor *dgamma,
                                            yl_tensor *dbeta, bool accumulate) {
    (void)be;
    const bn_geometry g = geometry_of(x);
    const float *xd = x->data, *dyd = dy->data, *gd = gamma->data, *md = save_mean->data, *id = save_invstd->data;
    float *dxd = dx->data, *dgd = dgamma->data, *dbd = dbeta->data;
    const double count = (double)(g.batch * g.plane);
#pragma omp parallel for schedule(static) if (worth_parallel(&g))
    for (int64_t c = 0; c < g.channels; c++) {
        double sum_dy, sum_dy_centered;
        channel_gradient_sums(xd, dyd, &g, c, md[c], &sum_dy, &sum_dy_centered);
        const double invstd = id[c];
        const double sum_dy_xhat = sum_dy_centered * invstd;
        write_input_gradient(xd, dyd, dxd, &g, c, md[c], (float)(gd[c] * invstd), (float)(sum_dy / count),
                             (float)(invstd * sum_dy_xhat / count), accumulate);
        store(&dgd[c], sum_dy_xhat, accumulate);
        store(&dbd[c], sum_dy, accumulate);
    }
    return YL_OK;
}

yl_status yl_cpu_batchnorm2d_backward_eval(yl_backend *be, const yl_tensor *x, const yl_tensor *dy,
                                           const yl_tensor *gamma, const yl_tensor *running_mean,
                                           const yl_tensor *running_var, yl_tensor *dx, yl_tensor *dgamma,
                                           yl_tensor *dbeta, const yl_batchnorm_params *p, bool accumulate) {
    (void)be;
    const bn_geometry g = geometry_of(x);
    const float *xd = x->data, *dyd = dy->data, *gd = gamma->data;
    const float *rm = running_mean->data, *rv = running_var->data;
    float *dxd = dx->data, *dgd = dgamma->data, *dbd = dbeta->data;
#pragma omp parallel for schedule(static) if (worth_parallel(&g))
    for (int64_t c = 0; c < g.channels; c++) {
        double sum_dy, sum_dy_centered;
        channel_gradient_sums(xd, dyd, &g, c, rm[c], &sum_dy, &sum_dy_centered);
        const double invstd = 1.0 / sqrt((double)rv[c] + (double)p->eps);
        write_input_gradient(xd, dyd, dxd, &g, c, rm[c], (float)(gd[c] * invstd), 0.0f, 0.0f, accumulate);
        store(&dgd[c], sum_dy_centered * invstd, accumulate);
        store(&dbd[c], sum_dy, accumulate);
    }
    return YL_OK;
}
