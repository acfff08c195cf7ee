/* icstr recognizer: the model's private layout, shared by recognizer/model_*.c and the model tests.
 * Not part of the public API (model.h): parameter offsets, activation buffers, the decoder's
 * sequence description, and test hooks (the beam search with any width, the decoder's logits
 * without a key/value cache). */
#ifndef ICSTR_MODEL_INTERNAL_H
#define ICSTR_MODEL_INTERNAL_H

#include "model.h"

/* ---- parameters: float offsets into the slab ---- */

typedef struct { /* one pre-LN self-attention block */
    size_t ln1_w, ln1_b, qkv_w, qkv_b, proj_w, proj_b;  /* qkv_w (3C, C): rows q, k, v */
    size_t ln2_w, ln2_b, fc1_w, fc1_b, fc2_w, fc2_b;    /* fc1_w (F, C), fc2_w (C, F) */
} blk_params;

typedef struct { /* one resampler block: latents (D) cross-attend to encoder tokens (E) */
    size_t lnq_w, lnq_b, lnkv_w, lnkv_b;
    size_t q_w, q_b, kv_w, kv_b, proj_w, proj_b;        /* q_w (D, D), kv_w (2D, E) */
    size_t ln2_w, ln2_b, fc1_w, fc1_b, fc2_w, fc2_b;
} xblk_params;

/* ---- activations ---- */

typedef struct { /* saved by the forward of a self-attention block, read by its backward */
    float *ln1, *ln1_mean, *ln1_rstd;   /* (R, C), (R), (R) */
    float *qkv;                         /* (R, 3C): q, k, v side by side (the decoder's KV cache) */
    float *att;                         /* (B, H, T, T) */
    float *ao;                          /* (R, C) attention output before the projection */
    float *xmid;                        /* (R, C) residual stream after the attention branch */
    float *ln2, *ln2_mean, *ln2_rstd;
    float *h, *hg;                      /* (R, F) before and after GELU */
    float *xout;                        /* (R, C) block output */
    uint8_t *keep1, *keep2;             /* (R, C) dropout masks; NULL without dropout */
} blk_acts;

typedef struct { /* saved by the forward of a resampler block */
    float *lnq, *lnq_mean, *lnq_rstd;   /* (n M, D) */
    float *lnkv, *lnkv_mean, *lnkv_rstd;/* (n N, E) */
    float *q;                           /* (n M, D) */
    float *kv;                          /* (n N, 2D) */
    float *att;                         /* (n, H, M, N) */
    float *ao, *xmid;                   /* (n M, D) */
    float *ln2, *ln2_mean, *ln2_rstd;
    float *h, *hg, *xout;               /* (n M, F), (n M, F), (n M, D) */
    uint8_t *keep1, *keep2;
} xblk_acts;

/* The widest decoder (the bound of model.dec_dim in icstr_model_check_config_): a
 * model.glyph_labels row's glyph vectors live on the stack. */
#define ICSTR_GLYPH_DIM_MAX 8192

/* One chunk of a decoder sequence: an image's latents, then BOS, the label, and EOC when the
 * chunk is complete. Rows: M + 1 + len + eoc. */
typedef struct {
    const float *lat;   /* (M, D) latents of the chunk's image */
    int img;            /* image row block in the resampler output (for backward); -1 = none */
    const int *label;   /* len character tokens */
    int len;
    int eoc;            /* 1 = complete chunk ending with EOC; 0 = open (being decoded) */
    int query;          /* segment: 0 prompt, 1 query */
    int loss;           /* 1 = targets on the label and EOC of this chunk */
} dec_chunk;

/* What one plan of the activation arena can hold; a request that fits reuses it. */
typedef struct {
    int train;          /* 1 = every layer keeps its activations (backward possible) */
    int dropout;        /* dropout masks allocated */
    size_t n_img;       /* images through the encoder and resampler */
    size_t dec_rows;    /* B * T of the decoder */
    size_t dec_att;     /* B * T * T */
    size_t dec_B;       /* sequences */
    size_t chunks;      /* chunks over all sequences */
} model_plan;

