/* The icstr command-line program's subcommands. Each takes the arguments after its own name
 * (argv[0] is the subcommand name) and returns the exit code: 0 ok, 1 runtime failure, 2 usage. */
#ifndef ICSTR_CLI_H
#define ICSTR_CLI_H

int icstr_cmd_selfcheck(int argc, char **argv);
int icstr_cmd_data(int argc, char **argv);
int icstr_cmd_data_synth(int argc, char **argv); /* called by `icstr data synth` */
int icstr_cmd_data_unpack(int argc, char **argv); /* called by `icstr data unpack` */
int icstr_cmd_train(int argc, char **argv);
int icstr_cmd_recognize(int argc, char **argv);
int icstr_cmd_eval(int argc, char **argv);
int icstr_cmd_pool(int argc, char **argv);
int icstr_cmd_bench(int argc, char **argv);

#endif
