/* Argument parsing shared by the icstr subcommands (cli_args.h). */
#include "cli_args.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

int icstr_cli_long(const char *cmd, const char *flag, const char *s, long lo, long hi, long *out) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (!*s || *end || errno || v < lo || v > hi) {
        fprintf(stderr, "%s: %s wants an integer in [%ld, %ld], got '%s'\n", cmd, flag, lo, hi, s);
        return 2;
    }
    *out = v;
    return 0;
}

int icstr_cli_double(const char *cmd, const char *flag, const char *s, double lo, double hi, double *out) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (!*s || *end || errno || !(v >= lo && v <= hi)) {
        fprintf(stderr, "%s: %s wants a number in [%g, %g], got '%s'\n", cmd, flag, lo, hi, s);
        return 2;
    }
    *out = v;
    return 0;
}
