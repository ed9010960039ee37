// Snapshots from the three sources (a JSON export, a YOLO export, a live Label Studio served by
// the in-process mock): which annotation counts, classes mapped by name, failed images skipped
// with a warning and counted, atomicity (a killed run's temp folder is removed, earlier snapshots
// are untouched, a failed run leaves nothing), and the manifest read back.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/cycle/snapshot.h"
#include "cli/cycle/workspace.h"
#include "cli/fs_util.h"
#include "cli/labelstudio/url.h"
#include "fs_test_util.h"
#include "ls_mock_server.h"
#include "test_common.h"

#define LEGACY_TOKEN "0123456789abcdef0123456789abcdef01234567"

static char g_root[256];

// A PNG signature and IHDR chunk: enough for yl_image_probe to read the size.
static void write_png_header(const char *path, int width, int height) {
    unsigned char bytes[33] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0, 0, 13, 'I', 'H', 'D', 'R'};
    bytes[16] = (unsigned char)(width >> 24), bytes[17] = (unsigned char)(width >> 16);
    bytes[18] = (unsigned char)(width >> 8), bytes[19] = (unsigned char)width;
    bytes[20] = (unsigned char)(height >> 24), bytes[21] = (unsigned char)(height >> 16);
    bytes[22] = (unsigned char)(height >> 8), bytes[23] = (unsigned char)height;
    bytes[24] = 8, bytes[25] = 2;
    FILE *f = fopen(path, "wb");
    if (!f) exit(2);
    fwrite(bytes, 1, sizeof bytes, f);
    fclose(f);
}

// <g_root>/<name>/ with yoloop.yaml holding `yaml`, loaded into *config.
static void make_workspace(const char *name, const char *yaml, char *dir, size_t size, yl_workspace_config *config) {
    snprintf(dir, size, "%s/%s", g_root, name);
    yl_fs_remove_tree(dir);
    yl_fs_mkdirs(dir);
    char path[600];
    snprintf(path, sizeof path, "%s/yoloop.yaml", dir);
    yl_test_write_text(path, yaml);
    CHECK_OK(yl_workspace_config_load(dir, config));
}

static const yl_snapshot_item *find_item(const yl_snapshot *s, const char *key) {
    for (int i = 0; i < s->num_items; i++)
        if (!strcmp(s->items[i].key, key)) return &s->items[i];
    return NULL;
}

static char *item_label(const yl_snapshot *s, const yl_snapshot_item *item) {
    char path[2048];
    snprintf(path, sizeof path, "%s/%s", s->dir, item->label);
    return yl_test_read_text(path);
}

static int has_warning(const yl_snapshot *s, const char *fragment) {
    for (int i = 0; i < s->num_warnings; i++)
        if (strstr(s->warnings[i], fragment)) return 1;
    return 0;
}

static int count_snapshots(const yl_workspace_config *config) {
    char **ids = NULL;
    int count = 0;
    CHECK_OK(yl_snapshot_list(config, &ids, &count));
    yl_fs_free_names(ids, count);
    return count;
}

// Temp folders left in snapshots/.
static int count_temps(const char *workspace) {
    char dir[600];
    snprintf(dir, sizeof dir, "%s/snapshots", workspace);
    char **names = NULL;
    int count = 0, temps = 0;
    if (yl_fs_list_dir(dir, &names, &count) != YL_OK) return -1;
    for (int i = 0; i < count; i++) temps += names[i][0] == '.' && strstr(names[i], ".tmp.") != NULL;
    yl_fs_free_names(names, count);
    return temps;
}

