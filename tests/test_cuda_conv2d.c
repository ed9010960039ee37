// conv2d on the CUDA backend (cuDNN), through the public yl_conv2d_* API.
// Always (also without a GPU): yl_backend_cuda_create and yl_engine_init report a missing or
// unusable device with the right status and a message, and never pretend to succeed; a CUDA
// tensor given to an engine without a CUDA backend is refused.
// With a GPU: for shapes covering k1/k3, s1/s2, odd sizes, batch 1 and 3, with and without bias,
// forward, backward-data and backward-weight (+ bias) are compared with a naive double-precision
// reference and with the CPU backend on the same inputs; accumulate = true adds to the old
// contents; overwrite ignores stale NaNs; re-running a shape with its cached algorithm gives
// bit-identical results, also after other shapes went through the cache.
#include <stdint.h>

#include "test_common.h"

// NMSE = sum (got - want)^2 / sum want^2. fp32 convolutions in FMA math over these <= 900-term
// sums give ~1e-14 (the CPU backend measures 1e-15..5e-14 against the same reference) up to
// ~1e-11 for Winograd/FFT transforms. TF32 tensor cores, if they were left on, give ~5e-8
// (measured by rounding the inputs to TF32's 10-bit mantissa), so 1e-8 passes every fp32
// algorithm and still catches TF32.
#define NMSE_TOLERANCE 1e-8

typedef struct {
    int batch, in_channels, out_channels, height, width, kernel, stride;
    bool bias;
} conv_case;

typedef struct {
    conv_case c;
    int pad, out_height, out_width;
    size_t x_size, w_size, y_size;
    yl_conv2d_params params;
} conv_shape;

static conv_shape make_shape(conv_case c) {
    conv_shape s = {.c = c, .pad = c.kernel / 2, .params = {.stride = c.stride, .pad = c.kernel / 2}};
    s.out_height = (int)yl_conv_output_size(c.height, c.kernel, c.stride, s.pad);
    s.out_width = (int)yl_conv_output_size(c.width, c.kernel, c.stride, s.pad);
    s.x_size = (size_t)c.batch * c.in_channels * c.height * c.width;
    s.w_size = (size_t)c.out_channels * c.in_channels * c.kernel * c.kernel;
    s.y_size = (size_t)c.batch * c.out_channels * s.out_height * s.out_width;
    return s;
}

static void describe(const conv_shape *s, char *buf, size_t size) {
    snprintf(buf, size, "N%d %d->%d %dx%d k%d s%d%s", s->c.batch, s->c.in_channels, s->c.out_channels, s->c.height,
             s->c.width, s->c.kernel, s->c.stride, s->c.bias ? " bias" : "");
}

// ---- naive reference in double ----------------------------------------------------------------

typedef struct {
    double *y, *dx, *dw, *dbias;
} reference;

// y = conv(x, w) + bias; for dy: dx, dw and dbias, every multiply-add written out.
static reference reference_compute(const conv_shape *s, const float *x, const float *w, const float *bias,
                                   const float *dy) {
    const conv_case *c = &s->c;
    reference r = {calloc(s->y_size, sizeof(double)), calloc(s->x_size, sizeof(double)),
                   calloc(s->w_size, sizeof(double)), calloc((size_t)c->out_channels, sizeof(double))};
    if (!r.y || !r.dx || !r.dw || !r.dbias) exit(2);
    for (int n = 0; n < c->batch; n++)
        for (int k = 0; k < c->out_channels; k++)
            for (int oh = 0; oh < s->out_height; oh++)
                for (int ow = 0; ow < s->out_width; ow++) {
                    size_t yi = (((size_t)n * c->out_channels + k) * s->out_height + oh) * s->out_width + ow;
                    double sum = bias ? bias[k] : 0.0;
                    for (int ch = 0; ch < c->in_channels; ch++)
                        for (int kh = 0; kh < c->kernel; kh++)
                            for (int kw = 0; kw < c->kernel; kw++) {
                                int ih = oh * c->stride - s->pad + kh, iw = ow * c->stride - s->pad + kw;
                                if (ih < 0 || ih >= c->height || iw < 0 || iw >= c->width) continue;
                                size_t xi = (((size_t)n * c->in_channels + ch) * c->height + ih) * c->width + iw;
                                size_t wi = (((size_t)k * c->in_channels + ch) * c->kernel + kh) * c->kernel + kw;
                                sum += (double)x[xi] * w[wi];
                                r.dx[xi] += (double)w[wi] * dy[yi];
                                r.dw[wi] += (double)x[xi] * dy[yi];
                            }
                    r.y[yi] = sum;
                    r.dbias[k] += dy[yi];
                }
    return r;
}

