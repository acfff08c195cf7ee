/* Whole-model gradient check: the gradients of icstr_model_train_step (encoder with conv stem or
 * plain patches, CTC head, resampler, decoder over interleaved prompt chunks with padding) against
 * central finite differences of the loss, on tiny configs, for a sample of parameters that covers
 * every tensor. Also: train_step and icstr_model_loss agree on the loss, gradients accumulate,
 * and with dropout the gradient matches finite differences taken under the same dropout masks.
 * model.prompt_similarity: the bands of prompt-to-query cosines, the gradient of dec.sim_emb (the
 * batch has a prompt that is the query's own image), and zero bands computing what the model
 * without them computes. model.glyph_labels: where each prompt label row's glyph is taken from,
 * the gradient of dec.glyph_w and into the prompt's latents, zero glyph rows computing what the
 * model without them computes. model.key_weight: the retrieval-key loss against a reference from the
 * pool's embeddings, and its gradient. */
#include "check.h"
#include "model_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static icstr_model_config tiny_config(int stem, int layers, float dropout) {
    icstr_model_config c = icstr_model_default_config();
    c.img_h = 8;
    c.img_w = 16;
    c.stem = stem;
    c.patch_h = 4;
    c.patch_w = 4;
    c.stem_channels = 4;
    c.enc_dim = 8;
    c.enc_layers = layers;
    c.enc_heads = 2;
    c.enc_mlp = 12;
    c.latents = 2;
    c.resampler_layers = 1;
    c.dec_dim = 8;
    c.dec_layers = layers;
    c.dec_heads = 2;
    c.dec_mlp = 12;
    c.max_label = 4;
    c.max_prompts = 2;
    strcpy(c.charset, "abc");
    c.ctc_weight = 0.5f;
    c.label_smoothing = 0.1f;
    c.dropout = dropout;
    return c;
}

/* 3 sequences: a plain query; two prompts + query (one image used twice, one prompt without
 * loss, an empty label); one prompt + query. Lengths differ, so sequences are padded. */
enum { NB = 3, NCH = 3, NIMG = 6, ML = 4 };
static float images[NIMG * 3 * 8 * 16];
static const int chunk_image[NB * NCH] = {0, -1, -1, 1, 2, 1, 3, 4, -1};
static const int chunk_len[NB * NCH] = {2, 0, 0, 3, 0, 4, 1, 2, 0};
static const int chunk_label[NB * NCH * ML] = {
    0, 1, 2, 2, /* "ab" */ 2, 2, 2, 2, 2, 2, 2, 2,
    2, 0, 1, 2, /* "cab" */ 2, 2, 2, 2, /* "" */ 2, 0, 1, 1, /* "cabb" */
    1, 2, 2, 2, /* "b" */ 0, 0, 2, 2, /* "aa" */ 2, 2, 2, 2,
};
static const int n_chunks[NB] = {1, 3, 2};
/* seq2's "aa" is a copy-task label (cross-entropy only): image 4 has no CTC target */
static const uint8_t loss_on[NB * NCH] = {1, 0, 0, 0, 1, 1, 1, ICSTR_LOSS_TEXT, 0};

/* A batch of B sequences over the NIMG test images. */
static icstr_batch batch_of(int B, int max_chunks, const int *n_chunks_of, const int *image, const int *label,
                            const int *len, const uint8_t *loss) {
    icstr_batch b;
    memset(&b, 0, sizeof b);
    b.B = B;
    b.images = images;
    b.n_images = NIMG;
    b.chunk_image = image;
    b.chunk_label = label;
    b.chunk_len = len;
    b.n_chunks = n_chunks_of;
    b.max_chunks = max_chunks;
    b.loss_on = loss;
    return b;
}

static icstr_batch make_batch(void) { return batch_of(NB, NCH, n_chunks, chunk_image, chunk_label, chunk_len, loss_on); }

/* The loss the gradient belongs to: train_step with a fixed dropout seed (the masks are then the
 * same on every call), its gradient output discarded. */
static double eval_loss(icstr_model *m, const icstr_batch *b, uint64_t drop_seed) {
    icstr_rng r;
    icstr_rng_seed(&r, drop_seed);
    icstr_loss_info info;
    int rc = icstr_model_train_step(m, b, &r, &info);
    CHECK(rc == ICSTR_OK);
    return info.loss;
}

