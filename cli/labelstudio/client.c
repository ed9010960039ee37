#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli/labelstudio/client_internal.h"
#include "cli/labelstudio/json_util.h"
#include "cli/labelstudio/url.h"

static char *copy_string(const char *s) {
    if (!s) return NULL;
    char *copy = malloc(strlen(s) + 1);
    if (copy) strcpy(copy, s);
    return copy;
}

yl_status yl_ls_fail(yl_ls_client *client, yl_status status, const char *fmt, ...) {
    char text[2048];
    va_list args;
    va_start(args, fmt);
    vsnprintf(text, sizeof text, fmt, args);
    va_end(args);
    if (client) yl_ls_auth_scrub(client->auth, text);
    return yl_error(status, "%s", text);
}

yl_status yl_ls_scrub_error(yl_ls_client *client, yl_status status) {
    char text[2048];
    snprintf(text, sizeof text, "%s", yl_last_error());
    if (client) yl_ls_auth_scrub(client->auth, text);
    return yl_error(status, "%s", text);
}

yl_status yl_ls_client_open(yl_ls_client **out, const yl_ls_client_options *options) {
    if (!out || !options) return yl_error(YL_ERR_INVALID_ARG, "Label Studio client: NULL output or options");
    *out = NULL;
    if (!options->url || !yl_url_is_http(options->url))
        return yl_error(YL_ERR_INVALID_ARG,
                        "Label Studio client: the URL must start with http:// or https:// (got '%s')",
                        options->url ? options->url : "");
    char shown[512];
    yl_url_redact(options->url, shown, sizeof shown);
    if (strchr(options->url, '?') || strchr(options->url, '#'))
        return yl_error(YL_ERR_INVALID_ARG, "Label Studio client: the base URL '%s' must not have a query or fragment",
                        shown);
    yl_ls_client *client = calloc(1, sizeof *client);
    if (!client) return yl_error(YL_ERR_OOM, "Label Studio client: out of memory");
    client->options = *options;
    yl_ls_client_options *o = &client->options;
    o->url = NULL;
    o->token.file = o->token.env_var = NULL;
    o->local_files_root = o->media_root = NULL;
    if (o->export_timeout_ms == 0) o->export_timeout_ms = 30L * 60 * 1000;
    if (o->poll_interval_s <= 0) o->poll_interval_s = 1.0;
    if (o->snapshot_timeout_s <= 0) o->snapshot_timeout_s = 600.0;
    if (o->page_size <= 0) o->page_size = 100;
    if (o->import_batch_size <= 0) o->import_batch_size = 500;
    client->base_url = copy_string(options->url);
    client->local_files_root = copy_string(options->local_files_root);
    client->media_root = copy_string(options->media_root);
    yl_status status = YL_OK;
    if (!client->base_url || (options->local_files_root && !client->local_files_root) ||
        (options->media_root && !client->media_root))
        status = yl_error(YL_ERR_OOM, "Label Studio client: out of memory");
    if (status == YL_OK) {
        size_t n = strlen(client->base_url);
        while (n > 0 && client->base_url[n - 1] == '/') client->base_url[--n] = '\0';
        status = yl_ls_auth_load(&client->auth, &options->token);
    }
    if (status == YL_OK) status = yl_http_create(&client->http, &options->http);
    if (status != YL_OK) {
        yl_ls_client_close(client);
        return status;
    }
    client->options.http = *yl_http_get_options(client->http);
    *out = client;
    return YL_OK;
}

void yl_ls_client_close(yl_ls_client *client) {
    if (!client) return;
    yl_http_destroy(client->http);
    yl_ls_auth_free(client->auth);
    free(client->base_url);
    free(client->local_files_root);
    free(client->media_root);
    free(client);
}

const char *yl_ls_client_url(const yl_ls_client *client) { return client->base_url; }
yl_ls_token_kind yl_ls_client_token_kind(const yl_ls_client *client) { return yl_ls_auth_kind(client->auth); }
int yl_ls_client_token_refreshes(const yl_ls_client *client) { return yl_ls_auth_refresh_count(client->auth); }
long yl_ls_client_last_http_status(const yl_ls_client *client) { return client->last_status; }

