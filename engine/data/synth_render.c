// Rendering of one synthetic image (see synth.h). Shading is done on a float luminance map, then a
// colour cast and per-channel noise turn it into RGB bytes.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine/core/rng.h"
#include "engine/data/synth.h"

#define SYNTH_PI 3.14159265358979f
#define SYNTH_BACKGROUND_PROBABILITY 0.12f

typedef struct {
    int width, height;
    float *lum;  // width * height
    float light_angle;  // where the light comes from, for rims and highlights
    float size_scale, contrast_scale;
    float shift;
} canvas;

typedef struct {
    float cx, cy, half_w, half_h;  // the labelled box, pixels
} placed_box;

static float uniform(yl_rng *rng, float low, float high) { return low + (high - low) * yl_rng_uniform(rng); }

static float smoothstep01(float t) {
    t = t < 0.0f ? 0.0f : t > 1.0f ? 1.0f : t;
    return t * t * (3.0f - 2.0f * t);
}

// ---- surface --------------------------------------------------------------------------------

// 1-D value noise: smooth interpolation between random values at unit spacing.
static float value_noise_1d(const float *table, int size, float t) {
    if (t < 0.0f) t = 0.0f;
    int i = (int)t;
    if (i >= size - 1) i = size - 2;
    float f = smoothstep01(t - (float)i);
    return table[i] + (table[i + 1] - table[i]) * f;
}

static yl_status draw_surface(canvas *c, yl_rng *rng) {
    int w = c->width, h = c->height;
    float s = c->shift;
    float base = uniform(rng, 0.45f, 0.60f) - 0.10f * s;
    float gradient = uniform(rng, 0.08f, 0.18f) + 0.25f * s;
    float gx = cosf(c->light_angle), gy = sinf(c->light_angle);
    float streak_angle = uniform(rng, -0.15f, 0.15f) + s * uniform(rng, -0.6f, 0.6f);
    float sx = -sinf(streak_angle), sy = cosf(streak_angle);  // across the streaks
    float period = uniform(rng, 1.5f, 3.0f) * (1.0f + 1.5f * s);
    float streak_amp = uniform(rng, 0.03f, 0.06f);
    float diag = sqrtf((float)(w * w + h * h));
    int fine_size = (int)(2.0f * diag / period) + 4, coarse_size = (int)(2.0f * diag / (period * 9.0f)) + 4;
    // Blotches: a coarse 2-D grid of random offsets, bilinearly interpolated.
    float cell = (float)w / (4.0f * (1.0f - 0.4f * s));
    int grid_w = (int)((float)w / cell) + 2, grid_h = (int)((float)h / cell) + 2;
    float *fine = malloc((size_t)fine_size * sizeof *fine), *coarse = malloc((size_t)coarse_size * sizeof *coarse);
    float *grid = malloc((size_t)grid_w * grid_h * sizeof *grid);
    if (!fine || !coarse || !grid) {
        free(fine);
        free(coarse);
        free(grid);
        return yl_error(YL_ERR_OOM, "synth: out of memory");
    }
    for (int i = 0; i < fine_size; i++) fine[i] = uniform(rng, -1.0f, 1.0f);
    for (int i = 0; i < coarse_size; i++) coarse[i] = uniform(rng, -1.0f, 1.0f);
    for (int i = 0; i < grid_w * grid_h; i++) grid[i] = uniform(rng, -0.035f, 0.035f);
    float vignette = 0.35f * s;
    for (int y = 0; y < h; y++) {
        for (int x = 0; x < w; x++) {
            float dx = (float)x - 0.5f * (float)w, dy = (float)y - 0.5f * (float)h;
            float across = (float)x * sx + (float)y * sy + diag;
            float streaks = streak_amp * (0.7f * value_noise_1d(fine, fine_size, across / period) +
                                          0.3f * value_noise_1d(coarse, coarse_size, across / (period * 9.0f)));
            float gu = (float)x / cell, gv = (float)y / cell;
            int gi = (int)gu, gj = (int)gv;
            float fu = smoothstep01(gu - (float)gi), fv = smoothstep01(gv - (float)gj);
            const float *g0 = grid + (size_t)gj * grid_w + gi, *g1 = g0 + grid_w;
            float blotch = (g0[0] * (1 - fu) + g0[1] * fu) * (1 - fv) + (g1[0] * (1 - fu) + g1[1] * fu) * fv;
            float light = gradient * (dx * gx + dy * gy) / (float)w;
            float r2 = (dx * dx + dy * dy) / (0.25f * diag * diag);
            c->lum[(size_t)y * w + x] = (base + light + streaks + blotch) * (1.0f - vignette * r2);
        }
    }
    free(fine);
    free(coarse);
    free(grid);
    return YL_OK;
}

// ---- defects --------------------------------------------------------------------------------

