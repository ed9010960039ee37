#include "cli/labelstudio/dataset.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *join_path(const char *dir, const char *name) {
    size_t n = strlen(dir) + strlen(name) + 2;
    char *path = malloc(n);
    if (path) snprintf(path, n, "%s/%s", dir, name);
    return path;
}

yl_status yl_ls_download_images(yl_ls_client *client, const yl_ls_annotation_set *set, const char *images_dir,
                                const yl_ls_download_options *options, yl_ls_download_stats *stats) {
    yl_ls_download_stats ignored;
    if (!stats) stats = &ignored;
    memset(stats, 0, sizeof *stats);
    if (!client || !set || !images_dir)
        return yl_error(YL_ERR_INVALID_ARG, "image download: NULL client, annotation set or folder");
    yl_ls_download_options o = options ? *options : (yl_ls_download_options){0};
    for (int i = 0; i < set->num_images; i++) {
        const yl_ls_image_labels *image = &set->images[i];
        char *path = join_path(images_dir, image->file_name);
        if (!path) return yl_error(YL_ERR_OOM, "image download: out of memory");
        yl_ls_download_result result;
        yl_status status = yl_ls_download_image(client, image->image_url, image->task_id, path, 0, &result);
        free(path);
        if (o.progress) o.progress(o.user, i + 1, set->num_images, image, status);
        if (status != YL_OK) {
            if (!o.keep_going) return status;
            if (stats->failed++ == 0) snprintf(stats->first_error, sizeof stats->first_error, "%s", yl_last_error());
            continue;
        }
        stats->bytes += result.bytes;
        if (result.skipped) stats->skipped++;
        else if (!strcmp(result.source, "disk")) stats->from_disk++;
        else stats->downloaded++;
    }
    return YL_OK;
}

// The file name without its extension ("a.b.jpg" -> "a.b"), into out.
static void stem_of(const char *name, char *out, size_t capacity) {
    const char *dot = strrchr(name, '.');
    size_t n = dot && dot != name ? (size_t)(dot - name) : strlen(name);
    snprintf(out, capacity, "%.*s", (int)n, name);
}

static int by_stem(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

yl_status yl_ls_write_label_files(const yl_ls_annotation_set *set, const char *labels_dir) {
    if (!set || !labels_dir) return yl_error(YL_ERR_INVALID_ARG, "label files: NULL annotation set or folder");
    int n = set->num_images;
    // Each entry: "<stem>\0<index>" so a sorted scan finds clashes in O(n log n).
    char **stems = calloc((size_t)(n ? n : 1), sizeof(char *));
    yl_status status = stems ? YL_OK : yl_error(YL_ERR_OOM, "label files: out of memory");
    for (int i = 0; status == YL_OK && i < n; i++) {
        char stem[512];
        stem_of(set->images[i].file_name, stem, sizeof stem);
        size_t length = strlen(stem);
        stems[i] = malloc(length + 16);
        if (!stems[i]) status = yl_error(YL_ERR_OOM, "label files: out of memory");
        else {
            memcpy(stems[i], stem, length + 1);
            snprintf(stems[i] + length + 1, 15, "%d", i);
        }
    }
    if (status == YL_OK) qsort(stems, (size_t)n, sizeof(char *), by_stem);
    for (int k = 1; status == YL_OK && k < n; k++) {
        if (strcmp(stems[k - 1], stems[k]) != 0) continue;
        const yl_ls_image_labels *a = &set->images[atoi(stems[k - 1] + strlen(stems[k - 1]) + 1)];
        const yl_ls_image_labels *b = &set->images[atoi(stems[k] + strlen(stems[k]) + 1)];
        status = yl_error(YL_ERR_FORMAT, "label files: images '%s' (task %ld) and '%s' (task %ld) would share %s.txt",
                          a->file_name, a->task_id, b->file_name, b->task_id, stems[k]);
    }
    for (int i = 0; stems && i < n; i++) free(stems[i]);
    free(stems);
    for (int i = 0; status == YL_OK && i < n; i++) {
        char stem[512], name[520];
        stem_of(set->images[i].file_name, stem, sizeof stem);
        snprintf(name, sizeof name, "%s.txt", stem);
        char *path = join_path(labels_dir, name);
        if (!path) return yl_error(YL_ERR_OOM, "label files: out of memory");
        status = yl_ls_write_yolo_labels(&set->images[i], path);
        free(path);
    }
    return status;
}
