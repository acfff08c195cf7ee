/* Choosing a prompt pool's view (see pool_view.h). */
#include "pool_view.h"
#include "crop_batch.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define VIEW_BATCH 32

int icstr_view_candidates(icstr_view *out, int cap) {
    static const float tops[] = {0.0f, 0.1f, 0.15f, 0.2f, 0.25f}, bottoms[] = {1.0f, 0.9f, 0.85f, 0.8f},
                       margins[] = {0.0f, 0.03f};
    int n = 0;
    for (int t = 0; t < 5; t++)
        for (int b = 0; b < 4; b++)
            for (int m = 0; m < 2; m++, n++)
                if (n < cap) {
                    icstr_view v = {tops[t], bottoms[b], margins[m], 1.0f - margins[m]};
                    out[n] = v;
                }
    return n;
}

typedef struct {
    icstr_image *imgs;
    char **labels;
    long n, cap;
    long seen, stride;       /* records visited; keep every stride-th */
    const icstr_pool *p;
} sample;

static int take(void *user, const icstr_pool_record *r) {
    sample *s = user;
    if (s->seen++ % s->stride || s->n >= s->cap) return 0;
    int rc = icstr_image_load_memory(r->image, r->image_len, NULL, &s->imgs[s->n]);
    if (rc)
        return icstr_fail_context(rc, "the image of record %llu cannot be decoded (remove it with `icstr pool rm`)",
                                  (unsigned long long)r->id);
    if (!(s->labels[s->n] = strdup(r->label))) {
        icstr_image_free(&s->imgs[s->n]);
        return icstr_fail(ICSTR_ERR_NOMEM, "pool view");
    }
    s->n++;
    return 0;
}

static void sample_free(sample *s) {
    for (long i = 0; i < s->n; i++) {
        icstr_image_free(&s->imgs[i]);
        free(s->labels[i]);
    }
    free(s->imgs);
    free(s->labels);
}

/* reads the images of s under view v, scores into *out; right[i] = 1 where record i reads right;
 * first (NULL for the first view) is the first view's, counted against */
static int score_view(icstr_model *m, const sample *s, const icstr_view *v, int protocol, float *images,
                      float *lat, char **texts, unsigned char *right, const unsigned char *first,
                      icstr_view_score *out) {
    const icstr_model_config *c = icstr_model_get_config(m);
    size_t img = (size_t)3 * c->img_h * c->img_w;
    icstr_decode_params dp = icstr_decode_default_params();
    icstr_score sc;
    int rc = icstr_score_init(&sc, protocol);
    for (long i0 = 0; !rc && i0 < s->n; i0 += VIEW_BATCH) {
        int k = (int)(s->n - i0 < VIEW_BATCH ? s->n - i0 : VIEW_BATCH);
        for (int i = 0; !rc && i < k; i++) rc = icstr_image_view_to_input(&s->imgs[i0 + i], v, c->img_h, c->img_w, images + (size_t)i * img);
        if (!rc) rc = icstr_model_encode(m, images, k, lat, NULL);
        if (!rc) rc = icstr_model_decode(m, lat, k, NULL, &dp, texts, ICSTR_TEXT_CAP, NULL);
        for (int i = 0; !rc && i < k; i++) {
            int r = icstr_score_add(&sc, texts[i], s->labels[i0 + i]);
            if (r < 0) rc = r;
            right[i0 + i] = r == ICSTR_SCORE_RIGHT;
        }
    }
    if (rc) return rc;
    double acc, one;
    out->gained = out->lost = 0;
    for (long i = 0; first && i < s->n; i++) {
        out->gained += right[i] && !first[i];
        out->lost += first[i] && !right[i];
    }
    out->view = *v;
    icstr_score_result(&sc, &out->n, NULL, &acc, &one);
    out->right = sc.correct;
    out->one_minus_ned = one;
    return ICSTR_OK;
}

