/* Inference: encoding images to latents and pool embeddings, and decoding text with a key/value
 * cache. For a group of queries the decoder runs once over each prefix ([prompt chunks][query
 * latents][BOS]); its per-layer keys and values stay in the activation arena as the prefix
 * cache. Then every step feeds one token for all live hypotheses of all queries together: the
 * new rows' keys and values go into a small per-hypothesis cache and each row attends to its
 * query's prefix plus its own generated tokens. Greedy decoding and beam search share the step;
 * the greedy path keeps no beam bookkeeping. */
#include "model_internal.h"

#include "char_lm.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#define PREFIX_ROWS 4096      /* decoder rows per prefix pass (bounds the attention buffer) */
#define MAX_GROUP 256         /* queries per pass */
#define MAX_BEAM 64
#define KNN_CHUNK 1024      /* datastore entries per product with the step's states */
#define KNN_MAX_K 64

icstr_decode_params icstr_decode_default_params(void) {
    icstr_decode_params p = {1, 0, NULL, 0.0f, NULL, 0.0f};
    return p;
}

/* ---- the decoding step ---- */

typedef struct {
    int G, K, R;              /* queries, beams per query, hypothesis slots (G K) */
    int Tp;                   /* padded prefix length of the group */
    int Gmax;                 /* generated tokens a slot can hold (max_len) */
    int threads;
    const int *ftok, *flen;   /* scoring (icstr_model_score): the tokens to feed instead of the
                                 argmax, (n, max_label) and (n) by query; NULL when decoding */
    double *logprob;          /* scoring: (n) the fed texts' log-probabilities */
    const int *partner;       /* scoring without case: (n_chars) the other case of each letter, -1
                                 for other characters; NULL = case counts */
    float *states;            /* icstr_model_states: (n, max_label + 1, D) the fed rows' states */
    const icstr_knn *knn;     /* greedy: the neighbours' votes mixed into each step's choice */
    int nn_k;                 /* knn: neighbours kept per row */
    float *nn_q, *nn_dot;     /* knn: (R, D) the rows' states, (R, KNN_CHUNK) their dot products */
    double *nn_d;             /* knn: (R, nn_k) distances of each row's nearest entries, nearest first */
    int *nn_v, *nn_n;         /* knn: (R, nn_k) their tokens, (R) how many */
    const icstr_char_lm *lm;  /* greedy: the character model fused into each step's choice */
    double lm_weight;
    int *plen;                /* (G) prefix rows of each query */
    float *x, *ln, *qkv, *ao, *xmid, *h, *xo, *logits; /* step rows (R, ...) */
    float *gk[2], *gv[2];     /* (L, R, Gmax, D): generated keys/values, two copies for beams */
    float *scores;            /* (threads, Tp + Gmax) */
    int *tok, *row_q, *row_slot; /* (R) */
    int *htok[2];             /* (R, Gmax) tokens of each hypothesis, two copies */
    double *hscore;           /* (R) */
    int *alive;               /* (G) live hypotheses per query */
    int *done;                /* (G) */
    int *best_tok;            /* (G, Gmax) */
    int *best_len;            /* (G) */
    double *best_score;       /* (G) */
    int *cand_j, *cand_t;     /* (K) top-K candidates of one query */
    double *cand_s;
} step_ws;

