// safetensors reader: a valid file with every dtype, then corrupt variants that must each fail
// with YL_ERR_FORMAT / YL_ERR_IO and a message naming the file, never crash.
#include <stdint.h>
#include <unistd.h>

#include "tests/test_common.h"
#include "weights/safetensors.h"

static char test_dir[] = "/tmp/yl_safetensors_XXXXXX";

static char written[64][256];  // removed at the end
static int written_count = 0;

static const char *temp_path(const char *name) {
    static char path[256];
    snprintf(path, sizeof path, "%s/%s", test_dir, name);
    return path;
}

static FILE *create_temp(const char *path) {
    FILE *f = fopen(path, "wb");
    if (!f || written_count == 64) {
        fprintf(stderr, "test: cannot write %s\n", path);
        exit(2);
    }
    snprintf(written[written_count++], sizeof written[0], "%s", path);
    return f;
}

// Writes an 8-byte length (`claimed_len`, or the real length when negative), the header text,
// and `data`. Returns the path.
static const char *write_file(const char *name, const char *header, long long claimed_len, const void *data,
                              size_t data_size) {
    const char *path = temp_path(name);
    FILE *f = create_temp(path);
    uint64_t len = claimed_len >= 0 ? (uint64_t)claimed_len : strlen(header);
    unsigned char le[8];
    for (int i = 0; i < 8; i++) le[i] = (unsigned char)(len >> (8 * i));
    fwrite(le, 1, 8, f);
    fwrite(header, 1, strlen(header), f);
    if (data_size) fwrite(data, 1, data_size, f);
    fclose(f);
    return path;
}

// A header padded with spaces to a multiple of 8 so the data section starts aligned.
static const char *padded(const char *json) {
    static char buf[4096];
    size_t n = strlen(json);
    memcpy(buf, json, n);
    while (n % 8) buf[n++] = ' ';
    buf[n] = '\0';
    return buf;
}

