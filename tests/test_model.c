// YOLOv8 model: scaling arithmetic, parameter/state counts against Ultralytics for n/s/m/l/x,
// the yolov8n state_dict keys and shapes (fixture from Ultralytics 8.3.166), initial values,
// the forward pass against an independent double-precision reference (train and eval BN), the
// full backward pass against finite differences, gradient accumulation, and bad input.
#include <stdint.h>

#include "engine/core/threads.h"
#include "engine/model/model.h"
#include "model_reference.h"
#include "test_common.h"

#ifndef YL_TEST_FIXTURES
#define YL_TEST_FIXTURES "tests/fixtures"
#endif

// ---- scaling arithmetic ----------------------------------------------------------------------

// Output channels of layers 0..21 (Upsample/Concat included) and C2f repeats, from yolov8.md §1.2.
typedef struct {
    const char *scale;
    int channels[22];
    int repeats[22];
    int detect_in[3];
    int box_hidden, cls_hidden;  // nc = 80
} scale_expectation;

static const scale_expectation SCALE_TABLE[] = {
    {"n",
     {16, 32, 32, 64, 64, 128, 128, 256, 256, 256, 256, 384, 128, 128, 192, 64, 64, 192, 128, 128, 384, 256},
     {1, 1, 1, 1, 2, 1, 2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1},
     {64, 128, 256}, 64, 80},
    {"s",
     {32, 64, 64, 128, 128, 256, 256, 512, 512, 512, 512, 768, 256, 256, 384, 128, 128, 384, 256, 256, 768, 512},
     {1, 1, 1, 1, 2, 1, 2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1},
     {128, 256, 512}, 64, 128},
    {"m",
     {48, 96, 96, 192, 192, 384, 384, 576, 576, 576, 576, 960, 384, 384, 576, 192, 192, 576, 384, 384, 960, 576},
     {1, 1, 2, 1, 4, 1, 4, 1, 2, 1, 1, 1, 2, 1, 1, 2, 1, 1, 2, 1, 1, 2},
     {192, 384, 576}, 64, 192},
    {"l",
     {64, 128, 128, 256, 256, 512, 512, 512, 512, 512, 512, 1024, 512, 512, 768, 256, 256, 768, 512, 512, 1024, 512},
     {1, 1, 3, 1, 6, 1, 6, 1, 3, 1, 1, 1, 3, 1, 1, 3, 1, 1, 3, 1, 1, 3},
     {256, 512, 512}, 64, 256},
    {"x",
     {80, 160, 160, 320, 320, 640, 640, 640, 640, 640, 640, 1280, 640, 640, 960, 320, 320, 960, 640, 640, 1280, 640},
     {1, 1, 3, 1, 6, 1, 6, 1, 3, 1, 1, 1, 3, 1, 1, 3, 1, 1, 3, 1, 1, 3},
     {320, 640, 640}, 80, 320},
};

static void test_scaling(void) {
    CHECK(yl_make_divisible(4.0, 8) == 8 && yl_make_divisible(16.0, 8) == 16 && yl_make_divisible(16.5, 8) == 24,
          "make_divisible");
    yl_model_config cfg;
    CHECK_OK(yl_model_config_from_scale(&cfg, "n", 80));
    CHECK(yl_scale_repeats(&cfg, 3) == 1 && yl_scale_repeats(&cfg, 6) == 2 && yl_scale_repeats(&cfg, 1) == 1,
          "n repeats");
    CHECK_OK(yl_model_config_from_scale(&cfg, "yolov8m", 80));
    CHECK(cfg.scale == 'm' && yl_scale_repeats(&cfg, 3) == 2 && yl_scale_repeats(&cfg, 6) == 4, "m repeats");
    CHECK(yl_scale_channels(&cfg, 1024) == 576, "m caps 1024 at 768 * 0.75 = 576, got %d",
          yl_scale_channels(&cfg, 1024));
    // Round half to even, as Python's round: 3 * 0.5 = 1.5 -> 2, 5 * 0.5 = 2.5 -> 2.
    CHECK_OK(yl_model_config_custom(&cfg, 0.5, 0.25, 1024, 80));
    CHECK(yl_scale_repeats(&cfg, 3) == 2 && yl_scale_repeats(&cfg, 5) == 2, "half-even rounding");
    // Ultralytics leaves a yaml channel count equal to nc unscaled.
    CHECK_OK(yl_model_config_from_scale(&cfg, "n", 64));
    CHECK(yl_scale_channels(&cfg, 64) == 64 && yl_scale_channels(&cfg, 128) == 32, "c2 == nc is not scaled");

    for (size_t s = 0; s < sizeof SCALE_TABLE / sizeof SCALE_TABLE[0]; s++) {
        const scale_expectation *e = &SCALE_TABLE[s];
        yl_model_layout layout;
        CHECK_OK(yl_model_config_from_scale(&cfg, e->scale, 80));
        CHECK_OK(yl_model_layout_build(&cfg, &layout));
        for (int i = 0; i < 22; i++) {
            CHECK(layout.layers[i].c_out == e->channels[i], "%s layer %d: %d channels, expected %d", e->scale, i,
                  layout.layers[i].c_out, e->channels[i]);
            if (layout.layers[i].kind == YL_LAYER_C2F)
                CHECK(layout.layers[i].repeats == e->repeats[i], "%s layer %d: %d repeats, expected %d", e->scale, i,
                      layout.layers[i].repeats, e->repeats[i]);
        }
        for (int l = 0; l < 3; l++) {
            CHECK(layout.detect_in[l] == e->detect_in[l], "%s detect input %d", e->scale, l);
            CHECK(layout.detect_strides[l] == 8 << l, "%s stride %d = %d", e->scale, l, layout.detect_strides[l]);
        }
        CHECK(layout.box_hidden == e->box_hidden && layout.cls_hidden == e->cls_hidden, "%s head widths %d %d",
              e->scale, layout.box_hidden, layout.cls_hidden);
        CHECK(layout.layers[22].c_out == 144, "%s head map channels", e->scale);
    }
    CHECK_OK(yl_model_config_from_scale(&cfg, "n", 2));
    yl_model_layout layout;
    CHECK_OK(yl_model_layout_build(&cfg, &layout));
    CHECK(layout.cls_hidden == 64, "yolov8n nc=2: c3 = max(64, 2) = 64, got %d", layout.cls_hidden);

    CHECK_STATUS(yl_model_config_from_scale(&cfg, "q", 80), YL_ERR_INVALID_ARG);
    CHECK_STATUS(yl_model_config_from_scale(&cfg, "n", 0), YL_ERR_INVALID_ARG);
    CHECK_STATUS(yl_model_config_from_scale(NULL, "n", 80), YL_ERR_INVALID_ARG);
    CHECK_STATUS(yl_model_config_custom(&cfg, 0.0, 0.25, 1024, 3), YL_ERR_INVALID_ARG);
    CHECK_STATUS(yl_model_config_custom(&cfg, 0.33, -1.0, 1024, 3), YL_ERR_INVALID_ARG);
    CHECK_STATUS(yl_model_config_custom(&cfg, 0.33, 0.25, 4, 3), YL_ERR_INVALID_ARG);
}

