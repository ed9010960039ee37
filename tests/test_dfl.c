// DFL decode on the CPU backend, through the public yl_* API:
// - forward and backward against double-precision softmax expectations, for R = 16 (YOLOv8),
//   R = 2 and odd R, anchor counts that are not multiples of the CPU's 64-anchor block, batch > 1;
// - backward against finite differences of L = sum(y * r);
// - huge logits (|x| up to 1e30) give finite results: a dominant bin gives exactly its index,
//   equal logits give exactly (R - 1) / 2;
// - accumulate = true equals overwrite plus old contents bit for bit; stale NaNs do not leak;
//   results repeat with 1 and 2 threads;
// - bad arguments (channels not 4 * bins, wrong y/dy/dx shapes, NULL, dtype, rank) give the
//   right status and a message.
#include <stdint.h>

#include "engine/core/threads.h"
#include "test_common.h"

// Scaled error (max |got - want| / max |want|) against double: a softmax over <= 16 bins in fp32
// with expf and a division: a few ulps of y (<= 15), ~1e-7 of the largest value.
#define REFERENCE_TOLERANCE 1e-6
// Finite differences with eps = 1e-2 on logits in [-3, 3]. Truncation: eps^2 / 6 * |d^3 y / dx^3|
// with |d^3 y / dx_k^3| <= |k - y| * p_k <= ~2: <= 4e-5 absolute. Rounding of y (<= 15, a few ulps
// of 1e-6) over 2 eps: ~1e-4 absolute. Relative to max(|g|, FD_FLOOR = 0.1): ~1.5e-3 (measured
// worst 7e-4; eps = 1e-3 measured 7e-3, rounding-bound). The tolerance leaves ~3x margin.
#define FD_EPS 1e-2f
#define FD_TOLERANCE 5e-3
#define FD_FLOOR 0.1
#define FD_CHECKS 40

static double worst_forward = 0.0, worst_backward = 0.0, worst_fd = 0.0;

typedef struct {
    int batch, bins, anchors;
} dfl_case;

// Double-precision forward and backward (dy given) straight from the definition.
static void reference(const dfl_case *k, const float *x, const float *dy, double *y, double *dx) {
    const int R = k->bins, A = k->anchors;
    double p[64];
    for (int b = 0; b < k->batch; b++)
        for (int side = 0; side < 4; side++)
            for (int a = 0; a < A; a++) {
                const float *logits = x + ((size_t)b * 4 * R + (size_t)side * R) * A + a;
                double m = logits[0], sum = 0.0, e = 0.0;
                for (int j = 1; j < R; j++) m = fmax(m, logits[(size_t)j * A]);
                for (int j = 0; j < R; j++) sum += p[j] = exp(logits[(size_t)j * A] - m);
                for (int j = 0; j < R; j++) e += j * (p[j] /= sum);
                size_t yi = ((size_t)b * 4 + side) * A + a;
                y[yi] = e;
                for (int j = 0; j < R; j++)
                    dx[((size_t)b * 4 * R + (size_t)side * R + j) * A + a] = p[j] * (j - e) * dy[yi];
            }
}

typedef struct {
    yl_engine *eng;
    yl_tensor x, y;
    const float *r;
    size_t y_size;
} dfl_loss;

static double dfl_loss_fn(void *opaque) {
    dfl_loss *ctx = opaque;
    if (yl_dfl_decode_forward(ctx->eng, &ctx->x, &ctx->y) != YL_OK) return NAN;
    return yl_test_dot(ctx->y.data, ctx->r, ctx->y_size);
}

