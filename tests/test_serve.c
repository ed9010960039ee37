// The ML backend (cli/serve/): a server started in-process on a free port and driven with libcurl.
//   - /health JSON and its latency while a long /predict runs (< 1 s, answered before it ends);
//   - /setup (model_version, a bad schema -> 400), /predict with several tasks whose images an
//     authenticated fake Label Studio serves: one result per task in order, a failed task as an
//     entry without "result", regions in [0, 100], scores in [0, 1], labels mapped by name
//     without regard to case, original sizes, model_version "v0001"; model_score_threshold from
//     the label config honoured; images cached (no second download); no label matching -> 422;
//   - deploying v0002 while clients predict in a loop: no request fails, each client sees v0001
//     then v0002 and never back, /health and /versions report v0002;
//   - malformed JSON, a non-object, a missing body, a wrong method, an unknown path, an oversized
//     body, too many tasks -> 4xx with a JSON error;
//   - basic auth on every route but /webhook, with WWW-Authenticate on 401;
//   - the webhook: only verified annotations count, the Nth starts one background cycle (a fake
//     command), a trigger while it runs starts nothing, its exit code is reported; START_TRAINING
//     and /train start one; file mode has no cycles (409);
//   - the image cache bound: over it, the least recently used image goes after a download and a
//     later request downloads it again; an image used in the last minute stays.
#define _DEFAULT_SOURCE
#include <fcntl.h>
#include <arpa/inet.h>
#include <curl/curl.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <stb_image_write.h>

#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "cli/commands.h"
#include "cli/cycle/registry.h"
#include "cli/file_cache.h"
#include "cli/fs_util.h"
#include "cli/serve/server.h"
#include "curl_body.h"
#include "engine/model/model.h"
#include "test_common.h"
#include "weights/checkpoint.h"

#define TOKEN "serve-test-token-123"
#define NUM_IMAGES 3

static char root[256], images_dir[300], workspace[300], model_file[300], marker[300];
static const int IMAGE_W[NUM_IMAGES] = {96, 64, 128}, IMAGE_H[NUM_IMAGES] = {64, 80, 48};

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static void sleep_ms(int ms) {
    struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&t, NULL);
}

static void die(const char *what) {
    fprintf(stderr, "setup: %s: %s\n", what, yl_last_error());
    exit(2);
}

// ---- a fake Label Studio that serves /data/upload/1/<file> from images_dir with token auth ----

static atomic_int image_requests, image_unauthorized;

static enum MHD_Result image_handler(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                     const char *version, const char *upload, size_t *upload_size, void **state) {
    (void)cls, (void)method, (void)version, (void)upload, (void)upload_size, (void)state;
    const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
    unsigned status = 200;
    char *data = NULL;
    size_t size = 0;
    if (!auth || strcmp(auth, "Token " TOKEN) != 0) {
        image_unauthorized++;
        status = 401;
    } else if (strncmp(url, "/data/upload/1/", 15) != 0 || strchr(url + 15, '/')) {
        status = 404;
    } else {
        image_requests++;
        char path[512];
        snprintf(path, sizeof path, "%s/%s", images_dir, url + 15);
        if (yl_fs_read_all(path, &data, &size) != YL_OK) status = 404;
    }
    struct MHD_Response *r = data ? MHD_create_response_from_buffer(size, data, MHD_RESPMEM_MUST_FREE)
                                  : MHD_create_response_from_buffer(2, (void *)"{}", MHD_RESPMEM_PERSISTENT);
    MHD_add_response_header(r, "Content-Type", data ? "image/png" : "application/json");
    enum MHD_Result result = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return result;
}

static struct MHD_Daemon *start_image_server(int *port) {
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct MHD_Daemon *d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION, 0, NULL,
                                            NULL, image_handler, NULL, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&a,
                                            MHD_OPTION_END);
    const union MHD_DaemonInfo *info = d ? MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT) : NULL;
    *port = info ? info->port : 0;
    return d;
}

// ---- HTTP client ----------------------------------------------------------------------------------

typedef struct {
    long status;
    cJSON *json;
    double seconds;
    char www_authenticate[128];
} http_result;

static size_t on_header(char *p, size_t size, size_t n, void *user) {
    http_result *r = user;
    if (!strncasecmp(p, "WWW-Authenticate:", 17)) snprintf(r->www_authenticate, sizeof r->www_authenticate, "%.*s",
                                                           (int)(size * n - 17), p + 17);
    return size * n;
}

static int server_port;

static http_result http(const char *method, const char *path, const char *body, const char *userpwd) {
    http_result r = {0};
    yl_test_body b = {0};
    char url[256];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", server_port, path);
    CURL *c = curl_easy_init();
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    if (body) curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    struct curl_slist *headers = curl_slist_append(NULL, "Content-Type: application/json");
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
    if (userpwd) {
        curl_easy_setopt(c, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
        curl_easy_setopt(c, CURLOPT_USERPWD, userpwd);
    }
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, yl_test_body_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &r);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
    double t0 = now_s();
    CURLcode rc = curl_easy_perform(c);
    r.seconds = now_s() - t0;
    if (rc == CURLE_OK) curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
    r.json = b.data ? cJSON_Parse(b.data) : NULL;
    free(b.data);
    curl_slist_free_all(headers);
    curl_easy_cleanup(c);
    return r;
}

static const char *str(const cJSON *o, const char *key) {
    return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, key));
}
static double num(const cJSON *o, const char *key) { return cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(o, key)); }

