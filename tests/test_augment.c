// Train-time augmentation: mosaic placement, boxes that stay on their pixels through mosaic +
// perspective + flips, the perspective draw's structure and ranges, box candidates, OpenCV HSV
// conventions and the HSV jitter, flips, options and errors.
#include <math.h>
#include <stdint.h>

#include "data_test_source.h"
#include "engine/data/augment.h"
#include "engine/data/image_warp.h"
#include "engine/data/letterbox.h"
#include "test_common.h"
#include "weights/safetensors.h"

static void test_mosaic_placement(void) {
    const int s = 64;
    const uint8_t colours[4] = {10, 20, 30, 40};
    const int sizes[4][2] = {{64, 40}, {50, 64}, {64, 64}, {33, 64}};  // w, h
    yl_sample tiles[4];
    yl_box_label labels[4];
    for (int i = 0; i < 4; i++) {
        memset(&tiles[i], 0, sizeof tiles[i]);
        tiles[i].image = (yl_image_u8){sizes[i][0], sizes[i][1], malloc((size_t)sizes[i][0] * sizes[i][1] * 3)};
        yl_image_fill(&tiles[i].image, colours[i]);
        labels[i] = (yl_box_label){i, 0.5f, 0.5f, 1.0f, 1.0f};  // the whole tile
        tiles[i].labels = &labels[i];
        tiles[i].label_count = 1;
    }
    // the bottom-right pixel of tile 0 is special, to check the alignment
    tiles[0].image.pixels[((size_t)(40 - 1) * 64 + 63) * 3] = 200;
    const yl_sample *ptr[4] = {&tiles[0], &tiles[1], &tiles[2], &tiles[3]};
    const int centres[][2] = {{32, 32}, {95, 40}, {70, 90}, {64, 64}};
    uint8_t *pixels = malloc((size_t)4 * s * s * 3);
    for (size_t c = 0; c < sizeof centres / sizeof centres[0]; c++) {
        const int xc = centres[c][0], yc = centres[c][1];
        yl_image_u8 canvas = {0, 0, pixels};
        yl_pixel_box boxes[4];
        const int n = yl_mosaic4(ptr, s, xc, yc, 114, &canvas, boxes);
        CHECK(canvas.width == 2 * s && canvas.height == 2 * s, "canvas %dx%d", canvas.width, canvas.height);
        // expected tile rectangles on the canvas, worked out independently: each tile is anchored
        // at the centre and cropped to the canvas
        int expect[4][4];
        for (int i = 0; i < 4; i++) {
            const int w = sizes[i][0], h = sizes[i][1];
            int x1 = (i % 2 == 0) ? xc - w : xc, y1 = (i < 2) ? yc - h : yc;
            int x2 = x1 + w, y2 = y1 + h;
            expect[i][0] = x1 < 0 ? 0 : x1, expect[i][1] = y1 < 0 ? 0 : y1;
            expect[i][2] = x2 > 2 * s ? 2 * s : x2, expect[i][3] = y2 > 2 * s ? 2 * s : y2;
        }
        int wrong = 0;
        for (int y = 0; y < 2 * s; y++)
            for (int x = 0; x < 2 * s; x++) {
                uint8_t want = 114;
                for (int i = 0; i < 4; i++)
                    if (x >= expect[i][0] && x < expect[i][2] && y >= expect[i][1] && y < expect[i][3]) want = colours[i];
                if (x == xc - 1 && y == yc - 1) want = 200;
                wrong += canvas.pixels[((size_t)y * 2 * s + x) * 3] != want;
            }
        CHECK(wrong == 0, "centre (%d, %d): %d canvas pixels differ from the expected tiling", xc, yc, wrong);
        CHECK(n == 4, "centre (%d, %d): %d boxes, want 4", xc, yc, n);
        for (int k = 0; k < n; k++) {
            const int *e = expect[boxes[k].cls];
            CHECK(fabsf(boxes[k].x1 - e[0]) < 1e-3f && fabsf(boxes[k].y1 - e[1]) < 1e-3f &&
                      fabsf(boxes[k].x2 - e[2]) < 1e-3f && fabsf(boxes[k].y2 - e[3]) < 1e-3f,
                  "tile %d box (%.1f %.1f %.1f %.1f), want (%d %d %d %d)", boxes[k].cls, boxes[k].x1, boxes[k].y1,
                  boxes[k].x2, boxes[k].y2, e[0], e[1], e[2], e[3]);
        }
    }
    free(pixels);
    for (int i = 0; i < 4; i++) free(tiles[i].image.pixels);
}

