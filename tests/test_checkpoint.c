// Checkpoints (weights/checkpoint.h) and the safetensors writer: save -> load round trip bit for
// bit with every metadata item; atomic writes (a write that fails part-way, a failing rename, a
// missing directory: the old file stays intact and no temporary file is left); corrupt and
// lying files refused with a message naming the file or the entry; transfer counts of
// yolov8.md §1.7 (yolov8n nc=80 -> nc=3: 319/355 from a saved checkpoint; yolov8s: 349/355).
#define _XOPEN_SOURCE 700  // SIGXFSZ
#include <dirent.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/test_common.h"
#include "weights/checkpoint.h"
#include "weights/safetensors_write.h"

static char test_dir[] = "/tmp/yl_checkpoint_XXXXXX";

// Each call gets its own buffer (64 in all), so paths can be held across calls.
static const char *temp_path(const char *name) {
    static char paths[64][512];
    static int next = 0;
    char *p = paths[next++ % 64];
    snprintf(p, sizeof paths[0], "%s/%s", test_dir, name);
    return p;
}

static unsigned char *read_file(const char *path, size_t *size) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *buf = malloc((size_t)n + 1);
    *size = buf ? fread(buf, 1, (size_t)n, f) : 0;
    fclose(f);
    return buf;
}

static void write_bytes(const char *path, const void *data, size_t size) {
    FILE *f = fopen(path, "wb");
    if (!f) {
        fprintf(stderr, "test: cannot write %s\n", path);
        exit(2);
    }
    fwrite(data, 1, size, f);
    fclose(f);
}

// Files in the test directory whose name contains ".tmp-" (left-over temporary files).
static int leftover_temporaries(void) {
    DIR *dir = opendir(test_dir);
    int count = 0;
    for (struct dirent *e; dir && (e = readdir(dir));) count += strstr(e->d_name, ".tmp-") != NULL;
    if (dir) closedir(dir);
    return count;
}

static void expect_message(const char *needle) {
    CHECK(strstr(yl_last_error(), needle) != NULL, "message '%s' lacks '%s'", yl_last_error(), needle);
}

static yl_model *tiny_model(yl_engine *eng, int nc, uint64_t seed) {
    yl_model_config cfg;
    yl_model *m = NULL;
    CHECK_OK(yl_model_config_custom(&cfg, 0.33, 0.03125, 512, nc));
    CHECK_OK(yl_model_create(&m, eng, &cfg, seed));
    return m;
}

// Moves BN statistics and the batch counter away from their initial values.
static void train_forward(yl_model *m, uint64_t seed) {
    yl_rng rng;
    yl_rng_seed(&rng, seed, 9);
    float *pixels = yl_test_random(&rng, 2 * 3 * 64 * 64, 0.0f, 1.0f);
    yl_tensor images = yl_tensor_4d(pixels, YL_DEVICE_CPU, 2, 3, 64, 64), maps[3];
    CHECK_OK(yl_model_plan(m, 2, 64, 64, true));
    CHECK_OK(yl_model_forward_train(m, &images, maps));
    CHECK_OK(yl_model_forward_train(m, &images, maps));
    free(pixels);
}

static bool same_state(yl_model *a, yl_model *b) {
    if (yl_model_state_count(a) != yl_model_state_count(b)) return false;
    for (int i = 0; i < yl_model_state_count(a); i++) {
        yl_state_entry *x = yl_model_state_at(a, i), *y = yl_model_state_at(b, i);
        if (strcmp(x->name, y->name) || !yl_tensor_same_shape(&x->value, &y->value) || x->value.dtype != y->value.dtype ||
            memcmp(x->value.data, y->value.data, yl_tensor_nbytes(&x->value)))
            return false;
    }
    return true;
}

static const yl_checkpoint_info SAMPLE_INFO = {
    .imgsz = 64,
    .names_json = "[\"cat\",\"dog\",\"caf\\u00e9 \\\"au lait\\\"\"]",
    .version_id = "v7",
    .parent_version = "v6",
    .train_args_json = "{\"epochs\":3,\"lr0\":0.001,\"data\":\"ls/project 4\"}",
    .metrics_json = "{\"metrics/mAP50(B)\":0.5,\"fitness\":0.41}",
};

