/* Lookalikes re-decided by the whole reading (lookalikes.h), on a tiny random model:
 *  - the table: every documented digit/letter pair both ways, upper case as lower, nothing for
 *    other characters;
 *  - icstr_lookalikes_correct against a reference written here: every single swap and every swap
 *    of two neighbouring lookalikes of one class whose neighbours (the bytes either side) include
 *    the class it swaps into and not the other, or that is the whole text of a whole reading (not
 *    of a piece of a line), each scored as icstr_model_score (either case) + weight x
 *    icstr_char_lm_score of the whole text, the best taken while it beats the reading, for several
 *    weights, round limits and readings; a changed reading's confidence is its own times the
 *    ratio of the decoder's probabilities of the new text and the old (at most 1), an unchanged
 *    one keeps its own; the changed count;
 *  - a heavy weight on a model of prices turns "12.0C" into "12.00" and a letter put in for a
 *    digit takes its neighbours' case; a lone "i" of a whole reading becomes "1" on a model of
 *    lines that are lone digits, the same "i" as a piece stays; skipped readings, readings the model cannot write, no
 *    model, and bad parameters. */
#include "char_lm_fixtures.h"
#include "check.h"
#include "lookalikes.h"
#include "tiny_pool_model.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define CHARS "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ."
enum { CAP = 64 };

/* the documented pairs, digit then letter */
static const char *const PAIRS[] = {"0o", "0d", "0q", "0c", "1i", "1l", "2z", "4a", "5s",
                                    "6g", "6b", "7t", "8b", "9g", "9q"};
enum { NPAIRS = sizeof PAIRS / sizeof PAIRS[0] };

static int is_pair(char a, char b) {
    a = (char)tolower((unsigned char)a), b = (char)tolower((unsigned char)b);
    for (int k = 0; k < NPAIRS; k++)
        if ((PAIRS[k][0] == a && PAIRS[k][1] == b) || (PAIRS[k][0] == b && PAIRS[k][1] == a)) return 1;
    return 0;
}

static void test_table(void) {
    for (int c = 1; c < 128; c++) {
        const char *got = icstr_lookalikes_of((char)c);
        int want = 0;
        for (const char *t = "abcdefghijklmnopqrstuvwxyz0123456789"; *t; t++) want += is_pair((char)c, *t);
        CHECK_MSG((int)strlen(got) == want, "'%c': %d lookalikes, want %d", c, (int)strlen(got), want);
        for (const char *s = got; *s; s++) CHECK_MSG(is_pair((char)c, *s), "'%c' -> '%c'", c, *s);
    }
    CHECK(!strcmp(icstr_lookalikes_of('0'), "odqc"));
    CHECK(!strcmp(icstr_lookalikes_of('Q'), "09"));
}

/* ---- the reference ---- */

typedef struct {
    icstr_model *m;
    const icstr_char_lm *lm;
    const float *lat; /* one crop's */
    double weight;
} scorer;

static int total(const scorer *sc, const char *text, double *t, double *dec) {
    int tok[CAP], len;
    if (icstr_model_encode_label(sc->m, text, tok, &len)) {
        icstr_clear_error();
        return 0;
    }
    CHECK(icstr_model_score(sc->m, sc->lat, 1, NULL, tok, &len, 1, dec) == ICSTR_OK);
    *t = *dec + sc->weight * icstr_char_lm_score(sc->lm, tok, len);
    return 1;
}

static char cased(const char *text, int at, char c) {
    if (isdigit((unsigned char)c)) return c;
    for (int k = at - 1; k >= 0; k--)
        if (isalpha((unsigned char)text[k])) return isupper((unsigned char)text[k]) ? (char)toupper(c) : c;
    for (int k = at + 1; text[k]; k++)
        if (isalpha((unsigned char)text[k])) return isupper((unsigned char)text[k]) ? (char)toupper(c) : c;
    return (char)toupper(c);
}

/* the other-class lookalikes of c, lower case, in the order the pairs list them for c's side */
static int others(char c, char *out) {
    int n = 0;
    char l = (char)tolower((unsigned char)c);
    for (int k = 0; k < NPAIRS; k++) {
        if (PAIRS[k][0] == l) out[n++] = PAIRS[k][1];
        if (PAIRS[k][1] == l) out[n++] = PAIRS[k][0];
    }
    out[n] = 0;
    return n;
}

static int cls_of(char c) { return isalpha((unsigned char)c) ? 1 : isdigit((unsigned char)c) ? 2 : 0; }

/* bytes from..to may become class cls: a neighbour of cls, none of the other class; or they are
 * the whole text of a whole reading */
static int context_ok(const char *text, int from, int to, int cls, int whole) {
    int n = (int)strlen(text);
    if (whole && from == 0 && to == n - 1) return 1;
    int l = from > 0 ? cls_of(text[from - 1]) : 0, r = to + 1 < n ? cls_of(text[to + 1]) : 0;
    return (l == cls || r == cls) && (l == 0 || l == cls) && (r == 0 || r == cls);
}

