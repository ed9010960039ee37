// conv2d on the CPU backend, through the public yl_conv2d_* API:
// - forward, backward data, backward weight and bias against naive direct loops in double;
// - backward data / weight / bias against finite differences of L = sum(y * r);
// - accumulate = true equals the overwrite result plus the old contents, bit for bit;
// - outputs are overwritten (stale NaNs do not leak), results repeat bit for bit;
// - bad arguments give the right status and a message.
#include <stdint.h>

#include "test_common.h"

// Errors are measured relative to the reference tensor's largest magnitude (scale-free, and
// safe for near-zero elements). The fp32 sums here (up to ~4600 terms, for dw) stay below 5e-7.
#define REFERENCE_TOLERANCE 1e-5
// Finite differences of the fp32 forward. The op is linear, so the central difference has no
// truncation error at any eps; its only error is fp32 rounding in the outputs a parameter
// touches, divided by 2*eps. eps = 1e-2 gives up to ~1.2e-3 (dw of the 80x79 case), eps = 0.125
// about 12x less, so the tolerance below has a 10x margin. Gradients below FD_FLOOR in
// magnitude are compared absolutely against it.
#define FD_EPS 0.125f
#define FD_TOLERANCE 2e-3
#define FD_FLOOR 0.1
#define FD_CHECKS 24

typedef struct {
    int batch, in_channels, out_channels, height, width, kernel, stride;
    bool bias;
} conv_case;

typedef struct {
    conv_case c;
    int out_height, out_width;
    size_t x_size, w_size, y_size;
    yl_conv2d_params params;
} conv_shape;

static conv_shape make_shape(conv_case c) {
    conv_shape s = {.c = c, .params = {.stride = c.stride, .pad = c.kernel / 2}};
    s.out_height = (int)yl_conv_output_size(c.height, c.kernel, c.stride, c.kernel / 2);
    s.out_width = (int)yl_conv_output_size(c.width, c.kernel, c.stride, c.kernel / 2);
    s.x_size = (size_t)c.batch * c.in_channels * c.height * c.width;
    s.w_size = (size_t)c.out_channels * c.in_channels * c.kernel * c.kernel;
    s.y_size = (size_t)c.batch * c.out_channels * s.out_height * s.out_width;
    return s;
}

static void describe(const conv_shape *s, char *buf, size_t size) {
    snprintf(buf, size, "N%d %d->%d %dx%d k%d s%d%s", s->c.batch, s->c.in_channels, s->c.out_channels, s->c.height,
             s->c.width, s->c.kernel, s->c.stride, s->c.bias ? " bias" : "");
}

// ---- naive references in double ---------------------------------------------------------------

// Calls visit(x index, w index, y index) for every multiply-add of the convolution.
#define FOR_EACH_TAP(s, XI, WI, YI, BODY)                                                                   \
    for (int n = 0; n < (s)->c.batch; n++)                                                                \
        for (int k = 0; k < (s)->c.out_channels; k++)                                                     \
            for (int oh = 0; oh < (s)->out_height; oh++)                                                  \
                for (int ow = 0; ow < (s)->out_width; ow++)                                               \
                    for (int ch = 0; ch < (s)->c.in_channels; ch++)                                       \
                        for (int kh = 0; kh < (s)->c.kernel; kh++)                                        \
                            for (int kw = 0; kw < (s)->c.kernel; kw++) {                                  \
                                int ih = oh * (s)->c.stride - (s)->params.pad + kh;                       \
                                int iw = ow * (s)->c.stride - (s)->params.pad + kw;                       \
                                if (ih < 0 || ih >= (s)->c.height || iw < 0 || iw >= (s)->c.width) continue; \
                                size_t XI = (((size_t)n * (s)->c.in_channels + ch) * (s)->c.height + ih) * \
                                                (s)->c.width + iw;                                        \
                                size_t WI = (((size_t)k * (s)->c.in_channels + ch) * (s)->c.kernel + kh) * \
                                                (s)->c.kernel + kw;                                       \
                                size_t YI = (((size_t)n * (s)->c.out_channels + k) * (s)->out_height + oh) * \
                                                (s)->out_width + ow;                                      \
                                BODY;                                                                     \
                            }

