// A Label Studio REST client (spec label_studio.md §1–§3, §8): projects and label config, task
// paging, exports (easy export, snapshots), imports of tasks and predictions, image download.
//
// What the continual-learning cycle does with it:
//   yl_ls_client_open(url, token source)                 -> client
//   yl_ls_get_label_config(client, project)               -> class names (label_config.h)
//   yl_ls_export(client, project, verified, "tasks.json") -> streamed to a file
//   yl_ls_annotations_parse_file("tasks.json")            -> per-image boxes (annotations.h)
//   yl_ls_download_image(client, url, task, dest, size)   -> one image, skipped when present
//   yl_ls_import_tasks / yl_ls_import_predictions         -> pre-annotations, uncertainty scores
//
//   (dataset.h wraps the download loop and the label files; yolo_export.h reads a manual YOLO
//   export with its class ids mapped by name.)
//
// Every call returns a yl_status; on failure yl_last_error() says what was asked, what Label
// Studio answered and, where it is known, how to fix it. Messages never contain the token.
// A client holds one connection cache and is not thread-safe: use one client per thread.
#pragma once
#include <cjson/cJSON.h>

#include "cli/labelstudio/auth.h"
#include "cli/labelstudio/http.h"
#include "cli/labelstudio/label_config.h"
#include "engine/core/status.h"

typedef struct yl_ls_client yl_ls_client;

typedef struct {
    const char *url;              // base URL, http(s)://host[:port][/prefix]; a trailing '/' is dropped
    yl_ls_token_source token;     // a file, else an environment variable (LABEL_STUDIO_API_KEY)
    yl_http_options http;         // zero fields take the defaults of http.h
    long export_timeout_ms;       // easy export, snapshot creation and downloads; 0: 30 min; < 0: none
    double poll_interval_s;       // snapshot status polls; 0: 1 s
    double snapshot_timeout_s;    // waiting for a snapshot or a conversion; 0: 600 s
    int page_size;                // task paging; 0: 100
    int import_batch_size;        // tasks per import request; 0: 500
    // Optional: when Label Studio's files are on this machine, read them from disk instead of
    // over HTTP. local_files_root = LOCAL_FILES_DOCUMENT_ROOT (for /data/local-files/?d=...),
    // media_root = <LABEL_STUDIO_BASE_DATA_DIR>/media (for /data/upload/...).
    const char *local_files_root;
    const char *media_root;
} yl_ls_client_options;

// Loads the token and prepares the connection; no request is made (the first call tells whether
// the server and the token work).
yl_status yl_ls_client_open(yl_ls_client **out, const yl_ls_client_options *options);
void yl_ls_client_close(yl_ls_client *client);

const char *yl_ls_client_url(const yl_ls_client *client);
yl_ls_token_kind yl_ls_client_token_kind(const yl_ls_client *client);
int yl_ls_client_token_refreshes(const yl_ls_client *client);
// HTTP status of the last response (0 when none arrived): 401 means the token was refused (for a
// PAT also when /api/token/refresh/ refused it).
long yl_ls_client_last_http_status(const yl_ls_client *client);

// A JSON call for anything not wrapped below. `path` starts with '/' (relative to the base URL);
// `body` may be NULL; *out (may be NULL when not wanted) receives the parsed answer, NULL for an
// empty body. Non-2xx answers are errors.
yl_status yl_ls_call_json(yl_ls_client *client, const char *method, const char *path, const cJSON *body, cJSON **out);

// ---- server (§2.11) ------------------------------------------------------------------------------
typedef struct {
    char release[64];  // "1.23.2"
    char edition[32];  // "Community" or "Enterprise"; "" when the server does not say
} yl_ls_version;

yl_status yl_ls_health(yl_ls_client *client);  // GET /health, no token
yl_status yl_ls_get_version(yl_ls_client *client, yl_ls_version *out);

// ---- projects (§2.1) -----------------------------------------------------------------------------
typedef struct {
    int id;
    char *title;
    char *label_config;   // the XML
    char *model_version;  // which predictions the editor shows ("" when none)
    long long task_number, num_tasks_with_annotations, total_annotations_number, total_predictions_number;
    cJSON *json;          // the whole project object
} yl_ls_project;

yl_status yl_ls_get_project(yl_ls_client *client, int project_id, yl_ls_project *out);
void yl_ls_project_free(yl_ls_project *project);
// The project's RectangleLabels control (control_name NULL: the only one) and its class names.
yl_status yl_ls_get_label_config(yl_ls_client *client, int project_id, const char *control_name,
                                 yl_ls_label_config *out);
// PATCH /api/projects/{id}/ {"model_version": ...}: the predictions the editor pre-fills.
yl_status yl_ls_set_project_model_version(yl_ls_client *client, int project_id, const char *model_version);

// ---- tasks (§2.2) --------------------------------------------------------------------------------
typedef struct {
    int only_annotated;  // only_annotated=true
    int resolve_uri;     // 0 (default): raw storage URIs (s3://...) in data, fetched via presign
    int page_size;       // 0: the client's page size
} yl_ls_task_query;

// Called once per task, in server order; a non-OK return stops the listing with that status.
typedef yl_status (*yl_ls_task_visitor)(void *user, const cJSON *task);

