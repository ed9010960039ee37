// expf without a libm call, written so that a loop over it vectorises (no branches, no calls,
// integer work only through bit casts), for the CPU activations.
//
// Cephes' expf scheme: n = round(x / ln 2), r = x - n ln 2 (Cody-Waite with two constants, so r
// stays accurate without FMA), exp(r) by Cephes' degree-7 minimax polynomial on |r| <= ln2 / 2,
// then the result is scaled by 2^n in two steps 2^a * 2^b (a + b = n): each factor is a normal
// float for every n in [-150, 128], so results that overflow become inf and results in the
// subnormal range are rounded once, like expf, instead of being flushed or wrapping the exponent.
//
// Accuracy against double exp (tests/test_vector_exp.c): max relative error 8.1e-8, under 1 ulp,
// over every 7th float of [-87.33, 88.72] (the inputs with normal results); subnormal results are
// within 0.75 of a subnormal step. exp(+inf) = inf, exp(-inf) = 0, NaN stays NaN.
// The code uses no FMA and is compiled without contraction (ISO C mode), so every instruction
// set gives the same bits.
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

static inline float yl_cpu_bits_to_float(uint32_t bits) {
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

static inline uint32_t yl_cpu_float_to_bits(float f) {
    uint32_t bits;
    memcpy(&bits, &f, sizeof bits);
    return bits;
}

// condition ? a : b on the bits. GCC turns a ?: on floats inside a loop into branches (it threads
// the clamped constants through the code below, or keeps a possibly trapping operation
// conditional), and a loop with branches does not vectorise; the mask form stays a select.
static inline float yl_cpu_select(bool condition, float a, float b) {
    const uint32_t mask = (uint32_t)0 - (uint32_t)condition;
    return yl_cpu_bits_to_float((yl_cpu_float_to_bits(a) & mask) | (yl_cpu_float_to_bits(b) & ~mask));
}

static inline float yl_cpu_expf(float x) {
    // Below -104 the result rounds to 0 and above 89 it overflows; clamping keeps n in range.
    // A NaN fails both comparisons and passes through.
    x = yl_cpu_select(x > 89.0f, 89.0f, x);
    x = yl_cpu_select(x < -104.0f, -104.0f, x);

    // Adding 1.5 * 2^23 rounds x / ln2 to the nearest integer, which lands in the low mantissa
    // bits (valid while |x / ln2| < 2^22).
    const float round_magic = 12582912.0f;
    const float shifted = x * 1.44269504088896341f + round_magic;
    const float n = shifted - round_magic;
    const int32_t ni = (int32_t)(yl_cpu_float_to_bits(shifted) - yl_cpu_float_to_bits(round_magic));

    // ln2 = 0.693359375 - 2.12194440e-4 (to float precision); n * 0.693359375 is exact.
    float r = x - n * 0.693359375f;
    r = r + n * 2.12194440e-4f;

    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * (r * r) + r + 1.0f;

    // 2^n as 2^a * 2^b with a = n >> 1 (floor; GCC and Clang shift signed values arithmetically)
    // and b = n - a, both in [-75, 64].
    const int32_t a = ni >> 1, b = ni - a;
    const float scale_a = yl_cpu_bits_to_float((uint32_t)(a + 127) << 23);
    const float scale_b = yl_cpu_bits_to_float((uint32_t)(b + 127) << 23);
    return p * scale_a * scale_b;
}
