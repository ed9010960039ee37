// Loading a checkpoint: ZIP -> data.pkl -> pickle values -> the chosen model object -> its
// state_dict and metadata. Storage records are read only when a state entry (or the stride)
// refers to them, so optimizer state in raw training checkpoints is never loaded.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "weights/dtype_convert.h"
#include "weights/pt_internal.h"
#include "weights/pt_zip.h"

void yl_pt_checkpoint_free(yl_pt_checkpoint *ck) {
    if (!ck) return;
    free(ck->path);
    free(ck->prefix);
    free(ck->model_class);
    for (int i = 0; i < ck->tensors.count; i++) free(ck->tensors.items[i].name);
    free(ck->tensors.items);
    for (int i = 0; i < ck->names_count; i++) free(ck->names[i]);
    free(ck->names);
    free(ck->date);
    free(ck->version);
    for (int i = 0; i < ck->train_args_count; i++) {
        free(ck->train_args[i].key);
        free(ck->train_args[i].value);
    }
    free(ck->train_args);
    for (int i = 0; i < ck->activation_count; i++) {
        free(ck->activations[i].module);
        free(ck->activations[i].type);
    }
    free(ck->activations);
    for (int i = 0; i < ck->storage_count; i++) {
        free(ck->storages[i].key);
        free(ck->storages[i].data);
    }
    free(ck->storages);
    memset(ck, 0, sizeof *ck);
    ck->nc = -1;
}

static void list_keys(const yl_pickle_value *dict, char *out, size_t size) {
    size_t len = 0;
    out[0] = '\0';
    for (size_t i = 0; i < yl_pickle_len(dict) && len + 1 < size; i++) {
        const yl_pickle_value *k = dict->as.dict.keys[i];
        int n = snprintf(out + len, size - len, "%s%s", i ? ", " : "", k->kind == YL_PICKLE_STR ? k->as.str.data : "?");
        if (n < 0) break;
        len += (size_t)n;
    }
}

// ema when present and not None, else model; a bare pickled module is its own model.
static yl_status choose_model(pt_loader *L, const yl_pickle_value *root, const yl_pickle_value **model,
                              const yl_pickle_value **top) {
    if (root->kind == YL_PICKLE_OBJECT) {
        *model = root;
        *top = NULL;
        L->ck->source = "root";
        return YL_OK;
    }
    if (root->kind != YL_PICKLE_DICT)
        return yl_error(YL_ERR_FORMAT, "pt '%s': the pickle holds a %s, not a checkpoint dict", L->name,
                        yl_pickle_kind_name(root->kind));
    *top = root;
    const yl_pickle_value *ema = yl_pickle_dict_get(root, "ema"), *m = yl_pickle_dict_get(root, "model");
    if (ema && ema->kind != YL_PICKLE_NONE) {
        *model = ema;
        L->ck->source = "ema";
    } else if (m && m->kind != YL_PICKLE_NONE) {
        *model = m;
        L->ck->source = "model";
    } else {
        char keys[256];
        list_keys(root, keys, sizeof keys);
        return yl_error(YL_ERR_FORMAT, "pt '%s': the checkpoint has neither an 'ema' nor a 'model' (keys: %s)", L->name,
                        keys);
    }
    if ((*model)->kind != YL_PICKLE_OBJECT)
        return yl_error(YL_ERR_FORMAT, "pt '%s': '%s' is a %s, not a module", L->name, L->ck->source,
                        yl_pickle_kind_name((*model)->kind));
    return YL_OK;
}

static yl_status interpret(pt_loader *L, const yl_pickle_value *root) {
    const yl_pickle_value *model = NULL, *top = NULL;
    YL_TRY(choose_model(L, root, &model, &top));
    char cls[2 * YL_PICKLE_MAX_NAME + 2];
    L->ck->model_class = pt_strdup(yl_pickle_class_name(model, cls, sizeof cls));
    if (!L->ck->model_class) return yl_error(YL_ERR_OOM, "pt '%s': out of memory", L->name);
    YL_TRY(pt_collect_modules(L, model));
    return pt_read_metadata(L, model, top);
}

static yl_status read_pickle(yl_pt_checkpoint *ck, const char *name, const void *pickle, size_t size,
                             const yl_pt_storage_reader *reader) {
    pt_loader L = {.ck = ck, .name = name, .reader = reader};
    char source[PT_MAX_NAME + 16];
    snprintf(source, sizeof source, "%s:data.pkl", name);
    yl_pickle *p = NULL;
    yl_status status = yl_pickle_load(&p, pickle, size, source);
    if (status == YL_OK) status = interpret(&L, yl_pickle_root(p));
    yl_pickle_free(p);
    return status;
}

