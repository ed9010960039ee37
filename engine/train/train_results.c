// results.csv (Ultralytics' columns and "%.6g" numbers, rewritten whole through a temporary
// file and a rename each epoch, so a reader never sees half a file) and the train_args JSON.
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/train/train_internal.h"

static const char *const RESULTS_HEADER =
    "epoch,time,train/box_loss,train/cls_loss,train/dfl_loss,metrics/precision(B),metrics/recall(B),"
    "metrics/mAP50(B),metrics/mAP50-95(B),val/box_loss,val/cls_loss,val/dfl_loss,lr/pg0,lr/pg1,lr/pg2";

static yl_status add_row(yl_trainer *t, const char *row) {
    char **rows = realloc(t->rows, (size_t)(t->row_count + 1) * sizeof *rows);
    if (!rows) return yl_error(YL_ERR_OOM, "train: results rows");
    t->rows = rows;
    size_t n = strlen(row);
    t->rows[t->row_count] = malloc(n + 1);
    if (!t->rows[t->row_count]) return yl_error(YL_ERR_OOM, "train: results row");
    memcpy(t->rows[t->row_count++], row, n + 1);
    return YL_OK;
}

yl_status yl_trainer_write_results(yl_trainer *t, const yl_train_epoch *e) {
    char row[512];
    snprintf(row, sizeof row, "%d,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g", e->epoch,
             e->time_s, e->train_box, e->train_cls, e->train_dfl, e->precision, e->recall, e->map50, e->map50_95,
             e->val_box, e->val_cls, e->val_dfl, e->lr[0], e->lr[1], e->lr[2]);
    YL_TRY(add_row(t, row));
    char tmp[YL_TRAIN_PATH_SIZE + 16];
    snprintf(tmp, sizeof tmp, "%s.tmp", t->results_path);
    FILE *f = fopen(tmp, "w");
    if (!f) return yl_error(YL_ERR_IO, "train: cannot write %s: %s", tmp, strerror(errno));
    bool ok = fprintf(f, "%s\n", RESULTS_HEADER) > 0;
    for (int i = 0; i < t->row_count && ok; i++) ok = fprintf(f, "%s\n", t->rows[i]) > 0;
    ok = fflush(f) == 0 && ok;
    ok = fclose(f) == 0 && ok;
    if (!ok || rename(tmp, t->results_path) != 0) {
        remove(tmp);
        return yl_error(YL_ERR_IO, "train: cannot write %s", t->results_path);
    }
    return YL_OK;
}

yl_status yl_trainer_read_results(yl_trainer *t, int epochs) {
    FILE *f = fopen(t->results_path, "r");
    if (!f) return yl_error(YL_ERR_IO, "train: resume: cannot read %s: %s", t->results_path, strerror(errno));
    char line[1024];
    int n = 0;
    yl_status st = YL_OK;
    bool header = true;
    while (st == YL_OK && n < epochs && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = '\0';
        if (header) {
            header = false;
            continue;
        }
        if (!line[0]) continue;
        st = add_row(t, line);
        n++;
    }
    fclose(f);
    if (st == YL_OK && n < epochs)
        return yl_error(YL_ERR_FORMAT, "train: resume: %s has %d rows, the state says %d epochs", t->results_path, n,
                        epochs);
    return st;
}

char *yl_trainer_args_json(const yl_trainer *t) {
    const yl_trainer_options *o = &t->o;
    cJSON *j = cJSON_CreateObject();
    if (!j) return NULL;
    cJSON_AddStringToObject(j, "task", "detect");
    cJSON_AddStringToObject(j, "mode", "train");
    cJSON_AddStringToObject(j, "model", o->model ? o->model : "custom");
    cJSON_AddStringToObject(j, "data", o->data ? o->data : "");
    cJSON_AddNumberToObject(j, "epochs", o->epochs);
    cJSON_AddNumberToObject(j, "patience", o->patience);
    cJSON_AddNumberToObject(j, "batch", o->batch);
    cJSON_AddNumberToObject(j, "imgsz", o->imgsz);
    cJSON_AddNumberToObject(j, "workers", o->workers);
    cJSON_AddStringToObject(j, "device", o->device == YL_DEVICE_CUDA ? "cuda" : "cpu");
    cJSON_AddStringToObject(j, "optimizer", o->optimizer ? o->optimizer : "auto");
    cJSON_AddNumberToObject(j, "seed", (double)o->seed);
    cJSON_AddBoolToObject(j, "cos_lr", o->cos_lr);
    cJSON_AddNumberToObject(j, "close_mosaic", o->close_mosaic);
    cJSON_AddNumberToObject(j, "freeze", o->freeze);
    cJSON_AddNumberToObject(j, "lr0", o->lr0);
    cJSON_AddNumberToObject(j, "lrf", o->lrf);
    cJSON_AddNumberToObject(j, "momentum", o->momentum);
    cJSON_AddNumberToObject(j, "weight_decay", o->weight_decay);
    cJSON_AddNumberToObject(j, "warmup_epochs", o->warmup_epochs);
    cJSON_AddNumberToObject(j, "warmup_momentum", o->warmup_momentum);
    cJSON_AddNumberToObject(j, "warmup_bias_lr", o->warmup_bias_lr);
    cJSON_AddNumberToObject(j, "nbs", o->nbs);
    cJSON_AddStringToObject(j, "replay", o->replay_data ? o->replay_data : "");
    cJSON_AddNumberToObject(j, "replay_ratio", o->replay_ratio);
    cJSON_AddStringToObject(j, "save_dir", o->save_dir);
    cJSON_AddStringToObject(j, "optimizer_chosen", t->choice.description);
    char *s = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    return s;
}
