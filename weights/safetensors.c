// The whole file is read into memory once: fixtures and checkpoints are small next to the
// model's working memory, and validating offsets against one buffer keeps every later access
// bounds-checked by construction.
#include "weights/safetensors.h"
#include "weights/dtype_convert.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// JSON numbers arrive as doubles: integers above 2^53 are not exact, so they are refused.
#define SAFETENSORS_MAX_JSON_INT 9007199254740992.0

static const struct {
    const char *name;
    yl_dtype dtype;
} safetensors_dtypes[] = {
    {"F32", YL_F32}, {"F16", YL_F16}, {"BF16", YL_BF16}, {"I32", YL_I32}, {"I64", YL_I64}, {"U8", YL_U8},
};

static yl_status format_error(const char *path, const char *what, const char *detail) {
    return yl_error(YL_ERR_FORMAT, "safetensors '%s': %s%s", path, what, detail);
}

static int json_nonneg_int(const cJSON *item, double *out) {
    if (!cJSON_IsNumber(item)) return 0;
    double v = item->valuedouble;
    if (!(v >= 0.0) || v > SAFETENSORS_MAX_JSON_INT || floor(v) != v) return 0;
    *out = v;
    return 1;
}

static int is_json_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

static char *copy_string(const char *s) {
    size_t n = strlen(s) + 1;
    char *p = malloc(n);
    if (p) memcpy(p, s, n);
    return p;
}

static yl_status read_whole_file(yl_safetensors *st, const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return yl_error(YL_ERR_IO, "safetensors '%s': cannot open: %s", path, strerror(errno));
    size_t capacity = 1 << 16, size = 0;
    unsigned char *buf = malloc(capacity);
    while (buf) {
        size += fread(buf + size, 1, capacity - size, f);
        if (size < capacity) break;
        unsigned char *grown = realloc(buf, capacity * 2);
        if (!grown) free(buf);
        buf = grown;
        capacity *= 2;
    }
    int read_failed = ferror(f);
    fclose(f);
    if (!buf) return yl_error(YL_ERR_OOM, "safetensors '%s': out of memory reading the file", path);
    if (read_failed) {
        free(buf);
        return yl_error(YL_ERR_IO, "safetensors '%s': read error", path);
    }
    st->file = buf;
    st->file_size = size;
    return YL_OK;
}

static yl_status parse_metadata(yl_safetensors *st, const cJSON *meta) {
    const char *path = st->path;
    if (!cJSON_IsObject(meta)) return format_error(path, "__metadata__ is not an object", "");
    int n = cJSON_GetArraySize(meta);
    st->metadata_keys = calloc((size_t)n + 1, sizeof(char *));
    st->metadata_values = calloc((size_t)n + 1, sizeof(char *));
    if (!st->metadata_keys || !st->metadata_values)
        return yl_error(YL_ERR_OOM, "safetensors '%s': out of memory", path);
    const cJSON *item;
    cJSON_ArrayForEach(item, meta) {
        if (!cJSON_IsString(item))
            return yl_error(YL_ERR_FORMAT, "safetensors '%s': __metadata__ value '%s' is not a string", path,
                            item->string);
        int i = st->metadata_count;
        st->metadata_keys[i] = copy_string(item->string);
        st->metadata_values[i] = copy_string(item->valuestring);
        if (!st->metadata_keys[i] || !st->metadata_values[i]) {
            free(st->metadata_keys[i]);
            free(st->metadata_values[i]);
            return yl_error(YL_ERR_OOM, "safetensors '%s': out of memory", path);
        }
        st->metadata_count++;
    }
    return YL_OK;
}

