/* Reading, decoding and recognizing crops in batches (the model is fastest on many at once). */
#include "crop_batch.h"
#include "icstr_data.h"
#include "pool_view.h"
#include "store_cache.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int icstr_crop_batch_init(icstr_crop_batch *b, int cap, int H, int W) {
    memset(b, 0, sizeof *b);
    b->cap = cap;
    b->H = H;
    b->W = W;
    b->piece_cap = 2 * cap + ICSTR_LINE_MAX_PIECES; /* a batch of long lines reads fewer crops */
    b->in_cap = cap + b->piece_cap;
    b->view = icstr_view_full();
    b->images = icstr_alloc((size_t)cap * 3 * H * W, sizeof(float));
    b->names = calloc((size_t)cap, sizeof(char *));
    b->labels = calloc((size_t)cap, sizeof(char *));
    b->reasons = calloc((size_t)cap, sizeof(char *));
    b->ok_index = calloc((size_t)cap, sizeof(int));
    b->texts = calloc((size_t)cap, sizeof(char *));
    b->confidence = calloc((size_t)cap, sizeof(float));
    if (!b->images || !b->names || !b->labels || !b->reasons || !b->ok_index || !b->texts || !b->confidence) {
        icstr_crop_batch_free(b);
        return icstr_fail(ICSTR_ERR_NOMEM, "crop batch of %d", cap);
    }
    for (int i = 0; i < cap; i++)
        if (!(b->texts[i] = malloc(ICSTR_TEXT_CAP))) {
            icstr_crop_batch_free(b);
            return icstr_fail(ICSTR_ERR_NOMEM, "crop batch of %d", cap);
        }
    return ICSTR_OK;
}

static void clear_items(icstr_crop_batch *b) {
    for (int i = 0; i < b->n; i++) {
        free(b->names[i]);
        free(b->labels[i]);
        free(b->reasons[i]);
        b->names[i] = b->labels[i] = b->reasons[i] = NULL;
        if (b->keep_bytes) {
            free(b->bytes[i]);
            b->bytes[i] = NULL;
            b->lens[i] = 0;
        }
    }
    b->n = b->n_ok = b->n_pieces = 0;
}

int icstr_crop_batch_keep_bytes(icstr_crop_batch *b) {
    if (b->keep_bytes) return ICSTR_OK;
    b->bytes = calloc((size_t)b->cap, sizeof *b->bytes);
    b->lens = calloc((size_t)b->cap, sizeof *b->lens);
    if (!b->bytes || !b->lens) return icstr_fail(ICSTR_ERR_NOMEM, "crop batch bytes");
    b->keep_bytes = 1;
    return ICSTR_OK;
}

void icstr_crop_batch_free(icstr_crop_batch *b) {
    if (b->names) clear_items(b);
    free(b->bytes);
    free(b->lens);
    if (b->texts)
        for (int i = 0; i < b->cap; i++) free(b->texts[i]);
    icstr_free(b->images);
    free(b->names);
    free(b->labels);
    free(b->reasons);
    free(b->ok_index);
    free(b->texts);
    free(b->confidence);
    icstr_crop_batch_set_pool(b, NULL, NULL);
    icstr_crop_batch_set_split(b, NULL);
    memset(b, 0, sizeof *b);
}

/* Crop k (decoded as im) in pieces when it is a long line (set_split): its pieces' inputs go to
 * the pieces buffer. */
static int cut_pieces(icstr_crop_batch *b, const icstr_image *im, int k) {
    int x0[ICSTR_LINE_MAX_PIECES], x1[ICSTR_LINE_MAX_PIECES];
    b->piece_count[k] = 0;
    int n = icstr_line_split(im, &b->split, x0, x1, ICSTR_LINE_MAX_PIECES, b->piece_glued + b->n_pieces);
    if (n <= 1) return n < 0 ? n : ICSTR_OK;
    size_t img = (size_t)3 * b->H * b->W;
    for (int j = 0; j < n; j++) {
        icstr_image piece;
        int rc = icstr_image_crop(im, x0[j], 0, x1[j] - x0[j], im->h, &piece);
        if (!rc) rc = icstr_image_to_input(&piece, b->H, b->W, b->pieces + (size_t)(b->n_pieces + j) * img);
        icstr_image_free(&piece);
        if (rc) return rc;
    }
    b->piece_first[k] = b->n_pieces;
    b->piece_count[k] = n;
    b->n_pieces += n;
    /* too wide to be read whole at all: the pieces only */
    b->pieces_only[k] = b->split.whole_aspect > 0.0f && (float)im->w > b->split.whole_aspect * (float)im->h;
    return ICSTR_OK;
}

