// Imports of tasks and predictions (spec §2.5, §2.6).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/labelstudio/client_internal.h"
#include "cli/labelstudio/json_util.h"

typedef struct {
    char *text;
    size_t size, capacity;
} text_buffer;

static int append(text_buffer *b, const char *text) {
    size_t n = strlen(text);
    if (b->size + n + 1 > b->capacity) {
        size_t capacity = b->capacity ? b->capacity : 4096;
        while (capacity < b->size + n + 1) capacity *= 2;
        char *grown = realloc(b->text, capacity);
        if (!grown) return 0;
        b->text = grown;
        b->capacity = capacity;
    }
    memcpy(b->text + b->size, text, n + 1);
    b->size += n;
    return 1;
}

// items[first .. first+count) of `array` as one JSON array text.
static yl_status batch_text(const cJSON *array, int first, int count, text_buffer *out) {
    out->size = 0;
    if (!append(out, "[")) return yl_error(YL_ERR_OOM, "Label Studio import: out of memory");
    for (int i = 0; i < count; i++) {
        char *item = cJSON_PrintUnformatted(cJSON_GetArrayItem(array, first + i));
        int ok = item && (i == 0 || append(out, ",")) && append(out, item);
        free(item);
        if (!ok) return yl_error(YL_ERR_OOM, "Label Studio import: out of memory");
    }
    if (!append(out, "]")) return yl_error(YL_ERR_OOM, "Label Studio import: out of memory");
    return YL_OK;
}

static const char validation_hint[] =
    " (every region needs the project's from_name/to_name/type, labels from its config, x/y/width/height within "
    "0..100 and a score within 0..1)";

// Posts one batch; a 400 gets a hint about what Label Studio validates.
static yl_status post_batch(yl_ls_client *client, const char *path, const text_buffer *body, cJSON **out) {
    yl_ls_request request = {.method = "POST", .path = path, .body = body->text, .body_size = body->size,
                             .content_type = "application/json", .timeout_ms = client->options.export_timeout_ms,
                             .retry = YL_HTTP_RETRY_CONNECT_ONLY};
    yl_status status = yl_ls_request_json(client, &request, out);
    if (status == YL_OK || client->last_status != 400) return status;
    char message[1400];
    snprintf(message, sizeof message, "%s", yl_last_error());
    return yl_ls_fail(client, status, "%s%s", message, validation_hint);
}

static yl_status partial_failure(yl_status status, int batch, int batches, long already, const char *unit) {
    if (batches <= 1) return status;
    char message[1200];
    snprintf(message, sizeof message, "%s", yl_last_error());
    return yl_error(status, "import batch %d of %d failed; %ld %s of the earlier batches were already imported: %s",
                    batch, batches, already, unit, message);
}

static yl_status check_array(const cJSON *array, const char *what) {
    if (!cJSON_IsArray(array))
        return yl_error(YL_ERR_INVALID_ARG, "Label Studio import: %s must be a JSON array", what);
    const cJSON *item;
    cJSON_ArrayForEach(item, array) {
        if (!cJSON_IsObject(item))
            return yl_error(YL_ERR_INVALID_ARG, "Label Studio import: every element of %s must be an object", what);
    }
    return YL_OK;
}