static int ws_plan(icstr_model *m, step_ws *w, int G, int K, int Tp, int Gmax) {
    const icstr_model_config *c = &m->cfg;
    size_t D = (size_t)c->dec_dim, F = (size_t)c->dec_mlp, V = (size_t)m->voc.vocab;
    size_t L = (size_t)c->dec_layers, R = (size_t)G * K;
    int threads = 1;
#ifdef _OPENMP
    threads = omp_get_max_threads();
#endif
    struct { void **p; size_t bytes; } req[] = {
        {(void **)&w->plen, G * sizeof(int)},
        {(void **)&w->x, R * D * 4}, {(void **)&w->ln, R * D * 4}, {(void **)&w->qkv, R * 3 * D * 4},
        {(void **)&w->ao, R * D * 4}, {(void **)&w->xmid, R * D * 4}, {(void **)&w->h, R * F * 4},
        {(void **)&w->xo, R * D * 4}, {(void **)&w->logits, R * V * 4},
        {(void **)&w->gk[0], L * R * Gmax * D * 4}, {(void **)&w->gv[0], L * R * Gmax * D * 4},
        {(void **)&w->gk[1], K > 1 ? L * R * Gmax * D * 4 : 0},
        {(void **)&w->gv[1], K > 1 ? L * R * Gmax * D * 4 : 0},
        {(void **)&w->scores, (size_t)threads * (Tp + Gmax) * 4},
        {(void **)&w->tok, R * sizeof(int)}, {(void **)&w->row_q, R * sizeof(int)},
        {(void **)&w->row_slot, R * sizeof(int)},
        {(void **)&w->htok[0], R * Gmax * sizeof(int)}, {(void **)&w->htok[1], R * Gmax * sizeof(int)},
        {(void **)&w->hscore, R * sizeof(double)}, {(void **)&w->alive, G * sizeof(int)},
        {(void **)&w->done, G * sizeof(int)}, {(void **)&w->best_tok, (size_t)G * Gmax * sizeof(int)},
        {(void **)&w->best_len, G * sizeof(int)}, {(void **)&w->best_score, G * sizeof(double)},
        {(void **)&w->cand_j, K * sizeof(int)}, {(void **)&w->cand_t, K * sizeof(int)},
        {(void **)&w->cand_s, K * sizeof(double)},
        {(void **)&w->nn_q, w->knn ? R * D * 4 : 0}, {(void **)&w->nn_dot, w->knn ? R * KNN_CHUNK * 4 : 0},
        {(void **)&w->nn_d, w->knn ? R * w->nn_k * sizeof(double) : 0},
        {(void **)&w->nn_v, w->knn ? R * w->nn_k * sizeof(int) : 0}, {(void **)&w->nn_n, w->knn ? R * sizeof(int) : 0},
    };
    size_t n_req = sizeof req / sizeof *req, total = 0;
    for (size_t i = 0; i < n_req; i++) total += (req[i].bytes + 2 * ICSTR_ALIGN);
    if (m->dec_ws.cap < total) {
        icstr_arena_free(&m->dec_ws);
        int rc = icstr_arena_init(&m->dec_ws, total);
        if (rc) return icstr_fail_context(rc, "decode: workspace for %zu hypotheses", R);
    }
    /* carved by hand rather than with icstr_arena_alloc: every buffer is written before it is
     * read, so the arena's zero fill would only cost time on every call */
    size_t off = 0;
    for (size_t i = 0; i < n_req; i++) {
        *req[i].p = req[i].bytes ? m->dec_ws.base + off : NULL;
        off += (req[i].bytes + ICSTR_ALIGN - 1) / ICSTR_ALIGN * ICSTR_ALIGN;
    }
    if (K == 1) {
        w->gk[1] = w->gk[0];
        w->gv[1] = w->gv[0];
    }
    w->G = G;
    w->K = K;
    w->R = (int)R;
    w->Tp = Tp;
    w->Gmax = Gmax;
    w->threads = threads;
    return ICSTR_OK;
}

/* One token for nr rows: row r feeds w->tok[r] at text position s+1 of its query w->row_q[r]
 * and stores its keys/values at index s of slot w->row_slot[r] in cache copy `buf`; writes
 * logits (nr, V). */
