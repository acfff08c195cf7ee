/* Nearest-neighbour decoding (icstr_decode_params.knn) and the decoder states it stores
 * (icstr_model_states), on the pool tests' tiny random model and random latents:
 *  - lambda 0 changes nothing (texts and confidences exactly those of plain decoding);
 *  - a store made of the crops' own states fed other texts, read with lambda 1 and one
 *    neighbour, makes each crop read exactly its text with confidence 1: the stored row j is the
 *    state greedy decoding reaches after j fed tokens, and the search finds it;
 *  - the mixture: with lambda 0.5 and a store that says EOC at the first step, the empty
 *    reading's confidence is 0.5 p_model(EOC) + 0.5 (p_model from icstr_model_score);
 *  - two entries at the same distance share the vote, a farther one counts for nearly nothing at
 *    a small temperature (k 2): confidence 0.5;
 *  - refusals: beam search, lambda outside [0, 1]; states leaves the rows after EOC alone. */
#include "check.h"
#include "model.h"
#include "tiny_pool_model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { NQ = 6, CAP = 64, L = 8 };

typedef struct { /* a store built by hand from icstr_model_states */
    float keys[NQ * 2 * (L + 1) * 16], norm2[NQ * 2 * (L + 1)];
    int values[NQ * 2 * (L + 1)];
    icstr_knn knn;
} store;

/* appends the states of the n crops lat fed texts to s */
static void add_states(icstr_model *m, store *s, const float *lat, int n, const char **texts) {
    int D = icstr_model_get_config(m)->dec_dim, tok[NQ * L], len[NQ];
    static float st[NQ * (L + 1) * 16];
    for (int i = 0; i < n; i++) CHECK(icstr_model_encode_label(m, texts[i], tok + i * L, &len[i]) == ICSTR_OK);
    CHECK(icstr_model_states(m, lat, n, tok, len, st) == ICSTR_OK);
    for (int i = 0; i < n; i++)
        for (int j = 0; j <= len[i]; j++) {
            int e = s->knn.n++;
            const float *h = st + ((size_t)i * (L + 1) + j) * D;
            memcpy(s->keys + (size_t)e * D, h, D * sizeof(float));
            double n2 = 0.0;
            for (int d = 0; d < D; d++) n2 += (double)h[d] * h[d];
            s->norm2[e] = (float)n2;
            s->values[e] = j < len[i] ? tok[i * L + j] : icstr_model_vocab(m).eoc;
        }
    s->knn.keys = s->keys, s->knn.key_norm2 = s->norm2, s->knn.values = s->values;
}

static void decode(icstr_model *m, const float *lat, int n, const icstr_knn *knn, char out[][CAP], float *conf) {
    char *t[NQ];
    for (int i = 0; i < n; i++) t[i] = out[i];
    icstr_decode_params dp = icstr_decode_default_params();
    dp.knn = knn;
    CHECK(icstr_model_decode(m, lat, n, NULL, &dp, t, CAP, conf) == ICSTR_OK);
}

