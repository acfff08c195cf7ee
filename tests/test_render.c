/* Tests of the synthetic word renderer: determinism (per seed and index, whatever the call
 * order or thread), character boxes (inside the image, in reading order, one per non-space
 * character, flat at difficulty 0), episodes (one style, different words), the label charset and
 * lengths, the options, font/photo/word-list loading and the boxes text format. Uses the fonts
 * installed by scripts/setup.sh; photos come from a PNG the test writes itself. */
#include "check.h"
#include "icstr_core.h"
#include "icstr_data.h"

#include <ctype.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <omp.h>
#include <stb_image_write.h>

static int same_crop(const icstr_render_crop *a, const icstr_render_crop *b) {
    if (a->w != b->w || a->h != b->h || strcmp(a->label, b->label) || a->n_boxes != b->n_boxes) return 0;
    if (memcmp(a->rgb, b->rgb, (size_t)a->w * a->h * 3)) return 0;
    for (int i = 0; i < a->n_boxes; i++)
        if (memcmp(&a->boxes[i], &b->boxes[i], sizeof a->boxes[i]) || a->box_char[i] != b->box_char[i])
            return 0;
    return a->font_id == b->font_id && a->style_id == b->style_id;
}

/* Everything a crop promises about its label and boxes; returns the number of broken promises. */
static int check_crop(const icstr_render_crop *c, int min_len, int max_len, int verbose) {
    int bad = 0;
    int n = (int)strlen(c->label);
    if (n < min_len || n > max_len) bad++;
    int nonspace = 0;
    for (int i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)c->label[i];
        if (ch < 32 || ch > 126) bad++;
        if (ch != ' ') nonspace++;
    }
    if (n > 0 && (c->label[0] == ' ' || c->label[n - 1] == ' ')) bad++;
    if (c->n_boxes != nonspace) bad++;
    if (c->w < 4 || c->h < 8 || !c->rgb) bad++;
    float prev_cx = -1e9f;
    int prev_char = -1;
    for (int i = 0; i < c->n_boxes; i++) {
        const icstr_render_box *b = &c->boxes[i];
        if (!(b->x0 >= 0 && b->y0 >= 0 && b->x1 <= c->w && b->y1 <= c->h && b->x1 >= b->x0 &&
              b->y1 >= b->y0)) {
            bad++;
            if (verbose)
                fprintf(stderr, "box %d of '%s' outside %dx%d: %g %g %g %g\n", i, c->label, c->w, c->h,
                        (double)b->x0, (double)b->y0, (double)b->x1, (double)b->y1);
        }
        int ci = c->box_char[i];
        if (ci <= prev_char || ci >= n || c->label[ci] == ' ') bad++;
        prev_char = ci;
        /* reading order; clamping at the crop edge may nudge centres of cut boxes by a pixel */
        float cx = 0.5f * (b->x0 + b->x1);
        if (cx < prev_cx - 1.0f) {
            bad++;
            if (verbose)
                fprintf(stderr, "box %d of '%s' centre %g left of %g\n", i, c->label, (double)cx,
                        (double)prev_cx);
        }
        prev_cx = cx;
    }
    return bad;
}

static void test_fonts_and_words(const icstr_renderer *r) {
    CHECK(icstr_render_font_count(r) >= 1);
    CHECK(icstr_render_font_path(r, 0) != NULL);
    CHECK(icstr_render_font_path(r, -1) == NULL);
    CHECK(icstr_render_font_path(r, icstr_render_font_count(r)) == NULL);
    CHECK(icstr_render_word_count(r) > 1000);
    printf("fonts: %d faces, %ld words\n", icstr_render_font_count(r), icstr_render_word_count(r));
}