// A 4xx with a JSON body {"status": <code>, "error": "..."}.
static void check_json_error(const char *what, http_result r, long expected) {
    CHECK(r.status == expected, "%s: HTTP %ld, expected %ld", what, r.status, expected);
    CHECK(cJSON_IsObject(r.json) && str(r.json, "error") && str(r.json, "error")[0] &&
              num(r.json, "status") == (double)expected,
          "%s: no JSON error body", what);
    cJSON_Delete(r.json);
}

// ---- requests --------------------------------------------------------------------------------------

static const char *CONFIG_LOW =
    "<View><Image name=\"image\" value=\"$image\"/><RectangleLabels name=\"label\" toName=\"image\" "
    "model_score_threshold=\"0.0\"><Label value=\"Airplane\"/><Label value=\"Car\"/></RectangleLabels></View>";
static const char *CONFIG_HIGH =
    "<View><Image name=\"image\" value=\"$image\"/><RectangleLabels name=\"label\" toName=\"image\" "
    "model_score_threshold=\"0.999\"><Label value=\"Airplane\"/><Label value=\"Car\"/></RectangleLabels></View>";
static const char *CONFIG_NO_MATCH =
    "<View><Image name=\"image\" value=\"$image\"/><RectangleLabels name=\"label\" toName=\"image\">"
    "<Label value=\"Dog\"/><Label value=\"Cat\"/></RectangleLabels></View>";

// {"tasks": [...], "label_config": config}; task i uses image (i % NUM_IMAGES); with_missing puts a
// task without an image at index 1.
static char *predict_body(const char *config, int n, bool with_missing) {
    cJSON *body = cJSON_CreateObject(), *tasks = cJSON_AddArrayToObject(body, "tasks");
    for (int i = 0; i < n; i++) {
        cJSON *task = cJSON_CreateObject(), *data = cJSON_AddObjectToObject(task, "data");
        cJSON_AddNumberToObject(task, "id", 100 + i);
        char url[64];
        snprintf(url, sizeof url, "/data/upload/1/img%d.png", i % NUM_IMAGES);
        if (with_missing && i == 1) cJSON_AddStringToObject(data, "text", "no image here");
        else cJSON_AddStringToObject(data, i == 2 ? "$undefined$" : "image", url);
        cJSON_AddItemToArray(tasks, task);
    }
    cJSON_AddStringToObject(body, "project", "1.1746612998");
    if (config) cJSON_AddStringToObject(body, "label_config", config);
    char *text = cJSON_PrintUnformatted(body);
    cJSON_Delete(body);
    return text;
}

// Checks one /predict answer for tasks made by predict_body; returns the total region count.
static int check_predictions(const cJSON *json, int n, bool with_missing, const char *version) {
    const cJSON *results = cJSON_GetObjectItemCaseSensitive(json, "results");
    CHECK(cJSON_GetArraySize(results) == n, "%d results for %d tasks", cJSON_GetArraySize(results), n);
    int regions_total = 0;
    for (int i = 0; i < cJSON_GetArraySize(results); i++) {
        const cJSON *entry = cJSON_GetArrayItem(results, i);
        CHECK(str(entry, "model_version") && !strcmp(str(entry, "model_version"), version), "task %d version %s", i,
              str(entry, "model_version"));
        const cJSON *regions = cJSON_GetObjectItemCaseSensitive(entry, "result");
        if (with_missing && i == 1) {
            CHECK(!regions && str(entry, "error") && strstr(str(entry, "error"), "task 101"),
                  "task 1 has no image: an error entry without result expected");
            continue;
        }
        CHECK(cJSON_IsArray(regions), "task %d: no result array (%s)", i, str(entry, "error"));
        double score = num(entry, "score"), sum = 0;
        CHECK(score >= 0 && score <= 1, "task %d score %g", i, score);
        const cJSON *region;
        cJSON_ArrayForEach(region, regions) {
            const cJSON *v = cJSON_GetObjectItemCaseSensitive(region, "value");
            double x = num(v, "x"), y = num(v, "y"), w = num(v, "width"), h = num(v, "height"), s = num(region, "score");
            CHECK(x >= 0 && y >= 0 && w >= 0 && h >= 0 && x + w <= 100.0001 && y + h <= 100.0001,
                  "task %d region %g %g %g %g", i, x, y, w, h);
            CHECK(s >= 0 && s <= 1, "region score %g", s);
            const char *label = cJSON_GetStringValue(cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(v, "rectanglelabels"), 0));
            CHECK(label && (!strcmp(label, "Airplane") || !strcmp(label, "Car")), "label %s", label ? label : "(none)");
            CHECK(!strcmp(str(region, "from_name"), "label") && !strcmp(str(region, "to_name"), "image") &&
                      !strcmp(str(region, "type"), "rectanglelabels"),
                  "region names");
            int k = i % NUM_IMAGES;  // task order: each region carries its own image's size
            CHECK(num(region, "original_width") == IMAGE_W[k] && num(region, "original_height") == IMAGE_H[k],
                  "task %d: original size %gx%g, expected %dx%d", i, num(region, "original_width"),
                  num(region, "original_height"), IMAGE_W[k], IMAGE_H[k]);
            sum += s;
            regions_total++;
        }
        int count = cJSON_GetArraySize(regions);
        CHECK(fabs(score - (count ? sum / count : 0)) < 1e-6, "task score %g is not the mean of %d regions", score, count);
    }
    return regions_total;
}

// ---- setup --------------------------------------------------------------------------------------------

