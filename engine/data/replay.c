#include "replay.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int yl_replay_primary_per_batch(int batch_size, float replay_ratio) {
    const double share = 1.0 - (double)replay_ratio;
    // 1e-6 per image absorbs the float error of ratios like 0.3f before rounding half up.
    return (int)floor(share * batch_size + 0.5 + 1e-6 * batch_size);
}

yl_status yl_replay_sampler_init(yl_replay_sampler *s, int primary_count, int replay_count, int batch_size,
                                 float replay_ratio, uint64_t seed) {
    if (!s) return yl_error(YL_ERR_INVALID_ARG, "replay sampler: NULL");
    memset(s, 0, sizeof *s);
    if (primary_count < 1 || replay_count < 0 || batch_size < 1)
        return yl_error(YL_ERR_INVALID_ARG, "replay sampler: primary %d, replay %d, batch %d invalid", primary_count,
                        replay_count, batch_size);
    if (!(replay_ratio >= 0.0f && replay_ratio < 1.0f))
        return yl_error(YL_ERR_INVALID_ARG, "replay sampler: ratio %g must be in [0, 1)", (double)replay_ratio);
    const int primary = yl_replay_primary_per_batch(batch_size, replay_ratio);
    if (primary < 1)
        return yl_error(YL_ERR_INVALID_ARG, "replay sampler: ratio %g leaves no primary image in a batch of %d",
                        (double)replay_ratio, batch_size);
    if (primary < batch_size && replay_count == 0)
        return yl_error(YL_ERR_INVALID_ARG, "replay sampler: ratio %g needs %d replay images per batch, the replay set is empty",
                        (double)replay_ratio, batch_size - primary);
    s->primary_count = primary_count;
    s->replay_count = replay_count;
    s->batch_size = batch_size;
    s->primary_per_batch = primary;
    s->replay_per_batch = batch_size - primary;
    s->seed = seed;
    s->batch_count = (primary_count + primary - 1) / primary;
    s->primary_order = malloc((size_t)primary_count * sizeof *s->primary_order);
    s->replay_stream = malloc(((size_t)s->batch_count * s->replay_per_batch + 1) * sizeof *s->replay_stream);
    s->replay_pass = malloc(((size_t)replay_count + 1) * sizeof *s->replay_pass);
    if (!s->primary_order || !s->replay_stream || !s->replay_pass) {
        yl_replay_sampler_free(s);
        return yl_error(YL_ERR_OOM, "replay sampler: %d + %d indices", primary_count, replay_count);
    }
    return YL_OK;
}

void yl_replay_sampler_free(yl_replay_sampler *s) {
    if (!s) return;
    free(s->primary_order);
    free(s->replay_stream);
    free(s->replay_pass);
    s->primary_order = s->replay_stream = s->replay_pass = NULL;
}

static yl_status replay_begin_epoch(void *ctx, int epoch, int *batch_count) {
    yl_replay_sampler *s = ctx;
    yl_rng rng;
    for (int i = 0; i < s->primary_count; i++) s->primary_order[i] = i;
    yl_data_rng_seed(&rng, s->seed, YL_DATA_STREAM_SHUFFLE, (uint64_t)epoch, 0);
    yl_shuffle_indices(s->primary_order, s->primary_count, &rng);
    // The replay stream: pass after pass over the replay set, each pass its own permutation.
    const int needed = s->batch_count * s->replay_per_batch;
    for (int done = 0, pass = 0; done < needed; pass++) {
        const int n = needed - done < s->replay_count ? needed - done : s->replay_count;
        for (int i = 0; i < s->replay_count; i++) s->replay_pass[i] = s->primary_count + i;
        yl_data_rng_seed(&rng, s->seed, YL_DATA_STREAM_REPLAY_SHUFFLE, (uint64_t)epoch, (uint64_t)pass);
        yl_shuffle_indices(s->replay_pass, s->replay_count, &rng);
        memcpy(s->replay_stream + done, s->replay_pass, (size_t)n * sizeof *s->replay_stream);
        done += n;
    }
    *batch_count = s->batch_count;
    return YL_OK;
}

static int replay_batch_indices(void *ctx, int batch, int *out) {
    const yl_replay_sampler *s = ctx;
    for (int i = 0; i < s->primary_per_batch; i++) {
        const int position = batch * s->primary_per_batch + i;
        out[i] = s->primary_order[position % s->primary_count];  // the last batch wraps to the start
    }
    for (int i = 0; i < s->replay_per_batch; i++)
        out[s->primary_per_batch + i] = s->replay_stream[batch * s->replay_per_batch + i];
    return s->batch_size;
}

static int replay_draw_like(void *ctx, int index, yl_rng *rng) {
    const yl_replay_sampler *s = ctx;
    if (index < s->primary_count || s->replay_count == 0) return (int)yl_rng_below(rng, (uint32_t)s->primary_count);
    return s->primary_count + (int)yl_rng_below(rng, (uint32_t)s->replay_count);
}

yl_batch_sampler yl_replay_sampler_interface(yl_replay_sampler *s) {
    return (yl_batch_sampler){
        .batch_size = s->batch_size,
        .begin_epoch = replay_begin_epoch,
        .batch_indices = replay_batch_indices,
        .draw_like = replay_draw_like,
        .ctx = s,
    };
}

// ---- the combined source ------------------------------------------------------------------------

static yl_status combined_load(void *ctx, int index, int imgsz, yl_sample *out) {
    const yl_replay_source *s = ctx;
    if (index < 0 || index >= s->primary.count + s->replay.count)
        return yl_error(YL_ERR_INVALID_ARG, "replay source: index %d outside %d + %d samples", index,
                        s->primary.count, s->replay.count);
    if (index < s->primary.count) return s->primary.load(s->primary.ctx, index, imgsz, out);
    return s->replay.load(s->replay.ctx, index - s->primary.count, imgsz, out);
}

static yl_status combined_image_size(void *ctx, int index, int *width, int *height) {
    const yl_replay_source *s = ctx;
    const yl_sample_source *part = index < s->primary.count ? &s->primary : &s->replay;
    const int local = index < s->primary.count ? index : index - s->primary.count;
    if (!part->image_size) return yl_error(YL_ERR_UNSUPPORTED, "replay source: no image sizes for index %d", index);
    return part->image_size(part->ctx, local, width, height);
}

yl_status yl_replay_source_init(yl_replay_source *s, const yl_sample_source *primary, const yl_sample_source *replay) {
    if (!s || !replay) return yl_error(YL_ERR_INVALID_ARG, "replay source: NULL argument");
    YL_TRY(yl_sample_source_check(primary, "replay source (primary)"));
    if (replay->count < 0 || (replay->count > 0 && !replay->load))
        return yl_error(YL_ERR_INVALID_ARG, "replay source: replay set has %d samples and %s load function",
                        replay->count, replay->load ? "a" : "no");
    s->primary = *primary;
    s->replay = *replay;
    return YL_OK;
}

yl_sample_source yl_replay_source_interface(yl_replay_source *s) {
    return (yl_sample_source){
        .count = s->primary.count + s->replay.count,
        .load = combined_load,
        .image_size = s->primary.image_size && (s->replay.count == 0 || s->replay.image_size) ? combined_image_size
                                                                                                  : NULL,
        .ctx = s,
    };
}