// ---- counts ----------------------------------------------------------------------------------

typedef struct {
    const char *scale;
    int nc;
    int64_t parameters;
    int state_entries, batchnorm, leaf_layers;
    double gflops;  // at 640, conv MACs x 2 (yolov8.md §1.5, two decimals)
} count_expectation;

static void test_counts(void) {
    const count_expectation table[] = {
        {"n", 80, 3157200, 355, 57, 129, 8.75},     {"s", 80, 11166560, 355, 57, 129, 28.61},
        {"m", 80, 25902640, 475, 77, 169, 78.94},   {"l", 80, 43691520, 595, 97, 209, 165.15},
        {"x", 80, 68229648, 595, 97, 209, 257.81},  {"n", 2, 3011238, 355, 57, 129, -1.0},
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        const count_expectation *e = &table[i];
        yl_model_config cfg;
        yl_model_summary s;
        CHECK_OK(yl_model_config_from_scale(&cfg, e->scale, e->nc));
        CHECK_OK(yl_model_summarize(&cfg, 640, &s));
        CHECK(s.parameters == e->parameters, "%s nc=%d: %lld parameters, expected %lld", e->scale, e->nc,
              (long long)s.parameters, (long long)e->parameters);
        CHECK(s.trainable == e->parameters - 16, "%s: trainable %lld", e->scale, (long long)s.trainable);
        CHECK(s.state_entries == e->state_entries, "%s: %d state entries, expected %d", e->scale, s.state_entries,
              e->state_entries);
        CHECK(s.batchnorm_layers == e->batchnorm, "%s: %d BN layers", e->scale, s.batchnorm_layers);
        CHECK(s.leaf_layers == e->leaf_layers, "%s: %d layers, expected %d", e->scale, s.leaf_layers,
              e->leaf_layers);
        if (e->gflops > 0)
            CHECK(fabs(s.gflops - e->gflops) <= 0.005, "%s: %.4f GFLOPs, expected %.2f", e->scale, s.gflops, e->gflops);
        printf("  yolov8%s nc=%d: %lld parameters, %d entries, %d layers, %.2f GFLOPs\n", e->scale, e->nc,
               (long long)s.parameters, s.state_entries, s.leaf_layers, s.gflops);
    }
    const int64_t per_layer_n[23] = {464,    4672, 7360, 18560, 49664,  73984, 197632, 295424,
                                     460288, 164608, 0,  0,     148224, 0,     0,      37248,
                                     36992,  0,      123648, 147712, 0,  493056, 897664};
    yl_model_config cfg;
    yl_model_summary s;
    CHECK_OK(yl_model_config_from_scale(&cfg, "n", 80));
    CHECK_OK(yl_model_summarize(&cfg, 640, &s));
    for (int i = 0; i < 23; i++)
        CHECK(s.layer_parameters[i] == per_layer_n[i], "yolov8n layer %d: %lld parameters, expected %lld", i,
              (long long)s.layer_parameters[i], (long long)per_layer_n[i]);
    CHECK(fabs(floor(s.gflops * 10 + 0.5) / 10 - 8.7) < 1e-9, "yolov8n prints as 8.7 GFLOPs (%.3f)", s.gflops);
}

// ---- state_dict keys (fixture) and initial values ----------------------------------------------

static void shape_string(const yl_tensor *t, char *buf, size_t size) {
    size_t len = (size_t)snprintf(buf, size, "(");
    for (int d = 0; d < t->ndim; d++)
        len += (size_t)snprintf(buf + len, size - len, "%lld%s", (long long)t->shape[d],
                                t->ndim == 1 || d + 1 < t->ndim ? "," : "");
    snprintf(buf + len, size - len, ")");
}

