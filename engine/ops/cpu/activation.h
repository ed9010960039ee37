// Scalar activations shared by the CPU elementwise ops and the fused BN + SiLU, so both give
// the same bits for the same input.
#pragma once
#include <math.h>

// exp is only ever taken of a non-positive number, so no inf intermediate (and no overflow
// flag) appears for large |x|, and sigmoid of a very negative x keeps its relative precision.
static inline float yl_cpu_sigmoidf(float x) {
    if (x >= 0.0f) return 1.0f / (1.0f + expf(-x));
    float e = expf(x);
    return e / (1.0f + e);
}

static inline float yl_cpu_siluf(float x) { return x * yl_cpu_sigmoidf(x); }

// d silu / dx = s + x s (1 - s) = s (1 + x (1 - s)).
static inline float yl_cpu_silu_gradf(float x) {
    float s = yl_cpu_sigmoidf(x);
    return s * (1.0f + x * (1.0f - s));
}
