/* The trainer's batch: B sequences of 1 + up to prompts_max chunks (prompts, then the query),
 * their images packed one after another, labels per image, and the token arrays the model's
 * icstr_batch points into. Filling is parallel over sequences and deterministic. */
#ifndef ICSTR_TRAIN_BATCH_H
#define ICSTR_TRAIN_BATCH_H

#include "train.h"

#define ICSTR_LABEL_CAP 512

typedef struct {
    int B;              /* sequences */
    int max_chunks;     /* 1 + prompts_max */
    int T;              /* label tokens per chunk (max_label) */
    size_t img;         /* floats per image */
    float *images;      /* (B * max_chunks, 3, H, W), the first n_images used */
    char *labels;       /* (B * max_chunks, ICSTR_LABEL_CAP), one per image */
    int n_images;
    int *first;         /* (B) index of the first image of each sequence */
    int *n_chunks;      /* (B) */
    int *chunk_image;   /* (B, max_chunks) */
    int *chunk_label;   /* (B, max_chunks, T) */
    int *chunk_len;     /* (B, max_chunks) */
    uint8_t *loss_on;   /* (B, max_chunks) ICSTR_LOSS_* of each chunk */
    float *queries;     /* (B, 3, H, W) the query images, gathered for accuracy checks */
    char *query_labels; /* (B, ICSTR_LABEL_CAP) */
} icstr_train_batch;

int icstr_train_batch_alloc(icstr_train_batch *tb, const icstr_model_config *mc, int B, int prompts_max);
void icstr_train_batch_free(icstr_train_batch *tb);
/* Fills the batch of `step` from the data stream and tokenises its labels. */
int icstr_train_batch_fill(icstr_train_batch *tb, icstr_train_data *td, const icstr_model *m, long step);
/* The model's view of the batch (pointers into tb). */
icstr_batch icstr_train_batch_view(const icstr_train_batch *tb);

#endif
