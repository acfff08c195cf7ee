/* In-context training sequences (DESIGN.md, training stage 2): k-1 labelled prompts, then a query,
 * built so that the prompts help:
 *   episodes   k words rendered in one style (font, colours, background, distortion), as crops
 *              of one domain would be; some follow one format (letters and digits in a fixed
 *              order, as plates and prices do), so the prompts settle a 0 against an O;
 *   captions   an episode whose crops all carry the same frame (train_frame.c): small captions
 *              above and/or below the word (other words in other styles, as a plate carries its
 *              state's name and a slogan) and margins; the labels are the words alone, so only
 *              the prompts say that the captions are not read;
 *   split      Split-and-Transform: a rendered word cut at a character boundary into labelled
 *              sub-crops, plus recoloured copies that keep the label; the query is the word;
 *   neighbours a real train crop with its nearest other train crops by the model's own
 *              embedding (the way the pool retrieves), half the time with the query itself as
 *              the nearest prompt (the hard-sample loop: the same input, or another augmentation
 *              with the query partly covered);
 *   copy       (train.copy_fraction of the sequences) the query's very input as the nearest
 *              prompt under a label the image does not show: only the prompt's label reads it;
 *              or, as often, the nearest other crop under a label close to the query's: a
 *              prompt that only looks alike must not be copied.
 *   twins      (train.twin_fraction of the sequences) the nearest prompt shows the query's very
 *              text in another crop: another real train crop with the same label, or the word
 *              drawn twice in one rendered style, as a receipt's "ROUNDING" or "15.00" recurs in
 *              the pool; or, as a decoy, a rendered one-character edit of it ("15.00" beside
 *              "13.00"): the prompt's label helps only where the images agree.
 *   cipher     (train.cipher_fraction of the sequences) a style or caption episode in which one
 *              character of the query that a prompt also shows is written as another in every
 *              label (half the time a lookalike: O written 0, as plates write it; else any letter
 *              or digit): only the prompts say what that glyph is called here, so reading the
 *              query right needs the prompts' labels matched to their glyphs, not copied whole.
 *              train.cipher_decoys of them rename a character the prompts show and the query
 *              does not: the query reads as it is, so renaming on a guess costs as much as
 *              ignoring the prompts does.
 * Prompts are ordered most similar last, as the pool orders them. */
#include "train_internal.h"

#include <cblas.h>
#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { KIND_EPISODE, KIND_CAPTION, KIND_SPLIT, KIND_NEIGHBOURS };

static const icstr_train_data *sort_td; /* qsort has no context argument; prepare runs once */

static int by_label(const void *a, const void *b) {
    long x = *(const long *)a, y = *(const long *)b;
    int c = strcmp(sort_td->crops[x].label, sort_td->crops[y].label);
    return c ? c : (x > y) - (x < y);
}

/* Groups the train crops that share a label (td->twins). */
static int build_twins(icstr_train_data *td) {
    long n = td->n_train, *sorted = malloc((size_t)(n ? n : 1) * sizeof *sorted);
    td->twins = malloc((size_t)(n ? n : 1) * sizeof *td->twins);
    td->twin_group = malloc((size_t)(n ? n : 1) * sizeof *td->twin_group);
    td->twin_size = malloc((size_t)(n ? n : 1) * sizeof *td->twin_size);
    if (!sorted || !td->twins || !td->twin_group || !td->twin_size) {
        free(sorted);
        return icstr_fail(ICSTR_ERR_NOMEM, "twin table for %ld crops", n);
    }
    memcpy(sorted, td->train_idx, (size_t)n * sizeof *sorted);
    sort_td = td;
    qsort(sorted, (size_t)n, sizeof *sorted, by_label);
    td->n_twins = 0;
    for (long i = 0, j; i < n; i = j) {
        for (j = i + 1; j < n && !strcmp(td->crops[sorted[j]].label, td->crops[sorted[i]].label); j++) {}
        if (j - i < 2) continue;
        for (long t = i; t < j; t++) {
            td->twins[td->n_twins + t - i] = sorted[t];
            td->twin_group[td->n_twins + t - i] = td->n_twins;
            td->twin_size[td->n_twins + t - i] = (int)(j - i);
        }
        td->n_twins += j - i;
    }
    free(sorted);
    return ICSTR_OK;
}