static void check_round_trip(const yl_workspace_config *config, const yl_snapshot *s) {
    yl_snapshot back;
    CHECK_OK(yl_snapshot_load(config, s->id, &back));
    CHECK(back.num_items == s->num_items, "round trip items %d vs %d", back.num_items, s->num_items);
    CHECK(back.images_failed == s->images_failed && back.boxes_rotated == s->boxes_rotated &&
              back.num_warnings == s->num_warnings,
          "round trip counters");
    CHECK(!strcmp(back.dir, s->dir), "round trip dir %s vs %s", back.dir, s->dir);
    for (int i = 0; i < s->num_items && i < back.num_items; i++) {
        const yl_snapshot_item *a = &s->items[i], *b = &back.items[i];
        CHECK(!strcmp(a->key, b->key) && a->task_id == b->task_id && a->annotation_id == b->annotation_id &&
                  !strcmp(a->updated_at, b->updated_at) && !strcmp(a->image, b->image) && !strcmp(a->label, b->label) &&
                  !strcmp(a->sha256, b->sha256) && !strcmp(a->label_sha256, b->label_sha256) && a->boxes == b->boxes &&
                  a->width == b->width && a->height == b->height,
              "round trip item %d (%s)", i, a->key);
        // The recorded hashes are those of the files.
        char path[2048], hex[65] = "";
        snprintf(path, sizeof path, "%s/%s", s->dir, a->label);
        CHECK_OK(yl_fs_sha256_file(path, hex));
        CHECK(!strcmp(hex, a->label_sha256), "label hash of %s", a->key);
        snprintf(path, sizeof path, "%s/%s", s->dir, a->image);
        CHECK_OK(yl_fs_sha256_file(path, hex));
        CHECK(!strcmp(hex, a->sha256), "image hash of %s", a->key);
    }
    yl_snapshot_free(&back);
    CHECK_STATUS(yl_snapshot_load(config, "../etc", &back), YL_ERR_INVALID_ARG);
    CHECK_STATUS(yl_snapshot_load(config, "20000101T000000Z", &back), YL_ERR_IO);
}

// ---- JSON export (the fixture: one case per task) ------------------------------------------------