int icstr_crop_batch_set_split(icstr_crop_batch *b, const icstr_line_split_params *p) {
    icstr_free(b->pieces);
    icstr_free(b->inputs);
    if (b->in_texts)
        for (int i = 0; i < b->in_cap; i++) free(b->in_texts[i]);
    free(b->in_texts);
    free(b->in_confidence);
    free(b->piece_first);
    free(b->piece_count);
    free(b->in_first);
    free(b->in_piece);
    free(b->pieces_won);
    free(b->pieces_only);
    free(b->piece_glued);
    b->pieces_won = b->pieces_only = b->piece_glued = NULL;
    b->pieces = b->inputs = b->in_confidence = NULL;
    b->in_texts = NULL;
    b->in_piece = NULL;
    b->piece_first = b->piece_count = b->in_first = NULL;
    b->n_pieces = 0;
    memset(&b->split, 0, sizeof b->split);
    if (!p || p->split_aspect <= 0.0f) return ICSTR_OK;
    size_t img = (size_t)3 * b->H * b->W;
    b->pieces = icstr_alloc((size_t)b->piece_cap * img, sizeof(float));
    b->inputs = icstr_alloc((size_t)b->in_cap * img, sizeof(float));
    b->in_texts = calloc((size_t)b->in_cap, sizeof(char *));
    b->in_confidence = calloc((size_t)b->in_cap, sizeof(float));
    b->piece_first = calloc((size_t)b->cap, sizeof(int));
    b->piece_count = calloc((size_t)b->cap, sizeof(int));
    b->in_first = calloc((size_t)b->cap, sizeof(int));
    b->in_piece = calloc((size_t)b->in_cap, 1);
    b->pieces_won = calloc((size_t)b->cap, 1);
    b->pieces_only = calloc((size_t)b->cap, 1);
    b->piece_glued = calloc((size_t)b->piece_cap, 1);
    int ok = b->pieces && b->inputs && b->in_texts && b->in_confidence && b->piece_first && b->piece_count &&
             b->in_first && b->in_piece && b->pieces_won && b->pieces_only && b->piece_glued;
    for (int i = 0; ok && i < b->in_cap; i++) ok = (b->in_texts[i] = malloc(ICSTR_TEXT_CAP)) != NULL;
    if (!ok) {
        icstr_crop_batch_set_split(b, NULL);
        return icstr_fail(ICSTR_ERR_NOMEM, "crop batch pieces for %d crops", b->cap);
    }
    b->split = *p;
    return ICSTR_OK;
}

int icstr_crop_batch_put(icstr_crop_batch *b, const icstr_image *im, int slot) {
    size_t img = (size_t)3 * b->H * b->W;
    int rc = icstr_image_view_to_input(im, &b->view, b->H, b->W, b->images + (size_t)slot * img);
    for (int v = 0; v < b->n_alt && !rc; v++)
        rc = icstr_image_view_to_input(im, &b->alt[v], b->H, b->W, b->alt_images + ((size_t)v * b->cap + slot) * img);
    return rc;
}

int icstr_crop_batch_read(icstr_crop_batch *b, icstr_inputs *in) {
    clear_items(b);
    /* a crop may need up to ICSTR_LINE_MAX_PIECES piece slots: stop before they could run out */
    while (b->n < b->cap && (!b->pieces || b->n_pieces + ICSTR_LINE_MAX_PIECES <= b->piece_cap)) {
        icstr_input_item item;
        int rc = icstr_inputs_next(in, &item);
        if (rc < 0) return rc;
        if (rc == 0) break;
        int i = b->n++;
        b->names[i] = strdup(item.name ? item.name : "?");
        b->labels[i] = item.label ? strdup(item.label) : NULL;
        b->ok_index[i] = -1;
        if (!b->names[i] || (item.label && !b->labels[i])) return icstr_fail(ICSTR_ERR_NOMEM, "crop batch");
        if (item.error) {
            b->reasons[i] = strdup(item.reason);
            continue;
        }
        if (b->keep_bytes) {
            if (!(b->bytes[i] = malloc(item.len ? item.len : 1))) return icstr_fail(ICSTR_ERR_NOMEM, "crop batch");
            memcpy(b->bytes[i], item.bytes, item.len);
            b->lens[i] = item.len;
        }
        icstr_image im;
        rc = icstr_image_load_memory(item.bytes, item.len, item.name, &im);
        if (!rc && (rc = icstr_image_check_crop(&im, item.name))) icstr_image_free(&im);
        if (!rc) {
            rc = icstr_crop_batch_put(b, &im, b->n_ok);
            if (!rc && b->pieces && icstr_view_is_full(&b->view)) {
                rc = cut_pieces(b, &im, b->n_ok);
            } else if (!rc && b->pieces) {
                icstr_image part; /* the pieces of the crop as the pool's view shows it */
                if (!(rc = icstr_image_view(&im, &b->view, &part))) rc = cut_pieces(b, &part, b->n_ok);
                icstr_image_free(&part);
            }
            icstr_image_free(&im);
        }
        if (rc == ICSTR_ERR_NOMEM) return rc;
        if (rc) {
            b->reasons[i] = strdup(icstr_last_error());
            continue;
        }
        b->ok_index[i] = b->n_ok++;
    }
    return b->n;
}

