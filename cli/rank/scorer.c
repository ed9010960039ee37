#include "cli/rank/scorer.h"

#include <stdlib.h>
#include <string.h>

#include "engine/data/batch.h"
#include "engine/data/image_io.h"
#include "engine/data/letterbox.h"
#include "engine/eval/nms.h"

// A host copy of a device tensor (or the tensor itself on the CPU).
typedef struct {
    float *data;
    size_t capacity;
} host_buffer;

struct yl_scorer {
    yl_model *model;
    yl_scorer_options options;
    int nc;
    yl_nms_options nms;
    yl_batch batch;
    uint8_t *letterboxed, *flipped;
    float *device_images;
    void *nms_workspace;
    size_t nms_workspace_bytes;
    int64_t nms_anchors;
    yl_detection *dets, *flip_dets;
    host_buffer decoded, maps[YL_YOLOV8_LEVELS], feature;
};

yl_scorer_options yl_scorer_defaults(void) {
    yl_scorer_options o = {.imgsz = 640, .conf = 0.25f, .iou = 0.7, .max_det = 300, .aggregate = YL_UNC_AGG_MAX,
                           .feature_layer = YL_SCORER_SPPF_LAYER};
    return o;
}

void yl_scorer_destroy(yl_scorer *s) {
    if (!s) return;
    if (s->device_images) {
        yl_backend *be = yl_engine_backend(yl_model_engine(s->model), YL_DEVICE_CUDA);
        if (be) be->free(be, s->device_images);
    }
    yl_batch_free(&s->batch);
    free(s->letterboxed);
    free(s->flipped);
    free(s->nms_workspace);
    free(s->dets);
    free(s->flip_dets);
    free(s->decoded.data);
    for (int i = 0; i < YL_YOLOV8_LEVELS; i++) free(s->maps[i].data);
    free(s->feature.data);
    free(s);
}

yl_status yl_scorer_create(yl_scorer **out, yl_model *model, const yl_scorer_options *options) {
    if (!out || !model || !options) return yl_error(YL_ERR_INVALID_ARG, "scorer: NULL argument");
    *out = NULL;
    const yl_scorer_options *o = options;
    if (o->imgsz <= 0 || o->imgsz % 32 != 0)
        return yl_error(YL_ERR_INVALID_ARG, "scorer: imgsz=%d must be a positive multiple of 32", o->imgsz);
    if (!(o->conf >= 0.0f && o->conf <= 1.0f))
        return yl_error(YL_ERR_INVALID_ARG, "scorer: conf=%g must be in [0, 1]", (double)o->conf);
    if (!(o->iou >= 0.0 && o->iou <= 1.0)) return yl_error(YL_ERR_INVALID_ARG, "scorer: iou=%g must be in [0, 1]", o->iou);
    if (o->max_det < 1) return yl_error(YL_ERR_INVALID_ARG, "scorer: max_det=%d must be >= 1", o->max_det);
    if (o->features && (o->feature_layer < 0 || o->feature_layer >= YL_YOLOV8_DETECT_LAYER))
        return yl_error(YL_ERR_INVALID_ARG, "scorer: feature layer %d is not in 0..%d", o->feature_layer,
                        YL_YOLOV8_DETECT_LAYER - 1);
    yl_scorer *s = calloc(1, sizeof *s);
    if (!s) return yl_error(YL_ERR_OOM, "scorer: out of memory");
    s->model = model;
    s->options = *o;
    s->nc = yl_model_get_layout(model)->config.nc;
    s->nms = yl_nms_options_predict();
    s->nms.conf_thres = o->conf;
    s->nms.iou_thres = o->iou;
    s->nms.max_det = o->max_det;
    const size_t pixels = (size_t)o->imgsz * o->imgsz * 3;
    s->letterboxed = malloc(pixels);
    s->flipped = malloc(pixels);
    s->dets = malloc((size_t)o->max_det * sizeof *s->dets);
    s->flip_dets = malloc((size_t)o->max_det * sizeof *s->flip_dets);
    yl_status st = (s->letterboxed && s->flipped && s->dets && s->flip_dets) ? YL_OK
                                                                             : yl_error(YL_ERR_OOM, "scorer: out of memory");
    if (st == YL_OK) st = yl_model_plan(model, 1, o->imgsz, o->imgsz, false);
    if (st == YL_OK) st = yl_batch_init(&s->batch, 1, o->imgsz, o->imgsz);
    yl_engine *eng = yl_model_engine(model);
    if (st == YL_OK && eng->device == YL_DEVICE_CUDA) {
        yl_backend *be = yl_engine_backend(eng, YL_DEVICE_CUDA);
        st = be ? be->alloc(be, pixels * sizeof(float), (void **)&s->device_images)
                : yl_error(YL_ERR_DEVICE, "scorer: the model is on CUDA but the engine has no CUDA backend");
    }
    if (st != YL_OK) {
        yl_scorer_destroy(s);
        return st;
    }
    *out = s;
    return YL_OK;
}

