#include "cli/rank/rank.h"

#include <stdlib.h>
#include <string.h>

#include "cli/labelstudio/predictions.h"

void yl_rank_items_free(yl_rank_item *items, int n) {
    if (!items) return;
    for (int i = 0; i < n; i++) {
        free(items[i].name);
        free(items[i].path);
        yl_scored_image_free(&items[i].scored);
    }
    free(items);
}

// splitmix64 over an FNV-1a hash of the name: independent of the order items come in.
double yl_rank_random_score(uint64_t seed, const char *name) {
    uint64_t h = 1469598103934665603ull ^ seed;
    for (const unsigned char *p = (const unsigned char *)(name ? name : ""); *p; p++) h = (h ^ *p) * 1099511628211ull;
    uint64_t z = h + 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    return (double)(z >> 11) / 9007199254740992.0;
}

double yl_rank_item_score(const yl_rank_item *item, yl_unc_strategy strategy, uint64_t seed) {
    if (strategy == YL_UNC_RANDOM) return yl_rank_random_score(seed, item->name);
    return yl_unc_image_score(&item->scored.unc, strategy);
}

static const yl_rank_item *sort_items;

static int by_score(const void *pa, const void *pb) {
    const yl_rank_item *a = &sort_items[*(const int *)pa], *b = &sort_items[*(const int *)pb];
    if (a->score != b->score) return a->score > b->score ? -1 : 1;
    return strcmp(a->name ? a->name : "", b->name ? b->name : "");
}

static void sort_by_score(const yl_rank_item *items, int *idx, int n) {
    sort_items = items;  // qsort has no user pointer in C11; the CLI is single-threaded here
    qsort(idx, (size_t)n, sizeof *idx, by_score);
    sort_items = NULL;
}

yl_status yl_rank_select(const yl_rank_item *items, int n, int budget, bool diversity, int **selected, int *count) {
    if (!selected || !count || (n > 0 && !items)) return yl_error(YL_ERR_INVALID_ARG, "rank: NULL argument");
    *selected = NULL;
    *count = 0;
    int *idx = malloc((size_t)(n > 0 ? n : 1) * sizeof *idx);
    if (!idx) return yl_error(YL_ERR_OOM, "rank: out of memory");
    int valid = 0;
    for (int i = 0; i < n; i++)
        if (items[i].ok) idx[valid++] = i;
    if (valid == 0) {
        free(idx);
        return YL_OK;
    }
    sort_by_score(items, idx, valid);
    const int k = budget <= 0 || budget > valid ? valid : budget;
    if (!diversity || k == valid) {
        *selected = idx;
        *count = k;
        return YL_OK;
    }
    const int pool = (int)((long long)k * YL_RANK_POOL_FACTOR < valid ? (long long)k * YL_RANK_POOL_FACTOR : valid);
    const int dim = items[idx[0]].scored.feature_dim;
    for (int i = 0; i < pool; i++)
        if (!items[idx[i]].scored.features || items[idx[i]].scored.feature_dim != dim || dim <= 0) {
            yl_status st = yl_error(YL_ERR_INVALID_ARG,
                                    "rank: diversity needs features for every candidate (%s has none)",
                                    items[idx[i]].name);
            free(idx);
            return st;
        }
    float *points = malloc((size_t)pool * dim * sizeof *points);
    double *scores = malloc((size_t)pool * sizeof *scores);
    int *picks = malloc((size_t)k * sizeof *picks);
    yl_status st = points && scores && picks ? YL_OK : yl_error(YL_ERR_OOM, "rank: out of memory");
    int picked = 0;
    if (st == YL_OK) {
        for (int i = 0; i < pool; i++) {
            memcpy(points + (size_t)i * dim, items[idx[i]].scored.features, (size_t)dim * sizeof *points);
            scores[i] = items[idx[i]].score;
        }
        picked = yl_unc_kcenter(points, pool, dim, scores, k, picks);
        if (picked < 0) st = yl_error(YL_ERR_OOM, "rank: out of memory");
    }
    if (st == YL_OK) {
        for (int i = 0; i < picked; i++) picks[i] = idx[picks[i]];
        sort_by_score(items, picks, picked);
        *selected = picks;
        *count = picked;
        picks = NULL;
    }
    free(points);
    free(scores);
    free(picks);
    free(idx);
    return st;
}

yl_status yl_rank_class_map(const yl_ls_label_config *config, char *const *names, int nc, int *map) {
    if (!config || !names || !map) return yl_error(YL_ERR_INVALID_ARG, "rank: NULL argument");
    for (int i = 0; i < nc; i++) {
        map[i] = yl_ls_label_config_map_class(config, names[i]);
        if (map[i] < 0)
            return yl_error(YL_ERR_INVALID_ARG,
                            "model class %d '%s' is not a label of the project's %s control; the model and the "
                            "project must use the same class names",
                            i, names[i], config->control_name ? config->control_name : "RectangleLabels");
    }
    return YL_OK;
}

double yl_rank_ls_score(double score, yl_unc_aggregate aggregate) {
    if (!(score > 0.0)) return 0.0;
    if (aggregate == YL_UNC_AGG_SUM) return score / (1.0 + score);
    return score > 1.0 ? 1.0 : score;
}

cJSON *yl_rank_prediction(const yl_ls_label_config *config, const int *class_map, const yl_scored_image *scored,
                          const char *model_version, double ls_score) {
    cJSON *regions = cJSON_CreateArray();
    if (!regions) return NULL;
    const double w = scored->width > 0 ? scored->width : 1, h = scored->height > 0 ? scored->height : 1;
    for (int64_t i = 0; i < scored->count; i++) {
        const yl_detection *d = &scored->boxes[i];
        cJSON *region = yl_ls_prediction_region(config, class_map[d->cls], (d->x1 + d->x2) / 2.0 / w,
                                                (d->y1 + d->y2) / 2.0 / h, (d->x2 - d->x1) / w, (d->y2 - d->y1) / h,
                                                scored->width, scored->height, d->conf);
        if (!region) {
            cJSON_Delete(regions);
            return NULL;
        }
        cJSON_AddItemToArray(regions, region);
    }
    return yl_ls_prediction(model_version, ls_score, regions);
}
