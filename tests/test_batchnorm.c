// batchnorm2d and the fused BN + SiLU on the CPU backend, through the public yl_* API:
// - train forward (y, saved mean and 1/std) against double-precision batch statistics, also for
//   channels whose mean is far larger than their spread;
// - running statistics after one and after two training steps against hand-computed values
//   (momentum, unbiased variance n/(n-1)), with YOLOv8's eps 1e-3 and momentum 0.03;
// - train backward (dx, dgamma, dbeta) against the double-precision formula and against finite
//   differences of L = sum(y * r) whose forward recomputes the batch statistics;
// - eval forward and backward (frozen statistics) the same way;
// - bn_silu: y_bn and the statistics equal the unfused op bit for bit, y = silu(y_bn);
// - accumulate = true equals overwrite plus old contents bit for bit; stale NaNs in outputs do
//   not leak; results repeat bit for bit with 1 and 2 threads;
// - bad arguments give the right status and a message.
#include <stdint.h>

#include "engine/core/threads.h"
#include "test_common.h"

#define BN_EPS 1e-3f
#define BN_MOMENTUM 0.03f

// Scaled errors (max |got - want| / max |want|) against double references. The fp32 path
// normalises as (x - mean_f) * scale + shift with a few roundings of O(1) values: ~3e-7.
#define REFERENCE_TOLERANCE 2e-6
#define OFFSET_BACKWARD_TOLERANCE 1e-4
// Statistics are accumulated in double and rounded once: relative error <= 6e-8 plus the fp32
// arithmetic of the running update.
#define STATS_TOLERANCE 1e-6
// Finite differences of the fp32 forward with eps = 1e-2 on x of spread 0.2..2. A perturbation
// moves every output of its channel, so the fp32 rounding noise in L is ~sqrt(M) * 6e-8 / (2 eps):
// 1.4e-4 absolute for M = 2112 values per channel, 1.4e-3 relative to FD_FLOOR (measured worst
// 1.5e-3, there). Truncation, (eps / std)^2 terms of the normalisation, stays below 1e-4. The
// tolerance leaves ~7x margin. Gradients below FD_FLOOR are compared absolutely against it.
#define FD_EPS 1e-2f
#define FD_TOLERANCE 1e-2
#define FD_FLOOR 0.1
#define FD_CHECKS 24

typedef struct {
    int n, c, h, w;
    float offset;  // channel means lie in [-offset, offset]; spreads in [0.2, 2]
    bool fd;       // run the finite-difference checks (not for offset channels: eps >> spread)
} bn_case;

typedef struct {
    double reference, offset_backward, stats, fd;
} error_summary;

static error_summary summary;

// max |got - want| / |want| over a per-channel vector.
static double vector_error(const float *got, const double *want, int n) {
    double worst = 0.0;
    for (int i = 0; i < n; i++) {
        double e = fabs((double)got[i] - want[i]) / fmax(fabs(want[i]), 1e-30);
        if (e > worst || isnan(e)) worst = e;
    }
    return worst;
}

// ---- double references ------------------------------------------------------------------------

typedef struct {
    int n, c, plane;
} dims;

static size_t index_of(const dims *d, int n, int c, int i) { return ((size_t)n * d->c + c) * d->plane + i; }

// Biased batch mean and variance per channel.
static void ref_moments(const dims *d, const float *x, double *mean, double *var) {
    const double count = (double)d->n * d->plane;
    for (int c = 0; c < d->c; c++) {
        double s = 0.0, q = 0.0;
        for (int n = 0; n < d->n; n++)
            for (int i = 0; i < d->plane; i++) s += x[index_of(d, n, c, i)];
        mean[c] = s / count;
        for (int n = 0; n < d->n; n++)
            for (int i = 0; i < d->plane; i++) {
                double v = x[index_of(d, n, c, i)] - mean[c];
                q += v * v;
            }
        var[c] = q / count;
    }
}

static void ref_normalize(const dims *d, const float *x, const float *gamma, const float *beta, const double *mean,
                          const double *var, double *y) {
    for (int n = 0; n < d->n; n++)
        for (int c = 0; c < d->c; c++)
            for (int i = 0; i < d->plane; i++) {
                size_t k = index_of(d, n, c, i);
                y[k] = (x[k] - mean[c]) / sqrt(var[c] + (double)BN_EPS) * gamma[c] + beta[c];
            }
}

// Train backward with batch statistics (train = true) or frozen ones (train = false).
static void ref_backward(const dims *d, const float *x, const float *dy, const float *gamma, const double *mean,
                         const double *var, bool train, double *dx, double *dgamma, double *dbeta) {
    const double count = (double)d->n * d->plane;
    for (int c = 0; c < d->c; c++) {
        const double invstd = 1.0 / sqrt(var[c] + (double)BN_EPS);
        double s = 0.0, sx = 0.0;
        for (int n = 0; n < d->n; n++)
            for (int i = 0; i < d->plane; i++) {
                size_t k = index_of(d, n, c, i);
                s += dy[k];
                sx += dy[k] * (x[k] - mean[c]) * invstd;
            }
        dgamma[c] = sx;
        dbeta[c] = s;
        for (int n = 0; n < d->n; n++)
            for (int i = 0; i < d->plane; i++) {
                size_t k = index_of(d, n, c, i);
                double xhat = (x[k] - mean[c]) * invstd;
                dx[k] = train ? gamma[c] * invstd * (dy[k] - s / count - xhat * sx / count) : gamma[c] * invstd * dy[k];
            }
    }
}

