// The Label Studio client against the in-process mock (tests/ls_mock_server.h, 127.0.0.1):
// legacy tokens, Personal Access Tokens (refresh, Bearer, refresh again on expiry and on a 401),
// the legacy-disabled and wrong-token 401s, token sources, project and label config, task paging,
// easy export, snapshots (poll, convert, delete, fallback), imports of tasks and predictions,
// retries, a server that is down — and, after every failure, that no token is in the message.
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli/labelstudio/client.h"
#include "cli/labelstudio/json_util.h"
#include "cli/labelstudio/predictions.h"
#include "ls_mock_server.h"
#include "test_common.h"

#define FIXTURE_DIR YL_TEST_FIXTURES "/labelstudio"
#define LEGACY_TOKEN "0123456789abcdef0123456789abcdef01234567"
#define WRONG_TOKEN "fedcba9876543210fedcba9876543210fedcba98"
#define TEST_ENV "YL_TEST_LS_TOKEN"

static ls_mock mock;
static char pat[1024], other_pat[1024];
static char *export_json, *label_config;

static char *read_text(const char *path) {
    FILE *file = fopen(path, "rb");
    if (!file) {
        fprintf(stderr, "cannot open %s\n", path);
        exit(2);
    }
    char *text = calloc(1, 1 << 16);
    size_t n = fread(text, 1, (1 << 16) - 1, file);
    text[n] = '\0';
    fclose(file);
    return text;
}

// No secret of this test may ever appear in an error message.
static void check_no_secret(const char *where) {
    const char *message = yl_last_error();
    CHECK(!strstr(message, LEGACY_TOKEN) && !strstr(message, WRONG_TOKEN) && !strstr(message, pat) &&
              !strstr(message, other_pat),
          "%s: a token leaked into the message: %s", where, message);
    for (int i = 0; i < mock.access_count && i < LS_MOCK_MAX_ACCESS; i++)
        CHECK(!strstr(message, mock.access_tokens[i]), "%s: an access token leaked: %s", where, message);
}

static yl_ls_client_options test_options(const char *url) {
    yl_ls_client_options o = {.url = url, .token = {.env_var = TEST_ENV}};
    o.http = (yl_http_options){.connect_timeout_ms = 500, .timeout_ms = 2000, .max_attempts = 2,
                               .backoff_initial_ms = 10, .backoff_max_ms = 20};
    o.poll_interval_s = 0.01;
    o.snapshot_timeout_s = 2.0;
    o.page_size = 10;
    return o;
}

static yl_ls_client *open_with_env(const char *token) {
    setenv(TEST_ENV, token, 1);
    yl_ls_client_options o = test_options(mock.base_url);
    yl_ls_client *client = NULL;
    CHECK_OK(yl_ls_client_open(&client, &o));
    return client;
}

static void test_legacy_token_and_project(void) {
    yl_ls_client *client = open_with_env(LEGACY_TOKEN);
    if (!client) return;
    CHECK(yl_ls_client_token_kind(client) == YL_LS_TOKEN_LEGACY, "a 40-hex key is a legacy token");
    CHECK_OK(yl_ls_health(client));
    yl_ls_version version;
    CHECK_OK(yl_ls_get_version(client, &version));
    CHECK(!strcmp(version.release, "1.23.2") && !strcmp(version.edition, "Community"), "version %s %s", version.release,
          version.edition);
    yl_ls_project project;
    CHECK_OK(yl_ls_get_project(client, 1, &project));
    CHECK(project.id == 1 && !strcmp(project.title, "Mock project") && strstr(project.label_config, "RectangleLabels"),
          "project fields");
    yl_ls_project_free(&project);
    yl_ls_label_config config;
    CHECK_OK(yl_ls_get_label_config(client, 1, NULL, &config));
    CHECK(config.num_labels == 2 && !strcmp(config.labels[0].name, "Airplane") &&
              !strcmp(config.labels[1].name, "Car") && !strcmp(config.image_key, "image"),
          "class names from the project");
    yl_ls_label_config_free(&config);

    CHECK_STATUS(yl_ls_get_project(client, 2, &project), YL_ERR_IO);
    CHECK(strstr(yl_last_error(), "HTTP 404") && strstr(yl_last_error(), "project 2 does not exist"),
          "404 message: %s", yl_last_error());
    CHECK(yl_ls_client_last_http_status(client) == 404, "last status 404");
    CHECK_STATUS(yl_ls_get_project(client, 0, &project), YL_ERR_INVALID_ARG);

    CHECK_OK(yl_ls_set_project_model_version(client, 1, "yoloop-v0003"));
    CHECK(!strcmp(mock.model_version, "yoloop-v0003"), "PATCH model_version reached the server");
    yl_ls_client_close(client);
}

