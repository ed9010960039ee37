// A continual-learning workspace (spec continual_learning.md "Workspace"), one per Label Studio
// project, and its configuration file yoloop.yaml:
//
//   <workspace>/
//     yoloop.yaml
//     models/versions/vNNNN/{model.safetensors, meta.json}   registry.h
//     models/deployed                                        registry.h (pointer, atomic swap)
//     models/candidates/<cycle>/                             fine-tune runs waiting for comparison
//     replay/{images,labels,data.yaml}                       the original training data
//     golden/{images,labels}                                 optional frozen old-distribution set
//     cache/images/                                          downloaded images (by URL + sha256)
//     snapshots/<stamp>/{tasks.json, images/, labels/, manifest.json}    snapshot.h
//     cycles/<cycle id>/{eval,train}/...                     per-cycle datasets (temporal.h)
//     history/{eval_history.csv, decisions.jsonl, last_eval_snapshot, evals/}   history.h
//     report.html                                            report.h
//
// yoloop.yaml (every key optional except the source and the class names; defaults shown):
//
//   source:
//     kind: labelstudio            # labelstudio | json | yolo
//     url: http://127.0.0.1:8080   # labelstudio: base URL
//     project: 3                   # labelstudio: project id
//     token_file: ~/.ls-token      # labelstudio: else LABEL_STUDIO_API_KEY. Never the token itself.
//     control: label               # the RectangleLabels control (the only one when absent)
//     export: exports/             # json: an export file, or a folder of *.json export files
//                                  # yolo: a Label Studio YOLO export folder (classes.txt/notes.json, labels/)
//     images: images/              # json, yolo: where the images are (looked up by file name)
//     local_files_root: /data      # labelstudio: LOCAL_FILES_DOCUMENT_ROOT when on this machine
//     media_root: /ls/media        # labelstudio: <BASE_DATA_DIR>/media when on this machine
//     trust_imported: false        # count imported annotations as verified
//   names: [dentado, concave, perforation]   # the model's classes, in model order
//   decide:
//     min_map50: 0.60              # fine-tune when mAP50 < this
//     max_drop: 0.03               # ... or when mAP50 fell by more than this since the last evaluation
//     min_gain: 0.02               # deploy only when the candidate's mAP50 > deployed + this
//     golden_max_drop: -1          # > 0: refuse a candidate whose golden-set mAP50 drops more
//     class_max_drop: -1           # > 0: refuse a candidate with a class AP50 dropping more
//   eval:   {imgsz: 640, batch: 16, conf: 0.001, iou: 0.7, workers: 2}
//   finetune:
//     epochs: 10
//     batch: 16
//     imgsz: 640                   # defaults to eval.imgsz
//     lr0: 0.001                   # low LR; the optimizer is explicit so lr0 is honoured
//     lrf: 0.01
//     optimizer: SGD               # SGD | AdamW (auto is refused: it overrides lr0)
//     warmup_epochs: 1
//     freeze: 0
//     replay_ratio: 0.3
//     close_mosaic: 0
//     workers: 2
//     seed: 0
//     max_batches_per_epoch: 0     # > 0: short epochs (demos, tests)
//   device: cpu                    # cpu | cuda | cuda:N
//
// Paths in the file are relative to the workspace unless absolute; "~/" is $HOME.
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/core/status.h"
#include "engine/ops/ops.h"

typedef enum {
    YL_SOURCE_LABEL_STUDIO = 0,
    YL_SOURCE_JSON_EXPORT,
    YL_SOURCE_YOLO_EXPORT,
} yl_source_kind;

typedef struct {
    char *root;  // the workspace folder (as given)
    char *config_path;

    // source
    yl_source_kind source;
    char *ls_url;
    int ls_project;
    char *token_file;  // NULL: LABEL_STUDIO_API_KEY
    char *control;     // NULL: the only RectangleLabels control
    char *export_path; // resolved against root
    char *images_dir;  // resolved against root
    char *local_files_root, *media_root;
    bool trust_imported;

    int nc;
    char **names;

    // decide
    double min_map50, max_drop, min_gain, golden_max_drop, class_max_drop;

    // eval
    int eval_imgsz, eval_batch, eval_workers;
    double eval_conf, eval_iou;

    // finetune
    int ft_epochs, ft_batch, ft_imgsz, ft_freeze, ft_close_mosaic, ft_workers, ft_max_batches_per_epoch;
    double ft_lr0, ft_lrf, ft_warmup_epochs, replay_ratio;
    char *ft_optimizer;  // "SGD" or "AdamW"
    uint64_t ft_seed;

    yl_device device;
    int cuda_index;
} yl_workspace_config;

// The defaults above (strings NULL, nc 0); root and paths unset.
yl_workspace_config yl_workspace_config_defaults(void);

// Reads <workspace>/yoloop.yaml with libyaml. Errors name the file, the line and the key: an
// unknown key, a wrong type, a value out of range, a missing source or names, optimizer auto, a
// `token:` key (tokens never live in this file).
yl_status yl_workspace_config_load(const char *workspace, yl_workspace_config *out);
// Writes `config` as yoloop.yaml into its root (atomically). Used by `yoloop init`.
yl_status yl_workspace_config_save(const yl_workspace_config *config);
void yl_workspace_config_free(yl_workspace_config *config);

// <root>/<relative>, into out (size bytes). YL_ERR_INVALID_ARG when it does not fit.
yl_status yl_workspace_path(const yl_workspace_config *config, const char *relative, char *out, size_t size);
