// Trainer setup in Ultralytics' order (_setup_train): model (+ transfer), freeze, data loaders,
// loss, optimizer, schedule, EMA. Teardown releases whatever was built.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/train/train_internal.h"
#include "weights/checkpoint.h"
#include "weights/load_state.h"
#include "weights/pt_checkpoint.h"
#include "weights/pt_model_config.h"

static bool ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && !strcmp(s + n - m, suffix);
}

// "yolov8n.yaml", "dir/yolov8s.yaml", "yolov8m", "l": the scale letter, or 0.
static char scale_of_name(const char *model) {
    const char *base = strrchr(model, '/');
    base = base ? base + 1 : model;
    char stem[64];
    snprintf(stem, sizeof stem, "%s", base);
    if (ends_with(stem, ".yaml")) stem[strlen(stem) - 5] = '\0';
    if (!strcmp(stem, "yolov8")) return 'n';
    const char *letter = !strncmp(stem, "yolov8", 6) ? stem + 6 : stem;
    return strlen(letter) == 1 && strchr("nsmlx", letter[0]) ? letter[0] : 0;
}

static void report_transfer(yl_trainer *t, const yl_transfer_report *r) {
    char line[128];
    yl_transfer_report_format(r, line, sizeof line);
    yl_engine_log(&t->eng, "%s", line);
}

static yl_status build_model(yl_trainer *t) {
    const yl_trainer_options *o = &t->o;
    int nc = t->data.nc;
    if (o->model_config) {
        t->cfg = *o->model_config;
        t->cfg.nc = nc;
        return yl_model_create(&t->model, &t->eng, &t->cfg, o->seed);
    }
    if (!o->model || !o->model[0]) return yl_error(YL_ERR_INVALID_ARG, "train: model= is required");
    if (ends_with(o->model, ".pt")) {
        yl_pt_checkpoint ck;
        YL_TRY(yl_pt_checkpoint_load(&ck, o->model));
        yl_status st = yl_pt_checkpoint_model_config(&ck, &t->cfg);
        if (st == YL_OK) {
            t->cfg.nc = nc;
            st = yl_model_create(&t->model, &t->eng, &t->cfg, o->seed);
        }
        yl_transfer_report report;
        if (st == YL_OK) st = yl_model_load_tensor_set(t->model, &ck.tensors, YL_LOAD_TRANSFER, &report);
        yl_pt_checkpoint_free(&ck);
        if (st != YL_OK) return yl_error_context(st, "train: model=%s: ", o->model);
        report_transfer(t, &report);
        return YL_OK;
    }
    if (ends_with(o->model, ".safetensors")) {
        yl_checkpoint_info info;
        memset(&info, 0, sizeof info);
        yl_status st = yl_checkpoint_read_info(o->model, &info);
        if (st != YL_OK) return yl_error_context(st, "train: model=%s: ", o->model);
        t->cfg = info.config;
        yl_checkpoint_info_free(&info);
        t->cfg.nc = nc;
        YL_TRY(yl_model_create(&t->model, &t->eng, &t->cfg, o->seed));
        yl_transfer_report report;
        st = yl_checkpoint_transfer(t->model, o->model, &report);
        if (st != YL_OK) return yl_error_context(st, "train: model=%s: ", o->model);
        report_transfer(t, &report);
        return YL_OK;
    }
    char scale = scale_of_name(o->model);
    if (!scale)
        return yl_error(YL_ERR_INVALID_ARG,
                        "train: model=%s: expected yolov8[n|s|m|l|x](.yaml), a .pt or a .safetensors file", o->model);
    char name[2] = {scale, '\0'};
    YL_TRY(yl_model_config_from_scale(&t->cfg, name, nc));
    return yl_model_create(&t->model, &t->eng, &t->cfg, o->seed);
}

static yl_status build_dataset(yl_dataset *set, const yl_data_split *split, int nc, const char *what) {
    if (split->images.count == 0) return yl_error(YL_ERR_INVALID_ARG, "train: the %s split has no images", what);
    yl_status st = yl_dataset_build((const char *const *)split->images.paths, split->images.count, nc, set);
    return st == YL_OK ? st : yl_error_context(st, "train: %s split: ", what);
}