static void test_round_trip(yl_engine *eng) {
    yl_model *m = tiny_model(eng, 3, 11);
    if (!m) return;
    train_forward(m, 1);
    const char *path = temp_path("tiny.safetensors");
    CHECK_OK(yl_checkpoint_save(m, &SAMPLE_INFO, path));
    CHECK(leftover_temporaries() == 0, "no temporary file left after a save");
    struct stat sb;
    CHECK(stat(path, &sb) == 0 && (sb.st_mode & 0777) == 0644, "checkpoint mode %o", (unsigned)(sb.st_mode & 0777));

    yl_model *back = NULL;
    yl_checkpoint_info info;
    CHECK_OK(yl_checkpoint_load(path, eng, &back, &info));
    if (back) {
        CHECK(same_state(m, back), "every state entry round-trips bit for bit");
        CHECK(yl_model_num_batches_tracked(back) == 2, "num_batches_tracked %lld",
              (long long)yl_model_num_batches_tracked(back));
        const yl_model_config *c = &yl_model_get_layout(back)->config;
        CHECK(c->depth == 0.33 && c->width == 0.03125 && c->max_channels == 512 && c->nc == 3 && c->scale == 0,
              "config %g %g %d %d '%c'", c->depth, c->width, c->max_channels, c->nc, c->scale ? c->scale : '-');
        CHECK(info.format_version == YL_CHECKPOINT_FORMAT_VERSION && info.imgsz == 64, "format %d imgsz %d",
              info.format_version, info.imgsz);
        CHECK(!strcmp(info.names_json, SAMPLE_INFO.names_json), "names '%s'", info.names_json);
        CHECK(!strcmp(info.version_id, "v7") && !strcmp(info.parent_version, "v6"), "lineage %s <- %s",
              info.version_id, info.parent_version);
        CHECK(!strcmp(info.train_args_json, SAMPLE_INFO.train_args_json), "train_args '%s'", info.train_args_json);
        CHECK(!strcmp(info.metrics_json, SAMPLE_INFO.metrics_json), "metrics '%s'", info.metrics_json);
        CHECK(info.config.depth == c->depth && info.config.nc == 3, "info config");
        yl_checkpoint_info_free(&info);
    }
    // Saved again, the loaded model gives the same bytes: nothing is lost or reordered.
    const char *again = temp_path("tiny_again.safetensors");
    CHECK_OK(yl_checkpoint_save(back, &SAMPLE_INFO, again));
    size_t n1 = 0, n2 = 0;
    unsigned char *b1 = read_file(path, &n1), *b2 = read_file(again, &n2);
    CHECK(b1 && b2 && n1 == n2 && !memcmp(b1, b2, n1), "re-saved checkpoint is byte-identical (%zu vs %zu)", n1, n2);
    free(b1), free(b2);

    // The layout: 8-byte aligned data, widest first, metadata as written.
    yl_safetensors st;
    CHECK_OK(yl_safetensors_open(&st, path));
    CHECK(st.count == 355 && st.data_start % 8 == 0, "%d tensors, data at %zu", st.count, st.data_start);
    CHECK(!strcmp(yl_safetensors_metadata(&st, "format"), YL_CHECKPOINT_FORMAT), "format item");
    const yl_safetensors_entry *tracked = yl_safetensors_find(&st, "model.0.bn.num_batches_tracked");
    CHECK(tracked && tracked->dtype == YL_I64 && tracked->ndim == 0 && tracked->offset == 0,
          "num_batches_tracked is an i64 scalar laid out first");
    yl_safetensors_close(&st);

    // Defaults: no info at all.
    const char *plain = temp_path("defaults.safetensors");
    CHECK_OK(yl_checkpoint_save(m, NULL, plain));
    CHECK_OK(yl_checkpoint_read_info(plain, &info));
    CHECK(info.names_json && !strcmp(info.names_json, "[\"class0\",\"class1\",\"class2\"]"), "default names %s",
          info.names_json);
    CHECK(!strcmp(info.train_args_json, "{}") && !strcmp(info.metrics_json, "{}") && !info.version_id[0],
          "default train_args/metrics/version");
    yl_checkpoint_info_free(&info);

    // Bad info is refused before anything is written.
    yl_checkpoint_info bad = SAMPLE_INFO;
    bad.names_json = "[\"cat\",\"dog\"]";
    CHECK_STATUS(yl_checkpoint_save(m, &bad, temp_path("bad.safetensors")), YL_ERR_FORMAT);
    expect_message("names");
    bad = SAMPLE_INFO, bad.train_args_json = "{epochs: 3}";
    CHECK_STATUS(yl_checkpoint_save(m, &bad, temp_path("bad.safetensors")), YL_ERR_FORMAT);
    bad = SAMPLE_INFO, bad.metrics_json = "[1]";
    CHECK_STATUS(yl_checkpoint_save(m, &bad, temp_path("bad.safetensors")), YL_ERR_FORMAT);
    CHECK(access(temp_path("bad.safetensors"), F_OK) != 0, "no file written for bad info");
    CHECK_STATUS(yl_checkpoint_save(NULL, NULL, path), YL_ERR_INVALID_ARG);
    CHECK_STATUS(yl_checkpoint_load(path, eng, NULL, NULL), YL_ERR_INVALID_ARG);
    yl_model_destroy(back);
    yl_model_destroy(m);
}

