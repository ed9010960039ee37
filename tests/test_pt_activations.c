// A checkpoint's pickled activations decide the model yoloop builds (yolov8.md §9):
// tiny_v84_bf16.pt has Identity at SPPF.cv1 (model.9.cv1), as Ultralytics 8.4 builds v8 yamls.
// Its model config is taken from the checkpoint (yl_pt_checkpoint_model_config), its BF16
// weights load strictly, and on tiny_v84_eval.safetensors' images (tools/reference/
// make_activation_fixture.py) the CPU forward matches Ultralytics' run of the checkpoint's own
// module tree: the eval output (decoded rows and raw maps, 1e-3 as in test_pt_eval) and the
// training-mode head maps (BN with batch statistics), which is where SiLU and Identity differ
// visibly for this barely trained model; the same weights with SiLU at SPPF.cv1 must miss them.
// Also: the layer count Ultralytics prints, an unknown activation class (an error naming the
// module and the class), tiny_best.pt (8.3: SiLU everywhere), and the choice surviving a yoloop
// checkpoint round trip.
#include <unistd.h>

#include "test_common.h"
#include "engine/model/model.h"
#include "weights/checkpoint.h"
#include "weights/load_state.h"
#include "weights/pt_checkpoint.h"
#include "weights/pt_model_config.h"
#include "weights/safetensors.h"

#define PT_DIR YL_TEST_FIXTURES "/pt"
#define BATCH 2
#define SIDE 64
#define EVAL_TOLERANCE 1e-3   // as test_pt_eval: Ultralytics' float32 run vs ours
#define TRAIN_TOLERANCE 1e-3  // max |diff| / max |map| of the training-mode maps
#define SILU_MUST_MISS 0.05   // the same relative measure with SiLU at SPPF.cv1

typedef struct {
    yl_safetensors ref;
    float *images;
    yl_tensor x;
} fixture;

static bool open_fixture(fixture *f) {
    if (yl_safetensors_open(&f->ref, PT_DIR "/tiny_v84_eval.safetensors") != YL_OK) {
        CHECK(false, "fixture: %s", yl_last_error());
        return false;
    }
    size_t n = (size_t)BATCH * 3 * SIDE * SIDE;
    f->images = yl_test_alloc(n);
    CHECK_OK(yl_safetensors_read_f32(&f->ref, "images", f->images, n));
    f->x = yl_tensor_4d(f->images, YL_DEVICE_CPU, BATCH, 3, SIDE, SIDE);
    return true;
}

static void close_fixture(fixture *f) {
    free(f->images);
    yl_safetensors_close(&f->ref);
}

static const float *expected(fixture *f, const char *name, const yl_tensor *got) {
    const yl_safetensors_entry *e = yl_safetensors_find(&f->ref, name);
    bool fits = e && e->nbytes / 4 == (size_t)yl_tensor_numel(got);
    CHECK(fits, "%s: fixture entry missing or of another size (%lld values computed)", name,
          (long long)yl_tensor_numel(got));
    return fits ? yl_safetensors_data(&f->ref, e) : NULL;
}

// max |got - want| / max |want| over a tensor.
static double relative_max_error(const float *got, const float *want, size_t n) {
    double diff = 0.0, scale = 1e-30;
    for (size_t i = 0; i < n; i++) {
        diff = fmax(diff, isnan(got[i]) ? INFINITY : fabs((double)got[i] - want[i]));
        scale = fmax(scale, fabs((double)want[i]));
    }
    return diff / scale;
}

static yl_model *model_from_checkpoint(yl_engine *eng, const yl_pt_checkpoint *ck, const yl_model_config *cfg) {
    yl_model *m = NULL;
    CHECK_OK(yl_model_create(&m, eng, cfg, 1));
    if (!m) return NULL;
    yl_transfer_report report = {0};
    CHECK_OK(yl_model_load_tensor_set(m, &ck->tensors, YL_LOAD_STRICT, &report));
    CHECK(report.transferred == ck->tensors.count, "strict load: %d of %d entries", report.transferred,
          ck->tensors.count);
    CHECK_OK(yl_model_plan(m, BATCH, SIDE, SIDE, true));
    return m;
}

