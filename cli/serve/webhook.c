// Webhook counting and the one-at-a-time background cycle.
#include "cli/serve/webhook.h"

#include <errno.h>
#include <pthread.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/fs_util.h"

extern char **environ;

struct yl_cycle_runner {
    yl_cycle_runner_options options;
    char *workspace;
    char **argv;  // owned copy
    pthread_mutex_t lock;
    bool running;
    pid_t pid;
    pthread_t reaper;
    bool reaper_joinable;
    int runs, last_exit;  // last_exit: -1 before the first run ends
    char last_started[32], last_finished[32];
    long pending, events, verified_total;
};

static char **copy_argv(const char *const *argv) {
    int n = 0;
    while (argv[n]) n++;
    char **copy = calloc((size_t)n + 1, sizeof *copy);
    for (int i = 0; copy && i < n; i++)
        if (!(copy[i] = strdup(argv[i]))) return NULL;
    return copy;
}

static void free_argv(char **argv) {
    for (int i = 0; argv && argv[i]; i++) free(argv[i]);
    free(argv);
}

yl_status yl_cycle_runner_create(yl_cycle_runner **out, const yl_cycle_runner_options *options) {
    *out = NULL;
    yl_cycle_runner *r = calloc(1, sizeof *r);
    if (!r) return yl_error(YL_ERR_OOM, "serve: out of memory");
    r->options = *options;
    r->last_exit = -1;
    pthread_mutex_init(&r->lock, NULL);
    if (options->workspace) r->workspace = strdup(options->workspace);
    if (options->argv) {
        r->argv = copy_argv(options->argv);
    } else if (options->workspace) {
        // The running executable itself, resolved now: /proc/self/exe of the child would be itself.
        char exe[4096];
        ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
        if (n <= 0) {
            yl_cycle_runner_destroy(r, false);
            return yl_error(YL_ERR_IO, "serve: cannot resolve /proc/self/exe: %s", strerror(errno));
        }
        exe[n] = '\0';
        char *arg = malloc(strlen(options->workspace) + 16);
        if (arg) sprintf(arg, "workspace=%s", options->workspace);
        const char *argv[] = {exe, "cycle", arg, NULL};
        r->argv = arg ? copy_argv(argv) : NULL;
        free(arg);
    }
    if ((options->argv || options->workspace) && !r->argv) {
        yl_cycle_runner_destroy(r, false);
        return yl_error(YL_ERR_OOM, "serve: out of memory");
    }
    r->options.workspace = r->workspace;
    r->options.argv = NULL;
    *out = r;
    return YL_OK;
}

void yl_cycle_runner_destroy(yl_cycle_runner *runner, bool wait) {
    if (!runner) return;
    pthread_mutex_lock(&runner->lock);
    bool running = runner->running, joinable = runner->reaper_joinable;
    runner->reaper_joinable = false;
    pthread_mutex_unlock(&runner->lock);
    if (running && !wait) {
        // The reaper still owns the struct; leave both to the end of the process.
        pthread_detach(runner->reaper);
        return;
    }
    if (joinable) pthread_join(runner->reaper, NULL);
    free_argv(runner->argv);
    free(runner->workspace);
    pthread_mutex_destroy(&runner->lock);
    free(runner);
}

static void *reap(void *arg) {
    yl_cycle_runner *r = arg;
    pthread_mutex_lock(&r->lock);
    pid_t pid = r->pid;
    pthread_mutex_unlock(&r->lock);
    int wstatus = 0;
    pid_t got;
    do got = waitpid(pid, &wstatus, 0);
    while (got < 0 && errno == EINTR);
    int code = got < 0 ? -1 : WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : 128 + WTERMSIG(wstatus);
    pthread_mutex_lock(&r->lock);
    r->running = false;
    r->pid = 0;
    r->last_exit = code;
    yl_utc_now_iso(r->last_finished);
    pthread_mutex_unlock(&r->lock);
    fprintf(stderr, "serve: background cycle (pid %ld) ended with exit code %d\n", (long)pid, code);
    return NULL;
}

// Starts a cycle unless one runs. Called with the lock held. Returns 1 started, 0 one runs, -1 failed.
static int start_locked(yl_cycle_runner *r, const char *reason, char *error, size_t size) {
    if (!r->argv) {
        snprintf(error, size, "no workspace: serve runs a model file, so there is no cycle to start");
        return -1;
    }
    if (r->running) return 0;
    if (r->reaper_joinable) {  // the previous reaper has finished (running is false)
        pthread_join(r->reaper, NULL);
        r->reaper_joinable = false;
    }
    pid_t pid;
    int rc = posix_spawn(&pid, r->argv[0], NULL, NULL, r->argv, environ);
    if (rc != 0) {
        snprintf(error, size, "cannot start %s: %s", r->argv[0], strerror(rc));
        return -1;
    }
    r->running = true;
    r->pid = pid;
    r->runs++;
    yl_utc_now_iso(r->last_started);
    r->last_finished[0] = '\0';
    if (pthread_create(&r->reaper, NULL, reap, r) != 0) {
        // Without a reaper nobody would see it end: wait here rather than lose track of it.
        waitpid(pid, NULL, 0);
        r->running = false;
        snprintf(error, size, "cannot start the thread that waits for the cycle");
        return -1;
    }
    r->reaper_joinable = true;
    fprintf(stderr, "serve: started a background cycle (pid %ld): %s\n", (long)pid, reason);
    return 1;
}

