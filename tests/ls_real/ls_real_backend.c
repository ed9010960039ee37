// Issue #7 against a REAL Label Studio, on what `ls_real_client cycle` left behind (its workspace
// <work>/ws with v0001 and v0002 deployed, its project of 16 annotated tasks):
//
//   1. `yoloop serve` (port=0, LABEL_STUDIO_API_KEY only: the workspace's token_file is cleared)
//      connected through POST /api/ml/: state CO, the auto-created webhook, "Retrieve
//      predictions" for all tasks in one /predict batch, predictions of the deployed version with
//      the label config's names, boxes in [0, 100]; `yoloop rollback` picked up without a restart,
//      the next predictions carry the new version; a second retrieve sends nothing.
//   2. `yoloop push`: new tasks (the upload's task id, the hash in meta, a prediction with the
//      uncertainty); pushing again imports nothing, by the log and by the meta alone.
//   3. `yoloop rank budget=3`: each unlabeled task gets a prediction scored with its uncertainty,
//      the project's model_version makes the Data Manager sort by it.
//   4. Two annotations reach /webhook; with retrain_after=2 a background cycle runs and ends well.
// The server is stopped at the end whatever happens (atexit; run.sh kills <work>/serve.pid too).
#include <curl/curl.h>
#include <errno.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli/cycle/history.h"
#include "cli/cycle/registry.h"
#include "cli/cycle/workspace.h"
#include "cli/fs_util.h"
#include "curl_body.h"
#include "ls_real.h"
#include "test_common.h"

static const char *const LABELS[] = {"dentado", "concave", "perforation"};
static const char *yoloop;
static char ws[1100], work_dir[1100], serve_log[1200], serve_pid_file[1200], serve_url[128];
static int project;
static yl_ls_client *ls;
static pid_t serve_pid;

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static void sleep_ms(int ms) {
    struct timespec t = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&t, NULL);
}

// ---- the ML backend process -------------------------------------------------------------------

// SIGTERM (a clean stop answers exit 0), then SIGKILL for the whole group (a running cycle too).
static int stop_serve(void) {
    if (serve_pid <= 0) return -1;
    pid_t pid = serve_pid;
    serve_pid = 0;
    kill(pid, SIGTERM);
    int status = 0, code = -1;
    for (int i = 0; i < 200; i++) {
        pid_t got = waitpid(pid, &status, WNOHANG);
        if (got == pid) {
            code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
            break;
        }
        sleep_ms(50);
    }
    kill(-pid, SIGKILL);
    if (code < 0) waitpid(pid, &status, 0);
    remove(serve_pid_file);
    return code;
}

static void stop_serve_at_exit(void) { stop_serve(); }

static void start_serve(void) {
    snprintf(serve_log, sizeof serve_log, "%s/serve.log", work_dir);
    snprintf(serve_pid_file, sizeof serve_pid_file, "%s/serve.pid", work_dir);
    char workspace_arg[1200];
    snprintf(workspace_arg, sizeof workspace_arg, "workspace=%s", ws);
    // threshold=0, conf=0.001: the tiny model's boxes are all low-scored, and every region counts here.
    char *argv[] = {(char *)yoloop, "serve", workspace_arg, "port=0", "threshold=0", "conf=0.001", "retrain_after=2",
                    NULL};
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) die("fork");
    if (pid == 0) {
        setsid();  // its own group: the cycles it starts are stopped with it
        FILE *out = freopen(serve_log, "w", stdout);
        if (!out || dup2(fileno(stdout), 2) < 0) _exit(127);
        execv(yoloop, argv);
        _exit(127);
    }
    serve_pid = pid;
    atexit(stop_serve_at_exit);
    char pid_text[32];
    snprintf(pid_text, sizeof pid_text, "%ld\n", (long)pid);
    write_text(serve_pid_file, pid_text);
    // port=0: the port it bound is in its first stdout line.
    for (double deadline = now_s() + 30; now_s() < deadline; sleep_ms(100)) {
        char *log = read_file(serve_log, NULL);
        const char *at = log ? strstr(log, "listening on http://127.0.0.1:") : NULL;
        int port = 0;
        if (at && sscanf(at, "listening on http://127.0.0.1:%d", &port) == 1 && port > 0) {
            snprintf(serve_url, sizeof serve_url, "http://127.0.0.1:%d", port);
            free(log);
            return;
        }
        free(log);
        if (waitpid(pid, NULL, WNOHANG) == pid) {
            serve_pid = 0;
            break;
        }
    }
    char *log = read_file(serve_log, NULL);
    fprintf(stderr, "ls_real_client: yoloop serve did not start:\n%s\n", log ? log : "");
    free(log);
    exit(2);
}