/* Central difference with Richardson extrapolation (cancels the h^2 term). The loss comes back as
 * a float (one ulp of a loss near 5 is 5e-7), so the step is large and the h^4 error small. */
static double fd_grad(icstr_model *m, const icstr_batch *b, float *w, uint64_t seed) {
    const float h = 0.04f;
    float keep = *w;
    double g[2];
    for (int k = 0; k < 2; k++) {
        float hk = k ? h / 2 : h;
        *w = keep + hk;
        double lp = eval_loss(m, b, seed);
        *w = keep - hk;
        double lm = eval_loss(m, b, seed);
        /* the step actually taken in float */
        g[k] = (lp - lm) / ((double)(keep + hk) - (double)(keep - hk));
    }
    *w = keep;
    return (4.0 * g[1] - g[0]) / 3.0;
}

/* Backprop gradients g1 of batch b against finite differences for per_tensor random entries
 * of every tensor (the similarity bands: the top band's row, the one the batches use). */
static void check_sampled(icstr_model *m, const icstr_batch *b, const float *g1, int per_tensor, icstr_rng *r,
                          const char *what) {
    icstr_slab *s = icstr_model_slab(m);
    const icstr_model_config *cfg = icstr_model_get_config(m);
    int checked = 0, bad = 0, sizeable = 0;
    double worst = 0.0;
    for (int t = 0; t < s->count; t++) {
        const icstr_param *p = &s->params[t];
        int tensor_bad = 0;
        for (int k = 0; k < per_tensor && k < (int)p->numel; k++) {
            size_t i = p->offset + (p->numel <= (size_t)per_tensor ? (size_t)k
                                                                   : icstr_rng_below(r, (uint32_t)p->numel));
            if (!strcmp(p->name, "dec.sim_emb"))
                i = p->offset + (size_t)(ICSTR_SIM_BANDS - 1) * cfg->dec_dim + (size_t)k % (size_t)cfg->dec_dim;
            double ga = g1[i];
            double gn = fd_grad(m, b, &s->data[i], 5);
            /* 1% relative, or 1e-4 absolute for gradients near 0 (the float loss's noise after
             * the difference is about 2e-5) */
            double err = fabs(ga - gn) / (1e-2 * fmax(fabs(ga), fabs(gn)) + 1e-4);
            if (err > worst) worst = err;
            checked++;
            sizeable += fabs(gn) > 1e-2;
            if (err > 1.0) {
                bad++;
                if (tensor_bad++ < 2)
                    fprintf(stderr, "%s: %s[%zu]: backprop %.6g, finite difference %.6g\n", what,
                            p->name, i - p->offset, ga, gn);
            }
        }
    }
    printf("%s: %d parameters in %d tensors, %d with |grad| > 1e-2, worst error %.3g of tolerance\n",
           what, checked, s->count, sizeable, worst);
    CHECK_MSG(bad == 0, "%s: %d of %d gradients wrong", what, bad, checked);
    /* the check must not be vacuous */
    CHECK_MSG(sizeable > checked / 2, "%s: only %d of %d gradients are sizeable", what, sizeable,
              checked);
}