static void test_token_sources(void) {
    yl_ls_client *client = NULL;
    yl_ls_client_options o = test_options(mock.base_url);
    unsetenv(TEST_ENV);
    CHECK_STATUS(yl_ls_client_open(&client, &o), YL_ERR_INVALID_ARG);
    CHECK(strstr(yl_last_error(), TEST_ENV), "names the variable: %s", yl_last_error());

    setenv(TEST_ENV, "abc def0123456789", 1);
    CHECK_STATUS(yl_ls_client_open(&client, &o), YL_ERR_INVALID_ARG);
    CHECK(strstr(yl_last_error(), "whitespace") && !strstr(yl_last_error(), "def0123456789"),
          "bad token refused without echoing it: %s", yl_last_error());

    setenv(TEST_ENV, "Token " LEGACY_TOKEN, 1);
    CHECK_STATUS(yl_ls_client_open(&client, &o), YL_ERR_INVALID_ARG);
    CHECK(strstr(yl_last_error(), "without the header scheme"), "scheme prefix: %s", yl_last_error());
    check_no_secret("scheme prefix");

    // A file with surrounding whitespace works; a missing file names its path.
    char path[] = "/tmp/yl_ls_token_XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0 && write(fd, "  " LEGACY_TOKEN "\n\n", 44) == 44, "token file written");
    close(fd);
    o.token.file = path;
    CHECK_OK(yl_ls_client_open(&client, &o));
    yl_ls_project project;
    if (client) {
        CHECK_OK(yl_ls_get_project(client, 1, &project));
        yl_ls_project_free(&project);
        yl_ls_client_close(client);
    }
    remove(path);
    CHECK_STATUS(yl_ls_client_open(&client, &o), YL_ERR_IO);
    CHECK(strstr(yl_last_error(), path), "missing file named: %s", yl_last_error());

    o = test_options("ftp://127.0.0.1/");
    CHECK_STATUS(yl_ls_client_open(&client, &o), YL_ERR_INVALID_ARG);
    o = test_options("http://127.0.0.1:1/?token=x");
    CHECK_STATUS(yl_ls_client_open(&client, &o), YL_ERR_INVALID_ARG);
    CHECK_STATUS(yl_ls_client_open(&client, NULL), YL_ERR_INVALID_ARG);

    // JWTs that cannot work are refused before any request.
    char expired[1024], no_exp[1024];
    char payload[160];
    snprintf(payload, sizeof payload, "{\"token_type\":\"refresh\",\"exp\":%ld,\"user_id\":1}", (long)time(NULL) - 60);
    ls_mock_make_jwt(payload, expired, sizeof expired);
    ls_mock_make_jwt("{\"token_type\":\"refresh\",\"user_id\":1}", no_exp, sizeof no_exp);
    o = test_options(mock.base_url);
    setenv(TEST_ENV, expired, 1);
    CHECK_STATUS(yl_ls_client_open(&client, &o), YL_ERR_INVALID_ARG);
    CHECK(strstr(yl_last_error(), "expired") && !strstr(yl_last_error(), expired), "expired PAT: %s", yl_last_error());
    setenv(TEST_ENV, no_exp, 1);
    CHECK_STATUS(yl_ls_client_open(&client, &o), YL_ERR_INVALID_ARG);
    CHECK(strstr(yl_last_error(), "'exp'") && !strstr(yl_last_error(), no_exp), "JWT without exp: %s", yl_last_error());
}

