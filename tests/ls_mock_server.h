// An in-process mock of the Label Studio API parts the client uses (libmicrohttpd, 127.0.0.1,
// an ephemeral port, one thread per connection so a slow handler does not block the others).
// Header-only on purpose: only tests/test_*.c become executables.
//
// Behaviour follows spec label_studio.md §1.3 (auth and its 401 bodies), §2.1–2.5, §2.10, §3.2.
// Besides the API it serves a few test-only routes: /api/flaky (500 then 200), /api/slow (sleeps),
// /api/big (a large body), /api/echo-auth (a 400 that echoes the Authorization header, to check
// that the client scrubs its token from messages). The same server in "external" mode plays a
// foreign image host and records whether a request carried an Authorization header.
#pragma once
#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define LS_MOCK_MAX_ACCESS 256

typedef struct {
    struct MHD_Daemon *daemon;
    int port;
    char base_url[64];
    pthread_mutex_t lock;
    int external;                 // play a foreign image host instead of Label Studio

    // ---- settings (set before requests; change under `lock` while running) ----
    char legacy_token[128];
    char pat[2048];               // the refresh token /api/token/refresh/ accepts
    int legacy_disabled;          // Token auth answers the "legacy disabled" 401
    int access_lifetime_s;        // exp of issued access tokens, from now
    int access_generation;        // bump to revoke every access token issued so far
    int num_tasks;                // tasks of project 1
    int page_size_cap;            // like TASK_API_PAGE_SIZE_MAX (0: none)
    const char *label_config;
    const char *edition;          // /api/version/ "edition" (NULL: Community)
    const char *export_json;      // body of easy export and of JSON snapshot downloads
    int easy_export_status;       // 0: 200 with export_json; else answer this status
    int snapshot_polls_in_progress;  // snapshot GETs answering in_progress before completed
    int convert_polls_in_progress;
    int flaky_failures;           // /api/flaky answers 500 this many more times
    int slow_remaining;           // /api/slow sleeps on this many more requests
    int slow_ms;
    char redirect_base[64];       // where presign links redirect (the external mock)

    // ---- records ----
    int requests, refreshes, auth_rejections;
    int flaky_calls, slow_calls;
    int external_requests, external_with_authorization;
    int snapshots_created, snapshots_deleted, converts;
    char *snapshot_request;       // body of the last POST /exports/
    char *import_body;            // body of the last import
    int imports;
    char model_version[64];
    int access_count;
    char access_tokens[LS_MOCK_MAX_ACCESS][512];
    int access_generations[LS_MOCK_MAX_ACCESS];
    long access_exp[LS_MOCK_MAX_ACCESS];

    // ---- optional: a test's own routes, tried first (set after ls_mock_start; NULL: none) ----
    // Returns 1 when it answered into `reply` (an ls_mock_reply *); body has body_size bytes
    // (multipart uploads hold NULs). Called under `lock`. See tests/ls_mock_store.h.
    int (*route)(void *mock, struct MHD_Connection *c, const char *url, const char *method, const char *body,
                 size_t body_size, void *reply);
} ls_mock;

// ---- small helpers --------------------------------------------------------------------------------

static inline void ls_mock_base64url(const unsigned char *in, size_t n, char *out) {
    static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t w = 0;
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)in[i] << 16 | (i + 1 < n ? (unsigned)in[i + 1] << 8 : 0) | (i + 2 < n ? in[i + 2] : 0);
        out[w++] = a[(v >> 18) & 63];
        out[w++] = a[(v >> 12) & 63];
        if (i + 1 < n) out[w++] = a[(v >> 6) & 63];
        if (i + 2 < n) out[w++] = a[v & 63];
    }
    out[w] = '\0';
}

static inline long ls_mock_unbase64url(const char *in, unsigned char *out, size_t capacity) {
    unsigned bits = 0;
    int nbits = 0;
    long w = 0;
    for (const char *p = in; *p && *p != '='; p++) {
        const char *a = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        const char *hit = strchr(a, *p);
        if (!hit) return -1;
        bits = bits << 6 | (unsigned)(hit - a);
        nbits += 6;
        if (nbits >= 8) {
            nbits -= 8;
            if ((size_t)w + 1 >= capacity) return -1;
            out[w++] = (unsigned char)(bits >> nbits);
        }
    }
    out[w] = 0;
    return w;
}

