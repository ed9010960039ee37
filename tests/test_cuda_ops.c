// The CUDA backend's own kernels (everything but convolution) against the CPU backend, through
// the public yl_* API, on the same random inputs:
// - batch norm forward train/eval (outputs, saved mean and invstd, updated running stats),
//   fused BN + SiLU train/eval, backward train/eval (dx, dgamma, dbeta);
// - SiLU, sigmoid, add forward and backward; max-pool (also tie-heavy inputs, where the
//   first-maximum rule decides); nearest upsample x2; channel concat and split; DFL decode;
// - every backward twice: overwriting outputs pre-filled with NaN (nothing stale may leak),
//   then accumulate = true onto the same random old contents on both sides;
// - the reductions (batch norm, max-pool backward) repeat bit for bit; the fused BN + SiLU
//   equals BN followed by SiLU bit for bit;
// - bad arguments on CUDA tensors give the right status and a message.
// Shapes: odd sizes, batch > 1, 1x1 planes, and YOLOv8-like ones (2x32x40x40, 8400 anchors).
// Without a GPU (or a CUDA build) the test prints SKIPPED and returns 77.
#include <stdint.h>

#include "test_common.h"

// Copies, and sums taken in the same order on both sides (concat, split, upsample, max-pool,
// add): equal bits expected, NMSE 0; the bound only absorbs a different but valid summation
// order in a backward pass. Forward copies are also required to match exactly.
#define EXACT_TOLERANCE 1e-10
// Batch norm and the transcendental ops: fp32 rounding of sums taken in another order, expf
// differing in the last ulp between CUDA and libm, and FMA contraction on the GPU give NMSE
// around 1e-13; a wrong formula or index gives > 1e-3.
#define FLOAT_TOLERANCE 1e-9

typedef struct {
    yl_engine cpu, gpu;
    yl_backend *gpu_backend;
    yl_rng rng;
} suite;

// One tensor on both sides: `host` is the CPU backend's copy, `dev` the CUDA backend's.
typedef struct {
    yl_tensor host, dev;
    size_t n;
} pair;

static pair pair_make(suite *s, int ndim, const int64_t *shape, const float *values) {
    pair p;
    p.host = yl_tensor_view(NULL, YL_F32, YL_DEVICE_CPU, ndim, shape);
    p.n = (size_t)yl_tensor_numel(&p.host);
    p.host.data = yl_test_alloc(p.n);
    if (values) memcpy(p.host.data, values, p.n * sizeof(float));
    p.dev = yl_test_to_device(&s->gpu, p.host.data, ndim, shape);
    return p;
}

static pair pair_random(suite *s, int ndim, const int64_t *shape, float low, float high) {
    yl_tensor t = yl_tensor_view(NULL, YL_F32, YL_DEVICE_CPU, ndim, shape);
    float *values = yl_test_random(&s->rng, (size_t)yl_tensor_numel(&t), low, high);
    pair p = pair_make(s, ndim, shape, values);
    free(values);
    return p;
}

static void pair_free(suite *s, pair *p) {
    free(p->host.data);
    p->host.data = NULL;
    yl_test_device_free(&s->gpu, &p->dev);
}

// Both sides get `values`.
static void pair_set(suite *s, pair *p, const float *values) {
    memcpy(p->host.data, values, p->n * sizeof(float));
    CHECK_OK(s->gpu_backend->copy_from_host(s->gpu_backend, p->dev.data, values, p->n * sizeof(float)));
}

// The device copy takes the CPU side's current values, so a following op sees equal inputs.
static void pair_sync_to_device(suite *s, pair *p) { pair_set(s, p, p->host.data); }

static void pair_fill(suite *s, pair *p, float value) {
    float *values = yl_test_alloc(p->n);
    for (size_t i = 0; i < p->n; i++) values[i] = value;
    pair_set(s, p, values);
    free(values);
}

static void pair_fill_random(suite *s, pair *p, float low, float high) {
    float *values = yl_test_random(&s->rng, p->n, low, high);
    pair_set(s, p, values);
    free(values);
}

static float *device_values(suite *s, const pair *p) {
    float *got = yl_test_alloc(p->n);
    CHECK_OK(s->gpu_backend->synchronize(s->gpu_backend));
    CHECK_OK(s->gpu_backend->copy_to_host(s->gpu_backend, got, p->dev.data, p->n * sizeof(float)));
    return got;
}

