#include "labels.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "file_util.h"

#define LABELS_MAX_FILE_BYTES ((size_t)64 << 20)
#define LABEL_COORD_MAX 1.01f   // Ultralytics' 1 % tolerance
#define LABEL_VALUE_MIN -0.01f

typedef struct {
    float v[5];  // class, cx, cy, w, h
    int line;
    int order;  // position in the file, for a stable sort
} label_row;

char *yl_label_path_for_image(const char *image_path) {
    if (!image_path) return NULL;
    size_t n = strlen(image_path);
    const char *component = NULL;  // points at "/images/" (or at "images/" for a relative start)
    for (const char *p = strstr(image_path, "/images/"); p; p = strstr(p + 1, "/images/")) component = p;
    if (!component && !strncmp(image_path, "images/", 7)) component = image_path - 1;
    const char *name = strrchr(image_path, '/');
    name = name ? name + 1 : image_path;
    const char *dot = strrchr(name, '.');
    size_t stem_end = dot ? (size_t)(dot - image_path) : n;
    char *out = malloc(n + 8);  // "labels" has the length of "images"; ".txt" adds at most 4
    if (!out) return NULL;
    memcpy(out, image_path, stem_end);
    memcpy(out + stem_end, ".txt", 5);
    if (component) memcpy(out + (component - image_path) + 1, "labels", 6);
    return out;
}

static int is_space(char c) { return c == ' ' || c == '\t' || c == '\v' || c == '\f'; }

// Parses the numbers of one line into `values` (grown as needed). Returns the count, or -1 after
// setting the error.
static int parse_line(const char *start, const char *end, const char *file, int line, float **values, int *capacity) {
    int count = 0;
    const char *p = start;
    for (;;) {
        while (p < end && is_space(*p)) p++;
        if (p >= end) break;
        const char *token = p;
        while (p < end && !is_space(*p)) p++;
        char buffer[64];
        size_t len = (size_t)(p - token);
        if (len >= sizeof buffer) {
            yl_error(YL_ERR_FORMAT, "%s:%d: value '%.20s...' is not a number", file, line, token);
            return -1;
        }
        memcpy(buffer, token, len);
        buffer[len] = '\0';
        char *parsed_end = NULL;
        errno = 0;
        double value = strtod(buffer, &parsed_end);  // text -> double -> float32, as NumPy converts
        if (parsed_end == buffer || *parsed_end || !isfinite(value) || fabs(value) > 3.0e38) {
            yl_error(YL_ERR_FORMAT, "%s:%d: value '%s' is not a finite number", file, line, buffer);
            return -1;
        }
        if (count == *capacity) {
            int grown = *capacity ? *capacity * 2 : 16;
            float *bigger = realloc(*values, (size_t)grown * sizeof *bigger);
            if (!bigger) {
                yl_error(YL_ERR_OOM, "%s: out of memory", file);
                return -1;
            }
            *values = bigger;
            *capacity = grown;
        }
        (*values)[count++] = (float)value;
    }
    return count;
}

// segments2boxes + xyxy2xywh, in float32 as NumPy computes them.
static void polygon_to_box(const float *values, int count, float *box) {
    float x1 = values[1], x2 = values[1], y1 = values[2], y2 = values[2];
    for (int i = 1; i + 1 < count; i += 2) {
        x1 = fminf(x1, values[i]);
        x2 = fmaxf(x2, values[i]);
        y1 = fminf(y1, values[i + 1]);
        y2 = fmaxf(y2, values[i + 1]);
    }
    box[0] = (x1 + x2) / 2.0f;
    box[1] = (y1 + y2) / 2.0f;
    box[2] = x2 - x1;
    box[3] = y2 - y1;
}

static yl_status check_row(const label_row *row, const char *file, int nc) {
    float cls = row->v[0];
    if (cls < 0.0f || cls != floorf(cls))
        return yl_error(YL_ERR_FORMAT, "%s:%d: class %g is not a non-negative integer", file, row->line, cls);
    for (int k = 1; k < 5; k++) {
        if (row->v[k] > LABEL_COORD_MAX)
            return yl_error(YL_ERR_FORMAT, "%s:%d: non-normalized or out of bounds coordinate %g > 1.01", file,
                            row->line, row->v[k]);
        if (row->v[k] < LABEL_VALUE_MIN)
            return yl_error(YL_ERR_FORMAT, "%s:%d: negative coordinate %g < -0.01", file, row->line, row->v[k]);
    }
    if (nc > 0 && cls >= (float)nc)
        return yl_error(YL_ERR_FORMAT, "%s:%d: class %.0f >= nc %d (label class outside the dataset's classes)", file,
                        row->line, (double)cls, nc);
    return YL_OK;
}

static int compare_rows(const void *pa, const void *pb) {
    const label_row *a = pa, *b = pb;
    for (int k = 0; k < 5; k++) {
        if (a->v[k] < b->v[k]) return -1;
        if (a->v[k] > b->v[k]) return 1;
    }
    return (a->order > b->order) - (a->order < b->order);
}

static int same_values(const label_row *a, const label_row *b) {
    for (int k = 0; k < 5; k++)
        if (!(a->v[k] == b->v[k])) return 0;
    return 1;
}

