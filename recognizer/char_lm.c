/* The character n-gram model of char_lm.h: counts in one open-addressing hash table, the
 * Witten-Bell interpolation done at each query (a pool's labels give a few thousand n-grams). */
#include "char_lm.h"

#include "icstr_core.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define LM_MAX_ORDER 6
#define SYM_BITS 10
#define SYM_TOTAL 1023 /* the symbol slot of a context's own entry (its total and distinct followers) */

enum { CLS_LETTER, CLS_DIGIT, CLS_END, N_CLASSES, CLS_START = N_CLASSES };

typedef struct {
    uint64_t key;      /* 0 = empty */
    uint32_t count;    /* an n-gram's count; a context's total */
    uint32_t distinct; /* a context's distinct followers */
} lm_entry;

struct icstr_char_lm {
    icstr_char_lm_params p;
    int n_chars, eoc, vocab;
    int S;             /* folded symbols: the characters, then the end (S - 1); the start is S */
    int fold[ICSTR_CHARSET_MAX];      /* each character's symbol (its lower case's token); -1 for
                                         the characters the model skips (not [A-Za-z0-9]) */
    int cls[ICSTR_CHARSET_MAX + 1];   /* each symbol's class */
    int cls_size[N_CLASSES];          /* symbols of each class */
    long labels;
    lm_entry *tab;
    size_t cap, used;  /* cap a power of two */
};

icstr_char_lm_params icstr_char_lm_default_params(void) {
    icstr_char_lm_params p = {3, 5};
    return p;
}

/* kind 0 = characters, 1 = classes; hist: the k symbols before sym (oldest first) */
static uint64_t make_key(int kind, const int *hist, int k, int sym) {
    uint64_t key = (uint64_t)kind << 3 | (uint64_t)k;
    for (int j = 0; j < k; j++) key = key << SYM_BITS | (uint64_t)hist[j];
    return (key << SYM_BITS | (uint64_t)sym) + 1; /* never 0 */
}

static size_t slot_of(uint64_t key, size_t cap) {
    uint64_t h = key * 0x9E3779B97F4A7C15ull;
    return (size_t)(h ^ (h >> 29)) & (cap - 1);
}

static const lm_entry *find(const icstr_char_lm *lm, uint64_t key) {
    if (!lm->cap) return NULL;
    for (size_t i = slot_of(key, lm->cap);; i = (i + 1) & (lm->cap - 1)) {
        if (lm->tab[i].key == key) return &lm->tab[i];
        if (!lm->tab[i].key) return NULL;
    }
}

static int grow(icstr_char_lm *lm) {
    size_t cap = lm->cap ? 2 * lm->cap : 1024;
    lm_entry *t = calloc(cap, sizeof *t);
    if (!t) return icstr_fail(ICSTR_ERR_NOMEM, "character model: %zu entries", cap);
    for (size_t i = 0; i < lm->cap; i++) {
        if (!lm->tab[i].key) continue;
        size_t j = slot_of(lm->tab[i].key, cap);
        while (t[j].key) j = (j + 1) & (cap - 1);
        t[j] = lm->tab[i];
    }
    free(lm->tab);
    lm->tab = t;
    lm->cap = cap;
    return ICSTR_OK;
}

/* the entry of key, added (zero counts) when missing; NULL when out of memory */
static lm_entry *upsert(icstr_char_lm *lm, uint64_t key) {
    if (2 * (lm->used + 1) > lm->cap && grow(lm)) return NULL;
    size_t i = slot_of(key, lm->cap);
    while (lm->tab[i].key && lm->tab[i].key != key) i = (i + 1) & (lm->cap - 1);
    if (!lm->tab[i].key) {
        lm->tab[i].key = key;
        lm->used++;
    }
    return &lm->tab[i];
}

