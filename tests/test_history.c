// cli/cycle/history.c and `yoloop history`: eval_history.csv round trip, previous mAP50 (last
// deployed row on the new data), malformed lines named by file:line, decisions.jsonl,
// last_eval_snapshot, and a crash test: a child appending rows and decisions is SIGKILLed at
// seeded random moments; each file must then hold exactly the rows of the appends that finished
// (old or new content, never a torn line), and the next append must work.
#define _DEFAULT_SOURCE
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli/commands.h"
#include "cli/cycle/history.h"
#include "cli/fs_util.h"
#include "test_command.h"
#include "fs_test_util.h"
#include "test_common.h"

static char root[256];

static void new_workspace(char *ws, size_t size, const char *name) {
    snprintf(ws, size, "%s/%s", root, name);
    yl_fs_remove_tree(ws);
    if (yl_fs_mkdirs(ws) != YL_OK) {
        fprintf(stderr, "setup: %s\n", yl_last_error());
        exit(2);
    }
}

static yl_eval_row make_row(const char *cycle, const char *model, const char *role, const char *set, double map50) {
    yl_eval_row r;
    memset(&r, 0, sizeof r);
    snprintf(r.time, sizeof r.time, "2026-11-23T15:04:05Z");
    snprintf(r.cycle, sizeof r.cycle, "%s", cycle);
    snprintf(r.snapshot, sizeof r.snapshot, "20261123T150405Z");
    snprintf(r.model, sizeof r.model, "%s", model);
    snprintf(r.role, sizeof r.role, "%s", role);
    snprintf(r.eval_set, sizeof r.eval_set, "%s", set);
    r.images = 12;
    r.instances = 34;
    r.precision = 0.75;
    r.recall = 0.5;
    r.map50 = map50;
    r.map50_95 = map50 / 2;
    return r;
}

// Runs a command with stdout captured; returns the exit code.
static int run_cmd(int (*cmd)(int, char **), char **text, int argc, char **argv) {
    return yl_test_run_command(cmd, argc, argv, text);
}

static void test_evals(void) {
    char ws[300], csv[400];
    new_workspace(ws, sizeof ws, "evals");
    snprintf(csv, sizeof csv, "%s/history/eval_history.csv", ws);
    yl_eval_row *rows = NULL;
    int count = -1;
    CHECK_OK(yl_history_read_evals(ws, &rows, &count));
    CHECK(count == 0 && rows == NULL, "no file, no rows");
    double map50 = -1;
    bool found = true;
    CHECK_OK(yl_history_previous_map50(ws, &map50, &found));
    CHECK(!found, "no previous mAP50 without history");

    yl_eval_row in[5] = {
        make_row("c1", "v0001", "deployed", "new", 0.5),
        make_row("c2", "v0001", "deployed", "new", 0.61),
        make_row("c2", "v0002", "candidate", "new", 0.7),
        make_row("c2", "v0001", "deployed_golden", "golden", 0.9),
        make_row("c2", "v0002", "deployed", "golden", 0.95),
    };
    in[2].images = 0;
    in[2].precision = 0.123456;
    in[1].time[0] = '\0';  // filled with now
    for (int i = 0; i < 5; i++) CHECK_OK(yl_history_append_eval(ws, &in[i]));

    char *text = yl_test_read_text(csv);
    const char *start = "time,cycle,snapshot,model,role,eval_set,images,instances,precision,recall,map50,map50_95\n"
                        "2026-11-23T15:04:05Z,c1,20261123T150405Z,v0001,deployed,new,12,34,0.750000,0.500000,"
                        "0.500000,0.250000\n";
    CHECK(text && !strncmp(text, start, strlen(start)), "file starts with the header and the first row:\n%s",
          text ? text : "");
    free(text);

    CHECK_OK(yl_history_read_evals(ws, &rows, &count));
    CHECK(count == 5, "5 rows, got %d", count);
    for (int i = 0; i < count && i < 5; i++) {
        CHECK(!strcmp(rows[i].cycle, in[i].cycle) && !strcmp(rows[i].model, in[i].model) &&
                  !strcmp(rows[i].role, in[i].role) && !strcmp(rows[i].eval_set, in[i].eval_set),
              "row %d text fields", i);
        CHECK(rows[i].images == in[i].images && rows[i].instances == in[i].instances, "row %d counts", i);
        CHECK(fabs(rows[i].map50 - in[i].map50) < 1e-6 && fabs(rows[i].map50_95 - in[i].map50_95) < 1e-6 &&
                  fabs(rows[i].precision - in[i].precision) < 1e-6 && fabs(rows[i].recall - in[i].recall) < 1e-6,
              "row %d metrics", i);
    }
    if (count > 1) CHECK(strlen(rows[1].time) == 20 && rows[1].time[19] == 'Z', "time filled: %s", rows[1].time);
    free(rows);

    // The last deployed row on the new data, not a candidate's or a golden-set row.
    CHECK_OK(yl_history_previous_map50(ws, &map50, &found));
    CHECK(found && fabs(map50 - 0.61) < 1e-9, "previous mAP50 %g (found %d), expected 0.61", map50, found);

    // Rows that would break the CSV are refused; the file stays.
    yl_eval_row bad = make_row("c,3", "v0001", "deployed", "new", 0.5);
    CHECK_STATUS(yl_history_append_eval(ws, &bad), YL_ERR_INVALID_ARG);
    CHECK(strstr(yl_last_error(), "cycle") != NULL, "message names the field: %s", yl_last_error());
    bad = make_row("c3", "v0001", "deployed", "new", NAN);
    CHECK_STATUS(yl_history_append_eval(ws, &bad), YL_ERR_NUMERIC);
    CHECK_OK(yl_history_read_evals(ws, &rows, &count));
    CHECK(count == 5, "still 5 rows after refusals: %d", count);
    free(rows);
}

