// Numbers are written so that they read back exactly (%.17g for the multipliers); everything
// read back is checked, because the metadata decides which model gets built.
#include "weights/checkpoint_meta.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// ---- building -------------------------------------------------------------------------------

static char *copy_string(const char *s) {
    size_t n = strlen(s) + 1;
    char *p = malloc(n);
    if (p) memcpy(p, s, n);
    return p;
}

static yl_status add_item(yl_checkpoint_meta *meta, const char *key, const char *value) {
    if (meta->count == YL_CHECKPOINT_META_ITEMS || !value)
        return yl_error(YL_ERR_OOM, "checkpoint metadata: cannot add '%s'", key);
    meta->items[meta->count++] = (yl_metadata_item){key, value};
    return YL_OK;
}

// Adds a value formatted into a heap string the meta owns.
static yl_status add_owned(yl_checkpoint_meta *meta, const char *key, char *value) {
    if (!value) return yl_error(YL_ERR_OOM, "checkpoint metadata: out of memory for '%s'", key);
    meta->owned[meta->owned_count++] = value;
    return add_item(meta, key, value);
}

#if defined(__GNUC__)
__attribute__((format(printf, 1, 2)))
#endif
static char *format_string(const char *fmt, ...) {
    char buf[64];
    va_list args;
    va_start(args, fmt);
    vsnprintf(buf, sizeof buf, fmt, args);
    va_end(args);
    return copy_string(buf);
}

// Checks that `text` is JSON of the wanted kind: an object, or an array of `nc` strings.
static yl_status check_json(const char *path, const char *key, const char *text, bool names_array, int nc) {
    cJSON *root = cJSON_Parse(text);
    yl_status status = YL_OK;
    if (!root) {
        status = yl_error(YL_ERR_FORMAT, "checkpoint '%s': %s is not valid JSON", path, key);
    } else if (!names_array && !cJSON_IsObject(root)) {
        status = yl_error(YL_ERR_FORMAT, "checkpoint '%s': %s must be a JSON object", path, key);
    } else if (names_array) {
        int count = cJSON_IsArray(root) ? cJSON_GetArraySize(root) : -1;
        if (count != nc)
            status = yl_error(YL_ERR_FORMAT, "checkpoint '%s': %s must be a JSON array of %d class names", path, key,
                              nc);
        const cJSON *item;
        cJSON_ArrayForEach(item, root) {
            if (status == YL_OK && !cJSON_IsString(item))
                status = yl_error(YL_ERR_FORMAT, "checkpoint '%s': %s holds a value that is not a string", path, key);
        }
    }
    cJSON_Delete(root);
    return status;
}

static char *default_names(int nc) {
    cJSON *names = cJSON_CreateArray();
    for (int i = 0; names && i < nc; i++) {
        char name[32];
        snprintf(name, sizeof name, "class%d", i);
        if (!cJSON_AddItemToArray(names, cJSON_CreateString(name))) {
            cJSON_Delete(names);
            names = NULL;
        }
    }
    char *printed = names ? cJSON_PrintUnformatted(names) : NULL;
    cJSON_Delete(names);
    char *text = printed ? copy_string(printed) : NULL;
    cJSON_free(printed);
    return text;
}

// {"model.9.cv1": "Identity", ...}: the config's per-Conv activation choices.
static char *activations_json(const yl_model_config *cfg) {
    cJSON *acts = cJSON_CreateObject();
    for (int i = 0; acts && i < cfg->act_override_count; i++) {
        const yl_conv_act_override *o = &cfg->act_overrides[i];
        if (!cJSON_AddStringToObject(acts, o->module, yl_conv_act_name(o->act))) {
            cJSON_Delete(acts);
            acts = NULL;
        }
    }
    char *printed = acts ? cJSON_PrintUnformatted(acts) : NULL;
    cJSON_Delete(acts);
    char *text = printed ? copy_string(printed) : NULL;
    cJSON_free(printed);
    return text;
}

