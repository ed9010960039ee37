// Loss and evaluation benchmark: the detection loss (forward, forward + backward), NMS on one
// image's eval output, and AP over a validation-sized set, timed on the yoloop side.
// bench/ultralytics_loss_eval.py times Ultralytics 8.3.166 on exactly the same inputs, which this
// program writes to a safetensors file (out=...), together with its own timings and results so
// the Python side can print the ratios and check that both sides computed the same numbers.
// bench/run_loss_eval.sh runs the two.
//
//   bench_loss_eval [threads=0] [reps=5] [warmup=1] [batch=16] [imgsz=640] [nc=80] [gt=8]
//                   [images=5000] [preds=20] [seed=1] [filter=<substring>] [out=<file.safetensors>]
//
// Method: `warmup` untimed calls, then the median of `reps` calls, each timed alone with
// CLOCK_MONOTONIC.
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/core/rng.h"
#include "engine/core/status.h"
#include "engine/core/tensor.h"
#include "engine/core/threads.h"
#include "engine/eval/metrics.h"
#include "engine/eval/nms.h"
#include "engine/loss/detection_loss.h"

#define MAX_REPS 1000
#define MAX_CASES 16
#define MAX_TENSORS 24
#define MAX_META 96

// ---- options --------------------------------------------------------------------------------

typedef struct {
    int threads, reps, warmup;
    int batch, imgsz, nc, gt_per_image;  // the loss case
    int images, preds_per_image;         // the AP case
    int seed;
    const char *filter;
    const char *out;
} bench_options;

static void print_usage(FILE *out) {
    fprintf(out,
            "usage: bench_loss_eval [threads=0] [reps=5] [warmup=1] [batch=16] [imgsz=640] [nc=80]\n"
            "                       [gt=8] [images=5000] [preds=20] [seed=1] [filter=<substring>]\n"
            "                       [out=<file.safetensors>]\n"
            "Times the detection loss (batch x imgsz, gt boxes per image), NMS on one image of the\n"
            "eval output, and AP over `images` images of `preds` predictions; prints a table.\n"
            "out=: also writes the inputs, timings and results for bench/ultralytics_loss_eval.py.\n"
            "filter: only cases whose name contains it (loss, nms, eval, ...). threads=0: every core.\n");
}

static bool parse_int(const char *text, int low, int high, int *out) {
    char *end;
    long v = strtol(text, &end, 10);
    if (end == text || *end != '\0' || v < low || v > high) return false;
    *out = (int)v;
    return true;
}

static bool parse_options(int argc, char **argv, bench_options *o) {
    *o = (bench_options){.threads = 0, .reps = 5, .warmup = 1, .batch = 16, .imgsz = 640, .nc = 80,
                         .gt_per_image = 8, .images = 5000, .preds_per_image = 20, .seed = 1, .filter = "",
                         .out = NULL};
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
            print_usage(stdout);
            exit(0);
        }
        const char *eq = strchr(arg, '=');
        if (!eq) {
            fprintf(stderr, "bench_loss_eval: argument '%s' is not key=value\n", arg);
            return false;
        }
        size_t key_len = (size_t)(eq - arg);
        const char *value = eq + 1;
#define KEY_IS(name) (key_len == strlen(name) && strncmp(arg, name, key_len) == 0)
        bool ok = true;
        if (KEY_IS("threads")) ok = parse_int(value, 0, 1024, &o->threads);
        else if (KEY_IS("reps")) ok = parse_int(value, 1, MAX_REPS, &o->reps);
        else if (KEY_IS("warmup")) ok = parse_int(value, 0, 100, &o->warmup);
        else if (KEY_IS("batch")) ok = parse_int(value, 1, 1024, &o->batch);
        else if (KEY_IS("imgsz")) ok = parse_int(value, 32, 4096, &o->imgsz) && o->imgsz % 32 == 0;
        else if (KEY_IS("nc")) ok = parse_int(value, 1, 1000, &o->nc);
        else if (KEY_IS("gt")) ok = parse_int(value, 0, 1000, &o->gt_per_image);
        else if (KEY_IS("images")) ok = parse_int(value, 1, 1000000, &o->images);
        else if (KEY_IS("preds")) ok = parse_int(value, 1, 300, &o->preds_per_image);
        else if (KEY_IS("seed")) ok = parse_int(value, 0, 1 << 30, &o->seed);
        else if (KEY_IS("filter")) o->filter = value;
        else if (KEY_IS("out")) o->out = value;
        else {
            fprintf(stderr, "bench_loss_eval: unknown option '%.*s'\n", (int)key_len, arg);
            return false;
        }
#undef KEY_IS
        if (!ok) {
            fprintf(stderr, "bench_loss_eval: bad value in '%s'\n", arg);
            return false;
        }
    }
    return true;
}

// ---- timing ---------------------------------------------------------------------------------

static double now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec * 1e-6;
}

static int compare_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof(double), compare_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

// ---- a minimal safetensors writer (4-byte dtypes only, so every tensor stays aligned) ------

