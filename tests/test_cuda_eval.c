// NMS and prediction <-> GT matching on the GPU (yl_nms_cuda, yl_match_predictions_cuda) against the
// CPU paths, which test_nms / test_ap check against Ultralytics. Everything must be identical: kept
// detections (boxes, scores, classes, anchors, order) and counts per image, bit for bit; true-positive
// masks per prediction. Cases: the eval_nms fixture, random batches (multi-label and best class,
// class-aware and agnostic, a class filter, max_nms truncation among many equal scores, max_det, nc 1,
// a strided input, no candidates), the eval_ap fixture's matching, matching after mapping to the
// original image, NMS -> matching -> yl_evaluator_add_matched against the CPU pipeline, and bad input.
// Without a GPU only the API checks that need none run, then the test reports SKIPPED.
#include <stdint.h>

#include "engine/eval/match.h"
#include "engine/eval/metrics.h"
#include "engine/eval/nms.h"
#include "tests/test_common.h"
#include "weights/safetensors.h"

static yl_backend *cuda_of(yl_engine *eng) { return yl_engine_backend(eng, YL_DEVICE_CUDA); }

static void *device_alloc(yl_engine *eng, size_t bytes) {
    void *p = NULL;
    if (cuda_of(eng)->alloc(cuda_of(eng), bytes, &p) != YL_OK) {
        fprintf(stderr, "test: device alloc: %s\n", yl_last_error());
        exit(2);
    }
    return p;
}

static void upload(yl_engine *eng, void *dst, const void *src, size_t bytes) {
    if (cuda_of(eng)->copy_from_host(cuda_of(eng), dst, src, bytes) != YL_OK) {
        fprintf(stderr, "test: upload: %s\n", yl_last_error());
        exit(2);
    }
}

static void download(yl_engine *eng, void *dst, const void *src, size_t bytes) {
    if (cuda_of(eng)->copy_to_host(cuda_of(eng), dst, src, bytes) != YL_OK) {
        fprintf(stderr, "test: download: %s\n", yl_last_error());
        exit(2);
    }
}

// ---- NMS ----------------------------------------------------------------------------------------

// Runs both paths on the same data (host_pred on the CPU, device_pred on the GPU, same shape and
// strides) and compares counts and every kept row, from the host and the device outputs.
static void compare_nms(yl_engine *eng, const char *label, const yl_tensor *host_pred, const yl_tensor *device_pred,
                        const yl_nms_options *o) {
    int64_t batch = host_pred->shape[0];
    size_t rows = (size_t)(batch * o->max_det);
    size_t ws_bytes = yl_nms_workspace_bytes(host_pred->shape[2], host_pred->shape[1] - 4, o);
    void *ws = malloc(ws_bytes ? ws_bytes : 1);
    yl_detection *want = calloc(rows, sizeof *want), *got = calloc(rows, sizeof *got),
                 *got_dev = calloc(rows, sizeof *got);
    int64_t *want_counts = calloc((size_t)batch, sizeof(int64_t)), *counts = calloc((size_t)batch, sizeof(int64_t));
    yl_detection *device_out = device_alloc(eng, rows * sizeof(yl_detection));
    CHECK_OK(yl_nms(host_pred, o, ws, ws_bytes, want, want_counts));
    CHECK_OK(yl_nms_cuda(cuda_of(eng), device_pred, o, device_out, got, counts));
    download(eng, got_dev, device_out, rows * sizeof(yl_detection));
    int64_t kept = 0, differ = 0;
    for (int64_t b = 0; b < batch; b++) {
        CHECK(counts[b] == want_counts[b], "%s image %lld: GPU kept %lld, CPU %lld", label, (long long)b,
              (long long)counts[b], (long long)want_counts[b]);
        int64_t n = counts[b] < want_counts[b] ? counts[b] : want_counts[b];
        for (int64_t i = 0; i < n; i++) {
            const yl_detection *g = &got[b * o->max_det + i], *w = &want[b * o->max_det + i];
            bool same = !memcmp(g, w, sizeof *g) && !memcmp(&got_dev[b * o->max_det + i], w, sizeof *g);
            if (!same && differ++ < 5)
                fprintf(stderr,
                        "  %s image %lld row %lld: GPU (%.9g %.9g %.9g %.9g %.9g c%d a%d) CPU (%.9g %.9g %.9g %.9g "
                        "%.9g c%d a%d)\n",
                        label, (long long)b, (long long)i, g->x1, g->y1, g->x2, g->y2, g->conf, g->cls, g->anchor,
                        w->x1, w->y1, w->x2, w->y2, w->conf, w->cls, w->anchor);
        }
        kept += want_counts[b];
    }
    CHECK(differ == 0, "%s: %lld rows differ", label, (long long)differ);
    printf("  nms %-34s images %lld, kept %lld: %lld rows differ (bit-exact)\n", label, (long long)batch,
           (long long)kept, (long long)differ);
    cuda_of(eng)->free(cuda_of(eng), device_out);
    free(ws), free(want), free(got), free(got_dev), free(want_counts), free(counts);
}

