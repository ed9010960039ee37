#define _XOPEN_SOURCE 700  // realpath
#include "data_yaml.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <yaml.h>

#include "file_util.h"

#define DATA_YAML_MAX_BYTES ((size_t)16 << 20)
#define DATA_YAML_MAX_CLASSES 100000

typedef struct {
    const char *file;  // for messages
    yaml_document_t *doc;
} yaml_source;

static int line_of(const yaml_node_t *node) { return (int)node->start_mark.line + 1; }

static yaml_node_t *child(const yaml_source *src, int id) { return yaml_document_get_node(src->doc, id); }

static int is_null(const yaml_node_t *node) {
    if (!node) return 1;
    if (node->type != YAML_SCALAR_NODE || node->data.scalar.style != YAML_PLAIN_SCALAR_STYLE) return 0;
    const char *v = (const char *)node->data.scalar.value;
    return !v[0] || !strcmp(v, "~") || !strcmp(v, "null") || !strcmp(v, "Null") || !strcmp(v, "NULL");
}

static const char *text_of(const yaml_node_t *node) { return (const char *)node->data.scalar.value; }

// The value of `key` in the top-level mapping; the last one wins, as in PyYAML.
static yaml_node_t *lookup(const yaml_source *src, const yaml_node_t *mapping, const char *key) {
    yaml_node_t *found = NULL;
    for (yaml_node_pair_t *pair = mapping->data.mapping.pairs.start; pair < mapping->data.mapping.pairs.top; pair++) {
        yaml_node_t *k = child(src, pair->key);
        if (k && k->type == YAML_SCALAR_NODE && !strcmp(text_of(k), key)) found = child(src, pair->value);
    }
    return found;
}

static int parse_int(const char *text, long *out) {
    char *end = NULL;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (errno || end == text || *end) return 0;
    *out = v;
    return 1;
}

// ---- names / nc --------------------------------------------------------------------------

static yl_status names_from_list(const yaml_source *src, const yaml_node_t *node, yl_data_config *out) {
    long n = node->data.sequence.items.top - node->data.sequence.items.start;
    if (n < 1 || n > DATA_YAML_MAX_CLASSES)
        return yl_error(YL_ERR_FORMAT, "%s:%d: names: %ld names (expected 1 to %d)", src->file, line_of(node), n,
                        DATA_YAML_MAX_CLASSES);
    out->names = calloc((size_t)n, sizeof *out->names);
    if (!out->names) return yl_error(YL_ERR_OOM, "%s: out of memory", src->file);
    out->nc = (int)n;
    for (long i = 0; i < n; i++) {
        yaml_node_t *item = child(src, node->data.sequence.items.start[i]);
        if (!item || item->type != YAML_SCALAR_NODE || is_null(item))
            return yl_error(YL_ERR_FORMAT, "%s:%d: names[%ld]: expected a class name", src->file,
                            item ? line_of(item) : line_of(node), i);
        if (!(out->names[i] = yl_strdup(text_of(item)))) return yl_error(YL_ERR_OOM, "%s: out of memory", src->file);
    }
    return YL_OK;
}

