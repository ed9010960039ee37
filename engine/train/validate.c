// The validation pass: val loader -> eval forward (decoded) -> NMS -> mapping to the original
// images -> evaluator; optionally the validation loss on the same raw maps.
#define _POSIX_C_SOURCE 200809L
#include "engine/train/validate.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/data/loader.h"
#include "engine/eval/nms.h"
#include "engine/loss/detection_loss.h"

struct yl_validator {
    yl_model *model;
    const yl_dataset *dataset;
    yl_validator_options options;
    int nc;
    int max_side;  // largest batch height/width the loader can produce
    yl_sample_source source;
    yl_loader *loader;
    yl_evaluator *evaluator;
    yl_nms_options nms;
    void *nms_workspace;
    size_t nms_workspace_bytes;
    int64_t nms_anchors;
    yl_detection *detections;  // batch x max_det
    int64_t *counts;
    float *host_decoded;  // copy of a device output
    size_t host_decoded_floats;
    float *device_images;  // upload buffer when the model lives on CUDA
    float *gt_xywhn, *gt_xyxy;
    int32_t *gt_cls;
    int gt_capacity;
    bool loss_ready;
    yl_detection_loss loss;
    long skipped;
    double speed_ms[4];
    char name_buffer[32];
};

yl_validator_options yl_validator_defaults(void) {
    yl_validator_options o = {
        .imgsz = 640, .batch = 16, .workers = 2, .conf = 0.001f, .iou = 0.7, .max_det = 300, .rect = true,
    };
    return o;
}

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}

static yl_status check_options(const yl_validator_options *o) {
    if (o->imgsz <= 0 || o->imgsz % 32 != 0)
        return yl_error(YL_ERR_INVALID_ARG, "validator: imgsz=%d must be a positive multiple of 32", o->imgsz);
    if (o->batch < 1) return yl_error(YL_ERR_INVALID_ARG, "validator: batch=%d must be >= 1", o->batch);
    if (o->workers < 1) return yl_error(YL_ERR_INVALID_ARG, "validator: workers=%d must be >= 1", o->workers);
    if (!(o->conf >= 0.0f && o->conf <= 1.0f))
        return yl_error(YL_ERR_INVALID_ARG, "validator: conf=%g must be in [0, 1]", (double)o->conf);
    if (!(o->iou >= 0.0 && o->iou <= 1.0))
        return yl_error(YL_ERR_INVALID_ARG, "validator: iou=%g must be in [0, 1]", o->iou);
    if (o->max_det < 1) return yl_error(YL_ERR_INVALID_ARG, "validator: max_det=%d must be >= 1", o->max_det);
    return YL_OK;
}

void yl_validator_destroy(yl_validator *v) {
    if (!v) return;
    yl_loader_destroy(v->loader);
    yl_evaluator_destroy(v->evaluator);
    if (v->loss_ready) yl_detection_loss_free(&v->loss);
    if (v->device_images) {
        yl_backend *be = yl_engine_backend(yl_model_engine(v->model), YL_DEVICE_CUDA);
        if (be) be->free(be, v->device_images);
    }
    free(v->nms_workspace);
    free(v->detections);
    free(v->counts);
    free(v->host_decoded);
    free(v->gt_xywhn);
    free(v->gt_xyxy);
    free(v->gt_cls);
    free(v);
}

