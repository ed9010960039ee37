// Bad input to the .pt reader: every case must end in the right yl_status with a message that
// names the file (or pickle) and the problem, never a crash, and never run pickled code.
//  - ZIP: truncated at many points, corrupted storage bytes (CRC), corrupted directory, garbage,
//    empty, missing data.pkl, two data.pkl, a huge claimed size, a deflate bomb, bad version
//    and byteorder records, a missing file;
//  - pickle: unknown and unsupported opcodes, globals outside the allow-list (posix.system from
//    a real torch.save, os.system, builtins.eval via STACK_GLOBAL), memo index out of range,
//    stack underflow (empty, across a MARK), truncated input, oversized ints;
//  - tensors: storage key missing, storage shorter than it claims, tensor past its storage,
//    non-contiguous strides, float64 storages; and NULL arguments.
#include <sys/stat.h>

#include "test_common.h"
#include "weights/pickle.h"
#include "weights/pt_checkpoint.h"
#include "weights/pt_zip.h"
#include "pt_test_util.h"

#define PT_DIR YL_TEST_FIXTURES "/pt"
#define LIT(s) s, sizeof(s) - 1  // a byte-string literal and its length (it may hold NULs)

// A load that must fail with `expected` and a message containing `needle` (and no state left).
static void expect_load_error(const char *path, yl_status expected, const char *needle, const char *label) {
    yl_pt_checkpoint ck;
    yl_clear_error();
    yl_status s = yl_pt_checkpoint_load(&ck, path);
    const char *msg = yl_last_error();
    CHECK(s == expected && strstr(msg, needle) != NULL, "%s: got %s '%s', expected %s with '%s'", label,
          yl_status_name(s), msg, yl_status_name(expected), needle);
    CHECK(ck.tensors.count == 0 && ck.tensors.items == NULL && ck.storages == NULL, "%s: failed load left state",
          label);
    yl_pt_checkpoint_free(&ck);
}

static void expect_pickle_error(const void *data, size_t size, const char *needle, const char *label) {
    yl_pickle *p = NULL;
    yl_clear_error();
    yl_status s = yl_pickle_load(&p, data, size, label);
    const char *msg = yl_last_error();
    CHECK(s == YL_ERR_FORMAT && p == NULL && strstr(msg, needle) != NULL && strstr(msg, label) != NULL,
          "%s: got %s '%s', expected a format error with '%s'", label, yl_status_name(s), msg, needle);
    yl_pickle_free(p);
}

static unsigned le16(const unsigned char *p) { return (unsigned)p[0] | (unsigned)p[1] << 8; }

// Byte 100 of record best/data/0 (model.0.conv.weight, 432 bytes), found from its local header.
// torch writes sizes in a data descriptor (local header sizes are 0) and pads the extra field
// so that data starts on 64 bytes; that padding is not covered by the CRC, the data is.
static size_t storage_data_offset(const unsigned char *zip, size_t size) {
    for (size_t k = 0; k + 30 + 11 <= size; k++) {
        if (memcmp(zip + k, "PK\x03\x04", 4) != 0) continue;
        unsigned name_len = le16(zip + k + 26), extra_len = le16(zip + k + 28);
        if (name_len != 11 || memcmp(zip + k + 30, "best/data/0", 11) != 0) continue;
        size_t data = k + 30 + name_len + extra_len;
        return data + 100 < size ? data + 100 : 0;
    }
    return 0;
}

