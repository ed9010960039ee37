// NMS, box IoU and scale_boxes: parity with Ultralytics 8.3.166 (tests/fixtures/eval_nms.safetensors,
// written by tools/reference/make_eval_fixtures.py) — identical kept boxes, order, classes and
// anchors, bit-exact floats — plus hand-built cases and bad input.
#include <stdint.h>
#include <time.h>

#include "engine/eval/boxes.h"
#include "engine/eval/nms.h"
#include "test_common.h"
#include "weights/safetensors.h"

#define FIXTURE YL_TEST_FIXTURES "/eval_nms.safetensors"

static const void *tensor_data(const yl_safetensors *st, const char *name, yl_dtype dtype, int64_t *numel) {
    const yl_safetensors_entry *e = yl_safetensors_find(st, name);
    if (!e || e->dtype != dtype) {
        fprintf(stderr, "fixture: tensor %s missing or of another dtype\n", name);
        exit(2);
    }
    if (numel) *numel = (int64_t)(e->nbytes / yl_dtype_size(dtype));
    return yl_safetensors_data(st, e);
}

static const char *meta(const yl_safetensors *st, const char *key) {
    const char *v = yl_safetensors_metadata(st, key);
    if (!v) {
        fprintf(stderr, "fixture: metadata %s missing\n", key);
        exit(2);
    }
    return v;
}

// Runs yl_nms into freshly allocated buffers; returns the status.
static yl_status run_nms(const yl_tensor *pred, const yl_nms_options *o, yl_detection **dets, int64_t **counts) {
    size_t bytes = yl_nms_workspace_bytes(pred->shape[2], pred->shape[1] - 4, o);
    void *ws = malloc(bytes ? bytes : 1);
    *dets = calloc((size_t)(pred->shape[0] * o->max_det), sizeof(yl_detection));
    *counts = calloc((size_t)pred->shape[0], sizeof(int64_t));
    yl_status s = yl_nms(pred, o, ws, bytes, *dets, *counts);
    free(ws);
    return s;
}

static void test_fixture_nms(const yl_safetensors *st) {
    char names[256];
    snprintf(names, sizeof names, "%s", meta(st, "nms.cases"));
    for (char *name = strtok(names, " "); name; name = strtok(NULL, " ")) {
        char key[96];
        snprintf(key, sizeof key, "%s.pred", name);
        const yl_safetensors_entry *e = yl_safetensors_find(st, key);
        CHECK(e && e->ndim == 3, "%s present and 3-D", key);
        if (!e) continue;
        yl_tensor pred = yl_tensor_view((void *)yl_safetensors_data(st, e), YL_F32, YL_DEVICE_CPU, 3, e->shape);
        yl_nms_options o = yl_nms_options_val();
        int32_t classes[16];
#define META(field) (snprintf(key, sizeof key, "%s.%s", name, field), meta(st, key))
        o.conf_thres = (float)strtod(META("conf"), NULL);
        o.iou_thres = strtod(META("iou"), NULL);
        o.multi_label = atoi(META("multi_label")) != 0;
        o.agnostic = atoi(META("agnostic")) != 0;
        o.max_det = atoi(META("max_det"));
        o.max_nms = atoll(META("max_nms"));
        const char *list = META("classes");
        int n_classes = 0;
        for (char *end; *list && n_classes < 16; list = end) {
            long v = strtol(list, &end, 10);
            if (end == list) break;
            classes[n_classes++] = (int32_t)v;
        }
        o.classes = n_classes ? classes : NULL;
        o.n_classes = n_classes;
#undef META
        yl_detection *dets;
        int64_t *counts;
        CHECK_OK(run_nms(&pred, &o, &dets, &counts));

        snprintf(key, sizeof key, "%s.counts", name);
        int64_t batch;
        const int32_t *want_counts = tensor_data(st, key, YL_I32, &batch);
        snprintf(key, sizeof key, "%s.dets", name);
        const float *want = tensor_data(st, key, YL_F32, NULL);
        snprintf(key, sizeof key, "%s.anchor", name);
        const int32_t *want_anchor = tensor_data(st, key, YL_I32, NULL);
        CHECK(batch == pred.shape[0], "%s: batch %lld", name, (long long)batch);
        int64_t row = 0, mismatched = 0, total = 0;
        for (int64_t b = 0; b < batch; b++) {
            CHECK(counts[b] == want_counts[b], "%s image %lld: kept %lld, Ultralytics kept %d", name, (long long)b,
                  (long long)counts[b], want_counts[b]);
            int64_t n = counts[b] < want_counts[b] ? counts[b] : want_counts[b];
            for (int64_t i = 0; i < n; i++) {
                const yl_detection *d = &dets[b * o.max_det + i];
                const float *w = want + 6 * (row + i);
                float got[6] = {d->x1, d->y1, d->x2, d->y2, d->conf, (float)d->cls};
                bool same = memcmp(got, w, sizeof got) == 0 && d->anchor == want_anchor[row + i];
                if (!same && mismatched++ < 5)
                    fprintf(stderr, "  %s image %lld row %lld: got (%g %g %g %g %g %g a%d) want (%g %g %g %g %g %g a%d)\n",
                            name, (long long)b, (long long)i, got[0], got[1], got[2], got[3], got[4], got[5], d->anchor,
                            w[0], w[1], w[2], w[3], w[4], w[5], want_anchor[row + i]);
            }
            total += want_counts[b];
            row += want_counts[b];
        }
        CHECK(mismatched == 0, "%s: %lld of %lld rows differ from Ultralytics", name, (long long)mismatched,
              (long long)total);
        printf("  nms %-16s images %lld, kept %lld rows: %lld differ (bit-exact compare)\n", name, (long long)batch,
               (long long)total, (long long)mismatched);
        free(dets);
        free(counts);
    }
}