// ---- loss closures for finite differences ---------------------------------------------------------

typedef struct {
    yl_engine *eng;
    bool train;
    yl_tensor x, gamma, beta, running_mean, running_var, y, save_mean, save_invstd;
    yl_batchnorm_params params;
    const float *r;
    size_t size;
} bn_loss;

static double bn_loss_fn(void *opaque) {
    bn_loss *ctx = opaque;
    yl_status status =
        ctx->train
            ? yl_batchnorm2d_forward_train(ctx->eng, &ctx->x, &ctx->gamma, &ctx->beta, &ctx->running_mean,
                                           &ctx->running_var, &ctx->y, &ctx->save_mean, &ctx->save_invstd, &ctx->params)
            : yl_batchnorm2d_forward_eval(ctx->eng, &ctx->x, &ctx->gamma, &ctx->beta, &ctx->running_mean,
                                          &ctx->running_var, &ctx->y, &ctx->params);
    if (status != YL_OK) return NAN;
    return yl_test_dot(ctx->y.data, ctx->r, ctx->size);
}

// ---- one shape --------------------------------------------------------------------------------

typedef struct {
    bn_case k;
    dims d;
    size_t size;
    float *x, *gamma, *beta, *r;
} bn_data;

static bn_data make_data(yl_rng *rng, bn_case k) {
    bn_data s = {.k = k, .d = {k.n, k.c, k.h * k.w}};
    s.size = (size_t)k.n * k.c * k.h * k.w;
    s.x = yl_test_alloc(s.size);
    for (int c = 0; c < k.c; c++) {
        float center = k.offset * (2.0f * yl_rng_uniform(rng) - 1.0f);
        float spread = 0.2f + 1.8f * yl_rng_uniform(rng);
        for (int n = 0; n < k.n; n++)
            for (int i = 0; i < s.d.plane; i++) s.x[index_of(&s.d, n, c, i)] = center + spread * yl_rng_normal(rng);
    }
    s.gamma = yl_test_random(rng, (size_t)k.c, 0.5f, 1.5f);
    s.beta = yl_test_random(rng, (size_t)k.c, -0.5f, 0.5f);
    s.r = yl_test_random(rng, s.size, -1.0f, 1.0f);
    return s;
}

static void free_data(bn_data *s) { free(s->x), free(s->gamma), free(s->beta), free(s->r); }

static yl_tensor t4(float *p, const bn_case *k) { return yl_tensor_4d(p, YL_DEVICE_CPU, k->n, k->c, k->h, k->w); }
static yl_tensor t1(float *p, const bn_case *k) { return yl_tensor_1d(p, YL_DEVICE_CPU, k->c); }

static void describe(const bn_case *k, char *buf, size_t size) {
    snprintf(buf, size, "N%d C%d %dx%d%s", k->n, k->c, k->h, k->w, k->offset > 0 ? " offset" : "");
}