int icstr_train_context_prepare(icstr_train_data *td, icstr_model *m) {
    if (td->neighbours || td->n_train < 2) return ICSTR_OK;
    int twins_rc = build_twins(td);
    if (twins_rc) return twins_rc;
    const icstr_model_config *mc = &td->mc;
    int D = mc->dec_dim, chunk = 64;
    long n = td->n_train;
    size_t img = (size_t)3 * mc->img_h * mc->img_w;
    float *emb = icstr_alloc((size_t)n * D, sizeof(float));
    float *images = icstr_alloc((size_t)chunk * img, sizeof(float));
    float *sims = icstr_alloc((size_t)chunk * n, sizeof(float));
    td->neighbours = calloc((size_t)td->n_crops, sizeof *td->neighbours);
    int rc = ICSTR_OK;
    if (!emb || !images || !sims || !td->neighbours) {
        rc = icstr_fail(ICSTR_ERR_NOMEM, "neighbour table for %ld crops", n);
        goto done;
    }
    double t0 = icstr_now_seconds();
    for (long start = 0; start < n && !rc; start += chunk) {
        int count = n - start < chunk ? (int)(n - start) : chunk;
        for (int i = 0; i < count && !rc; i++)
            rc = icstr_image_to_input(&td->crops[td->train_idx[start + i]].img, mc->img_h, mc->img_w, images + (size_t)i * img);
        if (!rc) rc = icstr_model_encode(m, images, count, NULL, emb + (size_t)start * D);
    }
    /* top neighbours by cosine (the embeddings are unit vectors), excluding the crop itself */
    for (long start = 0; start < n && !rc; start += chunk) {
        int count = n - start < chunk ? (int)(n - start) : chunk;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, count, (int)n, D, 1.0f, emb + (size_t)start * D, D, emb, D,
                    0.0f, sims, (int)n);
        for (int i = 0; i < count; i++) {
            float *row = sims + (size_t)i * n;
            long self = start + i, *nb = td->neighbours[td->train_idx[self]];
            float best[ICSTR_TRAIN_NEIGHBOURS];
            int have = 0;
            for (long j = 0; j < n; j++) {
                if (j == self) continue;
                float s = row[j];
                if (have == ICSTR_TRAIN_NEIGHBOURS && s <= best[have - 1]) continue;
                int pos = have < ICSTR_TRAIN_NEIGHBOURS ? have++ : have - 1;
                while (pos > 0 && best[pos - 1] < s) {
                    best[pos] = best[pos - 1];
                    nb[pos] = nb[pos - 1];
                    pos--;
                }
                best[pos] = s;
                nb[pos] = td->train_idx[j];
            }
            for (int h = have; h < ICSTR_TRAIN_NEIGHBOURS; h++) nb[h] = nb[0];
        }
    }
    if (!rc)
        ICSTR_INFO("in-context: neighbours of %ld real crops by the model's embedding in %.1f s; %ld share a label with another",
                   n, icstr_now_seconds() - t0, td->n_twins);
done:
    icstr_free(emb);
    icstr_free(images);
    icstr_free(sims);
    if (rc) icstr_train_context_free(td);
    return rc;
}

void icstr_train_context_free(icstr_train_data *td) {
    free(td->neighbours);
    free(td->twins);
    free(td->twin_group);
    free(td->twin_size);
    td->neighbours = NULL;
    td->twins = td->twin_group = NULL;
    td->twin_size = NULL;
    td->n_twins = 0;
}

