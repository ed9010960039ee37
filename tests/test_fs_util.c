// cli/fs_util.c: atomic writes, stale temps, SHA-256 vectors, sorted listings, tree removal and
// the workspace lock against a second process (held, then SIGKILLed).
#define _DEFAULT_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/fs_util.h"
#include "test_common.h"

static char root[256];

static void path_in(char *out, size_t size, const char *name) { snprintf(out, size, "%s/%s", root, name); }

static bool file_equals(const char *path, const char *want) {
    char *data = NULL;
    size_t size = 0;
    if (yl_fs_read_all(path, &data, &size) != YL_OK) return false;
    bool same = size == strlen(want) && memcmp(data, want, size) == 0;
    free(data);
    return same;
}

static void test_atomic_write(void) {
    char path[512];
    path_in(path, sizeof path, "a.txt");
    CHECK_OK(yl_fs_write_atomic(path, "first", 5));
    CHECK(file_equals(path, "first"), "first content");
    CHECK_OK(yl_fs_write_atomic(path, "second, longer", 14));
    CHECK(file_equals(path, "second, longer"), "replaced content");
    CHECK_OK(yl_fs_write_atomic(path, "x", 1));
    CHECK(file_equals(path, "x"), "shorter content leaves no tail");
    CHECK_OK(yl_fs_write_atomic(path, NULL, 0));
    CHECK(file_equals(path, ""), "empty content");

    // No temp file is left after a successful write.
    char **names = NULL;
    int count = 0;
    CHECK_OK(yl_fs_list_dir(root, &names, &count));
    for (int i = 0; i < count; i++) CHECK(!strstr(names[i], ".tmp."), "leftover temp %s", names[i]);
    yl_fs_free_names(names, count);

    char missing_dir[512];
    path_in(missing_dir, sizeof missing_dir, "no/such/dir/f");
    CHECK_STATUS(yl_fs_write_atomic(missing_dir, "x", 1), YL_ERR_IO);
    CHECK(strstr(yl_last_error(), "no/such/dir") != NULL, "message names the path: %s", yl_last_error());

    char *data = NULL;
    size_t size = 0;
    CHECK_STATUS(yl_fs_read_all(missing_dir, &data, &size), YL_ERR_IO);
}

static void test_copy_and_link(void) {
    char a[512], b[512], c[512];
    path_in(a, sizeof a, "src.bin");
    path_in(b, sizeof b, "copy.bin");
    path_in(c, sizeof c, "link.bin");
    char big[200000];
    for (size_t i = 0; i < sizeof big; i++) big[i] = (char)(i * 7 + 3);
    CHECK_OK(yl_fs_write_atomic(a, big, sizeof big));
    CHECK_OK(yl_fs_copy_file(a, b));
    char ha[65], hb[65], hc[65], hm[65];
    CHECK_OK(yl_fs_sha256_file(a, ha));
    CHECK_OK(yl_fs_sha256_file(b, hb));
    yl_sha256_hex(big, sizeof big, hm);
    CHECK(!strcmp(ha, hb) && !strcmp(ha, hm), "copy hash %s vs %s vs %s", ha, hb, hm);
    CHECK_OK(yl_fs_link_or_copy(a, c));
    CHECK_OK(yl_fs_sha256_file(c, hc));
    CHECK(!strcmp(ha, hc), "link hash");
    CHECK_STATUS(yl_fs_link_or_copy(a, c), YL_ERR_IO);  // target exists
}

static void test_stale_temps(void) {
    char dir[512], tmp[600], keep[600], tmpdir[600], inner[700];
    path_in(dir, sizeof dir, "stale");
    CHECK_OK(yl_fs_mkdirs(dir));
    snprintf(tmp, sizeof tmp, "%s/deployed.tmp.12345", dir);
    snprintf(keep, sizeof keep, "%s/deployed", dir);
    snprintf(tmpdir, sizeof tmpdir, "%s/.v0003.tmp.999", dir);
    snprintf(inner, sizeof inner, "%s/model.safetensors", tmpdir);
    CHECK_OK(yl_fs_write_atomic(keep, "v0001\n", 6));
    CHECK_OK(yl_fs_write_atomic(tmp, "v00", 3));  // what a killed writer leaves
    CHECK_OK(yl_fs_mkdirs(tmpdir));
    CHECK_OK(yl_fs_write_atomic(inner, "half", 4));
    CHECK_OK(yl_fs_remove_stale_temps(dir));
    CHECK(!yl_fs_exists(tmp), "temp file removed");
    CHECK(!yl_fs_exists(tmpdir), "temp folder removed");
    CHECK(file_equals(keep, "v0001\n"), "real file kept");
}

