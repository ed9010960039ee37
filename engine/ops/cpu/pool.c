// CPU max-pool (any kernel / stride / pad the dispatch layer accepts) and nearest upsample x2.
//
// Both work plane by plane: one thread owns an (n, c) plane, so results do not depend on the
// thread count. Max-pool follows PyTorch: padding acts as -inf (the window is clipped to the
// image), the first maximum in scan order wins, and a NaN wins over any number and over earlier
// NaNs. The backward recomputes each window's winner from x instead of storing indices (the op
// contract, backend.h).
//
// Winners are found in two passes, 2k comparisons per output instead of k^2: first, for every
// input row and output column, the winner of the row's segment (its first maximum); then, per
// output, the first row whose segment maximum is the window's. Scan order is row-major, so that
// row's first maximum is the window's first maximum in scan order, and the NaN rule composes
// the same way: the result equals scanning the whole window.
//
// Both passes run a whole row of output columns at once, one window offset after the other in
// scan order, with selects instead of branches: random data makes "is this the new maximum"
// unpredictable, and the branch-free loop vectorises over the columns (simd_dispatch.h).
#include <math.h>
#include <stdint.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "cpu_ops.h"
#include "simd_dispatch.h"
#include "vector_exp.h"

#define PARALLEL_MIN_ELEMENTS 32768
// Per-thread workspace slots start on 64-float (256-byte) boundaries.
#define WORKSPACE_ALIGN_FLOATS 64

typedef struct {
    int64_t planes, height, width, out_height, out_width;
    int kernel, stride, pad;
} pool_geometry;

static pool_geometry pool_geometry_of(const yl_tensor *x, const yl_tensor *y, const yl_maxpool2d_params *p) {
    return (pool_geometry){
        .planes = x->shape[0] * x->shape[1],
        .height = x->shape[2],
        .width = x->shape[3],
        .out_height = y->shape[2],
        .out_width = y->shape[3],
        .kernel = p->kernel,
        .stride = p->stride,
        .pad = p->pad,
    };
}

static inline int64_t max64(int64_t a, int64_t b) { return a > b ? a : b; }
static inline int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

static inline bool wins(float candidate, float best) { return (candidate > best) | isnan(candidate); }

// Per-thread scratch: the row pass's segment maxima and their columns (height x out_width each),
// one output row's winners and their plane indices, and for an accumulating backward one plane
// of gradient sums.
typedef struct {
    float *segment_max;
    int32_t *segment_column;
    float *row_max;
    int32_t *row_index;
    float *sums;
} pool_scratch;

static size_t aligned_floats(int64_t count) {
    return ((size_t)count + WORKSPACE_ALIGN_FLOATS - 1) / WORKSPACE_ALIGN_FLOATS * WORKSPACE_ALIGN_FLOATS;
}

static size_t scratch_floats(const pool_geometry *g, bool with_sums) {
    return 2 * aligned_floats(g->height * g->out_width) + 2 * aligned_floats(g->out_width) +
           (with_sums ? aligned_floats(g->height * g->width) : 0);
}

static pool_scratch scratch_slot(float *workspace, const pool_geometry *g, bool with_sums, int thread) {
    float *base = workspace + (size_t)thread * scratch_floats(g, with_sums);
    const size_t segments = aligned_floats(g->height * g->out_width), row = aligned_floats(g->out_width);
    return (pool_scratch){
        .segment_max = base,
        .segment_column = (int32_t *)(base + segments),
        .row_max = base + 2 * segments,
        .row_index = (int32_t *)(base + 2 * segments + row),
        .sums = with_sums ? base + 2 * segments + 2 * row : NULL,
    };
}

// Output columns [*first, *last) whose window column ow * stride - pad + kw lies in the row.
static void columns_reading(const pool_geometry *g, int kw, int64_t *first, int64_t *last) {
    const int64_t offset = kw - g->pad;  // input column of output column ow: ow * stride + offset
    int64_t lo = offset >= 0 ? 0 : (-offset + g->stride - 1) / g->stride;
    int64_t hi = g->width - offset <= 0 ? 0 : (g->width - offset + g->stride - 1) / g->stride;
    *first = min64(lo, g->out_width);
    *last = max64(min64(hi, g->out_width), *first);
}

