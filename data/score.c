/* Scoring recognizer output against labels: the standard STR protocol (case-insensitive
 * alphanumerics, labels of 1..25 characters), a case-sensitive 94-character one and a raw Unicode
 * one; word accuracy and 1 - mean normalised edit distance over code points. */
#include "icstr_data.h"

#include <stdlib.h>
#include <string.h>

#define STACK_CPS 256

const char *icstr_score_protocol_name(int protocol) {
    switch (protocol) {
    case ICSTR_SCORE_STANDARD: return "standard";
    case ICSTR_SCORE_CASE94: return "case94";
    case ICSTR_SCORE_UNICODE: return "unicode";
    default: return NULL;
    }
}

int icstr_score_protocol_from_name(const char *name, int *protocol) {
    if (!name || !protocol) return icstr_fail(ICSTR_ERR_ARG, "score protocol: NULL argument");
    for (int p = ICSTR_SCORE_STANDARD; p <= ICSTR_SCORE_UNICODE; p++)
        if (!strcmp(name, icstr_score_protocol_name(p))) {
            *protocol = p;
            return ICSTR_OK;
        }
    return icstr_fail(ICSTR_ERR_ARG, "unknown score protocol '%s' (standard, case94, unicode)", name);
}

/* Maps one code point through the protocol's cleaning: the kept code point, or 0 to drop it. */
static unsigned clean_cp(int protocol, unsigned cp) {
    switch (protocol) {
    case ICSTR_SCORE_STANDARD:
        if (cp >= 'A' && cp <= 'Z') cp += 'a' - 'A';
        return ((cp >= 'a' && cp <= 'z') || (cp >= '0' && cp <= '9')) ? cp : 0;
    case ICSTR_SCORE_CASE94: return (cp >= 0x20 && cp <= 0x7E) ? cp : 0;
    default: return cp ? cp : 0;
    }
}

/* Decoded, cleaned code points of s; *heap is set when the result had to be allocated. */
static unsigned *clean_cps(int protocol, const char *s, unsigned *stack, size_t *n_out,
                           unsigned **heap) {
    size_t len = strlen(s);
    size_t n = icstr_utf8_decode(s, len, NULL, 0);
    unsigned *cps = stack;
    *heap = NULL;
    if (n > STACK_CPS) {
        cps = malloc(n * sizeof *cps);
        if (!cps) return NULL;
        *heap = cps;
    }
    icstr_utf8_decode(s, len, cps, n);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned c = clean_cp(protocol, cps[i]);
        if (c) cps[k++] = c;
    }
    *n_out = k;
    return cps;
}

