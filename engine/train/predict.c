// Prediction on single images: letterbox (auto padding), eval forward, NMS, scale_boxes.
#include "engine/train/predict.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/data/batch.h"
#include "engine/data/image_io.h"
#include "engine/data/letterbox.h"
#include "engine/eval/nms.h"

struct yl_predictor {
    yl_model *model;
    yl_predict_options options;
    int nc;
    yl_nms_options nms;
    yl_batch batch;  // one image: converts u8 HWC to fp32 CHW / 255
    uint8_t *letterboxed;
    void *nms_workspace;
    size_t nms_workspace_bytes;
    int64_t nms_anchors;
    yl_detection *detections;
    float *host_decoded;
    size_t host_decoded_floats;
    float *device_images;
    char name_buffer[32];
};

yl_predict_options yl_predict_defaults(void) {
    yl_predict_options o = {.imgsz = 640, .conf = 0.25f, .iou = 0.7, .max_det = 300};
    return o;
}

void yl_predictor_destroy(yl_predictor *p) {
    if (!p) return;
    if (p->device_images) {
        yl_backend *be = yl_engine_backend(yl_model_engine(p->model), YL_DEVICE_CUDA);
        if (be) be->free(be, p->device_images);
    }
    yl_batch_free(&p->batch);
    free(p->letterboxed);
    free(p->nms_workspace);
    free(p->detections);
    free(p->host_decoded);
    free(p);
}

static yl_status setup(yl_predictor *p) {
    const yl_predict_options *o = &p->options;
    YL_TRY(yl_model_plan(p->model, 1, o->imgsz, o->imgsz, false));
    YL_TRY(yl_batch_init(&p->batch, 1, o->imgsz, o->imgsz));
    p->letterboxed = malloc((size_t)o->imgsz * o->imgsz * 3);
    p->detections = malloc((size_t)o->max_det * sizeof *p->detections);
    if (!p->letterboxed || !p->detections) return yl_error(YL_ERR_OOM, "predict: out of memory");
    p->nms = yl_nms_options_predict();
    p->nms.conf_thres = o->conf;
    p->nms.iou_thres = o->iou;
    p->nms.max_det = o->max_det;
    p->nms.agnostic = o->agnostic;
    yl_engine *eng = yl_model_engine(p->model);
    if (eng->device == YL_DEVICE_CUDA) {
        yl_backend *be = yl_engine_backend(eng, YL_DEVICE_CUDA);
        if (!be) return yl_error(YL_ERR_DEVICE, "predict: the model is on CUDA but the engine has no CUDA backend");
        YL_TRY(be->alloc(be, (size_t)3 * o->imgsz * o->imgsz * sizeof(float), (void **)&p->device_images));
    }
    return YL_OK;
}

yl_status yl_predictor_create(yl_predictor **out, yl_model *model, const yl_predict_options *options) {
    if (!out || !model || !options) return yl_error(YL_ERR_INVALID_ARG, "predict: NULL argument");
    *out = NULL;
    const yl_predict_options *o = options;
    if (o->imgsz <= 0 || o->imgsz % 32 != 0)
        return yl_error(YL_ERR_INVALID_ARG, "predict: imgsz=%d must be a positive multiple of 32", o->imgsz);
    if (!(o->conf >= 0.0f && o->conf <= 1.0f))
        return yl_error(YL_ERR_INVALID_ARG, "predict: conf=%g must be in [0, 1]", (double)o->conf);
    if (!(o->iou >= 0.0 && o->iou <= 1.0)) return yl_error(YL_ERR_INVALID_ARG, "predict: iou=%g must be in [0, 1]", o->iou);
    if (o->max_det < 1) return yl_error(YL_ERR_INVALID_ARG, "predict: max_det=%d must be >= 1", o->max_det);
    yl_predictor *p = calloc(1, sizeof *p);
    if (!p) return yl_error(YL_ERR_OOM, "predict: out of memory");
    p->model = model;
    p->options = *options;
    p->nc = yl_model_get_layout(model)->config.nc;
    yl_status st = setup(p);
    if (st != YL_OK) {
        yl_predictor_destroy(p);
        return st;
    }
    *out = p;
    return YL_OK;
}

static yl_status decoded_on_host(yl_predictor *p, const yl_tensor *decoded, yl_tensor *host) {
    if (decoded->device == YL_DEVICE_CPU) {
        *host = *decoded;
        return YL_OK;
    }
    if (!yl_tensor_is_contiguous(decoded))
        return yl_error(YL_ERR_SHAPE, "predict: the decoded output on the device is not contiguous");
    const size_t n = (size_t)yl_tensor_numel(decoded);
    if (n > p->host_decoded_floats) {
        float *h = realloc(p->host_decoded, n * sizeof *h);
        if (!h) return yl_error(YL_ERR_OOM, "predict: out of memory for the decoded output");
        p->host_decoded = h;
        p->host_decoded_floats = n;
    }
    yl_backend *be = yl_engine_backend(yl_model_engine(p->model), decoded->device);
    YL_TRY(be->copy_to_host(be, p->host_decoded, decoded->data, n * sizeof(float)));
    *host = yl_tensor_3d(p->host_decoded, YL_DEVICE_CPU, decoded->shape[0], decoded->shape[1], decoded->shape[2]);
    return YL_OK;
}