icstr_pool_reading icstr_pool_reading_default(void) {
    icstr_pool_reading r = {2, -1.0f, 1, 1.25f, 0.998f, 0, icstr_lexicon_default_params(), 0,
                           icstr_knn_default_params(), 0, icstr_glyph_default_params(), 0,
                           icstr_char_lm_default_params(), 0.2f, 0, icstr_lookalike_default_params(), 1};
    return r;
}

static void free_alternates(icstr_crop_batch *b) {
    if (b->alt_texts)
        for (int i = 0; i < b->n_alt * b->cap; i++) free(b->alt_texts[i]);
    free(b->alt_texts);
    icstr_free(b->alt_images);
    free(b->alt_confidence);
    b->alt_texts = NULL;
    b->alt_images = b->alt_confidence = NULL;
    b->n_alt = 0;
}

/* reading.views > 1: the pool's alternate views and their buffers */
static int alloc_alternates(icstr_crop_batch *b, const icstr_pool *pool, int views) {
    int want = views - 1 < ICSTR_POOL_ALTERNATES_MAX ? views - 1 : ICSTR_POOL_ALTERNATES_MAX;
    int n = icstr_pool_alternates(pool, b->alt, want);
    if (n > want) n = want;
    if (n <= 0) return ICSTR_OK;
    size_t slots = (size_t)n * b->cap;
    b->alt_images = icstr_alloc(slots * 3 * b->H * b->W, sizeof(float));
    b->alt_texts = calloc(slots, sizeof(char *));
    b->alt_confidence = calloc(slots, sizeof(float));
    b->n_alt = n;
    int ok = b->alt_images && b->alt_texts && b->alt_confidence;
    for (size_t i = 0; ok && i < slots; i++) ok = (b->alt_texts[i] = malloc(ICSTR_TEXT_CAP)) != NULL;
    if (ok) return ICSTR_OK;
    free_alternates(b);
    return icstr_fail(ICSTR_ERR_NOMEM, "crop batch: %d alternate views", n);
}

static void free_pool_buffers(icstr_crop_batch *b) {
    b->view = icstr_view_full();
    free_alternates(b);
    icstr_pool_lexicon_free(&b->lexicon);
    icstr_pool_knn_free(&b->knn);
    icstr_char_lm_free(b->lm);
    b->lm = NULL;
    icstr_free(b->latents);
    icstr_free(b->embeddings);
    icstr_free(b->plain_latents);
    icstr_pool_prompts_free(&b->prompts);
    if (b->plain_texts)
        for (int i = 0; i < b->in_cap; i++) free(b->plain_texts[i]);
    free(b->plain_texts);
    free(b->plain_of);
    free(b->plain_confidence);
    free(b->kept_plain);
    free(b->read_ctx);
    b->read_ctx = NULL;
    icstr_glyph_store_free(&b->glyphs);
    icstr_free(b->ctc_logp);
    icstr_free(b->ctc_feat);
    icstr_free(b->glyph_scratch);
    free(b->ctc_skip);
    free(b->glyph_ids);
    free(b->glyph_scores);
    b->ctc_logp = b->ctc_feat = b->glyph_scratch = b->glyph_scores = NULL;
    b->ctc_skip = NULL;
    b->glyph_ids = NULL;
    b->latents = b->embeddings = b->plain_latents = b->plain_confidence = NULL;
    b->plain_texts = NULL;
    b->plain_of = NULL;
    b->kept_plain = NULL;
    b->pool = NULL;
}

