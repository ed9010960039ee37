// Conv units without activation (Identity, Ultralytics' Conv(act=False)): the model config's
// 8.4 flag (SPPF.cv1) and per-Conv choices, checked on a tiny model where Identity sits at
// SPPF.cv1, at a bottleneck cv2 whose output gradient is shared with the residual sum
// (model.4.m.1.cv2), at a plain stride-2 Conv layer (model.16) and in a Detect branch
// (model.22.cv3.0.1). Forward (train and eval BN) against tests/model_reference.h told which
// Convs are Identity; the backward against central differences of that double-precision
// reference; config errors through the public API.
#include "test_common.h"
#include "engine/core/threads.h"
#include "engine/model/model.h"
#include "model_reference.h"

#define NC 3
#define FD_TOLERANCE 2e-3

static const char *const IDENTITY[] = {"model.9.cv1", "model.4.m.1.cv2", "model.16", "model.22.cv3.0.1"};
#define IDENTITY_COUNT 4

static yl_model_config identity_config(void) {
    yl_model_config cfg;
    CHECK_OK(yl_model_config_custom(&cfg, 0.33, 0.0625, 1024, NC));
    cfg.sppf_cv1_identity = true;  // model.9.cv1
    for (int i = 1; i < IDENTITY_COUNT; i++)
        CHECK_OK(yl_model_config_set_activation(&cfg, IDENTITY[i], YL_CONV_ACT_IDENTITY));
    return cfg;
}

static ref_tensor ref_images_of(const float *pixels, int b, int h, int w) {
    ref_tensor r = ref_new(b, 3, h, w);
    for (size_t i = 0; i < (size_t)b * 3 * h * w; i++) r.d[i] = pixels[i];
    return r;
}

// max |ours - ref| / max |ref| over the three maps.
static double map_error(const yl_tensor maps[3], const ref_tensor ref[3]) {
    double worst = 0.0;
    for (int l = 0; l < 3; l++) {
        const float *d = maps[l].data;
        double diff = 0.0, scale = 1e-30;
        for (int64_t i = 0; i < yl_tensor_numel(&maps[l]); i++) {
            diff = fmax(diff, isnan(d[i]) ? INFINITY : fabs(d[i] - ref[l].d[i]));
            scale = fmax(scale, fabs(ref[l].d[i]));
        }
        worst = fmax(worst, diff / scale);
    }
    return worst;
}

static void test_config(void) {
    yl_model_config cfg = identity_config();
    CHECK(yl_model_config_activation(&cfg, "model.9.cv1", true) == YL_CONV_ACT_IDENTITY, "the flag reaches SPPF.cv1");
    CHECK(yl_model_config_activation(&cfg, "model.9.cv2", false) == YL_CONV_ACT_SILU, "SPPF.cv2 keeps SiLU");
    CHECK(yl_model_config_activation(&cfg, "model.16", false) == YL_CONV_ACT_IDENTITY, "per-Conv choice");
    CHECK(!strcmp(yl_conv_act_name(YL_CONV_ACT_IDENTITY), "Identity") &&
                  !strcmp(yl_conv_act_name(YL_CONV_ACT_SILU), "SiLU"),
          "activation names");
    // A later choice for the same Conv replaces the earlier one; an override beats the flag.
    CHECK_OK(yl_model_config_set_activation(&cfg, "model.16", YL_CONV_ACT_SILU));
    CHECK(cfg.act_override_count == IDENTITY_COUNT - 1, "replaced, not appended: %d", cfg.act_override_count);
    CHECK_OK(yl_model_config_set_activation(&cfg, "model.9.cv1", YL_CONV_ACT_SILU));
    CHECK(yl_model_config_activation(&cfg, "model.9.cv1", true) == YL_CONV_ACT_SILU, "override after the flag");

    // Leaf modules: the shared SiLU once, each Identity on its own (Ultralytics' layer count).
    yl_model_config plain;
    CHECK_OK(yl_model_config_custom(&plain, 0.33, 0.0625, 1024, NC));
    cfg = identity_config();
    yl_model_summary a, b;
    CHECK_OK(yl_model_summarize(&plain, 64, &a));
    CHECK_OK(yl_model_summarize(&cfg, 64, &b));
    CHECK(b.leaf_layers == a.leaf_layers + IDENTITY_COUNT && b.parameters == a.parameters,
          "layers %d -> %d, parameters %lld -> %lld", a.leaf_layers, b.leaf_layers, (long long)a.parameters,
          (long long)b.parameters);

    // Bad choices.
    CHECK_STATUS(yl_model_config_set_activation(NULL, "model.9.cv1", YL_CONV_ACT_IDENTITY), YL_ERR_INVALID_ARG);
    CHECK_STATUS(yl_model_config_set_activation(&cfg, NULL, YL_CONV_ACT_IDENTITY), YL_ERR_INVALID_ARG);
    CHECK_STATUS(yl_model_config_set_activation(&cfg, "", YL_CONV_ACT_IDENTITY), YL_ERR_INVALID_ARG);
    CHECK_STATUS(yl_model_config_set_activation(&cfg, "model.9.cv1", (yl_conv_act)7), YL_ERR_INVALID_ARG);
    CHECK_STATUS(yl_model_config_set_activation(&cfg, "model.1.a.very.long.name.that.does.not.fit.at.all",
                                                YL_CONV_ACT_IDENTITY),
                 YL_ERR_INVALID_ARG);
    yl_model_config full = plain;
    for (int i = 0; i < YL_MODEL_MAX_ACT_OVERRIDES; i++) {
        char name[32];
        snprintf(name, sizeof name, "model.%d", i);
        CHECK_OK(yl_model_config_set_activation(&full, name, YL_CONV_ACT_IDENTITY));
    }
    CHECK_STATUS(yl_model_config_set_activation(&full, "model.99", YL_CONV_ACT_IDENTITY), YL_ERR_UNSUPPORTED);
    CHECK(strstr(yl_last_error(), "model.99") != NULL, "message names the Conv: %s", yl_last_error());
}

