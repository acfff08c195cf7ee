/* Scoring: protocol cleaning, skipping, accuracy and 1 - NED on hand-computed cases, and the
 * code-point edit distance against a full-matrix reference. */
#include "check.h"
#include "icstr_data.h"

#include <stdlib.h>
#include <string.h>

/* Full (n+1) x (m+1) Levenshtein matrix over code point arrays: the reference. */
static long ref_distance(const unsigned *a, int n, const unsigned *b, int m) {
    long d[16][16];
    for (int i = 0; i <= n; i++) d[i][0] = i;
    for (int j = 0; j <= m; j++) d[0][j] = j;
    for (int i = 1; i <= n; i++)
        for (int j = 1; j <= m; j++) {
            long best = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
            if (d[i - 1][j] + 1 < best) best = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < best) best = d[i][j - 1] + 1;
            d[i][j] = best;
        }
    return d[n][m];
}

static void encode(const unsigned *cps, int n, char *out) {
    static const char *enc[] = {"a", "b", "\xc3\xa9", "\xe6\x97\xa5", "\xf0\x9f\x98\x80"};
    out[0] = 0;
    for (int i = 0; i < n; i++) strcat(out, enc[cps[i]]);
}

static void test_edit_distance(void) {
    CHECK(icstr_edit_distance_utf8("kitten", "sitting") == 3);
    CHECK(icstr_edit_distance_utf8("flaw", "lawn") == 2);
    CHECK(icstr_edit_distance_utf8("", "abc") == 3);
    CHECK(icstr_edit_distance_utf8("abc", "") == 3);
    CHECK(icstr_edit_distance_utf8("", "") == 0);
    CHECK(icstr_edit_distance_utf8("same", "same") == 0);
    /* code points, not bytes: é is 2 bytes, 日 3, 😀 4, each one edit */
    CHECK(icstr_edit_distance_utf8("caf\xc3\xa9", "cafe") == 1);
    CHECK(icstr_edit_distance_utf8("\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e", "\xe6\x97\xa5\xe6\x9c\xac") == 1);
    CHECK(icstr_edit_distance_utf8("a\xf0\x9f\x98\x80" "b", "ab") == 1);
    CHECK(icstr_edit_distance_utf8("na\xc3\xafve", "naive") == 1);
    /* invalid bytes count one each */
    CHECK(icstr_edit_distance_utf8("\xff", "") == 1);
    CHECK(icstr_edit_distance_utf8("a\xff" "b", "ab") == 1);
    CHECK(icstr_edit_distance_utf8("\xe6\x97", "") == 2);
    CHECK(icstr_edit_distance_utf8(NULL, "") == ICSTR_ERR_ARG);
    /* longer than the stack buffers */
    char *big = malloc(1001);
    memset(big, 'a', 1000);
    big[1000] = 0;
    CHECK(icstr_edit_distance_utf8(big, "a") == 999);
    CHECK(icstr_edit_distance_utf8("b", big) == 1000);
    free(big);
    /* random strings against the full-matrix reference */
    icstr_rng rng;
    icstr_rng_seed(&rng, 7);
    int mismatches = 0;
    for (int t = 0; t < 2000; t++) {
        unsigned a[15], b[15];
        int n = (int)icstr_rng_below(&rng, 9), m = (int)icstr_rng_below(&rng, 9);
        for (int i = 0; i < n; i++) a[i] = icstr_rng_below(&rng, 5);
        for (int i = 0; i < m; i++) b[i] = icstr_rng_below(&rng, 5);
        char sa[64], sb[64];
        encode(a, n, sa);
        encode(b, m, sb);
        mismatches += icstr_edit_distance_utf8(sa, sb) != ref_distance(a, n, b, m);
    }
    CHECK_MSG(mismatches == 0, "%d random pairs disagree with the reference", mismatches);
}