static void naive_forward(const conv_shape *s, const float *x, const float *w, const float *bias, double *y) {
    for (size_t i = 0; i < s->y_size; i++) y[i] = 0.0;
    FOR_EACH_TAP(s, xi, wi, yi, y[yi] += (double)x[xi] * (double)w[wi]);
    if (!bias) return;
    size_t plane = (size_t)s->out_height * s->out_width;
    for (size_t i = 0; i < s->y_size; i++) y[i] += bias[i / plane % (size_t)s->c.out_channels];
}

static void naive_backward(const conv_shape *s, const float *x, const float *w, const float *dy, double *dx,
                           double *dw, double *dbias) {
    for (size_t i = 0; i < s->x_size; i++) dx[i] = 0.0;
    for (size_t i = 0; i < s->w_size; i++) dw[i] = 0.0;
    FOR_EACH_TAP(s, xi, wi, yi, {
        dx[xi] += (double)w[wi] * (double)dy[yi];
        dw[wi] += (double)x[xi] * (double)dy[yi];
    });
    size_t plane = (size_t)s->out_height * s->out_width;
    for (int k = 0; k < s->c.out_channels; k++) dbias[k] = 0.0;
    for (size_t i = 0; i < s->y_size; i++) dbias[i / plane % (size_t)s->c.out_channels] += dy[i];
}

// max |got - want| / max |want|.
// ---- one shape ------------------------------------------------------------------------------

typedef struct {
    yl_engine *eng;
    const conv_shape *s;
    yl_tensor x, w, bias, y;
    const float *r;
} loss_context;

static double loss_sum_y_r(void *opaque) {
    loss_context *ctx = opaque;
    yl_status status = yl_conv2d_forward(ctx->eng, &ctx->x, &ctx->w, ctx->s->c.bias ? &ctx->bias : NULL, &ctx->y,
                                         &ctx->s->params);
    if (status != YL_OK) return NAN;
    return yl_test_dot(ctx->y.data, ctx->r, ctx->s->y_size);
}

typedef struct {
    double forward, data, weight, bias, fd_data, fd_weight, fd_bias;
} error_summary;

