// One training epoch in Ultralytics' order (BaseTrainer._do_train):
//   scheduler step (lr = lr0 * lf(epoch)); per batch: warm-up of lr / momentum / accumulate,
//   forward (train mode), loss (items logged as they are; the gradient is that of their sum x B),
//   backward (gradients accumulate), and when ni - last_opt_step >= accumulate:
//   clip (10.0) -> optimizer step -> zero_grad -> EMA update.
// A NaN/Inf gradient skips that step (gradients dropped, as the AMP scaler does) and is logged.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine/optim/grad_clip.h"
#include "engine/train/train_internal.h"

static size_t map_elements(const yl_trainer *t, int level) {
    const yl_model_layout *layout = yl_model_get_layout(t->model);
    int s = layout->detect_strides[level];
    int side = (t->o.imgsz + s - 1) / s;
    return (size_t)t->o.batch * (size_t)(YL_BOX_CHANNELS + t->cfg.nc) * (size_t)side * (size_t)side;
}

yl_status yl_trainer_alloc_step(yl_trainer *t) {
    yl_backend *be = yl_engine_backend(&t->eng, t->o.device);
    if (!be) return yl_error(YL_ERR_DEVICE, "train: no backend for the device");
    for (int l = 0; l < YL_DETECT_LEVELS; l++)
        YL_TRY(be->alloc(be, map_elements(t, l) * sizeof(float), &t->d_map_data[l]));
    if (t->o.device != YL_DEVICE_CPU) {
        size_t n = (size_t)t->o.batch * 3 * (size_t)t->o.imgsz * (size_t)t->o.imgsz;
        void *p = NULL;
        YL_TRY(be->alloc(be, n * sizeof(float), &p));
        t->device_images = p;
    }
    t->gt_per_image = calloc((size_t)t->o.batch, sizeof *t->gt_per_image);
    if (!t->gt_per_image) return yl_error(YL_ERR_OOM, "train: per-image target counts");
    return YL_OK;
}

void yl_trainer_free_step(yl_trainer *t) {
    yl_backend *be = yl_engine_backend(&t->eng, t->o.device);
    for (int l = 0; l < YL_DETECT_LEVELS; l++)
        if (be && t->d_map_data[l]) be->free(be, t->d_map_data[l]);
    if (be && t->device_images) be->free(be, t->device_images);
    free(t->gt_per_image);
    memset(t->d_map_data, 0, sizeof t->d_map_data);
    t->device_images = NULL;
    t->gt_per_image = NULL;
}

// Grows the loss workspace when an image of this batch has more targets than it holds
// (allocates, but only the first few batches ever do).
static yl_status fit_loss_capacity(yl_trainer *t, const yl_batch *b) {
    memset(t->gt_per_image, 0, (size_t)t->o.batch * sizeof *t->gt_per_image);
    int most = 0;
    for (int r = 0; r < b->target_count; r++) {
        int img = (int)b->targets[r * YL_TARGET_COLUMNS];
        if (img < 0 || img >= b->count) continue;
        int n = ++t->gt_per_image[img];
        if (n > most) most = n;
    }
    if (most > t->loss.gt_capacity) YL_TRY(yl_detection_loss_reserve(&t->loss, most + most / 2));
    return YL_OK;
}

static yl_status images_on_device(yl_trainer *t, const yl_batch *b, yl_tensor *images) {
    *images = yl_batch_images_tensor(b);
    if (t->o.device == YL_DEVICE_CPU) return YL_OK;
    yl_backend *be = yl_engine_backend(&t->eng, t->o.device);
    YL_TRY(be->copy_from_host(be, t->device_images, b->images, yl_tensor_nbytes(images)));
    *images = yl_tensor_4d(t->device_images, t->o.device, b->count, 3, b->height, b->width);
    return YL_OK;
}

static yl_status optimizer_step(yl_trainer *t) {
    double norm = 0;
    yl_status st = yl_clip_grad_norm(t->opt, YL_CLIP_GRAD_MAX_NORM, &norm);
    if (st == YL_ERR_NUMERIC) {
        t->skipped_steps++;
        yl_engine_log(&t->eng, "WARNING: optimizer step skipped: %s", yl_last_error());
        yl_clear_error();
        return yl_model_zero_grad(t->model);
    }
    YL_TRY(st);
    YL_TRY(yl_optimizer_step(t->opt));
    YL_TRY(yl_model_zero_grad(t->model));
    return yl_ema_update(t->ema);
}

