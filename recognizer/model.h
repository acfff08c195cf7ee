/* icstr recognizer: the model of ../shared/DESIGN.md: visual encoder, resampler, decoder-only
 * transformer over interleaved [image latents][BOS label EOC] chunks.
 *
 * Sizes come from icstr_model_config (filled from YAML by config.c; every field has a default in
 * icstr_model_default_config()). Parameters live in one icstr_slab (core), so the optimizer and
 * checkpoints are flat loops; activations for the largest batch are planned once per
 * (batch, sequence-length) shape in an arena owned by the model.
 *
 * Architecture (recognizer/model_*.c): conv stem (two 3x3 stride-2 convs + GELU, then a
 * (patch_h/4 x patch_w/4) patch embedding) or plain patch embedding -> learned positions (2-D
 * sin-cos init) -> pre-LN ViT -> LN = the encoder tokens; an auxiliary CTC head reads them column
 * by column. Resampler: M latents = learned + projected mean of a left-to-right block of token
 * columns, then cross-attention blocks, LN. Decoder: pre-LN causal transformer; positions restart
 * in every chunk (latent i, text token j) and a segment embedding marks prompt vs query, so a
 * query reads the same whatever precedes it. Head not tied to the token embedding.
 *
 * A model handle is not reentrant: one call at a time per handle (the activations live in it).
 */
#ifndef ICSTR_MODEL_H
#define ICSTR_MODEL_H

#include "icstr_core.h"

