// YOLOv8 detection loss: parity with Ultralytics 8.3.166's v8DetectionLoss through the fixtures
// written by tools/reference/make_loss_fixtures.py (loss items, total, every head gradient, the
// assignment), finite differences of the C loss itself, and bad input through the public API.
//
// Tolerances: loss items and total within 1e-5 relative; head gradients within 1e-4 in max
// absolute error per map (they are O(0.01..10); the fixtures' own float32-vs-float64 difference in
// Ultralytics is < 1e-6); soft targets within 1e-5 relative.
//
// Ties in the assigner's top-k: torch.topk leaves the order of equal metrics unspecified; the C
// assigner ranks equal metrics by lower anchor index. Equal metrics are, in practice, metrics equal
// to 0, and an anchor picked with metric 0 gets soft target 0, so it changes no loss term (spec
// §2.4 step 6; details in engine/loss/tal_assigner.h). The assignment comparison below therefore
// covers every anchor with a non-zero soft target, and the fixtures record that none of their
// positives has a zero metric (metadata zero_align_positives = 0), so the foreground counts agree too. Finite differences (central, eps 1e-3 on
// fp32 logits, loss summed in double): relative error below 1e-2 with a floor of 1e-2.
#include "engine/loss/detection_loss.h"
#include "tests/test_common.h"
#include "weights/safetensors.h"

#define ITEM_RTOL 1e-5
#define GRAD_ATOL 1e-4
#define FD_EPS 1e-3f
#define FD_RTOL 1e-2

typedef struct {
    const char *name;
    int batch, nc, image_h, image_w;
    yl_tensor heads[YL_DETECT_LEVELS];
    float *grad_ref[YL_DETECT_LEVELS];
    float *targets;
    int64_t num_targets;
    float items[3], total;
    unsigned char *fg;
    int *gt_idx;
    float *target_scores;  // (B, A, nc)
    int num_anchors;
} loss_case;

static float *read_tensor(const yl_safetensors *st, const char *name, size_t count) {
    float *p = yl_test_alloc(count);
    yl_status status = yl_safetensors_read_f32(st, name, p, count);
    if (status != YL_OK) {
        fprintf(stderr, "test: %s\n", yl_last_error());
        exit(2);
    }
    return p;
}

static int meta_int(const yl_safetensors *st, const char *key) {
    const char *v = yl_safetensors_metadata(st, key);
    if (!v) {
        fprintf(stderr, "test: %s: no metadata '%s'\n", st->path, key);
        exit(2);
    }
    return atoi(v);
}

static int load_case(loss_case *c, const char *name) {
    char path[512];
    snprintf(path, sizeof path, "%s/loss_%s.safetensors", YL_TEST_FIXTURES, name);
    yl_safetensors st;
    if (yl_safetensors_open(&st, path) != YL_OK) {
        fprintf(stderr, "test: %s\n", yl_last_error());
        return 0;
    }
    memset(c, 0, sizeof *c);
    c->name = name;
    c->batch = meta_int(&st, "batch");
    c->nc = meta_int(&st, "nc");
    c->image_h = meta_int(&st, "image_h");
    c->image_w = meta_int(&st, "image_w");
    const int strides[3] = {8, 16, 32};
    for (int i = 0; i < YL_DETECT_LEVELS; i++) {
        int64_t h = (c->image_h + strides[i] - 1) / strides[i], w = (c->image_w + strides[i] - 1) / strides[i];
        char key[16];
        snprintf(key, sizeof key, "head%d", i);
        size_t n = (size_t)c->batch * (YL_BOX_CHANNELS + c->nc) * h * w;
        c->heads[i] = yl_tensor_4d(read_tensor(&st, key, n), YL_DEVICE_CPU, c->batch, YL_BOX_CHANNELS + c->nc, h, w);
        snprintf(key, sizeof key, "grad%d", i);
        c->grad_ref[i] = read_tensor(&st, key, n);
        c->num_anchors += (int)(h * w);
    }
    const yl_safetensors_entry *t = yl_safetensors_find(&st, "targets");
    c->num_targets = t ? t->shape[0] : 0;
    c->targets = read_tensor(&st, "targets", (size_t)c->num_targets * YL_TARGET_COLUMNS);
    float *items = read_tensor(&st, "items", 3), *total = read_tensor(&st, "loss_total", 1);
    memcpy(c->items, items, sizeof c->items);
    c->total = *total;
    free(items);
    free(total);
    size_t BA = (size_t)c->batch * c->num_anchors;
    float *fg = read_tensor(&st, "tal.fg_mask", BA), *idx = read_tensor(&st, "tal.target_gt_idx", BA);
    c->fg = malloc(BA);
    c->gt_idx = malloc(BA * sizeof(int));
    for (size_t i = 0; i < BA; i++) {
        c->fg[i] = (unsigned char)fg[i];
        c->gt_idx[i] = (int)idx[i];
    }
    free(fg);
    free(idx);
    c->target_scores = read_tensor(&st, "tal.target_scores", BA * c->nc);
    printf("case %s: B=%d %dx%d nc=%d rows=%lld anchors=%d (%s)\n", name, c->batch, c->image_h, c->image_w, c->nc,
           (long long)c->num_targets, c->num_anchors, yl_safetensors_metadata(&st, "description"));
    yl_safetensors_close(&st);
    return 1;
}

