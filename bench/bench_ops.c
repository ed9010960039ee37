// Op benchmark: times every engine op, forward and backward, at the shapes YOLOv8n meets when it
// trains at imgsz x imgsz with a given batch (the shapes follow yolov8.md §1.2 for scale n).
// bench/torch_ops.py times the same cases in PyTorch under the same names; bench/run_ops.sh runs
// both and prints them side by side.
//
//   bench_ops batch=16 imgsz=640 reps=5 threads=0 device=all|cpu|cuda filter=<substring> csv=0|1
//
// device=all (the default) times the CPU backend, then the CUDA backend when the build has one
// and a GPU is present; device=cuda fails when there is none.
// Method: one warm-up call, then the median of `reps` timed calls, each timed alone with
// CLOCK_MONOTONIC; on CUDA the backend is synchronised before each clock reading. Every pass
// gets fixed random inputs and is timed on its own: a backward pass reads random stand-ins for
// the values its forward would have saved, since the numbers do not change the work done.
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/core/rng.h"
#include "engine/core/status.h"
#include "engine/core/tensor.h"
#include "engine/core/threads.h"
#include "engine/ops/ops.h"

#define MAX_REPS 1000
#define MAX_PARTS 4
#define MAX_BUFFERS 32

// ---- options --------------------------------------------------------------------------------

typedef enum { DEVICES_CPU, DEVICES_CUDA, DEVICES_ALL } device_choice;

typedef struct {
    int batch;
    int imgsz;
    int reps;
    int threads;  // 0: every available core
    device_choice devices;
    const char *filter;  // run only cases whose op name contains this
    bool csv;
} bench_options;

static void print_usage(FILE *out) {
    fprintf(out,
            "usage: bench_ops [batch=16] [imgsz=640] [reps=5] [threads=0] [device=all|cpu|cuda]\n"
            "                 [filter=<substring of the op name>] [csv=0|1]\n"
            "Times each op forward and backward at the shapes YOLOv8n sees when training at\n"
            "imgsz x imgsz with `batch` images: a warm-up call, then the median of `reps` calls.\n"
            "threads=0 uses every core. imgsz must be a multiple of 32. device=all: the CPU,\n"
            "then CUDA when this build has it and a GPU is present.\n");
}

static bool parse_int(const char *text, int low, int high, int *out) {
    char *end;
    long v = strtol(text, &end, 10);
    if (end == text || *end != '\0' || v < low || v > high) return false;
    *out = (int)v;
    return true;
}

// Returns false (after printing why) on a bad argument.
static bool parse_options(int argc, char **argv, bench_options *o) {
    *o = (bench_options){.batch = 16, .imgsz = 640, .reps = 5, .threads = 0, .devices = DEVICES_ALL, .filter = ""};
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        const char *eq = strchr(arg, '=');
        if (!eq) {
            fprintf(stderr, "bench_ops: argument '%s' is not key=value\n", arg);
            return false;
        }
        size_t key_len = (size_t)(eq - arg);
        const char *value = eq + 1;
#define KEY_IS(name) (key_len == strlen(name) && strncmp(arg, name, key_len) == 0)
        bool ok = true;
        if (KEY_IS("batch")) ok = parse_int(value, 1, 4096, &o->batch);
        else if (KEY_IS("imgsz")) ok = parse_int(value, 32, 8192, &o->imgsz) && o->imgsz % 32 == 0;
        else if (KEY_IS("reps")) ok = parse_int(value, 1, MAX_REPS, &o->reps);
        else if (KEY_IS("threads")) ok = parse_int(value, 0, 1024, &o->threads);
        else if (KEY_IS("filter")) o->filter = value;
        else if (KEY_IS("csv")) {
            int v = 0;
            ok = parse_int(value, 0, 1, &v);
            o->csv = v == 1;
        } else if (KEY_IS("device")) {
            if (strcmp(value, "cpu") == 0) o->devices = DEVICES_CPU;
            else if (strcmp(value, "cuda") == 0) o->devices = DEVICES_CUDA;
            else if (strcmp(value, "all") == 0) o->devices = DEVICES_ALL;
            else ok = false;
        } else {
            fprintf(stderr, "bench_ops: unknown option '%.*s'\n", (int)key_len, arg);
            return false;
        }
#undef KEY_IS
        if (!ok) {
            fprintf(stderr, "bench_ops: bad value in '%s'\n", arg);
            return false;
        }
    }
    return true;
}