static void test_rejected_tokens(void) {
    yl_ls_project project;
    yl_ls_client *client = open_with_env(WRONG_TOKEN);
    if (client) {
        CHECK_STATUS(yl_ls_get_project(client, 1, &project), YL_ERR_IO);
        CHECK(strstr(yl_last_error(), "rejected the legacy API token") && strstr(yl_last_error(), "Invalid token.") &&
                  strstr(yl_last_error(), TEST_ENV),
              "wrong token message: %s", yl_last_error());
        CHECK(yl_ls_client_last_http_status(client) == 401, "401 recorded");
        check_no_secret("wrong token");
        yl_ls_client_close(client);
    }

    mock.legacy_disabled = 1;
    client = open_with_env(LEGACY_TOKEN);
    if (client) {
        CHECK_STATUS(yl_ls_get_project(client, 1, &project), YL_ERR_IO);
        const char *m = yl_last_error();
        CHECK(strstr(m, "legacy token authentication has been disabled for this organization") &&
                  strstr(m, "Personal Access Token") && strstr(m, "LABEL_STUDIO_ENABLE_LEGACY_API_TOKEN"),
              "legacy-disabled message says what and how to fix: %s", m);
        printf("legacy disabled -> %s\n", m);
        check_no_secret("legacy disabled");
        yl_ls_client_close(client);
    }
    mock.legacy_disabled = 0;

    // The server echoes our Authorization header in an error: the message must not carry it.
    client = open_with_env(LEGACY_TOKEN);
    if (client) {
        CHECK_STATUS(yl_ls_call_json(client, "GET", "/api/echo-auth", NULL, NULL), YL_ERR_IO);
        CHECK(strstr(yl_last_error(), "Token ***"), "scrubbed echo: %s", yl_last_error());
        check_no_secret("echo");
        yl_ls_client_close(client);
    }
}

static void test_personal_access_token(void) {
    yl_ls_client *client = open_with_env(pat);
    if (!client) return;
    CHECK(yl_ls_client_token_kind(client) == YL_LS_TOKEN_PERSONAL_ACCESS, "a refresh JWT is a PAT");
    yl_ls_project project;
    int refreshes = mock.refreshes;
    CHECK_OK(yl_ls_get_project(client, 1, &project));
    yl_ls_project_free(&project);
    CHECK_OK(yl_ls_get_project(client, 1, &project));
    yl_ls_project_free(&project);
    CHECK(mock.refreshes == refreshes + 1 && yl_ls_client_token_refreshes(client) == 1,
          "one refresh for two calls: %d", mock.refreshes - refreshes);

    // The server revokes the access token: 401 -> refresh -> the retry succeeds.
    mock.access_generation++;
    int rejections = mock.auth_rejections;
    CHECK_OK(yl_ls_get_project(client, 1, &project));
    yl_ls_project_free(&project);
    CHECK(mock.refreshes == refreshes + 2 && mock.auth_rejections == rejections + 1,
          "401 then refresh and retry: refreshes %d, rejections %d", mock.refreshes - refreshes,
          mock.auth_rejections - rejections);

    // Access tokens that expire within the refresh margin are refreshed before each call.
    mock.access_lifetime_s = 5;
    mock.access_generation++;
    CHECK_OK(yl_ls_get_project(client, 1, &project));  // 401 -> refresh (5 s lifetime)
    yl_ls_project_free(&project);
    int before = mock.refreshes;
    rejections = mock.auth_rejections;
    for (int i = 0; i < 3; i++) {
        CHECK_OK(yl_ls_get_project(client, 1, &project));
        yl_ls_project_free(&project);
    }
    CHECK(mock.refreshes == before + 3 && mock.auth_rejections == rejections,
          "expiring access token refreshed ahead of each call: %d refreshes, %d rejections", mock.refreshes - before,
          mock.auth_rejections - rejections);
    mock.access_lifetime_s = 300;

    CHECK_STATUS(yl_ls_call_json(client, "GET", "/api/echo-auth", NULL, NULL), YL_ERR_IO);
    CHECK(strstr(yl_last_error(), "Bearer ***"), "Bearer access token scrubbed: %s", yl_last_error());
    check_no_secret("echo bearer");
    yl_ls_client_close(client);

    // A PAT the server does not know: the refresh is rejected with a clear message.
    client = open_with_env(other_pat);
    if (client) {
        CHECK_STATUS(yl_ls_get_project(client, 1, &project), YL_ERR_IO);
        CHECK(strstr(yl_last_error(), "rejected the Personal Access Token") && strstr(yl_last_error(), "HTTP 401"),
              "unknown PAT: %s", yl_last_error());
        CHECK(yl_ls_client_last_http_status(client) == 401, "a refused refresh reads as HTTP 401, got %ld",
              yl_ls_client_last_http_status(client));
        check_no_secret("unknown PAT");
        yl_ls_client_close(client);
    }
}

