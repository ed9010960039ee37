// A naive double-precision YOLOv8 forward for tests, written from the spec (yolov8.md §1.3-1.4)
// independently of engine/model: plain loops, parameters looked up by state_dict name.
// Header-only: included by the one test that uses it.
#pragma once
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/model/model.h"

typedef struct {
    int n, c, h, w;
    double *d;
} ref_tensor;

static ref_tensor ref_new(int n, int c, int h, int w) {
    ref_tensor t = {n, c, h, w, calloc((size_t)n * c * h * w, sizeof(double))};
    if (!t.d) {
        fprintf(stderr, "reference: out of memory\n");
        exit(2);
    }
    return t;
}

static void ref_free(ref_tensor *t) {
    free(t->d);
    t->d = NULL;
}

static inline double *ref_at(const ref_tensor *t, int n, int c, int y, int x) {
    return &t->d[(((size_t)n * t->c + c) * t->h + y) * t->w + x];
}

typedef struct {
    yl_model *model;
    bool training;  // BN with batch statistics (biased variance), else running statistics
    // Convs (state_dict prefixes) whose activation is Identity instead of SiLU; none when NULL.
    const char *const *identity_convs;
    int identity_count;
} ref_context;

static bool ref_is_identity(const ref_context *ctx, const char *name) {
    for (int i = 0; i < ctx->identity_count; i++)
        if (!strcmp(ctx->identity_convs[i], name)) return true;
    return false;
}

static const float *ref_param(ref_context *ctx, const char *name, const char *suffix, int64_t *shape) {
    char full[128];
    snprintf(full, sizeof full, "%s%s", name, suffix);
    yl_state_entry *e = yl_model_state_find(ctx->model, full);
    if (!e) {
        fprintf(stderr, "reference: no state entry '%s'\n", full);
        exit(2);
    }
    if (shape)
        for (int d = 0; d < e->value.ndim; d++) shape[d] = e->value.shape[d];
    return e->value.data;
}

static bool ref_has(ref_context *ctx, const char *name) { return yl_model_state_find(ctx->model, name) != NULL; }

// Conv2d with "same" padding k/2, optional bias. Loops ordered so the innermost runs along an
// output row (the finite-difference checks run this forward hundreds of times).
static ref_tensor ref_conv2d(const ref_tensor *x, const float *w, const float *bias, int cout, int k, int stride) {
    int pad = k / 2;
    int ho = (x->h + 2 * pad - k) / stride + 1, wo = (x->w + 2 * pad - k) / stride + 1;
    ref_tensor y = ref_new(x->n, cout, ho, wo);
    for (int n = 0; n < x->n; n++)
        for (int o = 0; o < cout; o++) {
            double *yp = ref_at(&y, n, o, 0, 0);
            for (int p = 0; p < ho * wo; p++) yp[p] = bias ? bias[o] : 0.0;
            for (int c = 0; c < x->c; c++) {
                const double *xp = ref_at(x, n, c, 0, 0);
                if (k == 1 && stride == 1) {  // a whole plane at once
                    double wv = w[o * x->c + c];
                    for (int p = 0; p < ho * wo; p++) yp[p] += wv * xp[p];
                    continue;
                }
                for (int ky = 0; ky < k; ky++)
                    for (int kx = 0; kx < k; kx++) {
                        double wv = w[((o * x->c + c) * k + ky) * k + kx];
                        // Output columns j whose input column j * stride - pad + kx is inside.
                        int j0 = 0, j1 = wo;
                        while (j0 < wo && j0 * stride - pad + kx < 0) j0++;
                        while (j1 > j0 && (j1 - 1) * stride - pad + kx >= x->w) j1--;
                        for (int i = 0; i < ho; i++) {
                            int yy = i * stride - pad + ky;
                            if (yy < 0 || yy >= x->h) continue;
                            const double *xrow = xp + (size_t)yy * x->w - pad + kx;
                            double *yrow = yp + (size_t)i * wo;
                            for (int j = j0; j < j1; j++) yrow[j] += wv * xrow[j * stride];
                        }
                    }
            }
        }
    return y;
}

