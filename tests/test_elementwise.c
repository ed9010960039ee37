// SiLU, sigmoid and add on the CPU backend, through the public yl_* API:
// - forward and SiLU's derivative against double-precision formulas, including |x| up to 1e30
//   (no NaN, no inf, the right limits);
// - every backward against finite differences of L = sum(y * r), at several ranks and odd sizes;
// - accumulate = true equals the overwrite result plus the old contents, bit for bit;
//   outputs are overwritten (stale NaNs do not leak); add_backward with da or db NULL;
// - results repeat bit for bit, with 1 thread and with 2;
// - bad arguments give the right status and a message.
#include <float.h>
#include <stdint.h>

#include "engine/core/threads.h"
#include "test_common.h"

// Elementwise fp32 vs double: expf and one division are each within a few ulps, so the result
// is within ~4 ulp = 5e-7 relative. ABS_FLOOR covers results that underflow into denormals
// (silu(-100) ~ -4e-42), where relative precision is meaningless.
#define FORWARD_REL_TOLERANCE 1e-6
#define ABS_FLOOR 1e-37
// Finite differences of the fp32 forward with eps = 1e-2 on x in [-6, 6]. Truncation error is
// eps^2/6 * |f'''| <= 2e-5 (|silu'''|, |sigmoid'''| < 0.6); rounding of the one perturbed fp32
// output is ~|y| * 6e-8 / (2 eps) <= 2e-5. Relative to max(|g|, FD_FLOOR) that is <= 4e-4;
// the tolerance leaves 5x margin. Gradients below FD_FLOOR are compared absolutely against it.
#define FD_EPS 1e-2f
#define FD_TOLERANCE 2e-3
#define FD_FLOOR 0.1
#define FD_CHECKS 40

static double worst_forward = 0.0, worst_derivative = 0.0, worst_fd = 0.0;

static double ref_sigmoid(double x) { return 1.0 / (1.0 + exp(-x)); }
static double ref_silu(double x) { return x * ref_sigmoid(x); }
static double ref_silu_grad(double x) {
    double s = ref_sigmoid(x);
    return s + x * s * (1.0 - s);
}

// Worst of |got - want| / (|want| + ABS_FLOOR); an inf result counts as infinitely wrong.
static double relative_error(const float *got, double (*want)(double), const float *x, size_t n) {
    double worst = 0.0;
    for (size_t i = 0; i < n; i++) {
        double w = want(x[i]);
        double e = isinf(got[i]) ? INFINITY : fabs((double)got[i] - w) / (fabs(w) + ABS_FLOOR);
        if (e > worst || isnan(e)) worst = e;
    }
    return worst;
}

// max |dx - silu'(x) dy| / max |silu'(x) dy|: silu' has a root near x = -1.28, where an
// element-wise relative error would only measure cancellation.
static double silu_gradient_error(const float *dx, const float *x, const float *dy, size_t n) {
    double worst = 0.0, scale = 1e-30;
    for (size_t i = 0; i < n; i++) {
        double w = ref_silu_grad(x[i]) * dy[i];
        scale = fmax(scale, fabs(w));
        double d = fabs((double)dx[i] - w);
        if (d > worst || isnan(d)) worst = d;
    }
    return worst / scale;
}

// ---- a shape --------------------------------------------------------------------------------

typedef struct {
    int ndim;
    int64_t shape[4];
} shape_case;

static size_t numel(const shape_case *c) {
    size_t n = 1;
    for (int d = 0; d < c->ndim; d++) n *= (size_t)c->shape[d];
    return n;
}

static yl_tensor view(float *data, const shape_case *c) {
    return yl_tensor_view(data, YL_F32, YL_DEVICE_CPU, c->ndim, c->shape);
}

static void describe(const shape_case *c, char *buf, size_t size) {
    yl_tensor t = view(NULL, c);
    yl_tensor_shape_str(&t, buf, size);
}

typedef enum { OP_SILU, OP_SIGMOID } unary_op;

typedef struct {
    yl_engine *eng;
    unary_op op;
    yl_tensor x, y;
    const float *r;
    size_t n;
} unary_loss;

static yl_status unary_forward(yl_engine *eng, unary_op op, const yl_tensor *x, yl_tensor *y) {
    return op == OP_SILU ? yl_silu_forward(eng, x, y) : yl_sigmoid_forward(eng, x, y);
}

// SiLU's backward reads x, sigmoid's reads y.
static yl_status unary_backward(yl_engine *eng, unary_op op, const yl_tensor *x, const yl_tensor *y,
                                const yl_tensor *dy, yl_tensor *dx, bool accumulate) {
    return op == OP_SILU ? yl_silu_backward(eng, x, dy, dx, accumulate)
                         : yl_sigmoid_backward(eng, y, dy, dx, accumulate);
}

