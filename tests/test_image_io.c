// Image reading (PNG, BMP, JPEG with EXIF orientation), the EXIF parser against malformed input,
// the size and format checks, and the cv2-compatible resize (bit-exact against a committed cv2
// fixture, within 1 level of a double-precision bilinear reference).
#include <stb_image_write.h>

#include "data_test_util.h"
#include "engine/data/exif.h"
#include "engine/data/image_io.h"
#include "engine/data/image_resize.h"
#include "test_common.h"

#define TINY YL_TEST_FIXTURES "/data/tiny/images/"

static const uint8_t *pixel(const yl_image_u8 *im, int x, int y) { return im->pixels + ((size_t)y * im->width + x) * 3; }

static int near_colour(const uint8_t *p, int r, int g, int b, int tol) {
    return abs(p[0] - r) <= tol && abs(p[1] - g) <= tol && abs(p[2] - b) <= tol;
}

// ---- reference orientation, built from two primitive moves ----------------------------------

static yl_image_u8 copy_image(const yl_image_u8 *src) {
    yl_image_u8 out = {src->width, src->height, malloc((size_t)src->width * src->height * 3)};
    memcpy(out.pixels, src->pixels, (size_t)src->width * src->height * 3);
    return out;
}

static void ref_rotate_cw(yl_image_u8 *im) {  // top-left goes to top-right
    yl_image_u8 out = {im->height, im->width, malloc((size_t)im->width * im->height * 3)};
    for (int y = 0; y < im->height; y++)
        for (int x = 0; x < im->width; x++)
            memcpy(out.pixels + ((size_t)x * out.width + (im->height - 1 - y)) * 3, pixel(im, x, y), 3);
    free(im->pixels);
    *im = out;
}

static void ref_mirror(yl_image_u8 *im, int vertical) {
    yl_image_u8 out = copy_image(im);
    for (int y = 0; y < im->height; y++)
        for (int x = 0; x < im->width; x++) {
            int sx = vertical ? x : im->width - 1 - x, sy = vertical ? im->height - 1 - y : y;
            memcpy(out.pixels + ((size_t)y * im->width + x) * 3, pixel(im, sx, sy), 3);
        }
    free(im->pixels);
    *im = out;
}

// EXIF meaning: 2 mirror, 3 rotate 180, 4 flip, 5 = rotate cw + mirror, 6 rotate cw,
// 7 = rotate cw + flip, 8 rotate ccw.
static void ref_orient(yl_image_u8 *im, int orientation) {
    switch (orientation) {
    case 2: ref_mirror(im, 0); break;
    case 3: ref_rotate_cw(im); ref_rotate_cw(im); break;
    case 4: ref_mirror(im, 1); break;
    case 5: ref_rotate_cw(im); ref_mirror(im, 0); break;
    case 6: ref_rotate_cw(im); break;
    case 7: ref_rotate_cw(im); ref_mirror(im, 1); break;
    case 8: ref_rotate_cw(im); ref_rotate_cw(im); ref_rotate_cw(im); break;
    default: break;
    }
}

static void check_orientation_on_pixels(void) {
    for (int o = 1; o <= 8; o++) {
        yl_image_u8 im = {5, 3, malloc(5 * 3 * 3)};
        for (int i = 0; i < 45; i++) im.pixels[i] = (uint8_t)i;
        yl_image_u8 ref = copy_image(&im);
        ref_orient(&ref, o);
        CHECK_OK(yl_image_apply_orientation(&im, o));
        CHECK(im.width == ref.width && im.height == ref.height && !memcmp(im.pixels, ref.pixels, 45),
              "orientation %d: %dx%d vs reference %dx%d or pixels differ", o, im.width, im.height, ref.width,
              ref.height);
        int w, h;
        yl_oriented_size(o, 5, 3, &w, &h);
        CHECK(w == ref.width && h == ref.height, "oriented size %d: %dx%d", o, w, h);
        yl_image_u8_free(&im);
        yl_image_u8_free(&ref);
    }
    CHECK_STATUS(yl_image_apply_orientation(NULL, 6), YL_ERR_INVALID_ARG);
}

