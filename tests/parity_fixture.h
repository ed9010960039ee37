// Parity with Ultralytics 8.3.166 on the tiny-model fixtures written by
// tools/reference/make_model_fixtures.py: the state_dict loads strictly into our model, then the
// eval-mode decoded output, the training-mode head maps, every parameter gradient of
// L = sum_i sum(map_i * r_i) and the BN running statistics after that training forward must
// match. Works on any engine device (the CUDA test runs it too). Header-only: included by the
// tests that use it.
//
// Error measure, per tensor: max |ours - reference| / max |reference|.
#pragma once
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/model/model.h"
#include "tests/test_common.h"
#include "weights/checkpoint.h"
#include "weights/load_state.h"

#define PARITY_STATE_FILE YL_TEST_FIXTURES "/model_tiny_state.safetensors"
#define PARITY_FILE YL_TEST_FIXTURES "/model_tiny_parity.safetensors"

typedef struct {
    double forward, gradient, running_stats;  // tolerances
} parity_tolerances;

typedef struct {
    double decoded_boxes, decoded_scores, maps, gradient, running_stats;  // worst errors seen
    double gradient_beyond_f16;  // worst gradient error that the reference's F16 storage cannot explain
    char worst_gradient[YL_STATE_NAME_SIZE];
    int gradients_checked, running_stats_checked;
} parity_result;

typedef struct {
    yl_engine *eng;
    yl_backend *be;
    yl_safetensors state, parity;
    yl_model *model;
    int batch, height, width;
} parity_run;

static double parity_rel_error(const float *ours, const float *ref, size_t n) {
    double diff = 0.0, scale = 0.0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)ours[i] - (double)ref[i]);
        if (d > diff || isnan(d)) diff = isnan(d) ? INFINITY : d;
        scale = fmax(scale, fabs((double)ref[i]));
    }
    return scale > 0.0 ? diff / scale : diff;
}

// The part of the error that F16 storage of the reference cannot explain: each element may be
// off by half an F16 ulp of ref / scale before anything counts. Relative to max |ref|.
static double parity_error_beyond_f16(const float *ours, const float *ref, size_t n, float scale) {
    double excess = 0.0, peak = 0.0;
    for (size_t i = 0; i < n; i++) {
        double v = fabs((double)ref[i] / scale);
        int e;
        frexp(v, &e);  // v in [2^(e-1), 2^e)
        double half_ulp = v < 6.103515625e-05 ? ldexp(1.0, -25) : ldexp(1.0, e - 12);
        double d = fabs((double)ours[i] - (double)ref[i]) / scale - half_ulp;
        excess = fmax(excess, isnan(d) ? INFINITY : d);
        peak = fmax(peak, v);
    }
    return peak > 0.0 ? fmax(excess, 0.0) / peak : fmax(excess, 0.0);
}

static int parity_meta_int(const yl_safetensors *st, const char *key) {
    const char *v = yl_safetensors_metadata(st, key);
    return v ? atoi(v) : -1;
}

static double parity_meta_double(const yl_safetensors *st, const char *key) {
    const char *v = yl_safetensors_metadata(st, key);
    return v ? strtod(v, NULL) : NAN;
}

// A fixture tensor as f32 host memory (freed by the caller).
static float *parity_read(const yl_safetensors *st, const char *name, size_t n) {
    float *out = yl_test_alloc(n);
    CHECK_OK(yl_safetensors_read_f32(st, name, out, n));
    return out;
}

static void parity_to_host(parity_run *run, const yl_tensor *t, void *out) {
    CHECK_OK(run->be->synchronize(run->be));
    CHECK_OK(run->be->copy_to_host(run->be, out, t->data, yl_tensor_nbytes(t)));
}

// A device (or host) tensor on the run's device, holding `host`.
static yl_tensor parity_upload(parity_run *run, const float *host, int ndim, const int64_t *shape) {
    yl_tensor t = yl_tensor_view(NULL, YL_F32, run->be->device, ndim, shape);
    CHECK_OK(run->be->alloc(run->be, yl_tensor_nbytes(&t), &t.data));
    if (t.data) CHECK_OK(run->be->copy_from_host(run->be, t.data, host, yl_tensor_nbytes(&t)));
    return t;
}

