// The Ultralytics parity check (tests/parity_fixture.h) with the model on the GPU. cuDNN picks
// its own convolution algorithms, so the tolerances are those of the CPU test except the
// forward's, which allows for reassociated sums. Without a GPU: SKIPPED.
#include "tests/parity_fixture.h"

static const parity_tolerances CUDA_TOLERANCES = {.forward = 1e-4, .gradient = 1e-3, .running_stats = 1e-5};

int main(void) {
    yl_engine eng;
    if (!yl_test_cuda_engine(&eng)) return YL_TEST_SKIPPED;
    parity_result res;
    parity_run_all(&eng, &CUDA_TOLERANCES, &res);
    printf("summary (cuda): decoded boxes %.3e, scores %.3e, train maps %.3e; worst gradient %.3e (%s; %.3e beyond "
           "F16 storage); running stats %.3e\n",
           res.decoded_boxes, res.decoded_scores, res.maps, res.gradient, res.worst_gradient, res.gradient_beyond_f16,
           res.running_stats);
    CHECK(res.gradients_checked == 183, "%d gradients checked", res.gradients_checked);
    yl_engine_release(&eng);
    return yl_test_finish("test_cuda_parity");
}
