#include "cli/labelstudio/auth.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/labelstudio/json_util.h"
#include "cli/labelstudio/url.h"

#define TOKEN_MAX_BYTES 8192
#define REFRESH_MARGIN_S 30.0
#define ACCESS_LIFETIME_GUESS_S 240.0  // when an access token's exp cannot be read (docs: ~5 min)

struct yl_ls_auth {
    yl_ls_token_kind kind;
    char *token;       // the secret as loaded
    char *access;      // cached access JWT (PAT only)
    double access_exp; // Unix seconds
    double token_exp;  // exp of the token itself (JWT kinds)
    char *header;      // last header value handed out
    char source[600];
    int refreshes;
    long refresh_status;  // HTTP status of the last refresh answer, 0 when none arrived
};

static void wipe_free(char *secret) {
    if (!secret) return;
    volatile char *p = secret;
    while (*p) *p++ = 0;
    free(secret);
}

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int is_token_byte(unsigned char c) { return c > 0x20 && c < 0x7f; }

int yl_ls_jwt_expiry(const char *token, double *exp, char *token_type, size_t token_type_capacity) {
    if (token_type && token_type_capacity) token_type[0] = '\0';
    const char *dot1 = strchr(token, '.');
    const char *dot2 = dot1 ? strchr(dot1 + 1, '.') : NULL;
    if (!dot1 || !dot2 || strchr(dot2 + 1, '.') || dot1 == token || dot2 == dot1 + 1) return 0;
    for (const char *p = token; *p; p++) {
        char c = *p;
        int ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
                 c == '_' || c == '.' || c == '=';
        if (!ok) return 0;
    }
    unsigned char payload[4096];
    long n = yl_base64url_decode(dot1 + 1, (size_t)(dot2 - dot1 - 1), payload, sizeof payload - 1);
    if (n <= 0) return 0;
    payload[n] = '\0';
    cJSON *json = cJSON_ParseWithLength((const char *)payload, (size_t)n);
    if (!cJSON_IsObject(json)) {
        cJSON_Delete(json);
        return 0;
    }
    const cJSON *exp_item = cJSON_GetObjectItemCaseSensitive(json, "exp");
    const char *type = yl_json_string(json, "token_type");
    if (token_type && token_type_capacity && type) snprintf(token_type, token_type_capacity, "%s", type);
    int result = -1;
    if (cJSON_IsNumber(exp_item)) {
        *exp = exp_item->valuedouble;
        result = 1;
    }
    cJSON_Delete(json);
    return result;
}

static yl_status read_token_file(const char *path, char **out) {
    FILE *file = fopen(path, "rb");
    if (!file) return yl_error(YL_ERR_IO, "Label Studio token file %s: cannot open: %s", path, strerror(errno));
    char *text = calloc(1, TOKEN_MAX_BYTES + 2);
    if (!text) {
        fclose(file);
        return yl_error(YL_ERR_OOM, "Label Studio token file %s: out of memory", path);
    }
    size_t n = fread(text, 1, TOKEN_MAX_BYTES + 1, file);
    int failed = ferror(file);
    fclose(file);
    if (failed) {
        wipe_free(text);
        return yl_error(YL_ERR_IO, "Label Studio token file %s: read error", path);
    }
    if (n > TOKEN_MAX_BYTES) {
        wipe_free(text);
        return yl_error(YL_ERR_FORMAT, "Label Studio token file %s: larger than %d bytes, not a token", path,
                        TOKEN_MAX_BYTES);
    }
    *out = text;
    return YL_OK;
}

// Trims surrounding whitespace in place and checks what is left is one printable word.
static yl_status clean_token(char *text, const char *source) {
    size_t start = 0, end = strlen(text);
    while (start < end && (text[start] == ' ' || text[start] == '\t' || text[start] == '\r' || text[start] == '\n'))
        start++;
    while (end > start &&
           (text[end - 1] == ' ' || text[end - 1] == '\t' || text[end - 1] == '\r' || text[end - 1] == '\n'))
        end--;
    memmove(text, text + start, end - start);
    memset(text + (end - start), 0, start);
    text[end - start] = '\0';
    if (text[0] == '\0')
        return yl_error(YL_ERR_INVALID_ARG, "the Label Studio API token from %s is empty", source);
    if (!strncmp(text, "Token ", 6) || !strncmp(text, "Bearer ", 7))
        return yl_error(YL_ERR_INVALID_ARG,
                        "the Label Studio API token from %s starts with '%s': give the token alone, without the "
                        "header scheme",
                        source, text[0] == 'T' ? "Token " : "Bearer ");
    for (const unsigned char *p = (const unsigned char *)text; *p; p++)
        if (!is_token_byte(*p))
            return yl_error(YL_ERR_INVALID_ARG,
                            "the Label Studio API token from %s contains whitespace or control characters "
                            "(expected a single token on one line)",
                            source);
    return YL_OK;
}