struct icstr_model {
    icstr_model_config cfg;
    icstr_vocab_info voc;
    uint32_t cp[ICSTR_CHARSET_MAX];      /* token id -> code point */
    uint32_t cp_sorted[ICSTR_CHARSET_MAX];
    int cp_sorted_id[ICSTR_CHARSET_MAX];

    /* derived sizes */
    int Hp, Wp, N;          /* token grid and tokens per image */
    int c1, h1, w1;         /* conv stem stage 1: channels, size */
    int c2, h2, w2;         /* conv stem stage 2 */
    int sph, spw;           /* patch embedding kernel after the stem (or on the image: stem 0) */
    int pin;                /* patch embedding input channels */
    int ctc_v;              /* 1 + n_chars */
    int max_txt;            /* text positions per chunk: max_label + 2 */

    icstr_slab slab;
    int with_train;
    int frozen; /* weights frozen for bf16 products (icstr_ops_freeze), loaded for recognition */

    /* parameter offsets */
    size_t conv1_w, conv1_b, conv2_w, conv2_b;  /* (c1, 3*9), (c2, c1*9) */
    size_t patch_w, patch_b;                    /* (E, pin*sph*spw) */
    size_t enc_pos;                             /* (N, E) */
    blk_params *enc;                            /* enc_layers */
    size_t enc_lnf_w, enc_lnf_b;
    size_t ctc_w, ctc_b;                        /* (1 + n_chars, E) */
    size_t lat, pool_w, pool_b;                 /* (M, D), (D, E), (D) */
    xblk_params *res;                           /* resampler_layers */
    size_t res_lnf_w, res_lnf_b;
    size_t tok_emb, lat_pos, txt_pos, seg_emb;  /* (V, D), (M, D), (max_label+2, D), (2, D) */
    size_t sim_emb;                             /* (ICSTR_SIM_BANDS, D), prompt_similarity only */
    size_t glyph_w;                             /* (D, D), glyph_labels only */
    blk_params *dec;                            /* dec_layers */
    size_t dec_lnf_w, dec_lnf_b;
    size_t head_w, head_b;                      /* (V, D), (V) */

