// A small libcurl wrapper: one reusable connection cache per yl_http, time limits, retries with
// exponential backoff, bodies kept in memory up to a bound or streamed to a file.
//
// Secrets: the Authorization value is passed per request, put only into the request headers, and
// never copied into a message. libcurl's verbose output stays off. Messages name the method and a
// redacted URL (no user:password, no signed query), never headers or request bodies.
#pragma once
#include <stddef.h>

#include "engine/core/status.h"

typedef struct {
    long connect_timeout_ms;  // 0: 10 s
    long timeout_ms;          // whole transfer, per attempt; 0: 120 s; < 0: none
    int max_attempts;         // 0: 4; 1 = no retries
    long backoff_initial_ms;  // 0: 500 ms; doubles after each failed attempt
    long backoff_max_ms;      // 0: 8 s
    size_t max_body_bytes;    // bound on bodies kept in memory; 0: 64 MiB
    const char *ca_file;      // extra CA bundle for https; NULL: the system's
    const char *user_agent;   // NULL: "yoloop/0.1"
} yl_http_options;

typedef enum {
    // Idempotent request: retried on 5xx/429, timeouts and connection errors.
    YL_HTTP_RETRY_SAFE = 0,
    // Not idempotent (imports, creating things): retried only when no connection could be made,
    // so the server cannot have seen the request.
    YL_HTTP_RETRY_CONNECT_ONLY,
} yl_http_retry_policy;

typedef struct {
    const char *method;         // "GET" (NULL), "POST", "PATCH", "PUT", "DELETE", "HEAD"
    const char *url;            // absolute http(s) URL; unsafe bytes are percent-encoded here
    const char *authorization;  // "Token …" / "Bearer …" or NULL; a secret
    const char *accept;         // Accept header or NULL
    const char *content_type;   // with a body
    const char *body;
    size_t body_size;
    // When set, a 2xx body is streamed to output_path + ".part" and renamed to output_path once
    // complete; other bodies stay in memory (for the error message).
    const char *output_path;
    long timeout_ms;            // > 0 overrides options.timeout_ms; < 0: no limit
    yl_http_retry_policy retry;
} yl_http_request;

typedef struct {
    long status;              // final HTTP status, 0 when there was none
    char *body;               // in-memory body, NUL-terminated (NULL when streamed to a file)
    size_t body_size;
    long long bytes_written;  // streamed bytes
    long long content_length; // Content-Length, -1 when unknown
    char content_type[128];
    char location[2048];      // absolute redirect target of a 3xx (redirects are never followed)
    int attempts;
} yl_http_response;

typedef struct yl_http yl_http;

yl_status yl_http_create(yl_http **out, const yl_http_options *options);
void yl_http_destroy(yl_http *http);
const yl_http_options *yl_http_get_options(const yl_http *http);

// Performs the request, retrying as its policy allows. YL_OK whenever an HTTP response arrived,
// whatever its status (a 5xx that persisted through every attempt included: check
// response->status); YL_ERR_IO when no response came (connection refused, timeout, DNS, TLS,
// a body over the bound, a file that cannot be written), with a message saying which.
yl_status yl_http_perform(yl_http *http, const yl_http_request *request, yl_http_response *response);
void yl_http_response_free(yl_http_response *response);

// 1 for statuses a safe request is retried on (500, 502, 503, 504, 429).
int yl_http_status_is_retryable(long status);
