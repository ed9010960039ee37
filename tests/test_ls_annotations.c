// Exported tasks -> per-image boxes (cli/labelstudio/annotations.h), from
// tests/fixtures/labelstudio/export_basic.json: a skipped task, two annotations on one task, ground
// truth beating a newer annotation, an empty annotation (background), a rotated box on a
// non-square image, PNG/JPEG and non-ASCII file names, predictions-only, imported, rejected,
// clamped and zero-area boxes, "$undefined$", a duplicated image, a multi-label region. Expected
// values are computed here from the fixture's numbers, independently of the parser.
#include <unistd.h>

#include "cli/labelstudio/annotations.h"
#include "cli/labelstudio/json_util.h"
#include "cli/labelstudio/url.h"
#include "test_common.h"

#define FIXTURE_DIR YL_TEST_FIXTURES "/labelstudio"
#define TOL 1e-9

static yl_ls_label_config load_config(void) {
    FILE *file = fopen(FIXTURE_DIR "/label_config.xml", "rb");
    char xml[4096] = {0};
    if (!file || fread(xml, 1, sizeof xml - 1, file) == 0) {
        fprintf(stderr, "cannot read the label config fixture\n");
        exit(2);
    }
    fclose(file);
    yl_ls_label_config config;
    if (yl_ls_label_config_parse(xml, NULL, &config) != YL_OK) {
        fprintf(stderr, "label config: %s\n", yl_last_error());
        exit(2);
    }
    return config;
}

static const yl_ls_image_labels *find_task(const yl_ls_annotation_set *set, long task_id) {
    for (int i = 0; i < set->num_images; i++)
        if (set->images[i].task_id == task_id) return &set->images[i];
    return NULL;
}

// Expected normalized box of an unrotated percent box, clamped to [0,1].
static void check_box(const yl_ls_box *b, int class_index, double x, double y, double w, double h, const char *what) {
    double x1 = fmax(0, x / 100), x2 = fmin(1, (x + w) / 100), y1 = fmax(0, y / 100), y2 = fmin(1, (y + h) / 100);
    CHECK(b->class_index == class_index, "%s: class %d, expected %d", what, b->class_index, class_index);
    CHECK(fabs(b->cx - (x1 + x2) / 2) < TOL && fabs(b->cy - (y1 + y2) / 2) < TOL && fabs(b->w - (x2 - x1)) < TOL &&
              fabs(b->h - (y2 - y1)) < TOL,
          "%s: got %.9f %.9f %.9f %.9f", what, b->cx, b->cy, b->w, b->h);
}

