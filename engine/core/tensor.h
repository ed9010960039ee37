// A tensor is a view: shape, strides (in elements), dtype, device and a data pointer it does
// not own. Memory belongs to an arena (arena.h) or to whoever created the view.
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "status.h"

#ifdef __cplusplus
extern "C" {  // the CUDA translation units (kernels/*.cu) include this header
#endif

#define YL_MAX_DIMS 4

typedef enum { YL_F32 = 0, YL_F16, YL_BF16, YL_I32, YL_I64, YL_U8, YL_DTYPE_COUNT } yl_dtype;

typedef enum { YL_DEVICE_CPU = 0, YL_DEVICE_CUDA, YL_DEVICE_COUNT } yl_device;

typedef struct {
    int ndim;
    int64_t shape[YL_MAX_DIMS];
    int64_t stride[YL_MAX_DIMS];  // in elements; contiguous = row-major
    yl_dtype dtype;
    yl_device device;
    void *data;
} yl_tensor;

size_t yl_dtype_size(yl_dtype dtype);
const char *yl_dtype_name(yl_dtype dtype);
const char *yl_device_name(yl_device device);

// A contiguous view of `data` (which may be NULL until bound).
yl_tensor yl_tensor_view(void *data, yl_dtype dtype, yl_device device, int ndim, const int64_t *shape);
// Shorthands for the NCHW fp32 tensors the ops use.
yl_tensor yl_tensor_4d(float *data, yl_device device, int64_t n, int64_t c, int64_t h, int64_t w);
yl_tensor yl_tensor_3d(float *data, yl_device device, int64_t a, int64_t b, int64_t c);
yl_tensor yl_tensor_1d(float *data, yl_device device, int64_t n);

int64_t yl_tensor_numel(const yl_tensor *t);
size_t yl_tensor_nbytes(const yl_tensor *t);
bool yl_tensor_is_contiguous(const yl_tensor *t);
bool yl_tensor_same_shape(const yl_tensor *a, const yl_tensor *b);
// "(2, 16, 40, 40)" into buf; returns buf.
const char *yl_tensor_shape_str(const yl_tensor *t, char *buf, size_t size);

#ifdef __cplusplus
}
#endif
