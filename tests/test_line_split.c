/* Long lines: icstr_line_split's cuts on drawn lines whose gaps are known to the pixel (words of
 * bars with narrow letter gaps and wide word gaps, dark on light and light on dark), the cases
 * that stay whole, and a crop batch reading a long line in pieces against the same readings made
 * one by one (the whole crop, each piece) with the rule the batch must follow: the pieces' joined
 * reading stays when its mean log-probability per token beats the whole crop's and it is not the
 * whole crop's reading but for spaces. With a pool that holds the long line itself, the line is
 * read whole with its record (a hard sample of a line) even where it is too wide to be read whole
 * otherwise. */
#include "check.h"
#include "crop_batch.h"
#include "icstr_data.h"
#include "tiny_pool_model.h"

#include <ftw.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A line h pixels high: n_words words of 3 letters (bars 8 wide, 3 apart), word_gap apart, a
 * margin of `margin` blank columns on both sides; ink on background. */
static icstr_image draw_line(int h, int n_words, int word_gap, int margin, unsigned char ink, unsigned char bg) {
    const int word_w = 3 * 8 + 2 * 3;
    int w = 2 * margin + n_words * word_w + (n_words - 1) * word_gap;
    unsigned char rgb[3] = {bg, bg, bg};
    icstr_image im;
    if (icstr_image_alloc(w, h, rgb, &im)) exit(1);
    for (int k = 0; k < n_words; k++)
        for (int l = 0; l < 3; l++) {
            int x0 = margin + k * (word_w + word_gap) + l * 11;
            for (int y = 2; y < h - 2; y++)
                for (int x = x0; x < x0 + 8; x++) memset(im.rgb + ((size_t)y * w + x) * 3, ink, 3);
        }
    return im;
}

/* Whether im is cut into n_want pieces at the cuts want (n_want - 1) and, with glue_want (a
 * string of n_want '0' / '1'), whether each piece begins at a cut between letters. */
static int cuts_glued(const icstr_image *im, const icstr_line_split_params *p, int max, int n_want, const int *want,
                      const char *glue_want) {
    int x0[ICSTR_LINE_MAX_PIECES], x1[ICSTR_LINE_MAX_PIECES];
    unsigned char glued[ICSTR_LINE_MAX_PIECES];
    memset(glued, 7, sizeof glued);
    int n = icstr_line_split(im, p, x0, x1, max, glued);
    int ok = n == n_want && x0[0] == 0 && x1[n > 0 ? n - 1 : 0] == im->w;
    for (int i = 0; ok && i < n - 1; i++) ok = x1[i] == want[i] && x0[i + 1] == want[i];
    for (int i = 0; ok && i < n; i++) ok = glued[i] == (glue_want ? glue_want[i] - '0' : 0);
    if (!ok) {
        fprintf(stderr, "  got %d pieces:", n);
        for (int i = 0; i < n; i++) fprintf(stderr, " [%d, %d)%s", x0[i], x1[i], glued[i] == 1 ? " glued" : "");
        fputc('\n', stderr);
    }
    return ok;
}

static int cuts_are(const icstr_image *im, const icstr_line_split_params *p, int max, int n_want, const int *want) {
    return cuts_glued(im, p, max, n_want, want, NULL);
}

/* a beside b, gap blank columns of bg between them (both h high) */
static icstr_image beside(const icstr_image *a, int gap, const icstr_image *b, unsigned char bg) {
    unsigned char rgb[3] = {bg, bg, bg};
    icstr_image im;
    if (icstr_image_alloc(a->w + gap + b->w, a->h, rgb, &im)) exit(1);
    for (int y = 0; y < a->h; y++) {
        memcpy(im.rgb + (size_t)y * im.w * 3, a->rgb + (size_t)y * a->w * 3, (size_t)a->w * 3);
        memcpy(im.rgb + ((size_t)y * im.w + a->w + gap) * 3, b->rgb + (size_t)y * b->w * 3, (size_t)b->w * 3);
    }
    return im;
}

/* The pieces' readings joined: spaces trimmed, empty readings left out, a space where some cut
 * between the two readings written was between words (an empty piece does not take its gap with
 * it), none where every cut was between letters, cut at a UTF-8 boundary when too long. */
