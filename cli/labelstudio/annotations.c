#include "cli/labelstudio/annotations.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli/labelstudio/json_util.h"
#include "cli/labelstudio/url.h"

static char *copy_string(const char *s) {
    if (!s) s = "";
    char *copy = malloc(strlen(s) + 1);
    if (copy) strcpy(copy, s);
    return copy;
}

static long long days_from_civil(long long y, unsigned m, unsigned d) {  // proleptic Gregorian
    y -= m <= 2;
    long long era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (long long)doe - 719468;
}

double yl_ls_parse_timestamp(const char *text) {
    if (!text) return -1;
    int year, month, day, hour, minute, second, consumed = 0;
    char separator;
    if (sscanf(text, "%4d-%2d-%2d%c%2d:%2d:%2d%n", &year, &month, &day, &separator, &hour, &minute, &second,
               &consumed) != 7 ||
        (separator != 'T' && separator != 't' && separator != ' '))
        return -1;
    if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) return -1;
    const char *p = text + consumed;
    double fraction = 0.0;
    if (*p == '.') {
        double scale = 0.1;
        for (p++; isdigit((unsigned char)*p); p++, scale /= 10) fraction += (*p - '0') * scale;
    }
    double offset = 0.0;
    if (*p == '+' || *p == '-') {
        int oh = 0, om = 0;
        if (sscanf(p + 1, "%2d:%2d", &oh, &om) < 1) return -1;
        offset = (*p == '+' ? 1 : -1) * (oh * 3600.0 + om * 60.0);
    } else if (*p != 'Z' && *p != 'z' && *p != '\0') {
        return -1;
    }
    double days = (double)days_from_civil(year, (unsigned)month, (unsigned)day);
    return days * 86400.0 + hour * 3600.0 + minute * 60.0 + second + fraction - offset;
}

int yl_ls_annotation_is_verified(const cJSON *annotation, int trust_imported) {
    if (!cJSON_IsObject(annotation) || yl_json_bool(annotation, "was_cancelled", 0)) return 0;
    if (yl_json_bool(annotation, "ground_truth", 0)) return 1;  // a manager marked it
    const char *action = yl_json_string(annotation, "last_action");
    if (action) {
        if (!strcmp(action, "prediction") || !strcmp(action, "propagated_annotation") || !strcmp(action, "rejected") ||
            !strcmp(action, "skipped"))
            return 0;
        if (!strcmp(action, "imported")) return trust_imported;
        return 1;  // submitted, updated, accepted, fixed_and_accepted, deleted_review, ...
    }
    const cJSON *import_id = cJSON_GetObjectItemCaseSensitive(annotation, "import_id");
    if (cJSON_IsNumber(import_id)) return trust_imported;
    return 1;  // older exports carry no last_action
}

// 1 when annotation `a` should win over `b` (both verified).
static int better_annotation(const cJSON *a, const cJSON *b) {
    int gt_a = yl_json_bool(a, "ground_truth", 0), gt_b = yl_json_bool(b, "ground_truth", 0);
    if (gt_a != gt_b) return gt_a;
    double ta = yl_ls_parse_timestamp(yl_json_string(a, "updated_at"));
    double tb = yl_ls_parse_timestamp(yl_json_string(b, "updated_at"));
    if (ta < 0) ta = yl_ls_parse_timestamp(yl_json_string(a, "created_at"));
    if (tb < 0) tb = yl_ls_parse_timestamp(yl_json_string(b, "created_at"));
    if (ta != tb) return ta > tb;
    return yl_json_int(a, "id", 0) > yl_json_int(b, "id", 0);
}

typedef struct {
    const yl_ls_parse_options *options;
    yl_ls_annotation_set *set;
    int images_capacity;
} parser;

