// cli/cycle/registry.c and the deploy/rollback/models commands: add/deploy/rollback/list round
// trips, lineage in meta.json, refusal of a tampered model (sha256 mismatch) and of unknown ids,
// recovery of a pointer change the log missed, and a crash test: a child adding, deploying and
// rolling back in a loop is SIGKILLed at seeded random moments, and after each kill the registry
// must be whole (deployed names a complete version whose hash matches, every version folder is
// complete, deployments.jsonl parses line by line, the next add and deploy work).
#define _DEFAULT_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli/commands.h"
#include "cli/cycle/registry.h"
#include "cli/fs_util.h"
#include "test_command.h"
#include "fs_test_util.h"
#include "test_common.h"

static char root[256];

static void make_path(char *out, size_t size, const char *a, const char *b) { snprintf(out, size, "%s/%s", a, b); }

static int count_lines(const char *path) {
    char *text = yl_test_read_text(path);
    int n = 0;
    for (char *p = text; p && *p; p++) n += *p == '\n';
    free(text);
    return n;
}

// A fresh workspace folder under root.
static void new_workspace(char *ws, size_t size, const char *name) {
    make_path(ws, size, root, name);
    yl_fs_remove_tree(ws);
    if (yl_fs_mkdirs(ws) != YL_OK) {
        fprintf(stderr, "setup: %s\n", yl_last_error());
        exit(2);
    }
}

// Runs a command with stdout captured; returns the exit code.
static int run_cmd(int (*cmd)(int, char **), char **text, int argc, char **argv) {
    return yl_test_run_command(cmd, argc, argv, text);
}

// Checks every invariant of a registry; returns the number of failed checks.
static int check_registry_whole(const char *ws, bool expect_deployed) {
    int before = yl_test_failures;
    char deployed[YL_VERSION_ID_SIZE];
    CHECK_OK(yl_registry_deployed(ws, deployed));
    if (expect_deployed) CHECK(deployed[0] != '\0', "a version is deployed");
    yl_model_version *versions = NULL;
    int count = 0;
    CHECK_OK(yl_registry_list(ws, &versions, &count));
    bool deployed_listed = !deployed[0];
    for (int i = 0; i < count; i++) {
        char model[600], sha[65];
        CHECK_OK(yl_registry_model_path(ws, versions[i].id, model, sizeof model));
        CHECK_OK(yl_fs_sha256_file(model, sha));
        CHECK(!strcmp(sha, versions[i].sha256), "%s: model hash %s vs meta %s", versions[i].id, sha, versions[i].sha256);
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(versions[i].meta, "id");
        CHECK(cJSON_IsString(id) && !strcmp(id->valuestring, versions[i].id), "%s: meta id", versions[i].id);
        if (!strcmp(versions[i].id, deployed)) deployed_listed = true;
    }
    CHECK(deployed_listed, "deployed %s is a complete listed version", deployed);
    yl_registry_list_free(versions, count);

    // Every v* folder is complete (list only sees well-formed ids; look at the raw folder too).
    char dir[600];
    make_path(dir, sizeof dir, ws, "models/versions");
    char **names = NULL;
    int n = 0;
    if (yl_fs_is_dir(dir)) CHECK_OK(yl_fs_list_dir(dir, &names, &n));
    for (int i = 0; i < n; i++) {
        if (names[i][0] != 'v') continue;
        char meta[1200], model[1200];
        snprintf(meta, sizeof meta, "%s/%s/meta.json", dir, names[i]);
        snprintf(model, sizeof model, "%s/%s/model.safetensors", dir, names[i]);
        CHECK(yl_fs_is_file(meta) && yl_fs_is_file(model), "%s complete", names[i]);
    }
    yl_fs_free_names(names, n);

    char log[600];
    make_path(log, sizeof log, ws, "models/deployments.jsonl");
    char *text = yl_test_read_text(log);
    int line_no = 0;
    for (char *line = text; line && *line;) {
        char *next = strchr(line, '\n');
        CHECK(next != NULL, "deployments.jsonl ends with a newline");
        if (next) *next = '\0';
        line_no++;
        cJSON *j = cJSON_Parse(line);
        const cJSON *to = cJSON_GetObjectItemCaseSensitive(j, "to");
        CHECK(cJSON_IsObject(j) && cJSON_IsString(to), "deployments.jsonl:%d parses: %s", line_no, line);
        cJSON_Delete(j);
        line = next ? next + 1 : NULL;
    }
    free(text);
    return yl_test_failures - before;
}