// ---- atomic writes ----------------------------------------------------------------------------

static void test_atomic_write(yl_engine *eng) {
    yl_model *old_model = tiny_model(eng, 3, 21), *new_model = tiny_model(eng, 3, 22);
    if (!old_model || !new_model) return;
    const char *path = temp_path("atomic.safetensors");
    CHECK_OK(yl_checkpoint_save(old_model, NULL, path));
    size_t old_size = 0;
    unsigned char *old_bytes = read_file(path, &old_size);

    // A write that fails part-way (file size limit: EFBIG, like a full disk).
    struct rlimit saved_limit, small_limit;
    getrlimit(RLIMIT_FSIZE, &saved_limit);
    small_limit = saved_limit;
    small_limit.rlim_cur = 64 * 1024;
    void (*saved_handler)(int) = signal(SIGXFSZ, SIG_IGN);
    CHECK(setrlimit(RLIMIT_FSIZE, &small_limit) == 0, "setrlimit");
    yl_status status = yl_checkpoint_save(new_model, NULL, path);
    setrlimit(RLIMIT_FSIZE, &saved_limit);
    signal(SIGXFSZ, saved_handler);
    CHECK(status == YL_ERR_IO, "a write past the file size limit fails with IO, got %s (%s)", yl_status_name(status),
          yl_last_error());
    expect_message(path);
    printf("  failed write: %s\n", yl_last_error());

    // A failing rename: the destination is a non-empty directory.
    const char *dir_path = temp_path("occupied");
    mkdir(dir_path, 0755);
    char inner[600];
    snprintf(inner, sizeof inner, "%s/keep", dir_path);
    write_bytes(inner, "x", 1);
    CHECK_STATUS(yl_checkpoint_save(new_model, NULL, dir_path), YL_ERR_IO);
    expect_message("renaming"), expect_message(dir_path);
    printf("  failed rename: %s\n", yl_last_error());

    // A directory that does not exist.
    const char *missing = temp_path("no/such/dir/model.safetensors");
    CHECK_STATUS(yl_checkpoint_save(new_model, NULL, missing), YL_ERR_IO);
    expect_message(missing);

    size_t size = 0;
    unsigned char *bytes = read_file(path, &size);
    CHECK(bytes && size == old_size && !memcmp(bytes, old_bytes, size), "the old checkpoint is intact");
    CHECK(leftover_temporaries() == 0, "no temporary file left after failures");
    yl_model *back = NULL;
    CHECK_OK(yl_checkpoint_load(path, eng, &back, NULL));
    CHECK(back && same_state(back, old_model), "the old checkpoint still loads as the old model");
    // And a successful save replaces it.
    CHECK_OK(yl_checkpoint_save(new_model, NULL, path));
    yl_model_destroy(back);
    back = NULL;
    CHECK_OK(yl_checkpoint_load(path, eng, &back, NULL));
    CHECK(back && same_state(back, new_model), "the new checkpoint replaced the old one");
    free(bytes), free(old_bytes);
    unlink(inner);
    rmdir(dir_path);
    yl_model_destroy(back);
    yl_model_destroy(old_model);
    yl_model_destroy(new_model);
}

