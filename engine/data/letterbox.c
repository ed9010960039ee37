#include "letterbox.h"

#include <math.h>
#include <stddef.h>

#include "engine/data/image_resize.h"
#include "engine/data/image_warp.h"

yl_letterbox_options yl_letterbox_defaults(int width, int height) {
    yl_letterbox_options o = {
        .width = width, .height = height, .auto_pad = false, .scaleup = true, .center = true, .stride = 32,
        .pad_value = 114,
    };
    return o;
}

// Python's round(): half to even, which rint gives in the default rounding mode.
static int python_round(double x) { return (int)rint(x); }

yl_status yl_letterbox_plan(int src_width, int src_height, const yl_letterbox_options *o, yl_letterbox_info *info) {
    if (!o || !info) return yl_error(YL_ERR_INVALID_ARG, "letterbox: NULL argument");
    if (src_width < 1 || src_height < 1 || o->width < 1 || o->height < 1)
        return yl_error(YL_ERR_INVALID_ARG, "letterbox: source %dx%d, target %dx%d must be positive", src_width,
                        src_height, o->width, o->height);
    if (o->auto_pad && o->stride < 1)
        return yl_error(YL_ERR_INVALID_ARG, "letterbox: auto padding needs a stride >= 1, got %d", o->stride);
    double r = fmin((double)o->height / src_height, (double)o->width / src_width);
    if (!o->scaleup) r = fmin(r, 1.0);
    int new_w = python_round(src_width * r), new_h = python_round(src_height * r);
    if (new_w < 1) new_w = 1;
    if (new_h < 1) new_h = 1;
    double dw = o->width - new_w, dh = o->height - new_h;
    if (o->auto_pad) {
        dw = fmod(dw, o->stride);
        dh = fmod(dh, o->stride);
    }
    int top = 0, left = 0, bottom, right;
    if (o->center) {
        dw /= 2.0;
        dh /= 2.0;
        top = python_round(dh - 0.1);
        left = python_round(dw - 0.1);
    }
    bottom = python_round(dh + 0.1);
    right = python_round(dw + 0.1);
    info->src_width = src_width;
    info->src_height = src_height;
    info->resized_width = new_w;
    info->resized_height = new_h;
    info->ratio = (float)r;
    info->pad_left = left;
    info->pad_top = top;
    info->pad_right = right;
    info->pad_bottom = bottom;
    info->width = new_w + left + right;
    info->height = new_h + top + bottom;
    return YL_OK;
}

yl_status yl_letterbox_apply(const yl_image_u8 *src, const yl_letterbox_info *info, uint8_t pad_value,
                             yl_image_u8 *dst) {
    if (!src || !info || !dst || !src->pixels || !dst->pixels) return yl_error(YL_ERR_INVALID_ARG, "letterbox: NULL argument");
    if (src->width != info->src_width || src->height != info->src_height)
        return yl_error(YL_ERR_SHAPE, "letterbox: image is %dx%d, the plan was made for %dx%d", src->width,
                        src->height, info->src_width, info->src_height);
    dst->width = info->width;
    dst->height = info->height;
    yl_image_fill(dst, pad_value);
    if (info->resized_width == src->width && info->resized_height == src->height) {
        yl_image_copy_block(src, 0, 0, dst, info->pad_left, info->pad_top, src->width, src->height);
        return YL_OK;
    }
    // Rare in the pipeline (images arrive with their long side at imgsz, so training and
    // validation letterboxes do not rescale), hence the temporary image.
    yl_image_u8 resized = {0, 0, NULL};
    YL_TRY(yl_image_resize_linear(src, info->resized_width, info->resized_height, &resized));
    yl_image_copy_block(&resized, 0, 0, dst, info->pad_left, info->pad_top, resized.width, resized.height);
    yl_image_u8_free(&resized);
    return YL_OK;
}

void yl_letterbox_map_xyxy(const yl_letterbox_info *info, const float in[4], float out[4]) {
    out[0] = in[0] * info->ratio + (float)info->pad_left;
    out[1] = in[1] * info->ratio + (float)info->pad_top;
    out[2] = in[2] * info->ratio + (float)info->pad_left;
    out[3] = in[3] * info->ratio + (float)info->pad_top;
}

void yl_letterbox_unmap_xyxy(const yl_letterbox_info *info, const float in[4], float out[4]) {
    out[0] = (in[0] - (float)info->pad_left) / info->ratio;
    out[1] = (in[1] - (float)info->pad_top) / info->ratio;
    out[2] = (in[2] - (float)info->pad_left) / info->ratio;
    out[3] = (in[3] - (float)info->pad_top) / info->ratio;
}

void yl_letterbox_map_labels(const yl_letterbox_info *info, yl_box_label *labels, int count) {
    for (int i = 0; i < count; i++) {
        yl_box_label *b = &labels[i];
        float px[4] = {
            (b->cx - 0.5f * b->w) * info->src_width, (b->cy - 0.5f * b->h) * info->src_height,
            (b->cx + 0.5f * b->w) * info->src_width, (b->cy + 0.5f * b->h) * info->src_height,
        };
        float q[4];
        yl_letterbox_map_xyxy(info, px, q);
        b->cx = 0.5f * (q[0] + q[2]) / info->width;
        b->cy = 0.5f * (q[1] + q[3]) / info->height;
        b->w = (q[2] - q[0]) / info->width;
        b->h = (q[3] - q[1]) / info->height;
    }
}