// Builds the model the fixture describes and loads its state strictly.
static int parity_load_model(parity_run *run) {
    const yl_safetensors *st = &run->state;
    int failures = yl_test_failures;
    yl_model_config cfg;
    CHECK_OK(yl_model_config_custom(&cfg, parity_meta_double(st, "depth"), parity_meta_double(st, "width"),
                                    parity_meta_int(st, "max_channels"), parity_meta_int(st, "nc")));
    CHECK(cfg.depth == 0.33 && cfg.width == 0.03125 && cfg.max_channels == 512 && cfg.nc == 3,
          "fixture config %g %g %d %d", cfg.depth, cfg.width, cfg.max_channels, cfg.nc);
    CHECK_OK(yl_model_create(&run->model, run->eng, &cfg, 99));
    if (!run->model) return 0;
    yl_tensor_set set = {0};
    yl_transfer_report report = {0};
    CHECK_OK(yl_safetensors_as_tensor_set(st, &set));
    CHECK_OK(yl_model_load_tensor_set(run->model, &set, YL_LOAD_STRICT, &report));
    yl_safetensors_tensor_set_free(&set);
    CHECK(report.transferred == 355 && report.total == 355 && yl_model_state_count(run->model) == 355,
          "strict load copied %d/%d entries", report.transferred, report.total);
    CHECK(yl_model_num_batches_tracked(run->model) == parity_meta_int(st, "num_batches_tracked"),
          "num_batches_tracked %lld after the load, fixture %d", (long long)yl_model_num_batches_tracked(run->model),
          parity_meta_int(st, "num_batches_tracked"));
    return run->model && yl_test_failures == failures;
}

// Rows [row0, row1) of a (B, C, A) host tensor, gathered contiguous.
static float *parity_rows(const float *t, int batch, int channels, int64_t anchors, int row0, int row1) {
    float *out = yl_test_alloc((size_t)batch * (row1 - row0) * anchors);
    size_t k = 0;
    for (int b = 0; b < batch; b++)
        for (int c = row0; c < row1; c++)
            for (int64_t a = 0; a < anchors; a++) out[k++] = t[((size_t)b * channels + c) * anchors + a];
    return out;
}

static void parity_check_decoded(parity_run *run, const yl_tensor *images, const parity_tolerances *tol,
                                 parity_result *res) {
    const int nc = yl_model_get_layout(run->model)->config.nc;
    yl_tensor decoded;
    CHECK_OK(yl_model_forward_eval_decoded(run->model, images, &decoded, NULL));
    const yl_safetensors_entry *ref_entry = yl_safetensors_find(&run->parity, "decoded");
    CHECK(ref_entry && ref_entry->ndim == 3 && decoded.ndim == 3 && decoded.shape[0] == ref_entry->shape[0] &&
              decoded.shape[1] == ref_entry->shape[1] && decoded.shape[2] == ref_entry->shape[2],
          "decoded shape");
    if (!ref_entry || decoded.ndim != 3 || decoded.shape[1] != 4 + nc) return;
    int64_t anchors = decoded.shape[2];
    size_t n = (size_t)yl_tensor_numel(&decoded);
    float *ours = yl_test_alloc(n), *ref = parity_read(&run->parity, "decoded", n);
    parity_to_host(run, &decoded, ours);
    // Boxes are pixels, scores lie in (0, 1): each part is measured against its own scale.
    float *ob = parity_rows(ours, run->batch, 4 + nc, anchors, 0, 4), *rb = parity_rows(ref, run->batch, 4 + nc, anchors, 0, 4);
    float *os = parity_rows(ours, run->batch, 4 + nc, anchors, 4, 4 + nc);
    float *rs = parity_rows(ref, run->batch, 4 + nc, anchors, 4, 4 + nc);
    res->decoded_boxes = parity_rel_error(ob, rb, (size_t)run->batch * 4 * anchors);
    res->decoded_scores = parity_rel_error(os, rs, (size_t)run->batch * nc * anchors);
    printf("  eval decoded (%lld, %lld, %lld): boxes max rel err %.3e, scores %.3e\n", (long long)decoded.shape[0],
           (long long)decoded.shape[1], (long long)anchors, res->decoded_boxes, res->decoded_scores);
    CHECK(res->decoded_boxes <= tol->forward, "decoded boxes differ: %.3e", res->decoded_boxes);
    CHECK(res->decoded_scores <= tol->forward, "decoded scores differ: %.3e", res->decoded_scores);
    free(ob), free(rb), free(os), free(rs), free(ours), free(ref);
}

