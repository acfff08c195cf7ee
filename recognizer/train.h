/* icstr recognizer: the trainer (`icstr train`). One C program for both stages (plain and
 * in-context), driven by a YAML config; checkpoints resume exactly (weights, AdamW moments,
 * step; the data stream and dropout are functions of (seed, step), so no other state exists).
 */
#ifndef ICSTR_TRAIN_H
#define ICSTR_TRAIN_H

#include "config.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- training data: a deterministic stream of (image, label) samples ---- */
typedef struct icstr_train_data icstr_train_data;

/* Opens the renderer (when synth_fraction > 0) and every source; holds out val_size real crops
 * (a fixed subset chosen by the seed) that the stream never yields. Labels the model cannot
 * encode (characters outside its charset, too long, empty) are skipped and counted in the log. */
int icstr_train_data_open(const icstr_model *m, const icstr_train_config *tc,
                          icstr_train_data **out);
void icstr_train_data_close(icstr_train_data *td);
/* Fills sample `index` of the stream of step `step`: chw (3, img_h, img_w) and label (UTF-8,
 * already checked against the charset and max_label). Same (step, index) -> same sample. */
int icstr_train_data_sample(icstr_train_data *td, long step, int index, float *chw, char *label,
                            int label_cap);
/* Sequences for the in-context stage: how many chunks sequence (step, index) has (1 = plain),
 * and the sequence itself: k images (3*img_h*img_w floats each), k labels (label_cap bytes
 * each) and what each label trains (loss: k ICSTR_LOSS_* values of model.h), prompts first
 * (most similar last), the query last. */
int icstr_train_data_chunks(icstr_train_data *td, long step, int index);
int icstr_train_data_sequence(icstr_train_data *td, long step, int index, int k, float *chw,
                              char *labels, int label_cap, uint8_t *loss);
int icstr_train_data_val_count(const icstr_train_data *td);
int icstr_train_data_val_sample(icstr_train_data *td, int i, float *chw, char *label, int label_cap);

/* ---- the loop ---- */
typedef struct {
    int resume;          /* 1: continue from out_dir/checkpoint.safetensors if it exists */
    long max_steps_now;  /* stop after this many steps in this process (0 = run to tc.steps) */
    int quiet;           /* no progress line */
} icstr_train_options;

int icstr_train_run(const icstr_model_config *mc, const icstr_train_config *tc,
                    const icstr_train_options *opt);

/* Writes a contact sheet of the batch of `step` as the model sees it (after augmentation and
 * resizing), with the labels: look at it before a long run. */
int icstr_train_show_batch(const icstr_model_config *mc, const icstr_train_config *tc, long step,
                           const char *png_path);

#ifdef __cplusplus
}
#endif

#endif