static bool annotation_verified(const cJSON *a, bool trust_imported) {
    if (!cJSON_IsObject(a) || cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(a, "was_cancelled"))) return false;
    if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(a, "ground_truth"))) return true;
    const char *action = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(a, "last_action"));
    const cJSON *import_id = cJSON_GetObjectItemCaseSensitive(a, "import_id");
    bool imported = (action && !strcmp(action, "imported")) || (!action && import_id && !cJSON_IsNull(import_id));
    if (imported) return trust_imported;
    return !action || (strcmp(action, "prediction") && strcmp(action, "propagated_annotation") && strcmp(action, "rejected"));
}

static cJSON *status_locked(const yl_cycle_runner *r) {
    cJSON *s = cJSON_CreateObject();
    if (!s) return NULL;
    cJSON_AddBoolToObject(s, "running", r->running);
    if (r->running) cJSON_AddNumberToObject(s, "pid", r->pid);
    cJSON_AddNumberToObject(s, "runs", r->runs);
    if (r->last_exit >= 0) cJSON_AddNumberToObject(s, "last_exit", r->last_exit);
    else cJSON_AddNullToObject(s, "last_exit");
    cJSON_AddStringToObject(s, "last_started", r->last_started);
    cJSON_AddStringToObject(s, "last_finished", r->last_finished);
    cJSON_AddNumberToObject(s, "pending_annotations", (double)r->pending);
    cJSON_AddNumberToObject(s, "retrain_after", r->options.retrain_after);
    cJSON_AddNumberToObject(s, "events", (double)r->events);
    return s;
}

cJSON *yl_cycle_runner_status(yl_cycle_runner *runner) {
    pthread_mutex_lock(&runner->lock);
    cJSON *s = status_locked(runner);
    pthread_mutex_unlock(&runner->lock);
    return s;
}

bool yl_cycle_runner_running(yl_cycle_runner *runner) {
    pthread_mutex_lock(&runner->lock);
    bool running = runner->running;
    pthread_mutex_unlock(&runner->lock);
    return running;
}

// Replies {"status": "ok", "cycle": "started" | "running" | "not started", ...}.
static void trigger_reply(yl_cycle_runner *r, int started, const char *error, long verified, yl_serve_reply *reply) {
    cJSON *body = status_locked(r);
    if (body) {
        cJSON_AddStringToObject(body, "status", "ok");
        cJSON_AddStringToObject(body, "cycle", started > 0 ? "started" : started == 0 ? "already running" : "not started");
        if (verified >= 0) cJSON_AddNumberToObject(body, "verified_annotations", (double)verified);
        if (started < 0 && error[0]) cJSON_AddStringToObject(body, "error", error);
    }
    yl_serve_reply_json(reply, 200, body);
}

void yl_serve_webhook(yl_cycle_runner *runner, const cJSON *event, yl_serve_reply *reply) {
    const char *action = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(event, "action"));
    if (!action) {
        yl_serve_reply_error(reply, 400, "webhook: the body has no \"action\" string");
        return;
    }
    bool start_training = !strcmp(action, "START_TRAINING");
    bool counted = !strcmp(action, "ANNOTATION_CREATED") || !strcmp(action, "ANNOTATION_UPDATED") ||
                   !strcmp(action, "ANNOTATIONS_CREATED");
    if (!start_training && !counted) {
        cJSON *body = cJSON_CreateObject();
        if (body) cJSON_AddStringToObject(body, "status", "Unknown event");
        yl_serve_reply_json(reply, 200, body);
        return;
    }
    long verified = 0;
    const cJSON *annotation = cJSON_GetObjectItemCaseSensitive(event, "annotation");
    if (!annotation) annotation = cJSON_GetObjectItemCaseSensitive(event, "annotations");
    if (cJSON_IsArray(annotation)) {
        const cJSON *a;
        cJSON_ArrayForEach(a, annotation) verified += annotation_verified(a, runner->options.trust_imported);
    } else {
        verified = annotation_verified(annotation, runner->options.trust_imported);
    }
    char error[512] = "";
    int started = -2;  // not asked
    pthread_mutex_lock(&runner->lock);
    runner->events++;
    runner->pending += verified;
    runner->verified_total += verified;
    if (start_training) {
        started = start_locked(runner, "START_TRAINING", error, sizeof error);
    } else if (runner->options.retrain_after > 0 && runner->pending >= runner->options.retrain_after) {
        char reason[96];
        snprintf(reason, sizeof reason, "%ld new verified annotations", runner->pending);
        started = start_locked(runner, reason, error, sizeof error);
    }
    if (started > 0) runner->pending = 0;
    if (started == -2) {
        cJSON *body = status_locked(runner);
        if (body) {
            cJSON_AddStringToObject(body, "status", "ok");
            cJSON_AddNumberToObject(body, "verified_annotations", (double)verified);
        }
        yl_serve_reply_json(reply, 200, body);
    } else {
        trigger_reply(runner, started, error, verified, reply);
    }
    pthread_mutex_unlock(&runner->lock);
}

void yl_serve_train(yl_cycle_runner *runner, yl_serve_reply *reply) {
    char error[512] = "";
    pthread_mutex_lock(&runner->lock);
    int started = start_locked(runner, "POST /train", error, sizeof error);
    if (started > 0) runner->pending = 0;
    if (started < 0) yl_serve_reply_error(reply, runner->argv ? 500 : 409, "train: %s", error);
    else trigger_reply(runner, started, error, -1, reply);
    if (started > 0) {
        char job[32];
        snprintf(job, sizeof job, "cycle-%d", runner->runs);
        cJSON_AddStringToObject(reply->json, "job", job);
    }
    pthread_mutex_unlock(&runner->lock);
}