static void step(icstr_model *m, step_ws *w, int nr, int s, int buf) {
    const icstr_model_config *c = &m->cfg;
    int D = c->dec_dim, F = c->dec_mlp, H = c->dec_heads, hs = D / H, V = m->voc.vocab;
    int Tp = w->Tp, Gmax = w->Gmax;
    size_t LRG = (size_t)w->R * Gmax * D;
    float scale = 1.0f / sqrtf((float)hs);
    const float *tok = mp(m, m->tok_emb), *pos = mp(m, m->txt_pos) + (size_t)(s + 1) * D;
    const float *seg = mp(m, m->seg_emb) + D;
    for (int r = 0; r < nr; r++) {
        const float *e = tok + (size_t)w->tok[r] * D;
        float *x = w->x + (size_t)r * D;
        for (int i = 0; i < D; i++) x[i] = e[i] + pos[i] + seg[i];
    }
    float *x = w->x, *xo = w->xo;
    for (int l = 0; l < c->dec_layers; l++) {
        const blk_params *p = &m->dec[l];
        float *gk = w->gk[buf] + (size_t)l * LRG, *gv = w->gv[buf] + (size_t)l * LRG;
        const float *pre = m->d.blk[l].qkv;
        icstr_layernorm_forward(w->ln, NULL, NULL, x, mp(m, p->ln1_w), mp(m, p->ln1_b), nr, D);
        icstr_linear_forward(w->qkv, w->ln, mp(m, p->qkv_w), mp(m, p->qkv_b), nr, D, 3 * D);
        for (int r = 0; r < nr; r++) {
            size_t at = ((size_t)w->row_slot[r] * Gmax + s) * D;
            memcpy(gk + at, w->qkv + (size_t)r * 3 * D + D, (size_t)D * sizeof(float));
            memcpy(gv + at, w->qkv + (size_t)r * 3 * D + 2 * D, (size_t)D * sizeof(float));
        }
        /* threads only when the step has enough rows to pay for waking them */
#pragma omp parallel for schedule(static) if ((long)nr * D * (Tp + s + 1) >= 65536)
        for (int rh = 0; rh < nr * H; rh++) {
            int r = rh / H, hh = rh % H, qi = w->row_q[r], lp = w->plen[qi];
            int tid = 0;
#ifdef _OPENMP
            tid = omp_get_thread_num();
#endif
            float *sc = w->scores + (size_t)tid * (Tp + Gmax);
            const float *q = w->qkv + (size_t)r * 3 * D + (size_t)hh * hs;
            const float *pk = pre + (size_t)qi * Tp * 3 * D + D + (size_t)hh * hs;
            const float *gks = gk + (size_t)w->row_slot[r] * Gmax * D + (size_t)hh * hs;
            const float *gvs = gv + (size_t)w->row_slot[r] * Gmax * D + (size_t)hh * hs;
            float mx = -INFINITY;
            for (int t = 0; t < lp + s + 1; t++) {
                const float *k = t < lp ? pk + (size_t)t * 3 * D : gks + (size_t)(t - lp) * D;
                float a = 0.0f;
                for (int j = 0; j < hs; j++) a += q[j] * k[j];
                sc[t] = a * scale;
                if (sc[t] > mx) mx = sc[t];
            }
            double sum = 0.0;
            for (int t = 0; t < lp + s + 1; t++) {
                sc[t] = expf(sc[t] - mx);
                sum += sc[t];
            }
            float inv = (float)(1.0 / sum);
            float *o = w->ao + (size_t)r * D + (size_t)hh * hs;
            for (int j = 0; j < hs; j++) o[j] = 0.0f;
            for (int t = 0; t < lp + s + 1; t++) {
                const float *v = t < lp ? pk + D + (size_t)t * 3 * D : gvs + (size_t)(t - lp) * D;
                float a = sc[t] * inv;
                for (int j = 0; j < hs; j++) o[j] += a * v[j];
            }
        }
        icstr_linear_forward(w->xmid, w->ao, mp(m, p->proj_w), mp(m, p->proj_b), nr, D, D);
        icstr_residual_forward(w->xmid, w->xmid, x, (size_t)nr * D);
        icstr_layernorm_forward(w->ln, NULL, NULL, w->xmid, mp(m, p->ln2_w), mp(m, p->ln2_b), nr, D);
        icstr_linear_forward(w->h, w->ln, mp(m, p->fc1_w), mp(m, p->fc1_b), nr, D, F);
        icstr_gelu_forward(w->h, w->h, (size_t)nr * F);
        icstr_linear_forward(xo, w->h, mp(m, p->fc2_w), mp(m, p->fc2_b), nr, F, D);
        icstr_residual_forward(xo, xo, w->xmid, (size_t)nr * D);
        float *t = x;
        x = xo;
        xo = t;
    }
    icstr_layernorm_forward(w->ln, NULL, NULL, x, mp(m, m->dec_lnf_w), mp(m, m->dec_lnf_b), nr, D);
    icstr_linear_forward(w->logits, w->ln, mp(m, m->head_w), mp(m, m->head_b), nr, D, V);
}

/* log-probabilities come from the full softmax; only characters and EOC may be chosen */
static double log_norm(const float *logits, int V) {
    float mx = logits[0];
    for (int t = 1; t < V; t++)
        if (logits[t] > mx) mx = logits[t];
    double s = 0.0;
    for (int t = 0; t < V; t++) s += exp((double)logits[t] - mx);
    return mx + log(s);
}

static int allowed(const icstr_model *m, int t, int forced_end) {
    if (forced_end) return t == m->voc.eoc;
    return t < m->voc.n_chars || t == m->voc.eoc;
}

/* ---- checks and the prefix ---- */

static int check_context(const icstr_model *m, const icstr_context *ctx, int i) {
    const icstr_model_config *c = &m->cfg;
    if (ctx->n_prompts < 0 || ctx->n_prompts > c->max_prompts)
        return icstr_fail(ICSTR_ERR_LIMIT, "decode: query %d has %d prompts (max_prompts %d)", i,
                          ctx->n_prompts, c->max_prompts);
    if (ctx->n_prompts && (!ctx->latents || !ctx->labels || !ctx->label_len))
        return icstr_fail(ICSTR_ERR_ARG, "decode: query %d: context arrays missing", i);
    for (int p = 0; p < ctx->n_prompts; p++) {
        int len = ctx->label_len[p];
        if (len < 0 || len > c->max_label)
            return icstr_fail(ICSTR_ERR_ARG, "decode: query %d prompt %d: label length %d", i, p, len);
        for (int j = 0; j < len; j++) {
            int t = ctx->labels[(size_t)p * c->max_label + j];
            if (t < 0 || t >= m->voc.n_chars)
                return icstr_fail(ICSTR_ERR_ARG, "decode: query %d prompt %d: token %d", i, p, t);
        }
    }
    return ICSTR_OK;
}

static int prefix_rows(const icstr_model *m, const icstr_context *ctx) {
    int M = m->cfg.latents, rows = M + 1;
    if (ctx)
        for (int p = 0; p < ctx->n_prompts; p++) rows += M + ctx->label_len[p] + 2;
    return rows;
}