static void test_determinism(const icstr_renderer *r) {
    icstr_render_crop a = {0}, b = {0}, c = {0};
    for (uint64_t i = 0; i < 40; i++) {
        CHECK(icstr_render_sample(r, 11, i, &a) == ICSTR_OK);
        CHECK(icstr_render_sample(r, 11, i + 1000, &c) == ICSTR_OK); /* something else in between */
        CHECK(icstr_render_sample(r, 11, i, &b) == ICSTR_OK);
        CHECK_MSG(same_crop(&a, &b), "seed 11 index %lu rendered twice differs", (unsigned long)i);
    }
    /* other seeds and other indices give other crops */
    int differ_seed = 0, differ_index = 0;
    for (uint64_t i = 0; i < 20; i++) {
        icstr_render_sample(r, 11, i, &a);
        icstr_render_sample(r, 12, i, &b);
        icstr_render_sample(r, 11, i + 1, &c);
        differ_seed += !same_crop(&a, &b) && strcmp(a.label, b.label);
        differ_index += !same_crop(&a, &c);
    }
    CHECK(differ_seed >= 18);
    CHECK(differ_index == 20);
    /* a sample is crop 0 of the episode with the same seed and index, for any K */
    icstr_render_crop ep[5] = {{0}};
    CHECK(icstr_render_sample(r, 5, 77, &a) == ICSTR_OK);
    CHECK(icstr_render_episode(r, 5, 77, 5, ep) == ICSTR_OK);
    CHECK(same_crop(&a, &ep[0]));
    for (int k = 0; k < 5; k++) icstr_render_crop_free(&ep[k]);
    icstr_render_crop_free(&a);
    icstr_render_crop_free(&b);
    icstr_render_crop_free(&c);
}

/* Crops rendered by two threads in reverse order equal those rendered in order by one. */
static void test_threads(const icstr_renderer *r) {
    enum { N = 48 };
    icstr_render_crop seq[N], par[N];
    memset(seq, 0, sizeof seq);
    memset(par, 0, sizeof par);
    for (int i = 0; i < N; i++) icstr_render_sample(r, 31, (uint64_t)i, &seq[i]);
    int fails = 0;
#pragma omp parallel for num_threads(2) schedule(dynamic, 1) reduction(+ : fails)
    for (int j = 0; j < N; j++)
        fails += icstr_render_sample(r, 31, (uint64_t)(N - 1 - j), &par[N - 1 - j]) != 0;
    CHECK(fails == 0);
    int same = 0;
    for (int i = 0; i < N; i++) same += same_crop(&seq[i], &par[i]);
    CHECK_MSG(same == N, "%d of %d crops equal across threads", same, N);
    for (int i = 0; i < N; i++) {
        icstr_render_crop_free(&seq[i]);
        icstr_render_crop_free(&par[i]);
    }
}

static void test_many(const icstr_renderer *r) {
    icstr_render_crop c = {0};
    int bad = 0, n = 600, upper = 0, digits = 0, spaces = 0, len_hist[26] = {0};
    for (int i = 0; i < n; i++) {
        if (icstr_render_sample(r, 3, (uint64_t)i, &c)) {
            bad++;
            continue;
        }
        int b = check_crop(&c, 1, ICSTR_RENDER_MAX_LEN, bad < 5);
        bad += b;
        int L = (int)strlen(c.label), up = 0, lo = 0;
        len_hist[L > 25 ? 25 : L]++;
        for (int k = 0; k < L; k++) {
            up += c.label[k] >= 'A' && c.label[k] <= 'Z';
            lo += c.label[k] >= 'a' && c.label[k] <= 'z';
            digits += c.label[k] >= '0' && c.label[k] <= '9';
            spaces += c.label[k] == ' ';
        }
        upper += up > 1 && lo == 0;
    }
    CHECK_MSG(bad == 0, "%d broken promises over %d crops", bad, n);
    /* the text mix looks like scene text: many all-capital words, some digits and spaces,
     * mostly 3..8 characters, never only one length */
    CHECK(upper > n / 5);
    CHECK(digits > 0);
    CHECK(spaces > 0);
    int mid = 0, distinct = 0;
    for (int L = 1; L <= 25; L++) {
        if (L >= 3 && L <= 8) mid += len_hist[L];
        distinct += len_hist[L] > 0;
    }
    CHECK(mid > n / 2);
    CHECK(distinct >= 10);
    icstr_render_crop_free(&c);
}