static void test_valid_file(void) {
    // Data section: f32[2,3] at 0, i64[2] at 24, i32[3] at 40, f16[4] at 52, bf16[2] at 60, u8[5] at 64,
    // scalar f32 at 72 (shape []), empty f32[0,3] at 76.
    unsigned char data[76];
    float f32[6] = {1.5f, -2.0f, 0.25f, 3e10f, -0.0f, 7.0f};
    int64_t i64[2] = {-5, 1LL << 40};
    int32_t i32[3] = {-7, 0, 123456};
    uint16_t f16[4] = {0x3c00, 0xc000, 0x0001, 0x7bff};  // 1, -2, smallest subnormal 2^-24, 65504
    uint16_t bf16[2] = {0x3f80, 0xc0a0};                  // 1, -5
    unsigned char u8[5] = {0, 1, 2, 254, 255};
    float scalar = 42.0f;
    memcpy(data, f32, 24);
    memcpy(data + 24, i64, 16);
    memcpy(data + 40, i32, 12);
    memcpy(data + 52, f16, 8);
    memcpy(data + 60, bf16, 4);
    memcpy(data + 64, u8, 5);
    memset(data + 69, 0, 3);
    memcpy(data + 72, &scalar, 4);
    const char *header = padded(
        "{\"w\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]},"
        "\"i64\":{\"dtype\":\"I64\",\"shape\":[2],\"data_offsets\":[24,40]},"
        "\"i32\":{\"dtype\":\"I32\",\"shape\":[3],\"data_offsets\":[40,52]},"
        "\"h\":{\"dtype\":\"F16\",\"shape\":[4],\"data_offsets\":[52,60]},"
        "\"b\":{\"dtype\":\"BF16\",\"shape\":[2],\"data_offsets\":[60,64]},"
        "\"u\":{\"dtype\":\"U8\",\"shape\":[5],\"data_offsets\":[64,69]},"
        "\"s\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[72,76]},"
        "\"e\":{\"dtype\":\"F32\",\"shape\":[0,3],\"data_offsets\":[76,76]},"
        "\"__metadata__\":{\"format\":\"pt\",\"note\":\"x\"}}");
    const char *path = write_file("valid.safetensors", header, -1, data, sizeof data);

    yl_safetensors st;
    CHECK_OK(yl_safetensors_open(&st, path));
    CHECK(st.count == 8, "count %d", st.count);
    CHECK(st.data_start == 8 + strlen(header), "data_start %zu", st.data_start);
    CHECK(strcmp(st.entries[0].name, "w") == 0 && strcmp(st.entries[7].name, "e") == 0, "header order kept");
    const yl_safetensors_entry *w = yl_safetensors_find(&st, "w");
    CHECK(w && w->dtype == YL_F32 && w->ndim == 2 && w->shape[0] == 2 && w->shape[1] == 3 && w->nbytes == 24,
          "entry w");
    CHECK(w && memcmp(yl_safetensors_data(&st, w), f32, 24) == 0, "raw data of w");
    CHECK(yl_safetensors_find(&st, "missing") == NULL, "absent name");
    CHECK(yl_safetensors_metadata(&st, "format") && strcmp(yl_safetensors_metadata(&st, "format"), "pt") == 0,
          "metadata");
    CHECK(yl_safetensors_metadata(&st, "nothing") == NULL, "absent metadata");
    const yl_safetensors_entry *s = yl_safetensors_find(&st, "s");
    CHECK(s && s->ndim == 0 && s->nbytes == 4, "scalar entry");

    float out[6];
    CHECK_OK(yl_safetensors_read_f32(&st, "w", out, 6));
    CHECK(memcmp(out, f32, sizeof f32) == 0, "f32 values");
    CHECK_OK(yl_safetensors_read_f32(&st, "i64", out, 2));
    CHECK(out[0] == -5.0f && out[1] == 1099511627776.0f, "i64 -> f32: %g %g", out[0], out[1]);
    CHECK_OK(yl_safetensors_read_f32(&st, "i32", out, 3));
    CHECK(out[0] == -7.0f && out[1] == 0.0f && out[2] == 123456.0f, "i32 -> f32");
    CHECK_OK(yl_safetensors_read_f32(&st, "h", out, 4));
    CHECK(out[0] == 1.0f && out[1] == -2.0f && out[2] == ldexpf(1.0f, -24) && out[3] == 65504.0f,
          "f16 -> f32: %g %g %g %g", out[0], out[1], out[2], out[3]);
    CHECK_OK(yl_safetensors_read_f32(&st, "b", out, 2));
    CHECK(out[0] == 1.0f && out[1] == -5.0f, "bf16 -> f32");
    CHECK_OK(yl_safetensors_read_f32(&st, "u", out, 5));
    CHECK(out[0] == 0.0f && out[3] == 254.0f && out[4] == 255.0f, "u8 -> f32");
    CHECK_OK(yl_safetensors_read_f32(&st, "s", out, 1));
    CHECK(out[0] == 42.0f, "scalar");
    CHECK_OK(yl_safetensors_read_f32(&st, "e", out, 0));

    CHECK_STATUS(yl_safetensors_read_f32(&st, "w", out, 5), YL_ERR_FORMAT);
    CHECK(strstr(yl_last_error(), "valid.safetensors") && strstr(yl_last_error(), "'w'"), "message: %s",
          yl_last_error());
    CHECK_STATUS(yl_safetensors_read_f32(&st, "missing", out, 1), YL_ERR_FORMAT);
    CHECK_STATUS(yl_safetensors_read_f32(&st, NULL, out, 1), YL_ERR_INVALID_ARG);
    yl_safetensors_close(&st);
    CHECK(st.file == NULL && st.count == 0, "close resets the handle");
    yl_safetensors_close(&st);  // twice is harmless
}

// A corrupt file must fail with `expected`, a message naming the file and containing `needle`,
// and leave a closed handle.
static void expect_failure(const char *name, const char *header, long long claimed_len, size_t data_size,
                           yl_status expected, const char *needle) {
    static unsigned char zeros[256];
    const char *path = write_file(name, header, claimed_len, zeros, data_size);
    yl_safetensors st;
    CHECK_STATUS(yl_safetensors_open(&st, path), expected);
    CHECK(strstr(yl_last_error(), name) != NULL, "%s: message does not name the file: %s", name, yl_last_error());
    CHECK(strstr(yl_last_error(), needle) != NULL, "%s: message lacks '%s': %s", name, needle, yl_last_error());
    CHECK(st.file == NULL && st.entries == NULL, "%s: handle not reset", name);
    printf("  %-24s -> %s\n", name, yl_last_error());
}

#define ENTRY(dtype, shape, b, e) "{\"dtype\":\"" dtype "\",\"shape\":" shape ",\"data_offsets\":[" #b "," #e "]}"