static void check_case(yl_engine *eng, yl_rng *rng, dfl_case k) {
    char name[64];
    snprintf(name, sizeof name, "B%d R%d A%d", k.batch, k.bins, k.anchors);
    const size_t x_size = (size_t)k.batch * 4 * k.bins * k.anchors, y_size = (size_t)k.batch * 4 * k.anchors;
    float *x = yl_test_random(rng, x_size, -3.0f, 3.0f), *r = yl_test_random(rng, y_size, -1.0f, 1.0f);
    float *y = yl_test_alloc(y_size), *dx = yl_test_alloc(x_size);
    double *y_ref = calloc(y_size, sizeof(double)), *dx_ref = calloc(x_size, sizeof(double));
    if (!y_ref || !dx_ref) exit(2);
    yl_tensor tx = yl_tensor_3d(x, YL_DEVICE_CPU, k.batch, 4 * k.bins, k.anchors);
    yl_tensor ty = yl_tensor_3d(y, YL_DEVICE_CPU, k.batch, 4, k.anchors);
    yl_tensor tdy = yl_tensor_3d(r, YL_DEVICE_CPU, k.batch, 4, k.anchors);
    yl_tensor tdx = yl_tensor_3d(dx, YL_DEVICE_CPU, k.batch, 4 * k.bins, k.anchors);

    yl_test_fill_nan(y, y_size), yl_test_fill_nan(dx, x_size);
    CHECK_OK(yl_dfl_decode_forward(eng, &tx, &ty));
    CHECK_OK(yl_dfl_decode_backward(eng, &tx, &tdy, &tdx, false));
    reference(&k, x, r, y_ref, dx_ref);
    double e_y = yl_test_scaled_error(y, y_ref, y_size), e_dx = yl_test_scaled_error(dx, dx_ref, x_size);
    printf("%-18s vs double: y %.2e  dx %.2e\n", name, e_y, e_dx);
    CHECK(e_y <= REFERENCE_TOLERANCE && e_dx <= REFERENCE_TOLERANCE, "%s: y %.3e dx %.3e", name, e_y, e_dx);
    yl_test_track_worst(&worst_forward, e_y);
    yl_test_track_worst(&worst_backward, e_dx);

    float *probe = yl_test_alloc(y_size);
    dfl_loss ctx = {.eng = eng, .x = tx, .y = ty, .r = r, .y_size = y_size};
    ctx.y.data = probe;
    double fd = yl_test_gradient_error(name, x, x_size, dx, dfl_loss_fn, &ctx, FD_EPS, FD_CHECKS, FD_FLOOR);
    CHECK(fd <= FD_TOLERANCE, "%s: dx vs finite differences %.3e", name, fd);
    yl_test_track_worst(&worst_fd, fd);

    float *prev = yl_test_random(rng, x_size, -2.0f, 2.0f), *acc = yl_test_alloc(x_size);
    memcpy(acc, prev, x_size * sizeof(float));
    yl_tensor tacc = tdx;
    tacc.data = acc;
    CHECK_OK(yl_dfl_decode_backward(eng, &tx, &tdy, &tacc, true));
    size_t bad = yl_test_count_inexact_accumulation(acc, dx, prev, x_size);
    CHECK(bad == 0, "%s: accumulate differs from overwrite + previous at %zu of %zu", name, bad, x_size);

    float *again = yl_test_alloc(x_size);
    int threads = yl_get_num_threads();
    for (int t = 0; t < 2; t++) {
        yl_set_num_threads(t == 0 ? threads : 1);
        yl_tensor tagain = ty;
        tagain.data = again;
        CHECK_OK(yl_dfl_decode_forward(eng, &tx, &tagain));
        CHECK(memcmp(again, y, y_size * sizeof(float)) == 0, "%s: forward not repeatable (%d threads)", name,
              yl_get_num_threads());
        tagain = tdx;
        tagain.data = again;
        CHECK_OK(yl_dfl_decode_backward(eng, &tx, &tdy, &tagain, false));
        CHECK(memcmp(again, dx, x_size * sizeof(float)) == 0, "%s: backward not repeatable (%d threads)", name,
              yl_get_num_threads());
    }
    yl_set_num_threads(threads);
    free(x), free(r), free(y), free(dx), free(y_ref), free(dx_ref), free(probe), free(prev), free(acc), free(again);
}