/* the reading after the reference's swaps; *gain the decoder's log-probability of the new text
 * minus the old's when it changed */
static int ref_correct(const scorer *sc, int rounds, int whole, char *text, double *gain) {
    double cur, dec, first;
    if (!total(sc, text, &cur, &first)) return 0;
    int changed = 0;
    for (int r = 0; r < rounds; r++) {
        char best[CAP] = "", cand[CAP], a[8], b[8];
        double best_t = -HUGE_VAL, best_dec = 0, t;
        int n = (int)strlen(text);
        for (int j = 0; j < n; j++) {
            if (!others(text[j], a)) continue;
            int into = cls_of(a[0]);
            for (char *s = a; *s && context_ok(text, j, j, into, whole); s++) { /* alone */
                strcpy(cand, text);
                cand[j] = cased(text, j, *s);
                if (total(sc, cand, &t, &dec) && t > best_t) best_t = t, best_dec = dec, strcpy(best, cand);
            }
            if (j + 1 >= n || !others(text[j + 1], b) || cls_of(b[0]) != into || !context_ok(text, j, j + 1, into, whole))
                continue;
            for (char *s = a; *s; s++) /* with its right neighbour */
                for (char *u = b; *u; u++) {
                    strcpy(cand, text);
                    cand[j] = cased(text, j, *s);
                    cand[j + 1] = cased(text, j + 1, *u);
                    if (total(sc, cand, &t, &dec) && t > best_t) best_t = t, best_dec = dec, strcpy(best, cand);
                }
        }
        if (!*best || !(best_t > cur)) break;
        strcpy(text, best);
        cur = best_t, *gain = best_dec - first, changed = 1;
    }
    return changed;
}

/* ---- the tests ---- */

static const char *READINGS[] = {"12.0C", "TAKE0UT", "take0ut", "1o.5O", "abc", "....", "c0c0", "bO9",
                                 "zZ2.4a", "Q.q", "s5s5", "1ob", "a10", "9q.g", "SH01", "kO1k", "t0Ot", "M02S",
                                 "AKE05", "7", "O", "zq", "i"};
enum { NR = sizeof READINGS / sizeof READINGS[0] };

static icstr_char_lm *lm_of(icstr_model *m, const char **labels, int n) {
    icstr_char_lm_params p = icstr_char_lm_default_params();
    return char_lm_of_labels(m, &p, labels, n);
}

static void test_against_reference(icstr_model *m) {
    static const char *labels[] = {"12.00", "3.50", "40.10", "7.25", "take", "out", "takeout", "10.00"};
    icstr_char_lm *lm = lm_of(m, labels, 8);
    const icstr_model_config *c = icstr_model_get_config(m);
    size_t per = (size_t)c->latents * c->dec_dim;
    float *lat = random_latents(m, NR, 3);
    static const float weights[] = {0.0f, 0.5f, 3.0f, 50.0f};
    static const int rounds[] = {1, 3, 16};
    int moved_any = 0;
    unsigned char pieces[NR];
    memset(pieces, ICSTR_LOOKALIKE_PIECE, sizeof pieces);
    for (int w = 0; w < 4; w++)
        for (int r = 0; r < 6; r++) { /* each round limit for whole readings, then for pieces */
            char buf[NR][CAP], *texts[NR];
            float conf[NR];
            int whole = r < 3;
            for (int i = 0; i < NR; i++) strcpy(buf[i], READINGS[i]), texts[i] = buf[i], conf[i] = 0.25f;
            icstr_lookalike_params p = {weights[w], rounds[r % 3]};
            int changed = -1;
            CHECK(icstr_lookalikes_correct(m, lm, lat, NR, &p, whole ? NULL : pieces, texts, CAP, conf, &changed) ==
                  ICSTR_OK);
            int want_changed = 0;
            for (int i = 0; i < NR; i++) {
                scorer sc = {m, lm, lat + i * per, weights[w]};
                char want[CAP];
                double dec = 0;
                strcpy(want, READINGS[i]);
                int moved = ref_correct(&sc, rounds[r % 3], whole, want, &dec);
                want_changed += moved;
                CHECK_MSG(!strcmp(buf[i], want), "weight %g rounds %d%s: '%s' -> '%s', reference '%s'",
                          (double)weights[w], rounds[r % 3], whole ? "" : " (pieces)", READINGS[i], buf[i], want);
                double want_c = fmin(0.25 * exp(dec), 1.0);
                if (moved) CHECK_NEAR(conf[i], want_c, 1e-5 * want_c);
                else CHECK(conf[i] == 0.25f);
            }
            CHECK_MSG(changed == want_changed, "changed %d, reference %d", changed, want_changed);
            moved_any += want_changed;
        }
    CHECK(moved_any > 0); /* the comparison saw swaps */
    icstr_char_lm_free(lm);
    free(lat);
}

