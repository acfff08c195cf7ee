/* The joint CTC / decoder reading (model.h): the CTC head's best path is a second candidate, and
 * each candidate is scored by both the decoder and the head (Watanabe et al. 2017's hybrid
 * CTC/attention, here as a rescoring of two candidates). */
#include "model_internal.h"

#include "char_lm.h"

#include <math.h>
#include <string.h>

/* log p of the CTC symbols tok (len) under logp (T, V) of log-probabilities: all alignments */
static double ctc_logprob(const float *logp, int T, int V, const int *tok, int len, int S, float *grad, int *sym) {
    for (int j = 0; j < len; j++) sym[j] = 1 + tok[j];
    float loss;
    icstr_ctc_forward(&loss, grad, logp, sym, &len, 1, T, V, S); /* a log-softmax row is its own logits */
    return -(double)loss;
}

int icstr_model_ctc_joint(icstr_model *m, const float *latents, const float *logp, int n, const icstr_decode_params *p,
                          const unsigned char *skip, char **texts, int cap, float *confidence, int *changed) {
    float weight = p->ctc_weight;
    const icstr_model_config *c = &m->cfg;
    int T = m->N, V = m->ctc_v, L = c->max_label;
    size_t per = (size_t)c->latents * c->dec_dim;
    if (changed) *changed = 0;
    if (n < 0 || !(weight >= 0.0f && weight <= 1.0f) || (n > 0 && (!latents || !logp || !texts)))
        return icstr_fail(ICSTR_ERR_ARG, "ctc joint: %d readings, weight %g", n, (double)weight);
    if (weight == 0.0f || n == 0) return ICSTR_OK;
    float *lat2 = icstr_alloc(2 * per, sizeof(float));
    float *grad = icstr_alloc((size_t)T * V, sizeof(float));
    int *tok = icstr_alloc((size_t)2 * L, sizeof(int));
    int *path = icstr_alloc((size_t)T, sizeof(int));
    int *sym = icstr_alloc((size_t)L, sizeof(int));
    int rc = lat2 && grad && tok && path && sym ? ICSTR_OK : icstr_fail(ICSTR_ERR_NOMEM, "ctc joint");
    for (int i = 0; i < n && !rc; i++) {
        if (skip && skip[i]) continue;
        const float *lp = logp + (size_t)i * T * V;
        int len[2], k = icstr_ctc_best_path(lp, T, V, path, T);
        if (icstr_model_encode_label(m, texts[i], tok, &len[0])) { /* a reading the model cannot write back */
            icstr_clear_error();
            continue;
        }
        len[1] = k < L ? k : L;
        for (int j = 0; j < len[1]; j++) tok[L + j] = path[j] - 1;
        if (len[0] == len[1] && !memcmp(tok, tok + L, (size_t)len[0] * sizeof(int))) continue;
        memcpy(lat2, latents + (size_t)i * per, per * sizeof(float));
        memcpy(lat2 + per, latents + (size_t)i * per, per * sizeof(float));
        double dec[2];
        if ((rc = icstr_model_score(m, lat2, 2, NULL, tok, len, 0, dec))) break;
        double joint[2];
        for (int j = 0; j < 2; j++)
            joint[j] = (1.0 - weight) * dec[j] + weight * ctc_logprob(lp, T, V, tok + (size_t)j * L, len[j], L, grad, sym) +
                       (p->lm ? (double)p->lm_weight * icstr_char_lm_score(p->lm, tok + (size_t)j * L, len[j]) : 0.0);
        if (joint[1] <= joint[0]) continue;
        icstr_model_decode_tokens(m, tok + L, len[1], texts[i], cap);
        if (confidence) confidence[i] = (float)exp(dec[1]);
        if (changed) ++*changed;
    }
    icstr_free(lat2);
    icstr_free(grad);
    icstr_free(tok);
    icstr_free(path);
    icstr_free(sym);
    return rc;
}
