/* Argument parsing shared by the icstr subcommands. */
#ifndef ICSTR_CLI_ARGS_H
#define ICSTR_CLI_ARGS_H

/* A whole decimal integer in [lo, hi] given to `flag` of command `cmd` (e.g. "icstr eval"):
 * 0 and *out set, or a message on stderr ("icstr eval: --beam wants an integer in [1, 64], got
 * 'x'") and 2, the usage exit code, for the caller to return. */
int icstr_cli_long(const char *cmd, const char *flag, const char *s, long lo, long hi, long *out);
/* The same for a decimal number in [lo, hi]. */
int icstr_cli_double(const char *cmd, const char *flag, const char *s, double lo, double hi, double *out);

#endif