// The CUDA result against the CPU one; `exact` also demands equal values.
static void compare(suite *s, const char *case_name, const char *what, const pair *p, double tolerance, bool exact) {
    float *got = device_values(s, p);
    double nmse = yl_test_nmse(got, p->host.data, p->n);
    double max_diff = yl_test_max_abs_diff(got, p->host.data, p->n);
    printf("  %-34s %-26s nmse %.2e  max|diff| %.2e\n", case_name, what, nmse, max_diff);
    CHECK(nmse <= tolerance, "%s %s: nmse %.3e > %.1e", case_name, what, nmse, tolerance);
    if (exact) CHECK(max_diff == 0.0, "%s %s: max |diff| %.3e, expected an exact match", case_name, what, max_diff);
    free(got);
}

// Two device results that must be equal bit for bit (repeatability, fused vs unfused).
static void compare_bits(suite *s, const char *case_name, const char *what, const pair *a, const yl_tensor *b) {
    float *got_a = device_values(s, a);
    float *got_b = yl_test_alloc(a->n);
    CHECK_OK(s->gpu_backend->copy_to_host(s->gpu_backend, got_b, b->data, a->n * sizeof(float)));
    CHECK(memcmp(got_a, got_b, a->n * sizeof(float)) == 0, "%s %s: results differ bit-wise", case_name, what);
    free(got_a);
    free(got_b);
}

static void describe4(char *buf, size_t size, const char *op, const int64_t *shape) {
    snprintf(buf, size, "%s %lldx%lldx%lldx%lld", op, (long long)shape[0], (long long)shape[1],
             (long long)shape[2], (long long)shape[3]);
}

// ---- batch norm --------------------------------------------------------------------------------

