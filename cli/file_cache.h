// A folder of cached files (serve's downloaded images) kept under a size bound: the files used
// least recently go first. "Used" is the file's mtime, which yl_file_cache_touch sets on every
// hit, so the order survives restarts and needs no index file.
#pragma once
#include <stdint.h>

#include "engine/core/status.h"

// Marks a cached file as used now. Failure is harmless (the file only ages sooner).
void yl_file_cache_touch(const char *path);

typedef struct {
    uint64_t bytes_before, bytes_after;  // regular files in the folder
    int files_removed;
} yl_file_cache_trim_result;

// Removes the least recently used regular files of `dir` (not recursive) until their total is at
// most max_bytes. Files used within the last min_age_s seconds are kept even when that leaves
// the total above the bound (another request may be about to read them), and so are names
// holding ".dl." (downloads in progress). result may be NULL.
yl_status yl_file_cache_trim(const char *dir, uint64_t max_bytes, int min_age_s, yl_file_cache_trim_result *result);