/* The buffers of the plain pass (compare_plain). */
static int alloc_plain(icstr_crop_batch *b) {
    size_t per = (size_t)b->prompts.M * b->prompts.D;
    b->plain_latents = icstr_alloc((size_t)b->in_cap * per, sizeof(float));
    b->plain_of = calloc((size_t)b->in_cap, sizeof(int));
    b->plain_texts = calloc((size_t)b->in_cap, sizeof(char *));
    b->plain_confidence = calloc((size_t)b->in_cap, sizeof(float));
    b->kept_plain = calloc((size_t)b->in_cap, 1);
    if (!b->plain_latents || !b->plain_of || !b->plain_texts || !b->plain_confidence || !b->kept_plain) return 0;
    for (int i = 0; i < b->in_cap; i++)
        if (!(b->plain_texts[i] = malloc(ICSTR_TEXT_CAP))) return 0;
    return 1;
}

/* Says what building a pool store from its records cost, when it was not all read from its cache. */
static void store_note(const char *option, const char *file, int computed, int records, double seconds) {
    if (computed <= 0) return;
    if (computed < records)
        ICSTR_INFO("%s: the model read %d of the pool's %d records in %.1f s (the others came from its %s)", option,
                   computed, records, seconds, file);
    else if (!icstr_store_cache_enabled())
        ICSTR_INFO("%s: the model read the pool's %d records in %.1f s", option, records, seconds);
    else
        ICSTR_INFO("%s: the model read the pool's %d records in %.1f s (the pool's %s keeps what it made)", option,
                   records, seconds, file);
}

int icstr_crop_batch_set_pool(icstr_crop_batch *b, icstr_pool *pool, const icstr_pool_reading *r) {
    free_pool_buffers(b);
    if (!pool) return ICSTR_OK;
    int rc = icstr_pool_prompts_init(&b->prompts, pool, b->in_cap, r->shots);
    if (rc) return rc;
    b->prompts.min_score = r->min_similarity;
    /* load the pool's embedding matrix now, not inside the first timed batch */
    long n = icstr_pool_search_count(pool);
    if (n < 0) {
        icstr_pool_prompts_free(&b->prompts);
        return (int)n;
    }
    b->latents = icstr_alloc((size_t)b->in_cap * b->prompts.M * b->prompts.D, sizeof(float));
    b->embeddings = icstr_alloc((size_t)b->in_cap * b->prompts.D, sizeof(float));
    b->read_ctx = calloc((size_t)b->in_cap, sizeof *b->read_ctx);
    if (!b->latents || !b->embeddings || !b->read_ctx || (r->compare_plain && !alloc_plain(b))) {
        free_pool_buffers(b);
        return icstr_fail(ICSTR_ERR_NOMEM, "crop batch latents for %d crops", b->cap);
    }
    if (r->lexicon && (rc = icstr_pool_lexicon_load(pool, &b->lexicon))) {
        free_pool_buffers(b);
        return rc;
    }
    double t0 = icstr_now_seconds();
    if (r->knn && (rc = icstr_pool_knn_load(pool, &r->knn_params, &b->knn))) {
        free_pool_buffers(b);
        return rc;
    }
    if (r->knn) store_note("--knn", "knn.cache", b->knn.computed, b->knn.records, icstr_now_seconds() - t0);
    if (r->lm && (rc = icstr_pool_lm_load(pool, &r->lm_params, &b->lm))) {
        free_pool_buffers(b);
        return rc;
    }
    if (b->lm) {
        long labels = icstr_char_lm_labels(b->lm);
        b->lm_weight = r->lm_weight * (labels < ICSTR_LM_FULL_LABELS ? (float)labels / ICSTR_LM_FULL_LABELS : 1.0f);
    }
    t0 = icstr_now_seconds();
    if ((r->glyphs && (rc = icstr_glyph_store_load(pool, &b->glyphs))) ||
        (r->views > 1 && (rc = alloc_alternates(b, pool, r->views)))) {
        free_pool_buffers(b);
        return rc;
    }
    if (r->glyphs) store_note("--glyphs", "glyphs.cache", b->glyphs.computed, b->glyphs.records, icstr_now_seconds() - t0);
    if (r->glyphs && r->glyph_params.records <= 0) { /* the exhaustive search grows with the pool */
        double gflop = 2e-9 * b->glyphs.T * (double)b->glyphs.n * b->glyphs.E;
        if (gflop > 1.0)
            ICSTR_INFO("--glyphs compares each crop's %d frames with all %d stored ones (%d records): %.1f GFLOP "
                       "per crop, more than the network's own; --glyph-records R searches only the frames of the R "
                       "records most similar to the crop (faster, reads less well)",
                       b->glyphs.T, b->glyphs.n, b->glyphs.records, gflop);
    }
    b->pool = pool;
    b->reading = *r;
    b->view = icstr_pool_view(pool);
    return ICSTR_OK;
}

