/* The renderer's styles: everything the crops of one episode share (font, text kind and case,
 * size, colours, background, plate, outline, shadow, geometry, camera effects), drawn from the
 * episode's random stream. Probabilities come from the params and scale with difficulty; the
 * amounts are tuned by looking at contact sheets beside real ICDAR 2015 crops. */
#include "icstr_data.h"
#include "render_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void hsv_to_rgb(float h, float s, float v, float out[3]) {
    h = fmodf(h, 1.0f) * 6.0f;
    int i = (int)h;
    float f = h - (float)i, p = v * (1 - s), q = v * (1 - s * f), t = v * (1 - s * (1 - f));
    float r, g, b;
    switch (i) {
    case 0:
        r = v;
        g = t;
        b = p;
        break;
    case 1:
        r = q;
        g = v;
        b = p;
        break;
    case 2:
        r = p;
        g = v;
        b = t;
        break;
    case 3:
        r = p;
        g = q;
        b = v;
        break;
    case 4:
        r = t;
        g = p;
        b = v;
        break;
    default:
        r = v;
        g = p;
        b = q;
        break;
    }
    out[0] = 255 * r;
    out[1] = 255 * g;
    out[2] = 255 * b;
}

static void random_colour(icstr_rng *r, float out[3]) {
    float u = icstr_rng_uniform(r);
    if (u < 0.3f) { /* greys, from black to white */
        float v = uni(r, 0, 255);
        out[0] = out[1] = out[2] = v;
        for (int k = 0; k < 3; k++) out[k] = clampf(out[k] + uni(r, -8, 8), 0, 255);
    } else {
        float s = icstr_rng_uniform(r);
        hsv_to_rgb(icstr_rng_uniform(r), s * s * 0.9f + 0.1f * (u > 0.7f), uni(r, 0.05f, 1.0f), out);
    }
}

/* A colour at least min_c away in luminance from ref. */
static void contrasting_colour(icstr_rng *r, const float ref[3], float min_c, float out[3]) {
    float yr = lum(ref);
    for (int t = 0; t < 24; t++) {
        random_colour(r, out);
        if (fabsf(lum(out) - yr) >= min_c) return;
    }
    float v = yr > 0.5f ? uni(r, 0, 40) : uni(r, 215, 255);
    out[0] = out[1] = out[2] = v;
}

/* Text/background pairs common on signs (text first). */
static const unsigned char sign_pairs[][6] = {
    {255, 255, 255, 200, 30, 35}, {255, 255, 255, 25, 60, 160},  {255, 255, 255, 0, 105, 60},
    {255, 255, 255, 20, 20, 20},  {20, 20, 20, 245, 245, 245},   {15, 15, 15, 250, 205, 0},
    {250, 210, 20, 20, 20, 20},   {200, 20, 25, 245, 245, 240},  {20, 50, 150, 245, 245, 245},
    {255, 255, 255, 100, 60, 30}, {20, 20, 20, 240, 130, 25},    {255, 255, 255, 235, 120, 20},
    {60, 60, 60, 215, 215, 210},  {255, 255, 255, 70, 70, 75},   {0, 110, 50, 250, 250, 250},
    {215, 175, 70, 30, 30, 30},   {255, 255, 255, 110, 40, 120}, {200, 20, 25, 250, 215, 0},
    {255, 255, 255, 0, 140, 200}, {30, 30, 30, 180, 200, 215},   {255, 240, 200, 130, 20, 20},
};
#define N_SIGN_PAIRS ((int)(sizeof sign_pairs / sizeof *sign_pairs))

/* What printed documents say: item lines (phrases), words, amounts, codes, dates. */
static int document_kind(icstr_rng *r) {
    static const struct {
        int kind;
        float weight;
    } mix[] = {{WORDS_KIND_PHRASE, 0.3f}, {WORDS_KIND_WORD, 0.25f},    {WORDS_KIND_NUMBER, 0.2f},
               {WORDS_KIND_CODE, 0.08f},  {WORDS_KIND_ALNUM, 0.07f},   {WORDS_KIND_DATETIME, 0.05f},
               {WORDS_KIND_CONTACT, 0.03f}, {WORDS_KIND_PUNCT, 0.02f}};
    float u = icstr_rng_uniform(r);
    for (size_t k = 0; k < sizeof mix / sizeof *mix; k++)
        if ((u -= mix[k].weight) < 0) return mix[k].kind;
    return WORDS_KIND_WORD;
}

/* A printed document (a receipt, a form) scanned flat: dark ink on light paper, tight crops of
 * small type, ink sometimes faded (thermal paper), the scan's blur, noise and JPEG artefacts.
 * Difficulty scales the degradations only. */
