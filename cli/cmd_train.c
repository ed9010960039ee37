// `yoloop train model=... data=... [key=value ...]`: trains a YOLOv8 detector as Ultralytics'
// `yolo train` does (engine/train/trainer.h) and prints its progress; results in project/name.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/train_print.h"
#include "engine/train/trainer.h"

#define TRAIN_KNOWN                                                                                          \
    "model, data, epochs, imgsz, batch, device, workers, lr0, lrf, momentum, weight_decay, warmup_epochs, " \
    "warmup_bias_lr, optimizer, freeze, patience, seed, close_mosaic, resume, replay, replay_ratio, "       \
    "project, name, cos_lr, nbs, val"

typedef struct {
    yl_trainer_options o;
    const char *project, *name;
} train_args;

static void print_help(FILE *out) {
    fprintf(out,
            "usage: yoloop train model=<yolov8n.yaml|n|file.pt|file.safetensors> data=<data.yaml> [epochs=100]\n"
            "                    [imgsz=640] [batch=16] [device=cpu|cuda] [workers=2] [lr0=0.01] [lrf=0.01]\n"
            "                    [momentum=0.937] [weight_decay=0.0005] [warmup_epochs=3.0] [warmup_bias_lr=0.1]\n"
            "                    [optimizer=auto|SGD|AdamW] [freeze=0|[0,1,...]] [patience=100] [seed=0]\n"
            "                    [close_mosaic=10] [resume=false] [replay=<data.yaml>] [replay_ratio=0.3]\n"
            "                    [project=runs/train] [name=exp] [cos_lr=false] [nbs=64] [val=true]\n"
            "\n"
            "Trains a detector the way Ultralytics' `yolo train` does: SGD/AdamW with warm-up, gradient\n"
            "accumulation to nbs, EMA weights validated every epoch, mosaic off for the last close_mosaic\n"
            "epochs, early stopping after `patience` epochs without improvement. At the end\n"
            "best.safetensors is validated once more (per-class table) and the step time is split into\n"
            "compute and waiting for the data loader.\n"
            "\n"
            "  model=         a scale (yolov8n.yaml, yolov8s, n ...) to train from scratch, or a .pt /\n"
            "                 .safetensors checkpoint to fine-tune from (weights transferred by name)\n"
            "  replay=        a second data.yaml mixed into every batch (replay_ratio of each batch)\n"
            "  resume=true    continue project/name from weights/last.state.safetensors\n"
            "  val=false      no validation: neither per epoch nor of best at the end (fitness = -loss)\n"
            "Writes project/name (name2, name3, ... when it exists): weights/last.safetensors,\n"
            "weights/best.safetensors, weights/last.state.safetensors, results.csv.\n"
            "Exit codes: 0 done, 1 error (message on stderr), 2 bad arguments.\n");
}

// freeze=N or freeze=[a,b,...]
static bool parse_freeze(const char *value, yl_trainer_options *o) {
    if (value[0] != '[') return yl_arg_int("train", "freeze", value, 0, 1000, &o->freeze);
    const char *p = value + 1;
    o->freeze_list_count = 0;
    while (*p && *p != ']') {
        char *end;
        long v = strtol(p, &end, 10);
        if (end == p || v < 0 || v > 1000 || o->freeze_list_count == YL_TRAIN_MAX_FREEZE) {
            fprintf(stderr, "train: freeze=%s: expected an integer or a list [0, 1, ...] of layer indices\n", value);
            return false;
        }
        o->freeze_list[o->freeze_list_count++] = (int)v;
        p = end;
        while (*p == ',' || *p == ' ') p++;
    }
    if (*p != ']' || p[1]) {
        fprintf(stderr, "train: freeze=%s: missing ']'\n", value);
        return false;
    }
    return true;
}

