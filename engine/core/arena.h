// An arena: one allocation per category (parameters, gradients, optimizer state, activations),
// carved into tensors by bumping an offset. Sizes are planned once; nothing is freed piecemeal.
#pragma once
#include <stddef.h>

#include "../ops/backend.h"
#include "tensor.h"

#define YL_ARENA_ALIGNMENT 256  // cuDNN and vector loads like 256-byte aligned tensors

typedef struct {
    char name[32];
    yl_backend *backend;  // owns the memory's device
    unsigned char *base;
    size_t capacity;
    size_t used;
} yl_arena;

// Rounds a byte count up to the arena alignment (use it when planning capacities).
size_t yl_arena_aligned_size(size_t bytes);

yl_status yl_arena_create(yl_arena *arena, const char *name, yl_backend *backend, size_t capacity);
void yl_arena_destroy(yl_arena *arena);
// Drops every tensor carved so far (the memory stays).
void yl_arena_reset(yl_arena *arena);

// Carves `bytes` (aligned) from the arena; YL_ERR_OOM names the arena when it is full.
yl_status yl_arena_alloc(yl_arena *arena, size_t bytes, void **out);
// Carves a contiguous tensor of the given shape.
yl_status yl_arena_tensor(yl_arena *arena, yl_tensor *out, yl_dtype dtype, int ndim, const int64_t *shape);
// Zeroes every byte in use.
yl_status yl_arena_zero(yl_arena *arena);
