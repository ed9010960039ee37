// concat_channels and split_channels on the CPU backend, through the public yl_* API:
// - both directions against naive index loops, bit for bit, for 1..4 parts, odd sizes, batch > 1;
// - each as the other's backward: finite differences of L = sum(out * r);
// - accumulate = true equals overwrite plus old contents bit for bit; stale NaNs do not leak;
//   parts that are views into the whole stay as they are; results repeat with 1 and 2 threads;
// - bad arguments (channel sum, spatial or batch mismatch, NULL, dtype, rank) give the right
//   status and a message.
#include <stdint.h>

#include "engine/core/threads.h"
#include "test_common.h"

// Inputs are multiples of 2^-10 in [-4, 4) and eps = 2^-6, so x +- eps is exact in fp32 and the
// ops only copy: finite differences are exact up to the double sum of L (~1e-12).
#define FD_EPS 0.015625f
#define FD_TOLERANCE 1e-6
#define FD_FLOOR 0.1
#define FD_CHECKS 40
#define MAX_PARTS 4

static double worst_fd = 0.0;

static float *random_dyadic(yl_rng *rng, size_t n) {
    float *p = yl_test_alloc(n);
    for (size_t i = 0; i < n; i++) p[i] = ((float)yl_rng_below(rng, 8192) - 4096.0f) / 1024.0f;
    return p;
}

typedef struct {
    int n, h, w, count;
    int channels[MAX_PARTS];
} concat_case;

typedef struct {
    concat_case k;
    int total;  // channels of the whole
    size_t whole_size, part_size[MAX_PARTS];
    float *whole, *part[MAX_PARTS];
    yl_tensor whole_t, part_t[MAX_PARTS];
    const yl_tensor *part_in[MAX_PARTS];  // for concat
    yl_tensor *part_out[MAX_PARTS];       // for split
} concat_buffers;

static void bind(concat_buffers *b, float *whole, float *const *parts) {
    b->whole = whole;
    b->whole_t = yl_tensor_4d(whole, YL_DEVICE_CPU, b->k.n, b->total, b->k.h, b->k.w);
    for (int i = 0; i < b->k.count; i++) {
        b->part[i] = parts[i];
        b->part_t[i] = yl_tensor_4d(parts[i], YL_DEVICE_CPU, b->k.n, b->k.channels[i], b->k.h, b->k.w);
        b->part_in[i] = &b->part_t[i];
        b->part_out[i] = &b->part_t[i];
    }
}

// Filled in place: the tensor pointer arrays point into the struct itself.
static void make_buffers(concat_buffers *b, concat_case k) {
    *b = (concat_buffers){.k = k};
    for (int i = 0; i < k.count; i++) b->total += k.channels[i];
    b->whole_size = (size_t)k.n * b->total * k.h * k.w;
    float *parts[MAX_PARTS];
    for (int i = 0; i < k.count; i++) {
        b->part_size[i] = (size_t)k.n * k.channels[i] * k.h * k.w;
        parts[i] = yl_test_alloc(b->part_size[i]);
    }
    bind(b, yl_test_alloc(b->whole_size), parts);
}

static void free_buffers(concat_buffers *b) {
    free(b->whole);
    for (int i = 0; i < b->k.count; i++) free(b->part[i]);
}

// Index in the whole of element (n, c, pixel) of part p.
static size_t whole_index(const concat_buffers *b, int p, int n, int c, int pixel) {
    int offset = 0;
    for (int i = 0; i < p; i++) offset += b->k.channels[i];
    const size_t plane = (size_t)b->k.h * b->k.w;
    return ((size_t)n * b->total + (size_t)(offset + c)) * plane + (size_t)pixel;
}

// Number of elements where whole and parts disagree.
static size_t count_layout_mismatches(const concat_buffers *b) {
    size_t bad = 0;
    const int plane = b->k.h * b->k.w;
    for (int p = 0; p < b->k.count; p++)
        for (int n = 0; n < b->k.n; n++)
            for (int c = 0; c < b->k.channels[p]; c++)
                for (int i = 0; i < plane; i++) {
                    float part = b->part[p][((size_t)n * b->k.channels[p] + c) * plane + i];
                    if (memcmp(&part, &b->whole[whole_index(b, p, n, c, i)], sizeof part) != 0) bad++;
                }
    return bad;
}

typedef struct {
    yl_engine *eng;
    concat_buffers *out;  // buffers the op writes: whole (concat) or parts (split)
    const concat_buffers *in;
    bool concat;
    float *const *r;  // per output tensor: r[0] for the whole, r[i] for part i
} copy_loss;

