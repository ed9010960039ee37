// Letterbox: geometry against hand-worked Ultralytics cases, pixels against a double-precision
// bilinear reference, padding value, box mapping both ways, bad input.
#include <math.h>
#include <stdint.h>

#include "engine/data/image_warp.h"
#include "engine/data/letterbox.h"
#include "test_common.h"

typedef struct {
    int src_w, src_h, dst_w, dst_h;
    bool scaleup, auto_pad, center;
    int new_w, new_h, left, top, right, bottom, out_w, out_h;
} geometry_case;

static void test_geometry(void) {
    // Worked by hand from Ultralytics' LetterBox (Python round = half to even).
    const geometry_case cases[] = {
        {640, 480, 640, 640, true, false, true, 640, 480, 0, 80, 0, 80, 640, 640},
        {500, 375, 640, 640, true, false, true, 640, 480, 0, 80, 0, 80, 640, 640},     // r = 1.28
        {100, 50, 640, 640, false, false, true, 100, 50, 270, 295, 270, 295, 640, 640},
        {640, 480, 640, 640, true, true, true, 640, 480, 0, 0, 0, 0, 640, 480},        // auto: 160 % 32 = 0
        {600, 450, 640, 640, true, true, true, 640, 480, 0, 0, 0, 0, 640, 480},
        {101, 50, 128, 128, false, false, true, 101, 50, 13, 39, 14, 39, 128, 128},    // dw = 13.5
        {4, 2, 5, 5, true, false, true, 5, 2, 0, 1, 0, 2, 5, 5},                       // round(2.5) = 2
        {101, 50, 128, 128, false, false, false, 101, 50, 0, 0, 27, 78, 128, 128},     // no centring
        {480, 640, 512, 672, false, false, true, 480, 640, 16, 16, 16, 16, 512, 672},  // a rect val shape
        {300, 200, 96, 96, true, false, true, 96, 64, 0, 16, 0, 16, 96, 96},           // shrinking
        {300, 200, 96, 96, true, true, true, 96, 64, 0, 0, 0, 0, 96, 64},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const geometry_case *c = &cases[i];
        yl_letterbox_options o = yl_letterbox_defaults(c->dst_w, c->dst_h);
        o.scaleup = c->scaleup;
        o.auto_pad = c->auto_pad;
        o.center = c->center;
        yl_letterbox_info info;
        CHECK_OK(yl_letterbox_plan(c->src_w, c->src_h, &o, &info));
        CHECK(info.resized_width == c->new_w && info.resized_height == c->new_h, "case %zu: resized %dx%d, want %dx%d",
              i, info.resized_width, info.resized_height, c->new_w, c->new_h);
        CHECK(info.pad_left == c->left && info.pad_top == c->top && info.pad_right == c->right &&
                  info.pad_bottom == c->bottom,
              "case %zu: pads l%d t%d r%d b%d, want l%d t%d r%d b%d", i, info.pad_left, info.pad_top, info.pad_right,
              info.pad_bottom, c->left, c->top, c->right, c->bottom);
        CHECK(info.width == c->out_w && info.height == c->out_h, "case %zu: output %dx%d, want %dx%d", i, info.width,
              info.height, c->out_w, c->out_h);
    }
}

static void fill_pattern(yl_image_u8 *img, yl_rng *rng) {
    for (size_t i = 0; i < (size_t)img->width * img->height * 3; i++) img->pixels[i] = (uint8_t)yl_rng_below(rng, 256);
}

// cv2.resize INTER_LINEAR in double: half-pixel centres, clamped at the edges.
static double reference_resize(const yl_image_u8 *src, int dst_w, int dst_h, int x, int y, int c) {
    double fx = (x + 0.5) * src->width / dst_w - 0.5, fy = (y + 0.5) * src->height / dst_h - 0.5;
    if (fx < 0) fx = 0;
    if (fy < 0) fy = 0;
    if (fx > src->width - 1) fx = src->width - 1;
    if (fy > src->height - 1) fy = src->height - 1;
    int x0 = (int)floor(fx), y0 = (int)floor(fy);
    int x1 = x0 + 1 < src->width ? x0 + 1 : x0, y1 = y0 + 1 < src->height ? y0 + 1 : y0;
    double ax = fx - x0, ay = fy - y0;
#define PX(xx, yy) ((double)src->pixels[((size_t)(yy) * src->width + (xx)) * 3 + c])
    return (1 - ay) * ((1 - ax) * PX(x0, y0) + ax * PX(x1, y0)) + ay * ((1 - ax) * PX(x0, y1) + ax * PX(x1, y1));
#undef PX
}

