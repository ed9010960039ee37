// Seeded PCG32 random numbers: same seed and sequence -> same stream on every machine.
#pragma once
#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint64_t state;
    uint64_t increment;  // odd; selects the stream
} yl_rng;

void yl_rng_seed(yl_rng *rng, uint64_t seed, uint64_t stream);
uint32_t yl_rng_u32(yl_rng *rng);
// Uniform in [0, 1) with 24 random bits.
float yl_rng_uniform(yl_rng *rng);
// Uniform integer in [0, bound), unbiased.
uint32_t yl_rng_below(yl_rng *rng, uint32_t bound);
// Standard normal (Box-Muller).
float yl_rng_normal(yl_rng *rng);
void yl_rng_fill_uniform(yl_rng *rng, float *out, size_t n, float low, float high);
void yl_rng_fill_normal(yl_rng *rng, float *out, size_t n, float mean, float stddev);