static yl_status build(const char *path, const yl_model_config *cfg, const yl_checkpoint_info *info,
                       yl_checkpoint_meta *meta) {
    const yl_checkpoint_info empty = {0};
    if (!info) info = &empty;
    if (info->imgsz < 0) return yl_error(YL_ERR_INVALID_ARG, "checkpoint '%s': imgsz %d < 0", path, info->imgsz);
    if (info->names_json) YL_TRY(check_json(path, "names", info->names_json, true, cfg->nc));
    if (info->train_args_json) YL_TRY(check_json(path, "train_args", info->train_args_json, false, 0));
    if (info->metrics_json) YL_TRY(check_json(path, "metrics", info->metrics_json, false, 0));
    YL_TRY(add_item(meta, "format", YL_CHECKPOINT_FORMAT));
    YL_TRY(add_owned(meta, "format_version", format_string("%d", YL_CHECKPOINT_FORMAT_VERSION)));
    YL_TRY(add_owned(meta, "nc", format_string("%d", cfg->nc)));
    if (info->names_json)
        YL_TRY(add_item(meta, "names", info->names_json));
    else
        YL_TRY(add_owned(meta, "names", default_names(cfg->nc)));
    const char scale[2] = {cfg->scale, '\0'};  // "" for a custom model
    YL_TRY(add_owned(meta, "scale", copy_string(scale)));
    YL_TRY(add_owned(meta, "depth", format_string("%.17g", cfg->depth)));
    YL_TRY(add_owned(meta, "width", format_string("%.17g", cfg->width)));
    YL_TRY(add_owned(meta, "max_channels", format_string("%d", cfg->max_channels)));
    // Written only when they differ from the default (SiLU everywhere), so 8.3-style files keep
    // their metadata; read back as optional items.
    if (cfg->sppf_cv1_identity) YL_TRY(add_item(meta, "sppf_cv1_identity", "1"));
    if (cfg->act_override_count > 0) YL_TRY(add_owned(meta, "activations", activations_json(cfg)));
    YL_TRY(add_owned(meta, "imgsz", format_string("%d", info->imgsz)));
    YL_TRY(add_item(meta, "version_id", info->version_id ? info->version_id : ""));
    YL_TRY(add_item(meta, "parent_version", info->parent_version ? info->parent_version : ""));
    YL_TRY(add_item(meta, "train_args", info->train_args_json ? info->train_args_json : "{}"));
    YL_TRY(add_item(meta, "metrics", info->metrics_json ? info->metrics_json : "{}"));
    return YL_OK;
}

yl_status yl_checkpoint_meta_build(const char *path, const yl_model_config *cfg, const yl_checkpoint_info *info,
                                   yl_checkpoint_meta *out) {
    memset(out, 0, sizeof *out);
    yl_status status = build(path, cfg, info, out);
    if (status != YL_OK) yl_checkpoint_meta_free(out);
    return status;
}

void yl_checkpoint_meta_free(yl_checkpoint_meta *meta) {
    for (int i = 0; i < meta->owned_count; i++) free(meta->owned[i]);
    memset(meta, 0, sizeof *meta);
}

// ---- parsing --------------------------------------------------------------------------------

static yl_status required(const yl_safetensors *st, const char *key, const char **out) {
    *out = yl_safetensors_metadata(st, key);
    if (!*out)
        return yl_error(YL_ERR_FORMAT, "checkpoint '%s': metadata item '%s' is missing", st->path, key);
    return YL_OK;
}

static yl_status parse_int(const yl_safetensors *st, const char *key, long long low, long long high, int *out) {
    const char *text;
    YL_TRY(required(st, key, &text));
    char *end = NULL;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (errno || !*text || *end || v < low || v > high)
        return yl_error(YL_ERR_FORMAT, "checkpoint '%s': %s='%s' is not an integer in [%lld, %lld]", st->path, key,
                        text, low, high);
    *out = (int)v;
    return YL_OK;
}

static yl_status parse_double(const yl_safetensors *st, const char *key, double *out) {
    const char *text;
    YL_TRY(required(st, key, &text));
    char *end = NULL;
    errno = 0;
    double v = strtod(text, &end);
    if (errno || !*text || *end || !isfinite(v))
        return yl_error(YL_ERR_FORMAT, "checkpoint '%s': %s='%s' is not a number", st->path, key, text);
    *out = v;
    return YL_OK;
}

static yl_status parse_string(const yl_safetensors *st, const char *key, char **out) {
    const char *text;
    YL_TRY(required(st, key, &text));
    *out = copy_string(text);
    if (!*out) return yl_error(YL_ERR_OOM, "checkpoint '%s': out of memory", st->path);
    return YL_OK;
}

