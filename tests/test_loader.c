// The threaded loader: identical batches for 1 and 3 workers, epoch coverage and reshuffling,
// close_mosaic, prefetching that really runs ahead, unreadable samples (stand-ins in training,
// skipped in validation, always warned), rect validation batches and their mapping back,
// restarts, shutdown, bad arguments.
#include <math.h>
#include <time.h>

#include "data_test_source.h"
#include "engine/data/loader.h"
#include "test_common.h"

typedef struct {
    int count, height, width, target_count;
    float *images, *targets;
    int indices[64];
} batch_copy;

static void copy_batch(const yl_batch *b, batch_copy *out) {
    out->count = b->count, out->height = b->height, out->width = b->width, out->target_count = b->target_count;
    const size_t pixels = (size_t)b->count * 3 * b->height * b->width;
    out->images = malloc(pixels * sizeof(float) + 1);
    memcpy(out->images, b->images, pixels * sizeof(float));
    out->targets = malloc((size_t)b->target_count * 6 * sizeof(float) + 1);
    memcpy(out->targets, b->targets, (size_t)b->target_count * 6 * sizeof(float));
    for (int i = 0; i < b->count && i < 64; i++) out->indices[i] = b->info[i].index;
}

static bool same_batch(const batch_copy *a, const batch_copy *b) {
    return a->count == b->count && a->height == b->height && a->width == b->width && a->target_count == b->target_count &&
           memcmp(a->images, b->images, (size_t)a->count * 3 * a->height * a->width * sizeof(float)) == 0 &&
           memcmp(a->targets, b->targets, (size_t)a->target_count * 6 * sizeof(float)) == 0 &&
           memcmp(a->indices, b->indices, (size_t)a->count * sizeof(int)) == 0;
}

static void free_copies(batch_copy *c, int n) {
    for (int i = 0; i < n; i++) free(c[i].images), free(c[i].targets);
}

// Runs `epochs` epochs and keeps every batch (at most `max`). Returns how many.
static int run_loader(const yl_sample_source *source, const yl_loader_options *o, int epochs, batch_copy *out, int max,
                      long *warnings) {
    yl_loader *loader = NULL;
    CHECK_OK(yl_loader_create(&loader, source, NULL, o));
    if (!loader) return 0;
    int n = 0;
    for (int e = 0; e < epochs; e++) {
        int batches = 0;
        CHECK_OK(yl_loader_begin_epoch(loader, e, &batches));
        for (;;) {
            const yl_batch *b = NULL;
            yl_status status = yl_loader_next(loader, &b);
            CHECK(status == YL_OK, "next: %s", yl_last_error());
            if (status != YL_OK || !b) break;
            if (n < max) copy_batch(b, &out[n++]);
        }
    }
    if (warnings) *warnings = yl_loader_warning_count(loader);
    yl_loader_destroy(loader);
    return n;
}

static void test_determinism(void) {
    const int bad[] = {5};
    test_source src = {.count = 18, .imgsz = 64, .seed = 2, .bad = bad, .bad_count = 1};
    yl_sample_source source = test_source_interface(&src);
    yl_loader_options o = yl_loader_defaults(YL_LOADER_TRAIN, 4, 64);
    o.seed = 1234;
    o.epochs = 2;
    o.augment.close_mosaic = 1;  // epoch 0 with mosaics, epoch 1 letterboxed
    batch_copy one[16], three[16], other_seed[16];
    long w1 = 0, w3 = 0;
    o.workers = 1;
    const int n1 = run_loader(&source, &o, 2, one, 16, &w1);
    o.workers = 3;
    o.prefetch = 5;
    const int n3 = run_loader(&source, &o, 2, three, 16, &w3);
    CHECK(n1 == 10 && n3 == 10, "batches: %d with 1 worker, %d with 3, want 2 x 5", n1, n3);
    int differ = 0;
    for (int i = 0; i < n1 && i < n3; i++) differ += !same_batch(&one[i], &three[i]);
    CHECK(differ == 0, "%d of %d batches differ between 1 and 3 workers", differ, n1);
    CHECK(w1 == w3 && w1 > 0, "warnings: %ld with 1 worker, %ld with 3", w1, w3);
    o.seed = 1235;
    const int n_other = run_loader(&source, &o, 1, other_seed, 16, NULL);
    int same = 0;
    for (int i = 0; i < n_other; i++) same += same_batch(&one[i], &other_seed[i]);
    CHECK(same == 0, "%d batches unchanged by another seed", same);
    // epoch 0 and 1 differ (shuffle and mosaic)
    CHECK(!same_batch(&one[0], &one[5]), "epoch 1 repeats epoch 0");
    printf("  determinism: %d batches identical with 1 and 3 workers, %ld warnings each\n", n1, w1);
    free_copies(one, n1);
    free_copies(three, n3);
    free_copies(other_seed, n_other);
}

