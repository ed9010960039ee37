// box_decode_forward on the CPU against a double-precision reference of Ultralytics' dist2bbox
// (xywh) times stride, over level layouts with odd grids, 1 to 4 levels and batch > 1; then bad
// input through the public op.
#include "tests/test_common.h"

// boxes[b, :, a] from dist[b, :, a] for the anchors of p's levels, in double.
static void reference(const float *dist, double *boxes, int64_t batch, int64_t anchors, const yl_box_decode_params *p) {
    for (int64_t b = 0; b < batch; b++) {
        int64_t a = 0;
        for (int l = 0; l < p->levels; l++)
            for (int y = 0; y < p->height[l]; y++)
                for (int x = 0; x < p->width[l]; x++, a++) {
                    const float *d = dist + b * 4 * anchors + a;
                    double *o = boxes + b * 4 * anchors + a;
                    double x1 = x + 0.5 - d[0], y1 = y + 0.5 - d[anchors];
                    double x2 = x + 0.5 + d[2 * anchors], y2 = y + 0.5 + d[3 * anchors];
                    o[0] = (x1 + x2) / 2 * p->stride[l];
                    o[anchors] = (y1 + y2) / 2 * p->stride[l];
                    o[2 * anchors] = (x2 - x1) * p->stride[l];
                    o[3 * anchors] = (y2 - y1) * p->stride[l];
                }
    }
}

static int64_t anchors_of(const yl_box_decode_params *p) {
    int64_t n = 0;
    for (int l = 0; l < p->levels; l++) n += (int64_t)p->height[l] * p->width[l];
    return n;
}

static void check_case(yl_engine *eng, yl_rng *rng, int64_t batch, const yl_box_decode_params *p) {
    const int64_t anchors = anchors_of(p), n = batch * 4 * anchors;
    float *dist = yl_test_random(rng, (size_t)n, 0.0f, 15.0f), *out = yl_test_alloc((size_t)n);
    double *ref = calloc((size_t)n, sizeof *ref);
    yl_tensor d = yl_tensor_3d(dist, YL_DEVICE_CPU, batch, 4, anchors), o = yl_tensor_3d(out, YL_DEVICE_CPU, batch, 4, anchors);
    CHECK_OK(yl_box_decode_forward(eng, &d, &o, p));
    reference(dist, ref, batch, anchors, p);
    double worst = 0.0, scale = 0.0;
    for (int64_t i = 0; i < n; i++) {
        worst = fmax(worst, fabs(out[i] - ref[i]));
        scale = fmax(scale, fabs(ref[i]));
    }
    printf("  B=%lld levels=%d A=%lld: max rel err %.3e\n", (long long)batch, p->levels, (long long)anchors,
           worst / scale);
    CHECK(worst / scale < 1e-6, "box decode differs from the reference: %.3e", worst / scale);
    // Spot check one anchor by hand: level 0, anchor (x=1, y=0) when the grid is wide enough.
    if (p->width[0] > 1) {
        const float l = dist[1], t = dist[anchors + 1], r = dist[2 * anchors + 1], b = dist[3 * anchors + 1];
        const float s = p->stride[0];
        CHECK(fabsf(out[1] - (1.5f + (r - l) / 2) * s) < 1e-4f * s * 16, "cx of anchor (1, 0)");
        CHECK(fabsf(out[3 * anchors + 1] - (t + b) * s) < 1e-4f * s * 16, "h of anchor (1, 0)");
    }
    free(dist), free(out), free(ref);
}