// The optional activation items (absent: SiLU after every Conv). Whether each named Conv exists
// is checked when the model is built.
static yl_status parse_activations(const yl_safetensors *st, yl_model_config *cfg) {
    const char *flag = yl_safetensors_metadata(st, "sppf_cv1_identity");
    if (flag && strcmp(flag, "0") != 0 && strcmp(flag, "1") != 0)
        return yl_error(YL_ERR_FORMAT, "checkpoint '%s': sppf_cv1_identity='%s' is not 0 or 1", st->path, flag);
    cfg->sppf_cv1_identity = flag && flag[0] == '1';
    const char *text = yl_safetensors_metadata(st, "activations");
    if (!text) return YL_OK;
    cJSON *root = cJSON_Parse(text);
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return yl_error(YL_ERR_FORMAT, "checkpoint '%s': activations must be a JSON object", st->path);
    }
    yl_status status = YL_OK;
    const cJSON *item;
    cJSON_ArrayForEach(item, root) {
        const char *name = cJSON_IsString(item) ? item->valuestring : "";
        if (strcmp(name, "Identity") != 0 && strcmp(name, "SiLU") != 0) {
            status = yl_error(YL_ERR_FORMAT, "checkpoint '%s': activation of '%s' is not \"SiLU\" or \"Identity\"",
                              st->path, item->string);
            break;
        }
        yl_conv_act act = name[0] == 'I' ? YL_CONV_ACT_IDENTITY : YL_CONV_ACT_SILU;
        status = yl_model_config_set_activation(cfg, item->string, act);
        if (status != YL_OK) {
            status = yl_error_context(status, "checkpoint '%s'", st->path);
            break;
        }
    }
    cJSON_Delete(root);
    return status;
}

// Rebuilds the config; a named scale must carry that scale's own multipliers.
static yl_status parse_config(const yl_safetensors *st, yl_model_config *cfg) {
    const char *scale;
    int nc, max_channels;
    double depth, width;
    YL_TRY(required(st, "scale", &scale));
    YL_TRY(parse_int(st, "nc", 1, 100000, &nc));
    YL_TRY(parse_double(st, "depth", &depth));
    YL_TRY(parse_double(st, "width", &width));
    YL_TRY(parse_int(st, "max_channels", 8, 4096, &max_channels));
    yl_status status = scale[0] ? yl_model_config_from_scale(cfg, scale, nc)
                                : yl_model_config_custom(cfg, depth, width, max_channels, nc);
    if (status != YL_OK) return yl_error_context(status, "checkpoint '%s'", st->path);
    if (cfg->depth != depth || cfg->width != width || cfg->max_channels != max_channels)
        return yl_error(YL_ERR_FORMAT,
                        "checkpoint '%s': scale '%s' means depth %g width %g max_channels %d, the file says %g %g %d",
                        st->path, scale, cfg->depth, cfg->width, cfg->max_channels, depth, width, max_channels);
    return parse_activations(st, cfg);
}

static yl_status parse(const yl_safetensors *st, yl_checkpoint_info *info) {
    const char *format = yl_safetensors_metadata(st, "format");
    if (!format || strcmp(format, YL_CHECKPOINT_FORMAT) != 0)
        return yl_error(YL_ERR_FORMAT,
                        "'%s' is not a yoloop checkpoint (its safetensors metadata has no format=%s); a plain "
                        "state_dict can only be transferred into a model",
                        st->path, YL_CHECKPOINT_FORMAT);
    YL_TRY(parse_int(st, "format_version", 1, 1000000, &info->format_version));
    if (info->format_version > YL_CHECKPOINT_FORMAT_VERSION)
        return yl_error(YL_ERR_UNSUPPORTED, "checkpoint '%s': format version %d is newer than this build reads (%d)",
                        st->path, info->format_version, YL_CHECKPOINT_FORMAT_VERSION);
    YL_TRY(parse_config(st, &info->config));
    YL_TRY(parse_int(st, "imgsz", 0, 1 << 20, &info->imgsz));
    YL_TRY(parse_string(st, "names", &info->names_json));
    YL_TRY(check_json(st->path, "names", info->names_json, true, info->config.nc));
    YL_TRY(parse_string(st, "version_id", &info->version_id));
    YL_TRY(parse_string(st, "parent_version", &info->parent_version));
    YL_TRY(parse_string(st, "train_args", &info->train_args_json));
    YL_TRY(check_json(st->path, "train_args", info->train_args_json, false, 0));
    YL_TRY(parse_string(st, "metrics", &info->metrics_json));
    YL_TRY(check_json(st->path, "metrics", info->metrics_json, false, 0));
    return YL_OK;
}

yl_status yl_checkpoint_meta_parse(const yl_safetensors *st, yl_checkpoint_info *info) {
    memset(info, 0, sizeof *info);
    yl_status status = parse(st, info);
    if (status != YL_OK) yl_checkpoint_info_free(info);
    return status;
}