/* Runs the decoder over the prefixes of queries [q0, q0+G); fills w->plen; the prefix logits of
 * query i are at m->d.logits row i*Tp + plen[i]-1. */
static int run_prefix(icstr_model *m, const float *latents, const icstr_context *ctx, int q0, int G,
                      int Tp, int *plen) {
    const icstr_model_config *c = &m->cfg;
    int M = c->latents, D = c->dec_dim;
    size_t nch = 0;
    for (int i = 0; i < G; i++) nch += 1 + (ctx ? (size_t)ctx[q0 + i].n_prompts : 0);
    model_plan need = {0, 0, 0, (size_t)G * Tp, (size_t)G * Tp * Tp, (size_t)G, nch};
    int rc = icstr_model_plan_(m, &need);
    if (rc) return rc;
    int seq_start[MAX_GROUP + 1], k = 0;
    for (int i = 0; i < G; i++) {
        seq_start[i] = k;
        const icstr_context *cx = ctx ? &ctx[q0 + i] : NULL;
        for (int p = 0; cx && p < cx->n_prompts; p++, k++) {
            dec_chunk *ch = &m->d.chunks[k];
            ch->lat = cx->latents + (size_t)p * M * D;
            ch->img = -1;
            ch->label = cx->labels + (size_t)p * c->max_label;
            ch->len = cx->label_len[p];
            ch->eoc = 1;
            ch->query = 0;
            ch->loss = 0;
        }
        dec_chunk *ch = &m->d.chunks[k++];
        ch->lat = latents + (size_t)(q0 + i) * M * D;
        ch->img = -1;
        ch->label = NULL;
        ch->len = 0;
        ch->eoc = 0;
        ch->query = 1;
        ch->loss = 0;
        plen[i] = prefix_rows(m, cx);
    }
    seq_start[G] = k;
    return icstr_model_decoder_forward_(m, m->d.chunks, seq_start, G, 0, NULL);
}

static void write_result(const icstr_model *m, const int *tokens, int n, double score, char **texts,
                         int cap, float *confidence, int i) {
    if (texts && texts[i]) icstr_model_decode_tokens(m, tokens, n, texts[i], cap);
    if (confidence) confidence[i] = (float)exp(score);
}

/* ---- greedy ---- */

/* the log-probability of token t (lz: the log of the softmax's sum), with its other case's
 * when scoring without case */
static double token_logprob(const icstr_model *m, const step_ws *w, const float *lg, int t, double lz) {
    int o = w->partner && t < m->voc.n_chars ? w->partner[t] : -1;
    if (o < 0) return (double)lg[t] - lz;
    return log(exp((double)lg[t] - lz) + exp((double)lg[o] - lz));
}

/* scoring: the token query q feeds at text position j (EOC after its text) */
static int forced_token(const icstr_model *m, const step_ws *w, int q, int j) {
    return j < w->flen[q] ? w->ftok[(size_t)q * m->cfg.max_label + j] : m->voc.eoc;
}

/* kNN: the KNN entries nearest each of nr states (w->nn_q, (nr, D)) by squared distance, into
 * w->nn_d / nn_v / nn_n; the dot products come from one product per chunk of the store. */
static void knn_search(const icstr_model *m, step_ws *w, int nr) {
    const icstr_knn *kn = w->knn;
    int D = m->cfg.dec_dim, K = w->nn_k;
    for (int r = 0; r < nr; r++) w->nn_n[r] = 0;
    for (int e0 = 0; e0 < kn->n; e0 += KNN_CHUNK) {
        int ne = kn->n - e0 < KNN_CHUNK ? kn->n - e0 : KNN_CHUNK;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, nr, ne, D, 1.0f, w->nn_q, D,
                    kn->keys + (size_t)e0 * D, D, 0.0f, w->nn_dot, ne);
        for (int r = 0; r < nr; r++) {
            double *bd = w->nn_d + (size_t)r * K;
            int *bv = w->nn_v + (size_t)r * K, nb = w->nn_n[r];
            const float *dot = w->nn_dot + (size_t)r * ne;
            for (int e = 0; e < ne; e++) {
                /* |h|^2 is the same for every entry of a row: left out of the ranking */
                double d = kn->key_norm2[e0 + e] - 2.0 * dot[e];
                int at;
                if (nb < K) at = nb++;
                else if (d < bd[K - 1]) at = K - 1;
                else continue;
                while (at > 0 && bd[at - 1] > d) {
                    bd[at] = bd[at - 1];
                    bv[at] = bv[at - 1];
                    at--;
                }
                bd[at] = d;
                bv[at] = kn->values[e0 + e];
            }
            w->nn_n[r] = nb;
        }
    }
}

/* kNN: row r's distribution (logits lg) mixed with the votes of its nearest entries, each weighted
 * exp(-(d - d_nearest) / temperature); writes log-probabilities (V). */
