// yoloop.yaml: read with libyaml's document API (as engine/data/data_yaml.c does), checked key by
// key against one table, written back as plain YAML. The table is the single list of what the
// file may hold, so an unknown or misspelled key is an error instead of a silently ignored typo.
#include "cli/cycle/workspace.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

#include "cli/fs_util.h"

#define CONFIG_NAME "yoloop.yaml"
#define CONFIG_MAX_BYTES ((size_t)1 << 20)
#define MAX_CLASSES 1000

typedef enum {
    KEY_STRING,    // char *
    KEY_PATH,      // char *, "~/" expanded and resolved against the workspace
    KEY_URL,       // char *, http(s)://
    KEY_INT,       // int, [low, high]
    KEY_UINT64,    // uint64_t, [low, high]
    KEY_DOUBLE,    // double, [low, high]
    KEY_BOOL,      // bool
    KEY_KIND,      // yl_source_kind
    KEY_OPTIMIZER, // char *: SGD | AdamW
    KEY_DEVICE,    // yl_device + cuda_index
    KEY_NAMES,     // nc + names
} key_type;

typedef struct {
    const char *section;  // "" for top-level keys
    const char *name;
    key_type type;
    size_t offset;
    double low, high;
} key_spec;

#define F(field) offsetof(yl_workspace_config, field)
static const key_spec KEYS[] = {
    {"source", "kind", KEY_KIND, F(source), 0, 0},
    {"source", "url", KEY_URL, F(ls_url), 0, 0},
    {"source", "project", KEY_INT, F(ls_project), 1, INT_MAX},
    {"source", "token_file", KEY_PATH, F(token_file), 0, 0},
    {"source", "control", KEY_STRING, F(control), 0, 0},
    {"source", "export", KEY_PATH, F(export_path), 0, 0},
    {"source", "images", KEY_PATH, F(images_dir), 0, 0},
    {"source", "local_files_root", KEY_PATH, F(local_files_root), 0, 0},
    {"source", "media_root", KEY_PATH, F(media_root), 0, 0},
    {"source", "trust_imported", KEY_BOOL, F(trust_imported), 0, 0},
    {"", "names", KEY_NAMES, 0, 0, 0},
    {"decide", "min_map50", KEY_DOUBLE, F(min_map50), 0, 1},
    {"decide", "max_drop", KEY_DOUBLE, F(max_drop), 0, 1},
    {"decide", "min_gain", KEY_DOUBLE, F(min_gain), -1, 1},
    {"decide", "golden_max_drop", KEY_DOUBLE, F(golden_max_drop), -1, 1},
    {"decide", "class_max_drop", KEY_DOUBLE, F(class_max_drop), -1, 1},
    {"eval", "imgsz", KEY_INT, F(eval_imgsz), 32, 8192},
    {"eval", "batch", KEY_INT, F(eval_batch), 1, 1024},
    {"eval", "conf", KEY_DOUBLE, F(eval_conf), 0, 1},
    {"eval", "iou", KEY_DOUBLE, F(eval_iou), 0.01, 1},
    {"eval", "workers", KEY_INT, F(eval_workers), 0, 64},
    {"finetune", "epochs", KEY_INT, F(ft_epochs), 1, 100000},
    {"finetune", "batch", KEY_INT, F(ft_batch), 1, 1024},
    {"finetune", "imgsz", KEY_INT, F(ft_imgsz), 32, 8192},
    {"finetune", "lr0", KEY_DOUBLE, F(ft_lr0), 1e-9, 1},
    {"finetune", "lrf", KEY_DOUBLE, F(ft_lrf), 1e-6, 1},
    {"finetune", "optimizer", KEY_OPTIMIZER, F(ft_optimizer), 0, 0},
    {"finetune", "warmup_epochs", KEY_DOUBLE, F(ft_warmup_epochs), 0, 1000},
    {"finetune", "freeze", KEY_INT, F(ft_freeze), 0, 1000},
    {"finetune", "replay_ratio", KEY_DOUBLE, F(replay_ratio), 0, 0.95},
    {"finetune", "close_mosaic", KEY_INT, F(ft_close_mosaic), 0, 100000},
    {"finetune", "workers", KEY_INT, F(ft_workers), 0, 64},
    {"finetune", "seed", KEY_UINT64, F(ft_seed), 0, 4294967295.0},
    {"finetune", "max_batches_per_epoch", KEY_INT, F(ft_max_batches_per_epoch), 0, INT_MAX},
    {"", "device", KEY_DEVICE, 0, 0, 0},
};
#undef F
#define NUM_KEYS ((int)(sizeof KEYS / sizeof KEYS[0]))