static yl_status parse_entry(yl_safetensors *st, const cJSON *item, yl_safetensors_entry *e, size_t data_size) {
    const char *path = st->path, *name = item->string;
    if (!cJSON_IsObject(item))
        return yl_error(YL_ERR_FORMAT, "safetensors '%s': tensor '%s' is not an object", path, name);

    const cJSON *dtype = cJSON_GetObjectItemCaseSensitive(item, "dtype");
    if (!cJSON_IsString(dtype))
        return yl_error(YL_ERR_FORMAT, "safetensors '%s': tensor '%s' has no dtype string", path, name);
    size_t d = 0, ndtypes = sizeof safetensors_dtypes / sizeof safetensors_dtypes[0];
    while (d < ndtypes && strcmp(safetensors_dtypes[d].name, dtype->valuestring) != 0) d++;
    if (d == ndtypes)
        return yl_error(YL_ERR_FORMAT, "safetensors '%s': tensor '%s' has unsupported dtype '%s'", path, name,
                        dtype->valuestring);
    e->dtype = safetensors_dtypes[d].dtype;
    size_t elem = yl_dtype_size(e->dtype);

    const cJSON *shape = cJSON_GetObjectItemCaseSensitive(item, "shape");
    if (!cJSON_IsArray(shape))
        return yl_error(YL_ERR_FORMAT, "safetensors '%s': tensor '%s' has no shape array", path, name);
    int ndim = cJSON_GetArraySize(shape);
    if (ndim > YL_SAFETENSORS_MAX_DIMS)
        return yl_error(YL_ERR_FORMAT, "safetensors '%s': tensor '%s' has %d dims, at most %d are supported", path,
                        name, ndim, YL_SAFETENSORS_MAX_DIMS);
    e->ndim = ndim;
    // The byte count is built in double first so that absurd shapes are refused before they overflow.
    double numel = 1.0;
    for (int i = 0; i < ndim; i++) {
        double v;
        if (!json_nonneg_int(cJSON_GetArrayItem(shape, i), &v))
            return yl_error(YL_ERR_FORMAT, "safetensors '%s': tensor '%s' shape[%d] is not a non-negative integer",
                            path, name, i);
        e->shape[i] = (int64_t)v;
        numel *= v;
    }

    const cJSON *offsets = cJSON_GetObjectItemCaseSensitive(item, "data_offsets");
    double begin, end;
    if (!cJSON_IsArray(offsets) || cJSON_GetArraySize(offsets) != 2 ||
        !json_nonneg_int(cJSON_GetArrayItem(offsets, 0), &begin) ||
        !json_nonneg_int(cJSON_GetArrayItem(offsets, 1), &end))
        return yl_error(YL_ERR_FORMAT, "safetensors '%s': tensor '%s' data_offsets is not [begin, end] (integers)",
                        path, name);
    if (begin > end || end > (double)data_size)
        return yl_error(YL_ERR_FORMAT,
                        "safetensors '%s': tensor '%s' data_offsets [%.0f, %.0f] lie outside the data section "
                        "(%zu bytes)",
                        path, name, begin, end, data_size);
    double expected = numel * (double)elem;
    if (end - begin != expected)
        return yl_error(YL_ERR_FORMAT,
                        "safetensors '%s': tensor '%s' holds %.0f bytes but its shape and dtype %s need %.0f", path,
                        name, end - begin, dtype->valuestring, expected);
    e->offset = (size_t)begin;
    e->nbytes = (size_t)(end - begin);
    // Data is handed out as typed pointers into the buffer, so it must sit on its element size.
    if ((st->data_start + e->offset) % elem != 0)
        return yl_error(YL_ERR_FORMAT, "safetensors '%s': tensor '%s' data at byte %zu is not aligned to %zu bytes",
                        path, name, st->data_start + e->offset, elem);
    e->name = copy_string(name);
    if (!e->name) return yl_error(YL_ERR_OOM, "safetensors '%s': out of memory", path);
    return YL_OK;
}

static int compare_by_offset(const void *a, const void *b) {
    const yl_safetensors_entry *x = *(const yl_safetensors_entry *const *)a;
    const yl_safetensors_entry *y = *(const yl_safetensors_entry *const *)b;
    return (x->offset > y->offset) - (x->offset < y->offset);
}

static yl_status check_layout(yl_safetensors *st) {
    if (st->count < 2) return YL_OK;
    const yl_safetensors_entry **order = malloc((size_t)st->count * sizeof *order);
    if (!order) return yl_error(YL_ERR_OOM, "safetensors '%s': out of memory", st->path);
    for (int i = 0; i < st->count; i++) order[i] = &st->entries[i];
    qsort(order, (size_t)st->count, sizeof *order, compare_by_offset);
    yl_status status = YL_OK;
    const yl_safetensors_entry *prev = NULL;
    for (int i = 0; i < st->count && status == YL_OK; i++) {
        const yl_safetensors_entry *e = order[i];
        if (e->nbytes == 0) continue;  // empty tensors occupy no bytes, whatever their offset
        if (prev && e->offset < prev->offset + prev->nbytes)
            status = yl_error(YL_ERR_FORMAT, "safetensors '%s': tensors '%s' and '%s' overlap", st->path, prev->name,
                              e->name);
        prev = e;
    }
    for (int i = 0; i + 1 < st->count && status == YL_OK; i++)
        for (int j = i + 1; j < st->count; j++)
            if (strcmp(st->entries[i].name, st->entries[j].name) == 0) {
                status = yl_error(YL_ERR_FORMAT, "safetensors '%s': tensor '%s' appears twice", st->path,
                                  st->entries[i].name);
                break;
            }
    free(order);
    return status;
}