// A JSON answer of the backend itself (no credentials: none are configured); NULL on failure.
static cJSON *serve_call(const char *method, const char *path) {
    char url[256];
    snprintf(url, sizeof url, "%s%s", serve_url, path);
    CURL *curl = curl_easy_init();
    yl_test_body body = {0};
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
    if (!strcmp(method, "POST")) curl_easy_setopt(curl, CURLOPT_POSTFIELDS, "{}");
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, yl_test_body_write);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &body);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, 10L);
    long status = 0;
    CURLcode rc = curl_easy_perform(curl);
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(curl);
    cJSON *json = rc == CURLE_OK && status == 200 && body.data ? cJSON_Parse(body.data) : NULL;
    free(body.data);
    return json;
}

static double json_number(const cJSON *object, const char *key, double fallback) {
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(object, key);
    return cJSON_IsNumber(item) ? item->valuedouble : fallback;
}

static const char *json_string(const cJSON *object, const char *key) {
    return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(object, key));
}

// /metrics' counter, -1 when unreadable.
static long serve_metric(const char *key) {
    cJSON *m = serve_call("GET", "/metrics");
    long v = (long)json_number(m, key, -1);
    cJSON_Delete(m);
    return v;
}

// /health's cycle object (caller frees), NULL when unreadable.
static cJSON *serve_cycle(void) {
    cJSON *h = serve_call("GET", "/health");
    cJSON *cycle = cJSON_DetachItemFromObjectCaseSensitive(h, "cycle");
    cJSON_Delete(h);
    return cycle;
}

// ---- Label Studio ---------------------------------------------------------------------------------

static cJSON *ls_call(const char *method, const char *path, cJSON *body) {
    cJSON *answer = NULL;
    yl_status st = yl_ls_call_json(ls, method, path, body, &answer);
    CHECK(st == YL_OK, "%s %s: %s", method, path, yl_last_error());
    cJSON_Delete(body);
    return st == YL_OK ? answer : NULL;
}

// The project's tasks (the Data Manager's list), ordered as `query` (URL-encoded) asks, or by id.
static cJSON *list_tasks(const char *query) {
    char path[512];
    snprintf(path, sizeof path, "/api/tasks/?project=%d&page_size=1000%s%s", project, query ? "&query=" : "",
             query ? query : "");
    cJSON *answer = ls_call("GET", path, NULL);
    cJSON *tasks = cJSON_DetachItemFromObjectCaseSensitive(answer, "tasks");
    cJSON_Delete(answer);
    if (!cJSON_IsArray(tasks)) die("the task list has no \"tasks\" array");
    return tasks;
}

static cJSON *project_predictions(void) {
    char path[128];
    snprintf(path, sizeof path, "/api/predictions/?project=%d", project);
    cJSON *all = ls_call("GET", path, NULL);
    if (!cJSON_IsArray(all)) die("GET /api/predictions/?project= is not a list");
    return all;
}

static const char *project_model_version(void) {
    static char version[128];
    char path[64];
    snprintf(path, sizeof path, "/api/projects/%d/", project);
    cJSON *p = ls_call("GET", path, NULL);
    const char *v = json_string(p, "model_version");
    snprintf(version, sizeof version, "%s", v ? v : "(null)");
    cJSON_Delete(p);
    return version;
}

// Every region as the project's config wants it; returns how many regions, -1 if one is wrong.
static int check_regions(const cJSON *prediction, const char *where) {
    const cJSON *result = cJSON_GetObjectItemCaseSensitive(prediction, "result");
    double score = json_number(prediction, "score", -1);
    CHECK(cJSON_IsArray(result) && score >= 0 && score <= 1, "%s: result %s, score %g", where,
          cJSON_IsArray(result) ? "a list" : "missing", score);
    int n = 0;
    const cJSON *r;
    cJSON_ArrayForEach(r, result) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(r, "value");
        const cJSON *labels = cJSON_GetObjectItemCaseSensitive(v, "rectanglelabels");
        const char *label = cJSON_GetArraySize(labels) == 1 ? cJSON_GetStringValue(cJSON_GetArrayItem(labels, 0)) : NULL;
        bool known = false;
        for (int i = 0; label && i < 3; i++) known |= !strcmp(label, LABELS[i]);
        double x = json_number(v, "x", -1), y = json_number(v, "y", -1), w = json_number(v, "width", -1),
               h = json_number(v, "height", -1), rs = json_number(r, "score", 0.5);
        const char *from = json_string(r, "from_name"), *to = json_string(r, "to_name"), *type = json_string(r, "type");
        bool ok = from && !strcmp(from, "label") && to && !strcmp(to, "image") && type && !strcmp(type, "rectanglelabels") &&
                  known && x >= 0 && y >= 0 && w >= 0 && h >= 0 && x + w <= 100 + 1e-6 && y + h <= 100 + 1e-6 && rs >= 0 &&
                  rs <= 1;
        CHECK(ok, "%s: region %d: %s/%s/%s label %s box %g %g %g %g score %g", where, n, from ? from : "-",
              to ? to : "-", type ? type : "-", label ? label : "-", x, y, w, h, rs);
        if (!ok) return -1;
        n++;
    }
    return n;
}

