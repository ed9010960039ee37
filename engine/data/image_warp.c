#include "image_warp.h"

#include <math.h>
#include <string.h>

static inline uint8_t round_to_u8(float v) {
    if (v <= 0.0f) return 0;
    if (v >= 255.0f) return 255;
    return (uint8_t)(v + 0.5f);
}

bool yl_matrix3_invert(const double m[9], double out[9]) {
    double c00 = m[4] * m[8] - m[5] * m[7];
    double c01 = m[5] * m[6] - m[3] * m[8];
    double c02 = m[3] * m[7] - m[4] * m[6];
    double det = m[0] * c00 + m[1] * c01 + m[2] * c02;
    if (!(fabs(det) > 1e-12)) return false;
    double inv = 1.0 / det;
    out[0] = c00 * inv;
    out[1] = (m[2] * m[7] - m[1] * m[8]) * inv;
    out[2] = (m[1] * m[5] - m[2] * m[4]) * inv;
    out[3] = c01 * inv;
    out[4] = (m[0] * m[8] - m[2] * m[6]) * inv;
    out[5] = (m[2] * m[3] - m[0] * m[5]) * inv;
    out[6] = c02 * inv;
    out[7] = (m[1] * m[6] - m[0] * m[7]) * inv;
    out[8] = (m[0] * m[4] - m[1] * m[3]) * inv;
    return true;
}

void yl_matrix3_multiply(const double a[9], const double b[9], double out[9]) {
    for (int r = 0; r < 3; r++)
        for (int c = 0; c < 3; c++) out[r * 3 + c] = a[r * 3] * b[c] + a[r * 3 + 1] * b[3 + c] + a[r * 3 + 2] * b[6 + c];
}

// One bilinear sample at (sx, sy) in pixel-index coordinates; neighbours outside read `border`
// (cv2.warpAffine's BORDER_CONSTANT blends edge pixels with the border value).
static inline void sample_bilinear(const yl_image_u8 *src, double sx, double sy, uint8_t border, uint8_t *out) {
    if (!(sx > -1.0 && sy > -1.0 && sx < src->width && sy < src->height)) {
        out[0] = out[1] = out[2] = border;
        return;
    }
    int x0 = (int)floor(sx), y0 = (int)floor(sy);
    float ax = (float)(sx - x0), ay = (float)(sy - y0);
    const size_t stride = (size_t)src->width * 3;
    if (x0 >= 0 && y0 >= 0 && x0 + 1 < src->width && y0 + 1 < src->height) {
        const uint8_t *p00 = src->pixels + (size_t)y0 * stride + (size_t)x0 * 3;
        const uint8_t *p10 = p00 + stride;
        for (int c = 0; c < 3; c++) {
            float top = p00[c] + ax * (float)(p00[c + 3] - p00[c]);
            float bottom = p10[c] + ax * (float)(p10[c + 3] - p10[c]);
            out[c] = round_to_u8(top + ay * (bottom - top));
        }
        return;
    }
    for (int c = 0; c < 3; c++) {
        float v[2][2];
        for (int j = 0; j < 2; j++)
            for (int i = 0; i < 2; i++) {
                int x = x0 + i, y = y0 + j;
                bool inside = x >= 0 && y >= 0 && x < src->width && y < src->height;
                v[j][i] = inside ? src->pixels[(size_t)y * stride + (size_t)x * 3 + c] : border;
            }
        float top = v[0][0] + ax * (v[0][1] - v[0][0]);
        float bottom = v[1][0] + ax * (v[1][1] - v[1][0]);
        out[c] = round_to_u8(top + ay * (bottom - top));
    }
}

// cv2.warpAffine's fixed point for 8-bit INTER_LINEAR: source coordinates in 1/1024 px per
// step, rounded to 1/32 px, bilinear weights (32 - f) * f products summing to 1024. Computing it
// the same way gives OpenCV's bytes (and is 3x faster than double coordinates).
enum { AB_BITS = 10, INTER_BITS = 5, INTER_TAB = 1 << INTER_BITS, ROUND_DELTA = (1 << AB_BITS) / INTER_TAB / 2 };
#define WARP_CHUNK 256

static inline int floor_shift(int v, int bits) { return v >= 0 ? v >> bits : -((-v + (1 << bits) - 1) >> bits); }

static inline int fixed_coordinate(double v) {
    v = rint(v * (1 << AB_BITS));
    return v > 2e9 ? 2000000000 : (v < -2e9 ? -2000000000 : (int)v);
}