static const char *const SECTIONS[] = {"source", "decide", "eval", "finetune"};

// Key names that would hold a secret: refused wherever they appear.
static int is_secret_key(const char *name) {
    return !strcasecmp(name, "token") || !strcasecmp(name, "api_key") || !strcasecmp(name, "access_token") ||
           !strcasecmp(name, "api_token");
}

static char *dup_string(const char *s) {
    size_t n = strlen(s) + 1;
    char *copy = malloc(n);
    if (copy) memcpy(copy, s, n);
    return copy;
}

yl_workspace_config yl_workspace_config_defaults(void) {
    yl_workspace_config c;
    memset(&c, 0, sizeof c);
    c.source = YL_SOURCE_LABEL_STUDIO;
    c.min_map50 = 0.60;
    c.max_drop = 0.03;
    c.min_gain = 0.02;
    c.golden_max_drop = -1;
    c.class_max_drop = -1;
    c.eval_imgsz = 640;
    c.eval_batch = 16;
    c.eval_conf = 0.001;
    c.eval_iou = 0.7;
    c.eval_workers = 2;
    c.ft_epochs = 10;
    c.ft_batch = 16;
    c.ft_imgsz = 640;
    c.ft_lr0 = 0.001;
    c.ft_lrf = 0.01;
    c.ft_warmup_epochs = 1;
    c.ft_freeze = 0;
    c.replay_ratio = 0.3;
    c.ft_close_mosaic = 0;
    c.ft_workers = 2;
    c.ft_seed = 0;
    c.ft_max_batches_per_epoch = 0;
    c.device = YL_DEVICE_CPU;
    c.cuda_index = 0;
    return c;
}

void yl_workspace_config_free(yl_workspace_config *c) {
    if (!c) return;
    free(c->root);
    free(c->config_path);
    free(c->ls_url);
    free(c->token_file);
    free(c->control);
    free(c->export_path);
    free(c->images_dir);
    free(c->local_files_root);
    free(c->media_root);
    free(c->ft_optimizer);
    for (int i = 0; c->names && i < c->nc; i++) free(c->names[i]);
    free(c->names);
    memset(c, 0, sizeof *c);
}

yl_status yl_workspace_path(const yl_workspace_config *config, const char *relative, char *out, size_t size) {
    if (!config || !config->root || !relative || !out)
        return yl_error(YL_ERR_INVALID_ARG, "workspace path: NULL argument");
    int n = relative[0] == '/' ? snprintf(out, size, "%s", relative)
                               : snprintf(out, size, "%s/%s", config->root, relative);
    if (n < 0 || (size_t)n >= size)
        return yl_error(YL_ERR_INVALID_ARG, "workspace path: %s/%s is longer than %zu bytes", config->root, relative,
                        size - 1);
    return YL_OK;
}

// "~/x" -> $HOME/x; relative -> <root>/x; absolute kept. NULL when out of memory or $HOME unset.
static char *resolve_path(const char *root, const char *value) {
    char *out = NULL;
    size_t n;
    if (!strcmp(value, "~") || !strncmp(value, "~/", 2)) {
        const char *home = getenv("HOME");
        if (!home || !home[0]) return NULL;
        n = strlen(home) + strlen(value) + 1;
        if ((out = malloc(n))) snprintf(out, n, "%s%s", home, value + 1);
    } else if (value[0] == '/') {
        out = dup_string(value);
    } else {
        n = strlen(root) + strlen(value) + 2;
        if ((out = malloc(n))) snprintf(out, n, "%s/%s", root, value);
    }
    return out;
}

