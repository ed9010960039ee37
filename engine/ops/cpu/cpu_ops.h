// The CPU backend's op implementations (plain C, OpenMP, OpenBLAS). Arguments are already
// checked by ops.c; see backend.h for each op's contract.
#pragma once
#include "../backend.h"

// The backend's shared scratch buffer (im2col columns and the like). It grows to the largest
// request and is reused, so a training step allocates only on its first call.
yl_status yl_cpu_workspace(yl_backend *be, size_t bytes, float **out);

yl_status yl_cpu_conv2d_forward(yl_backend *be, const yl_tensor *x, const yl_tensor *w, const yl_tensor *bias,
                                yl_tensor *y, const yl_conv2d_params *p);
yl_status yl_cpu_conv2d_backward_data(yl_backend *be, const yl_tensor *dy, const yl_tensor *w, yl_tensor *dx,
                                      const yl_conv2d_params *p, bool accumulate);
yl_status yl_cpu_conv2d_backward_weight(yl_backend *be, const yl_tensor *x, const yl_tensor *dy, yl_tensor *dw,
                                        yl_tensor *dbias, const yl_conv2d_params *p, bool accumulate);

yl_status yl_cpu_batchnorm2d_forward_train(yl_backend *be, const yl_tensor *x, const yl_tensor *gamma,
                                           const yl_tensor *beta, yl_tensor *running_mean, yl_tensor *running_var,
                                           yl_tensor *y, yl_tensor *save_mean, yl_tensor *save_invstd,
                                           const yl_batchnorm_params *p);
yl_status yl_cpu_batchnorm2d_forward_eval(yl_backend *be, const yl_tensor *x, const yl_tensor *gamma,
                                          const yl_tensor *beta, const yl_tensor *running_mean,
                                          const yl_tensor *running_var, yl_tensor *y, const yl_batchnorm_params *p);
yl_status yl_cpu_batchnorm2d_backward_train(yl_backend *be, const yl_tensor *x, const yl_tensor *dy,
                                            const yl_tensor *gamma, const yl_tensor *save_mean,
                                            const yl_tensor *save_invstd, yl_tensor *dx, yl_tensor *dgamma,
                                            yl_tensor *dbeta, bool accumulate);
yl_status yl_cpu_batchnorm2d_backward_eval(yl_backend *be, const yl_tensor *x, const yl_tensor *dy,
                                           const yl_tensor *gamma, const yl_tensor *running_mean,
                                           const yl_tensor *running_var, yl_tensor *dx, yl_tensor *dgamma,
                                           yl_tensor *dbeta, const yl_batchnorm_params *p, bool accumulate);
yl_status yl_cpu_bn_silu_forward_train(yl_backend *be, const yl_tensor *x, const yl_tensor *gamma,
                                       const yl_tensor *beta, yl_tensor *running_mean, yl_tensor *running_var,
                                       yl_tensor *y_bn, yl_tensor *y, yl_tensor *save_mean, yl_tensor *save_invstd,
                                       const yl_batchnorm_params *p);
yl_status yl_cpu_bn_silu_forward_eval(yl_backend *be, const yl_tensor *x, const yl_tensor *gamma,
                                      const yl_tensor *beta, const yl_tensor *running_mean,
                                      const yl_tensor *running_var, yl_tensor *y_bn, yl_tensor *y,
                                      const yl_batchnorm_params *p);

yl_status yl_cpu_silu_forward(yl_backend *be, const yl_tensor *x, yl_tensor *y);
yl_status yl_cpu_silu_backward(yl_backend *be, const yl_tensor *x, const yl_tensor *dy, yl_tensor *dx,
                               bool accumulate);
yl_status yl_cpu_sigmoid_forward(yl_backend *be, const yl_tensor *x, yl_tensor *y);
yl_status yl_cpu_sigmoid_backward(yl_backend *be, const yl_tensor *y, const yl_tensor *dy, yl_tensor *dx,
                                  bool accumulate);
yl_status yl_cpu_add_forward(yl_backend *be, const yl_tensor *a, const yl_tensor *b, yl_tensor *y);
yl_status yl_cpu_add_backward(yl_backend *be, const yl_tensor *dy, yl_tensor *da, yl_tensor *db, bool accumulate);

yl_status yl_cpu_maxpool2d_forward(yl_backend *be, const yl_tensor *x, yl_tensor *y, const yl_maxpool2d_params *p);
yl_status yl_cpu_maxpool2d_backward(yl_backend *be, const yl_tensor *x, const yl_tensor *dy, yl_tensor *dx,
                                    const yl_maxpool2d_params *p, bool accumulate);
yl_status yl_cpu_upsample_nearest2x_forward(yl_backend *be, const yl_tensor *x, yl_tensor *y);
yl_status yl_cpu_upsample_nearest2x_backward(yl_backend *be, const yl_tensor *dy, yl_tensor *dx, bool accumulate);
yl_status yl_cpu_concat_channels(yl_backend *be, const yl_tensor *const *parts, int count, yl_tensor *whole,
                                 bool accumulate);
yl_status yl_cpu_split_channels(yl_backend *be, const yl_tensor *whole, yl_tensor *const *parts, int count,
                                bool accumulate);

yl_status yl_cpu_dfl_decode_forward(yl_backend *be, const yl_tensor *x, yl_tensor *y);
yl_status yl_cpu_dfl_decode_backward(yl_backend *be, const yl_tensor *x, const yl_tensor *dy, yl_tensor *dx,
                                     bool accumulate);
yl_status yl_cpu_box_decode_forward(yl_backend *be, const yl_tensor *dist, yl_tensor *boxes,
                                    const yl_box_decode_params *p);
