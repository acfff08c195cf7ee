/* Retrieval: exact top-N by cosine similarity over the pool's embeddings, held as one (n, D)
 * matrix of normalised rows (stride padded to 16 floats with zeros). Many queries: cblas_sgemm
 * over chunks of queries. One query: a matrix-vector product. OpenBLAS 0.3.21's cblas_sgemv took
 * 7.7 ms for 100k x 192 on the project's machine (bench_pool), far from its memory bandwidth, so
 * a single query uses the FMA dot-product loop below (2.6 ms), and cblas_sgemv only where
 * AVX2/AVX-512 are not compiled in. Then a partial selection of the N best per query with a
 * min-heap. The scores are the same float dot products either way; only the order of the
 * additions differs.
 * A single query over a large pool first reads a half-precision copy of the matrix (half the
 * bytes: the loop is memory-bound), then computes the float scores of the rows that can be among
 * the N best, and selects among those exactly as over every row: the same ids and scores. A half
 * key differs from its float by at most 2^-11 relatively (a coordinate below half's normal range
 * by at most 2^-25), so for unit vectors a half score is within HALF_BOUND of the float one
 * (2^-11, plus float rounding over D terms); a row of the true top N then scores at least the
 * N-th best half score minus 2 HALF_BOUND. */
#include "pool_internal.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#if defined(__AVX512F__) || (defined(__AVX2__) && defined(__FMA__))
#include <immintrin.h>
#endif

/* scores of one chunk of queries: 32 MiB (a variable so tests can make chunks small) */
size_t pool_score_floats_ = (size_t)8 << 20;
long pool_half_rows_ = 4096;
#define HALF_BOUND 1e-3f /* > 2^-11 + 192 * 2^-24 * 2 */

void pool_search_free(icstr_pool *p) {
    icstr_free(p->E);
    icstr_free(p->E16);
    free(p->rows);
    free(p->row_id);
    icstr_free(p->scratch);
    icstr_free(p->qbuf);
    p->E = p->scratch = p->qbuf = NULL;
    p->E16 = NULL;
    p->rows = NULL;
    p->row_id = NULL;
    p->scratch_floats = p->qbuf_floats = 0;
    p->n = 0;
    p->loaded = 0;
}

void icstr_pool_reload(icstr_pool *p) {
    if (p) p->loaded = 0;
}

#if POOL_HALF_KEYS
/* icstr_f32_to_f16_n (round to nearest even) by the CPU's conversion: the same halves for the
 * finite keys, a tenth of the time on 100,000 rows */
