// The synthetic dataset: it loads through data.yaml and the dataset index with the counts the
// writer reports and no warnings, the same seed gives the same bytes, the defects look like what
// their labels say, `shift` moves the distribution, and bad options are refused.
#include "cli/commands.h"
#include "data_test_util.h"
#include "engine/data/data_yaml.h"
#include "engine/data/dataset.h"
#include "engine/data/synth.h"
#include "test_common.h"

static char *tmp;

static yl_synth_options small_options(const char *name, uint64_t seed, float shift) {
    yl_synth_options o = yl_synth_defaults();
    o.out_dir = yl_path_join(tmp, name);
    o.n = 24;
    o.imgsz = 64;
    o.seed = seed;
    o.shift = shift;
    o.val_fraction = 0.25f;
    return o;
}

static char *yaml_of(const yl_synth_options *o) { return yl_path_join(o->out_dir, "data.yaml"); }

typedef struct {
    double red_minus_blue;  // mean over all pixels
    double box_area;        // mean normalised box area
    int dark_holes, holes, dark_dents, dents;
} appearance;

static int luminance(const yl_image_u8 *im, int x, int y) {
    if (x < 0) x = 0;
    if (y < 0) y = 0;
    if (x >= im->width) x = im->width - 1;
    if (y >= im->height) y = im->height - 1;
    const uint8_t *p = im->pixels + ((size_t)y * im->width + x) * 3;
    return (p[0] + p[1] + p[2]) / 3;
}

// Loads the split, checks it against the report and measures how it looks.
static void check_split(const yl_data_split *split, int nc, int images, int backgrounds, int objects, appearance *a) {
    yl_dataset ds;
    CHECK_OK(yl_dataset_build((const char *const *)split->images.paths, split->images.count, nc, &ds));
    CHECK(ds.count == images && ds.counts.backgrounds == backgrounds && ds.counts.empty == backgrounds &&
              ds.counts.missing == 0 && ds.counts.corrupt == 0 && ds.counts.instances == objects &&
              ds.counts.duplicates == 0,
          "split: %d images %d backgrounds %d objects (report %d %d %d), %d corrupt", ds.count, ds.counts.backgrounds,
          ds.counts.instances, images, backgrounds, objects, ds.counts.corrupt);
    CHECK(ds.warning_count == 0, "%d warnings, first: %s", ds.warning_count, ds.warning_count ? ds.warnings[0] : "");
    double pixels = 0;
    for (int i = 0; i < ds.count; i++) {
        yl_sample s;
        CHECK_OK(yl_dataset_load_sample(&ds, i, 0, &s));
        if (!s.image.pixels) continue;
        CHECK(s.image.width == 64 && (s.image.height == 64 || s.image.height == 48), "size %dx%d", s.image.width,
              s.image.height);
        for (size_t p = 0; p < (size_t)s.image.width * s.image.height; p++)
            a->red_minus_blue += s.image.pixels[3 * p] - s.image.pixels[3 * p + 2];
        pixels += (double)s.image.width * s.image.height;
        for (int k = 0; k < s.label_count; k++) {
            const yl_box_label *b = &s.labels[k];
            CHECK(b->cls >= 0 && b->cls < nc && b->cx - b->w / 2 >= 0 && b->cx + b->w / 2 <= 1 && b->cy - b->h / 2 >= 0 &&
                      b->cy + b->h / 2 <= 1 && b->w > 0 && b->h > 0,
                  "box inside the image");
            a->box_area += b->w * b->h;
            int cx = (int)(b->cx * s.image.width), cy = (int)(b->cy * s.image.height);
            int hw = (int)(b->w * s.image.width / 2) + 2, hh = (int)(b->h * s.image.height / 2) + 2;
            int centre = 0, darkest = 255;  // a hole can be 3 px wide at imgsz 64: take its darkest pixel
            for (int dy = -1; dy <= 1; dy++)
                for (int dx = -1; dx <= 1; dx++) {
                    int l = luminance(&s.image, cx + dx, cy + dy);
                    centre += l;
                    darkest = l < darkest ? l : darkest;
                }
            centre /= 9;
            int ring = (luminance(&s.image, cx - hw, cy) + luminance(&s.image, cx + hw, cy) +
                        luminance(&s.image, cx, cy - hh) + luminance(&s.image, cx, cy + hh)) / 4;
            if (b->cls == 2) {
                a->holes++;
                a->dark_holes += darkest < 40;
            } else {
                a->dents++;
                a->dark_dents += centre + 8 < ring;
            }
        }
        yl_sample_free(&s);
    }
    if (pixels > 0) a->red_minus_blue /= pixels;
    yl_dataset_free(&ds);
}

