// The detection loss on the GPU (kernels/loss_cuda.h through yl_detection_loss_compute) against the
// CPU reference (itself checked against Ultralytics by test_loss): the Ultralytics fixtures
// (tests/fixtures/loss_*.safetensors) and random batches (odd grids, batch > 1, many overlapping GTs
// so conflicts occur, top-k above 16, an image without GT, padding rows, a batch without any GT).
//
// Tolerances: loss items, total and the soft-target sum within 1e-5 relative; every gradient element
// within 1e-5 absolute; the assignment identical on every anchor with a non-zero soft target (soft
// targets within 1e-5 relative). Zero-weight positives may differ, as in test_loss: they change no
// loss term, and expf/atanf/powf differ in the last bits between the CPU and the GPU. A repeated call
// must give the same bits (deterministic reductions), and hold_assignment the same loss.
// Without a GPU only the API checks that need none run, then the test reports SKIPPED.
#include "engine/loss/detection_loss.h"
#include "tests/test_common.h"
#include "weights/safetensors.h"

#define ITEM_RTOL 1e-5
#define GRAD_ATOL 1e-5
#define SCORE_RTOL 1e-5

static const int strides[YL_DETECT_LEVELS] = {8, 16, 32};

typedef struct {
    char name[64];
    int batch, nc, image_h, image_w, topk;
    yl_tensor heads[YL_DETECT_LEVELS];  // host
    float *targets;
    int64_t num_targets;
    int num_anchors;
} loss_case;

static void make_heads(loss_case *c) {
    c->num_anchors = 0;
    for (int i = 0; i < YL_DETECT_LEVELS; i++) {
        int64_t h = (c->image_h + strides[i] - 1) / strides[i], w = (c->image_w + strides[i] - 1) / strides[i];
        c->heads[i] = yl_tensor_4d(NULL, YL_DEVICE_CPU, c->batch, YL_BOX_CHANNELS + c->nc, h, w);
        c->heads[i].data = yl_test_alloc((size_t)yl_tensor_numel(&c->heads[i]));
        c->num_anchors += (int)(h * w);
    }
}

static void free_case(loss_case *c) {
    for (int i = 0; i < YL_DETECT_LEVELS; i++) free(c->heads[i].data);
    free(c->targets);
}

static int meta_int(const yl_safetensors *st, const char *key) {
    const char *v = yl_safetensors_metadata(st, key);
    return v ? atoi(v) : -1;
}

static int load_fixture(loss_case *c, const char *name) {
    char path[512];
    snprintf(path, sizeof path, "%s/loss_%s.safetensors", YL_TEST_FIXTURES, name);
    yl_safetensors st;
    if (yl_safetensors_open(&st, path) != YL_OK) {
        fprintf(stderr, "test: %s\n", yl_last_error());
        return 0;
    }
    memset(c, 0, sizeof *c);
    snprintf(c->name, sizeof c->name, "fixture %s", name);
    c->batch = meta_int(&st, "batch");
    c->nc = meta_int(&st, "nc");
    c->image_h = meta_int(&st, "image_h");
    c->image_w = meta_int(&st, "image_w");
    c->topk = 10;
    int ok = c->batch > 0 && c->nc > 0 && c->image_h > 0 && c->image_w > 0;
    if (ok) {
        make_heads(c);
        for (int i = 0; i < YL_DETECT_LEVELS && ok; i++) {
            char key[16];
            snprintf(key, sizeof key, "head%d", i);
            ok = yl_safetensors_read_f32(&st, key, c->heads[i].data, (size_t)yl_tensor_numel(&c->heads[i])) == YL_OK;
        }
        const yl_safetensors_entry *t = yl_safetensors_find(&st, "targets");
        c->num_targets = t ? t->shape[0] : 0;
        c->targets = yl_test_alloc((size_t)c->num_targets * YL_TARGET_COLUMNS);
        if (ok && c->num_targets > 0)
            ok = yl_safetensors_read_f32(&st, "targets", c->targets, (size_t)c->num_targets * YL_TARGET_COLUMNS) ==
                 YL_OK;
    }
    if (!ok) fprintf(stderr, "test: %s: %s\n", path, yl_last_error());
    yl_safetensors_close(&st);
    return ok;
}