static void test_batchnorm(suite *s, const int64_t shape[4]) {
    char name[96];
    describe4(name, sizeof name, "batchnorm", shape);
    const int64_t C = shape[1];
    const yl_batchnorm_params params = {.eps = 1e-3f, .momentum = 0.03f};
    // A mean far from 0 and a spread far from 1, so both statistics matter.
    pair x = pair_random(s, 4, shape, -1.0f, 3.0f);
    pair gamma = pair_random(s, 1, &C, 0.5f, 1.5f), beta = pair_random(s, 1, &C, -0.5f, 0.5f);
    pair running_mean = pair_random(s, 1, &C, -0.5f, 0.5f), running_var = pair_random(s, 1, &C, 0.5f, 2.0f);
    float *initial_mean = yl_test_alloc(C), *initial_var = yl_test_alloc(C);
    memcpy(initial_mean, running_mean.host.data, C * sizeof(float));
    memcpy(initial_var, running_var.host.data, C * sizeof(float));
    pair y = pair_make(s, 4, shape, NULL), y_bn = pair_make(s, 4, shape, NULL);
    pair save_mean = pair_make(s, 1, &C, NULL), save_invstd = pair_make(s, 1, &C, NULL);

    // Forward, training mode.
    CHECK_OK(yl_batchnorm2d_forward_train(&s->cpu, &x.host, &gamma.host, &beta.host, &running_mean.host,
                                          &running_var.host, &y.host, &save_mean.host, &save_invstd.host, &params));
    CHECK_OK(yl_batchnorm2d_forward_train(&s->gpu, &x.dev, &gamma.dev, &beta.dev, &running_mean.dev,
                                          &running_var.dev, &y.dev, &save_mean.dev, &save_invstd.dev, &params));
    compare(s, name, "train y", &y, FLOAT_TOLERANCE, false);
    compare(s, name, "train save_mean", &save_mean, FLOAT_TOLERANCE, false);
    compare(s, name, "train save_invstd", &save_invstd, FLOAT_TOLERANCE, false);
    compare(s, name, "train running_mean", &running_mean, FLOAT_TOLERANCE, false);
    compare(s, name, "train running_var", &running_var, FLOAT_TOLERANCE, false);

    // The fused op from the same running statistics: same BN output bit for bit on the GPU, and
    // its SiLU equals the separate SiLU op's bit for bit.
    pair_set(s, &running_mean, initial_mean);
    pair_set(s, &running_var, initial_var);
    pair y_silu = pair_make(s, 4, shape, NULL), y_silu_unfused = pair_make(s, 4, shape, NULL);
    CHECK_OK(yl_bn_silu_forward_train(&s->cpu, &x.host, &gamma.host, &beta.host, &running_mean.host,
                                      &running_var.host, &y_bn.host, &y_silu.host, &save_mean.host, &save_invstd.host,
                                      &params));
    CHECK_OK(yl_bn_silu_forward_train(&s->gpu, &x.dev, &gamma.dev, &beta.dev, &running_mean.dev, &running_var.dev,
                                      &y_bn.dev, &y_silu.dev, &save_mean.dev, &save_invstd.dev, &params));
    compare(s, name, "bn_silu train y_bn", &y_bn, FLOAT_TOLERANCE, false);
    compare(s, name, "bn_silu train y", &y_silu, FLOAT_TOLERANCE, false);
    compare(s, name, "bn_silu train running_mean", &running_mean, FLOAT_TOLERANCE, false);
    compare(s, name, "bn_silu train running_var", &running_var, FLOAT_TOLERANCE, false);
    compare(s, name, "bn_silu train save_mean", &save_mean, FLOAT_TOLERANCE, false);
    compare(s, name, "bn_silu train save_invstd", &save_invstd, FLOAT_TOLERANCE, false);
    compare_bits(s, name, "fused y_bn == batchnorm y", &y_bn, &y.dev);
    CHECK_OK(yl_silu_forward(&s->gpu, &y_bn.dev, &y_silu_unfused.dev));
    compare_bits(s, name, "fused y == silu(y_bn)", &y_silu, &y_silu_unfused.dev);

    // Forward, eval mode (running statistics as the CPU left them, on both sides).
    pair_sync_to_device(s, &running_mean);
    pair_sync_to_device(s, &running_var);
    CHECK_OK(yl_batchnorm2d_forward_eval(&s->cpu, &x.host, &gamma.host, &beta.host, &running_mean.host,
                                         &running_var.host, &y.host, &params));
    CHECK_OK(yl_batchnorm2d_forward_eval(&s->gpu, &x.dev, &gamma.dev, &beta.dev, &running_mean.dev,
                                         &running_var.dev, &y.dev, &params));
    compare(s, name, "eval y", &y, FLOAT_TOLERANCE, false);
    CHECK_OK(yl_bn_silu_forward_eval(&s->cpu, &x.host, &gamma.host, &beta.host, &running_mean.host,
                                     &running_var.host, &y_bn.host, &y_silu.host, &params));
    CHECK_OK(yl_bn_silu_forward_eval(&s->gpu, &x.dev, &gamma.dev, &beta.dev, &running_mean.dev, &running_var.dev,
                                     &y_bn.dev, &y_silu.dev, &params));
    compare(s, name, "bn_silu eval y_bn", &y_bn, FLOAT_TOLERANCE, false);
    compare(s, name, "bn_silu eval y", &y_silu, FLOAT_TOLERANCE, false);
    compare_bits(s, name, "eval fused y_bn == batchnorm y", &y_bn, &y.dev);

    // Backward, both modes, from the CPU's saved statistics on both sides.
    pair_sync_to_device(s, &save_mean);
    pair_sync_to_device(s, &save_invstd);
    pair dy = pair_random(s, 4, shape, -1.0f, 1.0f);
    pair dx = pair_make(s, 4, shape, NULL), dgamma = pair_make(s, 1, &C, NULL), dbeta = pair_make(s, 1, &C, NULL);
    pair dx_again = pair_make(s, 4, shape, NULL), dgamma_again = pair_make(s, 1, &C, NULL);
    for (int mode = 0; mode < 2; mode++) {
        const bool train = mode == 0;
        for (int accumulate = 0; accumulate < 2; accumulate++) {
            char what[64];
            if (accumulate) {
                pair_fill_random(s, &dx, -1.0f, 1.0f);
                pair_fill_random(s, &dgamma, -1.0f, 1.0f);
                pair_fill_random(s, &dbeta, -1.0f, 1.0f);
            } else {
                pair_fill(s, &dx, NAN);
                pair_fill(s, &dgamma, NAN);
                pair_fill(s, &dbeta, NAN);
            }
            if (train) {
                CHECK_OK(yl_batchnorm2d_backward_train(&s->cpu, &x.host, &dy.host, &gamma.host, &save_mean.host,
                                                       &save_invstd.host, &dx.host, &dgamma.host, &dbeta.host,
                                                       accumulate));
                CHECK_OK(yl_batchnorm2d_backward_train(&s->gpu, &x.dev, &dy.dev, &gamma.dev, &save_mean.dev,
                                                       &save_invstd.dev, &dx.dev, &dgamma.dev, &dbeta.dev,
                                                       accumulate));
            } else {
                CHECK_OK(yl_batchnorm2d_backward_eval(&s->cpu, &x.host, &dy.host, &gamma.host, &running_mean.host,
                                                      &running_var.host, &dx.host, &dgamma.host, &dbeta.host,
                                                      &params, accumulate));
                CHECK_OK(yl_batchnorm2d_backward_eval(&s->gpu, &x.dev, &dy.dev, &gamma.dev, &running_mean.dev,
                                                      &running_var.dev, &dx.dev, &dgamma.dev, &dbeta.dev, &params,
                                                      accumulate));
            }
            const char *mode_name = train ? "backward train" : "backward eval";
            const char *acc_name = accumulate ? " acc" : "";
            snprintf(what, sizeof what, "%s%s dx", mode_name, acc_name);
            compare(s, name, what, &dx, FLOAT_TOLERANCE, false);
            snprintf(what, sizeof what, "%s%s dgamma", mode_name, acc_name);
            compare(s, name, what, &dgamma, FLOAT_TOLERANCE, false);
            snprintf(what, sizeof what, "%s%s dbeta", mode_name, acc_name);
            compare(s, name, what, &dbeta, FLOAT_TOLERANCE, false);
        }
    }
    // The per-channel reductions repeat bit for bit.
    CHECK_OK(yl_batchnorm2d_backward_train(&s->gpu, &x.dev, &dy.dev, &gamma.dev, &save_mean.dev, &save_invstd.dev,
                                           &dx.dev, &dgamma.dev, &dbeta.dev, false));
    CHECK_OK(yl_batchnorm2d_backward_train(&s->gpu, &x.dev, &dy.dev, &gamma.dev, &save_mean.dev, &save_invstd.dev,
                                           &dx_again.dev, &dgamma_again.dev, &dbeta.dev, false));
    compare_bits(s, name, "backward train repeats (dx)", &dx, &dx_again.dev);
    compare_bits(s, name, "backward train repeats (dgamma)", &dgamma, &dgamma_again.dev);
    CHECK_OK(yl_batchnorm2d_forward_train(&s->gpu, &x.dev, &gamma.dev, &beta.dev, &running_mean.dev,
                                          &running_var.dev, &y.dev, &save_mean.dev, &save_invstd.dev, &params));
    CHECK_OK(yl_batchnorm2d_forward_train(&s->gpu, &x.dev, &gamma.dev, &beta.dev, &running_mean.dev,
                                          &running_var.dev, &dx_again.dev, &save_mean.dev, &save_invstd.dev,
                                          &params));
    compare_bits(s, name, "forward train repeats (y)", &y, &dx_again.dev);

    pair *all[] = {&x, &gamma, &beta, &running_mean, &running_var, &y, &y_bn, &save_mean, &save_invstd, &y_silu,
                   &y_silu_unfused, &dy, &dx, &dgamma, &dbeta, &dx_again, &dgamma_again};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) pair_free(s, all[i]);
    free(initial_mean);
    free(initial_var);
}

