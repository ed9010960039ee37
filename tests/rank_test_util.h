// Shared by test_rank.c and test_push.c: a synthetic image folder, a tiny two-class model saved
// with the names the mock project's label config has (Airplane, Car), and the mock Label Studio
// with a stateful project (ls_mock_store.h).
#pragma once
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/fs_util.h"
#include "cli/model_load.h"
#include "data_test_util.h"
#include "engine/data/synth.h"
#include "ls_mock_store.h"
#include "test_common.h"
#include "weights/checkpoint.h"

#ifndef RT_BN_GAIN
#define RT_BN_GAIN 3.3f
#endif
#ifndef RT_HEAD_GAIN
#define RT_HEAD_GAIN 20.0f
#endif
#define RT_TOKEN "0123456789abcdef0123456789abcdef01234567"
#define RT_CONFIG                                                                                            \
    "<View><Image name=\"image\" value=\"$image\"/><RectangleLabels name=\"label\" toName=\"image\">"        \
    "<Label value=\"Airplane\"/><Label value=\"Car\"/></RectangleLabels></View>"

// n synthetic images (imgsz 80, some 80x60) under <dir>/synth/images/{train,val}.
static inline char *rt_synth(const char *dir, int n, uint64_t seed) {
    yl_synth_options so = yl_synth_defaults();
    char *out = yl_path_join(dir, "synth");
    static const char *const names[] = {"Airplane", "Car"};
    so.out_dir = out;
    so.n = n;
    so.imgsz = 80;
    so.seed = seed;
    so.val_fraction = 0.5f;
    so.class_names = names;
    so.class_count = 2;
    yl_synth_report rep;
    CHECK_OK(yl_synth_write(&so, &rep));
    char *images = yl_path_join(out, "images");
    free(out);
    return images;
}

// A tiny 2-class model with the mock's class names, saved to <dir>/tiny.safetensors.
static inline char *rt_model(const char *dir) {
    yl_engine eng = yl_test_cpu_engine();
    yl_model_config cfg;
    CHECK_OK(yl_model_config_custom(&cfg, 0.33, 0.0625, 64, 2));
    yl_model *m = NULL;
    CHECK_OK(yl_model_create(&m, &eng, &cfg, 7));
    // A fresh tiny model's activations shrink layer by layer, so its head scores every anchor
    // alike (sigmoid of the bias, a uniform DFL) and every image would tie. Larger BN gains and
    // head weights (a bias of -1 instead of the prior) spread the scores (class probabilities
    // ~0.001..0.98 here) so that rankings mean something.
    for (int i = 0; m && i < yl_model_state_count(m); i++) {
        yl_state_entry *e = yl_model_state_at(m, i);
        const size_t n = strlen(e->name);
        if (n > 10 && !strcmp(e->name + n - 10, ".bn.weight"))
            for (int64_t k = 0; k < yl_tensor_numel(&e->value); k++) ((float *)e->value.data)[k] *= RT_BN_GAIN;
    }
    for (int level = 0; m && level < 3; level++) {
        char name[64];
        const char *heads[2] = {"cv3", "cv2"};
        const float gain[2] = {RT_HEAD_GAIN, RT_HEAD_GAIN};
        for (int h = 0; h < 2; h++) {
            snprintf(name, sizeof name, "model.22.%s.%d.2.weight", heads[h], level);
            yl_state_entry *w = yl_model_state_find(m, name);
            snprintf(name, sizeof name, "model.22.%s.%d.2.bias", heads[h], level);
            yl_state_entry *b = yl_model_state_find(m, name);
            CHECK(w && b, "no %s", name);
            if (!w || !b) continue;
            float *wd = w->value.data, *bd = b->value.data;
            for (int64_t i = 0; i < yl_tensor_numel(&w->value); i++) wd[i] *= gain[h];
            for (int64_t i = 0; h == 0 && i < yl_tensor_numel(&b->value); i++) bd[i] = -1.0f;
        }
    }
    char *path = yl_path_join(dir, "tiny.safetensors");
    yl_checkpoint_info info = {0};
    info.names_json = "[\"Airplane\",\"Car\"]";
    info.imgsz = 64;
    if (m) CHECK_OK(yl_checkpoint_save(m, &info, path));
    yl_model_destroy(m);
    yl_engine_release(&eng);
    return path;
}

static inline void rt_start_mock(ls_mock *mock, ls_store *store, const char *media_dir) {
    setenv("no_proxy", "127.0.0.1,localhost", 1);
    setenv("NO_PROXY", "127.0.0.1,localhost", 1);
    if (ls_mock_start(mock, 0) != 0) {
        fprintf(stderr, "SKIPPED: cannot start the mock server on 127.0.0.1\n");
        exit(77);
    }
    snprintf(mock->legacy_token, sizeof mock->legacy_token, "%s", RT_TOKEN);
    mock->label_config = RT_CONFIG;
    CHECK_OK(yl_make_directories(media_dir));
    ls_store_attach(store, mock, media_dir);
    setenv("LABEL_STUDIO_API_KEY", RT_TOKEN, 1);
}

static inline int rt_count_lines(const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    int n = 0, c, last = '\n';
    while ((c = fgetc(f)) != EOF) {
        if (c == '\n') n++;
        last = c;
    }
    fclose(f);
    return n + (last != '\n');
}