// The prediction of `version` on `task` in the list (NULL when none; *count how many there are).
static const cJSON *prediction_of(const cJSON *all, long task, const char *version, int *count) {
    const cJSON *found = NULL, *p;
    *count = 0;
    cJSON_ArrayForEach(p, all) {
        const char *v = json_string(p, "model_version");
        if ((long)json_number(p, "task", -1) == task && v && !strcmp(v, version)) {
            found = p;
            (*count)++;
        }
    }
    return found;
}

// Every task has exactly one prediction of `version`, well formed. Returns the regions in all.
static int check_predictions_for(const cJSON *tasks, const char *version, const char *what) {
    cJSON *all = project_predictions();
    int regions = 0;
    const cJSON *t;
    cJSON_ArrayForEach(t, tasks) {
        long id = (long)json_number(t, "id", -1);
        int count = 0;
        const cJSON *p = prediction_of(all, id, version, &count);
        char where[160];
        snprintf(where, sizeof where, "%s: task %ld, model_version %s", what, id, version);
        CHECK(count == 1, "%s: %d predictions", where, count);
        int n = p ? check_regions(p, where) : -1;
        if (n > 0) regions += n;
    }
    cJSON_Delete(all);
    return regions;
}

// POST /api/dm/actions/?id=retrieve_tasks_predictions for all tasks; returns processed_items.
static long retrieve_predictions(void) {
    char path[160];
    snprintf(path, sizeof path, "/api/dm/actions/?id=retrieve_tasks_predictions&project=%d", project);
    cJSON *body = cJSON_Parse("{\"selectedItems\": {\"all\": true, \"excluded\": []}}");
    double t0 = now_s();
    cJSON *answer = ls_call("POST", path, body);
    long processed = (long)json_number(answer, "processed_items", -1);
    char *text = answer ? cJSON_PrintUnformatted(answer) : NULL;
    printf("FACT retrieve predictions: %.2f s, answer %s\n", now_s() - t0, text ? text : "(none)");
    free(text);
    cJSON_Delete(answer);
    return processed;
}

static cJSON *get_ml_backend(int id) {
    char path[64];
    snprintf(path, sizeof path, "/api/ml/%d", id);  // no trailing slash, as spec §2.7 writes it
    return ls_call("GET", path, NULL);
}

// ---- 1. the ML backend ---------------------------------------------------------------------------------

