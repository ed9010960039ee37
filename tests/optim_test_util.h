// Helpers shared by the optimizer, schedule and EMA tests: fixtures written by
// tools/reference/make_optim_fixtures.py, host-side state entries, error measures.
// Header-only: each test is one executable.
#pragma once
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/model/state.h"
#include "tests/test_common.h"
#include "weights/safetensors.h"

static inline void optim_open_fixture(yl_safetensors *st, const char *file) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", YL_TEST_FIXTURES, file);
    if (yl_safetensors_open(st, path) != YL_OK) {
        fprintf(stderr, "test: %s\n", yl_last_error());
        exit(2);
    }
}

static inline const char *optim_meta(const yl_safetensors *st, const char *key) {
    const char *v = yl_safetensors_metadata(st, key);
    if (!v) {
        fprintf(stderr, "test: %s: no metadata '%s'\n", st->path, key);
        exit(2);
    }
    return v;
}

static inline double optim_meta_double(const yl_safetensors *st, const char *key) {
    return strtod(optim_meta(st, key), NULL);
}

// name is formatted like printf.
static inline void optim_read(const yl_safetensors *st, float *out, size_t count, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static inline void optim_read(const yl_safetensors *st, float *out, size_t count, const char *fmt, ...) {
    char name[128];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(name, sizeof name, fmt, ap);
    va_end(ap);
    if (yl_safetensors_read_f32(st, name, out, count) != YL_OK) {
        fprintf(stderr, "test: %s\n", yl_last_error());
        exit(2);
    }
}

// A raw tensor of the given dtype and element count (exits when absent or of another size).
static inline const void *optim_raw(const yl_safetensors *st, const char *name, yl_dtype dtype, size_t count) {
    const yl_safetensors_entry *e = yl_safetensors_find(st, name);
    if (!e || e->dtype != dtype || e->nbytes != count * yl_dtype_size(dtype)) {
        fprintf(stderr, "test: %s: tensor '%s' missing or not %zu x %s\n", st->path, name, count, yl_dtype_name(dtype));
        exit(2);
    }
    return yl_safetensors_data(st, e);
}

// Float64 values stored bit for bit as I64 ("*.f64bits").
static inline void optim_read_f64(const yl_safetensors *st, const char *name, double *out, size_t count) {
    memcpy(out, optim_raw(st, name, YL_I64, count), count * sizeof(double));
}

// A host entry over caller-owned buffers (grad may be NULL: no gradient).
static inline yl_state_entry optim_entry(const char *name, yl_state_kind kind, yl_param_group group, int ndim,
                                         const int64_t *shape, void *value, float *grad) {
    yl_state_entry e;
    memset(&e, 0, sizeof e);
    snprintf(e.name, sizeof e.name, "%s", name);
    e.kind = kind;
    e.group = group;
    e.is_parameter = group != YL_PARAM_GROUP_NONE;
    e.requires_grad = e.is_parameter && grad != NULL;
    yl_dtype dtype = kind == YL_STATE_BN_NUM_BATCHES_TRACKED ? YL_I64 : YL_F32;
    e.value = yl_tensor_view(value, dtype, YL_DEVICE_CPU, ndim, shape);
    e.grad = yl_tensor_view(grad, YL_F32, YL_DEVICE_CPU, ndim, shape);
    return e;
}

// max_i |a - b| / max(|b|, floor): relative error, with `floor` keeping values near 0 from
// dominating (their absolute error is then compared with floor).
static inline double optim_rel_error(const float *a, const float *b, size_t n, double floor) {
    double worst = 0.0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]) / fmax(fabs((double)b[i]), floor);
        if (d > worst || isnan(d)) worst = d;
    }
    return worst;
}
