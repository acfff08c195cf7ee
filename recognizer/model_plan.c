/* Activation memory of the recognizer model: every buffer the forward and backward use is laid
 * out once in one arena for the largest request seen so far, so a training step allocates
 * nothing. A request that fits the current plan reuses its pointers; a bigger one re-plans with
 * the maximum of both (so shapes that alternate settle after a few steps).
 *
 * Inference plans (train = 0) keep one set of per-layer buffers shared by all layers (a layer
 * reads only its input and writes its output), except the decoder's q/k/v, which every layer
 * keeps because decoding uses them as the key/value cache of the prompt prefix. */
#include "model_internal.h"

#include <string.h>

typedef struct {
    icstr_arena *a;    /* NULL: count only */
    size_t bytes;
    int failed;
} layout;

static void *take(layout *L, size_t n, size_t size) {
    size_t bytes = n * size;
    L->bytes += (bytes + ICSTR_ALIGN - 1) / ICSTR_ALIGN * ICSTR_ALIGN + ICSTR_ALIGN;
    if (!L->a || L->failed || bytes == 0) return NULL;
    void *p = icstr_arena_alloc(L->a, bytes);
    if (!p) L->failed = 1;
    return p;
}

#define TAKE_F(L, n) ((float *)take(L, (n), sizeof(float)))
#define TAKE_I(L, n) ((int *)take(L, (n), sizeof(int)))
#define TAKE_B(L, n) ((uint8_t *)take(L, (n), 1))

static size_t zmax(size_t a, size_t b) { return a > b ? a : b; }

static void layout_block(layout *L, blk_acts *a, size_t R, size_t C, size_t F, size_t att,
                         int dropout) {
    a->ln1 = TAKE_F(L, R * C);
    a->ln1_mean = TAKE_F(L, R);
    a->ln1_rstd = TAKE_F(L, R);
    a->qkv = TAKE_F(L, R * 3 * C);
    a->att = TAKE_F(L, att);
    a->ao = TAKE_F(L, R * C);
    a->xmid = TAKE_F(L, R * C);
    a->ln2 = TAKE_F(L, R * C);
    a->ln2_mean = TAKE_F(L, R);
    a->ln2_rstd = TAKE_F(L, R);
    a->h = TAKE_F(L, R * F);
    a->hg = TAKE_F(L, R * F);
    a->xout = TAKE_F(L, R * C);
    a->keep1 = dropout ? TAKE_B(L, R * C) : NULL;
    a->keep2 = dropout ? TAKE_B(L, R * C) : NULL;
}

static void layout_xblock(layout *L, xblk_acts *a, size_t Rq, size_t Rk, size_t D, size_t E,
                          size_t F, size_t att, int dropout) {
    a->lnq = TAKE_F(L, Rq * D);
    a->lnq_mean = TAKE_F(L, Rq);
    a->lnq_rstd = TAKE_F(L, Rq);
    a->lnkv = TAKE_F(L, Rk * E);
    a->lnkv_mean = TAKE_F(L, Rk);
    a->lnkv_rstd = TAKE_F(L, Rk);
    a->q = TAKE_F(L, Rq * D);
    a->kv = TAKE_F(L, Rk * 2 * D);
    a->att = TAKE_F(L, att);
    a->ao = TAKE_F(L, Rq * D);
    a->xmid = TAKE_F(L, Rq * D);
    a->ln2 = TAKE_F(L, Rq * D);
    a->ln2_mean = TAKE_F(L, Rq);
    a->ln2_rstd = TAKE_F(L, Rq);
    a->h = TAKE_F(L, Rq * F);
    a->hg = TAKE_F(L, Rq * F);
    a->xout = TAKE_F(L, Rq * D);
    a->keep1 = dropout ? TAKE_B(L, Rq * D) : NULL;
    a->keep2 = dropout ? TAKE_B(L, Rq * D) : NULL;
}

