// Loops behind activation_spans.h, each compiled for the baseline ISA and for AVX2 + FMA.
//
// The double reductions keep REDUCTION_LANES partial sums, lane j taking elements j, j + LANES,
// ...: a fixed order that any vector width can follow, so every instruction set gives the same
// sum; the lanes are then added pairwise in a fixed tree.
#include "activation_spans.h"

#include "activation.h"
#include "simd_dispatch.h"

#define REDUCTION_LANES 8

YL_CPU_KERNEL_BODY yl_cpu_silu_span_body(const float *x, float *y, int64_t n) {
#pragma omp simd
    for (int64_t i = 0; i < n; i++) y[i] = yl_cpu_siluf(x[i]);
}
YL_CPU_DISPATCH(yl_cpu_silu_span, (const float *x, float *y, int64_t n), (x, y, n))

YL_CPU_KERNEL_BODY yl_cpu_sigmoid_span_body(const float *x, float *y, int64_t n) {
#pragma omp simd
    for (int64_t i = 0; i < n; i++) y[i] = yl_cpu_sigmoidf(x[i]);
}
YL_CPU_DISPATCH(yl_cpu_sigmoid_span, (const float *x, float *y, int64_t n), (x, y, n))

YL_CPU_KERNEL_BODY yl_cpu_silu_backward_span_body(const float *x, const float *dy, float *dx, int64_t n,
                                                  bool accumulate) {
    if (accumulate) {
#pragma omp simd
        for (int64_t i = 0; i < n; i++) dx[i] = dx[i] + dy[i] * yl_cpu_silu_gradf(x[i]);
    } else {
#pragma omp simd
        for (int64_t i = 0; i < n; i++) dx[i] = dy[i] * yl_cpu_silu_gradf(x[i]);
    }
}
YL_CPU_DISPATCH(yl_cpu_silu_backward_span, (const float *x, const float *dy, float *dx, int64_t n, bool accumulate),
                (x, dy, dx, n, accumulate))

YL_CPU_KERNEL_BODY yl_cpu_sigmoid_backward_span_body(const float *y, const float *dy, float *dx, int64_t n,
                                                     bool accumulate) {
    if (accumulate) {
#pragma omp simd
        for (int64_t i = 0; i < n; i++) dx[i] = dx[i] + dy[i] * y[i] * (1.0f - y[i]);
    } else {
#pragma omp simd
        for (int64_t i = 0; i < n; i++) dx[i] = dy[i] * y[i] * (1.0f - y[i]);
    }
}
YL_CPU_DISPATCH(yl_cpu_sigmoid_backward_span,
                (const float *y, const float *dy, float *dx, int64_t n, bool accumulate), (y, dy, dx, n, accumulate))

YL_CPU_KERNEL_BODY yl_cpu_normalize_span_body(const float *x, float *y_bn, float *y_act, int64_t n, float center,
                                              float scale, float shift) {
    if (y_act) {
#pragma omp simd
        for (int64_t i = 0; i < n; i++) {
            const float v = (x[i] - center) * scale + shift;
            y_bn[i] = v;
            y_act[i] = yl_cpu_siluf(v);
        }
    } else {
#pragma omp simd
        for (int64_t i = 0; i < n; i++) y_bn[i] = (x[i] - center) * scale + shift;
    }
}
YL_CPU_DISPATCH(yl_cpu_normalize_span,
                (const float *x, float *y_bn, float *y_act, int64_t n, float center, float scale, float shift),
                (x, y_bn, y_act, n, center, scale, shift))

static inline double lane_total(const double lanes[REDUCTION_LANES]) {
    return ((lanes[0] + lanes[1]) + (lanes[2] + lanes[3])) + ((lanes[4] + lanes[5]) + (lanes[6] + lanes[7]));
}

YL_CPU_KERNEL_BODY yl_cpu_sum_span_body(const float *x, int64_t n, double *sum) {
    double lanes[REDUCTION_LANES] = {0};
    const int64_t whole = n - n % REDUCTION_LANES;
    for (int64_t i = 0; i < whole; i += REDUCTION_LANES)
#pragma omp simd
        for (int j = 0; j < REDUCTION_LANES; j++) lanes[j] += x[i + j];
    for (int64_t i = whole; i < n; i++) lanes[i - whole] += x[i];
    *sum += lane_total(lanes);
}
YL_CPU_DISPATCH(yl_cpu_sum_span, (const float *x, int64_t n, double *sum), (x, n, sum))

YL_CPU_KERNEL_BODY yl_cpu_centered_squares_span_body(const float *x, int64_t n, double mean, double *squares) {
    double lanes[REDUCTION_LANES] = {0};
    const int64_t whole = n - n % REDUCTION_LANES;
    for (int64_t i = 0; i < whole; i += REDUCTION_LANES)
#pragma omp simd
        for (int j = 0; j < REDUCTION_LANES; j++) {
            const double d = x[i + j] - mean;
            lanes[j] += d * d;
        }
    for (int64_t i = whole; i < n; i++) {
        const double d = x[i] - mean;
        lanes[i - whole] += d * d;
    }
    *squares += lane_total(lanes);
}
YL_CPU_DISPATCH(yl_cpu_centered_squares_span, (const float *x, int64_t n, double mean, double *squares),
                (x, n, mean, squares))

YL_CPU_KERNEL_BODY yl_cpu_gradient_sums_span_body(const float *x, const float *dy, int64_t n, float center,
                                                  double *sum_dy, double *sum_dy_centered) {
    double s[REDUCTION_LANES] = {0}, sc[REDUCTION_LANES] = {0};
    const int64_t whole = n - n % REDUCTION_LANES;
    for (int64_t i = 0; i < whole; i += REDUCTION_LANES)
#pragma omp simd
        for (int j = 0; j < REDUCTION_LANES; j++) {
            s[j] += dy[i + j];
            sc[j] += (double)dy[i + j] * ((double)x[i + j] - center);
        }
    for (int64_t i = whole; i < n; i++) {
        s[i - whole] += dy[i];
        sc[i - whole] += (double)dy[i] * ((double)x[i] - center);
    }
    *sum_dy += lane_total(s);
    *sum_dy_centered += lane_total(sc);
}
YL_CPU_DISPATCH(yl_cpu_gradient_sums_span,
                (const float *x, const float *dy, int64_t n, float center, double *sum_dy, double *sum_dy_centered),
                (x, dy, n, center, sum_dy, sum_dy_centered))

YL_CPU_KERNEL_BODY yl_cpu_batchnorm_input_gradient_span_body(const float *x, const float *dy, float *dx, int64_t n,
                                                             float center, float gain, float dy_shift,
                                                             float x_slope, bool accumulate) {
    if (accumulate) {
#pragma omp simd
        for (int64_t i = 0; i < n; i++)
            dx[i] = dx[i] + gain * (dy[i] - dy_shift - (x[i] - center) * x_slope);
    } else {
#pragma omp simd
        for (int64_t i = 0; i < n; i++) dx[i] = gain * (dy[i] - dy_shift - (x[i] - center) * x_slope);
    }
}
YL_CPU_DISPATCH(yl_cpu_batchnorm_input_gradient_span,
                (const float *x, const float *dy, float *dx, int64_t n, float center, float gain, float dy_shift,
                 float x_slope, bool accumulate),
                (x, dy, dx, n, center, gain, dy_shift, x_slope, accumulate))
