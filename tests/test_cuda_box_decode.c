// box_decode_forward on CUDA against the CPU op on the same inputs. The two run the same float
// operations in the same order (none contractible into an FMA), so they must agree exactly.
// Without a GPU: SKIPPED.
#include "tests/test_common.h"

static void check_case(yl_engine *gpu, yl_engine *cpu, yl_rng *rng, int64_t batch, const yl_box_decode_params *p) {
    int64_t anchors = 0;
    for (int l = 0; l < p->levels; l++) anchors += (int64_t)p->height[l] * p->width[l];
    const int64_t n = batch * 4 * anchors, shape[3] = {batch, 4, anchors};
    float *dist = yl_test_random(rng, (size_t)n, 0.0f, 15.0f), *cpu_out = yl_test_alloc((size_t)n);
    float *gpu_out = yl_test_alloc((size_t)n);
    yl_tensor d = yl_tensor_3d(dist, YL_DEVICE_CPU, batch, 4, anchors);
    yl_tensor o = yl_tensor_3d(cpu_out, YL_DEVICE_CPU, batch, 4, anchors);
    CHECK_OK(yl_box_decode_forward(cpu, &d, &o, p));
    yl_tensor gd = yl_test_to_device(gpu, dist, 3, shape), go = yl_test_to_device(gpu, NULL, 3, shape);
    CHECK_OK(yl_box_decode_forward(gpu, &gd, &go, p));
    yl_test_to_host(gpu, gpu_out, &go);
    double nmse = yl_test_nmse(gpu_out, cpu_out, (size_t)n), diff = yl_test_max_abs_diff(gpu_out, cpu_out, (size_t)n);
    printf("  B=%lld levels=%d A=%lld: NMSE %.3e, max |diff| %.3e\n", (long long)batch, p->levels, (long long)anchors,
           nmse, diff);
    CHECK(diff == 0.0, "CUDA box decode differs from the CPU: max |diff| %.3e", diff);
    yl_test_device_free(gpu, &gd);
    yl_test_device_free(gpu, &go);
    free(dist), free(cpu_out), free(gpu_out);
}

int main(void) {
    yl_engine gpu;
    if (!yl_test_cuda_engine(&gpu)) return YL_TEST_SKIPPED;
    yl_engine cpu = yl_test_cpu_engine();
    yl_rng rng;
    yl_rng_seed(&rng, 99, 5);
    printf("box_decode_forward: CUDA vs CPU (exact)\n");
    const yl_box_decode_params yolo = {.levels = 3, .height = {80, 40, 20}, .width = {80, 40, 20}, .stride = {8, 16, 32}};
    const yl_box_decode_params odd = {.levels = 3, .height = {5, 3, 1}, .width = {7, 1, 9}, .stride = {8, 16, 32}};
    const yl_box_decode_params four = {.levels = 4, .height = {3, 2, 2, 1}, .width = {5, 3, 1, 1},
                                       .stride = {4, 8.5f, 16, 64}};
    check_case(&gpu, &cpu, &rng, 16, &yolo);
    check_case(&gpu, &cpu, &rng, 3, &odd);
    check_case(&gpu, &cpu, &rng, 1, &four);
    yl_engine_release(&cpu);
    yl_engine_release(&gpu);
    return yl_test_finish("test_cuda_box_decode");
}
