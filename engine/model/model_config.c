#include "model_config.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

typedef struct {
    char scale;
    double depth, width;
    int max_channels;
} scale_row;

// yolov8.yaml `scales`.
static const scale_row SCALES[] = {
    {'n', 0.33, 0.25, 1024}, {'s', 0.33, 0.50, 1024}, {'m', 0.67, 0.75, 768},
    {'l', 1.00, 1.00, 512},  {'x', 1.00, 1.25, 512},
};

// yolov8.yaml `backbone` + `head`, unscaled: from, repeats, module, first argument.
typedef struct {
    yl_layer_kind kind;
    int from[YL_YOLOV8_LEVELS];
    int from_count;
    int repeats;
    int channels;  // Conv/C2f/SPPF output channels before scaling
    int kernel, stride;
    bool shortcut;
} yaml_row;

static const yaml_row YOLOV8_YAML[YL_YOLOV8_LAYER_COUNT] = {
    {YL_LAYER_CONV, {-1}, 1, 1, 64, 3, 2, false},          // 0 P1/2
    {YL_LAYER_CONV, {-1}, 1, 1, 128, 3, 2, false},         // 1 P2/4
    {YL_LAYER_C2F, {-1}, 1, 3, 128, 0, 0, true},           // 2
    {YL_LAYER_CONV, {-1}, 1, 1, 256, 3, 2, false},         // 3 P3/8
    {YL_LAYER_C2F, {-1}, 1, 6, 256, 0, 0, true},           // 4
    {YL_LAYER_CONV, {-1}, 1, 1, 512, 3, 2, false},         // 5 P4/16
    {YL_LAYER_C2F, {-1}, 1, 6, 512, 0, 0, true},           // 6
    {YL_LAYER_CONV, {-1}, 1, 1, 1024, 3, 2, false},        // 7 P5/32
    {YL_LAYER_C2F, {-1}, 1, 3, 1024, 0, 0, true},          // 8
    {YL_LAYER_SPPF, {-1}, 1, 1, 1024, 5, 1, false},        // 9
    {YL_LAYER_UPSAMPLE, {-1}, 1, 1, 0, 0, 0, false},       // 10
    {YL_LAYER_CONCAT, {-1, 6}, 2, 1, 0, 0, 0, false},      // 11
    {YL_LAYER_C2F, {-1}, 1, 3, 512, 0, 0, false},          // 12
    {YL_LAYER_UPSAMPLE, {-1}, 1, 1, 0, 0, 0, false},       // 13
    {YL_LAYER_CONCAT, {-1, 4}, 2, 1, 0, 0, 0, false},      // 14
    {YL_LAYER_C2F, {-1}, 1, 3, 256, 0, 0, false},          // 15 P3 out
    {YL_LAYER_CONV, {-1}, 1, 1, 256, 3, 2, false},         // 16
    {YL_LAYER_CONCAT, {-1, 12}, 2, 1, 0, 0, 0, false},     // 17
    {YL_LAYER_C2F, {-1}, 1, 3, 512, 0, 0, false},          // 18 P4 out
    {YL_LAYER_CONV, {-1}, 1, 1, 512, 3, 2, false},         // 19
    {YL_LAYER_CONCAT, {-1, 9}, 2, 1, 0, 0, 0, false},      // 20
    {YL_LAYER_C2F, {-1}, 1, 3, 1024, 0, 0, false},         // 21 P5 out
    {YL_LAYER_DETECT, {15, 18, 21}, 3, 1, 0, 0, 0, false}, // 22
};

