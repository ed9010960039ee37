// Fixtures the cycle's tests share (test_cycle, ls_real): a small synthetic dataset of 64-pixel
// images and an untrained tiny yolov8 checkpoint named with the synth's three classes.
#pragma once
#include <stdint.h>
#include <string.h>

#include "engine/data/synth.h"
#include "engine/model/model.h"
#include "test_common.h"
#include "weights/checkpoint.h"

// n synthetic images (a quarter in val) under dir.
static inline yl_status yl_fixture_synth(const char *dir, int n, uint64_t seed, float shift) {
    yl_synth_options o = yl_synth_defaults();
    o.out_dir = dir;
    o.n = n;
    o.imgsz = 64;
    o.seed = seed;
    o.shift = shift;
    o.val_fraction = 0.25f;
    yl_synth_report report;
    return yl_synth_write(&o, &report);
}

// A yolov8 of depth 0.33, width 0.125 for 64-pixel images, saved as a checkpoint at path.
static inline yl_status yl_fixture_tiny_model(const char *path) {
    yl_engine eng = yl_test_cpu_engine();
    yl_model_config cfg;
    yl_model *m = NULL;
    yl_status st = yl_model_config_custom(&cfg, 0.33, 0.125, 64, 3);
    if (st == YL_OK) st = yl_model_create(&m, &eng, &cfg, 1);
    if (st == YL_OK) {
        yl_checkpoint_info info;
        memset(&info, 0, sizeof info);
        info.names_json = "[\"dentado\",\"concave\",\"perforation\"]";
        info.imgsz = 64;
        st = yl_checkpoint_save(m, &info, path);
    }
    if (m) yl_model_destroy(m);
    yl_engine_release(&eng);
    return st;
}