typedef struct {
    const char *name;
    const char *dtype;  // "F32" or "I32"
    int ndim;
    int64_t shape[4];
    const void *data;
    size_t nbytes;
} out_tensor;

typedef struct {
    out_tensor tensors[MAX_TENSORS];
    int tensor_count;
    char keys[MAX_META][64];
    char values[MAX_META][256];
    int meta_count;
} out_file;

static void add_tensor(out_file *f, const char *name, const char *dtype, const void *data, int ndim, int64_t d0,
                       int64_t d1, int64_t d2, int64_t d3) {
    if (f->tensor_count == MAX_TENSORS) abort();  // a bench bug, not an input error
    out_tensor *t = &f->tensors[f->tensor_count++];
    int64_t dims[4] = {d0, d1, d2, d3};
    size_t numel = 1;
    *t = (out_tensor){.name = name, .dtype = dtype, .ndim = ndim, .data = data};
    for (int i = 0; i < ndim; i++) {
        t->shape[i] = dims[i];
        numel *= (size_t)dims[i];
    }
    t->nbytes = numel * 4;
}

#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
static void add_meta(out_file *f, const char *key, const char *fmt, ...) {
    if (!f) return;
    if (f->meta_count == MAX_META) abort();
    snprintf(f->keys[f->meta_count], sizeof f->keys[0], "%s", key);
    va_list args;
    va_start(args, fmt);
    vsnprintf(f->values[f->meta_count], sizeof f->values[0], fmt, args);
    va_end(args);
    // Values are plain text; keep the JSON valid whatever a message says.
    for (char *c = f->values[f->meta_count]; *c; c++)
        if (*c == '"' || *c == '\\' || (unsigned char)*c < 0x20) *c = '\'';
    f->meta_count++;
}

static bool write_safetensors(const out_file *f, const char *path) {
    size_t cap = 4096 + (size_t)f->tensor_count * 256 + (size_t)f->meta_count * 400, len = 0, offset = 0;
    char *header = malloc(cap);
    if (!header) return false;
    len += (size_t)snprintf(header + len, cap - len, "{");
    for (int i = 0; i < f->tensor_count; i++) {
        const out_tensor *t = &f->tensors[i];
        len += (size_t)snprintf(header + len, cap - len, "%s\"%s\":{\"dtype\":\"%s\",\"shape\":[", i ? "," : "",
                                t->name, t->dtype);
        for (int d = 0; d < t->ndim; d++)
            len += (size_t)snprintf(header + len, cap - len, "%s%lld", d ? "," : "", (long long)t->shape[d]);
        len += (size_t)snprintf(header + len, cap - len, "],\"data_offsets\":[%zu,%zu]}", offset, offset + t->nbytes);
        offset += t->nbytes;
    }
    len += (size_t)snprintf(header + len, cap - len, "%s\"__metadata__\":{", f->tensor_count ? "," : "");
    for (int i = 0; i < f->meta_count; i++)
        len += (size_t)snprintf(header + len, cap - len, "%s\"%s\":\"%s\"", i ? "," : "", f->keys[i], f->values[i]);
    len += (size_t)snprintf(header + len, cap - len, "}}");
    while (len % 8) header[len++] = ' ';  // data starts 8-aligned, as weights/safetensors.c requires
    FILE *out = fopen(path, "wb");
    bool ok = out != NULL;
    if (ok) {
        unsigned char size_le[8];
        for (int i = 0; i < 8; i++) size_le[i] = (unsigned char)((uint64_t)len >> (8 * i));
        ok = fwrite(size_le, 1, 8, out) == 8 && fwrite(header, 1, len, out) == len;
        for (int i = 0; ok && i < f->tensor_count; i++)
            ok = fwrite(f->tensors[i].data, 1, f->tensors[i].nbytes, out) == f->tensors[i].nbytes;
        ok = (fclose(out) == 0) && ok;
    }
    free(header);
    return ok;
}

// ---- the results table ------------------------------------------------------------------------

typedef struct {
    char name[32];   // the key both sides use, e.g. "cpu.loss_fwd_bwd"
    char work[96];   // what is timed, in words
    double ms;       // median; < 0 when the case failed
    char error[160];
} case_result;

typedef struct {
    case_result cases[MAX_CASES];
    int count;
} result_table;

static bool selected(const bench_options *o, const char *name) { return strstr(name, o->filter) != NULL; }

static case_result *add_case(result_table *table, const char *name, const char *work) {
    case_result *c = &table->cases[table->count++];
    snprintf(c->name, sizeof c->name, "%s", name);
    snprintf(c->work, sizeof c->work, "%s", work);
    c->ms = -1;
    c->error[0] = '\0';
    return c;
}

static void fail_case(case_result *c, yl_status status) {
    snprintf(c->error, sizeof c->error, "%s: %s", yl_status_name(status), yl_last_error());
    c->ms = -1;
}

// ---- inputs ---------------------------------------------------------------------------------

static float sigmoid(float x) { return 1.0f / (1.0f + expf(-x)); }

static float log_uniform(yl_rng *rng, float low, float high) {
    return expf(logf(low) + (logf(high) - logf(low)) * yl_rng_uniform(rng));
}

