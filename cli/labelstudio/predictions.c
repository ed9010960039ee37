#include "cli/labelstudio/predictions.h"

#include <math.h>
#include <stdio.h>

static double clamp(double v, double low, double high) {
    if (!(v >= low)) return low;  // NaN goes to `low` too
    return v > high ? high : v;
}

cJSON *yl_ls_prediction_region(const yl_ls_label_config *config, int class_index, double cx, double cy, double w,
                               double h, int image_width, int image_height, double score) {
    if (!config || class_index < 0 || class_index >= config->num_labels) return NULL;
    double x1 = clamp(cx - w / 2, 0.0, 1.0), x2 = clamp(cx + w / 2, 0.0, 1.0);
    double y1 = clamp(cy - h / 2, 0.0, 1.0), y2 = clamp(cy + h / 2, 0.0, 1.0);
    cJSON *region = cJSON_CreateObject();
    cJSON *value = cJSON_CreateObject();
    cJSON *labels = cJSON_CreateArray();
    if (!region || !value || !labels) goto oom;
    cJSON_AddItemToObject(region, "value", value);
    value = NULL;
    cJSON *v = cJSON_GetObjectItemCaseSensitive(region, "value");
    int ok = cJSON_AddStringToObject(region, "from_name", config->control_name) &&
             cJSON_AddStringToObject(region, "to_name", config->object_name) &&
             cJSON_AddStringToObject(region, "type", "rectanglelabels") &&
             cJSON_AddNumberToObject(v, "x", clamp(x1 * 100.0, 0.0, 100.0)) &&
             cJSON_AddNumberToObject(v, "y", clamp(y1 * 100.0, 0.0, 100.0)) &&
             cJSON_AddNumberToObject(v, "width", clamp((x2 - x1) * 100.0, 0.0, 100.0)) &&
             cJSON_AddNumberToObject(v, "height", clamp((y2 - y1) * 100.0, 0.0, 100.0)) &&
             cJSON_AddNumberToObject(v, "rotation", 0) &&
             cJSON_AddNumberToObject(region, "score", clamp(score, 0.0, 1.0));
    if (!ok) goto oom;
    cJSON *label = cJSON_CreateString(config->labels[class_index].name);
    if (!label) goto oom;
    cJSON_AddItemToArray(labels, label);
    cJSON_AddItemToObject(v, "rectanglelabels", labels);
    labels = NULL;
    if (image_width > 0 && image_height > 0) {
        if (!cJSON_AddNumberToObject(region, "original_width", image_width) ||
            !cJSON_AddNumberToObject(region, "original_height", image_height))
            goto oom;
    }
    return region;
oom:
    cJSON_Delete(region);
    cJSON_Delete(value);
    cJSON_Delete(labels);
    return NULL;
}

cJSON *yl_ls_prediction(const char *model_version, double score, cJSON *regions) {
    cJSON *prediction = cJSON_CreateObject();
    if (!regions) regions = cJSON_CreateArray();
    if (!prediction || !regions ||
        !cJSON_AddStringToObject(prediction, "model_version", model_version ? model_version : "") ||
        !cJSON_AddNumberToObject(prediction, "score", clamp(score, 0.0, 1.0))) {
        cJSON_Delete(prediction);
        cJSON_Delete(regions);
        return NULL;
    }
    cJSON_AddItemToObject(prediction, "result", regions);
    return prediction;
}