static void check_backend(const cJSON *tasks, char *deployed) {
    const int num_tasks = cJSON_GetArraySize(tasks);
    cJSON *body = cJSON_CreateObject();
    cJSON_AddStringToObject(body, "url", serve_url);
    cJSON_AddNumberToObject(body, "project", project);
    cJSON_AddStringToObject(body, "title", "yoloop");
    cJSON_AddBoolToObject(body, "is_interactive", false);
    cJSON *created = ls_call("POST", "/api/ml/", body);
    if (!created) die("connecting the ML backend");
    const int backend = (int)json_number(created, "id", -1);
    const char *state = json_string(created, "state"), *version = json_string(created, "model_version");
    CHECK(state && !strcmp(state, "CO"), "POST /api/ml/: state %s (%s)", state ? state : "-",
          json_string(created, "error_message") ? json_string(created, "error_message") : "");
    CHECK(version && !strcmp(version, deployed), "POST /api/ml/: model_version %s, expected %s", version ? version : "-",
          deployed);
    cJSON_Delete(created);
    cJSON *got = get_ml_backend(backend);
    state = json_string(got, "state");
    CHECK(state && !strcmp(state, "CO"), "GET /api/ml/%d: state %s", backend, state ? state : "-");
    cJSON_Delete(got);
    printf("FACT after connecting the backend the project's model_version is '%s'\n", project_model_version());

    // The webhook Label Studio makes for the backend (spec §2.7).
    char path[160], hook[200];
    snprintf(path, sizeof path, "/api/webhooks/?project=%d", project);
    snprintf(hook, sizeof hook, "%s/webhook", serve_url);
    cJSON *hooks = ls_call("GET", path, NULL);
    const cJSON *h, *ours = NULL;
    cJSON_ArrayForEach(h, hooks) if (json_string(h, "url") && !strcmp(json_string(h, "url"), hook)) ours = h;
    CHECK(ours && cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(ours, "send_for_all_actions")) &&
              cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(ours, "send_payload")),
          "no webhook to %s with send_payload and send_for_all_actions", hook);
    cJSON_Delete(hooks);

    // Retrieve predictions: one /predict with every task, predictions of the deployed version.
    long batches = serve_metric("predict_requests"), predicted = serve_metric("predicted_tasks");
    long processed = retrieve_predictions();
    CHECK(processed == num_tasks, "retrieve: processed_items %ld, %d tasks", processed, num_tasks);
    CHECK(serve_metric("predict_requests") == batches + 1 && serve_metric("predicted_tasks") == predicted + num_tasks,
          "retrieve: expected one /predict with %d tasks, got %ld requests, %ld tasks", num_tasks,
          serve_metric("predict_requests") - batches, serve_metric("predicted_tasks") - predicted);
    int regions = check_predictions_for(tasks, deployed, "retrieve 1");
    CHECK(regions > 0, "retrieve 1: no region at all with threshold=0 conf=0.001");
    printf("ls_real backend: %d tasks predicted by %s (%d regions)\n", num_tasks, deployed, regions);

    // A new deployment, picked up by the running server; the next retrieve carries it.
    char log[1200], args[1400], before[YL_VERSION_ID_SIZE];
    snprintf(before, sizeof before, "%s", deployed);
    snprintf(log, sizeof log, "%s/rollback.log", work_dir);
    snprintf(args, sizeof args, "rollback workspace=%s reason=ls_real", ws);
    int rc = run_yoloop(yoloop, args, log);
    CHECK(rc == 0, "yoloop rollback exit %d (see %s)", rc, log);
    CHECK_OK(yl_registry_deployed(ws, deployed));
    CHECK(strcmp(deployed, before) != 0, "rollback left %s deployed", deployed);
    double t0 = now_s();
    bool swapped = false;
    while (!swapped && now_s() - t0 < 30) {
        cJSON *health = serve_call("GET", "/health");
        const char *served = json_string(health, "model_version");
        swapped = served && !strcmp(served, deployed);
        cJSON_Delete(health);
        if (!swapped) sleep_ms(100);
    }
    CHECK(swapped, "the server did not switch to %s within 30 s", deployed);
    printf("FACT the server served %s %.1f s after the rollback\n", deployed, now_s() - t0);
    processed = retrieve_predictions();
    CHECK(processed == num_tasks, "retrieve 2: processed_items %ld", processed);
    check_predictions_for(tasks, deployed, "retrieve 2 (after the rollback)");
    check_predictions_for(tasks, before, "retrieve 2, the older version kept");
    got = get_ml_backend(backend);
    version = json_string(got, "model_version");
    CHECK(version && !strcmp(version, deployed), "GET /api/ml/%d: model_version %s, expected %s", backend,
          version ? version : "-", deployed);
    cJSON_Delete(got);

    // Same version again: Label Studio sends nothing (every task has a prediction of it).
    batches = serve_metric("predict_requests");
    processed = retrieve_predictions();
    CHECK(serve_metric("predict_requests") == batches, "retrieve 3 sent %ld /predict requests, expected none",
          serve_metric("predict_requests") - batches);
    printf("FACT a retrieve with nothing to predict still answers processed_items=%ld\n", processed);
}

// ---- 2. push -------------------------------------------------------------------------------------------

static void copy_file(const char *from, const char *to) {
    size_t size = 0;
    char *data = read_file(from, &size);
    FILE *f = data ? fopen(to, "wb") : NULL;
    if (!f || fwrite(data, 1, size, f) != size || fclose(f) != 0) {
        fprintf(stderr, "ls_real_client: cannot copy %s to %s\n", from, to);
        exit(2);
    }
    free(data);
}

static int run_logged(const char *args, const char *name, char **output) {
    char log[1300];
    snprintf(log, sizeof log, "%s/%s.log", work_dir, name);
    int rc = run_yoloop(yoloop, args, log);
    *output = read_file(log, NULL);
    if (!*output) *output = strdup("");
    return rc;
}

typedef struct {
    long task;
    char sha[65], file[1200];
} pushed_image;