// Random logits and boxes; gt_per_image[b] rows for image b, each box inside the image.
static void make_random(loss_case *c, const char *name, int batch, int nc, int image_h, int image_w, int topk,
                        const int *gt_per_image, uint64_t seed) {
    memset(c, 0, sizeof *c);
    snprintf(c->name, sizeof c->name, "random %s", name);
    c->batch = batch, c->nc = nc, c->image_h = image_h, c->image_w = image_w, c->topk = topk;
    make_heads(c);
    yl_rng rng;
    yl_rng_seed(&rng, seed, 7);
    for (int i = 0; i < YL_DETECT_LEVELS; i++) {
        const yl_tensor *t = &c->heads[i];
        int64_t hw = t->shape[2] * t->shape[3];
        float *x = t->data;
        for (int64_t b = 0; b < batch; b++)
            for (int64_t ch = 0; ch < t->shape[1]; ch++)
                for (int64_t e = 0; e < hw; e++)
                    x[(b * t->shape[1] + ch) * hw + e] =
                        ch < YL_BOX_CHANNELS ? 2.0f * yl_rng_normal(&rng) : -3.0f + 2.5f * yl_rng_normal(&rng);
    }
    for (int b = 0; b < batch; b++) c->num_targets += gt_per_image[b];
    c->targets = yl_test_alloc((size_t)c->num_targets * YL_TARGET_COLUMNS);
    // Rows of the images interleaved (image order does not matter, order within an image does).
    int64_t r = 0;
    for (int round = 0; r < c->num_targets; round++)
        for (int b = 0; b < batch; b++) {
            if (round >= gt_per_image[b]) continue;
            float *row = c->targets + r++ * YL_TARGET_COLUMNS;
            float w = 0.05f + 0.5f * yl_rng_uniform(&rng), h = 0.05f + 0.5f * yl_rng_uniform(&rng);
            row[0] = (float)b;
            row[1] = (float)yl_rng_below(&rng, (uint32_t)nc);
            row[2] = w / 2 + (1.0f - w) * yl_rng_uniform(&rng);
            row[3] = h / 2 + (1.0f - h) * yl_rng_uniform(&rng);
            row[4] = w;
            row[5] = h;
            if (round == 3) memset(row + 2, 0, 4 * sizeof(float));  // a padding row in the middle
        }
}

static yl_detection_loss_config config_for(const loss_case *c) {
    yl_detection_loss_config config = yl_detection_loss_default_config(c->batch, c->nc, c->image_h, c->image_w, 32);
    config.tal.topk = c->topk;
    return config;
}

static double rel_err(double got, double want) {
    double scale = fabs(want);
    return scale > 0 ? fabs(got - want) / scale : fabs(got);
}

typedef struct {
    yl_engine *eng;
    yl_tensor heads[YL_DETECT_LEVELS], grads[YL_DETECT_LEVELS];  // device
} device_maps;

static device_maps to_device(yl_engine *eng, const loss_case *c) {
    device_maps d = {.eng = eng};
    for (int i = 0; i < YL_DETECT_LEVELS; i++) {
        d.heads[i] = yl_test_to_device(eng, c->heads[i].data, 4, c->heads[i].shape);
        d.grads[i] = yl_test_to_device(eng, NULL, 4, c->heads[i].shape);
    }
    return d;
}

static void free_device(device_maps *d) {
    for (int i = 0; i < YL_DETECT_LEVELS; i++) {
        yl_test_device_free(d->eng, &d->heads[i]);
        yl_test_device_free(d->eng, &d->grads[i]);
    }
}

static void compare_items(const char *name, const char *what, const yl_detection_loss_result *got,
                          const yl_detection_loss_result *want) {
    double g[4] = {got->box, got->cls, got->dfl, got->total}, w[4] = {want->box, want->cls, want->dfl, want->total};
    const char *names[4] = {"box", "cls", "dfl", "total"};
    double worst = 0.0;
    for (int k = 0; k < 4; k++) {
        double e = rel_err(g[k], w[k]);
        worst = fmax(worst, e);
        CHECK(w[k] != 0.0 ? e <= ITEM_RTOL : g[k] == 0.0, "%s (%s): %s %.9g, CPU %.9g (rel err %.3e)", name, what,
              names[k], g[k], w[k], e);
    }
    double e_sum = rel_err(got->target_scores_sum, want->target_scores_sum);
    CHECK(e_sum <= SCORE_RTOL, "%s (%s): target score sum %.9g, CPU %.9g", name, what, got->target_scores_sum,
          want->target_scores_sum);
    printf("  %s (%s): box %.7g cls %.7g dfl %.7g (CPU %.7g %.7g %.7g), items max rel err %.2e, fg %d (CPU %d)\n", name,
           what, got->box, got->cls, got->dfl, want->box, want->cls, want->dfl, worst, got->num_fg, want->num_fg);
}

