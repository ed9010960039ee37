// Snapshot source: a manual Label Studio JSON export (a file, or a folder of *.json exports taken
// over time) plus a folder of images looked up by file name. Tasks of several files are merged by
// id; the most recently updated version of a task wins.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cycle/snapshot_internal.h"
#include "cli/fs_util.h"
#include "cli/labelstudio/json_util.h"
#include "cli/labelstudio/url.h"

// The latest of the task's updated_at and its annotations' updated_at (Unix seconds; -1: none).
static double task_recency(const cJSON *task) {
    double best = yl_ls_parse_timestamp(yl_json_string(task, "updated_at"));
    const cJSON *annotation;
    cJSON_ArrayForEach(annotation, cJSON_GetObjectItemCaseSensitive(task, "annotations")) {
        double t = yl_ls_parse_timestamp(yl_json_string(annotation, "updated_at"));
        if (t > best) best = t;
    }
    return best;
}

typedef struct {
    cJSON *task;
    long long id;
    double recency;
    long order;  // position over all files: a later file wins a tie
} task_entry;

typedef struct {
    task_entry *entries;
    long count, capacity;
} task_pool;

static yl_status pool_file(yl_snapshot_builder *b, const char *path, task_pool *pool) {
    cJSON *json = NULL;
    YL_TRY(yl_json_read_file(path, 0, &json));
    if (!cJSON_IsArray(json)) {
        cJSON_Delete(json);
        return yl_error(YL_ERR_FORMAT, "%s: expected a JSON array of tasks (Label Studio's JSON export)", path);
    }
    yl_status status = YL_OK;
    for (int index = 0; status == YL_OK && cJSON_GetArraySize(json) > 0; index++) {
        cJSON *task = cJSON_DetachItemFromArray(json, 0);
        long long id = yl_json_int(task, "id", -1);
        if (!cJSON_IsObject(task) || id < 0) {
            status = yl_snapshot_warn(b, "%s: task #%d has no id; skipped (tasks are matched by id)", path, index);
            cJSON_Delete(task);
            continue;
        }
        if (pool->count == pool->capacity) {
            long next = pool->capacity ? pool->capacity * 2 : 256;
            task_entry *grown = realloc(pool->entries, sizeof(task_entry) * (size_t)next);
            if (!grown) {
                cJSON_Delete(task);
                status = yl_error(YL_ERR_OOM, "snapshot: out of memory");
                break;
            }
            pool->entries = grown;
            pool->capacity = next;
        }
        pool->entries[pool->count] = (task_entry){task, id, task_recency(task), pool->count};
        pool->count++;
    }
    cJSON_Delete(json);
    return status;
}

static int by_id_then_recency(const void *a, const void *b) {
    const task_entry *x = a, *y = b;
    if (x->id != y->id) return x->id < y->id ? -1 : 1;
    if (x->recency != y->recency) return x->recency < y->recency ? -1 : 1;
    return (x->order > y->order) - (x->order < y->order);
}

// One task per id, the most recently updated one, in id order. Empties the pool.
static cJSON *merge_pool(task_pool *pool) {
    qsort(pool->entries, (size_t)pool->count, sizeof(task_entry), by_id_then_recency);
    cJSON *merged = cJSON_CreateArray();
    for (long i = 0; i < pool->count; i++) {
        int last = i + 1 == pool->count || pool->entries[i + 1].id != pool->entries[i].id;
        if (last && merged) cJSON_AddItemToArray(merged, pool->entries[i].task);
        else cJSON_Delete(pool->entries[i].task);
    }
    free(pool->entries);
    memset(pool, 0, sizeof *pool);
    return merged;
}

static int has_json_extension(const char *name) {
    size_t n = strlen(name);
    return n > 5 && !strcmp(name + n - 5, ".json") && name[0] != '.';
}

// The export's tasks, merged, written to tasks.json.
static yl_status read_export(yl_snapshot_builder *b, cJSON **out) {
    const char *export_path = b->config->export_path;
    task_pool pool = {0};
    yl_status status = YL_OK;
    int files = 0;
    if (yl_fs_is_dir(export_path)) {
        char **names = NULL;
        int count = 0;
        status = yl_fs_list_dir(export_path, &names, &count);
        for (int i = 0; status == YL_OK && i < count; i++) {
            if (!has_json_extension(names[i])) continue;
            char path[2048];
            snprintf(path, sizeof path, "%s/%s", export_path, names[i]);
            status = pool_file(b, path, &pool);
            files++;
        }
        yl_fs_free_names(names, count);
        if (status == YL_OK && !files)
            status = yl_error(YL_ERR_IO, "json export: %s holds no *.json export file", export_path);
    } else if (yl_fs_is_file(export_path)) {
        status = pool_file(b, export_path, &pool);
        files = 1;
    } else {
        status = yl_error(YL_ERR_IO, "json export: %s does not exist (source.export in yoloop.yaml)", export_path);
    }
    long read = pool.count;
    cJSON *merged = merge_pool(&pool);
    if (status == YL_OK && !merged) status = yl_error(YL_ERR_OOM, "snapshot: out of memory");
    char *text = status == YL_OK ? cJSON_Print(merged) : NULL;
    if (status == YL_OK && !text) status = yl_error(YL_ERR_OOM, "snapshot: out of memory");
    if (status == YL_OK) {
        char path[1100];
        snprintf(path, sizeof path, "%s/tasks.json", b->dir);
        status = yl_fs_write_atomic(path, text, strlen(text));
    }
    free(text);
    if (status == YL_OK) {
        yl_snapshot_logf(b, "read %d export file%s: %ld tasks, %d after merging by id", files, files == 1 ? "" : "s",
                         read, cJSON_GetArraySize(merged));
        *out = merged;
    } else {
        cJSON_Delete(merged);
    }
    return status;
}