// Checks that labels and pixels agree: every pixel showing a class colour lies in a box of that
// class (plus a band of `band` px for resampling), and the inside of every box (less the band)
// shows its colour. Returns the number of violations.
static int box_pixel_violations(const yl_sample *out, float band, bool check_outside, int *checked_boxes) {
    const int w = out->image.width, h = out->image.height;
    int bad = 0;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            const uint8_t *p = out->image.pixels + ((size_t)y * w + x) * 3;
            const int cls = test_pixel_class(p, 12);
            const float px = x + 0.5f, py = y + 0.5f;
            bool in_own_box = false;
            for (int k = 0; k < out->label_count; k++) {
                const yl_box_label *l = &out->labels[k];
                const float x1 = (l->cx - l->w / 2) * w, x2 = (l->cx + l->w / 2) * w;
                const float y1 = (l->cy - l->h / 2) * h, y2 = (l->cy + l->h / 2) * h;
                if (px > x1 + band && px < x2 - band && py > y1 + band && py < y2 - band && cls != l->cls) bad++;
                if (cls == l->cls && px > x1 - band && px < x2 + band && py > y1 - band && py < y2 + band)
                    in_own_box = true;
            }
            if (check_outside && cls >= 0 && !in_own_box) bad++;
        }
    for (int k = 0; k < out->label_count; k++) {
        const yl_box_label *l = &out->labels[k];
        if (l->w * w > 2 * band + 1 && l->h * h > 2 * band + 1) (*checked_boxes)++;
    }
    return bad;
}

static void test_boxes_follow_pixels(void) {
    test_source src = {.count = 24, .imgsz = 96, .seed = 3};
    yl_sample_source source = test_source_interface(&src);
    yl_augment_options keep_all = yl_augment_defaults(96);
    keep_all.hsv_h = keep_all.hsv_s = keep_all.hsv_v = 0.0f;  // colours must stay recognisable
    keep_all.box_wh_thr = 0.0f, keep_all.box_area_thr = 0.0f, keep_all.box_ar_thr = 1e30f;
    yl_augment_options defaults = keep_all;
    defaults.box_wh_thr = 2.0f, defaults.box_area_thr = 0.1f, defaults.box_ar_thr = 100.0f;
    yl_augment_scratch scratch = {0}, scratch2 = {0};
    int violations = 0, checked = 0, total_all = 0, total_default = 0, not_subset = 0;
    int out_of_range = 0;
    for (int trial = 0; trial < 200; trial++) {
        const bool mosaic = trial % 4 != 3;  // some letterbox samples too (after close_mosaic)
        yl_rng rng, rng2;
        yl_rng_seed(&rng, 100 + trial, 1);
        rng2 = rng;
        yl_sample out, out_default;
        CHECK_OK(yl_augment_train_sample(&keep_all, &source, trial % src.count, mosaic, NULL, &rng, &scratch, &out));
        CHECK_OK(yl_augment_train_sample(&defaults, &source, trial % src.count, mosaic, NULL, &rng2, &scratch2,
                                         &out_default));
        CHECK(out.image.width == 96 && out.image.height == 96, "output %dx%d", out.image.width, out.image.height);
        // with no filtering every visible rectangle part is labelled
        violations += box_pixel_violations(&out, 2.0f, true, &checked);
        // with the default filter some small parts lose their label, but kept labels still fit
        violations += box_pixel_violations(&out_default, 2.0f, false, &checked);
        total_all += out.label_count;
        total_default += out_default.label_count;
        // same draws -> the filtered boxes are a subset of the unfiltered ones
        for (int k = 0; k < out_default.label_count; k++) {
            bool found = false;
            for (int j = 0; j < out.label_count; j++)
                if (memcmp(&out.labels[j], &out_default.labels[k], sizeof out.labels[j]) == 0) found = true;
            not_subset += !found;
            const yl_box_label *l = &out_default.labels[k];
            out_of_range += !(l->w > 2.0f / 96 && l->h > 2.0f / 96 && l->cx - l->w / 2 >= -1e-6f &&
                              l->cx + l->w / 2 <= 1 + 1e-6f && l->cy - l->h / 2 >= -1e-6f && l->cy + l->h / 2 <= 1 + 1e-6f);
        }
    }
    printf("  boxes vs pixels: %d labels unfiltered, %d kept by the default filter, %d interiors checked\n", total_all,
           total_default, checked);
    CHECK(violations == 0, "%d pixels disagree with the labels", violations);
    CHECK(not_subset == 0, "%d filtered boxes are not among the unfiltered ones", not_subset);
    CHECK(out_of_range == 0, "%d kept boxes are outside the image or too small", out_of_range);
    CHECK(total_default < total_all && total_default > total_all / 3, "filter kept %d of %d", total_default, total_all);
    CHECK(checked > 300, "only %d box interiors checked", checked);
    yl_augment_scratch_free(&scratch);
    yl_augment_scratch_free(&scratch2);
}