// The push log's entries (at most `capacity`); returns how many lines it has.
static int read_push_log(const char *path, pushed_image *out, int capacity) {
    char *text = read_file(path, NULL);
    int n = 0;
    for (char *line = text ? strtok(text, "\n") : NULL; line; line = strtok(NULL, "\n"), n++) {
        cJSON *e = cJSON_Parse(line);
        if (n < capacity) {
            out[n].task = (long)json_number(e, "task", -1);
            snprintf(out[n].sha, sizeof out[n].sha, "%s", json_string(e, "sha256") ? json_string(e, "sha256") : "");
            snprintf(out[n].file, sizeof out[n].file, "%s", json_string(e, "file") ? json_string(e, "file") : "");
        }
        cJSON_Delete(e);
    }
    free(text);
    return n;
}

static int task_count(void) {
    cJSON *tasks = list_tasks(NULL);
    int n = cJSON_GetArraySize(tasks);
    cJSON_Delete(tasks);
    return n;
}

enum { NUM_PUSH = 4 };

// POSTs /webhook has answered so far (the serve log has a line per request).
static int webhook_deliveries(void) {
    char *log = read_file(serve_log, NULL);
    int n = 0;
    for (const char *at = log; at && (at = strstr(at, "POST /webhook -> 200")); at++) n++;
    free(log);
    return n;
}

static void check_push(const char *deployed, pushed_image *pushed) {
    char source[1200], path[2600], args[4096], push_log[1300];
    snprintf(source, sizeof source, "%s/push", work_dir);
    mkdir(source, 0755);
    // Three field images the project does not have yet, and one unlike the training data.
    for (int i = 0; i < NUM_PUSH - 1; i++) {
        char from[1300];
        snprintf(from, sizeof from, "%s/incoming/images/val/synth_%06d.png", work_dir, 24 + i);
        snprintf(path, sizeof path, "%s/field_%d.png", source, i);
        copy_file(from, path);
    }
    snprintf(path, sizeof path, "%s/field_odd.jpg", source);
    make_image(path, 96, 64, 1, 90);
    snprintf(push_log, sizeof push_log, "%s/push_log.jsonl", ws);

    const int tasks_before = task_count(), hooks_before = webhook_deliveries();
    snprintf(args, sizeof args, "push source=%s url=%s project=%d workspace=%s conf=0.001", source, base_url, project, ws);
    char *out = NULL;
    double t0 = now_s();
    int rc = run_logged(args, "push1", &out);
    printf("ls_real backend: yoloop push of %d images: exit %d in %.1f s\n", NUM_PUSH, rc, now_s() - t0);
    CHECK(rc == 0 && strstr(out, "pushed 4, already there 0, failed 0"), "push: exit %d:\n%s", rc, out);
    free(out);
    CHECK(task_count() == tasks_before + NUM_PUSH, "push: %d tasks, expected %d", task_count(), tasks_before + NUM_PUSH);
    int lines = read_push_log(push_log, pushed, NUM_PUSH);
    CHECK(lines == NUM_PUSH, "push log: %d lines", lines);

    // Each task: the upload's id, the image, the hash in meta, the model's boxes + uncertainty.
    char version[96], meta_path[64];
    snprintf(version, sizeof version, "%s-push", deployed);
    int regions = 0;
    for (int i = 0; i < lines && i < NUM_PUSH; i++) {
        char sha[65] = "";
        CHECK_OK(yl_fs_sha256_file(pushed[i].file, sha));
        CHECK(!strcmp(sha, pushed[i].sha), "push log: %s hash %s, the file's is %s", pushed[i].file, pushed[i].sha, sha);
        snprintf(meta_path, sizeof meta_path, "/api/tasks/%ld/", pushed[i].task);
        cJSON *task = ls_call("GET", meta_path, NULL);
        const char *image = json_string(cJSON_GetObjectItemCaseSensitive(task, "data"), "image");
        const char *base = strrchr(pushed[i].file, '/') + 1;
        char prefix[64];
        snprintf(prefix, sizeof prefix, "/data/upload/%d/", project);
        size_t il = image ? strlen(image) : 0, bl = strlen(base);
        CHECK(image && !strncmp(image, prefix, strlen(prefix)) && il > bl && !strcmp(image + il - bl, base) &&
                  image[il - bl - 1] == '-',
              "task %ld (the id the upload returned) holds %s, not %s", pushed[i].task, image ? image : "no image", base);
        const char *meta_sha = json_string(cJSON_GetObjectItemCaseSensitive(task, "meta"), "yoloop_sha256");
        CHECK(meta_sha && !strcmp(meta_sha, sha), "task %ld: meta.yoloop_sha256 %s (PATCH /api/tasks/{id}/ meta)",
              pushed[i].task, meta_sha ? meta_sha : "missing");
        int count = 0;
        const cJSON *p = prediction_of(cJSON_GetObjectItemCaseSensitive(task, "predictions"), pushed[i].task, version,
                                       &count);
        char where[160];
        snprintf(where, sizeof where, "pushed task %ld (%s)", pushed[i].task, base);
        CHECK(count == 1, "%s: %d predictions of %s", where, count, version);
        int n = p ? check_regions(p, where) : -1;
        if (n > 0) regions += n;
        cJSON_Delete(task);
    }
    CHECK(regions > 0, "push: no boxes in any prediction at conf=0.001");
    // Each upload is a TASKS_CREATED event for the backend's webhook (answered "Unknown event").
    CHECK(webhook_deliveries() >= hooks_before + NUM_PUSH, "push: %d webhook deliveries, expected %d TASKS_CREATED",
          webhook_deliveries() - hooks_before, NUM_PUSH);

    // Again: nothing new (the log and the meta both know every image).
    rc = run_logged(args, "push2", &out);
    CHECK(rc == 0 && strstr(out, "pushed 0, already there 4"), "push again: exit %d:\n%s", rc, out);
    free(out);
    // A fresh log: the task meta alone keeps them out.
    char fresh[1300];
    snprintf(fresh, sizeof fresh, "%s/fresh_push_log.jsonl", work_dir);
    snprintf(args, sizeof args, "push source=%s url=%s project=%d workspace=%s conf=0.001 log=%s", source, base_url,
             project, ws, fresh);
    rc = run_logged(args, "push3", &out);
    CHECK(rc == 0 && strstr(out, "pushed 0, already there 4"), "push with a fresh log (meta only): exit %d:\n%s", rc, out);
    free(out);
    // Meta cleared on the server: the push log alone keeps them out.
    for (int i = 0; i < lines && i < NUM_PUSH; i++) {
        snprintf(meta_path, sizeof meta_path, "/api/tasks/%ld/", pushed[i].task);
        cJSON *body = cJSON_CreateObject();
        cJSON_AddObjectToObject(body, "meta");
        cJSON_Delete(ls_call("PATCH", meta_path, body));
        cJSON *task = ls_call("GET", meta_path, NULL);
        CHECK(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(task, "meta")) == 0, "task %ld: meta not cleared",
              pushed[i].task);
        cJSON_Delete(task);
    }
    snprintf(args, sizeof args, "push source=%s url=%s project=%d workspace=%s conf=0.001", source, base_url, project, ws);
    rc = run_logged(args, "push4", &out);
    CHECK(rc == 0 && strstr(out, "pushed 0, already there 4"), "push without meta (log only): exit %d:\n%s", rc, out);
    free(out);
    CHECK(task_count() == tasks_before + NUM_PUSH, "re-pushing made tasks: %d, expected %d", task_count(),
          tasks_before + NUM_PUSH);
    CHECK(count_lines(push_log) == NUM_PUSH, "re-pushing wrote the push log: %d lines", count_lines(push_log));
}

