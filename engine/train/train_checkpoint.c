// Checkpoints of a run: last.safetensors and best.safetensors hold the EMA weights with the
// yoloop metadata (weights/checkpoint.h: training args, metrics, lineage); last.state.safetensors
// holds what resume=true needs to continue identically: the training weights (all state
// entries), the EMA, the accumulated gradients, the optimizer state, and in its metadata the
// counters (epoch, optimizer steps, EMA updates, the schedule's last step and accumulation, best
// fitness). The loader's randomness is a function of (seed, epoch), so nothing of it is saved.
#include <cjson/cJSON.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/train/train_internal.h"
#include "weights/checkpoint.h"
#include "weights/safetensors.h"
#include "weights/safetensors_write.h"

#define STATE_NAME_SIZE (YL_STATE_NAME_SIZE + 16)

typedef struct {
    yl_named_tensor *items;
    char (*names)[STATE_NAME_SIZE];
    void **host;  // staging copies of device tensors (NULL for CPU tensors)
    int count, capacity;
} state_set;

static void state_set_free(state_set *s) {
    for (int i = 0; i < s->count; i++) free(s->host[i]);
    free(s->items);
    free(s->names);
    free(s->host);
    memset(s, 0, sizeof *s);
}

static yl_status state_set_add(state_set *s, yl_engine *eng, const char *prefix, const char *name, const yl_tensor *t) {
    if (s->count == s->capacity) {
        int cap = s->capacity ? 2 * s->capacity : 256;
        yl_named_tensor *items = realloc(s->items, (size_t)cap * sizeof *items);
        if (items) s->items = items;
        char (*names)[STATE_NAME_SIZE] = realloc(s->names, (size_t)cap * sizeof *names);
        if (names) s->names = names;
        void **host = realloc(s->host, (size_t)cap * sizeof *host);
        if (host) s->host = host;
        if (!items || !names || !host) return yl_error(YL_ERR_OOM, "train: resume state index");
        s->capacity = cap;
    }
    int i = s->count;
    size_t bytes = yl_tensor_nbytes(t);
    s->host[i] = NULL;
    const void *data = t->data;
    if (t->device != YL_DEVICE_CPU) {
        s->host[i] = malloc(bytes ? bytes : 1);
        if (!s->host[i]) return yl_error(YL_ERR_OOM, "train: resume state staging of %s", name);
        yl_backend *be = yl_engine_backend(eng, t->device);
        YL_TRY(be->copy_to_host(be, s->host[i], t->data, bytes));
        data = s->host[i];
    }
    snprintf(s->names[i], STATE_NAME_SIZE, "%s/%s", prefix, name);
    yl_named_tensor *nt = &s->items[i];
    memset(nt, 0, sizeof *nt);
    nt->dtype = t->dtype;
    nt->ndim = t->ndim;
    for (int d = 0; d < t->ndim; d++) nt->shape[d] = t->shape[d];
    nt->data = data;
    nt->nbytes = bytes;
    s->count++;
    return YL_OK;
}

static yl_status collect_state(yl_trainer *t, state_set *s) {
    int n = yl_model_state_count(t->model);
    for (int i = 0; i < n; i++) {
        yl_state_entry *e = yl_model_state_at(t->model, i);
        YL_TRY(state_set_add(s, &t->eng, "model", e->name, &e->value));
        const yl_tensor *ema = yl_ema_value(t->ema, i);
        if (ema) YL_TRY(state_set_add(s, &t->eng, "ema", e->name, ema));
        if (e->requires_grad && e->grad.data) YL_TRY(state_set_add(s, &t->eng, "grad", e->name, &e->grad));
        for (int slot = 0; slot < 2; slot++) {
            yl_tensor view;
            if (yl_optimizer_state_view(t->opt, i, slot, &view) != YL_OK) continue;
            YL_TRY(state_set_add(s, &t->eng, slot ? "opt1" : "opt0", e->name, &view));
        }
    }
    yl_clear_error();
    for (int i = 0; i < s->count; i++) s->items[i].name = s->names[i];
    return YL_OK;
}

// What must not change between a run and its resumption: it shapes the batches and the schedule.
static void run_shape(const yl_trainer *t, char *buf, size_t size) {
    snprintf(buf, size, "batch=%d imgsz=%d seed=%llu nbs=%d nc=%d", t->o.batch, t->o.imgsz,
             (unsigned long long)t->o.seed, t->o.nbs, t->cfg.nc);
}

