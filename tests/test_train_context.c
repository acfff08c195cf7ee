/* In-context training sequences: the chunk count follows the config, sequences are a pure
 * function of (seed, step, index), split prompts carry pieces of the query's label, recoloured
 * copies keep it, episodes share a style, and the neighbour table matches a brute-force search
 * over the model's embeddings. init_from (icstr_train_weights_load) of a model without the
 * similarity bands into one with them: every weight as in the file, the bands at zero; any
 * other missing tensor is still refused. Long rendered lines cut into the reader's pieces, each
 * labelled with the glyphs it holds. */
#include "check.h"
#include "model_internal.h"
#include "model_io.h"
#include "train_batch.h"
#include "train_internal.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char tmpdir[] = "/tmp/icstr_test_ctx_XXXXXX";

static int make_lmdb(const char *path, int n) {
    icstr_render_params rp = icstr_render_default_params();
    rp.max_fonts = 3;
    rp.max_len = 6;
    icstr_renderer *r = NULL;
    icstr_str_writer *w = NULL;
    if (icstr_render_create(&rp, &r) || icstr_str_writer_open(path, &w)) return -1;
    icstr_render_crop crop = {0};
    for (int i = 0; i < n; i++) {
        unsigned char *png;
        size_t len;
        if (icstr_render_sample(r, 11, (uint64_t)i, &crop) || icstr_image_encode_png(crop.w, crop.h, 3, crop.rgb, &png, &len))
            return -1;
        int rc = icstr_str_writer_add(w, png, len, crop.label, NULL);
        free(png);
        if (rc) return -1;
    }
    /* pairs of crops that share a label (twins for the in-context sequences) */
    icstr_render_opts o = icstr_render_default_opts(r);
    o.twin = ICSTR_TWIN_SAME;
    icstr_render_crop pair[2] = {{0}};
    for (int i = 0; i < 6; i++) {
        if (icstr_render_episode_opts(r, 13, (uint64_t)i, 2, &o, pair)) return -1;
        for (int t = 0; t < 2; t++) {
            unsigned char *png;
            size_t len;
            if (icstr_image_encode_png(pair[t].w, pair[t].h, 3, pair[t].rgb, &png, &len)) return -1;
            int rc = icstr_str_writer_add(w, png, len, pair[t].label, NULL);
            free(png);
            if (rc) return -1;
        }
    }
    icstr_render_crop_free(&pair[0]);
    icstr_render_crop_free(&pair[1]);
    icstr_render_crop_free(&crop);
    icstr_render_free(r);
    return icstr_str_writer_close(w);
}

/* The twin table holds exactly the train crops whose label another train crop has, grouped. */
static int twin_table_ok(const icstr_train_data *td) {
    long expected = 0;
    for (long i = 0; i < td->n_train; i++) {
        int shared = 0;
        for (long j = 0; j < td->n_train && !shared; j++)
            shared = j != i && !strcmp(td->crops[td->train_idx[i]].label, td->crops[td->train_idx[j]].label);
        expected += shared;
    }
    int ok = td->n_twins == expected;
    for (long t = 0; t < td->n_twins && ok; t++) {
        long g = td->twin_group[t];
        ok = td->twin_size[t] >= 2 && g <= t && t < g + td->twin_size[t] &&
             !strcmp(td->crops[td->twins[t]].label, td->crops[td->twins[g]].label);
    }
    return ok;
}

/* frame_fraction 1: every synthetic word is the same word (label) as without frames, in other
 * pixels; frame_fraction 0 gives the unframed samples. */
static void test_framed_samples(icstr_model *m, icstr_train_config tc, const icstr_model_config *mc) {
    size_t img = (size_t)3 * mc->img_h * mc->img_w;
    tc.synth_fraction = 1.0f;
    tc.prompts_max = 0;
    icstr_train_data *plain = NULL, *framed = NULL;
    CHECK(icstr_train_data_open(m, &tc, &plain) == ICSTR_OK);
    tc.frame_fraction = 1.0f;
    CHECK(icstr_train_data_open(m, &tc, &framed) == ICSTR_OK);
    float *a = malloc(sizeof(float) * img), *b = malloc(sizeof(float) * img);
    int labels_same = 1, differ = 0;
    for (int i = 0; plain && framed && i < 12; i++) {
        char la[64], lb[64];
        CHECK(icstr_train_data_sample(plain, 7, i, a, la, sizeof la) == ICSTR_OK);
        CHECK(icstr_train_data_sample(framed, 7, i, b, lb, sizeof lb) == ICSTR_OK);
        labels_same &= !strcmp(la, lb);
        differ += memcmp(a, b, sizeof(float) * img) != 0;
    }
    CHECK_MSG(labels_same && differ == 12, "framed samples: labels %s, %d of 12 framed", labels_same ? "same" : "differ",
              differ);
    free(a);
    free(b);
    icstr_train_data_close(plain);
    icstr_train_data_close(framed);
}