static double copy_loss_fn(void *opaque) {
    copy_loss *ctx = opaque;
    if (ctx->concat) {
        if (yl_concat_channels(ctx->eng, ctx->in->part_in, ctx->in->k.count, &ctx->out->whole_t, false) != YL_OK)
            return NAN;
        return yl_test_dot(ctx->out->whole, ctx->r[0], ctx->out->whole_size);
    }
    if (yl_split_channels(ctx->eng, &ctx->in->whole_t, ctx->out->part_out, ctx->in->k.count, false) != YL_OK)
        return NAN;
    double l = 0.0;
    for (int i = 0; i < ctx->in->k.count; i++) l += yl_test_dot(ctx->out->part[i], ctx->r[i], ctx->out->part_size[i]);
    return l;
}

static void check_case(yl_engine *eng, yl_rng *rng, concat_case k) {
    char name[96];
    int used = snprintf(name, sizeof name, "N%d %dx%d parts", k.n, k.h, k.w);
    for (int i = 0; i < k.count; i++) used += snprintf(name + used, sizeof name - (size_t)used, " %d", k.channels[i]);
    concat_buffers a, b;  // a: inputs, b: outputs
    make_buffers(&a, k);
    make_buffers(&b, k);
    for (int i = 0; i < k.count; i++) {
        free(a.part[i]);
        a.part[i] = random_dyadic(rng, a.part_size[i]);
    }
    free(a.whole);
    a.whole = random_dyadic(rng, a.whole_size);
    bind(&a, a.whole, a.part);

    // concat(a.parts) -> b.whole
    yl_test_fill_nan(b.whole, b.whole_size);
    CHECK_OK(yl_concat_channels(eng, a.part_in, k.count, &b.whole_t, false));
    concat_buffers check = b;
    for (int i = 0; i < k.count; i++) check.part[i] = a.part[i];
    size_t bad = count_layout_mismatches(&check);
    CHECK(bad == 0, "%s: concat misplaces %zu of %zu elements", name, bad, b.whole_size);

    // split(a.whole) -> b.parts
    for (int i = 0; i < k.count; i++) yl_test_fill_nan(b.part[i], b.part_size[i]);
    CHECK_OK(yl_split_channels(eng, &a.whole_t, b.part_out, k.count, false));
    check = b;
    check.whole = a.whole;
    bad = count_layout_mismatches(&check);
    CHECK(bad == 0, "%s: split misplaces %zu of %zu elements", name, bad, a.whole_size);

    // Finite differences. concat's backward is split of dwhole = r; split's is concat of r_i.
    concat_buffers grad;
    make_buffers(&grad, k);
    float *r_whole = random_dyadic(rng, a.whole_size);
    float *r_parts[MAX_PARTS];
    for (int i = 0; i < k.count; i++) r_parts[i] = random_dyadic(rng, a.part_size[i]);
    yl_tensor r_whole_t = a.whole_t;
    r_whole_t.data = r_whole;
    CHECK_OK(yl_split_channels(eng, &r_whole_t, grad.part_out, k.count, false));  // d parts of concat
    copy_loss ctx = {.eng = eng, .out = &b, .in = &a, .concat = true, .r = &r_whole};
    for (int i = 0; i < k.count; i++) {
        char label[160];
        snprintf(label, sizeof label, "concat %s d part %d", name, i);
        double fd = yl_test_gradient_error(label, a.part[i], a.part_size[i], grad.part[i], copy_loss_fn, &ctx, FD_EPS,
                                           FD_CHECKS, FD_FLOOR);
        CHECK(fd <= FD_TOLERANCE, "%s: concat d part %d vs finite differences %.3e", name, i, fd);
        worst_fd = fmax(worst_fd, fd);
    }
    concat_buffers r_in;
    make_buffers(&r_in, k);
    for (int i = 0; i < k.count; i++) memcpy(r_in.part[i], r_parts[i], a.part_size[i] * sizeof(float));
    CHECK_OK(yl_concat_channels(eng, r_in.part_in, k.count, &grad.whole_t, false));  // d whole of split
    copy_loss split_ctx = {.eng = eng, .out = &b, .in = &a, .concat = false, .r = r_parts};
    char label[160];
    snprintf(label, sizeof label, "split %s d whole", name);
    double fd = yl_test_gradient_error(label, a.whole, a.whole_size, grad.whole, copy_loss_fn, &split_ctx, FD_EPS,
                                       FD_CHECKS, FD_FLOOR);
    CHECK(fd <= FD_TOLERANCE, "%s: split d whole vs finite differences %.3e", name, fd);
    worst_fd = fmax(worst_fd, fd);

    // accumulate in both directions.
    float *prev = yl_test_random(rng, a.whole_size, -2.0f, 2.0f);
    memcpy(b.whole, prev, a.whole_size * sizeof(float));
    CHECK_OK(yl_concat_channels(eng, r_in.part_in, k.count, &b.whole_t, true));
    bad = yl_test_count_inexact_accumulation(b.whole, grad.whole, prev, a.whole_size);
    CHECK(bad == 0, "%s: concat accumulate differs from overwrite + previous at %zu places", name, bad);
    concat_buffers prev_parts;
    make_buffers(&prev_parts, k);
    for (int i = 0; i < k.count; i++) {
        yl_rng_fill_uniform(rng, prev_parts.part[i], a.part_size[i], -2.0f, 2.0f);
        memcpy(b.part[i], prev_parts.part[i], a.part_size[i] * sizeof(float));
    }
    CHECK_OK(yl_split_channels(eng, &r_whole_t, b.part_out, k.count, true));
    bad = 0;
    for (int i = 0; i < k.count; i++)
        bad += yl_test_count_inexact_accumulation(b.part[i], grad.part[i], prev_parts.part[i], a.part_size[i]);
    CHECK(bad == 0, "%s: split accumulate differs from overwrite + previous at %zu places", name, bad);

    // One thread gives the same bits.
    int threads = yl_get_num_threads();
    yl_set_num_threads(1);
    yl_test_fill_nan(b.whole, b.whole_size);
    CHECK_OK(yl_concat_channels(eng, r_in.part_in, k.count, &b.whole_t, false));
    CHECK(memcmp(b.whole, grad.whole, b.whole_size * sizeof(float)) == 0, "%s: concat differs with 1 thread", name);
    yl_set_num_threads(threads);

    free(r_whole), free(prev);
    for (int i = 0; i < k.count; i++) free(r_parts[i]);
    free_buffers(&a), free_buffers(&b), free_buffers(&grad), free_buffers(&r_in), free_buffers(&prev_parts);
}

