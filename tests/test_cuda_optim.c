// The optimizer, gradient clipping and EMA on CUDA (kernels/optim.cu) against the CPU loops, on
// the same random state: 40 parameter tensors (more than one 32-tensor launch) of sizes 1 .. 70001
// (beyond one 256 x 256 grid-stride pass), two of them frozen, three groups with their own lr,
// momentum and weight decay; three SGD and three AdamW steps with changing lr / momentum; clipping
// (norm above and below max_norm, a NaN gradient named); EMA create / update / swap.
// The kernels round each operation like the CPU loops (no FMA contraction), so equal bits are
// expected; tolerance max |cuda - cpu| / max(|cpu|, 1e-3) <= 1e-6 (sqrt and division are IEEE
// on both). The clipping norm sums in double in another order: 1e-12 relative.
// Without a GPU (or a CUDA build) the test prints SKIPPED and returns 77.
#include "engine/optim/ema.h"
#include "engine/optim/grad_clip.h"
#include "engine/optim/optimizer.h"
#include "tests/optim_test_util.h"

#define TENSORS 40
#define TOLERANCE 1e-6
#define FLOOR 1e-3

typedef struct {
    yl_engine *eng;
    yl_state_entry entries[TENSORS];
    yl_param_groups groups;
} side;

static int64_t size_of(int k) {
    static const int64_t sizes[] = {1, 7, 255, 256, 257, 1000, 70001, 3, 4096, 17};
    return sizes[k % 10] + k / 10;
}

static void build_side(side *s, yl_engine *eng, float *const *values, float *const *grads) {
    s->eng = eng;
    yl_device device = eng->device;
    for (int k = 0; k < TENSORS; k++) {
        int64_t n = size_of(k);
        char name[48];
        snprintf(name, sizeof name, "model.%d.conv.weight", k / 4);
        yl_param_group group = (yl_param_group)(k % 3);
        yl_state_kind kind = group == YL_PARAM_GROUP_BIAS ? YL_STATE_BN_BIAS
                             : group == YL_PARAM_GROUP_WEIGHT ? YL_STATE_CONV_WEIGHT : YL_STATE_BN_WEIGHT;
        s->entries[k] = optim_entry(name, kind, group, 1, &n, NULL, NULL);
        s->entries[k].requires_grad = true;
        if (device == YL_DEVICE_CPU) {
            s->entries[k].value.data = values[k];
            s->entries[k].grad.data = grads[k];
        } else {
            s->entries[k].value = yl_test_to_device(eng, values[k], 1, &n);
            s->entries[k].grad = yl_test_to_device(eng, grads[k], 1, &n);
        }
    }
    int frozen[] = {2};  // "model.2." -> entries 8 .. 11
    yl_freeze_spec freeze = {.layers = frozen, .layer_count = 1};
    CHECK_OK(yl_param_groups_build(&s->groups, s->entries, TENSORS, &freeze));
}

static void set_grads(side *s, float *const *grads) {
    for (int k = 0; k < TENSORS; k++) {
        yl_state_entry *e = &s->entries[k];
        if (e->value.device == YL_DEVICE_CPU)
            memcpy(e->grad.data, grads[k], yl_tensor_nbytes(&e->grad));
        else
            s->eng->backends[YL_DEVICE_CUDA]->copy_from_host(s->eng->backends[YL_DEVICE_CUDA], e->grad.data, grads[k],
                                                             yl_tensor_nbytes(&e->grad));
    }
}

// Worst error of the GPU side's values (grads when `grads`) against the CPU side's.
static double compare(side *cpu, side *gpu, bool grads, float *scratch) {
    double worst = 0.0;
    for (int k = 0; k < TENSORS; k++) {
        yl_tensor *d = grads ? &gpu->entries[k].grad : &gpu->entries[k].value;
        const float *h = grads ? cpu->entries[k].grad.data : cpu->entries[k].value.data;
        yl_test_to_host(gpu->eng, scratch, d);
        double err = optim_rel_error(scratch, h, (size_t)size_of(k), FLOOR);
        if (err > worst) worst = err;
    }
    return worst;
}

