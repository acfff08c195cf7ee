/* Lookalike characters re-decided by the whole reading (lookalikes.h). */
#include "lookalikes.h"

#include "icstr_core.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* digit -> its lookalike letters (lower case), and letter -> its lookalike digits: the same pairs
 * read both ways (test_lookalikes checks that they are) */
static const char *const digit_lookalikes[10] = {"odqc", "il", "z", "", "a", "s", "gb", "t", "b", "gq"};
static const char *const letter_lookalikes[26] = {
    "4", "68", "0", "0", "", "", "69", "", "1", "", "", "1", "",  /* a..m */
    "", "0", "", "09", "", "5", "7", "", "", "", "", "", "2", /* n..z */
};

/* the swaps of one reading scored at most, per round */
#define MAX_SWAPS 64
/* texts scored by one decoder pass (each takes a copy of its crop's latents) */
#define SCORE_CHUNK 256

icstr_lookalike_params icstr_lookalike_default_params(void) {
    icstr_lookalike_params p = {1.0f, 3};
    return p;
}

const char *icstr_lookalikes_of(char c) {
    if (c >= '0' && c <= '9') return digit_lookalikes[c - '0'];
    if (isascii((unsigned char)c) && isalpha((unsigned char)c)) return letter_lookalikes[tolower((unsigned char)c) - 'a'];
    return "";
}

/* 1 for an ASCII letter, 2 for a digit, 0 for anything else */
static int class_of(char c) {
    return !isascii((unsigned char)c) ? 0 : isalpha((unsigned char)c) ? 1 : isdigit((unsigned char)c) ? 2 : 0;
}

/* A letter put in for a digit takes the case of the nearest letter of the text, left first
 * (upper case in a text of none). */
static char letter_case(const char *text, size_t at, char lower) {
    const char *near = NULL;
    for (size_t k = at; k-- > 0 && !near;)
        if (class_of(text[k]) == 1) near = text + k;
    for (size_t k = at + 1; !near && text[k]; k++)
        if (class_of(text[k]) == 1) near = text + k;
    return near && islower((unsigned char)*near) ? lower : (char)toupper((unsigned char)lower);
}

typedef struct {
    int reading;  /* index of the reading */
    int at;       /* first byte swapped, -1 for the reading itself */
    char to[2];   /* the characters put at at and at + 1 (0: that byte stays) */
} swap;

static char put_for(const char *text, size_t at, char lookalike) {
    return isdigit((unsigned char)lookalike) ? lookalike : letter_case(text, at, lookalike);
}

/* A swap of the bytes from..to (one or two) into class cls fits when the bytes around them
 * include that class and not the other: "106.1C" -> "106.10", "Take0ut" -> "TakeOut", but not
 * "SH01" -> "SHO1", "9556" -> "G556" or "7 DAYS" -> "T DAYS" (no context to go by); or when they
 * are the whole text of a whole reading (whole): a lone "i" -> "1", judged by the character
 * model from the text's start and end. */
static int fits(const char *text, size_t from, size_t to, int cls, int whole) {
    if (whole && from == 0 && !text[to + 1]) return 1;
    int left = from > 0 ? class_of(text[from - 1]) : 0, right = class_of(text[to + 1]); /* NUL: none */
    if ((left && left != cls) || (right && right != cls)) return 0;
    return left == cls || right == cls;
}

/* The swaps of text that fit their neighbours: every byte with lookalikes into each of them,
 * and every two neighbouring bytes with lookalikes into the same class at once (a reading's "1o"
 * in "Down1oad" is one step from neither "lo" nor "10" being better alone); at most cap. */
static int list_swaps(const char *text, int reading, int whole, swap *out, int cap) {
    int k = 0;
    for (size_t j = 0; text[j] && k < cap; j++) {
        const char *a = icstr_lookalikes_of(text[j]), *b = icstr_lookalikes_of(text[j + 1]);
        if (!*a) continue;
        int cls = class_of(*a); /* every lookalike of a byte is of the other class */
        if (fits(text, j, j, cls, whole))
            for (const char *s = a; *s && k < cap; s++) out[k++] = (swap){reading, (int)j, {put_for(text, j, *s), 0}};
        if (!*b || class_of(*b) != cls || !fits(text, j, j + 1, cls, whole)) continue;
        for (const char *s = a; *s && k < cap; s++)
            for (const char *t = b; *t && k < cap; t++)
                out[k++] = (swap){reading, (int)j, {put_for(text, j, *s), put_for(text, j + 1, *t)}};
    }
    return k;
}

static void apply_swap(char *text, const swap *s) {
    text[s->at] = s->to[0];
    if (s->to[1]) text[s->at + 1] = s->to[1];
}