// Every anchor with weight in either result: same fg, GT row, label; soft targets within SCORE_RTOL.
static void compare_assignment(const char *name, const yl_detection_loss *gpu, const yl_detection_loss *cpu, int BA) {
    int mismatched = 0, weighted = 0;
    double worst = 0.0;
    for (int i = 0; i < BA; i++) {
        if (gpu->target_score[i] == 0.0f && cpu->target_score[i] == 0.0f) continue;
        weighted++;
        if (gpu->fg[i] != cpu->fg[i] || gpu->gt_index[i] != cpu->gt_index[i] ||
            gpu->target_label[i] != cpu->target_label[i])
            mismatched++;
        worst = fmax(worst, fabs((double)gpu->target_score[i] - cpu->target_score[i]) /
                                fmax(fabs((double)cpu->target_score[i]), 1e-6));
        for (int k = 0; k < 4; k++) mismatched += gpu->target_boxes[4 * i + k] != cpu->target_boxes[4 * i + k];
    }
    printf("  %s: assignment: %d weighted anchors, %d differ, soft target max rel err %.2e\n", name, weighted,
           mismatched, worst);
    CHECK(mismatched == 0, "%s: %d weighted anchors assigned differently", name, mismatched);
    CHECK(worst <= SCORE_RTOL, "%s: soft target rel err %.3e", name, worst);
}

static void compare_case(yl_engine *eng, const loss_case *c) {
    yl_backend *cuda = yl_engine_backend(eng, YL_DEVICE_CUDA);
    yl_detection_loss_config config = config_for(c);
    yl_detection_loss cpu, gpu;
    CHECK_OK(yl_detection_loss_init(&cpu, &config));
    CHECK_OK(yl_detection_loss_init(&gpu, &config));
    CHECK_OK(yl_detection_loss_attach_cuda(&gpu, cuda));

    yl_tensor cpu_grads[YL_DETECT_LEVELS];
    for (int i = 0; i < YL_DETECT_LEVELS; i++) {
        cpu_grads[i] = c->heads[i];
        cpu_grads[i].data = yl_test_alloc((size_t)yl_tensor_numel(&c->heads[i]));
    }
    yl_detection_loss_result want, got, again, held;
    CHECK_OK(yl_detection_loss_compute(&cpu, c->heads, c->image_h, c->image_w, c->targets, c->num_targets, cpu_grads,
                                       &want));
    device_maps d = to_device(eng, c);
    CHECK_OK(
        yl_detection_loss_compute(&gpu, d.heads, c->image_h, c->image_w, c->targets, c->num_targets, d.grads, &got));
    compare_items(c->name, "with gradients", &got, &want);

    double worst_grad = 0.0;
    for (int i = 0; i < YL_DETECT_LEVELS; i++) {
        size_t n = (size_t)yl_tensor_numel(&c->heads[i]);
        float *g = yl_test_alloc(n);
        yl_test_to_host(eng, g, &d.grads[i]);
        double err = yl_test_max_abs_diff(g, cpu_grads[i].data, n);
        worst_grad = fmax(worst_grad, err);
        CHECK(err <= GRAD_ATOL, "%s: grad%d max abs err %.3e", c->name, i, err);
        free(g);
    }
    printf("  %s: gradients max abs err %.2e\n", c->name, worst_grad);

    CHECK_OK(yl_detection_loss_fetch_assignment(&gpu));
    compare_assignment(c->name, &gpu, &cpu, c->batch * c->num_anchors);

    // The loss alone: the same bits as with gradients, and as a repeated call.
    CHECK_OK(
        yl_detection_loss_compute(&gpu, d.heads, c->image_h, c->image_w, c->targets, c->num_targets, NULL, &again));
    CHECK(again.box == got.box && again.cls == got.cls && again.dfl == got.dfl && again.num_fg == got.num_fg,
          "%s: repeated call differs: %.17g %.17g %.17g vs %.17g %.17g %.17g", c->name, again.box, again.cls, again.dfl,
          got.box, got.cls, got.dfl);
    // Held assignment: targets ignored, same loss.
    gpu.hold_assignment = true;
    CHECK_OK(yl_detection_loss_compute(&gpu, d.heads, c->image_h, c->image_w, NULL, 0, d.grads, &held));
    CHECK(held.box == got.box && held.cls == got.cls && held.dfl == got.dfl, "%s: held assignment changes the loss",
          c->name);
    gpu.hold_assignment = false;

    free_device(&d);
    for (int i = 0; i < YL_DETECT_LEVELS; i++) free(cpu_grads[i].data);
    yl_detection_loss_free(&cpu);
    yl_detection_loss_free(&gpu);
}