// {id: name}: the ids must be exactly 0..n-1 (Ultralytics' check_class_names); a repeated id
// keeps its last name, as a Python dict would.
static yl_status names_from_map(const yaml_source *src, const yaml_node_t *node, yl_data_config *out) {
    yaml_node_pair_t *start = node->data.mapping.pairs.start, *top = node->data.mapping.pairs.top;
    long pairs = top - start;
    if (pairs < 1 || pairs > DATA_YAML_MAX_CLASSES)
        return yl_error(YL_ERR_FORMAT, "%s:%d: names: %ld entries (expected 1 to %d)", src->file, line_of(node), pairs,
                        DATA_YAML_MAX_CLASSES);
    long *ids = calloc((size_t)pairs, sizeof *ids);
    if (!ids) return yl_error(YL_ERR_OOM, "%s: out of memory", src->file);
    long distinct = 0;
    yl_status status = YL_OK;
    for (long i = 0; i < pairs && status == YL_OK; i++) {
        yaml_node_t *key = child(src, start[i].key), *value = child(src, start[i].value);
        if (!key || key->type != YAML_SCALAR_NODE || !parse_int(text_of(key), &ids[i]) || ids[i] < 0) {
            status = yl_error(YL_ERR_FORMAT, "%s:%d: names: key '%s' is not a class index (0, 1, ...)", src->file,
                              key ? line_of(key) : line_of(node),
                              key && key->type == YAML_SCALAR_NODE ? text_of(key) : "?");
        } else if (!value || value->type != YAML_SCALAR_NODE || is_null(value)) {
            status = yl_error(YL_ERR_FORMAT, "%s:%d: names: class %ld needs a name", src->file, line_of(key), ids[i]);
        } else {
            int seen = 0;
            for (long j = 0; j < i; j++) seen |= ids[j] == ids[i];
            distinct += !seen;
        }
    }
    for (long i = 0; i < pairs && status == YL_OK; i++) {
        if (ids[i] >= distinct)
            status = yl_error(YL_ERR_FORMAT, "%s:%d: names: a %ld-class dataset needs class indices 0-%ld, not %ld",
                              src->file, line_of(child(src, start[i].key)), distinct, distinct - 1, ids[i]);
    }
    if (status == YL_OK) {
        out->names = calloc((size_t)distinct, sizeof *out->names);
        out->nc = (int)distinct;
        if (!out->names) status = yl_error(YL_ERR_OOM, "%s: out of memory", src->file);
    }
    for (long i = 0; i < pairs && status == YL_OK; i++) {
        free(out->names[ids[i]]);
        out->names[ids[i]] = yl_strdup(text_of(child(src, start[i].value)));
        if (!out->names[ids[i]]) status = yl_error(YL_ERR_OOM, "%s: out of memory", src->file);
    }
    free(ids);
    return status;
}

static yl_status parse_names(const yaml_source *src, const yaml_node_t *top, yl_data_config *out) {
    yaml_node_t *names = lookup(src, top, "names");
    yaml_node_t *nc = lookup(src, top, "nc");
    long nc_value = 0;
    if (!is_null(nc)) {
        if (nc->type != YAML_SCALAR_NODE || !parse_int(text_of(nc), &nc_value) || nc_value < 1 ||
            nc_value > DATA_YAML_MAX_CLASSES)
            return yl_error(YL_ERR_FORMAT, "%s:%d: nc: expected an integer from 1 to %d", src->file, line_of(nc),
                            DATA_YAML_MAX_CLASSES);
    }
    if (is_null(names)) {
        if (!nc_value)
            return yl_error(YL_ERR_FORMAT, "%s: 'names' (or 'nc') is missing: a dataset needs its class names",
                            src->file);
        out->nc = (int)nc_value;
        out->names = calloc((size_t)nc_value, sizeof *out->names);
        if (!out->names) return yl_error(YL_ERR_OOM, "%s: out of memory", src->file);
        for (long i = 0; i < nc_value; i++) {
            char name[32];
            snprintf(name, sizeof name, "class_%ld", i);
            if (!(out->names[i] = yl_strdup(name))) return yl_error(YL_ERR_OOM, "%s: out of memory", src->file);
        }
        return YL_OK;
    }
    if (names->type == YAML_SEQUENCE_NODE) {
        YL_TRY(names_from_list(src, names, out));
    } else if (names->type == YAML_MAPPING_NODE) {
        YL_TRY(names_from_map(src, names, out));
    } else {
        return yl_error(YL_ERR_FORMAT, "%s:%d: names: expected a list or a {id: name} map", src->file,
                        line_of(names));
    }
    if (nc_value && nc_value != out->nc)
        return yl_error(YL_ERR_FORMAT, "%s:%d: names: %d names but nc is %ld (they must match)", src->file,
                        line_of(names), out->nc, nc_value);
    return YL_OK;
}

// ---- paths -------------------------------------------------------------------------------

static int exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

// Takes ownership of `path`; stores its canonical form (Path.resolve()).
static yl_status add_resolved(yl_path_list *list, char *path) {
    char *canonical = realpath(path, NULL);
    free(path);
    if (!canonical) return yl_error(YL_ERR_IO, "cannot resolve path: %s", strerror(errno));
    yl_status status = yl_path_list_append(list, canonical);
    free(canonical);
    return status;
}

