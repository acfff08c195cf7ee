/* Model identity and cost: the fingerprint (a hash of the architecture and every parameter's
 * name, shape and bytes, for pool metadata) and the analytic FLOP count of one crop. */
#include "model_internal.h"

#include <stdio.h>
#include <string.h>

/* Four FNV-1a 64 lanes with different offset bases over the same bytes, each finished with a
 * mixer; 256 bits, written as 64 hex digits. Not cryptographic: it tells models apart. */
typedef struct {
    uint64_t h[4];
} fp_state;

static void fp_bytes(fp_state *s, const void *data, size_t n) {
    const unsigned char *p = data;
    uint64_t h0 = s->h[0], h1 = s->h[1], h2 = s->h[2], h3 = s->h[3];
    const uint64_t prime = 0x100000001b3ULL;
    for (size_t i = 0; i < n; i++) {
        h0 = (h0 ^ p[i]) * prime;
        h1 = (h1 ^ (unsigned char)(p[i] + 0x55)) * prime;
        h2 = (h2 ^ (unsigned char)(p[i] ^ 0xa7)) * prime;
        h3 = (h3 ^ (unsigned char)(p[i] * 3 + 1)) * prime;
    }
    s->h[0] = h0, s->h[1] = h1, s->h[2] = h2, s->h[3] = h3;
}

static void fp_i32(fp_state *s, int32_t v) {
    unsigned char b[4] = {(unsigned char)v, (unsigned char)(v >> 8), (unsigned char)(v >> 16),
                          (unsigned char)(v >> 24)};
    fp_bytes(s, b, 4);
}

static uint64_t mix(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void icstr_model_fingerprint(const icstr_model *m, char out[65]) {
    const icstr_model_config *c = &m->cfg;
    fp_state s;
    for (int k = 0; k < 4; k++) s.h[k] = 0xcbf29ce484222325ULL ^ (0x9e3779b97f4a7c15ULL * (uint64_t)k);
    static const char tag[] = "icstr-model-1";
    fp_bytes(&s, tag, sizeof tag);
    /* the fields that change what the weights compute; training knobs and max_prompts do not */
    const int32_t fields[] = {c->img_h, c->img_w, c->stem, c->patch_h, c->patch_w,
                              c->stem == 1 ? c->stem_channels : 0, c->enc_dim, c->enc_layers,
                              c->enc_heads, c->enc_mlp, c->latents, c->resampler_layers,
                              c->dec_dim, c->dec_layers, c->dec_heads, c->dec_mlp, c->max_label};
    for (size_t i = 0; i < sizeof fields / sizeof *fields; i++) fp_i32(&s, fields[i]);
    size_t clen = strlen(c->charset);
    fp_i32(&s, (int32_t)clen);
    fp_bytes(&s, c->charset, clen);
    const icstr_slab *sl = &m->slab;
    for (int t = 0; t < sl->count; t++) {
        const icstr_param *p = &sl->params[t];
        fp_bytes(&s, p->name, strlen(p->name) + 1);
        fp_i32(&s, p->ndim);
        for (int d = 0; d < p->ndim; d++) fp_i32(&s, (int32_t)p->shape[d]);
        const float *w = sl->data + p->offset;
        /* little-endian bytes whatever the host */
        for (size_t i = 0; i < p->numel; i++) {
            uint32_t u;
            memcpy(&u, &w[i], 4);
            fp_i32(&s, (int32_t)u);
        }
    }
    for (int k = 0; k < 4; k++) snprintf(out + 16 * k, 17, "%016llx", (unsigned long long)mix(s.h[k]));
    out[64] = '\0';
}

int icstr_model_flops(const icstr_model_config *cfg, double *fwd, double *train) {
    icstr_model tmp;
    memset(&tmp, 0, sizeof tmp);
    int rc = icstr_model_check_config_(cfg, &tmp);
    if (rc) return rc;
    const icstr_model *m = &tmp;
    double E = cfg->enc_dim, D = cfg->dec_dim, Fe = cfg->enc_mlp, Fd = cfg->dec_mlp;
    double N = m->N, M = cfg->latents, V = m->voc.vocab, T = cfg->latents + cfg->max_label + 2;
    double f = 0.0;
    /* stem and patch embedding */
    if (cfg->stem == 1) {
        f += 2.0 * m->h1 * m->w1 * m->c1 * 27.0;
        f += 2.0 * m->h2 * m->w2 * m->c2 * (m->c1 * 9.0);
    }
    f += 2.0 * N * E * ((double)m->pin * m->sph * m->spw);
    /* encoder: q/k/v, projection, MLP, and the two attention products */
    f += cfg->enc_layers * (2.0 * N * (4.0 * E * E + 2.0 * E * Fe) + 4.0 * N * N * E);
    f += 2.0 * N * E * m->ctc_v;
    /* resampler */
    f += 2.0 * M * E * D;
    f += cfg->resampler_layers *
         (2.0 * M * (2.0 * D * D + 2.0 * D * Fd) + 2.0 * N * E * 2.0 * D + 4.0 * M * N * D);
    /* decoder over one chunk (no prompts) with a full-length label, and the head */
    f += cfg->dec_layers * (2.0 * T * (4.0 * D * D + 2.0 * D * Fd) + 4.0 * T * T * D);
    f += 2.0 * T * D * V;
    if (fwd) *fwd = f;
    if (train) *train = 3.0 * f;
    return ICSTR_OK;
}