static void make_fixtures(void) {
    snprintf(root, sizeof root, "/tmp/yl_test_serve_%d", (int)getpid());
    yl_fs_remove_tree(root);
    snprintf(images_dir, sizeof images_dir, "%s/images", root);
    snprintf(workspace, sizeof workspace, "%s/ws", root);
    snprintf(model_file, sizeof model_file, "%s/tiny.safetensors", root);
    snprintf(marker, sizeof marker, "%s/cycles.txt", root);
    if (yl_fs_mkdirs(images_dir) != YL_OK || yl_fs_mkdirs(workspace) != YL_OK) die("mkdirs");
    yl_rng rng;
    yl_rng_seed(&rng, 7, 1);
    for (int k = 0; k < NUM_IMAGES; k++) {
        size_t n = (size_t)IMAGE_W[k] * IMAGE_H[k] * 3;
        unsigned char *pixels = malloc(n);
        for (size_t i = 0; i < n; i++) pixels[i] = (unsigned char)(yl_rng_u32(&rng) & 0xff);
        char path[400];
        snprintf(path, sizeof path, "%s/img%d.png", images_dir, k);
        if (!stbi_write_png(path, IMAGE_W[k], IMAGE_H[k], 3, pixels, IMAGE_W[k] * 3)) die("png");
        free(pixels);
    }
    yl_engine eng = yl_test_cpu_engine();
    yl_model_config cfg;
    yl_model *m = NULL;
    if (yl_model_config_custom(&cfg, 0.33, 0.0625, 64, 3) != YL_OK || yl_model_create(&m, &eng, &cfg, 5) != YL_OK)
        die("model");
    yl_checkpoint_info info = {0};
    info.names_json = "[\"airplane\", \"CAR\", \"boat\"]";  // mapped to Airplane, Car; boat dropped
    info.imgsz = 64;
    if (yl_checkpoint_save(m, &info, model_file) != YL_OK) die("checkpoint");
    yl_model_destroy(m);
    yl_engine_release(&eng);
    char id[YL_VERSION_ID_SIZE];
    if (yl_registry_add(workspace, model_file, "init", NULL, NULL, id) != YL_OK) die("registry add");
    if (strcmp(id, "v0001") != 0 || yl_registry_deploy(workspace, id, "test") != YL_OK) die("deploy v0001");
}

// ---- parts ------------------------------------------------------------------------------------------------

static void test_health_and_setup(void) {
    http_result r = http("GET", "/health", NULL, NULL);
    CHECK(r.status == 200 && !strcmp(str(r.json, "status"), "UP"), "health %ld", r.status);
    CHECK(str(r.json, "model_version") && !strcmp(str(r.json, "model_version"), "v0001"), "health version %s",
          str(r.json, "model_version"));
    CHECK(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(r.json, "model_loaded")), "model_loaded");
    CHECK(r.seconds < 1.0, "health took %.3f s", r.seconds);
    cJSON_Delete(r.json);

    cJSON *setup = cJSON_CreateObject();
    cJSON_AddStringToObject(setup, "project", "1.1746612998");
    cJSON_AddStringToObject(setup, "schema", CONFIG_LOW);
    cJSON_AddStringToObject(setup, "hostname", "http://localhost:8080");
    cJSON_AddStringToObject(setup, "access_token", "ignored");
    char *text = cJSON_PrintUnformatted(setup);
    r = http("POST", "/setup", text, NULL);
    CHECK(r.status == 200 && str(r.json, "model_version") && !strcmp(str(r.json, "model_version"), "v0001"),
          "setup %ld %s", r.status, str(r.json, "model_version"));
    cJSON_Delete(r.json);
    free(text);
    cJSON_ReplaceItemInObject(setup, "schema", cJSON_CreateString("<View><Image name=\"image\" value=\"$image\"/>"));
    text = cJSON_PrintUnformatted(setup);
    check_json_error("setup with a broken schema", http("POST", "/setup", text, NULL), 400);
    free(text);
    cJSON_Delete(setup);
}

static void test_predict(void) {
    int before = image_requests;
    char *body = predict_body(CONFIG_LOW, 4, true);
    http_result r = http("POST", "/predict", body, NULL);
    CHECK(r.status == 200, "predict HTTP %ld", r.status);
    int regions = check_predictions(r.json, 4, true, "v0001");
    CHECK(regions > 0, "a threshold of 0 must keep the tiny model's boxes (got none)");
    printf("predict: 4 tasks, %d regions, %.3f s\n", regions, r.seconds);
    cJSON_Delete(r.json);
    CHECK(image_requests - before == 2, "%d image downloads for 2 distinct images (img0 twice, img2)",
          image_requests - before);
    CHECK(image_unauthorized == 0, "%d image requests without the token", (int)image_unauthorized);

    // Cached: the same images again cost no download.
    before = image_requests;
    r = http("POST", "/predict", body, NULL);
    CHECK(r.status == 200 && check_predictions(r.json, 4, true, "v0001") == regions, "second predict differs");
    CHECK(image_requests == before, "%d downloads for cached images", image_requests - before);
    cJSON_Delete(r.json);
    free(body);

    // model_score_threshold 0.999 keeps nothing; the entries are still there, empty.
    body = predict_body(CONFIG_HIGH, 3, false);
    r = http("POST", "/predict", body, NULL);
    CHECK(r.status == 200 && check_predictions(r.json, 3, false, "v0001") == 0, "threshold 0.999 kept regions");
    cJSON_Delete(r.json);
    free(body);

    // No label_config: the one /setup gave for this project is used.
    body = predict_body(NULL, 2, false);
    r = http("POST", "/predict", body, NULL);
    CHECK(r.status == 200 && check_predictions(r.json, 2, false, "v0001") > 0, "predict with the /setup schema");
    cJSON_Delete(r.json);
    free(body);

    body = predict_body(CONFIG_NO_MATCH, 1, false);
    r = http("POST", "/predict", body, NULL);
    CHECK(r.status == 422 && str(r.json, "error") && strstr(str(r.json, "error"), "airplane") &&
              strstr(str(r.json, "error"), "Dog"),
          "no label in common: HTTP %ld %s", r.status, str(r.json, "error"));
    cJSON_Delete(r.json);
    free(body);
}

