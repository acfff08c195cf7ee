/* icstr core (internal): a small, strict JSON pull parser, enough for the safetensors header.
 *
 * The caller walks the text in document order (enter a container, ask whether another element
 * follows, read a key, read a string or an integer, skip a value), so the parser itself allocates
 * nothing and its memory cannot grow with what the text claims. Nesting is limited to
 * ICSTR_JSON_MAX_DEPTH and tracked on a fixed stack, never the C stack, so 10000 '[' are one error.
 *
 * Strict RFC 8259: no comments, no trailing commas, no leading zeros, no NaN or Infinity, only
 * space/tab/CR/LF as whitespace, strings must be valid UTF-8 without raw control characters, and
 * surrogate escapes must pair. One extra rule: "\u0000" is refused, because decoded strings are
 * C strings and an embedded NUL would make two different names compare equal.
 *
 * Errors: every function returns ICSTR_OK or ICSTR_ERR_FORMAT and sets the detail with
 * icstr_fail ("JSON at byte N: <problem>"); the caller adds context with icstr_fail_context.
 * After an error the parser's position is unspecified: stop using it.
 */
#ifndef ICSTR_JSON_H
#define ICSTR_JSON_H

#include <stddef.h>
#include <stdio.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum {
    ICSTR_JSON_NONE = 0,  /* no value can start here (end of text or an unexpected character) */
    ICSTR_JSON_NULL,
    ICSTR_JSON_BOOL,
    ICSTR_JSON_NUMBER,
    ICSTR_JSON_STRING,
    ICSTR_JSON_ARRAY,
    ICSTR_JSON_OBJECT,
};

#define ICSTR_JSON_MAX_DEPTH 64

typedef struct {
    const unsigned char *text;
    size_t len;
    size_t pos;
    int depth;                               /* open containers */
    int count[ICSTR_JSON_MAX_DEPTH];         /* elements seen so far in each open container */
    char close[ICSTR_JSON_MAX_DEPTH];        /* '}' or ']' */
} icstr_json;

/* The text is not copied and need not be NUL-terminated; it must outlive the parser. */
void icstr_json_init(icstr_json *j, const void *text, size_t len);

/* The type of the next value (whitespace skipped), without consuming it. */
int icstr_json_peek(icstr_json *j);

/* Consumes the '{' (type ICSTR_JSON_OBJECT) or '[' (ICSTR_JSON_ARRAY) that opens the next value.
 * Fails when the next value is something else or the nesting limit is reached. */
int icstr_json_enter(icstr_json *j, int type);

/* In the innermost open container: sets *more = 1 when another element follows (the separating
 * comma is consumed; in an object the caller then reads the key with icstr_json_key), or
 * *more = 0 when the closing bracket was consumed (the container is then closed). */
int icstr_json_next(icstr_json *j, int *more);

/* Reads a string into dst (decoded, NUL-terminated, at most cap - 1 bytes; dst may be NULL to
 * validate and skip it). *len (may be NULL) receives the decoded length. A longer string fails. */
int icstr_json_string(icstr_json *j, char *dst, size_t cap, size_t *len);

/* icstr_json_string followed by the ':' that ends an object key. */
int icstr_json_key(icstr_json *j, char *dst, size_t cap, size_t *len);

/* Reads a number that must be an integer in int64 range (no fraction, no exponent). */
int icstr_json_int64(icstr_json *j, int64_t *out);

/* Validates and skips one value of any type, nested ones included. */
int icstr_json_skip(icstr_json *j);

/* Succeeds when every container is closed and only whitespace remains. */
int icstr_json_finish(icstr_json *j);

/* Byte offset of the parser in the text (for messages). */
size_t icstr_json_offset(const icstr_json *j);

/* ---- writing ---- */
/* The JSON form of byte c inside a string ("\\\"", "\\n", "\\u001f", or c itself), NUL-terminated
 * in out; returns its length. UTF-8 bytes >= 0x80 pass through unchanged. */
int icstr_json_escape_byte(unsigned char c, char out[8]);
/* Writes s as a quoted JSON string. */
void icstr_json_fprint_string(FILE *f, const char *s);

/* 1 when s[0..n) is valid UTF-8 (no overlongs, no surrogates, nothing above U+10FFFF). */
int icstr_json_utf8_valid(const char *s, size_t n);

#ifdef __cplusplus
}
#endif

#endif
