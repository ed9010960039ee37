// `yoloop rank model=<file>|workspace=<dir> (source=<dir|list> | project=<id> url=<...>)
// [strategy=combined] [aggregate=max] [budget=20] [diversity=false] [imgsz=640] [conf=0.25]
// [write_back=true] ...`: scores how uncertain the model is on each unlabeled image
// (engine/eval/uncertainty.h via cli/rank/scorer.h), prints the top-K, and for a Label Studio
// project writes each scored task a prediction whose score is the uncertainty, so that the Data
// Manager sorts by it.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/labelstudio/json_util.h"
#include "cli/rank/model_source.h"
#include "cli/rank/rank.h"
#include "cli/rank/scoring_args.h"
#include "engine/data/file_util.h"
#include "engine/data/image_list.h"

#define RANK_KNOWN                                                                                                \
    "model, workspace, source, url, project, token_file, control, strategy, aggregate, budget, diversity, imgsz, " \
    "conf, iou, max_det, flip, write_back, set_model_version, cache, out, seed, device"

typedef struct {
    yl_rank_source_args src;
    yl_rank_scoring_args scoring;
    const char *source, *cache, *out;
    int budget;
    bool diversity, write_back, set_model_version;
    uint64_t seed;
} rank_args;

static void print_help(FILE *out) {
    fprintf(out,
            "usage: yoloop rank (model=<file> | workspace=<dir>) (source=<dir|list.txt> | url=<Label Studio> project=<id>)\n"
            "                   [strategy=combined] [aggregate=max] [budget=20] [diversity=false] [imgsz=640]\n"
            "                   [conf=0.25] [iou=0.7] [max_det=300] [flip=auto] [write_back=true]\n"
            "                   [set_model_version=true] [token_file=<file>] [control=<name>] [cache=<dir>]\n"
            "                   [out=<list.txt>] [seed=0] [device=cpu]\n"
            "\n"
            "Ranks images by how uncertain the model is about them, from the detections that survive NMS at\n"
            "conf (their anchors' class probabilities and DFL box distributions):\n"
            "  least_confidence 1 - p   margin 1 - (p1 - p2)   entropy H(p) in bits   dfl_entropy the box\n"
            "  distributions' entropy / ln 16   flip 1 - mean IoU with the mirrored input's detections\n"
            "  combined the mean of those   random a seeded baseline\n"
            "aggregated over an image's detections by max, mean or sum. An image with no detection scores\n"
            "its best class probability / conf (a near miss is uncertain, an empty image is not).\n"
            "diversity=true picks the budget by k-center on pooled SPPF features among the top 4 x budget.\n"
            "\n"
            "source= ranks local images; project= ranks the project's unlabeled tasks (images downloaded into\n"
            "cache=, default <workspace>/cache/images or runs/rank/cache) and, with write_back=true, gives each\n"
            "scored task a prediction (the model's boxes, score = uncertainty, model_version\n"
            "'<model>-uncertainty-<strategy>') and makes that the project's model_version (set_model_version)\n"
            "so the Data Manager's prediction score column sorts by it. Tasks that already have a prediction\n"
            "of that version are not written twice. The token comes from LABEL_STUDIO_API_KEY or token_file=.\n"
            "out= writes the selected image paths, one per line (usable as a source= list).\n"
            "Exit codes: 0 done, 1 error (message on stderr), 2 bad arguments.\n");
}

static bool parse_one(rank_args *a, const char *key, const char *value) {
    const int source_arg = yl_rank_source_parse_arg("rank", key, value, &a->src);
    if (source_arg >= 0) return source_arg;
    const int scoring_arg = yl_rank_scoring_parse_arg("rank", key, value, true, &a->scoring);
    if (scoring_arg >= 0) return scoring_arg;
    int i;
    if (!strcmp(key, "source")) return yl_arg_string("rank", key, value, &a->source);
    if (!strcmp(key, "cache")) return yl_arg_string("rank", key, value, &a->cache);
    if (!strcmp(key, "out")) return yl_arg_string("rank", key, value, &a->out);
    if (!strcmp(key, "budget")) return yl_arg_int("rank", key, value, 1, 100000000, &a->budget);
    if (!strcmp(key, "diversity")) return yl_arg_bool("rank", key, value, &a->diversity);
    if (!strcmp(key, "write_back")) return yl_arg_bool("rank", key, value, &a->write_back);
    if (!strcmp(key, "set_model_version")) return yl_arg_bool("rank", key, value, &a->set_model_version);
    if (!strcmp(key, "seed")) return yl_arg_int("rank", key, value, 0, 2147483647, &i) && ((a->seed = (uint64_t)i), true);
    if (!strcmp(key, "flip")) {
        bool b;
        if (!strcmp(value, "auto")) {
            a->scoring.flip = -1;
            return true;
        }
        if (!yl_arg_bool("rank", key, value, &b)) return false;
        a->scoring.flip = b;
        return true;
    }
    yl_arg_unknown("rank", key, RANK_KNOWN);
    return false;
}

