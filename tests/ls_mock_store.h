// A stateful project 1 for the mock Label Studio (tests/ls_mock_server.h), plugged in through its
// `route` hook: tasks live in a JSON array, multipart uploads create tasks and store the file in a
// media folder (served back under /data/upload/1/), PATCH /api/tasks/{id}/ updates `meta`, and
// imported predictions attach to their tasks. Everything else falls through to the plain mock.
// One store per process (the hook has no user pointer).
#pragma once
#include <sys/stat.h>

#include "ls_mock_server.h"

typedef struct {
    cJSON *tasks;            // the project's tasks, Label Studio's shape
    char media_dir[512];     // uploaded files: <media_dir>/<8hex>-<name>
    int next_id;
    int uploads, meta_patches, prediction_imports, task_lists;
    int fail_uploads;        // answer this many more uploads with a 500
} ls_store;

static ls_store *ls_store_current;

// A task with data.image = url and no annotations; returns its id.
static inline int ls_store_add_task(ls_store *s, const char *url, int annotated) {
    cJSON *t = cJSON_CreateObject();
    int id = s->next_id++;
    cJSON_AddNumberToObject(t, "id", id);
    cJSON *data = cJSON_AddObjectToObject(t, "data");
    cJSON_AddStringToObject(data, "image", url);
    cJSON_AddObjectToObject(t, "meta");
    cJSON_AddNumberToObject(t, "project", 1);
    cJSON *ann = cJSON_AddArrayToObject(t, "annotations");
    if (annotated) {
        cJSON *a = cJSON_CreateObject();
        cJSON_AddNumberToObject(a, "id", 500 + id);
        cJSON_AddArrayToObject(a, "result");
        cJSON_AddItemToArray(ann, a);
    }
    cJSON_AddNumberToObject(t, "total_annotations", annotated ? 1 : 0);
    cJSON_AddArrayToObject(t, "predictions");
    cJSON_AddItemToArray(s->tasks, t);
    return id;
}

static inline cJSON *ls_store_task(ls_store *s, long id) {
    cJSON *t;
    cJSON_ArrayForEach(t, s->tasks) {
        if ((long)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(t, "id")) == id) return t;
    }
    return NULL;
}

static inline const char *ls_store_find(const char *hay, size_t n, const char *needle) {
    size_t k = strlen(needle);
    for (size_t i = 0; i + k <= n; i++)
        if (!memcmp(hay + i, needle, k)) return hay + i;
    return NULL;
}

// Every file part of a multipart body becomes a task.
static inline void ls_store_upload(ls_store *s, struct MHD_Connection *c, const char *body, size_t size,
                                   ls_mock_reply *r) {
    const char *type = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");
    const char *b = type ? strstr(type, "boundary=") : NULL;
    if (!b || !body) {
        ls_mock_error(r, 400, "mock: multipart without a boundary");
        return;
    }
    char delim[128];
    snprintf(delim, sizeof delim, "--%s", b + 9);
    char ids[1024] = "";
    size_t used = 0;
    int created = 0;
    const char *end = body + size, *part = ls_store_find(body, size, delim);
    while (part) {
        part += strlen(delim);
        if (end - part >= 2 && !memcmp(part, "--", 2)) break;
        const char *headers_end = ls_store_find(part, (size_t)(end - part), "\r\n\r\n");
        if (!headers_end) break;
        const char *data = headers_end + 4;
        const char *next = ls_store_find(data, (size_t)(end - data), delim);
        if (!next) break;
        const char *fn = ls_store_find(part, (size_t)(headers_end - part), "filename=\"");
        if (fn) {
            fn += 10;
            const char *q = memchr(fn, '"', (size_t)(headers_end - fn));
            char name[256];
            snprintf(name, sizeof name, "%08x-%.*s", 0x2bd44c48u + (unsigned)s->next_id, q ? (int)(q - fn) : 0, fn);
            char path[900];
            snprintf(path, sizeof path, "%s/%s", s->media_dir, name);
            FILE *f = fopen(path, "wb");
            size_t n = (size_t)(next - 2 - data);  // the CRLF before the delimiter
            if (f) {
                fwrite(data, 1, n, f);
                fclose(f);
            }
            char url[400];
            snprintf(url, sizeof url, "/data/upload/1/%s", name);
            int id = ls_store_add_task(s, url, 0);
            cJSON_AddStringToObject(ls_store_task(s, id), "file_upload", name);
            used += (size_t)snprintf(ids + used, sizeof ids - used, "%s%d", created ? "," : "", id);
            created++;
        }
        part = next;
    }
    s->uploads++;
    ls_mock_replyf(r, 201, "application/json",
                   "{\"task_count\":%d,\"annotation_count\":0,\"prediction_count\":0,\"duration\":0.01,"
                   "\"file_upload_ids\":[1],\"could_be_tasks_list\":false,\"found_formats\":{},\"data_columns\":[],"
                   "\"task_ids\":[%s]}",
                   created, ids);
}

