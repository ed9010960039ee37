#include "cli/labelstudio/url.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int yl_url_is_http(const char *url) {
    return url && (!strncasecmp(url, "http://", 7) || !strncasecmp(url, "https://", 8));
}

typedef struct {
    char scheme[8];
    char host[256];
    long port;
} url_origin;

static int parse_origin(const char *url, url_origin *origin) {
    if (!yl_url_is_http(url)) return 0;
    const char *sep = strstr(url, "://");
    size_t scheme_length = (size_t)(sep - url);
    for (size_t i = 0; i < scheme_length; i++) origin->scheme[i] = (char)tolower((unsigned char)url[i]);
    origin->scheme[scheme_length] = '\0';
    const char *authority = sep + 3;
    size_t authority_length = strcspn(authority, "/?#");
    // userinfo ends at the last '@' of the authority
    const char *host = authority;
    for (size_t i = 0; i < authority_length; i++)
        if (authority[i] == '@') host = authority + i + 1;
    const char *end = authority + authority_length;
    const char *port = NULL;
    const char *host_end = end;
    if (*host == '[') {
        const char *close = memchr(host, ']', (size_t)(end - host));
        if (!close) return 0;
        host_end = close + 1;
        if (host_end < end && *host_end == ':') port = host_end + 1;
    } else {
        const char *colon = memchr(host, ':', (size_t)(end - host));
        if (colon) {
            host_end = colon;
            port = colon + 1;
        }
    }
    size_t host_length = (size_t)(host_end - host);
    if (host_length == 0 || host_length >= sizeof origin->host) return 0;
    for (size_t i = 0; i < host_length; i++) origin->host[i] = (char)tolower((unsigned char)host[i]);
    origin->host[host_length] = '\0';
    origin->port = !strcmp(origin->scheme, "https") ? 443 : 80;
    if (port && port < end) {
        long value = 0;
        for (const char *p = port; p < end; p++) {
            if (!isdigit((unsigned char)*p)) return 0;
            value = value * 10 + (*p - '0');
            if (value > 65535) return 0;
        }
        origin->port = value;
    }
    return 1;
}

int yl_url_same_origin(const char *a, const char *b) {
    url_origin oa, ob;
    if (!parse_origin(a, &oa) || !parse_origin(b, &ob)) return 0;
    return !strcmp(oa.scheme, ob.scheme) && !strcmp(oa.host, ob.host) && oa.port == ob.port;
}

static int is_unsafe_url_byte(unsigned char c) {
    return c <= 0x20 || c >= 0x7f || strchr("<>\"\\^`{|}", c) != NULL;
}

static const char hex_digits[] = "0123456789ABCDEF";

char *yl_url_escape_unsafe(const char *url) {
    size_t length = strlen(url), extra = 0;
    for (size_t i = 0; i < length; i++)
        if (is_unsafe_url_byte((unsigned char)url[i])) extra += 2;
    char *out = malloc(length + extra + 1);
    if (!out) return NULL;
    char *w = out;
    for (size_t i = 0; i < length; i++) {
        unsigned char c = (unsigned char)url[i];
        if (is_unsafe_url_byte(c)) {
            *w++ = '%';
            *w++ = hex_digits[c >> 4];
            *w++ = hex_digits[c & 15];
        } else {
            *w++ = (char)c;
        }
    }
    *w = '\0';
    return out;
}

yl_status yl_url_escape_component(const char *text, char *out, size_t capacity) {
    size_t w = 0;
    for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
        int keep = isalnum(*p) || *p == '-' || *p == '_' || *p == '.' || *p == '~';
        size_t need = keep ? 1 : 3;
        if (w + need >= capacity) return yl_error(YL_ERR_INVALID_ARG, "url: query value too long to escape");
        if (keep) {
            out[w++] = (char)*p;
        } else {
            out[w++] = '%';
            out[w++] = hex_digits[*p >> 4];
            out[w++] = hex_digits[*p & 15];
        }
    }
    out[w] = '\0';
    return YL_OK;
}

static int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