/* whether input j's most similar prompt reaches trust_similarity (its own record, labelled) */
static int input_trusted(const icstr_crop_batch *b, int j) {
    if (!b->pool) return 0;
    int np = b->prompts.ctx[j].n_prompts;
    return np && b->prompts.scores[(size_t)j * b->prompts.shots + np - 1] >= b->reading.trust_similarity;
}

/* compare_plain: reads the inputs that got prompts again without them (from the same latents)
 * and keeps, input by input, the reading with prompts where its confidence is at least
 * compare_margin times the plain one's, else the plain reading. An input whose most similar
 * prompt (the last in its context) reaches trust_similarity keeps the reading with prompts
 * unread again. */
static int keep_surer_plain(icstr_crop_batch *b, icstr_model *m, const icstr_decode_params *p, int n_in,
                            char **texts, float *confidence) {
    size_t per = (size_t)b->prompts.M * b->prompts.D;
    int n = 0;
    for (int k = 0; k < n_in; k++) {
        b->kept_plain[k] = 0;
        if (!b->prompts.ctx[k].n_prompts || input_trusted(b, k)) continue;
        memcpy(b->plain_latents + (size_t)n * per, b->latents + (size_t)k * per, per * sizeof(float));
        b->plain_of[n++] = k;
    }
    if (!n) return ICSTR_OK;
    int rc = icstr_model_decode(m, b->plain_latents, n, NULL, p, b->plain_texts, ICSTR_TEXT_CAP, b->plain_confidence);
    for (int j = 0; j < n && !rc; j++) {
        int k = b->plain_of[j];
        if (b->plain_confidence[j] * b->reading.compare_margin <= confidence[k]) continue;
        memcpy(texts[k], b->plain_texts[j], ICSTR_TEXT_CAP);
        confidence[k] = b->plain_confidence[j];
        b->kept_plain[k] = 1;
    }
    return rc;
}

/* The contexts to decode: the retrieved ones, but an input whose most similar prompt (the last)
 * reaches trust_similarity is read with that prompt alone: it is the crop itself, labelled (a
 * hard sample in the pool), and the others would only pull the reading away from its label. */
static void trim_trusted(icstr_crop_batch *b, int n) {
    const icstr_pool_prompts *pp = &b->prompts;
    for (int k = 0; k < n; k++) {
        icstr_context c = pp->ctx[k];
        int np = c.n_prompts;
        if (np > 1 && input_trusted(b, k)) {
            c.latents += (size_t)(np - 1) * pp->M * pp->D;
            c.labels += (size_t)(np - 1) * pp->max_label;
            c.label_len += np - 1;
            c.n_prompts = 1;
        }
        b->read_ctx[k] = c;
    }
}

/* The joint reading's buffers for in_cap inputs (allocated on first use): the CTC frames, and
 * with the glyph store the tokens and the scratch of the votes. */
static int alloc_joint(icstr_crop_batch *b, icstr_model *m) {
    if (b->ctc_logp) return ICSTR_OK;
    int T = icstr_model_ctc_frame_count(m), V = icstr_model_vocab(m).n_chars + 1;
    int E = icstr_model_get_config(m)->enc_dim, glyphs = b->reading.glyphs;
    b->ctc_logp = icstr_alloc((size_t)b->in_cap * T * V, sizeof(float));
    b->ctc_skip = calloc((size_t)b->in_cap, 1);
    int R = b->reading.glyph_params.records;
    if (glyphs) {
        b->ctc_feat = icstr_alloc((size_t)b->in_cap * T * E, sizeof(float));
        b->glyph_scratch = icstr_alloc(icstr_glyph_scratch_floats(&b->glyphs, R), sizeof(float));
    }
    if (glyphs && R > 0) {
        b->glyph_ids = calloc((size_t)b->in_cap * R, sizeof *b->glyph_ids);
        b->glyph_scores = calloc((size_t)b->in_cap * R, sizeof *b->glyph_scores);
    }
    if (b->ctc_logp && b->ctc_skip && (!glyphs || (b->ctc_feat && b->glyph_scratch)) &&
        (!glyphs || R <= 0 || (b->glyph_ids && b->glyph_scores)))
        return ICSTR_OK;
    return icstr_fail(ICSTR_ERR_NOMEM, "crop batch: CTC frames of %d inputs", b->in_cap);
}

