/* icstr recognizer: YAML configs (libyaml) for the model and the trainer.
 *
 * One table of fields (config.c) maps every key to a struct member with its type, default and
 * range; the same table writes the model config into safetensors metadata and reads it back, so a
 * model file carries the exact config it was built with. configs/README.md documents every key.
 */
#ifndef ICSTR_CONFIG_H
#define ICSTR_CONFIG_H

#include "model.h"

#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

#define ICSTR_PATH_MAX 512
#define ICSTR_MAX_SOURCES 8

typedef struct {
    char path[ICSTR_PATH_MAX];   /* STR LMDB, gt.txt folder */
    float weight;                /* relative sampling weight among the real sources */
} icstr_data_source;

typedef struct {
    uint64_t seed;               /* 1 */
    long steps;                  /* total optimizer steps */
    int batch_size;              /* 32 */
    float lr, min_lr;            /* peak and final learning rate */
    long warmup;                 /* warm-up steps */
    float weight_decay;          /* AdamW decoupled decay */
    float grad_clip;             /* global norm; 0 = off */
    int bf16;                    /* 1: bf16 matrix products in training */
    int threads;                 /* 0 = all cores */
    /* data */
    float synth_fraction;        /* share of crops rendered on the fly; the rest from sources */
    icstr_data_source sources[ICSTR_MAX_SOURCES];
    int n_sources;
    int augment;                 /* 1: augment real crops */
    int val_size;                /* real crops held out of the sources for validation */
    char fonts_dir[ICSTR_PATH_MAX];   /* "" = system fonts */
    char photos_dir[ICSTR_PATH_MAX];  /* "" = no photo backgrounds */
    float document_fraction;          /* 0.0: share of the rendered styles (plain crops and
                                         episodes) that are printed documents (receipts, forms:
                                         icstr_render_params.p_document) */
    float line_piece_fraction;        /* 0.0: share of the plain rendered crops that, when the reader
                                         would cut them (a long line), become one of its pieces with
                                         the piece's characters as label */
    int max_words_len;           /* curriculum: longest rendered word at the start (0 = off) */
    long curriculum_steps;       /* steps over which the curriculum reaches full difficulty */
    float frame_fraction;        /* share of the synthetic plain words drawn in a frame: small
                                    captions above/below and margins, labelled with the word alone */
    /* in-context stage */
    int prompts_max;             /* 0 = plain recognition only */
    float incontext_fraction;    /* share of sequences that carry prompts */
    float copy_fraction;         /* share of those that are copy tasks: the nearest prompt is the
                                    query's own input under a label the image does not show */
    float twin_fraction;         /* share of those whose nearest prompt is a twin: the same text in
                                    another crop (or, as a decoy, a one-character edit of it) */
    float cipher_fraction;       /* share of those that are cipher episodes: one character of the
                                    query, shown by a prompt too, written as another in every label */
    float cipher_decoys;         /* share of the cipher episodes that are decoys: a character the
                                    prompts' labels show and the query does not is renamed, so the
                                    query's label stays as it is */
    /* bookkeeping */
    int log_every, eval_every, checkpoint_every;
    char out_dir[ICSTR_PATH_MAX];      /* checkpoints, CSV log */
    char init_from[ICSTR_PATH_MAX];    /* start from these weights ("" = fresh init) */
} icstr_train_config;

icstr_train_config icstr_train_default_config(void);

/* Reads a YAML file with optional top-level sections `model:` and `train:`. Keys not given keep
 * the defaults already in *mc / *tc (so call the *_default_config functions first). Unknown keys,
 * wrong types and out-of-range values are ICSTR_ERR_CONFIG with "file:line:col: key: reason". */
int icstr_config_load(const char *path, icstr_model_config *mc, icstr_train_config *tc);
/* Same from a string (tests, fuzzing). name is used in messages. */
int icstr_config_parse(const char *text, size_t len, const char *name, icstr_model_config *mc,
                       icstr_train_config *tc);

/* Model config <-> string key/values ("model.enc_dim" = "192") for safetensors metadata.
 * icstr_config_model_to_meta fills up to cap entries; keys point to static strings, values to
 * storage inside buf (buf_cap bytes); returns the count or a negative status. */
int icstr_config_model_to_meta(const icstr_model_config *mc, const char **keys, const char **values,
                               int cap, char *buf, size_t buf_cap);
/* Reads every model.* key present; missing keys keep their defaults; bad values are errors. */
int icstr_config_model_from_meta(icstr_model_config *mc,
                                 const char *(*get)(void *ctx, const char *key), void *ctx);

/* Writes every key of both sections with its current value as YAML (documentation, run logs). */
int icstr_config_write_yaml(const icstr_model_config *mc, const icstr_train_config *tc, FILE *f);

#ifdef __cplusplus
}
#endif

#endif
