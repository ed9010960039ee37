// Runs a CLI command in-process with its stdout captured, for the tests of cli/cmd_*.c.
#pragma once
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

// Returns the command's exit code (-1 when stdout could not be redirected). *text (may be NULL)
// points at what the command printed on stdout (its first 256 KiB), in a static buffer that the
// next call overwrites.
static inline int yl_test_run_command(int (*cmd)(int, char **), int argc, char **argv, char **text) {
    static char buf[1 << 18];
    buf[0] = '\0';
    if (text) *text = buf;
    char path[] = "/tmp/yl_test_stdout_XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0) return -1;
    unlink(path);
    fflush(stdout);
    int saved = dup(1);
    dup2(fd, 1);
    int rc = cmd(argc, argv);
    fflush(stdout);
    dup2(saved, 1);
    close(saved);
    size_t n = 0;
    ssize_t got;
    lseek(fd, 0, SEEK_SET);
    while (n < sizeof buf - 1 && (got = read(fd, buf + n, sizeof buf - 1 - n)) > 0) n += (size_t)got;
    buf[n] = '\0';
    close(fd);
    return rc;
}