static void test_join(void) {
    char out[16];
    const char *a[] = {" AB ", "CD", "", "EF", "GH"};
    const unsigned char glue_all[] = {0, 1, 1, 1, 1}, glue_none[] = {0, 0, 0, 0, 0};
    const unsigned char gap_then_empty[] = {0, 1, 0, 1, 1}; /* a word gap before the empty piece */
    const unsigned char empty_glued[] = {0, 0, 1, 1, 0};
    CHECK(icstr_line_join(a, glue_none, 5, out, sizeof out) == 11 && !strcmp(out, "AB CD EF GH"));
    CHECK(icstr_line_join(a, NULL, 5, out, sizeof out) == 11 && !strcmp(out, "AB CD EF GH"));
    CHECK(icstr_line_join(a, glue_all, 5, out, sizeof out) == 8 && !strcmp(out, "ABCDEFGH"));
    CHECK(icstr_line_join(a, gap_then_empty, 5, out, sizeof out) == 9 && !strcmp(out, "ABCD EFGH"));
    CHECK(icstr_line_join(a, empty_glued, 5, out, sizeof out) == 10 && !strcmp(out, "AB CDEF GH"));
    const char *lead[] = {"", "  ", "X"}; /* no space before the first reading written */
    CHECK(icstr_line_join(lead, glue_none, 3, out, sizeof out) == 1 && !strcmp(out, "X"));
    const char *utf[] = {"abcdefgh", "ij\xc3\xa9k"}; /* 8 + 1 + 2 bytes fit in 12, not e-acute */
    char small[12];
    CHECK(icstr_line_join(utf, glue_none, 2, small, sizeof small) == 11 && !strcmp(small, "abcdefgh ij"));
    CHECK(icstr_line_join(a, glue_none, 0, out, sizeof out) == 0 && out[0] == 0);
}