// ---- elementwise -------------------------------------------------------------------------------

static void test_elementwise(suite *s, int ndim, const int64_t *shape) {
    char name[96];
    yl_tensor probe = yl_tensor_view(NULL, YL_F32, YL_DEVICE_CPU, ndim, shape);
    snprintf(name, sizeof name, "elementwise n=%lld", (long long)yl_tensor_numel(&probe));
    pair x = pair_random(s, ndim, shape, -12.0f, 12.0f);
    // The saturated ends of sigmoid, and zero.
    const float specials[] = {100.0f, -100.0f, 0.0f, -20.0f, 20.0f};
    for (size_t i = 0; i < x.n && i < sizeof specials / sizeof specials[0]; i++) ((float *)x.host.data)[i] = specials[i];
    pair_sync_to_device(s, &x);
    pair b = pair_random(s, ndim, shape, -3.0f, 3.0f);
    pair y = pair_make(s, ndim, shape, NULL), dy = pair_random(s, ndim, shape, -1.0f, 1.0f);
    pair dx = pair_make(s, ndim, shape, NULL), db = pair_make(s, ndim, shape, NULL);

    CHECK_OK(yl_silu_forward(&s->cpu, &x.host, &y.host));
    CHECK_OK(yl_silu_forward(&s->gpu, &x.dev, &y.dev));
    compare(s, name, "silu forward", &y, FLOAT_TOLERANCE, false);
    CHECK_OK(yl_add_forward(&s->cpu, &x.host, &b.host, &y.host));
    CHECK_OK(yl_add_forward(&s->gpu, &x.dev, &b.dev, &y.dev));
    compare(s, name, "add forward", &y, EXACT_TOLERANCE, true);
    CHECK_OK(yl_sigmoid_forward(&s->cpu, &x.host, &y.host));
    CHECK_OK(yl_sigmoid_forward(&s->gpu, &x.dev, &y.dev));
    compare(s, name, "sigmoid forward", &y, FLOAT_TOLERANCE, false);
    pair_sync_to_device(s, &y);  // the sigmoid backward reads the output: give both sides the same

    for (int accumulate = 0; accumulate < 2; accumulate++) {
        const char *suffix = accumulate ? " acc" : "";
        char what[64];
        if (accumulate) pair_fill_random(s, &dx, -1.0f, 1.0f); else pair_fill(s, &dx, NAN);
        CHECK_OK(yl_silu_backward(&s->cpu, &x.host, &dy.host, &dx.host, accumulate));
        CHECK_OK(yl_silu_backward(&s->gpu, &x.dev, &dy.dev, &dx.dev, accumulate));
        snprintf(what, sizeof what, "silu backward%s", suffix);
        compare(s, name, what, &dx, FLOAT_TOLERANCE, false);

        if (accumulate) pair_fill_random(s, &dx, -1.0f, 1.0f); else pair_fill(s, &dx, NAN);
        CHECK_OK(yl_sigmoid_backward(&s->cpu, &y.host, &dy.host, &dx.host, accumulate));
        CHECK_OK(yl_sigmoid_backward(&s->gpu, &y.dev, &dy.dev, &dx.dev, accumulate));
        snprintf(what, sizeof what, "sigmoid backward%s", suffix);
        compare(s, name, what, &dx, FLOAT_TOLERANCE, false);

        // Both operands, then each alone (the other NULL).
        for (int which = 0; which < 3; which++) {
            if (accumulate) {
                pair_fill_random(s, &dx, -1.0f, 1.0f);
                pair_fill_random(s, &db, -1.0f, 1.0f);
            } else {
                pair_fill(s, &dx, NAN);
                pair_fill(s, &db, NAN);
            }
            yl_tensor *da_cpu = which != 2 ? &dx.host : NULL, *db_cpu = which != 1 ? &db.host : NULL;
            yl_tensor *da_gpu = which != 2 ? &dx.dev : NULL, *db_gpu = which != 1 ? &db.dev : NULL;
            CHECK_OK(yl_add_backward(&s->cpu, &dy.host, da_cpu, db_cpu, accumulate));
            CHECK_OK(yl_add_backward(&s->gpu, &dy.dev, da_gpu, db_gpu, accumulate));
            snprintf(what, sizeof what, "add backward%s (%s)", suffix, which == 0 ? "both" : which == 1 ? "a" : "b");
            if (which != 2) compare(s, name, what, &dx, EXACT_TOLERANCE, true);
            if (which != 1) compare(s, name, what, &db, EXACT_TOLERANCE, true);
        }
    }
    pair *all[] = {&x, &b, &y, &dy, &dx, &db};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) pair_free(s, all[i]);
}

