// Channel concat and split (each the other's backward).
//
// In NCHW a part's channels [offset, offset + C_i) are, per image, one contiguous run of
// C_i*H*W values inside the whole's C*H*W, so each part is a strided block copy: one launch per
// part on a 2-D grid of (position in run, image) with no index division at all. Pure copies (or
// one add each when accumulating), so results are exact.
#include "activation.cuh"
#include "cuda_internal.h"
#include "cuda_ops.h"
#include "launch_config.cuh"

// dst[n * dst_image_stride + j] (+)= src[n * src_image_stride + j] for n < images, j < run.
__global__ void copy_runs_kernel(const float *src, int64_t src_image_stride, float *dst, int64_t dst_image_stride,
                                 int64_t images, int64_t run, bool accumulate) {
    for (int64_t n = blockIdx.y; n < images; n += gridDim.y) {
        const float *s = src + n * src_image_stride;
        float *d = dst + n * dst_image_stride;
        for (int64_t j = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; j < run; j += (int64_t)gridDim.x * blockDim.x)
            yl_store_gradient(&d[j], s[j], accumulate);
    }
}

static void launch_copy_runs(cudaStream_t stream, const float *src, int64_t src_image_stride, float *dst,
                             int64_t dst_image_stride, int64_t images, int64_t run, bool accumulate) {
    int64_t blocks_per_run = (run + YL_ELEMENTWISE_THREADS - 1) / YL_ELEMENTWISE_THREADS;
    dim3 grid((unsigned)(blocks_per_run < 1024 ? blocks_per_run : 1024), (unsigned)(images < 65535 ? images : 65535));
    copy_runs_kernel<<<grid, YL_ELEMENTWISE_THREADS, 0, stream>>>(src, src_image_stride, dst, dst_image_stride, images,
                                                                 run, accumulate);
}

extern "C" yl_status yl_cuda_concat_channels(yl_backend *be, const yl_tensor *const *parts, int count,
                                             yl_tensor *whole, bool accumulate) {
    cudaStream_t stream = yl_cuda_state_of(be)->stream;
    const int64_t images = whole->shape[0], plane = whole->shape[2] * whole->shape[3];
    const int64_t whole_stride = whole->shape[1] * plane;
    int64_t offset = 0;  // in values, within one image of the whole
    for (int i = 0; i < count; i++) {
        const int64_t run = parts[i]->shape[1] * plane;
        launch_copy_runs(stream, (const float *)parts[i]->data, run, (float *)whole->data + offset, whole_stride,
                         images, run, accumulate);
        YL_CUDA_CHECK_LAUNCH("concat_channels");
        offset += run;
    }
    return YL_OK;
}

extern "C" yl_status yl_cuda_split_channels(yl_backend *be, const yl_tensor *whole, yl_tensor *const *parts,
                                            int count, bool accumulate) {
    cudaStream_t stream = yl_cuda_state_of(be)->stream;
    const int64_t images = whole->shape[0], plane = whole->shape[2] * whole->shape[3];
    const int64_t whole_stride = whole->shape[1] * plane;
    int64_t offset = 0;
    for (int i = 0; i < count; i++) {
        const int64_t run = parts[i]->shape[1] * plane;
        launch_copy_runs(stream, (const float *)whole->data + offset, whole_stride, (float *)parts[i]->data, run,
                         images, run, accumulate);
        YL_CUDA_CHECK_LAUNCH("split_channels");
        offset += run;
    }
    return YL_OK;
}