typedef struct {
    int kind;
    float cx, cy;
    float a, b, angle;  // semi-axes (pixels) and rotation of the ellipse
    float contrast;
} defect;

// Half extents of the rotated ellipse, times `margin`.
static void ellipse_extent(const defect *d, float margin, float *half_w, float *half_h) {
    float c = cosf(d->angle), s = sinf(d->angle);
    *half_w = margin * sqrtf(d->a * d->a * c * c + d->b * d->b * s * s);
    *half_h = margin * sqrtf(d->a * d->a * s * s + d->b * d->b * c * c);
}

// The labelled box covers what is visible: the dent with its rim, the visible part of a concave
// area (its edge fades out), a hole with its bright edge.
static void defect_box(const defect *d, float *half_w, float *half_h) {
    switch (d->kind) {
    case 0: ellipse_extent(d, 1.15f, half_w, half_h); break;
    case 1: ellipse_extent(d, 0.85f, half_w, half_h); break;
    default:
        *half_w = *half_h = d->a + 1.5f;
        break;
    }
}

static void draw_defect(canvas *c, const defect *d) {
    float reach = (d->kind == 2 ? d->a + 3.0f : 1.3f * (d->a > d->b ? d->a : d->b));
    int x0 = (int)floorf(d->cx - reach), x1 = (int)ceilf(d->cx + reach);
    int y0 = (int)floorf(d->cy - reach), y1 = (int)ceilf(d->cy + reach);
    if (x0 < 0) x0 = 0;
    if (y0 < 0) y0 = 0;
    if (x1 > c->width - 1) x1 = c->width - 1;
    if (y1 > c->height - 1) y1 = c->height - 1;
    float ca = cosf(d->angle), sa = sinf(d->angle);
    for (int y = y0; y <= y1; y++) {
        for (int x = x0; x <= x1; x++) {
            float px = (float)x + 0.5f - d->cx, py = (float)y + 0.5f - d->cy;
            float u = px * ca + py * sa, v = -px * sa + py * ca;
            float q = sqrtf((u / d->a) * (u / d->a) + (v / d->b) * (v / d->b));  // 1 on the ellipse
            float facing = cosf(atan2f(py, px) - c->light_angle);  // +1 on the lit side
            float *l = &c->lum[(size_t)y * c->width + x];
            if (d->kind == 0) {
                if (q < 1.0f) *l -= d->contrast * powf(1.0f - q * q, 1.5f) * (1.0f + 0.4f * facing);
                float rim = expf(-((q - 1.0f) / 0.12f) * ((q - 1.0f) / 0.12f));
                *l += 0.9f * d->contrast * rim * (facing > 0.0f ? facing : 0.0f);
            } else if (d->kind == 1) {
                if (q < 1.0f) {
                    float depth = (1.0f - q) * (1.0f - q);
                    *l += d->contrast * (-depth + 0.6f * q * (1.0f - q) * facing);
                }
            } else {
                float dist = q * d->a;  // circular: pixels from the centre
                float hole = 1.0f - smoothstep01(dist - d->a + 0.5f);
                float edge = expf(-((dist - d->a - 0.6f) / 0.8f) * ((dist - d->a - 0.6f) / 0.8f));
                float bright = 0.80f + 0.15f * (facing > 0.0f ? facing : 0.0f);
                *l += (bright - *l) * edge * d->contrast;
                *l += (0.04f - *l) * hole;
            }
        }
    }
}

static void random_defect(canvas *c, yl_rng *rng, int kind, defect *d) {
    float sc = c->size_scale, k = c->contrast_scale;
    d->kind = kind;
    d->angle = uniform(rng, 0.0f, SYNTH_PI);
    if (kind == 0) {
        d->a = uniform(rng, 6.0f, 14.0f) * sc;
        d->b = d->a * uniform(rng, 0.55f, 1.0f);
        d->contrast = uniform(rng, 0.18f, 0.30f) * k;
    } else if (kind == 1) {
        d->a = uniform(rng, 14.0f, 28.0f) * sc;
        d->b = d->a * uniform(rng, 0.75f, 1.0f);
        d->contrast = uniform(rng, 0.16f, 0.26f) * k;
    } else {
        d->a = d->b = fmaxf(1.5f, uniform(rng, 2.0f, 4.5f) * sc);
        d->contrast = uniform(rng, 0.7f, 1.0f);
    }
}

static float box_iou(const placed_box *p, const placed_box *q) {
    float iw = fminf(p->cx + p->half_w, q->cx + q->half_w) - fmaxf(p->cx - p->half_w, q->cx - q->half_w);
    float ih = fminf(p->cy + p->half_h, q->cy + q->half_h) - fmaxf(p->cy - p->half_h, q->cy - q->half_h);
    if (iw <= 0.0f || ih <= 0.0f) return 0.0f;
    float inter = iw * ih;
    return inter / (4.0f * p->half_w * p->half_h + 4.0f * q->half_w * q->half_h - inter);
}

