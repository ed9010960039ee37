// Image download (yl_ls_download_image) against two in-process mocks on 127.0.0.1: Label Studio,
// and a foreign image host that records whether our token reached it. Covers /data/upload (with
// a non-ASCII name, the storage-data fallback, skipping a present file), /data/local-files (over
// HTTP and from disk), same-origin absolute URLs, foreign http URLs, cloud URIs through the presign
// redirect, a login redirect, an HTML answer, 404s with hints, and a PAT client.
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli/labelstudio/client.h"
#include "cli/labelstudio/dataset.h"
#include "cli/labelstudio/url.h"
#include "ls_mock_server.h"
#include "test_common.h"

#define LEGACY_TOKEN "0123456789abcdef0123456789abcdef01234567"
#define TEST_ENV "YL_TEST_LS_MEDIA_TOKEN"

static ls_mock ls, external;
static char dir[] = "/tmp/yl_ls_media_XXXXXX";

static yl_ls_client *open_client(const char *token, const char *local_files_root) {
    setenv(TEST_ENV, token, 1);
    yl_ls_client_options o = {.url = ls.base_url, .token = {.env_var = TEST_ENV}, .local_files_root = local_files_root};
    o.http = (yl_http_options){.connect_timeout_ms = 500, .timeout_ms = 2000, .max_attempts = 2,
                               .backoff_initial_ms = 10, .backoff_max_ms = 20};
    yl_ls_client *client = NULL;
    CHECK_OK(yl_ls_client_open(&client, &o));
    return client;
}

// The downloaded file holds exactly what the mock serves for `name`.
static int holds_image(const char *path, const char *name) {
    unsigned char expected[1024], actual[1100];
    size_t n = ls_mock_image_bytes(name, expected, sizeof expected);
    FILE *file = fopen(path, "rb");
    if (!file) return 0;
    size_t m = fread(actual, 1, sizeof actual, file);
    fclose(file);
    return m == n && !memcmp(actual, expected, n);
}

static void dest_for(const char *url, char *out, size_t capacity) {
    char name[512];
    if (yl_url_image_file_name(url, name, sizeof name) != YL_OK) snprintf(name, sizeof name, "unnamed");
    snprintf(out, capacity, "%s/%s", dir, name);
}

static void check_download(yl_ls_client *client, const char *url, long task, const char *served_as) {
    char dest[1024];
    dest_for(url, dest, sizeof dest);
    remove(dest);
    yl_ls_download_result result;
    yl_clear_error();
    yl_status status = yl_ls_download_image(client, url, task, dest, 0, &result);
    CHECK(status == YL_OK, "%s: %s", url, yl_last_error());
    CHECK(status != YL_OK || (holds_image(dest, served_as) && !result.skipped && !strcmp(result.source, "http")),
          "%s: bytes of '%s' (source %s)", url, served_as, result.source);
}

static void test_uploads(yl_ls_client *client) {
    check_download(client, "/data/upload/1/2bd44c48-IMG_1842.JPG", 1, "2bd44c48-IMG_1842.JPG");
    check_download(client, "/data/upload/1/5f0c1a2b-caf\xc3\xa9 \xc3\xbc.png", 2, "5f0c1a2b-caf\xc3\xa9 \xc3\xbc.png");
    check_download(client, "upload/1/old-style.jpg", 3, "old-style.jpg");
    check_download(client, "/data/upload/1/3c3c3c3c-a#1 & b?.jpg", 3, "3c3c3c3c-a#1 & b");  // '?' starts a query
    char absolute[256];
    snprintf(absolute, sizeof absolute, "%s/data/upload/1/abs.jpg", ls.base_url);
    check_download(client, absolute, 4, "abs.jpg");  // same origin: the mock demands the token
    check_download(client, "/data/upload/1/only-storage-x.jpg", 5, "only-storage-x.jpg");

    // Present with the right size: skipped, via a HEAD request when the size is not known.
    char dest[1024];
    dest_for("/data/upload/1/2bd44c48-IMG_1842.JPG", dest, sizeof dest);
    yl_ls_download_result result;
    int requests = ls.requests;
    CHECK_OK(yl_ls_download_image(client, "/data/upload/1/2bd44c48-IMG_1842.JPG", 1, dest, 0, &result));
    CHECK(result.skipped && !strcmp(result.source, "present") && ls.requests == requests + 1, "skipped after one HEAD");
    struct stat st;
    stat(dest, &st);
    requests = ls.requests;
    CHECK_OK(yl_ls_download_image(client, "/data/upload/1/2bd44c48-IMG_1842.JPG", 1, dest, st.st_size, &result));
    CHECK(result.skipped && ls.requests == requests, "skipped without a request when the size is given");
    FILE *file = fopen(dest, "wb");  // a truncated earlier download
    fputs("partial", file);
    fclose(file);
    CHECK_OK(yl_ls_download_image(client, "/data/upload/1/2bd44c48-IMG_1842.JPG", 1, dest, 0, &result));
    CHECK(!result.skipped && holds_image(dest, "2bd44c48-IMG_1842.JPG"), "a wrong-size file is downloaded again");
    CHECK_STATUS(yl_ls_download_image(client, "/data/upload/1/2bd44c48-IMG_1842.JPG", 1, dest, 5, &result), YL_ERR_IO);
    CHECK(strstr(yl_last_error(), "expected 5"), "size mismatch reported: %s", yl_last_error());
}

