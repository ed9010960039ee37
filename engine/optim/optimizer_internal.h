// The optimizer's insides, shared by optimizer.c and grad_clip.c (which clips exactly the
// gradients the optimizer will apply). Not part of the public API.
#pragma once
#include "../core/arena.h"
#include "optim_kernels.h"
#include "optimizer.h"

struct yl_optimizer {
    yl_engine *eng;
    yl_backend *backend;  // of the parameters' device
    const yl_param_groups *groups;
    yl_optimizer_settings settings;
    yl_arena state;              // momentum buffers / exp_avg + exp_avg_sq
    yl_optim_segment *segments;  // one per updated entry, in state_dict order
    int *segment_entry;          // the entry index of each segment
    int segment_count;
    double *sums;                // host scratch: per-segment sums of squares (clipping)
    int64_t steps;
};