static double unary_loss_fn(void *opaque) {
    unary_loss *ctx = opaque;
    if (unary_forward(ctx->eng, ctx->op, &ctx->x, &ctx->y) != YL_OK) return NAN;
    return yl_test_dot(ctx->y.data, ctx->r, ctx->n);
}

static void check_unary(yl_engine *eng, yl_rng *rng, unary_op op, const shape_case *c) {
    const char *op_name = op == OP_SILU ? "silu" : "sigmoid";
    char shape[64], name[96];
    describe(c, shape, sizeof shape);
    snprintf(name, sizeof name, "%s %s", op_name, shape);
    const size_t n = numel(c);
    float *x = yl_test_random(rng, n, -6.0f, 6.0f);
    float *r = yl_test_random(rng, n, -1.0f, 1.0f);  // also dy
    float *y = yl_test_alloc(n), *dx = yl_test_alloc(n), *probe = yl_test_alloc(n);
    yl_tensor tx = view(x, c), ty = view(y, c), tdy = view(r, c), tdx = view(dx, c), tprobe = view(probe, c);

    yl_test_fill_nan(y, n);
    yl_test_fill_nan(dx, n);
    CHECK_OK(unary_forward(eng, op, &tx, &ty));
    CHECK_OK(unary_backward(eng, op, &tx, &ty, &tdy, &tdx, false));
    double e_fwd = relative_error(y, op == OP_SILU ? ref_silu : ref_sigmoid, x, n);
    CHECK(e_fwd <= FORWARD_REL_TOLERANCE, "%s: forward relative error %.3e", name, e_fwd);
    yl_test_track_worst(&worst_forward, e_fwd);
    if (op == OP_SILU) {
        double e_grad = silu_gradient_error(dx, x, r, n);
        CHECK(e_grad <= FORWARD_REL_TOLERANCE, "%s: dx vs silu' * dy, scaled error %.3e", name, e_grad);
        yl_test_track_worst(&worst_derivative, e_grad);
    }

    unary_loss ctx = {.eng = eng, .op = op, .x = tx, .y = tprobe, .r = r, .n = n};
    double fd = yl_test_gradient_error(name, x, n, dx, unary_loss_fn, &ctx, FD_EPS, FD_CHECKS, FD_FLOOR);
    CHECK(fd <= FD_TOLERANCE, "%s: dx vs finite differences %.3e", name, fd);
    yl_test_track_worst(&worst_fd, fd);

    float *prev = yl_test_random(rng, n, -2.0f, 2.0f), *acc = yl_test_alloc(n);
    memcpy(acc, prev, n * sizeof(float));
    yl_tensor tacc = view(acc, c);
    CHECK_OK(unary_backward(eng, op, &tx, &ty, &tdy, &tacc, true));
    size_t bad = yl_test_count_inexact_accumulation(acc, dx, prev, n);
    CHECK(bad == 0, "%s: accumulate differs from overwrite + previous at %zu of %zu", name, bad, n);

    // Same bits again, and with one thread.
    int threads = yl_get_num_threads();
    for (int t = 0; t < 2; t++) {
        yl_set_num_threads(t == 0 ? threads : 1);
        yl_test_fill_nan(probe, n);
        CHECK_OK(unary_forward(eng, op, &tx, &tprobe));
        CHECK(memcmp(probe, y, n * sizeof(float)) == 0, "%s: forward not repeatable (%d threads)", name,
              yl_get_num_threads());
        CHECK_OK(unary_backward(eng, op, &tx, &ty, &tdy, &tprobe, false));
        CHECK(memcmp(probe, dx, n * sizeof(float)) == 0, "%s: backward not repeatable (%d threads)", name,
              yl_get_num_threads());
    }
    yl_set_num_threads(threads);
    free(x), free(r), free(y), free(dx), free(probe), free(prev), free(acc);
}

