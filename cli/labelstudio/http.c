#include "cli/labelstudio/http.h"

#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/labelstudio/url.h"

#define ERROR_BODY_LIMIT (64 * 1024)  // non-2xx bodies of streamed requests: for messages only

struct yl_http {
    CURL *curl;
    yl_http_options options;
    char *ca_file;
    char *user_agent;
};

static pthread_once_t curl_init_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_result = CURLE_OK;

static void curl_init(void) { curl_init_result = curl_global_init(CURL_GLOBAL_DEFAULT); }

static char *copy_string(const char *s) {
    if (!s) return NULL;
    size_t n = strlen(s) + 1;
    char *copy = malloc(n);
    if (copy) memcpy(copy, s, n);
    return copy;
}

yl_status yl_http_create(yl_http **out, const yl_http_options *options) {
    if (!out) return yl_error(YL_ERR_INVALID_ARG, "http: NULL output");
    *out = NULL;
    pthread_once(&curl_init_once, curl_init);
    if (curl_init_result != CURLE_OK)
        return yl_error(YL_ERR_IO, "http: libcurl initialisation failed: %s", curl_easy_strerror(curl_init_result));
    yl_http *http = calloc(1, sizeof *http);
    if (!http) return yl_error(YL_ERR_OOM, "http: out of memory");
    if (options) http->options = *options;
    yl_http_options *o = &http->options;
    if (o->connect_timeout_ms <= 0) o->connect_timeout_ms = 10000;
    if (o->timeout_ms == 0) o->timeout_ms = 120000;
    if (o->max_attempts <= 0) o->max_attempts = 4;
    if (o->backoff_initial_ms <= 0) o->backoff_initial_ms = 500;
    if (o->backoff_max_ms <= 0) o->backoff_max_ms = 8000;
    if (o->max_body_bytes == 0) o->max_body_bytes = (size_t)64 << 20;
    http->ca_file = copy_string(o->ca_file);
    http->user_agent = copy_string(o->user_agent ? o->user_agent : "yoloop/0.1");
    o->ca_file = http->ca_file;
    o->user_agent = http->user_agent;
    http->curl = curl_easy_init();
    if (!http->curl || !http->user_agent || (options && options->ca_file && !http->ca_file)) {
        yl_http_destroy(http);
        return yl_error(YL_ERR_OOM, "http: could not create a libcurl handle");
    }
    *out = http;
    return YL_OK;
}

void yl_http_destroy(yl_http *http) {
    if (!http) return;
    if (http->curl) curl_easy_cleanup(http->curl);
    free(http->ca_file);
    free(http->user_agent);
    free(http);
}

const yl_http_options *yl_http_get_options(const yl_http *http) { return http ? &http->options : NULL; }

void yl_http_response_free(yl_http_response *response) {
    if (!response) return;
    free(response->body);
    response->body = NULL;
    response->body_size = 0;
}

int yl_http_status_is_retryable(long status) {
    return status == 429 || status == 500 || status == 502 || status == 503 || status == 504;
}

// What one attempt receives.
typedef struct {
    CURL *curl;
    const char *part_path;  // non-NULL when a 2xx body goes to a file
    FILE *file;
    int file_errno;
    long status;
    char *body;
    size_t size, capacity, limit;
    int over_limit;
    int truncate_silently;  // error bodies of streamed requests are cut, not fatal
    long long written;
} transfer;

static size_t append_memory(transfer *t, const char *data, size_t n) {
    if (t->size + n > t->limit) {
        if (!t->truncate_silently) {
            t->over_limit = 1;
            return 0;
        }
        n = t->limit - t->size;
    }
    if (t->size + n + 1 > t->capacity) {
        size_t capacity = t->capacity ? t->capacity : 4096;
        while (capacity < t->size + n + 1) capacity *= 2;
        char *grown = realloc(t->body, capacity);
        if (!grown) {
            t->over_limit = 1;
            return 0;
        }
        t->body = grown;
        t->capacity = capacity;
    }
    memcpy(t->body + t->size, data, n);
    t->size += n;
    t->body[t->size] = '\0';
    return n;
}

static size_t on_body(char *data, size_t size, size_t count, void *user) {
    transfer *t = user;
    size_t n = size * count;
    if (t->status == 0) curl_easy_getinfo(t->curl, CURLINFO_RESPONSE_CODE, &t->status);
    if (t->part_path && t->status >= 200 && t->status < 300) {
        if (!t->file) {
            t->file = fopen(t->part_path, "wb");
            if (!t->file) {
                t->file_errno = errno;
                return 0;
            }
        }
        if (fwrite(data, 1, n, t->file) != n) {
            t->file_errno = errno ? errno : EIO;
            return 0;
        }
        t->written += (long long)n;
        return n;
    }
    size_t kept = append_memory(t, data, n);
    return t->over_limit ? 0 : (t->truncate_silently ? n : kept);
}

