// Building one batch on a worker thread: augmented training samples (with stand-ins for
// unreadable ones) or letterboxed validation images.
#include <stdlib.h>
#include <string.h>

#include "letterbox.h"
#include "loader_internal.h"

static bool sample_is_usable(const yl_sample *s) {
    return s->image.pixels && s->image.width > 0 && s->image.height > 0 && s->label_count >= 0 &&
           (s->label_count == 0 || s->labels);
}

static yl_status stand_in_load(void *ctx, int index, int imgsz, yl_sample *out) {
    stand_in_source *c = ctx;
    yl_loader *l = c->worker->loader;
    const int tries = l->options.max_stand_ins + 1;
    for (int attempt = 0; attempt < tries; attempt++) {
        memset(out, 0, sizeof *out);
        yl_clear_error();
        yl_status status = l->source.load(l->source.ctx, index, imgsz, out);
        if (status == YL_OK && sample_is_usable(out)) {
            if (c->primary_index < 0) c->primary_index = index;
            return YL_OK;
        }
        if (status == YL_OK) yl_error(YL_ERR_FORMAT, "the source returned an empty image or bad labels");
        loader_warn(l, "sample %d skipped (%s): %s", index, yl_status_name(status == YL_OK ? YL_ERR_FORMAT : status),
                    yl_last_error());
        yl_sample_free(out);
        index = l->sampler.draw_like(l->sampler.ctx, index, &c->rng);
    }
    return yl_error(YL_ERR_IO, "loader: %d unreadable samples in a row (the last stand-in was %d); giving up", tries,
                    index);
}

void loader_worker_init_stand_in(loader_worker *w) {
    w->stand_in.worker = w;
    w->stand_in.primary_index = -1;
    w->stand_in_interface = (yl_sample_source){
        .count = w->loader->source.count,
        .load = stand_in_load,
        .image_size = NULL,
        .ctx = &w->stand_in,
    };
}

static yl_status build_train_batch(loader_worker *w, int batch_index, int epoch, bool mosaic, unsigned generation,
                                   yl_batch *batch) {
    yl_loader *l = w->loader;
    const yl_loader_options *o = &l->options;
    const int n = l->sampler.batch_indices(l->sampler.ctx, batch_index, w->indices);
    YL_TRY(yl_batch_begin(batch, o->imgsz, o->imgsz));
    batch->epoch = epoch;
    batch->batch_index = batch_index;
    const yl_partner_picker partners = {l->sampler.draw_like, l->sampler.ctx};
    for (int j = 0; j < n; j++) {
        if (atomic_load(&l->generation) != generation) return YL_OK;  // abandoned
        const uint64_t position = (uint64_t)batch_index * (uint64_t)o->batch_size + (uint64_t)j;
        yl_rng rng;
        yl_data_rng_seed(&rng, o->seed, YL_DATA_STREAM_SAMPLE, (uint64_t)epoch, position);
        yl_data_rng_seed(&w->stand_in.rng, o->seed, YL_DATA_STREAM_STAND_IN, (uint64_t)epoch, position);
        w->stand_in.primary_index = -1;
        yl_sample sample;
        yl_status status = yl_augment_train_sample(&o->augment, &w->stand_in_interface, w->indices[j], mosaic,
                                                   &partners, &rng, &w->scratch, &sample);
        if (status != YL_OK) return yl_error_context(status, "sample %d (index %d)", j, w->indices[j]);
        const yl_batch_image info = {
            .index = w->stand_in.primary_index,
            .original_width = sample.original_width,
            .original_height = sample.original_height,
            .path = sample.path,
        };
        YL_TRY(yl_batch_add(batch, &sample, &info));
    }
    return YL_OK;
}

static yl_status reserve_labels(loader_worker *w, int count) {
    if (count <= w->label_capacity) return YL_OK;
    int capacity = count < 64 ? 64 : count;
    yl_box_label *labels = realloc(w->labels, (size_t)capacity * sizeof *labels);
    if (!labels) return yl_error(YL_ERR_OOM, "loader: %d labels", capacity);
    w->labels = labels;
    w->label_capacity = capacity;
    return YL_OK;
}

// One validation image: letterboxed (no enlarging, centred) to the batch shape.
static yl_status add_val_sample(loader_worker *w, yl_batch *batch, int index, const yl_sample *s) {
    yl_letterbox_options lo = yl_letterbox_defaults(batch->width, batch->height);
    lo.scaleup = false;
    yl_letterbox_info info;
    YL_TRY(yl_letterbox_plan(s->image.width, s->image.height, &lo, &info));
    if ((size_t)info.width * info.height * 3 > w->pixel_bytes)
        return yl_error(YL_ERR_SHAPE, "loader: letterbox %dx%d exceeds the buffer", info.width, info.height);
    yl_image_u8 image = {info.width, info.height, w->pixels};
    YL_TRY(yl_letterbox_apply(&s->image, &info, lo.pad_value, &image));
    YL_TRY(reserve_labels(w, s->label_count));
    if (s->label_count > 0) memcpy(w->labels, s->labels, (size_t)s->label_count * sizeof *w->labels);
    yl_letterbox_map_labels(&info, w->labels, s->label_count);
    const int ow = s->original_width > 0 ? s->original_width : s->image.width;
    const int oh = s->original_height > 0 ? s->original_height : s->image.height;
    const yl_batch_image meta = {
        .index = index,
        .original_width = ow,
        .original_height = oh,
        .gain_x = info.ratio * (float)s->image.width / (float)ow,
        .gain_y = info.ratio * (float)s->image.height / (float)oh,
        .pad_x = (float)info.pad_left,
        .pad_y = (float)info.pad_top,
        .path = s->path,
    };
    const yl_sample boxed = {.image = image, .labels = w->labels, .label_count = s->label_count};
    return yl_batch_add(batch, &boxed, &meta);
}

static yl_status build_val_batch(loader_worker *w, int batch_index, int epoch, unsigned generation, yl_batch *batch) {
    yl_loader *l = w->loader;
    const yl_loader_options *o = &l->options;
    const yl_batch_shape shape = l->val_shapes[batch_index];
    YL_TRY(yl_batch_begin(batch, shape.height, shape.width));
    batch->epoch = epoch;
    batch->batch_index = batch_index;
    const int first = batch_index * o->batch_size;
    const int n = l->source.count - first < o->batch_size ? l->source.count - first : o->batch_size;
    for (int j = 0; j < n; j++) {
        if (atomic_load(&l->generation) != generation) return YL_OK;
        const int index = l->val_order[first + j];
        yl_sample sample;
        memset(&sample, 0, sizeof sample);
        yl_clear_error();
        yl_status status = l->source.load(l->source.ctx, index, o->imgsz, &sample);
        if (status == YL_OK && !sample_is_usable(&sample))
            status = yl_error(YL_ERR_FORMAT, "the source returned an empty image or bad labels");
        if (status != YL_OK) {
            loader_warn(l, "validation sample %d skipped (%s): %s", index, yl_status_name(status), yl_last_error());
            yl_sample_free(&sample);
            continue;
        }
        status = add_val_sample(w, batch, index, &sample);
        yl_sample_free(&sample);
        if (status != YL_OK) return yl_error_context(status, "validation sample %d", index);
    }
    return YL_OK;
}

yl_status loader_build_batch(loader_worker *w, int batch_index, int epoch, bool mosaic, unsigned generation,
                             yl_batch *batch) {
    if (w->loader->options.mode == YL_LOADER_TRAIN)
        return build_train_batch(w, batch_index, epoch, mosaic, generation, batch);
    return build_val_batch(w, batch_index, epoch, generation, batch);
}