long yl_url_percent_decode(const char *in, size_t length, char *out, size_t capacity) {
    size_t w = 0;
    for (size_t i = 0; i < length; i++) {
        char c = in[i];
        if (c == '%' && i + 2 < length) {
            int hi = hex_value(in[i + 1]), lo = hex_value(in[i + 2]);
            if (hi >= 0 && lo >= 0) {
                c = (char)(hi * 16 + lo);
                i += 2;
            }
        }
        if (w + 1 >= capacity) return -1;
        out[w++] = c;
    }
    if (w >= capacity) return -1;
    out[w] = '\0';
    return (long)w;
}

yl_status yl_url_query_param(const char *url, const char *name, char *out, size_t capacity) {
    const char *query = strchr(url, '?');
    size_t name_length = strlen(name);
    if (query) {
        const char *end = query + 1 + strcspn(query + 1, "#");
        for (const char *p = query + 1; p < end;) {
            size_t field_length = strcspn(p, "&#");
            if ((size_t)(end - p) < field_length) field_length = (size_t)(end - p);
            if (field_length > name_length && !strncmp(p, name, name_length) && p[name_length] == '=') {
                if (yl_url_percent_decode(p + name_length + 1, field_length - name_length - 1, out, capacity) < 0)
                    return yl_error(YL_ERR_FORMAT, "url: query parameter '%s' is too long", name);
                return YL_OK;
            }
            p += field_length + 1;
        }
    }
    return yl_error(YL_ERR_FORMAT, "url: no query parameter '%s'", name);
}

static int query_looks_signed(const char *query) {
    static const char *const markers[] = {"signature", "x-amz-", "x-goog-", "sig=", "token", "key=", "sv=", "se="};
    char lower[512];
    size_t n = strlen(query);
    if (n >= sizeof lower) return 1;  // long queries are typical of presigned links
    for (size_t i = 0; i <= n; i++) lower[i] = (char)tolower((unsigned char)query[i]);
    for (size_t i = 0; i < sizeof markers / sizeof markers[0]; i++)
        if (strstr(lower, markers[i])) return 1;
    return 0;
}

void yl_url_redact(const char *url, char *out, size_t capacity) {
    if (capacity == 0) return;
    if (!url) {
        snprintf(out, capacity, "(null)");
        return;
    }
    const char *sep = strstr(url, "://");
    const char *rest = url;
    size_t prefix_length = 0;
    if (sep) {
        const char *authority = sep + 3;
        size_t authority_length = strcspn(authority, "/?#");
        const char *at = NULL;
        for (size_t i = 0; i < authority_length; i++)
            if (authority[i] == '@') at = authority + i;
        prefix_length = (size_t)(authority - url);
        rest = at ? at + 1 : authority;
    }
    const char *query = strchr(rest, '?');
    int drop_query = query && query_looks_signed(query + 1);
    size_t rest_length = drop_query ? (size_t)(query - rest) : strlen(rest);
    snprintf(out, capacity, "%.*s%.*s%s", (int)prefix_length, url, (int)rest_length, rest,
             drop_query ? "?<query hidden>" : "");
}

static const char base64url_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

long yl_base64url_encode(const unsigned char *in, size_t length, char *out, size_t capacity) {
    size_t w = 0;
    for (size_t i = 0; i < length; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16;
        size_t n = length - i < 3 ? length - i : 3;
        if (n > 1) v |= (uint32_t)in[i + 1] << 8;
        if (n > 2) v |= in[i + 2];
        size_t chars = n + 1;
        if (w + chars >= capacity) return -1;
        for (size_t k = 0; k < chars; k++) out[w++] = base64url_alphabet[(v >> (18 - 6 * k)) & 63];
    }
    if (w >= capacity) return -1;
    out[w] = '\0';
    return (long)w;
}

static int base64_value(char c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '-' || c == '+') return 62;
    if (c == '_' || c == '/') return 63;
    return -1;
}

long yl_base64url_decode(const char *in, size_t length, unsigned char *out, size_t capacity) {
    while (length > 0 && in[length - 1] == '=') length--;
    if (length % 4 == 1) return -1;
    size_t w = 0;
    uint32_t bits = 0;
    int nbits = 0;
    for (size_t i = 0; i < length; i++) {
        int v = base64_value(in[i]);
        if (v < 0) return -1;
        bits = (bits << 6) | (uint32_t)v;
        nbits += 6;
        if (nbits >= 8) {
            nbits -= 8;
            if (w >= capacity) return -1;
            out[w++] = (unsigned char)((bits >> nbits) & 0xff);
        }
    }
    return (long)w;
}

