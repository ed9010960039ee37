// Collation into NCHW floats and target rows, and the rect validation batch shapes.
#include <math.h>

#include "engine/data/batch.h"
#include "test_common.h"

static void test_collate(void) {
    const int shapes[][3] = {{3, 5, 7}, {1, 4, 4}, {4, 9, 2}};  // batch, height, width
    yl_rng rng;
    yl_rng_seed(&rng, 21, 1);
    for (size_t k = 0; k < sizeof shapes / sizeof shapes[0]; k++) {
        const int B = shapes[k][0], H = shapes[k][1], W = shapes[k][2];
        yl_batch batch;
        CHECK_OK(yl_batch_init(&batch, B, H + 3, W + 3));
        CHECK_OK(yl_batch_begin(&batch, H, W));
        yl_sample samples[4];
        yl_box_label labels[4][40];
        int total_labels = 0;
        for (int i = 0; i < B; i++) {
            memset(&samples[i], 0, sizeof samples[i]);
            samples[i].image = (yl_image_u8){W, H, malloc((size_t)W * H * 3)};
            for (int p = 0; p < W * H * 3; p++) samples[i].image.pixels[p] = (uint8_t)yl_rng_below(&rng, 256);
            // one image with many labels, to grow the target rows past their first capacity
            samples[i].label_count = i == 0 ? 40 : (int)yl_rng_below(&rng, 3);
            for (int j = 0; j < samples[i].label_count; j++)
                labels[i][j] = (yl_box_label){(int)yl_rng_below(&rng, 80), yl_rng_uniform(&rng), yl_rng_uniform(&rng),
                                              yl_rng_uniform(&rng), yl_rng_uniform(&rng)};
            samples[i].labels = labels[i];
            total_labels += samples[i].label_count;
            yl_batch_image info = {.index = 100 + i};
            CHECK_OK(yl_batch_add(&batch, &samples[i], &info));
        }
        yl_tensor images = yl_batch_images_tensor(&batch), targets = yl_batch_targets_tensor(&batch);
        CHECK(images.ndim == 4 && images.shape[0] == B && images.shape[1] == 3 && images.shape[2] == H && images.shape[3] == W,
              "images tensor shape");
        CHECK(targets.ndim == 2 && targets.shape[0] == total_labels && targets.shape[1] == 6, "targets shape (%lld, %lld)",
              (long long)targets.shape[0], (long long)targets.shape[1]);
        double worst = 0.0;
        for (int i = 0; i < B; i++)
            for (int c = 0; c < 3; c++)
                for (int y = 0; y < H; y++)
                    for (int x = 0; x < W; x++) {
                        const float got = batch.images[(((size_t)i * 3 + c) * H + y) * W + x];
                        const double want = samples[i].image.pixels[((size_t)y * W + x) * 3 + c] / 255.0;
                        worst = fmax(worst, fabs(got - want));
                    }
        CHECK(worst < 1e-7, "batch %d x %dx%d: pixel error %g", B, H, W, worst);
        int row = 0, row_errors = 0;
        for (int i = 0; i < B; i++)
            for (int j = 0; j < samples[i].label_count; j++, row++) {
                const float *r = batch.targets + (size_t)row * 6;
                const yl_box_label *l = &labels[i][j];
                row_errors += r[0] != i || r[1] != l->cls || r[2] != l->cx || r[3] != l->cy || r[4] != l->w || r[5] != l->h;
            }
        CHECK(row_errors == 0, "%d target rows wrong", row_errors);
        CHECK(batch.info[B - 1].index == 100 + B - 1, "image info not kept");
        // a wrong size, a full batch, an oversized input
        yl_sample wrong = samples[0];
        wrong.image.width = W + 1;
        CHECK_OK(yl_batch_begin(&batch, H, W));
        CHECK_STATUS(yl_batch_add(&batch, &wrong, NULL), YL_ERR_SHAPE);
        for (int i = 0; i < B; i++) CHECK_OK(yl_batch_add(&batch, &samples[i], NULL));
        CHECK_STATUS(yl_batch_add(&batch, &samples[0], NULL), YL_ERR_SHAPE);
        CHECK_STATUS(yl_batch_begin(&batch, (H + 3) * (W + 3) + 1, 1), YL_ERR_SHAPE);
        CHECK_STATUS(yl_batch_add(NULL, &samples[0], NULL), YL_ERR_INVALID_ARG);
        for (int i = 0; i < B; i++) free(samples[i].image.pixels);
        yl_batch_free(&batch);
    }
    yl_batch bad;
    CHECK_STATUS(yl_batch_init(&bad, 0, 4, 4), YL_ERR_INVALID_ARG);
}