static void keys_to_half(uint16_t *dst, const float *src, size_t n) {
    size_t i = 0;
#if defined(__AVX512F__)
    for (; i + 16 <= n; i += 16)
        _mm256_storeu_si256((__m256i *)(dst + i),
                            _mm512_cvtps_ph(_mm512_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
#else
    for (; i + 8 <= n; i += 8)
        _mm_storeu_si128((__m128i *)(dst + i),
                         _mm256_cvtps_ph(_mm256_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
#endif
    icstr_f32_to_f16_n(dst + i, src + i, n - i);
}

/* The half-precision copy of the loaded matrix and the shortlist's rows, made at the first single
 * query that reads them (a pool searched only in batches, or too small, never needs them). */
static int make_half_keys(icstr_pool *p) {
    size_t cells = (size_t)p->n * p->Dp;
    p->E16 = icstr_alloc(cells, sizeof(uint16_t));
    p->rows = malloc((size_t)p->n * sizeof *p->rows);
    if (!p->E16 || !p->rows) {
        icstr_free(p->E16), free(p->rows);
        p->E16 = NULL, p->rows = NULL;
        return icstr_fail(ICSTR_ERR_NOMEM, "pool %s: half-precision keys of %ld records", p->path, p->n);
    }
    keys_to_half(p->E16, p->E, cells);
    return ICSTR_OK;
}
#endif

static int load_matrix(icstr_pool *p) {
    icstr_free(p->E);
    icstr_free(p->E16);
    free(p->rows);
    free(p->row_id);
    p->E = NULL;
    p->E16 = NULL;
    p->rows = NULL;
    p->row_id = NULL;
    p->n = 0;
    int D = p->D, Dp = (D + 15) / 16 * 16;
    MDB_txn *txn;
    int rc = pool_txn_begin(p, 1, &txn);
    if (rc) return rc;
    MDB_stat st;
    MDB_cursor *cur = NULL;
    int mrc = mdb_stat(txn, p->emb, &st);
    if (!mrc) mrc = mdb_cursor_open(txn, p->emb, &cur);
    if (mrc) {
        pool_txn_abort(p, txn);
        return pool_db_fail(p, mrc, "read the embeddings");
    }
    size_t n = st.ms_entries;
    float *E = n ? icstr_alloc(n * Dp, sizeof(float)) : NULL;
    uint64_t *ids = n ? malloc(n * sizeof *ids) : NULL;
    if (n && (!E || !ids)) rc = icstr_fail(ICSTR_ERR_NOMEM, "pool %s: embeddings of %zu records", p->path, n);
    size_t row = 0;
    MDB_val k, v;
    for (mrc = rc ? MDB_NOTFOUND : mdb_cursor_get(cur, &k, &v, MDB_FIRST); !mrc;
         mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        uint64_t id = k.mv_size == 8 ? pool_key_id(k.mv_data) : 0;
        if (k.mv_size != 8 || row >= n) {
            rc = icstr_fail(ICSTR_ERR_FORMAT, "pool %s: a search entry with a key of %zu bytes, or more entries than "
                            "the %zu counted", p->path, k.mv_size, n);
            break;
        }
        float *e = E + row * Dp;
        if ((rc = pool_emb_get(p, id, &v, e, NULL))) break;
        double s = 0.0;
        for (int j = 0; j < D; j++) s += (double)e[j] * e[j];
        if (!(s > 0.0) || !isfinite(s)) {
            rc = icstr_fail(ICSTR_ERR_FORMAT, "pool %s: embedding of record %llu is zero or not finite", p->path,
                            (unsigned long long)id);
            break;
        }
        float inv = (float)(1.0 / sqrt(s));
        for (int j = 0; j < D; j++) e[j] *= inv;
        ids[row++] = id;
    }
    if (!rc && mrc != MDB_NOTFOUND) rc = pool_db_fail(p, mrc, "read the embeddings");
    mdb_cursor_close(cur);
    pool_txn_abort(p, txn);
    if (rc) {
        icstr_free(E);
        free(ids);
        return rc;
    }
    p->E = E;
    p->row_id = ids;
    p->n = (long)row;
    p->Dp = Dp;
    p->loaded = 1;
    return ICSTR_OK;
}

long icstr_pool_search_count(icstr_pool *p) {
    if (!p) return icstr_fail(ICSTR_ERR_ARG, "pool: NULL");
    if (!p->loaded) {
        int rc = load_matrix(p);
        if (rc) return rc;
    }
    return p->n;
}

/* ---- scores of one query ---- */

#if defined(__AVX512F__)
static float dot_row(const float *e, const float *q, int Dp) {
    __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps();
    int j = 0;
    for (; j + 32 <= Dp; j += 32) {
        a0 = _mm512_fmadd_ps(_mm512_load_ps(e + j), _mm512_load_ps(q + j), a0);
        a1 = _mm512_fmadd_ps(_mm512_load_ps(e + j + 16), _mm512_load_ps(q + j + 16), a1);
    }
    if (j < Dp) a0 = _mm512_fmadd_ps(_mm512_load_ps(e + j), _mm512_load_ps(q + j), a0);
    return _mm512_reduce_add_ps(_mm512_add_ps(a0, a1));
}
#elif defined(__AVX2__) && defined(__FMA__)
static float hsum256(__m256 a) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
    return _mm_cvtss_f32(s);
}

static float dot_row(const float *e, const float *q, int Dp) {
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
    for (int j = 0; j < Dp; j += 16) {
        a0 = _mm256_fmadd_ps(_mm256_load_ps(e + j), _mm256_load_ps(q + j), a0);
        a1 = _mm256_fmadd_ps(_mm256_load_ps(e + j + 8), _mm256_load_ps(q + j + 8), a1);
    }
    return hsum256(_mm256_add_ps(a0, a1));
}
#endif

/* One thread: the loop is bound by memory bandwidth, and a second thread on the project's
 * 2-core machine made it 4x slower whenever the other core was busy (12 ms instead of 2.6). */
void pool_scores_one(const float *E, long n, int Dp, const float *q, float *out) {
#if defined(__AVX512F__) || (defined(__AVX2__) && defined(__FMA__))
    for (long i = 0; i < n; i++) out[i] = dot_row(E + (size_t)i * Dp, q, Dp);
#else
    cblas_sgemv(CblasRowMajor, CblasNoTrans, (int)n, Dp, 1.0f, E, Dp, q, 1, 0.0f, out, 1);
#endif
}

#if POOL_HALF_KEYS
#if defined(__AVX512F__)
static float dot_row_half(const uint16_t *e, const float *q, int Dp) {
    __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps();
    int j = 0;
    for (; j + 32 <= Dp; j += 32) {
        a0 = _mm512_fmadd_ps(_mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(e + j))), _mm512_load_ps(q + j), a0);
        a1 = _mm512_fmadd_ps(_mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(e + j + 16))),
                             _mm512_load_ps(q + j + 16), a1);
    }
    if (j < Dp)
        a0 = _mm512_fmadd_ps(_mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(e + j))), _mm512_load_ps(q + j), a0);
    return _mm512_reduce_add_ps(_mm512_add_ps(a0, a1));
}
#else
static float dot_row_half(const uint16_t *e, const float *q, int Dp) {
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
    for (int j = 0; j < Dp; j += 16) {
        a0 = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(e + j))), _mm256_load_ps(q + j), a0);
        a1 = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(e + j + 8))), _mm256_load_ps(q + j + 8),
                             a1);
    }
    return hsum256(_mm256_add_ps(a0, a1));
}
#endif