static void knn_mix(const icstr_model *m, const step_ws *w, int r, const float *lg, double *lp) {
    const icstr_knn *kn = w->knn;
    int V = m->voc.vocab, nb = w->nn_n[r];
    const double *bd = w->nn_d + (size_t)r * w->nn_k;
    const int *bv = w->nn_v + (size_t)r * w->nn_k;
    double lz = log_norm(lg, V), vote[ICSTR_CHARSET_MAX + 3] = {0}, sum = 0.0;
    double T = kn->temperature > 0.0f ? kn->temperature : 1.0, lam = nb ? kn->lambda : 0.0;
    for (int b = 0; b < nb; b++) {
        double wgt = exp(-(bd[b] - bd[0]) / T);
        vote[bv[b]] += wgt;
        sum += wgt;
    }
    for (int t = 0; t < V; t++) {
        double p = (1.0 - lam) * exp((double)lg[t] - lz) + (sum > 0.0 ? lam * vote[t] / sum : 0.0);
        lp[t] = p > 0.0 ? log(p) : -1e300;
    }
}

/* The token greedy decoding takes at row r with logits lg (forced_end: EOC only; fed >= 0: that
 * token, when scoring), with its log-probability in *lp_out; with a character model, the choice
 * also weighs its log-probability after the row's text so far (hist, n_hist tokens). */
static int greedy_choice(const icstr_model *m, const step_ws *w, int r, const float *lg, int forced_end,
                         int fed, const int *hist, int n_hist, double *lp_out) {
    int V = m->voc.vocab, best = fed;
    if (!w->knn && !(w->lm && best < 0)) {
        if (best < 0)
            for (int t = 0; t < V; t++)
                if (allowed(m, t, forced_end) && (best < 0 || lg[t] > lg[best])) best = t;
        *lp_out = token_logprob(m, w, lg, best, log_norm(lg, V));
        return best;
    }
    double lp[ICSTR_CHARSET_MAX + 3], lm[ICSTR_CHARSET_MAX + 3];
    if (w->knn) knn_mix(m, w, r, lg, lp);
    else {
        double lz = log_norm(lg, V);
        for (int t = 0; t < V; t++) lp[t] = (double)lg[t] - lz;
    }
    if (best < 0) {
        if (w->lm) icstr_char_lm_next(w->lm, hist, n_hist, lm);
        double bs = 0.0;
        for (int t = 0; t < V; t++) {
            if (!allowed(m, t, forced_end)) continue;
            double s = lp[t] + (w->lm ? w->lm_weight * lm[t] : 0.0);
            if (best < 0 || s > bs) best = t, bs = s;
        }
    }
    int o = w->partner && best < m->voc.n_chars ? w->partner[best] : -1;
    *lp_out = o < 0 ? lp[best] : log(exp(lp[best]) + exp(lp[o]));
    return best;
}

/* icstr_model_states: keeps the state of query q's row j */
static void keep_state(const icstr_model *m, const step_ws *w, int q, int j, const float *h) {
    if (!w->states) return;
    size_t D = (size_t)m->cfg.dec_dim;
    memcpy(w->states + ((size_t)q * (m->cfg.max_label + 1) + j) * D, h, D * sizeof(float));
}

static int decode_group_greedy(icstr_model *m, step_ws *w, int max_len, char **texts, int cap,
                               float *confidence, int q0) {
    int G = w->G, V = m->voc.vocab, Tp = w->Tp;
    int *len = w->best_len, *toks = w->best_tok;
    double *score = w->best_score;
    size_t D = (size_t)m->cfg.dec_dim;
    if (w->knn) {
        for (int i = 0; i < G; i++)
            memcpy(w->nn_q + i * D, m->d.out + ((size_t)i * Tp + w->plen[i] - 1) * D, D * sizeof(float));
        knn_search(m, w, G);
    }
    for (int i = 0; i < G; i++) {
        size_t row = (size_t)i * Tp + w->plen[i] - 1;
        const float *lg = m->d.logits + row * V;
        int best = greedy_choice(m, w, i, lg, 0, w->ftok ? forced_token(m, w, q0 + i, 0) : -1, NULL, 0, &score[i]);
        keep_state(m, w, q0 + i, 0, m->d.out + row * D);
        len[i] = 0;
        w->done[i] = best == m->voc.eoc;
        if (!w->done[i]) toks[(size_t)i * max_len + len[i]++] = best;
    }
    for (int s = 0; s < max_len; s++) {
        int nr = 0;
        for (int i = 0; i < G; i++)
            if (!w->done[i]) {
                w->tok[nr] = toks[(size_t)i * max_len + s];
                w->row_q[nr] = i;
                w->row_slot[nr] = i;
                nr++;
            }
        if (!nr) break;
        step(m, w, nr, s, 0);
        if (w->knn) {
            memcpy(w->nn_q, w->ln, (size_t)nr * D * sizeof(float));
            knn_search(m, w, nr);
        }
        for (int r = 0; r < nr; r++) {
            int i = w->row_q[r];
            const float *lg = w->logits + (size_t)r * V;
            int forced = len[i] == max_len, fed = -1;
            if (w->ftok) fed = forced ? m->voc.eoc : forced_token(m, w, q0 + i, len[i]);
            keep_state(m, w, q0 + i, len[i], w->ln + (size_t)r * D);
            double lp;
            int best = greedy_choice(m, w, r, lg, forced, fed, toks + (size_t)i * max_len, len[i], &lp);
            score[i] += lp;
            if (best == m->voc.eoc) w->done[i] = 1;
            else toks[(size_t)i * max_len + len[i]++] = best;
        }
    }
    for (int i = 0; i < G; i++) {
        write_result(m, toks + (size_t)i * max_len, len[i], score[i], texts, cap, confidence, q0 + i);
        if (w->logprob) w->logprob[q0 + i] = score[i];
    }
    return icstr_ops_error();
}

