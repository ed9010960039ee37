// `yoloop init workspace=<dir> model=<.safetensors|.pt> names=a,b,c replay=<data.yaml>
// source=json|yolo|labelstudio [...]`: creates a continual-learning workspace (cycle/workspace.h).
// The workspace is built in a sibling temporary folder and renamed into place when complete, so
// a failed or killed init leaves nothing that looks like a workspace.
#define _XOPEN_SOURCE 700  // realpath
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/cycle/registry.h"
#include "cli/cycle/workspace.h"
#include "cli/fs_util.h"
#include "cli/init_dataset.h"
#include "cli/model_load.h"
#include "weights/checkpoint.h"

#define INIT_KNOWN \
    "workspace, model, names, replay, source, export, images, url, project, control, token_file, imgsz, lr0, " \
    "epochs, batch, golden, device"
#define MAX_NAMES 1000
#define PATH_SIZE 4096

typedef struct {
    const char *workspace, *model, *names_arg, *replay, *source, *export_path, *images, *url, *control, *token_file,
        *golden;
    int project, imgsz, epochs, batch;
    double lr0;
    yl_device device;
    int cuda_index;
    char *names_buffer;
    char *names[MAX_NAMES];
    int nc;
} init_args;

static void print_help(FILE *out) {
    fprintf(out,
            "usage: yoloop init workspace=<dir> model=<file.safetensors|file.pt> names=a,b,c replay=<data.yaml>\n"
            "                   source=json|yolo|labelstudio [export=<file|dir>] [images=<dir>]\n"
            "                   [url=http://127.0.0.1:8080 project=N] [control=<name>] [token_file=<file>]\n"
            "                   [imgsz=640] [lr0=0.001] [epochs=10] [batch=16] [golden=<data.yaml>] [device=cpu]\n"
            "\n"
            "Creates a continual-learning workspace for `yoloop cycle`:\n"
            "  <dir>/yoloop.yaml          the settings (edit thresholds and the fine-tune recipe there)\n"
            "  <dir>/replay/              a copy (hard links when possible) of the train split of replay=\n"
            "  <dir>/golden/              a copy of the val split of golden= (never trained on), when given\n"
            "  <dir>/models/versions/v0001  the model (a .pt is converted to a yoloop checkpoint), deployed\n"
            "  <dir>/exports/, images/    where a json/yolo export and its images go when export=/images=\n"
            "                             are not given\n"
            "Refuses a <dir> that exists and is not empty.\n"
            "\n"
            "  names=        the model's classes in model order; the model, replay= and golden= must agree\n"
            "  source=       labelstudio (url=, project=; the token from LABEL_STUDIO_API_KEY or\n"
            "                token_file=, never on the command line), json (export= a Label Studio JSON\n"
            "                export file or a folder of them, images= where the images are), yolo (export=\n"
            "                a Label Studio YOLO export folder)\n"
            "  imgsz=        evaluation and fine-tune image size (a multiple of 32)\n"
            "  lr0=, epochs=, batch=   the fine-tune recipe (optimizer SGD, explicit)\n"
            "Exit codes: 0 created, 1 error (nothing is left behind), 2 bad arguments.\n");
}

static int split_names(init_args *a) {
    a->names_buffer = strdup(a->names_arg);
    if (!a->names_buffer) return 1;
    for (char *token = a->names_buffer;;) {
        char *comma = strchr(token, ',');
        if (comma) *comma = '\0';
        while (*token == ' ') token++;
        for (char *end = token + strlen(token); end > token && end[-1] == ' ';) *--end = '\0';
        if (!*token || a->nc == MAX_NAMES) {
            fprintf(stderr, "init: names=%s: expected 1 to %d non-empty comma-separated names\n", a->names_arg,
                    MAX_NAMES);
            return 2;
        }
        for (int i = 0; i < a->nc; i++)
            if (!strcmp(a->names[i], token)) {
                fprintf(stderr, "init: names=%s: '%s' appears twice\n", a->names_arg, token);
                return 2;
            }
        a->names[a->nc++] = token;
        if (!comma) return 0;
        token = comma + 1;
    }
}

