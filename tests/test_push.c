// `yoloop push` (cli/cmd_push.c) against the mock Label Studio with a stateful project:
// - each new image becomes one task through a multipart upload: the stored file is byte-equal to
//   the source, the task's meta holds its SHA-256, it has one prediction (model_version
//   "<model>-push", score in [0, 1] = the uncertainty, regions with the project's labels), and
//   the push log has one line per image with the task id;
// - two files with the same content are imported once; a second push imports nothing; so does a
//   push without the log (the hashes in the tasks' meta) and a push whose tasks lost their meta
//   (the log);
// - an upload that fails: exit 1, nothing logged for it, and the next push imports it once;
// - dry_run imports nothing; bad arguments exit 2; no token exits 1;
// - workspace=: the deployed model of the registry and the project from yoloop.yaml.
#include <math.h>

#include "cli/commands.h"
#include "cli/cycle/registry.h"
#include "cli/cycle/workspace.h"
#include "engine/data/image_list.h"
#include "rank_test_util.h"

static int task_count(ls_store *s) { return cJSON_GetArraySize(s->tasks); }

static void check_tasks(ls_store *s, const char *media, const char *version) {
    cJSON *t;
    cJSON_ArrayForEach(t, s->tasks) {
        const long id = (long)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(t, "id"));
        const char *hash = cJSON_GetStringValue(
            cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(t, "meta"), "yoloop_sha256"));
        const char *source = cJSON_GetStringValue(
            cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(t, "meta"), "yoloop_source"));
        const char *file = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(t, "file_upload"));
        CHECK(hash && source && file, "task %ld: meta or file_upload missing", id);
        if (!hash || !source || !file) continue;
        char *stored = yl_path_join(media, file);
        char hex[65] = "";
        CHECK_OK(yl_fs_sha256_file(stored, hex));
        CHECK(!strcmp(hex, hash), "task %ld: meta hash %s, stored file %s", id, hash, hex);
        CHECK(data_test_same_file(stored, source), "task %ld: the uploaded bytes differ from %s", id, source);
        free(stored);
        const cJSON *preds = cJSON_GetObjectItemCaseSensitive(t, "predictions");
        CHECK(cJSON_GetArraySize(preds) == 1, "task %ld: %d predictions", id, cJSON_GetArraySize(preds));
        const cJSON *p = cJSON_GetArrayItem(preds, 0);
        const char *v = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(p, "model_version"));
        const double score = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(p, "score"));
        CHECK(v && !strcmp(v, version), "task %ld: model_version %s", id, v ? v : "(none)");
        CHECK(score > 0 && score <= 1, "task %ld: score %g", id, score);
        CHECK(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(p, "result")) == 3, "task %ld: regions", id);
    }
}

// The log's lines name distinct hashes and the tasks that hold them.
static void check_log(const char *log, ls_store *s, int want) {
    char *text = NULL;
    size_t size = 0;
    CHECK_OK(yl_fs_read_all(log, &text, &size));
    int lines = 0;
    for (char *p = text, *e; p && *p; p = e) {
        e = strchr(p, '\n');
        if (e) *e++ = '\0';
        cJSON *j = cJSON_Parse(p);
        CHECK(cJSON_IsObject(j), "log line %d is not JSON", lines + 1);
        const long task = (long)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(j, "task"));
        const char *hash = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "sha256"));
        cJSON *t = ls_store_task(s, task);
        const char *meta = t ? cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(
                                   cJSON_GetObjectItemCaseSensitive(t, "meta"), "yoloop_sha256"))
                             : NULL;
        CHECK(t && hash && (!meta || !strcmp(meta, hash)), "log line %d: task %ld / hash mismatch", lines + 1, task);
        cJSON_Delete(j);
        lines++;
    }
    CHECK(lines == want, "push log has %d lines, expected %d", lines, want);
    free(text);
}