static void test_utf8(void) {
    CHECK(icstr_utf8_valid("plain", 5));
    CHECK(icstr_utf8_valid("\xe2\x82\xac", 3));      /* € */
    CHECK(icstr_utf8_valid("\xf0\x9f\x98\x80", 4));  /* 😀 */
    CHECK(!icstr_utf8_valid("\xc0\xaf", 2));         /* overlong / */
    CHECK(!icstr_utf8_valid("\xe0\x80\x80", 3));     /* overlong NUL */
    CHECK(!icstr_utf8_valid("\xed\xa0\x80", 3));     /* surrogate */
    CHECK(!icstr_utf8_valid("\xf4\x90\x80\x80", 4)); /* above U+10FFFF */
    CHECK(!icstr_utf8_valid("\xe2\x82", 2));         /* truncated */
    CHECK(!icstr_utf8_valid("\x80", 1));             /* lone continuation */
    CHECK(!icstr_utf8_valid("Caf\xe9", 4));          /* Latin-1 */
    unsigned cps[8];
    CHECK(icstr_utf8_decode("a\xc3\xa9\xff", 4, cps, 8) == 3);
    CHECK(cps[0] == 'a' && cps[1] == 0xE9 && cps[2] == 0xFFFD);
}

static void test_clean(void) {
    char out[64];
    CHECK(icstr_score_clean(ICSTR_SCORE_STANDARD, "Caf\xc3\xa9", out, sizeof out) == 3);
    CHECK(!strcmp(out, "caf"));
    CHECK(icstr_score_clean(ICSTR_SCORE_STANDARD, "Hello, World! 42", out, sizeof out) == 12);
    CHECK(!strcmp(out, "helloworld42"));
    CHECK(icstr_score_clean(ICSTR_SCORE_CASE94, "Caf\xc3\xa9 Bar\t!", out, sizeof out) == 8);
    CHECK(!strcmp(out, "Caf Bar!"));
    CHECK(icstr_score_clean(ICSTR_SCORE_UNICODE, "Caf\xc3\xa9", out, sizeof out) == 4);
    CHECK(!strcmp(out, "Caf\xc3\xa9"));
    /* a small buffer cuts at a code point boundary: "Caf" fits in 5, the 2-byte é does not */
    CHECK(icstr_score_clean(ICSTR_SCORE_UNICODE, "Caf\xc3\xa9", out, 5) == 3);
    CHECK(!strcmp(out, "Caf"));
    CHECK(icstr_score_clean(99, "x", out, sizeof out) == ICSTR_ERR_ARG);
    CHECK(icstr_score_skips(ICSTR_SCORE_STANDARD, "---") == 1);
    CHECK(icstr_score_skips(ICSTR_SCORE_STANDARD, "") == 1);
    CHECK(icstr_score_skips(ICSTR_SCORE_STANDARD, "abcdefghijklmnopqrstuvwxyz") == 1);
    CHECK(icstr_score_skips(ICSTR_SCORE_STANDARD, "abcdefghijklmnopqrstuvwxy") == 0);
    /* 26 characters, 25 of them alphanumeric: counted */
    CHECK(icstr_score_skips(ICSTR_SCORE_STANDARD, "abcdefghijklm-nopqrstuvwxy") == 0);
    CHECK(icstr_score_skips(ICSTR_SCORE_CASE94, "abcdefghijklmnopqrstuvwxyz") == 0);
    CHECK(icstr_score_skips(ICSTR_SCORE_CASE94, "\xc3\xa9") == 1);
    int p = -1;
    CHECK(icstr_score_protocol_from_name("case94", &p) == ICSTR_OK && p == ICSTR_SCORE_CASE94);
    CHECK(icstr_score_protocol_from_name("nope", &p) == ICSTR_ERR_ARG);
    CHECK(!strcmp(icstr_score_protocol_name(ICSTR_SCORE_STANDARD), "standard"));
}