static void test_state_keys(yl_model *m) {
    const char *path = YL_TEST_FIXTURES "/yolov8n_state_dict_keys.tsv";
    FILE *f = fopen(path, "r");
    CHECK(f != NULL, "cannot open %s", path);
    if (!f) return;
    char line[512];
    int index = 0, mismatches = 0;
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '#' || line[0] == '\n') continue;
        char name[128], shape[64], dtype[32];
        if (sscanf(line, "%127s\t%63s\t%31s", name, shape, dtype) != 3) continue;
        yl_state_entry *e = yl_model_state_at(m, index++);
        if (!e) {
            CHECK(0, "fixture has more entries than the model (at %s)", name);
            break;
        }
        char ours[64];
        shape_string(&e->value, ours, sizeof ours);
        const char *our_dtype = e->value.dtype == YL_I64 ? "int64" : "float32";
        if (strcmp(name, e->name) || strcmp(shape, ours) || strcmp(dtype, our_dtype)) {
            if (mismatches++ < 5)
                CHECK(0, "entry %d: fixture %s %s %s, model %s %s %s", index - 1, name, shape, dtype, e->name, ours,
                      our_dtype);
        }
    }
    fclose(f);
    CHECK(mismatches == 0, "%d state entries differ from the fixture", mismatches);
    CHECK(index == 355 && yl_model_state_count(m) == 355, "fixture %d entries, model %d", index,
          yl_model_state_count(m));

    yl_state_entry *e = yl_model_state_find(m, "model.9.cv2.bn.running_var");
    CHECK(e && e->kind == YL_STATE_BN_RUNNING_VAR && e->layer == 9 && !e->requires_grad && !e->is_parameter,
          "lookup of a buffer");
    CHECK(yl_model_state_find(m, "model.9.cv3.bn.weight") == NULL, "unknown name -> NULL");
    CHECK(yl_model_state_at(m, 355) == NULL && yl_model_state_at(m, -1) == NULL, "index out of range -> NULL");
    int groups[3] = {0, 0, 0}, trainable_without_grad = 0;
    for (int i = 0; i < yl_model_state_count(m); i++) {
        yl_state_entry *s = yl_model_state_at(m, i);
        if (s->group != YL_PARAM_GROUP_NONE) groups[s->group]++;
        if (s->requires_grad != (s->grad.data != NULL)) trainable_without_grad++;
    }
    // Ultralytics' log line: "57 weight(decay=0.0), 64 weight(decay=0.0005), 63 bias(decay=0.0)".
    CHECK(groups[YL_PARAM_GROUP_BN_WEIGHT] == 57 && groups[YL_PARAM_GROUP_WEIGHT] == 64 &&
              groups[YL_PARAM_GROUP_BIAS] == 63,
          "parameter groups %d %d %d", groups[0], groups[1], groups[2]);
    CHECK(trainable_without_grad == 0, "gradients exist exactly for trainable entries");
    yl_state_entry *dfl = yl_model_state_find(m, "model.22.dfl.conv.weight");
    CHECK(dfl && dfl->is_parameter && !dfl->requires_grad && dfl->grad.data == NULL, "DFL weight is frozen");
}

static const float *entry_data(yl_model *m, const char *name) {
    yl_state_entry *e = yl_model_state_find(m, name);
    if (!e) {
        fprintf(stderr, "no entry %s\n", name);
        exit(2);
    }
    return e->value.data;
}

static void test_initial_values(yl_model *m, int nc) {
    const double expected_cls[3] = {log(5.0 / nc / 6400.0), log(5.0 / nc / 1600.0), log(5.0 / nc / 400.0)};
    if (nc == 80)
        CHECK(fabs(expected_cls[0] + 11.5366) < 1e-4 && fabs(expected_cls[1] + 10.1503) < 1e-4 &&
                  fabs(expected_cls[2] + 8.7641) < 1e-4,
              "spec values of the class bias");
    for (int l = 0; l < 3; l++) {
        char name[64];
        snprintf(name, sizeof name, "model.22.cv3.%d.2.bias", l);
        const float *cls = entry_data(m, name);
        snprintf(name, sizeof name, "model.22.cv2.%d.2.bias", l);
        const float *box = entry_data(m, name);
        double worst = 0.0;
        for (int c = 0; c < nc; c++) worst = fmax(worst, fabs(cls[c] - expected_cls[l]));
        CHECK(worst < 1e-5, "P%d class bias %.5f, expected %.5f", l + 3, (double)cls[0], expected_cls[l]);
        for (int c = 0; c < 64; c++) worst = fmax(worst, fabs(box[c] - 1.0));
        CHECK(worst < 1e-5, "P%d box bias 1.0", l + 3);
    }
    const float *dfl = entry_data(m, "model.22.dfl.conv.weight");
    for (int i = 0; i < 16; i++) CHECK(dfl[i] == (float)i, "dfl[%d] = %g", i, (double)dfl[i]);
    const float *gamma = entry_data(m, "model.21.m.0.cv2.bn.weight");
    const float *beta = entry_data(m, "model.21.m.0.cv2.bn.bias");
    const float *mean = entry_data(m, "model.21.m.0.cv2.bn.running_mean");
    const float *var = entry_data(m, "model.21.m.0.cv2.bn.running_var");
    CHECK(gamma[7] == 1.0f && beta[7] == 0.0f && mean[7] == 0.0f && var[7] == 1.0f, "BN 1/0/0/1");
    const int64_t *tracked = yl_model_state_find(m, "model.0.bn.num_batches_tracked")->value.data;
    CHECK(*tracked == 0, "num_batches_tracked starts at 0");

    // U(-b, b), b = 1/sqrt(fan_in): model.8.m.0.cv1 has fan_in 128 * 9 (yolov8n).
    yl_state_entry *w = yl_model_state_find(m, "model.8.m.0.cv1.conv.weight");
    int64_t n = yl_tensor_numel(&w->value);
    double bound = 1.0 / sqrt(128.0 * 9.0), sum = 0.0, sum2 = 0.0, largest = 0.0;
    const float *wd = w->value.data;
    for (int64_t i = 0; i < n; i++) {
        sum += wd[i];
        sum2 += (double)wd[i] * wd[i];
        largest = fmax(largest, fabs(wd[i]));
    }
    double mean_w = sum / n, var_w = sum2 / n - mean_w * mean_w;
    CHECK(largest <= bound * (1 + 1e-6) && largest > 0.99 * bound, "max |w| %.5f, bound %.5f", largest, bound);
    CHECK(fabs(mean_w) < 0.01 * bound && fabs(var_w / (bound * bound / 3.0) - 1.0) < 0.02,
          "uniform moments: mean %.3g, var ratio %.4f", mean_w, var_w / (bound * bound / 3.0));
}