static void test_nms_fixture(yl_engine *eng) {
    yl_safetensors st;
    if (yl_safetensors_open(&st, YL_TEST_FIXTURES "/eval_nms.safetensors") != YL_OK) {
        CHECK(0, "fixture eval_nms: %s", yl_last_error());
        return;
    }
    char names[256];
    snprintf(names, sizeof names, "%s", yl_safetensors_metadata(&st, "nms.cases"));
    for (char *name = strtok(names, " "); name; name = strtok(NULL, " ")) {
        char key[96];
        snprintf(key, sizeof key, "%s.pred", name);
        const yl_safetensors_entry *e = yl_safetensors_find(&st, key);
        CHECK(e && e->ndim == 3, "%s present and 3-D", key);
        if (!e) continue;
        yl_tensor pred = yl_tensor_view((void *)yl_safetensors_data(&st, e), YL_F32, YL_DEVICE_CPU, 3, e->shape);
        yl_nms_options o = yl_nms_options_val();
        int32_t classes[16];
#define META(field) (snprintf(key, sizeof key, "%s.%s", name, field), yl_safetensors_metadata(&st, key))
        o.conf_thres = (float)strtod(META("conf"), NULL);
        o.iou_thres = strtod(META("iou"), NULL);
        o.multi_label = atoi(META("multi_label")) != 0;
        o.agnostic = atoi(META("agnostic")) != 0;
        o.max_det = atoi(META("max_det"));
        o.max_nms = atoll(META("max_nms"));
        const char *list = META("classes");
#undef META
        int n_classes = 0;
        for (char *end; *list && n_classes < 16; list = end) {
            long v = strtol(list, &end, 10);
            if (end == list) break;
            classes[n_classes++] = (int32_t)v;
        }
        o.classes = n_classes ? classes : NULL;
        o.n_classes = n_classes;
        yl_tensor device_pred = yl_test_to_device(eng, pred.data, 3, pred.shape);
        char label[96];
        snprintf(label, sizeof label, "fixture %s", name);
        compare_nms(eng, label, &pred, &device_pred, &o);
        yl_test_device_free(eng, &device_pred);
    }
    yl_safetensors_close(&st);
}

// (B, 4 + nc, A): boxes around a few centres per image so that many overlap; scores rounded to
// multiples of tie_step (when > 0) so that many are equal.
static float *random_pred(uint64_t seed, int64_t batch, int64_t nc, int64_t anchors, float tie_step) {
    yl_rng rng;
    yl_rng_seed(&rng, seed, 3);
    int64_t rows = 4 + nc;
    float *p = yl_test_alloc((size_t)(batch * rows * anchors));
    for (int64_t b = 0; b < batch; b++) {
        float centres[6][4];
        for (int k = 0; k < 6; k++) {
            centres[k][0] = 40 + 560 * yl_rng_uniform(&rng);
            centres[k][1] = 40 + 560 * yl_rng_uniform(&rng);
            centres[k][2] = 20 + 150 * yl_rng_uniform(&rng);
            centres[k][3] = 20 + 150 * yl_rng_uniform(&rng);
        }
        for (int64_t a = 0; a < anchors; a++) {
            const float *c = centres[yl_rng_below(&rng, 6)];
            float *col = p + b * rows * anchors + a;
            col[0] = c[0] + 12 * yl_rng_normal(&rng);
            col[anchors] = c[1] + 12 * yl_rng_normal(&rng);
            col[2 * anchors] = c[2] * (1.0f + 0.15f * yl_rng_normal(&rng));
            col[3 * anchors] = c[3] * (1.0f + 0.15f * yl_rng_normal(&rng));
            for (int64_t k = 0; k < nc; k++) {
                float u = yl_rng_uniform(&rng);
                u = u * u * u;  // mostly low scores, as a detector's
                if (tie_step > 0) u = floorf(u / tie_step) * tie_step;
                col[(4 + k) * anchors] = u;
            }
        }
    }
    return p;
}

