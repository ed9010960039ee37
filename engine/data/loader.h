// The batch loader: worker threads build batches ahead of the training loop into a bounded set
// of buffers, and hand them out in order.
// - Train: each epoch's order comes from a batch sampler (shuffled with (seed, epoch) by
//   default, or e.g. the replay sampler); every sample is augmented (augment.h) with an rng
//   seeded from (seed, epoch, position in the epoch), so the batches are the same for a given
//   seed whatever the number of workers or their timing. Mosaics stop for the last
//   close_mosaic epochs.
// - Val: no shuffling, no augmentation; images letterboxed (scaleup off) to imgsz x imgsz, or to
//   per-batch rect shapes sorted by aspect ratio as Ultralytics' validation loader does.
// A sample the source cannot load is never dropped silently: a warning is recorded (counted,
// first messages kept) and, in training, a stand-in drawn from the same pool takes its place;
// in validation the batch just has one image fewer (a stand-in would count an image twice), so a
// validation batch may hold fewer images than batch_size, in the worst case none.
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/data/augment.h"
#include "engine/data/batch.h"
#include "engine/data/sample_source.h"
#include "engine/data/sampler.h"

typedef enum { YL_LOADER_TRAIN = 0, YL_LOADER_VAL } yl_loader_mode;

typedef struct {
    yl_loader_mode mode;
    int batch_size;
    int imgsz;
    int workers;        // threads building batches (>= 1)
    int prefetch;       // batch buffers; 0: workers + 1 (one in the consumer's hands, one per worker)
    uint64_t seed;
    int epochs;         // train: the run's length, for close_mosaic
    bool shuffle;       // train, default sampler: shuffle every epoch (true)
    yl_augment_options augment;  // train
    int max_stand_ins;  // train: stand-ins tried for one unreadable sample before the batch fails (32)
    bool rect;          // val: rect batch shapes (true); needs the source's image_size
    int stride;         // val rect (32)
    float pad;          // val rect (0.5)
} yl_loader_options;

typedef struct {
    long batches_delivered;
    long batches_ready_on_request;  // already built when yl_loader_next asked for them
    double wait_seconds;            // time yl_loader_next spent waiting for a batch
    long samples_skipped;           // unreadable samples (each also a warning)
} yl_loader_stats;

typedef struct yl_loader yl_loader;

yl_loader_options yl_loader_defaults(yl_loader_mode mode, int batch_size, int imgsz);

// Starts the workers. `sampler` (train only; NULL: shuffled batches over the source) must stay
// valid for the loader's life, as must the source.
yl_status yl_loader_create(yl_loader **out, const yl_sample_source *source, const yl_batch_sampler *sampler,
                           const yl_loader_options *options);
// Stops the workers (abandoning batches in flight) and frees everything.
void yl_loader_destroy(yl_loader *loader);

// Starts epoch `epoch` (0-based): abandons what is left of the previous one, reshuffles, and
// sets the workers going. Returns the number of batches.
yl_status yl_loader_begin_epoch(yl_loader *loader, int epoch, int *batch_count);
// The next batch of the epoch, in order; NULL at the end of the epoch. The batch stays valid
// until the next call (or begin_epoch/destroy). A batch that could not be built returns its
// error; the following call goes on with the next batch.
yl_status yl_loader_next(yl_loader *loader, const yl_batch **batch);

bool yl_loader_mosaic_active(const yl_loader *loader);
yl_loader_stats yl_loader_get_stats(yl_loader *loader);
// Warnings recorded so far (all of them counted; the first YL_LOADER_KEPT_WARNINGS kept).
#define YL_LOADER_KEPT_WARNINGS 64
long yl_loader_warning_count(yl_loader *loader);
// Copies warning i (< min(count, YL_LOADER_KEPT_WARNINGS)) into buf; false when there is none.
bool yl_loader_warning(yl_loader *loader, int i, char *buf, size_t size);
