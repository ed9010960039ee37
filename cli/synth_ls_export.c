#include "cli/synth_ls_export.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/fs_util.h"
#include "engine/data/file_util.h"
#include "engine/data/image_io.h"

// One rectanglelabels region per "class cx cy w h" line of the label file.
static yl_status add_regions(const char *label_path, const yl_synth_ls_options *o, int width, int height, long task,
                             cJSON *result) {
    char *text = NULL;
    size_t size = 0;
    YL_TRY(yl_fs_read_all(label_path, &text, &size));
    yl_status status = YL_OK;
    int line = 0;
    for (char *p = text; status == YL_OK && *p;) {
        char *end = strchr(p, '\n');
        if (end) *end = '\0';
        line++;
        int cls;
        double cx, cy, w, h;
        char extra;
        if (strspn(p, " \t\r") == strlen(p)) {
            // blank line
        } else if (sscanf(p, "%d %lf %lf %lf %lf %c", &cls, &cx, &cy, &w, &h, &extra) != 5 || cls < 0 ||
                   cls >= o->nc) {
            status = yl_error(YL_ERR_FORMAT, "%s:%d: expected 'class cx cy w h' with class 0..%d", label_path, line,
                              o->nc - 1);
        } else {
            char id[32];
            snprintf(id, sizeof id, "t%ld_r%d", task, line);
            cJSON *region = cJSON_CreateObject();
            cJSON_AddStringToObject(region, "id", id);
            cJSON_AddStringToObject(region, "from_name", "label");
            cJSON_AddStringToObject(region, "to_name", "image");
            cJSON_AddStringToObject(region, "type", "rectanglelabels");
            cJSON_AddStringToObject(region, "origin", "manual");
            cJSON_AddNumberToObject(region, "original_width", width);
            cJSON_AddNumberToObject(region, "original_height", height);
            cJSON_AddNumberToObject(region, "image_rotation", 0);
            cJSON *value = cJSON_AddObjectToObject(region, "value");
            cJSON_AddNumberToObject(value, "x", (cx - w / 2) * 100.0);
            cJSON_AddNumberToObject(value, "y", (cy - h / 2) * 100.0);
            cJSON_AddNumberToObject(value, "width", w * 100.0);
            cJSON_AddNumberToObject(value, "height", h * 100.0);
            cJSON_AddNumberToObject(value, "rotation", 0);
            cJSON *labels = cJSON_AddArrayToObject(value, "rectanglelabels");
            cJSON_AddItemToArray(labels, cJSON_CreateString(o->names[cls]));
            cJSON_AddItemToArray(result, region);
        }
        if (!end) break;
        p = end + 1;
    }
    free(text);
    return status;
}

static cJSON *make_task(long id, const char *file, const char *now, cJSON *result) {
    char url[1024];
    snprintf(url, sizeof url, "/data/upload/1/%s", file);
    cJSON *task = cJSON_CreateObject();
    cJSON_AddNumberToObject(task, "id", (double)id);
    cJSON_AddNumberToObject(task, "inner_id", (double)id);
    cJSON_AddNumberToObject(task, "project", 1);
    cJSON_AddStringToObject(cJSON_AddObjectToObject(task, "data"), "image", url);
    cJSON_AddObjectToObject(task, "meta");
    cJSON_AddStringToObject(task, "created_at", now);
    cJSON_AddStringToObject(task, "updated_at", now);
    cJSON_AddStringToObject(task, "file_upload", file);
    cJSON_AddNumberToObject(task, "total_annotations", 1);
    cJSON_AddNumberToObject(task, "cancelled_annotations", 0);
    cJSON_AddNumberToObject(task, "total_predictions", 0);
    cJSON_AddArrayToObject(task, "drafts");
    cJSON_AddArrayToObject(task, "predictions");
    cJSON *annotation = cJSON_CreateObject();
    cJSON_AddNumberToObject(annotation, "id", (double)id);
    cJSON_AddNumberToObject(annotation, "completed_by", 1);
    cJSON_AddNumberToObject(annotation, "task", (double)id);
    cJSON_AddNumberToObject(annotation, "project", 1);
    cJSON_AddNumberToObject(annotation, "result_count", cJSON_GetArraySize(result));
    cJSON_AddItemToObject(annotation, "result", result);
    cJSON_AddBoolToObject(annotation, "was_cancelled", 0);
    cJSON_AddBoolToObject(annotation, "ground_truth", 0);
    cJSON_AddNumberToObject(annotation, "lead_time", 1.0);
    cJSON_AddStringToObject(annotation, "created_at", now);
    cJSON_AddStringToObject(annotation, "updated_at", now);
    cJSON_AddStringToObject(annotation, "last_action", "submitted");
    cJSON_AddNullToObject(annotation, "parent_prediction");
    cJSON_AddNullToObject(annotation, "import_id");
    cJSON_AddItemToArray(cJSON_AddArrayToObject(task, "annotations"), annotation);
    return task;
}