int icstr_pool_view_scores(icstr_pool *p, const icstr_view *views, int n, long max_records, int protocol,
                           icstr_view_score *out) {
    icstr_model *m = icstr_pool_model(p);
    if (!m || !views || n < 1 || !out) return icstr_fail(ICSTR_ERR_ARG, "pool view: no model or no views");
    for (int i = 0; i < n; i++)
        if (icstr_view_check(&views[i])) return icstr_fail_context(ICSTR_ERR_ARG, "pool view: candidate %d", i);
    icstr_pool_info info;
    int rc = icstr_pool_get_info(p, &info);
    if (rc) return rc;
    if (info.count < 1) return icstr_fail(ICSTR_ERR_NOTFOUND, "pool view: the pool has no records to read");
    sample s = {0};
    s.cap = max_records > 0 && max_records < info.count ? max_records : info.count;
    s.stride = (info.count + s.cap - 1) / s.cap;
    s.imgs = calloc((size_t)s.cap, sizeof *s.imgs);
    s.labels = calloc((size_t)s.cap, sizeof *s.labels);
    const icstr_model_config *c = icstr_model_get_config(m);
    float *images = icstr_alloc((size_t)VIEW_BATCH * 3 * c->img_h * c->img_w, sizeof(float));
    float *lat = icstr_alloc((size_t)VIEW_BATCH * c->latents * c->dec_dim, sizeof(float));
    char *text_buf = malloc((size_t)VIEW_BATCH * ICSTR_TEXT_CAP), *texts[VIEW_BATCH];
    unsigned char *first = calloc((size_t)s.cap, 1), *right = calloc((size_t)s.cap, 1);
    if (!s.imgs || !s.labels || !images || !lat || !text_buf || !first || !right)
        rc = icstr_fail(ICSTR_ERR_NOMEM, "pool view");
    for (int i = 0; i < VIEW_BATCH && text_buf; i++) texts[i] = text_buf + (size_t)i * ICSTR_TEXT_CAP;
    if (!rc) rc = icstr_pool_foreach(p, ICSTR_POOL_WANT_IMAGE, take, &s);
    for (int i = 0; !rc && i < n; i++) {
        if ((rc = score_view(m, &s, &views[i], protocol, images, lat, texts, i ? right : first, i ? first : NULL,
                             &out[i])))
            break;
        char vs[ICSTR_VIEW_TEXT];
        icstr_view_format(&views[i], vs);
        ICSTR_INFO("pool view: %d of %d: %s reads %ld of %ld records right", i + 1, n, vs, out[i].right, out[i].n);
    }
    icstr_free(images);
    icstr_free(lat);
    free(text_buf);
    free(first);
    free(right);
    sample_free(&s);
    return rc;
}

/* whether view i reads clearly more right than the first */
static int clearly_better(const icstr_view_score *s) {
    long d = s->gained - s->lost;
    return d >= ICSTR_VIEW_MIN_GAIN && (double)d >= ICSTR_VIEW_MIN_Z * sqrt((double)(s->gained + s->lost));
}

int icstr_view_choose(const icstr_view_score *s, int n) {
    int best = 0;
    for (int i = 1; i < n; i++) {
        if (!clearly_better(&s[i])) continue;
        if (!best || s[i].right > s[best].right ||
            (s[i].right == s[best].right && s[i].one_minus_ned > s[best].one_minus_ned))
            best = i;
    }
    return best;
}

int icstr_view_vote(char *const *texts, const float *confidence, int n) {
    int best = 0, best_votes = 0;
    double best_sum = 0.0;
    for (int i = 0; i < n; i++) {
        int votes = 0, first = i;
        double sum = 0.0;
        for (int j = 0; j < n; j++) {
            if (!icstr_text_same_but_spaces(texts[i], texts[j])) continue;
            if (j < first) first = j;
            votes++;
            sum += confidence[j];
        }
        if (first != i) continue; /* each side counted once, from its first reading */
        if (votes > best_votes || (votes == best_votes && sum > best_sum)) best = i, best_votes = votes, best_sum = sum;
    }
    if (best == 0) return 0;
    int keep = best;
    for (int j = best + 1; j < n; j++)
        if (icstr_text_same_but_spaces(texts[best], texts[j]) && confidence[j] > confidence[keep]) keep = j;
    return keep;
}