// Anchor centres in pixels, P3 then P4 then P5, row-major (the order of the Detect head's output).
static int64_t anchor_centres(int imgsz, float *xy, float *stride_of) {
    static const int strides[3] = {8, 16, 32};
    int64_t a = 0;
    for (int l = 0; l < 3; l++) {
        int g = imgsz / strides[l];
        for (int y = 0; y < g; y++)
            for (int x = 0; x < g; x++, a++) {
                if (xy) {
                    xy[2 * a] = ((float)x + 0.5f) * (float)strides[l];
                    xy[2 * a + 1] = ((float)y + 0.5f) * (float)strides[l];
                    stride_of[a] = (float)strides[l];
                }
            }
    }
    return a;
}

typedef struct {
    float *heads[YL_DETECT_LEVELS];
    int64_t h[YL_DETECT_LEVELS], w[YL_DETECT_LEVELS];
    float *targets;  // (rows, 6)
    int64_t rows;
} loss_inputs;

// Head maps "of a model in training": DFL logits N(0, 1.5), class logits N(-5, 1.5). Targets:
// gt_per_image boxes per image, log-uniform sizes (1/50 to 1/2 of the side), random classes.
static bool make_loss_inputs(const bench_options *o, yl_rng *rng, loss_inputs *in) {
    static const int strides[3] = {8, 16, 32};
    int channels = YL_BOX_CHANNELS + o->nc;
    for (int l = 0; l < YL_DETECT_LEVELS; l++) {
        in->h[l] = in->w[l] = o->imgsz / strides[l];
        size_t plane = (size_t)(in->h[l] * in->w[l]);
        in->heads[l] = malloc(sizeof(float) * (size_t)o->batch * (size_t)channels * plane);
        if (!in->heads[l]) return false;
        for (int b = 0; b < o->batch; b++) {
            float *base = in->heads[l] + (size_t)b * (size_t)channels * plane;
            yl_rng_fill_normal(rng, base, YL_BOX_CHANNELS * plane, 0.0f, 1.5f);
            yl_rng_fill_normal(rng, base + YL_BOX_CHANNELS * plane, (size_t)o->nc * plane, -5.0f, 1.5f);
        }
    }
    in->rows = (int64_t)o->batch * o->gt_per_image;
    in->targets = malloc(sizeof(float) * 6 * (size_t)(in->rows ? in->rows : 1));
    if (!in->targets) return false;
    for (int64_t r = 0; r < in->rows; r++) {
        float *t = in->targets + 6 * r;
        float w = log_uniform(rng, 0.02f, 0.5f), h = log_uniform(rng, 0.02f, 0.5f);
        t[0] = (float)(r / o->gt_per_image);
        t[1] = (float)yl_rng_below(rng, (uint32_t)o->nc);
        t[2] = 0.5f * w + (1.0f - w) * yl_rng_uniform(rng);
        t[3] = 0.5f * h + (1.0f - h) * yl_rng_uniform(rng);
        t[4] = w;
        t[5] = h;
    }
    return true;
}

// One image of the eval output (1, 4 + nc, A): xywh pixels, then sigmoid scores.
// trained: background logits N(-11, 1.5) (a few thousand scores above 0.001, as a trained model
//   gives); 8 objects whose anchors (centres inside the box) predict the box with jitter and the
//   object's class at logit N(1, 2), so NMS meets dense clusters of overlapping boxes.
// untrained: every logit N(-5, 1.5) and random boxes around each anchor: far more than max_nms
//   candidates, the early-training worst case.
static float *make_nms_input(const bench_options *o, yl_rng *rng, bool trained, int64_t *anchors_out) {
    int64_t anchors = anchor_centres(o->imgsz, NULL, NULL);
    int64_t rows = 4 + o->nc;
    float *pred = malloc(sizeof(float) * (size_t)(rows * anchors));
    float *xy = malloc(sizeof(float) * 2 * (size_t)anchors);
    float *stride = malloc(sizeof(float) * (size_t)anchors);
    if (!pred || !xy || !stride) {
        free(pred), free(xy), free(stride);
        return NULL;
    }
    anchor_centres(o->imgsz, xy, stride);
    float shift = trained ? -11.0f : -5.0f;
    for (int64_t a = 0; a < anchors; a++) {
        float s = stride[a];
        pred[0 * anchors + a] = xy[2 * a] + s * yl_rng_normal(rng);
        pred[1 * anchors + a] = xy[2 * a + 1] + s * yl_rng_normal(rng);
        pred[2 * anchors + a] = s * log_uniform(rng, 1.0f, 8.0f);
        pred[3 * anchors + a] = s * log_uniform(rng, 1.0f, 8.0f);
        for (int c = 0; c < o->nc; c++) pred[(4 + c) * anchors + a] = sigmoid(shift + 1.5f * yl_rng_normal(rng));
    }
    if (trained) {
        float side = (float)o->imgsz;
        for (int k = 0; k < 8; k++) {
            float w = log_uniform(rng, 0.04f * side, 0.5f * side), h = log_uniform(rng, 0.04f * side, 0.5f * side);
            float x1 = (side - w) * yl_rng_uniform(rng), y1 = (side - h) * yl_rng_uniform(rng);
            int cls = (int)yl_rng_below(rng, (uint32_t)o->nc);
            for (int64_t a = 0; a < anchors; a++) {
                float ax = xy[2 * a], ay = xy[2 * a + 1];
                if (ax <= x1 || ax >= x1 + w || ay <= y1 || ay >= y1 + h) continue;
                pred[0 * anchors + a] = x1 + 0.5f * w + 0.05f * w * yl_rng_normal(rng);
                pred[1 * anchors + a] = y1 + 0.5f * h + 0.05f * h * yl_rng_normal(rng);
                pred[2 * anchors + a] = w * (1.0f + 0.08f * yl_rng_normal(rng));
                pred[3 * anchors + a] = h * (1.0f + 0.08f * yl_rng_normal(rng));
                pred[(4 + cls) * anchors + a] = sigmoid(1.0f + 2.0f * yl_rng_normal(rng));
            }
        }
    }
    free(xy);
    free(stride);
    *anchors_out = anchors;
    return pred;
}