// ---- the cases: YOLOv8n layer shapes --------------------------------------------------------

typedef enum {
    KIND_CONV,
    KIND_BN_SILU,    // fused forward; backward = silu_backward + batchnorm2d_backward_train
    KIND_BATCHNORM,  // training mode
    KIND_SILU,
    KIND_MAXPOOL,
    KIND_UPSAMPLE,
    KIND_CONCAT,  // forward concat_channels, backward split_channels
    KIND_SPLIT,   // forward split_channels, backward concat_channels
    KIND_ADD,
    KIND_SIGMOID,
    KIND_DFL,
} case_kind;

typedef enum { PASS_FWD, PASS_BWD, PASS_BWD_DATA, PASS_BWD_WEIGHT } bench_pass;

static const char *pass_name(bench_pass pass) {
    static const char *names[] = {"fwd", "bwd", "bwd_data", "bwd_weight"};
    return names[pass];
}

typedef struct {
    case_kind kind;
    const char *site;  // the yolov8n module the shape comes from, as in its state_dict keys
    int channels;      // input channels; SIGMOID/DFL: channels of the (B, C, anchors) tensor
    int out_channels;  // CONV
    int kernel;        // CONV, MAXPOOL
    int stride;        // CONV
    int level;         // input spatial size = imgsz >> level
    bool bias;         // CONV
    int parts[MAX_PARTS];  // CONCAT/SPLIT channel counts
    int part_count;
} bench_case;

#define CONV(site_, c, k, ks, s, lvl) \
    {.kind = KIND_CONV, .site = site_, .channels = c, .out_channels = k, .kernel = ks, .stride = s, .level = lvl}
#define CONV_BIAS(site_, c, k, ks, s, lvl)                                                                      \
    {.kind = KIND_CONV, .site = site_, .channels = c, .out_channels = k, .kernel = ks, .stride = s, .level = lvl, \
     .bias = true}
#define ACT(kind_, site_, c, lvl) {.kind = kind_, .site = site_, .channels = c, .level = lvl}
#define PARTS(kind_, site_, lvl, n, ...) \
    {.kind = kind_, .site = site_, .level = lvl, .part_count = n, .parts = {__VA_ARGS__}}

// Levels: 0 = imgsz (640), 1 = /2 (320), 2 = /4 (160), 3 = P3 /8 (80), 4 = P4 /16 (40), 5 = P5 /32 (20).
// The stride-2 convs, each backbone C2f's 1x1 and 3x3 convs, SPPF's, two neck C2f inputs and the
// P3 head; the other ops where they are largest or typical. torch_ops.py holds the same table.
static const bench_case CASES[] = {
    CONV("0", 3, 16, 3, 2, 0),
    CONV("1", 16, 32, 3, 2, 1),
    CONV("2.cv1", 32, 32, 1, 1, 2),
    CONV("2.m.0.cv1", 16, 16, 3, 1, 2),
    CONV("2.cv2", 48, 32, 1, 1, 2),
    CONV("3", 32, 64, 3, 2, 2),
    CONV("4.cv1", 64, 64, 1, 1, 3),
    CONV("4.m.0.cv1", 32, 32, 3, 1, 3),
    CONV("4.cv2", 128, 64, 1, 1, 3),
    CONV("5", 64, 128, 3, 2, 3),
    CONV("6.cv1", 128, 128, 1, 1, 4),
    CONV("6.m.0.cv1", 64, 64, 3, 1, 4),
    CONV("6.cv2", 256, 128, 1, 1, 4),
    CONV("7", 128, 256, 3, 2, 4),
    CONV("8.cv1", 256, 256, 1, 1, 5),
    CONV("8.m.0.cv1", 128, 128, 3, 1, 5),
    CONV("8.cv2", 384, 256, 1, 1, 5),
    CONV("9.cv1", 256, 128, 1, 1, 5),
    CONV("9.cv2", 512, 256, 1, 1, 5),
    CONV("12.cv1", 384, 128, 1, 1, 4),
    CONV("15.cv1", 192, 64, 1, 1, 3),
    CONV("16", 64, 64, 3, 2, 3),
    CONV("19", 128, 128, 3, 2, 4),
    CONV("22.cv2.0.0", 64, 64, 3, 1, 3),
    CONV("22.cv3.0.0", 64, 80, 3, 1, 3),
    CONV("22.cv3.0.1", 80, 80, 3, 1, 3),
    CONV_BIAS("22.cv2.0.2", 64, 64, 1, 1, 3),
    CONV_BIAS("22.cv3.0.2", 80, 80, 1, 1, 3),
    ACT(KIND_BN_SILU, "0", 16, 1),
    ACT(KIND_BN_SILU, "1", 32, 2),
    ACT(KIND_BN_SILU, "3", 64, 3),
    ACT(KIND_BN_SILU, "5", 128, 4),
    ACT(KIND_BN_SILU, "7", 256, 5),
    ACT(KIND_BATCHNORM, "1.bn", 32, 2),
    ACT(KIND_SILU, "1.act", 32, 2),
    {.kind = KIND_MAXPOOL, .site = "9.m", .channels = 128, .kernel = 5, .level = 5},
    ACT(KIND_UPSAMPLE, "10", 256, 5),
    ACT(KIND_UPSAMPLE, "13", 128, 4),
    PARTS(KIND_CONCAT, "2.cv2", 2, 3, 16, 16, 16),
    PARTS(KIND_CONCAT, "4.cv2", 3, 4, 32, 32, 32, 32),
    PARTS(KIND_CONCAT, "9.cv2", 5, 4, 128, 128, 128, 128),
    PARTS(KIND_CONCAT, "11", 4, 2, 256, 128),
    PARTS(KIND_CONCAT, "14", 3, 2, 128, 64),
    PARTS(KIND_SPLIT, "2.cv1", 2, 2, 16, 16),
    PARTS(KIND_SPLIT, "4.cv1", 3, 2, 32, 32),
    ACT(KIND_ADD, "2.m.0", 16, 2),
    ACT(KIND_ADD, "4.m.0", 32, 3),
    ACT(KIND_SIGMOID, "22.cls", 80, 0),
    ACT(KIND_DFL, "22.dfl", 64, 0),
};
#define CASE_COUNT (int)(sizeof CASES / sizeof CASES[0])