static void check_eval(yl_model *m, fixture *f) {
    yl_tensor decoded, maps[YL_YOLOV8_LEVELS];
    yl_status s = yl_model_forward_eval_decoded(m, &f->x, &decoded, maps);
    CHECK_OK(s);
    if (s != YL_OK) return;
    const float *want = expected(f, "output", &decoded);
    if (want) {
        size_t rows = (size_t)decoded.shape[1], anchors = (size_t)decoded.shape[2];
        const float *got = decoded.data;
        double box_err = 0.0, score_err = 0.0;
        for (size_t b = 0; b < BATCH; b++) {
            const float *g = got + b * rows * anchors, *w = want + b * rows * anchors;
            for (size_t i = 0; i < 4 * anchors; i++)  // pixels: relative above 1
                box_err = fmax(box_err, fabs((double)g[i] - w[i]) / fmax(1.0, fabs((double)w[i])));
            score_err = fmax(score_err, yl_test_max_abs_diff(g + 4 * anchors, w + 4 * anchors, (rows - 4) * anchors));
        }
        printf("  eval decoded (%d, %zu, %zu): boxes max rel err %.2e, scores max abs err %.2e\n", BATCH, rows, anchors,
               box_err, score_err);
        CHECK(box_err < EVAL_TOLERANCE && score_err < EVAL_TOLERANCE, "eval output: boxes %.3e, scores %.3e", box_err,
              score_err);
    }
    for (int l = 0; l < YL_YOLOV8_LEVELS; l++) {
        char name[16];
        snprintf(name, sizeof name, "map%d", l);
        const float *w = expected(f, name, &maps[l]);
        if (!w) continue;
        size_t n = (size_t)yl_tensor_numel(&maps[l]);
        double err = yl_test_max_abs_diff(maps[l].data, w, n);
        printf("  eval %s: max abs err %.2e, NMSE %.2e\n", name, err, yl_test_nmse(maps[l].data, w, n));
        CHECK(err < EVAL_TOLERANCE, "eval %s differs by %.3e", name, err);
    }
}

// The worst relative error of the three training-mode maps.
static double train_error(yl_model *m, fixture *f) {
    yl_tensor maps[YL_YOLOV8_LEVELS];
    yl_status s = yl_model_forward_train(m, &f->x, maps);
    CHECK_OK(s);
    if (s != YL_OK) return INFINITY;
    double worst = 0.0;
    for (int l = 0; l < YL_YOLOV8_LEVELS; l++) {
        char name[16];
        snprintf(name, sizeof name, "train_map%d", l);
        const float *w = expected(f, name, &maps[l]);
        worst = fmax(worst, w ? relative_max_error(maps[l].data, w, (size_t)yl_tensor_numel(&maps[l])) : INFINITY);
    }
    return worst;
}

static int fixture_leaf_layers(fixture *f) {
    const char *text = yl_safetensors_metadata(&f->ref, "leaf_layers");
    return text ? atoi(text) : -1;
}

