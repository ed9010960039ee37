// Small file-system helpers the data pipeline shares: whole-file reads with a size cap, path
// joining, directory creation, and the image-extension rule Ultralytics uses to pick files.
#pragma once
#include <stddef.h>

#include "engine/core/status.h"

// Reads a whole file into a NUL-terminated buffer (caller frees). Files larger than `max_bytes`
// are refused, so a path that points at something huge cannot exhaust memory.
yl_status yl_read_file(const char *path, size_t max_bytes, char **out_text, size_t *out_size);

// "a/b" + "c" -> "a/b/c"; an absolute `tail` is returned as is. Caller frees.
char *yl_path_join(const char *head, const char *tail);
// The folder part of `path` ("a/b/c.txt" -> "a/b", "c.txt" -> "."). Caller frees.
char *yl_path_dirname(const char *path);
int yl_path_is_absolute(const char *path);
char *yl_strdup(const char *s);

int yl_is_directory(const char *path);
int yl_is_regular_file(const char *path);

// mkdir -p: creates `path` and its missing parents (mode 0755).
yl_status yl_make_directories(const char *path);

// The extensions Ultralytics accepts as images (IMG_FORMATS, compared case-insensitively):
// bmp dng jpeg jpg mpo png tif tiff webp pfm heic. Only JPEG, PNG and BMP can be decoded here;
// the others are listed so that they are reported as unsupported instead of silently ignored.
int yl_has_image_extension(const char *path);