static void test_writer_arguments(void) {
    float a[2] = {1, 2};
    int64_t shape[1] = {2};
    yl_named_tensor items[2] = {
        {.name = "a", .dtype = YL_F32, .ndim = 1, .shape = {2}, .data = a, .nbytes = 8},
        {.name = "a", .dtype = YL_F32, .ndim = 1, .shape = {2}, .data = a, .nbytes = 8},
    };
    (void)shape;
    yl_tensor_set set = {.items = items, .count = 2};
    const char *path = temp_path("writer.safetensors");
    CHECK_STATUS(yl_safetensors_write(path, &set, NULL, 0), YL_ERR_INVALID_ARG);  // duplicate name
    items[1].name = "b", items[1].nbytes = 4;
    CHECK_STATUS(yl_safetensors_write(path, &set, NULL, 0), YL_ERR_SHAPE);  // bytes disagree with the shape
    items[1].nbytes = 8, items[1].name = "__metadata__";
    CHECK_STATUS(yl_safetensors_write(path, &set, NULL, 0), YL_ERR_INVALID_ARG);
    items[1].name = "b";
    yl_metadata_item meta[2] = {{"k", "v"}, {"k", "w"}};
    CHECK_STATUS(yl_safetensors_write(path, &set, meta, 2), YL_ERR_INVALID_ARG);  // duplicate key
    CHECK_STATUS(yl_safetensors_write(NULL, &set, NULL, 0), YL_ERR_INVALID_ARG);
    CHECK(access(path, F_OK) != 0, "nothing written for bad arguments");
    // Mixed widths: every tensor on its element size, values readable.
    int64_t big[3] = {-1, 1LL << 40, 7};
    uint16_t half[3] = {0x3c00, 0xc000, 0x0001};
    unsigned char bytes[3] = {1, 2, 3};
    yl_named_tensor mixed[4] = {
        {.name = "u8", .dtype = YL_U8, .ndim = 1, .shape = {3}, .data = bytes, .nbytes = 3},
        {.name = "f16", .dtype = YL_F16, .ndim = 1, .shape = {3}, .data = half, .nbytes = 6},
        {.name = "f32", .dtype = YL_F32, .ndim = 2, .shape = {1, 2}, .data = a, .nbytes = 8},
        {.name = "i64", .dtype = YL_I64, .ndim = 1, .shape = {3}, .data = big, .nbytes = 24},
    };
    yl_tensor_set mixed_set = {.items = mixed, .count = 4};
    meta[1].key = "quote\"d";
    CHECK_OK(yl_safetensors_write(path, &mixed_set, meta, 2));
    yl_safetensors st;
    CHECK_OK(yl_safetensors_open(&st, path));
    float f[3];
    CHECK_OK(yl_safetensors_read_f32(&st, "f16", f, 3));
    CHECK(f[0] == 1.0f && f[1] == -2.0f && f[2] == ldexpf(1.0f, -24), "f16 values");
    const yl_safetensors_entry *e = yl_safetensors_find(&st, "i64");
    CHECK(e && e->offset == 0 && !memcmp(yl_safetensors_data(&st, e), big, 24), "i64 first and intact");
    CHECK(st.count == 4 && !strcmp(st.entries[0].name, "u8"), "header lists tensors in the given order");
    CHECK(yl_safetensors_metadata(&st, "quote\"d") && !strcmp(yl_safetensors_metadata(&st, "quote\"d"), "w"),
          "metadata key escaped");
    yl_safetensors_close(&st);
}

// ---- corrupt and lying files ------------------------------------------------------------------

// Rewrites `src` into `dst` with metadata item `key` set to `value` (NULL drops it) and, when
// drop_tensor is given, without that tensor.
static void rewrite(const char *src, const char *dst, const char *key, const char *value, const char *drop_tensor) {
    yl_safetensors st;
    CHECK_OK(yl_safetensors_open(&st, src));
    yl_tensor_set set = {0};
    CHECK_OK(yl_safetensors_as_tensor_set(&st, &set));
    if (drop_tensor)
        for (int i = 0; i < set.count; i++)
            if (!strcmp(set.items[i].name, drop_tensor)) set.items[i] = set.items[--set.count];
    yl_metadata_item meta[32];
    int n = 0;
    for (int i = 0; i < st.metadata_count && n < 31; i++) {
        if (key && !strcmp(st.metadata_keys[i], key)) continue;
        meta[n++] = (yl_metadata_item){st.metadata_keys[i], st.metadata_values[i]};
    }
    if (key && value) meta[n++] = (yl_metadata_item){key, value};
    CHECK_OK(yl_safetensors_write(dst, &set, meta, n));
    yl_safetensors_tensor_set_free(&set);
    yl_safetensors_close(&st);
}

static void expect_load_failure(yl_engine *eng, const char *path, yl_status expected, const char *needle) {
    yl_model *m = NULL;
    CHECK_STATUS(yl_checkpoint_load(path, eng, &m, NULL), expected);
    CHECK(m == NULL, "no model from a failed load");
    if (needle) expect_message(needle);
    printf("  refused: %s\n", yl_last_error());
}