typedef struct {
    int images;
    int32_t *gt_count, *pred_count;  // per image
    float *gt_boxes;                  // (G, 4) xyxy
    int32_t *gt_cls;
    float *pred_boxes;                // (P, 4) xyxy, NMS order within each image
    float *pred_conf;
    int32_t *pred_cls;
    yl_detection *dets;               // the same predictions as the evaluator takes them
    int64_t gt_total, pred_total;
} ap_inputs;

static const float *sort_key;
static int compare_by_key(const void *a, const void *b) {
    int32_t i = *(const int32_t *)a, j = *(const int32_t *)b;
    if (sort_key[i] != sort_key[j]) return sort_key[i] < sort_key[j] ? -1 : 1;
    return (i > j) - (i < j);
}

static void random_box(yl_rng *rng, float side, float *box) {
    float w = log_uniform(rng, 10.0f, 0.6f * side), h = log_uniform(rng, 10.0f, 0.6f * side);
    box[0] = (side - w) * yl_rng_uniform(rng);
    box[1] = (side - h) * yl_rng_uniform(rng);
    box[2] = box[0] + w;
    box[3] = box[1] + h;
}

static void jittered_box(yl_rng *rng, const float *gt, float side, float *box) {
    static const float scales[3] = {0.02f, 0.06f, 0.15f};
    float scale = scales[yl_rng_below(rng, 3)];
    float w = gt[2] - gt[0], h = gt[3] - gt[1];
    for (int k = 0; k < 4; k++) {
        float v = gt[k] + scale * (k % 2 ? h : w) * yl_rng_normal(rng);
        box[k] = v < 0 ? 0 : v > side ? side : v;
    }
    if (box[2] <= box[0]) box[2] = box[0] + 1.0f;
    if (box[3] <= box[1]) box[3] = box[1] + 1.0f;
}

