// manifest.json of a snapshot: what was taken, from where, and one entry per item with the hashes
// that temporal separation compares (snapshot.h documents the shape).
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cycle/snapshot_internal.h"
#include "cli/fs_util.h"
#include "cli/labelstudio/json_util.h"

#define COUNT(field) {#field, offsetof(yl_ls_annotation_counts, field)}
static const struct {
    const char *name;
    size_t offset;
} COUNTS[] = {
    COUNT(tasks),
    COUNT(images),
    COUNT(background_images),
    COUNT(tasks_without_annotations),
    COUNT(tasks_skipped),
    COUNT(tasks_unverified),
    COUNT(tasks_without_image),
    COUNT(duplicate_images),
    COUNT(annotations_cancelled),
    COUNT(annotations_unverified),
    COUNT(annotations_not_chosen),
    COUNT(boxes),
    COUNT(boxes_rotated),
    COUNT(boxes_clamped),
    COUNT(boxes_dropped_empty),
    COUNT(boxes_needing_size),
    COUNT(regions_ignored),
};
#undef COUNT

yl_status yl_snapshot_manifest_write(const yl_snapshot_builder *b, const char *created_at) {
    const yl_snapshot *s = b->snapshot;
    cJSON *root = cJSON_CreateObject();
    if (!root) return yl_error(YL_ERR_OOM, "manifest: out of memory");
    cJSON_AddStringToObject(root, "id", s->id);
    cJSON_AddStringToObject(root, "created_at", created_at);
    cJSON_AddItemToObject(root, "source", b->source ? cJSON_Duplicate(b->source, 1) : cJSON_CreateObject());
    cJSON *names = cJSON_AddArrayToObject(root, "names");
    for (int i = 0; names && i < b->config->nc; i++) cJSON_AddItemToArray(names, cJSON_CreateString(b->config->names[i]));
    cJSON *counts = cJSON_AddObjectToObject(root, "counts");
    for (size_t i = 0; counts && i < sizeof COUNTS / sizeof COUNTS[0]; i++)
        cJSON_AddNumberToObject(counts, COUNTS[i].name,
                                (double)*(const long *)((const char *)&b->counts + COUNTS[i].offset));
    cJSON_AddNumberToObject(counts, "images_failed", (double)s->images_failed);
    cJSON *warnings = cJSON_AddArrayToObject(root, "warnings");
    for (int i = 0; warnings && i < s->num_warnings; i++) cJSON_AddItemToArray(warnings, cJSON_CreateString(s->warnings[i]));
    cJSON *items = cJSON_AddArrayToObject(root, "items");
    for (int i = 0; items && i < s->num_items; i++) {
        const yl_snapshot_item *it = &s->items[i];
        cJSON *item = cJSON_CreateObject();
        if (!item) break;
        cJSON_AddStringToObject(item, "key", it->key);
        cJSON_AddNumberToObject(item, "task", (double)it->task_id);
        cJSON_AddNumberToObject(item, "annotation", (double)it->annotation_id);
        cJSON_AddStringToObject(item, "updated_at", it->updated_at);
        cJSON_AddStringToObject(item, "image", it->image);
        cJSON_AddStringToObject(item, "label", it->label);
        cJSON_AddStringToObject(item, "sha256", it->sha256);
        cJSON_AddStringToObject(item, "label_sha256", it->label_sha256);
        cJSON_AddNumberToObject(item, "boxes", it->boxes);
        cJSON_AddNumberToObject(item, "width", it->width);
        cJSON_AddNumberToObject(item, "height", it->height);
        cJSON_AddItemToArray(items, item);
    }
    char *text = cJSON_Print(root);
    cJSON_Delete(root);
    if (!text) return yl_error(YL_ERR_OOM, "manifest: out of memory");
    char path[1100];
    snprintf(path, sizeof path, "%s/manifest.json", b->dir);
    yl_status status = yl_fs_write_atomic(path, text, strlen(text));
    free(text);
    return status;
}

static int is_sha256(const char *s) { return s && strlen(s) == 64 && strspn(s, "0123456789abcdef") == 64; }

// Items must name files inside the snapshot: no absolute paths, no "..".
static int is_inside(const char *relative, const char *folder) {
    size_t n = strlen(folder);
    return relative && !strncmp(relative, folder, n) && relative[n] == '/' && relative[n + 1] &&
           !strstr(relative, "..") && !strchr(relative + n + 1, '/');
}