static void test_yolov8n(yl_engine *eng) {
    yl_model_config cfg;
    yl_model *m = NULL;
    CHECK_OK(yl_model_config_from_scale(&cfg, "n", 80));
    CHECK_OK(yl_model_create(&m, eng, &cfg, 0));
    if (!m) return;
    test_state_keys(m);
    test_initial_values(m, 80);
    CHECK(fabs(yl_model_gflops(m, 640, 640) - 8.7464) < 1e-4, "gflops %.4f", yl_model_gflops(m, 640, 640));
    // Same seed, same weights; another seed, other weights.
    yl_state_entry *w = yl_model_state_find(m, "model.4.m.1.cv2.conv.weight");
    float first = ((float *)w->value.data)[123];
    CHECK_OK(yl_model_init_parameters(m, 0));
    CHECK(((float *)w->value.data)[123] == first, "init is deterministic");
    CHECK_OK(yl_model_init_parameters(m, 1));
    CHECK(((float *)w->value.data)[123] != first, "the seed changes the init");
    yl_model_destroy(m);

    CHECK_OK(yl_model_config_from_scale(&cfg, "n", 2));
    CHECK_OK(yl_model_create(&m, eng, &cfg, 7));
    if (!m) return;
    test_initial_values(m, 2);
    yl_state_entry *cls = yl_model_state_find(m, "model.22.cv3.0.0.conv.weight");
    CHECK(cls && cls->value.shape[0] == 64, "nc=2: class branch width 64");
    yl_model_destroy(m);
}

// ---- a tiny model: forward against the reference, backward against finite differences ----------

static yl_model *tiny_model(yl_engine *eng, int nc) {
    yl_model_config cfg;
    yl_model *m = NULL;
    // width 1/16: 8..64-channel layers; depth 0.33: C2f repeats 1, 2, 2, 1, ...
    CHECK_OK(yl_model_config_custom(&cfg, 0.33, 0.0625, 1024, nc));
    CHECK_OK(yl_model_create(&m, eng, &cfg, 3));
    return m;
}

static ref_tensor ref_from_tensor(const yl_tensor *t) {
    ref_tensor r = ref_new((int)t->shape[0], (int)t->shape[1], (int)t->shape[2], (int)t->shape[3]);
    const float *d = t->data;
    for (int64_t i = 0; i < yl_tensor_numel(t); i++) r.d[i] = d[i];
    return r;
}

// Max |ours - ref| relative to max |ref| over the three maps.
static double compare_maps(const yl_tensor maps[3], const ref_tensor ref[3]) {
    double worst = 0.0;
    for (int l = 0; l < 3; l++) {
        int64_t n = yl_tensor_numel(&maps[l]);
        const float *d = maps[l].data;
        double scale = 0.0, diff = 0.0;
        for (int64_t i = 0; i < n; i++) {
            scale = fmax(scale, fabs(ref[l].d[i]));
            diff = fmax(diff, fabs(d[i] - ref[l].d[i]));
            if (isnan(d[i])) diff = INFINITY;
        }
        worst = fmax(worst, diff / fmax(scale, 1e-12));
    }
    return worst;
}

static void check_map_shapes(const yl_tensor maps[3], int batch, int nc, int height, int width) {
    for (int l = 0; l < 3; l++) {
        int s = 8 << l;
        CHECK(maps[l].ndim == 4 && maps[l].shape[0] == batch && maps[l].shape[1] == 64 + nc &&
                  maps[l].shape[2] == height / s && maps[l].shape[3] == width / s,
              "map %d shape (%lld, %lld, %lld, %lld)", l, (long long)maps[l].shape[0], (long long)maps[l].shape[1],
              (long long)maps[l].shape[2], (long long)maps[l].shape[3]);
    }
}