static void test_determinism_and_flip(void) {
    test_source src = {.count = 8, .imgsz = 64, .seed = 9};
    yl_sample_source source = test_source_interface(&src);
    yl_augment_options o = yl_augment_defaults(64);
    yl_augment_scratch a = {0}, b = {0};
    yl_rng r1, r2;
    yl_rng_seed(&r1, 42, 3);
    yl_rng_seed(&r2, 42, 3);
    yl_sample s1, s2;
    CHECK_OK(yl_augment_train_sample(&o, &source, 5, true, NULL, &r1, &a, &s1));
    CHECK_OK(yl_augment_train_sample(&o, &source, 5, true, NULL, &r2, &b, &s2));
    CHECK(memcmp(s1.image.pixels, s2.image.pixels, 64 * 64 * 3) == 0 && s1.label_count == s2.label_count &&
              memcmp(s1.labels, s2.labels, (size_t)s1.label_count * sizeof *s1.labels) == 0,
          "same rng state gave different samples");
    CHECK(s1.original_width == 2 * 64 || s1.original_height == 2 * 64, "original size %dx%d not the primary's",
          s1.original_width, s1.original_height);

    // flip: pixels mirrored, cx -> 1 - cx, twice = identity (colours kept for the box check)
    yl_augment_options no_hsv = o;
    no_hsv.hsv_h = no_hsv.hsv_s = no_hsv.hsv_v = 0.0f;
    CHECK_OK(yl_augment_train_sample(&no_hsv, &source, 6, true, NULL, &r1, &a, &s1));
    uint8_t *copy = malloc(64 * 64 * 3);
    memcpy(copy, s1.image.pixels, 64 * 64 * 3);
    yl_box_label labels[16];
    const int n = s1.label_count < 16 ? s1.label_count : 16;
    memcpy(labels, s1.labels, (size_t)n * sizeof *labels);
    yl_flip_horizontal(&s1.image, s1.labels, n);
    int mirrored = 0;
    for (int y = 0; y < 64; y++)
        for (int x = 0; x < 64; x++) mirrored += memcmp(s1.image.pixels + (y * 64 + x) * 3, copy + (y * 64 + 63 - x) * 3, 3) == 0;
    CHECK(mirrored == 64 * 64, "horizontal flip: %d of %d pixels mirrored", mirrored, 64 * 64);
    for (int k = 0; k < n; k++)
        CHECK(fabsf(s1.labels[k].cx - (1 - labels[k].cx)) < 1e-6f && s1.labels[k].cy == labels[k].cy &&
                  s1.labels[k].w == labels[k].w,
              "flipped box %d", k);
    int checked = 0;
    CHECK(box_pixel_violations(&s1, 2.0f, false, &checked) == 0, "flipped boxes left their pixels");
    yl_flip_horizontal(&s1.image, s1.labels, n);
    CHECK(memcmp(copy, s1.image.pixels, 64 * 64 * 3) == 0, "two horizontal flips are not the identity");
    yl_flip_vertical(&s1.image, s1.labels, n);
    CHECK(memcmp(s1.image.pixels, copy + 63 * 64 * 3, 64 * 3) == 0, "vertical flip: last row is not first");
    for (int k = 0; k < n; k++) CHECK(fabsf(s1.labels[k].cy - (1 - labels[k].cy)) < 1e-6f, "vflipped box %d", k);
    free(copy);

    // fliplr = 0.5: about half of the samples mirrored. A one-pixel-wide probe shows the flips:
    // with no warp, letterbox only, the marker column ends up left or right.
    yl_augment_options probe = yl_augment_defaults(64);
    probe.translate = 0.0f, probe.scale = 0.0f, probe.hsv_h = probe.hsv_s = probe.hsv_v = 0.0f;
    int flipped = 0;
    const int trials = 400;
    for (int t = 0; t < trials; t++) {
        yl_rng rng;
        yl_rng_seed(&rng, 1000 + t, 7);
        yl_sample out;
        CHECK_OK(yl_augment_train_sample(&probe, &source, 0, false, NULL, &rng, &a, &out));
        // the unflipped position: source image 0's first label through the letterbox
        yl_sample raw;
        test_source_load(&src, 0, 64, &raw);
        yl_letterbox_options lo = yl_letterbox_defaults(64, 64);
        yl_letterbox_info info;
        CHECK_OK(yl_letterbox_plan(raw.image.width, raw.image.height, &lo, &info));
        yl_letterbox_map_labels(&info, raw.labels, raw.label_count);
        const float raw_cx = raw.labels[0].cx;
        flipped += fabsf(out.labels[0].cx - raw_cx) > 1e-4f;
        yl_sample_free(&raw);
    }
    printf("  fliplr: %d of %d flipped\n", flipped, trials);
    CHECK(flipped > trials * 0.4 && flipped < trials * 0.6, "fliplr 0.5 flipped %d of %d", flipped, trials);
    yl_augment_scratch_free(&a);
    yl_augment_scratch_free(&b);
}