static void run_optimizer(yl_engine *cpu_eng, yl_engine *gpu_eng, yl_optimizer_kind kind, float **values,
                          float **grads, float *scratch, yl_rng *rng) {
    float *cpu_values[TENSORS];
    for (int k = 0; k < TENSORS; k++) {
        cpu_values[k] = yl_test_alloc((size_t)size_of(k));
        memcpy(cpu_values[k], values[k], (size_t)size_of(k) * sizeof(float));
    }
    float *cpu_grads[TENSORS];
    for (int k = 0; k < TENSORS; k++) cpu_grads[k] = yl_test_alloc((size_t)size_of(k));
    static side cpu, gpu;
    build_side(&cpu, cpu_eng, cpu_values, cpu_grads);
    build_side(&gpu, gpu_eng, values, grads);
    yl_optimizer_settings settings = yl_optimizer_settings_make(kind, 0.01, 0.9, 0.05);
    settings.groups[YL_PARAM_GROUP_BN_WEIGHT].weight_decay = 0.01;
    yl_optimizer *oc = NULL, *og = NULL;
    CHECK_OK(yl_optimizer_create(&oc, cpu_eng, &cpu.groups, &settings));
    CHECK_OK(yl_optimizer_create(&og, gpu_eng, &gpu.groups, &settings));
    if (!oc || !og) return;
    double worst = 0.0, worst_grad = 0.0, worst_norm = 0.0;
    for (int step = 0; step < 3; step++) {
        for (int k = 0; k < TENSORS; k++)
            yl_rng_fill_normal(rng, grads[k], (size_t)size_of(k), 0.0f, step == 1 ? 0.01f : 1.0f);
        set_grads(&cpu, grads);
        set_grads(&gpu, grads);
        double nc = 0.0, ng = 0.0;
        CHECK_OK(yl_clip_grad_norm(oc, 10.0, &nc));
        CHECK_OK(yl_clip_grad_norm(og, 10.0, &ng));
        double norm_err = fabs(nc - ng) / nc;
        if (norm_err > worst_norm) worst_norm = norm_err;
        double grad_err = compare(&cpu, &gpu, true, scratch);
        if (grad_err > worst_grad) worst_grad = grad_err;
        for (int g = 0; g < 3; g++) {
            double lr = 0.02 * (g + 1) / (step + 1);
            yl_optimizer_settings_of(oc)->groups[g].lr = yl_optimizer_settings_of(og)->groups[g].lr = lr;
            if (kind == YL_OPTIMIZER_SGD)
                yl_optimizer_settings_of(oc)->groups[g].momentum = yl_optimizer_settings_of(og)->groups[g].momentum =
                    0.8 + 0.05 * step;
        }
        CHECK_OK(yl_optimizer_step(oc));
        CHECK_OK(yl_optimizer_step(og));
        double err = compare(&cpu, &gpu, false, scratch);
        if (err > worst) worst = err;
    }
    CHECK(worst <= TOLERANCE && worst_grad <= TOLERANCE && worst_norm <= 1e-12,
          "%s: params %.3e, clipped grads %.3e, norm %.3e", yl_optimizer_kind_name(kind), worst, worst_grad, worst_norm);
    printf("  %-5s 3 steps, %d tensors: max rel error params %.3e, clipped grads %.3e, norm %.3e\n",
           yl_optimizer_kind_name(kind), TENSORS, worst, worst_grad, worst_norm);
    // Frozen tensors (8 .. 11) kept their values on the GPU.
    yl_test_to_host(gpu_eng, scratch, &gpu.entries[9].value);
    CHECK(!memcmp(scratch, values[9], (size_t)size_of(9) * sizeof(float)), "frozen tensor moved on the GPU");

    // A NaN gradient is named on the GPU too.
    grads[21][3] = NAN;
    set_grads(&gpu, grads);
    double norm = 0.0;
    CHECK_STATUS(yl_clip_grad_norm(og, 10.0, &norm), YL_ERR_NUMERIC);
    CHECK(strstr(yl_last_error(), "model.5.conv.weight") != NULL, "NaN message: %s", yl_last_error());
    grads[21][3] = 0.0f;
    set_grads(&cpu, grads);
    set_grads(&gpu, grads);

    // EMA on both sides, after more steps.
    yl_ema *ec = NULL, *eg = NULL;
    CHECK_OK(yl_ema_create(&ec, cpu_eng, cpu.entries, TENSORS));
    CHECK_OK(yl_ema_create(&eg, gpu_eng, gpu.entries, TENSORS));
    if (ec && eg) {
        CHECK_OK(yl_ema_set_updates(ec, 1990));
        CHECK_OK(yl_ema_set_updates(eg, 1990));
        double worst_ema = 0.0;
        for (int u = 0; u < 3; u++) {
            CHECK_OK(yl_optimizer_step(oc));
            CHECK_OK(yl_optimizer_step(og));
            CHECK_OK(yl_ema_update(ec));
            CHECK_OK(yl_ema_update(eg));
            for (int k = 0; k < TENSORS; k++) {
                yl_test_to_host(gpu_eng, scratch, yl_ema_value(eg, k));
                double e = optim_rel_error(scratch, yl_ema_value(ec, k)->data, (size_t)size_of(k), FLOOR);
                if (e > worst_ema) worst_ema = e;
            }
        }
        CHECK_OK(yl_ema_swap(ec));
        CHECK_OK(yl_ema_swap(eg));
        double swapped = compare(&cpu, &gpu, false, scratch);
        CHECK(worst_ema <= TOLERANCE && swapped <= TOLERANCE, "EMA %.3e, swapped model %.3e", worst_ema, swapped);
        printf("  EMA 3 updates: max rel error %.3e; after swap %.3e\n", worst_ema, swapped);
    }
    yl_ema_destroy(ec);
    yl_ema_destroy(eg);
    yl_optimizer_destroy(oc);
    yl_optimizer_destroy(og);
    for (int k = 0; k < TENSORS; k++) {
        yl_test_device_free(gpu_eng, &gpu.entries[k].value);
        yl_test_device_free(gpu_eng, &gpu.entries[k].grad);
        free(cpu_values[k]);
        free(cpu_grads[k]);
    }
    yl_param_groups_release(&cpu.groups);
    yl_param_groups_release(&gpu.groups);
}

int main(void) {
    yl_engine gpu_eng;
    if (!yl_test_cuda_engine(&gpu_eng)) return YL_TEST_SKIPPED;
    yl_engine cpu_eng = yl_test_cpu_engine();
    yl_rng rng;
    yl_rng_seed(&rng, 42, 7);
    float *values[TENSORS], *grads[TENSORS];
    float *scratch = yl_test_alloc(80000);
    for (int kind = 0; kind < 2; kind++) {
        for (int k = 0; k < TENSORS; k++) {
            values[k] = yl_test_random(&rng, (size_t)size_of(k), -1.0f, 1.0f);
            grads[k] = yl_test_alloc((size_t)size_of(k));
        }
        run_optimizer(&cpu_eng, &gpu_eng, kind == 0 ? YL_OPTIMIZER_SGD : YL_OPTIMIZER_ADAMW, values, grads, scratch, &rng);
        for (int k = 0; k < TENSORS; k++) {
            free(values[k]);
            free(grads[k]);
        }
    }
    free(scratch);
    yl_engine_release(&cpu_eng);
    yl_engine_release(&gpu_eng);
    return yl_test_finish("test_cuda_optim");
}
