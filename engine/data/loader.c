// The loader's threads and its queue of batch buffers.
// Workers claim batch indices in increasing order, one per free buffer, and build them outside
// the lock; the consumer takes batches in index order. Since claims are in order, the batch the
// consumer waits for is always being built or claimable, so the queue cannot deadlock.
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "loader_internal.h"

yl_loader_options yl_loader_defaults(yl_loader_mode mode, int batch_size, int imgsz) {
    yl_loader_options o = {
        .mode = mode,
        .batch_size = batch_size,
        .imgsz = imgsz,
        .workers = 2,
        .prefetch = 0,
        .seed = 0,
        .epochs = 100,
        .shuffle = mode == YL_LOADER_TRAIN,
        .augment = yl_augment_defaults(imgsz),
        .max_stand_ins = 32,
        .rect = mode == YL_LOADER_VAL,
        .stride = 32,
        .pad = 0.5f,
    };
    return o;
}

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void loader_warn(yl_loader *l, const char *fmt, ...) {
    char message[LOADER_MESSAGE_SIZE];
    va_list args;
    va_start(args, fmt);
    vsnprintf(message, sizeof message, fmt, args);
    va_end(args);
    pthread_mutex_lock(&l->mutex);
    if (l->warning_count < YL_LOADER_KEPT_WARNINGS) memcpy(l->warnings[l->warning_count], message, sizeof message);
    l->warning_count++;
    l->stats.samples_skipped++;
    pthread_mutex_unlock(&l->mutex);
}

static int find_free_slot(const yl_loader *l) {
    for (int i = 0; i < l->slot_count; i++)
        if (l->slots[i].state == SLOT_FREE) return i;
    return -1;
}

static void *worker_main(void *arg) {
    loader_worker *w = arg;
    yl_loader *l = w->loader;
    pthread_mutex_lock(&l->mutex);
    for (;;) {
        int slot_index = -1;
        while (!l->shutdown &&
               !(l->epoch_active && l->next_claim < l->batch_count && (slot_index = find_free_slot(l)) >= 0))
            pthread_cond_wait(&l->work_cv, &l->mutex);
        if (l->shutdown) break;
        loader_slot *slot = &l->slots[slot_index];
        const unsigned generation = atomic_load(&l->generation);
        slot->state = SLOT_BUILDING;
        slot->batch_index = l->next_claim++;
        slot->generation = generation;
        const int epoch = l->epoch;
        const bool mosaic = l->mosaic;
        l->building++;
        pthread_mutex_unlock(&l->mutex);

        yl_clear_error();
        yl_status status = loader_build_batch(w, slot->batch_index, epoch, mosaic, generation, &slot->batch);
        if (status != YL_OK) snprintf(slot->message, sizeof slot->message, "%s", yl_last_error());

        pthread_mutex_lock(&l->mutex);
        l->building--;
        if (slot->generation != atomic_load(&l->generation)) {
            slot->state = SLOT_FREE;
            pthread_cond_broadcast(&l->work_cv);
        } else {
            slot->status = status;
            slot->state = SLOT_READY;
            pthread_cond_broadcast(&l->ready_cv);
        }
        if (l->building == 0) pthread_cond_broadcast(&l->idle_cv);
    }
    pthread_mutex_unlock(&l->mutex);
    return NULL;
}