// Conv = conv (no bias) -> BN -> SiLU (or Identity); `name` is the state_dict prefix ("model.2.m.0.cv1").
static ref_tensor ref_conv_block(ref_context *ctx, const char *name, const ref_tensor *x, int stride) {
    int64_t shape[4];
    const float *w = ref_param(ctx, name, ".conv.weight", shape);
    const float *gamma = ref_param(ctx, name, ".bn.weight", NULL);
    const float *beta = ref_param(ctx, name, ".bn.bias", NULL);
    const float *rmean = ref_param(ctx, name, ".bn.running_mean", NULL);
    const float *rvar = ref_param(ctx, name, ".bn.running_var", NULL);
    ref_tensor y = ref_conv2d(x, w, NULL, (int)shape[0], (int)shape[2], stride);
    bool identity = ref_is_identity(ctx, name);
    size_t plane = (size_t)y.h * y.w;
    double count = (double)y.n * plane;
    for (int c = 0; c < y.c; c++) {
        double mean, var;
        if (ctx->training) {
            double s = 0.0, s2 = 0.0;
            for (int n = 0; n < y.n; n++)
                for (size_t p = 0; p < plane; p++) s += ref_at(&y, n, c, 0, 0)[p];
            mean = s / count;
            for (int n = 0; n < y.n; n++)
                for (size_t p = 0; p < plane; p++) {
                    double dlt = ref_at(&y, n, c, 0, 0)[p] - mean;
                    s2 += dlt * dlt;
                }
            var = s2 / count;
        } else {
            mean = rmean[c];
            var = rvar[c];
        }
        double scale = gamma[c] / sqrt(var + 1e-3);
        for (int n = 0; n < y.n; n++)
            for (size_t p = 0; p < plane; p++) {
                double *v = &ref_at(&y, n, c, 0, 0)[p];
                double b = (*v - mean) * scale + beta[c];
                *v = identity ? b : b / (1.0 + exp(-b));
            }
    }
    return y;
}

static ref_tensor ref_concat(const ref_tensor *parts, int count) {
    int channels = 0;
    for (int i = 0; i < count; i++) channels += parts[i].c;
    ref_tensor y = ref_new(parts[0].n, channels, parts[0].h, parts[0].w);
    size_t plane = (size_t)y.h * y.w;
    for (int n = 0; n < y.n; n++) {
        int offset = 0;
        for (int i = 0; i < count; i++) {
            memcpy(ref_at(&y, n, offset, 0, 0), ref_at(&parts[i], n, 0, 0, 0), parts[i].c * plane * sizeof(double));
            offset += parts[i].c;
        }
    }
    return y;
}

static ref_tensor ref_channels(const ref_tensor *x, int first, int count) {
    ref_tensor y = ref_new(x->n, count, x->h, x->w);
    size_t plane = (size_t)x->h * x->w;
    for (int n = 0; n < x->n; n++)
        memcpy(ref_at(&y, n, 0, 0, 0), ref_at(x, n, first, 0, 0), count * plane * sizeof(double));
    return y;
}

static ref_tensor ref_maxpool5(const ref_tensor *x) {
    ref_tensor y = ref_new(x->n, x->c, x->h, x->w);
    for (int n = 0; n < x->n; n++)
        for (int c = 0; c < x->c; c++)
            for (int i = 0; i < x->h; i++)
                for (int j = 0; j < x->w; j++) {
                    double m = -INFINITY;
                    for (int yy = i - 2; yy <= i + 2; yy++)
                        for (int xx = j - 2; xx <= j + 2; xx++)
                            if (yy >= 0 && yy < x->h && xx >= 0 && xx < x->w && *ref_at(x, n, c, yy, xx) > m)
                                m = *ref_at(x, n, c, yy, xx);
                    *ref_at(&y, n, c, i, j) = m;
                }
    return y;
}

static ref_tensor ref_upsample2(const ref_tensor *x) {
    ref_tensor y = ref_new(x->n, x->c, 2 * x->h, 2 * x->w);
    for (int n = 0; n < x->n; n++)
        for (int c = 0; c < x->c; c++)
            for (int i = 0; i < y.h; i++)
                for (int j = 0; j < y.w; j++) *ref_at(&y, n, c, i, j) = *ref_at(x, n, c, i / 2, j / 2);
    return y;
}

static ref_tensor ref_c2f(ref_context *ctx, int layer, const ref_tensor *x, bool shortcut) {
    char name[96];
    snprintf(name, sizeof name, "model.%d.cv1", layer);
    ref_tensor t = ref_conv_block(ctx, name, x, 1);
    int c = t.c / 2;
    ref_tensor ys[32];
    int count = 0;
    ys[count++] = ref_channels(&t, 0, c);
    ys[count++] = ref_channels(&t, c, c);
    ref_free(&t);
    for (int k = 0;; k++) {
        snprintf(name, sizeof name, "model.%d.m.%d.cv1.conv.weight", layer, k);
        if (!ref_has(ctx, name)) break;
        snprintf(name, sizeof name, "model.%d.m.%d.cv1", layer, k);
        ref_tensor h = ref_conv_block(ctx, name, &ys[count - 1], 1);
        snprintf(name, sizeof name, "model.%d.m.%d.cv2", layer, k);
        ref_tensor o = ref_conv_block(ctx, name, &h, 1);
        ref_free(&h);
        if (shortcut)
            for (size_t i = 0; i < (size_t)o.n * o.c * o.h * o.w; i++) o.d[i] += ys[count - 1].d[i];
        ys[count++] = o;
    }
    ref_tensor cat = ref_concat(ys, count);
    for (int i = 0; i < count; i++) ref_free(&ys[i]);
    snprintf(name, sizeof name, "model.%d.cv2", layer);
    ref_tensor y = ref_conv_block(ctx, name, &cat, 1);
    ref_free(&cat);
    return y;
}

