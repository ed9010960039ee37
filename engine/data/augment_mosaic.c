// Ultralytics' Mosaic._mosaic4: four images around a random centre of a 2s x 2s canvas.
#include <math.h>

#include "augment.h"
#include "image_warp.h"

static int min_int(int a, int b) { return a < b ? a : b; }
static int max_int(int a, int b) { return a > b ? a : b; }
static float clampf(float v, float lo, float hi) { return v < lo ? lo : (v > hi ? hi : v); }

int yl_mosaic4(const yl_sample *const tiles[4], int imgsz, int xc, int yc, uint8_t fill, yl_image_u8 *canvas,
               yl_pixel_box *boxes) {
    const int s2 = imgsz * 2;
    canvas->width = s2;
    canvas->height = s2;
    yl_image_fill(canvas, fill);
    int count = 0;
    for (int i = 0; i < 4; i++) {
        const yl_image_u8 *img = &tiles[i]->image;
        const int w = img->width, h = img->height;
        int x1a, y1a, x2a, y2a, x1b, y1b, x2b, y2b;  // a: canvas region, b: image region
        if (i == 0) {  // top left
            x1a = max_int(xc - w, 0), y1a = max_int(yc - h, 0), x2a = xc, y2a = yc;
            x1b = w - (x2a - x1a), y1b = h - (y2a - y1a), x2b = w, y2b = h;
        } else if (i == 1) {  // top right
            x1a = xc, y1a = max_int(yc - h, 0), x2a = min_int(xc + w, s2), y2a = yc;
            x1b = 0, y1b = h - (y2a - y1a), x2b = min_int(w, x2a - x1a), y2b = h;
        } else if (i == 2) {  // bottom left
            x1a = max_int(xc - w, 0), y1a = yc, x2a = xc, y2a = min_int(s2, yc + h);
            x1b = w - (x2a - x1a), y1b = 0, x2b = w, y2b = min_int(y2a - y1a, h);
        } else {  // bottom right
            x1a = xc, y1a = yc, x2a = min_int(xc + w, s2), y2a = min_int(s2, yc + h);
            x1b = 0, y1b = 0, x2b = min_int(w, x2a - x1a), y2b = min_int(y2a - y1a, h);
        }
        if (x2b > x1b && y2b > y1b) yl_image_copy_block(img, x1b, y1b, canvas, x1a, y1a, x2b - x1b, y2b - y1b);
        // Every crop of a tile ends at a canvas edge, so clipping boxes to the canvas clips them
        // to the visible part of their tile.
        const float padw = (float)(x1a - x1b), padh = (float)(y1a - y1b);
        for (int k = 0; k < tiles[i]->label_count; k++) {
            const yl_box_label *l = &tiles[i]->labels[k];
            yl_pixel_box b = {
                .cls = l->cls,
                .x1 = clampf((l->cx - 0.5f * l->w) * w + padw, 0.0f, (float)s2),
                .y1 = clampf((l->cy - 0.5f * l->h) * h + padh, 0.0f, (float)s2),
                .x2 = clampf((l->cx + 0.5f * l->w) * w + padw, 0.0f, (float)s2),
                .y2 = clampf((l->cy + 0.5f * l->h) * h + padh, 0.0f, (float)s2),
            };
            if (b.x2 - b.x1 > 0.0f && b.y2 - b.y1 > 0.0f) boxes[count++] = b;
        }
    }
    return count;
}