// ---- loading ------------------------------------------------------------------------------------

typedef struct {
    const char *file;
    yaml_document_t *doc;
    yl_workspace_config *out;
    int ft_imgsz_given;
} loader;

static int line_of(const yaml_node_t *node) { return (int)node->start_mark.line + 1; }
static const char *text_of(const yaml_node_t *node) { return (const char *)node->data.scalar.value; }
static yaml_node_t *node_at(const loader *l, int id) { return yaml_document_get_node(l->doc, id); }

static int is_null(const yaml_node_t *node) {
    if (!node) return 1;
    if (node->type != YAML_SCALAR_NODE || node->data.scalar.style != YAML_PLAIN_SCALAR_STYLE) return 0;
    const char *v = text_of(node);
    return !v[0] || !strcmp(v, "~") || !strcmp(v, "null") || !strcmp(v, "Null") || !strcmp(v, "NULL");
}

static yl_status wrong(const loader *l, const yaml_node_t *node, const char *key, const char *what) {
    return yl_error(YL_ERR_FORMAT, "%s:%d: %s: %s", l->file, line_of(node), key, what);
}

static yl_status scalar_text(const loader *l, const yaml_node_t *node, const char *key, const char **text) {
    if (node->type != YAML_SCALAR_NODE || is_null(node)) return wrong(l, node, key, "expected a value");
    *text = text_of(node);
    return YL_OK;
}

static yl_status parse_number(const loader *l, const yaml_node_t *node, const char *key, const key_spec *spec,
                              int integer, double *value) {
    const char *text = NULL;
    YL_TRY(scalar_text(l, node, key, &text));
    char *end = NULL;
    errno = 0;
    double v = integer ? (double)strtoll(text, &end, 10) : strtod(text, &end);
    if (errno || end == text || *end || !isfinite(v))
        return wrong(l, node, key, integer ? "expected an integer" : "expected a number");
    if (v < spec->low || v > spec->high) {
        if (integer)
            return yl_error(YL_ERR_FORMAT, "%s:%d: %s: %s is out of range (%.0f to %.0f)", l->file, line_of(node),
                            key, text, spec->low, spec->high);
        return yl_error(YL_ERR_FORMAT, "%s:%d: %s: %s is out of range (%g to %g)", l->file, line_of(node), key, text,
                        spec->low, spec->high);
    }
    *value = v;
    return YL_OK;
}

static yl_status parse_bool(const loader *l, const yaml_node_t *node, const char *key, bool *out) {
    const char *text = NULL;
    YL_TRY(scalar_text(l, node, key, &text));
    static const char *const yes[] = {"true", "yes", "on"}, *const no[] = {"false", "no", "off"};
    for (int i = 0; i < 3; i++) {
        if (!strcasecmp(text, yes[i])) return (*out = true), YL_OK;
        if (!strcasecmp(text, no[i])) return (*out = false), YL_OK;
    }
    return wrong(l, node, key, "expected true or false");
}

static yl_status set_string(char **slot, char *value, const loader *l) {
    if (!value) return yl_error(YL_ERR_OOM, "%s: out of memory", l->file);
    free(*slot);
    *slot = value;
    return YL_OK;
}

