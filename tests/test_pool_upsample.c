// maxpool2d and nearest upsample x2 on the CPU backend, through the public yl_* API:
// - forward against naive loops (bit for bit: both only select values), for SPPF's 5/1/2 and
//   other windows, at odd sizes, images smaller than the window, and batch > 1;
// - backward against a naive scatter in double and against finite differences of L = sum(y * r);
//   max-pool inputs are distinct so no perturbation changes a winner;
// - ties route the gradient to the first maximum in scan order (PyTorch's choice), -inf and NaN
//   windows behave as in PyTorch (a NaN propagates; the last NaN takes the gradient);
// - accumulate = true equals overwrite plus old contents bit for bit (max-pool's overlapping
//   windows included); stale NaNs do not leak; results repeat with 1 and 2 threads;
// - bad arguments give the right status and a message.
#include <stdint.h>

#include "engine/core/threads.h"
#include "test_common.h"

// Backward sums of <= kernel^2 fp32 terms against a double reference.
#define REFERENCE_TOLERANCE 1e-6
// Inputs are multiples of 2^-10 below 2^13 and eps = 2^-6, so x +- eps is exact in fp32 and the
// ops only select or add: the finite difference is exact up to the double sum of L (~1e-12).
// Only a wrong gradient can exceed the tolerance.
#define FD_EPS 0.015625f
#define FD_TOLERANCE 1e-6
#define FD_FLOOR 0.1
#define FD_CHECKS 40

static double worst_reference = 0.0, worst_fd = 0.0;

// Multiples of 2^-10 in [-4, 4).
static float *random_dyadic(yl_rng *rng, size_t n) {
    float *p = yl_test_alloc(n);
    for (size_t i = 0; i < n; i++) p[i] = ((float)yl_rng_below(rng, 8192) - 4096.0f) / 1024.0f;
    return p;
}

// A random permutation of distinct multiples of 2^-4: no two values within 2 * FD_EPS.
static float *random_distinct(yl_rng *rng, size_t n) {
    float *p = yl_test_alloc(n);
    for (size_t i = 0; i < n; i++) p[i] = ((float)i - (float)(n / 2)) / 16.0f;
    for (size_t i = n - 1; i > 0; i--) {
        size_t j = yl_rng_below(rng, (uint32_t)(i + 1));
        float t = p[i];
        p[i] = p[j];
        p[j] = t;
    }
    return p;
}

// ---- max-pool -----------------------------------------------------------------------------------

typedef struct {
    int n, c, h, w, kernel, stride, pad;
} pool_case;

typedef struct {
    pool_case k;
    int oh, ow;
    size_t x_size, y_size;
    yl_maxpool2d_params params;
} pool_shape;

static pool_shape make_pool_shape(pool_case k) {
    pool_shape s = {.k = k, .params = {.kernel = k.kernel, .stride = k.stride, .pad = k.pad}};
    s.oh = (int)yl_conv_output_size(k.h, k.kernel, k.stride, k.pad);
    s.ow = (int)yl_conv_output_size(k.w, k.kernel, k.stride, k.pad);
    s.x_size = (size_t)k.n * k.c * k.h * k.w;
    s.y_size = (size_t)k.n * k.c * s.oh * s.ow;
    return s;
}

// Index (within the plane) of the first maximum of output (oh, ow)'s window, -inf padding.
static int naive_argmax(const pool_shape *s, const float *plane, int oh, int ow) {
    int best = -1;
    for (int kh = 0; kh < s->k.kernel; kh++)
        for (int kw = 0; kw < s->k.kernel; kw++) {
            int ih = oh * s->k.stride - s->k.pad + kh, iw = ow * s->k.stride - s->k.pad + kw;
            if (ih < 0 || ih >= s->k.h || iw < 0 || iw >= s->k.w) continue;
            int i = ih * s->k.w + iw;
            if (best < 0 || plane[i] > plane[best]) best = i;
        }
    return best;
}

