#include "cli/labelstudio/yolo_export.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/labelstudio/json_util.h"

static char *join_path(const char *dir, const char *name) {
    size_t n = strlen(dir) + strlen(name) + 2;
    char *path = malloc(n);
    if (path) snprintf(path, n, "%s/%s", dir, name);
    return path;
}

static yl_status add_class(yl_ls_yolo_classes *c, int id, const char *name, size_t length) {
    int *ids = realloc(c->ids, sizeof(int) * (size_t)(c->num_classes + 1));
    if (ids) c->ids = ids;
    char **names = realloc(c->names, sizeof(char *) * (size_t)(c->num_classes + 1));
    if (names) c->names = names;
    char *copy = malloc(length + 1);
    if (!ids || !names || !copy) {
        free(copy);
        return yl_error(YL_ERR_OOM, "YOLO export: out of memory");
    }
    memcpy(copy, name, length);
    copy[length] = '\0';
    c->ids[c->num_classes] = id;
    c->names[c->num_classes++] = copy;
    return YL_OK;
}

static yl_status read_notes(const char *path, yl_ls_yolo_classes *out) {
    cJSON *json = NULL;
    YL_TRY(yl_json_read_file(path, 16 << 20, &json));
    const cJSON *categories = cJSON_GetObjectItemCaseSensitive(json, "categories");
    yl_status status = cJSON_IsArray(categories) ? YL_OK : yl_error(YL_ERR_FORMAT, "%s: no 'categories' array", path);
    const cJSON *category;
    cJSON_ArrayForEach(category, categories) {
        if (status != YL_OK) break;
        const char *name = yl_json_string(category, "name");
        long long id = yl_json_int(category, "id", -1);
        if (!name || id < 0 || id > 1000000)
            status = yl_error(YL_ERR_FORMAT, "%s: a category without a name or a valid id", path);
        else status = add_class(out, (int)id, name, strlen(name));
    }
    cJSON_Delete(json);
    return status;
}

