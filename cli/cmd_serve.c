// `yoloop serve workspace=<dir> [host=127.0.0.1] [port=9090] ...`: the Label Studio ML backend
// (cli/serve/server.h) serving a workspace's deployed model until SIGINT/SIGTERM.
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/cycle/workspace.h"
#include "cli/fs_util.h"
#include "cli/model_load.h"
#include "cli/serve/server.h"

#define SERVE_KNOWN                                                                                             \
    "workspace, model, host, port, threads, max_connections, basic_auth_file, webhook_auth, retrain_after, "     \
    "max_tasks, max_body_mb, url, token_file, media_root, local_files_root, control, cache_dir, device, imgsz, " \
    "conf, threshold, trust_imported, cache_max_mb"

static void print_help(FILE *out) {
    fprintf(out,
            "usage: yoloop serve workspace=<dir> [host=127.0.0.1] [port=9090] [threads=4] [basic_auth_file=<file>]\n"
            "                    [retrain_after=0] [max_tasks=1000] [max_body_mb=16] [max_connections=64]\n"
            "                    [url=<Label Studio URL>] [token_file=<file>] [media_root=<dir>]\n"
            "                    [local_files_root=<dir>] [control=<name>] [cache_dir=<dir>] [device=cpu]\n"
            "                    [imgsz=<checkpoint's>] [conf=0.1] [threshold=0.5] [webhook_auth=false]\n"
            "                    [trust_imported=<yoloop.yaml's>] [cache_max_mb=4096]\n"
            "       yoloop serve model=<file.safetensors|file.pt> cache_dir=<dir> ...   (one file, no cycles)\n"
            "\n"
            "A Label Studio ML backend (connect it in the project's Model settings with the URL\n"
            "http://<host>:<port>): GET /health, POST /setup, POST /predict, POST /webhook, POST /train,\n"
            "GET /versions. It serves the workspace's deployed model and switches to a newly deployed\n"
            "version without a restart (the pointer is read every second). Predictions are rectanglelabels\n"
            "regions mapped to the project's labels by name; regions below the label config's\n"
            "model_score_threshold (else threshold=) are left out. Images are fetched from Label Studio\n"
            "(url= / token, default: yoloop.yaml's source) and cached under <workspace>/cache/serve_images,\n"
            "at most cache_max_mb= megabytes (least recently used images out first; 0: no bound).\n"
            "\n"
            "Webhook: every retrain_after= new verified annotations (ANNOTATION_CREATED/UPDATED), and on\n"
            "START_TRAINING or POST /train, one `yoloop cycle workspace=<dir>` runs in the background (one\n"
            "at a time); /health and /versions report its exit code.\n"
            "\n"
            "Secrets: the Label Studio token only from LABEL_STUDIO_API_KEY or token_file= (else yoloop.yaml's\n"
            "token_file); basic auth from basic_auth_file= (one line user:password) or the environment\n"
            "variables BASIC_AUTH_USER and BASIC_AUTH_PASS. /webhook is exempt from basic auth unless\n"
            "webhook_auth=true, because the webhook Label Studio creates sends no credentials.\n"
            "Binds 127.0.0.1 by default; host=0.0.0.0 exposes it. Label Studio 1.23 refuses a backend on a\n"
            "loopback or private address (403 \"URL resolves to a reserved network address\") unless it runs\n"
            "with ML_BLOCK_LOCAL_IP=false and, for the webhook it creates, SSRF_PROTECTION_ENABLED=false.\n"
            "Stops on SIGINT/SIGTERM after the running requests finish (a running cycle goes on by itself).\n"
            "Exit codes: 0 stopped by a signal, 1 error, 2 bad arguments.\n");
}

typedef struct {
    yl_serve_options s;
    const char *basic_auth_file;
    bool device_given, trust_given;
    double max_body_mb, cache_max_mb;
} serve_args;