// Errors on the GPU path: NaN in a head map (same message as the CPU), mixed devices, no attach,
// hold_assignment across devices.
static void test_device_errors(yl_engine *eng) {
    loss_case c;
    if (!load_fixture(&c, "square")) {
        CHECK(0, "fixture loss_square missing");
        return;
    }
    yl_backend *cuda = yl_engine_backend(eng, YL_DEVICE_CUDA);
    yl_detection_loss_config config = config_for(&c);
    yl_detection_loss gpu, cpu;
    CHECK_OK(yl_detection_loss_init(&gpu, &config));
    CHECK_OK(yl_detection_loss_init(&cpu, &config));
    device_maps d = to_device(eng, &c);
    yl_detection_loss_result r;
    int H = c.image_h, W = c.image_w;

    CHECK_STATUS(yl_detection_loss_compute(&gpu, d.heads, H, W, c.targets, c.num_targets, d.grads, &r),
                 YL_ERR_INVALID_ARG);  // not attached
    CHECK(strstr(yl_last_error(), "attach"), "message: %s", yl_last_error());
    CHECK_OK(yl_detection_loss_attach_cuda(&gpu, cuda));

    // NaN at (b=1, c=5, y=2, x=3) of head 1, on both paths.
    int64_t hw1 = c.heads[1].shape[2] * c.heads[1].shape[3];
    size_t at = (size_t)(1 * c.heads[1].shape[1] * hw1 + 5 * hw1 + 2 * c.heads[1].shape[3] + 3);
    float *x1 = c.heads[1].data, saved = x1[at];
    x1[at] = NAN;
    yl_backend *be = cuda;
    CHECK_OK(be->copy_from_host(be, (float *)d.heads[1].data + at, &x1[at], sizeof(float)));
    CHECK_STATUS(yl_detection_loss_compute(&cpu, c.heads, H, W, c.targets, c.num_targets, NULL, &r), YL_ERR_NUMERIC);
    char cpu_message[512];
    snprintf(cpu_message, sizeof cpu_message, "%s", yl_last_error());
    CHECK_STATUS(yl_detection_loss_compute(&gpu, d.heads, H, W, c.targets, c.num_targets, d.grads, &r), YL_ERR_NUMERIC);
    CHECK(!strcmp(cpu_message, yl_last_error()), "GPU message '%s', CPU '%s'", yl_last_error(), cpu_message);
    printf("  NaN head (cuda) -> %s\n", yl_last_error());
    x1[at] = saved;
    CHECK_OK(be->copy_from_host(be, (float *)d.heads[1].data + at, &saved, sizeof(float)));
    CHECK_OK(yl_detection_loss_compute(&gpu, d.heads, H, W, c.targets, c.num_targets, d.grads, &r));

    // Heads and grads on different devices.
    yl_tensor mixed[YL_DETECT_LEVELS];
    memcpy(mixed, d.heads, sizeof mixed);
    mixed[2] = c.heads[2];
    CHECK_STATUS(yl_detection_loss_compute(&gpu, mixed, H, W, c.targets, c.num_targets, NULL, &r), YL_ERR_DEVICE);
    yl_tensor host_grads[YL_DETECT_LEVELS];
    memcpy(host_grads, c.heads, sizeof host_grads);
    CHECK_STATUS(yl_detection_loss_compute(&gpu, d.heads, H, W, c.targets, c.num_targets, host_grads, &r),
                 YL_ERR_DEVICE);

    // The held assignment belongs to the device that made it.
    CHECK_OK(yl_detection_loss_compute(&gpu, d.heads, H, W, c.targets, c.num_targets, NULL, &r));
    gpu.hold_assignment = true;
    CHECK_STATUS(yl_detection_loss_compute(&gpu, c.heads, H, W, c.targets, c.num_targets, NULL, &r),
                 YL_ERR_INVALID_ARG);
    gpu.hold_assignment = false;

    free_device(&d);
    yl_detection_loss_free(&gpu);
    yl_detection_loss_free(&cpu);
    free_case(&c);
}