static void test_perspective_draws(void) {
    yl_augment_options o = yl_augment_defaults(64);
    yl_rng rng;
    yl_rng_seed(&rng, 77, 1);
    double smin = 9, smax = 0, ssum = 0, tmin = 9, tmax = -9;
    int structure_errors = 0;
    const int n = 5000;
    for (int i = 0; i < n; i++) {
        double m[9], s;
        yl_random_perspective_matrix(&o, 128, 128, 64, 64, &rng, m, &s);
        // degrees = shear = perspective = 0: M = [[s, 0, tx - 64 s], [0, s, ty - 64 s], [0, 0, 1]]
        structure_errors += fabs(m[0] - s) > 1e-12 || fabs(m[4] - s) > 1e-12 || m[1] != 0 || m[3] != 0 || m[6] != 0 ||
                            m[7] != 0 || m[8] != 1;
        const double tx = (m[2] + 64 * s) / 64, ty = (m[5] + 64 * s) / 64;  // translation as a fraction of s
        tmin = fmin(tmin, fmin(tx, ty)), tmax = fmax(tmax, fmax(tx, ty));
        smin = fmin(smin, s), smax = fmax(smax, s), ssum += s;
    }
    printf("  perspective: scale in [%.3f, %.3f] mean %.3f, translation in [%.3f, %.3f]\n", smin, smax, ssum / n, tmin, tmax);
    CHECK(structure_errors == 0, "%d matrices are not pure scale + translation", structure_errors);
    CHECK(smin >= 0.5 && smax <= 1.5 && smin < 0.51 && smax > 1.49, "scale range [%g, %g]", smin, smax);
    CHECK(fabs(ssum / n - 1.0) < 0.02, "scale mean %g", ssum / n);
    CHECK(tmin >= 0.4 - 1e-9 && tmax <= 0.6 + 1e-9 && tmin < 0.41 && tmax > 0.59, "translation range [%g, %g]", tmin, tmax);

    // rotation and shear when asked: M keeps the centre's image at T and rotates by up to +-deg
    o.degrees = 30.0f;
    o.shear = 0.0f;
    double max_angle = 0.0;
    for (int i = 0; i < 2000; i++) {
        double m[9], s;
        yl_random_perspective_matrix(&o, 100, 100, 100, 100, &rng, m, &s);
        max_angle = fmax(max_angle, fabs(atan2(m[1], m[0])) * 180.0 / 3.14159265358979);
        CHECK(fabs(m[0] * m[0] + m[1] * m[1] - s * s) < 1e-9, "rotation part is not scale * rotation");
    }
    CHECK(max_angle <= 30.0 + 1e-9 && max_angle > 29.0, "rotation up to %g degrees, want 30", max_angle);
}

