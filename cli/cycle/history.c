// A workspace's history (history.h): eval_history.csv, decisions.jsonl, last_eval_snapshot.
// Each append reads the whole file, checks it, and writes old text + new line atomically, so a
// killed cycle leaves the file as it was or as it is after the append.
#define _POSIX_C_SOURCE 200809L
#include "cli/cycle/history.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/fs_util.h"

#define HIST_PATH 4096
#define HIST_FIELDS 12

static const char *const csv_header =
    "time,cycle,snapshot,model,role,eval_set,images,instances,precision,recall,map50,map50_95";

static yl_status history_file(const char *workspace, const char *name, char *out, size_t size) {
    if (!workspace || !workspace[0]) return yl_error(YL_ERR_INVALID_ARG, "history: no workspace");
    int n = snprintf(out, size, "%s/history/%s", workspace, name);
    if (n < 0 || (size_t)n >= size) return yl_error(YL_ERR_INVALID_ARG, "history: path too long: %s", workspace);
    return YL_OK;
}

static yl_status ensure_history_dir(const char *workspace) {
    char dir[HIST_PATH];
    int n = snprintf(dir, sizeof dir, "%s/history", workspace);
    if (n < 0 || (size_t)n >= sizeof dir) return yl_error(YL_ERR_INVALID_ARG, "history: path too long: %s", workspace);
    return yl_fs_mkdirs(dir);
}

// Writes old_text (may be NULL) + line + "\n" to path atomically.
static yl_status rewrite_with_line(const char *path, const char *old_text, const char *line) {
    size_t old_len = old_text ? strlen(old_text) : 0;
    bool needs_newline = old_len > 0 && old_text[old_len - 1] != '\n';
    size_t line_len = strlen(line);
    char *buf = malloc(old_len + line_len + 3);
    if (!buf) return yl_error(YL_ERR_OOM, "%s: out of memory", path);
    size_t n = old_len;
    if (old_len) memcpy(buf, old_text, old_len);
    if (needs_newline) buf[n++] = '\n';
    memcpy(buf + n, line, line_len);
    n += line_len;
    buf[n++] = '\n';
    yl_status s = yl_fs_write_atomic(path, buf, n);
    free(buf);
    return s;
}

// ---- eval_history.csv ---------------------------------------------------------------------

static yl_status copy_field(char *dst, size_t size, const char *src, const char *path, int line, const char *name) {
    size_t len = strlen(src);
    if (len >= size) return yl_error(YL_ERR_FORMAT, "%s:%d: %s '%.40s' is too long (max %zu)", path, line, name, src, size - 1);
    memcpy(dst, src, len + 1);
    return YL_OK;
}

static yl_status parse_long(const char *text, long *out, const char *path, int line, const char *name) {
    char *end = NULL;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (!text[0] || *end || errno || v < 0)
        return yl_error(YL_ERR_FORMAT, "%s:%d: %s '%.40s' is not a count", path, line, name, text);
    *out = v;
    return YL_OK;
}

static yl_status parse_double(const char *text, double *out, const char *path, int line, const char *name) {
    char *end = NULL;
    errno = 0;
    double v = strtod(text, &end);
    if (!text[0] || *end || errno || !isfinite(v))
        return yl_error(YL_ERR_FORMAT, "%s:%d: %s '%.40s' is not a number", path, line, name, text);
    *out = v;
    return YL_OK;
}

