// data.yaml, read as Ultralytics' check_det_dataset reads it (spec yolov8.md §4.2):
//   path   dataset root; relative entries below are joined to it. When absent, the folder of the
//          yaml file. A relative `path` is looked up from the working directory (as Ultralytics
//          does), then from the yaml's folder (instead of Ultralytics' global datasets dir).
//   train, val (or `validation`), test (optional): a directory, a .txt list of images, or a YAML
//          list of those (see image_list.h). A relative string entry that does not exist and starts
//          with "../" is retried without it (Ultralytics' rule).
//   names  a list, or a map {id: name} whose ids must be exactly 0..n-1; nc defaults to its length.
//   nc     when given with names, the lengths must match; alone, names become class_0, class_1, ...
//   channels  optional, must be 3 (RGB).
// Other keys (download, ...) are ignored. Every problem is an error naming the file, the line and
// the key ("data.yaml:4: names: 2 names but nc is 3").
#pragma once
#include "engine/core/status.h"
#include "engine/data/image_list.h"

typedef struct {
    yl_path_list sources;  // the resolved directories / list files / images the yaml names
    yl_path_list images;   // every image they hold, sorted
} yl_data_split;

typedef struct {
    char *yaml_path;  // as given
    char *root;       // the resolved dataset root
    int nc;
    char **names;  // nc entries
    int channels;
    yl_data_split train;
    yl_data_split val;
    yl_data_split test;  // empty when the yaml has no test entry
    int has_test;
} yl_data_config;

yl_status yl_data_yaml_load(const char *yaml_path, yl_data_config *out);
void yl_data_config_free(yl_data_config *config);