#ifdef __cplusplus
extern "C" {
#endif

#define ICSTR_CHARSET_MAX 512

typedef struct {
    /* input */
    int img_h, img_w;          /* 32, 128 */
    /* encoder */
    int stem;                  /* 0 = patch embedding (patch_h x patch_w), 1 = conv stem */
    int patch_h, patch_w;      /* 4, 8 -> 8 x 16 = 128 tokens */
    int stem_channels;         /* 64: conv stem width, even (conv stem only; needs patch sides % 4 == 0) */
    int enc_dim, enc_layers, enc_heads, enc_mlp;   /* 192, 4, 6, 768 */
    /* resampler */
    int latents;               /* M: 16 */
    int resampler_layers;      /* 1 */
    /* decoder */
    int dec_dim, dec_layers, dec_heads, dec_mlp;   /* 192, 4, 6, 768 */
    int max_label;             /* 25 characters (+ BOS and EOC per chunk) */
    int max_prompts;           /* 4: most prompts per query at decoding (positions are per chunk,
                                  so no table depends on it; training batches are not limited) */
    /* characters: UTF-8 string of the charset (one token per code point, no duplicates);
     * default: space and the 94 printable ASCII characters in code point order */
    char charset[ICSTR_CHARSET_MAX * 4 + 1];
    /* training-only knobs that shape the graph */
    float ctc_weight;          /* 0.5: auxiliary CTC loss on encoder tokens (column-major order) */
    float label_smoothing;     /* 0.1: over the whole vocabulary */
    float dropout;             /* 0.0: on the attention and MLP residual branches (train_step only) */
    float key_weight;          /* 0.0: weight of the retrieval-key loss (model_key_loss.c): images
                                  with the same label get close keys, others far */
    float key_temperature;     /* 0.1: its softmax temperature */
    /* in context */
    int prompt_similarity;     /* 0 (default, and every model file without the key) or 1: each
                                  prompt chunk's rows also get dec.sim_emb[b], b the band of the
                                  cosine between the prompt's and the query's mean latents
                                  (ICSTR_SIM_EDGES; below the lowest edge nothing is added), so
                                  the decoder sees how close a prompt is to the query */
    int glyph_labels;          /* 0 (default, and every model file without the key) or 1: each
                                  label character row of a prompt also gets dec.glyph_w times the
                                  prompt's latents where its glyph is taken to be (character j of
                                  n at latent position (j + 0.5) M / n - 0.5, the two nearest
                                  latents interpolated), so a query glyph can find the prompt
                                  character drawn like it in one attention step */
    float glyph_init;          /* 0.0: dec.glyph_w starts as glyph_init times the identity (also
                                  when init_from a file without it); 0 = the model computes what
                                  the same model without glyph rows does */
} icstr_model_config;

/* The similarity bands of model.prompt_similarity: band b (0-based) holds cosines in
 * [edge b, edge b+1); the last band is "the query's own image" (a hard sample in the pool). */
#define ICSTR_SIM_BANDS 4
#define ICSTR_SIM_EDGES {0.99f, 0.995f, 0.999f, 0.9999f}

icstr_model_config icstr_model_default_config(void);

/* Token ids: 0..V_chars-1 are the charset's code points in order; then the specials. */
typedef struct {
    int n_chars;               /* code points in the charset */
    int bos, eoc, pad;         /* n_chars, n_chars+1, n_chars+2 */
    int vocab;                 /* n_chars + 3 */
} icstr_vocab_info;

typedef struct icstr_model icstr_model;

/* Per-chunk loss (icstr_batch.loss_on). The CTC target of an image is the label of its first
 * chunk marked ICSTR_LOSS_ALL; ICSTR_LOSS_TEXT is for a label the image does not show (a copy
 * task: the label is only in a prompt), so only the decoder learns it. */
enum { ICSTR_LOSS_NONE = 0, ICSTR_LOSS_ALL = 1, ICSTR_LOSS_TEXT = 2 };

/* Builds the model for cfg: declares every parameter in the slab and allocates it, initialised
 * as icstr_model_init_weights(m, 0). Parameter names: enc.conv1.w, enc.patch.w, enc.pos,
 * enc.blocks.L.{ln1_w,ln1_b,qkv_w,qkv_b,proj_w,proj_b,ln2_w,ln2_b,fc1_w,fc1_b,fc2_w,fc2_b},
 * enc.ln_f.w, ctc.w, res.latents, res.pool.w, res.blocks.L.{lnq_*,lnkv_*,q_*,kv_*,proj_*,ln2_*,
 * fc1_*,fc2_*}, res.ln_f.w, dec.tok_emb, dec.lat_pos, dec.txt_pos, dec.seg_emb, dec.blocks.L.*,
 * dec.ln_f.w, dec.head.w (and the matching .b / _b). Weight matrices are (out, in).
 * with_train = 1 also allocates gradients and AdamW moments. Errors: ICSTR_ERR_CONFIG for sizes
 * that do not fit together (e.g. dim % heads; the detail names the field), ICSTR_ERR_NOMEM. */
int icstr_model_create(const icstr_model_config *cfg, int with_train, icstr_model **out);
void icstr_model_free(icstr_model *m);
/* A promise that the weights will not change again (until icstr_model_free): bf16 products then
 * keep each weight matrix packed after its first use (icstr_ops_freeze), which makes recognising
 * a crop at a time several times cheaper. icstr_model_load does it for models loaded without
 * training state. Calling it twice is harmless; if it cannot (too many frozen models) nothing
 * changes but speed. */
void icstr_model_freeze(icstr_model *m);
/* Fresh initialisation from a seed (2-D sin-cos positions, scaled normal weights). */
void icstr_model_init_weights(icstr_model *m, uint64_t seed);
icstr_slab *icstr_model_slab(icstr_model *m);
const icstr_model_config *icstr_model_get_config(const icstr_model *m);
icstr_vocab_info icstr_model_vocab(const icstr_model *m);

/* UTF-8 label <-> token ids. tokens holds max_label ints. Encoding fails with ICSTR_ERR_RANGE on
 * a code point outside the charset or a label longer than max_label (the detail names the
 * character), ICSTR_ERR_FORMAT on invalid UTF-8. */
int icstr_model_encode_label(const icstr_model *m, const char *utf8, int *tokens, int *n_out);
/* Writes UTF-8 of tokens up to the first special; returns bytes written (NUL-terminated; at most
 * cap - 1 bytes, never a partial code point; 0 when cap < 1). */
int icstr_model_decode_tokens(const icstr_model *m, const int *tokens, int n, char *utf8, int cap);

/* A training or inference batch of B sequences. Each sequence is a list of chunks: chunk c of
 * sequence b has an image (index into images) and, for prompts and for training, a label.
 * The last chunk is the query. n_chunks[b] = prompts + 1. */
typedef struct {
    int B;
    const float *images;       /* (n_images, 3, img_h, img_w) normalised to [-1, 1] */
    int n_images;
    const int *chunk_image;    /* (B, max_chunks): image index of each chunk */
    const int *chunk_label;    /* (B, max_chunks, max_label): tokens, padded with pad */
    const int *chunk_len;      /* (B, max_chunks): label length in tokens (without BOS/EOC) */
    const int *n_chunks;       /* (B) */
    int max_chunks;            /* 1 + max_prompts used in this batch */
    const uint8_t *loss_on;    /* (B, max_chunks): ICSTR_LOSS_*: what this chunk's label trains;
                                  NULL = ICSTR_LOSS_ALL on every chunk */
} icstr_batch;

typedef struct {
    float loss;                /* total = ce + ctc_weight * ctc + key_weight * key */
    float ce;                  /* mean cross-entropy per label token (incl. EOC) */
    float ctc;                 /* CTC loss per label character, averaged over the images with a
                                  target (PyTorch's "mean"); 0 when ctc_weight == 0 */
    float key;                 /* retrieval-key loss per anchor image; 0 when key_weight == 0 */
    int tokens;                /* label tokens that carried loss */
} icstr_loss_info;

/* Forward and backward on a batch; gradients are ADDED into the slab's grad (zero them first).
 * rng drives dropout (may be NULL when dropout is 0). Loss: label-smoothed cross-entropy of each
 * label token and EOC of the chunks with loss on (predicted from the previous token, the first
 * from BOS), averaged over those tokens, plus ctc_weight * CTC; an image's CTC target is the
 * label of its first chunk with loss on. Errors: ICSTR_ERR_ARG for a malformed batch (the detail
 * says which sequence and chunk) or a model without gradients, ICSTR_ERR_LIMIT, ICSTR_ERR_NOMEM
 * (from the activation plan or the ops). */
int icstr_model_train_step(icstr_model *m, const icstr_batch *batch, icstr_rng *rng,
                           icstr_loss_info *info);
/* Forward only, the same loss (for validation and gradient checks). */
int icstr_model_loss(icstr_model *m, const icstr_batch *batch, icstr_loss_info *info);

/* ---- inference ---- */
/* Encodes n images to their M visual latents (n, M, dec_dim) and the pool embedding: the
 * L2-normalised mean of the latents (n, dec_dim). Either output may be NULL. Batches internally
 * (32 images per pass). */
int icstr_model_encode(icstr_model *m, const float *images, int n, float *latents,
                       float *embeddings);
/* The same, and from the same encoder pass the auxiliary CTC head's frames: feat (n, T, enc_dim)
 * the encoder tokens in the order the head reads them (column by column, top to bottom in a
 * column) and logp (n, T, 1 + n_chars) its log-probabilities per frame (symbol 0 the blank, 1 + t
 * token t); T = icstr_model_ctc_frame_count. Any output may be NULL. */
int icstr_model_encode_ctc(icstr_model *m, const float *images, int n, float *latents, float *embeddings,
                           float *feat, float *logp);
int icstr_model_ctc_frame_count(const icstr_model *m);

/* A datastore of decoder states for nearest-neighbour decoding (kNN-LM; recognizer/pool_knn.c
 * builds one from a prompt pool): the final decoder state (after the last layer norm) at each
 * position of labelled crops read with their labels, and the token that followed. At each greedy
 * step the k stored states nearest the current one (squared Euclidean distance d) vote for their
 * tokens with weights exp(-d / temperature); the chosen token's probability is then
 * (1 - lambda) p_model + lambda p_neighbours. */
typedef struct {
    int n;                     /* entries */
    const float *keys;         /* (n, dec_dim) */
    const float *key_norm2;    /* (n) squared norms of the keys */
    const int *values;         /* (n) token ids: characters or EOC */
    int k;                     /* neighbours per step */
    float temperature;
    float lambda;              /* in [0, 1] */
} icstr_knn;

typedef struct icstr_char_lm icstr_char_lm; /* char_lm.h */

typedef struct {
    int beam;                  /* 1 = greedy (default); beam search up to 64 */
    int max_len;               /* 0 = cfg max_label (also the cap); after max_len characters
                                  the next token is EOC */
    const icstr_knn *knn;      /* NULL (default) or a datastore to decode with (greedy only) */
    float ctc_weight;          /* icstr_model_recognize (and icstr_crop_batch_recognize): 0
                                  (default) the decoder's reading; in (0, 1] the joint reading
                                  (icstr_model_ctc_joint) with this weight. icstr_model_decode
                                  ignores it (it has no encoder frames) */
    const icstr_char_lm *lm;   /* NULL (default) or a character model (char_lm.h) fused into
                                  greedy decoding: each step chooses the token of the highest
                                  log p_decoder + lm_weight log p_lm; the confidence stays the
                                  decoder's (greedy only) */
    float lm_weight;           /* >= 0 */
} icstr_decode_params;
icstr_decode_params icstr_decode_default_params(void);

/* One query's context: n_prompts prompts, each with M latents and a label (tokens), most
 * similar LAST (nearest the query). */
typedef struct {
    int n_prompts;
    const float *latents;      /* (n_prompts, M, dec_dim) */
    const int *labels;         /* (n_prompts, max_label) */
    const int *label_len;      /* (n_prompts) */
} icstr_context;

/* Decodes n queries given their latents (n, M, dec_dim) and optional contexts (NULL or one per
 * query). Writes UTF-8 text into texts[i] (cap bytes each; texts may be NULL) and a confidence in
 * (0,1] (the product of the chosen tokens' probabilities, EOC included; confidence may be NULL).
 * Only characters and EOC are chosen; probabilities come from the softmax over the whole
 * vocabulary. Beam search keeps the best finished hypothesis by total log-probability (no length
 * normalisation). Uses a key/value cache. Errors: ICSTR_ERR_ARG (beam outside [1, 64], a bad
 * context label), ICSTR_ERR_LIMIT (a context with more than max_prompts prompts),
 * ICSTR_ERR_NOMEM. */
int icstr_model_decode(icstr_model *m, const float *latents, int n, const icstr_context *ctx,
                       const icstr_decode_params *p, char **texts, int cap, float *confidence);

/* The log-probability of given texts: n queries' latents (n, M, dec_dim), optional contexts (as
 * for icstr_model_decode), each text as tokens (n, max_label) of len[i] characters; logprob[i] =
 * the sum of the log-probabilities of its characters and of the EOC after them, from the
 * distribution greedy decoding chooses from (for the text greedy decoding chose, exp(logprob)
 * is its confidence). any_case = 1: an ASCII letter's probability is that of either case (the
 * text is fed as given). Errors: as icstr_model_decode, ICSTR_ERR_ARG for a token outside the
 * characters or a length outside [0, max_label]. */
int icstr_model_score(icstr_model *m, const float *latents, int n, const icstr_context *ctx,
                      const int *tokens, const int *len, int any_case, double *logprob);

/* The decoder states of n queries (latents (n, M, dec_dim), no prompts) fed the given texts
 * (tokens (n, max_label), len (n)): states (n, max_label + 1, dec_dim), row j of query i the
 * final state (after the last layer norm) from which token j of its text is predicted, row
 * len[i] the one that predicts EOC; later rows are left as they were. Errors: as
 * icstr_model_score. */
int icstr_model_states(icstr_model *m, const float *latents, int n, const int *tokens, const int *len,
                       float *states);

/* The joint reading: for each of n readings texts[i] of latents (n, M, dec_dim) whose CTC frames
 * are logp (n, T, 1 + n_chars) (icstr_model_encode_ctc; they may have been mixed with other
 * evidence, e.g. the pool's glyphs), the CTC head's best path is a second candidate; the one with
 * the higher (1 - weight) log p_decoder (no prompts) + weight log p_ctc (all alignments) stays
 * (weight p->ctc_weight; with p->lm, plus p->lm_weight times the text's icstr_char_lm_score),
 * a replaced reading's confidence becoming its decoder probability. Inputs with skip[i] set (skip
 * may be NULL) and readings the model cannot encode keep theirs. *changed (may be NULL) counts
 * the replaced readings. weight 0 changes nothing. Errors: ICSTR_ERR_ARG (weight outside [0, 1]),
 * ICSTR_ERR_NOMEM, those of icstr_model_score. */
int icstr_model_ctc_joint(icstr_model *m, const float *latents, const float *logp, int n, const icstr_decode_params *p,
                          const unsigned char *skip, char **texts, int cap, float *confidence, int *changed);

/* Convenience: encode + decode images with no prompts (the joint reading when p->ctc_weight > 0). */
int icstr_model_recognize(icstr_model *m, const float *images, int n,
                          const icstr_decode_params *p, char **texts, int cap,
                          float *confidence);

/* A hash of the weights (and config) that identifies the model, for pool metadata; hex string. */
void icstr_model_fingerprint(const icstr_model *m, char out[65]);

/* Analytic cost of one crop: *fwd = floating-point operations (2 per multiply-add) of the
 * forward pass (conv stem, patch embedding, encoder, CTC head, resampler, and the decoder over
 * one chunk with a label of max_label characters, no prompts); *train = 3 * fwd (the backward
 * costs about twice the forward). Either pointer may be NULL. Errors: ICSTR_ERR_CONFIG. */
int icstr_model_flops(const icstr_model_config *cfg, double *fwd, double *train);

#ifdef __cplusplus
}
#endif

#endif
