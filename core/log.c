/* Logging to stderr with levels; stdout stays the program's answer. */
#include "icstr_core.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int log_level = -1;

static int level_from_env(void) {
    const char *e = getenv("ICSTR_LOG");
    if (!e) return ICSTR_LOG_INFO;
    if (!strcasecmp(e, "error")) return ICSTR_LOG_ERROR;
    if (!strcasecmp(e, "warn")) return ICSTR_LOG_WARN;
    if (!strcasecmp(e, "debug")) return ICSTR_LOG_DEBUG;
    return ICSTR_LOG_INFO;
}

void icstr_log_set_level(int level) { log_level = level; }

int icstr_log_get_level(void) {
    if (log_level < 0) log_level = level_from_env();
    return log_level;
}

void icstr_log(int level, const char *fmt, ...) {
    static const char *names[] = {"error", "warn", "info", "debug"};
    if (level > icstr_log_get_level()) return;
    char line[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    fprintf(stderr, "icstr %s: %s\n", names[level < 0 ? 0 : level > 3 ? 3 : level], line);
}
