/* Cross-entropy with label smoothing and an ignore index, fused with the softmax. */
#include "icstr_core.h"
#include "ops_internal.h"

#include <math.h>

static int counted(int t, int V, int ignore_index) { return t != ignore_index && t >= 0 && t < V; }

int icstr_crossentropy_forward(float *losses, float *probs, const float *logits,
                               const int *targets, int N, int V, float smoothing,
                               int ignore_index) {
    if (V <= 0) return 0;
    int count = 0;
#pragma omp parallel for schedule(static) reduction(+ : count) if ((size_t)N * V >= OPS_PAR_MIN)
    for (int n = 0; n < N; n++) {
        const float *x = logits + (size_t)n * V;
        float *p = probs + (size_t)n * V;
        float mx = x[0], s = 0.0f, sx = 0.0f;
#pragma omp simd reduction(max : mx)
        for (int j = 0; j < V; j++) mx = x[j] > mx ? x[j] : mx;
        /* SIMD reductions have a fixed order for a given build, unlike threaded ones */
#pragma omp simd reduction(+ : s, sx)
        for (int j = 0; j < V; j++) {
            p[j] = ops_expf(x[j] - mx);
            s += p[j];
            sx += x[j];
        }
        float inv = 1.0f / s;
#pragma omp simd
        for (int j = 0; j < V; j++) p[j] *= inv;
        int t = targets[n];
        if (!counted(t, V, ignore_index)) {
            losses[n] = 0.0f;
            continue;
        }
        /* -sum_j target_j * log p_j with log p_j = x_j - logZ and sum_j target_j = 1 */
        double logz = mx + log((double)s);
        losses[n] = (float)(logz - (1.0 - smoothing) * x[t] - (double)smoothing / V * sx);
        count++;
    }
    return count;
}

void icstr_crossentropy_backward(float *dlogits, const float *dloss, const float *probs,
                                 const int *targets, int N, int V, float smoothing,
                                 int ignore_index) {
    float off = smoothing / (float)V;
#pragma omp parallel for schedule(static) if ((size_t)N * V >= OPS_PAR_MIN)
    for (int n = 0; n < N; n++) {
        int t = targets[n];
        if (!counted(t, V, ignore_index)) continue;
        const float *p = probs + (size_t)n * V;
        float *d = dlogits + (size_t)n * V, g = dloss[n];
        for (int j = 0; j < V; j++) d[j] += g * (p[j] - off);
        d[t] -= g * (1.0f - smoothing);
    }
}