static void check_config(const icstr_model_config *cfg, int per_tensor, uint64_t seed,
                         const char *what) {
    icstr_model *m = NULL;
    int rc = icstr_model_create(cfg, 1, &m);
    CHECK_MSG(rc == ICSTR_OK, "%s: create: %s", what, icstr_last_error());
    if (rc) return;
    icstr_slab *s = icstr_model_slab(m);
    icstr_model_init_weights(m, seed);
    /* larger weights than the init so every path carries a sizeable gradient */
    icstr_rng r;
    icstr_rng_seed(&r, seed + 100);
    for (size_t i = 0; i < s->total; i++) s->data[i] += 0.3f * icstr_rng_normal(&r);
    icstr_batch b = make_batch();

    /* loss agrees between train_step and the forward-only loss (dropout off) */
    icstr_slab_zero_grad(s);
    icstr_loss_info li, lt;
    icstr_rng dr;
    icstr_rng_seed(&dr, 5);
    CHECK(icstr_model_train_step(m, &b, &dr, &lt) == ICSTR_OK);
    CHECK(icstr_model_loss(m, &b, &li) == ICSTR_OK);
    if (cfg->dropout == 0.0f) {
        CHECK_MSG(li.loss == lt.loss && li.ce == lt.ce && li.ctc == lt.ctc,
                  "%s: loss %.9g vs train_step %.9g", what, li.loss, lt.loss);
    }
    /* tokens with loss (label + EOC): seq0 "ab" 3; seq1 "cab" loss off, "" 1, "cabb" 5;
     * seq2 "b" 2, "aa" 3 */
    CHECK_MSG(lt.tokens == 3 + 1 + 5 + 2 + 3, "%s: %d tokens", what, lt.tokens);
    CHECK(lt.ce > 0.0f && lt.ctc > 0.0f);
    CHECK_NEAR(lt.loss, lt.ce + cfg->ctc_weight * lt.ctc, 1e-6);
    /* ICSTR_LOSS_TEXT takes the label out of CTC only: marked ICSTR_LOSS_ALL, the same chunk
     * gives the same cross-entropy and another CTC loss */
    uint8_t all_on[NB * NCH];
    memcpy(all_on, loss_on, sizeof all_on);
    all_on[7] = ICSTR_LOSS_ALL;
    icstr_batch ball = b;
    ball.loss_on = all_on;
    icstr_loss_info la;
    CHECK(icstr_model_loss(m, &ball, &la) == ICSTR_OK);
    CHECK_MSG(la.ce == li.ce && la.ctc != li.ctc, "%s: ce %g/%g ctc %g/%g", what, la.ce, li.ce, la.ctc, li.ctc);

    /* gradients accumulate: a second step doubles them */
    float *g1 = malloc(s->total * sizeof(float));
    memcpy(g1, s->grad, s->total * sizeof(float));
    icstr_rng_seed(&dr, 5);
    CHECK(icstr_model_train_step(m, &b, &dr, &lt) == ICSTR_OK);
    int doubled = 1;
    for (size_t i = 0; i < s->total; i++)
        if (fabsf(s->grad[i] - 2.0f * g1[i]) > 1e-6f * (1.0f + fabsf(g1[i]))) doubled = 0;
    CHECK_MSG(doubled, "%s: gradients do not accumulate", what);

    check_sampled(m, &b, g1, per_tensor, &r, what);
    free(g1);
    icstr_model_free(m);
}

/* The similarity bands: a prompt's band comes from the cosine of its mean latents with the
 * query's, against ICSTR_SIM_EDGES; queries and models without the bands get none. */
static void check_bands(void) {
    icstr_model_config c = tiny_config(1, 1, 0.0f);
    c.prompt_similarity = 1;
    icstr_model *m = NULL;
    CHECK(icstr_model_create(&c, 0, &m) == ICSTR_OK);
    if (!m) return;
    enum { M = 2, D = 8 };
    /* query: mean latent e0; prompts: mean latent cos(t) e0 + sin(t) e1 for chosen cosines */
    static const float cosines[] = {1.0f, 0.99995f, 0.9995f, 0.997f, 0.992f, 0.98f, 0.0f, -1.0f};
    static const int bands[] = {3, 3, 2, 1, 0, -1, -1, -1};
    float q[M * D] = {0}, p[M * D];
    q[0] = 1.0f;
    q[D + 0] = 1.0f; /* both latents e0: mean e0 */
    dec_chunk query = {q, -1, NULL, 0, 0, 1, 0};
    for (size_t k = 0; k < sizeof cosines / sizeof *cosines; k++) {
        float cs = cosines[k], sn = sqrtf(fmaxf(0.0f, 1.0f - cs * cs));
        memset(p, 0, sizeof p);
        /* latents that differ from each other but average to the wanted direction */
        p[0] = 2.0f * cs;
        p[1] = 2.0f * sn + 0.5f;
        p[D + 1] = -0.5f;
        dec_chunk prompt = {p, -1, NULL, 0, 1, 0, 0};
        int b = icstr_model_prompt_band_(m, &prompt, &query);
        CHECK_MSG(b == bands[k], "cosine %.5f: band %d, want %d", cs, b, bands[k]);
    }
    /* the same latents scaled: cosine 1, the top band; the query itself: none */
    for (int i = 0; i < M * D; i++) p[i] = 3.0f * q[i];
    dec_chunk same = {p, -1, NULL, 0, 1, 0, 0};
    CHECK(icstr_model_prompt_band_(m, &same, &query) == ICSTR_SIM_BANDS - 1);
    CHECK(icstr_model_prompt_band_(m, &query, &query) == -1);
    icstr_model_free(m);
    c.prompt_similarity = 0;
    CHECK(icstr_model_create(&c, 0, &m) == ICSTR_OK);
    CHECK(icstr_model_prompt_band_(m, &same, &query) == -1);
    icstr_model_free(m);
}

