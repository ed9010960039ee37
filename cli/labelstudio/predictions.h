// Prediction objects for import into Label Studio (spec §2.5, §2.6, pitfall 7): regions that pass
// its validation — the control's from_name/to_name/type, a label from the config, box values
// clamped to 0..100, scores clamped to 0..1.
#pragma once
#include <cjson/cJSON.h>

#include "cli/labelstudio/label_config.h"

// One rectanglelabels region for a normalized, axis-aligned box (center cx, cy and size w, h in
// [0,1] of the image). image_width/height > 0 add original_width/height. NULL when class_index
// is out of range or memory runs out.
cJSON *yl_ls_prediction_region(const yl_ls_label_config *config, int class_index, double cx, double cy, double w,
                               double h, int image_width, int image_height, double score);

// {"model_version": ..., "score": ..., "result": regions}; takes ownership of `regions` (a JSON
// array, may be NULL for none). NULL when memory runs out (regions are freed then too).
cJSON *yl_ls_prediction(const char *model_version, double score, cJSON *regions);