static void parity_check_train_maps(parity_run *run, const yl_tensor *images, yl_tensor maps[3],
                                    const parity_tolerances *tol, parity_result *res) {
    CHECK_OK(yl_model_forward_train(run->model, images, maps));
    for (int l = 0; l < 3; l++) {
        char name[16];
        snprintf(name, sizeof name, "map%d", l);
        const yl_safetensors_entry *e = yl_safetensors_find(&run->parity, name);
        size_t n = (size_t)yl_tensor_numel(&maps[l]);
        CHECK(e && e->ndim == 4 && e->shape[0] == maps[l].shape[0] && e->shape[1] == maps[l].shape[1] &&
                  e->shape[2] == maps[l].shape[2] && e->shape[3] == maps[l].shape[3],
              "map %d shape", l);
        if (!e) continue;
        float *ours = yl_test_alloc(n), *ref = parity_read(&run->parity, name, n);
        parity_to_host(run, &maps[l], ours);
        double err = parity_rel_error(ours, ref, n);
        res->maps = fmax(res->maps, err);
        printf("  train map%d (%lld, %lld, %lld, %lld): max rel err %.3e\n", l, (long long)maps[l].shape[0],
               (long long)maps[l].shape[1], (long long)maps[l].shape[2], (long long)maps[l].shape[3], err);
        CHECK(err <= tol->forward, "train map %d differs: %.3e", l, err);
        free(ours), free(ref);
    }
}

// Backward of L = sum_l sum(map_l * r_l): d map_l = r_l; every trainable gradient vs the fixture's.
static void parity_check_gradients(parity_run *run, const yl_tensor maps[3], const parity_tolerances *tol,
                                   parity_result *res) {
    yl_tensor d_maps[3];
    for (int l = 0; l < 3; l++) {
        char name[16];
        snprintf(name, sizeof name, "r%d", l);
        float *r = parity_read(&run->parity, name, (size_t)yl_tensor_numel(&maps[l]));
        d_maps[l] = parity_upload(run, r, 4, maps[l].shape);
        free(r);
    }
    CHECK_OK(yl_model_backward(run->model, d_maps, NULL));
    printf("  gradients (stored as F16 x power of two: ~4.9e-4 of each tensor's max is storage rounding):\n");
    for (int i = 0; i < yl_model_state_count(run->model); i++) {
        yl_state_entry *e = yl_model_state_at(run->model, i);
        if (!e->requires_grad) continue;
        char name[128], scale_name[128];
        snprintf(name, sizeof name, "grad.%s", e->name);
        snprintf(scale_name, sizeof scale_name, "grad_scale.%s", e->name);
        size_t n = (size_t)yl_tensor_numel(&e->grad);
        float scale = 0.0f;
        CHECK_OK(yl_safetensors_read_f32(&run->parity, scale_name, &scale, 1));
        float *ref = parity_read(&run->parity, name, n), *ours = yl_test_alloc(n);
        for (size_t k = 0; k < n; k++) ref[k] *= scale;
        parity_to_host(run, &e->grad, ours);
        double err = parity_rel_error(ours, ref, n), beyond = parity_error_beyond_f16(ours, ref, n, scale);
        printf("    %-40s %7zu  max rel err %.2e  beyond F16 storage %.2e\n", e->name, n, err, beyond);
        res->gradient_beyond_f16 = fmax(res->gradient_beyond_f16, beyond);
        CHECK(err <= tol->gradient, "gradient of %s differs: %.3e", e->name, err);
        if (err >= res->gradient) {
            res->gradient = err;
            snprintf(res->worst_gradient, sizeof res->worst_gradient, "%s", e->name);
        }
        res->gradients_checked++;
        free(ref), free(ours);
    }
    for (int l = 0; l < 3; l++) run->be->free(run->be, d_maps[l].data);
}