static const char *kind_name(case_kind kind) {
    static const char *names[] = {"conv2d",     "bn_silu", "batchnorm2d", "silu", "maxpool2d",  "upsample2x",
                                  "concat",     "split",   "add",         "sigmoid", "dfl_decode"};
    return names[kind];
}

static int case_passes(const bench_case *c, bench_pass *out) {
    if (c->kind == KIND_CONV) {
        out[0] = PASS_FWD, out[1] = PASS_BWD_DATA, out[2] = PASS_BWD_WEIGHT;
        return 3;
    }
    out[0] = PASS_FWD, out[1] = PASS_BWD;
    return 2;
}

// The op column, shared with torch_ops.py: "conv2d[2.m.0.cv1]".
static void case_label(const bench_case *c, char *buf, size_t size) {
    snprintf(buf, size, "%s[%s]", kind_name(c->kind), c->site);
}

// The (B, C, A) head tensors span every anchor of the three levels.
static int64_t anchor_count(int imgsz) {
    int64_t a3 = imgsz / 8, a4 = imgsz / 16, a5 = imgsz / 32;
    return a3 * a3 + a4 * a4 + a5 * a5;
}

static int64_t case_size(const bench_case *c, const bench_options *o) { return o->imgsz >> c->level; }

static int case_channel_total(const bench_case *c) {
    int total = 0;
    for (int i = 0; i < c->part_count; i++) total += c->parts[i];
    return total;
}

static int64_t conv_out_size(const bench_case *c, const bench_options *o) {
    return yl_conv_output_size(case_size(c, o), c->kernel, c->stride, c->kernel / 2);
}

// The shape column, shared with torch_ops.py.
static void case_shape(const bench_case *c, const bench_options *o, char *buf, size_t size) {
    const int n = o->batch;
    const long long s = (long long)case_size(c, o);
    switch (c->kind) {
    case KIND_CONV:
        snprintf(buf, size, "x %dx%dx%lldx%lld w %dx%dx%dx%d s%d%s", n, c->channels, s, s, c->out_channels,
                 c->channels, c->kernel, c->kernel, c->stride, c->bias ? " +bias" : "");
        return;
    case KIND_MAXPOOL: snprintf(buf, size, "%dx%dx%lldx%lld k%d", n, c->channels, s, s, c->kernel); return;
    case KIND_CONCAT:
    case KIND_SPLIT: {
        int used = snprintf(buf, size, "%dx(", n);
        for (int i = 0; i < c->part_count && used < (int)size; i++)
            used += snprintf(buf + used, size - (size_t)used, "%s%d", i ? "+" : "", c->parts[i]);
        if (used < (int)size) snprintf(buf + used, size - (size_t)used, ")x%lldx%lld", s, s);
        return;
    }
    case KIND_SIGMOID:
    case KIND_DFL: snprintf(buf, size, "%dx%dx%lld", n, c->channels, (long long)anchor_count(o->imgsz)); return;
    default: snprintf(buf, size, "%dx%dx%lldx%lld", n, c->channels, s, s); return;
    }
}