static void test_corrupt_files(void) {
    char ok[128];  // padded() reuses its buffer
    snprintf(ok, sizeof ok, "%s", padded("{\"a\":" ENTRY("F32", "[2]", 0, 8) "}"));
    // Truncated: shorter than the length field.
    {
        const char *path = temp_path("tiny.safetensors");
        FILE *f = create_temp(path);
        fwrite("\x10\x00\x00", 1, 3, f);
        fclose(f);
        yl_safetensors st;
        CHECK_STATUS(yl_safetensors_open(&st, path), YL_ERR_FORMAT);
        CHECK(strstr(yl_last_error(), "tiny.safetensors") && strstr(yl_last_error(), "too short"), "%s",
              yl_last_error());
    }
    expect_failure("len_past_eof.st", ok, 1000, 8, YL_ERR_FORMAT, "past the end");
    expect_failure("len_huge.st", ok, (long long)(1ULL << 62), 8, YL_ERR_FORMAT, "past the end");
    // The header is cut mid-JSON (its length field says so honestly).
    expect_failure("truncated_header.st", "{\"a\":{\"dtype\":\"F32\",\"sha", -1, 8, YL_ERR_FORMAT, "not valid JSON");
    expect_failure("not_json.st", "this is not json", -1, 8, YL_ERR_FORMAT, "not valid JSON");
    expect_failure("json_array.st", padded("[1,2,3]"), -1, 8, YL_ERR_FORMAT, "not a JSON object");
    expect_failure("trailing.st", "{\"a\":" ENTRY("F32", "[2]", 0, 8) "}xx", -1, 8, YL_ERR_FORMAT, "trailing");
    expect_failure("data_truncated.st", ok, -1, 4, YL_ERR_FORMAT, "outside the data section");
    expect_failure("offsets_past.st", padded("{\"a\":" ENTRY("F32", "[2]", 8, 16) "}"), -1, 8, YL_ERR_FORMAT,
                   "outside the data section");
    expect_failure("offsets_reversed.st", padded("{\"a\":" ENTRY("F32", "[0]", 8, 0) "}"), -1, 8, YL_ERR_FORMAT,
                   "outside the data section");
    expect_failure("offsets_negative.st", padded("{\"a\":" ENTRY("F32", "[2]", -8, 0) "}"), -1, 8, YL_ERR_FORMAT,
                   "data_offsets");
    expect_failure("offsets_missing.st", padded("{\"a\":{\"dtype\":\"F32\",\"shape\":[2]}}"), -1, 8, YL_ERR_FORMAT,
                   "data_offsets");
    expect_failure("shape_mismatch.st", padded("{\"a\":" ENTRY("F32", "[3]", 0, 8) "}"), -1, 16, YL_ERR_FORMAT,
                   "need 12");
    expect_failure("shape_negative.st", padded("{\"a\":" ENTRY("F32", "[-2]", 0, 8) "}"), -1, 8, YL_ERR_FORMAT,
                   "shape[0]");
    expect_failure("shape_fraction.st", padded("{\"a\":" ENTRY("F32", "[2.5]", 0, 8) "}"), -1, 8, YL_ERR_FORMAT,
                   "shape[0]");
    expect_failure("shape_9dims.st", padded("{\"a\":" ENTRY("F32", "[1,1,1,1,1,1,1,1,2]", 0, 8) "}"), -1, 8,
                   YL_ERR_FORMAT, "9 dims");
    expect_failure("shape_huge.st", padded("{\"a\":" ENTRY("F32", "[4294967296,4294967296]", 0, 8) "}"), -1, 8,
                   YL_ERR_FORMAT, "need");
    expect_failure("dtype_unknown.st", padded("{\"a\":" ENTRY("Q7", "[2]", 0, 8) "}"), -1, 8, YL_ERR_FORMAT,
                   "unsupported dtype 'Q7'");
    expect_failure("dtype_missing.st", padded("{\"a\":{\"shape\":[2],\"data_offsets\":[0,8]}}"), -1, 8,
                   YL_ERR_FORMAT, "no dtype");
    expect_failure("entry_not_object.st", padded("{\"a\":5}"), -1, 8, YL_ERR_FORMAT, "not an object");
    expect_failure("overlap.st",
                   padded("{\"a\":" ENTRY("F32", "[2]", 0, 8) ",\"b\":" ENTRY("F32", "[2]", 4, 12) "}"), -1, 16,
                   YL_ERR_FORMAT, "overlap");
    expect_failure("duplicate.st",
                   padded("{\"a\":" ENTRY("F32", "[1]", 0, 4) ",\"a\":" ENTRY("F32", "[1]", 4, 8) "}"), -1, 8,
                   YL_ERR_FORMAT, "appears twice");
    expect_failure("unaligned.st", padded("{\"a\":" ENTRY("U8", "[1]", 0, 1) ",\"b\":" ENTRY("F32", "[1]", 1, 5) "}"),
                   -1, 8, YL_ERR_FORMAT, "not aligned");
    expect_failure("meta_not_string.st", padded("{\"__metadata__\":{\"k\":3}}"), -1, 0, YL_ERR_FORMAT,
                   "not a string");
    expect_failure("meta_not_object.st", padded("{\"__metadata__\":[]}"), -1, 0, YL_ERR_FORMAT, "not an object");

    yl_safetensors st;
    CHECK_STATUS(yl_safetensors_open(&st, temp_path("does_not_exist.st")), YL_ERR_IO);
    CHECK(strstr(yl_last_error(), "does_not_exist.st") != NULL, "%s", yl_last_error());
    CHECK_STATUS(yl_safetensors_open(&st, test_dir), YL_ERR_IO);  // a directory cannot be read as a file
    CHECK_STATUS(yl_safetensors_open(NULL, "x"), YL_ERR_INVALID_ARG);
    CHECK_STATUS(yl_safetensors_open(&st, NULL), YL_ERR_INVALID_ARG);

    // An empty header object and no data is a valid (empty) file.
    const char *path = write_file("empty.st", "{}      ", -1, NULL, 0);
    CHECK_OK(yl_safetensors_open(&st, path));
    CHECK(st.count == 0 && st.metadata_count == 0, "empty file");
    yl_safetensors_close(&st);
}