static void free_case(loss_case *c) {
    for (int i = 0; i < YL_DETECT_LEVELS; i++) {
        free(c->heads[i].data);
        free(c->grad_ref[i]);
    }
    free(c->targets);
    free(c->fg);
    free(c->gt_idx);
    free(c->target_scores);
}

static void alloc_grads(const loss_case *c, yl_tensor grads[YL_DETECT_LEVELS]) {
    for (int i = 0; i < YL_DETECT_LEVELS; i++) {
        grads[i] = c->heads[i];
        grads[i].data = yl_test_alloc((size_t)yl_tensor_numel(&c->heads[i]));
    }
}

static void free_grads(yl_tensor grads[YL_DETECT_LEVELS]) {
    for (int i = 0; i < YL_DETECT_LEVELS; i++) free(grads[i].data);
}

static double rel_err(double got, double want) {
    double scale = fabs(want);
    return scale > 0 ? fabs(got - want) / scale : fabs(got);
}

// The assignment must agree wherever it matters for the loss: every anchor with a non-zero soft
// target in either result (zero-weight positives may differ by top-k tie order; see tal_assigner.h).
static void compare_assignment(const loss_case *c, const yl_detection_loss *loss) {
    int mismatches = 0, fg_ref = 0, fg_got = 0;
    double worst = 0.0;
    for (int b = 0; b < c->batch; b++)
        for (int a = 0; a < c->num_anchors; a++) {
            size_t ba = (size_t)b * c->num_anchors + a;
            fg_ref += c->fg[ba];
            fg_got += loss->fg[ba];
            double ref = 0.0;
            int ref_label = -1;
            for (int k = 0; k < c->nc; k++)
                if (c->target_scores[ba * c->nc + k] != 0.0f) {
                    ref = c->target_scores[ba * c->nc + k];
                    ref_label = k;
                }
            double got = loss->target_score[ba];
            if (ref == 0.0 && got == 0.0) continue;
            int same = loss->fg[ba] == c->fg[ba] && loss->gt_index[ba] == c->gt_idx[ba] &&
                       loss->target_label[ba] == ref_label;
            if (!same) mismatches++;
            worst = fmax(worst, fabs(got - ref) / fmax(fabs(ref), 1e-6));
        }
    printf("  assignment: fg %d (ref %d), weighted anchors differing %d, soft target max rel err %.2e\n", fg_got,
           fg_ref, mismatches, worst);
    CHECK(mismatches == 0, "%s: %d weighted anchors assigned differently", c->name, mismatches);
    CHECK(worst <= 1e-5, "%s: soft target rel err %.3e", c->name, worst);
}