static yl_status add_split(const yl_synth_ls_options *o, const char *split, const char *now, long *next_id,
                           cJSON *tasks) {
    char images_dir[2048], labels_dir[2048];
    snprintf(images_dir, sizeof images_dir, "%s/images/%s", o->dataset_dir, split);
    snprintf(labels_dir, sizeof labels_dir, "%s/labels/%s", o->dataset_dir, split);
    char **names = NULL;
    int count = 0;
    YL_TRY(yl_fs_list_dir(images_dir, &names, &count));
    yl_status status = YL_OK;
    for (int i = 0; status == YL_OK && i < count; i++) {
        if (!yl_has_image_extension(names[i])) continue;
        char image_path[4096], label_path[4096];
        snprintf(image_path, sizeof image_path, "%s/%s", images_dir, names[i]);
        const char *dot = strrchr(names[i], '.');
        snprintf(label_path, sizeof label_path, "%s/%.*s.txt", labels_dir, (int)(dot - names[i]), names[i]);
        yl_image_info info;
        status = yl_image_probe(image_path, &info);
        cJSON *result = cJSON_CreateArray();
        if (status == YL_OK && !result) status = yl_error(YL_ERR_OOM, "synth ls_json: out of memory");
        // No label file: an image nobody drew a box on, i.e. a background image.
        if (status == YL_OK && yl_fs_is_file(label_path))
            status = add_regions(label_path, o, info.width, info.height, *next_id, result);
        if (status == YL_OK) {
            cJSON_AddItemToArray(tasks, make_task(*next_id, names[i], now, result));
            (*next_id)++;
        } else {
            cJSON_Delete(result);
        }
    }
    yl_fs_free_names(names, count);
    return status;
}

yl_status yl_synth_write_ls_export(const yl_synth_ls_options *o, long *written) {
    if (!o || !o->dataset_dir || !o->path || !o->names || o->nc < 1)
        return yl_error(YL_ERR_INVALID_ARG, "synth ls_json: missing dataset folder, path or class names");
    int train = !o->split || !strcmp(o->split, "all") || !strcmp(o->split, "train");
    int val = !o->split || !strcmp(o->split, "all") || !strcmp(o->split, "val");
    if (!train && !val) return yl_error(YL_ERR_INVALID_ARG, "synth ls_json: split '%s' (expected train, val or all)", o->split);
    // Label Studio's timestamp form: microseconds and Z.
    char now[48], seconds[32];
    yl_utc_now_iso(seconds);
    snprintf(now, sizeof now, "%.19s.000000Z", seconds);
    cJSON *tasks = cJSON_CreateArray();
    if (!tasks) return yl_error(YL_ERR_OOM, "synth ls_json: out of memory");
    long next_id = o->task_id_base;
    yl_status status = YL_OK;
    if (train) status = add_split(o, "train", now, &next_id, tasks);
    if (status == YL_OK && val) status = add_split(o, "val", now, &next_id, tasks);
    char *text = status == YL_OK ? cJSON_Print(tasks) : NULL;
    if (status == YL_OK && !text) status = yl_error(YL_ERR_OOM, "synth ls_json: out of memory");
    if (status == YL_OK) status = yl_fs_write_atomic(o->path, text, strlen(text));
    if (status == YL_OK && written) *written = next_id - o->task_id_base;
    free(text);
    cJSON_Delete(tasks);
    return status;
}