static void test_bad_models(yl_engine *eng) {
    yl_model_config cfg;
    CHECK_OK(yl_model_config_custom(&cfg, 0.33, 0.0625, 1024, NC));
    yl_model *m = NULL;
    yl_model_summary s;
    yl_model_config bad = cfg;
    CHECK_OK(yl_model_config_set_activation(&bad, "model.99.cv1", YL_CONV_ACT_IDENTITY));
    CHECK_STATUS(yl_model_create(&m, eng, &bad, 0), YL_ERR_INVALID_ARG);
    CHECK(m == NULL && strstr(yl_last_error(), "model.99.cv1"), "unknown Conv named: %s", yl_last_error());
    CHECK_STATUS(yl_model_summarize(&bad, 64, &s), YL_ERR_INVALID_ARG);
    bad = cfg;  // the biased 1x1 output conv of a Detect branch has no activation to choose
    CHECK_OK(yl_model_config_set_activation(&bad, "model.22.cv2.0.2", YL_CONV_ACT_IDENTITY));
    CHECK_STATUS(yl_model_create(&m, eng, &bad, 0), YL_ERR_INVALID_ARG);
    CHECK(strstr(yl_last_error(), "model.22.cv2.0.2") != NULL, "message names it: %s", yl_last_error());
    bad = cfg;  // a config filled by hand
    bad.act_override_count = YL_MODEL_MAX_ACT_OVERRIDES + 1;
    CHECK_STATUS(yl_model_create(&m, eng, &bad, 0), YL_ERR_INVALID_ARG);
    bad.act_override_count = 1;
    memset(bad.act_overrides[0].module, 'x', sizeof bad.act_overrides[0].module);  // no terminator
    CHECK_STATUS(yl_model_create(&m, eng, &bad, 0), YL_ERR_INVALID_ARG);
    snprintf(bad.act_overrides[0].module, sizeof bad.act_overrides[0].module, "model.0");
    bad.act_overrides[0].act = (yl_conv_act)9;
    CHECK_STATUS(yl_model_create(&m, eng, &bad, 0), YL_ERR_INVALID_ARG);
    CHECK(m == NULL, "failed creates leave NULL");
}

