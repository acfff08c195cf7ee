/* Pieces of the synthetic word renderer shared between its files (not public): the font set
 * (fonts.c), the text sources (words.c), the photo set (render_photos.c) and the pixel effects
 * (render_effects.c). */
#ifndef ICSTR_RENDER_INTERNAL_H
#define ICSTR_RENDER_INTERNAL_H

#include "icstr_core.h"
#include "render.h"

#include <stb_truetype.h>
#include <stddef.h>
#include <stdint.h>

#define RENDER_NCHARS 95 /* printable ASCII 32..126 */

/* ---- fonts (fonts.c) ---- */
typedef struct {
    char *path;
    int face_index; /* face inside a .ttc collection */
    stbtt_fontinfo info; /* points into the mapped file */
    int glyph[RENDER_NCHARS]; /* glyph index per char; 0 = missing or unusable */
    float unit; /* font units -> nominal units where ascent - descent = 1 */
    float ascent; /* nominal units above the baseline */
    float space_adv; /* advance of ' ' in nominal units */
    int caps_only; /* lowercase letters draw as capitals: labels get upper-cased */
    int mono; /* fixed pitch: i, m, W and 0 advance alike (typewriter and receipt faces) */
    int group; /* index of the folder the file lies in */
    float boldness; /* ink share of the glyph boxes of a M 0 H (regular ~0.33) */
    double weight; /* sampling weight (folders share weight, see fonts.c) */
} icstr_face;

typedef struct {
    icstr_face *faces;
    int n;
    double *cum; /* (n) cumulative weights, cum[n-1] = total */
    int *mono_ids; /* (n_mono) the fixed-pitch faces */
    int n_mono;
    void **maps; /* mmap'd font files */
    size_t *map_len;
    int n_maps;
} icstr_fontset;

int icstr_fontset_load(const char *dirs, const char *list_file, int max_fonts, icstr_fontset **out);
void icstr_fontset_free(icstr_fontset *fs);
int icstr_fontset_pick(const icstr_fontset *fs, icstr_rng *rng);
/* A fixed-pitch face, all alike (icstr_fontset_pick when the set has none). */
int icstr_fontset_pick_mono(const icstr_fontset *fs, icstr_rng *rng);
/* 1 if face f can draw every character of s. */
int icstr_face_covers(const icstr_face *f, const char *s);

/* ---- text sources (words.c) ---- */
typedef struct icstr_words icstr_words;

enum {
    WORDS_CASE_ANY = -1,
    WORDS_CASE_LOWER = 0,
    WORDS_CASE_UPPER,
    WORDS_CASE_TITLE,
    WORDS_CASE_MIXED,
    WORDS_NCASES
};
enum {
    WORDS_KIND_ANY = -1,
    WORDS_KIND_WORD = 0,
    WORDS_KIND_PUNCT,
    WORDS_KIND_COMPOUND,
    WORDS_KIND_NUMBER,
    WORDS_KIND_DATETIME,
    WORDS_KIND_CODE,
    WORDS_KIND_CONTACT,
    WORDS_KIND_ALNUM,
    WORDS_KIND_RANDOM,
    WORDS_KIND_PHRASE,
    WORDS_NKINDS
};

int icstr_words_load(const char *paths, icstr_words **out);
void icstr_words_free(icstr_words *w);
long icstr_words_count(const icstr_words *w);
int icstr_words_pick_kind(icstr_rng *rng);
int icstr_words_pick_case(icstr_rng *rng, float p_upper);
/* Writes a text of min_len..max_len printable ASCII chars (no leading/trailing/double spaces) to
 * out (cap >= max_len + 1). kind/case may be *_ANY (drawn per call). */
void icstr_words_generate(const icstr_words *w, icstr_rng *rng, int kind, int casemode, float p_upper,
                          int min_len, int max_len, char *out);

/* ---- photos (render_photos.c) ---- */
typedef struct {
    int w, h;
    unsigned char *rgb;
} icstr_photo;

typedef struct {
    icstr_photo *photos;
    int n;
} icstr_photoset;

int icstr_photoset_load(const char *dirs, int max_photos, int max_side, icstr_photoset **out);
void icstr_photoset_free(icstr_photoset *ps);

/* ---- pixel effects (render_effects.c); rgb images are (h, w, 3) ---- */
/* Separable gaussian blur in place; tmp holds w*h*3 floats. */
void render_gaussian_blur(unsigned char *rgb, int w, int h, float sigma, float *tmp);
/* Linear motion blur of length len px at angle ang (radians); tmp holds w*h*3 bytes. */
void render_motion_blur(unsigned char *rgb, int w, int h, float len, float ang, unsigned char *tmp);
/* Bilinear resize of an RGB image (align_corners = false), area average when shrinking by > 2. */
void render_resize_rgb(const unsigned char *src, int sw, int sh, unsigned char *dst, int dw, int dh);
/* Down to (dw, dh) and back up, in place; tmp holds dw*dh*3 bytes. */
void render_lowres(unsigned char *rgb, int w, int h, int dw, int dh, unsigned char *tmp);
/* JPEG encode at quality q and decode back, in place. Returns 0 or a status (left untouched). */
int render_jpeg_roundtrip(unsigned char *rgb, int w, int h, int quality);
/* Grey dilation of a mask by a disc of radius rad px; dst and src differ. */
void render_dilate(unsigned char *dst, const unsigned char *src, int w, int h, float rad);
/* Box blur of a mask (radius r px, 2 passes ~ gaussian) in place; tmp holds w*h bytes. */
void render_mask_blur(unsigned char *m, int w, int h, int r, unsigned char *tmp);

