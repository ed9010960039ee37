// The model registry (registry.h): immutable versions added by renaming a complete temp folder,
// a `deployed` pointer replaced atomically, and deployments.jsonl rewritten atomically.
//
// The pointer is the truth about what is deployed; deployments.jsonl is its history. A deploy
// writes the pointer first and the log second, so a kill between the two leaves a pointer the
// log does not know about; the next deploy or rollback notices (the log's last "to" differs from
// the pointer) and records the missing change before its own.
#define _DEFAULT_SOURCE
#define _POSIX_C_SOURCE 200809L
#include "cli/cycle/registry.h"

#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include "cli/fs_util.h"

#define REG_PATH 4096
#define REG_MAX_ADD_TRIES 8  // id clashes with a concurrent add before giving up

// ---- paths and ids ------------------------------------------------------------------------

static yl_status join(char *out, size_t size, const char *a, const char *b) {
    int n = snprintf(out, size, "%s/%s", a, b);
    if (n < 0 || (size_t)n >= size) return yl_error(YL_ERR_INVALID_ARG, "path too long: %s/%s", a, b);
    return YL_OK;
}

static yl_status models_dir(const char *ws, char *out, size_t size) { return join(out, size, ws, "models"); }
static yl_status versions_dir(const char *ws, char *out, size_t size) {
    return join(out, size, ws, "models/versions");
}
static yl_status pointer_path(const char *ws, char *out, size_t size) { return join(out, size, ws, "models/deployed"); }
static yl_status log_path(const char *ws, char *out, size_t size) {
    return join(out, size, ws, "models/deployments.jsonl");
}

static yl_status version_file(const char *ws, const char *id, const char *file, char *out, size_t size) {
    int n = snprintf(out, size, "%s/models/versions/%s/%s", ws, id, file);
    if (n < 0 || (size_t)n >= size) return yl_error(YL_ERR_INVALID_ARG, "path too long: %s/models/versions/%s", ws, id);
    return YL_OK;
}

// "v" followed by at least four digits; the number into *number (may be NULL).
static bool parse_version_id(const char *id, long *number) {
    if (!id || id[0] != 'v') return false;
    size_t len = strlen(id);
    if (len < 5 || len >= YL_VERSION_ID_SIZE) return false;
    for (size_t i = 1; i < len; i++)
        if (!isdigit((unsigned char)id[i])) return false;
    if (number) *number = strtol(id + 1, NULL, 10);
    return true;
}

static yl_status check_version_id(const char *id) {
    if (!parse_version_id(id, NULL)) {
        return yl_error(YL_ERR_INVALID_ARG, "'%s' is not a version id (expected v followed by digits, e.g. v0003)",
                        id ? id : "(null)");
    }
    return YL_OK;
}

// ---- stale temps --------------------------------------------------------------------------

// True for "<anything>.tmp.<pid>" whose pid is no longer running (or is ours: a temp of this
// process that survived is a leftover of an earlier failed call).
static bool is_dead_temp(const char *name) {
    const char *tag = strstr(name, ".tmp.");
    if (!tag) return false;
    char *end = NULL;
    long pid = strtol(tag + 5, &end, 10);
    if (end == tag + 5 || *end != '\0' || pid <= 0) return true;  // not one of ours: leftover
    if (pid == (long)getpid()) return true;
    return kill((pid_t)pid, 0) != 0 && errno == ESRCH;
}

// Removes temp files and folders of killed writers; those of a live process (a concurrent add)
// are left alone.
static yl_status remove_dead_temps(const char *dir) {
    if (!yl_fs_is_dir(dir)) return YL_OK;
    char **names = NULL;
    int count = 0;
    YL_TRY(yl_fs_list_dir(dir, &names, &count));
    yl_status s = YL_OK;
    char path[REG_PATH];
    for (int i = 0; i < count && s == YL_OK; i++) {
        if (!is_dead_temp(names[i])) continue;
        s = join(path, sizeof path, dir, names[i]);
        if (s == YL_OK) s = yl_fs_remove_tree(path);
    }
    yl_fs_free_names(names, count);
    return s;
}

