// Scalar activations for the CUDA kernels: the CPU backend's formulas (engine/ops/cpu/
// activation.h) branch for branch, so CPU and GPU differ only by the last bits of expf, and the
// fused BN + SiLU gives the same values as BN followed by SiLU. Only .cu files include this.
#pragma once

// exp is only ever taken of a non-positive number, so it cannot overflow for large |x|.
__device__ __forceinline__ float yl_sigmoid_of(float x) {
    if (x >= 0.0f) return 1.0f / (1.0f + expf(-x));
    float e = expf(x);
    return e / (1.0f + e);
}

__device__ __forceinline__ float yl_silu_of(float x) { return x * yl_sigmoid_of(x); }

// d silu / dx = s (1 + x (1 - s)).
__device__ __forceinline__ float yl_silu_grad_of(float x) {
    float s = yl_sigmoid_of(x);
    return s * (1.0f + x * (1.0f - s));
}

// Backward values are formed first, then stored or added once (as on the CPU), so accumulate =
// true equals overwrite plus the old contents exactly.
__device__ __forceinline__ void yl_store_gradient(float *dst, float value, bool accumulate) {
    *dst = accumulate ? *dst + value : value;
}