static void test_parity(const char *name) {
    loss_case c;
    if (!load_case(&c, name)) {
        CHECK(0, "fixture loss_%s.safetensors missing", name);
        return;
    }
    yl_detection_loss loss;
    yl_detection_loss_config config = yl_detection_loss_default_config(c.batch, c.nc, c.image_h, c.image_w, 16);
    CHECK_OK(yl_detection_loss_init(&loss, &config));
    yl_tensor grads[YL_DETECT_LEVELS];
    alloc_grads(&c, grads);
    yl_detection_loss_result r;
    CHECK_OK(yl_detection_loss_compute(&loss, c.heads, c.image_h, c.image_w, c.targets, c.num_targets, grads, &r));

    double got[3] = {r.box, r.cls, r.dfl};
    const char *names[3] = {"box", "cls", "dfl"};
    for (int k = 0; k < 3; k++) {
        double e = rel_err(got[k], c.items[k]);
        printf("  %s: %.7g (ref %.7g) rel err %.2e\n", names[k], got[k], (double)c.items[k], e);
        CHECK(c.items[k] != 0.0f ? e <= ITEM_RTOL : fabs(got[k]) == 0.0, "%s: %s rel err %.3e", name, names[k], e);
    }
    double e_total = rel_err(r.total, c.total);
    printf("  total: %.7g (ref %.7g) rel err %.2e; fg %d, target sum %.6g\n", r.total, (double)c.total, e_total,
           r.num_fg, r.target_scores_sum);
    CHECK(e_total <= ITEM_RTOL, "%s: total rel err %.3e", name, e_total);
    compare_assignment(&c, &loss);

    for (int i = 0; i < YL_DETECT_LEVELS; i++) {
        size_t n = (size_t)yl_tensor_numel(&c.heads[i]);
        double err = yl_test_max_abs_diff(grads[i].data, c.grad_ref[i], n);
        double scale = 0.0;
        for (size_t e = 0; e < n; e++) scale = fmax(scale, fabs(c.grad_ref[i][e]));
        printf("  grad%d: max abs err %.2e (max |ref| %.3g, nmse %.2e)\n", i, err, scale,
               yl_test_nmse(grads[i].data, c.grad_ref[i], n));
        CHECK(err <= GRAD_ATOL, "%s: grad%d max abs err %.3e", name, i, err);
    }

    // The loss alone (no gradients) gives the same numbers, and a second call the same bits.
    yl_detection_loss_result r2;
    CHECK_OK(yl_detection_loss_compute(&loss, c.heads, c.image_h, c.image_w, c.targets, c.num_targets, NULL, &r2));
    CHECK(r2.box == r.box && r2.cls == r.cls && r2.dfl == r.dfl, "%s: loss without gradients differs", name);

    free_grads(grads);
    yl_detection_loss_free(&loss);
    free_case(&c);
}

// ---- finite differences of the C loss itself --------------------------------------------------
// With the assignment held (hold_assignment), the loss is smooth in the logits: central differences
// check the analytic gradient of all three terms, including the CIoU and DFL chain rules.

typedef struct {
    yl_detection_loss *loss;
    loss_case *c;
} fd_context;

static double fd_total(fd_context *ctx) {
    yl_detection_loss_result r;
    yl_status status = yl_detection_loss_compute(ctx->loss, ctx->c->heads, ctx->c->image_h, ctx->c->image_w,
                                                 ctx->c->targets, ctx->c->num_targets, NULL, &r);
    return status == YL_OK ? r.total : NAN;
}

static double fd_check_entry(fd_context *ctx, float *param, float analytic, double *worst_numeric) {
    float saved = *param;
    *param = saved + FD_EPS;
    double plus = fd_total(ctx);
    *param = saved - FD_EPS;
    double minus = fd_total(ctx);
    *param = saved;
    double numeric = (plus - minus) / (2.0 * (double)FD_EPS);
    *worst_numeric = numeric;
    return fabs(numeric - analytic) / fmax(fmax(fabs(numeric), fabs((double)analytic)), 1e-2);
}