static void test_json_export_fixture(void) {
    char dir[512], yaml[1200], images[600], path[1200];
    snprintf(yaml, sizeof yaml,
             "source:\n  kind: json\n  export: %s/labelstudio/export_basic.json\n  images: imgs\n"
             "names: [Car, Airplane]\n",
             YL_TEST_FIXTURES);
    yl_workspace_config config;
    make_workspace("json", yaml, dir, sizeof dir, &config);
    snprintf(images, sizeof images, "%s/imgs", dir);
    yl_fs_mkdirs(images);
    // Every verified image but 11111111-edges.jpg (missing: a warning and a count); "two.jpg" is
    // found without Label Studio's 8-hex upload prefix.
    const char *files[] = {"2bd44c48-IMG_1842.JPG", "two.jpg", "44444444-gt.jpg", "66666666-rotated.png",
                           "9f8e7d6c-Stra\xc3\x9f" "e_\xe6\x97\xa5\xe6\x9c\xac.jpeg", "12121212-undefined.jpg"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", images, files[i]);
        yl_test_write_text(path, files[i]);
    }
    snprintf(path, sizeof path, "%s/a1b2c3d4-empty.png", images);
    write_png_header(path, 40, 30);
    const char *urls[] = {"/data/local-files/?d=fotos/caf%C3%A9%20n%C3%BC.jpg",
                          "http://images.example.com/set/plane%20two.jpg"};
    for (int i = 0; i < 2; i++) {
        char name[300];
        CHECK_OK(yl_url_image_file_name(urls[i], name, sizeof name));
        snprintf(path, sizeof path, "%s/%s", images, name);
        yl_test_write_text(path, name);
    }

    yl_snapshot s;
    CHECK_OK(yl_snapshot_create(&config, NULL, NULL, &s));
    printf("json export: %d items, %ld failed, %d warnings\n", s.num_items, s.images_failed, s.num_warnings);
    for (int i = 0; i < s.num_warnings; i++) printf("  warning: %s\n", s.warnings[i]);
    CHECK(s.num_items == 9, "9 items (10 verified images, one missing), got %d", s.num_items);
    CHECK(s.images_failed == 1 && has_warning(&s, "11111111-edges.jpg"), "missing image warned and counted");
    CHECK(!find_item(&s, "task:2") && !find_item(&s, "task:9") && !find_item(&s, "task:10") &&
              !find_item(&s, "task:15") && !find_item(&s, "task:13"),
          "skipped, prediction-only, imported, rejected and duplicate tasks are left out");
    const yl_snapshot_item *t1 = find_item(&s, "task:1");
    char *label = t1 ? item_label(&s, t1) : NULL;
    // Airplane then Car in the annotation; the workspace's order is Car (0), Airplane (1).
    CHECK(label && label[0] == '1' && strstr(label, "\n0 ") && t1->boxes == 2, "task 1 mapped by name: %s", label ? label : "-");
    CHECK(t1 && t1->width == 600 && t1->height == 400 && t1->annotation_id == 101, "task 1 size and annotation");
    CHECK(t1 && !strcmp(t1->image, "images/2bd44c48-IMG_1842.JPG") && !strcmp(t1->label, "labels/2bd44c48-IMG_1842.txt"),
          "task 1 paths %s %s", t1 ? t1->image : "", t1 ? t1->label : "");
    free(label);
    const yl_snapshot_item *t3 = find_item(&s, "task:3");
    CHECK(t3 && t3->annotation_id == 104 && t3->boxes == 2, "two annotations: the newer counts");
    CHECK(t3 && !strcmp(t3->updated_at, "2026-01-12T09:00:00.000000Z"), "updated_at of the chosen annotation");
    const yl_snapshot_item *t4 = find_item(&s, "task:4");
    CHECK(t4 && t4->annotation_id == 105, "ground truth wins");
    const yl_snapshot_item *t5 = find_item(&s, "task:5");
    label = t5 ? item_label(&s, t5) : NULL;
    CHECK(t5 && t5->boxes == 0 && label && !label[0], "empty annotation = background image, empty label file");
    CHECK(t5 && t5->width == 40 && t5->height == 30, "size of a background image read from the file: %dx%d",
          t5 ? t5->width : 0, t5 ? t5->height : 0);
    free(label);
    CHECK(s.boxes_rotated == 1, "rotated box counted: %ld", s.boxes_rotated);
    CHECK(find_item(&s, "task:3") && find_item(&s, "task:8") && find_item(&s, "task:14"),
          "upload prefix fallback, local-files and http names");
    // Images are copied once into cache/images (an in-place edit of the user's file must not
    // change the snapshot), and the snapshot holds hard links of the cached copies.
    struct stat a, b;
    snprintf(path, sizeof path, "%s/images/2bd44c48-IMG_1842.JPG", s.dir);
    char source[1200];
    snprintf(source, sizeof source, "%s/2bd44c48-IMG_1842.JPG", images);
    CHECK(stat(path, &a) == 0 && stat(source, &b) == 0 && a.st_ino != b.st_ino && a.st_size == b.st_size,
          "image copied, not linked to the user's file");
    CHECK(a.st_nlink == 2, "snapshot image is a hard link of the cached copy (links: %ld)", (long)a.st_nlink);
    FILE *edit = fopen(source, "r+b");
    CHECK(edit != NULL, "open the user's image for an in-place edit");
    if (edit) {
        fputc(0x5a, edit);
        fclose(edit);
    }
    char sha[65];
    CHECK_OK(yl_fs_sha256_file(path, sha));
    CHECK(!strcmp(sha, find_item(&s, "task:1") ? find_item(&s, "task:1")->sha256 : ""),
          "an in-place edit of the user's image leaves the snapshot unchanged");
    snprintf(path, sizeof path, "%s/tasks.json", s.dir);
    CHECK(yl_fs_is_file(path), "tasks.json kept");
    snprintf(path, sizeof path, "%s/manifest.json", s.dir);
    char *manifest = yl_test_read_text(path);
    CHECK(manifest && strstr(manifest, "\"images_failed\":\t1") && strstr(manifest, "\"tasks_skipped\":\t1"),
          "manifest counts");
    free(manifest);
    check_round_trip(&config, &s);
    yl_snapshot_free(&s);
    yl_workspace_config_free(&config);
}

