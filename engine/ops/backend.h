// The backend seam: a table of op functions per backend (CPU, CUDA), ggml style.
//
// Backends implement the functions on tensors whose shapes, dtypes and devices the dispatch
// layer (ops.c) has already checked, so an implementation only computes. All tensors are
// contiguous NCHW fp32. Backward functions either overwrite their outputs (accumulate = false)
// or add to them (accumulate = true), so a tensor that feeds several consumers can collect its
// gradient in place, as cuDNN's beta = 1 does.
#pragma once
#include <stdbool.h>
#include <stddef.h>

#include "../core/status.h"
#include "../core/tensor.h"

#ifdef __cplusplus
extern "C" {  // the CUDA translation units (kernels/*.cu) include this header
#endif

typedef enum {
    YL_OP_CONV2D_FORWARD = 0,
    YL_OP_CONV2D_BACKWARD_DATA,
    YL_OP_CONV2D_BACKWARD_WEIGHT,
    YL_OP_BATCHNORM2D_FORWARD_TRAIN,
    YL_OP_BATCHNORM2D_FORWARD_EVAL,
    YL_OP_BATCHNORM2D_BACKWARD_TRAIN,
    YL_OP_BATCHNORM2D_BACKWARD_EVAL,
    YL_OP_SILU_FORWARD,
    YL_OP_SILU_BACKWARD,
    YL_OP_BN_SILU_FORWARD_TRAIN,  // fused batchnorm2d (train) + SiLU
    YL_OP_BN_SILU_FORWARD_EVAL,   // fused batchnorm2d (eval) + SiLU
    YL_OP_MAXPOOL2D_FORWARD,
    YL_OP_MAXPOOL2D_BACKWARD,
    YL_OP_UPSAMPLE_NEAREST2X_FORWARD,
    YL_OP_UPSAMPLE_NEAREST2X_BACKWARD,
    YL_OP_CONCAT_CHANNELS,  // forward of concat, backward of split
    YL_OP_SPLIT_CHANNELS,   // forward of split, backward of concat
    YL_OP_ADD_FORWARD,
    YL_OP_ADD_BACKWARD,
    YL_OP_SIGMOID_FORWARD,
    YL_OP_SIGMOID_BACKWARD,
    YL_OP_DFL_DECODE_FORWARD,
    YL_OP_DFL_DECODE_BACKWARD,
    YL_OP_BOX_DECODE_FORWARD,  // Detect inference: anchor distances -> (cx, cy, w, h) pixels
    YL_OP_COUNT
} yl_op;

const char *yl_op_name(yl_op op);

typedef struct {
    int stride;  // 1 or 2
    int pad;     // "same" padding: kernel / 2
} yl_conv2d_params;

typedef struct {
    float eps;       // 1e-3 in YOLOv8
    float momentum;  // 0.03 in YOLOv8: running = (1 - momentum) * running + momentum * batch
} yl_batchnorm_params;

typedef struct {
    int kernel;  // 5 in SPPF
    int stride;  // 1
    int pad;     // 2; padded positions act as -inf
} yl_maxpool2d_params;

#define YL_BOX_DECODE_MAX_LEVELS 4

// The anchor grids of a Detect head: level l has height[l] x width[l] anchors at grid points
// (x + 0.5, y + 0.5), row-major; levels follow each other in order; stride[l] pixels per grid unit.
typedef struct {
    int levels;  // 1 .. YL_BOX_DECODE_MAX_LEVELS
    int height[YL_BOX_DECODE_MAX_LEVELS];
    int width[YL_BOX_DECODE_MAX_LEVELS];
    float stride[YL_BOX_DECODE_MAX_LEVELS];
} yl_box_decode_params;

typedef struct yl_backend yl_backend;

struct yl_backend {
    const char *name;
    yl_device device;
    void *impl;  // backend-private state (handles, workspace, caches)

    bool (*supports)(const yl_backend *be, yl_op op);
    void (*destroy)(yl_backend *be);

    // Memory: device allocations and host<->device copies.
    yl_status (*alloc)(yl_backend *be, size_t bytes, void **out);
    void (*free)(yl_backend *be, void *ptr);
    yl_status (*copy_from_host)(yl_backend *be, void *dst, const void *src, size_t bytes);
    yl_status (*copy_to_host)(yl_backend *be, void *dst, const void *src, size_t bytes);
    yl_status (*memset_zero)(yl_backend *be, void *dst, size_t bytes);
    yl_status (*synchronize)(yl_backend *be);

    // conv2d: x (N,C,H,W), w (K,C,kh,kw) with kh == kw odd, bias (K) or NULL, y (N,K,Ho,Wo).
    yl_status (*conv2d_forward)(yl_backend *be, const yl_tensor *x, const yl_tensor *w,
                                const yl_tensor *bias, yl_tensor *y, const yl_conv2d_params *p);
    yl_status (*conv2d_backward_data)(yl_backend *be, const yl_tensor *dy, const yl_tensor *w,
                                      yl_tensor *dx, const yl_conv2d_params *p, bool accumulate);
    // dbias may be NULL.
    yl_status (*conv2d_backward_weight)(yl_backend *be, const yl_tensor *x, const yl_tensor *dy,
                                        yl_tensor *dw, yl_tensor *dbias, const yl_conv2d_params *p,
                                        bool accumulate);

    // batchnorm2d, PyTorch semantics. Train: normalise with the biased batch variance, update the
    // running estimates with the unbiased one, save the batch mean and 1/sqrt(var + eps) (C each)
    // for the backward pass.
    yl_status (*batchnorm2d_forward_train)(yl_backend *be, const yl_tensor *x, const yl_tensor *gamma,
                                           const yl_tensor *beta, yl_tensor *running_mean,
                                           yl_tensor *running_var, yl_tensor *y, yl_tensor *save_mean,
                                           yl_tensor *save_invstd, const yl_batchnorm_params *p);
    yl_status (*batchnorm2d_forward_eval)(yl_backend *be, const yl_tensor *x, const yl_tensor *gamma,
                                          const yl_tensor *beta, const yl_tensor *running_mean,
                                          const yl_tensor *running_var, yl_tensor *y,
                                          const yl_batchnorm_params *p);
    // accumulate applies to dx, dgamma and dbeta alike.
    yl_status (*batchnorm2d_backward_train)(yl_backend *be, const yl_tensor *x, const yl_tensor *dy,
                                            const yl_tensor *gamma, const yl_tensor *save_mean,
                                            const yl_tensor *save_invstd, yl_tensor *dx,
                                            yl_tensor *dgamma, yl_tensor *dbeta, bool accumulate);
    yl_status (*batchnorm2d_backward_eval)(yl_backend *be, const yl_tensor *x, const yl_tensor *dy,
                                           const yl_tensor *gamma, const yl_tensor *running_mean,
                                           const yl_tensor *running_var, yl_tensor *dx,
                                           yl_tensor *dgamma, yl_tensor *dbeta,
                                           const yl_batchnorm_params *p, bool accumulate);

    // SiLU(x) = x * sigmoid(x); backward from x.
    yl_status (*silu_forward)(yl_backend *be, const yl_tensor *x, yl_tensor *y);
    yl_status (*silu_backward)(yl_backend *be, const yl_tensor *x, const yl_tensor *dy, yl_tensor *dx,
                               bool accumulate);

    // Fused BN + SiLU. Writes the BN output (pre-activation) to y_bn, which the backward needs,
    // and SiLU of it to y. Same statistics semantics as the unfused ops.
    yl_status (*bn_silu_forward_train)(yl_backend *be, const yl_tensor *x, const yl_tensor *gamma,
                                       const yl_tensor *beta, yl_tensor *running_mean,
                                       yl_tensor *running_var, yl_tensor *y_bn, yl_tensor *y,
                                       yl_tensor *save_mean, yl_tensor *save_invstd,
                                       const yl_batchnorm_params *p);
    yl_status (*bn_silu_forward_eval)(yl_backend *be, const yl_tensor *x, const yl_tensor *gamma,
                                      const yl_tensor *beta, const yl_tensor *running_mean,
                                      const yl_tensor *running_var, yl_tensor *y_bn, yl_tensor *y,
                                      const yl_batchnorm_params *p);

    // Max-pool with -inf padding; backward routes each gradient to the first maximum in scan
    // order of its window (PyTorch's choice), recomputed from x.
    yl_status (*maxpool2d_forward)(yl_backend *be, const yl_tensor *x, yl_tensor *y,
                                   const yl_maxpool2d_params *p);
    yl_status (*maxpool2d_backward)(yl_backend *be, const yl_tensor *x, const yl_tensor *dy,
                                    yl_tensor *dx, const yl_maxpool2d_params *p, bool accumulate);

    // Nearest upsample x2: y[n,c,i,j] = x[n,c,i/2,j/2].
    yl_status (*upsample_nearest2x_forward)(yl_backend *be, const yl_tensor *x, yl_tensor *y);
    yl_status (*upsample_nearest2x_backward)(yl_backend *be, const yl_tensor *dy, yl_tensor *dx,
                                             bool accumulate);

    // Channel concat: parts[i] occupy channels [offset_i, offset_i + C_i) of whole, in order.
    yl_status (*concat_channels)(yl_backend *be, const yl_tensor *const *parts, int count,
                                 yl_tensor *whole, bool accumulate);
    yl_status (*split_channels)(yl_backend *be, const yl_tensor *whole, yl_tensor *const *parts,
                                int count, bool accumulate);

    // y = a + b; backward: da (+)= dy, db (+)= dy (either may be NULL).
    yl_status (*add_forward)(yl_backend *be, const yl_tensor *a, const yl_tensor *b, yl_tensor *y);
    yl_status (*add_backward)(yl_backend *be, const yl_tensor *dy, yl_tensor *da, yl_tensor *db,
                              bool accumulate);

    // Sigmoid; backward from the output y.
    yl_status (*sigmoid_forward)(yl_backend *be, const yl_tensor *x, yl_tensor *y);
    yl_status (*sigmoid_backward)(yl_backend *be, const yl_tensor *y, const yl_tensor *dy,
                                  yl_tensor *dx, bool accumulate);

    // DFL decode: x (B, 4*R, A) box logits, side-major (channel = side * R + bin); y (B, 4, A) =
    // sum_k k * softmax_k(x[b, side*R : side*R + R, a]).
    yl_status (*dfl_decode_forward)(yl_backend *be, const yl_tensor *x, yl_tensor *y);
    yl_status (*dfl_decode_backward)(yl_backend *be, const yl_tensor *x, const yl_tensor *dy,
                                     yl_tensor *dx, bool accumulate);

    // Box decode (Ultralytics dist2bbox, xywh, times stride): dist (B, 4, A) distances (l, t, r, b)
    // in grid units from each anchor; boxes (B, 4, A) = (cx, cy, w, h) in pixels, with
    // x1y1 = anchor - lt, x2y2 = anchor + rb, c = (x1y1 + x2y2) / 2, wh = x2y2 - x1y1.
    yl_status (*box_decode_forward)(yl_backend *be, const yl_tensor *dist, yl_tensor *boxes,
                                    const yl_box_decode_params *p);
};

// The CPU backend is always available.
yl_status yl_backend_cpu_create(yl_backend **out);

// The CUDA backend. Fails with YL_ERR_UNSUPPORTED when the build has no CUDA, and with
// YL_ERR_DEVICE when no GPU is present; the message says which.
yl_status yl_backend_cuda_create(yl_backend **out, int device_index);

void yl_backend_destroy(yl_backend *be);

#ifdef __cplusplus
}
#endif
