// The served model behind a refcounted slot, and the watcher that swaps deployments in.
#include "cli/serve/model_slot.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cycle/registry.h"
#include "cli/model_load.h"

struct yl_served_model {
    char version[64];
    yl_engine eng;
    bool engine_ready;
    yl_loaded_model lm;
    yl_predictor *predictor;
    int imgsz;
    pthread_mutex_t run_lock;  // one image at a time per model
    int refs;                  // holders; the slot's own reference counts as one while current
};

struct yl_model_slot {
    yl_model_slot_options options;
    char *workspace, *model_file;
    pthread_mutex_t lock;  // guards everything below; never held while a model loads or runs
    pthread_cond_t wake;
    yl_served_model *current;
    char deployed[64], loading[64], failed[64], load_error[512];
    int swaps;
    bool stop, poked;
    pthread_t watcher;
    bool watcher_running;
};

static void model_free(yl_served_model *m) {
    if (!m) return;
    yl_predictor_destroy(m->predictor);
    yl_loaded_model_free(&m->lm);
    if (m->engine_ready) yl_engine_release(&m->eng);
    pthread_mutex_destroy(&m->run_lock);
    free(m);
}

static yl_status model_load(const yl_model_slot_options *o, const char *path, const char *version,
                            yl_served_model **out) {
    yl_served_model *m = calloc(1, sizeof *m);
    if (!m) return yl_error(YL_ERR_OOM, "serve: out of memory loading %s", path);
    pthread_mutex_init(&m->run_lock, NULL);
    snprintf(m->version, sizeof m->version, "%s", version);
    yl_status st = yl_cli_engine_init(&m->eng, o->device, o->cuda_index);
    if (st == YL_OK) {
        m->engine_ready = true;
        st = yl_load_model_file(path, &m->eng, &m->lm);
    }
    if (st == YL_OK) {
        yl_predict_options po = yl_predict_defaults();
        po.imgsz = o->imgsz > 0 ? o->imgsz : (m->lm.imgsz > 0 && m->lm.imgsz % 32 == 0 ? m->lm.imgsz : 640);
        po.conf = o->conf;
        if (o->iou > 0) po.iou = o->iou;
        po.names = (const char *const *)m->lm.names;
        m->imgsz = po.imgsz;
        st = yl_predictor_create(&m->predictor, m->lm.model, &po);
    }
    if (st != YL_OK) {
        yl_error_context(st, "loading %s (%s)", version, path);
        model_free(m);
        return st;
    }
    m->refs = 1;  // the slot's
    *out = m;
    return YL_OK;
}

// Drops one reference; the caller frees the returned model (outside the lock) when it was the last.
static yl_served_model *unref_locked(yl_served_model *m) {
    return m && --m->refs == 0 ? m : NULL;
}

// The model file and version id the workspace's pointer names now ("" when nothing deployed).
static yl_status read_pointer(const yl_model_slot *slot, char id[YL_VERSION_ID_SIZE], char *path, size_t size) {
    YL_TRY(yl_registry_deployed(slot->workspace, id));
    if (!id[0]) return YL_OK;
    return yl_registry_model_path(slot->workspace, id, path, size);
}

static void file_stem(const char *path, char *out, size_t size) {
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    snprintf(out, size, "%s", base);
    char *dot = strrchr(out, '.');
    if (dot && dot != out) *dot = '\0';
}

// One look at the pointer: load and swap when it names a version not served and not known bad.
static void check_pointer(yl_model_slot *slot) {
    char id[YL_VERSION_ID_SIZE] = "", path[4096] = "";
    yl_status st = read_pointer(slot, id, path, sizeof path);
    pthread_mutex_lock(&slot->lock);
    if (st != YL_OK) {
        // A pointer naming a missing version: keep serving, say why.
        snprintf(slot->load_error, sizeof slot->load_error, "%s", yl_last_error());
        if (id[0]) snprintf(slot->failed, sizeof slot->failed, "%s", id);
        pthread_mutex_unlock(&slot->lock);
        return;
    }
    snprintf(slot->deployed, sizeof slot->deployed, "%s", id);
    bool wanted = id[0] && (!slot->current || strcmp(slot->current->version, id) != 0) && strcmp(slot->failed, id) != 0;
    if (wanted) snprintf(slot->loading, sizeof slot->loading, "%s", id);
    if (slot->current && !strcmp(slot->current->version, id))  // rolled back to what is served
        slot->failed[0] = slot->load_error[0] = '\0';
    pthread_mutex_unlock(&slot->lock);
    if (!wanted) return;

    yl_served_model *fresh = NULL;
    st = model_load(&slot->options, path, id, &fresh);
    yl_served_model *old = NULL;
    pthread_mutex_lock(&slot->lock);
    slot->loading[0] = '\0';
    if (st == YL_OK) {
        old = unref_locked(slot->current);
        slot->current = fresh;
        slot->swaps++;
        slot->failed[0] = slot->load_error[0] = '\0';
    } else {
        snprintf(slot->failed, sizeof slot->failed, "%s", id);
        snprintf(slot->load_error, sizeof slot->load_error, "%s", yl_last_error());
    }
    pthread_mutex_unlock(&slot->lock);
    if (st == YL_OK)
        fprintf(stderr, "serve: now serving %s\n", id);
    else
        fprintf(stderr, "serve: %s (still serving the previous model)\n", yl_last_error());
    model_free(old);
}

