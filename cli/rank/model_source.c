#include "cli/rank/model_source.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "cli/cycle/registry.h"
#include "cli/cycle/workspace.h"
#include "engine/data/file_util.h"

static char *dup_or_null(const char *s) { return s ? yl_strdup(s) : NULL; }

static void file_stem(const char *path, char *out, size_t size) {
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    snprintf(out, size, "%s", base);
    char *dot = strrchr(out, '.');
    if (dot && dot != out) *dot = '\0';
}

static yl_status from_workspace(const yl_rank_source_args *a, yl_rank_source *s, char *model_path, size_t size) {
    yl_workspace_config ws = yl_workspace_config_defaults();
    YL_TRY(yl_workspace_config_load(a->workspace, &ws));
    yl_status st = YL_OK;
    s->workspace = yl_strdup(a->workspace);
    s->imgsz = ws.eval_imgsz;
    if (ws.source == YL_SOURCE_LABEL_STUDIO) {
        s->url = dup_or_null(ws.ls_url);
        s->project = ws.ls_project;
    }
    s->token_file = dup_or_null(ws.token_file);
    s->control = dup_or_null(ws.control);
    s->local_files_root = dup_or_null(ws.local_files_root);
    s->media_root = dup_or_null(ws.media_root);
    if (!a->model) {
        char id[YL_VERSION_ID_SIZE] = "";
        st = yl_registry_deployed(a->workspace, id);
        if (st == YL_OK && !id[0])
            st = yl_error(YL_ERR_INVALID_ARG, "workspace %s: nothing is deployed yet (yoloop deploy, or give model=)",
                          a->workspace);
        if (st == YL_OK) st = yl_registry_model_path(a->workspace, id, model_path, size);
        if (st == YL_OK) snprintf(s->version, sizeof s->version, "%s", id);
    }
    yl_workspace_config_free(&ws);
    return st;
}

yl_status yl_rank_source_open(const yl_rank_source_args *a, yl_engine *eng, yl_rank_source *s) {
    if (!a || !eng || !s) return yl_error(YL_ERR_INVALID_ARG, "rank: NULL argument");
    memset(s, 0, sizeof *s);
    if (!a->workspace && !a->model) return yl_error(YL_ERR_INVALID_ARG, "give model=<file> or workspace=<dir>");
    char model_path[4096] = "";
    yl_status st = a->workspace ? from_workspace(a, s, model_path, sizeof model_path) : YL_OK;
    if (st == YL_OK && a->model) {
        snprintf(model_path, sizeof model_path, "%s", a->model);
        file_stem(a->model, s->version, sizeof s->version);
    }
    // explicit arguments win
    if (st == YL_OK && a->url) free(s->url), s->url = yl_strdup(a->url);
    if (st == YL_OK && a->project > 0) s->project = a->project;
    if (st == YL_OK && a->token_file) free(s->token_file), s->token_file = yl_strdup(a->token_file);
    if (st == YL_OK && a->control) free(s->control), s->control = yl_strdup(a->control);
    if (st == YL_OK && !yl_model_file_kind_ok(model_path))
        st = yl_error(YL_ERR_INVALID_ARG, "model=%s: expected a .safetensors or .pt file", model_path);
    if (st == YL_OK) st = yl_load_model_file(model_path, eng, &s->model);  // its messages name the file
    if (st == YL_OK) {
        s->loaded = true;
        if (s->imgsz <= 0) s->imgsz = s->model.imgsz;
    } else {
        yl_rank_source_close(s);
    }
    return st;
}

void yl_rank_source_close(yl_rank_source *s) {
    if (!s) return;
    if (s->loaded) yl_loaded_model_free(&s->model);
    free(s->url);
    free(s->token_file);
    free(s->control);
    free(s->local_files_root);
    free(s->media_root);
    free(s->workspace);
    memset(s, 0, sizeof *s);
}

yl_status yl_rank_source_connect(const yl_rank_source *s, yl_ls_client **client, yl_ls_label_config *config) {
    if (!s || !client || !config) return yl_error(YL_ERR_INVALID_ARG, "rank: NULL argument");
    *client = NULL;
    if (!s->url || !s->url[0] || s->project <= 0)
        return yl_error(YL_ERR_INVALID_ARG, "no Label Studio project: give url= and project= (or a workspace whose "
                                            "yoloop.yaml names them)");
    yl_ls_client_options o = {.url = s->url, .token = {.file = s->token_file},
                              .local_files_root = s->local_files_root, .media_root = s->media_root};
    YL_TRY(yl_ls_client_open(client, &o));
    yl_status st = yl_ls_get_label_config(*client, s->project, s->control, config);
    if (st != YL_OK) {
        yl_ls_client_close(*client);
        *client = NULL;
    }
    return st;
}

int yl_rank_command_main(const char *command, const yl_rank_source_args *args, yl_device device, int cuda_index,
                         int (*run)(const void *command_args, yl_rank_source *source), const void *command_args) {
    yl_engine eng;
    if (yl_cli_engine_init(&eng, device, cuda_index) != YL_OK) {
        fprintf(stderr, "%s: device: %s\n", command, yl_last_error());
        return 1;
    }
    yl_rank_source src;
    int rc;
    if (yl_rank_source_open(args, &eng, &src) != YL_OK) {
        fprintf(stderr, "%s: %s: %s\n", command, args->workspace ? args->workspace : args->model, yl_last_error());
        rc = 1;
    } else {
        rc = run(command_args, &src);
        yl_rank_source_close(&src);
    }
    yl_engine_release(&eng);
    return rc;
}

int yl_rank_source_parse_arg(const char *command, const char *key, const char *value, yl_rank_source_args *args) {
    if (!strcmp(key, "model")) return yl_arg_string(command, key, value, &args->model);
    if (!strcmp(key, "workspace")) return yl_arg_string(command, key, value, &args->workspace);
    if (!strcmp(key, "url")) return yl_arg_string(command, key, value, &args->url);
    if (!strcmp(key, "project")) return yl_arg_int(command, key, value, 1, 1000000000, &args->project);
    if (!strcmp(key, "token_file")) return yl_arg_string(command, key, value, &args->token_file);
    if (!strcmp(key, "control")) return yl_arg_string(command, key, value, &args->control);
    return -1;
}
