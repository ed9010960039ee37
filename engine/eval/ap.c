#include "ap.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "numeric.h"

#define SMOOTH_WIDTH 101  // smooth(f1, 0.1): round(1000 * 0.1 * 2) // 2 + 1

double yl_compute_ap(const double *recall, const double *precision, int64_t n, double *mrec, double *mpre) {
    mrec[0] = 0.0;
    mpre[0] = 1.0;
    for (int64_t i = 0; i < n; i++) {
        mrec[i + 1] = recall[i];
        mpre[i + 1] = precision[i];
    }
    mrec[n + 1] = 1.0;
    mpre[n + 1] = 0.0;
    for (int64_t i = n; i >= 0; i--)
        if (mpre[i + 1] > mpre[i]) mpre[i] = mpre[i + 1];

    double x[YL_EVAL_AP_POINTS], y[YL_EVAL_AP_POINTS], scratch[YL_EVAL_AP_POINTS];
    yl_np_linspace(x, YL_EVAL_AP_POINTS, 0.0, 1.0);
    for (int i = 0; i < YL_EVAL_AP_POINTS; i++) y[i] = yl_np_interp(x[i], mrec, mpre, n + 2, mpre[0], mpre[n + 1]);
    return yl_np_trapz(y, x, YL_EVAL_AP_POINTS, scratch);
}

typedef struct {
    float conf;
    int64_t index;
} ranked;

// np.argsort(-conf): descending confidence; equal ones keep their order.
static int by_conf_descending(const void *pa, const void *pb) {
    const ranked *a = pa, *b = pb;
    if (a->conf > b->conf) return -1;
    if (a->conf < b->conf) return 1;
    return (a->index > b->index) - (a->index < b->index);
}

typedef struct {
    ranked *order;        // n_pred
    int64_t *members;     // n_pred: sorted positions of one class
    double *recall;       // 10 columns of n_pred
    double *precision;    // 10 columns of n_pred
    double *neg_conf;     // n_pred
    double *mrec, *mpre;  // n_pred + 2
    double *gather;       // nc * 10
} ap_scratch;

static void free_scratch(ap_scratch *s) {
    free(s->order);
    free(s->members);
    free(s->recall);
    free(s->precision);
    free(s->neg_conf);
    free(s->mrec);
    free(s->mpre);
    free(s->gather);
}

static yl_status alloc_scratch(ap_scratch *s, int64_t n_pred, int nc) {
    size_t n = (size_t)(n_pred > 0 ? n_pred : 1);
    memset(s, 0, sizeof *s);
    s->order = malloc(n * sizeof *s->order);
    s->members = malloc(n * sizeof *s->members);
    s->recall = malloc(n * YL_EVAL_IOU_COUNT * sizeof(double));
    s->precision = malloc(n * YL_EVAL_IOU_COUNT * sizeof(double));
    s->neg_conf = malloc(n * sizeof(double));
    s->mrec = malloc((n + 2) * sizeof(double));
    s->mpre = malloc((n + 2) * sizeof(double));
    s->gather = malloc((size_t)(nc > 0 ? nc : 1) * YL_EVAL_IOU_COUNT * sizeof(double));
    if (!s->order || !s->members || !s->recall || !s->precision || !s->neg_conf || !s->mrec || !s->mpre ||
        !s->gather) {
        free_scratch(s);
        return yl_error(YL_ERR_OOM, "ap_per_class: no memory for %lld predictions", (long long)n_pred);
    }
    return YL_OK;
}

