/* Pieces of the trainer shared between its files (not public). */
#ifndef ICSTR_TRAIN_INTERNAL_H
#define ICSTR_TRAIN_INTERNAL_H

#include "icstr_data.h"
#include "train.h"

#define ICSTR_TRAIN_NEIGHBOURS 8   /* nearest real crops kept per crop for in-context sequences */
#define ICSTR_TRAIN_MAX_CHUNKS 17  /* prompts + query in one training sequence */

/* The seed of sample `index` of step `step`: every sample is a pure function of it. */
uint64_t icstr_train_sample_seed(uint64_t seed, long step, int index);

/* Synthetic words for training (train_synth.c): the renderer plus the curriculum. */
typedef struct icstr_train_synth icstr_train_synth;
int icstr_train_synth_open(const icstr_model_config *mc, const icstr_train_config *tc,
                           icstr_train_synth **out);
void icstr_train_synth_close(icstr_train_synth *s);
/* Thread-safe: renders one crop from sample_seed into chw with its label. */
int icstr_train_synth_sample(icstr_train_synth *s, uint64_t sample_seed, long step, float *chw,
                             char *label, int label_cap);
/* The renderer and the curriculum's options at this step, for in-context sequences. */
const icstr_renderer *icstr_train_synth_renderer(const icstr_train_synth *s);
icstr_render_opts icstr_train_synth_opts(const icstr_train_synth *s, long step);

/* A rendered crop's columns [x0, x1) as a model input (train_synth.c). */
int icstr_train_crop_to_input(const icstr_render_crop *c, int x0, int x1, const icstr_model_config *mc, float *chw);
/* Copies label bytes [from, to) without leading/trailing spaces; 0 when nothing is left. */
int icstr_train_sub_label(char *dst, int cap, const char *label, int from, int to);
/* One of the pieces the reader cuts a long rendered line into (icstr_line_split, the default
 * params), drawn with r: its columns [*x0, *x1) and its label, the characters whose boxes it
 * holds. Returns 1, 0 when the crop is not cut or the drawn piece has no clean label (a glyph
 * cut, no character), or an error. */
int icstr_train_line_piece(const icstr_render_crop *c, icstr_rng *r, int *x0, int *x1, char *label, int cap);

typedef struct {
    icstr_image img;
    char *label;
} icstr_real_crop;

/* The data stream's state (train_data.c opens it; train_context.c builds prompt sequences). */
struct icstr_train_data {
    icstr_model_config mc;
    icstr_train_config tc;
    icstr_real_crop *crops;    /* every usable real crop, all sources */
    long n_crops;
    long *source_start;        /* first train index of each source in train_idx */
    long *source_count;        /* train crops per source */
    float *source_cum;         /* cumulative sampling weights */
    long *train_idx;           /* indices into crops, grouped by source */
    long n_train;
    long *val_idx;             /* held-out indices into crops */
    int n_val;
    icstr_train_synth *synth;  /* NULL when synth_fraction == 0 */
    /* (n_crops, ICSTR_TRAIN_NEIGHBOURS): the nearest other TRAIN crops by the model's embedding,
     * most similar first; NULL until icstr_train_context_prepare */
    long (*neighbours)[ICSTR_TRAIN_NEIGHBOURS];
    /* the train crops whose label another train crop shares, grouped by label: twins[i] is a
     * crop, twin_group[i] the first position of its group, twin_size[i] the group's size;
     * NULL until icstr_train_context_prepare */
    long *twins, *twin_group;
    int *twin_size;
    long n_twins;
};

/* Real-crop augmentation into the model input (train_data.c). */
int icstr_train_augment_real(const icstr_image *src, icstr_rng *r, const icstr_model_config *mc, float *chw);
int icstr_train_copy_label(char *dst, int cap, const char *src);

/* In-context sequences (train_context.c). */
int icstr_train_context_prepare(icstr_train_data *td, icstr_model *m);
void icstr_train_context_free(icstr_train_data *td);
/* A cipher episode's labels (train.cipher_fraction): k labels, cap bytes apart, the query last.
 * One ASCII letter or digit of the query that a prompt's label also holds is replaced by another,
 * in every label, half the time by a lookalike (O by 0, I by 1, ...). With decoy, the character
 * renamed is one a prompt's label holds and the query's does not (train.cipher_decoys): only the
 * prompts' labels change. Returns 1 when it merged, 0 when there is no such character (labels
 * unchanged). */
int icstr_train_cipher_labels(icstr_rng *r, char *labels, int cap, int k, int decoy);
/* Fills a sequence of k >= 2 chunks (k-1 prompts, most similar last, then the query) and what
 * each chunk's label trains (loss: k ICSTR_LOSS_* values). */
int icstr_train_context_sequence(icstr_train_data *td, icstr_rng *r, long step, int k, float *chw,
                                 char *labels, int label_cap, uint8_t *loss);

/* Framed words (train_frame.c). A frame: captions above (side 0) and below (side 1) the word at
 * scale[side] of its height (0: none there; at least 4 pixels high, narrowed to the frame's
 * width), placed by shift[side] in [0, 1] from the left edge to the right one, and blank margins
 * of margin * the word's width at both sides, on the mean colour of the word's edge rows that
 * the captions touch. */
typedef struct {
    float scale[2], shift[2];
    float margin;
} icstr_train_frame;

/* The framed word: its pixels unchanged at (margin, caption-above height). captions[side] may be
 * NULL where scale[side] is 0. Errors: ICSTR_ERR_NOMEM. */
int icstr_train_frame_compose(const icstr_render_crop *word, const icstr_render_crop *const captions[2],
                              const icstr_train_frame *f, icstr_image *out);
/* A plate-like layout: a caption above most of the time, below half of the time (at least one),
 * often centred, margins half of the time. */
void icstr_train_frame_draw(icstr_rng *r, icstr_train_frame *f);
/* The same layout a little changed, for another crop of one episode. */
void icstr_train_frame_jitter(const icstr_train_frame *f, icstr_rng *r, icstr_train_frame *out);
/* Renders the frame's captions (3-14 characters, any style) into captions[side] where it has one. */
int icstr_train_frame_captions(const icstr_renderer *rr, icstr_render_opts o, icstr_rng *r, const icstr_train_frame *f,
                               icstr_render_crop captions[2]);
/* The framed word as a model input. */
int icstr_train_frame_input(const icstr_render_crop *word, const icstr_render_crop captions[2], const icstr_train_frame *f,
                            const icstr_model_config *mc, float *chw);

/* Checkpoints (train_checkpoint.c): out_dir/checkpoint.safetensors holds the weights, the AdamW
 * moments, the step and adam_step (steps since the moments started: AdamW's bias correction);
 * out_dir/model.safetensors the weights alone in half precision, with the same two numbers.
 * Loading a file without moments (a half-precision snapshot) starts the moments at zero and
 * adam_step at 0, so the first updates are bias-corrected instead of a 3x jolt. */
int icstr_train_checkpoint_save(icstr_model *m, const char *out_dir, long step, long adam_step);
int icstr_train_checkpoint_load(icstr_model *m, const char *path, long *step, long *adam_step);
/* Weights only (a model file or a checkpoint), for init_from. */
int icstr_train_weights_load(icstr_model *m, const char *path);

#endif
