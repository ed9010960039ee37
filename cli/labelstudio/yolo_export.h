// Label Studio's YOLO export folder (spec §4): classes.txt, notes.json, labels/<stem>.txt.
//
// Its class ids are NOT the label config's order: labels without a category="N" attribute get ids
// in alphabetical order (the seed pipeline silently swapped classes because of this). notes.json
// holds the authoritative id <-> name pairs; classes.txt (line number = id) is the fallback. These
// helpers read the pairs and rewrite label files with ids mapped by name to the config's order,
// refusing any name the config does not have.
#pragma once
#include "cli/labelstudio/label_config.h"

typedef struct {
    int num_classes;
    int *ids;      // export class ids
    char **names;  // their names
} yl_ls_yolo_classes;

// Reads dir/notes.json ("categories": [{"id", "name"}]), else dir/classes.txt.
yl_status yl_ls_yolo_export_classes(const char *dir, yl_ls_yolo_classes *out);
void yl_ls_yolo_classes_free(yl_ls_yolo_classes *classes);

// map[export id] = index in `config` (-1 for ids the export does not use). *map is malloc'd with
// *map_size = largest export id + 1. YL_ERR_FORMAT naming the class when a name is not in the config.
yl_status yl_ls_yolo_class_map(const yl_ls_yolo_classes *classes, const yl_ls_label_config *config, int **map,
                               int *map_size);

// Copies a YOLO label file with each line's class id replaced through `map`; the coordinates are
// kept as written. Only "class cx cy w h" lines are accepted (OBB and polygon lines are refused).
// Writes out_path atomically (out_path.part, rename); in_path and out_path may be the same file.
yl_status yl_ls_yolo_remap_label_file(const char *in_path, const char *out_path, const int *map, int map_size);
