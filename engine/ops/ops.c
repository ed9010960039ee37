#include "ops.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *yl_op_name(yl_op op) {
    static const char *names[YL_OP_COUNT] = {
        [YL_OP_CONV2D_FORWARD] = "conv2d_forward",
        [YL_OP_CONV2D_BACKWARD_DATA] = "conv2d_backward_data",
        [YL_OP_CONV2D_BACKWARD_WEIGHT] = "conv2d_backward_weight",
        [YL_OP_BATCHNORM2D_FORWARD_TRAIN] = "batchnorm2d_forward_train",
        [YL_OP_BATCHNORM2D_FORWARD_EVAL] = "batchnorm2d_forward_eval",
        [YL_OP_BATCHNORM2D_BACKWARD_TRAIN] = "batchnorm2d_backward_train",
        [YL_OP_BATCHNORM2D_BACKWARD_EVAL] = "batchnorm2d_backward_eval",
        [YL_OP_SILU_FORWARD] = "silu_forward",
        [YL_OP_SILU_BACKWARD] = "silu_backward",
        [YL_OP_BN_SILU_FORWARD_TRAIN] = "bn_silu_forward_train",
        [YL_OP_BN_SILU_FORWARD_EVAL] = "bn_silu_forward_eval",
        [YL_OP_MAXPOOL2D_FORWARD] = "maxpool2d_forward",
        [YL_OP_MAXPOOL2D_BACKWARD] = "maxpool2d_backward",
        [YL_OP_UPSAMPLE_NEAREST2X_FORWARD] = "upsample_nearest2x_forward",
        [YL_OP_UPSAMPLE_NEAREST2X_BACKWARD] = "upsample_nearest2x_backward",
        [YL_OP_CONCAT_CHANNELS] = "concat_channels",
        [YL_OP_SPLIT_CHANNELS] = "split_channels",
        [YL_OP_ADD_FORWARD] = "add_forward",
        [YL_OP_ADD_BACKWARD] = "add_backward",
        [YL_OP_SIGMOID_FORWARD] = "sigmoid_forward",
        [YL_OP_SIGMOID_BACKWARD] = "sigmoid_backward",
        [YL_OP_DFL_DECODE_FORWARD] = "dfl_decode_forward",
        [YL_OP_DFL_DECODE_BACKWARD] = "dfl_decode_backward",
        [YL_OP_BOX_DECODE_FORWARD] = "box_decode_forward",
    };
    return (unsigned)op < YL_OP_COUNT && names[op] ? names[op] : "unknown_op";
}

// ---- engine ---------------------------------------------------------------------------------

void yl_engine_log(const yl_engine *eng, const char *fmt, ...) {
    if (!eng || !eng->log) return;
    char message[1024];
    va_list args;
    va_start(args, fmt);
    vsnprintf(message, sizeof message, fmt, args);
    va_end(args);
    eng->log(eng->log_user, message);
}

yl_status yl_engine_init(yl_engine *eng, const yl_engine_options *options) {
    if (!eng || !options) return yl_error(YL_ERR_INVALID_ARG, "engine_init: NULL argument");
    memset(eng, 0, sizeof *eng);
    eng->log = options->log;
    eng->log_user = options->log_user;
    YL_TRY(yl_backend_cpu_create(&eng->backends[YL_DEVICE_CPU]));
    eng->device = YL_DEVICE_CPU;
    if (options->device == YL_DEVICE_CPU) return YL_OK;
    if (options->device != YL_DEVICE_CUDA) {
        yl_engine_release(eng);
        return yl_error(YL_ERR_INVALID_ARG, "engine_init: unknown device %d", (int)options->device);
    }
    yl_status status = yl_backend_cuda_create(&eng->backends[YL_DEVICE_CUDA], options->cuda_device_index);
    if (status == YL_OK) {
        eng->device = YL_DEVICE_CUDA;
        return YL_OK;
    }
    if (!options->allow_cpu_fallback) {
        yl_engine_release(eng);
        return status;
    }
    yl_engine_log(eng, "CUDA requested but unavailable (%s); falling back to the CPU backend", yl_last_error());
    yl_clear_error();
    return YL_OK;
}

void yl_engine_release(yl_engine *eng) {
    if (!eng) return;
    for (int d = 0; d < YL_DEVICE_COUNT; d++) {
        yl_backend_destroy(eng->backends[d]);
        eng->backends[d] = NULL;
    }
}

yl_backend *yl_engine_backend(const yl_engine *eng, yl_device device) {
    if (!eng || (unsigned)device >= YL_DEVICE_COUNT) return NULL;
    return eng->backends[device];
}

void yl_backend_destroy(yl_backend *be) {
    if (be && be->destroy) be->destroy(be);
}

#ifndef YOLOOP_HAVE_CUDA
yl_status yl_backend_cuda_create(yl_backend **out, int device_index) {
    (void)device_index;
    if (out) *out = NULL;
    return yl_error(YL_ERR_UNSUPPORTED, "this build of yoloop has no CUDA backend (nvcc or cuDNN was not found)");
}
#endif

