// optimizer=auto|SGD|AdamW as BaseTrainer.build_optimizer resolves it (Ultralytics 8.3.x).
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "optimizer.h"
#include "py_float.h"

#define YL_AUTO_SGD_ITERATIONS 10000  // auto: SGD for longer runs, AdamW below

const char *yl_optimizer_kind_name(yl_optimizer_kind kind) {
    switch (kind) {
    case YL_OPTIMIZER_SGD: return "SGD";
    case YL_OPTIMIZER_ADAMW: return "AdamW";
    }
    return "unknown";
}

yl_optimizer_settings yl_optimizer_settings_make(yl_optimizer_kind kind, double lr, double momentum,
                                                 double weight_decay) {
    yl_optimizer_settings s;
    memset(&s, 0, sizeof s);
    s.kind = kind;
    for (int g = 0; g < YL_PARAM_GROUP_COUNT; g++) {
        s.groups[g].lr = s.groups[g].initial_lr = lr;
        s.groups[g].momentum = momentum;
        s.groups[g].weight_decay = g == YL_PARAM_GROUP_WEIGHT ? weight_decay : 0.0;
    }
    s.beta2 = 0.999;
    s.eps = 1e-8;
    return s;
}

static bool same_name(const char *a, const char *b) {
    for (; *a && *b; a++, b++)
        if (tolower((unsigned char)*a) != tolower((unsigned char)*b)) return false;
    return *a == *b;
}

// Python's round(x, 6): both it and printf round the exact binary value correctly.
static double round6(double x) {
    char text[64];
    snprintf(text, sizeof text, "%.6f", x);
    return strtod(text, NULL);
}

int64_t yl_auto_optimizer_iterations(int64_t dataset_size, int batch, int nbs, int epochs) {
    int64_t per = batch > nbs ? batch : nbs;
    if (per <= 0 || dataset_size < 0 || epochs < 0) return 0;
    return (dataset_size + per - 1) / per * epochs;
}

yl_status yl_optimizer_choose(const yl_optimizer_request *r, yl_optimizer_choice *out) {
    if (!r || !out) return yl_error(YL_ERR_INVALID_ARG, "optimizer_choose: NULL argument");
    memset(out, 0, sizeof *out);
    const char *name = r->name ? r->name : "auto";
    if (!(r->weight_decay >= 0.0) || !isfinite(r->weight_decay))
        return yl_error(YL_ERR_INVALID_ARG, "optimizer: weight_decay=%g must be finite and >= 0", r->weight_decay);
    yl_optimizer_kind kind;
    double lr = r->lr0, momentum = r->momentum;
    out->warmup_bias_lr = r->warmup_bias_lr;
    if (same_name(name, "auto")) {
        if (r->nc < 1) return yl_error(YL_ERR_INVALID_ARG, "optimizer=auto: nc=%d must be >= 1", r->nc);
        out->automatic = true;
        out->warmup_bias_lr = 0.0;  // Ultralytics: "no higher than 0.01 for Adam"
        if (r->iterations > YL_AUTO_SGD_ITERATIONS) {
            kind = YL_OPTIMIZER_SGD;
            lr = 0.01;
            momentum = 0.9;
        } else {
            kind = YL_OPTIMIZER_ADAMW;
            lr = round6(0.002 * 5 / (4 + r->nc));
            momentum = 0.9;
        }
    } else if (same_name(name, "SGD")) {
        kind = YL_OPTIMIZER_SGD;
    } else if (same_name(name, "AdamW")) {
        kind = YL_OPTIMIZER_ADAMW;
    } else if (same_name(name, "Adam") || same_name(name, "Adamax") || same_name(name, "NAdam") ||
               same_name(name, "RAdam") || same_name(name, "RMSProp")) {
        return yl_error(YL_ERR_UNSUPPORTED, "optimizer=%s is not implemented (use auto, SGD or AdamW)", name);
    } else {
        return yl_error(YL_ERR_INVALID_ARG,
                        "optimizer=%s not found; choose one of auto, SGD, AdamW (Adam, Adamax, NAdam, RAdam, RMSProp: "
                        "not implemented)", name);
    }
    if (!(lr >= 0.0) || !isfinite(lr))
        return yl_error(YL_ERR_INVALID_ARG, "optimizer: lr0=%g must be finite and >= 0", lr);
    if (!(momentum >= 0.0 && momentum < 1.0))
        return yl_error(YL_ERR_INVALID_ARG, "optimizer: momentum=%g must be in [0, 1)", momentum);
    out->settings = yl_optimizer_settings_make(kind, lr, momentum, r->weight_decay);
    char lr_text[32], momentum_text[32];
    snprintf(out->description, sizeof out->description, "%s(lr=%s, momentum=%s)", yl_optimizer_kind_name(kind),
             yl_format_py_float(lr, lr_text, sizeof lr_text),
             yl_format_py_float(momentum, momentum_text, sizeof momentum_text));
    return YL_OK;
}
