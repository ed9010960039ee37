// One entry point per CLI command: argc/argv hold the arguments after the command name.
// Each returns the process exit code.
#pragma once

int yl_cmd_demo(int argc, char **argv);
int yl_cmd_info(int argc, char **argv);
int yl_cmd_predict(int argc, char **argv);
int yl_cmd_synth(int argc, char **argv);
int yl_cmd_train(int argc, char **argv);
int yl_cmd_val(int argc, char **argv);
int yl_cmd_version(int argc, char **argv);
