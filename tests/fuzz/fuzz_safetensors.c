// libFuzzer harness for the safetensors reader (weights/safetensors.c). The reader opens a
// path, so each input goes through a per-process file under /tmp. A successful open must give
// entries whose bytes can all be read and converted. Build: tests/fuzz/README.md.
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "weights/safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static char path[64];
    if (!path[0]) snprintf(path, sizeof path, "/tmp/yoloop-fuzz-st-%ld.safetensors", (long)getpid());
    FILE *f = fopen(path, "wb");
    if (!f) return 0;
    size_t written = fwrite(data, 1, size, f);
    fclose(f);
    if (written != size) return 0;

    yl_safetensors st;
    if (yl_safetensors_open(&st, path) == YL_OK) {
        unsigned sum = 0;
        for (int i = 0; i < st.count; i++) {
            const yl_safetensors_entry *e = &st.entries[i];
            const unsigned char *p = yl_safetensors_data(&st, e);
            for (size_t k = 0; k < e->nbytes; k++) sum += p[k];
            size_t n = e->nbytes / yl_dtype_size(e->dtype);
            float *out = malloc((n ? n : 1) * sizeof *out);
            if (out) {
                (void)yl_safetensors_read_f32(&st, e->name, out, n);
                free(out);
            }
            if (yl_safetensors_find(&st, e->name) == NULL) abort();  // every listed entry can be found
        }
        for (int i = 0; i < st.metadata_count; i++) sum += (unsigned)strlen(st.metadata_values[i]);
        volatile unsigned sink = sum;
        (void)sink;
        yl_safetensors_close(&st);
    }
    return 0;
}
