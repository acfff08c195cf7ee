/* icstr recognizer: the prompt pool as a store of glyphs for the CTC head. Every record's image
 * is encoded and its label aligned to the head's frames (the Viterbi path, icstr_ctc_align); each
 * frame's encoder token (L2-normalised) and the symbol it is aligned to (the blank or a
 * character) make one entry. A crop's frames are then read with the votes of the entries most
 * like them mixed in (icstr_glyph_mix), and the joint reading (icstr_model_ctc_joint) weighs the
 * result against the decoder's reading: a glyph the model misreads in a domain's font is read
 * as the pool's labels name it, in text the pool never shows. */
#ifndef ICSTR_POOL_GLYPHS_H
#define ICSTR_POOL_GLYPHS_H

#include "icstr_pool.h"
#include "model.h"

typedef struct {
    int n;              /* entries */
    int E, V;           /* token width (enc_dim), CTC symbols (1 + n_chars) */
    float *keys;        /* (n, E) unit vectors */
    int *values;        /* (n) CTC symbols: 0 blank, 1 + token */
    int records;        /* records read (labels the model cannot write, or too long for the
                           frames, are skipped); record r's entries are [r T, (r + 1) T) */
    int T;              /* frames per record */
    uint64_t *ids;      /* (records) their pool ids, ascending */
    int computed;       /* records encoded by this load; the others came from the pool's
                           glyphs.cache (store_cache.h), which the load brings up to date */
} icstr_glyph_store;

typedef struct {
    int k;              /* entries that vote per frame (default 16, at most 64) */
    float temperature;  /* vote weights exp((cos - cos_nearest) / temperature) (default 0.05) */
    float lambda;       /* share of the votes in a frame's distribution (default 0.5) */
    int records;        /* > 0: only the entries of the crop's this many most similar records
                           (the pool's retrieval) vote, bounding the cost in a large pool; 0
                           (default): every entry */
} icstr_glyph_params;
icstr_glyph_params icstr_glyph_default_params(void);

/* Builds the store from every record of the pool (opened with its model), reading the entries of
 * the records that POOL/glyphs.cache holds for this state of the pool from it (store_cache.h) and
 * writing it anew when it lacked some. Errors: those of
 * icstr_pool_foreach and icstr_model_encode_ctc, ICSTR_ERR_ARG (a pool opened without a model),
 * ICSTR_ERR_FORMAT (a record's image that does not decode: the message names it), ICSTR_ERR_NOMEM. */
int icstr_glyph_store_load(icstr_pool *pool, icstr_glyph_store *s);
void icstr_glyph_store_free(icstr_glyph_store *s);

/* Mixes one crop's frames with the store's votes: feat (T, E) its tokens from
 * icstr_model_encode_ctc (normalised in place), logp (T, V) the head's log-probabilities,
 * replaced by log((1 - lambda) p + lambda votes). With records (n_records of them, as the pool's
 * ids; NULL = the whole store) only those records' entries vote (ids the store lacks are
 * passed over). scratch: icstr_glyph_scratch_floats floats. */
void icstr_glyph_mix(const icstr_glyph_store *s, const icstr_glyph_params *p, int T, float *feat, float *logp,
                     const uint64_t *records, int n_records, float *scratch);
/* The scratch icstr_glyph_mix needs for n_records records (0: the whole store). */
size_t icstr_glyph_scratch_floats(const icstr_glyph_store *s, int n_records);

#endif