/* A tensor that starts at zero (the similarity bands, the glyph rows) computes what the model
 * without it computes: same loss to the bit, same gradient on every shared tensor; its entries
 * [grad_from, grad_from + grad_n) get a gradient, and made non-zero it changes the loss. c1 is
 * c0 with the tensor's switch on. */
static void check_starts_neutral(icstr_model_config c0, icstr_model_config c1, const char *tensor,
                                 size_t grad_from, size_t grad_n) {
    icstr_model *a = NULL, *b = NULL;
    CHECK(icstr_model_create(&c0, 1, &a) == ICSTR_OK && icstr_model_create(&c1, 1, &b) == ICSTR_OK);
    if (!a || !b) return;
    icstr_model_init_weights(a, 7);
    icstr_model_init_weights(b, 7);
    icstr_slab *sa = icstr_model_slab(a), *sb = icstr_model_slab(b);
    CHECK(sb->count == sa->count + 1);
    icstr_batch bt = make_batch();
    icstr_loss_info la, lb;
    icstr_slab_zero_grad(sa);
    icstr_slab_zero_grad(sb);
    CHECK(icstr_model_train_step(a, &bt, NULL, &la) == ICSTR_OK);
    CHECK(icstr_model_train_step(b, &bt, NULL, &lb) == ICSTR_OK);
    CHECK_MSG(la.loss == lb.loss, "zero %s: loss %.9g, without it %.9g", tensor, lb.loss, la.loss);
    int same_grad = 1, found = 0;
    for (int t = 0; t < sb->count; t++) {
        const icstr_param *pb = &sb->params[t];
        if (!strcmp(pb->name, tensor)) {
            found = 1;
            /* the entries that must have a gradient (the bands: the top band's row, the prompt
             * that is the query's image) */
            double g = 0.0;
            CHECK(grad_from + grad_n <= pb->numel);
            for (size_t i = grad_from; i < grad_from + grad_n && i < pb->numel; i++) g += fabs(sb->grad[pb->offset + i]);
            CHECK_MSG(g > 0.0, "%s: no gradient on entries %zu..%zu", tensor, grad_from, grad_from + grad_n - 1);
            /* made non-zero, it changes what the decoder computes (not a constant vector:
             * the layer norms would take it out) */
            for (size_t i = 0; i < pb->numel; i++) sb->data[pb->offset + i] = 0.25f * (float)((int)(i % 5) - 2);
            continue;
        }
        const icstr_param *pa = NULL;
        for (int u = 0; u < sa->count && !pa; u++)
            if (!strcmp(sa->params[u].name, pb->name)) pa = &sa->params[u];
        if (!pa) {
            same_grad = 0;
            continue;
        }
        for (size_t i = 0; i < pb->numel; i++)
            if (sa->grad[pa->offset + i] != sb->grad[pb->offset + i]) same_grad = 0;
    }
    CHECK_MSG(found, "no tensor %s", tensor);
    CHECK_MSG(same_grad, "zero %s: the shared tensors' gradients differ", tensor);
    CHECK(icstr_model_loss(b, &bt, &lb) == ICSTR_OK);
    CHECK_MSG(lb.loss != la.loss, "%s non-zero: loss unchanged (%.9g)", tensor, lb.loss);
    icstr_model_free(a);
    icstr_model_free(b);
}

/* model.glyph_labels: with glyph_w = I (model.glyph_init 1), a prompt label row's input is the plain row plus the
 * latents interpolated at (j + 0.5) M / n - 0.5 (clamped to [0, M - 1]); BOS, EOC, latent rows
 * and the query's label rows get nothing. Latent i of the prompt is i e0 + e1, so the glyph's
 * first entry is its position and its second is 1. */
