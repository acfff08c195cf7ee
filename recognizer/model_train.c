/* The recognizer's training loss: the batch is checked, every image goes through the encoder
 * and resampler once, the decoder reads the interleaved chunks, and the loss is the
 * label-smoothed cross-entropy of every label token (and EOC) of the chunks with loss on, plus
 * ctc_weight times the auxiliary CTC loss of the encoder tokens read left to right, plus
 * key_weight times the retrieval-key loss of the images' keys (model_key_loss.c). */
#include "model_internal.h"

#include <string.h>

static int check_batch(const icstr_model *m, const icstr_batch *b, size_t *n_chunks, long *max_T) {
    const icstr_model_config *c = &m->cfg;
    if (!b) return icstr_fail(ICSTR_ERR_ARG, "batch: NULL");
    if (b->B <= 0 || b->n_images <= 0 || b->max_chunks <= 0)
        return icstr_fail(ICSTR_ERR_ARG, "batch: B = %d, n_images = %d, max_chunks = %d", b->B,
                          b->n_images, b->max_chunks);
    if (!b->images || !b->chunk_image || !b->chunk_label || !b->chunk_len || !b->n_chunks)
        return icstr_fail(ICSTR_ERR_ARG, "batch: missing array");
    size_t total = 0;
    long T = 0;
    for (int s = 0; s < b->B; s++) {
        int nc = b->n_chunks[s];
        if (nc < 1 || nc > b->max_chunks)
            return icstr_fail(ICSTR_ERR_ARG, "batch: sequence %d has %d chunks (max_chunks %d)", s,
                              nc, b->max_chunks);
        long t = 0;
        for (int k = 0; k < nc; k++) {
            size_t ci = (size_t)s * b->max_chunks + k;
            int img = b->chunk_image[ci], len = b->chunk_len[ci];
            if (img < 0 || img >= b->n_images)
                return icstr_fail(ICSTR_ERR_ARG, "batch: sequence %d chunk %d: image %d of %d", s, k,
                                  img, b->n_images);
            if (len < 0 || len > c->max_label)
                return icstr_fail(ICSTR_ERR_ARG, "batch: sequence %d chunk %d: label length %d "
                                  "(max_label %d)", s, k, len, c->max_label);
            const int *lab = b->chunk_label + ci * c->max_label;
            for (int j = 0; j < len; j++)
                if (lab[j] < 0 || lab[j] >= m->voc.n_chars)
                    return icstr_fail(ICSTR_ERR_ARG, "batch: sequence %d chunk %d: token %d is not "
                                      "a character", s, k, lab[j]);
            t += c->latents + len + 2;
        }
        total += (size_t)nc;
        if (t > T) T = t;
    }
    *n_chunks = total;
    *max_T = T;
    return ICSTR_OK;
}

/* The decoder's chunk list of the batch (in the plan's chunk table) and its sequence starts. */
static void batch_chunks(icstr_model *m, const icstr_batch *b, int *seq_start) {
    int M = m->cfg.latents, D = m->cfg.dec_dim, L = m->cfg.max_label;
    int k = 0;
    for (int s = 0; s < b->B; s++) {
        seq_start[s] = k;
        for (int c = 0; c < b->n_chunks[s]; c++, k++) {
            size_t ci = (size_t)s * b->max_chunks + c;
            dec_chunk *ch = &m->d.chunks[k];
            ch->img = b->chunk_image[ci];
            ch->lat = m->r.out + (size_t)ch->img * M * D;
            ch->label = b->chunk_label + ci * L;
            ch->len = b->chunk_len[ci];
            ch->eoc = 1;
            ch->query = c == b->n_chunks[s] - 1;
            ch->loss = b->loss_on ? b->loss_on[ci] != ICSTR_LOSS_NONE : 1;
        }
    }
    seq_start[b->B] = k;
}

/* Each image's label, the CTC target and the key loss's (model_key_loss.c): that of its first
 * chunk marked ICSTR_LOSS_ALL, a label the image shows; length -1 for an image without one. */
static void image_labels(icstr_model *m, const icstr_batch *b) {
    int L = m->cfg.max_label;
    for (int i = 0; i < b->n_images; i++) m->e.img_len[i] = -1;
    for (int s = 0; s < b->B; s++)
        for (int k = 0; k < b->n_chunks[s]; k++) {
            size_t ci = (size_t)s * b->max_chunks + k;
            int img = b->chunk_image[ci];
            if (m->e.img_len[img] >= 0 || (b->loss_on && b->loss_on[ci] != ICSTR_LOSS_ALL)) continue;
            m->e.img_len[img] = b->chunk_len[ci];
            m->e.img_label[img] = b->chunk_label + ci * L;
        }
}

/* CTC forward over the encoder tokens in column-major order (x outer, y inner): each image's
 * target is its label (image_labels); images without one are not counted.
 * Returns the counted images and the sum of their length-normalised losses. */
