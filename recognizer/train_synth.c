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
        rc = icstr_render_to_input(s->r, sample_seed, 0, &o, s->mc.img_h, s->mc.img_w, chw, &scratch);
    }
    if (rc) return rc;
    size_t n = strlen(scratch.label);
    if (n + 1 > (size_t)label_cap) return icstr_fail(ICSTR_ERR_RANGE, "rendered label too long");
    memcpy(label, scratch.label, n + 1);
    return ICSTR_OK;
}

const icstr_renderer *icstr_train_synth_renderer(const icstr_train_synth *s) { return s->r; }