int64_t yl_conv_output_size(int64_t input, int kernel, int stride, int pad) {
    return (input + 2 * (int64_t)pad - kernel) / stride + 1;
}

// ---- argument checks ------------------------------------------------------------------------

// Checks that `t` is a usable fp32 contiguous tensor of `ndim` dimensions on `device`.
static yl_status check_tensor(const char *op, const char *name, const yl_tensor *t, int ndim, yl_device device) {
    if (!t) return yl_error(YL_ERR_INVALID_ARG, "%s: tensor '%s' is NULL", op, name);
    if (!t->data) return yl_error(YL_ERR_INVALID_ARG, "%s: tensor '%s' has no data", op, name);
    if (t->dtype != YL_F32)
        return yl_error(YL_ERR_DTYPE, "%s: tensor '%s' is %s, only f32 is supported", op, name,
                        yl_dtype_name(t->dtype));
    char shape[96];
    if (t->ndim != ndim)
        return yl_error(YL_ERR_SHAPE, "%s: tensor '%s' must have %d dimensions, got %s", op, name, ndim,
                        yl_tensor_shape_str(t, shape, sizeof shape));
    for (int d = 0; d < t->ndim; d++)
        if (t->shape[d] <= 0)
            return yl_error(YL_ERR_SHAPE, "%s: tensor '%s' has an empty dimension %s", op, name,
                            yl_tensor_shape_str(t, shape, sizeof shape));
    if (t->device != device)
        return yl_error(YL_ERR_DEVICE, "%s: tensor '%s' is on %s but the op runs on %s", op, name,
                        yl_device_name(t->device), yl_device_name(device));
    if (!yl_tensor_is_contiguous(t))
        return yl_error(YL_ERR_UNSUPPORTED, "%s: tensor '%s' is not contiguous", op, name);
    return YL_OK;
}

static yl_status check_same_shape(const char *op, const char *name_a, const yl_tensor *a, const char *name_b,
                                  const yl_tensor *b) {
    if (yl_tensor_same_shape(a, b)) return YL_OK;
    char sa[96], sb[96];
    return yl_error(YL_ERR_SHAPE, "%s: '%s' %s and '%s' %s must have the same shape", op, name_a,
                    yl_tensor_shape_str(a, sa, sizeof sa), name_b, yl_tensor_shape_str(b, sb, sizeof sb));
}

// A per-channel vector of length `channels`.
static yl_status check_channel_vector(const char *op, const char *name, const yl_tensor *t, int64_t channels,
                                      yl_device device) {
    YL_TRY(check_tensor(op, name, t, 1, device));
    if (t->shape[0] != channels)
        return yl_error(YL_ERR_SHAPE, "%s: '%s' has %lld elements, expected %lld (one per channel)", op, name,
                        (long long)t->shape[0], (long long)channels);
    return YL_OK;
}

static yl_status get_backend(yl_engine *eng, yl_op op, const yl_tensor *first, yl_backend **out) {
    const char *name = yl_op_name(op);
    if (!eng) return yl_error(YL_ERR_INVALID_ARG, "%s: engine is NULL", name);
    if (!first) return yl_error(YL_ERR_INVALID_ARG, "%s: input tensor is NULL", name);
    yl_backend *be = yl_engine_backend(eng, first->device);
    if (!be)
        return yl_error(YL_ERR_DEVICE, "%s: no %s backend in this engine", name, yl_device_name(first->device));
    if (!be->supports(be, op))
        return yl_error(YL_ERR_UNSUPPORTED, "%s: not supported by the %s backend", name, be->name);
    *out = be;
    return YL_OK;
}

static yl_status check_conv_params(const char *op, const yl_tensor *w, const yl_conv2d_params *p) {
    if (!p) return yl_error(YL_ERR_INVALID_ARG, "%s: params are NULL", op);
    if (p->stride != 1 && p->stride != 2)
        return yl_error(YL_ERR_UNSUPPORTED, "%s: stride %d (only 1 and 2 are supported)", op, p->stride);
    if (w->shape[2] != w->shape[3] || (w->shape[2] != 1 && w->shape[2] != 3))
        return yl_error(YL_ERR_UNSUPPORTED, "%s: kernel %lldx%lld (only 1x1 and 3x3 are supported)", op,
                        (long long)w->shape[2], (long long)w->shape[3]);
    if (p->pad != (int)(w->shape[2] / 2))
        return yl_error(YL_ERR_UNSUPPORTED, "%s: pad %d with kernel %lld (only 'same' padding k/2 is supported)",
                        op, p->pad, (long long)w->shape[2]);
    return YL_OK;
}

