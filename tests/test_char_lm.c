/* The character language model (char_lm.h) and its fusion into greedy decoding, on a tiny
 * random model whose charset has upper-case letters, a space and a hyphen:
 *  - every distribution against a reference computed here from the label strings themselves
 *    (counts by scanning the start-padded cleaned labels, Witten-Bell by its formula), for
 *    several orders and histories, and it sums to 1 over the letters, digits and the end;
 *  - a whole text's score against the same reference;
 *  - folding: 'A' scores as 'a', an upper-case history as its lower case; skipping: a space or
 *    hyphen in the history changes nothing, and scores as the likeliest symbol;
 *  - the class model generalises: after "abc" of "abc123"-like labels an unseen digit is far
 *    likelier than an unseen letter;
 *  - fusion (a charset of letters and digits): weight 0 decodes exactly as without the model; a
 *    heavy weight makes every crop read the one label the model was given, with the decoder's own confidence
 *    (icstr_model_score); beam search with a model and a negative weight are refused. */
#include "char_lm.h"
#include "char_lm_fixtures.h"
#include "check.h"
#include "tiny_pool_model.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define CHARS "abcdefghijklmnopqrstuvwxyz0123456789ABC -"
enum { NQ = 5, CAP = 64, PAD = 5 };

/* ---- the reference: strings over [a-z0-9], '$' the end, '^' the start ---- */

static void clean(const char *s, char *out) {
    int n = 0;
    for (; *s; s++)
        if (isalnum((unsigned char)*s)) out[n++] = (char)tolower((unsigned char)*s);
    out[n] = 0;
}

static char class_of(char c) { return c == '^' ? '^' : c == '$' ? '$' : isdigit((unsigned char)c) ? 'D' : 'L'; }

/* padded[kind]: "^^^^^" + cleaned label + "$", as characters (kind 0) or classes (kind 1) */
static void padded(const char *label, int kind, char *out) {
    char c[CAP];
    clean(label, c);
    int n = 0;
    for (int j = 0; j < PAD; j++) out[n++] = '^';
    for (const char *p = c; *p; p++) out[n++] = kind ? class_of(*p) : *p;
    out[n++] = '$';
    out[n] = 0;
}

/* Witten-Bell level: p (over symbols syms) becomes the distribution after ctx (k symbols) */
static void ref_level(const char **labels, int n, int kind, const char *ctx, int k, const char *syms, double *p) {
    int ns = (int)strlen(syms), N = 0, cnt[64] = {0};
    for (int i = 0; i < n; i++) {
        char s[CAP];
        padded(labels[i], kind, s);
        for (int j = PAD; s[j]; j++)
            if (!strncmp(s + j - k, ctx, (size_t)k)) {
                N++;
                cnt[strchr(syms, s[j]) - syms]++;
            }
    }
    if (!N) return;
    int T = 0;
    for (int s = 0; s < ns; s++) T += cnt[s] > 0;
    for (int s = 0; s < ns; s++) p[s] = (cnt[s] + T * p[s]) / (double)(N + T);
}

static const char SYMS[] = "abcdefghijklmnopqrstuvwxyz0123456789$";

/* p over SYMS after the history (a raw string, as decoded) */
static void ref_next(const char **labels, int n, int order, int class_order, const char *hist, double *p) {
    char h[CAP + PAD + 1], hc[CAP + PAD + 1], c[CAP];
    clean(hist, c);
    snprintf(h, sizeof h, "^^^^^%s", c);
    int hl = (int)strlen(h);
    for (int j = 0; j < hl; j++) hc[j] = class_of(h[j]);
    hc[hl] = 0;
    double pc[3] = {1.0 / 3, 1.0 / 3, 1.0 / 3};
    for (int k = 0; k < class_order; k++) ref_level(labels, n, 1, hc + hl - k, k, "LD$", pc);
    /* within a class: add-one over the unigram counts */
    int cnt[37] = {0}, tot[3] = {0};
    for (int i = 0; i < n; i++) {
        char s[CAP];
        padded(labels[i], 0, s);
        for (int j = PAD; s[j]; j++) cnt[strchr(SYMS, s[j]) - SYMS]++;
    }
    for (int s = 0; s < 37; s++) tot[s < 26 ? 0 : s < 36 ? 1 : 2] += cnt[s];
    for (int s = 0; s < 37; s++) {
        int k = s < 26 ? 0 : s < 36 ? 1 : 2, size = k == 0 ? 26 : k == 1 ? 10 : 1;
        p[s] = pc[k] * (cnt[s] + 1.0) / (tot[k] + size);
    }
    for (int k = 0; k < order; k++) ref_level(labels, n, 0, h + hl - k, k, SYMS, p);
}

