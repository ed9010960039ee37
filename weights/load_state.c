// Every check runs before the first copy, so a STRICT load that fails leaves the model as it was.
// Values are converted on the host into one reusable buffer and uploaded entry by entry.
#include "weights/load_state.h"
#include "weights/dtype_convert.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *mode_name(yl_load_mode mode) { return mode == YL_LOAD_STRICT ? "strict load" : "transfer"; }

static const char *dims_str(int ndim, const int64_t *shape, char *buf, size_t size) {
    size_t used = (size_t)snprintf(buf, size, "(");
    for (int d = 0; d < ndim && used < size; d++)
        used += (size_t)snprintf(buf + used, size - used, d ? ", %lld" : "%lld", (long long)shape[d]);
    if (used < size) snprintf(buf + used, size - used, ")");
    return buf;
}

static const yl_named_tensor *find_in_set(const yl_tensor_set *set, const char *name) {
    for (int i = 0; i < set->count; i++)
        if (set->items[i].name && !strcmp(set->items[i].name, name)) return &set->items[i];
    return NULL;
}

static bool same_shape(const yl_named_tensor *t, const yl_tensor *v) {
    if (t->ndim != v->ndim) return false;
    for (int d = 0; d < t->ndim; d++)
        if (t->shape[d] != v->shape[d]) return false;
    return true;
}

static bool is_float_dtype(yl_dtype dtype) { return dtype == YL_F32 || dtype == YL_F16 || dtype == YL_BF16; }
static bool is_int_dtype(yl_dtype dtype) { return dtype == YL_I64 || dtype == YL_I32; }

// A set entry is usable when its bytes match its shape and dtype and it converts to `target`:
// floats from any float or integer type, integers (num_batches_tracked) from integers only.
static yl_status check_entry(const char *mode, const yl_named_tensor *t, yl_dtype target) {
    size_t elem = yl_dtype_size(t->dtype);
    if (!(is_float_dtype(t->dtype) || is_int_dtype(t->dtype)))
        return yl_error(YL_ERR_DTYPE, "%s: '%s' is %s, which has no conversion to the model's %s", mode, t->name,
                        yl_dtype_name(t->dtype), yl_dtype_name(target));
    if (target == YL_I64 && !is_int_dtype(t->dtype))
        return yl_error(YL_ERR_DTYPE, "%s: '%s' is %s, the model holds an integer count (%s)", mode, t->name,
                        yl_dtype_name(t->dtype), yl_dtype_name(target));
    double numel = 1.0;
    for (int d = 0; d < t->ndim; d++) numel *= (double)t->shape[d];
    if ((double)t->nbytes != numel * (double)elem || (t->nbytes && !t->data))
        return yl_error(YL_ERR_FORMAT, "%s: '%s' holds %zu bytes, its shape and dtype %s need %.0f", mode, t->name,
                        t->nbytes, yl_dtype_name(t->dtype), numel * (double)elem);
    return YL_OK;
}

// Converts t into the model dtype `target` at `out` (numel elements).
static void convert(const yl_named_tensor *t, yl_dtype target, void *out, int64_t numel) {
    const unsigned char *src = t->data;
    size_t elem = yl_dtype_size(t->dtype);
    for (int64_t i = 0; i < numel; i++, src += elem) {
        if (target == YL_I64)
            yl_element_to_i64(src, t->dtype, &((int64_t *)out)[i]);
        else
            yl_element_to_f32(src, t->dtype, &((float *)out)[i]);
    }
}

static yl_status check_set(const yl_tensor_set *set) {
    if (set->count < 0 || (set->count > 0 && !set->items))
        return yl_error(YL_ERR_INVALID_ARG, "load tensor set: %d entries but no items", set->count);
    for (int i = 0; i < set->count; i++) {
        const yl_named_tensor *t = &set->items[i];
        if (!t->name) return yl_error(YL_ERR_INVALID_ARG, "load tensor set: entry %d has no name", i);
        if (t->ndim < 0 || t->ndim > YL_TENSOR_SET_MAX_DIMS)
            return yl_error(YL_ERR_FORMAT, "load tensor set: '%s' has %d dimensions", t->name, t->ndim);
    }
    return YL_OK;
}