// Logits far beyond expf's range: the max-subtracted softmax stays finite.
static void check_extremes(yl_engine *eng) {
    enum { R = 16, A = 3 };
    float x[4 * R * A], y[4 * A], dy[4 * A], dx[4 * R * A];
    // side 0: bin 5 dominates by 1e30; side 1: all equal at 1e30; side 2: all equal at -1e30;
    // side 3: bin 15 at 1e4, others at -1e4. Anchors differ only by a shift, which softmax ignores.
    for (int a = 0; a < A; a++) {
        float shift = (float)a * 100.0f;
        for (int j = 0; j < R; j++) {
            x[(0 * R + j) * A + a] = (j == 5 ? 1e30f : -1e30f);
            x[(1 * R + j) * A + a] = 1e30f;
            x[(2 * R + j) * A + a] = -1e30f;
            x[(3 * R + j) * A + a] = (j == 15 ? 1e4f : -1e4f) + shift;
        }
    }
    for (int i = 0; i < 4 * A; i++) dy[i] = 1.0f;
    yl_tensor tx = yl_tensor_3d(x, YL_DEVICE_CPU, 1, 4 * R, A), ty = yl_tensor_3d(y, YL_DEVICE_CPU, 1, 4, A);
    yl_tensor tdy = yl_tensor_3d(dy, YL_DEVICE_CPU, 1, 4, A), tdx = yl_tensor_3d(dx, YL_DEVICE_CPU, 1, 4 * R, A);
    CHECK_OK(yl_dfl_decode_forward(eng, &tx, &ty));
    CHECK_OK(yl_dfl_decode_backward(eng, &tx, &tdy, &tdx, false));
    const float want[4] = {5.0f, 7.5f, 7.5f, 15.0f};
    for (int side = 0; side < 4; side++)
        for (int a = 0; a < A; a++)
            CHECK(y[side * A + a] == want[side], "extreme logits side %d anchor %d: y = %g, want %g", side, a,
                  (double)y[side * A + a], (double)want[side]);
    int finite = 1;
    for (int i = 0; i < 4 * R * A; i++) finite &= isfinite(dx[i]);
    CHECK(finite, "extreme logits: non-finite gradient");
    // A saturated softmax has zero gradient.
    CHECK(dx[(0 * R + 5) * A] == 0.0f && dx[(3 * R + 15) * A] == 0.0f, "saturated softmax: gradient %g %g",
          (double)dx[(0 * R + 5) * A], (double)dx[(3 * R + 15) * A]);
}