static void test_box_candidates(void) {
    // Ultralytics' box_candidates thresholds: w, h > 2; area ratio > 0.1; aspect < 100
    CHECK(yl_box_candidate(10, 10, 10, 10, 2, 100, 0.1), "unchanged box dropped");
    CHECK(!yl_box_candidate(10, 10, 2, 10, 2, 100, 0.1), "w = 2 kept");
    CHECK(yl_box_candidate(10, 10, 2.01, 10, 2, 100, 0.1), "w = 2.01 dropped (area 0.2)");
    CHECK(!yl_box_candidate(100, 100, 30, 33, 2, 100, 0.1), "area 0.099 kept");
    CHECK(yl_box_candidate(100, 100, 30, 34, 2, 100, 0.1), "area 0.102 dropped");
    CHECK(!yl_box_candidate(1000, 3, 303, 3, 2, 100, 0.1), "aspect 101 kept");
    CHECK(yl_box_candidate(1000, 3, 297, 3, 2, 100, 0.1), "aspect 99 dropped");
    CHECK(!yl_box_candidate(1000, 10, 297, 3, 2, 100, 0.1), "area 0.089 kept");

    yl_augment_options o = yl_augment_defaults(64);
    const double shift[9] = {1, 0, 40, 0, 1, 0, 0, 0, 1};  // moves everything 40 px right
    const yl_pixel_box in[] = {
        {0, 10, 10, 20, 20},    // inside after the shift
        {1, 30, 10, 60, 20},    // out of frame (x >= 70 > 64)
        {2, 20, 10, 30, 20},    // 60..70: 4 px of 10 remain -> area 0.4, kept
        {3, 22, 10, 32, 20},    // 62..72: 2 px remain -> dropped (w not > 2)
        {4, 5, 5, 6, 30},       // 1 px wide from the start -> dropped
        {5, 0, 0, 60, 50},      // 40..64: 24 of 60 -> area 0.4, kept
        {6, 10, 30, 18.5f, 40}, // 50..58.5 wide 8.5, kept
    };
    yl_pixel_box out[8];
    const int kept = yl_perspective_boxes(&o, shift, 1.0, in, 7, 64, 64, out);
    CHECK(kept == 4, "kept %d boxes, want 4", kept);
    const int want_cls[] = {0, 2, 5, 6};
    for (int k = 0; k < kept && k < 4; k++) CHECK(out[k].cls == want_cls[k], "kept box %d has class %d", k, out[k].cls);
    CHECK(kept >= 3 && fabsf(out[1].x1 - 60) < 1e-5f && fabsf(out[1].x2 - 64) < 1e-5f, "clipped box (%g, %g)", out[1].x1,
          out[1].x2);
    // scale: the area test compares with the original box scaled by the draw's scale
    const double half[9] = {0.5, 0, 0, 0, 0.5, 0, 0, 0, 1};
    const yl_pixel_box big = {0, 0, 0, 40, 40};
    CHECK(yl_perspective_boxes(&o, half, 0.5, &big, 1, 64, 64, out) == 1, "a scaled box was dropped");
}