/* twin_fraction 1: every sequence with prompts has a twin as its nearest prompt: the query's
 * label in another input, or (a rendered decoy) a one-character edit of it; every loss on. */
static void test_twin_sequences(icstr_model *m, icstr_train_config tc, const icstr_model_config *mc) {
    tc.twin_fraction = 1.0f;
    tc.copy_fraction = 0.0f;
    icstr_train_data *td = NULL;
    CHECK(icstr_train_data_open(m, &tc, &td) == ICSTR_OK);
    if (!td) return;
    CHECK(icstr_train_context_prepare(td, m) == ICSTR_OK);
    CHECK_MSG(td->n_twins == 12 && twin_table_ok(td), "%ld crops in the twin table", td->n_twins);
    icstr_train_batch a;
    CHECK(icstr_train_batch_alloc(&a, mc, tc.batch_size, tc.prompts_max) == ICSTR_OK);
    int same = 0, edited = 0, shape_ok = 1;
    for (long step = 0; step < 4; step++) {
        CHECK(icstr_train_batch_fill(&a, td, m, step) == ICSTR_OK);
        for (int s = 0; s < a.B; s++) {
            int k = a.n_chunks[s];
            if (k < 2) continue;
            int last = a.first[s] + k - 2;
            const char *query = a.labels + (size_t)(last + 1) * ICSTR_LABEL_CAP;
            const char *near = a.labels + (size_t)last * ICSTR_LABEL_CAP;
            const uint8_t *loss = a.loss_on + (size_t)s * a.max_chunks;
            for (int c = 0; c < k; c++) shape_ok &= loss[c] == ICSTR_LOSS_ALL;
            shape_ok &= memcmp(a.images + (size_t)last * a.img, a.images + (size_t)(last + 1) * a.img,
                               a.img * sizeof(float)) != 0;
            if (!strcmp(near, query)) {
                same++;
                continue;
            }
            int diffs = 0;
            for (size_t i = 0; near[i] && query[i]; i++) diffs += near[i] != query[i];
            shape_ok &= strlen(near) == strlen(query) && diffs == 1;
            edited++;
        }
    }
    CHECK_MSG(shape_ok, "a twin sequence is not a twin");
    CHECK_MSG(same > 10 && edited > 2, "%d twins with the query's label, %d edited", same, edited);
    icstr_train_batch_free(&a);
    icstr_train_data_close(td);
}

/* A cipher merge: the query's one character that a prompt also shows ('O' here: R and M are in no
 * prompt) is written as the same other character in every label; nothing else changes; half the
 * time a lookalike ('0'). No shared character: nothing changes. */
static void test_cipher_labels(void) {
    enum { CAP = 16 };
    const char *orig[3] = {"HOUSE", "BOAT", "ROOM"};
    int ok = 1, merged = 0, lookalike = 0, other = 0;
    for (uint64_t seed = 0; seed < 60; seed++) {
        char labels[3 * CAP] = {0};
        for (int c = 0; c < 3; c++) strcpy(labels + c * CAP, orig[c]);
        icstr_rng r;
        icstr_rng_seed(&r, seed);
        merged += icstr_train_cipher_labels(&r, labels, CAP, 3, 0);
        char to = labels[2 * CAP + 1];
        for (int c = 0; c < 3; c++) {
            const char *a = orig[c], *b = labels + c * CAP;
            ok &= strlen(a) == strlen(b);
            for (size_t i = 0; a[i]; i++) ok &= a[i] == 'O' ? b[i] == to && to != 'O' : b[i] == a[i];
        }
        lookalike += to == '0';
        other += to != '0';
    }
    CHECK_MSG(ok && merged == 60, "merged %d of 60", merged);
    CHECK_MSG(lookalike > 15 && other > 15, "O written 0 %d times, as another character %d times", lookalike, other);
    char none[2 * CAP] = "ABC";
    strcpy(none + CAP, "XYZ");
    icstr_rng r;
    icstr_rng_seed(&r, 1);
    CHECK(icstr_train_cipher_labels(&r, none, CAP, 2, 0) == 0 && !strcmp(none, "ABC") && !strcmp(none + CAP, "XYZ"));
    CHECK(icstr_train_cipher_labels(&r, none + CAP, CAP, 1, 0) == 0 && !strcmp(none + CAP, "XYZ"));
}

