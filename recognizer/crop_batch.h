/* icstr recognizer: a batch of crops read from icstr_inputs and preprocessed for the model, each
 * with its name, optional label and, for a crop that could not be read or decoded, the reason. */
#ifndef ICSTR_CROP_BATCH_H
#define ICSTR_CROP_BATCH_H

#include "icstr_pool.h"
#include "inputs.h"
#include "model.h"

/* How crops are read with a prompt pool (icstr_crop_batch_set_pool). */
typedef struct {
    int shots;               /* prompts per crop, [0, max_prompts] (default 2) */
    float min_similarity;    /* only records at least this similar (cosine of the pool keys); -1 = all */
    int compare_plain;       /* also read each crop that got prompts without them, and keep the
                                reading with the higher confidence */
} icstr_pool_reading;
icstr_pool_reading icstr_pool_reading_default(void);

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
    float *latents;          /* (cap, M, D) the crops' visual latents */
    float *embeddings;       /* (cap, D) their pool keys */
    icstr_pool_prompts prompts;
    /* reading.compare_plain: kept_plain[k] = 1 where crop k's plain reading won (n_ok); the
     * plain pass's scratch */
    unsigned char *kept_plain;
    float *plain_latents;    /* (cap, M, D) the crops that got prompts, compacted */
    int *plain_of;           /* (cap) which crop each plain reading is */
    char **plain_texts;      /* (cap) */
    float *plain_confidence; /* (cap) */
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
/* Keep each crop's encoded bytes in bytes/lens from the next read on. Errors: ICSTR_ERR_NOMEM. */
int icstr_crop_batch_keep_bytes(icstr_crop_batch *b);
/* Decode with prompts from pool from now on (pool opened with the same model; NULL = stop), as
 * r says: the r->shots most similar records (in [0, max_prompts]) that are at least
 * r->min_similarity similar. Errors: those of icstr_pool_prompts_init, ICSTR_ERR_NOMEM. */
int icstr_crop_batch_set_pool(icstr_crop_batch *b, icstr_pool *pool, const icstr_pool_reading *r);

#define ICSTR_TEXT_CAP 256

#endif
