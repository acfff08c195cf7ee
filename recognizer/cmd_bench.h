/* icstr recognizer: the `icstr bench` subcommands (cmd_bench_*.c), dispatched by cmd_bench.c.
 * Each takes the arguments after its own name (argv[0] is the subcommand) and returns the exit
 * code: 0 ok, 1 runtime failure, 2 usage. */
#ifndef ICSTR_CMD_BENCH_H
#define ICSTR_CMD_BENCH_H

int icstr_bench_accuracy(int argc, char **argv);
int icstr_bench_speed(int argc, char **argv);
int icstr_bench_peers(int argc, char **argv);
int icstr_bench_report(int argc, char **argv);

#define ICSTR_BENCH_DEFAULT_OUT "bench-results"

#endif
