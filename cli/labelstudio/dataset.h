// From a parsed export to files on disk: every image downloaded once into a folder, one YOLO
// label file per image. What the cycle's snapshot step calls after yl_ls_annotations_parse_file.
#pragma once
#include "cli/labelstudio/annotations.h"
#include "cli/labelstudio/client.h"

typedef struct {
    long downloaded, from_disk, skipped, failed;
    long long bytes;          // size of all images now in the folder
    char first_error[512];    // the first failure's message when keep_going let the run go on
} yl_ls_download_stats;

typedef struct {
    int keep_going;  // count a failed image and go on (it is left out of the folder); else stop
    // Called after each image (may be NULL); status is that image's result.
    void (*progress)(void *user, long done, long total, const yl_ls_image_labels *image, yl_status status);
    void *user;
} yl_ls_download_options;

// Downloads each image of `set` to images_dir/<file_name> (yl_ls_download_image: a file already
// there with the size the server reports is kept). Returns the first failure unless keep_going.
yl_status yl_ls_download_images(yl_ls_client *client, const yl_ls_annotation_set *set, const char *images_dir,
                                const yl_ls_download_options *options, yl_ls_download_stats *stats);

// Writes labels_dir/<file name without extension>.txt for each image (empty for a background
// image). Two images whose names differ only by extension would share a label file: refused.
yl_status yl_ls_write_label_files(const yl_ls_annotation_set *set, const char *labels_dir);
