// Tensors in a torch pickle: REDUCE(_rebuild_tensor_v2, (storage, offset, size, stride,
// requires_grad, hooks[, metadata])) where storage is BINPERSID(('storage', torch.<T>Storage,
// key, location, numel)) and its bytes are the record data/<key>. Parameters wrap that in
// _rebuild_parameter(tensor, requires_grad, hooks). Every number a file claims is checked
// against the bytes it has before a pointer into them is handed out.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "weights/pt_internal.h"

#define PT_MAX_KEY 64
#define PT_MAX_DIM_SIZE ((int64_t)1 << 40)

char *pt_strdup(const char *s) {
    size_t n = strlen(s) + 1;
    char *p = malloc(n);
    if (p) memcpy(p, s, n);
    return p;
}

static const struct {
    const char *storage;
    yl_dtype dtype;  // YL_DTYPE_COUNT: a type we refuse to load
    const char *torch_name;
} storage_types[] = {
    {"HalfStorage", YL_F16, "float16"},   {"FloatStorage", YL_F32, "float32"}, {"BFloat16Storage", YL_BF16, "bfloat16"},
    {"LongStorage", YL_I64, "int64"},     {"IntStorage", YL_I32, "int32"},     {"ByteStorage", YL_U8, "uint8"},
    {"BoolStorage", YL_U8, "bool"},       {"DoubleStorage", YL_DTYPE_COUNT, "float64"},
    {"ShortStorage", YL_DTYPE_COUNT, "int16"}, {"CharStorage", YL_DTYPE_COUNT, "int8"},
};

static bool is_rebuild_tensor(const yl_pickle_value *v) {
    return yl_pickle_is_class(v, "torch._utils", "_rebuild_tensor_v2");
}

static bool is_rebuild_parameter(const yl_pickle_value *v) {
    return yl_pickle_is_class(v, "torch._utils", "_rebuild_parameter") ||
           yl_pickle_is_class(v, "torch._utils", "_rebuild_parameter_with_state");
}

bool pt_is_tensor(const yl_pickle_value *v) {
    return v && v->kind == YL_PICKLE_OBJECT &&
           (is_rebuild_tensor(v) || is_rebuild_parameter(v) ||
            yl_pickle_is_class(v, "torch._tensor", "_rebuild_from_type_v2"));
}

static bool is_int(const yl_pickle_value *v) { return v && v->kind == YL_PICKLE_INT; }
static bool is_str(const yl_pickle_value *v) { return v && v->kind == YL_PICKLE_STR; }