static void test_local_files(yl_ls_client *client) {
    check_download(client, "/data/local-files/?d=photos/dog%201.jpg", 6, "photos/dog 1.jpg");
    char dest[1024];
    dest_for("/data/local-files/?d=missing/x.jpg", dest, sizeof dest);
    CHECK_STATUS(yl_ls_download_image(client, "/data/local-files/?d=missing/x.jpg", 7, dest, 0, NULL), YL_ERR_IO);
    CHECK(strstr(yl_last_error(), "HTTP 404") && strstr(yl_last_error(), "Local Storage") &&
              strstr(yl_last_error(), "task 7"),
          "local-files 404 hint: %s", yl_last_error());

    // From disk when local_files_root holds the file: no request at all.
    char root[1100], folder[1200], source[1300];
    snprintf(root, sizeof root, "%s/root", dir);
    snprintf(folder, sizeof folder, "%s/photos", root);
    mkdir(root, 0700);
    mkdir(folder, 0700);
    snprintf(source, sizeof source, "%s/disk.jpg", folder);
    FILE *file = fopen(source, "wb");
    fputs("jpeg bytes from disk", file);
    fclose(file);
    yl_ls_client *local = open_client(LEGACY_TOKEN, root);
    if (!local) return;
    dest_for("/data/local-files/?d=photos/disk.jpg", dest, sizeof dest);
    yl_ls_download_result result;
    int requests = ls.requests;
    CHECK_OK(yl_ls_download_image(local, "/data/local-files/?d=photos/disk.jpg", 8, dest, 0, &result));
    struct stat st;
    CHECK(!strcmp(result.source, "disk") && stat(dest, &st) == 0 && st.st_size == 20 && ls.requests == requests,
          "copied from disk without a request");
    CHECK_OK(yl_ls_download_image(local, "/data/local-files/?d=photos/disk.jpg", 8, dest, 0, &result));
    CHECK(result.skipped && ls.requests == requests, "present file compared with the disk copy");
    // "..": never read outside the root; falls back to HTTP (where the mock serves it).
    CHECK_OK(yl_ls_download_image(local, "/data/local-files/?d=../secret.jpg", 9, dest, 0, &result));
    CHECK(!strcmp(result.source, "http"), "'..' not read from disk");
    yl_ls_client_close(local);
}

static void test_foreign_hosts(yl_ls_client *client) {
    char url[256];
    snprintf(url, sizeof url, "%s/img/ext.png", external.base_url);
    int before = external.external_requests;
    check_download(client, url, 10, "ext.png");
    CHECK(external.external_requests == before + 1 && external.external_with_authorization == 0,
          "foreign host got no token (%d requests with Authorization)", external.external_with_authorization);

    // s3:// through Label Studio's presign link, redirected to the foreign host.
    check_download(client, "s3://bucket/dir/obj.jpg", 11, "obj.jpg");
    CHECK(external.external_with_authorization == 0, "token not forwarded on the presign redirect");
    char dest[1024];
    dest_for("s3://bucket/dir/obj.jpg", dest, sizeof dest);
    CHECK_STATUS(yl_ls_download_image(client, "s3://bucket/dir/obj.jpg", 0, dest, 0, NULL), YL_ERR_INVALID_ARG);
    CHECK(strstr(yl_last_error(), "task id"), "presign needs the task id: %s", yl_last_error());
}

