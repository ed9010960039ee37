// The value store of the pickle reader: values live in chunks owned by the yl_pickle and are
// freed together, because the memo and containers share them freely (a graph, not a tree).
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "weights/pickle_internal.h"

#define PICKLE_CHUNK_VALUES 512
// Dicts are searched linearly up to this size; larger ones get a hash index so that a
// crafted pickle with many keys cannot make SETITEMS quadratic.
#define PICKLE_DICT_LINEAR_MAX 8

struct pickle_chunk {
    pickle_chunk *next;
    size_t used;
    yl_pickle_value values[PICKLE_CHUNK_VALUES];
};

yl_status pickle_error(yl_pickle *p, const char *fmt, ...) {
    char message[512];
    va_list args;
    va_start(args, fmt);
    vsnprintf(message, sizeof message, fmt, args);
    va_end(args);
    return yl_error(YL_ERR_FORMAT, "pickle '%s' at byte %zu: %s", p->source, p->op_offset, message);
}

yl_status pickle_oom(yl_pickle *p) {
    return yl_error(YL_ERR_OOM, "pickle '%s' at byte %zu: out of memory", p->source, p->op_offset);
}

yl_pickle_value *pickle_new(yl_pickle *p, yl_pickle_kind kind) {
    if (!p->chunks || p->chunks->used == PICKLE_CHUNK_VALUES) {
        pickle_chunk *chunk = malloc(sizeof *chunk);
        if (!chunk) return NULL;
        chunk->next = p->chunks;
        chunk->used = 0;
        p->chunks = chunk;
    }
    yl_pickle_value *v = &p->chunks->values[p->chunks->used++];
    memset(v, 0, sizeof *v);
    v->kind = kind;
    return v;
}

yl_pickle_value *pickle_new_int(yl_pickle *p, int64_t value) {
    yl_pickle_value *v = pickle_new(p, YL_PICKLE_INT);
    if (v) v->as.integer = value;
    return v;
}

yl_pickle_value *pickle_new_float(yl_pickle *p, double value) {
    yl_pickle_value *v = pickle_new(p, YL_PICKLE_FLOAT);
    if (v) v->as.number = value;
    return v;
}

yl_pickle_value *pickle_new_string(yl_pickle *p, yl_pickle_kind kind, const void *data, size_t size) {
    char *copy = malloc(size + 1);
    if (!copy) return NULL;
    if (size) memcpy(copy, data, size);
    copy[size] = '\0';
    yl_pickle_value *v = pickle_new(p, kind);
    if (!v) {
        free(copy);
        return NULL;
    }
    v->as.str.data = copy;
    v->as.str.size = size;
    return v;
}

static int grow(void **items, size_t *capacity, size_t need, size_t elem) {
    if (need <= *capacity) return 1;
    size_t cap = *capacity ? *capacity : 4;
    while (cap < need) cap *= 2;
    void *grown = realloc(*items, cap * elem);
    if (!grown) return 0;
    *items = grown;
    *capacity = cap;
    return 1;
}

yl_status pickle_seq_append(yl_pickle *p, yl_pickle_value *seq, yl_pickle_value *item) {
    size_t cap = seq->as.seq.capacity;
    if (!grow((void **)&seq->as.seq.items, &cap, seq->as.seq.count + 1, sizeof(yl_pickle_value *)))
        return pickle_oom(p);
    seq->as.seq.capacity = cap;
    seq->as.seq.items[seq->as.seq.count++] = item;
    return YL_OK;
}

// ---- dict keys: Python equality for the hashable scalars, identity for everything else -----

static int key_is_numeric(const yl_pickle_value *k) {
    return k->kind == YL_PICKLE_BOOL || k->kind == YL_PICKLE_INT || k->kind == YL_PICKLE_FLOAT;
}

static double key_number(const yl_pickle_value *k) {
    if (k->kind == YL_PICKLE_BOOL) return k->as.boolean ? 1.0 : 0.0;
    if (k->kind == YL_PICKLE_INT) return (double)k->as.integer;
    return k->as.number;
}

