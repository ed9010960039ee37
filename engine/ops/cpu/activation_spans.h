// Vectorised loops over contiguous spans for the CPU activations and batch norm (see
// simd_dispatch.h). Each element's value is the same as the scalar functions of activation.h
// give, bit for bit, on every instruction set; the reductions sum in a fixed lane order, so
// their results do not depend on the instruction set either.
#pragma once
#include <stdbool.h>
#include <stdint.h>

// y = silu(x), y = sigmoid(x). y may be x.
void yl_cpu_silu_span(const float *x, float *y, int64_t n);
void yl_cpu_sigmoid_span(const float *x, float *y, int64_t n);
// dx (+)= dy * silu'(x); dx (+)= dy * y * (1 - y) from the sigmoid's output y.
void yl_cpu_silu_backward_span(const float *x, const float *dy, float *dx, int64_t n, bool accumulate);
void yl_cpu_sigmoid_backward_span(const float *y, const float *dy, float *dx, int64_t n, bool accumulate);

// y_bn = (x - center) * scale + shift, and y_act = silu(y_bn) when y_act is not NULL.
void yl_cpu_normalize_span(const float *x, float *y_bn, float *y_act, int64_t n, float center, float scale,
                           float shift);
// *sum += sum(x) and *squares += sum((x - mean)^2), in double.
void yl_cpu_sum_span(const float *x, int64_t n, double *sum);
void yl_cpu_centered_squares_span(const float *x, int64_t n, double mean, double *squares);
// *sum_dy += sum(dy), *sum_dy_centered += sum(dy * (x - center)), in double.
void yl_cpu_gradient_sums_span(const float *x, const float *dy, int64_t n, float center, double *sum_dy,
                               double *sum_dy_centered);
// dx (+)= gain * (dy - dy_shift - (x - center) * x_slope).
void yl_cpu_batchnorm_input_gradient_span(const float *x, const float *dy, float *dx, int64_t n, float center,
                                          float gain, float dy_shift, float x_slope, bool accumulate);