static void layout_all(icstr_model *m, const model_plan *p, layout *L) {
    const icstr_model_config *c = &m->cfg;
    size_t n = p->n_img, N = (size_t)m->N, E = (size_t)c->enc_dim, M = (size_t)c->latents;
    size_t D = (size_t)c->dec_dim, Fe = (size_t)c->enc_mlp, Fd = (size_t)c->dec_mlp;
    size_t V = (size_t)m->voc.vocab, R = p->dec_rows, CV = (size_t)m->ctc_v;
    int drop = p->train && p->dropout;

    /* encoder */
    if (c->stem == 1) {
        m->e.cols1 = TAKE_F(L, n * 27 * m->h1 * m->w1);
        m->e.c1pre = TAKE_F(L, n * m->c1 * m->h1 * m->w1);
        m->e.c1act = TAKE_F(L, n * m->c1 * m->h1 * m->w1);
        m->e.cols2 = TAKE_F(L, n * m->c1 * 9 * m->h2 * m->w2);
        m->e.c2pre = TAKE_F(L, n * m->c2 * m->h2 * m->w2);
        m->e.c2act = TAKE_F(L, n * m->c2 * m->h2 * m->w2);
    }
    m->e.pcols = TAKE_F(L, n * N * m->pin * m->sph * m->spw);
    m->e.x0 = TAKE_F(L, n * N * E);
    for (int l = 0; l < c->enc_layers; l++) {
        if (l == 0 || p->train)
            layout_block(L, &m->e.blk[l], n * N, E, Fe, n * c->enc_heads * N * N, drop);
        else
            m->e.blk[l] = m->e.blk[0];
    }
    m->e.out = TAKE_F(L, n * N * E);
    m->e.out_mean = TAKE_F(L, n * N);
    m->e.out_rstd = TAKE_F(L, n * N);
    m->e.ctc_in = TAKE_F(L, n * N * E);
    m->e.ctc_logits = TAKE_F(L, n * N * CV);
    m->e.ctc_grad = TAKE_F(L, n * N * CV);
    m->e.ctc_loss = TAKE_F(L, n);
    m->e.ctc_dloss = TAKE_F(L, n);
    m->e.ctc_tgt = TAKE_I(L, n * c->max_label);
    m->e.ctc_len = TAKE_I(L, n);
    m->e.img_label = take(L, n, sizeof(const int *));
    m->e.img_len = TAKE_I(L, n);

    /* resampler */
    m->r.colmean = TAKE_F(L, n * M * E);
    m->r.y0 = TAKE_F(L, n * M * D);
    for (int l = 0; l < c->resampler_layers; l++) {
        if (l == 0 || p->train)
            layout_xblock(L, &m->r.blk[l], n * M, n * N, D, E, Fd, n * c->dec_heads * M * N, drop);
        else
            m->r.blk[l] = m->r.blk[0];
    }
    m->r.out = TAKE_F(L, n * M * D);
    m->r.out_mean = TAKE_F(L, n * M);
    m->r.out_rstd = TAKE_F(L, n * M);
    /* the key loss, only where it is on: its (n, n) table grows with the batch */
    size_t nk = c->key_weight > 0.0f ? n : 0;
    m->r.key = TAKE_F(L, nk * D);
    m->r.key_norm = TAKE_F(L, nk);
    m->r.key_dkey = TAKE_F(L, nk * D);
    m->r.key_coef = TAKE_F(L, nk * nk);
    m->r.key_group = TAKE_I(L, nk);

    /* decoder */
    m->d.chunks = take(L, p->chunks, sizeof(dec_chunk));
    m->d.row_src = take(L, R, sizeof(const float *));
    m->d.row_tok = TAKE_I(L, R);
    m->d.row_pos = TAKE_I(L, R);
    m->d.row_seg = TAKE_I(L, R);
    m->d.row_band = TAKE_I(L, R);
    m->d.row_img = TAKE_I(L, R);
    m->d.row_glyph = take(L, R, sizeof(const float *));
    m->d.row_glyph_at = TAKE_F(L, R);
    m->d.row_glyph_img = TAKE_I(L, R);
    m->d.limit = TAKE_I(L, R);
    m->d.seq_len = TAKE_I(L, p->dec_B);
    m->d.seq_start = TAKE_I(L, p->dec_B + 1);
    m->d.mask = TAKE_B(L, p->dec_att);
    m->d.targets = TAKE_I(L, R);
    m->d.x0 = TAKE_F(L, R * D);
    for (int l = 0; l < c->dec_layers; l++) {
        if (l == 0 || p->train) {
            layout_block(L, &m->d.blk[l], R, D, Fd, p->dec_att * c->dec_heads, drop);
        } else {
            m->d.blk[l] = m->d.blk[0];
            m->d.blk[l].qkv = TAKE_F(L, R * 3 * D);
        }
    }
    m->d.out = TAKE_F(L, R * D);
    m->d.out_mean = TAKE_F(L, R);
    m->d.out_rstd = TAKE_F(L, R);
    m->d.logits = TAKE_F(L, R * V);
    m->d.probs = TAKE_F(L, R * V);
    m->d.losses = TAKE_F(L, R);
    m->d.dloss = TAKE_F(L, R);

    memset(&m->g, 0, sizeof m->g);
    if (!p->train) return;
    size_t rowsC = zmax(zmax(n * N * E, n * M * D), R * D);
    size_t rowsF = zmax(zmax(n * N * Fe, n * M * Fd), R * Fd);
    m->g.dres = TAKE_F(L, rowsC);
    m->g.dln = TAKE_F(L, rowsC);
    m->g.dao = TAKE_F(L, rowsC);
    m->g.dtmp = TAKE_F(L, rowsC);
    m->g.dqkv = TAKE_F(L, zmax(3 * rowsC, n * M * D + n * N * 2 * D));
    m->g.dh = TAKE_F(L, rowsF);
    m->g.dhg = TAKE_F(L, rowsF);
    m->g.dkv_in = TAKE_F(L, n * N * E);
    m->g.denc = TAKE_F(L, n * N * E);
    m->g.dlat = TAKE_F(L, n * M * D);
    m->g.dcolmean = TAKE_F(L, n * M * E);
    m->g.dlogits = TAKE_F(L, zmax(R * V, n * N * CV));
    m->g.dctc_in = TAKE_F(L, n * N * E);
    if (c->stem == 1) {
        m->g.dc2act = TAKE_F(L, n * m->c2 * m->h2 * m->w2);
        m->g.dc2pre = TAKE_F(L, n * m->c2 * m->h2 * m->w2);
        m->g.dc1act = TAKE_F(L, n * m->c1 * m->h1 * m->w1);
        m->g.dc1pre = TAKE_F(L, n * m->c1 * m->h1 * m->w1);
        m->g.dcols = TAKE_F(L, zmax((size_t)m->c1 * 9 * m->h2 * m->w2, (size_t)27 * m->h1 * m->w1));
    }
}

