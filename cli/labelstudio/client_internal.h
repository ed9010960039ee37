// Shared by the client's translation units (client.c, tasks.c, export.c, import.c, media.c);
// not part of the public API.
#pragma once
#include <cjson/cJSON.h>

#include "cli/labelstudio/client.h"

struct yl_ls_client {
    char *base_url;  // no trailing '/'
    yl_http *http;
    yl_ls_auth *auth;
    yl_ls_client_options options;  // scalar settings with defaults filled in
    char *local_files_root;
    char *media_root;
    long last_status;
};

typedef struct {
    const char *method;        // NULL: GET
    const char *path;          // "/api/..." relative to the base URL, or an absolute URL
    const char *body;
    size_t body_size;
    const char *content_type;
    const char *accept;        // NULL: application/json
    const char *output_path;   // stream a 2xx body here
    long timeout_ms;           // 0: the client's default
    yl_http_retry_policy retry;
    int no_auth;               // send no token (health, foreign hosts)
    const char *not_found_hint;  // appended to a 404 message
    const char *forbidden_hint;  // appended to a 403 message
} yl_ls_request;

// Performs the request with the token; on a 401 with a Personal Access Token it refreshes and
// retries once. YL_OK whenever a response arrived (any status).
yl_status yl_ls_perform(yl_ls_client *client, const yl_ls_request *request, yl_http_response *response);

// Turns a non-2xx response into an error message (401 explained per token kind) and returns it.
yl_status yl_ls_fail_response(yl_ls_client *client, const yl_ls_request *request, const yl_http_response *response);

// Perform, require 2xx, parse the JSON body into *out (when out is not NULL; NULL for an empty body).
yl_status yl_ls_request_json(yl_ls_client *client, const yl_ls_request *request, cJSON **out);

// yl_error with the token scrubbed out of the message.
#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
yl_status yl_ls_fail(yl_ls_client *client, yl_status status, const char *fmt, ...);

// Re-sets the current message with the token scrubbed out (after a lower layer failed).
yl_status yl_ls_scrub_error(yl_ls_client *client, yl_status status);

// The server's explanation in a response body: "detail" (+ "validation_errors"), an HTML page's
// title, or the start of the text; "" when there is none.
void yl_ls_response_detail(const yl_http_response *response, char *out, size_t capacity);

// Joins the base URL and a path ("/api/...") or passes an absolute URL through. New string.
char *yl_ls_url(const yl_ls_client *client, const char *path);
