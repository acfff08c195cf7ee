/* icstr recognizer: model files. A model file is safetensors: every parameter by name plus the
 * model config as "model.*" metadata, so a file alone rebuilds its model. */
#ifndef ICSTR_MODEL_IO_H
#define ICSTR_MODEL_IO_H

#include "model.h"

#ifdef __cplusplus
extern "C" {
#endif

/* dtype: ICSTR_ST_F32, _F16 or _BF16. extra_keys/values (n_extra, may be 0) are added to the
 * metadata (e.g. "train.step"). Written atomically. */
int icstr_model_save(const icstr_model *m, const char *path, int dtype, const char *const *extra_keys,
                     const char *const *extra_values, int n_extra);
/* Rebuilds the model from the file's config and loads its weights (a checkpoint works too: its
 * AdamW moments are loaded when with_train is 1). Errors: those of icstr_st_open,
 * ICSTR_ERR_FORMAT (bad config metadata), ICSTR_ERR_MISMATCH (tensors missing or misshapen). */
int icstr_model_load(const char *path, int with_train, icstr_model **out);

/* The shipped model, relative to the source tree (help texts print this name). */
#define ICSTR_DEFAULT_MODEL "models/icstr.safetensors"

/* The model `icstr recognize` uses when --model is not given: $ICSTR_MODEL, else
 * ICSTR_DEFAULT_MODEL in the source tree. */
const char *icstr_model_default_path(void);

#ifdef __cplusplus
}
#endif

#endif