static void test_cuts(void) {
    icstr_line_split_params p = icstr_line_split_default_params();
    /* h 20, words 30 wide and 8 apart (0.4 h): gap centres 34, 72, 110, 148; width 182 (9.1 h).
     * Pieces of at most 3.5 h = 70: [0,34) (72 is 2 too far), [34,72), [72,110), [110,148),
     * [148,182) (34 left); none wider than 3.5 h, so the letter gaps (3 px) make no cut */
    icstr_image line = draw_line(20, 5, 8, 0, 0, 255);
    CHECK(cuts_are(&line, &p, ICSTR_LINE_MAX_PIECES, 5, (int[]){34, 72, 110, 148}));
    /* light text on dark cuts the same */
    icstr_image inverse = draw_line(20, 5, 8, 0, 250, 10);
    CHECK(cuts_are(&inverse, &p, ICSTR_LINE_MAX_PIECES, 5, (int[]){34, 72, 110, 148}));
    /* wider pieces: 5 h = 100 takes two words a piece */
    icstr_line_split_params wide = p;
    wide.piece_aspect = 5.0f;
    CHECK(cuts_are(&line, &wide, ICSTR_LINE_MAX_PIECES, 3, (int[]){72, 148}));
    /* at most two pieces: the second takes the rest */
    CHECK(cuts_are(&line, &p, 2, 2, (int[]){34}));
    /* margins are not gaps: the blank columns outside the ink never make a cut */
    icstr_image margins = draw_line(20, 5, 8, 15, 0, 255);
    CHECK(cuts_are(&margins, &p, ICSTR_LINE_MAX_PIECES, 5, (int[]){15 + 34, 15 + 72, 15 + 110, 15 + 148}));
    /* gaps narrower than min_gap (words 4 px = 0.2 h apart): no cut in the first pass, so the
     * second cuts the crop (166 = 8.3 h, wider than 3.5 h) at every blank run of at least
     * fine_gap (0.15 h = 3 px): letter gaps (centres 34k + 9, 34k + 20) and word gaps (34k + 32)
     * alike, grouped greedily: [0,66) (77 is too far), [66,134), [134,166) */
    icstr_image narrow = draw_line(20, 5, 4, 0, 0, 255);
    CHECK(cuts_glued(&narrow, &p, ICSTR_LINE_MAX_PIECES, 3, (int[]){66, 134}, "011"));
    CHECK(cuts_glued(&narrow, &p, 2, 2, (int[]){66}, "01")); /* as far as max_pieces allows */
    /* two such lines 10 px (0.5 h) apart: the first pass cuts at 171 only, the second cuts each
     * half again ([171, 342) from its ink at 176: 176 + 54 = 230, 176 + 122 = 298); only the
     * pieces that begin at the second pass's cuts are glued */
    icstr_image twice = beside(&narrow, 10, &narrow, 255);
    CHECK(cuts_glued(&twice, &p, ICSTR_LINE_MAX_PIECES, 6, (int[]){66, 134, 171, 230, 298}, "011011"));
    /* at most 4: the first half takes all the room it can (3), the second stays whole */
    CHECK(cuts_glued(&twice, &p, 4, 4, (int[]){66, 134, 171}, "0110"));
    icstr_line_split_params short_pieces = p; /* 3 h = 60: letter gaps end the pieces */
    short_pieces.piece_aspect = 3.0f;
    CHECK(cuts_glued(&narrow, &short_pieces, ICSTR_LINE_MAX_PIECES, 3, (int[]){54, 111}, "011"));
    /* whole: without the second pass (fine_gap 0, or not below min_gap) */
    icstr_line_split_params coarse = p;
    coarse.fine_gap = 0.0f;
    CHECK(cuts_are(&narrow, &coarse, ICSTR_LINE_MAX_PIECES, 1, NULL));
    coarse.fine_gap = p.min_gap;
    CHECK(cuts_are(&narrow, &coarse, ICSTR_LINE_MAX_PIECES, 1, NULL));
    /* every blank run 2 px (0.1 h), below fine_gap: still whole (words 32 apart, letter gaps
     * [32k + 8, 32k + 11) and [32k + 19, 32k + 22) narrowed by an inked first column) */
    icstr_image tight = draw_line(20, 5, 2, 0, 0, 255);
    for (int x = 0; x < tight.w; x++)
        if (x % 32 == 8 || x % 32 == 19)
            for (int y = 2; y < 18; y++) memset(tight.rgb + ((size_t)y * tight.w + x) * 3, 0, 3);
    CHECK(cuts_are(&tight, &p, ICSTR_LINE_MAX_PIECES, 1, NULL));
    icstr_image two = draw_line(20, 2, 8, 0, 0, 255); /* 68 = 3.4 h */
    CHECK(cuts_are(&two, &p, ICSTR_LINE_MAX_PIECES, 1, NULL));
    icstr_line_split_params off = p;
    off.split_aspect = 0.0f;
    CHECK(cuts_are(&line, &off, ICSTR_LINE_MAX_PIECES, 1, NULL));
    /* no contrast: nothing to tell ink by */
    icstr_image flat;
    CHECK(icstr_image_alloc(200, 20, (unsigned char[]){128, 128, 128}, &flat) == ICSTR_OK);
    CHECK(cuts_are(&flat, &p, ICSTR_LINE_MAX_PIECES, 1, NULL));
    int x0[2], x1[2];
    CHECK(icstr_line_split(NULL, &p, x0, x1, 2, NULL) == ICSTR_ERR_ARG);
    CHECK(icstr_line_split(&line, &p, x0, x1, 0, NULL) == ICSTR_ERR_ARG);
    /* the crop helper: a rectangle's pixels, refused outside the image */
    icstr_image c;
    CHECK(icstr_image_crop(&line, 30, 1, 10, 5, &c) == ICSTR_OK && c.w == 10 && c.h == 5);
    CHECK(!memcmp(c.rgb, line.rgb + ((size_t)1 * line.w + 30) * 3, 30) &&
          !memcmp(c.rgb + 4 * 30, line.rgb + ((size_t)5 * line.w + 30) * 3, 30));
    icstr_image_free(&c);
    CHECK(icstr_image_crop(&line, 180, 0, 3, 20, &c) == ICSTR_ERR_ARG && !c.rgb);
    /* a labelled line: the words go to the pieces when they match the gaps one to one */
    char labels[ICSTR_LINE_MAX_PIECES][16];
    int lx0[ICSTR_LINE_MAX_PIECES], lx1[ICSTR_LINE_MAX_PIECES];
    CHECK(icstr_line_split_labelled(&line, " aa bb  cc dd ee", &p, lx0, lx1, labels[0], 16, ICSTR_LINE_MAX_PIECES) == 5);
    CHECK(!strcmp(labels[0], "aa") && !strcmp(labels[2], "cc") && !strcmp(labels[4], "ee") && lx1[1] == 72);
    CHECK(icstr_line_split_labelled(&line, "aa bb cc dd ee", &wide, lx0, lx1, labels[0], 16, ICSTR_LINE_MAX_PIECES) == 3);
    CHECK(!strcmp(labels[0], "aa bb") && !strcmp(labels[1], "cc dd") && !strcmp(labels[2], "ee") && lx1[0] == 72);
    /* four words for four gaps + 1 = five pieces: no match, the whole crop under its label */
    CHECK(icstr_line_split_labelled(&line, "aa bb cc ddee", &p, lx0, lx1, labels[0], 16, ICSTR_LINE_MAX_PIECES) == 1);
    CHECK(!strcmp(labels[0], "aa bb cc ddee") && lx0[0] == 0 && lx1[0] == line.w);
    /* a piece's label that does not fit: whole, the label cut to cap */
    CHECK(icstr_line_split_labelled(&line, "aaaaaaaaaaaaaaaaaaaa b c d e", &p, lx0, lx1, labels[0], 16,
                                    ICSTR_LINE_MAX_PIECES) == 1 && strlen(labels[0]) == 15);
    CHECK(icstr_line_split_labelled(&two, "aa bb", &p, lx0, lx1, labels[0], 16, ICSTR_LINE_MAX_PIECES) == 1);
    /* a labelled crop is cut at word gaps only (no second pass): the narrow line stays whole */
    CHECK(icstr_line_split_labelled(&narrow, "aa bb cc dd ee", &p, lx0, lx1, labels[0], 16, ICSTR_LINE_MAX_PIECES) == 1);
    icstr_image *all[] = {&line, &inverse, &margins, &narrow, &twice, &tight, &two, &flat};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) icstr_image_free(all[i]);
}

