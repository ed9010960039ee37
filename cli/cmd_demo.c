// `yoloop demo`: builds YOLOv8, runs training steps (zero_grad, forward, backward) on a
// synthetic batch with the loss L = sum(maps * r), and reports timings and the gradient norm.
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "engine/core/arena.h"
#include "engine/core/rng.h"
#include "engine/core/threads.h"
#include "engine/model/model.h"

typedef struct {
    char scale[8];
    int nc, imgsz, batch, steps, threads;
    uint64_t seed;
    yl_device device;
} demo_options;

static void print_help(FILE *out) {
    fprintf(out,
            "usage: yoloop demo [key=value ...]\n"
            "\n"
            "Builds a YOLOv8 detection model, makes a random batch and runs training steps\n"
            "(zero_grad, forward, backward of L = sum(head maps * r) for random r), printing the\n"
            "model summary, forward/backward times, images/s and the gradient norm.\n"
            "\n"
            "  scale=n        model scale: n, s, m, l or x\n"
            "  nc=3           number of classes (1..1000)\n"
            "  imgsz=320      image size, a multiple of 32 (32..2048)\n"
            "  batch=2        images per batch (1..256)\n"
            "  steps=2        training steps to time (1..1000)\n"
            "  device=cpu     cpu or cuda (cuda falls back to cpu, with a message, when unavailable)\n"
            "  seed=0         seed for the weights and the batch\n"
            "  threads=0      CPU threads (0 = all cores)\n");
}

// Returns 0 on success, else the exit code.
static int parse_options(int argc, char **argv, demo_options *o) {
    const char *cmd = "demo";
    *o = (demo_options){.scale = "n", .nc = 3, .imgsz = 320, .batch = 2, .steps = 2, .threads = 0, .seed = 0,
                        .device = YL_DEVICE_CPU};
    for (int i = 0; i < argc; i++) {
        char key[32];
        const char *value;
        if (!yl_arg_split(cmd, argv[i], key, sizeof key, &value)) return 2;
        bool ok = true;
        if (!strcmp(key, "scale")) {
            if (strlen(value) != 1 || !strchr("nsmlx", value[0])) {
                fprintf(stderr, "demo: scale=%s: expected one of n, s, m, l, x\n", value);
                return 2;
            }
            snprintf(o->scale, sizeof o->scale, "%s", value);
        } else if (!strcmp(key, "nc")) {
            ok = yl_arg_int(cmd, key, value, 1, 1000, &o->nc);
        } else if (!strcmp(key, "imgsz")) {
            ok = yl_arg_int(cmd, key, value, 32, 2048, &o->imgsz);
            if (ok && o->imgsz % 32) {
                fprintf(stderr, "demo: imgsz=%s: must be a multiple of 32\n", value);
                return 2;
            }
        } else if (!strcmp(key, "batch")) {
            ok = yl_arg_int(cmd, key, value, 1, 256, &o->batch);
        } else if (!strcmp(key, "steps")) {
            ok = yl_arg_int(cmd, key, value, 1, 1000, &o->steps);
        } else if (!strcmp(key, "threads")) {
            ok = yl_arg_int(cmd, key, value, 0, 1024, &o->threads);
        } else if (!strcmp(key, "seed")) {
            int seed = 0;
            ok = yl_arg_int(cmd, key, value, 0, INT32_MAX, &seed);
            o->seed = (uint64_t)seed;
        } else if (!strcmp(key, "device")) {
            int cuda_index = 0;
            ok = yl_arg_device(cmd, key, value, &o->device, &cuda_index);
        } else {
            yl_arg_unknown(cmd, key, "scale, nc, imgsz, batch, steps, device, seed, threads");
            return 2;
        }
        if (!ok) return 2;
    }
    // Training BN needs more than one value per channel at P5 (imgsz / 32 squared per image).
    if ((long long)o->batch * (o->imgsz / 32) * (o->imgsz / 32) < 2) {
        fprintf(stderr, "demo: batch=%d at imgsz=%d leaves one value per channel at stride 32, which training-mode "
                        "batch norm cannot normalise; use batch >= 2 or imgsz >= 64\n", o->batch, o->imgsz);
        return 2;
    }
    return 0;
}

static void log_to_stderr(void *user, const char *message) {
    (void)user;
    fprintf(stderr, "demo: %s\n", message);
}

static double now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