// ---- JPEGs with an EXIF segment, made here -------------------------------------------------

typedef struct {
    uint8_t *data;
    size_t size, capacity;
} byte_buffer;

static void append(byte_buffer *b, const void *data, size_t n) {
    if (b->size + n > b->capacity) {
        b->capacity = (b->size + n) * 2;
        b->data = realloc(b->data, b->capacity);
    }
    memcpy(b->data + b->size, data, n);
    b->size += n;
}

static void jpeg_sink(void *ctx, void *data, int size) { append(ctx, data, (size_t)size); }

// An APP1 Exif segment whose IFD0 holds `entries` entries; the orientation entry is last.
static size_t make_app1(uint8_t *out, int big_endian, int orientation, int type, int entries) {
    uint8_t tiff[128];
    size_t n = 0;
#define PUT16(v) (big_endian ? (tiff[n++] = (uint8_t)((v) >> 8), tiff[n++] = (uint8_t)(v)) \
                             : (tiff[n++] = (uint8_t)(v), tiff[n++] = (uint8_t)((v) >> 8)))
#define PUT32(v) (big_endian ? (PUT16((v) >> 16), PUT16((v)&0xFFFF)) : (PUT16((v)&0xFFFF), PUT16((v) >> 16)))
    tiff[n++] = big_endian ? 'M' : 'I';
    tiff[n++] = big_endian ? 'M' : 'I';
    PUT16(42);
    PUT32(8u);
    PUT16((unsigned)entries);
    for (int e = 0; e < entries - 1; e++) {  // a Make-like ASCII entry first
        PUT16(0x010Fu);
        PUT16(2u);
        PUT32(4u);
        PUT32(0x00414141u);
    }
    PUT16(0x0112u);
    PUT16((unsigned)type);
    PUT32(1u);
    PUT16((unsigned)orientation);
    PUT16(0u);
    PUT32(0u);  // no next IFD
#undef PUT16
#undef PUT32
    size_t length = 2 + 6 + n;
    out[0] = 0xFF;
    out[1] = 0xE1;
    out[2] = (uint8_t)(length >> 8);
    out[3] = (uint8_t)length;
    memcpy(out + 4, "Exif\0\0", 6);
    memcpy(out + 10, tiff, n);
    return 2 + length;
}

// Quadrants: red, green / blue, white; 64x32 so that JPEG blocks do not straddle them.
static yl_image_u8 quadrant_image(void) {
    yl_image_u8 im = {64, 32, malloc(64 * 32 * 3)};
    static const uint8_t colours[4][3] = {{255, 0, 0}, {0, 255, 0}, {0, 0, 255}, {255, 255, 255}};
    for (int y = 0; y < 32; y++)
        for (int x = 0; x < 64; x++) memcpy(im.pixels + (y * 64 + x) * 3, colours[(y >= 16) * 2 + (x >= 32)], 3);
    return im;
}

static byte_buffer jpeg_with_segments(const yl_image_u8 *im, const uint8_t *segments, size_t segments_size) {
    byte_buffer plain = {0}, out = {0};
    stbi_write_jpg_to_func(jpeg_sink, &plain, im->width, im->height, 3, im->pixels, 95);
    append(&out, plain.data, 2);  // SOI
    append(&out, segments, segments_size);
    append(&out, plain.data + 2, plain.size - 2);
    free(plain.data);
    return out;
}

