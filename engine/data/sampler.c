#include "sampler.h"

#include <stdlib.h>

// SplitMix64's finaliser: a bijection that spreads every input bit over the output.
static uint64_t mix64(uint64_t x) {
    x += 0x9E3779B97F4A7C15ULL;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
    return x ^ (x >> 31);
}

void yl_data_rng_seed(yl_rng *rng, uint64_t seed, uint64_t purpose, uint64_t a, uint64_t b) {
    uint64_t h = mix64(seed);
    h = mix64(h ^ purpose);
    h = mix64(h ^ a);
    h = mix64(h ^ b);
    yl_rng_seed(rng, h, mix64(h ^ 0xDA7AULL));
}

void yl_shuffle_indices(int *order, int count, yl_rng *rng) {
    for (int i = count - 1; i > 0; i--) {
        int j = (int)yl_rng_below(rng, (uint32_t)i + 1u);
        int t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
}

yl_status yl_shuffle_sampler_init(yl_shuffle_sampler *sampler, int count, int batch_size, int shuffle, uint64_t seed) {
    if (!sampler) return yl_error(YL_ERR_INVALID_ARG, "shuffle sampler: NULL");
    if (count < 1 || batch_size < 1)
        return yl_error(YL_ERR_INVALID_ARG, "shuffle sampler: count %d and batch size %d must be >= 1", count,
                        batch_size);
    sampler->order = malloc((size_t)count * sizeof *sampler->order);
    if (!sampler->order) return yl_error(YL_ERR_OOM, "shuffle sampler: %d indices", count);
    sampler->count = count;
    sampler->batch_size = batch_size;
    sampler->shuffle = shuffle;
    sampler->seed = seed;
    for (int i = 0; i < count; i++) sampler->order[i] = i;
    return YL_OK;
}

void yl_shuffle_sampler_free(yl_shuffle_sampler *sampler) {
    if (!sampler) return;
    free(sampler->order);
    sampler->order = NULL;
}

static yl_status shuffle_begin_epoch(void *ctx, int epoch, int *batch_count) {
    yl_shuffle_sampler *s = ctx;
    for (int i = 0; i < s->count; i++) s->order[i] = i;
    if (s->shuffle) {
        yl_rng rng;
        yl_data_rng_seed(&rng, s->seed, YL_DATA_STREAM_SHUFFLE, (uint64_t)epoch, 0);
        yl_shuffle_indices(s->order, s->count, &rng);
    }
    *batch_count = (s->count + s->batch_size - 1) / s->batch_size;
    return YL_OK;
}

static int shuffle_batch_indices(void *ctx, int batch, int *out) {
    const yl_shuffle_sampler *s = ctx;
    int start = batch * s->batch_size;
    int n = s->count - start < s->batch_size ? s->count - start : s->batch_size;
    for (int i = 0; i < n; i++) out[i] = s->order[start + i];
    return n;
}

static int shuffle_draw_like(void *ctx, int index, yl_rng *rng) {
    (void)index;
    const yl_shuffle_sampler *s = ctx;
    return (int)yl_rng_below(rng, (uint32_t)s->count);
}

yl_batch_sampler yl_shuffle_sampler_interface(yl_shuffle_sampler *sampler) {
    yl_batch_sampler b = {
        .batch_size = sampler->batch_size,
        .begin_epoch = shuffle_begin_epoch,
        .batch_indices = shuffle_batch_indices,
        .draw_like = shuffle_draw_like,
        .ctx = sampler,
    };
    return b;
}