/* ---- beam search ---- */

/* Inserts (j, t, s) into the descending top-K list of n entries; ties keep the earlier one. */
static void topk_push(step_ws *w, int K, int *n, int j, int t, double s) {
    if (*n == K && s <= w->cand_s[K - 1]) return;
    int at = *n < K ? (*n)++ : K - 1;
    while (at > 0 && w->cand_s[at - 1] < s) {
        w->cand_j[at] = w->cand_j[at - 1];
        w->cand_t[at] = w->cand_t[at - 1];
        w->cand_s[at] = w->cand_s[at - 1];
        at--;
    }
    w->cand_j[at] = j;
    w->cand_t[at] = t;
    w->cand_s[at] = s;
}

/* Turns the selected candidates of query i into its next hypotheses (copy `nb`), finishing the
 * ones that chose EOC. ntok: tokens each parent holds. Cache entries [0, ncache) follow their
 * parent from copy `ob` to copy `nb`. */
static void beam_advance(icstr_model *m, step_ws *w, int i, int nc, int ntok, int ncache, int ob,
                         int nb) {
    int K = w->K, Gmax = w->Gmax, D = m->cfg.dec_dim;
    size_t LRG = (size_t)w->R * Gmax * D;
    int na = 0;
    for (int c = 0; c < nc; c++) {
        int j = w->cand_j[c], t = w->cand_t[c];
        const int *ptok = w->htok[ob] + (size_t)(i * K + j) * Gmax;
        if (t == m->voc.eoc) {
            if (w->cand_s[c] > w->best_score[i]) {
                w->best_score[i] = w->cand_s[c];
                w->best_len[i] = ntok;
                memcpy(w->best_tok + (size_t)i * Gmax, ptok, (size_t)ntok * sizeof(int));
            }
            continue;
        }
        int slot = i * K + na, pslot = i * K + j;
        int *ntk = w->htok[nb] + (size_t)slot * Gmax;
        memmove(ntk, ptok, (size_t)ntok * sizeof(int));
        ntk[ntok] = t;
        w->hscore[slot] = w->cand_s[c];
        for (int l = 0; l < m->cfg.dec_layers && ncache > 0; l++) {
            size_t src = l * LRG + (size_t)pslot * Gmax * D, dst = l * LRG + (size_t)slot * Gmax * D;
            if (ob == nb && src == dst) continue;
            memcpy(w->gk[nb] + dst, w->gk[ob] + src, (size_t)ncache * D * sizeof(float));
            memcpy(w->gv[nb] + dst, w->gv[ob] + src, (size_t)ncache * D * sizeof(float));
        }
        na++;
    }
    w->alive[i] = na;
    /* no live hypothesis can beat a finished one once it scores lower: scores only fall */
    double top = -INFINITY;
    for (int j = 0; j < na; j++)
        if (w->hscore[i * K + j] > top) top = w->hscore[i * K + j];
    w->done[i] = na == 0 || w->best_score[i] >= top;
}

