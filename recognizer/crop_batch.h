/* icstr recognizer: a batch of crops read from icstr_inputs and preprocessed for the model, each
 * with its name, optional label and, for a crop that could not be read or decoded, the reason. */
#ifndef ICSTR_CROP_BATCH_H
#define ICSTR_CROP_BATCH_H

#include "icstr_data.h"
#include "icstr_pool.h"
#include "inputs.h"
#include "model.h"
#include "pool_glyphs.h"
#include "pool_knn.h"
#include "pool_lm.h"
#include "lookalikes.h"
#include "pool_lexicon.h"

/* How crops are read with a prompt pool (icstr_crop_batch_set_pool). */
typedef struct {
    int shots;               /* prompts per crop, [0, max_prompts] (default 2) */
    float min_similarity;    /* only records at least this similar (cosine of the pool keys); -1 = all */
    int compare_plain;       /* also read each crop that got prompts without them, and keep the
                                plain reading unless the other is surer (compare_margin; default 1) */
    float compare_margin;    /* with compare_plain, the reading with prompts stays only when its
                                confidence is at least this times the plain reading's (default
                                1.25, chosen on the IC15 train set's hard-sample loop: prompts
                                also make the model surer of wrong readings; 1 = the surer one) */
    float trust_similarity;  /* a crop whose most similar prompt is at least this similar (a
                                near-copy of the crop, as in the hard-sample loop) is read with
                                that prompt alone and, with compare_plain, keeps that reading
                                (default 0.998; above 1: never) */
    int lexicon;             /* 1: the pool's labels are also a lexicon (pool_lexicon.h): a
                                reading close to some labels becomes the one the model finds
                                likely enough, and a line read in pieces is also judged whole
                                (icstr_pool_lexicon_correct_pieces) (default 0: it also turns
                                some right readings into a near label, e.g. in a pool of hard
                                samples) */
    icstr_lexicon_params lexicon_params;
    int knn;                 /* 1: every decoding pass mixes in the votes of the pool's decoder
                                states (pool_knn.h; greedy only) */
    icstr_knn_params knn_params;
    int glyphs;              /* 1: with the joint reading (icstr_decode_params.ctc_weight > 0), the
                                CTC head's frames get the votes of the pool's glyphs
                                (pool_glyphs.h) first */
    icstr_glyph_params glyph_params;
    int lm;                  /* 1: the pool's labels are also a character language model
                                (pool_lm.h) fused into every decoding pass (greedy only) */
    icstr_char_lm_params lm_params;
    float lm_weight;         /* its weight (default 0.2, chosen on the domains' pool sides), for
                                a pool of ICSTR_LM_FULL_LABELS labels or more; a smaller pool's
                                model gets that share of it (10 labels: a fifth) */
    int lookalikes;          /* 1 (with lm): the lookalikes of each finished reading re-decided by the
                                whole text's decoder and character-model scores (lookalikes.h) */
    icstr_lookalike_params lookalike_params;
    int views;               /* 1 (default): each crop is read under the pool's view; V > 1: also
                                under the pool's first V - 1 alternate views (icstr_pool_alternates,
                                as many as it has), the same reading each time, and the readings
                                vote (icstr_view_vote); V times the work */
} icstr_pool_reading;
icstr_pool_reading icstr_pool_reading_default(void);

/* The labels from which the pool's character model gets its whole weight: a model of 10 labels is
 * too sure of what it saw (on the pool sides of the domains, --lm at 0.2 cost 2 to 3 points with
 * 10-record pools and gained with 50 and 100) */
#define ICSTR_LM_FULL_LABELS 50

