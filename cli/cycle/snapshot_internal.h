// Shared by the snapshot files: the builder that a source fills while the snapshot folder is
// still a temporary one (snapshot.c owns the folder, snapshot_labelstudio.c, snapshot_json.c and
// snapshot_yolo.c read the sources, snapshot_manifest.c writes and reads manifest.json).
#pragma once
#include <cjson/cJSON.h>

#include "cli/cycle/snapshot.h"
#include "cli/labelstudio/annotations.h"

typedef struct {
    const yl_workspace_config *config;
    yl_snapshot_log_fn log;
    void *user;
    char dir[1024];  // the temporary folder being filled
    yl_snapshot *snapshot;
    int items_capacity;
    yl_ls_annotation_counts counts;
    cJSON *source;   // the manifest's "source" object
} yl_snapshot_builder;

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
void yl_snapshot_logf(yl_snapshot_builder *b, const char *fmt, ...);
// Records a warning (what was skipped or changed and why) and logs it.
#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
yl_status yl_snapshot_warn(yl_snapshot_builder *b, const char *fmt, ...);

// Adds one item: hard-links `image_path` (through cache/images/ when it is not there already)
// as images/<image_name>, writes `label_text` as
// labels/<stem>.txt, hashes both. A second image with the same stem is skipped with a warning
// (*added = 0): two images cannot share one label file.
typedef struct {
    const char *key;
    long task_id, annotation_id;
    const char *updated_at;
    const char *image_name;
    const char *image_path;
    const char *label_text;
    int boxes, width, height;
} yl_snapshot_item_spec;
yl_status yl_snapshot_add_item(yl_snapshot_builder *b, const yl_snapshot_item_spec *spec, int *added);

// The label file name of an image: "<stem>.txt".
void yl_snapshot_label_name(const char *image_name, char *out, size_t size);

// A label config whose classes are the workspace's names (for sources that have no XML config:
// a JSON export, a YOLO export). Free with yl_ls_label_config_free.
yl_status yl_snapshot_names_config(const yl_workspace_config *config, const char *control, const char *image_key,
                                   yl_ls_label_config *out);

// Where an image of a parsed Label Studio export comes from: a path on disk, or a failure
// (YL_ERR_IO, message set) that skips the image with a warning.
typedef yl_status (*yl_snapshot_fetch_fn)(void *user, const yl_ls_image_labels *image, char *path, size_t size);

// Turns a parsed export into items: class ids through class_map (label config index -> workspace
// index), images through `fetch`, rotated boxes normalised with the real size when the export did
// not carry it.
yl_status yl_snapshot_add_annotation_set(yl_snapshot_builder *b, yl_ls_annotation_set *set, const int *class_map,
                                         yl_snapshot_fetch_fn fetch, void *fetch_user);

// The three sources.
yl_status yl_snapshot_from_label_studio(yl_snapshot_builder *b);
yl_status yl_snapshot_from_json_export(yl_snapshot_builder *b);
yl_status yl_snapshot_from_yolo_export(yl_snapshot_builder *b);

// manifest.json
yl_status yl_snapshot_manifest_write(const yl_snapshot_builder *b, const char *created_at);
yl_status yl_snapshot_manifest_read(const char *dir, yl_snapshot *out);
