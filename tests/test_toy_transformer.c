/* End-to-end check of the ops: a tiny 2-layer pre-LN transformer (token + learned position
 * embeddings, 2 blocks of [LN, causal self-attention on a fused qkv projection, residual, LN,
 * MLP with GELU, residual], final LN, linear head) with its parameters in an icstr_slab, trained
 * with AdamW, warm-up + cosine and clipping to reverse a sequence: `x1..x6 SEP y1..y6` with
 * y = reversed x, loss only on the y positions. It must reach near-zero loss, decode fresh
 * sequences greedily without a mistake, and two runs with one seed must give the same losses
 * bit for bit. */
#include "check.h"
#include "icstr_core.h"

#include <stdlib.h>
#include <string.h>

enum {
    SYMBOLS = 10, SEP = SYMBOLS, V = SYMBOLS + 1, LEN = 6,
    T = 2 * LEN,          /* inputs x1..x6 SEP y1..y5; position t predicts token t + 1 */
    C = 32, H = 4, L = 2, F = 4 * C,
    B = 32, STEPS = 200, WARMUP = 20
};

/* parameter offsets in the slab */
typedef struct {
    size_t wte, wpe, lnfw, lnfb, headw, headb;
    size_t ln1w[L], ln1b[L], qkvw[L], qkvb[L], projw[L], projb[L];
    size_t ln2w[L], ln2b[L], fcw[L], fcb[L], fc2w[L], fc2b[L];
} offsets;

/* activations of one batch; each has a gradient twin of the same layout in `grads` */
typedef struct {
    float *x[L + 1];                   /* (B,T,C) residual stream entering block l, and out */
    float *ln1[L], *qkv[L], *atty[L], *xmid[L], *ln2[L], *fch[L], *gel[L], *tmp[L];
    float *att[L];                     /* (B,H,T,T) */
    float *lnf, *logits, *probs, *losses;
    float *mean1[L], *rstd1[L], *mean2[L], *rstd2[L], *meanf, *rstdf;
} acts;

typedef struct {
    icstr_slab slab;
    offsets o;
    float *act_mem, *grad_mem;
    size_t act_floats;
    acts a, d;
    uint8_t mask[B * T * T];
} toy;

static int declare(icstr_slab *s, const char *name, int64_t d0, int64_t d1, int decay, size_t *off) {
    int64_t shape[2] = {d0, d1};
    return icstr_slab_declare(s, name, d1 ? 2 : 1, shape, decay, off);
}

