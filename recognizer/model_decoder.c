/* The recognizer's decoder, forward and backward: one causal transformer over interleaved
 * [image latents][BOS label EOC] chunks. Positions restart in every chunk (latent i, text token
 * j) and a segment embedding marks prompt vs query chunks, so a query looks the same whatever
 * comes before it. Latents of a chunk see each other and everything earlier; text tokens see
 * everything up to themselves; padding is never seen. Because latents sit at the start of their
 * chunk, every row attends to a prefix [0, limit) of its sequence. */
#include "model_internal.h"

#include <math.h>
#include <string.h>

static int chunk_rows(const icstr_model *m, const dec_chunk *ch) {
    return m->cfg.latents + 1 + ch->len + (ch->eoc ? 1 : 0);
}

void icstr_model_dec_shape_(const icstr_model *m, const dec_chunk *chunks, const int *seq_start,
                            int B, int *T_out, size_t *n_chunks_out) {
    int T = 0;
    for (int b = 0; b < B; b++) {
        int t = 0;
        for (int c = seq_start[b]; c < seq_start[b + 1]; c++) t += chunk_rows(m, &chunks[c]);
        if (t > T) T = t;
    }
    *T_out = T;
    *n_chunks_out = (size_t)seq_start[B];
}

/* The cosine of two chunks' mean latents (the pool's embedding, icstr_model_encode). */
static float chunk_cosine(const float *a, const float *b, int M, int D) {
    double ab = 0.0, aa = 0.0, bb = 0.0;
    for (int k = 0; k < D; k++) {
        double sa = 0.0, sb = 0.0;
        for (int i = 0; i < M; i++) {
            sa += a[(size_t)i * D + k];
            sb += b[(size_t)i * D + k];
        }
        ab += sa * sb;
        aa += sa * sa;
        bb += sb * sb;
    }
    return (float)(ab / (sqrt(aa) * sqrt(bb) + 1e-30));
}

/* model.prompt_similarity: the band of a prompt chunk against its sequence's query (the last
 * chunk), -1 below the lowest edge or for the query itself. The band is an input, not learned
 * through: no gradient flows into the cosine. */
int icstr_model_prompt_band_(const icstr_model *m, const dec_chunk *ch, const dec_chunk *query) {
    if (!m->cfg.prompt_similarity || ch->query || !ch->lat || !query->lat) return -1;
    static const float edges[ICSTR_SIM_BANDS] = ICSTR_SIM_EDGES;
    float s = chunk_cosine(ch->lat, query->lat, m->cfg.latents, m->cfg.dec_dim);
    int band = -1;
    for (int e = 0; e < ICSTR_SIM_BANDS; e++)
        if (s >= edges[e]) band = e;
    return band;
}

/* model.glyph_labels: where character j (0-based) of a prompt label of n characters is taken to be
 * drawn, as a latent position in [0, M - 1]: its share of the width, (j + 0.5) M / n - 0.5. */
static float glyph_position(int j, int n, int M) {
    float at = ((float)j + 0.5f) * (float)M / (float)n - 0.5f;
    return at < 0.0f ? 0.0f : at > (float)(M - 1) ? (float)(M - 1) : at;
}