static void test_bad_requests(size_t max_body) {
    check_json_error("malformed JSON", http("POST", "/predict", "{\"tasks\": [", NULL), 400);
    check_json_error("a JSON array", http("POST", "/predict", "[1, 2]", NULL), 400);
    check_json_error("no body", http("POST", "/predict", NULL, NULL), 400);
    check_json_error("tasks not an array", http("POST", "/predict", "{\"tasks\": 3}", NULL), 400);
    check_json_error("no tasks", http("POST", "/predict", "{\"tasks\": []}", NULL), 400);
    check_json_error("no label config", http("POST", "/predict", "{\"tasks\": [{\"id\": 1}], \"project\": \"9.1\"}", NULL),
                     400);
    http_result r = http("GET", "/predict", NULL, NULL);
    check_json_error("GET /predict", r, 405);
    check_json_error("unknown path", http("GET", "/nope", NULL, NULL), 404);
    check_json_error("POST /health", http("POST", "/health", "{}", NULL), 405);
    char *big = malloc(max_body + 100);
    memset(big, ' ', max_body + 99);
    big[0] = '{';
    big[max_body + 98] = '}';
    big[max_body + 99] = '\0';
    check_json_error("oversized body", http("POST", "/predict", big, NULL), 413);
    free(big);
    char *body = predict_body(CONFIG_LOW, 9, false);  // max_tasks is 8
    check_json_error("too many tasks", http("POST", "/predict", body, NULL), 413);
    free(body);
    check_json_error("webhook without action", http("POST", "/webhook", "{\"project\": {}}", NULL), 400);
    // Odd task shapes: one error entry per task, in order, never a crash.
    cJSON *odd = cJSON_Parse("{\"tasks\": [1, {\"data\": 5}, {\"id\": \"x\", \"data\": {\"image\": 7}}, "
                             "{\"id\": 4, \"data\": {\"image\": \"/data/upload/1/missing.png\"}}, null]}");
    cJSON_AddStringToObject(odd, "label_config", CONFIG_LOW);
    char *odd_text = cJSON_PrintUnformatted(odd);
    r = http("POST", "/predict", odd_text, NULL);
    const cJSON *results = cJSON_GetObjectItemCaseSensitive(r.json, "results");
    CHECK(r.status == 200 && cJSON_GetArraySize(results) == 5, "odd tasks: HTTP %ld, %d results", r.status,
          cJSON_GetArraySize(results));
    for (int i = 0; i < cJSON_GetArraySize(results); i++) {
        const cJSON *entry = cJSON_GetArrayItem(results, i);
        CHECK(str(entry, "error") && !cJSON_GetObjectItemCaseSensitive(entry, "result"), "odd task %d: %s", i,
              str(entry, "error") ? str(entry, "error") : "no error");
    }
    CHECK(strstr(str(cJSON_GetArrayItem(results, 3), "error"), "404") != NULL, "missing image: %s",
          str(cJSON_GetArrayItem(results, 3), "error"));
    cJSON_Delete(r.json);
    cJSON_Delete(odd);
    free(odd_text);
    r = http("GET", "/health", NULL, NULL);
    CHECK(r.status == 200, "the server still answers after the bad requests");
    cJSON_Delete(r.json);
}

// One /predict, timed (the SIGTERM test sends it to a `yoloop serve` process).
typedef struct {
    char *body;
    long status;
    double started, ended;
} slow_call;

static void *run_slow(void *arg) {
    slow_call *s = arg;
    s->started = now_s();
    http_result r = http("POST", "/predict", s->body, NULL);
    s->ended = now_s();
    s->status = r.status;
    cJSON_Delete(r.json);
    return NULL;
}

// /health while /predict requests run: clients predict in a loop (a fixed number of requests may
// all end before the first health call on a fast machine), and a health call counts as answered
// "while predicting" when some /predict was sent before it and answered after it.
#define BUSY_MAX_REQUESTS 4096

typedef struct {
    char *body;
    atomic_bool *stop;
    atomic_int *started;
    int requests, failures;
    double begin[BUSY_MAX_REQUESTS], end[BUSY_MAX_REQUESTS];
} busy_client;

static void *busy_loop(void *arg) {
    busy_client *c = arg;
    while (!*c->stop && c->requests < BUSY_MAX_REQUESTS) {
        c->begin[c->requests] = now_s();
        (*c->started)++;
        http_result r = http("POST", "/predict", c->body, NULL);
        c->end[c->requests++] = now_s();
        c->failures += r.status != 200;
        cJSON_Delete(r.json);
    }
    return NULL;
}

