// Model files -> a model on the engine plus its class names.
#include "cli/model_load.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/data/file_util.h"
#include "weights/checkpoint.h"
#include "weights/load_state.h"
#include "weights/pt_checkpoint.h"
#include "weights/pt_model_config.h"

static bool ends_with(const char *s, const char *suffix) {
    const size_t n = strlen(s), m = strlen(suffix);
    return n >= m && !strcmp(s + n - m, suffix);
}

bool yl_model_file_kind_ok(const char *path) {
    return path && (ends_with(path, ".safetensors") || ends_with(path, ".pt"));
}

void yl_loaded_model_free(yl_loaded_model *m) {
    if (!m) return;
    yl_model_destroy(m->model);
    if (m->names)
        for (int i = 0; i < m->nc; i++) free(m->names[i]);
    free(m->names);
    memset(m, 0, sizeof *m);
}

// names[i] from `given` (count entries, may be fewer than nc) or "class<i>".
static yl_status fill_names(yl_loaded_model *m, const char *const *given, int count) {
    m->names = calloc((size_t)m->nc, sizeof *m->names);
    if (!m->names) return yl_error(YL_ERR_OOM, "model: out of memory for names");
    for (int i = 0; i < m->nc; i++) {
        char fallback[32];
        snprintf(fallback, sizeof fallback, "class%d", i);
        m->names[i] = yl_strdup(i < count && given[i] ? given[i] : fallback);
        if (!m->names[i]) return yl_error(YL_ERR_OOM, "model: out of memory for names");
    }
    return YL_OK;
}

static yl_status load_safetensors(const char *path, yl_engine *eng, yl_loaded_model *out) {
    yl_checkpoint_info info;
    memset(&info, 0, sizeof info);
    YL_TRY(yl_checkpoint_load(path, eng, &out->model, &info));
    out->nc = info.config.nc;
    out->imgsz = info.imgsz;
    cJSON *json = info.names_json ? cJSON_Parse(info.names_json) : NULL;
    const int count = cJSON_IsArray(json) ? cJSON_GetArraySize(json) : 0;
    const char **given = calloc(count > 0 ? (size_t)count : 1, sizeof *given);
    for (int i = 0; given && i < count; i++) given[i] = cJSON_GetStringValue(cJSON_GetArrayItem(json, i));
    yl_status st = given ? fill_names(out, given, count) : yl_error(YL_ERR_OOM, "model: out of memory");
    free(given);
    cJSON_Delete(json);
    yl_checkpoint_info_free(&info);
    return st;
}

static yl_status load_pt(const char *path, yl_engine *eng, yl_loaded_model *out) {
    yl_pt_checkpoint ck;
    YL_TRY(yl_pt_checkpoint_load(&ck, path));
    yl_model_config cfg;
    yl_status st = yl_pt_checkpoint_model_config(&ck, &cfg);
    if (st == YL_OK) st = yl_model_create(&out->model, eng, &cfg, 0);
    if (st == YL_OK) st = yl_model_load_tensor_set(out->model, &ck.tensors, YL_LOAD_STRICT, NULL);
    if (st == YL_OK) {
        out->nc = cfg.nc;
        st = fill_names(out, (const char *const *)ck.names, ck.names_count);
    }
    yl_pt_checkpoint_free(&ck);
    return st;
}

yl_status yl_load_model_file(const char *path, yl_engine *eng, yl_loaded_model *out) {
    if (!path || !eng || !out) return yl_error(YL_ERR_INVALID_ARG, "model: NULL argument");
    memset(out, 0, sizeof *out);
    yl_status st;
    if (ends_with(path, ".safetensors"))
        st = load_safetensors(path, eng, out);
    else if (ends_with(path, ".pt"))
        st = load_pt(path, eng, out);
    else
        return yl_error(YL_ERR_INVALID_ARG, "model=%s: expected a .safetensors or .pt file", path);
    if (st != YL_OK) yl_loaded_model_free(out);
    return st;
}

yl_status yl_cli_engine_init(yl_engine *eng, yl_device device, int cuda_index) {
    yl_engine_options options = {.device = device, .cuda_device_index = cuda_index, .allow_cpu_fallback = false};
    return yl_engine_init(eng, &options);
}