// A CPU view of `t`: itself on the CPU, else a contiguous copy in `buf`.
static yl_status on_host(yl_scorer *s, const yl_tensor *t, host_buffer *buf, yl_tensor *host) {
    if (t->device == YL_DEVICE_CPU) {
        *host = *t;
        return YL_OK;
    }
    if (!yl_tensor_is_contiguous(t)) return yl_error(YL_ERR_SHAPE, "scorer: a device output is not contiguous");
    const size_t n = (size_t)yl_tensor_numel(t);
    if (n > buf->capacity) {
        float *grown = realloc(buf->data, n * sizeof *grown);
        if (!grown) return yl_error(YL_ERR_OOM, "scorer: out of memory for a host copy");
        buf->data = grown;
        buf->capacity = n;
    }
    yl_backend *be = yl_engine_backend(yl_model_engine(s->model), t->device);
    YL_TRY(be->copy_to_host(be, buf->data, t->data, n * sizeof(float)));
    *host = yl_tensor_view(buf->data, YL_F32, YL_DEVICE_CPU, t->ndim, t->shape);
    return YL_OK;
}

typedef struct {
    yl_tensor decoded;                     // (1, 4 + nc, A) on the host
    yl_tensor maps[YL_YOLOV8_LEVELS];      // (1, 64 + nc, h, w) on the host
    int64_t count;                         // detections in s->dets / s->flip_dets
} forward_result;

// Forward + NMS of one letterboxed image (pixels, w x h) into dets.
static yl_status forward(yl_scorer *s, const uint8_t *pixels, int width, int height, bool want_maps,
                         yl_detection *dets, forward_result *r) {
    YL_TRY(yl_batch_begin(&s->batch, height, width));
    const yl_sample sample = {.image = {width, height, (uint8_t *)pixels}, .original_width = width,
                              .original_height = height};
    const yl_batch_image meta = {.original_width = width, .original_height = height};
    YL_TRY(yl_batch_add(&s->batch, &sample, &meta));
    yl_tensor images = yl_batch_images_tensor(&s->batch);
    yl_engine *eng = yl_model_engine(s->model);
    if (eng->device == YL_DEVICE_CUDA) {
        yl_backend *be = yl_engine_backend(eng, YL_DEVICE_CUDA);
        YL_TRY(be->copy_from_host(be, s->device_images, images.data, yl_tensor_nbytes(&images)));
        images = yl_tensor_4d(s->device_images, YL_DEVICE_CUDA, 1, 3, height, width);
    }
    yl_tensor decoded, maps[YL_YOLOV8_LEVELS];
    YL_TRY(yl_model_forward_eval_decoded(s->model, &images, &decoded, maps));
    YL_TRY(on_host(s, &decoded, &s->decoded, &r->decoded));
    for (int l = 0; want_maps && l < YL_YOLOV8_LEVELS; l++) YL_TRY(on_host(s, &maps[l], &s->maps[l], &r->maps[l]));
    const int64_t anchors = r->decoded.shape[2];
    if (anchors > s->nms_anchors) {
        const size_t bytes = yl_nms_workspace_bytes(anchors, s->nc, &s->nms);
        void *ws = realloc(s->nms_workspace, bytes);
        if (!ws) return yl_error(YL_ERR_OOM, "scorer: out of memory for the NMS workspace");
        s->nms_workspace = ws;
        s->nms_workspace_bytes = bytes;
        s->nms_anchors = anchors;
    }
    return yl_nms(&r->decoded, &s->nms, s->nms_workspace, s->nms_workspace_bytes, dets, &r->count);
}