static void test_model_file(const char *dir, const char *model, const char *images) {
    ls_mock mock;
    ls_store store;
    char *media = yl_path_join(dir, "media");
    rt_start_mock(&mock, &store, media);
    // the field folder: three images plus a copy of one under another name
    yl_path_list list = {0};
    CHECK_OK(yl_path_list_add_source(&list, images));
    yl_path_list_sort(&list);
    char *field = yl_path_join(dir, "field");
    CHECK_OK(yl_fs_mkdirs(field));
    const char *names[4] = {"a.png", "b.png", "c.png", "copy_of_a.png"};
    const int from[4] = {0, 1, 2, 0};
    for (int i = 0; i < 4; i++) {
        char *dest = yl_path_join(field, names[i]);
        CHECK_OK(yl_fs_copy_file(list.paths[from[i]], dest));
        free(dest);
    }
    char *log = yl_path_join(dir, "push/log.jsonl");
    char a_model[600], a_url[128], a_source[600], a_log[600];
    snprintf(a_model, sizeof a_model, "model=%s", model);
    snprintf(a_url, sizeof a_url, "url=%s", mock.base_url);
    snprintf(a_source, sizeof a_source, "source=%s", field);
    snprintf(a_log, sizeof a_log, "log=%s", log);
    char *argv[] = {a_model, a_url, "project=1", a_source, a_log, "imgsz=64", "conf=0", "max_det=3"};
    CHECK(yl_cmd_push(8, argv) == 0, "push failed: %s", yl_last_error());
    CHECK(task_count(&store) == 3 && store.uploads == 3, "%d tasks / %d uploads, expected 3 (the copy is skipped)",
          task_count(&store), store.uploads);
    check_tasks(&store, media, "tiny-push");
    check_log(log, &store, 3);

    // again: nothing new
    CHECK(yl_cmd_push(8, argv) == 0, "second push failed: %s", yl_last_error());
    CHECK(store.uploads == 3, "second push uploaded again (%d)", store.uploads);
    // without the log: the tasks' meta still knows the hashes
    char *other_log = yl_path_join(dir, "push/other.jsonl");
    char a_other[600];
    snprintf(a_other, sizeof a_other, "log=%s", other_log);
    char *argv_other[] = {a_model, a_url, "project=1", a_source, a_other, "imgsz=64", "conf=0", "max_det=3"};
    CHECK(yl_cmd_push(8, argv_other) == 0, "push with a fresh log failed");
    CHECK(store.uploads == 3, "meta hashes were not used (%d uploads)", store.uploads);
    // tasks that lost their meta: the log still knows
    cJSON *t;
    cJSON_ArrayForEach(t, store.tasks) cJSON_ReplaceItemInObject(t, "meta", cJSON_CreateObject());
    CHECK(yl_cmd_push(8, argv) == 0, "push without meta failed");
    CHECK(store.uploads == 3, "the push log was not used (%d uploads)", store.uploads);

    // a new image whose upload fails: exit 1, not logged; the next push imports it once
    char *fresh = yl_path_join(field, "d.png");
    CHECK_OK(yl_fs_copy_file(list.paths[3], fresh));
    store.fail_uploads = 1;
    CHECK(yl_cmd_push(8, argv) == 1, "a failed upload should exit 1");
    CHECK(task_count(&store) == 3, "a failed upload created a task");
    check_log(log, &store, 3);
    char *argv_dry[] = {a_model, a_url, "project=1", a_source, a_log, "imgsz=64", "conf=0", "dry_run=true"};
    CHECK(yl_cmd_push(8, argv_dry) == 0, "dry run failed");
    CHECK(task_count(&store) == 3 && store.uploads == 3, "dry run imported");
    CHECK(yl_cmd_push(8, argv) == 0, "push after the failure: %s", yl_last_error());
    CHECK(task_count(&store) == 4, "the failed image was not imported on retry (%d tasks)", task_count(&store));
    CHECK(yl_cmd_push(8, argv) == 0 && task_count(&store) == 4, "imported twice");
    check_log(log, &store, 4);

    // no token: exit 1, nothing imported
    unsetenv("LABEL_STUDIO_API_KEY");
    char *fresh2 = yl_path_join(field, "e.png");
    CHECK_OK(yl_fs_copy_file(list.paths[4], fresh2));
    CHECK(yl_cmd_push(8, argv) == 1, "no token should exit 1");
    CHECK(task_count(&store) == 4, "imported without a token");
    setenv("LABEL_STUDIO_API_KEY", RT_TOKEN, 1);

    // bad arguments
    char *bad1[] = {a_model, a_url, "project=1"};
    CHECK(yl_cmd_push(3, bad1) == 2, "no source");
    char *bad2[] = {a_model, a_source};
    CHECK(yl_cmd_push(2, bad2) == 2, "no url/project without a workspace");
    char *bad3[] = {a_model, a_url, "project=1", a_source, "token=abc"};
    CHECK(yl_cmd_push(5, bad3) == 2, "a token argument must be refused");
    char *bad4[] = {a_model, a_url, "project=1", a_source, "strategy=random"};
    CHECK(yl_cmd_push(5, bad4) == 2, "random is no uncertainty");
    char *help[] = {"--help"};
    CHECK(yl_cmd_push(1, help) == 0, "--help");

    ls_store_detach(&store, &mock);
    ls_mock_stop(&mock);
    yl_path_list_free(&list);
    free(fresh);
    free(fresh2);
    free(other_log);
    free(log);
    free(field);
    free(media);
}

