// Which source indices go into which batch. The loader asks a sampler for batch k's indices,
// so the composition of batches (plain shuffling, replay mixing) is separate from the threads
// that build them.
#pragma once
#include <stdint.h>

#include "engine/core/rng.h"
#include "engine/core/status.h"

typedef struct yl_batch_sampler {
    int batch_size;  // the most indices a batch holds
    // Prepares `epoch` (shuffles) and says how many batches it has. Called from one thread while
    // no batch_indices call is running.
    yl_status (*begin_epoch)(void *ctx, int epoch, int *batch_count);
    // Writes the indices of batch `batch` of the current epoch to `out` and returns how many
    // (1..batch_size). Read-only: called concurrently by loader threads.
    int (*batch_indices)(void *ctx, int batch, int *out);
    // Draws an index from the same pool as `index` (mosaic partners, stand-ins for unreadable
    // samples). Pure function of its arguments and the rng: called concurrently.
    int (*draw_like)(void *ctx, int index, yl_rng *rng);
    void *ctx;
} yl_batch_sampler;

// Seeds `rng` from a seed, a purpose (YL_DATA_STREAM_*) and two coordinates (epoch, sample
// position...) through a hash, so each unit of work gets its own stream no matter which thread
// does it or when.
void yl_data_rng_seed(yl_rng *rng, uint64_t seed, uint64_t purpose, uint64_t a, uint64_t b);

// Fisher-Yates shuffle of `order` (which the caller has filled).
void yl_shuffle_indices(int *order, int count, yl_rng *rng);

// Batches of `batch_size` consecutive indices of an order over [0, count): shuffled per epoch
// with (seed, epoch) when `shuffle`, else the identity. The last batch may be short
// (Ultralytics: drop_last=False).
typedef struct {
    int count;
    int batch_size;
    int shuffle;
    uint64_t seed;
    int *order;
} yl_shuffle_sampler;

yl_status yl_shuffle_sampler_init(yl_shuffle_sampler *sampler, int count, int batch_size, int shuffle, uint64_t seed);
void yl_shuffle_sampler_free(yl_shuffle_sampler *sampler);
yl_batch_sampler yl_shuffle_sampler_interface(yl_shuffle_sampler *sampler);

// Purposes for yl_data_rng_seed, so draws made for different reasons never share a stream.
enum {
    YL_DATA_STREAM_SHUFFLE = 1,         // (epoch, 0): the epoch's order
    YL_DATA_STREAM_REPLAY_SHUFFLE = 2,  // (epoch, cycle): the replay set's order
    YL_DATA_STREAM_SAMPLE = 3,          // (epoch, position in the epoch): augmentation draws
    YL_DATA_STREAM_STAND_IN = 4,        // (epoch, position): stand-ins for unreadable samples
};