static void reference_free(reference *r) {
    free(r->y);
    free(r->dx);
    free(r->dw);
    free(r->dbias);
}

// NMSE of `got` against want[i] + base[i] (base may be NULL), all sums in double.
static double nmse_vs(const float *got, const double *want, const float *base, size_t n) {
    double num = 0.0, den = 0.0;
    for (size_t i = 0; i < n; i++) {
        double expected = want[i] + (base ? (double)base[i] : 0.0);
        double d = (double)got[i] - expected;
        num += d * d;
        den += expected * expected;
    }
    if (den == 0.0) return num == 0.0 ? 0.0 : INFINITY;
    return num / den;
}

static uint64_t hash_bytes(uint64_t hash, const void *data, size_t bytes) {
    const unsigned char *p = data;
    for (size_t i = 0; i < bytes; i++) hash = (hash ^ p[i]) * 1099511628211ull;
    return hash;
}

// ---- without a GPU ----------------------------------------------------------------------------

#ifdef YOLOOP_HAVE_CUDA
#define NO_DEVICE_STATUS YL_ERR_DEVICE
#define NULL_OUT_STATUS YL_ERR_INVALID_ARG
#else
#define NO_DEVICE_STATUS YL_ERR_UNSUPPORTED  // a build without CUDA says so
#define NULL_OUT_STATUS YL_ERR_UNSUPPORTED
#endif

static int log_calls = 0;
static char log_text[1024];

static void record_log(void *user, const char *message) {
    (void)user;
    log_calls++;
    snprintf(log_text, sizeof log_text, "%s", message);
}

// Returns whether a usable GPU was found.
static bool check_backend_create(void) {
    static yl_backend sentinel;  // `out` must be reset to NULL on failure, whatever it held
    yl_backend *be = &sentinel;
    yl_clear_error();
    yl_status status = yl_backend_cuda_create(&be, 0);
    bool gpu = status == YL_OK;
    if (gpu) {
        CHECK(be != NULL && be->device == YL_DEVICE_CUDA, "created backend is not a CUDA backend");
        for (int op = 0; op < YL_OP_COUNT && be; op++)
            CHECK(be->supports(be, (yl_op)op), "CUDA backend does not support %s", yl_op_name((yl_op)op));
        if (be) CHECK(!be->supports(be, YL_OP_COUNT), "supports() accepts an op past the end");
        yl_backend_destroy(be);
    } else {
        printf("yl_backend_cuda_create without a usable GPU: %s: %s\n", yl_status_name(status), yl_last_error());
        CHECK(status == NO_DEVICE_STATUS, "status %s, expected %s", yl_status_name(status),
              yl_status_name(NO_DEVICE_STATUS));
        CHECK(be == NULL, "out is not reset to NULL on failure");
        CHECK(yl_last_error()[0] != '\0', "no error message");
#ifdef YOLOOP_HAVE_CUDA
        CHECK(strstr(yl_last_error(), "CUDA device") != NULL, "message does not mention the CUDA device: %s",
              yl_last_error());
#endif
    }

    // A device index that cannot exist, with or without a GPU.
    be = &sentinel;
    CHECK_STATUS(yl_backend_cuda_create(&be, 4096), NO_DEVICE_STATUS);
    CHECK(be == NULL, "out is not reset to NULL for a bad device index");
    be = &sentinel;
    CHECK_STATUS(yl_backend_cuda_create(&be, -1), NO_DEVICE_STATUS);
    CHECK(be == NULL, "out is not reset to NULL for a negative device index");
    CHECK_STATUS(yl_backend_cuda_create(NULL, 0), NULL_OUT_STATUS);

    // The engine: without fallback the failure comes back; with it, the CPU is used and logged.
    yl_engine eng;
    yl_engine_options strict = {.device = YL_DEVICE_CUDA, .cuda_device_index = 4096};
    CHECK_STATUS(yl_engine_init(&eng, &strict), NO_DEVICE_STATUS);
    yl_engine_options lenient = {.device = YL_DEVICE_CUDA,
                                 .cuda_device_index = gpu ? 4096 : 0,
                                 .allow_cpu_fallback = true,
                                 .log = record_log};
    log_calls = 0;
    CHECK_OK(yl_engine_init(&eng, &lenient));
    CHECK(eng.device == YL_DEVICE_CPU && eng.backends[YL_DEVICE_CUDA] == NULL, "fallback engine is not CPU-only");
    CHECK(log_calls == 1 && strstr(log_text, "CPU") != NULL, "fallback not logged (%d calls: %s)", log_calls,
          log_text);

    // A tensor that claims to live on the GPU cannot run on an engine without a CUDA backend.
    float host[64] = {0};
    yl_tensor x = yl_tensor_4d(host, YL_DEVICE_CUDA, 1, 1, 4, 4);
    yl_tensor w = yl_tensor_4d(host, YL_DEVICE_CUDA, 1, 1, 1, 1);
    yl_tensor y = yl_tensor_4d(host, YL_DEVICE_CUDA, 1, 1, 4, 4);
    yl_conv2d_params params = {.stride = 1, .pad = 0};
    CHECK_STATUS(yl_conv2d_forward(&eng, &x, &w, NULL, &y, &params), YL_ERR_DEVICE);
    CHECK_STATUS(yl_conv2d_backward_data(&eng, &y, &w, &x, &params, false), YL_ERR_DEVICE);
    CHECK_STATUS(yl_conv2d_backward_weight(&eng, &x, &y, &w, NULL, &params, false), YL_ERR_DEVICE);
    yl_engine_release(&eng);
    return gpu;
}