static yl_status read_classes_txt(const char *path, yl_ls_yolo_classes *out) {
    FILE *file = fopen(path, "rb");
    if (!file) return yl_error(YL_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    char line[1024];
    yl_status status = YL_OK;
    int id = 0;
    while (status == YL_OK && fgets(line, sizeof line, file))
        status = add_class(out, id++, line, strcspn(line, "\r\n"));
    fclose(file);
    // Trailing blank lines are harmless; a blank name before a real one would shift every id.
    while (status == YL_OK && out->num_classes > 0 && !out->names[out->num_classes - 1][0])
        free(out->names[--out->num_classes]);
    for (int i = 0; status == YL_OK && i < out->num_classes; i++)
        if (!out->names[i][0]) status = yl_error(YL_ERR_FORMAT, "%s:%d: empty class name", path, i + 1);
    return status;
}

yl_status yl_ls_yolo_export_classes(const char *dir, yl_ls_yolo_classes *out) {
    if (!dir || !out) return yl_error(YL_ERR_INVALID_ARG, "YOLO export: NULL folder or output");
    memset(out, 0, sizeof *out);
    char *notes = join_path(dir, "notes.json"), *classes = join_path(dir, "classes.txt");
    yl_status status = notes && classes ? YL_OK : yl_error(YL_ERR_OOM, "YOLO export: out of memory");
    if (status == YL_OK) {
        FILE *probe = fopen(notes, "rb");
        if (probe) {
            fclose(probe);
            status = read_notes(notes, out);
        } else {
            status = read_classes_txt(classes, out);
            if (status != YL_OK)
                yl_error_context(status, "YOLO export %s: neither notes.json nor a readable classes.txt", dir);
        }
    }
    for (int i = 0; status == YL_OK && i < out->num_classes; i++)
        for (int j = 0; j < i; j++)
            if (out->ids[i] == out->ids[j] || !strcmp(out->names[i], out->names[j])) {
                status = yl_error(YL_ERR_FORMAT, "YOLO export %s: class id %d or name '%s' appears twice", dir,
                                  out->ids[i], out->names[i]);
                break;
            }
    free(notes);
    free(classes);
    if (status != YL_OK) yl_ls_yolo_classes_free(out);
    return status;
}

void yl_ls_yolo_classes_free(yl_ls_yolo_classes *classes) {
    if (!classes) return;
    for (int i = 0; i < classes->num_classes; i++) free(classes->names[i]);
    free(classes->names);
    free(classes->ids);
    memset(classes, 0, sizeof *classes);
}

yl_status yl_ls_yolo_class_map(const yl_ls_yolo_classes *classes, const yl_ls_label_config *config, int **map,
                               int *map_size) {
    if (!classes || !config || !map || !map_size) return yl_error(YL_ERR_INVALID_ARG, "YOLO export: NULL argument");
    *map = NULL;
    *map_size = 0;
    int size = 0;
    for (int i = 0; i < classes->num_classes; i++)
        if (classes->ids[i] + 1 > size) size = classes->ids[i] + 1;
    int *m = malloc(sizeof(int) * (size_t)(size ? size : 1));
    if (!m) return yl_error(YL_ERR_OOM, "YOLO export: out of memory");
    for (int i = 0; i < size; i++) m[i] = -1;
    for (int i = 0; i < classes->num_classes; i++) {
        int index = yl_ls_label_config_find(config, classes->names[i]);
        if (index < 0) {
            free(m);
            return yl_error(YL_ERR_FORMAT,
                            "YOLO export: class '%s' (id %d) is not in the label config; refusing to guess its id",
                            classes->names[i], classes->ids[i]);
        }
        m[classes->ids[i]] = index;
    }
    *map = m;
    *map_size = size;
    return YL_OK;
}

// Rewrites one label line into `out`; YL_ERR_FORMAT with the line number when it is not a box.
static yl_status remap_line(const char *path, int number, const char *line, const int *map, int map_size, FILE *out) {
    const char *p = line;
    while (*p == ' ' || *p == '\t') p++;
    if (*p == '\0' || *p == '\n' || *p == '\r') return YL_OK;  // blank lines carry nothing
    char *end = NULL;
    long id = strtol(p, &end, 10);
    if (end == p || (*end != ' ' && *end != '\t'))
        return yl_error(YL_ERR_FORMAT, "%s:%d: expected a class id at the start of the line", path, number);
    int fields = 0;
    for (const char *q = end; *q;) {
        while (*q == ' ' || *q == '\t' || *q == '\r' || *q == '\n') q++;
        if (!*q) break;
        char *number_end = NULL;
        strtod(q, &number_end);
        if (number_end == q) return yl_error(YL_ERR_FORMAT, "%s:%d: a coordinate is not a number", path, number);
        fields++;
        q = number_end;
    }
    if (fields != 4)
        return yl_error(YL_ERR_FORMAT,
                        "%s:%d: %d coordinates, expected 4 (cx cy w h; OBB and polygon lines are not boxes)", path,
                        number, fields);
    if (id < 0 || id >= map_size || map[id] < 0)
        return yl_error(YL_ERR_FORMAT, "%s:%d: class id %ld is not in the export's class list", path, number, id);
    size_t rest = strcspn(end, "\r\n");
    if (fprintf(out, "%d%.*s\n", map[id], (int)rest, end) < 0)
        return yl_error(YL_ERR_IO, "%s: write error", path);
    return YL_OK;
}

yl_status yl_ls_yolo_remap_label_file(const char *in_path, const char *out_path, const int *map, int map_size) {
    if (!in_path || !out_path || (!map && map_size > 0))
        return yl_error(YL_ERR_INVALID_ARG, "YOLO labels: NULL path or map");
    FILE *in = fopen(in_path, "rb");
    if (!in) return yl_error(YL_ERR_IO, "%s: cannot open: %s", in_path, strerror(errno));
    char *part = malloc(strlen(out_path) + sizeof ".part");
    FILE *out = NULL;
    if (part) {
        sprintf(part, "%s.part", out_path);
        out = fopen(part, "wb");
    }
    yl_status status = out ? YL_OK : yl_error(YL_ERR_IO, "%s.part: cannot create", out_path);
    char line[4096];
    for (int number = 1; status == YL_OK && fgets(line, sizeof line, in); number++) {
        if (!strchr(line, '\n') && !feof(in)) status = yl_error(YL_ERR_FORMAT, "%s:%d: line too long", in_path, number);
        else status = remap_line(in_path, number, line, map, map_size, out);
    }
    if (status == YL_OK && ferror(in)) status = yl_error(YL_ERR_IO, "%s: read error", in_path);
    fclose(in);
    if (out && fclose(out) != 0 && status == YL_OK) status = yl_error(YL_ERR_IO, "%s: write error", part);
    if (status == YL_OK && rename(part, out_path) != 0)
        status = yl_error(YL_ERR_IO, "cannot rename %s to %s: %s", part, out_path, strerror(errno));
    if (status != YL_OK && part) remove(part);
    free(part);
    return status;
}