static yl_status parse_names(const loader *l, const yaml_node_t *node, const char *key) {
    yl_workspace_config *c = l->out;
    if (node->type != YAML_SEQUENCE_NODE) return wrong(l, node, key, "expected a list of class names");
    long n = node->data.sequence.items.top - node->data.sequence.items.start;
    if (n < 1 || n > MAX_CLASSES)
        return yl_error(YL_ERR_FORMAT, "%s:%d: %s: %ld names (expected 1 to %d)", l->file, line_of(node), key, n,
                        MAX_CLASSES);
    for (int i = 0; c->names && i < c->nc; i++) free(c->names[i]);
    free(c->names);
    c->nc = 0;
    if (!(c->names = calloc((size_t)n, sizeof *c->names))) return yl_error(YL_ERR_OOM, "%s: out of memory", l->file);
    for (long i = 0; i < n; i++) {
        yaml_node_t *item = node_at(l, node->data.sequence.items.start[i]);
        if (!item || item->type != YAML_SCALAR_NODE || is_null(item))
            return yl_error(YL_ERR_FORMAT, "%s:%d: %s[%ld]: expected a class name", l->file,
                            line_of(item ? item : node), key, i);
        for (long j = 0; j < i; j++)
            if (!strcmp(c->names[j], text_of(item)))
                return yl_error(YL_ERR_FORMAT, "%s:%d: %s[%ld]: '%s' is listed twice (names are matched by name)",
                                l->file, line_of(item), key, i, text_of(item));
        if (!(c->names[i] = dup_string(text_of(item)))) return yl_error(YL_ERR_OOM, "%s: out of memory", l->file);
        c->nc = (int)i + 1;
    }
    return YL_OK;
}

static yl_status parse_device(const loader *l, const yaml_node_t *node, const char *key) {
    const char *text = NULL;
    YL_TRY(scalar_text(l, node, key, &text));
    yl_workspace_config *c = l->out;
    if (!strcasecmp(text, "cpu")) {
        c->device = YL_DEVICE_CPU;
        c->cuda_index = 0;
        return YL_OK;
    }
    const char *index = NULL;
    if (!strcasecmp(text, "cuda")) index = "0";
    else if (!strncasecmp(text, "cuda:", 5)) index = text + 5;
    else index = text;  // "0": a GPU index, as Ultralytics' device=0
    char *end = NULL;
    long v = strtol(index, &end, 10);
    if (end == index || *end || v < 0 || v > 63) return wrong(l, node, key, "expected cpu, cuda or cuda:N");
    c->device = YL_DEVICE_CUDA;
    c->cuda_index = (int)v;
    return YL_OK;
}

static yl_status apply_key(loader *l, const key_spec *spec, const yaml_node_t *node, const char *key) {
    char *base = (char *)l->out;
    void *slot = base + spec->offset;
    const char *text = NULL;
    double number = 0;
    switch (spec->type) {
    case KEY_STRING:
        YL_TRY(scalar_text(l, node, key, &text));
        return set_string((char **)slot, dup_string(text), l);
    case KEY_URL:
        YL_TRY(scalar_text(l, node, key, &text));
        if (strncasecmp(text, "http://", 7) && strncasecmp(text, "https://", 8))
            return wrong(l, node, key, "expected an http:// or https:// URL");
        return set_string((char **)slot, dup_string(text), l);
    case KEY_PATH: {
        YL_TRY(scalar_text(l, node, key, &text));
        char *path = resolve_path(l->out->root, text);
        if (!path && text[0] == '~') return wrong(l, node, key, "'~/' needs $HOME, which is not set");
        return set_string((char **)slot, path, l);
    }
    case KEY_INT:
        YL_TRY(parse_number(l, node, key, spec, 1, &number));
        *(int *)slot = (int)number;
        if (spec->offset == offsetof(yl_workspace_config, ft_imgsz)) l->ft_imgsz_given = 1;
        return YL_OK;
    case KEY_UINT64:
        YL_TRY(parse_number(l, node, key, spec, 1, &number));
        *(uint64_t *)slot = (uint64_t)number;
        return YL_OK;
    case KEY_DOUBLE:
        YL_TRY(parse_number(l, node, key, spec, 0, &number));
        *(double *)slot = number;
        return YL_OK;
    case KEY_BOOL:
        return parse_bool(l, node, key, (bool *)slot);
    case KEY_KIND:
        YL_TRY(scalar_text(l, node, key, &text));
        if (!strcmp(text, "labelstudio")) l->out->source = YL_SOURCE_LABEL_STUDIO;
        else if (!strcmp(text, "json")) l->out->source = YL_SOURCE_JSON_EXPORT;
        else if (!strcmp(text, "yolo")) l->out->source = YL_SOURCE_YOLO_EXPORT;
        else return wrong(l, node, key, "expected labelstudio, json or yolo");
        return YL_OK;
    case KEY_OPTIMIZER:
        YL_TRY(scalar_text(l, node, key, &text));
        if (!strcasecmp(text, "auto"))
            return wrong(l, node, key,
                         "'auto' is refused: it picks its own learning rate and would override lr0 (use SGD or "
                         "AdamW)");
        if (!strcasecmp(text, "SGD")) return set_string((char **)slot, dup_string("SGD"), l);
        if (!strcasecmp(text, "AdamW")) return set_string((char **)slot, dup_string("AdamW"), l);
        return wrong(l, node, key, "expected SGD or AdamW");
    case KEY_DEVICE:
        return parse_device(l, node, key);
    case KEY_NAMES:
        return parse_names(l, node, key);
    }
    return YL_OK;
}

