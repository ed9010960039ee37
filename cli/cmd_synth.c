// `yoloop synth out=<dir> [n=300] [imgsz=160] [seed=0] [shift=0.0] [val_fraction=0.2]
// [classes=dentado,concave,perforation] [ls_json=<path> [task_id_base=1] [split=all]]`: writes a
// synthetic defect-detection dataset in the YOLO layout (engine/data/synth.h), ready for
// `yoloop train data=<dir>/data.yaml`, and optionally the same images as a Label Studio JSON
// export (cli/synth_ls_export.h) to play successive exports in demos and cycle tests.
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/synth_ls_export.h"
#include "engine/data/synth.h"

static void print_help(FILE *out) {
    fprintf(out,
            "usage: yoloop synth out=<dir> [n=300] [imgsz=160] [seed=0] [shift=0.0] [val_fraction=0.2]\n"
            "                    [classes=dentado,concave,perforation] [ls_json=<path> [task_id_base=1] [split=all]]\n"
            "\n"
            "Writes a synthetic defect-detection dataset: brushed-metal surfaces with dents, concave areas\n"
            "and perforations, 0 to 4 per image (some images are background only), in the YOLO layout:\n"
            "<out>/images/{train,val}/*.png, <out>/labels/{train,val}/*.txt and <out>/data.yaml.\n"
            "\n"
            "  out=           output folder (must not already hold images/, labels/ or data.yaml)\n"
            "  n=300          images in all, train and val\n"
            "  imgsz=160      image width in pixels (32 to 4096); some images are 3/4 as tall\n"
            "  seed=0         the same seed writes the same bytes\n"
            "  shift=0.0      0 to 1: moves the distribution (lighting, texture scale, defect size and\n"
            "                 contrast, colour cast), e.g. to demonstrate continual learning\n"
            "  val_fraction=0.2  share of the images in the val split\n"
            "  classes=       1 to 3 comma-separated names, given to dent, concave, perforation in order\n"
            "  ls_json=       also write the images as a Label Studio JSON export (one task per image, one\n"
            "                 submitted annotation, data.image \"/data/upload/1/<file>\")\n"
            "  task_id_base=1 id of the first task in ls_json\n"
            "  split=all      which images go into ls_json: train, val or all\n");
}

// Splits "a,b,c" in place into at most YL_SYNTH_KINDS names; returns the count, 0 on error.
static int split_classes(char *list, const char **names) {
    int count = 0;
    for (char *token = list;; count++) {
        char *comma = strchr(token, ',');
        if (comma) *comma = '\0';
        if (count == YL_SYNTH_KINDS || !*token) {
            fprintf(stderr, "synth: classes= takes 1 to %d non-empty comma-separated names\n", YL_SYNTH_KINDS);
            return 0;
        }
        names[count] = token;
        if (!comma) return count + 1;
        token = comma + 1;
    }
}

int yl_cmd_synth(int argc, char **argv) {
    yl_synth_options o = yl_synth_defaults();
    const char *names[YL_SYNTH_KINDS];
    char classes_buffer[1024];
    const char *cmd = "synth";
    const char *ls_json = NULL, *split = "all";
    int task_id_base = 1;
    if (yl_arg_wants_help(argc, argv)) {
        print_help(stdout);
        return 0;
    }
    for (int i = 0; i < argc; i++) {
        char key[32];
        const char *value;
        if (!yl_arg_split(cmd, argv[i], key, sizeof key, &value)) return 2;
        bool ok = true;
        double number = 0.0;
        if (!strcmp(key, "out")) {
            ok = yl_arg_string(cmd, key, value, &o.out_dir);
        } else if (!strcmp(key, "n")) {
            ok = yl_arg_int(cmd, key, value, 2, 1000000, &o.n);
        } else if (!strcmp(key, "imgsz")) {
            ok = yl_arg_int(cmd, key, value, 32, 4096, &o.imgsz);
        } else if (!strcmp(key, "seed")) {
            int seed = 0;
            ok = yl_arg_int(cmd, key, value, 0, INT32_MAX, &seed);
            o.seed = (uint64_t)seed;
        } else if (!strcmp(key, "shift")) {
            ok = yl_arg_double(cmd, key, value, 0.0, 1.0, &number);
            o.shift = (float)number;
        } else if (!strcmp(key, "val_fraction")) {
            ok = yl_arg_double(cmd, key, value, 0.0, 1.0, &number);
            o.val_fraction = (float)number;
        } else if (!strcmp(key, "classes")) {
            if (strlen(value) >= sizeof classes_buffer) {
                fprintf(stderr, "synth: classes= is too long\n");
                return 2;
            }
            strcpy(classes_buffer, value);
            o.class_count = split_classes(classes_buffer, names);
            if (!o.class_count) return 2;
            o.class_names = names;
        } else if (!strcmp(key, "ls_json")) {
            ok = yl_arg_string(cmd, key, value, &ls_json);
        } else if (!strcmp(key, "task_id_base")) {
            ok = yl_arg_int(cmd, key, value, 1, INT32_MAX / 2, &task_id_base);
        } else if (!strcmp(key, "split")) {
            ok = !strcmp(value, "train") || !strcmp(value, "val") || !strcmp(value, "all");
            if (!ok) fprintf(stderr, "synth: split=%s: expected train, val or all\n", value);
            split = value;
        } else {
            yl_arg_unknown(cmd, key, "out, n, imgsz, seed, shift, val_fraction, classes, ls_json, task_id_base, split");
            return 2;
        }
        if (!ok) return 2;
    }
    if (!o.out_dir || !o.out_dir[0]) {
        fprintf(stderr, "synth: out= is required (see yoloop synth --help)\n");
        return 2;
    }
    yl_synth_report report;
    if (yl_synth_write(&o, &report) != YL_OK) {
        fprintf(stderr, "synth failed: %s\n", yl_last_error());
        return 1;
    }
    printf("synth: wrote %d train + %d val images to %s (%d + %d objects, %d + %d backgrounds)\n", report.images[0],
           report.images[1], o.out_dir, report.objects[0], report.objects[1], report.backgrounds[0],
           report.backgrounds[1]);
    for (int i = 0; i < o.class_count; i++) printf("  class %d %-12s %d objects\n", i, o.class_names[i], report.objects_per_class[i]);
    printf("  data: %s/data.yaml\n", o.out_dir);
    if (ls_json) {
        static const char *const default_names[] = {"dentado", "concave", "perforation"};
        yl_synth_ls_options ls = {.dataset_dir = o.out_dir,
                                  .split = split,
                                  .names = o.class_names ? o.class_names : default_names,
                                  .nc = o.class_count > 0 ? o.class_count : YL_SYNTH_KINDS,
                                  .task_id_base = task_id_base,
                                  .path = ls_json};
        long tasks = 0;
        if (yl_synth_write_ls_export(&ls, &tasks) != YL_OK) {
            fprintf(stderr, "synth: ls_json: %s\n", yl_last_error());
            return 1;
        }
        printf("  Label Studio JSON export: %s (%ld tasks, ids %d to %ld, split %s)\n", ls_json, tasks, task_id_base,
               task_id_base + tasks - 1, split);
    }
    return 0;
}
