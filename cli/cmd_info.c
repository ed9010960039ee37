// `yoloop info model=<yolov8n.yaml | yolov8s | file.safetensors | file.pt> [nc=] [imgsz=640]`:
// the layer table and summary Ultralytics prints for a model, plus, for a weights file, what the
// file holds (metadata, lineage, class names) after checking that every tensor loads. With nc=
// different from a file's, the model is rebuilt for nc classes and the weights transferred as
// fine-tuning would ("Transferred 319/355 items from pretrained weights").
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/model_table.h"
#include "engine/model/model.h"
#include "weights/checkpoint.h"
#include "weights/load_state.h"
#include "weights/pt_checkpoint.h"
#include "weights/pt_model_config.h"

#define INFO_MAX_NAMES 10  // class names printed for a .pt file

typedef struct {
    const char *model;
    int nc;  // 0 = the model's own
    int imgsz;
} info_options;

static void print_help(FILE *out) {
    fprintf(out,
            "usage: yoloop info model=<name | file> [nc=N] [imgsz=640]\n"
            "\n"
            "Prints the model's layer table (index, from, repeats, parameters, module, arguments) and\n"
            "summary (layers, parameters, gradients, GFLOPs), as Ultralytics does when it builds a model.\n"
            "\n"
            "  model=       yolov8n.yaml (any of n, s, m, l, x; yolov8.yaml means n), yolov8s, s,\n"
            "               a yoloop checkpoint (.safetensors) or an Ultralytics checkpoint (.pt)\n"
            "  nc=          number of classes: for a name, the model's (default 80); for a file, rebuild\n"
            "               the model with nc classes and report the weight transfer fine-tuning would do\n"
            "  imgsz=640    image size for the GFLOPs\n");
}

// Returns 0 on success, else the exit code.
static int parse_options(int argc, char **argv, info_options *o) {
    *o = (info_options){.model = NULL, .nc = 0, .imgsz = 640};
    const char *cmd = "info";
    for (int i = 0; i < argc; i++) {
        char key[32];
        const char *value;
        if (!yl_arg_split(cmd, argv[i], key, sizeof key, &value)) return 2;
        bool ok = true;
        if (!strcmp(key, "model")) {
            ok = yl_arg_string(cmd, key, value, &o->model);
        } else if (!strcmp(key, "nc")) {
            ok = yl_arg_int(cmd, key, value, 1, 100000, &o->nc);
        } else if (!strcmp(key, "imgsz")) {
            ok = yl_arg_int(cmd, key, value, 32, 8192, &o->imgsz);
            if (ok && o->imgsz % 32) {
                fprintf(stderr, "info: imgsz=%s: must be a multiple of 32\n", value);
                return 2;
            }
        } else {
            yl_arg_unknown(cmd, key, "model, nc, imgsz");
            return 2;
        }
        if (!ok) return 2;
    }
    if (!o->model || !o->model[0]) {
        fprintf(stderr, "info: model= is required (see yoloop info --help)\n");
        return 2;
    }
    return 0;
}

static bool ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && !strcmp(s + n - m, suffix);
}

// "yolov8n.yaml", "dir/yolov8s.yaml", "yolov8m", "l": the scale letter, or 0.
static char scale_of_name(const char *model) {
    const char *base = strrchr(model, '/');
    base = base ? base + 1 : model;
    char stem[64];
    snprintf(stem, sizeof stem, "%s", base);
    if (ends_with(stem, ".yaml")) stem[strlen(stem) - 5] = '\0';
    if (!strcmp(stem, "yolov8")) return 'n';  // as Ultralytics: no scale given means the first one
    const char *letter = !strncmp(stem, "yolov8", 6) ? stem + 6 : stem;
    return strlen(letter) == 1 && strchr("nsmlx", letter[0]) ? letter[0] : 0;
}

static int fail(const char *what) {
    fprintf(stderr, "info: %s: %s\n", what, yl_last_error());
    return 1;
}

// A model rebuilt with nc classes, the weights transferred into it; prints the report line.
static int report_transfer(yl_engine *eng, const yl_model_config *from, int nc, const yl_tensor_set *set) {
    yl_model_config cfg = *from;
    cfg.nc = nc;
    yl_model *m = NULL;
    yl_transfer_report report;
    if (yl_model_create(&m, eng, &cfg, 0) != YL_OK) return fail("building the model");
    yl_status status = yl_model_load_tensor_set(m, set, YL_LOAD_TRANSFER, &report);
    yl_model_destroy(m);
    if (status != YL_OK) return fail("transferring the weights");
    char line[96];
    printf("%s (nc=%d -> nc=%d)\n", yl_transfer_report_format(&report, line, sizeof line), from->nc, nc);
    return 0;
}