static void test_fixture_iou(const yl_safetensors *st) {
    int64_t na, nb, nout;
    const float *a = tensor_data(st, "iou.a", YL_F32, &na);
    const float *b = tensor_data(st, "iou.b", YL_F32, &nb);
    const float *want = tensor_data(st, "iou.out", YL_F32, &nout);
    na /= 4, nb /= 4;
    CHECK(nout == na * nb, "iou.out size");
    float *got = yl_test_alloc((size_t)nout);
    yl_box_iou_matrix(a, na, b, nb, got);
    CHECK(memcmp(got, want, (size_t)nout * sizeof(float)) == 0, "box_iou differs from Ultralytics: max diff %g",
          yl_test_max_abs_diff(got, want, (size_t)nout));
    printf("  box_iou %lldx%lld: max |diff| %g\n", (long long)na, (long long)nb,
           yl_test_max_abs_diff(got, want, (size_t)nout));
    free(got);
}

static void test_fixture_scale(const yl_safetensors *st) {
    int count = atoi(meta(st, "scale.count"));
    CHECK(count >= 3, "scale cases: %d", count);
    for (int k = 0; k < count; k++) {
        char key[64];
        int h1, w1, h0, w0;
        snprintf(key, sizeof key, "scale%d.img1", k);
        sscanf(meta(st, key), "%d %d", &h1, &w1);
        snprintf(key, sizeof key, "scale%d.img0", k);
        sscanf(meta(st, key), "%d %d", &h0, &w0);
        snprintf(key, sizeof key, "scale%d.ratio_pad", k);
        const char *rp_text = meta(st, key);
        yl_ratio_pad rp;
        if (!strcmp(rp_text, "none"))
            rp = yl_ratio_pad_from_shapes(h1, w1, h0, w0);
        else
            sscanf(rp_text, "%lf %lf %lf", &rp.gain, &rp.pad_x, &rp.pad_y);
        int64_t n;
        snprintf(key, sizeof key, "scale%d.in", k);
        const float *in = tensor_data(st, key, YL_F32, &n);
        snprintf(key, sizeof key, "scale%d.out", k);
        const float *want = tensor_data(st, key, YL_F32, NULL);
        float *boxes = yl_test_alloc((size_t)n);
        memcpy(boxes, in, (size_t)n * sizeof(float));
        yl_scale_boxes(boxes, n / 4, &rp, h0, w0);
        double diff = yl_test_max_abs_diff(boxes, want, (size_t)n);
        CHECK(memcmp(boxes, want, (size_t)n * sizeof(float)) == 0, "scale case %d (%s): max diff %g", k, rp_text, diff);
        // The detection variant agrees with the array variant.
        yl_detection d = {.x1 = in[0], .y1 = in[1], .x2 = in[2], .y2 = in[3], .conf = 0.5f, .cls = 1, .anchor = 7};
        yl_scale_detections(&d, 1, &rp, h0, w0);
        CHECK(d.x1 == want[0] && d.y1 == want[1] && d.x2 == want[2] && d.y2 == want[3] && d.cls == 1 && d.anchor == 7,
              "scale_detections case %d", k);
        printf("  scale_boxes case %d (%dx%d -> %dx%d, ratio_pad %s): max |diff| %g\n", k, h1, w1, h0, w0, rp_text, diff);
        free(boxes);
    }
}