/* ---- helpers ---- */

static int tok_of(icstr_model *m, char ch) {
    char s[2] = {ch, 0};
    int t, n;
    CHECK(icstr_model_encode_label(m, s, &t, &n) == ICSTR_OK && n == 1);
    return t;
}

static icstr_char_lm *lm_of(icstr_model *m, const char **labels, int n, int order, int class_order) {
    icstr_char_lm_params p = {order, class_order};
    return char_lm_of_labels(m, &p, labels, n);
}

static void next_of(icstr_model *m, const icstr_char_lm *lm, const char *hist, double *lp) {
    int tok[CAP], len = 0;
    if (*hist) CHECK(icstr_model_encode_label(m, hist, tok, &len) == ICSTR_OK);
    icstr_char_lm_next(lm, tok, len, lp);
}

static void test_against_reference(icstr_model *m) {
    static const char *labels[] = {"AB-12", "abc123", "a1 b2", "CAB", "cab42", "ab12"};
    static const char *hists[] = {"", "a", "AB", "ab-1", "c", "zz9", "abc12"};
    static const int orders[][2] = {{1, 1}, {2, 3}, {3, 5}, {6, 6}};
    icstr_vocab_info v = icstr_model_vocab(m);
    double lp[ICSTR_CHARSET_MAX + 3], ref[37];
    for (int o = 0; o < 4; o++) {
        icstr_char_lm *lm = lm_of(m, labels, 6, orders[o][0], orders[o][1]);
        if (!lm) continue;
        for (int h = 0; h < 7; h++) {
            next_of(m, lm, hists[h], lp);
            ref_next(labels, 6, orders[o][0], orders[o][1], hists[h], ref);
            double sum = 0.0, worst = 0.0;
            for (int s = 0; s < 37; s++) {
                double got = s < 36 ? lp[tok_of(m, SYMS[s])] : lp[v.eoc];
                sum += exp(got);
                double d = fabs(got - log(ref[s]));
                if (d > worst) worst = d;
            }
            CHECK_MSG(worst < 1e-9, "orders %d/%d, history '%s': %.3g off the reference", orders[o][0],
                      orders[o][1], hists[h], worst);
            CHECK_NEAR(sum, 1.0, 1e-9);
            CHECK(lp[tok_of(m, 'A')] == lp[tok_of(m, 'a')] && lp[tok_of(m, 'C')] == lp[tok_of(m, 'c')]);
            double top = -HUGE_VAL;
            for (int s = 0; s < 37; s++) {
                double got = s < 36 ? lp[tok_of(m, SYMS[s])] : lp[v.eoc];
                if (got > top) top = got;
            }
            CHECK(lp[tok_of(m, ' ')] == top && lp[tok_of(m, '-')] == top);
            CHECK(lp[v.bos] == -HUGE_VAL && lp[v.pad] == -HUGE_VAL);
        }
        /* a whole text's score: its letters and digits and its end, '-' and ' ' skipped */
        {
            const char *text = "Ab-1 c";
            double want = 0.0, r[37];
            char cl[CAP], h[CAP];
            clean(text, cl);
            for (int j = 0; j <= (int)strlen(cl); j++) {
                snprintf(h, sizeof h, "%.*s", j, cl);
                ref_next(labels, 6, orders[o][0], orders[o][1], h, r);
                want += log(r[cl[j] ? strchr(SYMS, cl[j]) - SYMS : 36]);
            }
            int tok[CAP], len;
            CHECK(icstr_model_encode_label(m, text, tok, &len) == ICSTR_OK);
            CHECK_NEAR(icstr_char_lm_score(lm, tok, len), want, 1e-9);
        }
        /* folded and skipped histories */
        double a[ICSTR_CHARSET_MAX + 3], b[ICSTR_CHARSET_MAX + 3];
        next_of(m, lm, "AB-1", a);
        next_of(m, lm, "ab1", b);
        CHECK(!memcmp(a, b, (size_t)v.vocab * sizeof *a));
        next_of(m, lm, "C A", a);
        next_of(m, lm, "ca", b);
        CHECK(!memcmp(a, b, (size_t)v.vocab * sizeof *a));
        icstr_char_lm_free(lm);
    }
    /* an empty model: the classes uniform, add-one within them */
    icstr_char_lm *lm = lm_of(m, NULL, 0, 3, 5);
    if (lm) {
        next_of(m, lm, "ab", lp);
        CHECK_NEAR(exp(lp[tok_of(m, 'q')]), 1.0 / 3 / 26, 1e-12);
        CHECK_NEAR(exp(lp[tok_of(m, '7')]), 1.0 / 3 / 10, 1e-12);
        CHECK_NEAR(exp(lp[v.eoc]), 1.0 / 3, 1e-12);
        icstr_char_lm_free(lm);
    }
}

