// Evaluation inside a cycle: the one validation pipeline (engine/train/validate.h) with the
// workspace's fixed settings, so that every number in the history is comparable.
#include <stdlib.h>
#include <string.h>

#include "cli/cycle/cycle_internal.h"
#include "cli/cycle/eval_record.h"
#include "cli/model_load.h"
#include "engine/data/data_yaml.h"
#include "engine/data/dataset.h"
#include "engine/train/validate.h"

void yl_cycle_metrics_free(yl_cycle_metrics *m) {
    if (!m) return;
    free(m->ap50);
    free(m->has_gt);
    memset(m, 0, sizeof *m);
}

// The model must name the workspace's classes in the workspace's order: evaluating a model whose
// ids mean other classes would produce plausible but wrong numbers (the seed's class-swap bug).
static yl_status check_names(const yl_workspace_config *config, const yl_loaded_model *lm, const char *model_path) {
    if (lm->nc != config->nc)
        return yl_error(YL_ERR_INVALID_ARG, "cycle: %s has %d classes, the workspace has %d", model_path, lm->nc,
                        config->nc);
    for (int i = 0; i < config->nc; i++)
        if (strcmp(lm->names[i], config->names[i]))
            return yl_error(YL_ERR_INVALID_ARG, "cycle: %s names class %d '%s', the workspace names it '%s'",
                            model_path, i, lm->names[i], config->names[i]);
    return YL_OK;
}

yl_status yl_cycle_images_from_yaml(const yl_workspace_config *config, const char *yaml, yl_path_list *out) {
    memset(out, 0, sizeof *out);
    yl_data_config data;
    memset(&data, 0, sizeof data);
    yl_status st = yl_data_yaml_load(yaml, &data);
    if (st == YL_OK && data.nc != config->nc)
        st = yl_error(YL_ERR_INVALID_ARG, "cycle: %s has nc=%d, the workspace has %d classes", yaml, data.nc,
                      config->nc);
    for (int i = 0; st == YL_OK && i < data.nc; i++)
        if (strcmp(data.names[i], config->names[i]))
            st = yl_error(YL_ERR_INVALID_ARG, "cycle: %s names class %d '%s', the workspace names it '%s'", yaml, i,
                          data.names[i], config->names[i]);
    for (int i = 0; st == YL_OK && i < data.val.images.count; i++) st = yl_path_list_append(out, data.val.images.paths[i]);
    yl_data_config_free(&data);
    if (st != YL_OK) yl_path_list_free(out);
    return st;
}

static yl_status keep_metrics(const yl_eval_results *r, yl_cycle_metrics *out) {
    out->measured = true;
    out->images = (long)r->images;
    out->instances = (long)r->instances;
    out->precision = r->precision;
    out->recall = r->recall;
    out->map50 = r->map50;
    out->map50_95 = r->map50_95;
    out->nc = r->nc;
    out->ap50 = calloc((size_t)r->nc, sizeof *out->ap50);
    out->has_gt = calloc((size_t)r->nc, sizeof *out->has_gt);
    if (!out->ap50 || !out->has_gt) return yl_error(YL_ERR_OOM, "cycle: out of memory for per-class AP");
    for (int c = 0; c < r->nc; c++) {
        out->ap50[c] = r->ap50[c];
        out->has_gt[c] = r->has_gt[c];
    }
    return YL_OK;
}

static yl_status run_validation(const yl_workspace_config *config, yl_loaded_model *lm, const yl_dataset *ds,
                                const yl_cycle_eval_label *label, const char *record_path, yl_cycle_metrics *out) {
    yl_validator_options vo = yl_validator_defaults();
    vo.imgsz = config->eval_imgsz;
    vo.batch = config->eval_batch;
    vo.workers = config->eval_workers > 0 ? config->eval_workers : 1;
    vo.conf = (float)config->eval_conf;
    vo.iou = config->eval_iou;
    vo.names = (const char *const *)config->names;
    yl_validator *v = NULL;
    const yl_eval_results *r = NULL;
    yl_status st = yl_validator_create(&v, lm->model, ds, &vo);
    if (st == YL_OK) st = yl_validator_run(v, &r, NULL);
    if (st == YL_OK) st = keep_metrics(r, out);
    if (st == YL_OK && yl_validator_skipped(v) > 0)
        yl_cycle_logf(label->log, "WARNING %s set: %ld images could not be read", label->eval_set,
                      yl_validator_skipped(v));
    if (st == YL_OK) {
        yl_eval_record_info info = {.cycle = label->cycle, .model = label->model, .role = label->role,
                                    .eval_set = label->eval_set, .imgsz = vo.imgsz, .conf = vo.conf, .iou = vo.iou};
        st = yl_eval_record_write(record_path, r, (const char *const *)config->names, &info);
    }
    yl_validator_destroy(v);
    return st;
}

yl_status yl_cycle_evaluate(const yl_workspace_config *config, yl_engine *eng, const char *model_path,
                            const yl_path_list *images, const yl_cycle_eval_label *label, const char *record_path,
                            yl_cycle_metrics *out) {
    memset(out, 0, sizeof *out);
    if (images->count == 0) return yl_error(YL_ERR_INVALID_ARG, "cycle: the %s set has no images", label->eval_set);
    yl_loaded_model lm;
    YL_TRY(yl_load_model_file(model_path, eng, &lm));
    yl_status st = check_names(config, &lm, model_path);
    yl_dataset ds;
    memset(&ds, 0, sizeof ds);
    bool ds_ready = false;
    if (st == YL_OK) {
        st = yl_dataset_build((const char *const *)images->paths, images->count, config->nc, &ds);
        if (st != YL_OK) st = yl_error_context(st, "cycle: %s set: ", label->eval_set);
        ds_ready = st == YL_OK;
        for (int i = 0; ds_ready && i < ds.warning_count; i++)
            yl_cycle_logf(label->log, "WARNING %s set: %s", label->eval_set, ds.warnings[i]);
    }
    if (st == YL_OK) st = run_validation(config, &lm, &ds, label, record_path, out);
    if (st != YL_OK) st = yl_error_context(st, "cycle: evaluating %s on the %s set: ", label->model, label->eval_set);
    if (ds_ready) yl_dataset_free(&ds);
    yl_loaded_model_free(&lm);
    if (st != YL_OK) yl_cycle_metrics_free(out);
    return st;
}
