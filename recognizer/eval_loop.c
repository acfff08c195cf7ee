/* The batch loop behind `icstr eval` and `icstr bench accuracy` (see eval_loop.h). */
#include "eval_loop.h"
#include "icstr_core.h"

#include <stdio.h>

int icstr_eval_loop(icstr_model *m, icstr_inputs *in, icstr_crop_batch *cb, const icstr_decode_params *dp,
                    long limit, const char *progress, icstr_eval_visit visit, void *ctx, icstr_eval_stats *stats) {
    icstr_eval_stats st = {0, 0.0};
    int rc = ICSTR_OK;
    long next_note = 1024;
    for (;;) {
        double t0 = icstr_now_seconds();
        int n = icstr_crop_batch_read(cb, in);
        if (n < 0) {
            rc = n;
            break;
        }
        if (n == 0) break;
        if ((rc = icstr_crop_batch_recognize(cb, m, dp))) break;
        double dt = icstr_now_seconds() - t0;
        int visited = 0;
        for (int i = 0; i < cb->n && (!limit || st.seen < limit); i++, st.seen++, visited++) {
            int k = cb->ok_index[i];
            if ((rc = visit(ctx, cb, i, k < 0 ? "" : cb->texts[k], k < 0 ? 0.0f : cb->confidence[k])) < 0) break;
            rc = ICSTR_OK;
        }
        /* A batch cut short by the limit counts only its share of the time, so ms per crop
         * stays the cost of one crop. */
        st.seconds += visited < cb->n ? dt * visited / cb->n : dt;
        if (rc || (limit && st.seen >= limit)) break;
        if (progress && st.seen >= next_note) {
            fprintf(stderr, "\r%s: %ld crops", progress, st.seen);
            next_note = st.seen + 1024;
        }
    }
    if (progress && st.seen >= 1024) fprintf(stderr, "\r");
    if (stats) *stats = st;
    return rc;
}