// x (N,C,H,W), w (K,C,k,k), y (N,K,Ho,Wo) fit together.
static yl_status check_conv_shapes(const char *op, const yl_tensor *x, const yl_tensor *w, const yl_tensor *y,
                                   const yl_conv2d_params *p, const char *x_name, const char *y_name) {
    YL_TRY(check_conv_params(op, w, p));
    char sx[96], sw[96], sy[96];
    if (x->shape[1] != w->shape[1])
        return yl_error(YL_ERR_SHAPE, "%s: '%s' %s has %lld channels but 'w' %s expects %lld", op, x_name,
                        yl_tensor_shape_str(x, sx, sizeof sx), (long long)x->shape[1],
                        yl_tensor_shape_str(w, sw, sizeof sw), (long long)w->shape[1]);
    int64_t ho = yl_conv_output_size(x->shape[2], (int)w->shape[2], p->stride, p->pad);
    int64_t wo = yl_conv_output_size(x->shape[3], (int)w->shape[3], p->stride, p->pad);
    if (y->shape[0] != x->shape[0] || y->shape[1] != w->shape[0] || y->shape[2] != ho || y->shape[3] != wo)
        return yl_error(YL_ERR_SHAPE, "%s: '%s' is %s, expected (%lld, %lld, %lld, %lld) for '%s' %s and 'w' %s",
                        op, y_name, yl_tensor_shape_str(y, sy, sizeof sy), (long long)x->shape[0],
                        (long long)w->shape[0], (long long)ho, (long long)wo, x_name,
                        yl_tensor_shape_str(x, sx, sizeof sx), yl_tensor_shape_str(w, sw, sizeof sw));
    return YL_OK;
}

// ---- conv2d ---------------------------------------------------------------------------------

yl_status yl_conv2d_forward(yl_engine *eng, const yl_tensor *x, const yl_tensor *w, const yl_tensor *bias,
                            yl_tensor *y, const yl_conv2d_params *p) {
    const char *op = "conv2d_forward";
    yl_backend *be;
    YL_TRY(get_backend(eng, YL_OP_CONV2D_FORWARD, x, &be));
    YL_TRY(check_tensor(op, "x", x, 4, be->device));
    YL_TRY(check_tensor(op, "w", w, 4, be->device));
    YL_TRY(check_tensor(op, "y", y, 4, be->device));
    if (bias) YL_TRY(check_channel_vector(op, "bias", bias, w->shape[0], be->device));
    YL_TRY(check_conv_shapes(op, x, w, y, p, "x", "y"));
    return be->conv2d_forward(be, x, w, bias, y, p);
}

yl_status yl_conv2d_backward_data(yl_engine *eng, const yl_tensor *dy, const yl_tensor *w, yl_tensor *dx,
                                  const yl_conv2d_params *p, bool accumulate) {
    const char *op = "conv2d_backward_data";
    yl_backend *be;
    YL_TRY(get_backend(eng, YL_OP_CONV2D_BACKWARD_DATA, dy, &be));
    YL_TRY(check_tensor(op, "dy", dy, 4, be->device));
    YL_TRY(check_tensor(op, "w", w, 4, be->device));
    YL_TRY(check_tensor(op, "dx", dx, 4, be->device));
    YL_TRY(check_conv_shapes(op, dx, w, dy, p, "dx", "dy"));
    return be->conv2d_backward_data(be, dy, w, dx, p, accumulate);
}

yl_status yl_conv2d_backward_weight(yl_engine *eng, const yl_tensor *x, const yl_tensor *dy, yl_tensor *dw,
                                    yl_tensor *dbias, const yl_conv2d_params *p, bool accumulate) {
    const char *op = "conv2d_backward_weight";
    yl_backend *be;
    YL_TRY(get_backend(eng, YL_OP_CONV2D_BACKWARD_WEIGHT, x, &be));
    YL_TRY(check_tensor(op, "x", x, 4, be->device));
    YL_TRY(check_tensor(op, "dy", dy, 4, be->device));
    YL_TRY(check_tensor(op, "dw", dw, 4, be->device));
    if (dbias) YL_TRY(check_channel_vector(op, "dbias", dbias, dw->shape[0], be->device));
    YL_TRY(check_conv_shapes(op, x, dw, dy, p, "x", "dy"));
    return be->conv2d_backward_weight(be, x, dy, dw, dbias, p, accumulate);
}

// ---- batchnorm2d ----------------------------------------------------------------------------

static yl_status check_bn_params(const char *op, const yl_batchnorm_params *p) {
    if (!p) return yl_error(YL_ERR_INVALID_ARG, "%s: params are NULL", op);
    if (!(p->eps > 0.0f)) return yl_error(YL_ERR_INVALID_ARG, "%s: eps must be > 0, got %g", op, (double)p->eps);
    if (!(p->momentum >= 0.0f && p->momentum <= 1.0f))
        return yl_error(YL_ERR_INVALID_ARG, "%s: momentum must be in [0, 1], got %g", op, (double)p->momentum);
    return YL_OK;
}