static void test_opts(const icstr_renderer *r) {
    icstr_render_opts o = icstr_render_default_opts(r);
    CHECK(o.min_len == 1 && o.max_len == ICSTR_RENDER_MAX_LEN);
    o.min_len = 2;
    o.max_len = 5;
    icstr_render_crop c = {0};
    int bad = 0;
    for (int i = 0; i < 200; i++) {
        if (icstr_render_sample_opts(r, 9, (uint64_t)i, &o, &c))
            bad++;
        else
            bad += check_crop(&c, 2, 5, bad < 5);
    }
    CHECK(bad == 0);
    /* difficulty 0 means no warp: every box of a word spans the same rows */
    o = icstr_render_default_opts(r);
    o.difficulty = 0;
    int uneven = 0;
    for (int i = 0; i < 100; i++) {
        if (icstr_render_sample_opts(r, 9, (uint64_t)i, &o, &c)) {
            bad++;
            continue;
        }
        bad += check_crop(&c, 1, 25, bad < 5);
        for (int k = 1; k < c.n_boxes; k++)
            uneven += c.boxes[k].y0 != c.boxes[0].y0 || c.boxes[k].y1 != c.boxes[0].y1;
        /* and boxes of a flat word never overlap much: ink extents follow the pen */
        for (int k = 1; k < c.n_boxes; k++) uneven += c.boxes[k].x0 < c.boxes[k - 1].x0 - 0.01f;
    }
    CHECK(bad == 0);
    CHECK_MSG(uneven == 0, "%d uneven boxes at difficulty 0", uneven);
    /* invalid opts are refused */
    o.min_len = 0;
    CHECK(icstr_render_sample_opts(r, 1, 1, &o, &c) == ICSTR_ERR_ARG);
    o.min_len = 5;
    o.max_len = 4;
    CHECK(icstr_render_sample_opts(r, 1, 1, &o, &c) == ICSTR_ERR_ARG);
    o.max_len = 26;
    CHECK(icstr_render_sample_opts(r, 1, 1, &o, &c) == ICSTR_ERR_ARG);
    icstr_render_crop_free(&c);
}

