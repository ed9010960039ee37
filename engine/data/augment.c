// The train-time pipeline: mosaic or letterbox, perspective warp, HSV, flips, normalised labels.
#include "augment.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "image_warp.h"
#include "letterbox.h"

yl_augment_options yl_augment_defaults(int imgsz) {
    yl_augment_options o = {
        .imgsz = imgsz,
        .mosaic = 1.0f,
        .close_mosaic = 10,
        .degrees = 0.0f,
        .translate = 0.1f,
        .scale = 0.5f,
        .shear = 0.0f,
        .perspective = 0.0f,
        .hsv_h = 0.015f,
        .hsv_s = 0.7f,
        .hsv_v = 0.4f,
        .flipud = 0.0f,
        .fliplr = 0.5f,
        .mixup = 0.0f,
        .copy_paste = 0.0f,
        .box_wh_thr = 2.0f,
        .box_ar_thr = 100.0f,
        .box_area_thr = 0.1f,
        .fill = 114,
    };
    return o;
}

static bool is_probability(float p) { return p >= 0.0f && p <= 1.0f; }

yl_status yl_augment_check(const yl_augment_options *o) {
    if (!o) return yl_error(YL_ERR_INVALID_ARG, "augment: options are NULL");
    if (o->imgsz < 2 || o->imgsz > 16384) return yl_error(YL_ERR_INVALID_ARG, "augment: imgsz %d out of range", o->imgsz);
    if (!is_probability(o->mosaic) || !is_probability(o->flipud) || !is_probability(o->fliplr))
        return yl_error(YL_ERR_INVALID_ARG, "augment: mosaic %g, flipud %g, fliplr %g must be in [0, 1]",
                        (double)o->mosaic, (double)o->flipud, (double)o->fliplr);
    if (o->close_mosaic < 0) return yl_error(YL_ERR_INVALID_ARG, "augment: close_mosaic %d < 0", o->close_mosaic);
    if (!(o->scale >= 0.0f && o->scale < 1.0f))
        return yl_error(YL_ERR_INVALID_ARG, "augment: scale %g must be in [0, 1)", (double)o->scale);
    if (!(o->translate >= 0.0f && o->translate <= 0.5f))
        return yl_error(YL_ERR_INVALID_ARG, "augment: translate %g must be in [0, 0.5]", (double)o->translate);
    if (!(o->degrees >= 0.0f && o->shear >= 0.0f && o->shear < 90.0f && o->perspective >= 0.0f &&
          o->perspective <= 0.001f))
        return yl_error(YL_ERR_INVALID_ARG, "augment: degrees %g, shear %g, perspective %g out of range",
                        (double)o->degrees, (double)o->shear, (double)o->perspective);
    if (!(o->hsv_h >= 0.0f && o->hsv_h <= 1.0f && o->hsv_s >= 0.0f && o->hsv_s <= 1.0f && o->hsv_v >= 0.0f &&
          o->hsv_v <= 1.0f))
        return yl_error(YL_ERR_INVALID_ARG, "augment: HSV gains %g %g %g must be in [0, 1]", (double)o->hsv_h,
                        (double)o->hsv_s, (double)o->hsv_v);
    if (o->mixup != 0.0f || o->copy_paste != 0.0f)
        return yl_error(YL_ERR_UNSUPPORTED, "augment: mixup %g / copy_paste %g are not implemented (use 0)",
                        (double)o->mixup, (double)o->copy_paste);
    if (!(o->box_wh_thr >= 0.0f && o->box_ar_thr > 1.0f && o->box_area_thr >= 0.0f && o->box_area_thr < 1.0f))
        return yl_error(YL_ERR_INVALID_ARG, "augment: box candidate thresholds wh %g ar %g area %g out of range",
                        (double)o->box_wh_thr, (double)o->box_ar_thr, (double)o->box_area_thr);
    return YL_OK;
}

bool yl_augment_mosaic_active(const yl_augment_options *o, int epoch, int epochs) {
    return o->mosaic > 0.0f && epoch < epochs - o->close_mosaic;
}

void yl_augment_scratch_free(yl_augment_scratch *s) {
    if (!s) return;
    for (int i = 0; i < 4; i++) yl_sample_free(&s->tiles[i]);
    free(s->canvas);
    free(s->output);
    free(s->boxes);
    free(s->warped);
    free(s->labels);
    memset(s, 0, sizeof *s);
}

static yl_status reserve_bytes(uint8_t **buffer, size_t *capacity, size_t bytes) {
    if (*capacity >= bytes) return YL_OK;
    uint8_t *p = realloc(*buffer, bytes);
    if (!p) return yl_error(YL_ERR_OOM, "augment: %zu bytes of image scratch", bytes);
    *buffer = p;
    *capacity = bytes;
    return YL_OK;
}

