#include "weights/pt_model_config.h"

#include <string.h>

#define PT_UNLIMITED_CHANNELS 4096  // yolov8.yaml asks for at most 1024 x width <= 4096

static yl_status scaling(const yl_pt_checkpoint *ck, yl_model_config *cfg) {
    const char *path = ck->path ? ck->path : "checkpoint";
    if (ck->nc < 1) return yl_error(YL_ERR_FORMAT, "pt '%s': the checkpoint records no class count", path);
    char letter[2] = {ck->scale, '\0'};
    bool named = ck->scale && yl_model_config_from_scale(cfg, letter, ck->nc) == YL_OK;
    if (ck->depth_multiple > 0.0 && ck->width_multiple > 0.0) {
        int max_channels = ck->max_channels > 0 ? ck->max_channels : PT_UNLIMITED_CHANNELS;
        // A yaml with its own `scales` may reuse a letter with other multipliers.
        if (named && cfg->depth == ck->depth_multiple && cfg->width == ck->width_multiple &&
            cfg->max_channels == max_channels)
            return YL_OK;
        yl_status status = yl_model_config_custom(cfg, ck->depth_multiple, ck->width_multiple, max_channels, ck->nc);
        return status == YL_OK ? YL_OK : yl_error_context(status, "pt '%s'", path);
    }
    if (named) return YL_OK;
    return yl_error(YL_ERR_FORMAT, "pt '%s': the checkpoint records neither a yaml scaling nor a scale letter", path);
}

yl_status yl_pt_checkpoint_model_config(const yl_pt_checkpoint *ck, yl_model_config *cfg) {
    if (!ck || !cfg) return yl_error(YL_ERR_INVALID_ARG, "pt model config: NULL argument");
    YL_TRY(scaling(ck, cfg));
    for (int i = 0; i < ck->activation_count; i++) {
        const yl_pt_activation *a = &ck->activations[i];
        switch (a->kind) {
        case YL_PT_ACT_SILU: break;
        case YL_PT_ACT_IDENTITY: {
            yl_status status = yl_model_config_set_activation(cfg, a->module, YL_CONV_ACT_IDENTITY);
            if (status != YL_OK) return yl_error_context(status, "pt '%s'", ck->path ? ck->path : "checkpoint");
            break;
        }
        default:
            return yl_error(YL_ERR_UNSUPPORTED,
                            "pt '%s': %s.act is %s; yoloop computes a Conv's activation as SiLU or Identity only",
                            ck->path ? ck->path : "checkpoint", a->module, a->type ? a->type : "(unknown class)");
        }
    }
    return YL_OK;
}
