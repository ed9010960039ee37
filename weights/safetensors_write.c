// Everything is validated and the header is built before the temporary file is created, so a
// bad argument never touches the disk. The official safetensors readers refuse holes between
// tensors, hence the widest-first layout rather than padding for alignment.
#include "weights/safetensors_write.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *safetensors_dtype_name(yl_dtype dtype) {
    switch (dtype) {
    case YL_F32: return "F32";
    case YL_F16: return "F16";
    case YL_BF16: return "BF16";
    case YL_I32: return "I32";
    case YL_I64: return "I64";
    case YL_U8: return "U8";
    default: return NULL;
    }
}

static yl_status check_tensor(const char *path, const yl_tensor_set *set, int i) {
    const yl_named_tensor *t = &set->items[i];
    if (!t->name || !t->name[0])
        return yl_error(YL_ERR_INVALID_ARG, "safetensors write '%s': tensor %d has no name", path, i);
    if (!strcmp(t->name, "__metadata__"))
        return yl_error(YL_ERR_INVALID_ARG, "safetensors write '%s': '__metadata__' is not a tensor name", path);
    if (!safetensors_dtype_name(t->dtype))
        return yl_error(YL_ERR_DTYPE, "safetensors write '%s': tensor '%s' has dtype %s, which safetensors lacks", path,
                        t->name, yl_dtype_name(t->dtype));
    if (t->ndim < 0 || t->ndim > YL_TENSOR_SET_MAX_DIMS)
        return yl_error(YL_ERR_SHAPE, "safetensors write '%s': tensor '%s' has %d dimensions", path, t->name, t->ndim);
    double numel = 1.0;
    for (int d = 0; d < t->ndim; d++) {
        if (t->shape[d] < 0)
            return yl_error(YL_ERR_SHAPE, "safetensors write '%s': tensor '%s' has a negative dimension", path,
                            t->name);
        numel *= (double)t->shape[d];
    }
    double bytes = numel * (double)yl_dtype_size(t->dtype);
    if ((double)t->nbytes != bytes)
        return yl_error(YL_ERR_SHAPE, "safetensors write '%s': tensor '%s' has %zu bytes, its shape and dtype need %.0f",
                        path, t->name, t->nbytes, bytes);
    if (t->nbytes && !t->data)
        return yl_error(YL_ERR_INVALID_ARG, "safetensors write '%s': tensor '%s' has no data", path, t->name);
    for (int j = 0; j < i; j++)
        if (!strcmp(set->items[j].name, t->name))
            return yl_error(YL_ERR_INVALID_ARG, "safetensors write '%s': tensor '%s' appears twice", path, t->name);
    return YL_OK;
}

static yl_status check_metadata(const char *path, const yl_metadata_item *metadata, int count) {
    if (count < 0 || (count > 0 && !metadata))
        return yl_error(YL_ERR_INVALID_ARG, "safetensors write '%s': %d metadata items but none given", path, count);
    for (int i = 0; i < count; i++) {
        if (!metadata[i].key || !metadata[i].value)
            return yl_error(YL_ERR_INVALID_ARG, "safetensors write '%s': metadata item %d has a NULL key or value",
                            path, i);
        for (int j = 0; j < i; j++)
            if (!strcmp(metadata[j].key, metadata[i].key))
                return yl_error(YL_ERR_INVALID_ARG, "safetensors write '%s': metadata key '%s' appears twice", path,
                                metadata[i].key);
    }
    return YL_OK;
}

// order[k] = index of the k-th tensor in the data section: widest element first, stable.
static void layout_order(const yl_tensor_set *set, int *order) {
    int k = 0;
    for (size_t width = 8; width >= 1; width /= 2)
        for (int i = 0; i < set->count; i++)
            if (yl_dtype_size(set->items[i].dtype) == width) order[k++] = i;
}

