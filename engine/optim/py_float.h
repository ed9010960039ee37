// Floats printed as Python's repr() prints them ("0.0005", "0.0005625000000000001", "1e-05",
// "0.0"), so log lines match Ultralytics' character for character.
#pragma once
#include <stddef.h>

// The shortest decimal that reads back as `value`, in fixed notation when its decimal exponent
// is in [-4, 16), else scientific with a two-digit exponent; ".0" added to whole numbers.
// Returns buf (truncated to size like snprintf).
const char *yl_format_py_float(double value, char *buf, size_t size);
