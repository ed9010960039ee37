// yoloop's own checkpoint: one safetensors file holding the model's full state_dict (parameters
// and buffers under their Ultralytics keys, f32, num_batches_tracked i64) and, in __metadata__,
// everything needed to rebuild the model and trace where it came from:
//
//   format          "yoloop.checkpoint"          format_version  "1"
//   nc, names       class count, JSON array of nc strings
//   scale           "n" | "s" | "m" | "l" | "x" | "" (custom)
//   depth, width, max_channels                    the scale's multipliers (exact round trip)
//   imgsz           training image size (0 = unknown)
//   version_id, parent_version                    lineage in the model registry ("" = none)
//   train_args, metrics                           JSON objects, stored verbatim
//
// Saving is atomic (weights/safetensors_write.h). Loading builds the model from the metadata and
// then loads the state strictly, so a file whose tensors disagree with its metadata is refused.
#pragma once
#include "engine/model/model.h"
#include "weights/load_state.h"
#include "weights/safetensors.h"

#define YL_CHECKPOINT_FORMAT "yoloop.checkpoint"
#define YL_CHECKPOINT_FORMAT_VERSION 1

typedef struct {
    yl_model_config config;  // filled by load/read_info; save takes the model's own
    int format_version;      // filled by load/read_info
    int imgsz;               // 0 = unknown
    // Heap strings (yl_checkpoint_info_free releases those load/read_info made). On save, NULL
    // means: names "class0".."class<nc-1>", "" for the versions, {} for the JSON objects.
    char *names_json;        // JSON array of nc strings: ["cat", "dog"]
    char *version_id;
    char *parent_version;
    char *train_args_json;   // JSON object
    char *metrics_json;      // JSON object
} yl_checkpoint_info;

// Writes the model's state (after storing its num_batches_tracked) and `info` to `path`.
// info may be NULL (all defaults). Invalid names/train_args/metrics JSON is an error.
yl_status yl_checkpoint_save(yl_model *m, const yl_checkpoint_info *info, const char *path);

// Builds the model described by the file on `eng` and loads its state strictly. info (may be
// NULL) receives the metadata; free it with yl_checkpoint_info_free.
yl_status yl_checkpoint_load(const char *path, yl_engine *eng, yl_model **out, yl_checkpoint_info *info);

// Only the metadata (checked as load checks it).
yl_status yl_checkpoint_read_info(const char *path, yl_checkpoint_info *info);
void yl_checkpoint_info_free(yl_checkpoint_info *info);

// Fine-tuning start: copies from any safetensors file of Ultralytics-keyed tensors (a yoloop
// checkpoint or a plain state_dict) every entry whose name and shape match (YL_LOAD_TRANSFER).
yl_status yl_checkpoint_transfer(yl_model *m, const char *path, yl_transfer_report *report);

// The tensors of an open safetensors file as a tensor set of views into it (valid until the file
// is closed); release the set's item array with yl_safetensors_tensor_set_free.
yl_status yl_safetensors_as_tensor_set(const yl_safetensors *st, yl_tensor_set *out);
void yl_safetensors_tensor_set_free(yl_tensor_set *set);
