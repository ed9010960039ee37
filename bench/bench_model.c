// Model benchmark, yoloop side: yolov8n's eval forward (BN with running statistics, no
// gradients, Detect's decode included: what validation and prediction run) and its training
// step without the loss (zero_grad, training forward, backward of sum_l <map_l, R_l> for fixed
// random R_l), per image, at each imgsz x batch. bench/ultralytics_model.py times Ultralytics
// 8.3.166 on the same weights and images and checks the eval outputs agree;
// bench/run_model.sh runs the two.
//
//   bench_model [threads=0] [reps=5] [warmup=1] [batch=1,8] [imgsz=320,640] [nc=80] [seed=1]
//               [device=all|cpu|cuda] [weights=<state_dict.safetensors>] [out=<file.safetensors>]
//
// weights: an Ultralytics-keyed state_dict loaded strictly (without it: our own seeded init).
// out: writes the settings, the timings, the images and every eval output for the Python side.
// Method: all eval cases first, then all training cases (training forwards move BN's running
// statistics, so the eval outputs of both sides come from the loaded weights); per case `warmup`
// untimed calls, then the median of `reps` calls, each timed alone with CLOCK_MONOTONIC (CUDA:
// the device synchronised before each clock reading).
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/core/rng.h"
#include "engine/core/threads.h"
#include "engine/model/model.h"
#include "weights/checkpoint.h"
#include "weights/load_state.h"
#include "weights/safetensors_write.h"

#define MAX_LIST 4
#define MAX_REPS 1000
#define MAX_CASES (2 * 2 * MAX_LIST * MAX_LIST)
#define MAX_OUT (MAX_LIST + MAX_CASES / 2)
#define MAX_META (16 + 2 * MAX_CASES)

typedef struct {
    int threads, reps, warmup, nc, seed;
    int batches[MAX_LIST], batch_count;
    int imgszs[MAX_LIST], imgsz_count;
    bool cpu, cuda;
    const char *weights, *out;
} options;

typedef struct {
    char name[40];  // "cpu.eval.320.b1": the key both sides use
    double ms;      // median of one call; < 0 when the case failed
    int batch;
    char error[200];
} case_result;

// What goes into out=: named host tensors and text metadata, all owned here.
typedef struct {
    yl_named_tensor tensors[MAX_OUT];
    int tensor_count;
    yl_metadata_item meta[MAX_META];
    int meta_count;
} out_file;

typedef struct {
    options o;
    float *images[MAX_LIST];  // per imgsz: (max batch, 3, s, s) uniform in [0, 1]
    int max_batch;
    case_result cases[MAX_CASES];
    int case_count;
    out_file out;
} bench;

// ---- options ----------------------------------------------------------------------------------

static void usage(FILE *f) {
    fprintf(f,
            "usage: bench_model [threads=0] [reps=5] [warmup=1] [batch=1,8] [imgsz=320,640] [nc=80] [seed=1]\n"
            "                   [device=all|cpu|cuda] [weights=<state_dict.safetensors>] [out=<file>]\n"
            "Times yolov8n's eval forward and its forward + backward per image. threads=0: every core.\n");
}

static bool parse_int(const char *text, int low, int high, int *out) {
    char *end;
    long v = strtol(text, &end, 10);
    if (end == text || (*end && *end != ',') || v < low || v > high) return false;
    *out = (int)v;
    return true;
}

static bool parse_list(const char *text, int low, int high, int multiple, int *out, int *count) {
    *count = 0;
    for (const char *p = text; *p; p++) {
        if (*count == MAX_LIST || !parse_int(p, low, high, &out[*count]) || out[*count] % multiple) return false;
        (*count)++;
        p = strchr(p, ',');
        if (!p) break;
    }
    return *count > 0;
}

static bool parse_options(int argc, char **argv, options *o) {
    *o = (options){.threads = 0, .reps = 5, .warmup = 1, .nc = 80, .seed = 1, .cpu = true, .cuda = true,
                   .batches = {1, 8}, .batch_count = 2, .imgszs = {320, 640}, .imgsz_count = 2};
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i], *value = strchr(arg, '=');
        if (!strcmp(arg, "-h") || !strcmp(arg, "--help")) {
            usage(stdout);
            exit(0);
        }
        if (!value) {
            fprintf(stderr, "bench_model: '%s' is not key=value\n", arg);
            return false;
        }
        size_t n = (size_t)(value++ - arg);