static void test_fixture_labels(const yl_safetensors *st) {
    int h1, w1, h0, w0;
    yl_ratio_pad rp;
    sscanf(meta(st, "labels.img1"), "%d %d", &h1, &w1);
    sscanf(meta(st, "labels.img0"), "%d %d", &h0, &w0);
    sscanf(meta(st, "labels.ratio_pad"), "%lf %lf %lf", &rp.gain, &rp.pad_x, &rp.pad_y);
    int64_t n;
    const float *in = tensor_data(st, "labels.xywhn", YL_F32, &n);
    const float *want = tensor_data(st, "labels.out", YL_F32, NULL);
    float *got = yl_test_alloc((size_t)n);
    yl_labels_to_original(in, n / 4, h1, w1, &rp, h0, w0, got);
    double diff = yl_test_max_abs_diff(got, want, (size_t)n);
    CHECK(memcmp(got, want, (size_t)n * sizeof(float)) == 0, "GT labels to original: max diff %g", diff);
    printf("  GT labels (xywhn on %dx%d) -> original %dx%d: max |diff| %g\n", h1, w1, h0, w0, diff);
    free(got);
}

// ---- hand-built cases ------------------------------------------------------------------------

typedef struct {
    float cx, cy, w, h;
    float scores[4];
} anchor_row;

// Packs anchors into a (1, 4 + nc, A) buffer.
static float *pack(const anchor_row *rows, int anchors, int nc) {
    float *p = yl_test_alloc((size_t)(4 + nc) * (size_t)anchors);
    for (int a = 0; a < anchors; a++) {
        p[0 * anchors + a] = rows[a].cx;
        p[1 * anchors + a] = rows[a].cy;
        p[2 * anchors + a] = rows[a].w;
        p[3 * anchors + a] = rows[a].h;
        for (int c = 0; c < nc; c++) p[(4 + c) * anchors + a] = rows[a].scores[c];
    }
    return p;
}