static appearance check_dataset(const yl_synth_options *o, const yl_synth_report *r) {
    appearance a = {0};
    char *yaml = yaml_of(o);
    yl_data_config cfg;
    CHECK_OK(yl_data_yaml_load(yaml, &cfg));
    CHECK(cfg.nc == 3 && !strcmp(cfg.names[0], "dentado") && !strcmp(cfg.names[1], "concave") &&
              !strcmp(cfg.names[2], "perforation"),
          "data.yaml names");
    CHECK(r->images[0] == 18 && r->images[1] == 6, "24 images at val_fraction 0.25: %d + %d", r->images[0], r->images[1]);
    CHECK(cfg.train.images.count == r->images[0] && cfg.val.images.count == r->images[1], "split sizes");
    if (cfg.train.images.count) check_split(&cfg.train, cfg.nc, r->images[0], r->backgrounds[0], r->objects[0], &a);
    appearance val = {0};
    if (cfg.val.images.count) check_split(&cfg.val, cfg.nc, r->images[1], r->backgrounds[1], r->objects[1], &val);
    int total = 0;
    for (int c = 0; c < 3; c++) total += r->objects_per_class[c];
    CHECK(total == r->objects[0] + r->objects[1] && r->objects_per_class[0] > 0 && r->objects_per_class[1] > 0 &&
              r->objects_per_class[2] > 0,
          "objects per class %d %d %d", r->objects_per_class[0], r->objects_per_class[1], r->objects_per_class[2]);
    if (r->objects[0] > 0) a.box_area /= r->objects[0];
    yl_data_config_free(&cfg);
    free(yaml);
    return a;
}

static int same_tree(const yl_synth_options *a, const yl_synth_options *b, int *files) {
    const char *dirs[] = {"images/train", "images/val", "labels/train", "labels/val"};
    int same = 1;
    *files = 0;
    for (int d = 0; d < 4; d++) {
        char *da = yl_path_join(a->out_dir, dirs[d]), *db = yl_path_join(b->out_dir, dirs[d]);
        DIR *dir = opendir(da);
        struct dirent *e;
        while (dir && (e = readdir(dir)) != NULL) {
            if (e->d_name[0] == '.') continue;
            char *fa = yl_path_join(da, e->d_name), *fb = yl_path_join(db, e->d_name);
            same &= data_test_same_file(fa, fb);
            (*files)++;
            free(fa);
            free(fb);
        }
        if (dir) closedir(dir);
        free(da);
        free(db);
    }
    char *ya = yaml_of(a), *yb = yaml_of(b);
    same &= data_test_same_file(ya, yb);
    free(ya);
    free(yb);
    return same;
}

static void check_write_and_determinism(void) {
    yl_synth_options a = small_options("a", 3, 0.0f), b = small_options("b", 3, 0.0f), c = small_options("c", 4, 0.0f);
    yl_synth_options s = small_options("shifted", 3, 1.0f);
    yl_synth_report ra, rb, rc, rs;
    CHECK_OK(yl_synth_write(&a, &ra));
    CHECK_OK(yl_synth_write(&b, &rb));
    CHECK_OK(yl_synth_write(&c, &rc));
    CHECK_OK(yl_synth_write(&s, &rs));
    int files = 0;
    CHECK(same_tree(&a, &b, &files) && files == 48, "same seed: %d files, byte-identical expected", files);
    CHECK(!same_tree(&a, &c, &files), "another seed gives other bytes");
    CHECK(!memcmp(&ra, &rb, sizeof ra), "same report");
    appearance plain = check_dataset(&a, &ra);
    appearance shifted = check_dataset(&s, &rs);
    printf("  shift 0: R-B %.1f, box area %.4f, dark holes %d/%d, dark dents %d/%d\n", plain.red_minus_blue,
           plain.box_area, plain.dark_holes, plain.holes, plain.dark_dents, plain.dents);
    printf("  shift 1: R-B %.1f, box area %.4f, dark holes %d/%d, dark dents %d/%d\n", shifted.red_minus_blue,
           shifted.box_area, shifted.dark_holes, shifted.holes, shifted.dark_dents, shifted.dents);
    CHECK(plain.holes > 0 && plain.dark_holes == plain.holes, "every perforation is near-black at its centre (%d/%d)",
          plain.dark_holes, plain.holes);
    CHECK(plain.dents > 0 && plain.dark_dents >= plain.dents * 9 / 10,
          "dents and concave areas darker at the centre than around the box (%d/%d)", plain.dark_dents, plain.dents);
    CHECK(plain.red_minus_blue < -3.0 && shifted.red_minus_blue > 3.0, "shift turns the cast from cool (%.1f) to warm (%.1f)",
          plain.red_minus_blue, shifted.red_minus_blue);
    CHECK(shifted.box_area > 1.3 * plain.box_area, "shift enlarges the defects (%.4f vs %.4f)", shifted.box_area,
          plain.box_area);
    // Writing again into the same folder is refused.
    yl_synth_report r;
    CHECK_STATUS(yl_synth_write(&a, &r), YL_ERR_IO);
    CHECK(data_test_contains(yl_last_error(), "already exists"), "%s", yl_last_error());
    free((char *)a.out_dir);
    free((char *)b.out_dir);
    free((char *)c.out_dir);
    free((char *)s.out_dir);
}

