// The element loops behind the optimizer, the gradient clipping and the EMA: one CPU version
// here (optim_cpu.c) and one CUDA version (kernels/optim_cuda.h). Both work on lists of
// contiguous fp32 segments (one per parameter tensor) and take per-group constants that the host
// computed in double and rounded to float the way PyTorch rounds its Python scalars, so both
// reproduce torch's float32 arithmetic op by op.
#pragma once
#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {  // kernels/optim.cu includes this header
#endif

#define YL_OPTIM_GROUPS 3

// One parameter tensor: value, gradient, and its optimizer state (SGD: state_a = momentum
// buffer; AdamW: state_a = exp_avg, state_b = exp_avg_sq; unused ones NULL).
typedef struct {
    float *param;
    float *grad;  // written only when clipping scales it
    float *state_a;
    float *state_b;
    int64_t count;
    int group;  // 0 .. YL_OPTIM_GROUPS - 1
} yl_optim_segment;

// torch.optim.SGD(nesterov=True, dampening=0), per group:
//   d = g + wd * p (only when wd != 0); buf = d on the first step, else momentum * buf + d;
//   p = p + neg_lr * (d + momentum * buf)
typedef struct {
    float weight_decay;
    float momentum;
    float neg_lr;
} yl_sgd_coefs;

// torch.optim.AdamW (amsgrad off), per group:
//   p = p * decay_factor                              (decay_factor = 1 - lr * wd)
//   m = m * beta1 + one_minus_beta1 * g;  v = v * beta2 + one_minus_beta2 * g * g
//   p = p + neg_step_size * m / (sqrt(v) / bias_correction2_sqrt + eps)
typedef struct {
    float decay_factor;
    float beta1, one_minus_beta1;
    float beta2, one_minus_beta2;
    float bias_correction2_sqrt;
    float eps;
    float neg_step_size;  // -lr / (1 - beta1^step)
} yl_adamw_coefs;

// A pair of equally long tensors for the two-operand loops (EMA, swap, scale).
typedef struct {
    float *dst;
    float *src;  // NULL for yl_optim_scale
    int64_t count;
} yl_optim_pair;

void yl_optim_sgd_cpu(const yl_optim_segment *segments, int count, const yl_sgd_coefs coefs[YL_OPTIM_GROUPS],
                      bool first_step);
void yl_optim_adamw_cpu(const yl_optim_segment *segments, int count, const yl_adamw_coefs coefs[YL_OPTIM_GROUPS]);
// sums[i] = sum of grad^2 over segment i, in double (a fixed order: repeatable).
void yl_optim_sum_squares_cpu(const yl_optim_segment *segments, int count, double *sums);
// grad *= factor for every segment.
void yl_optim_scale_grads_cpu(const yl_optim_segment *segments, int count, float factor);
// dst = keep * dst + blend * src (keep == 0: dst = blend * src, the old dst is not read).
void yl_optim_blend_cpu(const yl_optim_pair *pairs, int count, float keep, float blend);
// Exchanges the contents of dst and src.
void yl_optim_swap_cpu(const yl_optim_pair *pairs, int count);

#ifdef __cplusplus
}
#endif
