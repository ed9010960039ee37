#include "status.h"

#include <stdio.h>
#include <string.h>

#define YL_ERROR_MESSAGE_SIZE 1024
static _Thread_local char error_message[YL_ERROR_MESSAGE_SIZE];

const char *yl_status_name(yl_status status) {
    switch (status) {
    case YL_OK: return "ok";
    case YL_ERR_INVALID_ARG: return "invalid argument";
    case YL_ERR_SHAPE: return "shape mismatch";
    case YL_ERR_DTYPE: return "unsupported dtype";
    case YL_ERR_DEVICE: return "device error";
    case YL_ERR_UNSUPPORTED: return "unsupported";
    case YL_ERR_OOM: return "out of memory";
    case YL_ERR_IO: return "I/O error";
    case YL_ERR_FORMAT: return "format error";
    case YL_ERR_NUMERIC: return "numeric error";
    case YL_ERR_BACKEND: return "backend error";
    }
    return "unknown status";
}

yl_status yl_error(yl_status status, const char *fmt, ...) {
    va_list args;
    va_start(args, fmt);
    vsnprintf(error_message, sizeof error_message, fmt, args);
    va_end(args);
    return status;
}

yl_status yl_error_context(yl_status status, const char *fmt, ...) {
    char prefix[256];
    va_list args;
    va_start(args, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, args);
    va_end(args);
    char previous[YL_ERROR_MESSAGE_SIZE];
    memcpy(previous, error_message, sizeof previous);
    // Truncation is acceptable here: the message is for people, and the start matters most.
    size_t prefix_length = strlen(prefix);
    if (prefix_length > sizeof error_message - 3) prefix_length = sizeof error_message - 3;
    memcpy(error_message, prefix, prefix_length);
    memcpy(error_message + prefix_length, ": ", 2);
    size_t room = sizeof error_message - prefix_length - 3;
    size_t previous_length = strnlen(previous, room);
    memcpy(error_message + prefix_length + 2, previous, previous_length);
    error_message[prefix_length + 2 + previous_length] = '\0';
    return status;
}

const char *yl_last_error(void) { return error_message; }

void yl_clear_error(void) { error_message[0] = '\0'; }