static void check_train(yl_engine *eng, yl_rng *rng, bn_case k) {
    char name[64];
    describe(&k, name, sizeof name);
    bn_data s = make_data(rng, k);
    const int C = k.c;
    const yl_batchnorm_params params = {.eps = BN_EPS, .momentum = BN_MOMENTUM};

    float *rm = yl_test_random(rng, (size_t)C, -0.5f, 0.5f), *rv = yl_test_random(rng, (size_t)C, 0.5f, 2.0f);
    double *rm_ref = calloc((size_t)C, sizeof(double)), *rv_ref = calloc((size_t)C, sizeof(double));
    for (int c = 0; c < C; c++) rm_ref[c] = rm[c], rv_ref[c] = rv[c];
    float *y = yl_test_alloc(s.size), *sm = yl_test_alloc((size_t)C), *si = yl_test_alloc((size_t)C);
    float *dx = yl_test_alloc(s.size), *dg = yl_test_alloc((size_t)C), *db = yl_test_alloc((size_t)C);
    double *mean = calloc((size_t)C, sizeof(double)), *var = calloc((size_t)C, sizeof(double));
    double *y_ref = calloc(s.size, sizeof(double)), *dx_ref = calloc(s.size, sizeof(double));
    double *dg_ref = calloc((size_t)C, sizeof(double)), *db_ref = calloc((size_t)C, sizeof(double));
    double *invstd_ref = calloc((size_t)C, sizeof(double));
    if (!rm_ref || !rv_ref || !mean || !var || !y_ref || !dx_ref || !dg_ref || !db_ref || !invstd_ref) exit(2);

    yl_tensor tx = t4(s.x, &k), ty = t4(y, &k), tdy = t4(s.r, &k), tdx = t4(dx, &k);
    yl_tensor tg = t1(s.gamma, &k), tb = t1(s.beta, &k), trm = t1(rm, &k), trv = t1(rv, &k);
    yl_tensor tsm = t1(sm, &k), tsi = t1(si, &k), tdg = t1(dg, &k), tdb = t1(db, &k);

    // Two training steps: the second on fresh data from the updated running statistics.
    const double count = (double)s.d.n * s.d.plane;
    for (int step = 1; step <= 2; step++) {
        if (step == 2)
            for (size_t i = 0; i < s.size; i++) s.x[i] = 0.5f * s.x[i] + yl_rng_normal(rng);
        yl_test_fill_nan(y, s.size), yl_test_fill_nan(sm, (size_t)C), yl_test_fill_nan(si, (size_t)C);
        CHECK_OK(yl_batchnorm2d_forward_train(eng, &tx, &tg, &tb, &trm, &trv, &ty, &tsm, &tsi, &params));
        ref_moments(&s.d, s.x, mean, var);
        for (int c = 0; c < C; c++) {
            rm_ref[c] = (1.0 - BN_MOMENTUM) * rm_ref[c] + BN_MOMENTUM * mean[c];
            rv_ref[c] = (1.0 - BN_MOMENTUM) * rv_ref[c] + BN_MOMENTUM * var[c] * count / (count - 1.0);
            invstd_ref[c] = 1.0 / sqrt(var[c] + (double)BN_EPS);
        }
        ref_normalize(&s.d, s.x, s.gamma, s.beta, mean, var, y_ref);
        double e_y = yl_test_scaled_error(y, y_ref, s.size);
        // The saved mean is compared on the scale of its channel's spread: that is what it is
        // subtracted from.
        double e_mean = 0.0;
        for (int c = 0; c < C; c++) e_mean = fmax(e_mean, fabs(sm[c] - mean[c]) / (fabs(mean[c]) + sqrt(var[c])));
        double e_invstd = vector_error(si, invstd_ref, C);
        double e_rm = 0.0;
        for (int c = 0; c < C; c++) e_rm = fmax(e_rm, fabs(rm[c] - rm_ref[c]) / (fabs(rm_ref[c]) + sqrt(var[c])));
        double e_rv = vector_error(rv, rv_ref, C);
        printf("%-22s train step %d: y %.2e  mean %.2e  invstd %.2e  running mean %.2e  running var %.2e\n", name, step,
               e_y, e_mean, e_invstd, e_rm, e_rv);
        CHECK(e_y <= REFERENCE_TOLERANCE, "%s step %d: y error %.3e", name, step, e_y);
        CHECK(e_mean <= STATS_TOLERANCE && e_invstd <= STATS_TOLERANCE, "%s step %d: saved mean %.3e invstd %.3e", name,
              step, e_mean, e_invstd);
        CHECK(e_rm <= STATS_TOLERANCE && e_rv <= STATS_TOLERANCE, "%s step %d: running mean %.3e var %.3e", name, step,
              e_rm, e_rv);
        yl_test_track_worst(&summary.reference, e_y);
        yl_test_track_worst(&summary.stats, fmax(fmax(e_mean, e_invstd), fmax(e_rm, e_rv)));
    }

    // Backward against the formula with double statistics.
    yl_test_fill_nan(dx, s.size), yl_test_fill_nan(dg, (size_t)C), yl_test_fill_nan(db, (size_t)C);
    CHECK_OK(yl_batchnorm2d_backward_train(eng, &tx, &tdy, &tg, &tsm, &tsi, &tdx, &tdg, &tdb, false));
    ref_backward(&s.d, s.x, s.r, s.gamma, mean, var, true, dx_ref, dg_ref, db_ref);
    double e_dx = yl_test_scaled_error(dx, dx_ref, s.size), e_dg = yl_test_scaled_error(dg, dg_ref, (size_t)C),
           e_db = yl_test_scaled_error(db, db_ref, (size_t)C);
    printf("%-22s train backward vs formula: dx %.2e  dgamma %.2e  dbeta %.2e\n", name, e_dx, e_dg, e_db);
    // The backward subtracts the fp32 saved mean, as PyTorch's does. For offset channels its
    // rounding (|mean| * 6e-8, up to 6e-5 of a spread of 1) shifts xhat, so dgamma there gets
    // OFFSET_BACKWARD_TOLERANCE.
    const double backward_tolerance = k.offset > 0 ? OFFSET_BACKWARD_TOLERANCE : REFERENCE_TOLERANCE;
    CHECK(e_dx <= backward_tolerance && e_dg <= backward_tolerance && e_db <= backward_tolerance,
          "%s: train backward dx %.3e dgamma %.3e dbeta %.3e", name, e_dx, e_dg, e_db);
    yl_test_track_worst(k.offset > 0 ? &summary.offset_backward : &summary.reference, fmax(e_dx, fmax(e_dg, e_db)));

    if (k.fd) {
        float *probe = yl_test_alloc(s.size), *rm2 = yl_test_alloc((size_t)C), *rv2 = yl_test_alloc((size_t)C);
        float *sm2 = yl_test_alloc((size_t)C), *si2 = yl_test_alloc((size_t)C);
        bn_loss ctx = {.eng = eng,
                       .train = true,
                       .x = tx,
                       .gamma = tg,
                       .beta = tb,
                       .running_mean = t1(rm2, &k),
                       .running_var = t1(rv2, &k),
                       .y = t4(probe, &k),
                       .save_mean = t1(sm2, &k),
                       .save_invstd = t1(si2, &k),
                       .params = params,
                       .r = s.r,
                       .size = s.size};
        char label[96];
        snprintf(label, sizeof label, "%s train dx", name);
        double f_dx = yl_test_gradient_error(label, s.x, s.size, dx, bn_loss_fn, &ctx, FD_EPS, FD_CHECKS, FD_FLOOR);
        snprintf(label, sizeof label, "%s train dgamma", name);
        double f_dg =
            yl_test_gradient_error(label, s.gamma, (size_t)C, dg, bn_loss_fn, &ctx, FD_EPS, FD_CHECKS, FD_FLOOR);
        snprintf(label, sizeof label, "%s train dbeta", name);
        double f_db =
            yl_test_gradient_error(label, s.beta, (size_t)C, db, bn_loss_fn, &ctx, FD_EPS, FD_CHECKS, FD_FLOOR);
        CHECK(f_dx <= FD_TOLERANCE && f_dg <= FD_TOLERANCE && f_db <= FD_TOLERANCE,
              "%s: train finite differences dx %.3e dgamma %.3e dbeta %.3e", name, f_dx, f_dg, f_db);
        yl_test_track_worst(&summary.fd, fmax(f_dx, fmax(f_dg, f_db)));
        free(probe), free(rm2), free(rv2), free(sm2), free(si2);
    }

    // accumulate
    float *prev = yl_test_random(rng, s.size, -2.0f, 2.0f), *acc = yl_test_alloc(s.size);
    float *prev_g = yl_test_random(rng, (size_t)C, -2.0f, 2.0f), *acc_g = yl_test_alloc((size_t)C);
    float *prev_b = yl_test_random(rng, (size_t)C, -2.0f, 2.0f), *acc_b = yl_test_alloc((size_t)C);
    memcpy(acc, prev, s.size * sizeof(float));
    memcpy(acc_g, prev_g, (size_t)C * sizeof(float));
    memcpy(acc_b, prev_b, (size_t)C * sizeof(float));
    yl_tensor tacc = t4(acc, &k), tacc_g = t1(acc_g, &k), tacc_b = t1(acc_b, &k);
    CHECK_OK(yl_batchnorm2d_backward_train(eng, &tx, &tdy, &tg, &tsm, &tsi, &tacc, &tacc_g, &tacc_b, true));
    size_t bad = yl_test_count_inexact_accumulation(acc, dx, prev, s.size) +
                 yl_test_count_inexact_accumulation(acc_g, dg, prev_g, (size_t)C) +
                 yl_test_count_inexact_accumulation(acc_b, db, prev_b, (size_t)C);
    CHECK(bad == 0, "%s: train backward accumulate differs from overwrite + previous at %zu places", name, bad);

    // Same bits with the current thread count and with one thread.
    float *again = yl_test_alloc(s.size), *again_v = yl_test_alloc((size_t)C);
    float *rm_a = yl_test_alloc((size_t)C), *rv_a = yl_test_alloc((size_t)C);
    int threads = yl_get_num_threads();
    for (int t = 0; t < 2; t++) {
        yl_set_num_threads(t == 0 ? threads : 1);
        // The running statistics move on with every call; y and the saved ones must not.
        yl_tensor tagain = t4(again, &k), tsm_a = t1(again_v, &k), trm_a = t1(rm_a, &k), trv_a = t1(rv_a, &k);
        float *si_a = yl_test_alloc((size_t)C);
        yl_tensor tsi_a = t1(si_a, &k);
        CHECK_OK(yl_batchnorm2d_forward_train(eng, &tx, &tg, &tb, &trm_a, &trv_a, &tagain, &tsm_a, &tsi_a, &params));
        CHECK(memcmp(again, y, s.size * sizeof(float)) == 0 && memcmp(again_v, sm, (size_t)C * sizeof(float)) == 0 &&
                  memcmp(si_a, si, (size_t)C * sizeof(float)) == 0,
              "%s: train forward not repeatable (%d threads)", name, yl_get_num_threads());
        CHECK_OK(yl_batchnorm2d_backward_train(eng, &tx, &tdy, &tg, &tsm, &tsi, &tagain, &tsm_a, &tsi_a, false));
        CHECK(memcmp(again, dx, s.size * sizeof(float)) == 0 && memcmp(again_v, dg, (size_t)C * sizeof(float)) == 0,
              "%s: train backward not repeatable (%d threads)", name, yl_get_num_threads());
        free(si_a);
    }
    yl_set_num_threads(threads);

    // The fused op: y_bn and statistics equal the unfused op's bits, y = silu(y_bn).
    float *y_bn = yl_test_alloc(s.size), *y_act = yl_test_alloc(s.size), *y_silu = yl_test_alloc(s.size);
    float *rm_f = yl_test_random(rng, (size_t)C, -0.5f, 0.5f), *rv_f = yl_test_random(rng, (size_t)C, 0.5f, 2.0f);
    float *rm_u = yl_test_alloc((size_t)C), *rv_u = yl_test_alloc((size_t)C), *sm_f = yl_test_alloc((size_t)C),
          *si_f = yl_test_alloc((size_t)C);
    memcpy(rm_u, rm_f, (size_t)C * sizeof(float));
    memcpy(rv_u, rv_f, (size_t)C * sizeof(float));
    yl_test_fill_nan(y_bn, s.size), yl_test_fill_nan(y_act, s.size);
    yl_tensor ty_bn = t4(y_bn, &k), ty_act = t4(y_act, &k), ty_silu = t4(y_silu, &k);
    yl_tensor trm_f = t1(rm_f, &k), trv_f = t1(rv_f, &k), trm_u = t1(rm_u, &k), trv_u = t1(rv_u, &k);
    yl_tensor tsm_f = t1(sm_f, &k), tsi_f = t1(si_f, &k);
    CHECK_OK(yl_bn_silu_forward_train(eng, &tx, &tg, &tb, &trm_f, &trv_f, &ty_bn, &ty_act, &tsm_f, &tsi_f, &params));
    CHECK_OK(yl_batchnorm2d_forward_train(eng, &tx, &tg, &tb, &trm_u, &trv_u, &ty, &tsm, &tsi, &params));
    CHECK_OK(yl_silu_forward(eng, &ty, &ty_silu));
    CHECK(memcmp(y_bn, y, s.size * sizeof(float)) == 0, "%s: bn_silu train y_bn != batchnorm y", name);
    CHECK(memcmp(y_act, y_silu, s.size * sizeof(float)) == 0, "%s: bn_silu train y != silu(y_bn)", name);
    CHECK(memcmp(rm_f, rm_u, (size_t)C * sizeof(float)) == 0 && memcmp(rv_f, rv_u, (size_t)C * sizeof(float)) == 0 &&
              memcmp(sm_f, sm, (size_t)C * sizeof(float)) == 0 && memcmp(si_f, si, (size_t)C * sizeof(float)) == 0,
          "%s: bn_silu train statistics differ from batchnorm's", name);
    for (size_t i = 0; i < s.size; i++) y_ref[i] = y_ref[i] / (1.0 + exp(-y_ref[i]));
    double e_silu = yl_test_scaled_error(y_act, y_ref, s.size);
    CHECK(e_silu <= REFERENCE_TOLERANCE, "%s: bn_silu train y vs silu(reference) %.3e", name, e_silu);
    yl_test_track_worst(&summary.reference, e_silu);

    free(y_bn), free(y_act), free(y_silu), free(rm_f), free(rv_f), free(rm_u), free(rv_u), free(sm_f), free(si_f);
    free(again), free(again_v), free(rm_a), free(rv_a);
    free(prev), free(acc), free(prev_g), free(acc_g), free(prev_b), free(acc_b);
    free(rm), free(rv), free(rm_ref), free(rv_ref), free(y), free(sm), free(si), free(dx), free(dg), free(db);
    free(mean), free(var), free(y_ref), free(dx_ref), free(dg_ref), free(db_ref), free(invstd_ref);
    free_data(&s);
}