static void test_fixture(void) {
    yl_ls_label_config config = load_config();
    yl_ls_parse_options options = {.config = &config};
    yl_ls_annotation_set set;
    CHECK_OK(yl_ls_annotations_parse_file(FIXTURE_DIR "/export_basic.json", &options, &set));
    const yl_ls_annotation_counts *c = &set.counts;
    // 15 tasks, one per case listed at the top of this file.
    CHECK(c->tasks == 15, "tasks %ld", c->tasks);
    CHECK(set.num_images == 10 && c->images == 10, "images %d", set.num_images);
    CHECK(c->tasks_skipped == 1, "skipped %ld", c->tasks_skipped);
    CHECK(c->tasks_without_annotations == 1, "predictions only %ld", c->tasks_without_annotations);
    CHECK(c->tasks_unverified == 2, "imported + rejected %ld", c->tasks_unverified);
    CHECK(c->annotations_cancelled == 2 && c->annotations_unverified == 2, "cancelled %ld unverified %ld",
          c->annotations_cancelled, c->annotations_unverified);
    CHECK(c->annotations_not_chosen == 2, "not chosen (tasks 3 and 4) %ld", c->annotations_not_chosen);
    CHECK(c->duplicate_images == 1, "duplicates %ld", c->duplicate_images);
    CHECK(c->background_images == 1, "background %ld", c->background_images);
    CHECK(c->boxes_dropped_empty == 1 && c->boxes_clamped == 1 && c->boxes_rotated == 1 && c->boxes_needing_size == 0,
          "dropped %ld clamped %ld rotated %ld", c->boxes_dropped_empty, c->boxes_clamped, c->boxes_rotated);
    CHECK(c->regions_ignored == 2, "ignored regions %ld", c->regions_ignored);
    // boxes: t1 2, t3 2, t4 1, t6 1, t7 1, t8 1, t11 1, t12 1, t14 2 = 12
    CHECK(c->boxes == 12, "boxes %ld", c->boxes);

    const yl_ls_image_labels *t1 = find_task(&set, 1);
    CHECK(t1 && t1->num_boxes == 2 && t1->annotation_id == 101, "task 1 kept over its older duplicate (task 13)");
    if (t1 && t1->num_boxes == 2) {
        CHECK(
            !strcmp(t1->file_name, "2bd44c48-IMG_1842.JPG") && t1->original_width == 600 && t1->original_height == 400,
            "task 1 name %s size %dx%d", t1->file_name, t1->original_width, t1->original_height);
        check_box(&t1->boxes[0], 0, 10, 20, 30, 40, "task 1 box 0");
        check_box(&t1->boxes[1], 1, 50, 50, 25, 10, "task 1 box 1");
        CHECK(!strcmp(t1->updated_at, "2026-01-12T09:00:00.000000Z"), "updated_at kept");
    }
    CHECK(find_task(&set, 2) == NULL && find_task(&set, 13) == NULL && find_task(&set, 9) == NULL &&
              find_task(&set, 10) == NULL && find_task(&set, 15) == NULL,
          "skipped, duplicate, predictions-only, imported and rejected tasks left out");

    const yl_ls_image_labels *t3 = find_task(&set, 3);
    CHECK(t3 && t3->annotation_id == 104 && t3->num_boxes == 2 && t3->num_verified_annotations == 2,
          "task 3: the newer annotation");
    if (t3 && t3->num_boxes == 2) check_box(&t3->boxes[1], 1, 60, 60, 10, 10, "task 3 box 1");
    const yl_ls_image_labels *t4 = find_task(&set, 4);
    CHECK(t4 && t4->annotation_id == 105 && t4->ground_truth && t4->num_boxes == 1, "task 4: ground truth wins");

    const yl_ls_image_labels *t5 = find_task(&set, 5);
    CHECK(t5 && t5->num_boxes == 0 && !strcmp(t5->file_name, "a1b2c3d4-empty.png"), "task 5: background PNG");

    // Task 6: 20%x10% box at (50%, 20%) of 1000x500 px, turned 90 degrees clockwise about its
    // top-left corner (500, 100): corners (500,100) (500,300) (450,300) (450,100).
    const yl_ls_image_labels *t6 = find_task(&set, 6);
    CHECK(t6 && t6->num_boxes == 1, "task 6 has one box");
    if (t6 && t6->num_boxes == 1) {
        const yl_ls_box *b = &t6->boxes[0];
        CHECK(b->rotated && !b->needs_size && fabs(b->rotation - 90) < TOL, "rotated flags");
        CHECK(fabs(b->cx - 0.475) < 1e-9 && fabs(b->cy - 0.4) < 1e-9 && fabs(b->w - 0.05) < 1e-9 &&
                  fabs(b->h - 0.4) < 1e-9,
              "rotated hull in pixels: %.9f %.9f %.9f %.9f", b->cx, b->cy, b->w, b->h);
    }

    const yl_ls_image_labels *t7 = find_task(&set, 7);
    CHECK(t7 && !strcmp(t7->file_name, "9f8e7d6c-Stra\xc3\x9f" "e_\xe6\x97\xa5\xe6\x9c\xac.jpeg"),
          "non-ASCII upload name kept as UTF-8: %s", t7 ? t7->file_name : "");
    const yl_ls_image_labels *t8 = find_task(&set, 8);
    CHECK(t8 && strlen(t8->file_name) > 10 && !strcmp(t8->file_name + 10, "caf\xc3\xa9 n\xc3\xbc.jpg") &&
              !strncmp(t8->file_name + 8, "__", 2),
          "local-files name decoded with a hash prefix: %s", t8 ? t8->file_name : "");

    const yl_ls_image_labels *t11 = find_task(&set, 11);
    CHECK(t11 && t11->num_boxes == 1, "task 11: the zero-area box dropped");
    if (t11 && t11->num_boxes == 1) {
        CHECK(t11->boxes[0].clamped, "clamped flag");
        check_box(&t11->boxes[0], 0, 90, -5, 20, 30, "task 11 clamped box");
    }
    const yl_ls_image_labels *t12 = find_task(&set, 12);
    CHECK(t12 && !strcmp(t12->image_url, "/data/upload/1/12121212-undefined.jpg"), "$undefined$ data key");
    const yl_ls_image_labels *t14 = find_task(&set, 14);
    CHECK(t14 && t14->num_boxes == 2 && t14->boxes[0].class_index == 0 && t14->boxes[1].class_index == 1,
          "multi-label region -> one box per label; completed_by object and no last_action accepted");

    // YOLO label files.
    char path[] = "/tmp/yl_ls_labels_XXXXXX";
    int fd = mkstemp(path);
    close(fd);
    if (t1) {
        CHECK_OK(yl_ls_write_yolo_labels(t1, path));
        FILE *file = fopen(path, "r");
        char text[256] = {0};
        size_t n = file ? fread(text, 1, sizeof text - 1, file) : 0;
        if (file) fclose(file);
        CHECK(n > 0 && !strcmp(text, "0 0.250000 0.400000 0.300000 0.400000\n1 0.625000 0.550000 0.250000 0.100000\n"),
              "YOLO lines:\n%s", text);
    }
    if (t5) {
        CHECK_OK(yl_ls_write_yolo_labels(t5, path));
        FILE *file = fopen(path, "r");
        CHECK(file && fgetc(file) == EOF, "background image -> empty label file");
        if (file) fclose(file);
    }
    remove(path);
    yl_ls_annotation_set_free(&set);

    // Trusting imports brings task 10 in.
    options.trust_imported = 1;
    CHECK_OK(yl_ls_annotations_parse_file(FIXTURE_DIR "/export_basic.json", &options, &set));
    CHECK(set.num_images == 11 && find_task(&set, 10) != NULL, "trust_imported: %d images", set.num_images);
    yl_ls_annotation_set_free(&set);
    yl_ls_label_config_free(&config);
}

