// The ML backend's HTTP side: binding, limits, basic auth, routing, JSON replies.
#include "cli/serve/server.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <stdatomic.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "cli/cycle/registry.h"
#include "cli/fs_util.h"
#include "cli/labelstudio/label_config.h"
#include "cli/serve/model_slot.h"
#include "cli/serve/predict_handler.h"
#include "cli/serve/reply.h"
#include "cli/serve/webhook.h"

#define SETUP_CACHE_SIZE 32

typedef struct {
    char project[64];
    char *schema;
    long long used;
} setup_entry;

struct yl_server {
    yl_serve_options o;
    char *cache_dir;
    struct MHD_Daemon *daemon;
    int port;
    yl_model_slot *slot;
    yl_cycle_runner *cycles;
    sem_t predict_slots;
    bool sem_ready;
    char *expected_auth;  // "Basic <base64(user:password)>"
    pthread_mutex_t lock;  // setup cache and counters
    setup_entry setups[SETUP_CACHE_SIZE];
    long long setup_clock;
    long long requests, predictions, tasks, errors;
    atomic_bool cache_trimming;
    _Atomic uint64_t cache_bytes;  // predict_handler.h; UINT64_MAX until the first trim lists the folder
    atomic_int in_flight;  // requests begun and not completed (idle keep-alive connections excluded)
};

typedef enum { ROUTE_NONE = 0, ROUTE_HEALTH, ROUTE_SETUP, ROUTE_PREDICT, ROUTE_WEBHOOK, ROUTE_TRAIN, ROUTE_JOB_STATUS,
               ROUTE_VERSIONS, ROUTE_METRICS, ROUTE_NOOP } route_id;

typedef struct {
    const char *path, *method;
    route_id id;
} route;

static const route ROUTES[] = {
    {"/", "GET", ROUTE_HEALTH},          {"/health", "GET", ROUTE_HEALTH},   {"/setup", "POST", ROUTE_SETUP},
    {"/predict", "POST", ROUTE_PREDICT}, {"/webhook", "POST", ROUTE_WEBHOOK}, {"/train", "POST", ROUTE_TRAIN},
    {"/job_status", "POST", ROUTE_JOB_STATUS}, {"/versions", "GET", ROUTE_VERSIONS}, {"/metrics", "GET", ROUTE_METRICS},
    {"/validate", "POST", ROUTE_NOOP},   {"/duplicate_model", "POST", ROUTE_NOOP}, {"/delete", "POST", ROUTE_NOOP},
};

// Per-connection request state.
typedef struct {
    route_id route;
    char *body;
    size_t size, capacity;
    bool too_big;
    struct timespec started;
} request_state;

yl_serve_options yl_serve_defaults(void) {
    yl_serve_options o = {0};
    o.host = "127.0.0.1";
    o.port = 9090;
    o.threads = 4;
    o.max_connections = 64;
    o.max_body_bytes = 16u << 20;
    o.max_tasks = 1000;
    o.device = YL_DEVICE_CPU;
    o.conf = 0.1f;
    o.threshold = 0.5;
    o.poll_ms = 1000;
    o.cache_max_bytes = (uint64_t)4 << 30;
    return o;
}

static double seconds_since(const struct timespec *t) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - t->tv_sec) + (double)(now.tv_nsec - t->tv_nsec) * 1e-9;
}

// ---- routes ------------------------------------------------------------------------------------

static void add_model_status(yl_server *s, cJSON *body) {
    yl_model_slot_status st;
    yl_model_slot_get_status(s->slot, &st);
    cJSON_AddStringToObject(body, "model_version", st.version);
    cJSON_AddBoolToObject(body, "model_loaded", st.version[0] != '\0');
    cJSON_AddStringToObject(body, "deployed", st.deployed);
    if (st.loading[0]) cJSON_AddStringToObject(body, "loading", st.loading);
    if (st.load_error[0]) cJSON_AddStringToObject(body, "load_error", st.load_error);
    cJSON_AddNumberToObject(body, "imgsz", st.imgsz);
    cJSON_AddNumberToObject(body, "swaps", st.swaps);
}