static int parse_one(init_args *a, const char *key, const char *value) {
    const char *cmd = "init";
    bool ok;
    if (!strcmp(key, "workspace")) ok = yl_arg_string(cmd, key, value, &a->workspace);
    else if (!strcmp(key, "model")) ok = yl_arg_string(cmd, key, value, &a->model);
    else if (!strcmp(key, "names")) ok = yl_arg_string(cmd, key, value, &a->names_arg);
    else if (!strcmp(key, "replay")) ok = yl_arg_string(cmd, key, value, &a->replay);
    else if (!strcmp(key, "source")) ok = yl_arg_string(cmd, key, value, &a->source);
    else if (!strcmp(key, "export")) ok = yl_arg_string(cmd, key, value, &a->export_path);
    else if (!strcmp(key, "images")) ok = yl_arg_string(cmd, key, value, &a->images);
    else if (!strcmp(key, "url")) ok = yl_arg_string(cmd, key, value, &a->url);
    else if (!strcmp(key, "control")) ok = yl_arg_string(cmd, key, value, &a->control);
    else if (!strcmp(key, "token_file")) ok = yl_arg_string(cmd, key, value, &a->token_file);
    else if (!strcmp(key, "golden")) ok = yl_arg_string(cmd, key, value, &a->golden);
    else if (!strcmp(key, "project")) ok = yl_arg_int(cmd, key, value, 1, INT_MAX, &a->project);
    else if (!strcmp(key, "imgsz")) ok = yl_arg_int(cmd, key, value, 32, 8192, &a->imgsz);
    else if (!strcmp(key, "epochs")) ok = yl_arg_int(cmd, key, value, 1, 100000, &a->epochs);
    else if (!strcmp(key, "batch")) ok = yl_arg_int(cmd, key, value, 1, 4096, &a->batch);
    else if (!strcmp(key, "lr0")) ok = yl_arg_double(cmd, key, value, 1e-9, 1.0, &a->lr0);
    else if (!strcmp(key, "device")) ok = yl_arg_device(cmd, key, value, &a->device, &a->cuda_index);
    else if (!strcmp(key, "token")) {
        fprintf(stderr, "init: token= is refused: a token on the command line ends up in shell history and process "
                        "lists; set LABEL_STUDIO_API_KEY or give token_file=\n");
        return 2;
    } else {
        yl_arg_unknown(cmd, key, INIT_KNOWN);
        return 2;
    }
    return ok ? 0 : 2;
}

static int parse_args(int argc, char **argv, init_args *a) {
    for (int i = 0; i < argc; i++) {
        char key[32];
        const char *value;
        if (!yl_arg_split("init", argv[i], key, sizeof key, &value)) return 2;
        int rc = parse_one(a, key, value);
        if (rc) return rc;
    }
    if (!a->workspace || !a->model || !a->names_arg || !a->replay || !a->source) {
        fprintf(stderr, "init: workspace=, model=, names=, replay= and source= are required (see yoloop init --help)\n");
        return 2;
    }
    if (strcmp(a->source, "json") && strcmp(a->source, "yolo") && strcmp(a->source, "labelstudio")) {
        fprintf(stderr, "init: source=%s: expected json, yolo or labelstudio\n", a->source);
        return 2;
    }
    if (!strcmp(a->source, "labelstudio") && (!a->url || !a->project)) {
        fprintf(stderr, "init: source=labelstudio needs url= and project=\n");
        return 2;
    }
    if (a->imgsz && a->imgsz % 32) {
        fprintf(stderr, "init: imgsz=%d: must be a multiple of 32\n", a->imgsz);
        return 2;
    }
    if (!yl_model_file_kind_ok(a->model)) {
        fprintf(stderr, "init: model=%s: expected a .safetensors or .pt file\n", a->model);
        return 2;
    }
    return split_names(a);
}

// An absolute form of a path given on the command line (the workspace outlives the shell's
// working directory). The file need not exist yet (an export folder filled later).
static char *absolute(const char *path) {
    char *real = realpath(path, NULL);
    if (real) return real;
    if (path[0] == '/') return strdup(path);
    char cwd[PATH_SIZE];
    if (!getcwd(cwd, sizeof cwd)) return NULL;
    size_t n = strlen(cwd) + strlen(path) + 2;
    char *out = malloc(n);
    if (out) snprintf(out, n, "%s/%s", cwd, path);
    return out;
}

