// YOLOv8 detection: model scales and the channel/repeat arithmetic of Ultralytics' parse_model
// (8.3.x), resolved into a per-layer layout. Pure host arithmetic, no tensors.
#pragma once
#include <stdbool.h>

#include "../core/status.h"

#define YL_YOLOV8_LAYER_COUNT 23  // yolov8.yaml: backbone 0-9, head 10-21, Detect 22
#define YL_YOLOV8_DETECT_LAYER 22
#define YL_YOLOV8_LEVELS 3        // P3, P4, P5
#define YL_YOLOV8_REG_MAX 16      // DFL bins per box side
#define YL_YOLOV8_MAX_STRIDE 32   // input height and width must be multiples of this

#define YL_CONV_NAME_SIZE 40               // a Conv's state_dict prefix, e.g. "model.21.m.0.cv2"
#define YL_MODEL_MAX_ACT_OVERRIDES 16

// The activation after a Conv's BatchNorm. Ultralytics' Conv(act=True) applies the shared SiLU;
// Conv(act=False) an Identity. A checkpoint's pickled modules decide which (yolov8.md §9).
typedef enum {
    YL_CONV_ACT_SILU = 0,
    YL_CONV_ACT_IDENTITY,
} yl_conv_act;

typedef struct {
    char module[YL_CONV_NAME_SIZE];  // a Conv with BatchNorm: "model.9.cv1"
    yl_conv_act act;
} yl_conv_act_override;

typedef struct {
    char scale;         // 'n', 's', 'm', 'l', 'x', or 0 for a custom model
    double depth;       // depth_multiple
    double width;       // width_multiple
    int max_channels;
    int nc;             // number of classes
    // Activations: SiLU after every Conv unless said otherwise (what 8.3 builds from any yaml).
    // Zero-initialised configs keep that default.
    bool sppf_cv1_identity;  // SPPF.cv1 without activation, as Ultralytics 8.4 builds v8 yamls
    int act_override_count;  // per-Conv choices, applied after the flag (a checkpoint's own)
    yl_conv_act_override act_overrides[YL_MODEL_MAX_ACT_OVERRIDES];
} yl_model_config;

typedef enum {
    YL_LAYER_CONV = 0,
    YL_LAYER_C2F,
    YL_LAYER_SPPF,
    YL_LAYER_UPSAMPLE,
    YL_LAYER_CONCAT,
    YL_LAYER_DETECT,
} yl_layer_kind;

// One row of yolov8.yaml after scaling.
typedef struct {
    yl_layer_kind kind;
    int from[YL_YOLOV8_LEVELS];  // absolute layer indices; -1 = the model input
    int from_count;
    int c_in;          // sum over `from` (Concat), else the channels of from[0]
    int c_out;         // Detect: 4 * reg_max + nc (channels of each head map)
    int repeats;       // C2f bottlenecks
    int kernel;        // Conv
    int stride;        // Conv
    bool shortcut;     // C2f
    int down;          // output resolution = input / down (1 .. 32)
} yl_layer_layout;

typedef struct {
    yl_model_config config;
    yl_layer_layout layers[YL_YOLOV8_LAYER_COUNT];
    int detect_in[YL_YOLOV8_LEVELS];   // channels entering Detect per level
    int detect_strides[YL_YOLOV8_LEVELS];  // 8, 16, 32
    int box_hidden;   // Detect c2 = max(16, ch0 / 4, 4 * reg_max)
    int cls_hidden;   // Detect c3 = max(ch0, min(nc, 100))
} yl_model_layout;

// Config of a named scale ("n", "s", "m", "l", "x", also "yolov8n" etc.).
yl_status yl_model_config_from_scale(yl_model_config *cfg, const char *scale, int nc);
// Config of a custom model (tiny test models): depth > 0, width > 0, max_channels >= 8, nc >= 1.
yl_status yl_model_config_custom(yl_model_config *cfg, double depth, double width, int max_channels, int nc);
// Sets the activation of one Conv by its state_dict prefix (replacing an earlier choice for the
// same Conv). The name is checked against the model when one is built from the config.
yl_status yl_model_config_set_activation(yl_model_config *cfg, const char *module, yl_conv_act act);
// The activation the config gives the Conv `module` (`is_sppf_cv1`: the module is an SPPF's cv1).
yl_conv_act yl_model_config_activation(const yl_model_config *cfg, const char *module, bool is_sppf_cv1);
// "SiLU" / "Identity" (PyTorch's class names).
const char *yl_conv_act_name(yl_conv_act act);
// "yolov8n" for a named scale, "yolov8-custom" otherwise.
const char *yl_model_config_name(const yl_model_config *cfg, char *buf, int size);

// ceil(x / divisor) * divisor, Ultralytics' make_divisible.
int yl_make_divisible(double x, int divisor);
// Output channels of Conv/C2f/SPPF for the yaml's unscaled `c`. As in Ultralytics, a yaml
// value equal to nc is left unscaled (a Classify-head rule that also fires for detection).
int yl_scale_channels(const yl_model_config *cfg, int c);
// max(round(n * depth), 1) for n > 1 (round half to even, as Python's round), else n.
int yl_scale_repeats(const yl_model_config *cfg, int n);

yl_status yl_model_layout_build(const yl_model_config *cfg, yl_model_layout *out);