static void naive_pool(const pool_shape *s, const float *x, const float *dy, float *y, double *dx) {
    const size_t in_plane = (size_t)s->k.h * s->k.w, out_plane = (size_t)s->oh * s->ow;
    for (size_t i = 0; i < s->x_size; i++) dx[i] = 0.0;
    for (size_t pl = 0; pl < (size_t)s->k.n * s->k.c; pl++)
        for (int oh = 0; oh < s->oh; oh++)
            for (int ow = 0; ow < s->ow; ow++) {
                int best = naive_argmax(s, x + pl * in_plane, oh, ow);
                y[pl * out_plane + (size_t)oh * s->ow + ow] = x[pl * in_plane + (size_t)best];
                dx[pl * in_plane + (size_t)best] += dy[pl * out_plane + (size_t)oh * s->ow + ow];
            }
}

typedef struct {
    yl_engine *eng;
    yl_tensor x, y;
    const yl_maxpool2d_params *params;  // NULL: upsample
    const float *r;
    size_t y_size;
} select_loss;

static double select_loss_fn(void *opaque) {
    select_loss *ctx = opaque;
    yl_status status = ctx->params ? yl_maxpool2d_forward(ctx->eng, &ctx->x, &ctx->y, ctx->params)
                                   : yl_upsample_nearest2x_forward(ctx->eng, &ctx->x, &ctx->y);
    if (status != YL_OK) return NAN;
    return yl_test_dot(ctx->y.data, ctx->r, ctx->y_size);
}

static void check_pool(yl_engine *eng, yl_rng *rng, pool_case k) {
    pool_shape s = make_pool_shape(k);
    char name[80];
    snprintf(name, sizeof name, "maxpool N%d C%d %dx%d k%d s%d p%d", k.n, k.c, k.h, k.w, k.kernel, k.stride, k.pad);
    float *x = random_distinct(rng, s.x_size), *r = random_dyadic(rng, s.y_size);
    float *y = yl_test_alloc(s.y_size), *y_ref = yl_test_alloc(s.y_size), *dx = yl_test_alloc(s.x_size);
    double *dx_ref = calloc(s.x_size, sizeof(double));
    if (!dx_ref) exit(2);
    yl_tensor tx = yl_tensor_4d(x, YL_DEVICE_CPU, k.n, k.c, k.h, k.w);
    yl_tensor ty = yl_tensor_4d(y, YL_DEVICE_CPU, k.n, k.c, s.oh, s.ow);
    yl_tensor tdy = yl_tensor_4d(r, YL_DEVICE_CPU, k.n, k.c, s.oh, s.ow);
    yl_tensor tdx = yl_tensor_4d(dx, YL_DEVICE_CPU, k.n, k.c, k.h, k.w);

    yl_test_fill_nan(y, s.y_size), yl_test_fill_nan(dx, s.x_size);
    CHECK_OK(yl_maxpool2d_forward(eng, &tx, &ty, &s.params));
    CHECK_OK(yl_maxpool2d_backward(eng, &tx, &tdy, &tdx, &s.params, false));
    naive_pool(&s, x, r, y_ref, dx_ref);
    CHECK(memcmp(y, y_ref, s.y_size * sizeof(float)) == 0, "%s: forward differs from the naive max", name);
    double e_dx = yl_test_scaled_error(dx, dx_ref, s.x_size);
    printf("%-36s backward vs naive %.2e\n", name, e_dx);
    CHECK(e_dx <= REFERENCE_TOLERANCE, "%s: backward error %.3e", name, e_dx);
    yl_test_track_worst(&worst_reference, e_dx);

    float *probe = yl_test_alloc(s.y_size);
    select_loss ctx = {.eng = eng, .x = tx, .y = ty, .params = &s.params, .r = r, .y_size = s.y_size};
    ctx.y.data = probe;
    double fd = yl_test_gradient_error(name, x, s.x_size, dx, select_loss_fn, &ctx, FD_EPS, FD_CHECKS, FD_FLOOR);
    CHECK(fd <= FD_TOLERANCE, "%s: dx vs finite differences %.3e", name, fd);
    yl_test_track_worst(&worst_fd, fd);

    float *prev = yl_test_random(rng, s.x_size, -2.0f, 2.0f), *acc = yl_test_alloc(s.x_size);
    memcpy(acc, prev, s.x_size * sizeof(float));
    yl_tensor tacc = tdx;
    tacc.data = acc;
    CHECK_OK(yl_maxpool2d_backward(eng, &tx, &tdy, &tacc, &s.params, true));
    size_t bad = yl_test_count_inexact_accumulation(acc, dx, prev, s.x_size);
    CHECK(bad == 0, "%s: accumulate differs from overwrite + previous at %zu of %zu", name, bad, s.x_size);

    float *again = yl_test_alloc(s.x_size > s.y_size ? s.x_size : s.y_size);
    int threads = yl_get_num_threads();
    for (int t = 0; t < 2; t++) {
        yl_set_num_threads(t == 0 ? threads : 1);
        yl_tensor tagain = ty;
        tagain.data = again;
        CHECK_OK(yl_maxpool2d_forward(eng, &tx, &tagain, &s.params));
        CHECK(memcmp(again, y, s.y_size * sizeof(float)) == 0, "%s: forward not repeatable", name);
        tagain = tdx;
        tagain.data = again;
        memcpy(again, prev, s.x_size * sizeof(float));
        CHECK_OK(yl_maxpool2d_backward(eng, &tx, &tdy, &tagain, &s.params, true));
        CHECK(memcmp(again, acc, s.x_size * sizeof(float)) == 0,
              "%s: accumulating backward not repeatable (%d threads)", name, yl_get_num_threads());
    }
    yl_set_num_threads(threads);
    free(x), free(r), free(y), free(y_ref), free(dx), free(dx_ref), free(probe), free(prev), free(acc), free(again);
}

