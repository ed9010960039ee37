// What globals mean to the reader. The allow-list is what Ultralytics checkpoints (8.0-8.4,
// torch 1.x-2.x) reference; a name outside it is refused when the GLOBAL opcode names it, so a
// crafted pickle fails before anything could be "called". Nothing here ever runs code: calls
// become plain values (a few builtins whose result is data) or recorded objects.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "weights/pickle_internal.h"

typedef struct {
    const char *module;
    const char *name;  // NULL: any name in `module` or in a submodule of it
} allowed_global;

static const allowed_global allowed_globals[] = {
    {"collections", "OrderedDict"},
    {"__builtin__", "set"},
    {"builtins", "set"},
    {"__builtin__", "frozenset"},
    {"builtins", "frozenset"},
    {"_codecs", "encode"},  // bytes in protocol 2 (numpy scalar payloads)
    {"torch._utils", "_rebuild_tensor_v2"},
    {"torch._utils", "_rebuild_parameter"},
    {"torch._utils", "_rebuild_parameter_with_state"},
    {"torch._tensor", "_rebuild_from_type_v2"},
    {"torch", "Tensor"},
    {"torch.nn.parameter", "Parameter"},
    {"torch", "Size"},
    {"torch", "device"},
    {"torch", "HalfStorage"},
    {"torch", "FloatStorage"},
    {"torch", "DoubleStorage"},
    {"torch", "BFloat16Storage"},
    {"torch", "LongStorage"},
    {"torch", "IntStorage"},
    {"torch", "ShortStorage"},
    {"torch", "CharStorage"},
    {"torch", "ByteStorage"},
    {"torch", "BoolStorage"},
    {"torch.nn.modules", NULL},    // Conv2d, BatchNorm2d, SiLU, Identity, Sequential, losses, ...
    {"ultralytics.nn", NULL},      // DetectionModel, Conv, C2f, SPPF, Detect, DFL, ...
    {"ultralytics.utils", NULL},   // IterableSimpleNamespace, loss and assigner objects
    {"ultralytics.yolo", NULL},    // module paths of 8.0.x checkpoints
    {"types", "SimpleNamespace"},
    {"argparse", "Namespace"},
    {"pathlib", "PosixPath"},
    {"pathlib", "WindowsPath"},
    {"numpy", "dtype"},
    {"numpy.core.multiarray", "scalar"},
    {"numpy._core.multiarray", "scalar"},  // numpy 2
};

static bool is_identifier_path(const char *s, bool dots) {
    if (!*s) return false;
    bool start = true;
    for (; *s; s++) {
        char c = *s;
        bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
        bool digit = c >= '0' && c <= '9';
        if (c == '.' && dots && !start) {
            start = true;
            continue;
        }
        if (!(alpha || (digit && !start))) return false;
        start = false;
    }
    return !start;
}

bool yl_pickle_global_allowed(const char *module, const char *name) {
    if (!module || !name || !is_identifier_path(module, true) || !is_identifier_path(name, true)) return false;
    for (size_t i = 0; i < sizeof allowed_globals / sizeof allowed_globals[0]; i++) {
        const allowed_global *g = &allowed_globals[i];
        if (g->name) {
            if (strcmp(module, g->module) == 0 && strcmp(name, g->name) == 0) return true;
        } else {
            size_t n = strlen(g->module);
            if (strncmp(module, g->module, n) == 0 && (module[n] == '\0' || module[n] == '.')) return true;
        }
    }
    return false;
}

yl_status pickle_global(yl_pickle *p, const char *module, const char *name, yl_pickle_value **out) {
    if (!yl_pickle_global_allowed(module, name))
        return pickle_error(p, "global '%s.%s' is not in the allow-list of checkpoint classes; refusing to load it",
                            module, name);
    yl_pickle_value *v = pickle_new(p, YL_PICKLE_GLOBAL);
    if (!v) return pickle_oom(p);
    size_t m = strlen(module) + 1, n = strlen(name) + 1;
    v->as.global.module = malloc(m);
    v->as.global.name = malloc(n);
    if (!v->as.global.module || !v->as.global.name) return pickle_oom(p);
    memcpy(v->as.global.module, module, m);
    memcpy(v->as.global.name, name, n);
    *out = v;
    return YL_OK;
}

static bool global_is(const yl_pickle_value *g, const char *module, const char *name) {
    return strcmp(g->as.global.module, module) == 0 && strcmp(g->as.global.name, name) == 0;
}

static bool is_seq(const yl_pickle_value *v) { return v && (v->kind == YL_PICKLE_TUPLE || v->kind == YL_PICKLE_LIST); }

static yl_status copy_seq(yl_pickle *p, yl_pickle_kind kind, const yl_pickle_value *from, yl_pickle_value **out) {
    yl_pickle_value *v = pickle_new(p, kind);
    if (!v) return pickle_oom(p);
    for (size_t i = 0; from && i < from->as.seq.count; i++) YL_TRY(pickle_seq_append(p, v, from->as.seq.items[i]));
    *out = v;
    return YL_OK;
}

