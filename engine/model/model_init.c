// Initial values of a freshly built Ultralytics DetectionModel: PyTorch's default Conv2d init
// (weight and bias ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in))), BN gamma 1, beta 0, running mean 0,
// running var 1, then Detect.bias_init (box bias 1.0, class bias ln(5 / nc / (640 / s)^2)) and
// the DFL weight 0..15. Values are computed on the host and copied to the device.
#include <math.h>
#include <stdlib.h>

#include "../core/rng.h"
#include "model_internal.h"

#define YL_INIT_RNG_STREAM 0x796f6c6fu  // "yolo": parameter init has its own stream

static void fill_constant(float *buf, int64_t n, float value) {
    for (int64_t i = 0; i < n; i++) buf[i] = value;
}

// Writes the entry's initial value into `buf` (large enough for any entry).
static void initial_value(const yl_state_entry *e, yl_rng *rng, float *buf) {
    int64_t n = yl_tensor_numel(&e->value);
    switch (e->kind) {
    case YL_STATE_CONV_WEIGHT:
    case YL_STATE_CONV_BIAS: {
        float bound = (float)(1.0 / sqrt((double)e->fan_in));
        yl_rng_fill_uniform(rng, buf, (size_t)n, -bound, bound);
        break;
    }
    case YL_STATE_BN_WEIGHT:
    case YL_STATE_BN_RUNNING_VAR: fill_constant(buf, n, 1.0f); break;
    case YL_STATE_BN_BIAS:
    case YL_STATE_BN_RUNNING_MEAN: fill_constant(buf, n, 0.0f); break;
    case YL_STATE_BN_NUM_BATCHES_TRACKED: *(int64_t *)buf = 0; break;
    case YL_STATE_DFL_WEIGHT:
        for (int64_t i = 0; i < n; i++) buf[i] = (float)i;
        break;
    }
}

static yl_status upload(yl_model *m, yl_tensor *t, const float *host) {
    yl_backend *be = yl_engine_backend(m->eng, m->device);
    return be->copy_from_host(be, t->data, host, yl_tensor_nbytes(t));
}

// Detect.bias_init, run once the strides are known.
static yl_status detect_bias_init(yl_model *m, float *buf) {
    yl_detect *d = &m->layers[YL_YOLOV8_DETECT_LAYER].detect;
    for (int i = 0; i < YL_YOLOV8_LEVELS; i++) {
        double stride = m->layout.detect_strides[i];
        fill_constant(buf, 4 * YL_YOLOV8_REG_MAX, 1.0f);
        YL_TRY(upload(m, d->box[i][2].bias, buf));
        double cls_bias = log(5.0 / d->nc / pow(640.0 / stride, 2.0));
        fill_constant(buf, d->nc, (float)cls_bias);
        YL_TRY(upload(m, d->cls[i][2].bias, buf));
    }
    return YL_OK;
}

yl_status yl_model_init_parameters(yl_model *m, uint64_t seed) {
    if (!m || !m->allocated) return yl_error(YL_ERR_INVALID_ARG, "model_init_parameters: no model");
    int64_t largest = 4 * YL_YOLOV8_REG_MAX + m->layout.config.nc;
    for (int i = 0; i < m->state.count; i++) {
        int64_t n = yl_tensor_numel(&m->state.items[i].value);
        if (n > largest) largest = n;
    }
    // int64 entries are scalars; 2 floats cover one.
    float *buf = malloc((size_t)(largest + 2) * sizeof(float));
    if (!buf) return yl_error(YL_ERR_OOM, "model_init_parameters: cannot allocate %lld floats", (long long)largest);
    yl_rng rng;
    yl_rng_seed(&rng, seed, YL_INIT_RNG_STREAM);
    yl_status status = YL_OK;
    for (int i = 0; i < m->state.count && status == YL_OK; i++) {
        yl_state_entry *e = &m->state.items[i];
        initial_value(e, &rng, buf);
        status = upload(m, &e->value, buf);
    }
    if (status == YL_OK) status = detect_bias_init(m, buf);
    free(buf);
    m->num_batches_tracked = 0;
    return status == YL_OK ? YL_OK : yl_error_context(status, "model_init_parameters");
}