// Places up to `count` defects that fit inside the image and barely overlap; returns how many.
static int place_defects(canvas *c, yl_rng *rng, int count, int kinds, defect *defects, placed_box *boxes) {
    int placed = 0;
    for (int i = 0; i < count; i++) {
        int kind = (int)yl_rng_below(rng, (uint32_t)kinds);
        for (int attempt = 0; attempt < 30; attempt++) {
            defect d;
            random_defect(c, rng, kind, &d);
            placed_box box;
            defect_box(&d, &box.half_w, &box.half_h);
            float room_x = (float)c->width - 2.0f * box.half_w - 2.0f, room_y = (float)c->height - 2.0f * box.half_h - 2.0f;
            if (room_x <= 0.0f || room_y <= 0.0f) continue;
            d.cx = box.cx = 1.0f + box.half_w + uniform(rng, 0.0f, room_x);
            d.cy = box.cy = 1.0f + box.half_h + uniform(rng, 0.0f, room_y);
            int overlaps = 0;
            for (int j = 0; j < placed; j++) overlaps |= box_iou(&box, &boxes[j]) > 0.05f;
            if (overlaps) continue;
            defects[placed] = d;
            boxes[placed++] = box;
            break;
        }
    }
    return placed;
}

// ---- image ----------------------------------------------------------------------------------

yl_status yl_synth_render(const yl_synth_options *options, int index, yl_image_u8 *image, yl_box_label *labels,
                          int *label_count) {
    if (!image || !labels || !label_count) return yl_error(YL_ERR_INVALID_ARG, "synth render: NULL output");
    memset(image, 0, sizeof *image);
    *label_count = 0;
    YL_TRY(yl_synth_check_options(options));
    if (index < 0) return yl_error(YL_ERR_INVALID_ARG, "synth render: index %d < 0", index);
    yl_rng rng;
    yl_rng_seed(&rng, options->seed, (uint64_t)index);
    float s = options->shift;
    canvas c = {.width = options->imgsz,
                .height = yl_rng_uniform(&rng) < 0.25f ? options->imgsz * 3 / 4 : options->imgsz,
                .light_angle = uniform(&rng, 0.0f, 2.0f * SYNTH_PI),
                .size_scale = (float)options->imgsz / 160.0f * (1.0f + 0.5f * s),
                .contrast_scale = 1.0f - 0.35f * s,
                .shift = s};
    size_t pixels = (size_t)c.width * c.height;
    c.lum = malloc(pixels * sizeof *c.lum);
    image->pixels = malloc(pixels * 3);
    if (!c.lum || !image->pixels) {
        free(c.lum);
        yl_image_u8_free(image);
        return yl_error(YL_ERR_OOM, "synth: out of memory for a %dx%d image", c.width, c.height);
    }
    image->width = c.width;
    image->height = c.height;
    yl_status status = draw_surface(&c, &rng);
    if (status != YL_OK) {
        free(c.lum);
        yl_image_u8_free(image);
        return status;
    }
    int wanted = yl_rng_uniform(&rng) < SYNTH_BACKGROUND_PROBABILITY ? 0 : 1 + (int)yl_rng_below(&rng, YL_SYNTH_MAX_OBJECTS);
    defect defects[YL_SYNTH_MAX_OBJECTS];
    placed_box boxes[YL_SYNTH_MAX_OBJECTS];
    int kinds = options->class_names ? options->class_count : YL_SYNTH_KINDS;
    int placed = place_defects(&c, &rng, wanted, kinds, defects, boxes);
    // Holes last: they cut through whatever shading lies under them.
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < placed; i++)
            if ((defects[i].kind == 2) == pass) draw_defect(&c, &defects[i]);
    float cast[3] = {0.97f + 0.12f * s + uniform(&rng, -0.02f, 0.02f), 1.0f,
                     1.04f - 0.16f * s + uniform(&rng, -0.02f, 0.02f)};
    float noise = 0.015f + 0.01f * s;
    for (size_t i = 0; i < pixels; i++) {
        float grain = noise * yl_rng_normal(&rng);
        for (int ch = 0; ch < 3; ch++) {
            float v = (c.lum[i] + grain) * cast[ch] + 0.004f * yl_rng_normal(&rng);
            v = v < 0.0f ? 0.0f : v > 1.0f ? 1.0f : v;
            image->pixels[3 * i + ch] = (uint8_t)lrintf(v * 255.0f);
        }
    }
    free(c.lum);
    for (int i = 0; i < placed; i++)
        labels[i] = (yl_box_label){.cls = defects[i].kind,
                                   .cx = boxes[i].cx / (float)c.width,
                                   .cy = boxes[i].cy / (float)c.height,
                                   .w = 2.0f * boxes[i].half_w / (float)c.width,
                                   .h = 2.0f * boxes[i].half_h / (float)c.height};
    *label_count = placed;
    return YL_OK;
}