static void check_exif_jpegs(void) {
    yl_image_u8 original = quadrant_image();
    for (int big_endian = 0; big_endian < 2; big_endian++) {
        for (int o = 1; o <= 8; o++) {
            uint8_t app1[128];
            size_t n = make_app1(app1, big_endian, o, 3, 1 + o % 3);
            byte_buffer jpeg = jpeg_with_segments(&original, app1, n);
            CHECK(yl_jpeg_exif_orientation(jpeg.data, jpeg.size) == o, "%s orientation %d parsed as %d",
                  big_endian ? "MM" : "II", o, yl_jpeg_exif_orientation(jpeg.data, jpeg.size));
            FILE *stream = fmemopen(jpeg.data, jpeg.size, "rb");
            CHECK(yl_jpeg_exif_orientation_file(stream) == o, "file reader: orientation %d", o);
            fclose(stream);
            yl_image_u8 decoded, ref = copy_image(&original);
            ref_orient(&ref, o);
            CHECK_OK(yl_image_decode(jpeg.data, jpeg.size, "generated.jpg", &decoded));
            CHECK(decoded.width == ref.width && decoded.height == ref.height, "orientation %d: %dx%d, expected %dx%d",
                  o, decoded.width, decoded.height, ref.width, ref.height);
            if (decoded.width == ref.width && decoded.height == ref.height) {
                int worst = 0;  // compare well inside each quadrant, where JPEG is accurate
                for (int qy = 0; qy < 2; qy++)
                    for (int qx = 0; qx < 2; qx++) {
                        int x = ref.width * (2 * qx + 1) / 4, y = ref.height * (2 * qy + 1) / 4;
                        for (int c = 0; c < 3; c++) {
                            int d = abs(pixel(&decoded, x, y)[c] - pixel(&ref, x, y)[c]);
                            if (d > worst) worst = d;
                        }
                    }
                CHECK(worst <= 40, "orientation %d (%s): quadrant colour off by %d", o, big_endian ? "MM" : "II", worst);
            }
            yl_image_u8_free(&decoded);
            yl_image_u8_free(&ref);
            free(jpeg.data);
        }
    }
    // An XMP APP1 and a JFIF APP0 before the Exif APP1 are skipped over.
    uint8_t segments[256];
    size_t n = 0;
    static const uint8_t app0[] = {0xFF, 0xE0, 0x00, 0x10, 'J', 'F', 'I', 'F', 0, 1, 1, 0, 0, 1, 0, 1, 0, 0};
    memcpy(segments, app0, sizeof app0);
    n += sizeof app0;
    static const uint8_t xmp[] = {0xFF, 0xE1, 0x00, 0x0C, 'h', 't', 't', 'p', ':', '/', '/', 'n', 's', 0};
    memcpy(segments + n, xmp, sizeof xmp);
    n += sizeof xmp;
    n += make_app1(segments + n, 1, 8, 3, 2);
    byte_buffer jpeg = jpeg_with_segments(&original, segments, n);
    CHECK(yl_jpeg_exif_orientation(jpeg.data, jpeg.size) == 8, "Exif after APP0 and XMP: %d",
          yl_jpeg_exif_orientation(jpeg.data, jpeg.size));
    free(jpeg.data);
    // A LONG-typed or out-of-range orientation is ignored.
    n = make_app1(segments, 0, 6, 4, 1);
    jpeg = jpeg_with_segments(&original, segments, n);
    CHECK(yl_jpeg_exif_orientation(jpeg.data, jpeg.size) == 1, "LONG orientation ignored");
    free(jpeg.data);
    n = make_app1(segments, 0, 9, 3, 1);
    jpeg = jpeg_with_segments(&original, segments, n);
    CHECK(yl_jpeg_exif_orientation(jpeg.data, jpeg.size) == 1, "orientation 9 ignored");
    free(jpeg.data);
    yl_image_u8_free(&original);
}