/* A decoy merge: a character the prompts show and the query ("ROOM") does not (H, U, S, E, B, A or
 * T) is written as another in the prompts' labels; the query's label and every other character
 * stay. A query that holds every prompt character: nothing changes. */
static void test_cipher_decoys(void) {
    enum { CAP = 16 };
    const char *orig[3] = {"HOUSE", "BOAT", "ROOM"};
    int ok = 1, merged = 0, renamed[128] = {0};
    for (uint64_t seed = 0; seed < 80; seed++) {
        char labels[3 * CAP] = {0};
        for (int c = 0; c < 3; c++) strcpy(labels + c * CAP, orig[c]);
        icstr_rng r;
        icstr_rng_seed(&r, seed);
        merged += icstr_train_cipher_labels(&r, labels, CAP, 3, 1);
        ok &= !strcmp(labels + 2 * CAP, "ROOM");
        char from = 0, to = 0;
        for (int c = 0; c < 2; c++) {
            const char *a = orig[c], *b = labels + c * CAP;
            ok &= strlen(a) == strlen(b);
            for (size_t i = 0; a[i]; i++) {
                if (a[i] == b[i]) continue;
                ok &= (!from || (from == a[i] && to == b[i])) && !strchr("ROM", a[i]);
                from = a[i];
                to = b[i];
            }
        }
        /* every occurrence of the renamed character changed */
        for (int c = 0; c < 2 && from; c++) ok &= !strchr(labels + c * CAP, from);
        ok &= from != 0;
        renamed[(unsigned char)from]++;
    }
    CHECK_MSG(ok && merged == 80, "decoys: merged %d of 80", merged);
    CHECK_MSG(renamed['H'] && renamed['U'] && renamed['S'] && renamed['E'] && renamed['B'] && renamed['A'] &&
                  renamed['T'],
              "a prompt character the query lacks was never chosen");
    char all[2 * CAP] = "RMO";
    strcpy(all + CAP, "ROOM");
    icstr_rng r;
    icstr_rng_seed(&r, 3);
    CHECK(icstr_train_cipher_labels(&r, all, CAP, 2, 1) == 0 && !strcmp(all, "RMO") && !strcmp(all + CAP, "ROOM"));
}

/* cipher_fraction 1: every sequence with prompts is a style or caption episode; where a merge was
 * possible, the query alone carries a loss, the decoder's, and its merged character is in a
 * prompt's label; the rest train everything. */
static void test_cipher_sequences(icstr_model *m, icstr_train_config tc, const icstr_model_config *mc) {
    tc.cipher_fraction = 1.0f;
    icstr_train_data *td = NULL;
    CHECK(icstr_train_data_open(m, &tc, &td) == ICSTR_OK);
    if (!td) return;
    CHECK(icstr_train_context_prepare(td, m) == ICSTR_OK);
    icstr_train_batch a;
    CHECK(icstr_train_batch_alloc(&a, mc, tc.batch_size, tc.prompts_max) == ICSTR_OK);
    int merged = 0, unmerged = 0, shape_ok = 1;
    for (long step = 0; step < 4; step++) {
        CHECK(icstr_train_batch_fill(&a, td, m, step) == ICSTR_OK);
        for (int s = 0; s < a.B; s++) {
            int k = a.n_chunks[s];
            if (k < 2) continue;
            const uint8_t *loss = a.loss_on + (size_t)s * a.max_chunks;
            const char *query = a.labels + (size_t)(a.first[s] + k - 1) * ICSTR_LABEL_CAP;
            if (loss[k - 1] != ICSTR_LOSS_TEXT) {
                for (int c = 0; c < k; c++) shape_ok &= loss[c] == ICSTR_LOSS_ALL;
                unmerged++;
                continue;
            }
            int shared = 0;
            for (int c = 0; c < k - 1; c++) {
                shape_ok &= loss[c] == ICSTR_LOSS_NONE;
                const char *p = a.labels + (size_t)(a.first[s] + c) * ICSTR_LABEL_CAP;
                for (const char *q = query; *q; q++) shared |= strchr(p, *q) != NULL;
            }
            shape_ok &= shared;
            merged++;
        }
    }
    CHECK_MSG(shape_ok, "a cipher sequence has the wrong losses");
    CHECK_MSG(merged > 10, "%d merged cipher episodes, %d not", merged, unmerged);
    icstr_train_batch_free(&a);
    icstr_train_data_close(td);
}

static int same_tensor(icstr_model *a, icstr_model *b, const char *name) {
    const icstr_slab *sa = icstr_model_slab(a), *sb = icstr_model_slab(b);
    const icstr_param *pa = NULL, *pb = NULL;
    for (int i = 0; i < sa->count; i++)
        if (!strcmp(sa->params[i].name, name)) pa = &sa->params[i];
    for (int i = 0; i < sb->count; i++)
        if (!strcmp(sb->params[i].name, name)) pb = &sb->params[i];
    if (!pa || !pb || pa->numel != pb->numel) return 0;
    return !memcmp(sa->data + pa->offset, sb->data + pb->offset, pa->numel * sizeof(float));
}

