/* The trainer's data stream: synthetic words from the renderer and real crops from the configured
 * sources, mixed by synth_fraction, every sample a pure function of (seed, step, index) so that
 * batches are the same after a resume and whatever the thread count. Real crops are decoded once
 * at start (the train sets are small) and augmented per sample; val_size of them are held out. */
#include "train.h"
#include "train_internal.h"
#include "icstr_data.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static uint64_t mix64(uint64_t x) {
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

uint64_t icstr_train_sample_seed(uint64_t seed, long step, int index) {
    return mix64(mix64(seed + 0x9e3779b97f4a7c15ULL) ^ mix64((uint64_t)step * 0x100000001b3ULL + (uint64_t)index));
}

static int load_source(icstr_train_data *td, const icstr_model *m, const char *path, long *kept,
                       long *skipped) {
    icstr_dataset *ds = NULL;
    int rc = icstr_dataset_open(path, &ds);
    if (rc) return icstr_fail_context(rc, "training source %s", path);
    long n = icstr_dataset_count(ds);
    icstr_real_crop *grown = realloc(td->crops, (size_t)(td->n_crops + n) * sizeof *grown);
    if (!grown) {
        icstr_dataset_close(ds);
        return icstr_fail(ICSTR_ERR_NOMEM, "training source %s: %ld crops", path, n);
    }
    td->crops = grown;
    *kept = *skipped = 0;
    int tokens[512];
    for (long i = 0; i < n; i++) {
        const unsigned char *bytes;
        size_t len;
        const char *label, *name;
        int ntok;
        if (icstr_dataset_get(ds, i, &bytes, &len, &label, &name) ||
            icstr_model_encode_label(m, label, tokens, &ntok) || ntok == 0) {
            (*skipped)++;
            continue;
        }
        icstr_real_crop *c = &td->crops[td->n_crops];
        if (icstr_image_load_memory(bytes, len, name, &c->img)) {
            (*skipped)++;
            continue;
        }
        c->label = strdup(label);
        if (!c->label) {
            icstr_image_free(&c->img);
            icstr_dataset_close(ds);
            return icstr_fail(ICSTR_ERR_NOMEM, "labels");
        }
        td->n_crops++;
        (*kept)++;
    }
    icstr_dataset_close(ds);
    return ICSTR_OK;
}

