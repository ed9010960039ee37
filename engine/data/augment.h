// Train-time augmentation with Ultralytics 8.3 semantics and defaults (spec yolov8.md §4.3-4.4):
// 4-image mosaic on a 2s x 2s canvas, a random affine (perspective) warp back to s x s, box
// candidate filtering, HSV jitter in OpenCV's 8-bit HSV, and flips. After close_mosaic the
// image is letterboxed to s x s instead and gets the same warp, HSV and flips.
// All draws come from the caller's yl_rng: the same rng state gives the same sample. The
// distributions match Ultralytics'; the random stream does not (it uses Python's random). Given
// the same draws, the pixels are OpenCV's bytes (warp and HSV are checked against cv2).
// Mosaic partners are drawn uniformly from the partner pool (the whole source by default), as
// Ultralytics does with cache='ram'; without it, Ultralytics draws them from a buffer of recently
// loaded images, whose content depends on worker timing, which would break reproducibility.
// MixUp, CutMix and copy-paste (all off by default) are not implemented; Albumentations
// (active in Ultralytics only when that package is installed) is not either.
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "engine/core/rng.h"
#include "engine/data/sample.h"
#include "engine/data/sample_source.h"

typedef struct {
    int imgsz;             // output side s
    float mosaic;          // probability of a mosaic (1.0)
    int close_mosaic;      // mosaic off for the last N epochs (10)
    float degrees;         // rotation range +-deg (0)
    float translate;       // translation +-fraction of s (0.1)
    float scale;           // scale gain in [1 - scale, 1 + scale] (0.5)
    float shear;           // shear range +-deg (0)
    float perspective;     // perspective range (0)
    float hsv_h, hsv_s, hsv_v;  // HSV gains (0.015, 0.7, 0.4)
    float flipud, fliplr;  // flip probabilities (0, 0.5)
    float mixup, copy_paste;    // not implemented: must be 0 (their Ultralytics default)
    float box_wh_thr;      // box candidates: kept boxes are wider and taller than this, in px (2)
    float box_ar_thr;      // ... with an aspect ratio below this (100)
    float box_area_thr;    // ... and at least this fraction of their scaled area left (0.1)
    uint8_t fill;          // canvas and border value (114)
} yl_augment_options;

yl_augment_options yl_augment_defaults(int imgsz);
// YL_ERR_INVALID_ARG / YL_ERR_UNSUPPORTED naming the bad option.
yl_status yl_augment_check(const yl_augment_options *options);
// Whether epoch `epoch` (0-based) of `epochs` uses mosaics: mosaic > 0 and the epoch comes before
// the last close_mosaic epochs (Ultralytics closes at epoch == epochs - close_mosaic).
bool yl_augment_mosaic_active(const yl_augment_options *options, int epoch, int epochs);

// A box in pixels of some image, corners (x1, y1) top-left and (x2, y2) bottom-right.
typedef struct {
    int cls;
    float x1, y1, x2, y2;
} yl_pixel_box;

// Buffers reused from sample to sample (one per worker thread). Zero-initialise it.
typedef struct {
    yl_sample tiles[4];  // samples loaded for the current call
    uint8_t *canvas;
    size_t canvas_bytes;
    uint8_t *output;
    size_t output_bytes;
    yl_pixel_box *boxes, *warped;
    yl_box_label *labels;
    int box_capacity;
} yl_augment_scratch;

void yl_augment_scratch_free(yl_augment_scratch *scratch);

// Picks a mosaic partner for the image `index` (yl_batch_sampler.draw_like fits).
typedef struct {
    int (*draw)(void *ctx, int index, yl_rng *rng);
    void *ctx;
} yl_partner_picker;

// Builds one s x s training sample from source index `index`: a mosaic with 3 partners (from
// `partners`, or uniformly from the source when NULL) when `mosaic_active` and a draw below
// options->mosaic, else a letterbox; then warp, HSV, flips. `out` borrows the scratch's buffers
// (valid until the next call; do not free it): an s x s image, labels normalised to it,
// original size and path of sample `index`. Errors from the source are passed on.
yl_status yl_augment_train_sample(const yl_augment_options *options, const yl_sample_source *source, int index,
                                  bool mosaic_active, const yl_partner_picker *partners, yl_rng *rng,
                                  yl_augment_scratch *scratch, yl_sample *out);

// ---- the steps, public for tests and for other pipelines -------------------------------------

// Places 4 tiles around the centre (xc, yc) of a 2s x 2s canvas (top-left, top-right,
// bottom-left, bottom-right of the centre, each cropped to the canvas), filling the rest with
// `fill`. Writes their labels as canvas pixel boxes clipped to the canvas, zero-area ones
// dropped; `boxes` holds at least the tiles' label count. Returns the number of boxes.
int yl_mosaic4(const yl_sample *const tiles[4], int imgsz, int xc, int yc, uint8_t fill, yl_image_u8 *canvas,
               yl_pixel_box *boxes);

// Draws the transform M = T S R P C of Ultralytics' RandomPerspective for an in_w x in_h input
// and an out_w x out_h output (C centres the input; R rotates and scales by `*scale`).
void yl_random_perspective_matrix(const yl_augment_options *options, int in_w, int in_h, int out_w, int out_h,
                                  yl_rng *rng, double m[9], double *scale);
// Maps boxes by M (corners, then their min/max), clips them to the output and keeps the
// candidates (compared with the input box scaled by `scale`). Returns how many were written.
int yl_perspective_boxes(const yl_augment_options *options, const double m[9], double scale, const yl_pixel_box *in,
                         int count, int out_w, int out_h, yl_pixel_box *out);
// Ultralytics' box_candidates for one box: before (w1, h1) scaled, after (w2, h2).
bool yl_box_candidate(double w1, double h1, double w2, double h2, double wh_thr, double ar_thr, double area_thr);

// HSV: gains r = U(-1, 1) * (hsv_h, hsv_s, hsv_v); applied through 256-entry tables on the
// OpenCV 8-bit HSV image: hue (x + r0 * 180) mod 180, saturation and value x * (1 + r),
// clipped to [0, 255] and truncated (Ultralytics >= 8.3.83).
void yl_hsv_draw_gains(const yl_augment_options *options, yl_rng *rng, float gains[3]);
void yl_hsv_apply(yl_image_u8 *image, const float gains[3]);
// OpenCV's COLOR_RGB2HSV / COLOR_HSV2RGB for 8 bits: H in [0, 180), S and V in [0, 255]
// (HSV -> RGB as OpenCV's vectorised path computes it: FMA, truncation).
void yl_rgb_to_hsv_u8(const uint8_t rgb[3], uint8_t hsv[3]);
void yl_hsv_to_rgb_u8(const uint8_t hsv[3], uint8_t rgb[3]);

// Mirror the image and its labels (normalised) left-right / top-bottom.
void yl_flip_horizontal(yl_image_u8 *image, yl_box_label *labels, int count);
void yl_flip_vertical(yl_image_u8 *image, yl_box_label *labels, int count);