int main(void) {
    icstr_set_threads(1);
    icstr_model *m = tiny_model_with_chars(5, "abcdeABCDE0123 :");
    const icstr_model_config *c = icstr_model_get_config(m);
    size_t per = (size_t)c->latents * c->dec_dim;
    float *lat = malloc(NQ * per * sizeof(float));
    icstr_rng r;
    icstr_rng_seed(&r, 42);
    for (size_t i = 0; i < NQ * per; i++) lat[i] = 2.0f * icstr_rng_normal(&r);
    char plain[NQ][CAP], got[NQ][CAP];
    float plain_c[NQ], got_c[NQ];
    decode(m, lat, NQ, NULL, plain, plain_c);

    /* the crops' own states fed these texts */
    const char *texts[NQ] = {"e0a", "dd", "", "ABC", "12 :", "aaaaaaaa"};
    static store s;
    add_states(m, &s, lat, NQ, texts);
    int other = 0;
    for (int i = 0; i < NQ; i++) other += strcmp(plain[i], texts[i]) != 0;
    CHECK_MSG(other == NQ, "the texts must differ from the plain readings (%d do)", other);

    s.knn.k = 8, s.knn.temperature = 1.0f, s.knn.lambda = 0.0f;
    decode(m, lat, NQ, &s.knn, got, got_c);
    int same = 1;
    for (int i = 0; i < NQ; i++) same &= !strcmp(got[i], plain[i]) && got_c[i] == plain_c[i];
    CHECK_MSG(same, "lambda 0 changed a reading");

    s.knn.k = 1, s.knn.lambda = 1.0f;
    decode(m, lat, NQ, &s.knn, got, got_c);
    int steered = 1;
    for (int i = 0; i < NQ; i++) steered &= !strcmp(got[i], texts[i]) && fabsf(got_c[i] - 1.0f) < 1e-6f;
    CHECK_MSG(steered, "one neighbour, lambda 1: crop 0 read '%s' (%.6f), not '%s'", got[0], (double)got_c[0], texts[0]);

    /* the mixture: a store that ends crop 2 at once ("" fed), lambda 0.5 */
    static store e;
    add_states(m, &e, lat + 2 * per, 1, (const char *[]){""});
    CHECK(e.knn.n == 1);
    e.knn.k = 1, e.knn.temperature = 1.0f, e.knn.lambda = 0.5f;
    int none = 0;
    double lp_eoc;
    CHECK(icstr_model_score(m, lat + 2 * per, 1, NULL, (int[L]){0}, &none, 0, &lp_eoc) == ICSTR_OK);
    decode(m, lat + 2 * per, 1, &e.knn, got, got_c);
    CHECK_MSG(got[0][0] == 0 && fabs(got_c[0] - (0.5 * exp(lp_eoc) + 0.5)) < 1e-5,
              "mixture: '%s' %.6f, want '' %.6f", got[0], (double)got_c[0], 0.5 * exp(lp_eoc) + 0.5);

    /* two entries at distance 0 with different tokens share the vote: crop 0 fed "ab" and "cd";
     * the first step is a tie (a, the lower token, wins), then "ab"'s own states, at distance 0,
     * outweigh the second neighbour (temperature 1e-3) */
    static store t;
    add_states(m, &t, lat, 1, (const char *[]){"ab"});
    add_states(m, &t, lat, 1, (const char *[]){"cd"});
    t.knn.k = 2, t.knn.temperature = 1e-3f, t.knn.lambda = 1.0f;
    decode(m, lat, 1, &t.knn, got, got_c);
    CHECK_MSG(!strcmp(got[0], "ab") && fabsf(got_c[0] - 0.5f) < 1e-5f, "tie: '%s' %.6f", got[0], (double)got_c[0]);

    /* refusals */
    icstr_decode_params dp = icstr_decode_default_params();
    char *tp[1] = {got[0]};
    dp.knn = &s.knn;
    dp.beam = 2;
    CHECK(icstr_model_decode(m, lat, 1, NULL, &dp, tp, CAP, got_c) == ICSTR_ERR_ARG);
    dp.beam = 1;
    s.knn.lambda = 1.5f;
    CHECK(icstr_model_decode(m, lat, 1, NULL, &dp, tp, CAP, got_c) == ICSTR_ERR_ARG);
    s.knn.lambda = 1.0f;
    /* states: rows after the EOC row untouched, the others written */
    static float st[(L + 1) * 16];
    for (int i = 0; i < (L + 1) * 16; i++) st[i] = NAN;
    int tok[L], len;
    CHECK(icstr_model_encode_label(m, "ab", tok, &len) == ICSTR_OK);
    CHECK(icstr_model_states(m, lat, 1, tok, &len, st) == ICSTR_OK);
    int written = 1, untouched = 1;
    for (int j = 0; j <= L; j++)
        for (int d = 0; d < 16; d++) (j <= len ? &written : &untouched)[0] &= j <= len ? isfinite(st[j * 16 + d]) : isnan(st[j * 16 + d]);
    CHECK(written && untouched);
    tok[0] = icstr_model_vocab(m).eoc;
    CHECK(icstr_model_states(m, lat, 1, tok, &len, st) == ICSTR_ERR_ARG);
    free(lat);
    icstr_model_free(m);
    return check_finish("test_knn");
}