/* A recoloured copy keeps its label: permute channels, maybe invert, change contrast. */
static void recolour(float *chw, size_t plane, icstr_rng *r) {
    static const int perms[6][3] = {{0, 1, 2}, {0, 2, 1}, {1, 0, 2}, {1, 2, 0}, {2, 0, 1}, {2, 1, 0}};
    const int *p = perms[icstr_rng_below(r, 6)];
    float sign = icstr_rng_uniform(r) < 0.3f ? -1.0f : 1.0f, contrast = icstr_rng_range(r, 0.6f, 1.1f);
    float *tmp = malloc(3 * plane * sizeof(float));
    if (!tmp) return; /* a copy without recolouring is still a valid prompt */
    for (int c = 0; c < 3; c++)
        for (size_t i = 0; i < plane; i++) tmp[(size_t)c * plane + i] = sign * contrast * chw[(size_t)p[c] * plane + i];
    memcpy(chw, tmp, 3 * plane * sizeof(float));
    free(tmp);
}

/* An episode's format, some of the time (else NULL): 3-9 letters and digits in a fixed order,
 * sometimes with one separator, as an icstr_render_opts pattern. */
static const char *maybe_pattern(icstr_rng *r, char *buf) {
    if (icstr_rng_uniform(r) >= 0.4f) return NULL;
    int n = 3 + (int)icstr_rng_below(r, 7), lower = icstr_rng_uniform(r) < 0.2f, at = 0;
    float p_digit = icstr_rng_range(r, 0.2f, 0.8f);
    int sep = n >= 5 && icstr_rng_uniform(r) < 0.35f ? 2 + (int)icstr_rng_below(r, (uint32_t)(n - 3)) : -1;
    for (int i = 0; i < n; i++) {
        if (i == sep) buf[at++] = " -.:/"[icstr_rng_below(r, 5)];
        buf[at++] = icstr_rng_uniform(r) < p_digit ? '9' : lower ? 'a' : 'A';
    }
    buf[at] = 0;
    return buf;
}

/* k words in one style, in one format some of the time (maybe_pattern), at this step's options.
 * With twin, the last word is a twin of the one before it (icstr_render_opts.twin): a second
 * drawing of it, or, a third of the time, a one-character edit of it (a decoy). */
static int render_episode(icstr_train_data *td, icstr_rng *r, long step, int k, int twin, icstr_render_crop *crops) {
    icstr_render_opts o = icstr_train_synth_opts(td->synth, step);
    char pattern[16];
    o.pattern = maybe_pattern(r, pattern);
    if (twin) o.twin = icstr_rng_uniform(r) < 0.33f ? ICSTR_TWIN_EDITED : ICSTR_TWIN_SAME;
    return icstr_render_episode_opts(icstr_train_synth_renderer(td->synth), icstr_rng_u64(r), 0, k, &o, crops);
}

/* An episode as a sequence, the last word the query; with twin, the query is a twin of the
 * nearest prompt (render_episode). Every label is what its crop shows. */
static int seq_episode(icstr_train_data *td, icstr_rng *r, long step, int k, int twin, float *chw, char *labels,
                       int cap) {
    static _Thread_local icstr_render_crop crops[ICSTR_TRAIN_MAX_CHUNKS];
    int rc = render_episode(td, r, step, k, twin, crops);
    size_t img = (size_t)3 * td->mc.img_h * td->mc.img_w;
    for (int c = 0; c < k && !rc; c++) {
        rc = icstr_train_crop_to_input(&crops[c], 0, crops[c].w, &td->mc, chw + (size_t)c * img);
        if (!rc) rc = icstr_train_copy_label(labels + (size_t)c * cap, cap, crops[c].label);
    }
    return rc;
}

static int seq_caption(icstr_train_data *td, icstr_rng *r, long step, int k, float *chw, char *labels, int cap) {
    static _Thread_local icstr_render_crop crops[ICSTR_TRAIN_MAX_CHUNKS], captions[2];
    int rc = render_episode(td, r, step, k, 0, crops);
    if (rc) return rc;
    /* one frame for the episode, a little jitter per crop */
    icstr_train_frame frame, f;
    icstr_train_frame_draw(r, &frame);
    rc = icstr_train_frame_captions(icstr_train_synth_renderer(td->synth), icstr_train_synth_opts(td->synth, step), r,
                                    &frame, captions);
    size_t img = (size_t)3 * td->mc.img_h * td->mc.img_w;
    for (int c = 0; c < k && !rc; c++) {
        icstr_train_frame_jitter(&frame, r, &f);
        rc = icstr_train_frame_input(&crops[c], captions, &f, &td->mc, chw + (size_t)c * img);
        if (!rc) rc = icstr_train_copy_label(labels + (size_t)c * cap, cap, crops[c].label);
    }
    return rc;
}

