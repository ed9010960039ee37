// Ultralytics .pt checkpoints read natively: the ZIP container (pt_zip.h), the pickle
// (pickle.h, no code execution), then the model's state_dict rebuilt by walking the pickled
// module tree, plus the metadata a trainer needs (class names, strides, scale, activations).
//
// The model is `ema` when present and not None (raw training checkpoints, where `model` is
// None since 8.1.38), else `model` (stripped/released files). State entries are named and
// ordered exactly as PyTorch's state_dict() (`model.0.conv.weight`, ...): per module its
// parameters, its persistent buffers, then its children in registration order. Tensors keep
// their stored dtype (FP16 in Ultralytics files; BF16/F32/I64 as found) and point into the
// checkpoint's storage buffers: offset applied, contiguous strides required.
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/core/status.h"
#include "weights/tensor_set.h"

#define YL_PT_MAX_STRIDES 8

typedef enum {
    YL_PT_ACT_OTHER = 0,  // anything else (see `type`)
    YL_PT_ACT_SILU,       // torch.nn.modules.activation.SiLU (Ultralytics' default)
    YL_PT_ACT_IDENTITY,   // torch.nn.modules.linear.Identity (act=False, e.g. SPPF.cv1 in 8.4)
} yl_pt_activation_kind;

// The `act` module pickled in a Conv (any module with a child named `act`).
typedef struct {
    char *module;  // "model.9.cv1"
    char *type;    // "torch.nn.modules.activation.SiLU"
    yl_pt_activation_kind kind;
} yl_pt_activation;

typedef struct {
    char *key;
    char *value;  // rendered as Python's str() renders it: "64", "0.01", "True", "None", "[640, 640]"
} yl_pt_arg;

typedef struct yl_pt_storage yl_pt_storage;

typedef struct {
    char *path;
    char *prefix;            // the ZIP record folder: "archive", "best", "yolov8n", ...
    const char *source;      // "ema", "model" or "root" (a bare pickled module)
    char *model_class;       // "ultralytics.nn.tasks.DetectionModel"
    yl_tensor_set tensors;   // the state_dict, in order

    int nc;                  // model.nc, else yaml['nc'], else the number of names; -1 when unknown
    char **names;            // class id -> name (`names` dict, ids 0..names_count-1)
    int names_count;
    double stride[YL_PT_MAX_STRIDES];  // model.stride (8, 16, 32)
    int stride_count;
    char scale;              // yaml['scale'] or the scale letter of yaml_file ('n', 's', ...); 0 when unknown
    // The model yaml's scaling as parse_model applies it: yaml['scales'][scale] = [depth, width,
    // max_channels], else depth_multiple/width_multiple (max_channels 0 = unlimited). 0 when
    // the checkpoint has no yaml.
    double depth_multiple, width_multiple;
    int max_channels;
    bool has_epoch;
    int64_t epoch;           // 0-based; -1 in stripped files
    char *date;              // NULL when absent
    char *version;           // Ultralytics version that wrote the file; NULL when absent
    yl_pt_arg *train_args;   // `train_args`, else the model's `args`
    int train_args_count;
    yl_pt_activation *activations;  // one per Conv, in module order
    int activation_count;

    yl_pt_storage *storages;  // the bytes behind `tensors`
    int storage_count;
} yl_pt_checkpoint;

// Where the storage bytes come from: a ZIP archive, or (fuzzing, tests) anything else.
// `read` returns a malloc'd buffer that the checkpoint takes over.
typedef struct {
    yl_status (*read)(void *ctx, const char *key, unsigned char **data, size_t *size);
    void *ctx;
} yl_pt_storage_reader;

// Loads `path` into *ck, which is overwritten (free a previous load first). On failure *ck is
// left empty (safe to free) and the message names the file and the problem.
yl_status yl_pt_checkpoint_load(yl_pt_checkpoint *ck, const char *path);
// The same from the bytes of a data.pkl and a storage source (NULL: tensors are errors);
// `name` is used in messages.
yl_status yl_pt_checkpoint_from_pickle(yl_pt_checkpoint *ck, const char *name, const void *pickle, size_t size,
                                       const yl_pt_storage_reader *reader);
void yl_pt_checkpoint_free(yl_pt_checkpoint *ck);

// NULL when absent.
const yl_named_tensor *yl_pt_checkpoint_find(const yl_pt_checkpoint *ck, const char *name);
const yl_pt_activation *yl_pt_checkpoint_activation(const yl_pt_checkpoint *ck, const char *module);
const char *yl_pt_checkpoint_train_arg(const yl_pt_checkpoint *ck, const char *key);

// Converts an entry (F32, F16, BF16, I32, I64, U8) to f32; it must hold exactly `count` values.
yl_status yl_pt_tensor_to_f32(const yl_named_tensor *t, float *out, size_t count);
