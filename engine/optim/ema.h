// The model EMA (Ultralytics ModelEMA, yolov8.md §3.6): a copy of every floating-point state
// entry (weights and BatchNorm running statistics) in its own arena on the model's device,
// updated after each optimizer step with d = 0.9999 * (1 - exp(-updates / 2000)):
//   ema = d * ema + (1 - d) * model
// Integer buffers (num_batches_tracked) are neither copied nor averaged. Validation and
// checkpoints use the EMA: yl_ema_swap exchanges the contents of the EMA and the model's floats,
// so the model computes with the EMA weights until it is swapped back.
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "../model/model.h"
#include "../model/state.h"

#define YL_EMA_DECAY 0.9999
#define YL_EMA_TAU 2000.0

typedef struct yl_ema yl_ema;

// d for an update count: 0.9999 * (1 - exp(-updates / 2000)).
double yl_ema_decay(int64_t updates);

// Copies the current floating-point state (before any optimizer step, as the trainer does);
// updates starts at 0. The entries must outlive the EMA; all float entries must be contiguous
// fp32 on one device with a backend in eng.
yl_status yl_ema_create(yl_ema **out, yl_engine *eng, yl_state_entry *entries, int count);
yl_status yl_ema_create_for_model(yl_ema **out, yl_model *m);
void yl_ema_destroy(yl_ema *ema);

// updates += 1, then the blend above over every float entry. Refused while swapped.
yl_status yl_ema_update(yl_ema *ema);
int64_t yl_ema_updates(const yl_ema *ema);
// Resume: the update count saved with the checkpoint.
yl_status yl_ema_set_updates(yl_ema *ema, int64_t updates);

// Exchanges the EMA's and the model's float contents; call again to undo.
yl_status yl_ema_swap(yl_ema *ema);
bool yl_ema_is_swapped(const yl_ema *ema);

// The EMA copy of entry `index` (a tensor on the model's device, same shape), or NULL for an
// integer entry or an index out of range. Checkpoints read it; resume writes it. While swapped
// it holds the model's training weights.
yl_tensor *yl_ema_value(yl_ema *ema, int index);