static void test_hand_cases(void) {
    // Two heavily overlapping boxes of class 0, one of class 1 on top of them, one far away.
    anchor_row rows[4] = {
        {100, 100, 50, 50, {0.9f, 0.1f}},
        {102, 101, 50, 50, {0.8f, 0.05f}},  // IoU ~0.9 with anchor 0
        {101, 100, 50, 50, {0.2f, 0.7f}},
        {400, 300, 40, 40, {0.6f, 0.3f}},
    };
    float *p = pack(rows, 4, 2);
    yl_tensor pred = yl_tensor_3d(p, YL_DEVICE_CPU, 1, 6, 4);
    yl_detection *d;
    int64_t *n;
    yl_nms_options o = yl_nms_options_predict();
    CHECK_OK(run_nms(&pred, &o, &d, &n));
    CHECK(n[0] == 3, "class-aware, best class: kept %lld, want 3", (long long)n[0]);
    CHECK(n[0] >= 3 && d[0].anchor == 0 && d[1].anchor == 2 && d[2].anchor == 3, "order by score: anchors 0, 2, 3");
    CHECK(d[0].x1 == 75.0f && d[0].y1 == 75.0f && d[0].x2 == 125.0f && d[0].y2 == 125.0f && d[0].cls == 0 &&
              d[0].conf == 0.9f,
          "first row (75 75 125 125 0.9 0) got (%g %g %g %g %g %d)", d[0].x1, d[0].y1, d[0].x2, d[0].y2, d[0].conf,
          d[0].cls);
    free(d), free(n);

    o.agnostic = true;
    CHECK_OK(run_nms(&pred, &o, &d, &n));
    CHECK(n[0] == 2 && d[0].anchor == 0 && d[1].anchor == 3, "agnostic: kept %lld, want anchors 0 and 3", (long long)n[0]);
    free(d), free(n);

    // multi_label: anchor 0 and 2 also emit their second class when above conf.
    o = yl_nms_options_val();
    o.conf_thres = 0.08f;
    CHECK_OK(run_nms(&pred, &o, &d, &n));
    // pairs above 0.08: a0c0 .9, a0c1 .1, a1c0 .8, a2c0 .2, a2c1 .7, a3c0 .6, a3c1 .3 -> class 0: a0 suppresses
    // a1 and a2; class 1: a2 .7 suppresses a0c1; a3 stays in both classes.
    CHECK(n[0] == 4, "multi_label kept %lld, want 4", (long long)n[0]);
    if (n[0] == 4) {
        CHECK(d[0].anchor == 0 && d[0].cls == 0 && d[1].anchor == 2 && d[1].cls == 1 && d[2].anchor == 3 &&
                  d[2].cls == 0 && d[3].anchor == 3 && d[3].cls == 1,
              "multi_label rows (a0 c0, a2 c1, a3 c0, a3 c1)");
    }
    free(d), free(n);

    // conf is strict: a score equal to conf_thres is dropped; max_det truncates after NMS.
    o = yl_nms_options_predict();
    o.conf_thres = 0.6f;
    CHECK_OK(run_nms(&pred, &o, &d, &n));
    CHECK(n[0] == 2, "score == conf is dropped: kept %lld, want 2", (long long)n[0]);
    free(d), free(n);
    o.conf_thres = 0.25f;
    o.max_det = 1;
    CHECK_OK(run_nms(&pred, &o, &d, &n));
    CHECK(n[0] == 1 && d[0].anchor == 0, "max_det 1 keeps the best");
    free(d), free(n);
    free(p);

    // IoU exactly at the threshold is kept (suppression needs IoU > iou_thres): boxes [0,0,2,1] and
    // [1,0,3,1] have IoU 1/3; the threshold 1/3 rounded to float32 then widened is above the float IoU.
    anchor_row edge[3] = {{1, 0.5f, 2, 1, {0.9f}}, {2, 0.5f, 2, 1, {0.8f}}, {1, 0.5f, 2, 1, {0.8f}}};
    p = pack(edge, 3, 1);
    pred = yl_tensor_3d(p, YL_DEVICE_CPU, 1, 5, 3);
    o = yl_nms_options_predict();
    o.iou_thres = 0.5;  // IoU 1/3 < 0.5: both kept; the exact duplicate (IoU 1) is suppressed
    CHECK_OK(run_nms(&pred, &o, &d, &n));
    CHECK(n[0] == 2 && d[0].anchor == 0 && d[1].anchor == 1, "IoU 1/3 kept, duplicate suppressed: %lld", (long long)n[0]);
    free(d), free(n);
    o.iou_thres = 0.3;
    CHECK_OK(run_nms(&pred, &o, &d, &n));
    CHECK(n[0] == 1, "IoU 1/3 > 0.3 suppressed: %lld", (long long)n[0]);
    free(d), free(n);
    o.iou_thres = 1.0;
    CHECK_OK(run_nms(&pred, &o, &d, &n));
    CHECK(n[0] == 3, "iou_thres 1: nothing suppressed (IoU 1 is not > 1): %lld", (long long)n[0]);
    free(d), free(n);
    free(p);

    // Equal scores: candidate order decides (the lower anchor wins).
    anchor_row tie[3] = {{50, 50, 20, 20, {0.5f}}, {51, 50, 20, 20, {0.5f}}, {10, 10, 4, 4, {0.5f}}};
    p = pack(tie, 3, 1);
    pred = yl_tensor_3d(p, YL_DEVICE_CPU, 1, 5, 3);
    o = yl_nms_options_predict();
    CHECK_OK(run_nms(&pred, &o, &d, &n));
    CHECK(n[0] == 2 && d[0].anchor == 0 && d[1].anchor == 2, "ties: anchors 0 then 2 (got %lld rows)", (long long)n[0]);
    free(d), free(n);
    // max_nms keeps the best scores before NMS.
    anchor_row top[3] = {{50, 50, 20, 20, {0.3f}}, {200, 50, 20, 20, {0.9f}}, {300, 10, 4, 4, {0.6f}}};
    free(p);
    p = pack(top, 3, 1);
    pred = yl_tensor_3d(p, YL_DEVICE_CPU, 1, 5, 3);
    o.max_nms = 2;
    CHECK_OK(run_nms(&pred, &o, &d, &n));
    CHECK(n[0] == 2 && d[0].anchor == 1 && d[1].anchor == 2, "max_nms 2 keeps anchors 1, 2");
    free(d), free(n);
    free(p);
}

