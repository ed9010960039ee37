// File-system helpers that never leave a half-written file behind (see fs_util.h).
#define _DEFAULT_SOURCE  // flock, fchmod; dirent d_type not relied on
#define _POSIX_C_SOURCE 200809L
#include "cli/fs_util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#define YL_FS_PATH_MAX 4096

// ---- small helpers ------------------------------------------------------------------------

static yl_status errno_error(const char *what, const char *path) {
    return yl_error(YL_ERR_IO, "%s %s: %s", what, path, strerror(errno));
}

// The parent directory of `path` into `out` ("." when it has no slash).
static void parent_dir(const char *path, char *out, size_t size) {
    const char *slash = strrchr(path, '/');
    if (!slash) {
        snprintf(out, size, ".");
    } else if (slash == path) {
        snprintf(out, size, "/");
    } else {
        size_t n = (size_t)(slash - path);
        if (n >= size) n = size - 1;
        memcpy(out, path, n);
        out[n] = '\0';
    }
}

static yl_status write_fully(int fd, const void *data, size_t size, const char *path) {
    const char *p = data;
    while (size > 0) {
        ssize_t n = write(fd, p, size);
        if (n < 0) {
            if (errno == EINTR) continue;
            return errno_error("write", path);
        }
        p += n;
        size -= (size_t)n;
    }
    return YL_OK;
}

static yl_status temp_path_for(const char *path, char *tmp, size_t size) {
    int n = snprintf(tmp, size, "%s.tmp.%ld", path, (long)getpid());
    if (n < 0 || (size_t)n >= size) return yl_error(YL_ERR_INVALID_ARG, "path too long: %s", path);
    return YL_OK;
}

// ---- queries ------------------------------------------------------------------------------

bool yl_fs_exists(const char *path) {
    struct stat st;
    return path && lstat(path, &st) == 0;
}

