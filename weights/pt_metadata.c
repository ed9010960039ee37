// What a checkpoint says besides its weights: class names, nc, strides and scale from the
// model object; epoch, date, version and training arguments from the top-level dict. Absent
// fields stay unset; present ones of the wrong type are errors.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "weights/pt_internal.h"

#define PT_MAX_CLASSES (1 << 16)
#define PT_MAX_ARG_TEXT 4096
#define PT_MAX_ARGS 4096

// ---- Python's str()/repr() for the values train_args hold ------------------------------------

typedef struct {
    char buf[PT_MAX_ARG_TEXT];
    size_t len;
} text;

static void put(text *t, const char *s) {
    size_t n = strlen(s);
    if (t->len + n >= sizeof t->buf - 4) {
        n = t->len < sizeof t->buf - 4 ? sizeof t->buf - 4 - t->len : 0;
        memcpy(t->buf + t->len, s, n);
        t->len += n;
        memcpy(t->buf + t->len, "...", 4);
        return;
    }
    memcpy(t->buf + t->len, s, n + 1);
    t->len += n;
}

// repr(float): the shortest digits that read back to the same double, laid out as Python does
// (fixed notation for exponents -4..15, with ".0" for integral values; else d.ddde+XX).
static void python_float(double x, char *out, size_t size) {
    if (isnan(x)) {
        snprintf(out, size, "nan");
        return;
    }
    if (isinf(x)) {
        snprintf(out, size, x > 0 ? "inf" : "-inf");
        return;
    }
    if (x == 0.0) {
        snprintf(out, size, signbit(x) ? "-0.0" : "0.0");
        return;
    }
    char e[40];
    for (int p = 1; p <= 17; p++) {
        snprintf(e, sizeof e, "%.*e", p - 1, x);
        if (strtod(e, NULL) == x) break;
    }
    const char *s = e;
    bool negative = *s == '-';
    if (negative) s++;
    char digits[24];
    size_t nd = 0;
    for (; *s && *s != 'e'; s++)
        if (*s != '.' && nd < sizeof digits - 1) digits[nd++] = *s;
    digits[nd] = '\0';
    int exp = *s == 'e' ? atoi(s + 1) : 0;
    while (nd > 1 && digits[nd - 1] == '0') digits[--nd] = '\0';
    char body[64];
    size_t b = 0;
    if (exp >= -4 && exp < 16) {
        if (exp >= 0) {
            for (int i = 0; i <= exp; i++) body[b++] = (size_t)i < nd ? digits[i] : '0';
            body[b++] = '.';
            if ((size_t)exp + 1 < nd)
                for (size_t i = (size_t)exp + 1; i < nd; i++) body[b++] = digits[i];
            else
                body[b++] = '0';
        } else {
            body[b++] = '0';
            body[b++] = '.';
            for (int i = 0; i < -exp - 1; i++) body[b++] = '0';
            for (size_t i = 0; i < nd; i++) body[b++] = digits[i];
        }
        body[b] = '\0';
    } else {
        body[b++] = digits[0];
        if (nd > 1) {
            body[b++] = '.';
            for (size_t i = 1; i < nd; i++) body[b++] = digits[i];
        }
        snprintf(body + b, sizeof body - b, "e%c%02d", exp < 0 ? '-' : '+', exp < 0 ? -exp : exp);
    }
    snprintf(out, size, "%s%s", negative ? "-" : "", body);
}

static bool full(const text *t) { return t->len >= sizeof t->buf - 5; }

