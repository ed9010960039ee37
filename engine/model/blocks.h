// YOLOv8 building blocks: Conv (conv + BN + SiLU), Bottleneck, C2f, SPPF and the Detect head,
// each with declare (state entries, in state_dict order), bind (views of the carved entries),
// plan (activations), forward (train or eval BN) and backward.
//
// Backward of a Conv unit: silu_backward(y_bn) (SiLU units only) -> batchnorm2d_backward_train ->
// conv2d backward weight and data. Parameter gradients accumulate (several backward passes add up
// until zero_grad; right after zero_grad they are simply written); an input's gradient is
// overwritten by its first consumer and accumulated by the others (yl_grad_accumulate).
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "activation.h"
#include "model_config.h"
#include "state.h"

#define YL_UNIT_NAME_SIZE YL_CONV_NAME_SIZE

// What every block's forward and backward share.
typedef struct {
    yl_engine *eng;
    yl_batchnorm_params bn;     // eps 1e-3, momentum 0.03
    bool training;              // BN with batch statistics (and running-stat updates)
    bool fresh_grads;           // parameter gradients are all zero (zero_grad since the last
                                // backward): they can be written instead of accumulated
    yl_tensor scratch_a;        // spatial scratch, as large as the largest activation
    yl_tensor scratch_b;
    yl_tensor scratch_dgamma;   // per-channel scratch, as wide as the widest layer
    yl_tensor scratch_dbeta;
} yl_block_context;

// Conv(c1, c2, k, s) = Conv2d(bias=False) + BatchNorm2d + SiLU (or Identity: `act`), or (has_bn
// false) a plain Conv2d with bias: the last conv of each Detect branch.
typedef struct {
    char name[YL_UNIT_NAME_SIZE];  // state_dict prefix, e.g. "model.2.m.0.cv1"
    int c_in, c_out, kernel, stride;
    int down_out;  // output resolution divisor
    bool has_bn;
    yl_conv_act act;  // after BN; SiLU unless the model config says otherwise
    bool bn_frozen;   // BN in eval mode even in a training forward (a frozen layer, as Ultralytics)
    int first_entry;
    // Views of the state entries (after bind).
    yl_tensor *weight, *bias, *gamma, *beta, *running_mean, *running_var;
    yl_tensor *grad_weight, *grad_bias, *grad_gamma, *grad_beta;
    // Activations: out = SiLU(bn_out), bn_out = BN(conv_out); an Identity unit has no bn_out
    // (out = BN(conv_out)); a plain conv writes out directly.
    yl_activation out;
    yl_tensor conv_out, bn_out, save_mean, save_invstd;
} yl_conv_unit;

typedef struct {
    yl_conv_unit cv1, cv2;
    bool add;            // shortcut and c1 == c2: out = x + cv2(cv1(x))
    yl_activation sum;   // the output when add
} yl_bottleneck;

typedef struct {
    yl_conv_unit cv1, cv2;
    int n, hidden;
    yl_bottleneck *m;            // n bottlenecks
    yl_activation split[2];      // the two halves of cv1's output
    yl_activation **parts;       // n + 2 concat inputs: split[0], split[1], m[0].out, ...
    yl_activation cat;
} yl_c2f;

typedef struct {
    yl_conv_unit cv1, cv2;
    yl_maxpool2d_params pool;  // 5x5, stride 1, pad 2
    yl_activation pooled[3];
    yl_activation cat;
} yl_sppf;

// Buffers of the inference decode (yl_detect_decode): the anchors of all levels concatenated,
// P3 then P4 then P5, row-major within a level.
typedef struct {
    yl_tensor box_logits;  // (N, 64, A)
    yl_tensor cls_logits;  // (N, nc, A)
    yl_tensor distances;   // (N, 4, A): DFL expectations (l, t, r, b), grid units
    yl_tensor boxes;       // (N, 4, A): cx, cy, w, h in pixels
    yl_tensor scores;      // (N, nc, A): sigmoid of the class logits
    yl_tensor output;      // (N, 4 + nc, A): boxes then scores
} yl_detect_decode_buffers;