// ---- JSON export: merging a folder of exports, unknown labels ------------------------------------

static void add_task(cJSON *tasks, int id, const char *image, const char *label, const char *updated_at,
                     int annotation_id) {
    char text[1500];
    snprintf(text, sizeof text,
             "{\"id\":%d,\"data\":{\"image\":\"/data/upload/1/%s\"},\"updated_at\":\"%s\",\"annotations\":[{\"id\":%d,"
             "\"completed_by\":1,\"was_cancelled\":false,\"ground_truth\":false,\"last_action\":\"submitted\","
             "\"updated_at\":\"%s\",\"result\":[{\"from_name\":\"label\",\"to_name\":\"image\",\"type\":"
             "\"rectanglelabels\",\"original_width\":100,\"original_height\":100,\"value\":{\"x\":10,\"y\":20,"
             "\"width\":30,\"height\":40,\"rotation\":0,\"rectanglelabels\":[\"%s\"]}}]}]}",
             id, image, updated_at, annotation_id, updated_at, label);
    cJSON_AddItemToArray(tasks, cJSON_Parse(text));
}

static void write_json(const char *path, cJSON *json) {
    char *text = cJSON_Print(json);
    yl_test_write_text(path, text);
    free(text);
    cJSON_Delete(json);
}

static void test_json_export_folder(void) {
    char dir[512], path[1200];
    yl_workspace_config config;
    make_workspace("json_folder", "source: {kind: json, export: exports, images: imgs}\nnames: [Car, Airplane]\n", dir,
                   sizeof dir, &config);
    snprintf(path, sizeof path, "%s/exports", dir);
    yl_fs_mkdirs(path);
    snprintf(path, sizeof path, "%s/imgs", dir);
    yl_fs_mkdirs(path);
    for (int i = 1; i <= 3; i++) {
        snprintf(path, sizeof path, "%s/imgs/img%d.jpg", dir, i);
        yl_test_write_text(path, path);
    }
    // a.json holds the NEWER version of task 1 (Airplane); b.json the older one (Car) and task 2.
    cJSON *a = cJSON_CreateArray(), *b = cJSON_CreateArray();
    add_task(a, 1, "img1.jpg", "Airplane", "2026-03-02T10:00:00.000000Z", 11);
    add_task(b, 1, "img1.jpg", "Car", "2026-03-01T10:00:00.000000Z", 10);
    add_task(b, 2, "img2.jpg", "Car", "2026-03-01T10:00:00.000000Z", 20);
    snprintf(path, sizeof path, "%s/exports/a.json", dir);
    write_json(path, a);
    snprintf(path, sizeof path, "%s/exports/b.json", dir);
    write_json(path, b);
    snprintf(path, sizeof path, "%s/exports/notes.txt", dir);
    yl_test_write_text(path, "not an export");
    yl_snapshot s;
    CHECK_OK(yl_snapshot_create(&config, NULL, NULL, &s));
    const yl_snapshot_item *t1 = find_item(&s, "task:1");
    char *label = t1 ? item_label(&s, t1) : NULL;
    CHECK(s.num_items == 2 && t1 && t1->annotation_id == 11 && label && label[0] == '1',
          "merged by id, the most recently updated wins: %d items, label %s", s.num_items,
          label ? label : "-");
    // x 10 + w 30 -> cx 0.25, y 20 + h 40 -> cy 0.4 (percent of 100x100)
    CHECK(label && !strcmp(label, "1 0.250000 0.400000 0.300000 0.400000\n"), "percent -> YOLO: %s", label ? label : "-");
    free(label);
    snprintf(path, sizeof path, "%s/tasks.json", s.dir);
    cJSON *merged = NULL;
    char *text = yl_test_read_text(path);
    merged = text ? cJSON_Parse(text) : NULL;
    CHECK(cJSON_GetArraySize(merged) == 2, "tasks.json holds the merged tasks");
    cJSON_Delete(merged);
    free(text);
    int before = count_snapshots(&config);
    yl_snapshot_free(&s);

    // A label the workspace does not know: an error naming it, and no snapshot.
    cJSON *c = cJSON_CreateArray();
    add_task(c, 3, "img3.jpg", "Truck", "2026-03-03T10:00:00.000000Z", 30);
    snprintf(path, sizeof path, "%s/exports/c.json", dir);
    write_json(path, c);
    CHECK_STATUS(yl_snapshot_create(&config, NULL, NULL, &s), YL_ERR_FORMAT);
    CHECK(strstr(yl_last_error(), "'Truck'") != NULL, "unknown label named: %s", yl_last_error());
    printf("unknown label -> %s\n", yl_last_error());
    CHECK(count_snapshots(&config) == before && count_temps(dir) == 0, "a failed snapshot leaves nothing behind");
    yl_workspace_config_free(&config);
}