// The per-detection scores of the anchors NMS kept.
static yl_status score_detections(const yl_scorer *s, const forward_result *r, yl_unc_detection *out) {
    const yl_tensor *dec = &r->decoded;
    const float *base = dec->data;
    for (int64_t i = 0; i < r->count; i++) {
        int64_t a = s->dets[i].anchor, offset = 0;
        if (a < 0 || a >= dec->shape[2]) return yl_error(YL_ERR_INVALID_ARG, "scorer: detection without an anchor");
        const float *probs = base + 4 * dec->stride[1] + a * dec->stride[2];
        const float *dfl = NULL;
        int64_t dfl_stride = 0;
        for (int l = 0; l < YL_YOLOV8_LEVELS; l++) {
            const yl_tensor *m = &r->maps[l];
            const int64_t h = m->shape[2], w = m->shape[3];
            if (a < offset + h * w) {
                const int64_t pos = a - offset;
                dfl = (const float *)m->data + (pos / w) * m->stride[2] + (pos % w) * m->stride[3];
                dfl_stride = m->stride[1];
                break;
            }
            offset += h * w;
        }
        if (!dfl) return yl_error(YL_ERR_SHAPE, "scorer: anchor %lld lies outside the head maps", (long long)a);
        out[i] = yl_unc_score_detection(probs, dec->stride[1], s->nc, dfl, dfl_stride, YL_YOLOV8_REG_MAX);
    }
    return YL_OK;
}

// Global average pooling of the feature layer, L2-normalized, into out->features.
static yl_status pool_features(yl_scorer *s, yl_scored_image *out) {
    yl_tensor act, host;
    YL_TRY(yl_model_layer_output(s->model, s->options.feature_layer, &act));
    YL_TRY(on_host(s, &act, &s->feature, &host));
    const int c = (int)host.shape[1];
    const int64_t h = host.shape[2], w = host.shape[3];
    out->features = malloc((size_t)c * sizeof *out->features);
    if (!out->features) return yl_error(YL_ERR_OOM, "scorer: out of memory for features");
    out->feature_dim = c;
    const float *data = host.data;
    for (int k = 0; k < c; k++) {
        double sum = 0.0;
        for (int64_t y = 0; y < h; y++)
            for (int64_t x = 0; x < w; x++) sum += data[k * host.stride[1] + y * host.stride[2] + x * host.stride[3]];
        out->features[k] = (float)(sum / (double)(h * w));
    }
    yl_unc_l2_normalize(out->features, c);
    return YL_OK;
}

static void mirror_pixels(const uint8_t *src, uint8_t *dst, int width, int height) {
    for (int y = 0; y < height; y++)
        for (int x = 0; x < width; x++)
            memcpy(dst + ((size_t)y * width + x) * 3, src + ((size_t)y * width + (width - 1 - x)) * 3, 3);
}