static void check_glyph_rows(void) {
    icstr_model_config c = tiny_config(1, 1, 0.0f);
    c.latents = 4;
    c.glyph_labels = 1;
    c.glyph_init = 1.0f;
    icstr_model *m = NULL, *plain = NULL;
    icstr_model_config c0 = c;
    c0.glyph_labels = 0;
    CHECK(icstr_model_create(&c, 0, &m) == ICSTR_OK && icstr_model_create(&c0, 0, &plain) == ICSTR_OK);
    if (!m || !plain) return;
    icstr_model_init_weights(m, 3);
    icstr_model_init_weights(plain, 3);
    enum { M = 4, D = 8 };
    const float *W = mp(m, m->glyph_w);
    int identity = 1;
    for (int i = 0; i < D * D; i++) identity &= W[i] == (i % (D + 1) == 0 ? 1.0f : 0.0f);
    CHECK_MSG(identity, "model.glyph_init 1: dec.glyph_w is not the identity");
    float lat[M * D] = {0}, qlat[M * D] = {0};
    for (int i = 0; i < M; i++) {
        lat[i * D + 0] = (float)i;
        lat[i * D + 1] = 1.0f;
        qlat[i * D + 2] = 1.0f;
    }
    static const int label[3] = {0, 1, 2}, qlabel[2] = {2, 0};
    dec_chunk ch[2] = {{lat, -1, label, 3, 1, 0, 0}, {qlat, -1, qlabel, 2, 0, 1, 0}};
    int seq_start[2] = {0, 2}, T0, T1;
    int V = m->voc.vocab;
    float *logits = malloc((size_t)64 * V * sizeof(float));
    CHECK(icstr_model_decoder_logits_(plain, ch, seq_start, 1, logits, &T0) == ICSTR_OK);
    CHECK(icstr_model_decoder_logits_(m, ch, seq_start, 1, logits, &T1) == ICSTR_OK);
    CHECK(T0 == T1 && T0 == 2 * M + 1 + 3 + 1 + 1 + 2);
    /* rows: prompt latents 0-3, BOS 4, "abc" 5-7, EOC 8; query latents 9-12, BOS 13, 14-15 */
    const float want_at[3] = {2.0f / 3.0f - 0.5f, 1.5f, 4.0f * 2.5f / 3.0f - 0.5f};
    for (int r = 0; r < T0; r++) {
        float d[D];
        for (int i = 0; i < D; i++) d[i] = m->d.x0[(size_t)r * D + i] - plain->d.x0[(size_t)r * D + i];
        int j = r - (M + 1);
        if (j >= 0 && j < 3) {
            CHECK_MSG(fabsf(d[0] - want_at[j]) < 1e-6f && fabsf(d[1] - 1.0f) < 1e-6f,
                      "label row %d: glyph at %g (%g), want %g", j, d[0], d[1], want_at[j]);
            for (int i = 2; i < D; i++) CHECK(fabsf(d[i]) < 1e-6f);
        } else {
            float mag = 0.0f;
            for (int i = 0; i < D; i++) mag += fabsf(d[i]);
            CHECK_MSG(mag == 0.0f, "row %d: changed by %g", r, mag);
        }
    }
    free(logits);
    icstr_model_free(m);
    icstr_model_free(plain);
}