// One class's AP row and curves from its predictions (sorted positions in s->members).
static void evaluate_class(const ap_scratch *s, const yl_tp_mask *tp, const float *conf, int64_t n_p, int64_t n_l,
                           int c, yl_ap_results *out) {
    for (int j = 0; j < YL_EVAL_IOU_COUNT; j++) {
        int64_t tpc = 0, fpc = 0;
        double *recall = s->recall + (size_t)j * (size_t)n_p, *precision = s->precision + (size_t)j * (size_t)n_p;
        for (int64_t k = 0; k < n_p; k++) {
            int64_t i = s->order[s->members[k]].index;
            if (tp[i] >> j & 1u)
                tpc++;
            else
                fpc++;
            recall[k] = (double)tpc / ((double)n_l + 1e-16);
            precision[k] = (double)tpc / (double)(tpc + fpc);
        }
    }
    for (int64_t k = 0; k < n_p; k++) s->neg_conf[k] = -(double)conf[s->order[s->members[k]].index];
    double *p_row = out->p_curve + (size_t)c * YL_EVAL_CURVE_POINTS;
    double *r_row = out->r_curve + (size_t)c * YL_EVAL_CURVE_POINTS;
    for (int i = 0; i < YL_EVAL_CURVE_POINTS; i++) {
        double x = -out->px[i];
        r_row[i] = yl_np_interp(x, s->neg_conf, s->recall, n_p, 0.0, s->recall[n_p - 1]);
        p_row[i] = yl_np_interp(x, s->neg_conf, s->precision, n_p, 1.0, s->precision[n_p - 1]);
    }
    for (int j = 0; j < YL_EVAL_IOU_COUNT; j++) {
        out->ap[(size_t)c * YL_EVAL_IOU_COUNT + j] =
            yl_compute_ap(s->recall + (size_t)j * (size_t)n_p, s->precision + (size_t)j * (size_t)n_p, n_p, s->mrec,
                          s->mpre);
        if (j == 0) {
            double *pr_row = out->pr_curve + (size_t)c * YL_EVAL_CURVE_POINTS;
            for (int i = 0; i < YL_EVAL_CURVE_POINTS; i++)
                pr_row[i] = yl_np_interp(out->px[i], s->mrec, s->mpre, n_p + 2, s->mpre[0], s->mpre[n_p + 1]);
        }
    }
}

// smooth(mean F1, 0.1).argmax(): a box filter of width 101 over the curve padded with its end
// values, then the first maximum.
static int64_t best_smoothed_index(const double *mean_f1) {
    const int half = SMOOTH_WIDTH / 2;
    const double weight = 1.0 / SMOOTH_WIDTH;  // np.ones(101) / 101
    double padded[YL_EVAL_CURVE_POINTS + SMOOTH_WIDTH - 1];
    for (int i = 0; i < half; i++) {
        padded[i] = mean_f1[0];
        padded[half + YL_EVAL_CURVE_POINTS + i] = mean_f1[YL_EVAL_CURVE_POINTS - 1];
    }
    memcpy(padded + half, mean_f1, sizeof(double) * YL_EVAL_CURVE_POINTS);
    int64_t best = 0;
    double best_value = -INFINITY;
    for (int i = 0; i < YL_EVAL_CURVE_POINTS; i++) {
        double sum = 0.0;
        for (int k = 0; k < SMOOTH_WIDTH; k++) sum += padded[i + k] * weight;
        if (isnan(sum)) return i;  // np.argmax stops at the first NaN
        if (sum > best_value) {
            best_value = sum;
            best = i;
        }
    }
    return best;
}