// OrderedDict() or OrderedDict([(k, v), ...]).
static yl_status make_dict(yl_pickle *p, const yl_pickle_value *args, yl_pickle_value **out) {
    yl_pickle_value *dict = pickle_new(p, YL_PICKLE_DICT);
    if (!dict) return pickle_oom(p);
    if (args->as.seq.count > 1) return pickle_error(p, "OrderedDict() takes at most one argument");
    if (args->as.seq.count == 1) {
        const yl_pickle_value *items = args->as.seq.items[0];
        if (!is_seq(items))
            return pickle_error(p, "OrderedDict(%s): expected a list of pairs", yl_pickle_kind_name(items->kind));
        for (size_t i = 0; i < items->as.seq.count; i++) {
            const yl_pickle_value *pair = items->as.seq.items[i];
            if (!is_seq(pair) || pair->as.seq.count != 2)
                return pickle_error(p, "OrderedDict: item %zu is not a pair", i);
            YL_TRY(pickle_dict_set(p, dict, pair->as.seq.items[0], pair->as.seq.items[1]));
        }
    }
    *out = dict;
    return YL_OK;
}

// _codecs.encode(text, 'latin1'): how protocol 2 stores bytes; each code point is one byte.
static yl_status encode_bytes(yl_pickle *p, const yl_pickle_value *args, yl_pickle_value **out) {
    if (args->as.seq.count != 2 || args->as.seq.items[0]->kind != YL_PICKLE_STR ||
        args->as.seq.items[1]->kind != YL_PICKLE_STR)
        return pickle_error(p, "_codecs.encode: expected (str, encoding)");
    const yl_pickle_value *text = args->as.seq.items[0];
    const char *encoding = args->as.seq.items[1]->as.str.data;
    const unsigned char *s = (const unsigned char *)text->as.str.data;
    size_t n = text->as.str.size;
    if (strcmp(encoding, "utf-8") == 0 || strcmp(encoding, "utf8") == 0) {
        *out = pickle_new_string(p, YL_PICKLE_BYTES, s, n);
        return *out ? YL_OK : pickle_oom(p);
    }
    if (strcmp(encoding, "latin1") != 0 && strcmp(encoding, "latin-1") != 0 && strcmp(encoding, "iso-8859-1") != 0)
        return pickle_error(p, "_codecs.encode: unsupported encoding '%s'", encoding);
    yl_pickle_value *v = pickle_new_string(p, YL_PICKLE_BYTES, "", 0);
    if (!v) return pickle_oom(p);
    char *bytes = realloc(v->as.str.data, n + 1);  // never longer than the UTF-8 text
    if (!bytes) return pickle_oom(p);
    v->as.str.data = bytes;
    size_t m = 0;
    for (size_t i = 0; i < n; m++) {
        if (s[i] < 0x80) {
            bytes[m] = (char)s[i++];
        } else if ((s[i] & 0xE0) == 0xC0 && i + 1 < n && (s[i + 1] & 0xC0) == 0x80 && s[i] <= 0xC3) {
            bytes[m] = (char)(((s[i] & 0x1F) << 6) | (s[i + 1] & 0x3F));
            i += 2;
        } else {
            return pickle_error(p, "_codecs.encode: text has a character outside latin-1 at index %zu", i);
        }
    }
    bytes[m] = '\0';
    v->as.str.size = m;
    *out = v;
    return YL_OK;
}

static uint64_t load_bytes(const unsigned char *b, size_t n, bool big_endian) {
    uint64_t x = 0;
    for (size_t i = 0; i < n; i++) x |= (uint64_t)b[big_endian ? n - 1 - i : i] << (8 * i);
    return x;
}

// numpy.core.multiarray.scalar(dtype, payload): the numpy float64 learning rates Ultralytics'
// warmup writes into param_groups. Unknown dtypes stay recorded objects.
static yl_status numpy_scalar(yl_pickle *p, yl_pickle_value *callable, yl_pickle_value *args, yl_pickle_value **out) {
    *out = NULL;
    const yl_pickle_value *dtype = args->as.seq.count == 2 ? args->as.seq.items[0] : NULL;
    const yl_pickle_value *payload = args->as.seq.count == 2 ? args->as.seq.items[1] : NULL;
    if (dtype && yl_pickle_is_class(dtype, "numpy", "dtype") && dtype->kind == YL_PICKLE_OBJECT &&
        payload->kind == YL_PICKLE_BYTES && yl_pickle_len(dtype->as.object.args) >= 1 &&
        dtype->as.object.args->as.seq.items[0]->kind == YL_PICKLE_STR) {
        const char *code = dtype->as.object.args->as.seq.items[0]->as.str.data;
        const yl_pickle_value *state = dtype->as.object.state;
        const yl_pickle_value *order = state && state->kind == YL_PICKLE_TUPLE ? yl_pickle_item(state, 1) : NULL;
        bool big = order && order->kind == YL_PICKLE_STR && strcmp(order->as.str.data, ">") == 0;
        const unsigned char *b = (const unsigned char *)payload->as.str.data;
        size_t n = payload->as.str.size;
        char kind = code[0];
        size_t width = code[1] >= '1' && code[1] <= '8' && code[2] == '\0' ? (size_t)(code[1] - '0') : 0;
        if (width && width == n) {
            uint64_t bits = load_bytes(b, n, big);
            if (kind == 'f' && n == 8) {
                double d;
                memcpy(&d, &bits, 8);
                *out = pickle_new_float(p, d);
            } else if (kind == 'f' && n == 4) {
                uint32_t b32 = (uint32_t)bits;
                float f;
                memcpy(&f, &b32, 4);
                *out = pickle_new_float(p, f);
            } else if (kind == 'i') {
                if (n < 8 && (bits >> (8 * n - 1)) & 1) bits |= ~(uint64_t)0 << (8 * n);  // sign-extend
                *out = pickle_new_int(p, (int64_t)bits);
            } else if (kind == 'u' && (n < 8 || bits <= INT64_MAX)) {
                *out = pickle_new_int(p, (int64_t)bits);
            } else if (kind == 'b' && n == 1) {
                *out = bits ? p->true_value : p->false_value;
            }
            if (kind == 'f' || kind == 'i' || kind == 'u' || kind == 'b') {
                if (*out) return YL_OK;
            }
        }
    }
    yl_pickle_value *obj = pickle_new(p, YL_PICKLE_OBJECT);
    if (!obj) return pickle_oom(p);
    obj->as.object.cls = callable;
    obj->as.object.args = args;
    *out = obj;
    return YL_OK;
}