static yl_status check_config(const yl_model_config *cfg) {
    if (!cfg) return yl_error(YL_ERR_INVALID_ARG, "model config: NULL");
    if (!(cfg->depth > 0.0 && cfg->depth <= 4.0))
        return yl_error(YL_ERR_INVALID_ARG, "model config: depth multiple %g is not in (0, 4]", cfg->depth);
    if (!(cfg->width > 0.0 && cfg->width <= 4.0))
        return yl_error(YL_ERR_INVALID_ARG, "model config: width multiple %g is not in (0, 4]", cfg->width);
    if (cfg->max_channels < 8 || cfg->max_channels > 4096)
        return yl_error(YL_ERR_INVALID_ARG, "model config: max_channels %d is not in [8, 4096]", cfg->max_channels);
    if (cfg->nc < 1 || cfg->nc > 100000)
        return yl_error(YL_ERR_INVALID_ARG, "model config: nc %d is not in [1, 100000]", cfg->nc);
    if (cfg->act_override_count < 0 || cfg->act_override_count > YL_MODEL_MAX_ACT_OVERRIDES)
        return yl_error(YL_ERR_INVALID_ARG, "model config: %d activation overrides (0..%d)", cfg->act_override_count,
                        YL_MODEL_MAX_ACT_OVERRIDES);
    for (int i = 0; i < cfg->act_override_count; i++) {
        const yl_conv_act_override *o = &cfg->act_overrides[i];
        if (!memchr(o->module, '\0', sizeof o->module) || !o->module[0])
            return yl_error(YL_ERR_INVALID_ARG, "model config: activation override %d has no module name", i);
        if (o->act != YL_CONV_ACT_SILU && o->act != YL_CONV_ACT_IDENTITY)
            return yl_error(YL_ERR_INVALID_ARG, "model config: %s: unknown activation %d", o->module, (int)o->act);
    }
    return YL_OK;
}

yl_status yl_model_config_set_activation(yl_model_config *cfg, const char *module, yl_conv_act act) {
    if (!cfg || !module) return yl_error(YL_ERR_INVALID_ARG, "model config: NULL argument");
    if (!module[0] || strlen(module) >= YL_CONV_NAME_SIZE)
        return yl_error(YL_ERR_INVALID_ARG, "model config: '%s' is not a Conv name", module);
    if (act != YL_CONV_ACT_SILU && act != YL_CONV_ACT_IDENTITY)
        return yl_error(YL_ERR_INVALID_ARG, "model config: %s: unknown activation %d", module, (int)act);
    if (cfg->act_override_count < 0 || cfg->act_override_count > YL_MODEL_MAX_ACT_OVERRIDES)
        return yl_error(YL_ERR_INVALID_ARG, "model config: %d activation overrides (0..%d)", cfg->act_override_count,
                        YL_MODEL_MAX_ACT_OVERRIDES);
    for (int i = 0; i < cfg->act_override_count; i++) {
        if (strcmp(cfg->act_overrides[i].module, module) != 0) continue;
        cfg->act_overrides[i].act = act;
        return YL_OK;
    }
    if (cfg->act_override_count == YL_MODEL_MAX_ACT_OVERRIDES)
        return yl_error(YL_ERR_UNSUPPORTED, "model config: %s: more than %d Convs with a non-default activation",
                        module, YL_MODEL_MAX_ACT_OVERRIDES);
    yl_conv_act_override *o = &cfg->act_overrides[cfg->act_override_count++];
    memset(o, 0, sizeof *o);
    snprintf(o->module, sizeof o->module, "%s", module);
    o->act = act;
    return YL_OK;
}

yl_conv_act yl_model_config_activation(const yl_model_config *cfg, const char *module, bool is_sppf_cv1) {
    yl_conv_act act = is_sppf_cv1 && cfg->sppf_cv1_identity ? YL_CONV_ACT_IDENTITY : YL_CONV_ACT_SILU;
    for (int i = 0; i < cfg->act_override_count; i++)
        if (strcmp(cfg->act_overrides[i].module, module) == 0) act = cfg->act_overrides[i].act;
    return act;
}

const char *yl_conv_act_name(yl_conv_act act) {
    switch (act) {
    case YL_CONV_ACT_SILU: return "SiLU";
    case YL_CONV_ACT_IDENTITY: return "Identity";
    }
    return "unknown";
}

yl_status yl_model_config_from_scale(yl_model_config *cfg, const char *scale, int nc) {
    if (!cfg || !scale) return yl_error(YL_ERR_INVALID_ARG, "model config: NULL argument");
    const char *letter = scale;
    if (!strncmp(letter, "yolov8", 6)) letter += 6;
    if (strlen(letter) != 1)
        return yl_error(YL_ERR_INVALID_ARG, "model config: unknown scale '%s' (expected n, s, m, l or x)", scale);
    for (size_t i = 0; i < sizeof SCALES / sizeof SCALES[0]; i++) {
        if (SCALES[i].scale != letter[0]) continue;
        *cfg = (yl_model_config){.scale = SCALES[i].scale,
                                 .depth = SCALES[i].depth,
                                 .width = SCALES[i].width,
                                 .max_channels = SCALES[i].max_channels,
                                 .nc = nc};
        return check_config(cfg);
    }
    return yl_error(YL_ERR_INVALID_ARG, "model config: unknown scale '%s' (expected n, s, m, l or x)", scale);
}