static void test_forward(yl_engine *eng) {
    yl_model_config cfg = identity_config();
    yl_model *m = NULL;
    CHECK_OK(yl_model_create(&m, eng, &cfg, 3));
    if (!m) return;
    const int b = 2, h = 64, w = 96;
    CHECK_OK(yl_model_plan(m, b, h, w, true));
    yl_rng rng;
    yl_rng_seed(&rng, 17, 0);
    float *pixels = yl_test_random(&rng, (size_t)b * 3 * h * w, 0.0f, 1.0f);
    yl_tensor images = yl_tensor_4d(pixels, YL_DEVICE_CPU, b, 3, h, w);
    ref_tensor x = ref_images_of(pixels, b, h, w);
    yl_tensor maps[3];
    for (int training = 1; training >= 0; training--) {
        // A fresh model's running statistics (0, 1) keep eval activations so small that SiLU is
        // nearly linear; training forwards move them towards the batch statistics first, so the
        // eval pass tells Identity from SiLU too.
        for (int k = 0; !training && k < 60; k++) CHECK_OK(yl_model_forward_train(m, &images, maps));
        ref_context with = {
                .model = m, .training = training, .identity_convs = IDENTITY, .identity_count = IDENTITY_COUNT};
        ref_context without = {.model = m, .training = training};
        ref_tensor ref[3], ref_silu[3];
        ref_yolov8_forward(&with, &x, ref);  // before our training forward moves the running statistics
        ref_yolov8_forward(&without, &x, ref_silu);
        CHECK_OK(training ? yl_model_forward_train(m, &images, maps) : yl_model_forward_eval(m, &images, maps));
        double err = map_error(maps, ref), err_silu = map_error(maps, ref_silu);
        printf("  forward %s vs reference: max rel err %.2e (vs the all-SiLU reference: %.2e)\n",
               training ? "train" : "eval ", err, err_silu);
        CHECK(err < 1e-4, "%s forward differs from the Identity reference: %.3e", training ? "train" : "eval", err);
        CHECK(err_silu > 1e-3, "the Identity Convs change nothing? %.3e", err_silu);
        for (int l = 0; l < 3; l++) {
            ref_free(&ref[l]);
            ref_free(&ref_silu[l]);
        }
    }
    ref_free(&x);
    free(pixels);
    yl_model_destroy(m);
}

// ---- backward against central differences of the double-precision reference ----------------
//
// L = sum_l <map_l, r_l> with BN in training mode. A parameter is perturbed as stored (float),
// and the analytic change uses the applied perturbation. SPPF's max-pools make L piecewise
// smooth: a point where two successive step sizes disagree with the analytic value but agree
// with each other is a real error; one where no two steps agree is "unresolved" (a kink), and at
// most a quarter of the points may be.

typedef struct {
    yl_model *model;
    const float *pixels;
    int batch, height, width;
    float *r[3];
} fd_fixture;

static double reference_loss(const fd_fixture *fx) {
    ref_tensor x = ref_images_of(fx->pixels, fx->batch, fx->height, fx->width);
    ref_context ctx = {
            .model = fx->model, .training = true, .identity_convs = IDENTITY, .identity_count = IDENTITY_COUNT};
    ref_tensor maps[3];
    ref_yolov8_forward(&ctx, &x, maps);
    double loss = 0.0;
    for (int l = 0; l < 3; l++) {
        size_t n = (size_t)maps[l].n * maps[l].c * maps[l].h * maps[l].w;
        for (size_t i = 0; i < n; i++) loss += maps[l].d[i] * fx->r[l][i];
        ref_free(&maps[l]);
    }
    ref_free(&x);
    return loss;
}

typedef struct {
    float *param;
    const float *grad;
    size_t n;
    const float *direction;  // NULL: only element `index`
    size_t index;
    float *saved;
} fd_target;

// param = saved + step * direction; returns sum_i grad_i * (applied change_i).
static double fd_move(fd_target *t, int count, double step) {
    double change = 0.0;
    for (int k = 0; k < count; k++) {
        size_t first = t[k].direction ? 0 : t[k].index, last = t[k].direction ? t[k].n : t[k].index + 1;
        for (size_t i = first; i < last; i++) {
            t[k].param[i] = (float)(t[k].saved[i] + step * (t[k].direction ? t[k].direction[i] : 1.0));
            change += (double)t[k].grad[i] * ((double)t[k].param[i] - t[k].saved[i]);
        }
    }
    return change;
}

typedef struct {
    double worst, numeric, analytic;  // the worst check's derivative estimates (per unit step)
    int checked, unresolved;
    char where[64];
} fd_summary;