static void check_eval(yl_engine *eng, yl_rng *rng, bn_case k) {
    char name[64];
    describe(&k, name, sizeof name);
    bn_data s = make_data(rng, k);
    const int C = k.c;
    const yl_batchnorm_params params = {.eps = BN_EPS, .momentum = BN_MOMENTUM};
    // Running statistics near the data's, as after training, but not equal to the batch's.
    double *mean = calloc((size_t)C, sizeof(double)), *var = calloc((size_t)C, sizeof(double));
    if (!mean || !var) exit(2);
    ref_moments(&s.d, s.x, mean, var);
    float *rm = yl_test_alloc((size_t)C), *rv = yl_test_alloc((size_t)C);
    for (int c = 0; c < C; c++) {
        rm[c] = (float)(mean[c] + 0.3 * sqrt(var[c]) * (2.0 * yl_rng_uniform(rng) - 1.0));
        rv[c] = (float)(var[c] * (0.5 + yl_rng_uniform(rng)));
        mean[c] = rm[c], var[c] = rv[c];
    }
    float *rm_before = yl_test_alloc((size_t)C), *rv_before = yl_test_alloc((size_t)C);
    memcpy(rm_before, rm, (size_t)C * sizeof(float));
    memcpy(rv_before, rv, (size_t)C * sizeof(float));
    float *y = yl_test_alloc(s.size), *dx = yl_test_alloc(s.size), *dg = yl_test_alloc((size_t)C),
          *db = yl_test_alloc((size_t)C);
    double *y_ref = calloc(s.size, sizeof(double)), *dx_ref = calloc(s.size, sizeof(double));
    double *dg_ref = calloc((size_t)C, sizeof(double)), *db_ref = calloc((size_t)C, sizeof(double));
    if (!y_ref || !dx_ref || !dg_ref || !db_ref) exit(2);
    yl_tensor tx = t4(s.x, &k), ty = t4(y, &k), tdy = t4(s.r, &k), tdx = t4(dx, &k);
    yl_tensor tg = t1(s.gamma, &k), tb = t1(s.beta, &k), trm = t1(rm, &k), trv = t1(rv, &k);
    yl_tensor tdg = t1(dg, &k), tdb = t1(db, &k);

    yl_test_fill_nan(y, s.size), yl_test_fill_nan(dx, s.size), yl_test_fill_nan(dg, (size_t)C), yl_test_fill_nan(db, (size_t)C);
    CHECK_OK(yl_batchnorm2d_forward_eval(eng, &tx, &tg, &tb, &trm, &trv, &ty, &params));
    CHECK_OK(yl_batchnorm2d_backward_eval(eng, &tx, &tdy, &tg, &trm, &trv, &tdx, &tdg, &tdb, &params, false));
    CHECK(
        memcmp(rm, rm_before, (size_t)C * sizeof(float)) == 0 && memcmp(rv, rv_before, (size_t)C * sizeof(float)) == 0,
        "%s: eval changed the running statistics", name);
    ref_normalize(&s.d, s.x, s.gamma, s.beta, mean, var, y_ref);
    ref_backward(&s.d, s.x, s.r, s.gamma, mean, var, false, dx_ref, dg_ref, db_ref);
    double e_y = yl_test_scaled_error(y, y_ref, s.size), e_dx = yl_test_scaled_error(dx, dx_ref, s.size);
    double e_dg = yl_test_scaled_error(dg, dg_ref, (size_t)C), e_db = yl_test_scaled_error(db, db_ref, (size_t)C);
    printf("%-22s eval: y %.2e  dx %.2e  dgamma %.2e  dbeta %.2e\n", name, e_y, e_dx, e_dg, e_db);
    CHECK(e_y <= REFERENCE_TOLERANCE && e_dx <= REFERENCE_TOLERANCE && e_dg <= REFERENCE_TOLERANCE &&
              e_db <= REFERENCE_TOLERANCE,
          "%s: eval y %.3e dx %.3e dgamma %.3e dbeta %.3e", name, e_y, e_dx, e_dg, e_db);
    yl_test_track_worst(&summary.reference, fmax(fmax(e_y, e_dx), fmax(e_dg, e_db)));

    if (k.fd) {
        float *probe = yl_test_alloc(s.size);
        bn_loss ctx = {.eng = eng,
                       .train = false,
                       .x = tx,
                       .gamma = tg,
                       .beta = tb,
                       .running_mean = trm,
                       .running_var = trv,
                       .y = t4(probe, &k),
                       .params = params,
                       .r = s.r,
                       .size = s.size};
        char label[96];
        snprintf(label, sizeof label, "%s eval dx", name);
        double f_dx = yl_test_gradient_error(label, s.x, s.size, dx, bn_loss_fn, &ctx, FD_EPS, FD_CHECKS, FD_FLOOR);
        snprintf(label, sizeof label, "%s eval dgamma", name);
        double f_dg =
            yl_test_gradient_error(label, s.gamma, (size_t)C, dg, bn_loss_fn, &ctx, FD_EPS, FD_CHECKS, FD_FLOOR);
        snprintf(label, sizeof label, "%s eval dbeta", name);
        double f_db =
            yl_test_gradient_error(label, s.beta, (size_t)C, db, bn_loss_fn, &ctx, FD_EPS, FD_CHECKS, FD_FLOOR);
        CHECK(f_dx <= FD_TOLERANCE && f_dg <= FD_TOLERANCE && f_db <= FD_TOLERANCE,
              "%s: eval finite differences dx %.3e dgamma %.3e dbeta %.3e", name, f_dx, f_dg, f_db);
        yl_test_track_worst(&summary.fd, fmax(f_dx, fmax(f_dg, f_db)));
        free(probe);
    }

    float *prev = yl_test_random(rng, s.size, -2.0f, 2.0f), *acc = yl_test_alloc(s.size);
    float *prev_g = yl_test_random(rng, (size_t)C, -2.0f, 2.0f), *acc_g = yl_test_alloc((size_t)C);
    float *prev_b = yl_test_random(rng, (size_t)C, -2.0f, 2.0f), *acc_b = yl_test_alloc((size_t)C);
    memcpy(acc, prev, s.size * sizeof(float));
    memcpy(acc_g, prev_g, (size_t)C * sizeof(float));
    memcpy(acc_b, prev_b, (size_t)C * sizeof(float));
    yl_tensor tacc = t4(acc, &k), tacc_g = t1(acc_g, &k), tacc_b = t1(acc_b, &k);
    CHECK_OK(yl_batchnorm2d_backward_eval(eng, &tx, &tdy, &tg, &trm, &trv, &tacc, &tacc_g, &tacc_b, &params, true));
    size_t bad = yl_test_count_inexact_accumulation(acc, dx, prev, s.size) +
                 yl_test_count_inexact_accumulation(acc_g, dg, prev_g, (size_t)C) +
                 yl_test_count_inexact_accumulation(acc_b, db, prev_b, (size_t)C);
    CHECK(bad == 0, "%s: eval backward accumulate differs from overwrite + previous at %zu places", name, bad);

    float *y_bn = yl_test_alloc(s.size), *y_act = yl_test_alloc(s.size), *y_silu = yl_test_alloc(s.size);
    yl_test_fill_nan(y_bn, s.size), yl_test_fill_nan(y_act, s.size);
    yl_tensor ty_bn = t4(y_bn, &k), ty_act = t4(y_act, &k), ty_silu = t4(y_silu, &k);
    CHECK_OK(yl_bn_silu_forward_eval(eng, &tx, &tg, &tb, &trm, &trv, &ty_bn, &ty_act, &params));
    CHECK_OK(yl_silu_forward(eng, &ty, &ty_silu));
    CHECK(memcmp(y_bn, y, s.size * sizeof(float)) == 0, "%s: bn_silu eval y_bn != batchnorm y", name);
    CHECK(memcmp(y_act, y_silu, s.size * sizeof(float)) == 0, "%s: bn_silu eval y != silu(y_bn)", name);

    free(y_bn), free(y_act), free(y_silu), free(prev), free(acc), free(prev_g), free(acc_g), free(prev_b), free(acc_b);
    free(mean), free(var), free(rm), free(rv), free(rm_before), free(rv_before), free(y), free(dx), free(dg), free(db);
    free(y_ref), free(dx_ref), free(dg_ref), free(db_ref);
    free_data(&s);
}