static void *watch(void *arg) {
    yl_model_slot *slot = arg;
    pthread_mutex_lock(&slot->lock);
    while (!slot->stop) {
        if (!slot->poked) {
            struct timespec until;
            clock_gettime(CLOCK_REALTIME, &until);
            long long ns = until.tv_nsec + (long long)slot->options.poll_ms * 1000000LL;
            until.tv_sec += (time_t)(ns / 1000000000LL);
            until.tv_nsec = (long)(ns % 1000000000LL);
            pthread_cond_timedwait(&slot->wake, &slot->lock, &until);
        }
        slot->poked = false;
        if (slot->stop) break;
        pthread_mutex_unlock(&slot->lock);
        check_pointer(slot);
        pthread_mutex_lock(&slot->lock);
    }
    pthread_mutex_unlock(&slot->lock);
    return NULL;
}

yl_status yl_model_slot_open(yl_model_slot **out, const yl_model_slot_options *options) {
    if (!out || !options || (!options->workspace == !options->model_file))
        return yl_error(YL_ERR_INVALID_ARG, "serve: give either a workspace or a model file");
    *out = NULL;
    yl_model_slot *slot = calloc(1, sizeof *slot);
    if (!slot) return yl_error(YL_ERR_OOM, "serve: out of memory");
    slot->options = *options;
    if (slot->options.poll_ms <= 0) slot->options.poll_ms = 1000;
    slot->workspace = options->workspace ? strdup(options->workspace) : NULL;
    slot->model_file = options->model_file ? strdup(options->model_file) : NULL;
    slot->options.workspace = slot->workspace;
    slot->options.model_file = slot->model_file;
    pthread_mutex_init(&slot->lock, NULL);
    pthread_cond_init(&slot->wake, NULL);
    yl_status st = YL_OK;
    if (slot->model_file) {
        char version[64];
        file_stem(slot->model_file, version, sizeof version);
        st = model_load(&slot->options, slot->model_file, version, &slot->current);
        if (st == YL_OK) {
            slot->swaps = 1;
            snprintf(slot->deployed, sizeof slot->deployed, "%s", version);
        }
    } else {
        check_pointer(slot);
        if (slot->load_error[0]) st = yl_error(YL_ERR_IO, "%s", slot->load_error);
        else if (pthread_create(&slot->watcher, NULL, watch, slot) != 0)
            st = yl_error(YL_ERR_IO, "serve: cannot start the model watcher thread");
        else slot->watcher_running = true;
    }
    if (st != YL_OK) {
        yl_model_slot_close(slot);
        return st;
    }
    *out = slot;
    return YL_OK;
}

void yl_model_slot_close(yl_model_slot *slot) {
    if (!slot) return;
    pthread_mutex_lock(&slot->lock);
    slot->stop = true;
    pthread_cond_broadcast(&slot->wake);
    pthread_mutex_unlock(&slot->lock);
    if (slot->watcher_running) pthread_join(slot->watcher, NULL);
    model_free(unref_locked(slot->current));
    pthread_cond_destroy(&slot->wake);
    pthread_mutex_destroy(&slot->lock);
    free(slot->workspace);
    free(slot->model_file);
    free(slot);
}

yl_served_model *yl_model_slot_acquire(yl_model_slot *slot) {
    pthread_mutex_lock(&slot->lock);
    yl_served_model *m = slot->current;
    if (m) m->refs++;
    pthread_mutex_unlock(&slot->lock);
    return m;
}

void yl_model_slot_release(yl_model_slot *slot, yl_served_model *model) {
    if (!model) return;
    pthread_mutex_lock(&slot->lock);
    yl_served_model *dead = unref_locked(model);
    pthread_mutex_unlock(&slot->lock);
    model_free(dead);
}

void yl_model_slot_get_status(yl_model_slot *slot, yl_model_slot_status *out) {
    memset(out, 0, sizeof *out);
    pthread_mutex_lock(&slot->lock);
    if (slot->current) {
        snprintf(out->version, sizeof out->version, "%s", slot->current->version);
        out->imgsz = slot->current->imgsz;
    }
    snprintf(out->deployed, sizeof out->deployed, "%s", slot->deployed);
    snprintf(out->loading, sizeof out->loading, "%s", slot->loading);
    snprintf(out->load_error, sizeof out->load_error, "%s", slot->load_error);
    out->swaps = slot->swaps;
    pthread_mutex_unlock(&slot->lock);
}

void yl_model_slot_poke(yl_model_slot *slot) {
    pthread_mutex_lock(&slot->lock);
    slot->poked = true;
    pthread_cond_signal(&slot->wake);
    pthread_mutex_unlock(&slot->lock);
}

const char *yl_served_model_version(const yl_served_model *model) { return model->version; }
int yl_served_model_class_count(const yl_served_model *model) { return model->lm.nc; }
const char *yl_served_model_class_name(const yl_served_model *model, int index) {
    return index >= 0 && index < model->lm.nc ? model->lm.names[index] : NULL;
}

yl_status yl_served_model_predict(yl_served_model *model, const yl_image_u8 *image, yl_detection **boxes,
                                  int64_t *count) {
    *boxes = NULL;
    *count = 0;
    pthread_mutex_lock(&model->run_lock);
    yl_prediction pred;
    yl_status st = yl_predictor_run_image(model->predictor, image, &pred);
    if (st == YL_OK && pred.count > 0) {
        *boxes = malloc((size_t)pred.count * sizeof **boxes);
        if (*boxes) {
            memcpy(*boxes, pred.boxes, (size_t)pred.count * sizeof **boxes);
            *count = pred.count;
        } else {
            st = yl_error(YL_ERR_OOM, "serve: out of memory for %lld detections", (long long)pred.count);
        }
    }
    pthread_mutex_unlock(&model->run_lock);
    return st;
}