static yl_status parse_header(yl_safetensors *st) {
    const char *path = st->path;
    if (st->file_size < 8)
        return yl_error(YL_ERR_FORMAT, "safetensors '%s': file is %zu bytes, too short for the 8-byte header length",
                        path, st->file_size);
    uint64_t header_len = 0;
    for (int i = 7; i >= 0; i--) header_len = header_len << 8 | st->file[i];
    if (header_len > st->file_size - 8)
        return yl_error(YL_ERR_FORMAT,
                        "safetensors '%s': header length %llu runs past the end of the file (%zu bytes)", path,
                        (unsigned long long)header_len, st->file_size);
    if (header_len < 2) return format_error(path, "header is too short to be a JSON object", "");
    st->data_start = 8 + (size_t)header_len;

    const char *text = (const char *)st->file + 8;
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(text, (size_t)header_len, &end, 0);
    if (!root) {
        size_t at = end && end >= text ? (size_t)(end - text) : 0;
        return yl_error(YL_ERR_FORMAT, "safetensors '%s': header is not valid JSON (near byte %zu of %llu)", path,
                        at, (unsigned long long)header_len);
    }
    yl_status status = YL_OK;
    for (const char *p = end; p < text + header_len; p++)
        if (!is_json_space(*p)) {
            status = format_error(path, "header has trailing bytes after the JSON object", "");
            break;
        }
    if (status == YL_OK && !cJSON_IsObject(root)) status = format_error(path, "header is not a JSON object", "");

    int n = status == YL_OK ? cJSON_GetArraySize(root) : 0;
    if (status == YL_OK) {
        st->entries = calloc((size_t)n + 1, sizeof *st->entries);
        if (!st->entries) status = yl_error(YL_ERR_OOM, "safetensors '%s': out of memory", path);
    }
    size_t data_size = st->file_size - st->data_start;
    const cJSON *item;
    if (status == YL_OK) {
        cJSON_ArrayForEach(item, root) {
            if (strcmp(item->string, "__metadata__") == 0)
                status = st->metadata_keys ? format_error(path, "two __metadata__ objects", "")
                                           : parse_metadata(st, item);
            else {
                status = parse_entry(st, item, &st->entries[st->count], data_size);
                if (status == YL_OK) st->count++;
            }
            if (status != YL_OK) break;
        }
    }
    cJSON_Delete(root);
    if (status == YL_OK) status = check_layout(st);
    return status;
}

yl_status yl_safetensors_open(yl_safetensors *st, const char *path) {
    if (!st || !path) return yl_error(YL_ERR_INVALID_ARG, "yl_safetensors_open: NULL %s", st ? "path" : "handle");
    memset(st, 0, sizeof *st);
    st->path = copy_string(path);
    if (!st->path) return yl_error(YL_ERR_OOM, "safetensors '%s': out of memory", path);
    yl_status status = read_whole_file(st, path);
    if (status == YL_OK) status = parse_header(st);
    if (status != YL_OK) yl_safetensors_close(st);
    return status;
}

void yl_safetensors_close(yl_safetensors *st) {
    if (!st) return;
    for (int i = 0; i < st->count; i++) free(st->entries[i].name);
    free(st->entries);
    for (int i = 0; i < st->metadata_count; i++) {
        free(st->metadata_keys[i]);
        free(st->metadata_values[i]);
    }
    free(st->metadata_keys);
    free(st->metadata_values);
    free(st->file);
    free(st->path);
    memset(st, 0, sizeof *st);
}

const yl_safetensors_entry *yl_safetensors_find(const yl_safetensors *st, const char *name) {
    if (!st || !name) return NULL;
    for (int i = 0; i < st->count; i++)
        if (strcmp(st->entries[i].name, name) == 0) return &st->entries[i];
    return NULL;
}

const void *yl_safetensors_data(const yl_safetensors *st, const yl_safetensors_entry *entry) {
    if (!st || !entry || !st->file) return NULL;
    return st->file + st->data_start + entry->offset;
}

const char *yl_safetensors_metadata(const yl_safetensors *st, const char *key) {
    if (!st || !key) return NULL;
    for (int i = 0; i < st->metadata_count; i++)
        if (strcmp(st->metadata_keys[i], key) == 0) return st->metadata_values[i];
    return NULL;
}

yl_status yl_safetensors_read_f32(const yl_safetensors *st, const char *name, float *out, size_t count) {
    if (!st || !name || (!out && count))
        return yl_error(YL_ERR_INVALID_ARG, "yl_safetensors_read_f32: NULL argument");
    const yl_safetensors_entry *e = yl_safetensors_find(st, name);
    if (!e) return yl_error(YL_ERR_FORMAT, "safetensors '%s': no tensor '%s'", st->path, name);
    size_t elem = yl_dtype_size(e->dtype), n = e->nbytes / elem;
    if (n != count)
        return yl_error(YL_ERR_FORMAT, "safetensors '%s': tensor '%s' has %zu elements, expected %zu", st->path, name,
                        n, count);
    const unsigned char *p = yl_safetensors_data(st, e);
    for (size_t i = 0; i < n; i++, p += elem)
        if (!yl_element_to_f32(p, e->dtype, &out[i]))
            return yl_error(YL_ERR_DTYPE, "safetensors '%s': tensor '%s' has no f32 conversion", st->path, name);
    return YL_OK;
}