static void test_health_while_busy(void) {
    char *body = predict_body(CONFIG_LOW, 8, false);  // 8 tasks is max_tasks
    atomic_bool stop = false;
    atomic_int started = 0;
    enum { CLIENTS = 3, PROBES = 5 };
    static busy_client clients[CLIENTS];
    pthread_t threads[CLIENTS];
    for (int i = 0; i < CLIENTS; i++) {
        clients[i] = (busy_client){.body = body, .stop = &stop, .started = &started};
        pthread_create(&threads[i], NULL, busy_loop, &clients[i]);
    }
    while (started < CLIENTS) sleep_ms(1);
    double worst = 0, sent[PROBES], answered[PROBES];
    for (int i = 0; i < PROBES; i++) {
        sent[i] = now_s();
        http_result r = http("GET", "/health", NULL, NULL);
        answered[i] = now_s();
        CHECK(r.status == 200, "health while busy: %ld", r.status);
        if (r.seconds > worst) worst = r.seconds;
        cJSON_Delete(r.json);
    }
    stop = true;
    int requests = 0, failures = 0, inside = 0;
    for (int i = 0; i < CLIENTS; i++) {
        pthread_join(threads[i], NULL);
        requests += clients[i].requests;
        failures += clients[i].failures;
    }
    for (int p = 0; p < PROBES; p++) {
        bool covered = false;
        for (int i = 0; i < CLIENTS && !covered; i++)
            for (int k = 0; k < clients[i].requests && !covered; k++)
                covered = clients[i].begin[k] < sent[p] && clients[i].end[k] > answered[p];
        inside += covered;
    }
    printf("health while predicting: worst %.1f ms; %d of %d health answers came while a /predict was running "
           "(%d predictions)\n", worst * 1e3, inside, PROBES, requests);
    CHECK(failures == 0, "%d of %d predictions failed", failures, requests);
    CHECK(worst < 1.0, "health took %.3f s while predicting", worst);
    CHECK(inside > 0, "no health answer came while a /predict was running");
    free(body);
}

// Clients predicting in a loop while v0002 is deployed.
typedef struct {
    atomic_bool *stop;
    int requests, failures, seen_v2_then_v1, v2;
    atomic_int v1;
    char *body;
} swap_client;

static void *swap_loop(void *arg) {
    swap_client *c = arg;
    bool seen_v2 = false;
    while (!*c->stop) {
        http_result r = http("POST", "/predict", c->body, NULL);
        c->requests++;
        const cJSON *entry = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(r.json, "results"), 0);
        const char *v = str(entry, "model_version");
        if (r.status != 200 || !cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(entry, "result")) || !v) {
            c->failures++;
        } else if (!strcmp(v, "v0002")) {
            seen_v2 = true;
            c->v2++;
        } else if (!strcmp(v, "v0001")) {
            c->v1++;
            c->seen_v2_then_v1 += seen_v2;
        } else {
            c->failures++;
        }
        cJSON_Delete(r.json);
    }
    return NULL;
}

static void test_hot_swap(void) {
    atomic_bool stop = false;
    swap_client clients[2];
    pthread_t threads[2];
    for (int i = 0; i < 2; i++) {
        clients[i] = (swap_client){.stop = &stop, .body = predict_body(CONFIG_LOW, 1, false)};
        pthread_create(&threads[i], NULL, swap_loop, &clients[i]);
    }
    for (int i = 0; i < 1000 && (clients[0].v1 == 0 || clients[1].v1 == 0); i++) sleep_ms(10);  // both on v0001
    char id[YL_VERSION_ID_SIZE];
    CHECK_OK(yl_registry_add(workspace, model_file, "finetune", "v0001", NULL, id));
    CHECK(!strcmp(id, "v0002"), "registry gave %s", id);
    CHECK_OK(yl_registry_deploy(workspace, id, "test swap"));
    double deployed_at = now_s(), swapped_after = -1;
    while (now_s() - deployed_at < 10) {
        http_result r = http("GET", "/health", NULL, NULL);
        bool done = str(r.json, "model_version") && !strcmp(str(r.json, "model_version"), "v0002");
        cJSON_Delete(r.json);
        if (done) {
            swapped_after = now_s() - deployed_at;
            break;
        }
        sleep_ms(20);
    }
    sleep_ms(300);  // requests on the new model
    stop = true;
    for (int i = 0; i < 2; i++) {
        pthread_join(threads[i], NULL);
        swap_client *c = &clients[i];
        printf("swap client %d: %d requests, %d on v0001, %d on v0002, %d failed\n", i, c->requests, (int)c->v1, c->v2,
               c->failures);
        CHECK(c->failures == 0, "client %d: %d requests failed during the swap", i, c->failures);
        CHECK(c->v1 > 0 && c->v2 > 0, "client %d: v0001 %d, v0002 %d", i, (int)c->v1, c->v2);
        CHECK(c->seen_v2_then_v1 == 0, "client %d went back to v0001 after v0002", i);
        free(c->body);
    }
    CHECK(swapped_after >= 0 && swapped_after < 5, "v0002 served %.2f s after the deploy", swapped_after);
    printf("swap: v0002 served %.3f s after the deploy\n", swapped_after);
    http_result r = http("GET", "/versions", NULL, NULL);
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(r.json, "versions");
    CHECK(r.status == 200 && cJSON_GetArraySize(list) == 2 && !strcmp(cJSON_GetArrayItem(list, 0)->valuestring, "v0001") &&
              !strcmp(cJSON_GetArrayItem(list, 1)->valuestring, "v0002") && !strcmp(str(r.json, "model_version"), "v0002"),
          "versions %ld", r.status);
    cJSON_Delete(r.json);
}