static void transfer_reset(transfer *t) {
    if (t->file) fclose(t->file);
    t->file = NULL;
    if (t->part_path) remove(t->part_path);
    free(t->body);
    t->body = NULL;
    t->size = t->capacity = 0;
    t->status = 0;
    t->written = 0;
    t->over_limit = 0;
    t->file_errno = 0;
}

static int curl_code_is_retryable(CURLcode code, yl_http_retry_policy policy) {
    if (code == CURLE_COULDNT_CONNECT || code == CURLE_COULDNT_RESOLVE_HOST || code == CURLE_COULDNT_RESOLVE_PROXY)
        return 1;
    if (policy == YL_HTTP_RETRY_CONNECT_ONLY) return 0;
    return code == CURLE_OPERATION_TIMEDOUT || code == CURLE_GOT_NOTHING || code == CURLE_SEND_ERROR ||
           code == CURLE_RECV_ERROR || code == CURLE_PARTIAL_FILE || code == CURLE_HTTP2 ||
           code == CURLE_HTTP2_STREAM;
}

static void sleep_ms(long ms) {
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

static const char *curl_hint(CURLcode code) {
    switch (code) {
    case CURLE_COULDNT_CONNECT: return " (is the server running and reachable at that address?)";
    case CURLE_COULDNT_RESOLVE_HOST: return " (check the host name in the URL)";
    case CURLE_OPERATION_TIMEDOUT: return " (no complete response within the time limit)";
    case CURLE_PEER_FAILED_VERIFICATION: return " (the server's TLS certificate was not accepted)";
    default: return "";
    }
}

static yl_status configure(yl_http *http, const yl_http_request *request, const char *url, struct curl_slist **headers,
                           transfer *t, char *curl_error) {
    CURL *c = http->curl;
    const yl_http_options *o = &http->options;
    curl_easy_reset(c);  // keeps the connection cache
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_VERBOSE, 0L);  // verbose output would print the Authorization header
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 1L);
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_FAILONERROR, 0L);  // keep Label Studio's error JSON
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, curl_error);
    curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
#else
    curl_easy_setopt(c, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, o->connect_timeout_ms);
    long timeout = request->timeout_ms != 0 ? request->timeout_ms : o->timeout_ms;
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout > 0 ? timeout : 0L);
    curl_easy_setopt(c, CURLOPT_USERAGENT, o->user_agent);
    if (o->ca_file) curl_easy_setopt(c, CURLOPT_CAINFO, o->ca_file);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, t);

    const char *method = request->method ? request->method : "GET";
    if (!strcmp(method, "HEAD")) {
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    } else if (!strcmp(method, "POST")) {
        curl_easy_setopt(c, CURLOPT_POST, 1L);
    } else if (strcmp(method, "GET") != 0) {
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    }
    if (request->body || !strcmp(method, "POST")) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, request->body ? request->body : "");
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(request->body ? request->body_size : 0));
    }

    char line[256];
    struct curl_slist *list = NULL, *next;
    if (request->accept) {
        snprintf(line, sizeof line, "Accept: %s", request->accept);
        if (!(next = curl_slist_append(list, line))) goto oom;
        list = next;
    }
    if (request->content_type) {
        snprintf(line, sizeof line, "Content-Type: %s", request->content_type);
        if (!(next = curl_slist_append(list, line))) goto oom;
        list = next;
    }
    if (!(next = curl_slist_append(list, "Expect:"))) goto oom;  // no 100-continue round trip
    list = next;
    if (request->authorization) {
        size_t n = strlen(request->authorization) + sizeof "Authorization: ";
        char *header = malloc(n);
        if (!header) goto oom;
        snprintf(header, n, "Authorization: %s", request->authorization);
        next = curl_slist_append(list, header);
        memset(header, 0, n);  // do not leave the secret behind in freed memory
        free(header);
        if (!next) goto oom;
        list = next;
    }
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, list);
    *headers = list;
    return YL_OK;
oom:
    curl_slist_free_all(list);
    return yl_error(YL_ERR_OOM, "http: out of memory building request headers");
}

static void free_headers(struct curl_slist *list) {
    // Wipe header values (the Authorization line among them) before libcurl frees them.
    for (struct curl_slist *l = list; l; l = l->next)
        if (l->data) memset(l->data, 0, strlen(l->data));
    curl_slist_free_all(list);
}

