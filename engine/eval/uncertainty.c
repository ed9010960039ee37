#include "engine/eval/uncertainty.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *const strategy_names[] = {"least_confidence", "margin", "entropy", "dfl_entropy",
                                             "flip",             "combined", "random"};
static const char *const aggregate_names[] = {"max", "mean", "sum"};

bool yl_unc_strategy_parse(const char *text, yl_unc_strategy *out) {
    for (int i = 0; text && i < (int)(sizeof strategy_names / sizeof *strategy_names); i++)
        if (!strcmp(text, strategy_names[i])) {
            *out = (yl_unc_strategy)i;
            return true;
        }
    return false;
}

const char *yl_unc_strategy_name(yl_unc_strategy strategy) {
    return (unsigned)strategy < sizeof strategy_names / sizeof *strategy_names ? strategy_names[strategy] : "?";
}

bool yl_unc_aggregate_parse(const char *text, yl_unc_aggregate *out) {
    for (int i = 0; text && i < 3; i++)
        if (!strcmp(text, aggregate_names[i])) {
            *out = (yl_unc_aggregate)i;
            return true;
        }
    return false;
}

const char *yl_unc_aggregate_name(yl_unc_aggregate aggregate) {
    return (unsigned)aggregate < 3 ? aggregate_names[aggregate] : "?";
}

static double clamp01(double v) {
    if (!(v >= 0.0)) return 0.0;
    return v > 1.0 ? 1.0 : v;
}

// The two largest probabilities.
static void top_two(const float *probs, int64_t stride, int nc, double *p1, double *p2) {
    double a = 0.0, b = 0.0;
    for (int c = 0; c < nc; c++) {
        double p = clamp01(probs[(int64_t)c * stride]);
        if (p > a) {
            b = a;
            a = p;
        } else if (p > b) {
            b = p;
        }
    }
    *p1 = a;
    *p2 = nc == 1 ? 1.0 - a : b;
}

double yl_unc_least_confidence(const float *probs, int64_t stride, int nc) {
    double p1, p2;
    top_two(probs, stride, nc, &p1, &p2);
    return 1.0 - p1;
}

double yl_unc_margin(const float *probs, int64_t stride, int nc) {
    double p1, p2;
    top_two(probs, stride, nc, &p1, &p2);
    // With one class, p2 = 1 - p1 may exceed p1: the margin is their distance either way.
    return clamp01(1.0 - fabs(p1 - p2));
}

double yl_unc_binary_entropy(double p) {
    p = clamp01(p);
    if (p <= 0.0 || p >= 1.0) return 0.0;
    return -(p * log(p) + (1.0 - p) * log(1.0 - p)) / log(2.0);
}

double yl_unc_softmax_entropy(const float *logits, int64_t stride, int n) {
    if (n < 2) return 0.0;
    double max = -DBL_MAX;
    for (int i = 0; i < n; i++) max = fmax(max, (double)logits[(int64_t)i * stride]);
    double sum = 0.0, weighted = 0.0;  // H = log Z - sum(e_i * z_i) / Z with z_i = x_i - max
    for (int i = 0; i < n; i++) {
        double z = (double)logits[(int64_t)i * stride] - max, e = exp(z);
        sum += e;
        weighted += e * z;
    }
    return clamp01((log(sum) - weighted / sum) / log((double)n));
}

double yl_unc_dfl_entropy(const float *logits, int64_t stride, int reg_max) {
    double total = 0.0;
    for (int side = 0; side < 4; side++)
        total += yl_unc_softmax_entropy(logits + (int64_t)side * reg_max * stride, stride, reg_max);
    return total / 4.0;
}

yl_unc_detection yl_unc_score_detection(const float *probs, int64_t prob_stride, int nc, const float *dfl,
                                        int64_t dfl_stride, int reg_max) {
    double p1, p2;
    top_two(probs, prob_stride, nc, &p1, &p2);
    yl_unc_detection d = {
        .least_confidence = 1.0 - p1,
        .margin = clamp01(1.0 - fabs(p1 - p2)),
        .entropy = yl_unc_binary_entropy(p1),
        .dfl_entropy = dfl ? yl_unc_dfl_entropy(dfl, dfl_stride, reg_max) : 0.0,
    };
    return d;
}

float yl_unc_max_score(const float *scores, int nc, int64_t anchors, int64_t class_stride, int64_t anchor_stride) {
    float best = 0.0f;
    for (int c = 0; c < nc; c++)
        for (int64_t a = 0; a < anchors; a++) {
            float s = scores[c * class_stride + a * anchor_stride];
            if (s > best) best = s;
        }
    return best;
}

double yl_unc_near_miss(float max_score, float conf) {
    return conf > 0.0f ? clamp01((double)max_score / conf) : clamp01(max_score);
}

void yl_unc_mirror_detections(yl_detection *dets, int64_t n, float width) {
    for (int64_t i = 0; i < n; i++) {
        float x1 = dets[i].x1, x2 = dets[i].x2;
        dets[i].x1 = width - x2;
        dets[i].x2 = width - x1;
    }
}