// ---- max-pool ----------------------------------------------------------------------------------

static void test_maxpool(suite *s, const int64_t shape[4], int kernel, int stride, int pad, bool ties) {
    char name[96], base[64];
    describe4(base, sizeof base, "maxpool", shape);
    snprintf(name, sizeof name, "%s k%d s%d p%d%s", base, kernel, stride, pad, ties ? " ties" : "");
    const yl_maxpool2d_params params = {.kernel = kernel, .stride = stride, .pad = pad};
    const int64_t out_shape[4] = {shape[0], shape[1], yl_conv_output_size(shape[2], kernel, stride, pad),
                                  yl_conv_output_size(shape[3], kernel, stride, pad)};
    pair x = pair_random(s, 4, shape, -2.0f, 2.0f);
    if (ties) {
        // Small integers: most windows hold their maximum more than once (and negative values
        // check that padding is not taken as 0).
        float *v = x.host.data;
        for (size_t i = 0; i < x.n; i++) v[i] = floorf(v[i]);
        pair_sync_to_device(s, &x);
    }
    pair y = pair_make(s, 4, out_shape, NULL), dy = pair_random(s, 4, out_shape, -1.0f, 1.0f);
    pair dx = pair_make(s, 4, shape, NULL), dx_again = pair_make(s, 4, shape, NULL);

    CHECK_OK(yl_maxpool2d_forward(&s->cpu, &x.host, &y.host, &params));
    CHECK_OK(yl_maxpool2d_forward(&s->gpu, &x.dev, &y.dev, &params));
    compare(s, name, "forward", &y, EXACT_TOLERANCE, true);
    for (int accumulate = 0; accumulate < 2; accumulate++) {
        if (accumulate) pair_fill_random(s, &dx, -1.0f, 1.0f); else pair_fill(s, &dx, NAN);
        CHECK_OK(yl_maxpool2d_backward(&s->cpu, &x.host, &dy.host, &dx.host, &params, accumulate));
        CHECK_OK(yl_maxpool2d_backward(&s->gpu, &x.dev, &dy.dev, &dx.dev, &params, accumulate));
        compare(s, name, accumulate ? "backward acc" : "backward", &dx, EXACT_TOLERANCE, false);
    }
    CHECK_OK(yl_maxpool2d_backward(&s->gpu, &x.dev, &dy.dev, &dx.dev, &params, false));
    CHECK_OK(yl_maxpool2d_backward(&s->gpu, &x.dev, &dy.dev, &dx_again.dev, &params, false));
    compare_bits(s, name, "backward repeats", &dx, &dx_again.dev);
    pair *all[] = {&x, &y, &dy, &dx, &dx_again};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) pair_free(s, all[i]);
}