static yl_status train_batch(yl_trainer *t, const yl_batch *b, yl_detection_loss_result *res) {
    yl_tensor images, maps[YL_DETECT_LEVELS], d_maps[YL_DETECT_LEVELS];
    YL_TRY(images_on_device(t, b, &images));
    YL_TRY(fit_loss_capacity(t, b));
    YL_TRY(yl_model_forward_train(t->model, &images, maps));
    for (int l = 0; l < YL_DETECT_LEVELS; l++)
        d_maps[l] = yl_tensor_4d(t->d_map_data[l], maps[l].device, maps[l].shape[0], maps[l].shape[1],
                                 maps[l].shape[2], maps[l].shape[3]);
    YL_TRY(yl_detection_loss_compute(&t->loss, maps, b->height, b->width, b->targets, b->target_count, d_maps, res));
    YL_TRY(yl_model_backward(t->model, d_maps, NULL));
    if (yl_schedule_step_due(&t->sched)) YL_TRY(optimizer_step(t));
    // A GPU step is queued, not done, when the host gets here: wait for it, so that the step time,
    // the loader's share and the progress line's it/s measure the work (as Ultralytics' per-batch
    // loss read-out does), not how fast kernels can be queued.
    if (t->o.device != YL_DEVICE_CPU) {
        yl_backend *be = yl_engine_backend(&t->eng, t->o.device);
        YL_TRY(be->synchronize(be));
    }
    return YL_OK;
}

yl_status yl_trainer_run_epoch(yl_trainer *t, int epoch, yl_train_epoch *e, yl_train_timing *timing) {
    yl_optimizer_settings *settings = yl_optimizer_settings_of(t->opt);
    YL_TRY(yl_schedule_epoch_start(&t->sched, settings, epoch));
    int nb = 0;
    YL_TRY(yl_loader_begin_epoch(t->loader, epoch, &nb));
    if (t->o.close_mosaic > 0 && epoch == t->o.epochs - t->o.close_mosaic && !yl_loader_mosaic_active(t->loader))
        yl_engine_log(&t->eng, "Closing dataloader mosaic");
    if (nb > t->batches_per_epoch) nb = t->batches_per_epoch;
    double mean[3] = {0, 0, 0};
    double start = yl_train_now();
    for (int i = 0; i < nb; i++) {
        const yl_batch *b = NULL;
        double w0 = yl_train_now();
        yl_status st = yl_loader_next(t->loader, &b);
        if (st != YL_OK) return yl_error_context(st, "train: epoch %d batch %d: ", epoch + 1, i);
        if (!b) break;
        timing->wait_seconds += yl_train_now() - w0;
        YL_TRY(yl_schedule_batch_start(&t->sched, settings, epoch, i));
        double t0 = yl_train_now();
        yl_detection_loss_result res;
        st = train_batch(t, b, &res);
        if (st != YL_OK) return yl_error_context(st, "train: epoch %d batch %d: ", epoch + 1, i);
        timing->step_seconds += yl_train_now() - t0;
        timing->steps++;
        double items[3] = {res.box, res.cls, res.dfl};
        for (int k = 0; k < 3; k++) mean[k] = (mean[k] * i + items[k]) / (i + 1);
        if (t->o.on_progress) {
            double elapsed = yl_train_now() - start;
            yl_train_progress p = {
                .epoch = epoch, .epochs = t->o.epochs, .batch_index = i, .batch_count = nb,
                .mem_gb = yl_train_memory_gb(t), .box_loss = mean[0], .cls_loss = mean[1], .dfl_loss = mean[2],
                .instances = b->target_count, .size = b->width,
                .it_per_s = elapsed > 0 ? (i + 1) / elapsed : 0,
            };
            t->o.on_progress(t->o.user, &p);
        }
    }
    e->train_box = mean[0];
    e->train_cls = mean[1];
    e->train_dfl = mean[2];
    for (int g = 0; g < YL_PARAM_GROUP_COUNT; g++) e->lr[g] = settings->groups[g].lr;
    return YL_OK;
}