int icstr_lookalikes_correct(icstr_model *m, const icstr_char_lm *lm, const float *latents, int n,
                             const icstr_lookalike_params *p, const unsigned char *flags, char **texts, int cap,
                             float *confidence, int *changed) {
    if (changed) *changed = 0;
    if (p->rounds < 1 || p->rounds > 16 || !(p->weight >= 0.0f))
        return icstr_fail(ICSTR_ERR_ARG, "lookalikes: rounds %d (1..16), weight %g (>= 0)", p->rounds,
                          (double)p->weight);
    if (!lm || n <= 0) return ICSTR_OK;
    const icstr_model_config *mc = icstr_model_get_config(m);
    int L = mc->max_label;
    size_t per = (size_t)mc->latents * mc->dec_dim, slots = (size_t)n * (MAX_SWAPS + 1);
    swap *sw = malloc(slots * sizeof *sw);
    int *tok = malloc(slots * L * sizeof *tok), *len = calloc(slots, sizeof *len);
    double *lp = calloc(slots, sizeof *lp), *total = malloc((size_t)n * sizeof *total);
    double *own = malloc((size_t)n * sizeof *own); /* the decoder's log-probability of the current text */
    unsigned char *active = calloc((size_t)n, 1), *moved = calloc((size_t)n, 1), *ever = calloc((size_t)n, 1);
    float *lat = icstr_alloc((size_t)SCORE_CHUNK * per, sizeof(float));
    char *text = malloc((size_t)cap);
    int rc = ICSTR_OK;
    if (!sw || !tok || !len || !lp || !total || !own || !active || !moved || !ever || !lat || !text)
        rc = icstr_fail(ICSTR_ERR_NOMEM, "lookalikes: %d readings", n);
    for (int i = 0; i < n && !rc; i++) active[i] = !(flags && (flags[i] & ICSTR_LOOKALIKE_KEEP));
    for (int round = 0; round < p->rounds && !rc; round++) {
        int q = 0;
        for (int i = 0; i < n; i++) {
            if (!active[i]) continue;
            if (round == 0) sw[q++] = (swap){i, -1, {0, 0}}; /* the reading's own score, once */
            q += list_swaps(texts[i], i, !(flags && (flags[i] & ICSTR_LOOKALIKE_PIECE)), sw + q, MAX_SWAPS);
        }
        /* encode each text; one the model cannot write drops out (its reading stays) */
        int kept = 0;
        for (int s = 0; s < q; s++) {
            const char *src = texts[sw[s].reading];
            if (sw[s].at >= 0) {
                size_t bytes = strlen(src);
                if (bytes >= (size_t)cap) continue;
                memcpy(text, src, bytes + 1);
                apply_swap(text, &sw[s]);
                src = text;
            }
            if (icstr_model_encode_label(m, src, tok + (size_t)kept * L, &len[kept])) {
                icstr_clear_error();
                if (sw[s].at < 0) active[sw[s].reading] = 0;
                continue;
            }
            sw[kept++] = sw[s];
        }
        if (!kept) break;
        for (int c = 0; c < kept && !rc; c += SCORE_CHUNK) {
            int k = kept - c < SCORE_CHUNK ? kept - c : SCORE_CHUNK;
            for (int s = 0; s < k; s++)
                memcpy(lat + (size_t)s * per, latents + (size_t)sw[c + s].reading * per, per * sizeof(float));
            rc = icstr_model_score(m, lat, k, NULL, tok + (size_t)c * L, len + c, 1, lp + c);
        }
        if (rc) break;
        /* the best swap of each reading, applied when it beats the reading's score */
        int any = 0;
        for (int i = 0; i < n; i++) moved[i] = 0;
        for (int s = 0; s < kept;) {
            int i = sw[s].reading, best = -1;
            double best_total = 0.0, best_lp = 0.0;
            for (; s < kept && sw[s].reading == i; s++) {
                double t = lp[s] + p->weight * icstr_char_lm_score(lm, tok + (size_t)s * L, len[s]);
                if (sw[s].at < 0) {
                    total[i] = t, own[i] = lp[s];
                } else if (best < 0 || t > best_total) {
                    best = s, best_total = t, best_lp = lp[s];
                }
            }
            if (!active[i] || best < 0 || !(best_total > total[i])) continue;
            apply_swap(texts[i], &sw[best]);
            total[i] = best_total;
            double c = confidence[i] * exp(best_lp - own[i]); /* as much surer or less sure as the decoder is */
            confidence[i] = (float)(c < 1.0 ? c : 1.0);
            own[i] = best_lp;
            moved[i] = 1;
            any = 1;
        }
        for (int i = 0; i < n; i++) {
            if (moved[i]) ever[i] = 1;
            else active[i] = 0; /* no better swap: done */
        }
        if (!any) break;
    }
    for (int i = 0; changed && !rc && i < n; i++) *changed += ever[i];
    free(sw), free(tok), free(len), free(lp), free(total), free(own), free(active), free(moved), free(ever), free(text);
    icstr_free(lat);
    return rc;
}
