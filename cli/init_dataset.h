// `yoloop init`'s copies of a dataset into a workspace (replay/, golden/): the images and YOLO
// label files of one split of a data.yaml, hard-linked when possible, plus a data.yaml of their
// own so that the workspace does not depend on the original folder staying put.
#pragma once
#include "engine/core/status.h"

typedef struct {
    int images;  // copied
    int labels;  // label files copied (the others are background images)
} yl_init_copy_report;

// Copies the `split` ("train" or "val"; "val" falls back to train when the yaml has no val
// images) of data_yaml into <dest>/images and <dest>/labels and writes <dest>/data.yaml (train
// and val: images, the names). The yaml's names must be `names` (count and order): a replay set
// whose class ids mean other classes would teach the model the wrong classes.
yl_status yl_init_copy_dataset(const char *data_yaml, const char *split, const char *const *names, int nc,
                               const char *dest, yl_init_copy_report *report);
