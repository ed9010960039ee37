// A libcurl write callback that collects a response body, for the tests that call HTTP servers
// with curl directly (test_serve, ls_real).
#pragma once
#include <stdlib.h>
#include <string.h>

typedef struct {
    char *data;  // NUL-terminated, malloc'd; free it
    size_t size;
} yl_test_body;

// CURLOPT_WRITEFUNCTION with CURLOPT_WRITEDATA = a yl_test_body (zeroed to start).
static inline size_t yl_test_body_write(char *chunk, size_t size, size_t n, void *user) {
    yl_test_body *b = user;
    char *grown = realloc(b->data, b->size + size * n + 1);
    if (!grown) return 0;
    b->data = grown;
    memcpy(b->data + b->size, chunk, size * n);
    b->size += size * n;
    b->data[b->size] = '\0';
    return size * n;
}