void pool_scores_one_half(const uint16_t *E16, long n, int Dp, const float *q, float *out) {
    for (long i = 0; i < n; i++) out[i] = dot_row_half(E16 + (size_t)i * Dp, q, Dp);
}
#endif

/* ---- partial top-N: a min-heap of the N best so far, the worst at the root ---- */

typedef struct {
    float s;
    long row;
} cand;

/* a ranks before b: higher score, then the lower row (= the lower id) */
static int before(cand a, cand b) { return a.s > b.s || (a.s == b.s && a.row < b.row); }

static void sift_down(cand *h, int k, int i) {
    for (;;) {
        int l = 2 * i + 1, r = l + 1, w = i;
        if (l < k && before(h[w], h[l])) w = l;
        if (r < k && before(h[w], h[r])) w = r;
        if (w == i) return;
        cand t = h[i];
        h[i] = h[w];
        h[w] = t;
        i = w;
    }
}

static void sift_up(cand *h, int i) {
    while (i > 0) {
        int parent = (i - 1) / 2;
        if (!before(h[parent], h[i])) return;
        cand t = h[i];
        h[i] = h[parent];
        h[parent] = t;
        i = parent;
    }
}

static int cmp_cand(const void *a, const void *b) {
    cand x = *(const cand *)a, y = *(const cand *)b;
    return before(x, y) ? -1 : before(y, x) ? 1 : 0;
}

/* The best k = min(N, n) of s[0..n) into h, best first; s[i] is the score of row rows[i]
 * (rows ascending; NULL: row i). */
static int top_n(const float *s, const long *rows, long n, int N, cand *h) {
    int k = 0;
    for (long i = 0; i < n; i++) {
        long row = rows ? rows[i] : i;
        if (k == N) {
            /* rows come in increasing order, so an equal score never beats the root */
            if (!(s[i] > h[0].s)) continue;
            h[0] = (cand){s[i], row};
            sift_down(h, k, 0);
        } else {
            h[k] = (cand){s[i], row};
            sift_up(h, k++);
        }
    }
    qsort(h, (size_t)k, sizeof *h, cmp_cand);
    return k;
}

static int ensure(float **buf, size_t *have, size_t need) {
    if (*have >= need) return ICSTR_OK;
    icstr_free(*buf);
    *have = 0;
    if (!(*buf = icstr_alloc(need, sizeof(float)))) return icstr_fail(ICSTR_ERR_NOMEM, "pool search: %zu floats", need);
    *have = need;
    return ICSTR_OK;
}

