#include "image_io.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <stb_image.h>

#include "exif.h"
#include "file_util.h"

#define IMAGE_MAX_FILE_BYTES ((size_t)1 << 30)
#define IMAGE_MAX_PIXELS ((long long)1 << 28)

const char *yl_image_format_name(yl_image_format format) {
    switch (format) {
    case YL_IMAGE_JPEG: return "JPEG";
    case YL_IMAGE_PNG: return "PNG";
    case YL_IMAGE_BMP: return "BMP";
    case YL_IMAGE_UNKNOWN: break;
    }
    return "unknown";
}

static yl_image_format sniff_format(const uint8_t *data, size_t size) {
    if (size >= 3 && data[0] == 0xFF && data[1] == 0xD8 && data[2] == 0xFF) return YL_IMAGE_JPEG;
    if (size >= 8 && !memcmp(data, "\x89PNG\r\n\x1a\n", 8)) return YL_IMAGE_PNG;
    if (size >= 2 && data[0] == 'B' && data[1] == 'M') return YL_IMAGE_BMP;
    return YL_IMAGE_UNKNOWN;
}

static yl_status check_size(const char *name, int width, int height) {
    if (width < YL_IMAGE_MIN_SIDE || height < YL_IMAGE_MIN_SIDE)
        return yl_error(YL_ERR_FORMAT, "%s: image size %dx%d is smaller than %d pixels", name, width, height,
                        YL_IMAGE_MIN_SIDE);
    if ((long long)width * height > IMAGE_MAX_PIXELS)
        return yl_error(YL_ERR_FORMAT, "%s: image size %dx%d is too large", name, width, height);
    return YL_OK;
}

static yl_status unsupported(const char *name) {
    return yl_error(YL_ERR_FORMAT, "%s: not a JPEG, PNG or BMP image (other formats are not supported)", name);
}

yl_status yl_image_probe(const char *path, yl_image_info *info) {
    if (!info) return yl_error(YL_ERR_INVALID_ARG, "image probe: NULL output");
    memset(info, 0, sizeof *info);
    if (!path) return yl_error(YL_ERR_INVALID_ARG, "image probe: NULL path");
    FILE *f = fopen(path, "rb");
    if (!f) return yl_error(YL_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    uint8_t magic[8] = {0};
    size_t size = fread(magic, 1, sizeof magic, f);
    info->format = sniff_format(magic, size);
    int stored_width = 0, stored_height = 0, channels = 0;
    yl_status status = YL_OK;
    if (info->format == YL_IMAGE_UNKNOWN) {
        status = unsupported(path);
    } else if (fseek(f, 0, SEEK_SET) != 0 || !stbi_info_from_file(f, &stored_width, &stored_height, &channels)) {
        status = yl_error(YL_ERR_FORMAT, "%s: unreadable %s header (%s)", path, yl_image_format_name(info->format),
                          stbi_failure_reason());
    } else if (info->format == YL_IMAGE_JPEG) {
        info->orientation = yl_jpeg_exif_orientation_file(f);
        uint8_t tail[2] = {0, 0};
        info->jpeg_missing_end_marker =
            fseek(f, -2, SEEK_END) != 0 || fread(tail, 1, 2, f) != 2 || tail[0] != 0xFF || tail[1] != 0xD9;
    }
    fclose(f);
    if (status != YL_OK) return status;
    if (!info->orientation) info->orientation = 1;
    yl_oriented_size(info->orientation, stored_width, stored_height, &info->width, &info->height);
    return check_size(path, info->width, info->height);
}

yl_status yl_image_decode(const uint8_t *data, size_t size, const char *name, yl_image_u8 *out) {
    if (!out) return yl_error(YL_ERR_INVALID_ARG, "image decode: NULL output");
    memset(out, 0, sizeof *out);
    if (!name) name = "<image>";
    if (!data) return yl_error(YL_ERR_INVALID_ARG, "%s: NULL data", name);
    if (size > (size_t)INT_MAX) return yl_error(YL_ERR_FORMAT, "%s: file too large", name);
    yl_image_format format = sniff_format(data, size);
    if (format == YL_IMAGE_UNKNOWN) return unsupported(name);
    int width = 0, height = 0, channels = 0;
    if (!stbi_info_from_memory(data, (int)size, &width, &height, &channels))
        return yl_error(YL_ERR_FORMAT, "%s: unreadable %s (%s)", name, yl_image_format_name(format),
                        stbi_failure_reason());
    YL_TRY(check_size(name, width, height));
    uint8_t *pixels = stbi_load_from_memory(data, (int)size, &width, &height, &channels, 3);
    if (!pixels)
        return yl_error(YL_ERR_FORMAT, "%s: cannot decode %s (%s)", name, yl_image_format_name(format),
                        stbi_failure_reason());
    // Copied so that the pixels are released with free(), whatever allocator stb was built with.
    size_t bytes = (size_t)width * (size_t)height * 3;
    out->pixels = malloc(bytes);
    if (!out->pixels) {
        stbi_image_free(pixels);
        return yl_error(YL_ERR_OOM, "%s: out of memory for %dx%d", name, width, height);
    }
    memcpy(out->pixels, pixels, bytes);
    stbi_image_free(pixels);
    out->width = width;
    out->height = height;
    if (format == YL_IMAGE_JPEG) {
        yl_status status = yl_image_apply_orientation(out, yl_jpeg_exif_orientation(data, size));
        if (status != YL_OK) {
            yl_image_u8_free(out);
            return yl_error_context(status, "%s", name);
        }
    }
    return YL_OK;
}

yl_status yl_image_read(const char *path, yl_image_u8 *out) {
    if (!out) return yl_error(YL_ERR_INVALID_ARG, "image read: NULL output");
    memset(out, 0, sizeof *out);
    if (!path) return yl_error(YL_ERR_INVALID_ARG, "image read: NULL path");
    char *data = NULL;
    size_t size = 0;
    YL_TRY(yl_read_file(path, IMAGE_MAX_FILE_BYTES, &data, &size));
    yl_status status = yl_image_decode((const uint8_t *)data, size, path, out);
    free(data);
    return status;
}
