// Shared between the pickle VM (pickle.c), its value store (pickle_values.c) and the meaning
// it gives to globals (pickle_globals.c). Not a public header.
#pragma once
#include "weights/pickle.h"

typedef struct pickle_chunk pickle_chunk;

struct yl_pickle {
    const char *source;
    const unsigned char *data;
    size_t size;
    size_t pos;        // next byte to read
    size_t op_offset;  // the opcode being run, for messages

    pickle_chunk *chunks;  // every value, freed together
    yl_pickle_value *none, *true_value, *false_value;

    yl_pickle_value **stack;
    size_t stack_count, stack_capacity;
    size_t *marks;  // stack heights at each MARK
    size_t mark_count, mark_capacity;
    yl_pickle_value **memo;  // NULL = never stored
    size_t memo_capacity;
    size_t memo_count;  // entries stored (MEMOIZE's next index)

    yl_pickle_value *root;
};

// Formats "pickle '<source>' at byte <op_offset>: <message>" as a YL_ERR_FORMAT.
#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
yl_status pickle_error(yl_pickle *p, const char *fmt, ...);
yl_status pickle_oom(yl_pickle *p);

yl_pickle_value *pickle_new(yl_pickle *p, yl_pickle_kind kind);  // NULL when out of memory
yl_pickle_value *pickle_new_int(yl_pickle *p, int64_t v);
yl_pickle_value *pickle_new_float(yl_pickle *p, double v);
// STR or BYTES holding a copy of `data` (NUL-terminated).
yl_pickle_value *pickle_new_string(yl_pickle *p, yl_pickle_kind kind, const void *data, size_t size);

yl_status pickle_seq_append(yl_pickle *p, yl_pickle_value *seq, yl_pickle_value *item);
// Python semantics: an equal str/int/bool/None key keeps its position and takes the new value.
yl_status pickle_dict_set(yl_pickle *p, yl_pickle_value *dict, yl_pickle_value *key, yl_pickle_value *value);

// GLOBAL / STACK_GLOBAL: refuses a name outside the allow-list, else a GLOBAL value.
yl_status pickle_global(yl_pickle *p, const char *module, const char *name, yl_pickle_value **out);
// REDUCE and NEWOBJ: callable(*args) as a plain value or a recorded object; never calls anything.
yl_status pickle_reduce(yl_pickle *p, yl_pickle_value *callable, yl_pickle_value *args, yl_pickle_value **out);
// BUILD: stores `state` on an object, merges a dict state into a dict, ignores it otherwise.
yl_status pickle_build(yl_pickle *p, yl_pickle_value *target, yl_pickle_value *state);
