// Scalar activations shared by the CPU elementwise ops and the fused BN + SiLU, so both give
// the same bits for the same input. Branch-free and call-free (vector_exp.h), so loops over them
// vectorise (activation_spans.c).
#pragma once
#include <math.h>

#include "vector_exp.h"

// exp is only ever taken of a non-positive number, so no inf intermediate (and no overflow
// flag) appears for large |x|, and sigmoid of a very negative x keeps its relative precision.
static inline float yl_cpu_sigmoidf(float x) {
    const float e = yl_cpu_expf(-fabsf(x));
    // 1 / (1 + e) or e / (1 + e), one rounded division either way. e * (1 / (1 + e)) rounds twice,
    // and that alone moved tests/test_trajectory's SGD check from 5.9e-4 to 1.06e-3 (bound 1e-3).
    return yl_cpu_select(x >= 0.0f, 1.0f, e) / (1.0f + e);
}

static inline float yl_cpu_siluf(float x) { return x * yl_cpu_sigmoidf(x); }

// d silu / dx = s + x s (1 - s) = s (1 + x (1 - s)).
static inline float yl_cpu_silu_gradf(float x) {
    float s = yl_cpu_sigmoidf(x);
    return s * (1.0f + x * (1.0f - s));
}
