// Converting stored tensor elements (little-endian bytes, whatever the host) to f32 or i64.
// One place for the F16/BF16 bit layouts, shared by every reader in weights/.
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/core/tensor.h"

float yl_f16_to_f32(uint16_t bits);
float yl_bf16_to_f32(uint16_t bits);

// One element of `dtype` at `p` (F32, F16, BF16, I32, I64, U8) as a float; false for other dtypes.
bool yl_element_to_f32(const unsigned char *p, yl_dtype dtype, float *out);
// One integer element (I32, I64, U8) as int64; false for other dtypes.
bool yl_element_to_i64(const unsigned char *p, yl_dtype dtype, int64_t *out);
