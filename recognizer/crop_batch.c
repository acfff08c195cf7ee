/* Reading, decoding and recognizing crops in batches (the model is fastest on many at once). */
#include "crop_batch.h"
#include "icstr_data.h"

#include <stdlib.h>
#include <string.h>

int icstr_crop_batch_init(icstr_crop_batch *b, int cap, int H, int W) {
    memset(b, 0, sizeof *b);
    b->cap = cap;
    b->H = H;
    b->W = W;
    b->images = icstr_alloc((size_t)cap * 3 * H * W, sizeof(float));
    b->names = calloc((size_t)cap, sizeof(char *));
    b->labels = calloc((size_t)cap, sizeof(char *));
    b->reasons = calloc((size_t)cap, sizeof(char *));
    b->ok_index = calloc((size_t)cap, sizeof(int));
    b->texts = calloc((size_t)cap, sizeof(char *));
    b->confidence = calloc((size_t)cap, sizeof(float));
    if (!b->images || !b->names || !b->labels || !b->reasons || !b->ok_index || !b->texts || !b->confidence) {
        icstr_crop_batch_free(b);
        return icstr_fail(ICSTR_ERR_NOMEM, "crop batch of %d", cap);
    }
    for (int i = 0; i < cap; i++)
        if (!(b->texts[i] = malloc(ICSTR_TEXT_CAP))) {
            icstr_crop_batch_free(b);
            return icstr_fail(ICSTR_ERR_NOMEM, "crop batch of %d", cap);
        }
    return ICSTR_OK;
}

static void clear_items(icstr_crop_batch *b) {
    for (int i = 0; i < b->n; i++) {
        free(b->names[i]);
        free(b->labels[i]);
        free(b->reasons[i]);
        b->names[i] = b->labels[i] = b->reasons[i] = NULL;
    }
    b->n = b->n_ok = 0;
}

void icstr_crop_batch_free(icstr_crop_batch *b) {
    if (b->names) clear_items(b);
    if (b->texts)
        for (int i = 0; i < b->cap; i++) free(b->texts[i]);
    icstr_free(b->images);
    free(b->names);
    free(b->labels);
    free(b->reasons);
    free(b->ok_index);
    free(b->texts);
    free(b->confidence);
    memset(b, 0, sizeof *b);
}

int icstr_crop_batch_read(icstr_crop_batch *b, icstr_inputs *in) {
    clear_items(b);
    size_t img = (size_t)3 * b->H * b->W;
    while (b->n < b->cap) {
        icstr_input_item item;
        int rc = icstr_inputs_next(in, &item);
        if (rc < 0) return rc;
        if (rc == 0) break;
        int i = b->n++;
        b->names[i] = strdup(item.name ? item.name : "?");
        b->labels[i] = item.label ? strdup(item.label) : NULL;
        b->ok_index[i] = -1;
        if (!b->names[i] || (item.label && !b->labels[i])) return icstr_fail(ICSTR_ERR_NOMEM, "crop batch");
        if (item.error) {
            b->reasons[i] = strdup(item.reason);
            continue;
        }
        icstr_image im;
        rc = icstr_image_load_memory(item.bytes, item.len, item.name, &im);
        if (!rc) {
            rc = icstr_image_to_input(&im, b->H, b->W, b->images + (size_t)b->n_ok * img);
            icstr_image_free(&im);
        }
        if (rc) {
            b->reasons[i] = strdup(icstr_last_error());
            continue;
        }
        b->ok_index[i] = b->n_ok++;
    }
    return b->n;
}

int icstr_crop_batch_recognize(icstr_crop_batch *b, icstr_model *m, const icstr_decode_params *p) {
    if (!b->n_ok) return ICSTR_OK;
    return icstr_model_recognize(m, b->images, b->n_ok, p, b->texts, ICSTR_TEXT_CAP, b->confidence);
}