static bool parse_one(train_args *a, const char *key, const char *value) {
    yl_trainer_options *o = &a->o;
    double ratio;
    if (!strcmp(key, "model")) return yl_arg_string("train", key, value, &o->model);
    if (!strcmp(key, "data")) return yl_arg_string("train", key, value, &o->data);
    if (!strcmp(key, "epochs")) return yl_arg_int("train", key, value, 1, 100000, &o->epochs);
    if (!strcmp(key, "imgsz")) return yl_arg_int("train", key, value, 32, 8192, &o->imgsz);
    if (!strcmp(key, "batch")) return yl_arg_int("train", key, value, 1, 4096, &o->batch);
    if (!strcmp(key, "workers")) return yl_arg_int("train", key, value, 0, 64, &o->workers);
    if (!strcmp(key, "device")) return yl_arg_device("train", key, value, &o->device, &o->cuda_index);
    if (!strcmp(key, "lr0")) return yl_arg_double("train", key, value, 1e-12, 10, &o->lr0);
    if (!strcmp(key, "lrf")) return yl_arg_double("train", key, value, 0, 10, &o->lrf);
    if (!strcmp(key, "momentum")) return yl_arg_double("train", key, value, 0, 1, &o->momentum);
    if (!strcmp(key, "weight_decay")) return yl_arg_double("train", key, value, 0, 1, &o->weight_decay);
    if (!strcmp(key, "warmup_epochs")) return yl_arg_double("train", key, value, 0, 1000, &o->warmup_epochs);
    if (!strcmp(key, "warmup_bias_lr")) return yl_arg_double("train", key, value, 0, 10, &o->warmup_bias_lr);
    if (!strcmp(key, "optimizer")) return yl_arg_string("train", key, value, &o->optimizer);
    if (!strcmp(key, "freeze")) return parse_freeze(value, o);
    if (!strcmp(key, "patience")) return yl_arg_int("train", key, value, 0, 1000000, &o->patience);
    if (!strcmp(key, "close_mosaic")) return yl_arg_int("train", key, value, 0, 100000, &o->close_mosaic);
    if (!strcmp(key, "nbs")) return yl_arg_int("train", key, value, 1, 100000, &o->nbs);
    if (!strcmp(key, "resume")) return yl_arg_bool("train", key, value, &o->resume);
    if (!strcmp(key, "cos_lr")) return yl_arg_bool("train", key, value, &o->cos_lr);
    if (!strcmp(key, "val")) return yl_arg_bool("train", key, value, &o->validate);
    if (!strcmp(key, "replay")) return yl_arg_string("train", key, value, &o->replay_data);
    if (!strcmp(key, "project")) return yl_arg_string("train", key, value, &a->project);
    if (!strcmp(key, "name")) return yl_arg_string("train", key, value, &a->name);
    if (!strcmp(key, "seed")) {
        int seed;
        if (!yl_arg_int("train", key, value, 0, 2147483647, &seed)) return false;
        o->seed = (uint64_t)seed;
        return true;
    }
    if (!strcmp(key, "replay_ratio")) {
        if (!yl_arg_double("train", key, value, 0, 0.999, &ratio)) return false;
        o->replay_ratio = (float)ratio;
        return true;
    }
    yl_arg_unknown("train", key, TRAIN_KNOWN);
    return false;
}

static bool exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

// project/name, or name2, name3, ... when it exists (Ultralytics' increment_path); resume
// continues project/name itself.
static void choose_save_dir(const train_args *a, char *buf, size_t size) {
    snprintf(buf, size, "%s/%s", a->project, a->name);
    for (int i = 2; !a->o.resume && exists(buf) && i < 10000; i++) snprintf(buf, size, "%s/%s%d", a->project, a->name, i);
}

int yl_cmd_train(int argc, char **argv) {
    if (yl_arg_wants_help(argc, argv)) {
        print_help(stdout);
        return 0;
    }
    train_args a;
    memset(&a, 0, sizeof a);
    a.o = yl_trainer_defaults();
    a.o.model = NULL;
    a.project = "runs/train";
    a.name = "exp";
    for (int i = 0; i < argc; i++) {
        char key[32];
        const char *value;
        if (!yl_arg_split("train", argv[i], key, sizeof key, &value) || !parse_one(&a, key, value)) return 2;
    }
    if (!a.o.model || !a.o.data) {
        fprintf(stderr, "train: model= and data= are required (see yoloop train --help)\n");
        return 2;
    }
    char save_dir[400];
    choose_save_dir(&a, save_dir, sizeof save_dir);
    a.o.save_dir = save_dir;
    yl_train_printer printer;
    yl_train_printer_init(&printer, stdout);
    a.o.on_progress = yl_train_print_progress;
    a.o.on_epoch = yl_train_print_epoch;
    a.o.user = &printer;
    a.o.log = yl_train_print_log;
    a.o.log_user = &printer;
    yl_train_summary summary;
    if (yl_train(&a.o, &summary) != YL_OK) {
        fprintf(stderr, "error: %s\n", yl_last_error());
        return 1;
    }
    yl_train_print_summary(stdout, &summary, a.o.validate);
    printf("Results saved to %s\n", save_dir);
    return 0;
}
