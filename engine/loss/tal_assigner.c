#include "engine/loss/tal_assigner.h"

#include <math.h>
#include <string.h>

#include "engine/loss/box_iou.h"

yl_tal_params yl_tal_default_params(void) { return (yl_tal_params){.topk = 10, .alpha = 0.5f, .beta = 6.0f, .eps = 1e-9f}; }

// torch's pow with a scalar exponent takes a sqrt for 0.5; other exponents go through pow.
static float power(float x, float exponent) {
    if (exponent == 0.5f) return sqrtf(x);
    if (exponent == 1.0f) return x;
    return powf(x, exponent);
}

// Ultralytics' mask_gt: a row whose coordinates sum to 0 is padding.
static int is_real_gt(const float *box) { return box[0] + box[1] + box[2] + box[3] > 0.0f; }

static int anchor_in_box(const float *anchor, const float *box, float eps) {
    float d = fminf(fminf(anchor[0] - box[0], anchor[1] - box[1]), fminf(box[2] - anchor[0], box[3] - anchor[1]));
    return d > eps;
}

// Indices of the k largest values, larger first, equal values by lower index (see the header).
static void select_topk(const float *values, int n, int k, int *top) {
    int count = 0;
    for (int a = 0; a < n; a++) {
        float v = values[a];
        if (count == k && !(v > values[top[k - 1]])) continue;
        int p = count < k ? count++ : k - 1;
        while (p > 0 && values[top[p - 1]] < v) {
            top[p] = top[p - 1];
            p--;
        }
        top[p] = a;
    }
}

// Overlaps, align metrics and the top-k positives of GT j; mask_pos ends as in_topk & in_gt & real.
static void score_gt(const yl_tal_params *params, const yl_tal_image *img, const yl_tal_scratch *scratch, int j) {
    int A = img->num_anchors;
    const float *gt = img->gt_boxes + 4 * j;
    float *overlaps = scratch->overlaps + (size_t)j * A, *align = scratch->align + (size_t)j * A;
    unsigned char *mask = scratch->mask_pos + (size_t)j * A;
    int real = is_real_gt(gt);
    const float *scores = img->scores + (size_t)img->gt_labels[j] * A;
    for (int a = 0; a < A; a++) {
        mask[a] = (unsigned char)anchor_in_box(img->anchor_points + 2 * a, gt, params->eps);
        overlaps[a] = align[a] = 0.0f;
        if (mask[a] && real) {
            overlaps[a] = fmaxf(yl_box_ciou(gt, img->pred_boxes + 4 * a), 0.0f);
            align[a] = power(scores[a], params->alpha) * power(overlaps[a], params->beta);
        }
    }
    if (!real) {
        memset(mask, 0, (size_t)A);
        return;
    }
    int k = params->topk < A ? params->topk : A;
    int top[YL_TAL_MAX_TOPK];
    select_topk(align, A, k, top);
    for (int i = 0; i < k; i++)
        if (mask[top[i]]) mask[top[i]] = 2;
    for (int a = 0; a < A; a++) mask[a] = mask[a] == 2;
}

// An anchor claimed by several GTs goes to the GT it overlaps most, the argmax running over every GT
// of the image (first on ties), even one that did not claim it.
static void resolve_conflicts(const yl_tal_image *img, const yl_tal_scratch *scratch) {
    int A = img->num_anchors, M = img->num_gt;
    for (int a = 0; a < A; a++) {
        int claims = 0;
        for (int j = 0; j < M; j++) claims += scratch->mask_pos[(size_t)j * A + a];
        if (claims <= 1) continue;
        int best = 0;
        for (int j = 1; j < M; j++)
            if (scratch->overlaps[(size_t)j * A + a] > scratch->overlaps[(size_t)best * A + a]) best = j;
        for (int j = 0; j < M; j++) scratch->mask_pos[(size_t)j * A + a] = (unsigned char)(j == best);
    }
}

void yl_tal_assign(const yl_tal_params *params, const yl_tal_image *img, const yl_tal_scratch *scratch,
                   const yl_tal_result *result) {
    int A = img->num_anchors, M = img->num_gt;
    memset(result->fg, 0, (size_t)A);
    memset(result->gt_index, 0, (size_t)A * sizeof *result->gt_index);
    memset(result->target_score, 0, (size_t)A * sizeof *result->target_score);
    if (M == 0) return;

    for (int j = 0; j < M; j++) score_gt(params, img, scratch, j);
    resolve_conflicts(img, scratch);

    for (int j = M - 1; j >= 0; j--) {  // backwards, so the lowest GT index wins gt_index as argmax does
        const unsigned char *mask = scratch->mask_pos + (size_t)j * A;
        for (int a = 0; a < A; a++)
            if (mask[a]) {
                result->fg[a] = 1;
                result->gt_index[a] = j;
            }
    }
    // Soft targets: each GT's positives get align / max(align) scaled by the GT's best overlap.
    for (int j = 0; j < M; j++) {
        const unsigned char *mask = scratch->mask_pos + (size_t)j * A;
        const float *overlaps = scratch->overlaps + (size_t)j * A, *align = scratch->align + (size_t)j * A;
        float align_max = 0.0f, overlap_max = 0.0f;
        for (int a = 0; a < A; a++)
            if (mask[a]) {
                align_max = fmaxf(align_max, align[a]);
                overlap_max = fmaxf(overlap_max, overlaps[a]);
            }
        for (int a = 0; a < A; a++)
            if (mask[a]) result->target_score[a] = align[a] * overlap_max / (align_max + params->eps);
    }
}