// ---- round trips --------------------------------------------------------------------------

static void test_round_trip(void) {
    char ws[300], a[600], b[600], c[600];
    new_workspace(ws, sizeof ws, "rt");
    make_path(a, sizeof a, root, "a.bin");
    make_path(b, sizeof b, root, "b.bin");
    make_path(c, sizeof c, root, "c.bin");
    yl_test_write_text(a, "model A weights");
    yl_test_write_text(b, "model B weights, fine-tuned");
    yl_test_write_text(c, "model C");

    char id[YL_VERSION_ID_SIZE], deployed[YL_VERSION_ID_SIZE];
    CHECK_OK(yl_registry_deployed(ws, deployed));
    CHECK(deployed[0] == '\0', "nothing deployed in a new workspace");
    yl_model_version *versions = NULL;
    int count = -1;
    CHECK_OK(yl_registry_list(ws, &versions, &count));
    CHECK(count == 0, "empty registry lists %d", count);
    yl_registry_list_free(versions, count);
    CHECK_STATUS(yl_registry_rollback(ws, NULL, NULL, id), YL_ERR_INVALID_ARG);

    cJSON *meta = cJSON_Parse("{\"metrics\":{\"map50\":0.5},\"note\":\"baseline\",\"id\":\"v9999\"}");
    CHECK_OK(yl_registry_add(ws, a, "init", NULL, meta, id));
    CHECK(!strcmp(id, "v0001"), "first id %s", id);
    cJSON_Delete(meta);
    meta = cJSON_Parse("{\"metrics\":{\"map50\":0.625},\"cycle\":\"c1\"}");
    CHECK_OK(yl_registry_add(ws, b, "finetune", "v0001", meta, id));
    CHECK(!strcmp(id, "v0002"), "second id %s", id);
    cJSON_Delete(meta);
    CHECK_OK(yl_registry_add(ws, c, "finetune", id, NULL, id));  // parent and id_out may alias
    CHECK(!strcmp(id, "v0003"), "third id %s", id);

    // meta.json: the caller's fields kept, the registry's own set (its "id" wins over the caller's).
    char meta_path[600], sha_a[65];
    make_path(meta_path, sizeof meta_path, ws, "models/versions/v0001/meta.json");
    char *text = yl_test_read_text(meta_path);
    cJSON *m = cJSON_Parse(text);
    free(text);
    CHECK_OK(yl_fs_sha256_file(a, sha_a));
    CHECK(!strcmp(cJSON_GetObjectItem(m, "id")->valuestring, "v0001"), "meta id");
    CHECK(cJSON_IsNull(cJSON_GetObjectItem(m, "parent")), "root parent is null");
    CHECK(!strcmp(cJSON_GetObjectItem(m, "sha256")->valuestring, sha_a), "meta sha256 is the model's");
    CHECK(!strcmp(cJSON_GetObjectItem(m, "origin")->valuestring, "init"), "origin");
    CHECK(!strcmp(cJSON_GetObjectItem(m, "note")->valuestring, "baseline"), "caller field kept");
    CHECK(strlen(cJSON_GetObjectItem(m, "created_at")->valuestring) == 20, "created_at");
    cJSON_Delete(m);

    // Lineage and metrics in the listing; the model bytes are the source's.
    CHECK_OK(yl_registry_list(ws, &versions, &count));
    CHECK(count == 3, "three versions, got %d", count);
    if (count == 3) {
        CHECK(!strcmp(versions[0].parent, "") && !strcmp(versions[1].parent, "v0001") &&
                  !strcmp(versions[2].parent, "v0002"),
              "lineage %s <- %s <- %s", versions[0].parent, versions[1].parent, versions[2].parent);
        CHECK(versions[0].map50 == 0.5 && versions[1].map50 == 0.625 && versions[2].map50 == -1.0, "map50 %g %g %g",
              versions[0].map50, versions[1].map50, versions[2].map50);
        CHECK(!strcmp(versions[1].origin, "finetune"), "origin %s", versions[1].origin);
        CHECK(!versions[0].deployed && !versions[1].deployed && !versions[2].deployed, "none deployed");
    }
    yl_registry_list_free(versions, count);
    char model[600];
    CHECK_OK(yl_registry_model_path(ws, "v0002", model, sizeof model));
    text = yl_test_read_text(model);
    CHECK(text && !strcmp(text, "model B weights, fine-tuned"), "stored model bytes");
    free(text);
    CHECK_STATUS(yl_registry_model_path(ws, "v0004", model, sizeof model), YL_ERR_INVALID_ARG);

    // Bad adds.
    char missing[600];
    make_path(missing, sizeof missing, root, "missing.bin");
    CHECK_STATUS(yl_registry_add(ws, missing, "import", NULL, NULL, id), YL_ERR_IO);
    CHECK_STATUS(yl_registry_add(ws, a, "finetune", "v0042", NULL, id), YL_ERR_INVALID_ARG);
    CHECK(strstr(yl_last_error(), "v0042") != NULL, "message names the parent: %s", yl_last_error());

    // Deploy chain and rollbacks walking back through it.
    CHECK_OK(yl_registry_deploy(ws, "v0001", "baseline"));
    CHECK_OK(yl_registry_deploy(ws, "v0002", NULL));
    CHECK_OK(yl_registry_deploy(ws, "v0003", "better"));
    CHECK_OK(yl_registry_deployed(ws, deployed));
    CHECK(!strcmp(deployed, "v0003"), "deployed %s", deployed);
    yl_model_version v;
    CHECK_OK(yl_registry_get(ws, "v0003", &v));
    CHECK(v.deployed && !strcmp(v.parent, "v0002"), "get v0003: deployed %d parent %s", v.deployed, v.parent);
    yl_registry_version_free(&v);
    CHECK_OK(yl_registry_get(ws, "v0001", &v));
    CHECK(!v.deployed, "v0001 not deployed");
    yl_registry_version_free(&v);

    CHECK_OK(yl_registry_rollback(ws, NULL, "regressed", id));
    CHECK(!strcmp(id, "v0002"), "rollback -> %s", id);
    CHECK_OK(yl_registry_rollback(ws, NULL, NULL, id));
    CHECK(!strcmp(id, "v0001"), "second rollback -> %s", id);
    CHECK_STATUS(yl_registry_rollback(ws, NULL, NULL, id), YL_ERR_INVALID_ARG);  // nothing earlier
    CHECK_OK(yl_registry_rollback(ws, "v0003", NULL, id));
    CHECK(!strcmp(id, "v0003"), "rollback to= -> %s", id);
    CHECK_OK(yl_registry_rollback(ws, NULL, NULL, id));
    CHECK(!strcmp(id, "v0001"), "rollback after to= -> %s", id);
    CHECK_STATUS(yl_registry_rollback(ws, "v0001", NULL, id), YL_ERR_INVALID_ARG);  // already deployed
    CHECK_OK(yl_registry_deployed(ws, deployed));
    CHECK(!strcmp(deployed, "v0001"), "deployed %s", deployed);

    char pointer[600], log[600];
    make_path(pointer, sizeof pointer, ws, "models/deployed");
    make_path(log, sizeof log, ws, "models/deployments.jsonl");
    text = yl_test_read_text(pointer);
    CHECK(text && !strcmp(text, "v0001\n"), "pointer file '%s'", text ? text : "");
    free(text);
    CHECK(count_lines(log) == 7, "deployments.jsonl has %d lines, expected 7", count_lines(log));
    text = yl_test_read_text(log);
    char *last = text ? strrchr(text, '{') : NULL;
    cJSON *entry = last ? cJSON_Parse(last) : NULL;
    CHECK(entry && !strcmp(cJSON_GetObjectItem(entry, "from")->valuestring, "v0003") &&
              !strcmp(cJSON_GetObjectItem(entry, "to")->valuestring, "v0001") &&
              !strcmp(cJSON_GetObjectItem(entry, "action")->valuestring, "rollback"),
          "last log line %s", last ? last : "");
    cJSON_Delete(entry);
    free(text);
    char *first_line = yl_test_read_text(log);
    CHECK(first_line && strstr(first_line, "\"from\":null") && strstr(first_line, "\"reason\":\"baseline\""),
          "first log line %s", first_line ? first_line : "");
    free(first_line);

    // Unknown and malformed ids change nothing.
    CHECK_STATUS(yl_registry_deploy(ws, "v0042", NULL), YL_ERR_INVALID_ARG);
    CHECK(strstr(yl_last_error(), "v0042") != NULL, "message names the version: %s", yl_last_error());
    CHECK_STATUS(yl_registry_deploy(ws, "banana", NULL), YL_ERR_INVALID_ARG);
    CHECK_STATUS(yl_registry_rollback(ws, "v0042", NULL, id), YL_ERR_INVALID_ARG);

    // A tampered model file is refused for deploy and rollback; the pointer and log stay.
    char tampered[600];
    make_path(tampered, sizeof tampered, ws, "models/versions/v0002/model.safetensors");
    yl_test_write_text(tampered, "model B weights, fine-tuneD");
    CHECK_STATUS(yl_registry_deploy(ws, "v0002", NULL), YL_ERR_FORMAT);
    CHECK(strstr(yl_last_error(), "sha256") && strstr(yl_last_error(), "v0002"), "mismatch message: %s",
          yl_last_error());
    CHECK_STATUS(yl_registry_rollback(ws, "v0002", NULL, id), YL_ERR_FORMAT);
    CHECK_OK(yl_registry_deployed(ws, deployed));
    CHECK(!strcmp(deployed, "v0001"), "pointer unchanged after refusal: %s", deployed);
    CHECK(count_lines(log) == 7, "log unchanged after refusal: %d lines", count_lines(log));

    // A broken meta.json is an error naming the file.
    char meta3[600];
    make_path(meta3, sizeof meta3, ws, "models/versions/v0003/meta.json");
    yl_test_write_text(meta3, "{\"id\": \"v0003\", ");
    CHECK_STATUS(yl_registry_get(ws, "v0003", &v), YL_ERR_FORMAT);
    CHECK(strstr(yl_last_error(), "v0003/meta.json") != NULL, "message names meta.json: %s", yl_last_error());
    CHECK_STATUS(yl_registry_list(ws, &versions, &count), YL_ERR_FORMAT);
}