static void test_init_from_bands(const icstr_model_config *base) {
    char path[256];
    snprintf(path, sizeof path, "%s/plain.safetensors", tmpdir);
    icstr_model_config with = *base;
    with.prompt_similarity = 1;
    icstr_model *a = NULL, *b = NULL, *c = NULL;
    CHECK(icstr_model_create(base, 0, &a) == ICSTR_OK && icstr_model_create(&with, 1, &b) == ICSTR_OK);
    if (!a || !b) return;
    icstr_model_init_weights(a, 3);
    icstr_model_init_weights(b, 9);
    CHECK(icstr_model_save(a, path, ICSTR_ST_F32, NULL, NULL, 0) == ICSTR_OK);
    CHECK_MSG(icstr_train_weights_load(b, path) == ICSTR_OK, "%s", icstr_last_error());
    const icstr_slab *sb = icstr_model_slab(b);
    int all_same = 1, bands_zero = 1, has_bands = 0;
    for (int i = 0; i < sb->count; i++) {
        const icstr_param *p = &sb->params[i];
        if (strcmp(p->name, "dec.sim_emb")) {
            all_same &= same_tensor(a, b, p->name);
            continue;
        }
        has_bands = 1;
        for (size_t e = 0; e < p->numel; e++) bands_zero &= sb->data[p->offset + e] == 0.0f;
    }
    CHECK(all_same && has_bands && bands_zero);
    /* another missing tensor (a model with another decoder depth) is still an error */
    icstr_model_config deeper = with;
    deeper.dec_layers = base->dec_layers + 1;
    CHECK(icstr_model_create(&deeper, 1, &c) == ICSTR_OK);
    if (c) CHECK(icstr_train_weights_load(c, path) == ICSTR_ERR_MISMATCH);
    icstr_model_free(a);
    icstr_model_free(b);
    icstr_model_free(c);
    unlink(path);
}

/* A frame with one caption, above or below, and no margins. */
static int compose_one(const icstr_render_crop *word, const icstr_render_crop *caption, int above, float scale,
                       float shift, icstr_image *out) {
    icstr_train_frame f = {{0, 0}, {0, 0}, 0};
    f.scale[above ? 0 : 1] = scale;
    f.shift[above ? 0 : 1] = shift;
    const icstr_render_crop *caps[2] = {above ? caption : NULL, above ? NULL : caption};
    return icstr_train_frame_compose(word, caps, &f, out);
}

/* Both captions and margins: the word at (margin, top height), each caption where its shift puts
 * it, everything else the mean colour of the word's top and bottom rows. */
static void test_frame_both(const icstr_render_crop *word) {
    icstr_render_crop top = {0}, bottom = {0};
    top.w = 20, top.h = 10, bottom.w = 10, bottom.h = 10;
    top.rgb = malloc(20 * 10 * 3);
    bottom.rgb = malloc(10 * 10 * 3);
    memset(top.rgb, 255, 20 * 10 * 3);
    memset(bottom.rgb, 1, 10 * 10 * 3);
    icstr_train_frame f = {{0.4f, 0.3f}, {0.0f, 1.0f}, 0.1f};
    const icstr_render_crop *caps[2] = {&top, &bottom};
    icstr_image out = {0, 0, NULL};
    CHECK(icstr_train_frame_compose(word, caps, &f, &out) == ICSTR_OK);
    /* margins 4 each side: 48 wide; top caption 4 high (8 wide at x 0), bottom 3 high raised to the
     * 4-pixel minimum (4 wide at x 44) */
    CHECK_MSG(out.w == 48 && out.h == 4 + 10 + 4, "%d x %d", out.w, out.h);
    if (out.rgb && out.w == 48 && out.h == 18) {
        int word_ok = 1, rest_ok = 1;
        for (int y = 0; y < 10; y++) word_ok &= !memcmp(out.rgb + ((size_t)(4 + y) * 48 + 4) * 3, word->rgb + (size_t)y * 40 * 3, 40 * 3);
        unsigned long sum[3] = {0, 0, 0};
        for (int x = 0; x < 40; x++)
            for (int c = 0; c < 3; c++) sum[c] += word->rgb[x * 3 + c] + word->rgb[(9 * 40 + x) * 3 + c];
        for (int y = 0; y < 18; y++)
            for (int x = 0; x < 48; x++)
                for (int c = 0; c < 3; c++) {
                    unsigned char v = out.rgb[(y * 48 + x) * 3 + c];
                    if (y < 4) rest_ok &= x < 8 ? v == 255 : v == (unsigned char)(sum[c] / 80);
                    else if (y >= 14) rest_ok &= x >= 44 ? v == 1 : v == (unsigned char)(sum[c] / 80);
                    else if (x < 4 || x >= 44) rest_ok &= v == (unsigned char)(sum[c] / 80);
                }
        CHECK(word_ok && rest_ok);
    }
    icstr_image_free(&out);
    free(top.rgb);
    free(bottom.rgb);
}

