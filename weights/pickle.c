// The pickle stack machine. Marks are fences, as in CPython's C unpickler: an opcode may only
// pop values pushed after the innermost MARK, so a crafted pickle cannot reach into an outer
// frame. The memo holds at most one entry per input byte.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "weights/pickle_internal.h"

static yl_status need(yl_pickle *p, size_t n) {
    if (p->size - p->pos < n)
        return pickle_error(p, "truncated: the opcode needs %zu more bytes, %zu are left", n, p->size - p->pos);
    return YL_OK;
}

static uint64_t read_le(yl_pickle *p, size_t n) {
    uint64_t x = 0;
    for (size_t i = 0; i < n; i++) x |= (uint64_t)p->data[p->pos + i] << (8 * i);
    p->pos += n;
    return x;
}

static size_t fence(const yl_pickle *p) { return p->mark_count ? p->marks[p->mark_count - 1] : 0; }

static yl_status push(yl_pickle *p, yl_pickle_value *v) {
    if (!v) return pickle_oom(p);
    if (p->stack_count == p->stack_capacity) {
        if (p->stack_count >= YL_PICKLE_MAX_STACK)
            return pickle_error(p, "stack holds more than %d values", YL_PICKLE_MAX_STACK);
        size_t cap = p->stack_capacity ? p->stack_capacity * 2 : 256;
        yl_pickle_value **grown = realloc(p->stack, cap * sizeof *grown);
        if (!grown) return pickle_oom(p);
        p->stack = grown;
        p->stack_capacity = cap;
    }
    p->stack[p->stack_count++] = v;
    return YL_OK;
}

static yl_status pop(yl_pickle *p, yl_pickle_value **out) {
    if (p->stack_count <= fence(p)) return pickle_error(p, "stack underflow");
    *out = p->stack[--p->stack_count];
    return YL_OK;
}

static yl_status peek(yl_pickle *p, yl_pickle_value **out) {
    if (p->stack_count <= fence(p)) return pickle_error(p, "stack underflow");
    *out = p->stack[p->stack_count - 1];
    return YL_OK;
}

static yl_status push_mark(yl_pickle *p) {
    if (p->mark_count == p->mark_capacity) {
        if (p->mark_count >= YL_PICKLE_MAX_MARKS)
            return pickle_error(p, "more than %d nested MARKs", YL_PICKLE_MAX_MARKS);
        size_t cap = p->mark_capacity ? p->mark_capacity * 2 : 64;
        size_t *grown = realloc(p->marks, cap * sizeof *grown);
        if (!grown) return pickle_oom(p);
        p->marks = grown;
        p->mark_capacity = cap;
    }
    p->marks[p->mark_count++] = p->stack_count;
    return YL_OK;
}

// Removes the innermost MARK; the values above it are p->stack[*begin .. stack_count).
static yl_status pop_mark(yl_pickle *p, size_t *begin) {
    if (p->mark_count == 0) return pickle_error(p, "no MARK on the stack");
    *begin = p->marks[--p->mark_count];
    return YL_OK;
}

static yl_status memo_put(yl_pickle *p, uint64_t index) {
    yl_pickle_value *top;
    YL_TRY(peek(p, &top));
    uint64_t limit = p->size > 1024 ? p->size : 1024;
    if (index >= limit) return pickle_error(p, "memo index %llu is out of range (limit %llu)",
                                            (unsigned long long)index, (unsigned long long)limit);
    if (index >= p->memo_capacity) {
        size_t cap = p->memo_capacity ? p->memo_capacity : 256;
        while (cap <= index) cap *= 2;
        yl_pickle_value **grown = realloc(p->memo, cap * sizeof *grown);
        if (!grown) return pickle_oom(p);
        memset(grown + p->memo_capacity, 0, (cap - p->memo_capacity) * sizeof *grown);
        p->memo = grown;
        p->memo_capacity = cap;
    }
    if (!p->memo[index]) p->memo_count++;
    p->memo[index] = top;
    return YL_OK;
}