static yl_status check_options(const yl_sample_source *source, const yl_batch_sampler *sampler,
                               const yl_loader_options *o) {
    YL_TRY(yl_sample_source_check(source, "loader"));
    if (o->mode != YL_LOADER_TRAIN && o->mode != YL_LOADER_VAL)
        return yl_error(YL_ERR_INVALID_ARG, "loader: unknown mode %d", (int)o->mode);
    if (o->batch_size < 1 || o->imgsz < 2 || o->workers < 1 || o->workers > 256 || o->prefetch < 0 ||
        o->prefetch > 1024)
        return yl_error(YL_ERR_INVALID_ARG, "loader: batch %d, imgsz %d, workers %d, prefetch %d out of range",
                        o->batch_size, o->imgsz, o->workers, o->prefetch);
    if (o->mode == YL_LOADER_TRAIN) {
        if (o->augment.imgsz != o->imgsz)
            return yl_error(YL_ERR_INVALID_ARG, "loader: augment.imgsz %d differs from imgsz %d", o->augment.imgsz,
                            o->imgsz);
        YL_TRY(yl_augment_check(&o->augment));
        if (o->max_stand_ins < 0) return yl_error(YL_ERR_INVALID_ARG, "loader: max_stand_ins %d < 0", o->max_stand_ins);
        if (o->epochs < 1) return yl_error(YL_ERR_INVALID_ARG, "loader: epochs %d < 1", o->epochs);
        if (sampler) {
            if (!sampler->begin_epoch || !sampler->batch_indices || !sampler->draw_like)
                return yl_error(YL_ERR_INVALID_ARG, "loader: sampler is missing a function");
            if (sampler->batch_size != o->batch_size)
                return yl_error(YL_ERR_INVALID_ARG, "loader: sampler batch size %d differs from batch size %d",
                                sampler->batch_size, o->batch_size);
        }
    } else {
        if (sampler) return yl_error(YL_ERR_INVALID_ARG, "loader: validation takes no sampler");
        if (o->rect && !source->image_size)
            return yl_error(YL_ERR_INVALID_ARG, "loader: rect validation needs the source's image_size");
        if (o->rect && (o->stride < 1 || !(o->pad >= 0.0f)))
            return yl_error(YL_ERR_INVALID_ARG, "loader: stride %d, pad %g invalid", o->stride, (double)o->pad);
    }
    return YL_OK;
}

// Validation order and shapes, fixed for the loader's life.
static yl_status plan_validation(yl_loader *l) {
    const int n = l->source.count, bs = l->options.batch_size;
    l->val_batch_count = (n + bs - 1) / bs;
    l->val_order = malloc((size_t)n * sizeof *l->val_order);
    l->val_shapes = malloc((size_t)l->val_batch_count * sizeof *l->val_shapes);
    if (!l->val_order || !l->val_shapes) return yl_error(YL_ERR_OOM, "loader: validation plan for %d images", n);
    if (!l->options.rect) {
        for (int i = 0; i < n; i++) l->val_order[i] = i;
        for (int b = 0; b < l->val_batch_count; b++) l->val_shapes[b] = (yl_batch_shape){l->options.imgsz, l->options.imgsz};
        return YL_OK;
    }
    int *sizes = malloc((size_t)n * 2 * sizeof *sizes);
    if (!sizes) return yl_error(YL_ERR_OOM, "loader: image sizes of %d images", n);
    yl_status status = YL_OK;
    for (int i = 0; i < n && status == YL_OK; i++) {
        status = l->source.image_size(l->source.ctx, i, &sizes[i], &sizes[n + i]);
        if (status != YL_OK) status = yl_error_context(status, "loader: size of image %d", i);
    }
    if (status == YL_OK)
        status = yl_rect_batch_plan(sizes, sizes + n, n, bs, l->options.imgsz, l->options.stride, l->options.pad,
                                    l->val_order, l->val_shapes);
    free(sizes);
    return status;
}

static yl_status allocate(yl_loader *l) {
    const yl_loader_options *o = &l->options;
    int max_h = o->imgsz, max_w = o->imgsz;
    size_t max_pixels = (size_t)o->imgsz * o->imgsz;
    if (o->mode == YL_LOADER_VAL) {
        YL_TRY(plan_validation(l));
        for (int b = 0; b < l->val_batch_count; b++) {
            size_t p = (size_t)l->val_shapes[b].height * l->val_shapes[b].width;
            if (p > max_pixels) max_pixels = p, max_h = l->val_shapes[b].height, max_w = l->val_shapes[b].width;
        }
    }
    l->slot_count = o->prefetch > 0 ? o->prefetch : o->workers + 1;
    if (l->slot_count < 2) l->slot_count = 2;
    l->slots = calloc((size_t)l->slot_count, sizeof *l->slots);
    l->workers = calloc((size_t)o->workers, sizeof *l->workers);
    l->warnings = calloc(YL_LOADER_KEPT_WARNINGS, sizeof *l->warnings);
    if (!l->slots || !l->workers || !l->warnings) return yl_error(YL_ERR_OOM, "loader: bookkeeping");
    for (int i = 0; i < l->slot_count; i++) YL_TRY(yl_batch_init(&l->slots[i].batch, o->batch_size, max_h, max_w));
    l->worker_count = o->workers;
    for (int i = 0; i < o->workers; i++) {
        loader_worker *w = &l->workers[i];
        w->loader = l;
        w->indices = malloc((size_t)o->batch_size * sizeof *w->indices);
        w->pixel_bytes = max_pixels * 3;
        w->pixels = o->mode == YL_LOADER_VAL ? malloc(w->pixel_bytes) : NULL;
        if (!w->indices || (o->mode == YL_LOADER_VAL && !w->pixels)) return yl_error(YL_ERR_OOM, "loader: worker buffers");
        loader_worker_init_stand_in(w);
    }
    return YL_OK;
}

