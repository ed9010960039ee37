// Non-maximum suppression on the Detect head's eval output, as Ultralytics 8.3
// ops.non_max_suppression runs it for validation (multi_label) and prediction (best class only).
//
// Per image: candidates are anchors whose best score > conf_thres; each becomes one detection per
// class above conf_thres (multi_label, in anchor-then-class order) or one for its best class
// (lowest class index among equal best scores); the optional class filter applies; if more than
// max_nms remain, the max_nms highest scores are kept; boxes are offset by cls * max_wh (0 when
// agnostic) and greedy NMS keeps, in descending score order, every box whose IoU with each kept
// box is <= iou_thres; the first max_det are returned, in that order.
//
// Equal scores: ordered by candidate index, i.e. (anchor, class) order. This is the order
// torchvision.ops.nms (0.14, CPU) produces — its score sort behaves stably — and the order the
// parity fixture checks. Ultralytics' own pre-selection when more than max_nms candidates remain
// uses torch.argsort, whose order of equal scores is unspecified; ties there may differ.
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "boxes.h"
#include "engine/core/status.h"
#include "engine/core/tensor.h"
#include "engine/ops/backend.h"

typedef struct {
    float conf_thres;         // keep scores > conf_thres (compared in float32, like torch)
    double iou_thres;         // suppress IoU > iou_thres (torchvision compares the float IoU as a double)
    bool multi_label;         // one detection per (anchor, class) above conf; ignored when nc == 1
    bool agnostic;            // NMS across classes (single_cls / agnostic_nms)
    int max_det;              // detections kept per image
    int64_t max_nms;          // candidates that enter NMS, highest scores first
    float max_wh;             // class offset (pixels) that keeps classes apart in class-aware NMS
    const int32_t *classes;   // optional class filter (NULL: every class)
    int n_classes;
} yl_nms_options;

// Validation settings (conf 0.001, IoU 0.7, multi_label, max_det 300, max_nms 30000, max_wh 7680).
yl_nms_options yl_nms_options_val(void);
// Prediction settings (conf 0.25, IoU 0.7, best class only, max_det 300).
yl_nms_options yl_nms_options_predict(void);

// Bytes of workspace yl_nms needs for images of `anchors` anchors and `nc` classes.
size_t yl_nms_workspace_bytes(int64_t anchors, int64_t nc, const yl_nms_options *options);

// pred: F32 CPU tensor (B, 4 + nc, A), rows cx, cy, w, h (pixels of the network input) then the
// nc class scores (sigmoid), any strides. Writes image b's detections to out[b * max_det ...] and
// their number to counts[b]; boxes are xyxy in network-input pixels, without the class offset.
// Errors: bad options or shapes (naming them), a NaN score (YL_ERR_NUMERIC, naming image, anchor
// and class), a non-finite box on a candidate anchor, a workspace that is too small.
yl_status yl_nms(const yl_tensor *pred, const yl_nms_options *options, void *workspace, size_t workspace_bytes,
                 yl_detection *out, int64_t *counts);

// The same NMS on the GPU (kernels/nms.cu), with the same output bit for bit (candidates, order, boxes,
// scores, classes, anchors). pred: F32 CUDA tensor (B, 4 + nc, A), any strides. `cuda` is the CUDA
// backend whose stream runs it; the scratch lives in its shared workspace: 16 bytes per (anchor, class)
// pair (per anchor for best class) for the sort, and n^2 / 8 bytes of suppression masks with n =
// min(pairs, max_nms), ~112 MB at max_nms 30000. Image b's detections go to
// device_out[b * max_det ...] (device memory, e.g. for yl_match_predictions_cuda; may be NULL) and to
// out[b * max_det ...] (host; may be NULL), their number to counts[b] (host). Blocks until done.
// Errors: as yl_nms (YL_ERR_DEVICE for a CPU tensor or a non-CUDA backend), YL_ERR_UNSUPPORTED in a
// build without CUDA or when n above exceeds 393216 (the scan keeps one bit per box in shared memory).
// Batching: images run one after another on the stream, each with its own sort.
yl_status yl_nms_cuda(yl_backend *cuda, const yl_tensor *pred, const yl_nms_options *options, yl_detection *device_out,
                      yl_detection *out, int64_t *counts);
