// key=value arguments of the CLI commands. Each parser checks the value (range, form) and on a bad
// one prints "<command>: <key>=<value>: <what was expected>" to stderr and returns false; the
// command then exits with 2 (bad arguments).
#pragma once
#include <stdbool.h>
#include <stddef.h>

#include "engine/core/tensor.h"

// Splits "key=value": copies the key (at most key_size - 1 chars) and points *value after '='.
// False (with a message) when there is no '=', the key is empty or too long.
bool yl_arg_split(const char *command, const char *arg, char *key, size_t key_size, const char **value);
bool yl_arg_int(const char *command, const char *key, const char *value, long long low, long long high, int *out);
bool yl_arg_double(const char *command, const char *key, const char *value, double low, double high, double *out);
// true/false, yes/no, 1/0, on/off (any case), and Ultralytics' True/False.
bool yl_arg_bool(const char *command, const char *key, const char *value, bool *out);
// cpu, cuda, cuda:0, 0 (a GPU index means CUDA, as Ultralytics' device=0); *cuda_index receives the index.
bool yl_arg_device(const char *command, const char *key, const char *value, yl_device *out, int *cuda_index);
// Non-empty string.
bool yl_arg_string(const char *command, const char *key, const char *value, const char **out);
// Prints "<command>: unknown argument '<key>' (known: ...)".
void yl_arg_unknown(const char *command, const char *key, const char *known);
// True when argv[0..argc) holds --help or -h.
bool yl_arg_wants_help(int argc, char **argv);