static void document_style(const icstr_renderer *R, icstr_rng *r, float d, render_style *s) {
    s->font = chance(r, 0.5f) ? icstr_fontset_pick_mono(R->fonts, r) : icstr_fontset_pick(R->fonts, r);
    s->kind = chance(r, 0.7f) ? document_kind(r) : WORDS_KIND_ANY;
    s->casemode = chance(r, 0.5f) ? WORDS_CASE_UPPER : WORDS_CASE_ANY;
    s->height = uni(r, 10.0f, 24.0f);
    s->tracking = chance(r, 0.3f) ? uni(r, 0.0f, 0.2f) : 0.0f;
    s->stretch = clampf(expf(0.2f * icstr_rng_normal(r)), 0.6f, 1.3f); /* condensed faces too */
    s->rot = 0.6f * d * icstr_rng_normal(r) * PI_F / 180.0f;
    s->margin_lo = -0.02f;
    s->margin_hi = 0.15f;
    s->vmargin_lo = 0.0f;
    s->vmargin_hi = 0.2f;
    float ink = chance(r, 0.3f) ? uni(r, 60, 130) : uni(r, 0, 60), paper = uni(r, 210, 255);
    float paper2 = clampf(paper + uni(r, -15, 15), 0, 255); /* a scan is grey: no tint */
    for (int k = 0; k < 3; k++) {
        s->text[k] = ink;
        s->bg1[k] = paper;
        s->bg2[k] = paper2;
    }
    s->min_contrast = lum(s->bg1) - lum(s->text);
    float u = icstr_rng_uniform(r);
    s->bg_type = u < 0.6f ? BG_FLAT : u < 0.8f ? BG_GRADIENT : BG_NOISE;
    s->noise_cell = uni(r, 2, 6);
    if (chance(r, 0.4f * d)) s->blur = uni(r, 0.2f, 0.6f);
    if (chance(r, 0.5f * d)) {
        s->noise = uni(r, 2, 8) * d;
        s->mono_noise = 1;
    }
    if (chance(r, 0.3f * d)) s->jpeg_q = (int)uni(r, 40, 90);
    if (chance(r, 0.7f * d)) s->lowres = s->height * uni(r, 0.45f, 0.85f);
    for (int k = 0; k < 3; k++) s->gain[k] = 1.0f;
    s->tone_lo = 0;
    s->tone_hi = 255;
    s->exposure = 1;
    s->desat = 1; /* a grey scan, whatever the per-crop colour jitter */
    if (chance(r, 0.3f)) s->bold = uni(r, 0.01f, 0.04f);
    if (chance(r, 0.3f * d)) s->p_neighbor = uni(r, 0.1f, 0.4f);
    /* half the scans thresholded to black and white (SROIE's receipts): jagged edges, broken thin
     * strokes, no grey; the resolution loss before the threshold is what makes the jags */
    if (chance(r, 0.5f)) {
        s->binarize = uni(r, 0.25f, 0.5f);
        float ink_v = uni(r, 0, 40);
        for (int k = 0; k < 3; k++) {
            s->text[k] = ink_v;
            s->bg1[k] = s->bg2[k] = 255;
        }
        s->min_contrast = lum(s->bg1) - lum(s->text);
        s->bg_type = BG_FLAT;
        s->lowres = s->height >= 14.0f && chance(r, 0.6f) ? s->height * uni(r, 0.65f, 0.95f) : 0.0f;
        if (chance(r, 0.5f)) s->blur = 0.0f;
        if (s->jpeg_q > 0 && chance(r, 0.5f)) s->jpeg_q = 0;
    }
}

