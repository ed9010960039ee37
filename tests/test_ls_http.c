// The libcurl wrapper against the in-process mock (127.0.0.1): retries with backoff on 5xx and
// timeouts, no retry of non-idempotent requests after they reached the server, connection
// refused, the in-memory body bound, streaming to a file, redirects not followed. Every case uses
// short timeouts and small backoffs, so the whole suite runs in a few seconds.
#include <sys/stat.h>
#include <time.h>

#include "cli/labelstudio/http.h"
#include "ls_mock_server.h"
#include "test_common.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static yl_http *make_http(long timeout_ms, int attempts, size_t max_body) {
    yl_http_options options = {.connect_timeout_ms = 500, .timeout_ms = timeout_ms, .max_attempts = attempts,
                               .backoff_initial_ms = 10, .backoff_max_ms = 40, .max_body_bytes = max_body};
    yl_http *http = NULL;
    CHECK_OK(yl_http_create(&http, &options));
    return http;
}

static void url_of(const ls_mock *m, const char *path, char *out, size_t capacity) {
    snprintf(out, capacity, "%s%s", m->base_url, path);
}

static void test_retry_500_then_ok(ls_mock *m) {
    yl_http *http = make_http(2000, 3, 0);
    char url[128];
    url_of(m, "/api/flaky", url, sizeof url);
    m->flaky_failures = 1;
    m->flaky_calls = 0;
    yl_http_response response;
    yl_http_request request = {.url = url};
    CHECK_OK(yl_http_perform(http, &request, &response));
    CHECK(response.status == 200 && response.attempts == 2 && m->flaky_calls == 2,
          "500 then 200: status %ld after %d attempts, %d calls", response.status, response.attempts, m->flaky_calls);
    CHECK(response.body && strstr(response.body, "\"ok\""), "body of the successful attempt");
    yl_http_response_free(&response);

    // Persistent 500: the last response comes back after exactly max_attempts tries.
    m->flaky_failures = 100;
    m->flaky_calls = 0;
    CHECK_OK(yl_http_perform(http, &request, &response));
    CHECK(response.status == 500 && response.attempts == 3 && m->flaky_calls == 3,
          "persistent 500: status %ld, attempts %d, calls %d", response.status, response.attempts, m->flaky_calls);
    yl_http_response_free(&response);

    // A non-idempotent POST is not retried once the server answered.
    m->flaky_failures = 100;
    m->flaky_calls = 0;
    yl_http_request post = {.method = "POST", .url = url, .body = "[]", .body_size = 2,
                            .content_type = "application/json", .retry = YL_HTTP_RETRY_CONNECT_ONLY};
    CHECK_OK(yl_http_perform(http, &post, &response));
    CHECK(response.status == 500 && response.attempts == 1 && m->flaky_calls == 1,
          "POST not retried: attempts %d, calls %d", response.attempts, m->flaky_calls);
    yl_http_response_free(&response);
    m->flaky_failures = 0;
    yl_http_destroy(http);
}

static void test_timeout(ls_mock *m) {
    yl_http *http = make_http(300, 3, 0);
    char url[128];
    url_of(m, "/api/slow", url, sizeof url);
    m->slow_ms = 1000;
    m->slow_remaining = 1;
    m->slow_calls = 0;
    yl_http_request request = {.url = url};
    yl_http_response response;
    double start = now_s();
    CHECK_OK(yl_http_perform(http, &request, &response));
    CHECK(response.status == 200 && response.attempts == 2 && m->slow_calls == 2,
          "timeout then success: status %ld attempts %d calls %d", response.status, response.attempts, m->slow_calls);
    yl_http_response_free(&response);

    m->slow_remaining = 100;
    yl_clear_error();
    yl_status status = yl_http_perform(http, &request, &response);
    double elapsed = now_s() - start;
    CHECK(status == YL_ERR_IO, "persistent timeout -> %s", yl_status_name(status));
    CHECK(strstr(yl_last_error(), "after 3 attempts") && strstr(yl_last_error(), "/api/slow"),
          "timeout message names the URL and the attempts: %s", yl_last_error());
    CHECK(strstr(yl_last_error(), "time"), "timeout message says it timed out: %s", yl_last_error());
    CHECK(elapsed < 6.0, "bounded: %.2f s", elapsed);
    printf("persistent timeout -> %s\n", yl_last_error());
    m->slow_remaining = 0;
    yl_http_destroy(http);
}