// A pointer changed without a log line (a deploy killed between the two writes): the next
// rollback still goes to the version before it and the log gets the missing line.
static void test_pointer_without_log(void) {
    char ws[300], a[600], pointer[600], log[600];
    new_workspace(ws, sizeof ws, "recover");
    make_path(a, sizeof a, root, "a.bin");
    char id[YL_VERSION_ID_SIZE];
    for (int i = 0; i < 3; i++) CHECK_OK(yl_registry_add(ws, a, "import", NULL, NULL, id));
    CHECK_OK(yl_registry_deploy(ws, "v0001", NULL));
    CHECK_OK(yl_registry_deploy(ws, "v0002", NULL));
    make_path(pointer, sizeof pointer, ws, "models/deployed");
    make_path(log, sizeof log, ws, "models/deployments.jsonl");
    yl_test_write_text(pointer, "v0003\n");
    CHECK_OK(yl_registry_rollback(ws, NULL, NULL, id));
    CHECK(!strcmp(id, "v0002"), "rollback from an unlogged v0003 -> %s", id);
    CHECK(count_lines(log) == 4, "log has the recovered line and the rollback: %d lines", count_lines(log));
    char *text = yl_test_read_text(log);
    CHECK(text && strstr(text, "\"to\":\"v0003\"") && strstr(text, "recorded late"), "recovered line in %s",
          text ? text : "");
    free(text);

    // A malformed log line is an error naming file:line.
    yl_test_write_text(log, "{\"to\":\"v0001\",\"action\":\"deploy\"}\nnot json\n");
    CHECK_STATUS(yl_registry_rollback(ws, NULL, NULL, id), YL_ERR_FORMAT);
    CHECK(strstr(yl_last_error(), "deployments.jsonl:2") != NULL, "message names the line: %s", yl_last_error());
    yl_test_write_text(pointer, "garbage\n");
    CHECK_STATUS(yl_registry_deployed(ws, id), YL_ERR_FORMAT);
}

