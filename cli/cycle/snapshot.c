// Snapshot folders: built under snapshots/.<stamp>.tmp.<pid>/ and renamed into place only when
// complete, so a killed run never leaves a partial snapshot that a later cycle could read.
#include "cli/cycle/snapshot.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include "cli/cycle/snapshot_internal.h"
#include "cli/fs_util.h"
#include "engine/data/image_io.h"

// ---- builder helpers ----------------------------------------------------------------------------

void yl_snapshot_logf(yl_snapshot_builder *b, const char *fmt, ...) {
    if (!b->log) return;
    char line[1024];
    va_list args;
    va_start(args, fmt);
    vsnprintf(line, sizeof line, fmt, args);
    va_end(args);
    b->log(b->user, line);
}

yl_status yl_snapshot_warn(yl_snapshot_builder *b, const char *fmt, ...) {
    char line[1024];
    va_list args;
    va_start(args, fmt);
    vsnprintf(line, sizeof line, fmt, args);
    va_end(args);
    yl_snapshot *s = b->snapshot;
    char **grown = realloc(s->warnings, sizeof(char *) * (size_t)(s->num_warnings + 1));
    if (!grown) return yl_error(YL_ERR_OOM, "snapshot: out of memory");
    s->warnings = grown;
    if (!(s->warnings[s->num_warnings] = strdup(line))) return yl_error(YL_ERR_OOM, "snapshot: out of memory");
    s->num_warnings++;
    if (b->log) {
        char logged[1100];
        snprintf(logged, sizeof logged, "warning: %s", line);
        b->log(b->user, logged);
    }
    return YL_OK;
}

void yl_snapshot_label_name(const char *image_name, char *out, size_t size) {
    const char *dot = strrchr(image_name, '.');
    size_t n = dot && dot != image_name ? (size_t)(dot - image_name) : strlen(image_name);
    snprintf(out, size, "%.*s.txt", (int)n, image_name);
}