// A JWT with the given payload (unsigned; the client never checks signatures).
static inline void ls_mock_make_jwt(const char *payload, char *out, size_t capacity) {
    char header[64], body[400];  // payloads here are short
    const char *h = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
    ls_mock_base64url((const unsigned char *)h, strlen(h), header);
    ls_mock_base64url((const unsigned char *)payload, strlen(payload), body);
    snprintf(out, capacity, "%s.%s.c2lnbmF0dXJlLW5vdC1jaGVja2Vk", header, body);
}

// The bytes served for an image name: a PNG or JPEG signature, the name, a fill pattern.
static inline size_t ls_mock_image_bytes(const char *name, unsigned char *out, size_t capacity) {
    size_t n = 0;
    const char *dot = strrchr(name, '.');
    if (dot && !strcmp(dot, ".png")) {
        memcpy(out, "\x89PNG\r\n\x1a\n", 8);
        n = 8;
    } else {
        memcpy(out, "\xff\xd8\xff\xe0", 4);
        n = 4;
    }
    size_t length = strlen(name);
    memcpy(out + n, name, length);
    n += length;
    size_t total = 200 + length;
    while (n < total && n < capacity) {
        out[n] = (unsigned char)(n * 7 + 3);
        n++;
    }
    return n;
}

typedef struct {
    unsigned status;
    char *body;
    size_t size;
    const char *content_type;
    char location[512];
    int sleep_ms;
} ls_mock_reply;

static inline void ls_mock_replyf(ls_mock_reply *r, unsigned status, const char *content_type, const char *fmt, ...) {
    va_list args;
    va_start(args, fmt);
    int n = vsnprintf(NULL, 0, fmt, args);
    va_end(args);
    free(r->body);
    r->body = malloc((size_t)n + 1);
    va_start(args, fmt);
    vsnprintf(r->body, (size_t)n + 1, fmt, args);
    va_end(args);
    r->size = (size_t)n;
    r->status = status;
    r->content_type = content_type;
}

static inline void ls_mock_reply_bytes(ls_mock_reply *r, unsigned status, const char *content_type, const void *data,
                                size_t size) {
    free(r->body);
    r->body = malloc(size ? size : 1);
    memcpy(r->body, data, size);
    r->size = size;
    r->status = status;
    r->content_type = content_type;
}

// Label Studio's error body shape (custom_exception_handler).
static inline void ls_mock_error(ls_mock_reply *r, unsigned status, const char *detail) {
    ls_mock_replyf(r, status, "application/json",
                   "{\"id\":\"00000000-0000-0000-0000-000000000000\",\"status_code\":%u,\"version\":\"1.23.2\","
                   "\"detail\":\"%s\",\"exc_info\":null}",
                   status, detail);
}

static inline void ls_mock_serve_image(ls_mock_reply *r, const char *name) {
    unsigned char bytes[1024];
    size_t n = ls_mock_image_bytes(name, bytes, sizeof bytes);
    const char *dot = strrchr(name, '.');
    ls_mock_reply_bytes(r, 200, dot && !strcmp(dot, ".png") ? "image/png" : "image/jpeg", bytes, n);
}

static inline const char *ls_mock_arg(struct MHD_Connection *c, const char *key) {
    return MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, key);
}

// ---- auth (spec §1.3) -----------------------------------------------------------------------------

static inline int ls_mock_authorized(ls_mock *m, struct MHD_Connection *c, ls_mock_reply *r) {
    const char *header = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
    const char *reject = "Authentication credentials were not provided.";
    if (header && !strncmp(header, "Token ", 6)) {
        if (!strcmp(header + 6, m->legacy_token) && m->legacy_token[0]) {
            if (!m->legacy_disabled) return 1;
            reject = "Authentication token no longer valid: legacy token authentication has been disabled for this "
                     "organization";
        } else {
            reject = "Invalid token.";
        }
    } else if (header && !strncmp(header, "Bearer ", 7)) {
        // Only access tokens this mock issued, of the current generation and not expired; anything
        // else (a PAT sent directly, a revoked token) is ignored like the middleware does.
        for (int i = 0; i < m->access_count && i < LS_MOCK_MAX_ACCESS; i++)
            if (!strcmp(header + 7, m->access_tokens[i]) && m->access_generations[i] == m->access_generation &&
                m->access_exp[i] > (long)time(NULL))
                return 1;
    }
    m->auth_rejections++;
    ls_mock_error(r, 401, reject);
    return 0;
}

