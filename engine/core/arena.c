#include "arena.h"

#include <stdio.h>
#include <string.h>

size_t yl_arena_aligned_size(size_t bytes) {
    return (bytes + YL_ARENA_ALIGNMENT - 1) / YL_ARENA_ALIGNMENT * YL_ARENA_ALIGNMENT;
}

yl_status yl_arena_create(yl_arena *arena, const char *name, yl_backend *backend, size_t capacity) {
    if (!arena || !backend) return yl_error(YL_ERR_INVALID_ARG, "arena_create: NULL argument");
    memset(arena, 0, sizeof *arena);
    snprintf(arena->name, sizeof arena->name, "%s", name ? name : "arena");
    arena->backend = backend;
    arena->capacity = yl_arena_aligned_size(capacity);
    if (arena->capacity == 0) return YL_OK;
    void *base = NULL;
    yl_status status = backend->alloc(backend, arena->capacity, &base);
    if (status != YL_OK)
        return yl_error_context(status, "arena '%s' (%zu bytes on %s)", arena->name, arena->capacity, backend->name);
    arena->base = base;
    return YL_OK;
}

void yl_arena_destroy(yl_arena *arena) {
    if (!arena) return;
    if (arena->base && arena->backend) arena->backend->free(arena->backend, arena->base);
    arena->base = NULL;
    arena->capacity = arena->used = 0;
}

void yl_arena_reset(yl_arena *arena) {
    if (arena) arena->used = 0;
}

yl_status yl_arena_alloc(yl_arena *arena, size_t bytes, void **out) {
    if (!arena || !out) return yl_error(YL_ERR_INVALID_ARG, "arena_alloc: NULL argument");
    size_t size = yl_arena_aligned_size(bytes);
    if (size > arena->capacity - arena->used)
        return yl_error(YL_ERR_OOM, "arena '%s' is full: %zu of %zu bytes used, %zu more requested", arena->name,
                        arena->used, arena->capacity, size);
    *out = arena->base + arena->used;
    arena->used += size;
    return YL_OK;
}

yl_status yl_arena_tensor(yl_arena *arena, yl_tensor *out, yl_dtype dtype, int ndim, const int64_t *shape) {
    if (!arena || !out || !shape || ndim < 0 || ndim > YL_MAX_DIMS)
        return yl_error(YL_ERR_INVALID_ARG, "arena_tensor: bad argument");
    *out = yl_tensor_view(NULL, dtype, arena->backend->device, ndim, shape);
    for (int d = 0; d < ndim; d++)
        if (shape[d] < 0) return yl_error(YL_ERR_SHAPE, "arena_tensor: negative dimension %lld", (long long)shape[d]);
    void *data = NULL;
    YL_TRY(yl_arena_alloc(arena, yl_tensor_nbytes(out), &data));
    out->data = data;
    return YL_OK;
}

yl_status yl_arena_zero(yl_arena *arena) {
    if (!arena) return yl_error(YL_ERR_INVALID_ARG, "arena_zero: NULL argument");
    if (arena->used == 0) return YL_OK;
    return arena->backend->memset_zero(arena->backend, arena->base, arena->used);
}
