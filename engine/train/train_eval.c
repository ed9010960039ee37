// Per-epoch validation of the EMA weights through the one validator (validate.h): swap the EMA
// in, validate, swap back, re-plan the model for training.
#include "engine/train/train_internal.h"

yl_status yl_trainer_validate(yl_trainer *t, yl_train_epoch *e) {
    e->validated = false;
    if (!t->validator) return YL_OK;
    YL_TRY(yl_ema_swap(t->ema));
    const yl_eval_results *r = NULL;
    float val_loss[3] = {0, 0, 0};
    yl_status st = yl_validator_run(t->validator, &r, val_loss);
    yl_status back = yl_ema_swap(t->ema);
    if (st != YL_OK) return yl_error_context(st, "train: validation after epoch %d: ", e->epoch);
    YL_TRY(back);
    YL_TRY(yl_model_plan(t->model, t->o.batch, t->o.imgsz, t->o.imgsz, true));
    e->precision = r->precision;
    e->recall = r->recall;
    e->map50 = r->map50;
    e->map50_95 = r->map50_95;
    e->fitness = 0.1 * r->map50 + 0.9 * r->map50_95;
    e->val_box = val_loss[0];
    e->val_cls = val_loss[1];
    e->val_dfl = val_loss[2];
    e->validated = true;
    yl_format_val_table(r, (const char *const *)t->data.names, false, t->val_table, sizeof t->val_table);
    return YL_OK;
}