yl_status yl_predictor_run_image(yl_predictor *p, const yl_image_u8 *image, yl_prediction *out) {
    if (!p || !image || !image->pixels || !out) return yl_error(YL_ERR_INVALID_ARG, "predict: NULL argument");
    if (image->width < 1 || image->height < 1)
        return yl_error(YL_ERR_INVALID_ARG, "predict: empty image %dx%d", image->width, image->height);
    yl_letterbox_options lo = yl_letterbox_defaults(p->options.imgsz, p->options.imgsz);
    lo.auto_pad = true;
    yl_letterbox_info info;
    YL_TRY(yl_letterbox_plan(image->width, image->height, &lo, &info));
    yl_image_u8 boxed = {info.width, info.height, p->letterboxed};
    YL_TRY(yl_letterbox_apply(image, &info, lo.pad_value, &boxed));
    YL_TRY(yl_batch_begin(&p->batch, info.height, info.width));
    const yl_sample sample = {.image = boxed, .original_width = image->width, .original_height = image->height};
    const yl_batch_image meta = {.original_width = image->width, .original_height = image->height};
    YL_TRY(yl_batch_add(&p->batch, &sample, &meta));

    yl_tensor images = yl_batch_images_tensor(&p->batch);
    yl_engine *eng = yl_model_engine(p->model);
    if (eng->device == YL_DEVICE_CUDA) {
        yl_backend *be = yl_engine_backend(eng, YL_DEVICE_CUDA);
        YL_TRY(be->copy_from_host(be, p->device_images, images.data, yl_tensor_nbytes(&images)));
        images = yl_tensor_4d(p->device_images, YL_DEVICE_CUDA, 1, 3, info.height, info.width);
    }
    yl_tensor decoded, pred;
    YL_TRY(yl_model_forward_eval_decoded(p->model, &images, &decoded, NULL));
    YL_TRY(decoded_on_host(p, &decoded, &pred));
    if (pred.shape[2] > p->nms_anchors) {
        const size_t bytes = yl_nms_workspace_bytes(pred.shape[2], p->nc, &p->nms);
        void *ws = realloc(p->nms_workspace, bytes);
        if (!ws) return yl_error(YL_ERR_OOM, "predict: out of memory for the NMS workspace");
        p->nms_workspace = ws;
        p->nms_workspace_bytes = bytes;
        p->nms_anchors = pred.shape[2];
    }
    int64_t count = 0;
    YL_TRY(yl_nms(&pred, &p->nms, p->nms_workspace, p->nms_workspace_bytes, p->detections, &count));
    // The predict path gives scale_boxes no ratio_pad: it recomputes gain and pad from the shapes.
    const yl_ratio_pad rp = yl_ratio_pad_from_shapes(info.height, info.width, image->height, image->width);
    yl_scale_detections(p->detections, count, &rp, image->height, image->width);
    out->width = image->width;
    out->height = image->height;
    out->boxes = p->detections;
    out->count = count;
    return YL_OK;
}

yl_status yl_predictor_run_file(yl_predictor *p, const char *path, yl_prediction *out, yl_image_u8 *image) {
    if (!p || !path || !out) return yl_error(YL_ERR_INVALID_ARG, "predict: NULL argument");
    yl_image_u8 img = {0};
    YL_TRY(yl_image_read(path, &img));
    yl_status st = yl_predictor_run_image(p, &img, out);
    if (st == YL_OK && image)
        *image = img;
    else
        yl_image_u8_free(&img);
    return st;
}

const char *yl_predictor_class_name(yl_predictor *p, int cls) {
    if (!p || cls < 0 || cls >= p->nc) return "?";
    if (p->options.names && p->options.names[cls]) return p->options.names[cls];
    snprintf(p->name_buffer, sizeof p->name_buffer, "class%d", cls);
    return p->name_buffer;
}

void yl_predictions_free(yl_prediction *results, int n) {
    if (!results) return;
    for (int i = 0; i < n; i++) free(results[i].boxes);
    free(results);
}

yl_status yl_predict_files(yl_model *model, const char *const *paths, int n, const yl_predict_options *options,
                           yl_prediction **results) {
    if (!results || (n > 0 && !paths) || n < 0) return yl_error(YL_ERR_INVALID_ARG, "predict: bad file list");
    *results = NULL;
    yl_predictor *p = NULL;
    YL_TRY(yl_predictor_create(&p, model, options));
    yl_prediction *all = calloc(n > 0 ? (size_t)n : 1, sizeof *all);
    yl_status st = all ? YL_OK : yl_error(YL_ERR_OOM, "predict: out of memory");
    for (int i = 0; st == YL_OK && i < n; i++) {
        yl_prediction one;
        st = yl_predictor_run_file(p, paths[i], &one, NULL);
        if (st != YL_OK) break;
        all[i] = one;
        all[i].boxes = malloc((size_t)(one.count > 0 ? one.count : 1) * sizeof *one.boxes);
        if (!all[i].boxes) {
            st = yl_error(YL_ERR_OOM, "predict: out of memory");
            break;
        }
        if (one.count > 0) memcpy(all[i].boxes, one.boxes, (size_t)one.count * sizeof *one.boxes);
    }
    yl_predictor_destroy(p);
    if (st != YL_OK) {
        yl_predictions_free(all, n);
        return st;
    }
    *results = all;
    return YL_OK;
}
