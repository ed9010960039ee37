#include "image_list.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "file_util.h"

// Deep enough for any real dataset; stops a symlink loop from recursing forever.
#define IMAGE_LIST_MAX_DEPTH 32
#define IMAGE_LIST_MAX_TXT_BYTES ((size_t)256 << 20)

yl_status yl_path_list_append(yl_path_list *list, const char *path) {
    if (list->count == list->capacity) {
        int capacity = list->capacity ? list->capacity * 2 : 64;
        char **grown = realloc(list->paths, (size_t)capacity * sizeof *grown);
        if (!grown) return yl_error(YL_ERR_OOM, "image list: out of memory");
        list->paths = grown;
        list->capacity = capacity;
    }
    char *copy = yl_strdup(path);
    if (!copy) return yl_error(YL_ERR_OOM, "image list: out of memory");
    list->paths[list->count++] = copy;
    return YL_OK;
}

static yl_status scan_directory(yl_path_list *list, const char *dir_path, int depth) {
    if (depth > IMAGE_LIST_MAX_DEPTH)
        return yl_error(YL_ERR_FORMAT, "%s: directories nested deeper than %d (a symlink loop?)", dir_path,
                        IMAGE_LIST_MAX_DEPTH);
    DIR *dir = opendir(dir_path);
    if (!dir) return yl_error(YL_ERR_IO, "%s: cannot open directory: %s", dir_path, strerror(errno));
    yl_status status = YL_OK;
    struct dirent *entry;
    while (status == YL_OK && (entry = readdir(dir)) != NULL) {
        if (entry->d_name[0] == '.') continue;  // glob('**/*.*') skips hidden files and folders
        char *child = yl_path_join(dir_path, entry->d_name);
        if (!child) {
            status = yl_error(YL_ERR_OOM, "image list: out of memory");
            break;
        }
        if (yl_is_directory(child))
            status = scan_directory(list, child, depth + 1);
        else if (yl_has_image_extension(child) && yl_is_regular_file(child))
            status = yl_path_list_append(list, child);
        free(child);
    }
    closedir(dir);
    return status;
}

static yl_status read_list_file(yl_path_list *list, const char *txt_path) {
    char *text = NULL;
    YL_TRY(yl_read_file(txt_path, IMAGE_LIST_MAX_TXT_BYTES, &text, NULL));
    char *folder = yl_path_dirname(txt_path);
    if (!folder) {
        free(text);
        return yl_error(YL_ERR_OOM, "image list: out of memory");
    }
    yl_status status = YL_OK;
    char *line = text;
    while (status == YL_OK && line && *line) {
        char *end = strchr(line, '\n');
        char *next = end ? end + 1 : NULL;
        if (!end) end = line + strlen(line);
        while (line < end && (*line == ' ' || *line == '\t')) line++;
        while (end > line && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r')) end--;
        *end = '\0';
        if (*line && yl_has_image_extension(line)) {
            if (line[0] == '.' && line[1] == '/') {
                char *joined = yl_path_join(folder, line + 2);
                status = joined ? yl_path_list_append(list, joined) : yl_error(YL_ERR_OOM, "out of memory");
                free(joined);
            } else {
                status = yl_path_list_append(list, line);
            }
        }
        line = next;
    }
    free(folder);
    free(text);
    return status;
}

yl_status yl_path_list_add_source(yl_path_list *list, const char *source) {
    if (!list || !source) return yl_error(YL_ERR_INVALID_ARG, "image list: NULL argument");
    if (yl_is_directory(source)) return scan_directory(list, source, 0);
    if (yl_is_regular_file(source)) {
        // An image named directly is an extension of Ultralytics (which would read it as a list).
        if (yl_has_image_extension(source)) return yl_path_list_append(list, source);
        return read_list_file(list, source);
    }
    return yl_error(YL_ERR_IO, "%s does not exist", source);
}

static int compare_paths(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

void yl_path_list_sort(yl_path_list *list) {
    if (list->count > 1) qsort(list->paths, (size_t)list->count, sizeof *list->paths, compare_paths);
}

void yl_path_list_free(yl_path_list *list) {
    if (!list) return;
    for (int i = 0; i < list->count; i++) free(list->paths[i]);
    free(list->paths);
    memset(list, 0, sizeof *list);
}
