// Complete IoU (CIoU) of two xyxy boxes, as Ultralytics' bbox_iou(..., xywh=False, CIoU=True) defines it
// (spec yolov8.md §2.7, eps = 1e-7 on the heights and in the union and diagonal). CIoU is symmetric
// in its two boxes, but the rounding is not: callers pass them in Ultralytics' order (the assigner
// passes (gt, pred), the box loss (pred, target)).
#pragma once

#define YL_CIOU_EPS 1e-7f

// In float with the operations in Ultralytics' order, so that the assigner ranks anchors as it does.
float yl_box_ciou(const float box1[4], const float box2[4]);

// CIoU in double and its gradient with respect to box1, with CIoU's aspect-ratio weight alpha held
// constant (Ultralytics computes it under no_grad). Where min/max see equal arguments the gradient is
// split in half between them, and a clamped intersection side of exactly 0 still passes gradient,
// as torch's minimum/maximum/clamp backward do.
double yl_box_ciou_grad(const float box1[4], const float box2[4], double d_box1[4]);