/* Fills the per-row tables, the targets and the mask of B sequences padded to T. */
static void layout_rows(icstr_model *m, const dec_chunk *chunks, const int *seq_start, int B, int T) {
    int M = m->cfg.latents, D = m->cfg.dec_dim;
    const icstr_vocab_info *v = &m->voc;
#pragma omp parallel for schedule(static) if (B > 1 && (size_t)B * T * T >= 65536)
    for (int b = 0; b < B; b++) {
        size_t base = (size_t)b * T;
        int t = 0;
        for (int c = seq_start[b]; c < seq_start[b + 1]; c++) {
            const dec_chunk *ch = &chunks[c];
            int t0 = t, band = icstr_model_prompt_band_(m, ch, &chunks[seq_start[b + 1] - 1]);
            for (int i = 0; i < M; i++, t++) {
                m->d.row_src[base + t] = ch->lat + (size_t)i * D;
                m->d.row_tok[base + t] = -1;
                m->d.row_pos[base + t] = i;
                m->d.row_img[base + t] = ch->img >= 0 ? ch->img * M + i : -1;
                m->d.limit[base + t] = t0 + M;
                m->d.targets[base + t] = -1;
                m->d.row_seg[base + t] = ch->query;
                m->d.row_band[base + t] = band;
                m->d.row_glyph[base + t] = NULL;
            }
            /* text rows: BOS, the label, EOC; row j predicts token j+1 */
            int n_txt = 1 + ch->len + (ch->eoc ? 1 : 0);
            for (int j = 0; j < n_txt; j++, t++) {
                int tok = j == 0 ? v->bos : (j <= ch->len ? ch->label[j - 1] : v->eoc);
                int tgt = -1;
                if (ch->loss && ch->eoc && j <= ch->len) tgt = j < ch->len ? ch->label[j] : v->eoc;
                m->d.row_src[base + t] = NULL;
                m->d.row_tok[base + t] = tok;
                m->d.row_pos[base + t] = j;
                m->d.row_img[base + t] = -1;
                m->d.limit[base + t] = t + 1;
                m->d.targets[base + t] = tgt;
                m->d.row_seg[base + t] = ch->query;
                m->d.row_band[base + t] = band;
                int glyph = m->cfg.glyph_labels && !ch->query && ch->lat && j >= 1 && j <= ch->len;
                m->d.row_glyph[base + t] = glyph ? ch->lat : NULL;
                m->d.row_glyph_at[base + t] = glyph ? glyph_position(j - 1, ch->len, M) : 0.0f;
                m->d.row_glyph_img[base + t] = glyph ? ch->img : -1;
            }
        }
        m->d.seq_len[b] = t;
        for (; t < T; t++) {
            m->d.row_src[base + t] = NULL;
            m->d.row_tok[base + t] = -1;
            m->d.row_pos[base + t] = -1;
            m->d.row_img[base + t] = -1;
            m->d.limit[base + t] = 0;
            m->d.targets[base + t] = -1;
            m->d.row_seg[base + t] = 0;
            m->d.row_band[base + t] = -1;
            m->d.row_glyph[base + t] = NULL;
        }
        for (int r = 0; r < T; r++) {
            uint8_t *mrow = m->d.mask + (base + r) * T;
            int lim = m->d.limit[base + r];
            memset(mrow, 1, (size_t)lim);
            memset(mrow + lim, 0, (size_t)(T - lim));
        }
    }
}

/* model.glyph_labels: the glyph of row r (caller checks row_glyph[r]), the two latents nearest
 * its position interpolated: g = (1 - w) lat[i] + w lat[i + 1]; i, w returned for backward. */
static void row_glyph(const icstr_model *m, int r, float *g, int *i_out, float *w_out) {
    int D = m->cfg.dec_dim, M = m->cfg.latents;
    float at = m->d.row_glyph_at[r];
    int i = (int)at;
    if (i > M - 2) i = M - 2 < 0 ? 0 : M - 2;
    float w = M > 1 ? at - (float)i : 0.0f;
    const float *a = m->d.row_glyph[r] + (size_t)i * D, *b = M > 1 ? a + D : a;
    for (int k = 0; k < D; k++) g[k] = (1.0f - w) * a[k] + w * b[k];
    *i_out = i;
    *w_out = w;
}

/* x0 = (latent row | token embedding) + (latent | text) position + segment (+ the prompt's
 * similarity band) (+ glyph_w g for a prompt label row); padding = 0 */
