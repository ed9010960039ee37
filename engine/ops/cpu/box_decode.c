// CPU box decode (Detect inference): per anchor, distances (l, t, r, b) in grid units become a
// (cx, cy, w, h) box in pixels. Float operations in the order Ultralytics' dist2bbox and the
// stride multiply use, so results agree bit for bit with a float32 PyTorch run.
#include "cpu_ops.h"

#define PARALLEL_MIN_ANCHORS 4096

yl_status yl_cpu_box_decode_forward(yl_backend *be, const yl_tensor *dist, yl_tensor *boxes,
                                    const yl_box_decode_params *p) {
    (void)be;
    const int64_t batch = dist->shape[0], anchors = dist->shape[2];
    const float *d = dist->data;
    float *out = boxes->data;
    int64_t first = 0;
    for (int l = 0; l < p->levels; l++) {
        const int64_t width = p->width[l], count = (int64_t)p->height[l] * width;
        const float stride = p->stride[l];
#pragma omp parallel for collapse(2) schedule(static) if (batch * count >= PARALLEL_MIN_ANCHORS)
        for (int64_t b = 0; b < batch; b++)
            for (int64_t i = 0; i < count; i++) {
                const int64_t a = first + i;
                const float *src = d + b * 4 * anchors + a;
                float *dst = out + b * 4 * anchors + a;
                const float ax = (float)(i % width) + 0.5f, ay = (float)(i / width) + 0.5f;
                const float x1 = ax - src[0], y1 = ay - src[anchors];
                const float x2 = ax + src[2 * anchors], y2 = ay + src[3 * anchors];
                dst[0] = (x1 + x2) / 2.0f * stride;
                dst[anchors] = (y1 + y2) / 2.0f * stride;
                dst[2 * anchors] = (x2 - x1) * stride;
                dst[3 * anchors] = (y2 - y1) * stride;
            }
        first += count;
    }
    return YL_OK;
}
