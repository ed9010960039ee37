// Box decode (Detect inference): dist (B, 4, A) distances (l, t, r, b) in grid units from each
// anchor become boxes (B, 4, A) = (cx, cy, w, h) in pixels. Same float operations, in the same
// order, as the CPU op (and Ultralytics' dist2bbox): none of them can be contracted into an FMA,
// so CPU and GPU agree bit for bit.
//
// One thread per (b, a): neighbouring threads take neighbouring anchors, so the four row reads
// and writes are coalesced. The level of an anchor is found by scanning the (at most 4) level
// offsets passed by value.
#include "cuda_internal.h"
#include "cuda_ops.h"
#include "launch_config.cuh"

struct box_levels {
    int levels;
    long long first[YL_BOX_DECODE_MAX_LEVELS + 1];  // anchor offset of each level; first[levels] = A
    int width[YL_BOX_DECODE_MAX_LEVELS];
    float stride[YL_BOX_DECODE_MAX_LEVELS];
};

template <typename Index>
__global__ void box_decode_kernel(const float *dist, float *boxes, box_levels g, Index A, Index items) {
    for (Index t = (Index)blockIdx.x * blockDim.x + threadIdx.x; t < items; t += (Index)gridDim.x * blockDim.x) {
        const Index b = t / A, a = t % A;
        int l = 0;
        while (l + 1 < g.levels && a >= (Index)g.first[l + 1]) l++;
        const Index i = a - (Index)g.first[l];
        const float ax = (float)(i % g.width[l]) + 0.5f, ay = (float)(i / g.width[l]) + 0.5f;
        const float *src = dist + b * 4 * A + a;
        float *dst = boxes + b * 4 * A + a;
        const float x1 = ax - src[0], y1 = ay - src[A];
        const float x2 = ax + src[2 * A], y2 = ay + src[3 * A];
        const float stride = g.stride[l];
        dst[0] = (x1 + x2) / 2.0f * stride;
        dst[A] = (y1 + y2) / 2.0f * stride;
        dst[2 * A] = (x2 - x1) * stride;
        dst[3 * A] = (y2 - y1) * stride;
    }
}

extern "C" yl_status yl_cuda_box_decode_forward(yl_backend *be, const yl_tensor *dist, yl_tensor *boxes,
                                                const yl_box_decode_params *p) {
    box_levels g = {};
    g.levels = p->levels;
    for (int l = 0; l < p->levels; l++) {
        g.first[l + 1] = g.first[l] + (long long)p->height[l] * p->width[l];
        g.width[l] = p->width[l];
        g.stride[l] = p->stride[l];
    }
    const int64_t A = dist->shape[2], items = dist->shape[0] * A;
    const unsigned blocks = yl_grid_blocks(items, YL_ELEMENTWISE_THREADS);
    cudaStream_t stream = yl_cuda_state_of(be)->stream;
    if (yl_fits_int32(yl_tensor_numel(dist)))
        box_decode_kernel<int32_t><<<blocks, YL_ELEMENTWISE_THREADS, 0, stream>>>(
            (const float *)dist->data, (float *)boxes->data, g, (int32_t)A, (int32_t)items);
    else
        box_decode_kernel<int64_t><<<blocks, YL_ELEMENTWISE_THREADS, 0, stream>>>(
            (const float *)dist->data, (float *)boxes->data, g, A, items);
    YL_CUDA_CHECK_LAUNCH("box_decode_forward");
    return YL_OK;
}