// ---- pointer and log ----------------------------------------------------------------------

yl_status yl_registry_deployed(const char *workspace, char id[YL_VERSION_ID_SIZE]) {
    id[0] = '\0';
    char path[REG_PATH];
    YL_TRY(pointer_path(workspace, path, sizeof path));
    if (!yl_fs_exists(path)) return YL_OK;
    char *data = NULL;
    size_t size = 0;
    YL_TRY(yl_fs_read_all(path, &data, &size));
    // One line; surrounding white space is tolerated (a hand-edited pointer).
    char *start = data;
    while (*start && isspace((unsigned char)*start)) start++;
    size_t len = strlen(start);
    while (len > 0 && isspace((unsigned char)start[len - 1])) start[--len] = '\0';
    yl_status s = YL_OK;
    if (len == 0) {
        s = YL_OK;  // an empty pointer means nothing deployed
    } else if (!parse_version_id(start, NULL)) {
        s = yl_error(YL_ERR_FORMAT, "%s: '%.40s' is not a version id", path, start);
    } else {
        memcpy(id, start, len + 1);
    }
    free(data);
    return s;
}

typedef struct {
    char from[YL_VERSION_ID_SIZE];
    char to[YL_VERSION_ID_SIZE];
    bool rollback;
} deployment;

// Every line of deployments.jsonl (none when absent). A line that is not a JSON object with a
// "to" version id is an error naming file:line. *raw receives the file's text (may be NULL).
static yl_status read_log(const char *workspace, deployment **out, int *count, char **raw) {
    *out = NULL;
    *count = 0;
    if (raw) *raw = NULL;
    char path[REG_PATH];
    YL_TRY(log_path(workspace, path, sizeof path));
    if (!yl_fs_exists(path)) return YL_OK;
    char *data = NULL;
    size_t size = 0;
    YL_TRY(yl_fs_read_all(path, &data, &size));
    int cap = 16, n = 0;
    deployment *list = malloc((size_t)cap * sizeof *list);
    if (!list) {
        free(data);
        return yl_error(YL_ERR_OOM, "%s: out of memory", path);
    }
    yl_status s = YL_OK;
    int line_no = 0;
    char *line = data;
    while (s == YL_OK && *line) {
        char *next = strchr(line, '\n');
        if (next) *next = '\0';
        line_no++;
        if (line[strspn(line, " \t\r")] != '\0') {
            cJSON *json = cJSON_Parse(line);
            const cJSON *to = cJSON_GetObjectItemCaseSensitive(json, "to");
            const cJSON *from = cJSON_GetObjectItemCaseSensitive(json, "from");
            const cJSON *action = cJSON_GetObjectItemCaseSensitive(json, "action");
            if (!cJSON_IsObject(json) || !cJSON_IsString(to) || !parse_version_id(to->valuestring, NULL)) {
                s = yl_error(YL_ERR_FORMAT, "%s:%d: not a deployment record (a JSON object with \"to\": \"vNNNN\")",
                             path, line_no);
            } else {
                if (n == cap) {
                    deployment *grown = realloc(list, (size_t)cap * 2 * sizeof *list);
                    if (!grown) s = yl_error(YL_ERR_OOM, "%s: out of memory", path);
                    else {
                        list = grown;
                        cap *= 2;
                    }
                }
                if (s == YL_OK) {
                    deployment *d = &list[n++];
                    memset(d, 0, sizeof *d);
                    snprintf(d->to, sizeof d->to, "%s", to->valuestring);
                    if (cJSON_IsString(from) && parse_version_id(from->valuestring, NULL))
                        snprintf(d->from, sizeof d->from, "%s", from->valuestring);
                    d->rollback = cJSON_IsString(action) && !strcmp(action->valuestring, "rollback");
                }
            }
            cJSON_Delete(json);
        }
        if (!next) break;
        *next = '\n';  // keep the text intact for *raw
        line = next + 1;
    }
    if (s != YL_OK) {
        free(list);
        free(data);
        return s;
    }
    *out = list;
    *count = n;
    if (raw) *raw = data;
    else free(data);
    return YL_OK;
}