// ---- upsample ----------------------------------------------------------------------------------

static void test_upsample(suite *s, const int64_t shape[4]) {
    char name[96];
    describe4(name, sizeof name, "upsample2x", shape);
    const int64_t big[4] = {shape[0], shape[1], 2 * shape[2], 2 * shape[3]};
    pair x = pair_random(s, 4, shape, -2.0f, 2.0f), y = pair_make(s, 4, big, NULL);
    pair dy = pair_random(s, 4, big, -1.0f, 1.0f), dx = pair_make(s, 4, shape, NULL);
    CHECK_OK(yl_upsample_nearest2x_forward(&s->cpu, &x.host, &y.host));
    CHECK_OK(yl_upsample_nearest2x_forward(&s->gpu, &x.dev, &y.dev));
    compare(s, name, "forward", &y, EXACT_TOLERANCE, true);
    for (int accumulate = 0; accumulate < 2; accumulate++) {
        if (accumulate) pair_fill_random(s, &dx, -1.0f, 1.0f); else pair_fill(s, &dx, NAN);
        CHECK_OK(yl_upsample_nearest2x_backward(&s->cpu, &dy.host, &dx.host, accumulate));
        CHECK_OK(yl_upsample_nearest2x_backward(&s->gpu, &dy.dev, &dx.dev, accumulate));
        compare(s, name, accumulate ? "backward acc" : "backward", &dx, EXACT_TOLERANCE, false);
    }
    pair *all[] = {&x, &y, &dy, &dx};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) pair_free(s, all[i]);
}

// ---- concat / split ----------------------------------------------------------------------------

#define MAX_PARTS 6

static void test_concat_split(suite *s, int64_t batch, int64_t height, int64_t width, int count,
                              const int64_t *channels) {
    char name[96];
    int64_t total = 0;
    for (int i = 0; i < count; i++) total += channels[i];
    snprintf(name, sizeof name, "concat %d parts -> %lldx%lldx%lldx%lld", count, (long long)batch,
             (long long)total, (long long)height, (long long)width);
    pair parts[MAX_PARTS];
    const yl_tensor *parts_cpu[MAX_PARTS], *parts_gpu[MAX_PARTS];
    yl_tensor *parts_cpu_out[MAX_PARTS], *parts_gpu_out[MAX_PARTS];
    for (int i = 0; i < count; i++) {
        const int64_t shape[4] = {batch, channels[i], height, width};
        parts[i] = pair_random(s, 4, shape, -2.0f, 2.0f);
        parts_cpu[i] = parts_cpu_out[i] = &parts[i].host;
        parts_gpu[i] = parts_gpu_out[i] = &parts[i].dev;
    }
    const int64_t whole_shape[4] = {batch, total, height, width};
    pair whole = pair_make(s, 4, whole_shape, NULL);

    for (int accumulate = 0; accumulate < 2; accumulate++) {
        if (accumulate) pair_fill_random(s, &whole, -1.0f, 1.0f); else pair_fill(s, &whole, NAN);
        CHECK_OK(yl_concat_channels(&s->cpu, parts_cpu, count, &whole.host, accumulate));
        CHECK_OK(yl_concat_channels(&s->gpu, parts_gpu, count, &whole.dev, accumulate));
        compare(s, name, accumulate ? "concat acc" : "concat", &whole, EXACT_TOLERANCE, true);
    }
    pair_fill_random(s, &whole, -2.0f, 2.0f);
    for (int accumulate = 0; accumulate < 2; accumulate++) {
        for (int i = 0; i < count; i++) {
            if (accumulate) pair_fill_random(s, &parts[i], -1.0f, 1.0f); else pair_fill(s, &parts[i], NAN);
        }
        CHECK_OK(yl_split_channels(&s->cpu, &whole.host, parts_cpu_out, count, accumulate));
        CHECK_OK(yl_split_channels(&s->gpu, &whole.dev, parts_gpu_out, count, accumulate));
        for (int i = 0; i < count; i++) {
            char what[64];
            snprintf(what, sizeof what, "split%s part %d", accumulate ? " acc" : "", i);
            compare(s, name, what, &parts[i], EXACT_TOLERANCE, true);
        }
    }
    for (int i = 0; i < count; i++) pair_free(s, &parts[i]);
    pair_free(s, &whole);
}