char *yl_ls_url(const yl_ls_client *client, const char *path) {
    if (yl_url_is_http(path)) return copy_string(path);
    size_t n = strlen(client->base_url) + strlen(path) + 2;
    char *url = malloc(n);
    if (url) snprintf(url, n, "%s%s%s", client->base_url, path[0] == '/' ? "" : "/", path);
    return url;
}

yl_status yl_ls_perform(yl_ls_client *client, const yl_ls_request *request, yl_http_response *response) {
    memset(response, 0, sizeof *response);
    char *url = yl_ls_url(client, request->path);
    if (!url) return yl_error(YL_ERR_OOM, "Label Studio: out of memory");
    yl_http_request http_request = {
        .method = request->method,
        .url = url,
        .accept = request->accept ? request->accept : "application/json",
        .content_type = request->content_type,
        .body = request->body,
        .body_size = request->body_size,
        .output_path = request->output_path,
        .timeout_ms = request->timeout_ms,
        .retry = request->retry,
    };
    yl_status status = YL_OK;
    for (int attempt = 0; attempt < 2; attempt++) {
        if (!request->no_auth) {
            status = yl_ls_auth_header(client->auth, client->http, client->base_url, &http_request.authorization);
            if (status != YL_OK) {
                long refused = yl_ls_auth_refresh_status(client->auth);  // a refused PAT: 401
                client->last_status = refused >= 400 ? refused : 0;
                break;
            }
        }
        status = yl_http_perform(client->http, &http_request, response);
        client->last_status = status == YL_OK ? response->status : 0;
        if (status != YL_OK) {
            status = yl_ls_fail(client, status, "Label Studio: %s", yl_last_error());
            break;
        }
        if (response->status != 401 || request->no_auth || attempt == 1) break;
        // A 401 with a PAT usually means the access token expired early: refresh once and retry.
        if (!yl_ls_auth_invalidate(client->auth)) break;
        yl_http_response_free(response);
    }
    free(url);
    if (status != YL_OK) return yl_ls_scrub_error(client, status);
    return YL_OK;
}

static void printable_excerpt(const char *text, size_t length, char *out, size_t capacity) {
    size_t w = 0;
    int space = 0;
    for (size_t i = 0; i < length && w + 4 < capacity; i++) {
        unsigned char c = (unsigned char)text[i];
        if (isspace(c)) {
            space = w > 0;
            continue;
        }
        if (space) out[w++] = ' ';
        space = 0;
        out[w++] = c < 0x20 || c == 0x7f ? '?' : (char)c;
    }
    if (w + 4 >= capacity && capacity > 4) {
        memcpy(out + capacity - 4, "...", 3);
        w = capacity - 1;
    }
    out[w] = '\0';
}

void yl_ls_response_detail(const yl_http_response *response, char *out, size_t capacity) {
    out[0] = '\0';
    if (!response->body || response->body_size == 0) return;
    cJSON *json = cJSON_ParseWithLength(response->body, response->body_size);
    if (json) {
        const char *detail = yl_json_string(json, "detail");
        const cJSON *validation = cJSON_GetObjectItemCaseSensitive(json, "validation_errors");
        char *validation_text = validation ? cJSON_PrintUnformatted(validation) : NULL;
        if (!detail && !validation_text && (cJSON_IsObject(json) || cJSON_IsArray(json)))
            validation_text = cJSON_PrintUnformatted(json);  // DRF field errors: {"title": ["..."]}
        char joined[1024];
        snprintf(joined, sizeof joined, "%s%s%s", detail ? detail : "", detail && validation_text ? " " : "",
                 validation_text ? validation_text : "");
        free(validation_text);
        cJSON_Delete(json);
        printable_excerpt(joined, strlen(joined), out, capacity);
        return;
    }
    const char *title = strstr(response->body, "<title>");
    if (title) {
        const char *end = strstr(title, "</title>");
        size_t n = end ? (size_t)(end - title - 7) : 0;
        char excerpt[256];
        printable_excerpt(title + 7, n, excerpt, sizeof excerpt);
        snprintf(out, capacity, "an HTML page titled '%s'", excerpt);
        return;
    }
    printable_excerpt(response->body, response->body_size < 300 ? response->body_size : 300, out, capacity);
}

