/* The CTC head at inference and the joint reading, on the pool tests' tiny random model:
 *  - icstr_model_encode_ctc: the same latents and keys as icstr_model_encode, to the bit; its
 *    frames are the encoder tokens column by column (against the encoder's own row-major output)
 *    and logp the log-softmax of the head computed here by hand;
 *  - icstr_model_ctc_joint: weight 0 changes nothing; weight 1 keeps, crop by crop, whichever
 *    of the reading and the CTC best path has the higher CTC log-likelihood (computed here with
 *    icstr_ctc_forward), weight 0.5 the higher average with the decoder's icstr_model_score,
 *    and some readings do change; skipped inputs keep theirs; a bad weight is refused;
 *  - icstr_glyph_mix: lambda 0 leaves the frames as they were; one vote of weight 1 (k 1)
 *    from a store of the crop's own frames under a chosen alignment makes the best path that
 *    alignment's label, and the joint reading with weight 1 then reads it; two entries at the
 *    same cosine share the vote. */
#include "char_lm.h"
#include "check.h"
#include "model_internal.h"
#include "pool_glyphs.h"
#include "tiny_pool_model.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { NQ = 8, CAP = 64 };

/* the decoding parameters of the joint reading with weight w */
static const icstr_decode_params *joint_weight(float w) {
    static icstr_decode_params p;
    p = icstr_decode_default_params();
    p.ctc_weight = w;
    return &p;
}

/* log p_lm of a text */
static double lm_ll(icstr_model *m, const icstr_char_lm *lm, const char *text) {
    int tok[CAP], len;
    CHECK(icstr_model_encode_label(m, text, tok, &len) == ICSTR_OK);
    return icstr_char_lm_score(lm, tok, len);
}

static void read_plain(icstr_model *m, const float *lat, int n, char out[][CAP], float *conf) {
    char *t[NQ];
    for (int i = 0; i < n; i++) t[i] = out[i];
    icstr_decode_params dp = icstr_decode_default_params();
    CHECK(icstr_model_decode(m, lat, n, NULL, &dp, t, CAP, conf) == ICSTR_OK);
}

static double ctc_ll(const float *logp, int T, int V, const char *text, icstr_model *m, int L) {
    int tok[CAP], len, sym[CAP];
    CHECK(icstr_model_encode_label(m, text, tok, &len) == ICSTR_OK);
    for (int j = 0; j < len; j++) sym[j] = tok[j] + 1;
    float loss, *g = malloc((size_t)T * V * sizeof *g);
    icstr_ctc_forward(&loss, g, logp, sym, &len, 1, T, V, L);
    free(g);
    return -(double)loss;
}

static double dec_ll(icstr_model *m, const float *lat, const char *text) {
    int tok[CAP], len;
    CHECK(icstr_model_encode_label(m, text, tok, &len) == ICSTR_OK);
    double lp;
    CHECK(icstr_model_score(m, lat, 1, NULL, tok, &len, 0, &lp) == ICSTR_OK);
    return lp;
}