static yl_status build_data(yl_trainer *t) {
    const yl_trainer_options *o = &t->o;
    if (!o->data) return yl_error(YL_ERR_INVALID_ARG, "train: data= is required");
    YL_TRY(yl_data_yaml_load(o->data, &t->data));
    t->data_ready = true;
    YL_TRY(build_dataset(&t->train_set, &t->data.train, t->data.nc, "train"));
    t->train_set_ready = true;
    t->train_source_single = yl_dataset_sample_source(&t->train_set);
    t->train_source = t->train_source_single;
    if (o->validate && t->data.val.images.count > 0) {
        YL_TRY(build_dataset(&t->val_set, &t->data.val, t->data.nc, "val"));
        t->val_set_ready = true;
        t->val_source = yl_dataset_sample_source(&t->val_set);
    }
    int primary = t->train_set.count;
    int per_batch = o->batch;
    if (o->replay_data) {
        YL_TRY(yl_data_yaml_load(o->replay_data, &t->replay_data));
        t->replay_ready = true;
        if (t->replay_data.nc != t->data.nc)
            return yl_error(YL_ERR_INVALID_ARG, "train: replay=%s has %d classes, data=%s has %d", o->replay_data,
                            t->replay_data.nc, o->data, t->data.nc);
        YL_TRY(build_dataset(&t->replay_set, &t->replay_data.train, t->data.nc, "replay train"));
        t->replay_set_ready = true;
        t->replay_source_part = yl_dataset_sample_source(&t->replay_set);
        YL_TRY(yl_replay_source_init(&t->replay_source, &t->train_source_single, &t->replay_source_part));
        t->train_source = yl_replay_source_interface(&t->replay_source);
        YL_TRY(yl_replay_sampler_init(&t->replay_sampler, primary, t->replay_set.count, o->batch, o->replay_ratio,
                                      o->seed));
        t->replay_sampler_ready = true;
        t->sampler = yl_replay_sampler_interface(&t->replay_sampler);
        per_batch = t->replay_sampler.primary_per_batch;
    }
    t->batches_per_epoch = (primary + per_batch - 1) / per_batch;
    if (o->max_batches_per_epoch > 0 && t->batches_per_epoch > o->max_batches_per_epoch)
        t->batches_per_epoch = o->max_batches_per_epoch;

    yl_loader_options lo = yl_loader_defaults(YL_LOADER_TRAIN, o->batch, o->imgsz);
    lo.workers = o->workers > 0 ? o->workers : 1;
    lo.seed = o->seed;
    lo.epochs = o->epochs;
    lo.augment = o->augment_set ? o->augment : yl_augment_defaults(o->imgsz);
    lo.augment.close_mosaic = o->close_mosaic;
    lo.augment.imgsz = o->imgsz;
    YL_TRY(yl_loader_create(&t->loader, &t->train_source, o->replay_data ? &t->sampler : NULL, &lo));
    return YL_OK;
}

static yl_status build_optimizer(yl_trainer *t) {
    const yl_trainer_options *o = &t->o;
    yl_freeze_spec freeze = {.first = o->freeze, .layers = o->freeze_list, .layer_count = o->freeze_list_count};
    YL_TRY(yl_param_groups_build_for_model(&t->groups, t->model, &freeze));
    t->groups_ready = true;
    YL_TRY(yl_model_set_frozen_bn_layers(t->model, t->groups.frozen_layers, YL_YOLOV8_LAYER_COUNT));

    int64_t dataset_size = t->train_set.count;
    double weight_decay = yl_scaled_weight_decay(o->weight_decay, o->batch, o->nbs);
    yl_optimizer_request req = {
        .name = o->optimizer,
        .lr0 = o->lr0,
        .momentum = o->momentum,
        .weight_decay = weight_decay,
        .warmup_bias_lr = o->warmup_bias_lr,
        .iterations = yl_auto_optimizer_iterations(dataset_size, o->batch, o->nbs, o->epochs),
        .nc = t->cfg.nc,
    };
    YL_TRY(yl_optimizer_choose(&req, &t->choice));
    YL_TRY(yl_optimizer_create(&t->opt, &t->eng, &t->groups, &t->choice.settings));
    char groups_line[160];
    yl_param_groups_describe(&t->groups, weight_decay, groups_line, sizeof groups_line);
    yl_engine_log(&t->eng, "optimizer: %s with parameter groups %s", t->choice.description, groups_line);

    yl_schedule_config sc = yl_schedule_config_default(o->epochs, o->batch, t->batches_per_epoch);
    sc.lrf = o->lrf;
    sc.cos_lr = o->cos_lr;
    sc.warmup_epochs = o->warmup_epochs;
    sc.warmup_bias_lr = t->choice.warmup_bias_lr;
    sc.warmup_momentum = o->warmup_momentum;
    sc.momentum = o->momentum;
    sc.nbs = o->nbs;
    YL_TRY(yl_schedule_init(&t->sched, &sc));
    return yl_ema_create_for_model(&t->ema, t->model);
}

static yl_status build_loss(yl_trainer *t) {
    const yl_trainer_options *o = &t->o;
    yl_detection_loss_config lc = yl_detection_loss_default_config(o->batch, t->cfg.nc, o->imgsz, o->imgsz, 8);
    YL_TRY(yl_detection_loss_init(&t->loss, &lc));
    t->loss_ready = true;
#ifdef YOLOOP_HAVE_CUDA
    if (o->device == YL_DEVICE_CUDA)
        YL_TRY(yl_detection_loss_attach_cuda(&t->loss, yl_engine_backend(&t->eng, YL_DEVICE_CUDA)));
#endif
    return YL_OK;
}

static void engine_log_forward(void *user, const char *message) {
    const yl_trainer_options *o = user;
    if (o->log) o->log(o->log_user, message);
}