/* The single query in qbuf: the half-precision scores of every row, then the float scores of the
 * rows that can be among the N best (the file's comment) into scratch[0, m), their rows into
 * p->rows, ascending. h: room for min(N, n) candidates. Returns m. */
#if POOL_HALF_KEYS
static long shortlist(icstr_pool *p, int N, cand *h) {
    long n = p->n, m = 0;
    int Dp = p->Dp;
    float *s = p->scratch;
    pool_scores_one_half(p->E16, n, Dp, p->qbuf, s);
    int k = top_n(s, NULL, n, N, h);
    float least = h[k - 1].s - 2.0f * HALF_BOUND;
    for (long i = 0; i < n; i++) /* compacting in place: m <= i */
        if (s[i] >= least) {
            p->rows[m] = i;
            s[m++] = dot_row(p->E + (size_t)i * Dp, p->qbuf, Dp);
        }
    return m;
}
#endif

int icstr_pool_search(icstr_pool *p, const float *queries, int q, int N, uint64_t *ids, float *scores,
                      int *found) {
    if (!p || q < 0 || N < 1 || (q && (!queries || !ids || !scores)))
        return icstr_fail(ICSTR_ERR_ARG, "pool search: bad arguments (q %d, N %d)", q, N);
    if (found) *found = 0;
    if (!p->loaded) {
        int rc = load_matrix(p);
        if (rc) return rc;
    }
    int D = p->D, Dp = p->Dp;
    long n = p->n;
    int k = (int)(n < N ? n : N);
    if (found) *found = k;
    for (size_t i = 0; i < (size_t)q * N; i++) ids[i] = 0, scores[i] = -1e30f;
    if (!q || !n) return ICSTR_OK;
    size_t qc = pool_score_floats_ / (size_t)n;
    if (qc < 1) qc = 1;
    if (qc > 1024) qc = 1024;
    if (qc > (size_t)q) qc = (size_t)q;
    cand *h = malloc((size_t)k * sizeof *h);
    int rc = h ? ICSTR_OK : icstr_fail(ICSTR_ERR_NOMEM, "pool search: top %d", N);
    if (!rc) rc = ensure(&p->scratch, &p->scratch_floats, qc * (size_t)n);
    if (!rc) rc = ensure(&p->qbuf, &p->qbuf_floats, qc * (size_t)Dp);
    for (size_t q0 = 0; !rc && q0 < (size_t)q; q0 += qc) {
        size_t g = (size_t)q - q0 < qc ? (size_t)q - q0 : qc;
        /* normalised copies of the queries, zero-padded to the row stride */
        for (size_t i = 0; i < g && !rc; i++) {
            const float *src = queries + (q0 + i) * D;
            float *dst = p->qbuf + i * Dp;
            double s = 0.0;
            for (int j = 0; j < D; j++) s += (double)src[j] * src[j];
            if (!(s > 0.0) || !isfinite(s)) {
                rc = icstr_fail(ICSTR_ERR_ARG, "pool search: query %zu has zero or non-finite norm", q0 + i);
                break;
            }
            float inv = (float)(1.0 / sqrt(s));
            for (int j = 0; j < D; j++) dst[j] = src[j] * inv;
            for (int j = D; j < Dp; j++) dst[j] = 0.0f;
        }
        if (rc) break;
        const long *rows = NULL;
        long m = n; /* scores per query in scratch (the shortlist's, with rows) */
#if POOL_HALF_KEYS
        if (g == 1 && n >= pool_half_rows_) {
            if (!p->E16 && (rc = make_half_keys(p))) break;
            m = shortlist(p, N, h);
            rows = p->rows;
        } else
#endif
        if (g == 1) {
            pool_scores_one(p->E, n, Dp, p->qbuf, p->scratch);
        } else {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)g, (int)n, D, 1.0f, p->qbuf, Dp, p->E, Dp, 0.0f,
                        p->scratch, (int)n);
        }
        for (size_t i = 0; i < g; i++) {
            int got = top_n(p->scratch + i * (size_t)n, rows, m, N, h);
            for (int j = 0; j < got; j++) {
                ids[(q0 + i) * N + j] = p->row_id[h[j].row];
                scores[(q0 + i) * N + j] = h[j].s;
            }
        }
    }
    free(h);
    return rc;
}