static yl_status create_parts(yl_validator *v) {
    const yl_validator_options *o = &v->options;
    yl_loader_options lo = yl_loader_defaults(YL_LOADER_VAL, o->batch, o->imgsz);
    lo.workers = o->workers;
    lo.seed = o->seed;
    lo.rect = o->rect;
    YL_TRY(yl_loader_create(&v->loader, &v->source, NULL, &lo));
    // Rect shapes are ceil(imgsz * s / 32 + 0.5) * 32 with s <= 1: at most imgsz + 32.
    v->max_side = o->rect ? o->imgsz + 32 : o->imgsz;
    YL_TRY(yl_model_plan(v->model, o->batch, v->max_side, v->max_side, false));

    yl_evaluator_options eo = yl_evaluator_defaults(v->nc);
    if (o->conf > 0.001f) eo.confusion_conf = o->conf;  // Ultralytics: 0.25 only for its default 0.001
    YL_TRY(yl_evaluator_create(&v->evaluator, &eo));

    v->nms = yl_nms_options_val();
    v->nms.conf_thres = o->conf;
    v->nms.iou_thres = o->iou;
    v->nms.max_det = o->max_det;
    v->nms.agnostic = o->single_cls;
    v->detections = malloc((size_t)o->batch * o->max_det * sizeof *v->detections);
    v->counts = malloc((size_t)o->batch * sizeof *v->counts);
    if (!v->detections || !v->counts) return yl_error(YL_ERR_OOM, "validator: out of memory");

    yl_engine *eng = yl_model_engine(v->model);
    if (eng->device == YL_DEVICE_CUDA) {
        yl_backend *be = yl_engine_backend(eng, YL_DEVICE_CUDA);
        if (!be) return yl_error(YL_ERR_DEVICE, "validator: the model is on CUDA but the engine has no CUDA backend");
        YL_TRY(be->alloc(be, (size_t)o->batch * 3 * v->max_side * v->max_side * sizeof(float),
                         (void **)&v->device_images));
    }
    if (o->compute_loss) {
        yl_detection_loss_config lc = yl_detection_loss_default_config(o->batch, v->nc, v->max_side, v->max_side, 8);
        YL_TRY(yl_detection_loss_init(&v->loss, &lc));
        v->loss_ready = true;
        if (eng->device == YL_DEVICE_CUDA)
            YL_TRY(yl_detection_loss_attach_cuda(&v->loss, yl_engine_backend(eng, YL_DEVICE_CUDA)));
    }
    return YL_OK;
}

yl_status yl_validator_create(yl_validator **out, yl_model *model, const yl_dataset *dataset,
                              const yl_validator_options *options) {
    if (!out || !model || !dataset || !options) return yl_error(YL_ERR_INVALID_ARG, "validator: NULL argument");
    *out = NULL;
    YL_TRY(check_options(options));
    const int nc = yl_model_get_layout(model)->config.nc;
    if (options->single_cls ? nc != 1 : dataset->nc != nc)
        return yl_error(YL_ERR_INVALID_ARG, "validator: the dataset has nc=%d but the model has nc=%d", dataset->nc, nc);
    if (dataset->count < 1) return yl_error(YL_ERR_INVALID_ARG, "validator: the dataset has no images");
    yl_validator *v = calloc(1, sizeof *v);
    if (!v) return yl_error(YL_ERR_OOM, "validator: out of memory");
    v->model = model;
    v->dataset = dataset;
    v->options = *options;
    v->nc = nc;
    v->source = yl_dataset_sample_source(dataset);
    yl_status st = create_parts(v);
    if (st != YL_OK) {
        yl_validator_destroy(v);
        return st;
    }
    *out = v;
    return YL_OK;
}

static yl_status reserve_nms(yl_validator *v, int64_t anchors) {
    if (anchors <= v->nms_anchors) return YL_OK;
    const size_t bytes = yl_nms_workspace_bytes(anchors, v->nc, &v->nms);
    void *ws = realloc(v->nms_workspace, bytes);
    if (!ws) return yl_error(YL_ERR_OOM, "validator: out of memory for the NMS workspace (%zu bytes)", bytes);
    v->nms_workspace = ws;
    v->nms_workspace_bytes = bytes;
    v->nms_anchors = anchors;
    return YL_OK;
}

static yl_status reserve_gt(yl_validator *v, int n) {
    if (n <= v->gt_capacity) return YL_OK;
    float *a = realloc(v->gt_xywhn, (size_t)n * 4 * sizeof *a);
    if (a) v->gt_xywhn = a;
    float *b = realloc(v->gt_xyxy, (size_t)n * 4 * sizeof *b);
    if (b) v->gt_xyxy = b;
    int32_t *c = realloc(v->gt_cls, (size_t)n * sizeof *c);
    if (c) v->gt_cls = c;
    if (!a || !b || !c) return yl_error(YL_ERR_OOM, "validator: out of memory for %d GT boxes", n);
    v->gt_capacity = n;
    return YL_OK;
}

