// yoloop: the command-line driver. Commands live in one file each; this file dispatches.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/commands.h"

// OpenMP threads that spin while waiting compete with the data loader's threads for the cores;
// at small image sizes that made training 1.7x slower (bench/README.md). PASSIVE is the default
// unless the user chose a policy. libgomp reads the variable once, when it is loaded (before
// main), so the default only takes effect in a fresh image of the program: exec it once more.
static void default_omp_wait_policy(char **argv) {
    if (getenv("OMP_WAIT_POLICY") || setenv("OMP_WAIT_POLICY", "PASSIVE", 0) != 0) return;
    execv("/proc/self/exe", argv);  // returns only on failure: then run with libgomp's default
}

static void print_usage(FILE *out) {
    fprintf(out,
            "usage: yoloop <command> [key=value ...]\n"
            "\n"
            "commands:\n"
            "  cycle     one continual-learning cycle in a workspace: snapshot, evaluate, decide,\n"
            "            fine-tune with replay, compare, deploy, log\n"
            "  demo      forward and backward of YOLOv8 on a synthetic batch (device=cpu|cuda)\n"
            "  deploy    point a workspace's deployed model at a version\n"
            "  history   a workspace's evaluations and decisions\n"
            "  info      layer table and summary of a model name, checkpoint or .pt file\n"
            "  init      create a continual-learning workspace (yoloop.yaml, first model, replay data)\n"
            "  models    a workspace's model versions with lineage\n"
            "  predict   detect objects in images; writes annotated images and YOLO label files\n"
            "  push      import new images into Label Studio with pre-annotations and uncertainty\n"
            "  rank      rank unlabeled Label Studio tasks by uncertainty; writes the scores back\n"
            "  report    write a workspace's HTML report\n"
            "  rollback  point a workspace's deployed model back at the previous version\n"
            "  serve     Label Studio ML backend serving a workspace's deployed model\n"
            "  synth     write a synthetic defect-detection dataset (YOLO layout + data.yaml)\n"
            "  train     train a detector (from a scale or fine-tuning a checkpoint); runs/train/exp\n"
            "  val       validate a model on a dataset split: P, R, mAP50, mAP50-95 per class\n"
            "  version   print the version and the backends this build has\n"
            "\n"
            "Every command takes --help.\n");
}

int main(int argc, char **argv) {
    default_omp_wait_policy(argv);
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        print_usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    static const struct {
        const char *name;
        int (*run)(int argc, char **argv);
    } commands[] = {
        {"cycle", yl_cmd_cycle},     {"demo", yl_cmd_demo},       {"deploy", yl_cmd_deploy},
        {"history", yl_cmd_history}, {"info", yl_cmd_info},       {"init", yl_cmd_init},
        {"models", yl_cmd_models},   {"predict", yl_cmd_predict}, {"push", yl_cmd_push},
        {"rank", yl_cmd_rank},       {"report", yl_cmd_report},   {"rollback", yl_cmd_rollback},
        {"serve", yl_cmd_serve},     {"synth", yl_cmd_synth},     {"train", yl_cmd_train},
        {"val", yl_cmd_val},         {"version", yl_cmd_version},
    };
    const char *command = argv[1];
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(command, commands[i].name)) return commands[i].run(argc - 2, argv + 2);
    fprintf(stderr, "yoloop: unknown command '%s'\n\n", command);
    print_usage(stderr);
    return 2;
}
