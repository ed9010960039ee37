// The op API the rest of the engine calls. Each function checks its arguments (non-NULL,
// fp32, contiguous, one device, shapes that fit) with a message naming the op and the
// tensor, then dispatches to the backend of the tensors' device. An op the backend does not
// support is an error (YL_ERR_UNSUPPORTED), never a silent fallback.
#pragma once
#include "backend.h"

typedef void (*yl_log_fn)(void *user, const char *message);

typedef struct {
    yl_backend *backends[YL_DEVICE_COUNT];  // CPU always; CUDA when requested and present
    yl_device device;                       // where the engine puts new tensors
    yl_log_fn log;
    void *log_user;
} yl_engine;

typedef struct {
    yl_device device;         // YL_DEVICE_CPU or YL_DEVICE_CUDA
    int cuda_device_index;    // which GPU
    bool allow_cpu_fallback;  // CUDA requested but unavailable: use the CPU (logged) or fail
    yl_log_fn log;            // may be NULL: messages are dropped
    void *log_user;
} yl_engine_options;

yl_status yl_engine_init(yl_engine *eng, const yl_engine_options *options);
void yl_engine_release(yl_engine *eng);
yl_backend *yl_engine_backend(const yl_engine *eng, yl_device device);
#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
void yl_engine_log(const yl_engine *eng, const char *fmt, ...);

// Output spatial size of a convolution or pooling window.
int64_t yl_conv_output_size(int64_t input, int kernel, int stride, int pad);

yl_status yl_conv2d_forward(yl_engine *eng, const yl_tensor *x, const yl_tensor *w, const yl_tensor *bias,
                            yl_tensor *y, const yl_conv2d_params *p);
yl_status yl_conv2d_backward_data(yl_engine *eng, const yl_tensor *dy, const yl_tensor *w, yl_tensor *dx,
                                  const yl_conv2d_params *p, bool accumulate);
yl_status yl_conv2d_backward_weight(yl_engine *eng, const yl_tensor *x, const yl_tensor *dy, yl_tensor *dw,
                                    yl_tensor *dbias, const yl_conv2d_params *p, bool accumulate);

yl_status yl_batchnorm2d_forward_train(yl_engine *eng, const yl_tensor *x, const yl_tensor *gamma,
                                       const yl_tensor *beta, yl_tensor *running_mean, yl_tensor *running_var,
                                       yl_tensor *y, yl_tensor *save_mean, yl_tensor *save_invstd,
                                       const yl_batchnorm_params *p);
yl_status yl_batchnorm2d_forward_eval(yl_engine *eng, const yl_tensor *x, const yl_tensor *gamma,
                                      const yl_tensor *beta, const yl_tensor *running_mean,
                                      const yl_tensor *running_var, yl_tensor *y, const yl_batchnorm_params *p);
yl_status yl_batchnorm2d_backward_train(yl_engine *eng, const yl_tensor *x, const yl_tensor *dy,
                                        const yl_tensor *gamma, const yl_tensor *save_mean,
                                        const yl_tensor *save_invstd, yl_tensor *dx, yl_tensor *dgamma,
                                        yl_tensor *dbeta, bool accumulate);
yl_status yl_batchnorm2d_backward_eval(yl_engine *eng, const yl_tensor *x, const yl_tensor *dy,
                                       const yl_tensor *gamma, const yl_tensor *running_mean,
                                       const yl_tensor *running_var, yl_tensor *dx, yl_tensor *dgamma,
                                       yl_tensor *dbeta, const yl_batchnorm_params *p, bool accumulate);

yl_status yl_silu_forward(yl_engine *eng, const yl_tensor *x, yl_tensor *y);
yl_status yl_silu_backward(yl_engine *eng, const yl_tensor *x, const yl_tensor *dy, yl_tensor *dx, bool accumulate);

yl_status yl_bn_silu_forward_train(yl_engine *eng, const yl_tensor *x, const yl_tensor *gamma,
                                   const yl_tensor *beta, yl_tensor *running_mean, yl_tensor *running_var,
                                   yl_tensor *y_bn, yl_tensor *y, yl_tensor *save_mean, yl_tensor *save_invstd,
                                   const yl_batchnorm_params *p);
yl_status yl_bn_silu_forward_eval(yl_engine *eng, const yl_tensor *x, const yl_tensor *gamma,
                                  const yl_tensor *beta, const yl_tensor *running_mean,
                                  const yl_tensor *running_var, yl_tensor *y_bn, yl_tensor *y,
                                  const yl_batchnorm_params *p);

yl_status yl_maxpool2d_forward(yl_engine *eng, const yl_tensor *x, yl_tensor *y, const yl_maxpool2d_params *p);
yl_status yl_maxpool2d_backward(yl_engine *eng, const yl_tensor *x, const yl_tensor *dy, yl_tensor *dx,
                                const yl_maxpool2d_params *p, bool accumulate);

yl_status yl_upsample_nearest2x_forward(yl_engine *eng, const yl_tensor *x, yl_tensor *y);
yl_status yl_upsample_nearest2x_backward(yl_engine *eng, const yl_tensor *dy, yl_tensor *dx, bool accumulate);

yl_status yl_concat_channels(yl_engine *eng, const yl_tensor *const *parts, int count, yl_tensor *whole,
                             bool accumulate);
yl_status yl_split_channels(yl_engine *eng, const yl_tensor *whole, yl_tensor *const *parts, int count,
                            bool accumulate);

yl_status yl_add_forward(yl_engine *eng, const yl_tensor *a, const yl_tensor *b, yl_tensor *y);
yl_status yl_add_backward(yl_engine *eng, const yl_tensor *dy, yl_tensor *da, yl_tensor *db, bool accumulate);

yl_status yl_sigmoid_forward(yl_engine *eng, const yl_tensor *x, yl_tensor *y);
yl_status yl_sigmoid_backward(yl_engine *eng, const yl_tensor *y, const yl_tensor *dy, yl_tensor *dx,
                              bool accumulate);

yl_status yl_dfl_decode_forward(yl_engine *eng, const yl_tensor *x, yl_tensor *y);
yl_status yl_dfl_decode_backward(yl_engine *eng, const yl_tensor *x, const yl_tensor *dy, yl_tensor *dx,
                                 bool accumulate);

// dist (B, 4, A) -> boxes (B, 4, A); A must equal the anchors of p's levels (see backend.h).
yl_status yl_box_decode_forward(yl_engine *eng, const yl_tensor *dist, yl_tensor *boxes,
                                const yl_box_decode_params *p);