static yl_status fail_oom(void) { return yl_error(YL_ERR_OOM, "init: out of memory"); }

static yl_status make_layout(const char *root, const init_args *a) {
    static const char *const dirs[] = {"models/versions", "models/candidates", "snapshots", "cycles", "history",
                                       "cache/images"};
    char path[2 * PATH_SIZE];
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", root, dirs[i]);
        YL_TRY(yl_fs_mkdirs(path));
    }
    if (strcmp(a->source, "labelstudio")) {  // where the exports go by default
        if (!a->export_path) {
            snprintf(path, sizeof path, "%s/exports", root);
            YL_TRY(yl_fs_mkdirs(path));
        }
        if (!a->images) {
            snprintf(path, sizeof path, "%s/images", root);
            YL_TRY(yl_fs_mkdirs(path));
        }
    }
    return YL_OK;
}

static bool generic_names(const yl_loaded_model *lm) {
    for (int i = 0; i < lm->nc; i++) {
        char fallback[32];
        snprintf(fallback, sizeof fallback, "class%d", i);
        if (strcmp(lm->names[i], fallback)) return false;
    }
    return true;
}

// The model as a yoloop checkpoint carrying the workspace's names, at `out`.
static yl_status convert_model(const init_args *a, const char *out) {
    yl_engine eng;
    YL_TRY(yl_cli_engine_init(&eng, YL_DEVICE_CPU, 0));
    yl_loaded_model lm;
    yl_status st = yl_load_model_file(a->model, &eng, &lm);
    if (st != YL_OK) {
        yl_engine_release(&eng);
        return yl_error_context(st, "init: model=%s: ", a->model);
    }
    if (lm.nc != a->nc)
        st = yl_error(YL_ERR_INVALID_ARG, "init: model=%s has %d classes, names= gives %d", a->model, lm.nc, a->nc);
    for (int i = 0; st == YL_OK && !generic_names(&lm) && i < a->nc; i++)
        if (strcmp(lm.names[i], a->names[i]))
            st = yl_error(YL_ERR_INVALID_ARG, "init: model=%s names class %d '%s', names= says '%s'", a->model, i,
                          lm.names[i], a->names[i]);
    cJSON *names = st == YL_OK ? cJSON_CreateStringArray((const char *const *)a->names, a->nc) : NULL;
    char *names_json = names ? cJSON_PrintUnformatted(names) : NULL;
    if (st == YL_OK && !names_json) st = fail_oom();
    if (st == YL_OK) {
        yl_checkpoint_info info;
        memset(&info, 0, sizeof info);
        info.names_json = names_json;
        info.imgsz = a->imgsz ? a->imgsz : lm.imgsz;
        st = yl_checkpoint_save(lm.model, &info, out);
    }
    free(names_json);
    cJSON_Delete(names);
    yl_loaded_model_free(&lm);
    yl_engine_release(&eng);
    return st;
}

static yl_status add_model(const char *root, const init_args *a, char id[YL_VERSION_ID_SIZE]) {
    char converted[2 * PATH_SIZE];
    snprintf(converted, sizeof converted, "%s/models/init_model.safetensors", root);
    YL_TRY(convert_model(a, converted));
    cJSON *meta = cJSON_CreateObject();
    char *source = absolute(a->model);
    if (!meta || !source) {
        cJSON_Delete(meta);
        free(source);
        return fail_oom();
    }
    cJSON_AddStringToObject(meta, "source_model", source);
    cJSON_AddStringToObject(meta, "note", "added by yoloop init");
    free(source);
    yl_status st = yl_registry_add(root, converted, "init", NULL, meta, id);
    cJSON_Delete(meta);
    if (st == YL_OK) st = yl_fs_remove_tree(converted);
    if (st == YL_OK) st = yl_registry_deploy(root, id, "yoloop init");
    return st;
}

