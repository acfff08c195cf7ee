/* Model files: weights plus the config as metadata (config.c's table does the conversion). */
#include "model_io.h"
#include "config.h"
#include "model_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define META_MAX 96

int icstr_model_save(const icstr_model *m, const char *path, int dtype, const char *const *extra_keys,
                     const char *const *extra_values, int n_extra) {
    const char *keys[META_MAX], *values[META_MAX];
    char buf[8192], fp[65];
    int n = icstr_config_model_to_meta(icstr_model_get_config(m), keys, values, META_MAX - 2, buf, sizeof buf);
    if (n < 0) return n;
    icstr_model_fingerprint(m, fp);
    keys[n] = "icstr.fingerprint";
    values[n++] = fp;
    keys[n] = "icstr.format";
    values[n++] = "icstr-model-1";
    if (n + n_extra > META_MAX) return icstr_fail(ICSTR_ERR_RANGE, "%s: too many metadata keys", path);
    for (int i = 0; i < n_extra; i++) {
        keys[n] = extra_keys[i];
        values[n++] = extra_values[i];
    }
    icstr_slab *s = icstr_model_slab((icstr_model *)m);
    int flags = (dtype == ICSTR_ST_F32 && s->m) ? ICSTR_ST_MOMENTS : 0;
    return icstr_slab_save(s, path, dtype, flags, keys, values, n);
}

static const char *meta_get(void *ctx, const char *key) { return icstr_st_meta((icstr_st_file *)ctx, key); }

int icstr_model_load(const char *path, int with_train, icstr_model **out) {
    *out = NULL;
    icstr_st_file *f = NULL;
    int rc = icstr_st_open(path, &f);
    if (rc) return rc;
    const char *format = icstr_st_meta(f, "icstr.format");
    if (!format || strcmp(format, "icstr-model-1")) {
        icstr_st_close(f);
        return icstr_fail(ICSTR_ERR_FORMAT, "%s: not an icstr model (metadata icstr.format is %s)", path,
                          format ? format : "missing");
    }
    icstr_model_config mc = icstr_model_default_config();
    if ((rc = icstr_config_model_from_meta(&mc, meta_get, f))) {
        icstr_st_close(f);
        return icstr_fail_context(rc, "%s", path);
    }
    icstr_model *m = NULL;
    if ((rc = icstr_model_create_(&mc, with_train, 0, &m))) {
        icstr_st_close(f);
        return icstr_fail_context(rc, "%s", path);
    }
    /* a checkpoint carries the AdamW moments; a shipped model does not */
    icstr_slab *s = icstr_model_slab(m);
    icstr_st_tensor_info ti;
    char name[ICSTR_NAME_MAX + 8];
    snprintf(name, sizeof name, "%s%s", ICSTR_ST_PREFIX_M, s->params[0].name);
    int has_moments = icstr_st_find(f, name, &ti) == ICSTR_OK;
    rc = icstr_slab_load(s, f, with_train && has_moments ? ICSTR_ST_MOMENTS : 0);
    icstr_st_close(f);
    if (rc) {
        icstr_model_free(m);
        return rc;
    }
    /* loaded for recognition: the weights will not change, so bf16 products may keep them packed */
    if (!with_train) icstr_model_freeze(m);
    *out = m;
    return ICSTR_OK;
}

const char *icstr_model_default_path(void) {
    const char *env = getenv("ICSTR_MODEL");
    return env && *env ? env : ICSTR_SOURCE_DIR "/" ICSTR_DEFAULT_MODEL;
}
