// Single-image prediction as Ultralytics 8.3's predictor runs it (spec §8): LetterBox to imgsz
// with minimal-rectangle padding (auto, stride 32, scaleup, centred, 114), RGB / 255, eval
// forward with Detect's decode, NMS with the predict settings (conf 0.25, IoU 0.7, best class
// only, max_det 300), boxes mapped back to original pixels with scale_boxes (gain and pad
// recomputed from the shapes, then clipped).
//
// The predictor borrows the model and plans it for forward-only at (1, imgsz, imgsz).
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "engine/core/status.h"
#include "engine/data/sample.h"
#include "engine/eval/boxes.h"
#include "engine/model/model.h"

typedef struct {
    int imgsz;        // 640, a positive multiple of 32
    float conf;       // 0.25
    double iou;       // 0.7
    int max_det;      // 300
    bool agnostic;    // class-agnostic NMS; false
    const char *const *names;  // nc class names (borrowed; NULL: "class<i>")
} yl_predict_options;

yl_predict_options yl_predict_defaults(void);

typedef struct {
    int width, height;   // the original image (EXIF orientation applied)
    yl_detection *boxes;  // xyxy in original pixels, NMS order (descending confidence)
    int64_t count;
} yl_prediction;

typedef struct yl_predictor yl_predictor;

// Errors: NULL arguments, imgsz not a positive multiple of 32, conf/iou outside [0, 1], max_det < 1.
yl_status yl_predictor_create(yl_predictor **out, yl_model *model, const yl_predict_options *options);
void yl_predictor_destroy(yl_predictor *p);

// One decoded RGB image. out->boxes belongs to the predictor, valid until the next call.
yl_status yl_predictor_run_image(yl_predictor *p, const yl_image_u8 *image, yl_prediction *out);
// Reads `path` (yl_image_read) and predicts. image (may be NULL) receives the decoded pixels
// (the caller frees them with yl_image_u8_free), e.g. for drawing.
yl_status yl_predictor_run_file(yl_predictor *p, const char *path, yl_prediction *out, yl_image_u8 *image);

const char *yl_predictor_class_name(yl_predictor *p, int cls);

// Convenience for a list of files: results[i] (n entries, allocated) own their boxes; free with
// yl_predictions_free. Stops at the first error (naming the file); nothing is returned then.
yl_status yl_predict_files(yl_model *model, const char *const *paths, int n, const yl_predict_options *options,
                           yl_prediction **results);
void yl_predictions_free(yl_prediction *results, int n);