static void test_epochs_and_close_mosaic(void) {
    test_source src = {.count = 10, .imgsz = 64, .seed = 3};
    yl_sample_source source = test_source_interface(&src);
    yl_loader_options o = yl_loader_defaults(YL_LOADER_TRAIN, 4, 64);
    o.epochs = 3;
    o.augment.close_mosaic = 1;
    yl_loader *loader = NULL;
    CHECK_OK(yl_loader_create(&loader, &source, NULL, &o));
    if (!loader) return;
    int orders[3][10];
    for (int e = 0; e < 3; e++) {
        int batches = 0;
        CHECK_OK(yl_loader_begin_epoch(loader, e, &batches));
        CHECK(batches == 3, "epoch %d: %d batches, want ceil(10 / 4) = 3", e, batches);
        CHECK(yl_loader_mosaic_active(loader) == (e < 2), "epoch %d: mosaic %d", e, yl_loader_mosaic_active(loader));
        int seen[10] = {0}, n = 0;
        const yl_batch *b;
        int k = 0;
        while (yl_loader_next(loader, &b) == YL_OK && b) {
            CHECK(b->count == (k < 2 ? 4 : 2), "epoch %d batch %d has %d images", e, k, b->count);
            CHECK(b->height == 64 && b->width == 64 && b->batch_index == k && b->epoch == e, "batch %d header", k);
            for (int i = 0; i < b->count; i++) {
                seen[b->info[i].index]++;
                if (n < 10) orders[e][n++] = b->info[i].index;
            }
            // targets belong to images of this batch and are normalised
            for (int t = 0; t < b->target_count; t++) {
                const float *r = b->targets + t * 6;
                CHECK(r[0] >= 0 && r[0] < b->count && r[4] > 0 && r[5] > 0 && r[2] >= 0 && r[2] <= 1, "target row %d", t);
            }
            k++;
        }
        for (int i = 0; i < 10; i++) CHECK(seen[i] == 1, "epoch %d: index %d seen %d times", e, i, seen[i]);
    }
    CHECK(memcmp(orders[0], orders[1], sizeof orders[0]) != 0, "epochs 0 and 1 have the same order");
    // next after the end keeps saying "end"
    const yl_batch *b = (const yl_batch *)1;
    CHECK_OK(yl_loader_next(loader, &b));
    CHECK(b == NULL, "batch after the end of the epoch");
    yl_loader_destroy(loader);
}

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

// With a slow source and a consumer that takes longer per batch than the workers, every batch
// after the first must be ready before it is asked for.
static void test_prefetch_overlap(void) {
    test_source src = {.count = 32, .imgsz = 64, .seed = 4, .delay_ns = 5000000};  // 5 ms per load
    yl_sample_source source = test_source_interface(&src);
    yl_loader_options o = yl_loader_defaults(YL_LOADER_TRAIN, 4, 64);
    o.workers = 2;
    o.augment.mosaic = 0.0f;  // one load per sample: 20 ms of loading per batch
    yl_loader *loader = NULL;
    CHECK_OK(yl_loader_create(&loader, &source, NULL, &o));
    if (!loader) return;
    int batches = 0;
    const double start = now_seconds();
    CHECK_OK(yl_loader_begin_epoch(loader, 0, &batches));
    const long consumer_ms = 30;
    const yl_batch *b;
    while (yl_loader_next(loader, &b) == YL_OK && b) sleep_ms(consumer_ms);  // "the training step"
    const double wall = now_seconds() - start;
    const yl_loader_stats stats = yl_loader_get_stats(loader);
    const double serial = batches * consumer_ms / 1000.0 + (double)atomic_load(&src.loads) * 0.005;
    printf("  prefetch: %ld of %ld batches ready on request, waited %.3f s, wall %.3f s vs serial %.3f s\n",
           stats.batches_ready_on_request, stats.batches_delivered, stats.wait_seconds, wall, serial);
    CHECK(stats.batches_delivered == batches, "delivered %ld of %d", stats.batches_delivered, batches);
    CHECK(stats.batches_ready_on_request >= batches - 1, "only %ld of %d batches were ready before the request",
          stats.batches_ready_on_request, batches);
    CHECK(wall < serial, "wall %.3f s not below the serial sum %.3f s", wall, serial);
    yl_loader_destroy(loader);
}

