#include "grad_clip.h"

#include <math.h>

#include "kernels/optim_cuda.h"
#include "optimizer_internal.h"

yl_status yl_clip_grad_norm(yl_optimizer *opt, double max_norm, double *total_norm) {
    if (total_norm) *total_norm = 0.0;
    if (!opt) return yl_error(YL_ERR_INVALID_ARG, "clip_grad_norm: NULL optimizer");
    if (!(max_norm > 0.0) || !isfinite(max_norm))
        return yl_error(YL_ERR_INVALID_ARG, "clip_grad_norm: max_norm=%g must be finite and > 0", max_norm);
    int n = opt->segment_count;
    if (n == 0) return YL_OK;
    bool cuda = opt->backend->device == YL_DEVICE_CUDA;
    if (cuda) {
        yl_status status = yl_cuda_optim_sum_squares(opt->backend, opt->segments, n, opt->sums);
        if (status != YL_OK) return yl_error_context(status, "clip_grad_norm");
    } else {
        yl_optim_sum_squares_cpu(opt->segments, n, opt->sums);
    }
    double total = 0.0;
    for (int s = 0; s < n; s++) total += opt->sums[s];
    double norm = sqrt(total);
    if (total_norm) *total_norm = norm;
    if (!isfinite(norm)) {
        for (int s = 0; s < n; s++)
            if (!isfinite(opt->sums[s]))
                return yl_error(YL_ERR_NUMERIC, "clip_grad_norm: non-finite gradient in '%s' (sum of squares %g)",
                                opt->groups->entries[opt->segment_entry[s]].name, opt->sums[s]);
        return yl_error(YL_ERR_NUMERIC, "clip_grad_norm: total norm %g is not finite", norm);
    }
    // torch in float32: (1 / (norm + 1e-6)) * max_norm (Tensor.__rtruediv__ is reciprocal() * other).
    float coef = (1.0f / ((float)norm + 1e-6f)) * (float)max_norm;
    if (!(coef < 1.0f)) return YL_OK;
    if (cuda) {
        yl_status status = yl_cuda_optim_scale_grads(opt->backend, opt->segments, n, coef);
        if (status != YL_OK) return yl_error_context(status, "clip_grad_norm");
        return YL_OK;
    }
    yl_optim_scale_grads_cpu(opt->segments, n, coef);
    return YL_OK;
}
