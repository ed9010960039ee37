// What `yoloop rank` and `yoloop push` share: scored items, the selection (top-K by score, or
// k-center diversity over the top 4 x K), the mapping of model classes onto a Label Studio label
// config, and the prediction objects that carry the uncertainty score back to Label Studio.
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "cli/labelstudio/label_config.h"
#include "cli/rank/scorer.h"
#include "engine/eval/uncertainty.h"

// Candidates for diversity selection: the top YL_RANK_POOL_FACTOR x budget by score.
#define YL_RANK_POOL_FACTOR 4

typedef struct {
    char *name;          // what the table shows: the image path, or "task 12 (<url>)"
    char *path;          // the local image
    long task_id;        // Label Studio task, -1 for a local image
    bool ok;             // scored (false: skipped with a warning)
    double score;        // under the chosen strategy
    yl_scored_image scored;
} yl_rank_item;

void yl_rank_items_free(yl_rank_item *items, int n);

// A seeded score in [0, 1) that depends only on (seed, name): the random baseline.
double yl_rank_random_score(uint64_t seed, const char *name);

// The item's score under `strategy` (random: yl_rank_random_score).
double yl_rank_item_score(const yl_rank_item *item, yl_unc_strategy strategy, uint64_t seed);

// Indices of the selected items (only ok ones), best first: without diversity the `budget`
// highest scores (ties: name order); with diversity k-center (uncertainty.h) over the pool of the
// YL_RANK_POOL_FACTOR x budget highest, the picks then listed by score. budget <= 0: every ok item.
// *count receives how many; the array is malloc'd (NULL with *count 0 when none).
// YL_ERR_INVALID_ARG when diversity is asked for and an item in the pool has no features.
yl_status yl_rank_select(const yl_rank_item *items, int n, int budget, bool diversity, int **selected, int *count);

// map[i] = index in `config` of model class i (yl_ls_label_config_map_class: predicted_values,
// then the name, then the name without regard to case); YL_ERR_INVALID_ARG naming the
// first model class the config does not have (boxes are never given another class's label).
yl_status yl_rank_class_map(const yl_ls_label_config *config, char *const *names, int nc, int *map);

// The score as Label Studio takes it ([0, 1]): max and mean aggregates are already in range; a
// sum s becomes s / (1 + s), which keeps the order the Data Manager sorts by.
double yl_rank_ls_score(double score, yl_unc_aggregate aggregate);

// {"model_version", "score", "result": one region per detection} (predictions.h), regions in
// percent of the original image. NULL when out of memory.
cJSON *yl_rank_prediction(const yl_ls_label_config *config, const int *class_map, const yl_scored_image *scored,
                          const char *model_version, double ls_score);