static int parse_args(int argc, char **argv, serve_args *a) {
    a->s = yl_serve_defaults();
    a->max_body_mb = 16;
    a->cache_max_mb = (double)(a->s.cache_max_bytes >> 20);
    for (int i = 0; i < argc; i++) {
        char key[32];
        const char *value;
        double d;
        bool ok;
        yl_serve_options *s = &a->s;
        if (!yl_arg_split("serve", argv[i], key, sizeof key, &value)) return 2;
        if (!strcmp(key, "workspace")) ok = yl_arg_string("serve", key, value, &s->workspace);
        else if (!strcmp(key, "model")) ok = yl_arg_string("serve", key, value, &s->model_file);
        else if (!strcmp(key, "host")) ok = yl_arg_string("serve", key, value, &s->host);
        else if (!strcmp(key, "port")) ok = yl_arg_int("serve", key, value, 0, 65535, &s->port);
        else if (!strcmp(key, "threads")) ok = yl_arg_int("serve", key, value, 1, 256, &s->threads);
        else if (!strcmp(key, "max_connections")) ok = yl_arg_int("serve", key, value, 2, 10000, &s->max_connections);
        else if (!strcmp(key, "basic_auth_file")) ok = yl_arg_string("serve", key, value, &a->basic_auth_file);
        else if (!strcmp(key, "webhook_auth")) ok = yl_arg_bool("serve", key, value, &s->webhook_auth);
        else if (!strcmp(key, "retrain_after")) ok = yl_arg_int("serve", key, value, 0, 100000000, &s->retrain_after);
        else if (!strcmp(key, "max_tasks")) ok = yl_arg_int("serve", key, value, 1, 1000000, &s->max_tasks);
        else if (!strcmp(key, "max_body_mb")) ok = yl_arg_double("serve", key, value, 0.001, 4096, &a->max_body_mb);
        else if (!strcmp(key, "url")) ok = yl_arg_string("serve", key, value, &s->ls_url);
        else if (!strcmp(key, "token_file")) ok = yl_arg_string("serve", key, value, &s->token_file);
        else if (!strcmp(key, "media_root")) ok = yl_arg_string("serve", key, value, &s->media_root);
        else if (!strcmp(key, "local_files_root")) ok = yl_arg_string("serve", key, value, &s->local_files_root);
        else if (!strcmp(key, "control")) ok = yl_arg_string("serve", key, value, &s->control);
        else if (!strcmp(key, "cache_dir")) ok = yl_arg_string("serve", key, value, &s->cache_dir);
        else if (!strcmp(key, "cache_max_mb")) ok = yl_arg_double("serve", key, value, 0, 1e9, &a->cache_max_mb);
        else if (!strcmp(key, "device"))
            ok = yl_arg_device("serve", key, value, &s->device, &s->cuda_index) && (a->device_given = true);
        else if (!strcmp(key, "imgsz")) ok = yl_arg_int("serve", key, value, 32, 8192, &s->imgsz);
        else if (!strcmp(key, "conf")) ok = yl_arg_double("serve", key, value, 0, 1, &d) && ((s->conf = (float)d), true);
        else if (!strcmp(key, "threshold")) ok = yl_arg_double("serve", key, value, 0, 1, &s->threshold);
        else if (!strcmp(key, "trust_imported"))
            ok = yl_arg_bool("serve", key, value, &s->trust_imported) && (a->trust_given = true);
        else {
            yl_arg_unknown("serve", key, SERVE_KNOWN);
            return 2;
        }
        if (!ok) return 2;
    }
    a->s.max_body_bytes = (size_t)(a->max_body_mb * 1024 * 1024);
    a->s.cache_max_bytes = (uint64_t)(a->cache_max_mb * 1024 * 1024);
    if (!a->s.workspace == !a->s.model_file) {
        fprintf(stderr, "serve: give workspace=<dir> or model=<file> (see yoloop serve --help)\n");
        return 2;
    }
    if (a->s.model_file && !yl_model_file_kind_ok(a->s.model_file)) {
        fprintf(stderr, "serve: model=%s: expected a .safetensors or .pt file\n", a->s.model_file);
        return 2;
    }
    if (a->s.model_file && !a->s.cache_dir) {
        fprintf(stderr, "serve: model= needs cache_dir=<dir> for downloaded images\n");
        return 2;
    }
    if (a->s.imgsz % 32) {
        fprintf(stderr, "serve: imgsz=%d: must be a multiple of 32\n", a->s.imgsz);
        return 2;
    }
    return 0;
}

