/* The prompt pool as a datastore for nearest-neighbour decoding (see pool_knn.h). */
#include "pool_knn.h"

#include <stdlib.h>
#include <string.h>

#define KNN_CHUNK 64 /* records read by the decoder together */

icstr_knn_params icstr_knn_default_params(void) {
    icstr_knn_params p = {8, 10.0f, 0.3f};
    return p;
}

void icstr_pool_knn_free(icstr_pool_knn *s) {
    if (!s) return;
    free(s->keys);
    free(s->key_norm2);
    free(s->values);
    memset(s, 0, sizeof *s);
}

typedef struct {
    icstr_model *m;
    icstr_pool_knn *s;
    int M, D, L;
    int cap;            /* entries the arrays hold */
    int n;              /* records waiting in the chunk */
    float *lat;         /* (KNN_CHUNK, M, D) */
    int *tok, *len;     /* (KNN_CHUNK, L), (KNN_CHUNK) */
    float *states;      /* (KNN_CHUNK, L + 1, D) */
} knn_build;

static int grow(knn_build *b, int need) {
    icstr_pool_knn *s = b->s;
    if (s->knn.n + need <= b->cap) return ICSTR_OK;
    int cap = b->cap ? 2 * b->cap : 4096;
    while (cap < s->knn.n + need) cap *= 2;
    float *k = realloc(s->keys, (size_t)cap * b->D * sizeof *k);
    if (k) s->keys = k;
    float *n2 = realloc(s->key_norm2, (size_t)cap * sizeof *n2);
    if (n2) s->key_norm2 = n2;
    int *v = realloc(s->values, (size_t)cap * sizeof *v);
    if (v) s->values = v;
    if (!k || !n2 || !v) return icstr_fail(ICSTR_ERR_NOMEM, "kNN store: %d entries", cap);
    b->cap = cap;
    return ICSTR_OK;
}

/* reads the waiting records and appends their entries */
static int flush(knn_build *b) {
    if (!b->n) return ICSTR_OK;
    int rc = icstr_model_states(b->m, b->lat, b->n, b->tok, b->len, b->states);
    int eoc = icstr_model_vocab(b->m).eoc;
    for (int i = 0; i < b->n && !rc; i++) {
        if ((rc = grow(b, b->len[i] + 1))) break;
        icstr_pool_knn *s = b->s;
        for (int j = 0; j <= b->len[i]; j++) {
            int e = s->knn.n++;
            const float *h = b->states + ((size_t)i * (b->L + 1) + j) * b->D;
            memcpy(s->keys + (size_t)e * b->D, h, (size_t)b->D * sizeof(float));
            double n2 = 0.0;
            for (int d = 0; d < b->D; d++) n2 += (double)h[d] * h[d];
            s->key_norm2[e] = (float)n2;
            s->values[e] = j < b->len[i] ? b->tok[(size_t)i * b->L + j] : eoc;
        }
        s->records++;
    }
    b->n = 0;
    return rc;
}

static int visit(void *user, const icstr_pool_record *r) {
    knn_build *b = user;
    int len = 0;
    if (icstr_model_encode_label(b->m, r->label, b->tok + (size_t)b->n * b->L, &len)) {
        icstr_clear_error(); /* a label the model cannot write gives no entries */
        return 0;
    }
    b->len[b->n] = len;
    memcpy(b->lat + (size_t)b->n * b->M * b->D, r->latents, (size_t)b->M * b->D * sizeof(float));
    return ++b->n == KNN_CHUNK ? flush(b) : 0;
}

int icstr_pool_knn_load(icstr_pool *pool, const icstr_knn_params *p, icstr_pool_knn *s) {
    memset(s, 0, sizeof *s);
    icstr_model *m = icstr_pool_model(pool);
    if (!m) return icstr_fail(ICSTR_ERR_ARG, "kNN store: the pool was opened without a model");
    const icstr_model_config *c = icstr_model_get_config(m);
    knn_build b = {m, s, c->latents, c->dec_dim, c->max_label, 0, 0, NULL, NULL, NULL, NULL};
    b.lat = malloc((size_t)KNN_CHUNK * b.M * b.D * sizeof *b.lat);
    b.tok = malloc((size_t)KNN_CHUNK * b.L * sizeof *b.tok);
    b.len = malloc((size_t)KNN_CHUNK * sizeof *b.len);
    b.states = malloc((size_t)KNN_CHUNK * (b.L + 1) * b.D * sizeof *b.states);
    int rc = b.lat && b.tok && b.len && b.states ? ICSTR_OK : icstr_fail(ICSTR_ERR_NOMEM, "kNN store");
    if (!rc) rc = icstr_pool_foreach(pool, ICSTR_POOL_WANT_LATENTS, visit, &b);
    if (!rc) rc = flush(&b);
    free(b.lat), free(b.tok), free(b.len), free(b.states);
    if (rc) {
        icstr_pool_knn_free(s);
        return rc;
    }
    s->knn.keys = s->keys;
    s->knn.key_norm2 = s->key_norm2;
    s->knn.values = s->values;
    s->knn.k = p->k;
    s->knn.temperature = p->temperature;
    s->knn.lambda = p->lambda;
    return ICSTR_OK;
}
