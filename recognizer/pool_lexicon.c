/* The prompt pool's labels as a lexicon (see pool_lexicon.h). */
#include "pool_lexicon.h"
#include "icstr_data.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

icstr_lexicon_params icstr_lexicon_default_params(void) {
    icstr_lexicon_params p = {0.5f, 4.0f, 4, 0.34f, 1};
    return p;
}

/* whether a cleaned reading ([a-z0-9]) has a letter: one without is no lexicon's to correct */
int icstr_lexicon_has_letter(const char *clean, int n) {
    for (int i = 0; i < n; i++)
        if (clean[i] >= 'a' && clean[i] <= 'z') return 1;
    return 0;
}

double icstr_lexicon_ned(const char *a, int na, const char *b, int nb, double max_ned) {
    int longer = na > nb ? na : nb;
    if (!longer) return 0.0;
    if (abs(na - nb) > max_ned * longer) return 2.0;
    long d = icstr_edit_distance_utf8(a, b);
    return d < 0 ? 2.0 : (double)d / longer;
}

void icstr_pool_lexicon_free(icstr_pool_lexicon *lx) {
    if (!lx) return;
    for (int i = 0; i < lx->n; i++) {
        free(lx->labels[i]);
        free(lx->clean[i]);
    }
    free(lx->labels);
    free(lx->clean);
    free(lx->clean_len);
    free(lx->tokens);
    free(lx->len);
    for (int i = 0; i < lx->n_words; i++) free(lx->words[i].word), free(lx->words[i].clean);
    free(lx->words);
    memset(lx, 0, sizeof *lx);
}

typedef struct {
    char **labels;
    int n, cap;
} label_list;

static int collect(void *user, const icstr_pool_record *r) {
    label_list *l = user;
    if (l->n == l->cap) {
        int cap = l->cap ? 2 * l->cap : 256;
        char **g = realloc(l->labels, (size_t)cap * sizeof *g);
        if (!g) return icstr_fail(ICSTR_ERR_NOMEM, "pool lexicon: %d labels", cap);
        l->labels = g;
        l->cap = cap;
    }
    if (!(l->labels[l->n] = strdup(r->label))) return icstr_fail(ICSTR_ERR_NOMEM, "pool lexicon");
    l->n++;
    return 0;
}