// Every channel of the first few foreground anchors (box and class) and the class channels of a
// few background anchors.
static void test_finite_differences(const char *name) {
    loss_case c;
    if (!load_case(&c, name)) return;
    yl_detection_loss loss;
    yl_detection_loss_config config = yl_detection_loss_default_config(c.batch, c.nc, c.image_h, c.image_w, 16);
    CHECK_OK(yl_detection_loss_init(&loss, &config));
    yl_tensor grads[YL_DETECT_LEVELS];
    alloc_grads(&c, grads);
    yl_detection_loss_result r;
    CHECK_OK(yl_detection_loss_compute(&loss, c.heads, c.image_h, c.image_w, c.targets, c.num_targets, grads, &r));
    // The assignment is a constant for autograd; hold it so the finite differences see the same function.
    loss.hold_assignment = true;
    fd_context ctx = {&loss, &c};
    int channels = YL_BOX_CHANNELS + c.nc, checked_fg = 0, checked_bg = 0, count = 0;
    double worst = 0.0, worst_analytic = 0.0, worst_numeric = 0.0;
    for (int b = 0; b < c.batch; b++)
        for (int a = 0; a < c.num_anchors; a++) {
            size_t ba = (size_t)b * c.num_anchors + a;
            double weight = 0.0;
            for (int k = 0; k < c.nc; k++) weight += c.target_scores[ba * c.nc + k];
            int fg = c.fg[ba] && weight > 0.0;
            if (fg ? checked_fg >= 3 : (checked_bg >= 4 || a % 7 != 3)) continue;
            fg ? checked_fg++ : checked_bg++;
            int level = 0, within = a;
            while (within >= c.heads[level].shape[2] * c.heads[level].shape[3])
                within -= (int)(c.heads[level].shape[2] * c.heads[level].shape[3]), level++;
            int64_t hw = c.heads[level].shape[2] * c.heads[level].shape[3];
            float *x = (float *)c.heads[level].data + (int64_t)b * channels * hw + within;
            const float *g = (const float *)grads[level].data + (int64_t)b * channels * hw + within;
            for (int ch = fg ? 0 : YL_BOX_CHANNELS; ch < channels; ch++) {
                double numeric;
                double e = fd_check_entry(&ctx, x + ch * hw, g[ch * hw], &numeric);
                count++;
                if (e > worst || isnan(e)) {
                    worst = e;
                    worst_analytic = g[ch * hw];
                    worst_numeric = numeric;
                }
            }
        }
    printf("  finite differences (%s): %d entries over %d fg + %d bg anchors, max rel err %.2e (analytic %.6g "
           "numeric %.6g)\n",
           name, count, checked_fg, checked_bg, worst, worst_analytic, worst_numeric);
    CHECK(count > 0 && worst <= FD_RTOL, "%s: finite-difference rel err %.3e", name, worst);
    free_grads(grads);
    yl_detection_loss_free(&loss);
    free_case(&c);
}

// ---- behaviour and bad input -------------------------------------------------------------------

static void test_zero_size_and_padding_rows(void) {
    loss_case c;
    if (!load_case(&c, "wide")) return;
    yl_detection_loss loss;
    yl_detection_loss_config config = yl_detection_loss_default_config(c.batch, c.nc, c.image_h, c.image_w, 8);
    CHECK_OK(yl_detection_loss_init(&loss, &config));
    yl_detection_loss_result base, more;
    CHECK_OK(yl_detection_loss_compute(&loss, c.heads, c.image_h, c.image_w, c.targets, c.num_targets, NULL, &base));
    // Extra rows with a zero-size box and an all-zero (padding) box, appended to image 1: no anchor lies
    // inside them, so the loss must not move (Ultralytics behaves the same).
    int64_t n = c.num_targets + 3;
    float *rows = yl_test_alloc((size_t)n * YL_TARGET_COLUMNS);
    memcpy(rows, c.targets, (size_t)c.num_targets * YL_TARGET_COLUMNS * sizeof(float));
    float extra[3][6] = {{1, 2, 0.4f, 0.5f, 0.0f, 0.3f}, {1, 0, 0.6f, 0.6f, 0.2f, 0.0f}, {1, 1, 0, 0, 0, 0}};
    memcpy(rows + c.num_targets * YL_TARGET_COLUMNS, extra, sizeof extra);
    CHECK_OK(yl_detection_loss_compute(&loss, c.heads, c.image_h, c.image_w, rows, n, NULL, &more));
    CHECK(more.box == base.box && more.cls == base.cls && more.dfl == base.dfl && more.num_fg == base.num_fg,
          "zero-size rows changed the loss: %.9g %.9g %.9g vs %.9g %.9g %.9g", more.box, more.cls, more.dfl, base.box,
          base.cls, base.dfl);
    free(rows);
    yl_detection_loss_free(&loss);
    free_case(&c);
}

