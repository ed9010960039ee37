// `yoloop predict model=<file> source=<image|dir|list.txt> [conf=0.25] [iou=0.7] [imgsz=640]
// [max_det=300] [project=runs/predict] [name=exp] [exist_ok=false] [save=true] [save_txt=true]
// [save_conf=false] [device=cpu]`: predicts every image of the source (engine/train/predict.h) and
// writes annotated images (<stem>.png) and YOLO label files (labels/<stem>.txt) into the run folder.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <stb_image_write.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/model_load.h"
#include "cli/predict_output.h"
#include "engine/data/file_util.h"
#include "engine/data/image_list.h"
#include "engine/train/predict.h"

#define PREDICT_KNOWN \
    "model, source, conf, iou, imgsz, max_det, project, name, exist_ok, save, save_txt, save_conf, device"

typedef struct {
    const char *model, *source, *project, *name;
    bool exist_ok, save, save_txt, save_conf;
    yl_device device;
    int cuda_index;
    yl_predict_options p;
} predict_args;

static void print_help(FILE *out) {
    fprintf(out,
            "usage: yoloop predict model=<file.safetensors|file.pt> source=<image|dir|list.txt> [conf=0.25]\n"
            "                      [iou=0.7] [imgsz=640] [max_det=300] [project=runs/predict] [name=exp]\n"
            "                      [exist_ok=false] [save=true] [save_txt=true] [save_conf=false] [device=cpu]\n"
            "\n"
            "Detects objects in each image (letterbox to imgsz, NMS at conf/iou, boxes in original pixels)\n"
            "and writes, into <project>/<name> (name2, name3, ... when it exists), the annotated images as\n"
            "<stem>.png (save=) and YOLO label files labels/<stem>.txt: 'class cx cy w h[ conf]' (save_txt=).\n"
            "Exit codes: 0 done, 1 error (message on stderr), 2 bad arguments.\n");
}

static int parse_args(int argc, char **argv, predict_args *a) {
    memset(a, 0, sizeof *a);
    a->p = yl_predict_defaults();
    a->project = "runs/predict";
    a->name = "exp";
    a->save = a->save_txt = true;
    a->device = YL_DEVICE_CPU;
    for (int i = 0; i < argc; i++) {
        char key[32];
        const char *value;
        double d;
        bool ok;
        if (!yl_arg_split("predict", argv[i], key, sizeof key, &value)) return 2;
        if (!strcmp(key, "model"))
            ok = yl_arg_string("predict", key, value, &a->model);
        else if (!strcmp(key, "source"))
            ok = yl_arg_string("predict", key, value, &a->source);
        else if (!strcmp(key, "project"))
            ok = yl_arg_string("predict", key, value, &a->project);
        else if (!strcmp(key, "name"))
            ok = yl_arg_string("predict", key, value, &a->name);
        else if (!strcmp(key, "conf"))
            ok = yl_arg_double("predict", key, value, 0.0, 1.0, &d) && ((a->p.conf = (float)d), true);
        else if (!strcmp(key, "iou"))
            ok = yl_arg_double("predict", key, value, 0.0, 1.0, &a->p.iou);
        else if (!strcmp(key, "imgsz"))
            ok = yl_arg_int("predict", key, value, 32, 8192, &a->p.imgsz);
        else if (!strcmp(key, "max_det"))
            ok = yl_arg_int("predict", key, value, 1, 100000, &a->p.max_det);
        else if (!strcmp(key, "exist_ok"))
            ok = yl_arg_bool("predict", key, value, &a->exist_ok);
        else if (!strcmp(key, "save"))
            ok = yl_arg_bool("predict", key, value, &a->save);
        else if (!strcmp(key, "save_txt"))
            ok = yl_arg_bool("predict", key, value, &a->save_txt);
        else if (!strcmp(key, "save_conf"))
            ok = yl_arg_bool("predict", key, value, &a->save_conf);
        else if (!strcmp(key, "device"))
            ok = yl_arg_device("predict", key, value, &a->device, &a->cuda_index);
        else {
            yl_arg_unknown("predict", key, PREDICT_KNOWN);
            return 2;
        }
        if (!ok) return 2;
    }
    if (a->p.imgsz % 32) {
        fprintf(stderr, "predict: imgsz=%d: must be a multiple of 32\n", a->p.imgsz);
        return 2;
    }
    if (!a->model || !a->source) {
        fprintf(stderr, "predict: model= and source= are required (see yoloop predict --help)\n");
        return 2;
    }
    if (!yl_model_file_kind_ok(a->model)) {
        fprintf(stderr, "predict: model=%s: expected a .safetensors or .pt file\n", a->model);
        return 2;
    }
    return 0;
}