static yl_status memo_get(yl_pickle *p, uint64_t index) {
    if (index >= p->memo_capacity || !p->memo[index])
        return pickle_error(p, "memo index %llu was never stored", (unsigned long long)index);
    return push(p, p->memo[index]);
}

static yl_status push_string(yl_pickle *p, yl_pickle_kind kind, uint64_t length) {
    YL_TRY(need(p, length));
    yl_pickle_value *v = pickle_new_string(p, kind, p->data + p->pos, (size_t)length);
    p->pos += (size_t)length;
    return push(p, v);
}

// LONG1/LONG4: little-endian two's complement of `n` bytes.
static yl_status push_long(yl_pickle *p, uint64_t n) {
    if (n > 8) return pickle_error(p, "integer of %llu bytes does not fit in 64 bits", (unsigned long long)n);
    YL_TRY(need(p, n));
    uint64_t bits = read_le(p, (size_t)n);
    if (n > 0 && n < 8 && (bits >> (8 * n - 1)) & 1) bits |= ~(uint64_t)0 << (8 * n);
    return push(p, pickle_new_int(p, (int64_t)bits));
}

static yl_status push_float(yl_pickle *p) {
    YL_TRY(need(p, 8));
    uint64_t bits = 0;
    for (int i = 0; i < 8; i++) bits = bits << 8 | p->data[p->pos + i];  // big-endian
    p->pos += 8;
    double d;
    memcpy(&d, &bits, sizeof d);
    return push(p, pickle_new_float(p, d));
}

static yl_status read_line(yl_pickle *p, char *out, const char *what) {
    const unsigned char *start = p->data + p->pos;
    size_t left = p->size - p->pos, n = 0;
    while (n < left && start[n] != '\n') {
        if (n >= YL_PICKLE_MAX_NAME - 1)
            return pickle_error(p, "GLOBAL %s is longer than %d bytes", what, YL_PICKLE_MAX_NAME - 1);
        if (start[n] == '\0') return pickle_error(p, "GLOBAL %s contains a NUL byte", what);
        n++;
    }
    if (n == left) return pickle_error(p, "truncated: GLOBAL %s has no end of line", what);
    memcpy(out, start, n);
    out[n] = '\0';
    p->pos += n + 1;
    return YL_OK;
}

static yl_status op_global(yl_pickle *p) {
    char module[YL_PICKLE_MAX_NAME], name[YL_PICKLE_MAX_NAME];
    YL_TRY(read_line(p, module, "module"));
    YL_TRY(read_line(p, name, "name"));
    yl_pickle_value *g;
    YL_TRY(pickle_global(p, module, name, &g));
    return push(p, g);
}

static yl_status op_stack_global(yl_pickle *p) {
    yl_pickle_value *name, *module;
    YL_TRY(pop(p, &name));
    YL_TRY(pop(p, &module));
    if (module->kind != YL_PICKLE_STR || name->kind != YL_PICKLE_STR)
        return pickle_error(p, "STACK_GLOBAL needs two str, got %s and %s", yl_pickle_kind_name(module->kind),
                            yl_pickle_kind_name(name->kind));
    if (strlen(module->as.str.data) != module->as.str.size || strlen(name->as.str.data) != name->as.str.size)
        return pickle_error(p, "STACK_GLOBAL name contains a NUL byte");
    yl_pickle_value *g;
    YL_TRY(pickle_global(p, module->as.str.data, name->as.str.data, &g));
    return push(p, g);
}

// TUPLE/LIST/FROZENSET/DICT from the values above the innermost MARK.
static yl_status op_collect(yl_pickle *p, yl_pickle_kind kind) {
    size_t begin = 0;
    YL_TRY(pop_mark(p, &begin));
    yl_pickle_value *v = pickle_new(p, kind);
    if (!v) return pickle_oom(p);
    if (kind == YL_PICKLE_DICT) {
        if ((p->stack_count - begin) % 2) return pickle_error(p, "DICT with an odd number of values");
        for (size_t i = begin; i < p->stack_count; i += 2) YL_TRY(pickle_dict_set(p, v, p->stack[i], p->stack[i + 1]));
    } else {
        for (size_t i = begin; i < p->stack_count; i++) YL_TRY(pickle_seq_append(p, v, p->stack[i]));
    }
    p->stack_count = begin;
    return push(p, v);
}