static void test_bad_samples(void) {
    const int bad[] = {3, 7};
    test_source src = {.count = 12, .imgsz = 64, .seed = 5, .bad = bad, .bad_count = 2};
    yl_sample_source source = test_source_interface(&src);
    yl_loader_options o = yl_loader_defaults(YL_LOADER_TRAIN, 4, 64);
    o.augment.mosaic = 0.0f;
    yl_loader *loader = NULL;
    CHECK_OK(yl_loader_create(&loader, &source, NULL, &o));
    if (!loader) return;
    CHECK_OK(yl_loader_begin_epoch(loader, 0, NULL));
    const yl_batch *b;
    int images = 0;
    while (yl_loader_next(loader, &b) == YL_OK && b) {
        CHECK(b->count == 4, "train batch with %d images (stand-ins should fill it)", b->count);
        for (int i = 0; i < b->count; i++) {
            CHECK(b->info[i].index != 3 && b->info[i].index != 7, "unreadable index %d in a batch", b->info[i].index);
            images++;
        }
    }
    CHECK(images == 12, "%d images in the epoch", images);
    const long warnings = yl_loader_warning_count(loader);
    CHECK(warnings >= 2 && yl_loader_get_stats(loader).samples_skipped == warnings, "%ld warnings", warnings);
    char message[512];
    CHECK(yl_loader_warning(loader, 0, message, sizeof message) && strstr(message, "bad_") && strstr(message, "skipped"),
          "warning text: %s", message);
    CHECK(!yl_loader_warning(loader, (int)warnings + 5, message, sizeof message), "warning past the end");
    yl_loader_destroy(loader);

    // validation: skipped, not replaced
    yl_loader_options v = yl_loader_defaults(YL_LOADER_VAL, 4, 64);
    CHECK_OK(yl_loader_create(&loader, &source, NULL, &v));
    if (!loader) return;
    for (int epoch = 0; epoch < 2; epoch++) {
        CHECK_OK(yl_loader_begin_epoch(loader, epoch, NULL));
        images = 0;
        while (yl_loader_next(loader, &b) == YL_OK && b)
            for (int i = 0; i < b->count; i++, images++) CHECK(b->info[i].index != 3 && b->info[i].index != 7, "bad index in val");
        CHECK(images == 10, "validation epoch %d: %d images, want 12 - 2", epoch, images);
    }
    CHECK(yl_loader_warning_count(loader) == 4, "validation warnings %ld, want 2 per epoch", yl_loader_warning_count(loader));
    yl_loader_destroy(loader);

    // nothing readable: an error, not a hang
    const int all[] = {0, 1, 2};
    test_source dead = {.count = 3, .imgsz = 64, .seed = 5, .bad = all, .bad_count = 3};
    yl_sample_source dead_source = test_source_interface(&dead);
    o.max_stand_ins = 5;
    CHECK_OK(yl_loader_create(&loader, &dead_source, NULL, &o));
    if (!loader) return;
    CHECK_OK(yl_loader_begin_epoch(loader, 0, NULL));
    CHECK_STATUS(yl_loader_next(loader, &b), YL_ERR_IO);
    CHECK(b == NULL && strstr(yl_last_error(), "unreadable"), "error: %s", yl_last_error());
    yl_loader_destroy(loader);
}