static bool valid_key(const char *key) {
    size_t n = strlen(key);
    if (n == 0 || n > PT_MAX_KEY) return false;
    for (size_t i = 0; i < n; i++) {
        char c = key[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_')) return false;
    }
    return true;
}

static yl_status load_storage(pt_loader *L, const char *key, const char *what, const yl_pt_storage **out) {
    yl_pt_checkpoint *ck = L->ck;
    for (int i = 0; i < ck->storage_count; i++) {
        if (strcmp(ck->storages[i].key, key) == 0) {
            *out = &ck->storages[i];
            return YL_OK;
        }
    }
    if (!L->reader || !L->reader->read)
        return yl_error(YL_ERR_FORMAT, "pt '%s': tensor '%s': no storage source for key '%s'", L->name, what, key);
    int n = ck->storage_count;
    if (n == 0 || (n >= 64 && (n & (n - 1)) == 0)) {  // full: 64, 128, ...
        yl_pt_storage *grown = realloc(ck->storages, (size_t)(n ? 2 * n : 64) * sizeof *grown);
        if (!grown) return yl_error(YL_ERR_OOM, "pt '%s': out of memory", L->name);
        ck->storages = grown;
    }
    yl_pt_storage *s = &ck->storages[ck->storage_count];
    memset(s, 0, sizeof *s);
    yl_status status = L->reader->read(L->reader->ctx, key, &s->data, &s->size);
    if (status != YL_OK) {
        free(s->data);
        return yl_error_context(status, "tensor '%s'", what);
    }
    s->key = pt_strdup(key);
    if (!s->key) {
        free(s->data);
        return yl_error(YL_ERR_OOM, "pt '%s': out of memory", L->name);
    }
    ck->storage_count++;
    *out = s;
    return YL_OK;
}

// ('storage', torch.<T>Storage, key, location, numel) -> the loaded bytes and the dtype.
static yl_status decode_storage(pt_loader *L, const yl_pickle_value *persid, const char *what, yl_dtype *dtype,
                                const yl_pt_storage **storage, int64_t *numel) {
    const yl_pickle_value *pid = persid && persid->kind == YL_PICKLE_PERSID ? persid->as.persid : NULL;
    if (!pid || pid->kind != YL_PICKLE_TUPLE || yl_pickle_len(pid) != 5 || !is_str(yl_pickle_item(pid, 0)) ||
        strcmp(yl_pickle_item(pid, 0)->as.str.data, "storage") != 0)
        return yl_error(YL_ERR_FORMAT, "pt '%s': tensor '%s': storage is not a ('storage', type, key, location, numel) "
                        "persistent id", L->name, what);
    const yl_pickle_value *type = yl_pickle_item(pid, 1), *key = yl_pickle_item(pid, 2),
                          *count = yl_pickle_item(pid, 4);
    if (type->kind != YL_PICKLE_GLOBAL || strcmp(type->as.global.module, "torch") != 0)
        return yl_error(YL_ERR_FORMAT, "pt '%s': tensor '%s': storage type is not a torch storage class", L->name,
                        what);
    size_t t = 0, ntypes = sizeof storage_types / sizeof storage_types[0];
    while (t < ntypes && strcmp(storage_types[t].storage, type->as.global.name) != 0) t++;
    if (t == ntypes)
        return yl_error(YL_ERR_FORMAT, "pt '%s': tensor '%s': unknown storage type torch.%s", L->name, what,
                        type->as.global.name);
    if (storage_types[t].dtype == YL_DTYPE_COUNT)
        return yl_error(YL_ERR_DTYPE, "pt '%s': tensor '%s' is %s, which is not supported", L->name, what,
                        storage_types[t].torch_name);
    if (!is_str(key) || !valid_key(key->as.str.data))
        return yl_error(YL_ERR_FORMAT, "pt '%s': tensor '%s': storage key is not a short alphanumeric string", L->name,
                        what);
    if (!is_int(count) || count->as.integer < 0)
        return yl_error(YL_ERR_FORMAT, "pt '%s': tensor '%s': storage size is not a non-negative int", L->name, what);
    *dtype = storage_types[t].dtype;
    YL_TRY(load_storage(L, key->as.str.data, what, storage));
    size_t elem = yl_dtype_size(*dtype);
    if ((uint64_t)count->as.integer > (*storage)->size / elem)
        return yl_error(YL_ERR_FORMAT,
                        "pt '%s': tensor '%s': storage '%s' claims %lld elements of %zu bytes, its record "
                        "holds %zu bytes",
                        L->name, what, key->as.str.data, (long long)count->as.integer, elem, (*storage)->size);
    *numel = count->as.integer;
    return YL_OK;
}

static yl_status int_tuple(pt_loader *L, const yl_pickle_value *v, const char *what, const char *field, int64_t *out,
                           int *n) {
    if (!v || (v->kind != YL_PICKLE_TUPLE && v->kind != YL_PICKLE_LIST))
        return yl_error(YL_ERR_FORMAT, "pt '%s': tensor '%s': %s is not a tuple", L->name, what, field);
    size_t len = yl_pickle_len(v);
    if (len > YL_TENSOR_SET_MAX_DIMS)
        return yl_error(YL_ERR_FORMAT, "pt '%s': tensor '%s': %zu dimensions, at most %d are supported", L->name, what,
                        len, YL_TENSOR_SET_MAX_DIMS);
    for (size_t i = 0; i < len; i++) {
        const yl_pickle_value *x = yl_pickle_item(v, i);
        if (!is_int(x) || x->as.integer < 0 || x->as.integer > PT_MAX_DIM_SIZE)
            return yl_error(YL_ERR_FORMAT, "pt '%s': tensor '%s': %s[%zu] is not a size in 0..2^40", L->name, what,
                            field, i);
        out[i] = x->as.integer;
    }
    *n = (int)len;
    return YL_OK;
}

static yl_status decode_rebuild_tensor(pt_loader *L, const yl_pickle_value *args, const char *what, pt_tensor *out) {
    if (!args || args->kind != YL_PICKLE_TUPLE || yl_pickle_len(args) < 4)
        return yl_error(YL_ERR_FORMAT,
                        "pt '%s': tensor '%s': _rebuild_tensor_v2 needs (storage, offset, size, stride, ...)", L->name,
                        what);
    const yl_pickle_value *offset = yl_pickle_item(args, 1);
    int64_t shape[YL_TENSOR_SET_MAX_DIMS], stride[YL_TENSOR_SET_MAX_DIMS];
    int ndim = 0, nstride = 0;
    YL_TRY(int_tuple(L, yl_pickle_item(args, 2), what, "size", shape, &ndim));
    YL_TRY(int_tuple(L, yl_pickle_item(args, 3), what, "stride", stride, &nstride));
    if (nstride != ndim)
        return yl_error(YL_ERR_FORMAT, "pt '%s': tensor '%s': %d sizes but %d strides", L->name, what, ndim, nstride);
    if (!is_int(offset) || offset->as.integer < 0)
        return yl_error(YL_ERR_FORMAT, "pt '%s': tensor '%s': storage offset is not a non-negative int", L->name, what);
    uint64_t numel = 1;
    for (int i = 0; i < ndim; i++) {
        numel *= (uint64_t)shape[i];
        if (numel > (uint64_t)PT_MAX_DIM_SIZE)
            return yl_error(YL_ERR_FORMAT, "pt '%s': tensor '%s' has more than 2^40 elements", L->name, what);
    }
    // Contiguous = row-major strides; a dimension of size 1 may carry any stride (as in torch).
    uint64_t expected = 1;
    for (int i = ndim - 1; i >= 0 && numel > 0; i--) {
        if (shape[i] != 1 && (uint64_t)stride[i] != expected)
            return yl_error(YL_ERR_UNSUPPORTED, "pt '%s': tensor '%s' is not contiguous (dim %d has stride %lld, "
                            "expected %llu)", L->name, what, i, (long long)stride[i], (unsigned long long)expected);
        expected *= (uint64_t)shape[i];
    }
    yl_dtype dtype = YL_F32;
    const yl_pt_storage *storage = NULL;
    int64_t storage_numel = 0;
    YL_TRY(decode_storage(L, yl_pickle_item(args, 0), what, &dtype, &storage, &storage_numel));
    uint64_t begin = (uint64_t)offset->as.integer;
    if (begin > (uint64_t)storage_numel || numel > (uint64_t)storage_numel - begin)
        return yl_error(YL_ERR_FORMAT, "pt '%s': tensor '%s' needs elements %llu..%llu of a storage of %lld", L->name,
                        what, (unsigned long long)begin, (unsigned long long)(begin + numel), (long long)storage_numel);
    size_t elem = yl_dtype_size(dtype);
    out->dtype = dtype;
    out->ndim = ndim;
    memcpy(out->shape, shape, sizeof(int64_t) * (size_t)ndim);
    out->data = numel ? storage->data + begin * elem : storage->data;
    out->nbytes = (size_t)numel * elem;
    return YL_OK;
}

yl_status pt_decode_tensor(pt_loader *L, const yl_pickle_value *v, const char *what, pt_tensor *out) {
    memset(out, 0, sizeof *out);
    // Parameters and typed wrappers nest a tensor; a few levels at most in real files.
    for (int depth = 0; depth < 4 && v; depth++) {
        if (v->kind != YL_PICKLE_OBJECT) break;
        const yl_pickle_value *args = v->as.object.args;
        if (is_rebuild_tensor(v)) return decode_rebuild_tensor(L, args, what, out);
        if (is_rebuild_parameter(v)) {
            v = yl_pickle_item(args, 0);
        } else if (yl_pickle_is_class(v, "torch._tensor", "_rebuild_from_type_v2")) {
            // (func, new_type, args, state): func(*args) is the tensor.
            const yl_pickle_value *func = yl_pickle_item(args, 0);
            if (!func || func->kind != YL_PICKLE_GLOBAL ||
                !yl_pickle_is_class(func, "torch._utils", "_rebuild_tensor_v2"))
                break;
            return decode_rebuild_tensor(L, yl_pickle_item(args, 2), what, out);
        } else {
            break;
        }
    }
    char cls[160];
    return yl_error(YL_ERR_FORMAT, "pt '%s': '%s' is a %s%s%s, not a tensor", L->name, what,
                    v ? yl_pickle_kind_name(v->kind) : "missing value", v && v->kind == YL_PICKLE_OBJECT ? " of " : "",
                    yl_pickle_class_name(v, cls, sizeof cls));
}