static void fd_check(const fd_fixture *fx, fd_summary *s, const char *where, fd_target *t, int count, double floor) {
    double previous = NAN, step = 1e-4, error = INFINITY, numeric = 0.0, analytic = 0.0;
    bool resolved = false;
    for (int attempt = 0; attempt < 3 && !resolved; attempt++, step /= 4.0) {
        analytic = fd_move(t, count, step);
        double plus = reference_loss(fx);
        analytic -= fd_move(t, count, -step);
        double minus = reference_loss(fx);
        fd_move(t, count, 0.0);
        numeric = plus - minus;  // both for the same applied perturbation
        error = fabs(numeric - analytic) / fmax(fmax(fabs(numeric), fabs(analytic)), floor * 2.0 * step);
        double derivative = numeric / (2.0 * step);
        resolved = error < 1e-3 ||
                   (!isnan(previous) && fabs(derivative - previous) <= 1e-3 * fmax(fabs(derivative), floor));
        previous = derivative;
    }
    s->checked++;
    if (!resolved) {
        s->unresolved++;
        return;
    }
    if (error > s->worst) {
        s->worst = error;
        s->numeric = numeric / (2.0 * step * 4.0);  // the step was divided once more after the last attempt
        s->analytic = analytic / (2.0 * step * 4.0);
        snprintf(s->where, sizeof s->where, "%s", where);
    }
}

static void fd_report(const char *what, const fd_summary *s) {
    printf("  %-40s %3d checks, max err %.2e, %d unresolved (worst %s: analytic %.6g numeric %.6g)\n", what, s->checked,
           s->worst, s->unresolved, s->where, s->analytic, s->numeric);
    CHECK(s->worst < FD_TOLERANCE, "%s: gradient error %.3e at %s", what, s->worst, s->where);
    CHECK(4 * s->unresolved <= s->checked, "%s: %d of %d checks unresolved", what, s->unresolved, s->checked);
}

// Element-wise checks spread over one tensor. Floor: 2% of the tensor's largest |g|. The fp32
// backward through BN's mean subtraction leaves absolute errors around 1e-5 of that largest value,
// so a component 100x smaller than it can be off by a few 1e-3 of itself.
static void fd_elements(const fd_fixture *fx, fd_summary *s, const char *label, float *param, const float *grad,
                        size_t n, size_t samples) {
    float *saved = yl_test_alloc(n);
    memcpy(saved, param, n * sizeof(float));
    double largest = 0.0;
    for (size_t i = 0; i < n; i++) largest = fmax(largest, fabs(grad[i]));
    size_t stride = n > samples ? n / samples : 1;
    for (size_t i = stride / 2; i < n; i += stride) {
        fd_target t = {param, grad, n, NULL, i, saved};
        char where[64];
        snprintf(where, sizeof where, "%s[%zu]", label, i);
        fd_check(fx, s, where, &t, 1, fmax(0.02 * largest, 1e-6));
    }
    free(saved);
}

// Every trainable tensor of `layer` moved along one random unit direction.
static void fd_layer(const fd_fixture *fx, fd_summary *s, yl_rng *rng, int layer) {
    yl_model *m = fx->model;
    int count = yl_model_state_count(m), used = 0;
    fd_target *t = calloc((size_t)count, sizeof *t);
    double norm = 0.0, scale = 0.0;
    for (int i = 0; i < count; i++) {
        yl_state_entry *e = yl_model_state_at(m, i);
        if (!e->grad.data || e->layer != layer) continue;
        size_t n = (size_t)yl_tensor_numel(&e->value);
        float *direction = yl_test_random(rng, n, -1.0f, 1.0f), *saved = yl_test_alloc(n);
        memcpy(saved, e->value.data, n * sizeof(float));
        for (size_t k = 0; k < n; k++) norm += (double)direction[k] * direction[k];
        t[used++] = (fd_target){e->value.data, e->grad.data, n, direction, 0, saved};
    }
    for (int k = 0; k < used; k++)
        for (size_t i = 0; i < t[k].n; i++) {
            ((float *)t[k].direction)[i] = (float)(t[k].direction[i] / sqrt(norm));
            scale += fabs((double)t[k].grad[i] * t[k].direction[i]);
        }
    char where[32];
    snprintf(where, sizeof where, "model.%d", layer);
    if (used) fd_check(fx, s, where, t, used, fmax(0.01 * scale, 1e-6));
    for (int k = 0; k < used; k++) {
        free((float *)t[k].direction);
        free(t[k].saved);
    }
    free(t);
}