// With batch 1 a part can be a view straight into the whole (C2f's split of cv1's output):
// splitting or concatenating then leaves the data as it is.
static void check_views(yl_engine *eng, yl_rng *rng) {
    const int channels[2] = {3, 5}, h = 4, w = 5;
    float *whole = random_dyadic(rng, (size_t)8 * h * w), *copy = yl_test_alloc((size_t)8 * h * w);
    memcpy(copy, whole, (size_t)8 * h * w * sizeof(float));
    yl_tensor whole_t = yl_tensor_4d(whole, YL_DEVICE_CPU, 1, 8, h, w);
    yl_tensor p0 = yl_tensor_4d(whole, YL_DEVICE_CPU, 1, channels[0], h, w);
    yl_tensor p1 = yl_tensor_4d(whole + channels[0] * h * w, YL_DEVICE_CPU, 1, channels[1], h, w);
    yl_tensor *parts[2] = {&p0, &p1};
    CHECK_OK(yl_split_channels(eng, &whole_t, parts, 2, false));
    CHECK_OK(yl_concat_channels(eng, (const yl_tensor *const *)parts, 2, &whole_t, false));
    CHECK(memcmp(whole, copy, (size_t)8 * h * w * sizeof(float)) == 0, "views into the whole were changed");
    free(whole), free(copy);
}

