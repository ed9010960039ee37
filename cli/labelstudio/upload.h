// Uploading an image file into a project (spec label_studio.md §2.5, multipart import) and
// setting a task's `meta` — what `yoloop push` needs beyond client.h.
#pragma once
#include <cjson/cJSON.h>

#include "cli/labelstudio/client.h"

// POST /api/projects/{id}/import?return_task_ids=true as multipart/form-data with one part
// `file` holding the image: Label Studio stores it under /data/upload/<project>/<8hex>-<name>
// and creates one task for it. *task_id receives that task's id. One file per request so that
// the id belongs to this file without doubt. Not retried once the request may have arrived
// (imports are not idempotent). Files over 250 MB (Label Studio's limit) are refused up front.
yl_status yl_ls_upload_image(yl_ls_client *client, int project_id, const char *path, long *task_id);

// PATCH /api/tasks/{id}/ {"meta": meta}.
yl_status yl_ls_set_task_meta(yl_ls_client *client, long task_id, const cJSON *meta);