yl_status yl_pt_checkpoint_from_pickle(yl_pt_checkpoint *ck, const char *name, const void *pickle, size_t size,
                                       const yl_pt_storage_reader *reader) {
    if (!ck || (!pickle && size)) return yl_error(YL_ERR_INVALID_ARG, "yl_pt_checkpoint_from_pickle: NULL argument");
    memset(ck, 0, sizeof *ck);
    ck->nc = -1;
    yl_status status = read_pickle(ck, name ? name : "<memory>", pickle, size, reader);
    if (status != YL_OK) yl_pt_checkpoint_free(ck);
    return status;
}

static yl_status read_zip_storage(void *ctx, const char *key, unsigned char **data, size_t *size) {
    char record[96];
    snprintf(record, sizeof record, "data/%s", key);
    return yl_pt_zip_read((yl_pt_zip *)ctx, record, data, size);
}

yl_status yl_pt_checkpoint_load(yl_pt_checkpoint *ck, const char *path) {
    if (!ck || !path) return yl_error(YL_ERR_INVALID_ARG, "yl_pt_checkpoint_load: NULL argument");
    memset(ck, 0, sizeof *ck);
    ck->nc = -1;
    yl_pt_zip *z = NULL;
    YL_TRY(yl_pt_zip_open(&z, path));
    unsigned char *pickle = NULL;
    size_t size = 0;
    yl_status status = yl_pt_zip_read(z, "data.pkl", &pickle, &size);
    if (status == YL_OK) {
        ck->path = pt_strdup(path);
        ck->prefix = pt_strdup(yl_pt_zip_prefix(z));
        if (!ck->path || !ck->prefix) status = yl_error(YL_ERR_OOM, "pt '%s': out of memory", path);
    }
    if (status == YL_OK) {
        yl_pt_storage_reader reader = {.read = read_zip_storage, .ctx = z};
        status = read_pickle(ck, path, pickle, size, &reader);
    }
    free(pickle);
    yl_pt_zip_close(z);
    if (status != YL_OK) yl_pt_checkpoint_free(ck);
    return status;
}

const yl_named_tensor *yl_pt_checkpoint_find(const yl_pt_checkpoint *ck, const char *name) {
    if (!ck || !name) return NULL;
    for (int i = 0; i < ck->tensors.count; i++)
        if (strcmp(ck->tensors.items[i].name, name) == 0) return &ck->tensors.items[i];
    return NULL;
}

const yl_pt_activation *yl_pt_checkpoint_activation(const yl_pt_checkpoint *ck, const char *module) {
    if (!ck || !module) return NULL;
    for (int i = 0; i < ck->activation_count; i++)
        if (strcmp(ck->activations[i].module, module) == 0) return &ck->activations[i];
    return NULL;
}

const char *yl_pt_checkpoint_train_arg(const yl_pt_checkpoint *ck, const char *key) {
    if (!ck || !key) return NULL;
    for (int i = 0; i < ck->train_args_count; i++)
        if (strcmp(ck->train_args[i].key, key) == 0) return ck->train_args[i].value;
    return NULL;
}

yl_status yl_pt_tensor_to_f32(const yl_named_tensor *t, float *out, size_t count) {
    if (!t || (!out && count)) return yl_error(YL_ERR_INVALID_ARG, "yl_pt_tensor_to_f32: NULL argument");
    if ((unsigned)t->dtype >= YL_DTYPE_COUNT)
        return yl_error(YL_ERR_DTYPE, "pt tensor '%s': unknown dtype %d", t->name, (int)t->dtype);
    size_t elem = yl_dtype_size(t->dtype), n = t->nbytes / elem;
    if (n != count || n * elem != t->nbytes)
        return yl_error(YL_ERR_SHAPE, "pt tensor '%s' holds %zu values, %zu were asked for", t->name, n, count);
    const unsigned char *p = t->data;
    for (size_t i = 0; i < n; i++, p += elem)
        if (!yl_element_to_f32(p, t->dtype, &out[i]))
            return yl_error(YL_ERR_DTYPE, "pt tensor '%s': unsupported dtype", t->name);
    return YL_OK;
}