// Bitwise: accumulate_result[i] == overwrite_result[i] + previous[i] in fp32.
static void check_case(yl_engine *eng, yl_rng *rng, conv_case c, error_summary *summary) {
    conv_shape s = make_shape(c);
    char name[96];
    describe(&s, name, sizeof name);
    const int K = c.out_channels, C = c.in_channels, k = c.kernel;

    float *x = yl_test_random(rng, s.x_size, -1.0f, 1.0f);
    float *w = yl_test_random(rng, s.w_size, -0.5f, 0.5f);
    float *bias = yl_test_random(rng, (size_t)K, -0.5f, 0.5f);
    float *r = yl_test_random(rng, s.y_size, -1.0f, 1.0f);  // also serves as dy
    float *y = yl_test_alloc(s.y_size);
    float *dx = yl_test_alloc(s.x_size), *dw = yl_test_alloc(s.w_size), *dbias = yl_test_alloc((size_t)K);
    double *y_ref = calloc(s.y_size, sizeof(double));
    double *dx_ref = calloc(s.x_size, sizeof(double));
    double *dw_ref = calloc(s.w_size, sizeof(double));
    double *dbias_ref = calloc((size_t)K, sizeof(double));
    if (!y_ref || !dx_ref || !dw_ref || !dbias_ref) exit(2);

    yl_tensor tx = yl_tensor_4d(x, YL_DEVICE_CPU, c.batch, C, c.height, c.width);
    yl_tensor tw = yl_tensor_4d(w, YL_DEVICE_CPU, K, C, k, k);
    yl_tensor tb = yl_tensor_1d(bias, YL_DEVICE_CPU, K);
    yl_tensor ty = yl_tensor_4d(y, YL_DEVICE_CPU, c.batch, K, s.out_height, s.out_width);
    yl_tensor tdy = yl_tensor_4d(r, YL_DEVICE_CPU, c.batch, K, s.out_height, s.out_width);
    yl_tensor tdx = yl_tensor_4d(dx, YL_DEVICE_CPU, c.batch, C, c.height, c.width);
    yl_tensor tdw = yl_tensor_4d(dw, YL_DEVICE_CPU, K, C, k, k);
    yl_tensor tdb = yl_tensor_1d(dbias, YL_DEVICE_CPU, K);
    const yl_tensor *bias_arg = c.bias ? &tb : NULL;

    // Outputs start as NaN: an op that reads instead of overwriting them shows up as NaN errors.
    yl_test_fill_nan(y, s.y_size);
    yl_test_fill_nan(dx, s.x_size);
    yl_test_fill_nan(dw, s.w_size);
    yl_test_fill_nan(dbias, (size_t)K);
    CHECK_OK(yl_conv2d_forward(eng, &tx, &tw, bias_arg, &ty, &s.params));
    CHECK_OK(yl_conv2d_backward_data(eng, &tdy, &tw, &tdx, &s.params, false));
    CHECK_OK(yl_conv2d_backward_weight(eng, &tx, &tdy, &tdw, &tdb, &s.params, false));

    naive_forward(&s, x, w, c.bias ? bias : NULL, y_ref);
    naive_backward(&s, x, w, r, dx_ref, dw_ref, dbias_ref);
    double e_fwd = yl_test_scaled_error(y, y_ref, s.y_size);
    double e_dx = yl_test_scaled_error(dx, dx_ref, s.x_size);
    double e_dw = yl_test_scaled_error(dw, dw_ref, s.w_size);
    double e_db = yl_test_scaled_error(dbias, dbias_ref, (size_t)K);
    printf("%-28s vs naive: y %.2e  dx %.2e  dw %.2e  dbias %.2e\n", name, e_fwd, e_dx, e_dw, e_db);
    CHECK(e_fwd <= REFERENCE_TOLERANCE, "%s: forward error %.3e", name, e_fwd);
    CHECK(e_dx <= REFERENCE_TOLERANCE, "%s: backward data error %.3e", name, e_dx);
    CHECK(e_dw <= REFERENCE_TOLERANCE, "%s: backward weight error %.3e", name, e_dw);
    CHECK(e_db <= REFERENCE_TOLERANCE, "%s: dbias error %.3e", name, e_db);
    yl_test_track_worst(&summary->forward, e_fwd);
    yl_test_track_worst(&summary->data, e_dx);
    yl_test_track_worst(&summary->weight, e_dw);
    yl_test_track_worst(&summary->bias, e_db);

    // Finite differences of L = sum(y * r); the analytic gradients are dx, dw, dbias from above.
    float *y_probe = yl_test_alloc(s.y_size);  // the loss's own output, so y stays as computed above
    yl_tensor ty_probe = ty;
    ty_probe.data = y_probe;
    loss_context ctx = {.eng = eng, .s = &s, .x = tx, .w = tw, .bias = tb, .y = ty_probe, .r = r};
    double fd_dx = yl_test_gradient_error("dx", x, s.x_size, dx, loss_sum_y_r, &ctx, FD_EPS, FD_CHECKS, FD_FLOOR);
    double fd_dw = yl_test_gradient_error("dw", w, s.w_size, dw, loss_sum_y_r, &ctx, FD_EPS, FD_CHECKS, FD_FLOOR);
    CHECK(fd_dx <= FD_TOLERANCE, "%s: dx vs finite differences %.3e", name, fd_dx);
    CHECK(fd_dw <= FD_TOLERANCE, "%s: dw vs finite differences %.3e", name, fd_dw);
    yl_test_track_worst(&summary->fd_data, fd_dx);
    yl_test_track_worst(&summary->fd_weight, fd_dw);
    if (c.bias) {
        double fd_db = yl_test_gradient_error("dbias", bias, (size_t)K, dbias, loss_sum_y_r, &ctx, FD_EPS,
                                              FD_CHECKS, FD_FLOOR);
        CHECK(fd_db <= FD_TOLERANCE, "%s: dbias vs finite differences %.3e", name, fd_db);
        yl_test_track_worst(&summary->fd_bias, fd_db);
    }

    // accumulate = true adds the same result to whatever was there.
    float *prev_dx = yl_test_random(rng, s.x_size, -2.0f, 2.0f);
    float *prev_dw = yl_test_random(rng, s.w_size, -2.0f, 2.0f);
    float *prev_db = yl_test_random(rng, (size_t)K, -2.0f, 2.0f);
    float *acc_dx = yl_test_alloc(s.x_size), *acc_dw = yl_test_alloc(s.w_size), *acc_db = yl_test_alloc((size_t)K);
    memcpy(acc_dx, prev_dx, s.x_size * sizeof(float));
    memcpy(acc_dw, prev_dw, s.w_size * sizeof(float));
    memcpy(acc_db, prev_db, (size_t)K * sizeof(float));
    yl_tensor tacc_dx = tdx, tacc_dw = tdw, tacc_db = tdb;
    tacc_dx.data = acc_dx;
    tacc_dw.data = acc_dw;
    tacc_db.data = acc_db;
    CHECK_OK(yl_conv2d_backward_data(eng, &tdy, &tw, &tacc_dx, &s.params, true));
    CHECK_OK(yl_conv2d_backward_weight(eng, &tx, &tdy, &tacc_dw, &tacc_db, &s.params, true));
    size_t bad_dx = yl_test_count_inexact_accumulation(acc_dx, dx, prev_dx, s.x_size);
    size_t bad_dw = yl_test_count_inexact_accumulation(acc_dw, dw, prev_dw, s.w_size);
    size_t bad_db = yl_test_count_inexact_accumulation(acc_db, dbias, prev_db, (size_t)K);
    CHECK(bad_dx == 0, "%s: accumulate dx differs from overwrite + previous at %zu of %zu", name, bad_dx, s.x_size);
    CHECK(bad_dw == 0, "%s: accumulate dw differs from overwrite + previous at %zu of %zu", name, bad_dw, s.w_size);
    CHECK(bad_db == 0, "%s: accumulate dbias differs from overwrite + previous at %zu of %d", name, bad_db, K);

    // The same call again gives the same bits.
    float *again = yl_test_alloc(s.x_size > s.w_size ? (s.x_size > s.y_size ? s.x_size : s.y_size)
                                                     : (s.w_size > s.y_size ? s.w_size : s.y_size));
    yl_tensor t_again = ty;
    t_again.data = again;
    CHECK_OK(yl_conv2d_forward(eng, &tx, &tw, bias_arg, &t_again, &s.params));
    CHECK(memcmp(again, y, s.y_size * sizeof(float)) == 0, "%s: forward not repeatable", name);
    t_again = tdx;
    t_again.data = again;
    CHECK_OK(yl_conv2d_backward_data(eng, &tdy, &tw, &t_again, &s.params, false));
    CHECK(memcmp(again, dx, s.x_size * sizeof(float)) == 0, "%s: backward data not repeatable", name);
    t_again = tdw;
    t_again.data = again;
    CHECK_OK(yl_conv2d_backward_weight(eng, &tx, &tdy, &t_again, NULL, &s.params, false));
    CHECK(memcmp(again, dw, s.w_size * sizeof(float)) == 0, "%s: backward weight not repeatable", name);

    free(again), free(y_probe);
    free(acc_dx), free(acc_dw), free(acc_db), free(prev_dx), free(prev_dw), free(prev_db);
    free(y_ref), free(dx_ref), free(dw_ref), free(dbias_ref);
    free(x), free(w), free(bias), free(r), free(y), free(dx), free(dw), free(dbias);
}

