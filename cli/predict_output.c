// Files `yoloop predict` writes.
#include "cli/predict_output.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "engine/data/file_util.h"

static bool path_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

yl_status yl_predict_run_dir(const char *project, const char *name, bool exist_ok, char **out) {
    if (!project || !name || !out) return yl_error(YL_ERR_INVALID_ARG, "predict: NULL run folder");
    *out = NULL;
    char *base = yl_path_join(project, name);
    if (!base) return yl_error(YL_ERR_OOM, "predict: out of memory");
    char *path = base;
    if (!exist_ok && path_exists(base)) {
        path = NULL;
        const size_t size = strlen(base) + 16;
        for (int n = 2; n < 10000 && !path; n++) {
            char *candidate = malloc(size);
            if (!candidate) break;
            snprintf(candidate, size, "%s%d", base, n);
            if (!path_exists(candidate))
                path = candidate;
            else
                free(candidate);
        }
        free(base);
        if (!path) return yl_error(YL_ERR_IO, "predict: no free run folder name for %s/%s", project, name);
    }
    yl_status st = yl_make_directories(path);
    if (st != YL_OK) {
        free(path);
        return st;
    }
    *out = path;
    return YL_OK;
}

// Ultralytics' Colors palette (utils/plotting.py), RGB.
static const uint8_t palette[20][3] = {
    {0x04, 0x2A, 0xFF}, {0x0B, 0xDB, 0xEB}, {0xF3, 0xF3, 0xF3}, {0x00, 0xDF, 0xB7}, {0x11, 0x1F, 0x68},
    {0xFF, 0x6F, 0xDD}, {0xFF, 0x44, 0x4F}, {0xCC, 0xED, 0x00}, {0x00, 0xF3, 0x44}, {0xBD, 0x00, 0xFF},
    {0x00, 0xB4, 0xFF}, {0xDD, 0x00, 0xBA}, {0x00, 0xFF, 0xFF}, {0x26, 0xC0, 0x00}, {0x01, 0xFF, 0xB3},
    {0x7D, 0x24, 0xFF}, {0x7B, 0x00, 0x68}, {0xFF, 0x1B, 0x6C}, {0xFC, 0x6D, 0x2F}, {0xA2, 0xFF, 0x0B},
};

// 3x5 digits, one row per 3 bits.
static const uint8_t digits[10][5] = {
    {7, 5, 5, 5, 7}, {2, 6, 2, 2, 7}, {7, 1, 7, 4, 7}, {7, 1, 7, 1, 7}, {5, 5, 7, 1, 1},
    {7, 4, 7, 1, 7}, {7, 4, 7, 5, 7}, {7, 1, 1, 1, 1}, {7, 5, 7, 5, 7}, {7, 5, 7, 1, 7},
};

static void fill_rect(yl_image_u8 *im, int x1, int y1, int x2, int y2, const uint8_t c[3]) {
    if (x1 < 0) x1 = 0;
    if (y1 < 0) y1 = 0;
    if (x2 > im->width) x2 = im->width;
    if (y2 > im->height) y2 = im->height;
    for (int y = y1; y < y2; y++)
        for (int x = x1; x < x2; x++) memcpy(im->pixels + ((size_t)y * im->width + x) * 3, c, 3);
}

void yl_draw_detections(yl_image_u8 *image, const yl_prediction *pred) {
    if (!image || !image->pixels || !pred) return;
    static const uint8_t white[3] = {255, 255, 255};
    for (int64_t i = pred->count - 1; i >= 0; i--) {  // highest confidence drawn last, on top
        const yl_detection *d = &pred->boxes[i];
        const uint8_t *c = palette[(d->cls < 0 ? 0 : d->cls) % 20];
        const int x1 = (int)floorf(d->x1), y1 = (int)floorf(d->y1), x2 = (int)ceilf(d->x2), y2 = (int)ceilf(d->y2);
        const int t = 2;
        fill_rect(image, x1, y1, x2, y1 + t, c);
        fill_rect(image, x1, y2 - t, x2, y2, c);
        fill_rect(image, x1, y1, x1 + t, y2, c);
        fill_rect(image, x2 - t, y1, x2, y2, c);
        char text[12];
        const int n = snprintf(text, sizeof text, "%d", d->cls < 0 ? 0 : d->cls);
        const int tag_w = 4 * n + 1, tag_h = 7;
        const int tx = x1, ty = y1 - tag_h >= 0 ? y1 - tag_h : y1;
        fill_rect(image, tx, ty, tx + tag_w, ty + tag_h, c);
        for (int k = 0; k < n; k++)
            for (int r = 0; r < 5; r++)
                for (int b = 0; b < 3; b++)
                    if (digits[text[k] - '0'][r] & (4 >> b))
                        fill_rect(image, tx + 1 + 4 * k + b, ty + 1 + r, tx + 2 + 4 * k + b, ty + 2 + r, white);
    }
}

yl_status yl_write_yolo_txt(const char *path, const yl_prediction *pred, bool save_conf) {
    if (!path || !pred) return yl_error(YL_ERR_INVALID_ARG, "predict: NULL label path or prediction");
    if (pred->count == 0) return YL_OK;
    FILE *f = fopen(path, "w");
    if (!f) return yl_error(YL_ERR_IO, "predict: cannot write %s", path);
    const float w = (float)pred->width, h = (float)pred->height;
    for (int64_t i = 0; i < pred->count; i++) {
        const yl_detection *d = &pred->boxes[i];
        // xyxy2xywhn in float32, as Results.boxes.xywhn computes it
        const float cx = (d->x1 + d->x2) / 2 / w, cy = (d->y1 + d->y2) / 2 / h;
        const float bw = (d->x2 - d->x1) / w, bh = (d->y2 - d->y1) / h;
        fprintf(f, "%d %g %g %g %g", d->cls, (double)cx, (double)cy, (double)bw, (double)bh);
        if (save_conf) fprintf(f, " %g", (double)d->conf);
        fputc('\n', f);
    }
    if (fclose(f) != 0) return yl_error(YL_ERR_IO, "predict: error writing %s", path);
    return YL_OK;
}

void yl_path_stem(const char *path, char *buf, size_t size) {
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    snprintf(buf, size, "%s", base);
    char *dot = strrchr(buf, '.');
    if (dot && dot != buf) *dot = '\0';
}