// Inputs far outside the FD range: results stay finite with the right limits.
static void check_extremes(yl_engine *eng) {
    const float x[] = {-FLT_MAX, -1e30f, -1e4f, -104.0f, -100.0f, -88.7f, -30.0f, -1e-30f,
                       0.0f,     1e-30f, 30.0f, 88.8f,   100.0f,  1e4f,   1e30f,  FLT_MAX};
    const size_t n = sizeof x / sizeof x[0];
    float y[sizeof x / sizeof x[0]], s[sizeof x / sizeof x[0]], g[sizeof x / sizeof x[0]];
    float ones[sizeof x / sizeof x[0]];
    for (size_t i = 0; i < n; i++) ones[i] = 1.0f;
    yl_tensor tx = yl_tensor_1d((float *)x, YL_DEVICE_CPU, (int64_t)n), ty = yl_tensor_1d(y, YL_DEVICE_CPU, (int64_t)n);
    yl_tensor ts = yl_tensor_1d(s, YL_DEVICE_CPU, (int64_t)n), tg = yl_tensor_1d(g, YL_DEVICE_CPU, (int64_t)n);
    yl_tensor tones = yl_tensor_1d(ones, YL_DEVICE_CPU, (int64_t)n);
    CHECK_OK(yl_silu_forward(eng, &tx, &ty));
    CHECK_OK(yl_sigmoid_forward(eng, &tx, &ts));
    CHECK_OK(yl_silu_backward(eng, &tx, &tones, &tg, false));
    for (size_t i = 0; i < n; i++) {
        double want_s = ref_sigmoid(x[i]), want_y = ref_silu(x[i]), want_g = ref_silu_grad(x[i]);
        if (x[i] == -FLT_MAX || x[i] == -1e30f) want_y = 0.0, want_g = 0.0;  // x * 0 in the limit
        CHECK(isfinite(s[i]) && s[i] >= 0.0f && s[i] <= 1.0f, "sigmoid(%g) = %g", (double)x[i], (double)s[i]);
        CHECK(fabs(s[i] - want_s) <= 1e-6 * want_s + ABS_FLOOR, "sigmoid(%g) = %g, want %g", (double)x[i], (double)s[i],
              want_s);
        CHECK(isfinite(y[i]) && fabs(y[i] - want_y) <= 1e-6 * fabs(want_y) + ABS_FLOOR, "silu(%g) = %g, want %g",
              (double)x[i], (double)y[i], want_y);
        CHECK(isfinite(g[i]) && fabs(g[i] - want_g) <= 1e-5 * fabs(want_g) + 1e-30, "silu'(%g) = %g, want %g",
              (double)x[i], (double)g[i], want_g);
    }
    CHECK(s[0] == 0.0f && s[n - 1] == 1.0f, "sigmoid saturates to exactly 0 and 1: %g %g", (double)s[0],
          (double)s[n - 1]);
    // sigmoid backward at saturated outputs is exactly 0.
    CHECK_OK(yl_sigmoid_backward(eng, &ts, &tones, &tg, false));
    CHECK(g[0] == 0.0f && g[n - 1] == 0.0f, "sigmoid' at saturation: %g %g", (double)g[0], (double)g[n - 1]);
}

// ---- add --------------------------------------------------------------------------------------

typedef struct {
    yl_engine *eng;
    yl_tensor a, b, y;
    const float *r;
    size_t n;
} add_loss;

static double add_loss_fn(void *opaque) {
    add_loss *ctx = opaque;
    if (yl_add_forward(ctx->eng, &ctx->a, &ctx->b, &ctx->y) != YL_OK) return NAN;
    return yl_test_dot(ctx->y.data, ctx->r, ctx->n);
}

