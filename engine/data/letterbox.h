// Letterbox: scale an image to fit a target shape keeping its aspect ratio, then pad with a
// constant (114) to that shape, as Ultralytics' LetterBox does (train after close_mosaic,
// validation, prediction). The plan says how coordinates move, so boxes can be mapped both ways.
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "engine/data/sample.h"

typedef struct {
    int width, height;  // target shape
    bool auto_pad;      // Ultralytics auto=True: pad only up to the next multiple of `stride`
    bool scaleup;       // allow enlarging (false: only shrink, as in validation)
    bool center;        // pad both sides equally (false: right and bottom only)
    int stride;
    uint8_t pad_value;
} yl_letterbox_options;

typedef struct {
    int src_width, src_height;
    int resized_width, resized_height;  // the image inside the padding
    int width, height;                  // output
    float ratio;                        // output pixel = source pixel * ratio + pad
    int pad_left, pad_top, pad_right, pad_bottom;
} yl_letterbox_info;

// Ultralytics' LetterBox defaults for a target shape: scaleup, centred, no auto, stride 32, 114.
yl_letterbox_options yl_letterbox_defaults(int width, int height);

// Computes the geometry (Ultralytics' rounding: new size = round(size * r), top = round(dh - 0.1),
// bottom = round(dh + 0.1) with Python's round-half-to-even).
yl_status yl_letterbox_plan(int src_width, int src_height, const yl_letterbox_options *options,
                            yl_letterbox_info *info);
// Writes the letterboxed image into `dst`, whose pixels hold info->width x info->height.
yl_status yl_letterbox_apply(const yl_image_u8 *src, const yl_letterbox_info *info, uint8_t pad_value,
                             yl_image_u8 *dst);

// Labels normalised to the source image -> normalised to the letterboxed image (in place).
void yl_letterbox_map_labels(const yl_letterbox_info *info, yl_box_label *labels, int count);
// Pixel xyxy boxes: source -> output and output -> source (for mapping predictions back).
void yl_letterbox_map_xyxy(const yl_letterbox_info *info, const float in[4], float out[4]);
void yl_letterbox_unmap_xyxy(const yl_letterbox_info *info, const float in[4], float out[4]);