static void test_episodes(const icstr_renderer *r) {
    enum { K = 6 };
    icstr_render_crop ep[K] = {{0}};
    int distinct_total = 0, fonts_differ = 0;
    uint64_t prev_style = 0;
    int prev_font = -1;
    for (uint64_t e = 0; e < 30; e++) {
        CHECK(icstr_render_episode(r, 21, e, K, ep) == ICSTR_OK);
        int distinct = 0;
        for (int k = 0; k < K; k++) {
            CHECK(check_crop(&ep[k], 1, 25, 1) == 0);
            CHECK(ep[k].font_id == ep[0].font_id);
            CHECK(ep[k].style_id == ep[0].style_id);
            int dup = 0;
            for (int j = 0; j < k; j++) dup |= !strcmp(ep[j].label, ep[k].label);
            distinct += !dup;
        }
        distinct_total += distinct;
        CHECK(ep[0].style_id != prev_style);
        fonts_differ += ep[0].font_id != prev_font;
        prev_style = ep[0].style_id;
        prev_font = ep[0].font_id;
    }
    CHECK_MSG(distinct_total >= 30 * K - 3, "only %d distinct words in %d", distinct_total, 30 * K);
    CHECK(fonts_differ >= 25);
    /* an episode with a pattern: every label follows it (lower case may come out as capitals on a
     * caps-only face), and the labels still differ */
    icstr_render_opts o = icstr_render_default_opts(r);
    o.pattern = "A9-9a";
    int follows = 1, same = 0;
    for (uint64_t e = 0; e < 20; e++) {
        CHECK(icstr_render_episode_opts(r, 23, e, K, &o, ep) == ICSTR_OK);
        for (int k = 0; k < K; k++) {
            const char *l = ep[k].label;
            follows &= strlen(l) == 5 && l[0] >= 'A' && l[0] <= 'Z' && l[1] >= '0' && l[1] <= '9' && l[2] == '-' &&
                       l[3] >= '0' && l[3] <= '9' && ((l[4] >= 'a' && l[4] <= 'z') || (l[4] >= 'A' && l[4] <= 'Z'));
            same += k > 0 && !strcmp(l, ep[0].label);
        }
    }
    CHECK_MSG(follows, "a label does not follow the pattern A9-9a");
    CHECK(same <= 2);
    /* twins: the last crop shows the one before's text (ICSTR_TWIN_SAME) in other pixels, or
     * (ICSTR_TWIN_EDITED) that text with one character changed to another of its kind; the
     * crops before the twin are the episode without twins */
    icstr_render_crop plain[K] = {{0}};
    int same_ok = 1, edited_ok = 1, prefix_ok = 1, pixels_differ = 0;
    for (uint64_t e = 0; e < 20; e++) {
        o = icstr_render_default_opts(r);
        CHECK(icstr_render_episode_opts(r, 25, e, K, &o, plain) == ICSTR_OK);
        o.twin = e % 2 ? ICSTR_TWIN_EDITED : ICSTR_TWIN_SAME;
        CHECK(icstr_render_episode_opts(r, 25, e, K, &o, ep) == ICSTR_OK);
        for (int k = 0; k < K - 1; k++)
            prefix_ok &= !strcmp(ep[k].label, plain[k].label) && ep[k].w == plain[k].w && ep[k].h == plain[k].h &&
                         !memcmp(ep[k].rgb, plain[k].rgb, (size_t)ep[k].w * ep[k].h * 3);
        const char *a = ep[K - 2].label, *b = ep[K - 1].label;
        CHECK(check_crop(&ep[K - 1], 1, 25, 1) == 0);
        if (o.twin == ICSTR_TWIN_SAME) {
            same_ok &= !strcmp(a, b);
            pixels_differ += ep[K - 1].w != ep[K - 2].w || ep[K - 1].h != ep[K - 2].h ||
                             memcmp(ep[K - 1].rgb, ep[K - 2].rgb, (size_t)ep[K - 1].w * ep[K - 1].h * 3);
            continue;
        }
        int diffs = 0, kind_kept = strlen(a) == strlen(b), has_alnum = 0;
        for (size_t i = 0; kind_kept && a[i]; i++) {
            has_alnum |= isalnum((unsigned char)a[i]) != 0;
            if (a[i] == b[i]) continue;
            diffs++;
            kind_kept &= (isdigit((unsigned char)a[i]) && isdigit((unsigned char)b[i])) ||
                         (isupper((unsigned char)a[i]) && isupper((unsigned char)b[i])) ||
                         (islower((unsigned char)a[i]) && islower((unsigned char)b[i]));
        }
        edited_ok &= kind_kept && diffs == has_alnum;
    }
    CHECK_MSG(prefix_ok, "a twin changed the crops before it");
    CHECK_MSG(same_ok && pixels_differ >= 9, "same-text twins: labels %s, %d of 10 drawn anew", same_ok ? "equal" : "differ",
              pixels_differ);
    CHECK_MSG(edited_ok, "an edited twin is not a one-character edit of the same kind");
    for (int k = 0; k < K; k++) icstr_render_crop_free(&plain[k]);
    CHECK(icstr_render_episode(r, 1, 1, 0, ep) == ICSTR_ERR_ARG);
    CHECK(icstr_render_episode(r, 1, 1, ICSTR_RENDER_MAX_EPISODE + 1, ep) == ICSTR_ERR_ARG);
    for (int k = 0; k < K; k++) icstr_render_crop_free(&ep[k]);
}