// Work per call: floating-point operations for convolutions, bytes moved for the rest (each
// tensor the op reads or writes counted once; per-channel vectors left out). Keep in step with
// torch_ops.py.
static double case_work(const bench_case *c, const bench_options *o, bench_pass pass, bool *is_flops) {
    const double n = o->batch, s = (double)case_size(c, o), f = sizeof(float);
    const bool fwd = pass == PASS_FWD;
    *is_flops = c->kind == KIND_CONV;
    switch (c->kind) {
    case KIND_CONV: {
        const double so = (double)conv_out_size(c, o);
        return 2.0 * n * c->out_channels * c->channels * c->kernel * c->kernel * so * so;
    }
    case KIND_BN_SILU: return n * c->channels * s * s * f * (fwd ? 3 : 6);  // bwd: d_bn written, then read
    case KIND_BATCHNORM:
    case KIND_SILU:
    case KIND_MAXPOOL: return n * c->channels * s * s * f * (fwd ? 2 : 3);
    case KIND_UPSAMPLE: return n * c->channels * s * s * f * 5;  // x once, y four times as large
    case KIND_CONCAT:
    case KIND_SPLIT: return n * case_channel_total(c) * s * s * f * 2;
    case KIND_ADD: return n * c->channels * s * s * f * 3;
    case KIND_SIGMOID: return n * c->channels * (double)anchor_count(o->imgsz) * f * (fwd ? 2 : 3);
    case KIND_DFL: {
        const double x_bytes = n * c->channels * (double)anchor_count(o->imgsz) * f, y_bytes = x_bytes / 16.0;
        return fwd ? x_bytes + y_bytes : 2.0 * x_bytes + y_bytes;
    }
    }
    return 0.0;
}

// ---- device memory for one case -------------------------------------------------------------

typedef struct {
    yl_engine *eng;
    yl_backend *be;
    yl_device device;
    yl_rng rng;
    void *buffers[MAX_BUFFERS];
    int buffer_count;
} bench_ctx;

static void ctx_free_all(bench_ctx *ctx) {
    for (int i = 0; i < ctx->buffer_count; i++) ctx->be->free(ctx->be, ctx->buffers[i]);
    ctx->buffer_count = 0;
}

// A tensor on the context's device filled with uniform values in [low, high).
static yl_status ctx_tensor(bench_ctx *ctx, yl_tensor *out, int ndim, const int64_t *shape, float low, float high) {
    if (ctx->buffer_count == MAX_BUFFERS) return yl_error(YL_ERR_OOM, "bench: more than %d buffers", MAX_BUFFERS);
    *out = yl_tensor_view(NULL, YL_F32, ctx->device, ndim, shape);
    const size_t bytes = yl_tensor_nbytes(out);
    YL_TRY(ctx->be->alloc(ctx->be, bytes, &out->data));
    ctx->buffers[ctx->buffer_count++] = out->data;

    // Filled through a small host buffer so a large tensor needs no large host copy.
    enum { CHUNK = 1 << 20 };
    static float host[CHUNK];
    const size_t count = bytes / sizeof(float);
    for (size_t done = 0; done < count; done += CHUNK) {
        const size_t part = count - done < CHUNK ? count - done : CHUNK;
        yl_rng_fill_uniform(&ctx->rng, host, part, low, high);
        YL_TRY(ctx->be->copy_from_host(ctx->be, (float *)out->data + done, host, part * sizeof(float)));
    }
    return YL_OK;
}

static yl_status ctx_tensor4(bench_ctx *ctx, yl_tensor *out, int64_t n, int64_t c, int64_t h, int64_t w) {
    const int64_t shape[4] = {n, c, h, w};
    return ctx_tensor(ctx, out, 4, shape, -1.0f, 1.0f);
}

static yl_status ctx_vector(bench_ctx *ctx, yl_tensor *out, int64_t n, float low, float high) {
    return ctx_tensor(ctx, out, 1, &n, low, high);
}