// ---- YOLO export: alphabetical ids remapped by name ------------------------------------------------

static void test_yolo_export(void) {
    char dir[512], yaml[1200], path[1200];
    snprintf(yaml, sizeof yaml, "source: {kind: yolo, export: %s/labelstudio/yolo_export, images: imgs}\nnames: [Zebra, Apple]\n",
             YL_TEST_FIXTURES);
    yl_workspace_config config;
    make_workspace("yolo", yaml, dir, sizeof dir, &config);
    snprintf(path, sizeof path, "%s/imgs", dir);
    yl_fs_mkdirs(path);
    snprintf(path, sizeof path, "%s/imgs/2bd44c48-IMG_1842.jpg", dir);
    write_png_header(path, 64, 48);  // the extension does not matter to the probe
    yl_snapshot s;
    CHECK_OK(yl_snapshot_create(&config, NULL, NULL, &s));
    CHECK(s.num_items == 1 && s.images_failed == 1 && has_warning(&s, "a1b2c3d4-empty"),
          "one item, the label file without an image warned and counted (%d, %ld)", s.num_items, s.images_failed);
    const yl_snapshot_item *item = find_item(&s, "file:2bd44c48-IMG_1842");
    char *label = item ? item_label(&s, item) : NULL;
    // Export: Apple 0, Zebra 1. Workspace: Zebra 0, Apple 1.
    CHECK(label && !strncmp(label, "1 0.5 0.5", 9) && strstr(label, "\n0 0.123456789"), "ids remapped by name: %s",
          label ? label : "-");
    CHECK(item && item->boxes == 2 && item->task_id == -1 && item->width == 64 && item->height == 48, "yolo item");
    snprintf(path, sizeof path, "%s/tasks.json", s.dir);
    CHECK(!yl_fs_exists(path), "no tasks.json for a YOLO export");
    free(label);
    check_round_trip(&config, &s);
    yl_snapshot_free(&s);
    yl_workspace_config_free(&config);

    snprintf(yaml, sizeof yaml, "source: {kind: yolo, export: %s/labelstudio/yolo_export, images: imgs}\nnames: [Zebra]\n",
             YL_TEST_FIXTURES);
    make_workspace("yolo_unknown", yaml, dir, sizeof dir, &config);
    snprintf(path, sizeof path, "%s/imgs", dir);
    yl_fs_mkdirs(path);
    CHECK_STATUS(yl_snapshot_create(&config, NULL, NULL, &s), YL_ERR_FORMAT);
    CHECK(strstr(yl_last_error(), "Apple") != NULL, "unknown export class named: %s", yl_last_error());
    yl_workspace_config_free(&config);
}

// ---- live Label Studio (mock) ------------------------------------------------------------------------

typedef struct {
    char lines[16][256];
    int count;
} log_capture;

static void capture(void *user, const char *line) {
    log_capture *c = user;
    if (c->count < 16) snprintf(c->lines[c->count++], sizeof c->lines[0], "%s", line);
}