static void embed_rows(icstr_model *m, int R) {
    int D = m->cfg.dec_dim;
    const float *tok = mp(m, m->tok_emb), *lpos = mp(m, m->lat_pos), *tpos = mp(m, m->txt_pos);
    const float *seg = mp(m, m->seg_emb), *sim = m->cfg.prompt_similarity ? mp(m, m->sim_emb) : NULL;
#pragma omp parallel for schedule(static) if ((size_t)R * D >= 65536)
    for (int r = 0; r < R; r++) {
        float *x = m->d.x0 + (size_t)r * D;
        const float *src = m->d.row_src[r], *pos;
        if (src) pos = lpos + (size_t)m->d.row_pos[r] * D;
        else if (m->d.row_tok[r] >= 0) {
            src = tok + (size_t)m->d.row_tok[r] * D;
            pos = tpos + (size_t)m->d.row_pos[r] * D;
        } else {
            memset(x, 0, (size_t)D * sizeof(float));
            continue;
        }
        const float *s = seg + (size_t)m->d.row_seg[r] * D;
        for (int i = 0; i < D; i++) x[i] = src[i] + pos[i] + s[i];
        if (sim && m->d.row_band[r] >= 0) {
            const float *e = sim + (size_t)m->d.row_band[r] * D;
            for (int i = 0; i < D; i++) x[i] += e[i];
        }
        if (m->d.row_glyph[r]) {
            float g[ICSTR_GLYPH_DIM_MAX];
            int li;
            float w;
            row_glyph(m, r, g, &li, &w);
            const float *W = mp(m, m->glyph_w);
            for (int o = 0; o < D; o++) {
                const float *wo = W + (size_t)o * D;
                float acc = 0.0f;
                for (int k = 0; k < D; k++) acc += wo[k] * g[k];
                x[o] += acc;
            }
        }
    }
}

int icstr_model_decoder_forward_(icstr_model *m, const dec_chunk *chunks, const int *seq_start,
                                 int B, int train, icstr_rng *rng) {
    const icstr_model_config *c = &m->cfg;
    int D = c->dec_dim, V = m->voc.vocab, T;
    size_t nch;
    icstr_model_dec_shape_(m, chunks, seq_start, B, &T, &nch);
    m->d.B = B;
    m->d.T = T;
    int R = B * T;
    if (R == 0) return ICSTR_OK;
    layout_rows(m, chunks, seq_start, B, T);
    embed_rows(m, R);
    const float *x = m->d.x0;
    for (int l = 0; l < c->dec_layers; l++) {
        icstr_block_forward_(m, &m->dec[l], &m->d.blk[l], x, B, T, D, c->dec_mlp, c->dec_heads,
                             m->d.mask, train ? c->dropout : 0.0f, rng);
        x = m->d.blk[l].xout;
    }
    icstr_layernorm_forward(m->d.out, m->d.out_mean, m->d.out_rstd, x, mp(m, m->dec_lnf_w),
                            mp(m, m->dec_lnf_b), R, D);
    icstr_linear_forward(m->d.logits, m->d.out, mp(m, m->head_w), mp(m, m->head_b), R, D, V);
    return icstr_ops_error();
}

int icstr_model_decoder_loss_(icstr_model *m, double *loss_sum) {
    int R = m->d.B * m->d.T;
    *loss_sum = 0.0;
    if (R == 0) return 0;
    int count = icstr_crossentropy_forward(m->d.losses, m->d.probs, m->d.logits, m->d.targets, R,
                                           m->voc.vocab, m->cfg.label_smoothing, -1);
    double s = 0.0;
    for (int r = 0; r < R; r++)
        if (m->d.targets[r] >= 0) s += m->d.losses[r];
    *loss_sum = s;
    return count;
}

/* d glyph_w += dx g^T; d lat[i], d lat[i + 1] += (1 - w), w times glyph_w^T dx */
static void glyph_backward(icstr_model *m, int r, const float *dx) {
    int D = m->cfg.dec_dim, M = m->cfg.latents;
    float g[ICSTR_GLYPH_DIM_MAX], dg[ICSTR_GLYPH_DIM_MAX];
    int li;
    float w;
    row_glyph(m, r, g, &li, &w);
    const float *W = mp(m, m->glyph_w);
    float *gW = mg(m, m->glyph_w);
    memset(dg, 0, (size_t)D * sizeof(float));
    for (int o = 0; o < D; o++) {
        const float *wo = W + (size_t)o * D;
        float *go = gW + (size_t)o * D, d = dx[o];
        for (int k = 0; k < D; k++) {
            go[k] += d * g[k];
            dg[k] += d * wo[k];
        }
    }
    int img = m->d.row_glyph_img[r];
    if (img < 0) return;
    float *da = m->g.dlat + ((size_t)img * M + li) * D, *db = M > 1 ? da + D : da;
    for (int k = 0; k < D; k++) {
        da[k] += (1.0f - w) * dg[k];
        db[k] += w * dg[k];
    }
}

