/* CTC loss (blank = 0) and its gradient with respect to the logits, by the forward-backward
 * recursions in log space with double accumulators (Graves et al. 2006). One OpenMP work item
 * per sequence; per-thread scratch holds its log-probabilities, alpha and beta. */
#include "icstr_core.h"
#include "ops_internal.h"

#include <math.h>
#include <string.h>

static double lse2(double a, double b) {
    if (a == -INFINITY) return b;
    if (b == -INFINITY) return a;
    return a > b ? a + log1p(exp(b - a)) : b + log1p(exp(a - b));
}

/* Label s of the blank-extended sequence (blank, l1, blank, l2, ..., blank). */
static int ext(const int *lab, int s) { return (s & 1) ? lab[s >> 1] : 0; }

static void impossible(float *loss, float *g, size_t n) {
    *loss = ICSTR_CTC_IMPOSSIBLE_LOSS;
    memset(g, 0, n * sizeof(float));
}

static void ctc_one(float *loss, float *g, const float *x, const int *lab, int len, int T, int V,
                    int S) {
    size_t tv = (size_t)T * V;
    if (T <= 0 || len < 0 || len > S) {
        impossible(loss, g, tv);
        return;
    }
    int repeats = 0;
    for (int i = 0; i < len; i++) {
        if (lab[i] < 1 || lab[i] >= V) {
            impossible(loss, g, tv);
            return;
        }
        if (i > 0 && lab[i] == lab[i - 1]) repeats++;
    }
    if (len + repeats > T) {
        impossible(loss, g, tv);
        return;
    }
    int L = 2 * len + 1;
    double *lp = icstr_ops_scratch(OPS_SCRATCH_CTC, (tv + 2 * (size_t)T * L) * sizeof(double));
    if (!lp) {
        *loss = NAN;
        for (size_t i = 0; i < tv; i++) g[i] = NAN;
        return;
    }
    double *alpha = lp + tv, *beta = alpha + (size_t)T * L;
    for (int t = 0; t < T; t++) {
        const float *xr = x + (size_t)t * V;
        double mx = xr[0], s = 0.0;
        for (int k = 1; k < V; k++) mx = xr[k] > mx ? xr[k] : mx;
        for (int k = 0; k < V; k++) s += exp(xr[k] - mx);
        double lz = mx + log(s);
        for (int k = 0; k < V; k++) lp[(size_t)t * V + k] = xr[k] - lz;
    }
    for (int s = 0; s < L; s++) alpha[s] = s < 2 ? lp[ext(lab, s)] : -INFINITY;
    for (int t = 1; t < T; t++) {
        const double *prev = alpha + (size_t)(t - 1) * L, *lpt = lp + (size_t)t * V;
        double *cur = alpha + (size_t)t * L;
        for (int s = 0; s < L; s++) {
            int l = ext(lab, s);
            double a = prev[s];
            if (s >= 1) a = lse2(a, prev[s - 1]);
            if (s >= 2 && l != 0 && l != ext(lab, s - 2)) a = lse2(a, prev[s - 2]);
            cur[s] = a == -INFINITY ? -INFINITY : a + lpt[l];
        }
    }
    const double *last = alpha + (size_t)(T - 1) * L;
    double logp = L > 1 ? lse2(last[L - 1], last[L - 2]) : last[L - 1];
    if (!isfinite(logp)) {
        impossible(loss, g, tv);
        return;
    }
    double *bl = beta + (size_t)(T - 1) * L;
    for (int s = 0; s < L; s++) bl[s] = s >= L - 2 ? lp[(size_t)(T - 1) * V + ext(lab, s)] : -INFINITY;
    for (int t = T - 2; t >= 0; t--) {
        const double *next = beta + (size_t)(t + 1) * L, *lpt = lp + (size_t)t * V;
        double *cur = beta + (size_t)t * L;
        for (int s = 0; s < L; s++) {
            int l = ext(lab, s);
            double b = next[s];
            if (s + 1 < L) b = lse2(b, next[s + 1]);
            if (s + 2 < L && l != 0 && l != ext(lab, s + 2)) b = lse2(b, next[s + 2]);
            cur[s] = b == -INFINITY ? -INFINITY : b + lpt[l];
        }
    }
    /* d(-log p)/d x_tk = y_tk - sum_{s: l'_s = k} alpha_t(s) beta_t(s) / (y_tk p); alpha and
     * beta both include y_t(l'_s), hence the division */
    for (int t = 0; t < T; t++) {
        const double *lpt = lp + (size_t)t * V, *at = alpha + (size_t)t * L, *bt = beta + (size_t)t * L;
        float *gt = g + (size_t)t * V;
        for (int k = 0; k < V; k++) gt[k] = (float)exp(lpt[k]);
        for (int s = 0; s < L; s++) {
            double ab = at[s] + bt[s];
            if (ab == -INFINITY) continue;
            int l = ext(lab, s);
            gt[l] -= (float)exp(ab - lpt[l] - logp);
        }
    }
    *loss = (float)-logp;
}

