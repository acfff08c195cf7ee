/* The prompt pool's labels as a character model (pool_lm.h). */
#include "pool_lm.h"

#include "icstr_core.h"

#include <stdlib.h>

typedef struct {
    icstr_model *m;
    icstr_char_lm *lm;
    int *tok; /* (max_label) */
} lm_build;

static int visit(void *user, const icstr_pool_record *r) {
    lm_build *b = user;
    int len = 0;
    if (icstr_model_encode_label(b->m, r->label, b->tok, &len)) {
        icstr_clear_error(); /* a label the model cannot write is not counted */
        return 0;
    }
    return icstr_char_lm_add(b->lm, b->tok, len);
}

int icstr_pool_lm_load(icstr_pool *pool, const icstr_char_lm_params *p, icstr_char_lm **out) {
    *out = NULL;
    lm_build b = {icstr_pool_model(pool), NULL, NULL};
    if (!b.m) return icstr_fail(ICSTR_ERR_ARG, "character model: the pool was opened without a model");
    b.tok = malloc((size_t)icstr_model_get_config(b.m)->max_label * sizeof *b.tok);
    int rc = b.tok ? icstr_char_lm_create(b.m, p, &b.lm) : icstr_fail(ICSTR_ERR_NOMEM, "character model");
    if (!rc) rc = icstr_pool_foreach(pool, 0, visit, &b);
    free(b.tok);
    if (rc) {
        icstr_char_lm_free(b.lm);
        return rc;
    }
    *out = b.lm;
    return ICSTR_OK;
}