// Ties, -inf and NaN: where does the gradient of each output go?
static void check_pool_ties(yl_engine *eng) {
    // A 4x4 plane of equal values, SPPF's window: each output routes to the first element of its
    // clipped window, (max(oh - 2, 0), max(ow - 2, 0)).
    float x[16], dy[16], dx[16];
    yl_maxpool2d_params sppf = {.kernel = 5, .stride = 1, .pad = 2};
    yl_tensor tx = yl_tensor_4d(x, YL_DEVICE_CPU, 1, 1, 4, 4), tdy = yl_tensor_4d(dy, YL_DEVICE_CPU, 1, 1, 4, 4);
    yl_tensor tdx = yl_tensor_4d(dx, YL_DEVICE_CPU, 1, 1, 4, 4);
    for (int i = 0; i < 16; i++) x[i] = 0.5f, dy[i] = (float)(1 << i);  // distinct bits say who sent what
    CHECK_OK(yl_maxpool2d_backward(eng, &tx, &tdy, &tdx, &sppf, false));
    float want[16] = {0};
    for (int oh = 0; oh < 4; oh++)
        for (int ow = 0; ow < 4; ow++) want[(oh > 2 ? oh - 2 : 0) * 4 + (ow > 2 ? ow - 2 : 0)] += dy[oh * 4 + ow];
    CHECK(memcmp(dx, want, sizeof want) == 0, "all-equal plane: gradient not at the first element of each window");

    // One 3x3 window (kernel 3, stride 3, no padding) with the maximum 3 at (0,1), (1,0), (1,2):
    // the first in scan order, (0,1), gets it all.
    float x2[9] = {1, 3, 2, 3, 0, 3, -5, -5, -5}, dy2[1] = {7}, dx2[9];
    yl_maxpool2d_params k3 = {.kernel = 3, .stride = 3, .pad = 0};
    yl_tensor tx2 = yl_tensor_4d(x2, YL_DEVICE_CPU, 1, 1, 3, 3), tdy2 = yl_tensor_4d(dy2, YL_DEVICE_CPU, 1, 1, 1, 1);
    yl_tensor tdx2 = yl_tensor_4d(dx2, YL_DEVICE_CPU, 1, 1, 3, 3);
    CHECK_OK(yl_maxpool2d_backward(eng, &tx2, &tdy2, &tdx2, &k3, false));
    const float want2[9] = {0, 7, 0, 0, 0, 0, 0, 0, 0};
    CHECK(memcmp(dx2, want2, sizeof want2) == 0, "tie: gradient went to %g %g %g / %g %g %g", (double)dx2[0],
          (double)dx2[1], (double)dx2[2], (double)dx2[3], (double)dx2[4], (double)dx2[5]);

    // A plane of -inf: the output is -inf (padding never wins), and the gradient goes to the first
    // real element of the window, as in PyTorch.
    for (int i = 0; i < 16; i++) x[i] = -INFINITY, dy[i] = 1.0f;
    float y[16];
    yl_tensor ty = yl_tensor_4d(y, YL_DEVICE_CPU, 1, 1, 4, 4);
    CHECK_OK(yl_maxpool2d_forward(eng, &tx, &ty, &sppf));
    int all_neg_inf = 1;
    for (int i = 0; i < 16; i++) all_neg_inf &= isinf(y[i]) && y[i] < 0;
    CHECK(all_neg_inf, "-inf plane: output not -inf");
    CHECK_OK(yl_maxpool2d_backward(eng, &tx, &tdy, &tdx, &sppf, false));
    for (int i = 0; i < 16; i++) want[i] = 0.0f;
    for (int oh = 0; oh < 4; oh++)
        for (int ow = 0; ow < 4; ow++) want[(oh > 2 ? oh - 2 : 0) * 4 + (ow > 2 ? ow - 2 : 0)] += 1.0f;
    CHECK(memcmp(dx, want, sizeof want) == 0, "-inf plane: gradient not at the first element of each window");

    // NaN propagates, and the last NaN in scan order takes the gradient, as in PyTorch (each NaN
    // replaces the current winner).
    float x3[4] = {1.0f, NAN, 2.0f, 0.0f}, y3[1], dy3[1] = {3.0f}, dx3[4];
    yl_maxpool2d_params k2 = {.kernel = 2, .stride = 2, .pad = 0};
    yl_tensor tx3 = yl_tensor_4d(x3, YL_DEVICE_CPU, 1, 1, 2, 2), ty3 = yl_tensor_4d(y3, YL_DEVICE_CPU, 1, 1, 1, 1);
    yl_tensor tdy3 = yl_tensor_4d(dy3, YL_DEVICE_CPU, 1, 1, 1, 1), tdx3 = yl_tensor_4d(dx3, YL_DEVICE_CPU, 1, 1, 2, 2);
    CHECK_OK(yl_maxpool2d_forward(eng, &tx3, &ty3, &k2));
    CHECK(isnan(y3[0]), "NaN in the window: output %g", (double)y3[0]);
    const float x4[4] = {NAN, 1.0f, NAN, 5.0f}, want4[4] = {0, 0, 3.0f, 0};
    memcpy(x3, x4, sizeof x4);
    CHECK_OK(yl_maxpool2d_backward(eng, &tx3, &tdy3, &tdx3, &k2, false));
    CHECK(memcmp(dx3, want4, sizeof want4) == 0, "two NaNs: gradient %g %g %g %g, want it on the second",
          (double)dx3[0], (double)dx3[1], (double)dx3[2], (double)dx3[3]);
}

