// `yoloop synth ls_json=<path>`: a Label Studio JSON export (spec label_studio.md §3.1) of a YOLO
// dataset that synth wrote, so demos and tests can play successive Label Studio exports without a
// server. Each image becomes one task with data.image "/data/upload/1/<file>" and one submitted,
// human-looking annotation whose regions are the label file's boxes in percent of the image size.
#pragma once
#include "engine/core/status.h"

typedef struct {
    const char *dataset_dir;   // the folder with images/{train,val}/ and labels/{train,val}/
    const char *split;         // "train", "val" or "all" (train, then val)
    const char *const *names;  // class names, in id order
    int nc;
    long task_id_base;         // id of the first task (annotation ids are the same numbers)
    const char *path;          // the JSON file to write (atomically)
} yl_synth_ls_options;

// *tasks (may be NULL) receives the number of tasks written.
yl_status yl_synth_write_ls_export(const yl_synth_ls_options *options, long *tasks);
