/* Pieces of the trainer shared between its files (not public). */
#ifndef ICSTR_TRAIN_INTERNAL_H
#define ICSTR_TRAIN_INTERNAL_H

#include "train.h"

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

/* Checkpoints (train_checkpoint.c): out_dir/checkpoint.safetensors holds the weights, the AdamW
 * moments and the step; out_dir/model.safetensors the weights alone in half precision. */
int icstr_train_checkpoint_save(icstr_model *m, const char *out_dir, long step);
int icstr_train_checkpoint_load(icstr_model *m, const char *path, long *step);
/* Weights only (a model file or a checkpoint), for init_from. */
int icstr_train_weights_load(icstr_model *m, const char *path);

#endif