static yl_status classify(yl_ls_auth *auth) {
    double exp = 0.0;
    char type[32];
    int jwt = yl_ls_jwt_expiry(auth->token, &exp, type, sizeof type);
    if (jwt == 0) {
        auth->kind = YL_LS_TOKEN_LEGACY;
        return YL_OK;
    }
    if (jwt < 0)
        return yl_error(YL_ERR_INVALID_ARG,
                        "the Label Studio API token from %s looks like a JWT but has no 'exp' claim; use a "
                        "Personal Access Token or a legacy token from Account & Settings",
                        auth->source);
    auth->token_exp = exp;
    auth->kind = !strcmp(type, "access") ? YL_LS_TOKEN_ACCESS : YL_LS_TOKEN_PERSONAL_ACCESS;
    if (exp <= now_seconds()) {
        time_t when = (time_t)exp;
        struct tm tm;
        char stamp[32] = "?";
        if (gmtime_r(&when, &tm)) strftime(stamp, sizeof stamp, "%Y-%m-%d %H:%M:%S UTC", &tm);
        if (auth->kind == YL_LS_TOKEN_ACCESS)
            return yl_error(YL_ERR_INVALID_ARG,
                            "the Label Studio token from %s is a short-lived access token that expired at %s; "
                            "use the Personal Access Token itself (it is refreshed automatically)",
                            auth->source, stamp);
        return yl_error(YL_ERR_INVALID_ARG,
                        "the Label Studio Personal Access Token from %s expired at %s; create a new one under "
                        "Account & Settings -> Personal Access Token",
                        auth->source, stamp);
    }
    if (auth->kind == YL_LS_TOKEN_ACCESS) {
        auth->access = malloc(strlen(auth->token) + 1);
        if (!auth->access) return yl_error(YL_ERR_OOM, "Label Studio auth: out of memory");
        strcpy(auth->access, auth->token);
        auth->access_exp = exp;
    }
    return YL_OK;
}

yl_status yl_ls_auth_load(yl_ls_auth **out, const yl_ls_token_source *source) {
    if (!out) return yl_error(YL_ERR_INVALID_ARG, "Label Studio auth: NULL output");
    *out = NULL;
    yl_ls_auth *auth = calloc(1, sizeof *auth);
    if (!auth) return yl_error(YL_ERR_OOM, "Label Studio auth: out of memory");
    const char *file = source ? source->file : NULL;
    const char *env = source && source->env_var ? source->env_var : YL_LS_TOKEN_ENV;
    yl_status status = YL_OK;
    if (file && *file) {
        snprintf(auth->source, sizeof auth->source, "file %s", file);
        status = read_token_file(file, &auth->token);
    } else {
        snprintf(auth->source, sizeof auth->source, "environment variable %s", env);
        const char *value = getenv(env);
        if (!value || !*value) {
            status = yl_error(YL_ERR_INVALID_ARG,
                              "no Label Studio API token: set the environment variable %s or name a token file "
                              "(a Personal Access Token or a legacy token from Account & Settings)",
                              env);
        } else if (strlen(value) > TOKEN_MAX_BYTES) {
            status = yl_error(YL_ERR_INVALID_ARG, "the Label Studio API token in %s is longer than %d bytes", env,
                              TOKEN_MAX_BYTES);
        } else {
            auth->token = malloc(strlen(value) + 1);
            if (!auth->token) status = yl_error(YL_ERR_OOM, "Label Studio auth: out of memory");
            else strcpy(auth->token, value);
        }
    }
    if (status == YL_OK) status = clean_token(auth->token, auth->source);
    if (status == YL_OK) status = classify(auth);
    if (status != YL_OK) {
        yl_ls_auth_free(auth);
        return status;
    }
    *out = auth;
    return YL_OK;
}

void yl_ls_auth_free(yl_ls_auth *auth) {
    if (!auth) return;
    wipe_free(auth->token);
    wipe_free(auth->access);
    wipe_free(auth->header);
    free(auth);
}

yl_ls_token_kind yl_ls_auth_kind(const yl_ls_auth *auth) { return auth->kind; }
const char *yl_ls_auth_source(const yl_ls_auth *auth) { return auth->source; }
int yl_ls_auth_refresh_count(const yl_ls_auth *auth) { return auth->refreshes; }