static yl_status op_tuple_n(yl_pickle *p, size_t n) {
    if (p->stack_count < fence(p) + n) return pickle_error(p, "stack underflow");
    yl_pickle_value *v = pickle_new(p, YL_PICKLE_TUPLE);
    if (!v) return pickle_oom(p);
    for (size_t i = p->stack_count - n; i < p->stack_count; i++) YL_TRY(pickle_seq_append(p, v, p->stack[i]));
    p->stack_count -= n;
    return push(p, v);
}

// APPENDS/ADDITEMS (items above the mark go into the list below it) and SETITEMS.
static yl_status op_extend(yl_pickle *p, bool pairs) {
    size_t begin = 0;
    YL_TRY(pop_mark(p, &begin));
    if (begin == 0 || begin <= fence(p)) return pickle_error(p, "stack underflow: no container below the MARK");
    yl_pickle_value *target = p->stack[begin - 1];
    if (pairs) {
        if (target->kind != YL_PICKLE_DICT)
            return pickle_error(p, "SETITEMS on a %s", yl_pickle_kind_name(target->kind));
        if ((p->stack_count - begin) % 2) return pickle_error(p, "SETITEMS with an odd number of values");
        for (size_t i = begin; i < p->stack_count; i += 2)
            YL_TRY(pickle_dict_set(p, target, p->stack[i], p->stack[i + 1]));
    } else {
        if (target->kind != YL_PICKLE_LIST)
            return pickle_error(p, "APPENDS on a %s", yl_pickle_kind_name(target->kind));
        for (size_t i = begin; i < p->stack_count; i++) YL_TRY(pickle_seq_append(p, target, p->stack[i]));
    }
    p->stack_count = begin;
    return YL_OK;
}

static yl_status op_append(yl_pickle *p) {
    yl_pickle_value *item, *list;
    YL_TRY(pop(p, &item));
    YL_TRY(peek(p, &list));
    if (list->kind != YL_PICKLE_LIST) return pickle_error(p, "APPEND on a %s", yl_pickle_kind_name(list->kind));
    return pickle_seq_append(p, list, item);
}

static yl_status op_setitem(yl_pickle *p) {
    yl_pickle_value *value, *key, *dict;
    YL_TRY(pop(p, &value));
    YL_TRY(pop(p, &key));
    YL_TRY(peek(p, &dict));
    if (dict->kind != YL_PICKLE_DICT) return pickle_error(p, "SETITEM on a %s", yl_pickle_kind_name(dict->kind));
    return pickle_dict_set(p, dict, key, value);
}

static yl_status op_call(yl_pickle *p, bool with_kwargs) {
    yl_pickle_value *kwargs = NULL, *args, *callable, *result;
    if (with_kwargs) YL_TRY(pop(p, &kwargs));
    YL_TRY(pop(p, &args));
    YL_TRY(pop(p, &callable));
    if (kwargs && (kwargs->kind != YL_PICKLE_DICT || kwargs->as.dict.count))
        return pickle_error(p, "NEWOBJ_EX with keyword arguments is not supported");
    YL_TRY(pickle_reduce(p, callable, args, &result));
    return push(p, result);
}

static yl_status op_build(yl_pickle *p) {
    yl_pickle_value *state, *target;
    YL_TRY(pop(p, &state));
    YL_TRY(peek(p, &target));
    return pickle_build(p, target, state);
}

static yl_status op_persid(yl_pickle *p) {
    yl_pickle_value *pid;
    YL_TRY(pop(p, &pid));
    yl_pickle_value *v = pickle_new(p, YL_PICKLE_PERSID);
    if (v) v->as.persid = pid;
    return push(p, v);
}