// A compact JSON line for one pointer change.
static char *deployment_line(const char *from, const char *to, const char *action, const char *reason) {
    char now[32];
    yl_utc_now_iso(now);
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    cJSON_AddStringToObject(o, "time", now);
    if (from && from[0]) cJSON_AddStringToObject(o, "from", from);
    else cJSON_AddNullToObject(o, "from");
    cJSON_AddStringToObject(o, "to", to);
    cJSON_AddStringToObject(o, "action", action);
    cJSON_AddStringToObject(o, "reason", reason ? reason : "");
    char *text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return text;
}

// Rewrites deployments.jsonl as its old text plus `lines` (each ending in '\n').
static yl_status append_log(const char *workspace, const char *old_text, const char *lines) {
    char path[REG_PATH];
    YL_TRY(log_path(workspace, path, sizeof path));
    size_t old_len = old_text ? strlen(old_text) : 0;
    bool needs_newline = old_len > 0 && old_text[old_len - 1] != '\n';
    size_t add_len = strlen(lines);
    char *buf = malloc(old_len + 1 + add_len + 1);
    if (!buf) return yl_error(YL_ERR_OOM, "%s: out of memory", path);
    size_t n = 0;
    if (old_len) memcpy(buf, old_text, old_len);
    n = old_len;
    if (needs_newline) buf[n++] = '\n';
    memcpy(buf + n, lines, add_len);
    n += add_len;
    yl_status s = yl_fs_write_atomic(path, buf, n);
    free(buf);
    return s;
}

// ---- versions -----------------------------------------------------------------------------

static void fill_version(yl_model_version *v, cJSON *meta, const char *deployed_id) {
    const cJSON *f;
#define COPY_FIELD(name, dst)                                        \
    f = cJSON_GetObjectItemCaseSensitive(meta, name);                \
    if (cJSON_IsString(f)) snprintf(dst, sizeof dst, "%s", f->valuestring);
    COPY_FIELD("parent", v->parent);
    COPY_FIELD("created_at", v->created_at);
    COPY_FIELD("origin", v->origin);
    COPY_FIELD("sha256", v->sha256);
#undef COPY_FIELD
    v->map50 = -1.0;
    const cJSON *metrics = cJSON_GetObjectItemCaseSensitive(meta, "metrics");
    const cJSON *map50 = cJSON_GetObjectItemCaseSensitive(metrics, "map50");
    if (cJSON_IsNumber(map50)) v->map50 = map50->valuedouble;
    v->deployed = deployed_id && !strcmp(deployed_id, v->id);
    v->meta = meta;
}

static yl_status load_version(const char *workspace, const char *id, const char *deployed_id, yl_model_version *out) {
    memset(out, 0, sizeof *out);
    out->map50 = -1.0;
    YL_TRY(check_version_id(id));
    char model[REG_PATH], meta_path[REG_PATH];
    YL_TRY(version_file(workspace, id, "model.safetensors", model, sizeof model));
    YL_TRY(version_file(workspace, id, "meta.json", meta_path, sizeof meta_path));
    char dir[REG_PATH];
    YL_TRY(versions_dir(workspace, dir, sizeof dir));
    if (!yl_fs_is_file(meta_path) || !yl_fs_is_file(model)) {
        char folder[REG_PATH];
        YL_TRY(join(folder, sizeof folder, dir, id));
        if (!yl_fs_is_dir(folder)) return yl_error(YL_ERR_INVALID_ARG, "no version %s in %s", id, dir);
        return yl_error(YL_ERR_FORMAT, "%s: incomplete version (model.safetensors or meta.json missing)", folder);
    }
    char *text = NULL;
    YL_TRY(yl_fs_read_all(meta_path, &text, NULL));
    cJSON *meta = cJSON_Parse(text);
    free(text);
    if (!cJSON_IsObject(meta)) {
        cJSON_Delete(meta);
        return yl_error(YL_ERR_FORMAT, "%s: not a JSON object", meta_path);
    }
    const cJSON *sha = cJSON_GetObjectItemCaseSensitive(meta, "sha256");
    if (!cJSON_IsString(sha) || strlen(sha->valuestring) != 64) {
        cJSON_Delete(meta);
        return yl_error(YL_ERR_FORMAT, "%s: \"sha256\" missing or not 64 hex digits", meta_path);
    }
    snprintf(out->id, sizeof out->id, "%s", id);
    fill_version(out, meta, deployed_id);
    return YL_OK;
}

