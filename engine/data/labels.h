// YOLO label files (spec yolov8.md §4.1), read and checked as Ultralytics' verify_image_label does:
// - one object per line, `class cx cy w h`, whitespace separated; blank lines are skipped;
// - if any line has more than 6 values, every line is a polygon `class x1 y1 x2 y2 ...` and its box
//   is the polygon's min/max extent (float32 arithmetic, as segments2boxes + xyxy2xywh);
// - every box value <= 1.01 and >= -0.01 (1 % tolerance; values are kept as written, not clipped,
//   as in Ultralytics' label cache); the class is an integer in [0, nc) (stricter than Ultralytics,
//   which would accept a fractional class or one >= -0.01);
// - exact duplicate rows are removed and then, as np.unique does, the remaining rows are sorted
//   lexicographically by (class, cx, cy, w, h); without duplicates the file order is kept;
// - a missing or empty file is a background image.
// Any failed check makes the whole file bad (Ultralytics drops the image); the error names the file
// and the line ("labels/train/a.txt:3: class 7 >= nc 3").
#pragma once
#include <stddef.h>

#include "engine/core/status.h"
#include "engine/data/sample.h"

typedef struct {
    yl_box_label *boxes;  // owned
    int count;
    int duplicates_removed;
    int missing;     // no label file
    int empty;       // a file without objects
    int polygons;    // the file was read as polygons
} yl_label_file;

// "d/images/train/a.jpg" -> "d/labels/train/a.txt": the LAST "/images/" component becomes
// "/labels/" (a relative path starting with "images/" counts too) and the extension (after the
// last '.' of the file name) becomes ".txt". Caller frees the result; NULL when out of memory.
char *yl_label_path_for_image(const char *image_path);

// Parses label text. `file_name` is only used in messages. nc <= 0 skips the class-range check.
yl_status yl_labels_parse(const char *text, size_t size, const char *file_name, int nc, yl_label_file *out);
// Reads and parses a label file; a file that does not exist gives OK with out->missing = 1.
yl_status yl_labels_read(const char *label_path, int nc, yl_label_file *out);
void yl_label_file_free(yl_label_file *labels);
