// An Ultralytics checkpoint read natively runs like Ultralytics: tiny_best.pt's FP16 weights
// go through the .pt reader into a yoloop model built from the scaling the checkpoint's yaml
// records, and the CPU eval forward (with Detect's decode) on tiny_eval.safetensors' images
// matches Ultralytics' model.float().eval() output: the decoded (B, 4 + nc, A) rows and the
// three raw head maps, within 1e-3 absolute (boxes: 1e-3 relative to the pixel scale).
#include "test_common.h"
#include "engine/model/model.h"
#include "weights/load_state.h"
#include "weights/pt_checkpoint.h"
#include "weights/pt_model_config.h"
#include "weights/safetensors.h"

#define PT_DIR YL_TEST_FIXTURES "/pt"
#define BATCH 2
#define HEIGHT 64
#define WIDTH 96

static double max_scaled_diff(const float *got, const float *want, size_t n, float scale_floor) {
    double worst = 0.0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - want[i]) / fmax(scale_floor, fabs((double)want[i]));
        if (d > worst || isnan(d)) worst = d;
    }
    return worst;
}

static void test_eval_matches_ultralytics(yl_engine *eng) {
    yl_pt_checkpoint ck;
    CHECK_OK(yl_pt_checkpoint_load(&ck, PT_DIR "/tiny_best.pt"));
    CHECK(ck.depth_multiple == 0.33 && ck.width_multiple == 0.0625 && ck.max_channels == 256 && ck.nc == 2,
          "yaml scaling %g %g %d nc %d", ck.depth_multiple, ck.width_multiple, ck.max_channels, ck.nc);
    yl_model_config cfg;
    CHECK_OK(yl_pt_checkpoint_model_config(&ck, &cfg));  // the yaml's scaling, the pickled activations (all SiLU)
    CHECK(cfg.depth == ck.depth_multiple && cfg.width == ck.width_multiple && cfg.max_channels == ck.max_channels &&
              cfg.act_override_count == 0,
          "config from the checkpoint: %g %g %d, %d activation choices", cfg.depth, cfg.width, cfg.max_channels,
          cfg.act_override_count);
    yl_model *m = NULL;
    CHECK_OK(yl_model_create(&m, eng, &cfg, 1));
    yl_transfer_report report = {0};
    CHECK_OK(yl_model_load_tensor_set(m, &ck.tensors, YL_LOAD_STRICT, &report));
    CHECK(report.transferred == ck.tensors.count && report.total == ck.tensors.count,
          "strict load: %d of %d entries (%d in the checkpoint)", report.transferred, report.total, ck.tensors.count);

    yl_safetensors ref;
    CHECK_OK(yl_safetensors_open(&ref, PT_DIR "/tiny_eval.safetensors"));
    const size_t n_img = (size_t)BATCH * 3 * HEIGHT * WIDTH;
    float *images = yl_test_alloc(n_img);
    CHECK_OK(yl_safetensors_read_f32(&ref, "images", images, n_img));
    yl_tensor x = yl_tensor_4d(images, YL_DEVICE_CPU, BATCH, 3, HEIGHT, WIDTH);
    CHECK_OK(yl_model_plan(m, BATCH, HEIGHT, WIDTH, false));
    yl_tensor decoded, maps[YL_YOLOV8_LEVELS];
    yl_status s = yl_model_forward_eval_decoded(m, &x, &decoded, maps);
    CHECK_OK(s);
    if (s == YL_OK) {
        const yl_safetensors_entry *out = yl_safetensors_find(&ref, "output");
        size_t n = out ? out->nbytes / 4 : 0;
        CHECK(out && (size_t)yl_tensor_numel(&decoded) == n, "decoded size %lld vs %zu",
              (long long)yl_tensor_numel(&decoded), n);
        if (out && (size_t)yl_tensor_numel(&decoded) == n) {
            const float *want = yl_safetensors_data(&ref, out);
            const float *got = decoded.data;
            size_t anchors = (size_t)out->shape[2], rows = (size_t)out->shape[1];
            double box_err = 0.0, score_err = 0.0;
            for (size_t b = 0; b < BATCH; b++) {
                const float *g = got + b * rows * anchors, *w = want + b * rows * anchors;
                double e = max_scaled_diff(g, w, 4 * anchors, 1.0f);  // pixels: relative above 1
                box_err = fmax(box_err, e);
                score_err =
                        fmax(score_err, yl_test_max_abs_diff(g + 4 * anchors, w + 4 * anchors, (rows - 4) * anchors));
            }
            printf("  decoded (%d, %zu, %zu): boxes max rel err %.2e, scores max abs err %.2e\n", BATCH, rows, anchors,
                   box_err, score_err);
            CHECK(box_err < 1e-3 && score_err < 1e-3, "eval output differs: boxes %.3e, scores %.3e", box_err,
                  score_err);
        }
        for (int l = 0; l < YL_YOLOV8_LEVELS; l++) {
            char name[8];
            snprintf(name, sizeof name, "map%d", l);
            const yl_safetensors_entry *e = yl_safetensors_find(&ref, name);
            size_t n = e ? e->nbytes / 4 : 0;
            CHECK(e && (size_t)yl_tensor_numel(&maps[l]) == n, "%s size", name);
            if (!e || (size_t)yl_tensor_numel(&maps[l]) != n) continue;
            double err = yl_test_max_abs_diff(maps[l].data, yl_safetensors_data(&ref, e), n);
            double nmse = yl_test_nmse(maps[l].data, yl_safetensors_data(&ref, e), n);
            printf("  %s: max abs err %.2e, NMSE %.2e\n", name, err, nmse);
            CHECK(err < 1e-3, "%s differs by %.3e", name, err);
        }
    }
    free(images);
    yl_safetensors_close(&ref);
    yl_model_destroy(m);
    yl_pt_checkpoint_free(&ck);
}

int main(void) {
    yl_engine eng = yl_test_cpu_engine();
    test_eval_matches_ultralytics(&eng);
    yl_engine_release(&eng);
    return yl_test_finish("test_pt_eval");
}