static void test_hsv(void) {
    // OpenCV 8-bit HSV of known colours
    const uint8_t colours[][6] = {
        {255, 0, 0, 0, 255, 255},     {0, 255, 0, 60, 255, 255},  {0, 0, 255, 120, 255, 255},
        {255, 255, 0, 30, 255, 255},  {0, 255, 255, 90, 255, 255}, {255, 0, 255, 150, 255, 255},
        {128, 128, 128, 0, 0, 128},   {0, 0, 0, 0, 0, 0},          {200, 100, 50, 10, 191, 200},
        {255, 0, 1, 180 - 0, 255, 255},
    };
    for (size_t i = 0; i < sizeof colours / sizeof colours[0]; i++) {
        uint8_t hsv[3];
        yl_rgb_to_hsv_u8(colours[i], hsv);
        // (255, 0, 1): h = 30 * (0 - 1) / 255 = -0.12 -> rounds to 0, not 180
        const int want_h = i == 9 ? 0 : colours[i][3];
        CHECK(hsv[0] == want_h && hsv[1] == colours[i][4] && hsv[2] == colours[i][5],
              "rgb (%d %d %d) -> hsv (%d %d %d), want (%d %d %d)", colours[i][0], colours[i][1], colours[i][2], hsv[0],
              hsv[1], hsv[2], want_h, colours[i][4], colours[i][5]);
        uint8_t rgb[3];
        yl_hsv_to_rgb_u8(hsv, rgb);
        CHECK(abs(rgb[0] - colours[i][0]) <= 1 && abs(rgb[1] - colours[i][1]) <= 1 && abs(rgb[2] - colours[i][2]) <= 1,
              "hsv->rgb of colour %zu", i);
    }
    // round trip over random colours: within OpenCV's quantisation (H in 2-degree steps)
    yl_rng rng;
    yl_rng_seed(&rng, 8, 8);
    int worst = 0, hue_range_errors = 0;
    for (int i = 0; i < 20000; i++) {
        uint8_t rgb[3] = {(uint8_t)yl_rng_below(&rng, 256), (uint8_t)yl_rng_below(&rng, 256), (uint8_t)yl_rng_below(&rng, 256)};
        uint8_t hsv[3], back[3];
        yl_rgb_to_hsv_u8(rgb, hsv);
        hue_range_errors += hsv[0] >= 180;
        yl_hsv_to_rgb_u8(hsv, back);
        for (int c = 0; c < 3; c++) worst = abs(back[c] - rgb[c]) > worst ? abs(back[c] - rgb[c]) : worst;
    }
    CHECK(hue_range_errors == 0, "%d hues >= 180", hue_range_errors);
    // H in 2-degree steps, and OpenCV's (vectorised) HSV -> RGB truncates
    CHECK(worst <= 6, "HSV round trip error %d > 6", worst);

    // gains: uniform in [-g, g]
    yl_augment_options o = yl_augment_defaults(64);
    double lo[3] = {1, 1, 1}, hi[3] = {-1, -1, -1}, sum[3] = {0, 0, 0};
    const float limit[3] = {o.hsv_h, o.hsv_s, o.hsv_v};
    for (int i = 0; i < 20000; i++) {
        float g[3];
        yl_hsv_draw_gains(&o, &rng, g);
        for (int c = 0; c < 3; c++) lo[c] = fmin(lo[c], g[c]), hi[c] = fmax(hi[c], g[c]), sum[c] += g[c];
    }
    for (int c = 0; c < 3; c++) {
        CHECK(lo[c] >= -limit[c] && hi[c] <= limit[c] && lo[c] < -0.99 * limit[c] && hi[c] > 0.99 * limit[c],
              "gain %d range [%g, %g] for limit %g", c, lo[c], hi[c], (double)limit[c]);
        CHECK(fabs(sum[c] / 20000) < 0.02 * limit[c], "gain %d mean %g", c, sum[c] / 20000);
    }

    // an image: greys stay grey (their value scaled and truncated), V follows the value table
    // exactly, H the hue table within one step, zero gains change nothing
    const int w = 64, h = 48;
    yl_image_u8 img = {w, h, malloc((size_t)w * h * 3)}, orig = {w, h, malloc((size_t)w * h * 3)};
    for (int i = 0; i < w * h; i++) {
        uint8_t *p = orig.pixels + i * 3;
        if (i % 5 == 0) p[0] = p[1] = p[2] = (uint8_t)yl_rng_below(&rng, 256);
        else for (int c = 0; c < 3; c++) p[c] = (uint8_t)yl_rng_below(&rng, 256);
    }
    const float zero[3] = {0, 0, 0};
    memcpy(img.pixels, orig.pixels, (size_t)w * h * 3);
    yl_hsv_apply(&img, zero);
    CHECK(memcmp(img.pixels, orig.pixels, (size_t)w * h * 3) == 0, "zero gains changed the image");
    for (int trial = 0; trial < 20; trial++) {
        float g[3];
        yl_hsv_draw_gains(&o, &rng, g);
        memcpy(img.pixels, orig.pixels, (size_t)w * h * 3);
        yl_hsv_apply(&img, g);
        int grey_errors = 0, value_errors = 0, hue_errors = 0, checked_hue = 0;
        for (int i = 0; i < w * h; i++) {
            const uint8_t *p = orig.pixels + i * 3, *q = img.pixels + i * 3;
            uint8_t hsv_in[3], hsv_out[3];
            yl_rgb_to_hsv_u8(p, hsv_in);
            yl_rgb_to_hsv_u8(q, hsv_out);
            double v = fmin(fmax(hsv_in[2] * (1.0 + g[2]), 0), 255);
            value_errors += hsv_out[2] != (int)v;
            if (p[0] == p[1] && p[1] == p[2]) grey_errors += !(q[0] == q[1] && q[1] == q[2] && q[0] == (int)v);
            // hue is only well defined with some saturation and value left
            if (hsv_out[1] > 60 && hsv_out[2] > 60) {
                double want = fmod(hsv_in[0] + g[0] * 180.0, 180.0);
                if (want < 0) want += 180;
                double d = fabs(hsv_out[0] - floor(want));
                d = fmin(d, 180 - d);
                hue_errors += d > 2;
                checked_hue++;
            }
        }
        CHECK(grey_errors == 0, "gains (%g %g %g): %d grey pixels changed hue or value wrongly", g[0], g[1], g[2], grey_errors);
        CHECK(value_errors == 0, "gains (%g %g %g): %d values off the table", g[0], g[1], g[2], value_errors);
        CHECK(hue_errors <= checked_hue / 100, "gains (%g %g %g): %d of %d hues off by > 2", g[0], g[1], g[2], hue_errors,
              checked_hue);
    }
    free(img.pixels);
    free(orig.pixels);
}