static void test_zip_damage(void) {
    size_t size;
    unsigned char *good = pt_read_file(PT_DIR "/tiny_best.pt", &size);
    char path[256];
    pt_tmp_path(path, sizeof path, "damaged.pt");

    // Truncation anywhere: lost central directory, cut EOCD, cut inside a record.
    const size_t cuts[] = {0, 1, 22, 100, 4096, size / 3, size / 2, size - 200, size - 23, size - 1};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        pt_write_file(path, good, cuts[i]);
        char label[64];
        snprintf(label, sizeof label, "truncated at %zu", cuts[i]);
        expect_load_error(path, YL_ERR_FORMAT, path, label);
    }

    // A flipped byte inside a stored storage record: the directory is fine, the CRC is not.
    unsigned char *bad = malloc(size);
    memcpy(bad, good, size);
    size_t pos = storage_data_offset(good, size);
    CHECK(pos > 0, "found a storage record to damage");
    bad[pos] ^= 0x5A;
    pt_write_file(path, bad, size);
    expect_load_error(path, YL_ERR_FORMAT, "damaged", "flipped storage byte");

    // Garbage in the central directory (the last ~40 KB hold the 361 directory entries).
    memcpy(bad, good, size);
    for (size_t k = size - 30000; k < size - 29000; k++) bad[k] = (unsigned char)(k * 7);
    pt_write_file(path, bad, size);
    expect_load_error(path, YL_ERR_FORMAT, path, "corrupt central directory");

    for (size_t k = 0; k < size; k++) bad[k] = (unsigned char)(k * 131 + 17);  // not a ZIP at all
    pt_write_file(path, bad, 5000);
    expect_load_error(path, YL_ERR_FORMAT, "not a readable ZIP", "garbage");

    // The same through the in-memory opener.
    yl_pt_zip *z = NULL;
    CHECK_STATUS(yl_pt_zip_open_memory(&z, good, size / 2, "half.pt"), YL_ERR_FORMAT);
    CHECK(z == NULL, "no archive on failure");
    CHECK_OK(yl_pt_zip_open_memory(&z, good, size, "whole.pt"));
    CHECK(z && strcmp(yl_pt_zip_prefix(z), "best") == 0 && yl_pt_zip_version(z) == 3, "prefix best, version 3");
    unsigned char *rec = NULL;
    size_t n = 0;
    CHECK_STATUS(yl_pt_zip_read(z, "data/99999", &rec, &n), YL_ERR_FORMAT);
    CHECK(strstr(yl_last_error(), "best/data/99999") != NULL, "missing record named: %s", yl_last_error());
    yl_pt_zip_close(z);

    free(bad);
    free(good);
    remove(path);
    expect_load_error("/nonexistent/dir/model.pt", YL_ERR_IO, "/nonexistent/dir/model.pt", "missing file");
    expect_load_error("/tmp", YL_ERR_IO, "not a regular file", "directory");
}

static void test_zip_layout(void) {
    char path[256];
    pt_tmp_path(path, sizeof path, "layout.pt");
    pt_pickle_text pk;
    int size[1] = {4}, stride[1] = {1};
    pk_checkpoint(&pk, "FloatStorage", "0", 4, 0, 1, size, stride);
    float four[4] = {1, 2, 3, 4};

    pt_zip_record only_version[] = {{"x/version", "3\n", 2, 0}};
    pt_write_zip(path, only_version, 1);
    expect_load_error(path, YL_ERR_FORMAT, "no '<name>/data.pkl'", "missing data.pkl");

    pt_zip_record nested[] = {{"x/y/data.pkl", pk.bytes, pk.n, 0}};
    pt_write_zip(path, nested, 1);
    expect_load_error(path, YL_ERR_FORMAT, "no '<name>/data.pkl'", "data.pkl below the top folder");

    pt_zip_record two[] = {{"a/data.pkl", pk.bytes, pk.n, 0}, {"b/data.pkl", pk.bytes, pk.n, 0}};
    pt_write_zip(path, two, 2);
    expect_load_error(path, YL_ERR_FORMAT, "two pickles", "two data.pkl");

    pt_zip_record bad_version[] = {{"x/data.pkl", pk.bytes, pk.n, 0}, {"x/version", "99\n", 3, 0}};
    pt_write_zip(path, bad_version, 2);
    expect_load_error(path, YL_ERR_FORMAT, "version", "version 99");

    pt_zip_record big_endian[] = {{"x/data.pkl", pk.bytes, pk.n, 0}, {"x/byteorder", "big", 3, 0}};
    pt_write_zip(path, big_endian, 2);
    expect_load_error(path, YL_ERR_UNSUPPORTED, "byte order", "big-endian");

    // A valid minimal checkpoint, deflated records included (someone re-zipped it).
    pt_zip_record ok[] = {{"x/data.pkl", pk.bytes, pk.n, 1}, {"x/data/0", four, sizeof four, 1},
                          {"x/byteorder", "little", 6, 0}, {"x/version", "3\n", 2, 0}};
    pt_write_zip(path, ok, 4);
    yl_pt_checkpoint ck;
    CHECK_OK(yl_pt_checkpoint_load(&ck, path));
    const yl_named_tensor *w = yl_pt_checkpoint_find(&ck, "w");
    CHECK(w && w->dtype == YL_F32 && w->ndim == 1 && w->shape[0] == 4 && !memcmp(w->data, four, 16),
          "crafted tensor w");
    CHECK(ck.names_count == 1 && strcmp(ck.names[0], "a") == 0 && strcmp(ck.source, "model") == 0, "crafted metadata");
    yl_pt_checkpoint_free(&ck);

    // Zip bomb: 8 MiB of zeros deflate to ~8 KB; the archive may not expand past 16x + 1 MiB.
    size_t bomb_size = (size_t)8 << 20;
    unsigned char *zeros = calloc(bomb_size, 1);
    pt_zip_record bomb[] = {{"x/data.pkl", pk.bytes, pk.n, 0}, {"x/data/0", zeros, bomb_size, 1}};
    pt_write_zip(path, bomb, 2);
    expect_load_error(path, YL_ERR_FORMAT, "zip bomb", "deflate bomb");
    free(zeros);

    // A record whose directory entry claims ~4 GiB: refused before any allocation.
    pt_write_zip(path, ok, 2);
    size_t zsize;
    unsigned char *zip = pt_read_file(path, &zsize);
    for (size_t k = 0; k + 46 <= zsize; k++) {  // patch every central directory entry's sizes
        if (memcmp(zip + k, "PK\x01\x02", 4) == 0) memcpy(zip + k + 20, "\xf0\xff\xff\xff\xf0\xff\xff\xff", 8);
    }
    pt_write_file(path, zip, zsize);
    expect_load_error(path, YL_ERR_FORMAT, path, "absurd record size");
    free(zip);
    remove(path);
}