static void test_malformed_csv(void) {
    char ws[300], csv[400];
    new_workspace(ws, sizeof ws, "malformed");
    yl_eval_row r = make_row("c1", "v0001", "deployed", "new", 0.5);
    CHECK_OK(yl_history_append_eval(ws, &r));
    snprintf(csv, sizeof csv, "%s/history/eval_history.csv", ws);
    char *good = yl_test_read_text(csv);
    char text[2048];

    snprintf(text, sizeof text, "%s2026-11-23T15:04:05Z,c2,s,v0001,deployed,new,1,2,0.5,0.5,0.5\n", good);
    yl_test_write_text(csv, text);
    yl_eval_row *rows = NULL;
    int count = 0;
    CHECK_STATUS(yl_history_read_evals(ws, &rows, &count), YL_ERR_FORMAT);
    CHECK(strstr(yl_last_error(), "eval_history.csv:3") != NULL, "line named: %s", yl_last_error());
    CHECK_STATUS(yl_history_append_eval(ws, &r), YL_ERR_FORMAT);  // never extend a broken file
    char *after = yl_test_read_text(csv);
    CHECK(after && !strcmp(after, text), "refused append leaves the file as it was");
    free(after);
    double map50;
    bool found;
    CHECK_STATUS(yl_history_previous_map50(ws, &map50, &found), YL_ERR_FORMAT);

    snprintf(text, sizeof text, "%s\n2026-11-23T15:04:05Z,c2,s,v0001,deployed,new,1,2,0.5,0.5,zero,0.5\n", good);
    yl_test_write_text(csv, text);
    CHECK_STATUS(yl_history_read_evals(ws, &rows, &count), YL_ERR_FORMAT);
    CHECK(strstr(yl_last_error(), "eval_history.csv:4") && strstr(yl_last_error(), "map50"),
          "line and field named: %s", yl_last_error());

    yl_test_write_text(csv, "time,cycle,map50\n");
    CHECK_STATUS(yl_history_read_evals(ws, &rows, &count), YL_ERR_FORMAT);
    CHECK(strstr(yl_last_error(), "eval_history.csv:1") != NULL, "header line named: %s", yl_last_error());

    // The command reports it and exits 1.
    char arg_ws[320], *out;
    snprintf(arg_ws, sizeof arg_ws, "workspace=%s", ws);
    char *args[] = {arg_ws};
    CHECK(run_cmd(yl_cmd_history, &out, 1, args) == 1, "history on a malformed file -> 1");
    free(good);
}

