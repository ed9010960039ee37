// The model EMA (engine/optim/ema.h) against Ultralytics' ModelEMA (optim_ema.safetensors, written
// by tools/reference/make_optim_fixtures.py): a Conv-BN-Conv model whose weights and BN running
// statistics move between updates; run "a" from updates 0 (5 updates), run "b" from 1995 (3).
// Every float entry of the EMA must match after every update; num_batches_tracked is neither
// copied nor averaged. Tolerance: max |ours - torch| / max(|torch|, 1e-3) <= 1e-6 (measured: 0,
// both round v * d and (1 - d) * m to float32 and add). Also: the decay ramp, swap in / out, a
// real model's EMA, bad input.
#include "engine/optim/ema.h"
#include "tests/optim_test_util.h"

#define TOLERANCE 1e-6
#define FLOOR 1e-3
#define KEYS 8

static const char *KEY[KEYS] = {"0.weight", "1.weight", "1.bias", "1.running_mean", "1.running_var",
                                "1.num_batches_tracked", "2.weight", "2.bias"};
static const yl_state_kind KIND[KEYS] = {YL_STATE_CONV_WEIGHT, YL_STATE_BN_WEIGHT, YL_STATE_BN_BIAS,
                                         YL_STATE_BN_RUNNING_MEAN, YL_STATE_BN_RUNNING_VAR,
                                         YL_STATE_BN_NUM_BATCHES_TRACKED, YL_STATE_CONV_WEIGHT, YL_STATE_CONV_BIAS};
static const yl_param_group GROUP[KEYS] = {YL_PARAM_GROUP_WEIGHT, YL_PARAM_GROUP_BN_WEIGHT, YL_PARAM_GROUP_BIAS,
                                           YL_PARAM_GROUP_NONE, YL_PARAM_GROUP_NONE, YL_PARAM_GROUP_NONE,
                                           YL_PARAM_GROUP_WEIGHT, YL_PARAM_GROUP_BIAS};
static const int NDIM[KEYS] = {4, 1, 1, 1, 1, 0, 4, 1};
static const int64_t SHAPE[KEYS][4] = {{4, 3, 3, 3}, {4}, {4}, {4}, {4}, {0}, {5, 4, 1, 1}, {5}};
static const size_t NUMEL[KEYS] = {108, 4, 4, 4, 4, 1, 20, 5};

typedef struct {
    float value[KEYS][108];
    int64_t tracked;
    yl_state_entry entries[KEYS];
} ema_model;

static void load_state(ema_model *m, const yl_safetensors *st, const char *prefix) {
    for (int k = 0; k < KEYS; k++) {
        char name[96];
        snprintf(name, sizeof name, "%s.%s", prefix, KEY[k]);
        if (KIND[k] == YL_STATE_BN_NUM_BATCHES_TRACKED)
            m->tracked = *(const int64_t *)optim_raw(st, name, YL_I64, 1);
        else
            optim_read(st, m->value[k], NUMEL[k], "%s", name);
    }
}

static void build_model(ema_model *m) {
    memset(m, 0, sizeof *m);
    for (int k = 0; k < KEYS; k++) {
        void *data = KIND[k] == YL_STATE_BN_NUM_BATCHES_TRACKED ? (void *)&m->tracked : (void *)m->value[k];
        m->entries[k] = optim_entry(KEY[k], KIND[k], GROUP[k], NDIM[k], SHAPE[k], data, NULL);
    }
}

static void run(const yl_safetensors *st, const char *run_name) {
    yl_engine eng = yl_test_cpu_engine();
    char key[64];
    snprintf(key, sizeof key, "%s.start", run_name);
    int start = atoi(optim_meta(st, key));
    snprintf(key, sizeof key, "%s.updates", run_name);
    int updates = atoi(optim_meta(st, key));
    static ema_model m;
    build_model(&m);
    snprintf(key, sizeof key, "%s.init", run_name);
    load_state(&m, st, key);
    yl_ema *ema = NULL;
    CHECK_OK(yl_ema_create(&ema, &eng, m.entries, KEYS));
    if (!ema) return;
    CHECK_OK(yl_ema_set_updates(ema, start));
    CHECK(yl_ema_value(ema, 5) == NULL, "num_batches_tracked has no EMA copy");
    double worst = 0.0;
    float expected[108];
    for (int u = 0; u < updates; u++) {
        snprintf(key, sizeof key, "%s.model.s%d", run_name, u);
        load_state(&m, st, key);
        CHECK_OK(yl_ema_update(ema));
        for (int k = 0; k < KEYS; k++) {
            if (KIND[k] == YL_STATE_BN_NUM_BATCHES_TRACKED) continue;
            optim_read(st, expected, NUMEL[k], "%s.ema.s%d.%s", run_name, u, KEY[k]);
            yl_tensor *v = yl_ema_value(ema, k);
            CHECK(v != NULL, "EMA copy of %s", KEY[k]);
            if (!v) continue;
            double err = optim_rel_error(v->data, expected, NUMEL[k], FLOOR);
            CHECK(err <= TOLERANCE, "run %s update %d %s: error %.3e", run_name, u, KEY[k], err);
            if (err > worst) worst = err;
        }
    }
    CHECK(yl_ema_updates(ema) == start + updates, "updates %lld", (long long)yl_ema_updates(ema));
    printf("  run %s: updates %d..%d (d %.6f..%.6f): max rel error %.3e\n", run_name, start + 1, start + updates,
           yl_ema_decay(start + 1), yl_ema_decay(start + updates), worst);

    // Swap: the model computes with the EMA weights, and gets its own back.
    float model_w[108], ema_w[108];
    memcpy(model_w, m.value[0], sizeof model_w);
    memcpy(ema_w, yl_ema_value(ema, 0)->data, sizeof ema_w);
    int64_t tracked_before_swap = m.tracked;
    CHECK_OK(yl_ema_swap(ema));
    CHECK(yl_ema_is_swapped(ema) && !memcmp(m.value[0], ema_w, sizeof ema_w) &&
              !memcmp(yl_ema_value(ema, 0)->data, model_w, sizeof model_w),
          "swap in");
    CHECK(m.tracked == tracked_before_swap, "swap touched num_batches_tracked");
    CHECK_STATUS(yl_ema_update(ema), YL_ERR_INVALID_ARG);
    CHECK_OK(yl_ema_swap(ema));
    CHECK(!yl_ema_is_swapped(ema) && !memcmp(m.value[0], model_w, sizeof model_w) &&
              !memcmp(yl_ema_value(ema, 0)->data, ema_w, sizeof ema_w),
          "swap out");
    yl_ema_destroy(ema);
    yl_engine_release(&eng);
}

