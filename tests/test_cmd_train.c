// `yoloop train`: --help, bad arguments (exit code 2), and a real two-step run of yolov8n at
// 32 px from the command line (exit 0, results.csv and both checkpoints in project/name, a
// second run goes to name2).
#include <fcntl.h>
#include <omp.h>
#include <unistd.h>

#include "cli/commands.h"
#include "engine/data/synth.h"
#include "tests/data_test_util.h"
#include "tests/test_command.h"
#include "tests/test_common.h"


static int run_train(char **text, int argc, char **argv) { return yl_test_run_command(yl_cmd_train, argc, argv, text); }

static int exists(const char *dir, const char *name) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return access(path, F_OK) == 0;
}

int main(void) {
    omp_set_num_threads(1);  // see test_trainer.c
    char *text;
    char *help[] = {"--help"};
    CHECK(run_train(&text, 1, help) == 0 && strstr(text, "usage: yoloop train"), "help: %s", text);
    char *unknown[] = {"model=n", "data=x.yaml", "epoch=3"};
    CHECK(run_train(&text, 3, unknown) == 2, "unknown key accepted");
    char *missing[] = {"model=n"};
    CHECK(run_train(&text, 1, missing) == 2, "missing data= accepted");
    char *bad_freeze[] = {"model=n", "data=x.yaml", "freeze=[1,x]"};
    CHECK(run_train(&text, 3, bad_freeze) == 2, "freeze=[1,x] accepted");
    char *bad_epochs[] = {"model=n", "data=x.yaml", "epochs=0"};
    CHECK(run_train(&text, 3, bad_epochs) == 2, "epochs=0 accepted");

    char *root = data_test_tempdir();
    char *ds = yl_path_join(root, "ds");
    yl_synth_options so = yl_synth_defaults();
    so.out_dir = ds;
    so.n = 6;
    so.imgsz = 32;
    so.val_fraction = 0.34f;  // 4 train, 2 val
    yl_synth_report rep;
    CHECK_OK(yl_synth_write(&so, &rep));
    char data_arg[512], project_arg[512];
    snprintf(data_arg, sizeof data_arg, "data=%s/data.yaml", ds);
    snprintf(project_arg, sizeof project_arg, "project=%s/runs", root);
    char *run[] = {"model=yolov8n.yaml", data_arg, "epochs=1", "imgsz=32", "batch=2", "workers=1", project_arg,
                   "name=exp", "optimizer=SGD", "freeze=[0, 1]"};
    int rc = run_train(&text, 10, run);
    CHECK(rc == 0, "train exited %d: %s", rc, text);
    CHECK(strstr(text, "box_loss") && strstr(text, "1/1") && strstr(text, "Results saved to"), "output:\n%s", text);
    // the final validation of best (per-class rows) and the loader-wait split at the end
    CHECK(strstr(text, "best.safetensors...") && strstr(text, "final: P ") && strstr(text, "perforation") &&
              strstr(text, "waiting for the loader"),
          "no final validation / time split in:\n%s", text);
    char exp[600];
    snprintf(exp, sizeof exp, "%s/runs/exp", root);
    CHECK(exists(exp, "results.csv") && exists(exp, "weights/last.safetensors") &&
              exists(exp, "weights/best.safetensors") && exists(exp, "weights/last.state.safetensors"),
          "missing outputs in %s", exp);
    rc = run_train(&text, 10, run);
    char exp2[600];
    snprintf(exp2, sizeof exp2, "%s/runs/exp2", root);
    CHECK(rc == 0 && exists(exp2, "results.csv"), "second run: exit %d, no %s/results.csv", rc, exp2);
    char *no_val[] = {"model=yolov8n.yaml", data_arg, "epochs=1", "imgsz=32", "batch=2", "workers=1", project_arg,
                      "name=noval", "val=false"};
    rc = run_train(&text, 9, no_val);
    CHECK(rc == 0 && strstr(text, "final validation of best skipped: validation is off") && !strstr(text, "final: P"),
          "val=false: exit %d, output:\n%s", rc, text);
    char *bad_val[] = {"model=yolov8n.yaml", data_arg, "val=maybe"};
    CHECK(run_train(&text, 3, bad_val) == 2, "val=maybe accepted");
    char *missing_model[] = {"model=yolov9q.yaml", data_arg, "epochs=1", "imgsz=32", project_arg};
    CHECK(run_train(&text, 5, missing_model) == 1, "unknown model name accepted");
    data_test_remove_tree(root);
    free(ds);
    free(root);
    return yl_test_finish("cmd_train");
}
