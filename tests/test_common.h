// Shared helpers for the ctest suites: checks that count failures, random inputs, the
// finite-difference gradient check, NMSE, and the CUDA-or-SKIP setup.
// Header-only on purpose: each test is one executable built from one .c file.
#pragma once
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/core/rng.h"
#include "engine/core/status.h"
#include "engine/core/tensor.h"
#include "engine/ops/ops.h"

#define YL_TEST_SKIPPED 77  // ctest SKIP_RETURN_CODE

static int yl_test_failures = 0;
static int yl_test_checks = 0;

#define CHECK(cond, ...)                                                      \
    do {                                                                      \
        yl_test_checks++;                                                     \
        if (!(cond)) {                                                        \
            yl_test_failures++;                                               \
            fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);   \
            fprintf(stderr, __VA_ARGS__);                                     \
            fprintf(stderr, "\n");                                            \
        }                                                                     \
    } while (0)

// A call that must succeed.
#define CHECK_OK(expr)                                                                          \
    do {                                                                                        \
        yl_status check_ok_status_ = (expr);                                                    \
        CHECK(check_ok_status_ == YL_OK, "%s -> %s: %s", #expr, yl_status_name(check_ok_status_), \
              yl_last_error());                                                                 \
    } while (0)

// A call that must fail with `expected` and leave a non-empty message.
#define CHECK_STATUS(expr, expected)                                                             \
    do {                                                                                         \
        yl_clear_error();                                                                        \
        yl_status check_status_ = (expr);                                                        \
        CHECK(check_status_ == (expected) && yl_last_error()[0] != '\0', "%s -> %s (%s), expected %s", #expr, \
              yl_status_name(check_status_), yl_last_error(), yl_status_name(expected));        \
    } while (0)

static inline int yl_test_finish(const char *suite) {
    printf("%s: %d checks, %d failed\n", suite, yl_test_checks, yl_test_failures);
    return yl_test_failures ? 1 : 0;
}

static inline float *yl_test_alloc(size_t n) {
    float *p = calloc(n ? n : 1, sizeof(float));
    if (!p) {
        fprintf(stderr, "test: out of memory\n");
        exit(2);
    }
    return p;
}

static inline float *yl_test_random(yl_rng *rng, size_t n, float low, float high) {
    float *p = yl_test_alloc(n);
    yl_rng_fill_uniform(rng, p, n, low, high);
    return p;
}

static inline yl_engine yl_test_cpu_engine(void) {
    yl_engine eng;
    yl_engine_options options = {.device = YL_DEVICE_CPU};
    if (yl_engine_init(&eng, &options) != YL_OK) {
        fprintf(stderr, "test: cpu engine: %s\n", yl_last_error());
        exit(2);
    }
    return eng;
}

// Normalised mean squared error sum((a-b)^2) / sum(b^2): scale-free, 0 when equal.
static inline double yl_test_nmse(const float *a, const float *b, size_t n) {
    double num = 0.0, den = 0.0;
    for (size_t i = 0; i < n; i++) {
        double d = (double)a[i] - (double)b[i];
        num += d * d;
        den += (double)b[i] * (double)b[i];
    }
    if (den == 0.0) return num == 0.0 ? 0.0 : INFINITY;
    return num / den;
}

static inline double yl_test_max_abs_diff(const float *a, const float *b, size_t n) {
    double m = 0.0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        if (d > m || isnan(d)) m = d;
    }
    return m;
}

// Keeps the largest value seen (NaN counts as largest, so it is never hidden).
static inline void yl_test_track_worst(double *worst, double value) {
    if (value > *worst || isnan(value)) *worst = value;
}

// Fills an output with NaN before an overwrite call: any element the op reads instead of
// writing shows up in the comparison.
static inline void yl_test_fill_nan(float *p, size_t n) {
    for (size_t i = 0; i < n; i++) p[i] = NAN;
}

// max |got - want| / max |want|: the error scaled by the tensor's largest reference value.
static inline double yl_test_scaled_error(const float *got, const double *want, size_t n) {
    double worst = 0.0, scale = 1e-30;
    for (size_t i = 0; i < n; i++) scale = fmax(scale, fabs(want[i]));
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - want[i]);
        if (d > worst || isnan(d)) worst = d;
    }
    return worst / scale;
}