// Copies the last path segment of `path[0..length)` (decoded, made safe) into out.
static void safe_basename(const char *path, size_t length, char *out, size_t capacity) {
    char decoded[1024];
    long n = yl_url_percent_decode(path, length, decoded, sizeof decoded);
    if (n < 0) {
        n = (long)(length < sizeof decoded - 1 ? length : sizeof decoded - 1);
        memcpy(decoded, path, (size_t)n);
        decoded[n] = '\0';
    }
    const char *base = decoded;
    for (const char *p = decoded; *p; p++)
        if (*p == '/' || *p == '\\') base = p + 1;
    size_t w = 0;
    for (const unsigned char *p = (const unsigned char *)base; *p && w + 1 < capacity; p++) {
        unsigned char c = *p;
        out[w++] = (c < 0x20 || c == 0x7f || c == ':' || c == '*' || c == '?' || c == '"' || c == '<' ||
                    c == '>' || c == '|')
                       ? '_'
                       : (char)c;
    }
    // Bytes map one to one, so base[w] is the first byte left out: never cut a UTF-8 sequence.
    while (w > 0 && ((unsigned char)base[w] & 0xc0) == 0x80) w--;
    out[w] = '\0';
    if (out[0] == '.') out[0] = '_';
    if (out[0] == '\0') snprintf(out, capacity, "image");
}

static uint64_t fnv1a64(const char *text) {
    uint64_t h = 1469598103934665603ull;
    for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
        h ^= *p;
        h *= 1099511628211ull;
    }
    return h;
}

// The part of a data URL that names the file: the path for upload and plain URLs, the `d`
// parameter for local files, the decoded `fileuri` for presign links.
static void file_part(const char *url, char *out, size_t capacity) {
    char value[2048];
    if (strstr(url, "/data/local-files") && yl_url_query_param(url, "d", value, sizeof value) == YL_OK) {
        snprintf(out, capacity, "%s", value);
        return;
    }
    if (strstr(url, "/presign") && yl_url_query_param(url, "fileuri", value, sizeof value) == YL_OK) {
        unsigned char decoded[2048];
        long n = yl_base64url_decode(value, strlen(value), decoded, sizeof decoded - 1);
        if (n > 0) {
            decoded[n] = '\0';
            if (strstr((const char *)decoded, "://")) {
                snprintf(out, capacity, "%s", (const char *)decoded);
                return;
            }
        }
        snprintf(out, capacity, "%s", value);  // older servers passed the raw URI
        return;
    }
    const char *start = url;
    const char *scheme = strstr(url, "://");
    if (scheme) {
        start = scheme + 3;
        start += strcspn(start, "/?#");
    }
    // Label Studio's own paths ("/data/upload/...") carry no fragment: a '#' there is in the name.
    size_t length = strcspn(start, yl_url_is_http(url) ? "?#" : "?");
    snprintf(out, capacity, "%.*s", (int)length, start);
}

yl_status yl_url_image_file_name(const char *data_url, char *out, size_t capacity) {
    if (!data_url || !*data_url || !out || capacity < 32)
        return yl_error(YL_ERR_INVALID_ARG, "image file name: empty URL or buffer too small");
    char part[2048];
    file_part(data_url, part, sizeof part);
    char base[256];
    safe_basename(part, strlen(part), base, sizeof base);
    const char *path = data_url;
    if (yl_url_is_http(data_url)) {
        path = strstr(data_url, "://") + 3;
        path += strcspn(path, "/");
    }
    int is_upload = !strncmp(path, "/data/upload/", 13) || !strncmp(path, "upload/", 7) ||
                    !strncmp(path, "/upload/", 8);
    int written = is_upload ? snprintf(out, capacity, "%s", base)
                            : snprintf(out, capacity, "%08x__%s", (unsigned)(fnv1a64(data_url) & 0xffffffffu), base);
    if (written < 0 || (size_t)written >= capacity)
        return yl_error(YL_ERR_INVALID_ARG, "image file name: name of '%s' does not fit %zu bytes", base, capacity);
    return YL_OK;
}