static void test_boxes_format(const icstr_renderer *r) {
    icstr_render_crop c = {0};
    CHECK(icstr_render_sample(r, 4, 4, &c) == ICSTR_OK);
    char buf[ICSTR_RENDER_MAX_LEN * 48 + 1];
    int n = icstr_render_boxes_format(&c, buf, sizeof buf);
    CHECK(n > 0 && (size_t)n == strlen(buf));
    icstr_render_box boxes[ICSTR_RENDER_MAX_LEN];
    int chars[ICSTR_RENDER_MAX_LEN], count = -1;
    CHECK(icstr_render_boxes_parse(buf, (size_t)n, boxes, chars, ICSTR_RENDER_MAX_LEN, &count) == ICSTR_OK);
    CHECK(count == c.n_boxes);
    for (int i = 0; i < count && i < c.n_boxes; i++) {
        CHECK(chars[i] == c.box_char[i]);
        CHECK_NEAR(boxes[i].x0, c.boxes[i].x0, 0.006);
        CHECK_NEAR(boxes[i].y1, c.boxes[i].y1, 0.006);
    }
    /* hand-written text, and what must be refused */
    const char *t = "0 1.50 2.00 3.25 9.00\n2 4 2 6 9\n";
    CHECK(icstr_render_boxes_parse(t, strlen(t), boxes, chars, 4, &count) == ICSTR_OK);
    CHECK(count == 2 && chars[1] == 2);
    CHECK_NEAR(boxes[0].x0, 1.5, 1e-6);
    CHECK_NEAR(boxes[1].x1, 6.0, 1e-6);
    CHECK(icstr_render_boxes_parse(t, strlen(t), boxes, chars, 1, &count) == ICSTR_ERR_RANGE);
    const char *bad1 = "0 1 2 3\n", *bad2 = "0 5 2 3 9\n", *bad3 = "x 1 2 3 4\n", *bad4 = "0 1 2 3 4 5\n";
    CHECK(icstr_render_boxes_parse(bad1, strlen(bad1), boxes, chars, 4, &count) == ICSTR_ERR_FORMAT);
    CHECK(icstr_render_boxes_parse(bad2, strlen(bad2), boxes, chars, 4, &count) == ICSTR_ERR_FORMAT);
    CHECK(icstr_render_boxes_parse(bad3, strlen(bad3), boxes, chars, 4, &count) == ICSTR_ERR_FORMAT);
    CHECK(icstr_render_boxes_parse(bad4, strlen(bad4), boxes, chars, 4, &count) == ICSTR_ERR_FORMAT);
    CHECK(icstr_render_boxes_parse("", 0, boxes, chars, 4, &count) == ICSTR_OK && count == 0);
    /* a buffer too small is an error, not a cut line */
    char small[10];
    CHECK(icstr_render_boxes_format(&c, small, sizeof small) == ICSTR_ERR_RANGE);
    icstr_render_crop_free(&c);
}

static void test_to_input(const icstr_renderer *r) {
    float *chw = malloc(3 * 32 * 128 * sizeof *chw);
    icstr_render_crop c = {0}, d = {0};
    CHECK(icstr_render_to_input(r, 8, 3, NULL, 32, 128, chw, &c) == ICSTR_OK);
    CHECK(icstr_render_sample(r, 8, 3, &d) == ICSTR_OK);
    CHECK(!strcmp(c.label, d.label));
    float lo = 2, hi = -2;
    for (int i = 0; i < 3 * 32 * 128; i++) {
        lo = chw[i] < lo ? chw[i] : lo;
        hi = chw[i] > hi ? chw[i] : hi;
    }
    CHECK_MSG(lo >= -1.00001f && hi <= 1.00001f && hi > lo, "input range %g..%g", (double)lo, (double)hi);
    free(chw);
    icstr_render_crop_free(&c);
    icstr_render_crop_free(&d);
}

/* Sources given explicitly: one font from a list file, a word list, a photo folder. */
/* Printed-document styles (p_document): grey scans of dark ink on light paper (half of them
 * thresholded to black and white), small, often in a fixed-pitch face, mostly upper case, the
 * crops' promises kept; out-of-range shares refused. */