// The decoded output as a CPU tensor (copied down when the model runs on CUDA).
static yl_status decoded_on_host(yl_validator *v, const yl_tensor *decoded, yl_tensor *host) {
    if (decoded->device == YL_DEVICE_CPU) {
        *host = *decoded;
        return YL_OK;
    }
    if (!yl_tensor_is_contiguous(decoded))
        return yl_error(YL_ERR_SHAPE, "validator: the decoded output on the device is not contiguous");
    const size_t n = (size_t)yl_tensor_numel(decoded);
    if (n > v->host_decoded_floats) {
        float *p = realloc(v->host_decoded, n * sizeof *p);
        if (!p) return yl_error(YL_ERR_OOM, "validator: out of memory for the decoded output");
        v->host_decoded = p;
        v->host_decoded_floats = n;
    }
    yl_backend *be = yl_engine_backend(yl_model_engine(v->model), decoded->device);
    YL_TRY(be->copy_to_host(be, v->host_decoded, decoded->data, n * sizeof(float)));
    *host = yl_tensor_3d(v->host_decoded, YL_DEVICE_CPU, decoded->shape[0], decoded->shape[1], decoded->shape[2]);
    return YL_OK;
}

static yl_status batch_loss(yl_validator *v, const yl_batch *batch, const yl_tensor maps[YL_YOLOV8_LEVELS],
                            double sums[3]) {
    int max_rows = 0;
    for (int i = 0, start = 0; i <= batch->target_count; i++) {
        // rows are grouped by image index in batch order
        if (i == batch->target_count || (i > start && batch->targets[i * YL_TARGET_COLUMNS] !=
                                                          batch->targets[start * YL_TARGET_COLUMNS])) {
            if (i - start > max_rows) max_rows = i - start;
            start = i;
        }
    }
    if (max_rows > v->loss.gt_capacity) YL_TRY(yl_detection_loss_reserve(&v->loss, max_rows));
    yl_detection_loss_result r;
    YL_TRY(yl_detection_loss_compute(&v->loss, maps, batch->height, batch->width, batch->targets,
                                     batch->target_count, NULL, &r));
    sums[0] += r.box;
    sums[1] += r.cls;
    sums[2] += r.dfl;
    return YL_OK;
}

// NMS, mapping and the evaluator for every image of the batch.
static yl_status postprocess(yl_validator *v, const yl_batch *batch, const yl_tensor *decoded) {
    yl_tensor pred;
    YL_TRY(decoded_on_host(v, decoded, &pred));
    YL_TRY(reserve_nms(v, pred.shape[2]));
    YL_TRY(yl_nms(&pred, &v->nms, v->nms_workspace, v->nms_workspace_bytes, v->detections, v->counts));
    YL_TRY(reserve_gt(v, batch->target_count > 0 ? batch->target_count : 1));
    int row = 0;
    for (int b = 0; b < batch->count; b++) {
        int n_gt = 0;
        for (; row < batch->target_count && (int)batch->targets[row * YL_TARGET_COLUMNS] == b; row++, n_gt++) {
            const float *t = batch->targets + (size_t)row * YL_TARGET_COLUMNS;
            v->gt_cls[n_gt] = v->options.single_cls ? 0 : (int32_t)t[1];
            memcpy(v->gt_xywhn + (size_t)n_gt * 4, t + 2, 4 * sizeof(float));
        }
        const yl_batch_image *info = &batch->info[b];
        const yl_ratio_pad rp = yl_validator_ratio_pad(info);
        YL_TRY(yl_validator_add_mapped(v->evaluator, v->detections + (size_t)b * v->options.max_det, v->counts[b],
                                       v->gt_xywhn, v->gt_cls, n_gt, batch->height, batch->width, &rp,
                                       info->original_height, info->original_width, v->gt_xyxy));
    }
    if (row != batch->target_count)
        return yl_error(YL_ERR_INVALID_ARG, "validator: batch targets are not grouped by image in batch order");
    return YL_OK;
}

