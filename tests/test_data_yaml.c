// data.yaml: required keys, names as a list or {id: name} map, nc consistency, dataset root and
// split resolution (directory scan, .txt lists, YAML lists, the "../" retry), and the error
// messages naming the file, the line and the key.
#define _XOPEN_SOURCE 700  // realpath, symlink
#include "data_test_util.h"
#include "engine/data/data_yaml.h"
#include "test_common.h"

#define TINY YL_TEST_FIXTURES "/data/tiny"

static char *tiny_root;  // realpath of the fixture dataset
static char *tmp;

static const char *tail_of(const char *path) {
    size_t n = strlen(tiny_root);
    return strncmp(path, tiny_root, n) ? path : path + n;
}

static void check_fixture_yaml(void) {
    yl_data_config cfg;
    CHECK_OK(yl_data_yaml_load(TINY "/data.yaml", &cfg));
    CHECK(cfg.nc == 3 && cfg.names && !strcmp(cfg.names[0], "alpha") && !strcmp(cfg.names[2], "gamma"),
          "names list: nc %d", cfg.nc);
    CHECK(cfg.root && !strcmp(cfg.root, tiny_root), "root %s (the yaml's folder) expected %s", cfg.root, tiny_root);
    CHECK(cfg.channels == 3 && !cfg.has_test && cfg.test.images.count == 0, "channels 3, no test split");
    static const char *expected_train[] = {"/images/train/a.png",   "/images/train/b.jpg", "/images/train/broken.png",
                                           "/images/train/c.bmp",   "/images/train/d.png", "/images/train/e.png",
                                           "/images/train/f.png",   "/images/train/small.png",
                                           "/images/train/sub/g.png"};
    CHECK(cfg.train.images.count == 9, "train: %d images (hidden files and notes.txt skipped), expected 9",
          cfg.train.images.count);
    for (int i = 0; i < cfg.train.images.count && i < 9; i++)
        CHECK(!strcmp(tail_of(cfg.train.images.paths[i]), expected_train[i]), "train[%d] = %s, expected %s", i,
              cfg.train.images.paths[i], expected_train[i]);
    CHECK(cfg.val.images.count == 1 && !strcmp(tail_of(cfg.val.images.paths[0]), "/images/val/v.png"), "val");
    yl_data_config_free(&cfg);
}

// Writes tmp/<name> with `text` ("$ROOT" replaced by the fixture root) and loads it.
static yl_status load_text(const char *name, const char *text, yl_data_config *cfg) {
    char expanded[4096];
    const char *at = strstr(text, "$ROOT");
    if (at)
        snprintf(expanded, sizeof expanded, "%.*s%s%s", (int)(at - text), text, tiny_root, at + 5);
    else
        snprintf(expanded, sizeof expanded, "%s", text);
    char *path = data_test_write(tmp, name, expanded);
    yl_clear_error();
    yl_status status = yl_data_yaml_load(path, cfg);
    free(path);
    return status;
}

// A failing yaml: the status and a message holding "<file>:<line>: <words>" (line 0: no line).
static void expect_error(const char *name, const char *text, yl_status expected, int line, const char *words) {
    yl_data_config cfg;
    yl_status status = load_text(name, text, &cfg);
    char place[1024];
    if (line)
        snprintf(place, sizeof place, "%s/%s:%d: ", tmp, name, line);
    else
        snprintf(place, sizeof place, "%s/%s: ", tmp, name);
    CHECK(status == expected && data_test_contains(yl_last_error(), place) && data_test_contains(yl_last_error(), words),
          "%s: %s '%s', expected %s with '%s' and '%s'", name, yl_status_name(status), yl_last_error(),
          yl_status_name(expected), place, words);
    CHECK(cfg.names == NULL && cfg.train.images.count == 0 && cfg.root == NULL, "%s: config left empty", name);
}

