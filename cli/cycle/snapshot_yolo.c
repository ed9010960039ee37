// Snapshot source: a Label Studio YOLO export folder (classes.txt / notes.json, labels/*.txt) plus
// the images. The export numbers classes alphabetically, not in the model's order: ids are mapped
// through their names (yolo_export.h), never taken as they are.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cycle/snapshot_internal.h"
#include "cli/fs_util.h"
#include "cli/labelstudio/yolo_export.h"
#include "engine/data/file_util.h"
#include "engine/data/image_io.h"

// images/<stem>.<an image extension>; the name found goes to `name`.
static int find_image(const char *stem, char **names, int count, char *name, size_t size) {
    size_t n = strlen(stem);
    for (int i = 0; i < count; i++)
        if (!strncmp(names[i], stem, n) && names[i][n] == '.' && !strchr(names[i] + n + 1, '.') &&
            yl_has_image_extension(names[i])) {
            snprintf(name, size, "%s", names[i]);
            return 1;
        }
    return 0;
}

static int count_lines(const char *text) {
    int lines = 0;
    for (const char *p = text; *p;) {
        const char *end = strchr(p, '\n');
        size_t length = end ? (size_t)(end - p) : strlen(p);
        if (strspn(p, " \t\r") < length) lines++;
        p = end ? end + 1 : p + length;
    }
    return lines;
}

static yl_status add_label_file(yl_snapshot_builder *b, const char *label_path, const char *stem,
                                const char *images_dir, char **images, int num_images, const int *map, int map_size) {
    char image_name[600];
    if (!find_image(stem, images, num_images, image_name, sizeof image_name)) {
        b->snapshot->images_failed++;
        return yl_snapshot_warn(b, "file:%s: no image named %s.<jpg|png|...> in %s; skipped", stem, stem, images_dir);
    }
    char remapped[1200];
    snprintf(remapped, sizeof remapped, "%s/.remap.txt", b->dir);
    yl_status status = yl_ls_yolo_remap_label_file(label_path, remapped, map, map_size);
    char *text = NULL;
    size_t size = 0;
    if (status == YL_OK) status = yl_fs_read_all(remapped, &text, &size);
    remove(remapped);
    if (status != YL_OK) {
        // A malformed label file is a bad sample: skipped, said so, counted as a failed image.
        b->snapshot->images_failed++;
        free(text);
        return yl_snapshot_warn(b, "file:%s: %s; skipped", stem, yl_last_error());
    }
    char image_path[2048], key[48];
    snprintf(image_path, sizeof image_path, "%s/%s", images_dir, image_name);
    // Keys have 47 characters: a longer stem keeps its start and a hash of the whole, so two long
    // names never share a key.
    if (strlen(stem) <= 42) {
        snprintf(key, sizeof key, "file:%s", stem);
    } else {
        char hash[65];
        yl_sha256_hex(stem, strlen(stem), hash);
        snprintf(key, sizeof key, "file:%.25s~%.16s", stem, hash);
    }
    yl_image_info info;
    int known = yl_image_probe(image_path, &info) == YL_OK;
    int boxes = count_lines(text);
    yl_snapshot_item_spec spec = {.key = key,
                                  .task_id = -1,
                                  .annotation_id = -1,
                                  .updated_at = "",
                                  .image_name = image_name,
                                  .image_path = image_path,
                                  .label_text = text,
                                  .boxes = boxes,
                                  .width = known ? info.width : 0,
                                  .height = known ? info.height : 0};
    int added = 0;
    status = yl_snapshot_add_item(b, &spec, &added);
    free(text);
    if (status == YL_OK && added) {
        b->counts.images++;
        b->counts.boxes += boxes;
        b->counts.background_images += boxes == 0;
    }
    return status;
}