void icstr_model_decoder_backward_(icstr_model *m, float scale) {
    const icstr_model_config *c = &m->cfg;
    int D = c->dec_dim, V = m->voc.vocab, B = m->d.B, T = m->d.T, R = B * T;
    if (R == 0) return;
    for (int r = 0; r < R; r++) m->d.dloss[r] = m->d.targets[r] >= 0 ? scale : 0.0f;
    float *dlogits = m->g.dlogits, *dres = m->g.dres;
    memset(dlogits, 0, (size_t)R * V * sizeof(float));
    icstr_crossentropy_backward(dlogits, m->d.dloss, m->d.probs, m->d.targets, R, V,
                                c->label_smoothing, -1);
    memset(m->g.dln, 0, (size_t)R * D * sizeof(float));
    icstr_linear_backward(m->g.dln, mg(m, m->head_w), mg(m, m->head_b), dlogits, m->d.out,
                          mp(m, m->head_w), R, D, V);
    memset(dres, 0, (size_t)R * D * sizeof(float));
    const float *x_last = c->dec_layers ? m->d.blk[c->dec_layers - 1].xout : m->d.x0;
    icstr_layernorm_backward(dres, mg(m, m->dec_lnf_w), mg(m, m->dec_lnf_b), m->g.dln, x_last,
                             mp(m, m->dec_lnf_w), m->d.out_mean, m->d.out_rstd, R, D);
    for (int l = c->dec_layers - 1; l >= 0; l--) {
        const float *x = l ? m->d.blk[l - 1].xout : m->d.x0;
        icstr_block_backward_(m, &m->dec[l], &m->d.blk[l], x, dres, B, T, D, c->dec_mlp,
                              c->dec_heads, c->dropout);
    }
    /* scatter d x0 into the tables and the latents, serially: rows share table rows and images */
    float *gtok = mg(m, m->tok_emb), *glpos = mg(m, m->lat_pos), *gtpos = mg(m, m->txt_pos);
    float *gseg = mg(m, m->seg_emb), *gsim = m->cfg.prompt_similarity ? mg(m, m->sim_emb) : NULL;
    for (int r = 0; r < R; r++) {
        const float *dx = dres + (size_t)r * D;
        float *dsrc, *dpos;
        if (m->d.row_src[r]) {
            dsrc = m->d.row_img[r] >= 0 ? m->g.dlat + (size_t)m->d.row_img[r] * D : NULL;
            dpos = glpos + (size_t)m->d.row_pos[r] * D;
        } else if (m->d.row_tok[r] >= 0) {
            dsrc = gtok + (size_t)m->d.row_tok[r] * D;
            dpos = gtpos + (size_t)m->d.row_pos[r] * D;
        } else {
            continue;
        }
        float *dseg = gseg + (size_t)m->d.row_seg[r] * D;
        for (int i = 0; i < D; i++) {
            if (dsrc) dsrc[i] += dx[i];
            dpos[i] += dx[i];
            dseg[i] += dx[i];
        }
        if (gsim && m->d.row_band[r] >= 0) {
            float *dsim = gsim + (size_t)m->d.row_band[r] * D;
            for (int i = 0; i < D; i++) dsim[i] += dx[i];
        }
        if (m->d.row_glyph[r]) glyph_backward(m, r, dx);
    }
}

int icstr_model_decoder_logits_(icstr_model *m, const dec_chunk *chunks, const int *seq_start,
                                int B, float *logits, int *T_out) {
    int T;
    size_t nch;
    icstr_model_dec_shape_(m, chunks, seq_start, B, &T, &nch);
    model_plan need = {0, 0, 0, (size_t)B * T, (size_t)B * T * T, (size_t)B, nch};
    int rc = icstr_model_plan_(m, &need);
    if (rc) return rc;
    if ((rc = icstr_model_decoder_forward_(m, chunks, seq_start, B, 0, NULL))) return rc;
    memcpy(logits, m->d.logits, (size_t)B * T * m->voc.vocab * sizeof(float));
    *T_out = T;
    return ICSTR_OK;
}