static void test_unknown_labels_and_bad_input(void) {
    yl_ls_label_config config = load_config();
    const char *text =
        "[{\"id\":1,\"data\":{\"image\":\"/data/upload/1/x.jpg\"},\"annotations\":[{\"id\":5,\"was_cancelled\":false,"
        "\"result\":[{\"from_name\":\"label\",\"type\":\"rectanglelabels\",\"value\":{\"x\":1,\"y\":1,\"width\":5,"
        "\"height\":5,\"rectanglelabels\":[\"Bicycle\"]}}]}]}]";
    cJSON *tasks = cJSON_Parse(text);
    yl_ls_parse_options options = {.config = &config};
    yl_ls_annotation_set set;
    CHECK_STATUS(yl_ls_annotations_parse(tasks, &options, &set), YL_ERR_FORMAT);
    CHECK(strstr(yl_last_error(), "'Bicycle'") && strstr(yl_last_error(), "'Airplane', 'Car'"),
          "unknown label named with the known ones: %s", yl_last_error());
    options.allow_unknown_labels = 1;
    CHECK_OK(yl_ls_annotations_parse(tasks, &options, &set));
    CHECK(set.num_unknown_labels == 1 && !strcmp(set.unknown_labels[0], "Bicycle") && set.num_images == 1 &&
              set.images[0].boxes[0].class_index == -1,
          "allowed unknown label recorded");
    CHECK_STATUS(yl_ls_write_yolo_labels(&set.images[0], "/tmp/never_written.txt"), YL_ERR_INVALID_ARG);
    yl_ls_annotation_set_free(&set);
    cJSON_Delete(tasks);

    // JSON_MIN-like rows, a non-array, a box without numbers, no config.
    cJSON *min = cJSON_Parse("[{\"image\":\"/data/upload/1/x.jpg\",\"label\":[]}]");
    CHECK_STATUS(yl_ls_annotations_parse(min, &options, &set), YL_ERR_FORMAT);
    CHECK(strstr(yl_last_error(), "JSON_MIN"), "JSON_MIN hint: %s", yl_last_error());
    cJSON_Delete(min);
    cJSON *object = cJSON_Parse("{\"tasks\":[]}");
    CHECK_STATUS(yl_ls_annotations_parse(object, &options, &set), YL_ERR_FORMAT);
    cJSON_Delete(object);
    cJSON *no_numbers = cJSON_Parse(
        "[{\"id\":3,\"data\":{\"image\":\"/data/upload/1/x.jpg\"},\"annotations\":[{\"id\":5,\"result\":[{\"type\":"
        "\"rectanglelabels\",\"value\":{\"x\":\"a\",\"rectanglelabels\":[\"Car\"]}}]}]}]");
    CHECK_STATUS(yl_ls_annotations_parse(no_numbers, &options, &set), YL_ERR_FORMAT);
    CHECK(strstr(yl_last_error(), "task 3"), "names the task: %s", yl_last_error());
    yl_ls_parse_options no_config = {0};
    CHECK_STATUS(yl_ls_annotations_parse(no_numbers, &no_config, &set), YL_ERR_INVALID_ARG);
    cJSON_Delete(no_numbers);
    CHECK_STATUS(yl_ls_annotations_parse_file("/nonexistent/export.json", &options, &set), YL_ERR_IO);
    yl_ls_label_config_free(&config);
}