static const char *unsupported_opcode_name(unsigned char op) {
    switch (op) {
        case 'I': return "INT";
        case 'L': return "LONG";
        case 'F': return "FLOAT";
        case 'S': return "STRING";
        case 'V': return "UNICODE";
        case 'P': return "PERSID";
        case 'i': return "INST";
        case 'o': return "OBJ";
        case 'g': return "GET";
        case 'p': return "PUT";
        case 0x82: return "EXT1";
        case 0x83: return "EXT2";
        case 0x84: return "EXT4";
        case 0x97: return "NEXT_BUFFER";
        case 0x98: return "READONLY_BUFFER";
        default: return NULL;
    }
}

// Runs one opcode; sets *stop when STOP was reached.
static yl_status step(yl_pickle *p, bool *stop) {
    p->op_offset = p->pos;
    unsigned char op = p->data[p->pos++];
    switch (op) {
        case 0x80: {  // PROTO
            YL_TRY(need(p, 1));
            unsigned proto = p->data[p->pos++];
            if (proto > 5) return pickle_error(p, "pickle protocol %u is not supported (at most 5)", proto);
            return YL_OK;
        }
        case 0x95:  // FRAME: a length hint only
            YL_TRY(need(p, 8));
            p->pos += 8;
            return YL_OK;
        case '.': {  // STOP
            YL_TRY(pop(p, &p->root));
            *stop = true;
            return YL_OK;
        }
        case '}': return push(p, pickle_new(p, YL_PICKLE_DICT));
        case ']': return push(p, pickle_new(p, YL_PICKLE_LIST));
        case ')': return push(p, pickle_new(p, YL_PICKLE_TUPLE));
        case 0x8f: return push(p, pickle_new(p, YL_PICKLE_LIST));  // EMPTY_SET
        case '(': return push_mark(p);
        case '0': {  // POP
            yl_pickle_value *v;
            return pop(p, &v);
        }
        case '1': {  // POP_MARK
            size_t begin = 0;
            YL_TRY(pop_mark(p, &begin));
            p->stack_count = begin;
            return YL_OK;
        }
        case '2': {  // DUP
            yl_pickle_value *v;
            YL_TRY(peek(p, &v));
            return push(p, v);
        }
        case 'J':  // BININT
            YL_TRY(need(p, 4));
            return push(p, pickle_new_int(p, (int32_t)(uint32_t)read_le(p, 4)));
        case 'K': YL_TRY(need(p, 1)); return push(p, pickle_new_int(p, (int64_t)read_le(p, 1)));  // BININT1
        case 'M': YL_TRY(need(p, 2)); return push(p, pickle_new_int(p, (int64_t)read_le(p, 2)));  // BININT2
        case 0x8a: YL_TRY(need(p, 1)); return push_long(p, read_le(p, 1));                       // LONG1
        case 0x8b: YL_TRY(need(p, 4)); return push_long(p, read_le(p, 4));                       // LONG4
        case 'G': return push_float(p);                                                          // BINFLOAT
        case 'X': YL_TRY(need(p, 4)); return push_string(p, YL_PICKLE_STR, read_le(p, 4));       // BINUNICODE
        case 0x8c: YL_TRY(need(p, 1)); return push_string(p, YL_PICKLE_STR, read_le(p, 1));      // SHORT_BINUNICODE
        case 0x8d: YL_TRY(need(p, 8)); return push_string(p, YL_PICKLE_STR, read_le(p, 8));      // BINUNICODE8
        case 'T': {                                                                              // BINSTRING
            YL_TRY(need(p, 4));
            int32_t n = (int32_t)(uint32_t)read_le(p, 4);
            if (n < 0) return pickle_error(p, "BINSTRING with negative length %d", (int)n);
            return push_string(p, YL_PICKLE_STR, (uint64_t)n);
        }
        case 'U': YL_TRY(need(p, 1)); return push_string(p, YL_PICKLE_STR, read_le(p, 1));    // SHORT_BINSTRING
        case 'B': YL_TRY(need(p, 4)); return push_string(p, YL_PICKLE_BYTES, read_le(p, 4));  // BINBYTES
        case 'C': YL_TRY(need(p, 1)); return push_string(p, YL_PICKLE_BYTES, read_le(p, 1));  // SHORT_BINBYTES
        case 0x8e:                                                                          // BINBYTES8
        case 0x96:                                                                          // BYTEARRAY8
            YL_TRY(need(p, 8));
            return push_string(p, YL_PICKLE_BYTES, read_le(p, 8));
        case 'q': YL_TRY(need(p, 1)); return memo_put(p, read_le(p, 1));  // BINPUT
        case 'r': YL_TRY(need(p, 4)); return memo_put(p, read_le(p, 4));  // LONG_BINPUT
        case 0x94: return memo_put(p, p->memo_count);                      // MEMOIZE
        case 'h': YL_TRY(need(p, 1)); return memo_get(p, read_le(p, 1));  // BINGET
        case 'j': YL_TRY(need(p, 4)); return memo_get(p, read_le(p, 4));  // LONG_BINGET
        case 't': return op_collect(p, YL_PICKLE_TUPLE);
        case 'l': return op_collect(p, YL_PICKLE_LIST);
        case 'd': return op_collect(p, YL_PICKLE_DICT);
        case 0x91: return op_collect(p, YL_PICKLE_LIST);  // FROZENSET
        case 0x85: return op_tuple_n(p, 1);
        case 0x86: return op_tuple_n(p, 2);
        case 0x87: return op_tuple_n(p, 3);
        case 'a': return op_append(p);
        case 'e': return op_extend(p, false);  // APPENDS
        case 0x90: return op_extend(p, false);  // ADDITEMS
        case 's': return op_setitem(p);
        case 'u': return op_extend(p, true);  // SETITEMS
        case 'c': return op_global(p);
        case 0x93: return op_stack_global(p);
        case 'R': return op_call(p, false);     // REDUCE
        case 0x81: return op_call(p, false);    // NEWOBJ
        case 0x92: return op_call(p, true);     // NEWOBJ_EX
        case 'b': return op_build(p);
        case 'Q': return op_persid(p);  // BINPERSID
        case 'N': return push(p, p->none);
        case 0x88: return push(p, p->true_value);
        case 0x89: return push(p, p->false_value);
        default: {
            const char *name = unsupported_opcode_name(op);
            if (name) return pickle_error(p, "opcode 0x%02x (%s) is not supported", op, name);
            return pickle_error(p, "unknown opcode 0x%02x", op);
        }
    }
}

