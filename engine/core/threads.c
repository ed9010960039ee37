#include "threads.h"

#include <cblas.h>
#ifdef _OPENMP
#include <omp.h>
#endif

void yl_set_num_threads(int n) {
#ifdef _OPENMP
    if (n <= 0) n = omp_get_num_procs();
    omp_set_num_threads(n);
#else
    if (n <= 0) n = 1;
#endif
    // Ops call sgemm from outside parallel regions, so BLAS may use every thread itself.
    openblas_set_num_threads(n);
}

int yl_get_num_threads(void) {
#ifdef _OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}