static void test_forward_reference(yl_engine *eng) {
    const int nc = 3;
    yl_model *m = tiny_model(eng, nc);
    if (!m) return;
    yl_rng rng;
    yl_rng_seed(&rng, 11, 0);
    // Planned for 2 x 64 x 96; also run a smaller 1 x 64 x 64 input in the same buffers.
    CHECK_OK(yl_model_plan(m, 2, 64, 96, true));
    const int sizes[2][3] = {{2, 64, 96}, {1, 64, 64}};
    for (int t = 0; t < 2; t++) {
        int b = sizes[t][0], h = sizes[t][1], w = sizes[t][2];
        float *pixels = yl_test_random(&rng, (size_t)b * 3 * h * w, 0.0f, 1.0f);
        yl_tensor images = yl_tensor_4d(pixels, YL_DEVICE_CPU, b, 3, h, w);
        ref_tensor ref_images = ref_from_tensor(&images);

        // Running statistics after one training forward: 0.97 * init + 0.03 * batch statistics.
        yl_state_entry *rm = yl_model_state_find(m, "model.0.bn.running_mean");
        yl_state_entry *rv = yl_model_state_find(m, "model.0.bn.running_var");
        float mean_before = ((float *)rm->value.data)[1], var_before = ((float *)rv->value.data)[1];

        ref_tensor ref_maps[3];
        ref_context ctx = {.model = m, .training = true};
        ref_yolov8_forward(&ctx, &ref_images, ref_maps);  // before our forward changes running stats
        yl_tensor maps[3];
        CHECK_OK(yl_model_forward_train(m, &images, maps));
        check_map_shapes(maps, b, nc, h, w);
        double err = compare_maps(maps, ref_maps);
        printf("  forward train %dx3x%dx%d vs double reference: max rel err %.3e\n", b, h, w, err);
        CHECK(err < 1e-4, "train forward differs from the reference: %.3e", err);
        for (int l = 0; l < 3; l++) ref_free(&ref_maps[l]);

        int64_t wshape[4];
        const float *w0 = ref_param(&ctx, "model.0", ".conv.weight", wshape);
        ref_tensor z = ref_conv2d(&ref_images, w0, NULL, (int)wshape[0], 3, 2);
        double s = 0.0, s2 = 0.0, count = (double)z.n * z.h * z.w;
        for (int n = 0; n < z.n; n++)
            for (int p = 0; p < z.h * z.w; p++) s += ref_at(&z, n, 1, 0, 0)[p];
        double mean = s / count;
        for (int n = 0; n < z.n; n++)
            for (int p = 0; p < z.h * z.w; p++) s2 += pow(ref_at(&z, n, 1, 0, 0)[p] - mean, 2);
        double unbiased = s2 / (count - 1);
        ref_free(&z);
        double want_mean = 0.97 * mean_before + 0.03 * mean, want_var = 0.97 * var_before + 0.03 * unbiased;
        CHECK(fabs(((float *)rm->value.data)[1] - want_mean) < 1e-5 * fmax(1.0, fabs(want_mean)),
              "running_mean %.7f, expected %.7f", (double)((float *)rm->value.data)[1], want_mean);
        CHECK(fabs(((float *)rv->value.data)[1] - want_var) < 1e-5 * fmax(1.0, fabs(want_var)),
              "running_var %.7f, expected %.7f (unbiased batch variance)", (double)((float *)rv->value.data)[1],
              want_var);

        // Eval forward: BN with the running statistics, which it leaves unchanged.
        float mean_after = ((float *)rm->value.data)[1];
        ctx.training = false;
        ref_yolov8_forward(&ctx, &ref_images, ref_maps);
        CHECK_OK(yl_model_forward_eval(m, &images, maps));
        check_map_shapes(maps, b, nc, h, w);
        err = compare_maps(maps, ref_maps);
        printf("  forward eval  %dx3x%dx%d vs double reference: max rel err %.3e\n", b, h, w, err);
        CHECK(err < 1e-4, "eval forward differs from the reference: %.3e", err);
        CHECK(((float *)rm->value.data)[1] == mean_after, "eval forward keeps the running mean");
        for (int l = 0; l < 3; l++) ref_free(&ref_maps[l]);
        ref_free(&ref_images);
        free(pixels);
    }
    CHECK(yl_model_num_batches_tracked(m) == 2, "two training forwards counted");
    CHECK_OK(yl_model_store_num_batches_tracked(m));
    const int64_t *tracked = yl_model_state_find(m, "model.22.cv3.2.1.bn.num_batches_tracked")->value.data;
    CHECK(*tracked == 2, "stored num_batches_tracked %lld", (long long)*tracked);
    yl_model_destroy(m);
}

// ---- backward against finite differences ----------------------------------------------------
//
// The loss L = sum_l <map_l, r_l> is evaluated by the double-precision reference forward (BN
// with batch statistics, as in training), so the differences carry no fp32 noise and tiny steps
// can be used. The analytic gradient comes from the engine's fp32 backward.
//
// Parameters are floats: a perturbation p -> (float)(p + step * v) is applied as stored, and the
// analytic change is computed from the applied perturbation, sum_i g_i (p_i+ - p_i-), so float
// rounding of the step costs nothing. error = |dL - analytic| / max(|dL|, |analytic|, floor).
//
// SPPF's max-pools make L piecewise smooth. A kink within +-step spoils an estimate; a wrong
// gradient does not go away with a smaller step. So a failing check is repeated with the step
// divided by 4: if two successive estimates agree (to 1e-3), the discrepancy is real; if none
// agree down to step / 16, the point is "unresolved" (a kink, no verdict), and at most a
// quarter of the points may be unresolved.

typedef struct {
    yl_model *model;
    const float *pixels;
    int batch, height, width;
    float *r[3];
} fd_fixture;