static void test_rotation_without_size(void) {
    // 90 degrees, no image size: a square image is assumed and flagged; the real size fixes it.
    yl_ls_box box = {.x = 50, .y = 20, .width = 20, .height = 10, .rotation = 90};
    CHECK(yl_ls_box_normalize(&box, 0, 0), "area left");
    CHECK(box.needs_size && box.rotated, "needs the size");
    CHECK(fabs(box.cx - 0.45) < TOL && fabs(box.cy - 0.3) < TOL && fabs(box.w - 0.1) < TOL && fabs(box.h - 0.2) < TOL,
          "square assumption: %.9f %.9f %.9f %.9f", box.cx, box.cy, box.w, box.h);
    CHECK(yl_ls_box_normalize(&box, 1000, 500) && !box.needs_size, "renormalized");
    CHECK(fabs(box.cx - 0.475) < TOL && fabs(box.h - 0.4) < TOL, "with the size: %.9f %.9f", box.cx, box.h);
    // 360 and -360 are no rotation; 45 degrees on a square image: the hull of a turned square.
    yl_ls_box full = {.x = 10, .y = 10, .width = 10, .height = 10, .rotation = -360};
    yl_ls_box_normalize(&full, 100, 100);
    CHECK(!full.rotated && fabs(full.cx - 0.15) < TOL, "-360 is no rotation");
    yl_ls_box turned = {.x = 50, .y = 10, .width = 10, .height = 10, .rotation = 45};
    yl_ls_box_normalize(&turned, 200, 200);
    double half_diagonal = 10.0 * sqrt(2.0) / 2.0 / 100.0;  // in normalized units
    CHECK(fabs(turned.w - 2 * half_diagonal) < TOL && fabs(turned.h - 2 * half_diagonal) < TOL &&
              fabs(turned.cx - 0.5) < TOL,
          "45 degrees: %.9f %.9f %.9f", turned.cx, turned.w, turned.h);
    yl_ls_box outside = {.x = 120, .y = 10, .width = 10, .height = 10};
    CHECK(!yl_ls_box_normalize(&outside, 100, 100), "a box entirely outside has no area");
}

