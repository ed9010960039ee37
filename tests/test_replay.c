// Replay sampling: the exact primary/replay split of every batch, the documented rounding,
// full coverage of the primary set, even spread of the replay set, independent shuffles, the
// combined source, and the composition seen through the loader.
#include "data_test_source.h"
#include "engine/data/loader.h"
#include "engine/data/replay.h"
#include "test_common.h"

static void test_rounding(void) {
    // round(0.7 B), half up: B = 1..5 -> 1, 1, 2, 3, 4 (3.5 -> 4); 10 -> 7; 16 -> 11 (11.2)
    const int want[][2] = {{1, 1}, {2, 1}, {3, 2}, {4, 3}, {5, 4}, {10, 7}, {16, 11}, {32, 22}};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        const int got = yl_replay_primary_per_batch(want[i][0], 0.3f);
        CHECK(got == want[i][1], "B = %d: %d primary, want %d", want[i][0], got, want[i][1]);
    }
    CHECK(yl_replay_primary_per_batch(8, 0.0f) == 8, "ratio 0: all primary");
    CHECK(yl_replay_primary_per_batch(4, 0.5f) == 2 && yl_replay_primary_per_batch(3, 0.5f) == 2, "ratio 0.5");
    CHECK(yl_replay_primary_per_batch(1, 0.5f) == 1, "B = 1, ratio 0.5: half up keeps the primary image");
}

static void test_composition(void) {
    const int sizes[][3] = {{23, 9, 16}, {23, 9, 5}, {7, 40, 4}, {50, 3, 10}, {10, 10, 2}, {5, 5, 1}, {12, 6, 3}};
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        const int np = sizes[k][0], nr = sizes[k][1], B = sizes[k][2];
        yl_replay_sampler s;
        CHECK_OK(yl_replay_sampler_init(&s, np, nr, B, 0.3f, 99));
        yl_batch_sampler bs = yl_replay_sampler_interface(&s);
        const int bp = yl_replay_primary_per_batch(B, 0.3f);
        int first_order[64] = {0};
        for (int epoch = 0; epoch < 3; epoch++) {
            int batches = 0;
            CHECK_OK(bs.begin_epoch(bs.ctx, epoch, &batches));
            CHECK(batches == (np + bp - 1) / bp, "np %d B %d: %d batches", np, B, batches);
            int primary_seen[64] = {0}, replay_seen[64] = {0}, order_pos = 0, order[64];
            for (int b = 0; b < batches; b++) {
                int idx[64];
                const int n = bs.batch_indices(bs.ctx, b, idx);
                int primary = 0;
                for (int i = 0; i < n; i++) {
                    CHECK(idx[i] >= 0 && idx[i] < np + nr, "index %d out of range", idx[i]);
                    if (idx[i] < np) {
                        primary++, primary_seen[idx[i]]++;
                        if (order_pos < np) order[order_pos++] = idx[i];
                    } else {
                        replay_seen[idx[i] - np]++;
                    }
                }
                CHECK(n == B && primary == bp, "np %d nr %d B %d epoch %d batch %d: %d of %d primary, want %d", np, nr, B,
                      epoch, b, primary, n, bp);
            }
            int min_p = 99, max_p = 0, min_r = 1 << 20, max_r = 0, replay_total = 0;
            for (int i = 0; i < np; i++) min_p = primary_seen[i] < min_p ? primary_seen[i] : min_p, max_p = primary_seen[i] > max_p ? primary_seen[i] : max_p;
            for (int i = 0; i < nr; i++) {
                min_r = replay_seen[i] < min_r ? replay_seen[i] : min_r;
                max_r = replay_seen[i] > max_r ? replay_seen[i] : max_r;
                replay_total += replay_seen[i];
            }
            // every primary image once, a few twice (the last batch wraps around)
            CHECK(min_p == 1 && max_p <= 1 + (bp - 1) / np + 1, "primary seen %d..%d times", min_p, max_p);
            CHECK(replay_total == batches * (B - bp), "replay images %d", replay_total);
            // passes over the replay set: counts differ by at most one
            if (replay_total > 0) CHECK(max_r - min_r <= 1, "replay counts %d..%d", min_r, max_r);
            if (epoch == 0) memcpy(first_order, order, sizeof order);
            else if (np > 3) CHECK(memcmp(first_order, order, (size_t)np * sizeof(int)) != 0, "epoch %d repeats epoch 0's order", epoch);
        }
        // draw_like stays in the pool of its index
        yl_rng rng;
        yl_rng_seed(&rng, 3, 3);
        int leaks = 0;
        for (int i = 0; i < 200; i++) {
            const int p = bs.draw_like(bs.ctx, i % np, &rng);
            leaks += p < 0 || p >= np;
            if (nr > 0) {
                const int r = bs.draw_like(bs.ctx, np + i % nr, &rng);
                leaks += r < np || r >= np + nr;
            }
        }
        CHECK(leaks == 0, "%d partner draws left their pool", leaks);
        yl_replay_sampler_free(&s);
    }
}