static void test_tensor_errors(void) {
    char path[256];
    pt_tmp_path(path, sizeof path, "tensor.pt");
    pt_pickle_text pk;
    float eight[8] = {0};
    int size1[1] = {4}, stride1[1] = {1}, size2[2] = {2, 2}, good2[2] = {2, 1}, transposed[2] = {1, 2},
        size3[2] = {3, 2};

    pk_checkpoint(&pk, "FloatStorage", "7", 4, 0, 1, size1, stride1);  // data/7 absent
    pt_zip_record missing[] = {{"x/data.pkl", pk.bytes, pk.n, 0}, {"x/data/0", eight, 16, 0}};
    pt_write_zip(path, missing, 2);
    expect_load_error(path, YL_ERR_FORMAT, "record 'x/data/7' is missing", "storage key missing");
    expect_load_error(path, YL_ERR_FORMAT, "tensor 'w'", "storage key missing names the tensor");

    pk_checkpoint(&pk, "FloatStorage", "0", 4, 0, 1, size1, stride1);  // claims 4 floats, holds 8 bytes
    pt_zip_record short_storage[] = {{"x/data.pkl", pk.bytes, pk.n, 0}, {"x/data/0", eight, 8, 0}};
    pt_write_zip(path, short_storage, 2);
    expect_load_error(path, YL_ERR_FORMAT, "claims 4 elements", "storage shorter than it claims");

    pk_checkpoint(&pk, "FloatStorage", "0", 4, 0, 2, size3, good2);  // 6 elements of a 4-element storage
    pt_zip_record past_end[] = {{"x/data.pkl", pk.bytes, pk.n, 0}, {"x/data/0", eight, 16, 0}};
    pt_write_zip(path, past_end, 2);
    expect_load_error(path, YL_ERR_FORMAT, "needs elements 0..6 of a storage of 4", "tensor past its storage");

    pk_checkpoint(&pk, "FloatStorage", "0", 4, 1, 2, size2, good2);  // offset 1 + 4 elements > 4
    pt_write_zip(path, past_end, 2);
    expect_load_error(path, YL_ERR_FORMAT, "needs elements 1..5", "offset past the storage");

    pk_checkpoint(&pk, "FloatStorage", "0", 4, 0, 2, size2, transposed);
    pt_write_zip(path, past_end, 2);
    expect_load_error(path, YL_ERR_UNSUPPORTED, "not contiguous", "transposed strides");

    pk_checkpoint(&pk, "DoubleStorage", "0", 2, 0, 1, size1, stride1);
    pt_write_zip(path, past_end, 2);
    expect_load_error(path, YL_ERR_DTYPE, "float64", "float64 storage");

    pk_checkpoint(&pk, "FloatStorage", "../0", 4, 0, 1, size1, stride1);
    pt_write_zip(path, past_end, 2);
    expect_load_error(path, YL_ERR_FORMAT, "storage key", "path-like storage key");
    remove(path);
}