static yl_status write_config(const char *root, const init_args *a) {
    yl_workspace_config c = yl_workspace_config_defaults();
    c.source = !strcmp(a->source, "labelstudio") ? YL_SOURCE_LABEL_STUDIO
               : !strcmp(a->source, "json")      ? YL_SOURCE_JSON_EXPORT
                                                 : YL_SOURCE_YOLO_EXPORT;
    c.root = (char *)root;
    c.ls_url = (char *)a->url;
    c.ls_project = a->project;
    c.control = (char *)a->control;
    c.nc = a->nc;
    c.names = (char **)a->names;
    if (a->imgsz) c.eval_imgsz = c.ft_imgsz = a->imgsz;
    else c.ft_imgsz = c.eval_imgsz;
    if (a->lr0 > 0) c.ft_lr0 = a->lr0;
    if (a->epochs) c.ft_epochs = a->epochs;
    if (a->batch) c.ft_batch = a->batch;
    c.device = a->device;
    c.cuda_index = a->cuda_index;
    char *export_path = a->export_path ? absolute(a->export_path) : NULL;
    char *images = a->images ? absolute(a->images) : NULL;
    char *token_file = a->token_file ? absolute(a->token_file) : NULL;
    yl_status st = (a->export_path && !export_path) || (a->images && !images) || (a->token_file && !token_file)
                       ? fail_oom()
                       : YL_OK;
    c.export_path = export_path;
    c.images_dir = images;
    c.token_file = token_file;
    if (st == YL_OK) st = yl_workspace_config_save(&c);
    free(export_path);
    free(images);
    free(token_file);
    return st;
}

static yl_status build(const char *root, const init_args *a, FILE *out) {
    YL_TRY(make_layout(root, a));
    char dest[2 * PATH_SIZE];
    yl_init_copy_report report;
    snprintf(dest, sizeof dest, "%s/replay", root);
    YL_TRY(yl_init_copy_dataset(a->replay, "train", (const char *const *)a->names, a->nc, dest, &report));
    fprintf(out, "init: replay/: %d images, %d label files from the train split of %s\n", report.images,
            report.labels, a->replay);
    if (a->golden) {
        snprintf(dest, sizeof dest, "%s/golden", root);
        YL_TRY(yl_init_copy_dataset(a->golden, "val", (const char *const *)a->names, a->nc, dest, &report));
        fprintf(out, "init: golden/: %d images, %d label files from the val split of %s\n", report.images,
                report.labels, a->golden);
    }
    char id[YL_VERSION_ID_SIZE];
    YL_TRY(add_model(root, a, id));
    fprintf(out, "init: %s added to the registry from %s and deployed\n", id, a->model);
    return write_config(root, a);
}

// The workspace folder must be new (or an empty folder).
static int check_target(const char *workspace) {
    if (!yl_fs_exists(workspace)) return 0;
    char **names = NULL;
    int count = 0;
    if (!yl_fs_is_dir(workspace) || yl_fs_list_dir(workspace, &names, &count) != YL_OK || count > 0) {
        yl_fs_free_names(names, count);
        fprintf(stderr, "init: workspace=%s exists and is not an empty folder; refusing to overwrite it\n", workspace);
        return 1;
    }
    yl_fs_free_names(names, count);
    return 0;
}

int yl_cmd_init(int argc, char **argv) {
    if (yl_arg_wants_help(argc, argv)) {
        print_help(stdout);
        return 0;
    }
    init_args a;
    memset(&a, 0, sizeof a);
    a.device = YL_DEVICE_CPU;
    int rc = parse_args(argc, argv, &a);
    if (rc || (rc = check_target(a.workspace))) {
        free(a.names_buffer);
        return rc;
    }
    // Built beside the target (same file system, so the final rename is atomic); "ws/" -> "ws".
    char target[PATH_SIZE], root[PATH_SIZE + 64];
    snprintf(target, sizeof target, "%s", a.workspace);
    for (size_t n = strlen(target); n > 1 && target[n - 1] == '/';) target[--n] = '\0';
    a.workspace = target;
    snprintf(root, sizeof root, "%s.init.tmp.%ld", target, (long)getpid());
    yl_status st = yl_fs_remove_tree(root);
    if (st == YL_OK) st = build(root, &a, stdout);
    if (st == YL_OK) st = yl_fs_rename_durable(root, a.workspace);
    if (st != YL_OK) {
        fprintf(stderr, "init: %s\n", yl_last_error());
        yl_fs_remove_tree(root);
        free(a.names_buffer);
        return 1;
    }
    printf("init: workspace %s ready (settings in %s/yoloop.yaml); run `yoloop cycle workspace=%s`\n", a.workspace,
           a.workspace, a.workspace);
    free(a.names_buffer);
    return 0;
}