// Lists the known keys of a section for the "unknown key" message.
static void known_keys(const char *section, char *out, size_t size) {
    size_t used = 0;
    out[0] = '\0';
    for (int i = 0; i < NUM_KEYS; i++) {
        if (strcmp(KEYS[i].section, section)) continue;
        int n = snprintf(out + used, size - used, "%s%s", used ? ", " : "", KEYS[i].name);
        if (n < 0 || (size_t)n >= size - used) break;
        used += (size_t)n;
    }
    if (!section[0])
        for (int i = 0; i < 4; i++) {
            int n = snprintf(out + used, size - used, ", %s", SECTIONS[i]);
            if (n < 0 || (size_t)n >= size - used) break;
            used += (size_t)n;
        }
}

static yl_status parse_mapping(loader *l, const yaml_node_t *mapping, const char *section) {
    yaml_node_pair_t *start = mapping->data.mapping.pairs.start, *top = mapping->data.mapping.pairs.top;
    for (yaml_node_pair_t *pair = start; pair < top; pair++) {
        yaml_node_t *k = node_at(l, pair->key), *v = node_at(l, pair->value);
        if (!k || !v || k->type != YAML_SCALAR_NODE)
            return yl_error(YL_ERR_FORMAT, "%s:%d: %s%sexpected a plain key", l->file, line_of(k ? k : mapping),
                            section, section[0] ? ": " : "");
        const char *name = text_of(k);
        char key[128];
        snprintf(key, sizeof key, "%s%s%s", section, section[0] ? "." : "", name);
        if (is_secret_key(name))
            return yl_error(YL_ERR_FORMAT,
                            "%s:%d: %s: a token never lives in %s (it would end up in backups and version "
                            "control); put it in a file named by source.token_file or in LABEL_STUDIO_API_KEY",
                            l->file, line_of(k), key, CONFIG_NAME);
        for (yaml_node_pair_t *earlier = start; earlier < pair; earlier++) {
            yaml_node_t *ek = node_at(l, earlier->key);
            if (ek && ek->type == YAML_SCALAR_NODE && !strcmp(text_of(ek), name))
                return yl_error(YL_ERR_FORMAT, "%s:%d: %s: given twice (also on line %d)", l->file, line_of(k), key,
                                line_of(ek));
        }
        int is_section = 0;
        for (int i = 0; !section[0] && i < 4; i++) is_section |= !strcmp(name, SECTIONS[i]);
        if (is_section) {
            if (is_null(v)) continue;
            if (v->type != YAML_MAPPING_NODE) return wrong(l, v, key, "expected a mapping of keys");
            YL_TRY(parse_mapping(l, v, name));
            continue;
        }
        const key_spec *spec = NULL;
        for (int i = 0; i < NUM_KEYS && !spec; i++)
            if (!strcmp(KEYS[i].section, section) && !strcmp(KEYS[i].name, name)) spec = &KEYS[i];
        if (!spec) {
            char known[512];
            known_keys(section, known, sizeof known);
            return yl_error(YL_ERR_FORMAT, "%s:%d: %s: unknown key (known%s%s: %s)", l->file, line_of(k), key,
                            section[0] ? " in " : "", section, known);
        }
        if (is_null(v)) continue;  // "key:" with no value keeps the default
        YL_TRY(apply_key(l, spec, v, key));
    }
    return YL_OK;
}

