// key=value parsing shared by the CLI commands.
#include "cli/args.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

bool yl_arg_split(const char *command, const char *arg, char *key, size_t key_size, const char **value) {
    const char *eq = arg ? strchr(arg, '=') : NULL;
    if (!eq || eq == arg) {
        fprintf(stderr, "%s: '%s' is not key=value (see yoloop %s --help)\n", command, arg ? arg : "", command);
        return false;
    }
    const size_t n = (size_t)(eq - arg);
    if (n >= key_size) {
        fprintf(stderr, "%s: argument key '%.*s' is too long\n", command, (int)n, arg);
        return false;
    }
    memcpy(key, arg, n);
    key[n] = '\0';
    *value = eq + 1;
    return true;
}

bool yl_arg_int(const char *command, const char *key, const char *value, long long low, long long high, int *out) {
    char *end = NULL;
    errno = 0;
    const long long v = strtoll(value, &end, 10);
    if (errno || !*value || *end || v < low || v > high) {
        fprintf(stderr, "%s: %s=%s: expected an integer in [%lld, %lld]\n", command, key, value, low, high);
        return false;
    }
    *out = (int)v;
    return true;
}

bool yl_arg_double(const char *command, const char *key, const char *value, double low, double high, double *out) {
    char *end = NULL;
    errno = 0;
    const double v = strtod(value, &end);
    if (errno || !*value || *end || !isfinite(v) || v < low || v > high) {
        fprintf(stderr, "%s: %s=%s: expected a number in [%g, %g]\n", command, key, value, low, high);
        return false;
    }
    *out = v;
    return true;
}

bool yl_arg_bool(const char *command, const char *key, const char *value, bool *out) {
    static const char *yes[] = {"true", "yes", "1", "on"}, *no[] = {"false", "no", "0", "off"};
    for (int i = 0; i < 4; i++) {
        if (!strcasecmp(value, yes[i])) return *out = true, true;
        if (!strcasecmp(value, no[i])) return *out = false, true;
    }
    fprintf(stderr, "%s: %s=%s: expected true or false\n", command, key, value);
    return false;
}

bool yl_arg_device(const char *command, const char *key, const char *value, yl_device *out, int *cuda_index) {
    int index = 0;
    if (!strcasecmp(value, "cpu")) {
        *out = YL_DEVICE_CPU;
    } else if (!strcasecmp(value, "cuda")) {
        *out = YL_DEVICE_CUDA;
    } else {
        const char *digits = !strncasecmp(value, "cuda:", 5) ? value + 5 : value;
        char *end = NULL;
        const long v = isdigit((unsigned char)digits[0]) ? strtol(digits, &end, 10) : -1;
        if (v < 0 || v > 255 || !end || *end) {
            fprintf(stderr, "%s: %s=%s: expected cpu, cuda, cuda:N or a GPU index N\n", command, key, value);
            return false;
        }
        *out = YL_DEVICE_CUDA;
        index = (int)v;
    }
    if (cuda_index) *cuda_index = index;
    return true;
}

bool yl_arg_string(const char *command, const char *key, const char *value, const char **out) {
    if (!value || !*value) {
        fprintf(stderr, "%s: %s= needs a value\n", command, key);
        return false;
    }
    *out = value;
    return true;
}

void yl_arg_unknown(const char *command, const char *key, const char *known) {
    fprintf(stderr, "%s: unknown argument '%s' (known: %s)\n", command, key, known);
}

bool yl_arg_wants_help(int argc, char **argv) {
    for (int i = 0; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) return true;
    return false;
}