// ---- running one pass -----------------------------------------------------------------------

// The tensors of one case; each kind uses the fields it needs.
typedef struct {
    yl_tensor x, y, dy, dx;
    yl_tensor w, dw, bias, dbias;              // conv
    yl_tensor gamma, beta, running_mean, running_var, save_mean, save_invstd, dgamma, dbeta, y_bn, d_bn;
    yl_tensor b, db;                           // add
    yl_tensor parts[MAX_PARTS], dparts[MAX_PARTS];  // concat/split
} case_tensors;

static yl_status setup_batchnorm_tensors(bench_ctx *ctx, int64_t channels, case_tensors *t) {
    YL_TRY(ctx_vector(ctx, &t->gamma, channels, 0.5f, 1.5f));
    YL_TRY(ctx_vector(ctx, &t->beta, channels, -0.5f, 0.5f));
    YL_TRY(ctx_vector(ctx, &t->running_mean, channels, -0.1f, 0.1f));
    YL_TRY(ctx_vector(ctx, &t->running_var, channels, 0.5f, 1.5f));
    YL_TRY(ctx_vector(ctx, &t->save_mean, channels, -0.1f, 0.1f));
    YL_TRY(ctx_vector(ctx, &t->save_invstd, channels, 0.5f, 2.0f));
    YL_TRY(ctx_vector(ctx, &t->dgamma, channels, 0.0f, 0.0f));
    YL_TRY(ctx_vector(ctx, &t->dbeta, channels, 0.0f, 0.0f));
    return YL_OK;
}

// x, y, dy and dx of one (n, ch, s, s) shape.
static yl_status setup_same_shape_tensors(bench_ctx *ctx, int64_t n, int64_t ch, int64_t s, case_tensors *t) {
    YL_TRY(ctx_tensor4(ctx, &t->x, n, ch, s, s));
    YL_TRY(ctx_tensor4(ctx, &t->y, n, ch, s, s));
    YL_TRY(ctx_tensor4(ctx, &t->dy, n, ch, s, s));
    YL_TRY(ctx_tensor4(ctx, &t->dx, n, ch, s, s));
    return YL_OK;
}