static yl_status run(yl_scorer *s, const yl_image_u8 *image, yl_scored_image *out) {
    yl_letterbox_options lo = yl_letterbox_defaults(s->options.imgsz, s->options.imgsz);
    lo.auto_pad = true;
    yl_letterbox_info info;
    YL_TRY(yl_letterbox_plan(image->width, image->height, &lo, &info));
    yl_image_u8 boxed = {info.width, info.height, s->letterboxed};
    YL_TRY(yl_letterbox_apply(image, &info, lo.pad_value, &boxed));

    forward_result r = {0};
    YL_TRY(forward(s, s->letterboxed, info.width, info.height, true, s->dets, &r));
    yl_unc_detection *per = malloc((size_t)(r.count > 0 ? r.count : 1) * sizeof *per);
    if (!per) return yl_error(YL_ERR_OOM, "scorer: out of memory");
    yl_status st = score_detections(s, &r, per);
    const float best = yl_unc_max_score((const float *)r.decoded.data + 4 * r.decoded.stride[1], s->nc,
                                        r.decoded.shape[2], r.decoded.stride[1], r.decoded.stride[2]);
    const double near_miss = r.count > 0 ? 0.0 : yl_unc_near_miss(best, s->options.conf);
    if (st == YL_OK && s->options.features) st = pool_features(s, out);

    double flip = -1.0;
    if (st == YL_OK && s->options.flip) {
        // The flipped letterboxed input, not a re-letterboxed flipped original: unequal left and
        // right padding would shift the boxes by a pixel and read as inconsistency.
        mirror_pixels(s->letterboxed, s->flipped, info.width, info.height);
        forward_result fr = {0};
        st = forward(s, s->flipped, info.width, info.height, false, s->flip_dets, &fr);
        if (st == YL_OK) {
            yl_unc_mirror_detections(s->flip_dets, fr.count, (float)info.width);
            flip = yl_unc_flip_inconsistency(s->dets, r.count, s->flip_dets, fr.count);
        }
    }
    if (st == YL_OK) {
        yl_unc_image_aggregate(per, (int)r.count, s->options.aggregate, near_miss, flip, &out->unc);
        const yl_ratio_pad rp = yl_ratio_pad_from_shapes(info.height, info.width, image->height, image->width);
        yl_scale_detections(s->dets, r.count, &rp, image->height, image->width);
        out->boxes = malloc((size_t)(r.count > 0 ? r.count : 1) * sizeof *out->boxes);
        if (!out->boxes) st = yl_error(YL_ERR_OOM, "scorer: out of memory");
    }
    if (st == YL_OK) {
        if (r.count > 0) memcpy(out->boxes, s->dets, (size_t)r.count * sizeof *out->boxes);
        out->count = r.count;
        out->width = image->width;
        out->height = image->height;
    }
    free(per);
    return st;
}

yl_status yl_scorer_run_image(yl_scorer *s, const yl_image_u8 *image, yl_scored_image *out) {
    if (!s || !image || !image->pixels || !out) return yl_error(YL_ERR_INVALID_ARG, "scorer: NULL argument");
    memset(out, 0, sizeof *out);
    if (image->width < 1 || image->height < 1)
        return yl_error(YL_ERR_INVALID_ARG, "scorer: empty image %dx%d", image->width, image->height);
    yl_status st = run(s, image, out);
    if (st != YL_OK) yl_scored_image_free(out);
    return st;
}

yl_status yl_scorer_run_file(yl_scorer *s, const char *path, yl_scored_image *out) {
    if (!s || !path || !out) return yl_error(YL_ERR_INVALID_ARG, "scorer: NULL argument");
    memset(out, 0, sizeof *out);
    yl_image_u8 img = {0};
    YL_TRY(yl_image_read(path, &img));
    yl_status st = yl_scorer_run_image(s, &img, out);
    yl_image_u8_free(&img);
    return st == YL_OK ? YL_OK : yl_error_context(st, "%s", path);
}

void yl_scored_image_free(yl_scored_image *r) {
    if (!r) return;
    free(r->boxes);
    free(r->features);
    memset(r, 0, sizeof *r);
}