    /* activation arena and the pointers planned in it (model_plan.c) */
    icstr_arena act;
    model_plan plan;
    int planned;
    struct {
        const float *images;                    /* the forward's input, kept for backward */
        float *cols1, *c1pre, *c1act;           /* conv stem stage 1: im2col, before/after GELU */
        float *cols2, *c2pre, *c2act;           /* stage 2 */
        float *pcols;                           /* patch embedding im2col scratch */
        float *x0;                              /* (n N, E) */
        blk_acts *blk;                          /* enc_layers */
        float *out, *out_mean, *out_rstd;       /* final LN (n N, E) */
        float *ctc_in, *ctc_logits, *ctc_grad;  /* (n N, E) column-major tokens, (n N, 1+chars) x2 */
        float *ctc_loss, *ctc_dloss;            /* (n) */
        int *ctc_tgt, *ctc_len;                 /* (n, max_label), (n) */
        const int **img_label;                  /* (n) an image's label: its first chunk marked */
        int *img_len;                           /* ICSTR_LOSS_ALL; length -1 for none (CTC, key loss) */
    } e;
    struct {
        float *colmean;                         /* (n M, E) column-block means */
        float *y0;                              /* (n M, D) initial latents */
        xblk_acts *blk;                         /* resampler_layers */
        float *out, *out_mean, *out_rstd;       /* (n M, D) final latents */
        float *key, *key_norm, *key_dkey;       /* key loss: (n, D) keys, (n) |sum|, (n, D) grad */
        float *key_coef;                        /* (n, n) d loss_i / d s_ij */
        int *key_group;                         /* (n) label group (-1 none) */
    } r;
    struct {
        int B, T;
        dec_chunk *chunks;                      /* (chunks) */
        const float **row_src;                  /* (B T) latent row, or NULL for text and pad */
        int *row_tok;                           /* (B T) token of a text row, -1 otherwise */
        int *row_pos;                           /* (B T) index into lat_pos or txt_pos */
        int *row_seg;                           /* (B T) 0 prompt, 1 query */
        int *row_band;                          /* (B T) similarity band of a prompt row, -1 none */
        int *row_img;                           /* (B T) img*M + i of a latent row, or -1 */
        const float **row_glyph;                /* (B T) glyph_labels: latents of a prompt label row's chunk, or NULL */
        float *row_glyph_at;                    /* (B T) its latent position, in [0, M - 1] */
        int *row_glyph_img;                     /* (B T) its chunk's image (for backward), -1 none */
        int *limit;                             /* (B T) row attends to keys [0, limit) */
        int *seq_len;                           /* (B) */
        int *seq_start;                         /* (B + 1) chunk starts of a training batch */
        uint8_t *mask;                          /* (B, T, T) */
        int *targets;                           /* (B T), -1 = no loss */
        float *x0;                              /* (B T, D) */
        blk_acts *blk;                          /* dec_layers */
        float *out, *out_mean, *out_rstd;       /* final LN (B T, D) */
        float *logits, *probs;                  /* (B T, V) */
        float *losses, *dloss;                  /* (B T) */
    } d;
    /* backward scratch (train plans only), sized for the largest user */
    struct {
        float *dres, *dln, *dao, *dtmp;         /* (rows, C) */
        float *dqkv;                            /* (rows, 3C) */
        float *dh, *dhg;                        /* (rows, F) */
        float *dkv_in;                          /* (n N, E) resampler key/value LN grad */
        float *denc;                            /* (n N, E) grad of the encoder output */
        float *dlat;                            /* (n M, D) grad of the resampler output */
        float *dcolmean;                        /* (n M, E) */
        float *dlogits;                         /* (B T, V) and (n N, 1+chars) */
        float *dctc_in;                         /* (n N, E) */
        float *dc2act, *dc2pre, *dc1act, *dc1pre; /* conv stem */
        float *dcols;                           /* one image's im2col grad */
    } g;

    /* decoding workspace (model_decode.c), its own arena grown as needed */
    icstr_arena dec_ws;
};

/* ---- helpers shared between the model files ---- */

static inline float *mp(const icstr_model *m, size_t off) { return m->slab.data + off; }
/* NULL for a model without gradients; ops skip NULL gradient outputs */
static inline float *mg(const icstr_model *m, size_t off) {
    return m->slab.grad ? m->slab.grad + off : NULL;
}

/* Validates a config; with m, also fills m->cfg, the vocabulary and the derived sizes. */
int icstr_model_check_config_(const icstr_model_config *cfg, icstr_model *m);

/* Lays out the activation arena for a request; reuses the current plan when it fits
 * (model_plan.c). Pointers in m->e, m->r, m->d, m->g change when it re-plans. */
int icstr_model_plan_(icstr_model *m, const model_plan *need);

/* Encoder + resampler forward on n <= plan.n_img images: tokens in m->e.out (n N, E), latents in
 * m->r.out (n M, D). train = 1 keeps every layer (plan.train) and applies dropout with rng. */
/* The auxiliary CTC head on the n images of the last encoder forward: frames (n N, E) the encoder
 * tokens column by column (x outer, y inner), logits (n N, 1 + n_chars) (NULL: not computed).
 * Training and inference (icstr_model_encode_ctc) read the tokens through this one function. */
void icstr_model_ctc_head_(icstr_model *m, int n, float *frames, float *logits);
int icstr_model_encoder_forward_(icstr_model *m, const float *images, int n, int train,
                                 icstr_rng *rng);