// Stops as soon as the text is full, so self-referencing containers cost little.
static void render(text *t, const yl_pickle_value *v, bool quote, int depth) {
    char buf[200];
    if (full(t)) return;
    if (depth > 8) {
        put(t, "...");
        return;
    }
    switch (v->kind) {
        case YL_PICKLE_NONE: put(t, "None"); return;
        case YL_PICKLE_BOOL: put(t, v->as.boolean ? "True" : "False"); return;
        case YL_PICKLE_INT: snprintf(buf, sizeof buf, "%lld", (long long)v->as.integer); put(t, buf); return;
        case YL_PICKLE_FLOAT: python_float(v->as.number, buf, sizeof buf); put(t, buf); return;
        case YL_PICKLE_STR:
            if (quote) put(t, "'");
            put(t, v->as.str.data);
            if (quote) put(t, "'");
            return;
        case YL_PICKLE_BYTES: snprintf(buf, sizeof buf, "<%zu bytes>", v->as.str.size); put(t, buf); return;
        case YL_PICKLE_TUPLE:
        case YL_PICKLE_LIST: {
            bool tuple = v->kind == YL_PICKLE_TUPLE;
            put(t, tuple ? "(" : "[");
            for (size_t i = 0; i < v->as.seq.count && !full(t); i++) {
                if (i) put(t, ", ");
                render(t, v->as.seq.items[i], true, depth + 1);
            }
            put(t, tuple ? (v->as.seq.count == 1 ? ",)" : ")") : "]");
            return;
        }
        case YL_PICKLE_DICT:
            put(t, "{");
            for (size_t i = 0; i < v->as.dict.count && !full(t); i++) {
                if (i) put(t, ", ");
                render(t, v->as.dict.keys[i], true, depth + 1);
                put(t, ": ");
                render(t, v->as.dict.values[i], true, depth + 1);
            }
            put(t, "}");
            return;
        case YL_PICKLE_GLOBAL:
        case YL_PICKLE_OBJECT: {
            char cls[160];
            snprintf(buf, sizeof buf, "<%s>", yl_pickle_class_name(v, cls, sizeof cls));
            put(t, buf);
            return;
        }
        case YL_PICKLE_PERSID: put(t, "<persistent id>"); return;
    }
}

static yl_status read_train_args(pt_loader *L, const yl_pickle_value *args) {
    yl_pt_checkpoint *ck = L->ck;
    if (args && args->kind == YL_PICKLE_OBJECT) args = yl_pickle_object_dict(args);  // IterableSimpleNamespace
    if (!args || args->kind == YL_PICKLE_NONE) return YL_OK;
    if (args->kind != YL_PICKLE_DICT)
        return yl_error(YL_ERR_FORMAT, "pt '%s': train_args is a %s, not a dict", L->name,
                        yl_pickle_kind_name(args->kind));
    size_t n = args->as.dict.count;
    if (n > PT_MAX_ARGS) return yl_error(YL_ERR_FORMAT, "pt '%s': more than %d train_args", L->name, PT_MAX_ARGS);
    ck->train_args = calloc(n ? n : 1, sizeof *ck->train_args);
    if (!ck->train_args) return yl_error(YL_ERR_OOM, "pt '%s': out of memory", L->name);
    for (size_t i = 0; i < n; i++) {
        const yl_pickle_value *key = args->as.dict.keys[i];
        if (key->kind != YL_PICKLE_STR) continue;
        text *t = malloc(sizeof *t);
        if (!t) return yl_error(YL_ERR_OOM, "pt '%s': out of memory", L->name);
        t->len = 0;
        t->buf[0] = '\0';
        render(t, args->as.dict.values[i], false, 0);
        yl_pt_arg *a = &ck->train_args[ck->train_args_count];
        a->key = pt_strdup(key->as.str.data);
        a->value = pt_strdup(t->buf);
        free(t);
        if (!a->key || !a->value) {
            free(a->key);
            free(a->value);
            return yl_error(YL_ERR_OOM, "pt '%s': out of memory", L->name);
        }
        ck->train_args_count++;
    }
    return YL_OK;
}

// ---- the model's own attributes ---------------------------------------------------------------

static yl_status read_names(pt_loader *L, const yl_pickle_value *names) {
    yl_pt_checkpoint *ck = L->ck;
    if (!names || names->kind == YL_PICKLE_NONE) return YL_OK;
    bool is_dict = names->kind == YL_PICKLE_DICT;
    if (!is_dict && names->kind != YL_PICKLE_LIST && names->kind != YL_PICKLE_TUPLE)
        return yl_error(YL_ERR_FORMAT, "pt '%s': names is a %s, not a dict", L->name, yl_pickle_kind_name(names->kind));
    size_t n = yl_pickle_len(names);
    if (n > PT_MAX_CLASSES)
        return yl_error(YL_ERR_FORMAT, "pt '%s': more than %d class names", L->name, PT_MAX_CLASSES);
    ck->names = calloc(n ? n : 1, sizeof *ck->names);
    if (!ck->names) return yl_error(YL_ERR_OOM, "pt '%s': out of memory", L->name);
    ck->names_count = (int)n;
    for (size_t i = 0; i < n; i++) {
        const yl_pickle_value *id = is_dict ? names->as.dict.keys[i] : NULL;
        const yl_pickle_value *name = is_dict ? names->as.dict.values[i] : yl_pickle_item(names, i);
        int64_t index = (int64_t)i;
        if (is_dict) {
            if (id->kind != YL_PICKLE_INT || id->as.integer < 0 || id->as.integer >= (int64_t)n)
                return yl_error(YL_ERR_FORMAT, "pt '%s': names: class ids must be 0..%zu", L->name, n - 1);
            index = id->as.integer;
        }
        if (name->kind != YL_PICKLE_STR)
            return yl_error(YL_ERR_FORMAT, "pt '%s': names[%lld] is a %s, not a str", L->name, (long long)index,
                            yl_pickle_kind_name(name->kind));
        if (ck->names[index])
            return yl_error(YL_ERR_FORMAT, "pt '%s': names: class %lld twice", L->name, (long long)index);
        ck->names[index] = pt_strdup(name->as.str.data);
        if (!ck->names[index]) return yl_error(YL_ERR_OOM, "pt '%s': out of memory", L->name);
    }
    return YL_OK;
}