static void check_names(void) {
    yl_data_config cfg;
    CHECK_OK(load_text("map.yaml", "path: $ROOT\ntrain: images/train\nval: images/val\nnames:\n  1: beta\n  0: alpha\n  2: gamma\n", &cfg));
    CHECK(cfg.nc == 3 && !strcmp(cfg.names[0], "alpha") && !strcmp(cfg.names[1], "beta") && !strcmp(cfg.names[2], "gamma"),
          "names map in any order");
    yl_data_config_free(&cfg);
    CHECK_OK(load_text("map_repeat.yaml", "path: $ROOT\ntrain: images/train\nval: images/val\nnames: {0: a, 1: b, 1: c}\n", &cfg));
    CHECK(cfg.nc == 2 && !strcmp(cfg.names[1], "c"), "a repeated id keeps its last name (nc %d)", cfg.nc);
    yl_data_config_free(&cfg);
    CHECK_OK(load_text("nc_only.yaml", "path: $ROOT\ntrain: images/train\nval: images/val\nnc: 2\n", &cfg));
    CHECK(cfg.nc == 2 && !strcmp(cfg.names[0], "class_0") && !strcmp(cfg.names[1], "class_1"), "nc only");
    yl_data_config_free(&cfg);
    CHECK_OK(load_text("both.yaml", "path: $ROOT\ntrain: images/train\nval: images/val\nnc: 2\nnames: ['a', \"b\"]\n", &cfg));
    CHECK(cfg.nc == 2 && !strcmp(cfg.names[1], "b"), "nc and names agree");
    yl_data_config_free(&cfg);

    expect_error("mismatch.yaml", "path: $ROOT\ntrain: images/train\nval: images/val\nnc: 2\nnames: [a, b, c]\n",
                 YL_ERR_FORMAT, 5, "names: 3 names but nc is 2");
    expect_error("gap.yaml", "path: $ROOT\ntrain: images/train\nval: images/val\nnames:\n  0: a\n  2: c\n", YL_ERR_FORMAT,
                 6, "names: a 2-class dataset needs class indices 0-1, not 2");
    expect_error("bad_key.yaml", "path: $ROOT\ntrain: images/train\nval: images/val\nnames:\n  zero: a\n", YL_ERR_FORMAT,
                 5, "names: key 'zero' is not a class index");
    expect_error("null_name.yaml", "path: $ROOT\ntrain: images/train\nval: images/val\nnames: [a, ~, c]\n", YL_ERR_FORMAT,
                 4, "names[1]: expected a class name");
    expect_error("nested.yaml", "path: $ROOT\ntrain: images/train\nval: images/val\nnames: [a, {b: 1}]\n", YL_ERR_FORMAT,
                 4, "names[1]");
    expect_error("scalar_names.yaml", "path: $ROOT\ntrain: images/train\nval: images/val\nnames: abc\n", YL_ERR_FORMAT, 4,
                 "names: expected a list or a {id: name} map");
    expect_error("bad_nc.yaml", "path: $ROOT\ntrain: images/train\nval: images/val\nnc: two\n", YL_ERR_FORMAT, 4,
                 "nc: expected an integer");
    expect_error("zero_nc.yaml", "path: $ROOT\ntrain: images/train\nval: images/val\nnc: 0\n", YL_ERR_FORMAT, 4,
                 "nc: expected an integer");
    expect_error("no_names.yaml", "path: $ROOT\ntrain: images/train\nval: images/val\n", YL_ERR_FORMAT, 0,
                 "'names' (or 'nc') is missing");
}

static void check_required_keys(void) {
    expect_error("no_train.yaml", "path: $ROOT\nval: images/val\nnames: [a]\n", YL_ERR_FORMAT, 0, "'train' is missing");
    expect_error("no_val.yaml", "path: $ROOT\ntrain: images/train\nnames: [a]\n", YL_ERR_FORMAT, 0, "'val' is missing");
    expect_error("null_val.yaml", "path: $ROOT\ntrain: images/train\nval:\nnames: [a]\n", YL_ERR_FORMAT, 0,
                 "'val' is missing");
    yl_data_config cfg;
    CHECK_OK(load_text("validation.yaml", "path: $ROOT\ntrain: images/train\nvalidation: images/val\nnames: [a]\n", &cfg));
    CHECK(cfg.val.images.count == 1, "'validation' stands for 'val'");
    yl_data_config_free(&cfg);
    expect_error("channels.yaml", "path: $ROOT\ntrain: images/train\nval: images/val\nnames: [a]\nchannels: 1\n",
                 YL_ERR_UNSUPPORTED, 5, "channels: only 3");
    expect_error("syntax.yaml", "train: images/train\nval: [images/val\nnames: [a]\n", YL_ERR_FORMAT, 3,
                 "YAML syntax error");
    expect_error("list_top.yaml", "- train\n- val\n", YL_ERR_FORMAT, 1, "expected a mapping");
    expect_error("empty.yaml", "", YL_ERR_FORMAT, 0, "empty file");
    CHECK_STATUS(yl_data_yaml_load(TINY "/no_such.yaml", &cfg), YL_ERR_IO);
    CHECK(data_test_contains(yl_last_error(), "no_such.yaml"), "%s", yl_last_error());
    CHECK_STATUS(yl_data_yaml_load(NULL, &cfg), YL_ERR_INVALID_ARG);
    CHECK_STATUS(yl_data_yaml_load(TINY "/data.yaml", NULL), YL_ERR_INVALID_ARG);
}