int icstr_char_lm_create(const icstr_model *m, const icstr_char_lm_params *p, icstr_char_lm **out) {
    *out = NULL;
    icstr_char_lm_params q = p ? *p : icstr_char_lm_default_params();
    if (q.order < 1 || q.order > LM_MAX_ORDER || q.class_order < 1 || q.class_order > LM_MAX_ORDER)
        return icstr_fail(ICSTR_ERR_ARG, "character model: orders %d and %d outside [1, %d]", q.order,
                          q.class_order, LM_MAX_ORDER);
    icstr_vocab_info v = icstr_model_vocab(m);
    if (v.n_chars < 1 || v.n_chars > ICSTR_CHARSET_MAX)
        return icstr_fail(ICSTR_ERR_ARG, "character model: %d characters", v.n_chars);
    icstr_char_lm *lm = calloc(1, sizeof *lm);
    if (!lm) return icstr_fail(ICSTR_ERR_NOMEM, "character model");
    lm->p = q;
    lm->n_chars = v.n_chars;
    lm->eoc = v.eoc;
    lm->vocab = v.vocab;
    lm->S = v.n_chars + 1;
    for (int t = 0; t < v.n_chars; t++) {
        char s[8];
        int tok = t, low = t, n = 0;
        icstr_model_decode_tokens(m, &tok, 1, s, sizeof s);
        int c = (unsigned char)s[0], ascii = s[0] && !s[1];
        if (ascii && c >= 'A' && c <= 'Z') {
            char l[2] = {(char)(c + 32), 0};
            if (icstr_model_encode_label(m, l, &low, &n) || n != 1) {
                icstr_clear_error();
                low = t;
            }
        }
        int letter = ascii && (c | 32) >= 'a' && (c | 32) <= 'z', digit = ascii && c >= '0' && c <= '9';
        lm->fold[t] = letter || digit ? low : -1;
        lm->cls[t] = letter ? CLS_LETTER : CLS_DIGIT;
    }
    lm->cls[lm->S - 1] = CLS_END;
    for (int s = 0; s < lm->S; s++)
        if (s == lm->S - 1 || (s < lm->n_chars && lm->fold[s] == s)) lm->cls_size[lm->cls[s]]++;
    *out = lm;
    return ICSTR_OK;
}

void icstr_char_lm_free(icstr_char_lm *lm) {
    if (!lm) return;
    free(lm->tab);
    free(lm);
}

long icstr_char_lm_labels(const icstr_char_lm *lm) { return lm->labels; }

/* counts sym after each suffix of hist (n symbols, start-padded) up to order - 1 of them */
static int count(icstr_char_lm *lm, int kind, int order, const int *hist, int n, int sym) {
    for (int k = 0; k < order; k++) {
        lm_entry *g = upsert(lm, make_key(kind, hist + n - k, k, sym));
        if (!g) return icstr_fail(ICSTR_ERR_NOMEM, "character model");
        int first = g->count++ == 0;
        lm_entry *c = upsert(lm, make_key(kind, hist + n - k, k, SYM_TOTAL));
        if (!c) return icstr_fail(ICSTR_ERR_NOMEM, "character model");
        c->count++;
        c->distinct += (uint32_t)first;
    }
    return ICSTR_OK;
}

int icstr_char_lm_add(icstr_char_lm *lm, const int *tokens, int len) {
    if (len < 0) return icstr_fail(ICSTR_ERR_ARG, "character model: label of %d tokens", len);
    for (int j = 0; j < len; j++)
        if (tokens[j] < 0 || tokens[j] >= lm->n_chars)
            return icstr_fail(ICSTR_ERR_ARG, "character model: token %d", tokens[j]);
    /* symbols and classes (the skipped characters left out), each after LM_MAX_ORDER - 1 start
     * symbols */
    int pad = LM_MAX_ORDER - 1, n = 0;
    int *sym = malloc((size_t)(pad + len + 1) * sizeof *sym), *cl = malloc((size_t)(pad + len + 1) * sizeof *cl);
    int rc = sym && cl ? ICSTR_OK : icstr_fail(ICSTR_ERR_NOMEM, "character model");
    for (int j = 0; j <= pad + len && !rc; j++) {
        int v = j < pad ? lm->S : j < pad + len ? lm->fold[tokens[j - pad]] : lm->S - 1;
        if (v < 0) continue;
        sym[n] = v;
        cl[n++] = j < pad ? CLS_START : lm->cls[v];
    }
    for (int j = pad; j < n && !rc; j++) {
        rc = count(lm, 0, lm->p.order, sym, j, sym[j]);
        if (!rc) rc = count(lm, 1, lm->p.class_order, cl, j, cl[j]);
    }
    free(sym);
    free(cl);
    if (!rc) lm->labels++;
    return rc;
}

