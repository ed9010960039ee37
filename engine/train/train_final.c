// Ultralytics' final_eval (yolov8.md §3.7 step 7): after training, the best checkpoint as written
// to disk is validated once more, so that the figures printed at the end describe the file a user
// deploys rather than the in-training EMA of some epoch. Loading is strict: best.safetensors was
// written from this very model, so any difference is a bug, not something to transfer around.
#include <stdio.h>
#include <string.h>

#include "engine/train/train_internal.h"
#include "weights/checkpoint.h"
#include "weights/safetensors.h"

static yl_status load_best(yl_trainer *t) {
    yl_safetensors sf;
    yl_status st = yl_safetensors_open(&sf, t->best_path);
    if (st != YL_OK) return yl_error_context(st, "train: final validation: ");
    yl_tensor_set set;
    st = yl_safetensors_as_tensor_set(&sf, &set);
    if (st == YL_OK) {
        st = yl_model_load_tensor_set(t->model, &set, YL_LOAD_STRICT, NULL);
        yl_safetensors_tensor_set_free(&set);
    }
    yl_safetensors_close(&sf);
    return st == YL_OK ? st : yl_error_context(st, "train: final validation: loading %s: ", t->best_path);
}

yl_status yl_trainer_final_validate(yl_trainer *t, yl_train_summary *summary) {
    summary->final_validated = false;
    summary->final_table[0] = '\0';
    if (!t->validator) return YL_OK;
    YL_TRY(load_best(t));
    const yl_eval_results *r = NULL;
    yl_status st = yl_validator_run(t->validator, &r, NULL);
    if (st != YL_OK) return yl_error_context(st, "train: final validation of %s: ", t->best_path);
    summary->final_precision = r->precision;
    summary->final_recall = r->recall;
    summary->final_map50 = r->map50;
    summary->final_map50_95 = r->map50_95;
    yl_format_val_table(r, (const char *const *)t->data.names, true, summary->final_table,
                        sizeof summary->final_table);
    summary->final_validated = true;
    return YL_OK;
}