static yl_status resolve_root(const yaml_source *src, const yaml_node_t *top, yl_data_config *out) {
    yaml_node_t *path = lookup(src, top, "path");
    char *yaml_dir = yl_path_dirname(src->file);
    if (!yaml_dir) return yl_error(YL_ERR_OOM, "%s: out of memory", src->file);
    char *candidate = NULL;
    if (is_null(path)) {
        candidate = yaml_dir;
        yaml_dir = NULL;
    } else if (path->type != YAML_SCALAR_NODE) {
        free(yaml_dir);
        return yl_error(YL_ERR_FORMAT, "%s:%d: path: expected a folder name", src->file, line_of(path));
    } else {
        const char *value = text_of(path);
        if (yl_path_is_absolute(value) || exists(value))
            candidate = yl_strdup(value);
        else
            candidate = yl_path_join(yaml_dir, value);
        if (candidate && !yl_is_directory(candidate)) {
            yl_status status = yl_error(YL_ERR_IO, "%s:%d: path: dataset root '%s' is not a directory%s", src->file,
                                        line_of(path), value,
                                        yl_path_is_absolute(value) ? "" : " (looked in the working directory and "
                                                                          "next to the yaml file)");
            free(candidate);
            free(yaml_dir);
            return status;
        }
    }
    free(yaml_dir);
    if (!candidate) return yl_error(YL_ERR_OOM, "%s: out of memory", src->file);
    out->root = realpath(candidate, NULL);
    if (!out->root) {
        yl_status status = yl_error(YL_ERR_IO, "%s: dataset root '%s': %s", src->file, candidate, strerror(errno));
        free(candidate);
        return status;
    }
    free(candidate);
    return YL_OK;
}

static yl_status resolve_entry(const yaml_source *src, const char *key, const yaml_node_t *node, const char *root,
                               int retry_parent, yl_path_list *sources) {
    if (node->type != YAML_SCALAR_NODE || is_null(node))
        return yl_error(YL_ERR_FORMAT, "%s:%d: %s: expected a path", src->file, line_of(node), key);
    const char *value = text_of(node);
    char *path = yl_path_join(root, value);
    if (path && !exists(path) && retry_parent && !strncmp(value, "../", 3)) {
        free(path);
        path = yl_path_join(root, value + 3);
    }
    if (!path) return yl_error(YL_ERR_OOM, "%s: out of memory", src->file);
    if (!exists(path)) {
        yl_status status = yl_error(YL_ERR_IO, "%s:%d: %s: '%s' does not exist", src->file, line_of(node), key, path);
        free(path);
        return status;
    }
    yl_status status = add_resolved(sources, path);
    if (status != YL_OK) return yl_error_context(status, "%s:%d: %s", src->file, line_of(node), key);
    return YL_OK;
}

static yl_status resolve_split(const yaml_source *src, const char *key, const yaml_node_t *node, const char *root,
                               yl_data_split *split) {
    if (node->type == YAML_SEQUENCE_NODE) {
        yaml_node_item_t *start = node->data.sequence.items.start, *top = node->data.sequence.items.top;
        if (start == top) return yl_error(YL_ERR_FORMAT, "%s:%d: %s: empty list", src->file, line_of(node), key);
        for (yaml_node_item_t *item = start; item < top; item++)
            YL_TRY(resolve_entry(src, key, child(src, *item), root, 0, &split->sources));
    } else if (node->type == YAML_SCALAR_NODE) {
        YL_TRY(resolve_entry(src, key, node, root, 1, &split->sources));
    } else {
        return yl_error(YL_ERR_FORMAT, "%s:%d: %s: expected a path or a list of paths", src->file, line_of(node), key);
    }
    for (int i = 0; i < split->sources.count; i++) {
        yl_status status = yl_path_list_add_source(&split->images, split->sources.paths[i]);
        if (status != YL_OK) return yl_error_context(status, "%s:%d: %s", src->file, line_of(node), key);
    }
    yl_path_list_sort(&split->images);
    if (split->images.count == 0)
        return yl_error(YL_ERR_FORMAT, "%s:%d: %s: no images found in %s%s", src->file, line_of(node), key,
                        split->sources.paths[0], split->sources.count > 1 ? " (and the other entries)" : "");
    return YL_OK;
}