yl_status yl_ap_per_class(const yl_tp_mask *tp, const float *conf, const int32_t *pred_cls, int64_t n_pred,
                          const int64_t *nt, int nc, yl_ap_results *out) {
    ap_scratch s;
    YL_TRY(alloc_scratch(&s, n_pred, nc));
    size_t rows = (size_t)nc;
    memset(out->ap, 0, rows * YL_EVAL_IOU_COUNT * sizeof(double));
    memset(out->p, 0, rows * sizeof(double));
    memset(out->r, 0, rows * sizeof(double));
    memset(out->f1, 0, rows * sizeof(double));
    memset(out->p_curve, 0, rows * YL_EVAL_CURVE_POINTS * sizeof(double));
    memset(out->r_curve, 0, rows * YL_EVAL_CURVE_POINTS * sizeof(double));
    memset(out->f1_curve, 0, rows * YL_EVAL_CURVE_POINTS * sizeof(double));
    memset(out->pr_curve, 0, rows * YL_EVAL_CURVE_POINTS * sizeof(double));
    yl_np_linspace(out->px, YL_EVAL_CURVE_POINTS, 0.0, 1.0);

    for (int64_t i = 0; i < n_pred; i++) s.order[i] = (ranked){.conf = conf[i], .index = i};
    qsort(s.order, (size_t)n_pred, sizeof *s.order, by_conf_descending);

    int classes = 0;
    for (int c = 0; c < nc; c++) {
        if (nt[c] <= 0) continue;
        classes++;
        int64_t n_p = 0;
        for (int64_t k = 0; k < n_pred; k++)
            if (pred_cls[s.order[k].index] == c) s.members[n_p++] = k;
        if (n_p == 0) continue;
        evaluate_class(&s, tp, conf, n_p, nt[c], c, out);
    }

    // F1 over the classes with GT, their mean (summed row after row, as numpy reduces axis 0), the
    // confidence where the smoothed mean peaks, and P, R, F1 of every class there.
    double mean_f1[YL_EVAL_CURVE_POINTS] = {0};
    for (int c = 0; c < nc; c++) {
        if (nt[c] <= 0) continue;
        const double *p = out->p_curve + (size_t)c * YL_EVAL_CURVE_POINTS;
        const double *r = out->r_curve + (size_t)c * YL_EVAL_CURVE_POINTS;
        double *f1 = out->f1_curve + (size_t)c * YL_EVAL_CURVE_POINTS;
        for (int i = 0; i < YL_EVAL_CURVE_POINTS; i++) {
            f1[i] = 2.0 * p[i] * r[i] / (p[i] + r[i] + 1e-16);
            mean_f1[i] += f1[i];
        }
    }
    out->classes = classes;
    out->mp = out->mr = out->map50 = out->map75 = out->map = 0.0;
    out->best_index = 0;
    out->best_conf = 0.0;
    if (classes > 0) {
        for (int i = 0; i < YL_EVAL_CURVE_POINTS; i++) mean_f1[i] /= (double)classes;
        int64_t b = best_smoothed_index(mean_f1);
        out->best_index = b;
        out->best_conf = out->px[b];
        for (int c = 0; c < nc; c++) {
            if (nt[c] <= 0) continue;
            out->p[c] = out->p_curve[(size_t)c * YL_EVAL_CURVE_POINTS + b];
            out->r[c] = out->r_curve[(size_t)c * YL_EVAL_CURVE_POINTS + b];
            out->f1[c] = out->f1_curve[(size_t)c * YL_EVAL_CURVE_POINTS + b];
        }
        // Means over the evaluated classes in class order, summed the way numpy sums them.
        int n = 0;
        for (int c = 0; c < nc; c++)
            if (nt[c] > 0) s.gather[n++] = out->p[c];
        out->mp = yl_np_mean(s.gather, n);
        n = 0;
        for (int c = 0; c < nc; c++)
            if (nt[c] > 0) s.gather[n++] = out->r[c];
        out->mr = yl_np_mean(s.gather, n);
        n = 0;
        for (int c = 0; c < nc; c++)
            if (nt[c] > 0) s.gather[n++] = out->ap[(size_t)c * YL_EVAL_IOU_COUNT];
        out->map50 = yl_np_mean(s.gather, n);
        n = 0;
        for (int c = 0; c < nc; c++)
            if (nt[c] > 0) s.gather[n++] = out->ap[(size_t)c * YL_EVAL_IOU_COUNT + 5];
        out->map75 = yl_np_mean(s.gather, n);
        n = 0;
        for (int c = 0; c < nc; c++)
            if (nt[c] > 0)
                for (int j = 0; j < YL_EVAL_IOU_COUNT; j++) s.gather[n++] = out->ap[(size_t)c * YL_EVAL_IOU_COUNT + j];
        out->map = yl_np_mean(s.gather, n);
    }
    free_scratch(&s);
    return YL_OK;
}
