#include "cli/labelstudio/json_util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *yl_json_string(const cJSON *object, const char *key) {
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(object, key);
    return cJSON_IsString(item) ? item->valuestring : NULL;
}

double yl_json_number(const cJSON *object, const char *key, double fallback) {
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(object, key);
    if (cJSON_IsNumber(item)) return item->valuedouble;
    if (cJSON_IsString(item) && item->valuestring[0]) {
        char *end = NULL;
        double value = strtod(item->valuestring, &end);
        if (end && *end == '\0') return value;
    }
    return fallback;
}

long long yl_json_int(const cJSON *object, const char *key, long long fallback) {
    double value = yl_json_number(object, key, (double)fallback);
    return (long long)value;
}

int yl_json_bool(const cJSON *object, const char *key, int fallback) {
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(object, key);
    if (cJSON_IsBool(item)) return cJSON_IsTrue(item);
    if (cJSON_IsNumber(item)) return item->valuedouble != 0.0;
    return fallback;
}

yl_status yl_json_parse(const char *text, size_t length, const char *what, cJSON **out) {
    *out = NULL;
    const char *end = NULL;
    cJSON *json = cJSON_ParseWithLengthOpts(text, length, &end, 0);
    if (!json) {
        size_t offset = end && end >= text ? (size_t)(end - text) : 0;
        if (offset > length) offset = length;
        int line = 1, column = 1;
        for (size_t i = 0; i < offset; i++) {
            if (text[i] == '\n') {
                line++;
                column = 1;
            } else {
                column++;
            }
        }
        if (length == 0) return yl_error(YL_ERR_FORMAT, "%s: empty, expected JSON", what);
        return yl_error(YL_ERR_FORMAT, "%s:%d:%d: malformed JSON", what, line, column);
    }
    *out = json;
    return YL_OK;
}

yl_status yl_json_read_file(const char *path, size_t max_bytes, cJSON **out) {
    if (!path || !out) return yl_error(YL_ERR_INVALID_ARG, "json: NULL path or output");
    *out = NULL;
    if (max_bytes == 0) max_bytes = (size_t)2 << 30;
    FILE *file = fopen(path, "rb");
    if (!file) return yl_error(YL_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    size_t capacity = 1 << 16, size = 0;
    char *text = malloc(capacity);
    yl_status status = text ? YL_OK : yl_error(YL_ERR_OOM, "%s: out of memory", path);
    while (status == YL_OK) {
        if (size + 1 >= capacity) {
            char *grown = realloc(text, capacity * 2);
            if (!grown) {
                status = yl_error(YL_ERR_OOM, "%s: out of memory", path);
                break;
            }
            text = grown;
            capacity *= 2;
        }
        size_t n = fread(text + size, 1, capacity - size - 1, file);
        size += n;
        if (size > max_bytes) status = yl_error(YL_ERR_FORMAT, "%s: larger than %zu bytes", path, max_bytes);
        if (n == 0) {
            if (ferror(file)) status = yl_error(YL_ERR_IO, "%s: read error", path);
            break;
        }
    }
    fclose(file);
    if (status == YL_OK) status = yl_json_parse(text, size, path, out);
    free(text);
    return status;
}
