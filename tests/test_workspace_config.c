// yoloop.yaml: every key read, defaults, paths resolved, errors naming file:line and key, the
// token refused, and a save/load round trip.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cycle/workspace.h"
#include "cli/fs_util.h"
#include "test_common.h"

static char g_dir[256];

static void write_config(const char *text) {
    char path[512];
    snprintf(path, sizeof path, "%s/yoloop.yaml", g_dir);
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "cannot write %s\n", path);
        exit(2);
    }
    fputs(text, f);
    fclose(f);
}

// Loads `text`; it must fail with YL_ERR_FORMAT and a message holding every fragment.
static void expect_error(const char *text, const char *fragment1, const char *fragment2) {
    write_config(text);
    yl_workspace_config c;
    CHECK_STATUS(yl_workspace_config_load(g_dir, &c), YL_ERR_FORMAT);
    const char *message = yl_last_error();
    CHECK(strstr(message, "yoloop.yaml") != NULL, "message names the file: %s", message);
    CHECK(strstr(message, fragment1) != NULL, "message holds '%s': %s", fragment1, message);
    if (fragment2) CHECK(strstr(message, fragment2) != NULL, "message holds '%s': %s", fragment2, message);
}

static const char *FULL =
    "source:\n"
    "  kind: labelstudio\n"
    "  url: http://ls.example:8080\n"
    "  project: 7\n"
    "  token_file: ~/.ls-token\n"
    "  control: boxes\n"
    "  export: exports/a.json\n"
    "  images: /abs/images\n"
    "  local_files_root: /data\n"
    "  media_root: media\n"
    "  trust_imported: yes\n"
    "names: [dentado, concave, \"perfo ration\"]\n"
    "decide:\n"
    "  min_map50: 0.5\n"
    "  max_drop: 0.05\n"
    "  min_gain: 0.01\n"
    "  golden_max_drop: 0.04\n"
    "  class_max_drop: 0.1\n"
    "eval: {imgsz: 320, batch: 8, conf: 0.002, iou: 0.6, workers: 1}\n"
    "finetune:\n"
    "  epochs: 3\n"
    "  batch: 4\n"
    "  lr0: 0.0005\n"
    "  lrf: 0.1\n"
    "  optimizer: adamw\n"
    "  warmup_epochs: 0.5\n"
    "  freeze: 10\n"
    "  replay_ratio: 0.25\n"
    "  close_mosaic: 2\n"
    "  workers: 0\n"
    "  seed: 42\n"
    "  max_batches_per_epoch: 5\n"
    "device: cuda:1\n";

static void check_full(const yl_workspace_config *c, const char *home) {
    char want[1024];
    CHECK(c->source == YL_SOURCE_LABEL_STUDIO, "kind");
    CHECK(c->ls_url && !strcmp(c->ls_url, "http://ls.example:8080"), "url %s", c->ls_url);
    CHECK(c->ls_project == 7, "project %d", c->ls_project);
    snprintf(want, sizeof want, "%s/.ls-token", home);
    CHECK(c->token_file && !strcmp(c->token_file, want), "token_file %s (want %s)", c->token_file, want);
    CHECK(c->control && !strcmp(c->control, "boxes"), "control");
    snprintf(want, sizeof want, "%s/exports/a.json", g_dir);
    CHECK(c->export_path && !strcmp(c->export_path, want), "export %s", c->export_path);
    CHECK(c->images_dir && !strcmp(c->images_dir, "/abs/images"), "images %s", c->images_dir);
    CHECK(c->local_files_root && !strcmp(c->local_files_root, "/data"), "local_files_root");
    snprintf(want, sizeof want, "%s/media", g_dir);
    CHECK(c->media_root && !strcmp(c->media_root, want), "media_root %s", c->media_root);
    CHECK(c->trust_imported, "trust_imported");
    CHECK(c->nc == 3 && !strcmp(c->names[0], "dentado") && !strcmp(c->names[2], "perfo ration"), "names");
    CHECK(c->min_map50 == 0.5 && c->max_drop == 0.05 && c->min_gain == 0.01, "decide");
    CHECK(c->golden_max_drop == 0.04 && c->class_max_drop == 0.1, "decide gates");
    CHECK(c->eval_imgsz == 320 && c->eval_batch == 8 && c->eval_conf == 0.002 && c->eval_iou == 0.6 &&
              c->eval_workers == 1,
          "eval");
    CHECK(c->ft_epochs == 3 && c->ft_batch == 4 && c->ft_lr0 == 0.0005 && c->ft_lrf == 0.1, "finetune");
    CHECK(c->ft_imgsz == 320, "finetune.imgsz defaults to eval.imgsz: %d", c->ft_imgsz);
    CHECK(c->ft_optimizer && !strcmp(c->ft_optimizer, "AdamW"), "optimizer %s", c->ft_optimizer);
    CHECK(c->ft_warmup_epochs == 0.5 && c->ft_freeze == 10 && c->replay_ratio == 0.25, "finetune 2");
    CHECK(c->ft_close_mosaic == 2 && c->ft_workers == 0 && c->ft_seed == 42 && c->ft_max_batches_per_epoch == 5,
          "finetune 3");
    CHECK(c->device == YL_DEVICE_CUDA && c->cuda_index == 1, "device");
}