static void test_sha256(void) {
    char hex[65];
    yl_sha256_hex("abc", 3, hex);
    CHECK(!strcmp(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"), "abc -> %s", hex);
    yl_sha256_hex("", 0, hex);
    CHECK(!strcmp(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"), "empty -> %s", hex);
    const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    yl_sha256_hex(two, strlen(two), hex);
    CHECK(!strcmp(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"), "448-bit -> %s", hex);
    char path[512];
    path_in(path, sizeof path, "abc.txt");
    CHECK_OK(yl_fs_write_atomic(path, "abc", 3));
    CHECK_OK(yl_fs_sha256_file(path, hex));
    CHECK(!strcmp(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"), "file abc -> %s", hex);
    path_in(path, sizeof path, "missing.txt");
    CHECK_STATUS(yl_fs_sha256_file(path, hex), YL_ERR_IO);
}

static void test_list_and_tree(void) {
    char dir[512], p[600];
    path_in(dir, sizeof dir, "list/deep/er");
    CHECK_OK(yl_fs_mkdirs(dir));
    CHECK_OK(yl_fs_mkdirs(dir));  // existing is fine
    CHECK(yl_fs_is_dir(dir), "mkdirs made it");
    path_in(dir, sizeof dir, "list");
    const char *names_in[] = {"zeta", "Alpha", "beta", "v0010", "v0002"};
    for (int i = 0; i < 5; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, names_in[i]);
        CHECK_OK(yl_fs_write_atomic(p, "x", 1));
    }
    char **names = NULL;
    int count = 0;
    CHECK_OK(yl_fs_list_dir(dir, &names, &count));
    const char *want[] = {"Alpha", "beta", "deep", "v0002", "v0010", "zeta"};
    CHECK(count == 6, "count %d", count);
    for (int i = 0; i < count && i < 6; i++) CHECK(!strcmp(names[i], want[i]), "[%d] %s want %s", i, names[i], want[i]);
    yl_fs_free_names(names, count);

    snprintf(p, sizeof p, "%s/zeta/sub", dir);
    CHECK_STATUS(yl_fs_mkdirs(p), YL_ERR_IO);  // a file in the way

    CHECK_STATUS(yl_fs_remove_tree(""), YL_ERR_INVALID_ARG);
    CHECK_STATUS(yl_fs_remove_tree("/"), YL_ERR_INVALID_ARG);
    CHECK_STATUS(yl_fs_remove_tree("."), YL_ERR_INVALID_ARG);
    CHECK_OK(yl_fs_remove_tree(dir));
    CHECK(!yl_fs_exists(dir), "tree removed");
    CHECK_OK(yl_fs_remove_tree(dir));  // missing is fine
    CHECK_STATUS(yl_fs_list_dir(dir, &names, &count), YL_ERR_IO);
}

static void test_rename_durable(void) {
    char a[512], b[512];
    path_in(a, sizeof a, "dir_tmp");
    path_in(b, sizeof b, "dir_final");
    CHECK_OK(yl_fs_mkdirs(a));
    CHECK_OK(yl_fs_rename_durable(a, b));
    CHECK(yl_fs_is_dir(b) && !yl_fs_exists(a), "directory renamed");
    CHECK_STATUS(yl_fs_rename_durable(a, b), YL_ERR_IO);
}

static void test_time(void) {
    char iso[32], stamp[32];
    yl_utc_now_iso(iso);
    yl_utc_now_stamp(stamp);
    CHECK(strlen(iso) == 20 && iso[4] == '-' && iso[10] == 'T' && iso[19] == 'Z', "iso %s", iso);
    CHECK(strlen(stamp) == 16 && stamp[8] == 'T' && stamp[15] == 'Z', "stamp %s", stamp);
}

static void test_lock(void) {
    char dir[512];
    path_in(dir, sizeof dir, "ws");
    CHECK_OK(yl_fs_mkdirs(dir));

    int ready[2];
    if (pipe(ready) != 0) {
        CHECK(0, "pipe");
        return;
    }
    pid_t child = fork();
    if (child == 0) {
        close(ready[0]);
        yl_fs_lock held;
        char ok = yl_fs_lock_dir(dir, false, &held) == YL_OK ? 'y' : 'n';
        if (write(ready[1], &ok, 1) != 1) _exit(3);
        for (;;) pause();
    }
    close(ready[1]);
    char ok = 0;
    CHECK(read(ready[0], &ok, 1) == 1 && ok == 'y', "child took the lock");
    close(ready[0]);

    yl_fs_lock lock;
    CHECK_STATUS(yl_fs_lock_dir(dir, false, &lock), YL_ERR_IO);
    char pid_text[32];
    snprintf(pid_text, sizeof pid_text, "pid %ld", (long)child);
    CHECK(strstr(yl_last_error(), pid_text) != NULL, "message names the holder (%s): %s", pid_text, yl_last_error());

    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
    CHECK_OK(yl_fs_lock_dir(dir, false, &lock));
    char lock_path[600], *content = NULL;
    snprintf(lock_path, sizeof lock_path, "%s/.lock", dir);
    CHECK_OK(yl_fs_read_all(lock_path, &content, NULL));
    CHECK(content && atol(content) == (long)getpid(), "lock file holds our pid: %s", content ? content : "");
    free(content);
    yl_fs_unlock(&lock);
    CHECK(lock.fd == -1, "unlocked");
    CHECK_OK(yl_fs_lock_dir(dir, true, &lock));  // free again, waiting variant returns at once
    yl_fs_unlock(&lock);
}

int main(void) {
    snprintf(root, sizeof root, "/tmp/yl_test_fs_util.%ld", (long)getpid());
    if (yl_fs_mkdirs(root) != YL_OK) {
        fprintf(stderr, "cannot create %s: %s\n", root, yl_last_error());
        return 1;
    }
    test_atomic_write();
    test_copy_and_link();
    test_stale_temps();
    test_sha256();
    test_list_and_tree();
    test_rename_durable();
    test_time();
    test_lock();
    yl_fs_remove_tree(root);
    return yl_test_finish("test_fs_util");
}