// ---- upsample -----------------------------------------------------------------------------------

typedef struct {
    int n, c, h, w;
} up_case;

static void check_upsample(yl_engine *eng, yl_rng *rng, up_case k) {
    char name[64];
    snprintf(name, sizeof name, "upsample N%d C%d %dx%d", k.n, k.c, k.h, k.w);
    const size_t x_size = (size_t)k.n * k.c * k.h * k.w, y_size = 4 * x_size;
    float *x = random_dyadic(rng, x_size), *r = random_dyadic(rng, y_size);
    float *y = yl_test_alloc(y_size), *dx = yl_test_alloc(x_size);
    double *dx_ref = calloc(x_size, sizeof(double));
    if (!dx_ref) exit(2);
    yl_tensor tx = yl_tensor_4d(x, YL_DEVICE_CPU, k.n, k.c, k.h, k.w);
    yl_tensor ty = yl_tensor_4d(y, YL_DEVICE_CPU, k.n, k.c, 2 * k.h, 2 * k.w);
    yl_tensor tdy = yl_tensor_4d(r, YL_DEVICE_CPU, k.n, k.c, 2 * k.h, 2 * k.w);
    yl_tensor tdx = yl_tensor_4d(dx, YL_DEVICE_CPU, k.n, k.c, k.h, k.w);
    yl_test_fill_nan(y, y_size), yl_test_fill_nan(dx, x_size);
    CHECK_OK(yl_upsample_nearest2x_forward(eng, &tx, &ty));
    CHECK_OK(yl_upsample_nearest2x_backward(eng, &tdy, &tdx, false));

    size_t wrong = 0;
    for (size_t pl = 0; pl < (size_t)k.n * k.c; pl++)
        for (int i = 0; i < 2 * k.h; i++)
            for (int j = 0; j < 2 * k.w; j++) {
                size_t yi = (pl * 2 * k.h + i) * 2 * k.w + j, xi = (pl * k.h + i / 2) * k.w + j / 2;
                if (memcmp(&y[yi], &x[xi], sizeof(float)) != 0) wrong++;
                dx_ref[xi] += r[yi];
            }
    CHECK(wrong == 0, "%s: forward differs from x[i/2][j/2] at %zu of %zu", name, wrong, y_size);
    double e_dx = yl_test_scaled_error(dx, dx_ref, x_size);
    printf("%-36s backward vs naive %.2e\n", name, e_dx);
    CHECK(e_dx <= REFERENCE_TOLERANCE, "%s: backward error %.3e", name, e_dx);
    yl_test_track_worst(&worst_reference, e_dx);

    float *probe = yl_test_alloc(y_size);
    select_loss ctx = {.eng = eng, .x = tx, .y = ty, .params = NULL, .r = r, .y_size = y_size};
    ctx.y.data = probe;
    double fd = yl_test_gradient_error(name, x, x_size, dx, select_loss_fn, &ctx, FD_EPS, FD_CHECKS, FD_FLOOR);
    CHECK(fd <= FD_TOLERANCE, "%s: dx vs finite differences %.3e", name, fd);
    yl_test_track_worst(&worst_fd, fd);

    float *prev = yl_test_random(rng, x_size, -2.0f, 2.0f), *acc = yl_test_alloc(x_size);
    memcpy(acc, prev, x_size * sizeof(float));
    yl_tensor tacc = tdx;
    tacc.data = acc;
    CHECK_OK(yl_upsample_nearest2x_backward(eng, &tdy, &tacc, true));
    size_t bad = yl_test_count_inexact_accumulation(acc, dx, prev, x_size);
    CHECK(bad == 0, "%s: accumulate differs from overwrite + previous at %zu of %zu", name, bad, x_size);

    int threads = yl_get_num_threads();
    yl_set_num_threads(1);
    yl_tensor tagain = ty;
    tagain.data = probe;
    CHECK_OK(yl_upsample_nearest2x_forward(eng, &tx, &tagain));
    CHECK(memcmp(probe, y, y_size * sizeof(float)) == 0, "%s: forward differs with 1 thread", name);
    tagain = tdx;
    tagain.data = probe;
    CHECK_OK(yl_upsample_nearest2x_backward(eng, &tdy, &tagain, false));
    CHECK(memcmp(probe, dx, x_size * sizeof(float)) == 0, "%s: backward differs with 1 thread", name);
    yl_set_num_threads(threads);
    free(x), free(r), free(y), free(dx), free(dx_ref), free(probe), free(prev), free(acc);
}

