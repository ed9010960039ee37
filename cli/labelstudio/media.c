// Image download (spec §3.2): every URL form a task's data can hold, the token sent only to
// Label Studio itself, redirects followed by hand so that rule holds on every hop.
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "cli/labelstudio/client_internal.h"
#include "cli/labelstudio/url.h"

#define MAX_REDIRECTS 5
#define URL_CAPACITY 4096

typedef enum { FORM_UPLOAD, FORM_LOCAL_FILES, FORM_CLOUD, FORM_LABEL_STUDIO, FORM_EXTERNAL } url_form;

typedef struct {
    url_form form;
    char url[URL_CAPACITY];         // what to GET first (absolute or "/..." on Label Studio)
    char upload_path[URL_CAPACITY]; // "upload/<project>/<file>" for uploads (for disk and fallback)
    char disk_path[URL_CAPACITY];   // a file on this machine that holds the image, "" when none
} image_source;

// snprintf that reports truncation: a cut path or URL would name the wrong thing.
#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
static int format_fits(char *out, size_t capacity, const char *fmt, ...) {
    va_list args;
    va_start(args, fmt);
    int n = vsnprintf(out, capacity, fmt, args);
    va_end(args);
    return n >= 0 && (size_t)n < capacity;
}

static yl_status too_long(const char *data_url) {
    return yl_error(YL_ERR_INVALID_ARG, "image %.200s...: URL or path longer than %d bytes", data_url,
                    URL_CAPACITY - 1);
}

static int has_dot_dot_segment(const char *path) {
    for (const char *p = path; (p = strstr(p, "..")) != NULL; p += 2) {
        int starts = p == path || p[-1] == '/';
        int ends = p[2] == '\0' || p[2] == '/';
        if (starts && ends) return 1;
    }
    return 0;
}

// The path part of a Label Studio reference: "/data/upload/..." from an absolute URL or as is.
static const char *path_of(const char *url) {
    if (!yl_url_is_http(url)) return url;
    const char *p = strstr(url, "://") + 3;
    return p + strcspn(p, "/");
}

// A non-http scheme ("s3://", "gs://", "azure-blob://") names cloud storage behind Label Studio.
static int is_cloud_uri(const char *url) {
    const char *sep = strstr(url, "://");
    if (!sep || sep == url || yl_url_is_http(url)) return 0;
    for (const char *p = url; p < sep; p++)
        if (!isalnum((unsigned char)*p) && *p != '+' && *p != '-' && *p != '.') return 0;
    return 1;
}

static yl_status classify(yl_ls_client *client, const char *data_url, long task_id, image_source *source) {
    memset(source, 0, sizeof *source);
    const int ls_origin = !yl_url_is_http(data_url) || yl_url_same_origin(data_url, client->base_url);
    const char *path = path_of(data_url);
    if (ls_origin && (!strncmp(path, "/data/upload/", 13) || !strncmp(path, "/upload/", 8) ||
                      !strncmp(path, "upload/", 7))) {
        const char *rest = !strncmp(path, "/data/", 6) ? path + 6 : (path[0] == '/' ? path + 1 : path);
        source->form = FORM_UPLOAD;
        // A stored file name may hold '#'; task data has no fragments, so it is part of the name.
        size_t length = strcspn(rest, "?"), w = 0;
        for (size_t i = 0; i < length && w + 4 < sizeof source->upload_path; i++) {
            if (rest[i] == '#') {
                memcpy(source->upload_path + w, "%23", 3);
                w += 3;
            } else {
                source->upload_path[w++] = rest[i];
            }
        }
        source->upload_path[w] = '\0';
        if (w + 4 >= sizeof source->upload_path ||
            !format_fits(source->url, sizeof source->url, "/data/%s", source->upload_path))
            return too_long(data_url);
        if (client->media_root) {
            char decoded[URL_CAPACITY];
            if (yl_url_percent_decode(source->upload_path, strlen(source->upload_path), decoded, sizeof decoded) >= 0 &&
                !has_dot_dot_segment(decoded) &&
                !format_fits(source->disk_path, sizeof source->disk_path, "%s/%s", client->media_root, decoded))
                return too_long(data_url);
        }
        return YL_OK;
    }
    if (ls_origin && !strncmp(path, "/data/local-files", 17)) {
        source->form = FORM_LOCAL_FILES;
        if (!format_fits(source->url, sizeof source->url, "%s", path)) return too_long(data_url);
        char relative[URL_CAPACITY];
        if (client->local_files_root && yl_url_query_param(path, "d", relative, sizeof relative) == YL_OK &&
            !has_dot_dot_segment(relative)) {
            const char *r = relative;
            while (*r == '/') r++;
            if (!format_fits(source->disk_path, sizeof source->disk_path, "%s/%s", client->local_files_root, r))
                return too_long(data_url);
        }
        return YL_OK;
    }
    if (is_cloud_uri(data_url)) {
        if (task_id <= 0)
            return yl_error(YL_ERR_INVALID_ARG,
                            "image %.200s: a cloud storage URI is fetched through the task's presign link, which "
                            "needs the task id",
                            data_url);
        char encoded[URL_CAPACITY];
        if (yl_base64url_encode((const unsigned char *)data_url, strlen(data_url), encoded, sizeof encoded) < 0)
            return yl_error(YL_ERR_INVALID_ARG, "image: storage URI too long");
        source->form = FORM_CLOUD;
        if (!format_fits(source->url, sizeof source->url, "/tasks/%ld/presign/?fileuri=%s", task_id, encoded))
            return too_long(data_url);
        return YL_OK;
    }
    if (!yl_url_is_http(data_url) && data_url[0] == '/') {
        source->form = FORM_LABEL_STUDIO;  // e.g. /tasks/<id>/presign/?fileuri=... (resolve_uri=true)
        if (!format_fits(source->url, sizeof source->url, "%s", data_url)) return too_long(data_url);
        return YL_OK;
    }
    if (yl_url_is_http(data_url)) {
        source->form = ls_origin ? FORM_LABEL_STUDIO : FORM_EXTERNAL;
        if (!format_fits(source->url, sizeof source->url, "%s", data_url)) return too_long(data_url);
        return YL_OK;
    }
    return yl_error(YL_ERR_FORMAT,
                    "image reference '%.200s' is not one Label Studio uses (/data/upload/..., "
                    "/data/local-files/?d=..., http(s)://..., or a storage URI such as s3://...)",
                    data_url);
}