static void test_v84_checkpoint(yl_engine *eng) {
    yl_pt_checkpoint ck;
    CHECK_OK(yl_pt_checkpoint_load(&ck, PT_DIR "/tiny_v84_bf16.pt"));
    fixture f;
    if (!open_fixture(&f)) {
        yl_pt_checkpoint_free(&ck);
        return;
    }
    yl_model_config cfg;
    CHECK_OK(yl_pt_checkpoint_model_config(&ck, &cfg));
    CHECK(cfg.scale == 0 && cfg.depth == 0.33 && cfg.width == 0.0625 && cfg.max_channels == 256 && cfg.nc == 2,
          "config: scale '%c' depth %g width %g max_channels %d nc %d", cfg.scale ? cfg.scale : '-', cfg.depth,
          cfg.width, cfg.max_channels, cfg.nc);
    const char *identity = yl_safetensors_metadata(&f.ref, "identity_convs");
    CHECK(identity && !strcmp(identity, "model.9.cv1"), "fixture's Identity Convs: %s", identity ? identity : "?");
    CHECK(cfg.act_override_count == 1 && !strcmp(cfg.act_overrides[0].module, "model.9.cv1") &&
                  cfg.act_overrides[0].act == YL_CONV_ACT_IDENTITY,
          "%d activation choices taken from the checkpoint (first: %s)", cfg.act_override_count,
          cfg.act_override_count ? cfg.act_overrides[0].module : "-");
    CHECK(!cfg.sppf_cv1_identity, "the checkpoint path sets per-Conv choices, not the 8.4 yaml flag");

    yl_model_summary summary;
    CHECK_OK(yl_model_summarize(&cfg, 64, &summary));
    CHECK(summary.leaf_layers == fixture_leaf_layers(&f), "%d layers, Ultralytics prints %d", summary.leaf_layers,
          fixture_leaf_layers(&f));

    yl_model *m = model_from_checkpoint(eng, &ck, &cfg);
    if (m) {
        check_eval(m, &f);  // before any training forward moves the running statistics
        double err = train_error(m, &f);
        printf("  train maps (Identity at model.9.cv1, as pickled): max rel err %.2e\n", err);
        CHECK(err < TRAIN_TOLERANCE, "training-mode maps differ from Ultralytics by %.3e", err);
        yl_model_destroy(m);
    }

    // The same weights with SiLU everywhere (what yoloop computed before) must miss.
    yl_model_config silu = cfg;
    silu.act_override_count = 0;
    m = model_from_checkpoint(eng, &ck, &silu);
    if (m) {
        double err = train_error(m, &f);
        printf("  train maps with SiLU at model.9.cv1 instead:      max rel err %.2e (must exceed %.0e)\n", err,
               SILU_MUST_MISS);
        CHECK(err > SILU_MUST_MISS, "the fixture cannot tell SiLU from Identity: %.3e", err);
        yl_model_destroy(m);
    }
    close_fixture(&f);
    yl_pt_checkpoint_free(&ck);
}

static void test_v83_checkpoint(yl_engine *eng) {
    yl_pt_checkpoint ck;
    CHECK_OK(yl_pt_checkpoint_load(&ck, PT_DIR "/tiny_best.pt"));
    yl_model_config cfg;
    CHECK_OK(yl_pt_checkpoint_model_config(&ck, &cfg));
    CHECK(cfg.act_override_count == 0 && !cfg.sppf_cv1_identity, "8.3 checkpoint: %d activation choices",
          cfg.act_override_count);
    yl_model *m = NULL;
    CHECK_OK(yl_model_create(&m, eng, &cfg, 1));
    if (m) CHECK_OK(yl_model_load_tensor_set(m, &ck.tensors, YL_LOAD_STRICT, NULL));
    yl_model_destroy(m);
    // One Identity is one more leaf module than the shared SiLU alone (Ultralytics' count).
    yl_model_summary v83, v84;
    CHECK_OK(yl_model_summarize(&cfg, 64, &v83));
    cfg.sppf_cv1_identity = true;
    CHECK_OK(yl_model_summarize(&cfg, 64, &v84));
    CHECK(v84.leaf_layers == v83.leaf_layers + 1, "layers: %d with SiLU, %d with an Identity", v83.leaf_layers,
          v84.leaf_layers);
    yl_pt_checkpoint_free(&ck);
}

