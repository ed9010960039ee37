// Small cJSON helpers shared by the Label Studio client: typed field access with fallbacks,
// reading a JSON file with a located parse error.
#pragma once
#include <cjson/cJSON.h>
#include <stddef.h>

#include "engine/core/status.h"

// The string value of object[key], or NULL when absent or not a string.
const char *yl_json_string(const cJSON *object, const char *key);
// object[key] as a number (numbers only; numeric strings count too), else `fallback`.
double yl_json_number(const cJSON *object, const char *key, double fallback);
long long yl_json_int(const cJSON *object, const char *key, long long fallback);
// true/false, or 0/1 numbers; else `fallback`.
int yl_json_bool(const cJSON *object, const char *key, int fallback);

// Parses a whole file (at most max_bytes; 0: 2 GiB). YL_ERR_IO when unreadable, YL_ERR_FORMAT with
// the line and column of the first error when malformed.
yl_status yl_json_read_file(const char *path, size_t max_bytes, cJSON **out);

// Parses text[0..length) with the same located error; `what` names the source in the message.
yl_status yl_json_parse(const char *text, size_t length, const char *what, cJSON **out);
