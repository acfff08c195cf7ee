/* Checkpoints: out_dir/checkpoint.safetensors (float32 weights + AdamW moments + step, written
 * atomically, so a kill leaves the previous one intact) and out_dir/model.safetensors (half
 * precision weights for recognize and for committing a snapshot). */
#include "train_internal.h"
#include "model_io.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int icstr_train_checkpoint_save(icstr_model *m, const char *out_dir, long step, long adam_step) {
    char path[ICSTR_PATH_MAX + 64], step_str[32], adam_str[32];
    snprintf(step_str, sizeof step_str, "%ld", step);
    snprintf(adam_str, sizeof adam_str, "%ld", adam_step);
    const char *keys[] = {"train.step", "train.adam_step"}, *values[] = {step_str, adam_str};
    snprintf(path, sizeof path, "%s/checkpoint.safetensors", out_dir);
    int rc = icstr_model_save(m, path, ICSTR_ST_F32, keys, values, 2);
    if (rc) return icstr_fail_context(rc, "saving checkpoint");
    snprintf(path, sizeof path, "%s/model.safetensors", out_dir);
    rc = icstr_model_save(m, path, ICSTR_ST_F16, keys, values, 2);
    if (rc) return icstr_fail_context(rc, "saving model");
    return ICSTR_OK;
}

/* Loads weights (and moments) into the model built from the run's config; the checkpoint's
 * config must be the same model. */
static long meta_long(const icstr_st_file *f, const char *key) {
    const char *s = icstr_st_meta(f, key);
    char *end = NULL;
    long v = s ? strtol(s, &end, 10) : -1;
    return !s || *end || v < 0 ? -1 : v;
}

int icstr_train_checkpoint_load(icstr_model *m, const char *path, long *step, long *adam_step) {
    icstr_model *saved = NULL;
    int rc = icstr_model_load(path, 1, &saved);
    if (rc) return rc;
    icstr_slab *dst = icstr_model_slab(m), *src = icstr_model_slab(saved);
    if (memcmp(icstr_model_get_config(m), icstr_model_get_config(saved), sizeof(icstr_model_config)) ||
        dst->total != src->total) {
        icstr_model_free(saved);
        return icstr_fail(ICSTR_ERR_MISMATCH, "%s: the checkpoint was made with another model config", path);
    }
    memcpy(dst->data, src->data, dst->total * sizeof(float));
    memcpy(dst->m, src->m, dst->total * sizeof(float));
    memcpy(dst->v, src->v, dst->total * sizeof(float));
    icstr_model_free(saved);

    icstr_st_file *f = NULL;
    if ((rc = icstr_st_open(path, &f))) return rc;
    long v = meta_long(f, "train.step"), a = meta_long(f, "train.adam_step");
    char name[ICSTR_NAME_MAX + 8];
    snprintf(name, sizeof name, "%s%s", ICSTR_ST_PREFIX_M, dst->params[0].name);
    icstr_st_tensor_info ti;
    int has_moments = icstr_st_find(f, name, &ti) == ICSTR_OK;
    icstr_st_close(f);
    if (v < 0) return icstr_fail(ICSTR_ERR_FORMAT, "%s: missing or bad train.step", path);
    *step = v;
    /* files from before adam_step was kept: the moments ran from step 0 */
    *adam_step = !has_moments ? 0 : a >= 0 ? a : v;
    if (!has_moments) ICSTR_WARN("%s has no AdamW moments (a snapshot): they restart from zero at step %ld", path, v);
    return ICSTR_OK;
}

int icstr_train_weights_load(icstr_model *m, const char *path) {
    icstr_st_file *f;
    int rc = icstr_st_open(path, &f), flags = ICSTR_ST_ALLOW_EXTRA;
    if (rc) return rc;
    /* a model given the similarity bands or the glyph rows, from a file of a model without
     * them: those tensors keep their initial values (zero bands; glyph_init times the identity,
     * 0 computing what the file's model did); every other tensor must be there */
    const icstr_model_config *c = icstr_model_get_config(m);
    const char *zero_start[2];
    int n_zero = 0;
    if (c->prompt_similarity) zero_start[n_zero++] = "dec.sim_emb";
    if (c->glyph_labels) zero_start[n_zero++] = "dec.glyph_w";
    icstr_st_tensor_info ti;
    icstr_slab *s = icstr_model_slab(m);
    int others_there = 1, some_missing = 0;
    for (int i = 0; i < s->count && others_there; i++) {
        int may_miss = 0;
        for (int z = 0; z < n_zero; z++) may_miss |= !strcmp(s->params[i].name, zero_start[z]);
        int there = icstr_st_find(f, s->params[i].name, &ti) == ICSTR_OK;
        if (!there && may_miss) {
            some_missing = 1;
            ICSTR_INFO("%s has no %s: it starts at its initial value", path, s->params[i].name);
        }
        others_there = there || may_miss;
    }
    if (others_there && some_missing) flags |= ICSTR_ST_ALLOW_MISSING;
    rc = icstr_slab_load(s, f, flags);
    icstr_st_close(f);
    return rc;
}