static void test_verification_and_timestamps(void) {
    static const struct {
        const char *json;
        int trust_imported, expected;
    } cases[] = {
        {"{\"was_cancelled\":false,\"last_action\":\"submitted\"}", 0, 1},
        {"{\"was_cancelled\":true,\"last_action\":\"submitted\"}", 0, 0},
        {"{\"last_action\":\"prediction\"}", 0, 0},
        {"{\"last_action\":\"propagated_annotation\"}", 0, 0},
        {"{\"last_action\":\"rejected\"}", 0, 0},
        {"{\"last_action\":\"imported\"}", 0, 0},
        {"{\"last_action\":\"imported\"}", 1, 1},
        {"{\"last_action\":\"imported\",\"ground_truth\":true}", 0, 1},
        {"{\"last_action\":\"fixed_and_accepted\"}", 0, 1},
        {"{\"import_id\":4}", 0, 0},
        {"{\"import_id\":null}", 0, 1},
        {"{}", 0, 1},
        {"{\"was_cancelled\":true,\"ground_truth\":true}", 0, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cJSON *json = cJSON_Parse(cases[i].json);
        CHECK(yl_ls_annotation_is_verified(json, cases[i].trust_imported) == cases[i].expected, "case %zu: %s", i,
              cases[i].json);
        cJSON_Delete(json);
    }
    // 2026-01-01T00:00:00Z is 1767225600.
    CHECK(fabs(yl_ls_parse_timestamp("2026-01-10T09:00:00.000000Z") - 1768035600.0) < 1e-6, "UTC");
    CHECK(fabs(yl_ls_parse_timestamp("2026-01-10 09:00:00.5+02:00") - (1768035600.0 + 0.5 - 7200)) < 1e-6, "offset");
    CHECK(fabs(yl_ls_parse_timestamp("1970-01-01T00:00:00Z")) < 1e-9, "epoch");
    CHECK(yl_ls_parse_timestamp("yesterday") < 0 && yl_ls_parse_timestamp(NULL) < 0 &&
              yl_ls_parse_timestamp("2026-13-01T00:00:00Z") < 0,
          "malformed -> -1");
}

static void test_file_names(void) {
    static const struct {
        const char *url, *expected_tail;
        int hashed;
    } cases[] = {
        {"/data/upload/3/2bd44c48-IMG_1842.JPG", "2bd44c48-IMG_1842.JPG", 0},
        {"upload/3/abc-x.png", "abc-x.png", 0},
        {"/data/upload/3/a%20b.jpg", "a b.jpg", 0},
        {"/data/local-files/?d=dir/sub/p%C3%BCp.jpg", "p\xc3\xbcp.jpg", 1},
        {"http://host:8080/media/x.jpg?X-Amz-Signature=abc", "x.jpg", 1},
        {"s3://bucket/a/b/c.jpeg", "c.jpeg", 1},
        {"http://host/dir/", "image", 1},
        {"/data/upload/3/..hidden", "_.hidden", 0},
        {"/data/upload/3/a#b.jpg", "a#b.jpg", 0},
        {"http://host/a.jpg#frag", "a.jpg", 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char name[512];
        CHECK_OK(yl_url_image_file_name(cases[i].url, name, sizeof name));
        const char *tail = cases[i].hashed ? name + 10 : name;
        CHECK((!cases[i].hashed || (strlen(name) > 10 && !strncmp(name + 8, "__", 2))) &&
                  !strcmp(tail, cases[i].expected_tail),
              "case %zu: %s -> %s", i, cases[i].url, name);
    }
    char a[128], b[128];
    yl_url_image_file_name("/data/local-files/?d=one/x.jpg", a, sizeof a);
    yl_url_image_file_name("/data/local-files/?d=two/x.jpg", b, sizeof b);
    CHECK(strcmp(a, b) != 0, "same basename in two folders -> two names: %s %s", a, b);
    char small[8];
    CHECK_STATUS(yl_url_image_file_name("/data/upload/1/x.jpg", small, sizeof small), YL_ERR_INVALID_ARG);
    char redacted[256];
    yl_url_redact("https://user:pw@host/x?X-Amz-Signature=s", redacted, sizeof redacted);
    CHECK(!strcmp(redacted, "https://host/x?<query hidden>"), "redacted: %s", redacted);
    CHECK(yl_url_same_origin("http://A:80/x", "http://a/y") && !yl_url_same_origin("http://a:8080", "http://a:8081") &&
              !yl_url_same_origin("https://a", "http://a"),
          "origins");
}

int main(void) {
    test_fixture();
    test_unknown_labels_and_bad_input();
    test_rotation_without_size();
    test_verification_and_timestamps();
    test_file_names();
    return yl_test_finish("test_ls_annotations");
}