// ---- bad arguments ----------------------------------------------------------------------------

static void check_bad_arguments(yl_engine *eng) {
    // Every view below fits in one 1024-float buffer; each role gets its own.
    float *bx = yl_test_alloc(1024), *bw = yl_test_alloc(1024), *by = yl_test_alloc(1024), *bb = yl_test_alloc(1024);
    float *bdx = yl_test_alloc(1024), *bdw = yl_test_alloc(1024), *bdb = yl_test_alloc(1024);
    yl_conv2d_params same3 = {.stride = 1, .pad = 1}, same1 = {.stride = 1, .pad = 0};
    yl_tensor x = yl_tensor_4d(bx, YL_DEVICE_CPU, 2, 4, 6, 6);
    yl_tensor w = yl_tensor_4d(bw, YL_DEVICE_CPU, 5, 4, 3, 3);
    yl_tensor y = yl_tensor_4d(by, YL_DEVICE_CPU, 2, 5, 6, 6);
    yl_tensor b = yl_tensor_1d(bb, YL_DEVICE_CPU, 5);
    yl_tensor dx = yl_tensor_4d(bdx, YL_DEVICE_CPU, 2, 4, 6, 6);
    yl_tensor dy = y;
    yl_tensor dw = yl_tensor_4d(bdw, YL_DEVICE_CPU, 5, 4, 3, 3);
    yl_tensor db = yl_tensor_1d(bdb, YL_DEVICE_CPU, 5);

    // The well-formed call succeeds, so the failures below are due to the one thing changed.
    CHECK_OK(yl_conv2d_forward(eng, &x, &w, &b, &y, &same3));

    yl_tensor w_channels = yl_tensor_4d(bw, YL_DEVICE_CPU, 5, 3, 3, 3);
    CHECK_STATUS(yl_conv2d_forward(eng, &x, &w_channels, NULL, &y, &same3), YL_ERR_SHAPE);
    CHECK_STATUS(yl_conv2d_backward_data(eng, &dy, &w_channels, &dx, &same3, false), YL_ERR_SHAPE);
    CHECK_STATUS(yl_conv2d_backward_weight(eng, &x, &dy, &w_channels, NULL, &same3, false), YL_ERR_SHAPE);

    yl_tensor y_size = yl_tensor_4d(by, YL_DEVICE_CPU, 2, 5, 5, 6);
    yl_tensor y_channels = yl_tensor_4d(by, YL_DEVICE_CPU, 2, 4, 6, 6);
    yl_tensor y_batch = yl_tensor_4d(by, YL_DEVICE_CPU, 1, 5, 6, 6);
    CHECK_STATUS(yl_conv2d_forward(eng, &x, &w, NULL, &y_size, &same3), YL_ERR_SHAPE);
    CHECK_STATUS(yl_conv2d_forward(eng, &x, &w, NULL, &y_channels, &same3), YL_ERR_SHAPE);
    CHECK_STATUS(yl_conv2d_forward(eng, &x, &w, NULL, &y_batch, &same3), YL_ERR_SHAPE);
    yl_conv2d_params stride2 = {.stride = 2, .pad = 1};
    CHECK_STATUS(yl_conv2d_forward(eng, &x, &w, NULL, &y, &stride2), YL_ERR_SHAPE);  // y should be 3x3
    CHECK_STATUS(yl_conv2d_backward_data(eng, &y_size, &w, &dx, &same3, false), YL_ERR_SHAPE);
    CHECK_STATUS(yl_conv2d_backward_weight(eng, &x, &y_size, &dw, NULL, &same3, false), YL_ERR_SHAPE);

    yl_conv2d_params stride3 = {.stride = 3, .pad = 1};
    yl_tensor y3 = yl_tensor_4d(by, YL_DEVICE_CPU, 2, 5, 2, 2);
    CHECK_STATUS(yl_conv2d_forward(eng, &x, &w, NULL, &y3, &stride3), YL_ERR_UNSUPPORTED);
    CHECK_STATUS(yl_conv2d_backward_data(eng, &y3, &w, &dx, &stride3, false), YL_ERR_UNSUPPORTED);
    CHECK_STATUS(yl_conv2d_backward_weight(eng, &x, &y3, &dw, NULL, &stride3, false), YL_ERR_UNSUPPORTED);

    yl_tensor w5 = yl_tensor_4d(bw, YL_DEVICE_CPU, 5, 4, 5, 5);
    yl_conv2d_params same5 = {.stride = 1, .pad = 2};
    CHECK_STATUS(yl_conv2d_forward(eng, &x, &w5, NULL, &y, &same5), YL_ERR_UNSUPPORTED);
    CHECK_STATUS(yl_conv2d_backward_weight(eng, &x, &dy, &w5, NULL, &same5, false), YL_ERR_UNSUPPORTED);
    yl_tensor w31 = yl_tensor_4d(bw, YL_DEVICE_CPU, 5, 4, 3, 1);
    CHECK_STATUS(yl_conv2d_forward(eng, &x, &w31, NULL, &y, &same3), YL_ERR_UNSUPPORTED);
    CHECK_STATUS(yl_conv2d_backward_data(eng, &dy, &w31, &dx, &same3, false), YL_ERR_UNSUPPORTED);

    yl_conv2d_params no_pad = {.stride = 1, .pad = 0};
    yl_tensor y_valid = yl_tensor_4d(by, YL_DEVICE_CPU, 2, 5, 4, 4);
    CHECK_STATUS(yl_conv2d_forward(eng, &x, &w, NULL, &y_valid, &no_pad), YL_ERR_UNSUPPORTED);
    yl_tensor w1 = yl_tensor_4d(bw, YL_DEVICE_CPU, 5, 4, 1, 1);
    yl_conv2d_params pad1_k1 = {.stride = 1, .pad = 1};
    yl_tensor y_padded = yl_tensor_4d(by, YL_DEVICE_CPU, 2, 5, 8, 8);
    CHECK_STATUS(yl_conv2d_forward(eng, &x, &w1, NULL, &y_padded, &pad1_k1), YL_ERR_UNSUPPORTED);
    CHECK_OK(yl_conv2d_forward(eng, &x, &w1, NULL, &y, &same1));

    CHECK_STATUS(yl_conv2d_forward(eng, &x, &w, NULL, &y, NULL), YL_ERR_INVALID_ARG);
    CHECK_STATUS(yl_conv2d_forward(NULL, &x, &w, NULL, &y, &same3), YL_ERR_INVALID_ARG);
    CHECK_STATUS(yl_conv2d_forward(eng, NULL, &w, NULL, &y, &same3), YL_ERR_INVALID_ARG);
    CHECK_STATUS(yl_conv2d_forward(eng, &x, NULL, NULL, &y, &same3), YL_ERR_INVALID_ARG);
    CHECK_STATUS(yl_conv2d_forward(eng, &x, &w, NULL, NULL, &same3), YL_ERR_INVALID_ARG);
    CHECK_STATUS(yl_conv2d_backward_data(eng, NULL, &w, &dx, &same3, false), YL_ERR_INVALID_ARG);
    CHECK_STATUS(yl_conv2d_backward_data(eng, &dy, NULL, &dx, &same3, false), YL_ERR_INVALID_ARG);
    CHECK_STATUS(yl_conv2d_backward_data(eng, &dy, &w, NULL, &same3, false), YL_ERR_INVALID_ARG);
    CHECK_STATUS(yl_conv2d_backward_weight(eng, NULL, &dy, &dw, NULL, &same3, false), YL_ERR_INVALID_ARG);
    CHECK_STATUS(yl_conv2d_backward_weight(eng, &x, NULL, &dw, NULL, &same3, false), YL_ERR_INVALID_ARG);
    CHECK_STATUS(yl_conv2d_backward_weight(eng, &x, &dy, NULL, NULL, &same3, false), YL_ERR_INVALID_ARG);
    yl_tensor no_data = x;
    no_data.data = NULL;
    CHECK_STATUS(yl_conv2d_forward(eng, &no_data, &w, NULL, &y, &same3), YL_ERR_INVALID_ARG);

    yl_tensor b_short = yl_tensor_1d(bb, YL_DEVICE_CPU, 4);
    yl_tensor b_2d = yl_tensor_4d(bb, YL_DEVICE_CPU, 1, 5, 1, 1);
    CHECK_STATUS(yl_conv2d_forward(eng, &x, &w, &b_short, &y, &same3), YL_ERR_SHAPE);
    CHECK_STATUS(yl_conv2d_forward(eng, &x, &w, &b_2d, &y, &same3), YL_ERR_SHAPE);
    CHECK_STATUS(yl_conv2d_backward_weight(eng, &x, &dy, &dw, &b_short, &same3, false), YL_ERR_SHAPE);
    CHECK_OK(yl_conv2d_backward_weight(eng, &x, &dy, &dw, &db, &same3, false));

    yl_tensor x_f16 = x;
    x_f16.dtype = YL_F16;
    CHECK_STATUS(yl_conv2d_forward(eng, &x_f16, &w, NULL, &y, &same3), YL_ERR_DTYPE);
    yl_tensor x_3d = yl_tensor_3d(bx, YL_DEVICE_CPU, 4, 6, 6);
    CHECK_STATUS(yl_conv2d_forward(eng, &x_3d, &w, NULL, &y, &same3), YL_ERR_SHAPE);
    free(bx), free(bw), free(by), free(bb), free(bdx), free(bdw), free(bdb);
}