// Without an XML config: the rectangle control is source.control, else the one from_name the
// export's rectangle regions use; the image key is "image" when tasks have it, else the first
// string in the first task's data.
static yl_status infer_config(yl_snapshot_builder *b, const cJSON *tasks, yl_ls_label_config *out) {
    const char *control = b->config->control, *image_key = NULL;
    const cJSON *task;
    cJSON_ArrayForEach(task, tasks) {
        const cJSON *data = cJSON_GetObjectItemCaseSensitive(task, "data");
        if (!image_key && cJSON_IsString(cJSON_GetObjectItemCaseSensitive(data, "image"))) image_key = "image";
        const cJSON *annotation, *region;
        cJSON_ArrayForEach(annotation, cJSON_GetObjectItemCaseSensitive(task, "annotations")) {
            cJSON_ArrayForEach(region, cJSON_GetObjectItemCaseSensitive(annotation, "result")) {
                const char *type = yl_json_string(region, "type"), *from = yl_json_string(region, "from_name");
                if (!type || strcmp(type, "rectanglelabels") != 0 || !from) continue;
                if (!control) control = from;
                else if (strcmp(control, from) != 0 && !b->config->control)
                    return yl_error(YL_ERR_FORMAT,
                                    "json export: task %lld uses two rectangle controls ('%s' and '%s'); set "
                                    "source.control in yoloop.yaml",
                                    yl_json_int(task, "id", -1), control, from);
            }
        }
    }
    if (!image_key) {
        const cJSON *data = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(tasks, 0), "data"), *item;
        cJSON_ArrayForEach(item, data) if (cJSON_IsString(item) && item->string[0] != '$') {
            image_key = item->string;
            break;
        }
    }
    return yl_snapshot_names_config(b->config, control ? control : "label", image_key ? image_key : "image", out);
}

// images/<file name>, else the name without Label Studio's "<8hex>-" upload prefix.
static yl_status find_image(void *user, const yl_ls_image_labels *image, char *path, size_t size) {
    const char *dir = user;
    snprintf(path, size, "%s/%s", dir, image->file_name);
    if (yl_fs_is_file(path)) return YL_OK;
    const char *name = image->file_name;
    size_t hex = strspn(name, "0123456789abcdef");
    if (hex == 8 && name[8] == '-' && name[9]) {
        snprintf(path, size, "%s/%s", dir, name + 9);
        if (yl_fs_is_file(path)) return YL_OK;
    }
    return yl_error(YL_ERR_IO, "not found in %s", dir);
}

yl_status yl_snapshot_from_json_export(yl_snapshot_builder *b) {
    const yl_workspace_config *config = b->config;
    b->source = cJSON_CreateObject();
    if (!b->source) return yl_error(YL_ERR_OOM, "snapshot: out of memory");
    cJSON_AddStringToObject(b->source, "kind", "json");
    cJSON_AddStringToObject(b->source, "export", config->export_path);
    cJSON_AddStringToObject(b->source, "images", config->images_dir);
    if (!yl_fs_is_dir(config->images_dir))
        return yl_error(YL_ERR_IO, "json export: the images folder %s does not exist (source.images in yoloop.yaml)",
                        config->images_dir);
    cJSON *tasks = NULL;
    YL_TRY(read_export(b, &tasks));
    yl_ls_label_config lc;
    yl_status status = infer_config(b, tasks, &lc);
    if (status != YL_OK) {
        cJSON_Delete(tasks);
        return status;
    }
    yl_ls_parse_options options = {.config = &lc, .trust_imported = config->trust_imported};
    yl_ls_annotation_set set;
    status = yl_ls_annotations_parse(tasks, &options, &set);
    cJSON_Delete(tasks);
    if (status != YL_OK) {
        yl_ls_label_config_free(&lc);
        return yl_error_context(status, "json export %s (labels are matched by name to the workspace names)",
                                config->export_path);
    }
    b->counts = set.counts;
    yl_snapshot_logf(b, "%ld tasks: %ld verified images (%ld background), %ld skipped, %ld unverified",
                     set.counts.tasks, set.counts.images, set.counts.background_images, set.counts.tasks_skipped,
                     set.counts.tasks_unverified);
    int *identity = calloc((size_t)config->nc, sizeof *identity);
    if (!identity) status = yl_error(YL_ERR_OOM, "snapshot: out of memory");
    for (int i = 0; identity && i < config->nc; i++) identity[i] = i;
    if (status == YL_OK) status = yl_snapshot_add_annotation_set(b, &set, identity, find_image, config->images_dir);
    free(identity);
    yl_ls_annotation_set_free(&set);
    yl_ls_label_config_free(&lc);
    return status;
}