static void test_nms_random(yl_engine *eng) {
    struct {
        const char *label;
        int64_t batch, nc, anchors;
        float tie_step;
        bool multi_label, agnostic;
        float conf;
        double iou;
        int max_det;
        int64_t max_nms;
        int n_classes;
        int32_t classes[2];
    } cases[] = {
        {"val, many equal scores", 3, 4, 1037, 1.0f / 32, true, false, 0.001f, 0.7, 300, 30000, 0, {0}},
        {"predict (best class)", 2, 5, 813, 0.0f, false, false, 0.25f, 0.7, 300, 30000, 0, {0}},
        {"agnostic, iou 0.5", 2, 3, 700, 1.0f / 64, true, true, 0.01f, 0.5, 300, 30000, 0, {0}},
        {"class filter, max_nms 64, max_det 10", 3, 4, 900, 1.0f / 16, true, false, 0.001f, 0.6, 10, 64, 2, {1, 3}},
        {"nc 1 (best class forced)", 2, 1, 555, 1.0f / 32, true, false, 0.001f, 0.7, 300, 30000, 0, {0}},
        {"no candidates", 2, 3, 300, 0.0f, true, false, 0.999f, 0.7, 300, 30000, 0, {0}},
        {"max_det 1, max_nms 1", 2, 2, 257, 1.0f / 8, true, false, 0.001f, 0.7, 1, 1, 0, {0}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int64_t shape[3] = {cases[i].batch, 4 + cases[i].nc, cases[i].anchors};
        float *data = random_pred(10 + i, shape[0], cases[i].nc, shape[2], cases[i].tie_step);
        yl_tensor pred = yl_tensor_view(data, YL_F32, YL_DEVICE_CPU, 3, shape);
        yl_tensor device_pred = yl_test_to_device(eng, data, 3, shape);
        yl_nms_options o = yl_nms_options_val();
        o.multi_label = cases[i].multi_label;
        o.agnostic = cases[i].agnostic;
        o.conf_thres = cases[i].conf;
        o.iou_thres = cases[i].iou;
        o.max_det = cases[i].max_det;
        o.max_nms = cases[i].max_nms;
        o.classes = cases[i].n_classes ? cases[i].classes : NULL;
        o.n_classes = cases[i].n_classes;
        compare_nms(eng, cases[i].label, &pred, &device_pred, &o);
        yl_test_device_free(eng, &device_pred);
        free(data);
    }

    // A strided view: the data laid out (B, A, 4 + nc), seen as (B, 4 + nc, A).
    int64_t B = 2, nc = 3, A = 611, rows = 4 + nc;
    float *dense = random_pred(99, B, nc, A, 1.0f / 32), *transposed = yl_test_alloc((size_t)(B * rows * A));
    for (int64_t b = 0; b < B; b++)
        for (int64_t r = 0; r < rows; r++)
            for (int64_t a = 0; a < A; a++) transposed[(b * A + a) * rows + r] = dense[(b * rows + r) * A + a];
    int64_t shape[3] = {B, rows, A};
    yl_tensor pred = yl_tensor_view(transposed, YL_F32, YL_DEVICE_CPU, 3, shape);
    pred.stride[0] = A * rows, pred.stride[1] = 1, pred.stride[2] = rows;
    int64_t flat = B * rows * A;
    yl_tensor device_flat = yl_test_to_device(eng, transposed, 1, &flat);
    yl_tensor device_pred = pred;
    device_pred.device = YL_DEVICE_CUDA;
    device_pred.data = device_flat.data;
    yl_nms_options o = yl_nms_options_val();
    compare_nms(eng, "strided input", &pred, &device_pred, &o);
    yl_test_device_free(eng, &device_flat);
    free(dense), free(transposed);
}

static void test_nms_errors(yl_engine *eng) {
    int64_t shape[3] = {2, 4 + 3, 40};
    float *data = random_pred(5, shape[0], 3, shape[2], 0.0f);
    yl_tensor pred = yl_tensor_view(data, YL_F32, YL_DEVICE_CPU, 3, shape);
    yl_nms_options o = yl_nms_options_val();
    size_t ws_bytes = yl_nms_workspace_bytes(shape[2], 3, &o);
    void *ws = malloc(ws_bytes);
    yl_detection out[600];
    int64_t counts[2];
    char cpu_message[512];

    // NaN score at image 1, anchor 5, class 2; then an infinite width at image 0, anchor 7 (a candidate).
    data[(1 * shape[1] + 4 + 2) * shape[2] + 5] = NAN;
    yl_tensor device_pred = yl_test_to_device(eng, data, 3, shape);
    CHECK_STATUS(yl_nms(&pred, &o, ws, ws_bytes, out, counts), YL_ERR_NUMERIC);
    snprintf(cpu_message, sizeof cpu_message, "%s", yl_last_error());
    CHECK_STATUS(yl_nms_cuda(cuda_of(eng), &device_pred, &o, NULL, out, counts), YL_ERR_NUMERIC);
    CHECK(!strcmp(cpu_message, yl_last_error()), "GPU '%s', CPU '%s'", yl_last_error(), cpu_message);
    printf("  NaN score (cuda) -> %s\n", yl_last_error());
    yl_test_device_free(eng, &device_pred);
    data[(1 * shape[1] + 4 + 2) * shape[2] + 5] = 0.5f;
    data[(0 * shape[1] + 2) * shape[2] + 7] = INFINITY;
    data[(0 * shape[1] + 4) * shape[2] + 7] = 0.9f;
    device_pred = yl_test_to_device(eng, data, 3, shape);
    CHECK_STATUS(yl_nms(&pred, &o, ws, ws_bytes, out, counts), YL_ERR_NUMERIC);
    snprintf(cpu_message, sizeof cpu_message, "%s", yl_last_error());
    CHECK_STATUS(yl_nms_cuda(cuda_of(eng), &device_pred, &o, NULL, out, counts), YL_ERR_NUMERIC);
    CHECK(!strcmp(cpu_message, yl_last_error()), "GPU '%s', CPU '%s'", yl_last_error(), cpu_message);
    printf("  infinite box (cuda) -> %s\n", yl_last_error());

    // Host tensor, NULL counts, a bad option, a max_nms beyond the scan's capacity.
    CHECK_STATUS(yl_nms_cuda(cuda_of(eng), &pred, &o, NULL, out, counts), YL_ERR_DEVICE);
    CHECK_STATUS(yl_nms_cuda(cuda_of(eng), &device_pred, &o, NULL, out, NULL), YL_ERR_INVALID_ARG);
    yl_nms_options bad = o;
    bad.iou_thres = 1.5;
    CHECK_STATUS(yl_nms_cuda(cuda_of(eng), &device_pred, &bad, NULL, out, counts), YL_ERR_INVALID_ARG);
    yl_test_device_free(eng, &device_pred);
    int64_t big_shape[3] = {1, 4 + 4, 100000};
    yl_tensor big = yl_test_to_device(eng, NULL, 3, big_shape);
    bad = o;
    bad.max_nms = 1000000;
    CHECK_STATUS(yl_nms_cuda(cuda_of(eng), &big, &bad, NULL, NULL, counts), YL_ERR_UNSUPPORTED);
    printf("  max_nms 1e6 (cuda) -> %s\n", yl_last_error());
    yl_test_device_free(eng, &big);
    free(ws);
    free(data);
}

// ---- matching -----------------------------------------------------------------------------------

// The CPU reference for one image: optional mapping, box_iou(GT, preds), yl_match_predictions.
static void cpu_match(const yl_detection *preds, int64_t np, const float *gt, const int32_t *gt_cls, int64_t ng,
                      const yl_match_image *im, yl_tp_mask *tp) {
    yl_detection *mapped = calloc((size_t)(np ? np : 1), sizeof *mapped);
    float *boxes = yl_test_alloc((size_t)(4 * np)), *iou = yl_test_alloc((size_t)(np * ng));
    int32_t *cls = calloc((size_t)(np ? np : 1), sizeof *cls),
            *scratch = calloc((size_t)(np + ng + 1), sizeof *scratch);
    memcpy(mapped, preds, (size_t)np * sizeof *mapped);
    if (im->h0 > 0) yl_scale_detections(mapped, np, &im->ratio_pad, im->h0, im->w0);
    for (int64_t d = 0; d < np; d++) {
        float b[4] = {mapped[d].x1, mapped[d].y1, mapped[d].x2, mapped[d].y2};
        memcpy(boxes + 4 * d, b, sizeof b);
        cls[d] = mapped[d].cls;
    }
    yl_box_iou_matrix(gt, ng, boxes, np, iou);
    yl_match_predictions(iou, gt_cls, ng, cls, np, scratch, tp);
    free(mapped), free(boxes), free(iou), free(cls), free(scratch);
}

static void test_match_fixture(yl_engine *eng) {
    yl_safetensors st;
    if (yl_safetensors_open(&st, YL_TEST_FIXTURES "/eval_ap.safetensors") != YL_OK) {
        CHECK(0, "fixture eval_ap: %s", yl_last_error());
        return;
    }
    const yl_safetensors_entry *e = yl_safetensors_find(&st, "image.gt_count");
    int64_t images = e ? (int64_t)(e->nbytes / 4) : 0;
    const int32_t *gt_count = yl_safetensors_data(&st, e);
    const int32_t *pred_count = yl_safetensors_data(&st, yl_safetensors_find(&st, "image.pred_count"));
    const float *gt_boxes = yl_safetensors_data(&st, yl_safetensors_find(&st, "gt.boxes"));
    const int32_t *gt_cls = yl_safetensors_data(&st, yl_safetensors_find(&st, "gt.cls"));
    const float *pred_boxes = yl_safetensors_data(&st, yl_safetensors_find(&st, "pred.boxes"));
    const float *pred_conf = yl_safetensors_data(&st, yl_safetensors_find(&st, "pred.conf"));
    const int32_t *pred_cls = yl_safetensors_data(&st, yl_safetensors_find(&st, "pred.cls"));
    const uint8_t *want_bits = yl_safetensors_data(&st, yl_safetensors_find(&st, "pred.tp"));
    int64_t stride = 1, n_gt = 0;
    for (int64_t i = 0; i < images; i++) stride = pred_count[i] > stride ? pred_count[i] : stride;
    yl_detection *dets = calloc((size_t)(images * stride), sizeof *dets);
    yl_match_image *im = calloc((size_t)images, sizeof *im);
    int64_t p0 = 0;
    for (int64_t i = 0; i < images; i++) {
        for (int d = 0; d < pred_count[i]; d++) {
            const float *b = pred_boxes + 4 * (p0 + d);
            dets[i * stride + d] = (yl_detection){b[0], b[1], b[2], b[3], pred_conf[p0 + d], pred_cls[p0 + d], -1};
        }
        im[i] = (yl_match_image){.n_pred = pred_count[i], .gt_begin = n_gt, .n_gt = gt_count[i]};
        p0 += pred_count[i], n_gt += gt_count[i];
    }
    yl_detection *device_dets = device_alloc(eng, (size_t)(images * stride) * sizeof *dets);
    upload(eng, device_dets, dets, (size_t)(images * stride) * sizeof *dets);
    yl_tp_mask *tp = calloc((size_t)(images * stride), sizeof *tp), want[256];
    CHECK_OK(yl_match_predictions_cuda(cuda_of(eng), device_dets, stride, im, images, gt_boxes, gt_cls, n_gt, tp));
    int64_t wrong_fixture = 0, wrong_cpu = 0;
    p0 = 0;
    for (int64_t i = 0; i < images; i++) {
        cpu_match(dets + i * stride, pred_count[i], gt_boxes + 4 * im[i].gt_begin, gt_cls + im[i].gt_begin, gt_count[i],
                  &im[i], want);
        for (int d = 0; d < pred_count[i]; d++) {
            yl_tp_mask fixture = 0;
            for (int t = 0; t < YL_EVAL_IOU_COUNT; t++)
                if (want_bits[(p0 + d) * YL_EVAL_IOU_COUNT + t]) fixture |= (yl_tp_mask)(1u << t);
            wrong_fixture += tp[i * stride + d] != fixture;
            wrong_cpu += tp[i * stride + d] != want[d];
        }
        p0 += pred_count[i];
    }
    CHECK(wrong_fixture == 0 && wrong_cpu == 0, "match: %lld masks differ from Ultralytics, %lld from the CPU",
          (long long)wrong_fixture, (long long)wrong_cpu);
    printf("  match fixture: %lld images, %lld predictions: %lld masks differ from Ultralytics, %lld from the CPU\n",
           (long long)images, (long long)p0, (long long)wrong_fixture, (long long)wrong_cpu);
    cuda_of(eng)->free(cuda_of(eng), device_dets);
    free(dets), free(im), free(tp);
    yl_safetensors_close(&st);
}

// Random images in a 640 x 640 letterboxed input; GT in the original image (for the mapped images) or
// in the input; predictions are jittered GT boxes (all IoU levels) plus strays; some images have no
// GT or no prediction.
static void test_match_random(yl_engine *eng) {
    enum { IMAGES = 7, STRIDE = 48, MAX_GT = 20 };
    yl_rng rng;
    yl_rng_seed(&rng, 2024, 5);
    yl_detection dets[IMAGES * STRIDE];
    memset(dets, 0, sizeof dets);
    yl_match_image im[IMAGES];
    float gt[IMAGES * MAX_GT * 4];
    int32_t gt_cls[IMAGES * MAX_GT];
    int64_t n_gt = 0;
    for (int i = 0; i < IMAGES; i++) {
        bool mapped = i % 2 == 1;
        int h0 = 480 + 37 * i, w0 = 600 - 23 * i;
        yl_ratio_pad rp = yl_ratio_pad_from_shapes(640, 640, h0, w0);
        int ng = i == 2 ? 0 : (int)yl_rng_below(&rng, MAX_GT + 1),
            np = i == 4 ? 0 : (int)yl_rng_below(&rng, STRIDE + 1);
        im[i] = (yl_match_image){
            .n_pred = np, .gt_begin = n_gt, .n_gt = ng, .ratio_pad = rp, .h0 = mapped ? h0 : 0, .w0 = mapped ? w0 : 0};
        float *g = gt + 4 * n_gt;
        for (int j = 0; j < ng; j++) {
            float x = 300 * yl_rng_uniform(&rng), y = 300 * yl_rng_uniform(&rng);
            g[4 * j] = x, g[4 * j + 1] = y;
            g[4 * j + 2] = x + 20 + 200 * yl_rng_uniform(&rng), g[4 * j + 3] = y + 20 + 200 * yl_rng_uniform(&rng);
            gt_cls[n_gt + j] = (int32_t)yl_rng_below(&rng, 3);
        }
        for (int d = 0; d < np; d++) {
            float b[4] = {500 * yl_rng_uniform(&rng), 500 * yl_rng_uniform(&rng), 0, 0};
            b[2] = b[0] + 10 + 150 * yl_rng_uniform(&rng), b[3] = b[1] + 10 + 150 * yl_rng_uniform(&rng);
            int32_t cls = (int32_t)yl_rng_below(&rng, 3);
            if (ng > 0 && d % 3 != 2) {  // a jittered copy of a GT, in the input's coordinates
                int j = (int)yl_rng_below(&rng, (uint32_t)ng);
                float jitter = d % 3 == 0 ? 2.0f : 25.0f;
                for (int k = 0; k < 4; k++) {
                    float v = g[4 * j + k];
                    if (mapped) v = v * (float)rp.gain + (float)(k % 2 ? rp.pad_y : rp.pad_x);
                    b[k] = v + jitter * yl_rng_normal(&rng);
                }
                cls = d % 5 == 4 ? (cls + 1) % 3 : gt_cls[n_gt + j];
            }
            dets[i * STRIDE + d] = (yl_detection){b[0], b[1], b[2], b[3], 1.0f - 0.01f * d, cls, d};
        }
        n_gt += ng;
    }
    yl_detection *device_dets = device_alloc(eng, sizeof dets);
    upload(eng, device_dets, dets, sizeof dets);
    yl_tp_mask tp[IMAGES * STRIDE], want[STRIDE];
    CHECK_OK(yl_match_predictions_cuda(cuda_of(eng), device_dets, STRIDE, im, IMAGES, gt, gt_cls, n_gt, tp));
    int64_t wrong = 0, total = 0, positives = 0;
    for (int i = 0; i < IMAGES; i++) {
        cpu_match(dets + i * STRIDE, im[i].n_pred, gt + 4 * im[i].gt_begin, gt_cls + im[i].gt_begin, im[i].n_gt, &im[i],
                  want);
        for (int d = 0; d < im[i].n_pred; d++) {
            wrong += tp[i * STRIDE + d] != want[d];
            positives += want[d] != 0;
        }
        total += im[i].n_pred;
    }
    CHECK(wrong == 0, "match random: %lld of %lld masks differ", (long long)wrong, (long long)total);
    CHECK(positives > 0, "match random: no true positive at all");
    printf("  match random (mapped and not): %lld predictions, %lld with a TP bit, %lld masks differ\n",
           (long long)total, (long long)positives, (long long)wrong);

    // Bad input: more predictions than the stride, overlapping GT ranges, NULL masks.
    yl_match_image bad[2] = {im[0], im[1]};
    bad[0].n_pred = STRIDE + 1;
    CHECK_STATUS(yl_match_predictions_cuda(cuda_of(eng), device_dets, STRIDE, bad, 2, gt, gt_cls, n_gt, tp),
                 YL_ERR_INVALID_ARG);
    bad[0] = im[0];
    bad[0].n_gt = 3, bad[1].gt_begin = 1, bad[1].n_gt = 2;
    CHECK_STATUS(yl_match_predictions_cuda(cuda_of(eng), device_dets, STRIDE, bad, 2, gt, gt_cls, 5, tp),
                 YL_ERR_INVALID_ARG);
    printf("  overlapping GT ranges -> %s\n", yl_last_error());
    CHECK_STATUS(yl_match_predictions_cuda(cuda_of(eng), device_dets, STRIDE, im, IMAGES, gt, gt_cls, n_gt, NULL),
                 YL_ERR_INVALID_ARG);
    cuda_of(eng)->free(cuda_of(eng), device_dets);
}

// NMS -> matching -> add_matched on the GPU path against NMS -> add_image on the CPU.
static void test_pipeline(yl_engine *eng) {
    const int64_t B = 4, nc = 3, A = 800;
    int64_t shape[3] = {B, 4 + nc, A};
    float *data = random_pred(77, B, nc, A, 1.0f / 64);
    yl_tensor pred = yl_tensor_view(data, YL_F32, YL_DEVICE_CPU, 3, shape);
    yl_tensor device_pred = yl_test_to_device(eng, data, 3, shape);
    yl_nms_options o = yl_nms_options_val();
    o.max_det = 100;
    // GT: the first detections' boxes of the CPU run, moved a little, plus a missed box.
    size_t ws_bytes = yl_nms_workspace_bytes(A, nc, &o);
    void *ws = malloc(ws_bytes);
    yl_detection *cpu = calloc((size_t)(B * o.max_det), sizeof *cpu),
                 *gpu_host = calloc((size_t)(B * o.max_det), sizeof *cpu);
    int64_t cpu_counts[4], counts[4];
    CHECK_OK(yl_nms(&pred, &o, ws, ws_bytes, cpu, cpu_counts));
    yl_detection *device_dets = device_alloc(eng, (size_t)(B * o.max_det) * sizeof(yl_detection));
    CHECK_OK(yl_nms_cuda(cuda_of(eng), &device_pred, &o, device_dets, NULL, counts));
    float gt[4 * 4 * 9];
    int32_t gt_cls[4 * 9];
    yl_match_image im[4];
    int64_t n_gt = 0;
    for (int64_t b = 0; b < B; b++) {
        int ng = b == 3 ? 0 : 9;
        im[b] = (yl_match_image){.n_pred = counts[b], .gt_begin = n_gt, .n_gt = ng};
        for (int j = 0; j < ng; j++) {
            const yl_detection *d = &cpu[b * o.max_det + (j * 3) % (cpu_counts[b] ? cpu_counts[b] : 1)];
            float shift = (float)j;
            float box[4] = {d->x1 + shift, d->y1 - shift, d->x2 + shift, d->y2};
            if (j == 8) box[0] = 1, box[1] = 1, box[2] = 30, box[3] = 30;
            memcpy(gt + 4 * (n_gt + j), box, sizeof box);
            gt_cls[n_gt + j] = j % 4 == 3 ? (d->cls + 1) % (int32_t)nc : d->cls;
        }
        n_gt += ng;
    }
    yl_tp_mask *tp = calloc((size_t)(B * o.max_det), sizeof *tp), cpu_tp[100];
    CHECK_OK(yl_match_predictions_cuda(cuda_of(eng), device_dets, o.max_det, im, B, gt, gt_cls, n_gt, tp));
    download(eng, gpu_host, device_dets, (size_t)(B * o.max_det) * sizeof(yl_detection));

    yl_evaluator_options eo = yl_evaluator_defaults((int)nc);
    yl_evaluator *ev_cpu, *ev_gpu;
    CHECK_OK(yl_evaluator_create(&ev_cpu, &eo));
    CHECK_OK(yl_evaluator_create(&ev_gpu, &eo));
    int64_t wrong = 0;
    for (int64_t b = 0; b < B; b++) {
        CHECK(counts[b] == cpu_counts[b], "pipeline image %lld: kept %lld vs %lld", (long long)b, (long long)counts[b],
              (long long)cpu_counts[b]);
        CHECK_OK(yl_evaluator_add_image(ev_cpu, cpu + b * o.max_det, cpu_counts[b], gt + 4 * im[b].gt_begin,
                                        gt_cls + im[b].gt_begin, im[b].n_gt, cpu_tp));
        float conf[100];
        int32_t cls[100];
        for (int64_t d = 0; d < counts[b]; d++) {
            conf[d] = gpu_host[b * o.max_det + d].conf;
            cls[d] = gpu_host[b * o.max_det + d].cls;
            wrong += d < cpu_counts[b] && tp[b * o.max_det + d] != cpu_tp[d];
        }
        CHECK_OK(yl_evaluator_add_matched(ev_gpu, tp + b * o.max_det, conf, cls, counts[b], gt_cls + im[b].gt_begin,
                                          im[b].n_gt));
    }
    const yl_eval_results *rc, *rg;
    CHECK_OK(yl_evaluator_compute(ev_cpu, &rc));
    double cpu_map50 = rc->map50, cpu_map = rc->map50_95, cpu_p = rc->precision, cpu_r = rc->recall;
    CHECK_OK(yl_evaluator_compute(ev_gpu, &rg));
    CHECK(wrong == 0, "pipeline: %lld masks differ", (long long)wrong);
    CHECK(rg->map50 == cpu_map50 && rg->map50_95 == cpu_map && rg->precision == cpu_p && rg->recall == cpu_r,
          "pipeline: GPU mAP50 %.9g mAP50-95 %.9g P %.9g R %.9g, CPU %.9g %.9g %.9g %.9g", rg->map50, rg->map50_95,
          rg->precision, rg->recall, cpu_map50, cpu_map, cpu_p, cpu_r);
    printf("  pipeline NMS -> match -> add_matched: mAP50 %.6f mAP50-95 %.6f (CPU %.6f %.6f), %lld masks differ\n",
           rg->map50, rg->map50_95, cpu_map50, cpu_map, (long long)wrong);
    yl_evaluator_destroy(ev_cpu);
    yl_evaluator_destroy(ev_gpu);
    cuda_of(eng)->free(cuda_of(eng), device_dets);
    yl_test_device_free(eng, &device_pred);
    free(ws), free(cpu), free(gpu_host), free(tp), free(data);
}

// Checks that need no GPU: NULLs and a backend that is not CUDA.
static void test_api_without_device(void) {
    yl_engine cpu_engine = yl_test_cpu_engine();
    yl_backend *cpu = yl_engine_backend(&cpu_engine, YL_DEVICE_CPU);
    int64_t shape[3] = {1, 6, 10};
    float data[60] = {0};
    yl_tensor pred = yl_tensor_view(data, YL_F32, YL_DEVICE_CPU, 3, shape);
    yl_nms_options o = yl_nms_options_val();
    int64_t counts[1];
    yl_detection out[300];
    CHECK_STATUS(yl_nms_cuda(NULL, &pred, &o, NULL, out, counts), YL_ERR_INVALID_ARG);
    CHECK_STATUS(yl_nms_cuda(cpu, &pred, &o, NULL, out, counts), YL_ERR_DEVICE);
    printf("  nms on the CPU backend -> %s\n", yl_last_error());
    yl_match_image im = {.n_pred = 0, .gt_begin = 0, .n_gt = 0};
    yl_tp_mask tp[1];
    CHECK_STATUS(yl_match_predictions_cuda(NULL, NULL, 1, &im, 1, NULL, NULL, 0, tp), YL_ERR_INVALID_ARG);
    CHECK_STATUS(yl_match_predictions_cuda(cpu, NULL, 1, &im, 1, NULL, NULL, 0, tp), YL_ERR_DEVICE);
    yl_engine_release(&cpu_engine);
}

int main(void) {
    test_api_without_device();
    yl_engine eng;
    if (!yl_test_cuda_engine(&eng)) return yl_test_failures ? 1 : YL_TEST_SKIPPED;
    test_nms_fixture(&eng);
    test_nms_random(&eng);
    test_nms_errors(&eng);
    test_match_fixture(&eng);
    test_match_random(&eng);
    test_pipeline(&eng);
    yl_engine_release(&eng);
    return yl_test_finish("test_cuda_eval");
}