int main(void) {
    yl_engine eng = yl_test_cpu_engine();
    yl_rng rng;
    yl_rng_seed(&rng, 20240601, 7);

    const conv_case cases[] = {
        // {batch, in, out, H, W, kernel, stride, bias}: k1/k3 x s1/s2 x bias/no bias, odd sizes
        {1, 3, 5, 7, 9, 3, 1, true},
        {3, 8, 4, 7, 9, 3, 1, false},
        {3, 8, 4, 5, 5, 3, 2, false},
        {3, 3, 5, 13, 11, 3, 2, true},
        {3, 3, 5, 13, 11, 1, 1, true},
        {1, 8, 4, 5, 5, 1, 1, false},
        {1, 8, 4, 7, 9, 1, 2, true},
        {3, 3, 5, 13, 11, 1, 2, false},
        // images smaller than the kernel's reach
        {1, 1, 1, 1, 1, 3, 1, true},
        {2, 2, 3, 2, 2, 3, 2, false},
        // rows wider than col2im's 256-pixel chunk
        {2, 2, 3, 3, 301, 3, 1, true},
        {1, 2, 3, 4, 300, 3, 2, false},
        // large enough for the parallel im2col / col2im paths
        {2, 16, 8, 20, 20, 3, 1, true},
        {2, 16, 8, 21, 19, 3, 2, false},
        {2, 32, 24, 9, 9, 1, 1, true},
        // column matrices over 2^18 floats: im2col + sgemm run in tiles of output rows (37 + 11, 38 + 2)
        {2, 16, 4, 48, 48, 3, 1, true},
        {1, 19, 4, 80, 79, 3, 2, false},
    };
    error_summary summary = {0};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) check_case(&eng, &rng, cases[i], &summary);
    printf("max scaled error vs naive (tolerance %.0e): y %.2e  dx %.2e  dw %.2e  dbias %.2e\n", REFERENCE_TOLERANCE,
           summary.forward, summary.data, summary.weight, summary.bias);
    printf("max finite-difference error (eps %g, tolerance %.0e, floor %.1f): dx %.2e  dw %.2e  dbias %.2e\n",
           (double)FD_EPS, FD_TOLERANCE, FD_FLOOR, summary.fd_data, summary.fd_weight, summary.fd_bias);

    check_bad_arguments(&eng);
    yl_engine_release(&eng);
    return yl_test_finish("test_conv2d");
}