yl_status yl_registry_get(const char *workspace, const char *id, yl_model_version *out) {
    char deployed[YL_VERSION_ID_SIZE];
    memset(out, 0, sizeof *out);
    YL_TRY(yl_registry_deployed(workspace, deployed));
    return load_version(workspace, id, deployed, out);
}

void yl_registry_version_free(yl_model_version *version) {
    if (!version) return;
    cJSON_Delete(version->meta);
    version->meta = NULL;
}

yl_status yl_registry_model_path(const char *workspace, const char *id, char *path, size_t size) {
    YL_TRY(check_version_id(id));
    YL_TRY(version_file(workspace, id, "model.safetensors", path, size));
    if (!yl_fs_is_file(path)) return yl_error(YL_ERR_INVALID_ARG, "no version %s (%s is missing)", id, path);
    return YL_OK;
}

static int compare_ids(const void *a, const void *b) {
    long x = 0, y = 0;
    parse_version_id(*(char *const *)a, &x);
    parse_version_id(*(char *const *)b, &y);
    return (x > y) - (x < y);
}

// The version folder names (vNNNN only, temp folders skipped), in numeric order.
static yl_status version_ids(const char *workspace, char ***ids, int *count) {
    *ids = NULL;
    *count = 0;
    char dir[REG_PATH];
    YL_TRY(versions_dir(workspace, dir, sizeof dir));
    if (!yl_fs_is_dir(dir)) return YL_OK;
    char **names = NULL;
    int n = 0;
    YL_TRY(yl_fs_list_dir(dir, &names, &n));
    int kept = 0;
    for (int i = 0; i < n; i++) {
        if (parse_version_id(names[i], NULL)) names[kept++] = names[i];
        else free(names[i]);
    }
    qsort(names, (size_t)kept, sizeof *names, compare_ids);
    *ids = names;
    *count = kept;
    return YL_OK;
}

yl_status yl_registry_list(const char *workspace, yl_model_version **versions, int *count) {
    *versions = NULL;
    *count = 0;
    char deployed[YL_VERSION_ID_SIZE];
    YL_TRY(yl_registry_deployed(workspace, deployed));
    char **ids = NULL;
    int n = 0;
    YL_TRY(version_ids(workspace, &ids, &n));
    yl_model_version *list = calloc(n > 0 ? (size_t)n : 1, sizeof *list);
    if (!list) {
        yl_fs_free_names(ids, n);
        return yl_error(YL_ERR_OOM, "registry list: out of memory");
    }
    yl_status s = YL_OK;
    int loaded = 0;
    for (; loaded < n && s == YL_OK; loaded++) {
        s = load_version(workspace, ids[loaded], deployed, &list[loaded]);
        if (s != YL_OK) break;
    }
    yl_fs_free_names(ids, n);
    if (s != YL_OK) {
        yl_registry_list_free(list, loaded);
        return s;
    }
    *versions = list;
    *count = n;
    return YL_OK;
}

void yl_registry_list_free(yl_model_version *versions, int count) {
    if (!versions) return;
    for (int i = 0; i < count; i++) yl_registry_version_free(&versions[i]);
    free(versions);
}

// ---- add ----------------------------------------------------------------------------------

static yl_status next_id(const char *workspace, char id[YL_VERSION_ID_SIZE]) {
    char **ids = NULL;
    int n = 0;
    YL_TRY(version_ids(workspace, &ids, &n));
    long last = 0;
    if (n > 0) parse_version_id(ids[n - 1], &last);
    yl_fs_free_names(ids, n);
    if (last < 0 || last >= 99999999) return yl_error(YL_ERR_INVALID_ARG, "registry of %s is full", workspace);
    snprintf(id, YL_VERSION_ID_SIZE, "v%04d", (int)(last + 1));
    return YL_OK;
}

