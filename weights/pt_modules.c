// The state_dict of a pickled nn.Module tree, rebuilt the way Module.state_dict() builds it:
// for each module its `_parameters`, then its `_buffers` minus `_non_persistent_buffers_set`
// (None values skipped), then each child of `_modules` with "<name>." appended to the prefix.
// A module shared by two parents appears under both names, as in PyTorch.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "weights/pt_internal.h"

static yl_status add_entry(pt_loader *L, const char *name, const pt_tensor *t) {
    yl_tensor_set *set = &L->ck->tensors;
    if (set->count >= PT_MAX_STATE_ENTRIES)
        return yl_error(YL_ERR_FORMAT, "pt '%s': more than %d state entries", L->name, PT_MAX_STATE_ENTRIES);
    if (set->count == 0 || (set->count >= 64 && (set->count & (set->count - 1)) == 0)) {  // full: 64, 128, ...
        size_t cap = set->count ? (size_t)set->count * 2 : 64;
        yl_named_tensor *grown = realloc(set->items, cap * sizeof *grown);
        if (!grown) return yl_error(YL_ERR_OOM, "pt '%s': out of memory", L->name);
        set->items = grown;
    }
    yl_named_tensor *e = &set->items[set->count];
    memset(e, 0, sizeof *e);
    e->name = pt_strdup(name);
    if (!e->name) return yl_error(YL_ERR_OOM, "pt '%s': out of memory", L->name);
    e->dtype = t->dtype;
    e->ndim = t->ndim;
    memcpy(e->shape, t->shape, sizeof(int64_t) * (size_t)t->ndim);
    e->data = t->data;
    e->nbytes = t->nbytes;
    set->count++;
    return YL_OK;
}

static yl_status add_activation(pt_loader *L, const char *module, const yl_pickle_value *act) {
    yl_pt_checkpoint *ck = L->ck;
    int n = ck->activation_count;
    if (n == 0 || (n >= 16 && (n & (n - 1)) == 0)) {  // full: 16, 32, ...
        yl_pt_activation *grown = realloc(ck->activations, (size_t)(n ? 2 * n : 16) * sizeof *grown);
        if (!grown) return yl_error(YL_ERR_OOM, "pt '%s': out of memory", L->name);
        ck->activations = grown;
    }
    char type[2 * YL_PICKLE_MAX_NAME + 2];
    yl_pickle_class_name(act, type, sizeof type);
    yl_pt_activation *a = &ck->activations[ck->activation_count];
    a->module = pt_strdup(module);
    a->type = pt_strdup(type);
    if (!a->module || !a->type) {
        free(a->module);
        free(a->type);
        return yl_error(YL_ERR_OOM, "pt '%s': out of memory", L->name);
    }
    a->kind = strcmp(type, "torch.nn.modules.activation.SiLU") == 0      ? YL_PT_ACT_SILU
              : strcmp(type, "torch.nn.modules.linear.Identity") == 0 ? YL_PT_ACT_IDENTITY
                                                                       : YL_PT_ACT_OTHER;
    ck->activation_count++;
    return YL_OK;
}

static bool in_list(const yl_pickle_value *list, const yl_pickle_value *key) {
    for (size_t i = 0; i < yl_pickle_len(list); i++) {
        const yl_pickle_value *x = yl_pickle_item(list, i);
        if (x && x->kind == YL_PICKLE_STR && key->kind == YL_PICKLE_STR &&
            strcmp(x->as.str.data, key->as.str.data) == 0)
            return true;
    }
    return false;
}

static const char *module_label(const char *prefix) { return prefix[0] ? prefix : "<root>"; }

static yl_status module_dict(pt_loader *L, const yl_pickle_value *module, const char *prefix, const char *field,
                             const yl_pickle_value **out) {
    char cls[160];
    const yl_pickle_value *attrs = yl_pickle_object_dict(module);
    if (!attrs)
        return yl_error(YL_ERR_FORMAT, "pt '%s': module '%s' (%s %s) has no attribute dict", L->name,
                        module_label(prefix), module ? yl_pickle_kind_name(module->kind) : "missing",
                        yl_pickle_class_name(module, cls, sizeof cls));
    const yl_pickle_value *d = yl_pickle_dict_get(attrs, field);
    if (!d || d->kind != YL_PICKLE_DICT)
        return yl_error(YL_ERR_FORMAT, "pt '%s': module '%s' (%s) has no %s dict", L->name, module_label(prefix),
                        yl_pickle_class_name(module, cls, sizeof cls), field);
    *out = d;
    return YL_OK;
}

