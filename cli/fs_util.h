// File-system helpers for the parts of the CLI that must never lose data (the registry, the
// history, snapshots, the workspace): atomic writes, durable renames, directory trees, SHA-256,
// and an advisory lock that keeps two cycles out of one workspace.
//
// "Atomic" here means: the data goes to `<path>.tmp.<pid>`, is fsync'd, renamed over `path`, and
// the parent directory is fsync'd, so after a crash (kill -9, power loss) `path` holds either the
// old or the new content in full, never a mix or nothing. Leftover `*.tmp.*` files of a killed
// writer are harmless and yl_fs_remove_stale_temps() cleans them.
//
// Every function returns a yl_status; on failure yl_last_error() names the path and the system
// error.
#pragma once
#include <stdbool.h>
#include <stddef.h>

#include "engine/core/status.h"

// mkdir -p (mode 0755). Existing directories are fine; an existing non-directory is an error.
yl_status yl_fs_mkdirs(const char *path);
bool yl_fs_exists(const char *path);
bool yl_fs_is_dir(const char *path);
bool yl_fs_is_file(const char *path);

// Writes `size` bytes atomically (see above). Creates no parent directories.
yl_status yl_fs_write_atomic(const char *path, const void *data, size_t size);
// Reads a whole file; *data is malloc'd and NUL-terminated (size excludes the NUL).
yl_status yl_fs_read_all(const char *path, char **data, size_t *size);
// Copies a file to `to` atomically (temp + fsync + rename + fsync of the parent).
yl_status yl_fs_copy_file(const char *from, const char *to);
// A hard link when both are on one file system, else yl_fs_copy_file. Used to build datasets
// out of snapshot files without copying images. `to` must not exist.
yl_status yl_fs_link_or_copy(const char *from, const char *to);
// rename(from, to), then fsync of both parent directories. Works for directories (a snapshot's
// temporary folder renamed into place when complete).
yl_status yl_fs_rename_durable(const char *from, const char *to);
yl_status yl_fs_fsync_dir(const char *dir);
// rm -rf; a missing path is fine. Refuses "", "/" and ".".
yl_status yl_fs_remove_tree(const char *path);
// Removes `*.tmp.*` files and folders left in `dir` by killed writers (not recursive).
yl_status yl_fs_remove_stale_temps(const char *dir);

// snprintf into a path buffer; a path that does not fit is YL_ERR_INVALID_ARG ("<what>: path
// too long"), never a truncated name that would point at the wrong file.
#if defined(__GNUC__)
__attribute__((format(printf, 4, 5)))
#endif
yl_status yl_path_format(char *out, size_t size, const char *what, const char *fmt, ...);

// The names in a directory (no "." and ".."), sorted with strcmp; *names is a malloc'd array of
// malloc'd strings; free with yl_fs_free_names.
yl_status yl_fs_list_dir(const char *dir, char ***names, int *count);
void yl_fs_free_names(char **names, int count);

// SHA-256 as 64 lowercase hex digits and a NUL.
void yl_sha256_hex(const void *data, size_t size, char hex[65]);
yl_status yl_fs_sha256_file(const char *path, char hex[65]);

// Current UTC time as "2026-11-23T15:04:05Z" (seconds) and as a snapshot stamp
// "20261123T150405Z" (file-name safe, sorts by time).
void yl_utc_now_iso(char out[32]);
void yl_utc_now_stamp(char out[32]);

// An exclusive advisory lock (flock) on `<dir>/.lock`, held until yl_fs_unlock or process exit
// (so a killed holder never leaves it stuck). wait = false: a failure at once
// when another process holds it: YL_ERR_IO, the message says so and which pid holds it.
typedef struct {
    int fd;
} yl_fs_lock;
yl_status yl_fs_lock_dir(const char *dir, bool wait, yl_fs_lock *lock);
void yl_fs_unlock(yl_fs_lock *lock);