typedef struct {
    long ids[64];
    int count;
    int stop_at;
} visited_tasks;

static yl_status visit(void *user, const cJSON *task) {
    visited_tasks *v = user;
    if (v->stop_at && v->count + 1 == v->stop_at) return yl_error(YL_ERR_IO, "visitor stopped at %d", v->stop_at);
    if (v->count < 64) v->ids[v->count] = (long)yl_json_int(task, "id", -1);
    v->count++;
    return YL_OK;
}

static void test_task_paging(void) {
    yl_ls_client *client = open_with_env(LEGACY_TOKEN);
    if (!client) return;
    mock.num_tasks = 25;
    for (int cap = 0; cap <= 4; cap += 4) {
        mock.page_size_cap = cap;  // a server-side cap below the asked page size must not end early
        visited_tasks v = {0};
        long count = 0;
        int requests = mock.requests;
        CHECK_OK(yl_ls_list_tasks(client, 1, NULL, visit, &v, &count));
        int in_order = v.count == 25;
        for (int i = 0; i < v.count && i < 64; i++) in_order &= v.ids[i] == i + 1;
        CHECK(in_order && count == 25, "cap %d: 25 tasks in order, got %d", cap, v.count);
        int pages = cap ? 7 : 3;
        CHECK(mock.requests - requests == pages, "cap %d: %d page requests, expected %d", cap, mock.requests - requests,
              pages);
    }
    mock.page_size_cap = 0;
    visited_tasks stop = {.stop_at = 5};
    long count = 0;
    CHECK_STATUS(yl_ls_list_tasks(client, 1, NULL, visit, &stop, &count), YL_ERR_IO);
    CHECK(count == 4 && strstr(yl_last_error(), "visitor stopped"), "visitor error stops the listing: %ld", count);
    CHECK_STATUS(yl_ls_list_tasks(client, 1, NULL, NULL, NULL, NULL), YL_ERR_INVALID_ARG);
    yl_ls_client_close(client);
}

static int file_equals(const char *path, const void *bytes, size_t size) {
    FILE *file = fopen(path, "rb");
    if (!file) return 0;
    char *data = malloc(size + 1);
    size_t n = fread(data, 1, size + 1, file);
    fclose(file);
    int same = n == size && !memcmp(data, bytes, size);
    free(data);
    return same;
}