static void parity_check_running_stats(parity_run *run, const parity_tolerances *tol, parity_result *res) {
    for (int i = 0; i < yl_model_state_count(run->model); i++) {
        yl_state_entry *e = yl_model_state_at(run->model, i);
        if (e->kind != YL_STATE_BN_RUNNING_MEAN && e->kind != YL_STATE_BN_RUNNING_VAR) continue;
        char name[128];
        snprintf(name, sizeof name, "after.%s", e->name);
        size_t n = (size_t)yl_tensor_numel(&e->value);
        float *ref = parity_read(&run->parity, name, n), *ours = yl_test_alloc(n);
        parity_to_host(run, &e->value, ours);
        double err = parity_rel_error(ours, ref, n);
        res->running_stats = fmax(res->running_stats, err);
        CHECK(err <= tol->running_stats, "%s after the training forward differs: %.3e", e->name, err);
        res->running_stats_checked++;
        free(ref), free(ours);
    }
    printf("  running stats after the training forward: %d tensors, max rel err %.3e\n", res->running_stats_checked,
           res->running_stats);
    CHECK_OK(yl_model_store_num_batches_tracked(run->model));
    int64_t tracked = -1;
    parity_to_host(run, &yl_model_state_find(run->model, "model.22.cv3.2.1.bn.num_batches_tracked")->value, &tracked);
    CHECK(tracked == parity_meta_int(&run->parity, "num_batches_tracked_after"), "num_batches_tracked %lld, want %d",
          (long long)tracked, parity_meta_int(&run->parity, "num_batches_tracked_after"));
}

// The whole parity check on `eng`'s device; fills *res with the worst errors.
static void parity_run_all(yl_engine *eng, const parity_tolerances *tol, parity_result *res) {
    memset(res, 0, sizeof *res);
    parity_run run = {.eng = eng, .be = yl_engine_backend(eng, eng->device)};
    CHECK_OK(yl_safetensors_open(&run.state, PARITY_STATE_FILE));
    CHECK_OK(yl_safetensors_open(&run.parity, PARITY_FILE));
    run.batch = parity_meta_int(&run.parity, "batch");
    run.height = parity_meta_int(&run.parity, "image_h");
    run.width = parity_meta_int(&run.parity, "image_w");
    printf("parity on %s: fixture from Ultralytics %s, input %dx3x%dx%d\n", yl_device_name(eng->device),
           yl_safetensors_metadata(&run.parity, "ultralytics"), run.batch, run.height, run.width);
    if (run.batch > 0 && parity_load_model(&run)) {
        CHECK_OK(yl_model_plan(run.model, run.batch, run.height, run.width, true));
        const int64_t shape[4] = {run.batch, 3, run.height, run.width};
        float *pixels = parity_read(&run.parity, "images", (size_t)run.batch * 3 * run.height * run.width);
        yl_tensor images = parity_upload(&run, pixels, 4, shape);
        parity_check_decoded(&run, &images, tol, res);
        yl_tensor maps[3];
        parity_check_train_maps(&run, &images, maps, tol, res);
        CHECK_OK(yl_model_zero_grad(run.model));
        parity_check_gradients(&run, maps, tol, res);
        printf("  %d gradients, worst %s: max rel err %.3e (beyond F16 storage rounding: %.3e)\n",
               res->gradients_checked, res->worst_gradient, res->gradient, res->gradient_beyond_f16);
        parity_check_running_stats(&run, tol, res);
        run.be->free(run.be, images.data);
        free(pixels);
    }
    yl_model_destroy(run.model);
    yl_safetensors_close(&run.state);
    yl_safetensors_close(&run.parity);
}