static int parse_args(int argc, char **argv, rank_args *a) {
    memset(a, 0, sizeof *a);
    a->scoring = yl_rank_scoring_defaults();
    a->budget = 20;
    a->write_back = a->set_model_version = true;
    for (int i = 0; i < argc; i++) {
        char key[32];
        const char *value;
        if (!yl_arg_split("rank", argv[i], key, sizeof key, &value)) return 2;
        if (!parse_one(a, key, value)) return 2;
    }
    if (yl_rank_args_check("rank", &a->src, &a->scoring) != 0) return 2;
    if (a->source && (a->src.project || a->src.url)) {
        fprintf(stderr, "rank: give either source= (local images) or url= and project= (Label Studio), not both\n");
        return 2;
    }
    if (!a->source && !a->src.workspace && (!a->src.project || !a->src.url)) {
        fprintf(stderr, "rank: give source=<dir|list> or url= and project= (see yoloop rank --help)\n");
        return 2;
    }
    return 0;
}

static int fail(const char *what) {
    fprintf(stderr, "rank: %s: %s\n", what, yl_last_error());
    return 1;
}

// ---- Label Studio tasks -------------------------------------------------------------------------

typedef struct {
    const char *image_key;
    const char *model_version;
    yl_rank_item *items;
    int count, capacity;
    long labeled, without_image;
    bool *already;  // parallel to items: has a prediction of model_version
} task_collector;

static const char *task_image_url(const cJSON *task, const char *key) {
    const cJSON *data = cJSON_GetObjectItemCaseSensitive(task, "data");
    const char *url = yl_json_string(data, key);
    if (!url) url = yl_json_string(data, "$undefined$");  // direct uploads (spec §2.5)
    return url;
}

static bool has_version(const cJSON *task, const char *version) {
    const cJSON *p;
    cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(task, "predictions")) {
        const char *v = yl_json_string(p, "model_version");
        if (v && !strcmp(v, version)) return true;
    }
    return false;
}

static yl_status collect_task(void *user, const cJSON *task) {
    task_collector *c = user;
    const cJSON *annotations = cJSON_GetObjectItemCaseSensitive(task, "annotations");
    if (cJSON_GetArraySize(annotations) > 0 || yl_json_int(task, "total_annotations", 0) > 0) {
        c->labeled++;
        return YL_OK;
    }
    const char *url = task_image_url(task, c->image_key);
    if (!url) {
        c->without_image++;
        return YL_OK;
    }
    if (c->count == c->capacity) {
        int capacity = c->capacity ? 2 * c->capacity : 64;
        yl_rank_item *items = realloc(c->items, (size_t)capacity * sizeof *items);
        if (!items) return yl_error(YL_ERR_OOM, "rank: out of memory");
        c->items = items;
        bool *already = realloc(c->already, (size_t)capacity * sizeof *already);
        if (!already) return yl_error(YL_ERR_OOM, "rank: out of memory");
        c->already = already;
        c->capacity = capacity;
    }
    yl_rank_item *it = &c->items[c->count];
    memset(it, 0, sizeof *it);
    it->task_id = (long)yl_json_int(task, "id", -1);
    char name[600];
    snprintf(name, sizeof name, "task %ld (%s)", it->task_id, url);
    it->name = yl_strdup(name);
    it->path = yl_strdup(url);  // the URL until downloaded
    if (!it->name || !it->path) return yl_error(YL_ERR_OOM, "rank: out of memory");
    c->already[c->count] = has_version(task, c->model_version);
    c->count++;
    return YL_OK;
}