// ---- with a GPU -------------------------------------------------------------------------------

typedef struct {
    double forward, data, weight, bias, forward_cpu, data_cpu, weight_cpu, bias_cpu, accumulate;
} error_summary;

static yl_tensor host_4d(float *data, int64_t n, int64_t c, int64_t h, int64_t w) {
    return yl_tensor_4d(data, YL_DEVICE_CPU, n, c, h, w);
}

// Runs one shape; returns a hash of the CUDA outputs (overwrite mode) so a later re-run of the
// same case can be compared bit for bit.
static uint64_t check_case(yl_engine *eng, uint64_t seed, conv_case c, error_summary *summary) {
    conv_shape s = make_shape(c);
    char name[96];
    describe(&s, name, sizeof name);
    const int64_t N = c.batch, C = c.in_channels, K = c.out_channels, k = c.kernel;
    const int64_t H = c.height, W = c.width, Ho = s.out_height, Wo = s.out_width;
    yl_rng rng;
    yl_rng_seed(&rng, seed, 7);

    float *x = yl_test_random(&rng, s.x_size, -1.0f, 1.0f);
    float *w = yl_test_random(&rng, s.w_size, -0.5f, 0.5f);
    float *bias = yl_test_random(&rng, (size_t)K, -0.5f, 0.5f);
    float *dy = yl_test_random(&rng, s.y_size, -1.0f, 1.0f);
    float *dx0 = yl_test_random(&rng, s.x_size, -1.0f, 1.0f);  // old contents for accumulate = true
    float *dw0 = yl_test_random(&rng, s.w_size, -1.0f, 1.0f);
    float *db0 = yl_test_random(&rng, (size_t)K, -1.0f, 1.0f);
    const float *bias_host = c.bias ? bias : NULL;
    reference ref = reference_compute(&s, x, w, bias_host, dy);

    // The CPU backend on the same inputs.
    float *y_cpu = yl_test_alloc(s.y_size), *dx_cpu = yl_test_alloc(s.x_size);
    float *dw_cpu = yl_test_alloc(s.w_size), *db_cpu = yl_test_alloc((size_t)K);
    {
        yl_tensor tx = host_4d(x, N, C, H, W), tw = host_4d(w, K, C, k, k), ty = host_4d(y_cpu, N, K, Ho, Wo);
        yl_tensor tdy = host_4d(dy, N, K, Ho, Wo), tdx = host_4d(dx_cpu, N, C, H, W), tdw = host_4d(dw_cpu, K, C, k, k);
        yl_tensor tb = yl_tensor_1d(bias, YL_DEVICE_CPU, K), tdb = yl_tensor_1d(db_cpu, YL_DEVICE_CPU, K);
        CHECK_OK(yl_conv2d_forward(eng, &tx, &tw, c.bias ? &tb : NULL, &ty, &s.params));
        CHECK_OK(yl_conv2d_backward_data(eng, &tdy, &tw, &tdx, &s.params, false));
        CHECK_OK(yl_conv2d_backward_weight(eng, &tx, &tdy, &tdw, &tdb, &s.params, false));
    }

    // The CUDA backend. Outputs start as NaN so an overwrite that reads its destination shows.
    const int64_t x_shape[4] = {N, C, H, W}, w_shape[4] = {K, C, k, k}, y_shape[4] = {N, K, Ho, Wo}, b_shape[1] = {K};
    float *nan_x = yl_test_alloc(s.x_size), *nan_w = yl_test_alloc(s.w_size), *nan_y = yl_test_alloc(s.y_size);
    float *nan_b = yl_test_alloc((size_t)K);
    yl_test_fill_nan(nan_x, s.x_size);
    yl_test_fill_nan(nan_w, s.w_size);
    yl_test_fill_nan(nan_y, s.y_size);
    yl_test_fill_nan(nan_b, (size_t)K);
    yl_tensor gx = yl_test_to_device(eng, x, 4, x_shape), gw = yl_test_to_device(eng, w, 4, w_shape);
    yl_tensor gb = yl_test_to_device(eng, bias, 1, b_shape), gdy = yl_test_to_device(eng, dy, 4, y_shape);
    yl_tensor gy = yl_test_to_device(eng, nan_y, 4, y_shape), gdx = yl_test_to_device(eng, nan_x, 4, x_shape);
    yl_tensor gdw = yl_test_to_device(eng, nan_w, 4, w_shape), gdb = yl_test_to_device(eng, nan_b, 1, b_shape);
    const yl_tensor *gbias = c.bias ? &gb : NULL;

    float *y = yl_test_alloc(s.y_size), *dx = yl_test_alloc(s.x_size);
    float *dw = yl_test_alloc(s.w_size), *db = yl_test_alloc((size_t)K);
    CHECK_OK(yl_conv2d_forward(eng, &gx, &gw, gbias, &gy, &s.params));
    CHECK_OK(yl_conv2d_backward_data(eng, &gdy, &gw, &gdx, &s.params, false));
    CHECK_OK(yl_conv2d_backward_weight(eng, &gx, &gdy, &gdw, &gdb, &s.params, false));
    CHECK_OK(eng->backends[YL_DEVICE_CUDA]->synchronize(eng->backends[YL_DEVICE_CUDA]));
    yl_test_to_host(eng, y, &gy);
    yl_test_to_host(eng, dx, &gdx);
    yl_test_to_host(eng, dw, &gdw);
    yl_test_to_host(eng, db, &gdb);

    double e_y = nmse_vs(y, ref.y, NULL, s.y_size), e_dx = nmse_vs(dx, ref.dx, NULL, s.x_size);
    double e_dw = nmse_vs(dw, ref.dw, NULL, s.w_size), e_db = nmse_vs(db, ref.dbias, NULL, (size_t)K);
    double c_y = yl_test_nmse(y, y_cpu, s.y_size), c_dx = yl_test_nmse(dx, dx_cpu, s.x_size);
    double c_dw = yl_test_nmse(dw, dw_cpu, s.w_size), c_db = yl_test_nmse(db, db_cpu, (size_t)K);
    printf("%-26s NMSE vs double: y %.1e dx %.1e dw %.1e db %.1e | vs CPU: y %.1e dx %.1e dw %.1e db %.1e\n", name,
           e_y, e_dx, e_dw, e_db, c_y, c_dx, c_dw, c_db);
    CHECK(e_y <= NMSE_TOLERANCE, "%s: forward NMSE %.3e", name, e_y);
    CHECK(e_dx <= NMSE_TOLERANCE, "%s: backward-data NMSE %.3e", name, e_dx);
    CHECK(e_dw <= NMSE_TOLERANCE, "%s: backward-weight NMSE %.3e", name, e_dw);
    CHECK(e_db <= NMSE_TOLERANCE, "%s: bias-gradient NMSE %.3e", name, e_db);
    CHECK(c_y <= NMSE_TOLERANCE, "%s: forward NMSE vs CPU %.3e", name, c_y);
    CHECK(c_dx <= NMSE_TOLERANCE, "%s: backward-data NMSE vs CPU %.3e", name, c_dx);
    CHECK(c_dw <= NMSE_TOLERANCE, "%s: backward-weight NMSE vs CPU %.3e", name, c_dw);
    CHECK(c_db <= NMSE_TOLERANCE, "%s: bias-gradient NMSE vs CPU %.3e", name, c_db);
    yl_test_track_worst(&summary->forward, e_y);
    yl_test_track_worst(&summary->data, e_dx);
    yl_test_track_worst(&summary->weight, e_dw);
    yl_test_track_worst(&summary->bias, e_db);
    yl_test_track_worst(&summary->forward_cpu, c_y);
    yl_test_track_worst(&summary->data_cpu, c_dx);
    yl_test_track_worst(&summary->weight_cpu, c_dw);
    yl_test_track_worst(&summary->bias_cpu, c_db);
    uint64_t hash = 1469598103934665603ull;
    hash = hash_bytes(hash, y, s.y_size * sizeof(float));
    hash = hash_bytes(hash, dx, s.x_size * sizeof(float));
    hash = hash_bytes(hash, dw, s.w_size * sizeof(float));
    hash = hash_bytes(hash, db, (size_t)K * sizeof(float));

    // The same shape again: the cached algorithm must reproduce every bit.
    size_t largest = s.x_size > s.y_size ? s.x_size : s.y_size;
    float *again = yl_test_alloc(largest > s.w_size ? largest : s.w_size);
    CHECK_OK(yl_conv2d_forward(eng, &gx, &gw, gbias, &gy, &s.params));
    yl_test_to_host(eng, again, &gy);
    CHECK(memcmp(again, y, s.y_size * sizeof(float)) == 0, "%s: forward differs on the second run", name);
    CHECK_OK(yl_conv2d_backward_data(eng, &gdy, &gw, &gdx, &s.params, false));
    yl_test_to_host(eng, again, &gdx);
    CHECK(memcmp(again, dx, s.x_size * sizeof(float)) == 0, "%s: backward-data differs on the second run", name);
    CHECK_OK(yl_conv2d_backward_weight(eng, &gx, &gdy, &gdw, &gdb, &s.params, false));
    yl_test_to_host(eng, again, &gdw);
    CHECK(memcmp(again, dw, s.w_size * sizeof(float)) == 0, "%s: backward-weight differs on the second run", name);
    yl_test_to_host(eng, again, &gdb);
    CHECK(memcmp(again, db, (size_t)K * sizeof(float)) == 0, "%s: bias gradient differs on the second run", name);

    // accumulate = true: the result is added to what the destination held.
    yl_backend *be = eng->backends[YL_DEVICE_CUDA];
    be->copy_from_host(be, gdx.data, dx0, s.x_size * sizeof(float));
    be->copy_from_host(be, gdw.data, dw0, s.w_size * sizeof(float));
    be->copy_from_host(be, gdb.data, db0, (size_t)K * sizeof(float));
    CHECK_OK(yl_conv2d_backward_data(eng, &gdy, &gw, &gdx, &s.params, true));
    CHECK_OK(yl_conv2d_backward_weight(eng, &gx, &gdy, &gdw, &gdb, &s.params, true));
    yl_test_to_host(eng, dx, &gdx);
    yl_test_to_host(eng, dw, &gdw);
    yl_test_to_host(eng, db, &gdb);
    double a_dx = nmse_vs(dx, ref.dx, dx0, s.x_size), a_dw = nmse_vs(dw, ref.dw, dw0, s.w_size);
    double a_db = nmse_vs(db, ref.dbias, db0, (size_t)K);
    CHECK(a_dx <= NMSE_TOLERANCE, "%s: accumulated backward-data NMSE %.3e", name, a_dx);
    CHECK(a_dw <= NMSE_TOLERANCE, "%s: accumulated backward-weight NMSE %.3e", name, a_dw);
    CHECK(a_db <= NMSE_TOLERANCE, "%s: accumulated bias-gradient NMSE %.3e", name, a_db);
    yl_test_track_worst(&summary->accumulate, a_dx);
    yl_test_track_worst(&summary->accumulate, a_dw);
    yl_test_track_worst(&summary->accumulate, a_db);

    yl_tensor *device[] = {&gx, &gw, &gb, &gdy, &gy, &gdx, &gdw, &gdb};
    for (size_t i = 0; i < sizeof device / sizeof device[0]; i++) yl_test_device_free(eng, device[i]);
    float *host[] = {x,     w,     bias,  dy,    dx0, dw0, db0, y_cpu, dx_cpu, dw_cpu, db_cpu,
                     nan_x, nan_w, nan_y, nan_b, y,   dx,  dw,  db,    again};
    for (size_t i = 0; i < sizeof host / sizeof host[0]; i++) free(host[i]);
    reference_free(&ref);
    return hash;
}