static inline void ls_mock_refresh(ls_mock *m, const char *body, ls_mock_reply *r) {
    cJSON *json = cJSON_Parse(body ? body : "");
    const cJSON *refresh = cJSON_GetObjectItemCaseSensitive(json, "refresh");
    if (!cJSON_IsString(refresh) || strcmp(refresh->valuestring, m->pat) != 0 || !m->pat[0]) {
        ls_mock_replyf(r, 401, "application/json",
                       "{\"detail\":\"Token is invalid or expired\",\"code\":\"token_not_valid\"}");
    } else {
        int i = m->access_count++ % LS_MOCK_MAX_ACCESS;
        long exp = (long)time(NULL) + m->access_lifetime_s;
        char payload[256];
        snprintf(payload, sizeof payload, "{\"token_type\":\"access\",\"exp\":%ld,\"jti\":\"a%d\",\"user_id\":1}", exp,
                 m->access_count);
        ls_mock_make_jwt(payload, m->access_tokens[i], sizeof m->access_tokens[i]);
        m->access_generations[i] = m->access_generation;
        m->access_exp[i] = exp;
        m->refreshes++;
        ls_mock_replyf(r, 200, "application/json", "{\"access\":\"%s\"}", m->access_tokens[i]);
    }
    cJSON_Delete(json);
}

// ---- Label Studio routes ----------------------------------------------------------------------------

static inline void ls_mock_task_json(int id, char *out, size_t capacity) {
    snprintf(out, capacity,
             "{\"id\":%d,\"data\":{\"image\":\"/data/upload/1/img%d.jpg\"},\"project\":1,\"annotations\":[],"
             "\"predictions\":[],\"total_annotations\":0}",
             id, id);
}

static inline void ls_mock_tasks(ls_mock *m, struct MHD_Connection *c, ls_mock_reply *r) {
    const char *project = ls_mock_arg(c, "project"), *page_text = ls_mock_arg(c, "page");
    const char *size_text = ls_mock_arg(c, "page_size"), *fields = ls_mock_arg(c, "fields");
    if (!project || strcmp(project, "1") != 0 || !fields || strcmp(fields, "all") != 0) {
        ls_mock_error(r, 400, "mock: expected project=1 and fields=all");
        return;
    }
    int page = page_text ? atoi(page_text) : 1, size = size_text ? atoi(size_text) : 100;
    if (m->page_size_cap > 0 && size > m->page_size_cap) size = m->page_size_cap;
    int first = (page - 1) * size + 1;
    if (page < 1 || (first > m->num_tasks && page > 1)) {
        ls_mock_error(r, 404, "Invalid page.");
        return;
    }
    size_t capacity = 256 + (size_t)size * 256, used = 0;
    char *body = malloc(capacity);
    used += (size_t)snprintf(body, capacity,
                             "{\"total\":%d,\"total_annotations\":0,\"total_predictions\":0,\"tasks\":[", m->num_tasks);
    for (int id = first; id < first + size && id <= m->num_tasks; id++) {
        char task[256];
        ls_mock_task_json(id, task, sizeof task);
        used += (size_t)snprintf(body + used, capacity - used, "%s%s", id == first ? "" : ",", task);
    }
    snprintf(body + used, capacity - used, "]}");
    ls_mock_replyf(r, 200, "application/json", "%s", body);
    free(body);
}