static void test_frames(icstr_model *m, const float *img, int n) {
    const icstr_model_config *c = icstr_model_get_config(m);
    int T = icstr_model_ctc_frame_count(m), E = c->enc_dim, V = m->ctc_v, Hp = m->Hp, Wp = m->Wp;
    size_t per = (size_t)c->latents * c->dec_dim;
    CHECK(T == Hp * Wp && V == icstr_model_vocab(m).n_chars + 1);
    float *lat = malloc(n * per * sizeof *lat), *emb = malloc((size_t)n * c->dec_dim * sizeof *emb);
    float *lat2 = malloc(n * per * sizeof *lat), *emb2 = malloc((size_t)n * c->dec_dim * sizeof *emb);
    float *feat = malloc((size_t)n * T * E * sizeof *feat), *logp = malloc((size_t)n * T * V * sizeof *logp);
    CHECK(icstr_model_encode(m, img, n, lat, emb) == ICSTR_OK);
    CHECK(icstr_model_encode_ctc(m, img, n, lat2, emb2, feat, logp) == ICSTR_OK);
    CHECK(!memcmp(lat, lat2, n * per * sizeof *lat) && !memcmp(emb, emb2, (size_t)n * c->dec_dim * sizeof *emb));
    /* the encoder's output of the last image (n <= one encoder group) is still in the model */
    const float *out = m->e.out + (size_t)(n - 1) * T * E, *f = feat + (size_t)(n - 1) * T * E;
    int order = 1;
    for (int x = 0; x < Wp; x++)
        for (int y = 0; y < Hp; y++) order &= !memcmp(f + (size_t)(x * Hp + y) * E, out + (size_t)(y * Wp + x) * E, E * sizeof(float));
    CHECK_MSG(order, "CTC frames are not the tokens column by column");
    double worst = 0.0;
    const float *w = mp(m, m->ctc_w), *b = mp(m, m->ctc_b);
    for (int t = 0; t < T; t++) {
        double z[ICSTR_CHARSET_MAX + 1], mx = -1e300, s = 0.0;
        for (int v = 0; v < V; v++) {
            z[v] = b[v];
            for (int e = 0; e < E; e++) z[v] += (double)w[(size_t)v * E + e] * f[(size_t)t * E + e];
            mx = fmax(mx, z[v]);
        }
        for (int v = 0; v < V; v++) s += exp(z[v] - mx);
        for (int v = 0; v < V; v++)
            worst = fmax(worst, fabs(logp[((size_t)(n - 1) * T + t) * V + v] - (z[v] - mx - log(s))));
    }
    CHECK_MSG(worst < 1e-4, "CTC log-probabilities off by %g", worst);
    CHECK(icstr_model_encode_ctc(m, img, -1, NULL, NULL, NULL, NULL) == ICSTR_ERR_ARG);
    free(lat), free(emb), free(lat2), free(emb2), free(feat), free(logp);
}

static void test_joint(icstr_model *m, const float *img) {
    const icstr_model_config *c = icstr_model_get_config(m);
    int T = icstr_model_ctc_frame_count(m), V = m->ctc_v, L = c->max_label;
    size_t per = (size_t)c->latents * c->dec_dim;
    float *lat = malloc(NQ * per * sizeof *lat), *logp = malloc((size_t)NQ * T * V * sizeof *logp);
    CHECK(icstr_model_encode_ctc(m, img, NQ, lat, NULL, NULL, logp) == ICSTR_OK);
    char plain[NQ][CAP], got[NQ][CAP], path_text[NQ][CAP];
    float plain_c[NQ], got_c[NQ];
    char *t[NQ];
    read_plain(m, lat, NQ, plain, plain_c);
    for (int i = 0; i < NQ; i++) {
        int sym[64], tok[64], k = icstr_ctc_best_path(logp + (size_t)i * T * V, T, V, sym, L);
        for (int j = 0; j < k; j++) tok[j] = sym[j] - 1;
        icstr_model_decode_tokens(m, tok, k, path_text[i], CAP);
        t[i] = got[i];
    }
    /* the last case: weight 0.5 and a character model of the best paths' texts, weight 5 */
    icstr_char_lm *lm = NULL;
    CHECK(icstr_char_lm_create(m, NULL, &lm) == ICSTR_OK);
    for (int i = 0; i < NQ; i++) {
        int tok[CAP], len;
        CHECK(icstr_model_encode_label(m, path_text[i], tok, &len) == ICSTR_OK);
        CHECK(icstr_char_lm_add(lm, tok, len) == ICSTR_OK);
    }
    const float weights[] = {0.0f, 1.0f, 0.5f, 0.5f};
    int changed_some = 0, counts[4] = {0};
    for (int wi = 0; wi < 4; wi++) {
        float w = weights[wi];
        icstr_decode_params dp = *joint_weight(w);
        const icstr_char_lm *use = wi == 3 ? lm : NULL;
        double lw = use ? 5.0 : 0.0;
        dp.lm = use, dp.lm_weight = (float)lw;
        memcpy(got, plain, sizeof got);
        memcpy(got_c, plain_c, sizeof got_c);
        int changed = -1;
        CHECK(icstr_model_ctc_joint(m, lat, logp, NQ, &dp, NULL, t, CAP, got_c, &changed) == ICSTR_OK);
        int ok = 1, count = 0;
        for (int i = 0; i < NQ; i++) {
            const float *lp = logp + (size_t)i * T * V;
            const float *li = lat + (size_t)i * per;
            const char *want = plain[i];
            if (strcmp(plain[i], path_text[i])) {
                double a = (1.0 - w) * dec_ll(m, li, plain[i]) + w * ctc_ll(lp, T, V, plain[i], m, L);
                double p = (1.0 - w) * dec_ll(m, li, path_text[i]) + w * ctc_ll(lp, T, V, path_text[i], m, L);
                if (use) a += lw * lm_ll(m, use, plain[i]), p += lw * lm_ll(m, use, path_text[i]);
                if (p > a) want = path_text[i], count++;
            }
            ok &= !strcmp(got[i], want);
            if (want == plain[i]) ok &= got_c[i] == plain_c[i];
            else ok &= fabs(log(got_c[i]) - dec_ll(m, li, want)) < 1e-4; /* confidences are tiny here */
        }
        CHECK_MSG(ok && changed == count, "weight %g: readings or count (%d, want %d) differ", (double)w, changed, count);
        if (w == 0.0f) CHECK(count == 0);
        counts[wi] = count;
        changed_some += count;
    }
    CHECK_MSG(counts[3] > counts[2], "the character model changed %d readings, weight 0.5 alone %d", counts[3],
              counts[2]);
    icstr_char_lm_free(lm);
    CHECK_MSG(changed_some > 0, "no reading changed: the test proves nothing");
    /* skipped inputs keep their readings */
    unsigned char skip[NQ];
    memset(skip, 1, sizeof skip);
    memcpy(got, plain, sizeof got);
    int changed = -1;
    CHECK(icstr_model_ctc_joint(m, lat, logp, NQ, joint_weight(1.0f), skip, t, CAP, got_c, &changed) == ICSTR_OK);
    CHECK(changed == 0 && !memcmp(got, plain, sizeof got));
    CHECK(icstr_model_ctc_joint(m, lat, logp, NQ, joint_weight(1.5f), NULL, t, CAP, got_c, NULL) == ICSTR_ERR_ARG);
    CHECK(icstr_model_ctc_joint(m, lat, logp, NQ, joint_weight(-0.1f), NULL, t, CAP, got_c, NULL) == ICSTR_ERR_ARG);
    free(lat), free(logp);
}