/* Invalid configs and batches are refused with the right code, never crash. */
static void check_refusals(void) {
    icstr_model *m = NULL;
    icstr_model_config c = tiny_config(1, 1, 0.0f);
    c.enc_heads = 3;
    CHECK(icstr_model_create(&c, 1, &m) == ICSTR_ERR_CONFIG && m == NULL);
    c = tiny_config(1, 1, 0.0f);
    c.patch_w = 2; /* the conv stem needs multiples of 4 */
    CHECK(icstr_model_create(&c, 1, &m) == ICSTR_ERR_CONFIG);
    c = tiny_config(1, 1, 0.0f);
    strcpy(c.charset, "abca");
    CHECK(icstr_model_create(&c, 1, &m) == ICSTR_ERR_CONFIG);
    strcpy(c.charset, "ab\xc3");
    CHECK(icstr_model_create(&c, 1, &m) == ICSTR_ERR_CONFIG);
    c.charset[0] = '\0';
    CHECK(icstr_model_create(&c, 1, &m) == ICSTR_ERR_CONFIG);
    c = tiny_config(1, 1, 0.0f);
    c.label_smoothing = 1.0f;
    CHECK(icstr_model_create(&c, 1, &m) == ICSTR_ERR_CONFIG);

    c = tiny_config(1, 1, 0.0f);
    CHECK(icstr_model_create(&c, 1, &m) == ICSTR_OK);
    icstr_loss_info li;
    icstr_batch b = make_batch();
    int img[NB * NCH], len[NB * NCH], lab[NB * NCH * ML], nc[NB];
    memcpy(img, chunk_image, sizeof img);
    memcpy(len, chunk_len, sizeof len);
    memcpy(lab, chunk_label, sizeof lab);
    memcpy(nc, n_chunks, sizeof nc);
    b.chunk_image = img;
    b.chunk_len = len;
    b.chunk_label = lab;
    b.n_chunks = nc;
    img[3] = NIMG;
    CHECK(icstr_model_loss(m, &b, &li) == ICSTR_ERR_ARG);
    img[3] = 1;
    len[0] = ML + 1;
    CHECK(icstr_model_train_step(m, &b, NULL, &li) == ICSTR_ERR_ARG);
    len[0] = 2;
    lab[1] = 3; /* BOS is not a label character */
    CHECK(icstr_model_loss(m, &b, &li) == ICSTR_ERR_ARG);
    lab[1] = 1;
    nc[1] = NCH + 1;
    CHECK(icstr_model_loss(m, &b, &li) == ICSTR_ERR_ARG);
    nc[1] = 0;
    CHECK(icstr_model_loss(m, &b, &li) == ICSTR_ERR_ARG);
    nc[1] = 3;
    b.B = 0;
    CHECK(icstr_model_loss(m, &b, &li) == ICSTR_ERR_ARG);
    b.B = NB;
    CHECK(icstr_model_loss(m, &b, &li) == ICSTR_OK);
    icstr_model_free(m);
    /* no gradients, no train step */
    CHECK(icstr_model_create(&c, 0, &m) == ICSTR_OK);
    CHECK(icstr_model_train_step(m, &b, NULL, &li) == ICSTR_ERR_ARG);
    CHECK(icstr_model_loss(m, &b, &li) == ICSTR_OK);
    icstr_model_free(m);
    /* dropout needs an rng */
    c.dropout = 0.1f;
    CHECK(icstr_model_create(&c, 1, &m) == ICSTR_OK);
    CHECK(icstr_model_train_step(m, &b, NULL, &li) == ICSTR_ERR_ARG);
    icstr_model_free(m);
}

/* The retrieval-key loss (model.key_weight): its value against a reference computed here from
 * the pool's own embeddings (icstr_model_encode), and its gradient against finite differences.
 * Six plain sequences: "ab" twice, "ca" three times, and "ab" as a copy-task label
 * (ICSTR_LOSS_TEXT: not what the image shows, so not a key label). */
