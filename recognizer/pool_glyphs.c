/* The prompt pool as a store of glyphs for the CTC head (see pool_glyphs.h). */
#include "pool_glyphs.h"
#include "store_cache.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define GLYPH_CHUNK 32  /* records encoded together */
#define GLYPH_K_MAX 64

icstr_glyph_params icstr_glyph_default_params(void) {
    icstr_glyph_params p = {16, 0.05f, 0.5f, 0};
    return p;
}

void icstr_glyph_store_free(icstr_glyph_store *s) {
    if (!s) return;
    free(s->keys);
    free(s->values);
    free(s->ids);
    memset(s, 0, sizeof *s);
}

static void normalize_rows(float *x, int n, int E) {
    for (int r = 0; r < n; r++) {
        float *v = x + (size_t)r * E;
        double s = 0.0;
        for (int e = 0; e < E; e++) s += (double)v[e] * v[e];
        float inv = (float)(1.0 / (sqrt(s) + 1e-12));
        for (int e = 0; e < E; e++) v[e] *= inv;
    }
}

typedef struct {
    icstr_model *m;
    const icstr_pool *pool;
    icstr_glyph_store *s;
    int T, E, V, L, H, W;
    int cap;            /* entries the arrays hold */
    int n;              /* records waiting */
    float *images, *feat, *logp;
    int *sym, *len, *path;
    uint64_t ids[GLYPH_CHUNK], hashes[GLYPH_CHUNK]; /* hashes: icstr_store_record_key */
    double *scratch;
    icstr_store_cache cache;      /* the entries of an earlier load (POOL/glyphs.cache) */
    icstr_store_records records;  /* every record read, with its entry count, for the next one */
} glyph_build;

static int grow(glyph_build *b) {
    icstr_glyph_store *s = b->s;
    if (s->n + b->T <= b->cap) return ICSTR_OK;
    int cap = b->cap ? 2 * b->cap : 16 * b->T;
    float *k = realloc(s->keys, (size_t)cap * b->E * sizeof *k);
    if (k) s->keys = k;
    int *v = realloc(s->values, (size_t)cap * sizeof *v);
    if (v) s->values = v;
    uint64_t *id = realloc(s->ids, (size_t)(cap / b->T) * sizeof *id);
    if (id) s->ids = id;
    if (!k || !v || !id) return icstr_fail(ICSTR_ERR_NOMEM, "glyph store: %d entries", cap);
    b->cap = cap;
    return ICSTR_OK;
}

/* appends a record's T entries (keys already unit vectors) */
static int append(glyph_build *b, uint64_t id, uint64_t hash, const float *keys, const int *values) {
    int rc = grow(b);
    if (rc || (rc = icstr_store_records_add(&b->records, id, hash, b->T))) return rc;
    icstr_glyph_store *s = b->s;
    memcpy(s->keys + (size_t)s->n * b->E, keys, (size_t)b->T * b->E * sizeof(float));
    memcpy(s->values + s->n, values, (size_t)b->T * sizeof(int));
    s->ids[s->records++] = id;
    s->n += b->T;
    return ICSTR_OK;
}

/* encodes the waiting records and appends the frames of those whose labels align */
static int flush(glyph_build *b) {
    if (!b->n) return ICSTR_OK;
    int rc = icstr_model_encode_ctc(b->m, b->images, b->n, NULL, NULL, b->feat, b->logp);
    for (int i = 0; i < b->n && !rc; i++) {
        b->s->computed++;
        if (icstr_ctc_align(b->logp + (size_t)i * b->T * b->V, b->T, b->V, b->sym + (size_t)i * b->L, b->len[i],
                            b->path, b->scratch)) { /* too long for the frames: no entries */
            rc = icstr_store_records_add(&b->records, b->ids[i], b->hashes[i], 0);
            continue;
        }
        float *k = b->feat + (size_t)i * b->T * b->E;
        normalize_rows(k, b->T, b->E);
        rc = append(b, b->ids[i], b->hashes[i], k, b->path);
    }
    b->n = 0;
    return rc;
}

static int visit(void *user, const icstr_pool_record *r) {
    glyph_build *b = user;
    int *sym = b->sym + (size_t)b->n * b->L, len = 0;
    if (icstr_model_encode_label(b->m, r->label, sym, &len)) {
        icstr_clear_error(); /* a label the model cannot write gives no entries */
        return 0;
    }
    for (int j = 0; j < len; j++) sym[j] += 1;
    const float *ck;
    const int *cv;
    uint64_t key = icstr_store_record_key(r);
    int cached = icstr_store_cache_find(&b->cache, r->id, key, &ck, &cv), rc;
    if (cached == 0 || cached == b->T) { /* in id order: the records waiting go first */
        if ((rc = flush(b))) return rc;
        return cached ? append(b, r->id, key, ck, cv) : icstr_store_records_add(&b->records, r->id, key, 0);
    }
    if ((rc = icstr_pool_record_input(b->pool, r, b->H, b->W, b->images + (size_t)b->n * 3 * b->H * b->W))) return rc;
    b->len[b->n] = len;
    b->ids[b->n] = r->id;
    b->hashes[b->n] = key;
    return ++b->n == GLYPH_CHUNK ? flush(b) : 0;
}