// ---- 3. rank ---------------------------------------------------------------------------------------------

static bool is_pushed(long task, const pushed_image *pushed) {
    for (int i = 0; i < NUM_PUSH; i++)
        if (pushed[i].task == task) return true;
    return false;
}

// The Data Manager ordered by prediction score (of the project's model_version): the ranked
// tasks first, in descending score, each score that of its `version` prediction; the others none.
static int check_data_manager_order(const cJSON *all, const char *version, const pushed_image *pushed,
                                     const char *what) {
    static const char ORDER[] = "%7B%22ordering%22%3A%5B%22-tasks%3Apredictions_score%22%5D%7D";
    cJSON *tasks = list_tasks(ORDER);
    int position = 0, distinct = 0;
    double previous = 2, top = -1;
    const cJSON *t;
    cJSON_ArrayForEach(t, tasks) {
        long id = (long)json_number(t, "id", -1);
        const cJSON *score = cJSON_GetObjectItemCaseSensitive(t, "predictions_score");
        if (position < NUM_PUSH) {
            int count = 0;
            const cJSON *p = prediction_of(all, id, version, &count);
            double want = json_number(p, "score", -1);
            CHECK(is_pushed(id, pushed) && cJSON_IsNumber(score) && fabs(score->valuedouble - want) < 1e-9 &&
                      score->valuedouble <= previous + 1e-12,
                  "%s: Data Manager position %d: task %ld score %g (its prediction %g, previous %g)", what, position,
                  id, cJSON_IsNumber(score) ? score->valuedouble : -1, want, previous);
            if (cJSON_IsNumber(score)) {
                distinct += score->valuedouble < previous - 1e-12;
                previous = score->valuedouble;
            }
            if (position == 0) top = previous;
        } else {
            CHECK(!cJSON_IsNumber(score), "%s: Data Manager position %d: task %ld has a score", what, position, id);
        }
        position++;
    }
    printf("FACT Data Manager ordered by -predictions_score (%s): %.4f .. %.4f, %d distinct\n", what, top, previous,
           distinct);
    cJSON_Delete(tasks);
    return distinct;
}