static yl_status reserve_boxes(yl_augment_scratch *s, int count) {
    if (s->box_capacity >= count) return YL_OK;
    int capacity = count < 64 ? 64 : count;
    yl_pixel_box *boxes = realloc(s->boxes, (size_t)capacity * sizeof *boxes);
    if (boxes) s->boxes = boxes;
    yl_pixel_box *warped = realloc(s->warped, (size_t)capacity * sizeof *warped);
    if (warped) s->warped = warped;
    yl_box_label *labels = realloc(s->labels, (size_t)capacity * sizeof *labels);
    if (labels) s->labels = labels;
    if (!boxes || !warped || !labels) return yl_error(YL_ERR_OOM, "augment: %d boxes of scratch", capacity);
    s->box_capacity = capacity;
    return YL_OK;
}

static void mirror_rows(yl_image_u8 *image) {
    for (int y = 0; y < image->height; y++) {
        uint8_t *row = image->pixels + (size_t)y * image->width * 3;
        for (int a = 0, b = image->width - 1; a < b; a++, b--)
            for (int c = 0; c < 3; c++) {
                uint8_t t = row[a * 3 + c];
                row[a * 3 + c] = row[b * 3 + c];
                row[b * 3 + c] = t;
            }
    }
}

void yl_flip_horizontal(yl_image_u8 *image, yl_box_label *labels, int count) {
    mirror_rows(image);
    for (int i = 0; i < count; i++) labels[i].cx = 1.0f - labels[i].cx;
}

void yl_flip_vertical(yl_image_u8 *image, yl_box_label *labels, int count) {
    const size_t stride = (size_t)image->width * 3;
    for (int a = 0, b = image->height - 1; a < b; a++, b--) {
        uint8_t *ra = image->pixels + (size_t)a * stride, *rb = image->pixels + (size_t)b * stride;
        for (size_t k = 0; k < stride; k++) {
            uint8_t t = ra[k];
            ra[k] = rb[k];
            rb[k] = t;
        }
    }
    for (int i = 0; i < count; i++) labels[i].cy = 1.0f - labels[i].cy;
}

static yl_status load_tile(const yl_sample_source *source, int index, int imgsz, yl_sample *tile) {
    yl_sample_free(tile);
    if (index < 0 || index >= source->count)
        return yl_error(YL_ERR_INVALID_ARG, "augment: index %d outside the source's %d samples", index, source->count);
    YL_TRY(source->load(source->ctx, index, imgsz, tile));
    if (!tile->image.pixels || tile->image.width < 1 || tile->image.height < 1 || tile->label_count < 0 ||
        (tile->label_count > 0 && !tile->labels)) {
        yl_sample_free(tile);
        return yl_error(YL_ERR_FORMAT, "augment: the source returned an empty image or bad labels for index %d", index);
    }
    return YL_OK;
}

static void free_tiles(yl_augment_scratch *s) {
    for (int i = 0; i < 4; i++) yl_sample_free(&s->tiles[i]);
}

// Stage 1: the mosaic canvas (2s x 2s, border -s/2) or the letterboxed image (s x s, border 0)
// with pixel boxes in s->boxes. Leaves the primary tile's metadata in s->tiles[0].
static yl_status build_canvas(const yl_augment_options *o, const yl_sample_source *source, int index, bool mosaic,
                              const yl_partner_picker *partners, yl_rng *rng, yl_augment_scratch *s,
                              yl_image_u8 *canvas, int *box_count) {
    const int imgsz = o->imgsz;
    if (mosaic) {
        int indices[4] = {index, 0, 0, 0};
        for (int i = 1; i < 4; i++)
            indices[i] = partners ? partners->draw(partners->ctx, index, rng) : (int)yl_rng_below(rng, (uint32_t)source->count);
        const int xc = (int)(imgsz * 0.5 + yl_rng_uniform(rng) * imgsz);  // int(U(s/2, 3s/2))
        const int yc = (int)(imgsz * 0.5 + yl_rng_uniform(rng) * imgsz);
        int labels = 0;
        for (int i = 0; i < 4; i++) {
            YL_TRY(load_tile(source, indices[i], imgsz, &s->tiles[i]));
            labels += s->tiles[i].label_count;
        }
        YL_TRY(reserve_boxes(s, labels));
        YL_TRY(reserve_bytes(&s->canvas, &s->canvas_bytes, (size_t)4 * imgsz * imgsz * 3));
        canvas->pixels = s->canvas;
        const yl_sample *tiles[4] = {&s->tiles[0], &s->tiles[1], &s->tiles[2], &s->tiles[3]};
        *box_count = yl_mosaic4(tiles, imgsz, xc, yc, o->fill, canvas, s->boxes);
        return YL_OK;
    }
    YL_TRY(load_tile(source, index, imgsz, &s->tiles[0]));
    const yl_sample *t = &s->tiles[0];
    yl_letterbox_options lo = yl_letterbox_defaults(imgsz, imgsz);
    lo.pad_value = o->fill;
    yl_letterbox_info info;
    YL_TRY(yl_letterbox_plan(t->image.width, t->image.height, &lo, &info));
    YL_TRY(reserve_bytes(&s->canvas, &s->canvas_bytes, (size_t)info.width * info.height * 3));
    YL_TRY(reserve_boxes(s, t->label_count));
    canvas->pixels = s->canvas;
    YL_TRY(yl_letterbox_apply(&t->image, &info, o->fill, canvas));
    for (int k = 0; k < t->label_count; k++) {
        const yl_box_label *l = &t->labels[k];
        float in[4] = {(l->cx - 0.5f * l->w) * t->image.width, (l->cy - 0.5f * l->h) * t->image.height,
                       (l->cx + 0.5f * l->w) * t->image.width, (l->cy + 0.5f * l->h) * t->image.height};
        float out[4];
        yl_letterbox_map_xyxy(&info, in, out);
        s->boxes[k] = (yl_pixel_box){l->cls, out[0], out[1], out[2], out[3]};
    }
    *box_count = t->label_count;
    return YL_OK;
}