static void test_corrupt_files(yl_engine *eng) {
    yl_model *m = tiny_model(eng, 3, 31);
    if (!m) return;
    const char *good = temp_path("good.safetensors"), *bad = temp_path("lying.safetensors");
    CHECK_OK(yl_checkpoint_save(m, &SAMPLE_INFO, good));

    // Not a yoloop checkpoint: a plain state_dict, a .pt-like zip, nothing at all.
    expect_load_failure(eng, YL_TEST_FIXTURES "/model_tiny_state.safetensors", YL_ERR_FORMAT, "not a yoloop checkpoint");
    write_bytes(bad, "PK\x03\x04 not a safetensors file", 26);
    expect_load_failure(eng, bad, YL_ERR_FORMAT, bad);
    expect_load_failure(eng, temp_path("absent.safetensors"), YL_ERR_IO, "absent.safetensors");

    // Truncated data, and a header length that runs past the end.
    size_t size = 0;
    unsigned char *bytes = read_file(good, &size);
    write_bytes(bad, bytes, size / 2);
    expect_load_failure(eng, bad, YL_ERR_FORMAT, bad);
    bytes[5] = 0x7f;
    write_bytes(bad, bytes, size);
    expect_load_failure(eng, bad, YL_ERR_FORMAT, "header length");
    free(bytes);

    // Metadata that lies about the tensors, or is malformed.
    rewrite(good, bad, "nc", "5", NULL);
    expect_load_failure(eng, bad, YL_ERR_FORMAT, "names");  // 3 names for nc=5
    rewrite(good, bad, "names", "[\"a\",\"b\",\"c\",\"d\",\"e\"]", NULL);
    rewrite(bad, temp_path("lying2.safetensors"), "nc", "5", NULL);
    expect_load_failure(eng, temp_path("lying2.safetensors"), YL_ERR_SHAPE, "model.22.cv3.0.2.weight");
    rewrite(good, bad, "width", "0.0625", NULL);  // layer 3 has 16 channels at this width, not 8
    expect_load_failure(eng, bad, YL_ERR_SHAPE, "model.3.conv.weight");
    rewrite(good, bad, "scale", "n", NULL);
    expect_load_failure(eng, bad, YL_ERR_FORMAT, "scale 'n'");
    rewrite(good, bad, "format_version", "2", NULL);
    expect_load_failure(eng, bad, YL_ERR_UNSUPPORTED, "format version 2");
    rewrite(good, bad, "format", NULL, NULL);
    expect_load_failure(eng, bad, YL_ERR_FORMAT, "not a yoloop checkpoint");
    rewrite(good, bad, "depth", "zero", NULL);
    expect_load_failure(eng, bad, YL_ERR_FORMAT, "depth");
    rewrite(good, bad, "nc", "-1", NULL);
    expect_load_failure(eng, bad, YL_ERR_FORMAT, "nc");
    rewrite(good, bad, "imgsz", NULL, NULL);
    expect_load_failure(eng, bad, YL_ERR_FORMAT, "imgsz");
    rewrite(good, bad, "train_args", "{\"epochs\":", NULL);
    expect_load_failure(eng, bad, YL_ERR_FORMAT, "train_args");
    rewrite(good, bad, "names", "{\"0\":\"cat\"}", NULL);
    expect_load_failure(eng, bad, YL_ERR_FORMAT, "names");
    rewrite(good, bad, NULL, NULL, "model.9.cv2.bn.running_var");
    expect_load_failure(eng, bad, YL_ERR_FORMAT, "model.9.cv2.bn.running_var");
    CHECK_STATUS(yl_checkpoint_read_info(YL_TEST_FIXTURES "/model_tiny_state.safetensors", &(yl_checkpoint_info){0}),
                 YL_ERR_FORMAT);
    yl_model_destroy(m);
}

// ---- transfer ---------------------------------------------------------------------------------

static yl_model *named_model(yl_engine *eng, const char *scale, int nc, uint64_t seed) {
    yl_model_config cfg;
    yl_model *m = NULL;
    CHECK_OK(yl_model_config_from_scale(&cfg, scale, nc));
    CHECK_OK(yl_model_create(&m, eng, &cfg, seed));
    return m;
}