static void test_validation_rect(void) {
    test_source src = {.count = 11, .imgsz = 64, .seed = 6};
    yl_sample_source source = test_source_interface(&src);
    yl_loader_options o = yl_loader_defaults(YL_LOADER_VAL, 3, 64);
    o.workers = 2;
    yl_loader *loader = NULL;
    CHECK_OK(yl_loader_create(&loader, &source, NULL, &o));
    if (!loader) return;
    // the plan, independently
    int widths[11], heights[11], order[11];
    for (int i = 0; i < 11; i++) test_source_image_size(&src, i, &widths[i], &heights[i]);
    yl_batch_shape shapes[4];
    CHECK_OK(yl_rect_batch_plan(widths, heights, 11, 3, 64, 32, 0.5f, order, shapes));
    int batches = 0;
    CHECK_OK(yl_loader_begin_epoch(loader, 0, &batches));
    CHECK(batches == 4, "%d validation batches", batches);
    const yl_batch *b;
    int k = 0, position = 0, mapping_errors = 0, pad_errors = 0;
    double worst = 0.0;
    while (yl_loader_next(loader, &b) == YL_OK && b) {
        CHECK(b->height == shapes[k].height && b->width == shapes[k].width, "batch %d is %dx%d, plan %dx%d", k, b->height,
              b->width, shapes[k].height, shapes[k].width);
        int t = 0;
        for (int i = 0; i < b->count; i++, position++) {
            const yl_batch_image *info = &b->info[i];
            CHECK(info->index == order[position], "image %d of batch %d is %d, want %d", i, k, info->index, order[position]);
            test_image_layout L;
            test_layout(&src, info->index, &L);
            CHECK(info->original_width == widths[info->index] && info->original_height == heights[info->index],
                  "original size");
            // each label, mapped from original pixels with gain and pad, is its target row
            for (int r = 0; r < L.rect_count; r++, t++) {
                while (t < b->target_count && b->targets[t * 6] != i) t++;
                if (t >= b->target_count) {
                    mapping_errors++;
                    break;
                }
                const float *row = b->targets + t * 6;
                const double x1 = 2.0 * L.rect[r][0] * info->gain_x + info->pad_x;
                const double y2 = 2.0 * L.rect[r][3] * info->gain_y + info->pad_y;
                worst = fmax(worst, fabs(x1 - (row[2] - row[4] / 2) * b->width));
                worst = fmax(worst, fabs(y2 - (row[3] + row[5] / 2) * b->height));
                mapping_errors += row[1] != L.rect[r][4];
            }
            // padding reads 114 / 255
            const float *plane = b->images + (size_t)i * 3 * b->height * b->width;
            if (info->pad_x >= 1) pad_errors += fabsf(plane[0] - 114.0f / 255.0f) > 1e-6f;
            if (info->pad_y >= 1) pad_errors += fabsf(plane[b->width / 2] - 114.0f / 255.0f) > 1e-6f;
        }
        k++;
    }
    printf("  rect validation: %d batches, max |mapped label - target| %.2e px\n", k, worst);
    CHECK(position == 11, "%d validation images", position);
    CHECK(mapping_errors == 0 && worst < 1e-3, "%d mapping errors, worst %.3g px", mapping_errors, worst);
    CHECK(pad_errors == 0, "%d padding values wrong", pad_errors);
    yl_loader_destroy(loader);
}