// fsync of a file already written (hard links into the download cache were written by others).
static yl_status fsync_file(const char *path) {
    int fd = open(path, O_RDONLY);
    if (fd < 0) return yl_error(YL_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    int rc = fsync(fd);
    int saved = errno;
    close(fd);
    if (rc != 0) return yl_error(YL_ERR_IO, "%s: fsync: %s", path, strerror(saved));
    return YL_OK;
}

// A snapshot must not change after it is taken. Images of a manual export live in the user's
// folder, where a hard link would follow an in-place edit, so they are first copied into
// cache/images/ under their content hash (one copy per distinct image, shared by every snapshot);
// images the Label Studio source downloaded are already there.
static yl_status link_through_cache(yl_snapshot_builder *b, const yl_snapshot_item_spec *spec, const char *image_dst) {
    char cache_dir[1024], cached[1800], sha[65];
    YL_TRY(yl_workspace_path(b->config, "cache/images", cache_dir, sizeof cache_dir));
    size_t n = strlen(cache_dir);
    if (!strncmp(spec->image_path, cache_dir, n) && spec->image_path[n] == '/')
        return yl_fs_link_or_copy(spec->image_path, image_dst);
    YL_TRY(yl_fs_mkdirs(cache_dir));
    YL_TRY(yl_fs_sha256_file(spec->image_path, sha));
    snprintf(cached, sizeof cached, "%s/sha256-%.16s_%s", cache_dir, sha, spec->image_name);
    if (!yl_fs_is_file(cached)) YL_TRY(yl_fs_copy_file(spec->image_path, cached));
    return yl_fs_link_or_copy(cached, image_dst);
}

yl_status yl_snapshot_add_item(yl_snapshot_builder *b, const yl_snapshot_item_spec *spec, int *added) {
    *added = 0;
    char label_name[600], image_rel[600], label_rel[620], image_dst[1700], label_dst[1700];
    yl_snapshot_label_name(spec->image_name, label_name, sizeof label_name);
    snprintf(image_rel, sizeof image_rel, "images/%s", spec->image_name);
    snprintf(label_rel, sizeof label_rel, "labels/%s", label_name);
    snprintf(image_dst, sizeof image_dst, "%s/%s", b->dir, image_rel);
    snprintf(label_dst, sizeof label_dst, "%s/%s", b->dir, label_rel);
    if (yl_fs_exists(label_dst) || yl_fs_exists(image_dst))
        return yl_snapshot_warn(b, "%s: image '%s' would share %s with an earlier image; skipped", spec->key,
                                spec->image_name, label_rel);
    YL_TRY(link_through_cache(b, spec, image_dst));
    YL_TRY(fsync_file(image_dst));
    size_t label_size = strlen(spec->label_text);
    YL_TRY(yl_fs_write_atomic(label_dst, spec->label_text, label_size));

    yl_snapshot *s = b->snapshot;
    if (s->num_items == b->items_capacity) {
        int next = b->items_capacity ? b->items_capacity * 2 : 64;
        yl_snapshot_item *grown = realloc(s->items, sizeof(yl_snapshot_item) * (size_t)next);
        if (!grown) return yl_error(YL_ERR_OOM, "snapshot: out of memory");
        s->items = grown;
        b->items_capacity = next;
    }
    yl_snapshot_item *item = &s->items[s->num_items];
    memset(item, 0, sizeof *item);
    snprintf(item->key, sizeof item->key, "%s", spec->key);
    item->task_id = spec->task_id;
    item->annotation_id = spec->annotation_id;
    snprintf(item->updated_at, sizeof item->updated_at, "%s", spec->updated_at ? spec->updated_at : "");
    item->image = strdup(image_rel);
    item->label = strdup(label_rel);
    if (!item->image || !item->label) {
        free(item->image);
        free(item->label);
        return yl_error(YL_ERR_OOM, "snapshot: out of memory");
    }
    s->num_items++;  // owned by the snapshot from here on
    YL_TRY(yl_fs_sha256_file(image_dst, item->sha256));
    yl_sha256_hex(spec->label_text, label_size, item->label_sha256);
    item->boxes = spec->boxes;
    item->width = spec->width;
    item->height = spec->height;
    *added = 1;
    return YL_OK;
}

yl_status yl_snapshot_names_config(const yl_workspace_config *config, const char *control, const char *image_key,
                                   yl_ls_label_config *out) {
    memset(out, 0, sizeof *out);
    out->score_threshold = -1;
    out->num_rectangle_controls = 1;
    out->control_name = strdup(control);
    out->object_name = strdup("image");
    out->image_key = strdup(image_key);
    out->labels = calloc((size_t)config->nc, sizeof *out->labels);
    int ok = out->control_name && out->object_name && out->image_key && out->labels;
    for (int i = 0; ok && i < config->nc; i++) {
        out->labels[i].name = strdup(config->names[i]);
        out->labels[i].value = strdup(config->names[i]);
        out->labels[i].category = -1;
        out->num_labels = i + 1;
        ok = out->labels[i].name && out->labels[i].value;
    }
    if (!ok) {
        yl_ls_label_config_free(out);
        return yl_error(YL_ERR_OOM, "snapshot: out of memory");
    }
    return YL_OK;
}

// YOLO lines "class cx cy w h" (6 decimals, as yl_ls_write_yolo_labels writes them).
static char *label_text_of(const yl_ls_image_labels *image, const int *class_map) {
    size_t capacity = 64 * (size_t)image->num_boxes + 1;
    char *text = malloc(capacity);
    if (!text) return NULL;
    size_t used = 0;
    text[0] = '\0';
    for (int k = 0; k < image->num_boxes; k++) {
        const yl_ls_box *box = &image->boxes[k];
        used += (size_t)snprintf(text + used, capacity - used, "%d %.6f %.6f %.6f %.6f\n",
                                 class_map[box->class_index], box->cx, box->cy, box->w, box->h);
    }
    return text;
}

yl_status yl_snapshot_add_annotation_set(yl_snapshot_builder *b, yl_ls_annotation_set *set, const int *class_map,
                                         yl_snapshot_fetch_fn fetch, void *fetch_user) {
    for (int i = 0; i < set->num_images; i++) {
        yl_ls_image_labels *image = &set->images[i];
        char key[48], path[2048];
        snprintf(key, sizeof key, "task:%ld", image->task_id);
        yl_clear_error();
        if (fetch(fetch_user, image, path, sizeof path) != YL_OK) {
            b->snapshot->images_failed++;
            YL_TRY(yl_snapshot_warn(b, "task %ld: image '%s' skipped: %s", image->task_id, image->file_name,
                                    yl_last_error()));
            continue;
        }
        int width = image->original_width, height = image->original_height;
        if (width <= 0 || height <= 0) {
            yl_image_info info;
            if (yl_image_probe(path, &info) == YL_OK) {
                width = info.width;
                height = info.height;
            } else {
                width = height = 0;
            }
        }
        // A rotated box of an export without original_width/height was hulled in percent units;
        // redo it in pixels now that the file tells the size.
        int kept = 0;
        for (int k = 0; k < image->num_boxes; k++) {
            yl_ls_box *box = &image->boxes[k];
            if (box->needs_size && width > 0 && !yl_ls_box_normalize(box, width, height)) continue;
            if (box->needs_size)
                YL_TRY(yl_snapshot_warn(b, "task %ld: rotated box on '%s' of unknown size: its hull assumes a "
                                           "square image",
                                        image->task_id, image->file_name));
            image->boxes[kept++] = *box;
        }
        for (int k = kept; k < image->num_boxes; k++) free(image->boxes[k].label);
        image->num_boxes = kept;
        char *text = label_text_of(image, class_map);
        if (!text) return yl_error(YL_ERR_OOM, "snapshot: out of memory");
        yl_snapshot_item_spec spec = {.key = key,
                                      .task_id = image->task_id,
                                      .annotation_id = image->annotation_id,
                                      .updated_at = image->updated_at,
                                      .image_name = image->file_name,
                                      .image_path = path,
                                      .label_text = text,
                                      .boxes = image->num_boxes,
                                      .width = width,
                                      .height = height};
        int added = 0;
        yl_status status = yl_snapshot_add_item(b, &spec, &added);
        free(text);
        YL_TRY(status);
    }
    return YL_OK;
}

// ---- the folder ------------------------------------------------------------------------------------

// ".<stamp>.tmp.<pid>": the pid of the run that built it, or -1 when the name is not a temp folder.
static long temp_owner(const char *name) {
    if (name[0] != '.') return -1;
    const char *tag = strstr(name, ".tmp.");
    if (!tag) return -1;
    char *end = NULL;
    long pid = strtol(tag + 5, &end, 10);
    return end != tag + 5 && !*end && pid > 0 ? pid : -1;
}

// Removes temp folders of runs that are gone (killed or crashed), and our own; a live run's
// folder is left alone.
static yl_status remove_stale_temps(yl_snapshot_builder *b, const char *snapshots) {
    char **names = NULL;
    int count = 0;
    YL_TRY(yl_fs_list_dir(snapshots, &names, &count));
    yl_status status = YL_OK;
    for (int i = 0; i < count && status == YL_OK; i++) {
        long pid = temp_owner(names[i]);
        if (pid < 0) continue;
        int mine = pid == (long)getpid();
        int gone = pid > 0x7fffffffL || (kill((pid_t)pid, 0) != 0 && errno == ESRCH);
        if (!mine && !gone) continue;
        char path[2048];
        snprintf(path, sizeof path, "%s/%s", snapshots, names[i]);
        status = yl_fs_remove_tree(path);
        if (status == YL_OK) yl_snapshot_logf(b, "removed %s, left by an interrupted snapshot", names[i]);
    }
    yl_fs_free_names(names, count);
    return status;
}

static yl_status run_source(yl_snapshot_builder *b) {
    switch (b->config->source) {
    case YL_SOURCE_LABEL_STUDIO:
        return yl_snapshot_from_label_studio(b);
    case YL_SOURCE_JSON_EXPORT:
        return yl_snapshot_from_json_export(b);
    case YL_SOURCE_YOLO_EXPORT:
        return yl_snapshot_from_yolo_export(b);
    }
    return yl_error(YL_ERR_INVALID_ARG, "snapshot: unknown source kind %d", (int)b->config->source);
}

static yl_status fill(yl_snapshot_builder *b) {
    char sub[1100];
    snprintf(sub, sizeof sub, "%s/images", b->dir);
    YL_TRY(yl_fs_mkdirs(sub));
    snprintf(sub, sizeof sub, "%s/labels", b->dir);
    YL_TRY(yl_fs_mkdirs(sub));
    YL_TRY(run_source(b));
    yl_snapshot *s = b->snapshot;
    s->boxes_rotated = b->counts.boxes_rotated;
    s->boxes_clamped = b->counts.boxes_clamped;
    char created_at[32];
    yl_utc_now_iso(created_at);
    YL_TRY(yl_snapshot_manifest_write(b, created_at));
    snprintf(sub, sizeof sub, "%s/images", b->dir);
    YL_TRY(yl_fs_fsync_dir(sub));
    snprintf(sub, sizeof sub, "%s/labels", b->dir);
    YL_TRY(yl_fs_fsync_dir(sub));
    return yl_fs_fsync_dir(b->dir);
}

yl_status yl_snapshot_create(const yl_workspace_config *config, yl_snapshot_log_fn log, void *user,
                             yl_snapshot *out) {
    if (!out) return yl_error(YL_ERR_INVALID_ARG, "snapshot: NULL output");
    memset(out, 0, sizeof *out);
    if (!config || !config->root || config->nc < 1)
        return yl_error(YL_ERR_INVALID_ARG, "snapshot: a loaded workspace configuration is required");
    yl_snapshot_builder b = {.config = config, .log = log, .user = user, .snapshot = out};
    char snapshots[1024];
    YL_TRY(yl_workspace_path(config, "snapshots", snapshots, sizeof snapshots));
    YL_TRY(yl_fs_mkdirs(snapshots));
    YL_TRY(remove_stale_temps(&b, snapshots));

    char stamp[32];
    yl_utc_now_stamp(stamp);
    YL_TRY(yl_path_format(out->id, sizeof out->id, "snapshot", "%s", stamp));
    for (int n = 2;; n++) {
        YL_TRY(yl_path_format(out->dir, sizeof out->dir, "snapshot", "%s/%s", snapshots, out->id));
        if (!yl_fs_exists(out->dir)) break;
        YL_TRY(yl_path_format(out->id, sizeof out->id, "snapshot", "%s-%d", stamp, n));
    }
    YL_TRY(yl_path_format(b.dir, sizeof b.dir, "snapshot", "%s/.%s.tmp.%ld", snapshots, out->id, (long)getpid()));
    yl_status status = yl_fs_mkdirs(b.dir);
    if (status == YL_OK) status = fill(&b);
    if (status == YL_OK) status = yl_fs_rename_durable(b.dir, out->dir);
    if (status != YL_OK) {
        // Keep the message of the failure, not of the clean-up.
        char message[1024];
        snprintf(message, sizeof message, "%s", yl_last_error());
        yl_fs_remove_tree(b.dir);
        yl_snapshot_free(out);
        cJSON_Delete(b.source);
        return yl_error(status, "snapshot: %s", message);
    }
    cJSON_Delete(b.source);
    yl_snapshot_logf(&b, "snapshot %s: %d items, %ld images failed, %d warnings", out->id, out->num_items,
                     out->images_failed, out->num_warnings);
    return YL_OK;
}

yl_status yl_snapshot_load(const yl_workspace_config *config, const char *id, yl_snapshot *out) {
    if (!out) return yl_error(YL_ERR_INVALID_ARG, "snapshot load: NULL output");
    memset(out, 0, sizeof *out);
    if (!config || !config->root || !id || !id[0] || strchr(id, '/') || id[0] == '.')
        return yl_error(YL_ERR_INVALID_ARG, "snapshot load: bad snapshot id '%s'", id ? id : "(null)");
    char snapshots[1024];
    YL_TRY(yl_workspace_path(config, "snapshots", snapshots, sizeof snapshots));
    char dir[sizeof out->dir];
    YL_TRY(yl_path_format(dir, sizeof dir, "snapshot", "%s/%s", snapshots, id));
    if (!yl_fs_is_dir(dir)) return yl_error(YL_ERR_IO, "snapshot %s: %s does not exist", id, dir);
    yl_status status = yl_snapshot_manifest_read(dir, out);
    if (status != YL_OK) {
        yl_snapshot_free(out);
        return status;
    }
    if (strcmp(out->id, id) != 0) {
        status = yl_error(YL_ERR_FORMAT, "%s/manifest.json: id '%s' does not match the folder name '%s'", dir,
                          out->id, id);
        yl_snapshot_free(out);
        return status;
    }
    memcpy(out->dir, dir, sizeof out->dir);
    return YL_OK;
}

void yl_snapshot_free(yl_snapshot *s) {
    if (!s) return;
    for (int i = 0; i < s->num_items; i++) {
        free(s->items[i].image);
        free(s->items[i].label);
    }
    free(s->items);
    for (int i = 0; i < s->num_warnings; i++) free(s->warnings[i]);
    free(s->warnings);
    memset(s, 0, sizeof *s);
}

// "<stamp>[-N]": by stamp, then by N (so -10 comes after -9).
static int by_id(const void *a, const void *b) {
    const char *x = *(char *const *)a, *y = *(char *const *)b;
    size_t nx = strcspn(x, "-"), ny = strcspn(y, "-");
    int c = strncmp(x, y, nx < ny ? nx : ny);
    if (c || nx != ny) return c ? c : (nx < ny ? -1 : 1);
    long sx = x[nx] ? strtol(x + nx + 1, NULL, 10) : 1, sy = y[ny] ? strtol(y + ny + 1, NULL, 10) : 1;
    return (sx > sy) - (sx < sy);
}

yl_status yl_snapshot_list(const yl_workspace_config *config, char ***ids, int *count) {
    if (!config || !ids || !count) return yl_error(YL_ERR_INVALID_ARG, "snapshot list: NULL argument");
    *ids = NULL;
    *count = 0;
    char snapshots[1024];
    YL_TRY(yl_workspace_path(config, "snapshots", snapshots, sizeof snapshots));
    if (!yl_fs_is_dir(snapshots)) return YL_OK;
    char **names = NULL;
    int n = 0;
    YL_TRY(yl_fs_list_dir(snapshots, &names, &n));
    int kept = 0;
    for (int i = 0; i < n; i++) {
        char manifest[2048];
        snprintf(manifest, sizeof manifest, "%s/%s/manifest.json", snapshots, names[i]);
        // Temp folders start with '.'; a folder without a manifest is not a snapshot.
        if (names[i][0] != '.' && yl_fs_is_file(manifest)) names[kept++] = names[i];
        else free(names[i]);
    }
    qsort(names, (size_t)kept, sizeof *names, by_id);
    if (!kept) {
        free(names);
        names = NULL;
    }
    *ids = names;
    *count = kept;
    return YL_OK;
}