static yl_status failing_load(void *ctx, int index, int imgsz, yl_sample *out) {
    (void)ctx, (void)imgsz, (void)out;
    return yl_error(YL_ERR_IO, "images/x_%d.jpg: cannot open", index);
}

static void test_options_and_errors(void) {
    yl_augment_options o = yl_augment_defaults(640);
    CHECK_OK(yl_augment_check(&o));
    CHECK(o.mosaic == 1.0f && o.translate == 0.1f && o.scale == 0.5f && o.hsv_h == 0.015f && o.hsv_s == 0.7f &&
              o.hsv_v == 0.4f && o.fliplr == 0.5f && o.flipud == 0.0f && o.close_mosaic == 10 && o.fill == 114,
          "defaults differ from Ultralytics 8.3");
    CHECK(yl_augment_mosaic_active(&o, 89, 100) && !yl_augment_mosaic_active(&o, 90, 100), "close_mosaic boundary");
    CHECK(!yl_augment_mosaic_active(&o, 0, 5), "5 epochs with close_mosaic 10: no mosaic at all");
    o.close_mosaic = 0;
    CHECK(yl_augment_mosaic_active(&o, 99, 100), "close_mosaic 0 keeps mosaics");
    o.mosaic = 0.0f;
    CHECK(!yl_augment_mosaic_active(&o, 0, 100), "mosaic 0 still active");

    o = yl_augment_defaults(64);
    o.mixup = 0.1f;
    CHECK_STATUS(yl_augment_check(&o), YL_ERR_UNSUPPORTED);
    o = yl_augment_defaults(64);
    o.fliplr = 1.5f;
    CHECK_STATUS(yl_augment_check(&o), YL_ERR_INVALID_ARG);
    o = yl_augment_defaults(64);
    o.scale = 1.0f;
    CHECK_STATUS(yl_augment_check(&o), YL_ERR_INVALID_ARG);
    CHECK_STATUS(yl_augment_check(NULL), YL_ERR_INVALID_ARG);

    o = yl_augment_defaults(64);
    test_source src = {.count = 4, .imgsz = 64, .seed = 1};
    yl_sample_source source = test_source_interface(&src);
    yl_augment_scratch scratch = {0};
    yl_rng rng;
    yl_rng_seed(&rng, 1, 1);
    yl_sample out;
    CHECK_STATUS(yl_augment_train_sample(&o, NULL, 0, true, NULL, &rng, &scratch, &out), YL_ERR_INVALID_ARG);
    CHECK_STATUS(yl_augment_train_sample(&o, &source, 7, false, NULL, &rng, &scratch, &out), YL_ERR_INVALID_ARG);
    CHECK_STATUS(yl_augment_train_sample(&o, &source, 0, true, NULL, NULL, &scratch, &out), YL_ERR_INVALID_ARG);
    yl_sample_source broken = {.count = 3, .load = failing_load};
    CHECK_STATUS(yl_augment_train_sample(&o, &broken, 1, true, NULL, &rng, &scratch, &out), YL_ERR_IO);
    CHECK(strstr(yl_last_error(), "x_1.jpg") != NULL, "error does not name the file: %s", yl_last_error());
    const int bad[] = {2};
    src.bad = bad, src.bad_count = 1;
    CHECK_STATUS(yl_augment_train_sample(&o, &source, 2, false, NULL, &rng, &scratch, &out), YL_ERR_FORMAT);
    yl_augment_scratch_free(&scratch);
}