#define KEY(name) (n == strlen(name) && !strncmp(arg, name, n))
        bool ok = true;
        if (KEY("threads")) ok = parse_int(value, 0, 1024, &o->threads) && !strchr(value, ',');
        else if (KEY("reps")) ok = parse_int(value, 1, MAX_REPS, &o->reps) && !strchr(value, ',');
        else if (KEY("warmup")) ok = parse_int(value, 0, 100, &o->warmup) && !strchr(value, ',');
        else if (KEY("nc")) ok = parse_int(value, 1, 1000, &o->nc) && !strchr(value, ',');
        else if (KEY("seed")) ok = parse_int(value, 0, 1 << 30, &o->seed) && !strchr(value, ',');
        else if (KEY("batch")) ok = parse_list(value, 1, 256, 1, o->batches, &o->batch_count);
        else if (KEY("imgsz")) ok = parse_list(value, 64, 2048, 32, o->imgszs, &o->imgsz_count);
        else if (KEY("weights")) o->weights = value;
        else if (KEY("out")) o->out = value;
        else if (KEY("device")) {
            ok = !strcmp(value, "all") || !strcmp(value, "cpu") || !strcmp(value, "cuda");
            o->cpu = strcmp(value, "cuda") != 0;
            o->cuda = strcmp(value, "cpu") != 0;
        } else {
            fprintf(stderr, "bench_model: unknown option '%.*s'\n", (int)n, arg);
            return false;
        }
#undef KEY
        if (!ok) {
            fprintf(stderr, "bench_model: bad value in '%s' (imgsz: multiples of 32 from 64; lists: up to %d)\n", arg,
                    MAX_LIST);
            return false;
        }
    }
    return true;
}

// ---- out file --------------------------------------------------------------------------------

#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
static void add_meta(out_file *f, const char *key, const char *fmt, ...) {
    if (f->meta_count == MAX_META) return;
    char value[256];
    va_list args;
    va_start(args, fmt);
    vsnprintf(value, sizeof value, fmt, args);
    va_end(args);
    for (char *c = value; *c; c++)  // plain text: keep the JSON header valid whatever a message says
        if (*c == '"' || *c == '\\' || (unsigned char)*c < 0x20) *c = '\'';
    yl_metadata_item *m = &f->meta[f->meta_count++];
    m->key = strdup(key);
    m->value = strdup(value);
}

// Takes ownership of `data` (freed with the file).
static void add_tensor(out_file *f, const char *name, float *data, int ndim, const int64_t *shape) {
    if (f->tensor_count == MAX_OUT) {
        free(data);
        return;
    }
    yl_named_tensor *t = &f->tensors[f->tensor_count++];
    memset(t, 0, sizeof *t);
    t->name = strdup(name);
    t->dtype = YL_F32;
    t->ndim = ndim;
    size_t numel = 1;
    for (int d = 0; d < ndim; d++) numel *= (size_t)(t->shape[d] = shape[d]);
    t->data = data;
    t->nbytes = numel * sizeof(float);
}

static void free_out(out_file *f) {
    for (int i = 0; i < f->tensor_count; i++) {
        free(f->tensors[i].name);
        free((void *)f->tensors[i].data);
    }
    for (int i = 0; i < f->meta_count; i++) {
        free((void *)f->meta[i].key);
        free((void *)f->meta[i].value);
    }
}

// ---- timing ----------------------------------------------------------------------------------

static double now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec * 1e-6;
}

static int compare_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

typedef yl_status (*step_fn)(yl_model *m, void *ctx);