// ---- bad arguments ----------------------------------------------------------------------------

static void check_bad_arguments(yl_engine *eng) {
    float *bx = yl_test_alloc(512), *by = yl_test_alloc(512), *bdy = yl_test_alloc(512), *bdx = yl_test_alloc(512);
    float *v[8];
    for (int i = 0; i < 8; i++) v[i] = yl_test_alloc(16);
    for (int i = 0; i < 8; i++) v[3][i] = 1.0f;  // running_var
    yl_tensor x = yl_tensor_4d(bx, YL_DEVICE_CPU, 2, 4, 5, 7), y = yl_tensor_4d(by, YL_DEVICE_CPU, 2, 4, 5, 7);
    yl_tensor dy = yl_tensor_4d(bdy, YL_DEVICE_CPU, 2, 4, 5, 7), dx = yl_tensor_4d(bdx, YL_DEVICE_CPU, 2, 4, 5, 7);
    yl_tensor g = yl_tensor_1d(v[0], YL_DEVICE_CPU, 4), b = yl_tensor_1d(v[1], YL_DEVICE_CPU, 4);
    yl_tensor rm = yl_tensor_1d(v[2], YL_DEVICE_CPU, 4), rv = yl_tensor_1d(v[3], YL_DEVICE_CPU, 4);
    yl_tensor sm = yl_tensor_1d(v[4], YL_DEVICE_CPU, 4), si = yl_tensor_1d(v[5], YL_DEVICE_CPU, 4);
    yl_tensor dg = yl_tensor_1d(v[6], YL_DEVICE_CPU, 4), db = yl_tensor_1d(v[7], YL_DEVICE_CPU, 4);
    yl_batchnorm_params p = {.eps = BN_EPS, .momentum = BN_MOMENTUM};

    CHECK_OK(yl_batchnorm2d_forward_train(eng, &x, &g, &b, &rm, &rv, &y, &sm, &si, &p));
    CHECK_OK(yl_batchnorm2d_backward_train(eng, &x, &dy, &g, &sm, &si, &dx, &dg, &db, false));

    yl_tensor y_other = yl_tensor_4d(by, YL_DEVICE_CPU, 2, 4, 7, 5);
    CHECK_STATUS(yl_batchnorm2d_forward_train(eng, &x, &g, &b, &rm, &rv, &y_other, &sm, &si, &p), YL_ERR_SHAPE);
    CHECK_STATUS(yl_batchnorm2d_forward_eval(eng, &x, &g, &b, &rm, &rv, &y_other, &p), YL_ERR_SHAPE);
    CHECK_STATUS(yl_batchnorm2d_backward_train(eng, &x, &y_other, &g, &sm, &si, &dx, &dg, &db, false), YL_ERR_SHAPE);
    CHECK_STATUS(yl_batchnorm2d_backward_eval(eng, &x, &dy, &g, &rm, &rv, &y_other, &dg, &db, &p, false), YL_ERR_SHAPE);
    CHECK_STATUS(yl_bn_silu_forward_train(eng, &x, &g, &b, &rm, &rv, &y_other, &y, &sm, &si, &p), YL_ERR_SHAPE);
    CHECK_STATUS(yl_bn_silu_forward_eval(eng, &x, &g, &b, &rm, &rv, &y, &y_other, &p), YL_ERR_SHAPE);

    yl_tensor short_vec = yl_tensor_1d(v[0], YL_DEVICE_CPU, 3), long_vec = yl_tensor_1d(v[0], YL_DEVICE_CPU, 5);
    yl_tensor vec_2d = yl_tensor_4d(v[0], YL_DEVICE_CPU, 1, 4, 1, 1);
    CHECK_STATUS(yl_batchnorm2d_forward_train(eng, &x, &short_vec, &b, &rm, &rv, &y, &sm, &si, &p), YL_ERR_SHAPE);
    CHECK_STATUS(yl_batchnorm2d_forward_train(eng, &x, &g, &b, &rm, &long_vec, &y, &sm, &si, &p), YL_ERR_SHAPE);
    CHECK_STATUS(yl_batchnorm2d_forward_train(eng, &x, &g, &b, &rm, &rv, &y, &sm, &short_vec, &p), YL_ERR_SHAPE);
    CHECK_STATUS(yl_batchnorm2d_forward_eval(eng, &x, &g, &vec_2d, &rm, &rv, &y, &p), YL_ERR_SHAPE);
    CHECK_STATUS(yl_batchnorm2d_backward_train(eng, &x, &dy, &g, &short_vec, &si, &dx, &dg, &db, false), YL_ERR_SHAPE);
    CHECK_STATUS(yl_batchnorm2d_backward_eval(eng, &x, &dy, &g, &rm, &rv, &dx, &long_vec, &db, &p, false),
                 YL_ERR_SHAPE);
    CHECK_STATUS(yl_bn_silu_forward_train(eng, &x, &g, &b, &short_vec, &rv, &y, &y, &sm, &si, &p), YL_ERR_SHAPE);

    // Training statistics need more than one value per channel; eval does not.
    yl_tensor x_single = yl_tensor_4d(bx, YL_DEVICE_CPU, 1, 4, 1, 1),
              y_single = yl_tensor_4d(by, YL_DEVICE_CPU, 1, 4, 1, 1);
    CHECK_STATUS(yl_batchnorm2d_forward_train(eng, &x_single, &g, &b, &rm, &rv, &y_single, &sm, &si, &p), YL_ERR_SHAPE);
    CHECK_OK(yl_batchnorm2d_forward_eval(eng, &x_single, &g, &b, &rm, &rv, &y_single, &p));

    CHECK_STATUS(yl_batchnorm2d_forward_train(NULL, &x, &g, &b, &rm, &rv, &y, &sm, &si, &p), YL_ERR_INVALID_ARG);
    CHECK_STATUS(yl_batchnorm2d_forward_train(eng, NULL, &g, &b, &rm, &rv, &y, &sm, &si, &p), YL_ERR_INVALID_ARG);
    CHECK_STATUS(yl_batchnorm2d_forward_train(eng, &x, NULL, &b, &rm, &rv, &y, &sm, &si, &p), YL_ERR_INVALID_ARG);
    CHECK_STATUS(yl_batchnorm2d_forward_train(eng, &x, &g, &b, &rm, &rv, &y, NULL, &si, &p), YL_ERR_INVALID_ARG);
    CHECK_STATUS(yl_batchnorm2d_forward_train(eng, &x, &g, &b, &rm, &rv, &y, &sm, &si, NULL), YL_ERR_INVALID_ARG);
    CHECK_STATUS(yl_batchnorm2d_forward_eval(eng, &x, &g, &b, NULL, &rv, &y, &p), YL_ERR_INVALID_ARG);
    CHECK_STATUS(yl_batchnorm2d_backward_train(eng, &x, NULL, &g, &sm, &si, &dx, &dg, &db, false), YL_ERR_INVALID_ARG);
    CHECK_STATUS(yl_batchnorm2d_backward_train(eng, &x, &dy, &g, &sm, &si, &dx, &dg, NULL, false), YL_ERR_INVALID_ARG);
    CHECK_STATUS(yl_batchnorm2d_backward_eval(eng, &x, &dy, &g, &rm, &rv, NULL, &dg, &db, &p, false),
                 YL_ERR_INVALID_ARG);
    CHECK_STATUS(yl_batchnorm2d_backward_eval(eng, &x, &dy, &g, &rm, &rv, &dx, &dg, &db, NULL, false),
                 YL_ERR_INVALID_ARG);
    CHECK_STATUS(yl_bn_silu_forward_train(eng, &x, &g, &b, &rm, &rv, NULL, &y, &sm, &si, &p), YL_ERR_INVALID_ARG);
    CHECK_STATUS(yl_bn_silu_forward_eval(eng, &x, &g, &b, &rm, &rv, &y, NULL, &p), YL_ERR_INVALID_ARG);

    yl_batchnorm_params zero_eps = {.eps = 0.0f, .momentum = BN_MOMENTUM};
    yl_batchnorm_params nan_eps = {.eps = NAN, .momentum = BN_MOMENTUM};
    yl_batchnorm_params big_momentum = {.eps = BN_EPS, .momentum = 1.5f};
    CHECK_STATUS(yl_batchnorm2d_forward_train(eng, &x, &g, &b, &rm, &rv, &y, &sm, &si, &zero_eps), YL_ERR_INVALID_ARG);
    CHECK_STATUS(yl_batchnorm2d_forward_eval(eng, &x, &g, &b, &rm, &rv, &y, &nan_eps), YL_ERR_INVALID_ARG);
    CHECK_STATUS(yl_bn_silu_forward_train(eng, &x, &g, &b, &rm, &rv, &y, &dx, &sm, &si, &big_momentum),
                 YL_ERR_INVALID_ARG);

    yl_tensor x_f16 = x, g_bf16 = g;
    x_f16.dtype = YL_F16;
    g_bf16.dtype = YL_BF16;
    CHECK_STATUS(yl_batchnorm2d_forward_train(eng, &x_f16, &g, &b, &rm, &rv, &y, &sm, &si, &p), YL_ERR_DTYPE);
    CHECK_STATUS(yl_batchnorm2d_forward_eval(eng, &x, &g_bf16, &b, &rm, &rv, &y, &p), YL_ERR_DTYPE);
    CHECK_STATUS(yl_batchnorm2d_backward_train(eng, &x, &dy, &g_bf16, &sm, &si, &dx, &dg, &db, false), YL_ERR_DTYPE);

    yl_tensor x_3d = yl_tensor_3d(bx, YL_DEVICE_CPU, 8, 5, 7), y_3d = yl_tensor_3d(by, YL_DEVICE_CPU, 8, 5, 7);
    CHECK_STATUS(yl_batchnorm2d_forward_train(eng, &x_3d, &g, &b, &rm, &rv, &y_3d, &sm, &si, &p), YL_ERR_SHAPE);
    CHECK_STATUS(yl_batchnorm2d_forward_eval(eng, &x, &g, &b, &rm, &rv, &y_3d, &p), YL_ERR_SHAPE);
    CHECK_STATUS(yl_batchnorm2d_backward_eval(eng, &x_3d, &dy, &g, &rm, &rv, &dx, &dg, &db, &p, false), YL_ERR_SHAPE);
    for (int i = 0; i < 8; i++) free(v[i]);
    free(bx), free(by), free(bdy), free(bdx);
}

