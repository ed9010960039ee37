// The checkpoint's __metadata__: building it from a model config and a yl_checkpoint_info, and
// parsing and checking it back. Internal to weights/checkpoint.c.
#pragma once
#include "weights/checkpoint.h"
#include "weights/safetensors_write.h"

#define YL_CHECKPOINT_META_ITEMS 16

typedef struct {
    yl_metadata_item items[YL_CHECKPOINT_META_ITEMS];
    int count;
    char *owned[YL_CHECKPOINT_META_ITEMS];  // formatted values to free
    int owned_count;
} yl_checkpoint_meta;

// Fails (naming `path`) when info's names, train_args or metrics are not the JSON they must be.
yl_status yl_checkpoint_meta_build(const char *path, const yl_model_config *cfg, const yl_checkpoint_info *info,
                                   yl_checkpoint_meta *out);
void yl_checkpoint_meta_free(yl_checkpoint_meta *meta);

// Fills *info (heap strings) from an open file; a file without format=yoloop.checkpoint, with a
// newer format version, or with a missing or malformed item is an error naming the file.
yl_status yl_checkpoint_meta_parse(const yl_safetensors *st, yl_checkpoint_info *info);
