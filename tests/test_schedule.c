// The schedule (engine/optim/schedule.h) against Ultralytics' own training loop: lr of each group,
// momentum, accumulate and the optimizer-step decisions of every iteration, recorded by
// tools/reference/make_optim_fixtures.py from BaseTrainer._do_train driven by a probe trainer
// (optim_schedule.safetensors): explicit SGD with linear lf and accumulate ties (B 16), auto ->
// AdamW with cosine lf, auto -> SGD (momentum warm-up to 0.937 from an optimizer built with 0.9,
// warm-up never ending), and no warm-up with B 128. The optimizer choice, scaled weight decay and
// Ultralytics' optimizer log line are checked for each. The lr values are computed in the same
// double arithmetic: tolerance 1e-12 relative (measured: exact); accumulate and steps exact.
#include "engine/optim/optimizer.h"
#include "engine/optim/schedule.h"
#include "tests/optim_test_util.h"

#define LR_TOLERANCE 1e-12

static const char *meta_of(const yl_safetensors *st, const char *cfg, const char *key) {
    char full[96];
    snprintf(full, sizeof full, "%s.%s", cfg, key);
    return optim_meta(st, full);
}
static double meta_double(const yl_safetensors *st, const char *cfg, const char *key) {
    return strtod(meta_of(st, cfg, key), NULL);
}

// The probe model's groups: Conv (no bias), BatchNorm, Conv with bias.
static void tiny_groups(yl_param_groups *g, yl_state_entry entries[5], float *storage) {
    int64_t one = 1;
    entries[0] = optim_entry("model.0.weight", YL_STATE_CONV_WEIGHT, YL_PARAM_GROUP_WEIGHT, 1, &one, storage, storage + 1);
    entries[1] = optim_entry("model.1.weight", YL_STATE_BN_WEIGHT, YL_PARAM_GROUP_BN_WEIGHT, 1, &one, storage + 2, storage + 3);
    entries[2] = optim_entry("model.1.bias", YL_STATE_BN_BIAS, YL_PARAM_GROUP_BIAS, 1, &one, storage + 4, storage + 5);
    entries[3] = optim_entry("model.2.weight", YL_STATE_CONV_WEIGHT, YL_PARAM_GROUP_WEIGHT, 1, &one, storage + 6, storage + 7);
    entries[4] = optim_entry("model.2.bias", YL_STATE_CONV_BIAS, YL_PARAM_GROUP_BIAS, 1, &one, storage + 8, storage + 9);
    CHECK_OK(yl_param_groups_build(g, entries, 5, NULL));
}