static void test_pickle_errors(void) {
    // posix.system from a real torch.save of an object whose __reduce__ returns os.system.
    const char *pwned = "/tmp/yoloop-pt-fixture-pwned";
    remove(pwned);
    expect_load_error(PT_DIR "/evil_os_system.pt", YL_ERR_FORMAT, "global 'posix.system' is not in the allow-list",
                      "evil_os_system.pt");
    struct stat sb;
    CHECK(stat(pwned, &sb) != 0, "the pickled os.system call ran");

    const char os_system[] = "\x80\x02" "cos\nsystem\n" "X\x02\x00\x00\x00id" "\x85R.";
    expect_pickle_error(os_system, sizeof os_system - 1, "global 'os.system'", "os.system");
    const char eval_p4[] = "\x80\x04\x8c\x08" "builtins" "\x8c\x04" "eval" "\x93" "\x8c\x01" "1" "\x85R.";
    expect_pickle_error(eval_p4, sizeof eval_p4 - 1, "global 'builtins.eval'", "builtins.eval");
    const char weird_name[] = "\x80\x02" "ctorch.nn.modules\n__import__('os')\n.";
    expect_pickle_error(weird_name, sizeof weird_name - 1, "not in the allow-list", "non-identifier global");

    expect_pickle_error(LIT("\x80\x02\xff."), "unknown opcode 0xff", "unknown opcode");
    expect_pickle_error(LIT("\x80\x02I1\n."), "(INT) is not supported", "text INT");
    expect_pickle_error(LIT("\x80\x02i__main__\nX\n."), "(INST) is not supported", "INST");
    expect_pickle_error(LIT("\x80\x09N."), "protocol 9", "protocol 9");

    expect_pickle_error(LIT("\x80\x02h\x05."), "memo index 5 was never stored", "BINGET 5");
    expect_pickle_error(LIT("\x80\x02Nq\x00j\x01\x00\x00\x00."), "memo index 1 was never stored", "LONG_BINGET 1");
    expect_pickle_error(LIT("\x80\x02Nr\xff\xff\xff\x7f."), "memo index 2147483647 is out of range",
                        "LONG_BINPUT 2^31");

    expect_pickle_error(LIT("\x80\x02."), "stack underflow", "STOP on an empty stack");
    expect_pickle_error(LIT("\x80\x02N(\x85."), "stack underflow", "TUPLE1 across a MARK");
    expect_pickle_error(LIT("\x80\x02]N(a."), "stack underflow", "APPEND across a MARK");
    expect_pickle_error(LIT("\x80\x02Ns."), "stack underflow", "SETITEM without a dict");
    expect_pickle_error(LIT("\x80\x02Nt."), "no MARK", "TUPLE without a MARK");
    expect_pickle_error(LIT("\x80\x02(u."), "no container below the MARK", "SETITEMS without a dict");
    expect_pickle_error(LIT("\x80\x02NN(Nu."), "SETITEMS on a None", "SETITEMS on None");
    expect_pickle_error(LIT("\x80\x02NNR."), "call of a None", "REDUCE of None");
    expect_pickle_error(LIT("\x80\x02" "ccollections\nOrderedDict\nNR."), "not a tuple", "REDUCE with None args");

    expect_pickle_error(LIT("\x80\x02X\xff\xff\x00\x00" "ab"), "truncated", "BINUNICODE past the end");
    expect_pickle_error(LIT("\x80\x02N"), "truncated", "no STOP");
    expect_pickle_error(LIT("\x80\x02J\x01\x00"), "truncated", "BININT cut");
    expect_pickle_error(LIT("\x80\x02\x8a\x09\x01\x02\x03\x04\x05\x06\x07\x08\x09."), "does not fit in 64 bits",
                        "LONG1 of 9 bytes");
    expect_pickle_error(LIT("\x80\x02" "cos\nsyst"), "no end of line", "GLOBAL cut");

    // Many nested MARKs and a deep stack are bounded, not a crash.
    size_t deep = (size_t)YL_PICKLE_MAX_MARKS + 10;
    unsigned char *marks = malloc(deep + 3);
    marks[0] = 0x80;
    marks[1] = 2;
    memset(marks + 2, '(', deep);
    marks[deep + 2] = '.';
    expect_pickle_error(marks, deep + 3, "nested MARKs", "too many MARKs");
    free(marks);

    // Through the checkpoint API the message names the file and the pickle.
    char path[256];
    pt_tmp_path(path, sizeof path, "pickle.pt");
    pt_zip_record evil[] = {{"x/data.pkl", os_system, sizeof os_system - 1, 0}};
    pt_write_zip(path, evil, 1);
    expect_load_error(path, YL_ERR_FORMAT, ":data.pkl' at byte 2: global 'os.system'", "os.system in a zip");
    const char list_root[] = "\x80\x02]q\x00.";
    pt_zip_record not_dict[] = {{"x/data.pkl", list_root, sizeof list_root - 1, 0}};
    pt_write_zip(path, not_dict, 1);
    expect_load_error(path, YL_ERR_FORMAT, "holds a list, not a checkpoint dict", "list root");
    const char no_model[] = "\x80\x02}(X\x05\x00\x00\x00" "modelNX\x03\x00\x00\x00" "emaNu.";
    pt_zip_record none_model[] = {{"x/data.pkl", no_model, sizeof no_model - 1, 0}};
    pt_write_zip(path, none_model, 1);
    expect_load_error(path, YL_ERR_FORMAT, "neither an 'ema' nor a 'model' (keys: model, ema)", "model and ema None");
    remove(path);
}