static inline void ls_mock_snapshot(ls_mock *m, const char *method, const char *rest, struct MHD_Connection *c,
                             const char *body, ls_mock_reply *r) {
    // rest: "" (collection), "7", "7/convert", "7/download"
    if (!rest[0] && !strcmp(method, "POST")) {
        m->snapshots_created++;
        free(m->snapshot_request);
        m->snapshot_request = strdup(body ? body : "");
        ls_mock_replyf(r, 201, "application/json", "{\"id\":7,\"status\":\"created\",\"title\":\"t\",\"counters\":{}}");
        return;
    }
    if (strncmp(rest, "7", 1) != 0 || (rest[1] && rest[1] != '/')) {
        ls_mock_error(r, 404, "Not found.");
        return;
    }
    if (!rest[1] && !strcmp(method, "GET")) {
        const char *state = m->snapshot_polls_in_progress-- > 0 ? "in_progress" : "completed";
        char formats[160] = "[]";
        if (m->converts > 0)
            snprintf(formats, sizeof formats,
                     "[{\"id\":1,\"export_type\":\"YOLO\",\"status\":\"%s\",\"traceback\":null}]",
                     m->convert_polls_in_progress-- > 0 ? "in_progress" : "completed");
        ls_mock_replyf(r, 200, "application/json", "{\"id\":7,\"status\":\"%s\",\"converted_formats\":%s}", state,
                       formats);
    } else if (!rest[1] && !strcmp(method, "DELETE")) {
        m->snapshots_deleted++;
        ls_mock_reply_bytes(r, 204, "application/json", "", 0);
    } else if (!strcmp(rest + 1, "/convert") && !strcmp(method, "POST")) {
        m->converts++;
        ls_mock_replyf(r, 200, "application/json", "{\"export_type\":\"YOLO\",\"converted_format\":1}");
    } else if (!strcmp(rest + 1, "/download") && !strcmp(method, "GET")) {
        const char *type = ls_mock_arg(c, "exportType");
        if (m->snapshot_polls_in_progress >= 0) ls_mock_error(r, 404, "Export is not completed");
        else if (type && !strcmp(type, "YOLO"))
            ls_mock_reply_bytes(r, 200, "application/zip", "PK\x03\x04yolo-zip", 12);
        else ls_mock_replyf(r, 200, "application/json", "%s", m->export_json ? m->export_json : "[]");
    } else {
        ls_mock_error(r, 405, "Method not allowed.");
    }
}

// A stand-in for Label Studio's prediction validation (spec §2.5).
static inline int ls_mock_valid_prediction(const cJSON *prediction, char *why, size_t capacity) {
    double score = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(prediction, "score"));
    if (!(score >= 0 && score <= 1)) {
        snprintf(why, capacity, "score must be within [0, 1]");
        return 0;
    }
    const cJSON *region;
    cJSON_ArrayForEach(region, cJSON_GetObjectItemCaseSensitive(prediction, "result")) {
        const cJSON *value = cJSON_GetObjectItemCaseSensitive(region, "value");
        const cJSON *labels = cJSON_GetObjectItemCaseSensitive(value, "rectanglelabels");
        const char *label = cJSON_GetStringValue(cJSON_GetArrayItem(labels, 0));
        const char *from = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(region, "from_name"));
        if (!from || strcmp(from, "label") != 0 || !label || (strcmp(label, "Airplane") && strcmp(label, "Car"))) {
            snprintf(why, capacity, "unknown control or label");
            return 0;
        }
        static const char *const keys[] = {"x", "y", "width", "height"};
        for (int k = 0; k < 4; k++) {
            double v = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(value, keys[k]));
            if (!(v >= 0 && v <= 100)) {
                snprintf(why, capacity, "%s must be <= 100", keys[k]);
                return 0;
            }
        }
    }
    return 1;
}

static inline void ls_mock_import(ls_mock *m, const char *body, int predictions_only, ls_mock_reply *r) {
    m->imports++;
    free(m->import_body);
    m->import_body = strdup(body ? body : "");
    cJSON *json = cJSON_Parse(body ? body : "");
    if (!cJSON_IsArray(json)) {
        ls_mock_error(r, 400, "mock: expected a JSON array");
        cJSON_Delete(json);
        return;
    }
    int tasks = 0, predictions = 0, annotations = 0;
    const cJSON *task;
    cJSON_ArrayForEach(task, json) {
        const cJSON *list = predictions_only ? NULL : cJSON_GetObjectItemCaseSensitive(task, "predictions");
        const cJSON *prediction;
        char why[128];
        if (predictions_only && !ls_mock_valid_prediction(task, why, sizeof why)) {
            ls_mock_replyf(
                r, 400, "application/json",
                "{\"status_code\":400,\"detail\":\"Validation error\",\"validation_errors\":{\"predictions\":"
                "[\"Prediction validation failed (1 errors): Task %d: %s\"]}}",
                tasks, why);
            cJSON_Delete(json);
            return;
        }
        cJSON_ArrayForEach(prediction, list) {
            if (!ls_mock_valid_prediction(prediction, why, sizeof why)) {
                ls_mock_replyf(r, 400, "application/json",
                               "{\"status_code\":400,\"detail\":\"Validation error\",\"validation_errors\":{"
                               "\"predictions\":[\"Prediction validation failed (1 errors):\\n- Task %d, prediction "
                               "%d: %s\"]}}",
                               tasks, predictions, why);
                cJSON_Delete(json);
                return;
            }
            predictions++;
        }
        annotations += cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(task, "annotations"));
        tasks++;
    }
    cJSON_Delete(json);
    if (predictions_only) {
        ls_mock_replyf(r, 201, "application/json", "{\"created\":%d}", tasks);
        return;
    }
    char ids[4096] = "";
    size_t used = 0;
    for (int i = 0; i < tasks && used + 16 < sizeof ids; i++)
        used += (size_t)snprintf(ids + used, sizeof ids - used, "%s%d", i ? "," : "", 1000 + m->num_tasks + i);
    m->num_tasks += tasks;
    ls_mock_replyf(r, 201, "application/json",
                   "{\"task_count\":%d,\"annotation_count\":%d,\"prediction_count\":%d,\"duration\":0.01,"
                   "\"file_upload_ids\":[],\"could_be_tasks_list\":false,\"found_formats\":{},\"data_columns\":[],"
                   "\"task_ids\":[%s]}",
                   tasks, annotations, predictions, ids);
}

