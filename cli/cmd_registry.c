// The registry and history commands of a workspace:
//   yoloop deploy   workspace=<dir> version=<vNNNN> [reason=...]
//   yoloop rollback workspace=<dir> [to=<vNNNN>] [reason=...]
//   yoloop models   workspace=<dir>
//   yoloop history  workspace=<dir> [decisions=true]
// deploy and rollback take the workspace lock (without waiting), so they never swap the pointer
// under a running cycle. Exit codes: 0 ok, 1 error (message on stderr), 2 bad arguments.
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/cycle/history.h"
#include "cli/cycle/registry.h"
#include "cli/fs_util.h"

typedef struct {
    const char *workspace;
    const char *version;  // deploy: version=, rollback: to=
    const char *reason;
    bool decisions;
} registry_options;

// Which keys a command takes.
typedef struct {
    const char *name;
    const char *version_key;  // "version", "to" or NULL
    bool reason;
    bool decisions;
    const char *known;  // for the unknown-argument message
} command_spec;

static bool is_version_id(const char *s) {
    size_t len = strlen(s);
    if (s[0] != 'v' || len < 5 || len >= YL_VERSION_ID_SIZE) return false;
    for (size_t i = 1; i < len; i++)
        if (!isdigit((unsigned char)s[i])) return false;
    return true;
}

// 0 when the arguments are good, else the exit code (2).
static int parse_options(const command_spec *spec, int argc, char **argv, registry_options *o) {
    *o = (registry_options){.decisions = true};
    for (int i = 0; i < argc; i++) {
        char key[32];
        const char *value;
        if (!yl_arg_split(spec->name, argv[i], key, sizeof key, &value)) return 2;
        bool ok = true;
        if (!strcmp(key, "workspace")) {
            ok = yl_arg_string(spec->name, key, value, &o->workspace);
        } else if (spec->version_key && !strcmp(key, spec->version_key)) {
            ok = yl_arg_string(spec->name, key, value, &o->version);
            if (ok && !is_version_id(value)) {
                fprintf(stderr, "%s: %s=%s: expected a version id such as v0003\n", spec->name, key, value);
                return 2;
            }
        } else if (spec->reason && !strcmp(key, "reason")) {
            o->reason = value;  // may be empty
        } else if (spec->decisions && !strcmp(key, "decisions")) {
            ok = yl_arg_bool(spec->name, key, value, &o->decisions);
        } else {
            yl_arg_unknown(spec->name, key, spec->known);
            return 2;
        }
        if (!ok) return 2;
    }
    if (!o->workspace) {
        fprintf(stderr, "%s: workspace= is required (see yoloop %s --help)\n", spec->name, spec->name);
        return 2;
    }
    if (spec->version_key && !strcmp(spec->version_key, "version") && !o->version) {
        fprintf(stderr, "%s: version= is required (see yoloop %s --help)\n", spec->name, spec->name);
        return 2;
    }
    return 0;
}

static bool check_workspace(const char *command, const char *workspace) {
    if (yl_fs_is_dir(workspace)) return true;
    fprintf(stderr, "%s: workspace %s is not a directory\n", command, workspace);
    return false;
}

static int fail(const char *command) {
    fprintf(stderr, "%s: %s\n", command, yl_last_error());
    return 1;
}

// ---- deploy / rollback --------------------------------------------------------------------

static void print_deploy_help(FILE *out) {
    fprintf(out,
            "usage: yoloop deploy workspace=<dir> version=<vNNNN> [reason=...]\n"
            "\n"
            "Points the workspace's deployed model (models/deployed) at a registry version, after\n"
            "checking that its model file still matches the sha256 in its meta.json. The pointer is\n"
            "replaced atomically and the change is appended to models/deployments.jsonl; a serving\n"
            "ML backend picks the new model up without a restart. Fails while a cycle holds the\n"
            "workspace lock.\n"
            "\n"
            "  workspace=   the workspace folder\n"
            "  version=     the version to deploy (see yoloop models)\n"
            "  reason=      free text recorded in deployments.jsonl\n");
}