/* --lookalikes: the last word on n readings (piece: 1 where an input is a piece of a crop; NULL:
 * none is); a crop the pool holds itself keeps its reading */
static int correct_lookalikes(icstr_crop_batch *b, icstr_model *m, const unsigned char *piece, int n, char **texts,
                              float *confidence) {
    if (!b->reading.lookalikes || !b->lm) return ICSTR_OK;
    unsigned char *flags = malloc((size_t)n);
    if (!flags) return icstr_fail(ICSTR_ERR_NOMEM, "lookalikes: %d readings", n);
    for (int k = 0; k < n; k++)
        flags[k] = (unsigned char)((input_trusted(b, k) ? ICSTR_LOOKALIKE_KEEP : 0) |
                                   (piece && piece[k] ? ICSTR_LOOKALIKE_PIECE : 0));
    int rc = icstr_lookalikes_correct(m, b->lm, b->latents, n, &b->reading.lookalike_params, flags, texts,
                                      ICSTR_TEXT_CAP, confidence, NULL);
    free(flags);
    return rc;
}

/* The joint reading of n inputs already read (dp->ctc_weight > 0), the CTC frames mixed with the
 * pool's glyphs first with --glyphs; a crop the pool holds itself keeps the reading its record
 * gave it. */
static int joint_reading(icstr_crop_batch *b, icstr_model *m, const icstr_decode_params *p, int n, char **texts,
                         float *confidence) {
    int T = icstr_model_ctc_frame_count(m), V = icstr_model_vocab(m).n_chars + 1;
    int E = icstr_model_get_config(m)->enc_dim, R = b->reading.glyph_params.records, found = 0, rc;
    if (b->reading.glyphs && R > 0 &&
        (rc = icstr_pool_search(b->pool, b->embeddings, n, R, b->glyph_ids, b->glyph_scores, &found)))
        return rc;
    for (int k = 0; k < n; k++) {
        b->ctc_skip[k] = (unsigned char)input_trusted(b, k);
        if (b->reading.glyphs && !b->ctc_skip[k])
            icstr_glyph_mix(&b->glyphs, &b->reading.glyph_params, T, b->ctc_feat + (size_t)k * T * E,
                            b->ctc_logp + (size_t)k * T * V, R > 0 ? b->glyph_ids + (size_t)k * R : NULL, found,
                            b->glyph_scratch);
    }
    return icstr_model_ctc_joint(m, b->latents, b->ctc_logp, n, p, b->ctc_skip, texts, ICSTR_TEXT_CAP, confidence,
                                 NULL);
}

/* Reads n inputs (with the pool's prompts and glyphs when a pool is set; the joint reading with
 * dp->ctc_weight > 0; then the lexicon; the lookalikes last). */
static int read_inputs(icstr_crop_batch *b, icstr_model *m, const icstr_decode_params *dp, const float *inputs,
                       const unsigned char *piece, int n, char **texts, float *confidence) {
    if (!b->pool) return icstr_model_recognize(m, inputs, n, dp, texts, ICSTR_TEXT_CAP, confidence);
    icstr_decode_params with_pool = *dp;
    if (b->reading.knn) with_pool.knn = &b->knn.knn;
    if (b->lm) with_pool.lm = b->lm, with_pool.lm_weight = b->lm_weight;
    const icstr_decode_params *p = &with_pool;
    int joint = dp->ctc_weight > 0.0f, rc = joint ? alloc_joint(b, m) : ICSTR_OK;
    if (!rc)
        rc = icstr_model_encode_ctc(m, inputs, n, b->latents, b->embeddings, joint ? b->ctc_feat : NULL,
                                    joint ? b->ctc_logp : NULL);
    if (!rc) rc = icstr_pool_prompts_fill(b->pool, b->embeddings, n, &b->prompts);
    if (!rc) trim_trusted(b, n);
    if (!rc) rc = icstr_model_decode(m, b->latents, n, b->read_ctx, p, texts, ICSTR_TEXT_CAP, confidence);
    if (!rc && b->reading.compare_plain) rc = keep_surer_plain(b, m, p, n, texts, confidence);
    if (!rc && joint) rc = joint_reading(b, m, p, n, texts, confidence);
    if (!rc && b->reading.lexicon) /* after the joint reading, which would undo a label it put in */
        rc = icstr_pool_lexicon_correct(&b->lexicon, m, b->latents, n, &b->reading.lexicon_params, texts,
                                        ICSTR_TEXT_CAP, confidence, NULL);
    if (!rc) rc = correct_lookalikes(b, m, piece, n, texts, confidence);
    return rc;
}