// A validation set in 640 x 640 images: 1..13 GT per image (7 on average, like COCO), random
// classes; `preds` predictions per image: a jittered copy of 85% of the GTs (right class 90% of
// the time, higher scores), the rest duplicates or random boxes (lower scores). Confidences are
// distinct (ranks of the raw scores), so no sort's order of equal values can change the result.
static bool make_ap_inputs(const bench_options *o, yl_rng *rng, ap_inputs *in) {
    int n = o->images, per = o->preds_per_image, nc = o->nc;
    float side = 640.0f;
    int max_gt = per < 13 ? per : 13;
    in->images = n;
    in->gt_count = malloc(sizeof(int32_t) * (size_t)n);
    in->pred_count = malloc(sizeof(int32_t) * (size_t)n);
    in->gt_boxes = malloc(sizeof(float) * 4 * (size_t)n * (size_t)max_gt);
    in->gt_cls = malloc(sizeof(int32_t) * (size_t)n * (size_t)max_gt);
    size_t preds = (size_t)n * (size_t)per;
    in->pred_boxes = malloc(sizeof(float) * 4 * preds);
    in->pred_conf = malloc(sizeof(float) * preds);
    in->pred_cls = malloc(sizeof(int32_t) * preds);
    in->dets = malloc(sizeof(yl_detection) * preds);
    float *raw = malloc(sizeof(float) * preds);
    int32_t *order = malloc(sizeof(int32_t) * preds);
    if (!in->gt_count || !in->pred_count || !in->gt_boxes || !in->gt_cls || !in->pred_boxes || !in->pred_conf ||
        !in->pred_cls || !in->dets || !raw || !order) {
        free(raw), free(order);
        return false;
    }
    int64_t g = 0, p = 0;
    for (int i = 0; i < n; i++) {
        int ng = 1 + (int)yl_rng_below(rng, (uint32_t)max_gt);
        const float *gt = in->gt_boxes + 4 * g;
        for (int k = 0; k < ng; k++) {
            random_box(rng, side, in->gt_boxes + 4 * (g + k));
            in->gt_cls[g + k] = (int32_t)yl_rng_below(rng, (uint32_t)nc);
        }
        for (int k = 0; k < per; k++, p++) {
            float *box = in->pred_boxes + 4 * p;
            if (k < ng && yl_rng_uniform(rng) < 0.85f) {
                jittered_box(rng, gt + 4 * k, side, box);
                in->pred_cls[p] = yl_rng_uniform(rng) < 0.9f ? in->gt_cls[g + k] : (int32_t)yl_rng_below(rng, (uint32_t)nc);
                raw[p] = 1.0f + yl_rng_normal(rng);
            } else if (yl_rng_uniform(rng) < 0.3f) {
                int t = (int)yl_rng_below(rng, (uint32_t)ng);
                jittered_box(rng, gt + 4 * t, side, box);
                in->pred_cls[p] = in->gt_cls[g + t];
                raw[p] = yl_rng_normal(rng);
            } else {
                random_box(rng, side, box);
                in->pred_cls[p] = (int32_t)yl_rng_below(rng, (uint32_t)nc);
                raw[p] = -1.0f + yl_rng_normal(rng);
            }
        }
        in->gt_count[i] = ng;
        in->pred_count[i] = per;
        g += ng;
    }
    in->gt_total = g;
    in->pred_total = p;
    for (int64_t k = 0; k < p; k++) order[k] = (int32_t)k;
    sort_key = raw;
    qsort(order, (size_t)p, sizeof(int32_t), compare_by_key);
    for (int64_t r = 0; r < p; r++) in->pred_conf[order[r]] = (float)(0.001 + 0.998 * ((double)r + 0.5) / (double)p);
    // NMS order within each image: descending confidence (insertion sort of `per` rows).
    for (int i = 0; i < n; i++) {
        int64_t base = (int64_t)i * per;
        for (int a = 1; a < per; a++)
            for (int b = a; b > 0 && in->pred_conf[base + b] > in->pred_conf[base + b - 1]; b--) {
                int64_t x = base + b, y = base + b - 1;
                float tc = in->pred_conf[x];
                in->pred_conf[x] = in->pred_conf[y], in->pred_conf[y] = tc;
                int32_t tl = in->pred_cls[x];
                in->pred_cls[x] = in->pred_cls[y], in->pred_cls[y] = tl;
                for (int k = 0; k < 4; k++) {
                    float tb = in->pred_boxes[4 * x + k];
                    in->pred_boxes[4 * x + k] = in->pred_boxes[4 * y + k], in->pred_boxes[4 * y + k] = tb;
                }
            }
    }
    for (int64_t k = 0; k < p; k++) {
        const float *b = in->pred_boxes + 4 * k;
        in->dets[k] = (yl_detection){b[0], b[1], b[2], b[3], in->pred_conf[k], in->pred_cls[k], -1};
    }
    free(raw);
    free(order);
    return true;
}

// ---- cases ------------------------------------------------------------------------------------