static void check_options(void) {
    yl_synth_report r;
    yl_synth_options o = small_options("bad", 0, 0.0f);
    const char *two[] = {"dent", "hole"};
    o.class_names = two;
    o.class_count = 2;
    CHECK_OK(yl_synth_write(&o, &r));
    CHECK(r.objects_per_class[2] == 0 && r.objects_per_class[0] + r.objects_per_class[1] == r.objects[0] + r.objects[1],
          "two classes: only kinds 0 and 1");
    char *yaml = yaml_of(&o);
    yl_data_config cfg;
    CHECK_OK(yl_data_yaml_load(yaml, &cfg));
    CHECK(cfg.nc == 2 && !strcmp(cfg.names[1], "hole"), "data.yaml with 2 classes");
    yl_data_config_free(&cfg);
    free(yaml);
    free((char *)o.out_dir);

    struct {
        int n, imgsz;
        float shift, val_fraction;
        int class_count;
    } bad[] = {{1, 64, 0, 0.2f, 3}, {10, 16, 0, 0.2f, 3}, {10, 64, 1.5f, 0.2f, 3}, {10, 64, -0.1f, 0.2f, 3},
               {10, 64, 0, 0.0f, 3}, {10, 64, 0, 1.0f, 3}, {10, 64, 0, 0.2f, 4}, {10, 64, 0, 0.2f, 0}};
    const char *names[] = {"a", "b", "c", "d"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        yl_synth_options x = yl_synth_defaults();
        x.out_dir = "/nonexistent/never_written";
        x.n = bad[i].n;
        x.imgsz = bad[i].imgsz;
        x.shift = bad[i].shift;
        x.val_fraction = bad[i].val_fraction;
        x.class_names = names;
        x.class_count = bad[i].class_count;
        CHECK_STATUS(yl_synth_write(&x, &r), YL_ERR_INVALID_ARG);
    }
    const char *repeated[] = {"a", "a"};
    yl_synth_options x = yl_synth_defaults();
    x.out_dir = "/nonexistent/never_written";
    x.class_names = repeated;
    x.class_count = 2;
    CHECK_STATUS(yl_synth_write(&x, &r), YL_ERR_INVALID_ARG);
    CHECK(data_test_contains(yl_last_error(), "appears twice"), "%s", yl_last_error());
    x = yl_synth_defaults();
    CHECK_STATUS(yl_synth_write(&x, &r), YL_ERR_INVALID_ARG);  // no out_dir
    CHECK_STATUS(yl_synth_write(NULL, &r), YL_ERR_INVALID_ARG);
    yl_image_u8 im;
    yl_box_label labels[YL_SYNTH_MAX_OBJECTS];
    int count;
    CHECK_STATUS(yl_synth_render(&x, -1, &im, labels, &count), YL_ERR_INVALID_ARG);
}

static void check_cli(void) {
    char *out = yl_path_join(tmp, "cli");
    char out_arg[600];
    snprintf(out_arg, sizeof out_arg, "out=%s", out);
    char *ok[] = {out_arg, "n=6", "imgsz=32", "seed=1", "shift=0.5", "val_fraction=0.5", "classes=x,y,z"};
    CHECK(yl_cmd_synth(7, ok) == 0, "yoloop synth %s ... exits 0", out_arg);
    char *yaml = yl_path_join(out, "data.yaml");
    yl_data_config cfg;
    CHECK_OK(yl_data_yaml_load(yaml, &cfg));
    CHECK(cfg.nc == 3 && !strcmp(cfg.names[2], "z") && cfg.train.images.count == 3 && cfg.val.images.count == 3,
          "cli dataset");
    yl_data_config_free(&cfg);
    free(yaml);
    char *help[] = {"--help"};
    CHECK(yl_cmd_synth(1, help) == 0, "--help exits 0");
    char *unknown[] = {out_arg, "colour=red"};
    CHECK(yl_cmd_synth(2, unknown) == 2, "unknown key exits 2");
    char *bad_n[] = {out_arg, "n=abc"};
    CHECK(yl_cmd_synth(2, bad_n) == 2, "bad n exits 2");
    char *four[] = {out_arg, "classes=a,b,c,d"};
    CHECK(yl_cmd_synth(2, four) == 2, "four classes exit 2");
    char *no_out[] = {"n=5"};
    CHECK(yl_cmd_synth(1, no_out) == 2, "missing out= exits 2");
    char *again[] = {out_arg};
    CHECK(yl_cmd_synth(1, again) == 1, "existing output exits 1");
    free(out);
}

int main(void) {
    tmp = data_test_tempdir();
    check_write_and_determinism();
    check_options();
    check_cli();
    data_test_remove_tree(tmp);
    free(tmp);
    return yl_test_finish("test_synth");
}