static void run_config(const yl_safetensors *st, const char *name) {
    int epochs = atoi(meta_of(st, name, "epochs")), batch = atoi(meta_of(st, name, "batch"));
    int nbs = atoi(meta_of(st, name, "nbs")), nc = atoi(meta_of(st, name, "nc"));
    int64_t nb = atoll(meta_of(st, name, "nb")), dataset = atoll(meta_of(st, name, "dataset_len"));
    double weight_decay = yl_scaled_weight_decay(meta_double(st, name, "weight_decay"), batch, nbs);
    CHECK(weight_decay == meta_double(st, name, "group_weight_decay"), "%s: weight decay %.17g, Ultralytics %s", name,
          weight_decay, meta_of(st, name, "group_weight_decay"));
    yl_optimizer_request request = {
        .name = meta_of(st, name, "optimizer"),
        .lr0 = meta_double(st, name, "lr0"),
        .momentum = meta_double(st, name, "momentum"),
        .weight_decay = weight_decay,
        .warmup_bias_lr = meta_double(st, name, "warmup_bias_lr"),
        .iterations = yl_auto_optimizer_iterations(dataset, batch, nbs, epochs),
        .nc = nc,
    };
    yl_optimizer_choice choice;
    CHECK_OK(yl_optimizer_choose(&request, &choice));
    CHECK(!strcmp(yl_optimizer_kind_name(choice.settings.kind), meta_of(st, name, "chosen")), "%s: chose %s, Ultralytics %s",
          name, yl_optimizer_kind_name(choice.settings.kind), meta_of(st, name, "chosen"));
    CHECK(choice.settings.groups[0].initial_lr == meta_double(st, name, "chosen_lr") &&
              choice.settings.groups[0].momentum == meta_double(st, name, "chosen_momentum") &&
              choice.warmup_bias_lr == meta_double(st, name, "effective_warmup_bias_lr"),
          "%s: lr %.17g momentum %.17g warmup_bias_lr %g", name, choice.settings.groups[0].initial_lr,
          choice.settings.groups[0].momentum, choice.warmup_bias_lr);
    yl_param_groups groups;
    yl_state_entry entries[5];
    float storage[10] = {0};
    tiny_groups(&groups, entries, storage);
    char text[160], log[256];
    snprintf(log, sizeof log, "%s with parameter groups %s", choice.description,
             yl_param_groups_describe(&groups, weight_decay, text, sizeof text));
    CHECK(!strcmp(log, meta_of(st, name, "log")), "%s: log '%s', Ultralytics '%s'", name, log, meta_of(st, name, "log"));

    yl_schedule_config cfg = yl_schedule_config_default(epochs, batch, nb);
    cfg.lrf = meta_double(st, name, "lrf");
    cfg.cos_lr = atoi(meta_of(st, name, "cos_lr")) != 0;
    cfg.warmup_epochs = meta_double(st, name, "warmup_epochs");
    cfg.warmup_bias_lr = choice.warmup_bias_lr;
    cfg.warmup_momentum = meta_double(st, name, "warmup_momentum");
    cfg.momentum = meta_double(st, name, "momentum");
    cfg.nbs = nbs;
    yl_schedule s;
    CHECK_OK(yl_schedule_init(&s, &cfg));
    size_t n = (size_t)(nb * epochs);
    double *lr = malloc(n * 3 * sizeof *lr), *momentum = malloc(n * sizeof *momentum);
    char key[96];
    snprintf(key, sizeof key, "%s.lr.f64bits", name);
    optim_read_f64(st, key, lr, n * 3);
    snprintf(key, sizeof key, "%s.momentum.f64bits", name);
    optim_read_f64(st, key, momentum, n);
    snprintf(key, sizeof key, "%s.accumulate", name);
    const int32_t *accumulate = optim_raw(st, key, YL_I32, n);
    snprintf(key, sizeof key, "%s.step", name);
    const uint8_t *step = optim_raw(st, key, YL_U8, n);

    yl_optimizer_settings settings = choice.settings;
    double worst_lr = 0.0, worst_momentum = 0.0;
    int accumulate_mismatch = 0, step_mismatch = 0, steps = 0;
    for (int epoch = 0; epoch < epochs; epoch++) {
        CHECK_OK(yl_schedule_epoch_start(&s, &settings, epoch));
        for (int64_t i = 0; i < nb; i++) {
            size_t ni = (size_t)(i + nb * epoch);
            CHECK_OK(yl_schedule_batch_start(&s, &settings, epoch, i));
            for (int g = 0; g < 3; g++) {
                double want = lr[ni * 3 + g], got = settings.groups[g].lr;
                double err = fabs(got - want) / fmax(fabs(want), 1e-300);
                if (got == want) err = 0.0;
                if (err > worst_lr) worst_lr = err;
                if (err > LR_TOLERANCE) CHECK(false, "%s ni %zu group %d: lr %.17g, Ultralytics %.17g", name, ni, g, got, want);
            }
            double m_err = fabs(settings.groups[0].momentum - momentum[ni]) / momentum[ni];
            if (m_err > worst_momentum) worst_momentum = m_err;
            if (m_err > LR_TOLERANCE)
                CHECK(false, "%s ni %zu: momentum %.17g, Ultralytics %.17g", name, ni, settings.groups[0].momentum,
                      momentum[ni]);
            if (s.accumulate != accumulate[ni]) {
                accumulate_mismatch++;
                CHECK(false, "%s ni %zu: accumulate %d, Ultralytics %d", name, ni, s.accumulate, accumulate[ni]);
            }
            bool due = yl_schedule_step_due(&s);
            steps += due;
            if (due != (step[ni] != 0)) {
                step_mismatch++;
                CHECK(false, "%s ni %zu: step %d, Ultralytics %d", name, ni, due, step[ni]);
            }
        }
    }
    printf("  %-15s %s %zu iterations, nw %lld, %d steps: max rel error lr %.1e, momentum %.1e; "
           "accumulate / step mismatches %d / %d\n",
           name, choice.description, n, (long long)s.warmup_iterations, steps, worst_lr, worst_momentum,
           accumulate_mismatch, step_mismatch);
    free(lr);
    free(momentum);
    yl_param_groups_release(&groups);
}