// Truncations and byte flips of a valid header: any answer in 1..8, never a read out of bounds
// (run the suite under ASan to see the latter).
static void check_exif_malformed(void) {
    uint8_t app1[128];
    size_t n = make_app1(app1, 0, 6, 3, 3);
    uint8_t jpeg[160] = {0xFF, 0xD8};
    memcpy(jpeg + 2, app1, n);
    size_t size = 2 + n;
    jpeg[size++] = 0xFF;
    jpeg[size++] = 0xD9;
    CHECK(yl_jpeg_exif_orientation(jpeg, size) == 6, "valid header: 6");
    int bad = 0;
    for (size_t cut = 0; cut < size; cut++) {
        int o = yl_jpeg_exif_orientation(jpeg, cut);
        bad += o < 1 || o > 8;
    }
    yl_rng rng;
    yl_rng_seed(&rng, 7, 0);
    for (int trial = 0; trial < 5000; trial++) {
        uint8_t *copy = malloc(size);
        memcpy(copy, jpeg, size);
        int flips = 1 + (int)yl_rng_below(&rng, 4);
        for (int f = 0; f < flips; f++) copy[yl_rng_below(&rng, (uint32_t)size)] = (uint8_t)yl_rng_u32(&rng);
        size_t cut = size - yl_rng_below(&rng, 8);
        int o = yl_jpeg_exif_orientation(copy, cut);
        FILE *stream = fmemopen(copy, cut, "rb");
        int from_file = yl_jpeg_exif_orientation_file(stream);
        fclose(stream);
        bad += o < 1 || o > 8 || from_file != o;
        free(copy);
    }
    CHECK(bad == 0, "%d malformed headers gave an orientation outside 1..8 or differing file/memory answers", bad);
    // IFD offset past the end, huge entry count, zero-length segment, not a JPEG.
    uint8_t broken[64];
    memcpy(broken, jpeg, sizeof broken);
    broken[2 + 10 + 4] = 0xF0;  // IFD0 offset low byte (II)
    CHECK(yl_jpeg_exif_orientation(broken, sizeof broken) == 1, "IFD offset past the end");
    memcpy(broken, jpeg, sizeof broken);
    broken[2 + 10 + 8] = 0xFF;
    broken[2 + 10 + 9] = 0xFF;  // 65535 entries, and no orientation among those present
    broken[2 + 10 + 8 + 2 + 2 * 12] = 0x13;
    CHECK(yl_jpeg_exif_orientation(broken, sizeof broken) == 1, "entry count past the end");
    memcpy(broken, jpeg, sizeof broken);
    broken[4] = 0;
    broken[5] = 0;
    CHECK(yl_jpeg_exif_orientation(broken, sizeof broken) == 1, "zero segment length");
    CHECK(yl_jpeg_exif_orientation((const uint8_t *)"\x89PNG\r\n\x1a\n", 8) == 1, "PNG data: 1");
    CHECK(yl_jpeg_exif_orientation(NULL, 100) == 1, "NULL: 1");
}

// ---- fixture files ------------------------------------------------------------------------