// Row pass over one plane. pad <= kernel / 2 (checked by the dispatch layer) keeps every clipped
// window non-empty. A segment that holds only -inf keeps its first element, as PyTorch does.
YL_CPU_KERNEL_BODY segment_winners_body(const float *plane, const pool_geometry *g, float *segment_max,
                                        int32_t *segment_column) {
    for (int64_t h = 0; h < g->height; h++) {
        const float *row = plane + h * g->width;
        float *best = segment_max + h * g->out_width;
        int32_t *column = segment_column + h * g->out_width;
        for (int64_t ow = 0; ow < g->out_width; ow++) {
            best[ow] = -INFINITY;
            column[ow] = (int32_t)max64(ow * g->stride - g->pad, 0);
        }
        for (int kw = 0; kw < g->kernel; kw++) {
            int64_t first, last;
            columns_reading(g, kw, &first, &last);
            const int64_t offset = kw - g->pad;
            const int64_t stride = g->stride;
#pragma omp simd
            for (int64_t ow = first; ow < last; ow++) {
                const int32_t w = (int32_t)(ow * stride + offset);
                const float v = row[w];
                const bool take = wins(v, best[ow]);
                best[ow] = yl_cpu_select(take, v, best[ow]);
                column[ow] = take ? w : column[ow];
            }
        }
    }
}
YL_CPU_DISPATCH_STATIC(segment_winners,
                       (const float *plane, const pool_geometry *g, float *segment_max, int32_t *segment_column),
                       (plane, g, segment_max, segment_column))

// Column pass for output row oh: each output's maximum and the plane index of its winner.
YL_CPU_KERNEL_BODY row_winners_body(const pool_scratch *s, const pool_geometry *g, int64_t oh) {
    const int64_t h0 = oh * g->stride - g->pad;
    const int64_t h_begin = max64(h0, 0), h_end = min64(h0 + g->kernel, g->height);
    const int64_t out_width = g->out_width;
    float *best = s->row_max;
    int32_t *index = s->row_index;
    for (int64_t ow = 0; ow < out_width; ow++) {
        best[ow] = -INFINITY;
        index[ow] = (int32_t)(h_begin * g->width) + s->segment_column[h_begin * out_width + ow];
    }
    for (int64_t h = h_begin; h < h_end; h++) {
        const float *segment = s->segment_max + h * out_width;
        const int32_t *column = s->segment_column + h * out_width;
        const int32_t row_start = (int32_t)(h * g->width);
#pragma omp simd
        for (int64_t ow = 0; ow < out_width; ow++) {
            const float v = segment[ow];
            const bool take = wins(v, best[ow]);
            best[ow] = yl_cpu_select(take, v, best[ow]);
            index[ow] = take ? row_start + column[ow] : index[ow];
        }
    }
}
YL_CPU_DISPATCH_STATIC(row_winners, (const pool_scratch *s, const pool_geometry *g, int64_t oh), (s, g, oh))

// Winners are plane indices in int32 (half the scratch of int64, and as wide as a float lane).
static yl_status check_plane_size(const char *op, const pool_geometry *g) {
    if (g->height * g->width > INT32_MAX)
        return yl_error(YL_ERR_UNSUPPORTED, "%s: a %lld x %lld plane is too large for the CPU max-pool", op,
                        (long long)g->height, (long long)g->width);
    return YL_OK;
}

static int pool_threads(const pool_geometry *g) {
#ifdef _OPENMP
    if (g->planes * g->height * g->width >= PARALLEL_MIN_ELEMENTS) return omp_get_max_threads();
#endif
    (void)g;
    return 1;
}

static int thread_index(void) {
#ifdef _OPENMP
    return omp_get_thread_num();
#else
    return 0;
#endif
}

yl_status yl_cpu_maxpool2d_forward(yl_backend *be, const yl_tensor *x, yl_tensor *y, const yl_maxpool2d_params *p) {
    const pool_geometry g = pool_geometry_of(x, y, p);
    YL_TRY(check_plane_size("maxpool2d_forward", &g));
    const int64_t in_plane = g.height * g.width, out_plane = g.out_height * g.out_width;
    const int threads = pool_threads(&g);
    float *workspace;
    YL_TRY(yl_cpu_workspace(be, (size_t)threads * scratch_floats(&g, false) * sizeof(float), &workspace));
    const float *xd = x->data;
    float *yd = y->data;
#pragma omp parallel num_threads(threads)
    {
        const pool_scratch s = scratch_slot(workspace, &g, false, thread_index());
#pragma omp for schedule(static)
        for (int64_t pl = 0; pl < g.planes; pl++) {
            float *yp = yd + pl * out_plane;
            segment_winners(xd + pl * in_plane, &g, s.segment_max, s.segment_column);
            for (int64_t oh = 0; oh < g.out_height; oh++) {
                row_winners(&s, &g, oh);
                // The winner's value itself (a NaN keeps its payload).
                memcpy(yp + oh * g.out_width, s.row_max, (size_t)g.out_width * sizeof(float));
            }
        }
    }
    return YL_OK;
}

