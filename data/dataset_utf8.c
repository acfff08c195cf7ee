/* UTF-8 checking and decoding shared by the gt.txt reader, the scorer and the CLI: one strict
 * decoder (shortest forms only, no surrogates, nothing above U+10FFFF) so that "valid" means the
 * same thing everywhere. */
#include "icstr_data.h"

/* Bytes taken by the code point at s (1..4) with *cp set, or 0 when the sequence is invalid. */
static size_t utf8_step(const unsigned char *s, size_t n, unsigned *cp) {
    unsigned c = s[0];
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    size_t len;
    unsigned lo = 0x80, hi = 0xBF, v;
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
        v = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        v = c & 0x0F;
        if (c == 0xE0) lo = 0xA0;      /* overlong */
        else if (c == 0xED) hi = 0x9F; /* surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        v = c & 0x07;
        if (c == 0xF0) lo = 0x90;      /* overlong */
        else if (c == 0xF4) hi = 0x8F; /* above U+10FFFF */
    } else {
        return 0;
    }
    if (n < len) return 0;
    for (size_t k = 1; k < len; k++) {
        unsigned b = s[k];
        if (b < lo || b > hi) return 0;
        lo = 0x80;
        hi = 0xBF;
        v = (v << 6) | (b & 0x3F);
    }
    *cp = v;
    return len;
}

int icstr_utf8_valid(const char *s, size_t n) {
    if (!s) return n == 0;
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        unsigned cp;
        size_t k = utf8_step(p + i, n - i, &cp);
        if (!k) return 0;
        i += k;
    }
    return 1;
}

size_t icstr_utf8_decode(const char *s, size_t n, unsigned *out, size_t cap) {
    if (!s) return 0;
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0, count = 0;
    while (i < n) {
        unsigned cp;
        size_t k = utf8_step(p + i, n - i, &cp);
        if (!k) {
            cp = 0xFFFD;
            k = 1;
        }
        if (out && count < cap) out[count] = cp;
        count++;
        i += k;
    }
    return count;
}

size_t icstr_utf8_next(const char *s, size_t n, unsigned *cp) {
    size_t k = n ? utf8_step((const unsigned char *)s, n, cp) : 0;
    if (!k) {
        *cp = 0xFFFD;
        k = n ? 1 : 0;
    }
    return k;
}