static yl_status write_state(yl_trainer *t, const yl_train_epoch *e) {
    YL_TRY(yl_model_store_num_batches_tracked(t->model));
    state_set s;
    memset(&s, 0, sizeof s);
    yl_status st = collect_state(t, &s);
    char v[8][64];
    snprintf(v[0], sizeof v[0], "%d", e->epoch);
    snprintf(v[1], sizeof v[1], "%" PRId64, yl_optimizer_step_count(t->opt));
    snprintf(v[2], sizeof v[2], "%" PRId64, yl_ema_updates(t->ema));
    snprintf(v[3], sizeof v[3], "%" PRId64, t->sched.last_opt_step);
    snprintf(v[4], sizeof v[4], "%d", t->sched.accumulate);
    snprintf(v[5], sizeof v[5], "%.17g", t->best_fitness);
    snprintf(v[6], sizeof v[6], "%d", t->has_best ? t->best_epoch : 0);
    snprintf(v[7], sizeof v[7], "%.17g %ld", e->time_s, t->skipped_steps);
    char shape[96];
    run_shape(t, shape, sizeof shape);
    yl_metadata_item meta[] = {
        {"run_shape", shape},
        {"format", "yoloop.train_state"}, {"epoch", v[0]},        {"optimizer_steps", v[1]},
        {"ema_updates", v[2]},            {"last_opt_step", v[3]}, {"accumulate", v[4]},
        {"best_fitness", v[5]},           {"best_epoch", v[6]},    {"time_skipped", v[7]},
    };
    if (st == YL_OK) {
        yl_tensor_set set = {.items = s.items, .count = s.count};
        st = yl_safetensors_write(t->state_path, &set, meta, (int)(sizeof meta / sizeof meta[0]));
    }
    state_set_free(&s);
    return st;
}

static char *metrics_json(const yl_train_epoch *e) {
    cJSON *j = cJSON_CreateObject();
    if (!j) return NULL;
    cJSON_AddNumberToObject(j, "epoch", e->epoch);
    cJSON_AddNumberToObject(j, "fitness", e->fitness);
    cJSON_AddNumberToObject(j, "metrics/precision(B)", e->precision);
    cJSON_AddNumberToObject(j, "metrics/recall(B)", e->recall);
    cJSON_AddNumberToObject(j, "metrics/mAP50(B)", e->map50);
    cJSON_AddNumberToObject(j, "metrics/mAP50-95(B)", e->map50_95);
    cJSON_AddNumberToObject(j, "train/box_loss", e->train_box);
    cJSON_AddNumberToObject(j, "train/cls_loss", e->train_cls);
    cJSON_AddNumberToObject(j, "train/dfl_loss", e->train_dfl);
    cJSON_AddNumberToObject(j, "val/box_loss", e->val_box);
    cJSON_AddNumberToObject(j, "val/cls_loss", e->val_cls);
    cJSON_AddNumberToObject(j, "val/dfl_loss", e->val_dfl);
    char *s = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    return s;
}

static char *names_json(const yl_trainer *t) {
    cJSON *a = cJSON_CreateArray();
    if (!a) return NULL;
    for (int i = 0; i < t->data.nc; i++) cJSON_AddItemToArray(a, cJSON_CreateString(t->data.names[i]));
    char *s = cJSON_PrintUnformatted(a);
    cJSON_Delete(a);
    return s;
}

yl_status yl_trainer_save(yl_trainer *t, const yl_train_epoch *e, bool best) {
    yl_checkpoint_info info;
    memset(&info, 0, sizeof info);
    info.imgsz = t->o.imgsz;
    info.names_json = names_json(t);
    info.train_args_json = yl_trainer_args_json(t);
    info.metrics_json = metrics_json(e);
    info.parent_version = (char *)(t->o.parent_version ? t->o.parent_version : "");
    info.version_id = "";
    yl_status st = (info.names_json && info.train_args_json && info.metrics_json)
                       ? YL_OK
                       : yl_error(YL_ERR_OOM, "train: checkpoint metadata");
    // Checkpoints carry the EMA weights, as Ultralytics' do.
    if (st == YL_OK) st = yl_ema_swap(t->ema);
    if (st == YL_OK) {
        st = yl_checkpoint_save(t->model, &info, t->last_path);
        if (st == YL_OK && best) st = yl_checkpoint_save(t->model, &info, t->best_path);
        yl_status back = yl_ema_swap(t->ema);
        if (st == YL_OK) st = back;
    }
    cJSON_free(info.names_json);
    cJSON_free(info.train_args_json);
    cJSON_free(info.metrics_json);
    if (st == YL_OK) st = write_state(t, e);
    return st;
}