yl_status yl_ls_fail_response(yl_ls_client *client, const yl_ls_request *request, const yl_http_response *response) {
    char detail[600], shown[512];
    // Scrub the whole body before cutting an excerpt from it: a cut could split an echoed token
    // so that the scrubber no longer recognises it.
    yl_http_response scrubbed = *response;
    scrubbed.body = NULL;
    if (response->body) {
        scrubbed.body = malloc(response->body_size + 1);
        if (scrubbed.body) {
            memcpy(scrubbed.body, response->body, response->body_size);
            scrubbed.body[response->body_size] = '\0';
            yl_ls_auth_scrub(client->auth, scrubbed.body);
            scrubbed.body_size = strlen(scrubbed.body);
        }
    }
    yl_ls_response_detail(&scrubbed, detail, sizeof detail);
    free(scrubbed.body);
    yl_url_redact(request->path, shown, sizeof shown);
    const char *method = request->method ? request->method : "GET";
    if (response->status == 401 && !request->no_auth) {
        char explanation[1500];
        yl_ls_auth_explain_401(client->auth, detail, explanation, sizeof explanation);
        return yl_ls_fail(client, YL_ERR_IO, "%s (%s %s)", explanation, method, shown);
    }
    const char *hint = "";
    if (response->status == 403)
        hint = request->forbidden_hint ? request->forbidden_hint : " (the token's user lacks permission for this)";
    else if (response->status == 404 && request->not_found_hint)
        hint = request->not_found_hint;
    char attempts[64] = "";
    if (response->status >= 500 && response->attempts > 1)
        snprintf(attempts, sizeof attempts, " after %d attempts", response->attempts);
    return yl_ls_fail(client, YL_ERR_IO, "Label Studio %s %s: HTTP %ld%s%s%s%s", method, shown, response->status,
                      attempts, detail[0] ? ": " : "", detail, hint);
}

yl_status yl_ls_request_json(yl_ls_client *client, const yl_ls_request *request, cJSON **out) {
    if (out) *out = NULL;
    yl_http_response response;
    YL_TRY(yl_ls_perform(client, request, &response));
    yl_status status = YL_OK;
    if (response.status < 200 || response.status >= 300) {
        status = yl_ls_fail_response(client, request, &response);
    } else if (out && response.body && response.body_size > 0) {
        char what[600], shown[512];
        yl_url_redact(request->path, shown, sizeof shown);
        snprintf(what, sizeof what, "Label Studio %s %s: response", request->method ? request->method : "GET", shown);
        status = yl_json_parse(response.body, response.body_size, what, out);
    }
    yl_http_response_free(&response);
    return status;
}

yl_status yl_ls_call_json(yl_ls_client *client, const char *method, const char *path, const cJSON *body, cJSON **out) {
    if (!client || !path || path[0] != '/')
        return yl_error(YL_ERR_INVALID_ARG, "Label Studio: NULL client or a path not starting with '/'");
    char *text = body ? cJSON_PrintUnformatted(body) : NULL;
    if (body && !text) return yl_error(YL_ERR_OOM, "Label Studio: out of memory");
    int safe = !method || !strcmp(method, "GET") || !strcmp(method, "HEAD") || !strcmp(method, "PUT") ||
               !strcmp(method, "DELETE");
    yl_ls_request request = {.method = method, .path = path, .body = text, .body_size = text ? strlen(text) : 0,
                             .content_type = text ? "application/json" : NULL,
                             .retry = safe ? YL_HTTP_RETRY_SAFE : YL_HTTP_RETRY_CONNECT_ONLY};
    yl_status status = yl_ls_request_json(client, &request, out);
    free(text);
    return status;
}

yl_status yl_ls_health(yl_ls_client *client) {
    if (!client) return yl_error(YL_ERR_INVALID_ARG, "Label Studio: NULL client");
    yl_ls_request request = {.path = "/health", .no_auth = 1};
    return yl_ls_request_json(client, &request, NULL);
}