static void check_fixture_images(void) {
    yl_image_u8 im;
    CHECK_OK(yl_image_read(TINY "train/a.png", &im));
    CHECK(im.width == 20 && im.height == 16, "a.png %dx%d", im.width, im.height);
    if (im.pixels) {
        CHECK(near_colour(pixel(&im, 2, 2), 255, 0, 0, 0) && near_colour(pixel(&im, 17, 13), 0, 0, 255, 0),
              "a.png: red left, blue right");
    }
    yl_image_u8_free(&im);
    CHECK_OK(yl_image_read(TINY "train/c.bmp", &im));
    CHECK(im.width == 12 && im.height == 10 && im.pixels && near_colour(pixel(&im, 5, 5), 0, 200, 0, 0),
          "c.bmp: 12x10 green");
    yl_image_u8_free(&im);

    // b.jpg: stored 32x16 red|blue, EXIF 6 -> 16x32 with red on top.
    yl_image_info info;
    CHECK_OK(yl_image_probe(TINY "train/b.jpg", &info));
    CHECK(info.width == 16 && info.height == 32 && info.orientation == 6 && info.format == YL_IMAGE_JPEG &&
              !info.jpeg_missing_end_marker,
          "b.jpg probe: %dx%d orientation %d format %d", info.width, info.height, info.orientation, info.format);
    CHECK_OK(yl_image_read(TINY "train/b.jpg", &im));
    CHECK(im.width == 16 && im.height == 32, "b.jpg decoded %dx%d", im.width, im.height);
    if (im.pixels && im.width == 16 && im.height == 32) {
        CHECK(near_colour(pixel(&im, 8, 4), 255, 0, 0, 40) && near_colour(pixel(&im, 8, 27), 0, 0, 255, 40),
              "b.jpg: red on top (%d %d %d), blue below (%d %d %d)", pixel(&im, 8, 4)[0], pixel(&im, 8, 4)[1],
              pixel(&im, 8, 4)[2], pixel(&im, 8, 27)[0], pixel(&im, 8, 27)[1], pixel(&im, 8, 27)[2]);
    }
    yl_image_u8_free(&im);
    CHECK_OK(yl_image_probe(TINY "train/a.png", &info));
    CHECK(info.width == 20 && info.height == 16 && info.orientation == 1 && info.format == YL_IMAGE_PNG,
          "a.png probe");
    CHECK_OK(yl_image_probe(TINY "train/c.bmp", &info));
    CHECK(info.format == YL_IMAGE_BMP && info.width == 12, "c.bmp probe");

    // Refusals name the file.
    const char *bad[][2] = {{TINY "train/small.png", "smaller than 10 pixels"},
                            {TINY "train/broken.png", "not a JPEG, PNG or BMP"},
                            {TINY "train/missing.png", "cannot open"}};
    for (int i = 0; i < 3; i++) {
        yl_status expected = i == 2 ? YL_ERR_IO : YL_ERR_FORMAT;
        CHECK_STATUS(yl_image_read(bad[i][0], &im), expected);
        CHECK(data_test_contains(yl_last_error(), bad[i][0]) && data_test_contains(yl_last_error(), bad[i][1]),
              "read: '%s'", yl_last_error());
        CHECK_STATUS(yl_image_probe(bad[i][0], &info), expected);
        CHECK(data_test_contains(yl_last_error(), bad[i][0]) && data_test_contains(yl_last_error(), bad[i][1]),
              "probe: '%s'", yl_last_error());
    }
    CHECK_STATUS(yl_image_read(NULL, &im), YL_ERR_INVALID_ARG);
    CHECK_STATUS(yl_image_read(TINY "train/a.png", NULL), YL_ERR_INVALID_ARG);
    CHECK_STATUS(yl_image_probe(NULL, &info), YL_ERR_INVALID_ARG);
}

static void check_damaged_files(void) {
    char *dir = data_test_tempdir();
    {  // probe of an EXIF-8 JPEG: sides swapped without decoding
        yl_image_u8 original = quadrant_image();
        uint8_t app1[128];
        size_t n = make_app1(app1, 1, 8, 3, 2);
        byte_buffer jpeg = jpeg_with_segments(&original, app1, n);
        char *path = yl_path_join(dir, "rot8.jpg");
        FILE *f = fopen(path, "wb");
        fwrite(jpeg.data, 1, jpeg.size, f);
        fclose(f);
        yl_image_info info;
        CHECK_OK(yl_image_probe(path, &info));
        CHECK(info.orientation == 8 && info.width == 32 && info.height == 64, "rot8.jpg probe: %d %dx%d",
              info.orientation, info.width, info.height);
        free(path);
        free(jpeg.data);
        yl_image_u8_free(&original);
    }
    char *data = NULL;
    size_t size = 0;
    CHECK_OK(yl_read_file(TINY "train/b.jpg", 1 << 20, &data, &size));
    // A JPEG without its FFD9 trailer is flagged (Ultralytics would warn and re-save it).
    char *path = yl_path_join(dir, "cut.jpg");
    FILE *f = fopen(path, "wb");
    fwrite(data, 1, size - 2, f);
    fclose(f);
    yl_image_info info;
    CHECK_OK(yl_image_probe(path, &info));
    CHECK(info.jpeg_missing_end_marker, "cut.jpg: missing end marker flagged");
    free(path);
    free(data);
    // A PNG cut in half cannot be decoded.
    CHECK_OK(yl_read_file(TINY "train/a.png", 1 << 20, &data, &size));
    yl_image_u8 im;
    CHECK_STATUS(yl_image_decode((const uint8_t *)data, size / 2, "half.png", &im), YL_ERR_FORMAT);
    CHECK(data_test_contains(yl_last_error(), "half.png"), "%s", yl_last_error());
    free(data);
    data_test_remove_tree(dir);
    free(dir);
}