static yl_status case_setup(bench_ctx *ctx, const bench_case *c, const bench_options *o, case_tensors *t) {
    memset(t, 0, sizeof *t);
    const int64_t n = o->batch, ch = c->channels, s = case_size(c, o);
    switch (c->kind) {
    case KIND_CONV: {
        const int64_t so = conv_out_size(c, o);
        YL_TRY(ctx_tensor4(ctx, &t->x, n, ch, s, s));
        YL_TRY(ctx_tensor4(ctx, &t->dx, n, ch, s, s));
        YL_TRY(ctx_tensor4(ctx, &t->y, n, c->out_channels, so, so));
        YL_TRY(ctx_tensor4(ctx, &t->dy, n, c->out_channels, so, so));
        YL_TRY(ctx_tensor4(ctx, &t->w, c->out_channels, ch, c->kernel, c->kernel));
        YL_TRY(ctx_tensor4(ctx, &t->dw, c->out_channels, ch, c->kernel, c->kernel));
        if (c->bias) {
            YL_TRY(ctx_vector(ctx, &t->bias, c->out_channels, -1.0f, 1.0f));
            YL_TRY(ctx_vector(ctx, &t->dbias, c->out_channels, 0.0f, 0.0f));
        }
        return YL_OK;
    }
    case KIND_BN_SILU:
        YL_TRY(ctx_tensor4(ctx, &t->y_bn, n, ch, s, s));
        YL_TRY(ctx_tensor4(ctx, &t->d_bn, n, ch, s, s));
        YL_TRY(setup_batchnorm_tensors(ctx, ch, t));
        return setup_same_shape_tensors(ctx, n, ch, s, t);
    case KIND_BATCHNORM:
        YL_TRY(setup_batchnorm_tensors(ctx, ch, t));
        return setup_same_shape_tensors(ctx, n, ch, s, t);
    case KIND_SILU:
    case KIND_MAXPOOL: return setup_same_shape_tensors(ctx, n, ch, s, t);
    case KIND_ADD:
        YL_TRY(ctx_tensor4(ctx, &t->x, n, ch, s, s));
        YL_TRY(ctx_tensor4(ctx, &t->b, n, ch, s, s));
        YL_TRY(ctx_tensor4(ctx, &t->y, n, ch, s, s));
        YL_TRY(ctx_tensor4(ctx, &t->dy, n, ch, s, s));
        YL_TRY(ctx_tensor4(ctx, &t->dx, n, ch, s, s));
        YL_TRY(ctx_tensor4(ctx, &t->db, n, ch, s, s));
        return YL_OK;
    case KIND_UPSAMPLE:
        YL_TRY(ctx_tensor4(ctx, &t->x, n, ch, s, s));
        YL_TRY(ctx_tensor4(ctx, &t->dx, n, ch, s, s));
        YL_TRY(ctx_tensor4(ctx, &t->y, n, ch, 2 * s, 2 * s));
        YL_TRY(ctx_tensor4(ctx, &t->dy, n, ch, 2 * s, 2 * s));
        return YL_OK;
    case KIND_CONCAT:
    case KIND_SPLIT: {
        const int64_t total = case_channel_total(c);
        YL_TRY(ctx_tensor4(ctx, &t->x, n, total, s, s));
        YL_TRY(ctx_tensor4(ctx, &t->dx, n, total, s, s));
        for (int i = 0; i < c->part_count; i++) {
            YL_TRY(ctx_tensor4(ctx, &t->parts[i], n, c->parts[i], s, s));
            YL_TRY(ctx_tensor4(ctx, &t->dparts[i], n, c->parts[i], s, s));
        }
        return YL_OK;
    }
    case KIND_SIGMOID: {
        const int64_t a = anchor_count(o->imgsz), shape[3] = {n, ch, a};
        YL_TRY(ctx_tensor(ctx, &t->x, 3, shape, -4.0f, 4.0f));
        YL_TRY(ctx_tensor(ctx, &t->y, 3, shape, 0.0f, 1.0f));
        YL_TRY(ctx_tensor(ctx, &t->dy, 3, shape, -1.0f, 1.0f));
        YL_TRY(ctx_tensor(ctx, &t->dx, 3, shape, -1.0f, 1.0f));
        return YL_OK;
    }
    case KIND_DFL: {
        const int64_t a = anchor_count(o->imgsz), x_shape[3] = {n, ch, a}, y_shape[3] = {n, 4, a};
        YL_TRY(ctx_tensor(ctx, &t->x, 3, x_shape, -4.0f, 4.0f));
        YL_TRY(ctx_tensor(ctx, &t->dx, 3, x_shape, -1.0f, 1.0f));
        YL_TRY(ctx_tensor(ctx, &t->y, 3, y_shape, 0.0f, 15.0f));
        YL_TRY(ctx_tensor(ctx, &t->dy, 3, y_shape, -1.0f, 1.0f));
        return YL_OK;
    }
    }
    return YL_OK;
}