// Bad arguments on a CUDA engine: the dispatch layer refuses them before cuDNN sees them.
static void check_bad_arguments(yl_engine *eng) {
    const int64_t x_shape[4] = {1, 2, 5, 5}, w_shape[4] = {3, 2, 3, 3}, y_shape[4] = {1, 3, 5, 5};
    yl_tensor gx = yl_test_to_device(eng, NULL, 4, x_shape), gw = yl_test_to_device(eng, NULL, 4, w_shape);
    yl_tensor gy = yl_test_to_device(eng, NULL, 4, y_shape);
    float host_w[18] = {0};
    yl_tensor cpu_w = yl_tensor_4d(host_w, YL_DEVICE_CPU, 3, 2, 3, 3);
    yl_conv2d_params ok = {.stride = 1, .pad = 1}, stride3 = {.stride = 3, .pad = 1}, pad0 = {.stride = 1, .pad = 0};
    CHECK_STATUS(yl_conv2d_forward(eng, &gx, &cpu_w, NULL, &gy, &ok), YL_ERR_DEVICE);
    CHECK_STATUS(yl_conv2d_forward(eng, &gx, &gw, NULL, &gy, &stride3), YL_ERR_UNSUPPORTED);
    CHECK_STATUS(yl_conv2d_forward(eng, &gx, &gw, NULL, &gy, &pad0), YL_ERR_UNSUPPORTED);
    CHECK_STATUS(yl_conv2d_forward(eng, &gx, &gw, NULL, &gy, NULL), YL_ERR_INVALID_ARG);
    CHECK_STATUS(yl_conv2d_backward_data(eng, &gx, &gw, &gy, &ok, false), YL_ERR_SHAPE);  // dy and dx swapped
    CHECK_STATUS(yl_conv2d_backward_weight(eng, &gx, &gy, NULL, NULL, &ok, false), YL_ERR_INVALID_ARG);
    yl_test_device_free(eng, &gx);
    yl_test_device_free(eng, &gw);
    yl_test_device_free(eng, &gy);
}