// ---- DFL decode --------------------------------------------------------------------------------

static void test_dfl(suite *s, int64_t batch, int64_t bins, int64_t anchors) {
    char name[96];
    snprintf(name, sizeof name, "dfl B%lld R%lld A%lld", (long long)batch, (long long)bins, (long long)anchors);
    const int64_t x_shape[3] = {batch, 4 * bins, anchors}, y_shape[3] = {batch, 4, anchors};
    pair x = pair_random(s, 3, x_shape, -4.0f, 4.0f), y = pair_make(s, 3, y_shape, NULL);
    pair dy = pair_random(s, 3, y_shape, -1.0f, 1.0f), dx = pair_make(s, 3, x_shape, NULL);
    CHECK_OK(yl_dfl_decode_forward(&s->cpu, &x.host, &y.host));
    CHECK_OK(yl_dfl_decode_forward(&s->gpu, &x.dev, &y.dev));
    compare(s, name, "forward", &y, FLOAT_TOLERANCE, false);
    for (int accumulate = 0; accumulate < 2; accumulate++) {
        if (accumulate) pair_fill_random(s, &dx, -1.0f, 1.0f); else pair_fill(s, &dx, NAN);
        CHECK_OK(yl_dfl_decode_backward(&s->cpu, &x.host, &dy.host, &dx.host, accumulate));
        CHECK_OK(yl_dfl_decode_backward(&s->gpu, &x.dev, &dy.dev, &dx.dev, accumulate));
        compare(s, name, accumulate ? "backward acc" : "backward", &dx, FLOAT_TOLERANCE, false);
    }
    pair *all[] = {&x, &y, &dy, &dx};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) pair_free(s, all[i]);
}

// ---- bad arguments -----------------------------------------------------------------------------

static void test_bad_arguments(suite *s) {
    const int64_t shape[4] = {2, 3, 8, 8}, small[4] = {2, 3, 3, 3}, C = 3, wrong_c = 4;
    pair x = pair_random(s, 4, shape, -1.0f, 1.0f), y = pair_make(s, 4, shape, NULL);
    pair y_small = pair_make(s, 4, small, NULL), v = pair_make(s, 1, &C, NULL), v_wrong = pair_make(s, 1, &wrong_c, NULL);
    const yl_maxpool2d_params pool = {.kernel = 5, .stride = 1, .pad = 2};
    const yl_batchnorm_params bn = {.eps = 1e-3f, .momentum = 0.03f};

    // A CPU output for a CUDA input.
    CHECK_STATUS(yl_maxpool2d_forward(&s->gpu, &x.dev, &y.host, &pool), YL_ERR_DEVICE);
    CHECK_STATUS(yl_silu_forward(&s->gpu, &x.dev, &y.host), YL_ERR_DEVICE);
    // Shapes that do not fit.
    CHECK_STATUS(yl_maxpool2d_forward(&s->gpu, &x.dev, &y_small.dev, &pool), YL_ERR_SHAPE);
    CHECK_STATUS(yl_upsample_nearest2x_forward(&s->gpu, &x.dev, &y.dev), YL_ERR_SHAPE);
    CHECK_STATUS(yl_batchnorm2d_forward_train(&s->gpu, &x.dev, &v_wrong.dev, &v.dev, &v.dev, &v.dev, &y.dev, &v.dev,
                                              &v.dev, &bn),
                 YL_ERR_SHAPE);
    CHECK_STATUS(yl_add_forward(&s->gpu, &x.dev, &y_small.dev, &y.dev), YL_ERR_SHAPE);
    const int64_t dfl_x[3] = {1, 6, 5}, dfl_y[3] = {1, 4, 5};
    pair dx = pair_make(s, 3, dfl_x, NULL), dy = pair_make(s, 3, dfl_y, NULL);
    CHECK_STATUS(yl_dfl_decode_forward(&s->gpu, &dx.dev, &dy.dev), YL_ERR_SHAPE);
    // NULL tensors and parameters.
    CHECK_STATUS(yl_silu_forward(&s->gpu, &x.dev, NULL), YL_ERR_INVALID_ARG);
    CHECK_STATUS(yl_maxpool2d_forward(&s->gpu, &x.dev, &y.dev, NULL), YL_ERR_INVALID_ARG);
    CHECK_STATUS(yl_add_backward(&s->gpu, &x.dev, NULL, NULL, false), YL_ERR_INVALID_ARG);
    pair *all[] = {&x, &y, &y_small, &v, &v_wrong, &dx, &dy};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) pair_free(s, all[i]);
}

