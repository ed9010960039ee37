// One entry point per CLI command: argc/argv hold the arguments after the command name.
// Each returns the process exit code.
#pragma once

int yl_cmd_cycle(int argc, char **argv);     // cmd_cycle.c
int yl_cmd_demo(int argc, char **argv);
int yl_cmd_deploy(int argc, char **argv);    // cmd_registry.c
int yl_cmd_history(int argc, char **argv);   // cmd_registry.c
int yl_cmd_info(int argc, char **argv);
int yl_cmd_init(int argc, char **argv);      // cmd_init.c
int yl_cmd_models(int argc, char **argv);    // cmd_registry.c
int yl_cmd_predict(int argc, char **argv);
int yl_cmd_push(int argc, char **argv);      // cmd_push.c
int yl_cmd_rank(int argc, char **argv);      // cmd_rank.c
int yl_cmd_report(int argc, char **argv);    // cmd_report.c
int yl_cmd_rollback(int argc, char **argv);  // cmd_registry.c
int yl_cmd_serve(int argc, char **argv);     // cmd_serve.c
int yl_cmd_synth(int argc, char **argv);
int yl_cmd_train(int argc, char **argv);
int yl_cmd_val(int argc, char **argv);
int yl_cmd_version(int argc, char **argv);