static yaml_node_t *find_key(const loader *l, const yaml_node_t *mapping, const char *name) {
    for (yaml_node_pair_t *p = mapping->data.mapping.pairs.start; p < mapping->data.mapping.pairs.top; p++) {
        yaml_node_t *k = node_at(l, p->key);
        if (k && k->type == YAML_SCALAR_NODE && !strcmp(text_of(k), name)) return k;
    }
    return NULL;
}

// What the file must hold, checked once every key is read.
static yl_status check_required(const loader *l, const yaml_node_t *top) {
    const yl_workspace_config *c = l->out;
    yaml_node_t *source = find_key(l, top, "source");
    if (!source)
        return yl_error(YL_ERR_FORMAT, "%s: 'source' is missing (where the verified data comes from: kind "
                                       "labelstudio, json or yolo)",
                        l->file);
    yaml_node_t *source_map = NULL;
    for (yaml_node_pair_t *p = top->data.mapping.pairs.start; p < top->data.mapping.pairs.top; p++)
        if (node_at(l, p->key) == source) source_map = node_at(l, p->value);
    if (!source_map || source_map->type != YAML_MAPPING_NODE || !find_key(l, source_map, "kind"))
        return yl_error(YL_ERR_FORMAT, "%s:%d: source.kind is missing (labelstudio, json or yolo)", l->file,
                        line_of(source));
    if (c->source == YL_SOURCE_LABEL_STUDIO && c->ls_project <= 0)
        return yl_error(YL_ERR_FORMAT, "%s:%d: source.project is missing (the Label Studio project id)", l->file,
                        line_of(source));
    if (!find_key(l, top, "names") || c->nc < 1)
        return yl_error(YL_ERR_FORMAT, "%s: 'names' is missing (the model's class names, in model order)", l->file);
    return YL_OK;
}

static yl_status fill_defaults(loader *l) {
    yl_workspace_config *c = l->out;
    if (!l->ft_imgsz_given) c->ft_imgsz = c->eval_imgsz;
    if (!c->ls_url && !(c->ls_url = dup_string("http://127.0.0.1:8080")))
        return yl_error(YL_ERR_OOM, "%s: out of memory", l->file);
    if (!c->ft_optimizer && !(c->ft_optimizer = dup_string("SGD")))
        return yl_error(YL_ERR_OOM, "%s: out of memory", l->file);
    if (!c->export_path && !(c->export_path = resolve_path(c->root, "exports")))
        return yl_error(YL_ERR_OOM, "%s: out of memory", l->file);
    if (!c->images_dir && !(c->images_dir = resolve_path(c->root, "images")))
        return yl_error(YL_ERR_OOM, "%s: out of memory", l->file);
    return YL_OK;
}