// meta.json of a new version: the caller's fields, then the registry's own (which win).
static cJSON *complete_meta(const cJSON *meta, const char *id, const char *origin, const char *parent,
                            const char *sha256) {
    cJSON *m = meta ? cJSON_Duplicate(meta, true) : cJSON_CreateObject();
    if (!m) return NULL;
    if (!cJSON_IsObject(m)) {
        cJSON_Delete(m);
        return NULL;
    }
    char now[32];
    yl_utc_now_iso(now);
    const char *keys[] = {"id", "parent", "created_at", "origin", "sha256"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) cJSON_DeleteItemFromObjectCaseSensitive(m, keys[i]);
    cJSON_AddStringToObject(m, "id", id);
    if (parent && parent[0]) cJSON_AddStringToObject(m, "parent", parent);
    else cJSON_AddNullToObject(m, "parent");
    cJSON_AddStringToObject(m, "created_at", now);
    cJSON_AddStringToObject(m, "origin", origin);
    cJSON_AddStringToObject(m, "sha256", sha256);
    return m;
}

// Builds a complete version in `tmp` (a fresh folder): the model copy and meta.json.
static yl_status build_version(const char *tmp, const char *model_file, const char *id, const char *origin,
                               const char *parent, const cJSON *meta) {
    char model[REG_PATH], meta_path[REG_PATH];
    YL_TRY(join(model, sizeof model, tmp, "model.safetensors"));
    YL_TRY(join(meta_path, sizeof meta_path, tmp, "meta.json"));
    YL_TRY(yl_fs_mkdirs(tmp));
    YL_TRY(yl_fs_copy_file(model_file, model));
    // The hash of the stored copy, read back from disk: what deploy will verify.
    char sha[65];
    YL_TRY(yl_fs_sha256_file(model, sha));
    cJSON *m = complete_meta(meta, id, origin, parent, sha);
    if (!m) return yl_error(YL_ERR_INVALID_ARG, "registry add: meta must be a JSON object");
    char *text = cJSON_Print(m);
    cJSON_Delete(m);
    if (!text) return yl_error(YL_ERR_OOM, "registry add: out of memory");
    size_t len = strlen(text);
    char *with_newline = realloc(text, len + 2);
    if (!with_newline) {
        free(text);
        return yl_error(YL_ERR_OOM, "registry add: out of memory");
    }
    with_newline[len] = '\n';
    with_newline[len + 1] = '\0';
    yl_status s = yl_fs_write_atomic(meta_path, with_newline, len + 1);
    free(with_newline);
    YL_TRY(s);
    return yl_fs_fsync_dir(tmp);
}

