// Ultralytics' RandomPerspective: the random transform and what it does to boxes.
#include <math.h>

#include "augment.h"
#include "image_warp.h"

#define PI 3.14159265358979323846

static double uniform(yl_rng *rng, double lo, double hi) { return lo + (hi - lo) * (double)yl_rng_uniform(rng); }

void yl_random_perspective_matrix(const yl_augment_options *o, int in_w, int in_h, int out_w, int out_h,
                                  yl_rng *rng, double m[9], double *scale) {
    // Drawn in Ultralytics' order (P, R, S, T) and always drawn, so that switching one range off
    // leaves the other draws alone.
    double p0 = uniform(rng, -o->perspective, o->perspective);
    double p1 = uniform(rng, -o->perspective, o->perspective);
    double angle = uniform(rng, -o->degrees, o->degrees) * PI / 180.0;
    double s = uniform(rng, 1.0 - o->scale, 1.0 + o->scale);
    double shear_x = tan(uniform(rng, -o->shear, o->shear) * PI / 180.0);
    double shear_y = tan(uniform(rng, -o->shear, o->shear) * PI / 180.0);
    double tx = uniform(rng, 0.5 - o->translate, 0.5 + o->translate) * out_w;
    double ty = uniform(rng, 0.5 - o->translate, 0.5 + o->translate) * out_h;

    const double C[9] = {1, 0, -in_w / 2.0, 0, 1, -in_h / 2.0, 0, 0, 1};
    const double P[9] = {1, 0, 0, 0, 1, 0, p0, p1, 1};
    // cv2.getRotationMatrix2D(center=(0, 0), angle, scale): [[a, b, 0], [-b, a, 0]]
    const double a = s * cos(angle), b = s * sin(angle);
    const double R[9] = {a, b, 0, -b, a, 0, 0, 0, 1};
    const double S[9] = {1, shear_x, 0, shear_y, 1, 0, 0, 0, 1};
    const double T[9] = {1, 0, tx, 0, 1, ty, 0, 0, 1};
    double pc[9], rpc[9], srpc[9];
    yl_matrix3_multiply(P, C, pc);
    yl_matrix3_multiply(R, pc, rpc);
    yl_matrix3_multiply(S, rpc, srpc);
    yl_matrix3_multiply(T, srpc, m);
    *scale = s;
}

bool yl_box_candidate(double w1, double h1, double w2, double h2, double wh_thr, double ar_thr, double area_thr) {
    const double eps = 1e-16;
    double ar = fmax(w2 / (h2 + eps), h2 / (w2 + eps));
    return w2 > wh_thr && h2 > wh_thr && w2 * h2 / (w1 * h1 + eps) > area_thr && ar < ar_thr;
}

static double clampd(double v, double lo, double hi) { return v < lo ? lo : (v > hi ? hi : v); }

int yl_perspective_boxes(const yl_augment_options *o, const double m[9], double scale, const yl_pixel_box *in,
                         int count, int out_w, int out_h, yl_pixel_box *out) {
    int kept = 0;
    for (int i = 0; i < count; i++) {
        const yl_pixel_box *b = &in[i];
        const double corners[4][2] = {{b->x1, b->y1}, {b->x2, b->y2}, {b->x1, b->y2}, {b->x2, b->y1}};
        double x_min = INFINITY, y_min = INFINITY, x_max = -INFINITY, y_max = -INFINITY;
        for (int k = 0; k < 4; k++) {
            double x = m[0] * corners[k][0] + m[1] * corners[k][1] + m[2];
            double y = m[3] * corners[k][0] + m[4] * corners[k][1] + m[5];
            double w = m[6] * corners[k][0] + m[7] * corners[k][1] + m[8];
            if (o->perspective != 0.0f) {
                x /= w;
                y /= w;
            }
            x_min = fmin(x_min, x), x_max = fmax(x_max, x);
            y_min = fmin(y_min, y), y_max = fmax(y_max, y);
        }
        x_min = clampd(x_min, 0, out_w), x_max = clampd(x_max, 0, out_w);
        y_min = clampd(y_min, 0, out_h), y_max = clampd(y_max, 0, out_h);
        double w1 = ((double)b->x2 - b->x1) * scale, h1 = ((double)b->y2 - b->y1) * scale;
        if (!yl_box_candidate(w1, h1, x_max - x_min, y_max - y_min, o->box_wh_thr, o->box_ar_thr, o->box_area_thr))
            continue;
        out[kept++] = (yl_pixel_box){b->cls, (float)x_min, (float)y_min, (float)x_max, (float)y_max};
    }
    return kept;
}