long yl_ls_auth_refresh_status(const yl_ls_auth *auth) { return auth->refresh_status; }

int yl_ls_auth_invalidate(yl_ls_auth *auth) {
    if (auth->kind != YL_LS_TOKEN_PERSONAL_ACCESS) return 0;
    wipe_free(auth->access);
    auth->access = NULL;
    auth->access_exp = 0.0;
    return 1;
}

static void scrub_one(char *text, const char *secret) {
    size_t n = secret ? strlen(secret) : 0;
    if (n < 6) return;  // too short to be a real token; replacing it would mangle normal text
    char *hit;
    while ((hit = strstr(text, secret)) != NULL) {
        memcpy(hit, "***", 3);
        memmove(hit + 3, hit + n, strlen(hit + n) + 1);
    }
    // A message cut to its buffer may end in the first part of a token.
    size_t length = strlen(text);
    for (size_t k = length < n ? length : n - 1; k >= 8; k--) {
        if (!memcmp(text + length - k, secret, k)) {
            memcpy(text + length - k, "***", 4);
            break;
        }
    }
}

void yl_ls_auth_scrub(const yl_ls_auth *auth, char *text) {
    if (!auth || !text) return;
    scrub_one(text, auth->token);
    scrub_one(text, auth->access);
}

// Sets the message with the secrets scrubbed out and returns `status`.
static yl_status auth_fail(const yl_ls_auth *auth, yl_status status, const char *message) {
    char text[2048];
    snprintf(text, sizeof text, "%s", message);
    yl_ls_auth_scrub(auth, text);
    return yl_error(status, "%s", text);
}

static void detail_of(const yl_http_response *response, char *out, size_t capacity) {
    out[0] = '\0';
    cJSON *json = response->body ? cJSON_ParseWithLength(response->body, response->body_size) : NULL;
    const char *detail = yl_json_string(json, "detail");
    if (detail) snprintf(out, capacity, "%s", detail);
    cJSON_Delete(json);
}

static yl_status refresh(yl_ls_auth *auth, yl_http *http, const char *base_url) {
    char url[2048];
    snprintf(url, sizeof url, "%s/api/token/refresh/", base_url);
    cJSON *body_json = cJSON_CreateObject();
    if (!body_json || !cJSON_AddStringToObject(body_json, "refresh", auth->token)) {
        cJSON_Delete(body_json);
        return yl_error(YL_ERR_OOM, "Label Studio auth: out of memory");
    }
    char *body = cJSON_PrintUnformatted(body_json);
    cJSON_Delete(body_json);  // cJSON frees without wiping; the refresh token is long-lived anyway
    if (!body) return yl_error(YL_ERR_OOM, "Label Studio auth: out of memory");
    yl_http_request request = {.method = "POST", .url = url, .accept = "application/json",
                               .content_type = "application/json", .body = body, .body_size = strlen(body)};
    yl_http_response response;
    yl_status status = yl_http_perform(http, &request, &response);
    wipe_free(body);
    auth->refresh_status = status == YL_OK ? response.status : 0;
    char message[2048], detail[256];
    if (status != YL_OK) {
        snprintf(message, sizeof message, "Label Studio: refreshing the Personal Access Token failed: %s",
                 yl_last_error());
        return auth_fail(auth, status, message);
    }
    if (response.body && (response.status < 200 || response.status >= 300)) {
        yl_ls_auth_scrub(auth, response.body);  // before detail_of may cut it
        response.body_size = strlen(response.body);
    }
    detail_of(&response, detail, sizeof detail);
    if (response.status == 401 || response.status == 400) {
        snprintf(message, sizeof message,
                 "Label Studio rejected the Personal Access Token from %s at /api/token/refresh/ (HTTP %ld%s%s): it "
                 "was revoked, belongs to another Label Studio instance, or Personal Access Tokens are disabled for "
                 "the organization; create a new one under Account & Settings -> Personal Access Token",
                 auth->source, response.status, detail[0] ? ": " : "", detail);
        yl_http_response_free(&response);
        return auth_fail(auth, YL_ERR_IO, message);
    }
    if (response.status == 404 || response.status == 405) {
        snprintf(message, sizeof message,
                 "Label Studio has no /api/token/refresh/ endpoint (HTTP %ld): it predates Personal Access Tokens; "
                 "use the legacy token from Account & Settings instead",
                 response.status);
        yl_http_response_free(&response);
        return auth_fail(auth, YL_ERR_IO, message);
    }
    if (response.status < 200 || response.status >= 300) {
        snprintf(message, sizeof message, "Label Studio: refreshing the Personal Access Token failed: HTTP %ld%s%s",
                 response.status, detail[0] ? ": " : "", detail);
        yl_http_response_free(&response);
        return auth_fail(auth, YL_ERR_IO, message);
    }
    cJSON *json = response.body ? cJSON_ParseWithLength(response.body, response.body_size) : NULL;
    const char *access = yl_json_string(json, "access");
    int valid = access && *access && strlen(access) < TOKEN_MAX_BYTES;
    for (const unsigned char *p = (const unsigned char *)(valid ? access : ""); *p; p++)
        if (!is_token_byte(*p)) valid = 0;
    if (valid) {
        wipe_free(auth->access);
        auth->access = malloc(strlen(access) + 1);
        if (auth->access) strcpy(auth->access, access);
    }
    if (json) {
        cJSON *item = cJSON_GetObjectItemCaseSensitive(json, "access");
        if (cJSON_IsString(item)) memset(item->valuestring, 0, strlen(item->valuestring));
    }
    cJSON_Delete(json);
    if (response.body) memset(response.body, 0, response.body_size);
    yl_http_response_free(&response);
    if (!valid)
        return yl_error(YL_ERR_FORMAT, "Label Studio: /api/token/refresh/ answered without a usable 'access' token");
    if (!auth->access) return yl_error(YL_ERR_OOM, "Label Studio auth: out of memory");
    double exp = 0.0;
    auth->access_exp =
        yl_ls_jwt_expiry(auth->access, &exp, NULL, 0) == 1 ? exp : now_seconds() + ACCESS_LIFETIME_GUESS_S;
    auth->refreshes++;
    return YL_OK;
}