// x and y (N,C,H,W) of one shape, then the named per-channel vectors.
static yl_status check_bn_tensors(const char *op, yl_device device, const yl_tensor *x, const char *y_name,
                                  const yl_tensor *y, int vector_count, const char *const *vector_names,
                                  const yl_tensor *const *vectors) {
    YL_TRY(check_tensor(op, "x", x, 4, device));
    YL_TRY(check_tensor(op, y_name, y, 4, device));
    YL_TRY(check_same_shape(op, "x", x, y_name, y));
    for (int i = 0; i < vector_count; i++)
        YL_TRY(check_channel_vector(op, vector_names[i], vectors[i], x->shape[1], device));
    if (x->shape[0] * x->shape[2] * x->shape[3] < 2 && strstr(op, "train"))
        return yl_error(YL_ERR_SHAPE, "%s: training-mode batch norm needs more than 1 value per channel", op);
    return YL_OK;
}

yl_status yl_batchnorm2d_forward_train(yl_engine *eng, const yl_tensor *x, const yl_tensor *gamma,
                                       const yl_tensor *beta, yl_tensor *running_mean, yl_tensor *running_var,
                                       yl_tensor *y, yl_tensor *save_mean, yl_tensor *save_invstd,
                                       const yl_batchnorm_params *p) {
    const char *op = "batchnorm2d_forward_train";
    yl_backend *be;
    YL_TRY(get_backend(eng, YL_OP_BATCHNORM2D_FORWARD_TRAIN, x, &be));
    YL_TRY(check_bn_params(op, p));
    const char *names[] = {"gamma", "beta", "running_mean", "running_var", "save_mean", "save_invstd"};
    const yl_tensor *vectors[] = {gamma, beta, running_mean, running_var, save_mean, save_invstd};
    YL_TRY(check_bn_tensors(op, be->device, x, "y", y, 6, names, vectors));
    return be->batchnorm2d_forward_train(be, x, gamma, beta, running_mean, running_var, y, save_mean,
                                         save_invstd, p);
}

yl_status yl_batchnorm2d_forward_eval(yl_engine *eng, const yl_tensor *x, const yl_tensor *gamma,
                                      const yl_tensor *beta, const yl_tensor *running_mean,
                                      const yl_tensor *running_var, yl_tensor *y, const yl_batchnorm_params *p) {
    const char *op = "batchnorm2d_forward_eval";
    yl_backend *be;
    YL_TRY(get_backend(eng, YL_OP_BATCHNORM2D_FORWARD_EVAL, x, &be));
    YL_TRY(check_bn_params(op, p));
    const char *names[] = {"gamma", "beta", "running_mean", "running_var"};
    const yl_tensor *vectors[] = {gamma, beta, running_mean, running_var};
    YL_TRY(check_bn_tensors(op, be->device, x, "y", y, 4, names, vectors));
    return be->batchnorm2d_forward_eval(be, x, gamma, beta, running_mean, running_var, y, p);
}

yl_status yl_batchnorm2d_backward_train(yl_engine *eng, const yl_tensor *x, const yl_tensor *dy,
                                        const yl_tensor *gamma, const yl_tensor *save_mean,
                                        const yl_tensor *save_invstd, yl_tensor *dx, yl_tensor *dgamma,
                                        yl_tensor *dbeta, bool accumulate) {
    const char *op = "batchnorm2d_backward_train";
    yl_backend *be;
    YL_TRY(get_backend(eng, YL_OP_BATCHNORM2D_BACKWARD_TRAIN, x, &be));
    YL_TRY(check_tensor(op, "dy", dy, 4, be->device));
    const char *names[] = {"gamma", "save_mean", "save_invstd", "dgamma", "dbeta"};
    const yl_tensor *vectors[] = {gamma, save_mean, save_invstd, dgamma, dbeta};
    YL_TRY(check_bn_tensors(op, be->device, x, "dx", dx, 5, names, vectors));
    YL_TRY(check_same_shape(op, "x", x, "dy", dy));
    return be->batchnorm2d_backward_train(be, x, dy, gamma, save_mean, save_invstd, dx, dgamma, dbeta, accumulate);
}

yl_status yl_batchnorm2d_backward_eval(yl_engine *eng, const yl_tensor *x, const yl_tensor *dy,
                                       const yl_tensor *gamma, const yl_tensor *running_mean,
                                       const yl_tensor *running_var, yl_tensor *dx, yl_tensor *dgamma,
                                       yl_tensor *dbeta, const yl_batchnorm_params *p, bool accumulate) {
    const char *op = "batchnorm2d_backward_eval";
    yl_backend *be;
    YL_TRY(get_backend(eng, YL_OP_BATCHNORM2D_BACKWARD_EVAL, x, &be));
    YL_TRY(check_bn_params(op, p));
    YL_TRY(check_tensor(op, "dy", dy, 4, be->device));
    const char *names[] = {"gamma", "running_mean", "running_var", "dgamma", "dbeta"};
    const yl_tensor *vectors[] = {gamma, running_mean, running_var, dgamma, dbeta};
    YL_TRY(check_bn_tensors(op, be->device, x, "dx", dx, 5, names, vectors));
    YL_TRY(check_same_shape(op, "x", x, "dy", dy));
    return be->batchnorm2d_backward_eval(be, x, dy, gamma, running_mean, running_var, dx, dgamma, dbeta, p,
                                         accumulate);
}