static void check_rank(const char *deployed, const pushed_image *pushed) {
    char args[4096], version[128];
    snprintf(version, sizeof version, "%s-uncertainty-combined", deployed);
    snprintf(args, sizeof args, "rank workspace=%s url=%s project=%d budget=3 conf=0.001", ws, base_url, project);
    char *out = NULL;
    double t0 = now_s();
    int rc = run_logged(args, "rank1", &out);
    printf("ls_real backend: yoloop rank: exit %d in %.1f s\n", rc, now_s() - t0);
    int rows = 0;
    for (const char *line = out; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
        int r = 0;
        double score = 0;
        if (sscanf(line, "%d %lf", &r, &score) == 2 && r == rows + 1) rows++;
    }
    CHECK(rc == 0 && strstr(out, "4 unlabeled") && strstr(out, "wrote 4 predictions") && rows == 3,
          "rank: exit %d, %d table rows:\n%s", rc, rows, out);
    free(out);
    CHECK(!strcmp(project_model_version(), version), "the project's model_version is %s, expected %s",
          project_model_version(), version);

    // Each unlabeled task has one prediction of that version; no labeled task has one.
    cJSON *all = project_predictions();
    cJSON *tasks = list_tasks(NULL);
    const cJSON *t;
    cJSON_ArrayForEach(t, tasks) {
        long id = (long)json_number(t, "id", -1);
        int count = 0;
        const cJSON *p = prediction_of(all, id, version, &count);
        char where[160];
        snprintf(where, sizeof where, "rank: task %ld", id);
        if (is_pushed(id, pushed)) {
            CHECK(count == 1, "%s: %d predictions of %s", where, count, version);
            if (p) check_regions(p, where);
        } else {
            CHECK(count == 0, "%s (labeled) got %d predictions of %s", where, count, version);
        }
    }
    cJSON_Delete(tasks);

    check_data_manager_order(all, version, pushed, "combined");
    const int predictions = cJSON_GetArraySize(all);
    cJSON_Delete(all);

    rc = run_logged(args, "rank2", &out);
    CHECK(rc == 0 && strstr(out, "wrote 0 predictions"), "rank again: exit %d:\n%s", rc, out);
    free(out);
    all = project_predictions();
    CHECK(cJSON_GetArraySize(all) == predictions, "rank again: %d predictions, was %d", cJSON_GetArraySize(all),
          predictions);
    cJSON_Delete(all);

    // The tiny model scores these images alike; the seeded random baseline gives distinct scores,
    // so the order itself is checked.
    snprintf(version, sizeof version, "%s-uncertainty-random", deployed);
    snprintf(args, sizeof args, "rank workspace=%s url=%s project=%d budget=3 strategy=random seed=7", ws, base_url,
             project);
    rc = run_logged(args, "rank3", &out);
    CHECK(rc == 0 && strstr(out, "wrote 4 predictions"), "rank strategy=random: exit %d:\n%s", rc, out);
    free(out);
    CHECK(!strcmp(project_model_version(), version), "the project's model_version is %s, expected %s",
          project_model_version(), version);
    all = project_predictions();
    int distinct = check_data_manager_order(all, version, pushed, "random");
    CHECK(distinct == NUM_PUSH, "strategy=random: %d distinct scores in the Data Manager, expected %d", distinct,
          NUM_PUSH);
    cJSON_Delete(all);
}

// ---- 4. webhook -> cycle -----------------------------------------------------------------------------------