static void check_paths(void) {
    yl_data_config cfg;
    // A YAML list of folders, joined to `path`, merged and sorted; a test split.
    CHECK_OK(load_text("list.yaml", "path: $ROOT\ntrain: [images/val, images/train/sub]\nval: images/val\ntest: images/val\nnames: [a]\n", &cfg));
    CHECK(cfg.train.images.count == 2 && cfg.train.sources.count == 2 &&
              !strcmp(tail_of(cfg.train.images.paths[0]), "/images/train/sub/g.png") &&
              !strcmp(tail_of(cfg.train.images.paths[1]), "/images/val/v.png"),
          "list of folders: %d images", cfg.train.images.count);
    CHECK(cfg.has_test && cfg.test.images.count == 1, "test split");
    yl_data_config_free(&cfg);
    // A .txt list: "./" lines relative to the list's folder, others as given.
    CHECK_OK(load_text("txt.yaml", "path: $ROOT\ntrain: list.txt\nval: images/val\nnames: [a]\n", &cfg));
    CHECK(cfg.train.images.count == 3, "list.txt: %d images", cfg.train.images.count);
    if (cfg.train.images.count == 3) {
        CHECK(!strcmp(tail_of(cfg.train.images.paths[0]), "/images/train/a.png") &&
                  !strcmp(tail_of(cfg.train.images.paths[1]), "/images/val/v.png") &&
                  !strcmp(cfg.train.images.paths[2], "images/not_relative_to_the_list.png"),
              "list.txt entries: %s %s %s", cfg.train.images.paths[0], cfg.train.images.paths[1],
              cfg.train.images.paths[2]);
    }
    yl_data_config_free(&cfg);
    // "../x" that does not exist under the root is retried as "x".
    CHECK_OK(load_text("parent.yaml", "path: $ROOT\ntrain: ../images/train/sub\nval: images/val\nnames: [a]\n", &cfg));
    CHECK(cfg.train.images.count == 1, "../ retry");
    yl_data_config_free(&cfg);
    // A relative `path` is looked up next to the yaml file (through a symlink, resolved).
    char *link = yl_path_join(tmp, "dataset_link");
    CHECK(symlink(tiny_root, link) == 0, "symlink");
    CHECK_OK(load_text("relative_root.yaml", "path: dataset_link\ntrain: images/train\nval: images/val\nnames: [a]\n", &cfg));
    CHECK(cfg.root && !strcmp(cfg.root, tiny_root), "relative root resolved to %s", cfg.root);
    yl_data_config_free(&cfg);
    free(link);
    // Absolute split entries need no `path`; the root is then the yaml's folder.
    CHECK_OK(load_text("absolute.yaml", "train: $ROOT/images/train/sub\nval: images_v\nnames: [a]\n", &cfg) == YL_OK
                 ? YL_ERR_FORMAT
                 : YL_OK);  // images_v is relative to the yaml's folder, where it does not exist
    CHECK(data_test_contains(yl_last_error(), "val: '") && data_test_contains(yl_last_error(), "/images_v' does not exist"),
          "%s", yl_last_error());
    expect_error("missing_val.yaml", "path: $ROOT\ntrain: images/train\n\nval: images/nowhere\nnames: [a]\n", YL_ERR_IO, 4,
                 "val: '");
    CHECK(data_test_contains(yl_last_error(), "/images/nowhere' does not exist"), "%s", yl_last_error());
    expect_error("missing_root.yaml", "path: /no/such/root\ntrain: images/train\nval: images/val\nnames: [a]\n",
                 YL_ERR_IO, 1, "path: dataset root '/no/such/root' is not a directory");
    expect_error("missing_list_item.yaml", "path: $ROOT\ntrain:\n  - images/train\n  - images/nope\nval: images/val\nnames: [a]\n",
                 YL_ERR_IO, 4, "train: '");
    expect_error("mapping_split.yaml", "path: $ROOT\ntrain: {a: b}\nval: images/val\nnames: [a]\n", YL_ERR_FORMAT, 2,
                 "train: expected a path or a list of paths");
    char *empty_dir = yl_path_join(tmp, "empty_split");
    CHECK_OK(yl_make_directories(empty_dir));
    char text[1024];
    snprintf(text, sizeof text, "path: $ROOT\ntrain: images/train\nval: %s\nnames: [a]\n", empty_dir);
    expect_error("no_images.yaml", text, YL_ERR_FORMAT, 3, "val: no images found in");
    free(empty_dir);
}

int main(void) {
    tiny_root = realpath(TINY, NULL);
    if (!tiny_root) {
        fprintf(stderr, "test: fixture %s missing\n", TINY);
        return 1;
    }
    tmp = data_test_tempdir();
    check_fixture_yaml();
    check_names();
    check_required_keys();
    check_paths();
    data_test_remove_tree(tmp);
    free(tmp);
    free(tiny_root);
    return yl_test_finish("test_data_yaml");
}
