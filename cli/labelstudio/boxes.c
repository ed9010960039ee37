// Box geometry for exported annotations and the YOLO label file writer (annotations.h).
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/labelstudio/annotations.h"

#define CLAMP_EPSILON 1e-9

static double clamp01(double v, int *clamped) {
    if (v < 0.0) {
        if (v < -CLAMP_EPSILON) *clamped = 1;
        return 0.0;
    }
    if (v > 1.0) {
        if (v > 1.0 + CLAMP_EPSILON) *clamped = 1;
        return 1.0;
    }
    return v;
}

int yl_ls_box_normalize(yl_ls_box *box, int image_width, int image_height) {
    double rotation = fmod(box->rotation, 360.0);
    if (rotation < 0) rotation += 360.0;
    box->rotated = fabs(rotation) > 1e-9 && fabs(rotation - 360.0) > 1e-9;
    int known = image_width > 0 && image_height > 0;
    box->needs_size = box->rotated && !known;
    // Work in pixels when the size is known: a rotation in percent units would shear the box on a
    // non-square image. Without a size an unrotated box is exact in percent units anyway.
    double W = known ? image_width : 100.0, H = known ? image_height : 100.0;
    double x0 = box->x / 100.0 * W, y0 = box->y / 100.0 * H;
    double w = box->width / 100.0 * W, h = box->height / 100.0 * H;
    double min_x = x0, max_x = x0 + w, min_y = y0, max_y = y0 + h;
    if (box->rotated) {
        // Corners of the box turned clockwise (image y points down) about its top-left corner.
        double radians = rotation * 3.14159265358979323846 / 180.0, c = cos(radians), s = sin(radians);
        const double dx[4] = {0, w, w, 0}, dy[4] = {0, 0, h, h};
        min_x = max_x = x0;
        min_y = max_y = y0;
        for (int k = 1; k < 4; k++) {
            double px = x0 + dx[k] * c - dy[k] * s, py = y0 + dx[k] * s + dy[k] * c;
            min_x = fmin(min_x, px);
            max_x = fmax(max_x, px);
            min_y = fmin(min_y, py);
            max_y = fmax(max_y, py);
        }
    }
    int clamped = 0;
    double x1 = clamp01(min_x / W, &clamped), x2 = clamp01(max_x / W, &clamped);
    double y1 = clamp01(min_y / H, &clamped), y2 = clamp01(max_y / H, &clamped);
    box->clamped = clamped;
    box->cx = (x1 + x2) / 2;
    box->cy = (y1 + y2) / 2;
    box->w = x2 - x1;
    box->h = y2 - y1;
    return box->w > 0.0 && box->h > 0.0;
}

yl_status yl_ls_write_yolo_labels(const yl_ls_image_labels *image, const char *path) {
    if (!image || !path) return yl_error(YL_ERR_INVALID_ARG, "YOLO labels: NULL image or path");
    for (int i = 0; i < image->num_boxes; i++)
        if (image->boxes[i].class_index < 0)
            return yl_error(YL_ERR_INVALID_ARG, "YOLO labels for %s: box %d has the unknown label '%s'",
                            image->file_name ? image->file_name : "?", i, image->boxes[i].label);
    size_t n = strlen(path) + sizeof ".part";
    char *part = malloc(n);
    if (!part) return yl_error(YL_ERR_OOM, "YOLO labels: out of memory");
    snprintf(part, n, "%s.part", path);
    FILE *file = fopen(part, "wb");
    yl_status status = file ? YL_OK : yl_error(YL_ERR_IO, "%s: cannot create: %s", part, strerror(errno));
    for (int i = 0; status == YL_OK && i < image->num_boxes; i++) {
        const yl_ls_box *b = &image->boxes[i];
        if (fprintf(file, "%d %.6f %.6f %.6f %.6f\n", b->class_index, b->cx, b->cy, b->w, b->h) < 0)
            status = yl_error(YL_ERR_IO, "%s: write error", part);
    }
    if (file && fclose(file) != 0 && status == YL_OK) status = yl_error(YL_ERR_IO, "%s: write error", part);
    if (status == YL_OK && rename(part, path) != 0)
        status = yl_error(YL_ERR_IO, "cannot rename %s to %s: %s", part, path, strerror(errno));
    if (status != YL_OK) remove(part);
    free(part);
    return status;
}