/* A caption crop: the word's pixels unchanged, the caption scaled beside them on the edge colour. */
static void test_caption_compose(void) {
    icstr_render_crop word = {0}, caption = {0};
    word.w = 40, word.h = 10, caption.w = 30, caption.h = 10;
    word.rgb = malloc(40 * 10 * 3);
    caption.rgb = malloc(30 * 10 * 3);
    for (int i = 0; i < 40 * 10 * 3; i++) word.rgb[i] = (unsigned char)(i % 7 == 0 ? 200 : 50 + i % 3);
    memset(caption.rgb, 255, 30 * 10 * 3);
    icstr_image out = {0, 0, NULL};
    /* above, half the word's height: a 15 x 5 caption at x = shift * (40 - 15) = 10 */
    CHECK(compose_one(&word, &caption, 1, 0.5f, 0.4f, &out) == ICSTR_OK);
    CHECK(out.w == 40 && out.h == 15);
    if (out.rgb && out.w == 40 && out.h == 15) {
        CHECK(!memcmp(out.rgb + 5 * 40 * 3, word.rgb, 40 * 10 * 3));
        unsigned long sum[3] = {0, 0, 0};
        for (int x = 0; x < 40; x++)
            for (int c = 0; c < 3; c++) sum[c] += word.rgb[x * 3 + c];
        int bg_ok = 1, caption_ok = 1;
        for (int y = 0; y < 5; y++)
            for (int x = 0; x < 40; x++)
                for (int c = 0; c < 3; c++) {
                    unsigned char v = out.rgb[(y * 40 + x) * 3 + c];
                    if (x >= 10 && x < 25) caption_ok &= v == 255;
                    else bg_ok &= v == (unsigned char)(sum[c] / 40);
                }
        CHECK(bg_ok && caption_ok);
    }
    icstr_image_free(&out);
    /* below, and a caption too wide for the word is narrowed to the word's width */
    caption.w = 200;
    free(caption.rgb);
    caption.rgb = malloc(200 * 10 * 3);
    memset(caption.rgb, 0, 200 * 10 * 3);
    CHECK(compose_one(&word, &caption, 0, 0.5f, 1.0f, &out) == ICSTR_OK);
    CHECK(out.w == 40 && out.h == 14); /* 40 wide -> 2 high, raised to the 4-pixel minimum */
    if (out.rgb && out.w == 40 && out.h == 14) CHECK(!memcmp(out.rgb, word.rgb, 40 * 10 * 3));
    icstr_image_free(&out);
    test_frame_both(&word);
    free(word.rgb);
    free(caption.rgb);
}

/* Long rendered lines as the reader's pieces (icstr_train_line_piece): a piece never cuts
 * through a glyph, its label is the run of the line's label whose glyphs it holds (checked
 * glyph by glyph), a line too short to cut gives none, and the synthetic stream hands pieces
 * out at train.line_piece_fraction and whole crops without it. */
