// `yoloop push (workspace=<dir> | model=<file>) source=<dir|list> [url=... project=N]`: the
// mark-for-retraining flow. Imports new images (from the field, or only those a user flagged as
// misses) into the Label Studio project, each as a task with the model's boxes as a
// pre-annotation whose score is the image's uncertainty, and the image's SHA-256 in the task's
// meta. Images already there — the same content hash in a task's meta/data, or in the local push
// log — are skipped, so pushing a folder twice imports nothing the second time.
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/fs_util.h"
#include "cli/labelstudio/json_util.h"
#include "cli/labelstudio/upload.h"
#include "cli/rank/model_source.h"
#include "cli/rank/rank.h"
#include "cli/rank/scoring_args.h"
#include "engine/data/file_util.h"
#include "engine/data/image_list.h"

#define PUSH_KNOWN                                                                                                 \
    "model, workspace, source, url, project, token_file, control, strategy, aggregate, imgsz, conf, iou, max_det, " \
    "log, dry_run, device"
#define PUSH_META_KEY "yoloop_sha256"

typedef struct {
    yl_rank_source_args src;
    yl_rank_scoring_args scoring;
    const char *source, *log;
    bool dry_run;
} push_args;

static void print_help(FILE *out) {
    fprintf(out,
            "usage: yoloop push (workspace=<dir> | model=<file>) source=<image|dir|list.txt> [url=<Label Studio>]\n"
            "                   [project=<id>] [token_file=<file>] [control=<name>] [strategy=combined]\n"
            "                   [aggregate=max] [imgsz=640] [conf=0.25] [iou=0.7] [max_det=300] [log=<file>]\n"
            "                   [dry_run=false] [device=cpu]\n"
            "\n"
            "Imports the images of source= into the Label Studio project for labeling (e.g. the images a user\n"
            "flagged as misses): each one is uploaded as a task (multipart import), gets the model's boxes as a\n"
            "prediction whose score is its uncertainty (see yoloop rank --help; model_version\n"
            "'<model>-push'), and its SHA-256 in the task's meta (" PUSH_META_KEY "). An image whose content\n"
            "is already in the project (that hash in a task's meta or data) or in the push log (log=, default\n"
            "<workspace>/push_log.jsonl or runs/push/push_log.jsonl) is skipped. dry_run=true only reports.\n"
            "The model is the workspace's deployed version unless model= names a file; url/project/token come\n"
            "from the workspace's yoloop.yaml unless given. The token comes from LABEL_STUDIO_API_KEY or\n"
            "token_file=, never from the command line.\n"
            "Exit codes: 0 done (also when nothing was new), 1 error (message on stderr), 2 bad arguments.\n");
}

static bool parse_one(push_args *a, const char *key, const char *value) {
    const int source_arg = yl_rank_source_parse_arg("push", key, value, &a->src);
    if (source_arg >= 0) return source_arg;
    const int scoring_arg = yl_rank_scoring_parse_arg("push", key, value, false, &a->scoring);
    if (scoring_arg >= 0) return scoring_arg;
    if (!strcmp(key, "source")) return yl_arg_string("push", key, value, &a->source);
    if (!strcmp(key, "log")) return yl_arg_string("push", key, value, &a->log);
    if (!strcmp(key, "dry_run")) return yl_arg_bool("push", key, value, &a->dry_run);
    yl_arg_unknown("push", key, PUSH_KNOWN);
    return false;
}

static int parse_args(int argc, char **argv, push_args *a) {
    memset(a, 0, sizeof *a);
    a->scoring = yl_rank_scoring_defaults();
    for (int i = 0; i < argc; i++) {
        char key[32];
        const char *value;
        if (!yl_arg_split("push", argv[i], key, sizeof key, &value)) return 2;
        if (!parse_one(a, key, value)) return 2;
    }
    if (yl_rank_args_check("push", &a->src, &a->scoring) != 0) return 2;
    if (!a->source) {
        fprintf(stderr, "push: source= is required (see yoloop push --help)\n");
        return 2;
    }
    if (!a->src.workspace && (!a->src.url || !a->src.project)) {
        fprintf(stderr, "push: url= and project= are required without a workspace\n");
        return 2;
    }
    return 0;
}

static int fail(const char *what) {
    fprintf(stderr, "push: %s: %s\n", what, yl_last_error());
    return 1;
}

// ---- known hashes --------------------------------------------------------------------------------

typedef struct {
    char (*hex)[65];
    int count, capacity;
} hash_set;

static bool hash_known(const hash_set *s, const char *hex) {
    for (int i = 0; i < s->count; i++)
        if (!strcmp(s->hex[i], hex)) return true;
    return false;
}

static yl_status hash_add(hash_set *s, const char *hex) {
    if (!hex || strlen(hex) != 64 || hash_known(s, hex)) return YL_OK;
    if (s->count == s->capacity) {
        int capacity = s->capacity ? 2 * s->capacity : 64;
        char(*grown)[65] = realloc(s->hex, (size_t)capacity * sizeof *grown);
        if (!grown) return yl_error(YL_ERR_OOM, "push: out of memory");
        s->hex = grown;
        s->capacity = capacity;
    }
    snprintf(s->hex[s->count++], 65, "%s", hex);
    return YL_OK;
}