typedef struct {
    int cap, n;              /* capacity and crops in this batch */
    int H, W;
    float *images;           /* (n_ok, 3, H, W): only the crops that decoded, in order */
    int n_ok;
    char **names;            /* (n) */
    char **labels;           /* (n) NULL where the source has none */
    int *ok_index;           /* (n) index into images, or -1 when the crop failed */
    char **reasons;          /* (n) why it failed, NULL when ok */
    char **texts;            /* (n_ok) recognized text, filled by the caller's decode */
    float *confidence;       /* (n_ok) */
    /* the encoded image files, kept only after icstr_crop_batch_keep_bytes (e.g. to write the
     * misread crops out as they came in); NULL where a crop could not be read */
    int keep_bytes;
    unsigned char **bytes;   /* (n) */
    size_t *lens;            /* (n) */
    /* in-context decoding from a prompt pool (icstr_crop_batch_set_pool); pool NULL = none */
    icstr_pool *pool;        /* not owned */
    icstr_pool_reading reading;
    icstr_view view;         /* the pool's view (icstr_pool_view): crops read from then on are
                                cut to it before they are resized (full without a pool) */
    int n_alt;               /* reading.views: the alternate views each crop is also read under */
    icstr_view alt[ICSTR_POOL_ALTERNATES_MAX];
    float *alt_images;       /* (n_alt, cap, 3, H, W) the crops under each of them */
    char **alt_texts;        /* (n_alt * cap) their readings */
    float *alt_confidence;   /* (n_alt * cap) */
    icstr_pool_lexicon lexicon;  /* reading.lexicon: the pool's labels (n 0 otherwise) */
    icstr_pool_knn knn;          /* reading.knn: the pool's decoder states (knn.n 0 otherwise) */
    icstr_glyph_store glyphs;    /* reading.glyphs: the pool's glyph frames (glyphs.n 0 otherwise) */
    icstr_char_lm *lm;           /* reading.lm: the pool's labels' character model (NULL otherwise) */
    float lm_weight;             /* reading.lm: the weight it is read with (the pool's size's share) */
    float *ctc_logp;         /* the joint reading (ctc_weight > 0) with a pool: (in_cap, T, V) the
                                inputs' CTC frames, mixed with the glyphs' votes */
    float *ctc_feat;         /* reading.glyphs: (in_cap, T, enc_dim) their encoder tokens */
    float *glyph_scratch;    /* reading.glyphs: (T, glyphs.n) */
    unsigned char *ctc_skip; /* (in_cap) inputs that keep their reading (a trusted prompt) */
    uint64_t *glyph_ids;     /* glyph_params.records > 0: (in_cap, records) each input's most */
    float *glyph_scores;     /* similar records, whose glyphs alone vote */
    float *latents;          /* (in_cap, M, D) the inputs' visual latents */
    float *embeddings;       /* (in_cap, D) their pool keys */
    icstr_pool_prompts prompts;
    icstr_context *read_ctx; /* (in_cap) the contexts decoded: prompts.ctx, but a crop whose most
                                similar prompt reaches trust_similarity has that prompt alone */
    /* reading.compare_plain: kept_plain[j] = 1 where input j's plain reading won; the plain
     * pass's scratch */
    unsigned char *kept_plain; /* (in_cap) */
    float *plain_latents;    /* (in_cap, M, D) the inputs that got prompts, compacted */
    int *plain_of;           /* (in_cap) which input each plain reading is */
    char **plain_texts;      /* (in_cap) */
    float *plain_confidence; /* (in_cap) */
    /* long lines (icstr_crop_batch_set_split): a crop wider than split.split_aspect heights is
     * also read as pieces cut between words (icstr_line_split), their readings joined by spaces
     * and their confidences multiplied, and the reading the model is surer of per token stays
     * (whole or pieces: a single word with wide letter spacing can be cut too), the whole one
     * where the two differ only in spaces. The model reads "inputs":
     * each crop whole and, after a split one, its pieces; the pool's prompts (prompts.ctx) and
     * kept_plain are per input. With a pool, a crop too wide to be read whole (pieces_only) is
     * read whole too, and a split crop whose whole reading had a trusted prompt (the line's own
     * record, trust_similarity) keeps that reading. */
    icstr_line_split_params split;  /* split_aspect <= 0: crops are read whole (the default) */
    int in_cap;                     /* inputs a batch can hold: cap + piece_cap */
    int piece_cap, n_pieces;
    float *pieces;                  /* (piece_cap, 3, H, W) the pieces of the split crops */
    int *piece_first, *piece_count; /* (cap) per crop that decoded: its pieces (count 0: whole) */
    unsigned char *piece_glued;     /* (piece_cap) per piece: 1 when its cut was between letters
                                       (its reading joins the previous one's without a space) */
    float *inputs;                  /* (cap + piece_cap, 3, H, W) assembled when some crop was split */
    int *in_first;                  /* (cap) per crop that decoded: its first input (the whole crop) */
    unsigned char *in_piece;        /* (in_cap) 1 where the input is a piece of a crop */
    unsigned char *pieces_won;      /* (cap) 1 where the pieces' reading stayed */
    unsigned char *pieces_only;     /* (cap) 1 where the crop is too wide to be read whole
                                       (split.whole_aspect): its pieces' reading is taken, but
                                       where the pool holds the crop itself (above) */
    char **in_texts;                /* (in_cap) */
    float *in_confidence;           /* (in_cap) */
} icstr_crop_batch;

