// Fine-tuning a candidate inside a cycle (spec continual_learning.md step 6): from the deployed
// weights, with the workspace's explicit recipe and replay mixed into every batch.
#include <stdio.h>
#include <string.h>

#include "cli/cycle/cycle_internal.h"
#include "engine/train/trainer.h"

typedef struct {
    FILE *log;
    int last_epoch_logged;
} finetune_progress;

static void on_epoch(void *user, const yl_train_epoch *e) {
    finetune_progress *p = user;
    yl_cycle_logf(p->log, "  fine-tune epoch %d: box %.4f cls %.4f dfl %.4f lr %.6f (%.1fs)", e->epoch, e->train_box,
                  e->train_cls, e->train_dfl, e->lr[0], e->time_s);
}

static void on_progress(void *user, const yl_train_progress *progress) {
    (void)user;
    (void)progress;
    // A cycle killed in the middle of training must leave the workspace as it was (cycle.h).
    yl_cycle_kill_point("finetune");
}

static void on_log(void *user, const char *message) {
    finetune_progress *p = user;
    yl_cycle_logf(p->log, "  %s", message);
}

static cJSON *describe(const yl_trainer_options *o) {
    cJSON *j = cJSON_CreateObject();
    if (!j) return NULL;
    cJSON_AddStringToObject(j, "model", o->model);
    cJSON_AddStringToObject(j, "data", o->data);
    cJSON_AddStringToObject(j, "replay", o->replay_data ? o->replay_data : "");
    cJSON_AddNumberToObject(j, "replay_ratio", o->replay_data ? o->replay_ratio : 0.0);
    cJSON_AddNumberToObject(j, "epochs", o->epochs);
    cJSON_AddNumberToObject(j, "imgsz", o->imgsz);
    cJSON_AddNumberToObject(j, "batch", o->batch);
    cJSON_AddNumberToObject(j, "nbs", o->nbs);
    cJSON_AddStringToObject(j, "optimizer", o->optimizer);
    cJSON_AddNumberToObject(j, "lr0", o->lr0);
    cJSON_AddNumberToObject(j, "lrf", o->lrf);
    cJSON_AddNumberToObject(j, "warmup_epochs", o->warmup_epochs);
    cJSON_AddNumberToObject(j, "warmup_bias_lr", o->warmup_bias_lr);
    cJSON_AddNumberToObject(j, "freeze", o->freeze);
    cJSON_AddNumberToObject(j, "close_mosaic", o->close_mosaic);
    cJSON_AddNumberToObject(j, "seed", (double)o->seed);
    cJSON_AddNumberToObject(j, "max_batches_per_epoch", o->max_batches_per_epoch);
    cJSON_AddBoolToObject(j, "validate", o->validate);
    return j;
}

yl_status yl_cycle_finetune(const yl_workspace_config *config, const yl_cycle_finetune_request *request,
                            char *candidate, size_t size, cJSON **train_args) {
    if (train_args) *train_args = NULL;
    finetune_progress progress = {.log = request->log};
    yl_trainer_options o = yl_trainer_defaults();
    o.model = request->deployed_model;
    o.parent_version = request->parent_id;
    if (request->train_yaml) {
        o.data = request->train_yaml;
        o.replay_data = request->replay_yaml;
        o.replay_ratio = (float)config->replay_ratio;
    } else {
        o.data = request->replay_yaml;  // nothing verified to train on yet: replay alone
    }
    o.epochs = config->ft_epochs;
    o.batch = config->ft_batch;
    o.imgsz = config->ft_imgsz > 0 ? config->ft_imgsz : config->eval_imgsz;
    o.workers = config->ft_workers > 0 ? config->ft_workers : 1;
    o.optimizer = config->ft_optimizer ? config->ft_optimizer : "SGD";
    o.lr0 = config->ft_lr0;
    o.lrf = config->ft_lrf;
    o.warmup_epochs = config->ft_warmup_epochs;
    // Ultralytics starts the bias LR of the warm-up at 0.1: a jolt that a low-LR fine-tune of a
    // working model does not want. Starting it at lr0 keeps every group at the configured LR.
    o.warmup_bias_lr = config->ft_lr0;
    // No gradient accumulation (Ultralytics' nbs 64 would step once per 4 batches of 16): a
    // fine-tune of a few short epochs on a small pool needs every optimizer step it can get.
    o.nbs = o.batch;
    o.freeze = config->ft_freeze;
    o.close_mosaic = config->ft_close_mosaic;
    o.seed = config->ft_seed;
    o.max_batches_per_epoch = config->ft_max_batches_per_epoch;
    o.save_dir = request->save_dir;
    o.device = config->device;
    o.cuda_index = config->cuda_index;
    o.validate = false;  // the evaluation set must never influence training (no best.pt selection)
    o.on_epoch = on_epoch;
    o.on_progress = on_progress;
    o.user = &progress;
    o.log = on_log;
    o.log_user = &progress;

    yl_train_summary summary;
    memset(&summary, 0, sizeof summary);
    yl_status st = yl_train(&o, &summary);
    if (st != YL_OK) return yl_error_context(st, "cycle: fine-tune in %s: ", request->save_dir);
    if ((size_t)snprintf(candidate, size, "%s/weights/last.safetensors", request->save_dir) >= size)
        return yl_error(YL_ERR_INVALID_ARG, "cycle: candidate path too long under %s", request->save_dir);
    if (train_args) *train_args = describe(&o);
    return YL_OK;
}
