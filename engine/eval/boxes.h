// Box arithmetic for evaluation, written to round exactly like Ultralytics 8.3 does in float32
// (ultralytics.utils.ops.xywh2xyxy / scale_boxes / clip_boxes and utils.metrics.box_iou), so
// IoUs, kept boxes and mapped coordinates agree bit for bit with the reference.
#pragma once
#include <stdint.h>

// One detection: a row (x1, y1, x2, y2, conf, cls) of Ultralytics' NMS output, plus the anchor
// (column of the head output) it came from, which Ultralytics returns with return_idxs=True.
typedef struct {
    float x1, y1, x2, y2;
    float conf;
    int32_t cls;
    int32_t anchor;  // -1 when the detection did not come from NMS
} yl_detection;

// (cx, cy, w, h) -> (x1, y1, x2, y2): half sizes first, as xywh2xyxy does.
void yl_xywh_to_xyxy(const float xywh[4], float xyxy[4]);

// Plain IoU of two xyxy boxes as box_iou computes it (§2.7 of the spec):
// inter / (area_a + area_b - inter + 1e-7), no eps in the areas.
float yl_box_iou(const float a[4], const float b[4]);

// out[i * nb + j] = IoU(a[i], b[j]); a and b are rows of 4 floats (xyxy).
void yl_box_iou_matrix(const float *a, int64_t na, const float *b, int64_t nb, float *out);

// How a letterboxed network input maps back to the original image: subtract (pad_x, pad_y),
// then divide by gain. The validation dataset records it as ratio_pad = ((resized_h / h0,
// resized_w / w0), (left, top)) — LetterBox's own scale factor is not included — and
// scale_boxes uses only the first ratio.
typedef struct {
    double gain;
    double pad_x, pad_y;
} yl_ratio_pad;

// The ratio_pad scale_boxes derives when it is given none (the predict path): gain =
// min(h1/h0, w1/w0), pad = round((size1 - size0 * gain) / 2 - 0.1) with Python's half-to-even
// rounding. (h1, w1) is the network input, (h0, w0) the original image.
yl_ratio_pad yl_ratio_pad_from_shapes(int h1, int w1, int h0, int w0);

// scale_boxes for n xyxy boxes (rows of 4 floats, in place): unpad, divide by the gain (both in
// float32, like torch), then clip x to [0, w0] and y to [0, h0]. NaN stays NaN.
void yl_scale_boxes(float *boxes, int64_t n, const yl_ratio_pad *ratio_pad, int h0, int w0);
// The same for detections (their conf, cls and anchor are left alone).
void yl_scale_detections(yl_detection *dets, int64_t n, const yl_ratio_pad *ratio_pad, int h0, int w0);
// GT labels as DetectionValidator._prepare_batch maps them: normalized xywh on the letterboxed
// input (h1, w1) -> xyxy pixels (times w1, h1 in float32) -> scale_boxes to the original image.
// xywhn and xyxy are rows of 4 floats (may be the same array).
void yl_labels_to_original(const float *xywhn, int64_t n, int h1, int w1, const yl_ratio_pad *ratio_pad, int h0,
                           int w0, float *xyxy);
// clip_boxes alone: x to [0, w], y to [0, h].
void yl_clip_boxes(float *boxes, int64_t n, int h, int w);
