// libzip does the ZIP parsing (Zip64 records, the 64-byte-aligned local headers torch writes);
// this file adds what a checkpoint reader needs on top: the record prefix, the layout checks
// and hard bounds on every size an archive claims before memory is allocated for it.
#include "weights/pt_zip.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zip.h>

#define PT_ZIP_MAX_VERSION 10   // torch's reader accepts file format versions 1..10
#define PT_ZIP_MAX_NAME 1024
#define PT_ZIP_DEFLATE_MAX_RATIO 1032  // deflate cannot expand a byte into more than ~1032

// All records read from one archive together may not exceed 16x its size (+1 MiB): torch
// stores records uncompressed, so a real checkpoint reads about its own size once, while
// overlapping entries or highly compressed records (zip bombs) would read far more.
static size_t read_budget(size_t archive_size) {
    size_t budget = archive_size > (SIZE_MAX - (1u << 20)) / 16 ? SIZE_MAX : archive_size * 16 + (1u << 20);
    return budget;
}

struct yl_pt_zip {
    zip_t *zip;
    char *name;
    char *prefix;
    size_t archive_size;
    size_t bytes_read;  // all records so far, against the read budget
    int version;
};

static char *copy_string(const char *s, size_t n) {
    char *p = malloc(n + 1);
    if (!p) return NULL;
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

const char *yl_pt_zip_name(const yl_pt_zip *z) { return z ? z->name : ""; }
const char *yl_pt_zip_prefix(const yl_pt_zip *z) { return z ? z->prefix : ""; }
int yl_pt_zip_version(const yl_pt_zip *z) { return z ? z->version : 0; }

void yl_pt_zip_close(yl_pt_zip *z) {
    if (!z) return;
    if (z->zip) zip_discard(z->zip);  // read-only: nothing to write back
    free(z->name);
    free(z->prefix);
    free(z);
}

static zip_int64_t locate(const yl_pt_zip *z, const char *record) {
    char full[PT_ZIP_MAX_NAME];
    int n = snprintf(full, sizeof full, "%s/%s", z->prefix, record);
    if (n < 0 || (size_t)n >= sizeof full) return -1;
    return zip_name_locate(z->zip, full, ZIP_FL_ENC_RAW);
}

bool yl_pt_zip_has(const yl_pt_zip *z, const char *record) { return z && record && locate(z, record) >= 0; }

// Checks what the central directory claims about entry `index` before anything is read.
static yl_status check_entry(const yl_pt_zip *z, zip_uint64_t index, size_t limit, zip_stat_t *st) {
    if (zip_stat_index(z->zip, index, ZIP_FL_ENC_RAW, st) != 0)
        return yl_error(YL_ERR_FORMAT, "pt '%s': cannot read ZIP entry %llu: %s", z->name, (unsigned long long)index,
                        zip_strerror(z->zip));
    const char *name = (st->valid & ZIP_STAT_NAME) ? st->name : "?";
    if ((st->valid & ZIP_STAT_ENCRYPTION_METHOD) && st->encryption_method != ZIP_EM_NONE)
        return yl_error(YL_ERR_FORMAT, "pt '%s': record '%s' is encrypted", z->name, name);
    if (!(st->valid & ZIP_STAT_SIZE) || !(st->valid & ZIP_STAT_COMP_SIZE) || !(st->valid & ZIP_STAT_COMP_METHOD))
        return yl_error(YL_ERR_FORMAT, "pt '%s': record '%s' has no size in the ZIP directory", z->name, name);
    if (st->comp_method != ZIP_CM_STORE && st->comp_method != ZIP_CM_DEFLATE)
        return yl_error(YL_ERR_FORMAT, "pt '%s': record '%s' uses ZIP compression method %d (only stored or deflate)",
                        z->name, name, (int)st->comp_method);
    if (st->size > limit)
        return yl_error(YL_ERR_FORMAT, "pt '%s': record '%s' claims %llu bytes, more than the %zu allowed", z->name,
                        name, (unsigned long long)st->size, limit);
    if (st->comp_size > z->archive_size)
        return yl_error(YL_ERR_FORMAT, "pt '%s': record '%s' claims %llu stored bytes in a %zu-byte file", z->name,
                        name, (unsigned long long)st->comp_size, z->archive_size);
    if (st->comp_method == ZIP_CM_STORE && st->size != st->comp_size)
        return yl_error(YL_ERR_FORMAT, "pt '%s': stored record '%s' has size %llu but %llu stored bytes", z->name,
                        name, (unsigned long long)st->size, (unsigned long long)st->comp_size);
    if (st->comp_method == ZIP_CM_DEFLATE && st->size / PT_ZIP_DEFLATE_MAX_RATIO > st->comp_size)
        return yl_error(YL_ERR_FORMAT, "pt '%s': record '%s' expands %llu bytes to %llu (a zip bomb?)", z->name, name,
                        (unsigned long long)st->comp_size, (unsigned long long)st->size);
    return YL_OK;
}

static yl_status read_entry(yl_pt_zip *z, zip_uint64_t index, const char *record, size_t limit, unsigned char **data,
                            size_t *size) {
    zip_stat_t st;
    YL_TRY(check_entry(z, index, limit, &st));
    size_t n = (size_t)st.size, budget = read_budget(z->archive_size);
    if (n > budget - z->bytes_read)
        return yl_error(YL_ERR_FORMAT, "pt '%s': record '%s' (%zu bytes) would take the bytes read from this %zu-byte "
                        "archive past %zu (a zip bomb?)", z->name, record, n, z->archive_size, budget);
    unsigned char *buf = malloc(n + 1);
    if (!buf) return yl_error(YL_ERR_OOM, "pt '%s': out of memory for record '%s' (%zu bytes)", z->name, record, n);
    zip_file_t *f = zip_fopen_index(z->zip, index, 0);
    if (!f) {
        free(buf);
        return yl_error(YL_ERR_FORMAT, "pt '%s': cannot open record '%s': %s", z->name, record, zip_strerror(z->zip));
    }
    size_t got = 0;
    while (got < n) {
        zip_int64_t r = zip_fread(f, buf + got, n - got);
        if (r <= 0) break;
        got += (size_t)r;
    }
    unsigned char extra;
    zip_int64_t tail = got == n ? zip_fread(f, &extra, 1) : 0;  // reaching the end makes libzip check the CRC
    yl_status status = YL_OK;
    if (got != n || tail != 0)
        status = yl_error(YL_ERR_FORMAT, "pt '%s': record '%s' is damaged or truncated (%zu of %zu bytes read: %s)",
                          z->name, record, got, n, zip_file_strerror(f));
    zip_fclose(f);
    if (status != YL_OK) {
        free(buf);
        return status;
    }
    buf[n] = '\0';
    z->bytes_read += n;
    *data = buf;
    *size = n;
    return YL_OK;
}

yl_status yl_pt_zip_read(yl_pt_zip *z, const char *record, unsigned char **data, size_t *size) {
    if (!z || !record || !data || !size) return yl_error(YL_ERR_INVALID_ARG, "yl_pt_zip_read: NULL argument");
    *data = NULL;
    *size = 0;
    zip_int64_t index = locate(z, record);
    if (index < 0)
        return yl_error(YL_ERR_FORMAT, "pt '%s': record '%s/%s' is missing", z->name, z->prefix, record);
    size_t limit = strcmp(record, "data.pkl") == 0 ? YL_PT_ZIP_MAX_PICKLE : YL_PT_ZIP_MAX_RECORD;
    char full[PT_ZIP_MAX_NAME];
    snprintf(full, sizeof full, "%s/%s", z->prefix, record);
    return read_entry(z, (zip_uint64_t)index, full, limit, data, size);
}

// The one `<prefix>/data.pkl` names the prefix; a second one would make the archive ambiguous.
static yl_status find_prefix(yl_pt_zip *z) {
    zip_int64_t count = zip_get_num_entries(z->zip, 0);
    if (count <= 0) return yl_error(YL_ERR_FORMAT, "pt '%s': the ZIP archive is empty", z->name);
    if (count > YL_PT_ZIP_MAX_ENTRIES)
        return yl_error(YL_ERR_FORMAT, "pt '%s': %lld ZIP entries, more than %d", z->name, (long long)count,
                        YL_PT_ZIP_MAX_ENTRIES);
    static const char suffix[] = "/data.pkl";
    const size_t suffix_len = sizeof suffix - 1;
    for (zip_int64_t i = 0; i < count; i++) {
        const char *name = zip_get_name(z->zip, (zip_uint64_t)i, ZIP_FL_ENC_RAW);
        if (!name) return yl_error(YL_ERR_FORMAT, "pt '%s': ZIP entry %lld has no name", z->name, (long long)i);
        size_t n = strlen(name);
        if (n <= suffix_len || strcmp(name + n - suffix_len, suffix) != 0) continue;
        if (memchr(name, '/', n - suffix_len)) continue;  // only top-level folders hold a checkpoint
        if (z->prefix)
            return yl_error(YL_ERR_FORMAT, "pt '%s': two pickles, '%s/data.pkl' and '%s'", z->name, z->prefix, name);
        z->prefix = copy_string(name, n - suffix_len);
        if (!z->prefix) return yl_error(YL_ERR_OOM, "pt '%s': out of memory", z->name);
        if (n - suffix_len + 64 > PT_ZIP_MAX_NAME)
            return yl_error(YL_ERR_FORMAT, "pt '%s': record prefix of %zu bytes is too long", z->name, n - suffix_len);
    }
    if (!z->prefix)
        return yl_error(YL_ERR_FORMAT, "pt '%s': no '<name>/data.pkl' record: not a torch.save checkpoint", z->name);
    return YL_OK;
}

static yl_status check_layout(yl_pt_zip *z) {
    YL_TRY(find_prefix(z));
    unsigned char *text = NULL;
    size_t n = 0;
    if (yl_pt_zip_has(z, "version")) {
        YL_TRY(yl_pt_zip_read(z, "version", &text, &n));
        char *end = NULL;
        long v = n && n < 32 ? strtol((const char *)text, &end, 10) : -1;
        bool ok = end && end != (char *)text && (*end == '\0' || *end == '\n') && v >= 1 && v <= PT_ZIP_MAX_VERSION;
        free(text);
        if (!ok)
            return yl_error(YL_ERR_FORMAT, "pt '%s': record '%s/version' is not a file format version 1..%d", z->name,
                            z->prefix, PT_ZIP_MAX_VERSION);
        z->version = (int)v;
    }
    if (yl_pt_zip_has(z, "byteorder")) {
        YL_TRY(yl_pt_zip_read(z, "byteorder", &text, &n));
        bool little = n >= 6 && strncmp((const char *)text, "little", 6) == 0 && (n == 6 || text[6] == '\n');
        free(text);
        if (!little)
            return yl_error(YL_ERR_UNSUPPORTED,
                            "pt '%s': byte order is not 'little' (big-endian checkpoints are not supported)", z->name);
    }
    return YL_OK;
}

static yl_status zip_open_error(yl_pt_zip *z, zip_error_t *error) {
    int code = zip_error_code_zip(error);
    yl_status status = (code == ZIP_ER_OPEN || code == ZIP_ER_NOENT || code == ZIP_ER_READ) ? YL_ERR_IO : YL_ERR_FORMAT;
    return yl_error(status, "pt '%s': not a readable ZIP archive (%s)", z->name, zip_error_strerror(error));
}

static yl_status finish_open(yl_pt_zip **out, yl_pt_zip *z, yl_status status) {
    if (status == YL_OK) status = check_layout(z);
    if (status != YL_OK) {
        yl_pt_zip_close(z);
        return status;
    }
    *out = z;
    return YL_OK;
}

static yl_pt_zip *new_zip(const char *name) {
    yl_pt_zip *z = calloc(1, sizeof *z);
    if (!z) return NULL;
    z->name = copy_string(name, strlen(name));
    if (!z->name) {
        free(z);
        return NULL;
    }
    return z;
}

yl_status yl_pt_zip_open(yl_pt_zip **out, const char *path) {
    if (!out || !path) return yl_error(YL_ERR_INVALID_ARG, "yl_pt_zip_open: NULL argument");
    *out = NULL;
    struct stat sb;
    if (stat(path, &sb) != 0) return yl_error(YL_ERR_IO, "pt '%s': cannot open: %s", path, strerror(errno));
    if (!S_ISREG(sb.st_mode)) return yl_error(YL_ERR_IO, "pt '%s': not a regular file", path);
    yl_pt_zip *z = new_zip(path);
    if (!z) return yl_error(YL_ERR_OOM, "pt '%s': out of memory", path);
    z->archive_size = (size_t)sb.st_size;
    int code = 0;
    z->zip = zip_open(path, ZIP_RDONLY | ZIP_CHECKCONS, &code);
    yl_status status = YL_OK;
    if (!z->zip) {
        zip_error_t error;
        zip_error_init_with_code(&error, code);
        status = zip_open_error(z, &error);
        zip_error_fini(&error);
    }
    return finish_open(out, z, status);
}

yl_status yl_pt_zip_open_memory(yl_pt_zip **out, const void *data, size_t size, const char *name) {
    if (!out || (!data && size)) return yl_error(YL_ERR_INVALID_ARG, "yl_pt_zip_open_memory: NULL argument");
    *out = NULL;
    yl_pt_zip *z = new_zip(name ? name : "<memory>");
    if (!z) return yl_error(YL_ERR_OOM, "pt: out of memory");
    z->archive_size = size;
    zip_error_t error;
    zip_error_init(&error);
    yl_status status = YL_OK;
    zip_source_t *src = zip_source_buffer_create(data, size, 0, &error);
    if (src) {
        z->zip = zip_open_from_source(src, ZIP_RDONLY | ZIP_CHECKCONS, &error);
        if (!z->zip) zip_source_free(src);
    }
    if (!z->zip) status = zip_open_error(z, &error);
    zip_error_fini(&error);
    return finish_open(out, z, status);
}
