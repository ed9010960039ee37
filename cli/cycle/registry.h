// The model registry of a workspace (spec continual_learning.md "Deploy"): immutable versions
// with lineage, and one `deployed` pointer swapped atomically.
//
//   models/versions/v0001/model.safetensors   a yoloop checkpoint (never modified once added)
//   models/versions/v0001/meta.json           {"id", "parent", "created_at", "origin", "sha256",
//                                              "source_model", "snapshot", "cycle", "metrics": {...},
//                                              "train_args": {...}, "note"}
//   models/deployed                           one line: the deployed version id ("v0003\n"),
//                                              replaced with yl_fs_write_atomic
//   models/deployments.jsonl                  one line per pointer change: {"time", "from", "to",
//                                              "action": "deploy"|"rollback", "reason"}
//
// A version is added by copying into versions/.vNNNN.tmp.<pid>/ and renaming that folder to
// vNNNN when complete, so a killed add leaves no half version (only a temp folder that the next
// add removes). Versions are never deleted: an old deployed version stays as the archive, and
// `rollback` points back at it. Readers (the ML backend) reload when the pointer's content
// changes; they never see a half-written model because versions are immutable.
#pragma once
#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "engine/core/status.h"

#define YL_VERSION_ID_SIZE 16

typedef struct {
    char id[YL_VERSION_ID_SIZE];      // "v0003"
    char parent[YL_VERSION_ID_SIZE];  // "" for a root version
    char created_at[32];
    char origin[32];                  // "init", "finetune", "import"
    char sha256[65];                  // of model.safetensors
    bool deployed;                    // the pointer names it now
    double map50;                     // metrics.map50 from meta.json; -1 when absent
    cJSON *meta;                      // the whole meta.json (owned)
} yl_model_version;

// Adds `model_file` (a .safetensors checkpoint) as the next version. `meta` (may be NULL) is
// copied and completed with id, parent, created_at, origin and sha256 (parent and origin as
// given; parent may be NULL). The new id goes to id_out. The pointer is not touched.
yl_status yl_registry_add(const char *workspace, const char *model_file, const char *origin, const char *parent,
                          const cJSON *meta, char id_out[YL_VERSION_ID_SIZE]);

// The deployed version id into id ("" and YL_OK when nothing is deployed yet).
yl_status yl_registry_deployed(const char *workspace, char id[YL_VERSION_ID_SIZE]);
// <workspace>/models/versions/<id>/model.safetensors into path; fails when the version is absent.
yl_status yl_registry_model_path(const char *workspace, const char *id, char *path, size_t size);

// Points `deployed` at version id (which must exist and whose model file must match its sha256),
// atomically, and appends to deployments.jsonl. reason may be NULL.
yl_status yl_registry_deploy(const char *workspace, const char *id, const char *reason);
// Points `deployed` back at the version deployed before the current one (from deployments.jsonl),
// or at `to` when not NULL. The new id goes to id_out (may be NULL).
yl_status yl_registry_rollback(const char *workspace, const char *to, const char *reason,
                               char id_out[YL_VERSION_ID_SIZE]);

// Every version, oldest first; free with yl_registry_list_free.
yl_status yl_registry_list(const char *workspace, yl_model_version **versions, int *count);
void yl_registry_list_free(yl_model_version *versions, int count);
// One version (meta loaded); free with yl_registry_version_free.
yl_status yl_registry_get(const char *workspace, const char *id, yl_model_version *out);
void yl_registry_version_free(yl_model_version *version);