yl_status yl_http_perform(yl_http *http, const yl_http_request *request, yl_http_response *response) {
    if (!http || !request || !response || !request->url)
        return yl_error(YL_ERR_INVALID_ARG, "http: NULL client, request, URL or response");
    memset(response, 0, sizeof *response);
    response->content_length = -1;
    const char *method = request->method ? request->method : "GET";
    char shown_url[512];
    yl_url_redact(request->url, shown_url, sizeof shown_url);
    if (!yl_url_is_http(request->url))
        return yl_error(YL_ERR_INVALID_ARG, "http: %s %s: only http:// and https:// URLs are supported", method,
                        shown_url);
    char *url = yl_url_escape_unsafe(request->url);
    char *part_path = NULL;
    if (request->output_path) {
        size_t n = strlen(request->output_path) + sizeof ".part";
        part_path = malloc(n);
        if (part_path) snprintf(part_path, n, "%s.part", request->output_path);
    }
    if (!url || (request->output_path && !part_path)) {
        free(url);
        free(part_path);
        return yl_error(YL_ERR_OOM, "http: out of memory");
    }

    transfer t = {.curl = http->curl, .part_path = part_path};
    t.limit = http->options.max_body_bytes;
    if (request->output_path) {
        t.truncate_silently = 1;
        if (t.limit > ERROR_BODY_LIMIT) t.limit = ERROR_BODY_LIMIT;
    }
    char curl_error[CURL_ERROR_SIZE];
    CURLcode code = CURLE_OK;
    yl_status status = YL_OK;
    long backoff = http->options.backoff_initial_ms;
    int attempt = 0;
    for (attempt = 1; attempt <= http->options.max_attempts; attempt++) {
        transfer_reset(&t);
        curl_error[0] = '\0';
        struct curl_slist *headers = NULL;
        status = configure(http, request, url, &headers, &t, curl_error);
        if (status != YL_OK) break;
        code = curl_easy_perform(http->curl);
        curl_easy_setopt(http->curl, CURLOPT_HTTPHEADER, NULL);
        curl_easy_setopt(http->curl, CURLOPT_ERRORBUFFER, NULL);  // it lives on this stack frame
        free_headers(headers);
        if (code == CURLE_OK) curl_easy_getinfo(http->curl, CURLINFO_RESPONSE_CODE, &t.status);
        int write_failed = t.over_limit || t.file_errno;
        int retry = attempt < http->options.max_attempts && !write_failed &&
                    (code == CURLE_OK ? request->retry == YL_HTTP_RETRY_SAFE && yl_http_status_is_retryable(t.status)
                                      : curl_code_is_retryable(code, request->retry));
        if (!retry) break;
        sleep_ms(backoff);
        backoff = backoff * 2 > http->options.backoff_max_ms ? http->options.backoff_max_ms : backoff * 2;
    }
    if (attempt > http->options.max_attempts) attempt = http->options.max_attempts;
    response->attempts = attempt;

    if (status == YL_OK && code != CURLE_OK) {
        if (t.over_limit)
            status = yl_error(YL_ERR_IO, "%s %s: response body larger than the %zu-byte limit", method, shown_url,
                              t.limit);
        else if (t.file_errno)
            status = yl_error(YL_ERR_IO, "%s %s: cannot write %s: %s", method, shown_url, part_path,
                              strerror(t.file_errno));
        else
            status = yl_error(YL_ERR_IO, "%s %s: %s after %d attempt%s%s", method, shown_url,
                              curl_error[0] ? curl_error : curl_easy_strerror(code), attempt, attempt == 1 ? "" : "s",
                              curl_hint(code));
    }
    if (status == YL_OK) {
        response->status = t.status;
        char *content_type = NULL, *location = NULL;
        curl_off_t length = -1;
        curl_easy_getinfo(http->curl, CURLINFO_CONTENT_TYPE, &content_type);
        curl_easy_getinfo(http->curl, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &length);
        curl_easy_getinfo(http->curl, CURLINFO_REDIRECT_URL, &location);
        if (content_type) snprintf(response->content_type, sizeof response->content_type, "%s", content_type);
        if (location) snprintf(response->location, sizeof response->location, "%s", location);
        response->content_length = length;
        if (t.file) {
            int failed = fflush(t.file) != 0 || ferror(t.file);
            if (fclose(t.file) != 0) failed = 1;
            t.file = NULL;
            if (failed)
                status = yl_error(YL_ERR_IO, "%s %s: cannot write %s", method, shown_url, part_path);
        } else if (request->output_path && t.status >= 200 && t.status < 300) {
            FILE *empty = fopen(part_path, "wb");  // an empty 2xx body is still a file
            if (!empty || fclose(empty) != 0)
                status = yl_error(YL_ERR_IO, "http: cannot create %s: %s", part_path, strerror(errno));
        }
        if (status == YL_OK && request->output_path && t.status >= 200 && t.status < 300) {
            if (rename(part_path, request->output_path) != 0)
                status = yl_error(YL_ERR_IO, "http: cannot rename %s to %s: %s", part_path, request->output_path,
                                  strerror(errno));
            response->bytes_written = t.written;
        }
    }
    if (status == YL_OK) {
        response->body = t.body;
        response->body_size = t.size;
        t.body = NULL;
    }
    if (t.file) fclose(t.file);
    if (part_path) remove(part_path);
    free(t.body);
    free(part_path);
    free(url);
    return status;
}