yl_status yl_cpu_maxpool2d_backward(yl_backend *be, const yl_tensor *x, const yl_tensor *dy, yl_tensor *dx,
                                    const yl_maxpool2d_params *p, bool accumulate) {
    const pool_geometry g = pool_geometry_of(x, dy, p);
    YL_TRY(check_plane_size("maxpool2d_backward", &g));
    const int64_t in_plane = g.height * g.width, out_plane = g.out_height * g.out_width;
    const int threads = pool_threads(&g);
    // Overlapping windows send several gradients to one element. To accumulate exactly (old
    // value plus the finished sum, as the contract promises) the sum is formed in a scratch
    // plane first; overwriting can sum in place.
    float *workspace;
    YL_TRY(yl_cpu_workspace(be, (size_t)threads * scratch_floats(&g, accumulate) * sizeof(float), &workspace));
    const float *xd = x->data, *dyd = dy->data;
    float *dxd = dx->data;
#pragma omp parallel num_threads(threads)
    {
        const pool_scratch s = scratch_slot(workspace, &g, accumulate, thread_index());
#pragma omp for schedule(static)
        for (int64_t pl = 0; pl < g.planes; pl++) {
            const float *dyp = dyd + pl * out_plane;
            float *dxp = dxd + pl * in_plane;
            float *sums = accumulate ? s.sums : dxp;
            segment_winners(xd + pl * in_plane, &g, s.segment_max, s.segment_column);
            memset(sums, 0, (size_t)in_plane * sizeof(float));
            for (int64_t oh = 0; oh < g.out_height; oh++) {
                row_winners(&s, &g, oh);
                const float *dy_row = dyp + oh * g.out_width;
                for (int64_t ow = 0; ow < g.out_width; ow++) sums[s.row_index[ow]] += dy_row[ow];
            }
            if (accumulate)
                for (int64_t i = 0; i < in_plane; i++) dxp[i] += sums[i];
        }
    }
    return YL_OK;
}

// ---- nearest upsample x2 ----------------------------------------------------------------------

yl_status yl_cpu_upsample_nearest2x_forward(yl_backend *be, const yl_tensor *x, yl_tensor *y) {
    (void)be;
    const int64_t planes = x->shape[0] * x->shape[1], h = x->shape[2], w = x->shape[3];
    const float *xd = x->data;
    float *yd = y->data;
#pragma omp parallel for schedule(static) if (planes * h * w * 4 >= PARALLEL_MIN_ELEMENTS)
    for (int64_t pl = 0; pl < planes; pl++) {
        const float *xp = xd + pl * h * w;
        float *yp = yd + pl * 4 * h * w;
        for (int64_t i = 0; i < 2 * h; i++) {
            const float *row = xp + (i / 2) * w;
            float *out = yp + i * 2 * w;
            for (int64_t j = 0; j < 2 * w; j++) out[j] = row[j / 2];
        }
    }
    return YL_OK;
}

yl_status yl_cpu_upsample_nearest2x_backward(yl_backend *be, const yl_tensor *dy, yl_tensor *dx, bool accumulate) {
    (void)be;
    const int64_t planes = dx->shape[0] * dx->shape[1], h = dx->shape[2], w = dx->shape[3];
    const float *dyd = dy->data;
    float *dxd = dx->data;
#pragma omp parallel for schedule(static) if (planes * h * w * 4 >= PARALLEL_MIN_ELEMENTS)
    for (int64_t pl = 0; pl < planes; pl++) {
        const float *dyp = dyd + pl * 4 * h * w;
        float *dxp = dxd + pl * h * w;
        for (int64_t i = 0; i < h; i++) {
            const float *top = dyp + (2 * i) * 2 * w, *bottom = top + 2 * w;
            float *out = dxp + i * w;
            for (int64_t j = 0; j < w; j++) {
                const float v = (top[2 * j] + top[2 * j + 1]) + (bottom[2 * j] + bottom[2 * j + 1]);
                out[j] = accumulate ? out[j] + v : v;
            }
        }
    }
    return YL_OK;
}