static inline void ls_mock_project(ls_mock *m, const char *method, const char *body, ls_mock_reply *r) {
    if (!strcmp(method, "PATCH")) {
        cJSON *json = cJSON_Parse(body ? body : "");
        const char *version = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(json, "model_version"));
        snprintf(m->model_version, sizeof m->model_version, "%s", version ? version : "");
        cJSON_Delete(json);
    }
    cJSON *project = cJSON_CreateObject();
    cJSON_AddNumberToObject(project, "id", 1);
    cJSON_AddStringToObject(project, "title", "Mock project");
    cJSON_AddStringToObject(project, "label_config", m->label_config ? m->label_config : "");
    cJSON_AddStringToObject(project, "model_version", m->model_version);
    cJSON_AddNumberToObject(project, "task_number", m->num_tasks);
    cJSON_AddNumberToObject(project, "num_tasks_with_annotations", 0);
    char *text = cJSON_PrintUnformatted(project);
    ls_mock_replyf(r, 200, "application/json", "%s", text);
    free(text);
    cJSON_Delete(project);
}

// Test-only routes, answered without authentication.
static inline int ls_mock_test_route(ls_mock *m, struct MHD_Connection *c, const char *url, ls_mock_reply *r) {
    if (!strcmp(url, "/api/flaky")) {
        m->flaky_calls++;
        if (m->flaky_failures > 0) {
            m->flaky_failures--;
            ls_mock_error(r, 500, "A server error occurred.");
        } else {
            ls_mock_replyf(r, 200, "application/json", "{\"ok\":true}");
        }
    } else if (!strcmp(url, "/api/slow")) {
        m->slow_calls++;
        if (m->slow_remaining > 0) {
            m->slow_remaining--;
            r->sleep_ms = m->slow_ms;
        }
        ls_mock_replyf(r, 200, "application/json", "{\"ok\":true}");
    } else if (!strcmp(url, "/api/big")) {
        ls_mock_replyf(r, 200, "application/json", "[%0*d]", 10000, 7);
    } else if (!strcmp(url, "/api/echo-auth")) {
        const char *header = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
        ls_mock_replyf(r, 400, "application/json", "{\"detail\":\"bad request with Authorization: %s\"}",
                       header ? header : "");
    } else {
        return 0;
    }
    return 1;
}

