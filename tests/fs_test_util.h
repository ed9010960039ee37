// Whole-file text helpers for the tests of the workspace files (registry, history, snapshots,
// report).
#pragma once
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/fs_util.h"

// Writes text to path (atomically); a failure ends the test run (exit 2: setup, not a result).
static inline void yl_test_write_text(const char *path, const char *text) {
    if (yl_fs_write_atomic(path, text, strlen(text)) != YL_OK) {
        fprintf(stderr, "setup: %s\n", yl_last_error());
        exit(2);
    }
}

// The file's text (malloc'd, NUL-terminated), NULL when it cannot be read.
static inline char *yl_test_read_text(const char *path) {
    char *data = NULL;
    size_t size = 0;
    if (yl_fs_read_all(path, &data, &size) != YL_OK) return NULL;
    return data;
}