static void test_decay_and_errors(void) {
    CHECK(fabs(yl_ema_decay(1) - 0.9999 * (1 - exp(-1.0 / 2000))) < 1e-18 && fabs(yl_ema_decay(1) - 0.0005) < 1e-6,
          "d(1) = %.9f", yl_ema_decay(1));
    CHECK(fabs(yl_ema_decay(2000) - 0.632) < 1e-3 && fabs(yl_ema_decay(5000) - 0.918) < 1e-3 &&
              fabs(yl_ema_decay(10000) - 0.993) < 1e-3 && yl_ema_decay(0) == 0.0,
          "decay ramp (yolov8.md §3.6)");

    // A real model: every float entry has a copy equal to the model's at creation.
    yl_engine eng = yl_test_cpu_engine();
    yl_model_config cfg;
    CHECK_OK(yl_model_config_custom(&cfg, 0.33, 0.03125, 512, 3));
    yl_model *m = NULL;
    CHECK_OK(yl_model_create(&m, &eng, &cfg, 5));
    if (!m) return;
    yl_ema *ema = NULL;
    CHECK_OK(yl_ema_create_for_model(&ema, m));
    int copies = 0, mismatches = 0;
    for (int i = 0; i < yl_model_state_count(m); i++) {
        yl_state_entry *e = yl_model_state_at(m, i);
        yl_tensor *v = yl_ema_value(ema, i);
        if (e->value.dtype != YL_F32) {
            CHECK(v == NULL, "%s has an EMA copy", e->name);
            continue;
        }
        copies++;
        if (!v || memcmp(v->data, e->value.data, yl_tensor_nbytes(&e->value))) mismatches++;
    }
    CHECK(copies > 0 && mismatches == 0, "%d copies, %d differ from the model", copies, mismatches);
    // An update with an unchanged model leaves the EMA equal to it (d x + (1 - d) x rounds back to
    // x only approximately; check closeness).
    CHECK_OK(yl_ema_update(ema));
    yl_state_entry *w = yl_model_state_find(m, "model.0.conv.weight");
    double err = optim_rel_error(yl_ema_value(ema, 0)->data, w->value.data, (size_t)yl_tensor_numel(&w->value), FLOOR);
    CHECK(err < 1e-6, "steady model: EMA drifts by %.3e", err);
    CHECK(yl_ema_value(ema, -1) == NULL && yl_ema_value(ema, yl_model_state_count(m)) == NULL, "out of range");
    yl_ema_destroy(ema);

    // Bad input.
    CHECK_STATUS(yl_ema_create(NULL, &eng, yl_model_state_at(m, 0), 1), YL_ERR_INVALID_ARG);
    CHECK_STATUS(yl_ema_create(&ema, &eng, NULL, 3), YL_ERR_INVALID_ARG);
    CHECK_STATUS(yl_ema_create_for_model(&ema, NULL), YL_ERR_INVALID_ARG);
    CHECK_STATUS(yl_ema_update(NULL), YL_ERR_INVALID_ARG);
    CHECK_STATUS(yl_ema_swap(NULL), YL_ERR_INVALID_ARG);
    CHECK_STATUS(yl_ema_set_updates(NULL, 3), YL_ERR_INVALID_ARG);
    float half[4] = {0};
    int64_t four = 4;
    yl_state_entry f16 = optim_entry("model.0.conv.weight", YL_STATE_CONV_WEIGHT, YL_PARAM_GROUP_WEIGHT, 1, &four, half, NULL);
    f16.value.dtype = YL_F16;
    CHECK_STATUS(yl_ema_create(&ema, &eng, &f16, 1), YL_ERR_DTYPE);
    f16.value.dtype = YL_F32;
    f16.value.data = NULL;
    CHECK_STATUS(yl_ema_create(&ema, &eng, &f16, 1), YL_ERR_INVALID_ARG);
    yl_model_destroy(m);
    yl_engine_release(&eng);
}

int main(void) {
    yl_safetensors st;
    optim_open_fixture(&st, "optim_ema.safetensors");
    run(&st, "a");
    run(&st, "b");
    yl_safetensors_close(&st);
    test_decay_and_errors();
    return yl_test_finish("test_ema");
}
