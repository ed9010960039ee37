// Size-bounded file cache (see file_cache.h).
#define _POSIX_C_SOURCE 200809L
#include "cli/file_cache.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "cli/fs_util.h"

void yl_file_cache_touch(const char *path) {
    (void)utimensat(AT_FDCWD, path, NULL, 0);
}

typedef struct {
    char *name;
    uint64_t bytes;
    struct timespec used;
} cached_file;

static int oldest_first(const void *a, const void *b) {
    const cached_file *x = a, *y = b;
    if (x->used.tv_sec != y->used.tv_sec) return x->used.tv_sec < y->used.tv_sec ? -1 : 1;
    if (x->used.tv_nsec != y->used.tv_nsec) return x->used.tv_nsec < y->used.tv_nsec ? -1 : 1;
    return strcmp(x->name, y->name);
}

yl_status yl_file_cache_trim(const char *dir, uint64_t max_bytes, int min_age_s, yl_file_cache_trim_result *result) {
    yl_file_cache_trim_result r = {0};
    char **names = NULL;
    int count = 0;
    YL_TRY(yl_fs_list_dir(dir, &names, &count));
    cached_file *files = calloc((size_t)(count > 0 ? count : 1), sizeof *files);
    if (!files) {
        yl_fs_free_names(names, count);
        return yl_error(YL_ERR_OOM, "cache %s: out of memory", dir);
    }
    int n = 0;
    char path[4096];
    yl_status st = YL_OK;
    for (int i = 0; i < count && st == YL_OK; i++) {
        st = yl_path_format(path, sizeof path, "cache", "%s/%s", dir, names[i]);
        struct stat info;
        // A file that vanished meanwhile (another trim, a failed download) is simply not counted.
        if (st != YL_OK || stat(path, &info) != 0 || !S_ISREG(info.st_mode)) continue;
        r.bytes_before += (uint64_t)info.st_size;
        if (strstr(names[i], ".dl.")) continue;
        files[n++] = (cached_file){names[i], (uint64_t)info.st_size, info.st_mtim};
    }
    r.bytes_after = r.bytes_before;
    if (st == YL_OK && r.bytes_before > max_bytes) {
        qsort(files, (size_t)n, sizeof *files, oldest_first);
        time_t keep_after = time(NULL) - min_age_s;
        for (int i = 0; i < n && r.bytes_after > max_bytes; i++) {
            if (files[i].used.tv_sec >= keep_after) break;  // sorted: every later file is younger
            st = yl_path_format(path, sizeof path, "cache", "%s/%s", dir, files[i].name);
            if (st != YL_OK) break;
            if (remove(path) != 0 && errno != ENOENT) {
                st = yl_error(YL_ERR_IO, "cache: cannot remove %s: %s", path, strerror(errno));
                break;
            }
            r.bytes_after -= files[i].bytes;
            r.files_removed++;
        }
    }
    free(files);
    yl_fs_free_names(names, count);
    if (result) *result = r;
    return st;
}