// One call of the pass; backward passes overwrite their outputs (accumulate = false).
static yl_status case_run(bench_ctx *ctx, const bench_case *c, case_tensors *t, bench_pass pass) {
    yl_engine *eng = ctx->eng;
    const bool fwd = pass == PASS_FWD;
    const yl_batchnorm_params bn = {.eps = 1e-3f, .momentum = 0.03f};
    switch (c->kind) {
    case KIND_CONV: {
        const yl_conv2d_params p = {.stride = c->stride, .pad = c->kernel / 2};
        const yl_tensor *bias = c->bias ? &t->bias : NULL;
        yl_tensor *dbias = c->bias ? &t->dbias : NULL;
        if (pass == PASS_FWD) return yl_conv2d_forward(eng, &t->x, &t->w, bias, &t->y, &p);
        if (pass == PASS_BWD_DATA) return yl_conv2d_backward_data(eng, &t->dy, &t->w, &t->dx, &p, false);
        return yl_conv2d_backward_weight(eng, &t->x, &t->dy, &t->dw, dbias, &p, false);
    }
    case KIND_BN_SILU:
        if (fwd)
            return yl_bn_silu_forward_train(eng, &t->x, &t->gamma, &t->beta, &t->running_mean, &t->running_var,
                                            &t->y_bn, &t->y, &t->save_mean, &t->save_invstd, &bn);
        YL_TRY(yl_silu_backward(eng, &t->y_bn, &t->dy, &t->d_bn, false));
        return yl_batchnorm2d_backward_train(eng, &t->x, &t->d_bn, &t->gamma, &t->save_mean, &t->save_invstd, &t->dx,
                                             &t->dgamma, &t->dbeta, false);
    case KIND_BATCHNORM:
        if (fwd)
            return yl_batchnorm2d_forward_train(eng, &t->x, &t->gamma, &t->beta, &t->running_mean, &t->running_var,
                                                &t->y, &t->save_mean, &t->save_invstd, &bn);
        return yl_batchnorm2d_backward_train(eng, &t->x, &t->dy, &t->gamma, &t->save_mean, &t->save_invstd, &t->dx,
                                             &t->dgamma, &t->dbeta, false);
    case KIND_SILU:
        return fwd ? yl_silu_forward(eng, &t->x, &t->y) : yl_silu_backward(eng, &t->x, &t->dy, &t->dx, false);
    case KIND_MAXPOOL: {
        const yl_maxpool2d_params p = {.kernel = c->kernel, .stride = 1, .pad = c->kernel / 2};
        return fwd ? yl_maxpool2d_forward(eng, &t->x, &t->y, &p)
                   : yl_maxpool2d_backward(eng, &t->x, &t->dy, &t->dx, &p, false);
    }
    case KIND_UPSAMPLE:
        return fwd ? yl_upsample_nearest2x_forward(eng, &t->x, &t->y)
                   : yl_upsample_nearest2x_backward(eng, &t->dy, &t->dx, false);
    case KIND_CONCAT:
    case KIND_SPLIT: {
        // A concat's backward is a split, and a split's a concat.
        const bool concat_now = (c->kind == KIND_CONCAT) == fwd;
        yl_tensor *whole = fwd ? &t->x : &t->dx;
        yl_tensor *pieces = fwd ? t->parts : t->dparts;
        yl_tensor *piece_ptrs[MAX_PARTS];
        for (int i = 0; i < c->part_count; i++) piece_ptrs[i] = &pieces[i];
        if (concat_now)
            return yl_concat_channels(eng, (const yl_tensor *const *)piece_ptrs, c->part_count, whole, false);
        return yl_split_channels(eng, whole, piece_ptrs, c->part_count, false);
    }
    case KIND_ADD:
        return fwd ? yl_add_forward(eng, &t->x, &t->b, &t->y) : yl_add_backward(eng, &t->dy, &t->dx, &t->db, false);
    case KIND_SIGMOID:
        return fwd ? yl_sigmoid_forward(eng, &t->x, &t->y) : yl_sigmoid_backward(eng, &t->y, &t->dy, &t->dx, false);
    case KIND_DFL:
        return fwd ? yl_dfl_decode_forward(eng, &t->x, &t->y)
                   : yl_dfl_decode_backward(eng, &t->x, &t->dy, &t->dx, false);
    }
    return yl_error(YL_ERR_INVALID_ARG, "bench: unknown case kind %d", (int)c->kind);
}

// ---- timing ---------------------------------------------------------------------------------

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