static void test_gradients(yl_engine *eng) {
    yl_model_config cfg = identity_config();
    yl_model *m = NULL;
    CHECK_OK(yl_model_create(&m, eng, &cfg, 5));
    if (!m) return;
    const int b = 2, h = 64, w = 64;
    CHECK_OK(yl_model_plan(m, b, h, w, true));
    yl_rng rng;
    yl_rng_seed(&rng, 23, 0);
    size_t n_in = (size_t)b * 3 * h * w;
    float *pixels = yl_test_random(&rng, n_in, 0.0f, 1.0f), *d_pixels = yl_test_alloc(n_in);
    yl_tensor images = yl_tensor_4d(pixels, YL_DEVICE_CPU, b, 3, h, w);
    yl_tensor d_images = yl_tensor_4d(d_pixels, YL_DEVICE_CPU, b, 3, h, w);
    yl_tensor maps[3], d_maps[3];
    fd_fixture fx = {m, pixels, b, h, w, {NULL, NULL, NULL}};
    CHECK_OK(yl_model_forward_train(m, &images, maps));
    for (int l = 0; l < 3; l++) {
        fx.r[l] = yl_test_random(&rng, (size_t)yl_tensor_numel(&maps[l]), -1.0f, 1.0f);
        d_maps[l] = maps[l];
        d_maps[l].data = fx.r[l];
    }
    CHECK_OK(yl_model_zero_grad(m));
    CHECK_OK(yl_model_backward(m, d_maps, &d_images));

    // Each Identity Conv's own parameters, what feeds it (its gradient passes through it), and
    // the input (through every Identity on its way back).
    static const char *const params[] = {
            "model.9.cv1.conv.weight",      "model.9.cv1.bn.weight",       "model.8.cv2.conv.weight",
            "model.4.m.1.cv2.bn.weight",    "model.4.m.1.cv1.conv.weight", "model.16.bn.weight",
            "model.15.cv2.conv.weight",     "model.22.cv3.0.1.bn.weight",  "model.22.cv3.0.1.bn.bias",
            "model.22.cv3.0.0.conv.weight",
    };
    fd_summary elements = {0};
    for (size_t p = 0; p < sizeof params / sizeof params[0]; p++) {
        yl_state_entry *e = yl_model_state_find(m, params[p]);
        CHECK(e && e->grad.data, "%s has a gradient", params[p]);
        if (e && e->grad.data)
            fd_elements(&fx, &elements, params[p], e->value.data, e->grad.data, (size_t)yl_tensor_numel(&e->value), 3);
    }
    fd_elements(&fx, &elements, "input", pixels, d_pixels, n_in, 6);
    fd_report("element-wise (10 tensors + input)", &elements);

    // Structural: a BN bias shifts its channel by a constant. Behind an Identity, the shift reaches
    // the next BN (through 1x1 convs, concat, the max-pools, which commute with it) and its batch
    // mean removes it: the bias gradient is exactly zero. Behind a SiLU it would not be.
    static const char *const cancelled[][2] = {{"model.9.cv1.bn.bias", "model.9.cv1.bn.weight"},
                                               {"model.16.bn.bias", "model.16.bn.weight"},
                                               {"model.4.m.1.cv2.bn.bias", "model.4.m.1.cv2.bn.weight"}};
    for (int k = 0; k < 3; k++) {
        yl_state_entry *bias = yl_model_state_find(m, cancelled[k][0]),
                       *gamma = yl_model_state_find(m, cancelled[k][1]);
        if (!bias || !gamma) continue;
        double largest_bias = 0.0, largest_gamma = 0.0;
        for (int64_t i = 0; i < yl_tensor_numel(&bias->grad); i++) {
            largest_bias = fmax(largest_bias, fabs(((const float *)bias->grad.data)[i]));
            largest_gamma = fmax(largest_gamma, fabs(((const float *)gamma->grad.data)[i]));
        }
        printf("  %-26s max |grad| %.2e (gamma's %.2e): cancelled by the next BN\n", cancelled[k][0], largest_bias,
               largest_gamma);
        CHECK(largest_bias <= 1e-5 * largest_gamma, "%s gradient %.3e should vanish (gamma's %.3e)", cancelled[k][0],
              largest_bias, largest_gamma);
    }

    fd_summary layers = {0};
    const int around[] = {3, 4, 8, 9, 15, 16, 22};
    for (size_t i = 0; i < sizeof around / sizeof around[0]; i++) fd_layer(&fx, &layers, &rng, around[i]);
    fd_report("directional (layers 3 4 8 9 15 16 22)", &layers);

    for (int l = 0; l < 3; l++) free(fx.r[l]);
    free(pixels);
    free(d_pixels);
    yl_model_destroy(m);
}

int main(void) {
    yl_set_num_threads(1);
    yl_engine eng = yl_test_cpu_engine();
    test_config();
    test_bad_models(&eng);
    test_forward(&eng);
    test_gradients(&eng);
    yl_engine_release(&eng);
    return yl_test_finish("test_model_identity");
}