// ---- resize -------------------------------------------------------------------------------

static void lcg_fill(uint8_t *out, size_t n, uint64_t seed) {
    uint64_t state = seed;
    for (size_t i = 0; i < n; i++) {
        state = (state * 1103515245u + 12345u) & 0x7FFFFFFFu;
        out[i] = (uint8_t)((state >> 16) & 0xFF);
    }
}

static int hex_value(char c) { return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1; }

static void check_resize_against_cv2(void) {
    char *text = NULL;
    CHECK_OK(yl_read_file(YL_TEST_FIXTURES "/data/resize_cv2.txt", 1 << 20, &text, NULL));
    if (!text) return;
    int cases = 0;
    for (char *line = strstr(text, "\ncase "); line; line = strstr(line + 1, "\ncase ")) {
        unsigned seed;
        int w, h, W, H;
        if (sscanf(line + 1, "case %u %d %d %d %d", &seed, &w, &h, &W, &H) != 5) break;
        yl_image_u8 src = {w, h, malloc((size_t)w * h * 3)}, dst;
        lcg_fill(src.pixels, (size_t)w * h * 3, seed);
        uint8_t *expected = malloc((size_t)W * H * 3);
        const char *p = strchr(line + 1, '\n') + 1;
        size_t got = 0;
        while (got < (size_t)W * H * 3 && *p) {
            if (*p == '\n') {
                p++;
                continue;
            }
            expected[got++] = (uint8_t)(hex_value(p[0]) * 16 + hex_value(p[1]));
            p += 2;
        }
        CHECK(got == (size_t)W * H * 3, "fixture case %u: %zu bytes", seed, got);
        CHECK_OK(yl_image_resize_linear(&src, W, H, &dst));
        int differ = 0;
        for (size_t i = 0; i < got && dst.pixels; i++) differ += dst.pixels[i] != expected[i];
        CHECK(differ == 0, "cv2 case %u (%dx%d -> %dx%d): %d bytes differ", seed, w, h, W, H, differ);
        cases++;
        free(expected);
        yl_image_u8_free(&src);
        yl_image_u8_free(&dst);
    }
    CHECK(cases == 5, "%d cv2 cases read, expected 5", cases);
    free(text);
}

// Plain bilinear in double with cv2's coordinate mapping and border rules: the fixed-point result
// must stay within 1 level of it.
static double reference_sample(const yl_image_u8 *im, int W, int H, int x, int y, int c) {
    double fx = (x + 0.5) * im->width / W - 0.5, fy = (y + 0.5) * im->height / H - 0.5;
    int x0 = (int)floor(fx), y0 = (int)floor(fy);
    double ax = fx - x0, ay = fy - y0;
    if (x0 < 0) x0 = 0, ax = 0;
    if (x0 >= im->width - 1) x0 = im->width - 1, ax = 0;
    int x1 = x0 + 1 < im->width ? x0 + 1 : x0;
    int ya = y0 < 0 ? 0 : y0 >= im->height ? im->height - 1 : y0;
    int yb = y0 + 1 < 0 ? 0 : y0 + 1 >= im->height ? im->height - 1 : y0 + 1;
    double top = pixel(im, x0, ya)[c] * (1 - ax) + pixel(im, x1, ya)[c] * ax;
    double bottom = pixel(im, x0, yb)[c] * (1 - ax) + pixel(im, x1, yb)[c] * ax;
    return top * (1 - ay) + bottom * ay;
}