static void check_bad_arguments(yl_engine *eng) {
    float *bx = yl_test_alloc(4096), *by = yl_test_alloc(1024), *bdx = yl_test_alloc(4096);
    yl_tensor x = yl_tensor_3d(bx, YL_DEVICE_CPU, 2, 64, 7), y = yl_tensor_3d(by, YL_DEVICE_CPU, 2, 4, 7);
    yl_tensor dx = yl_tensor_3d(bdx, YL_DEVICE_CPU, 2, 64, 7);
    CHECK_OK(yl_dfl_decode_forward(eng, &x, &y));
    CHECK_OK(yl_dfl_decode_backward(eng, &x, &y, &dx, false));

    yl_tensor x_62 = yl_tensor_3d(bx, YL_DEVICE_CPU, 2, 62, 7), x_4 = yl_tensor_3d(bx, YL_DEVICE_CPU, 2, 4, 7);
    yl_tensor dx_62 = yl_tensor_3d(bdx, YL_DEVICE_CPU, 2, 62, 7);
    CHECK_STATUS(yl_dfl_decode_forward(eng, &x_62, &y), YL_ERR_SHAPE);
    CHECK_STATUS(yl_dfl_decode_forward(eng, &x_4, &y), YL_ERR_SHAPE);  // one bin per side
    CHECK_STATUS(yl_dfl_decode_backward(eng, &x_62, &y, &dx_62, false), YL_ERR_SHAPE);

    yl_tensor y_anchors = yl_tensor_3d(by, YL_DEVICE_CPU, 2, 4, 8), y_sides = yl_tensor_3d(by, YL_DEVICE_CPU, 2, 3, 7);
    yl_tensor y_batch = yl_tensor_3d(by, YL_DEVICE_CPU, 1, 4, 7),
              dx_other = yl_tensor_3d(bdx, YL_DEVICE_CPU, 2, 32, 14);
    CHECK_STATUS(yl_dfl_decode_forward(eng, &x, &y_anchors), YL_ERR_SHAPE);
    CHECK_STATUS(yl_dfl_decode_forward(eng, &x, &y_sides), YL_ERR_SHAPE);
    CHECK_STATUS(yl_dfl_decode_forward(eng, &x, &y_batch), YL_ERR_SHAPE);
    CHECK_STATUS(yl_dfl_decode_backward(eng, &x, &y_anchors, &dx, false), YL_ERR_SHAPE);
    CHECK_STATUS(yl_dfl_decode_backward(eng, &x, &y, &dx_other, true), YL_ERR_SHAPE);

    yl_tensor x_4d = yl_tensor_4d(bx, YL_DEVICE_CPU, 2, 64, 7, 1),
              y_2d = yl_tensor_view(by, YL_F32, YL_DEVICE_CPU, 2, (int64_t[]){8, 7});
    CHECK_STATUS(yl_dfl_decode_forward(eng, &x_4d, &y), YL_ERR_SHAPE);
    CHECK_STATUS(yl_dfl_decode_forward(eng, &x, &y_2d), YL_ERR_SHAPE);
    yl_tensor x_f16 = x, dy_i32 = y;
    x_f16.dtype = YL_F16;
    dy_i32.dtype = YL_I32;
    CHECK_STATUS(yl_dfl_decode_forward(eng, &x_f16, &y), YL_ERR_DTYPE);
    CHECK_STATUS(yl_dfl_decode_backward(eng, &x, &dy_i32, &dx, false), YL_ERR_DTYPE);
    CHECK_STATUS(yl_dfl_decode_forward(NULL, &x, &y), YL_ERR_INVALID_ARG);
    CHECK_STATUS(yl_dfl_decode_forward(eng, NULL, &y), YL_ERR_INVALID_ARG);
    CHECK_STATUS(yl_dfl_decode_forward(eng, &x, NULL), YL_ERR_INVALID_ARG);
    CHECK_STATUS(yl_dfl_decode_backward(eng, &x, NULL, &dx, false), YL_ERR_INVALID_ARG);
    CHECK_STATUS(yl_dfl_decode_backward(eng, &x, &y, NULL, false), YL_ERR_INVALID_ARG);
    free(bx), free(by), free(bdx);
}

int main(void) {
    yl_engine eng = yl_test_cpu_engine();
    yl_rng rng;
    yl_rng_seed(&rng, 20240606, 23);
    const dfl_case cases[] = {
        // {batch, bins, anchors}
        {1, 16, 1},
        {2, 16, 7},
        {3, 2, 5},
        {1, 5, 67},  // 67 anchors: a full 64-anchor block and a partial one
        {2, 16, 130},
        {1, 3, 64},
        {2, 16, 300},  // large enough for the parallel loop
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) check_case(&eng, &rng, cases[i]);
    check_extremes(&eng);
    printf("max scaled error vs double: y %.2e  dx %.2e (tolerance %.0e)\n", worst_forward, worst_backward,
           REFERENCE_TOLERANCE);
    printf("max finite-difference error %.2e (eps %.0e, tolerance %.0e, floor %.1f)\n", worst_fd, (double)FD_EPS,
           FD_TOLERANCE, FD_FLOOR);
    check_bad_arguments(&eng);
    yl_engine_release(&eng);
    return yl_test_finish("test_dfl");
}