/* 64-bit mixing of several words into one seed (splitmix64 finaliser). */
uint64_t render_mix(uint64_t a, uint64_t b, uint64_t c);

/* ---- the renderer (render.c) and its pieces (render_style.c, render_geom.c, render_bg.c,
 * render_crop.c) ---- */
#define PI_F 3.14159265f

struct icstr_renderer {
    icstr_render_params p;
    icstr_fontset *fonts;
    icstr_words *words;
    icstr_photoset *photos;
};

/* ---- small helpers ---- */

static inline float uni(icstr_rng *r, float lo, float hi) { return icstr_rng_range(r, lo, hi); }
static inline int chance(icstr_rng *r, float p) { return icstr_rng_uniform(r) < p; }
static inline float clampf(float v, float lo, float hi) { return v < lo ? lo : v > hi ? hi : v; }
static inline float lum(const float c[3]) { return (0.299f * c[0] + 0.587f * c[1] + 0.114f * c[2]) / 255.0f; }

static inline void jitter_colour(icstr_rng *r, const float in[3], float amt, float out[3]) {
    for (int k = 0; k < 3; k++) out[k] = clampf(in[k] + uni(r, -amt, amt), 0, 255);
}

/* ---- style: everything an episode's crops share ---- */

enum { BG_FLAT, BG_GRADIENT, BG_NOISE, BG_PHOTO, BG_STRIPES };

typedef struct {
    int font, kind, casemode;
    float height; /* output height, px */
    float tracking; /* extra advance, nominal units */
    float stretch, shear, rot, yaw, pitch, corner_jit, curve;
    float margin_lo, margin_hi, vmargin_lo, vmargin_hi;
    float text[3], bg1[3], bg2[3], plate[3], outline[3], shadow[3], border[3];
    float min_contrast, text_grad;
    int bg_type, photo;
    float photo_var, photo_zoom, photo_blur, noise_cell;
    int has_plate, has_border, has_outline, has_shadow;
    float plate_pad[4], plate_round, border_w;
    float outline_w, shadow_dx, shadow_dy, shadow_blur, shadow_alpha;
    float blur, motion_len, motion_ang, noise, lowres, light_amp, light_ang, gain[3];
    int jpeg_q, mono_noise;
    float tone_lo, tone_hi, desat; /* camera tone: output range and loss of saturation */
    float exposure; /* brightness gain before the tone curve */
    float bold; /* fake bold: text mask dilation, nominal units */
    float binarize; /* a thresholded scan (a receipt printer's black dots): after the resolution loss each
                       pixel becomes ink or paper, cut this share of the way from paper to ink; 0: off */
    float p_neighbor; /* chance per side that a crop shows a bit of the next text */
} render_style;

/* The style of an episode, from its own random stream. */
void render_sample_style(const icstr_renderer *R, icstr_rng *r, const icstr_render_opts *o, render_style *s);

/* ---- layout ---- */

typedef struct {
    int n; /* characters in text */
    float pen[ICSTR_RENDER_MAX_LEN];
    int glyph[ICSTR_RENDER_MAX_LEN]; /* 0 for spaces */
    float ix0[ICSTR_RENDER_MAX_LEN], ix1[ICSTR_RENDER_MAX_LEN]; /* ink extent, nominal */
    float X0, X1, Y0, Y1; /* the word's ink box (y down, 0 = top of 'H') */
} render_layout;

void render_layout_text(const icstr_face *f, const char *text, float tracking, render_layout *L);

/* ---- geometry ---- */

typedef struct {
    double h[9], hi[9]; /* homography and its inverse (row-major, h[8] = 1) */
    double curve, cx, ha; /* C: y += curve * ((x - cx) / ha)^2 */
} render_warp;

void render_mat3_mul(const double a[9], const double b[9], double o[9]);
void render_warp_fwd(const render_warp *w, double x, double y, double *u, double *v);
/* The warp of a word whose nominal line box is [X0, X1] x [0, 1]; d_jit scales per-crop jitter. */
void render_warp_build(const render_style *s, icstr_rng *r, float d_jit, float X0, float X1, render_warp *w);
/* Bounding box of a nominal rectangle after the warp, edges sampled steps times. */
void render_warp_rect_bbox(const render_warp *w, double x0, double y0, double x1, double y1, int steps,
                           double bb[4]);

/* backgrounds, in output pixels */
void render_fill_flat(unsigned char *rgb, int n, const float c[3]);
void render_fill_gradient(unsigned char *rgb, int w, int h, const float c1[3], const float c2[3], float ang);
int render_fill_noise(unsigned char *rgb, int w, int h, const float c1[3], const float c2[3], float cell,
                      icstr_rng *r);
void render_fill_stripes(unsigned char *rgb, int w, int h, const float c1[3], const float c2[3], float period,
                         float ang);
int render_fill_photo(unsigned char *rgb, int w, int h, const icstr_photo *ph, float zoom, float var,
                      icstr_rng *r);
void render_mean_colour(const unsigned char *rgb, int w, int h, int x0, int y0, int x1, int y1, float out[3]);

/* Renders text in style s into out (label, pixels, boxes); r is the crop's own stream. */
int render_one_crop(const icstr_renderer *R, const render_style *s, icstr_rng *r, float d, const char *text,
                    icstr_render_crop *out);

#endif