static double reference_loss(fd_fixture *fx) {
    ref_tensor images = ref_new(fx->batch, 3, fx->height, fx->width);
    for (size_t i = 0; i < (size_t)fx->batch * 3 * fx->height * fx->width; i++) images.d[i] = fx->pixels[i];
    ref_context ctx = {.model = fx->model, .training = true};
    ref_tensor maps[3];
    ref_yolov8_forward(&ctx, &images, maps);
    double loss = 0.0;
    for (int l = 0; l < 3; l++) {
        size_t n = (size_t)maps[l].n * maps[l].c * maps[l].h * maps[l].w;
        for (size_t i = 0; i < n; i++) loss += maps[l].d[i] * fx->r[l][i];
        ref_free(&maps[l]);
    }
    ref_free(&images);
    return loss;
}

// One perturbed tensor: element `index`, or all of it along `direction`.
typedef struct {
    float *param;
    const float *saved;
    const float *grad;       // analytic dL/dparam
    const float *direction;  // NULL: element `index` only
    size_t n, index;
} fd_target;

// Sets param = saved + step * direction (as floats); returns the analytic change of L.
static double fd_apply(fd_target *t, double step) {
    double change = 0.0;
    size_t first = t->direction ? 0 : t->index, last = t->direction ? t->n : t->index + 1;
    for (size_t i = first; i < last; i++) {
        t->param[i] = (float)(t->saved[i] + step * (t->direction ? t->direction[i] : 1.0));
        change += (double)t->grad[i] * ((double)t->param[i] - (double)t->saved[i]);
    }
    return change;
}

static void fd_restore(fd_target *t) {
    if (t->direction)
        memcpy(t->param, t->saved, t->n * sizeof(float));
    else
        t->param[t->index] = t->saved[t->index];
}

typedef struct {
    double error;
    double numeric, analytic;  // per unit step
    bool resolved;
} fd_outcome;

// floor: the derivative scale below which differences count as absolute.
static fd_outcome fd_check(fd_fixture *fx, fd_target *targets, int count, double step, double floor) {
    fd_outcome out = {0.0, 0.0, 0.0, false};
    double previous = NAN;
    for (int attempt = 0; attempt < 3; attempt++, step /= 4.0) {
        double analytic = 0.0;
        for (int t = 0; t < count; t++) analytic += fd_apply(&targets[t], step);
        double plus = reference_loss(fx);
        // A single element moves by exactly what float rounding left of the step.
        double moved = count == 1 && !targets[0].direction ? targets[0].param[targets[0].index] : 0.0;
        for (int t = 0; t < count; t++) analytic -= fd_apply(&targets[t], -step);
        double minus = reference_loss(fx);
        if (count == 1 && !targets[0].direction) moved -= targets[0].param[targets[0].index];
        for (int t = 0; t < count; t++) fd_restore(&targets[t]);
        double span = moved != 0.0 ? moved : 2.0 * step;
        double numeric = (plus - minus) / span;
        analytic /= span;
        out.numeric = numeric;
        out.analytic = analytic;
        out.error = fabs(numeric - analytic) / fmax(fmax(fabs(numeric), fabs(analytic)), floor);
        bool agrees = !isnan(previous) && fabs(numeric - previous) <= 1e-3 * fmax(fabs(numeric), floor);
        if (out.error < 1e-3 || agrees) {
            out.resolved = true;
            return out;
        }
        previous = numeric;
    }
    return out;
}

typedef struct {
    double worst;
    int unresolved, checked;
    char worst_label[80];
    fd_outcome worst_outcome;
} fd_summary;

static void fd_record(fd_summary *s, const char *label, fd_outcome o) {
    s->checked++;
    if (!o.resolved) {
        s->unresolved++;
        return;
    }
    if (o.error > s->worst || isnan(o.error)) {
        s->worst = o.error;
        s->worst_outcome = o;
        snprintf(s->worst_label, sizeof s->worst_label, "%s", label);
    }
}

static void fd_report(const char *what, const fd_summary *s, double tolerance) {
    printf("  %-44s %3d checks, max err %.2e, %d unresolved (worst %s: analytic %.6g numeric %.6g)\n", what,
           s->checked, s->worst, s->unresolved, s->worst_label, s->worst_outcome.analytic, s->worst_outcome.numeric);
    CHECK(s->worst < tolerance, "%s: gradient error %.3e > %.0e at %s", what, s->worst, tolerance, s->worst_label);
    CHECK(4 * s->unresolved <= s->checked, "%s: %d of %d checks unresolved", what, s->unresolved, s->checked);
}

// Element-wise checks of `samples` entries spread over one tensor; floor 1% of its largest |g|.
static void fd_elements(fd_fixture *fx, fd_summary *s, const char *label, float *param, const float *grad, size_t n,
                        size_t samples) {
    float *saved = yl_test_alloc(n);
    memcpy(saved, param, n * sizeof(float));
    double largest = 0.0;
    for (size_t i = 0; i < n; i++) largest = fmax(largest, fabs(grad[i]));
    size_t stride = n > samples ? n / samples : 1;
    for (size_t i = stride / 2; i < n; i += stride) {
        fd_target t = {param, saved, grad, NULL, n, i};
        char where[80];
        snprintf(where, sizeof where, "%s[%zu]", label, i);
        fd_record(s, where, fd_check(fx, &t, 1, 1e-4, fmax(0.01 * largest, 1e-6)));
    }
    free(saved);
}