static yl_status note_unknown_label(parser *p, const char *label, long task_id) {
    if (!p->options->allow_unknown_labels) {
        const yl_ls_label_config *config = p->options->config;
        char known[512] = "";
        size_t used = 0;
        for (int i = 0; i < config->num_labels && used < sizeof known; i++) {
            int n = snprintf(known + used, sizeof known - used, "%s'%s'", i ? ", " : "", config->labels[i].name);
            if (n < 0) break;
            used += (size_t)n;
        }
        return yl_error(YL_ERR_FORMAT,
                        "task %ld: label '%s' is not a class of the label config (%s); refusing to guess a class id",
                        task_id, label, known);
    }
    yl_ls_annotation_set *set = p->set;
    for (int i = 0; i < set->num_unknown_labels; i++)
        if (!strcmp(set->unknown_labels[i], label)) return YL_OK;
    char **grown = realloc(set->unknown_labels, sizeof(char *) * (size_t)(set->num_unknown_labels + 1));
    if (!grown) return yl_error(YL_ERR_OOM, "annotations: out of memory");
    set->unknown_labels = grown;
    if (!(set->unknown_labels[set->num_unknown_labels] = copy_string(label)))
        return yl_error(YL_ERR_OOM, "annotations: out of memory");
    set->num_unknown_labels++;
    return YL_OK;
}

static int is_rectangle_region(const cJSON *region, const yl_ls_label_config *config) {
    const char *type = yl_json_string(region, "type");
    if (!type || strcasecmp(type, "rectanglelabels") != 0) return 0;
    const char *from_name = yl_json_string(region, "from_name");
    return !from_name || !strcmp(from_name, config->control_name);
}

static yl_status add_box(parser *p, yl_ls_image_labels *image, const cJSON *region, const char *label, int *capacity) {
    const cJSON *value = cJSON_GetObjectItemCaseSensitive(region, "value");
    yl_ls_box box = {0};
    box.x = yl_json_number(value, "x", NAN);
    box.y = yl_json_number(value, "y", NAN);
    box.width = yl_json_number(value, "width", NAN);
    box.height = yl_json_number(value, "height", NAN);
    box.rotation = yl_json_number(value, "rotation", 0.0);
    if (isnan(box.x) || isnan(box.y) || isnan(box.width) || isnan(box.height) || !isfinite(box.rotation))
        return yl_error(YL_ERR_FORMAT, "task %ld, annotation %ld: a rectangle without numeric x, y, width, height",
                        image->task_id, image->annotation_id);
    yl_ls_annotation_counts *counts = &p->set->counts;
    box.class_index = yl_ls_label_config_find(p->options->config, label);
    if (box.class_index < 0) YL_TRY(note_unknown_label(p, label, image->task_id));
    if (!yl_ls_box_normalize(&box, image->original_width, image->original_height)) {
        counts->boxes_dropped_empty++;
        return YL_OK;
    }
    if (image->num_boxes == *capacity) {
        int next = *capacity ? *capacity * 2 : 8;
        yl_ls_box *grown = realloc(image->boxes, sizeof(yl_ls_box) * (size_t)next);
        if (!grown) return yl_error(YL_ERR_OOM, "annotations: out of memory");
        image->boxes = grown;
        *capacity = next;
    }
    if (!(box.label = copy_string(label))) return yl_error(YL_ERR_OOM, "annotations: out of memory");
    image->boxes[image->num_boxes++] = box;
    return YL_OK;
}

static yl_status read_regions(parser *p, yl_ls_image_labels *image, const cJSON *annotation) {
    const cJSON *result = cJSON_GetObjectItemCaseSensitive(annotation, "result");
    const yl_ls_label_config *config = p->options->config;
    const cJSON *region;
    // The image size is the same on every region; take the first one that has it.
    cJSON_ArrayForEach(region, result) {
        long long w = yl_json_int(region, "original_width", 0), h = yl_json_int(region, "original_height", 0);
        if (w > 0 && h > 0) {
            image->original_width = (int)w;
            image->original_height = (int)h;
            break;
        }
    }
    int capacity = 0;
    cJSON_ArrayForEach(region, result) {
        if (!is_rectangle_region(region, config)) {
            p->set->counts.regions_ignored++;
            continue;
        }
        const cJSON *labels = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(region, "value"),
                                                               "rectanglelabels");
        const cJSON *label;
        int any = 0;
        cJSON_ArrayForEach(label, labels) {  // a region may carry several labels (choice="multiple")
            if (!cJSON_IsString(label)) continue;
            any = 1;
            YL_TRY(add_box(p, image, region, label->valuestring, &capacity));
        }
        if (!any) p->set->counts.regions_ignored++;  // a rectangle with no label: nothing to learn
    }
    return YL_OK;
}