static int toy_build(toy *m, uint64_t seed) {
    memset(m, 0, sizeof *m);
    icstr_slab *s = &m->slab;
    icstr_slab_init(s);
    offsets *o = &m->o;
    int rc = declare(s, "wte", V, C, 1, &o->wte) || declare(s, "wpe", T, C, 1, &o->wpe);
    for (int l = 0; l < L && !rc; l++) {
        char n[64];
#define D(field, d0, d1, decay) \
    (snprintf(n, sizeof n, "h%d." #field, l), declare(s, n, d0, d1, decay, &o->field[l]))
        rc = D(ln1w, C, 0, 0) || D(ln1b, C, 0, 0) || D(qkvw, 3 * C, C, 1) || D(qkvb, 3 * C, 0, 0) ||
             D(projw, C, C, 1) || D(projb, C, 0, 0) || D(ln2w, C, 0, 0) || D(ln2b, C, 0, 0) ||
             D(fcw, F, C, 1) || D(fcb, F, 0, 0) || D(fc2w, C, F, 1) || D(fc2b, C, 0, 0);
#undef D
    }
    rc = rc || declare(s, "lnfw", C, 0, 0, &o->lnfw) || declare(s, "lnfb", C, 0, 0, &o->lnfb) ||
         declare(s, "headw", V, C, 1, &o->headw) || declare(s, "headb", V, 0, 0, &o->headb) ||
         icstr_slab_alloc(s, 1);
    if (rc) return 1;
    icstr_rng rng;
    icstr_rng_seed(&rng, seed);
    for (int p = 0; p < s->count; p++) {
        const icstr_param *pr = &s->params[p];
        float *w = s->data + pr->offset;
        int is_norm_weight = strstr(pr->name, "ln") && pr->name[strlen(pr->name) - 1] == 'w';
        for (size_t i = 0; i < pr->numel; i++)
            w[i] = is_norm_weight ? 1.0f : pr->ndim == 2 ? 0.1f * icstr_rng_normal(&rng) : 0.0f;
    }

    /* activations: carve one block twice (values and gradients) */
    size_t btc = (size_t)B * T * C, sizes[64], n = 0;
    float **slots[2][64];
    for (int which = 0; which < 2; which++) {
        acts *a = which ? &m->d : &m->a;
        int k = 0;
#define A(ptr, count) (slots[which][k] = &(ptr), sizes[k++] = (count))
        for (int l = 0; l <= L; l++) A(a->x[l], btc);
        for (int l = 0; l < L; l++) {
            A(a->ln1[l], btc), A(a->qkv[l], 3 * btc), A(a->atty[l], btc), A(a->xmid[l], btc);
            A(a->ln2[l], btc), A(a->fch[l], (size_t)B * T * F), A(a->gel[l], (size_t)B * T * F);
            A(a->tmp[l], btc), A(a->att[l], (size_t)B * H * T * T);
            A(a->mean1[l], B * T), A(a->rstd1[l], B * T), A(a->mean2[l], B * T), A(a->rstd2[l], B * T);
        }
        A(a->lnf, btc), A(a->logits, (size_t)B * T * V), A(a->probs, (size_t)B * T * V);
        A(a->losses, B * T), A(a->meanf, B * T), A(a->rstdf, B * T);
#undef A
        n = (size_t)k;
    }
    size_t total = 0;
    for (size_t k = 0; k < n; k++) total += (sizes[k] + 15) / 16 * 16;
    m->act_floats = total;
    m->act_mem = icstr_alloc(total, sizeof(float));
    m->grad_mem = icstr_alloc(total, sizeof(float));
    if (!m->act_mem || !m->grad_mem) return 1;
    for (int which = 0; which < 2; which++) {
        float *p = which ? m->grad_mem : m->act_mem;
        for (size_t k = 0; k < n; k++) {
            *slots[which][k] = p;
            p += (sizes[k] + 15) / 16 * 16;
        }
    }
    for (int b = 0; b < B; b++)
        for (int i = 0; i < T; i++)
            for (int j = 0; j < T; j++) m->mask[(b * T + i) * T + j] = j <= i;
    return 0;
}

static void toy_free(toy *m) {
    icstr_slab_free(&m->slab);
    icstr_free(m->act_mem);
    icstr_free(m->grad_mem);
}

/* Forward over (B,T) tokens; returns the mean loss over counted targets (0 if none). */
static float toy_forward(toy *m, const int *tokens, const int *targets) {
    const float *P = m->slab.data;
    const offsets *o = &m->o;
    acts *a = &m->a;
    int N = B * T;
    icstr_embedding_forward(a->x[0], tokens, P + o->wte, N, C);
    icstr_posemb_forward(a->x[0], a->x[0], P + o->wpe, B, T, C);
    for (int l = 0; l < L; l++) {
        icstr_layernorm_forward(a->ln1[l], a->mean1[l], a->rstd1[l], a->x[l], P + o->ln1w[l], P + o->ln1b[l], N, C);
        icstr_linear_forward(a->qkv[l], a->ln1[l], P + o->qkvw[l], P + o->qkvb[l], N, C, 3 * C);
        icstr_attention_forward_ld(a->atty[l], a->att[l], a->qkv[l], a->qkv[l] + C, a->qkv[l] + 2 * C, m->mask, B,
                                   T, T, C, H, 3 * C, 3 * C);
        icstr_linear_forward(a->tmp[l], a->atty[l], P + o->projw[l], P + o->projb[l], N, C, C);
        icstr_residual_forward(a->xmid[l], a->x[l], a->tmp[l], (size_t)N * C);
        icstr_layernorm_forward(a->ln2[l], a->mean2[l], a->rstd2[l], a->xmid[l], P + o->ln2w[l], P + o->ln2b[l], N, C);
        icstr_linear_forward(a->fch[l], a->ln2[l], P + o->fcw[l], P + o->fcb[l], N, C, F);
        icstr_gelu_forward(a->gel[l], a->fch[l], (size_t)N * F);
        icstr_linear_forward(a->tmp[l], a->gel[l], P + o->fc2w[l], P + o->fc2b[l], N, F, C);
        icstr_residual_forward(a->x[l + 1], a->xmid[l], a->tmp[l], (size_t)N * C);
    }
    icstr_layernorm_forward(a->lnf, a->meanf, a->rstdf, a->x[L], P + o->lnfw, P + o->lnfb, N, C);
    icstr_linear_forward(a->logits, a->lnf, P + o->headw, P + o->headb, N, C, V);
    if (!targets) return 0.0f;
    int count = icstr_crossentropy_forward(a->losses, a->probs, a->logits, targets, N, V, 0.0f, -1);
    double s = 0.0;
    for (int i = 0; i < N; i++) s += a->losses[i];
    return count ? (float)(s / count) : 0.0f;
}

static void toy_backward(toy *m, const int *tokens, const int *targets) {
    const float *P = m->slab.data;
    float *G = m->slab.grad;
    const offsets *o = &m->o;
    acts *a = &m->a, *d = &m->d;
    int N = B * T, count = 0;
    memset(m->grad_mem, 0, m->act_floats * sizeof(float));
    icstr_slab_zero_grad(&m->slab);
    for (int i = 0; i < N; i++) count += targets[i] >= 0;
    for (int i = 0; i < N; i++) d->losses[i] = count ? 1.0f / (float)count : 0.0f;
    icstr_crossentropy_backward(d->logits, d->losses, a->probs, targets, N, V, 0.0f, -1);
    icstr_linear_backward(d->lnf, G + o->headw, G + o->headb, d->logits, a->lnf, P + o->headw, N, C, V);
    icstr_layernorm_backward(d->x[L], G + o->lnfw, G + o->lnfb, d->lnf, a->x[L], P + o->lnfw, a->meanf, a->rstdf, N, C);
    for (int l = L - 1; l >= 0; l--) {
        icstr_residual_backward(d->xmid[l], d->tmp[l], d->x[l + 1], (size_t)N * C);
        icstr_linear_backward(d->gel[l], G + o->fc2w[l], G + o->fc2b[l], d->tmp[l], a->gel[l], P + o->fc2w[l], N, F, C);
        icstr_gelu_backward(d->fch[l], a->fch[l], d->gel[l], (size_t)N * F);
        icstr_linear_backward(d->ln2[l], G + o->fcw[l], G + o->fcb[l], d->fch[l], a->ln2[l], P + o->fcw[l], N, C, F);
        icstr_layernorm_backward(d->xmid[l], G + o->ln2w[l], G + o->ln2b[l], d->ln2[l], a->xmid[l], P + o->ln2w[l],
                                 a->mean2[l], a->rstd2[l], N, C);
        memset(d->tmp[l], 0, (size_t)N * C * sizeof(float));
        icstr_residual_backward(d->x[l], d->tmp[l], d->xmid[l], (size_t)N * C);
        icstr_linear_backward(d->atty[l], G + o->projw[l], G + o->projb[l], d->tmp[l], a->atty[l], P + o->projw[l], N,
                              C, C);
        icstr_attention_backward_ld(d->qkv[l], d->qkv[l] + C, d->qkv[l] + 2 * C, d->atty[l], a->att[l], a->qkv[l],
                                    a->qkv[l] + C, a->qkv[l] + 2 * C, B, T, T, C, H, 3 * C, 3 * C);
        icstr_linear_backward(d->ln1[l], G + o->qkvw[l], G + o->qkvb[l], d->qkv[l], a->ln1[l], P + o->qkvw[l], N, C,
                              3 * C);
        icstr_layernorm_backward(d->x[l], G + o->ln1w[l], G + o->ln1b[l], d->ln1[l], a->x[l], P + o->ln1w[l],
                                 a->mean1[l], a->rstd1[l], N, C);
    }
    icstr_posemb_backward(NULL, G + o->wpe, d->x[0], B, T, C);
    icstr_embedding_backward(G + o->wte, d->x[0], tokens, N, C);
}

/* A batch of fresh sequences: tokens (B,T) and targets (B,T), -1 where no loss. */
static void make_batch(icstr_rng *r, int *tokens, int *targets) {
    for (int b = 0; b < B; b++) {
        int x[LEN], *tk = tokens + b * T, *tg = targets + b * T;
        for (int i = 0; i < LEN; i++) x[i] = (int)icstr_rng_below(r, SYMBOLS);
        for (int i = 0; i < LEN; i++) tk[i] = x[i];
        tk[LEN] = SEP;
        for (int i = 0; i < LEN - 1; i++) tk[LEN + 1 + i] = x[LEN - 1 - i];
        for (int t = 0; t < T; t++) tg[t] = t >= LEN ? x[LEN - 1 - (t - LEN)] : -1;
    }
}

/* Trains from `seed`; writes the loss of every step. Returns nonzero if the model could not be
 * built. The model is left in *m for evaluation. */
static int train(toy *m, uint64_t seed, float *losses) {
    if (toy_build(m, seed)) return 1;
    icstr_rng data;
    icstr_rng_seed(&data, seed + 1);
    icstr_adamw_params ap = icstr_adamw_default_params();
    ap.weight_decay = 0.01f;
    static int tokens[B * T], targets[B * T];
    for (int step = 0; step < STEPS; step++) {
        make_batch(&data, tokens, targets);
        losses[step] = toy_forward(m, tokens, targets);
        toy_backward(m, tokens, targets);
        icstr_clip_grad_norm(&m->slab, 1.0f);
        float lr = icstr_lr_schedule(step, WARMUP, STEPS, 1e-2f, 1e-4f);
        icstr_adamw_step(&m->slab, &ap, lr, step + 1);
    }
    return icstr_ops_error();
}

/* Greedy decoding of fresh sequences: feed x1..x6 SEP, append the argmax one token at a time
 * (the causal mask makes the not-yet-filled positions irrelevant). Returns sequences right. */
static int greedy_correct(toy *m, icstr_rng *r, int batches, int *tokens_right) {
    static int tokens[B * T], targets[B * T];
    int right = 0;
    *tokens_right = 0;
    for (int it = 0; it < batches; it++) {
        make_batch(r, tokens, targets);
        int truth[B * LEN];
        for (int b = 0; b < B; b++) {
            for (int i = 0; i < LEN; i++) truth[b * LEN + i] = targets[b * T + LEN + i];
            for (int t = LEN + 1; t < T; t++) tokens[b * T + t] = 0; /* hide the answer */
        }
        int pred[B * LEN];
        for (int i = 0; i < LEN; i++) {
            toy_forward(m, tokens, NULL);
            for (int b = 0; b < B; b++) {
                const float *lg = m->a.logits + ((size_t)b * T + LEN + i) * V;
                int best = 0;
                for (int v = 1; v < V; v++) best = lg[v] > lg[best] ? v : best;
                pred[b * LEN + i] = best;
                if (LEN + 1 + i < T) tokens[b * T + LEN + 1 + i] = best;
            }
        }
        for (int b = 0; b < B; b++) {
            int ok = 1;
            for (int i = 0; i < LEN; i++) {
                ok &= pred[b * LEN + i] == truth[b * LEN + i];
                *tokens_right += pred[b * LEN + i] == truth[b * LEN + i];
            }
            right += ok;
        }
    }
    return right;
}

int main(void) {
    static float losses1[STEPS], losses2[STEPS];
    double t0 = icstr_now_seconds();
    toy m1, m2;
    CHECK(train(&m1, 42, losses1) == 0);
    double t1 = icstr_now_seconds();
    double tail = 0.0;
    for (int s = STEPS - 20; s < STEPS; s++) tail += losses1[s];
    tail /= 20;
    fprintf(stderr, "toy transformer: %zu parameters, %d steps in %.2f s; loss %.4f at step 0, %.4f at %d, "
            "%.5f mean of the last 20\n", m1.slab.total, STEPS, t1 - t0, losses1[0], losses1[STEPS / 2],
            STEPS / 2, tail);
    CHECK(losses1[0] > 2.0f); /* starts near log(10) */
    CHECK_MSG(tail < 0.05, "final mean loss %g", tail);

    icstr_rng fresh;
    icstr_rng_seed(&fresh, 987654321);
    int tok_right = 0, batches = 8;
    int right = greedy_correct(&m1, &fresh, batches, &tok_right);
    fprintf(stderr, "greedy decoding of %d fresh sequences: %d right (%d of %d tokens)\n", batches * B, right,
            tok_right, batches * B * LEN);
    CHECK(right == batches * B);

    CHECK(train(&m2, 42, losses2) == 0);
    CHECK_MSG(!memcmp(losses1, losses2, sizeof losses1), "two runs with one seed differ");
    CHECK(!memcmp(m1.slab.data, m2.slab.data, m1.slab.total * sizeof(float)));
    toy_free(&m1);
    toy_free(&m2);
    icstr_ops_free_scratch();
    return check_finish("test_toy_transformer");
}
