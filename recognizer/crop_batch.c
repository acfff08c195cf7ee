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
        if (b->keep_bytes) {
            free(b->bytes[i]);
            b->bytes[i] = NULL;
            b->lens[i] = 0;
        }
    }
    b->n = b->n_ok = 0;
}

int icstr_crop_batch_keep_bytes(icstr_crop_batch *b) {
    if (b->keep_bytes) return ICSTR_OK;
    b->bytes = calloc((size_t)b->cap, sizeof *b->bytes);
    b->lens = calloc((size_t)b->cap, sizeof *b->lens);
    if (!b->bytes || !b->lens) return icstr_fail(ICSTR_ERR_NOMEM, "crop batch bytes");
    b->keep_bytes = 1;
    return ICSTR_OK;
}

void icstr_crop_batch_free(icstr_crop_batch *b) {
    if (b->names) clear_items(b);
    free(b->bytes);
    free(b->lens);
    if (b->texts)
        for (int i = 0; i < b->cap; i++) free(b->texts[i]);
    icstr_free(b->images);
    free(b->names);
    free(b->labels);
    free(b->reasons);
    free(b->ok_index);
    free(b->texts);
    free(b->confidence);
    icstr_crop_batch_set_pool(b, NULL, NULL);
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
        if (b->keep_bytes) {
            if (!(b->bytes[i] = malloc(item.len ? item.len : 1))) return icstr_fail(ICSTR_ERR_NOMEM, "crop batch");
            memcpy(b->bytes[i], item.bytes, item.len);
            b->lens[i] = item.len;
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

icstr_pool_reading icstr_pool_reading_default(void) {
    icstr_pool_reading r = {2, -1.0f, 0};
    return r;
}

static void free_pool_buffers(icstr_crop_batch *b) {
    icstr_free(b->latents);
    icstr_free(b->embeddings);
    icstr_free(b->plain_latents);
    icstr_pool_prompts_free(&b->prompts);
    if (b->plain_texts)
        for (int i = 0; i < b->cap; i++) free(b->plain_texts[i]);
    free(b->plain_texts);
    free(b->plain_of);
    free(b->plain_confidence);
    free(b->kept_plain);
    b->latents = b->embeddings = b->plain_latents = b->plain_confidence = NULL;
    b->plain_texts = NULL;
    b->plain_of = NULL;
    b->kept_plain = NULL;
    b->pool = NULL;
}

/* The buffers of the plain pass (compare_plain). */
static int alloc_plain(icstr_crop_batch *b) {
    size_t per = (size_t)b->prompts.M * b->prompts.D;
    b->plain_latents = icstr_alloc((size_t)b->cap * per, sizeof(float));
    b->plain_of = calloc((size_t)b->cap, sizeof(int));
    b->plain_texts = calloc((size_t)b->cap, sizeof(char *));
    b->plain_confidence = calloc((size_t)b->cap, sizeof(float));
    b->kept_plain = calloc((size_t)b->cap, 1);
    if (!b->plain_latents || !b->plain_of || !b->plain_texts || !b->plain_confidence || !b->kept_plain) return 0;
    for (int i = 0; i < b->cap; i++)
        if (!(b->plain_texts[i] = malloc(ICSTR_TEXT_CAP))) return 0;
    return 1;
}

int icstr_crop_batch_set_pool(icstr_crop_batch *b, icstr_pool *pool, const icstr_pool_reading *r) {
    free_pool_buffers(b);
    if (!pool) return ICSTR_OK;
    int rc = icstr_pool_prompts_init(&b->prompts, pool, b->cap, r->shots);
    if (rc) return rc;
    b->prompts.min_score = r->min_similarity;
    /* load the pool's embedding matrix now, not inside the first timed batch */
    long n = icstr_pool_search_count(pool);
    if (n < 0) {
        icstr_pool_prompts_free(&b->prompts);
        return (int)n;
    }
    b->latents = icstr_alloc((size_t)b->cap * b->prompts.M * b->prompts.D, sizeof(float));
    b->embeddings = icstr_alloc((size_t)b->cap * b->prompts.D, sizeof(float));
    if (!b->latents || !b->embeddings || (r->compare_plain && !alloc_plain(b))) {
        free_pool_buffers(b);
        return icstr_fail(ICSTR_ERR_NOMEM, "crop batch latents for %d crops", b->cap);
    }
    b->pool = pool;
    b->reading = *r;
    return ICSTR_OK;
}

/* compare_plain: reads the crops that got prompts again without them (from the same latents)
 * and keeps, crop by crop, the reading with the higher confidence (the one with prompts on a
 * tie). */
static int keep_surer_plain(icstr_crop_batch *b, icstr_model *m, const icstr_decode_params *p) {
    size_t per = (size_t)b->prompts.M * b->prompts.D;
    int n = 0;
    for (int k = 0; k < b->n_ok; k++) {
        b->kept_plain[k] = 0;
        if (!b->prompts.ctx[k].n_prompts) continue;
        memcpy(b->plain_latents + (size_t)n * per, b->latents + (size_t)k * per, per * sizeof(float));
        b->plain_of[n++] = k;
    }
    if (!n) return ICSTR_OK;
    int rc = icstr_model_decode(m, b->plain_latents, n, NULL, p, b->plain_texts, ICSTR_TEXT_CAP, b->plain_confidence);
    for (int j = 0; j < n && !rc; j++) {
        int k = b->plain_of[j];
        if (b->plain_confidence[j] <= b->confidence[k]) continue;
        memcpy(b->texts[k], b->plain_texts[j], ICSTR_TEXT_CAP);
        b->confidence[k] = b->plain_confidence[j];
        b->kept_plain[k] = 1;
    }
    return rc;
}

int icstr_crop_batch_recognize(icstr_crop_batch *b, icstr_model *m, const icstr_decode_params *p) {
    if (!b->n_ok) return ICSTR_OK;
    if (!b->pool) return icstr_model_recognize(m, b->images, b->n_ok, p, b->texts, ICSTR_TEXT_CAP, b->confidence);
    int rc = icstr_model_encode(m, b->images, b->n_ok, b->latents, b->embeddings);
    if (!rc) rc = icstr_pool_prompts_fill(b->pool, b->embeddings, b->n_ok, &b->prompts);
    if (!rc)
        rc = icstr_model_decode(m, b->latents, b->n_ok, b->prompts.ctx, p, b->texts, ICSTR_TEXT_CAP, b->confidence);
    if (!rc && b->reading.compare_plain) rc = keep_surer_plain(b, m, p);
    return rc;
}
