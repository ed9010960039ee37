// Image files in, RGB pixels out: JPEG, PNG and BMP through stb_image, with the EXIF orientation of
// JPEGs applied (as cv2.imread does). Images smaller than 10 pixels on a side are refused, as
// Ultralytics drops them (spec yolov8.md §4.1). Every error names the file.
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "engine/core/status.h"
#include "engine/data/sample.h"

typedef enum {
    YL_IMAGE_UNKNOWN = 0,
    YL_IMAGE_JPEG,
    YL_IMAGE_PNG,
    YL_IMAGE_BMP,
} yl_image_format;

typedef struct {
    int width, height;  // as displayed, after the EXIF orientation
    int orientation;    // EXIF 1..8 (1: none)
    yl_image_format format;
    int jpeg_missing_end_marker;  // a JPEG without its FFD9 trailer (Ultralytics warns and re-saves)
} yl_image_info;

#define YL_IMAGE_MIN_SIDE 10

// Header only (no decoding): format, size and orientation.
yl_status yl_image_probe(const char *path, yl_image_info *info);
// Decodes to 8-bit RGB with the orientation applied; `out` owns new pixels.
yl_status yl_image_read(const char *path, yl_image_u8 *out);
// The same from bytes in memory; `name` is used in messages.
yl_status yl_image_decode(const uint8_t *data, size_t size, const char *name, yl_image_u8 *out);

const char *yl_image_format_name(yl_image_format format);