/* Split-and-Transform. Prompts, in order: pieces of the word cut at a character boundary and
 * recoloured copies of the whole word (the nearest, last); the query is the word itself. */
static int seq_split(icstr_train_data *td, icstr_rng *r, long step, int k, float *chw, char *labels, int cap) {
    static _Thread_local icstr_render_crop word;
    const icstr_renderer *rr = icstr_train_synth_renderer(td->synth);
    icstr_render_opts o = icstr_train_synth_opts(td->synth, step);
    if (o.max_len < 4) o.max_len = 4 < td->mc.max_label ? 4 : td->mc.max_label;
    if (o.min_len < 2) o.min_len = 2;
    if (o.min_len > o.max_len) o.min_len = o.max_len;
    int rc = icstr_render_sample_opts(rr, icstr_rng_u64(r), 0, &o, &word);
    if (rc) return rc;
    size_t img = (size_t)3 * td->mc.img_h * td->mc.img_w, plane = img / 3;
    int q = k - 1, c = 0;
    /* the query: the word as rendered */
    if ((rc = icstr_train_crop_to_input(&word, 0, word.w, &td->mc, chw + (size_t)q * img)) ||
        (rc = icstr_train_copy_label(labels + (size_t)q * cap, cap, word.label)))
        return rc;
    /* pieces first (less similar), when the word has two boxes or more to cut between */
    if (word.n_boxes >= 2 && k >= 3) {
        int j = 1 + (int)icstr_rng_below(r, (uint32_t)(word.n_boxes - 1));
        int cut = (int)lroundf(0.5f * (word.boxes[j - 1].x1 + word.boxes[j].x0));
        int at = word.box_char[j];
        if (cut >= 4 && cut <= word.w - 4) {
            char left[64], right[64];
            int have_l = icstr_train_sub_label(left, sizeof left, word.label, 0, at);
            int have_r = icstr_train_sub_label(right, sizeof right, word.label, at, (int)strlen(word.label));
            if (have_l && c < q - 1) {
                if ((rc = icstr_train_crop_to_input(&word, 0, cut, &td->mc, chw + (size_t)c * img))) return rc;
                strcpy(labels + (size_t)c++ * cap, left);
            }
            if (have_r && c < q - 1) {
                if ((rc = icstr_train_crop_to_input(&word, cut, word.w, &td->mc, chw + (size_t)c * img))) return rc;
                strcpy(labels + (size_t)c++ * cap, right);
            }
        }
    }
    /* the rest: recoloured copies of the word, which keep its label */
    for (; c < q; c++) {
        memcpy(chw + (size_t)c * img, chw + (size_t)q * img, img * sizeof(float));
        recolour(chw + (size_t)c * img, plane, r);
        strcpy(labels + (size_t)c * cap, labels + (size_t)q * cap);
    }
    return ICSTR_OK;
}

/* Covers a random vertical band (15-35% of the width) of a model input with one flat colour. */
static void occlude(float *chw, int H, int W, icstr_rng *r) {
    int bw = (int)lroundf((float)W * icstr_rng_range(r, 0.15f, 0.35f));
    int x0 = (int)icstr_rng_below(r, (uint32_t)(W - bw + 1));
    for (int c = 0; c < 3; c++) {
        float v = icstr_rng_range(r, -1.0f, 1.0f);
        for (int y = 0; y < H; y++)
            for (int x = x0; x < x0 + bw; x++) chw[((size_t)c * H + y) * W + x] = v;
    }
}

