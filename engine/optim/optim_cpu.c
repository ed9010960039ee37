// CPU loops of optim_kernels.h. Each element depends only on its own inputs, so splitting large
// tensors over OpenMP threads changes no result; sums run in one fixed order.
#include <math.h>
#include <stddef.h>

#include "optim_kernels.h"

#define YL_OPTIM_PARALLEL_MIN 65536  // below this, thread start-up costs more than the loop

void yl_optim_sgd_cpu(const yl_optim_segment *segments, int count, const yl_sgd_coefs coefs[YL_OPTIM_GROUPS],
                      bool first_step) {
    for (int s = 0; s < count; s++) {
        const yl_optim_segment *seg = &segments[s];
        const yl_sgd_coefs c = coefs[seg->group];
        float *p = seg->param, *buf = seg->state_a;
        const float *g = seg->grad;
        int64_t n = seg->count;
#pragma omp parallel for schedule(static) if (n >= YL_OPTIM_PARALLEL_MIN)
        for (int64_t i = 0; i < n; i++) {
            float d = g[i];
            if (c.weight_decay != 0.0f) d = d + c.weight_decay * p[i];
            float b = first_step ? d : buf[i] * c.momentum + d;
            buf[i] = b;
            p[i] = p[i] + c.neg_lr * (d + c.momentum * b);
        }
    }
}

void yl_optim_adamw_cpu(const yl_optim_segment *segments, int count, const yl_adamw_coefs coefs[YL_OPTIM_GROUPS]) {
    for (int s = 0; s < count; s++) {
        const yl_optim_segment *seg = &segments[s];
        const yl_adamw_coefs c = coefs[seg->group];
        float *p = seg->param, *m = seg->state_a, *v = seg->state_b;
        const float *g = seg->grad;
        int64_t n = seg->count;
#pragma omp parallel for schedule(static) if (n >= YL_OPTIM_PARALLEL_MIN)
        for (int64_t i = 0; i < n; i++) {
            float gi = g[i];
            float pi = p[i] * c.decay_factor;
            float mi = m[i] * c.beta1 + c.one_minus_beta1 * gi;
            float vi = v[i] * c.beta2 + c.one_minus_beta2 * gi * gi;
            float denom = sqrtf(vi) / c.bias_correction2_sqrt + c.eps;
            m[i] = mi;
            v[i] = vi;
            p[i] = pi + c.neg_step_size * mi / denom;
        }
    }
}

void yl_optim_sum_squares_cpu(const yl_optim_segment *segments, int count, double *sums) {
    for (int s = 0; s < count; s++) {
        const float *g = segments[s].grad;
        double sum = 0.0;
        for (int64_t i = 0; i < segments[s].count; i++) sum += (double)g[i] * (double)g[i];
        sums[s] = sum;
    }
}

void yl_optim_scale_grads_cpu(const yl_optim_segment *segments, int count, float factor) {
    for (int s = 0; s < count; s++) {
        float *g = segments[s].grad;
        int64_t n = segments[s].count;
#pragma omp parallel for schedule(static) if (n >= YL_OPTIM_PARALLEL_MIN)
        for (int64_t i = 0; i < n; i++) g[i] = g[i] * factor;
    }
}

void yl_optim_blend_cpu(const yl_optim_pair *pairs, int count, float keep, float blend) {
    for (int s = 0; s < count; s++) {
        float *dst = pairs[s].dst;
        const float *src = pairs[s].src;
        int64_t n = pairs[s].count;
        if (keep == 0.0f) {
#pragma omp parallel for schedule(static) if (n >= YL_OPTIM_PARALLEL_MIN)
            for (int64_t i = 0; i < n; i++) dst[i] = blend * src[i];
        } else {
#pragma omp parallel for schedule(static) if (n >= YL_OPTIM_PARALLEL_MIN)
            for (int64_t i = 0; i < n; i++) dst[i] = dst[i] * keep + blend * src[i];
        }
    }
}

void yl_optim_swap_cpu(const yl_optim_pair *pairs, int count) {
    for (int s = 0; s < count; s++) {
        float *a = pairs[s].dst, *b = pairs[s].src;
        int64_t n = pairs[s].count;
#pragma omp parallel for schedule(static) if (n >= YL_OPTIM_PARALLEL_MIN)
        for (int64_t i = 0; i < n; i++) {
            float t = a[i];
            a[i] = b[i];
            b[i] = t;
        }
    }
}