static int fits(const model_plan *have, const model_plan *need) {
    return (have->train || !need->train) && (have->dropout || !need->dropout) &&
           need->n_img <= have->n_img && need->dec_rows <= have->dec_rows &&
           need->dec_att <= have->dec_att && need->dec_B <= have->dec_B &&
           need->chunks <= have->chunks;
}

int icstr_model_plan_(icstr_model *m, const model_plan *need) {
    if (m->planned && fits(&m->plan, need)) return ICSTR_OK;
    model_plan p = *need;
    if (m->planned) {
        p.train |= m->plan.train;
        p.dropout |= m->plan.dropout;
        p.n_img = zmax(p.n_img, m->plan.n_img);
        p.dec_rows = zmax(p.dec_rows, m->plan.dec_rows);
        p.dec_att = zmax(p.dec_att, m->plan.dec_att);
        p.dec_B = zmax(p.dec_B, m->plan.dec_B);
        p.chunks = zmax(p.chunks, m->plan.chunks);
    }
    /* every count below is bounded by the config checks and the batch checks, but the products
     * can still be large: count in size_t, then let the allocation fail cleanly */
    layout L = {NULL, 0, 0};
    layout_all(m, &p, &L);
    m->planned = 0;
    icstr_arena_free(&m->act);
    int rc = icstr_arena_init(&m->act, L.bytes);
    if (rc) return icstr_fail_context(rc, "model: activations for %zu images and %zu decoder rows",
                                      p.n_img, p.dec_rows);
    layout A = {&m->act, 0, 0};
    layout_all(m, &p, &A);
    if (A.failed) return icstr_fail(ICSTR_ERR_INTERNAL, "model: activation plan does not fit its arena");
    m->plan = p;
    m->planned = 1;
    return ICSTR_OK;
}