static void test_exports(void) {
    yl_ls_client *client = open_with_env(LEGACY_TOKEN);
    if (!client) return;
    char path[] = "/tmp/yl_ls_export_XXXXXX";
    close(mkstemp(path));
    remove(path);
    yl_ls_export_method used;

    yl_ls_export_options options = {.method = YL_LS_EXPORT_AUTO};
    CHECK_OK(yl_ls_export(client, 1, &options, path, &used));
    CHECK(used == YL_LS_EXPORT_EASY && file_equals(path, export_json, strlen(export_json)), "AUTO -> easy export");

    // Easy export failing with 500 (issue #7709): retried, then AUTO falls back to a snapshot.
    mock.easy_export_status = 500;
    options.method = YL_LS_EXPORT_EASY;
    CHECK_STATUS(yl_ls_export(client, 1, &options, path, &used), YL_ERR_IO);
    CHECK(strstr(yl_last_error(), "HTTP 500 after 2 attempts") && strstr(yl_last_error(), "User has no auth_token"),
          "easy export 500: %s", yl_last_error());
    remove(path);
    int created = mock.snapshots_created, deleted = mock.snapshots_deleted;
    mock.snapshot_polls_in_progress = 2;
    options.method = YL_LS_EXPORT_AUTO;
    CHECK_OK(yl_ls_export(client, 1, &options, path, &used));
    CHECK(used == YL_LS_EXPORT_SNAPSHOT && file_equals(path, export_json, strlen(export_json)),
          "AUTO fell back to a snapshot");
    CHECK(mock.snapshots_created == created + 1 && mock.snapshots_deleted == deleted + 1,
          "snapshot created and deleted");
    cJSON *request = cJSON_Parse(mock.snapshot_request);
    const cJSON *tasks = cJSON_GetObjectItemCaseSensitive(request, "task_filter_options");
    const cJSON *annotations = cJSON_GetObjectItemCaseSensitive(request, "annotation_filter_options");
    CHECK(yl_json_bool(tasks, "only_with_annotations", 0) && yl_json_bool(annotations, "usual", 0) &&
              yl_json_bool(annotations, "ground_truth", 0) && !yl_json_bool(annotations, "skipped", 1),
          "snapshot asks for verified data: %s", mock.snapshot_request);
    cJSON_Delete(request);
    mock.easy_export_status = 0;

    // Enterprise: straight to a snapshot; keep_snapshot leaves it on the server.
    mock.edition = "Enterprise";
    options.keep_snapshot = 1;
    deleted = mock.snapshots_deleted;
    CHECK_OK(yl_ls_export(client, 1, &options, path, &used));
    CHECK(used == YL_LS_EXPORT_SNAPSHOT && mock.snapshots_deleted == deleted, "Enterprise -> kept snapshot");
    mock.edition = NULL;

    // A non-JSON snapshot is converted first, then downloaded as is.
    options = (yl_ls_export_options){.method = YL_LS_EXPORT_SNAPSHOT, .export_type = "YOLO"};
    mock.convert_polls_in_progress = 2;
    CHECK_OK(yl_ls_export(client, 1, &options, path, &used));
    CHECK(mock.converts == 1 && file_equals(path, "PK\x03\x04yolo-zip", 12), "YOLO snapshot converted and downloaded");

    // A snapshot that never completes: bounded by the snapshot timeout.
    mock.snapshot_polls_in_progress = 1 << 30;
    yl_ls_client_options o = test_options(mock.base_url);
    o.snapshot_timeout_s = 0.05;
    yl_ls_client *impatient = NULL;
    CHECK_OK(yl_ls_client_open(&impatient, &o));
    options = (yl_ls_export_options){.method = YL_LS_EXPORT_SNAPSHOT};
    if (impatient) {
        CHECK_STATUS(yl_ls_export(impatient, 1, &options, path, NULL), YL_ERR_IO);
        CHECK(strstr(yl_last_error(), "still 'in_progress'"), "snapshot timeout: %s", yl_last_error());
        yl_ls_client_close(impatient);
    }
    mock.snapshot_polls_in_progress = 0;

    // Task pages written as an export file.
    mock.num_tasks = 25;
    options = (yl_ls_export_options){.method = YL_LS_EXPORT_TASK_PAGES};
    CHECK_OK(yl_ls_export(client, 1, &options, path, &used));
    cJSON *pages = NULL;
    CHECK_OK(yl_json_read_file(path, 0, &pages));
    CHECK(cJSON_GetArraySize(pages) == 25 && yl_json_int(cJSON_GetArrayItem(pages, 24), "id", 0) == 25,
          "25 tasks written");
    cJSON_Delete(pages);
    options.export_type = "YOLO";
    CHECK_STATUS(yl_ls_export(client, 1, &options, path, &used), YL_ERR_UNSUPPORTED);
    options.export_type = "JSON&x=1";
    CHECK_STATUS(yl_ls_export(client, 1, &options, path, &used), YL_ERR_INVALID_ARG);
    remove(path);
    yl_ls_client_close(client);
}