// ---- bad arguments ----------------------------------------------------------------------------

static void check_bad_arguments(yl_engine *eng) {
    float *bx = yl_test_alloc(1024), *by = yl_test_alloc(1024), *bdx = yl_test_alloc(1024);
    yl_maxpool2d_params sppf = {.kernel = 5, .stride = 1, .pad = 2};
    yl_tensor x = yl_tensor_4d(bx, YL_DEVICE_CPU, 2, 3, 5, 7), y = yl_tensor_4d(by, YL_DEVICE_CPU, 2, 3, 5, 7);
    yl_tensor dx = yl_tensor_4d(bdx, YL_DEVICE_CPU, 2, 3, 5, 7);
    CHECK_OK(yl_maxpool2d_forward(eng, &x, &y, &sppf));
    CHECK_OK(yl_maxpool2d_backward(eng, &x, &y, &dx, &sppf, false));

    yl_tensor y_small = yl_tensor_4d(by, YL_DEVICE_CPU, 2, 3, 4, 7),
              y_channels = yl_tensor_4d(by, YL_DEVICE_CPU, 2, 2, 5, 7);
    yl_tensor y_batch = yl_tensor_4d(by, YL_DEVICE_CPU, 1, 3, 5, 7),
              dx_other = yl_tensor_4d(bdx, YL_DEVICE_CPU, 2, 3, 7, 5);
    CHECK_STATUS(yl_maxpool2d_forward(eng, &x, &y_small, &sppf), YL_ERR_SHAPE);
    CHECK_STATUS(yl_maxpool2d_forward(eng, &x, &y_channels, &sppf), YL_ERR_SHAPE);
    CHECK_STATUS(yl_maxpool2d_forward(eng, &x, &y_batch, &sppf), YL_ERR_SHAPE);
    CHECK_STATUS(yl_maxpool2d_backward(eng, &x, &y_small, &dx, &sppf, false), YL_ERR_SHAPE);
    CHECK_STATUS(yl_maxpool2d_backward(eng, &x, &y, &dx_other, &sppf, false), YL_ERR_SHAPE);

    // Padding beyond half the window would create all-padding windows; a window larger than
    // the padded input leaves no output at all.
    yl_maxpool2d_params big_pad = {.kernel = 5, .stride = 1, .pad = 3},
                        no_kernel = {.kernel = 0, .stride = 1, .pad = 0};
    yl_maxpool2d_params no_stride = {.kernel = 3, .stride = 0, .pad = 1},
                        neg_pad = {.kernel = 3, .stride = 1, .pad = -1};
    yl_maxpool2d_params huge = {.kernel = 9, .stride = 1, .pad = 0};
    yl_tensor y_big = yl_tensor_4d(by, YL_DEVICE_CPU, 2, 3, 7, 9);
    CHECK_STATUS(yl_maxpool2d_forward(eng, &x, &y_big, &big_pad), YL_ERR_INVALID_ARG);
    CHECK_STATUS(yl_maxpool2d_forward(eng, &x, &y, &no_kernel), YL_ERR_INVALID_ARG);
    CHECK_STATUS(yl_maxpool2d_backward(eng, &x, &y, &dx, &no_stride, false), YL_ERR_INVALID_ARG);
    CHECK_STATUS(yl_maxpool2d_forward(eng, &x, &y, &neg_pad), YL_ERR_INVALID_ARG);
    yl_tensor y_none = yl_tensor_4d(by, YL_DEVICE_CPU, 2, 3, 1, 1);
    CHECK_STATUS(yl_maxpool2d_forward(eng, &x, &y_none, &huge), YL_ERR_SHAPE);
    CHECK_STATUS(yl_maxpool2d_backward(eng, &x, &y_none, &dx, &huge, false), YL_ERR_SHAPE);

    CHECK_STATUS(yl_maxpool2d_forward(eng, &x, &y, NULL), YL_ERR_INVALID_ARG);
    CHECK_STATUS(yl_maxpool2d_forward(NULL, &x, &y, &sppf), YL_ERR_INVALID_ARG);
    CHECK_STATUS(yl_maxpool2d_forward(eng, NULL, &y, &sppf), YL_ERR_INVALID_ARG);
    CHECK_STATUS(yl_maxpool2d_forward(eng, &x, NULL, &sppf), YL_ERR_INVALID_ARG);
    CHECK_STATUS(yl_maxpool2d_backward(eng, &x, NULL, &dx, &sppf, false), YL_ERR_INVALID_ARG);
    CHECK_STATUS(yl_maxpool2d_backward(eng, &x, &y, NULL, &sppf, false), YL_ERR_INVALID_ARG);
    yl_tensor x_f16 = x, x_3d = yl_tensor_3d(bx, YL_DEVICE_CPU, 6, 5, 7);
    x_f16.dtype = YL_F16;
    CHECK_STATUS(yl_maxpool2d_forward(eng, &x_f16, &y, &sppf), YL_ERR_DTYPE);
    CHECK_STATUS(yl_maxpool2d_forward(eng, &x_3d, &y, &sppf), YL_ERR_SHAPE);

    // Upsample: the output must be exactly twice the input in height and width.
    yl_tensor up = yl_tensor_4d(by, YL_DEVICE_CPU, 2, 3, 10, 14);
    CHECK_OK(yl_upsample_nearest2x_forward(eng, &x, &up));
    CHECK_OK(yl_upsample_nearest2x_backward(eng, &up, &dx, false));
    yl_tensor up_odd = yl_tensor_4d(by, YL_DEVICE_CPU, 2, 3, 11, 14),
              up_same = yl_tensor_4d(by, YL_DEVICE_CPU, 2, 3, 5, 7);
    yl_tensor up_channels = yl_tensor_4d(by, YL_DEVICE_CPU, 2, 4, 10, 14),
              up_batch = yl_tensor_4d(by, YL_DEVICE_CPU, 1, 3, 10, 14);
    yl_tensor up_x4 = yl_tensor_4d(by, YL_DEVICE_CPU, 2, 3, 20, 28);
    CHECK_STATUS(yl_upsample_nearest2x_forward(eng, &x, &up_odd), YL_ERR_SHAPE);
    CHECK_STATUS(yl_upsample_nearest2x_forward(eng, &x, &up_same), YL_ERR_SHAPE);
    CHECK_STATUS(yl_upsample_nearest2x_forward(eng, &x, &up_channels), YL_ERR_SHAPE);
    CHECK_STATUS(yl_upsample_nearest2x_forward(eng, &x, &up_batch), YL_ERR_SHAPE);
    CHECK_STATUS(yl_upsample_nearest2x_forward(eng, &x, &up_x4), YL_ERR_SHAPE);
    CHECK_STATUS(yl_upsample_nearest2x_backward(eng, &up_odd, &dx, false), YL_ERR_SHAPE);
    CHECK_STATUS(yl_upsample_nearest2x_backward(eng, &up, &dx_other, true), YL_ERR_SHAPE);
    CHECK_STATUS(yl_upsample_nearest2x_forward(eng, &x, NULL), YL_ERR_INVALID_ARG);
    CHECK_STATUS(yl_upsample_nearest2x_forward(eng, NULL, &up), YL_ERR_INVALID_ARG);
    CHECK_STATUS(yl_upsample_nearest2x_backward(eng, &up, NULL, false), YL_ERR_INVALID_ARG);
    CHECK_STATUS(yl_upsample_nearest2x_forward(eng, &x_f16, &up), YL_ERR_DTYPE);
    CHECK_STATUS(yl_upsample_nearest2x_forward(eng, &x_3d, &up), YL_ERR_SHAPE);
    free(bx), free(by), free(bdx);
}