static void test_failures(yl_ls_client *client) {
    char dest[1024];
    snprintf(dest, sizeof dest, "%s/fail.jpg", dir);
    CHECK_STATUS(yl_ls_download_image(client, "/data/upload/1/login-redirect.jpg", 12, dest, 0, NULL), YL_ERR_IO);
    CHECK(strstr(yl_last_error(), "login page"), "login redirect: %s", yl_last_error());
    CHECK_STATUS(yl_ls_download_image(client, "/data/upload/1/page.jpg", 13, dest, 0, NULL), YL_ERR_FORMAT);
    struct stat st;
    CHECK(strstr(yl_last_error(), "HTML page") && stat(dest, &st) != 0, "HTML refused and removed: %s",
          yl_last_error());
    CHECK_STATUS(yl_ls_download_image(client, "/data/upload/1/missing.jpg", 14, dest, 0, NULL), YL_ERR_IO);
    CHECK(strstr(yl_last_error(), "HTTP 404") && strstr(yl_last_error(), "missing on the Label Studio server") &&
              strstr(yl_last_error(), "/data/upload/1/missing.jpg"),
          "upload 404: %s", yl_last_error());
    CHECK_STATUS(yl_ls_download_image(client, "images/x.jpg", 15, dest, 0, NULL), YL_ERR_FORMAT);
    CHECK_STATUS(yl_ls_download_image(client, "", 15, dest, 0, NULL), YL_ERR_INVALID_ARG);
    CHECK_STATUS(yl_ls_download_image(client, "/data/upload/1/a.jpg", 15, NULL, 0, NULL), YL_ERR_INVALID_ARG);
    char nowhere[1100];
    snprintf(nowhere, sizeof nowhere, "%s/no/such/dir/a.jpg", dir);
    CHECK_STATUS(yl_ls_download_image(client, "/data/upload/1/a.jpg", 15, nowhere, 0, NULL), YL_ERR_IO);
    CHECK(!strstr(yl_last_error(), LEGACY_TOKEN), "no token in messages");
}

static void count_progress(void *user, long done, long total, const yl_ls_image_labels *image, yl_status status) {
    (void)image;
    (void)status;
    long *calls = user;
    if (done <= total) (*calls)++;
}