static int info_checkpoint(yl_engine *eng, const info_options *o, yl_model_config *cfg) {
    yl_model *m = NULL;
    yl_checkpoint_info info;
    if (yl_checkpoint_load(o->model, eng, &m, &info) != YL_OK) return fail("reading the checkpoint");
    *cfg = info.config;
    char name[32];
    printf("yoloop checkpoint %s (format %d): %s, nc=%d, all %d tensors loaded\n", o->model, info.format_version,
           yl_model_config_name(cfg, name, sizeof name), cfg->nc, yl_model_state_count(m));
    if (!cfg->scale) printf("  scale: depth %g, width %g, max_channels %d\n", cfg->depth, cfg->width, cfg->max_channels);
    printf("  names: %s\n  imgsz: %d\n  version: %s (parent: %s)\n  train_args: %s\n  metrics: %s\n",
           info.names_json, info.imgsz, info.version_id[0] ? info.version_id : "-",
           info.parent_version[0] ? info.parent_version : "-", info.train_args_json, info.metrics_json);
    int rc = 0;
    if (o->nc && o->nc != cfg->nc) {
        yl_safetensors st;
        yl_tensor_set set = {0};
        if (yl_safetensors_open(&st, o->model) != YL_OK) {
            rc = fail("reading the checkpoint");
        } else {
            if (yl_safetensors_as_tensor_set(&st, &set) != YL_OK)
                rc = fail("reading the checkpoint");
            else
                rc = report_transfer(eng, cfg, o->nc, &set);
            yl_safetensors_tensor_set_free(&set);
            yl_safetensors_close(&st);
        }
        cfg->nc = o->nc;
    }
    yl_checkpoint_info_free(&info);
    yl_model_destroy(m);
    return rc;
}

static int info_pt(yl_engine *eng, const info_options *o, yl_model_config *cfg) {
    yl_pt_checkpoint ck;
    if (yl_pt_checkpoint_load(&ck, o->model) != YL_OK) return fail("reading the .pt file");
    int rc = 0;
    if (yl_pt_checkpoint_model_config(&ck, cfg) != YL_OK) rc = fail(o->model);
    yl_model *m = NULL;
    if (!rc && yl_model_create(&m, eng, cfg, 0) != YL_OK) rc = fail("building the model");
    if (!rc && yl_model_load_tensor_set(m, &ck.tensors, YL_LOAD_STRICT, NULL) != YL_OK)
        rc = fail("loading the .pt state_dict");
    if (!rc) {
        char name[32];
        printf("Ultralytics checkpoint %s (%s, written by Ultralytics %s%s%s): %s, nc=%d, all %d tensors loaded\n",
               o->model, ck.source, ck.version ? ck.version : "?", ck.date ? ", " : "", ck.date ? ck.date : "",
               yl_model_config_name(cfg, name, sizeof name), ck.nc, ck.tensors.count);
        printf("  names:");
        for (int i = 0; i < ck.names_count && i < INFO_MAX_NAMES; i++) printf("%s %d: %s", i ? "," : "", i, ck.names[i]);
        if (ck.names_count > INFO_MAX_NAMES) printf(", ... (%d in all)", ck.names_count);
        printf("\n");
        for (int i = 0; i < cfg->act_override_count; i++)
            printf("  activation: %s.act is %s, as the checkpoint pickled it\n",
                   cfg->act_overrides[i].module, yl_conv_act_name(cfg->act_overrides[i].act));
        if (o->nc && o->nc != cfg->nc) {
            rc = report_transfer(eng, cfg, o->nc, &ck.tensors);
            cfg->nc = o->nc;
        }
    }
    yl_model_destroy(m);
    yl_pt_checkpoint_free(&ck);
    return rc;
}

int yl_cmd_info(int argc, char **argv) {
    if (yl_arg_wants_help(argc, argv)) {
        print_help(stdout);
        return 0;
    }
    info_options o;
    int rc = parse_options(argc, argv, &o);
    if (rc) return rc;
    yl_engine eng;
    yl_engine_options options = {.device = YL_DEVICE_CPU};
    if (yl_engine_init(&eng, &options) != YL_OK) return fail("engine");
    yl_model_config cfg;
    if (ends_with(o.model, ".safetensors")) {
        rc = info_checkpoint(&eng, &o, &cfg);
    } else if (ends_with(o.model, ".pt")) {
        rc = info_pt(&eng, &o, &cfg);
    } else {
        char scale[2] = {scale_of_name(o.model), '\0'};
        if (!scale[0]) {
            fprintf(stderr, "info: model=%s: expected yolov8[n|s|m|l|x](.yaml), a .safetensors or a .pt file\n",
                    o.model);
            rc = 2;
        } else if (yl_model_config_from_scale(&cfg, scale, o.nc ? o.nc : 80) != YL_OK) {
            rc = fail(o.model);
        }
    }
    if (!rc && yl_print_model_table(stdout, &cfg, o.imgsz) != YL_OK) rc = fail("model table");
    yl_engine_release(&eng);
    return rc;
}
