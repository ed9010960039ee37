// Exported Label Studio tasks (JSON export, snapshot or task pages; spec §3.1) turned into one
// labelled image per task: the boxes of the one annotation that counts.
//
// Which annotation counts (spec continual_learning.md "Snapshot", label_studio.md §3.1):
//   - cancelled (was_cancelled: a skipped task) never counts;
//   - verified = made or checked by a person: ground_truth, or last_action not one of
//     "prediction", "propagated_annotation", "rejected"; an "imported" annotation (or one with an
//     import_id and no last_action) counts only with trust_imported;
//   - among the verified ones: ground_truth first, then the most recently updated (then the
//     highest id);
//   - a verified annotation with no boxes makes a background image (an empty label file).
// Tasks without a verified annotation are left out and counted.
//
// Boxes: value x, y, width, height are percent of original_width/height with (x, y) the top-left
// corner; rotation is clockwise degrees about that corner. A rotated box becomes the axis-aligned
// hull of its corners (in pixels, so the aspect ratio is right). Boxes are clamped to the image;
// ones with no area left are dropped. Everything dropped or changed is counted.
#pragma once
#include <cjson/cJSON.h>

#include "cli/labelstudio/label_config.h"
#include "engine/core/status.h"

typedef struct {
    int class_index;  // index in the label config
    char *label;      // the name in the annotation
    double x, y, width, height, rotation;  // as stored (percent, degrees)
    double cx, cy, w, h;                   // normalized [0,1], axis-aligned, clamped: a YOLO label line
    int rotated;      // rotation != 0: cx..h is the hull
    int clamped;      // part of the box lay outside the image
    int needs_size;   // rotated but the image size is unknown: cx..h assume a square image until
                      // yl_ls_box_normalize is called with the real size
} yl_ls_box;

typedef struct {
    long task_id;
    long annotation_id;  // the annotation that counts
    char *image_url;     // the task's data[image key] as stored
    char *file_name;     // local file name (yl_url_image_file_name)
    int original_width, original_height;  // from the regions; 0 when unknown
    char *updated_at;    // of that annotation ("" when absent)
    int ground_truth;
    int num_verified_annotations;  // verified annotations on the task (the chosen one included)
    int num_boxes;       // 0: a background image
    yl_ls_box *boxes;
} yl_ls_image_labels;

typedef struct {
    long tasks;                      // tasks read
    long images;                     // labelled images produced (= yl_ls_annotation_set.num_images)
    long background_images;          // images with no boxes
    long tasks_without_annotations;  // no annotation at all
    long tasks_skipped;              // every annotation cancelled
    long tasks_unverified;           // annotations, but none verified
    long tasks_without_image;        // no image URL under the config's key nor "$undefined$"
    long duplicate_images;           // tasks whose image another task already had (the better one kept)
    long annotations_cancelled, annotations_unverified, annotations_not_chosen;
    long boxes, boxes_rotated, boxes_clamped, boxes_dropped_empty, boxes_needing_size;
    long regions_ignored;            // results of other types or controls (relations, choices, ...)
} yl_ls_annotation_counts;

typedef struct {
    int num_images;
    yl_ls_image_labels *images;  // in export order
    yl_ls_annotation_counts counts;
    int num_unknown_labels;      // distinct label names not in the config (only with allow_unknown_labels)
    char **unknown_labels;
} yl_ls_annotation_set;

typedef struct {
    const yl_ls_label_config *config;  // required: control name, image key, class names
    int trust_imported;                // count imported annotations as verified
    int allow_unknown_labels;          // 0: a label missing from the config is an error
} yl_ls_parse_options;

// `tasks` is the exported JSON array.
yl_status yl_ls_annotations_parse(const cJSON *tasks, const yl_ls_parse_options *options, yl_ls_annotation_set *out);
yl_status yl_ls_annotations_parse_file(const char *path, const yl_ls_parse_options *options, yl_ls_annotation_set *out);
void yl_ls_annotation_set_free(yl_ls_annotation_set *set);

// 1 when the annotation counts as human-verified (see above), 0 otherwise; cancelled ones are 0.
int yl_ls_annotation_is_verified(const cJSON *annotation, int trust_imported);

// Recomputes cx, cy, w, h (and rotated, clamped, needs_size) from x, y, width, height, rotation for
// an image of the given size (<= 0: unknown). Returns 0 when no area is left after clamping.
int yl_ls_box_normalize(yl_ls_box *box, int image_width, int image_height);

// "2026-01-10T09:00:00.123456Z" (or +hh:mm, or a space for T) -> Unix seconds; -1 when malformed.
double yl_ls_parse_timestamp(const char *text);

// Writes one "class cx cy w h" line per box (6 decimals), atomically (path.part, rename). An
// image with no boxes gets an empty file (a background image).
yl_status yl_ls_write_yolo_labels(const yl_ls_image_labels *image, const char *path);