static void test_bad_input(yl_engine *eng) {
    float buf[4 * 10] = {0}, big[8 * 10] = {0};
    yl_box_decode_params p = {.levels = 2, .height = {2, 1}, .width = {4, 2}, .stride = {8, 16}};
    yl_tensor d = yl_tensor_3d(buf, YL_DEVICE_CPU, 1, 4, 10), o = yl_tensor_3d(big, YL_DEVICE_CPU, 1, 4, 10);
    CHECK_OK(yl_box_decode_forward(eng, &d, &o, &p));
    CHECK_STATUS(yl_box_decode_forward(NULL, &d, &o, &p), YL_ERR_INVALID_ARG);
    CHECK_STATUS(yl_box_decode_forward(eng, NULL, &o, &p), YL_ERR_INVALID_ARG);
    CHECK_STATUS(yl_box_decode_forward(eng, &d, NULL, &p), YL_ERR_INVALID_ARG);
    CHECK_STATUS(yl_box_decode_forward(eng, &d, &o, NULL), YL_ERR_INVALID_ARG);
    yl_tensor wrong_rows = yl_tensor_3d(big, YL_DEVICE_CPU, 1, 8, 10);
    CHECK_STATUS(yl_box_decode_forward(eng, &wrong_rows, &wrong_rows, &p), YL_ERR_SHAPE);
    yl_tensor other = yl_tensor_3d(big, YL_DEVICE_CPU, 2, 4, 10);
    CHECK_STATUS(yl_box_decode_forward(eng, &d, &other, &p), YL_ERR_SHAPE);
    yl_tensor four = yl_tensor_4d(buf, YL_DEVICE_CPU, 1, 4, 10, 1);
    CHECK_STATUS(yl_box_decode_forward(eng, &four, &four, &p), YL_ERR_SHAPE);
    yl_box_decode_params q = p;
    q.width[1] = 3;  // 11 anchors, the tensors have 10
    CHECK_STATUS(yl_box_decode_forward(eng, &d, &o, &q), YL_ERR_SHAPE);
    q = p, q.levels = 0;
    CHECK_STATUS(yl_box_decode_forward(eng, &d, &o, &q), YL_ERR_INVALID_ARG);
    q = p, q.levels = YL_BOX_DECODE_MAX_LEVELS + 1;
    CHECK_STATUS(yl_box_decode_forward(eng, &d, &o, &q), YL_ERR_INVALID_ARG);
    q = p, q.stride[1] = 0.0f;
    CHECK_STATUS(yl_box_decode_forward(eng, &d, &o, &q), YL_ERR_INVALID_ARG);
    q = p, q.stride[0] = NAN;
    CHECK_STATUS(yl_box_decode_forward(eng, &d, &o, &q), YL_ERR_INVALID_ARG);
    q = p, q.height[0] = 0, q.width[1] = 10;
    CHECK_STATUS(yl_box_decode_forward(eng, &d, &o, &q), YL_ERR_INVALID_ARG);
    yl_tensor ints = d;
    ints.dtype = YL_I32;
    CHECK_STATUS(yl_box_decode_forward(eng, &ints, &o, &p), YL_ERR_DTYPE);
}

int main(void) {
    yl_engine eng = yl_test_cpu_engine();
    yl_rng rng;
    yl_rng_seed(&rng, 4242, 3);
    printf("box_decode_forward (CPU) vs double reference\n");
    const yl_box_decode_params yolo = {.levels = 3, .height = {8, 4, 2}, .width = {12, 6, 3}, .stride = {8, 16, 32}};
    const yl_box_decode_params odd = {.levels = 3, .height = {5, 3, 1}, .width = {7, 1, 9}, .stride = {8, 16, 32}};
    const yl_box_decode_params one = {.levels = 1, .height = {1}, .width = {1}, .stride = {4}};
    const yl_box_decode_params four = {.levels = 4, .height = {3, 2, 2, 1}, .width = {5, 3, 1, 1},
                                       .stride = {4, 8.5f, 16, 64}};
    const yl_box_decode_params big = {.levels = 3, .height = {40, 20, 10}, .width = {40, 20, 10}, .stride = {8, 16, 32}};
    check_case(&eng, &rng, 2, &yolo);
    check_case(&eng, &rng, 3, &odd);
    check_case(&eng, &rng, 1, &one);
    check_case(&eng, &rng, 5, &four);
    check_case(&eng, &rng, 4, &big);  // large enough for the OpenMP path
    test_bad_input(&eng);
    yl_engine_release(&eng);
    return yl_test_finish("test_box_decode");
}