static void loss_cases(const bench_options *o, const loss_inputs *in, result_table *table, out_file *f) {
    bool want_fwd = selected(o, "cpu.loss_fwd"), want_bwd = selected(o, "cpu.loss_fwd_bwd");
    if (!want_fwd && !want_bwd) return;
    char work[2][96];
    for (int k = 0; k < 2; k++)
        snprintf(work[k], sizeof work[k], "loss B=%d %dx%d nc=%d, %lld GT%s", o->batch, o->imgsz, o->imgsz, o->nc,
                 (long long)in->rows, k ? ", + grads" : "");
    case_result *fwd = want_fwd ? add_case(table, "cpu.loss_fwd", work[0]) : NULL;
    case_result *bwd = want_bwd ? add_case(table, "cpu.loss_fwd_bwd", work[1]) : NULL;

    int channels = YL_BOX_CHANNELS + o->nc;
    yl_tensor heads[YL_DETECT_LEVELS], grads[YL_DETECT_LEVELS];
    float *grad_data[YL_DETECT_LEVELS] = {0};
    for (int l = 0; l < YL_DETECT_LEVELS; l++) {
        heads[l] = yl_tensor_4d(in->heads[l], YL_DEVICE_CPU, o->batch, channels, in->h[l], in->w[l]);
        grad_data[l] = malloc(yl_tensor_nbytes(&heads[l]));
        grads[l] = yl_tensor_4d(grad_data[l], YL_DEVICE_CPU, o->batch, channels, in->h[l], in->w[l]);
    }
    yl_detection_loss loss;
    yl_detection_loss_config config =
        yl_detection_loss_default_config(o->batch, o->nc, o->imgsz, o->imgsz, o->gt_per_image > 0 ? o->gt_per_image : 1);
    yl_status status = YL_ERR_OOM;
    if (grad_data[0] && grad_data[1] && grad_data[2]) status = yl_detection_loss_init(&loss, &config);
    if (status != YL_OK) {
        if (fwd) fail_case(fwd, status);
        if (bwd) fail_case(bwd, status);
        for (int l = 0; l < YL_DETECT_LEVELS; l++) free(grad_data[l]);
        return;
    }
    double times[MAX_REPS];
    yl_detection_loss_result r = {0};
    for (int pass = 0; pass < 2; pass++) {
        case_result *c = pass == 0 ? fwd : bwd;
        if (!c) continue;
        const yl_tensor *g = pass == 0 ? NULL : grads;
        for (int rep = 0; rep < o->warmup + o->reps && status == YL_OK; rep++) {
            double t0 = now_ms();
            status = yl_detection_loss_compute(&loss, heads, o->imgsz, o->imgsz, in->targets, in->rows, g, &r);
            double t1 = now_ms();
            if (rep >= o->warmup) times[rep - o->warmup] = t1 - t0;
        }
        if (status != YL_OK) {
            fail_case(c, status);
            continue;
        }
        c->ms = median(times, o->reps);
    }
    if (status == YL_OK) {
        add_meta(f, "yoloop.loss.items", "%.17g %.17g %.17g", r.box, r.cls, r.dfl);
        add_meta(f, "yoloop.loss.num_fg", "%d", r.num_fg);
        if (bwd) {
            // Two sums per level let the Python side check the gradients without a second copy of them.
            char abs_text[128] = "", sq_text[128] = "";
            for (int l = 0; l < YL_DETECT_LEVELS; l++) {
                double abs_sum = 0, sq_sum = 0;
                for (int64_t k = 0, n = yl_tensor_numel(&grads[l]); k < n; k++) {
                    abs_sum += fabs((double)grad_data[l][k]);
                    sq_sum += (double)grad_data[l][k] * grad_data[l][k];
                }
                size_t a = strlen(abs_text), s = strlen(sq_text);
                snprintf(abs_text + a, sizeof abs_text - a, "%s%.17g", l ? " " : "", abs_sum);
                snprintf(sq_text + s, sizeof sq_text - s, "%s%.17g", l ? " " : "", sq_sum);
            }
            add_meta(f, "yoloop.loss.grad_abs_sum", "%s", abs_text);
            add_meta(f, "yoloop.loss.grad_sq_sum", "%s", sq_text);
        }
    }
    yl_detection_loss_free(&loss);
    for (int l = 0; l < YL_DETECT_LEVELS; l++) free(grad_data[l]);
}

typedef struct {
    const char *name;  // case key after "cpu."
    const char *input;  // tensor name in the file
    bool trained;
    bool validation;  // val settings (conf 0.001, multi-label) or predict settings (conf 0.25, best class)
} nms_case;

static void nms_cases(const bench_options *o, float *const inputs[2], int64_t anchors, result_table *table,
                      out_file *f) {
    static const nms_case cases[3] = {
        {"nms_val", "nms.trained", true, true},
        {"nms_predict", "nms.trained", true, false},
        {"nms_val_untrained", "nms.untrained", false, true},
    };
    for (int k = 0; k < 3; k++) {
        char name[32];
        snprintf(name, sizeof name, "cpu.%s", cases[k].name);
        if (!selected(o, name)) continue;
        const float *pred_data = inputs[cases[k].trained ? 0 : 1];
        yl_nms_options options = cases[k].validation ? yl_nms_options_val() : yl_nms_options_predict();
        // Candidates as NMS counts them, for the label.
        int64_t candidates = 0;
        for (int64_t a = 0; a < anchors; a++) {
            float best = 0;
            for (int c = 0; c < o->nc; c++) {
                float s = pred_data[(4 + c) * anchors + a];
                if (cases[k].validation && s > options.conf_thres) candidates++;
                best = s > best ? s : best;
            }
            if (!cases[k].validation && best > options.conf_thres) candidates++;
        }
        char work[96];
        snprintf(work, sizeof work, "nms 1x%dx%lld conf %g %s, %lld cand.%s", 4 + o->nc, (long long)anchors,
                 (double)options.conf_thres, cases[k].validation ? "multi-label" : "best class", (long long)candidates,
                 candidates > options.max_nms ? " (max_nms)" : "");
        case_result *c = add_case(table, name, work);
        yl_tensor pred = yl_tensor_3d((float *)pred_data, YL_DEVICE_CPU, 1, 4 + o->nc, anchors);
        size_t bytes = yl_nms_workspace_bytes(anchors, o->nc, &options);
        void *workspace = malloc(bytes ? bytes : 1);
        yl_detection *dets = malloc(sizeof(yl_detection) * (size_t)options.max_det);
        int64_t count = 0;
        yl_status status = workspace && dets ? YL_OK : YL_ERR_OOM;
        double times[MAX_REPS];
        for (int rep = 0; rep < o->warmup + o->reps && status == YL_OK; rep++) {
            double t0 = now_ms();
            status = yl_nms(&pred, &options, workspace, bytes, dets, &count);
            double t1 = now_ms();
            if (rep >= o->warmup) times[rep - o->warmup] = t1 - t0;
        }
        if (status != YL_OK) {
            fail_case(c, status);
        } else {
            c->ms = median(times, o->reps);
            double conf_sum = 0;
            for (int64_t d = 0; d < count; d++) conf_sum += dets[d].conf;
            char key[64];
            snprintf(key, sizeof key, "yoloop.%s.kept", name);
            add_meta(f, key, "%lld %.17g", (long long)count, conf_sum);
            snprintf(key, sizeof key, "case.%s.input", name);
            add_meta(f, key, "%s", cases[k].input);
            snprintf(key, sizeof key, "case.%s.mode", name);
            add_meta(f, key, "%s", cases[k].validation ? "val" : "predict");
        }
        free(workspace);
        free(dets);
    }
}