yl_status yl_pickle_load(yl_pickle **out, const void *data, size_t size, const char *source) {
    if (!out || (!data && size)) return yl_error(YL_ERR_INVALID_ARG, "yl_pickle_load: NULL argument");
    *out = NULL;
    yl_pickle *p = calloc(1, sizeof *p);
    if (!p) return yl_error(YL_ERR_OOM, "pickle '%s': out of memory", source ? source : "?");
    p->source = source ? source : "<memory>";
    p->data = data;
    p->size = size;
    p->none = pickle_new(p, YL_PICKLE_NONE);
    p->true_value = pickle_new(p, YL_PICKLE_BOOL);
    p->false_value = pickle_new(p, YL_PICKLE_BOOL);
    if (!p->none || !p->true_value || !p->false_value) {
        yl_pickle_free(p);
        return yl_error(YL_ERR_OOM, "pickle '%s': out of memory", source);
    }
    p->true_value->as.boolean = true;
    bool stop = false;
    yl_status status = YL_OK;
    while (status == YL_OK && !stop) {
        if (p->pos >= p->size) {
            p->op_offset = p->pos;
            status = pickle_error(p, "truncated: the input ends before STOP");
            break;
        }
        status = step(p, &stop);
    }
    // Values point into nothing outside the pickle; the input bytes are no longer needed.
    p->data = NULL;
    p->source = "";
    if (status != YL_OK) {
        yl_pickle_free(p);
        return status;
    }
    *out = p;
    return YL_OK;
}
