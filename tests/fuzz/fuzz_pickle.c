// libFuzzer harness for the pickle reader and the checkpoint interpretation on top of it:
// any input must end in YL_OK or an error, never a crash, a leak or undefined behaviour.
// Storages come from a fake source whose size depends on the key, so tensor bounds checks
// see storages both large and too small. Build: tests/fuzz/README.md.
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "weights/pickle.h"
#include "weights/pt_checkpoint.h"

static yl_status fake_storage(void *ctx, const char *key, unsigned char **data, size_t *size) {
    (void)ctx;
    size_t n = 0;
    for (const char *k = key; *k; k++) n = n * 31 + (unsigned char)*k;
    n %= 513;
    *data = malloc(n + 1);
    if (!*data) return yl_error(YL_ERR_OOM, "fuzz: out of memory");
    memset(*data, 0x3C, n + 1);
    *size = n;
    return YL_OK;
}

// Reads every byte a successful load hands out, so that a wrong pointer or size shows up.
static unsigned touch(const yl_pt_checkpoint *ck) {
    unsigned sum = 0;
    for (int i = 0; i < ck->tensors.count; i++) {
        const unsigned char *p = ck->tensors.items[i].data;
        for (size_t k = 0; k < ck->tensors.items[i].nbytes; k++) sum += p[k];
        sum += (unsigned)strlen(ck->tensors.items[i].name);
    }
    for (int i = 0; i < ck->train_args_count; i++) sum += (unsigned)strlen(ck->train_args[i].value);
    for (int i = 0; i < ck->names_count; i++) sum += (unsigned)strlen(ck->names[i]);
    for (int i = 0; i < ck->activation_count; i++) sum += (unsigned)ck->activations[i].kind;
    return sum;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    yl_pickle *p = NULL;
    if (yl_pickle_load(&p, data, size, "fuzz") == YL_OK) {
        const yl_pickle_value *root = yl_pickle_root(p);
        char buf[64];
        (void)yl_pickle_class_name(root, buf, sizeof buf);
        (void)yl_pickle_len(root);
        (void)yl_pickle_dict_get(root, "model");
    }
    yl_pickle_free(p);

    yl_pt_checkpoint ck;
    yl_pt_storage_reader reader = {.read = fake_storage, .ctx = NULL};
    if (yl_pt_checkpoint_from_pickle(&ck, "fuzz", data, size, &reader) == YL_OK) {
        volatile unsigned sink = touch(&ck);
        (void)sink;
    }
    yl_pt_checkpoint_free(&ck);
    return 0;
}