int main(void) {
    bool gpu = check_backend_create();
    yl_engine eng;
    if (!yl_test_cuda_engine(&eng)) {  // prints SKIPPED and the reason
        CHECK(!gpu, "yl_backend_cuda_create succeeded but the CUDA engine did not start");
        if (yl_test_failures) return yl_test_finish("cuda_conv2d");
        printf("cuda_conv2d: the %d checks that need no GPU passed\n", yl_test_checks);
        return YL_TEST_SKIPPED;
    }

    const conv_case cases[] = {
        {1, 3, 8, 8, 8, 3, 1, true},      // the stem's shape, small
        {3, 3, 8, 8, 8, 3, 1, false},     // same shape, batch 3, no bias: a new cache key
        {3, 5, 6, 7, 9, 3, 2, false},     // odd sizes, stride 2
        {1, 8, 7, 5, 6, 1, 1, true},      // 1x1
        {3, 8, 7, 5, 6, 1, 1, true},      // 1x1, batch 3
        {3, 4, 8, 9, 11, 1, 2, true},     // 1x1 stride 2 (odd sizes)
        {2, 16, 16, 13, 13, 3, 1, true},  // wide enough for Winograd/FFT candidates
        {3, 6, 5, 17, 15, 3, 2, true},    // odd sizes, stride 2, batch 3
        {1, 3, 8, 8, 8, 3, 1, false},     // the first shape without bias: same cache entry
    };
    const int count = (int)(sizeof cases / sizeof cases[0]);
    error_summary summary = {0};
    uint64_t first_hash = 0;
    for (int i = 0; i < count; i++) {
        uint64_t hash = check_case(&eng, 1000 + (uint64_t)i, cases[i], &summary);
        if (i == 0) first_hash = hash;
    }
    // The first case once more, after other shapes went through the cache: bit-identical.
    uint64_t hash = check_case(&eng, 1000, cases[0], &summary);
    CHECK(hash == first_hash, "re-running the first shape after others changed its results");

    check_bad_arguments(&eng);
    printf("worst NMSE vs double reference: forward %.2e, backward-data %.2e, backward-weight %.2e, bias %.2e\n",
           summary.forward, summary.data, summary.weight, summary.bias);
    printf("worst NMSE vs CPU backend:      forward %.2e, backward-data %.2e, backward-weight %.2e, bias %.2e\n",
           summary.forward_cpu, summary.data_cpu, summary.weight_cpu, summary.bias_cpu);
    printf("worst NMSE with accumulate:     %.2e (tolerance %.0e)\n", summary.accumulate, NMSE_TOLERANCE);
    yl_engine_release(&eng);
    return yl_test_finish("cuda_conv2d");
}
