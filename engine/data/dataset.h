// A dataset index: the usable images of one split with their checked labels, built once (image
// headers only, no decoding), plus the counts and warnings Ultralytics prints when it scans a split
// ("128 images, 2 backgrounds, 0 corrupt"). Samples are decoded and resized on demand.
#pragma once
#include <stddef.h>

#include "engine/core/status.h"
#include "engine/data/sample.h"
#include "engine/data/sample_source.h"

typedef struct {
    char *image_path;
    char *label_path;
    int width, height;  // as displayed (EXIF orientation applied)
    yl_box_label *labels;
    int label_count;
} yl_dataset_item;

typedef struct {
    int images;        // usable images (the items)
    int labels_found;  // images with a non-empty label file
    int missing;       // images without a label file
    int empty;         // images with an empty label file
    int backgrounds;   // missing + empty
    int corrupt;       // images skipped: unreadable or too small, or a bad label file
    int duplicates;    // duplicate label rows removed, over all files
    int instances;     // boxes over all usable images
} yl_dataset_counts;

typedef struct {
    yl_dataset_item *items;  // in the order of the image list
    int count;
    int nc;
    yl_dataset_counts counts;
    char **warnings;  // one line each, naming the file; for the CLI to print
    int warning_count;
    int warning_capacity;
} yl_dataset;

// Indexes `image_paths` (labels found by yl_label_path_for_image, checked against nc). Bad images and
// bad label files are skipped with a warning; it is an error only when nothing is usable.
yl_status yl_dataset_build(const char *const *image_paths, int image_count, int nc, yl_dataset *out);

// Decodes item `index`, applies the EXIF orientation, and resizes it so that its long side is imgsz
// (yl_image_fit_long_side; imgsz <= 0 keeps the size). Labels are copied (normalised, so the
// aspect-preserving resize leaves them unchanged); sample->path borrows the dataset's string.
yl_status yl_dataset_load_sample(const yl_dataset *dataset, int index, int imgsz, yl_sample *sample);

// "128 images, 2 backgrounds, 0 corrupt" (+ ", 3 duplicate labels removed" when any).
void yl_dataset_summary(const yl_dataset *dataset, char *buffer, size_t size);

// The dataset as a sample source for the loader (load = yl_dataset_load_sample, image_size = the
// indexed size). It borrows `dataset`, which must outlive it.
yl_sample_source yl_dataset_sample_source(const yl_dataset *dataset);

void yl_dataset_free(yl_dataset *dataset);