// workspace=: yoloop.yaml names the project; the registry's deployed version is the model.
static void test_workspace(const char *dir, const char *model, const char *images) {
    ls_mock mock;
    ls_store store;
    char *media = yl_path_join(dir, "media_ws");
    rt_start_mock(&mock, &store, media);
    char *ws = yl_path_join(dir, "ws");
    CHECK_OK(yl_fs_mkdirs(ws));
    yl_workspace_config c = yl_workspace_config_defaults();
    static char *names[2] = {"Airplane", "Car"};
    c.root = ws;
    c.source = YL_SOURCE_LABEL_STUDIO;
    c.ls_url = mock.base_url;
    c.ls_project = 1;
    c.nc = 2;
    c.names = names;
    yl_status st = yl_workspace_config_save(&c);
    if (st != YL_OK) {
        printf("workspace part not run: yl_workspace_config_save: %s\n", yl_last_error());
        CHECK_OK(st);
    }
    char id[YL_VERSION_ID_SIZE] = "";
    if (st == YL_OK) CHECK_OK(yl_registry_add(ws, model, "import", NULL, NULL, id));
    char a_ws[600], a_source[600];
    snprintf(a_ws, sizeof a_ws, "workspace=%s", ws);
    snprintf(a_source, sizeof a_source, "source=%s", images);
    char *argv[] = {a_ws, a_source, "imgsz=64", "conf=0", "max_det=3"};
    // nothing deployed yet: a clear error
    CHECK(yl_cmd_push(5, argv) == 1, "push with nothing deployed should exit 1");
    CHECK(strstr(yl_last_error(), "deployed"), "message: %s", yl_last_error());
    if (id[0]) CHECK_OK(yl_registry_deploy(ws, id, "test"));
    CHECK(yl_cmd_push(5, argv) == 0, "workspace push failed: %s", yl_last_error());
    CHECK(task_count(&store) == 10, "workspace push imported %d tasks, expected 10", task_count(&store));
    char version[64];
    snprintf(version, sizeof version, "%s-push", id);
    check_tasks(&store, media, version);
    char *log = yl_path_join(ws, "push_log.jsonl");
    CHECK(rt_count_lines(log) == 10, "workspace push log lines: %d", rt_count_lines(log));
    ls_store_detach(&store, &mock);
    ls_mock_stop(&mock);
    free(log);
    free(ws);
    free(media);
}

int main(void) {
    char *dir = data_test_tempdir();
    char *images = rt_synth(dir, 10, 9);
    char *model = rt_model(dir);
    test_model_file(dir, model, images);
    test_workspace(dir, model, images);
    data_test_remove_tree(dir);
    free(images);
    free(model);
    free(dir);
    return yl_test_finish("test_push");
}