int icstr_crop_batch_init(icstr_crop_batch *b, int cap, int H, int W);
void icstr_crop_batch_free(icstr_crop_batch *b);
/* Reads up to cap crops. Returns the number read (0 at the end) or a negative status for a
 * failure of the whole source. */
int icstr_crop_batch_read(icstr_crop_batch *b, icstr_inputs *in);
/* Recognizes the crops that decoded (texts and confidence); with a pool set, each crop is
 * decoded with its `shots` most similar pool records as context (and, with compare_plain, also
 * without them: the more confident reading stays). */
int icstr_crop_batch_recognize(icstr_crop_batch *b, icstr_model *m, const icstr_decode_params *p);
/* Puts decoded crop im into slot (< cap) of the model inputs as icstr_crop_batch_read does (cut
 * to the pool's view, and under each alternate view), without the long-line pieces: for callers
 * that decode crops themselves (bench speed). Errors: those of icstr_image_view_to_input. */
int icstr_crop_batch_put(icstr_crop_batch *b, const icstr_image *im, int slot);
/* Keep each crop's encoded bytes in bytes/lens from the next read on. Errors: ICSTR_ERR_NOMEM. */
int icstr_crop_batch_keep_bytes(icstr_crop_batch *b);
/* Decode with prompts from pool from now on (pool opened with the same model; NULL = stop), as
 * r says: the r->shots most similar records (in [0, max_prompts]) that are at least
 * r->min_similarity similar. Crops read after it are cut to the pool's view (call it before
 * icstr_crop_batch_read). Errors: those of icstr_pool_prompts_init, ICSTR_ERR_NOMEM. */
int icstr_crop_batch_set_pool(icstr_crop_batch *b, icstr_pool *pool, const icstr_pool_reading *r);
/* Read crops wider than p->split_aspect heights in pieces from the next read on (p NULL or
 * split_aspect <= 0: whole). Errors: ICSTR_ERR_NOMEM. */
int icstr_crop_batch_set_split(icstr_crop_batch *b, const icstr_line_split_params *p);
/* The inputs whose reading crop k (an index into images) got: returns the first, *count how many
 * (1 for a crop read whole, the number of pieces where the pieces' reading stayed). Valid after
 * icstr_crop_batch_recognize. */
int icstr_crop_batch_inputs_of(const icstr_crop_batch *b, int k, int *count);
/* 1 where crop k was read whole with a trusted prompt (reading.trust_similarity: the pool holds
 * the crop itself), alone; valid after icstr_crop_batch_recognize. */
int icstr_crop_batch_trusted(const icstr_crop_batch *b, int k);

#define ICSTR_TEXT_CAP 256

#endif