yl_status yl_loader_create(yl_loader **out, const yl_sample_source *source, const yl_batch_sampler *sampler,
                           const yl_loader_options *options) {
    if (!out || !options) return yl_error(YL_ERR_INVALID_ARG, "loader: NULL argument");
    *out = NULL;
    YL_TRY(check_options(source, sampler, options));
    yl_loader *l = calloc(1, sizeof *l);
    if (!l) return yl_error(YL_ERR_OOM, "loader");
    l->options = *options;
    l->source = *source;
    l->held_slot = -1;
    atomic_init(&l->generation, 0u);
    pthread_mutex_init(&l->mutex, NULL);
    pthread_cond_init(&l->work_cv, NULL);
    pthread_cond_init(&l->ready_cv, NULL);
    pthread_cond_init(&l->idle_cv, NULL);
    yl_status status = YL_OK;
    if (options->mode == YL_LOADER_TRAIN) {
        if (sampler) {
            l->sampler = *sampler;
        } else {
            status = yl_shuffle_sampler_init(&l->own_sampler, source->count, options->batch_size, options->shuffle,
                                             options->seed);
            l->owns_sampler = status == YL_OK;
            l->sampler = yl_shuffle_sampler_interface(&l->own_sampler);
        }
    }
    if (status == YL_OK) status = allocate(l);
    for (int i = 0; status == YL_OK && i < l->worker_count; i++) {
        if (pthread_create(&l->workers[i].thread, NULL, worker_main, &l->workers[i]) != 0)
            status = yl_error(YL_ERR_OOM, "loader: could not start worker thread %d", i);
        else l->workers[i].started = true;
    }
    if (status != YL_OK) {
        yl_loader_destroy(l);
        return status;
    }
    *out = l;
    return YL_OK;
}

void yl_loader_destroy(yl_loader *l) {
    if (!l) return;
    pthread_mutex_lock(&l->mutex);
    l->shutdown = true;
    atomic_fetch_add(&l->generation, 1u);
    pthread_cond_broadcast(&l->work_cv);
    pthread_mutex_unlock(&l->mutex);
    for (int i = 0; l->workers && i < l->worker_count; i++) {
        loader_worker *w = &l->workers[i];
        if (w->started) pthread_join(w->thread, NULL);
        free(w->indices);
        free(w->pixels);
        free(w->labels);
        yl_augment_scratch_free(&w->scratch);
    }
    for (int i = 0; l->slots && i < l->slot_count; i++) yl_batch_free(&l->slots[i].batch);
    if (l->owns_sampler) yl_shuffle_sampler_free(&l->own_sampler);
    free(l->workers);
    free(l->slots);
    free(l->warnings);
    free(l->val_order);
    free(l->val_shapes);
    pthread_cond_destroy(&l->work_cv);
    pthread_cond_destroy(&l->ready_cv);
    pthread_cond_destroy(&l->idle_cv);
    pthread_mutex_destroy(&l->mutex);
    free(l);
}

