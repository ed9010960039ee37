// The optimizer (engine/optim/optimizer.h), its parameter groups and the gradient clipping:
//  - Python float repr of the log lines; optimizer=auto / explicit choice (yolov8.md §3.3);
//  - yolov8n's groups (63 / 64 / 57 and Ultralytics' log line) and freeze=10, freeze=[0, 22]
//    against counts taken from Ultralytics on yolov8n.yaml (optim_schedule.safetensors metadata);
//  - six SGD(nesterov) and AdamW steps with per-step, per-group lr / momentum / weight decay
//    against torch.optim (optim_steps.safetensors), frozen and gradient-less entries untouched;
//  - clip_grad_norm_(max_norm=10) against torch (optim_clip.safetensors), frozen gradients left
//    out, NaN / Inf reported;
//  - bad input through the public API.
// Tolerance: max |ours - torch| / max(|torch|, 1e-3) <= 1e-6 (torch's CPU kernels fuse some
// multiply-adds, ours round each op, so a few float32 ulps differ).
#include "engine/optim/grad_clip.h"
#include "engine/optim/optimizer.h"
#include "engine/optim/param_groups.h"
#include "engine/optim/py_float.h"
#include "engine/optim/schedule.h"
#include "tests/optim_test_util.h"

#define TOLERANCE 1e-6
#define FLOOR 1e-3

