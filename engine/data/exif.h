// EXIF orientation: read from a JPEG's APP1 "Exif" segment (a small, bounded TIFF walk of IFD0),
// and applied to decoded pixels, as cv2.imread does (spec yolov8.md §4.1: image sizes honour the
// EXIF rotation).
#pragma once
#include <stddef.h>
#include <stdio.h>
#include <stdint.h>

#include "engine/core/status.h"
#include "engine/data/sample.h"

// The orientation tag (1..8) of a JPEG held in `data`; 1 when there is none, or when the data is
// not a JPEG or is malformed (never reads outside data[0, size)).
int yl_jpeg_exif_orientation(const uint8_t *data, size_t size);
// The same from an open JPEG file, reading only the segment headers and the Exif segment (at most
// 64 KiB); the file position is left anywhere.
int yl_jpeg_exif_orientation_file(FILE *file);

// The displayed size of a stored width x height image (orientations 5..8 swap the sides).
void yl_oriented_size(int orientation, int width, int height, int *out_width, int *out_height);

// Turns stored pixels into displayed pixels: 2 mirror left-right, 3 rotate 180, 4 mirror top-bottom,
// 5 transpose, 6 rotate 90 clockwise, 7 transverse, 8 rotate 90 counter-clockwise; 1 (or any other
// value) leaves the image unchanged.
yl_status yl_image_apply_orientation(yl_image_u8 *image, int orientation);