static ref_tensor ref_sppf(ref_context *ctx, int layer, const ref_tensor *x) {
    char name[96];
    snprintf(name, sizeof name, "model.%d.cv1", layer);
    ref_tensor ys[4];
    ys[0] = ref_conv_block(ctx, name, x, 1);
    for (int i = 1; i < 4; i++) ys[i] = ref_maxpool5(&ys[i - 1]);
    ref_tensor cat = ref_concat(ys, 4);
    for (int i = 0; i < 4; i++) ref_free(&ys[i]);
    snprintf(name, sizeof name, "model.%d.cv2", layer);
    ref_tensor y = ref_conv_block(ctx, name, &cat, 1);
    ref_free(&cat);
    return y;
}

static ref_tensor ref_head_branch(ref_context *ctx, const char *branch, int level, const ref_tensor *x) {
    char name[96];
    snprintf(name, sizeof name, "model.22.%s.%d.0", branch, level);
    ref_tensor a = ref_conv_block(ctx, name, x, 1);
    snprintf(name, sizeof name, "model.22.%s.%d.1", branch, level);
    ref_tensor b = ref_conv_block(ctx, name, &a, 1);
    ref_free(&a);
    snprintf(name, sizeof name, "model.22.%s.%d.2", branch, level);
    int64_t shape[4];
    const float *w = ref_param(ctx, name, ".weight", shape);
    const float *bias = ref_param(ctx, name, ".bias", NULL);
    ref_tensor y = ref_conv2d(&b, w, bias, (int)shape[0], 1, 1);
    ref_free(&b);
    return y;
}

static ref_tensor ref_pair(ref_tensor a, ref_tensor b) {
    ref_tensor parts[2] = {a, b};
    return ref_concat(parts, 2);
}

// The YOLOv8 graph of yolov8.yaml; maps[i] = concat(cv2[i](P_i), cv3[i](P_i)).
static void ref_yolov8_forward(ref_context *ctx, const ref_tensor *images, ref_tensor maps[3]) {
    ref_tensor out[22];
    out[0] = ref_conv_block(ctx, "model.0", images, 2);
    out[1] = ref_conv_block(ctx, "model.1", &out[0], 2);
    out[2] = ref_c2f(ctx, 2, &out[1], true);
    out[3] = ref_conv_block(ctx, "model.3", &out[2], 2);
    out[4] = ref_c2f(ctx, 4, &out[3], true);
    out[5] = ref_conv_block(ctx, "model.5", &out[4], 2);
    out[6] = ref_c2f(ctx, 6, &out[5], true);
    out[7] = ref_conv_block(ctx, "model.7", &out[6], 2);
    out[8] = ref_c2f(ctx, 8, &out[7], true);
    out[9] = ref_sppf(ctx, 9, &out[8]);
    out[10] = ref_upsample2(&out[9]);
    out[11] = ref_pair(out[10], out[6]);
    out[12] = ref_c2f(ctx, 12, &out[11], false);
    out[13] = ref_upsample2(&out[12]);
    out[14] = ref_pair(out[13], out[4]);
    out[15] = ref_c2f(ctx, 15, &out[14], false);
    out[16] = ref_conv_block(ctx, "model.16", &out[15], 2);
    out[17] = ref_pair(out[16], out[12]);
    out[18] = ref_c2f(ctx, 18, &out[17], false);
    out[19] = ref_conv_block(ctx, "model.19", &out[18], 2);
    out[20] = ref_pair(out[19], out[9]);
    out[21] = ref_c2f(ctx, 21, &out[20], false);
    const int levels[3] = {15, 18, 21};
    for (int i = 0; i < 3; i++) {
        ref_tensor box = ref_head_branch(ctx, "cv2", i, &out[levels[i]]);
        ref_tensor cls = ref_head_branch(ctx, "cv3", i, &out[levels[i]]);
        maps[i] = ref_pair(box, cls);
        ref_free(&box);
        ref_free(&cls);
    }
    for (int i = 0; i < 22; i++) ref_free(&out[i]);
}