static yl_status add_labels(yl_snapshot_builder *b, const char *export_dir, const char *images_dir, const int *map,
                            int map_size) {
    char labels_dir[1100];
    snprintf(labels_dir, sizeof labels_dir, "%s/labels", export_dir);
    if (!yl_fs_is_dir(labels_dir))
        return yl_error(YL_ERR_IO, "yolo export: %s has no labels/ folder (is it a Label Studio YOLO export?)",
                        export_dir);
    char **labels = NULL, **images = NULL;
    int num_labels = 0, num_images = 0;
    yl_status status = yl_fs_list_dir(labels_dir, &labels, &num_labels);
    if (status == YL_OK) status = yl_fs_list_dir(images_dir, &images, &num_images);
    for (int i = 0; status == YL_OK && i < num_labels; i++) {
        size_t n = strlen(labels[i]);
        if (n <= 4 || strcmp(labels[i] + n - 4, ".txt") != 0 || labels[i][0] == '.') continue;
        char stem[600], path[2048];
        snprintf(stem, sizeof stem, "%.*s", (int)(n - 4), labels[i]);
        snprintf(path, sizeof path, "%s/%s", labels_dir, labels[i]);
        status = add_label_file(b, path, stem, images_dir, images, num_images, map, map_size);
    }
    yl_fs_free_names(labels, num_labels);
    yl_fs_free_names(images, num_images);
    return status;
}

yl_status yl_snapshot_from_yolo_export(yl_snapshot_builder *b) {
    const yl_workspace_config *config = b->config;
    const char *export_dir = config->export_path;
    b->source = cJSON_CreateObject();
    if (!b->source) return yl_error(YL_ERR_OOM, "snapshot: out of memory");
    cJSON_AddStringToObject(b->source, "kind", "yolo");
    cJSON_AddStringToObject(b->source, "export", export_dir);
    if (!yl_fs_is_dir(export_dir))
        return yl_error(YL_ERR_IO, "yolo export: %s is not a folder (source.export in yoloop.yaml)", export_dir);
    // The images folder of the config; an export made "with images" carries its own.
    char images_dir[1100];
    snprintf(images_dir, sizeof images_dir, "%s", config->images_dir);
    if (!yl_fs_is_dir(images_dir)) snprintf(images_dir, sizeof images_dir, "%s/images", export_dir);
    if (!yl_fs_is_dir(images_dir))
        return yl_error(YL_ERR_IO, "yolo export: the images folder %s does not exist (source.images in yoloop.yaml)",
                        config->images_dir);
    cJSON_AddStringToObject(b->source, "images", images_dir);

    yl_ls_yolo_classes classes = {0};
    YL_TRY(yl_ls_yolo_export_classes(export_dir, &classes));
    yl_ls_label_config names;
    yl_status status = yl_snapshot_names_config(config, "label", "image", &names);
    int *map = NULL, map_size = 0;
    if (status == YL_OK) {
        status = yl_ls_yolo_class_map(&classes, &names, &map, &map_size);
        if (status != YL_OK)
            yl_error_context(status, "yolo export %s (classes are matched by name to the workspace names)",
                             export_dir);
        yl_ls_label_config_free(&names);
    }
    if (status == YL_OK) {
        cJSON *pairs = cJSON_AddArrayToObject(b->source, "export_classes");
        for (int i = 0; pairs && i < classes.num_classes; i++) {
            cJSON *pair = cJSON_CreateObject();
            cJSON_AddNumberToObject(pair, "id", classes.ids[i]);
            cJSON_AddStringToObject(pair, "name", classes.names[i]);
            cJSON_AddItemToArray(pairs, pair);
        }
        status = add_labels(b, export_dir, images_dir, map, map_size);
    }
    if (status == YL_OK)
        yl_snapshot_logf(b, "yolo export: %ld labelled images (%ld background), %ld without an image",
                         b->counts.images, b->counts.background_images, b->snapshot->images_failed);
    free(map);
    yl_ls_yolo_classes_free(&classes);
    return status;
}
