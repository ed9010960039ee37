// CPU max-pool (any kernel / stride / pad the dispatch layer accepts) and nearest upsample x2.
//
// Both work plane by plane: one thread owns an (n, c) plane, so results do not depend on the
// thread count. Max-pool follows PyTorch: padding acts as -inf (the window is clipped to the
// image), the first maximum in scan order wins, and a NaN wins over any number and over earlier
// NaNs. The backward recomputes each window's winner from x instead of storing indices.
//
// Winners are found in two passes, 2k comparisons per output instead of k^2: first, for every
// input row and output column, the winner of the row's segment (its first maximum); then, per
// output, the first row whose segment maximum is the window's. Scan order is row-major, so that
// row's first maximum is the window's first maximum in scan order, and the NaN rule composes
// the same way: the result equals scanning the whole window.
#include <math.h>
#include <stdint.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "cpu_ops.h"

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

static inline bool wins(float candidate, float best) { return candidate > best || isnan(candidate); }

// Per-thread scratch: the row pass's segment maxima and their columns (height x out_width each),
// and for an accumulating backward one plane of gradient sums.
typedef struct {
    float *segment_max;
    int32_t *segment_column;
    float *sums;
} pool_scratch;

static size_t aligned_floats(int64_t count) {
    return ((size_t)count + WORKSPACE_ALIGN_FLOATS - 1) / WORKSPACE_ALIGN_FLOATS * WORKSPACE_ALIGN_FLOATS;
}

static size_t scratch_floats(const pool_geometry *g, bool with_sums) {
    const int64_t segments = g->height * g->out_width;
    return 2 * aligned_floats(segments) + (with_sums ? aligned_floats(g->height * g->width) : 0);
}

static pool_scratch scratch_slot(float *workspace, const pool_geometry *g, bool with_sums, int thread) {
    float *base = workspace + (size_t)thread * scratch_floats(g, with_sums);
    const size_t segments = aligned_floats(g->height * g->out_width);
    return (pool_scratch){base, (int32_t *)(base + segments), with_sums ? base + 2 * segments : NULL};
}

// Row pass over one plane. pad <= kernel / 2 (checked by the dispatch layer) keeps every clipped
// window non-empty.
static void segment_winners(const float *plane, const pool_geometry *g, float *segment_max, int32_t *segment_column) {
    for (int64_t h = 0; h < g->height; h++) {
        const float *row = plane + h * g->width;
        for (int64_t ow = 0; ow < g->out_width; ow++) {
            const int64_t w0 = ow * g->stride - g->pad;
            const int64_t w_begin = max64(w0, 0), w_end = min64(w0 + g->kernel, g->width);
            float best = -INFINITY;
            int64_t column = w_begin;  // an all -inf segment keeps its first element, as PyTorch
            for (int64_t w = w_begin; w < w_end; w++)
                if (wins(row[w], best)) best = row[w], column = w;
            segment_max[h * g->out_width + ow] = best;
            segment_column[h * g->out_width + ow] = (int32_t)column;
        }
    }
}

// Column pass: the plane index of output (oh, ow)'s winner.
static int64_t window_winner(const pool_scratch *s, const pool_geometry *g, int64_t oh, int64_t ow) {
    const int64_t h0 = oh * g->stride - g->pad;
    const int64_t h_begin = max64(h0, 0), h_end = min64(h0 + g->kernel, g->height);
    float best = -INFINITY;
    int64_t best_row = h_begin;
    for (int64_t h = h_begin; h < h_end; h++) {
        const float v = s->segment_max[h * g->out_width + ow];
        if (wins(v, best)) best = v, best_row = h;
    }
    return best_row * g->width + s->segment_column[best_row * g->out_width + ow];
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
            const float *xp = xd + pl * in_plane;
            float *yp = yd + pl * out_plane;
            segment_winners(xp, &g, s.segment_max, s.segment_column);
            for (int64_t oh = 0; oh < g.out_height; oh++)
                for (int64_t ow = 0; ow < g.out_width; ow++)
                    yp[oh * g.out_width + ow] = xp[window_winner(&s, &g, oh, ow)];
        }
    }
    return YL_OK;
}

yl_status yl_cpu_maxpool2d_backward(yl_backend *be, const yl_tensor *x, const yl_tensor *dy, yl_tensor *dx,
                                    const yl_maxpool2d_params *p, bool accumulate) {
    const pool_geometry g = pool_geometry_of(x, dy, p);
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
            for (int64_t oh = 0; oh < g.out_height; oh++)
                for (int64_t ow = 0; ow < g.out_width; ow++)
                    sums[window_winner(&s, &g, oh, ow)] += dyp[oh * g.out_width + ow];
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