static int keys_equal(const yl_pickle_value *a, const yl_pickle_value *b) {
    if (a == b) return 1;
    if (key_is_numeric(a) && key_is_numeric(b)) {
        if (a->kind != YL_PICKLE_FLOAT && b->kind != YL_PICKLE_FLOAT) {
            int64_t x = a->kind == YL_PICKLE_BOOL ? a->as.boolean : a->as.integer;
            int64_t y = b->kind == YL_PICKLE_BOOL ? b->as.boolean : b->as.integer;
            return x == y;
        }
        return key_number(a) == key_number(b);
    }
    if (a->kind != b->kind) return 0;
    switch (a->kind) {
        case YL_PICKLE_NONE: return 1;
        case YL_PICKLE_STR:
        case YL_PICKLE_BYTES:
            return a->as.str.size == b->as.str.size && memcmp(a->as.str.data, b->as.str.data, a->as.str.size) == 0;
        default: return 0;
    }
}

static uint64_t mix64(uint64_t x) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    return x ^ (x >> 33);
}

static uint64_t key_hash(const yl_pickle_value *k) {
    switch (k->kind) {
        case YL_PICKLE_NONE: return 0x9e3779b97f4a7c15ULL;
        case YL_PICKLE_BOOL: return mix64((uint64_t)k->as.boolean);
        case YL_PICKLE_INT: return mix64((uint64_t)k->as.integer);
        case YL_PICKLE_FLOAT: {
            double d = k->as.number;
            // Integral floats hash like the equal int (1.0 == 1 in Python).
            if (d >= -9.2e18 && d <= 9.2e18 && (double)(int64_t)d == d) return mix64((uint64_t)(int64_t)d);
            uint64_t bits;
            memcpy(&bits, &d, sizeof bits);
            return mix64(bits);
        }
        case YL_PICKLE_STR:
        case YL_PICKLE_BYTES: {
            uint64_t h = 1469598103934665603ULL ^ (uint64_t)k->kind;
            for (size_t i = 0; i < k->as.str.size; i++) h = (h ^ (unsigned char)k->as.str.data[i]) * 1099511628211ULL;
            return h;
        }
        default: return mix64((uint64_t)(uintptr_t)k);
    }
}

static void index_insert(yl_pickle_value *dict, size_t position) {
    size_t mask = dict->as.dict.index_size - 1;
    size_t slot = (size_t)key_hash(dict->as.dict.keys[position]) & mask;
    while (dict->as.dict.index[slot]) slot = (slot + 1) & mask;
    dict->as.dict.index[slot] = (uint32_t)(position + 1);
}

static int index_rebuild(yl_pickle_value *dict, size_t want) {
    size_t size = 16;
    while (size < 2 * want) size *= 2;
    uint32_t *index = calloc(size, sizeof *index);
    if (!index) return 0;
    free(dict->as.dict.index);
    dict->as.dict.index = index;
    dict->as.dict.index_size = size;
    for (size_t i = 0; i < dict->as.dict.count; i++) index_insert(dict, i);
    return 1;
}

static long dict_find(const yl_pickle_value *dict, const yl_pickle_value *key) {
    if (dict->as.dict.index) {
        size_t mask = dict->as.dict.index_size - 1;
        for (size_t slot = (size_t)key_hash(key) & mask; dict->as.dict.index[slot]; slot = (slot + 1) & mask) {
            size_t pos = dict->as.dict.index[slot] - 1;
            if (keys_equal(dict->as.dict.keys[pos], key)) return (long)pos;
        }
        return -1;
    }
    for (size_t i = 0; i < dict->as.dict.count; i++)
        if (keys_equal(dict->as.dict.keys[i], key)) return (long)i;
    return -1;
}

yl_status pickle_dict_set(yl_pickle *p, yl_pickle_value *dict, yl_pickle_value *key, yl_pickle_value *value) {
    long found = dict_find(dict, key);
    if (found >= 0) {
        dict->as.dict.values[found] = value;
        return YL_OK;
    }
    size_t n = dict->as.dict.count;
    if (n >= UINT32_MAX - 1) return pickle_error(p, "dict has too many items");
    size_t cap = dict->as.dict.capacity, cap2 = cap;
    if (!grow((void **)&dict->as.dict.keys, &cap, n + 1, sizeof(yl_pickle_value *))) return pickle_oom(p);
    if (!grow((void **)&dict->as.dict.values, &cap2, n + 1, sizeof(yl_pickle_value *))) return pickle_oom(p);
    dict->as.dict.capacity = cap < cap2 ? cap : cap2;
    dict->as.dict.keys[n] = key;
    dict->as.dict.values[n] = value;
    dict->as.dict.count = n + 1;
    if (dict->as.dict.count > PICKLE_DICT_LINEAR_MAX) {
        if (!dict->as.dict.index || 2 * dict->as.dict.count > dict->as.dict.index_size) {
            if (!index_rebuild(dict, dict->as.dict.count)) return pickle_oom(p);
        } else {
            index_insert(dict, n);
        }
    }
    return YL_OK;
}

