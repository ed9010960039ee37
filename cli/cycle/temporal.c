// Temporal separation: a key-based diff of two snapshots, and the per-cycle datasets built from
// hard links into the current snapshot (nothing is copied, and the snapshot is never modified).
#define _XOPEN_SOURCE 700  // realpath
#include "cli/cycle/temporal.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/fs_util.h"

void yl_temporal_split_free(yl_temporal_split *split) {
    if (!split) return;
    free(split->eval_items);
    free(split->train_items);
    memset(split, 0, sizeof *split);
}

static int by_key(const void *a, const void *b) {
    return strcmp((*(const yl_snapshot_item *const *)a)->key, (*(const yl_snapshot_item *const *)b)->key);
}

// Pointers to the items sorted by key; NULL when out of memory.
static const yl_snapshot_item **sorted_keys(const yl_snapshot *s) {
    const yl_snapshot_item **order = malloc(sizeof *order * (size_t)(s->num_items ? s->num_items : 1));
    if (!order) return NULL;
    for (int i = 0; i < s->num_items; i++) order[i] = &s->items[i];
    qsort(order, (size_t)s->num_items, sizeof *order, by_key);
    return order;
}

// Index of the item with `key` in s (order from sorted_keys), -1 when absent.
static int find_key(const yl_snapshot *s, const yl_snapshot_item **order, const char *key) {
    int low = 0, high = s->num_items - 1;
    while (low <= high) {
        int mid = low + (high - low) / 2;
        int c = strcmp(order[mid]->key, key);
        if (!c) return (int)(order[mid] - s->items);
        if (c < 0) low = mid + 1;
        else high = mid - 1;
    }
    return -1;
}

yl_status yl_temporal_split_compute(const yl_snapshot *current, const yl_snapshot *previous, yl_temporal_split *out) {
    if (!out) return yl_error(YL_ERR_INVALID_ARG, "temporal split: NULL output");
    memset(out, 0, sizeof *out);
    if (!current) return yl_error(YL_ERR_INVALID_ARG, "temporal split: no current snapshot");
    size_t n = (size_t)(current->num_items ? current->num_items : 1);
    out->eval_items = malloc(sizeof(int) * n);
    out->train_items = malloc(sizeof(int) * n);
    const yl_snapshot_item **previous_order = previous ? sorted_keys(previous) : NULL;
    const yl_snapshot_item **current_order = previous ? sorted_keys(current) : NULL;
    if (!out->eval_items || !out->train_items || (previous && (!previous_order || !current_order))) {
        free((void *)previous_order);
        free((void *)current_order);
        yl_temporal_split_free(out);
        return yl_error(YL_ERR_OOM, "temporal split: out of memory");
    }
    for (int i = 0; i < current->num_items; i++) {
        const yl_snapshot_item *item = &current->items[i];
        int before = previous ? find_key(previous, previous_order, item->key) : -1;
        if (before < 0) {
            out->eval_items[out->num_eval++] = i;  // new since the last evaluated snapshot
            continue;
        }
        const yl_snapshot_item *old = &previous->items[before];
        if (strcmp(old->label_sha256, item->label_sha256) != 0 || strcmp(old->sha256, item->sha256) != 0) {
            out->eval_items[out->num_eval++] = i;  // re-labelled: new verified data
            out->num_relabelled++;
        } else {
            out->train_items[out->num_train++] = i;
        }
    }
    for (int i = 0; previous && i < previous->num_items; i++)
        out->num_removed += find_key(current, current_order, previous->items[i].key) < 0;
    free((void *)previous_order);
    free((void *)current_order);
    return YL_OK;
}

// ---- the files -----------------------------------------------------------------------------------

typedef struct {
    char *data;
    size_t size, capacity;
} text;

static yl_status append(text *t, const char *s) {
    size_t n = strlen(s);
    if (t->size + n + 1 > t->capacity) {
        size_t next = (t->capacity ? t->capacity * 2 : 4096) + n;
        char *grown = realloc(t->data, next);
        if (!grown) return yl_error(YL_ERR_OOM, "temporal: out of memory");
        t->data = grown;
        t->capacity = next;
    }
    memcpy(t->data + t->size, s, n + 1);
    t->size += n;
    return YL_OK;
}

// A double-quoted YAML scalar.
static yl_status append_quoted(text *t, const char *s) {
    YL_TRY(append(t, "\""));
    for (const char *p = s; *p; p++) {
        char piece[8];
        if (*p == '"' || *p == '\\') snprintf(piece, sizeof piece, "\\%c", *p);
        else if ((unsigned char)*p < 0x20) snprintf(piece, sizeof piece, "\\x%02x", (unsigned char)*p);
        else snprintf(piece, sizeof piece, "%c", *p);
        YL_TRY(append(t, piece));
    }
    return append(t, "\"");
}

