/* icstr recognizer: the prompt pool as a datastore for nearest-neighbour decoding (kNN-LM,
 * Khandelwal et al. 2020, here over the pool's labelled crops). Each record's latents are read
 * by the decoder fed the record's label (no prompts); the final decoder state at every position
 * and the token that followed it are one entry (icstr_knn, model.h). Decoding with the store
 * mixes, at every greedy step, the model's distribution with the votes of the nearest entries:
 * a domain whose glyphs the model misreads ("M" as "FI" on a receipt printer) is read as its
 * labelled crops were, without changing a weight. */
#ifndef ICSTR_POOL_KNN_H
#define ICSTR_POOL_KNN_H

#include "icstr_pool.h"
#include "model.h"

typedef struct {
    icstr_knn knn;      /* what icstr_decode_params.knn points at */
    float *keys;        /* (cap, dec_dim) owned */
    float *key_norm2;   /* (cap) */
    int *values;        /* (cap) */
    int records;        /* records read (labels that the model cannot write are skipped) */
    int computed;       /* records read by the decoder in this load; the others came from the
                           pool's knn.cache (store_cache.h), which the load brings up to date */
} icstr_pool_knn;

typedef struct {
    int k;              /* neighbours per step (default 8) */
    float temperature;  /* vote weights exp(-d / temperature) (default 10) */
    float lambda;       /* weight of the votes (default 0.3) */
} icstr_knn_params;
icstr_knn_params icstr_knn_default_params(void);

/* Builds the store from every record of the pool (opened with its model), reading the entries of
 * the records that POOL/knn.cache holds for this state of the pool from it (store_cache.h) and
 * writing it anew when it lacked some. Errors: those of
 * icstr_pool_foreach and icstr_model_states, ICSTR_ERR_ARG (a pool opened without a model),
 * ICSTR_ERR_NOMEM. */
int icstr_pool_knn_load(icstr_pool *pool, const icstr_knn_params *p, icstr_pool_knn *store);
void icstr_pool_knn_free(icstr_pool_knn *store);

#endif
