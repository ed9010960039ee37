// `yoloop info`: the layer table and summary for model names (yolov8n as Ultralytics 8.3.166
// prints it: per-layer parameters, from/args columns, 129 layers, 3,157,200 parameters,
// 3,157,184 gradients, 8.7 GFLOPs), a yoloop checkpoint with and without nc= (transfer line),
// and bad arguments (exit code 2, nothing on stdout).
#include <fcntl.h>
#include <unistd.h>

#include "cli/commands.h"
#include "tests/test_command.h"
#include "tests/test_common.h"
#include "weights/checkpoint.h"

static char ckpt_dir[] = "/tmp/yl_cmd_info_ckpt_XXXXXX";
static char ckpt_path[128];  // ckpt_dir/yolov8n.safetensors

static int run_info(char **text, int argc, char **argv) { return yl_test_run_command(yl_cmd_info, argc, argv, text); }

static void expect_line(const char *text, const char *line) {
    CHECK(strstr(text, line) != NULL, "output lacks the line\n  '%s'\noutput:\n%s", line, text);
}

static void test_yolov8n(void) {
    char *args[] = {"model=yolov8n.yaml"}, *text;
    CHECK(run_info(&text, 1, args) == 0, "info model=yolov8n.yaml succeeds");
    // Rows as Ultralytics 8.3.166's parse_model prints them (without its trailing padding).
    expect_line(text, "  0                  -1  1       464  ultralytics.nn.modules.conv.Conv             [3, 16, 3, 2]\n");
    expect_line(text, "  4                  -1  2     49664  ultralytics.nn.modules.block.C2f             [64, 64, 2, True]\n");
    expect_line(text, "  9                  -1  1    164608  ultralytics.nn.modules.block.SPPF            [256, 256, 5]\n");
    expect_line(text, " 10                  -1  1         0  torch.nn.modules.upsampling.Upsample         [None, 2, 'nearest']\n");
    expect_line(text, " 11             [-1, 6]  1         0  ultralytics.nn.modules.conv.Concat           [1]\n");
    expect_line(text, " 12                  -1  1    148224  ultralytics.nn.modules.block.C2f             [384, 128, 1]\n");
    expect_line(text, " 22        [15, 18, 21]  1    897664  ultralytics.nn.modules.head.Detect           [80, [64, 128, 256]]\n");
    expect_line(text, "YOLOv8n summary: 129 layers, 3,157,200 parameters, 3,157,184 gradients, 8.7 GFLOPs\n");
    // yolov8.md §1.2: per-layer parameters of yolov8n.
    const long long params[23] = {464,    4672,   7360, 18560, 49664, 73984, 197632, 295424, 460288, 164608, 0,     0,
                                  148224, 0,      0,    37248, 36992, 0,     123648, 147712, 0,      493056, 897664};
    for (int i = 0; i < 23; i++) {
        char row[32];
        snprintf(row, sizeof row, "\n%3d", i);
        const char *at = strstr(text, row);
        long long got = -1;
        if (at) sscanf(at + 4 + 20 + 3, "%lld", &got);
        CHECK(got == params[i], "layer %d params %lld, expected %lld", i, got, params[i]);
    }
    char *s_args[] = {"model=s", "imgsz=320"};
    CHECK(run_info(&text, 2, s_args) == 0, "info model=s");
    expect_line(text, "YOLOv8s summary: 129 layers, 11,166,560 parameters, 11,166,544 gradients, 7.2 GFLOPs at 320x320\n");
    char *m_args[] = {"model=yolov8m"};
    CHECK(run_info(&text, 1, m_args) == 0, "info model=yolov8m");
    expect_line(text, "YOLOv8m summary: 169 layers, 25,902,640 parameters, 25,902,624 gradients, 78.9 GFLOPs\n");
}

static void test_checkpoint_file(void) {
    yl_engine eng = yl_test_cpu_engine();
    yl_model_config cfg;
    yl_model *m = NULL;
    CHECK_OK(yl_model_config_from_scale(&cfg, "n", 80));
    CHECK_OK(yl_model_create(&m, &eng, &cfg, 1));
    yl_checkpoint_info info = {.imgsz = 640, .version_id = "v3", .parent_version = "v2"};
    CHECK_OK(yl_checkpoint_save(m, &info, ckpt_path));
    yl_model_destroy(m);
    yl_engine_release(&eng);

    char model_arg[160], *text;
    snprintf(model_arg, sizeof model_arg, "model=%s", ckpt_path);
    char *args[] = {model_arg, "nc=3"};
    CHECK(run_info(&text, 1, args) == 0, "info on a checkpoint");
    expect_line(text, "all 355 tensors loaded");
    expect_line(text, "version: v3 (parent: v2)");
    expect_line(text, "YOLOv8n summary: 129 layers, 3,157,200 parameters");
    CHECK(run_info(&text, 2, args) == 0, "info on a checkpoint with nc=3");
    expect_line(text, "Transferred 319/355 items from pretrained weights (nc=80 -> nc=3)\n");
    expect_line(text, "YOLOv8n summary: 129 layers, 3,011,433 parameters");
}

static void test_bad_arguments(void) {
    char *text;
    char *none[] = {"nc=3"}, *unknown[] = {"model=n", "batch=4"}, *odd[] = {"model=n", "imgsz=100"};
    char *name[] = {"model=yolov9t"}, *plain[] = {"model=" YL_TEST_FIXTURES "/model_tiny_state.safetensors"};
    char *bare[] = {"model"};
    CHECK(run_info(&text, 1, none) == 2 && !text[0], "model= is required");
    CHECK(run_info(&text, 2, unknown) == 2 && !text[0], "unknown key");
    CHECK(run_info(&text, 2, odd) == 2 && !text[0], "imgsz must be a multiple of 32");
    CHECK(run_info(&text, 1, name) == 2 && !text[0], "unknown model name");
    CHECK(run_info(&text, 1, bare) == 2 && !text[0], "not key=value");
    CHECK(run_info(&text, 1, plain) == 1 && !text[0], "a plain state_dict is not a checkpoint");
    char *help[] = {"--help"};
    CHECK(run_info(&text, 1, help) == 0 && strstr(text, "usage: yoloop info"), "--help");
}

int main(void) {
    if (!mkdtemp(ckpt_dir)) return 2;
    snprintf(ckpt_path, sizeof ckpt_path, "%s/yolov8n.safetensors", ckpt_dir);
    test_yolov8n();
    test_checkpoint_file();
    test_bad_arguments();
    unlink(ckpt_path);
    rmdir(ckpt_dir);
    return yl_test_finish("test_cmd_info");
}