// ---- public helpers -------------------------------------------------------------------------

void yl_pickle_free(yl_pickle *p) {
    if (!p) return;
    for (pickle_chunk *c = p->chunks; c;) {
        for (size_t i = 0; i < c->used; i++) {
            yl_pickle_value *v = &c->values[i];
            switch (v->kind) {
                case YL_PICKLE_STR:
                case YL_PICKLE_BYTES: free(v->as.str.data); break;
                case YL_PICKLE_TUPLE:
                case YL_PICKLE_LIST: free(v->as.seq.items); break;
                case YL_PICKLE_DICT:
                    free(v->as.dict.keys);
                    free(v->as.dict.values);
                    free(v->as.dict.index);
                    break;
                case YL_PICKLE_GLOBAL:
                    free(v->as.global.module);
                    free(v->as.global.name);
                    break;
                default: break;
            }
        }
        pickle_chunk *next = c->next;
        free(c);
        c = next;
    }
    free(p->stack);
    free(p->marks);
    free(p->memo);
    free(p);
}

const yl_pickle_value *yl_pickle_root(const yl_pickle *p) { return p ? p->root : NULL; }

const char *yl_pickle_kind_name(yl_pickle_kind kind) {
    static const char *names[] = {"None", "bool", "int", "float", "str", "bytes",
                                  "tuple", "list", "dict", "global", "object", "persistent id"};
    return (unsigned)kind < sizeof names / sizeof names[0] ? names[kind] : "?";
}

const yl_pickle_value *yl_pickle_dict_get(const yl_pickle_value *dict, const char *key) {
    if (!dict || dict->kind != YL_PICKLE_DICT || !key) return NULL;
    yl_pickle_value k = {.kind = YL_PICKLE_STR};
    k.as.str.data = (char *)key;
    k.as.str.size = strlen(key);
    long pos = dict_find(dict, &k);
    return pos >= 0 ? dict->as.dict.values[pos] : NULL;
}

bool yl_pickle_is_class(const yl_pickle_value *v, const char *module, const char *name) {
    if (!v) return false;
    if (v->kind == YL_PICKLE_OBJECT) v = v->as.object.cls;
    return v && v->kind == YL_PICKLE_GLOBAL && strcmp(v->as.global.module, module) == 0 &&
           strcmp(v->as.global.name, name) == 0;
}

const yl_pickle_value *yl_pickle_object_dict(const yl_pickle_value *obj) {
    if (!obj || obj->kind != YL_PICKLE_OBJECT || !obj->as.object.state) return NULL;
    const yl_pickle_value *state = obj->as.object.state;
    if (state->kind == YL_PICKLE_DICT) return state;
    if (state->kind == YL_PICKLE_TUPLE && state->as.seq.count == 2 && state->as.seq.items[0]->kind == YL_PICKLE_DICT)
        return state->as.seq.items[0];
    return NULL;
}

const yl_pickle_value *yl_pickle_object_attr(const yl_pickle_value *obj, const char *name) {
    return yl_pickle_dict_get(yl_pickle_object_dict(obj), name);
}

size_t yl_pickle_len(const yl_pickle_value *v) {
    if (!v) return 0;
    if (v->kind == YL_PICKLE_TUPLE || v->kind == YL_PICKLE_LIST) return v->as.seq.count;
    if (v->kind == YL_PICKLE_DICT) return v->as.dict.count;
    return 0;
}

const yl_pickle_value *yl_pickle_item(const yl_pickle_value *v, size_t i) {
    if (!v || (v->kind != YL_PICKLE_TUPLE && v->kind != YL_PICKLE_LIST) || i >= v->as.seq.count) return NULL;
    return v->as.seq.items[i];
}

const char *yl_pickle_class_name(const yl_pickle_value *v, char *buf, size_t size) {
    if (size == 0) return buf;
    buf[0] = '\0';
    if (v && v->kind == YL_PICKLE_OBJECT) v = v->as.object.cls;
    if (v && v->kind == YL_PICKLE_GLOBAL) snprintf(buf, size, "%s.%s", v->as.global.module, v->as.global.name);
    return buf;
}
