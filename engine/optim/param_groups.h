// Ultralytics' optimizer parameter groups (build_optimizer, 8.3.x) and layer freezing.
//
// Every parameter of the model belongs to one group, in Ultralytics' order: pg0 biases (no
// decay), pg1 weights (decayed; the frozen DFL weight included), pg2 norm-layer weights (no
// decay). yolov8n: 63 / 64 / 57, logged as
//   "57 weight(decay=0.0), 64 weight(decay=0.0005), 63 bias(decay=0.0)".
// Freezing (trainer _setup_train): a parameter whose name contains "model.<i>." for a frozen
// layer i, or ".dfl", gets no update (torch: requires_grad=False, so no gradient, no weight decay,
// not in the clipped norm); BatchNorm layers inside frozen layers stay in eval mode (statistics
// frozen too) — the trainer reads frozen_layers for that. Frozen parameters still count in their
// group, as in Ultralytics' log line.
#pragma once
#include <stdbool.h>
#include <stddef.h>

#include "../core/status.h"
#include "../model/model.h"
#include "../model/state.h"

#define YL_PARAM_GROUP_COUNT 3

// freeze=N freezes layers 0 .. N-1; freeze=[a, b, ...] the listed ones; both may be given.
typedef struct {
    int first;          // N (0: none)
    const int *layers;  // may be NULL
    int layer_count;
} yl_freeze_spec;

typedef struct {
    yl_state_entry *entries;  // not owned: the model's (or a test's) state entries
    int count;
    bool *frozen;             // per entry: a parameter the optimizer must leave alone
    bool frozen_layers[YL_YOLOV8_LAYER_COUNT];  // layers whose BatchNorms run in eval mode
    int group_size[YL_PARAM_GROUP_COUNT];       // parameters per group, frozen ones included
    int trainable;            // parameters with a gradient that are not frozen
} yl_param_groups;

// Builds the groups of `entries` (kept by pointer; they must outlive the groups). freeze may be
// NULL (only ".dfl" is frozen). Fails on a negative layer or an entry without a group that
// claims to be a parameter.
yl_status yl_param_groups_build(yl_param_groups *g, yl_state_entry *entries, int count, const yl_freeze_spec *freeze);
yl_status yl_param_groups_build_for_model(yl_param_groups *g, yl_model *m, const yl_freeze_spec *freeze);
void yl_param_groups_release(yl_param_groups *g);

// True when entry `index` gets optimizer updates: a parameter with a gradient, not frozen.
bool yl_param_groups_updates(const yl_param_groups *g, int index);

// "57 weight(decay=0.0), 64 weight(decay=0.0005), 63 bias(decay=0.0)" for `weight_decay` the
// decayed group's (scaled) decay. Returns buf.
const char *yl_param_groups_describe(const yl_param_groups *g, double weight_decay, char *buf, size_t size);