yl_status yl_ls_auth_header(yl_ls_auth *auth, yl_http *http, const char *base_url, const char **value) {
    if (!auth || !value) return yl_error(YL_ERR_INVALID_ARG, "Label Studio auth: NULL argument");
    const char *scheme = "Token";
    const char *secret = auth->token;
    if (auth->kind != YL_LS_TOKEN_LEGACY) {
        scheme = "Bearer";
        if (auth->kind == YL_LS_TOKEN_PERSONAL_ACCESS &&
            (!auth->access || now_seconds() + REFRESH_MARGIN_S >= auth->access_exp))
            YL_TRY(refresh(auth, http, base_url));
        if (auth->kind == YL_LS_TOKEN_ACCESS && now_seconds() >= auth->access_exp)
            return yl_error(YL_ERR_IO,
                            "the Label Studio access token from %s has expired; use the Personal Access Token "
                            "itself (it is refreshed automatically)",
                            auth->source);
        secret = auth->access;
    }
    size_t n = strlen(scheme) + 1 + strlen(secret) + 1;
    char *header = malloc(n);
    if (!header) return yl_error(YL_ERR_OOM, "Label Studio auth: out of memory");
    snprintf(header, n, "%s %s", scheme, secret);
    wipe_free(auth->header);
    auth->header = header;
    *value = header;
    return YL_OK;
}

void yl_ls_auth_explain_401(const yl_ls_auth *auth, const char *detail, char *out, size_t capacity) {
    const char *d = detail && *detail ? detail : "no detail";
    if (detail && strstr(detail, "legacy token authentication has been disabled")) {
        snprintf(out, capacity,
                 "Label Studio rejected the legacy API token from %s: legacy token authentication has been "
                 "disabled for this organization (HTTP 401). Fix: use a Personal Access Token (Account & Settings "
                 "-> Personal Access Token) instead, or enable legacy tokens (Organization -> Settings -> Access "
                 "Token Settings; a new Label Studio started with LABEL_STUDIO_ENABLE_LEGACY_API_TOKEN=true has "
                 "them enabled)",
                 auth->source);
    } else if (detail && strstr(detail, "User not found")) {
        snprintf(out, capacity,
                 "Label Studio rejected the token from %s: its user has no active organization (HTTP 401: %s)",
                 auth->source, d);
    } else if (auth->kind == YL_LS_TOKEN_LEGACY) {
        snprintf(out, capacity,
                 "Label Studio rejected the legacy API token from %s (HTTP 401: %s): the token is wrong, was reset, "
                 "or belongs to another Label Studio instance; copy it again from Account & Settings",
                 auth->source, d);
    } else {
        snprintf(out, capacity,
                 "Label Studio rejected the access token obtained with the Personal Access Token from %s, even "
                 "after refreshing it (HTTP 401: %s); check that the token belongs to this Label Studio instance",
                 auth->source, d);
    }
    yl_ls_auth_scrub(auth, out);
}
