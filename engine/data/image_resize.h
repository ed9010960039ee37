// Resizing as Ultralytics' load_image does it (spec yolov8.md §4.3 step 1, used for training and,
// with the same rule, for validation §4.5): the long side becomes imgsz, the aspect ratio is kept,
// small images are up-scaled, and the pixels are interpolated with cv2.resize(INTER_LINEAR).
// (Older Ultralytics used INTER_AREA for shrinking without augmentation; the spec documents
// INTER_LINEAR for 8.3.x, so that is the one rule here.)
#pragma once
#include "engine/core/status.h"
#include "engine/data/sample.h"

// r = imgsz / max(w0, h0); when r != 1: w = min(ceil(w0 r), imgsz), h = min(ceil(h0 r), imgsz),
// in double precision as Python computes it. imgsz <= 0 keeps the size.
void yl_image_fit_long_side(int width0, int height0, int imgsz, int *width, int *height);

// cv2.resize(src, (width, height), interpolation=INTER_LINEAR) for 8-bit RGB: pixel-centre
// alignment, edge pixels replicated, 11-bit fixed-point weights and OpenCV's SIMD rounding; an
// exact 2x shrink is a 2x2 average, as cv2 switches to INTER_AREA then. Bit-exact with cv2
// (opencv-python 5.0.0, x86-64) on 300 random sizes from 1 to 90 pixels; the test checks a
// committed cv2 fixture (tools/reference/data_resize_cv2.py). `dst` receives a new image.
yl_status yl_image_resize_linear(const yl_image_u8 *src, int width, int height, yl_image_u8 *dst);
