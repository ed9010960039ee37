// Shared by the .pt checkpoint reader's files: pt_checkpoint.c (loading, the top-level dict),
// pt_tensor.c (tensors and storages), pt_modules.c (the module tree walk) and pt_metadata.c
// (names, strides, scale, train args). Not a public header.
#pragma once
#include "weights/pickle.h"
#include "weights/pt_checkpoint.h"

#define PT_MAX_MODULE_DEPTH 32
#define PT_MAX_NAME 256
#define PT_MAX_STATE_ENTRIES (1 << 20)
// Shared children could make the walk exponential: modules visited and dict items looked at
// are bounded (a yolov8x checkpoint needs ~700 and ~3000).
#define PT_MAX_MODULE_VISITS (1 << 16)
#define PT_MAX_WALK_ITEMS (1 << 22)

struct yl_pt_storage {
    char *key;
    unsigned char *data;
    size_t size;
};

typedef struct {
    yl_pt_checkpoint *ck;
    const char *name;  // file (or fuzz input) name for messages
    const yl_pt_storage_reader *reader;
    long modules_visited;
    long items_walked;
} pt_loader;

typedef struct {
    yl_dtype dtype;
    int ndim;
    int64_t shape[YL_TENSOR_SET_MAX_DIMS];
    const void *data;
    size_t nbytes;
} pt_tensor;

char *pt_strdup(const char *s);

// A tensor from _rebuild_tensor_v2 (also wrapped in _rebuild_parameter*); `what` names it in
// messages. Reads its storage through the loader the first time the storage is seen.
yl_status pt_decode_tensor(pt_loader *L, const yl_pickle_value *v, const char *what, pt_tensor *out);
bool pt_is_tensor(const yl_pickle_value *v);

// Appends the module's state_dict entries and Conv activations (prefix "" for the root).
yl_status pt_collect_modules(pt_loader *L, const yl_pickle_value *root);

// names, nc, stride, scale from the model; epoch, date, version, train_args from the top dict
// (NULL for a bare module).
yl_status pt_read_metadata(pt_loader *L, const yl_pickle_value *model, const yl_pickle_value *top);
