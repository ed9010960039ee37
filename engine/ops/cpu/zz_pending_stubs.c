// TEMPORARY: weak placeholders so the tree links while ops are being written in parallel.
// Each op file overrides these; delete an entry when its op lands, and this file when empty.
#include "cpu_ops.h"

__attribute__((weak)) yl_status yl_cpu_batchnorm2d_forward_train(yl_backend *be, const yl_tensor *x, const yl_tensor *gamma, const yl_tensor *beta, yl_tensor *running_mean, yl_tensor *running_var, yl_tensor *y, yl_tensor *save_mean, yl_tensor *save_invstd, const yl_batchnorm_params *p) {
    (void)be; (void)x; (void)gamma; (void)beta; (void)running_mean; (void)running_var; (void)y; (void)save_mean; (void)save_invstd; (void)p;
    return yl_error(YL_ERR_UNSUPPORTED, "batchnorm2d_forward_train: not implemented yet");
}

__attribute__((weak)) yl_status yl_cpu_batchnorm2d_forward_eval(yl_backend *be, const yl_tensor *x, const yl_tensor *gamma, const yl_tensor *beta, const yl_tensor *running_mean, const yl_tensor *running_var, yl_tensor *y, const yl_batchnorm_params *p) {
    (void)be; (void)x; (void)gamma; (void)beta; (void)running_mean; (void)running_var; (void)y; (void)p;
    return yl_error(YL_ERR_UNSUPPORTED, "batchnorm2d_forward_eval: not implemented yet");
}

__attribute__((weak)) yl_status yl_cpu_batchnorm2d_backward_train(yl_backend *be, const yl_tensor *x, const yl_tensor *dy, const yl_tensor *gamma, const yl_tensor *save_mean, const yl_tensor *save_invstd, yl_tensor *dx, yl_tensor *dgamma, yl_tensor *dbeta, bool accumulate) {
    (void)be; (void)x; (void)dy; (void)gamma; (void)save_mean; (void)save_invstd; (void)dx; (void)dgamma; (void)dbeta; (void)accumulate;
    return yl_error(YL_ERR_UNSUPPORTED, "batchnorm2d_backward_train: not implemented yet");
}

__attribute__((weak)) yl_status yl_cpu_batchnorm2d_backward_eval(yl_backend *be, const yl_tensor *x, const yl_tensor *dy, const yl_tensor *gamma, const yl_tensor *running_mean, const yl_tensor *running_var, yl_tensor *dx, yl_tensor *dgamma, yl_tensor *dbeta, const yl_batchnorm_params *p, bool accumulate) {
    (void)be; (void)x; (void)dy; (void)gamma; (void)running_mean; (void)running_var; (void)dx; (void)dgamma; (void)dbeta; (void)p; (void)accumulate;
    return yl_error(YL_ERR_UNSUPPORTED, "batchnorm2d_backward_eval: not implemented yet");
}

__attribute__((weak)) yl_status yl_cpu_bn_silu_forward_train(yl_backend *be, const yl_tensor *x, const yl_tensor *gamma, const yl_tensor *beta, yl_tensor *running_mean, yl_tensor *running_var, yl_tensor *y_bn, yl_tensor *y, yl_tensor *save_mean, yl_tensor *save_invstd, const yl_batchnorm_params *p) {
    (void)be; (void)x; (void)gamma; (void)beta; (void)running_mean; (void)running_var; (void)y_bn; (void)y; (void)save_mean; (void)save_invstd; (void)p;
    return yl_error(YL_ERR_UNSUPPORTED, "bn_silu_forward_train: not implemented yet");
}

__attribute__((weak)) yl_status yl_cpu_bn_silu_forward_eval(yl_backend *be, const yl_tensor *x, const yl_tensor *gamma, const yl_tensor *beta, const yl_tensor *running_mean, const yl_tensor *running_var, yl_tensor *y_bn, yl_tensor *y, const yl_batchnorm_params *p) {
    (void)be; (void)x; (void)gamma; (void)beta; (void)running_mean; (void)running_var; (void)y_bn; (void)y; (void)p;
    return yl_error(YL_ERR_UNSUPPORTED, "bn_silu_forward_eval: not implemented yet");
}

__attribute__((weak)) yl_status yl_cpu_silu_forward(yl_backend *be, const yl_tensor *x, yl_tensor *y) {
    (void)be; (void)x; (void)y;
    return yl_error(YL_ERR_UNSUPPORTED, "silu_forward: not implemented yet");
}