yl_status pickle_reduce(yl_pickle *p, yl_pickle_value *callable, yl_pickle_value *args, yl_pickle_value **out) {
    if (callable->kind != YL_PICKLE_GLOBAL)
        return pickle_error(p, "call of a %s, not of a global", yl_pickle_kind_name(callable->kind));
    if (args->kind != YL_PICKLE_TUPLE)
        return pickle_error(p, "arguments of %s.%s are a %s, not a tuple", callable->as.global.module,
                            callable->as.global.name, yl_pickle_kind_name(args->kind));
    const yl_pickle_value *first = args->as.seq.count ? args->as.seq.items[0] : NULL;
    if (global_is(callable, "collections", "OrderedDict")) return make_dict(p, args, out);
    if (global_is(callable, "__builtin__", "set") || global_is(callable, "builtins", "set") ||
        global_is(callable, "__builtin__", "frozenset") || global_is(callable, "builtins", "frozenset")) {
        if (args->as.seq.count > 1 || (first && !is_seq(first))) return pickle_error(p, "set(): expected a list");
        return copy_seq(p, YL_PICKLE_LIST, first, out);
    }
    if (global_is(callable, "torch", "Size")) {
        if (args->as.seq.count != 1 || !is_seq(first)) return pickle_error(p, "torch.Size(): expected a tuple");
        return copy_seq(p, YL_PICKLE_TUPLE, first, out);
    }
    if (global_is(callable, "_codecs", "encode")) return encode_bytes(p, args, out);
    if (global_is(callable, "torch", "device") && first && first->kind == YL_PICKLE_STR) {
        char text[80];
        const yl_pickle_value *index = args->as.seq.count > 1 ? args->as.seq.items[1] : NULL;
        if (index && index->kind == YL_PICKLE_INT)
            snprintf(text, sizeof text, "%.60s:%lld", first->as.str.data, (long long)index->as.integer);
        else
            snprintf(text, sizeof text, "%.60s", first->as.str.data);
        *out = pickle_new_string(p, YL_PICKLE_STR, text, strlen(text));
        return *out ? YL_OK : pickle_oom(p);
    }
    if (strcmp(callable->as.global.name, "scalar") == 0 &&
        (strcmp(callable->as.global.module, "numpy.core.multiarray") == 0 ||
         strcmp(callable->as.global.module, "numpy._core.multiarray") == 0))
        return numpy_scalar(p, callable, args, out);
    yl_pickle_value *obj = pickle_new(p, YL_PICKLE_OBJECT);
    if (!obj) return pickle_oom(p);
    obj->as.object.cls = callable;
    obj->as.object.args = args;
    *out = obj;
    return YL_OK;
}

static yl_status merge_dict(yl_pickle *p, yl_pickle_value *into, const yl_pickle_value *from) {
    for (size_t i = 0; i < from->as.dict.count; i++)
        YL_TRY(pickle_dict_set(p, into, from->as.dict.keys[i], from->as.dict.values[i]));
    return YL_OK;
}

yl_status pickle_build(yl_pickle *p, yl_pickle_value *target, yl_pickle_value *state) {
    if (target->kind == YL_PICKLE_OBJECT) {
        yl_pickle_value *old = target->as.object.state;
        if (old && old != state && old->kind == YL_PICKLE_DICT && state->kind == YL_PICKLE_DICT)
            return merge_dict(p, old, state);
        target->as.object.state = state;
        return YL_OK;
    }
    if (target->kind == YL_PICKLE_DICT && state->kind == YL_PICKLE_DICT && target != state)
        return merge_dict(p, target, state);
    return YL_OK;  // e.g. __setstate__ of a plain value: nothing to record
}