static void check_webhook_cycle(const pushed_image *pushed) {
    cJSON *cycle = serve_cycle();
    const long events = (long)json_number(cycle, "events", -1);
    CHECK(cycle && json_number(cycle, "runs", -1) == 0 && json_number(cycle, "pending_annotations", -1) == 0,
          "before any annotation: a cycle ran or annotations are pending");
    cJSON_Delete(cycle);
    // What an annotator's Submit does, on two pushed tasks; retrain_after=2.
    for (int i = 0; i < 2; i++) {
        char path[64];
        snprintf(path, sizeof path, "/api/tasks/%ld/annotations/", pushed[i].task);
        cJSON *body = cJSON_CreateObject(), *result = cJSON_CreateArray();
        cJSON_AddItemToArray(result, rect(64, 64, 20, 20, 30, 40, 0, "concave"));
        cJSON_AddItemToObject(body, "result", result);
        cJSON_AddBoolToObject(body, "was_cancelled", false);
        cJSON_Delete(ls_call("POST", path, body));
        if (i == 0) {  // delivered in the annotator's request, normally; allow a little
            bool arrived = false;
            for (double until = now_s() + 5; !arrived && now_s() < until; sleep_ms(50)) {
                cycle = serve_cycle();
                arrived = json_number(cycle, "pending_annotations", -1) == 1 && json_number(cycle, "events", -1) > events;
                cJSON_Delete(cycle);
            }
            CHECK(arrived, "the first annotation did not reach /webhook as a verified one");
        }
    }
    double t0 = now_s();
    bool done = false;
    cycle = NULL;
    while (!done && now_s() - t0 < 240) {
        cJSON_Delete(cycle);
        cycle = serve_cycle();
        done = json_number(cycle, "runs", 0) >= 1 && cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(cycle, "running")) &&
               cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(cycle, "last_exit"));
        if (!done) sleep_ms(250);
    }
    const int last_exit = (int)json_number(cycle, "last_exit", -1);
    CHECK(done && json_number(cycle, "runs", 0) == 1 && (last_exit == 0 || last_exit == 10 || last_exit == 11),
          "webhook cycle: done %d, runs %g, last exit %d (see %s)", done, json_number(cycle, "runs", 0), last_exit,
          serve_log);
    cJSON_Delete(cycle);
    cJSON *job = serve_call("POST", "/job_status");
    const char *state = json_string(job, "job_status");
    CHECK(state && !strcmp(state, "finished"), "/job_status %s", state ? state : "-");
    cJSON_Delete(job);
    cJSON *decisions = NULL;
    const char *step = "?";
    if (yl_history_read_decisions(ws, &decisions) == YL_OK && cJSON_GetArraySize(decisions) > 0)
        step = json_string(cJSON_GetArrayItem(decisions, cJSON_GetArraySize(decisions) - 1), "step");
    printf("ls_real backend: two annotations -> /webhook -> a cycle (exit %d, last step %s) in %.1f s\n", last_exit,
           step ? step : "?", now_s() - t0);
    cJSON_Delete(decisions);
}

// ---- main ----------------------------------------------------------------------------------------------------

int run_backend_checks(const char *yoloop_binary, const char *work) {
    yoloop = yoloop_binary;
    snprintf(work_dir, sizeof work_dir, "%s", work);
    snprintf(ws, sizeof ws, "%s/ws", work);
    yl_workspace_config config;
    if (yl_workspace_config_load(ws, &config) != YL_OK) die("the cycle part's workspace");
    project = config.ls_project;
    // The token only from the environment from here on (serve, push, rank and the cycles).
    free(config.token_file);
    config.token_file = NULL;
    if (yl_workspace_config_save(&config) != YL_OK) die("save yoloop.yaml");
    yl_workspace_config_free(&config);
    setenv("LABEL_STUDIO_API_KEY", legacy_token, 1);
    char deployed[YL_VERSION_ID_SIZE];
    if (yl_registry_deployed(ws, deployed) != YL_OK || !deployed[0]) die("nothing deployed in the cycle workspace");

    ls = open_client(base_url, token_file);
    cJSON *tasks = list_tasks(NULL);
    if (cJSON_GetArraySize(tasks) == 0) die("the cycle project has no tasks");
    double t0 = now_s();
    start_serve();
    printf("ls_real backend: yoloop serve at %s (%s deployed), project %d with %d tasks\n", serve_url, deployed, project,
           cJSON_GetArraySize(tasks));
    check_backend(tasks, deployed);
    cJSON_Delete(tasks);
    pushed_image pushed[NUM_PUSH];
    memset(pushed, 0, sizeof pushed);
    check_push(deployed, pushed);
    check_rank(deployed, pushed);
    check_webhook_cycle(pushed);
    int code = stop_serve();
    CHECK(code == 0, "yoloop serve exit %d on SIGTERM (see %s)", code, serve_log);
    char *log = read_file(serve_log, NULL);
    CHECK(log && !strstr(log, legacy_token), "the token is in the serve log");
    free(log);
    printf("ls_real backend: %.1f s\n", now_s() - t0);
    yl_ls_client_close(ls);
    return yl_test_finish("ls_real_client backend");
}
