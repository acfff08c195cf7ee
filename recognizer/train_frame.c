/* Framed words for training: a rendered word with small captions above and/or below it and blank
 * margins at its sides, labelled with the word alone, as a licence plate carries its state's
 * name and a slogan around its number, or a sign a line of small print. Used by the plain
 * synthetic samples (train.frame_fraction) and by the caption episodes of train_context.c,
 * where every crop of an episode shares one frame, so only the prompts say it is not read. */
#include "train_internal.h"

#include <math.h>
#include <string.h>

/* The mean colour of the word's rows that the captions touch (both edge rows without captions). */
static void frame_background(const icstr_render_crop *word, const icstr_train_frame *f, unsigned char bg[3]) {
    unsigned long sum[3] = {0, 0, 0}, n = 0;
    int top = f->scale[0] > 0.0f, bottom = f->scale[1] > 0.0f;
    if (!top && !bottom) top = bottom = 1;
    for (int side = 0; side < 2; side++) {
        if (!(side ? bottom : top)) continue;
        const unsigned char *row = word->rgb + (side ? (size_t)(word->h - 1) * word->w * 3 : 0);
        for (int x = 0; x < word->w; x++, n++)
            for (int c = 0; c < 3; c++) sum[c] += row[x * 3 + c];
    }
    for (int c = 0; c < 3; c++) bg[c] = (unsigned char)(sum[c] / n);
}

int icstr_train_frame_compose(const icstr_render_crop *word, const icstr_render_crop *const captions[2],
                              const icstr_train_frame *f, icstr_image *out) {
    int mx = (int)lroundf((f->margin > 0.0f ? f->margin : 0.0f) * (float)word->w), W = word->w + 2 * mx;
    icstr_image small[2] = {{0, 0, NULL}, {0, 0, NULL}};
    int ch[2] = {0, 0}, cw[2] = {0, 0}, rc = ICSTR_OK;
    for (int side = 0; side < 2 && !rc; side++) {
        const icstr_render_crop *cap = captions[side];
        if (f->scale[side] <= 0.0f || !cap) continue;
        ch[side] = (int)lroundf(f->scale[side] * (float)word->h);
        if (ch[side] < 4) ch[side] = 4;
        cw[side] = (int)lroundf((float)cap->w * (float)ch[side] / (float)cap->h);
        if (cw[side] > W) { /* narrowed to the frame's width */
            cw[side] = W;
            ch[side] = (int)lroundf((float)cap->h * (float)W / (float)cap->w);
            if (ch[side] < 4) ch[side] = 4;
        }
        if (cw[side] < 1) cw[side] = 1;
        icstr_image src = {cap->w, cap->h, cap->rgb};
        rc = icstr_image_resize(&src, cw[side], ch[side], &small[side]);
    }
    unsigned char bg[3];
    frame_background(word, f, bg);
    if (!rc) rc = icstr_image_alloc(W, ch[0] + word->h + ch[1], bg, out);
    if (!rc) {
        for (int y = 0; y < word->h; y++)
            memcpy(out->rgb + ((size_t)(ch[0] + y) * W + mx) * 3, word->rgb + (size_t)y * word->w * 3, (size_t)word->w * 3);
        for (int side = 0; side < 2; side++) {
            if (!small[side].rgb) continue;
            float shift = f->shift[side] < 0.0f ? 0.0f : f->shift[side] > 1.0f ? 1.0f : f->shift[side];
            int cx = (int)lroundf(shift * (float)(W - cw[side])), cy = side ? ch[0] + word->h : 0;
            for (int y = 0; y < ch[side]; y++)
                memcpy(out->rgb + ((size_t)(cy + y) * W + cx) * 3, small[side].rgb + (size_t)y * cw[side] * 3,
                       (size_t)cw[side] * 3);
        }
    }
    icstr_image_free(&small[0]);
    icstr_image_free(&small[1]);
    return rc;
}

void icstr_train_frame_draw(icstr_rng *r, icstr_train_frame *f) {
    memset(f, 0, sizeof *f);
    int top = icstr_rng_uniform(r) < 0.8f, bottom = icstr_rng_uniform(r) < 0.5f;
    if (!top && !bottom) top = 1;
    if (top) f->scale[0] = icstr_rng_range(r, 0.2f, 0.55f);
    if (bottom) f->scale[1] = icstr_rng_range(r, 0.15f, 0.45f);
    for (int side = 0; side < 2; side++) f->shift[side] = icstr_rng_uniform(r) < 0.4f ? 0.5f : icstr_rng_uniform(r);
    if (icstr_rng_uniform(r) < 0.5f) f->margin = icstr_rng_range(r, 0.02f, 0.15f);
}

void icstr_train_frame_jitter(const icstr_train_frame *f, icstr_rng *r, icstr_train_frame *out) {
    *out = *f;
    for (int side = 0; side < 2; side++) {
        out->scale[side] *= icstr_rng_range(r, 0.9f, 1.1f);
        out->shift[side] += icstr_rng_range(r, -0.1f, 0.1f);
    }
    out->margin *= icstr_rng_range(r, 0.8f, 1.2f);
}

int icstr_train_frame_captions(const icstr_renderer *rr, icstr_render_opts o, icstr_rng *r, const icstr_train_frame *f,
                               icstr_render_crop captions[2]) {
    o.min_len = 3;
    o.max_len = 14 < o.max_len ? 14 : o.max_len;
    if (o.min_len > o.max_len) o.min_len = o.max_len;
    o.pattern = NULL;
    o.twin = ICSTR_TWIN_NONE;
    for (int side = 0; side < 2; side++) {
        if (f->scale[side] <= 0.0f) continue;
        int rc = icstr_render_sample_opts(rr, icstr_rng_u64(r), 0, &o, &captions[side]);
        if (rc) return rc;
    }
    return ICSTR_OK;
}

int icstr_train_frame_input(const icstr_render_crop *word, const icstr_render_crop captions[2], const icstr_train_frame *f,
                            const icstr_model_config *mc, float *chw) {
    const icstr_render_crop *caps[2] = {&captions[0], &captions[1]};
    icstr_image composed = {0, 0, NULL};
    int rc = icstr_train_frame_compose(word, caps, f, &composed);
    if (!rc) rc = icstr_image_to_input(&composed, mc->img_h, mc->img_w, chw);
    icstr_image_free(&composed);
    return rc;
}