// A batch of 3 through a strided view (padding between rows) gives the per-image results of
// contiguous single-image calls; an image with no candidate gives 0 rows.
static void test_strided_batch(void) {
    yl_rng rng;
    yl_rng_seed(&rng, 7, 1);
    const int64_t batch = 3, nc = 3, anchors = 37, pad = 5;
    const int64_t rows = 4 + nc;
    float *buf = yl_test_alloc((size_t)(batch * rows * (anchors + pad)));
    for (int64_t b = 0; b < batch; b++)
        for (int64_t a = 0; a < anchors; a++) {
            float *col = buf + b * rows * (anchors + pad) + a;
            col[0] = 20.0f + 60.0f * yl_rng_uniform(&rng);
            col[anchors + pad] = 20.0f + 60.0f * yl_rng_uniform(&rng);
            col[2 * (anchors + pad)] = 5.0f + 30.0f * yl_rng_uniform(&rng);
            col[3 * (anchors + pad)] = 5.0f + 30.0f * yl_rng_uniform(&rng);
            for (int64_t c = 0; c < nc; c++)
                col[(4 + c) * (anchors + pad)] = b == 1 ? 0.001f * yl_rng_uniform(&rng) : yl_rng_uniform(&rng);
        }
    int64_t shape[3] = {batch, rows, anchors};
    yl_tensor pred = yl_tensor_view(buf, YL_F32, YL_DEVICE_CPU, 3, shape);
    pred.stride[1] = anchors + pad;
    pred.stride[0] = rows * (anchors + pad);
    yl_nms_options o = yl_nms_options_val();
    o.conf_thres = 0.05f;
    yl_detection *d;
    int64_t *n;
    CHECK_OK(run_nms(&pred, &o, &d, &n));
    CHECK(n[1] == 0, "image without candidates: %lld rows", (long long)n[1]);
    for (int64_t b = 0; b < batch; b++) {
        float *one = yl_test_alloc((size_t)(rows * anchors));
        for (int64_t r = 0; r < rows; r++)
            memcpy(one + r * anchors, buf + b * rows * (anchors + pad) + r * (anchors + pad), (size_t)anchors * 4);
        yl_tensor single = yl_tensor_3d(one, YL_DEVICE_CPU, 1, rows, anchors);
        yl_detection *d1;
        int64_t *n1;
        CHECK_OK(run_nms(&single, &o, &d1, &n1));
        CHECK(n1[0] == n[b] && memcmp(d1, d + b * o.max_det, (size_t)n1[0] * sizeof *d1) == 0,
              "image %lld: strided batch equals the single-image call", (long long)b);
        if (b != 1) CHECK(n1[0] > 1, "image %lld keeps several boxes", (long long)b);
        free(d1), free(n1), free(one);
    }
    free(d), free(n), free(buf);
}

