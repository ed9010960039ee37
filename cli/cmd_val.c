// `yoloop val model=<file.safetensors|file.pt> data=<data.yaml> [imgsz=640] [batch=16] [conf=0.001]
// [iou=0.7] [max_det=300] [split=val] [device=cpu] [workers=2] [rect=true]`: runs the validation
// pipeline (engine/train/validate.h) over one split and prints Ultralytics' results table.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/model_load.h"
#include "engine/data/data_yaml.h"
#include "engine/data/dataset.h"
#include "engine/train/validate.h"

#define VAL_KNOWN "model, data, imgsz, batch, conf, iou, max_det, split, device, workers, rect, single_cls"

typedef struct {
    const char *model, *data, *split;
    yl_device device;
    int cuda_index;
    yl_validator_options v;
} val_args;

static void print_help(FILE *out) {
    fprintf(out,
            "usage: yoloop val model=<file.safetensors|file.pt> data=<data.yaml> [imgsz=640] [batch=16]\n"
            "                  [conf=0.001] [iou=0.7] [max_det=300] [split=val] [device=cpu] [workers=2]\n"
            "                  [rect=true] [single_cls=false]\n"
            "\n"
            "Validates a model on a split of a dataset as Ultralytics' `yolo val` does (letterboxed rect\n"
            "batches, NMS at conf 0.001 / IoU 0.7, metrics on the original image sizes) and prints the\n"
            "table: Class, Images, Instances, Box(P, R, mAP50, mAP50-95), an `all` row, one row per class.\n"
            "\n"
            "  model=        a yoloop checkpoint (.safetensors) or an Ultralytics checkpoint (.pt)\n"
            "  data=         the dataset's data.yaml\n"
            "  split=val     val, test or train\n"
            "  device=cpu    cpu, cuda, cuda:N or N\n"
            "Exit codes: 0 done, 1 error (message on stderr), 2 bad arguments.\n");
}

static int parse_args(int argc, char **argv, val_args *a) {
    memset(a, 0, sizeof *a);
    a->v = yl_validator_defaults();
    a->split = "val";
    a->device = YL_DEVICE_CPU;
    for (int i = 0; i < argc; i++) {
        char key[32];
        const char *value;
        double d;
        bool ok;
        if (!yl_arg_split("val", argv[i], key, sizeof key, &value)) return 2;
        if (!strcmp(key, "model"))
            ok = yl_arg_string("val", key, value, &a->model);
        else if (!strcmp(key, "data"))
            ok = yl_arg_string("val", key, value, &a->data);
        else if (!strcmp(key, "split"))
            ok = yl_arg_string("val", key, value, &a->split);
        else if (!strcmp(key, "imgsz"))
            ok = yl_arg_int("val", key, value, 32, 8192, &a->v.imgsz);
        else if (!strcmp(key, "batch"))
            ok = yl_arg_int("val", key, value, 1, 4096, &a->v.batch);
        else if (!strcmp(key, "workers"))
            ok = yl_arg_int("val", key, value, 1, 64, &a->v.workers);
        else if (!strcmp(key, "max_det"))
            ok = yl_arg_int("val", key, value, 1, 100000, &a->v.max_det);
        else if (!strcmp(key, "conf"))
            ok = yl_arg_double("val", key, value, 0.0, 1.0, &d) && ((a->v.conf = (float)d), true);
        else if (!strcmp(key, "iou"))
            ok = yl_arg_double("val", key, value, 0.0, 1.0, &a->v.iou);
        else if (!strcmp(key, "rect"))
            ok = yl_arg_bool("val", key, value, &a->v.rect);
        else if (!strcmp(key, "single_cls"))
            ok = yl_arg_bool("val", key, value, &a->v.single_cls);
        else if (!strcmp(key, "device"))
            ok = yl_arg_device("val", key, value, &a->device, &a->cuda_index);
        else {
            yl_arg_unknown("val", key, VAL_KNOWN);
            return 2;
        }
        if (!ok) return 2;
    }
    if (a->v.imgsz % 32) {
        fprintf(stderr, "val: imgsz=%d: must be a multiple of 32\n", a->v.imgsz);
        return 2;
    }
    if (strcmp(a->split, "val") && strcmp(a->split, "test") && strcmp(a->split, "train")) {
        fprintf(stderr, "val: split=%s: expected val, test or train\n", a->split);
        return 2;
    }
    if (!a->model || !a->data) {
        fprintf(stderr, "val: model= and data= are required (see yoloop val --help)\n");
        return 2;
    }
    if (!yl_model_file_kind_ok(a->model)) {
        fprintf(stderr, "val: model=%s: expected a .safetensors or .pt file\n", a->model);
        return 2;
    }
    return 0;
}