__attribute__((weak)) yl_status yl_cpu_silu_backward(yl_backend *be, const yl_tensor *x, const yl_tensor *dy, yl_tensor *dx, bool accumulate) {
    (void)be; (void)x; (void)dy; (void)dx; (void)accumulate;
    return yl_error(YL_ERR_UNSUPPORTED, "silu_backward: not implemented yet");
}

__attribute__((weak)) yl_status yl_cpu_sigmoid_forward(yl_backend *be, const yl_tensor *x, yl_tensor *y) {
    (void)be; (void)x; (void)y;
    return yl_error(YL_ERR_UNSUPPORTED, "sigmoid_forward: not implemented yet");
}

__attribute__((weak)) yl_status yl_cpu_sigmoid_backward(yl_backend *be, const yl_tensor *y, const yl_tensor *dy, yl_tensor *dx, bool accumulate) {
    (void)be; (void)y; (void)dy; (void)dx; (void)accumulate;
    return yl_error(YL_ERR_UNSUPPORTED, "sigmoid_backward: not implemented yet");
}

__attribute__((weak)) yl_status yl_cpu_add_forward(yl_backend *be, const yl_tensor *a, const yl_tensor *b, yl_tensor *y) {
    (void)be; (void)a; (void)b; (void)y;
    return yl_error(YL_ERR_UNSUPPORTED, "add_forward: not implemented yet");
}

__attribute__((weak)) yl_status yl_cpu_add_backward(yl_backend *be, const yl_tensor *dy, yl_tensor *da, yl_tensor *db, bool accumulate) {
    (void)be; (void)dy; (void)da; (void)db; (void)accumulate;
    return yl_error(YL_ERR_UNSUPPORTED, "add_backward: not implemented yet");
}

__attribute__((weak)) yl_status yl_cpu_maxpool2d_forward(yl_backend *be, const yl_tensor *x, yl_tensor *y, const yl_maxpool2d_params *p) {
    (void)be; (void)x; (void)y; (void)p;
    return yl_error(YL_ERR_UNSUPPORTED, "maxpool2d_forward: not implemented yet");
}

__attribute__((weak)) yl_status yl_cpu_maxpool2d_backward(yl_backend *be, const yl_tensor *x, const yl_tensor *dy, yl_tensor *dx, const yl_maxpool2d_params *p, bool accumulate) {
    (void)be; (void)x; (void)dy; (void)dx; (void)p; (void)accumulate;
    return yl_error(YL_ERR_UNSUPPORTED, "maxpool2d_backward: not implemented yet");
}

__attribute__((weak)) yl_status yl_cpu_upsample_nearest2x_forward(yl_backend *be, const yl_tensor *x, yl_tensor *y) {
    (void)be; (void)x; (void)y;
    return yl_error(YL_ERR_UNSUPPORTED, "upsample_nearest2x_forward: not implemented yet");
}

__attribute__((weak)) yl_status yl_cpu_upsample_nearest2x_backward(yl_backend *be, const yl_tensor *dy, yl_tensor *dx, bool accumulate) {
    (void)be; (void)dy; (void)dx; (void)accumulate;
    return yl_error(YL_ERR_UNSUPPORTED, "upsample_nearest2x_backward: not implemented yet");
}

__attribute__((weak)) yl_status yl_cpu_concat_channels(yl_backend *be, const yl_tensor *const *parts, int count, yl_tensor *whole, bool accumulate) {
    (void)be; (void)parts; (void)count; (void)whole; (void)accumulate;
    return yl_error(YL_ERR_UNSUPPORTED, "concat_channels: not implemented yet");
}

__attribute__((weak)) yl_status yl_cpu_split_channels(yl_backend *be, const yl_tensor *whole, yl_tensor *const *parts, int count, bool accumulate) {
    (void)be; (void)whole; (void)parts; (void)count; (void)accumulate;
    return yl_error(YL_ERR_UNSUPPORTED, "split_channels: not implemented yet");
}

__attribute__((weak)) yl_status yl_cpu_dfl_decode_forward(yl_backend *be, const yl_tensor *x, yl_tensor *y) {
    (void)be; (void)x; (void)y;
    return yl_error(YL_ERR_UNSUPPORTED, "dfl_decode_forward: not implemented yet");
}

__attribute__((weak)) yl_status yl_cpu_dfl_decode_backward(yl_backend *be, const yl_tensor *x, const yl_tensor *dy, yl_tensor *dx, bool accumulate) {
    (void)be; (void)x; (void)dy; (void)dx; (void)accumulate;
    return yl_error(YL_ERR_UNSUPPORTED, "dfl_decode_backward: not implemented yet");
}