// Pages through GET /api/tasks/?project=&page=&page_size=&fields=all until `total` tasks came, a
// page is empty, or a page past the end answers 404. *count (may be NULL) = tasks visited.
// Note (§2.2): listing can make Label Studio ask an attached ML backend for predictions.
yl_status yl_ls_list_tasks(yl_ls_client *client, int project_id, const yl_ls_task_query *query,
                           yl_ls_task_visitor visitor, void *user, long *count);

// ---- exports (§2.3, §2.4) --------------------------------------------------------------------------
typedef enum {
    YL_LS_EXPORT_AUTO = 0,    // snapshots on Enterprise; else easy export, falling back to a
                              // snapshot when easy export answers 404 or 5xx
    YL_LS_EXPORT_EASY,        // GET /api/projects/{id}/export
    YL_LS_EXPORT_SNAPSHOT,    // create, poll, (convert,) download
    YL_LS_EXPORT_TASK_PAGES,  // /api/tasks/ pages written as one JSON array (JSON only)
} yl_ls_export_method;

typedef struct {
    yl_ls_export_method method;
    const char *export_type;  // "JSON" (NULL), "JSON_MIN", "YOLO", "COCO", ...
    // 0 (default): only tasks with at least one annotation — the verified candidates; skipped
    // (cancelled) annotations are still in them and are filtered by annotations.h.
    int all_tasks;
    int keep_snapshot;        // 0: delete the snapshot after downloading it
} yl_ls_export_options;

// Exports project `project_id` into `path` (streamed; written atomically via path.part).
// *used (may be NULL) tells which method produced the file.
yl_status yl_ls_export(yl_ls_client *client, int project_id, const yl_ls_export_options *options, const char *path,
                       yl_ls_export_method *used);

typedef enum {
    YL_LS_SNAPSHOT_CREATED = 0,
    YL_LS_SNAPSHOT_IN_PROGRESS,
    YL_LS_SNAPSHOT_COMPLETED,
    YL_LS_SNAPSHOT_FAILED,
    YL_LS_SNAPSHOT_UNKNOWN,
} yl_ls_snapshot_state;

// POST /api/projects/{id}/exports/ with filters for verified data (all_tasks = 0: tasks with
// annotations, ground-truth and usual annotations, no skipped ones; predictions and drafts as ids).
yl_status yl_ls_snapshot_create(yl_ls_client *client, int project_id, const char *title, int all_tasks,
                                int *export_id);
yl_status yl_ls_snapshot_state_get(yl_ls_client *client, int project_id, int export_id, yl_ls_snapshot_state *state);
// Polls until completed (YL_OK), failed or the client's snapshot timeout (YL_ERR_IO).
yl_status yl_ls_snapshot_wait(yl_ls_client *client, int project_id, int export_id);
// For a non-JSON export_type: POST .../convert, then poll that converted format until completed.
yl_status yl_ls_snapshot_convert(yl_ls_client *client, int project_id, int export_id, const char *export_type);
yl_status yl_ls_snapshot_download(yl_ls_client *client, int project_id, int export_id, const char *export_type,
                                  const char *path);
yl_status yl_ls_snapshot_delete(yl_ls_client *client, int project_id, int export_id);

// ---- imports and predictions (§2.5, §2.6) ----------------------------------------------------------
typedef struct {
    long task_count, annotation_count, prediction_count;
    long *task_ids;  // ids of the created tasks, in order (return_task_ids=true)
    long num_task_ids;
} yl_ls_import_result;

// POST /api/projects/{id}/import?return_task_ids=true with `tasks` (a JSON array of task objects,
// each {"data": {...}, "predictions": [...], "annotations": [...]}), in batches of the client's
// import_batch_size. Not retried once a request may have reached the server (imports are not
// idempotent); when a later batch fails the message says how many tasks were already imported,
// and `out` holds them.
yl_status yl_ls_import_tasks(yl_ls_client *client, int project_id, const cJSON *tasks, yl_ls_import_result *out);
void yl_ls_import_result_free(yl_ls_import_result *result);

// POST /api/projects/{id}/import/predictions with [{"task", "result", "score", "model_version"}].
yl_status yl_ls_import_predictions(yl_ls_client *client, int project_id, const cJSON *predictions, long *created);
// POST /api/predictions/ with one prediction object; *prediction_id may be NULL.
yl_status yl_ls_create_prediction(yl_ls_client *client, const cJSON *prediction, long *prediction_id);

// ---- images (§3.2) -------------------------------------------------------------------------------
typedef struct {
    int skipped;        // the file was already there with the expected size
    long long bytes;    // size of the file now at dest
    char source[16];    // "present", "disk" or "http"
} yl_ls_download_result;

// Fetches the image a task's data URL points at into dest_path (atomically, via .part):
//   /data/upload/..., upload/...        Label Studio, with the token (or media_root on disk)
//   /data/local-files/?d=...            Label Studio, with the token (or local_files_root on disk)
//   s3://, gs://, azure-blob://, ...    GET /tasks/{task_id}/presign/?fileuri=<base64url>, token;
//                                       redirects followed, the token only sent to Label Studio
//   http(s)://...                       the token only when the origin is Label Studio's
// When dest_path exists it is kept if its size equals expected_size (> 0), or, with
// expected_size <= 0, the size a HEAD request reports; an upload (unique name, never rewritten) is
// also kept when HEAD reports no size (Label Studio 1.23 sends none). An HTML answer (a login
// page) is refused.
yl_status yl_ls_download_image(yl_ls_client *client, const char *data_url, long task_id, const char *dest_path,
                               long long expected_size, yl_ls_download_result *result);