static void test_decisions_and_snapshot(void) {
    char ws[300], path[400];
    new_workspace(ws, sizeof ws, "decisions");
    cJSON *array = NULL;
    CHECK_OK(yl_history_read_decisions(ws, &array));
    CHECK(cJSON_IsArray(array) && cJSON_GetArraySize(array) == 0, "no decisions yet");
    cJSON_Delete(array);

    cJSON *d1 = cJSON_Parse("{\"time\":\"2026-01-01T00:00:00Z\",\"cycle\":\"c1\",\"step\":\"baseline\","
                            "\"action\":\"record\",\"reason\":\"first run\",\"inputs\":{\"map50\":0.5}}");
    cJSON *d2 = cJSON_Parse("{\"cycle\":\"c2\",\"step\":\"decide\",\"action\":\"finetune\","
                            "\"reason\":\"map50 0.41 < 0.60\",\"inputs\":{\"map50\":0.41,\"previous\":0.5}}");
    CHECK_OK(yl_history_append_decision(ws, d1));
    CHECK_OK(yl_history_append_decision(ws, d2));
    CHECK(!cJSON_GetObjectItem(d2, "time"), "the caller's object is not modified");
    cJSON_Delete(d1);
    cJSON_Delete(d2);
    cJSON *not_object = cJSON_CreateString("x");
    CHECK_STATUS(yl_history_append_decision(ws, not_object), YL_ERR_INVALID_ARG);
    cJSON_Delete(not_object);

    CHECK_OK(yl_history_read_decisions(ws, &array));
    CHECK(cJSON_GetArraySize(array) == 2, "2 decisions, got %d", cJSON_GetArraySize(array));
    cJSON *first = cJSON_GetArrayItem(array, 0), *second = cJSON_GetArrayItem(array, 1);
    CHECK(first && !strcmp(cJSON_GetObjectItem(first, "time")->valuestring, "2026-01-01T00:00:00Z"), "time kept");
    CHECK(second && second->child && !strcmp(second->child->string, "time") &&
              strlen(second->child->valuestring) == 20,
          "time added first");
    const cJSON *prev = cJSON_GetObjectItem(cJSON_GetObjectItem(second, "inputs"), "previous");
    CHECK(cJSON_IsNumber(prev) && prev->valuedouble == 0.5, "nested inputs kept");
    cJSON_Delete(array);

    snprintf(path, sizeof path, "%s/history/decisions.jsonl", ws);
    char *text = yl_test_read_text(path);
    int lines = 0;
    for (char *p = text; p && *p; p++) lines += *p == '\n';
    CHECK(lines == 2, "one compact line per decision: %d lines", lines);

    // The command prints the evaluations and the decisions (decisions=false: the table only).
    yl_eval_row r = make_row("c2", "v0001", "deployed", "new", 0.41);
    CHECK_OK(yl_history_append_eval(ws, &r));
    char arg_ws[320], *out;
    snprintf(arg_ws, sizeof arg_ws, "workspace=%s", ws);
    char *args[] = {arg_ws};
    CHECK(run_cmd(yl_cmd_history, &out, 1, args) == 0, "history");
    CHECK(strstr(out, "evaluations (1)") && strstr(out, "0.4100") && strstr(out, "decisions (2)") &&
              strstr(out, "map50 0.41 < 0.60") && strstr(out, "baseline"),
          "history output:\n%s", out);
    char *no_decisions[] = {arg_ws, "decisions=false"};
    CHECK(run_cmd(yl_cmd_history, &out, 2, no_decisions) == 0 && strstr(out, "evaluations (1)") &&
              !strstr(out, "decisions ("),
          "decisions=false:\n%s", out);
    char *bad_bool[] = {arg_ws, "decisions=maybe"};
    CHECK(run_cmd(yl_cmd_history, &out, 2, bad_bool) == 2, "decisions=maybe -> 2");
    char *no_ws[] = {"decisions=true"};
    CHECK(run_cmd(yl_cmd_history, &out, 1, no_ws) == 2, "no workspace -> 2");

    // A malformed decisions line is named.
    free(text);
    yl_test_write_text(path, "{\"cycle\":\"c1\"}\n[1,2]\n");
    CHECK_STATUS(yl_history_read_decisions(ws, &array), YL_ERR_FORMAT);
    CHECK(strstr(yl_last_error(), "decisions.jsonl:2") != NULL, "line named: %s", yl_last_error());
    CHECK(run_cmd(yl_cmd_history, &out, 1, args) == 1, "history with a bad decisions file -> 1");

    // last_eval_snapshot.
    char id[64];
    CHECK_OK(yl_history_last_eval_snapshot(ws, id, sizeof id));
    CHECK(id[0] == '\0', "no snapshot evaluated yet");
    CHECK_OK(yl_history_set_last_eval_snapshot(ws, "20261123T150405Z"));
    CHECK_OK(yl_history_last_eval_snapshot(ws, id, sizeof id));
    CHECK(!strcmp(id, "20261123T150405Z"), "snapshot id %s", id);
    snprintf(path, sizeof path, "%s/history/last_eval_snapshot", ws);
    text = yl_test_read_text(path);
    CHECK(text && !strcmp(text, "20261123T150405Z\n"), "one line");
    free(text);
    char small[8];
    CHECK_STATUS(yl_history_last_eval_snapshot(ws, small, sizeof small), YL_ERR_FORMAT);
    CHECK_STATUS(yl_history_set_last_eval_snapshot(ws, "a\nb"), YL_ERR_INVALID_ARG);
    CHECK_STATUS(yl_history_set_last_eval_snapshot(ws, ""), YL_ERR_INVALID_ARG);
}

// ---- crash test ---------------------------------------------------------------------------