yl_status yl_loader_begin_epoch(yl_loader *l, int epoch, int *batch_count) {
    if (!l) return yl_error(YL_ERR_INVALID_ARG, "loader: NULL");
    if (epoch < 0) return yl_error(YL_ERR_INVALID_ARG, "loader: epoch %d < 0", epoch);
    pthread_mutex_lock(&l->mutex);
    atomic_fetch_add(&l->generation, 1u);
    l->epoch_active = false;
    l->held_slot = -1;
    for (int i = 0; i < l->slot_count; i++)
        if (l->slots[i].state != SLOT_BUILDING) l->slots[i].state = SLOT_FREE;
    // Builds of the old epoch may still read the sampler's order: let them finish (they stop
    // early, seeing the new generation) before reshuffling.
    while (l->building > 0) pthread_cond_wait(&l->idle_cv, &l->mutex);
    yl_status status = YL_OK;
    int count = 0;
    if (l->options.mode == YL_LOADER_TRAIN) status = l->sampler.begin_epoch(l->sampler.ctx, epoch, &count);
    else count = l->val_batch_count;
    if (status == YL_OK) {
        l->epoch = epoch;
        l->mosaic = l->options.mode == YL_LOADER_TRAIN &&
                    yl_augment_mosaic_active(&l->options.augment, epoch, l->options.epochs);
        l->batch_count = count;
        l->next_claim = l->next_deliver = 0;
        l->epoch_active = true;
        pthread_cond_broadcast(&l->work_cv);
    }
    pthread_mutex_unlock(&l->mutex);
    if (status != YL_OK) return yl_error_context(status, "loader: epoch %d", epoch);
    if (batch_count) *batch_count = count;
    return YL_OK;
}

static loader_slot *find_batch(yl_loader *l, int batch_index) {
    const unsigned generation = atomic_load(&l->generation);
    for (int i = 0; i < l->slot_count; i++) {
        loader_slot *s = &l->slots[i];
        if (s->state == SLOT_READY && s->batch_index == batch_index && s->generation == generation) return s;
    }
    return NULL;
}

yl_status yl_loader_next(yl_loader *l, const yl_batch **batch) {
    if (!l || !batch) return yl_error(YL_ERR_INVALID_ARG, "loader next: NULL argument");
    *batch = NULL;
    pthread_mutex_lock(&l->mutex);
    if (l->held_slot >= 0) {
        l->slots[l->held_slot].state = SLOT_FREE;
        l->held_slot = -1;
        pthread_cond_broadcast(&l->work_cv);
    }
    if (!l->epoch_active) {
        pthread_mutex_unlock(&l->mutex);
        return yl_error(YL_ERR_INVALID_ARG, "loader next: no epoch started (call yl_loader_begin_epoch)");
    }
    if (l->next_deliver >= l->batch_count) {
        pthread_mutex_unlock(&l->mutex);
        return YL_OK;
    }
    loader_slot *slot = find_batch(l, l->next_deliver);
    if (slot) {
        l->stats.batches_ready_on_request++;
    } else {
        const double start = now_seconds();
        while (!(slot = find_batch(l, l->next_deliver))) pthread_cond_wait(&l->ready_cv, &l->mutex);
        l->stats.wait_seconds += now_seconds() - start;
    }
    slot->state = SLOT_HELD;
    l->held_slot = (int)(slot - l->slots);
    l->next_deliver++;
    l->stats.batches_delivered++;
    const yl_status status = slot->status;
    char message[LOADER_MESSAGE_SIZE];
    memcpy(message, slot->message, sizeof message);
    pthread_mutex_unlock(&l->mutex);
    if (status != YL_OK) return yl_error(status, "loader: batch %d: %s", slot->batch_index, message);
    *batch = &slot->batch;
    return YL_OK;
}

bool yl_loader_mosaic_active(const yl_loader *l) { return l && l->mosaic; }

yl_loader_stats yl_loader_get_stats(yl_loader *l) {
    pthread_mutex_lock(&l->mutex);
    yl_loader_stats s = l->stats;
    pthread_mutex_unlock(&l->mutex);
    return s;
}

long yl_loader_warning_count(yl_loader *l) {
    pthread_mutex_lock(&l->mutex);
    long n = l->warning_count;
    pthread_mutex_unlock(&l->mutex);
    return n;
}

bool yl_loader_warning(yl_loader *l, int i, char *buf, size_t size) {
    if (!l || !buf || size == 0) return false;
    pthread_mutex_lock(&l->mutex);
    bool found = i >= 0 && i < l->warning_count && i < YL_LOADER_KEPT_WARNINGS;
    if (found) snprintf(buf, size, "%s", l->warnings[i]);
    pthread_mutex_unlock(&l->mutex);
    return found;
}