static void health(yl_server *s, yl_serve_reply *r) {
    cJSON *body = cJSON_CreateObject();
    if (body) {
        cJSON_AddStringToObject(body, "status", "UP");
        cJSON_AddStringToObject(body, "model_class", "yoloop");
        add_model_status(s, body);
        cJSON_AddItemToObject(body, "cycle", yl_cycle_runner_status(s->cycles));
    }
    yl_serve_reply_json(r, 200, body);
}

static void remember_setup(yl_server *s, const char *project, const char *schema) {
    pthread_mutex_lock(&s->lock);
    setup_entry *slot = &s->setups[0];
    for (int i = 0; i < SETUP_CACHE_SIZE; i++) {
        setup_entry *e = &s->setups[i];
        if (e->schema && !strcmp(e->project, project)) {
            slot = e;
            break;
        }
        if (!e->schema || e->used < slot->used) slot = e;  // a free one, else the least recently used
    }
    char *copy = strdup(schema);
    if (copy) {
        free(slot->schema);
        slot->schema = copy;
        snprintf(slot->project, sizeof slot->project, "%s", project);
        slot->used = ++s->setup_clock;
    }
    pthread_mutex_unlock(&s->lock);
}

// A copy of the schema /setup gave for `project` (NULL when none).
static char *recall_setup(yl_server *s, const char *project) {
    char *schema = NULL;
    pthread_mutex_lock(&s->lock);
    for (int i = 0; project && i < SETUP_CACHE_SIZE; i++)
        if (s->setups[i].schema && !strcmp(s->setups[i].project, project)) {
            schema = strdup(s->setups[i].schema);
            s->setups[i].used = ++s->setup_clock;
        }
    pthread_mutex_unlock(&s->lock);
    return schema;
}

// "3.1746612998" as sent; a number is accepted too.
static void project_key(const cJSON *request, char *out, size_t size) {
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(request, "project");
    if (cJSON_IsString(p)) snprintf(out, size, "%s", p->valuestring);
    else if (cJSON_IsNumber(p)) snprintf(out, size, "%.0f", p->valuedouble);
    else out[0] = '\0';
}

static void setup(yl_server *s, const cJSON *request, yl_serve_reply *r) {
    const char *schema = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(request, "schema"));
    char project[64];
    project_key(request, project, sizeof project);
    if (schema) {
        yl_ls_label_config config;
        if (yl_ls_label_config_parse(schema, s->o.control, &config) != YL_OK) {
            yl_serve_reply_error(r, 400, "schema: %s", yl_last_error());
            return;
        }
        yl_ls_label_config_free(&config);
        remember_setup(s, project, schema);
    }
    yl_model_slot_poke(s->slot);
    yl_model_slot_status st;
    yl_model_slot_get_status(s->slot, &st);
    if (!st.version[0]) {
        yl_serve_reply_error(r, 503, "no model is served yet%s%s", st.load_error[0] ? ": " : " (nothing deployed)",
                             st.load_error);
        return;
    }
    cJSON *body = cJSON_CreateObject();
    if (body) cJSON_AddStringToObject(body, "model_version", st.version);
    yl_serve_reply_json(r, 200, body);
}

static void predict(yl_server *s, const cJSON *request, yl_serve_reply *r) {
    const cJSON *tasks = cJSON_GetObjectItemCaseSensitive(request, "tasks");
    if (!cJSON_IsArray(tasks) || cJSON_GetArraySize(tasks) == 0) {
        yl_serve_reply_error(r, 400, "predict: \"tasks\" must be a non-empty array");
        return;
    }
    int n = cJSON_GetArraySize(tasks);
    if (n > s->o.max_tasks) {
        yl_serve_reply_error(r, 413, "predict: %d tasks in one request; the limit is %d (serve max_tasks=)", n,
                             s->o.max_tasks);
        return;
    }
    char project[64];
    project_key(request, project, sizeof project);
    const char *given = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(request, "label_config"));
    char *remembered = given ? NULL : recall_setup(s, project);
    if (!given && !remembered) {
        yl_serve_reply_error(r, 400, "predict: no \"label_config\" in the request and no /setup for project '%s'",
                             project);
        return;
    }
    yl_predict_context c = {.slot = s->slot, .ls_url = s->o.ls_url, .token_file = s->o.token_file,
                            .local_files_root = s->o.local_files_root, .media_root = s->o.media_root,
                            .cache_dir = s->cache_dir, .cache_max_bytes = s->o.cache_max_bytes,
                            .cache_trimming = &s->cache_trimming, .cache_bytes = &s->cache_bytes, .control = s->o.control, .default_threshold = s->o.threshold};
    sem_wait(&s->predict_slots);
    yl_serve_predict(&c, given ? given : remembered, tasks, r);
    sem_post(&s->predict_slots);
    free(remembered);
    pthread_mutex_lock(&s->lock);
    s->predictions++;
    s->tasks += n;
    pthread_mutex_unlock(&s->lock);
}