yl_status yl_workspace_config_load(const char *workspace, yl_workspace_config *out) {
    if (!out) return yl_error(YL_ERR_INVALID_ARG, "workspace config: NULL output");
    *out = yl_workspace_config_defaults();
    if (!workspace || !workspace[0]) return yl_error(YL_ERR_INVALID_ARG, "workspace config: no workspace folder");
    out->root = dup_string(workspace);
    size_t n = strlen(workspace) + sizeof CONFIG_NAME + 1;
    out->config_path = malloc(n);
    if (!out->root || !out->config_path) {
        yl_workspace_config_free(out);
        return yl_error(YL_ERR_OOM, "workspace config: out of memory");
    }
    snprintf(out->config_path, n, "%s/%s", workspace, CONFIG_NAME);
    const char *file = out->config_path;
    char *text = NULL;
    size_t size = 0;
    if (!yl_fs_is_file(file)) {
        yl_status status = yl_error(YL_ERR_IO, "%s: not found (is %s a workspace? `yoloop init` creates one)", file,
                                    workspace);
        yl_workspace_config_free(out);
        return status;
    }
    yl_status status = yl_fs_read_all(file, &text, &size);
    if (status == YL_OK && size > CONFIG_MAX_BYTES)
        status = yl_error(YL_ERR_FORMAT, "%s: %zu bytes is too large for a configuration file", file, size);
    yaml_parser_t parser;
    yaml_document_t doc;
    int parser_ready = 0;
    if (status == YL_OK) {
        parser_ready = yaml_parser_initialize(&parser);
        if (!parser_ready) status = yl_error(YL_ERR_OOM, "%s: cannot initialise the YAML parser", file);
    }
    if (status == YL_OK) {
        yaml_parser_set_input_string(&parser, (const unsigned char *)text, size);
        if (!yaml_parser_load(&parser, &doc)) {
            status = yl_error(YL_ERR_FORMAT, "%s:%zu: YAML syntax error: %s%s%s", file, parser.problem_mark.line + 1,
                              parser.problem ? parser.problem : "unknown problem", parser.context ? " " : "",
                              parser.context ? parser.context : "");
        } else {
            loader l = {.file = file, .doc = &doc, .out = out};
            yaml_node_t *top = yaml_document_get_root_node(&doc);
            if (!top) status = yl_error(YL_ERR_FORMAT, "%s: empty file (expected source and names)", file);
            else if (top->type != YAML_MAPPING_NODE)
                status = yl_error(YL_ERR_FORMAT, "%s:%d: expected a mapping of keys (source, names, ...)", file,
                                  line_of(top));
            else status = parse_mapping(&l, top, "");
            if (status == YL_OK) status = check_required(&l, top);
            if (status == YL_OK) status = fill_defaults(&l);
            yaml_document_delete(&doc);
        }
    }
    if (parser_ready) yaml_parser_delete(&parser);
    free(text);
    if (status != YL_OK) yl_workspace_config_free(out);
    return status;
}

// ---- saving -------------------------------------------------------------------------------------

typedef struct {
    char *data;
    size_t size, capacity;
    int failed;
} text_buffer;

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static void emit(text_buffer *b, const char *fmt, ...) {
    if (b->failed) return;
    for (;;) {
        va_list args;
        va_start(args, fmt);
        int n = vsnprintf(b->data ? b->data + b->size : NULL, b->data ? b->capacity - b->size : 0, fmt, args);
        va_end(args);
        if (n < 0) {
            b->failed = 1;
            return;
        }
        if (b->data && b->size + (size_t)n < b->capacity) {
            b->size += (size_t)n;
            return;
        }
        size_t next = (b->capacity ? b->capacity * 2 : 4096) + (size_t)n;
        char *grown = realloc(b->data, next);
        if (!grown) {
            b->failed = 1;
            return;
        }
        b->data = grown;
        b->capacity = next;
    }
}

// A double-quoted YAML scalar: only '"', '\\' and control bytes need escapes.
static void emit_quoted(text_buffer *b, const char *s) {
    emit(b, "\"");
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') emit(b, "\\%c", *p);
        else if (*p < 0x20) emit(b, "\\x%02x", *p);
        else emit(b, "%c", *p);
    }
    emit(b, "\"");
}

// A path as written: relative to the workspace when it lies inside it.
static void emit_path(text_buffer *b, const char *root, const char *path) {
    size_t n = strlen(root);
    if (!strncmp(path, root, n) && path[n] == '/' && path[n + 1]) path += n + 1;
    emit_quoted(b, path);
}

// The shortest text that reads back as the same double.
static void emit_double(text_buffer *b, double v) {
    char text[64];
    for (int digits = 6; digits <= 17; digits++) {
        snprintf(text, sizeof text, "%.*g", digits, v);
        if (strtod(text, NULL) == v) break;
    }
    emit(b, "%s", text);
}