static const uint8_t *fixture_bytes(const yl_safetensors *st, const char *name, size_t count) {
    const yl_safetensors_entry *e = yl_safetensors_find(st, name);
    if (!e || e->dtype != YL_U8 || e->nbytes != count) {
        fprintf(stderr, "test: %s: tensor %s missing or not %zu bytes\n", st->path, name, count);
        exit(2);
    }
    return yl_safetensors_data(st, e);
}

// Byte-for-byte against cv2.warpAffine and Ultralytics' RandomHSV on OpenCV (fixture written by
// tools/reference/make_augment_fixtures.py).
static void test_opencv_parity(void) {
    yl_safetensors st;
    char path[512];
    snprintf(path, sizeof path, "%s/augment_cv2.safetensors", YL_TEST_FIXTURES);
    CHECK_OK(yl_safetensors_open(&st, path));
    if (!st.file) return;
    const uint8_t *src = fixture_bytes(&st, "warp_src", 45 * 61 * 3);
    const uint8_t *want = fixture_bytes(&st, "warp_out", 4 * 40 * 48 * 3);
    float matrices[4 * 9];
    CHECK_OK(yl_safetensors_read_f32(&st, "warp_m", matrices, 36));
    uint8_t out[40 * 48 * 3];
    for (int k = 0; k < 4; k++) {
        double m[9];
        for (int i = 0; i < 9; i++) m[i] = matrices[k * 9 + i];
        yl_image_u8 in = {61, 45, (uint8_t *)src}, dst = {48, 40, out};
        CHECK_OK(yl_image_warp(&in, m, 114, &dst));
        int differ = 0;
        for (int i = 0; i < 40 * 48 * 3; i++) differ += out[i] != want[k * 40 * 48 * 3 + i];
        CHECK(differ == 0, "warp %d: %d bytes differ from cv2.warpAffine", k, differ);
    }
    const uint8_t *hsv_src = fixture_bytes(&st, "hsv_src", 16 * 128 * 3);
    const uint8_t *hsv_want = fixture_bytes(&st, "hsv_out", 4 * 16 * 128 * 3);
    float gains[12];
    CHECK_OK(yl_safetensors_read_f32(&st, "hsv_gains", gains, 12));
    uint8_t *img = malloc(16 * 128 * 3);
    for (int k = 0; k < 4; k++) {
        memcpy(img, hsv_src, 16 * 128 * 3);
        yl_image_u8 im = {128, 16, img};
        yl_hsv_apply(&im, gains + 3 * k);
        int differ = 0;
        for (int i = 0; i < 16 * 128 * 3; i++) differ += img[i] != hsv_want[k * 16 * 128 * 3 + i];
        CHECK(differ == 0, "HSV gains %d: %d bytes differ from Ultralytics/OpenCV", k, differ);
    }
    printf("  OpenCV parity: 4 warps and 4 HSV jitters checked byte for byte (opencv %s)\n",
           yl_safetensors_metadata(&st, "opencv") ? yl_safetensors_metadata(&st, "opencv") : "?");
    free(img);
    yl_safetensors_close(&st);
}

int main(void) {
    test_opencv_parity();
    test_mosaic_placement();
    test_boxes_follow_pixels();
    test_determinism_and_flip();
    test_perspective_draws();
    test_box_candidates();
    test_hsv();
    test_options_and_errors();
    return yl_test_finish("test_augment");
}
