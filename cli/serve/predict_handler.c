// POST /predict: tasks -> images -> the served model -> Label Studio regions.
#include "cli/serve/predict_handler.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/file_cache.h"
#include "cli/fs_util.h"
#include "cli/labelstudio/client.h"
#include "cli/labelstudio/predictions.h"
#include "cli/labelstudio/url.h"
#include "engine/data/image_io.h"

// What one request shares between its tasks.
typedef struct {
    const yl_predict_context *context;
    yl_ls_label_config config;
    int *label_of_class;  // model class -> config label index, -1: dropped
    double threshold;
    yl_served_model *model;
    yl_ls_client *client;  // opened at the first image that is not cached
    bool client_failed;
    char client_error[512];
} predict_batch;

static atomic_ulong download_counter;

// Model classes -> label indices; returns how many classes map.
static int map_labels(predict_batch *b) {
    int nc = yl_served_model_class_count(b->model), mapped = 0;
    b->label_of_class = malloc((size_t)(nc > 0 ? nc : 1) * sizeof *b->label_of_class);
    if (!b->label_of_class) return 0;
    for (int c = 0; c < nc; c++) {
        const char *name = yl_served_model_class_name(b->model, c);
        int index = yl_ls_label_config_map_class(&b->config, name);
        b->label_of_class[c] = index;
        mapped += index >= 0;
    }
    return mapped;
}

static void describe_mismatch(const predict_batch *b, char *out, size_t size) {
    size_t used = (size_t)snprintf(out, size, "none of the model's classes (");
    int nc = yl_served_model_class_count(b->model);
    for (int c = 0; c < nc && used < size; c++)
        used += (size_t)snprintf(out + used, size - used, "%s%s", c ? ", " : "", yl_served_model_class_name(b->model, c));
    if (used < size)
        used += (size_t)snprintf(out + used, size - used, ") is a label of control '%s' (", b->config.control_name);
    for (int i = 0; i < b->config.num_labels && used < size; i++)
        used += (size_t)snprintf(out + used, size - used, "%s%s", i ? ", " : "", b->config.labels[i].name);
    if (used < size) snprintf(out + used, size - used, ")");
}

static const char *task_image_url(const predict_batch *b, const cJSON *task) {
    const cJSON *data = cJSON_GetObjectItemCaseSensitive(task, "data");
    const char *url = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(data, b->config.image_key));
    if (!url) url = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(data, "$undefined$"));
    return url && url[0] ? url : NULL;
}

static yl_status open_client(predict_batch *b) {
    if (b->client) return YL_OK;
    if (b->client_failed) return yl_error(YL_ERR_IO, "%s", b->client_error);
    const yl_predict_context *c = b->context;
    yl_status st;
    if (!c->ls_url) {
        st = yl_error(YL_ERR_INVALID_ARG, "no Label Studio URL configured (serve url=, or source.url in yoloop.yaml)");
    } else {
        yl_ls_client_options o = {0};
        o.url = c->ls_url;
        o.token.file = c->token_file;
        o.local_files_root = c->local_files_root;
        o.media_root = c->media_root;
        o.http.timeout_ms = 60000;
        o.http.max_attempts = 2;
        st = yl_ls_client_open(&b->client, &o);
    }
    if (st != YL_OK) {
        b->client_failed = true;
        snprintf(b->client_error, sizeof b->client_error, "%s", yl_last_error());
    }
    return st;
}

// Keeps the cache folder under its bound after a download of `bytes`; a request that finds
// another one trimming goes on. The folder is listed only when the running total says it is
// over the bound (or is not known yet). Images used in the last minute stay: a request running
// now may be about to read them.
static void trim_cache(const yl_predict_context *c, long long bytes) {
    if (!c->cache_max_bytes || !c->cache_trimming || !c->cache_bytes) return;
    uint64_t total = atomic_load(c->cache_bytes);
    if (total != UINT64_MAX) {
        total = atomic_fetch_add(c->cache_bytes, (uint64_t)(bytes > 0 ? bytes : 0)) + (uint64_t)(bytes > 0 ? bytes : 0);
        if (total <= c->cache_max_bytes) return;
    }
    if (atomic_exchange(c->cache_trimming, true)) return;
    yl_file_cache_trim_result r;
    if (yl_file_cache_trim(c->cache_dir, c->cache_max_bytes, 60, &r) != YL_OK) {
        fprintf(stderr, "serve: image cache: %s\n", yl_last_error());
    } else {
        atomic_store(c->cache_bytes, r.bytes_after);
        if (r.files_removed)
            fprintf(stderr, "serve: image cache: removed %d least recently used images (%.1f -> %.1f MiB)\n",
                    r.files_removed, (double)r.bytes_before / (1 << 20), (double)r.bytes_after / (1 << 20));
    }
    atomic_store(c->cache_trimming, false);
}