static void test_line_pieces(const icstr_model_config *mc) {
    icstr_render_params rp = icstr_render_default_params();
    rp.max_fonts = 6;
    rp.p_document = 1.0f;
    icstr_renderer *r = NULL;
    CHECK(icstr_render_create(&rp, &r) == ICSTR_OK);
    if (!r) return;
    icstr_render_opts o = icstr_render_default_opts(r);
    o.min_len = 16;
    o.max_len = 24;
    icstr_render_crop c = {0};
    int pieces = 0, wrong = 0;
    for (int i = 0; i < 60; i++) {
        if (icstr_render_sample_opts(r, 5, (uint64_t)i, &o, &c)) continue;
        icstr_rng g;
        icstr_rng_seed(&g, (uint64_t)i);
        int x0 = -1, x1 = -1;
        char label[64];
        int got = icstr_train_line_piece(&c, &g, &x0, &x1, label, sizeof label);
        CHECK(got >= 0);
        if (got != 1) continue;
        pieces++;
        /* the glyphs inside, in the label's order, spell the piece's label without its spaces */
        char want[64];
        int n = 0, cut_glyph = 0;
        for (int ch = 0; c.label[ch]; ch++)
            for (int b = 0; b < c.n_boxes; b++) {
                if (c.box_char[b] != ch) continue;
                float cx = 0.5f * (c.boxes[b].x0 + c.boxes[b].x1);
                if (cx >= (float)x0 && cx < (float)x1 && n < 63) want[n++] = c.label[ch];
                for (int e = 0; e < 2; e++) { /* neither edge of the piece runs through a glyph */
                    float edge = (float)(e ? x1 : x0);
                    cut_glyph |= c.boxes[b].x0 < edge - 1.0f && c.boxes[b].x1 > edge + 1.0f;
                }
            }
        want[n] = 0;
        char bare[64];
        int m = 0;
        for (const char *q = label; *q; q++)
            if (*q != ' ') bare[m++] = *q;
        bare[m] = 0;
        int ok = x0 >= 0 && x0 < x1 && x1 <= c.w && !cut_glyph && !strcmp(bare, want) && strstr(c.label, label);
        if (!ok && wrong++ < 3)
            fprintf(stderr, "  piece [%d, %d) of \"%s\" (%d px): \"%s\", its glyphs \"%s\"\n", x0, x1, c.label, c.w,
                    label, want);
    }
    CHECK_MSG(wrong == 0, "%d of %d pieces mislabelled", wrong, pieces);
    CHECK_MSG(pieces >= 15, "%d pieces of 60 long document lines", pieces);
    /* a crop no wider than 3.6 heights is not cut */
    o.min_len = 1;
    o.max_len = 2;
    int short_pieces = 0;
    for (int i = 0; i < 20; i++) {
        if (icstr_render_sample_opts(r, 6, (uint64_t)i, &o, &c) || c.w > 3 * c.h) continue;
        icstr_rng g;
        icstr_rng_seed(&g, (uint64_t)i);
        int x0, x1;
        char label[64];
        short_pieces += icstr_train_line_piece(&c, &g, &x0, &x1, label, sizeof label) != 0;
    }
    CHECK(short_pieces == 0);
    icstr_render_crop_free(&c);
    icstr_render_free(r);

    /* the stream: with line_piece_fraction 1 some samples change (pieces), with 0 none does */
    icstr_train_config tc = icstr_train_default_config();
    tc.document_fraction = 1.0f;
    icstr_model_config big = *mc;
    big.max_label = 25;
    icstr_train_synth *plain = NULL, *cut = NULL;
    CHECK(icstr_train_synth_open(&big, &tc, &plain) == ICSTR_OK);
    tc.line_piece_fraction = 1.0f;
    CHECK(icstr_train_synth_open(&big, &tc, &cut) == ICSTR_OK);
    if (plain && cut) {
        size_t img = (size_t)3 * big.img_h * big.img_w;
        float *a = malloc(img * sizeof *a), *b = malloc(img * sizeof *b), *b2 = malloc(img * sizeof *b2);
        char la[64], lb[64];
        int differ = 0;
        for (int i = 0; i < 40; i++) {
            CHECK(icstr_train_synth_sample(plain, (uint64_t)i * 7919, 100000, a, la, sizeof la) == ICSTR_OK);
            CHECK(icstr_train_synth_sample(cut, (uint64_t)i * 7919, 100000, b, lb, sizeof lb) == ICSTR_OK);
            /* without pieces, the crops the renderer always drew */
            icstr_render_opts so = icstr_train_synth_opts(plain, 100000);
            CHECK(icstr_render_to_input(icstr_train_synth_renderer(plain), (uint64_t)i * 7919, 0, &so, big.img_h,
                                        big.img_w, b2, &c) == ICSTR_OK);
            CHECK(!memcmp(a, b2, img * sizeof *a) && !strcmp(la, c.label));
            /* a piece may hold every glyph (the cut took a neighbour's fragment off) */
            CHECK_MSG(strstr(la, lb) != NULL, "\"%s\" is no run of \"%s\"", lb, la);
            differ += strcmp(la, lb) != 0;
        }
        CHECK_MSG(differ >= 5, "%d of 40 long lines cut to a piece", differ);
        free(a);
        free(b);
        free(b2);
    }
    icstr_render_crop_free(&c);
    icstr_train_synth_close(plain);
    icstr_train_synth_close(cut);
}

