// Activations of the model graph and the planner that sizes, carves and reshapes them.
//
// Every activation is a (N, C, H/down, W/down) tensor plus, when training, a gradient tensor of
// the same shape. Buffers are carved once for the largest (batch, height, width) of a plan; a
// smaller input re-uses prefixes of them (contiguous NCHW), so a step never allocates.
// During backward, `grad_written` tells whether some consumer has already written the gradient:
// the first consumer overwrites, later ones accumulate (the ops' accumulate flag).
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "../core/arena.h"
#include "../ops/ops.h"

typedef struct {
    yl_tensor value;
    yl_tensor grad;  // data NULL when the plan has no gradients
    int channels;
    int down;
    bool grad_written;
} yl_activation;

typedef enum {
    YL_PLAN_MEASURE,      // sum the bytes a plan needs
    YL_PLAN_CARVE,        // take the buffers from the arena
    YL_PLAN_RESHAPE,      // set shapes for the current input, keep buffers
    YL_PLAN_RESET_FLAGS,  // clear grad_written before a backward pass
} yl_plan_mode;

typedef struct {
    yl_plan_mode mode;
    yl_arena *arena;      // CARVE
    yl_device device;
    bool gradients;       // carve gradient buffers too
    int batch, height, width;  // MEASURE/CARVE: the plan's maximum; RESHAPE: the current input
    size_t bytes;         // MEASURE: running total
    int64_t max_numel;    // largest spatial tensor seen (sizes the shared scratch)
    int max_channels;     // largest channel count seen
    yl_status status;     // first failure
} yl_planner;

// A spatial activation with an optional gradient.
void yl_plan_activation(yl_planner *p, yl_activation *a, int channels, int down);
// An activation whose gradient is the same buffer as `source`'s (e.g. the branch of a residual
// add, whose gradient equals the sum's). Plan `source` first.
void yl_plan_activation_shared_grad(yl_planner *p, yl_activation *a, int channels, int down,
                                    const yl_activation *source);
// A spatial tensor kept only for the backward pass (no gradient).
void yl_plan_tensor(yl_planner *p, yl_tensor *t, int channels, int down);
// A per-channel vector (C).
void yl_plan_vector(yl_planner *p, yl_tensor *t, int channels);
// A (N, C, A) tensor over the anchors of several levels, A = sum_l (H/downs[l]) (W/downs[l]):
// the Detect decode's buffers. Not counted in the scratch sizes (no backward uses them).
void yl_plan_anchor_tensor(yl_planner *p, yl_tensor *t, int channels, const int *downs, int levels);

// A contiguous (N, C, H, W) view of the first elements of `base`'s buffer.
yl_tensor yl_view_4d(const yl_tensor *base, int64_t n, int64_t c, int64_t h, int64_t w);
yl_tensor yl_view_like(const yl_tensor *base, const yl_tensor *shape_of);
yl_tensor yl_view_1d(const yl_tensor *base, int64_t n);

// Writes or accumulates into `a`'s gradient: returns the accumulate flag to pass to the op and
// marks the gradient written.
bool yl_grad_accumulate(yl_activation *a);

// Backward of a channel concat: splits `dwhole` into the parts' gradients, overwriting the
// fresh ones and adding to those already written.
yl_status yl_split_grads(yl_engine *eng, const yl_tensor *dwhole, yl_activation *const *parts, int count);