yl_status yl_registry_add(const char *workspace, const char *model_file, const char *origin, const char *parent,
                          const cJSON *meta, char id_out[YL_VERSION_ID_SIZE]) {
    // parent may alias id_out (adding a child of the version just added): copy it first.
    char parent_id[YL_VERSION_ID_SIZE] = "";
    if (parent && parent[0]) {
        YL_TRY(check_version_id(parent));
        snprintf(parent_id, sizeof parent_id, "%s", parent);
        parent = parent_id;
    }
    if (id_out) id_out[0] = '\0';
    if (!workspace || !model_file) return yl_error(YL_ERR_INVALID_ARG, "registry add: workspace and model file needed");
    if (!yl_fs_is_file(model_file)) return yl_error(YL_ERR_IO, "registry add: %s is not a file", model_file);
    if (meta && !cJSON_IsObject(meta)) return yl_error(YL_ERR_INVALID_ARG, "registry add: meta must be a JSON object");
    if (!origin || !origin[0]) origin = "import";
    if (strlen(origin) >= sizeof ((yl_model_version *)0)->origin)
        return yl_error(YL_ERR_INVALID_ARG, "registry add: origin '%s' is too long", origin);
    if (parent && parent[0]) {
        char parent_model[REG_PATH];
        YL_TRY(yl_registry_model_path(workspace, parent, parent_model, sizeof parent_model));
    }
    char dir[REG_PATH], models[REG_PATH];
    YL_TRY(versions_dir(workspace, dir, sizeof dir));
    YL_TRY(models_dir(workspace, models, sizeof models));
    YL_TRY(yl_fs_mkdirs(dir));
    YL_TRY(remove_dead_temps(dir));
    YL_TRY(remove_dead_temps(models));

    for (int attempt = 0; attempt < REG_MAX_ADD_TRIES; attempt++) {
        char id[YL_VERSION_ID_SIZE], tmp[REG_PATH], final_dir[REG_PATH];
        YL_TRY(next_id(workspace, id));
        int n = snprintf(tmp, sizeof tmp, "%s/.%s.tmp.%ld", dir, id, (long)getpid());
        if (n < 0 || (size_t)n >= sizeof tmp) return yl_error(YL_ERR_INVALID_ARG, "path too long: %s", dir);
        YL_TRY(join(final_dir, sizeof final_dir, dir, id));
        YL_TRY(yl_fs_remove_tree(tmp));
        yl_status s = build_version(tmp, model_file, id, origin, parent, meta);
        if (s != YL_OK) {
            yl_fs_remove_tree(tmp);
            return yl_error_context(s, "registry add %s: ", model_file);
        }
        // rename() of a folder onto a non-empty folder fails, so a concurrent add that took the
        // same id first makes us retry with the next one instead of replacing its version.
        if (!yl_fs_exists(final_dir)) {
            s = yl_fs_rename_durable(tmp, final_dir);
            if (s == YL_OK) {
                if (id_out) snprintf(id_out, YL_VERSION_ID_SIZE, "%s", id);
                return YL_OK;
            }
        }
        yl_fs_remove_tree(tmp);
        if (!yl_fs_exists(final_dir)) return s;  // a real failure, not a clash
    }
    return yl_error(YL_ERR_IO, "registry add: could not claim a version id in %s after %d tries", dir,
                    REG_MAX_ADD_TRIES);
}

// ---- deploy and rollback ------------------------------------------------------------------

// The version must be complete and its model file must still hash to meta.json's sha256.
static yl_status verify_version(const char *workspace, const char *id) {
    yl_model_version v;
    YL_TRY(load_version(workspace, id, NULL, &v));
    char model[REG_PATH], sha[65];
    yl_status s = version_file(workspace, id, "model.safetensors", model, sizeof model);
    if (s == YL_OK) s = yl_fs_sha256_file(model, sha);
    if (s == YL_OK && strcmp(sha, v.sha256) != 0) {
        s = yl_error(YL_ERR_FORMAT, "%s: sha256 %.12s... does not match meta.json's %.12s...; refusing to deploy %s",
                     model, sha, v.sha256, id);
    }
    yl_registry_version_free(&v);
    return s;
}

// Swaps the pointer to `to` and records it (plus a missing record of an interrupted change).
static yl_status switch_pointer(const char *workspace, const char *to, const char *action, const char *reason,
                                const char *current, const deployment *log, int log_count, const char *log_text) {
    YL_TRY(verify_version(workspace, to));
    char path[REG_PATH];
    YL_TRY(pointer_path(workspace, path, sizeof path));
    char line[YL_VERSION_ID_SIZE + 2];
    int n = snprintf(line, sizeof line, "%s\n", to);
    YL_TRY(yl_fs_write_atomic(path, line, (size_t)n));

    char *repair = NULL;
    if (current[0] && (log_count == 0 || strcmp(log[log_count - 1].to, current) != 0)) {
        repair = deployment_line(log_count ? log[log_count - 1].to : NULL, current, "deploy",
                                 "recorded late: the pointer changed without a log line (an interrupted deploy, "
                                 "rollback or a manual edit)");
        if (!repair) return yl_error(YL_ERR_OOM, "deploy: out of memory");
    }
    char *entry = deployment_line(current, to, action, reason);
    if (!entry) {
        free(repair);
        return yl_error(YL_ERR_OOM, "deploy: out of memory");
    }
    size_t len = (repair ? strlen(repair) + 1 : 0) + strlen(entry) + 2;
    char *lines = malloc(len);
    yl_status s = YL_OK;
    if (!lines) {
        s = yl_error(YL_ERR_OOM, "deploy: out of memory");
    } else {
        snprintf(lines, len, "%s%s%s\n", repair ? repair : "", repair ? "\n" : "", entry);
        s = append_log(workspace, log_text, lines);
    }
    free(lines);
    free(repair);
    free(entry);
    return s;
}

