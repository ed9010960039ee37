#include "dtype_convert.h"

#include <math.h>
#include <string.h>

// Assembling bytes keeps the conversion independent of the host's byte order.
static uint64_t load_le(const unsigned char *p, size_t n) {
    uint64_t v = 0;
    for (size_t i = n; i-- > 0;) v = v << 8 | p[i];
    return v;
}

static float f32_from_bits(uint32_t bits) {
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

float yl_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h >> 15) << 31, exponent = (h >> 10) & 0x1f, mantissa = h & 0x3ff;
    if (exponent == 0x1f) return f32_from_bits(sign | 0x7f800000u | mantissa << 13);  // inf, nan
    if (exponent == 0) {  // zero or subnormal: mantissa * 2^-24, exact in f32
        float magnitude = ldexpf((float)mantissa, -24);
        return sign ? -magnitude : magnitude;
    }
    return f32_from_bits(sign | (exponent + 112) << 23 | mantissa << 13);
}

float yl_bf16_to_f32(uint16_t bits) { return f32_from_bits((uint32_t)bits << 16); }

bool yl_element_to_f32(const unsigned char *p, yl_dtype dtype, float *out) {
    switch (dtype) {
    case YL_F32: *out = f32_from_bits((uint32_t)load_le(p, 4)); return true;
    case YL_F16: *out = yl_f16_to_f32((uint16_t)load_le(p, 2)); return true;
    case YL_BF16: *out = yl_bf16_to_f32((uint16_t)load_le(p, 2)); return true;
    case YL_I32: *out = (float)(int32_t)(uint32_t)load_le(p, 4); return true;
    case YL_I64: *out = (float)(int64_t)load_le(p, 8); return true;
    case YL_U8: *out = (float)*p; return true;
    default: return false;
    }
}

bool yl_element_to_i64(const unsigned char *p, yl_dtype dtype, int64_t *out) {
    switch (dtype) {
    case YL_I32: *out = (int32_t)(uint32_t)load_le(p, 4); return true;
    case YL_I64: *out = (int64_t)load_le(p, 8); return true;
    case YL_U8: *out = *p; return true;
    default: return false;
    }
}