static double per_token(const char *const *texts, const float *conf, int n) {
    double lp = 0.0;
    long tokens = 0;
    for (int j = 0; j < n; j++) {
        lp += log(conf[j] > 1e-30f ? (double)conf[j] : 1e-30);
        tokens += 1 + (long)strlen(texts[j]); /* the tiny charset is ASCII */
    }
    return lp / (double)tokens;
}

/* the batch's join: texts trimmed, joined by single spaces but where glue (NULL: nowhere; else
 * a '0' / '1' per text) says a text begins at a cut between letters; returns the product of
 * confidences */
static float join_ref(char **t, const float *c, int n, const char *glue, char *out) {
    float conf = 1.0f;
    out[0] = 0;
    for (int j = 0; j < n; j++) {
        const char *s = t[j];
        size_t len = strlen(s);
        while (len && *s == ' ') s++, len--;
        while (len && s[len - 1] == ' ') len--;
        conf *= c[j];
        if (!len) continue;
        if (*out && !(glue && glue[j] == '1')) strcat(out, " ");
        strncat(out, s, len);
    }
    return conf;
}

static void strip_spaces(const char *s, char *out) {
    for (; *s; s++)
        if (*s != ' ') *out++ = *s;
    *out = 0;
}

/* A batch of a short word and a long line, read by the crop batch, against the readings of the
 * same inputs made here in one call (the batch's order: each crop whole, then the line's pieces). */