// The primary shuffle does not depend on the replay set: the same seed gives the same primary
// order whatever the replay set's size, and the replay order changes with it independently.
static void test_independent_shuffles(void) {
    yl_replay_sampler a, b;
    CHECK_OK(yl_replay_sampler_init(&a, 30, 10, 10, 0.3f, 5));
    CHECK_OK(yl_replay_sampler_init(&b, 30, 50, 10, 0.3f, 5));
    yl_batch_sampler sa = yl_replay_sampler_interface(&a), sb = yl_replay_sampler_interface(&b);
    int na, nb;
    CHECK_OK(sa.begin_epoch(sa.ctx, 2, &na));
    CHECK_OK(sb.begin_epoch(sb.ctx, 2, &nb));
    int differ = 0;
    for (int batch = 0; batch < na; batch++) {
        int ia[10], ib[10];
        sa.batch_indices(sa.ctx, batch, ia);
        sb.batch_indices(sb.ctx, batch, ib);
        differ += memcmp(ia, ib, 7 * sizeof(int)) != 0;
    }
    CHECK(na == nb && differ == 0, "primary order depends on the replay set (%d batches differ)", differ);
    yl_replay_sampler_free(&a);
    yl_replay_sampler_free(&b);
}

static void test_bad_arguments(void) {
    yl_replay_sampler s;
    CHECK_STATUS(yl_replay_sampler_init(&s, 10, 10, 8, 1.0f, 0), YL_ERR_INVALID_ARG);
    CHECK_STATUS(yl_replay_sampler_init(&s, 10, 10, 8, -0.1f, 0), YL_ERR_INVALID_ARG);
    CHECK_STATUS(yl_replay_sampler_init(&s, 10, 10, 1, 0.6f, 0), YL_ERR_INVALID_ARG);  // round(0.4) = 0 primary
    CHECK_STATUS(yl_replay_sampler_init(&s, 10, 0, 16, 0.3f, 0), YL_ERR_INVALID_ARG);  // needs replay images
    CHECK_STATUS(yl_replay_sampler_init(&s, 0, 10, 16, 0.3f, 0), YL_ERR_INVALID_ARG);
    CHECK_STATUS(yl_replay_sampler_init(NULL, 10, 10, 16, 0.3f, 0), YL_ERR_INVALID_ARG);
    CHECK_OK(yl_replay_sampler_init(&s, 10, 0, 1, 0.3f, 0));  // B = 1 at 0.3 takes no replay at all
    CHECK(s.replay_per_batch == 0, "B = 1: %d replay images", s.replay_per_batch);
    yl_replay_sampler_free(&s);
    yl_replay_source rs;
    yl_sample_source empty = {0};
    CHECK_STATUS(yl_replay_source_init(&rs, &empty, &empty), YL_ERR_INVALID_ARG);
}

// Through the combined source and the threaded loader: each delivered batch has exactly
// round(0.7 B) primary images, and they are the primary source's pixels.
static void test_through_loader(void) {
    test_source primary = {.count = 13, .imgsz = 64, .seed = 1, .id = 0};
    test_source replay = {.count = 6, .imgsz = 64, .seed = 1, .id = 1};
    yl_sample_source ps = test_source_interface(&primary), rsrc = test_source_interface(&replay);
    yl_replay_source combined;
    CHECK_OK(yl_replay_source_init(&combined, &ps, &rsrc));
    yl_sample_source source = yl_replay_source_interface(&combined);
    CHECK(source.count == 19 && source.image_size, "combined source");
    // index 13 of the combined source is replay image 0
    yl_sample a, b;
    CHECK_OK(source.load(source.ctx, 13, 64, &a));
    CHECK_OK(test_source_load(&replay, 0, 64, &b));
    CHECK(a.image.width == b.image.width && a.image.height == b.image.height &&
              memcmp(a.image.pixels, b.image.pixels, (size_t)a.image.width * a.image.height * 3) == 0,
          "combined index 13 is not replay sample 0");
    yl_sample_free(&a);
    yl_sample_free(&b);
    CHECK_STATUS(source.load(source.ctx, 19, 64, &a), YL_ERR_INVALID_ARG);

    yl_replay_sampler sampler;
    CHECK_OK(yl_replay_sampler_init(&sampler, 13, 6, 5, 0.3f, 77));
    yl_batch_sampler bs = yl_replay_sampler_interface(&sampler);
    yl_loader_options o = yl_loader_defaults(YL_LOADER_TRAIN, 5, 64);
    o.seed = 77;
    o.workers = 2;
    yl_loader *loader = NULL;
    CHECK_OK(yl_loader_create(&loader, &source, &bs, &o));
    if (loader) {
        int batches = 0;
        CHECK_OK(yl_loader_begin_epoch(loader, 0, &batches));
        CHECK(batches == 4, "%d batches for 13 primary at 4 per batch", batches);
        const yl_batch *batch;
        int k = 0;
        while (yl_loader_next(loader, &batch) == YL_OK && batch) {
            int p = 0;
            for (int i = 0; i < batch->count; i++) p += batch->info[i].index < 13;
            CHECK(batch->count == 5 && p == 4, "batch %d: %d of %d primary", k, p, batch->count);
            k++;
        }
        CHECK(k == 4, "%d batches delivered", k);
        yl_loader_destroy(loader);
    }
    o.batch_size = 6;  // the sampler says 5
    CHECK_STATUS(yl_loader_create(&loader, &source, &bs, &o), YL_ERR_INVALID_ARG);
    yl_replay_sampler_free(&sampler);
}

int main(void) {
    test_rounding();
    test_composition();
    test_independent_shuffles();
    test_bad_arguments();
    test_through_loader();
    return yl_test_finish("test_replay");
}