static void test_restart_and_shutdown(void) {
    test_source src = {.count = 24, .imgsz = 64, .seed = 7, .delay_ns = 500000};
    yl_sample_source source = test_source_interface(&src);
    yl_loader_options o = yl_loader_defaults(YL_LOADER_TRAIN, 4, 64);
    o.workers = 3;
    batch_copy fresh[6], again[6];
    const int n = run_loader(&source, &o, 1, fresh, 6, NULL);
    yl_loader *loader = NULL;
    CHECK_OK(yl_loader_create(&loader, &source, NULL, &o));
    if (!loader) return;
    const yl_batch *b;
    CHECK_OK(yl_loader_begin_epoch(loader, 0, NULL));
    CHECK_OK(yl_loader_next(loader, &b));
    CHECK_OK(yl_loader_begin_epoch(loader, 0, NULL));  // abandon it halfway, start over
    int m = 0;
    while (yl_loader_next(loader, &b) == YL_OK && b && m < 6) copy_batch(b, &again[m++]);
    CHECK(m == n, "%d batches after a restart, %d fresh", m, n);
    for (int i = 0; i < m && i < n; i++) CHECK(same_batch(&fresh[i], &again[i]), "batch %d differs after a restart", i);
    free_copies(fresh, n);
    free_copies(again, m);
    // destroy with batches in flight
    CHECK_OK(yl_loader_begin_epoch(loader, 1, NULL));
    CHECK_OK(yl_loader_next(loader, &b));
    yl_loader_destroy(loader);
    // destroy before any epoch
    CHECK_OK(yl_loader_create(&loader, &source, NULL, &o));
    CHECK_STATUS(yl_loader_next(loader, &b), YL_ERR_INVALID_ARG);  // no epoch started
    yl_loader_destroy(loader);
}

static int one_index(void *ctx, int batch, int *out) {
    (void)ctx;
    out[0] = batch;
    return 1;
}

static void test_bad_arguments(void) {
    test_source src = {.count = 4, .imgsz = 64, .seed = 1};
    yl_sample_source source = test_source_interface(&src);
    yl_loader_options o = yl_loader_defaults(YL_LOADER_TRAIN, 2, 64);
    yl_loader *loader = NULL;
    CHECK_STATUS(yl_loader_create(&loader, NULL, NULL, &o), YL_ERR_INVALID_ARG);
    CHECK_STATUS(yl_loader_create(NULL, &source, NULL, &o), YL_ERR_INVALID_ARG);
    o.workers = 0;
    CHECK_STATUS(yl_loader_create(&loader, &source, NULL, &o), YL_ERR_INVALID_ARG);
    o = yl_loader_defaults(YL_LOADER_TRAIN, 2, 64);
    o.augment.imgsz = 32;
    CHECK_STATUS(yl_loader_create(&loader, &source, NULL, &o), YL_ERR_INVALID_ARG);
    o = yl_loader_defaults(YL_LOADER_TRAIN, 2, 64);
    o.augment.mixup = 0.2f;
    CHECK_STATUS(yl_loader_create(&loader, &source, NULL, &o), YL_ERR_UNSUPPORTED);
    o = yl_loader_defaults(YL_LOADER_TRAIN, 2, 64);
    yl_batch_sampler incomplete = {.batch_size = 2, .batch_indices = one_index};
    CHECK_STATUS(yl_loader_create(&loader, &source, &incomplete, &o), YL_ERR_INVALID_ARG);
    yl_loader_options v = yl_loader_defaults(YL_LOADER_VAL, 2, 64);
    CHECK_STATUS(yl_loader_create(&loader, &source, &incomplete, &v), YL_ERR_INVALID_ARG);
    source.image_size = NULL;
    CHECK_STATUS(yl_loader_create(&loader, &source, NULL, &v), YL_ERR_INVALID_ARG);
    v.rect = false;  // square validation needs no sizes
    CHECK_OK(yl_loader_create(&loader, &source, NULL, &v));
    if (loader) {
        int batches = 0;
        CHECK_OK(yl_loader_begin_epoch(loader, 0, &batches));
        const yl_batch *b;
        CHECK_OK(yl_loader_next(loader, &b));
        CHECK(b && b->height == 64 && b->width == 64 && b->count == 2, "square validation batch");
        CHECK_STATUS(yl_loader_begin_epoch(loader, -1, NULL), YL_ERR_INVALID_ARG);
        yl_loader_destroy(loader);
    }
    CHECK(loader != NULL, "loader pointer");
}

int main(void) {
    const double start = now_seconds();
    test_determinism();
    test_epochs_and_close_mosaic();
    test_prefetch_overlap();
    test_bad_samples();
    test_validation_rect();
    test_restart_and_shutdown();
    test_bad_arguments();
    printf("  total %.2f s\n", now_seconds() - start);
    return yl_test_finish("test_loader");
}