static void print_rollback_help(FILE *out) {
    fprintf(out,
            "usage: yoloop rollback workspace=<dir> [to=<vNNNN>] [reason=...]\n"
            "\n"
            "Points the workspace's deployed model back at the version deployed before the current\n"
            "one (from models/deployments.jsonl; repeated rollbacks walk further back), or at to=.\n"
            "The target's sha256 is checked first; versions are never deleted.\n"
            "\n"
            "  workspace=   the workspace folder\n"
            "  to=          the version to go back to (default: the previous deployed one)\n"
            "  reason=      free text recorded in deployments.jsonl\n");
}

// Takes the workspace lock and refuses to move the pointer while a killed cycle's commit is
// pending: the next cycle would complete it and deploy its version over this change.
static int lock_workspace(const char *command, const char *workspace, yl_fs_lock *lock) {
    if (yl_fs_lock_dir(workspace, false, lock) != YL_OK) return fail(command);
    char journal[1200];
    snprintf(journal, sizeof journal, "%s/history/pending_commit.json", workspace);
    if (yl_fs_exists(journal)) {
        yl_fs_unlock(lock);
        fprintf(stderr,
                "%s: %s: an interrupted cycle has not been completed yet; run `yoloop cycle workspace=%s` "
                "first (it completes the interrupted cycle), then %s again\n",
                command, journal, workspace, command);
        return 1;
    }
    return 0;
}

// deploy and rollback: parse, check the workspace, move the pointer under the workspace lock,
// say what changed.
static int move_pointer(const command_spec *spec, void (*print_help)(FILE *), int argc, char **argv) {
    if (yl_arg_wants_help(argc, argv)) {
        print_help(stdout);
        return 0;
    }
    registry_options o;
    int rc = parse_options(spec, argc, argv, &o);
    if (rc) return rc;
    if (!check_workspace(spec->name, o.workspace)) return 1;
    yl_fs_lock lock;
    if ((rc = lock_workspace(spec->name, o.workspace, &lock))) return rc;
    const bool deploy = !strcmp(spec->name, "deploy");
    char before[YL_VERSION_ID_SIZE], after[YL_VERSION_ID_SIZE];
    yl_status s = yl_registry_deployed(o.workspace, before);
    if (s == YL_OK)
        s = deploy ? yl_registry_deploy(o.workspace, o.version, o.reason)
                   : yl_registry_rollback(o.workspace, o.version, o.reason, after);
    yl_fs_unlock(&lock);
    if (s != YL_OK) return fail(spec->name);
    if (deploy)
        printf("deployed %s (was %s)\n", o.version, before[0] ? before : "none");
    else
        printf("rolled back to %s (was %s)\n", after, before);
    return 0;
}

int yl_cmd_deploy(int argc, char **argv) {
    static const command_spec spec = {"deploy", "version", true, false, "workspace, version, reason"};
    return move_pointer(&spec, print_deploy_help, argc, argv);
}

int yl_cmd_rollback(int argc, char **argv) {
    static const command_spec spec = {"rollback", "to", true, false, "workspace, to, reason"};
    return move_pointer(&spec, print_rollback_help, argc, argv);
}

// ---- models -------------------------------------------------------------------------------

static void print_models_help(FILE *out) {
    fprintf(out,
            "usage: yoloop models workspace=<dir>\n"
            "\n"
            "Lists the workspace's model versions, oldest first: id, parent (lineage), origin,\n"
            "creation time, mAP50 from meta.json (- when not measured), the start of the model\n"
            "file's sha256, and * on the deployed one.\n"
            "\n"
            "  workspace=   the workspace folder\n");
}