static void test_gradients(yl_engine *eng) {
    yl_model *m = tiny_model(eng, 3);
    if (!m) return;
    const int b = 2, h = 64, w = 64;
    CHECK_OK(yl_model_plan(m, b, h, w, true));
    yl_rng rng;
    yl_rng_seed(&rng, 5, 0);
    size_t n_in = (size_t)b * 3 * h * w;
    float *pixels = yl_test_random(&rng, n_in, 0.0f, 1.0f);
    float *d_pixels = yl_test_alloc(n_in);
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

    // Element-wise on parameters from every kind of block, and on the input.
    const char *params[] = {
        "model.0.conv.weight",          // first conv (stride 2)
        "model.0.bn.weight",            // BN gamma
        "model.4.m.1.cv2.conv.weight",  // backbone bottleneck with shortcut
        "model.4.cv1.bn.bias",          // BN beta before the C2f split
        "model.9.cv1.conv.weight",      // SPPF (max-pool chain)
        "model.12.m.0.cv1.conv.weight", // neck C2f (no shortcut), skip from layer 6
        "model.16.conv.weight",         // P3 -> P4 down conv
        "model.22.cv2.1.1.bn.weight",   // head BN gamma (box branch)
        "model.22.cv3.0.2.bias",        // class conv bias
        "model.22.cv2.2.2.weight",      // box conv weight, P5
    };
    const double tolerance = 2e-3;
    fd_summary elements = {0};
    for (size_t p = 0; p < sizeof params / sizeof params[0]; p++) {
        yl_state_entry *e = yl_model_state_find(m, params[p]);
        CHECK(e != NULL && e->grad.data != NULL, "%s has a gradient", params[p]);
        if (!e || !e->grad.data) continue;
        fd_elements(&fx, &elements, params[p], e->value.data, e->grad.data, (size_t)yl_tensor_numel(&e->value), 4);
    }
    fd_elements(&fx, &elements, "input", pixels, d_pixels, n_in, 6);
    fd_report("element-wise (10 tensors + input)", &elements, tolerance);

    // Directional, per layer: every trainable tensor of layer i moved along one random unit
    // direction; floor 1% of sum_i |g_i v_i|. Plus one direction through every parameter.
    fd_summary layers = {0};
    int count = yl_model_state_count(m);
    fd_target *targets = calloc((size_t)count, sizeof *targets);
    float **buffers = calloc(2 * (size_t)count, sizeof *buffers);
    for (int layer = -1; layer < YL_YOLOV8_LAYER_COUNT; layer++) {  // -1: all layers at once
        int used = 0;
        double scale = 0.0, norm = 0.0;
        for (int i = 0; i < count; i++) {
            yl_state_entry *e = yl_model_state_at(m, i);
            if (!e->grad.data || (layer >= 0 && e->layer != layer)) continue;
            size_t n = (size_t)yl_tensor_numel(&e->value);
            float *saved = yl_test_alloc(n), *direction = yl_test_random(&rng, n, -1.0f, 1.0f);
            memcpy(saved, e->value.data, n * sizeof(float));
            buffers[2 * used] = saved;
            buffers[2 * used + 1] = direction;
            for (size_t k = 0; k < n; k++) norm += (double)direction[k] * direction[k];
            targets[used++] = (fd_target){e->value.data, saved, e->grad.data, direction, n, 0};
        }
        if (!used) continue;
        for (int t = 0; t < used; t++) {
            float *direction = buffers[2 * t + 1];
            for (size_t k = 0; k < targets[t].n; k++) {
                direction[k] = (float)(direction[k] / sqrt(norm));
                scale += fabs((double)targets[t].grad[k] * direction[k]);
            }
        }
        char label[32];
        snprintf(label, sizeof label, layer < 0 ? "all parameters" : "model.%d", layer);
        fd_record(&layers, label, fd_check(&fx, targets, used, 1e-4, fmax(0.01 * scale, 1e-6)));
        for (int t = 0; t < 2 * used; t++) free(buffers[t]);
    }
    fd_report("directional (each layer, all parameters)", &layers, tolerance);
    free(targets);
    free(buffers);

    // Accumulation: the first backward after zero_grad writes the gradients, later ones add to
    // them, so a second identical backward doubles every gradient (BN gamma and beta included).
    CHECK_OK(yl_model_zero_grad(m));
    CHECK_OK(yl_model_forward_train(m, &images, maps));
    CHECK_OK(yl_model_backward(m, d_maps, NULL));
    float **once = calloc((size_t)count, sizeof *once);
    for (int i = 0; i < count; i++) {
        yl_state_entry *e = yl_model_state_at(m, i);
        if (!e->grad.data) continue;
        size_t n = (size_t)yl_tensor_numel(&e->grad);
        once[i] = yl_test_alloc(n);
        memcpy(once[i], e->grad.data, n * sizeof(float));
    }
    CHECK_OK(yl_model_forward_train(m, &images, maps));
    CHECK_OK(yl_model_backward(m, d_maps, NULL));
    double worst = 0.0;
    const char *worst_name = "";
    for (int i = 0; i < count; i++) {
        yl_state_entry *e = yl_model_state_at(m, i);
        if (!once[i]) continue;
        size_t n = (size_t)yl_tensor_numel(&e->grad);
        const float *twice = e->grad.data;
        double diff = 0.0, scale = 1e-30;
        for (size_t k = 0; k < n; k++) {
            diff = fmax(diff, fabs(twice[k] - 2.0 * once[i][k]));
            scale = fmax(scale, fabs(once[i][k]));
        }
        if (diff / scale > worst) {
            worst = diff / scale;
            worst_name = e->name;
        }
        free(once[i]);
    }
    free(once);
    CHECK(worst <= 1e-6, "accumulated gradients: max |g2 - 2 g1| / max |g1| = %.3e at %s", worst, worst_name);
    CHECK_OK(yl_model_zero_grad(m));
    int nonzero = 0;
    for (int i = 0; i < count; i++) {
        yl_state_entry *e = yl_model_state_at(m, i);
        if (!e->grad.data) continue;
        for (int64_t k = 0; k < yl_tensor_numel(&e->grad); k++) nonzero += ((float *)e->grad.data)[k] != 0.0f;
    }
    CHECK(nonzero == 0, "zero_grad leaves %d non-zero gradients", nonzero);

    for (int l = 0; l < 3; l++) free(fx.r[l]);
    free(pixels);
    free(d_pixels);
    yl_model_destroy(m);
}