// Sum over `from` of each detection's best IoU with a same-class detection of `to`.
static double best_iou_sum(const yl_detection *from, int64_t nf, const yl_detection *to, int64_t nt) {
    double sum = 0.0;
    for (int64_t i = 0; i < nf; i++) {
        const float a[4] = {from[i].x1, from[i].y1, from[i].x2, from[i].y2};
        float best = 0.0f;
        for (int64_t j = 0; j < nt; j++) {
            if (to[j].cls != from[i].cls) continue;
            const float b[4] = {to[j].x1, to[j].y1, to[j].x2, to[j].y2};
            float iou = yl_box_iou(a, b);
            if (iou > best) best = iou;
        }
        sum += best;
    }
    return sum;
}

double yl_unc_flip_inconsistency(const yl_detection *a, int64_t na, const yl_detection *b, int64_t nb) {
    if (na + nb == 0) return 0.0;
    double mean = (best_iou_sum(a, na, b, nb) + best_iou_sum(b, nb, a, na)) / (double)(na + nb);
    return clamp01(1.0 - mean);
}

double yl_unc_aggregate_values(const double *values, int n, yl_unc_aggregate how) {
    if (n <= 0) return 0.0;
    double sum = 0.0, max = values[0];
    for (int i = 0; i < n; i++) {
        sum += values[i];
        if (values[i] > max) max = values[i];
    }
    switch (how) {
    case YL_UNC_AGG_MAX: return max;
    case YL_UNC_AGG_MEAN: return sum / n;
    case YL_UNC_AGG_SUM: return sum;
    }
    return max;
}

void yl_unc_image_aggregate(const yl_unc_detection *dets, int n, yl_unc_aggregate how, double near_miss,
                            double flip, yl_unc_image *out) {
    memset(out, 0, sizeof *out);
    out->detections = n > 0 ? n : 0;
    out->flip = flip;
    if (n <= 0) {
        out->near_miss = near_miss;
        out->least_confidence = out->margin = out->entropy = out->dfl_entropy = near_miss;
        return;
    }
    double *fields[4] = {&out->least_confidence, &out->margin, &out->entropy, &out->dfl_entropy};
    for (int f = 0; f < 4; f++) {
        double max = 0.0, sum = 0.0;
        for (int i = 0; i < n; i++) {
            const double x = f == 0 ? dets[i].least_confidence
                             : f == 1 ? dets[i].margin
                             : f == 2 ? dets[i].entropy
                                      : dets[i].dfl_entropy;
            sum += x;
            if (i == 0 || x > max) max = x;
        }
        *fields[f] = how == YL_UNC_AGG_MEAN ? sum / n : how == YL_UNC_AGG_SUM ? sum : max;
    }
}

double yl_unc_image_score(const yl_unc_image *im, yl_unc_strategy strategy) {
    const double flip = im->flip >= 0.0 ? fmax(im->flip, im->detections ? 0.0 : im->near_miss) : -1.0;
    switch (strategy) {
    case YL_UNC_LEAST_CONFIDENCE: return im->least_confidence;
    case YL_UNC_MARGIN: return im->margin;
    case YL_UNC_ENTROPY: return im->entropy;
    case YL_UNC_DFL_ENTROPY: return im->dfl_entropy;
    case YL_UNC_FLIP: return flip >= 0.0 ? flip : im->near_miss;
    case YL_UNC_COMBINED: {
        double sum = im->least_confidence + im->margin + im->entropy + im->dfl_entropy;
        return flip >= 0.0 ? (sum + flip) / 5.0 : sum / 4.0;
    }
    case YL_UNC_RANDOM: return 0.0;
    }
    return 0.0;
}

void yl_unc_l2_normalize(float *v, int dim) {
    double s = 0.0;
    for (int i = 0; i < dim; i++) s += (double)v[i] * v[i];
    if (s <= 0.0) return;
    const double inv = 1.0 / sqrt(s);
    for (int i = 0; i < dim; i++) v[i] = (float)(v[i] * inv);
}

static double squared_distance(const float *a, const float *b, int dim) {
    double s = 0.0;
    for (int i = 0; i < dim; i++) {
        const double d = (double)a[i] - b[i];
        s += d * d;
    }
    return s;
}

int yl_unc_kcenter(const float *points, int n, int dim, const double *scores, int k, int *selected) {
    if (n <= 0 || k <= 0) return 0;
    if (k > n) k = n;
    double *nearest = malloc((size_t)n * sizeof *nearest);  // squared distance to the chosen set
    bool *taken = calloc((size_t)n, sizeof *taken);
    if (!nearest || !taken) {
        free(nearest);
        free(taken);
        return -1;
    }
    int first = 0;
    for (int i = 1; i < n; i++)
        if (scores[i] > scores[first]) first = i;
    for (int i = 0; i < n; i++) nearest[i] = DBL_MAX;
    int count = 0, pick = first;
    while (1) {
        selected[count++] = pick;
        taken[pick] = true;
        if (count == k) break;
        for (int i = 0; i < n; i++) {
            if (taken[i]) continue;
            const double d = squared_distance(points + (size_t)i * dim, points + (size_t)pick * dim, dim);
            if (d < nearest[i]) nearest[i] = d;
        }
        pick = -1;
        for (int i = 0; i < n; i++) {
            if (taken[i]) continue;
            if (pick < 0 || nearest[i] > nearest[pick] || (nearest[i] == nearest[pick] && scores[i] > scores[pick]))
                pick = i;
        }
    }
    free(nearest);
    free(taken);
    return count;
}
