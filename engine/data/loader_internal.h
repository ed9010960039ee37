// Shared between loader.c (threads, queue, API) and loader_build.c (building one batch).
#pragma once
#include <pthread.h>
#include <stdatomic.h>

#include "loader.h"

enum { SLOT_FREE = 0, SLOT_BUILDING, SLOT_READY, SLOT_HELD };

#define LOADER_MESSAGE_SIZE 512

typedef struct {
    yl_batch batch;
    int state;
    int batch_index;
    unsigned generation;
    yl_status status;
    char message[LOADER_MESSAGE_SIZE];
} loader_slot;

typedef struct loader_worker loader_worker;

// The source the augmentation sees in training: it loads from the real source and, when that
// fails, records a warning and loads a stand-in from the same pool instead.
typedef struct {
    loader_worker *worker;
    yl_rng rng;         // for the stand-in draws, seeded per sample
    int primary_index;  // the first index actually loaded for the current sample (-1 before)
} stand_in_source;

struct loader_worker {
    struct yl_loader *loader;
    pthread_t thread;
    bool started;
    int *indices;  // batch_size
    yl_augment_scratch scratch;
    stand_in_source stand_in;
    yl_sample_source stand_in_interface;
    // validation: the letterboxed image and its labels
    uint8_t *pixels;
    size_t pixel_bytes;
    yl_box_label *labels;
    int label_capacity;
};

struct yl_loader {
    yl_loader_options options;
    yl_sample_source source;
    yl_batch_sampler sampler;  // train
    yl_shuffle_sampler own_sampler;
    bool owns_sampler;
    int *val_order;            // val: source indices in batch order
    yl_batch_shape *val_shapes;
    int val_batch_count;

    int slot_count;
    loader_slot *slots;
    int worker_count;
    loader_worker *workers;

    pthread_mutex_t mutex;
    pthread_cond_t work_cv;   // a slot became free or an epoch started
    pthread_cond_t ready_cv;  // a batch became ready
    pthread_cond_t idle_cv;   // a build finished
    bool shutdown;
    atomic_uint generation;   // bumped when an epoch starts or the loader stops: builds of an older one are abandoned
    bool epoch_active;
    int epoch;
    bool mosaic;
    int batch_count, next_claim, next_deliver;
    int building;
    int held_slot;

    yl_loader_stats stats;
    long warning_count;
    char (*warnings)[LOADER_MESSAGE_SIZE];
};

// Builds batch `batch_index` of the current epoch into `batch` (loader_build.c). Returns
// YL_OK with a partial batch when the generation changed meanwhile (it will be discarded).
yl_status loader_build_batch(loader_worker *worker, int batch_index, int epoch, bool mosaic, unsigned generation,
                             yl_batch *batch);
void loader_worker_init_stand_in(loader_worker *worker);
// Records a warning (thread-safe).
void loader_warn(struct yl_loader *loader, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
