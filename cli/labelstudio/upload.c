#include "cli/labelstudio/upload.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli/labelstudio/client_internal.h"
#include "cli/labelstudio/json_util.h"
#include "engine/data/file_util.h"

#define UPLOAD_MAX_BYTES ((size_t)250 << 20)  // DATA_UPLOAD_MAX_MEMORY_SIZE

static const char *content_type_of(const char *name) {
    const char *dot = strrchr(name, '.');
    if (!dot) return "application/octet-stream";
    if (!strcasecmp(dot, ".png")) return "image/png";
    if (!strcasecmp(dot, ".jpg") || !strcasecmp(dot, ".jpeg")) return "image/jpeg";
    if (!strcasecmp(dot, ".bmp")) return "image/bmp";
    if (!strcasecmp(dot, ".webp")) return "image/webp";
    return "application/octet-stream";
}

// The file name as the form part carries it: the base name with quotes and controls replaced.
static void part_name(const char *path, char *out, size_t size) {
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t w = 0;
    for (const char *p = base; *p && w + 1 < size; p++) out[w++] = (*p == '"' || *p == '\\' || (unsigned char)*p < 32) ? '_' : *p;
    out[w] = '\0';
    if (!w) snprintf(out, size, "image");
}

yl_status yl_ls_upload_image(yl_ls_client *client, int project_id, const char *path, long *task_id) {
    if (!client || !path || !task_id) return yl_error(YL_ERR_INVALID_ARG, "Label Studio upload: NULL argument");
    *task_id = 0;
    char *data = NULL;
    size_t size = 0;
    YL_TRY(yl_read_file(path, UPLOAD_MAX_BYTES, &data, &size));
    char name[256], boundary[64], head[512], content_type[128];
    part_name(path, name, sizeof name);
    // The boundary must not occur in the data; a fixed prefix plus the data's length and a
    // counter, checked against the bytes, is enough.
    for (unsigned attempt = 0;; attempt++) {
        snprintf(boundary, sizeof boundary, "----yoloop-%zx-%u", size, attempt);
        const size_t bl = strlen(boundary);
        int found = 0;
        for (size_t i = 0; !found && i + bl <= size; i++) found = data[i] == '-' && !memcmp(data + i, boundary, bl);
        if (!found) break;
    }
    int hn = snprintf(head, sizeof head,
                      "--%s\r\nContent-Disposition: form-data; name=\"file\"; filename=\"%s\"\r\n"
                      "Content-Type: %s\r\n\r\n",
                      boundary, name, content_type_of(name));
    char tail[96];
    int tn = snprintf(tail, sizeof tail, "\r\n--%s--\r\n", boundary);
    char *body = malloc((size_t)hn + size + (size_t)tn);
    if (!body) {
        free(data);
        return yl_error(YL_ERR_OOM, "Label Studio upload: out of memory for %s", path);
    }
    memcpy(body, head, (size_t)hn);
    memcpy(body + hn, data, size);
    memcpy(body + hn + size, tail, (size_t)tn);
    free(data);
    snprintf(content_type, sizeof content_type, "multipart/form-data; boundary=%s", boundary);
    char url[128];
    snprintf(url, sizeof url, "/api/projects/%d/import?return_task_ids=true", project_id);
    yl_ls_request request = {.method = "POST", .path = url, .body = body, .body_size = (size_t)hn + size + (size_t)tn,
                             .content_type = content_type, .timeout_ms = client->options.export_timeout_ms,
                             .retry = YL_HTTP_RETRY_CONNECT_ONLY};
    cJSON *json = NULL;
    yl_status st = yl_ls_request_json(client, &request, &json);
    free(body);
    if (st != YL_OK) {
        char message[1400];
        snprintf(message, sizeof message, "%s", yl_last_error());
        return yl_ls_fail(client, st, "uploading %s: %s", path, message);
    }
    const cJSON *ids = cJSON_GetObjectItemCaseSensitive(json, "task_ids");
    const long count = (long)yl_json_int(json, "task_count", -1);
    if (cJSON_GetArraySize(ids) == 1 && cJSON_IsNumber(cJSON_GetArrayItem(ids, 0)))
        *task_id = (long)cJSON_GetArrayItem(ids, 0)->valuedouble;
    else
        st = yl_error(YL_ERR_FORMAT, "uploading %s: Label Studio answered %ld task%s and %d task id%s, expected one", path,
                      count, count == 1 ? "" : "s", cJSON_GetArraySize(ids), cJSON_GetArraySize(ids) == 1 ? "" : "s");
    cJSON_Delete(json);
    return st;
}

yl_status yl_ls_set_task_meta(yl_ls_client *client, long task_id, const cJSON *meta) {
    if (!client || !cJSON_IsObject(meta)) return yl_error(YL_ERR_INVALID_ARG, "Label Studio: task meta must be an object");
    cJSON *body = cJSON_CreateObject();
    cJSON *copy = cJSON_Duplicate(meta, 1);
    if (!body || !copy) {
        cJSON_Delete(body);
        cJSON_Delete(copy);
        return yl_error(YL_ERR_OOM, "Label Studio: out of memory");
    }
    cJSON_AddItemToObject(body, "meta", copy);
    char path[64];
    snprintf(path, sizeof path, "/api/tasks/%ld/", task_id);
    yl_status st = yl_ls_call_json(client, "PATCH", path, body, NULL);
    cJSON_Delete(body);
    return st;
}