void render_sample_style(const icstr_renderer *R, icstr_rng *r, const icstr_render_opts *o, render_style *s) {
    const icstr_render_params *P = &R->p;
    float d = clampf(o->difficulty, 0, 1);
    memset(s, 0, sizeof *s);
    if (P->p_document > 0 && chance(r, P->p_document)) { /* no draw at all when off: the streams stay */
        document_style(R, r, d, s);
        return;
    }
    s->font = icstr_fontset_pick(R->fonts, r);
    /* a domain often repeats one kind of text (plates, prices) and one casing */
    s->kind = chance(r, 0.35f) ? icstr_words_pick_kind(r) : WORDS_KIND_ANY;
    s->casemode = chance(r, 0.6f) ? icstr_words_pick_case(r, P->p_upper) : WORDS_CASE_ANY;
    float lo = (float)P->min_height, hi = (float)P->max_height;
    s->height = expf(uni(r, logf(lo), logf(hi + 1)));
    s->tracking = chance(r, 0.25f) ? uni(r, -0.04f, 0.35f) : 0.0f;
    /* geometry */
    s->stretch = clampf(expf(0.15f * d * icstr_rng_normal(r)), 0.7f, 1.4f);
    s->shear = chance(r, 0.25f * d) ? uni(r, -0.3f, 0.3f) : 0.0f;
    if (chance(r, P->p_rotate * d))
        s->rot = (chance(r, 0.2f) ? uni(r, -25, 25) : 4.0f * icstr_rng_normal(r)) * d * PI_F / 180.0f;
    if (chance(r, P->p_perspective * d)) {
        /* keystone per font height of text: a long word seen at an angle shrinks more end to end */
        s->yaw = uni(r, -0.045f, 0.045f) * d;
        s->pitch = uni(r, -0.12f, 0.12f) * d;
        s->corner_jit = 0.03f * d;
    }
    if (chance(r, P->p_curve * d)) s->curve = (chance(r, 0.5f) ? 1.0f : -1.0f) * uni(r, 0.15f, 0.8f) * d;
    /* margins around the word, in font heights: detector crops run from tight to loose */
    float u = icstr_rng_uniform(r);
    if (u < 0.45f) {
        s->margin_lo = -0.04f * d;
        s->margin_hi = 0.12f;
    } else if (u < 0.85f) {
        s->margin_lo = 0.05f;
        s->margin_hi = 0.35f;
    } else {
        s->margin_lo = 0.2f;
        s->margin_hi = 0.8f;
    }
    s->vmargin_lo = u < 0.45f ? -0.02f * d : 0.04f;
    s->vmargin_hi = u < 0.45f ? 0.15f : u < 0.85f ? 0.3f : 0.6f;
    /* colours */
    s->min_contrast = chance(r, 0.15f * d) ? uni(r, 0.18f, 0.3f) : uni(r, 0.3f, 0.75f);
    if (chance(r, 0.45f)) {
        const unsigned char *c = sign_pairs[icstr_rng_below(r, N_SIGN_PAIRS)];
        int swap = chance(r, 0.2f);
        for (int k = 0; k < 3; k++) {
            s->text[k] = c[k + (swap ? 3 : 0)];
            s->bg1[k] = c[k + (swap ? 0 : 3)];
        }
        jitter_colour(r, s->text, 20, s->text);
        jitter_colour(r, s->bg1, 25, s->bg1);
    } else {
        random_colour(r, s->bg1);
        contrasting_colour(r, s->bg1, s->min_contrast, s->text);
    }
    jitter_colour(r, s->bg1, 60, s->bg2);
    if (chance(r, 0.3f)) s->text_grad = uni(r, -0.25f, 0.25f);
    /* background */
    int have_photos = R->photos && R->photos->n > 0;
    float pp = have_photos ? P->p_photo * d : 0;
    u = icstr_rng_uniform(r);
    if (u < pp)
        s->bg_type = BG_PHOTO;
    else {
        u = icstr_rng_uniform(r);
        s->bg_type = u < 0.4f ? BG_FLAT : u < 0.7f ? BG_GRADIENT : u < 0.95f ? BG_NOISE : BG_STRIPES;
        if (d < 0.3f && s->bg_type != BG_FLAT) s->bg_type = BG_GRADIENT;
    }
    if (have_photos) s->photo = (int)icstr_rng_below(r, (uint32_t)R->photos->n);
    s->photo_var = uni(r, 0.25f, 0.85f);
    s->photo_blur = chance(r, 0.5f) ? uni(r, 0.5f, 1.5f) : 0;
    s->photo_zoom = uni(r, 0.1f, 0.7f); /* zoomed in: texture and light, rarely a readable word */
    s->noise_cell = uni(r, 3, 24);
    /* sign plate and text effects */
    if (chance(r, P->p_plate * d)) {
        s->has_plate = 1;
        memcpy(s->plate, s->bg1, sizeof s->plate);
        s->plate_pad[0] = uni(r, 0.08f, 0.6f);
        s->plate_pad[1] = uni(r, 0.08f, 0.6f);
        s->plate_pad[2] = uni(r, 0.05f, 0.4f);
        s->plate_pad[3] = uni(r, 0.05f, 0.4f);
        s->plate_round = chance(r, 0.5f) ? uni(r, 0, 0.3f) : 0;
        if (chance(r, 0.3f)) {
            s->has_border = 1;
            s->border_w = uni(r, 0.03f, 0.1f);
            if (chance(r, 0.6f))
                memcpy(s->border, s->text, sizeof s->border);
            else
                random_colour(r, s->border);
        }
        random_colour(r, s->bg1); /* the surroundings */
        jitter_colour(r, s->bg1, 60, s->bg2);
    }
    if (chance(r, P->p_outline * d)) {
        s->has_outline = 1;
        s->outline_w = uni(r, 0.03f, 0.12f);
        const float *bgref = s->has_plate ? s->plate : s->bg1;
        if (chance(r, 0.5f))
            memcpy(s->outline, bgref, sizeof s->outline);
        else
            contrasting_colour(r, s->text, 0.3f, s->outline);
    }
    if (lum(s->text) > lum(s->has_plate ? s->plate : s->bg1) + 0.2f && chance(r, 0.12f * d)) {
        /* lit letters at night: a halo of the text's own colour */
        s->has_shadow = 1;
        s->shadow_blur = uni(r, 0.06f, 0.2f);
        s->shadow_alpha = uni(r, 0.5f, 0.9f);
        for (int k = 0; k < 3; k++) s->shadow[k] = clampf(s->text[k] * uni(r, 0.7f, 1.0f), 0, 255);
    } else if (chance(r, P->p_shadow * d)) {
        s->has_shadow = 1;
        s->shadow_dx = uni(r, -0.04f, 0.1f);
        s->shadow_dy = uni(r, 0.0f, 0.1f);
        s->shadow_blur = chance(r, 0.5f) ? uni(r, 0, 0.1f) : 0;
        s->shadow_alpha = uni(r, 0.4f, 1.0f);
        float v = lum(s->text) > 0.5f ? uni(r, 0, 60) : uni(r, 180, 255);
        s->shadow[0] = s->shadow[1] = s->shadow[2] = v;
    }
    /* camera */
    if (chance(r, P->p_blur * d)) s->blur = uni(r, 0.3f, 1.5f) * (0.5f + 0.5f * d);
    if (chance(r, P->p_motion_blur * d)) {
        s->motion_len = uni(r, 2, 6);
        s->motion_ang = uni(r, 0, PI_F);
    }
    if (chance(r, P->p_noise * d)) {
        s->noise = uni(r, 2, 10) * d;
        s->mono_noise = chance(r, 0.6f);
    }
    if (chance(r, P->p_jpeg * d)) { /* mostly mild: cameras compress the whole frame, not the crop */
        float u2 = icstr_rng_uniform(r);
        s->jpeg_q = (int)(92 - 62 * u2 * u2);
    }
    /* low resolution: the crop is taken down to a text height a far camera gives, then back up */
    if (chance(r, P->p_lowres * d)) s->lowres = uni(r, 11.0f, 26.0f);
    if (chance(r, 0.4f * d)) {
        s->light_amp = uni(r, 0.05f, 0.4f);
        s->light_ang = uni(r, 0, 2 * PI_F);
    }
    for (int k = 0; k < 3; k++) s->gain[k] = chance(r, 0.3f * d) ? uni(r, 0.88f, 1.12f) : 1.0f;
    /* photographs rarely hold pure black, pure white or full saturation */
    s->tone_lo = 0;
    s->tone_hi = 255;
    if (chance(r, 0.75f * d)) {
        s->tone_lo = uni(r, 0, 60);
        s->tone_hi = uni(r, 175, 255);
    }
    if (chance(r, 0.55f * d)) s->desat = uni(r, 0.2f, 0.8f);
    /* exposure: dim evening and indoor shots, now and then a washed-out one */
    s->exposure = 1;
    float ue = icstr_rng_uniform(r);
    if (ue < 0.3f * d)
        s->exposure = uni(r, 0.35f, 0.8f);
    else if (ue < 0.37f * d)
        s->exposure = uni(r, 1.15f, 1.45f);
    s->tone_hi *= fminf(1.0f, s->exposure);
    /* what survives the tone curve must still read: at least 0.12 of luminance between text and
     * background */
    float tk = (s->tone_hi - s->tone_lo) / 255.0f;
    if (s->min_contrast * tk < 0.12f) {
        float need = 0.12f / s->min_contrast * 255.0f, mid = 0.5f * (s->tone_lo + s->tone_hi);
        s->tone_lo = fmaxf(0, mid - 0.5f * need);
        s->tone_hi = fminf(255, s->tone_lo + need);
    }
    if (chance(r, 0.15f)) s->bold = uni(r, 0.015f, 0.05f);
    if (chance(r, 0.4f * d)) s->p_neighbor = uni(r, 0.1f, 0.5f);
    /* the degradations add up: keep the sum of blurs readable, and lower still at low contrast */
    float lr = s->lowres > 0 ? 0.45f * fmaxf(1.0f, s->height / s->lowres) : 0, mb = s->motion_len / 3.0f;
    float eff = sqrtf(s->blur * s->blur + lr * lr + mb * mb);
    float cap = s->min_contrast * (s->tone_hi - s->tone_lo) / 255.0f < 0.25f ? 1.0f : 1.6f;
    if (eff > cap) {
        float k = cap / eff;
        s->blur *= k;
        s->motion_len *= k;
        if (s->lowres > 0) s->lowres = fmaxf(s->lowres, s->height * 0.45f / (lr * k));
    }
}