int main(void) {
    snprintf(g_dir, sizeof g_dir, "/tmp/yl_test_workspace_%d", (int)getpid());
    yl_fs_remove_tree(g_dir);
    CHECK_OK(yl_fs_mkdirs(g_dir));
    const char *home = getenv("HOME");
    if (!home) {
        setenv("HOME", "/tmp", 1);
        home = "/tmp";
    }

    // defaults
    yl_workspace_config d = yl_workspace_config_defaults();
    CHECK(d.min_map50 == 0.60 && d.max_drop == 0.03 && d.min_gain == 0.02 && d.golden_max_drop < 0, "defaults");
    CHECK(d.eval_conf == 0.001 && d.eval_iou == 0.7 && d.replay_ratio == 0.3 && d.ft_lr0 == 0.001, "defaults 2");

    // every key
    write_config(FULL);
    yl_workspace_config c;
    CHECK_OK(yl_workspace_config_load(g_dir, &c));
    check_full(&c, home);
    char path[1200];
    CHECK_OK(yl_workspace_path(&c, "snapshots", path, sizeof path));
    CHECK(!strncmp(path, g_dir, strlen(g_dir)) && strstr(path, "/snapshots"), "workspace path %s", path);
    char tiny[8];
    CHECK_STATUS(yl_workspace_path(&c, "snapshots", tiny, sizeof tiny), YL_ERR_INVALID_ARG);

    // save + load round trip
    CHECK_OK(yl_workspace_config_save(&c));
    yl_workspace_config again;
    CHECK_OK(yl_workspace_config_load(g_dir, &again));
    check_full(&again, home);
    char *text = NULL;
    size_t size = 0;
    snprintf(path, sizeof path, "%s/yoloop.yaml", g_dir);
    CHECK_OK(yl_fs_read_all(path, &text, &size));
    CHECK(text && strstr(text, "export: \"exports/a.json\""), "paths inside the workspace saved relative:\n%s", text);
    CHECK(text && !strstr(text, "token:"), "no token key written");
    free(text);
    yl_workspace_config_free(&again);
    yl_workspace_config_free(&c);

    // the minimum: defaults everywhere else
    write_config("source: {kind: json, export: my.json}\nnames: [a]\n");
    CHECK_OK(yl_workspace_config_load(g_dir, &c));
    CHECK(c.source == YL_SOURCE_JSON_EXPORT && c.nc == 1, "minimal");
    CHECK(c.ft_optimizer && !strcmp(c.ft_optimizer, "SGD"), "default optimizer");
    CHECK(c.eval_imgsz == 640 && c.ft_imgsz == 640 && c.device == YL_DEVICE_CPU, "default sizes");
    CHECK(c.images_dir && strstr(c.images_dir, "/images"), "default images dir %s", c.images_dir);
    yl_workspace_config_free(&c);

    // errors: file:line and key
    expect_error("source: {kind: json}\nnames: [a]\nfinetune:\n  lr: 0.1\n", "yoloop.yaml:4", "finetune.lr");
    expect_error("source: {kind: json}\nnames: [a]\nfinetune:\n  lr0: 0.1\n  optimizer: auto\n", ":5:",
                 "lr0");  // the reason: auto overrides lr0
    expect_error("source: {kind: json}\nnames: [a]\nfinetune:\n  epochs: many\n", ":4:", "finetune.epochs");
    expect_error("source: {kind: json}\nnames: [a]\neval:\n  iou: 1.5\n", ":4:", "out of range");
    expect_error("source: {kind: json}\nnames: [a]\nfinetune: {replay_ratio: -0.1}\n", "finetune.replay_ratio",
                 "out of range");
    expect_error("source:\n  kind: labelstudio\n  project: 1\n  token: abcdef123456\nnames: [a]\n", ":4:",
                 "source.token");
    write_config("source:\n  kind: labelstudio\n  project: 1\n  token: abcdef123456\nnames: [a]\n");
    CHECK_STATUS(yl_workspace_config_load(g_dir, &c), YL_ERR_FORMAT);
    CHECK(!strstr(yl_last_error(), "abcdef123456"), "the token is never echoed: %s", yl_last_error());
    expect_error("token: x\nsource: {kind: json}\nnames: [a]\n", ":1:", "token");
    expect_error("source: {kind: ftp}\nnames: [a]\n", "source.kind", "labelstudio, json or yolo");
    expect_error("source: {kind: labelstudio}\nnames: [a]\n", "source.project", "missing");
    expect_error("source: {kind: json}\n", "names", "missing");
    expect_error("names: [a]\n", "source", "missing");
    expect_error("source: {kind: json}\nnames: [a, b, a]\n", "names[2]", "twice");
    expect_error("source: {kind: json}\nnames: a\n", "names", "list");
    expect_error("source: {kind: json}\nnames: [a]\ndevice: gpu\n", ":3:", "device");
    expect_error("source: {kind: json}\nnames: [a]\ndecide: {min_map50: 0.5, min_map50: 0.4}\n", "decide.min_map50",
                 "twice");
    expect_error("source: {kind: json}\nnames: [a]\nsurprise: 1\n", ":3:", "surprise");
    expect_error("source: {kind: json}\nnames: [a]\neval: 3\n", ":3:", "eval");
    expect_error("source: {kind: labelstudio, project: 1, url: ftp://x}\nnames: [a]\n", "source.url", "http");
    expect_error("source: {kind: json\nnames: [a]\n", "yoloop.yaml:", "syntax");

    // no file at all
    char missing[300];
    snprintf(missing, sizeof missing, "%s/nothing-here", g_dir);
    CHECK_STATUS(yl_workspace_config_load(missing, &c), YL_ERR_IO);
    CHECK(strstr(yl_last_error(), "yoloop.yaml") != NULL, "names the file: %s", yl_last_error());

    yl_fs_remove_tree(g_dir);
    return yl_test_finish("test_workspace_config");
}
