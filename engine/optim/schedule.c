// Ultralytics 8.3.x BaseTrainer._setup_train / _setup_scheduler / _do_train, in the same double
// arithmetic: Python's round and numpy's round both round half to even, as rint does in the
// default rounding mode.
#include "schedule.h"

#include <math.h>

#define YL_PI 3.14159265358979323846

int yl_accumulate_steps(int batch, int nbs) {
    if (batch <= 0 || nbs <= 0) return 1;
    double a = rint((double)nbs / batch);
    return a < 1.0 ? 1 : (int)a;
}

double yl_scaled_weight_decay(double weight_decay, int batch, int nbs) {
    if (batch <= 0 || nbs <= 0) return weight_decay;
    return weight_decay * batch * yl_accumulate_steps(batch, nbs) / nbs;
}

int64_t yl_warmup_iterations(double warmup_epochs, int64_t batches_per_epoch) {
    if (!(warmup_epochs > 0.0)) return -1;
    double nw = rint(warmup_epochs * (double)batches_per_epoch);
    return nw < YL_MIN_WARMUP_ITERATIONS ? YL_MIN_WARMUP_ITERATIONS : (int64_t)nw;
}

double yl_interp(double x, double x0, double x1, double y0, double y1) {
    if (isnan(x)) return x;
    if (x < x0) return y0;
    if (x >= x1) return y1;
    if (x == x0) return y0;
    double slope = (y1 - y0) / (x1 - x0);
    double y = slope * (x - x0) + y0;
    if (isnan(y)) {
        y = slope * (x - x1) + y1;
        if (isnan(y) && y0 == y1) y = y0;
    }
    return y;
}

yl_schedule_config yl_schedule_config_default(int epochs, int batch, int64_t batches_per_epoch) {
    yl_schedule_config c = {
        .epochs = epochs,
        .lrf = 0.01,
        .cos_lr = false,
        .warmup_epochs = 3.0,
        .warmup_bias_lr = 0.1,
        .warmup_momentum = 0.8,
        .momentum = 0.937,
        .batch = batch,
        .nbs = YL_NOMINAL_BATCH,
        .batches_per_epoch = batches_per_epoch,
    };
    return c;
}

yl_status yl_schedule_init(yl_schedule *s, const yl_schedule_config *cfg) {
    if (!s || !cfg) return yl_error(YL_ERR_INVALID_ARG, "schedule_init: NULL argument");
    if (cfg->epochs < 1 || cfg->batch < 1 || cfg->nbs < 1 || cfg->batches_per_epoch < 1)
        return yl_error(YL_ERR_INVALID_ARG,
                        "schedule_init: epochs=%d, batch=%d, nbs=%d, batches per epoch=%lld must be >= 1",
                        cfg->epochs, cfg->batch, cfg->nbs, (long long)cfg->batches_per_epoch);
    if (!isfinite(cfg->lrf) || !isfinite(cfg->warmup_epochs) || !isfinite(cfg->warmup_bias_lr) ||
        !isfinite(cfg->warmup_momentum) || !isfinite(cfg->momentum))
        return yl_error(YL_ERR_INVALID_ARG, "schedule_init: lrf, warm-up and momentum values must be finite");
    s->cfg = *cfg;
    s->warmup_iterations = yl_warmup_iterations(cfg->warmup_epochs, cfg->batches_per_epoch);
    s->accumulate = yl_accumulate_steps(cfg->batch, cfg->nbs);
    s->last_opt_step = -1;
    s->iteration = -1;
    s->epoch = 0;
    return YL_OK;
}

double yl_schedule_lf(const yl_schedule *s, int epoch) {
    double x = epoch, e = s->cfg.epochs, lrf = s->cfg.lrf;
    if (s->cfg.cos_lr) {  // one_cycle(1, lrf, epochs)
        double ramp = (1.0 - cos(x * YL_PI / e)) / 2.0;
        return (ramp > 0.0 ? ramp : 0.0) * (lrf - 1.0) + 1.0;
    }
    double left = 1.0 - x / e;
    return (left > 0.0 ? left : 0.0) * (1.0 - lrf) + lrf;
}

yl_status yl_schedule_epoch_start(yl_schedule *s, yl_optimizer_settings *settings, int epoch) {
    if (!s || !settings) return yl_error(YL_ERR_INVALID_ARG, "schedule_epoch_start: NULL argument");
    if (epoch < 0) return yl_error(YL_ERR_INVALID_ARG, "schedule_epoch_start: epoch %d < 0", epoch);
    double lf = yl_schedule_lf(s, epoch);
    for (int g = 0; g < YL_PARAM_GROUP_COUNT; g++) settings->groups[g].lr = settings->groups[g].initial_lr * lf;
    s->epoch = epoch;
    return YL_OK;
}

yl_status yl_schedule_batch_start(yl_schedule *s, yl_optimizer_settings *settings, int epoch, int64_t batch_index) {
    if (!s || !settings) return yl_error(YL_ERR_INVALID_ARG, "schedule_batch_start: NULL argument");
    if (epoch < 0 || batch_index < 0 || batch_index >= s->cfg.batches_per_epoch)
        return yl_error(YL_ERR_INVALID_ARG, "schedule_batch_start: epoch %d batch %lld outside [0, %lld)", epoch,
                        (long long)batch_index, (long long)s->cfg.batches_per_epoch);
    int64_t ni = batch_index + s->cfg.batches_per_epoch * epoch;
    s->iteration = ni;
    s->epoch = epoch;
    if (ni > s->warmup_iterations) return YL_OK;
    double x = (double)ni, nw = (double)s->warmup_iterations;
    double a = rint(yl_interp(x, 0.0, nw, 1.0, (double)s->cfg.nbs / s->cfg.batch));
    s->accumulate = a < 1.0 ? 1 : (int)a;
    double lf = yl_schedule_lf(s, epoch);
    for (int g = 0; g < YL_PARAM_GROUP_COUNT; g++) {
        yl_group_settings *gs = &settings->groups[g];
        double start = g == YL_PARAM_GROUP_BIAS ? s->cfg.warmup_bias_lr : 0.0;
        gs->lr = yl_interp(x, 0.0, nw, start, gs->initial_lr * lf);
        if (settings->kind == YL_OPTIMIZER_SGD)  // only SGD's groups have a "momentum" key
            gs->momentum = yl_interp(x, 0.0, nw, s->cfg.warmup_momentum, s->cfg.momentum);
    }
    return YL_OK;
}

bool yl_schedule_step_due(yl_schedule *s) {
    if (!s || s->iteration < 0) return false;
    if (s->iteration - s->last_opt_step < s->accumulate) return false;
    s->last_opt_step = s->iteration;
    return true;
}