int icstr_train_data_open(const icstr_model *m, const icstr_train_config *tc,
                          icstr_train_data **out) {
    *out = NULL;
    icstr_train_data *td = calloc(1, sizeof *td);
    if (!td) return icstr_fail(ICSTR_ERR_NOMEM, "train data");
    td->mc = *icstr_model_get_config(m);
    td->tc = *tc;
    int rc = ICSTR_OK, ns = tc->n_sources;
    td->source_start = calloc((size_t)ns + 1, sizeof(long));
    td->source_count = calloc((size_t)ns + 1, sizeof(long));
    td->source_cum = calloc((size_t)ns + 1, sizeof(float));
    long *first = calloc((size_t)ns + 1, sizeof(long));
    if (!td->source_start || !td->source_count || !td->source_cum || !first) {
        free(first);
        icstr_train_data_close(td);
        return icstr_fail(ICSTR_ERR_NOMEM, "train data");
    }
    for (int s = 0; s < ns; s++) {
        long kept, skipped;
        first[s] = td->n_crops;
        if ((rc = load_source(td, m, tc->sources[s].path, &kept, &skipped))) goto fail;
        ICSTR_INFO("source %s: %ld crops (%ld skipped: unreadable, or label outside the charset or too long)",
                   tc->sources[s].path, kept, skipped);
    }
    first[ns] = td->n_crops;

    /* hold out val_size crops chosen by the seed, spread over the sources by their sizes */
    td->train_idx = malloc((size_t)(td->n_crops + 1) * sizeof(long));
    td->val_idx = malloc((size_t)(tc->val_size + 1) * sizeof(long));
    uint8_t *is_val = calloc((size_t)td->n_crops + 1, 1);
    long *perm = malloc((size_t)(td->n_crops + 1) * sizeof(long));
    if (!td->train_idx || !td->val_idx || !is_val || !perm) {
        free(is_val);
        free(perm);
        rc = icstr_fail(ICSTR_ERR_NOMEM, "train data");
        goto fail;
    }
    icstr_rng rng;
    icstr_rng_seed(&rng, tc->seed ^ 0x76616c6964ULL);
    for (long i = 0; i < td->n_crops; i++) perm[i] = i;
    for (long i = td->n_crops - 1; i > 0; i--) {
        long j = (long)(icstr_rng_u64(&rng) % (uint64_t)(i + 1));
        long t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
    long want_val = tc->val_size < td->n_crops / 2 ? tc->val_size : td->n_crops / 2;
    for (long i = 0; i < want_val; i++) is_val[perm[i]] = 1;
    /* validation in index order so the validation number is comparable across runs */
    for (long i = 0; i < td->n_crops; i++)
        if (is_val[i]) td->val_idx[td->n_val++] = i;
    float cum = 0.0f;
    for (int s = 0; s < ns; s++) {
        td->source_start[s] = td->n_train;
        for (long i = first[s]; i < first[s + 1]; i++)
            if (!is_val[i]) td->train_idx[td->n_train++] = i;
        td->source_count[s] = td->n_train - td->source_start[s];
        cum += td->source_count[s] ? tc->sources[s].weight : 0.0f;
        td->source_cum[s] = cum;
    }
    free(is_val);
    free(perm);
    free(first);
    first = NULL;
    if (td->n_train == 0 && tc->synth_fraction < 1.0f) {
        rc = icstr_fail(ICSTR_ERR_CONFIG, "synth_fraction %.2f needs real crops, but the sources hold none",
                        (double)tc->synth_fraction);
        goto fail;
    }
    if (tc->synth_fraction > 0.0f && (rc = icstr_train_synth_open(&td->mc, tc, &td->synth))) goto fail;
    ICSTR_INFO("training data: %ld real crops for training, %d held out for validation, %.0f%% synthetic",
               td->n_train, td->n_val, 100.0 * tc->synth_fraction);
    *out = td;
    return ICSTR_OK;
fail:
    free(first);
    icstr_train_data_close(td);
    return rc;
}

void icstr_train_data_close(icstr_train_data *td) {
    if (!td) return;
    for (long i = 0; i < td->n_crops; i++) {
        icstr_image_free(&td->crops[i].img);
        free(td->crops[i].label);
    }
    free(td->crops);
    free(td->source_start);
    free(td->source_count);
    free(td->source_cum);
    free(td->train_idx);
    free(td->val_idx);
    icstr_train_synth_close(td->synth);
    icstr_train_context_free(td);
    free(td);
}

/* Real-crop augmentation: a jittered crop box (as a detector's box would be, tight or loose,
 * edges replicated), then contrast, brightness, inversion and noise on the normalised input. */
int icstr_train_augment_real(const icstr_image *src, icstr_rng *r, const icstr_model_config *mc, float *chw) {
    float h = (float)src->h;
    int x0 = (int)lroundf(icstr_rng_range(r, -0.08f, 0.08f) * h);
    int x1 = src->w + (int)lroundf(icstr_rng_range(r, -0.08f, 0.08f) * h);
    int y0 = (int)lroundf(icstr_rng_range(r, -0.08f, 0.08f) * h);
    int y1 = src->h + (int)lroundf(icstr_rng_range(r, -0.08f, 0.08f) * h);
    if (x1 - x0 < 2) x1 = x0 + 2;
    if (y1 - y0 < 2) y1 = y0 + 2;
    icstr_image crop;
    int rc = icstr_image_alloc(x1 - x0, y1 - y0, NULL, &crop);
    if (rc) return rc;
    for (int y = 0; y < crop.h; y++) {
        int sy = y + y0 < 0 ? 0 : y + y0 >= src->h ? src->h - 1 : y + y0;
        for (int x = 0; x < crop.w; x++) {
            int sx = x + x0 < 0 ? 0 : x + x0 >= src->w ? src->w - 1 : x + x0;
            memcpy(crop.rgb + ((size_t)y * crop.w + x) * 3, src->rgb + ((size_t)sy * src->w + sx) * 3, 3);
        }
    }
    rc = icstr_image_to_input(&crop, mc->img_h, mc->img_w, chw);
    icstr_image_free(&crop);
    if (rc) return rc;
    size_t n = (size_t)3 * mc->img_h * mc->img_w;
    float contrast = icstr_rng_range(r, 0.6f, 1.2f), bright = icstr_rng_range(r, -0.2f, 0.2f);
    float sign = icstr_rng_uniform(r) < 0.1f ? -1.0f : 1.0f;
    float noise = icstr_rng_uniform(r) < 0.3f ? icstr_rng_range(r, 0.0f, 0.08f) : 0.0f;
    for (size_t i = 0; i < n; i++) {
        float v = sign * (chw[i] * contrast + bright);
        if (noise > 0.0f) v += noise * icstr_rng_normal(r);
        chw[i] = v < -1.0f ? -1.0f : v > 1.0f ? 1.0f : v;
    }
    return ICSTR_OK;
}

int icstr_train_copy_label(char *dst, int cap, const char *src) {
    size_t n = strlen(src);
    if (n + 1 > (size_t)cap) return icstr_fail(ICSTR_ERR_RANGE, "label longer than %d bytes", cap - 1);
    memcpy(dst, src, n + 1);
    return ICSTR_OK;
}

int icstr_train_data_sample(icstr_train_data *td, long step, int index, float *chw, char *label,
                            int label_cap) {
    icstr_rng r;
    icstr_rng_seed(&r, icstr_train_sample_seed(td->tc.seed, step, index));
    if (td->n_train == 0 || icstr_rng_uniform(&r) < td->tc.synth_fraction)
        return icstr_train_synth_sample(td->synth, icstr_rng_u64(&r), step, chw, label, label_cap);
    int ns = td->tc.n_sources, s = 0;
    float pick = icstr_rng_uniform(&r) * td->source_cum[ns - 1];
    while (s < ns - 1 && (pick >= td->source_cum[s] || !td->source_count[s])) s++;
    long i = td->train_idx[td->source_start[s] + (long)(icstr_rng_u64(&r) % (uint64_t)td->source_count[s])];
    const icstr_real_crop *c = &td->crops[i];
    int rc = td->tc.augment ? icstr_train_augment_real(&c->img, &r, &td->mc, chw)
                            : icstr_image_to_input(&c->img, td->mc.img_h, td->mc.img_w, chw);
    if (rc) return rc;
    return icstr_train_copy_label(label, label_cap, c->label);
}

/* The number of chunks of sequence (step, index): 1 (plain) or 2..1+prompts_max, drawn from a
 * stream of its own so plain runs (prompts_max 0) see exactly the samples they always saw. */
int icstr_train_data_chunks(icstr_train_data *td, long step, int index) {
    if (td->tc.prompts_max <= 0 || td->tc.incontext_fraction <= 0.0f) return 1;
    icstr_rng r;
    icstr_rng_seed(&r, icstr_train_sample_seed(td->tc.seed ^ 0x636f6e74657874ULL, step, index));
    if (icstr_rng_uniform(&r) >= td->tc.incontext_fraction) return 1;
    int k = 2 + (int)icstr_rng_below(&r, (uint32_t)td->tc.prompts_max);
    return k < ICSTR_TRAIN_MAX_CHUNKS ? k : ICSTR_TRAIN_MAX_CHUNKS;
}

int icstr_train_data_sequence(icstr_train_data *td, long step, int index, int k, float *chw, char *labels,
                              int label_cap, uint8_t *loss) {
    if (k <= 1) {
        loss[0] = ICSTR_LOSS_ALL;
        return icstr_train_data_sample(td, step, index, chw, labels, label_cap);
    }
    icstr_rng r;
    icstr_rng_seed(&r, icstr_train_sample_seed(td->tc.seed ^ 0x73657175656e6365ULL, step, index));
    return icstr_train_context_sequence(td, &r, step, k, chw, labels, label_cap, loss);
}

int icstr_train_data_val_count(const icstr_train_data *td) { return td->n_val; }

int icstr_train_data_val_sample(icstr_train_data *td, int i, float *chw, char *label, int label_cap) {
    if (i < 0 || i >= td->n_val) return icstr_fail(ICSTR_ERR_RANGE, "validation sample %d of %d", i, td->n_val);
    const icstr_real_crop *c = &td->crops[td->val_idx[i]];
    int rc = icstr_image_to_input(&c->img, td->mc.img_h, td->mc.img_w, chw);
    if (rc) return rc;
    return icstr_train_copy_label(label, label_cap, c->label);
}