// 21 modules, each holding the previous one twice: 2^21 paths through a 1 KB pickle. The walk
// must stop at its bound instead of running for minutes.
static void test_exponential_module_tree(void) {
    pt_pickle_text pk = {.n = 0};
    pk_raw(&pk, "\x80\x02}(", 4);
    pk_str(&pk, "model");
    for (int level = 0; level <= 20; level++) {
        pk_global(&pk, "ultralytics.nn.modules.conv", "Conv");
        pk_op(&pk, ')');
        pk_op(&pk, 0x81);
        pk_op(&pk, '}');
        pk_op(&pk, '(');
        pk_str(&pk, "_parameters");
        pk_op(&pk, '}');
        pk_str(&pk, "_buffers");
        pk_op(&pk, '}');
        pk_str(&pk, "_modules");
        pk_op(&pk, '}');
        if (level > 0) {
            unsigned char get[2] = {'h', (unsigned char)(level - 1)};
            pk_op(&pk, '(');
            pk_str(&pk, "a");
            pk_raw(&pk, get, 2);
            pk_str(&pk, "b");
            pk_raw(&pk, get, 2);
            pk_op(&pk, 'u');
        }
        pk_op(&pk, 'u');
        pk_op(&pk, 'b');
        unsigned char put[2] = {'q', (unsigned char)level};
        pk_raw(&pk, put, 2);
        if (level < 20) pk_op(&pk, '0');  // POP: only the last level stays, as the value of 'model'
    }
    pk_op(&pk, 'u');
    pk_op(&pk, '.');
    yl_pt_checkpoint ck;
    CHECK_STATUS(yl_pt_checkpoint_from_pickle(&ck, "exponential", pk.bytes, pk.n, NULL), YL_ERR_FORMAT);
    CHECK(strstr(yl_last_error(), "more than 65536 modules") != NULL, "%s", yl_last_error());
}

static void test_null_arguments(void) {
    yl_pt_checkpoint ck;
    yl_pickle *p = NULL;
    yl_pt_zip *z = NULL;
    CHECK_STATUS(yl_pt_checkpoint_load(NULL, "x.pt"), YL_ERR_INVALID_ARG);
    CHECK_STATUS(yl_pt_checkpoint_load(&ck, NULL), YL_ERR_INVALID_ARG);
    CHECK_STATUS(yl_pt_checkpoint_from_pickle(&ck, "x", NULL, 5, NULL), YL_ERR_INVALID_ARG);
    CHECK_STATUS(yl_pickle_load(NULL, "N.", 2, "x"), YL_ERR_INVALID_ARG);
    CHECK_STATUS(yl_pickle_load(&p, NULL, 2, "x"), YL_ERR_INVALID_ARG);
    CHECK_STATUS(yl_pt_zip_open(&z, NULL), YL_ERR_INVALID_ARG);
    CHECK_STATUS(yl_pt_zip_read(NULL, "data.pkl", NULL, NULL), YL_ERR_INVALID_ARG);
    CHECK_STATUS(yl_pt_tensor_to_f32(NULL, NULL, 0), YL_ERR_INVALID_ARG);
    CHECK_STATUS(yl_pickle_load(&p, "", 0, "empty"), YL_ERR_FORMAT);
    yl_pt_checkpoint_free(NULL);
    yl_pickle_free(NULL);
    yl_pt_zip_close(NULL);
    CHECK(yl_pt_checkpoint_find(NULL, "x") == NULL && yl_pickle_dict_get(NULL, "x") == NULL, "NULL lookups");
    // A storage source that is absent: the tensor is named.
    pt_pickle_text pk;
    int size1[1] = {1}, stride1[1] = {1};
    pk_checkpoint(&pk, "FloatStorage", "0", 1, 0, 1, size1, stride1);
    CHECK_STATUS(yl_pt_checkpoint_from_pickle(&ck, "no-reader", pk.bytes, pk.n, NULL), YL_ERR_FORMAT);
    CHECK(strstr(yl_last_error(), "no storage source") != NULL, "%s", yl_last_error());
}

int main(void) {
    test_zip_damage();
    test_zip_layout();
    test_tensor_errors();
    test_pickle_errors();
    test_exponential_module_tree();
    test_null_arguments();
    return yl_test_finish("test_pt_errors");
}
