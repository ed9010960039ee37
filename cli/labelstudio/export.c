// Exports (spec §2.3 easy export, §2.4 snapshots) and task pages written as an export file.
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/labelstudio/client_internal.h"
#include "cli/labelstudio/json_util.h"

static double monotonic_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void sleep_seconds(double seconds) {
    struct timespec ts = {.tv_sec = (time_t)seconds, .tv_nsec = (long)((seconds - (double)(time_t)seconds) * 1e9)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

static int is_json_type(const char *export_type) { return !export_type || !strcmp(export_type, "JSON"); }

static yl_status check_export_type(const char *export_type) {
    if (!export_type) return YL_OK;
    for (const char *p = export_type; *p; p++)
        if (!isupper((unsigned char)*p) && !isdigit((unsigned char)*p) && *p != '_')
            return yl_error(YL_ERR_INVALID_ARG, "Label Studio export: bad export type '%s' (e.g. JSON, YOLO, COCO)",
                            export_type);
    return *export_type ? YL_OK : yl_error(YL_ERR_INVALID_ARG, "Label Studio export: empty export type");
}

// A JSON export must be an array of tasks; anything else (an HTML page, an error object) is refused.
static yl_status check_json_array_file(const char *path) {
    FILE *file = fopen(path, "rb");
    if (!file) return yl_error(YL_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    int c;
    while ((c = fgetc(file)) != EOF && isspace(c)) {
    }
    fclose(file);
    if (c != '[') {
        remove(path);
        return yl_error(YL_ERR_FORMAT, "Label Studio export: the downloaded file is not a JSON array of tasks");
    }
    return YL_OK;
}

static yl_status export_easy(yl_ls_client *client, int project_id, const yl_ls_export_options *o, const char *path) {
    char path_query[256];
    snprintf(path_query, sizeof path_query, "/api/projects/%d/export?exportType=%s&download_all_tasks=%s", project_id,
             o->export_type ? o->export_type : "JSON", o->all_tasks ? "true" : "false");
    yl_ls_request request = {.path = path_query, .accept = "*/*", .output_path = path,
                             .timeout_ms = client->options.export_timeout_ms};
    yl_http_response response;
    YL_TRY(yl_ls_perform(client, &request, &response));
    yl_status status = YL_OK;
    if (response.status < 200 || response.status >= 300) status = yl_ls_fail_response(client, &request, &response);
    yl_http_response_free(&response);
    if (status == YL_OK && is_json_type(o->export_type)) status = check_json_array_file(path);
    return status;
}

static const char *snapshot_state_name(yl_ls_snapshot_state state) {
    switch (state) {
    case YL_LS_SNAPSHOT_CREATED: return "created";
    case YL_LS_SNAPSHOT_IN_PROGRESS: return "in_progress";
    case YL_LS_SNAPSHOT_COMPLETED: return "completed";
    case YL_LS_SNAPSHOT_FAILED: return "failed";
    default: return "unknown";
    }
}

static yl_ls_snapshot_state parse_state(const char *text) {
    if (!text) return YL_LS_SNAPSHOT_UNKNOWN;
    if (!strcmp(text, "created")) return YL_LS_SNAPSHOT_CREATED;
    if (!strcmp(text, "in_progress")) return YL_LS_SNAPSHOT_IN_PROGRESS;
    if (!strcmp(text, "completed")) return YL_LS_SNAPSHOT_COMPLETED;
    if (!strcmp(text, "failed")) return YL_LS_SNAPSHOT_FAILED;
    return YL_LS_SNAPSHOT_UNKNOWN;
}

static cJSON *snapshot_request_body(const char *title, int all_tasks) {
    cJSON *body = cJSON_CreateObject();
    cJSON *tasks = cJSON_AddObjectToObject(body, "task_filter_options");
    cJSON *annotations = cJSON_AddObjectToObject(body, "annotation_filter_options");
    cJSON *serialization = cJSON_AddObjectToObject(body, "serialization_options");
    if (!body || !tasks || !annotations || !serialization || !cJSON_AddStringToObject(body, "title", title)) goto oom;
    if (!all_tasks && !cJSON_AddTrueToObject(tasks, "only_with_annotations")) goto oom;
    if (!cJSON_AddTrueToObject(annotations, "usual") || !cJSON_AddTrueToObject(annotations, "ground_truth") ||
        !cJSON_AddBoolToObject(annotations, "skipped", all_tasks))
        goto oom;
    // Predictions and drafts are not needed to rebuild a dataset: ids keep the file small.
    static const char *const as_ids[] = {"drafts", "predictions", "annotations__completed_by"};
    for (size_t i = 0; i < sizeof as_ids / sizeof as_ids[0]; i++) {
        cJSON *option = cJSON_AddObjectToObject(serialization, as_ids[i]);
        if (!option || !cJSON_AddTrueToObject(option, "only_id")) goto oom;
    }
    return body;
oom:
    cJSON_Delete(body);
    return NULL;
}

yl_status yl_ls_snapshot_create(yl_ls_client *client, int project_id, const char *title, int all_tasks,
                                int *export_id) {
    if (!client || !export_id) return yl_error(YL_ERR_INVALID_ARG, "Label Studio snapshot: NULL client or output");
    *export_id = 0;
    char default_title[64];
    if (!title) {
        time_t now = time(NULL);
        struct tm tm;
        gmtime_r(&now, &tm);
        strftime(default_title, sizeof default_title, "yoloop %Y-%m-%d %H:%M:%S UTC", &tm);
        title = default_title;
    }
    cJSON *body = snapshot_request_body(title, all_tasks);
    char *text = body ? cJSON_PrintUnformatted(body) : NULL;
    cJSON_Delete(body);
    if (!text) return yl_error(YL_ERR_OOM, "Label Studio snapshot: out of memory");
    char path[64];
    snprintf(path, sizeof path, "/api/projects/%d/exports/", project_id);
    // In Community the export runs inside this request: give it the export time limit.
    yl_ls_request request = {.method = "POST", .path = path, .body = text, .body_size = strlen(text),
                             .content_type = "application/json", .timeout_ms = client->options.export_timeout_ms,
                             .retry = YL_HTTP_RETRY_CONNECT_ONLY};
    cJSON *json = NULL;
    yl_status status = yl_ls_request_json(client, &request, &json);
    free(text);
    if (status != YL_OK) return status;
    long long id = yl_json_int(json, "id", 0);
    cJSON_Delete(json);
    if (id <= 0) return yl_error(YL_ERR_FORMAT, "Label Studio POST %s: the answer has no snapshot id", path);
    *export_id = (int)id;
    return YL_OK;
}

static yl_status get_snapshot(yl_ls_client *client, int project_id, int export_id, cJSON **json) {
    char path[96];
    snprintf(path, sizeof path, "/api/projects/%d/exports/%d", project_id, export_id);
    yl_ls_request request = {.path = path};
    YL_TRY(yl_ls_request_json(client, &request, json));
    if (!cJSON_IsObject(*json)) {
        cJSON_Delete(*json);
        *json = NULL;
        return yl_error(YL_ERR_FORMAT, "Label Studio GET %s: expected a snapshot object", path);
    }
    return YL_OK;
}

yl_status yl_ls_snapshot_state_get(yl_ls_client *client, int project_id, int export_id, yl_ls_snapshot_state *state) {
    if (!client || !state) return yl_error(YL_ERR_INVALID_ARG, "Label Studio snapshot: NULL client or output");
    cJSON *json = NULL;
    YL_TRY(get_snapshot(client, project_id, export_id, &json));
    *state = parse_state(yl_json_string(json, "status"));
    cJSON_Delete(json);
    return YL_OK;
}

yl_status yl_ls_snapshot_wait(yl_ls_client *client, int project_id, int export_id) {
    if (!client) return yl_error(YL_ERR_INVALID_ARG, "Label Studio snapshot: NULL client");
    double deadline = monotonic_seconds() + client->options.snapshot_timeout_s;
    yl_ls_snapshot_state state = YL_LS_SNAPSHOT_UNKNOWN;
    for (;;) {
        YL_TRY(yl_ls_snapshot_state_get(client, project_id, export_id, &state));
        if (state == YL_LS_SNAPSHOT_COMPLETED) return YL_OK;
        if (state == YL_LS_SNAPSHOT_FAILED)
            return yl_error(YL_ERR_IO, "Label Studio: snapshot %d of project %d failed on the server (see its log)",
                            export_id, project_id);
        if (monotonic_seconds() >= deadline) break;
        sleep_seconds(client->options.poll_interval_s);
    }
    return yl_error(YL_ERR_IO, "Label Studio: snapshot %d of project %d still '%s' after %.0f s", export_id, project_id,
                    snapshot_state_name(state), client->options.snapshot_timeout_s);
}

// The state of the converted format `export_type` in a snapshot object; *found = 0 when absent.
static yl_ls_snapshot_state converted_state(const cJSON *snapshot, const char *export_type, int *found,
                                            char *traceback, size_t capacity) {
    *found = 0;
    traceback[0] = '\0';
    const cJSON *formats = cJSON_GetObjectItemCaseSensitive(snapshot, "converted_formats");
    const cJSON *format;
    cJSON_ArrayForEach(format, formats) {
        const char *type = yl_json_string(format, "export_type");
        if (!type || strcmp(type, export_type) != 0) continue;
        *found = 1;
        const char *trace = yl_json_string(format, "traceback");
        if (trace) snprintf(traceback, capacity, "%s", trace);
        return parse_state(yl_json_string(format, "status"));
    }
    return YL_LS_SNAPSHOT_UNKNOWN;
}

yl_status yl_ls_snapshot_convert(yl_ls_client *client, int project_id, int export_id, const char *export_type) {
    if (!client || !export_type) return yl_error(YL_ERR_INVALID_ARG, "Label Studio snapshot: NULL client or type");
    YL_TRY(check_export_type(export_type));
    if (is_json_type(export_type)) return YL_OK;
    char path[128], body[128];
    snprintf(path, sizeof path, "/api/projects/%d/exports/%d/convert", project_id, export_id);
    snprintf(body, sizeof body, "{\"export_type\":\"%s\",\"download_resources\":false}", export_type);
    yl_ls_request request = {.method = "POST", .path = path, .body = body, .body_size = strlen(body),
                             .content_type = "application/json", .retry = YL_HTTP_RETRY_CONNECT_ONLY};
    yl_http_response response;
    YL_TRY(yl_ls_perform(client, &request, &response));
    // 400 means a conversion to this format was already started: wait for it like for ours.
    yl_status status = YL_OK;
    if ((response.status < 200 || response.status >= 300) && response.status != 400)
        status = yl_ls_fail_response(client, &request, &response);
    yl_http_response_free(&response);
    if (status != YL_OK) return status;

    double deadline = monotonic_seconds() + client->options.snapshot_timeout_s;
    for (;;) {
        cJSON *json = NULL;
        YL_TRY(get_snapshot(client, project_id, export_id, &json));
        int found = 0;
        char traceback[300];
        yl_ls_snapshot_state state = converted_state(json, export_type, &found, traceback, sizeof traceback);
        cJSON_Delete(json);
        if (found && state == YL_LS_SNAPSHOT_COMPLETED) return YL_OK;
        if (found && state == YL_LS_SNAPSHOT_FAILED)
            return yl_error(YL_ERR_IO, "Label Studio: converting snapshot %d to %s failed%s%s", export_id, export_type,
                            traceback[0] ? ": " : "", traceback);
        if (monotonic_seconds() >= deadline)
            return yl_error(YL_ERR_IO, "Label Studio: converting snapshot %d to %s did not finish within %.0f s",
                            export_id, export_type, client->options.snapshot_timeout_s);
        sleep_seconds(client->options.poll_interval_s);
    }
}

yl_status yl_ls_snapshot_download(yl_ls_client *client, int project_id, int export_id, const char *export_type,
                                  const char *path) {
    if (!client || !path) return yl_error(YL_ERR_INVALID_ARG, "Label Studio snapshot: NULL client or path");
    YL_TRY(check_export_type(export_type));
    char url_path[160];
    snprintf(url_path, sizeof url_path, "/api/projects/%d/exports/%d/download?exportType=%s", project_id, export_id,
             export_type ? export_type : "JSON");
    yl_ls_request request = {
        .path = url_path,
        .accept = "*/*",
        .output_path = path,
        .timeout_ms = client->options.export_timeout_ms,
        .not_found_hint = " (the snapshot is not completed, or a non-JSON format was not converted)"};
    yl_http_response response;
    YL_TRY(yl_ls_perform(client, &request, &response));
    yl_status status = YL_OK;
    if (response.status < 200 || response.status >= 300) status = yl_ls_fail_response(client, &request, &response);
    yl_http_response_free(&response);
    if (status == YL_OK && is_json_type(export_type)) status = check_json_array_file(path);
    return status;
}

yl_status yl_ls_snapshot_delete(yl_ls_client *client, int project_id, int export_id) {
    char path[96];
    snprintf(path, sizeof path, "/api/projects/%d/exports/%d", project_id, export_id);
    return yl_ls_call_json(client, "DELETE", path, NULL, NULL);
}

static yl_status export_snapshot(yl_ls_client *client, int project_id, const yl_ls_export_options *o,
                                 const char *path) {
    int export_id = 0;
    YL_TRY(yl_ls_snapshot_create(client, project_id, NULL, o->all_tasks, &export_id));
    yl_status status = yl_ls_snapshot_wait(client, project_id, export_id);
    if (status == YL_OK && !is_json_type(o->export_type))
        status = yl_ls_snapshot_convert(client, project_id, export_id, o->export_type);
    if (status == YL_OK) status = yl_ls_snapshot_download(client, project_id, export_id, o->export_type, path);
    if (!o->keep_snapshot) {
        // Best effort: a snapshot left behind costs disk space on the server, not correctness.
        char message[1024];
        snprintf(message, sizeof message, "%s", yl_last_error());
        yl_status deleted = yl_ls_snapshot_delete(client, project_id, export_id);
        if (status != YL_OK || deleted == YL_OK) yl_error(status, "%s", message);
    }
    return status;
}

typedef struct {
    FILE *file;
    long written;
} task_writer;

static yl_status write_task(void *user, const cJSON *task) {
    task_writer *writer = user;
    char *text = cJSON_PrintUnformatted(task);
    if (!text) return yl_error(YL_ERR_OOM, "Label Studio task export: out of memory");
    int ok = fputs(writer->written ? ",\n" : "\n", writer->file) >= 0 && fputs(text, writer->file) >= 0;
    free(text);
    if (!ok) return yl_error(YL_ERR_IO, "Label Studio task export: write error: %s", strerror(errno));
    writer->written++;
    return YL_OK;
}

static yl_status export_task_pages(yl_ls_client *client, int project_id, const yl_ls_export_options *o,
                                   const char *path) {
    if (!is_json_type(o->export_type))
        return yl_error(YL_ERR_UNSUPPORTED, "Label Studio export: task pages give JSON only, not %s", o->export_type);
    size_t n = strlen(path) + sizeof ".part";
    char *part = malloc(n);
    if (!part) return yl_error(YL_ERR_OOM, "Label Studio task export: out of memory");
    snprintf(part, n, "%s.part", path);
    task_writer writer = {.file = fopen(part, "wb")};
    if (!writer.file) {
        yl_status status = yl_error(YL_ERR_IO, "%s: cannot create: %s", part, strerror(errno));
        free(part);
        return status;
    }
    yl_ls_task_query query = {.only_annotated = !o->all_tasks};
    long count = 0;
    yl_status status = fputc('[', writer.file) == EOF ? yl_error(YL_ERR_IO, "%s: write error", part) : YL_OK;
    if (status == YL_OK) status = yl_ls_list_tasks(client, project_id, &query, write_task, &writer, &count);
    if (status == YL_OK && fputs("\n]\n", writer.file) < 0) status = yl_error(YL_ERR_IO, "%s: write error", part);
    if (fclose(writer.file) != 0 && status == YL_OK) status = yl_error(YL_ERR_IO, "%s: write error", part);
    if (status == YL_OK && rename(part, path) != 0)
        status = yl_error(YL_ERR_IO, "cannot rename %s to %s: %s", part, path, strerror(errno));
    if (status != YL_OK) remove(part);
    free(part);
    return status;
}

yl_status yl_ls_export(yl_ls_client *client, int project_id, const yl_ls_export_options *options, const char *path,
                       yl_ls_export_method *used) {
    if (!client || !path) return yl_error(YL_ERR_INVALID_ARG, "Label Studio export: NULL client or path");
    if (project_id <= 0) return yl_error(YL_ERR_INVALID_ARG, "Label Studio export: project id must be positive");
    yl_ls_export_options o = options ? *options : (yl_ls_export_options){0};
    YL_TRY(check_export_type(o.export_type));
    yl_ls_export_method method = o.method;
    if (used) *used = method;
    yl_status status = YL_OK;
    switch (method) {
    case YL_LS_EXPORT_EASY: return export_easy(client, project_id, &o, path);
    case YL_LS_EXPORT_SNAPSHOT: return export_snapshot(client, project_id, &o, path);
    case YL_LS_EXPORT_TASK_PAGES: return export_task_pages(client, project_id, &o, path);
    case YL_LS_EXPORT_AUTO: break;
    default: return yl_error(YL_ERR_INVALID_ARG, "Label Studio export: unknown method %d", (int)method);
    }
    // Enterprise has no easy export (404 there); the SDK asks /api/version/ first, so do we.
    yl_ls_version version;
    status = yl_ls_get_version(client, &version);
    if (status != YL_OK && client->last_status == 401) return status;
    int community = status != YL_OK || !version.edition[0] || !strcmp(version.edition, "Community");
    if (community) {
        if (used) *used = YL_LS_EXPORT_EASY;
        status = export_easy(client, project_id, &o, path);
        long http_status = client->last_status;
        // 404 (no easy export) and 5xx (e.g. "User has no auth_token", issue #7709): try a snapshot.
        if (status == YL_OK || !(http_status == 404 || http_status >= 500)) return status;
        char easy_message[512];
        snprintf(easy_message, sizeof easy_message, "%s", yl_last_error());
        if (used) *used = YL_LS_EXPORT_SNAPSHOT;
        status = export_snapshot(client, project_id, &o, path);
        if (status != YL_OK) {
            char snapshot_message[1024];
            snprintf(snapshot_message, sizeof snapshot_message, "%s", yl_last_error());
            yl_error(status, "easy export failed (%s); the snapshot fallback failed too: %s", easy_message,
                     snapshot_message);
        }
        return status;
    }
    if (used) *used = YL_LS_EXPORT_SNAPSHOT;
    return export_snapshot(client, project_id, &o, path);
}
