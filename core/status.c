/* Status codes in words, and the thread-local detail message that carries the reason behind a
 * failure (a file name, a foreign library's words) from the failure site up to the CLI. */
#include "icstr_core.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define DETAIL_MAX 1024
static _Thread_local char detail[DETAIL_MAX];

const char *icstr_strerror(int rc) {
    switch (rc) {
    case ICSTR_OK: return "success";
    case ICSTR_ERR_NOMEM: return "out of memory";
    case ICSTR_ERR_IO: return "input/output error";
    case ICSTR_ERR_FORMAT: return "malformed data";
    case ICSTR_ERR_ARG: return "invalid argument";
    case ICSTR_ERR_RANGE: return "value out of range";
    case ICSTR_ERR_NOTFOUND: return "not found";
    case ICSTR_ERR_UNSUPPORTED: return "not supported";
    case ICSTR_ERR_IMAGE: return "image cannot be decoded";
    case ICSTR_ERR_DB: return "database error";
    case ICSTR_ERR_CONFIG: return "invalid configuration";
    case ICSTR_ERR_MISMATCH: return "files do not belong together";
    case ICSTR_ERR_INTERNAL: return "internal error";
    case ICSTR_ERR_LIMIT: return "limit exceeded";
    default: return "unknown error";
    }
}

int icstr_fail(int rc, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    return rc;
}

int icstr_fail_context(int rc, const char *fmt, ...) {
    char old[DETAIL_MAX];
    memcpy(old, detail, sizeof old);
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    size_t used = n < 0 ? 0 : (size_t)n;
    if (used + 2 < sizeof detail && old[0]) {
        /* keep as much of the old detail as fits; truncation is fine for a message */
        detail[used++] = ':';
        detail[used++] = ' ';
        size_t room = sizeof detail - used - 1, len = strlen(old);
        memcpy(detail + used, old, len < room ? len : room);
        detail[used + (len < room ? len : room)] = 0;
    }
    return rc;
}

const char *icstr_last_error(void) { return detail; }

void icstr_clear_error(void) { detail[0] = 0; }