int main(void) {
    yl_engine eng = yl_test_cpu_engine();
    yl_rng rng;
    yl_rng_seed(&rng, 20240604, 17);
    const pool_case pools[] = {
        // {N, C, H, W, kernel, stride, pad}
        {2, 3, 5, 7, 5, 1, 2},  // SPPF
        {1, 2, 13, 11, 5, 1, 2},
        {3, 2, 3, 3, 5, 1, 2},  // image smaller than the window
        {2, 1, 1, 1, 5, 1, 2},
        {2, 3, 7, 9, 2, 2, 0},  // odd sizes drop the last row and column
        {1, 2, 6, 8, 2, 2, 0},
        {2, 2, 13, 11, 3, 2, 1},
        {1, 3, 5, 7, 3, 1, 1},
        {2, 2, 5, 7, 4, 1, 2},  // even kernel: one more row and column out
        {1, 2, 4, 5, 1, 1, 0},
        {2, 16, 33, 32, 5, 1, 2},  // large enough for the parallel loops
    };
    for (size_t i = 0; i < sizeof pools / sizeof pools[0]; i++) check_pool(&eng, &rng, pools[i]);
    check_pool_ties(&eng);
    const up_case ups[] = {{1, 1, 1, 1}, {2, 3, 5, 7}, {1, 2, 3, 3}, {3, 2, 13, 11}, {2, 16, 20, 21}};
    for (size_t i = 0; i < sizeof ups / sizeof ups[0]; i++) check_upsample(&eng, &rng, ups[i]);
    printf("max backward error vs naive %.2e (tolerance %.0e)\n", worst_reference, REFERENCE_TOLERANCE);
    printf("max finite-difference error %.2e (eps 2^-6 on dyadic inputs, tolerance %.0e, floor %.1f)\n", worst_fd,
           FD_TOLERANCE, FD_FLOOR);
    check_bad_arguments(&eng);
    yl_engine_release(&eng);
    return yl_test_finish("test_pool_upsample");
}