static void test_batch(void) {
    char dir[] = "/tmp/icstr_test_split_XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    icstr_image line = draw_line(20, 5, 8, 0, 0, 255), word = draw_line(20, 1, 8, 3, 40, 230);
    char p_line[300], p_word[300];
    snprintf(p_line, sizeof p_line, "%s/a_line.png", dir);
    snprintf(p_word, sizeof p_word, "%s/b_word.png", dir);
    CHECK(icstr_image_write_png(p_line, line.w, line.h, 3, line.rgb) == ICSTR_OK);
    CHECK(icstr_image_write_png(p_word, word.w, word.h, 3, word.rgb) == ICSTR_OK);

    icstr_model *m = tiny_pool_model(11);
    enum { H = 8, W = 32, IMG = 3 * H * W, N = 7 };
    /* the reference: line whole, its 5 pieces, the word whole */
    static float ref_in[N * IMG];
    const int cut[6] = {0, 34, 72, 110, 148, 182};
    CHECK(icstr_image_to_input(&line, H, W, ref_in) == ICSTR_OK);
    for (int j = 0; j < 5; j++) {
        icstr_image piece;
        CHECK(icstr_image_crop(&line, cut[j], 0, cut[j + 1] - cut[j], line.h, &piece) == ICSTR_OK);
        CHECK(icstr_image_to_input(&piece, H, W, ref_in + (size_t)(1 + j) * IMG) == ICSTR_OK);
        icstr_image_free(&piece);
    }
    CHECK(icstr_image_to_input(&word, H, W, ref_in + (size_t)6 * IMG) == ICSTR_OK);
    static char ref_buf[N][ICSTR_TEXT_CAP];
    char *ref_t[N];
    float ref_c[N];
    for (int i = 0; i < N; i++) ref_t[i] = ref_buf[i];
    icstr_decode_params dp = icstr_decode_default_params();
    CHECK(icstr_model_recognize(m, ref_in, N, &dp, ref_t, ICSTR_TEXT_CAP, ref_c) == ICSTR_OK);
    char joined[ICSTR_TEXT_CAP], only_joined[ICSTR_TEXT_CAP];
    float joined_c = join_ref(ref_t + 1, ref_c + 1, 5, NULL, joined);
    /* read in pieces only, the batch holds the pieces and the word: ref_in from its second input */
    static char only_buf[N - 1][ICSTR_TEXT_CAP];
    char *only_t[N - 1];
    float only_c[N - 1];
    for (int i = 0; i < N - 1; i++) only_t[i] = only_buf[i];
    CHECK(icstr_model_recognize(m, ref_in + IMG, N - 1, &dp, only_t, ICSTR_TEXT_CAP, only_c) == ICSTR_OK);
    float only_joined_c = join_ref(only_t, only_c, 5, NULL, only_joined);
    /* read whole only: the batch holds the two crops */
    static float plain_in[2 * IMG];
    memcpy(plain_in, ref_in, IMG * sizeof(float));
    memcpy(plain_in + IMG, ref_in + (size_t)6 * IMG, IMG * sizeof(float));
    static char plain_buf[2][ICSTR_TEXT_CAP];
    char *plain_t[2] = {plain_buf[0], plain_buf[1]};
    float plain_c[2];
    CHECK(icstr_model_recognize(m, plain_in, 2, &dp, plain_t, ICSTR_TEXT_CAP, plain_c) == ICSTR_OK);
    /* the pieces' reading stays when it is surer per token and not the whole reading but for spaces */
    char a[ICSTR_TEXT_CAP], b[ICSTR_TEXT_CAP];
    strip_spaces(joined, a);
    strip_spaces(ref_t[0], b);
    int pieces_win = per_token((const char *const *)ref_t + 1, ref_c + 1, 5) > per_token((const char *const *)ref_t, ref_c, 1) &&
                     strcmp(a, b);

    char *args[1] = {dir};
    /* split 0: whole only; 1: whole and pieces compared (the line, 9.1 heights, counts as
     * readable whole); 2: the default, the line being wider than whole_aspect (8): pieces only */
    for (int split = 0; split < 3; split++) {
        icstr_inputs *in = NULL;
        icstr_crop_batch cb;
        CHECK(icstr_inputs_open(args, 1, &in) == ICSTR_OK);
        CHECK(icstr_crop_batch_init(&cb, 4, H, W) == ICSTR_OK);
        icstr_line_split_params sp = icstr_line_split_default_params();
        if (split == 1) sp.whole_aspect = 0.0f;
        CHECK(icstr_crop_batch_set_split(&cb, split ? &sp : NULL) == ICSTR_OK);
        CHECK(icstr_crop_batch_read(&cb, in) == 2 && cb.n_ok == 2);
        CHECK(cb.n_pieces == (split ? 5 : 0));
        CHECK(icstr_crop_batch_recognize(&cb, m, &dp) == ICSTR_OK);
        CHECK(strstr(cb.names[0], "a_line") && cb.ok_index[0] == 0); /* a folder is read in name order */
        int li = 0, wi = 1, count;
        int want_pieces = split == 2 || (split == 1 && pieces_win);
        const char *want = split == 2 ? only_joined : want_pieces ? joined : split ? ref_t[0] : plain_t[0];
        float want_c = split == 2 ? only_joined_c : want_pieces ? joined_c : split ? ref_c[0] : plain_c[0];
        CHECK_MSG(!strcmp(cb.texts[li], want) && cb.confidence[li] == want_c,
                  "split %d: line read '%s' %.6f, want '%s' %.6f (pieces '%s' %.6f, whole '%s' %.6f)", split,
                  cb.texts[li], (double)cb.confidence[li], want, (double)want_c, joined, (double)joined_c, ref_t[0],
                  (double)ref_c[0]);
        const char *word_t = split == 2 ? only_t[5] : split ? ref_t[6] : plain_t[1];
        float word_c = split == 2 ? only_c[5] : split ? ref_c[6] : plain_c[1];
        CHECK(!strcmp(cb.texts[wi], word_t) && cb.confidence[wi] == word_c);
        int first = icstr_crop_batch_inputs_of(&cb, li, &count);
        CHECK(count == (want_pieces ? 5 : 1) && first == (split == 1 && want_pieces));
        icstr_crop_batch_inputs_of(&cb, wi, &count);
        CHECK(count == 1);
        icstr_crop_batch_free(&cb);
        icstr_inputs_close(in);
    }
    icstr_model_free(m);
    unlink(p_line);
    unlink(p_word);
    rmdir(dir);
    icstr_image_free(&line);
    icstr_image_free(&word);
}