/* Witten-Bell: p (n_sym) from the lower orders becomes the distribution after the k symbols
 * hist, where that context was seen */
static void interpolate(const icstr_char_lm *lm, int kind, const int *hist, int k, int n_sym, double *p) {
    const lm_entry *c = find(lm, make_key(kind, hist, k, SYM_TOTAL));
    if (!c || !c->count) return;
    double N = c->count, T = c->distinct;
    for (int s = 0; s < n_sym; s++) {
        const lm_entry *g = find(lm, make_key(kind, hist, k, s));
        p[s] = ((g ? g->count : 0) + T * p[s]) / (N + T);
    }
}

void icstr_char_lm_next(const icstr_char_lm *lm, const int *hist, int n, double *logp) {
    /* the last LM_MAX_ORDER - 1 symbols and classes (skipped characters left out), start-padded */
    int pad = LM_MAX_ORDER - 1, sym[LM_MAX_ORDER - 1], cl[LM_MAX_ORDER - 1];
    for (int j = pad - 1, at = n - 1; j >= 0; j--) {
        while (at >= 0 && lm->fold[hist[at]] < 0) at--;
        sym[j] = at < 0 ? lm->S : lm->fold[hist[at--]];
        cl[j] = sym[j] == lm->S ? CLS_START : lm->cls[sym[j]];
    }
    double pc[N_CLASSES], p[ICSTR_CHARSET_MAX + 1];
    for (int k = 0; k < N_CLASSES; k++) pc[k] = 1.0 / N_CLASSES;
    for (int k = 0; k < lm->p.class_order; k++) interpolate(lm, 1, cl + pad - k, k, N_CLASSES, pc);
    /* within a class: add-one over its symbols, from the unigram counts */
    double cls_total[N_CLASSES] = {0};
    for (int s = 0; s < lm->S; s++) {
        const lm_entry *g = find(lm, make_key(0, NULL, 0, s));
        p[s] = g ? g->count : 0;
        cls_total[lm->cls[s]] += p[s];
    }
    for (int s = 0; s < lm->S; s++) {
        int k = lm->cls[s];
        p[s] = s == lm->S - 1 || lm->fold[s] == s ? pc[k] * (p[s] + 1.0) / (cls_total[k] + lm->cls_size[k]) : 0.0;
    }
    for (int k = 0; k < lm->p.order; k++) interpolate(lm, 0, sym + pad - k, k, lm->S, p);
    double top = 0.0; /* a skipped character's: the likeliest symbol's (no gain, no cost) */
    for (int s = 0; s < lm->S; s++)
        if (p[s] > top) top = p[s];
    for (int t = 0; t < lm->vocab; t++) {
        double q = t < lm->n_chars ? (lm->fold[t] < 0 ? top : p[lm->fold[t]]) : t == lm->eoc ? p[lm->S - 1] : 0.0;
        logp[t] = q > 0.0 ? log(q) : -HUGE_VAL;
    }
}

double icstr_char_lm_score(const icstr_char_lm *lm, const int *tokens, int len) {
    double lp[ICSTR_CHARSET_MAX + 3], sum = 0.0;
    for (int j = 0; j <= len; j++) {
        if (j < len && lm->fold[tokens[j]] < 0) continue;
        icstr_char_lm_next(lm, tokens, j, lp);
        sum += lp[j < len ? tokens[j] : lm->eoc];
    }
    return sum;
}