static yl_status collect_task_hash(void *user, const cJSON *task) {
    const char *meta = yl_json_string(cJSON_GetObjectItemCaseSensitive(task, "meta"), PUSH_META_KEY);
    const char *data = yl_json_string(cJSON_GetObjectItemCaseSensitive(task, "data"), PUSH_META_KEY);
    YL_TRY(hash_add(user, meta));
    return hash_add(user, data);
}

// Lines of the push log for this url and project. A torn last line (a killed push) is skipped
// with a warning: the task it would name was still found by its meta when the upload finished.
static int read_log(const char *path, const char *url, int project, hash_set *known) {
    if (!yl_fs_exists(path)) return 0;
    char *text = NULL;
    size_t size = 0;
    if (yl_fs_read_all(path, &text, &size) != YL_OK) return fail(path);
    int line_no = 0, rc = 0;
    for (char *line = text, *next; !rc && line && *line; line = next) {
        next = strchr(line, '\n');
        if (next) *next++ = '\0';
        line_no++;
        if (!*line) continue;
        cJSON *entry = cJSON_Parse(line);
        if (!cJSON_IsObject(entry)) {
            fprintf(stderr, "push: warning: %s:%d: not a JSON object, ignored\n", path, line_no);
        } else {
            const char *u = yl_json_string(entry, "url");
            if (u && !strcmp(u, url) && yl_json_int(entry, "project", -1) == project &&
                hash_add(known, yl_json_string(entry, "sha256")) != YL_OK)
                rc = fail("push log");
        }
        cJSON_Delete(entry);
    }
    free(text);
    return rc;
}

// One JSON line, appended and fsync'd before the next image is touched.
static int append_log(const char *path, const char *url, int project, const char *hex, long task, const char *file) {
    cJSON *entry = cJSON_CreateObject();
    char now[32];
    yl_utc_now_iso(now);
    cJSON_AddStringToObject(entry, "time", now);
    cJSON_AddStringToObject(entry, "url", url);
    cJSON_AddNumberToObject(entry, "project", project);
    cJSON_AddStringToObject(entry, "sha256", hex);
    cJSON_AddNumberToObject(entry, "task", (double)task);
    cJSON_AddStringToObject(entry, "file", file);
    char *text = cJSON_PrintUnformatted(entry);
    cJSON_Delete(entry);
    if (!text) return fail("out of memory");
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0644);
    const size_t n = strlen(text);
    text[n] = '\n';  // replaces the NUL; written with its length below
    int ok = fd >= 0 && write(fd, text, n + 1) == (ssize_t)(n + 1) && fsync(fd) == 0;
    int saved = errno;
    if (fd >= 0) close(fd);
    free(text);
    if (!ok) {
        fprintf(stderr, "push: cannot append to the push log %s: %s\n", path, strerror(saved));
        return 1;
    }
    return 0;
}

static char *log_path(const push_args *a, const yl_rank_source *src) {
    if (a->log) return yl_strdup(a->log);
    if (src->workspace) return yl_path_join(src->workspace, "push_log.jsonl");
    return yl_strdup("runs/push/push_log.jsonl");
}

// ---- one image -------------------------------------------------------------------------------------

typedef struct {
    const push_args *a;
    const yl_rank_source *src;
    yl_ls_client *client;
    const yl_ls_label_config *config;
    const int *class_map;
    yl_scorer *scorer;
    const char *log;
    const char *version;
    hash_set *known;
    int pushed, present, failed;
} push_run;

