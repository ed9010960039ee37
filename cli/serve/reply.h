// What a route handler of the ML backend answers: an HTTP status and a JSON body. Errors are
// always JSON too ({"status": 400, "error": "..."}), so Label Studio logs a readable reason.
#pragma once
#include <cjson/cJSON.h>

typedef struct {
    unsigned status;
    cJSON *json;  // owned; NULL means "{}"
} yl_serve_reply;

#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
void yl_serve_reply_error(yl_serve_reply *reply, unsigned status, const char *fmt, ...);
// Takes ownership of json (NULL: out of memory, which becomes a 500).
void yl_serve_reply_json(yl_serve_reply *reply, unsigned status, cJSON *json);