// Temp folders of killed adds are removed by the next add; those of a live process stay.
static void test_stale_temp_folders(void) {
    char ws[300], a[600], dead[600], live[600];
    new_workspace(ws, sizeof ws, "temps");
    make_path(a, sizeof a, root, "a.bin");
    char id[YL_VERSION_ID_SIZE];
    CHECK_OK(yl_registry_add(ws, a, "import", NULL, NULL, id));
    snprintf(dead, sizeof dead, "%s/models/versions/.v0002.tmp.99999999", ws);
    snprintf(live, sizeof live, "%s/models/versions/.v0002.tmp.%ld", ws, (long)getppid());
    CHECK_OK(yl_fs_mkdirs(dead));
    CHECK_OK(yl_fs_mkdirs(live));
    CHECK_OK(yl_registry_add(ws, a, "import", NULL, NULL, id));
    CHECK(!strcmp(id, "v0002"), "temp folders do not take ids: %s", id);
    CHECK(!yl_fs_exists(dead), "dead writer's temp removed");
    CHECK(yl_fs_exists(live), "live writer's temp kept");
    check_registry_whole(ws, false);
}

// ---- commands -----------------------------------------------------------------------------

static void test_commands(void) {
    char ws[300], a[600], b[600], arg_ws[320];
    new_workspace(ws, sizeof ws, "cmd");
    make_path(a, sizeof a, root, "a.bin");
    make_path(b, sizeof b, root, "b.bin");
    char id[YL_VERSION_ID_SIZE];
    cJSON *meta = cJSON_Parse("{\"metrics\":{\"map50\":0.4321}}");
    CHECK_OK(yl_registry_add(ws, a, "init", NULL, meta, id));
    cJSON_Delete(meta);
    CHECK_OK(yl_registry_add(ws, b, "finetune", "v0001", NULL, id));
    snprintf(arg_ws, sizeof arg_ws, "workspace=%s", ws);
    char *text;

    char *help[] = {"--help"};
    CHECK(run_cmd(yl_cmd_deploy, &text, 1, help) == 0 && strstr(text, "usage: yoloop deploy"), "deploy --help");
    CHECK(run_cmd(yl_cmd_rollback, &text, 1, help) == 0 && strstr(text, "usage: yoloop rollback"), "rollback --help");
    CHECK(run_cmd(yl_cmd_models, &text, 1, help) == 0 && strstr(text, "usage: yoloop models"), "models --help");
    CHECK(run_cmd(yl_cmd_history, &text, 1, help) == 0 && strstr(text, "usage: yoloop history"), "history --help");

    char *no_ws[] = {"version=v0001"};
    CHECK(run_cmd(yl_cmd_deploy, &text, 1, no_ws) == 2, "deploy without workspace= -> 2");
    char *no_version[] = {arg_ws};
    CHECK(run_cmd(yl_cmd_deploy, &text, 1, no_version) == 2, "deploy without version= -> 2");
    char *bad_version[] = {arg_ws, "version=3"};
    CHECK(run_cmd(yl_cmd_deploy, &text, 2, bad_version) == 2, "version=3 -> 2");
    char *unknown[] = {arg_ws, "colour=red"};
    CHECK(run_cmd(yl_cmd_models, &text, 2, unknown) == 2, "unknown key -> 2");
    char *not_kv[] = {arg_ws, "v0001"};
    CHECK(run_cmd(yl_cmd_rollback, &text, 2, not_kv) == 2, "not key=value -> 2");
    char *absent[] = {arg_ws, "version=v0009"};
    CHECK(run_cmd(yl_cmd_deploy, &text, 2, absent) == 1, "unknown version -> 1");
    char *missing_ws[] = {"workspace=/nonexistent/yl_ws", "version=v0001"};
    CHECK(run_cmd(yl_cmd_deploy, &text, 2, missing_ws) == 1, "missing workspace -> 1");

    char *deploy1[] = {arg_ws, "version=v0001", "reason=first"};
    CHECK(run_cmd(yl_cmd_deploy, &text, 3, deploy1) == 0 && strstr(text, "deployed v0001 (was none)"), "deploy: %s",
          text);
    char *deploy2[] = {arg_ws, "version=v0002"};
    CHECK(run_cmd(yl_cmd_deploy, &text, 2, deploy2) == 0 && strstr(text, "deployed v0002 (was v0001)"), "deploy: %s",
          text);
    char *list[] = {arg_ws};
    CHECK(run_cmd(yl_cmd_models, &text, 1, list) == 0, "models");
    char sha_a[65];
    CHECK_OK(yl_fs_sha256_file(a, sha_a));
    char row1[128];
    snprintf(row1, sizeof row1, "  v0001    -        init");
    CHECK(strstr(text, row1) && strstr(text, "0.4321") && strstr(text, "* v0002    v0001    finetune"),
          "models table:\n%s", text);
    char prefix[13];
    snprintf(prefix, sizeof prefix, "%.12s", sha_a);
    CHECK(strstr(text, prefix) != NULL, "sha prefix %s in:\n%s", prefix, text);

    char *rollback[] = {arg_ws, "reason=worse"};
    CHECK(run_cmd(yl_cmd_rollback, &text, 2, rollback) == 0 && strstr(text, "rolled back to v0001 (was v0002)"),
          "rollback: %s", text);
    CHECK(run_cmd(yl_cmd_rollback, &text, 2, rollback) == 1, "rollback with nothing earlier -> 1");
    char *rollback_to[] = {arg_ws, "to=v0002"};
    CHECK(run_cmd(yl_cmd_rollback, &text, 2, rollback_to) == 0 && strstr(text, "rolled back to v0002"), "to=: %s",
          text);

    // A cycle holding the workspace lock keeps deploy out (exit 1, pointer unchanged).
    int ready[2];
    if (pipe(ready) != 0) return;
    pid_t child = fork();
    if (child == 0) {
        close(ready[0]);
        yl_fs_lock lock;
        char ok = yl_fs_lock_dir(ws, false, &lock) == YL_OK ? 'y' : 'n';
        if (write(ready[1], &ok, 1) != 1) _exit(3);
        for (;;) pause();
    }
    close(ready[1]);
    char ok = 0;
    CHECK(read(ready[0], &ok, 1) == 1 && ok == 'y', "child holds the lock");
    close(ready[0]);
    CHECK(run_cmd(yl_cmd_deploy, &text, 2, deploy1) == 1, "deploy under a held lock -> 1");
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
    char deployed[YL_VERSION_ID_SIZE];
    CHECK_OK(yl_registry_deployed(ws, deployed));
    CHECK(!strcmp(deployed, "v0002"), "pointer unchanged under the lock: %s", deployed);
    CHECK(run_cmd(yl_cmd_deploy, &text, 3, deploy1) == 0, "deploy after the holder died");

    // A killed cycle's pending commit keeps deploy and rollback out until a cycle completes it.
    char history[400], journal[450];
    snprintf(history, sizeof history, "%s/history", ws);
    snprintf(journal, sizeof journal, "%s/pending_commit.json", history);
    CHECK_OK(yl_fs_mkdirs(history));
    CHECK_OK(yl_fs_write_atomic(journal, "{}", 2));
    CHECK(run_cmd(yl_cmd_deploy, &text, 2, deploy2) == 1, "deploy with a pending cycle commit -> 1");
    CHECK(run_cmd(yl_cmd_rollback, &text, 2, rollback) == 1, "rollback with a pending cycle commit -> 1");
    CHECK_OK(yl_registry_deployed(ws, deployed));
    CHECK(!strcmp(deployed, "v0001"), "pointer unchanged while a commit is pending: %s", deployed);
    CHECK(remove(journal) == 0, "remove the journal");
    CHECK(run_cmd(yl_cmd_deploy, &text, 2, deploy2) == 0, "deploy once nothing is pending");
}