static int fail(const char *what) {
    fprintf(stderr, "val: %s: %s\n", what, yl_last_error());
    return 1;
}

static int validate(const val_args *a, yl_loaded_model *lm, const yl_data_config *data) {
    const yl_data_split *split = !strcmp(a->split, "test") ? &data->test : !strcmp(a->split, "train") ? &data->train
                                                                                                      : &data->val;
    if (split->images.count == 0) {
        fprintf(stderr, "val: %s: the %s split has no images\n", a->data, a->split);
        return 1;
    }
    if (!a->v.single_cls && data->nc != lm->nc) {
        fprintf(stderr, "val: %s has nc=%d but %s has nc=%d\n", a->data, data->nc, a->model, lm->nc);
        return 1;
    }
    yl_dataset ds;
    if (yl_dataset_build((const char *const *)split->images.paths, split->images.count, data->nc, &ds) != YL_OK)
        return fail(a->data);
    for (int i = 0; i < ds.warning_count; i++) fprintf(stderr, "val: WARNING %s\n", ds.warnings[i]);
    char summary[160];
    yl_dataset_summary(&ds, summary, sizeof summary);
    printf("val: scanning %s split of %s: %s\n", a->split, a->data, summary);
    yl_validator_options vo = a->v;
    vo.names = (const char *const *)lm->names;  // Ultralytics names rows by the model's names
    yl_validator *v = NULL;
    const yl_eval_results *r = NULL;
    int rc = 0;
    if (yl_validator_create(&v, lm->model, &ds, &vo) != YL_OK || yl_validator_run(v, &r, NULL) != YL_OK) {
        rc = fail("validation");
    } else {
        const size_t need = yl_format_val_table(r, vo.names, true, NULL, 0) + 1;
        char *table = malloc(need);
        if (table) {
            yl_format_val_table(r, vo.names, true, table, need);
            fputs(table, stdout);
        }
        free(table);
        double ms[4];
        yl_validator_speed(v, ms);
        printf("Speed: %.1fms preprocess, %.1fms inference, %.1fms loss, %.1fms postprocess per image\n", ms[0], ms[1],
               ms[2], ms[3]);
        if (yl_validator_skipped(v) > 0) fprintf(stderr, "val: WARNING %ld images could not be read\n", yl_validator_skipped(v));
    }
    yl_validator_destroy(v);
    yl_dataset_free(&ds);
    return rc;
}

int yl_cmd_val(int argc, char **argv) {
    if (yl_arg_wants_help(argc, argv)) {
        print_help(stdout);
        return 0;
    }
    val_args a;
    int rc = parse_args(argc, argv, &a);
    if (rc) return rc;
    yl_engine eng;
    if (yl_cli_engine_init(&eng, a.device, a.cuda_index) != YL_OK) return fail("device");
    yl_loaded_model lm;
    yl_data_config data;
    memset(&data, 0, sizeof data);
    if (yl_load_model_file(a.model, &eng, &lm) != YL_OK) {
        rc = fail(a.model);
    } else {
        if (yl_data_yaml_load(a.data, &data) != YL_OK)
            rc = fail(a.data);
        else
            rc = validate(&a, &lm, &data);
        yl_data_config_free(&data);
        yl_loaded_model_free(&lm);
    }
    yl_engine_release(&eng);
    return rc;
}