static yl_status read_stride(pt_loader *L, const yl_pickle_value *stride) {
    yl_pt_checkpoint *ck = L->ck;
    if (!stride || stride->kind == YL_PICKLE_NONE) return YL_OK;
    float values[YL_PT_MAX_STRIDES];
    size_t n;
    if (pt_is_tensor(stride)) {
        pt_tensor t;
        YL_TRY(pt_decode_tensor(L, stride, "stride", &t));
        n = t.nbytes / yl_dtype_size(t.dtype);
        if (n > YL_PT_MAX_STRIDES)
            return yl_error(YL_ERR_FORMAT, "pt '%s': %zu strides, at most %d", L->name, n, YL_PT_MAX_STRIDES);
        yl_named_tensor named = {
                .name = "stride", .dtype = t.dtype, .ndim = t.ndim, .data = t.data, .nbytes = t.nbytes};
        memcpy(named.shape, t.shape, sizeof(int64_t) * (size_t)t.ndim);
        YL_TRY(yl_pt_tensor_to_f32(&named, values, n));
    } else if (stride->kind == YL_PICKLE_LIST || stride->kind == YL_PICKLE_TUPLE) {
        n = yl_pickle_len(stride);
        if (n > YL_PT_MAX_STRIDES)
            return yl_error(YL_ERR_FORMAT, "pt '%s': %zu strides, at most %d", L->name, n, YL_PT_MAX_STRIDES);
        for (size_t i = 0; i < n; i++) {
            const yl_pickle_value *x = yl_pickle_item(stride, i);
            if (x->kind == YL_PICKLE_INT) values[i] = (float)x->as.integer;
            else if (x->kind == YL_PICKLE_FLOAT) values[i] = (float)x->as.number;
            else return yl_error(YL_ERR_FORMAT, "pt '%s': stride[%zu] is not a number", L->name, i);
        }
    } else {
        return yl_error(YL_ERR_FORMAT, "pt '%s': stride is a %s", L->name, yl_pickle_kind_name(stride->kind));
    }
    for (size_t i = 0; i < n; i++) ck->stride[i] = values[i];
    ck->stride_count = (int)n;
    return YL_OK;
}

// Ultralytics' guess_model_scale: re.search(r"yolo(e-)?[v]?\d+([nslmx])", Path(yaml_file).stem).
static char scale_from_path(const char *path) {
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    const char *dot = strrchr(base, '.');
    size_t n = dot && dot != base ? (size_t)(dot - base) : strlen(base);
    for (size_t i = 0; i + 4 <= n; i++) {
        if (strncmp(base + i, "yolo", 4) != 0) continue;
        size_t j = i + 4;
        if (j + 2 <= n && base[j] == 'e' && base[j + 1] == '-') j += 2;
        if (j < n && base[j] == 'v') j++;
        size_t digits = j;
        while (j < n && base[j] >= '0' && base[j] <= '9') j++;
        if (j > digits && j < n && strchr("nslmx", base[j])) return base[j];
    }
    return 0;
}

static void read_scale(pt_loader *L, const yl_pickle_value *yaml) {
    const yl_pickle_value *scale = yl_pickle_dict_get(yaml, "scale");
    if (scale && scale->kind == YL_PICKLE_STR && scale->as.str.size == 1 && strchr("nslmx", scale->as.str.data[0])) {
        L->ck->scale = scale->as.str.data[0];
        return;
    }
    const yl_pickle_value *file = yl_pickle_dict_get(yaml, "yaml_file");
    if (file && file->kind == YL_PICKLE_STR) L->ck->scale = scale_from_path(file->as.str.data);
}