int yl_cmd_models(int argc, char **argv) {
    if (yl_arg_wants_help(argc, argv)) {
        print_models_help(stdout);
        return 0;
    }
    static const command_spec spec = {"models", NULL, false, false, "workspace"};
    registry_options o;
    int rc = parse_options(&spec, argc, argv, &o);
    if (rc) return rc;
    if (!check_workspace(spec.name, o.workspace)) return 1;
    yl_model_version *versions = NULL;
    int count = 0;
    if (yl_registry_list(o.workspace, &versions, &count) != YL_OK) return fail(spec.name);
    if (count == 0) {
        printf("no model versions in %s/models/versions\n", o.workspace);
        yl_registry_list_free(versions, count);
        return 0;
    }
    printf("  %-8s %-8s %-10s %-20s %7s  %s\n", "id", "parent", "origin", "created", "mAP50", "sha256");
    for (int i = 0; i < count; i++) {
        const yl_model_version *v = &versions[i];
        char map50[16];
        if (v->map50 >= 0) snprintf(map50, sizeof map50, "%.4f", v->map50);
        else snprintf(map50, sizeof map50, "-");
        printf("%c %-8s %-8s %-10s %-20s %7s  %.12s\n", v->deployed ? '*' : ' ', v->id, v->parent[0] ? v->parent : "-",
               v->origin[0] ? v->origin : "-", v->created_at[0] ? v->created_at : "-", map50, v->sha256);
    }
    yl_registry_list_free(versions, count);
    return 0;
}

// ---- history ------------------------------------------------------------------------------

static void print_history_help(FILE *out) {
    fprintf(out,
            "usage: yoloop history workspace=<dir> [decisions=true]\n"
            "\n"
            "Prints the workspace's evaluation history (history/eval_history.csv: one row per\n"
            "evaluation of a model on the cycle's new data or the golden set), then the decisions\n"
            "(history/decisions.jsonl: what each cycle step decided and why).\n"
            "\n"
            "  workspace=   the workspace folder\n"
            "  decisions=   true (default) to print the decisions after the table; false for the table only\n");
}

static const char *json_text(const cJSON *object, const char *key) {
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(object, key);
    return cJSON_IsString(item) ? item->valuestring : "-";
}

static void print_decisions(const cJSON *decisions) {
    int n = cJSON_GetArraySize(decisions);
    printf("\ndecisions (%d)\n", n);
    if (n == 0) return;
    printf("%-20s  %-24s  %-11s  %-12s  %s\n", "time", "cycle", "step", "action", "reason");
    const cJSON *d;
    cJSON_ArrayForEach(d, decisions) {
        printf("%-20s  %-24s  %-11s  %-12s  %s\n", json_text(d, "time"), json_text(d, "cycle"), json_text(d, "step"),
               json_text(d, "action"), json_text(d, "reason"));
    }
}

int yl_cmd_history(int argc, char **argv) {
    if (yl_arg_wants_help(argc, argv)) {
        print_history_help(stdout);
        return 0;
    }
    static const command_spec spec = {"history", NULL, false, true, "workspace, decisions"};
    registry_options o;
    int rc = parse_options(&spec, argc, argv, &o);
    if (rc) return rc;
    if (!check_workspace(spec.name, o.workspace)) return 1;
    yl_eval_row *rows = NULL;
    int count = 0;
    if (yl_history_read_evals(o.workspace, &rows, &count) != YL_OK) return fail(spec.name);
    cJSON *decisions = NULL;
    if (o.decisions && yl_history_read_decisions(o.workspace, &decisions) != YL_OK) {
        free(rows);
        return fail(spec.name);
    }
    printf("evaluations (%d)\n", count);
    if (count > 0) {
        printf("%-20s  %-24s  %-6s  %-16s  %-6s  %6s  %9s  %6s  %6s  %6s  %8s\n", "time", "cycle", "model", "role",
               "set", "images", "instances", "P", "R", "mAP50", "mAP50-95");
    }
    for (int i = 0; i < count; i++) {
        const yl_eval_row *r = &rows[i];
        printf("%-20s  %-24s  %-6s  %-16s  %-6s  %6ld  %9ld  %6.4f  %6.4f  %6.4f  %8.4f\n", r->time, r->cycle, r->model,
               r->role, r->eval_set, r->images, r->instances, r->precision, r->recall, r->map50, r->map50_95);
    }
    free(rows);
    if (o.decisions) print_decisions(decisions);
    cJSON_Delete(decisions);
    return 0;
}
