// cli/file_cache.c: the least recently used files go first, down to the bound and no further;
// recently used files and downloads in progress stay; a touch moves a file to the back.
#define _POSIX_C_SOURCE 200809L
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli/file_cache.h"
#include "cli/fs_util.h"
#include "test_common.h"

static char root[256];

// A file of `bytes` bytes last used `age_s` seconds ago.
static void put(const char *name, size_t bytes, long age_s) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", root, name);
    char *data = calloc(bytes > 0 ? bytes : 1, 1);
    CHECK_OK(yl_fs_write_atomic(path, data, bytes));
    free(data);
    struct timespec when[2] = {{.tv_sec = time(NULL) - age_s}, {.tv_sec = time(NULL) - age_s}};
    CHECK(utimensat(AT_FDCWD, path, when, 0) == 0, "utimensat %s", path);
}

static bool present(const char *name) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", root, name);
    return yl_fs_is_file(path);
}

static void test_trim_order_and_bound(void) {
    put("a.png", 1000, 500);  // oldest
    put("b.png", 1000, 400);
    put("c.png", 1000, 300);
    put("d.png", 1000, 200);
    put("e.png", 1000, 100);  // newest
    yl_file_cache_trim_result r;
    // Under the bound: nothing goes.
    CHECK_OK(yl_file_cache_trim(root, 5000, 60, &r));
    CHECK(r.files_removed == 0 && r.bytes_before == 5000 && r.bytes_after == 5000, "under the bound: removed %d",
          r.files_removed);
    // A touch makes a the most recently used: b and c go for a bound of 3000, not a.
    char path[512];
    snprintf(path, sizeof path, "%s/a.png", root);
    yl_file_cache_touch(path);
    CHECK_OK(yl_file_cache_trim(root, 3000, 0, &r));
    CHECK(r.files_removed == 2 && r.bytes_after == 3000, "removed %d, %llu bytes left", r.files_removed,
          (unsigned long long)r.bytes_after);
    CHECK(present("a.png") && !present("b.png") && !present("c.png") && present("d.png") && present("e.png"),
          "the two least recently used (b, c) go; the touched a stays");
    // A bound between two sizes removes just enough: 2500 -> one more file (d).
    CHECK_OK(yl_file_cache_trim(root, 2500, 0, &r));
    CHECK(r.files_removed == 1 && r.bytes_after == 2000 && !present("d.png"), "one more removed, %llu left",
          (unsigned long long)r.bytes_after);
}

static void test_young_files_and_downloads_stay(void) {
    CHECK_OK(yl_fs_remove_tree(root));
    CHECK_OK(yl_fs_mkdirs(root));
    put("old.png", 1000, 3600);
    put("young.png", 1000, 5);
    put("x.png.dl.123.0", 1000, 3600);  // a download in progress (its writer owns it)
    char sub[512];
    snprintf(sub, sizeof sub, "%s/folder", root);
    CHECK_OK(yl_fs_mkdirs(sub));
    yl_file_cache_trim_result r;
    CHECK_OK(yl_file_cache_trim(root, 0, 60, &r));
    CHECK(r.bytes_before == 3000, "counted %llu bytes", (unsigned long long)r.bytes_before);
    CHECK(r.files_removed == 1 && !present("old.png"), "the old file goes (removed %d)", r.files_removed);
    CHECK(present("young.png"), "a file used within min_age_s stays even over the bound");
    CHECK(present("x.png.dl.123.0") && yl_fs_is_dir(sub), "a download in progress and a folder stay");
    CHECK(r.bytes_after == 2000, "%llu bytes left above the bound of 0", (unsigned long long)r.bytes_after);
}

static void test_missing_folder(void) {
    yl_status st = yl_file_cache_trim("/nonexistent/yl_cache", 0, 0, NULL);
    CHECK(st != YL_OK && strstr(yl_last_error(), "/nonexistent/yl_cache"), "a missing folder is an error naming it: %s",
          yl_last_error());
}

int main(void) {
    snprintf(root, sizeof root, "/tmp/yl_test_file_cache.%ld", (long)getpid());
    if (yl_fs_mkdirs(root) != YL_OK) {
        fprintf(stderr, "cannot create %s: %s\n", root, yl_last_error());
        return 1;
    }
    test_trim_order_and_bound();
    test_young_files_and_downloads_stay();
    test_missing_folder();
    yl_fs_remove_tree(root);
    return yl_test_finish("test_file_cache");
}