static void versions(yl_server *s, yl_serve_reply *r) {
    cJSON *body = cJSON_CreateObject(), *list = cJSON_CreateArray();
    if (!body || !list) {
        cJSON_Delete(list);
        cJSON_Delete(body);
        yl_serve_reply_json(r, 500, NULL);
        return;
    }
    cJSON_AddItemToObject(body, "versions", list);
    if (s->o.workspace) {
        yl_model_version *all = NULL;
        int count = 0;
        if (yl_registry_list(s->o.workspace, &all, &count) != YL_OK) {
            cJSON_Delete(body);
            yl_serve_reply_error(r, 500, "versions: %s", yl_last_error());
            return;
        }
        for (int i = 0; i < count; i++) cJSON_AddItemToArray(list, cJSON_CreateString(all[i].id));
        yl_registry_list_free(all, count);
    } else {
        yl_model_slot_status st;
        yl_model_slot_get_status(s->slot, &st);
        cJSON_AddItemToArray(list, cJSON_CreateString(st.version));
    }
    add_model_status(s, body);
    cJSON_AddItemToObject(body, "cycle", yl_cycle_runner_status(s->cycles));
    yl_serve_reply_json(r, 200, body);
}

static void metrics(yl_server *s, yl_serve_reply *r) {
    cJSON *body = cJSON_CreateObject();
    pthread_mutex_lock(&s->lock);
    if (body) {
        cJSON_AddNumberToObject(body, "requests", (double)s->requests);
        cJSON_AddNumberToObject(body, "predict_requests", (double)s->predictions);
        cJSON_AddNumberToObject(body, "predicted_tasks", (double)s->tasks);
        cJSON_AddNumberToObject(body, "errors", (double)s->errors);
    }
    pthread_mutex_unlock(&s->lock);
    yl_serve_reply_json(r, 200, body);
}

static void job_status(yl_server *s, yl_serve_reply *r) {
    cJSON *cycle = yl_cycle_runner_status(s->cycles);
    cJSON *body = cJSON_CreateObject();
    if (body && cycle) {
        const cJSON *exit_code = cJSON_GetObjectItemCaseSensitive(cycle, "last_exit");
        const char *state = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(cycle, "running")) ? "started"
                            : !cJSON_IsNumber(exit_code)                                      ? "queued"
                            : (exit_code->valueint == 0 || exit_code->valueint == 10 || exit_code->valueint == 11)
                                ? "finished"
                                : "failed";
        cJSON_AddStringToObject(body, "job_status", state);
    }
    cJSON_Delete(cycle);
    yl_serve_reply_json(r, 200, body);
}