/* A line whose words are closer than min_gap (draw_line's 4 px gaps, 8.3 heights: pieces only)
 * is cut between letters by the second pass: the batch joins its pieces' readings (made here one
 * by one) with no space there. */
static void test_batch_glued(void) {
    char dir[] = "/tmp/icstr_test_glued_XXXXXX", path[300];
    CHECK(mkdtemp(dir) != NULL);
    icstr_image line = draw_line(20, 5, 4, 0, 0, 255);
    snprintf(path, sizeof path, "%s/line.png", dir);
    CHECK(icstr_image_write_png(path, line.w, line.h, 3, line.rgb) == ICSTR_OK);
    icstr_model *m = tiny_pool_model(12);
    enum { H = 8, W = 32, IMG = 3 * H * W };
    static float in[3 * IMG];
    const int cut[4] = {0, 66, 134, 166}; /* test_cuts: narrow */
    for (int j = 0; j < 3; j++) {
        icstr_image piece;
        CHECK(icstr_image_crop(&line, cut[j], 0, cut[j + 1] - cut[j], line.h, &piece) == ICSTR_OK);
        CHECK(icstr_image_to_input(&piece, H, W, in + (size_t)j * IMG) == ICSTR_OK);
        icstr_image_free(&piece);
    }
    static char buf[3][ICSTR_TEXT_CAP];
    char *t[3] = {buf[0], buf[1], buf[2]}, want[ICSTR_TEXT_CAP];
    float c[3];
    icstr_decode_params dp = icstr_decode_default_params();
    CHECK(icstr_model_recognize(m, in, 3, &dp, t, ICSTR_TEXT_CAP, c) == ICSTR_OK);
    float want_c = join_ref(t, c, 3, "011", want);
    char spaced[ICSTR_TEXT_CAP];
    join_ref(t, c, 3, NULL, spaced);
    CHECK(strcmp(spaced, want)); /* the pieces read something, so the glue shows */
    char *args[1] = {dir};
    icstr_inputs *inputs = NULL;
    icstr_crop_batch cb;
    CHECK(icstr_inputs_open(args, 1, &inputs) == ICSTR_OK);
    CHECK(icstr_crop_batch_init(&cb, 2, H, W) == ICSTR_OK);
    icstr_line_split_params sp = icstr_line_split_default_params();
    CHECK(icstr_crop_batch_set_split(&cb, &sp) == ICSTR_OK);
    CHECK(icstr_crop_batch_read(&cb, inputs) == 1 && cb.n_pieces == 3);
    CHECK(icstr_crop_batch_recognize(&cb, m, &dp) == ICSTR_OK);
    CHECK_MSG(!strcmp(cb.texts[0], want) && cb.confidence[0] == want_c, "read '%s', want '%s' (pieces '%s' '%s' '%s')",
              cb.texts[0], want, t[0], t[1], t[2]);
    icstr_crop_batch_free(&cb);
    icstr_inputs_close(inputs);
    icstr_model_free(m);
    unlink(path);
    rmdir(dir);
    icstr_image_free(&line);
}

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw) {
    (void)st, (void)type, (void)ftw;
    return remove(path);
}

/* A line wider than whole_aspect, put in a pool with a label: read with that pool, it keeps the
 * whole reading its own record gives it (decoded here by hand), not its pieces' reading; with
 * the trust off it is read in pieces only, as without a pool. */