static void check_key_loss(void) {
    enum { KB = 6 };
    static const int kimg[KB] = {0, 1, 2, 3, 4, 5}, klen[KB] = {2, 2, 2, 2, 2, 2}, knc[KB] = {1, 1, 1, 1, 1, 1};
    static const int klab[KB * ML] = {0, 1, 2, 2, 0, 1, 2, 2, 2, 0, 2, 2, 2, 0, 2, 2, 2, 0, 2, 2, 0, 1, 2, 2};
    static const uint8_t kloss[KB] = {1, 1, 1, 1, 1, ICSTR_LOSS_TEXT};
    static const int kgroup[KB] = {0, 0, 1, 1, 1, -1};
    icstr_batch b = batch_of(KB, 1, knc, kimg, klab, klen, kloss);

    icstr_model_config c = tiny_config(1, 1, 0.0f);
    c.key_weight = 2.0f;
    c.key_temperature = 0.5f;
    icstr_model *m = NULL;
    CHECK(icstr_model_create(&c, 1, &m) == ICSTR_OK);
    if (!m) return;
    icstr_slab *s = icstr_model_slab(m);
    icstr_model_init_weights(m, 21);
    icstr_rng r;
    icstr_rng_seed(&r, 22);
    for (size_t i = 0; i < s->total; i++) s->data[i] += 0.3f * icstr_rng_normal(&r);

    /* the reference: supervised contrastive loss over the pool embeddings of images 0-4 */
    float emb[NIMG * 8];
    CHECK(icstr_model_encode(m, images, NIMG, NULL, emb) == ICSTR_OK);
    double ref = 0.0;
    int anchors = 0;
    for (int i = 0; i < KB; i++) {
        if (kgroup[i] < 0) continue;
        double z = 0.0, spos = 0.0;
        int pos = 0;
        for (int j = 0; j < KB; j++) {
            if (j == i || kgroup[j] < 0) continue;
            double dot = 0.0;
            for (int d = 0; d < 8; d++) dot += (double)emb[i * 8 + d] * emb[j * 8 + d];
            z += exp(dot / c.key_temperature);
            if (kgroup[j] == kgroup[i]) spos += dot / c.key_temperature, pos++;
        }
        ref += log(z) - spos / pos;
        anchors++;
    }
    ref /= anchors;
    icstr_loss_info li;
    CHECK(icstr_model_loss(m, &b, &li) == ICSTR_OK);
    CHECK_MSG(fabs(li.key - ref) < 1e-5 * (1.0 + fabs(ref)), "key loss %.7g, reference %.7g", li.key, ref);
    CHECK_NEAR(li.loss, li.ce + c.ctc_weight * li.ctc + c.key_weight * li.key, 1e-5);
    CHECK(li.key > 0.1f);

    /* the gradient, the key term included */
    icstr_slab_zero_grad(s);
    icstr_loss_info lt;
    CHECK(icstr_model_train_step(m, &b, NULL, &lt) == ICSTR_OK);
    CHECK(lt.loss == li.loss);
    float *g1 = malloc(s->total * sizeof(float));
    memcpy(g1, s->grad, s->total * sizeof(float));
    check_sampled(m, &b, g1, 4, &r, "key loss");

    /* without the term: no key loss, and the latents' gradient differs */
    icstr_model_free(m);
    c.key_weight = 0.0f;
    CHECK(icstr_model_create(&c, 1, &m) == ICSTR_OK);
    icstr_model_init_weights(m, 21);
    s = icstr_model_slab(m);
    icstr_rng_seed(&r, 22);
    for (size_t i = 0; i < s->total; i++) s->data[i] += 0.3f * icstr_rng_normal(&r);
    icstr_slab_zero_grad(s);
    CHECK(icstr_model_train_step(m, &b, NULL, &lt) == ICSTR_OK);
    CHECK(lt.key == 0.0f && lt.ce == li.ce && lt.ctc == li.ctc);
    int differ = 0;
    for (size_t i = 0; i < s->total; i++) differ += s->grad[i] != g1[i];
    CHECK_MSG(differ > 0, "key_weight 2 and 0 give the same gradient");
    free(g1);
    icstr_model_free(m);
}

int main(void) {
    icstr_set_threads(1);
    icstr_rng r;
    icstr_rng_seed(&r, 11);
    for (size_t i = 0; i < sizeof images / sizeof *images; i++) images[i] = icstr_rng_range(&r, -1, 1);

    check_refusals();
    icstr_model_config c1 = tiny_config(1, 1, 0.0f);
    check_config(&c1, 4, 1, "conv stem, 1 layer");
    icstr_model_config c2 = tiny_config(0, 2, 0.0f);
    check_config(&c2, 3, 2, "patch stem, 2 layers");
    icstr_model_config c3 = tiny_config(1, 1, 0.2f);
    check_config(&c3, 1, 3, "conv stem, dropout 0.2");
    check_bands();
    icstr_model_config neutral0 = tiny_config(1, 1, 0.0f), neutral1 = neutral0;
    neutral1.prompt_similarity = 1;
    size_t D0 = (size_t)neutral0.dec_dim;
    check_starts_neutral(neutral0, neutral1, "dec.sim_emb", (ICSTR_SIM_BANDS - 1) * D0, D0);
    neutral1 = neutral0;
    neutral1.glyph_labels = 1;
    check_starts_neutral(neutral0, neutral1, "dec.glyph_w", 0, D0 * D0);
    check_glyph_rows();
    icstr_model_config c4 = tiny_config(1, 1, 0.0f);
    c4.prompt_similarity = 1;
    check_config(&c4, 4, 4, "conv stem, 1 layer, similarity bands");
    icstr_model_config c5 = tiny_config(1, 1, 0.0f);
    c5.glyph_labels = 1;
    check_config(&c5, 6, 5, "conv stem, 1 layer, glyph rows");
    check_key_loss();
    return check_finish("test_model_grad");
}
