// Temporal separation over two successive Label Studio JSON exports of a synthetic dataset
// (`yoloop synth ls_json=`): the first cycle is all new; the second sees new, re-labelled and
// removed tasks. The datasets are hard links into the snapshot and their data yaml files load
// with the engine's reader.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/commands.h"
#include "cli/cycle/snapshot.h"
#include "cli/cycle/temporal.h"
#include "cli/cycle/workspace.h"
#include "cli/fs_util.h"
#include "engine/data/data_yaml.h"
#include "test_common.h"

static char g_root[256];

static int run_synth(const char *out, const char *ls_json, const char *split) {
    char a_out[400], a_json[400], a_split[64];
    snprintf(a_out, sizeof a_out, "out=%s", out);
    snprintf(a_json, sizeof a_json, "ls_json=%s", ls_json);
    snprintf(a_split, sizeof a_split, "split=%s", split);
    char *argv[] = {a_out, "n=10", "imgsz=64", "seed=3", "val_fraction=0.2", a_json, a_split, "task_id_base=1"};
    return yl_cmd_synth(8, argv);
}

static cJSON *read_json(const char *path) {
    char *text = NULL;
    size_t size = 0;
    if (yl_fs_read_all(path, &text, &size) != YL_OK) return NULL;
    cJSON *json = cJSON_Parse(text);
    free(text);
    return json;
}

static void write_json(const char *path, cJSON *json) {
    char *text = cJSON_Print(json);
    CHECK_OK(yl_fs_write_atomic(path, text, strlen(text)));
    free(text);
}

// Links every image of <synth>/images/<split>/ into dir.
static void link_images(const char *synth, const char *split, const char *dir) {
    char from_dir[600], from[1200], to[1200];
    snprintf(from_dir, sizeof from_dir, "%s/images/%s", synth, split);
    char **names = NULL;
    int count = 0;
    CHECK_OK(yl_fs_list_dir(from_dir, &names, &count));
    for (int i = 0; i < count; i++) {
        snprintf(from, sizeof from, "%s/%s", from_dir, names[i]);
        snprintf(to, sizeof to, "%s/%s", dir, names[i]);
        if (!yl_fs_exists(to)) CHECK_OK(yl_fs_link_or_copy(from, to));
    }
    yl_fs_free_names(names, count);
}

static int contains(const int *items, int n, const yl_snapshot *s, const char *key) {
    for (int i = 0; i < n; i++)
        if (!strcmp(s->items[items[i]].key, key)) return 1;
    return 0;
}

static int count_lines(const char *path) {
    char *text = NULL;
    size_t size = 0;
    if (yl_fs_read_all(path, &text, &size) != YL_OK) return -1;
    int lines = 0;
    for (size_t i = 0; i < size; i++) lines += text[i] == '\n';
    free(text);
    return lines;
}