static long long file_size(const char *path) {
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) return -1;
    return (long long)st.st_size;
}

static yl_status copy_file(const char *from, const char *to) {
    char part[URL_CAPACITY + 8];
    snprintf(part, sizeof part, "%s.part", to);
    FILE *in = fopen(from, "rb");
    if (!in) return yl_error(YL_ERR_IO, "%s: cannot open: %s", from, strerror(errno));
    FILE *out = fopen(part, "wb");
    if (!out) {
        fclose(in);
        return yl_error(YL_ERR_IO, "%s: cannot create: %s", part, strerror(errno));
    }
    char buffer[1 << 16];
    size_t n;
    int failed = 0;
    while (!failed && (n = fread(buffer, 1, sizeof buffer, in)) > 0) failed = fwrite(buffer, 1, n, out) != n;
    failed |= ferror(in);
    fclose(in);
    failed |= fclose(out) != 0;
    if (failed || rename(part, to) != 0) {
        remove(part);
        return yl_error(YL_ERR_IO, "cannot copy %s to %s", from, to);
    }
    return YL_OK;
}

static int is_login_page(const char *location) {
    const char *path = path_of(location);
    return !strncmp(path, "/user/login", 11);
}

static const char *hint_404(url_form form) {
    switch (form) {
    case FORM_UPLOAD: return " (the uploaded file is missing on the Label Studio server)";
    case FORM_LOCAL_FILES:
        return " (no Local Storage connection in Label Studio covers that folder, or the file is missing)";
    case FORM_CLOUD: return " (the storage object or the task is missing)";
    default: return NULL;
    }
}

