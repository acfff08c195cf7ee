/* icstr recognizer: the prompt pool's labels as a lexicon. A reading within a small edit
 * distance of some pool labels is replaced by the one the model itself finds likely enough: each
 * candidate is scored on the crop with icstr_model_score (no prompts), and the best stays when
 * its log-probability is at most `margin` below the reading's. A pool of receipt lines then
 * reads "Toial" as the "TOTAL :" it holds, which a prompt alone does not make the model do.
 * A reading with no letter ("18.00", "2016") is left as it is: amounts, dates and codes are no
 * closed vocabulary, and a pool's "1.00" is as near "18.00" as its "TOTAL" is near "Toial".
 * Then the word pass, for a reading no label replaced: each of its words (runs of non-spaces)
 * of at least 3 letters and digits, one a letter, that is no word of the labels may become the
 * labels' word nearest it (within word_ned); the candidates (each such word put right alone,
 * then all of them at once) are scored as the labels are, under the same margin: "CST" in a
 * pool whose "GST ID: 0021..." line shows "GST" becomes "GST", a line the pool never held.
 * A line read in pieces is then judged whole too (icstr_pool_lexicon_correct_pieces,
 * pool_lexicon_pieces.c). */
#ifndef ICSTR_POOL_LEXICON_H
#define ICSTR_POOL_LEXICON_H

#include "icstr_pool.h"
#include "model.h"

typedef struct {
    char *word, *clean; /* a word of the labels, and its cleaned form */
    int clean_len;
} icstr_lexicon_word;

typedef struct {
    int n;              /* distinct labels */
    char **labels;      /* (n) as stored */
    char **clean;       /* (n) the standard scoring protocol's cleaning: [a-z0-9] */
    int *clean_len;     /* (n) */
    int *tokens;        /* (n, max_label) */
    int *len;           /* (n) */
    int max_label;
    icstr_lexicon_word *words; /* (n_words) the labels' words, by cleaned form */
    int n_words;
} icstr_pool_lexicon;

typedef struct {
    float max_ned;      /* candidates: labels at most this normalised edit distance from the
                           reading (cleaned strings; default 0.5) */
    float margin;       /* a candidate replaces the reading when its log-probability is at least
                           the reading's minus this (nats; default 4). Both defaults were chosen
                           on the domains' pool sides (bench/incontext_val.sh), not their tests */
    int candidates;     /* the nearest candidates scored per reading (default 4) */
    float word_ned;     /* the word pass (below): a word's candidates are the labels' words at
                           most this normalised edit distance from it (default 0.34: one edit in
                           three letters; 0: no word pass) */
    int max_shorter;    /* a label is a candidate only with at most this many letters and
                           digits fewer than the reading (default 1; negative: any): the
                           model's log-probability favours every shorter text ("Cash Bill:"
                           came within the margin of the label "CASH", "21.0S" of "1.00") */
} icstr_lexicon_params;
icstr_lexicon_params icstr_lexicon_default_params(void);

/* Reads every label of the pool (distinct, encoded for the pool's model). Errors: those of
 * icstr_pool_foreach, ICSTR_ERR_NOMEM. */
int icstr_pool_lexicon_load(icstr_pool *pool, icstr_pool_lexicon *lx);
void icstr_pool_lexicon_free(icstr_pool_lexicon *lx);

/* Corrects n readings (texts, cap bytes each; confidence) of the crops with these latents
 * (n, M, dec_dim) in place; corrected (n, may be NULL) gets 1 where a label replaced the reading.
 * Errors: those of icstr_model_score, ICSTR_ERR_NOMEM. */
int icstr_pool_lexicon_correct(const icstr_pool_lexicon *lx, icstr_model *m, const float *latents, int n,
                               const icstr_lexicon_params *p, char **texts, int cap, float *confidence,
                               unsigned char *corrected);

/* Corrects lines read in pieces (a crop too wide for the model, crop_batch): line i's pieces are
 * the inputs first[i] .. first[i] + count[i] - 1 (latents (inputs, M, dec_dim), their readings
 * piece_texts), texts[i] their readings joined as icstr_line_join joins them (glued: NULL, or per
 * line its pieces' glue flags, NULL for none). The per-input pass above only ever sees
 * a piece; here the whole line's candidates are the labels near its joined reading (as above:
 * max_ned, max_shorter, candidates) and, with word_ned > 0, the joined reading with a word the
 * pieces' edge cut in two put right (neither half a word of the labels, the halves joined within
 * word_ned of one: "ROUNDI" + "HG" -> "ROUNDING"; each such word alone, then all at once). A
 * candidate is cut where it aligns (edit distance, either case, spaces left out) with the edges
 * between the pieces' readings; one that leaves a piece less than half the letters and digits
 * its reading shows (or no text at all) is dropped; each part is scored on its piece (no
 * prompts, either case), and the sum replaces the line's reading when at most margin below the
 * sum of its pieces' readings' (corrected[i] = 1 then; corrected may be NULL; confidence[i]
 * becomes exp(sum)). Lines of one piece, and lines whose joined reading is a label, are left
 * alone. Errors: those of icstr_model_score, ICSTR_ERR_NOMEM. */
int icstr_pool_lexicon_correct_pieces(const icstr_pool_lexicon *lx, icstr_model *m, const float *latents,
                                      int n_lines, const int *first, const int *count, char *const *piece_texts,
                                      const unsigned char *const *glued, const icstr_lexicon_params *p, char **texts,
                                      int cap, float *confidence, unsigned char *corrected);

/* ---- shared by the lexicon's passes (pool_lexicon.c) ---- */
/* whether a cleaned reading ([a-z0-9]) has a letter: one without is no lexicon's to correct */
int icstr_lexicon_has_letter(const char *clean, int n);
/* The normalised edit distance of two cleaned strings, or 2 when it is sure to exceed max_ned
 * (the lengths alone say so). */
double icstr_lexicon_ned(const char *a, int na, const char *b, int nb, double max_ned);
/* The (at most C) labels nearest a cleaned reading within p->max_ned (and p->max_shorter),
 * nearest first: their indices in cand, distances in dist (C each); returns how many (0 where
 * the reading has no letter), -1 where the reading is a label already. */
int icstr_lexicon_nearest_labels(const icstr_pool_lexicon *lx, const char *clean, int nc,
                                 const icstr_lexicon_params *p, int C, int *cand, double *dist);
/* the index of a cleaned word among the labels' words (lx->words), -1 if it is none */
int icstr_lexicon_word_index(const icstr_pool_lexicon *lx, const char *clean);
/* the pool's word nearest a cleaned word (normalised edit distance at most max_ned), -1 if none
 * or if the word is the pool's already */
int icstr_lexicon_nearest_word(const icstr_pool_lexicon *lx, const char *clean, int nc, double max_ned);
#define ICSTR_LEXICON_WORD_MIN 3 /* the labels' words: at least this many letters and digits */

#endif
