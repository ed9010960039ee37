#include "numeric.h"

#include <math.h>

// numpy's pairwise_sum (loops_utils.h.src): blocks of at most 128 elements are summed with eight
// interleaved accumulators, longer runs are split in two at a multiple of 8.
static double pairwise_sum(const double *a, int64_t n) {
    if (n < 8) {
        double sum = 0.0;
        for (int64_t i = 0; i < n; i++) sum += a[i];
        return sum;
    }
    if (n <= 128) {
        double r[8];
        for (int k = 0; k < 8; k++) r[k] = a[k];
        int64_t i = 8;
        for (; i < n - (n % 8); i += 8)
            for (int k = 0; k < 8; k++) r[k] += a[i + k];
        double sum = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for (; i < n; i++) sum += a[i];
        return sum;
    }
    int64_t half = n / 2;
    half -= half % 8;
    return pairwise_sum(a, half) + pairwise_sum(a + half, n - half);
}

double yl_np_sum(const double *a, int64_t n) { return n > 0 ? pairwise_sum(a, n) : 0.0; }

double yl_np_mean(const double *a, int64_t n) { return n > 0 ? yl_np_sum(a, n) / (double)n : NAN; }

void yl_np_linspace(double *out, int64_t n, double start, double stop) {
    if (n <= 0) return;
    if (n == 1) {
        out[0] = start;
        return;
    }
    double step = (stop - start) / (double)(n - 1);
    for (int64_t i = 0; i < n; i++) out[i] = (double)i * step + start;
    out[n - 1] = stop;
}

double yl_np_interp(double x, const double *xp, const double *fp, int64_t n, double left, double right) {
    if (isnan(x)) return x;
    if (x > xp[n - 1]) return right;
    if (x < xp[0]) return left;
    // The last j with xp[j] <= x: what numpy's binary_search_with_guess returns on sorted xp.
    int64_t lo = 0, hi = n;
    while (lo < hi) {
        int64_t mid = lo + ((hi - lo) >> 1);
        if (x >= xp[mid])
            lo = mid + 1;
        else
            hi = mid;
    }
    int64_t j = lo - 1;
    if (j == n - 1 || xp[j] == x) return fp[j];
    double slope = (fp[j + 1] - fp[j]) / (xp[j + 1] - xp[j]);
    double y = slope * (x - xp[j]) + fp[j];
    if (isnan(y)) {  // numpy's fallbacks for infinite slopes
        y = slope * (x - xp[j + 1]) + fp[j + 1];
        if (isnan(y) && fp[j] == fp[j + 1]) y = fp[j];
    }
    return y;
}

double yl_np_trapz(const double *y, const double *x, int64_t n, double *scratch) {
    if (n < 2) return 0.0;
    for (int64_t i = 0; i + 1 < n; i++) scratch[i] = (x[i + 1] - x[i]) * (y[i + 1] + y[i]) / 2.0;
    return yl_np_sum(scratch, n - 1);
}