// ---- bad input ---------------------------------------------------------------------------------

static void test_bad_input(yl_engine *eng) {
    yl_model_config cfg;
    yl_model *m = NULL;
    CHECK_OK(yl_model_config_custom(&cfg, 0.33, 0.0625, 1024, 2));
    CHECK_STATUS(yl_model_create(NULL, eng, &cfg, 0), YL_ERR_INVALID_ARG);
    CHECK_STATUS(yl_model_create(&m, NULL, &cfg, 0), YL_ERR_INVALID_ARG);
    yl_model_config bad = cfg;
    bad.nc = 0;
    CHECK_STATUS(yl_model_create(&m, eng, &bad, 0), YL_ERR_INVALID_ARG);
    CHECK(m == NULL, "failed create leaves NULL");
    CHECK_OK(yl_model_create(&m, eng, &cfg, 0));
    if (!m) return;
    float *pixels = yl_test_alloc(2 * 3 * 64 * 64);
    yl_tensor images = yl_tensor_4d(pixels, YL_DEVICE_CPU, 2, 3, 64, 64);
    yl_tensor maps[3];
    CHECK_STATUS(yl_model_forward_train(m, &images, maps), YL_ERR_INVALID_ARG);  // not planned
    CHECK(strstr(yl_last_error(), "plan") != NULL, "message says to plan: %s", yl_last_error());
    CHECK_STATUS(yl_model_plan(m, 2, 60, 64, true), YL_ERR_SHAPE);
    CHECK_STATUS(yl_model_plan(m, 0, 64, 64, true), YL_ERR_SHAPE);
    CHECK_STATUS(yl_model_plan(NULL, 2, 64, 64, true), YL_ERR_INVALID_ARG);
    CHECK_OK(yl_model_plan(m, 2, 64, 64, false));
    CHECK_STATUS(yl_model_forward_train(m, &images, maps), YL_ERR_INVALID_ARG);  // no gradients planned
    CHECK_OK(yl_model_forward_eval(m, &images, maps));
    CHECK_STATUS(yl_model_backward(m, maps, NULL), YL_ERR_INVALID_ARG);  // after an eval forward
    CHECK_OK(yl_model_plan(m, 2, 64, 64, true));
    yl_tensor big = yl_tensor_4d(pixels, YL_DEVICE_CPU, 1, 3, 96, 64);
    CHECK_STATUS(yl_model_forward_train(m, &big, maps), YL_ERR_SHAPE);  // exceeds the plan
    yl_tensor four = yl_tensor_4d(pixels, YL_DEVICE_CPU, 2, 4, 32, 32);
    CHECK_STATUS(yl_model_forward_train(m, &four, maps), YL_ERR_SHAPE);
    yl_tensor odd = yl_tensor_4d(pixels, YL_DEVICE_CPU, 2, 3, 48, 64);
    CHECK_STATUS(yl_model_forward_train(m, &odd, maps), YL_ERR_SHAPE);
    CHECK_STATUS(yl_model_forward_train(m, NULL, maps), YL_ERR_INVALID_ARG);
    yl_tensor on_cuda = images;
    on_cuda.device = YL_DEVICE_CUDA;
    CHECK_STATUS(yl_model_forward_train(m, &on_cuda, maps), YL_ERR_DEVICE);
    CHECK_OK(yl_model_forward_train(m, &images, maps));
    yl_tensor wrong[3] = {maps[1], maps[1], maps[2]};
    CHECK_STATUS(yl_model_backward(m, wrong, NULL), YL_ERR_SHAPE);
    yl_tensor d_small = yl_tensor_4d(pixels, YL_DEVICE_CPU, 1, 3, 64, 64);
    CHECK_STATUS(yl_model_backward(m, maps, &d_small), YL_ERR_SHAPE);
    CHECK_STATUS(yl_model_backward(m, NULL, NULL), YL_ERR_INVALID_ARG);
    // Batch 1 at 32x32: P5 is 1x1, so training BN has one value per channel.
    yl_tensor tiny = yl_tensor_4d(pixels, YL_DEVICE_CPU, 1, 3, 32, 32);
    CHECK_STATUS(yl_model_forward_train(m, &tiny, maps), YL_ERR_SHAPE);
    CHECK(strstr(yl_last_error(), "model.") != NULL, "message names the layer: %s", yl_last_error());
    CHECK_OK(yl_model_forward_eval(m, &tiny, maps));
    free(pixels);
    yl_model_destroy(m);
}

int main(void) {
    yl_set_num_threads(1);
    yl_engine eng = yl_test_cpu_engine();
    test_scaling();
    test_counts();
    test_yolov8n(&eng);
    test_forward_reference(&eng);
    test_gradients(&eng);
    test_bad_input(&eng);
    yl_engine_release(&eng);
    return yl_test_finish("test_model");
}