// np.unique(lb, axis=0): when rows repeat, keep one of each, sorted by their values.
static int remove_duplicates(label_row *rows, int count) {
    label_row *sorted = malloc((size_t)count * sizeof *sorted);
    if (!sorted) return -1;
    memcpy(sorted, rows, (size_t)count * sizeof *sorted);
    qsort(sorted, (size_t)count, sizeof *sorted, compare_rows);
    int unique = 0;
    for (int i = 0; i < count; i++)
        if (i == 0 || !same_values(&sorted[i], &sorted[unique - 1])) sorted[unique++] = sorted[i];
    if (unique < count) memcpy(rows, sorted, (size_t)unique * sizeof *rows);
    free(sorted);
    return count - unique;
}

typedef struct {
    label_row *rows;
    int count, capacity;
    float *values;
    int value_capacity;
} parse_state;

static yl_status collect_rows(const char *text, size_t size, const char *file, parse_state *s, int *polygons) {
    // First pass: find whether any line has more than 6 values (the whole file is then polygons).
    for (int pass = 0; pass < 2; pass++) {
        const char *p = text, *end = text + size;
        int line = 0;
        while (p < end) {
            const char *eol = p;
            while (eol < end && *eol != '\n' && *eol != '\r') eol++;
            line++;
            int n = parse_line(p, eol, file, line, &s->values, &s->value_capacity);
            if (n < 0) return YL_ERR_FORMAT;
            if (pass == 0 && n > 6) *polygons = 1;
            if (pass == 1 && n > 0) {
                label_row row = {.line = line, .order = s->count};
                if (*polygons) {
                    if (n < 3 || (n - 1) % 2)
                        return yl_error(YL_ERR_FORMAT,
                                        "%s:%d: polygon labels need a class and x y pairs, %d values found", file,
                                        line, n);
                    row.v[0] = s->values[0];
                    polygon_to_box(s->values, n, row.v + 1);
                } else {
                    if (n != 5)
                        return yl_error(YL_ERR_FORMAT, "%s:%d: labels require 5 columns, %d columns detected", file,
                                        line, n);
                    memcpy(row.v, s->values, sizeof row.v);
                }
                if (s->count == s->capacity) {
                    int grown = s->capacity ? s->capacity * 2 : 16;
                    label_row *bigger = realloc(s->rows, (size_t)grown * sizeof *bigger);
                    if (!bigger) return yl_error(YL_ERR_OOM, "%s: out of memory", file);
                    s->rows = bigger;
                    s->capacity = grown;
                }
                s->rows[s->count++] = row;
            }
            // "\r\n" is one line break, as in str.splitlines().
            p = eol;
            if (p < end && *p == '\r' && p + 1 < end && p[1] == '\n') p++;
            if (p < end) p++;
        }
    }
    return YL_OK;
}

yl_status yl_labels_parse(const char *text, size_t size, const char *file_name, int nc, yl_label_file *out) {
    if (!out) return yl_error(YL_ERR_INVALID_ARG, "labels: NULL output");
    memset(out, 0, sizeof *out);
    if (!text && size) return yl_error(YL_ERR_INVALID_ARG, "labels: NULL text");
    const char *file = file_name ? file_name : "<labels>";
    parse_state s = {0};
    yl_status status = collect_rows(text, size, file, &s, &out->polygons);
    for (int i = 0; i < s.count && status == YL_OK; i++) status = check_row(&s.rows[i], file, nc);
    if (status == YL_OK && s.count > 0) {
        int removed = remove_duplicates(s.rows, s.count);
        if (removed < 0) {
            status = yl_error(YL_ERR_OOM, "%s: out of memory", file);
        } else {
            out->duplicates_removed = removed;
            out->count = s.count - removed;
            out->boxes = malloc((size_t)out->count * sizeof *out->boxes);
            if (!out->boxes) status = yl_error(YL_ERR_OOM, "%s: out of memory", file);
            for (int i = 0; i < out->count && status == YL_OK; i++)
                out->boxes[i] = (yl_box_label){.cls = (int)s.rows[i].v[0],
                                               .cx = s.rows[i].v[1],
                                               .cy = s.rows[i].v[2],
                                               .w = s.rows[i].v[3],
                                               .h = s.rows[i].v[4]};
        }
    }
    out->empty = status == YL_OK && s.count == 0;
    free(s.rows);
    free(s.values);
    if (status != YL_OK) yl_label_file_free(out);
    return status;
}

yl_status yl_labels_read(const char *label_path, int nc, yl_label_file *out) {
    if (!out) return yl_error(YL_ERR_INVALID_ARG, "labels: NULL output");
    memset(out, 0, sizeof *out);
    if (!label_path) return yl_error(YL_ERR_INVALID_ARG, "labels: NULL path");
    if (!yl_is_regular_file(label_path)) {
        if (yl_is_directory(label_path)) return yl_error(YL_ERR_IO, "%s: is a directory, not a label file", label_path);
        out->missing = 1;
        return YL_OK;
    }
    char *text = NULL;
    size_t size = 0;
    YL_TRY(yl_read_file(label_path, LABELS_MAX_FILE_BYTES, &text, &size));
    yl_status status = yl_labels_parse(text, size, label_path, nc, out);
    free(text);
    return status;
}

void yl_label_file_free(yl_label_file *labels) {
    if (!labels) return;
    free(labels->boxes);
    memset(labels, 0, sizeof *labels);
}
