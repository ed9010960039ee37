// Snapshot source: a live Label Studio project. The label config's classes are mapped by name to
// the workspace's names; the JSON export goes to tasks.json; each image is downloaded once into
// cache/images/ and hard-linked into the snapshot.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cycle/snapshot_internal.h"
#include "cli/fs_util.h"
#include "cli/labelstudio/client.h"

// map[label config index] = workspace index; a config class the workspace does not know is an
// error: guessing its id is exactly how the seed swapped classes.
static yl_status map_classes(const yl_ls_label_config *lc, const yl_workspace_config *config, int project,
                             int **out) {
    int *map = calloc((size_t)(lc->num_labels ? lc->num_labels : 1), sizeof *map);
    if (!map) return yl_error(YL_ERR_OOM, "snapshot: out of memory");
    for (int i = 0; i < lc->num_labels; i++) {
        map[i] = -1;
        for (int k = 0; k < config->nc && map[i] < 0; k++)
            if (!strcmp(config->names[k], lc->labels[i].name)) map[i] = k;
        for (int k = 0; k < config->nc && map[i] < 0; k++)
            if (!strcmp(config->names[k], lc->labels[i].value)) map[i] = k;
        if (map[i] < 0) {
            char known[512] = "";
            size_t used = 0;
            for (int k = 0; k < config->nc && used < sizeof known; k++) {
                int n = snprintf(known + used, sizeof known - used, "%s'%s'", k ? ", " : "", config->names[k]);
                if (n < 0) break;
                used += (size_t)n;
            }
            free(map);
            return yl_error(YL_ERR_FORMAT,
                            "Label Studio project %d: class '%s' of the label config is not in the workspace names "
                            "(%s); add it to names in yoloop.yaml (classes are matched by name, never by position)",
                            project, lc->labels[i].name, known);
        }
    }
    *out = map;
    return YL_OK;
}

typedef struct {
    yl_ls_client *client;
    char cache_dir[1024];
    long downloaded, cached;
} fetch_state;

// cache/images/<sha256(url)[:16]>_<file name>: one file per URL, whatever snapshot asks for it.
static yl_status fetch_image(void *user, const yl_ls_image_labels *image, char *path, size_t size) {
    fetch_state *f = user;
    char hash[65];
    yl_sha256_hex(image->image_url, strlen(image->image_url), hash);
    int n = snprintf(path, size, "%s/%.16s_%s", f->cache_dir, hash, image->file_name);
    if (n < 0 || (size_t)n >= size) return yl_error(YL_ERR_INVALID_ARG, "cache path too long");
    // A file already in the cache is kept without asking the server again (its size is passed
    // as the expected one): Label Studio never changes the bytes behind an upload URL.
    struct stat st;
    long long cached_size = stat(path, &st) == 0 && S_ISREG(st.st_mode) ? (long long)st.st_size : 0;
    yl_ls_download_result result;
    YL_TRY(yl_ls_download_image(f->client, image->image_url, image->task_id, path, cached_size, &result));
    if (result.skipped) f->cached++;
    else f->downloaded++;
    return YL_OK;
}

static yl_status export_and_add(yl_snapshot_builder *b, yl_ls_client *client, const yl_ls_label_config *lc,
                                const int *map) {
    const yl_workspace_config *config = b->config;
    char tasks_path[1100];
    snprintf(tasks_path, sizeof tasks_path, "%s/tasks.json", b->dir);
    yl_ls_export_method used = YL_LS_EXPORT_AUTO;
    YL_TRY(yl_ls_export(client, config->ls_project, NULL, tasks_path, &used));
    static const char *const methods[] = {"auto", "easy export", "export snapshot", "task pages"};
    cJSON_AddStringToObject(b->source, "export_method", methods[used <= 3 ? used : 0]);

    yl_ls_parse_options options = {.config = lc, .trust_imported = config->trust_imported};
    yl_ls_annotation_set set;
    yl_status status = yl_ls_annotations_parse_file(tasks_path, &options, &set);
    if (status != YL_OK) return status;
    b->counts = set.counts;
    yl_snapshot_logf(b, "exported %ld tasks: %ld verified images (%ld background), %ld skipped, %ld unverified",
                     set.counts.tasks, set.counts.images, set.counts.background_images, set.counts.tasks_skipped,
                     set.counts.tasks_unverified);

    fetch_state f = {.client = client};
    status = yl_workspace_path(config, "cache/images", f.cache_dir, sizeof f.cache_dir);
    if (status == YL_OK) status = yl_fs_mkdirs(f.cache_dir);
    if (status == YL_OK) status = yl_snapshot_add_annotation_set(b, &set, map, fetch_image, &f);
    if (status == YL_OK)
        yl_snapshot_logf(b, "downloaded %ld images, %ld cached, %ld failed", f.downloaded, f.cached,
                         b->snapshot->images_failed);
    yl_ls_annotation_set_free(&set);
    return status;
}

yl_status yl_snapshot_from_label_studio(yl_snapshot_builder *b) {
    const yl_workspace_config *config = b->config;
    b->source = cJSON_CreateObject();
    if (!b->source) return yl_error(YL_ERR_OOM, "snapshot: out of memory");
    cJSON_AddStringToObject(b->source, "kind", "labelstudio");
    cJSON_AddStringToObject(b->source, "url", config->ls_url ? config->ls_url : "");
    cJSON_AddNumberToObject(b->source, "project", config->ls_project);
    if (config->control) cJSON_AddStringToObject(b->source, "control", config->control);

    yl_ls_client_options options = {.url = config->ls_url,
                                    .token = {.file = config->token_file},
                                    .local_files_root = config->local_files_root,
                                    .media_root = config->media_root};
    yl_ls_client *client = NULL;
    YL_TRY(yl_ls_client_open(&client, &options));
    yl_ls_label_config lc;
    yl_status status = yl_ls_get_label_config(client, config->ls_project, config->control, &lc);
    if (status != YL_OK) {
        yl_ls_client_close(client);
        return status;
    }
    int *map = NULL;
    status = map_classes(&lc, config, config->ls_project, &map);
    if (status == YL_OK) {
        cJSON *labels = cJSON_AddArrayToObject(b->source, "label_config_classes");
        for (int i = 0; labels && i < lc.num_labels; i++)
            cJSON_AddItemToArray(labels, cJSON_CreateString(lc.labels[i].name));
        status = export_and_add(b, client, &lc, map);
    }
    free(map);
    yl_ls_label_config_free(&lc);
    yl_ls_client_close(client);
    return status;
}