// A deployed version that does not load: the old model keeps serving and the error is reported;
// rolling back clears it.
static void test_bad_deploy(void) {
    char garbage[320], id[YL_VERSION_ID_SIZE];
    snprintf(garbage, sizeof garbage, "%s/garbage.safetensors", root);
    CHECK_OK(yl_fs_write_atomic(garbage, "not a model", 11));
    CHECK_OK(yl_registry_add(workspace, garbage, "import", "v0002", NULL, id));
    CHECK_OK(yl_registry_deploy(workspace, id, "test bad model"));
    http_result r = {0};
    for (int i = 0; i < 200; i++) {
        r = http("GET", "/health", NULL, NULL);
        if (str(r.json, "load_error")) break;
        cJSON_Delete(r.json);
        r.json = NULL;
        sleep_ms(20);
    }
    CHECK(str(r.json, "load_error") && strstr(str(r.json, "load_error"), id), "no load_error naming %s", id);
    CHECK(str(r.json, "model_version") && !strcmp(str(r.json, "model_version"), "v0002"), "serving %s after a bad deploy",
          str(r.json, "model_version"));
    CHECK(str(r.json, "deployed") && !strcmp(str(r.json, "deployed"), id), "deployed %s", str(r.json, "deployed"));
    cJSON_Delete(r.json);
    char *body = predict_body(CONFIG_LOW, 2, false);
    r = http("POST", "/predict", body, NULL);
    CHECK(r.status == 200 && check_predictions(r.json, 2, false, "v0002") > 0, "predict after a bad deploy");
    cJSON_Delete(r.json);
    free(body);
    CHECK_OK(yl_registry_rollback(workspace, "v0002", "test", NULL));
    for (int i = 0; i < 200; i++) {
        r = http("GET", "/health", NULL, NULL);
        bool cleared = !str(r.json, "load_error") && !strcmp(str(r.json, "deployed"), "v0002");
        cJSON_Delete(r.json);
        if (cleared) break;
        CHECK(i < 199, "the load error stayed after the rollback");
        sleep_ms(20);
    }
}

static char *annotation_event(const char *action, bool cancelled, const char *last_action) {
    char *text = malloc(512);
    snprintf(text, 512,
             "{\"action\": \"%s\", \"annotation\": {\"id\": 5, \"was_cancelled\": %s, \"ground_truth\": false, "
             "\"last_action\": %s%s%s, \"result\": []}, \"task\": {\"id\": 1}, \"project\": {\"id\": 1}}",
             action, cancelled ? "true" : "false", last_action ? "\"" : "", last_action ? last_action : "null",
             last_action ? "\"" : "");
    return text;
}

static int marker_lines(void) {
    char *text = NULL;
    int n = 0;
    if (yl_fs_read_all(marker, &text, NULL) == YL_OK)
        for (char *p = text; *p; p++) n += *p == '\n';
    free(text);
    return n;
}

static http_result wait_cycle_idle(void) {
    for (int i = 0; i < 500; i++) {
        http_result r = http("GET", "/health", NULL, NULL);
        const cJSON *cycle = cJSON_GetObjectItemCaseSensitive(r.json, "cycle");
        if (cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(cycle, "running"))) return r;
        cJSON_Delete(r.json);
        sleep_ms(20);
    }
    return (http_result){0};
}

static void post_event(const char *action, bool cancelled, const char *last_action, const char *expect_cycle) {
    char *event = annotation_event(action, cancelled, last_action);
    http_result r = http("POST", "/webhook", event, NULL);
    CHECK(r.status == 200 && r.seconds < 0.5, "webhook %s: HTTP %ld in %.3f s", action, r.status, r.seconds);
    const char *cycle = str(r.json, "cycle");
    CHECK(expect_cycle ? cycle && !strcmp(cycle, expect_cycle) : !cycle, "webhook %s %s: cycle '%s', expected '%s'",
          action, last_action ? last_action : "null", cycle ? cycle : "(none)", expect_cycle ? expect_cycle : "(none)");
    cJSON_Delete(r.json);
    free(event);
}

static void test_webhook(void) {
    // retrain_after = 3; the fake cycle appends a line to `marker` and sleeps.
    post_event("ANNOTATION_CREATED", false, "submitted", NULL);
    post_event("ANNOTATION_CREATED", true, "submitted", NULL);   // skipped task: not counted
    post_event("ANNOTATION_CREATED", false, "prediction", NULL);  // not verified by a person
    post_event("ANNOTATION_UPDATED", false, "updated", NULL);
    post_event("TASKS_CREATED", false, NULL, NULL);               // not an annotation event
    http_result r = http("GET", "/health", NULL, NULL);
    const cJSON *cycle = cJSON_GetObjectItemCaseSensitive(r.json, "cycle");
    CHECK(num(cycle, "pending_annotations") == 2 && num(cycle, "runs") == 0, "pending %g runs %g",
          num(cycle, "pending_annotations"), num(cycle, "runs"));
    cJSON_Delete(r.json);
    post_event("ANNOTATION_CREATED", false, NULL, "started");  // the third verified one
    for (int i = 0; i < 3; i++) post_event("ANNOTATION_CREATED", false, "submitted", i == 2 ? "already running" : NULL);
    post_event("START_TRAINING", false, NULL, "already running");
    r = http("POST", "/train", "{}", NULL);
    CHECK(r.status == 200 && !strcmp(str(r.json, "cycle"), "already running"), "/train while running");
    cJSON_Delete(r.json);
    r = wait_cycle_idle();
    cycle = cJSON_GetObjectItemCaseSensitive(r.json, "cycle");
    CHECK(num(cycle, "last_exit") == 0 && num(cycle, "runs") == 1, "cycle exit %g runs %g", num(cycle, "last_exit"),
          num(cycle, "runs"));
    cJSON_Delete(r.json);
    CHECK(marker_lines() == 1, "%d cycles ran, expected 1", marker_lines());

    r = http("POST", "/train", NULL, NULL);
    CHECK(r.status == 200 && !strcmp(str(r.json, "cycle"), "started") && str(r.json, "job"), "/train: %ld", r.status);
    cJSON_Delete(r.json);
    r = http("POST", "/job_status", "{\"job\": \"cycle-2\"}", NULL);
    CHECK(r.status == 200 && !strcmp(str(r.json, "job_status"), "started"), "job_status %s", str(r.json, "job_status"));
    cJSON_Delete(r.json);
    cJSON_Delete(wait_cycle_idle().json);
    r = http("POST", "/job_status", "{\"job\": \"cycle-2\"}", NULL);
    CHECK(r.status == 200 && !strcmp(str(r.json, "job_status"), "finished"), "job_status %s", str(r.json, "job_status"));
    cJSON_Delete(r.json);
    CHECK(marker_lines() == 2, "%d cycles ran, expected 2", marker_lines());
    r = http("GET", "/versions", NULL, NULL);
    CHECK(num(cJSON_GetObjectItemCaseSensitive(r.json, "cycle"), "runs") == 2, "versions reports the cycles");
    cJSON_Delete(r.json);
}