yl_status yl_ls_get_version(yl_ls_client *client, yl_ls_version *out) {
    if (!client || !out) return yl_error(YL_ERR_INVALID_ARG, "Label Studio: NULL client or output");
    memset(out, 0, sizeof *out);
    cJSON *json = NULL;
    yl_ls_request request = {.path = "/api/version/"};
    YL_TRY(yl_ls_request_json(client, &request, &json));
    const char *release = yl_json_string(json, "release");
    const char *edition = yl_json_string(json, "edition");
    if (!release) {  // older servers nest it: {"label-studio-os-package": {"version": ...}}
        const cJSON *package = cJSON_GetObjectItemCaseSensitive(json, "label-studio-os-package");
        release = yl_json_string(package, "version");
    }
    snprintf(out->release, sizeof out->release, "%s", release ? release : "");
    snprintf(out->edition, sizeof out->edition, "%s", edition ? edition : "");
    cJSON_Delete(json);
    return YL_OK;
}

static yl_status take_string(const cJSON *object, const char *key, char **out) {
    const char *value = yl_json_string(object, key);
    *out = copy_string(value ? value : "");
    return *out ? YL_OK : yl_error(YL_ERR_OOM, "Label Studio: out of memory");
}

yl_status yl_ls_get_project(yl_ls_client *client, int project_id, yl_ls_project *out) {
    if (!client || !out) return yl_error(YL_ERR_INVALID_ARG, "Label Studio: NULL client or output");
    memset(out, 0, sizeof *out);
    if (project_id <= 0)
        return yl_error(YL_ERR_INVALID_ARG, "Label Studio: project id must be positive (got %d)", project_id);
    char path[64], hint[160];
    snprintf(path, sizeof path, "/api/projects/%d/", project_id);
    snprintf(hint, sizeof hint, " (project %d does not exist or this token's user cannot see it)", project_id);
    yl_ls_request request = {.path = path, .not_found_hint = hint};
    cJSON *json = NULL;
    YL_TRY(yl_ls_request_json(client, &request, &json));
    if (!cJSON_IsObject(json)) {
        cJSON_Delete(json);
        return yl_error(YL_ERR_FORMAT, "Label Studio GET %s: expected a project object", path);
    }
    out->json = json;
    out->id = (int)yl_json_int(json, "id", project_id);
    yl_status status = take_string(json, "title", &out->title);
    if (status == YL_OK) status = take_string(json, "label_config", &out->label_config);
    if (status == YL_OK) status = take_string(json, "model_version", &out->model_version);
    out->task_number = yl_json_int(json, "task_number", -1);
    out->num_tasks_with_annotations = yl_json_int(json, "num_tasks_with_annotations", -1);
    out->total_annotations_number = yl_json_int(json, "total_annotations_number", -1);
    out->total_predictions_number = yl_json_int(json, "total_predictions_number", -1);
    if (status == YL_OK && !out->label_config[0])
        status = yl_error(YL_ERR_FORMAT, "Label Studio project %d has no label_config", project_id);
    if (status != YL_OK) yl_ls_project_free(out);
    return status;
}

void yl_ls_project_free(yl_ls_project *project) {
    if (!project) return;
    free(project->title);
    free(project->label_config);
    free(project->model_version);
    cJSON_Delete(project->json);
    memset(project, 0, sizeof *project);
}

yl_status yl_ls_get_label_config(yl_ls_client *client, int project_id, const char *control_name,
                                 yl_ls_label_config *out) {
    if (!out) return yl_error(YL_ERR_INVALID_ARG, "Label Studio: NULL output");
    memset(out, 0, sizeof *out);
    yl_ls_project project;
    YL_TRY(yl_ls_get_project(client, project_id, &project));
    yl_status status = yl_ls_label_config_parse(project.label_config, control_name, out);
    if (status != YL_OK) yl_error_context(status, "Label Studio project %d", project_id);
    yl_ls_project_free(&project);
    return status;
}

yl_status yl_ls_set_project_model_version(yl_ls_client *client, int project_id, const char *model_version) {
    if (!client || !model_version) return yl_error(YL_ERR_INVALID_ARG, "Label Studio: NULL client or model version");
    char path[64];
    snprintf(path, sizeof path, "/api/projects/%d/", project_id);
    cJSON *body = cJSON_CreateObject();
    if (!body || !cJSON_AddStringToObject(body, "model_version", model_version)) {
        cJSON_Delete(body);
        return yl_error(YL_ERR_OOM, "Label Studio: out of memory");
    }
    yl_status status = yl_ls_call_json(client, "PATCH", path, body, NULL);
    cJSON_Delete(body);
    return status;
}
