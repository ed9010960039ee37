// Thread control for the CPU backend: OpenMP and OpenBLAS use the same count.
#pragma once

// n <= 0 selects the number of available cores.
void yl_set_num_threads(int n);
int yl_get_num_threads(void);
