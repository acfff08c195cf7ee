/* Synthetic training words: one shared read-only renderer (thread-safe by its contract), one
 * scratch crop per thread, and the curriculum: short clean words first, longer and harder renders
 * as training goes (max_words_len and difficulty ramp to full over curriculum_steps). */
#include "train_internal.h"
#include "icstr_data.h"

#include <stdlib.h>
#include <string.h>

struct icstr_train_synth {
    icstr_renderer *r;
    icstr_model_config mc;
    icstr_train_config tc;
};

int icstr_train_synth_open(const icstr_model_config *mc, const icstr_train_config *tc,
                           icstr_train_synth **out) {
    *out = NULL;
    icstr_train_synth *s = calloc(1, sizeof *s);
    if (!s) return icstr_fail(ICSTR_ERR_NOMEM, "synth");
    s->mc = *mc;
    s->tc = *tc;
    icstr_render_params p = icstr_render_default_params();
    if (tc->fonts_dir[0]) p.font_dirs = tc->fonts_dir;
    if (tc->photos_dir[0]) p.photo_dirs = tc->photos_dir;
    if (mc->max_label < p.max_len) p.max_len = mc->max_label;
    p.p_document = tc->document_fraction;
    int rc = icstr_render_create(&p, &s->r);
    if (rc) {
        free(s);
        return icstr_fail_context(rc, "synthetic renderer");
    }
    *out = s;
    return ICSTR_OK;
}

void icstr_train_synth_close(icstr_train_synth *s) {
    if (!s) return;
    icstr_render_free(s->r);
    free(s);
}

int icstr_train_crop_to_input(const icstr_render_crop *c, int x0, int x1, const icstr_model_config *mc, float *chw) {
    icstr_image whole = {c->w, c->h, c->rgb}, part;
    if (x0 == 0 && x1 == c->w) return icstr_image_to_input(&whole, mc->img_h, mc->img_w, chw); /* no copy */
    int rc = icstr_image_crop(&whole, x0, 0, x1 - x0, c->h, &part);
    if (!rc) rc = icstr_image_to_input(&part, mc->img_h, mc->img_w, chw);
    icstr_image_free(&part);
    return rc;
}

int icstr_train_sub_label(char *dst, int cap, const char *label, int from, int to) {
    while (from < to && label[from] == ' ') from++;
    while (to > from && label[to - 1] == ' ') to--;
    if (to - from <= 0 || to - from >= cap) return 0;
    memcpy(dst, label + from, (size_t)(to - from));
    dst[to - from] = 0;
    return 1;
}

int icstr_train_line_piece(const icstr_render_crop *c, icstr_rng *r, int *x0, int *x1, char *label, int cap) {
    icstr_image img = {c->w, c->h, c->rgb};
    icstr_line_split_params p = icstr_line_split_default_params();
    int xs0[ICSTR_LINE_MAX_PIECES], xs1[ICSTR_LINE_MAX_PIECES];
    int n = icstr_line_split(&img, &p, xs0, xs1, ICSTR_LINE_MAX_PIECES, NULL);
    if (n <= 1) return n < 0 ? n : 0;
    int i = (int)icstr_rng_below(r, (uint32_t)n), from = -1, to = -1;
    /* the piece's characters: the boxes whose centres it holds, each wholly inside it (a cut
     * through a glyph, an italic's overhang, leaves the piece unlabelled), in one run of the label */
    for (int b = 0; b < c->n_boxes; b++) {
        const icstr_render_box *B = &c->boxes[b];
        float cx = 0.5f * (B->x0 + B->x1);
        if (cx < (float)xs0[i] || cx >= (float)xs1[i]) continue;
        if (B->x0 < (float)xs0[i] - 1.0f || B->x1 > (float)xs1[i] + 1.0f) return 0;
        if (from < 0 || c->box_char[b] < from) from = c->box_char[b];
        if (c->box_char[b] + 1 > to) to = c->box_char[b] + 1;
    }
    if (from < 0) return 0;
    for (int b = 0; b < c->n_boxes; b++) { /* a character of the run outside the piece: no run */
        float cx = 0.5f * (c->boxes[b].x0 + c->boxes[b].x1);
        if (c->box_char[b] >= from && c->box_char[b] < to && (cx < (float)xs0[i] || cx >= (float)xs1[i])) return 0;
    }
    if (!icstr_train_sub_label(label, cap, c->label, from, to)) return 0;
    *x0 = xs0[i];
    *x1 = xs1[i];
    return 1;
}

icstr_render_opts icstr_train_synth_opts(const icstr_train_synth *s, long step) {
    icstr_render_opts o = icstr_render_default_opts(s->r);
    if (s->mc.max_label < o.max_len) o.max_len = s->mc.max_label;
    long span = s->tc.curriculum_steps;
    if (span > 0 && step < span) {
        float t = (float)step / (float)span;
        o.difficulty *= 0.3f + 0.7f * t;
        if (s->tc.max_words_len > 0) {
            int len = s->tc.max_words_len + (int)(t * (float)(o.max_len - s->tc.max_words_len));
            if (len < o.max_len) o.max_len = len;
            if (o.min_len > o.max_len) o.min_len = o.max_len;
        }
    }
    return o;
}

int icstr_train_synth_sample(icstr_train_synth *s, uint64_t sample_seed, long step, float *chw,
                             char *label, int label_cap) {
    static _Thread_local icstr_render_crop scratch, captions[2];
    icstr_render_opts o = icstr_train_synth_opts(s, step);
    int rc;
    icstr_rng fr; /* a stream of its own: without frames, the samples they always were */
    icstr_rng_seed(&fr, sample_seed ^ 0x6672616d65ULL);
    if (s->tc.frame_fraction > 0.0f && icstr_rng_uniform(&fr) < s->tc.frame_fraction) {
        icstr_train_frame f;
        icstr_train_frame_draw(&fr, &f);
        rc = icstr_render_sample_opts(s->r, sample_seed, 0, &o, &scratch);
        if (!rc) rc = icstr_train_frame_captions(s->r, o, &fr, &f, captions);
        if (!rc) rc = icstr_train_frame_input(&scratch, captions, &f, &s->mc, chw);
    } else {
        rc = icstr_render_sample_opts(s->r, sample_seed, 0, &o, &scratch);
        /* a long line, some of the time, as one of the pieces the reader cuts it into (its own
         * random stream: without pieces, the samples they always were) */
        if (!rc && s->tc.line_piece_fraction > 0.0f) {
            icstr_rng pr;
            icstr_rng_seed(&pr, sample_seed ^ 0x7069656365ULL);
            int x0, x1, piece = 0;
            if (icstr_rng_uniform(&pr) < s->tc.line_piece_fraction)
                piece = icstr_train_line_piece(&scratch, &pr, &x0, &x1, label, label_cap);
            if (piece != 0) return piece < 0 ? piece : icstr_train_crop_to_input(&scratch, x0, x1, &s->mc, chw);
        }
        if (!rc) rc = icstr_train_crop_to_input(&scratch, 0, scratch.w, &s->mc, chw);
    }
    if (rc) return rc;
    size_t n = strlen(scratch.label);
    if (n + 1 > (size_t)label_cap) return icstr_fail(ICSTR_ERR_RANGE, "rendered label too long");
    memcpy(label, scratch.label, n + 1);
    return ICSTR_OK;
}

const icstr_renderer *icstr_train_synth_renderer(const icstr_train_synth *s) { return s->r; }