static int compare_doubles(const void *a, const void *b) {
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

// The median of `reps` timed calls after one untimed warm-up call (first touch of the
// outputs, workspace growth, cuDNN algorithm choice).
static yl_status time_pass(bench_ctx *ctx, const bench_case *c, case_tensors *t, bench_pass pass, int reps,
                           double *median_ms) {
    double times[MAX_REPS];
    YL_TRY(case_run(ctx, c, t, pass));
    YL_TRY(ctx->be->synchronize(ctx->be));
    for (int r = 0; r < reps; r++) {
        const double start = now_ms();
        YL_TRY(case_run(ctx, c, t, pass));
        YL_TRY(ctx->be->synchronize(ctx->be));
        times[r] = now_ms() - start;
    }
    qsort(times, (size_t)reps, sizeof times[0], compare_doubles);
    *median_ms = reps % 2 ? times[reps / 2] : 0.5 * (times[reps / 2 - 1] + times[reps / 2]);
    return YL_OK;
}

// ---- output ---------------------------------------------------------------------------------

#define CSV_HEADER "device,op,dir,shape,ms,rate,unit,status"

// A message made safe for one CSV field.
static void csv_clean(const char *text, char *buf, size_t size) {
    size_t i = 0;
    for (; text[i] && i + 1 < size; i++) buf[i] = (text[i] == ',' || text[i] == '\n') ? ';' : text[i];
    buf[i] = '\0';
}

static void print_row(const bench_options *o, const char *device, const char *label, bench_pass pass,
                      const char *shape, yl_status status, double ms, double work, bool is_flops) {
    const char *unit = is_flops ? "GFLOP/s" : "GB/s";
    const double rate = status == YL_OK && ms > 0.0 ? work / (ms * 1e-3) / 1e9 : 0.0;
    if (o->csv) {
        char message[256];
        csv_clean(status == YL_OK ? "ok" : yl_last_error(), message, sizeof message);
        if (status == YL_OK)
            printf("%s,%s,%s,%s,%.4f,%.3f,%s,ok\n", device, label, pass_name(pass), shape, ms, rate, unit);
        else
            printf("%s,%s,%s,%s,,,%s,%s\n", device, label, pass_name(pass), shape, unit, message);
    } else if (status == YL_OK) {
        printf("%-5s %-22s %-10s %-38s %10.3f %9.2f %s\n", device, label, pass_name(pass), shape, ms, rate, unit);
    } else {
        printf("%-5s %-22s %-10s %-38s %10s  (%s)\n", device, label, pass_name(pass), shape, "n/a", yl_last_error());
    }
    fflush(stdout);
}

// ---- driver ---------------------------------------------------------------------------------

static void run_case(bench_ctx *ctx, const bench_case *c, const bench_options *o) {
    char label[64], shape[96];
    case_label(c, label, sizeof label);
    case_shape(c, o, shape, sizeof shape);
    bench_pass passes[4];
    const int pass_count = case_passes(c, passes);
    const char *device = yl_device_name(ctx->device);

    case_tensors t;
    yl_clear_error();
    const yl_status setup = case_setup(ctx, c, o, &t);
    for (int i = 0; i < pass_count; i++) {
        bool is_flops;
        const double work = case_work(c, o, passes[i], &is_flops);
        double ms = 0.0;
        yl_status status = setup;
        if (status == YL_OK) {
            yl_clear_error();
            status = time_pass(ctx, c, &t, passes[i], o->reps, &ms);
        }
        print_row(o, device, label, passes[i], shape, status, ms, work, is_flops);
    }
    ctx_free_all(ctx);
}

static void run_device(yl_engine *eng, yl_device device, const bench_options *o) {
    bench_ctx ctx = {.eng = eng, .be = yl_engine_backend(eng, device), .device = device};
    yl_rng_seed(&ctx.rng, 20240607, 1);
    for (int i = 0; i < CASE_COUNT; i++) {
        char label[64];
        case_label(&CASES[i], label, sizeof label);
        if (o->filter[0] && !strstr(label, o->filter)) continue;
        run_case(&ctx, &CASES[i], o);
    }
}

static void log_to_stderr(void *user, const char *message) {
    (void)user;
    fprintf(stderr, "bench_ops: %s\n", message);
}

int main(int argc, char **argv) {
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            print_usage(stdout);
            return 0;
        }
    bench_options o;
    if (!parse_options(argc, argv, &o)) {
        print_usage(stderr);
        return 2;
    }
    yl_set_num_threads(o.threads);

    const bool want_cuda = o.devices != DEVICES_CPU;
    yl_engine eng;
    yl_engine_options options = {
        .device = want_cuda ? YL_DEVICE_CUDA : YL_DEVICE_CPU,
        .allow_cpu_fallback = o.devices == DEVICES_ALL,
        .log = log_to_stderr,
    };
    if (yl_engine_init(&eng, &options) != YL_OK) {
        fprintf(stderr, "bench_ops: cannot start the %s backend: %s\n", want_cuda ? "CUDA" : "CPU", yl_last_error());
        return 1;
    }
    const bool have_cuda = yl_engine_backend(&eng, YL_DEVICE_CUDA) != NULL;
    const bool run_cpu = o.devices != DEVICES_CUDA;

    if (o.csv) {
        printf("# yoloop bench_ops batch=%d imgsz=%d reps=%d threads=%d cuda=%s\n", o.batch, o.imgsz, o.reps,
               yl_get_num_threads(), have_cuda ? "yes" : "no");
        printf(CSV_HEADER "\n");
    } else {
        printf("yoloop op benchmark: batch=%d imgsz=%d reps=%d (median after 1 warm-up) threads=%d cuda=%s\n",
               o.batch, o.imgsz, o.reps, yl_get_num_threads(), have_cuda ? "yes" : "no");
        printf("%-5s %-22s %-10s %-38s %10s %9s %s\n", "dev", "op", "dir", "shape", "ms", "rate", "unit");
    }
    if (run_cpu) run_device(&eng, YL_DEVICE_CPU, &o);
    if (have_cuda) run_device(&eng, YL_DEVICE_CUDA, &o);
    yl_engine_release(&eng);
    return 0;
}