// A Conv pickled with another activation class is refused, naming the module and the class.
static void test_unknown_activation(void) {
    yl_pt_checkpoint ck;
    CHECK_OK(yl_pt_checkpoint_load(&ck, PT_DIR "/tiny_v84_bf16.pt"));
    yl_pt_activation *a = NULL;
    for (int i = 0; i < ck.activation_count; i++)
        if (!strcmp(ck.activations[i].module, "model.12.m.0.cv2")) a = &ck.activations[i];
    CHECK(a != NULL, "the checkpoint reports model.12.m.0.cv2's activation");
    if (a) {
        char *type = a->type;
        yl_pt_activation_kind kind = a->kind;
        a->type = "torch.nn.modules.activation.ReLU";
        a->kind = YL_PT_ACT_OTHER;
        yl_model_config cfg;
        CHECK_STATUS(yl_pt_checkpoint_model_config(&ck, &cfg), YL_ERR_UNSUPPORTED);
        CHECK(strstr(yl_last_error(), "model.12.m.0.cv2") && strstr(yl_last_error(), "ReLU"),
              "the message names the module and the class: %s", yl_last_error());
        a->type = type;
        a->kind = kind;
    }
    yl_model_config cfg;
    CHECK_STATUS(yl_pt_checkpoint_model_config(NULL, &cfg), YL_ERR_INVALID_ARG);
    CHECK_STATUS(yl_pt_checkpoint_model_config(&ck, NULL), YL_ERR_INVALID_ARG);
    int nc = ck.nc;
    ck.nc = -1;
    CHECK_STATUS(yl_pt_checkpoint_model_config(&ck, &cfg), YL_ERR_FORMAT);
    ck.nc = nc;
    yl_pt_checkpoint_free(&ck);
}

// A yoloop checkpoint keeps the activation choices: the reloaded model computes the same maps.
static void test_checkpoint_round_trip(yl_engine *eng) {
    yl_model_config cfg;
    CHECK_OK(yl_model_config_custom(&cfg, 0.33, 0.0625, 256, 2));
    cfg.sppf_cv1_identity = true;
    CHECK_OK(yl_model_config_set_activation(&cfg, "model.21.m.0.cv1", YL_CONV_ACT_IDENTITY));
    CHECK_OK(yl_model_config_set_activation(&cfg, "model.4.cv2", YL_CONV_ACT_SILU));
    yl_model *m = NULL, *back = NULL;
    CHECK_OK(yl_model_create(&m, eng, &cfg, 7));
    if (!m) return;
    char path[64];
    snprintf(path, sizeof path, "/tmp/yoloop-test-act-%ld.safetensors", (long)getpid());
    CHECK_OK(yl_checkpoint_save(m, NULL, path));
    yl_checkpoint_info info;
    CHECK_OK(yl_checkpoint_load(path, eng, &back, &info));
    if (back) {
        const yl_model_config *got = &info.config;
        CHECK(got->sppf_cv1_identity && got->act_override_count == 2 &&
                      !strcmp(got->act_overrides[0].module, "model.21.m.0.cv1") &&
                      got->act_overrides[0].act == YL_CONV_ACT_IDENTITY &&
                      got->act_overrides[1].act == YL_CONV_ACT_SILU,
              "reloaded config: flag %d, %d choices", got->sppf_cv1_identity, got->act_override_count);
        yl_rng rng;
        yl_rng_seed(&rng, 3, 0);
        float *pixels = yl_test_random(&rng, 2 * 3 * 64 * 64, 0.0f, 1.0f);
        yl_tensor x = yl_tensor_4d(pixels, YL_DEVICE_CPU, 2, 3, 64, 64), a[3], b[3];
        CHECK_OK(yl_model_plan(m, 2, 64, 64, false));
        CHECK_OK(yl_model_plan(back, 2, 64, 64, false));
        CHECK_OK(yl_model_forward_eval(m, &x, a));
        CHECK_OK(yl_model_forward_eval(back, &x, b));
        double diff = 0.0;
        for (int l = 0; l < 3; l++)
            diff = fmax(diff, yl_test_max_abs_diff(a[l].data, b[l].data, (size_t)yl_tensor_numel(&a[l])));
        CHECK(diff == 0.0, "the reloaded model's eval maps differ by %.3e", diff);
        free(pixels);
        yl_checkpoint_info_free(&info);
    }
    yl_model_destroy(back);
    yl_model_destroy(m);
    unlink(path);
}

int main(void) {
    yl_engine eng = yl_test_cpu_engine();
    test_v84_checkpoint(&eng);
    test_v83_checkpoint(&eng);
    test_unknown_activation();
    test_checkpoint_round_trip(&eng);
    yl_engine_release(&eng);
    return yl_test_finish("test_pt_activations");
}