yl_status yl_bn_silu_forward_train(yl_engine *eng, const yl_tensor *x, const yl_tensor *gamma,
                                   const yl_tensor *beta, yl_tensor *running_mean, yl_tensor *running_var,
                                   yl_tensor *y_bn, yl_tensor *y, yl_tensor *save_mean, yl_tensor *save_invstd,
                                   const yl_batchnorm_params *p) {
    const char *op = "bn_silu_forward_train";
    yl_backend *be;
    YL_TRY(get_backend(eng, YL_OP_BN_SILU_FORWARD_TRAIN, x, &be));
    YL_TRY(check_bn_params(op, p));
    const char *names[] = {"gamma", "beta", "running_mean", "running_var", "save_mean", "save_invstd"};
    const yl_tensor *vectors[] = {gamma, beta, running_mean, running_var, save_mean, save_invstd};
    YL_TRY(check_bn_tensors(op, be->device, x, "y", y, 6, names, vectors));
    YL_TRY(check_tensor(op, "y_bn", y_bn, 4, be->device));
    YL_TRY(check_same_shape(op, "x", x, "y_bn", y_bn));
    return be->bn_silu_forward_train(be, x, gamma, beta, running_mean, running_var, y_bn, y, save_mean,
                                     save_invstd, p);
}

yl_status yl_bn_silu_forward_eval(yl_engine *eng, const yl_tensor *x, const yl_tensor *gamma,
                                  const yl_tensor *beta, const yl_tensor *running_mean,
                                  const yl_tensor *running_var, yl_tensor *y_bn, yl_tensor *y,
                                  const yl_batchnorm_params *p) {
    const char *op = "bn_silu_forward_eval";
    yl_backend *be;
    YL_TRY(get_backend(eng, YL_OP_BN_SILU_FORWARD_EVAL, x, &be));
    YL_TRY(check_bn_params(op, p));
    const char *names[] = {"gamma", "beta", "running_mean", "running_var"};
    const yl_tensor *vectors[] = {gamma, beta, running_mean, running_var};
    YL_TRY(check_bn_tensors(op, be->device, x, "y", y, 4, names, vectors));
    YL_TRY(check_tensor(op, "y_bn", y_bn, 4, be->device));
    YL_TRY(check_same_shape(op, "x", x, "y_bn", y_bn));
    return be->bn_silu_forward_eval(be, x, gamma, beta, running_mean, running_var, y_bn, y, p);
}

// ---- elementwise ----------------------------------------------------------------------------

// Elementwise ops take tensors of any rank 1..4; all named tensors share one shape.
static yl_status check_elementwise(const char *op, yl_device device, int count, const char *const *names,
                                   const yl_tensor *const *tensors) {
    const yl_tensor *first = NULL;
    const char *first_name = NULL;
    for (int i = 0; i < count; i++) {
        if (!tensors[i]) continue;
        if (tensors[i]->ndim < 1 || tensors[i]->ndim > YL_MAX_DIMS)
            return yl_error(YL_ERR_SHAPE, "%s: tensor '%s' has %d dimensions", op, names[i], tensors[i]->ndim);
        YL_TRY(check_tensor(op, names[i], tensors[i], tensors[i]->ndim, device));
        if (!first) {
            first = tensors[i];
            first_name = names[i];
        } else {
            YL_TRY(check_same_shape(op, first_name, first, names[i], tensors[i]));
        }
    }
    return YL_OK;
}

static yl_status check_unary(const char *op, yl_device device, const char *in_name, const yl_tensor *in,
                             const char *out_name, const yl_tensor *out) {
    if (!in) return yl_error(YL_ERR_INVALID_ARG, "%s: tensor '%s' is NULL", op, in_name);
    if (!out) return yl_error(YL_ERR_INVALID_ARG, "%s: tensor '%s' is NULL", op, out_name);
    const char *names[] = {in_name, out_name};
    const yl_tensor *tensors[] = {in, out};
    return check_elementwise(op, device, 2, names, tensors);
}

static yl_status check_unary_backward(const char *op, yl_device device, const char *saved_name,
                                      const yl_tensor *saved, const yl_tensor *dy, const yl_tensor *dx) {
    if (!saved || !dy || !dx) return yl_error(YL_ERR_INVALID_ARG, "%s: a tensor argument is NULL", op);
    const char *names[] = {saved_name, "dy", "dx"};
    const yl_tensor *tensors[] = {saved, dy, dx};
    return check_elementwise(op, device, 3, names, tensors);
}

yl_status yl_silu_forward(yl_engine *eng, const yl_tensor *x, yl_tensor *y) {
    yl_backend *be;
    YL_TRY(get_backend(eng, YL_OP_SILU_FORWARD, x, &be));
    YL_TRY(check_unary("silu_forward", be->device, "x", x, "y", y));
    return be->silu_forward(be, x, y);
}