int main(void) {
    yl_engine eng = yl_test_cpu_engine();
    yl_rng rng;
    yl_rng_seed(&rng, 20240603, 13);
    const bn_case cases[] = {
        // {N, C, H, W, offset, fd}
        {2, 3, 5, 7, 0.0f, true},
        {1, 4, 3, 3, 0.0f, true},
        {3, 2, 13, 11, 0.0f, true},
        {4, 5, 1, 1, 0.0f, true},  // M = 4: the most curved normalisation
        {2, 3, 5, 7, 100.0f, false},
        {2, 16, 33, 32, 0.0f, true},  // large enough for the parallel loops
        {3, 8, 9, 9, 1000.0f, false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        check_train(&eng, &rng, cases[i]);
        check_eval(&eng, &rng, cases[i]);
    }
    printf("max scaled error vs double reference %.2e (tolerance %.0e), statistics %.2e (tolerance %.0e)\n",
           summary.reference, REFERENCE_TOLERANCE, summary.stats, STATS_TOLERANCE);
    printf("max scaled error of the train backward on offset channels %.2e (tolerance %.0e)\n", summary.offset_backward,
           OFFSET_BACKWARD_TOLERANCE);
    printf("max finite-difference error %.2e (eps %.0e, tolerance %.0e, floor %.1f)\n", summary.fd, (double)FD_EPS,
           FD_TOLERANCE, FD_FLOOR);
    check_bad_arguments(&eng);
    yl_engine_release(&eng);
    return yl_test_finish("test_batchnorm");
}