static void check_bad_arguments(yl_engine *eng) {
    float *bw = yl_test_alloc(2048), *b0 = yl_test_alloc(1024), *b1 = yl_test_alloc(1024);
    yl_tensor whole = yl_tensor_4d(bw, YL_DEVICE_CPU, 2, 5, 5, 7);
    yl_tensor p0 = yl_tensor_4d(b0, YL_DEVICE_CPU, 2, 2, 5, 7), p1 = yl_tensor_4d(b1, YL_DEVICE_CPU, 2, 3, 5, 7);
    const yl_tensor *in[2] = {&p0, &p1};
    yl_tensor *out[2] = {&p0, &p1};
    CHECK_OK(yl_concat_channels(eng, in, 2, &whole, false));
    CHECK_OK(yl_split_channels(eng, &whole, out, 2, true));

    yl_tensor whole_6 = yl_tensor_4d(bw, YL_DEVICE_CPU, 2, 6, 5, 7),
              whole_4 = yl_tensor_4d(bw, YL_DEVICE_CPU, 2, 4, 5, 7);
    CHECK_STATUS(yl_concat_channels(eng, in, 2, &whole_6, false), YL_ERR_SHAPE);
    CHECK_STATUS(yl_split_channels(eng, &whole_4, out, 2, false), YL_ERR_SHAPE);
    CHECK_STATUS(yl_concat_channels(eng, in, 1, &whole, false), YL_ERR_SHAPE);  // 2 of 5 channels
    yl_tensor p1_size = yl_tensor_4d(b1, YL_DEVICE_CPU, 2, 3, 7, 5),
              p1_batch = yl_tensor_4d(b1, YL_DEVICE_CPU, 1, 3, 5, 7);
    const yl_tensor *in_size[2] = {&p0, &p1_size}, *in_batch[2] = {&p0, &p1_batch};
    yl_tensor *out_size[2] = {&p0, &p1_size};
    CHECK_STATUS(yl_concat_channels(eng, in_size, 2, &whole, false), YL_ERR_SHAPE);
    CHECK_STATUS(yl_concat_channels(eng, in_batch, 2, &whole, false), YL_ERR_SHAPE);
    CHECK_STATUS(yl_split_channels(eng, &whole, out_size, 2, false), YL_ERR_SHAPE);

    const yl_tensor *in_null[2] = {&p0, NULL};
    CHECK_STATUS(yl_concat_channels(eng, in_null, 2, &whole, false), YL_ERR_INVALID_ARG);
    CHECK_STATUS(yl_concat_channels(eng, NULL, 2, &whole, false), YL_ERR_INVALID_ARG);
    CHECK_STATUS(yl_concat_channels(eng, in, 0, &whole, false), YL_ERR_INVALID_ARG);
    CHECK_STATUS(yl_concat_channels(eng, in, 2, NULL, false), YL_ERR_INVALID_ARG);
    CHECK_STATUS(yl_split_channels(eng, NULL, out, 2, false), YL_ERR_INVALID_ARG);
    CHECK_STATUS(yl_split_channels(eng, &whole, NULL, 2, false), YL_ERR_INVALID_ARG);
    CHECK_STATUS(yl_split_channels(eng, &whole, out, -1, false), YL_ERR_INVALID_ARG);
    CHECK_STATUS(yl_split_channels(NULL, &whole, out, 2, false), YL_ERR_INVALID_ARG);

    yl_tensor p1_f16 = p1, whole_3d = yl_tensor_3d(bw, YL_DEVICE_CPU, 10, 5, 7);
    p1_f16.dtype = YL_F16;
    const yl_tensor *in_f16[2] = {&p0, &p1_f16};
    CHECK_STATUS(yl_concat_channels(eng, in_f16, 2, &whole, false), YL_ERR_DTYPE);
    CHECK_STATUS(yl_split_channels(eng, &whole_3d, out, 2, false), YL_ERR_SHAPE);

    // More parts than the backend keeps on its stack.
    enum { MANY = 65 };
    yl_tensor single[MANY];
    const yl_tensor *many[MANY];
    float *bm = yl_test_alloc((size_t)MANY * 2);
    for (int i = 0; i < MANY; i++) single[i] = yl_tensor_4d(bm + i, YL_DEVICE_CPU, 1, 1, 1, 1), many[i] = &single[i];
    yl_tensor whole_many = yl_tensor_4d(bm + MANY, YL_DEVICE_CPU, 1, MANY, 1, 1);
    CHECK_STATUS(yl_concat_channels(eng, many, MANY, &whole_many, false), YL_ERR_UNSUPPORTED);
    yl_tensor whole_64 = yl_tensor_4d(bm + MANY, YL_DEVICE_CPU, 1, 64, 1, 1);
    CHECK_OK(yl_concat_channels(eng, many, 64, &whole_64, false));
    free(bw), free(b0), free(b1), free(bm);
}

int main(void) {
    yl_engine eng = yl_test_cpu_engine();
    yl_rng rng;
    yl_rng_seed(&rng, 20240605, 19);
    const concat_case cases[] = {
        // {N, H, W, parts, channels...}
        {1, 5, 7, 1, {3}},
        {2, 5, 7, 3, {1, 2, 3}},
        {3, 3, 3, 2, {4, 4}},
        {2, 13, 11, 4, {2, 1, 1, 3}},
        {1, 1, 1, 2, {1, 1}},
        {2, 20, 21, 4, {16, 16, 8, 8}},  // large enough for the parallel loop
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) check_case(&eng, &rng, cases[i]);
    check_views(&eng, &rng);
    printf("max finite-difference error %.2e (eps 2^-6 on dyadic inputs, tolerance %.0e, floor %.1f)\n", worst_fd,
           FD_TOLERANCE, FD_FLOOR);
    check_bad_arguments(&eng);
    yl_engine_release(&eng);
    return yl_test_finish("test_concat");
}
