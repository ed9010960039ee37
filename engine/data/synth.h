// A synthetic defect-detection dataset for demos and tests: brushed-metal surfaces (noise, streaks,
// gradient lighting, a colour cast) with up to three defect kinds, class i drawn as kind i:
//   0 dent (`dentado`): a dark elliptical depression with a highlight rim on the lit side;
//   1 concave area: a larger, soft radial depression;
//   2 perforation: a small near-black round hole with a bright edge.
// Each image holds 0..4 objects (about 1 in 8 is a background image). `shift` in [0, 1] moves the
// distribution (lighting, texture scale, defect size and contrast, colour cast) so that continual
// learning has something to adapt to. Output is a function of the options only: same seed, same
// bytes (on the same platform; libm may differ in the last bit elsewhere).
#pragma once
#include <stdint.h>

#include "engine/core/status.h"
#include "engine/data/sample.h"

#define YL_SYNTH_KINDS 3
#define YL_SYNTH_MAX_OBJECTS 4

typedef struct {
    const char *out_dir;
    int n;           // images in all, train + val (>= 2)
    int imgsz;       // image width; a quarter of the images are imgsz x 3/4 imgsz
    uint64_t seed;
    float shift;         // [0, 1]
    float val_fraction;  // (0, 1); at least one image in each split
    const char *const *class_names;  // 1..YL_SYNTH_KINDS names; NULL = dentado, concave, perforation
    int class_count;
} yl_synth_options;

typedef struct {
    int images[2];       // train, val
    int backgrounds[2];  // images without objects
    int objects[2];
    int objects_per_class[YL_SYNTH_KINDS];
} yl_synth_report;

yl_synth_options yl_synth_defaults(void);
yl_status yl_synth_check_options(const yl_synth_options *options);

// Renders image `index` of the dataset: pixels (caller frees with yl_image_u8_free) and up to
// YL_SYNTH_MAX_OBJECTS labels written to `labels`.
yl_status yl_synth_render(const yl_synth_options *options, int index, yl_image_u8 *image, yl_box_label *labels,
                          int *label_count);

// Writes <out>/images/{train,val}/synth_NNNNNN.png, <out>/labels/{train,val}/synth_NNNNNN.txt
// (an empty file for a background image) and <out>/data.yaml. Refuses to write into an existing
// <out>/images, <out>/labels or <out>/data.yaml, so that stale files never mix into a dataset.
yl_status yl_synth_write(const yl_synth_options *options, yl_synth_report *report);