static inline void ls_store_list(ls_store *s, struct MHD_Connection *c, ls_mock_reply *r) {
    const char *page_text = ls_mock_arg(c, "page"), *size_text = ls_mock_arg(c, "page_size");
    int page = page_text ? atoi(page_text) : 1, size = size_text ? atoi(size_text) : 100;
    int total = cJSON_GetArraySize(s->tasks), first = (page - 1) * size;
    s->task_lists++;
    if (page < 1 || size < 1 || (first >= total && page > 1)) {
        ls_mock_error(r, 404, "Invalid page.");
        return;
    }
    cJSON *out = cJSON_CreateObject();
    cJSON_AddNumberToObject(out, "total", total);
    cJSON *list = cJSON_AddArrayToObject(out, "tasks");
    for (int i = first; i < first + size && i < total; i++)
        cJSON_AddItemToArray(list, cJSON_Duplicate(cJSON_GetArrayItem(s->tasks, i), 1));
    char *text = cJSON_PrintUnformatted(out);
    ls_mock_replyf(r, 200, "application/json", "%s", text);
    free(text);
    cJSON_Delete(out);
}

static inline void ls_store_predictions(ls_store *s, const char *body, ls_mock_reply *r) {
    cJSON *json = cJSON_Parse(body ? body : "");
    const cJSON *p;
    char why[128];
    int n = 0;
    cJSON_ArrayForEach(p, json) {
        cJSON *task = ls_store_task(s, (long)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(p, "task")));
        if (!task || !ls_mock_valid_prediction(p, why, sizeof why)) {
            ls_mock_replyf(r, 400, "application/json", "{\"detail\":\"mock: prediction %d: %s\"}", n,
                           task ? why : "unknown task");
            cJSON_Delete(json);
            return;
        }
        n++;
    }
    cJSON_ArrayForEach(p, json) {
        cJSON *task = ls_store_task(s, (long)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(p, "task")));
        cJSON_AddItemToArray(cJSON_GetObjectItemCaseSensitive(task, "predictions"), cJSON_Duplicate(p, 1));
    }
    s->prediction_imports++;
    cJSON_Delete(json);
    ls_mock_replyf(r, 201, "application/json", "{\"created\":%d}", n);
}

static inline int ls_store_route(void *mock, struct MHD_Connection *c, const char *url, const char *method,
                                 const char *body, size_t body_size, void *reply) {
    ls_mock *m = mock;
    ls_mock_reply *r = reply;
    ls_store *s = ls_store_current;
    if (!s) return 0;
    long id = 0;
    char tail[8] = "";
    const char *type = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");
    int multipart = type && !strncmp(type, "multipart/form-data", 19);
    int ours = !strcmp(url, "/api/tasks/") || (!strcmp(url, "/api/projects/1/import") && multipart) ||
               !strcmp(url, "/api/projects/1/import/predictions") ||
               (sscanf(url, "/api/tasks/%ld%7s", &id, tail) == 2 && !strcmp(tail, "/") && !strcmp(method, "PATCH"));
    if (!strncmp(url, "/data/upload/1/", 15) && !strchr(url + 15, '/')) {
        char path[900];
        snprintf(path, sizeof path, "%s/%s", s->media_dir, url + 15);
        struct stat st;
        if (stat(path, &st) != 0) return 0;
        if (!ls_mock_authorized(m, c, r)) return 1;
        FILE *f = fopen(path, "rb");
        char *bytes = malloc((size_t)st.st_size + 1);
        size_t n = f && bytes ? fread(bytes, 1, (size_t)st.st_size, f) : 0;
        if (f) fclose(f);
        ls_mock_reply_bytes(r, 200, strstr(url, ".png") ? "image/png" : "image/jpeg", bytes, n);
        free(bytes);
        return 1;
    }
    if (!ours) return 0;
    if (!ls_mock_authorized(m, c, r)) return 1;
    if (!strcmp(url, "/api/tasks/")) {
        ls_store_list(s, c, r);
    } else if (!strcmp(url, "/api/projects/1/import/predictions")) {
        ls_store_predictions(s, body, r);
    } else if (multipart) {
        if (s->fail_uploads > 0) {
            s->fail_uploads--;
            ls_mock_error(r, 500, "A server error occurred.");
        } else {
            ls_store_upload(s, c, body, body_size, r);
        }
    } else {
        cJSON *task = ls_store_task(s, id);
        cJSON *json = cJSON_Parse(body ? body : "");
        cJSON *meta = cJSON_GetObjectItemCaseSensitive(json, "meta");
        if (!task) {
            ls_mock_error(r, 404, "Not found.");
        } else {
            if (cJSON_IsObject(meta)) cJSON_ReplaceItemInObject(task, "meta", cJSON_Duplicate(meta, 1));
            s->meta_patches++;
            char *text = cJSON_PrintUnformatted(task);
            ls_mock_replyf(r, 200, "application/json", "%s", text);
            free(text);
        }
        cJSON_Delete(json);
    }
    return 1;
}

// Starts the store on a running mock; media_dir must exist.
static inline void ls_store_attach(ls_store *s, ls_mock *m, const char *media_dir) {
    memset(s, 0, sizeof *s);
    s->tasks = cJSON_CreateArray();
    s->next_id = 1;
    snprintf(s->media_dir, sizeof s->media_dir, "%s", media_dir);
    pthread_mutex_lock(&m->lock);
    ls_store_current = s;
    m->route = ls_store_route;
    pthread_mutex_unlock(&m->lock);
}

static inline void ls_store_detach(ls_store *s, ls_mock *m) {
    pthread_mutex_lock(&m->lock);
    m->route = NULL;
    ls_store_current = NULL;
    pthread_mutex_unlock(&m->lock);
    cJSON_Delete(s->tasks);
    s->tasks = NULL;
}
