/* The recognizer's visual side, forward and backward: conv stem (or plain patches) -> patch
 * embedding -> learned positions -> pre-LN ViT blocks -> final LN (the encoder tokens), then the
 * resampler: M latents, each seeded with the projected mean of its left-to-right block of token
 * columns, cross-attend to the tokens. All images of a call go through every op together. */
#include "model_internal.h"

#include <string.h>

/* Latent i pools token columns [c0, c1): left-to-right blocks of the Wp columns. */
static void latent_columns(int i, int M, int Wp, int *c0, int *c1) {
    *c0 = (int)((long)i * Wp / M);
    *c1 = (int)((long)(i + 1) * Wp / M);
    if (*c1 <= *c0) *c1 = *c0 + 1;
}

static void column_means(const icstr_model *m, float *colmean, const float *tok, int n) {
    int M = m->cfg.latents, E = m->cfg.enc_dim, Hp = m->Hp, Wp = m->Wp;
#pragma omp parallel for schedule(static) if ((size_t)n * m->N * E >= 65536)
    for (int im = 0; im < n * M; im++) {
        int b = im / M, i = im % M, c0, c1;
        latent_columns(i, M, Wp, &c0, &c1);
        float *dst = colmean + (size_t)im * E;
        memset(dst, 0, (size_t)E * sizeof(float));
        for (int y = 0; y < Hp; y++)
            for (int x = c0; x < c1; x++) {
                const float *src = tok + ((size_t)b * m->N + (size_t)y * Wp + x) * E;
                for (int e = 0; e < E; e++) dst[e] += src[e];
            }
        float inv = 1.0f / (float)(Hp * (c1 - c0));
        for (int e = 0; e < E; e++) dst[e] *= inv;
    }
}

/* denc += the column-mean gradient spread over the pooled tokens; parallel over images, each
 * token summing its latents in a fixed order */
static void column_means_backward(const icstr_model *m, float *denc, const float *dcolmean, int n) {
    int M = m->cfg.latents, E = m->cfg.enc_dim, Hp = m->Hp, Wp = m->Wp;
#pragma omp parallel for schedule(static) if ((size_t)n * m->N * E >= 65536)
    for (int b = 0; b < n; b++)
        for (int i = 0; i < M; i++) {
            int c0, c1;
            latent_columns(i, M, Wp, &c0, &c1);
            const float *src = dcolmean + ((size_t)b * M + i) * E;
            float inv = 1.0f / (float)(Hp * (c1 - c0));
            for (int y = 0; y < Hp; y++)
                for (int x = c0; x < c1; x++) {
                    float *dst = denc + ((size_t)b * m->N + (size_t)y * Wp + x) * E;
                    for (int e = 0; e < E; e++) dst[e] += src[e] * inv;
                }
        }
}

int icstr_model_encoder_forward_(icstr_model *m, const float *images, int n, int train,
                                 icstr_rng *rng) {
    const icstr_model_config *c = &m->cfg;
    int E = c->enc_dim, N = m->N, M = c->latents, D = c->dec_dim;
    float dropout = train ? c->dropout : 0.0f;
    if (n <= 0) return ICSTR_OK;
    m->e.images = images;
    if (c->stem == 1) {
        icstr_conv2d_forward(m->e.c1pre, m->e.cols1, images, mp(m, m->conv1_w), mp(m, m->conv1_b),
                             n, 3, c->img_h, c->img_w, m->c1, 3, 3, 2, 1);
        icstr_gelu_forward(m->e.c1act, m->e.c1pre, (size_t)n * m->c1 * m->h1 * m->w1);
        icstr_conv2d_forward(m->e.c2pre, m->e.cols2, m->e.c1act, mp(m, m->conv2_w),
                             mp(m, m->conv2_b), n, m->c1, m->h1, m->w1, m->c2, 3, 3, 2, 1);
        icstr_gelu_forward(m->e.c2act, m->e.c2pre, (size_t)n * m->c2 * m->h2 * m->w2);
        icstr_patch_embed_forward(m->e.x0, m->e.pcols, m->e.c2act, mp(m, m->patch_w),
                                  mp(m, m->patch_b), n, m->c2, m->h2, m->w2, m->sph, m->spw, E);
    } else {
        icstr_patch_embed_forward(m->e.x0, m->e.pcols, images, mp(m, m->patch_w), mp(m, m->patch_b),
                                  n, 3, c->img_h, c->img_w, m->sph, m->spw, E);
    }
    icstr_posemb_forward(m->e.x0, m->e.x0, mp(m, m->enc_pos), n, N, E);
    const float *x = m->e.x0;
    for (int l = 0; l < c->enc_layers; l++) {
        icstr_block_forward_(m, &m->enc[l], &m->e.blk[l], x, n, N, E, c->enc_mlp, c->enc_heads,
                             NULL, dropout, rng);
        x = m->e.blk[l].xout;
    }
    icstr_layernorm_forward(m->e.out, m->e.out_mean, m->e.out_rstd, x, mp(m, m->enc_lnf_w),
                            mp(m, m->enc_lnf_b), n * N, E);

    /* resampler */
    column_means(m, m->r.colmean, m->e.out, n);
    icstr_linear_forward(m->r.y0, m->r.colmean, mp(m, m->pool_w), mp(m, m->pool_b), n * M, E, D);
    icstr_posemb_forward(m->r.y0, m->r.y0, mp(m, m->lat), n, M, D);
    const float *y = m->r.y0;
    for (int l = 0; l < c->resampler_layers; l++) {
        icstr_xblock_forward_(m, &m->res[l], &m->r.blk[l], y, m->e.out, n, M, N, D, E, c->dec_mlp,
                              c->dec_heads, dropout, rng);
        y = m->r.blk[l].xout;
    }
    icstr_layernorm_forward(m->r.out, m->r.out_mean, m->r.out_rstd, y, mp(m, m->res_lnf_w),
                            mp(m, m->res_lnf_b), n * M, D);
    return icstr_ops_error();
}

