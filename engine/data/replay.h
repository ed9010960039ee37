// Replay sampling for fine-tuning: every batch mixes new samples (the primary set) with a fixed
// share of earlier ones (the replay set), so the model keeps what it learned before.
//
// Composition, exact in every batch: primary_per_batch = round((1 - ratio) * B), half up
// (0.7 * 5 = 3.5 -> 4), with a small tolerance so that a ratio written 0.3 behaves as the
// decimal says; the other B - primary_per_batch images come from the replay set. For small B
// the share is coarse: B = 1 takes no replay at all at ratio 0.3 (round(0.7) = 1), B = 2 takes
// 1 of 2, B = 3 takes 1 of 3, B = 4 takes 1 of 4; yl_replay_primary_per_batch says it up front.
// A ratio that leaves no primary image in a batch is refused (an epoch is one pass over the
// primary set).
//
// An epoch has ceil(N_primary / primary_per_batch) batches over a fresh shuffle of the primary
// set; the last batch is completed from the start of the same shuffle, so every batch is full
// and exact. The replay set is consumed as a stream of independent shuffles (each pass a new
// permutation), so replay images are spread evenly whatever the sizes of the two sets.
// Mosaic partners and stand-ins for unreadable samples are drawn from the pool of the image
// they accompany.
#pragma once
#include <stdint.h>

#include "engine/data/sample_source.h"
#include "engine/data/sampler.h"

typedef struct {
    int primary_count, replay_count;
    int batch_size;
    int primary_per_batch, replay_per_batch;
    uint64_t seed;
    int batch_count;
    int *primary_order;  // primary_count
    int *replay_stream;  // batch_count * replay_per_batch, already offset by primary_count
    int *replay_pass;    // replay_count: one pass being shuffled
} yl_replay_sampler;

// round((1 - ratio) * batch_size), half up, tolerant of the float spelling of the ratio.
int yl_replay_primary_per_batch(int batch_size, float replay_ratio);

// ratio in [0, 1); replay_count may be 0 only when no batch takes replay images.
yl_status yl_replay_sampler_init(yl_replay_sampler *sampler, int primary_count, int replay_count, int batch_size,
                                 float replay_ratio, uint64_t seed);
void yl_replay_sampler_free(yl_replay_sampler *sampler);
// Indices in [0, primary_count) are primary, [primary_count, primary_count + replay_count) replay:
// use with yl_replay_source over the same two sets.
yl_batch_sampler yl_replay_sampler_interface(yl_replay_sampler *sampler);

// The two sources as one, primary first. Both must stay valid while it is used.
typedef struct {
    yl_sample_source primary;
    yl_sample_source replay;
} yl_replay_source;

yl_status yl_replay_source_init(yl_replay_source *source, const yl_sample_source *primary,
                                const yl_sample_source *replay);
yl_sample_source yl_replay_source_interface(yl_replay_source *source);