static int ctc_forward(icstr_model *m, const icstr_batch *b, double *sum) {
    const icstr_model_config *c = &m->cfg;
    int n = b->n_images, N = m->N, L = c->max_label;
    int *tgt = m->e.ctc_tgt, *len = m->e.ctc_len;
    for (int i = 0; i < n; i++) {
        len[i] = m->e.img_len[i];
        for (int j = 0; j < len[i]; j++) tgt[(size_t)i * L + j] = 1 + m->e.img_label[i][j];
    }
    /* each image's loss is divided by its label length (PyTorch's "mean" reduction), so the
     * CTC term is per character like the cross-entropy; ctc_dloss holds that factor, 0 for
     * images without a target */
    int counted = 0;
    for (int i = 0; i < n; i++) {
        m->e.ctc_dloss[i] = len[i] >= 0 ? 1.0f / (float)(len[i] > 1 ? len[i] : 1) : 0.0f;
        counted += len[i] >= 0;
        if (len[i] < 0) len[i] = 0;
    }
    *sum = 0.0;
    if (!counted) return 0;
    icstr_model_ctc_head_(m, n, m->e.ctc_in, m->e.ctc_logits);
    icstr_ctc_forward(m->e.ctc_loss, m->e.ctc_grad, m->e.ctc_logits, tgt, len, n, N, m->ctc_v, L);
    double s = 0.0;
    for (int i = 0; i < n; i++) s += (double)m->e.ctc_dloss[i] * m->e.ctc_loss[i];
    *sum = s;
    return counted;
}

/* denc += d(scale * sum of counted length-normalised CTC losses) / d encoder output */
static void ctc_backward(icstr_model *m, int n, float scale) {
    const icstr_model_config *c = &m->cfg;
    int N = m->N, E = c->enc_dim, Hp = m->Hp, Wp = m->Wp, V = m->ctc_v;
    for (int i = 0; i < n; i++) m->e.ctc_dloss[i] *= scale;
    float *dlogits = m->g.dlogits;
    memset(dlogits, 0, (size_t)n * N * V * sizeof(float));
    icstr_ctc_backward(dlogits, m->e.ctc_dloss, m->e.ctc_grad, n, N, V);
    memset(m->g.dctc_in, 0, (size_t)n * N * E * sizeof(float));
    icstr_linear_backward(m->g.dctc_in, mg(m, m->ctc_w), mg(m, m->ctc_b), dlogits, m->e.ctc_in,
                          mp(m, m->ctc_w), n * N, E, V);
#pragma omp parallel for schedule(static) if ((size_t)n * N * E >= 65536)
    for (int i = 0; i < n; i++)
        for (int x = 0; x < Wp; x++)
            for (int y = 0; y < Hp; y++) {
                const float *src = m->g.dctc_in + ((size_t)i * N + (size_t)x * Hp + y) * E;
                float *dst = m->g.denc + ((size_t)i * N + (size_t)y * Wp + x) * E;
                for (int e = 0; e < E; e++) dst[e] += src[e];
            }
}

static int run(icstr_model *m, const icstr_batch *b, icstr_rng *rng, int backward,
               icstr_loss_info *info) {
    const icstr_model_config *c = &m->cfg;
    if (info) memset(info, 0, sizeof *info);
    if (backward && !m->slab.grad)
        return icstr_fail(ICSTR_ERR_ARG, "model: train_step on a model created without with_train");
    size_t nch = 0;
    long T = 0;
    int rc = check_batch(m, b, &nch, &T);
    if (rc) return rc;
    if ((double)b->B * (double)T * (double)T > 4e9 || (double)b->B * T > 1e8)
        return icstr_fail(ICSTR_ERR_LIMIT, "batch: %d sequences of %ld rows is too large", b->B, T);
    int drop = backward && c->dropout > 0.0f;
    if (drop && !rng) return icstr_fail(ICSTR_ERR_ARG, "model: dropout needs an rng");
    model_plan need = {backward, drop, (size_t)b->n_images, (size_t)b->B * T,
                       (size_t)b->B * T * T, (size_t)b->B, nch};
    if ((rc = icstr_model_plan_(m, &need))) return rc;
    int *seq_start = m->d.seq_start;

    if ((rc = icstr_model_encoder_forward_(m, b->images, b->n_images, backward, rng))) return rc;
    batch_chunks(m, b, seq_start);
    if ((rc = icstr_model_decoder_forward_(m, m->d.chunks, seq_start, b->B, backward, rng))) return rc;
    double ce_sum = 0.0, ctc_sum = 0.0;
    int tokens = icstr_model_decoder_loss_(m, &ce_sum);
    image_labels(m, b);
    int imgs = c->ctc_weight > 0.0f ? ctc_forward(m, b, &ctc_sum) : 0;
    double key_sum = 0.0;
    int anchors = c->key_weight > 0.0f ? icstr_model_key_loss_(m, b->n_images, &key_sum) : 0;
    float ce = tokens ? (float)(ce_sum / tokens) : 0.0f;
    float ctc = imgs ? (float)(ctc_sum / imgs) : 0.0f;
    float key = anchors ? (float)(key_sum / anchors) : 0.0f;
    if (info) {
        info->ce = ce;
        info->ctc = ctc;
        info->key = key;
        info->loss = ce + c->ctc_weight * ctc + c->key_weight * key;
        info->tokens = tokens;
    }
    if (backward) {
        int n = b->n_images;
        memset(m->g.dlat, 0, (size_t)n * c->latents * c->dec_dim * sizeof(float));
        memset(m->g.denc, 0, (size_t)n * m->N * c->enc_dim * sizeof(float));
        if (tokens) icstr_model_decoder_backward_(m, 1.0f / (float)tokens);
        if (anchors) icstr_model_key_backward_(m, n, c->key_weight / (float)anchors);
        if (imgs) ctc_backward(m, n, c->ctc_weight / (float)imgs);
        icstr_model_encoder_backward_(m, n);
    }
    return icstr_ops_error();
}

int icstr_model_train_step(icstr_model *m, const icstr_batch *batch, icstr_rng *rng,
                           icstr_loss_info *info) {
    return run(m, batch, rng, 1, info);
}

int icstr_model_loss(icstr_model *m, const icstr_batch *batch, icstr_loss_info *info) {
    return run(m, batch, NULL, 0, info);
}
