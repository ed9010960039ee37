// Status codes and a thread-local error message.
// Engine functions return a yl_status; on failure they leave a message saying what and where
// (yl_last_error). Only the CLI prints it.
#pragma once
#include <stdarg.h>

#ifdef __cplusplus
extern "C" {  // the CUDA translation units (kernels/*.cu) include this header
#endif

typedef enum {
    YL_OK = 0,
    YL_ERR_INVALID_ARG,  // a NULL pointer, a bad parameter value
    YL_ERR_SHAPE,        // tensor shapes do not fit together
    YL_ERR_DTYPE,        // unsupported element type
    YL_ERR_DEVICE,       // tensors on different devices, or a device that is absent
    YL_ERR_UNSUPPORTED,  // an op or parameter the backend does not implement
    YL_ERR_OOM,          // an allocation failed or an arena is full
    YL_ERR_IO,           // a file could not be read or written
    YL_ERR_FORMAT,       // a file's content is malformed
    YL_ERR_NUMERIC,      // NaN/Inf where a finite value is required
    YL_ERR_BACKEND,      // an error reported by CUDA, cuDNN or cuBLAS
} yl_status;

const char *yl_status_name(yl_status status);

// Sets the thread-local message (printf-style) and returns `status`, so callers can write
// `return yl_error(YL_ERR_SHAPE, "conv2d: x has %d channels, w expects %d", a, b);`
#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
yl_status yl_error(yl_status status, const char *fmt, ...);

// Prefixes the current message with context ("model.3.conv: " + message) and returns `status`.
#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
yl_status yl_error_context(yl_status status, const char *fmt, ...);

const char *yl_last_error(void);
void yl_clear_error(void);

// Propagate a failing status unchanged.
#define YL_TRY(expr)                          \
    do {                                      \
        yl_status yl_try_status_ = (expr);    \
        if (yl_try_status_ != YL_OK) return yl_try_status_; \
    } while (0)

#ifdef __cplusplus
}
#endif
