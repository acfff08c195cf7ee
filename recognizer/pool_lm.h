/* icstr recognizer: the prompt pool's labels as a character language model (char_lm.h), fused
 * into the decoding of every crop read with the pool (`--lm`). */
#ifndef ICSTR_POOL_LM_H
#define ICSTR_POOL_LM_H

#include "char_lm.h"
#include "icstr_pool.h"

/* Counts every label of the pool that its model can write (one count per record: a label stored
 * twice counts twice) into a new model (*out). Errors: ICSTR_ERR_ARG (a pool opened without a
 * model), those of icstr_char_lm_create and icstr_pool_foreach. */
int icstr_pool_lm_load(icstr_pool *pool, const icstr_char_lm_params *p, icstr_char_lm **out);

#endif