static int logged(const log_capture *c, const char *fragment) {
    for (int i = 0; i < c->count; i++)
        if (strstr(c->lines[i], fragment)) return 1;
    return 0;
}

static void test_live(void) {
    ls_mock mock;
    if (ls_mock_start(&mock, 0) != 0) {
        CHECK(0, "cannot start the mock server");
        return;
    }
    snprintf(mock.legacy_token, sizeof mock.legacy_token, "%s", LEGACY_TOKEN);
    char path[1200];
    snprintf(path, sizeof path, "%s/labelstudio/label_config.xml", YL_TEST_FIXTURES);
    char *xml = yl_test_read_text(path);
    mock.label_config = xml;
    cJSON *tasks = cJSON_CreateArray();
    add_task(tasks, 1, "img1.jpg", "Car", "2026-03-01T10:00:00.000000Z", 10);
    add_task(tasks, 2, "img2.png", "Airplane", "2026-03-01T10:00:00.000000Z", 20);
    add_task(tasks, 3, "missing-3.jpg", "Car", "2026-03-01T10:00:00.000000Z", 30);
    char *export_json = cJSON_PrintUnformatted(tasks);
    cJSON_Delete(tasks);
    mock.export_json = export_json;
    setenv("LABEL_STUDIO_API_KEY", LEGACY_TOKEN, 1);

    char dir[512], yaml[1200];
    snprintf(yaml, sizeof yaml, "source: {kind: labelstudio, url: '%s', project: 1}\nnames: [Car, Airplane]\n",
             mock.base_url);
    yl_workspace_config config;
    make_workspace("live", yaml, dir, sizeof dir, &config);
    log_capture first = {0}, second = {0};
    yl_snapshot s, s2;
    CHECK_OK(yl_snapshot_create(&config, capture, &first, &s));
    for (int i = 0; i < first.count; i++) printf("  log: %s\n", first.lines[i]);
    CHECK(s.num_items == 2 && s.images_failed == 1 && has_warning(&s, "missing-3.jpg"),
          "two items, the 404 image warned and counted (%d, %ld)", s.num_items, s.images_failed);
    CHECK(logged(&first, "downloaded 2 images, 0 cached"), "first run downloads");
    const yl_snapshot_item *t2 = find_item(&s, "task:2");
    char *label = t2 ? item_label(&s, t2) : NULL;
    CHECK(label && label[0] == '1', "Airplane -> workspace class 1: %s", label ? label : "-");
    free(label);
    // The snapshot's image is a hard link of the cached download.
    char cache[600];
    snprintf(cache, sizeof cache, "%s/cache/images", dir);
    char **names = NULL;
    int count = 0;
    CHECK_OK(yl_fs_list_dir(cache, &names, &count));
    CHECK(count == 2, "two cached images, got %d", count);
    struct stat a, b;
    for (int i = 0; i < count; i++) {
        if (!strstr(names[i], "_img1.jpg")) continue;
        snprintf(path, sizeof path, "%s/%s", cache, names[i]);
        char linked[1200];
        snprintf(linked, sizeof linked, "%s/images/img1.jpg", s.dir);
        CHECK(stat(path, &a) == 0 && stat(linked, &b) == 0 && a.st_ino == b.st_ino, "hard link into the cache");
    }
    yl_fs_free_names(names, count);
    snprintf(path, sizeof path, "%s/manifest.json", s.dir);
    char *manifest = yl_test_read_text(path);
    CHECK(manifest && !strstr(manifest, LEGACY_TOKEN), "no token in the manifest");
    free(manifest);
    check_round_trip(&config, &s);

    // Again: images come from the cache, the new snapshot gets its own id.
    int requests_before = mock.requests;
    CHECK_OK(yl_snapshot_create(&config, capture, &second, &s2));
    CHECK(logged(&second, "downloaded 0 images, 2 cached"), "second run uses the cache");
    // version, project, export, and the image that failed before (storage-data, then /data/upload):
    // no request for a cached image (a HEAD each would make 7).
    printf("second snapshot: %d requests\n", mock.requests - requests_before);
    CHECK(mock.requests - requests_before <= 5, "cached images are not requested again (%d requests)",
          mock.requests - requests_before);
    CHECK(strcmp(s.id, s2.id) < 0 || strlen(s2.id) > strlen(s.id), "ids sort by time: %s then %s", s.id, s2.id);
    char **ids = NULL;
    CHECK_OK(yl_snapshot_list(&config, &ids, &count));
    CHECK(count == 2 && !strcmp(ids[0], s.id) && !strcmp(ids[1], s2.id), "list oldest first");
    yl_fs_free_names(ids, count);
    yl_snapshot_free(&s2);
    yl_snapshot_free(&s);
    yl_workspace_config_free(&config);

    // A label config class the workspace does not have.
    snprintf(yaml, sizeof yaml, "source: {kind: labelstudio, url: '%s', project: 1}\nnames: [Car]\n", mock.base_url);
    make_workspace("live_unknown", yaml, dir, sizeof dir, &config);
    CHECK_STATUS(yl_snapshot_create(&config, NULL, NULL, &s), YL_ERR_FORMAT);
    CHECK(strstr(yl_last_error(), "'Airplane'") && !strstr(yl_last_error(), LEGACY_TOKEN), "unknown class named: %s",
          yl_last_error());
    printf("unknown class -> %s\n", yl_last_error());
    CHECK(count_snapshots(&config) == 0 && count_temps(dir) == 0, "nothing left behind");
    yl_workspace_config_free(&config);

    // A refused token: an error, never the token.
    setenv("LABEL_STUDIO_API_KEY", "ffffffffffffffffffffffffffffffffffffffff", 1);
    snprintf(yaml, sizeof yaml, "source: {kind: labelstudio, url: '%s', project: 1}\nnames: [Car, Airplane]\n",
             mock.base_url);
    make_workspace("live_token", yaml, dir, sizeof dir, &config);
    yl_clear_error();
    CHECK(yl_snapshot_create(&config, NULL, NULL, &s) != YL_OK, "bad token refused");
    CHECK(!strstr(yl_last_error(), "ffffffffffffffff"), "token not echoed: %s", yl_last_error());
    yl_workspace_config_free(&config);
    unsetenv("LABEL_STUDIO_API_KEY");
    ls_mock_stop(&mock);
    free(xml);
    free(export_json);
}

