// Gradient clipping by total L2 norm, as torch.nn.utils.clip_grad_norm_(max_norm=10.0) in
// Ultralytics' optimizer_step (yolov8.md §3.5).
#pragma once
#include "optimizer.h"

#define YL_CLIP_GRAD_MAX_NORM 10.0  // Ultralytics' max_norm

// The total norm over the gradients `opt` applies (trainable, not frozen parameters: the ones
// torch sees with a .grad). When coef = max_norm / (norm + 1e-6) is below 1 every such gradient
// is multiplied by it. *total_norm (may be NULL) receives the norm, also when it is not finite.
// A NaN or Inf gradient gives YL_ERR_NUMERIC naming the first parameter holding one, with the
// gradients left as they are: the caller skips the optimizer step, as the AMP GradScaler would.
yl_status yl_clip_grad_norm(yl_optimizer *opt, double max_norm, double *total_norm);