// The committed fixtures written by tools/reference/ must open.
static void test_committed_fixtures(void) {
    const char *names[] = {"eval_nms.safetensors", "eval_ap.safetensors", "loss_square.safetensors"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char path[512];
        snprintf(path, sizeof path, "%s/%s", YL_TEST_FIXTURES, names[i]);
        if (access(path, R_OK) != 0) {
            printf("  (fixture %s absent)\n", names[i]);
            continue;
        }
        yl_safetensors st;
        CHECK_OK(yl_safetensors_open(&st, path));
        printf("  %-24s %d tensors, %d metadata\n", names[i], st.count, st.metadata_count);
        yl_safetensors_close(&st);
    }
}

// Every truncation of a valid file, and random byte changes in its header, must give YL_OK or
// YL_ERR_FORMAT with a message, never a crash (run under -DYOLOOP_SANITIZE=ON to catch overreads).
static void test_mutations(void) {
    float data[4] = {1, 2, 3, 4};
    char header[256];
    snprintf(header, sizeof header, "%s",
             padded("{\"a\":" ENTRY("F32", "[2]", 0, 8) ",\"b\":" ENTRY("F16", "[2,2]", 8, 16)
                    ",\"__metadata__\":{\"k\":\"v\"}}"));
    size_t header_len = strlen(header), total = 8 + header_len + sizeof data;
    unsigned char *file = malloc(total);
    for (int i = 0; i < 8; i++) file[i] = (unsigned char)((uint64_t)header_len >> (8 * i));
    memcpy(file + 8, header, header_len);
    memcpy(file + 8 + header_len, data, sizeof data);
    const char *path = temp_path("mutated.st");
    FILE *f = create_temp(path);
    fclose(f);
    yl_rng rng;
    yl_rng_seed(&rng, 7, 1);
    int ok = 0, format = 0, other = 0;
    for (int trial = 0; trial < (int)total + 400; trial++) {
        unsigned char *copy = malloc(total);
        memcpy(copy, file, total);
        size_t size = total;
        if (trial < (int)total) {
            size = (size_t)trial;  // every truncation
        } else {
            for (int k = 0; k <= trial % 3; k++) {  // one to three random bytes in the length or header
                size_t at = yl_rng_below(&rng, (uint32_t)(8 + header_len));
                copy[at] = (unsigned char)yl_rng_u32(&rng);
            }
        }
        f = fopen(path, "wb");
        fwrite(copy, 1, size, f);
        fclose(f);
        free(copy);
        yl_safetensors st;
        yl_clear_error();
        yl_status status = yl_safetensors_open(&st, path);
        if (status == YL_OK) {
            ok++;
            float out[4];
            for (int i = 0; i < st.count; i++) {
                size_t n = st.entries[i].nbytes / yl_dtype_size(st.entries[i].dtype);
                if (n <= 4) yl_safetensors_read_f32(&st, st.entries[i].name, out, n);
            }
            yl_safetensors_close(&st);
        } else if (status == YL_ERR_FORMAT && yl_last_error()[0]) {
            format++;
        } else {
            other++;
        }
    }
    printf("  mutations: %d opened, %d format errors, %d other\n", ok, format, other);
    CHECK(other == 0, "%d mutated files gave neither OK nor FORMAT", other);
    CHECK(format > 0, "no mutated file was refused");
    free(file);
}

static void remove_test_dir(void) {
    for (int i = 0; i < written_count; i++) unlink(written[i]);
    if (rmdir(test_dir) != 0) fprintf(stderr, "test: could not remove %s\n", test_dir);
}

int main(void) {
    if (!mkdtemp(test_dir)) {
        fprintf(stderr, "test: mkdtemp failed\n");
        return 2;
    }
    test_valid_file();
    test_corrupt_files();
    test_committed_fixtures();
    test_mutations();
    remove_test_dir();
    return yl_test_finish("test_safetensors");
}
