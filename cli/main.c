// yoloop: the command-line driver. Commands live in one file each; this file dispatches.
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"

static void print_usage(FILE *out) {
    fprintf(out,
            "usage: yoloop <command> [key=value ...]\n"
            "\n"
            "commands:\n"
            "  demo      forward and backward of YOLOv8 on a synthetic batch (device=cpu|cuda)\n"
            "  info      layer table and summary of a model name, checkpoint or .pt file\n"
            "  predict   detect objects in images; writes annotated images and YOLO label files\n"
            "  synth     write a synthetic defect-detection dataset (YOLO layout + data.yaml)\n"
            "  train     train a detector (from a scale or fine-tuning a checkpoint); runs/train/exp\n"
            "  val       validate a model on a dataset split: P, R, mAP50, mAP50-95 per class\n"
            "  version   print the version and the backends this build has\n"
            "\n"
            "Every command takes --help.\n");
}

int main(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        print_usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const char *command = argv[1];
    if (!strcmp(command, "demo")) return yl_cmd_demo(argc - 2, argv + 2);
    if (!strcmp(command, "info")) return yl_cmd_info(argc - 2, argv + 2);
    if (!strcmp(command, "predict")) return yl_cmd_predict(argc - 2, argv + 2);
    if (!strcmp(command, "synth")) return yl_cmd_synth(argc - 2, argv + 2);
    if (!strcmp(command, "train")) return yl_cmd_train(argc - 2, argv + 2);
    if (!strcmp(command, "val")) return yl_cmd_val(argc - 2, argv + 2);
    if (!strcmp(command, "version")) return yl_cmd_version(argc - 2, argv + 2);
    fprintf(stderr, "yoloop: unknown command '%s'\n\n", command);
    print_usage(stderr);
    return 2;
}