void icstr_ctc_forward(float *losses, float *grad, const float *logits, const int *targets,
                       const int *target_lengths, int B, int T, int V, int S) {
    if (V <= 0) return;
#pragma omp parallel for schedule(static) if (B > 1)
    for (int b = 0; b < B; b++)
        ctc_one(losses + b, grad + (size_t)b * T * V, logits + (size_t)b * T * V,
                targets + (size_t)b * S, target_lengths[b], T, V, S);
}

void icstr_ctc_backward(float *dlogits, const float *dloss, const float *grad, int B, int T,
                        int V) {
    size_t tv = (size_t)T * V;
#pragma omp parallel for schedule(static) if ((size_t)B * tv >= OPS_PAR_MIN)
    for (int b = 0; b < B; b++) {
        float s = dloss[b];
        for (size_t i = 0; i < tv; i++) dlogits[b * tv + i] += s * grad[b * tv + i];
    }
}

int icstr_ctc_best_path(const float *logp, int T, int V, int *tokens, int cap) {
    int n = 0, prev = 0;
    for (int t = 0; t < T; t++) {
        const float *row = logp + (size_t)t * V;
        int best = 0;
        for (int v = 1; v < V; v++) best = row[v] > row[best] ? v : best;
        if (best && best != prev && n < cap) tokens[n++] = best;
        prev = best;
    }
    return n;
}

int icstr_ctc_align(const float *logp, int T, int V, const int *label, int len, int *path, double *scratch) {
    int S = 2 * len + 1;
    const double NEG = -1e300;
    double *dp = scratch;                       /* (T, S) best log-score ending in state s at t */
    int *from = (int *)(scratch + (size_t)T * S); /* (T, S) the state it came from */
    for (int l = 0; l < len; l++)
        if (label[l] < 1 || label[l] >= V) return -1;
    if (T < 1) return -1;
    for (int s = 0; s < S; s++) dp[s] = s < 2 ? (double)logp[ext(label, s)] : NEG;
    for (int t = 1; t < T; t++) {
        const double *prev = dp + (size_t)(t - 1) * S;
        double *cur = dp + (size_t)t * S;
        int *fr = from + (size_t)t * S;
        for (int s = 0; s < S; s++) {
            double best = prev[s];
            int f = s;
            if (s >= 1 && prev[s - 1] > best) best = prev[s - 1], f = s - 1;
            if (s >= 2 && (s & 1) && label[s >> 1] != label[(s >> 1) - 1] && prev[s - 2] > best)
                best = prev[s - 2], f = s - 2;
            cur[s] = best <= NEG ? NEG : best + logp[(size_t)t * V + ext(label, s)];
            fr[s] = f;
        }
    }
    const double *last = dp + (size_t)(T - 1) * S;
    int s = S - 1;
    if (S > 1 && last[S - 2] > last[S - 1]) s = S - 2;
    if (last[s] <= NEG) return -1;
    for (int t = T - 1; t >= 0; t--) {
        path[t] = ext(label, s);
        if (t) s = from[(size_t)t * S + s];
    }
    return 0;
}