// Appends row c<n> then decision c<n>, forever; n continues from what the file holds.
static void churn(const char *ws) {
    for (;;) {
        yl_eval_row *rows = NULL;
        int n = 0;
        if (yl_history_read_evals(ws, &rows, &n) != YL_OK) _exit(10);
        free(rows);
        char cycle[32];
        snprintf(cycle, sizeof cycle, "c%d", n);
        yl_eval_row r = make_row(cycle, "v0001", "deployed", "new", 0.001 * n);
        if (yl_history_append_eval(ws, &r) != YL_OK) _exit(11);
        cJSON *d = cJSON_CreateObject();
        cJSON_AddStringToObject(d, "cycle", cycle);
        cJSON_AddStringToObject(d, "step", "decide");
        if (yl_history_append_decision(ws, d) != YL_OK) _exit(12);
        cJSON_Delete(d);
    }
}

// Rows must be c0, c1, ... in order; decisions the same, at most one behind (a kill between the
// two appends). Returns the row count.
static int check_history_whole(const char *ws, int kill_no) {
    yl_eval_row *rows = NULL;
    int n = 0;
    CHECK_OK(yl_history_read_evals(ws, &rows, &n));
    for (int i = 0; i < n; i++) {
        char want[32];
        snprintf(want, sizeof want, "c%d", i);
        CHECK(!strcmp(rows[i].cycle, want), "kill %d: row %d is %s, expected %s", kill_no, i, rows[i].cycle, want);
        if (strcmp(rows[i].cycle, want)) break;
    }
    free(rows);
    cJSON *decisions = NULL;
    CHECK_OK(yl_history_read_decisions(ws, &decisions));
    int m = cJSON_GetArraySize(decisions);
    CHECK(m == n || m == n - 1, "kill %d: %d rows, %d decisions", kill_no, n, m);
    int i = 0;
    const cJSON *d;
    cJSON_ArrayForEach(d, decisions) {
        char want[32];
        snprintf(want, sizeof want, "c%d", i++);
        const cJSON *c = cJSON_GetObjectItem(d, "cycle");
        CHECK(cJSON_IsString(c) && !strcmp(c->valuestring, want), "kill %d: decision %d", kill_no, i - 1);
    }
    cJSON_Delete(decisions);
    return n;
}

static void test_crash(void) {
    char ws[300];
    new_workspace(ws, sizeof ws, "crash");
    srand(424242);
    const int kills = 20;
    int rows_before = 0, temps = 0;
    for (int k = 0; k < kills; k++) {
        pid_t child = fork();
        if (child == 0) churn(ws);
        struct timespec delay = {0, (long)(1000000 + rand() % 40000000)};  // 1-41 ms
        nanosleep(&delay, NULL);
        kill(child, SIGKILL);
        int status = 0;
        waitpid(child, &status, 0);
        CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL, "kill %d: child ended by itself (exit %d)", k,
              WIFEXITED(status) ? WEXITSTATUS(status) : -1);
        char dir[400];
        snprintf(dir, sizeof dir, "%s/history", ws);
        char **names = NULL;
        int count = 0;
        if (yl_fs_list_dir(dir, &names, &count) == YL_OK)
            for (int i = 0; i < count; i++) temps += strstr(names[i], ".tmp.") != NULL;
        yl_fs_free_names(names, count);
        yl_fs_remove_stale_temps(dir);

        int n = check_history_whole(ws, k);
        CHECK(n >= rows_before, "kill %d: rows went from %d to %d", k, rows_before, n);
        // The parent completes a pending decision so the next child starts even, and appends.
        cJSON *decisions = NULL;
        if (yl_history_read_decisions(ws, &decisions) == YL_OK && cJSON_GetArraySize(decisions) == n - 1) {
            cJSON *d = cJSON_CreateObject();
            char cycle[32];
            snprintf(cycle, sizeof cycle, "c%d", n - 1);
            cJSON_AddStringToObject(d, "cycle", cycle);
            CHECK_OK(yl_history_append_decision(ws, d));
            cJSON_Delete(d);
        }
        cJSON_Delete(decisions);
        rows_before = n;
    }
    printf("crash test: %d kills, %d rows appended by killed children, temp files left by kills: %d\n", kills,
           rows_before, temps);
    CHECK(rows_before > 5, "the child made progress (%d rows)", rows_before);  // low bar: shared machine
}

int main(void) {
    snprintf(root, sizeof root, "/tmp/yl_test_history.%ld", (long)getpid());
    if (yl_fs_mkdirs(root) != YL_OK) {
        fprintf(stderr, "cannot create %s: %s\n", root, yl_last_error());
        return 1;
    }
    test_evals();
    test_malformed_csv();
    test_decisions_and_snapshot();
    test_crash();
    yl_fs_remove_tree(root);
    return yl_test_finish("test_history");
}