static void test_pixels(void) {
    yl_rng rng;
    yl_rng_seed(&rng, 5, 1);
    const int shapes[][4] = {{37, 23, 64, 64}, {64, 48, 96, 64}, {90, 31, 64, 64}, {50, 50, 50, 50}, {17, 40, 64, 96}};
    for (size_t k = 0; k < sizeof shapes / sizeof shapes[0]; k++) {
        yl_image_u8 src = {shapes[k][0], shapes[k][1], malloc((size_t)shapes[k][0] * shapes[k][1] * 3)};
        fill_pattern(&src, &rng);
        yl_letterbox_options o = yl_letterbox_defaults(shapes[k][2], shapes[k][3]);
        yl_letterbox_info info;
        CHECK_OK(yl_letterbox_plan(src.width, src.height, &o, &info));
        yl_image_u8 dst = {0, 0, malloc((size_t)info.width * info.height * 3)};
        CHECK_OK(yl_letterbox_apply(&src, &info, 114, &dst));
        int pad_errors = 0;
        double worst = 0.0;
        for (int y = 0; y < dst.height; y++)
            for (int x = 0; x < dst.width; x++)
                for (int c = 0; c < 3; c++) {
                    const uint8_t v = dst.pixels[((size_t)y * dst.width + x) * 3 + c];
                    const int ix = x - info.pad_left, iy = y - info.pad_top;
                    if (ix < 0 || iy < 0 || ix >= info.resized_width || iy >= info.resized_height) {
                        pad_errors += v != 114;
                        continue;
                    }
                    double ref = reference_resize(&src, info.resized_width, info.resized_height, ix, iy, c);
                    worst = fmax(worst, fabs(ref - v));
                }
        CHECK(pad_errors == 0, "shape %zu: %d padding bytes are not 114", k, pad_errors);
        // cv2's 11-bit fixed-point weights (the resize is checked byte for byte against cv2 in
        // test_image_io) stay within a unit of exact bilinear interpolation
        CHECK(worst < 1.0, "shape %zu: max |pixel - double reference| = %.3f >= 1", k, worst);
        printf("  letterbox %dx%d -> %dx%d: max pixel error %.3f\n", src.width, src.height, dst.width, dst.height, worst);
        free(src.pixels);
        free(dst.pixels);
    }
}

static void test_box_round_trip(void) {
    yl_rng rng;
    yl_rng_seed(&rng, 11, 2);
    double worst_round_trip = 0.0, worst_formula = 0.0;
    for (int trial = 0; trial < 200; trial++) {
        const int sw = 10 + (int)yl_rng_below(&rng, 700), sh = 10 + (int)yl_rng_below(&rng, 700);
        yl_letterbox_options o = yl_letterbox_defaults(32 + 32 * (int)yl_rng_below(&rng, 20), 32 + 32 * (int)yl_rng_below(&rng, 20));
        o.scaleup = yl_rng_below(&rng, 2);
        o.auto_pad = yl_rng_below(&rng, 2);
        o.center = yl_rng_below(&rng, 4) != 0;
        yl_letterbox_info info;
        CHECK_OK(yl_letterbox_plan(sw, sh, &o, &info));
        yl_box_label labels[4];
        for (int i = 0; i < 4; i++) {
            float w = 0.01f + 0.9f * yl_rng_uniform(&rng), h = 0.01f + 0.9f * yl_rng_uniform(&rng);
            labels[i] = (yl_box_label){i, w / 2 + (1 - w) * yl_rng_uniform(&rng), h / 2 + (1 - h) * yl_rng_uniform(&rng), w, h};
        }
        yl_box_label mapped[4];
        memcpy(mapped, labels, sizeof labels);
        yl_letterbox_map_labels(&info, mapped, 4);
        for (int i = 0; i < 4; i++) {
            // independent: source pixels * r + pad, normalised by the output size
            const double r = fmin((double)o.height / sh, (double)o.width / sw) * 1.0;
            const double ratio = o.scaleup ? r : fmin(r, 1.0);
            double x1 = ((labels[i].cx - labels[i].w / 2) * sw * ratio + info.pad_left) / info.width;
            double y2 = ((labels[i].cy + labels[i].h / 2) * sh * ratio + info.pad_top) / info.height;
            worst_formula = fmax(worst_formula, fabs(x1 - (mapped[i].cx - mapped[i].w / 2)));
            worst_formula = fmax(worst_formula, fabs(y2 - (mapped[i].cy + mapped[i].h / 2)));
            // back: output pixels -> source pixels -> normalised
            float out_px[4] = {(mapped[i].cx - mapped[i].w / 2) * info.width, (mapped[i].cy - mapped[i].h / 2) * info.height,
                               (mapped[i].cx + mapped[i].w / 2) * info.width, (mapped[i].cy + mapped[i].h / 2) * info.height};
            float src_px[4];
            yl_letterbox_unmap_xyxy(&info, out_px, src_px);
            const double back[4] = {src_px[0] / sw, src_px[1] / sh, src_px[2] / sw, src_px[3] / sh};
            const double orig[4] = {labels[i].cx - labels[i].w / 2, labels[i].cy - labels[i].h / 2,
                                    labels[i].cx + labels[i].w / 2, labels[i].cy + labels[i].h / 2};
            for (int k = 0; k < 4; k++) worst_round_trip = fmax(worst_round_trip, fabs(back[k] - orig[k]));
            float again[4];
            yl_letterbox_map_xyxy(&info, src_px, again);
            for (int k = 0; k < 4; k++) worst_round_trip = fmax(worst_round_trip, fabs(again[k] - out_px[k]) / info.width);
        }
    }
    printf("  box mapping: max |round trip| %.2e (normalised), max |map - formula| %.2e\n", worst_round_trip, worst_formula);
    CHECK(worst_round_trip < 1e-4, "round trip error %.3e >= 1e-4", worst_round_trip);
    CHECK(worst_formula < 1e-5, "mapping differs from src * r + pad by %.3e", worst_formula);
}

