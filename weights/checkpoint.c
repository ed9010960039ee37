// Saving copies the whole state to one host buffer (the parameter arena may live on the GPU)
// and hands it to the atomic safetensors writer; loading reads the metadata, builds the model
// and loads the tensors strictly through weights/load_state.
#include "weights/checkpoint.h"

#include <stdlib.h>
#include <string.h>

#include "weights/checkpoint_meta.h"
#include "weights/safetensors_write.h"

yl_status yl_safetensors_as_tensor_set(const yl_safetensors *st, yl_tensor_set *out) {
    if (!st || !out) return yl_error(YL_ERR_INVALID_ARG, "safetensors tensor set: NULL argument");
    out->count = 0;
    out->items = calloc((size_t)st->count + 1, sizeof *out->items);
    if (!out->items) return yl_error(YL_ERR_OOM, "safetensors '%s': out of memory", st->path);
    for (int i = 0; i < st->count; i++) {
        const yl_safetensors_entry *e = &st->entries[i];
        if (e->ndim > YL_TENSOR_SET_MAX_DIMS) {
            yl_safetensors_tensor_set_free(out);
            return yl_error(YL_ERR_FORMAT, "safetensors '%s': tensor '%s' has %d dimensions", st->path, e->name,
                            e->ndim);
        }
        yl_named_tensor *t = &out->items[i];
        t->name = e->name;
        t->dtype = e->dtype;
        t->ndim = e->ndim;
        for (int d = 0; d < e->ndim; d++) t->shape[d] = e->shape[d];
        t->data = yl_safetensors_data(st, e);
        t->nbytes = e->nbytes;
    }
    out->count = st->count;
    return YL_OK;
}

void yl_safetensors_tensor_set_free(yl_tensor_set *set) {
    if (!set) return;
    free(set->items);
    set->items = NULL;
    set->count = 0;
}

void yl_checkpoint_info_free(yl_checkpoint_info *info) {
    if (!info) return;
    free(info->names_json);
    free(info->version_id);
    free(info->parent_version);
    free(info->train_args_json);
    free(info->metrics_json);
    memset(info, 0, sizeof *info);
}

// ---- save -----------------------------------------------------------------------------------

// The model's state as a tensor set over one host buffer (*host, to free).
static yl_status state_to_host(yl_model *m, yl_tensor_set *set, void **host) {
    int count = yl_model_state_count(m);
    size_t total = 0;
    for (int i = 0; i < count; i++) total += yl_tensor_nbytes(&yl_model_state_at(m, i)->value);
    set->items = calloc((size_t)count + 1, sizeof *set->items);
    *host = malloc(total ? total : 1);
    if (!set->items || !*host) return yl_error(YL_ERR_OOM, "checkpoint save: cannot allocate %zu bytes", total);
    yl_engine *eng = yl_model_engine(m);
    unsigned char *cursor = *host;
    for (int i = 0; i < count; i++) {
        yl_state_entry *e = yl_model_state_at(m, i);
        yl_backend *be = yl_engine_backend(eng, e->value.device);
        if (!be) return yl_error(YL_ERR_DEVICE, "checkpoint save: no %s backend", yl_device_name(e->value.device));
        size_t bytes = yl_tensor_nbytes(&e->value);
        YL_TRY(be->synchronize(be));
        YL_TRY(be->copy_to_host(be, cursor, e->value.data, bytes));
        yl_named_tensor *t = &set->items[i];
        t->name = e->name;
        t->dtype = e->value.dtype;
        t->ndim = e->value.ndim;
        for (int d = 0; d < e->value.ndim; d++) t->shape[d] = e->value.shape[d];
        t->data = cursor;
        t->nbytes = bytes;
        cursor += bytes;
    }
    set->count = count;
    return YL_OK;
}

yl_status yl_checkpoint_save(yl_model *m, const yl_checkpoint_info *info, const char *path) {
    if (!m || !path) return yl_error(YL_ERR_INVALID_ARG, "checkpoint save: NULL %s", m ? "path" : "model");
    const yl_model_layout *layout = yl_model_get_layout(m);
    yl_checkpoint_meta meta;
    YL_TRY(yl_checkpoint_meta_build(path, &layout->config, info, &meta));
    yl_tensor_set set = {0};
    void *host = NULL;
    yl_status status = yl_model_store_num_batches_tracked(m);
    if (status == YL_OK) status = state_to_host(m, &set, &host);
    if (status == YL_OK) status = yl_safetensors_write(path, &set, meta.items, meta.count);
    if (status != YL_OK) status = yl_error_context(status, "checkpoint save");
    free(set.items);
    free(host);
    yl_checkpoint_meta_free(&meta);
    return status;
}

// ---- load -----------------------------------------------------------------------------------

static yl_status open_checkpoint(const char *path, yl_safetensors *st, yl_checkpoint_info *info) {
    yl_status status = yl_safetensors_open(st, path);
    if (status != YL_OK) return yl_error_context(status, "checkpoint '%s' is not a readable safetensors file", path);
    status = yl_checkpoint_meta_parse(st, info);
    if (status != YL_OK) yl_safetensors_close(st);
    return status;
}

yl_status yl_checkpoint_read_info(const char *path, yl_checkpoint_info *info) {
    if (!path || !info) return yl_error(YL_ERR_INVALID_ARG, "checkpoint read_info: NULL argument");
    yl_safetensors st;
    YL_TRY(open_checkpoint(path, &st, info));
    yl_safetensors_close(&st);
    return YL_OK;
}

yl_status yl_checkpoint_load(const char *path, yl_engine *eng, yl_model **out, yl_checkpoint_info *info) {
    if (!path || !eng || !out) return yl_error(YL_ERR_INVALID_ARG, "checkpoint load: NULL argument");
    *out = NULL;
    yl_safetensors st;
    yl_checkpoint_info local;
    YL_TRY(open_checkpoint(path, &st, &local));
    yl_model *m = NULL;
    yl_tensor_set set = {0};
    yl_status status = yl_model_create(&m, eng, &local.config, 0);
    if (status == YL_OK) status = yl_safetensors_as_tensor_set(&st, &set);
    if (status == YL_OK) status = yl_model_load_tensor_set(m, &set, YL_LOAD_STRICT, NULL);
    if (status != YL_OK) status = yl_error_context(status, "checkpoint '%s'", path);
    yl_safetensors_tensor_set_free(&set);
    yl_safetensors_close(&st);
    if (status != YL_OK) {
        yl_model_destroy(m);
        yl_checkpoint_info_free(&local);
        return status;
    }
    *out = m;
    if (info)
        *info = local;
    else
        yl_checkpoint_info_free(&local);
    return YL_OK;
}

yl_status yl_checkpoint_transfer(yl_model *m, const char *path, yl_transfer_report *report) {
    if (!m || !path) return yl_error(YL_ERR_INVALID_ARG, "checkpoint transfer: NULL %s", m ? "path" : "model");
    yl_safetensors st;
    YL_TRY(yl_safetensors_open(&st, path));
    yl_tensor_set set = {0};
    yl_status status = yl_safetensors_as_tensor_set(&st, &set);
    if (status == YL_OK) status = yl_model_load_tensor_set(m, &set, YL_LOAD_TRANSFER, report);
    if (status != YL_OK) status = yl_error_context(status, "transfer from '%s'", path);
    yl_safetensors_tensor_set_free(&set);
    yl_safetensors_close(&st);
    return status;
}