static void test_pool_holds_line(void) {
    char dir[] = "/tmp/icstr_test_split_pool_XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    icstr_image line = draw_line(20, 5, 8, 0, 0, 255);
    char p_line[300], p_pool[300];
    snprintf(p_line, sizeof p_line, "%s/line.png", dir);
    snprintf(p_pool, sizeof p_pool, "%s/pool", dir);
    unsigned char *png = NULL;
    size_t len = 0;
    CHECK(icstr_image_encode_png(line.w, line.h, 3, line.rgb, &png, &len) == ICSTR_OK);
    FILE *f = fopen(p_line, "wb");
    CHECK(f && fwrite(png, 1, len, f) == len);
    if (f) fclose(f);
    icstr_model *m = tiny_pool_model(11);
    icstr_pool_meta meta;
    icstr_pool_meta_from_model(m, NULL, &meta);
    icstr_pool *pool = NULL;
    CHECK(icstr_pool_create(p_pool, &meta) == ICSTR_OK && icstr_pool_open(p_pool, m, 0, &pool) == ICSTR_OK);
    if (!pool) return;
    icstr_pool_item item = {png, len, "abcabc", NULL};
    CHECK(icstr_pool_add(pool, &item, 1, "t", NULL) == ICSTR_OK);
    /* the reference: the whole line, encoded and decoded with its record as the only prompt */
    enum { H = 8, W = 32, IMG = 3 * H * W };
    const icstr_model_config *mc = icstr_model_get_config(m);
    static float in[IMG];
    float *lat = malloc(sizeof(float) * mc->latents * mc->dec_dim), *emb = malloc(sizeof(float) * mc->dec_dim);
    CHECK(icstr_image_to_input(&line, H, W, in) == ICSTR_OK);
    CHECK(icstr_model_encode(m, in, 1, lat, emb) == ICSTR_OK);
    icstr_pool_prompts pp;
    CHECK(icstr_pool_prompts_init(&pp, pool, 1, 2) == ICSTR_OK);
    CHECK(icstr_pool_prompts_fill(pool, emb, 1, &pp) == ICSTR_OK && pp.ctx[0].n_prompts == 1);
    char ref_buf[ICSTR_TEXT_CAP], *ref_t = ref_buf;
    float ref_c = 0.0f;
    icstr_decode_params dp = icstr_decode_default_params();
    CHECK(icstr_model_decode(m, lat, 1, pp.ctx, &dp, &ref_t, ICSTR_TEXT_CAP, &ref_c) == ICSTR_OK);
    char *args[1] = {p_line};
    for (int trust = 1; trust >= 0; trust--) {
        icstr_inputs *inp = NULL;
        icstr_crop_batch cb;
        CHECK(icstr_inputs_open(args, 1, &inp) == ICSTR_OK);
        CHECK(icstr_crop_batch_init(&cb, 2, H, W) == ICSTR_OK);
        icstr_line_split_params sp = icstr_line_split_default_params();
        icstr_pool_reading rd = icstr_pool_reading_default();
        if (!trust) rd.trust_similarity = 2.0f;
        CHECK(icstr_crop_batch_set_split(&cb, &sp) == ICSTR_OK);
        CHECK(icstr_crop_batch_set_pool(&cb, pool, &rd) == ICSTR_OK);
        CHECK(icstr_crop_batch_read(&cb, inp) == 1 && cb.n_pieces == 5 && cb.pieces_only[0]);
        CHECK(icstr_crop_batch_recognize(&cb, m, &dp) == ICSTR_OK);
        int count, first = icstr_crop_batch_inputs_of(&cb, 0, &count);
        if (trust) {
            CHECK_MSG(!cb.pieces_won[0] && !strcmp(cb.texts[0], ref_t) &&
                          fabsf(cb.confidence[0] - ref_c) <= 1e-5f * ref_c && count == 1 && first == 0,
                      "a line the pool holds: read '%s' %.6f (pieces %d), want its record's '%s' %.6f", cb.texts[0],
                      (double)cb.confidence[0], cb.pieces_won[0], ref_t, (double)ref_c);
        } else {
            CHECK_MSG(cb.pieces_won[0] && count == 5 && first == 1, "no trust: pieces %d, %d inputs from %d",
                      cb.pieces_won[0], count, first);
        }
        icstr_crop_batch_free(&cb);
        icstr_inputs_close(inp);
    }
    icstr_pool_prompts_free(&pp);
    icstr_pool_close(pool);
    icstr_model_free(m);
    free(lat);
    free(emb);
    free(png);
    icstr_image_free(&line);
    nftw(dir, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
}

int main(void) {
    icstr_set_threads(1);
    test_join();
    test_cuts();
    test_batch();
    test_batch_glued();
    test_pool_holds_line();
    return check_finish("test_line_split");
}
