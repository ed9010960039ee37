// Ultralytics' RandomHSV (>= 8.3.83) on OpenCV's 8-bit HSV representation.
#include <math.h>

#include "augment.h"

// OpenCV computes RGB -> HSV in 12-bit fixed point with these reciprocal tables; doing the
// same gives the same H and S values (the LUTs index them, so off-by-one matters).
enum { HSV_SHIFT = 12 };

static int shift_round(int x) {
    // (x + 2^11) >> 12 with a floor for negative values, as OpenCV's arithmetic shift does
    int v = x + (1 << (HSV_SHIFT - 1));
    return v >= 0 ? v >> HSV_SHIFT : -((-v + (1 << HSV_SHIFT) - 1) >> HSV_SHIFT);
}

static int sat_table(int v) { return v ? (int)lrint((255 << HSV_SHIFT) / (double)v) : 0; }
static int hue_table(int diff) { return diff ? (int)lrint((180 << HSV_SHIFT) / (6.0 * diff)) : 0; }

void yl_rgb_to_hsv_u8(const uint8_t rgb[3], uint8_t hsv[3]) {
    const int r = rgb[0], g = rgb[1], b = rgb[2];
    int v = r > g ? r : g;
    v = v > b ? v : b;
    int vmin = r < g ? r : g;
    vmin = vmin < b ? vmin : b;
    const int diff = v - vmin;
    const int s = shift_round(diff * sat_table(v));
    int h;
    if (v == r) h = g - b;
    else if (v == g) h = b - r + 2 * diff;
    else h = r - g + 4 * diff;
    h = shift_round(h * hue_table(diff));
    if (h < 0) h += 180;
    hsv[0] = (uint8_t)h;
    hsv[1] = (uint8_t)s;
    hsv[2] = (uint8_t)v;
}

// OpenCV's vectorised HSV2RGB_b (what runs for all but the last few pixels of a row) works in
// float, its x86 build fuses 1 - s * h into one FMA, and it truncates v * 255 when packing to
// bytes (its scalar tail rounds instead). Doing the same gives its bytes (checked on 200k
// random HSV triples and in test_augment's fixture).
static uint8_t truncate_channel(float v) {
    const float x = v * 255.0f;
    if (!(x > 0.0f)) return 0;
    if (x >= 255.0f) return 255;
    return (uint8_t)x;
}

void yl_hsv_to_rgb_u8(const uint8_t hsv[3], uint8_t rgb[3]) {
    static const int sector_data[6][3] = {{1, 3, 0}, {1, 0, 2}, {3, 0, 1}, {0, 2, 1}, {0, 1, 3}, {2, 1, 0}};
    const float s = hsv[1] * (1.0f / 255.0f), v = hsv[2] * (1.0f / 255.0f);
    float h = hsv[0] * (6.0f / 180.0f);  // [0, 6) for H < 180
    int sector = (int)h;
    h -= (float)sector;
    if (sector >= 6) sector -= 6;
    const float tab[4] = {v, v * (1.0f - s), v * fmaf(-s, h, 1.0f), v * fmaf(-s, 1.0f - h, 1.0f)};
    rgb[2] = truncate_channel(tab[sector_data[sector][0]]);  // b
    rgb[1] = truncate_channel(tab[sector_data[sector][1]]);  // g
    rgb[0] = truncate_channel(tab[sector_data[sector][2]]);  // r
}

void yl_hsv_draw_gains(const yl_augment_options *o, yl_rng *rng, float gains[3]) {
    const float limits[3] = {o->hsv_h, o->hsv_s, o->hsv_v};
    for (int i = 0; i < 3; i++) gains[i] = (2.0f * yl_rng_uniform(rng) - 1.0f) * limits[i];
}

static uint8_t truncate_u8(double v) { return (uint8_t)(v < 0.0 ? 0.0 : (v > 255.0 ? 255.0 : v)); }

void yl_hsv_apply(yl_image_u8 *image, const float gains[3]) {
    if (gains[0] == 0.0f && gains[1] == 0.0f && gains[2] == 0.0f) return;
    uint8_t lut_hue[256], lut_sat[256], lut_val[256];
    for (int x = 0; x < 256; x++) {
        double hue = fmod(x + (double)gains[0] * 180.0, 180.0);
        if (hue < 0.0) hue += 180.0;
        lut_hue[x] = (uint8_t)hue;
        lut_sat[x] = truncate_u8(x * (1.0 + gains[1]));
        lut_val[x] = truncate_u8(x * (1.0 + gains[2]));
    }
    lut_sat[0] = 0;  // keeps grey pixels grey whatever their hue byte becomes
    const size_t n = (size_t)image->width * image->height;
    for (size_t i = 0; i < n; i++) {
        uint8_t *p = image->pixels + i * 3;
        uint8_t hsv[3];
        yl_rgb_to_hsv_u8(p, hsv);
        hsv[0] = lut_hue[hsv[0]];
        hsv[1] = lut_sat[hsv[1]];
        hsv[2] = lut_val[hsv[2]];
        yl_hsv_to_rgb_u8(hsv, p);
    }
}