// One data line (modified in place) into *row.
static yl_status parse_row(char *line, yl_eval_row *row, const char *path, int line_no) {
    char *fields[HIST_FIELDS];
    int n = 0;
    char *p = line;
    for (;;) {
        char *comma = strchr(p, ',');
        if (n < HIST_FIELDS) fields[n] = p;
        n++;
        if (!comma) break;
        *comma = '\0';
        p = comma + 1;
    }
    if (n != HIST_FIELDS)
        return yl_error(YL_ERR_FORMAT, "%s:%d: %d fields, expected %d (%s)", path, line_no, n, HIST_FIELDS, csv_header);
    memset(row, 0, sizeof *row);
    YL_TRY(copy_field(row->time, sizeof row->time, fields[0], path, line_no, "time"));
    YL_TRY(copy_field(row->cycle, sizeof row->cycle, fields[1], path, line_no, "cycle"));
    YL_TRY(copy_field(row->snapshot, sizeof row->snapshot, fields[2], path, line_no, "snapshot"));
    YL_TRY(copy_field(row->model, sizeof row->model, fields[3], path, line_no, "model"));
    YL_TRY(copy_field(row->role, sizeof row->role, fields[4], path, line_no, "role"));
    YL_TRY(copy_field(row->eval_set, sizeof row->eval_set, fields[5], path, line_no, "eval_set"));
    YL_TRY(parse_long(fields[6], &row->images, path, line_no, "images"));
    YL_TRY(parse_long(fields[7], &row->instances, path, line_no, "instances"));
    YL_TRY(parse_double(fields[8], &row->precision, path, line_no, "precision"));
    YL_TRY(parse_double(fields[9], &row->recall, path, line_no, "recall"));
    YL_TRY(parse_double(fields[10], &row->map50, path, line_no, "map50"));
    YL_TRY(parse_double(fields[11], &row->map50_95, path, line_no, "map50_95"));
    return YL_OK;
}

// Parses the CSV text (modified: line ends are cut); rows may be NULL to only check it.
static yl_status parse_csv(char *text, const char *path, yl_eval_row **rows, int *count) {
    int cap = 0, n = 0;
    yl_eval_row *list = NULL;
    int line_no = 0;
    yl_status s = YL_OK;
    char *line = text;
    while (s == YL_OK && line && *line) {
        char *next = strchr(line, '\n');
        if (next) *next++ = '\0';
        line_no++;
        size_t len = strlen(line);
        if (len > 0 && line[len - 1] == '\r') line[--len] = '\0';
        if (line_no == 1) {
            if (strcmp(line, csv_header) != 0)
                s = yl_error(YL_ERR_FORMAT, "%s:1: header '%.120s' is not '%s'", path, line, csv_header);
        } else if (len > 0) {
            yl_eval_row row;
            s = parse_row(line, &row, path, line_no);
            if (s == YL_OK && rows) {
                if (n == cap) {
                    cap = cap ? cap * 2 : 16;
                    yl_eval_row *grown = realloc(list, (size_t)cap * sizeof *list);
                    if (!grown) s = yl_error(YL_ERR_OOM, "%s: out of memory", path);
                    else list = grown;
                }
                if (s == YL_OK) list[n++] = row;
            }
        }
        line = next;
    }
    if (s != YL_OK) {
        free(list);
        return s;
    }
    if (rows) {
        *rows = list;
        *count = n;
    }
    return YL_OK;
}

yl_status yl_history_read_evals(const char *workspace, yl_eval_row **rows, int *count) {
    *rows = NULL;
    *count = 0;
    char path[HIST_PATH];
    YL_TRY(history_file(workspace, "eval_history.csv", path, sizeof path));
    if (!yl_fs_exists(path)) return YL_OK;
    char *text = NULL;
    YL_TRY(yl_fs_read_all(path, &text, NULL));
    yl_status s = parse_csv(text, path, rows, count);
    free(text);
    return s;
}

// A text field must not break the CSV: no comma, quote or line break.
static yl_status check_text(const char *value, size_t max, const char *name) {
    if (strpbrk(value, ",\"\r\n"))
        return yl_error(YL_ERR_INVALID_ARG, "history: %s '%s' holds a comma, quote or line break", name, value);
    if (strlen(value) >= max) return yl_error(YL_ERR_INVALID_ARG, "history: %s '%s' is too long", name, value);
    return YL_OK;
}