int icstr_glyph_store_load(icstr_pool *pool, icstr_glyph_store *s) {
    memset(s, 0, sizeof *s);
    icstr_model *m = icstr_pool_model(pool);
    if (!m) return icstr_fail(ICSTR_ERR_ARG, "glyph store: the pool was opened without a model");
    const icstr_model_config *c = icstr_model_get_config(m);
    glyph_build b;
    memset(&b, 0, sizeof b);
    b.m = m, b.pool = pool, b.s = s;
    b.T = icstr_model_ctc_frame_count(m), b.E = c->enc_dim, b.V = icstr_model_vocab(m).n_chars + 1;
    b.L = c->max_label, b.H = c->img_h, b.W = c->img_w;
    b.images = malloc((size_t)GLYPH_CHUNK * 3 * b.H * b.W * sizeof(float));
    b.feat = malloc((size_t)GLYPH_CHUNK * b.T * b.E * sizeof(float));
    b.logp = malloc((size_t)GLYPH_CHUNK * b.T * b.V * sizeof(float));
    b.sym = malloc((size_t)GLYPH_CHUNK * b.L * sizeof(int));
    b.len = malloc((size_t)GLYPH_CHUNK * sizeof(int));
    b.path = malloc((size_t)b.T * sizeof(int));
    b.scratch = malloc(ICSTR_CTC_ALIGN_SCRATCH(b.T, b.L));
    int rc = b.images && b.feat && b.logp && b.sym && b.len && b.path && b.scratch
                 ? ICSTR_OK
                 : icstr_fail(ICSTR_ERR_NOMEM, "glyph store");
    if (!rc) rc = icstr_store_cache_open(pool, "glyphs", b.E, &b.cache);
    if (!rc) rc = icstr_pool_foreach(pool, ICSTR_POOL_WANT_IMAGE, visit, &b);
    if (!rc) rc = flush(&b);
    if (!rc) rc = icstr_store_cache_save(&b.cache, &b.records, s->keys, s->values);
    icstr_store_cache_free(&b.cache);
    icstr_store_records_free(&b.records);
    free(b.images), free(b.feat), free(b.logp), free(b.sym), free(b.len), free(b.path), free(b.scratch);
    if (rc) {
        icstr_glyph_store_free(s);
        return rc;
    }
    s->E = b.E, s->V = b.V, s->T = b.T;
    return ICSTR_OK;
}

size_t icstr_glyph_scratch_floats(const icstr_glyph_store *s, int n_records) {
    size_t entries = n_records > 0 ? (size_t)n_records * s->T : (size_t)s->n;
    size_t gather = n_records > 0 ? entries * s->E + entries : 0; /* keys and values of the records */
    return (size_t)s->T * (entries ? entries : 1) + gather;
}

/* the store's record holding pool id `id`, or -1 */
static long record_of(const icstr_glyph_store *s, uint64_t id) {
    long lo = 0, hi = s->records - 1;
    while (lo <= hi) {
        long mid = (lo + hi) / 2;
        if (s->ids[mid] == id) return mid;
        if (s->ids[mid] < id) lo = mid + 1;
        else hi = mid - 1;
    }
    return -1;
}

void icstr_glyph_mix(const icstr_glyph_store *s, const icstr_glyph_params *p, int T, float *feat, float *logp,
                     const uint64_t *records, int n_records, float *scratch) {
    int E = s->E, V = s->V, K = p->k < GLYPH_K_MAX ? p->k : GLYPH_K_MAX;
    const float *keys = s->keys;
    const int *values = s->values;
    size_t n = (size_t)s->n;
    if (records) { /* gather the chosen records' entries after the cosines' room */
        float *gk = scratch + (size_t)T * n_records * s->T;
        int *gv = (int *)(gk + (size_t)n_records * s->T * E);
        n = 0;
        for (int r = 0; r < n_records; r++) {
            long at = record_of(s, records[r]);
            if (at < 0) continue;
            memcpy(gk + n * E, s->keys + (size_t)at * s->T * E, (size_t)s->T * E * sizeof(float));
            memcpy(gv + n, s->values + (size_t)at * s->T, (size_t)s->T * sizeof(int));
            n += (size_t)s->T;
        }
        keys = gk, values = gv;
    }
    if (!n || K < 1) return;
    normalize_rows(feat, T, E);
    icstr_linear_forward(scratch, feat, keys, NULL, T, E, (int)n); /* cosines (T, n) */
    for (int t = 0; t < T; t++) {
        const float *cos = scratch + (size_t)t * n;
        float best[GLYPH_K_MAX];
        int at[GLYPH_K_MAX], nb = 0;
        for (size_t e = 0; e < n; e++) { /* the K most similar entries, most similar first */
            if (nb == K && cos[e] <= best[K - 1]) continue;
            int j = nb < K ? nb++ : K - 1;
            for (; j > 0 && best[j - 1] < cos[e]; j--) best[j] = best[j - 1], at[j] = at[j - 1];
            best[j] = cos[e], at[j] = (int)e;
        }
        double w[GLYPH_K_MAX], total = 0.0;
        for (int j = 0; j < nb; j++) total += w[j] = exp((best[j] - best[0]) / p->temperature);
        float *row = logp + (size_t)t * V;
        for (int v = 0; v < V; v++) row[v] = (float)((1.0 - p->lambda) * exp((double)row[v]));
        for (int j = 0; j < nb; j++) row[values[at[j]]] += (float)(p->lambda * w[j] / total);
        for (int v = 0; v < V; v++) row[v] = logf(row[v] + 1e-30f);
    }
}
