/* The retrieval-key loss (model.key_weight): the pool retrieves prompts by the cosine of the
 * images' keys (the L2-normalised mean of the M latents), and a domain's pool holds its repeated
 * texts ("TOTAL", "15.00"), which are useful prompts only when retrieval ranks a crop of the very
 * text above crops that merely look alike. This term asks for that: a supervised contrastive
 * loss over the batch's images, positives the images with the same label.
 *
 * An image's label is that of its first chunk marked ICSTR_LOSS_ALL (the CTC target's rule: a
 * label the image shows); images without one, or with an empty label, take no part. An anchor is
 * an image with at least one positive; with s_ij = k_i . k_j / t (t = model.key_temperature) and
 * P(i) its positives,
 *   l_i = log sum_{j != i} exp(s_ij) - (1/|P(i)|) sum_{p in P(i)} s_ip,
 * the sums over taking-part images, and the loss is the mean of l_i over the anchors. */
#include "model_internal.h"

#include <math.h>
#include <string.h>

/* Group of each image: the index of the first image with the same non-empty label, -1 for none. */
static void label_groups(const icstr_model *m, int n, int *group) {
    const int *len = m->e.img_len;
    const int *const *lab = m->e.img_label;
    for (int i = 0; i < n; i++) {
        group[i] = -1;
        if (len[i] <= 0) continue;
        group[i] = i;
        for (int j = 0; j < i; j++)
            if (group[j] == j && len[j] == len[i] && !memcmp(lab[j], lab[i], (size_t)len[i] * sizeof(int))) {
                group[i] = j;
                break;
            }
    }
}

int icstr_model_key_loss_(icstr_model *m, int n, double *loss) {
    int M = m->cfg.latents, D = m->cfg.dec_dim;
    float t = m->cfg.key_temperature;
    int *group = m->r.key_group;
    float *key = m->r.key, *coef = m->r.key_coef;
    label_groups(m, n, group);
    /* keys: k_i = u_i / |u_i|, u_i the sum of image i's latents (the mean's direction) */
    for (int i = 0; i < n; i++) {
        float *k = key + (size_t)i * D;
        memset(k, 0, (size_t)D * sizeof(float));
        if (group[i] < 0) continue;
        const float *lat = m->r.out + (size_t)i * M * D;
        for (int r = 0; r < M; r++)
            for (int d = 0; d < D; d++) k[d] += lat[(size_t)r * D + d];
        double nn = 0.0;
        for (int d = 0; d < D; d++) nn += (double)k[d] * k[d];
        float norm = (float)sqrt(nn) + 1e-12f;
        m->r.key_norm[i] = norm;
        for (int d = 0; d < D; d++) k[d] /= norm;
    }
    /* coef[i][j] = d l_i / d s_ij: softmax_j - [j in P(i)] / |P(i)| */
    memset(coef, 0, (size_t)n * n * sizeof(float));
    int anchors = 0;
    double sum = 0.0;
    for (int i = 0; i < n; i++) {
        if (group[i] < 0) continue;
        int pos = 0;
        for (int j = 0; j < n; j++) pos += j != i && group[j] == group[i];
        if (!pos) continue;
        float *c = coef + (size_t)i * n;
        double mx = -INFINITY, z = 0.0, spos = 0.0;
        for (int j = 0; j < n; j++) {
            if (j == i || group[j] < 0) continue;
            double s = 0.0;
            for (int d = 0; d < D; d++) s += (double)key[(size_t)i * D + d] * key[(size_t)j * D + d];
            c[j] = (float)(s / t);
            if (c[j] > mx) mx = c[j];
            if (group[j] == group[i]) spos += c[j];
        }
        for (int j = 0; j < n; j++)
            if (j != i && group[j] >= 0) z += exp(c[j] - mx);
        sum += mx + log(z) - spos / pos;
        for (int j = 0; j < n; j++) {
            if (j == i || group[j] < 0) continue;
            c[j] = (float)(exp(c[j] - mx) / z) - (group[j] == group[i] ? 1.0f / (float)pos : 0.0f);
        }
        anchors++;
    }
    *loss = sum;
    return anchors;
}

void icstr_model_key_backward_(icstr_model *m, int n, float scale) {
    int M = m->cfg.latents, D = m->cfg.dec_dim;
    float t = m->cfg.key_temperature;
    const float *key = m->r.key, *coef = m->r.key_coef;
    float *dkey = m->r.key_dkey;
    memset(dkey, 0, (size_t)n * D * sizeof(float));
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) {
            float g = coef[(size_t)i * n + j] * scale / t;
            if (g == 0.0f) continue;
            for (int d = 0; d < D; d++) {
                dkey[(size_t)i * D + d] += g * key[(size_t)j * D + d];
                dkey[(size_t)j * D + d] += g * key[(size_t)i * D + d];
            }
        }
    /* through k = u / |u| and u = the sum of the latents */
    for (int i = 0; i < n; i++) {
        if (m->r.key_group[i] < 0) continue;
        const float *k = key + (size_t)i * D;
        float *dk = dkey + (size_t)i * D;
        double kd = 0.0;
        for (int d = 0; d < D; d++) kd += (double)k[d] * dk[d];
        for (int d = 0; d < D; d++) dk[d] = (dk[d] - k[d] * (float)kd) / m->r.key_norm[i];
        float *dlat = m->g.dlat + (size_t)i * M * D;
        for (int r = 0; r < M; r++)
            for (int d = 0; d < D; d++) dlat[(size_t)r * D + d] += dk[d];
    }
}