yl_status yl_silu_backward(yl_engine *eng, const yl_tensor *x, const yl_tensor *dy, yl_tensor *dx, bool accumulate) {
    yl_backend *be;
    YL_TRY(get_backend(eng, YL_OP_SILU_BACKWARD, x, &be));
    YL_TRY(check_unary_backward("silu_backward", be->device, "x", x, dy, dx));
    return be->silu_backward(be, x, dy, dx, accumulate);
}

yl_status yl_sigmoid_forward(yl_engine *eng, const yl_tensor *x, yl_tensor *y) {
    yl_backend *be;
    YL_TRY(get_backend(eng, YL_OP_SIGMOID_FORWARD, x, &be));
    YL_TRY(check_unary("sigmoid_forward", be->device, "x", x, "y", y));
    return be->sigmoid_forward(be, x, y);
}

yl_status yl_sigmoid_backward(yl_engine *eng, const yl_tensor *y, const yl_tensor *dy, yl_tensor *dx,
                              bool accumulate) {
    yl_backend *be;
    YL_TRY(get_backend(eng, YL_OP_SIGMOID_BACKWARD, y, &be));
    YL_TRY(check_unary_backward("sigmoid_backward", be->device, "y", y, dy, dx));
    return be->sigmoid_backward(be, y, dy, dx, accumulate);
}

yl_status yl_add_forward(yl_engine *eng, const yl_tensor *a, const yl_tensor *b, yl_tensor *y) {
    const char *op = "add_forward";
    yl_backend *be;
    YL_TRY(get_backend(eng, YL_OP_ADD_FORWARD, a, &be));
    if (!b || !y) return yl_error(YL_ERR_INVALID_ARG, "%s: a tensor argument is NULL", op);
    const char *names[] = {"a", "b", "y"};
    const yl_tensor *tensors[] = {a, b, y};
    YL_TRY(check_elementwise(op, be->device, 3, names, tensors));
    return be->add_forward(be, a, b, y);
}

yl_status yl_add_backward(yl_engine *eng, const yl_tensor *dy, yl_tensor *da, yl_tensor *db, bool accumulate) {
    const char *op = "add_backward";
    yl_backend *be;
    YL_TRY(get_backend(eng, YL_OP_ADD_BACKWARD, dy, &be));
    if (!da && !db) return yl_error(YL_ERR_INVALID_ARG, "%s: both 'da' and 'db' are NULL", op);
    const char *names[] = {"dy", "da", "db"};
    const yl_tensor *tensors[] = {dy, da, db};
    YL_TRY(check_elementwise(op, be->device, 3, names, tensors));
    return be->add_backward(be, dy, da, db, accumulate);
}

// ---- pooling, upsampling --------------------------------------------------------------------

static yl_status check_pool_params(const char *op, const yl_maxpool2d_params *p) {
    if (!p) return yl_error(YL_ERR_INVALID_ARG, "%s: params are NULL", op);
    if (p->kernel < 1 || p->stride < 1 || p->pad < 0 || p->pad > p->kernel / 2)
        return yl_error(YL_ERR_INVALID_ARG, "%s: kernel %d stride %d pad %d is not a valid window", op, p->kernel,
                        p->stride, p->pad);
    return YL_OK;
}

static yl_status check_pool_shapes(const char *op, const yl_tensor *x, const yl_tensor *y, const char *y_name,
                                   const yl_maxpool2d_params *p) {
    int64_t ho = yl_conv_output_size(x->shape[2], p->kernel, p->stride, p->pad);
    int64_t wo = yl_conv_output_size(x->shape[3], p->kernel, p->stride, p->pad);
    if (ho < 1 || wo < 1) return yl_error(YL_ERR_SHAPE, "%s: input smaller than the pooling window", op);
    if (y->shape[0] != x->shape[0] || y->shape[1] != x->shape[1] || y->shape[2] != ho || y->shape[3] != wo) {
        char sx[96], sy[96];
        return yl_error(YL_ERR_SHAPE, "%s: '%s' is %s, expected (%lld, %lld, %lld, %lld) for 'x' %s", op, y_name,
                        yl_tensor_shape_str(y, sy, sizeof sy), (long long)x->shape[0], (long long)x->shape[1],
                        (long long)ho, (long long)wo, yl_tensor_shape_str(x, sx, sizeof sx));
    }
    return YL_OK;
}

yl_status yl_maxpool2d_forward(yl_engine *eng, const yl_tensor *x, yl_tensor *y, const yl_maxpool2d_params *p) {
    const char *op = "maxpool2d_forward";
    yl_backend *be;
    YL_TRY(get_backend(eng, YL_OP_MAXPOOL2D_FORWARD, x, &be));
    YL_TRY(check_pool_params(op, p));
    YL_TRY(check_tensor(op, "x", x, 4, be->device));
    YL_TRY(check_tensor(op, "y", y, 4, be->device));
    YL_TRY(check_pool_shapes(op, x, y, "y", p));
    return be->maxpool2d_forward(be, x, y, p);
}