static void test_classes(icstr_model *m) {
    static const char *labels[] = {"abc123", "xyz789", "kmn456", "pqr001"};
    icstr_char_lm *lm = lm_of(m, labels, 4, 3, 5);
    if (!lm) return;
    double lp[ICSTR_CHARSET_MAX + 3];
    next_of(m, lm, "def", lp); /* a history never seen: the classes say a digit comes next */
    CHECK_MSG(lp[tok_of(m, '3')] > lp[tok_of(m, 'g')] + 2.0, "digit %g, letter %g", lp[tok_of(m, '3')],
              lp[tok_of(m, 'g')]);
    next_of(m, lm, "def123", lp); /* and then the end */
    CHECK(lp[icstr_model_vocab(m).eoc] > lp[tok_of(m, '4')] + 1.0);
    int bad[2] = {0, icstr_model_vocab(m).eoc};
    CHECK(icstr_char_lm_add(lm, bad, 2) == ICSTR_ERR_ARG);
    CHECK(icstr_char_lm_labels(lm) == 4);
    icstr_char_lm_free(lm);
    icstr_char_lm_params p = {7, 3};
    CHECK(icstr_char_lm_create(m, &p, &lm) == ICSTR_ERR_ARG && !lm);
    icstr_clear_error();
}

static void decode(icstr_model *m, const float *lat, const icstr_decode_params *dp, char out[][CAP], float *conf) {
    char *t[NQ];
    for (int i = 0; i < NQ; i++) t[i] = out[i];
    CHECK(icstr_model_decode(m, lat, NQ, NULL, dp, t, CAP, conf) == ICSTR_OK);
}

static void test_fusion(icstr_model *m) {
    const icstr_model_config *c = icstr_model_get_config(m);
    size_t per = (size_t)c->latents * c->dec_dim;
    float *lat = random_latents(m, NQ, 7);
    static const char *one[] = {"q7x", "q7x", "q7x"};
    icstr_char_lm *lm = lm_of(m, one, 3, 3, 5);
    char plain[NQ][CAP], fused[NQ][CAP];
    float pc[NQ], fc[NQ];
    icstr_decode_params dp = icstr_decode_default_params();
    decode(m, lat, &dp, plain, pc);
    dp.lm = lm;
    dp.lm_weight = 0.0f;
    decode(m, lat, &dp, fused, fc);
    for (int i = 0; i < NQ; i++) CHECK(!strcmp(plain[i], fused[i]) && pc[i] == fc[i]);
    int differs = 0;
    for (int i = 0; i < NQ; i++) differs += strcmp(plain[i], "q7x") != 0;
    CHECK(differs > 0); /* the random model does not read it by itself */
    dp.lm_weight = 50.0f;
    decode(m, lat, &dp, fused, fc);
    int tok[CAP], len;
    CHECK(icstr_model_encode_label(m, "q7x", tok, &len) == ICSTR_OK);
    for (int i = 0; i < NQ; i++) {
        CHECK_MSG(!strcmp(fused[i], "q7x"), "crop %d read '%s'", i, fused[i]);
        double lp;
        CHECK(icstr_model_score(m, lat + i * per, 1, NULL, tok, &len, 0, &lp) == ICSTR_OK);
        CHECK_NEAR(fc[i], exp(lp), 1e-6 * exp(lp));
    }
    dp.beam = 2;
    char *t[NQ];
    for (int i = 0; i < NQ; i++) t[i] = fused[i];
    CHECK(icstr_model_decode(m, lat, NQ, NULL, &dp, t, CAP, fc) == ICSTR_ERR_ARG);
    dp.beam = 1;
    dp.lm_weight = -1.0f;
    CHECK(icstr_model_decode(m, lat, NQ, NULL, &dp, t, CAP, fc) == ICSTR_ERR_ARG);
    icstr_clear_error();
    icstr_char_lm_free(lm);
    free(lat);
}

int main(void) {
    icstr_model *m = tiny_model_with_chars(11, CHARS);
    test_against_reference(m);
    test_classes(m);
    icstr_model_free(m);
    m = tiny_pool_model(11); /* letters and digits only: a skipped character costs the model nothing,
                                so a heavy weight would let the decoder's own choice of one win */
    test_fusion(m);
    icstr_model_free(m);
    return check_finish("test_char_lm");
}