static yl_status read_item(const char *path, int index, const cJSON *json, yl_snapshot_item *it) {
    const char *key = yl_json_string(json, "key"), *image = yl_json_string(json, "image");
    const char *label = yl_json_string(json, "label"), *sha = yl_json_string(json, "sha256");
    const char *label_sha = yl_json_string(json, "label_sha256"), *updated = yl_json_string(json, "updated_at");
    if (!key || !key[0] || strlen(key) >= sizeof it->key)
        return yl_error(YL_ERR_FORMAT, "%s: items[%d].key: missing or too long", path, index);
    if (!is_inside(image, "images"))
        return yl_error(YL_ERR_FORMAT, "%s: items[%d].image: expected images/<name>", path, index);
    if (!is_inside(label, "labels"))
        return yl_error(YL_ERR_FORMAT, "%s: items[%d].label: expected labels/<name>", path, index);
    if (!is_sha256(sha) || !is_sha256(label_sha))
        return yl_error(YL_ERR_FORMAT, "%s: items[%d]: sha256 and label_sha256 must be 64 hex digits", path, index);
    snprintf(it->key, sizeof it->key, "%s", key);
    it->task_id = (long)yl_json_int(json, "task", -1);
    it->annotation_id = (long)yl_json_int(json, "annotation", -1);
    snprintf(it->updated_at, sizeof it->updated_at, "%s", updated ? updated : "");
    memcpy(it->sha256, sha, 65);
    memcpy(it->label_sha256, label_sha, 65);
    it->boxes = (int)yl_json_int(json, "boxes", 0);
    it->width = (int)yl_json_int(json, "width", 0);
    it->height = (int)yl_json_int(json, "height", 0);
    it->image = strdup(image);
    it->label = strdup(label);
    if (!it->image || !it->label) return yl_error(YL_ERR_OOM, "manifest: out of memory");
    return YL_OK;
}

yl_status yl_snapshot_manifest_read(const char *dir, yl_snapshot *out) {
    char path[1200];
    snprintf(path, sizeof path, "%s/manifest.json", dir);
    cJSON *root = NULL;
    YL_TRY(yl_json_read_file(path, 0, &root));
    yl_status status = YL_OK;
    const char *id = yl_json_string(root, "id");
    const cJSON *items = cJSON_GetObjectItemCaseSensitive(root, "items");
    const cJSON *counts = cJSON_GetObjectItemCaseSensitive(root, "counts");
    const cJSON *warnings = cJSON_GetObjectItemCaseSensitive(root, "warnings");
    if (!id || !id[0] || strlen(id) >= sizeof out->id) status = yl_error(YL_ERR_FORMAT, "%s: id: missing", path);
    else if (!cJSON_IsArray(items)) status = yl_error(YL_ERR_FORMAT, "%s: items: expected an array", path);
    if (status == YL_OK) {
        snprintf(out->id, sizeof out->id, "%s", id);
        out->images_failed = (long)yl_json_int(counts, "images_failed", 0);
        out->boxes_rotated = (long)yl_json_int(counts, "boxes_rotated", 0);
        out->boxes_clamped = (long)yl_json_int(counts, "boxes_clamped", 0);
        int n = cJSON_GetArraySize(items);
        out->items = calloc((size_t)(n ? n : 1), sizeof *out->items);
        if (!out->items) status = yl_error(YL_ERR_OOM, "manifest: out of memory");
        const cJSON *item;
        int index = 0;
        cJSON_ArrayForEach(item, items) {
            if (status != YL_OK) break;
            status = read_item(path, index, item, &out->items[index]);
            index++;
            out->num_items = index;  // a half-read item is freed with the rest
        }
    }
    const cJSON *warning;
    cJSON_ArrayForEach(warning, warnings) {
        if (status != YL_OK || !cJSON_IsString(warning)) continue;
        char **grown = realloc(out->warnings, sizeof(char *) * (size_t)(out->num_warnings + 1));
        if (!grown) {
            status = yl_error(YL_ERR_OOM, "manifest: out of memory");
            break;
        }
        out->warnings = grown;
        if (!(out->warnings[out->num_warnings] = strdup(warning->valuestring)))
            status = yl_error(YL_ERR_OOM, "manifest: out of memory");
        else out->num_warnings++;
    }
    cJSON_Delete(root);
    return status;
}