int main(void) {
    icstr_log_set_level(ICSTR_LOG_WARN);
    test_caption_compose();
    test_cipher_labels();
    test_cipher_decoys();
    if (!mkdtemp(tmpdir)) return 1;
    icstr_model_config mc = icstr_model_default_config();
    mc.img_h = 16;
    mc.img_w = 64;
    mc.stem = 0;
    mc.enc_dim = mc.dec_dim = 16;
    mc.enc_layers = mc.dec_layers = 1;
    mc.enc_heads = mc.dec_heads = 2;
    mc.enc_mlp = mc.dec_mlp = 32;
    mc.latents = 4;
    mc.max_label = 12;
    test_init_from_bands(&mc);
    test_line_pieces(&mc);
    icstr_train_config tc = icstr_train_default_config();
    tc.batch_size = 24;
    tc.synth_fraction = 0.5f;
    tc.prompts_max = 3;
    tc.incontext_fraction = 0.8f;
    tc.copy_fraction = 0.25f;
    tc.val_size = 0;
    tc.threads = 1;
    tc.n_sources = 1;
    snprintf(tc.sources[0].path, sizeof tc.sources[0].path, "%s/real.lmdb", tmpdir);
    tc.sources[0].weight = 1;
    CHECK(make_lmdb(tc.sources[0].path, 40) == ICSTR_OK);

    icstr_model *m = NULL;
    icstr_train_data *td = NULL;
    CHECK(icstr_model_create(&mc, 0, &m) == ICSTR_OK);
    CHECK_MSG(icstr_train_data_open(m, &tc, &td) == ICSTR_OK, "%s", icstr_last_error());
    if (!m || !td) return check_finish("test_train_context");
    CHECK(icstr_train_context_prepare(td, m) == ICSTR_OK);

    /* the neighbour table against brute force */
    long n = td->n_train;
    int D = mc.dec_dim;
    size_t img = (size_t)3 * mc.img_h * mc.img_w;
    float *emb = malloc(sizeof(float) * (size_t)n * D), *x = malloc(sizeof(float) * img);
    for (long i = 0; i < n; i++) {
        icstr_image_to_input(&td->crops[td->train_idx[i]].img, mc.img_h, mc.img_w, x);
        icstr_model_encode(m, x, 1, NULL, emb + (size_t)i * D);
    }
    int table_ok = 1;
    for (long i = 0; i < n; i++) {
        const long *nb = td->neighbours[td->train_idx[i]];
        double prev = 2.0;
        for (int k = 0; k < ICSTR_TRAIN_NEIGHBOURS; k++) {
            long j = -1;
            for (long t = 0; t < n; t++)
                if (td->train_idx[t] == nb[k]) j = t;
            double s = 0;
            for (int d = 0; d < D; d++) s += (double)emb[i * D + d] * emb[j * D + d];
            table_ok &= j >= 0 && j != i && s <= prev + 1e-4;
            prev = s;
        }
        /* nothing outside the list beats its last entry */
        for (long t = 0; t < n; t++) {
            if (t == i) continue;
            double s = 0;
            for (int d = 0; d < D; d++) s += (double)emb[i * D + d] * emb[t * D + d];
            int listed = 0;
            for (int k = 0; k < ICSTR_TRAIN_NEIGHBOURS; k++) listed |= td->train_idx[t] == nb[k];
            table_ok &= listed || s <= prev + 1e-4;
        }
    }
    CHECK(table_ok);
    free(emb);
    free(x);

    /* chunk counts and determinism over a few batches */
    icstr_train_batch a, b;
    CHECK(icstr_train_batch_alloc(&a, &mc, tc.batch_size, tc.prompts_max) == ICSTR_OK);
    CHECK(icstr_train_batch_alloc(&b, &mc, tc.batch_size, tc.prompts_max) == ICSTR_OK);
    int with_prompts = 0, plain = 0, counts_ok = 1, same = 1, split_seen = 0, identical_seen = 0;
    int copy_seen = 0, copy_relabelled = 0, decoy_seen = 0, flags_ok = 1;
    for (long step = 0; step < 6; step++) {
        CHECK_MSG(icstr_train_batch_fill(&a, td, m, step) == ICSTR_OK, "%s", icstr_last_error());
        CHECK(icstr_train_batch_fill(&b, td, m, step) == ICSTR_OK);
        same &= a.n_images == b.n_images && !memcmp(a.images, b.images, a.n_images * a.img * sizeof(float)) &&
                !memcmp(a.labels, b.labels, (size_t)a.n_images * ICSTR_LABEL_CAP);
        for (int s = 0; s < a.B; s++) {
            int k = a.n_chunks[s];
            counts_ok &= k >= 1 && k <= 1 + tc.prompts_max;
            if (k == 1) plain++;
            else with_prompts++;
            const char *query = a.labels + (size_t)(a.first[s] + k - 1) * ICSTR_LABEL_CAP;
            /* a split sequence: the prompts are a prefix and/or suffix of the query's label, the
             * nearest prompt is a recoloured copy with the query's label */
            if (k >= 3) {
                const char *p0 = a.labels + (size_t)a.first[s] * ICSTR_LABEL_CAP;
                const char *last = a.labels + (size_t)(a.first[s] + k - 2) * ICSTR_LABEL_CAP;
                if (!strcmp(last, query) && strcmp(p0, query) && strstr(query, p0)) split_seen++;
            }
            /* the hard-sample loop: the nearest prompt is the query's very input, label and all */
            if (k >= 2) {
                int last = a.first[s] + k - 2;
                identical_seen += !memcmp(a.images + (size_t)last * a.img, a.images + (size_t)(last + 1) * a.img,
                                          a.img * sizeof(float)) &&
                                  !strcmp(a.labels + (size_t)last * ICSTR_LABEL_CAP, query);
            }
            /* copy tasks: the nearest prompt is the query's input and label, no loss on it, the
             * decoder's loss alone on the query; every chunk of other sequences trains
             * everything, decoys aside */
            const uint8_t *loss = a.loss_on + (size_t)s * a.max_chunks;
            if (k >= 2 && loss[k - 1] == ICSTR_LOSS_TEXT) {
                int last = a.first[s] + k - 2;
                int shape = loss[k - 2] == ICSTR_LOSS_NONE &&
                            !memcmp(a.images + (size_t)last * a.img, a.images + (size_t)(last + 1) * a.img,
                                    a.img * sizeof(float)) &&
                            !strcmp(a.labels + (size_t)last * ICSTR_LABEL_CAP, query);
                for (int c = 0; c < k - 2; c++) shape &= loss[c] == ICSTR_LOSS_ALL;
                flags_ok &= shape;
                copy_seen++;
                int known = 0; /* an edited label is no crop's label */
                for (long t = 0; t < td->n_crops; t++) known |= !strcmp(td->crops[t].label, query);
                copy_relabelled += !known;
            } else if (k >= 2 && loss[k - 2] == ICSTR_LOSS_NONE) {
                /* a decoy: another input as the nearest prompt, under a label that is not the
                 * query's; the query keeps its own label and every loss */
                int last = a.first[s] + k - 2;
                int shape = loss[k - 1] == ICSTR_LOSS_ALL &&
                            memcmp(a.images + (size_t)last * a.img, a.images + (size_t)(last + 1) * a.img,
                                   a.img * sizeof(float)) &&
                            strcmp(a.labels + (size_t)last * ICSTR_LABEL_CAP, query);
                for (int c = 0; c < k - 2; c++) shape &= loss[c] == ICSTR_LOSS_ALL;
                flags_ok &= shape;
                decoy_seen++;
            } else {
                for (int c = 0; c < k; c++) flags_ok &= loss[c] == ICSTR_LOSS_ALL;
            }
        }
    }
    CHECK(same);
    CHECK(counts_ok);
    CHECK_MSG(with_prompts > 60 && plain > 10, "%d with prompts, %d plain", with_prompts, plain);
    CHECK_MSG(split_seen > 0, "no split sequence seen");
    CHECK_MSG(identical_seen > 0, "no sequence with the query itself as the nearest prompt");
    CHECK(flags_ok);
    CHECK_MSG(copy_seen > 5 && copy_relabelled > 0 && decoy_seen > 5, "%d copy tasks, %d with an edited label, %d decoys",
              copy_seen, copy_relabelled, decoy_seen);
    icstr_train_batch_free(&a);
    icstr_train_batch_free(&b);

    icstr_train_data_close(td);
    test_twin_sequences(m, tc, &mc);
    test_cipher_sequences(m, tc, &mc);

    /* a plain config (prompts_max 0) yields exactly the plain samples */
    tc.prompts_max = 0;
    CHECK(icstr_train_data_open(m, &tc, &td) == ICSTR_OK);
    if (td) {
        float *s1 = malloc(sizeof(float) * img), *s2 = malloc(sizeof(float) * img);
        char l1[64], l2[64];
        uint8_t loss = ICSTR_LOSS_NONE;
        CHECK(icstr_train_data_chunks(td, 3, 5) == 1);
        CHECK(icstr_train_data_sequence(td, 3, 5, 1, s1, l1, sizeof l1, &loss) == ICSTR_OK && loss == ICSTR_LOSS_ALL);
        CHECK(icstr_train_data_sample(td, 3, 5, s2, l2, sizeof l2) == ICSTR_OK);
        CHECK(!memcmp(s1, s2, sizeof(float) * img) && !strcmp(l1, l2));
        free(s1);
        free(s2);
    }
    icstr_train_data_close(td);
    test_framed_samples(m, tc, &mc);
    icstr_model_free(m);
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmpdir);
    return check_finish("test_train_context");
}