static void test_imports(void) {
    yl_ls_client_options o = test_options(mock.base_url);
    o.import_batch_size = 2;
    setenv(TEST_ENV, LEGACY_TOKEN, 1);
    yl_ls_client *client = NULL;
    CHECK_OK(yl_ls_client_open(&client, &o));
    if (!client) return;
    yl_ls_label_config config;
    CHECK_OK(yl_ls_get_label_config(client, 1, NULL, &config));

    // Three tasks with one prediction each; one box reaches past the right edge and gets clamped.
    cJSON *tasks = cJSON_CreateArray();
    for (int i = 0; i < 3; i++) {
        cJSON *task = cJSON_CreateObject();
        cJSON *data = cJSON_AddObjectToObject(task, "data");
        char url[64];
        snprintf(url, sizeof url, "/data/upload/1/new%d.jpg", i);
        cJSON_AddStringToObject(data, "image", url);
        cJSON *regions = cJSON_CreateArray();
        cJSON_AddItemToArray(regions, yl_ls_prediction_region(&config, i % 2, 0.95, 0.5, 0.2, 0.2, 640, 480, 0.8));
        cJSON *predictions = cJSON_AddArrayToObject(task, "predictions");
        cJSON_AddItemToArray(predictions, yl_ls_prediction("yoloop-v0001", 0.8, regions));
        cJSON_AddItemToArray(tasks, task);
    }
    yl_ls_import_result result;
    int imports = mock.imports;
    CHECK_OK(yl_ls_import_tasks(client, 1, tasks, &result));
    CHECK(result.task_count == 3 && result.prediction_count == 3 && result.num_task_ids == 3,
          "3 tasks, 3 predictions, 3 ids: %ld %ld %ld", result.task_count, result.prediction_count,
          result.num_task_ids);
    CHECK(mock.imports == imports + 2, "batches of 2: %d requests", mock.imports - imports);
    yl_ls_import_result_free(&result);
    cJSON *last = cJSON_Parse(mock.import_body);  // the second batch: task 2
    const cJSON *value = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetArrayItem(
            cJSON_GetObjectItemCaseSensitive(
                cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(last, 0), "predictions"), 0),
                "result"),
            0),
        "value");
    double x = yl_json_number(value, "x", -1), width = yl_json_number(value, "width", -1);
    CHECK(fabs(x - 85.0) < 1e-9 && fabs(width - 15.0) < 1e-9, "box clamped to the image: x %g width %g", x, width);
    cJSON_Delete(last);

    // A label the project does not have: 400 with Label Studio's validation text and a hint.
    cJSON *bad = cJSON_Parse(
        "[{\"data\":{\"image\":\"/data/upload/1/b.jpg\"},\"predictions\":[{\"score\":0.5,"
        "\"result\":[{\"from_name\":\"label\",\"to_name\":\"image\",\"type\":\"rectanglelabels\","
        "\"value\":{\"x\":1,\"y\":1,\"width\":2,\"height\":2,\"rectanglelabels\":[\"Bicycle\"]}}]}]}]");
    CHECK_STATUS(yl_ls_import_tasks(client, 1, bad, &result), YL_ERR_IO);
    CHECK(strstr(yl_last_error(), "HTTP 400") && strstr(yl_last_error(), "Prediction validation failed") &&
              strstr(yl_last_error(), "labels from its config"),
          "validation message: %s", yl_last_error());
    yl_ls_import_result_free(&result);
    cJSON_Delete(bad);

    // Four tasks in batches of 2, the second batch invalid: the message says 2 went in.
    cJSON *mixed = cJSON_Duplicate(tasks, 1);
    cJSON *broken = cJSON_Parse("{\"data\":{\"image\":\"x\"},\"predictions\":[{\"score\":7,\"result\":[]}]}");
    cJSON_AddItemToArray(mixed, broken);
    CHECK_STATUS(yl_ls_import_tasks(client, 1, mixed, &result), YL_ERR_IO);
    CHECK(strstr(yl_last_error(), "batch 2 of 2") && strstr(yl_last_error(), "2 tasks") && result.task_count == 2,
          "partial import reported: %s", yl_last_error());
    yl_ls_import_result_free(&result);
    cJSON_Delete(mixed);

    cJSON *predictions = cJSON_CreateArray();
    cJSON *prediction = yl_ls_prediction("yoloop-v0001", 0.3, NULL);
    cJSON_AddNumberToObject(prediction, "task", 1);
    cJSON_AddItemToArray(predictions, prediction);
    long created = 0;
    CHECK_OK(yl_ls_import_predictions(client, 1, predictions, &created));
    CHECK(created == 1, "1 prediction created");
    long id = 0;
    CHECK_OK(yl_ls_create_prediction(client, prediction, &id));
    CHECK(id == 99, "prediction id %ld", id);
    cJSON_Delete(predictions);

    CHECK_STATUS(yl_ls_import_tasks(client, 1, NULL, &result), YL_ERR_INVALID_ARG);
    cJSON *not_objects = cJSON_Parse("[1,2]");
    CHECK_STATUS(yl_ls_import_tasks(client, 1, not_objects, &result), YL_ERR_INVALID_ARG);
    cJSON_Delete(not_objects);
    CHECK(yl_ls_prediction_region(&config, 2, 0.5, 0.5, 0.1, 0.1, 0, 0, 0.5) == NULL, "class out of range -> NULL");
    cJSON_Delete(tasks);
    yl_ls_label_config_free(&config);
    yl_ls_client_close(client);
}