static void test_rect_plan(void) {
    // spec example: 640x480 (w x h) images at imgsz 640 -> 512 x 672 (h x w)
    int widths[5] = {640, 640, 480, 480, 640}, heights[5] = {480, 480, 640, 640, 640};
    int order[5];
    yl_batch_shape shapes[3];
    CHECK_OK(yl_rect_batch_plan(widths, heights, 2, 2, 640, 32, 0.5f, order, shapes));
    CHECK(shapes[0].height == 512 && shapes[0].width == 672, "landscape batch %dx%d (h x w), want 512x672",
          shapes[0].height, shapes[0].width);
    CHECK_OK(yl_rect_batch_plan(widths + 2, heights + 2, 2, 2, 640, 32, 0.5f, order, shapes));
    CHECK(shapes[0].height == 672 && shapes[0].width == 512, "portrait batch %dx%d, want 672x512", shapes[0].height,
          shapes[0].width);
    // all five, batch 2: sorted ar 0.75, 0.75, 1, 1.33, 1.33 -> [0.75, 1], mixed [1, 1], [1, 0.75]
    CHECK_OK(yl_rect_batch_plan(widths, heights, 5, 2, 640, 32, 0.5f, order, shapes));
    const int want_order[5] = {0, 1, 4, 2, 3};
    for (int i = 0; i < 5; i++) CHECK(order[i] == want_order[i], "order[%d] = %d, want %d", i, order[i], want_order[i]);
    CHECK(shapes[0].height == 512 && shapes[0].width == 672, "batch 0 %dx%d", shapes[0].height, shapes[0].width);
    CHECK(shapes[1].height == 672 && shapes[1].width == 672, "batch 1 (ar 1 and 1.33) %dx%d", shapes[1].height,
          shapes[1].width);
    CHECK(shapes[2].height == 672 && shapes[2].width == 512, "batch 2 (last, single) %dx%d", shapes[2].height,
          shapes[2].width);

    // random sizes: order sorted by h/w, ties by index; each shape covers every image of the
    // batch once letterboxed, and exceeds it by at most a stride + the pad
    yl_rng rng;
    yl_rng_seed(&rng, 4, 4);
    int w[37], h[37], ord[37];
    yl_batch_shape sh[10];
    for (int i = 0; i < 37; i++) w[i] = 50 + (int)yl_rng_below(&rng, 5) * 50, h[i] = 50 + (int)yl_rng_below(&rng, 5) * 50;
    CHECK_OK(yl_rect_batch_plan(w, h, 37, 4, 320, 32, 0.5f, ord, sh));
    int seen[37] = {0};
    for (int i = 0; i < 37; i++) {
        seen[ord[i]]++;
        if (i > 0) {
            const double a = (double)h[ord[i - 1]] / w[ord[i - 1]], b = (double)h[ord[i]] / w[ord[i]];
            CHECK(a < b || (a == b && ord[i - 1] < ord[i]), "order not sorted at %d", i);
        }
    }
    for (int i = 0; i < 37; i++) CHECK(seen[i] == 1, "image %d appears %d times", i, seen[i]);
    for (int b = 0; b < 10; b++) {
        CHECK(sh[b].height % 32 == 0 && sh[b].width % 32 == 0, "batch %d shape %dx%d not a multiple of 32", b,
              sh[b].height, sh[b].width);
        for (int i = b * 4; i < b * 4 + 4 && i < 37; i++) {
            const double r = fmin(320.0 / h[ord[i]], 320.0 / w[ord[i]]);  // long side -> imgsz
            const double rh = h[ord[i]] * r, rw = w[ord[i]] * r;
            CHECK(rh <= sh[b].height && rw <= sh[b].width, "image %d (%gx%g) does not fit batch %d (%dx%d)", ord[i], rw,
                  rh, b, sh[b].width, sh[b].height);
        }
        CHECK(sh[b].height <= 320 + 48 && sh[b].width <= 320 + 48, "batch %d shape %dx%d too big", b, sh[b].height,
              sh[b].width);
    }
    CHECK_STATUS(yl_rect_batch_plan(w, h, 0, 4, 320, 32, 0.5f, ord, sh), YL_ERR_INVALID_ARG);
    CHECK_STATUS(yl_rect_batch_plan(w, h, 3, 4, 320, 0, 0.5f, ord, sh), YL_ERR_INVALID_ARG);
    w[1] = 0;
    CHECK_STATUS(yl_rect_batch_plan(w, h, 3, 4, 320, 32, 0.5f, ord, sh), YL_ERR_INVALID_ARG);
}

int main(void) {
    test_collate();
    test_rect_plan();
    return yl_test_finish("test_batch");
}
