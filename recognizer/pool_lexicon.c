/* The prompt pool's labels as a lexicon (see pool_lexicon.h). */
#include "pool_lexicon.h"
#include "icstr_data.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

icstr_lexicon_params icstr_lexicon_default_params(void) {
    icstr_lexicon_params p = {0.5f, 4.0f, 4};
    return p;
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
    if (rc) icstr_pool_lexicon_free(lx);
    return rc;
}

/* whether a cleaned reading ([a-z0-9]) has a letter: one without is no lexicon's to correct */
static int has_letter(const char *clean, int n) {
    for (int i = 0; i < n; i++)
        if (clean[i] >= 'a' && clean[i] <= 'z') return 1;
    return 0;
}

/* The normalised edit distance of two cleaned strings, or 2 when it is sure to exceed max_ned
 * (the lengths alone say so). */
static double ned(const char *a, int na, const char *b, int nb, double max_ned) {
    int longer = na > nb ? na : nb;
    if (!longer) return 0.0;
    if (abs(na - nb) > max_ned * longer) return 2.0;
    long d = icstr_edit_distance_utf8(a, b);
    return d < 0 ? 2.0 : (double)d / longer;
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
    float *lat = icstr_alloc(slots * per, sizeof(float));
    char clean[1024];
    int rc = ICSTR_OK, q = 0;
    if (!tok || !len || !cand || !first || !count || !lp || !dist || !lat)
        rc = icstr_fail(ICSTR_ERR_NOMEM, "pool lexicon: %d readings", n);
    for (int i = 0; i < n && !rc; i++) {
        first[i] = q;
        int nc = icstr_score_clean(ICSTR_SCORE_STANDARD, texts[i], clean, sizeof clean), k = 0, known = 0;
        if (nc <= 0 || !has_letter(clean, nc)) continue;
        for (int j = 0; j < lx->n && !known; j++) {
            if (lx->clean_len[j] == nc && !strcmp(lx->clean[j], clean)) known = 1; /* a label already */
            double d = ned(clean, nc, lx->clean[j], lx->clean_len[j], p->max_ned);
            if (known || d > p->max_ned || lx->len[j] == 0) continue;
            int at; /* keep the C nearest, nearest first */
            if (k < C) at = k++;
            else if (d < dist[C - 1]) at = C - 1;
            else continue;
            while (at > 0 && dist[at - 1] > d) {
                dist[at] = dist[at - 1];
                cand[q + 1 + at] = cand[q + 1 + at - 1];
                at--;
            }
            dist[at] = d;
            cand[q + 1 + at] = j;
        }
        int own = 0;
        if (known || !k || icstr_model_encode_label(m, texts[i], tok + (size_t)q * L, &own)) {
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
    }
    free(tok), free(len), free(cand), free(first), free(count), free(lp), free(dist);
    icstr_free(lat);
    return rc;
}