/* Backward from m->g.dlat (d latents) and m->g.denc (d tokens, e.g. from CTC), both filled by
 * the caller; adds every encoder/resampler parameter gradient. Clobbers m->g.denc. */
void icstr_model_encoder_backward_(icstr_model *m, int n);

/* Decoder over B sequences of chunks (sequence b is chunks[seq_start[b] .. seq_start[b+1])):
 * T is the longest sequence. The plan must fit (B T rows, B T T mask, B, chunks). */
int icstr_model_prompt_band_(const icstr_model *m, const dec_chunk *ch, const dec_chunk *query);
void icstr_model_dec_shape_(const icstr_model *m, const dec_chunk *chunks, const int *seq_start,
                            int B, int *T_out, size_t *n_chunks_out);
int icstr_model_decoder_forward_(icstr_model *m, const dec_chunk *chunks, const int *seq_start,
                                 int B, int train, icstr_rng *rng);
/* Label-smoothed cross-entropy of the forward's targets: returns the counted rows, *loss_sum
 * their summed loss. */
int icstr_model_decoder_loss_(icstr_model *m, double *loss_sum);
/* Backward with d loss = scale per counted row; latent-row gradients are added into m->g.dlat
 * (zeroed by the caller). Needs a train forward. */
void icstr_model_decoder_backward_(icstr_model *m, float scale);

/* The retrieval-key loss (model_key_loss.c) on the latents in m->r.out, by the labels in
 * m->e.img_label / img_len: returns the anchors, *loss their summed loss. Backward adds scale * its gradient into m->g.dlat. */
int icstr_model_key_loss_(icstr_model *m, int n, double *loss);
void icstr_model_key_backward_(icstr_model *m, int n, float scale);

/* Blocks (model_block.c). Self-attention on R = B*T rows; cross-attention from n*M latent rows
 * to n*N encoder rows. Backward: dres holds d output on entry and d input on return; the
 * cross block also adds d enc into denc. */
void icstr_block_forward_(icstr_model *m, const blk_params *p, blk_acts *a, const float *x,
                          int B, int T, int C, int F, int H, const uint8_t *mask, float dropout,
                          icstr_rng *rng);
void icstr_block_backward_(icstr_model *m, const blk_params *p, const blk_acts *a,
                           const float *x, float *dres, int B, int T, int C, int F, int H,
                           float dropout);
void icstr_xblock_forward_(icstr_model *m, const xblk_params *p, xblk_acts *a, const float *xq,
                           const float *enc, int n, int M, int N, int D, int E, int F, int H,
                           float dropout, icstr_rng *rng);
void icstr_xblock_backward_(icstr_model *m, const xblk_params *p, const xblk_acts *a,
                            const float *xq, const float *enc, float *dres, float *denc, int n,
                            int M, int N, int D, int E, int F, int H, float dropout);

/* ---- test hooks ---- */

/* Beam search of width beam >= 1, also for beam 1 (icstr_model_decode takes the greedy path
 * there), so tests can compare the two. */
/* The token id of code point cp, or -1 when the charset lacks it (binary search of cp_sorted). */
int icstr_model_char_token_(const icstr_model *m, uint32_t cp);
int icstr_model_decode_beam_(icstr_model *m, const float *latents, int n,
                             const icstr_context *ctx, int beam, int max_len, char **texts,
                             int cap, float *confidence);
/* Logits (B, T, V) of the whole decoder on B sequences of chunks without any cache; logits must
 * hold B*T*V floats for the T of icstr_model_dec_shape_, *T_out receives T. */
int icstr_model_decoder_logits_(icstr_model *m, const dec_chunk *chunks, const int *seq_start,
                                int B, float *logits, int *T_out);

/* icstr_model_create, with the random initialisation skipped when init is 0 (the weights are
 * then undefined: for a loader that overwrites every one of them; initialising was most of the
 * time of loading a model). */
int icstr_model_create_(const icstr_model_config *cfg, int with_train, int init, icstr_model **out);

#endif