// `warmup` untimed calls, then the median of `reps` timed ones.
static yl_status time_median(const options *o, yl_backend *be, yl_model *m, step_fn step, void *ctx, double *ms) {
    double times[MAX_REPS];
    for (int rep = 0; rep < o->warmup + o->reps; rep++) {
        YL_TRY(be->synchronize(be));
        double t0 = now_ms();
        YL_TRY(step(m, ctx));
        YL_TRY(be->synchronize(be));
        if (rep >= o->warmup) times[rep - o->warmup] = now_ms() - t0;
    }
    qsort(times, (size_t)o->reps, sizeof(double), compare_double);
    int r = o->reps;
    *ms = r % 2 ? times[r / 2] : 0.5 * (times[r / 2 - 1] + times[r / 2]);
    return YL_OK;
}

typedef struct {
    yl_tensor images, decoded;
    yl_tensor d_maps[YL_YOLOV8_LEVELS];
} step_inputs;

static yl_status eval_step(yl_model *m, void *ctx) {
    step_inputs *in = ctx;
    return yl_model_forward_eval_decoded(m, &in->images, &in->decoded, NULL);
}

static yl_status train_step(yl_model *m, void *ctx) {
    step_inputs *in = ctx;
    yl_tensor maps[YL_YOLOV8_LEVELS];
    YL_TRY(yl_model_zero_grad(m));
    YL_TRY(yl_model_forward_train(m, &in->images, maps));
    return yl_model_backward(m, in->d_maps, NULL);
}

// ---- cases -----------------------------------------------------------------------------------

static void *device_copy(yl_backend *be, const float *host, size_t count, yl_status *status) {
    void *p = NULL;
    if (*status == YL_OK) *status = be->alloc(be, count * sizeof(float), &p);
    if (*status == YL_OK) *status = be->copy_from_host(be, p, host, count * sizeof(float));
    return p;
}

// One (device, mode, imgsz, batch) case on a planned model.
static yl_status run_case(bench *b, yl_model *m, yl_backend *be, bool train, int s_index, int batch, double *ms) {
    const options *o = &b->o;
    int s = o->imgszs[s_index];
    size_t n_img = (size_t)batch * 3 * s * s;
    yl_device dev = be->device;
    step_inputs in = {0};
    yl_status status = YL_OK;
    void *images = dev == YL_DEVICE_CPU ? b->images[s_index] : device_copy(be, b->images[s_index], n_img, &status);
    void *grads[YL_YOLOV8_LEVELS] = {NULL, NULL, NULL};
    in.images = yl_tensor_4d(images, dev, batch, 3, s, s);
    if (status == YL_OK && train) {
        yl_rng rng;
        yl_rng_seed(&rng, (uint64_t)o->seed, 1000u + (uint64_t)s);
        for (int l = 0; l < YL_YOLOV8_LEVELS && status == YL_OK; l++) {
            int g = s >> (3 + l);
            size_t n = (size_t)batch * (size_t)(4 * YL_YOLOV8_REG_MAX + o->nc) * (size_t)(g * g);
            float *host = malloc(n * sizeof(float));
            if (!host) status = yl_error(YL_ERR_OOM, "bench_model: out of memory");
            if (host) yl_rng_fill_uniform(&rng, host, n, -1.0f, 1.0f);
            grads[l] = dev == YL_DEVICE_CPU ? host : device_copy(be, host, n, &status);
            if (dev != YL_DEVICE_CPU) free(host);
            in.d_maps[l] = yl_tensor_4d(grads[l], dev, batch, 4 * YL_YOLOV8_REG_MAX + o->nc, g, g);
        }
    }
    if (status == YL_OK) status = time_median(o, be, m, train ? train_step : eval_step, &in, ms);
    if (status == YL_OK && !train) {  // keep the eval output for the Python side's check
        size_t n = (size_t)yl_tensor_numel(&in.decoded);
        float *host = malloc(n * sizeof(float));
        status = host ? be->copy_to_host(be, host, in.decoded.data, n * sizeof(float))
                      : yl_error(YL_ERR_OOM, "bench_model: out of memory");
        char name[48];
        snprintf(name, sizeof name, "output.%s.%d.b%d", yl_device_name(dev), s, batch);
        if (status == YL_OK)
            add_tensor(&b->out, name, host, 3, in.decoded.shape);
        else
            free(host);
    }
    for (int l = 0; l < YL_YOLOV8_LEVELS; l++)
        if (dev == YL_DEVICE_CPU)
            free(grads[l]);
        else if (grads[l])
            be->free(be, grads[l]);
    if (dev != YL_DEVICE_CPU && images) be->free(be, images);
    return status;
}