yl_status yl_workspace_config_save(const yl_workspace_config *c) {
    if (!c || !c->root) return yl_error(YL_ERR_INVALID_ARG, "workspace config save: no workspace folder");
    if (c->nc < 1 || !c->names) return yl_error(YL_ERR_INVALID_ARG, "workspace config save: no class names");
    static const char *const kinds[] = {"labelstudio", "json", "yolo"};
    if ((int)c->source < 0 || (int)c->source > 2)
        return yl_error(YL_ERR_INVALID_ARG, "workspace config save: bad source kind %d", (int)c->source);
    text_buffer b = {0};
    emit(&b, "# yoloop workspace (see `yoloop init --help`). The Label Studio token never goes here:\n"
             "# it comes from LABEL_STUDIO_API_KEY or the file named by source.token_file.\n");
    emit(&b, "source:\n  kind: %s\n", kinds[c->source]);
    if (c->source == YL_SOURCE_LABEL_STUDIO) {
        emit(&b, "  url: ");
        emit_quoted(&b, c->ls_url ? c->ls_url : "http://127.0.0.1:8080");
        emit(&b, "\n  project: %d\n", c->ls_project);
    }
    const struct {
        const char *name;
        const char *value;
        int is_path;
    } strings[] = {
        {"token_file", c->token_file, 1},   {"control", c->control, 0},        {"export", c->export_path, 1},
        {"images", c->images_dir, 1},       {"local_files_root", c->local_files_root, 1},
        {"media_root", c->media_root, 1},
    };
    for (size_t i = 0; i < sizeof strings / sizeof strings[0]; i++) {
        if (!strings[i].value) continue;
        emit(&b, "  %s: ", strings[i].name);
        if (strings[i].is_path) emit_path(&b, c->root, strings[i].value);
        else emit_quoted(&b, strings[i].value);
        emit(&b, "\n");
    }
    emit(&b, "  trust_imported: %s\n", c->trust_imported ? "true" : "false");
    emit(&b, "names: [");
    for (int i = 0; i < c->nc; i++) {
        if (i) emit(&b, ", ");
        emit_quoted(&b, c->names[i]);
    }
    emit(&b, "]\n");
    emit(&b, "decide:\n  min_map50: ");
    emit_double(&b, c->min_map50);
    emit(&b, "\n  max_drop: ");
    emit_double(&b, c->max_drop);
    emit(&b, "\n  min_gain: ");
    emit_double(&b, c->min_gain);
    emit(&b, "\n  golden_max_drop: ");
    emit_double(&b, c->golden_max_drop);
    emit(&b, "\n  class_max_drop: ");
    emit_double(&b, c->class_max_drop);
    emit(&b, "\neval:\n  imgsz: %d\n  batch: %d\n  conf: ", c->eval_imgsz, c->eval_batch);
    emit_double(&b, c->eval_conf);
    emit(&b, "\n  iou: ");
    emit_double(&b, c->eval_iou);
    emit(&b, "\n  workers: %d\n", c->eval_workers);
    emit(&b, "finetune:\n  epochs: %d\n  batch: %d\n  imgsz: %d\n  lr0: ", c->ft_epochs, c->ft_batch, c->ft_imgsz);
    emit_double(&b, c->ft_lr0);
    emit(&b, "\n  lrf: ");
    emit_double(&b, c->ft_lrf);
    emit(&b, "\n  optimizer: %s\n  warmup_epochs: ", c->ft_optimizer ? c->ft_optimizer : "SGD");
    emit_double(&b, c->ft_warmup_epochs);
    emit(&b, "\n  freeze: %d\n  replay_ratio: ", c->ft_freeze);
    emit_double(&b, c->replay_ratio);
    emit(&b, "\n  close_mosaic: %d\n  workers: %d\n  seed: %llu\n  max_batches_per_epoch: %d\n", c->ft_close_mosaic,
         c->ft_workers, (unsigned long long)c->ft_seed, c->ft_max_batches_per_epoch);
    if (c->device == YL_DEVICE_CUDA) emit(&b, "device: cuda:%d\n", c->cuda_index);
    else emit(&b, "device: cpu\n");
    if (b.failed) {
        free(b.data);
        return yl_error(YL_ERR_OOM, "workspace config save: out of memory");
    }
    char path[4096];
    yl_status status = yl_workspace_path(c, CONFIG_NAME, path, sizeof path);
    if (status == YL_OK) status = yl_fs_write_atomic(path, b.data, b.size);
    free(b.data);
    return status;
}
