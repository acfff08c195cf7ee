/* AdamW, gradient clipping and the learning-rate schedule: flat loops over the slab. */
#include "icstr_core.h"

#include <math.h>

icstr_adamw_params icstr_adamw_default_params(void) {
    icstr_adamw_params p = {0.9f, 0.999f, 1e-8f, 0.05f};
    return p;
}

void icstr_adamw_step(icstr_slab *s, const icstr_adamw_params *p, float lr, long step) {
    float bc1 = 1.0f - powf(p->beta1, (float)step);
    float bc2 = 1.0f - powf(p->beta2, (float)step);
    for (int t = 0; t < s->count; t++) {
        const icstr_param *pr = &s->params[t];
        float decay = pr->decay ? lr * p->weight_decay : 0.0f;
        float *w = s->data + pr->offset, *g = s->grad + pr->offset;
        float *m = s->m + pr->offset, *v = s->v + pr->offset;
#pragma omp parallel for schedule(static) if (pr->numel > 65536)
        for (size_t i = 0; i < pr->numel; i++) {
            m[i] = p->beta1 * m[i] + (1.0f - p->beta1) * g[i];
            v[i] = p->beta2 * v[i] + (1.0f - p->beta2) * g[i] * g[i];
            float mhat = m[i] / bc1, vhat = v[i] / bc2;
            w[i] -= decay * w[i];
            w[i] -= lr * mhat / (sqrtf(vhat) + p->eps);
        }
    }
}

float icstr_grad_norm(const icstr_slab *s) {
    double sum = 0.0;
    for (size_t i = 0; i < s->total; i++) sum += (double)s->grad[i] * s->grad[i];
    return (float)sqrt(sum);
}

float icstr_clip_grad_norm(icstr_slab *s, float max_norm) {
    float norm = icstr_grad_norm(s);
    if (max_norm > 0.0f && norm > max_norm) {
        float scale = max_norm / (norm + 1e-6f);
        for (size_t i = 0; i < s->total; i++) s->grad[i] *= scale;
    }
    return norm;
}

float icstr_lr_schedule(long step, long warmup, long total, float peak, float min_lr) {
    if (step < warmup) return peak * (float)(step + 1) / (float)warmup;
    if (step >= total) return min_lr;
    double progress = (double)(step - warmup) / (double)(total - warmup > 0 ? total - warmup : 1);
    return min_lr + (peak - min_lr) * 0.5f * (float)(1.0 + cos(M_PI * progress));
}