yl_status yl_history_append_eval(const char *workspace, const yl_eval_row *row) {
    if (!row) return yl_error(YL_ERR_INVALID_ARG, "history: no row");
    YL_TRY(check_text(row->time, sizeof row->time, "time"));
    YL_TRY(check_text(row->cycle, sizeof row->cycle, "cycle"));
    YL_TRY(check_text(row->snapshot, sizeof row->snapshot, "snapshot"));
    YL_TRY(check_text(row->model, sizeof row->model, "model"));
    YL_TRY(check_text(row->role, sizeof row->role, "role"));
    YL_TRY(check_text(row->eval_set, sizeof row->eval_set, "eval_set"));
    if (row->images < 0 || row->instances < 0)
        return yl_error(YL_ERR_INVALID_ARG, "history: negative images (%ld) or instances (%ld)", row->images,
                        row->instances);
    const double metrics[] = {row->precision, row->recall, row->map50, row->map50_95};
    for (int i = 0; i < 4; i++)
        if (!isfinite(metrics[i])) return yl_error(YL_ERR_NUMERIC, "history: a metric of %s is not finite", row->model);

    YL_TRY(ensure_history_dir(workspace));
    char path[HIST_PATH];
    YL_TRY(history_file(workspace, "eval_history.csv", path, sizeof path));
    char *old = NULL;
    if (yl_fs_exists(path)) {
        YL_TRY(yl_fs_read_all(path, &old, NULL));
        // Refuse to extend a file we could not read back: the next reader would fail anyway.
        char *check = strdup(old);
        if (!check) {
            free(old);
            return yl_error(YL_ERR_OOM, "%s: out of memory", path);
        }
        yl_status s = parse_csv(check, path, NULL, NULL);
        free(check);
        if (s != YL_OK) {
            free(old);
            return s;
        }
    }
    char time_now[32];
    const char *time = row->time;
    if (!time[0]) {
        yl_utc_now_iso(time_now);
        time = time_now;
    }
    char line[512];
    int n = snprintf(line, sizeof line, "%s,%s,%s,%s,%s,%s,%ld,%ld,%.6f,%.6f,%.6f,%.6f", time, row->cycle,
                     row->snapshot, row->model, row->role, row->eval_set, row->images, row->instances, row->precision,
                     row->recall, row->map50, row->map50_95);
    if (n < 0 || (size_t)n >= sizeof line) {
        free(old);
        return yl_error(YL_ERR_INVALID_ARG, "history: row too long");
    }
    char *with_header = NULL;
    const char *base = old;
    if (!old || !old[0]) {
        size_t len = strlen(csv_header) + 2;
        with_header = malloc(len);
        if (!with_header) {
            free(old);
            return yl_error(YL_ERR_OOM, "%s: out of memory", path);
        }
        snprintf(with_header, len, "%s\n", csv_header);
        base = with_header;
    }
    yl_status s = rewrite_with_line(path, base, line);
    free(with_header);
    free(old);
    return s;
}

yl_status yl_history_previous_map50(const char *workspace, double *map50, bool *found) {
    *found = false;
    *map50 = 0.0;
    yl_eval_row *rows = NULL;
    int count = 0;
    YL_TRY(yl_history_read_evals(workspace, &rows, &count));
    for (int i = count - 1; i >= 0; i--) {
        if (!strcmp(rows[i].role, "deployed") && !strcmp(rows[i].eval_set, "new")) {
            *map50 = rows[i].map50;
            *found = true;
            break;
        }
    }
    free(rows);
    return YL_OK;
}

// ---- decisions.jsonl ----------------------------------------------------------------------

// Every line of decisions.jsonl parsed (blank lines skipped); a line that is not a JSON object is
// an error naming file:line.
static yl_status parse_decisions(const char *path, const char *text, cJSON **array) {
    cJSON *list = cJSON_CreateArray();
    if (!list) return yl_error(YL_ERR_OOM, "%s: out of memory", path);
    char *copy = strdup(text);
    if (!copy) {
        cJSON_Delete(list);
        return yl_error(YL_ERR_OOM, "%s: out of memory", path);
    }
    yl_status s = YL_OK;
    int line_no = 0;
    char *line = copy;
    while (s == YL_OK && line && *line) {
        char *next = strchr(line, '\n');
        if (next) *next++ = '\0';
        line_no++;
        if (line[strspn(line, " \t\r")] != '\0') {
            cJSON *item = cJSON_Parse(line);
            if (!cJSON_IsObject(item)) {
                cJSON_Delete(item);
                s = yl_error(YL_ERR_FORMAT, "%s:%d: not a JSON object", path, line_no);
            } else {
                cJSON_AddItemToArray(list, item);
            }
        }
        line = next;
    }
    free(copy);
    if (s != YL_OK) {
        cJSON_Delete(list);
        return s;
    }
    *array = list;
    return YL_OK;
}