static void dispatch(yl_server *s, route_id id, const request_state *rs, yl_serve_reply *r) {
    if (id == ROUTE_HEALTH) return health(s, r);
    if (id == ROUTE_VERSIONS) return versions(s, r);
    if (id == ROUTE_METRICS) return metrics(s, r);
    cJSON *request = NULL;
    if (rs->size > 0) {
        request = cJSON_ParseWithLength(rs->body, rs->size);
        if (!cJSON_IsObject(request)) {
            cJSON_Delete(request);
            yl_serve_reply_error(r, 400, "the body is not a JSON object");
            return;
        }
    } else if (id == ROUTE_SETUP || id == ROUTE_PREDICT || id == ROUTE_WEBHOOK) {
        yl_serve_reply_error(r, 400, "the request has no body (a JSON object is expected)");
        return;
    }
    switch (id) {
    case ROUTE_SETUP: setup(s, request, r); break;
    case ROUTE_PREDICT: predict(s, request, r); break;
    case ROUTE_WEBHOOK: yl_serve_webhook(s->cycles, request, r); break;
    case ROUTE_TRAIN: yl_serve_train(s->cycles, r); break;
    case ROUTE_JOB_STATUS: job_status(s, r); break;
    default: yl_serve_reply_json(r, 200, cJSON_CreateObject()); break;
    }
    cJSON_Delete(request);
}

// ---- HTTP plumbing -------------------------------------------------------------------------------

static enum MHD_Result send_reply(yl_server *s, struct MHD_Connection *c, const char *method, const char *url,
                                  yl_serve_reply *r, const char *allow, const struct timespec *started) {
    char *text = r->json ? cJSON_PrintUnformatted(r->json) : NULL;
    if (!text) text = strdup("{\"status\":500,\"error\":\"out of memory\"}");
    if (!text) return MHD_NO;
    unsigned status = r->status ? r->status : 500;
    cJSON_Delete(r->json);
    r->json = NULL;
    struct MHD_Response *response = MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
    if (!response) {
        free(text);
        return MHD_NO;
    }
    MHD_add_response_header(response, "Content-Type", "application/json");
    if (allow) MHD_add_response_header(response, "Allow", allow);
    if (status == 401) MHD_add_response_header(response, "WWW-Authenticate", "Basic realm=\"yoloop\"");
    enum MHD_Result result = MHD_queue_response(c, status, response);
    MHD_destroy_response(response);
    pthread_mutex_lock(&s->lock);
    s->requests++;
    s->errors += status >= 400;
    pthread_mutex_unlock(&s->lock);
    if (s->o.log)
        fprintf(s->o.log, "serve: %s %s -> %u (%.1f ms)\n", method, url, status, seconds_since(started) * 1e3);
    return result;
}

static bool authorized(const yl_server *s, struct MHD_Connection *c, route_id id) {
    if (!s->expected_auth || (id == ROUTE_WEBHOOK && !s->o.webhook_auth)) return true;
    const char *header = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    size_t n = strlen(s->expected_auth);
    return header && strlen(header) == n && CRYPTO_memcmp(header, s->expected_auth, n) == 0;
}