// ---- crash test ---------------------------------------------------------------------------

// The child's endless work: add a version (random size, parent = deployed), deploy it, sometimes
// roll back. Any failure exits with a code the parent reports.
static void churn(const char *ws, const char *src, unsigned seed) {
    srand(seed);
    static unsigned char buf[64000];
    for (unsigned iter = 0;; iter++) {
        size_t size = 2000 + (size_t)(rand() % 60000);
        for (size_t i = 0; i < size; i++) buf[i] = (unsigned char)(rand() >> 7);
        if (yl_fs_write_atomic(src, buf, size) != YL_OK) _exit(10);
        char parent[YL_VERSION_ID_SIZE], id[YL_VERSION_ID_SIZE];
        if (yl_registry_deployed(ws, parent) != YL_OK) _exit(11);
        cJSON *meta = cJSON_CreateObject();
        cJSON_AddNumberToObject(meta, "iter", iter);
        if (yl_registry_add(ws, src, "finetune", parent, meta, id) != YL_OK) {
            fprintf(stderr, "child add: %s\n", yl_last_error());
            _exit(12);
        }
        cJSON_Delete(meta);
        if (yl_registry_deploy(ws, id, "churn") != YL_OK) {
            fprintf(stderr, "child deploy: %s\n", yl_last_error());
            _exit(13);
        }
        if (rand() % 3 == 0 && yl_registry_rollback(ws, NULL, "churn", id) != YL_OK) {
            fprintf(stderr, "child rollback: %s\n", yl_last_error());
            _exit(14);
        }
    }
}

