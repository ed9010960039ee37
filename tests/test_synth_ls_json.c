// `yoloop synth ls_json=`: the Label Studio JSON export of the generated images has the shape of
// spec label_studio.md §3.1 and, read back with the Label Studio annotation parser, gives exactly
// the YOLO label files synth wrote.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/commands.h"
#include "cli/fs_util.h"
#include "cli/labelstudio/annotations.h"
#include "engine/data/image_io.h"
#include "test_common.h"

static int run(char **argv, int argc) { return yl_cmd_synth(argc, argv); }

int main(void) {
    char root[256], out[300], json_path[300], a_out[400], a_json[400], path[1200];
    snprintf(root, sizeof root, "/tmp/yl_test_synth_ls_%d", (int)getpid());
    yl_fs_remove_tree(root);
    CHECK_OK(yl_fs_mkdirs(root));
    snprintf(out, sizeof out, "%s/data", root);
    snprintf(json_path, sizeof json_path, "%s/val.json", root);
    snprintf(a_out, sizeof a_out, "out=%s", out);
    snprintf(a_json, sizeof a_json, "ls_json=%s", json_path);

    char *bad_split[] = {a_out, "n=6", "imgsz=64", a_json, "split=test"};
    CHECK(run(bad_split, 5) == 2, "split=test refused with exit code 2");
    char *bad_base[] = {a_out, "n=6", "imgsz=64", a_json, "task_id_base=0"};
    CHECK(run(bad_base, 5) == 2, "task_id_base=0 refused");
    CHECK(!yl_fs_exists(json_path), "nothing written on bad arguments");

    char *argv[] = {a_out, "n=12", "imgsz=64", "seed=5", "val_fraction=0.5", "classes=scratch,dent,hole", a_json,
                    "split=val", "task_id_base=50"};
    CHECK(run(argv, 9) == 0, "synth with ls_json");

    char *text = NULL;
    size_t size = 0;
    CHECK_OK(yl_fs_read_all(json_path, &text, &size));
    cJSON *tasks = text ? cJSON_Parse(text) : NULL;
    free(text);
    CHECK(cJSON_IsArray(tasks) && cJSON_GetArraySize(tasks) == 6, "6 val tasks, got %d", cJSON_GetArraySize(tasks));

    // Shape of each task and annotation.
    int index = 0;
    const cJSON *task;
    cJSON_ArrayForEach(task, tasks) {
        CHECK(cJSON_GetObjectItem(task, "id")->valueint == 50 + index, "task ids from task_id_base");
        const char *image = cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetObjectItem(task, "data"), "image"));
        CHECK(image && !strncmp(image, "/data/upload/1/synth_", 21), "data.image %s", image ? image : "-");
        const cJSON *annotation = cJSON_GetArrayItem(cJSON_GetObjectItem(task, "annotations"), 0);
        CHECK(cJSON_IsFalse(cJSON_GetObjectItem(annotation, "was_cancelled")) &&
                  cJSON_IsFalse(cJSON_GetObjectItem(annotation, "ground_truth")) &&
                  !strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(annotation, "last_action")), "submitted") &&
                  cJSON_IsNumber(cJSON_GetObjectItem(annotation, "completed_by")) &&
                  yl_ls_parse_timestamp(cJSON_GetStringValue(cJSON_GetObjectItem(annotation, "updated_at"))) > 0 &&
                  yl_ls_parse_timestamp(cJSON_GetStringValue(cJSON_GetObjectItem(task, "created_at"))) > 0,
              "annotation fields of task %d", 50 + index);
        CHECK(yl_ls_annotation_is_verified(annotation, 0), "a submitted annotation counts as verified");
        index++;
    }

    // Parsed with a label config of the three names, every task gives back its label file.
    yl_ls_label_config config = {0};
    yl_ls_label labels[3] = {{.name = "scratch", .value = "scratch", .category = -1},
                             {.name = "dent", .value = "dent", .category = -1},
                             {.name = "hole", .value = "hole", .category = -1}};
    config.control_name = "label";
    config.object_name = "image";
    config.image_key = "image";
    config.labels = labels;
    config.num_labels = 3;
    yl_ls_parse_options options = {.config = &config};
    yl_ls_annotation_set set;
    CHECK_OK(yl_ls_annotations_parse(tasks, &options, &set));
    CHECK(set.num_images == 6, "6 images parsed");
    double worst = 0;
    int backgrounds = 0;
    for (int i = 0; i < set.num_images; i++) {
        const yl_ls_image_labels *image = &set.images[i];
        snprintf(path, sizeof path, "%s/images/val/%s", out, image->file_name);
        yl_image_info info;
        CHECK_OK(yl_image_probe(path, &info));
        CHECK(image->num_boxes == 0 || (image->original_width == info.width && image->original_height == info.height),
              "original size of %s", image->file_name);
        backgrounds += image->num_boxes == 0;
        snprintf(path, sizeof path, "%s/labels/val/%.*s.txt", out,
                 (int)(strrchr(image->file_name, '.') - image->file_name), image->file_name);
        FILE *f = fopen(path, "r");
        CHECK(f != NULL, "label file %s", path);
        int k = 0, cls;
        double cx, cy, w, h;
        while (f && fscanf(f, "%d %lf %lf %lf %lf", &cls, &cx, &cy, &w, &h) == 5) {
            CHECK(k < image->num_boxes, "more label lines than boxes in %s", image->file_name);
            if (k >= image->num_boxes) break;
            const yl_ls_box *b = &image->boxes[k];
            CHECK(b->class_index == cls, "class of box %d of %s", k, image->file_name);
            yl_test_track_worst(&worst, fabs(b->cx - cx));
            yl_test_track_worst(&worst, fabs(b->cy - cy));
            yl_test_track_worst(&worst, fabs(b->w - w));
            yl_test_track_worst(&worst, fabs(b->h - h));
            k++;
        }
        if (f) fclose(f);
        CHECK(k == image->num_boxes, "%s: %d label lines, %d boxes", image->file_name, k, image->num_boxes);
    }
    printf("synth ls_json: %d tasks, %d backgrounds, worst coordinate difference %.2e\n", set.num_images, backgrounds,
           worst);
    CHECK(worst < 1e-6, "boxes survive the percent round trip: %.3e", worst);
    yl_ls_annotation_set_free(&set);
    cJSON_Delete(tasks);
    if (!yl_test_failures) yl_fs_remove_tree(root);
    return yl_test_finish("test_synth_ls_json");
}