int main(void) {
    snprintf(g_root, sizeof g_root, "/tmp/yl_test_temporal_%d", (int)getpid());
    yl_fs_remove_tree(g_root);
    CHECK_OK(yl_fs_mkdirs(g_root));
    char synth[400], ws[400], path[1200], export_path[600], images[600];
    snprintf(synth, sizeof synth, "%s/synth", g_root);
    snprintf(ws, sizeof ws, "%s/ws", g_root);
    snprintf(export_path, sizeof export_path, "%s/export.json", ws);
    snprintf(images, sizeof images, "%s/imgs", ws);
    CHECK_OK(yl_fs_mkdirs(images));
    snprintf(path, sizeof path, "%s/yoloop.yaml", ws);
    const char *yaml = "source: {kind: json, export: export.json, images: imgs}\n"
                       "names: [dentado, concave, perforation]\n";
    CHECK_OK(yl_fs_write_atomic(path, yaml, strlen(yaml)));
    yl_workspace_config config;
    CHECK_OK(yl_workspace_config_load(ws, &config));

    // Export 1: the 8 train images, tasks 1..8.
    char first_json[600];
    snprintf(first_json, sizeof first_json, "%s/first.json", g_root);
    CHECK(run_synth(synth, first_json, "train") == 0, "synth");
    link_images(synth, "train", images);
    cJSON *first = read_json(first_json);
    CHECK(cJSON_GetArraySize(first) == 8, "8 train tasks, got %d", cJSON_GetArraySize(first));
    write_json(export_path, first);
    yl_snapshot s1;
    CHECK_OK(yl_snapshot_create(&config, NULL, NULL, &s1));
    CHECK(s1.num_items == 8, "snapshot 1: %d items", s1.num_items);

    yl_temporal_split split1;
    CHECK_OK(yl_temporal_split_compute(&s1, NULL, &split1));
    CHECK(split1.num_eval == 8 && split1.num_train == 0 && split1.num_removed == 0 && split1.num_relabelled == 0,
          "first cycle: everything is new (%d eval, %d train)", split1.num_eval, split1.num_train);
    CHECK_OK(yl_temporal_build(&config, "c0001", &s1, &split1));
    CHECK(count_lines(split1.eval_list) == 8 && count_lines(split1.train_list) == 0, "list files");
    yl_data_config data;
    CHECK_OK(yl_data_yaml_load(split1.eval_yaml, &data));
    CHECK(data.val.images.count == 8 && data.train.images.count == 8 && data.nc == 3 &&
              !strcmp(data.names[2], "perforation"),
          "data_eval.yaml loads: %d images, nc %d", data.val.images.count, data.nc);
    yl_data_config_free(&data);
    // An empty training set has nothing for the engine to load: the cycle checks num_train first.
    CHECK_STATUS(yl_data_yaml_load(split1.train_yaml, &data), YL_ERR_FORMAT);

    // Export 2: all 10 images (tasks 9, 10 are new), task 2 re-labelled, task 3 deleted.
    char second_json[600];
    snprintf(second_json, sizeof second_json, "%s/second.json", g_root);
    yl_fs_remove_tree(synth);
    CHECK(run_synth(synth, second_json, "all") == 0, "synth again");
    link_images(synth, "val", images);
    cJSON *second = read_json(second_json);
    CHECK(cJSON_GetArraySize(second) == 10, "10 tasks");
    cJSON *task, *relabelled = NULL;
    int index = 0, remove_at = -1;
    cJSON_ArrayForEach(task, second) {
        int id = cJSON_GetObjectItem(task, "id")->valueint;
        if (id == 2) relabelled = task;
        if (id == 3) remove_at = index;
        index++;
    }
    cJSON *annotation = cJSON_GetArrayItem(cJSON_GetObjectItem(relabelled, "annotations"), 0);
    cJSON *regions = cJSON_GetObjectItem(annotation, "result");
    if (cJSON_GetArraySize(regions) > 0) {
        // Another class for the first box: a re-labelled image.
        cJSON *labels = cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetArrayItem(regions, 0), "value"),
                                            "rectanglelabels");
        const char *old = cJSON_GetArrayItem(labels, 0)->valuestring;
        cJSON_ReplaceItemInArray(labels, 0, cJSON_CreateString(strcmp(old, "concave") ? "concave" : "dentado"));
    } else {
        CHECK(0, "task 2 of seed 3 was expected to have boxes");
    }
    cJSON_ReplaceItemInObject(annotation, "updated_at", cJSON_CreateString("2099-01-01T00:00:00.000000Z"));
    cJSON_DeleteItemFromArray(second, remove_at);
    write_json(export_path, second);

    yl_snapshot s2;
    CHECK_OK(yl_snapshot_create(&config, NULL, NULL, &s2));
    CHECK(s2.num_items == 9, "snapshot 2: %d items", s2.num_items);
    // The cycle compares against the last evaluated snapshot, read back from disk.
    yl_snapshot previous;
    CHECK_OK(yl_snapshot_load(&config, s1.id, &previous));
    yl_temporal_split split2;
    CHECK_OK(yl_temporal_split_compute(&s2, &previous, &split2));
    printf("second cycle: %d eval (%d relabelled), %d train, %d removed\n", split2.num_eval, split2.num_relabelled,
           split2.num_train, split2.num_removed);
    CHECK(split2.num_eval == 3 && split2.num_relabelled == 1 && split2.num_train == 6 && split2.num_removed == 1,
          "second cycle counts");
    CHECK(contains(split2.eval_items, split2.num_eval, &s2, "task:9") &&
              contains(split2.eval_items, split2.num_eval, &s2, "task:10") &&
              contains(split2.eval_items, split2.num_eval, &s2, "task:2"),
          "new and re-labelled items are evaluated");
    CHECK(!contains(split2.train_items, split2.num_train, &s2, "task:2") &&
              !contains(split2.train_items, split2.num_train, &s2, "task:3") &&
              contains(split2.train_items, split2.num_train, &s2, "task:1"),
          "the training pool holds only already-evaluated, unchanged items");

    // Rebuilding replaces the folder; a stale file does not survive.
    CHECK_OK(yl_temporal_build(&config, "c0002", &s2, &split2));
    snprintf(path, sizeof path, "%s/stale.txt", split2.dir);
    CHECK_OK(yl_fs_write_atomic(path, "x", 1));
    CHECK_OK(yl_temporal_build(&config, "c0002", &s2, &split2));
    CHECK(!yl_fs_exists(path), "the cycle folder is rebuilt from scratch");
    CHECK_OK(yl_data_yaml_load(split2.eval_yaml, &data));
    CHECK(data.val.images.count == 3, "eval yaml: %d images", data.val.images.count);
    yl_data_config_free(&data);
    CHECK_OK(yl_data_yaml_load(split2.train_yaml, &data));
    CHECK(data.train.images.count == 6 && data.val.images.count == 6, "train yaml: %d images",
          data.train.images.count);
    // Each listed image is a hard link of the snapshot's file, with its label next to it.
    for (int i = 0; i < data.train.images.count; i++) {
        const char *image = data.train.images.paths[i];
        const char *name = strrchr(image, '/') + 1;
        char snap_image[1200], label[1200];
        snprintf(snap_image, sizeof snap_image, "%s/images/%s", s2.dir, name);
        struct stat a, b;
        CHECK(stat(image, &a) == 0 && stat(snap_image, &b) == 0 && a.st_ino == b.st_ino, "hard link %s", name);
        snprintf(label, sizeof label, "%s/train/labels/%.*s.txt", split2.dir, (int)(strrchr(name, '.') - name), name);
        CHECK(yl_fs_is_file(label), "label %s", label);
    }
    yl_data_config_free(&data);
    // The re-labelled item's label in the eval set is the new one.
    for (int i = 0; i < s2.num_items; i++) {
        if (strcmp(s2.items[i].key, "task:2")) continue;
        for (int k = 0; k < previous.num_items; k++)
            if (!strcmp(previous.items[k].key, "task:2"))
                CHECK(strcmp(previous.items[k].label_sha256, s2.items[i].label_sha256) != 0, "label changed");
    }

    CHECK_STATUS(yl_temporal_build(&config, "../x", &s2, &split2), YL_ERR_INVALID_ARG);
    yl_temporal_split_free(&split1);
    yl_temporal_split_free(&split2);
    yl_snapshot_free(&previous);
    yl_snapshot_free(&s1);
    yl_snapshot_free(&s2);
    cJSON_Delete(first);
    cJSON_Delete(second);
    yl_workspace_config_free(&config);
    if (!yl_test_failures) yl_fs_remove_tree(g_root);
    return yl_test_finish("test_temporal");
}
