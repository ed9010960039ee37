// Helpers shared by the data-pipeline tests: temporary folders, small files, comparisons.
// Header-only, like test_common.h.
#pragma once
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/data/file_util.h"

// A fresh folder under /tmp; exits the test (code 2) if it cannot be made.
static inline char *data_test_tempdir(void) {
    char *path = yl_strdup("/tmp/yoloop_data_test_XXXXXX");
    if (!path || !mkdtemp(path)) {
        fprintf(stderr, "test: cannot create a temporary folder\n");
        exit(2);
    }
    return path;
}

static inline void data_test_remove_tree(const char *path) {
    struct stat st;
    if (lstat(path, &st) != 0) return;
    if (S_ISDIR(st.st_mode)) {
        DIR *dir = opendir(path);
        struct dirent *entry;
        while (dir && (entry = readdir(dir)) != NULL) {
            if (!strcmp(entry->d_name, ".") || !strcmp(entry->d_name, "..")) continue;
            char *child = yl_path_join(path, entry->d_name);
            if (child) data_test_remove_tree(child);
            free(child);
        }
        if (dir) closedir(dir);
        rmdir(path);
    } else {
        unlink(path);
    }
}

// Writes `text` to dir/name (creating parent folders); exits on failure.
static inline char *data_test_write(const char *dir, const char *name, const char *text) {
    char *path = yl_path_join(dir, name);
    char *parent = path ? yl_path_dirname(path) : NULL;
    FILE *f = NULL;
    if (!parent || yl_make_directories(parent) != YL_OK || !(f = fopen(path, "wb"))) {
        fprintf(stderr, "test: cannot write %s/%s\n", dir, name);
        exit(2);
    }
    fputs(text, f);
    fclose(f);
    free(parent);
    return path;  // caller frees
}

static inline int data_test_contains(const char *haystack, const char *needle) {
    return haystack && needle && strstr(haystack, needle) != NULL;
}

// 1 when both files exist and hold the same bytes.
static inline int data_test_same_file(const char *a, const char *b) {
    char *x = NULL, *y = NULL;
    size_t nx = 0, ny = 0;
    int same = yl_read_file(a, (size_t)1 << 26, &x, &nx) == YL_OK && yl_read_file(b, (size_t)1 << 26, &y, &ny) == YL_OK &&
               nx == ny && memcmp(x, y, nx) == 0;
    free(x);
    free(y);
    return same;
}
