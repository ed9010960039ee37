#include "dataset.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/data/file_util.h"
#include "engine/data/image_io.h"
#include "engine/data/image_resize.h"
#include "engine/data/labels.h"

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static yl_status add_warning(yl_dataset *ds, const char *fmt, ...) {
    char line[1200];
    va_list args;
    va_start(args, fmt);
    vsnprintf(line, sizeof line, fmt, args);
    va_end(args);
    if (ds->warning_count == ds->warning_capacity) {
        int capacity = ds->warning_capacity ? ds->warning_capacity * 2 : 16;
        char **grown = realloc(ds->warnings, (size_t)capacity * sizeof *grown);
        if (!grown) return yl_error(YL_ERR_OOM, "dataset: out of memory");
        ds->warnings = grown;
        ds->warning_capacity = capacity;
    }
    if (!(ds->warnings[ds->warning_count] = yl_strdup(line))) return yl_error(YL_ERR_OOM, "dataset: out of memory");
    ds->warning_count++;
    return YL_OK;
}

// Checks one image and its labels. Returns OK with *usable = 0 (and a warning) for a bad pair;
// an error only for out-of-memory.
static yl_status index_image(yl_dataset *ds, const char *image_path, yl_dataset_item *item, int *usable) {
    *usable = 0;
    memset(item, 0, sizeof *item);
    yl_image_info info;
    if (yl_image_probe(image_path, &info) != YL_OK) {
        ds->counts.corrupt++;
        return add_warning(ds, "ignoring corrupt image/label: %s", yl_last_error());
    }
    char *label_path = yl_label_path_for_image(image_path);
    if (!label_path) return yl_error(YL_ERR_OOM, "dataset: out of memory");
    yl_label_file labels;
    if (yl_labels_read(label_path, ds->nc, &labels) != YL_OK) {
        free(label_path);
        ds->counts.corrupt++;
        return add_warning(ds, "ignoring corrupt image/label: %s (image %s)", yl_last_error(), image_path);
    }
    if (info.jpeg_missing_end_marker)
        YL_TRY(add_warning(ds, "%s: corrupt JPEG (no FFD9 end marker), decoded as is", image_path));
    if (labels.duplicates_removed)
        YL_TRY(add_warning(ds, "%s: %d duplicate labels removed", label_path, labels.duplicates_removed));
    ds->counts.missing += labels.missing;
    ds->counts.empty += labels.empty;
    ds->counts.labels_found += labels.count > 0;
    ds->counts.duplicates += labels.duplicates_removed;
    ds->counts.instances += labels.count;
    item->image_path = yl_strdup(image_path);
    item->label_path = label_path;
    item->width = info.width;
    item->height = info.height;
    item->labels = labels.boxes;
    item->label_count = labels.count;
    if (!item->image_path) return yl_error(YL_ERR_OOM, "dataset: out of memory");
    *usable = 1;
    return YL_OK;
}

static void free_item(yl_dataset_item *item) {
    free(item->image_path);
    free(item->label_path);
    free(item->labels);
    memset(item, 0, sizeof *item);
}

yl_status yl_dataset_build(const char *const *image_paths, int image_count, int nc, yl_dataset *out) {
    if (!out) return yl_error(YL_ERR_INVALID_ARG, "dataset: NULL output");
    memset(out, 0, sizeof *out);
    if (!image_paths && image_count > 0) return yl_error(YL_ERR_INVALID_ARG, "dataset: NULL image list");
    if (image_count <= 0) return yl_error(YL_ERR_INVALID_ARG, "dataset: no images");
    if (nc < 1) return yl_error(YL_ERR_INVALID_ARG, "dataset: nc = %d, expected at least 1", nc);
    out->nc = nc;
    out->items = calloc((size_t)image_count, sizeof *out->items);
    if (!out->items) return yl_error(YL_ERR_OOM, "dataset: out of memory for %d images", image_count);
    yl_status status = YL_OK;
    for (int i = 0; i < image_count && status == YL_OK; i++) {
        int usable = 0;
        if (!image_paths[i]) {
            status = yl_error(YL_ERR_INVALID_ARG, "dataset: image path %d is NULL", i);
            break;
        }
        status = index_image(out, image_paths[i], &out->items[out->count], &usable);
        if (status != YL_OK) free_item(&out->items[out->count]);
        if (usable) out->count++;
    }
    out->counts.images = out->count;
    out->counts.backgrounds = out->counts.missing + out->counts.empty;
    if (status == YL_OK && out->count == 0)
        status = yl_error(YL_ERR_FORMAT, "dataset: none of the %d images is usable (first problem: %s)", image_count,
                          out->warning_count ? out->warnings[0] : "?");
    if (status == YL_OK && out->counts.labels_found == 0) {
        char *label_path = yl_label_path_for_image(out->items[0].image_path);
        char *label_dir = label_path ? yl_path_dirname(label_path) : NULL;
        status = add_warning(out, "no labels found in %s: training may not work correctly",
                             label_dir ? label_dir : "?");
        free(label_dir);
        free(label_path);
    }
    if (status != YL_OK) yl_dataset_free(out);
    return status;
}