static yl_status restore_tensor(yl_trainer *t, const yl_safetensors *sf, const char *prefix, const char *name,
                                yl_tensor *dst) {
    char key[STATE_NAME_SIZE];
    snprintf(key, sizeof key, "%s/%s", prefix, name);
    const yl_safetensors_entry *en = yl_safetensors_find(sf, key);
    size_t bytes = yl_tensor_nbytes(dst);
    if (!en) return yl_error(YL_ERR_FORMAT, "train: resume: %s has no tensor %s", t->state_path, key);
    if (en->nbytes != bytes || en->dtype != dst->dtype)
        return yl_error(YL_ERR_FORMAT, "train: resume: %s: tensor %s has %zu bytes, expected %zu", t->state_path, key,
                        en->nbytes, bytes);
    yl_backend *be = yl_engine_backend(&t->eng, dst->device);
    return be->copy_from_host(be, dst->data, yl_safetensors_data(sf, en), bytes);
}

static int64_t meta_int(const yl_safetensors *sf, const char *key, bool *ok) {
    const char *v = yl_safetensors_metadata(sf, key);
    if (!v) {
        *ok = false;
        return 0;
    }
    return strtoll(v, NULL, 10);
}

// A training state of this run's shape (batch, imgsz, seed, nbs, classes), or an error saying why not.
static yl_status check_state(const yl_trainer *t, const yl_safetensors *sf) {
    const char *format = yl_safetensors_metadata(sf, "format");
    if (!format || strcmp(format, "yoloop.train_state"))
        return yl_error(YL_ERR_FORMAT, "train: resume: %s is not a yoloop training state", t->state_path);
    char shape[96];
    run_shape(t, shape, sizeof shape);
    const char *saved_shape = yl_safetensors_metadata(sf, "run_shape");
    if (!saved_shape || strcmp(saved_shape, shape))
        return yl_error(YL_ERR_INVALID_ARG, "train: resume: %s was trained with %s, this run has %s", t->state_path,
                        saved_shape ? saved_shape : "(unknown)", shape);
    return YL_OK;
}

static yl_status restore_all(yl_trainer *t, const yl_safetensors *sf) {
    YL_TRY(check_state(t, sf));
    int n = yl_model_state_count(t->model);
    for (int i = 0; i < n; i++) {
        yl_state_entry *e = yl_model_state_at(t->model, i);
        YL_TRY(restore_tensor(t, sf, "model", e->name, &e->value));
        yl_tensor *ema = yl_ema_value(t->ema, i);
        if (ema) YL_TRY(restore_tensor(t, sf, "ema", e->name, ema));
        if (e->requires_grad && e->grad.data) YL_TRY(restore_tensor(t, sf, "grad", e->name, &e->grad));
        for (int slot = 0; slot < 2; slot++) {
            yl_tensor view;
            if (yl_optimizer_state_view(t->opt, i, slot, &view) != YL_OK) continue;
            YL_TRY(restore_tensor(t, sf, slot ? "opt1" : "opt0", e->name, &view));
        }
    }
    yl_clear_error();
    YL_TRY(yl_model_load_num_batches_tracked(t->model));
    bool ok = true;
    int epoch = (int)meta_int(sf, "epoch", &ok);
    int64_t steps = meta_int(sf, "optimizer_steps", &ok);
    int64_t updates = meta_int(sf, "ema_updates", &ok);
    t->sched.last_opt_step = meta_int(sf, "last_opt_step", &ok);
    t->sched.accumulate = (int)meta_int(sf, "accumulate", &ok);
    t->best_epoch = (int)meta_int(sf, "best_epoch", &ok);
    const char *bf = yl_safetensors_metadata(sf, "best_fitness");
    const char *ts = yl_safetensors_metadata(sf, "time_skipped");
    if (!ok || !bf || !ts) return yl_error(YL_ERR_FORMAT, "train: resume: %s lacks a counter", t->state_path);
    t->best_fitness = strtod(bf, NULL);
    t->has_best = t->best_epoch > 0;
    if (sscanf(ts, "%lf %ld", &t->time_offset, &t->skipped_steps) != 2)
        return yl_error(YL_ERR_FORMAT, "train: resume: %s: bad time_skipped", t->state_path);
    if (epoch < 1 || epoch > t->o.epochs)
        return yl_error(YL_ERR_INVALID_ARG, "train: resume: %s finished epoch %d, the run has epochs=%d",
                        t->state_path, epoch, t->o.epochs);
    YL_TRY(yl_optimizer_set_step_count(t->opt, steps));
    YL_TRY(yl_ema_set_updates(t->ema, updates));
    t->start_epoch = epoch;
    return yl_trainer_read_results(t, epoch);
}

yl_status yl_trainer_resume(yl_trainer *t) {
    yl_safetensors sf;
    YL_TRY(yl_safetensors_open(&sf, t->state_path));
    yl_status st = restore_all(t, &sf);
    yl_safetensors_close(&sf);
    return st;
}