static void test_transfer(yl_engine *eng) {
    yl_model *coco = named_model(eng, "n", 80, 1), *fresh = named_model(eng, "n", 3, 2);
    if (!coco || !fresh) return;
    const char *path = temp_path("yolov8n_coco.safetensors");
    CHECK_OK(yl_checkpoint_save(coco, NULL, path));
    yl_checkpoint_info info;
    CHECK_OK(yl_checkpoint_read_info(path, &info));
    CHECK(info.config.scale == 'n' && info.config.nc == 80, "yolov8n nc=80 metadata");
    yl_checkpoint_info_free(&info);

    float cls_before = ((float *)yl_model_state_find(fresh, "model.22.cv3.0.0.conv.weight")->value.data)[0];
    yl_transfer_report r;
    char line[96];
    CHECK_OK(yl_checkpoint_transfer(fresh, path, &r));
    printf("  yolov8n nc=80 -> nc=3: %s (%d reshaped, %d missing, %d unexpected)\n",
           yl_transfer_report_format(&r, line, sizeof line), r.skipped_shape, r.missing, r.unexpected);
    CHECK(r.transferred == 319 && r.total == 355, "yolov8n nc=80 -> nc=3 transfers %d/%d, expected 319/355",
          r.transferred, r.total);
    CHECK(!strcmp(line, "Transferred 319/355 items from pretrained weights"), "line '%s'", line);
    const yl_state_entry *a = yl_model_state_find(coco, "model.21.m.0.cv2.conv.weight");
    const yl_state_entry *b = yl_model_state_find(fresh, "model.21.m.0.cv2.conv.weight");
    CHECK(!memcmp(a->value.data, b->value.data, yl_tensor_nbytes(&a->value)), "a backbone weight is transferred");
    CHECK(((float *)yl_model_state_find(fresh, "model.22.cv3.0.0.conv.weight")->value.data)[0] == cls_before,
          "the class branch keeps its fresh init");

    yl_model *same = named_model(eng, "n", 80, 3);
    CHECK_OK(yl_checkpoint_transfer(same, path, &r));
    CHECK(r.transferred == 355 && r.total == 355, "nc=80 -> nc=80 transfers %d/%d", r.transferred, r.total);
    CHECK(same && same_state(same, coco), "a full transfer reproduces the model");
    yl_model_destroy(same);
    yl_model_destroy(coco);
    yl_model_destroy(fresh);

    // yolov8s: c3 does not depend on nc, only the three final class convs differ (in memory).
    yl_model *s80 = named_model(eng, "s", 80, 4), *s3 = named_model(eng, "s", 3, 5);
    if (s80 && s3) {
        int count = yl_model_state_count(s80);
        yl_named_tensor *items = calloc((size_t)count, sizeof *items);
        for (int i = 0; i < count; i++) {
            yl_state_entry *e = yl_model_state_at(s80, i);
            items[i] = (yl_named_tensor){.name = e->name, .dtype = e->value.dtype, .ndim = e->value.ndim,
                                         .data = e->value.data, .nbytes = yl_tensor_nbytes(&e->value)};
            for (int d = 0; d < e->value.ndim; d++) items[i].shape[d] = e->value.shape[d];
        }
        yl_tensor_set set = {.items = items, .count = count};
        CHECK_OK(yl_model_load_tensor_set(s3, &set, YL_LOAD_TRANSFER, &r));
        printf("  yolov8s nc=80 -> nc=3: %s\n", yl_transfer_report_format(&r, line, sizeof line));
        CHECK(r.transferred == 349 && r.total == 355 && r.skipped_shape == 6, "yolov8s transfers %d/%d",
              r.transferred, r.total);
        free(items);
    }
    yl_model_destroy(s80);
    yl_model_destroy(s3);
}

static void remove_test_dir(void) {
    DIR *dir = opendir(test_dir);
    for (struct dirent *e; dir && (e = readdir(dir));) {
        if (e->d_name[0] == '.') continue;
        unlink(temp_path(e->d_name));
    }
    if (dir) closedir(dir);
    rmdir(test_dir);
}

int main(void) {
    if (!mkdtemp(test_dir)) {
        fprintf(stderr, "test: cannot create a temporary directory\n");
        return 2;
    }
    yl_engine eng = yl_test_cpu_engine();
    test_round_trip(&eng);
    test_atomic_write(&eng);
    test_writer_arguments();
    test_corrupt_files(&eng);
    test_transfer(&eng);
    yl_engine_release(&eng);
    remove_test_dir();
    return yl_test_finish("test_checkpoint");
}