static void test_documents(void) {
    icstr_render_params p = icstr_render_default_params();
    icstr_renderer *r = NULL;
    float refused[] = {-0.1f, 1.5f, (float)NAN};
    for (int k = 0; k < 3; k++) {
        p.p_document = refused[k];
        CHECK(icstr_render_create(&p, &r) == ICSTR_ERR_ARG && r == NULL);
    }
    p.p_document = 1.0f;
    CHECK(icstr_render_create(&p, &r) == ICSTR_OK);
    if (!r) return;
    int fixed_faces = 0;
    for (int f = 0; f < icstr_render_font_count(r); f++) fixed_faces += icstr_render_font_fixed_pitch(r, f);
    CHECK(fixed_faces > 0 && fixed_faces < icstr_render_font_count(r));
    CHECK(icstr_render_font_fixed_pitch(r, -1) == 0 && icstr_render_font_fixed_pitch(r, icstr_render_font_count(r)) == 0);
    icstr_render_crop c = {0};
    int n = 300, bad = 0, grey = 0, paper = 0, small = 0, fixed = 0, upper = 0, lettered = 0, two_tone = 0;
    for (int i = 0; i < n; i++) {
        if (icstr_render_sample(r, 17, (uint64_t)i, &c)) {
            bad++;
            continue;
        }
        bad += check_crop(&c, 1, ICSTR_RENDER_MAX_LEN, bad < 5);
        size_t np = (size_t)c.w * c.h;
        int tint = 0, hist[256] = {0};
        for (size_t q = 0; q < np; q++) {
            const unsigned char *px = c.rgb + 3 * q;
            int lo = px[0] < px[1] ? px[0] : px[1], hi = px[0] > px[1] ? px[0] : px[1];
            lo = px[2] < lo ? px[2] : lo;
            hi = px[2] > hi ? px[2] : hi;
            tint += hi - lo > 3; /* JPEG may round a channel */
            hist[(px[0] + px[1] + px[2]) / 3]++;
        }
        grey += tint == 0;
        int levels = 0;
        for (int v = 0; v < 256; v++) levels += hist[v] > 0;
        two_tone += levels == 2; /* a thresholded scan: ink and paper, nothing between */
        /* most pixels are paper; some are ink, clearly darker */
        size_t acc = 0;
        int median = 0, dark = 0;
        while (acc + hist[median] <= np / 2) acc += hist[median++];
        for (int v = 0; v < 256; v++) dark += v < median - 60 ? hist[v] : 0;
        paper += median >= 150 && dark > 0;
        small += c.h <= 30;
        fixed += icstr_render_font_fixed_pitch(r, c.font_id);
        int up = 0, lo = 0;
        for (const char *s = c.label; *s; s++) {
            up += *s >= 'A' && *s <= 'Z';
            lo += *s >= 'a' && *s <= 'z';
        }
        lettered += up + lo > 1;
        upper += up > 1 && lo == 0;
    }
    CHECK_MSG(bad == 0, "%d broken promises over %d document crops", bad, n);
    CHECK_MSG(grey == n, "%d of %d document crops grey", grey, n);
    CHECK_MSG(paper >= n * 9 / 10, "%d of %d document crops light paper with dark ink", paper, n);
    /* half the styles are thresholded scans, some of those JPEG-compressed after */
    CHECK_MSG(two_tone > n / 5 && two_tone < n * 3 / 5, "%d of %d document crops thresholded to two tones", two_tone, n);
    CHECK_MSG(small == n, "%d of %d document crops at most 30 px high", small, n);
    /* half the styles draw from the fixed-pitch faces, the rest from all (a few of them fixed) */
    CHECK_MSG(fixed > n * 2 / 5, "%d of %d document crops in a fixed-pitch face", fixed, n);
    CHECK_MSG(upper > lettered / 2, "%d of %d lettered document crops in capitals", upper, lettered);
    icstr_render_crop_free(&c);
    icstr_render_free(r);
}

