// Label files: the image -> label path rule, parsing and every Ultralytics check, with the file
// and line in each message; duplicates removed with np.unique's re-ordering; polygons -> boxes.
#include "data_test_util.h"
#include "engine/data/labels.h"
#include "test_common.h"

#define FIXTURE(name) YL_TEST_FIXTURES "/data/labels/" name

static void check_path_rule(void) {
    struct {
        const char *image, *label;
    } cases[] = {
        {"datasets/x/images/train/a.jpg", "datasets/x/labels/train/a.txt"},
        {"/d/images/x/images/b.PNG", "/d/images/x/labels/b.txt"},  // only the last /images/
        {"/d/images_extra/train/c.jpeg", "/d/images_extra/train/c.txt"},  // not a component
        {"images/train/d.bmp", "labels/train/d.txt"},
        {"/flat/e.jpg", "/flat/e.txt"},
        {"/d/images/train.v2/noext", "/d/labels/train.v2/noext.txt"},  // dot in a folder name only
        {"/d/images/f.tar.jpg", "/d/labels/f.tar.txt"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *label = yl_label_path_for_image(cases[i].image);
        CHECK(label && !strcmp(label, cases[i].label), "%s -> %s, expected %s", cases[i].image, label ? label : "NULL",
              cases[i].label);
        free(label);
    }
    CHECK(yl_label_path_for_image(NULL) == NULL, "NULL path gives NULL");
}

static void check_box(const yl_box_label *b, int cls, float cx, float cy, float w, float h, const char *what) {
    float tol = 1e-6f;
    CHECK(b->cls == cls && fabsf(b->cx - cx) < tol && fabsf(b->cy - cy) < tol && fabsf(b->w - w) < tol &&
              fabsf(b->h - h) < tol,
          "%s: got %d %g %g %g %g, expected %d %g %g %g %g", what, b->cls, b->cx, b->cy, b->w, b->h, cls, cx, cy, w, h);
}

static void check_good_files(void) {
    yl_label_file lf;
    CHECK_OK(yl_labels_read(FIXTURE("ok.txt"), 3, &lf));
    CHECK(lf.count == 2 && !lf.missing && !lf.empty && !lf.polygons && !lf.duplicates_removed, "ok.txt: %d boxes",
          lf.count);
    if (lf.count == 2) {
        check_box(&lf.boxes[0], 0, 0.5f, 0.5f, 0.2f, 0.3f, "ok.txt row 1");
        check_box(&lf.boxes[1], 1, 0.1f, 0.2f, 0.05f, 0.05f, "ok.txt row 2");
    }
    yl_label_file_free(&lf);

    CHECK_OK(yl_labels_read(FIXTURE("blank_lines_crlf.txt"), 3, &lf));
    CHECK(lf.count == 2, "blank lines and CRLF: %d boxes, expected 2", lf.count);
    if (lf.count == 2) check_box(&lf.boxes[1], 2, 0.25f, 0.75f, 0.1f, 0.1f, "crlf row 2");
    yl_label_file_free(&lf);

    // 1 % tolerance: 1.005, -0.005 and 1.01 are accepted and kept as written (not clipped).
    CHECK_OK(yl_labels_read(FIXTURE("tolerance.txt"), 2, &lf));
    CHECK(lf.count == 2, "tolerance.txt: %d boxes", lf.count);
    if (lf.count == 2) {
        check_box(&lf.boxes[0], 0, 1.005f, 0.5f, 0.2f, 0.3f, "tolerance row 1");
        check_box(&lf.boxes[1], 1, 0.5f, -0.005f, 1.01f, 0.3f, "tolerance row 2");
    }
    yl_label_file_free(&lf);

    CHECK_OK(yl_labels_read(FIXTURE("empty.txt"), 3, &lf));
    CHECK(lf.count == 0 && lf.empty && !lf.missing, "empty.txt: count %d empty %d missing %d", lf.count, lf.empty,
          lf.missing);
    yl_label_file_free(&lf);
    CHECK_OK(yl_labels_read(FIXTURE("whitespace_only.txt"), 3, &lf));
    CHECK(lf.count == 0 && lf.empty, "whitespace-only file is empty");
    yl_label_file_free(&lf);
    CHECK_OK(yl_labels_read(FIXTURE("does_not_exist.txt"), 3, &lf));
    CHECK(lf.count == 0 && lf.missing && !lf.empty, "missing file: missing %d empty %d", lf.missing, lf.empty);
    yl_label_file_free(&lf);
    CHECK_STATUS(yl_labels_read(YL_TEST_FIXTURES "/data/labels", 3, &lf), YL_ERR_IO);
}

// A bad file fails as a whole with a message naming the file and the line.
static void check_bad(const char *name, int nc, const char *line_tag, const char *words) {
    char path[512];
    snprintf(path, sizeof path, "%s/data/labels/%s", YL_TEST_FIXTURES, name);
    yl_label_file lf;
    CHECK_STATUS(yl_labels_read(path, nc, &lf), YL_ERR_FORMAT);
    char expected_place[600];
    snprintf(expected_place, sizeof expected_place, "%s:%s: ", path, line_tag);
    CHECK(data_test_contains(yl_last_error(), expected_place) && data_test_contains(yl_last_error(), words),
          "%s: message '%s' should contain '%s' and '%s'", name, yl_last_error(), expected_place, words);
    CHECK(lf.count == 0 && lf.boxes == NULL, "%s: no boxes after a failure", name);
}

static void check_bad_files(void) {
    check_bad("bad_columns.txt", 3, "2", "labels require 5 columns, 4 columns detected");
    check_bad("six_columns.txt", 3, "2", "labels require 5 columns, 6 columns detected");
    check_bad("out_of_bounds.txt", 3, "2", "out of bounds coordinate 1.2 > 1.01");
    check_bad("negative.txt", 3, "2", "negative coordinate -0.02 < -0.01");
    check_bad("class_range.txt", 3, "3", "class 3 >= nc 3");
    check_bad("fractional_class.txt", 3, "1", "class 1.5 is not a non-negative integer");
    check_bad("negative_class.txt", 3, "1", "class -1 is not a non-negative integer");
    check_bad("not_a_number.txt", 3, "2", "'abc' is not a finite number");
    check_bad("nan.txt", 3, "1", "'nan' is not a finite number");
    check_bad("polygon_odd.txt", 3, "2", "polygon labels need a class and x y pairs, 4 values found");
    check_bad("polygon_out_of_bounds.txt", 3, "1", "out of bounds coordinate 1.1");
    // The same class-range file is fine with more classes.
    yl_label_file lf;
    CHECK_OK(yl_labels_read(FIXTURE("class_range.txt"), 4, &lf));
    CHECK(lf.count == 3, "class_range.txt with nc 4: %d boxes", lf.count);
    yl_label_file_free(&lf);
}

static void check_duplicates(void) {
    yl_label_file lf;
    CHECK_OK(yl_labels_read(FIXTURE("duplicates.txt"), 3, &lf));
    CHECK(lf.count == 3 && lf.duplicates_removed == 3, "duplicates.txt: %d boxes, %d removed (expected 3, 3)", lf.count,
          lf.duplicates_removed);
    if (lf.count == 3) {  // np.unique order: sorted by class, then cx, cy, w, h
        check_box(&lf.boxes[0], 0, 0.7f, 0.2f, 0.1f, 0.1f, "unique row 1");
        check_box(&lf.boxes[1], 1, 0.3f, 0.3f, 0.2f, 0.2f, "unique row 2");
        check_box(&lf.boxes[2], 2, 0.5f, 0.5f, 0.1f, 0.1f, "unique row 3");
    }
    yl_label_file_free(&lf);
    // Without duplicates, the file order stays.
    CHECK_OK(yl_labels_read(FIXTURE("no_duplicates.txt"), 3, &lf));
    CHECK(lf.count == 3 && lf.duplicates_removed == 0 && lf.boxes[0].cls == 2 && lf.boxes[1].cls == 0 &&
              lf.boxes[2].cls == 1,
          "no_duplicates.txt keeps the file order");
    yl_label_file_free(&lf);
    // Rows equal in all but one value are not duplicates; the sort breaks ties on later columns.
    const char *text = "1 0.5 0.5 0.2 0.3\n1 0.5 0.5 0.2 0.1\n1 0.5 0.5 0.2 0.3\n0 0.9 0.1 0.1 0.1\n";
    CHECK_OK(yl_labels_parse(text, strlen(text), "inline.txt", 2, &lf));
    CHECK(lf.count == 3 && lf.duplicates_removed == 1, "inline: %d boxes, %d removed", lf.count, lf.duplicates_removed);
    if (lf.count == 3) {
        check_box(&lf.boxes[0], 0, 0.9f, 0.1f, 0.1f, 0.1f, "inline 1");
        check_box(&lf.boxes[1], 1, 0.5f, 0.5f, 0.2f, 0.1f, "inline 2");
        check_box(&lf.boxes[2], 1, 0.5f, 0.5f, 0.2f, 0.3f, "inline 3");
    }
    yl_label_file_free(&lf);
}

static void check_polygons(void) {
    yl_label_file lf;
    CHECK_OK(yl_labels_read(FIXTURE("polygon.txt"), 3, &lf));
    CHECK(lf.count == 2 && lf.polygons, "polygon.txt: %d boxes, polygons %d", lf.count, lf.polygons);
    if (lf.count == 2) {
        // x in [0.1, 0.9], y in [0.1, 0.8]; the 5-value line is a 2-point polygon in this file.
        check_box(&lf.boxes[0], 0, (0.1f + 0.9f) / 2, (0.1f + 0.8f) / 2, 0.9f - 0.1f, 0.8f - 0.1f, "polygon 1");
        check_box(&lf.boxes[1], 1, (0.2f + 0.4f) / 2, (0.2f + 0.4f) / 2, 0.4f - 0.2f, 0.4f - 0.2f, "polygon 2");
    }
    yl_label_file_free(&lf);
}

static void check_api_errors(void) {
    yl_label_file lf;
    CHECK_STATUS(yl_labels_read(NULL, 3, &lf), YL_ERR_INVALID_ARG);
    CHECK_STATUS(yl_labels_read(FIXTURE("ok.txt"), 3, NULL), YL_ERR_INVALID_ARG);
    CHECK_STATUS(yl_labels_parse(NULL, 4, "x", 3, &lf), YL_ERR_INVALID_ARG);
    CHECK_OK(yl_labels_parse(NULL, 0, "x", 3, &lf));
    CHECK(lf.empty, "no text is an empty file");
    // nc <= 0 skips the class check
    const char *text = "42 0.5 0.5 0.1 0.1";
    CHECK_OK(yl_labels_parse(text, strlen(text), "x", 0, &lf));
    CHECK(lf.count == 1 && lf.boxes[0].cls == 42, "nc 0: class 42 kept");
    yl_label_file_free(&lf);
    // A huge class value is reported, not cast.
    text = "1e30 0.5 0.5 0.1 0.1";
    CHECK_STATUS(yl_labels_parse(text, strlen(text), "huge.txt", 3, &lf), YL_ERR_FORMAT);
    CHECK(data_test_contains(yl_last_error(), "huge.txt:1: class"), "%s", yl_last_error());
    // An over-long token is refused without overflow.
    char long_line[300];
    memset(long_line, '1', sizeof long_line - 1);
    long_line[sizeof long_line - 1] = '\0';
    CHECK_STATUS(yl_labels_parse(long_line, strlen(long_line), "long.txt", 3, &lf), YL_ERR_FORMAT);
}

int main(void) {
    check_path_rule();
    check_good_files();
    check_bad_files();
    check_duplicates();
    check_polygons();
    check_api_errors();
    return yl_test_finish("test_labels");
}