static cJSON *tensor_header(const yl_named_tensor *t, size_t begin) {
    cJSON *entry = cJSON_CreateObject();
    cJSON *shape = cJSON_CreateArray();
    cJSON *offsets = cJSON_CreateArray();
    if (!entry || !shape || !offsets) {
        cJSON_Delete(entry);
        cJSON_Delete(shape);
        cJSON_Delete(offsets);
        return NULL;
    }
    cJSON_AddItemToObject(entry, "dtype", cJSON_CreateString(safetensors_dtype_name(t->dtype)));
    for (int d = 0; d < t->ndim; d++) cJSON_AddItemToArray(shape, cJSON_CreateNumber((double)t->shape[d]));
    cJSON_AddItemToObject(entry, "shape", shape);
    cJSON_AddItemToArray(offsets, cJSON_CreateNumber((double)begin));
    cJSON_AddItemToArray(offsets, cJSON_CreateNumber((double)(begin + t->nbytes)));
    cJSON_AddItemToObject(entry, "data_offsets", offsets);
    return entry;
}

// The header text, padded with spaces to a multiple of 8 bytes; *length receives its size.
static yl_status build_header(const char *path, const yl_tensor_set *set, const int *order,
                              const yl_metadata_item *metadata, int metadata_count, char **text, size_t *length) {
    size_t *begin = calloc((size_t)set->count + 1, sizeof *begin);
    cJSON *root = cJSON_CreateObject();
    yl_status status = YL_OK;
    if (!begin || !root) status = yl_error(YL_ERR_OOM, "safetensors write '%s': out of memory", path);
    size_t offset = 0;
    for (int k = 0; k < set->count && status == YL_OK; k++) {
        begin[order[k]] = offset;
        offset += set->items[order[k]].nbytes;
    }
    if (status == YL_OK && metadata_count > 0) {
        cJSON *meta = cJSON_AddObjectToObject(root, "__metadata__");
        for (int i = 0; meta && i < metadata_count; i++)
            if (!cJSON_AddStringToObject(meta, metadata[i].key, metadata[i].value)) meta = NULL;
        if (!meta) status = yl_error(YL_ERR_OOM, "safetensors write '%s': out of memory (metadata)", path);
    }
    for (int i = 0; i < set->count && status == YL_OK; i++) {
        cJSON *entry = tensor_header(&set->items[i], begin[i]);
        if (!entry || !cJSON_AddItemToObject(root, set->items[i].name, entry)) {
            cJSON_Delete(entry);
            status = yl_error(YL_ERR_OOM, "safetensors write '%s': out of memory (header)", path);
        }
    }
    char *json = status == YL_OK ? cJSON_PrintUnformatted(root) : NULL;
    if (status == YL_OK && !json) status = yl_error(YL_ERR_OOM, "safetensors write '%s': out of memory (header)", path);
    if (status == YL_OK) {
        size_t n = strlen(json), padded = (n + 7) / 8 * 8;
        *text = malloc(padded + 1);
        if (!*text) {
            status = yl_error(YL_ERR_OOM, "safetensors write '%s': out of memory", path);
        } else {
            memcpy(*text, json, n);
            memset(*text + n, ' ', padded - n);
            (*text)[padded] = '\0';
            *length = padded;
        }
    }
    cJSON_free(json);
    cJSON_Delete(root);
    free(begin);
    return status;
}

static yl_status io_error(const char *path, const char *step) {
    return yl_error(YL_ERR_IO, "safetensors write '%s': %s: %s", path, step, strerror(errno));
}

// Writes length, header and data to the open temporary file and syncs it.
static yl_status write_contents(const char *path, FILE *f, const char *header, size_t header_len,
                                const yl_tensor_set *set, const int *order) {
    unsigned char le[8];
    for (int i = 0; i < 8; i++) le[i] = (unsigned char)((uint64_t)header_len >> (8 * i));
    if (fwrite(le, 1, 8, f) != 8 || fwrite(header, 1, header_len, f) != header_len)
        return io_error(path, "writing the header");
    for (int k = 0; k < set->count; k++) {
        const yl_named_tensor *t = &set->items[order[k]];
        if (t->nbytes && fwrite(t->data, 1, t->nbytes, f) != t->nbytes) {
            yl_status status = io_error(path, "writing tensor data");
            return yl_error_context(status, "tensor '%s'", t->name);
        }
    }
    if (fflush(f) != 0) return io_error(path, "flushing");
    if (fsync(fileno(f)) != 0) return io_error(path, "fsync");
    return YL_OK;
}