static inline void ls_mock_label_studio(ls_mock *m, struct MHD_Connection *c, const char *url, const char *method,
                                 const char *body, ls_mock_reply *r) {
    if (!strcmp(url, "/health")) {
        ls_mock_replyf(r, 200, "application/json", "{\"status\":\"UP\"}");
        return;
    }
    if (!strcmp(url, "/api/token/refresh/") && !strcmp(method, "POST")) {
        ls_mock_refresh(m, body, r);
        return;
    }
    if (!strcmp(url, "/api/token/refresh")) {  // APPEND_SLASH=False: no redirect, just 404
        ls_mock_error(r, 404, "Not found.");
        return;
    }
    if (ls_mock_test_route(m, c, url, r)) return;
    if (!ls_mock_authorized(m, c, r)) return;
    char rest[512];
    if (!strcmp(url, "/api/version/")) {
        ls_mock_replyf(r, 200, "application/json", "{\"release\":\"1.23.2\",\"edition\":\"%s\"}",
                       m->edition ? m->edition : "Community");
    } else if (!strcmp(url, "/api/projects/1/")) {
        ls_mock_project(m, method, body, r);
    } else if (!strcmp(url, "/api/tasks/")) {
        ls_mock_tasks(m, c, r);
    } else if (!strcmp(url, "/api/projects/1/export")) {
        const char *type = ls_mock_arg(c, "exportType"), *all = ls_mock_arg(c, "download_all_tasks");
        if (m->easy_export_status) ls_mock_error(r, (unsigned)m->easy_export_status, "User has no auth_token");
        else if (!type || strcmp(type, "JSON") != 0 || !all || strcmp(all, "false") != 0)
            ls_mock_error(r, 400, "mock: expected exportType=JSON&download_all_tasks=false");
        else ls_mock_replyf(r, 200, "application/json", "%s", m->export_json ? m->export_json : "[]");
    } else if (sscanf(url, "/api/projects/1/exports/%511s", rest) == 1 || !strcmp(url, "/api/projects/1/exports/")) {
        if (!strcmp(url, "/api/projects/1/exports/")) rest[0] = '\0';
        ls_mock_snapshot(m, method, rest, c, body, r);
    } else if (!strcmp(url, "/api/projects/1/import") && !strcmp(method, "POST")) {
        ls_mock_import(m, body, 0, r);
    } else if (!strcmp(url, "/api/projects/1/import/predictions") && !strcmp(method, "POST")) {
        ls_mock_import(m, body, 1, r);
    } else if (!strcmp(url, "/api/predictions/") && !strcmp(method, "POST")) {
        ls_mock_replyf(r, 201, "application/json", "{\"id\":99,\"task\":1}");
    } else if (!strncmp(url, "/data/upload/1/", 15)) {
        const char *name = url + 15;
        if (!strcmp(name, "login-redirect.jpg")) {
            snprintf(r->location, sizeof r->location, "/user/login/?next=/data/upload/1/login-redirect.jpg");
            ls_mock_reply_bytes(r, 302, "text/html", "", 0);
        } else if (!strcmp(name, "page.jpg")) {
            ls_mock_replyf(r, 200, "text/html", "<html><head><title>Label Studio</title></head></html>");
        } else if (!strncmp(name, "missing", 7) || !strncmp(name, "only-storage", 12)) {
            ls_mock_error(r, 404, "Not found.");
        } else {
            ls_mock_serve_image(r, name);
        }
    } else if (!strcmp(url, "/storage-data/uploaded/")) {
        const char *path = ls_mock_arg(c, "filepath");
        if (path && !strncmp(path, "upload/1/only-storage", 21)) ls_mock_serve_image(r, path + 9);
        else ls_mock_error(r, 404, "Not found.");
    } else if (!strcmp(url, "/data/local-files/")) {
        const char *d = ls_mock_arg(c, "d");
        if (!d || !strncmp(d, "missing", 7)) ls_mock_error(r, 404, "Not found.");
        else ls_mock_serve_image(r, d);
    } else if (!strncmp(url, "/tasks/", 7) && strstr(url, "/presign/")) {
        const char *fileuri = ls_mock_arg(c, "fileuri");
        unsigned char uri[512];
        const char *key = NULL;
        if (fileuri && ls_mock_unbase64url(fileuri, uri, sizeof uri) > 0 && !strncmp((char *)uri, "s3://", 5))
            key = strchr((char *)uri + 5, '/');
        if (!key) {
            ls_mock_error(r, 400, "mock: bad fileuri");
        } else {
            snprintf(r->location, sizeof r->location, "%s/bucket%s?X-Amz-Signature=secret", m->redirect_base, key);
            ls_mock_reply_bytes(r, 303, "text/plain", "", 0);
        }
    } else {
        ls_mock_error(r, 404, "Not found.");
    }
}

// ---- plumbing -----------------------------------------------------------------------------------------

typedef struct {
    char *data;
    size_t size;
} ls_mock_body;

