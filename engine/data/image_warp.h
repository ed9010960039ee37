// Warps for the augmentation pipeline, as cv2.warpAffine / warpPerspective with INTER_LINEAR and
// a constant border (what Ultralytics calls): integer pixel coordinates map through the inverse
// transform. Affine warps use OpenCV's 1/32-pixel fixed point and give cv2's bytes; projective
// ones compute their weights in float and may differ from cv2 by 1. (Resizing: image_resize.h.)
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "engine/data/sample.h"

// dst(x, y) = src(M^-1 (x, y, 1)) for the row-major 3x3 matrix `m` (source -> destination;
// projective when its last row is not (0, 0, 1)); samples outside `src` read `border`.
// YL_ERR_INVALID_ARG when m is singular.
yl_status yl_image_warp(const yl_image_u8 *src, const double m[9], uint8_t border, yl_image_u8 *dst);

void yl_image_fill(yl_image_u8 *image, uint8_t value);

// Copies the w x h block at (src_x, src_y) of `src` to (dst_x, dst_y) of `dst`; both blocks
// must lie inside their images.
void yl_image_copy_block(const yl_image_u8 *src, int src_x, int src_y, yl_image_u8 *dst, int dst_x, int dst_y, int w,
                         int h);

// Inverse of a 3x3 matrix; false when singular.
bool yl_matrix3_invert(const double m[9], double out[9]);
// out = a * b (3x3, row-major); out may alias neither.
void yl_matrix3_multiply(const double a[9], const double b[9], double out[9]);