static void check_add(yl_engine *eng, yl_rng *rng, const shape_case *c) {
    char shape[64], name[96];
    describe(c, shape, sizeof shape);
    snprintf(name, sizeof name, "add %s", shape);
    const size_t n = numel(c);
    float *a = yl_test_random(rng, n, -3.0f, 3.0f), *b = yl_test_random(rng, n, -3.0f, 3.0f);
    float *r = yl_test_random(rng, n, -1.0f, 1.0f);
    float *y = yl_test_alloc(n), *da = yl_test_alloc(n), *db = yl_test_alloc(n), *probe = yl_test_alloc(n);
    yl_tensor ta = view(a, c), tb = view(b, c), ty = view(y, c), tdy = view(r, c), tda = view(da, c), tdb = view(db, c),
              tprobe = view(probe, c);
    yl_test_fill_nan(y, n);
    CHECK_OK(yl_add_forward(eng, &ta, &tb, &ty));
    size_t wrong = 0;
    for (size_t i = 0; i < n; i++) {
        float want = (float)((double)a[i] + (double)b[i]);  // exact sum rounded once
        if (memcmp(&y[i], &want, sizeof want) != 0) wrong++;
    }
    CHECK(wrong == 0, "%s: forward differs from the correctly rounded sum at %zu of %zu", name, wrong, n);

    yl_test_fill_nan(da, n);
    yl_test_fill_nan(db, n);
    CHECK_OK(yl_add_backward(eng, &tdy, &tda, &tdb, false));
    CHECK(memcmp(da, r, n * sizeof(float)) == 0 && memcmp(db, r, n * sizeof(float)) == 0, "%s: da, db != dy", name);
    add_loss ctx = {.eng = eng, .a = ta, .b = tb, .y = tprobe, .r = r, .n = n};
    char label[112];
    snprintf(label, sizeof label, "%s da", name);
    double fd_a = yl_test_gradient_error(label, a, n, da, add_loss_fn, &ctx, FD_EPS, FD_CHECKS, FD_FLOOR);
    snprintf(label, sizeof label, "%s db", name);
    double fd_b = yl_test_gradient_error(label, b, n, db, add_loss_fn, &ctx, FD_EPS, FD_CHECKS, FD_FLOOR);
    CHECK(fd_a <= FD_TOLERANCE && fd_b <= FD_TOLERANCE, "%s: finite differences da %.3e db %.3e", name, fd_a, fd_b);
    yl_test_track_worst(&worst_fd, fmax(fd_a, fd_b));

    // accumulate, and one side NULL: the other side is untouched.
    float *prev_a = yl_test_random(rng, n, -2.0f, 2.0f), *prev_b = yl_test_random(rng, n, -2.0f, 2.0f);
    memcpy(da, prev_a, n * sizeof(float));
    memcpy(db, prev_b, n * sizeof(float));
    CHECK_OK(yl_add_backward(eng, &tdy, &tda, &tdb, true));
    size_t bad = yl_test_count_inexact_accumulation(da, r, prev_a, n) + yl_test_count_inexact_accumulation(db, r, prev_b, n);
    CHECK(bad == 0, "%s: accumulate differs from dy + previous at %zu places", name, bad);
    memcpy(da, prev_a, n * sizeof(float));
    CHECK_OK(yl_add_backward(eng, &tdy, &tda, NULL, true));
    CHECK(yl_test_count_inexact_accumulation(da, r, prev_a, n) == 0, "%s: accumulate with db NULL", name);
    yl_test_fill_nan(db, n);
    CHECK_OK(yl_add_backward(eng, &tdy, NULL, &tdb, false));
    CHECK(memcmp(db, r, n * sizeof(float)) == 0, "%s: db with da NULL", name);
    free(a), free(b), free(r), free(y), free(da), free(db), free(probe), free(prev_a), free(prev_b);
}

// ---- bad arguments ----------------------------------------------------------------------------