// The directory holding `path` ("." when it has no slash), for the temporary file and the sync.
static char *directory_of(const char *path) {
    const char *slash = strrchr(path, '/');
    size_t n = slash ? (size_t)(slash - path) : 1;
    if (slash == path) n = 1;  // "/file"
    char *dir = malloc(n + 1);
    if (!dir) return NULL;
    memcpy(dir, slash ? path : ".", n);
    dir[n] = '\0';
    return dir;
}

// After the rename the new file is in place; syncing the directory makes the rename durable.
// Filesystems that cannot sync a directory (EINVAL) are accepted.
static yl_status sync_directory(const char *path, const char *dir) {
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd < 0) return io_error(path, "opening its directory to sync the rename");
    int rc = fsync(fd);
    int saved = errno;
    close(fd);
    errno = saved;
    if (rc != 0 && errno != EINVAL) return io_error(path, "syncing its directory");
    return YL_OK;
}

static yl_status write_atomically(const char *path, const char *header, size_t header_len, const yl_tensor_set *set,
                                  const int *order) {
    char *dir = directory_of(path);
    size_t tmp_size = strlen(path) + 16;
    char *tmp = malloc(tmp_size);
    if (!dir || !tmp) {
        free(dir);
        free(tmp);
        return yl_error(YL_ERR_OOM, "safetensors write '%s': out of memory", path);
    }
    snprintf(tmp, tmp_size, "%s.tmp-XXXXXX", path);
    yl_status status = YL_OK;
    int fd = mkstemp(tmp);
    if (fd < 0) {
        status = io_error(path, "creating a temporary file beside it");
        free(dir);
        free(tmp);
        return status;
    }
    // mkstemp creates the file 0600; a checkpoint is an ordinary file.
    if (fchmod(fd, 0644) != 0) status = io_error(path, "setting the temporary file's mode");
    FILE *f = status == YL_OK ? fdopen(fd, "wb") : NULL;
    if (status == YL_OK && !f) status = io_error(path, "opening the temporary file");
    if (status == YL_OK) status = write_contents(path, f, header, header_len, set, order);
    if (f) {
        if (fclose(f) != 0 && status == YL_OK) status = io_error(path, "closing the temporary file");
    } else {
        close(fd);
    }
    if (status == YL_OK && rename(tmp, path) != 0) status = io_error(path, "renaming the temporary file over it");
    if (status != YL_OK) {
        unlink(tmp);
    } else {
        status = sync_directory(path, dir);
    }
    free(dir);
    free(tmp);
    return status;
}

yl_status yl_safetensors_write(const char *path, const yl_tensor_set *tensors, const yl_metadata_item *metadata,
                               int metadata_count) {
    if (!path || !path[0]) return yl_error(YL_ERR_INVALID_ARG, "safetensors write: no path");
    if (!tensors || tensors->count < 0 || (tensors->count > 0 && !tensors->items))
        return yl_error(YL_ERR_INVALID_ARG, "safetensors write '%s': no tensor set", path);
    for (int i = 0; i < tensors->count; i++) YL_TRY(check_tensor(path, tensors, i));
    YL_TRY(check_metadata(path, metadata, metadata_count));
    int *order = malloc(((size_t)tensors->count + 1) * sizeof *order);
    if (!order) return yl_error(YL_ERR_OOM, "safetensors write '%s': out of memory", path);
    layout_order(tensors, order);
    char *header = NULL;
    size_t header_len = 0;
    yl_status status = build_header(path, tensors, order, metadata, metadata_count, &header, &header_len);
    if (status == YL_OK) status = write_atomically(path, header, header_len, tensors, order);
    free(header);
    free(order);
    return status;
}