static void test_basic_auth_file_mode(const char *ls_url) {
    char cache[320];
    snprintf(cache, sizeof cache, "%s/cache_file_mode", root);
    yl_serve_options o = yl_serve_defaults();
    o.model_file = model_file;
    o.port = 0;
    o.cache_dir = cache;
    o.ls_url = ls_url;
    o.basic_auth = "ml:s3cret";
    o.conf = 0.00001f;
    yl_server *s = NULL;
    CHECK_OK(yl_server_start(&s, &o));
    if (!s) return;
    server_port = yl_server_port(s);
    http_result r = http("GET", "/health", NULL, NULL);
    CHECK(strstr(r.www_authenticate, "Basic") != NULL, "401 without WWW-Authenticate: Basic");
    check_json_error("health without credentials", r, 401);
    check_json_error("wrong password", http("GET", "/health", NULL, "ml:wrong"), 401);
    char *body = predict_body(CONFIG_LOW, 1, false);
    check_json_error("predict without credentials", http("POST", "/predict", body, NULL), 401);
    r = http("POST", "/predict", body, "ml:s3cret");
    CHECK(r.status == 200 && check_predictions(r.json, 1, false, "tiny") >= 0, "file mode predict %ld", r.status);
    cJSON_Delete(r.json);
    free(body);
    r = http("GET", "/health", NULL, "ml:s3cret");
    CHECK(r.status == 200 && !strcmp(str(r.json, "model_version"), "tiny"), "file mode version");
    cJSON_Delete(r.json);
    r = http("POST", "/webhook", "{\"action\": \"PROJECT_UPDATED\", \"project\": {}}", NULL);
    CHECK(r.status == 200 && !strcmp(str(r.json, "status"), "Unknown event"), "webhook needs no credentials: %ld",
          r.status);
    cJSON_Delete(r.json);
    check_json_error("train without a workspace", http("POST", "/train", NULL, "ml:s3cret"), 409);
    yl_server_stop(s, true);
}

// One /predict of the single task whose image is img<k>.png; returns the HTTP status.
static long predict_image(int k) {
    cJSON *body = cJSON_CreateObject(), *task = cJSON_CreateObject();
    cJSON_AddItemToArray(cJSON_AddArrayToObject(body, "tasks"), task);
    cJSON_AddNumberToObject(task, "id", 7);
    char url[64];
    snprintf(url, sizeof url, "/data/upload/1/img%d.png", k);
    cJSON_AddStringToObject(cJSON_AddObjectToObject(task, "data"), "image", url);
    cJSON_AddStringToObject(body, "label_config", CONFIG_LOW);
    char *text = cJSON_PrintUnformatted(body);
    cJSON_Delete(body);
    http_result r = http("POST", "/predict", text, NULL);
    free(text);
    CHECK(r.status == 200, "predict img%d: HTTP %ld", k, r.status);
    cJSON_Delete(r.json);
    return r.status;
}

// The cached images of a folder, and makes each look last used an hour ago.
static int age_cache(const char *dir, bool *has) {
    char **names = NULL;
    int count = 0;
    CHECK_OK(yl_fs_list_dir(dir, &names, &count));
    for (int k = 0; k < NUM_IMAGES; k++) has[k] = false;
    for (int i = 0; i < count; i++) {
        char path[700], want[32];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        struct timespec hour_ago[2] = {{.tv_sec = time(NULL) - 3600}, {.tv_sec = time(NULL) - 3600}};
        CHECK(utimensat(AT_FDCWD, path, hour_ago, 0) == 0, "age %s", path);
        for (int k = 0; k < NUM_IMAGES; k++) {
            snprintf(want, sizeof want, "__img%d.png", k);
            size_t n = strlen(names[i]), w = strlen(want);
            if (n >= w && !strcmp(names[i] + n - w, want)) has[k] = true;
        }
    }
    yl_fs_free_names(names, count);
    return count;
}

static void test_cache_bound(const char *ls_url) {
    char cache[320];
    snprintf(cache, sizeof cache, "%s/cache_bounded", root);
    CHECK_OK(yl_fs_mkdirs(cache));
    yl_serve_options o = yl_serve_defaults();
    CHECK(o.cache_max_bytes == (uint64_t)4 << 30, "default cache bound %llu", (unsigned long long)o.cache_max_bytes);
    o.model_file = model_file;
    o.port = 0;
    o.cache_dir = cache;
    o.ls_url = ls_url;
    o.cache_max_bytes = 1;  // any two images are over it
    yl_server *s = NULL;
    CHECK_OK(yl_server_start(&s, &o));
    if (!s) return;
    server_port = yl_server_port(s);
    bool has[NUM_IMAGES];
    int before = image_requests;
    predict_image(0);
    CHECK(age_cache(cache, has) == 1 && has[0], "img0 cached (used within the minute, so kept over the bound)");
    predict_image(1);  // downloads img1; img0 (an hour old now) goes, img1 (just used) stays
    CHECK(age_cache(cache, has) == 1 && has[1] && !has[0], "after img1: only img1 cached");
    CHECK(image_requests - before == 2, "%d downloads for img0, img1", image_requests - before);
    predict_image(0);  // evicted: fetched again; img1 goes
    CHECK(image_requests - before == 3, "img0 was evicted yet not downloaded again (%d downloads)",
          image_requests - before);
    CHECK(age_cache(cache, has) == 1 && has[0] && !has[1], "after img0 again: only img0 cached");
    yl_server_stop(s, true);
}

