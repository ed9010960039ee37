// Where `rank` and `push` get their model and their Label Studio project: either a workspace
// (yoloop.yaml: the deployed model of the registry, the project, the token file, the control) or
// explicit model=, url=, project=, token_file= arguments; an explicit argument wins over the
// workspace's value.
#pragma once
#include <stdbool.h>
#include <stddef.h>

#include "cli/labelstudio/client.h"
#include "cli/model_load.h"
#include "engine/core/status.h"

typedef struct {
    const char *workspace;   // NULL: none
    const char *model;       // a .safetensors / .pt file; NULL: the workspace's deployed version
    const char *url;         // Label Studio; NULL: the workspace's
    int project;             // 0: the workspace's
    const char *token_file;  // NULL: the workspace's, else LABEL_STUDIO_API_KEY
    const char *control;     // NULL: the workspace's, else the only RectangleLabels control
} yl_rank_source_args;

typedef struct {
    yl_loaded_model model;
    bool loaded;
    char version[64];        // the registry version id ("v0003") or the model file's stem
    int imgsz;               // the workspace's eval imgsz, else the file's training size; 0: unknown
    // Label Studio, resolved (strings owned)
    char *url, *token_file, *control, *local_files_root, *media_root;
    int project;
    char *workspace;         // NULL when none
} yl_rank_source;

// One key=value argument of the model source (model, workspace, url, project, token_file,
// control): 1 parsed, 0 a bad value (message printed as "<command>: ..."), -1 not one of these keys.
int yl_rank_source_parse_arg(const char *command, const char *key, const char *value, yl_rank_source_args *args);

// Loads the model (and reads yoloop.yaml when a workspace is given). Errors name the workspace,
// the registry state ("nothing is deployed yet") or the model file.
yl_status yl_rank_source_open(const yl_rank_source_args *args, yl_engine *eng, yl_rank_source *out);
void yl_rank_source_close(yl_rank_source *s);

// Opens the client (token from token_file or LABEL_STUDIO_API_KEY) and reads the project's label
// config. YL_ERR_INVALID_ARG when no url or project is known.
yl_status yl_rank_source_connect(const yl_rank_source *s, yl_ls_client **client, yl_ls_label_config *config);

// The body shared by `rank` and `push`: an engine for the device, the model source opened, then
// run(command_args, source); errors are printed as "<command>: <what>: <message>". Returns the
// exit code (run's, or 1).
int yl_rank_command_main(const char *command, const yl_rank_source_args *args, yl_device device, int cuda_index,
                         int (*run)(const void *command_args, yl_rank_source *source), const void *command_args);