static void test_heavy_weight(icstr_model *m) {
    static const char *prices[] = {"12.00", "3.50", "40.10", "7.25", "10.00", "TAKEOUT"};
    icstr_char_lm *lm = lm_of(m, prices, 6);
    enum { N = 7 };
    float *lat = random_latents(m, N, 9);
    char buf[N][CAP] = {"12.0C", "TAKE0UT", "12.0C", "0.0.0", "TAKE0", "7", "AKE05"}, *texts[N];
    float conf[N];
    for (int i = 0; i < N; i++) texts[i] = buf[i], conf[i] = 0.5f;
    unsigned char flags[N] = {0, 0, ICSTR_LOOKALIKE_KEEP, 0, 0, ICSTR_LOOKALIKE_PIECE, 0};
    icstr_lookalike_params p = {50.0f, 3};
    int changed;
    CHECK(icstr_lookalikes_correct(m, lm, lat, N, &p, flags, texts, CAP, conf, &changed) == ICSTR_OK);
    CHECK_MSG(!strcmp(buf[0], "12.00"), "'12.0C' -> '%s'", buf[0]);
    CHECK_MSG(!strcmp(buf[1], "TAKEOUT"), "'TAKE0UT' -> '%s'", buf[1]);
    CHECK(!strcmp(buf[2], "12.0C") && conf[2] == 0.5f); /* skipped */
    CHECK(!strcmp(buf[3], "0.0.0") && conf[3] == 0.5f); /* no letter beside them */
    CHECK_MSG(!strcmp(buf[4], "TAKEO"), "'TAKE0' -> '%s'", buf[4]);
    CHECK(!strcmp(buf[5], "7") && conf[5] == 0.5f); /* a piece: nothing beside it to go by */
    CHECK_MSG(!strcmp(buf[6], "AKE05"), "'AKE05' -> '%s'", buf[6]); /* a letter and a digit beside it */
    CHECK_MSG(changed == 3, "changed %d", changed);
    { /* a pair is two lookalikes of one class: "k0Ik" never becomes "ko1k" at once, however much the
         character model wants it (0 and I turn into different classes) */
        static const char *mixed[] = {"ko1k", "ko1k", "ko1k", "ko1k"};
        icstr_char_lm *lk = lm_of(m, mixed, 4);
        char b1[CAP] = "k0Ik", *t1 = b1, want[CAP] = "k0Ik";
        float c1 = 0.5f;
        CHECK(icstr_lookalikes_correct(m, lk, lat, 1, &p, NULL, &t1, CAP, &c1, &changed) == ICSTR_OK);
        scorer sc = {m, lk, lat, p.weight};
        double gain = 0;
        ref_correct(&sc, p.rounds, 1, want, &gain);
        CHECK_MSG(strcmp(b1, "ko1k") && !strcmp(b1, want), "'k0Ik' -> '%s', reference '%s'", b1, want);
        icstr_char_lm_free(lk);
    }
    { /* lines that are a lone digit: a whole reading's lone "i" becomes "1", a piece's stays */
        static const char *qty[] = {"1", "1", "2", "1", "TOTAL"};
        icstr_char_lm *lq = lm_of(m, qty, 5);
        char b2[2][CAP] = {"i", "i"}, *t2[2] = {b2[0], b2[1]};
        float c2[2] = {0.5f, 0.5f};
        unsigned char f2[2] = {0, ICSTR_LOOKALIKE_PIECE};
        CHECK(icstr_lookalikes_correct(m, lq, lat, 2, &p, f2, t2, CAP, c2, &changed) == ICSTR_OK);
        CHECK_MSG(!strcmp(b2[0], "1") && !strcmp(b2[1], "i") && c2[1] == 0.5f && changed == 1, "'%s' '%s'", b2[0],
                  b2[1]);
        icstr_char_lm_free(lq);
    }
    /* no model: nothing changes */
    CHECK(icstr_lookalikes_correct(m, NULL, lat, 4, &p, NULL, texts, CAP, conf, &changed) == ICSTR_OK &&
          changed == 0 && !strcmp(buf[2], "12.0C"));
    /* a reading the model cannot write keeps it */
    char odd[CAP] = "12,0C", *t1[1] = {odd};
    CHECK(icstr_lookalikes_correct(m, lm, lat, 1, &p, NULL, t1, CAP, conf, &changed) == ICSTR_OK &&
          changed == 0 && !strcmp(odd, "12,0C"));
    icstr_lookalike_params bad[] = {{1.0f, 0}, {1.0f, 17}, {-1.0f, 3}, {NAN, 3}};
    for (int k = 0; k < 4; k++) CHECK(icstr_lookalikes_correct(m, lm, lat, 4, &bad[k], NULL, texts, CAP, conf, NULL) == ICSTR_ERR_ARG);
    icstr_clear_error();
    icstr_char_lm_free(lm);
    free(lat);
}

int main(void) {
    test_table();
    icstr_model *m = tiny_model_with_chars(5, CHARS);
    test_against_reference(m);
    test_heavy_weight(m);
    icstr_model_free(m);
    return check_finish("test_lookalikes");
}