// A full-size yolov8 head output (8400 anchors, 80 classes) at validation settings: more than
// max_nms candidates, so the top-30000 cut and the max_det cap both apply. Checks the output's
// invariants and prints the time.
static void test_full_size(void) {
    const int64_t nc = 80, anchors = 8400;
    yl_rng rng;
    yl_rng_seed(&rng, 11, 2);
    float *p = yl_test_alloc((size_t)((4 + nc) * anchors));
    for (int64_t a = 0; a < anchors; a++) {
        p[a] = 640.0f * yl_rng_uniform(&rng);
        p[anchors + a] = 640.0f * yl_rng_uniform(&rng);
        p[2 * anchors + a] = 8.0f + 100.0f * yl_rng_uniform(&rng);
        p[3 * anchors + a] = 8.0f + 100.0f * yl_rng_uniform(&rng);
    }
    for (int64_t i = 4 * anchors; i < (4 + nc) * anchors; i++) p[i] = 0.2f * yl_rng_uniform(&rng);
    yl_tensor pred = yl_tensor_3d(p, YL_DEVICE_CPU, 1, 4 + nc, anchors);
    yl_nms_options o = yl_nms_options_val();
    yl_detection *d;
    int64_t *n;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    CHECK_OK(run_nms(&pred, &o, &d, &n));
    clock_gettime(CLOCK_MONOTONIC, &t1);
    CHECK(n[0] == 300, "full size: kept %lld, want max_det 300", (long long)n[0]);
    bool sorted = true;
    float floor = 1.0f;
    for (int64_t i = 0; i < n[0]; i++) {
        sorted &= i == 0 || d[i].conf <= d[i - 1].conf;
        if (d[i].conf < floor) floor = d[i].conf;
    }
    // Only the 30000 best of ~670000 candidates enter NMS: every kept score is >= the 30000th best.
    int64_t above = 0;
    for (int64_t i = 4 * anchors; i < (4 + nc) * anchors; i++) above += p[i] >= floor;
    CHECK(sorted && above <= 30000, "full size: descending scores, all from the top 30000 (%lld >= lowest kept)",
          (long long)above);
    printf("  nms full size (1, 84, 8400), conf 0.001, multi_label: %.1f ms\n",
           (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-6);
    free(d), free(n), free(p);
}

// max_nms with many equal scores: the result equals NMS over exactly the max_nms best candidates
// (descending score, ties by anchor) picked by hand and fed in as their own tensor.
static int by_score_then_anchor(const void *pa, const void *pb) {
    const float *a = pa, *b = pb;  // (score, anchor)
    if (a[0] != b[0]) return a[0] > b[0] ? -1 : 1;
    return (a[1] > b[1]) - (a[1] < b[1]);
}

static void test_max_nms_ties(void) {
    const int64_t anchors = 401, keep = 57;
    yl_rng rng;
    yl_rng_seed(&rng, 5, 3);
    float *p = yl_test_alloc((size_t)(5 * anchors)), (*ranked)[2] = malloc(sizeof(float[2]) * (size_t)anchors);
    for (int64_t a = 0; a < anchors; a++) {
        p[a] = 300.0f * yl_rng_uniform(&rng);
        p[anchors + a] = 300.0f * yl_rng_uniform(&rng);
        p[2 * anchors + a] = p[3 * anchors + a] = 30.0f;
        p[4 * anchors + a] = 0.3f + (float)yl_rng_below(&rng, 6) * 0.1f;  // six score levels: many ties
        ranked[a][0] = p[4 * anchors + a];
        ranked[a][1] = (float)a;
    }
    qsort(ranked, (size_t)anchors, sizeof ranked[0], by_score_then_anchor);
    // The chosen anchors, in ascending anchor order, as a tensor of their own.
    float *q = yl_test_alloc((size_t)(5 * keep));
    int32_t map[57];
    unsigned char *chosen = calloc((size_t)anchors, 1);
    for (int64_t i = 0; i < keep; i++) chosen[(int64_t)ranked[i][1]] = 1;
    int64_t m = 0;
    for (int64_t a = 0; a < anchors; a++) {
        if (!chosen[a]) continue;
        for (int r = 0; r < 5; r++) q[r * keep + m] = p[r * anchors + a];
        map[m++] = (int32_t)a;
    }
    yl_tensor full = yl_tensor_3d(p, YL_DEVICE_CPU, 1, 5, anchors), part = yl_tensor_3d(q, YL_DEVICE_CPU, 1, 5, keep);
    yl_nms_options o = yl_nms_options_predict();
    o.iou_thres = 0.3;
    yl_detection *d1, *d2;
    int64_t *n1, *n2;
    o.max_nms = keep;
    CHECK_OK(run_nms(&full, &o, &d1, &n1));
    o.max_nms = 30000;
    CHECK_OK(run_nms(&part, &o, &d2, &n2));
    bool same = n1[0] == n2[0] && n1[0] > 10;
    for (int64_t i = 0; same && i < n1[0]; i++) same = d1[i].anchor == map[d2[i].anchor] && d1[i].conf == d2[i].conf;
    CHECK(same, "max_nms %lld with ties: %lld rows vs %lld from the hand-picked best", (long long)keep, (long long)n1[0],
          (long long)n2[0]);
    free(d1), free(d2), free(n1), free(n2), free(p), free(q), free(ranked), free(chosen);
}

static void test_bad_input(void) {
    anchor_row rows[2] = {{10, 10, 4, 4, {0.9f, 0.1f}}, {30, 30, 4, 4, {0.2f, 0.8f}}};
    float *p = pack(rows, 2, 2);
    yl_tensor pred = yl_tensor_3d(p, YL_DEVICE_CPU, 1, 6, 2);
    yl_nms_options o = yl_nms_options_val();
    size_t bytes = yl_nms_workspace_bytes(2, 2, &o);
    void *ws = malloc(bytes);
    yl_detection out[600];
    int64_t counts[2];
    CHECK_STATUS(yl_nms(NULL, &o, ws, bytes, out, counts), YL_ERR_INVALID_ARG);
    CHECK_STATUS(yl_nms(&pred, NULL, ws, bytes, out, counts), YL_ERR_INVALID_ARG);
    CHECK_STATUS(yl_nms(&pred, &o, ws, bytes, NULL, counts), YL_ERR_INVALID_ARG);
    CHECK_STATUS(yl_nms(&pred, &o, NULL, bytes, out, counts), YL_ERR_INVALID_ARG);
    CHECK_STATUS(yl_nms(&pred, &o, ws, bytes - 1, out, counts), YL_ERR_INVALID_ARG);
    yl_tensor bad = pred;
    bad.dtype = YL_F16;
    CHECK_STATUS(yl_nms(&bad, &o, ws, bytes, out, counts), YL_ERR_DTYPE);
    bad = pred;
    bad.device = YL_DEVICE_CUDA;
    CHECK_STATUS(yl_nms(&bad, &o, ws, bytes, out, counts), YL_ERR_DEVICE);
    bad = yl_tensor_3d(p, YL_DEVICE_CPU, 1, 4, 3);  // nc = 0
    CHECK_STATUS(yl_nms(&bad, &o, ws, bytes, out, counts), YL_ERR_SHAPE);
    bad = yl_tensor_view(p, YL_F32, YL_DEVICE_CPU, 2, (int64_t[]){6, 2});
    CHECK_STATUS(yl_nms(&bad, &o, ws, bytes, out, counts), YL_ERR_SHAPE);
    yl_nms_options b = o;
    b.conf_thres = 1.5f;
    CHECK_STATUS(yl_nms(&pred, &b, ws, bytes, out, counts), YL_ERR_INVALID_ARG);
    b = o;
    b.iou_thres = -0.1;
    CHECK_STATUS(yl_nms(&pred, &b, ws, bytes, out, counts), YL_ERR_INVALID_ARG);
    b = o;
    b.max_det = 0;
    CHECK_STATUS(yl_nms(&pred, &b, ws, bytes, out, counts), YL_ERR_INVALID_ARG);
    b = o;
    b.max_nms = 0;
    CHECK_STATUS(yl_nms(&pred, &b, ws, bytes, out, counts), YL_ERR_INVALID_ARG);
    b = o;
    b.n_classes = 2;
    CHECK_STATUS(yl_nms(&pred, &b, ws, bytes, out, counts), YL_ERR_INVALID_ARG);

    p[4 * 2 + 1] = NAN;  // class 0 score of anchor 1
    CHECK_STATUS(yl_nms(&pred, &o, ws, bytes, out, counts), YL_ERR_NUMERIC);
    CHECK(strstr(yl_last_error(), "anchor 1") && strstr(yl_last_error(), "NaN"), "NaN message: %s", yl_last_error());
    p[4 * 2 + 1] = 0.2f;
    p[2 * 2 + 0] = INFINITY;  // width of a candidate anchor
    CHECK_STATUS(yl_nms(&pred, &o, ws, bytes, out, counts), YL_ERR_NUMERIC);
    p[2 * 2 + 0] = 4.0f;
    CHECK_OK(yl_nms(&pred, &o, ws, bytes, out, counts));
    CHECK(counts[0] == 4, "multi_label on the repaired input: %lld rows", (long long)counts[0]);

    // Zero anchors: no rows, no error.
    yl_tensor empty = yl_tensor_3d(p, YL_DEVICE_CPU, 2, 6, 0);
    CHECK_OK(yl_nms(&empty, &o, ws, bytes, out, counts));
    CHECK(counts[0] == 0 && counts[1] == 0, "zero anchors give zero rows");
    free(ws);
    free(p);
}

int main(void) {
    yl_safetensors st;
    if (yl_safetensors_open(&st, FIXTURE) != YL_OK) {
        fprintf(stderr, "cannot open %s: %s\n", FIXTURE, yl_last_error());
        return 1;
    }
    printf("fixture from Ultralytics %s, torch %s\n", meta(&st, "ultralytics"), meta(&st, "torch"));
    test_fixture_nms(&st);
    test_fixture_iou(&st);
    test_fixture_scale(&st);
    test_fixture_labels(&st);
    yl_safetensors_close(&st);
    test_hand_cases();
    test_strided_batch();
    test_full_size();
    test_max_nms_ties();
    test_bad_input();
    return yl_test_finish("test_nms");
}
