// Dataset copies for `yoloop init` (init_dataset.h).
#include "cli/init_dataset.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/fs_util.h"
#include "engine/data/data_yaml.h"
#include "engine/data/labels.h"

#define PATH_SIZE 2048

static yl_status check_names(const yl_data_config *data, const char *yaml, const char *const *names, int nc) {
    if (data->nc != nc)
        return yl_error(YL_ERR_INVALID_ARG, "%s: %d classes, but names= gives %d", yaml, data->nc, nc);
    for (int i = 0; i < nc; i++)
        if (strcmp(data->names[i], names[i]))
            return yl_error(YL_ERR_INVALID_ARG, "%s: class %d is '%s', but names= says '%s' (classes are matched by "
                            "name and order)", yaml, i, data->names[i], names[i]);
    return YL_OK;
}

// The file name of an image in the copy: its own, or "<index>_<name>" when another image of the
// split already took that name (two folders with an img_001.jpg each).
static void dest_name(const char *image, int index, const char *images_dir, char *out, size_t size) {
    const char *slash = strrchr(image, '/');
    const char *base = slash ? slash + 1 : image;
    char path[2 * PATH_SIZE];
    snprintf(path, sizeof path, "%s/%s", images_dir, base);
    if (yl_fs_exists(path))
        snprintf(out, size, "%06d_%s", index, base);
    else
        snprintf(out, size, "%s", base);
}

static yl_status copy_one(const char *image, int index, const char *dest, yl_init_copy_report *report) {
    char images_dir[PATH_SIZE], name[512], to[PATH_SIZE + 512];
    snprintf(images_dir, sizeof images_dir, "%s/images", dest);
    dest_name(image, index, images_dir, name, sizeof name);
    snprintf(to, sizeof to, "%s/%s", images_dir, name);
    YL_TRY(yl_fs_link_or_copy(image, to));
    report->images++;
    char *label = yl_label_path_for_image(image);
    if (!label) return yl_error(YL_ERR_OOM, "init: out of memory");
    yl_status st = YL_OK;
    if (yl_fs_is_file(label)) {
        char *dot = strrchr(name, '.');
        if (dot) *dot = '\0';
        snprintf(to, sizeof to, "%s/labels/%s.txt", dest, name);
        st = yl_fs_link_or_copy(label, to);
        if (st == YL_OK) report->labels++;
    }
    free(label);
    return st;
}

static yl_status write_yaml(const char *dest, const char *source, const char *const *names, int nc) {
    size_t cap = 4096;
    for (int i = 0; i < nc; i++) cap += 8 + 6 * strlen(names[i]);
    char *text = malloc(cap);
    if (!text) return yl_error(YL_ERR_OOM, "init: out of memory");
    size_t n = (size_t)snprintf(text, cap, "# copied by yoloop init from %.1000s\ntrain: images\nval: images\nnames:\n",
                                source);
    yl_status st = YL_OK;
    for (int i = 0; st == YL_OK && i < nc; i++) {
        cJSON *s = cJSON_CreateString(names[i]);  // a JSON string is a valid YAML double-quoted scalar
        char *quoted = s ? cJSON_PrintUnformatted(s) : NULL;
        if (!quoted) st = yl_error(YL_ERR_OOM, "init: out of memory");
        else n += (size_t)snprintf(text + n, cap - n, "  %d: %s\n", i, quoted);
        free(quoted);
        cJSON_Delete(s);
    }
    char path[PATH_SIZE];
    snprintf(path, sizeof path, "%s/data.yaml", dest);
    if (st == YL_OK) st = yl_fs_write_atomic(path, text, n);
    free(text);
    return st;
}

yl_status yl_init_copy_dataset(const char *data_yaml, const char *split, const char *const *names, int nc,
                               const char *dest, yl_init_copy_report *report) {
    memset(report, 0, sizeof *report);
    yl_data_config data;
    memset(&data, 0, sizeof data);
    YL_TRY(yl_data_yaml_load(data_yaml, &data));
    yl_status st = check_names(&data, data_yaml, names, nc);
    const yl_data_split *s = !strcmp(split, "val") && data.val.images.count > 0 ? &data.val : &data.train;
    if (st == YL_OK && s->images.count == 0)
        st = yl_error(YL_ERR_INVALID_ARG, "%s: the %s split has no images", data_yaml, split);
    char dir[PATH_SIZE];
    snprintf(dir, sizeof dir, "%s/images", dest);
    if (st == YL_OK) st = yl_fs_mkdirs(dir);
    snprintf(dir, sizeof dir, "%s/labels", dest);
    if (st == YL_OK) st = yl_fs_mkdirs(dir);
    for (int i = 0; st == YL_OK && i < s->images.count; i++) st = copy_one(s->images.paths[i], i, dest, report);
    if (st == YL_OK) st = write_yaml(dest, data_yaml, names, nc);
    yl_data_config_free(&data);
    return st;
}