bool yl_fs_is_dir(const char *path) {
    struct stat st;
    return path && stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

bool yl_fs_is_file(const char *path) {
    struct stat st;
    return path && stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

yl_status yl_fs_mkdirs(const char *path) {
    if (!path || !path[0]) return yl_error(YL_ERR_INVALID_ARG, "mkdirs: empty path");
    char buf[YL_FS_PATH_MAX];
    size_t len = strlen(path);
    if (len >= sizeof buf) return yl_error(YL_ERR_INVALID_ARG, "mkdirs: path too long: %s", path);
    memcpy(buf, path, len + 1);
    for (size_t i = 1; i <= len; i++) {
        if (buf[i] != '/' && buf[i] != '\0') continue;
        char saved = buf[i];
        buf[i] = '\0';
        if (mkdir(buf, 0755) != 0 && errno != EEXIST) return errno_error("mkdir", buf);
        if (!yl_fs_is_dir(buf)) {
            return yl_error(YL_ERR_IO, "mkdir %s: exists and is not a directory", buf);
        }
        buf[i] = saved;
    }
    return YL_OK;
}

// ---- durable writes -----------------------------------------------------------------------

yl_status yl_fs_fsync_dir(const char *dir) {
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd < 0) return errno_error("open directory", dir);
    // Some file systems refuse fsync on directories (EINVAL); the rename is then as durable
    // as that file system allows.
    if (fsync(fd) != 0 && errno != EINVAL && errno != EROFS) {
        yl_status s = errno_error("fsync directory", dir);
        close(fd);
        return s;
    }
    close(fd);
    return YL_OK;
}

yl_status yl_fs_rename_durable(const char *from, const char *to) {
    if (rename(from, to) != 0) {
        return yl_error(YL_ERR_IO, "rename %s -> %s: %s", from, to, strerror(errno));
    }
    char a[YL_FS_PATH_MAX], b[YL_FS_PATH_MAX];
    parent_dir(to, a, sizeof a);
    parent_dir(from, b, sizeof b);
    YL_TRY(yl_fs_fsync_dir(a));
    if (strcmp(a, b) != 0) YL_TRY(yl_fs_fsync_dir(b));
    return YL_OK;
}

// Writes the temp file, fsyncs it, renames it over `path` and fsyncs the parent.
// `fill` writes the content into fd (a buffer, or another file's bytes).
typedef yl_status (*fill_fn)(int fd, const char *tmp, void *ctx);

static yl_status write_atomic_with(const char *path, fill_fn fill, void *ctx) {
    if (!path || !path[0]) return yl_error(YL_ERR_INVALID_ARG, "write: empty path");
    char tmp[YL_FS_PATH_MAX];
    YL_TRY(temp_path_for(path, tmp, sizeof tmp));
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return errno_error("create", tmp);
    yl_status s = fill(fd, tmp, ctx);
    if (s == YL_OK && fsync(fd) != 0) s = errno_error("fsync", tmp);
    if (close(fd) != 0 && s == YL_OK) s = errno_error("close", tmp);
    if (s == YL_OK) s = yl_fs_rename_durable(tmp, path);
    if (s != YL_OK) unlink(tmp);
    return s;
}

typedef struct {
    const void *data;
    size_t size;
} buffer_ctx;

static yl_status fill_buffer(int fd, const char *tmp, void *ctx) {
    buffer_ctx *b = ctx;
    return write_fully(fd, b->data, b->size, tmp);
}

yl_status yl_fs_write_atomic(const char *path, const void *data, size_t size) {
    if (size > 0 && !data) return yl_error(YL_ERR_INVALID_ARG, "write %s: NULL data", path ? path : "(null)");
    buffer_ctx b = {data, size};
    return write_atomic_with(path, fill_buffer, &b);
}

yl_status yl_fs_read_all(const char *path, char **data, size_t *size) {
    *data = NULL;
    if (size) *size = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return errno_error("open", path);
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap + 1);
    if (!buf) {
        close(fd);
        return yl_error(YL_ERR_OOM, "read %s: out of memory", path);
    }
    for (;;) {
        if (len == cap) {
            char *grown = realloc(buf, cap * 2 + 1);
            if (!grown) {
                free(buf);
                close(fd);
                return yl_error(YL_ERR_OOM, "read %s: out of memory", path);
            }
            buf = grown;
            cap *= 2;
        }
        ssize_t n = read(fd, buf + len, cap - len);
        if (n < 0) {
            if (errno == EINTR) continue;
            yl_status s = errno_error("read", path);
            free(buf);
            close(fd);
            return s;
        }
        if (n == 0) break;
        len += (size_t)n;
    }
    close(fd);
    buf[len] = '\0';
    *data = buf;
    if (size) *size = len;
    return YL_OK;
}

typedef struct {
    int src;
    const char *from;
} copy_ctx;

static yl_status fill_copy(int fd, const char *tmp, void *ctx) {
    copy_ctx *c = ctx;
    char buf[65536];
    for (;;) {
        ssize_t n = read(c->src, buf, sizeof buf);
        if (n < 0) {
            if (errno == EINTR) continue;
            return errno_error("read", c->from);
        }
        if (n == 0) return YL_OK;
        YL_TRY(write_fully(fd, buf, (size_t)n, tmp));
    }
}

yl_status yl_fs_copy_file(const char *from, const char *to) {
    int src = open(from, O_RDONLY | O_CLOEXEC);
    if (src < 0) return errno_error("open", from);
    copy_ctx c = {src, from};
    yl_status s = write_atomic_with(to, fill_copy, &c);
    close(src);
    return s;
}

yl_status yl_fs_link_or_copy(const char *from, const char *to) {
    if (yl_fs_exists(to)) return yl_error(YL_ERR_IO, "link %s -> %s: target exists", from, to);
    if (link(from, to) == 0) return YL_OK;
    if (errno == EXDEV || errno == EPERM || errno == EMLINK || errno == ENOTSUP) return yl_fs_copy_file(from, to);
    return yl_error(YL_ERR_IO, "link %s -> %s: %s", from, to, strerror(errno));
}

// ---- trees --------------------------------------------------------------------------------