int main(void) {
    suite s;
    if (!yl_test_cuda_engine(&s.gpu)) return YL_TEST_SKIPPED;
    s.cpu = yl_test_cpu_engine();
    s.gpu_backend = yl_engine_backend(&s.gpu, YL_DEVICE_CUDA);
    yl_rng_seed(&s.rng, 20240611, 7);
    printf("CUDA ops against the CPU backend (NMSE <= %.0e for copies and ordered sums, <= %.0e otherwise)\n",
           EXACT_TOLERANCE, FLOAT_TOLERANCE);

    const int64_t bn_shapes[][4] = {{2, 3, 5, 7}, {5, 6, 1, 1}, {1, 4, 13, 11}, {3, 2, 64, 64}, {2, 32, 40, 40}};
    for (size_t i = 0; i < sizeof bn_shapes / sizeof bn_shapes[0]; i++) test_batchnorm(&s, bn_shapes[i]);

    const int64_t n1[] = {1}, n777[] = {777}, n3d[] = {3, 5, 7}, n4d[] = {2, 32, 40, 40};
    test_elementwise(&s, 1, n1);
    test_elementwise(&s, 1, n777);
    test_elementwise(&s, 3, n3d);
    test_elementwise(&s, 4, n4d);

    const int64_t sppf[4] = {2, 16, 20, 20}, odd[4] = {2, 3, 9, 11}, tiny[4] = {1, 1, 3, 3};
    const int64_t even[4] = {1, 2, 7, 6}, small[4] = {2, 3, 5, 4}, yolo[4] = {2, 32, 40, 40};
    for (int ties = 0; ties < 2; ties++) {
        test_maxpool(&s, sppf, 5, 1, 2, ties);
        test_maxpool(&s, odd, 3, 2, 1, ties);
        test_maxpool(&s, even, 2, 2, 0, ties);
        test_maxpool(&s, small, 2, 1, 1, ties);
        test_maxpool(&s, tiny, 5, 1, 2, ties);
    }
    test_maxpool(&s, odd, 1, 1, 0, false);
    test_maxpool(&s, yolo, 5, 1, 2, false);

    const int64_t up_odd[4] = {2, 3, 5, 7}, up_one[4] = {1, 1, 1, 1}, up_yolo[4] = {2, 32, 20, 20};
    test_upsample(&s, up_odd);
    test_upsample(&s, up_one);
    test_upsample(&s, up_yolo);

    const int64_t odd_parts[] = {3, 1, 5}, one_part[] = {4}, sppf_parts[] = {16, 16, 16, 16};
    const int64_t c2f_parts[] = {32, 32, 32, 32, 32};
    test_concat_split(&s, 2, 7, 9, 3, odd_parts);
    test_concat_split(&s, 3, 1, 1, 1, one_part);
    test_concat_split(&s, 2, 20, 20, 4, sppf_parts);
    test_concat_split(&s, 2, 40, 40, 5, c2f_parts);

    test_dfl(&s, 2, 16, 37);
    test_dfl(&s, 3, 2, 5);
    test_dfl(&s, 1, 5, 1);
    test_dfl(&s, 2, 16, 8400);

    test_bad_arguments(&s);

    yl_engine_release(&s.cpu);
    yl_engine_release(&s.gpu);
    return yl_test_finish("test_cuda_ops");
}