yl_status yl_registry_deploy(const char *workspace, const char *id, const char *reason) {
    if (!workspace) return yl_error(YL_ERR_INVALID_ARG, "deploy: no workspace");
    YL_TRY(check_version_id(id));
    char current[YL_VERSION_ID_SIZE];
    YL_TRY(yl_registry_deployed(workspace, current));
    deployment *log = NULL;
    int count = 0;
    char *text = NULL;
    YL_TRY(read_log(workspace, &log, &count, &text));
    yl_status s = switch_pointer(workspace, id, "deploy", reason, current, log, count, text);
    free(log);
    free(text);
    return s;
}

// Replays the log into the chain of deployed versions (a deploy pushes, a rollback pops back to
// its target), ending with the pointer's version. The previous deployed version is the one below
// the top.
static yl_status previous_deployed(const deployment *log, int count, const char *current, char prev[YL_VERSION_ID_SIZE],
                                   const char *workspace) {
    prev[0] = '\0';
    char(*stack)[YL_VERSION_ID_SIZE] = malloc(((size_t)count + 1) * sizeof *stack);
    if (!stack) return yl_error(YL_ERR_OOM, "rollback: out of memory");
    int top = 0;
    for (int i = 0; i <= count; i++) {
        const char *to = i < count ? log[i].to : current;
        bool rollback = i < count && log[i].rollback;
        if (i == count && (top > 0 && !strcmp(stack[top - 1], to))) break;  // log agrees with the pointer
        if (rollback) {
            int j = top - 1;
            while (j >= 0 && strcmp(stack[j], to) != 0) j--;
            if (j >= 0) {
                top = j + 1;
                continue;
            }
        }
        if (top == 0 || strcmp(stack[top - 1], to) != 0) snprintf(stack[top++], YL_VERSION_ID_SIZE, "%s", to);
    }
    yl_status s = YL_OK;
    if (top < 2) {
        s = yl_error(YL_ERR_INVALID_ARG,
                     "%s has no earlier deployed version in %s/models/deployments.jsonl; name one with to=",
                     current, workspace);
    } else {
        snprintf(prev, YL_VERSION_ID_SIZE, "%s", stack[top - 2]);
    }
    free(stack);
    return s;
}

yl_status yl_registry_rollback(const char *workspace, const char *to, const char *reason,
                               char id_out[YL_VERSION_ID_SIZE]) {
    if (id_out) id_out[0] = '\0';
    if (!workspace) return yl_error(YL_ERR_INVALID_ARG, "rollback: no workspace");
    if (to) YL_TRY(check_version_id(to));
    char current[YL_VERSION_ID_SIZE];
    YL_TRY(yl_registry_deployed(workspace, current));
    if (!current[0]) return yl_error(YL_ERR_INVALID_ARG, "nothing is deployed in %s yet", workspace);
    deployment *log = NULL;
    int count = 0;
    char *text = NULL;
    YL_TRY(read_log(workspace, &log, &count, &text));
    char target[YL_VERSION_ID_SIZE];
    yl_status s = YL_OK;
    if (to) {
        snprintf(target, sizeof target, "%s", to);
        if (!strcmp(target, current)) s = yl_error(YL_ERR_INVALID_ARG, "%s is already deployed", target);
    } else {
        s = previous_deployed(log, count, current, target, workspace);
    }
    if (s == YL_OK) s = switch_pointer(workspace, target, "rollback", reason, current, log, count, text);
    if (s == YL_OK && id_out) snprintf(id_out, YL_VERSION_ID_SIZE, "%s", target);
    free(log);
    free(text);
    return s;
}
