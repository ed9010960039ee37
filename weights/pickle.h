// A Python pickle reader that never executes anything: it runs the opcodes torch.save writes
// (protocol 2, plus the protocol 3-5 opcodes a re-saved checkpoint may use) and builds plain
// values: none, bool, int, float, str, bytes, tuple, list, dict, a reference to a global, and
// an "object" that records its class, its constructor arguments and its BUILD state.
//
// Globals are checked against an allow-list (what Ultralytics checkpoints reference: torch
// storages and rebuild functions, torch.nn and ultralytics module classes, OrderedDict, set,
// numpy scalars, ...); anything else, e.g. posix.system, is an error naming it. Callables are
// never called: REDUCE/NEWOBJ record the call as an object, except for a few builtins whose
// result is plain data (OrderedDict() -> dict, set(...) -> list, torch.Size(t) -> tuple,
// _codecs.encode(s, 'latin1') -> bytes, numpy scalars -> int/float/bool).
//
// Every read is bounds-checked against the input; stack, mark stack and memo sizes are
// bounded; an out-of-range memo index, a stack underflow, an unknown opcode or a truncated
// input is a YL_ERR_FORMAT naming the source and the byte offset.
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/core/status.h"

#define YL_PICKLE_MAX_STACK (1 << 22)  // values on the stack at once
#define YL_PICKLE_MAX_MARKS (1 << 16)  // nesting of MARK
#define YL_PICKLE_MAX_NAME 512         // bytes in a GLOBAL module or name

typedef enum {
    YL_PICKLE_NONE = 0,
    YL_PICKLE_BOOL,
    YL_PICKLE_INT,     // fits int64 (larger LONG1/LONG4 values are refused)
    YL_PICKLE_FLOAT,
    YL_PICKLE_STR,     // UTF-8 as pickled, NUL-terminated (size excludes the NUL)
    YL_PICKLE_BYTES,
    YL_PICKLE_TUPLE,
    YL_PICKLE_LIST,    // also set/frozenset contents
    YL_PICKLE_DICT,    // insertion order kept (it is state_dict order); also OrderedDict
    YL_PICKLE_GLOBAL,  // a reference to module.name (never resolved)
    YL_PICKLE_OBJECT,  // cls(*args) as recorded by REDUCE/NEWOBJ, with BUILD's state
    YL_PICKLE_PERSID,  // a persistent id (torch: ('storage', type, key, location, numel))
} yl_pickle_kind;

typedef struct yl_pickle_value yl_pickle_value;

struct yl_pickle_value {
    yl_pickle_kind kind;
    union {
        bool boolean;
        int64_t integer;
        double number;
        struct {
            char *data;
            size_t size;
        } str;  // STR and BYTES
        struct {
            yl_pickle_value **items;
            size_t count, capacity;
        } seq;  // TUPLE and LIST
        struct {
            yl_pickle_value **keys, **values;
            size_t count, capacity;
            uint32_t *index;  // hash of str/int keys -> position + 1, built once the dict grows
            size_t index_size;
        } dict;
        struct {
            char *module, *name;
        } global;
        struct {
            const yl_pickle_value *cls;  // a GLOBAL
            yl_pickle_value *args;       // a TUPLE (empty when none were given)
            yl_pickle_value *state;      // BUILD's argument, NULL before BUILD
        } object;
        yl_pickle_value *persid;
    } as;
};

typedef struct yl_pickle yl_pickle;  // owns every value it produced

// Unpickles `size` bytes. `source` names the input in error messages (e.g. "best.pt:best/data.pkl").
yl_status yl_pickle_load(yl_pickle **out, const void *data, size_t size, const char *source);
void yl_pickle_free(yl_pickle *p);
// The value STOP returned.
const yl_pickle_value *yl_pickle_root(const yl_pickle *p);

const char *yl_pickle_kind_name(yl_pickle_kind kind);
// The value for str key `key`, or NULL (also when `dict` is NULL or not a dict).
const yl_pickle_value *yl_pickle_dict_get(const yl_pickle_value *dict, const char *key);
// True when `v` is an OBJECT (or GLOBAL) of class module.name.
bool yl_pickle_is_class(const yl_pickle_value *v, const char *module, const char *name);
// An object's attribute dict: its BUILD state when a dict, or the dict in a (dict, slots)
// state; NULL otherwise.
const yl_pickle_value *yl_pickle_object_dict(const yl_pickle_value *obj);
// yl_pickle_dict_get(yl_pickle_object_dict(obj), name).
const yl_pickle_value *yl_pickle_object_attr(const yl_pickle_value *obj, const char *name);
// Number of items of a TUPLE/LIST/DICT, 0 otherwise; item i of a TUPLE/LIST or NULL.
size_t yl_pickle_len(const yl_pickle_value *v);
const yl_pickle_value *yl_pickle_item(const yl_pickle_value *v, size_t i);
// "module.name" of an OBJECT's class or a GLOBAL into buf; "" for other values.
const char *yl_pickle_class_name(const yl_pickle_value *v, char *buf, size_t size);
// True when module.name may appear in a checkpoint (the allow-list above).
bool yl_pickle_global_allowed(const char *module, const char *name);