/* The reading of a crop read in pieces: the pieces' texts, trimmed, joined by single spaces (with
 * none where the cut was between letters: piece_glued); the confidence the product of theirs
 * (the chance that every piece is right). */
static void join_pieces(icstr_crop_batch *b, int k, int first, int count) {
    float conf = 1.0f;
    for (int j = first; j < first + count; j++) conf *= b->in_confidence[j];
    icstr_line_join((const char *const *)(b->in_texts + first), b->piece_glued + b->piece_first[k], count, b->texts[k],
                    ICSTR_TEXT_CAP);
    b->confidence[k] = conf;
}

/* The mean log-probability per decoded token (each character and the end of each reading) of n
 * readings: their confidences are whole-sequence probabilities, which fall with the length, so
 * a line read in pieces (more characters, more ends) is compared with its whole reading per token. */
static double per_token(char **texts, const float *confidence, int n) {
    double logp = 0.0;
    long tokens = 0;
    for (int j = 0; j < n; j++) {
        logp += log(confidence[j] > 1e-30f ? (double)confidence[j] : 1e-30);
        tokens += 1;
        for (const unsigned char *c = (const unsigned char *)texts[j]; *c; c++) tokens += (*c & 0xC0) != 0x80;
    }
    return logp / (double)tokens;
}

/* whether crop k's whole image is among the model's inputs (a split crop read whole too; with a
 * pool every crop is, since the pool may hold the whole line itself) */
static int reads_whole(const icstr_crop_batch *b, int k) {
    return !b->piece_count[k] || !b->pieces_only[k] || b->pool;
}


int icstr_crop_batch_trusted(const icstr_crop_batch *b, int k) {
    int count, first = icstr_crop_batch_inputs_of(b, k, &count);
    return count == 1 && !(b->n_pieces && b->pieces_won[k]) && input_trusted(b, first);
}

int icstr_crop_batch_inputs_of(const icstr_crop_batch *b, int k, int *count) {
    if (!b->n_pieces || !b->piece_count[k]) {
        *count = 1;
        return b->n_pieces ? b->in_first[k] : k;
    }
    int used = b->pieces_won[k];
    *count = used ? b->piece_count[k] : 1;
    return b->in_first[k] + (used && reads_whole(b, k));
}

/* --lexicon on the lines whose pieces' reading stayed: the whole line's candidates, each part
 * scored on its piece (icstr_pool_lexicon_correct_pieces) */
static int correct_lines_in_pieces(icstr_crop_batch *b, icstr_model *m) {
    int n = 0, *first = malloc((size_t)b->n_ok * sizeof *first), *count = malloc((size_t)b->n_ok * sizeof *count);
    int *line = malloc((size_t)b->n_ok * sizeof *line);
    char **texts = malloc((size_t)b->n_ok * sizeof *texts);
    float *conf = malloc((size_t)b->n_ok * sizeof *conf);
    const unsigned char **glued = malloc((size_t)b->n_ok * sizeof *glued);
    int rc = first && count && line && texts && conf && glued ? ICSTR_OK
                                                               : icstr_fail(ICSTR_ERR_NOMEM, "lines in pieces");
    for (int k = 0; k < b->n_ok && !rc; k++) {
        if (!b->pieces_won[k] || b->piece_count[k] < 2) continue;
        first[n] = b->in_first[k] + reads_whole(b, k);
        count[n] = b->piece_count[k];
        glued[n] = b->piece_glued + b->piece_first[k];
        texts[n] = b->texts[k];
        conf[n] = b->confidence[k];
        line[n++] = k;
    }
    if (!rc && n)
        rc = icstr_pool_lexicon_correct_pieces(&b->lexicon, m, b->latents, n, first, count, b->in_texts, glued,
                                               &b->reading.lexicon_params, texts, ICSTR_TEXT_CAP, conf, NULL);
    for (int j = 0; j < n && !rc; j++) b->confidence[line[j]] = conf[j];
    free(first), free(count), free(line), free(texts), free(conf), free(glued);
    return rc;
}

