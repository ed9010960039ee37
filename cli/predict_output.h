// What `yoloop predict` writes: the run folder (incremented like Ultralytics' increment_path),
// annotated images and YOLO label files.
#pragma once
#include <stdbool.h>
#include <stddef.h>

#include "engine/core/status.h"
#include "engine/data/sample.h"
#include "engine/train/predict.h"

// <project>/<name>, or <project>/<name>2, <name>3, ... when it exists (Ultralytics: exist_ok=False).
// Creates the folder; *out (caller frees) receives its path.
yl_status yl_predict_run_dir(const char *project, const char *name, bool exist_ok, char **out);

// Draws each box (2 px, a colour per class from Ultralytics' palette) and a filled tag with the
// class id in a 3x5 digit font at its top-left corner into `image` (RGB, in place).
void yl_draw_detections(yl_image_u8 *image, const yl_prediction *pred);

// "cls cx cy w h[ conf]" per detection, normalised to the image, formatted with %g like
// Ultralytics' save_txt; writes nothing (and creates no file) when there are no detections.
yl_status yl_write_yolo_txt(const char *path, const yl_prediction *pred, bool save_conf);

// The file name without folder and extension ("a/b/img.jpg" -> "img"), into buf.
void yl_path_stem(const char *path, char *buf, size_t size);