static void test_crash(void) {
    char ws[300], src[600], parent_src[600];
    new_workspace(ws, sizeof ws, "crash");
    make_path(src, sizeof src, root, "churn.bin");
    make_path(parent_src, sizeof parent_src, root, "parent.bin");
    yl_test_write_text(parent_src, "the parent's own model");
    char id[YL_VERSION_ID_SIZE];
    CHECK_OK(yl_registry_add(ws, parent_src, "init", NULL, NULL, id));
    CHECK_OK(yl_registry_deploy(ws, id, "start"));

    srand(20261123);
    const int kills = 20;
    int temps_seen = 0, pointer_temps = 0;
    for (int k = 0; k < kills; k++) {
        pid_t child = fork();
        if (child == 0) churn(ws, src, 1000u + (unsigned)k);
        struct timespec delay = {0, (long)(2000000 + rand() % 150000000)};  // 2-152 ms
        nanosleep(&delay, NULL);
        kill(child, SIGKILL);
        int status = 0;
        waitpid(child, &status, 0);
        CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL, "kill %d: child ended by itself (status %d)", k,
              WIFEXITED(status) ? WEXITSTATUS(status) : -1);

        // What the kill left: temp folders and files count as evidence of interrupted writes.
        char dir[600];
        char **names = NULL;
        int n = 0;
        make_path(dir, sizeof dir, ws, "models/versions");
        if (yl_fs_list_dir(dir, &names, &n) == YL_OK)
            for (int i = 0; i < n; i++) temps_seen += strstr(names[i], ".tmp.") != NULL;
        yl_fs_free_names(names, n);
        make_path(dir, sizeof dir, ws, "models");
        if (yl_fs_list_dir(dir, &names, &n) == YL_OK)
            for (int i = 0; i < n; i++) pointer_temps += strstr(names[i], ".tmp.") != NULL;
        yl_fs_free_names(names, n);

        if (check_registry_whole(ws, true)) fprintf(stderr, "  after kill %d\n", k);
        char deployed[YL_VERSION_ID_SIZE];
        CHECK_OK(yl_registry_deployed(ws, deployed));
        CHECK_OK(yl_registry_add(ws, parent_src, "import", deployed[0] ? deployed : NULL, NULL, id));
        CHECK_OK(yl_registry_deploy(ws, id, "after kill"));
        CHECK_OK(yl_registry_deployed(ws, deployed));
        CHECK(!strcmp(deployed, id), "deploy after kill %d: %s vs %s", k, deployed, id);
        char log[600];
        make_path(log, sizeof log, ws, "models/deployments.jsonl");
        char *text = yl_test_read_text(log);
        char *last = text ? strrchr(text, '{') : NULL;
        cJSON *entry = last ? cJSON_Parse(last) : NULL;
        const cJSON *to = cJSON_GetObjectItem(entry, "to");
        CHECK(cJSON_IsString(to) && !strcmp(to->valuestring, id), "log's last line is the new deploy");
        cJSON_Delete(entry);
        free(text);
    }
    yl_model_version *versions = NULL;
    int count = 0;
    CHECK_OK(yl_registry_list(ws, &versions, &count));
    yl_registry_list_free(versions, count);
    char log[600];
    make_path(log, sizeof log, ws, "models/deployments.jsonl");
    printf("crash test: %d kills, %d versions, %d deployments logged, temp folders seen after kills: %d, "
           "pointer/log temps: %d\n",
           kills, count, count_lines(log), temps_seen, pointer_temps);
    // A low bar on purpose: the machine is shared, and the invariants above are what matters.
    CHECK(count > kills + 5, "the child made progress (%d versions)", count);
}

int main(void) {
    snprintf(root, sizeof root, "/tmp/yl_test_registry.%ld", (long)getpid());
    if (yl_fs_mkdirs(root) != YL_OK) {
        fprintf(stderr, "cannot create %s: %s\n", root, yl_last_error());
        return 1;
    }
    test_round_trip();
    test_pointer_without_log();
    test_stale_temp_folders();
    test_commands();
    test_crash();
    yl_fs_remove_tree(root);
    return yl_test_finish("test_registry");
}
