// Task paging (spec §2.2).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/labelstudio/client_internal.h"
#include "cli/labelstudio/json_util.h"

yl_status yl_ls_list_tasks(yl_ls_client *client, int project_id, const yl_ls_task_query *query,
                           yl_ls_task_visitor visitor, void *user, long *count) {
    if (count) *count = 0;
    if (!client || !visitor) return yl_error(YL_ERR_INVALID_ARG, "Label Studio: NULL client or task visitor");
    if (project_id <= 0)
        return yl_error(YL_ERR_INVALID_ARG, "Label Studio: project id must be positive (got %d)", project_id);
    yl_ls_task_query q = query ? *query : (yl_ls_task_query){0};
    int page_size = q.page_size > 0 ? q.page_size : client->options.page_size;
    long visited = 0, total = -1;
    long long previous_first_id = -1;
    for (int page = 1;; page++) {
        char path[256];
        snprintf(path, sizeof path, "/api/tasks/?project=%d&page=%d&page_size=%d&fields=all&resolve_uri=%s%s",
                 project_id, page, page_size, q.resolve_uri ? "true" : "false",
                 q.only_annotated ? "&only_annotated=true" : "");
        yl_ls_request request = {.path = path};
        yl_http_response response;
        YL_TRY(yl_ls_perform(client, &request, &response));
        // A page past the end answers 404 ("Invalid page.") on DRF paginators: that is the end.
        if (response.status == 404 && page > 1) {
            yl_http_response_free(&response);
            break;
        }
        if (response.status < 200 || response.status >= 300) {
            yl_status status = yl_ls_fail_response(client, &request, &response);
            yl_http_response_free(&response);
            return status;
        }
        cJSON *json = NULL;
        char what[320];
        snprintf(what, sizeof what, "Label Studio GET %s: response", path);
        yl_status status = yl_json_parse(response.body ? response.body : "", response.body_size, what, &json);
        yl_http_response_free(&response);
        if (status != YL_OK) return status;
        // Current servers answer {"total": N, "tasks": [...]}; some older ones a bare array.
        const cJSON *tasks = cJSON_IsArray(json) ? json : cJSON_GetObjectItemCaseSensitive(json, "tasks");
        if (!cJSON_IsArray(tasks)) {
            cJSON_Delete(json);
            return yl_error(YL_ERR_FORMAT, "Label Studio GET %s: expected a 'tasks' array", path);
        }
        if (cJSON_IsObject(json)) total = (long)yl_json_int(json, "total", total);
        int on_page = cJSON_GetArraySize(tasks);
        long long first_id = on_page > 0 ? yl_json_int(cJSON_GetArrayItem(tasks, 0), "id", -1) : -1;
        if (first_id >= 0 && first_id == previous_first_id) {  // a server that ignores `page`
            cJSON_Delete(json);
            return yl_error(YL_ERR_FORMAT, "Label Studio GET %s: page %d repeats page %d; paging is not working",
                            path, page, page - 1);
        }
        previous_first_id = first_id;
        const cJSON *task;
        cJSON_ArrayForEach(task, tasks) {
            status = visitor(user, task);
            if (status != YL_OK) break;
            visited++;
        }
        cJSON_Delete(json);
        if (count) *count = visited;
        if (status != YL_OK) return status;
        // Not "a short page ends it": TASK_API_PAGE_SIZE_MAX may cap every page below page_size.
        if (on_page == 0 || (total >= 0 && visited >= total)) break;
    }
    return YL_OK;
}
