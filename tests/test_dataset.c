#define _XOPEN_SOURCE 700  // realpath
// The dataset index over the tiny fixture (every kind of problem) and a .txt list: the counts
// Ultralytics prints, the warnings naming each file, the kept items and their labels, and samples
// decoded, EXIF-rotated and resized on demand.
#include "data_test_util.h"
#include "engine/data/data_yaml.h"
#include "engine/data/dataset.h"
#include "test_common.h"

#define TINY YL_TEST_FIXTURES "/data/tiny"

static int find_warning(const yl_dataset *ds, const char *a, const char *b) {
    for (int i = 0; i < ds->warning_count; i++)
        if (data_test_contains(ds->warnings[i], a) && data_test_contains(ds->warnings[i], b)) return 1;
    return 0;
}

static const char *name_of(const char *path) {
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

static void check_train_index(const yl_data_config *cfg) {
    yl_dataset ds;
    CHECK_OK(yl_dataset_build((const char *const *)cfg->train.images.paths, cfg->train.images.count, cfg->nc, &ds));
    const yl_dataset_counts *c = &ds.counts;
    CHECK(c->images == 6 && ds.count == 6, "images %d (expected 6)", c->images);
    CHECK(c->corrupt == 3, "corrupt %d (expected 3: d.png label, small.png, broken.png)", c->corrupt);
    CHECK(c->missing == 1 && c->empty == 1 && c->backgrounds == 2, "missing %d empty %d backgrounds %d", c->missing,
          c->empty, c->backgrounds);
    CHECK(c->labels_found == 4 && c->duplicates == 1 && c->instances == 6, "found %d duplicates %d instances %d",
          c->labels_found, c->duplicates, c->instances);
    CHECK(ds.warning_count == 4, "%d warnings (expected 4)", ds.warning_count);
    CHECK(find_warning(&ds, "labels/train/d.txt:2: class 5 >= nc 3", "images/train/d.png"), "d.txt warning");
    CHECK(find_warning(&ds, "images/train/small.png: image size 8x8 is smaller than 10 pixels", "ignoring"),
          "small.png warning");
    CHECK(find_warning(&ds, "images/train/broken.png: not a JPEG, PNG or BMP", "ignoring"), "broken.png warning");
    CHECK(find_warning(&ds, "labels/train/f.txt: 1 duplicate labels removed", ""), "f.txt warning");
    for (int i = 0; i < ds.warning_count; i++) printf("  warning: %s\n", ds.warnings[i]);
    char summary[200];
    yl_dataset_summary(&ds, summary, sizeof summary);
    CHECK(!strcmp(summary, "6 images, 2 backgrounds, 3 corrupt, 1 duplicate labels removed"), "summary '%s'", summary);

    static const char *names[] = {"a.png", "b.jpg", "c.bmp", "e.png", "f.png", "g.png"};
    static const int counts[] = {2, 1, 0, 0, 2, 1};
    for (int i = 0; i < ds.count && i < 6; i++)
        CHECK(!strcmp(name_of(ds.items[i].image_path), names[i]) && ds.items[i].label_count == counts[i],
              "item %d: %s with %d labels, expected %s with %d", i, ds.items[i].image_path, ds.items[i].label_count,
              names[i], counts[i]);
    if (ds.count == 6) {
        CHECK(ds.items[1].width == 16 && ds.items[1].height == 32, "b.jpg indexed as displayed: %dx%d",
              ds.items[1].width, ds.items[1].height);
        CHECK(data_test_contains(ds.items[1].label_path, "/labels/train/b.txt"), "label path %s", ds.items[1].label_path);
        CHECK(ds.items[4].labels[0].cls == 0 && ds.items[4].labels[1].cls == 2, "f.txt rows in np.unique order");
        const yl_box_label *g = &ds.items[5].labels[0];
        CHECK(g->cls == 1 && fabsf(g->cx - 0.5f) < 1e-6f && fabsf(g->cy - 0.45f) < 1e-6f && fabsf(g->w - 0.8f) < 1e-6f &&
                  fabsf(g->h - 0.7f) < 1e-6f,
              "g.txt polygon box %g %g %g %g", g->cx, g->cy, g->w, g->h);
    }

    // Samples: b.jpg rotated to 16x32 and resized so the long side is 64.
    yl_sample s;
    CHECK_OK(yl_dataset_load_sample(&ds, 1, 64, &s));
    CHECK(s.image.width == 32 && s.image.height == 64 && s.original_width == 16 && s.original_height == 32,
          "b.jpg sample %dx%d from %dx%d", s.image.width, s.image.height, s.original_width, s.original_height);
    if (s.image.pixels && s.image.width == 32) {
        const uint8_t *top = s.image.pixels + (8 * 32 + 16) * 3, *bottom = s.image.pixels + (56 * 32 + 16) * 3;
        CHECK(top[0] > 200 && top[2] < 60 && bottom[2] > 200 && bottom[0] < 60, "red on top, blue below");
    }
    CHECK(s.label_count == 1 && s.labels && s.labels[0].cls == 1 && s.path == ds.items[1].image_path,
          "b.jpg sample labels and path");
    yl_sample_free(&s);
    CHECK_OK(yl_dataset_load_sample(&ds, 0, 0, &s));
    CHECK(s.image.width == 20 && s.image.height == 16 && s.label_count == 2, "a.png unscaled");
    yl_sample_free(&s);
    CHECK_OK(yl_dataset_load_sample(&ds, 0, 40, &s));
    CHECK(s.image.width == 40 && s.image.height == 32, "a.png up-scaled to %dx%d", s.image.width, s.image.height);
    yl_sample_free(&s);
    CHECK_OK(yl_dataset_load_sample(&ds, 2, 32, &s));
    CHECK(s.label_count == 0 && s.labels == NULL && s.image.width == 32, "background sample");
    yl_sample_free(&s);
    CHECK_STATUS(yl_dataset_load_sample(&ds, 6, 32, &s), YL_ERR_INVALID_ARG);
    CHECK_STATUS(yl_dataset_load_sample(&ds, -1, 32, &s), YL_ERR_INVALID_ARG);
    CHECK_STATUS(yl_dataset_load_sample(NULL, 0, 32, &s), YL_ERR_INVALID_ARG);

    // The sample-source view for the loader.
    yl_sample_source source = yl_dataset_sample_source(&ds);
    CHECK_OK(yl_sample_source_check(&source, "test"));
    int w = 0, h = 0;
    CHECK_OK(source.image_size(source.ctx, 1, &w, &h));
    CHECK(source.count == 6 && w == 16 && h == 32, "source: %d samples, b.jpg %dx%d", source.count, w, h);
    CHECK_OK(source.load(source.ctx, 3, 48, &s));
    CHECK(s.image.width == 48 && s.image.height == 39, "e.png through the source: %dx%d (48 x ceil(16*2.4)=39)",
          s.image.width, s.image.height);
    yl_sample_free(&s);
    CHECK_STATUS(source.image_size(source.ctx, 9, &w, &h), YL_ERR_INVALID_ARG);
    yl_dataset_free(&ds);
    CHECK(ds.items == NULL && ds.count == 0, "freed");
}

static void check_list_and_errors(void) {
    char *tmp = data_test_tempdir();
    char text[1024];
    char *root = realpath(TINY, NULL);
    snprintf(text, sizeof text, "path: %s\ntrain: list.txt\nval: images/val\nnames: [a, b, c]\n", root);
    char *yaml = data_test_write(tmp, "list.yaml", text);
    yl_data_config cfg;
    CHECK_OK(yl_data_yaml_load(yaml, &cfg));
    yl_dataset ds;
    CHECK_OK(yl_dataset_build((const char *const *)cfg.train.images.paths, cfg.train.images.count, cfg.nc, &ds));
    CHECK(ds.count == 2 && ds.counts.corrupt == 1 && ds.warning_count == 1 &&
              find_warning(&ds, "images/not_relative_to_the_list.png: cannot open", "ignoring"),
          "list.txt: %d usable, %d corrupt, %d warnings", ds.count, ds.counts.corrupt, ds.warning_count);
    yl_dataset_free(&ds);
    // Only unusable images: an error, with the first problem.
    const char *bad[] = {TINY "/images/train/small.png", TINY "/images/train/broken.png"};
    CHECK_STATUS(yl_dataset_build(bad, 2, 3, &ds), YL_ERR_FORMAT);
    CHECK(data_test_contains(yl_last_error(), "none of the 2 images is usable") &&
              data_test_contains(yl_last_error(), "small.png"),
          "%s", yl_last_error());
    // Only backgrounds: usable, with a "no labels" warning.
    const char *backgrounds[] = {TINY "/images/train/c.bmp", TINY "/images/train/e.png"};
    CHECK_OK(yl_dataset_build(backgrounds, 2, 3, &ds));
    CHECK(ds.count == 2 && ds.counts.backgrounds == 2 && find_warning(&ds, "no labels found in", "labels/train"),
          "backgrounds only: %d warnings", ds.warning_count);
    yl_dataset_free(&ds);
    CHECK_STATUS(yl_dataset_build(NULL, 2, 3, &ds), YL_ERR_INVALID_ARG);
    CHECK_STATUS(yl_dataset_build(backgrounds, 0, 3, &ds), YL_ERR_INVALID_ARG);
    CHECK_STATUS(yl_dataset_build(backgrounds, 2, 0, &ds), YL_ERR_INVALID_ARG);
    CHECK_STATUS(yl_dataset_build(backgrounds, 2, 3, NULL), YL_ERR_INVALID_ARG);
    yl_data_config_free(&cfg);
    free(yaml);
    free(root);
    data_test_remove_tree(tmp);
    free(tmp);
}

int main(void) {
    yl_data_config cfg;
    CHECK_OK(yl_data_yaml_load(TINY "/data.yaml", &cfg));
    if (cfg.train.images.count) check_train_index(&cfg);
    yl_dataset val;
    CHECK_OK(yl_dataset_build((const char *const *)cfg.val.images.paths, cfg.val.images.count, cfg.nc, &val));
    CHECK(val.count == 1 && val.counts.instances == 1 && val.warning_count == 0, "val split");
    yl_dataset_free(&val);
    yl_data_config_free(&cfg);
    check_list_and_errors();
    return yl_test_finish("test_dataset");
}
