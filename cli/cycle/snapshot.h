// Step 1 of a cycle: a snapshot of the human-verified data (spec continual_learning.md
// "Snapshot"), from a live Label Studio project or a manual export, written to
//
//   snapshots/<stamp>/tasks.json      the export as read (JSON sources; absent for a YOLO export)
//   snapshots/<stamp>/images/<name>   hard links into cache/images (one download, or for a manual
//                                     export one copy, per image: later edits of the user's files
//                                     never reach a snapshot)
//   snapshots/<stamp>/labels/<stem>.txt   YOLO lines with class ids in the workspace's `names` order
//   snapshots/<stamp>/manifest.json   {"id", "created_at", "source": {...}, "names": [...],
//       "counts": {yl_ls_annotation_counts fields..., "images_failed"}, "warnings": [...],
//       "items": [{"key", "task", "annotation", "updated_at", "image", "label", "sha256",
//                  "label_sha256", "boxes", "width", "height"}]}
//
// The whole folder is built as snapshots/.<stamp>.tmp.<pid>/ and renamed when complete: a killed
// snapshot leaves no partial snapshot behind (yl_snapshot_create removes stale temp folders).
//
// Items: one per image that has a verified annotation (annotations.h decides), key "task:<id>"
// for Label Studio and JSON sources, "file:<stem>" for a YOLO export. Classes are mapped by name
// from the label config (or the YOLO export's notes.json/classes.txt) to `names`; a name the
// workspace does not know stops the snapshot with an error naming it (the seed swapped ids
// silently). Images that cannot be fetched are skipped with a warning and counted
// (images_failed), never silently.
#pragma once
#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "cli/cycle/workspace.h"
#include "engine/core/status.h"

typedef struct {
    char key[48];        // "task:12" or "file:img_001"
    long task_id;        // -1 for a YOLO export
    long annotation_id;  // -1 for a YOLO export
    char updated_at[40]; // of the chosen annotation ("" when unknown)
    char *image;         // relative to the snapshot folder: "images/<name>"
    char *label;         // "labels/<stem>.txt"
    char sha256[65];     // of the image
    char label_sha256[65];
    int boxes;           // 0: a background image
    int width, height;   // original size when known, else 0
} yl_snapshot_item;

typedef struct {
    char id[40];         // the stamp: "20261123T150405Z" (a suffix -2, -3 when taken in the same second)
    char dir[1024];      // <workspace>/snapshots/<id>
    int num_items;
    yl_snapshot_item *items;
    long images_failed;  // images skipped because they could not be fetched
    long boxes_rotated, boxes_clamped;
    int num_warnings;
    char **warnings;     // one line each: what was skipped or changed and why
} yl_snapshot;

typedef void (*yl_snapshot_log_fn)(void *user, const char *line);

// Takes a snapshot from the configured source. `log` (may be NULL) receives progress lines
// ("exported 120 tasks", "downloaded 30 images, 90 cached"). The token (Label Studio) is read
// from the configured file or LABEL_STUDIO_API_KEY and never appears in a message.
yl_status yl_snapshot_create(const yl_workspace_config *config, yl_snapshot_log_fn log, void *user,
                             yl_snapshot *out);
// Reads snapshots/<id>/manifest.json.
yl_status yl_snapshot_load(const yl_workspace_config *config, const char *id, yl_snapshot *out);
void yl_snapshot_free(yl_snapshot *snapshot);
// Snapshot ids, oldest first (temp folders excluded).
yl_status yl_snapshot_list(const yl_workspace_config *config, char ***ids, int *count);
