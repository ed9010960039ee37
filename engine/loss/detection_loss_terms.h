// Per-anchor pieces of the detection loss (internal to engine/loss): DFL decoding and the three
// terms with their gradients. Head data is addressed as `logits[c * channel_stride]`, channel c of
// one anchor inside an NCHW head map.
#pragma once
#include <stdint.h>

// Expected distance of each side (l, t, r, b) in grid units: sum_k k * softmax(bins)_k.
void yl_loss_dfl_expectation(const float *logits, int64_t channel_stride, float dist[4]);

// Sum over the anchor's classes of BCEWithLogits(logit_c, target_c), where the target is `score`
// for class `label` and 0 otherwise (label < 0: background). With grad != NULL writes
// scale * (sigmoid(logit) - target) for each class.
double yl_class_bce(const float *logits, int64_t channel_stride, int num_classes, int label, float score,
                    float *grad, double scale);

typedef struct {
    float anchor[2];      // grid units
    float stride;
    float pred_box[4];    // xyxy grid units, decoded from the logits
    float target_box[4];  // xyxy pixels
    float weight;         // the anchor's soft target score
} yl_fg_anchor;

// Adds (1 - CIoU) * weight to *box_sum and mean_over_sides(DFL) * weight to *dfl_sum. With grad !=
// NULL writes box_scale * d(box term) + dfl_scale * d(dfl term) into the 64 box channels.
void yl_box_dfl_terms(const float *logits, int64_t channel_stride, const yl_fg_anchor *anchor, double *box_sum,
                      double *dfl_sum, float *grad, double box_scale, double dfl_scale);