static void eval_cases(const bench_options *o, const ap_inputs *in, result_table *table, out_file *f) {
    if (!selected(o, "cpu.eval_match") && !selected(o, "cpu.eval_ap_per_class") && !selected(o, "cpu.eval_total"))
        return;
    char work[96];
    snprintf(work, sizeof work, "%d img x %d pred, %lld GT, nc=%d: iou+match+confusion", in->images,
             o->preds_per_image, (long long)in->gt_total, o->nc);
    case_result *match = add_case(table, "cpu.eval_match", work);
    case_result *ap = add_case(table, "cpu.eval_ap_per_class", "ap_per_class over them (metrics)");
    case_result *total = add_case(table, "cpu.eval_total", "match + ap_per_class: one validation's metric work");
    yl_evaluator_options options = yl_evaluator_defaults(o->nc);
    yl_evaluator *ev = NULL;
    yl_status status = yl_evaluator_create(&ev, &options);
    const yl_eval_results *r = NULL;
    double t_match[MAX_REPS], t_ap[MAX_REPS], t_total[MAX_REPS];
    for (int rep = 0; rep < o->warmup + o->reps && status == YL_OK; rep++) {
        yl_evaluator_reset(ev);
        double t0 = now_ms();
        int64_t g = 0, p = 0;
        for (int i = 0; i < in->images && status == YL_OK; i++) {
            status = yl_evaluator_add_image(ev, in->dets + p, in->pred_count[i], in->gt_boxes + 4 * g, in->gt_cls + g,
                                            in->gt_count[i], NULL);
            g += in->gt_count[i];
            p += in->pred_count[i];
        }
        double t1 = now_ms();
        if (status == YL_OK) status = yl_evaluator_compute(ev, &r);
        double t2 = now_ms();
        if (rep >= o->warmup) {
            t_match[rep - o->warmup] = t1 - t0;
            t_ap[rep - o->warmup] = t2 - t1;
            t_total[rep - o->warmup] = t2 - t0;
        }
    }
    if (status != YL_OK) {
        fail_case(match, status);
        fail_case(ap, status);
        fail_case(total, status);
    } else {
        match->ms = median(t_match, o->reps);
        ap->ms = median(t_ap, o->reps);
        total->ms = median(t_total, o->reps);
        double diagonal = 0;
        for (int c = 0; c < o->nc; c++) diagonal += r->confusion[c * (o->nc + 1) + c];
        add_meta(f, "yoloop.eval.metrics", "%.17g %.17g %.17g %.17g", r->precision, r->recall, r->map50, r->map50_95);
        add_meta(f, "yoloop.eval.confusion_diagonal", "%.17g", diagonal);
    }
    yl_evaluator_destroy(ev);
}

// Hook for the CUDA detection loss and NMS (being written elsewhere). When they exist, time them
// here under the names "cuda.loss_fwd", "cuda.loss_fwd_bwd", "cuda.nms_val", ... (the Python
// side times Ultralytics on the GPU for every "cuda.*" case it finds in the file).
static void cuda_cases(const bench_options *o, result_table *table, out_file *f) {
    (void)o;
    (void)table;
    add_meta(f, "yoloop.cuda", "%s",
#ifdef YOLOOP_HAVE_CUDA
             "skipped: the engine has no CUDA detection loss or NMS yet (hook: cuda_cases in bench/bench_loss_eval.c)"
#else
             "skipped: this build has no CUDA backend (and the engine no CUDA detection loss or NMS yet)"
#endif
    );
}

// ---- main -----------------------------------------------------------------------------------

static void free_inputs(loss_inputs *loss, float *nms[2], ap_inputs *ap) {
    for (int l = 0; l < YL_DETECT_LEVELS; l++) free(loss->heads[l]);
    free(loss->targets);
    free(nms[0]);
    free(nms[1]);
    free(ap->gt_count), free(ap->pred_count), free(ap->gt_boxes), free(ap->gt_cls);
    free(ap->pred_boxes), free(ap->pred_conf), free(ap->pred_cls), free(ap->dets);
}

