#include "exif.h"

#include <stdlib.h>
#include <string.h>

#define EXIF_TAG_ORIENTATION 0x0112
#define EXIF_TYPE_SHORT 3
#define JPEG_MAX_SEGMENTS 64  // APP1 comes first in practice; do not walk the whole file

static unsigned read16(const uint8_t *p, int big_endian) {
    return big_endian ? (unsigned)(p[0] << 8 | p[1]) : (unsigned)(p[1] << 8 | p[0]);
}

static uint32_t read32(const uint8_t *p, int big_endian) {
    return big_endian ? (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]
                      : (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
}

// `tiff` is the TIFF header that follows "Exif\0\0"; returns 0 when no usable orientation.
static int tiff_orientation(const uint8_t *tiff, size_t size) {
    if (size < 8) return 0;
    int big_endian;
    if (tiff[0] == 'I' && tiff[1] == 'I')
        big_endian = 0;
    else if (tiff[0] == 'M' && tiff[1] == 'M')
        big_endian = 1;
    else
        return 0;
    if (read16(tiff + 2, big_endian) != 42) return 0;
    uint32_t ifd = read32(tiff + 4, big_endian);
    if (ifd > size - 2) return 0;
    unsigned entries = read16(tiff + ifd, big_endian);
    for (unsigned i = 0; i < entries; i++) {
        size_t at = (size_t)ifd + 2 + (size_t)i * 12;
        if (at + 12 > size) return 0;
        if (read16(tiff + at, big_endian) != EXIF_TAG_ORIENTATION) continue;
        if (read16(tiff + at + 2, big_endian) != EXIF_TYPE_SHORT || read32(tiff + at + 4, big_endian) < 1) return 0;
        unsigned value = read16(tiff + at + 8, big_endian);  // a SHORT sits in the first 2 value bytes
        return value >= 1 && value <= 8 ? (int)value : 0;
    }
    return 0;
}

int yl_jpeg_exif_orientation(const uint8_t *data, size_t size) {
    if (!data || size < 4 || data[0] != 0xFF || data[1] != 0xD8) return 1;
    size_t pos = 2;
    for (int segment = 0; segment < JPEG_MAX_SEGMENTS; segment++) {
        if (pos >= size || data[pos] != 0xFF) return 1;
        while (pos < size && data[pos] == 0xFF) pos++;  // fill bytes
        if (pos >= size) return 1;
        uint8_t marker = data[pos++];
        if (marker == 0xD9 || marker == 0xDA) return 1;  // end of image / start of scan: no EXIF before
        if (marker == 0x01 || (marker >= 0xD0 && marker <= 0xD7)) continue;  // no length field
        if (pos + 2 > size) return 1;
        size_t length = (size_t)data[pos] << 8 | data[pos + 1];
        if (length < 2 || pos + length > size) return 1;
        if (marker == 0xE1 && length >= 2 + 6 + 8 && !memcmp(data + pos + 2, "Exif\0\0", 6)) {
            int orientation = tiff_orientation(data + pos + 8, length - 8);
            if (orientation) return orientation;
        }
        pos += length;
    }
    return 1;
}

int yl_jpeg_exif_orientation_file(FILE *file) {
    uint8_t header[4];
    if (!file || fseek(file, 0, SEEK_SET) != 0 || fread(header, 1, 2, file) != 2 || header[0] != 0xFF ||
        header[1] != 0xD8)
        return 1;
    for (int segment = 0; segment < JPEG_MAX_SEGMENTS; segment++) {
        int c = fgetc(file);
        if (c != 0xFF) return 1;
        while ((c = fgetc(file)) == 0xFF) {
        }
        if (c == EOF || c == 0xD9 || c == 0xDA) return 1;
        if (c == 0x01 || (c >= 0xD0 && c <= 0xD7)) continue;
        if (fread(header, 1, 2, file) != 2) return 1;
        size_t length = (size_t)header[0] << 8 | header[1];
        if (length < 2) return 1;
        if (c == 0xE1 && length >= 2 + 6 + 8) {
            uint8_t *body = malloc(length - 2);
            if (!body) return 1;
            int orientation = 0;
            if (fread(body, 1, length - 2, file) == length - 2 && !memcmp(body, "Exif\0\0", 6))
                orientation = tiff_orientation(body + 6, length - 8);
            free(body);
            if (orientation) return orientation;
        } else if (fseek(file, (long)length - 2, SEEK_CUR) != 0) {
            return 1;
        }
    }
    return 1;
}

void yl_oriented_size(int orientation, int width, int height, int *out_width, int *out_height) {
    int swap = orientation >= 5 && orientation <= 8;
    *out_width = swap ? height : width;
    *out_height = swap ? width : height;
}

yl_status yl_image_apply_orientation(yl_image_u8 *image, int orientation) {
    if (!image || !image->pixels) return yl_error(YL_ERR_INVALID_ARG, "exif orientation: NULL image");
    if (orientation < 2 || orientation > 8) return YL_OK;
    int w = image->width, h = image->height, out_w, out_h;
    yl_oriented_size(orientation, w, h, &out_w, &out_h);
    uint8_t *out = malloc((size_t)w * (size_t)h * 3);
    if (!out) return yl_error(YL_ERR_OOM, "exif orientation: out of memory for %dx%d", w, h);
    for (int y = 0; y < out_h; y++) {
        for (int x = 0; x < out_w; x++) {
            int sx = x, sy = y;  // the stored pixel shown at (x, y)
            switch (orientation) {
            case 2: sx = w - 1 - x; break;
            case 3: sx = w - 1 - x; sy = h - 1 - y; break;
            case 4: sy = h - 1 - y; break;
            case 5: sx = y; sy = x; break;
            case 6: sx = y; sy = h - 1 - x; break;
            case 7: sx = w - 1 - y; sy = h - 1 - x; break;
            case 8: sx = w - 1 - y; sy = x; break;
            }
            memcpy(out + ((size_t)y * out_w + x) * 3, image->pixels + ((size_t)sy * w + sx) * 3, 3);
        }
    }
    free(image->pixels);
    image->pixels = out;
    image->width = out_w;
    image->height = out_h;
    return YL_OK;
}