// Appends "<prefix><name>" to `out` (PT_MAX_NAME bytes), refusing names that are not plain strs.
static yl_status join_name(pt_loader *L, const char *prefix, const yl_pickle_value *key, const char *suffix,
                           char *out) {
    if (!key || key->kind != YL_PICKLE_STR || strlen(key->as.str.data) != key->as.str.size)
        return yl_error(YL_ERR_FORMAT, "pt '%s': module '%s' has a member whose name is not a str", L->name,
                        module_label(prefix));
    int n = snprintf(out, PT_MAX_NAME, "%s%s%s", prefix, key->as.str.data, suffix);
    if (n < 0 || n >= PT_MAX_NAME)
        return yl_error(YL_ERR_FORMAT, "pt '%s': state name '%s%.40s...' is longer than %d bytes", L->name, prefix,
                        key->as.str.data, PT_MAX_NAME - 1);
    return YL_OK;
}

static yl_status add_tensors(pt_loader *L, const yl_pickle_value *dict, const yl_pickle_value *skip,
                             const char *prefix) {
    char name[PT_MAX_NAME];
    for (size_t i = 0; i < dict->as.dict.count; i++) {
        const yl_pickle_value *key = dict->as.dict.keys[i], *value = dict->as.dict.values[i];
        if (value->kind == YL_PICKLE_NONE) continue;
        YL_TRY(join_name(L, prefix, key, "", name));
        if (skip && in_list(skip, key)) continue;
        pt_tensor t;
        YL_TRY(pt_decode_tensor(L, value, name, &t));
        YL_TRY(add_entry(L, name, &t));
    }
    return YL_OK;
}

static yl_status walk(pt_loader *L, const yl_pickle_value *module, const char *prefix, int depth) {
    if (depth > PT_MAX_MODULE_DEPTH)
        return yl_error(YL_ERR_FORMAT, "pt '%s': modules nested deeper than %d at '%s' (a cycle?)", L->name,
                        PT_MAX_MODULE_DEPTH, module_label(prefix));
    if (++L->modules_visited > PT_MAX_MODULE_VISITS)
        return yl_error(YL_ERR_FORMAT, "pt '%s': more than %d modules", L->name, PT_MAX_MODULE_VISITS);
    const yl_pickle_value *parameters, *buffers, *children;
    YL_TRY(module_dict(L, module, prefix, "_parameters", &parameters));
    YL_TRY(module_dict(L, module, prefix, "_buffers", &buffers));
    YL_TRY(module_dict(L, module, prefix, "_modules", &children));
    const yl_pickle_value *non_persistent = yl_pickle_object_attr(module, "_non_persistent_buffers_set");
    L->items_walked += (long)(parameters->as.dict.count + children->as.dict.count +
                              buffers->as.dict.count * (1 + yl_pickle_len(non_persistent)));
    if (L->items_walked > PT_MAX_WALK_ITEMS)
        return yl_error(YL_ERR_FORMAT, "pt '%s': the module tree has more than %d members", L->name, PT_MAX_WALK_ITEMS);
    YL_TRY(add_tensors(L, parameters, NULL, prefix));
    YL_TRY(add_tensors(L, buffers, non_persistent, prefix));

    const yl_pickle_value *act = yl_pickle_dict_get(children, "act");
    if (act && act->kind == YL_PICKLE_OBJECT) {
        size_t n = strlen(prefix);
        char module_name[PT_MAX_NAME];
        snprintf(module_name, sizeof module_name, "%.*s", (int)(n ? n - 1 : 0), prefix);  // without the final '.'
        YL_TRY(add_activation(L, module_name, act));
    }
    char child_prefix[PT_MAX_NAME];
    for (size_t i = 0; i < children->as.dict.count; i++) {
        const yl_pickle_value *child = children->as.dict.values[i];
        if (child->kind == YL_PICKLE_NONE) continue;
        YL_TRY(join_name(L, prefix, children->as.dict.keys[i], ".", child_prefix));
        YL_TRY(walk(L, child, child_prefix, depth + 1));
    }
    return YL_OK;
}

yl_status pt_collect_modules(pt_loader *L, const yl_pickle_value *root) { return walk(L, root, "", 0); }