static void free_image(yl_ls_image_labels *image) {
    for (int i = 0; i < image->num_boxes; i++) free(image->boxes[i].label);
    free(image->boxes);
    free(image->image_url);
    free(image->file_name);
    free(image->updated_at);
    memset(image, 0, sizeof *image);
}

static const char *image_url_of(const cJSON *data, const char *key) {
    const char *url = yl_json_string(data, key);
    if (!url || !*url) url = yl_json_string(data, "$undefined$");  // direct uploads (spec §9.13)
    return url && *url ? url : NULL;
}

static yl_status parse_task(parser *p, const cJSON *task, int index) {
    yl_ls_annotation_counts *counts = &p->set->counts;
    counts->tasks++;
    const cJSON *data = cJSON_GetObjectItemCaseSensitive(task, "data");
    if (!cJSON_IsObject(task) || !cJSON_IsObject(data))
        return yl_error(YL_ERR_FORMAT,
                        "task #%d has no 'data' object: expected Label Studio's JSON export (not JSON_MIN or CSV)",
                        index);
    long task_id = (long)yl_json_int(task, "id", -1);
    const cJSON *annotations = cJSON_GetObjectItemCaseSensitive(task, "annotations");
    int total = 0, cancelled = 0, verified = 0;
    const cJSON *chosen = NULL, *annotation;
    cJSON_ArrayForEach(annotation, annotations) {
        if (!cJSON_IsObject(annotation)) continue;  // serialized as ids only: nothing to read
        total++;
        if (yl_json_bool(annotation, "was_cancelled", 0)) {
            cancelled++;
            continue;
        }
        if (!yl_ls_annotation_is_verified(annotation, p->options->trust_imported)) {
            counts->annotations_unverified++;
            continue;
        }
        verified++;
        if (!chosen || better_annotation(annotation, chosen)) chosen = annotation;
    }
    counts->annotations_cancelled += cancelled;
    if (total == 0) {
        counts->tasks_without_annotations++;
        return YL_OK;
    }
    if (!chosen) {
        if (cancelled == total) counts->tasks_skipped++;
        else counts->tasks_unverified++;
        return YL_OK;
    }
    counts->annotations_not_chosen += verified - 1;
    const char *url = image_url_of(data, p->options->config->image_key);
    if (!url) {
        counts->tasks_without_image++;
        return YL_OK;
    }
    yl_ls_annotation_set *set = p->set;
    if (set->num_images == p->images_capacity) {
        int next = p->images_capacity ? p->images_capacity * 2 : 64;
        yl_ls_image_labels *grown = realloc(set->images, sizeof(yl_ls_image_labels) * (size_t)next);
        if (!grown) return yl_error(YL_ERR_OOM, "annotations: out of memory");
        set->images = grown;
        p->images_capacity = next;
    }
    yl_ls_image_labels *image = &set->images[set->num_images++];
    memset(image, 0, sizeof *image);
    image->task_id = task_id;
    image->annotation_id = (long)yl_json_int(chosen, "id", -1);
    image->ground_truth = yl_json_bool(chosen, "ground_truth", 0);
    image->num_verified_annotations = verified;
    image->image_url = copy_string(url);
    image->updated_at = copy_string(yl_json_string(chosen, "updated_at"));
    char name[512];
    yl_status status = yl_url_image_file_name(url, name, sizeof name);
    if (status == YL_OK) image->file_name = copy_string(name);
    if (status == YL_OK && (!image->image_url || !image->updated_at || !image->file_name))
        status = yl_error(YL_ERR_OOM, "annotations: out of memory");
    if (status == YL_OK) status = read_regions(p, image, chosen);
    return status;
}

// Two tasks naming the same image file would write one label file twice: keep the better one
// (ground truth first, then the more recently updated annotation). Sorting keeps this
// O(n log n) for large projects; the kept images stay in export order.
static int by_file_name(const void *a, const void *b) {
    const yl_ls_image_labels *ia = *(yl_ls_image_labels *const *)a, *ib = *(yl_ls_image_labels *const *)b;
    int c = strcmp(ia->file_name, ib->file_name);
    return c ? c : (ia > ib) - (ia < ib);  // same array: address order is export order
}