// accumulate = true must give exactly overwrite + previous contents, bit for bit: the count of
// elements where it does not.
static inline size_t yl_test_count_inexact_accumulation(const float *accumulated, const float *overwritten,
                                                        const float *previous, size_t n) {
    size_t bad = 0;
    for (size_t i = 0; i < n; i++) {
        float want = overwritten[i] + previous[i];
        if (memcmp(&accumulated[i], &want, sizeof want) != 0) bad++;
    }
    return bad;
}

// Weighted sum L = sum_i y[i] * r[i] accumulated in double: the scalar the gradient checks
// differentiate. With dy = r, backward must give dL/dinput.
static inline double yl_test_dot(const float *y, const float *r, size_t n) {
    double s = 0.0;
    for (size_t i = 0; i < n; i++) s += (double)y[i] * (double)r[i];
    return s;
}

// Finite-difference check of an analytic gradient.
// `loss` recomputes the scalar from the current contents of `param` (it may read any state in
// `ctx`). For up to `max_checks` indices spread over `param`, compares `analytic[i]` with the
// central difference (L(p+eps) - L(p-eps)) / 2eps computed in double. The error measure is
// |a - n| / max(|a|, |n|, floor), where floor keeps near-zero gradients from blowing up.
// Returns the largest error; prints the worst index.
typedef double (*yl_test_loss_fn)(void *ctx);

static inline double yl_test_gradient_error(const char *label, float *param, size_t n, const float *analytic,
                                            yl_test_loss_fn loss, void *ctx, float eps, size_t max_checks,
                                            double floor) {
    size_t step = n > max_checks ? n / max_checks : 1;
    double worst = 0.0;
    size_t worst_index = 0;
    double worst_numeric = 0.0;
    for (size_t i = 0; i < n; i += step) {
        float saved = param[i];
        param[i] = saved + eps;
        double plus = loss(ctx);
        param[i] = saved - eps;
        double minus = loss(ctx);
        param[i] = saved;
        double numeric = (plus - minus) / (2.0 * (double)eps);
        double scale = fmax(fmax(fabs(numeric), fabs((double)analytic[i])), floor);
        double err = fabs(numeric - (double)analytic[i]) / scale;
        if (err > worst || isnan(err)) {
            worst = err;
            worst_index = i;
            worst_numeric = numeric;
        }
    }
    printf("  grad %-28s n=%-7zu max rel err %.3e (index %zu: analytic %.6g numeric %.6g)\n", label, n, worst,
           worst_index, (double)analytic[worst_index], worst_numeric);
    return worst;
}

// ---- CUDA-vs-CPU ----------------------------------------------------------------------------

// Initialises an engine with a CUDA backend, or prints "SKIPPED: <reason>" and returns 0.
static inline int yl_test_cuda_engine(yl_engine *eng) {
    yl_engine_options options = {.device = YL_DEVICE_CUDA, .cuda_device_index = 0, .allow_cpu_fallback = false};
    yl_status status = yl_engine_init(eng, &options);
    if (status != YL_OK) {
        printf("SKIPPED: no CUDA backend: %s\n", yl_last_error());
        return 0;
    }
    return 1;
}

// A device copy of host data as a tensor of the given shape; free with yl_test_device_free.
static inline yl_tensor yl_test_to_device(yl_engine *eng, const float *host, int ndim, const int64_t *shape) {
    yl_backend *be = eng->backends[YL_DEVICE_CUDA];
    yl_tensor t = yl_tensor_view(NULL, YL_F32, YL_DEVICE_CUDA, ndim, shape);
    size_t bytes = yl_tensor_nbytes(&t);
    if (be->alloc(be, bytes, &t.data) != YL_OK) {
        fprintf(stderr, "test: device alloc: %s\n", yl_last_error());
        exit(2);
    }
    if (host)
        be->copy_from_host(be, t.data, host, bytes);
    else
        be->memset_zero(be, t.data, bytes);
    return t;
}

static inline void yl_test_to_host(yl_engine *eng, float *host, const yl_tensor *t) {
    yl_backend *be = eng->backends[YL_DEVICE_CUDA];
    be->synchronize(be);
    be->copy_to_host(be, host, t->data, yl_tensor_nbytes(t));
}

static inline void yl_test_device_free(yl_engine *eng, yl_tensor *t) {
    yl_backend *be = eng->backends[YL_DEVICE_CUDA];
    be->free(be, t->data);
    t->data = NULL;
}