static void check_resize_reference(void) {
    const int sizes[][4] = {{13, 7, 29, 17}, {37, 23, 16, 10}, {64, 48, 160, 120}, {17, 31, 9, 40}, {10, 10, 3, 3}};
    for (int k = 0; k < 5; k++) {
        int w = sizes[k][0], h = sizes[k][1], W = sizes[k][2], H = sizes[k][3];
        yl_image_u8 src = {w, h, malloc((size_t)w * h * 3)}, dst;
        lcg_fill(src.pixels, (size_t)w * h * 3, 100 + (uint64_t)k);
        CHECK_OK(yl_image_resize_linear(&src, W, H, &dst));
        double worst = 0;
        for (int y = 0; y < H && dst.pixels; y++)
            for (int x = 0; x < W; x++)
                for (int c = 0; c < 3; c++) {
                    double d = fabs(pixel(&dst, x, y)[c] - reference_sample(&src, W, H, x, y, c));
                    if (d > worst) worst = d;
                }
        CHECK(worst <= 1.0, "%dx%d -> %dx%d: %.3f levels from the double reference (tolerance 1)", w, h, W, H, worst);
        yl_image_u8_free(&src);
        yl_image_u8_free(&dst);
    }
    // An exact 2x shrink is the rounded 2x2 mean (cv2 switches to INTER_AREA).
    yl_image_u8 src = {14, 10, malloc(14 * 10 * 3)}, dst;
    lcg_fill(src.pixels, 14 * 10 * 3, 9);
    CHECK_OK(yl_image_resize_linear(&src, 7, 5, &dst));
    int wrong = 0;
    for (int y = 0; y < 5; y++)
        for (int x = 0; x < 7; x++)
            for (int c = 0; c < 3; c++) {
                int sum = pixel(&src, 2 * x, 2 * y)[c] + pixel(&src, 2 * x + 1, 2 * y)[c] +
                          pixel(&src, 2 * x, 2 * y + 1)[c] + pixel(&src, 2 * x + 1, 2 * y + 1)[c];
                wrong += pixel(&dst, x, y)[c] != (sum + 2) / 4;
            }
    CHECK(wrong == 0, "2x shrink: %d values differ from the 2x2 mean", wrong);
    yl_image_u8_free(&dst);
    CHECK_OK(yl_image_resize_linear(&src, 14, 10, &dst));
    CHECK(dst.pixels && !memcmp(dst.pixels, src.pixels, 14 * 10 * 3), "same size: a copy");
    yl_image_u8_free(&dst);
    CHECK_STATUS(yl_image_resize_linear(&src, 0, 5, &dst), YL_ERR_INVALID_ARG);
    CHECK_STATUS(yl_image_resize_linear(NULL, 5, 5, &dst), YL_ERR_INVALID_ARG);
    yl_image_u8_free(&src);
}

static void check_fit_long_side(void) {
    const int cases[][5] = {
        {640, 480, 320, 320, 240}, {1280, 720, 640, 640, 360}, {100, 50, 640, 640, 320},  // up-scaled
        {640, 640, 640, 640, 640}, {333, 500, 160, 107, 160},  // ceil(333 * 0.32 = 106.56)
        {1000, 3, 640, 640, 2}, {17, 9, 0, 17, 9},  // imgsz 0: unchanged
    };
    for (int i = 0; i < 7; i++) {
        int w, h;
        yl_image_fit_long_side(cases[i][0], cases[i][1], cases[i][2], &w, &h);
        CHECK(w == cases[i][3] && h == cases[i][4], "fit %dx%d to %d: %dx%d, expected %dx%d", cases[i][0], cases[i][1],
              cases[i][2], w, h, cases[i][3], cases[i][4]);
    }
}

int main(void) {
    check_orientation_on_pixels();
    check_exif_jpegs();
    check_exif_malformed();
    check_fixture_images();
    check_damaged_files();
    check_resize_against_cv2();
    check_resize_reference();
    check_fit_long_side();
    return yl_test_finish("test_image_io");
}