// An export -> images/ and labels/: one image missing on the server, one on a foreign host.
static void test_dataset_folder(yl_ls_client *client) {
    yl_ls_label_config config;
    CHECK_OK(yl_ls_label_config_parse("<View><Image name=\"image\" value=\"$image\"/><RectangleLabels name=\"label\" "
                                      "toName=\"image\"><Label value=\"Car\"/></RectangleLabels></View>",
                                      NULL, &config));
    char json[1024];
    snprintf(
        json, sizeof json,
        "[{\"id\":1,\"data\":{\"image\":\"/data/upload/1/d1.jpg\"},\"annotations\":[{\"id\":1,\"result\":[{"
        "\"from_name\":\"label\",\"type\":\"rectanglelabels\",\"value\":{\"x\":10,\"y\":10,\"width\":20,"
        "\"height\":20,\"rectanglelabels\":[\"Car\"]}}]}]},"
        "{\"id\":2,\"data\":{\"image\":\"/data/upload/1/missing-d2.jpg\"},\"annotations\":[{\"id\":2,\"result\":[]}]},"
        "{\"id\":3,\"data\":{\"image\":\"%s/img/d3.png\"},\"annotations\":[{\"id\":3,\"result\":[]}]}]",
        external.base_url);
    cJSON *tasks = cJSON_Parse(json);
    yl_ls_parse_options parse = {.config = &config};
    yl_ls_annotation_set set;
    CHECK_OK(yl_ls_annotations_parse(tasks, &parse, &set));
    char images[1100], labels[1100];
    snprintf(images, sizeof images, "%s/images", dir);
    snprintf(labels, sizeof labels, "%s/labels", dir);
    mkdir(images, 0700);
    mkdir(labels, 0700);
    yl_ls_download_stats stats;
    CHECK_STATUS(yl_ls_download_images(client, &set, images, NULL, &stats), YL_ERR_IO);
    long calls = 0;
    yl_ls_download_options options = {.keep_going = 1, .progress = count_progress, .user = &calls};
    CHECK_OK(yl_ls_download_images(client, &set, images, &options, &stats));
    CHECK(stats.downloaded == 1 && stats.skipped == 1 && stats.failed == 1 && calls == 3 &&
              strstr(stats.first_error, "missing-d2.jpg"),
          "keep going: %ld downloaded, %ld skipped, %ld failed (%s)", stats.downloaded, stats.skipped, stats.failed,
          stats.first_error);
    CHECK_OK(yl_ls_download_images(client, &set, images, &options, &stats));
    CHECK(stats.skipped == 2 && stats.downloaded == 0, "second run skips what is there");
    CHECK_OK(yl_ls_write_label_files(&set, labels));
    char path[1300];
    snprintf(path, sizeof path, "%s/d1.txt", labels);
    FILE *file = fopen(path, "r");
    char line[128] = {0};
    CHECK(file && fgets(line, sizeof line, file) && !strcmp(line, "0 0.200000 0.200000 0.200000 0.200000\n"),
          "label line: %s", line);
    if (file) fclose(file);
    yl_ls_annotation_set_free(&set);
    cJSON_Delete(tasks);

    // a.jpg and a.png would share a.txt.
    cJSON *clash = cJSON_Parse("[{\"id\":1,\"data\":{\"image\":\"/data/upload/1/a.jpg\"},\"annotations\":[{\"id\":1,"
                               "\"result\":[]}]},{\"id\":2,\"data\":{\"image\":\"/data/upload/1/a.png\"},"
                               "\"annotations\":[{\"id\":2,\"result\":[]}]}]");
    CHECK_OK(yl_ls_annotations_parse(clash, &parse, &set));
    CHECK_STATUS(yl_ls_write_label_files(&set, labels), YL_ERR_FORMAT);
    CHECK(strstr(yl_last_error(), "share a.txt"), "stem clash: %s", yl_last_error());
    yl_ls_annotation_set_free(&set);
    cJSON_Delete(clash);
    yl_ls_label_config_free(&config);
}

static void test_personal_access_token(void) {
    char pat[1024], payload[128];
    snprintf(payload, sizeof payload, "{\"token_type\":\"refresh\",\"exp\":%ld}", (long)time(NULL) + 86400);
    ls_mock_make_jwt(payload, pat, sizeof pat);
    snprintf(ls.pat, sizeof ls.pat, "%s", pat);
    yl_ls_client *client = open_client(pat, NULL);
    if (!client) return;
    check_download(client, "/data/upload/1/bearer.jpg", 16, "bearer.jpg");
    char url[256];
    snprintf(url, sizeof url, "%s/img/ext2.png", external.base_url);
    check_download(client, url, 17, "ext2.png");
    CHECK(external.external_with_authorization == 0, "no Bearer token to the foreign host");
    yl_ls_client_close(client);
}

int main(void) {
    // The mocks are on 127.0.0.1: a proxy from the environment must not be asked for them.
    setenv("no_proxy", "127.0.0.1,localhost", 1);
    setenv("NO_PROXY", "127.0.0.1,localhost", 1);
    if (ls_mock_start(&ls, 0) != 0 || ls_mock_start(&external, 1) != 0 || !mkdtemp(dir)) {
        fprintf(stderr, "FAIL: cannot start the mock servers on 127.0.0.1 or make a temp folder\n");
        return 1;
    }
    snprintf(ls.legacy_token, sizeof ls.legacy_token, "%s", LEGACY_TOKEN);
    snprintf(ls.redirect_base, sizeof ls.redirect_base, "%s", external.base_url);
    yl_ls_client *client = open_client(LEGACY_TOKEN, NULL);
    if (client) {
        test_uploads(client);
        test_local_files(client);
        test_foreign_hosts(client);
        test_failures(client);
        test_dataset_folder(client);
        yl_ls_client_close(client);
    }
    test_personal_access_token();
    ls_mock_stop(&ls);
    ls_mock_stop(&external);
    char command[128];
    snprintf(command, sizeof command, "rm -rf '%s'", dir);
    if (system(command) != 0) fprintf(stderr, "could not remove %s\n", dir);
    unsetenv(TEST_ENV);
    return yl_test_finish("test_ls_media");
}
