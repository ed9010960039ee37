#include "py_float.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// Shortest round-trip significand digits (no sign, no point) and the decimal exponent of the first.
static void shortest_digits(double value, char *digits, int *exponent) {
    char text[40];
    for (int precision = 1; precision <= 17; precision++) {
        snprintf(text, sizeof text, "%.*e", precision - 1, value);
        if (strtod(text, NULL) == value) break;
    }
    char *e = strchr(text, 'e');
    *exponent = atoi(e + 1);
    int n = 0;
    for (const char *c = text; c < e; c++)
        if (*c >= '0' && *c <= '9') digits[n++] = *c;
    while (n > 1 && digits[n - 1] == '0') n--;  // "%.*e" pads to the precision it was given
    digits[n] = '\0';
}

const char *yl_format_py_float(double value, char *buf, size_t size) {
    if (!buf || size == 0) return buf;
    if (isnan(value)) {
        snprintf(buf, size, "nan");
        return buf;
    }
    if (isinf(value)) {
        snprintf(buf, size, value < 0 ? "-inf" : "inf");
        return buf;
    }
    const char *sign = signbit(value) ? "-" : "";
    value = fabs(value);
    if (value == 0.0) {
        snprintf(buf, size, "%s0.0", sign);
        return buf;
    }
    char digits[24];
    int exponent = 0;
    shortest_digits(value, digits, &exponent);
    int n = (int)strlen(digits);
    char text[64];
    int k = 0;
    if (exponent < -4 || exponent >= 16) {
        snprintf(text, sizeof text, "%c%s%se%c%02d", digits[0], n > 1 ? "." : "", digits + 1,
                 exponent < 0 ? '-' : '+', abs(exponent));
    } else if (exponent < 0) {
        text[k++] = '0';
        text[k++] = '.';
        for (int i = 0; i < -exponent - 1; i++) text[k++] = '0';
        for (int i = 0; i < n; i++) text[k++] = digits[i];
        text[k] = '\0';
    } else {
        for (int i = 0; i <= exponent; i++) text[k++] = i < n ? digits[i] : '0';
        text[k++] = '.';
        if (n > exponent + 1)
            for (int i = exponent + 1; i < n; i++) text[k++] = digits[i];
        else
            text[k++] = '0';
        text[k] = '\0';
    }
    snprintf(buf, size, "%s%s", sign, text);
    return buf;
}
