// Column layout and argument lists follow Ultralytics 8.3's parse_model log, so the two can be
// compared line by line (e.g. "  2   -1  1  7360  ultralytics.nn.modules.block.C2f  [32, 32, 1, True]").
#include "cli/model_table.h"

#include <stdbool.h>
#include <string.h>

static const char *module_name(yl_layer_kind kind) {
    switch (kind) {
    case YL_LAYER_CONV: return "ultralytics.nn.modules.conv.Conv";
    case YL_LAYER_C2F: return "ultralytics.nn.modules.block.C2f";
    case YL_LAYER_SPPF: return "ultralytics.nn.modules.block.SPPF";
    case YL_LAYER_UPSAMPLE: return "torch.nn.modules.upsampling.Upsample";
    case YL_LAYER_CONCAT: return "ultralytics.nn.modules.conv.Concat";
    case YL_LAYER_DETECT: return "ultralytics.nn.modules.head.Detect";
    }
    return "?";
}

// As yolov8.yaml writes it: the previous layer as -1 in first place (Detect lists absolute
// indices), a list when there are several.
static void format_from(const yl_layer_layout *l, int index, char *buf, size_t size) {
    size_t used = 0;
    if (l->from_count > 1) used += (size_t)snprintf(buf, size, "[");
    for (int f = 0; f < l->from_count && used < size; f++) {
        bool relative = f == 0 && l->kind != YL_LAYER_DETECT && l->from[f] == index - 1;
        int from = relative ? -1 : l->from[f];
        used += (size_t)snprintf(buf + used, size - used, f ? ", %d" : "%d", from);
    }
    if (l->from_count > 1 && used < size) snprintf(buf + used, size - used, "]");
}

static void format_args(const yl_model_layout *layout, int index, char *buf, size_t size) {
    const yl_layer_layout *l = &layout->layers[index];
    switch (l->kind) {
    case YL_LAYER_CONV: snprintf(buf, size, "[%d, %d, %d, %d]", l->c_in, l->c_out, l->kernel, l->stride); break;
    case YL_LAYER_C2F:
        snprintf(buf, size, "[%d, %d, %d%s]", l->c_in, l->c_out, l->repeats, l->shortcut ? ", True" : "");
        break;
    case YL_LAYER_SPPF: snprintf(buf, size, "[%d, %d, %d]", l->c_in, l->c_out, l->kernel); break;
    case YL_LAYER_UPSAMPLE: snprintf(buf, size, "[None, 2, 'nearest']"); break;
    case YL_LAYER_CONCAT: snprintf(buf, size, "[1]"); break;
    case YL_LAYER_DETECT:
        snprintf(buf, size, "[%d, [%d, %d, %d]]", layout->config.nc, layout->detect_in[0], layout->detect_in[1],
                 layout->detect_in[2]);
        break;
    }
}

// 3157200 -> "3,157,200".
static const char *thousands(long long v, char *buf, size_t size) {
    char digits[32];
    int n = snprintf(digits, sizeof digits, "%lld", v < 0 ? -v : v), used = 0;
    if (v < 0 && size > 1) buf[used++] = '-';
    for (int i = 0; i < n && (size_t)used + 2 < size; i++) {
        if (i && (n - i) % 3 == 0) buf[used++] = ',';
        buf[used++] = digits[i];
    }
    buf[used] = '\0';
    return buf;
}

yl_status yl_print_model_table(FILE *out, const yl_model_config *cfg, int imgsz) {
    yl_model_layout layout;
    yl_model_summary summary;
    YL_TRY(yl_model_layout_build(cfg, &layout));
    YL_TRY(yl_model_summarize(cfg, imgsz, &summary));
    fprintf(out, "\n%3s%20s%3s%10s  %-45s%s\n", "", "from", "n", "params", "module", "arguments");
    for (int i = 0; i < YL_YOLOV8_LAYER_COUNT; i++) {
        const yl_layer_layout *l = &layout.layers[i];
        char from[48], args[96];
        format_from(l, i, from, sizeof from);
        format_args(&layout, i, args, sizeof args);
        int repeats = l->kind == YL_LAYER_C2F ? l->repeats : 1;
        fprintf(out, "%3d%20s%3d%10lld  %-45s%s\n", i, from, repeats, (long long)summary.layer_parameters[i],
                module_name(l->kind), args);
    }
    char name[32], params[32], grads[32], layers[32];
    yl_model_config_name(cfg, name, sizeof name);
    if (!strncmp(name, "yolo", 4)) memcpy(name, "YOLO", 4);
    fprintf(out, "%s summary: %s layers, %s parameters, %s gradients, %.1f GFLOPs", name,
            thousands(summary.leaf_layers, layers, sizeof layers), thousands(summary.parameters, params, sizeof params),
            thousands(summary.trainable, grads, sizeof grads), summary.gflops);
    if (imgsz != 640) fprintf(out, " at %dx%d", imgsz, imgsz);
    fprintf(out, "\n");
    return YL_OK;
}