// A solid rectangle and its label stay together through the letterbox.
static void test_box_covers_pixels(void) {
    yl_image_u8 src = {120, 80, malloc(120 * 80 * 3)};
    yl_image_fill(&src, 30);
    const int x0 = 20, y0 = 10, x1 = 70, y1 = 50;  // pixels [x0, x1) x [y0, y1)
    for (int y = y0; y < y1; y++)
        for (int x = x0; x < x1; x++) {
            uint8_t *p = src.pixels + ((size_t)y * src.width + x) * 3;
            p[0] = 250, p[1] = 10, p[2] = 10;
        }
    yl_box_label label = {0, (x0 + x1) / 2.0f / src.width, (y0 + y1) / 2.0f / src.height, (float)(x1 - x0) / src.width,
                          (float)(y1 - y0) / src.height};
    yl_letterbox_options o = yl_letterbox_defaults(96, 96);
    yl_letterbox_info info;
    CHECK_OK(yl_letterbox_plan(src.width, src.height, &o, &info));
    yl_image_u8 dst = {0, 0, malloc((size_t)info.width * info.height * 3)};
    CHECK_OK(yl_letterbox_apply(&src, &info, 114, &dst));
    yl_letterbox_map_labels(&info, &label, 1);
    const float bx1 = (label.cx - label.w / 2) * dst.width, bx2 = (label.cx + label.w / 2) * dst.width;
    const float by1 = (label.cy - label.h / 2) * dst.height, by2 = (label.cy + label.h / 2) * dst.height;
    int inside_wrong = 0, outside_red = 0;
    for (int y = 0; y < dst.height; y++)
        for (int x = 0; x < dst.width; x++) {
            const uint8_t *p = dst.pixels + ((size_t)y * dst.width + x) * 3;
            const bool red = p[0] > 200 && p[1] < 60;
            const float cx = x + 0.5f, cy = y + 0.5f;
            if (cx > bx1 + 1 && cx < bx2 - 1 && cy > by1 + 1 && cy < by2 - 1) inside_wrong += !red;
            if (cx < bx1 - 1 || cx > bx2 + 1 || cy < by1 - 1 || cy > by2 + 1) outside_red += red;
        }
    CHECK(inside_wrong == 0 && outside_red == 0, "box/pixel mismatch: %d inside not red, %d outside red", inside_wrong,
          outside_red);
    free(src.pixels);
    free(dst.pixels);
}

static void test_bad_input(void) {
    yl_letterbox_options o = yl_letterbox_defaults(64, 64);
    yl_letterbox_info info;
    CHECK_STATUS(yl_letterbox_plan(0, 10, &o, &info), YL_ERR_INVALID_ARG);
    CHECK_STATUS(yl_letterbox_plan(10, 10, NULL, &info), YL_ERR_INVALID_ARG);
    CHECK_STATUS(yl_letterbox_plan(10, 10, &o, NULL), YL_ERR_INVALID_ARG);
    o.auto_pad = true;
    o.stride = 0;
    CHECK_STATUS(yl_letterbox_plan(10, 10, &o, &info), YL_ERR_INVALID_ARG);
    o = yl_letterbox_defaults(64, 64);
    CHECK_OK(yl_letterbox_plan(20, 10, &o, &info));
    uint8_t pixels[30 * 30 * 3], out[64 * 64 * 3];
    yl_image_u8 wrong = {30, 30, pixels}, dst = {0, 0, out};
    CHECK_STATUS(yl_letterbox_apply(&wrong, &info, 114, &dst), YL_ERR_SHAPE);
    CHECK_STATUS(yl_letterbox_apply(NULL, &info, 114, &dst), YL_ERR_INVALID_ARG);
}

int main(void) {
    test_geometry();
    test_pixels();
    test_box_round_trip();
    test_box_covers_pixels();
    test_bad_input();
    return yl_test_finish("test_letterbox");
}
