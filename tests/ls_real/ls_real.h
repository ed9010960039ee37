// What the two halves of ls_real_client share: the server it talks to and small helpers
// (ls_real_client.c defines them; ls_real_backend.c uses them too). The helpers exit(2) on a
// setup failure instead of counting a check: without them nothing after can be checked.
#pragma once
#include <stddef.h>

#include <cjson/cJSON.h>

#include "cli/labelstudio/client.h"

extern const char *base_url, *token_file;  // the Label Studio under test and its token file
extern char legacy_token[256];

void die(const char *what);  // prints what + yl_last_error(), exit(2)
char *read_file(const char *path, size_t *size);  // NUL-terminated copy, NULL when unreadable
void write_text(const char *path, const char *text);
yl_ls_client *open_client(const char *url, const char *file);
// Multipart upload of `count` files, one task each; task ids in file order.
void upload_files(int project, const char **paths, int count, long *task_ids);
// One rectanglelabels region for the "label"/"image" control pair, in percent.
cJSON *rect(int width, int height, double x, double y, double w, double h, double rotation, const char *label);
void make_image(const char *path, int width, int height, int jpeg, unsigned char shade);
// `<yoloop> <args> >log 2>&1`; the exit code (-1: killed).
int run_yoloop(const char *yoloop, const char *args, const char *log);
int count_lines(const char *path);

// ls_real_backend.c: `yoloop serve` as the project's ML backend, `yoloop push`, `yoloop rank`.
int run_backend_checks(const char *yoloop, const char *work);