static void test_connection_refused(void) {
    int port = ls_mock_closed_port();
    CHECK(port > 0, "a closed port");
    yl_http *http = make_http(500, 2, 0);
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/api/projects/1/", port);
    yl_http_request request = {.url = url};
    yl_http_response response;
    double start = now_s();
    CHECK_STATUS(yl_http_perform(http, &request, &response), YL_ERR_IO);
    CHECK(strstr(yl_last_error(), "after 2 attempts") && strstr(yl_last_error(), "is the server running"),
          "connection refused message: %s", yl_last_error());
    CHECK(now_s() - start < 3.0, "bounded");
    printf("connection refused -> %s\n", yl_last_error());
    yl_http_destroy(http);
}

static void test_body_bound_and_streaming(ls_mock *m) {
    yl_http *http = make_http(2000, 1, 1024);
    char url[128];
    url_of(m, "/api/big", url, sizeof url);
    yl_http_request request = {.url = url};
    yl_http_response response;
    CHECK_STATUS(yl_http_perform(http, &request, &response), YL_ERR_IO);
    CHECK(strstr(yl_last_error(), "larger than the 1024-byte limit"), "bound message: %s", yl_last_error());

    // Streaming has no in-memory bound, lands atomically and leaves no .part behind.
    char path[] = "/tmp/yl_ls_http_XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0, "temp file");
    close(fd);
    request.output_path = path;
    CHECK_OK(yl_http_perform(http, &request, &response));
    struct stat st;
    CHECK(stat(path, &st) == 0 && st.st_size == 10002 && response.bytes_written == 10002 && !response.body,
          "streamed %lld bytes (file %lld)", response.bytes_written, (long long)st.st_size);
    char part[64];
    snprintf(part, sizeof part, "%s.part", path);
    CHECK(stat(part, &st) != 0, "no .part file left");
    yl_http_response_free(&response);

    // A non-2xx answer is not written to the file: it stays in memory for the message.
    url_of(m, "/api/projects/99/", url, sizeof url);
    remove(path);
    CHECK_OK(yl_http_perform(http, &request, &response));
    CHECK(response.status == 401 && response.body && strstr(response.body, "credentials"),
          "401 body in memory: %ld", response.status);
    CHECK(stat(path, &st) != 0, "no file for an error answer");
    yl_http_response_free(&response);
    remove(path);
    yl_http_destroy(http);
}

static void test_redirect_not_followed_and_bad_input(ls_mock *m) {
    yl_http *http = make_http(2000, 1, 0);
    char url[256];
    url_of(m, "/data/upload/1/login-redirect.jpg", url, sizeof url);
    char auth[200];
    snprintf(auth, sizeof auth, "Token %s", m->legacy_token);
    yl_http_request request = {.url = url, .authorization = auth};
    yl_http_response response;
    CHECK_OK(yl_http_perform(http, &request, &response));
    CHECK(response.status == 302 && strstr(response.location, "/user/login/"), "302 with location %s",
          response.location);
    CHECK(!strncmp(response.location, "http://127.0.0.1:", 17), "location made absolute: %s", response.location);
    yl_http_response_free(&response);

    yl_http_request file_url = {.url = "file:///etc/passwd"};
    CHECK_STATUS(yl_http_perform(http, &file_url, &response), YL_ERR_INVALID_ARG);
    CHECK_STATUS(yl_http_perform(http, NULL, &response), YL_ERR_INVALID_ARG);
    CHECK(yl_http_status_is_retryable(503) && yl_http_status_is_retryable(429) && !yl_http_status_is_retryable(404),
          "retryable statuses");
    yl_http_destroy(http);
}

int main(void) {
    // The mocks are on 127.0.0.1: a proxy from the environment must not be asked for them.
    setenv("no_proxy", "127.0.0.1,localhost", 1);
    setenv("NO_PROXY", "127.0.0.1,localhost", 1);
    ls_mock mock;
    if (ls_mock_start(&mock, 0) != 0) {
        fprintf(stderr, "FAIL: cannot start the mock server on 127.0.0.1\n");
        return 1;
    }
    snprintf(mock.legacy_token, sizeof mock.legacy_token, "0123456789abcdef0123456789abcdef01234567");
    test_retry_500_then_ok(&mock);
    test_timeout(&mock);
    test_connection_refused();
    test_body_bound_and_streaming(&mock);
    test_redirect_not_followed_and_bad_input(&mock);
    ls_mock_stop(&mock);
    return yl_test_finish("test_ls_http");
}