static void warp_affine_fixed(const yl_image_u8 *src, const double inv[9], uint8_t border, yl_image_u8 *dst) {
    int adelta[WARP_CHUNK], bdelta[WARP_CHUNK];
    const int sw = src->width, sh = src->height;
    const size_t stride = (size_t)sw * 3;
    for (int x_start = 0; x_start < dst->width; x_start += WARP_CHUNK) {
        const int n = dst->width - x_start < WARP_CHUNK ? dst->width - x_start : WARP_CHUNK;
        for (int i = 0; i < n; i++) {
            adelta[i] = fixed_coordinate(inv[0] * (x_start + i));
            bdelta[i] = fixed_coordinate(inv[3] * (x_start + i));
        }
        for (int y = 0; y < dst->height; y++) {
            const int x0_fixed = fixed_coordinate(inv[1] * y + inv[2]) + ROUND_DELTA;
            const int y0_fixed = fixed_coordinate(inv[4] * y + inv[5]) + ROUND_DELTA;
            uint8_t *out = dst->pixels + ((size_t)y * dst->width + x_start) * 3;
            for (int i = 0; i < n; i++, out += 3) {
                const int X = floor_shift(x0_fixed + adelta[i], AB_BITS - INTER_BITS);
                const int Y = floor_shift(y0_fixed + bdelta[i], AB_BITS - INTER_BITS);
                const int sx = floor_shift(X, INTER_BITS), sy = floor_shift(Y, INTER_BITS);
                const int fx = X - sx * INTER_TAB, fy = Y - sy * INTER_TAB;
                const int w00 = (INTER_TAB - fx) * (INTER_TAB - fy), w01 = fx * (INTER_TAB - fy);
                const int w10 = (INTER_TAB - fx) * fy, w11 = fx * fy;
                if ((unsigned)sx < (unsigned)(sw - 1) && (unsigned)sy < (unsigned)(sh - 1)) {
                    const uint8_t *p0 = src->pixels + (size_t)sy * stride + (size_t)sx * 3, *p1 = p0 + stride;
                    for (int c = 0; c < 3; c++)
                        out[c] = (uint8_t)((p0[c] * w00 + p0[c + 3] * w01 + p1[c] * w10 + p1[c + 3] * w11 + 512) >> 10);
                } else if (sx >= sw || sx + 1 < 0 || sy >= sh || sy + 1 < 0) {
                    out[0] = out[1] = out[2] = border;
                } else {
                    const bool in_x0 = sx >= 0, in_x1 = sx + 1 < sw, in_y0 = sy >= 0, in_y1 = sy + 1 < sh;
                    for (int c = 0; c < 3; c++) {
                        const int v00 = in_x0 && in_y0 ? src->pixels[(size_t)sy * stride + (size_t)sx * 3 + c] : border;
                        const int v01 = in_x1 && in_y0 ? src->pixels[(size_t)sy * stride + (size_t)(sx + 1) * 3 + c] : border;
                        const int v10 = in_x0 && in_y1 ? src->pixels[(size_t)(sy + 1) * stride + (size_t)sx * 3 + c] : border;
                        const int v11 = in_x1 && in_y1 ? src->pixels[(size_t)(sy + 1) * stride + (size_t)(sx + 1) * 3 + c] : border;
                        out[c] = (uint8_t)((v00 * w00 + v01 * w01 + v10 * w10 + v11 * w11 + 512) >> 10);
                    }
                }
            }
        }
    }
}

yl_status yl_image_warp(const yl_image_u8 *src, const double m[9], uint8_t border, yl_image_u8 *dst) {
    double inv[9];
    if (!yl_matrix3_invert(m, inv)) return yl_error(YL_ERR_INVALID_ARG, "image warp: singular transform");
    if (m[6] == 0.0 && m[7] == 0.0 && m[8] == 1.0) {
        warp_affine_fixed(src, inv, border, dst);
        return YL_OK;
    }
    for (int y = 0; y < dst->height; y++) {
        uint8_t *out = dst->pixels + (size_t)y * dst->width * 3;
        for (int x = 0; x < dst->width; x++) {
            double w = inv[6] * x + inv[7] * y + inv[8];
            w = w != 0.0 ? 1.0 / w : 0.0;  // OpenCV maps w == 0 to 0 as well
            const double sx = (inv[0] * x + inv[1] * y + inv[2]) * w;
            const double sy = (inv[3] * x + inv[4] * y + inv[5]) * w;
            sample_bilinear(src, sx, sy, border, out + (size_t)x * 3);
        }
    }
    return YL_OK;
}

void yl_image_fill(yl_image_u8 *image, uint8_t value) {
    memset(image->pixels, value, (size_t)image->width * image->height * 3);
}

void yl_image_copy_block(const yl_image_u8 *src, int src_x, int src_y, yl_image_u8 *dst, int dst_x, int dst_y, int w,
                         int h) {
    for (int r = 0; r < h; r++)
        memcpy(dst->pixels + ((size_t)(dst_y + r) * dst->width + dst_x) * 3,
               src->pixels + ((size_t)(src_y + r) * src->width + src_x) * 3, (size_t)w * 3);
}