static yl_status run_batch(yl_validator *v, const yl_batch *batch, double loss_sums[3]) {
    yl_tensor images = yl_batch_images_tensor(batch);
    yl_engine *eng = yl_model_engine(v->model);
    if (eng->device == YL_DEVICE_CUDA) {
        yl_backend *be = yl_engine_backend(eng, YL_DEVICE_CUDA);
        YL_TRY(be->copy_from_host(be, v->device_images, images.data, yl_tensor_nbytes(&images)));
        images = yl_tensor_4d(v->device_images, YL_DEVICE_CUDA, batch->count, 3, batch->height, batch->width);
    }
    double t0 = now_ms();
    yl_tensor decoded, maps[YL_YOLOV8_LEVELS];
    YL_TRY(yl_model_forward_eval_decoded(v->model, &images, &decoded, maps));
    double t1 = now_ms();
    if (v->options.compute_loss) YL_TRY(batch_loss(v, batch, maps, loss_sums));
    double t2 = now_ms();
    YL_TRY(postprocess(v, batch, &decoded));
    double t3 = now_ms();
    v->speed_ms[1] += t1 - t0;
    v->speed_ms[2] += t2 - t1;
    v->speed_ms[3] += t3 - t2;
    return YL_OK;
}

yl_status yl_validator_run(yl_validator *v, const yl_eval_results **results, float *val_loss) {
    if (!v || !results) return yl_error(YL_ERR_INVALID_ARG, "validator: NULL argument to run");
    *results = NULL;
    if (val_loss) val_loss[0] = val_loss[1] = val_loss[2] = 0.0f;
    yl_evaluator_reset(v->evaluator);
    memset(v->speed_ms, 0, sizeof v->speed_ms);
    // The trainer may have re-planned the model for training since the last run.
    YL_TRY(yl_model_plan(v->model, v->options.batch, v->max_side, v->max_side, false));
    const long skipped_before = yl_loader_get_stats(v->loader).samples_skipped;
    int batch_count = 0;
    YL_TRY(yl_loader_begin_epoch(v->loader, 0, &batch_count));
    double loss_sums[3] = {0, 0, 0};
    int64_t images = 0;
    for (;;) {
        double t0 = now_ms();
        const yl_batch *batch = NULL;
        YL_TRY(yl_loader_next(v->loader, &batch));
        v->speed_ms[0] += now_ms() - t0;
        if (!batch) break;
        if (batch->count == 0) continue;
        YL_TRY(run_batch(v, batch, loss_sums));
        images += batch->count;
    }
    v->skipped = yl_loader_get_stats(v->loader).samples_skipped - skipped_before;
    for (int i = 0; i < 4; i++) v->speed_ms[i] = images > 0 ? v->speed_ms[i] / (double)images : 0.0;
    if (val_loss && v->options.compute_loss && batch_count > 0)
        for (int i = 0; i < 3; i++) val_loss[i] = (float)(loss_sums[i] / batch_count);
    return yl_evaluator_compute(v->evaluator, results);
}

long yl_validator_skipped(const yl_validator *v) { return v ? v->skipped : 0; }

void yl_validator_speed(const yl_validator *v, double speed_ms[4]) {
    for (int i = 0; i < 4; i++) speed_ms[i] = v ? v->speed_ms[i] : 0.0;
}

const char *yl_validator_class_name(const yl_validator *v, int cls) {
    if (!v || cls < 0 || cls >= v->nc) return "?";
    if (v->options.names && v->options.names[cls]) return v->options.names[cls];
    yl_validator *mv = (yl_validator *)v;  // the fallback name lives in the validator
    snprintf(mv->name_buffer, sizeof mv->name_buffer, "class%d", cls);
    return mv->name_buffer;
}
