// The CPU activations' vectorisable expf (engine/ops/cpu/vector_exp.h) against double exp:
// - relative error on a sample of every 61st float in [-87.33, 88.72] (the inputs whose exp is a
//   normal float) and on a dense grid of [-20, 20], where the activations live;
// - subnormal results (x in [-103.9, -87.34]): within one subnormal step (the polynomial's own
//   error plus the one rounding into the subnormal grid; measured 0.75 steps);
// - the special values: overflow to inf, exp(-inf) = 0, exp(+-0) = 1 exactly, NaN stays NaN;
// - a loop over an array (the vectorised form) gives the same bits as the scalar calls, and so do
//   the CPU backend's activation spans (AVX2 + FMA copies where the CPU has them).
#include <float.h>
#include <stdint.h>

#include "engine/ops/cpu/activation.h"
#include "engine/ops/cpu/activation_spans.h"
#include "engine/ops/cpu/vector_exp.h"
#include "test_common.h"

// Cephes' scheme is within about 1 ulp (measured 8.1e-8 relative, 0.98 ulp, every 7th float of
// the normal range). The tolerance is 2 ulp of fp32 (2^-22 = 2.4e-7) with a margin up to 3e-7.
#define REL_TOLERANCE 3e-7
// The smallest subnormal step.
#define SUBNORMAL_STEP 1.4012984643e-45

static double worst_normal = 0.0, worst_dense = 0.0, worst_subnormal = 0.0;

static double relative_error(float x) {
    const double want = exp((double)x);
    return fabs((double)yl_cpu_expf(x) - want) / want;
}

static void check_normal_range(void) {
    const float ends[2] = {-87.33f, 88.72f};
    for (int side = 0; side < 2; side++) {
        // Bits from 0 (or -0) up to the end, in steps of 61: odd steps reach every mantissa class.
        const uint32_t begin = side == 0 ? 0x80000000u : 0u, end = yl_cpu_float_to_bits(ends[side]);
        for (uint32_t bits = begin; bits <= end; bits += 61) {
            const float x = yl_cpu_bits_to_float(bits);
            const double e = relative_error(x);
            if (!(e <= worst_normal)) worst_normal = e;
        }
    }
    CHECK(worst_normal <= REL_TOLERANCE, "normal range: max relative error %.3g > %.3g", worst_normal,
          REL_TOLERANCE);
    for (int i = -2000000; i <= 2000000; i++) {
        const double e = relative_error((float)i * 1e-5f);
        if (!(e <= worst_dense)) worst_dense = e;
    }
    CHECK(worst_dense <= REL_TOLERANCE, "[-20, 20]: max relative error %.3g > %.3g", worst_dense, REL_TOLERANCE);
}

static void check_subnormal_range(void) {
    for (float x = -87.34f; x > -103.9f; x = nextafterf(x, -INFINITY)) {
        const double want = exp((double)x);
        const double err = fabs((double)yl_cpu_expf(x) - want);
        const double steps = err / SUBNORMAL_STEP;
        if (!(steps <= worst_subnormal)) worst_subnormal = steps;
    }
    CHECK(worst_subnormal <= 1.0, "subnormal results: error %.3g subnormal steps > 1", worst_subnormal);
}

static void check_special_values(void) {
    CHECK(yl_cpu_expf(0.0f) == 1.0f && yl_cpu_expf(-0.0f) == 1.0f, "exp(0) = %.9g", yl_cpu_expf(0.0f));
    CHECK(yl_cpu_expf(88.72283f) == expf(88.72283f), "exp(88.72283) = %.9g, largest finite", yl_cpu_expf(88.72283f));
    CHECK(isinf(yl_cpu_expf(88.7229f)) && yl_cpu_expf(88.7229f) > 0, "exp(88.7229) = %g, not inf",
          yl_cpu_expf(88.7229f));
    CHECK(isinf(yl_cpu_expf(1e30f)) && isinf(yl_cpu_expf(INFINITY)), "exp(1e30) = %g, exp(inf) = %g",
          yl_cpu_expf(1e30f), yl_cpu_expf(INFINITY));
    CHECK(yl_cpu_expf(-104.0f) == 0.0f && yl_cpu_expf(-1e30f) == 0.0f && yl_cpu_expf(-INFINITY) == 0.0f,
          "exp(-104) = %g, exp(-1e30) = %g, exp(-inf) = %g", yl_cpu_expf(-104.0f), yl_cpu_expf(-1e30f),
          yl_cpu_expf(-INFINITY));
    CHECK(isnan(yl_cpu_expf(NAN)), "exp(NaN) = %g", yl_cpu_expf(NAN));
    CHECK(yl_cpu_expf(-100.0f) > 0.0f, "exp(-100) = %g, a subnormal, flushed", yl_cpu_expf(-100.0f));
}