// The first call for a request: decides everything that needs only the headers.
static enum MHD_Result begin(yl_server *s, struct MHD_Connection *c, const char *url, const char *method,
                             void **con_cls) {
    request_state *rs = calloc(1, sizeof *rs);
    if (!rs) return MHD_NO;
    clock_gettime(CLOCK_MONOTONIC, &rs->started);
    *con_cls = rs;
    s->in_flight++;
    yl_serve_reply r = {0};
    const char *allow = NULL;
    bool path_known = false;
    for (size_t i = 0; i < sizeof ROUTES / sizeof ROUTES[0]; i++) {
        if (strcmp(url, ROUTES[i].path) != 0) continue;
        path_known = true;
        allow = ROUTES[i].method;
        if (!strcmp(method, ROUTES[i].method) || (!strcmp(method, "HEAD") && !strcmp(ROUTES[i].method, "GET")))
            rs->route = ROUTES[i].id;
    }
    if (!path_known) {
        yl_serve_reply_error(&r, 404, "no route %s %s", method, url);
        allow = NULL;
    } else if (!rs->route) {
        yl_serve_reply_error(&r, 405, "%s is not allowed on %s (use %s)", method, url, allow);
    } else if (!authorized(s, c, rs->route)) {
        yl_serve_reply_error(&r, 401, "basic authentication required");
    } else {
        const char *length = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (length && strtoull(length, NULL, 10) > s->o.max_body_bytes)
            yl_serve_reply_error(&r, 413, "the body (%s bytes) is over the limit of %zu bytes (serve max_body_mb=)",
                                 length, s->o.max_body_bytes);
        else return MHD_YES;  // read the body
    }
    rs->route = ROUTE_NONE;
    return send_reply(s, c, method, url, &r, r.status == 405 ? allow : NULL, &rs->started);
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                              const char *version, const char *upload_data, size_t *upload_data_size, void **con_cls) {
    (void)version;
    yl_server *s = cls;
    if (!*con_cls) return begin(s, c, url, method, con_cls);
    request_state *rs = *con_cls;
    if (rs->route == ROUTE_NONE) {  // answered already; drop whatever body still comes
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (*upload_data_size) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        if (rs->too_big || rs->size + n > s->o.max_body_bytes) {
            // A chunked body has no Content-Length: count it and refuse at the end.
            rs->too_big = true;
            free(rs->body);
            rs->body = NULL;
            rs->size = rs->capacity = 0;
            return MHD_YES;
        }
        if (rs->size + n + 1 > rs->capacity) {
            size_t capacity = rs->capacity ? rs->capacity : 4096;
            while (capacity < rs->size + n + 1) capacity *= 2;
            char *grown = realloc(rs->body, capacity);
            if (!grown) return MHD_NO;
            rs->body = grown;
            rs->capacity = capacity;
        }
        memcpy(rs->body + rs->size, upload_data, n);
        rs->size += n;
        rs->body[rs->size] = '\0';
        return MHD_YES;
    }
    yl_serve_reply r = {0};
    route_id id = rs->route;
    rs->route = ROUTE_NONE;
    if (rs->too_big)
        yl_serve_reply_error(&r, 413, "the body is over the limit of %zu bytes (serve max_body_mb=)", s->o.max_body_bytes);
    else dispatch(s, id, rs, &r);
    return send_reply(s, c, method, url, &r, NULL, &rs->started);
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode code) {
    (void)c;
    (void)code;
    yl_server *s = cls;
    request_state *rs = *con_cls;
    if (rs) {
        free(rs->body);
        free(rs);
        s->in_flight--;
    }
    *con_cls = NULL;
}

// ---- start / stop ----------------------------------------------------------------------------------

static yl_status make_auth(yl_server *s) {
    if (!s->o.basic_auth) return YL_OK;
    const char *colon = strchr(s->o.basic_auth, ':');
    if (!colon || colon == s->o.basic_auth)
        return yl_error(YL_ERR_INVALID_ARG, "basic auth: expected \"user:password\"");
    size_t n = strlen(s->o.basic_auth);
    s->expected_auth = malloc(6 + 4 * ((n + 2) / 3) + 1);
    if (!s->expected_auth) return yl_error(YL_ERR_OOM, "serve: out of memory");
    memcpy(s->expected_auth, "Basic ", 6);
    EVP_EncodeBlock((unsigned char *)s->expected_auth + 6, (const unsigned char *)s->o.basic_auth, (int)n);
    return YL_OK;
}

static yl_status make_cache_dir(yl_server *s) {
    const char *dir = s->o.cache_dir;
    char path[4096];
    if (!dir) {
        if (!s->o.workspace) return yl_error(YL_ERR_INVALID_ARG, "serve: a model file needs cache_dir= for images");
        snprintf(path, sizeof path, "%s/cache/serve_images", s->o.workspace);
        dir = path;
    }
    YL_TRY(yl_fs_mkdirs(dir));
    s->cache_dir = strdup(dir);
    return s->cache_dir ? YL_OK : yl_error(YL_ERR_OOM, "serve: out of memory");
}