typedef struct {
    int nc;
    int strides[YL_YOLOV8_LEVELS];          // 8, 16, 32
    yl_conv_unit box[YL_YOLOV8_LEVELS][3];  // cv2[i]: Conv 3x3, Conv 3x3, Conv2d 1x1 (64 out)
    yl_conv_unit cls[YL_YOLOV8_LEVELS][3];  // cv3[i]: Conv 3x3, Conv 3x3, Conv2d 1x1 (nc out)
    int dfl_entry;                          // model.22.dfl.conv.weight
    yl_activation map[YL_YOLOV8_LEVELS];    // cat(box, cls): (N, 64 + nc, H/s, W/s), no gradient
    yl_detect_decode_buffers decode;
} yl_detect;

// ---- Conv unit ---------------------------------------------------------------------------
yl_status yl_conv_unit_declare(yl_state_list *state, yl_conv_unit *u, const char *name, int layer, int c_in,
                               int c_out, int kernel, int stride, int down_out, bool has_bn);
void yl_conv_unit_bind(yl_conv_unit *u, yl_state_entry *entries);
void yl_conv_unit_plan(yl_planner *p, yl_conv_unit *u);
yl_status yl_conv_unit_forward(yl_block_context *ctx, yl_conv_unit *u, const yl_tensor *x);
// input_grad false skips the data gradient (the model input when no gradient is wanted).
yl_status yl_conv_unit_backward(yl_block_context *ctx, yl_conv_unit *u, yl_activation *input, bool input_grad);
// Multiply-accumulates of the convolution (plus one per output for a bias) for a model input of
// height x width.
double yl_conv_unit_macs(const yl_conv_unit *u, int height, int width);

// ---- Bottleneck ------------------------------------------------------------------------------
yl_activation *yl_bottleneck_output(yl_bottleneck *b);

// ---- C2f -------------------------------------------------------------------------------------
yl_status yl_c2f_declare(yl_state_list *state, yl_c2f *c, int layer, int c_in, int c_out, int n, bool shortcut,
                         int down);
void yl_c2f_release(yl_c2f *c);
void yl_c2f_plan(yl_planner *p, yl_c2f *c);
yl_status yl_c2f_forward(yl_block_context *ctx, yl_c2f *c, const yl_tensor *x);
yl_status yl_c2f_backward(yl_block_context *ctx, yl_c2f *c, yl_activation *input, bool input_grad);

// ---- SPPF ------------------------------------------------------------------------------------
yl_status yl_sppf_declare(yl_state_list *state, yl_sppf *s, int layer, int c_in, int c_out, int kernel, int down);
void yl_sppf_plan(yl_planner *p, yl_sppf *s);
yl_status yl_sppf_forward(yl_block_context *ctx, yl_sppf *s, const yl_tensor *x);
yl_status yl_sppf_backward(yl_block_context *ctx, yl_sppf *s, yl_activation *input, bool input_grad);

// ---- Detect ----------------------------------------------------------------------------------
yl_status yl_detect_declare(yl_state_list *state, yl_detect *d, int layer, const yl_model_layout *layout);
void yl_detect_plan(yl_planner *p, yl_detect *d);
yl_status yl_detect_forward(yl_block_context *ctx, yl_detect *d, yl_activation *const inputs[YL_YOLOV8_LEVELS]);
// Ultralytics' eval-mode output from the last forward's branch outputs: *out receives a view
// of decode.output, (N, 4 + nc, A) with rows 0-3 = (cx, cy, w, h) in input pixels (DFL
// expectation, x1y1 = anchor - lt, x2y2 = anchor + rb, times the stride) and rows 4.. = sigmoid
// class scores.
yl_status yl_detect_decode(yl_block_context *ctx, yl_detect *d, yl_tensor *out);
// d_maps: gradients of the three head maps (same shapes as map[i].value).
yl_status yl_detect_backward(yl_block_context *ctx, yl_detect *d, const yl_tensor d_maps[YL_YOLOV8_LEVELS],
                             yl_activation *const inputs[YL_YOLOV8_LEVELS]);