static int decode_group_beam(icstr_model *m, step_ws *w, int max_len, char **texts, int cap,
                             float *confidence, int q0) {
    int G = w->G, K = w->K, V = m->voc.vocab, Tp = w->Tp;
    int buf = 0;
    for (int i = 0; i < G; i++) {
        const float *lg = m->d.logits + ((size_t)i * Tp + w->plen[i] - 1) * V;
        double lz = log_norm(lg, V);
        int nc = 0;
        for (int t = 0; t < V; t++)
            if (allowed(m, t, 0)) topk_push(w, K, &nc, 0, t, (double)lg[t] - lz);
        w->best_score[i] = -INFINITY;
        w->best_len[i] = 0;
        beam_advance(m, w, i, nc, 0, 0, buf, buf);
    }
    for (int s = 0; s < max_len; s++) {
        int nr = 0;
        for (int i = 0; i < G; i++)
            for (int j = 0; !w->done[i] && j < w->alive[i]; j++) {
                int slot = i * K + j;
                w->tok[nr] = w->htok[buf][(size_t)slot * w->Gmax + s];
                w->row_q[nr] = i;
                w->row_slot[nr] = slot;
                nr++;
            }
        if (!nr) break;
        step(m, w, nr, s, buf);
        int nb = K > 1 ? 1 - buf : buf;
        for (int r0 = 0; r0 < nr;) {
            int i = w->row_q[r0], r1 = r0;
            while (r1 < nr && w->row_q[r1] == i) r1++;
            int forced = s + 1 == max_len, nc = 0;
            for (int r = r0; r < r1; r++) {
                const float *lg = w->logits + (size_t)r * V;
                double lz = log_norm(lg, V), base = w->hscore[w->row_slot[r]];
                for (int t = 0; t < V; t++)
                    if (allowed(m, t, forced))
                        topk_push(w, K, &nc, r - r0, t, base + ((double)lg[t] - lz));
            }
            beam_advance(m, w, i, nc, s + 1, s + 1, buf, nb);
            r0 = r1;
        }
        buf = nb;
    }
    for (int i = 0; i < G; i++)
        write_result(m, w->best_tok + (size_t)i * w->Gmax, w->best_len[i], w->best_score[i], texts,
                     cap, confidence, q0 + i);
    return icstr_ops_error();
}

/* Decodes, or with ftok/flen (greedy only) feeds those tokens and writes their log-probability
 * into logprob. */
static int decode(icstr_model *m, const float *latents, int n, const icstr_context *ctx, int beam,
                  int force_beam, int max_len, char **texts, int cap, float *confidence,
                  const int *ftok, const int *flen, double *logprob, const int *partner,
                  const icstr_knn *knn, const icstr_char_lm *lm, float lm_weight, float *states) {
    const icstr_model_config *c = &m->cfg;
    if (n < 0 || (n > 0 && !latents)) return icstr_fail(ICSTR_ERR_ARG, "decode: %d queries", n);
    if (texts && cap < 1) return icstr_fail(ICSTR_ERR_ARG, "decode: text capacity %d", cap);
    if (beam < 1 || beam > MAX_BEAM)
        return icstr_fail(ICSTR_ERR_ARG, "decode: beam %d outside [1, %d]", beam, MAX_BEAM);
    if (max_len <= 0 || max_len > c->max_label) max_len = c->max_label;
    if (knn && (beam != 1 || force_beam))
        return icstr_fail(ICSTR_ERR_ARG, "decode: nearest-neighbour decoding is greedy only (beam %d)", beam);
    if (lm && (beam != 1 || force_beam))
        return icstr_fail(ICSTR_ERR_ARG, "decode: the character model is fused into greedy decoding only (beam %d)", beam);
    if (lm && !(lm_weight >= 0.0f)) return icstr_fail(ICSTR_ERR_ARG, "decode: character model weight %g", (double)lm_weight);
    if (knn && (knn->n < 0 || (knn->n && (!knn->keys || !knn->key_norm2 || !knn->values)) ||
                !(knn->lambda >= 0.0f && knn->lambda <= 1.0f)))
        return icstr_fail(ICSTR_ERR_ARG, "decode: bad nearest-neighbour store (%d entries, lambda %g)",
                          knn->n, (double)knn->lambda);
    for (int i = 0; ctx && i < n; i++) {
        int rc = check_context(m, &ctx[i], i);
        if (rc) return rc;
    }
    for (int q0 = 0; q0 < n;) {
        /* as many queries as fit the row budget, at least one */
        int G = 0, Tp = 0;
        while (q0 + G < n && G < MAX_GROUP) {
            int rows = prefix_rows(m, ctx ? &ctx[q0 + G] : NULL);
            int t = rows > Tp ? rows : Tp;
            if (G > 0 && (long)(G + 1) * t > PREFIX_ROWS) break;
            Tp = t;
            G++;
        }
        step_ws w;
        memset(&w, 0, sizeof w);
        w.knn = knn && knn->n > 0 ? knn : NULL;
        w.nn_k = knn ? (knn->k < 1 ? 1 : knn->k > KNN_MAX_K ? KNN_MAX_K : knn->k) : 0;
        int rc = ws_plan(m, &w, G, beam, Tp, max_len);
        w.ftok = ftok;
        w.flen = flen;
        w.logprob = logprob;
        w.partner = partner;
        w.states = states;
        w.lm = lm_weight > 0.0f ? lm : NULL; /* weight 0: the decoder's own choice */
        w.lm_weight = lm_weight;
        if (!rc) rc = run_prefix(m, latents, ctx, q0, G, Tp, w.plen);
        if (!rc && m->d.T != Tp) rc = icstr_fail(ICSTR_ERR_INTERNAL, "decode: prefix length");
        if (!rc)
            rc = beam == 1 && !force_beam
                     ? decode_group_greedy(m, &w, max_len, texts, cap, confidence, q0)
                     : decode_group_beam(m, &w, max_len, texts, cap, confidence, q0);
        if (rc) return rc;
        q0 += G;
    }
    return ICSTR_OK;
}