static int by_string(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* ---- words: a reading's misread word put right by a word of the pool's labels ---- */

static int by_clean(const void *a, const void *b) {
    return strcmp(((const icstr_lexicon_word *)a)->clean, ((const icstr_lexicon_word *)b)->clean);
}

/* The pool's words: the space-separated words of its labels whose cleaned form has at least
 * ICSTR_LEXICON_WORD_MIN characters and a letter, once each (one of its spellings), sorted by
 * cleaned form. */
static int load_words(icstr_pool_lexicon *lx) {
    int cap = 0, n = 0;
    icstr_lexicon_word *w = NULL;
    char clean[256], raw[256];
    for (int i = 0; i < lx->n; i++) {
        const char *s = lx->labels[i];
        while (*s) {
            while (*s == ' ') s++;
            const char *e = s;
            while (*e && *e != ' ') e++;
            size_t len = (size_t)(e - s);
            if (len && len < sizeof raw) {
                memcpy(raw, s, len);
                raw[len] = 0;
                int nc = icstr_score_clean(ICSTR_SCORE_STANDARD, raw, clean, sizeof clean);
                if (nc >= ICSTR_LEXICON_WORD_MIN && icstr_lexicon_has_letter(clean, nc)) {
                    if (n == cap) {
                        cap = cap ? 2 * cap : 256;
                        icstr_lexicon_word *g = realloc(w, (size_t)cap * sizeof *g);
                        if (!g) goto nomem;
                        w = g;
                    }
                    w[n].word = strdup(raw);
                    w[n].clean = strdup(clean);
                    w[n].clean_len = nc;
                    if (!w[n].word || !w[n].clean) {
                        free(w[n].word), free(w[n].clean);
                        goto nomem;
                    }
                    n++;
                }
            }
            s = e;
        }
    }
    if (n) qsort(w, (size_t)n, sizeof *w, by_clean);
    int u = 0;
    for (int i = 0; i < n; i++)
        if (u && !strcmp(w[u - 1].clean, w[i].clean)) free(w[i].word), free(w[i].clean);
        else w[u++] = w[i];
    lx->words = w;
    lx->n_words = u;
    return ICSTR_OK;
nomem:
    for (int i = 0; i < n; i++) free(w[i].word), free(w[i].clean);
    free(w);
    return icstr_fail(ICSTR_ERR_NOMEM, "pool lexicon: words");
}

int icstr_pool_lexicon_load(icstr_pool *pool, icstr_pool_lexicon *lx) {
    memset(lx, 0, sizeof *lx);
    icstr_model *m = icstr_pool_model(pool);
    if (!m) return icstr_fail(ICSTR_ERR_ARG, "pool lexicon: the pool was opened without a model");
    label_list l = {NULL, 0, 0};
    int rc = icstr_pool_foreach(pool, 0, collect, &l);
    if (!rc && l.n) qsort(l.labels, (size_t)l.n, sizeof *l.labels, by_string);
    int L = lx->max_label = icstr_model_get_config(m)->max_label, n = 0;
    for (int i = 0; i < l.n; i++) /* distinct labels, in place */
        if (n && !strcmp(l.labels[n - 1], l.labels[i])) free(l.labels[i]);
        else l.labels[n++] = l.labels[i];
    lx->labels = l.labels;
    lx->clean = calloc((size_t)n + 1, sizeof *lx->clean);
    lx->clean_len = calloc((size_t)n + 1, sizeof *lx->clean_len);
    lx->tokens = malloc(((size_t)n + 1) * L * sizeof *lx->tokens);
    lx->len = calloc((size_t)n + 1, sizeof *lx->len);
    lx->n = n;
    if (!rc && (!lx->clean || !lx->clean_len || !lx->tokens || !lx->len))
        rc = icstr_fail(ICSTR_ERR_NOMEM, "pool lexicon: %d labels", n);
    for (int i = 0; i < n && !rc; i++) {
        size_t cap = strlen(lx->labels[i]) + 1;
        if (!(lx->clean[i] = malloc(cap))) rc = icstr_fail(ICSTR_ERR_NOMEM, "pool lexicon");
        else if ((lx->clean_len[i] = icstr_score_clean(ICSTR_SCORE_STANDARD, lx->labels[i], lx->clean[i], cap)) < 0)
            rc = lx->clean_len[i];
        else
            rc = icstr_model_encode_label(m, lx->labels[i], lx->tokens + (size_t)i * L, &lx->len[i]);
    }
    if (!rc) rc = load_words(lx);
    if (rc) icstr_pool_lexicon_free(lx);
    return rc;
}

int icstr_lexicon_nearest_labels(const icstr_pool_lexicon *lx, const char *clean, int nc,
                                 const icstr_lexicon_params *p, int C, int *cand, double *dist) {
    double max_ned = p->max_ned;
    if (nc <= 0 || !icstr_lexicon_has_letter(clean, nc)) return 0;
    int k = 0;
    for (int j = 0; j < lx->n; j++) {
        if (lx->clean_len[j] == nc && !strcmp(lx->clean[j], clean)) return -1; /* a label already */
        double d = icstr_lexicon_ned(clean, nc, lx->clean[j], lx->clean_len[j], max_ned);
        if (d > max_ned || lx->len[j] == 0 || (p->max_shorter >= 0 && lx->clean_len[j] < nc - p->max_shorter))
            continue;
        int at; /* keep the C nearest, nearest first */
        if (k < C) at = k++;
        else if (d < dist[C - 1]) at = C - 1;
        else continue;
        while (at > 0 && dist[at - 1] > d) {
            dist[at] = dist[at - 1];
            cand[at] = cand[at - 1];
            at--;
        }
        dist[at] = d;
        cand[at] = j;
    }
    return k;
}

int icstr_lexicon_word_index(const icstr_pool_lexicon *lx, const char *clean) {
    int lo = 0, hi = lx->n_words;
    while (lo < hi) {
        int mid = (lo + hi) / 2, c = strcmp(lx->words[mid].clean, clean);
        if (!c) return mid;
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    return -1;
}

int icstr_lexicon_nearest_word(const icstr_pool_lexicon *lx, const char *clean, int nc, double max_ned) {
    if (icstr_lexicon_word_index(lx, clean) >= 0) return -1; /* the word itself */
    int best = -1;
    double best_d = 2.0;
    for (int j = 0; j < lx->n_words; j++) {
        double d = icstr_lexicon_ned(clean, nc, lx->words[j].clean, lx->words[j].clean_len, max_ned);
        if (d <= max_ned && d < best_d) best = j, best_d = d;
    }
    return best;
}

#define WORD_CANDIDATES 8 /* per reading: each word put right alone, then all of them at once */
#define WORD_CHUNK 256    /* texts scored per decoder pass */

/* A reading's candidates: texts (WORD_CANDIDATES + 1 of cap bytes; the reading's own first);
 * returns how many (1: none) */
static int word_candidates(const icstr_pool_lexicon *lx, const char *text, double max_ned, char *out, int cap) {
    int at[WORD_CANDIDATES], end[WORD_CANDIDATES], with[WORD_CANDIDATES], k = 0;
    char raw[256], clean[256];
    for (int s = 0; text[s] && k < WORD_CANDIDATES - 1;) {
        while (text[s] == ' ') s++;
        int e = s;
        while (text[e] && text[e] != ' ') e++;
        if (e > s && (size_t)(e - s) < sizeof raw) {
            memcpy(raw, text + s, (size_t)(e - s));
            raw[e - s] = 0;
            int nc = icstr_score_clean(ICSTR_SCORE_STANDARD, raw, clean, sizeof clean), j;
            if (nc >= ICSTR_LEXICON_WORD_MIN && icstr_lexicon_has_letter(clean, nc) &&
                (j = icstr_lexicon_nearest_word(lx, clean, nc, max_ned)) >= 0)
                at[k] = s, end[k] = e, with[k++] = j;
        }
        s = e;
    }
    if ((size_t)strlen(text) >= (size_t)cap) return 1;
    strcpy(out, text);
    int n = 1;
    for (int c = 0; c <= k; c++) { /* c < k: word c alone; c == k: all (when more than one) */
        if (c == k && k < 2) break;
        char *o = out + (size_t)n * cap;
        size_t len = 0;
        int ok = 1, prev = 0;
        for (int w = 0; w < k && ok; w++) {
            if (c < k && w != c) continue;
            const char *word = lx->words[with[w]].word;
            size_t keep = (size_t)(at[w] - prev), wl = strlen(word);
            if (len + keep + wl >= (size_t)cap) ok = 0;
            else {
                memcpy(o + len, text + prev, keep), len += keep;
                memcpy(o + len, word, wl), len += wl;
                prev = end[w];
            }
        }
        size_t rest = strlen(text + prev);
        if (!ok || len + rest >= (size_t)cap) continue;
        memcpy(o + len, text + prev, rest + 1);
        n++;
    }
    return n;
}

/* The word pass over the readings not done[i] (the line pass put a label in): each reading's
 * candidates scored on its crop (no prompts, either case); the likeliest stays when at most
 * margin below the reading's (corrected[i] = 1 then; corrected may be NULL). */
static int correct_words(const icstr_pool_lexicon *lx, icstr_model *m, const float *latents, int n,
                         const icstr_lexicon_params *p, char **texts, int cap, float *confidence, const unsigned char *done,
                         unsigned char *corrected) {
    if (!lx->n_words) return ICSTR_OK;
    const icstr_model_config *mc = icstr_model_get_config(m);
    int L = lx->max_label, C = WORD_CANDIDATES + 1;
    size_t per = (size_t)mc->latents * mc->dec_dim;
    char *text = malloc((size_t)WORD_CHUNK * cap); /* slot q's text at q * cap */
    int *tok = malloc((size_t)WORD_CHUNK * L * sizeof *tok), *len = malloc(WORD_CHUNK * sizeof *len);
    int *owner = malloc(WORD_CHUNK * sizeof *owner);
    double *lp = malloc(WORD_CHUNK * sizeof *lp);
    float *lat = icstr_alloc((size_t)WORD_CHUNK * per, sizeof(float));
    int rc = text && tok && len && owner && lp && lat ? ICSTR_OK : icstr_fail(ICSTR_ERR_NOMEM, "lexicon words");
    for (int i0 = 0; i0 < n && !rc;) {
        int q = 0, i = i0;
        for (; i < n && q + C <= WORD_CHUNK; i++) {
            if (done[i]) continue;
            int k = word_candidates(lx, texts[i], p->word_ned, text + (size_t)q * cap, cap), first = q;
            for (int c = 0; k > 1 && c < k; c++) { /* the texts the model can write, packed */
                const char *t = text + (size_t)(first + c) * cap;
                if (icstr_model_encode_label(m, t, tok + (size_t)q * L, &len[q])) {
                    icstr_clear_error();
                    if (c == 0) break;
                    continue;
                }
                if (q != first + c) memmove(text + (size_t)q * cap, t, strlen(t) + 1);
                memcpy(lat + (size_t)q * per, latents + (size_t)i * per, per * sizeof(float));
                owner[q++] = i;
            }
            if (q - first < 2) q = first; /* the reading alone, or not even that */
        }
        i0 = i;
        if (q) rc = icstr_model_score(m, lat, q, NULL, tok, len, 1, lp);
        for (int s = 0; s < q && !rc;) {
            int r = owner[s], own = s, best = -1;
            for (s++; s < q && owner[s] == r; s++)
                if (best < 0 || lp[s] > lp[best]) best = s;
            if (best >= 0 && lp[best] >= lp[own] - p->margin) {
                strcpy(texts[r], text + (size_t)best * cap);
                confidence[r] = (float)exp(lp[best]);
                if (corrected) corrected[r] = 1;
            }
        }
    }
    free(text), free(tok), free(len), free(owner), free(lp);
    icstr_free(lat);
    return rc;
}

int icstr_pool_lexicon_correct(const icstr_pool_lexicon *lx, icstr_model *m, const float *latents, int n,
                               const icstr_lexicon_params *p, char **texts, int cap, float *confidence,
                               unsigned char *corrected) {
    for (int i = 0; corrected && i < n; i++) corrected[i] = 0;
    if (!lx || lx->n == 0 || n <= 0) return ICSTR_OK;
    const icstr_model_config *mc = icstr_model_get_config(m);
    int L = lx->max_label, C = p->candidates > 0 ? p->candidates : 1;
    size_t per = (size_t)mc->latents * mc->dec_dim, slots = (size_t)n * (C + 1);
    /* per reading: its own tokens in slot 0, then its candidates (label indices in cand) */
    int *tok = malloc(slots * L * sizeof *tok), *len = calloc(slots, sizeof *len), *cand = malloc(slots * sizeof *cand);
    int *first = malloc(((size_t)n + 1) * sizeof *first), *count = calloc((size_t)n, sizeof *count);
    double *lp = calloc(slots, sizeof *lp), *dist = malloc((size_t)C * sizeof *dist);
    unsigned char *fixed = calloc((size_t)n, 1);
    float *lat = icstr_alloc(slots * per, sizeof(float));
    char clean[1024];
    int rc = ICSTR_OK, q = 0;
    if (!tok || !len || !cand || !first || !count || !lp || !dist || !lat || !fixed)
        rc = icstr_fail(ICSTR_ERR_NOMEM, "pool lexicon: %d readings", n);
    for (int i = 0; i < n && !rc; i++) {
        first[i] = q;
        int nc = icstr_score_clean(ICSTR_SCORE_STANDARD, texts[i], clean, sizeof clean), own = 0;
        if (nc <= 0) continue;
        int k = icstr_lexicon_nearest_labels(lx, clean, nc, p, C, cand + q + 1, dist);
        if (k <= 0 || icstr_model_encode_label(m, texts[i], tok + (size_t)q * L, &own)) {
            icstr_clear_error();
            continue;
        }
        len[q] = own;
        for (int c = 0; c < k; c++) {
            int j = cand[q + 1 + c];
            memcpy(tok + (size_t)(q + 1 + c) * L, lx->tokens + (size_t)j * L, (size_t)L * sizeof *tok);
            len[q + 1 + c] = lx->len[j];
        }
        for (int c = 0; c <= k; c++) memcpy(lat + (size_t)(q + c) * per, latents + (size_t)i * per, per * sizeof(float));
        count[i] = k;
        q += k + 1;
    }
    first[n] = q;
    if (!rc && q) rc = icstr_model_score(m, lat, q, NULL, tok, len, 1, lp);
    for (int i = 0; i < n && !rc; i++) {
        if (!count[i]) continue;
        int s = first[i], best = -1;
        for (int c = 1; c <= count[i]; c++)
            if (best < 0 || lp[s + c] > lp[s + best]) best = c;
        if (lp[s + best] < lp[s] - p->margin) continue;
        const char *label = lx->labels[cand[s + best]];
        size_t bytes = strlen(label);
        if (bytes >= (size_t)cap) continue;
        memcpy(texts[i], label, bytes + 1);
        confidence[i] = (float)exp(lp[s + best]);
        if (corrected) corrected[i] = 1;
        fixed[i] = 1;
    }
    free(tok), free(len), free(cand), free(first), free(count), free(lp), free(dist);
    icstr_free(lat);
    if (!rc && p->word_ned > 0.0f)
        rc = correct_words(lx, m, latents, n, p, texts, cap, confidence, fixed, corrected);
    free(fixed);
    return rc;
}