static long edit_distance(const unsigned *a, size_t na, const unsigned *b, size_t nb) {
    if (na == 0) return (long)nb;
    if (nb == 0) return (long)na;
    long stack_row[STACK_CPS + 1];
    long *row = stack_row;
    if (nb > STACK_CPS) {
        row = malloc((nb + 1) * sizeof *row);
        if (!row) return icstr_fail(ICSTR_ERR_NOMEM, "edit distance: %zu x %zu", na, nb);
    }
    for (size_t j = 0; j <= nb; j++) row[j] = (long)j;
    for (size_t i = 1; i <= na; i++) {
        long diag = row[0];
        row[0] = (long)i;
        for (size_t j = 1; j <= nb; j++) {
            long up = row[j];
            long best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best) best = up + 1;
            if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    long d = row[nb];
    if (row != stack_row) free(row);
    return d;
}

long icstr_edit_distance_utf8(const char *a, const char *b) {
    if (!a || !b) return icstr_fail(ICSTR_ERR_ARG, "edit distance: NULL string");
    unsigned sa[STACK_CPS], sb[STACK_CPS], *ha, *hb;
    size_t na, nb;
    unsigned *ca = clean_cps(ICSTR_SCORE_UNICODE, a, sa, &na, &ha);
    unsigned *cb = ca ? clean_cps(ICSTR_SCORE_UNICODE, b, sb, &nb, &hb) : NULL;
    long d = (ca && cb) ? edit_distance(ca, na, cb, nb)
                        : icstr_fail(ICSTR_ERR_NOMEM, "edit distance: strings too long");
    if (ca) free(ha);
    if (cb) free(hb);
    return d;
}

int icstr_score_init(icstr_score *sc, int protocol) {
    if (!sc) return icstr_fail(ICSTR_ERR_ARG, "score: NULL accumulator");
    if (!icstr_score_protocol_name(protocol))
        return icstr_fail(ICSTR_ERR_ARG, "score: unknown protocol %d", protocol);
    memset(sc, 0, sizeof *sc);
    sc->protocol = protocol;
    return ICSTR_OK;
}

static int skips_len(int protocol, size_t n) {
    return n == 0 || (protocol == ICSTR_SCORE_STANDARD && n > ICSTR_SCORE_MAX_LABEL);
}

int icstr_score_skips(int protocol, const char *gt) {
    if (!gt) return 1;
    unsigned st[STACK_CPS], *h;
    size_t n;
    unsigned *c = clean_cps(protocol, gt, st, &n, &h);
    if (!c) return 0; /* too long to hold: certainly not empty; standard skips > 25 anyway */
    free(h);
    return skips_len(protocol, n);
}

int icstr_score_add(icstr_score *sc, const char *pred, const char *gt) {
    if (!sc || !pred || !gt) return icstr_fail(ICSTR_ERR_ARG, "score: NULL argument");
    unsigned sg[STACK_CPS], sp[STACK_CPS], *hg = NULL, *hp = NULL;
    size_t ng, np;
    int rc;
    unsigned *cg = clean_cps(sc->protocol, gt, sg, &ng, &hg);
    if (!cg) return icstr_fail(ICSTR_ERR_NOMEM, "score: label too long");
    if (skips_len(sc->protocol, ng)) {
        sc->skipped++;
        free(hg);
        return ICSTR_SCORE_SKIPPED;
    }
    unsigned *cp = clean_cps(sc->protocol, pred, sp, &np, &hp);
    if (!cp) {
        free(hg);
        return icstr_fail(ICSTR_ERR_NOMEM, "score: prediction too long");
    }
    long d = edit_distance(cp, np, cg, ng);
    if (d < 0) {
        rc = (int)d;
    } else {
        size_t longest = np > ng ? np : ng; /* >= 1: ng >= 1 here */
        sc->n++;
        sc->ned_sum += (double)d / (double)longest;
        rc = d == 0 ? ICSTR_SCORE_RIGHT : ICSTR_SCORE_WRONG;
        if (d == 0) sc->correct++;
    }
    free(hg);
    free(hp);
    return rc;
}

void icstr_score_result(const icstr_score *sc, long *n, long *skipped, double *acc,
                        double *one_minus_ned) {
    long cn = sc ? sc->n : 0;
    if (n) *n = cn;
    if (skipped) *skipped = sc ? sc->skipped : 0;
    if (acc) *acc = cn ? (double)sc->correct / (double)cn : 0.0;
    if (one_minus_ned) *one_minus_ned = cn ? 1.0 - sc->ned_sum / (double)cn : 0.0;
}

int icstr_score_clean(int protocol, const char *s, char *out, size_t cap) {
    if (!s || !out || cap == 0 || !icstr_score_protocol_name(protocol))
        return icstr_fail(ICSTR_ERR_ARG, "score clean: bad argument");
    size_t len = strlen(s), i = 0, o = 0;
    int count = 0;
    while (i < len) {
        unsigned cp;
        i += icstr_utf8_next(s + i, len - i, &cp);
        cp = clean_cp(protocol, cp);
        if (!cp) continue;
        char enc[4];
        size_t k;
        if (cp < 0x80) {
            enc[0] = (char)cp;
            k = 1;
        } else if (cp < 0x800) {
            enc[0] = (char)(0xC0 | (cp >> 6));
            enc[1] = (char)(0x80 | (cp & 0x3F));
            k = 2;
        } else if (cp < 0x10000) {
            enc[0] = (char)(0xE0 | (cp >> 12));
            enc[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
            enc[2] = (char)(0x80 | (cp & 0x3F));
            k = 3;
        } else {
            enc[0] = (char)(0xF0 | (cp >> 18));
            enc[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
            enc[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
            enc[3] = (char)(0x80 | (cp & 0x3F));
            k = 4;
        }
        if (o + k >= cap) break;
        memcpy(out + o, enc, k);
        o += k;
        count++;
    }
    out[o] = 0;
    return count;
}

int icstr_text_same_but_spaces(const char *a, const char *b) {
    for (;; a++, b++) {
        while (*a == ' ') a++;
        while (*b == ' ') b++;
        if (*a != *b) return 0;
        if (!*a) return 1;
    }
}