void icstr_model_encoder_backward_(icstr_model *m, int n) {
    const icstr_model_config *c = &m->cfg;
    int E = c->enc_dim, N = m->N, M = c->latents, D = c->dec_dim;
    float dropout = c->dropout;
    if (n <= 0) return;
    float *dres = m->g.dres;

    /* resampler: final LN, blocks, then y0 = pool(colmean) + latents */
    memset(dres, 0, (size_t)n * M * D * sizeof(float));
    const float *y_last = c->resampler_layers ? m->r.blk[c->resampler_layers - 1].xout : m->r.y0;
    icstr_layernorm_backward(dres, mg(m, m->res_lnf_w), mg(m, m->res_lnf_b), m->g.dlat, y_last,
                             mp(m, m->res_lnf_w), m->r.out_mean, m->r.out_rstd, n * M, D);
    for (int l = c->resampler_layers - 1; l >= 0; l--) {
        const float *y = l ? m->r.blk[l - 1].xout : m->r.y0;
        icstr_xblock_backward_(m, &m->res[l], &m->r.blk[l], y, m->e.out, dres, m->g.denc, n, M, N,
                               D, E, c->dec_mlp, c->dec_heads, dropout);
    }
    icstr_posemb_backward(NULL, mg(m, m->lat), dres, n, M, D);
    memset(m->g.dcolmean, 0, (size_t)n * M * E * sizeof(float));
    icstr_linear_backward(m->g.dcolmean, mg(m, m->pool_w), mg(m, m->pool_b), dres, m->r.colmean,
                          mp(m, m->pool_w), n * M, E, D);
    column_means_backward(m, m->g.denc, m->g.dcolmean, n);

    /* encoder: final LN, blocks, positions, patch embedding, stem */
    memset(dres, 0, (size_t)n * N * E * sizeof(float));
    const float *x_last = c->enc_layers ? m->e.blk[c->enc_layers - 1].xout : m->e.x0;
    icstr_layernorm_backward(dres, mg(m, m->enc_lnf_w), mg(m, m->enc_lnf_b), m->g.denc, x_last,
                             mp(m, m->enc_lnf_w), m->e.out_mean, m->e.out_rstd, n * N, E);
    for (int l = c->enc_layers - 1; l >= 0; l--) {
        const float *x = l ? m->e.blk[l - 1].xout : m->e.x0;
        icstr_block_backward_(m, &m->enc[l], &m->e.blk[l], x, dres, n, N, E, c->enc_mlp,
                              c->enc_heads, dropout);
    }
    icstr_posemb_backward(NULL, mg(m, m->enc_pos), dres, n, N, E);
    if (c->stem == 1) {
        size_t n2 = (size_t)n * m->c2 * m->h2 * m->w2, n1 = (size_t)n * m->c1 * m->h1 * m->w1;
        memset(m->g.dc2act, 0, n2 * sizeof(float));
        icstr_patch_embed_backward(m->g.dc2act, mg(m, m->patch_w), mg(m, m->patch_b), m->e.pcols,
                                   dres, m->e.c2act, mp(m, m->patch_w), n, m->c2, m->h2, m->w2,
                                   m->sph, m->spw, E);
        memset(m->g.dc2pre, 0, n2 * sizeof(float));
        icstr_gelu_backward(m->g.dc2pre, m->e.c2pre, m->g.dc2act, n2);
        memset(m->g.dc1act, 0, n1 * sizeof(float));
        icstr_conv2d_backward(m->g.dc1act, mg(m, m->conv2_w), mg(m, m->conv2_b), m->g.dcols,
                              m->g.dc2pre, m->e.cols2, mp(m, m->conv2_w), n, m->c1, m->h1, m->w1,
                              m->c2, 3, 3, 2, 1);
        memset(m->g.dc1pre, 0, n1 * sizeof(float));
        icstr_gelu_backward(m->g.dc1pre, m->e.c1pre, m->g.dc1act, n1);
        icstr_conv2d_backward(NULL, mg(m, m->conv1_w), mg(m, m->conv1_b), NULL, m->g.dc1pre,
                              m->e.cols1, mp(m, m->conv1_w), n, 3, c->img_h, c->img_w, m->c1, 3, 3,
                              2, 1);
    } else {
        icstr_patch_embed_backward(NULL, mg(m, m->patch_w), mg(m, m->patch_b), m->e.pcols, dres,
                                   m->e.images, mp(m, m->patch_w), n, 3, c->img_h, c->img_w,
                                   m->sph, m->spw, E);
    }
}