static int fail(const char *what) {
    fprintf(stderr, "predict: %s: %s\n", what, yl_last_error());
    return 1;
}

// Predicts one image and writes its outputs.
static int predict_one(const predict_args *a, yl_predictor *p, const char *path, const char *dir, int index,
                       int count) {
    yl_prediction pred;
    yl_image_u8 image = {0};
    if (yl_predictor_run_file(p, path, &pred, a->save ? &image : NULL) != YL_OK) return fail(path);
    char stem[256];
    yl_path_stem(path, stem, sizeof stem);
    printf("image %d/%d %s: %dx%d, %lld detection%s\n", index + 1, count, path, pred.width, pred.height,
           (long long)pred.count, pred.count == 1 ? "" : "s");
    int rc = 0;
    if (a->save_txt) {
        char file[300];
        snprintf(file, sizeof file, "labels/%s.txt", stem);
        char *txt = yl_path_join(dir, file);
        if (!txt || yl_write_yolo_txt(txt, &pred, a->save_conf) != YL_OK) rc = fail("labels");
        free(txt);
    }
    if (!rc && a->save) {
        yl_draw_detections(&image, &pred);
        char file[300];
        snprintf(file, sizeof file, "%s.png", stem);
        char *png = yl_path_join(dir, file);
        if (!png || !stbi_write_png(png, image.width, image.height, 3, image.pixels, image.width * 3)) {
            fprintf(stderr, "predict: cannot write %s\n", png ? png : file);
            rc = 1;
        }
        free(png);
    }
    yl_image_u8_free(&image);
    return rc;
}

static int run(const predict_args *a, yl_loaded_model *lm) {
    yl_path_list list = {0};
    if (yl_path_list_add_source(&list, a->source) != YL_OK) {
        yl_path_list_free(&list);
        return fail(a->source);
    }
    yl_path_list_sort(&list);
    int rc = 0;
    if (list.count == 0) {
        fprintf(stderr, "predict: source=%s holds no images\n", a->source);
        rc = 1;
    }
    char *dir = NULL, *labels = NULL;
    if (!rc && yl_predict_run_dir(a->project, a->name, a->exist_ok, &dir) != YL_OK) rc = fail("run folder");
    if (!rc && a->save_txt && (!(labels = yl_path_join(dir, "labels")) || yl_make_directories(labels) != YL_OK))
        rc = fail("labels folder");
    yl_predict_options po = a->p;
    po.names = (const char *const *)lm->names;
    yl_predictor *p = NULL;
    if (!rc && yl_predictor_create(&p, lm->model, &po) != YL_OK) rc = fail("predictor");
    for (int i = 0; !rc && i < list.count; i++) rc = predict_one(a, p, list.paths[i], dir, i, list.count);
    if (!rc) printf("Results saved to %s\n", dir);
    yl_predictor_destroy(p);
    free(labels);
    free(dir);
    yl_path_list_free(&list);
    return rc;
}

int yl_cmd_predict(int argc, char **argv) {
    if (yl_arg_wants_help(argc, argv)) {
        print_help(stdout);
        return 0;
    }
    predict_args a;
    int rc = parse_args(argc, argv, &a);
    if (rc) return rc;
    yl_engine eng;
    if (yl_cli_engine_init(&eng, a.device, a.cuda_index) != YL_OK) return fail("device");
    yl_loaded_model lm;
    if (yl_load_model_file(a.model, &eng, &lm) != YL_OK) {
        rc = fail(a.model);
    } else {
        rc = run(&a, &lm);
        yl_loaded_model_free(&lm);
    }
    yl_engine_release(&eng);
    return rc;
}