static void test_standard(void) {
    icstr_score sc;
    CHECK(icstr_score_init(&sc, 42) == ICSTR_ERR_ARG);
    CHECK(icstr_score_init(&sc, ICSTR_SCORE_STANDARD) == ICSTR_OK);
    CHECK(icstr_score_add(&sc, "hello", "Hello") == ICSTR_SCORE_RIGHT);       /* NED 0 */
    CHECK(icstr_score_add(&sc, "wor1d", "world") == ICSTR_SCORE_WRONG);       /* 1/5 */
    CHECK(icstr_score_add(&sc, "", "abc") == ICSTR_SCORE_WRONG);              /* 3/3 */
    CHECK(icstr_score_add(&sc, "abcd", "ab") == ICSTR_SCORE_WRONG);           /* 2/4 */
    CHECK(icstr_score_add(&sc, "x", "---") == ICSTR_SCORE_SKIPPED);           /* empty cleaned */
    CHECK(icstr_score_add(&sc, "x", "") == ICSTR_SCORE_SKIPPED);
    CHECK(icstr_score_add(&sc, "abcdefghijklmnopqrstuvwxyz", "abcdefghijklmnopqrstuvwxyz") ==
          ICSTR_SCORE_SKIPPED);                                                /* 26 long */
    CHECK(icstr_score_add(&sc, "CAF", "Caf\xc3\xa9") == ICSTR_SCORE_RIGHT);   /* caf = caf, NED 0 */
    CHECK(icstr_score_add(&sc, "it's", "ITS") == ICSTR_SCORE_RIGHT);          /* NED 0 */
    CHECK(icstr_score_add(NULL, "a", "a") == ICSTR_ERR_ARG);
    long n, skipped;
    double acc, one_minus_ned;
    icstr_score_result(&sc, &n, &skipped, &acc, &one_minus_ned);
    CHECK(n == 6);
    CHECK(skipped == 3);
    CHECK_NEAR(acc, 3.0 / 6.0, 1e-12);
    CHECK_NEAR(one_minus_ned, 1.0 - (0.2 + 1.0 + 0.5) / 6.0, 1e-12);
    icstr_score empty;
    icstr_score_init(&empty, ICSTR_SCORE_STANDARD);
    icstr_score_result(&empty, &n, &skipped, &acc, &one_minus_ned);
    CHECK(n == 0 && skipped == 0 && acc == 0 && one_minus_ned == 0);
}

static void test_case94_unicode(void) {
    icstr_score sc;
    icstr_score_init(&sc, ICSTR_SCORE_CASE94);
    CHECK(icstr_score_add(&sc, "Hello", "hello") == ICSTR_SCORE_WRONG);     /* 1/5 */
    CHECK(icstr_score_add(&sc, "New York", "New York") == ICSTR_SCORE_RIGHT);
    CHECK(icstr_score_add(&sc, "Caf", "Caf\xc3\xa9") == ICSTR_SCORE_RIGHT); /* é dropped */
    CHECK(icstr_score_add(&sc, "x", "\xe6\x97\xa5") == ICSTR_SCORE_SKIPPED);
    CHECK(icstr_score_add(&sc, "abcdefghijklmnopqrstuvwxyz!", "abcdefghijklmnopqrstuvwxyz") ==
          ICSTR_SCORE_WRONG); /* no length limit here: 1/27 */
    long n, skipped;
    double acc, one_minus_ned;
    icstr_score_result(&sc, &n, &skipped, &acc, &one_minus_ned);
    CHECK(n == 4 && skipped == 1);
    CHECK_NEAR(acc, 0.5, 1e-12);
    CHECK_NEAR(one_minus_ned, 1.0 - (0.2 + 1.0 / 27.0) / 4.0, 1e-12);

    icstr_score_init(&sc, ICSTR_SCORE_UNICODE);
    CHECK(icstr_score_add(&sc, "Cafe", "Caf\xc3\xa9") == ICSTR_SCORE_WRONG); /* 1/4 */
    CHECK(icstr_score_add(&sc, "\xe6\x97\xa5\xe6\x9c\xac", "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e") ==
          ICSTR_SCORE_WRONG); /* 1/3 */
    CHECK(icstr_score_add(&sc, "", "") == ICSTR_SCORE_SKIPPED);
    icstr_score_result(&sc, &n, &skipped, &acc, &one_minus_ned);
    CHECK(n == 2 && skipped == 1);
    CHECK_NEAR(acc, 0.0, 1e-12);
    CHECK_NEAR(one_minus_ned, 1.0 - (0.25 + 1.0 / 3.0) / 2.0, 1e-12);
}

static void test_same_but_spaces(void) {
    CHECK(icstr_text_same_but_spaces("MAIL MAN", "MAILMAN") && icstr_text_same_but_spaces("  a b ", "ab"));
    CHECK(icstr_text_same_but_spaces("", "  ") && icstr_text_same_but_spaces("x", "x"));
    CHECK(!icstr_text_same_but_spaces("MAIL MAN", "MAILMEN") && !icstr_text_same_but_spaces("ab", "abc"));
    CHECK(!icstr_text_same_but_spaces("ab c", "ab") && !icstr_text_same_but_spaces("a-b", "a b"));
}

int main(void) {
    test_same_but_spaces();
    test_utf8();
    test_edit_distance();
    test_clean();
    test_standard();
    test_case94_unicode();
    return check_finish("test_score");
}