// "task12_<basename>" with anything unsafe replaced.
static void cache_name(long task_id, const char *url, char *out, size_t size) {
    const char *cut = strpbrk(url, "?#");
    size_t n = cut ? (size_t)(cut - url) : strlen(url);
    const char *base = url;
    for (size_t i = 0; i < n; i++)
        if (url[i] == '/' || url[i] == '=') base = url + i + 1;
    int w = snprintf(out, size, "task%ld_", task_id);
    for (const char *p = base; p < url + n && (size_t)w + 1 < size; p++)
        out[w++] = (*p == '.' || *p == '-' || *p == '_' || (*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') ||
                    (*p >= 'A' && *p <= 'Z'))
                       ? *p
                       : '_';
    out[w] = '\0';
    if (base == url + n) snprintf(out + w, size - (size_t)w, "image");
}

static char *cache_dir(const rank_args *a, const yl_rank_source *src) {
    if (a->cache) return yl_strdup(a->cache);
    if (src->workspace) return yl_path_join(src->workspace, "cache/images");
    return yl_strdup("runs/rank/cache");
}

// Downloads each task's image; a failure is a warning and the task is skipped.
static int download_tasks(yl_ls_client *client, const char *dir, task_collector *c, int *usable) {
    if (yl_make_directories(dir) != YL_OK) return fail(dir);
    *usable = 0;
    for (int i = 0; i < c->count; i++) {
        yl_rank_item *it = &c->items[i];
        char name[300];
        cache_name(it->task_id, it->path, name, sizeof name);
        char *dest = yl_path_join(dir, name);
        yl_ls_download_result res;
        if (!dest) return fail("out of memory");
        if (yl_ls_download_image(client, it->path, it->task_id, dest, 0, &res) != YL_OK) {
            fprintf(stderr, "rank: warning: task %ld skipped: %s\n", it->task_id, yl_last_error());
            free(dest);
            it->ok = false;
            free(it->path);
            it->path = NULL;
            continue;
        }
        free(it->path);
        it->path = dest;
        (*usable)++;
    }
    return 0;
}

// ---- scoring and output --------------------------------------------------------------------------

static void score_items(const rank_args *a, yl_scorer *s, yl_rank_item *items, int n, int *failed) {
    *failed = 0;
    for (int i = 0; i < n; i++) {
        yl_rank_item *it = &items[i];
        it->ok = false;
        if (!it->path) continue;
        if (yl_scorer_run_file(s, it->path, &it->scored) != YL_OK) {
            fprintf(stderr, "rank: warning: %s skipped: %s\n", it->name, yl_last_error());
            (*failed)++;
            continue;
        }
        it->ok = true;
        it->score = yl_rank_item_score(it, a->scoring.strategy, a->seed);
    }
}

static void print_table(const yl_rank_item *items, const int *sel, int count) {
    printf("%4s  %-7s %-7s %-7s %-7s %-7s %-7s %-7s %4s  %s\n", "rank", "score", "lc", "margin", "entropy", "dfl",
           "flip", "near", "dets", "image");
    for (int r = 0; r < count; r++) {
        const yl_rank_item *it = &items[sel[r]];
        const yl_unc_image *u = &it->scored.unc;
        char flip[16];
        if (u->flip >= 0) snprintf(flip, sizeof flip, "%.4f", u->flip);
        else snprintf(flip, sizeof flip, "-");
        printf("%4d  %-7.4f %-7.4f %-7.4f %-7.4f %-7.4f %-7s %-7.4f %4d  %s\n", r + 1, it->score, u->least_confidence,
               u->margin, u->entropy, u->dfl_entropy, flip, u->near_miss, u->detections, it->name);
    }
}

static int write_selection(const char *path, const yl_rank_item *items, const int *sel, int count) {
    size_t size = 1;
    for (int r = 0; r < count; r++) size += strlen(items[sel[r]].path) + 1;
    char *text = malloc(size), *w = text;
    if (!text) return fail("out of memory");
    for (int r = 0; r < count; r++) w += sprintf(w, "%s\n", items[sel[r]].path);
    FILE *f = fopen(path, "wb");
    int rc = 0;
    if (!f || fwrite(text, 1, (size_t)(w - text), f) != (size_t)(w - text)) {
        fprintf(stderr, "rank: cannot write out=%s\n", path);
        rc = 1;
    }
    if (f && fclose(f) != 0 && !rc) {
        fprintf(stderr, "rank: cannot write out=%s\n", path);
        rc = 1;
    }
    free(text);
    return rc;
}

// One prediction per scored task that has none of this version yet; then the project's
// model_version, so the Data Manager shows (and sorts by) these scores.
static int write_back(const rank_args *a, yl_ls_client *client, const yl_rank_source *src,
                      const yl_ls_label_config *config, const task_collector *c, const char *version) {
    int *map = malloc((size_t)(src->model.nc > 0 ? src->model.nc : 1) * sizeof *map);
    if (!map) return fail("out of memory");
    if (yl_rank_class_map(config, src->model.names, src->model.nc, map) != YL_OK) {
        free(map);
        return fail("label config");
    }
    cJSON *all = cJSON_CreateArray();
    int skipped = 0, rc = 0;
    for (int i = 0; all && !rc && i < c->count; i++) {
        const yl_rank_item *it = &c->items[i];
        if (!it->ok) continue;
        if (c->already[i]) {
            skipped++;
            continue;
        }
        cJSON *p = yl_rank_prediction(config, map, &it->scored, version, yl_rank_ls_score(it->score, a->scoring.aggregate));
        if (!p || !cJSON_AddNumberToObject(p, "task", (double)it->task_id)) {
            cJSON_Delete(p);
            rc = fail("out of memory");
            break;
        }
        cJSON_AddItemToArray(all, p);
    }
    long created = 0;
    const int n = cJSON_GetArraySize(all);
    if (!rc && n > 0 && yl_ls_import_predictions(client, src->project, all, &created) != YL_OK)
        rc = fail("writing predictions");
    if (!rc) printf("wrote %ld prediction%s (model_version %s)%s\n", created, created == 1 ? "" : "s", version,
                    skipped ? "; tasks already scored by this version were left alone" : "");
    if (!rc && a->set_model_version && yl_ls_set_project_model_version(client, src->project, version) != YL_OK)
        rc = fail("setting the project's model_version");
    cJSON_Delete(all);
    free(map);
    return rc;
}

static int run(const rank_args *a, yl_rank_source *src) {
    yl_scorer_options so = yl_rank_scorer_options(&a->scoring, src->imgsz);
    so.features = a->diversity;
    char version[128];
    snprintf(version, sizeof version, "%s-uncertainty-%s", src->version, yl_unc_strategy_name(a->scoring.strategy));

    yl_ls_client *client = NULL;
    yl_ls_label_config config = {0};
    task_collector c = {.model_version = version};
    int rc = 0;
    yl_path_list list = {0};
    if (a->source) {
        if (yl_path_list_add_source(&list, a->source) != YL_OK) {
            yl_path_list_free(&list);
            return fail(a->source);
        }
        yl_path_list_sort(&list);
        c.items = calloc((size_t)(list.count > 0 ? list.count : 1), sizeof *c.items);
        if (!c.items) rc = fail("out of memory");
        for (int i = 0; !rc && i < list.count; i++) {
            c.items[i].task_id = -1;
            c.items[i].name = yl_strdup(list.paths[i]);
            c.items[i].path = yl_strdup(list.paths[i]);
            c.count++;
        }
        yl_path_list_free(&list);
        if (!rc && c.count == 0) {
            fprintf(stderr, "rank: source=%s holds no images\n", a->source);
            rc = 1;
        }
    } else {
        if (yl_rank_source_connect(src, &client, &config) != YL_OK) return fail("Label Studio");
        c.image_key = config.image_key;
        yl_ls_task_query q = {0};
        long listed = 0;
        if (yl_ls_list_tasks(client, src->project, &q, collect_task, &c, &listed) != YL_OK) rc = fail("listing tasks");
        if (!rc)
            printf("project %d: %ld tasks, %ld labeled, %d unlabeled%s\n", src->project, listed, c.labeled, c.count,
                   c.without_image ? " (some without an image URL skipped)" : "");
        char *dir = rc ? NULL : cache_dir(a, src);
        int usable = 0;
        if (!rc && !dir) rc = fail("out of memory");
        if (!rc) rc = download_tasks(client, dir, &c, &usable);
        free(dir);
    }
    yl_scorer *s = NULL;
    if (!rc && yl_scorer_create(&s, src->model.model, &so) != YL_OK) rc = fail("scorer");
    int failed = 0, *sel = NULL, count = 0;
    if (!rc) score_items(a, s, c.items, c.count, &failed);
    if (!rc && yl_rank_select(c.items, c.count, a->budget, a->diversity, &sel, &count) != YL_OK) rc = fail("selection");
    if (!rc) {
        int scored = 0;
        for (int i = 0; i < c.count; i++) scored += c.items[i].ok;
        printf("scored %d image%s with %s (strategy %s, aggregate %s%s%s), imgsz %d, conf %.3g\n", scored,
               scored == 1 ? "" : "s", src->version, yl_unc_strategy_name(a->scoring.strategy),
               yl_unc_aggregate_name(a->scoring.aggregate), so.flip ? ", flip" : "", a->diversity ? ", diversity" : "",
               so.imgsz, a->scoring.conf);
        if (failed) fprintf(stderr, "rank: warning: %d image%s could not be scored\n", failed, failed == 1 ? "" : "s");
        print_table(c.items, sel, count);
        if (scored == 0) {
            fprintf(stderr, "rank: no image could be scored\n");
            rc = 1;
        }
    }
    if (!rc && a->out) rc = write_selection(a->out, c.items, sel, count);
    if (!rc && client && a->write_back) rc = write_back(a, client, src, &config, &c, version);
    free(sel);
    yl_scorer_destroy(s);
    yl_rank_items_free(c.items, c.count);
    free(c.already);
    yl_ls_label_config_free(&config);
    yl_ls_client_close(client);
    return rc;
}

static int run_command(const void *args, yl_rank_source *src) { return run(args, src); }

int yl_cmd_rank(int argc, char **argv) {
    if (yl_arg_wants_help(argc, argv)) {
        print_help(stdout);
        return 0;
    }
    rank_args a;
    int rc = parse_args(argc, argv, &a);
    if (rc) return rc;
    return yl_rank_command_main("rank", &a.src, a.scoring.device, a.scoring.cuda_index, run_command, &a);
}
