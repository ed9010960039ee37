// Runs the readers over every file of the fuzz corpus (tests/fuzz/corpus: seeds and any input
// a fuzzer once crashed on), and over every truncation and every single-byte flip of each pickle
// seed: each run must end in YL_OK or a format/dtype/unsupported error with a message, never a
// crash. A plain ctest, so the fuzzers' findings stay fixed without clang.
#include <dirent.h>

#include "test_common.h"
#include "weights/pickle.h"
#include "weights/pt_checkpoint.h"
#include "weights/safetensors.h"
#include "pt_test_util.h"

#define CORPUS_DIR YL_TEST_FIXTURES "/../fuzz/corpus"

static int runs = 0, accepted = 0;

static yl_status fake_storage(void *ctx, const char *key, unsigned char **data, size_t *size) {
    (void)ctx;
    size_t n = strlen(key) * 24;  // some storages big enough, some too small
    *data = calloc(n + 1, 1);
    if (!*data) return yl_error(YL_ERR_OOM, "test: out of memory");
    *size = n;
    return YL_OK;
}

static bool acceptable(yl_status s) {
    if (s == YL_OK) return true;
    return (s == YL_ERR_FORMAT || s == YL_ERR_DTYPE || s == YL_ERR_UNSUPPORTED) && yl_last_error()[0] != '\0';
}

static void run_pickle(const unsigned char *data, size_t size, const char *label) {
    yl_pickle *p = NULL;
    yl_clear_error();
    yl_status s = yl_pickle_load(&p, data, size, label);
    CHECK(acceptable(s), "%s: pickle -> %s '%s'", label, yl_status_name(s), yl_last_error());
    accepted += s == YL_OK;
    yl_pickle_free(p);
    yl_pt_checkpoint ck;
    yl_pt_storage_reader reader = {.read = fake_storage};
    yl_clear_error();
    s = yl_pt_checkpoint_from_pickle(&ck, label, data, size, &reader);
    CHECK(acceptable(s), "%s: checkpoint -> %s '%s'", label, yl_status_name(s), yl_last_error());
    yl_pt_checkpoint_free(&ck);
    runs++;
}

static void mutate_pickle(const unsigned char *data, size_t size, const char *name) {
    char label[300];
    unsigned char *copy = malloc(size ? size : 1);
    memcpy(copy, data, size);
    for (size_t cut = 0; cut < size; cut++) {
        snprintf(label, sizeof label, "%s[:%zu]", name, cut);
        run_pickle(copy, cut, label);
    }
    for (size_t k = 0; k < size; k++) {
        const unsigned char flips[] = {0xFF, 0x01, 0x80};
        for (size_t f = 0; f < sizeof flips; f++) {
            copy[k] ^= flips[f];
            snprintf(label, sizeof label, "%s^%zu:%02x", name, k, flips[f]);
            run_pickle(copy, size, label);
            copy[k] ^= flips[f];
        }
    }
    free(copy);
}

static void run_safetensors(const unsigned char *data, size_t size, const char *label) {
    char path[256];
    pt_write_file(pt_tmp_path(path, sizeof path, "corpus.safetensors"), data, size);
    yl_safetensors st;
    yl_clear_error();
    yl_status s = yl_safetensors_open(&st, path);
    CHECK(acceptable(s), "%s: safetensors -> %s '%s'", label, yl_status_name(s), yl_last_error());
    if (s == YL_OK) yl_safetensors_close(&st);
    remove(path);
    runs++;
}

static int for_each_file(const char *dir, void (*fn)(const unsigned char *, size_t, const char *), bool mutate) {
    DIR *d = opendir(dir);
    CHECK(d != NULL, "cannot open %s", dir);
    if (!d) return 0;
    int files = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') continue;
        char path[512];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        size_t size;
        unsigned char *data = pt_read_file(path, &size);
        fn(data, size, e->d_name);
        if (mutate) mutate_pickle(data, size, e->d_name);
        free(data);
        files++;
    }
    closedir(d);
    return files;
}

int main(void) {
    int pickles = for_each_file(CORPUS_DIR "/pickle", run_pickle, true);
    int safetensors = for_each_file(CORPUS_DIR "/safetensors", run_safetensors, false);
    CHECK(pickles >= 5 && safetensors >= 2, "corpus: %d pickles, %d safetensors files", pickles, safetensors);
    printf("  %d pickle and %d safetensors corpus files, %d runs (truncations and byte flips), %d pickles accepted\n",
           pickles, safetensors, runs, accepted);
    return yl_test_finish("test_pt_corpus");
}