int icstr_model_decode(icstr_model *m, const float *latents, int n, const icstr_context *ctx,
                       const icstr_decode_params *p, char **texts, int cap, float *confidence) {
    icstr_decode_params d = p ? *p : icstr_decode_default_params();
    return decode(m, latents, n, ctx, d.beam, 0, d.max_len, texts, cap, confidence, NULL, NULL, NULL, NULL,
                  d.knn, d.lm, d.lm_weight, NULL);
}

int icstr_model_decode_beam_(icstr_model *m, const float *latents, int n, const icstr_context *ctx,
                             int beam, int max_len, char **texts, int cap, float *confidence) {
    return decode(m, latents, n, ctx, beam, 1, max_len, texts, cap, confidence, NULL, NULL, NULL, NULL, NULL,
                  NULL, 0.0f, NULL);
}

static int check_texts(const icstr_model *m, const char *what, int n, const int *tokens, const int *len) {
    int L = m->cfg.max_label;
    for (int i = 0; i < n; i++) {
        if (len[i] < 0 || len[i] > L) return icstr_fail(ICSTR_ERR_ARG, "%s: text %d has %d tokens", what, i, len[i]);
        for (int j = 0; j < len[i]; j++)
            if (tokens[(size_t)i * L + j] < 0 || tokens[(size_t)i * L + j] >= m->voc.n_chars)
                return icstr_fail(ICSTR_ERR_ARG, "%s: text %d: token %d", what, i, tokens[(size_t)i * L + j]);
    }
    return ICSTR_OK;
}

int icstr_model_score(icstr_model *m, const float *latents, int n, const icstr_context *ctx,
                      const int *tokens, const int *len, int any_case, double *logprob) {
    int L = m->cfg.max_label;
    if (n > 0 && (!tokens || !len || !logprob)) return icstr_fail(ICSTR_ERR_ARG, "score: arrays missing");
    int rc = check_texts(m, "score", n, tokens, len);
    if (rc) return rc;
    int partner[ICSTR_CHARSET_MAX];
    for (int t = 0; t < m->voc.n_chars; t++) {
        uint32_t c = m->cp[t], other = c >= 'A' && c <= 'Z' ? c + 32 : c >= 'a' && c <= 'z' ? c - 32 : 0;
        partner[t] = other ? icstr_model_char_token_(m, other) : -1;
    }
    return decode(m, latents, n, ctx, 1, 0, L, NULL, 1, NULL, tokens, len, logprob, any_case ? partner : NULL,
                  NULL, NULL, 0.0f, NULL);
}

int icstr_model_states(icstr_model *m, const float *latents, int n, const int *tokens, const int *len,
                       float *states) {
    if (n > 0 && (!tokens || !len || !states)) return icstr_fail(ICSTR_ERR_ARG, "states: arrays missing");
    int rc = check_texts(m, "states", n, tokens, len);
    if (rc) return rc;
    double *lp = malloc((size_t)(n > 0 ? n : 1) * sizeof *lp);
    if (!lp) return icstr_fail(ICSTR_ERR_NOMEM, "states: %d texts", n);
    rc = decode(m, latents, n, NULL, 1, 0, m->cfg.max_label, NULL, 1, NULL, tokens, len, lp, NULL, NULL, NULL, 0.0f, states);
    free(lp);
    return rc;
}

int icstr_model_recognize(icstr_model *m, const float *images, int n, const icstr_decode_params *p,
                          char **texts, int cap, float *confidence) {
    if (n <= 0) return n == 0 ? ICSTR_OK : icstr_fail(ICSTR_ERR_ARG, "recognize: %d images", n);
    size_t per = (size_t)m->cfg.latents * m->cfg.dec_dim;
    float *lat = icstr_alloc((size_t)n * per, sizeof(float));
    if (!lat) return ICSTR_ERR_NOMEM;
    float *logp = NULL;
    if (p && p->ctc_weight > 0.0f && !(logp = icstr_alloc((size_t)n * m->N * m->ctc_v, sizeof(float)))) {
        icstr_free(lat);
        return ICSTR_ERR_NOMEM;
    }
    int rc = icstr_model_encode_ctc(m, images, n, lat, NULL, NULL, logp);
    if (!rc) rc = icstr_model_decode(m, lat, n, NULL, p, texts, cap, confidence);
    if (!rc && logp) rc = icstr_model_ctc_joint(m, lat, logp, n, p, NULL, texts, cap, confidence, NULL);
    icstr_free(logp);
    icstr_free(lat);
    return rc;
}
