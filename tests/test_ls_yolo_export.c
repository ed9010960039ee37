// Label Studio YOLO export folders (cli/labelstudio/yolo_export.h): class ids come from notes.json
// (or classes.txt) and are mapped to the label config's order by name; label files are rewritten
// with the mapped ids and untouched coordinates; unknown names and non-box lines are refused.
#include <unistd.h>

#include "cli/labelstudio/yolo_export.h"
#include "test_common.h"

#define EXPORT_DIR YL_TEST_FIXTURES "/labelstudio/yolo_export"

static char *read_all(const char *path) {
    FILE *file = fopen(path, "rb");
    if (!file) return NULL;
    char *text = calloc(1, 4096);
    if (fread(text, 1, 4095, file) == 0) text[0] = '\0';
    fclose(file);
    return text;
}

static void write_text(const char *path, const char *text) {
    FILE *file = fopen(path, "wb");
    if (!file || fputs(text, file) < 0) {
        fprintf(stderr, "cannot write %s\n", path);
        exit(2);
    }
    fclose(file);
}

static void test_fixture_mapping(void) {
    yl_ls_label_config config;  // config order Zebra, Apple: the reverse of the export's ids
    CHECK_OK(
        yl_ls_label_config_parse("<View><Image name=\"i\" value=\"$image\"/><RectangleLabels name=\"l\" toName=\"i\">"
                                 "<Label value=\"Zebra\"/><Label value=\"Apple\"/></RectangleLabels></View>",
                                 NULL, &config));
    yl_ls_yolo_classes classes;
    CHECK_OK(yl_ls_yolo_export_classes(EXPORT_DIR, &classes));
    CHECK(classes.num_classes == 2 && classes.ids[0] == 0 && !strcmp(classes.names[0], "Apple") &&
              classes.ids[1] == 1 && !strcmp(classes.names[1], "Zebra"),
          "notes.json read");
    int *map = NULL, size = 0;
    CHECK_OK(yl_ls_yolo_class_map(&classes, &config, &map, &size));
    CHECK(size == 2 && map && map[0] == 1 && map[1] == 0, "Apple -> 1, Zebra -> 0");

    char out[] = "/tmp/yl_ls_yolo_XXXXXX";
    close(mkstemp(out));
    CHECK_OK(yl_ls_yolo_remap_label_file(EXPORT_DIR "/labels/2bd44c48-IMG_1842.txt", out, map, size));
    char *text = read_all(out);
    CHECK(text && !strcmp(text, "1 0.5 0.5 0.2 0.2\n0 0.123456789 0.1 0.05 0.05\n"),
          "ids swapped, coordinates as written:\n%s", text ? text : "");
    free(text);
    CHECK_OK(yl_ls_yolo_remap_label_file(EXPORT_DIR "/labels/a1b2c3d4-empty.txt", out, map, size));
    text = read_all(out);
    CHECK(text && text[0] == '\0', "empty label file stays empty");
    free(text);

    // Bad lines: an id outside the list, a polygon/OBB line, garbage; in place rewriting works.
    static const char *const bad[] = {"2 0.5 0.5 0.1 0.1\n", "0 0.1 0.1 0.2 0.1 0.2 0.2 0.1 0.2\n",
                                      "car 0.5 0.5 0.1 0.1\n", "0 0.5 x 0.1 0.1\n"};
    for (int i = 0; i < 4; i++) {
        write_text(out, bad[i]);
        CHECK_STATUS(yl_ls_yolo_remap_label_file(out, out, map, size), YL_ERR_FORMAT);
        CHECK(strstr(yl_last_error(), ":1:"), "line number in: %s", yl_last_error());
    }
    write_text(out, "\n1 0.25 0.25 0.5 0.5\r\n");
    CHECK_OK(yl_ls_yolo_remap_label_file(out, out, map, size));
    text = read_all(out);
    CHECK(text && !strcmp(text, "0 0.25 0.25 0.5 0.5\n"), "in place, CRLF and blank lines: %s", text ? text : "");
    free(text);
    remove(out);
    free(map);

    // A class the config lacks: refused by name.
    yl_ls_label_config other;
    CHECK_OK(
        yl_ls_label_config_parse("<View><Image name=\"i\" value=\"$image\"/><RectangleLabels name=\"l\" toName=\"i\">"
                                 "<Label value=\"Zebra\"/></RectangleLabels></View>",
                                 NULL, &other));
    CHECK_STATUS(yl_ls_yolo_class_map(&classes, &other, &map, &size), YL_ERR_FORMAT);
    CHECK(strstr(yl_last_error(), "'Apple'"), "unknown class named: %s", yl_last_error());
    yl_ls_label_config_free(&other);
    yl_ls_yolo_classes_free(&classes);
    yl_ls_label_config_free(&config);
}

static void test_classes_txt_fallback(void) {
    char dir[] = "/tmp/yl_ls_yolo_dir_XXXXXX";
    CHECK(mkdtemp(dir) != NULL, "temp folder");
    char path[128];
    snprintf(path, sizeof path, "%s/classes.txt", dir);
    write_text(path, "Zebra\nApple\n\n");
    yl_ls_yolo_classes classes;
    CHECK_OK(yl_ls_yolo_export_classes(dir, &classes));
    CHECK(classes.num_classes == 2 && classes.ids[1] == 1 && !strcmp(classes.names[1], "Apple"), "classes.txt order");
    yl_ls_yolo_classes_free(&classes);
    write_text(path, "Zebra\n\nApple\n");
    CHECK_STATUS(yl_ls_yolo_export_classes(dir, &classes), YL_ERR_FORMAT);
    write_text(path, "Zebra\nZebra\n");
    CHECK_STATUS(yl_ls_yolo_export_classes(dir, &classes), YL_ERR_FORMAT);
    remove(path);
    CHECK_STATUS(yl_ls_yolo_export_classes(dir, &classes), YL_ERR_IO);
    CHECK(strstr(yl_last_error(), "neither notes.json"), "missing files: %s", yl_last_error());
    rmdir(dir);
    CHECK_STATUS(yl_ls_yolo_export_classes(NULL, &classes), YL_ERR_INVALID_ARG);
}

int main(void) {
    test_fixture_mapping();
    test_classes_txt_fallback();
    return yl_test_finish("test_ls_yolo_export");
}