static inline enum MHD_Result ls_mock_handler(void *cls, struct MHD_Connection *connection, const char *url,
                                       const char *method, const char *version, const char *upload_data,
                                       size_t *upload_data_size, void **con_cls) {
    (void)version;
    ls_mock *m = cls;
    ls_mock_body *body = *con_cls;
    if (!body) {
        *con_cls = calloc(1, sizeof(ls_mock_body));
        return *con_cls ? MHD_YES : MHD_NO;
    }
    if (*upload_data_size) {
        char *grown = realloc(body->data, body->size + *upload_data_size + 1);
        if (!grown) return MHD_NO;
        body->data = grown;
        memcpy(body->data + body->size, upload_data, *upload_data_size);
        body->size += *upload_data_size;
        body->data[body->size] = '\0';
        *upload_data_size = 0;
        return MHD_YES;
    }
    ls_mock_reply reply = {0};
    pthread_mutex_lock(&m->lock);
    m->requests++;
    if (m->external) {
        m->external_requests++;
        if (MHD_lookup_connection_value(connection, MHD_HEADER_KIND, "Authorization")) m->external_with_authorization++;
        const char *slash = strrchr(url, '/');
        ls_mock_serve_image(&reply, slash ? slash + 1 : url);
    } else {
        if (!m->route || !m->route(m, connection, url, method, body->data, body->size, &reply))
            ls_mock_label_studio(m, connection, url, method, body->data, &reply);
    }
    pthread_mutex_unlock(&m->lock);
    if (reply.sleep_ms > 0) {
        struct timespec ts = {reply.sleep_ms / 1000, (reply.sleep_ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
    }
    struct MHD_Response *response =
        reply.size ? MHD_create_response_from_buffer(reply.size, reply.body, MHD_RESPMEM_MUST_FREE)
                   : MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    if (!reply.size) free(reply.body);
    if (!response) return MHD_NO;
    if (reply.content_type) MHD_add_response_header(response, "Content-Type", reply.content_type);
    if (reply.location[0]) MHD_add_response_header(response, "Location", reply.location);
    enum MHD_Result result = MHD_queue_response(connection, reply.status ? reply.status : 500, response);
    MHD_destroy_response(response);
    return result;
}

static inline void ls_mock_completed(void *cls, struct MHD_Connection *connection, void **con_cls,
                              enum MHD_RequestTerminationCode code) {
    (void)cls;
    (void)connection;
    (void)code;
    ls_mock_body *body = *con_cls;
    if (body) {
        free(body->data);
        free(body);
    }
    *con_cls = NULL;
}

// Starts the mock on 127.0.0.1 and an ephemeral port. Returns 0 on success.
static inline int ls_mock_start(ls_mock *m, int external) {
    memset(m, 0, sizeof *m);
    pthread_mutex_init(&m->lock, NULL);
    m->external = external;
    m->access_lifetime_s = 300;
    struct sockaddr_in address = {0};
    address.sin_family = AF_INET;
    address.sin_port = 0;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    m->daemon = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION, 0, NULL, NULL,
                                 ls_mock_handler, m, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&address,
                                 MHD_OPTION_NOTIFY_COMPLETED, ls_mock_completed, m, MHD_OPTION_CONNECTION_TIMEOUT,
                                 (unsigned)10, MHD_OPTION_END);
    if (!m->daemon) return -1;
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(m->daemon, MHD_DAEMON_INFO_BIND_PORT);
    m->port = info ? info->port : 0;
    if (m->port <= 0) return -1;
    snprintf(m->base_url, sizeof m->base_url, "http://127.0.0.1:%d", m->port);
    return 0;
}

static inline void ls_mock_stop(ls_mock *m) {
    if (m->daemon) MHD_stop_daemon(m->daemon);
    m->daemon = NULL;
    free(m->snapshot_request);
    free(m->import_body);
    m->snapshot_request = m->import_body = NULL;
    pthread_mutex_destroy(&m->lock);
}

// A 127.0.0.1 port nothing listens on (bound, then closed): connecting to it is refused.
static inline int ls_mock_closed_port(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return -1;
    struct sockaddr_in address = {0};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    int port = -1;
    if (bind(fd, (struct sockaddr *)&address, sizeof address) == 0 &&
        getsockname(fd, (struct sockaddr *)&address, &length) == 0)
        port = ntohs(address.sin_port);
    close(fd);
    return port;
}