static yl_status remove_recursive(const char *path) {
    struct stat st;
    if (lstat(path, &st) != 0) {
        if (errno == ENOENT) return YL_OK;
        return errno_error("stat", path);
    }
    if (S_ISDIR(st.st_mode)) {
        DIR *d = opendir(path);
        if (!d) return errno_error("opendir", path);
        struct dirent *e;
        yl_status s = YL_OK;
        char child[YL_FS_PATH_MAX];
        while (s == YL_OK && (e = readdir(d)) != NULL) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
            int n = snprintf(child, sizeof child, "%s/%s", path, e->d_name);
            if (n < 0 || (size_t)n >= sizeof child) {
                s = yl_error(YL_ERR_IO, "remove: path too long under %s", path);
                break;
            }
            s = remove_recursive(child);
        }
        closedir(d);
        if (s != YL_OK) return s;
        if (rmdir(path) != 0 && errno != ENOENT) return errno_error("rmdir", path);
        return YL_OK;
    }
    if (unlink(path) != 0 && errno != ENOENT) return errno_error("unlink", path);
    return YL_OK;
}

yl_status yl_fs_remove_tree(const char *path) {
    if (!path || !path[0] || !strcmp(path, "/") || !strcmp(path, ".") || !strcmp(path, "./") ||
        !strcmp(path, "..")) {
        return yl_error(YL_ERR_INVALID_ARG, "remove_tree: refusing to remove '%s'", path ? path : "(null)");
    }
    return remove_recursive(path);
}

yl_status yl_fs_remove_stale_temps(const char *dir) {
    char **names = NULL;
    int count = 0;
    YL_TRY(yl_fs_list_dir(dir, &names, &count));
    yl_status s = YL_OK;
    char child[YL_FS_PATH_MAX];
    for (int i = 0; i < count && s == YL_OK; i++) {
        if (!strstr(names[i], ".tmp.")) continue;
        int n = snprintf(child, sizeof child, "%s/%s", dir, names[i]);
        if (n < 0 || (size_t)n >= sizeof child) {
            s = yl_error(YL_ERR_IO, "remove temps: path too long under %s", dir);
            break;
        }
        s = remove_recursive(child);
    }
    yl_fs_free_names(names, count);
    return s;
}

static int compare_names(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

yl_status yl_fs_list_dir(const char *dir, char ***names, int *count) {
    *names = NULL;
    *count = 0;
    DIR *d = opendir(dir);
    if (!d) return errno_error("opendir", dir);
    int n = 0, cap = 16;
    char **list = malloc((size_t)cap * sizeof *list);
    if (!list) {
        closedir(d);
        return yl_error(YL_ERR_OOM, "list %s: out of memory", dir);
    }
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        if (n == cap) {
            char **grown = realloc(list, (size_t)cap * 2 * sizeof *list);
            if (!grown) break;
            list = grown;
            cap *= 2;
        }
        list[n] = strdup(e->d_name);
        if (!list[n]) break;
        n++;
    }
    bool complete = (e == NULL);
    closedir(d);
    if (!complete) {
        yl_fs_free_names(list, n);
        return yl_error(YL_ERR_OOM, "list %s: out of memory", dir);
    }
    qsort(list, (size_t)n, sizeof *list, compare_names);
    *names = list;
    *count = n;
    return YL_OK;
}

void yl_fs_free_names(char **names, int count) {
    if (!names) return;
    for (int i = 0; i < count; i++) free(names[i]);
    free(names);
}

// ---- SHA-256 ------------------------------------------------------------------------------

static void to_hex(const unsigned char *digest, unsigned int len, char hex[65]) {
    static const char digits[] = "0123456789abcdef";
    for (unsigned int i = 0; i < len && i < 32; i++) {
        hex[2 * i] = digits[digest[i] >> 4];
        hex[2 * i + 1] = digits[digest[i] & 15];
    }
    hex[64] = '\0';
}

void yl_sha256_hex(const void *data, size_t size, char hex[65]) {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (!EVP_Digest(data ? data : "", size, digest, &len, EVP_sha256(), NULL) || len != 32) {
        memset(hex, '0', 64);  // unreachable with a working libcrypto; never matches a real hash
        hex[64] = '\0';
        return;
    }
    to_hex(digest, len, hex);
}