// 3157200 -> "3,157,200"
static const char *with_commas(int64_t value, char *buf, size_t size) {
    char digits[32];
    snprintf(digits, sizeof digits, "%" PRId64, value);
    size_t len = strlen(digits), out = 0;
    for (size_t i = 0; i < len && out + 2 < size; i++) {
        if (i > 0 && (len - i) % 3 == 0 && digits[i - 1] != '-') buf[out++] = ',';
        buf[out++] = digits[i];
    }
    buf[out] = '\0';
    return buf;
}

typedef struct {
    yl_engine eng;
    bool engine_ready;
    yl_model *model;
    yl_arena inputs;  // images and the loss weights r on the model's device
    float *host;      // scratch for uploads and read-backs
} demo_state;

static int fail(const char *what) {
    fprintf(stderr, "demo: %s: %s\n", what, yl_last_error());
    return 1;
}

// Fills a device tensor with U(low, high) from the RNG, through the host scratch.
static yl_status upload_random(yl_backend *be, yl_rng *rng, float *host, yl_tensor *t, float low, float high) {
    size_t n = (size_t)yl_tensor_numel(t);
    yl_rng_fill_uniform(rng, host, n, low, high);
    return be->copy_from_host(be, t->data, host, n * sizeof(float));
}

// sqrt(sum of squared gradients) over every trainable parameter, read back to the host.
static yl_status gradient_norm(yl_model *m, yl_backend *be, float *host, double *out) {
    double sum = 0.0;
    YL_TRY(be->synchronize(be));
    for (int i = 0; i < yl_model_state_count(m); i++) {
        yl_state_entry *e = yl_model_state_at(m, i);
        if (!e->grad.data) continue;
        size_t n = (size_t)yl_tensor_numel(&e->grad);
        YL_TRY(be->copy_to_host(be, host, e->grad.data, n * sizeof(float)));
        for (size_t k = 0; k < n; k++) sum += (double)host[k] * host[k];
    }
    *out = sqrt(sum);
    return YL_OK;
}

static yl_status loss_value(yl_backend *be, const yl_tensor maps[3], const yl_tensor r[3], float *host,
                            double *out) {
    double sum = 0.0;
    YL_TRY(be->synchronize(be));
    for (int l = 0; l < 3; l++) {
        size_t n = (size_t)yl_tensor_numel(&maps[l]);
        YL_TRY(be->copy_to_host(be, host, maps[l].data, n * sizeof(float)));
        YL_TRY(be->copy_to_host(be, host + n, r[l].data, n * sizeof(float)));
        for (size_t k = 0; k < n; k++) sum += (double)host[k] * host[n + k];
    }
    *out = sum;
    return YL_OK;
}