static yl_status check_options(const yl_trainer_options *o) {
    if (o->epochs < 1) return yl_error(YL_ERR_INVALID_ARG, "train: epochs=%d must be >= 1", o->epochs);
    if (o->batch < 1) return yl_error(YL_ERR_INVALID_ARG, "train: batch=%d must be >= 1", o->batch);
    if (o->imgsz < 32 || o->imgsz % 32)
        return yl_error(YL_ERR_INVALID_ARG, "train: imgsz=%d must be a positive multiple of 32", o->imgsz);
    if (o->nbs < 1) return yl_error(YL_ERR_INVALID_ARG, "train: nbs=%d must be >= 1", o->nbs);
    if (o->freeze < 0) return yl_error(YL_ERR_INVALID_ARG, "train: freeze=%d must be >= 0", o->freeze);
    if (o->patience < 0) return yl_error(YL_ERR_INVALID_ARG, "train: patience=%d must be >= 0", o->patience);
    if (!(o->lr0 > 0) || !isfinite(o->lr0)) return yl_error(YL_ERR_INVALID_ARG, "train: lr0=%g must be > 0", o->lr0);
    if (!o->save_dir || !o->save_dir[0]) return yl_error(YL_ERR_INVALID_ARG, "train: save_dir is empty");
    if (strlen(o->save_dir) >= YL_TRAIN_PATH_SIZE - 64)
        return yl_error(YL_ERR_INVALID_ARG, "train: save_dir is longer than %d characters", YL_TRAIN_PATH_SIZE - 65);
    if (o->replay_data && !(o->replay_ratio >= 0 && o->replay_ratio < 1))
        return yl_error(YL_ERR_INVALID_ARG, "train: replay_ratio=%g must be in [0, 1)", (double)o->replay_ratio);
    return YL_OK;
}

yl_status yl_trainer_setup(yl_trainer *t, const yl_trainer_options *options) {
    memset(t, 0, sizeof *t);
    if (!options) return yl_error(YL_ERR_INVALID_ARG, "train: options is NULL");
    t->o = *options;
    YL_TRY(check_options(&t->o));
    yl_engine_options eo = {.device = t->o.device, .cuda_device_index = t->o.cuda_index, .allow_cpu_fallback = false,
                            .log = engine_log_forward, .log_user = &t->o};
    YL_TRY(yl_engine_init(&t->eng, &eo));
    t->eng_ready = true;

    snprintf(t->save_dir, sizeof t->save_dir, "%s", t->o.save_dir);
    char weights_dir[YL_TRAIN_PATH_SIZE + 16];
    snprintf(weights_dir, sizeof weights_dir, "%s/weights", t->save_dir);
    YL_TRY(yl_train_mkdirs(weights_dir));
    snprintf(t->last_path, sizeof t->last_path, "%s/weights/last.safetensors", t->save_dir);
    snprintf(t->best_path, sizeof t->best_path, "%s/weights/best.safetensors", t->save_dir);
    snprintf(t->state_path, sizeof t->state_path, "%s/weights/last.state.safetensors", t->save_dir);
    snprintf(t->results_path, sizeof t->results_path, "%s/results.csv", t->save_dir);

    YL_TRY(build_data(t));
    YL_TRY(build_model(t));
    if (t->val_set_ready) {
        yl_validator_options vo = yl_validator_defaults();
        vo.imgsz = t->o.imgsz;
        vo.batch = t->o.batch * 2;
        vo.workers = t->o.workers > 0 ? t->o.workers : 1;
        vo.compute_loss = true;
        vo.names = (const char *const *)t->data.names;
        YL_TRY(yl_validator_create(&t->validator, t->model, &t->val_set, &vo));
    }
    YL_TRY(yl_model_plan(t->model, t->o.batch, t->o.imgsz, t->o.imgsz, true));
    YL_TRY(build_loss(t));
    YL_TRY(build_optimizer(t));
    YL_TRY(yl_trainer_alloc_step(t));
    t->best_fitness = 0;
    return YL_OK;
}

void yl_trainer_teardown(yl_trainer *t) {
    if (t->loader) yl_loader_destroy(t->loader);
    if (t->validator) yl_validator_destroy(t->validator);
    if (t->ema) yl_ema_destroy(t->ema);
    if (t->opt) yl_optimizer_destroy(t->opt);
    if (t->groups_ready) yl_param_groups_release(&t->groups);
    if (t->loss_ready) yl_detection_loss_free(&t->loss);
    if (t->model) yl_model_destroy(t->model);
    if (t->replay_sampler_ready) yl_replay_sampler_free(&t->replay_sampler);
    if (t->replay_set_ready) yl_dataset_free(&t->replay_set);
    if (t->val_set_ready) yl_dataset_free(&t->val_set);
    if (t->train_set_ready) yl_dataset_free(&t->train_set);
    if (t->replay_ready) yl_data_config_free(&t->replay_data);
    if (t->data_ready) yl_data_config_free(&t->data);
    if (t->eng_ready) yl_trainer_free_step(t);
    for (int i = 0; i < t->row_count; i++) free(t->rows[i]);
    free(t->rows);
    if (t->eng_ready) yl_engine_release(&t->eng);
    memset(t, 0, sizeof *t);
}
