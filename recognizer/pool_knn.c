/* The prompt pool as a datastore for nearest-neighbour decoding (see pool_knn.h). */
#include "pool_knn.h"
#include "store_cache.h"

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
    int *values;        /* (L + 1) a record's entry values: its label, then EOC */
    float *states;      /* (KNN_CHUNK, L + 1, D) */
    uint64_t ids[KNN_CHUNK], hashes[KNN_CHUNK]; /* hashes: icstr_store_record_key */
    icstr_store_cache cache;      /* the entries of an earlier load (POOL/knn.cache) */
    icstr_store_records records;  /* every record read, with its entry count, for the next one */
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

/* appends a record's n entries: keys (n, D), values (n) */
static int append(knn_build *b, uint64_t id, uint64_t hash, int n, const float *keys, const int *values) {
    int rc = grow(b, n);
    if (rc || (rc = icstr_store_records_add(&b->records, id, hash, n))) return rc;
    icstr_pool_knn *s = b->s;
    for (int j = 0; j < n; j++) {
        int e = s->knn.n++;
        const float *h = keys + (size_t)j * b->D;
        memcpy(s->keys + (size_t)e * b->D, h, (size_t)b->D * sizeof(float));
        double n2 = 0.0;
        for (int d = 0; d < b->D; d++) n2 += (double)h[d] * h[d];
        s->key_norm2[e] = (float)n2;
        s->values[e] = values[j];
    }
    s->records++;
    return ICSTR_OK;
}

/* reads the waiting records and appends their entries */
static int flush(knn_build *b) {
    if (!b->n) return ICSTR_OK;
    int rc = icstr_model_states(b->m, b->lat, b->n, b->tok, b->len, b->states);
    int eoc = icstr_model_vocab(b->m).eoc;
    for (int i = 0; i < b->n && !rc; i++) {
        for (int j = 0; j <= b->len[i]; j++) b->values[j] = j < b->len[i] ? b->tok[(size_t)i * b->L + j] : eoc;
        rc = append(b, b->ids[i], b->hashes[i], b->len[i] + 1, b->states + (size_t)i * (b->L + 1) * b->D, b->values);
        b->s->computed++;
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
    const float *ck;
    const int *cv;
    uint64_t key = icstr_store_record_key(r);
    if (icstr_store_cache_find(&b->cache, r->id, key, &ck, &cv) == len + 1) {
        int rc = flush(b); /* in id order: the records waiting go first */
        return rc ? rc : append(b, r->id, key, len + 1, ck, cv);
    }
    b->len[b->n] = len;
    b->ids[b->n] = r->id;
    b->hashes[b->n] = key;
    memcpy(b->lat + (size_t)b->n * b->M * b->D, r->latents, (size_t)b->M * b->D * sizeof(float));
    return ++b->n == KNN_CHUNK ? flush(b) : 0;
}

int icstr_pool_knn_load(icstr_pool *pool, const icstr_knn_params *p, icstr_pool_knn *s) {
    memset(s, 0, sizeof *s);
    icstr_model *m = icstr_pool_model(pool);
    if (!m) return icstr_fail(ICSTR_ERR_ARG, "kNN store: the pool was opened without a model");
    const icstr_model_config *c = icstr_model_get_config(m);
    knn_build b;
    memset(&b, 0, sizeof b);
    b.m = m, b.s = s, b.M = c->latents, b.D = c->dec_dim, b.L = c->max_label;
    b.lat = malloc((size_t)KNN_CHUNK * b.M * b.D * sizeof *b.lat);
    b.tok = malloc((size_t)KNN_CHUNK * b.L * sizeof *b.tok);
    b.values = malloc((size_t)(b.L + 1) * sizeof *b.values);
    b.len = malloc((size_t)KNN_CHUNK * sizeof *b.len);
    b.states = malloc((size_t)KNN_CHUNK * (b.L + 1) * b.D * sizeof *b.states);
    int rc = b.lat && b.tok && b.values && b.len && b.states ? ICSTR_OK : icstr_fail(ICSTR_ERR_NOMEM, "kNN store");
    if (!rc) rc = icstr_store_cache_open(pool, "knn", b.D, &b.cache);
    if (!rc) rc = icstr_pool_foreach(pool, ICSTR_POOL_WANT_LATENTS, visit, &b);
    if (!rc) rc = flush(&b);
    if (!rc) rc = icstr_store_cache_save(&b.cache, &b.records, s->keys, s->values);
    icstr_store_cache_free(&b.cache);
    icstr_store_records_free(&b.records);
    free(b.lat), free(b.tok), free(b.values), free(b.len), free(b.states);
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