yl_status yl_maxpool2d_backward(yl_engine *eng, const yl_tensor *x, const yl_tensor *dy, yl_tensor *dx,
                                const yl_maxpool2d_params *p, bool accumulate) {
    const char *op = "maxpool2d_backward";
    yl_backend *be;
    YL_TRY(get_backend(eng, YL_OP_MAXPOOL2D_BACKWARD, x, &be));
    YL_TRY(check_pool_params(op, p));
    YL_TRY(check_tensor(op, "x", x, 4, be->device));
    YL_TRY(check_tensor(op, "dy", dy, 4, be->device));
    YL_TRY(check_tensor(op, "dx", dx, 4, be->device));
    YL_TRY(check_same_shape(op, "x", x, "dx", dx));
    YL_TRY(check_pool_shapes(op, x, dy, "dy", p));
    return be->maxpool2d_backward(be, x, dy, dx, p, accumulate);
}

static yl_status check_upsample_shapes(const char *op, const char *small_name, const yl_tensor *small,
                                       const char *big_name, const yl_tensor *big) {
    if (big->shape[0] != small->shape[0] || big->shape[1] != small->shape[1] ||
        big->shape[2] != 2 * small->shape[2] || big->shape[3] != 2 * small->shape[3]) {
        char ss[96], sb[96];
        return yl_error(YL_ERR_SHAPE, "%s: '%s' %s must be twice '%s' %s in height and width", op, big_name,
                        yl_tensor_shape_str(big, sb, sizeof sb), small_name,
                        yl_tensor_shape_str(small, ss, sizeof ss));
    }
    return YL_OK;
}

yl_status yl_upsample_nearest2x_forward(yl_engine *eng, const yl_tensor *x, yl_tensor *y) {
    const char *op = "upsample_nearest2x_forward";
    yl_backend *be;
    YL_TRY(get_backend(eng, YL_OP_UPSAMPLE_NEAREST2X_FORWARD, x, &be));
    YL_TRY(check_tensor(op, "x", x, 4, be->device));
    YL_TRY(check_tensor(op, "y", y, 4, be->device));
    YL_TRY(check_upsample_shapes(op, "x", x, "y", y));
    return be->upsample_nearest2x_forward(be, x, y);
}

yl_status yl_upsample_nearest2x_backward(yl_engine *eng, const yl_tensor *dy, yl_tensor *dx, bool accumulate) {
    const char *op = "upsample_nearest2x_backward";
    yl_backend *be;
    YL_TRY(get_backend(eng, YL_OP_UPSAMPLE_NEAREST2X_BACKWARD, dy, &be));
    YL_TRY(check_tensor(op, "dy", dy, 4, be->device));
    YL_TRY(check_tensor(op, "dx", dx, 4, be->device));
    YL_TRY(check_upsample_shapes(op, "dx", dx, "dy", dy));
    return be->upsample_nearest2x_backward(be, dy, dx, accumulate);
}

// ---- concat / split -------------------------------------------------------------------------

static yl_status check_channel_parts(const char *op, yl_device device, const yl_tensor *whole,
                                     const yl_tensor *const *parts, int count) {
    YL_TRY(check_tensor(op, "whole", whole, 4, device));
    if (!parts || count < 1) return yl_error(YL_ERR_INVALID_ARG, "%s: needs at least one part", op);
    int64_t channels = 0;
    for (int i = 0; i < count; i++) {
        char name[32];
        snprintf(name, sizeof name, "parts[%d]", i);
        YL_TRY(check_tensor(op, name, parts[i], 4, device));
        if (parts[i]->shape[0] != whole->shape[0] || parts[i]->shape[2] != whole->shape[2] ||
            parts[i]->shape[3] != whole->shape[3]) {
            char sp[96], sw[96];
            return yl_error(YL_ERR_SHAPE, "%s: %s %s and 'whole' %s differ outside the channel dimension", op, name,
                            yl_tensor_shape_str(parts[i], sp, sizeof sp), yl_tensor_shape_str(whole, sw, sizeof sw));
        }
        channels += parts[i]->shape[1];
    }
    if (channels != whole->shape[1])
        return yl_error(YL_ERR_SHAPE, "%s: parts have %lld channels in all, 'whole' has %lld", op,
                        (long long)channels, (long long)whole->shape[1]);
    return YL_OK;
}

yl_status yl_concat_channels(yl_engine *eng, const yl_tensor *const *parts, int count, yl_tensor *whole,
                             bool accumulate) {
    yl_backend *be;
    YL_TRY(get_backend(eng, YL_OP_CONCAT_CHANNELS, whole, &be));
    YL_TRY(check_channel_parts("concat_channels", be->device, whole, parts, count));
    return be->concat_channels(be, parts, count, whole, accumulate);
}

yl_status yl_split_channels(yl_engine *eng, const yl_tensor *whole, yl_tensor *const *parts, int count,
                            bool accumulate) {
    yl_backend *be;
    YL_TRY(get_backend(eng, YL_OP_SPLIT_CHANNELS, whole, &be));
    YL_TRY(check_channel_parts("split_channels", be->device, whole, (const yl_tensor *const *)parts, count));
    return be->split_channels(be, whole, parts, count, accumulate);
}