static void test_py_float(void) {
    struct {
        double v;
        const char *repr;
    } cases[] = {
        {0.0005, "0.0005"}, {0.0005 * 24 * 3 / 64, "0.0005625000000000001"}, {0.0, "0.0"}, {-0.0, "-0.0"},
        {1e-5, "1e-05"}, {1.5e-7, "1.5e-07"}, {0.0001, "0.0001"}, {0.001667, "0.001667"}, {0.9, "0.9"},
        {0.937, "0.937"}, {1.0, "1.0"}, {100.0, "100.0"}, {123.456, "123.456"}, {1e16, "1e+16"},
        {1234567890123456.0, "1234567890123456.0"}, {-2.5, "-2.5"}, {0.1 + 0.2, "0.30000000000000004"},
        {1.0 / 3.0, "0.3333333333333333"}, {INFINITY, "inf"}, {NAN, "nan"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char buf[64];
        yl_format_py_float(cases[i].v, buf, sizeof buf);
        CHECK(!strcmp(buf, cases[i].repr), "repr(%.17g) = '%s', expected '%s'", cases[i].v, buf, cases[i].repr);
    }
}

static void test_choose(void) {
    // Ultralytics' lr_fit table (yolov8.md §3.3).
    struct {
        int nc;
        double lr;
    } fits[] = {{1, 0.002}, {2, 0.001667}, {3, 0.001429}, {5, 0.001111}, {10, 0.000714}, {20, 0.000417}, {80, 0.000119}};
    for (size_t i = 0; i < sizeof fits / sizeof fits[0]; i++) {
        yl_optimizer_request r = {.name = "auto", .lr0 = 0.05, .momentum = 0.5, .weight_decay = 5e-4,
                                  .warmup_bias_lr = 0.1, .iterations = 10000, .nc = fits[i].nc};
        yl_optimizer_choice c;
        CHECK_OK(yl_optimizer_choose(&r, &c));
        CHECK(c.settings.kind == YL_OPTIMIZER_ADAMW && c.automatic, "nc %d: auto must pick AdamW", fits[i].nc);
        CHECK(c.settings.groups[0].lr == fits[i].lr, "nc %d: lr %.17g, expected %g", fits[i].nc, c.settings.groups[0].lr,
              fits[i].lr);
        CHECK(c.settings.groups[1].momentum == 0.9 && c.warmup_bias_lr == 0.0, "nc %d: beta1 / warmup_bias_lr", fits[i].nc);
    }
    yl_optimizer_request r = {.name = NULL, .lr0 = 0.05, .momentum = 0.5, .weight_decay = 5e-4, .warmup_bias_lr = 0.1,
                              .iterations = 10000, .nc = 2};
    yl_optimizer_choice c;
    CHECK_OK(yl_optimizer_choose(&r, &c));
    CHECK(!strcmp(c.description, "AdamW(lr=0.001667, momentum=0.9)"), "description '%s'", c.description);
    CHECK(c.settings.groups[YL_PARAM_GROUP_WEIGHT].weight_decay == 5e-4 &&
              c.settings.groups[YL_PARAM_GROUP_BIAS].weight_decay == 0.0 &&
              c.settings.groups[YL_PARAM_GROUP_BN_WEIGHT].weight_decay == 0.0,
          "only pg1 decays");
    r.iterations = 10001;
    CHECK_OK(yl_optimizer_choose(&r, &c));
    CHECK(c.settings.kind == YL_OPTIMIZER_SGD && c.settings.groups[2].lr == 0.01 && c.settings.groups[2].momentum == 0.9 &&
              c.warmup_bias_lr == 0.0 && !strcmp(c.description, "SGD(lr=0.01, momentum=0.9)"),
          "auto above 10000 iterations: %s", c.description);
    r.name = "sgd";  // explicit: lr0 and momentum honoured, warmup_bias_lr kept
    CHECK_OK(yl_optimizer_choose(&r, &c));
    CHECK(c.settings.kind == YL_OPTIMIZER_SGD && !c.automatic && c.settings.groups[0].lr == 0.05 &&
              c.settings.groups[0].initial_lr == 0.05 && c.settings.groups[0].momentum == 0.5 && c.warmup_bias_lr == 0.1 &&
              !strcmp(c.description, "SGD(lr=0.05, momentum=0.5)"),
          "explicit SGD: %s", c.description);
    r.name = "AdamW";
    CHECK_OK(yl_optimizer_choose(&r, &c));
    CHECK(c.settings.kind == YL_OPTIMIZER_ADAMW && c.settings.groups[1].lr == 0.05 && c.settings.beta2 == 0.999 &&
              c.settings.eps == 1e-8,
          "explicit AdamW");
    CHECK(yl_auto_optimizer_iterations(213440, 24, 64, 3) == 10005, "iterations");
    CHECK(yl_auto_optimizer_iterations(500, 128, 64, 3) == 12, "iterations with B > nbs");
    r.name = "Adam";
    CHECK_STATUS(yl_optimizer_choose(&r, &c), YL_ERR_UNSUPPORTED);
    r.name = "Lion";
    CHECK_STATUS(yl_optimizer_choose(&r, &c), YL_ERR_INVALID_ARG);
    r.name = "SGD";
    r.momentum = 1.0;
    CHECK_STATUS(yl_optimizer_choose(&r, &c), YL_ERR_INVALID_ARG);
    r.momentum = 0.9;
    r.lr0 = -1.0;
    CHECK_STATUS(yl_optimizer_choose(&r, &c), YL_ERR_INVALID_ARG);
    r.lr0 = 0.01;
    r.weight_decay = NAN;
    CHECK_STATUS(yl_optimizer_choose(&r, &c), YL_ERR_INVALID_ARG);
    r.weight_decay = 0.0;
    r.name = "auto";
    r.nc = 0;
    CHECK_STATUS(yl_optimizer_choose(&r, &c), YL_ERR_INVALID_ARG);
    CHECK_STATUS(yl_optimizer_choose(NULL, &c), YL_ERR_INVALID_ARG);
}

// Frozen parameters per freeze spec, compared with Ultralytics' named_parameters on yolov8n.
static void check_freeze(yl_model *m, const yl_safetensors *st, const char *label, const yl_freeze_spec *freeze) {
    yl_param_groups g;
    CHECK_OK(yl_param_groups_build_for_model(&g, m, freeze));
    int frozen = 0, bn_frozen = 0;
    int64_t numel = 0;
    for (int i = 0; i < g.count; i++) {
        const yl_state_entry *e = &g.entries[i];
        if (g.frozen[i]) {
            frozen++;
            numel += yl_tensor_numel(&e->value);
        }
        if (e->kind == YL_STATE_BN_WEIGHT && g.frozen_layers[e->layer]) bn_frozen++;
        CHECK(yl_param_groups_updates(&g, i) == (e->is_parameter && e->requires_grad && !g.frozen[i]), "%s", e->name);
    }
    char key[96];
    snprintf(key, sizeof key, "yolov8n.%s.params", label);
    CHECK(frozen == atoi(optim_meta(st, key)), "%s: %d frozen parameters, Ultralytics %s", label, frozen, optim_meta(st, key));
    snprintf(key, sizeof key, "yolov8n.%s.numel", label);
    CHECK(numel == atoll(optim_meta(st, key)), "%s: %lld frozen elements, Ultralytics %s", label, (long long)numel,
          optim_meta(st, key));
    snprintf(key, sizeof key, "yolov8n.%s.bn_modules", label);
    CHECK(bn_frozen == atoi(optim_meta(st, key)), "%s: %d BN in eval, Ultralytics %s", label, bn_frozen, optim_meta(st, key));
    CHECK(g.trainable == 184 - frozen, "%s: %d trainable", label, g.trainable);
    printf("  %s: %d frozen parameters (%lld elements), %d BatchNorms kept in eval mode\n", label, frozen,
           (long long)numel, bn_frozen);
    yl_param_groups_release(&g);
}

static void test_yolov8n_groups(void) {
    yl_engine eng = yl_test_cpu_engine();
    yl_model_config cfg;
    CHECK_OK(yl_model_config_from_scale(&cfg, "n", 80));
    yl_model *m = NULL;
    CHECK_OK(yl_model_create(&m, &eng, &cfg, 0));
    if (!m) return;
    yl_safetensors st;
    optim_open_fixture(&st, "optim_schedule.safetensors");
    yl_param_groups g;
    CHECK_OK(yl_param_groups_build_for_model(&g, m, NULL));
    CHECK(g.group_size[0] == 63 && g.group_size[1] == 64 && g.group_size[2] == 57, "groups %d %d %d", g.group_size[0],
          g.group_size[1], g.group_size[2]);
    char text[160], expected[256];
    yl_param_groups_describe(&g, yl_scaled_weight_decay(5e-4, 16, YL_NOMINAL_BATCH), text, sizeof text);
    snprintf(expected, sizeof expected, "SGD(lr=0.01, momentum=0.937) with parameter groups %s", text);
    CHECK(!strcmp(expected, optim_meta(&st, "yolov8n.log")), "log line '%s', Ultralytics '%s'", expected,
          optim_meta(&st, "yolov8n.log"));
    int frozen = 0;
    for (int i = 0; i < g.count; i++) {
        frozen += g.frozen[i];
        if (g.frozen[i]) CHECK(strstr(g.entries[i].name, ".dfl"), "'%s' frozen without freeze", g.entries[i].name);
    }
    CHECK(frozen == 1, "only the DFL is frozen by default (%d)", frozen);
    CHECK(g.trainable == 183, "trainable %d", g.trainable);
    for (int l = 0; l < YL_YOLOV8_LAYER_COUNT; l++) CHECK(!g.frozen_layers[l], "layer %d frozen", l);
    yl_param_groups_release(&g);

    yl_freeze_spec first10 = {.first = 10};
    check_freeze(m, &st, "freeze10", &first10);
    int list[] = {0, 22};
    yl_freeze_spec listed = {.layers = list, .layer_count = 2};
    check_freeze(m, &st, "freeze0_22", &listed);

    yl_freeze_spec bad = {.first = -1};
    CHECK_STATUS(yl_param_groups_build_for_model(&g, m, &bad), YL_ERR_INVALID_ARG);
    int negative[] = {3, -2};
    yl_freeze_spec bad_list = {.layers = negative, .layer_count = 2};
    CHECK_STATUS(yl_param_groups_build_for_model(&g, m, &bad_list), YL_ERR_INVALID_ARG);
    yl_freeze_spec null_list = {.layer_count = 1};
    CHECK_STATUS(yl_param_groups_build_for_model(&g, m, &null_list), YL_ERR_INVALID_ARG);
    CHECK_STATUS(yl_param_groups_build_for_model(&g, NULL, NULL), YL_ERR_INVALID_ARG);
    CHECK_STATUS(yl_param_groups_build(NULL, NULL, 0, NULL), YL_ERR_INVALID_ARG);
    yl_safetensors_close(&st);
    yl_model_destroy(m);
    yl_engine_release(&eng);
}

// ---- steps against torch.optim ------------------------------------------------------------------

#define PARAMS 5  // the fixture's p0..p4; p4 is frozen here (torch: no gradient)
#define STEPS 6
static const int64_t SHAPES[PARAMS][3] = {{5}, {3, 4}, {2, 3, 3}, {7}, {6}};
static const int NDIMS[PARAMS] = {1, 2, 3, 1, 1};
static const int64_t NUMEL[PARAMS] = {5, 12, 18, 7, 6};

typedef struct {
    float value[PARAMS][18], grad[PARAMS][18];
    float dfl[4], running_mean[5];
    yl_state_entry entries[PARAMS + 2];
    yl_param_groups groups;
} step_fixture_model;

static void build_step_model(step_fixture_model *sm, const yl_safetensors *st) {
    memset(sm, 0, sizeof *sm);
    static const char *names[PARAMS] = {"model.1.bn.bias", "model.2.conv.weight", "model.3.conv.weight",
                                        "model.1.bn.weight", "model.0.conv.weight"};
    static const yl_state_kind kinds[PARAMS] = {YL_STATE_BN_BIAS, YL_STATE_CONV_WEIGHT, YL_STATE_CONV_WEIGHT,
                                                YL_STATE_BN_WEIGHT, YL_STATE_CONV_WEIGHT};
    static const yl_param_group groups[PARAMS] = {YL_PARAM_GROUP_BIAS, YL_PARAM_GROUP_WEIGHT, YL_PARAM_GROUP_WEIGHT,
                                                  YL_PARAM_GROUP_BN_WEIGHT, YL_PARAM_GROUP_WEIGHT};
    for (int k = 0; k < PARAMS; k++) {
        optim_read(st, sm->value[k], (size_t)NUMEL[k], "init.p%d", k);
        sm->entries[k] = optim_entry(names[k], kinds[k], groups[k], NDIMS[k], SHAPES[k], sm->value[k], sm->grad[k]);
        sm->entries[k].layer = atoi(names[k] + 6);
    }
    int64_t four = 4, five = 5;
    for (int i = 0; i < 4; i++) sm->dfl[i] = (float)i;
    sm->entries[PARAMS] = optim_entry("model.22.dfl.conv.weight", YL_STATE_DFL_WEIGHT, YL_PARAM_GROUP_WEIGHT, 1, &four,
                                      sm->dfl, NULL);
    for (int i = 0; i < 5; i++) sm->running_mean[i] = 0.5f * (float)i;
    sm->entries[PARAMS + 1] = optim_entry("model.1.bn.running_mean", YL_STATE_BN_RUNNING_MEAN, YL_PARAM_GROUP_NONE, 1,
                                          &five, sm->running_mean, NULL);
    yl_freeze_spec freeze = {.first = 1};  // "model.0." -> p4
    CHECK_OK(yl_param_groups_build(&sm->groups, sm->entries, PARAMS + 2, &freeze));
    CHECK(sm->groups.group_size[0] == 1 && sm->groups.group_size[1] == 4 && sm->groups.group_size[2] == 1 &&
              sm->groups.trainable == 4,
          "step model groups %d %d %d, trainable %d", sm->groups.group_size[0], sm->groups.group_size[1],
          sm->groups.group_size[2], sm->groups.trainable);
}

static void run_steps(const yl_safetensors *st, const char *kind) {
    bool sgd = !strcmp(kind, "sgd");
    yl_engine eng = yl_test_cpu_engine();
    step_fixture_model sm;
    build_step_model(&sm, st);
    float lr[STEPS * 3], momentum[STEPS * 3], wd[3], beta1[3];
    optim_read(st, lr, STEPS * 3, "%s.lr", kind);
    optim_read(st, wd, 3, "wd");
    if (sgd)
        optim_read(st, momentum, STEPS * 3, "sgd.momentum");
    else
        optim_read(st, beta1, 3, "adamw.beta1");
    yl_optimizer_settings settings = yl_optimizer_settings_make(sgd ? YL_OPTIMIZER_SGD : YL_OPTIMIZER_ADAMW, 0.01, 0.9, 0.0);
    for (int g = 0; g < 3; g++) {
        settings.groups[g].weight_decay = wd[g];
        if (!sgd) settings.groups[g].momentum = beta1[g];
    }
    yl_optimizer *opt = NULL;
    CHECK_OK(yl_optimizer_create(&opt, &eng, &sm.groups, &settings));
    if (!opt) return;
    float frozen_before[6], expected[18];
    memcpy(frozen_before, sm.value[4], sizeof frozen_before);
    double worst = 0.0;
    for (int s = 0; s < STEPS; s++) {
        yl_optimizer_settings *live = yl_optimizer_settings_of(opt);
        for (int g = 0; g < 3; g++) {
            live->groups[g].lr = lr[s * 3 + g];
            if (sgd) live->groups[g].momentum = momentum[s * 3 + g];
        }
        for (int k = 0; k < 4; k++) optim_read(st, sm.grad[k], (size_t)NUMEL[k], "grad.s%d.p%d", s, k);
        for (int i = 0; i < 6; i++) sm.grad[4][i] = 100.0f + (float)i;  // frozen: must be ignored
        CHECK_OK(yl_optimizer_step(opt));
        for (int k = 0; k < PARAMS; k++) {
            optim_read(st, expected, (size_t)NUMEL[k], "%s.s%d.p%d", kind, s, k);
            double err = optim_rel_error(sm.value[k], expected, (size_t)NUMEL[k], FLOOR);
            CHECK(err <= TOLERANCE, "%s step %d p%d: error %.3e", kind, s, k, err);
            if (err > worst) worst = err;
        }
    }
    CHECK(yl_optimizer_step_count(opt) == STEPS, "step count");
    CHECK(!memcmp(frozen_before, sm.value[4], sizeof frozen_before), "%s: the frozen parameter moved", kind);
    for (int i = 0; i < 4; i++) CHECK(sm.dfl[i] == (float)i, "%s: the DFL weight moved", kind);
    for (int i = 0; i < 5; i++) CHECK(sm.running_mean[i] == 0.5f * (float)i, "%s: a buffer moved", kind);
    // The state views: p1's first-slot state exists, p4 (frozen) has none.
    yl_tensor view;
    CHECK_OK(yl_optimizer_state_view(opt, 1, 0, &view));
    CHECK(view.data && yl_tensor_numel(&view) == 12, "state view of p1");
    CHECK_STATUS(yl_optimizer_state_view(opt, 4, 0, &view), YL_ERR_INVALID_ARG);
    CHECK_STATUS(yl_optimizer_state_view(opt, 1, sgd ? 1 : 2, &view), YL_ERR_INVALID_ARG);
    printf("  %-5s %d steps x 4 parameters: max rel error %.3e (floor %g)\n", kind, STEPS, worst, FLOOR);
    yl_optimizer_destroy(opt);
    yl_param_groups_release(&sm.groups);
    yl_engine_release(&eng);
}

static void test_steps(void) {
    yl_safetensors st;
    optim_open_fixture(&st, "optim_steps.safetensors");
    run_steps(&st, "sgd");
    run_steps(&st, "adamw");
    yl_safetensors_close(&st);
}

// ---- clipping -------------------------------------------------------------------------------------

static void test_clip(void) {
    yl_safetensors st;
    optim_open_fixture(&st, "optim_clip.safetensors");
    yl_engine eng = yl_test_cpu_engine();
    static const int64_t shapes[4][3] = {{4, 3}, {9}, {2, 2, 5}, {1}};
    static const int ndims[4] = {2, 1, 3, 1};
    static const size_t numel[4] = {12, 9, 20, 1};
    float value[5][20] = {{0}}, grad[5][20], expected[20];
    yl_state_entry entries[5];
    char name[48];
    for (int k = 0; k < 4; k++) {
        snprintf(name, sizeof name, "model.%d.conv.weight", k + 1);
        entries[k] = optim_entry(name, YL_STATE_CONV_WEIGHT, YL_PARAM_GROUP_WEIGHT, ndims[k], shapes[k], value[k], grad[k]);
    }
    int64_t three = 3;
    entries[4] = optim_entry("model.0.conv.weight", YL_STATE_CONV_WEIGHT, YL_PARAM_GROUP_WEIGHT, 1, &three, value[4], grad[4]);
    yl_freeze_spec freeze = {.first = 1};
    yl_param_groups groups;
    CHECK_OK(yl_param_groups_build(&groups, entries, 5, &freeze));
    yl_optimizer_settings settings = yl_optimizer_settings_make(YL_OPTIMIZER_SGD, 0.01, 0.9, 0.0);
    yl_optimizer *opt = NULL;
    CHECK_OK(yl_optimizer_create(&opt, &eng, &groups, &settings));
    if (!opt) return;
    const char *cases[] = {"big", "small", "near"};
    double worst = 0.0;
    for (int c = 0; c < 3; c++) {
        for (int k = 0; k < 4; k++) optim_read(&st, grad[k], numel[k], "%s.before.g%d", cases[c], k);
        for (int i = 0; i < 3; i++) grad[4][i] = 1000.0f;  // frozen: neither counted nor scaled
        double norm = 0.0;
        CHECK_OK(yl_clip_grad_norm(opt, YL_CLIP_GRAD_MAX_NORM, &norm));
        float torch_norm;
        optim_read(&st, &torch_norm, 1, "%s.norm", cases[c]);
        double norm_err = fabs(norm - torch_norm) / torch_norm;
        CHECK(norm_err <= TOLERANCE, "%s: norm %.9g, torch %.9g", cases[c], norm, (double)torch_norm);
        for (int k = 0; k < 4; k++) {
            optim_read(&st, expected, numel[k], "%s.after.g%d", cases[c], k);
            double err = optim_rel_error(grad[k], expected, numel[k], FLOOR);
            CHECK(err <= TOLERANCE, "%s g%d: error %.3e", cases[c], k, err);
            if (err > worst) worst = err;
        }
        CHECK(grad[4][0] == 1000.0f, "%s: the frozen gradient was scaled", cases[c]);
        printf("  clip %-5s norm %.6f (torch %.6f, rel err %.1e)\n", cases[c], norm, (double)torch_norm, norm_err);
    }
    printf("  clip gradients: max rel error %.3e\n", worst);

    // Non-finite gradients: reported with the parameter's name, nothing scaled.
    for (int k = 0; k < 4; k++)
        for (size_t i = 0; i < numel[k]; i++) grad[k][i] = 50.0f;
    grad[2][7] = NAN;
    double norm = 0.0;
    CHECK_STATUS(yl_clip_grad_norm(opt, 10.0, &norm), YL_ERR_NUMERIC);
    CHECK(strstr(yl_last_error(), "model.3.conv.weight") != NULL, "message names the parameter: %s", yl_last_error());
    CHECK(isnan(norm) && grad[0][0] == 50.0f && grad[3][0] == 50.0f, "NaN: norm %g, gradients untouched", norm);
    grad[2][7] = INFINITY;
    CHECK_STATUS(yl_clip_grad_norm(opt, 10.0, &norm), YL_ERR_NUMERIC);
    CHECK(isinf(norm) && grad[1][0] == 50.0f, "Inf: norm %g", norm);
    grad[2][7] = 50.0f;
    CHECK_STATUS(yl_clip_grad_norm(opt, 0.0, &norm), YL_ERR_INVALID_ARG);
    CHECK_STATUS(yl_clip_grad_norm(NULL, 10.0, &norm), YL_ERR_INVALID_ARG);
    CHECK_OK(yl_clip_grad_norm(opt, 10.0, NULL));
    double total = 0.0;
    for (int k = 0; k < 4; k++) total += (double)numel[k] * 2500.0;
    float coef = (1.0f / ((float)sqrt(total) + 1e-6f)) * 10.0f;
    CHECK(grad[1][3] == 50.0f * coef, "scaled gradient %.9g, expected %.9g", (double)grad[1][3], 50.0 * coef);

    yl_optimizer_destroy(opt);
    yl_param_groups_release(&groups);
    yl_engine_release(&eng);
    yl_safetensors_close(&st);
}

// ---- a real (tiny) model, and bad input -------------------------------------------------------------

static void test_model_and_errors(void) {
    yl_engine eng = yl_test_cpu_engine();
    yl_model_config cfg;
    CHECK_OK(yl_model_config_custom(&cfg, 0.33, 0.03125, 512, 3));
    yl_model *m = NULL;
    CHECK_OK(yl_model_create(&m, &eng, &cfg, 1));
    if (!m) return;
    yl_freeze_spec freeze = {.first = 2};
    yl_param_groups groups;
    CHECK_OK(yl_param_groups_build_for_model(&groups, m, &freeze));
    yl_state_entry *frozen = yl_model_state_find(m, "model.1.conv.weight");
    yl_state_entry *live = yl_model_state_find(m, "model.2.cv1.conv.weight");
    yl_state_entry *bias = yl_model_state_find(m, "model.22.cv2.0.2.bias");
    CHECK(frozen && live && bias, "entries exist");
    if (!frozen || !live || !bias) return;
    CHECK(groups.frozen_layers[0] && groups.frozen_layers[1] && !groups.frozen_layers[2], "frozen layer mask");
    for (int i = 0; i < yl_model_state_count(m); i++) {
        yl_state_entry *e = yl_model_state_at(m, i);
        if (!e->grad.data) continue;
        float *g = e->grad.data;
        for (int64_t j = 0; j < yl_tensor_numel(&e->grad); j++) g[j] = 0.25f;
    }
    float frozen0 = ((float *)frozen->value.data)[0], live0 = ((float *)live->value.data)[0];
    float bias0 = ((float *)bias->value.data)[0];
    yl_optimizer_settings settings = yl_optimizer_settings_make(YL_OPTIMIZER_SGD, 0.1, 0.9, 0.5);
    yl_optimizer *opt = NULL;
    CHECK_OK(yl_optimizer_create(&opt, &eng, &groups, &settings));
    CHECK_OK(yl_optimizer_step(opt));
    // First Nesterov step: d = g + wd p, buf = d, p -= lr (d + mu d).
    float d = 0.25f + 0.5f * live0, d_bias = 0.25f;
    float want = live0 + -0.1f * (d + 0.9f * d), want_bias = bias0 + -0.1f * (d_bias + 0.9f * d_bias);
    CHECK(((float *)frozen->value.data)[0] == frozen0, "a frozen layer moved");
    CHECK(((float *)live->value.data)[0] == want, "SGD on the model: %.9g, expected %.9g",
          (double)((float *)live->value.data)[0], (double)want);
    CHECK(((float *)bias->value.data)[0] == want_bias, "bias (no decay): %.9g, expected %.9g",
          (double)((float *)bias->value.data)[0], (double)want_bias);

    // Bad settings and inputs.
    yl_optimizer_settings_of(opt)->groups[1].lr = NAN;
    CHECK_STATUS(yl_optimizer_step(opt), YL_ERR_INVALID_ARG);
    yl_optimizer_settings_of(opt)->groups[1].lr = 0.1;
    yl_optimizer_settings_of(opt)->groups[2].momentum = 1.5;
    CHECK_STATUS(yl_optimizer_step(opt), YL_ERR_INVALID_ARG);
    CHECK_STATUS(yl_optimizer_step(NULL), YL_ERR_INVALID_ARG);
    CHECK_STATUS(yl_optimizer_set_step_count(opt, -1), YL_ERR_INVALID_ARG);
    yl_optimizer_destroy(opt);
    opt = NULL;
    settings.groups[0].weight_decay = -1.0;
    CHECK_STATUS(yl_optimizer_create(&opt, &eng, &groups, &settings), YL_ERR_INVALID_ARG);
    settings = yl_optimizer_settings_make(YL_OPTIMIZER_ADAMW, 0.1, 0.9, 0.0);
    settings.eps = 0.0;
    CHECK_STATUS(yl_optimizer_create(&opt, &eng, &groups, &settings), YL_ERR_INVALID_ARG);
    settings.eps = 1e-8;
    CHECK_STATUS(yl_optimizer_create(NULL, &eng, &groups, &settings), YL_ERR_INVALID_ARG);
    CHECK_STATUS(yl_optimizer_create(&opt, &eng, NULL, &settings), YL_ERR_INVALID_ARG);
    yl_param_groups_release(&groups);

    // A gradient whose shape differs from its parameter, and a non-f32 parameter.
    float v[6] = {0}, g[6] = {0};
    int64_t shape6 = 6, shape5 = 5;
    yl_state_entry bad = optim_entry("model.0.conv.weight", YL_STATE_CONV_WEIGHT, YL_PARAM_GROUP_WEIGHT, 1, &shape6, v, g);
    bad.grad.shape[0] = shape5;
    CHECK_OK(yl_param_groups_build(&groups, &bad, 1, NULL));
    CHECK_STATUS(yl_optimizer_create(&opt, &eng, &groups, &settings), YL_ERR_SHAPE);
    yl_param_groups_release(&groups);
    bad = optim_entry("model.0.conv.weight", YL_STATE_CONV_WEIGHT, YL_PARAM_GROUP_WEIGHT, 1, &shape6, v, g);
    bad.value.dtype = YL_F16;
    CHECK_OK(yl_param_groups_build(&groups, &bad, 1, NULL));
    CHECK_STATUS(yl_optimizer_create(&opt, &eng, &groups, &settings), YL_ERR_DTYPE);
    yl_param_groups_release(&groups);
    bad = optim_entry("model.0.conv.weight", YL_STATE_CONV_WEIGHT, YL_PARAM_GROUP_NONE, 1, &shape6, v, g);
    bad.is_parameter = true;
    CHECK_STATUS(yl_param_groups_build(&groups, &bad, 1, NULL), YL_ERR_INVALID_ARG);
    yl_model_destroy(m);
    yl_engine_release(&eng);
}

int main(void) {
    test_py_float();
    test_choose();
    test_yolov8n_groups();
    test_steps();
    test_clip();
    test_model_and_errors();
    return yl_test_finish("test_optim");
}