static yl_status parse_config(const yaml_source *src, const yaml_node_t *top, yl_data_config *out) {
    yaml_node_t *train = lookup(src, top, "train");
    yaml_node_t *val = lookup(src, top, "val");
    const char *val_key = "val";
    if (is_null(val) && !is_null(lookup(src, top, "validation"))) {
        val = lookup(src, top, "validation");
        val_key = "validation";
    }
    if (is_null(train) || is_null(val))
        return yl_error(YL_ERR_FORMAT, "%s: '%s' is missing: a dataset needs 'train' and 'val' (or 'validation')",
                        src->file, is_null(train) ? "train" : "val");
    YL_TRY(parse_names(src, top, out));
    yaml_node_t *channels = lookup(src, top, "channels");
    out->channels = 3;
    if (!is_null(channels)) {
        long value = 0;
        if (channels->type != YAML_SCALAR_NODE || !parse_int(text_of(channels), &value) || value != 3)
            return yl_error(YL_ERR_UNSUPPORTED, "%s:%d: channels: only 3 (RGB) is supported", src->file,
                            line_of(channels));
    }
    YL_TRY(resolve_root(src, top, out));
    YL_TRY(resolve_split(src, "train", train, out->root, &out->train));
    YL_TRY(resolve_split(src, val_key, val, out->root, &out->val));
    yaml_node_t *test = lookup(src, top, "test");
    if (!is_null(test)) {
        YL_TRY(resolve_split(src, "test", test, out->root, &out->test));
        out->has_test = 1;
    }
    return YL_OK;
}

yl_status yl_data_yaml_load(const char *yaml_path, yl_data_config *out) {
    if (!out) return yl_error(YL_ERR_INVALID_ARG, "data yaml: NULL output");
    memset(out, 0, sizeof *out);
    if (!yaml_path) return yl_error(YL_ERR_INVALID_ARG, "data yaml: NULL path");
    char *text = NULL;
    size_t size = 0;
    YL_TRY(yl_read_file(yaml_path, DATA_YAML_MAX_BYTES, &text, &size));
    yaml_parser_t parser;
    yaml_document_t doc;
    if (!yaml_parser_initialize(&parser)) {
        free(text);
        return yl_error(YL_ERR_OOM, "%s: cannot initialise the YAML parser", yaml_path);
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, size);
    yl_status status = YL_OK;
    if (!yaml_parser_load(&parser, &doc)) {
        status = yl_error(YL_ERR_FORMAT, "%s:%zu: YAML syntax error: %s%s%s", yaml_path,
                          parser.problem_mark.line + 1, parser.problem ? parser.problem : "unknown problem",
                          parser.context ? " " : "", parser.context ? parser.context : "");
    } else {
        yaml_source src = {.file = yaml_path, .doc = &doc};
        yaml_node_t *top = yaml_document_get_root_node(&doc);
        if (!top)
            status = yl_error(YL_ERR_FORMAT, "%s: empty file (expected train, val and names)", yaml_path);
        else if (top->type != YAML_MAPPING_NODE)
            status = yl_error(YL_ERR_FORMAT, "%s:%d: expected a mapping of keys (train, val, names, ...)", yaml_path,
                              line_of(top));
        else
            status = parse_config(&src, top, out);
        yaml_document_delete(&doc);
    }
    yaml_parser_delete(&parser);
    free(text);
    if (status == YL_OK && !(out->yaml_path = yl_strdup(yaml_path)))
        status = yl_error(YL_ERR_OOM, "%s: out of memory", yaml_path);
    if (status != YL_OK) yl_data_config_free(out);
    return status;
}

void yl_data_config_free(yl_data_config *config) {
    if (!config) return;
    free(config->yaml_path);
    free(config->root);
    if (config->names)
        for (int i = 0; i < config->nc; i++) free(config->names[i]);
    free(config->names);
    yl_data_split *splits[] = {&config->train, &config->val, &config->test};
    for (int i = 0; i < 3; i++) {
        yl_path_list_free(&splits[i]->sources);
        yl_path_list_free(&splits[i]->images);
    }
    memset(config, 0, sizeof *config);
}
