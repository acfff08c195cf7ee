/* icstr_model_score: the log-probability of a given text. Checked against greedy decoding (the
 * text it chose scores the log of its confidence, with and without prompts), against itself
 * (any_case never scores a text lower, and changes nothing for a text without letters), and its
 * refusals. The pool tests' tiny random model, with both cases of a few letters. */
#include "check.h"
#include "model.h"
#include "tiny_pool_model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { NQ = 8, CAP = 64 };

/* The greedy readings of NQ random latents score log(confidence), with ctx or without. */
static void test_matches_decode(icstr_model *m, const float *lat, const icstr_context *ctx) {
    const icstr_model_config *c = icstr_model_get_config(m);
    char buf[NQ][CAP], *texts[NQ];
    float conf[NQ];
    for (int i = 0; i < NQ; i++) texts[i] = buf[i];
    icstr_decode_params dp = icstr_decode_default_params();
    CHECK(icstr_model_decode(m, lat, NQ, ctx, &dp, texts, CAP, conf) == ICSTR_OK);
    int tok[NQ * 8], len[NQ], nonempty = 0;
    for (int i = 0; i < NQ; i++) {
        CHECK(icstr_model_encode_label(m, texts[i], tok + i * c->max_label, &len[i]) == ICSTR_OK);
        nonempty += len[i] > 0;
    }
    double lp[NQ];
    CHECK(icstr_model_score(m, lat, NQ, ctx, tok, len, 0, lp) == ICSTR_OK);
    int same = 1;
    for (int i = 0; i < NQ; i++) same &= fabs(lp[i] - log((double)conf[i])) <= 1e-4 * (1.0 + fabs(lp[i]));
    CHECK_MSG(same && nonempty > 0, "scores of the greedy readings (%s prompts): %d non-empty", ctx ? "with" : "no",
              nonempty);
}

/* the prompts reach the score: the same texts score otherwise without them */
static void test_context_counts(icstr_model *m, const float *lat, const icstr_context *ctx) {
    int tok[NQ * 8], len[NQ];
    for (int i = 0; i < NQ; i++) CHECK(icstr_model_encode_label(m, "ab0", tok + i * 8, &len[i]) == ICSTR_OK);
    double with[NQ], without[NQ];
    CHECK(icstr_model_score(m, lat, NQ, ctx, tok, len, 0, with) == ICSTR_OK);
    CHECK(icstr_model_score(m, lat, NQ, NULL, tok, len, 0, without) == ICSTR_OK);
    int differ = 0;
    for (int i = 0; i < NQ; i++) differ += fabs(with[i] - without[i]) > 1e-6;
    CHECK_MSG(differ == NQ, "prompts changed %d of %d scores", differ, NQ);
}

static void test_any_case(icstr_model *m, const float *lat) {
    const char *texts[NQ] = {"abc", "ABC", "aBcD", "0123", "12 :", "", "e", "E0a"};
    const icstr_model_config *c = icstr_model_get_config(m);
    int tok[NQ * 8], len[NQ];
    for (int i = 0; i < NQ; i++) CHECK(icstr_model_encode_label(m, texts[i], tok + i * c->max_label, &len[i]) == ICSTR_OK);
    double exact[NQ], any[NQ];
    CHECK(icstr_model_score(m, lat, NQ, NULL, tok, len, 0, exact) == ICSTR_OK);
    CHECK(icstr_model_score(m, lat, NQ, NULL, tok, len, 1, any) == ICSTR_OK);
    int never_lower = 1, letters_gain = 1;
    for (int i = 0; i < NQ; i++) {
        never_lower &= any[i] >= exact[i] - 1e-9;
        int has_letter = strpbrk(texts[i], "abcdeABCDE") != NULL;
        if (has_letter) letters_gain &= any[i] > exact[i];
        else CHECK_MSG(any[i] == exact[i], "'%s' has no letter: %.9f vs %.9f", texts[i], any[i], exact[i]);
        CHECK(exact[i] < 0.0 && isfinite(exact[i]));
    }
    CHECK_MSG(never_lower && letters_gain, "any_case: a text with letters scores higher, none lower");
}

static void test_refusals(icstr_model *m, const float *lat) {
    icstr_vocab_info v = icstr_model_vocab(m);
    int tok[8] = {0}, len = 1;
    double lp;
    tok[0] = v.eoc; /* a special is no character */
    CHECK(icstr_model_score(m, lat, 1, NULL, tok, &len, 0, &lp) == ICSTR_ERR_ARG);
    tok[0] = 0;
    len = 9; /* over max_label */
    CHECK(icstr_model_score(m, lat, 1, NULL, tok, &len, 0, &lp) == ICSTR_ERR_ARG);
    len = 1;
    CHECK(icstr_model_score(m, lat, 1, NULL, NULL, &len, 0, &lp) == ICSTR_ERR_ARG);
    CHECK(icstr_model_score(m, lat, 1, NULL, tok, &len, 0, &lp) == ICSTR_OK && lp < 0.0);
}

int main(void) {
    icstr_set_threads(1);
    icstr_model *m = tiny_model_with_chars(5, "abcdeABCDE0123 :");
    const icstr_model_config *c = icstr_model_get_config(m);
    size_t per = (size_t)c->latents * c->dec_dim;
    float *lat = malloc(NQ * per * sizeof(float)), *plat = malloc(2 * per * sizeof(float));
    icstr_rng r;
    icstr_rng_seed(&r, 42);
    for (size_t i = 0; i < NQ * per; i++) lat[i] = 2.0f * icstr_rng_normal(&r);
    for (size_t i = 0; i < 2 * per; i++) plat[i] = 2.0f * icstr_rng_normal(&r);
    int plab[2 * 8], plen[2];
    CHECK(icstr_model_encode_label(m, "aB0", plab, &plen[0]) == ICSTR_OK);
    CHECK(icstr_model_encode_label(m, "dd :", plab + 8, &plen[1]) == ICSTR_OK);
    icstr_context ctx[NQ];
    for (int i = 0; i < NQ; i++) ctx[i] = (icstr_context){2, plat, plab, plen};
    test_matches_decode(m, lat, NULL);
    test_matches_decode(m, lat, ctx);
    test_context_counts(m, lat, ctx);
    test_any_case(m, lat);
    test_refusals(m, lat);
    free(lat);
    free(plat);
    icstr_model_free(m);
    return check_finish("test_model_score");
}
