#include "tensor.h"

#include <stdio.h>

size_t yl_dtype_size(yl_dtype dtype) {
    switch (dtype) {
    case YL_F32: return 4;
    case YL_F16: return 2;
    case YL_BF16: return 2;
    case YL_I32: return 4;
    case YL_I64: return 8;
    case YL_U8: return 1;
    default: return 0;
    }
}

const char *yl_dtype_name(yl_dtype dtype) {
    static const char *names[YL_DTYPE_COUNT] = {"f32", "f16", "bf16", "i32", "i64", "u8"};
    return (unsigned)dtype < YL_DTYPE_COUNT ? names[dtype] : "?";
}

const char *yl_device_name(yl_device device) {
    switch (device) {
    case YL_DEVICE_CPU: return "cpu";
    case YL_DEVICE_CUDA: return "cuda";
    default: return "?";
    }
}

yl_tensor yl_tensor_view(void *data, yl_dtype dtype, yl_device device, int ndim, const int64_t *shape) {
    yl_tensor t = {0};
    t.ndim = ndim < 0 ? 0 : (ndim > YL_MAX_DIMS ? YL_MAX_DIMS : ndim);
    t.dtype = dtype;
    t.device = device;
    t.data = data;
    int64_t stride = 1;
    for (int d = t.ndim - 1; d >= 0; d--) {
        t.shape[d] = shape[d];
        t.stride[d] = stride;
        stride *= shape[d];
    }
    return t;
}

yl_tensor yl_tensor_4d(float *data, yl_device device, int64_t n, int64_t c, int64_t h, int64_t w) {
    const int64_t shape[4] = {n, c, h, w};
    return yl_tensor_view(data, YL_F32, device, 4, shape);
}

yl_tensor yl_tensor_3d(float *data, yl_device device, int64_t a, int64_t b, int64_t c) {
    const int64_t shape[3] = {a, b, c};
    return yl_tensor_view(data, YL_F32, device, 3, shape);
}

yl_tensor yl_tensor_1d(float *data, yl_device device, int64_t n) {
    return yl_tensor_view(data, YL_F32, device, 1, &n);
}

int64_t yl_tensor_numel(const yl_tensor *t) {
    int64_t n = 1;
    for (int d = 0; d < t->ndim; d++) n *= t->shape[d];
    return n;
}

size_t yl_tensor_nbytes(const yl_tensor *t) {
    return (size_t)yl_tensor_numel(t) * yl_dtype_size(t->dtype);
}

bool yl_tensor_is_contiguous(const yl_tensor *t) {
    int64_t expected = 1;
    for (int d = t->ndim - 1; d >= 0; d--) {
        if (t->shape[d] != 1 && t->stride[d] != expected) return false;
        expected *= t->shape[d];
    }
    return true;
}

bool yl_tensor_same_shape(const yl_tensor *a, const yl_tensor *b) {
    if (a->ndim != b->ndim) return false;
    for (int d = 0; d < a->ndim; d++)
        if (a->shape[d] != b->shape[d]) return false;
    return true;
}

const char *yl_tensor_shape_str(const yl_tensor *t, char *buf, size_t size) {
    size_t used = 0;
    used += (size_t)snprintf(buf + used, size - used, "(");
    for (int d = 0; d < t->ndim && used < size; d++)
        used += (size_t)snprintf(buf + used, size - used, d ? ", %lld" : "%lld", (long long)t->shape[d]);
    if (used < size) snprintf(buf + used, size - used, ")");
    return buf;
}
