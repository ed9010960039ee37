// What the data pipeline passes between its stages: a decoded image and its boxes.
// Images are 8-bit RGB, row-major HWC (as stb_image decodes them); boxes are YOLO labels,
// normalised to the image they belong to.
#pragma once
#include <stdint.h>

#include "engine/core/status.h"

typedef struct {
    int cls;
    float cx, cy, w, h;  // normalised to [0, 1] by the image width and height
} yl_box_label;

typedef struct {
    int width;
    int height;
    uint8_t *pixels;  // width * height * 3 bytes, RGB, owned by whoever filled it
} yl_image_u8;

typedef struct {
    yl_image_u8 image;
    yl_box_label *labels;  // owned
    int label_count;
    int original_width;  // before any resize (for mapping predictions back)
    int original_height;
    const char *path;  // the image file (borrowed from the dataset index)
} yl_sample;

void yl_image_u8_free(yl_image_u8 *image);
void yl_sample_free(yl_sample *sample);
