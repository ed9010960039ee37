// The CPU backend: memory is host memory, every op is implemented.
#include <stdlib.h>
#include <string.h>

#include "../../core/arena.h"
#include "cpu_ops.h"

typedef struct {
    float *workspace;
    size_t workspace_bytes;
} cpu_state;

yl_status yl_cpu_workspace(yl_backend *be, size_t bytes, float **out) {
    cpu_state *state = be->impl;
    if (bytes > state->workspace_bytes) {
        free(state->workspace);
        size_t size = yl_arena_aligned_size(bytes);
        state->workspace = aligned_alloc(YL_ARENA_ALIGNMENT, size);
        state->workspace_bytes = state->workspace ? size : 0;
        if (!state->workspace) return yl_error(YL_ERR_OOM, "cpu workspace: cannot allocate %zu bytes", size);
    }
    *out = state->workspace;
    return YL_OK;
}

static bool cpu_supports(const yl_backend *be, yl_op op) {
    (void)be;
    return (unsigned)op < YL_OP_COUNT;
}

static void cpu_destroy(yl_backend *be) {
    cpu_state *state = be->impl;
    if (state) free(state->workspace);
    free(state);
    free(be);
}

static yl_status cpu_alloc(yl_backend *be, size_t bytes, void **out) {
    (void)be;
    size_t size = yl_arena_aligned_size(bytes ? bytes : 1);
    *out = aligned_alloc(YL_ARENA_ALIGNMENT, size);
    if (!*out) return yl_error(YL_ERR_OOM, "cpu: cannot allocate %zu bytes", size);
    return YL_OK;
}

static void cpu_free(yl_backend *be, void *ptr) {
    (void)be;
    free(ptr);
}

static yl_status cpu_copy(yl_backend *be, void *dst, const void *src, size_t bytes) {
    (void)be;
    if (bytes) memmove(dst, src, bytes);
    return YL_OK;
}

static yl_status cpu_memset_zero(yl_backend *be, void *dst, size_t bytes) {
    (void)be;
    if (bytes) memset(dst, 0, bytes);
    return YL_OK;
}

static yl_status cpu_synchronize(yl_backend *be) {
    (void)be;
    return YL_OK;
}

yl_status yl_backend_cpu_create(yl_backend **out) {
    if (!out) return yl_error(YL_ERR_INVALID_ARG, "backend_cpu_create: NULL argument");
    yl_backend *be = calloc(1, sizeof *be);
    cpu_state *state = calloc(1, sizeof *state);
    if (!be || !state) {
        free(be);
        free(state);
        return yl_error(YL_ERR_OOM, "backend_cpu_create: out of memory");
    }
    be->name = "cpu";
    be->device = YL_DEVICE_CPU;
    be->impl = state;
    be->supports = cpu_supports;
    be->destroy = cpu_destroy;
    be->alloc = cpu_alloc;
    be->free = cpu_free;
    be->copy_from_host = cpu_copy;
    be->copy_to_host = cpu_copy;
    be->memset_zero = cpu_memset_zero;
    be->synchronize = cpu_synchronize;

    be->conv2d_forward = yl_cpu_conv2d_forward;
    be->conv2d_backward_data = yl_cpu_conv2d_backward_data;
    be->conv2d_backward_weight = yl_cpu_conv2d_backward_weight;
    be->batchnorm2d_forward_train = yl_cpu_batchnorm2d_forward_train;
    be->batchnorm2d_forward_eval = yl_cpu_batchnorm2d_forward_eval;
    be->batchnorm2d_backward_train = yl_cpu_batchnorm2d_backward_train;
    be->batchnorm2d_backward_eval = yl_cpu_batchnorm2d_backward_eval;
    be->bn_silu_forward_train = yl_cpu_bn_silu_forward_train;
    be->bn_silu_forward_eval = yl_cpu_bn_silu_forward_eval;
    be->silu_forward = yl_cpu_silu_forward;
    be->silu_backward = yl_cpu_silu_backward;
    be->sigmoid_forward = yl_cpu_sigmoid_forward;
    be->sigmoid_backward = yl_cpu_sigmoid_backward;
    be->add_forward = yl_cpu_add_forward;
    be->add_backward = yl_cpu_add_backward;
    be->maxpool2d_forward = yl_cpu_maxpool2d_forward;
    be->maxpool2d_backward = yl_cpu_maxpool2d_backward;
    be->upsample_nearest2x_forward = yl_cpu_upsample_nearest2x_forward;
    be->upsample_nearest2x_backward = yl_cpu_upsample_nearest2x_backward;
    be->concat_channels = yl_cpu_concat_channels;
    be->split_channels = yl_cpu_split_channels;
    be->dfl_decode_forward = yl_cpu_dfl_decode_forward;
    be->dfl_decode_backward = yl_cpu_dfl_decode_backward;
    be->box_decode_forward = yl_cpu_box_decode_forward;
    *out = be;
    return YL_OK;
}