int main(int argc, char **argv) {
    bench_options o;
    if (!parse_options(argc, argv, &o)) {
        print_usage(stderr);
        return 2;
    }
    yl_set_num_threads(o.threads);
    int threads = yl_get_num_threads();

    // Inputs come from separate streams, so changing one case's size leaves the others alone.
    yl_rng rng_loss, rng_nms, rng_ap;
    yl_rng_seed(&rng_loss, (uint64_t)o.seed, 1);
    yl_rng_seed(&rng_nms, (uint64_t)o.seed, 2);
    yl_rng_seed(&rng_ap, (uint64_t)o.seed, 3);
    loss_inputs loss_in = {0};
    float *nms_in[2] = {NULL, NULL};
    ap_inputs ap_in = {0};
    int64_t anchors = 0;
    if (!make_loss_inputs(&o, &rng_loss, &loss_in) || !(nms_in[0] = make_nms_input(&o, &rng_nms, true, &anchors)) ||
        !(nms_in[1] = make_nms_input(&o, &rng_nms, false, &anchors)) || !make_ap_inputs(&o, &rng_ap, &ap_in)) {
        fprintf(stderr, "bench_loss_eval: out of memory for the inputs\n");
        free_inputs(&loss_in, nms_in, &ap_in);
        return 1;
    }

    out_file *f = NULL;
    if (o.out && !(f = calloc(1, sizeof *f))) {
        fprintf(stderr, "bench_loss_eval: out of memory\n");
        return 1;
    }
    add_meta(f, "bench.threads", "%d", threads);
    add_meta(f, "bench.reps", "%d", o.reps);
    add_meta(f, "bench.warmup", "%d", o.warmup);
    add_meta(f, "bench.batch", "%d", o.batch);
    add_meta(f, "bench.imgsz", "%d", o.imgsz);
    add_meta(f, "bench.nc", "%d", o.nc);

    result_table table = {0};
    loss_cases(&o, &loss_in, &table, f);
    nms_cases(&o, nms_in, anchors, &table, f);
    eval_cases(&o, &ap_in, &table, f);
    cuda_cases(&o, &table, f);

    printf("bench_loss_eval: threads=%d reps=%d warmup=%d (median ms)\n", threads, o.reps, o.warmup);
    printf("%-24s %-58s %10s\n", "case", "work", "yoloop ms");
    for (int i = 0; i < table.count; i++) {
        const case_result *c = &table.cases[i];
        if (c->ms >= 0) printf("%-24s %-58s %10.3f\n", c->name, c->work, c->ms);
        else printf("%-24s %-58s %10s  (%s)\n", c->name, c->work, "error", c->error);
    }
    if (table.count == 0) printf("(no case matches filter=%s)\n", o.filter);

    int rc = 0;
    if (f) {
        char list[512] = "";
        for (int i = 0; i < table.count; i++) {
            const case_result *c = &table.cases[i];
            size_t n = strlen(list);
            snprintf(list + n, sizeof list - n, "%s%s", i ? " " : "", c->name);
            char key[64];
            snprintf(key, sizeof key, "case.%s.work", c->name);
            add_meta(f, key, "%s", c->work);
            snprintf(key, sizeof key, "yoloop.%s.ms", c->name);
            if (c->ms >= 0) add_meta(f, key, "%.6f", c->ms);
            else add_meta(f, key, "error %s", c->error);
        }
        add_meta(f, "cases", "%s", list);
        int channels = YL_BOX_CHANNELS + o.nc;
        static const char *head_names[YL_DETECT_LEVELS] = {"loss.head0", "loss.head1", "loss.head2"};
        for (int l = 0; l < YL_DETECT_LEVELS; l++)
            add_tensor(f, head_names[l], "F32", loss_in.heads[l], 4, o.batch, channels, loss_in.h[l], loss_in.w[l]);
        add_tensor(f, "loss.targets", "F32", loss_in.targets, 2, loss_in.rows, 6, 0, 0);
        add_tensor(f, "nms.trained", "F32", nms_in[0], 3, 1, 4 + o.nc, anchors, 0);
        add_tensor(f, "nms.untrained", "F32", nms_in[1], 3, 1, 4 + o.nc, anchors, 0);
        add_tensor(f, "ap.gt_count", "I32", ap_in.gt_count, 1, ap_in.images, 0, 0, 0);
        add_tensor(f, "ap.pred_count", "I32", ap_in.pred_count, 1, ap_in.images, 0, 0, 0);
        add_tensor(f, "ap.gt_boxes", "F32", ap_in.gt_boxes, 2, ap_in.gt_total, 4, 0, 0);
        add_tensor(f, "ap.gt_cls", "I32", ap_in.gt_cls, 1, ap_in.gt_total, 0, 0, 0);
        add_tensor(f, "ap.pred_boxes", "F32", ap_in.pred_boxes, 2, ap_in.pred_total, 4, 0, 0);
        add_tensor(f, "ap.pred_conf", "F32", ap_in.pred_conf, 1, ap_in.pred_total, 0, 0, 0);
        add_tensor(f, "ap.pred_cls", "I32", ap_in.pred_cls, 1, ap_in.pred_total, 0, 0, 0);
        if (!write_safetensors(f, o.out)) {
            fprintf(stderr, "bench_loss_eval: cannot write %s\n", o.out);
            rc = 1;
        }
        free(f);
    }
    for (int i = 0; i < table.count; i++)
        if (table.cases[i].ms < 0) rc = 1;
    free_inputs(&loss_in, nms_in, &ap_in);
    return rc;
}