// Decides, per model entry, the set entry to copy (or NULL), and fills the report. STRICT fails
// on the first difference.
static yl_status plan_copies(yl_model *m, const yl_tensor_set *set, yl_load_mode mode,
                             const yl_named_tensor **sources, yl_transfer_report *r) {
    const char *what = mode_name(mode);
    int count = yl_model_state_count(m);
    memset(r, 0, sizeof *r);
    r->total = count;
    char a[128], b[128];
    for (int i = 0; i < count; i++) {
        yl_state_entry *e = yl_model_state_at(m, i);
        const yl_named_tensor *t = find_in_set(set, e->name);
        sources[i] = NULL;
        if (!t) {
            r->missing++;
            if (mode == YL_LOAD_STRICT)
                return yl_error(YL_ERR_FORMAT, "%s: '%s' %s is missing from the weights", what, e->name,
                                dims_str(e->value.ndim, e->value.shape, a, sizeof a));
            continue;
        }
        if (!same_shape(t, &e->value)) {
            r->skipped_shape++;
            if (mode == YL_LOAD_STRICT)
                return yl_error(YL_ERR_SHAPE, "%s: '%s' has shape %s in the weights but %s in the model", what,
                                e->name, dims_str(t->ndim, t->shape, a, sizeof a),
                                dims_str(e->value.ndim, e->value.shape, b, sizeof b));
            continue;
        }
        YL_TRY(check_entry(what, t, e->value.dtype));
        sources[i] = t;
        r->transferred++;
    }
    for (int i = 0; i < set->count; i++) {
        if (yl_model_state_find(m, set->items[i].name)) continue;
        r->unexpected++;
        if (mode == YL_LOAD_STRICT)
            return yl_error(YL_ERR_FORMAT, "%s: the weights hold '%s' %s, which the model does not have", what,
                            set->items[i].name, dims_str(set->items[i].ndim, set->items[i].shape, a, sizeof a));
    }
    return YL_OK;
}

static yl_status copy_entries(yl_model *m, const yl_named_tensor **sources) {
    int count = yl_model_state_count(m);
    size_t largest = 0;
    for (int i = 0; i < count; i++) {
        size_t bytes = yl_tensor_nbytes(&yl_model_state_at(m, i)->value);
        if (sources[i] && bytes > largest) largest = bytes;
    }
    void *buf = malloc(largest ? largest : 1);
    if (!buf) return yl_error(YL_ERR_OOM, "load tensor set: cannot allocate %zu bytes", largest);
    yl_status status = YL_OK;
    for (int i = 0; i < count && status == YL_OK; i++) {
        if (!sources[i]) continue;
        yl_state_entry *e = yl_model_state_at(m, i);
        yl_backend *be = yl_engine_backend(yl_model_engine(m), e->value.device);
        if (!be) {
            status = yl_error(YL_ERR_DEVICE, "load tensor set: no %s backend", yl_device_name(e->value.device));
            break;
        }
        convert(sources[i], e->value.dtype, buf, yl_tensor_numel(&e->value));
        // A pageable source may be reused as soon as the copy returns (backend.h), so one buffer serves all.
        status = be->copy_from_host(be, e->value.data, buf, yl_tensor_nbytes(&e->value));
        if (status != YL_OK) status = yl_error_context(status, "load tensor set: '%s'", e->name);
    }
    free(buf);
    return status;
}

yl_status yl_model_load_tensor_set(yl_model *m, const yl_tensor_set *set, yl_load_mode mode,
                                   yl_transfer_report *report) {
    if (!m || !set) return yl_error(YL_ERR_INVALID_ARG, "load tensor set: NULL %s", m ? "set" : "model");
    if (mode != YL_LOAD_STRICT && mode != YL_LOAD_TRANSFER)
        return yl_error(YL_ERR_INVALID_ARG, "load tensor set: unknown mode %d", (int)mode);
    YL_TRY(check_set(set));
    int count = yl_model_state_count(m);
    const yl_named_tensor **sources = calloc((size_t)count + 1, sizeof *sources);
    if (!sources) return yl_error(YL_ERR_OOM, "load tensor set: out of memory");
    yl_transfer_report local;
    yl_status status = plan_copies(m, set, mode, sources, &local);
    if (status == YL_OK) status = copy_entries(m, sources);
    if (status == YL_OK) status = yl_model_load_num_batches_tracked(m);
    free(sources);
    if (report) *report = local;
    return status;
}

const char *yl_transfer_report_format(const yl_transfer_report *report, char *buf, size_t size) {
    if (!buf || !size) return buf;
    if (!report) {
        snprintf(buf, size, "Transferred 0/0 items from pretrained weights");
        return buf;
    }
    snprintf(buf, size, "Transferred %d/%d items from pretrained weights", report->transferred, report->total);
    return buf;
}
