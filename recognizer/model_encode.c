/* Encoding at inference (model.h): the visual latents and pool keys of images and, from the same
 * encoder pass, the CTC head's frames. */
#include "model_internal.h"

#include <math.h>
#include <string.h>

#define ENCODE_GROUP 32 /* images per encoder pass */

int icstr_model_ctc_frame_count(const icstr_model *m) { return m->N; }

/* the L2-normalised mean of each of g images' M latents (g, M, D) -> (g, D) */
static void pool_keys(const float *lat, int g, int M, int D, float *emb) {
    for (int i = 0; i < g; i++) {
        float *e = emb + (size_t)i * D;
        double norm = 0.0;
        for (int k = 0; k < D; k++) {
            double s = 0.0;
            for (int j = 0; j < M; j++) s += lat[((size_t)i * M + j) * D + k];
            e[k] = (float)(s / M);
            norm += (double)e[k] * e[k];
        }
        float inv = (float)(1.0 / (sqrt(norm) + 1e-12));
        for (int k = 0; k < D; k++) e[k] *= inv;
    }
}

void icstr_model_ctc_head_(icstr_model *m, int n, float *frames, float *logits) {
    int E = m->cfg.enc_dim, N = m->N, Hp = m->Hp, Wp = m->Wp;
#pragma omp parallel for schedule(static) if ((size_t)n * N * E >= 65536)
    for (int i = 0; i < n; i++)
        for (int x = 0; x < Wp; x++)
            for (int y = 0; y < Hp; y++)
                memcpy(frames + ((size_t)i * N + (size_t)x * Hp + y) * E,
                       m->e.out + ((size_t)i * N + (size_t)y * Wp + x) * E, (size_t)E * sizeof(float));
    if (logits) icstr_linear_forward(logits, frames, mp(m, m->ctc_w), mp(m, m->ctc_b), n * N, E, m->ctc_v);
}

/* rows (n, V) of logits -> log-probabilities, in place */
static void log_softmax_rows(float *x, size_t n, int V) {
    for (size_t r = 0; r < n; r++) {
        float *row = x + r * V, mx = row[0];
        for (int v = 1; v < V; v++) mx = row[v] > mx ? row[v] : mx;
        double s = 0.0;
        for (int v = 0; v < V; v++) s += exp((double)(row[v] - mx));
        float lz = mx + (float)log(s);
        for (int v = 0; v < V; v++) row[v] -= lz;
    }
}

int icstr_model_encode_ctc(icstr_model *m, const float *images, int n, float *latents, float *embeddings,
                           float *feat, float *logp) {
    const icstr_model_config *c = &m->cfg;
    int M = c->latents, D = c->dec_dim, N = m->N, E = c->enc_dim, V = m->ctc_v;
    if (n < 0 || (n > 0 && !images)) return icstr_fail(ICSTR_ERR_ARG, "encode: %d images", n);
    size_t img_floats = (size_t)3 * c->img_h * c->img_w;
    float *own = NULL;
    if (logp && !feat && n > 0) {
        own = icstr_alloc((size_t)(n < ENCODE_GROUP ? n : ENCODE_GROUP) * N * E, sizeof(float));
        if (!own) return icstr_fail(ICSTR_ERR_NOMEM, "encode: CTC frames");
    }
    int rc = ICSTR_OK;
    for (int i0 = 0; i0 < n && !rc; i0 += ENCODE_GROUP) {
        int g = n - i0 < ENCODE_GROUP ? n - i0 : ENCODE_GROUP;
        model_plan need = {0, 0, (size_t)g, 0, 0, 0, 0};
        if ((rc = icstr_model_plan_(m, &need))) break;
        if ((rc = icstr_model_encoder_forward_(m, images + (size_t)i0 * img_floats, g, 0, NULL))) break;
        if (latents) memcpy(latents + (size_t)i0 * M * D, m->r.out, (size_t)g * M * D * sizeof(float));
        if (embeddings) pool_keys(m->r.out, g, M, D, embeddings + (size_t)i0 * D);
        if (feat || logp) {
            float *lp = logp ? logp + (size_t)i0 * N * V : NULL;
            icstr_model_ctc_head_(m, g, feat ? feat + (size_t)i0 * N * E : own, lp);
            if (lp) log_softmax_rows(lp, (size_t)g * N, V);
        }
        rc = icstr_ops_error();
    }
    icstr_free(own);
    return rc;
}

int icstr_model_encode(icstr_model *m, const float *images, int n, float *latents, float *embeddings) {
    return icstr_model_encode_ctc(m, images, n, latents, embeddings, NULL, NULL);
}