static double number(const yl_pickle_value *v, double fallback) {
    if (v && v->kind == YL_PICKLE_INT) return (double)v->as.integer;
    if (v && v->kind == YL_PICKLE_FLOAT) return v->as.number;
    return fallback;
}

// parse_model: scales[scale] when the yaml has scales (scale = yaml['scale'], else the first
// key), else depth_multiple / width_multiple with no channel limit.
static void read_scaling(pt_loader *L, const yl_pickle_value *yaml) {
    yl_pt_checkpoint *ck = L->ck;
    if (!yaml) return;
    const yl_pickle_value *scales = yl_pickle_dict_get(yaml, "scales");
    if (scales && scales->kind == YL_PICKLE_DICT && scales->as.dict.count > 0) {
        const yl_pickle_value *s = yl_pickle_dict_get(yaml, "scale");
        const yl_pickle_value *row = NULL;
        if (s && s->kind == YL_PICKLE_STR && s->as.str.size > 0) row = yl_pickle_dict_get(scales, s->as.str.data);
        else row = scales->as.dict.values[0];
        if (row && yl_pickle_len(row) == 3) {
            double d = number(yl_pickle_item(row, 0), -1), w = number(yl_pickle_item(row, 1), -1),
                   mc = number(yl_pickle_item(row, 2), -1);
            if (d > 0 && w > 0 && mc >= 1 && mc <= 1e6) {
                ck->depth_multiple = d;
                ck->width_multiple = w;
                ck->max_channels = (int)mc;
            }
        }
        return;
    }
    double d = number(yl_pickle_dict_get(yaml, "depth_multiple"), 1.0),
           w = number(yl_pickle_dict_get(yaml, "width_multiple"), 1.0);
    if (d > 0 && w > 0) {
        ck->depth_multiple = d;
        ck->width_multiple = w;
        ck->max_channels = 0;
    }
}

static yl_status copy_str_field(pt_loader *L, const yl_pickle_value *top, const char *field, char **out) {
    const yl_pickle_value *v = yl_pickle_dict_get(top, field);
    if (!v || v->kind == YL_PICKLE_NONE) return YL_OK;
    if (v->kind != YL_PICKLE_STR)
        return yl_error(YL_ERR_FORMAT, "pt '%s': '%s' is a %s, not a str", L->name, field,
                        yl_pickle_kind_name(v->kind));
    *out = pt_strdup(v->as.str.data);
    return *out ? YL_OK : yl_error(YL_ERR_OOM, "pt '%s': out of memory", L->name);
}

yl_status pt_read_metadata(pt_loader *L, const yl_pickle_value *model, const yl_pickle_value *top) {
    yl_pt_checkpoint *ck = L->ck;
    const yl_pickle_value *yaml = yl_pickle_object_attr(model, "yaml");
    if (yaml && yaml->kind != YL_PICKLE_DICT) yaml = NULL;
    YL_TRY(read_names(L, yl_pickle_object_attr(model, "names")));
    YL_TRY(read_stride(L, yl_pickle_object_attr(model, "stride")));
    read_scale(L, yaml);
    read_scaling(L, yaml);
    const yl_pickle_value *nc = yl_pickle_object_attr(model, "nc");
    if (!nc || nc->kind != YL_PICKLE_INT) nc = yl_pickle_dict_get(yaml, "nc");
    if (nc && nc->kind == YL_PICKLE_INT && nc->as.integer >= 0 && nc->as.integer <= PT_MAX_CLASSES)
        ck->nc = (int)nc->as.integer;
    else
        ck->nc = ck->names ? ck->names_count : -1;

    const yl_pickle_value *epoch = yl_pickle_dict_get(top, "epoch");
    if (epoch && epoch->kind == YL_PICKLE_INT) {
        ck->has_epoch = true;
        ck->epoch = epoch->as.integer;
    }
    YL_TRY(copy_str_field(L, top, "date", &ck->date));
    YL_TRY(copy_str_field(L, top, "version", &ck->version));
    const yl_pickle_value *args = yl_pickle_dict_get(top, "train_args");
    if (!args || args->kind == YL_PICKLE_NONE) args = yl_pickle_object_attr(model, "args");
    return read_train_args(L, args);
}