static void test_sources(void) {
    char dir[] = "/tmp/icstr_render_XXXXXX";
    if (!mkdtemp(dir)) {
        CHECK(0);
        return;
    }
    char list[256], words[256], photos[256], png[300];
    snprintf(list, sizeof list, "%s/fonts.txt", dir);
    snprintf(words, sizeof words, "%s/words.txt", dir);
    snprintf(photos, sizeof photos, "%s/photos", dir);
    snprintf(png, sizeof png, "%s/p.png", photos);
    FILE *f = fopen(list, "w");
    fprintf(f, "# one face\n/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf\n");
    fclose(f);
    f = fopen(words, "w");
    fprintf(f, "alpha\nbeta\ngamma\nbeta\ncaf\xc3\xa9\nzeta's\n");
    fclose(f);
    mkdir(photos, 0700);
    enum { PW = 40, PH = 30 };
    unsigned char pix[PW * PH * 3];
    for (int i = 0; i < PW * PH * 3; i++) pix[i] = (unsigned char)(i * 7);
    CHECK(stbi_write_png(png, PW, PH, 3, pix, PW * 3) != 0);

    icstr_render_params p = icstr_render_default_params();
    p.font_dirs = "";
    p.font_list = list;
    p.word_lists = words;
    p.photo_dirs = photos;
    p.p_photo = 1;
    icstr_renderer *r = NULL;
    CHECK(icstr_render_create(&p, &r) == ICSTR_OK);
    if (r) {
        CHECK(icstr_render_font_count(r) == 1);
        CHECK(!strcmp(icstr_render_font_path(r, 0), "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"));
        CHECK(icstr_render_word_count(r) == 3); /* duplicates, non-ASCII and possessives dropped */
        CHECK(icstr_render_photo_count(r) == 1);
        icstr_render_crop c = {0};
        int bad = 0;
        for (int i = 0; i < 100; i++) {
            if (icstr_render_sample(r, 2, (uint64_t)i, &c))
                bad++;
            else
                bad += check_crop(&c, 1, 25, bad < 5) + (c.font_id != 0);
        }
        CHECK(bad == 0);
        icstr_render_crop_free(&c);
        icstr_render_free(r);
    }
    /* failures say what is wrong */
    p = icstr_render_default_params();
    p.font_dirs = "/nonexistent/fonts";
    CHECK(icstr_render_create(&p, &r) == ICSTR_ERR_IO && r == NULL);
    p = icstr_render_default_params();
    p.font_dirs = dir; /* a folder with no font in it */
    CHECK(icstr_render_create(&p, &r) == ICSTR_ERR_NOTFOUND);
    p = icstr_render_default_params();
    p.min_height = 70;
    p.max_height = 60;
    CHECK(icstr_render_create(&p, &r) == ICSTR_ERR_ARG);
    p = icstr_render_default_params();
    p.max_len = 30;
    CHECK(icstr_render_create(&p, &r) == ICSTR_ERR_ARG);
    CHECK(icstr_render_create(NULL, &r) == ICSTR_ERR_ARG);

    unlink(png);
    rmdir(photos);
    unlink(list);
    unlink(words);
    rmdir(dir);
}

int main(void) {
    icstr_log_set_level(ICSTR_LOG_WARN);
    icstr_render_params p = icstr_render_default_params();
    icstr_renderer *r = NULL;
    int rc = icstr_render_create(&p, &r);
    CHECK_MSG(rc == ICSTR_OK, "%s: %s (are the fonts of scripts/debian-packages.txt installed?)",
              icstr_strerror(rc), icstr_last_error());
    if (r) {
        test_fonts_and_words(r);
        test_determinism(r);
        test_threads(r);
        test_many(r);
        test_opts(r);
        test_episodes(r);
        test_boxes_format(r);
        test_to_input(r);
        icstr_render_free(r);
    }
    test_sources();
    test_documents();
    return check_finish("test_render");
}