// "user:password" from the file (first line) or BASIC_AUTH_USER / BASIC_AUTH_PASS; NULL when none.
static int load_basic_auth(const char *file, char **out) {
    *out = NULL;
    if (file) {
        char *text = NULL;
        size_t size = 0;
        if (yl_fs_read_all(file, &text, &size) != YL_OK) {
            fprintf(stderr, "serve: basic_auth_file: %s\n", yl_last_error());
            return 1;
        }
        text[strcspn(text, "\r\n")] = '\0';
        if (!strchr(text, ':') || text[0] == ':') {
            fprintf(stderr, "serve: basic_auth_file=%s: expected one line user:password\n", file);
            free(text);
            return 1;
        }
        *out = text;
        return 0;
    }
    const char *user = getenv("BASIC_AUTH_USER"), *pass = getenv("BASIC_AUTH_PASS");
    if (user && user[0] && pass) {
        *out = malloc(strlen(user) + strlen(pass) + 2);
        if (*out) sprintf(*out, "%s:%s", user, pass);
    }
    return 0;
}

int yl_cmd_serve(int argc, char **argv) {
    if (yl_arg_wants_help(argc, argv)) {
        print_help(stdout);
        return 0;
    }
    serve_args a;
    memset(&a, 0, sizeof a);
    int rc = parse_args(argc, argv, &a);
    if (rc) return rc;

    yl_workspace_config config = yl_workspace_config_defaults();
    bool have_config = false;
    if (a.s.workspace && !yl_fs_is_dir(a.s.workspace)) {
        fprintf(stderr, "serve: workspace=%s: not a folder (`yoloop init` creates a workspace)\n", a.s.workspace);
        return 1;
    }
    if (a.s.workspace) {
        if (yl_workspace_config_load(a.s.workspace, &config) == YL_OK) {
            have_config = true;
            if (!a.s.ls_url && config.source == YL_SOURCE_LABEL_STUDIO) a.s.ls_url = config.ls_url;
            if (!a.s.token_file) a.s.token_file = config.token_file;
            if (!a.s.media_root) a.s.media_root = config.media_root;
            if (!a.s.local_files_root) a.s.local_files_root = config.local_files_root;
            if (!a.s.control) a.s.control = config.control;
            if (!a.trust_given) a.s.trust_imported = config.trust_imported;
            if (!a.device_given) {
                a.s.device = config.device;
                a.s.cuda_index = config.cuda_index;
            }
        } else {
            fprintf(stderr, "serve: warning: %s; images are fetched only with url= (and the token)\n", yl_last_error());
        }
    }
    char *basic_auth = NULL;
    if (load_basic_auth(a.basic_auth_file, &basic_auth)) {
        yl_workspace_config_free(&config);
        return 1;
    }
    a.s.basic_auth = basic_auth;
    a.s.log = stderr;

    // Signals are taken by sigwait below; blocked before any thread starts so none receives them.
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);
    signal(SIGPIPE, SIG_IGN);

    yl_server *server = NULL;
    if (yl_server_start(&server, &a.s) != YL_OK) {
        fprintf(stderr, "serve: %s\n", yl_last_error());
        free(basic_auth);
        yl_workspace_config_free(&config);
        return 1;
    }
    printf("serve: listening on http://%s:%d (%s %s%s; images from %s)%s\n", a.s.host, yl_server_port(server),
           a.s.workspace ? "workspace" : "model", a.s.workspace ? a.s.workspace : a.s.model_file,
           have_config ? "" : " without yoloop.yaml", a.s.ls_url ? a.s.ls_url : "nowhere (no url=)",
           a.s.basic_auth ? ", basic auth on" : "");
    fflush(stdout);
    int signal_number = 0;
    sigwait(&stop_signals, &signal_number);
    printf("serve: %s received, stopping after the running requests\n", signal_number == SIGINT ? "SIGINT" : "SIGTERM");
    fflush(stdout);
    yl_server_stop(server, false);
    free(basic_auth);
    yl_workspace_config_free(&config);
    return 0;
}