static void test_glyph_mix(icstr_model *m, const float *img) {
    const icstr_model_config *c = icstr_model_get_config(m);
    int T = icstr_model_ctc_frame_count(m), V = m->ctc_v, E = c->enc_dim, L = c->max_label;
    size_t per = (size_t)c->latents * c->dec_dim;
    float *lat = malloc(per * sizeof *lat), *feat = malloc((size_t)T * E * sizeof *feat);
    float *logp = malloc((size_t)T * V * sizeof *logp), *orig = malloc((size_t)T * V * sizeof *orig);
    float *scratch = malloc((size_t)2 * T * T * sizeof *scratch); /* (T, store entries) */
    CHECK(icstr_model_encode_ctc(m, img, 1, lat, NULL, feat, logp) == ICSTR_OK);
    memcpy(orig, logp, (size_t)T * V * sizeof *logp);
    /* a store of this crop's own frames aligned to "b0a3" (CTC symbols 1 + token) */
    const char *target = "b0a3";
    int tok[CAP], len;
    CHECK(icstr_model_encode_label(m, target, tok, &len) == ICSTR_OK);
    int sym[CAP], path[64];
    for (int j = 0; j < len; j++) sym[j] = tok[j] + 1;
    double *dscr = malloc(ICSTR_CTC_ALIGN_SCRATCH(T, len));
    CHECK(icstr_ctc_align(logp, T, V, sym, len, path, dscr) == 0);
    uint64_t ids[2] = {11, 12};
    icstr_glyph_store s = {T, E, V, malloc((size_t)2 * T * E * sizeof(float)), malloc((size_t)2 * T * sizeof(int)), 1, T,
                           ids, 0};
    memcpy(s.keys, feat, (size_t)T * E * sizeof(float));
    for (int t = 0; t < T; t++) { /* normalised as the store keeps them */
        double n2 = 0.0;
        for (int e = 0; e < E; e++) n2 += (double)s.keys[t * E + e] * s.keys[t * E + e];
        for (int e = 0; e < E; e++) s.keys[t * E + e] /= (float)sqrt(n2);
    }
    memcpy(s.values, path, (size_t)T * sizeof(int));
    icstr_glyph_params p = icstr_glyph_default_params();
    p.lambda = 0.0f;
    float *f2 = malloc((size_t)T * E * sizeof *f2);
    memcpy(f2, feat, (size_t)T * E * sizeof *f2);
    icstr_glyph_mix(&s, &p, T, f2, logp, NULL, 0, scratch);
    double worst = 0.0;
    for (int i = 0; i < T * V; i++) worst = fmax(worst, fabs(logp[i] - orig[i]));
    CHECK_MSG(worst < 1e-5, "lambda 0 moved a log-probability by %g", worst);
    /* one vote, all the weight: the frames say the alignment's symbols */
    p.lambda = 1.0f, p.k = 1;
    memcpy(f2, feat, (size_t)T * E * sizeof *f2);
    icstr_glyph_mix(&s, &p, T, f2, logp, NULL, 0, scratch);
    int out[64], k = icstr_ctc_best_path(logp, T, V, out, L);
    CHECK(k == len && !memcmp(out, sym, (size_t)len * sizeof(int)));
    char plain[1][CAP], *tp[1] = {plain[0]};
    float conf;
    read_plain(m, lat, 1, plain, &conf);
    CHECK_MSG(strcmp(plain[0], target), "the plain reading is the target already");
    CHECK(icstr_model_ctc_joint(m, lat, logp, 1, joint_weight(1.0f), NULL, tp, CAP, &conf, NULL) == ICSTR_OK);
    CHECK_MSG(!strcmp(plain[0], target), "joint with the glyphs read '%s', not '%s'", plain[0], target);
    /* two entries at cosine 1 that disagree share the vote: frame 0 gets 0.5 for each */
    s.n = 2 * T;
    memcpy(s.keys + (size_t)T * E, s.keys, (size_t)T * E * sizeof(float));
    for (int t = 0; t < T; t++) s.values[T + t] = 1 + tok[0] == path[t] ? 1 + tok[1] : 1 + tok[0];
    p.k = 2, p.temperature = 1e-3f;
    memcpy(f2, feat, (size_t)T * E * sizeof *f2);
    icstr_glyph_mix(&s, &p, T, f2, logp, NULL, 0, scratch);
    CHECK_MSG(fabs(exp(logp[path[0]]) - 0.5) < 1e-4 && fabs(exp(logp[s.values[T]]) - 0.5) < 1e-4,
              "tie: %g / %g", exp(logp[path[0]]), exp(logp[s.values[T]]));
    /* only the named records vote: record 11 alone gives the alignment back, 12 alone (and an
     * id the store lacks) the other symbols at every frame */
    s.records = 2;
    float *big = malloc(icstr_glyph_scratch_floats(&s, 2) * sizeof *big);
    const uint64_t only11[1] = {11}, only12[2] = {99, 12};
    memcpy(f2, feat, (size_t)T * E * sizeof *f2);
    icstr_glyph_mix(&s, &p, T, f2, logp, only11, 1, big);
    int argmax_ok = 1;
    for (int t = 0; t < T; t++) argmax_ok &= exp(logp[(size_t)t * V + path[t]]) > 0.99;
    memcpy(f2, feat, (size_t)T * E * sizeof *f2);
    icstr_glyph_mix(&s, &p, T, f2, logp, only12, 2, big);
    for (int t = 0; t < T; t++) argmax_ok &= exp(logp[(size_t)t * V + s.values[T + t]]) > 0.99;
    CHECK_MSG(argmax_ok, "records named: the votes came from other records");
    free(big);
    free(s.keys), free(s.values), free(dscr), free(f2); /* ids is on the stack */
    free(lat), free(feat), free(logp), free(orig), free(scratch);
}

int main(void) {
    icstr_set_threads(1);
    icstr_model *m = tiny_pool_model(3);
    const icstr_model_config *c = icstr_model_get_config(m);
    size_t img = (size_t)3 * c->img_h * c->img_w;
    float *images = malloc(NQ * img * sizeof *images);
    icstr_rng r;
    icstr_rng_seed(&r, 7);
    for (size_t i = 0; i < NQ * img; i++) images[i] = 2.0f * icstr_rng_uniform(&r) - 1.0f;
    test_frames(m, images, NQ);
    test_joint(m, images);
    test_glyph_mix(m, images);
    free(images);
    icstr_model_free(m);
    return check_finish("test_ctc_joint");
}