static void test_helpers(void) {
    struct {
        int batch, accumulate;
        double decay;
    } cases[] = {{1, 64, 0.0005}, {8, 8, 0.0005}, {16, 4, 0.0005}, {24, 3, 0.0005625000000000001},
                 {40, 2, 0.000625}, {64, 1, 0.0005}, {100, 1, 0.00078125}, {128, 1, 0.001}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        CHECK(yl_accumulate_steps(cases[i].batch, 64) == cases[i].accumulate, "B %d: accumulate %d", cases[i].batch,
              yl_accumulate_steps(cases[i].batch, 64));
        CHECK(yl_scaled_weight_decay(5e-4, cases[i].batch, 64) == cases[i].decay, "B %d: decay %.17g", cases[i].batch,
              yl_scaled_weight_decay(5e-4, cases[i].batch, 64));
    }
    CHECK(yl_warmup_iterations(3.0, 2) == 100 && yl_warmup_iterations(3.0, 40) == 120 &&
              yl_warmup_iterations(2.5, 41) == 102 && yl_warmup_iterations(0.5, 401) == 200 &&
              yl_warmup_iterations(0.0, 50) == -1,
          "warm-up iterations (round half to even: 0.5 * 401 = 200.5 -> 200)");
    CHECK(yl_interp(0, 0, 100, 0.1, 0.01) == 0.1 && yl_interp(100, 0, 100, 0.1, 0.01) == 0.01 &&
              yl_interp(150, 0, 100, 0.1, 0.01) == 0.01 && yl_interp(-1, 0, 100, 0.1, 0.01) == 0.1,
          "interp end points");

    // yolov8.md §3.4 example: 2 batches per epoch, AdamW lr 0.001667 -> nw = 100, lr after batch 1 = 1.667e-5.
    yl_schedule_config cfg = yl_schedule_config_default(10, 16, 2);
    cfg.warmup_bias_lr = 0.0;
    yl_schedule s;
    CHECK_OK(yl_schedule_init(&s, &cfg));
    yl_optimizer_settings settings = yl_optimizer_settings_make(YL_OPTIMIZER_ADAMW, 0.001667, 0.9, 5e-4);
    CHECK_OK(yl_schedule_epoch_start(&s, &settings, 0));
    CHECK_OK(yl_schedule_batch_start(&s, &settings, 0, 1));
    CHECK(s.warmup_iterations == 100 && fabs(settings.groups[1].lr - 1.667e-5) < 1e-15 &&
              settings.groups[1].momentum == 0.9,
          "spec example: nw %lld, lr %.10g", (long long)s.warmup_iterations, settings.groups[1].lr);
    CHECK(fabs(yl_schedule_lf(&s, 9) - (0.01 + 0.99 / 10)) < 1e-15 && yl_schedule_lf(&s, 0) == 1.0, "linear lf");
    s.cfg.cos_lr = true;
    CHECK(yl_schedule_lf(&s, 0) == 1.0 && fabs(yl_schedule_lf(&s, 5) - 0.505) < 1e-15, "cosine lf");

    // Steps: accumulate 4 from the start without warm-up; a partial accumulation carries over epochs.
    cfg = yl_schedule_config_default(2, 16, 3);
    cfg.warmup_epochs = 0.0;
    CHECK_OK(yl_schedule_init(&s, &cfg));
    int due[6];
    for (int e = 0, k = 0; e < 2; e++)
        for (int i = 0; i < 3; i++, k++) {
            CHECK_OK(yl_schedule_batch_start(&s, &settings, e, i));
            due[k] = yl_schedule_step_due(&s);
        }
    CHECK(!due[0] && !due[1] && !due[2] && due[3] && !due[4] && !due[5], "steps at ni 3 only (ni - (-1) >= 4)");

    // Bad input.
    cfg.epochs = 0;
    CHECK_STATUS(yl_schedule_init(&s, &cfg), YL_ERR_INVALID_ARG);
    cfg = yl_schedule_config_default(2, 16, 3);
    cfg.lrf = NAN;
    CHECK_STATUS(yl_schedule_init(&s, &cfg), YL_ERR_INVALID_ARG);
    cfg.lrf = 0.01;
    CHECK_OK(yl_schedule_init(&s, &cfg));
    CHECK_STATUS(yl_schedule_batch_start(&s, &settings, 0, 3), YL_ERR_INVALID_ARG);
    CHECK_STATUS(yl_schedule_batch_start(&s, &settings, -1, 0), YL_ERR_INVALID_ARG);
    CHECK_STATUS(yl_schedule_batch_start(&s, NULL, 0, 0), YL_ERR_INVALID_ARG);
    CHECK_STATUS(yl_schedule_epoch_start(&s, &settings, -1), YL_ERR_INVALID_ARG);
    CHECK_STATUS(yl_schedule_init(NULL, &cfg), YL_ERR_INVALID_ARG);
    CHECK(!yl_schedule_step_due(NULL), "NULL schedule is never due");
}

int main(void) {
    yl_safetensors st;
    optim_open_fixture(&st, "optim_schedule.safetensors");
    const char *configs[] = {"sgd_linear", "auto_adamw_cos", "auto_sgd", "sgd_no_warmup"};
    for (size_t i = 0; i < sizeof configs / sizeof configs[0]; i++) run_config(&st, configs[i]);
    yl_safetensors_close(&st);
    test_helpers();
    return yl_test_finish("test_schedule");
}
