/* A strict JSON pull parser for the safetensors header (see json.h). Every read is bounded by
 * the text's length; nothing here allocates or recurses. */
#include "json.h"

#include "icstr_core.h"

#include <stdio.h>
#include <string.h>

static int fail_at(const icstr_json *j, const char *what) {
    return icstr_fail(ICSTR_ERR_FORMAT, "JSON at byte %zu: %s", j->pos, what);
}

void icstr_json_init(icstr_json *j, const void *text, size_t len) {
    memset(j, 0, sizeof *j);
    j->text = text;
    j->len = len;
}

size_t icstr_json_offset(const icstr_json *j) { return j->pos; }

static void skip_ws(icstr_json *j) {
    while (j->pos < j->len) {
        unsigned char c = j->text[j->pos];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r') break;
        j->pos++;
    }
}

int icstr_json_peek(icstr_json *j) {
    skip_ws(j);
    if (j->pos >= j->len) return ICSTR_JSON_NONE;
    unsigned char c = j->text[j->pos];
    switch (c) {
    case '{': return ICSTR_JSON_OBJECT;
    case '[': return ICSTR_JSON_ARRAY;
    case '"': return ICSTR_JSON_STRING;
    case 't': case 'f': return ICSTR_JSON_BOOL;
    case 'n': return ICSTR_JSON_NULL;
    default: return (c == '-' || (c >= '0' && c <= '9')) ? ICSTR_JSON_NUMBER : ICSTR_JSON_NONE;
    }
}

int icstr_json_enter(icstr_json *j, int type) {
    int t = icstr_json_peek(j);
    if (type != ICSTR_JSON_OBJECT && type != ICSTR_JSON_ARRAY)
        return icstr_fail(ICSTR_ERR_FORMAT, "JSON: enter needs an object or array type");
    if (t != type) return fail_at(j, type == ICSTR_JSON_OBJECT ? "expected '{'" : "expected '['");
    if (j->depth >= ICSTR_JSON_MAX_DEPTH) return fail_at(j, "nested deeper than 64 levels");
    j->close[j->depth] = type == ICSTR_JSON_OBJECT ? '}' : ']';
    j->count[j->depth] = 0;
    j->depth++;
    j->pos++;
    return ICSTR_OK;
}

int icstr_json_next(icstr_json *j, int *more) {
    if (j->depth <= 0) return fail_at(j, "no open object or array");
    skip_ws(j);
    if (j->pos >= j->len) return fail_at(j, "unexpected end of text inside an object or array");
    char close = j->close[j->depth - 1];
    unsigned char c = j->text[j->pos];
    if (c == (unsigned char)close) {
        j->pos++;
        j->depth--;
        *more = 0;
        return ICSTR_OK;
    }
    if (j->count[j->depth - 1] > 0) {
        if (c != ',') return fail_at(j, close == '}' ? "expected ',' or '}'" : "expected ',' or ']'");
        j->pos++;
        skip_ws(j);
        /* a comma must be followed by an element: no trailing commas */
        if (j->pos < j->len && j->text[j->pos] == (unsigned char)close) return fail_at(j, "trailing comma");
    }
    j->count[j->depth - 1]++;
    *more = 1;
    return ICSTR_OK;
}

/* Length of the UTF-8 sequence starting at s (at most n bytes available), 0 if invalid. */
static size_t utf8_seq(const unsigned char *s, size_t n) {
    unsigned char c = s[0];
    if (c < 0x80) return 1;
    size_t len;
    unsigned char lo = 0x80, hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf) len = 2;
    else if (c == 0xe0) { len = 3; lo = 0xa0; }
    else if (c >= 0xe1 && c <= 0xec) len = 3;
    else if (c == 0xed) { len = 3; hi = 0x9f; } /* no UTF-16 surrogates */
    else if (c >= 0xee && c <= 0xef) len = 3;
    else if (c == 0xf0) { len = 4; lo = 0x90; }
    else if (c >= 0xf1 && c <= 0xf3) len = 4;
    else if (c == 0xf4) { len = 4; hi = 0x8f; } /* nothing above U+10FFFF */
    else return 0;
    if (n < len) return 0;
    if (s[1] < lo || s[1] > hi) return 0;
    for (size_t i = 2; i < len; i++)
        if (s[i] < 0x80 || s[i] > 0xbf) return 0;
    return len;
}

int icstr_json_utf8_valid(const char *s, size_t n) {
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        size_t k = utf8_seq(u + i, n - i);
        if (!k) return 0;
        i += k;
    }
    return 1;
}

static int hex4(const icstr_json *j, size_t at, unsigned *out) {
    if (at > j->len || j->len - at < 4) return -1;
    unsigned v = 0;
    for (size_t i = 0; i < 4; i++) {
        unsigned char c = j->text[at + i];
        unsigned d;
        if (c >= '0' && c <= '9') d = c - '0';
        else if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
        else return -1;
        v = v * 16 + d;
    }
    *out = v;
    return 0;
}