static yl_status start_daemon(yl_server *s) {
    struct sockaddr_storage address;
    memset(&address, 0, sizeof address);
    // ITC: MHD_quiesce_daemon needs it, so that stopping can drain requests first.
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_ITC;
    struct sockaddr_in *v4 = (struct sockaddr_in *)&address;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&address;
    if (inet_pton(AF_INET, s->o.host, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)s->o.port);
    } else if (inet_pton(AF_INET6, s->o.host, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((uint16_t)s->o.port);
        flags |= MHD_USE_IPv6;
    } else {
        return yl_error(YL_ERR_INVALID_ARG, "serve: host=%s: expected an IPv4 or IPv6 address", s->o.host);
    }
    s->daemon = MHD_start_daemon(flags, (uint16_t)s->o.port, NULL, NULL, handle, s, MHD_OPTION_SOCK_ADDR,
                                 (struct sockaddr *)&address, MHD_OPTION_NOTIFY_COMPLETED, completed, s,
                                 MHD_OPTION_CONNECTION_LIMIT, (unsigned)s->o.max_connections,
                                 MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)300, MHD_OPTION_END);
    if (!s->daemon) return yl_error(YL_ERR_IO, "serve: cannot listen on %s:%d (in use?)", s->o.host, s->o.port);
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
    s->port = info ? info->port : s->o.port;
    return YL_OK;
}

yl_status yl_server_start(yl_server **out, const yl_serve_options *options) {
    if (!out || !options) return yl_error(YL_ERR_INVALID_ARG, "serve: NULL argument");
    *out = NULL;
    if (options->threads < 1 || options->max_tasks < 1 || options->max_body_bytes < 1 || options->max_connections < 2)
        return yl_error(YL_ERR_INVALID_ARG, "serve: threads, max_tasks, max_body and max_connections must be positive");
    yl_server *s = calloc(1, sizeof *s);
    if (!s) return yl_error(YL_ERR_OOM, "serve: out of memory");
    s->o = *options;
    if (!s->o.host) s->o.host = "127.0.0.1";
    atomic_init(&s->cache_bytes, UINT64_MAX);
    pthread_mutex_init(&s->lock, NULL);
    curl_global_init(CURL_GLOBAL_DEFAULT);  // before any thread opens a client
    yl_status st = make_auth(s);
    if (st == YL_OK) st = make_cache_dir(s);
    if (st == YL_OK) {
        yl_model_slot_options mo = {.workspace = s->o.workspace, .model_file = s->o.model_file, .device = s->o.device,
                                    .cuda_index = s->o.cuda_index, .imgsz = s->o.imgsz, .conf = s->o.conf,
                                    .poll_ms = s->o.poll_ms};
        st = yl_model_slot_open(&s->slot, &mo);
    }
    if (st == YL_OK) {
        yl_cycle_runner_options co = {.workspace = s->o.workspace, .retrain_after = s->o.retrain_after,
                                      .trust_imported = s->o.trust_imported, .argv = s->o.cycle_argv};
        st = yl_cycle_runner_create(&s->cycles, &co);
    }
    if (st == YL_OK) {
        if (sem_init(&s->predict_slots, 0, (unsigned)s->o.threads) != 0) st = yl_error(YL_ERR_IO, "serve: sem_init failed");
        else s->sem_ready = true;
    }
    if (st == YL_OK) st = start_daemon(s);
    if (st != YL_OK) {
        yl_server_stop(s, true);
        return st;
    }
    *out = s;
    return YL_OK;
}

int yl_server_port(const yl_server *server) { return server->port; }

void yl_server_stop(yl_server *s, bool wait_for_cycle) {
    if (!s) return;
    if (s->daemon) {
        // MHD_stop_daemon closes every connection, answered or not: stop accepting first and let
        // the requests being handled finish (a /predict may take up to Label Studio's 100 s).
        MHD_socket listener = MHD_quiesce_daemon(s->daemon);
        const struct timespec tick = {0, 10 * 1000 * 1000};
        for (int i = 0; i < 120 * 100 && s->in_flight > 0; i++) nanosleep(&tick, NULL);
        MHD_stop_daemon(s->daemon);
        if (listener != MHD_INVALID_SOCKET) close(listener);
    }
    yl_cycle_runner_destroy(s->cycles, wait_for_cycle);
    yl_model_slot_close(s->slot);
    if (s->sem_ready) sem_destroy(&s->predict_slots);
    for (int i = 0; i < SETUP_CACHE_SIZE; i++) free(s->setups[i].schema);
    free(s->expected_auth);
    free(s->cache_dir);
    pthread_mutex_destroy(&s->lock);
    free(s);
}