static int run_demo(const demo_options *o, demo_state *s) {
    yl_set_num_threads(o->threads);
    yl_engine_options eo = {.device = o->device, .cuda_device_index = 0, .allow_cpu_fallback = true,
                            .log = log_to_stderr, .log_user = NULL};
    if (yl_engine_init(&s->eng, &eo) != YL_OK) return fail("engine");
    s->engine_ready = true;
    yl_backend *be = yl_engine_backend(&s->eng, s->eng.device);

    yl_model_config cfg;
    if (yl_model_config_from_scale(&cfg, o->scale, o->nc) != YL_OK) return fail("model config");
    if (yl_model_create(&s->model, &s->eng, &cfg, o->seed) != YL_OK) return fail("model");
    yl_model_summary summary;
    yl_model_get_summary(s->model, 640, &summary);  // Ultralytics quotes GFLOPs at 640
    char name[32], params[32], grads[32];
    printf("%s summary: %d layers, %s parameters, %s gradients, %.1f GFLOPs (nc=%d)\n",
           yl_model_config_name(&cfg, name, sizeof name), summary.leaf_layers,
           with_commas(summary.parameters, params, sizeof params), with_commas(summary.trainable, grads, sizeof grads),
           summary.gflops, o->nc);

    if (yl_model_plan(s->model, o->batch, o->imgsz, o->imgsz, true) != YL_OK) return fail("plan");
    printf("batch %dx3x%dx%d (%.2f GFLOPs per image forward); device %s, %d thread%s\n", o->batch, o->imgsz, o->imgsz,
           yl_model_gflops(s->model, o->imgsz, o->imgsz), yl_device_name(s->eng.device), yl_get_num_threads(),
           yl_get_num_threads() == 1 ? "" : "s");
    printf("memory: parameters %.1f MiB, gradients %.1f MiB, activations %.1f MiB\n",
           yl_model_parameter_arena(s->model)->capacity / 1048576.0,
           yl_model_gradient_arena(s->model)->capacity / 1048576.0,
           yl_model_activation_arena(s->model)->capacity / 1048576.0);

    // The synthetic batch and the loss weights, on the model's device.
    const int64_t image_shape[4] = {o->batch, 3, o->imgsz, o->imgsz};
    yl_tensor images = yl_tensor_view(NULL, YL_F32, s->eng.device, 4, image_shape);
    yl_tensor r[3];
    size_t bytes = yl_arena_aligned_size(yl_tensor_nbytes(&images)), largest = (size_t)yl_tensor_numel(&images);
    for (int l = 0; l < 3; l++) {
        int64_t side = o->imgsz >> (3 + l);
        const int64_t shape[4] = {o->batch, 4 * YL_YOLOV8_REG_MAX + o->nc, side, side};
        r[l] = yl_tensor_view(NULL, YL_F32, s->eng.device, 4, shape);
        bytes += yl_arena_aligned_size(yl_tensor_nbytes(&r[l]));
        if ((size_t)yl_tensor_numel(&r[l]) * 2 > largest) largest = (size_t)yl_tensor_numel(&r[l]) * 2;
    }
    for (int i = 0; i < yl_model_state_count(s->model); i++) {
        size_t n = (size_t)yl_tensor_numel(&yl_model_state_at(s->model, i)->value);
        if (n > largest) largest = n;
    }
    s->host = malloc(largest * sizeof(float));
    if (!s->host) {
        fprintf(stderr, "demo: out of host memory (%zu floats)\n", largest);
        return 1;
    }
    if (yl_arena_create(&s->inputs, "demo inputs", be, bytes) != YL_OK) return fail("inputs");
    yl_rng rng;
    yl_rng_seed(&rng, o->seed, 1);
    if (yl_arena_tensor(&s->inputs, &images, YL_F32, 4, image_shape) != YL_OK ||
        upload_random(be, &rng, s->host, &images, 0.0f, 1.0f) != YL_OK)
        return fail("images");
    for (int l = 0; l < 3; l++) {
        const int64_t shape[4] = {r[l].shape[0], r[l].shape[1], r[l].shape[2], r[l].shape[3]};
        if (yl_arena_tensor(&s->inputs, &r[l], YL_F32, 4, shape) != YL_OK ||
            upload_random(be, &rng, s->host, &r[l], -1.0f, 1.0f) != YL_OK)
            return fail("loss weights");
    }

    double total_ms = 0.0;
    for (int step = 1; step <= o->steps; step++) {
        yl_tensor maps[3];
        double t0 = now_ms();
        if (yl_model_zero_grad(s->model) != YL_OK) return fail("zero_grad");
        if (yl_model_forward_train(s->model, &images, maps) != YL_OK) return fail("forward");
        if (be->synchronize(be) != YL_OK) return fail("forward");
        double t1 = now_ms();
        if (yl_model_backward(s->model, r, NULL) != YL_OK) return fail("backward");
        if (be->synchronize(be) != YL_OK) return fail("backward");
        double t2 = now_ms();
        double loss = 0.0, norm = 0.0;
        if (loss_value(be, maps, r, s->host, &loss) != YL_OK) return fail("loss");
        if (gradient_norm(s->model, be, s->host, &norm) != YL_OK) return fail("gradient norm");
        if (!isfinite(loss) || !isfinite(norm)) {
            fprintf(stderr, "demo: step %d: non-finite loss %g or gradient norm %g\n", step, loss, norm);
            return 1;
        }
        total_ms += t2 - t0;
        printf("step %d/%d: forward %.1f ms, backward %.1f ms, %.1f images/s, L %.6g, grad norm %.6g\n", step,
               o->steps, t1 - t0, t2 - t1, o->batch / ((t2 - t0) / 1e3), loss, norm);
    }
    printf("mean %.1f ms per step (%d x %dx%d), %.1f images/s\n", total_ms / o->steps, o->batch, o->imgsz, o->imgsz,
           o->batch * o->steps / (total_ms / 1e3));
    return 0;
}

int yl_cmd_demo(int argc, char **argv) {
    if (yl_arg_wants_help(argc, argv)) {
        print_help(stdout);
        return 0;
    }
    demo_options o;
    int code = parse_options(argc, argv, &o);
    if (code) return code;
    demo_state s = {0};
    code = run_demo(&o, &s);
    free(s.host);
    yl_arena_destroy(&s.inputs);
    yl_model_destroy(s.model);
    if (s.engine_ready) yl_engine_release(&s.eng);
    return code;
}