static bool is_identity(const double m[9]) {
    static const double id[9] = {1, 0, 0, 0, 1, 0, 0, 0, 1};
    for (int i = 0; i < 9; i++)
        if (m[i] != id[i]) return false;
    return true;
}

static yl_status augment_sample(const yl_augment_options *o, const yl_sample_source *source, int index,
                                bool mosaic_active, const yl_partner_picker *partners, yl_rng *rng,
                                yl_augment_scratch *s, yl_sample *out) {
    const int imgsz = o->imgsz;
    const bool mosaic = mosaic_active && yl_rng_uniform(rng) < o->mosaic;
    yl_image_u8 canvas = {0, 0, NULL};
    int box_count = 0;
    YL_TRY(build_canvas(o, source, index, mosaic, partners, rng, s, &canvas, &box_count));

    double m[9], scale;
    yl_random_perspective_matrix(o, canvas.width, canvas.height, imgsz, imgsz, rng, m, &scale);
    YL_TRY(reserve_bytes(&s->output, &s->output_bytes, (size_t)imgsz * imgsz * 3));
    yl_image_u8 image = {imgsz, imgsz, s->output};
    if (canvas.width == imgsz && canvas.height == imgsz && is_identity(m))
        memcpy(image.pixels, canvas.pixels, (size_t)imgsz * imgsz * 3);
    else
        YL_TRY(yl_image_warp(&canvas, m, o->fill, &image));
    const int kept = yl_perspective_boxes(o, m, scale, s->boxes, box_count, imgsz, imgsz, s->warped);

    for (int k = 0; k < kept; k++) {
        const yl_pixel_box *b = &s->warped[k];
        s->labels[k] = (yl_box_label){b->cls, 0.5f * (b->x1 + b->x2) / imgsz, 0.5f * (b->y1 + b->y2) / imgsz,
                                      (b->x2 - b->x1) / imgsz, (b->y2 - b->y1) / imgsz};
    }
    float gains[3];
    yl_hsv_draw_gains(o, rng, gains);
    yl_hsv_apply(&image, gains);
    if (yl_rng_uniform(rng) < o->flipud) yl_flip_vertical(&image, s->labels, kept);
    if (yl_rng_uniform(rng) < o->fliplr) yl_flip_horizontal(&image, s->labels, kept);

    out->image = image;
    out->labels = s->labels;
    out->label_count = kept;
    out->original_width = s->tiles[0].original_width;
    out->original_height = s->tiles[0].original_height;
    out->path = s->tiles[0].path;
    return YL_OK;
}

yl_status yl_augment_train_sample(const yl_augment_options *o, const yl_sample_source *source, int index,
                                  bool mosaic_active, const yl_partner_picker *partners, yl_rng *rng,
                                  yl_augment_scratch *s, yl_sample *out) {
    if (!o || !rng || !s || !out) return yl_error(YL_ERR_INVALID_ARG, "augment: NULL argument");
    YL_TRY(yl_sample_source_check(source, "augment"));
    YL_TRY(yl_augment_check(o));
    if (partners && !partners->draw) return yl_error(YL_ERR_INVALID_ARG, "augment: partner picker without a draw function");
    memset(out, 0, sizeof *out);
    yl_status status = augment_sample(o, source, index, mosaic_active, partners, rng, s, out);
    // The tiles' pixels are in the output by now; only the primary's path is still borrowed,
    // and that belongs to the source, not to the tile.
    free_tiles(s);
    if (status != YL_OK) memset(out, 0, sizeof *out);
    return status;
}
