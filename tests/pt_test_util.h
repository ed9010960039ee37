// Helpers for the .pt reader tests: a tiny pickle emitter (to craft pickles byte by byte),
// a ZIP writer (libzip) for crafted checkpoints, and whole-file I/O.
#pragma once
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zip.h>

typedef struct {
    unsigned char bytes[8192];
    size_t n;
} pt_pickle_text;

static inline void pk_raw(pt_pickle_text *p, const void *data, size_t n) {
    if (p->n + n > sizeof p->bytes) {
        fprintf(stderr, "test: crafted pickle too long\n");
        exit(2);
    }
    memcpy(p->bytes + p->n, data, n);
    p->n += n;
}

static inline void pk_op(pt_pickle_text *p, unsigned char op) { pk_raw(p, &op, 1); }

static inline void pk_u32(pt_pickle_text *p, unsigned v) {
    unsigned char b[4] = {(unsigned char)v, (unsigned char)(v >> 8), (unsigned char)(v >> 16),
                          (unsigned char)(v >> 24)};
    pk_raw(p, b, 4);
}

static inline void pk_str(pt_pickle_text *p, const char *s) {  // BINUNICODE
    pk_op(p, 'X');
    pk_u32(p, (unsigned)strlen(s));
    pk_raw(p, s, strlen(s));
}

static inline void pk_int(pt_pickle_text *p, int v) {  // BININT
    pk_op(p, 'J');
    pk_u32(p, (unsigned)v);
}

static inline void pk_global(pt_pickle_text *p, const char *module, const char *name) {
    pk_op(p, 'c');
    pk_raw(p, module, strlen(module));
    pk_op(p, '\n');
    pk_raw(p, name, strlen(name));
    pk_op(p, '\n');
}

static inline void pk_int_tuple(pt_pickle_text *p, int n, const int *v) {
    pk_op(p, '(');
    for (int i = 0; i < n; i++) pk_int(p, v[i]);
    pk_op(p, 't');
}

// _rebuild_tensor_v2(('storage', torch.<storage_type>, key, 'cpu', numel), offset, size, stride, False, OrderedDict())
static inline void pk_tensor(pt_pickle_text *p, const char *storage_type, const char *key, int numel, int offset,
                             int ndim, const int *size, const int *stride) {
    pk_global(p, "torch._utils", "_rebuild_tensor_v2");
    pk_op(p, '(');
    pk_op(p, '(');
    pk_str(p, "storage");
    pk_global(p, "torch", storage_type);
    pk_str(p, key);
    pk_str(p, "cpu");
    pk_int(p, numel);
    pk_op(p, 't');
    pk_op(p, 'Q');  // BINPERSID
    pk_int(p, offset);
    pk_int_tuple(p, ndim, size);
    pk_int_tuple(p, ndim, stride);
    pk_op(p, 0x89);  // False
    pk_global(p, "collections", "OrderedDict");
    pk_op(p, ')');
    pk_op(p, 'R');
    pk_op(p, 't');
    pk_op(p, 'R');
}

// {'model': DetectionModel with _parameters {'w': <tensor>}, no buffers, no children, names {0: 'a'}}.
static inline void pk_checkpoint(pt_pickle_text *p, const char *storage_type, const char *key, int numel, int offset,
                                 int ndim, const int *size, const int *stride) {
    p->n = 0;
    pk_raw(p, "\x80\x02", 2);
    pk_op(p, '}');
    pk_op(p, '(');
    pk_str(p, "model");
    pk_global(p, "ultralytics.nn.tasks", "DetectionModel");
    pk_op(p, ')');
    pk_op(p, 0x81);  // NEWOBJ
    pk_op(p, '}');
    pk_op(p, '(');
    pk_str(p, "_parameters");
    pk_op(p, '}');
    pk_op(p, '(');
    pk_str(p, "w");
    pk_tensor(p, storage_type, key, numel, offset, ndim, size, stride);
    pk_op(p, 'u');
    pk_str(p, "_buffers");
    pk_op(p, '}');
    pk_str(p, "_modules");
    pk_op(p, '}');
    pk_str(p, "names");
    pk_op(p, '}');
    pk_int(p, 0);
    pk_str(p, "a");
    pk_op(p, 's');
    pk_op(p, 'u');
    pk_op(p, 'b');  // BUILD
    pk_op(p, 'u');
    pk_op(p, '.');
}

typedef struct {
    const char *name;
    const void *data;
    size_t size;
    int deflate;  // 0: stored, as torch writes
} pt_zip_record;

// Writes a ZIP with the given records to `path`; exits on failure (a broken test, not a finding).
static inline void pt_write_zip(const char *path, const pt_zip_record *records, int count) {
    int err = 0;
    zip_t *z = zip_open(path, ZIP_CREATE | ZIP_TRUNCATE, &err);
    if (!z) {
        fprintf(stderr, "test: cannot create zip %s (%d)\n", path, err);
        exit(2);
    }
    for (int i = 0; i < count; i++) {
        zip_source_t *src = zip_source_buffer(z, records[i].data, records[i].size, 0);
        zip_int64_t index = src ? zip_file_add(z, records[i].name, src, ZIP_FL_ENC_UTF_8) : -1;
        if (index < 0) {
            fprintf(stderr, "test: zip add %s: %s\n", records[i].name, zip_strerror(z));
            exit(2);
        }
        zip_set_file_compression(z, (zip_uint64_t)index, records[i].deflate ? ZIP_CM_DEFLATE : ZIP_CM_STORE, 0);
    }
    if (zip_close(z) != 0) {
        fprintf(stderr, "test: zip close %s: %s\n", path, zip_strerror(z));
        exit(2);
    }
}

static inline unsigned char *pt_read_file(const char *path, size_t *size) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "test: cannot open %s\n", path);
        exit(2);
    }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *buf = malloc(n > 0 ? (size_t)n : 1);
    if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n) {
        fprintf(stderr, "test: cannot read %s\n", path);
        exit(2);
    }
    fclose(f);
    *size = (size_t)n;
    return buf;
}

static inline void pt_write_file(const char *path, const void *data, size_t size) {
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, size, f) != size || fclose(f) != 0) {
        fprintf(stderr, "test: cannot write %s\n", path);
        exit(2);
    }
}

// A per-process scratch path: /tmp/yoloop-test-pt-<pid>-<tag>.
static inline const char *pt_tmp_path(char *buf, size_t size, const char *tag) {
    snprintf(buf, size, "/tmp/yoloop-test-pt-%ld-%s", (long)getpid(), tag);
    return buf;
}