// The cached copy of the task's image (downloaded first when absent) into path.
static yl_status fetch_image(predict_batch *b, const char *url, long task_id, char *path, size_t size) {
    char hash[65], name[256];
    yl_sha256_hex(url, strlen(url), hash);
    if (yl_url_image_file_name(url, name, sizeof name) != YL_OK) snprintf(name, sizeof name, "image");
    if ((size_t)snprintf(path, size, "%s/%.16s__%s", b->context->cache_dir, hash, name) >= size)
        return yl_error(YL_ERR_INVALID_ARG, "image cache path too long for %s", name);
    if (yl_fs_is_file(path)) {
        yl_file_cache_touch(path);
        return YL_OK;
    }
    YL_TRY(open_client(b));
    // A private temporary name: two requests for one new image must not write one file.
    char temp[4200];
    snprintf(temp, sizeof temp, "%s.dl.%ld.%lu", path, (long)getpid(), atomic_fetch_add(&download_counter, 1));
    yl_ls_download_result result;
    yl_status st = yl_ls_download_image(b->client, url, task_id, temp, 0, &result);
    if (st == YL_OK && rename(temp, path) != 0) st = yl_error(YL_ERR_IO, "cannot move the image into %s", path);
    if (st != YL_OK) remove(temp);
    if (st == YL_OK) trim_cache(b->context, result.bytes);
    return st;
}

static cJSON *task_error(const predict_batch *b, const char *message) {
    cJSON *entry = cJSON_CreateObject();
    if (!entry) return NULL;
    cJSON_AddStringToObject(entry, "model_version", yl_served_model_version(b->model));
    cJSON_AddStringToObject(entry, "error", message);
    return entry;
}

static cJSON *regions_of(const predict_batch *b, const yl_detection *boxes, int64_t count, int width, int height,
                         double *score) {
    cJSON *regions = cJSON_CreateArray();
    double sum = 0;
    int kept = 0;
    for (int64_t i = 0; regions && i < count; i++) {
        const yl_detection *d = &boxes[i];
        int nc = yl_served_model_class_count(b->model);
        if (d->cls < 0 || d->cls >= nc || b->label_of_class[d->cls] < 0 || d->conf < b->threshold) continue;
        double x1 = (double)d->x1 / width, y1 = (double)d->y1 / height, x2 = (double)d->x2 / width, y2 = (double)d->y2 / height;
        cJSON *region = yl_ls_prediction_region(&b->config, b->label_of_class[d->cls], (x1 + x2) / 2, (y1 + y2) / 2,
                                                x2 - x1, y2 - y1, width, height, d->conf);
        if (!region) {
            cJSON_Delete(regions);
            return NULL;
        }
        cJSON_AddItemToArray(regions, region);
        sum += d->conf;
        kept++;
    }
    *score = kept ? sum / kept : 0.0;
    return regions;
}

static cJSON *predict_task(predict_batch *b, const cJSON *task) {
    if (!cJSON_IsObject(task)) return task_error(b, "a task must be a JSON object");
    long task_id = (long)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(task, "id"));
    const char *url = task_image_url(b, task);
    char message[1024];
    if (!url) {
        snprintf(message, sizeof message, "task %ld: no image URL in data.%s nor data.$undefined$", task_id,
                 b->config.image_key);
        return task_error(b, message);
    }
    char path[4096];
    yl_image_u8 image = {0};
    yl_status st = fetch_image(b, url, task_id, path, sizeof path);
    if (st == YL_OK) {
        st = yl_image_read(path, &image);
        if (st != YL_OK) remove(path);  // a bad download must not stay cached
    }
    yl_detection *boxes = NULL;
    int64_t count = 0;
    if (st == YL_OK) st = yl_served_model_predict(b->model, &image, &boxes, &count);
    cJSON *entry = NULL;
    if (st == YL_OK) {
        double score = 0;
        cJSON *regions = regions_of(b, boxes, count, image.width, image.height, &score);
        entry = regions ? yl_ls_prediction(yl_served_model_version(b->model), score, regions) : NULL;
    } else {
        snprintf(message, sizeof message, "task %ld: %s", task_id, yl_last_error());
        fprintf(stderr, "serve: predict: %s\n", message);
        entry = task_error(b, message);
    }
    free(boxes);
    yl_image_u8_free(&image);
    return entry;
}

void yl_serve_predict(const yl_predict_context *context, const char *label_config, const cJSON *tasks,
                      yl_serve_reply *reply) {
    predict_batch b = {.context = context};
    if (yl_ls_label_config_parse(label_config, context->control, &b.config) != YL_OK) {
        yl_serve_reply_error(reply, 400, "label_config: %s", yl_last_error());
        return;
    }
    b.threshold = b.config.score_threshold >= 0 ? b.config.score_threshold : context->default_threshold;
    b.model = yl_model_slot_acquire(context->slot);
    if (!b.model) {
        yl_serve_reply_error(reply, 503, "no model is deployed yet (yoloop deploy) or it failed to load");
    } else if (map_labels(&b) == 0) {
        char message[1024];
        describe_mismatch(&b, message, sizeof message);
        yl_serve_reply_error(reply, 422, "%s", message);
    } else {
        cJSON *results = cJSON_CreateArray();
        const cJSON *task;
        bool ok = results != NULL;
        cJSON_ArrayForEach(task, tasks) {
            cJSON *entry = ok ? predict_task(&b, task) : NULL;
            if (!entry) {
                ok = false;
                break;
            }
            cJSON_AddItemToArray(results, entry);
        }
        cJSON *body = ok ? cJSON_CreateObject() : NULL;
        if (body) {
            cJSON_AddItemToObject(body, "results", results);
            cJSON_AddStringToObject(body, "model_version", yl_served_model_version(b.model));
            yl_serve_reply_json(reply, 200, body);
        } else {
            cJSON_Delete(results);
            yl_serve_reply_error(reply, 500, "out of memory building the predictions");
        }
    }
    yl_model_slot_release(context->slot, b.model);
    yl_ls_client_close(b.client);
    free(b.label_of_class);
    yl_ls_label_config_free(&b.config);
}