/* Appends bytes to the decoded string, or only counts them when dst is NULL. */
static int put(const icstr_json *j, char *dst, size_t cap, size_t *n, const unsigned char *b, size_t k) {
    if (dst) {
        if (k >= cap || *n > cap - 1 - k) {
            char msg[64];
            snprintf(msg, sizeof msg, "string longer than %zu bytes", cap ? cap - 1 : 0);
            return fail_at(j, msg);
        }
        memcpy(dst + *n, b, k);
    }
    *n += k;
    return ICSTR_OK;
}

int icstr_json_string(icstr_json *j, char *dst, size_t cap, size_t *len) {
    if (icstr_json_peek(j) != ICSTR_JSON_STRING) return fail_at(j, "expected a string");
    if (dst && cap == 0) return icstr_fail(ICSTR_ERR_FORMAT, "JSON: string buffer of 0 bytes");
    j->pos++;
    size_t n = 0;
    for (;;) {
        if (j->pos >= j->len) return fail_at(j, "unterminated string");
        unsigned char c = j->text[j->pos];
        if (c == '"') {
            j->pos++;
            break;
        }
        if (c < 0x20) return fail_at(j, "control character in a string");
        if (c != '\\') {
            size_t k = utf8_seq(j->text + j->pos, j->len - j->pos);
            if (!k) return fail_at(j, "invalid UTF-8 in a string");
            if (put(j, dst, cap, &n, j->text + j->pos, k)) return ICSTR_ERR_FORMAT;
            j->pos += k;
            continue;
        }
        if (j->pos + 1 >= j->len) return fail_at(j, "unterminated string");
        unsigned char e = j->text[j->pos + 1];
        unsigned char one;
        switch (e) {
        case '"': one = '"'; break;
        case '\\': one = '\\'; break;
        case '/': one = '/'; break;
        case 'b': one = '\b'; break;
        case 'f': one = '\f'; break;
        case 'n': one = '\n'; break;
        case 'r': one = '\r'; break;
        case 't': one = '\t'; break;
        case 'u': one = 0; break;
        default: return fail_at(j, "invalid escape in a string");
        }
        if (e != 'u') {
            if (put(j, dst, cap, &n, &one, 1)) return ICSTR_ERR_FORMAT;
            j->pos += 2;
            continue;
        }
        unsigned cp;
        if (hex4(j, j->pos + 2, &cp)) return fail_at(j, "invalid \\u escape");
        size_t used = 6;
        if (cp >= 0xdc00 && cp <= 0xdfff) return fail_at(j, "unpaired surrogate in a \\u escape");
        if (cp >= 0xd800 && cp <= 0xdbff) {
            unsigned lo;
            size_t at = j->pos + 6;
            if (at + 2 > j->len || j->text[at] != '\\' || j->text[at + 1] != 'u' || hex4(j, at + 2, &lo) ||
                lo < 0xdc00 || lo > 0xdfff)
                return fail_at(j, "unpaired surrogate in a \\u escape");
            cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
            used = 12;
        }
        if (cp == 0) return fail_at(j, "\\u0000 is not allowed in a string");
        unsigned char b[4];
        size_t k;
        if (cp < 0x80) { b[0] = (unsigned char)cp; k = 1; }
        else if (cp < 0x800) { b[0] = (unsigned char)(0xc0 | (cp >> 6)); b[1] = (unsigned char)(0x80 | (cp & 0x3f)); k = 2; }
        else if (cp < 0x10000) {
            b[0] = (unsigned char)(0xe0 | (cp >> 12));
            b[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
            b[2] = (unsigned char)(0x80 | (cp & 0x3f));
            k = 3;
        } else {
            b[0] = (unsigned char)(0xf0 | (cp >> 18));
            b[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
            b[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
            b[3] = (unsigned char)(0x80 | (cp & 0x3f));
            k = 4;
        }
        if (put(j, dst, cap, &n, b, k)) return ICSTR_ERR_FORMAT;
        j->pos += used;
    }
    if (dst) dst[n] = 0;
    if (len) *len = n;
    return ICSTR_OK;
}

int icstr_json_key(icstr_json *j, char *dst, size_t cap, size_t *len) {
    if (j->depth <= 0 || j->close[j->depth - 1] != '}') return fail_at(j, "a key outside an object");
    if (icstr_json_peek(j) != ICSTR_JSON_STRING) return fail_at(j, "expected a string key");
    if (icstr_json_string(j, dst, cap, len)) return ICSTR_ERR_FORMAT;
    skip_ws(j);
    if (j->pos >= j->len || j->text[j->pos] != ':') return fail_at(j, "expected ':'");
    j->pos++;
    return ICSTR_OK;
}

static int is_digit(const icstr_json *j, size_t at) {
    return at < j->len && j->text[at] >= '0' && j->text[at] <= '9';
}

/* Scans one number by the JSON grammar; *is_int is 1 when it has no fraction or exponent. */
static int scan_number(icstr_json *j, size_t *start, size_t *end, int *is_int) {
    if (icstr_json_peek(j) != ICSTR_JSON_NUMBER) return fail_at(j, "expected a number");
    size_t p = j->pos;
    *start = p;
    *is_int = 1;
    if (j->text[p] == '-') p++;
    if (!is_digit(j, p)) {
        j->pos = p;
        return fail_at(j, "expected a digit");
    }
    if (j->text[p] == '0') {
        p++;
        if (is_digit(j, p)) {
            j->pos = p;
            return fail_at(j, "leading zero in a number");
        }
    } else {
        while (is_digit(j, p)) p++;
    }
    if (p < j->len && j->text[p] == '.') {
        *is_int = 0;
        p++;
        if (!is_digit(j, p)) {
            j->pos = p;
            return fail_at(j, "expected a digit after '.'");
        }
        while (is_digit(j, p)) p++;
    }
    if (p < j->len && (j->text[p] == 'e' || j->text[p] == 'E')) {
        *is_int = 0;
        p++;
        if (p < j->len && (j->text[p] == '+' || j->text[p] == '-')) p++;
        if (!is_digit(j, p)) {
            j->pos = p;
            return fail_at(j, "expected a digit in the exponent");
        }
        while (is_digit(j, p)) p++;
    }
    *end = p;
    return ICSTR_OK;
}

int icstr_json_int64(icstr_json *j, int64_t *out) {
    size_t start, end;
    int is_int;
    if (scan_number(j, &start, &end, &is_int)) return ICSTR_ERR_FORMAT;
    if (!is_int) return fail_at(j, "expected an integer");
    int neg = j->text[start] == '-';
    /* accumulate as a negative number so INT64_MIN fits */
    int64_t v = 0;
    for (size_t p = start + (size_t)neg; p < end; p++) {
        int d = j->text[p] - '0';
        if (v < (INT64_MIN + d) / 10) return fail_at(j, "integer out of the 64-bit range");
        v = v * 10 - d;
    }
    if (!neg) {
        if (v == INT64_MIN) return fail_at(j, "integer out of the 64-bit range");
        v = -v;
    }
    *out = v;
    j->pos = end;
    return ICSTR_OK;
}

static int literal(icstr_json *j, const char *word) {
    size_t n = strlen(word);
    if (j->len - j->pos < n || memcmp(j->text + j->pos, word, n)) return fail_at(j, "invalid literal");
    j->pos += n;
    return ICSTR_OK;
}

static int skip_scalar(icstr_json *j, int type) {
    size_t start, end;
    int is_int;
    switch (type) {
    case ICSTR_JSON_STRING: return icstr_json_string(j, NULL, 0, NULL);
    case ICSTR_JSON_NUMBER:
        if (scan_number(j, &start, &end, &is_int)) return ICSTR_ERR_FORMAT;
        j->pos = end;
        return ICSTR_OK;
    case ICSTR_JSON_NULL: return literal(j, "null");
    case ICSTR_JSON_BOOL: return literal(j, j->text[j->pos] == 't' ? "true" : "false");
    default: return fail_at(j, j->pos >= j->len ? "unexpected end of text" : "expected a value");
    }
}

int icstr_json_skip(icstr_json *j) {
    int base = j->depth, need_value = 1;
    for (;;) {
        if (need_value) {
            int t = icstr_json_peek(j);
            int rc = (t == ICSTR_JSON_OBJECT || t == ICSTR_JSON_ARRAY) ? icstr_json_enter(j, t) : skip_scalar(j, t);
            if (rc) return rc;
            need_value = 0;
        }
        if (j->depth == base) return ICSTR_OK;
        int more;
        if (icstr_json_next(j, &more)) return ICSTR_ERR_FORMAT;
        if (more) {
            if (j->close[j->depth - 1] == '}' && icstr_json_key(j, NULL, 0, NULL)) return ICSTR_ERR_FORMAT;
            need_value = 1;
        }
    }
}

int icstr_json_finish(icstr_json *j) {
    if (j->depth) return fail_at(j, "unclosed object or array");
    skip_ws(j);
    if (j->pos != j->len) return fail_at(j, "trailing characters after the JSON value");
    return ICSTR_OK;
}

int icstr_json_escape_byte(unsigned char c, char out[8]) {
    if (c == '"' || c == '\\' || c == '\n' || c == '\t' || c == '\r') {
        out[0] = '\\';
        out[1] = c == '\n' ? 'n' : c == '\t' ? 't' : c == '\r' ? 'r' : (char)c;
        out[2] = 0;
        return 2;
    }
    if (c < 0x20) return snprintf(out, 8, "\\u%04x", c);
    out[0] = (char)c;
    out[1] = 0;
    return 1;
}

void icstr_json_fprint_string(FILE *f, const char *s) {
    char esc[8];
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        icstr_json_escape_byte(*p, esc);
        fputs(esc, f);
    }
    fputc('"', f);
}