static case_result *add_case(bench *b, yl_device dev, bool train, int imgsz, int batch) {
    case_result *c = &b->cases[b->case_count++];
    snprintf(c->name, sizeof c->name, "%s.%s.%d.b%d", yl_device_name(dev), train ? "train" : "eval", imgsz, batch);
    c->ms = -1.0;
    c->batch = batch;
    c->error[0] = '\0';
    return c;
}

static void fail_case(case_result *c, yl_status status) {
    snprintf(c->error, sizeof c->error, "%s: %s", yl_status_name(status), yl_last_error());
    c->ms = -1.0;
}

static yl_status build_model(const options *o, yl_engine *eng, const yl_tensor_set *weights, yl_model **m) {
    yl_model_config cfg;
    YL_TRY(yl_model_config_from_scale(&cfg, "n", o->nc));
    YL_TRY(yl_model_create(m, eng, &cfg, (uint64_t)o->seed));
    return weights ? yl_model_load_tensor_set(*m, weights, YL_LOAD_STRICT, NULL) : YL_OK;
}

static void run_device(bench *b, yl_engine *eng, yl_device dev, const yl_tensor_set *weights) {
    const options *o = &b->o;
    yl_backend *be = yl_engine_backend(eng, dev);
    yl_model *m = NULL;
    yl_status built = build_model(o, eng, weights, &m);
    for (int train = 0; train <= 1; train++)  // every eval case before any training forward
        for (int si = 0; si < o->imgsz_count; si++)
            for (int bi = 0; bi < o->batch_count; bi++) {
                int s = o->imgszs[si], batch = o->batches[bi];
                case_result *c = add_case(b, dev, train, s, batch);
                yl_status status = built;
                if (status == YL_OK) status = yl_model_plan(m, batch, s, s, train);
                if (status == YL_OK) status = run_case(b, m, be, train, si, batch, &c->ms);
                if (status != YL_OK) fail_case(c, status);
                fprintf(stderr, "bench_model: %-22s %s\n", c->name, c->ms >= 0 ? "done" : c->error);
            }
    yl_model_destroy(m);
}

// ---- main ------------------------------------------------------------------------------------

static void print_table(const bench *b) {
    printf("%-22s %12s %10s\n", "case", "ms/call", "ms/img");
    for (int i = 0; i < b->case_count; i++) {
        const case_result *c = &b->cases[i];
        if (c->ms >= 0)
            printf("%-22s %12.1f %10.1f\n", c->name, c->ms, c->ms / c->batch);
        else
            printf("%-22s %12s %10s  %s\n", c->name, "failed", "-", c->error);
    }
}

static void record(bench *b, const char *cuda_note) {
    const options *o = &b->o;
    out_file *f = &b->out;
    char list[64];
    add_meta(f, "bench.threads", "%d", yl_get_num_threads());
    add_meta(f, "bench.reps", "%d", o->reps);
    add_meta(f, "bench.warmup", "%d", o->warmup);
    add_meta(f, "bench.nc", "%d", o->nc);
    add_meta(f, "bench.seed", "%d", o->seed);
    add_meta(f, "bench.weights", "%s", o->weights ? o->weights : "");
    list[0] = '\0';
    for (int i = 0; i < o->batch_count; i++)
        snprintf(list + strlen(list), sizeof list - strlen(list), "%s%d", i ? "," : "", o->batches[i]);
    add_meta(f, "bench.batches", "%s", list);
    list[0] = '\0';
    for (int i = 0; i < o->imgsz_count; i++)
        snprintf(list + strlen(list), sizeof list - strlen(list), "%s%d", i ? "," : "", o->imgszs[i]);
    add_meta(f, "bench.imgszs", "%s", list);
    add_meta(f, "yoloop.cuda", "%s", cuda_note);
    for (int i = 0; i < b->case_count; i++) {
        char key[64];
        snprintf(key, sizeof key, "yoloop.%s", b->cases[i].name);
        if (b->cases[i].ms >= 0)
            add_meta(f, key, "%.6f", b->cases[i].ms);
        else
            add_meta(f, key, "failed: %s", b->cases[i].error);
    }
}