/* The reading under the pool's view (the whole crops and the pieces of the long ones). */
static int recognize_view(icstr_crop_batch *b, icstr_model *m, const icstr_decode_params *p) {
    if (!b->n_pieces) return read_inputs(b, m, p, b->images, NULL, b->n_ok, b->texts, b->confidence);
    /* some crop was split: the model reads every crop whole (but those too wide for it) and, after
     * a split one, its pieces */
    size_t img = (size_t)3 * b->H * b->W;
    int n_in = 0;
    for (int k = 0; k < b->n_ok; k++) {
        b->in_first[k] = n_in;
        if (reads_whole(b, k)) {
            b->in_piece[n_in] = 0;
            memcpy(b->inputs + (size_t)n_in++ * img, b->images + (size_t)k * img, img * sizeof(float));
        }
        int count = b->piece_count[k];
        memcpy(b->inputs + (size_t)n_in * img, b->pieces + (size_t)b->piece_first[k] * img,
               (size_t)count * img * sizeof(float));
        memset(b->in_piece + n_in, 1, (size_t)count);
        n_in += count;
    }
    int rc = read_inputs(b, m, p, b->inputs, b->in_piece, n_in, b->in_texts, b->in_confidence);
    for (int k = 0; k < b->n_ok && !rc; k++) {
        int whole = b->in_first[k], count = b->piece_count[k], has_whole = reads_whole(b, k);
        b->pieces_won[k] = 0;
        if (has_whole) {
            memcpy(b->texts[k], b->in_texts[whole], ICSTR_TEXT_CAP);
            b->confidence[k] = b->in_confidence[whole];
            /* a line the pool holds itself keeps the whole reading its record gave it */
            if (!count || input_trusted(b, whole)) continue;
        }
        if (b->pieces_only[k]) { /* not read whole, or read whole only for the pool's sake */
            join_pieces(b, k, whole + has_whole, count);
            b->pieces_won[k] = 1;
            continue;
        }
        float whole_conf = b->confidence[k];
        double whole_per = per_token(b->in_texts + whole, b->in_confidence + whole, 1);
        double pieces_per = per_token(b->in_texts + whole + 1, b->in_confidence + whole + 1, count);
        join_pieces(b, k, whole + 1, count);
        /* the pieces' reading stays when the model is surer of it per token, unless it is the whole
         * crop's reading but for spaces: the whole reading, which saw the crop at once, knows
         * better where they are (a word with a wide letter gap is not two words) */
        if (pieces_per > whole_per && !icstr_text_same_but_spaces(b->texts[k], b->in_texts[whole])) {
            b->pieces_won[k] = 1;
        } else {
            memcpy(b->texts[k], b->in_texts[whole], ICSTR_TEXT_CAP);
            b->confidence[k] = whole_conf;
        }
    }
    if (!rc && b->reading.lexicon) rc = correct_lines_in_pieces(b, m);
    return rc;
}

int icstr_crop_batch_recognize(icstr_crop_batch *b, icstr_model *m, const icstr_decode_params *p) {
    if (!b->n_ok) return ICSTR_OK;
    /* the alternate views first, so the pool's own view's reading leaves its prompts, plain
     * choices and trust behind for the caller (icstr_crop_batch_trusted, --json) */
    size_t img = (size_t)3 * b->H * b->W;
    int rc = ICSTR_OK;
    for (int v = 0; v < b->n_alt && !rc; v++)
        rc = read_inputs(b, m, p, b->alt_images + (size_t)v * b->cap * img, NULL, b->n_ok, b->alt_texts + (size_t)v * b->cap,
                         b->alt_confidence + (size_t)v * b->cap);
    if (!rc) rc = recognize_view(b, m, p);
    if (rc || !b->n_alt) return rc;
    char *texts[1 + ICSTR_POOL_ALTERNATES_MAX];
    float conf[1 + ICSTR_POOL_ALTERNATES_MAX];
    for (int k = 0; k < b->n_ok; k++) {
        if (icstr_crop_batch_trusted(b, k)) continue; /* the pool holds the crop itself */
        texts[0] = b->texts[k];
        conf[0] = b->confidence[k];
        for (int v = 0; v < b->n_alt; v++) {
            texts[1 + v] = b->alt_texts[(size_t)v * b->cap + k];
            conf[1 + v] = b->alt_confidence[(size_t)v * b->cap + k];
        }
        int w = icstr_view_vote(texts, conf, 1 + b->n_alt);
        if (w) {
            memcpy(b->texts[k], texts[w], ICSTR_TEXT_CAP);
            b->confidence[k] = conf[w];
        }
    }
    return ICSTR_OK;
}