static void test_retries_and_server_down(void) {
    yl_ls_client *client = open_with_env(LEGACY_TOKEN);
    if (!client) return;
    mock.flaky_failures = 1;
    CHECK_OK(yl_ls_call_json(client, "GET", "/api/flaky", NULL, NULL));
    mock.flaky_failures = 100;
    CHECK_STATUS(yl_ls_call_json(client, "GET", "/api/flaky", NULL, NULL), YL_ERR_IO);
    CHECK(strstr(yl_last_error(), "HTTP 500 after 2 attempts"), "persistent 500: %s", yl_last_error());
    check_no_secret("persistent 500");
    mock.flaky_failures = 0;
    CHECK_STATUS(yl_ls_call_json(client, "GET", "api/no-slash", NULL, NULL), YL_ERR_INVALID_ARG);
    yl_ls_client_close(client);

    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", ls_mock_closed_port());
    setenv(TEST_ENV, LEGACY_TOKEN, 1);
    yl_ls_client_options o = test_options(url);
    CHECK_OK(yl_ls_client_open(&client, &o));
    if (!client) return;
    yl_ls_project project;
    CHECK_STATUS(yl_ls_get_project(client, 1, &project), YL_ERR_IO);
    CHECK(strstr(yl_last_error(), "is the server running") && strstr(yl_last_error(), url),
          "server down: %s", yl_last_error());
    printf("server down -> %s\n", yl_last_error());
    check_no_secret("server down");
    CHECK(yl_ls_client_last_http_status(client) == 0, "no HTTP status");
    yl_ls_client_close(client);
}

int main(void) {
    // The mocks are on 127.0.0.1: a proxy from the environment must not be asked for them.
    setenv("no_proxy", "127.0.0.1,localhost", 1);
    setenv("NO_PROXY", "127.0.0.1,localhost", 1);
    if (ls_mock_start(&mock, 0) != 0) {
        fprintf(stderr, "FAIL: cannot start the mock server on 127.0.0.1\n");
        return 1;
    }
    export_json = read_text(FIXTURE_DIR "/export_basic.json");
    label_config = read_text(FIXTURE_DIR "/label_config.xml");
    snprintf(mock.legacy_token, sizeof mock.legacy_token, "%s", LEGACY_TOKEN);
    char payload[160];
    snprintf(payload, sizeof payload, "{\"token_type\":\"refresh\",\"exp\":%ld,\"jti\":\"p1\",\"user_id\":1}",
             (long)time(NULL) + 3600L * 24 * 365 * 100);
    ls_mock_make_jwt(payload, pat, sizeof pat);
    snprintf(payload, sizeof payload, "{\"token_type\":\"refresh\",\"exp\":%ld,\"jti\":\"p2\",\"user_id\":1}",
             (long)time(NULL) + 3600L * 24 * 365 * 100);
    ls_mock_make_jwt(payload, other_pat, sizeof other_pat);
    snprintf(mock.pat, sizeof mock.pat, "%s", pat);
    mock.label_config = label_config;
    mock.export_json = export_json;
    mock.num_tasks = 25;

    test_legacy_token_and_project();
    test_token_sources();
    test_rejected_tokens();
    test_personal_access_token();
    test_task_paging();
    test_exports();
    test_imports();
    test_retries_and_server_down();

    ls_mock_stop(&mock);
    free(export_json);
    free(label_config);
    unsetenv(TEST_ENV);
    return yl_test_finish("test_ls_client");
}