// Checks that need no GPU: attaching without a backend or with the CPU one, CUDA heads unattached.
static void test_api_without_device(void) {
    loss_case c;
    int gt[2] = {2, 1};
    make_random(&c, "api", 2, 3, 64, 64, 10, gt, 1);
    yl_detection_loss_config config = config_for(&c);
    yl_detection_loss loss;
    CHECK_OK(yl_detection_loss_init(&loss, &config));
    yl_engine cpu_engine = yl_test_cpu_engine();
    CHECK_STATUS(yl_detection_loss_attach_cuda(&loss, NULL), YL_ERR_INVALID_ARG);
    CHECK_STATUS(yl_detection_loss_attach_cuda(NULL, yl_engine_backend(&cpu_engine, YL_DEVICE_CPU)),
                 YL_ERR_INVALID_ARG);
#ifdef YOLOOP_HAVE_CUDA
    const yl_status not_cuda = YL_ERR_DEVICE, unattached = YL_ERR_INVALID_ARG;
#else
    const yl_status not_cuda = YL_ERR_UNSUPPORTED, unattached = YL_ERR_UNSUPPORTED;
#endif
    CHECK_STATUS(yl_detection_loss_attach_cuda(&loss, yl_engine_backend(&cpu_engine, YL_DEVICE_CPU)), not_cuda);
    // Heads labelled as CUDA tensors are rejected before any of their memory is read.
    yl_tensor fake[YL_DETECT_LEVELS];
    memcpy(fake, c.heads, sizeof fake);
    for (int i = 0; i < YL_DETECT_LEVELS; i++) fake[i].device = YL_DEVICE_CUDA;
    yl_detection_loss_result r;
    CHECK_STATUS(yl_detection_loss_compute(&loss, fake, 64, 64, c.targets, c.num_targets, NULL, &r), unattached);
    printf("  CUDA heads, nothing attached -> %s\n", yl_last_error());
    CHECK_OK(yl_detection_loss_fetch_assignment(&loss));  // nothing on the device: a no-op
    CHECK_OK(yl_detection_loss_compute(&loss, c.heads, 64, 64, c.targets, c.num_targets, NULL, &r));
    yl_engine_release(&cpu_engine);
    yl_detection_loss_free(&loss);
    free_case(&c);
}

int main(void) {
    test_api_without_device();
    yl_engine eng;
    if (!yl_test_cuda_engine(&eng)) return yl_test_failures ? 1 : YL_TEST_SKIPPED;

    const char *fixtures[] = {"square", "wide", "crowd", "background"};
    for (size_t i = 0; i < sizeof fixtures / sizeof fixtures[0]; i++) {
        loss_case c;
        if (!load_fixture(&c, fixtures[i])) {
            CHECK(0, "fixture loss_%s missing", fixtures[i]);
            continue;
        }
        compare_case(&eng, &c);
        free_case(&c);
    }
    struct {
        const char *name;
        int batch, nc, h, w, topk;
        int gt[4];
    } randoms[] = {
        {"odd grid, 3 images", 3, 5, 96, 168, 10, {4, 7, 1}},
        {"crowded, topk 20", 2, 3, 72, 40, 20, {18, 12}},
        {"an image without GT", 4, 7, 128, 128, 10, {0, 5, 0, 3}},
        {"no GT at all", 2, 4, 64, 96, 10, {0, 0}},
        {"topk 1", 1, 2, 40, 56, 1, {6}},
    };
    for (size_t i = 0; i < sizeof randoms / sizeof randoms[0]; i++) {
        loss_case c;
        make_random(&c, randoms[i].name, randoms[i].batch, randoms[i].nc, randoms[i].h, randoms[i].w, randoms[i].topk,
                    randoms[i].gt, 100 + i);
        compare_case(&eng, &c);
        free_case(&c);
    }
    test_device_errors(&eng);
    yl_engine_release(&eng);
    return yl_test_finish("test_cuda_loss");
}
