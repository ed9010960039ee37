// A synthetic in-memory sample source for the data pipeline tests: grey images whose long side
// is imgsz, each with up to three solid, non-overlapping rectangles in class colours and exact
// labels. Optional: unreadable indices, a delay per load, a load counter. Thread-safe.
#pragma once
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/core/rng.h"
#include "engine/data/sample_source.h"

#define TEST_BACKGROUND 60
#define TEST_CLASSES 4
static const uint8_t test_class_colour[TEST_CLASSES][3] = {{255, 0, 0}, {0, 255, 0}, {0, 0, 255}, {255, 255, 0}};

typedef struct {
    int count;
    int imgsz;
    uint64_t seed;
    const int *bad;  // indices that fail to load
    int bad_count;
    long delay_ns;   // per load
    int id;          // added to class numbers' seed so two sources differ
    atomic_long loads;
} test_source;

typedef struct {
    int width, height;
    int rect_count;
    int rect[3][5];  // x0, y0, x1, y1 (pixels [x0, x1) x [y0, y1)), class
} test_image_layout;

static inline void test_layout(const test_source *s, int index, test_image_layout *out) {
    yl_rng rng;
    yl_rng_seed(&rng, s->seed * 7919u + (uint64_t)index * 31u + (uint64_t)s->id * 1000003u, 17);
    const int other = s->imgsz / 2 + (int)yl_rng_below(&rng, (uint32_t)(s->imgsz / 2 + 1));
    const bool wide = yl_rng_below(&rng, 2);
    out->width = wide ? s->imgsz : other;
    out->height = wide ? other : s->imgsz;
    out->rect_count = 1 + (int)yl_rng_below(&rng, 3);
    // one rectangle per vertical band, so they never overlap
    const int band = out->width / 3;
    for (int r = 0; r < out->rect_count; r++) {
        int w = 6 + (int)yl_rng_below(&rng, (uint32_t)(band - 8));
        int h = 6 + (int)yl_rng_below(&rng, (uint32_t)(out->height - 8));
        int x0 = r * band + 1 + (int)yl_rng_below(&rng, (uint32_t)(band - w - 1));
        int y0 = 1 + (int)yl_rng_below(&rng, (uint32_t)(out->height - h - 1));
        out->rect[r][0] = x0, out->rect[r][1] = y0, out->rect[r][2] = x0 + w, out->rect[r][3] = y0 + h;
        out->rect[r][4] = (int)yl_rng_below(&rng, TEST_CLASSES);
    }
}

static inline yl_status test_source_load(void *ctx, int index, int imgsz, yl_sample *out) {
    test_source *s = ctx;
    atomic_fetch_add(&s->loads, 1);
    if (s->delay_ns > 0) {
        struct timespec ts = {s->delay_ns / 1000000000L, s->delay_ns % 1000000000L};
        nanosleep(&ts, NULL);
    }
    for (int i = 0; i < s->bad_count; i++)
        if (s->bad[i] == index) return yl_error(YL_ERR_FORMAT, "images/bad_%d.jpg: corrupt JPEG", index);
    if (index < 0 || index >= s->count) return yl_error(YL_ERR_INVALID_ARG, "test source: index %d", index);
    if (imgsz != s->imgsz) return yl_error(YL_ERR_INVALID_ARG, "test source: imgsz %d, built for %d", imgsz, s->imgsz);
    test_image_layout L;
    test_layout(s, index, &L);
    memset(out, 0, sizeof *out);
    out->image.width = L.width;
    out->image.height = L.height;
    out->image.pixels = malloc((size_t)L.width * L.height * 3);
    out->labels = malloc(3 * sizeof *out->labels);
    memset(out->image.pixels, TEST_BACKGROUND, (size_t)L.width * L.height * 3);
    for (int r = 0; r < L.rect_count; r++) {
        const int *R = L.rect[r];
        for (int y = R[1]; y < R[3]; y++)
            for (int x = R[0]; x < R[2]; x++) memcpy(out->image.pixels + ((size_t)y * L.width + x) * 3, test_class_colour[R[4]], 3);
        out->labels[r] = (yl_box_label){R[4], (R[0] + R[2]) * 0.5f / L.width, (R[1] + R[3]) * 0.5f / L.height,
                                        (float)(R[2] - R[0]) / L.width, (float)(R[3] - R[1]) / L.height};
    }
    out->label_count = L.rect_count;
    out->original_width = L.width * 2;
    out->original_height = L.height * 2;
    out->path = "synthetic";
    return YL_OK;
}

static inline yl_status test_source_image_size(void *ctx, int index, int *width, int *height) {
    test_source *s = ctx;
    test_image_layout L;
    test_layout(s, index, &L);
    *width = L.width * 2;
    *height = L.height * 2;
    return YL_OK;
}

static inline yl_sample_source test_source_interface(test_source *s) {
    return (yl_sample_source){.count = s->count, .load = test_source_load, .image_size = test_source_image_size, .ctx = s};
}

// Which class colour a pixel shows (within `tolerance` per channel), or -1.
static inline int test_pixel_class(const uint8_t *p, int tolerance) {
    for (int c = 0; c < TEST_CLASSES; c++) {
        const uint8_t *k = test_class_colour[c];
        if (abs(p[0] - k[0]) <= tolerance && abs(p[1] - k[1]) <= tolerance && abs(p[2] - k[2]) <= tolerance) return c;
    }
    return -1;
}
