// Launch shapes shared by the hand-written kernels (batchnorm, elementwise, pool, concat, DFL).
// Only .cu files include this.
#pragma once
#include <cstdint>

// Elementwise kernels run 256 threads a block and loop grid-stride, so a fixed grid covers any
// size; capping the grid keeps per-block setup small once the GPU is full.
#define YL_ELEMENTWISE_THREADS 256
#define YL_MAX_GRID_BLOCKS 8192

static inline unsigned yl_grid_blocks(int64_t items, int threads) {
    int64_t blocks = (items + threads - 1) / threads;
    if (blocks < 1) blocks = 1;
    if (blocks > YL_MAX_GRID_BLOCKS) blocks = YL_MAX_GRID_BLOCKS;
    return (unsigned)blocks;
}

// Index kernels (pool, upsample, concat, DFL) decompose a flat index with divisions; 64-bit
// divisions cost several times the 32-bit ones, so a kernel is instantiated for both and the
// narrow one runs whenever every index fits, with room for the last grid-stride step past the
// end (signed overflow there would be undefined).
static inline bool yl_fits_int32(int64_t count) {
    return count <= (int64_t)INT32_MAX - (int64_t)YL_MAX_GRID_BLOCKS * 1024;
}