static int push_one(push_run *p, const char *path) {
    char hex[65];
    if (yl_fs_sha256_file(path, hex) != YL_OK) {
        fprintf(stderr, "push: warning: %s skipped: %s\n", path, yl_last_error());
        p->failed++;
        return 0;
    }
    if (hash_known(p->known, hex)) {
        printf("  already in the project: %s\n", path);
        p->present++;
        return 0;
    }
    yl_rank_item item = {.name = (char *)path, .path = (char *)path, .task_id = -1};
    if (yl_scorer_run_file(p->scorer, path, &item.scored) != YL_OK) {
        fprintf(stderr, "push: warning: %s skipped: %s\n", path, yl_last_error());
        p->failed++;
        return 0;
    }
    item.score = yl_rank_item_score(&item, p->a->scoring.strategy, 0);
    const double ls_score = yl_rank_ls_score(item.score, p->a->scoring.aggregate);
    int rc = 0;
    if (p->a->dry_run) {
        printf("  would push %s: %lld box%s, uncertainty %.4f\n", path, (long long)item.scored.count,
               item.scored.count == 1 ? "" : "es", item.score);
        hash_add(p->known, hex);
        p->pushed++;
        yl_scored_image_free(&item.scored);
        return 0;
    }
    cJSON *prediction = yl_rank_prediction(p->config, p->class_map, &item.scored, p->version, ls_score);
    long task = 0;
    if (!prediction) rc = fail("out of memory");
    // Upload, then log at once: from here on a rerun must not upload this image again, even when
    // the meta or the prediction below fails.
    if (!rc && yl_ls_upload_image(p->client, p->src->project, path, &task) != YL_OK) rc = fail(path);
    if (!rc) rc = append_log(p->log, p->src->url, p->src->project, hex, task, path);
    if (!rc) {
        cJSON *meta = cJSON_CreateObject();
        cJSON_AddStringToObject(meta, PUSH_META_KEY, hex);
        cJSON_AddStringToObject(meta, "yoloop_source", path);
        if (yl_ls_set_task_meta(p->client, task, meta) != YL_OK)
            fprintf(stderr, "push: warning: task %ld: could not store the hash in its meta (the push log has it): %s\n",
                    task, yl_last_error());
        cJSON_Delete(meta);
        cJSON_AddNumberToObject(prediction, "task", (double)task);
        cJSON *list = cJSON_CreateArray();
        cJSON_AddItemToArray(list, prediction);
        prediction = NULL;
        if (yl_ls_import_predictions(p->client, p->src->project, list, NULL) != YL_OK) rc = fail("prediction");
        cJSON_Delete(list);
    }
    cJSON_Delete(prediction);
    if (!rc) {
        printf("  pushed %s -> task %ld: %lld box%s, uncertainty %.4f\n", path, task, (long long)item.scored.count,
               item.scored.count == 1 ? "" : "es", item.score);
        hash_add(p->known, hex);
        p->pushed++;
    }
    yl_scored_image_free(&item.scored);
    return rc;
}

static int run(const push_args *a, yl_rank_source *src) {
    yl_path_list list = {0};
    if (yl_path_list_add_source(&list, a->source) != YL_OK) {
        yl_path_list_free(&list);
        return fail(a->source);
    }
    yl_path_list_sort(&list);
    if (list.count == 0) {
        yl_path_list_free(&list);
        fprintf(stderr, "push: source=%s holds no images\n", a->source);
        return 1;
    }
    yl_ls_client *client = NULL;
    yl_ls_label_config config = {0};
    hash_set known = {0};
    int *map = NULL, rc = 0;
    char *log = log_path(a, src), *log_dir = log ? yl_path_dirname(log) : NULL;
    char version[96];
    snprintf(version, sizeof version, "%s-push", src->version);
    if (!log || !log_dir) rc = fail("out of memory");
    if (!rc && yl_fs_mkdirs(log_dir) != YL_OK) rc = fail(log_dir);
    if (!rc && yl_rank_source_connect(src, &client, &config) != YL_OK) rc = fail("Label Studio");
    if (!rc && !(map = malloc((size_t)(src->model.nc > 0 ? src->model.nc : 1) * sizeof *map))) rc = fail("out of memory");
    if (!rc && yl_rank_class_map(&config, src->model.names, src->model.nc, map) != YL_OK) rc = fail("label config");
    long tasks = 0;
    yl_ls_task_query q = {0};
    if (!rc && yl_ls_list_tasks(client, src->project, &q, collect_task_hash, &known, &tasks) != YL_OK)
        rc = fail("listing tasks");
    const int in_project = known.count;
    if (!rc) rc = read_log(log, src->url, src->project, &known);
    yl_scorer_options so = yl_rank_scorer_options(&a->scoring, src->imgsz);
    yl_scorer *scorer = NULL;
    if (!rc && yl_scorer_create(&scorer, src->model.model, &so) != YL_OK) rc = fail("scorer");
    push_run p = {.a = a, .src = src, .client = client, .config = &config, .class_map = map, .scorer = scorer,
                  .log = log, .version = version, .known = &known};
    if (!rc)
        printf("project %d: %ld tasks (%d with a content hash), push log %s; %d image%s to consider\n", src->project,
               tasks, in_project, log, list.count, list.count == 1 ? "" : "s");
    for (int i = 0; !rc && i < list.count; i++) rc = push_one(&p, list.paths[i]);
    if (!rc || p.pushed)
        printf("%s %d, already there %d, failed %d\n", a->dry_run ? "would push" : "pushed", p.pushed, p.present,
               p.failed);
    if (!rc && p.failed) fprintf(stderr, "push: warning: %d image%s could not be pushed\n", p.failed, p.failed == 1 ? "" : "s");
    yl_scorer_destroy(scorer);
    free(map);
    free(known.hex);
    free(log);
    free(log_dir);
    yl_ls_label_config_free(&config);
    yl_ls_client_close(client);
    yl_path_list_free(&list);
    return rc;
}

static int run_command(const void *args, yl_rank_source *src) { return run(args, src); }

int yl_cmd_push(int argc, char **argv) {
    if (yl_arg_wants_help(argc, argv)) {
        print_help(stdout);
        return 0;
    }
    push_args a;
    int rc = parse_args(argc, argv, &a);
    if (rc) return rc;
    return yl_rank_command_main("push", &a.src, a.scoring.device, a.scoring.cuda_index, run_command, &a);
}