static void test_bad_input(void) {
    loss_case c;
    if (!load_case(&c, "square")) return;
    yl_detection_loss loss;
    yl_detection_loss_config config = yl_detection_loss_default_config(c.batch, c.nc, c.image_h, c.image_w, 4);
    CHECK_OK(yl_detection_loss_init(&loss, &config));
    yl_tensor grads[YL_DETECT_LEVELS];
    alloc_grads(&c, grads);
    yl_detection_loss_result r;
    int H = c.image_h, W = c.image_w;
    float *keep_pointer = loss.overlaps;

    // NaN / Inf in a head map: the message names the map and the element.
    float *x1 = c.heads[1].data;
    int64_t hw1 = c.heads[1].shape[2] * c.heads[1].shape[3];
    size_t at = (size_t)(1 * 67 * hw1 + 5 * hw1 + 2 * c.heads[1].shape[3] + 3);  // (b=1, c=5, y=2, x=3)
    float saved = x1[at];
    x1[at] = NAN;
    CHECK_STATUS(yl_detection_loss_compute(&loss, c.heads, H, W, c.targets, c.num_targets, grads, &r), YL_ERR_NUMERIC);
    CHECK(strstr(yl_last_error(), "head 1") && strstr(yl_last_error(), "b=1, c=5, y=2, x=3"), "message: %s",
          yl_last_error());
    printf("  NaN head -> %s\n", yl_last_error());
    x1[at] = INFINITY;
    CHECK_STATUS(yl_detection_loss_compute(&loss, c.heads, H, W, c.targets, c.num_targets, grads, &r), YL_ERR_NUMERIC);
    x1[at] = saved;

    // Target rows: class id >= nc, fractional class, image index out of range, NaN coordinate.
    float rows[2][6] = {{0, 1, 0.5f, 0.5f, 0.2f, 0.2f}, {2, 3, 0.5f, 0.5f, 0.2f, 0.2f}};
    CHECK_STATUS(yl_detection_loss_compute(&loss, c.heads, H, W, &rows[0][0], 2, grads, &r), YL_ERR_INVALID_ARG);
    CHECK(strstr(yl_last_error(), "row 1") && strstr(yl_last_error(), "class 3"), "message: %s", yl_last_error());
    printf("  class >= nc -> %s\n", yl_last_error());
    rows[1][1] = 1.5f;
    CHECK_STATUS(yl_detection_loss_compute(&loss, c.heads, H, W, &rows[0][0], 2, grads, &r), YL_ERR_INVALID_ARG);
    rows[1][1] = -1.0f;
    CHECK_STATUS(yl_detection_loss_compute(&loss, c.heads, H, W, &rows[0][0], 2, grads, &r), YL_ERR_INVALID_ARG);
    rows[1][1] = 2.0f;
    rows[1][0] = 3.0f;  // batch is 3
    CHECK_STATUS(yl_detection_loss_compute(&loss, c.heads, H, W, &rows[0][0], 2, grads, &r), YL_ERR_INVALID_ARG);
    CHECK(strstr(yl_last_error(), "image index 3"), "message: %s", yl_last_error());
    printf("  image index -> %s\n", yl_last_error());
    rows[1][0] = -1.0f;
    CHECK_STATUS(yl_detection_loss_compute(&loss, c.heads, H, W, &rows[0][0], 2, grads, &r), YL_ERR_INVALID_ARG);
    rows[1][0] = 2.0f;
    rows[1][4] = NAN;
    CHECK_STATUS(yl_detection_loss_compute(&loss, c.heads, H, W, &rows[0][0], 2, grads, &r), YL_ERR_NUMERIC);
    rows[1][4] = 0.2f;
    CHECK_OK(yl_detection_loss_compute(&loss, c.heads, H, W, &rows[0][0], 2, grads, &r));

    // More rows in one image than the workspace holds: an error until reserve grows it.
    float many[6][6];
    for (int i = 0; i < 6; i++) memcpy(many[i], rows[0], sizeof rows[0]);
    CHECK_STATUS(yl_detection_loss_compute(&loss, c.heads, H, W, &many[0][0], 6, grads, &r), YL_ERR_INVALID_ARG);
    CHECK(loss.overlaps == keep_pointer, "the workspace moved during compute");
    CHECK_OK(yl_detection_loss_reserve(&loss, 6));
    CHECK_OK(yl_detection_loss_compute(&loss, c.heads, H, W, &many[0][0], 6, grads, &r));

    // Shapes, dtypes, devices, NULLs.
    CHECK_STATUS(yl_detection_loss_compute(&loss, c.heads, H + 8, W, c.targets, c.num_targets, grads, &r), YL_ERR_SHAPE);
    CHECK_OK(yl_detection_loss_compute(&loss, c.heads, H, W, c.targets, c.num_targets, grads, &r));
    yl_tensor bad[YL_DETECT_LEVELS];
    memcpy(bad, c.heads, sizeof bad);
    bad[2].shape[1] = 66;
    CHECK_STATUS(yl_detection_loss_compute(&loss, bad, H, W, c.targets, c.num_targets, grads, &r), YL_ERR_SHAPE);
    printf("  channels -> %s\n", yl_last_error());
    memcpy(bad, c.heads, sizeof bad);
    bad[1].dtype = YL_F16;
    CHECK_STATUS(yl_detection_loss_compute(&loss, bad, H, W, c.targets, c.num_targets, grads, &r), YL_ERR_DTYPE);
    memcpy(bad, c.heads, sizeof bad);
    bad[0].device = YL_DEVICE_CUDA;
    CHECK_STATUS(yl_detection_loss_compute(&loss, bad, H, W, c.targets, c.num_targets, grads, &r), YL_ERR_DEVICE);
    memcpy(bad, grads, sizeof bad);
    bad[2].shape[3] = 3;
    CHECK_STATUS(yl_detection_loss_compute(&loss, c.heads, H, W, c.targets, c.num_targets, bad, &r), YL_ERR_SHAPE);
    CHECK(strstr(yl_last_error(), "grad 2"), "message: %s", yl_last_error());
    memcpy(bad, grads, sizeof bad);
    bad[1].data = c.heads[1].data;  // in place would zero the head before reading it
    CHECK_STATUS(yl_detection_loss_compute(&loss, c.heads, H, W, c.targets, c.num_targets, bad, &r), YL_ERR_INVALID_ARG);
    CHECK_STATUS(yl_detection_loss_compute(NULL, c.heads, H, W, c.targets, c.num_targets, grads, &r), YL_ERR_INVALID_ARG);
    CHECK_STATUS(yl_detection_loss_compute(&loss, NULL, H, W, c.targets, c.num_targets, grads, &r), YL_ERR_INVALID_ARG);
    CHECK_STATUS(yl_detection_loss_compute(&loss, c.heads, H, W, NULL, 2, grads, &r), YL_ERR_INVALID_ARG);
    CHECK_STATUS(yl_detection_loss_compute(&loss, c.heads, H, W, c.targets, c.num_targets, grads, NULL),
                 YL_ERR_INVALID_ARG);

    // A larger batch than the workspace was sized for.
    yl_detection_loss small;
    yl_detection_loss_config small_config = yl_detection_loss_default_config(2, c.nc, H, W, 4);
    CHECK_OK(yl_detection_loss_init(&small, &small_config));
    CHECK_STATUS(yl_detection_loss_compute(&small, c.heads, H, W, c.targets, c.num_targets, NULL, &r), YL_ERR_SHAPE);
    yl_detection_loss_free(&small);
    small_config.num_classes = 0;
    CHECK_STATUS(yl_detection_loss_init(&small, &small_config), YL_ERR_INVALID_ARG);

    free_grads(grads);
    yl_detection_loss_free(&loss);
    free_case(&c);
}

int main(void) {
    const char *cases[] = {"square", "wide", "crowd", "background"};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) test_parity(cases[i]);
    test_finite_differences("square");
    test_finite_differences("wide");
    test_finite_differences("background");
    test_zero_size_and_padding_rows();
    test_bad_input();
    return yl_test_finish("test_loss");
}
