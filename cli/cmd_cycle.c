// `yoloop cycle workspace=<dir> [dry_run=true] [force=true] [wait=true]`: one continual-learning
// cycle (cli/cycle/cycle.h); the exit code says what happened.
#include <stdio.h>
#include <string.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/cycle/cycle.h"
#include "cli/cycle/workspace.h"

#define CYCLE_KNOWN "workspace, dry_run, force, wait"

static void print_help(FILE *out) {
    fprintf(out,
            "usage: yoloop cycle workspace=<dir> [dry_run=false] [force=false] [wait=false]\n"
            "\n"
            "Runs one continual-learning cycle in a workspace made by `yoloop init`:\n"
            "  snapshot the verified annotations -> evaluate the deployed model on the data that is new\n"
            "  since the last evaluated snapshot (and on golden/) -> decide -> fine-tune from the deployed\n"
            "  weights on the older verified data plus replay/ -> compare on the same new data -> deploy\n"
            "  the candidate only when it wins; every step is logged in history/ and report.html.\n"
            "The first cycle records the baseline. Thresholds and the recipe live in <dir>/yoloop.yaml.\n"
            "\n"
            "  workspace=    the workspace folder (holds yoloop.yaml)\n"
            "  dry_run=false true: snapshot into a temporary folder, evaluate, and print what would be done\n"
            "                (fine-tune or not, on how many images); nothing in the workspace changes\n"
            "  force=false   true: fine-tune even when the decision says no action\n"
            "  wait=false    true: wait for another cycle running in the same workspace instead of failing\n"
            "\n"
            "Exit codes:\n"
            "   0  nothing to do: no new verified data, the baseline recorded, no action needed, or a dry run\n"
            "  10  a candidate was fine-tuned, won the comparison and was deployed\n"
            "  11  a candidate was fine-tuned but did not win (kept under models/candidates/, not deployed)\n"
            "   1  error (message on stderr); the workspace is left as it was\n"
            "   2  bad arguments\n");
}

static const char *outcome_words(const yl_cycle_result *r) {
    switch (r->outcome) {
    case YL_CYCLE_DEPLOYED: return "deployed a new model";
    case YL_CYCLE_NOT_DEPLOYED: return "fine-tuned, not deployed";
    case YL_CYCLE_NOTHING_TO_DO: return "nothing to do";
    default: return "error";
    }
}

static void print_summary(const yl_cycle_result *r, bool dry_run) {
    if (r->recovered_cycle[0])
        printf("\n%s the interrupted cycle %s first\n", r->recovered ? "completed" : "would complete",
               r->recovered_cycle);
    printf("\ncycle %s%s: %s\n", r->cycle[0] ? r->cycle : "-", dry_run ? " (dry run)" : "", outcome_words(r));
    printf("  snapshot %s: %d new images evaluated, %d in the training pool, %d replay images\n",
           r->snapshot[0] ? r->snapshot : "-", r->eval_images, r->train_images, r->replay_images);
    if (r->map50_deployed >= 0) {
        printf("  deployed %s mAP50 %.4f", r->deployed_before, r->map50_deployed);
        if (r->had_previous) printf(" (previous %.4f, %+.4f)", r->map50_previous, r->map50_deployed - r->map50_previous);
        printf("\n");
    }
    if (r->map50_candidate >= 0) printf("  candidate mAP50 %.4f\n", r->map50_candidate);
    if (r->reason[0]) printf("  reason: %s\n", r->reason);
    if (strcmp(r->deployed_after, r->deployed_before))
        printf("  deployed model: %s (was %s)\n", r->deployed_after, r->deployed_before);
    else if (r->deployed_after[0])
        printf("  deployed model: %s (unchanged)\n", r->deployed_after);
}

int yl_cmd_cycle(int argc, char **argv) {
    if (yl_arg_wants_help(argc, argv)) {
        print_help(stdout);
        return 0;
    }
    const char *workspace = NULL;
    yl_cycle_options options = {.log = stdout};
    for (int i = 0; i < argc; i++) {
        char key[32];
        const char *value;
        bool ok;
        if (!yl_arg_split("cycle", argv[i], key, sizeof key, &value)) return 2;
        if (!strcmp(key, "workspace"))
            ok = yl_arg_string("cycle", key, value, &workspace);
        else if (!strcmp(key, "dry_run"))
            ok = yl_arg_bool("cycle", key, value, &options.dry_run);
        else if (!strcmp(key, "force"))
            ok = yl_arg_bool("cycle", key, value, &options.force_finetune);
        else if (!strcmp(key, "wait"))
            ok = yl_arg_bool("cycle", key, value, &options.wait_for_lock);
        else {
            yl_arg_unknown("cycle", key, CYCLE_KNOWN);
            return 2;
        }
        if (!ok) return 2;
    }
    if (!workspace) {
        fprintf(stderr, "cycle: workspace= is required (see yoloop cycle --help)\n");
        return 2;
    }
    yl_workspace_config config;
    if (yl_workspace_config_load(workspace, &config) != YL_OK) {
        fprintf(stderr, "cycle: %s\n", yl_last_error());
        return 1;
    }
    yl_cycle_result result;
    const yl_status st = yl_cycle_run(&config, &options, &result);
    yl_workspace_config_free(&config);
    fflush(stdout);
    if (st != YL_OK) {
        fprintf(stderr, "cycle: %s\n", yl_last_error());
        return 1;
    }
    print_summary(&result, options.dry_run);
    return (int)result.outcome;
}