// The compiler may vectorise this loop; the results must not depend on it.
static void check_array_form(void) {
    enum { N = 1003 };
    static float x[N], y[N];
    yl_rng rng;
    yl_rng_seed(&rng, 7, 0);
    yl_rng_fill_uniform(&rng, x, N, -110.0f, 95.0f);
    for (int i = 0; i < N; i++) y[i] = yl_cpu_expf(x[i]);
    int mismatches = 0;
    for (int i = 0; i < N; i++) {
        const float scalar = yl_cpu_expf(x[i]);
        mismatches += memcmp(&scalar, &y[i], sizeof scalar) != 0;
    }
    CHECK(mismatches == 0, "%d of %d array results differ from the scalar ones", mismatches, N);
}

// Bit for bit, except that any NaN matches any NaN (which operand's NaN an instruction passes on
// depends on the operand order the compiler chose).
static int count_mismatches(const float *got, const float *want, int n) {
    int mismatches = 0;
    for (int i = 0; i < n; i++)
        mismatches += !(isnan(got[i]) && isnan(want[i])) && memcmp(&got[i], &want[i], sizeof *got) != 0;
    return mismatches;
}

// Odd length: the vector loops' remainders run too. x covers NaN, +-inf and huge values.
static void check_spans_match_scalar(void) {
    enum { N = 1029 };
    static float x[N], dy[N], got[N], want[N];
    yl_rng rng;
    yl_rng_seed(&rng, 11, 0);
    yl_rng_fill_uniform(&rng, x, N, -30.0f, 30.0f);
    yl_rng_fill_uniform(&rng, dy, N, -1.0f, 1.0f);
    x[0] = NAN, x[1] = INFINITY, x[2] = -INFINITY, x[3] = 1e30f, x[4] = -1e30f, x[5] = 0.0f, x[6] = -0.0f;
    x[7] = -100.0f, x[8] = 100.0f;

    yl_cpu_silu_span(x, got, N);
    for (int i = 0; i < N; i++) want[i] = yl_cpu_siluf(x[i]);
    CHECK(count_mismatches(got, want, N) == 0, "silu span: %d of %d differ", count_mismatches(got, want, N), N);
    yl_cpu_sigmoid_span(x, got, N);
    for (int i = 0; i < N; i++) want[i] = yl_cpu_sigmoidf(x[i]);
    CHECK(count_mismatches(got, want, N) == 0, "sigmoid span: %d of %d differ", count_mismatches(got, want, N), N);
    yl_cpu_silu_backward_span(x, dy, got, N, false);
    for (int i = 0; i < N; i++) want[i] = dy[i] * yl_cpu_silu_gradf(x[i]);
    CHECK(count_mismatches(got, want, N) == 0, "silu backward span: %d of %d differ", count_mismatches(got, want, N),
          N);
    float y_bn[N];
    yl_cpu_normalize_span(x + 9, y_bn, got, N - 9, 0.25f, 1.5f, -0.5f);
    for (int i = 9; i < N; i++) want[i - 9] = yl_cpu_siluf((x[i] - 0.25f) * 1.5f + -0.5f);
    CHECK(count_mismatches(got, want, N - 9) == 0, "normalize + silu span: %d of %d differ",
          count_mismatches(got, want, N - 9), N - 9);
}

int main(void) {
    check_normal_range();
    check_subnormal_range();
    check_special_values();
    check_array_form();
    check_spans_match_scalar();
    printf("vector_exp: max relative error %.3g (normal range, every 61st float), %.3g ([-20, 20] step 1e-5); "
           "subnormal results within %.3g steps\n",
           worst_normal, worst_dense, worst_subnormal);
    return yl_test_finish("vector_exp");
}