yl_status yl_fs_sha256_file(const char *path, char hex[65]) {
    hex[0] = '\0';
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return errno_error("open", path);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx || !EVP_DigestInit_ex(ctx, EVP_sha256(), NULL)) {
        EVP_MD_CTX_free(ctx);
        close(fd);
        return yl_error(YL_ERR_IO, "sha256 %s: OpenSSL digest init failed", path);
    }
    yl_status s = YL_OK;
    unsigned char buf[1 << 16];
    for (;;) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n < 0) {
            if (errno == EINTR) continue;
            s = errno_error("read", path);
            break;
        }
        if (n == 0) break;
        if (!EVP_DigestUpdate(ctx, buf, (size_t)n)) {
            s = yl_error(YL_ERR_IO, "sha256 %s: OpenSSL digest update failed", path);
            break;
        }
    }
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (s == YL_OK && (!EVP_DigestFinal_ex(ctx, digest, &len) || len != 32)) {
        s = yl_error(YL_ERR_IO, "sha256 %s: OpenSSL digest final failed", path);
    }
    EVP_MD_CTX_free(ctx);
    close(fd);
    if (s == YL_OK) to_hex(digest, len, hex);
    return s;
}

// ---- time ---------------------------------------------------------------------------------

static void utc_format(const char *format, char out[32]) {
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    if (strftime(out, 32, format, &tm) == 0) out[0] = '\0';
}

void yl_utc_now_iso(char out[32]) { utc_format("%Y-%m-%dT%H:%M:%SZ", out); }
void yl_utc_now_stamp(char out[32]) { utc_format("%Y%m%dT%H%M%SZ", out); }

// ---- lock ---------------------------------------------------------------------------------

yl_status yl_fs_lock_dir(const char *dir, bool wait, yl_fs_lock *lock) {
    lock->fd = -1;
    char path[YL_FS_PATH_MAX];
    int n = snprintf(path, sizeof path, "%s/.lock", dir);
    if (n < 0 || (size_t)n >= sizeof path) return yl_error(YL_ERR_INVALID_ARG, "lock: path too long: %s", dir);
    // Not O_TRUNC: the holder's pid must stay readable until we own the lock.
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return errno_error("open lock", path);
    for (;;) {
        if (flock(fd, LOCK_EX | (wait ? 0 : LOCK_NB)) == 0) break;
        if (errno == EINTR) continue;
        if (errno == EWOULDBLOCK) {
            char holder[32] = {0};
            ssize_t got = pread(fd, holder, sizeof holder - 1, 0);
            if (got < 0) got = 0;
            holder[got] = '\0';
            holder[strcspn(holder, "\r\n")] = '\0';
            close(fd);
            return yl_error(YL_ERR_IO, "%s is locked by another process (pid %s); is a cycle running?", path,
                            holder[0] ? holder : "unknown");
        }
        yl_status s = errno_error("flock", path);
        close(fd);
        return s;
    }
    char pid[32];
    int len = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) != 0 || pwrite(fd, pid, (size_t)len, 0) != len) {
        yl_status s = errno_error("write lock", path);
        close(fd);
        return s;
    }
    lock->fd = fd;
    return YL_OK;
}

void yl_fs_unlock(yl_fs_lock *lock) {
    if (!lock || lock->fd < 0) return;
    // Clear the pid first so a reader never names a process that no longer holds it.
    if (ftruncate(lock->fd, 0) != 0) { /* the flock release below is what matters */
    }
    flock(lock->fd, LOCK_UN);
    close(lock->fd);
    lock->fd = -1;
}

yl_status yl_path_format(char *out, size_t size, const char *what, const char *fmt, ...) {
    va_list args;
    va_start(args, fmt);
    int n = vsnprintf(out, size, fmt, args);
    va_end(args);
    if (n < 0 || (size_t)n >= size) return yl_error(YL_ERR_INVALID_ARG, "%s: path too long (%d bytes)", what, n);
    return YL_OK;
}