/* The letters and digits an edited or merged label draws from (false_label, cipher labels). */
static const char alnum[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/* A label the crop does not show, for copy tasks: another train crop's label a third of the
 * time, else the crop's own label with 1-3 characters replaced, inserted or deleted (an ASCII
 * label; a label with other bytes takes another crop's). Never the crop's own label. */
static int false_label(const icstr_train_data *td, icstr_rng *r, const char *label, char *dst, int cap) {
    int max = td->mc.max_label < cap - 1 ? td->mc.max_label : cap - 1, n = (int)strlen(label), ascii = n <= max;
    for (int i = 0; i < n && ascii; i++) ascii = (unsigned char)label[i] < 0x80;
    for (int attempt = 0; attempt < 8; attempt++) {
        if (!ascii || icstr_rng_uniform(r) < 0.33f) {
            const char *other = td->crops[td->train_idx[icstr_rng_u64(r) % (uint64_t)td->n_train]].label;
            if ((int)strlen(other) > max || !strcmp(other, label)) continue;
            return icstr_train_copy_label(dst, cap, other);
        }
        memcpy(dst, label, (size_t)n + 1);
        int len = n, edits = 1 + (int)icstr_rng_below(r, 3);
        for (int e = 0; e < edits; e++) {
            float u = icstr_rng_uniform(r);
            char c = alnum[icstr_rng_below(r, sizeof alnum - 1)];
            int at = (int)icstr_rng_below(r, (uint32_t)(len + 1));
            if (u < 0.2f && len < max) { /* insert */
                memmove(dst + at + 1, dst + at, (size_t)(len - at) + 1);
                dst[at] = c;
                len++;
            } else if (u < 0.4f && len > 1 && at < len) { /* delete */
                memmove(dst + at, dst + at + 1, (size_t)(len - at));
                len--;
            } else if (len > 0) { /* replace */
                dst[at < len ? at : len - 1] = c;
            }
        }
        if (len > 0 && strcmp(dst, label)) return ICSTR_OK;
    }
    return icstr_train_copy_label(dst, cap, label[0] == 'x' ? "y" : "x");
}

/* What a neighbour sequence asks for (seq_neighbours). */
enum { NB_READ, NB_COPY, NB_DECOY, NB_TWIN };

/* A real crop and its nearest train crops. Half the time the nearest prompt is the query itself
 * (the hard-sample loop): then either the very same input, as a pool holding the crop gives it
 * (mostly partly covered, in both: a crop too hard to read whose label the prompt holds), or
 * another augmentation of it, with the query partly covered half the time, so that reading it
 * needs the prompt's label.
 * The copy tasks (train.copy_fraction) teach when to take a prompt's label over the image:
 *   NB_COPY  the nearest prompt is the query's very input under a label the crop does not show
 *            (false_label), on both; only the prompt's label gets the query right;
 *   NB_DECOY the nearest prompt is the nearest OTHER crop, half the time under its own label
 *            (when it is another word), else under a label a few edits from the query's true
 *            one; the query keeps its true label, so copying a prompt that only looks alike is
 *            wrong.
 * Their false labels carry no loss on the prompt, and on an NB_COPY query only the decoder's
 * (ICSTR_LOSS_TEXT: CTC must not learn a label the image does not show).
 *   NB_TWIN  the query is a crop whose label another train crop shares; that crop, under that
 *            label, is the nearest prompt, and the query is partly covered a third of the time. */
static int seq_neighbours(icstr_train_data *td, icstr_rng *r, int k, int task, float *chw, char *labels, int cap,
                          uint8_t *loss) {
    const icstr_model_config *mc = &td->mc;
    size_t img = (size_t)3 * mc->img_h * mc->img_w;
    long qi = td->train_idx[icstr_rng_u64(r) % (uint64_t)td->n_train], twin = -1;
    if (task == NB_TWIN) {
        long at = (long)(icstr_rng_u64(r) % (uint64_t)td->n_twins), group = td->twin_group[at];
        long other = group + (at - group + 1 + (long)icstr_rng_below(r, (uint32_t)(td->twin_size[at] - 1))) % td->twin_size[at];
        qi = td->twins[at];
        twin = td->twins[other];
    }
    int q = k - 1, copy = task == NB_COPY;
    int self_copy = copy || (task == NB_READ && icstr_rng_uniform(r) < 0.5f);
    int identical = copy || (self_copy && icstr_rng_uniform(r) < 0.5f);
    const long *nb = td->neighbours[qi];
    float *query = chw + (size_t)q * img;
    char *query_label = labels + (size_t)q * cap, decoy[128];
    int rc = icstr_train_augment_real(&td->crops[qi].img, r, mc, query);
    if (!rc) rc = copy ? false_label(td, r, td->crops[qi].label, query_label, cap)
                       : icstr_train_copy_label(query_label, cap, td->crops[qi].label);
    if (!rc && task == NB_DECOY) {
        const char *own = td->crops[nb[0]].label; /* the neighbour's own label, when another word */
        rc = icstr_rng_uniform(r) < 0.5f && strcmp(own, td->crops[qi].label)
                 ? icstr_train_copy_label(decoy, (int)sizeof decoy, own)
                 : false_label(td, r, td->crops[qi].label, decoy, (int)sizeof decoy);
    }
    /* a crop the model cannot read, held by the pool with its label: only copying reads it */
    if (identical && !copy && icstr_rng_uniform(r) < 0.75f) {
        occlude(query, mc->img_h, mc->img_w, r);
        if (icstr_rng_uniform(r) < 0.5f) occlude(query, mc->img_h, mc->img_w, r);
    }
    for (int c = 0; c < q && !rc; c++) {
        /* prompt c is neighbour q-1-c: the most similar lands nearest the query */
        int rank = q - 1 - c;
        long src = self_copy && rank == 0 ? qi
                   : twin >= 0 && rank == 0 ? twin
                                            : nb[rank < ICSTR_TRAIN_NEIGHBOURS ? rank : ICSTR_TRAIN_NEIGHBOURS - 1];
        const char *label = rank > 0 ? td->crops[src].label : copy ? query_label : task == NB_DECOY ? decoy : td->crops[src].label;
        if (identical && rank == 0) memcpy(chw + (size_t)c * img, query, img * sizeof(float));
        else rc = icstr_train_augment_real(&td->crops[src].img, r, mc, chw + (size_t)c * img);
        if (!rc) rc = icstr_train_copy_label(labels + (size_t)c * cap, cap, label);
    }
    if (!rc && self_copy && !identical && icstr_rng_uniform(r) < 0.5f) occlude(query, mc->img_h, mc->img_w, r);
    if (!rc && twin >= 0 && icstr_rng_uniform(r) < 0.33f) occlude(query, mc->img_h, mc->img_w, r);
    if (task == NB_COPY || task == NB_DECOY) loss[q - 1] = ICSTR_LOSS_NONE;
    if (copy) loss[q] = ICSTR_LOSS_TEXT;
    return rc;
}

/* Lookalikes a domain may write one for the other: a plate's O is 0, a receipt's D is 0. */
static const char lookalikes[][2] = {{'O', '0'}, {'0', 'O'}, {'D', '0'}, {'Q', '0'}, {'o', '0'}, {'I', '1'},
                                     {'1', 'I'}, {'l', '1'}, {'S', '5'}, {'5', 'S'}, {'B', '8'}, {'8', 'B'},
                                     {'Z', '2'}, {'2', 'Z'}, {'G', '6'}, {'6', 'G'}, {'U', 'V'}, {'V', 'U'}};

int icstr_train_cipher_labels(icstr_rng *r, char *labels, int cap, int k, int decoy) {
    if (k < 2) return 0;
    const char *query = labels + (size_t)(k - 1) * cap;
    char shared[sizeof alnum];
    int n = 0;
    if (decoy) { /* the prompts' characters the query does not hold */
        for (int c = 0; c < k - 1; c++)
            for (const unsigned char *p = (const unsigned char *)labels + (size_t)c * cap; *p; p++)
                if (*p < 0x80 && isalnum(*p) && !memchr(shared, *p, (size_t)n) && !strchr(query, *p))
                    shared[n++] = (char)*p;
    } else {
        for (const unsigned char *p = (const unsigned char *)query; *p; p++) {
            if (*p >= 0x80 || !isalnum(*p) || memchr(shared, *p, (size_t)n)) continue;
            for (int c = 0; c < k - 1; c++)
                if (strchr(labels + (size_t)c * cap, *p)) {
                    shared[n++] = (char)*p;
                    break;
                }
        }
    }
    if (!n) return 0;
    char from = shared[icstr_rng_below(r, (uint32_t)n)], to = 0;
    if (icstr_rng_uniform(r) < 0.5f) {
        int options = 0;
        for (size_t i = 0; i < sizeof lookalikes / sizeof *lookalikes; i++)
            if (lookalikes[i][0] == from && icstr_rng_below(r, (uint32_t)++options) == 0) to = lookalikes[i][1];
    }
    while (!to || to == from) to = alnum[icstr_rng_below(r, sizeof alnum - 1)];
    for (int c = 0; c < k; c++)
        for (char *p = labels + (size_t)c * cap; *p; p++)
            if (*p == from) *p = to;
    return 1;
}

/* A cipher episode (icstr_train_cipher_labels): the merged labels train the decoder on the query
 * alone; the prompts' labels are context (no loss: the first prompt cannot know the merge) and
 * CTC, which reads no context, never sees them. */
static int seq_cipher(icstr_train_data *td, icstr_rng *r, long step, int k, float *chw, char *labels, int cap,
                      uint8_t *loss) {
    int rc = icstr_rng_uniform(r) < 0.5f ? seq_episode(td, r, step, k, 0, chw, labels, cap)
                                         : seq_caption(td, r, step, k, chw, labels, cap);
    int decoy = td->tc.cipher_decoys > 0.0f && icstr_rng_uniform(r) < td->tc.cipher_decoys;
    if (rc || !icstr_train_cipher_labels(r, labels, cap, k, decoy)) return rc;
    for (int c = 0; c < k - 1; c++) loss[c] = ICSTR_LOSS_NONE;
    loss[k - 1] = ICSTR_LOSS_TEXT;
    return ICSTR_OK;
}

int icstr_train_context_sequence(icstr_train_data *td, icstr_rng *r, long step, int k, float *chw,
                                 char *labels, int label_cap, uint8_t *loss) {
    for (int c = 0; c < k; c++) loss[c] = ICSTR_LOSS_ALL;
    if (td->tc.cipher_fraction > 0.0f && td->synth && icstr_rng_uniform(r) < td->tc.cipher_fraction)
        return seq_cipher(td, r, step, k, chw, labels, label_cap, loss);
    if (td->tc.twin_fraction > 0.0f && icstr_rng_uniform(r) < td->tc.twin_fraction) {
        int real = td->n_twins > 0 && (!td->synth || icstr_rng_uniform(r) < 0.5f);
        if (real) return seq_neighbours(td, r, k, NB_TWIN, chw, labels, label_cap, loss);
        if (td->synth) return seq_episode(td, r, step, k, 1, chw, labels, label_cap);
    }
    if (td->neighbours && td->tc.copy_fraction > 0.0f && icstr_rng_uniform(r) < td->tc.copy_fraction)
        return seq_neighbours(td, r, k, icstr_rng_uniform(r) < 0.5f ? NB_COPY : NB_DECOY, chw, labels, label_cap, loss);
    float u = icstr_rng_uniform(r);
    int kind = u < 0.2f ? KIND_EPISODE : u < 0.35f ? KIND_CAPTION : u < 0.5f ? KIND_SPLIT : KIND_NEIGHBOURS;
    if (kind == KIND_NEIGHBOURS && !td->neighbours) kind = KIND_EPISODE;
    if (kind != KIND_NEIGHBOURS && !td->synth) {
        if (!td->neighbours) return icstr_fail(ICSTR_ERR_CONFIG, "in-context sequences need the renderer or real crops");
        kind = KIND_NEIGHBOURS;
    }
    switch (kind) {
    case KIND_EPISODE: return seq_episode(td, r, step, k, 0, chw, labels, label_cap);
    case KIND_CAPTION: return seq_caption(td, r, step, k, chw, labels, label_cap);
    case KIND_SPLIT: return seq_split(td, r, step, k, chw, labels, label_cap);
    default: return seq_neighbours(td, r, k, NB_READ, chw, labels, label_cap, loss);
    }
}
