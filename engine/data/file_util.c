#include "file_util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/types.h>

yl_status yl_read_file(const char *path, size_t max_bytes, char **out_text, size_t *out_size) {
    *out_text = NULL;
    if (out_size) *out_size = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return yl_error(YL_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    size_t capacity = 4096, size = 0;
    char *text = malloc(capacity + 1);
    if (!text) {
        fclose(f);
        return yl_error(YL_ERR_OOM, "%s: out of memory", path);
    }
    for (;;) {
        if (size == capacity) {
            if (capacity >= max_bytes) {
                free(text);
                fclose(f);
                return yl_error(YL_ERR_FORMAT, "%s: larger than %zu bytes", path, max_bytes);
            }
            size_t grown = capacity * 2 > max_bytes ? max_bytes : capacity * 2;
            char *bigger = realloc(text, grown + 1);
            if (!bigger) {
                free(text);
                fclose(f);
                return yl_error(YL_ERR_OOM, "%s: out of memory", path);
            }
            text = bigger;
            capacity = grown;
        }
        size_t got = fread(text + size, 1, capacity - size, f);
        size += got;
        if (got == 0) break;
    }
    int failed = ferror(f);
    fclose(f);
    if (failed) {
        free(text);
        return yl_error(YL_ERR_IO, "%s: read error", path);
    }
    text[size] = '\0';
    *out_text = text;
    if (out_size) *out_size = size;
    return YL_OK;
}

char *yl_strdup(const char *s) {
    size_t n = strlen(s) + 1;
    char *copy = malloc(n);
    if (copy) memcpy(copy, s, n);
    return copy;
}

int yl_path_is_absolute(const char *path) { return path[0] == '/'; }

char *yl_path_join(const char *head, const char *tail) {
    if (yl_path_is_absolute(tail) || !head[0]) return yl_strdup(tail);
    size_t head_len = strlen(head), tail_len = strlen(tail);
    while (head_len > 1 && head[head_len - 1] == '/') head_len--;
    char *joined = malloc(head_len + 1 + tail_len + 1);
    if (!joined) return NULL;
    memcpy(joined, head, head_len);
    size_t at = head_len;
    if (joined[at - 1] != '/') joined[at++] = '/';
    memcpy(joined + at, tail, tail_len + 1);
    return joined;
}

char *yl_path_dirname(const char *path) {
    const char *slash = strrchr(path, '/');
    if (!slash) return yl_strdup(".");
    if (slash == path) return yl_strdup("/");
    size_t n = (size_t)(slash - path);
    char *dir = malloc(n + 1);
    if (!dir) return NULL;
    memcpy(dir, path, n);
    dir[n] = '\0';
    return dir;
}

int yl_is_directory(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

int yl_is_regular_file(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

yl_status yl_make_directories(const char *path) {
    char *copy = yl_strdup(path);
    if (!copy) return yl_error(YL_ERR_OOM, "%s: out of memory", path);
    for (char *p = copy + 1;; p++) {
        if (*p != '/' && *p != '\0') continue;
        char saved = *p;
        *p = '\0';
        if (mkdir(copy, 0755) != 0 && errno != EEXIST) {
            yl_status status = yl_error(YL_ERR_IO, "%s: cannot create directory: %s", copy, strerror(errno));
            free(copy);
            return status;
        }
        if (!yl_is_directory(copy)) {
            yl_status status = yl_error(YL_ERR_IO, "%s: exists and is not a directory", copy);
            free(copy);
            return status;
        }
        *p = saved;
        if (saved == '\0') break;
    }
    free(copy);
    return YL_OK;
}

int yl_has_image_extension(const char *path) {
    static const char *const extensions[] = {"bmp", "dng", "jpeg", "jpg",  "mpo", "png",
                                             "tif", "tiff", "webp", "pfm", "heic"};
    const char *slash = strrchr(path, '/');
    const char *dot = strrchr(slash ? slash : path, '.');
    if (!dot) return 0;
    for (size_t i = 0; i < sizeof extensions / sizeof extensions[0]; i++)
        if (!strcasecmp(dot + 1, extensions[i])) return 1;
    return 0;
}