yl_status yl_model_config_custom(yl_model_config *cfg, double depth, double width, int max_channels, int nc) {
    if (!cfg) return yl_error(YL_ERR_INVALID_ARG, "model config: NULL argument");
    *cfg = (yl_model_config){.scale = 0, .depth = depth, .width = width, .max_channels = max_channels, .nc = nc};
    return check_config(cfg);
}

const char *yl_model_config_name(const yl_model_config *cfg, char *buf, int size) {
    if (cfg && cfg->scale)
        snprintf(buf, (size_t)size, "yolov8%c", cfg->scale);
    else
        snprintf(buf, (size_t)size, "yolov8-custom");
    return buf;
}

int yl_make_divisible(double x, int divisor) { return (int)ceil(x / divisor) * divisor; }

int yl_scale_channels(const yl_model_config *cfg, int c) {
    if (c == cfg->nc) return c;
    int limited = c < cfg->max_channels ? c : cfg->max_channels;
    return yl_make_divisible(limited * cfg->width, 8);
}

int yl_scale_repeats(const yl_model_config *cfg, int n) {
    if (n <= 1) return n;
    int scaled = (int)nearbyint(n * cfg->depth);
    return scaled > 1 ? scaled : 1;
}

yl_status yl_model_layout_build(const yl_model_config *cfg, yl_model_layout *out) {
    if (!out) return yl_error(YL_ERR_INVALID_ARG, "model layout: NULL output");
    YL_TRY(check_config(cfg));
    memset(out, 0, sizeof *out);
    out->config = *cfg;
    int channels[YL_YOLOV8_LAYER_COUNT];
    int down[YL_YOLOV8_LAYER_COUNT];
    for (int i = 0; i < YL_YOLOV8_LAYER_COUNT; i++) {
        const yaml_row *row = &YOLOV8_YAML[i];
        yl_layer_layout *layer = &out->layers[i];
        layer->kind = row->kind;
        layer->from_count = row->from_count;
        for (int f = 0; f < row->from_count; f++) layer->from[f] = row->from[f] < 0 ? i + row->from[f] : row->from[f];
        int first = layer->from[0];
        int c_first = first < 0 ? 3 : channels[first];
        int down_first = first < 0 ? 1 : down[first];
        layer->c_in = c_first;
        layer->repeats = yl_scale_repeats(cfg, row->repeats);
        layer->down = down_first;
        switch (row->kind) {
        case YL_LAYER_CONV:
            layer->c_out = yl_scale_channels(cfg, row->channels);
            layer->kernel = row->kernel;
            layer->stride = row->stride;
            layer->down = down_first * row->stride;
            break;
        case YL_LAYER_C2F:
            layer->c_out = yl_scale_channels(cfg, row->channels);
            layer->shortcut = row->shortcut;
            break;
        case YL_LAYER_SPPF:
            layer->c_out = yl_scale_channels(cfg, row->channels);
            layer->kernel = row->kernel;
            break;
        case YL_LAYER_UPSAMPLE:
            layer->c_out = c_first;
            layer->down = down_first / 2;
            break;
        case YL_LAYER_CONCAT:
            layer->c_in = 0;
            for (int f = 0; f < row->from_count; f++) {
                if (down[layer->from[f]] != down_first)
                    return yl_error(YL_ERR_SHAPE, "model layout: layer %d concatenates different resolutions", i);
                layer->c_in += channels[layer->from[f]];
            }
            layer->c_out = layer->c_in;
            break;
        case YL_LAYER_DETECT: {
            for (int f = 0; f < YL_YOLOV8_LEVELS; f++) {
                out->detect_in[f] = channels[layer->from[f]];
                out->detect_strides[f] = down[layer->from[f]];
            }
            int ch0 = out->detect_in[0];
            int box = ch0 / 4 > 16 ? ch0 / 4 : 16;
            out->box_hidden = box > 4 * YL_YOLOV8_REG_MAX ? box : 4 * YL_YOLOV8_REG_MAX;
            int nc_capped = cfg->nc < 100 ? cfg->nc : 100;
            out->cls_hidden = ch0 > nc_capped ? ch0 : nc_capped;
            layer->c_out = 4 * YL_YOLOV8_REG_MAX + cfg->nc;
            layer->down = out->detect_strides[0];
            break;
        }
        }
        channels[i] = layer->c_out;
        down[i] = layer->down;
    }
    return YL_OK;
}