yl_status yl_dataset_load_sample(const yl_dataset *dataset, int index, int imgsz, yl_sample *sample) {
    if (!sample) return yl_error(YL_ERR_INVALID_ARG, "dataset sample: NULL output");
    memset(sample, 0, sizeof *sample);
    if (!dataset) return yl_error(YL_ERR_INVALID_ARG, "dataset sample: NULL dataset");
    if (index < 0 || index >= dataset->count)
        return yl_error(YL_ERR_INVALID_ARG, "dataset sample: index %d outside [0, %d)", index, dataset->count);
    const yl_dataset_item *item = &dataset->items[index];
    yl_image_u8 image;
    YL_TRY(yl_image_read(item->image_path, &image));
    if (image.width != item->width || image.height != item->height) {
        yl_image_u8_free(&image);
        return yl_error(YL_ERR_FORMAT, "%s: image is now %dx%d but was %dx%d when the dataset was indexed",
                        item->image_path, image.width, image.height, item->width, item->height);
    }
    int width, height;
    yl_image_fit_long_side(image.width, image.height, imgsz, &width, &height);
    if (width != image.width || height != image.height) {
        yl_image_u8 resized;
        yl_status status = yl_image_resize_linear(&image, width, height, &resized);
        yl_image_u8_free(&image);
        if (status != YL_OK) return yl_error_context(status, "%s", item->image_path);
        image = resized;
    }
    if (item->label_count > 0) {
        sample->labels = malloc((size_t)item->label_count * sizeof *sample->labels);
        if (!sample->labels) {
            yl_image_u8_free(&image);
            return yl_error(YL_ERR_OOM, "%s: out of memory", item->image_path);
        }
        memcpy(sample->labels, item->labels, (size_t)item->label_count * sizeof *sample->labels);
    }
    sample->image = image;
    sample->label_count = item->label_count;
    sample->original_width = item->width;
    sample->original_height = item->height;
    sample->path = item->image_path;
    return YL_OK;
}

void yl_dataset_summary(const yl_dataset *dataset, char *buffer, size_t size) {
    if (!buffer || !size) return;
    if (!dataset) {
        snprintf(buffer, size, "no dataset");
        return;
    }
    const yl_dataset_counts *c = &dataset->counts;
    int n = snprintf(buffer, size, "%d images, %d backgrounds, %d corrupt", c->images, c->backgrounds, c->corrupt);
    if (c->duplicates && n >= 0 && (size_t)n < size)
        snprintf(buffer + n, size - (size_t)n, ", %d duplicate labels removed", c->duplicates);
}

static yl_status source_load(void *ctx, int index, int imgsz, yl_sample *out) {
    return yl_dataset_load_sample(ctx, index, imgsz, out);
}

static yl_status source_image_size(void *ctx, int index, int *width, int *height) {
    const yl_dataset *dataset = ctx;
    if (!width || !height) return yl_error(YL_ERR_INVALID_ARG, "dataset image size: NULL output");
    if (index < 0 || index >= dataset->count)
        return yl_error(YL_ERR_INVALID_ARG, "dataset image size: index %d outside [0, %d)", index, dataset->count);
    *width = dataset->items[index].width;
    *height = dataset->items[index].height;
    return YL_OK;
}

yl_sample_source yl_dataset_sample_source(const yl_dataset *dataset) {
    return (yl_sample_source){.count = dataset ? dataset->count : 0,
                              .load = source_load,
                              .image_size = source_image_size,
                              .ctx = (void *)dataset};
}

void yl_dataset_free(yl_dataset *dataset) {
    if (!dataset) return;
    for (int i = 0; i < dataset->count; i++) free_item(&dataset->items[i]);
    free(dataset->items);
    for (int i = 0; i < dataset->warning_count; i++) free(dataset->warnings[i]);
    free(dataset->warnings);
    memset(dataset, 0, sizeof *dataset);
}