static int free_port(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t n = sizeof a;
    int port = -1;
    if (bind(fd, (struct sockaddr *)&a, sizeof a) == 0 && getsockname(fd, (struct sockaddr *)&a, &n) == 0)
        port = ntohs(a.sin_port);
    close(fd);
    return port;
}

// `yoloop serve` as a process: SIGTERM during a /predict lets it finish, then exits 0. Runs when
// this process has no other threads (fork), on images the workspace cache already holds.
static void test_cli_sigterm(void) {
    server_port = free_port();
    char ws_arg[320], port_arg[32];
    snprintf(ws_arg, sizeof ws_arg, "workspace=%s", workspace);
    snprintf(port_arg, sizeof port_arg, "port=%d", server_port);
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        char *argv[] = {ws_arg, port_arg, "conf=0.00001", NULL};
        _exit(yl_cmd_serve(3, argv));
    }
    bool up = false;
    for (int i = 0; i < 1000 && !up; i++) {
        http_result r = http("GET", "/health", NULL, NULL);
        up = r.status == 200;
        cJSON_Delete(r.json);
        if (!up) sleep_ms(20);
    }
    CHECK(up, "yoloop serve did not come up");
    slow_call call = {.body = predict_body(CONFIG_LOW, 300, false)};
    pthread_t thread;
    pthread_create(&thread, NULL, run_slow, &call);
    sleep_ms(150);
    kill(pid, SIGTERM);
    pthread_join(thread, NULL);
    int wstatus = 0;
    waitpid(pid, &wstatus, 0);
    printf("cli: a 300-task /predict ran %.3f s across the SIGTERM\n", call.ended - call.started);
    CHECK(call.status == 200, "the /predict in flight at SIGTERM got HTTP %ld", call.status);
    CHECK(WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0, "yoloop serve exit status %d", wstatus);
    http_result r = http("GET", "/health", NULL, NULL);
    CHECK(r.status == 0, "still answering after SIGTERM (HTTP %ld)", r.status);
    cJSON_Delete(r.json);
    free(call.body);
    // Bad arguments: exit code 2 with nothing started.
    char *bad[] = {"workspace=/nonexistent", "port=70000", NULL};
    CHECK(yl_cmd_serve(2, bad) == 2, "port=70000 accepted");
    char *both[] = {ws_arg, "model=x.safetensors", NULL};
    CHECK(yl_cmd_serve(2, both) == 2, "workspace= and model= together accepted");
    char *missing[] = {"workspace=/nonexistent/ws", NULL};
    CHECK(yl_cmd_serve(1, missing) == 1, "a missing workspace accepted");
}

int main(void) {
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0) {
        printf("SKIPPED: libcurl cannot be initialised\n");
        return YL_TEST_SKIPPED;
    }
    make_fixtures();
    setenv("LABEL_STUDIO_API_KEY", TOKEN, 1);
    int image_port = 0;
    struct MHD_Daemon *images = start_image_server(&image_port);
    if (!images) die("image server");
    char ls_url[64];
    snprintf(ls_url, sizeof ls_url, "http://127.0.0.1:%d", image_port);

    char script[600];
    snprintf(script, sizeof script, "echo cycle \"$0\" >> '%s'; sleep 0.5", marker);
    const char *cycle_argv[] = {"/bin/sh", "-c", script, "fake", NULL};
    yl_serve_options o = yl_serve_defaults();
    CHECK(!strcmp(o.host, "127.0.0.1") && o.port == 9090, "defaults bind %s:%d", o.host, o.port);
    o.workspace = workspace;
    o.port = 0;
    o.ls_url = ls_url;
    o.conf = 0.00001f;  // the untrained model's scores are tiny; the label config's threshold filters
    o.poll_ms = 100;
    o.max_tasks = 8;
    o.max_body_bytes = 64 * 1024;
    o.retrain_after = 3;
    o.cycle_argv = cycle_argv;
    o.threads = 2;
    yl_server *server = NULL;
    CHECK_OK(yl_server_start(&server, &o));
    if (!server) return yl_test_finish("test_serve");
    server_port = yl_server_port(server);
    char cache_dir[400];
    snprintf(cache_dir, sizeof cache_dir, "%s/cache/serve_images", workspace);
    CHECK(yl_fs_is_dir(cache_dir), "no cache folder in the workspace");

    test_health_and_setup();
    test_predict();
    test_bad_requests(o.max_body_bytes);
    test_health_while_busy();
    test_hot_swap();
    test_bad_deploy();
    test_webhook();
    yl_server_stop(server, true);

    // A second server on a busy port fails cleanly.
    yl_serve_options busy = yl_serve_defaults();
    busy.model_file = model_file;
    busy.cache_dir = cache_dir;
    busy.port = image_port;
    yl_server *none = NULL;
    CHECK_STATUS(yl_server_start(&none, &busy), YL_ERR_IO);
    CHECK(none == NULL, "a failed start returned a server");

    test_basic_auth_file_mode(ls_url);
    test_cache_bound(ls_url);
    MHD_stop_daemon(images);
    test_cli_sigterm();
    yl_fs_remove_tree(root);
    curl_global_cleanup();
    return yl_test_finish("test_serve");
}
