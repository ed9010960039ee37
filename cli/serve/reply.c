#include "cli/serve/reply.h"

#include <stdarg.h>
#include <stdio.h>

void yl_serve_reply_error(yl_serve_reply *reply, unsigned status, const char *fmt, ...) {
    char message[1024];
    va_list args;
    va_start(args, fmt);
    vsnprintf(message, sizeof message, fmt, args);
    va_end(args);
    cJSON_Delete(reply->json);
    reply->status = status;
    reply->json = cJSON_CreateObject();
    if (reply->json) {
        cJSON_AddNumberToObject(reply->json, "status", status);
        cJSON_AddStringToObject(reply->json, "error", message);
    }
}

void yl_serve_reply_json(yl_serve_reply *reply, unsigned status, cJSON *json) {
    cJSON_Delete(reply->json);
    reply->json = json;
    reply->status = json ? status : 500;
    if (!json) {
        reply->json = cJSON_CreateObject();
        if (reply->json) {
            cJSON_AddNumberToObject(reply->json, "status", 500);
            cJSON_AddStringToObject(reply->json, "error", "out of memory");
        }
    }
}