// Kills the process in the middle of a snapshot: after the export is read, before any image.
static void die_after_export(void *user, const char *line) {
    (void)user;
    if (strstr(line, "export file")) raise(SIGKILL);
}

// ---- atomicity -----------------------------------------------------------------------------------------

static void test_atomicity(void) {
    char dir[512], path[1200];
    yl_workspace_config config;
    make_workspace("atomic", "source: {kind: json, export: e.json, images: imgs}\nnames: [Car, Airplane]\n", dir,
                   sizeof dir, &config);
    snprintf(path, sizeof path, "%s/imgs", dir);
    yl_fs_mkdirs(path);
    snprintf(path, sizeof path, "%s/imgs/img1.jpg", dir);
    yl_test_write_text(path, "one");
    cJSON *e = cJSON_CreateArray();
    add_task(e, 1, "img1.jpg", "Car", "2026-03-01T10:00:00.000000Z", 10);
    snprintf(path, sizeof path, "%s/e.json", dir);
    write_json(path, e);
    yl_snapshot first;
    CHECK_OK(yl_snapshot_create(&config, NULL, NULL, &first));
    snprintf(path, sizeof path, "%s/manifest.json", first.dir);
    char *before = yl_test_read_text(path);

    // A real run killed with SIGKILL half-way: its temp folder stays, no snapshot appears.
    pid_t child = fork();
    if (child == 0) {
        yl_snapshot doomed;
        yl_snapshot_create(&config, die_after_export, NULL, &doomed);
        _exit(0);  // not reached
    }
    int wait_status = 0;
    waitpid(child, &wait_status, 0);
    CHECK(WIFSIGNALED(wait_status) && WTERMSIG(wait_status) == SIGKILL, "the child was killed");
    CHECK(count_temps(dir) == 1 && count_snapshots(&config) == 1, "killed run: a temp folder, no new snapshot");

    // A run killed half-way (pid that cannot exist) and a run still going (pid 1, alive).
    char stale[700], live[700];
    snprintf(stale, sizeof stale, "%s/snapshots/.20200101T000000Z.tmp.2147483000", dir);
    snprintf(live, sizeof live, "%s/snapshots/.20200101T000001Z.tmp.1", dir);
    yl_fs_mkdirs(stale);
    yl_fs_mkdirs(live);
    snprintf(path, sizeof path, "%s/manifest.json", stale);
    yl_test_write_text(path, "{\"id\": \"half\"");
    CHECK(count_snapshots(&config) == 1, "temp folders are not snapshots");
    yl_snapshot second;
    CHECK_OK(yl_snapshot_create(&config, NULL, NULL, &second));
    CHECK(!yl_fs_exists(stale), "the killed run's temp folder is removed");
    CHECK(count_temps(dir) == 1, "only the live run's temp folder is left: %d", count_temps(dir));
    CHECK(yl_fs_exists(live), "a live run's temp folder is left alone");
    yl_fs_remove_tree(live);
    snprintf(path, sizeof path, "%s/manifest.json", first.dir);
    char *after = yl_test_read_text(path);
    CHECK(before && after && !strcmp(before, after), "the earlier snapshot is untouched");
    CHECK(strcmp(first.id, second.id) != 0 && count_snapshots(&config) == 2, "two snapshots");
    free(before);
    free(after);

    // Ids taken in one second get -2, -3, ...; -10 sorts after -9.
    const char *fake[] = {"20300101T000000Z-10", "20300101T000000Z", "20300101T000000Z-9"};
    for (int i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/snapshots/%s", dir, fake[i]);
        yl_fs_mkdirs(path);
        snprintf(path, sizeof path, "%s/snapshots/%s/manifest.json", dir, fake[i]);
        yl_test_write_text(path, "{}");
    }
    char **ids = NULL;
    int count = 0;
    CHECK_OK(yl_snapshot_list(&config, &ids, &count));
    CHECK(count == 5 && !strcmp(ids[2], "20300101T000000Z") && !strcmp(ids[3], "20300101T000000Z-9") &&
              !strcmp(ids[4], "20300101T000000Z-10"),
          "list order");
    yl_fs_free_names(ids, count);
    yl_snapshot bad;
    CHECK_STATUS(yl_snapshot_load(&config, "20300101T000000Z", &bad), YL_ERR_FORMAT);
    yl_snapshot_free(&first);
    yl_snapshot_free(&second);

    // Images folder missing: an error naming it, nothing left behind.
    snprintf(path, sizeof path, "%s/imgs", dir);
    yl_fs_remove_tree(path);
    CHECK_STATUS(yl_snapshot_create(&config, NULL, NULL, &bad), YL_ERR_IO);
    CHECK(strstr(yl_last_error(), "imgs") != NULL, "names the folder: %s", yl_last_error());
    CHECK(count_temps(dir) == 0 && count_snapshots(&config) == 5, "nothing left behind");
    yl_workspace_config_free(&config);
}

int main(void) {
    setenv("no_proxy", "127.0.0.1,localhost", 1);
    setenv("NO_PROXY", "127.0.0.1,localhost", 1);
    snprintf(g_root, sizeof g_root, "/tmp/yl_test_snapshot_%d", (int)getpid());
    yl_fs_remove_tree(g_root);
    yl_fs_mkdirs(g_root);
    test_json_export_fixture();
    test_json_export_folder();
    test_yolo_export();
    test_live();
    test_atomicity();
    if (!yl_test_failures) yl_fs_remove_tree(g_root);
    return yl_test_finish("test_snapshot");
}
