// `yoloop report workspace=<dir> [open=false]`: writes <dir>/report.html (report.h) and prints
// its path and the last cycle's summary. Exit codes: 0 written, 1 the workspace could not be
// read or the page not written, 2 bad arguments.
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/cycle/report.h"

extern char **environ;

static void print_help(FILE *out) {
    fprintf(out,
            "usage: yoloop report workspace=<dir> [open=false]\n"
            "\n"
            "Writes <dir>/report.html: one self-contained page (no scripts, no external files) with the\n"
            "summary, the mAP50 / mAP50-95 history over cycles, per-class AP50 of the latest cycle,\n"
            "PR curves, the decisions and the model registry. Then prints its path and a summary.\n"
            "\n"
            "  workspace=   the continual-learning workspace (holds yoloop.yaml, history/, models/)\n"
            "  open=false   open the page with xdg-open when written\n"
            "\n"
            "Exit codes: 0 written, 1 the workspace could not be read or the page not written, 2 bad arguments.\n");
}

// xdg-open without a shell, so the path is never interpreted. A failure is only a warning: the
// page is written either way.
static void open_page(const char *path) {
    char *args[] = {"xdg-open", (char *)path, NULL};
    pid_t pid;
    int rc = posix_spawnp(&pid, "xdg-open", NULL, NULL, args, environ);
    int status = 0;
    if (rc == 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0) return;
    fprintf(stderr, "report: warning: could not open %s with xdg-open%s\n", path, rc ? " (not installed?)" : "");
}

int yl_cmd_report(int argc, char **argv) {
    if (yl_arg_wants_help(argc, argv)) {
        print_help(stdout);
        return 0;
    }
    const char *cmd = "report", *workspace = NULL;
    bool open = false;
    for (int i = 0; i < argc; i++) {
        char key[32];
        const char *value;
        if (!yl_arg_split(cmd, argv[i], key, sizeof key, &value)) return 2;
        bool ok;
        if (!strcmp(key, "workspace")) {
            ok = yl_arg_string(cmd, key, value, &workspace);
        } else if (!strcmp(key, "open")) {
            ok = yl_arg_bool(cmd, key, value, &open);
        } else {
            yl_arg_unknown(cmd, key, "workspace, open");
            return 2;
        }
        if (!ok) return 2;
    }
    if (!workspace) {
        fprintf(stderr, "report: workspace= is required (see yoloop report --help)\n");
        return 2;
    }
    char path[4096];
    if (yl_report_write(workspace, path, sizeof path) != YL_OK) {
        fprintf(stderr, "%s\n", yl_last_error());
        return 1;
    }
    printf("Report     %s\n", path);
    if (yl_report_print_summary(workspace, stdout) != YL_OK) {
        fprintf(stderr, "%s\n", yl_last_error());
        return 1;
    }
    fflush(stdout);
    if (open) open_page(path);
    return 0;
}
