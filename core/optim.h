/* icstr core: AdamW with decoupled weight decay, global gradient-norm clipping and the
 * warm-up + cosine learning-rate schedule (part of icstr_core.h). They work on an icstr_slab. */
#ifndef ICSTR_OPTIM_H
#define ICSTR_OPTIM_H

#ifdef __cplusplus
extern "C" {
#endif


typedef struct {
    float beta1;         /* 0.9 */
    float beta2;         /* 0.999 */
    float eps;           /* 1e-8 */
    float weight_decay;  /* 0.05, applied only to tensors declared with decay = 1 */
} icstr_adamw_params;

icstr_adamw_params icstr_adamw_default_params(void);

/* One AdamW update of every parameter in the slab with learning rate lr. step is 1-based (the
 * bias correction uses it). Decoupled decay: w -= lr * weight_decay * w before the Adam step. */
void icstr_adamw_step(icstr_slab *s, const icstr_adamw_params *p, float lr, long step);

/* L2 norm of the whole gradient slab (accumulated in double). */
float icstr_grad_norm(const icstr_slab *s);
/* Scales gradients so their global norm is at most max_norm (max_norm <= 0: no clipping).
 * Returns the norm before clipping. */
float icstr_clip_grad_norm(icstr_slab *s, float max_norm);

/* Linear warm-up from 0 to peak over `warmup` steps, then cosine decay to min_lr at `total`
 * steps, min_lr after. step is 0-based. */
float icstr_lr_schedule(long step, long warmup, long total, float peak, float min_lr);

#ifdef __cplusplus
}
#endif

#endif
