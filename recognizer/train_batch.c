/* Building training batches: how many chunks each sequence has is decided first (cheap), so the
 * images can be packed without gaps and then rendered/decoded in parallel into fixed slots. */
#include "train_batch.h"
#include "train_internal.h"

#include <stdlib.h>
#include <string.h>

void icstr_train_batch_free(icstr_train_batch *tb) {
    icstr_free(tb->images);
    icstr_free(tb->queries);
    free(tb->labels);
    free(tb->query_labels);
    free(tb->first);
    free(tb->n_chunks);
    free(tb->chunk_image);
    free(tb->chunk_label);
    free(tb->chunk_len);
    free(tb->loss_on);
    memset(tb, 0, sizeof *tb);
}

int icstr_train_batch_alloc(icstr_train_batch *tb, const icstr_model_config *mc, int B, int prompts_max) {
    memset(tb, 0, sizeof *tb);
    tb->B = B;
    tb->max_chunks = 1 + prompts_max;
    tb->T = mc->max_label;
    tb->img = (size_t)3 * mc->img_h * mc->img_w;
    size_t slots = (size_t)B * tb->max_chunks;
    tb->images = icstr_alloc(slots * tb->img, sizeof(float));
    tb->queries = icstr_alloc((size_t)B * tb->img, sizeof(float));
    tb->labels = calloc(slots, ICSTR_LABEL_CAP);
    tb->query_labels = calloc((size_t)B, ICSTR_LABEL_CAP);
    tb->first = calloc((size_t)B, sizeof(int));
    tb->n_chunks = calloc((size_t)B, sizeof(int));
    tb->chunk_image = calloc(slots, sizeof(int));
    tb->chunk_label = calloc(slots * (size_t)tb->T, sizeof(int));
    tb->chunk_len = calloc(slots, sizeof(int));
    tb->loss_on = calloc(slots, 1);
    if (!tb->images || !tb->queries || !tb->labels || !tb->query_labels || !tb->first || !tb->n_chunks ||
        !tb->chunk_image || !tb->chunk_label || !tb->chunk_len || !tb->loss_on) {
        icstr_train_batch_free(tb);
        return icstr_fail(ICSTR_ERR_NOMEM, "cannot allocate a batch of %d sequences", B);
    }
    return ICSTR_OK;
}

int icstr_train_batch_fill(icstr_train_batch *tb, icstr_train_data *td, const icstr_model *m, long step) {
    int n = 0;
    for (int b = 0; b < tb->B; b++) {
        int k = icstr_train_data_chunks(td, step, b);
        if (k > tb->max_chunks) k = tb->max_chunks;
        tb->first[b] = n;
        tb->n_chunks[b] = k;
        n += k;
    }
    tb->n_images = n;
    int rc = ICSTR_OK;
#pragma omp parallel for schedule(dynamic, 1)
    for (int b = 0; b < tb->B; b++) {
        int r = icstr_train_data_sequence(td, step, b, tb->n_chunks[b], tb->images + (size_t)tb->first[b] * tb->img,
                                          tb->labels + (size_t)tb->first[b] * ICSTR_LABEL_CAP, ICSTR_LABEL_CAP,
                                          tb->loss_on + (size_t)b * tb->max_chunks);
        if (r) {
#pragma omp critical
            rc = r;
        }
    }
    if (rc) return rc;
    icstr_vocab_info vi = icstr_model_vocab(m);
    for (int b = 0; b < tb->B; b++) {
        for (int c = 0; c < tb->max_chunks; c++) {
            int *tok = tb->chunk_label + ((size_t)b * tb->max_chunks + c) * tb->T;
            for (int t = 0; t < tb->T; t++) tok[t] = vi.pad;
            tb->chunk_len[b * tb->max_chunks + c] = 0;
            tb->chunk_image[b * tb->max_chunks + c] = 0;
            if (c >= tb->n_chunks[b]) {
                tb->loss_on[b * tb->max_chunks + c] = ICSTR_LOSS_NONE;
                continue;
            }
            int idx = tb->first[b] + c, len = 0;
            if ((rc = icstr_model_encode_label(m, tb->labels + (size_t)idx * ICSTR_LABEL_CAP, tok, &len)))
                return icstr_fail_context(rc, "batch sequence %d chunk %d", b, c);
            tb->chunk_len[b * tb->max_chunks + c] = len;
            tb->chunk_image[b * tb->max_chunks + c] = idx;
        }
        int q = tb->first[b] + tb->n_chunks[b] - 1;
        memcpy(tb->queries + (size_t)b * tb->img, tb->images + (size_t)q * tb->img, tb->img * sizeof(float));
        memcpy(tb->query_labels + (size_t)b * ICSTR_LABEL_CAP, tb->labels + (size_t)q * ICSTR_LABEL_CAP, ICSTR_LABEL_CAP);
    }
    return ICSTR_OK;
}

icstr_batch icstr_train_batch_view(const icstr_train_batch *tb) {
    icstr_batch batch = {0};
    batch.B = tb->B;
    batch.images = tb->images;
    batch.n_images = tb->n_images;
    batch.chunk_image = tb->chunk_image;
    batch.chunk_label = tb->chunk_label;
    batch.chunk_len = tb->chunk_len;
    batch.n_chunks = tb->n_chunks;
    batch.max_chunks = tb->max_chunks;
    batch.loss_on = tb->loss_on; /* every label of the sequence (DESIGN.md), copy tasks aside */
    return batch;
}