// ---- DFL decode -----------------------------------------------------------------------------

static yl_status check_dfl_shapes(const char *op, const yl_tensor *x, const yl_tensor *y, const char *y_name) {
    if (x->shape[1] % 4 != 0 || x->shape[1] < 8) {
        char sx[96];
        return yl_error(YL_ERR_SHAPE, "%s: 'x' %s must have 4 * bins channels (bins >= 2)", op,
                        yl_tensor_shape_str(x, sx, sizeof sx));
    }
    if (y->shape[0] != x->shape[0] || y->shape[1] != 4 || y->shape[2] != x->shape[2]) {
        char sx[96], sy[96];
        return yl_error(YL_ERR_SHAPE, "%s: '%s' is %s, expected (%lld, 4, %lld) for 'x' %s", op, y_name,
                        yl_tensor_shape_str(y, sy, sizeof sy), (long long)x->shape[0], (long long)x->shape[2],
                        yl_tensor_shape_str(x, sx, sizeof sx));
    }
    return YL_OK;
}

yl_status yl_dfl_decode_forward(yl_engine *eng, const yl_tensor *x, yl_tensor *y) {
    const char *op = "dfl_decode_forward";
    yl_backend *be;
    YL_TRY(get_backend(eng, YL_OP_DFL_DECODE_FORWARD, x, &be));
    YL_TRY(check_tensor(op, "x", x, 3, be->device));
    YL_TRY(check_tensor(op, "y", y, 3, be->device));
    YL_TRY(check_dfl_shapes(op, x, y, "y"));
    return be->dfl_decode_forward(be, x, y);
}

yl_status yl_dfl_decode_backward(yl_engine *eng, const yl_tensor *x, const yl_tensor *dy, yl_tensor *dx,
                                 bool accumulate) {
    const char *op = "dfl_decode_backward";
    yl_backend *be;
    YL_TRY(get_backend(eng, YL_OP_DFL_DECODE_BACKWARD, x, &be));
    YL_TRY(check_tensor(op, "x", x, 3, be->device));
    YL_TRY(check_tensor(op, "dy", dy, 3, be->device));
    YL_TRY(check_tensor(op, "dx", dx, 3, be->device));
    YL_TRY(check_same_shape(op, "x", x, "dx", dx));
    YL_TRY(check_dfl_shapes(op, x, dy, "dy"));
    return be->dfl_decode_backward(be, x, dy, dx, accumulate);
}

// ---- box decode -----------------------------------------------------------------------------

static yl_status check_box_decode_params(const char *op, const yl_box_decode_params *p, int64_t *anchors) {
    if (!p) return yl_error(YL_ERR_INVALID_ARG, "%s: params are NULL", op);
    if (p->levels < 1 || p->levels > YL_BOX_DECODE_MAX_LEVELS)
        return yl_error(YL_ERR_INVALID_ARG, "%s: %d levels (1..%d)", op, p->levels, YL_BOX_DECODE_MAX_LEVELS);
    *anchors = 0;
    for (int l = 0; l < p->levels; l++) {
        if (p->height[l] < 1 || p->width[l] < 1)
            return yl_error(YL_ERR_INVALID_ARG, "%s: level %d grid %dx%d is empty", op, l, p->height[l], p->width[l]);
        if (!(p->stride[l] > 0.0f) || isinf(p->stride[l]))
            return yl_error(YL_ERR_INVALID_ARG, "%s: level %d stride %g must be finite and > 0", op, l,
                            (double)p->stride[l]);
        *anchors += (int64_t)p->height[l] * p->width[l];
    }
    return YL_OK;
}

yl_status yl_box_decode_forward(yl_engine *eng, const yl_tensor *dist, yl_tensor *boxes,
                                const yl_box_decode_params *p) {
    const char *op = "box_decode_forward";
    yl_backend *be;
    YL_TRY(get_backend(eng, YL_OP_BOX_DECODE_FORWARD, dist, &be));
    YL_TRY(check_tensor(op, "dist", dist, 3, be->device));
    YL_TRY(check_tensor(op, "boxes", boxes, 3, be->device));
    YL_TRY(check_same_shape(op, "dist", dist, "boxes", boxes));
    int64_t anchors = 0;
    YL_TRY(check_box_decode_params(op, p, &anchors));
    char shape[96];
    if (dist->shape[1] != 4)
        return yl_error(YL_ERR_SHAPE, "%s: 'dist' %s must have 4 rows (l, t, r, b)", op,
                        yl_tensor_shape_str(dist, shape, sizeof shape));
    if (dist->shape[2] != anchors)
        return yl_error(YL_ERR_SHAPE, "%s: 'dist' %s has %lld anchors, the %d level grids have %lld", op,
                        yl_tensor_shape_str(dist, shape, sizeof shape), (long long)dist->shape[2], p->levels,
                        (long long)anchors);
    return be->box_decode_forward(be, dist, boxes, p);
}