static void check_bad_arguments(yl_engine *eng) {
    float *b1 = yl_test_alloc(256), *b2 = yl_test_alloc(256), *b3 = yl_test_alloc(256), *b4 = yl_test_alloc(256);
    yl_tensor x = yl_tensor_4d(b1, YL_DEVICE_CPU, 2, 3, 5, 7), y = yl_tensor_4d(b2, YL_DEVICE_CPU, 2, 3, 5, 7);
    yl_tensor dy = yl_tensor_4d(b3, YL_DEVICE_CPU, 2, 3, 5, 7), dx = yl_tensor_4d(b4, YL_DEVICE_CPU, 2, 3, 5, 7);
    CHECK_OK(yl_silu_forward(eng, &x, &y));
    CHECK_OK(yl_add_forward(eng, &x, &dy, &y));

    yl_tensor y_other = yl_tensor_4d(b2, YL_DEVICE_CPU, 2, 3, 7, 5);
    yl_tensor y_flat = yl_tensor_1d(b2, YL_DEVICE_CPU, 210);  // same count, other rank
    CHECK_STATUS(yl_silu_forward(eng, &x, &y_other), YL_ERR_SHAPE);
    CHECK_STATUS(yl_silu_forward(eng, &x, &y_flat), YL_ERR_SHAPE);
    CHECK_STATUS(yl_sigmoid_forward(eng, &x, &y_other), YL_ERR_SHAPE);
    CHECK_STATUS(yl_silu_backward(eng, &x, &y_other, &dx, false), YL_ERR_SHAPE);
    CHECK_STATUS(yl_silu_backward(eng, &x, &dy, &y_other, false), YL_ERR_SHAPE);
    CHECK_STATUS(yl_sigmoid_backward(eng, &y, &dy, &y_other, true), YL_ERR_SHAPE);
    CHECK_STATUS(yl_add_forward(eng, &x, &y_other, &y), YL_ERR_SHAPE);
    CHECK_STATUS(yl_add_forward(eng, &x, &dy, &y_flat), YL_ERR_SHAPE);
    CHECK_STATUS(yl_add_backward(eng, &dy, &dx, &y_other, false), YL_ERR_SHAPE);
    CHECK_STATUS(yl_add_backward(eng, &dy, NULL, &y_other, false), YL_ERR_SHAPE);

    CHECK_STATUS(yl_silu_forward(NULL, &x, &y), YL_ERR_INVALID_ARG);
    CHECK_STATUS(yl_silu_forward(eng, NULL, &y), YL_ERR_INVALID_ARG);
    CHECK_STATUS(yl_silu_forward(eng, &x, NULL), YL_ERR_INVALID_ARG);
    CHECK_STATUS(yl_sigmoid_forward(eng, &x, NULL), YL_ERR_INVALID_ARG);
    CHECK_STATUS(yl_silu_backward(eng, &x, NULL, &dx, false), YL_ERR_INVALID_ARG);
    CHECK_STATUS(yl_silu_backward(eng, &x, &dy, NULL, false), YL_ERR_INVALID_ARG);
    CHECK_STATUS(yl_sigmoid_backward(eng, NULL, &dy, &dx, false), YL_ERR_INVALID_ARG);
    CHECK_STATUS(yl_add_forward(eng, &x, NULL, &y), YL_ERR_INVALID_ARG);
    CHECK_STATUS(yl_add_forward(eng, &x, &dy, NULL), YL_ERR_INVALID_ARG);
    CHECK_STATUS(yl_add_backward(eng, &dy, NULL, NULL, false), YL_ERR_INVALID_ARG);
    CHECK_STATUS(yl_add_backward(eng, NULL, &dx, NULL, false), YL_ERR_INVALID_ARG);
    yl_tensor no_data = y;
    no_data.data = NULL;
    CHECK_STATUS(yl_silu_forward(eng, &x, &no_data), YL_ERR_INVALID_ARG);

    yl_tensor x_f16 = x;
    x_f16.dtype = YL_F16;
    yl_tensor dy_i32 = dy;
    dy_i32.dtype = YL_I32;
    CHECK_STATUS(yl_silu_forward(eng, &x_f16, &y), YL_ERR_DTYPE);
    CHECK_STATUS(yl_sigmoid_forward(eng, &x, &x_f16), YL_ERR_DTYPE);
    CHECK_STATUS(yl_silu_backward(eng, &x, &dy_i32, &dx, false), YL_ERR_DTYPE);
    CHECK_STATUS(yl_add_forward(eng, &x, &x_f16, &y), YL_ERR_DTYPE);
    CHECK_STATUS(yl_add_backward(eng, &dy_i32, &dx, NULL, false), YL_ERR_DTYPE);

    yl_tensor rank0 = x;
    rank0.ndim = 0;
    yl_tensor rank5 = x;
    rank5.ndim = 5;
    CHECK_STATUS(yl_silu_forward(eng, &rank0, &y), YL_ERR_SHAPE);
    CHECK_STATUS(yl_sigmoid_forward(eng, &rank5, &y), YL_ERR_SHAPE);
    yl_tensor transposed = x;  // strides of a (2, 3, 7, 5) tensor read as (2, 3, 5, 7)
    transposed.stride[2] = 1;
    transposed.stride[3] = 5;
    CHECK_STATUS(yl_silu_forward(eng, &transposed, &y), YL_ERR_UNSUPPORTED);
    yl_tensor cuda = x;
    cuda.device = YL_DEVICE_CUDA;
    CHECK_STATUS(yl_add_forward(eng, &x, &cuda, &y), YL_ERR_DEVICE);
    free(b1), free(b2), free(b3), free(b4);
}

int main(void) {
    yl_engine eng = yl_test_cpu_engine();
    yl_rng rng;
    yl_rng_seed(&rng, 20240602, 11);
    const shape_case shapes[] = {
        {1, {37}},
        {2, {5, 7}},
        {3, {3, 3, 3}},
        {4, {2, 3, 13, 11}},
        {4, {3, 1, 5, 7}},
        {4, {2, 16, 33, 32}},  // large enough for the parallel loops
    };
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        check_unary(&eng, &rng, OP_SILU, &shapes[i]);
        check_unary(&eng, &rng, OP_SIGMOID, &shapes[i]);
        check_add(&eng, &rng, &shapes[i]);
    }
    check_extremes(&eng);
    printf("max forward relative error %.2e (tolerance %.0e), silu' scaled %.2e (tolerance %.0e)\n", worst_forward,
           FORWARD_REL_TOLERANCE, worst_derivative, FORWARD_REL_TOLERANCE);
    printf("max finite-difference error %.2e (eps %.0e, tolerance %.0e, floor %.1f)\n", worst_fd, (double)FD_EPS,
           FD_TOLERANCE, FD_FLOOR);
    check_bad_arguments(&eng);
    yl_engine_release(&eng);
    return yl_test_finish("test_elementwise");
}