int main(int argc, char **argv) {
    bench b = {0};
    if (!parse_options(argc, argv, &b.o)) {
        usage(stderr);
        return 2;
    }
    const options *o = &b.o;
    yl_set_num_threads(o->threads);
    for (int i = 0; i < o->batch_count; i++)
        if (o->batches[i] > b.max_batch) b.max_batch = o->batches[i];
    yl_rng rng;
    yl_rng_seed(&rng, (uint64_t)o->seed, 0);
    for (int i = 0; i < o->imgsz_count; i++) {
        int s = o->imgszs[i];
        size_t n = (size_t)b.max_batch * 3 * s * s;
        b.images[i] = malloc(n * sizeof(float));
        if (!b.images[i]) {
            fprintf(stderr, "bench_model: out of memory for the images\n");
            return 1;
        }
        yl_rng_fill_uniform(&rng, b.images[i], n, 0.0f, 1.0f);
    }

    yl_safetensors st;
    yl_tensor_set weights = {0};
    bool have_weights = false;
    if (o->weights) {
        if (yl_safetensors_open(&st, o->weights) != YL_OK || yl_safetensors_as_tensor_set(&st, &weights) != YL_OK) {
            fprintf(stderr, "bench_model: %s\n", yl_last_error());
            return 1;
        }
        have_weights = true;
    }

    const char *cuda_note = "skipped: not requested (device=cpu)";
    char note[256];
    if (o->cpu) {
        yl_engine eng;
        yl_engine_options eo = {.device = YL_DEVICE_CPU};
        if (yl_engine_init(&eng, &eo) != YL_OK) {
            fprintf(stderr, "bench_model: CPU engine: %s\n", yl_last_error());
            return 1;
        }
        run_device(&b, &eng, YL_DEVICE_CPU, have_weights ? &weights : NULL);
        yl_engine_release(&eng);
    }
    if (o->cuda) {
        yl_engine eng;
        yl_engine_options eo = {.device = YL_DEVICE_CUDA, .allow_cpu_fallback = false};
        if (yl_engine_init(&eng, &eo) == YL_OK) {
            cuda_note = "ran";
            run_device(&b, &eng, YL_DEVICE_CUDA, have_weights ? &weights : NULL);
            yl_engine_release(&eng);
        } else {
            snprintf(note, sizeof note, "skipped: %s", yl_last_error());
            cuda_note = note;
        }
    }

    printf("yoloop model benchmark: yolov8n nc=%d, threads=%d, reps=%d (median after %d warm-up), weights=%s\n", o->nc,
           yl_get_num_threads(), o->reps, o->warmup, o->weights ? o->weights : "(own init)");
    print_table(&b);
    printf("cuda: %s\n", cuda_note);

    int rc = 0;
    if (o->out) {
        record(&b, cuda_note);
        for (int i = 0; i < o->imgsz_count; i++) {
            char name[32];
            int s = o->imgszs[i];
            snprintf(name, sizeof name, "images.%d", s);
            const int64_t shape[4] = {b.max_batch, 3, s, s};
            add_tensor(&b.out, name, b.images[i], 4, shape);
            b.images[i] = NULL;
        }
        yl_tensor_set set = {b.out.tensors, b.out.tensor_count};
        if (yl_safetensors_write(o->out, &set, b.out.meta, b.out.meta_count) != YL_OK) {
            fprintf(stderr, "bench_model: %s\n", yl_last_error());
            rc = 1;
        }
    }
    for (int i = 0; i < b.case_count; i++) rc |= b.cases[i].ms < 0;
    free_out(&b.out);
    for (int i = 0; i < o->imgsz_count; i++) free(b.images[i]);
    if (have_weights) {
        yl_safetensors_tensor_set_free(&weights);
        yl_safetensors_close(&st);
    }
    return rc;
}