// GET (or HEAD when dest is NULL) following redirects; the token goes only to Label Studio's origin.
static yl_status fetch(yl_ls_client *client, const image_source *source, const char *dest, yl_http_response *response) {
    char current[URL_CAPACITY];
    snprintf(current, sizeof current, "%s", source->url);
    int tried_storage_data = 0;
    for (int hop = 0;; hop++) {
        int ours = !yl_url_is_http(current) || yl_url_same_origin(current, client->base_url);
        yl_ls_request request = {
            .method = dest ? "GET" : "HEAD",
            .path = current,
            .accept = "image/*,*/*;q=0.8",
            .output_path = dest,
            .no_auth = !ours,
            .not_found_hint = hint_404(source->form),
            .forbidden_hint = source->form == FORM_LOCAL_FILES
                                  ? " (local file serving is off: LOCAL_FILES_SERVING_ENABLED=true on the Label "
                                    "Studio server, or the request was not authenticated)"
                                  : NULL,
        };
        YL_TRY(yl_ls_perform(client, &request, response));
        long status = response->status;
        if (status >= 300 && status < 400 && response->location[0]) {
            if (ours && is_login_page(response->location)) {
                yl_http_response_free(response);
                return yl_ls_fail(client, YL_ERR_IO,
                                  "Label Studio redirected the image request to its login page: the token was not "
                                  "accepted for media");
            }
            if (hop == MAX_REDIRECTS) {
                yl_http_response_free(response);
                return yl_error(YL_ERR_IO, "image: more than %d redirects", MAX_REDIRECTS);
            }
            int fits = format_fits(current, sizeof current, "%s", response->location);
            yl_http_response_free(response);
            if (!fits) return yl_error(YL_ERR_IO, "image: redirect target longer than %d bytes", URL_CAPACITY - 1);
            continue;
        }
        // Newer servers also serve uploads at /storage-data/uploaded/ (the SDK tries both).
        if (status == 404 && source->form == FORM_UPLOAD && !tried_storage_data) {
            tried_storage_data = 1;
            char decoded[URL_CAPACITY], escaped[URL_CAPACITY];
            if (yl_url_percent_decode(source->upload_path, strlen(source->upload_path), decoded, sizeof decoded) >= 0 &&
                yl_url_escape_component(decoded, escaped, sizeof escaped) == YL_OK &&
                format_fits(current, sizeof current, "/storage-data/uploaded/?filepath=%s", escaped)) {
                yl_http_response_free(response);
                continue;
            }
            yl_clear_error();
        }
        if (status < 200 || status >= 300) {
            request.path = source->url;  // name what the task holds, not the fallback we tried
            yl_status failed = yl_ls_fail_response(client, &request, response);
            yl_http_response_free(response);
            return failed;
        }
        if (!strncasecmp(response->content_type, "text/html", 9)) {
            if (dest) remove(dest);
            yl_http_response_free(response);
            return yl_error(YL_ERR_FORMAT, "image: the server answered with an HTML page instead of an image "
                                           "(a login or error page?)");
        }
        return YL_OK;
    }
}

yl_status yl_ls_download_image(yl_ls_client *client, const char *data_url, long task_id, const char *dest_path,
                               long long expected_size, yl_ls_download_result *result) {
    yl_ls_download_result ignored;
    if (!result) result = &ignored;
    memset(result, 0, sizeof *result);
    if (!client || !data_url || !*data_url || !dest_path || !*dest_path)
        return yl_error(YL_ERR_INVALID_ARG, "image download: NULL or empty client, URL or destination");
    image_source source;
    char shown[600];
    yl_url_redact(data_url, shown, sizeof shown);
    yl_status status = classify(client, data_url, task_id, &source);
    if (status != YL_OK) return status;
    long long disk_size = source.disk_path[0] ? file_size(source.disk_path) : -1;

    long long present = file_size(dest_path);
    if (present > 0) {
        long long want = expected_size > 0 ? expected_size : disk_size;
        if (want < 0) {
            yl_http_response head;
            if (fetch(client, &source, NULL, &head) == YL_OK) want = head.content_length;
            yl_http_response_free(&head);
            yl_clear_error();  // a failed HEAD only means "download it"
        }
        // Label Studio 1.23 serves uploads without a Content-Length. An upload's name is unique
        // (<8hex>-<name>) and its bytes never change, and downloads land via rename: keep it.
        int unique_upload = want < 0 && source.form == FORM_UPLOAD;
        if ((want >= 0 && want == present) || unique_upload) {
            result->skipped = 1;
            result->bytes = present;
            snprintf(result->source, sizeof result->source, "present");
            return YL_OK;
        }
    }
    if (disk_size >= 0) {
        status = copy_file(source.disk_path, dest_path);
        snprintf(result->source, sizeof result->source, "disk");
    } else {
        yl_http_response response;
        status = fetch(client, &source, dest_path, &response);
        if (status == YL_OK) yl_http_response_free(&response);
        snprintf(result->source, sizeof result->source, "http");
    }
    if (status != YL_OK) {
        char message[1500];
        snprintf(message, sizeof message, "%s", yl_last_error());
        return yl_ls_fail(client, status, "image %.400s (task %ld): %s", shown, task_id, message);
    }
    result->bytes = file_size(dest_path);
    if (expected_size > 0 && result->bytes != expected_size)
        return yl_error(YL_ERR_IO, "image %.400s (task %ld): got %lld bytes, expected %lld", shown, task_id,
                        result->bytes, expected_size);
    return YL_OK;
}
