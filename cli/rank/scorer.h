// Runs the model on one image and scores how uncertain it is (engine/eval/uncertainty.h):
// letterbox as the predictor does (engine/train/predict.h), eval forward with Detect's decode and
// the raw head maps, NMS at the scoring confidence, then per detection its anchor's class
// probabilities and DFL logits, the near-miss score when nothing is detected, optionally the
// horizontally flipped input (flip consistency) and pooled backbone features (diversity).
//
// The scorer borrows the model and plans it for forward-only at (1, imgsz, imgsz).
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "engine/core/status.h"
#include "engine/data/sample.h"
#include "engine/eval/boxes.h"
#include "engine/eval/uncertainty.h"
#include "engine/model/model.h"

#define YL_SCORER_SPPF_LAYER 9  // yolov8.yaml: the backbone's last layer

typedef struct {
    int imgsz;                    // 640, a positive multiple of 32
    float conf;                   // 0.25: detections that count, and the near-miss threshold
    double iou;                   // 0.7
    int max_det;                  // 300
    yl_unc_aggregate aggregate;   // max
    bool flip;                    // also run the mirrored input (twice the time)
    bool features;                // keep L2-normalized global-average-pooled features
    int feature_layer;            // YL_SCORER_SPPF_LAYER
} yl_scorer_options;

yl_scorer_options yl_scorer_defaults(void);

typedef struct {
    int width, height;       // the original image
    yl_detection *boxes;     // xyxy in original pixels, descending confidence (owned)
    int64_t count;
    yl_unc_image unc;        // components; flip < 0 when not run
    float *features;         // feature_dim floats (owned), NULL unless options.features
    int feature_dim;
} yl_scored_image;

typedef struct yl_scorer yl_scorer;

// Errors: NULL arguments, imgsz not a positive multiple of 32, conf/iou outside [0, 1],
// max_det < 1, a feature layer outside the backbone and neck.
yl_status yl_scorer_create(yl_scorer **out, yl_model *model, const yl_scorer_options *options);
void yl_scorer_destroy(yl_scorer *s);

// out owns its buffers; free with yl_scored_image_free.
yl_status yl_scorer_run_image(yl_scorer *s, const yl_image_u8 *image, yl_scored_image *out);
yl_status yl_scorer_run_file(yl_scorer *s, const char *path, yl_scored_image *out);
void yl_scored_image_free(yl_scored_image *r);
