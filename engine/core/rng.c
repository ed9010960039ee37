#include "rng.h"

#include <math.h>

void yl_rng_seed(yl_rng *rng, uint64_t seed, uint64_t stream) {
    rng->state = 0;
    rng->increment = (stream << 1u) | 1u;
    yl_rng_u32(rng);
    rng->state += seed;
    yl_rng_u32(rng);
}

uint32_t yl_rng_u32(yl_rng *rng) {
    uint64_t old = rng->state;
    rng->state = old * 6364136223846793005ULL + rng->increment;
    uint32_t xorshifted = (uint32_t)(((old >> 18u) ^ old) >> 27u);
    uint32_t rot = (uint32_t)(old >> 59u);
    return (xorshifted >> rot) | (xorshifted << ((-rot) & 31));
}

float yl_rng_uniform(yl_rng *rng) { return (float)(yl_rng_u32(rng) >> 8) * (1.0f / 16777216.0f); }

uint32_t yl_rng_below(yl_rng *rng, uint32_t bound) {
    if (bound == 0) return 0;
    uint32_t threshold = (-bound) % bound;
    for (;;) {
        uint32_t r = yl_rng_u32(rng);
        if (r >= threshold) return r % bound;
    }
}

float yl_rng_normal(yl_rng *rng) {
    float u1 = yl_rng_uniform(rng);
    float u2 = yl_rng_uniform(rng);
    if (u1 < 1e-12f) u1 = 1e-12f;
    return sqrtf(-2.0f * logf(u1)) * cosf(6.28318530717958647692f * u2);
}

void yl_rng_fill_uniform(yl_rng *rng, float *out, size_t n, float low, float high) {
    for (size_t i = 0; i < n; i++) out[i] = low + (high - low) * yl_rng_uniform(rng);
}

void yl_rng_fill_normal(yl_rng *rng, float *out, size_t n, float mean, float stddev) {
    for (size_t i = 0; i < n; i++) out[i] = mean + stddev * yl_rng_normal(rng);
}
