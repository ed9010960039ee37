// The few numpy routines Ultralytics' AP code runs (numpy 1.24 semantics), reproduced operation
// for operation: with them mAP, P and R match Ultralytics to the last bit instead of "about 1e-15".
#pragma once
#include <stdint.h>

// np.add.reduce of a contiguous float64 array: pairwise summation with numpy's 8-accumulator
// blocks of up to 128 elements (so it is not a left-to-right sum once n >= 8).
double yl_np_sum(const double *a, int64_t n);
// np.mean: yl_np_sum / n (NaN when n == 0, as numpy gives).
double yl_np_mean(const double *a, int64_t n);

// np.linspace(start, stop, n) with endpoint: i * ((stop - start) / (n - 1)) + start, last = stop.
void yl_np_linspace(double *out, int64_t n, double start, double stop);

// np.interp(x, xp, fp, left, right) for increasing xp (duplicates allowed) with n >= 1 points:
// below xp[0] -> left, above xp[n-1] -> right, otherwise j = the last index with xp[j] <= x,
// fp[j] when xp[j] == x, else fp[j] + slope * (x - xp[j]).
double yl_np_interp(double x, const double *xp, const double *fp, int64_t n, double left, double right);

// np.trapz(y, x) for n >= 2 points: sum over i of ((x[i+1] - x[i]) * (y[i+1] + y[i])) / 2, summed
// like np.add.reduce. `scratch` holds n - 1 doubles.
double yl_np_trapz(const double *y, const double *x, int64_t n, double *scratch);