static const char *base_name(const char *path) {
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

// <tmp>/<set>/{images,labels}/ linked from the snapshot, and <tmp>/<set>.txt listing the images
// by their final path (<final>/<set>/images/<name>).
static yl_status write_set(const yl_snapshot *snapshot, const int *indices, int count, const char *tmp,
                           const char *final_dir, const char *set) {
    char path[2048], from[2048];
    for (int k = 0; k < 2; k++) {
        YL_TRY(yl_path_format(path, sizeof path, "temporal", "%s/%s/%s", tmp, set, k ? "labels" : "images"));
        YL_TRY(yl_fs_mkdirs(path));
    }
    text list = {0};
    yl_status status = append(&list, "");
    for (int i = 0; status == YL_OK && i < count; i++) {
        const yl_snapshot_item *item = &snapshot->items[indices[i]];
        const char *files[2] = {item->image, item->label};
        for (int k = 0; status == YL_OK && k < 2; k++) {
            status = yl_path_format(from, sizeof from, "temporal", "%s/%s", snapshot->dir, files[k]);
            if (status == YL_OK)
                status = yl_path_format(path, sizeof path, "temporal", "%s/%s/%s/%s", tmp, set, k ? "labels" : "images",
                                     base_name(files[k]));
            if (status == YL_OK) status = yl_fs_link_or_copy(from, path);
        }
        if (status == YL_OK)
            status = yl_path_format(path, sizeof path, "temporal", "%s/%s/images/%s\n", final_dir, set, base_name(item->image));
        if (status == YL_OK) status = append(&list, path);
    }
    if (status == YL_OK) status = yl_path_format(path, sizeof path, "temporal", "%s/%s.txt", tmp, set);
    if (status == YL_OK) status = yl_fs_write_atomic(path, list.data, list.size);
    free(list.data);
    return status;
}

static yl_status write_yaml(const yl_workspace_config *config, const char *cycle, const yl_snapshot *snapshot,
                            const char *tmp, const char *final_dir, const char *set, const char *file) {
    text t = {0};
    char line[512];
    snprintf(line, sizeof line, "# yoloop cycle %s, snapshot %s: the %s set (temporal.h)\npath: ", cycle,
             snapshot->id, !strcmp(set, "eval") ? "evaluation" : "training");
    yl_status status = append(&t, line);
    if (status == YL_OK) status = append_quoted(&t, final_dir);
    snprintf(line, sizeof line, "\ntrain: %s.txt\nval: %s.txt\nnc: %d\nnames: [", set, set, config->nc);
    if (status == YL_OK) status = append(&t, line);
    for (int i = 0; status == YL_OK && i < config->nc; i++) {
        if (i) status = append(&t, ", ");
        if (status == YL_OK) status = append_quoted(&t, config->names[i]);
    }
    if (status == YL_OK) status = append(&t, "]\n");
    char path[2048];
    if (status == YL_OK) status = yl_path_format(path, sizeof path, "temporal", "%s/%s", tmp, file);
    if (status == YL_OK) status = yl_fs_write_atomic(path, t.data, t.size);
    free(t.data);
    return status;
}

static int valid_cycle_id(const char *cycle) {
    return cycle && cycle[0] && cycle[0] != '.' && !strchr(cycle, '/') && strlen(cycle) < 200;
}

static yl_status build(const yl_workspace_config *config, const char *cycle, const yl_snapshot *current,
                       const yl_temporal_split *split, const char *tmp, const char *final_dir) {
    YL_TRY(yl_fs_mkdirs(tmp));
    YL_TRY(write_set(current, split->eval_items, split->num_eval, tmp, final_dir, "eval"));
    YL_TRY(write_set(current, split->train_items, split->num_train, tmp, final_dir, "train"));
    YL_TRY(write_yaml(config, cycle, current, tmp, final_dir, "eval", "data_eval.yaml"));
    YL_TRY(write_yaml(config, cycle, current, tmp, final_dir, "train", "data_train.yaml"));
    return yl_fs_fsync_dir(tmp);
}

yl_status yl_temporal_build(const yl_workspace_config *config, const char *cycle, const yl_snapshot *current,
                            yl_temporal_split *split) {
    if (!config || !config->root || !current || !split || !current->dir[0])
        return yl_error(YL_ERR_INVALID_ARG, "temporal build: NULL configuration, snapshot or split");
    if (!valid_cycle_id(cycle))
        return yl_error(YL_ERR_INVALID_ARG, "temporal build: bad cycle id '%s'", cycle ? cycle : "(null)");
    char relative[1024], cycles[PATH_MAX], tmp[PATH_MAX + 300];
    YL_TRY(yl_workspace_path(config, "cycles", relative, sizeof relative));
    YL_TRY(yl_fs_mkdirs(relative));
    // Absolute paths in the list files and yaml: the engine reads them from any working directory.
    if (!realpath(relative, cycles)) return yl_error(YL_ERR_IO, "%s: cannot resolve: %s", relative, strerror(errno));
    YL_TRY(yl_path_format(split->dir, sizeof split->dir, "temporal", "%s/%s", cycles, cycle));
    YL_TRY(yl_path_format(tmp, sizeof tmp, "temporal", "%s/.%s.tmp.%ld", cycles, cycle, (long)getpid()));
    YL_TRY(yl_path_format(split->eval_list, sizeof split->eval_list, "temporal", "%s/eval.txt", split->dir));
    YL_TRY(yl_path_format(split->train_list, sizeof split->train_list, "temporal", "%s/train.txt", split->dir));
    YL_TRY(yl_path_format(split->eval_yaml, sizeof split->eval_yaml, "temporal", "%s/data_eval.yaml", split->dir));
    YL_TRY(yl_path_format(split->train_yaml, sizeof split->train_yaml, "temporal", "%s/data_train.yaml", split->dir));
    YL_TRY(yl_fs_remove_tree(tmp));
    yl_status status = build(config, cycle, current, split, tmp, split->dir);
    // Derived data: the old folder goes first; a crash in between leaves no folder, and the next
    // run rebuilds it from the snapshot.
    if (status == YL_OK) status = yl_fs_remove_tree(split->dir);
    if (status == YL_OK) status = yl_fs_rename_durable(tmp, split->dir);
    if (status != YL_OK) {
        char message[1024];
        snprintf(message, sizeof message, "%s", yl_last_error());
        yl_fs_remove_tree(tmp);
        return yl_error(status, "temporal build of cycle %s: %s", cycle, message);
    }
    return YL_OK;
}