yl_status yl_history_read_decisions(const char *workspace, cJSON **array) {
    *array = NULL;
    char path[HIST_PATH];
    YL_TRY(history_file(workspace, "decisions.jsonl", path, sizeof path));
    if (!yl_fs_exists(path)) {
        *array = cJSON_CreateArray();
        return *array ? YL_OK : yl_error(YL_ERR_OOM, "%s: out of memory", path);
    }
    char *text = NULL;
    YL_TRY(yl_fs_read_all(path, &text, NULL));
    yl_status s = parse_decisions(path, text, array);
    free(text);
    return s;
}

yl_status yl_history_append_decision(const char *workspace, const cJSON *decision) {
    if (!cJSON_IsObject(decision)) return yl_error(YL_ERR_INVALID_ARG, "history: a decision must be a JSON object");
    YL_TRY(ensure_history_dir(workspace));
    char path[HIST_PATH];
    YL_TRY(history_file(workspace, "decisions.jsonl", path, sizeof path));
    char *old = NULL;
    if (yl_fs_exists(path)) {
        YL_TRY(yl_fs_read_all(path, &old, NULL));
        cJSON *check = NULL;
        yl_status s = parse_decisions(path, old, &check);
        cJSON_Delete(check);
        if (s != YL_OK) {
            free(old);
            return s;
        }
    }
    // "time" first when we add it, so the file reads chronologically from the left.
    cJSON *copy = cJSON_CreateObject();
    bool ok = copy != NULL;
    if (ok && !cJSON_GetObjectItemCaseSensitive(decision, "time")) {
        char now[32];
        yl_utc_now_iso(now);
        ok = cJSON_AddStringToObject(copy, "time", now) != NULL;
    }
    for (const cJSON *item = decision->child; ok && item; item = item->next) {
        cJSON *dup = cJSON_Duplicate(item, true);
        ok = dup && cJSON_AddItemToObject(copy, item->string, dup);
        if (!ok) cJSON_Delete(dup);
    }
    if (!ok) {
        cJSON_Delete(copy);
        free(old);
        return yl_error(YL_ERR_OOM, "history: out of memory");
    }
    char *line = cJSON_PrintUnformatted(copy);
    cJSON_Delete(copy);
    yl_status s = line ? rewrite_with_line(path, old, line) : yl_error(YL_ERR_OOM, "history: out of memory");
    free(line);
    free(old);
    return s;
}

// ---- last_eval_snapshot -------------------------------------------------------------------

yl_status yl_history_last_eval_snapshot(const char *workspace, char *id, size_t size) {
    if (!id || size == 0) return yl_error(YL_ERR_INVALID_ARG, "history: no buffer for the snapshot id");
    id[0] = '\0';
    char path[HIST_PATH];
    YL_TRY(history_file(workspace, "last_eval_snapshot", path, sizeof path));
    if (!yl_fs_exists(path)) return YL_OK;
    char *text = NULL;
    YL_TRY(yl_fs_read_all(path, &text, NULL));
    char *start = text;
    while (*start && isspace((unsigned char)*start)) start++;
    size_t len = strcspn(start, "\r\n");
    while (len > 0 && isspace((unsigned char)start[len - 1])) len--;
    yl_status s = YL_OK;
    if (len >= size) {
        s = yl_error(YL_ERR_FORMAT, "%s: snapshot id of %zu characters is too long (max %zu)", path, len, size - 1);
    } else {
        memcpy(id, start, len);
        id[len] = '\0';
    }
    free(text);
    return s;
}

yl_status yl_history_set_last_eval_snapshot(const char *workspace, const char *id) {
    if (!id || !id[0] || strpbrk(id, "\r\n"))
        return yl_error(YL_ERR_INVALID_ARG, "history: snapshot id '%s' is empty or holds a line break", id ? id : "");
    YL_TRY(ensure_history_dir(workspace));
    char path[HIST_PATH];
    YL_TRY(history_file(workspace, "last_eval_snapshot", path, sizeof path));
    return rewrite_with_line(path, NULL, id);
}