static int better_image(const yl_ls_image_labels *a, const yl_ls_image_labels *b) {
    if (a->ground_truth != b->ground_truth) return a->ground_truth;
    return yl_ls_parse_timestamp(a->updated_at) > yl_ls_parse_timestamp(b->updated_at);
}

static yl_status drop_duplicate_images(yl_ls_annotation_set *set) {
    int n = set->num_images;
    if (n < 2) return YL_OK;
    yl_ls_image_labels **order = malloc(sizeof(*order) * (size_t)n);
    char *dropped = calloc((size_t)n, 1);
    if (!order || !dropped) {
        free(order);
        free(dropped);
        return yl_error(YL_ERR_OOM, "annotations: out of memory");
    }
    for (int i = 0; i < n; i++) order[i] = &set->images[i];
    qsort(order, (size_t)n, sizeof(*order), by_file_name);
    for (int start = 0; start < n;) {
        int end = start + 1;
        yl_ls_image_labels *best = order[start];
        while (end < n && !strcmp(order[end]->file_name, best->file_name)) {
            if (better_image(order[end], best)) best = order[end];
            end++;
        }
        for (int k = start; k < end; k++)
            if (order[k] != best) {
                dropped[order[k] - set->images] = 1;
                set->counts.duplicate_images++;
            }
        start = end;
    }
    int kept = 0;
    for (int i = 0; i < n; i++) {
        if (dropped[i]) {
            free_image(&set->images[i]);
        } else {
            if (kept != i) set->images[kept] = set->images[i];
            kept++;
        }
    }
    set->num_images = kept;
    free(order);
    free(dropped);
    return YL_OK;
}

// Box and image counts of what was kept.
static void count_kept(yl_ls_annotation_set *set) {
    yl_ls_annotation_counts *c = &set->counts;
    c->images = set->num_images;
    for (int i = 0; i < set->num_images; i++) {
        const yl_ls_image_labels *image = &set->images[i];
        c->background_images += image->num_boxes == 0;
        for (int k = 0; k < image->num_boxes; k++) {
            c->boxes++;
            c->boxes_rotated += image->boxes[k].rotated;
            c->boxes_clamped += image->boxes[k].clamped;
            c->boxes_needing_size += image->boxes[k].needs_size;
        }
    }
}

yl_status yl_ls_annotations_parse(const cJSON *tasks, const yl_ls_parse_options *options, yl_ls_annotation_set *out) {
    if (!out) return yl_error(YL_ERR_INVALID_ARG, "annotations: NULL output");
    memset(out, 0, sizeof *out);
    if (!options || !options->config || !options->config->control_name || !options->config->image_key)
        return yl_error(YL_ERR_INVALID_ARG, "annotations: a parsed label config is required");
    if (!cJSON_IsArray(tasks))
        return yl_error(YL_ERR_FORMAT, "annotations: expected a JSON array of tasks (Label Studio's JSON export)");
    parser p = {.options = options, .set = out};
    yl_status status = YL_OK;
    int index = 0;
    const cJSON *task;
    cJSON_ArrayForEach(task, tasks) {
        status = parse_task(&p, task, index++);
        if (status != YL_OK) break;
    }
    if (status == YL_OK) status = drop_duplicate_images(out);
    if (status == YL_OK) count_kept(out);
    if (status != YL_OK) yl_ls_annotation_set_free(out);
    return status;
}

yl_status yl_ls_annotations_parse_file(const char *path, const yl_ls_parse_options *options,
                                       yl_ls_annotation_set *out) {
    if (out) memset(out, 0, sizeof *out);
    cJSON *json = NULL;
    YL_TRY(yl_json_read_file(path, 0, &json));
    yl_status status = yl_ls_annotations_parse(json, options, out);
    cJSON_Delete(json);
    if (status != YL_OK) yl_error_context(status, "%s", path);
    return status;
}

void yl_ls_annotation_set_free(yl_ls_annotation_set *set) {
    if (!set) return;
    for (int i = 0; i < set->num_images; i++) free_image(&set->images[i]);
    free(set->images);
    for (int i = 0; i < set->num_unknown_labels; i++) free(set->unknown_labels[i]);
    free(set->unknown_labels);
    memset(set, 0, sizeof *set);
}
