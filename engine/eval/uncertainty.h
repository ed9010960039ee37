// Uncertainty scores for active learning ("which unlabeled images should a person look at
// first"), computed from the Detect head's pre-NMS outputs. Pure functions on host memory; the
// caller runs the model (cli/rank/scorer.h does).
//
// Which anchors count: the anchors that survive NMS at the scoring confidence, so every score
// is per detection, and the image score aggregates over its detections. An image with no
// detection above the threshold gets the near-miss score instead: its best class probability
// over all anchors divided by the threshold — a candidate just below the threshold is
// uncertain (near 1), an image with nothing at all is not (near 0).
//
// Per detection (p = the anchor's sigmoid class probabilities, p1 >= p2 the two largest):
//   least confidence   1 - p1
//   margin             1 - (p1 - p2); with one class the alternative is "no object": p2 = 1 - p1
//   entropy            H(p1) / ln 2, H(p) = -p ln p - (1-p) ln(1-p): 1 at p1 = 0.5, 0 at 0 or 1
//   DFL entropy        mean over the 4 box sides of the entropy of softmax(16 DFL logits) / ln 16:
//                      1 for a uniform distribution (the box edge could be anywhere), 0 for one-hot
// Per image:
//   flip               1 - mean over the detections of the image and of its horizontal flip (mapped
//                      back) of each one's best IoU with a same-class detection of the other; 0 when
//                      neither has a detection
//   aggregation        max, mean or sum over the detections
//   combined           the mean of least confidence, margin, entropy, DFL entropy (and flip when
//                      it was computed)
// Diversity: greedy k-center on L2-normalized feature vectors (e.g. global-average-pooled SPPF
// output), started from the highest-scoring candidate.
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "engine/eval/boxes.h"

typedef enum {
    YL_UNC_LEAST_CONFIDENCE = 0,
    YL_UNC_MARGIN,
    YL_UNC_ENTROPY,
    YL_UNC_DFL_ENTROPY,
    YL_UNC_FLIP,
    YL_UNC_COMBINED,
    YL_UNC_RANDOM,  // a seeded random score: the baseline of selection experiments
} yl_unc_strategy;

typedef enum { YL_UNC_AGG_MAX = 0, YL_UNC_AGG_MEAN, YL_UNC_AGG_SUM } yl_unc_aggregate;

// "least_confidence", "margin", "entropy", "dfl_entropy", "flip", "combined", "random".
bool yl_unc_strategy_parse(const char *text, yl_unc_strategy *out);
const char *yl_unc_strategy_name(yl_unc_strategy strategy);
// "max", "mean", "sum".
bool yl_unc_aggregate_parse(const char *text, yl_unc_aggregate *out);
const char *yl_unc_aggregate_name(yl_unc_aggregate aggregate);

// ---- per detection -------------------------------------------------------------------------------
// probs[c * stride] for c < nc (stride 1 for a plain array; A for a column of a (4 + nc, A) output).
double yl_unc_least_confidence(const float *probs, int64_t stride, int nc);
double yl_unc_margin(const float *probs, int64_t stride, int nc);
// Binary entropy of p in bits (so in [0, 1]); p outside [0, 1] is clamped.
double yl_unc_binary_entropy(double p);
// Entropy of softmax(logits[i * stride], i < n) divided by ln n (in [0, 1]); n >= 2.
double yl_unc_softmax_entropy(const float *logits, int64_t stride, int n);
// Mean of yl_unc_softmax_entropy over the 4 sides; side s, bin i at logits[(s * reg_max + i) * stride].
double yl_unc_dfl_entropy(const float *logits, int64_t stride, int reg_max);

typedef struct {
    double least_confidence, margin, entropy, dfl_entropy;
} yl_unc_detection;

// All four for one anchor: its class probabilities (stride as above) and its DFL logits.
yl_unc_detection yl_unc_score_detection(const float *probs, int64_t prob_stride, int nc, const float *dfl,
                                        int64_t dfl_stride, int reg_max);

// ---- per image -----------------------------------------------------------------------------------
// The largest class probability over `anchors` anchors: scores[c * class_stride + a * anchor_stride].
float yl_unc_max_score(const float *scores, int nc, int64_t anchors, int64_t class_stride, int64_t anchor_stride);
// max_score / conf clamped to [0, 1] (conf <= 0: max_score).
double yl_unc_near_miss(float max_score, float conf);

// Mirrors xyxy boxes about the vertical axis of an image `width` pixels wide (x -> width - x).
void yl_unc_mirror_detections(yl_detection *dets, int64_t n, float width);
// 1 - mean best same-class IoU, as above. `b` must already be in `a`'s coordinates.
double yl_unc_flip_inconsistency(const yl_detection *a, int64_t na, const yl_detection *b, int64_t nb);

// n values -> one; n == 0 gives 0.
double yl_unc_aggregate_values(const double *values, int n, yl_unc_aggregate how);

typedef struct {
    int detections;
    // Aggregated over the detections; every one equals near_miss when there is none.
    double least_confidence, margin, entropy, dfl_entropy;
    double flip;       // < 0 when not computed
    double near_miss;  // 0 when there are detections
} yl_unc_image;

// Aggregates n per-detection scores (n may be 0: then the near-miss score stands in); flip < 0
// when it was not computed.
void yl_unc_image_aggregate(const yl_unc_detection *dets, int n, yl_unc_aggregate how, double near_miss,
                            double flip, yl_unc_image *out);
// The image's score for a strategy (YL_UNC_RANDOM is not computed here: 0). For YL_UNC_FLIP
// without a computed flip the near-miss score. An image without detections scores at least its
// near-miss score under every strategy.
double yl_unc_image_score(const yl_unc_image *image, yl_unc_strategy strategy);

// ---- diversity -----------------------------------------------------------------------------------
// v /= |v| (a zero vector stays zero).
void yl_unc_l2_normalize(float *v, int dim);
// Greedy k-center over n points (rows of `dim` floats): first the highest score (lowest index on
// ties), then repeatedly the point farthest (Euclidean) from every point chosen so far (ties: the
// higher score, then the lower index). Writes min(k, n) indices to `selected` in pick order and
// returns that count; -1 when out of memory.
int yl_unc_kcenter(const float *points, int n, int dim, const double *scores, int k, int *selected);