yl_status yl_ls_import_tasks(yl_ls_client *client, int project_id, const cJSON *tasks, yl_ls_import_result *out) {
    if (!client || !out) return yl_error(YL_ERR_INVALID_ARG, "Label Studio import: NULL client or result");
    memset(out, 0, sizeof *out);
    YL_TRY(check_array(tasks, "tasks"));
    int total = cJSON_GetArraySize(tasks);
    if (total == 0) return YL_OK;
    char path[128];
    snprintf(path, sizeof path, "/api/projects/%d/import?return_task_ids=true", project_id);
    int batch_size = client->options.import_batch_size;
    int batches = (total + batch_size - 1) / batch_size;
    out->task_ids = malloc(sizeof(long) * (size_t)total);
    if (!out->task_ids) return yl_error(YL_ERR_OOM, "Label Studio import: out of memory");
    text_buffer body = {0};
    yl_status status = YL_OK;
    for (int batch = 0; batch < batches && status == YL_OK; batch++) {
        int first = batch * batch_size;
        int count = total - first < batch_size ? total - first : batch_size;
        status = batch_text(tasks, first, count, &body);
        cJSON *json = NULL;
        if (status == YL_OK)
            status = post_batch(client, path, &body, &json);
        if (status == YL_OK && !cJSON_GetObjectItemCaseSensitive(json, "task_count") &&
            cJSON_GetObjectItemCaseSensitive(json, "import"))
            status = yl_error(YL_ERR_UNSUPPORTED,
                              "Label Studio started an asynchronous import (an Enterprise server); this client "
                              "handles the synchronous (Community) import only");
        if (status == YL_OK) {
            out->task_count += (long)yl_json_int(json, "task_count", 0);
            out->annotation_count += (long)yl_json_int(json, "annotation_count", 0);
            out->prediction_count += (long)yl_json_int(json, "prediction_count", 0);
            const cJSON *id;
            cJSON_ArrayForEach(id, cJSON_GetObjectItemCaseSensitive(json, "task_ids")) {
                if (cJSON_IsNumber(id) && out->num_task_ids < total)
                    out->task_ids[out->num_task_ids++] = (long)id->valuedouble;
            }
        }
        cJSON_Delete(json);
        if (status != YL_OK) status = partial_failure(status, batch + 1, batches, out->task_count, "tasks");
    }
    free(body.text);
    return status;
}

void yl_ls_import_result_free(yl_ls_import_result *result) {
    if (!result) return;
    free(result->task_ids);
    memset(result, 0, sizeof *result);
}

yl_status yl_ls_import_predictions(yl_ls_client *client, int project_id, const cJSON *predictions, long *created) {
    if (!client) return yl_error(YL_ERR_INVALID_ARG, "Label Studio import: NULL client");
    if (created) *created = 0;
    YL_TRY(check_array(predictions, "predictions"));
    int total = cJSON_GetArraySize(predictions);
    char path[128];
    snprintf(path, sizeof path, "/api/projects/%d/import/predictions", project_id);
    int batch_size = client->options.import_batch_size;
    int batches = (total + batch_size - 1) / batch_size;
    long done = 0;
    text_buffer body = {0};
    yl_status status = YL_OK;
    for (int batch = 0; batch < batches && status == YL_OK; batch++) {
        int first = batch * batch_size;
        int count = total - first < batch_size ? total - first : batch_size;
        status = batch_text(predictions, first, count, &body);
        cJSON *json = NULL;
        if (status == YL_OK) status = post_batch(client, path, &body, &json);
        if (status == YL_OK) done += (long)yl_json_int(json, "created", count);
        cJSON_Delete(json);
        if (status != YL_OK) status = partial_failure(status, batch + 1, batches, done, "predictions");
    }
    free(body.text);
    if (created) *created = done;
    return status;
}

yl_status yl_ls_create_prediction(yl_ls_client *client, const cJSON *prediction, long *prediction_id) {
    if (prediction_id) *prediction_id = 0;
    if (!cJSON_IsObject(prediction))
        return yl_error(YL_ERR_INVALID_ARG, "Label Studio: a prediction must be an object");
    cJSON *json = NULL;
    yl_status status = yl_ls_call_json(client, "POST", "/api/predictions/", prediction, &json);
    if (status != YL_OK && client && client->last_status == 400) {
        char message[1400];
        snprintf(message, sizeof message, "%s", yl_last_error());
        status = yl_ls_fail(client, status, "%s%s", message, validation_hint);
    }
    if (status == YL_OK && prediction_id) *prediction_id = (long)yl_json_int(json, "id", 0);
    cJSON_Delete(json);
    return status;
}
