/* One crop: neighbouring-text slivers, the crop window and output size, the glyphs rasterised
 * into a canvas at the resolution the output needs, outline/shadow/bold masks, the background and
 * its contrast check, compositing (every output pixel mapped back through the warp into the
 * canvas), the camera effects, and the character boxes. */
#include "icstr_data.h"
#include "render_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_CANVAS_PIXELS (4 * 1024 * 1024)

/* ---- masks ---- */

static inline float sample_mask(const unsigned char *m, int w, int h, float x, float y) {
    float fx = floorf(x), fy = floorf(y);
    int x0 = (int)fx, y0 = (int)fy;
    if (x0 < -1 || y0 < -1 || x0 >= w || y0 >= h) return 0;
    float tx = x - fx, ty = y - fy;
    float v00 = 0, v01 = 0, v10 = 0, v11 = 0;
    if (y0 >= 0) {
        const unsigned char *row = m + (size_t)y0 * w;
        if (x0 >= 0) v00 = row[x0];
        if (x0 + 1 < w) v01 = row[x0 + 1];
    }
    if (y0 + 1 < h) {
        const unsigned char *row = m + (size_t)(y0 + 1) * w;
        if (x0 >= 0) v10 = row[x0];
        if (x0 + 1 < w) v11 = row[x0 + 1];
    }
    return ((v00 * (1 - tx) + v01 * tx) * (1 - ty) + (v10 * (1 - tx) + v11 * tx) * ty) * (1.0f / 255.0f);
}

/* Signed distance to a rounded rectangle (negative inside). */
static inline float rrect_sdf(float x, float y, const float rect[4], float rad) {
    float cx = 0.5f * (rect[0] + rect[2]), cy = 0.5f * (rect[1] + rect[3]);
    float hx = 0.5f * (rect[2] - rect[0]) - rad, hy = 0.5f * (rect[3] - rect[1]) - rad;
    float qx = fabsf(x - cx) - hx, qy = fabsf(y - cy) - hy;
    float ox = qx > 0 ? qx : 0, oy = qy > 0 ? qy : 0;
    float in = qx > qy ? qx : qy;
    return sqrtf(ox * ox + oy * oy) + (in < 0 ? in : 0) - rad;
}

/* ---- one crop ---- */

typedef struct {
    unsigned char *text, *outline, *shadow, *tmp8;
    float *tmpf;
    unsigned char *glyph;
    size_t glyph_cap;
} scratch;

static void scratch_free(scratch *s) {
    free(s->text);
    free(s->outline);
    free(s->shadow);
    free(s->tmp8);
    free(s->tmpf);
    free(s->glyph);
}

#define MAX_ROW 16
typedef struct {
    int g;
    float x, y; /* pen position and baseline shift, nominal */
} extra_glyph;

/* A random letter or digit the face has, in the case the face draws. */
static int random_glyph(const icstr_face *f, icstr_rng *r) {
    static const char pool[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    for (int t = 0; t < 4; t++) {
        int c = pool[icstr_rng_below(r, sizeof pool - 1)];
        if (f->glyph[c - 32]) return f->glyph[c - 32];
    }
    return f->glyph['E' - 32];
}

static int ensure_rgb(icstr_render_crop *c, int w, int h) {
    size_t need = (size_t)w * h * 3;
    if (need > c->rgb_cap) {
        unsigned char *p = realloc(c->rgb, need);
        if (!p) return icstr_fail(ICSTR_ERR_NOMEM, "render: %d x %d crop", w, h);
        c->rgb = p;
        c->rgb_cap = need;
    }
    c->w = w;
    c->h = h;
    return ICSTR_OK;
}

int render_one_crop(const icstr_renderer *R, const render_style *s, icstr_rng *r, float d, const char *text,
                    icstr_render_crop *out) {
    const icstr_face *f = &R->fonts->faces[s->font];
    if (icstr_log_get_level() >= ICSTR_LOG_DEBUG)
        ICSTR_DEBUG(
            "render '%s': font %d %s, bg %d, h %.0f, blur %.2f, motion %.1f, lowres %.1f, noise %.1f, jpeg "
            "%d, "
            "contrast %.2f, tone %.0f..%.0f, desat %.2f, exposure %.2f, yaw %.3f, pitch %.3f, rot %.3f, "
            "stretch %.2f, shear %.2f, curve %.2f",
            text, s->font, f->path, s->bg_type, (double)s->height, (double)s->blur, (double)s->motion_len,
            (double)s->lowres, (double)s->noise, s->jpeg_q, (double)s->min_contrast, (double)s->tone_lo,
            (double)s->tone_hi, (double)s->desat, (double)s->exposure, (double)s->yaw, (double)s->pitch,
            (double)s->rot, (double)s->stretch, (double)s->shear, (double)s->curve);
    render_layout L;
    render_layout_text(f, text, s->tracking, &L);

    /* bits of neighbouring text that detector crops catch at their edges (never a whole glyph:
     * the label would not match); vis_* is how far the crop reaches past the word, nominal */
    extra_glyph ex[2 + 2 * MAX_ROW];
    int nex = 0;
    float vis_l = -1, vis_r = -1, vis_t = -1, vis_b = -1;
    if (s->p_neighbor > 0 && s->curve == 0) {
        for (int side = 0; side < 2; side++) {
            if (!chance(r, s->p_neighbor)) continue;
            /* a sliver of a narrow glyph (I, l, 1) would read as the whole glyph: wide ones only */
            int g = 0, x0 = 0, y0 = 0, x1 = 0, y1 = 0;
            for (int t = 0; t < 6; t++) {
                int c = random_glyph(f, r);
                if (c && stbtt_GetGlyphBox(&f->info, c, &x0, &y0, &x1, &y1) &&
                    (float)(x1 - x0) * f->unit > 0.4f) {
                    g = c;
                    break;
                }
            }
            if (!g) continue;
            float gap = uni(r, 0.08f, 0.5f), gw = (float)(x1 - x0) * f->unit;
            extra_glyph *e = &ex[nex++];
            e->g = g;
            e->y = 0;
            if (side == 0) {
                e->x = L.X0 - gap - (float)x1 * f->unit;
                vis_l = gap + uni(r, 0.03f, 0.2f) * gw;
            } else {
                e->x = L.X1 + gap - (float)x0 * f->unit;
                vis_r = gap + uni(r, 0.03f, 0.2f) * gw;
            }
        }
        for (int side = 0; side < 2; side++) {
            if (!chance(r, 0.5f * s->p_neighbor)) continue;
            float dy = (side == 0 ? -1.0f : 1.0f) * (1.0f + uni(r, 0.1f, 0.5f));
            float pen = L.X0 - uni(r, 0, 1.5f), rt = 1e9f, rb = -1e9f;
            int first = nex;
            while (pen < L.X1 + 0.5f && nex - first < MAX_ROW) {
                int g = random_glyph(f, r), adv, lsb, x0, y0, x1, y1;
                if (!g || !stbtt_GetGlyphBox(&f->info, g, &x0, &y0, &x1, &y1)) break;
                stbtt_GetGlyphHMetrics(&f->info, g, &adv, &lsb);
                ex[nex++] = (extra_glyph){g, pen, dy};
                rt = fminf(rt, f->ascent - (float)y1 * f->unit + dy);
                rb = fmaxf(rb, f->ascent - (float)y0 * f->unit + dy);
                pen += (float)adv * f->unit + s->tracking;
            }
            if (nex == first) continue;
            if (side == 0 && rb < L.Y0)
                vis_t = (L.Y0 - rb) + uni(r, 0.05f, 0.3f) * (rb - rt);
            else if (side == 1 && rt > L.Y1)
                vis_b = (rt - L.Y1) + uni(r, 0.05f, 0.3f) * (rb - rt);
            else
                nex = first; /* the row would overlap the word: drop it */
        }
    }

    /* warp and crop window */
    render_warp w;
    render_warp_build(s, r, d, L.X0, L.X1, &w);
    double bb[4];
    render_warp_rect_bbox(&w, L.X0, L.Y0, L.X1, L.Y1, 8, bb);
    double c0x, c0y, c1x, c1y;
    double mx = 0.5 * (L.X0 + L.X1);
    render_warp_fwd(&w, mx - 0.5, 0.5, &c0x, &c0y);
    render_warp_fwd(&w, mx + 0.5, 0.5, &c1x, &c1y);
    double lx = hypot(c1x - c0x, c1y - c0y);
    render_warp_fwd(&w, mx, 0.0, &c0x, &c0y);
    render_warp_fwd(&w, mx, 1.0, &c1x, &c1y);
    double ly = hypot(c1x - c0x, c1y - c0y);
    double fh = sqrt(lx * ly); /* the font height in the warped plane */
    if (!(fh > 1e-3)) fh = 1;
    double ml = uni(r, s->margin_lo, s->margin_hi) * fh, mr = uni(r, s->margin_lo, s->margin_hi) * fh;
    double mt = uni(r, s->vmargin_lo, s->vmargin_hi) * fh, mb = uni(r, s->vmargin_lo, s->vmargin_hi) * fh;
    if (vis_l >= 0) ml = vis_l * lx;
    if (vis_r >= 0) mr = vis_r * lx;
    if (vis_t >= 0) mt = vis_t * ly;
    if (vis_b >= 0) mb = vis_b * ly;
    double wx0 = bb[0] - ml, wx1 = bb[2] + mr, wy0 = bb[1] - mt, wy1 = bb[3] + mb;
    if (wx1 - wx0 < 0.2 * fh) wx1 = wx0 + 0.2 * fh;
    if (wy1 - wy0 < 0.2 * fh) wy1 = wy0 + 0.2 * fh;
    double H = clampf(s->height * uni(r, 0.9f, 1.1f), (float)R->p.min_height, (float)R->p.max_height);
    double sc = H / (wy1 - wy0);
    int Wout = (int)lround((wx1 - wx0) * sc), Hout = (int)lround(H);
    if (Wout > R->p.max_width) {
        sc = R->p.max_width / (wx1 - wx0);
        Wout = R->p.max_width;
        Hout = (int)lround((wy1 - wy0) * sc);
    }
    if (Hout < 8) Hout = 8;
    if (Wout < 4) Wout = 4;
    /* canvas: the nominal text region rasterised at the output's resolution */
    double rs = sc * fh;
    float pad = (s->has_outline ? s->outline_w : 0) +
                (s->has_shadow ? fmaxf(fabsf(s->shadow_dx), fabsf(s->shadow_dy)) + s->shadow_blur : 0) +
                0.05f;
    double nx0 = L.X0 - pad - 2 / rs, ny0 = L.Y0 - pad - 2 / rs;
    double nx1 = L.X1 + pad + 2 / rs, ny1 = L.Y1 + pad + 2 / rs;
    for (int i = 0; i < nex; i++) { /* the canvas holds the neighbours too */
        int x0, y0, x1, y1;
        stbtt_GetGlyphBox(&f->info, ex[i].g, &x0, &y0, &x1, &y1);
        nx0 = fmin(nx0, ex[i].x + x0 * f->unit - pad - 2 / rs);
        nx1 = fmax(nx1, ex[i].x + x1 * f->unit + pad + 2 / rs);
        ny0 = fmin(ny0, f->ascent - y1 * f->unit + ex[i].y - pad - 2 / rs);
        ny1 = fmax(ny1, f->ascent - y0 * f->unit + ex[i].y + pad + 2 / rs);
    }
    if (rs > 400) rs = 400;
    if ((nx1 - nx0) * rs * (ny1 - ny0) * rs > MAX_CANVAS_PIXELS)
        rs = sqrt(MAX_CANVAS_PIXELS / ((nx1 - nx0) * (ny1 - ny0)));
    int cw = (int)ceil((nx1 - nx0) * rs) + 1, ch = (int)ceil((ny1 - ny0) * rs) + 1;
    int rc = ensure_rgb(out, Wout, Hout);
    if (rc) return rc;
    scratch S = {0};
    size_t cn = (size_t)cw * ch, on = (size_t)Wout * Hout;
    S.text = calloc(cn, 1);
    S.tmp8 = malloc((cn > on * 3 ? cn : on * 3) + 16);
    S.tmpf = malloc(on * 3 * sizeof(float));
    if (!S.text || !S.tmp8 || !S.tmpf) {
        scratch_free(&S);
        return icstr_fail(ICSTR_ERR_NOMEM, "render: canvas %d x %d", cw, ch);
    }

    /* glyphs */
    float gscale = (float)rs * f->unit;
    for (int i = 0; i < L.n + nex; i++) {
        int glyph = i < L.n ? L.glyph[i] : ex[i - L.n].g;
        if (!glyph) continue;
        double gx = i < L.n ? L.pen[i] : ex[i - L.n].x, gy = i < L.n ? 0 : ex[i - L.n].y;
        double ox = (gx - nx0) * rs, oy = (f->ascent + gy - ny0) * rs;
        double fox = floor(ox), foy = floor(oy);
        float shx = (float)(ox - fox), shy = (float)(oy - foy);
        int bx0, by0, bx1, by1;
        stbtt_GetGlyphBitmapBoxSubpixel(&f->info, glyph, gscale, gscale, shx, shy, &bx0, &by0, &bx1, &by1);
        int gw = bx1 - bx0, gh = by1 - by0;
        if (gw <= 0 || gh <= 0) continue;
        size_t need = (size_t)gw * gh;
        if (need > S.glyph_cap) {
            unsigned char *p = realloc(S.glyph, need);
            if (!p) {
                scratch_free(&S);
                return icstr_fail(ICSTR_ERR_NOMEM, "render: glyph %d x %d", gw, gh);
            }
            S.glyph = p;
            S.glyph_cap = need;
        }
        stbtt_MakeGlyphBitmapSubpixel(&f->info, S.glyph, gw, gh, gw, gscale, gscale, shx, shy, glyph);
        int px = (int)fox + bx0, py = (int)foy + by0;
        for (int y = 0; y < gh; y++) {
            int cy = py + y;
            if (cy < 0 || cy >= ch) continue;
            unsigned char *dst = S.text + (size_t)cy * cw;
            const unsigned char *src = S.glyph + (size_t)y * gw;
            for (int x = 0; x < gw; x++) {
                int cx = px + x;
                if (cx >= 0 && cx < cw && src[x] > dst[cx]) dst[cx] = src[x];
            }
        }
    }
    if (s->bold > 0) { /* fake bold: grow the strokes */
        unsigned char *b = malloc(cn);
        if (!b) {
            scratch_free(&S);
            return icstr_fail(ICSTR_ERR_NOMEM, "render: bold");
        }
        render_dilate(b, S.text, cw, ch, (float)(s->bold * rs));
        free(S.text);
        S.text = b;
    }
    if (s->has_outline) {
        if (!(S.outline = malloc(cn))) {
            scratch_free(&S);
            return icstr_fail(ICSTR_ERR_NOMEM, "render: outline");
        }
        render_dilate(S.outline, S.text, cw, ch, (float)(s->outline_w * rs));
    }
    if (s->has_shadow) {
        if (!(S.shadow = malloc(cn))) {
            scratch_free(&S);
            return icstr_fail(ICSTR_ERR_NOMEM, "render: shadow");
        }
        memcpy(S.shadow, S.outline ? S.outline : S.text, cn);
        render_mask_blur(S.shadow, cw, ch, (int)lround(s->shadow_blur * rs * 0.6), S.tmp8);
    }

    /* background */
    unsigned char *rgb = out->rgb;
    switch (s->bg_type) {
    case BG_GRADIENT: render_fill_gradient(rgb, Wout, Hout, s->bg1, s->bg2, uni(r, 0, 2 * PI_F)); break;
    case BG_NOISE:
        rc = render_fill_noise(rgb, Wout, Hout, s->bg1, s->bg2, s->noise_cell * (float)Hout / 32.0f, r);
        break;
    case BG_STRIPES:
        render_fill_stripes(rgb, Wout, Hout, s->bg1, s->bg2, uni(r, 3, 14), uni(r, 0, PI_F));
        break;
    case BG_PHOTO:
        rc = render_fill_photo(rgb, Wout, Hout, &R->photos->photos[s->photo],
                               fminf(1.0f, s->photo_zoom * uni(r, 0.8f, 1.2f)), s->photo_var, r);
        /* out of focus behind the sign: softens any text the photo holds */
        if (!rc && s->photo_blur > 0)
            render_gaussian_blur(rgb, Wout, Hout, s->photo_blur * (float)Hout / 32.0f, S.tmpf);
        break;
    default: render_fill_flat(rgb, Wout * Hout, s->bg1); break;
    }
    if (rc) {
        scratch_free(&S);
        return rc;
    }
    /* where the text lands in the output, to check contrast against what is under it */
    int tx0 = (int)((bb[0] - wx0) * sc), tx1 = (int)((bb[2] - wx0) * sc) + 1;
    int ty0 = (int)((bb[1] - wy0) * sc), ty1 = (int)((bb[3] - wy0) * sc) + 1;
    float text_c[3], plate_c[3];
    jitter_colour(r, s->text, 6, text_c);
    jitter_colour(r, s->plate, 6, plate_c);
    if (!s->has_plate) {
        float m[3];
        render_mean_colour(rgb, Wout, Hout, tx0, ty0, tx1, ty1, m);
        float yt = lum(text_c), yb = lum(m), y1 = lum(s->bg1);
        if (fabsf(yt - yb) < s->min_contrast) {
            /* pull the background toward a colour on the far side of the text's luminance */
            float tgt[3];
            if (fabsf(y1 - yt) >= s->min_contrast)
                memcpy(tgt, s->bg1, sizeof tgt);
            else
                tgt[0] = tgt[1] = tgt[2] = yt > 0.5f ? 0.0f : 255.0f;
            float yg = lum(tgt), want = yt + (yg > yt ? s->min_contrast : -s->min_contrast);
            float a = fabsf(yg - yb) > 1e-4f ? clampf((want - yb) / (yg - yb), 0, 1) : 1;
            size_t n = (size_t)Wout * Hout;
            for (size_t i = 0; i < n; i++)
                for (int k = 0; k < 3; k++)
                    rgb[3 * i + k] = (unsigned char)(rgb[3 * i + k] + (tgt[k] - rgb[3 * i + k]) * a + 0.5f);
        }
    }

    /* composite: every output pixel mapped back into the canvas */
    float plate_rect[4] = {L.X0 - s->plate_pad[0], -s->plate_pad[2], L.X1 + s->plate_pad[1],
                           1 + s->plate_pad[3]};
    float prad = s->plate_round;
    float pr_max = 0.5f * fminf(plate_rect[2] - plate_rect[0], plate_rect[3] - plate_rect[1]);
    if (prad > pr_max) prad = pr_max;
    float sdx = (float)(s->shadow_dx * rs), sdy = (float)(s->shadow_dy * rs);
    float grad_top[3], grad_bot[3];
    for (int k = 0; k < 3; k++) {
        grad_top[k] = clampf(text_c[k] * (1 + s->text_grad), 0, 255);
        grad_bot[k] = clampf(text_c[k] * (1 - s->text_grad), 0, 255);
    }
    /* one matrix from output pixel centres to canvas pixels before the curve:
     * canvas = Tc * H^-1 * To, To: o -> (o + 0.5) / sc + w0, Tc: n -> (n - n0) * rs - 0.5 */
    double To[9] = {1 / sc, 0, 0.5 / sc + wx0, 0, 1 / sc, 0.5 / sc + wy0, 0, 0, 1};
    double Tc[9] = {rs, 0, -nx0 * rs - 0.5, 0, rs, -ny0 * rs - 0.5, 0, 0, 1}, tmp9[9], M[9];
    render_mat3_mul(w.hi, To, tmp9);
    render_mat3_mul(Tc, tmp9, M);
    /* the curve in canvas units: cy -= kc * (cx - ccx)^2 */
    float ccx = (float)((w.cx - nx0) * rs - 0.5), kc = (float)(w.curve / (w.ha * w.ha * rs));
    float frs = (float)rs, fnx0 = (float)nx0, fny0 = (float)ny0;
    for (int oy = 0; oy < Hout; oy++) {
        float ux = (float)(M[1] * oy + M[2]), uy = (float)(M[4] * oy + M[5]), uz = (float)(M[7] * oy + M[8]);
        float dux = (float)M[0], duy = (float)M[3], duz = (float)M[6];
        unsigned char *p = rgb + (size_t)oy * Wout * 3;
        for (int ox = 0; ox < Wout; ox++, p += 3) {
            float iz = 1.0f / (uz + duz * ox);
            float cx = (ux + dux * ox) * iz, cy = (uy + duy * ox) * iz;
            if (kc != 0) cy -= kc * (cx - ccx) * (cx - ccx);
            int inside = cx > -2 && cy > -2 && cx < cw + 1 && cy < ch + 1;
            if (!inside && !s->has_plate) continue;
            float col[3] = {p[0], p[1], p[2]};
            float ny = (cy + 0.5f) / frs + fny0;
            if (s->has_plate) {
                float nx = (cx + 0.5f) / frs + fnx0;
                float sd = rrect_sdf(nx, ny, plate_rect, prad);
                float a = clampf(0.5f - sd * frs, 0, 1);
                if (a > 0) {
                    for (int k = 0; k < 3; k++) col[k] += (plate_c[k] - col[k]) * a;
                    if (s->has_border) {
                        float dd = sd + s->border_w * 1.5f;
                        float b = clampf(0.5f - (fabsf(dd) - 0.5f * s->border_w) * frs, 0, 1) * a;
                        for (int k = 0; k < 3; k++) col[k] += (s->border[k] - col[k]) * b;
                    }
                }
            }
            if (inside) {
                if (S.shadow) {
                    float a = sample_mask(S.shadow, cw, ch, cx - sdx, cy - sdy) * s->shadow_alpha;
                    for (int k = 0; k < 3; k++) col[k] += (s->shadow[k] - col[k]) * a;
                }
                if (S.outline) {
                    float a = sample_mask(S.outline, cw, ch, cx, cy);
                    for (int k = 0; k < 3; k++) col[k] += (s->outline[k] - col[k]) * a;
                }
                float a = sample_mask(S.text, cw, ch, cx, cy);
                if (a > 0) {
                    float g = clampf(ny, 0, 1);
                    for (int k = 0; k < 3; k++) {
                        float tc = grad_top[k] + (grad_bot[k] - grad_top[k]) * g;
                        col[k] += (tc - col[k]) * a;
                    }
                }
            }
            p[0] = (unsigned char)(col[0] + 0.5f);
            p[1] = (unsigned char)(col[1] + 0.5f);
            p[2] = (unsigned char)(col[2] + 0.5f);
        }
    }

    /* camera: lighting, blur, resolution, noise, compression */
    size_t n = (size_t)Wout * Hout;
    int tone = s->tone_lo > 0 || s->tone_hi < 255 || s->desat > 0 || s->exposure != 1;
    /* a dim shot: the tone curve already scaled the range, the gain only brightens */
    float bright = s->exposure > 1 ? s->exposure : 1;
    if (tone || s->light_amp > 0 || s->gain[0] != 1 || s->gain[1] != 1 || s->gain[2] != 1) {
        float dx = cosf(s->light_ang), dy = sinf(s->light_ang), tk = (s->tone_hi - s->tone_lo) / 255.0f;
        for (int y = 0; y < Hout; y++)
            for (int x = 0; x < Wout; x++) {
                float t =
                    1 + s->light_amp * 2 * (((float)x / Wout - 0.5f) * dx + ((float)y / Hout - 0.5f) * dy);
                unsigned char *p = rgb + ((size_t)y * Wout + x) * 3;
                float v[3];
                for (int k = 0; k < 3; k++) v[k] = clampf(p[k] * t * s->gain[k] * bright, 0, 255);
                float yl = 0.299f * v[0] + 0.587f * v[1] + 0.114f * v[2];
                for (int k = 0; k < 3; k++) {
                    float c = v[k] + (yl - v[k]) * s->desat;
                    p[k] = (unsigned char)clampf(s->tone_lo + c * tk + 0.5f, 0, 255);
                }
            }
    }
    float hs = (float)Hout / 32.0f;
    if (s->blur > 0) render_gaussian_blur(rgb, Wout, Hout, s->blur * hs * uni(r, 0.8f, 1.2f), S.tmpf);
    if (s->motion_len > 0) render_motion_blur(rgb, Wout, Hout, s->motion_len * hs, s->motion_ang, S.tmp8);
    if (s->lowres > 0 && s->lowres < 0.85f * Hout) {
        int dh = (int)lroundf(s->lowres * uni(r, 0.9f, 1.1f));
        int dw = (int)lround((double)Wout * dh / Hout);
        if (dh < 8) dh = 8;
        if (dw < 4) dw = 4;
        if (dh < Hout && dw < Wout) render_lowres(rgb, Wout, Hout, dw, dh, S.tmp8);
    }
    if (s->noise > 0) {
        float sig = s->noise;
        for (size_t i = 0; i < n; i++) {
            uint64_t u = icstr_rng_u64(r);
            /* sum of four 16-bit uniforms: close enough to a gaussian, far cheaper */
            float g = ((float)(u & 0xffff) + (float)((u >> 16) & 0xffff) + (float)((u >> 32) & 0xffff) +
                       (float)(u >> 48)) *
                          (1.0f / 65536.0f) -
                      2.0f;
            g *= 1.7320508f * sig;
            unsigned char *p = rgb + 3 * i;
            if (s->mono_noise) {
                for (int k = 0; k < 3; k++) p[k] = (unsigned char)clampf(p[k] + g + 0.5f, 0, 255);
            } else {
                float g2 = ((float)(u & 0xff) - 127.5f) * (sig / 128.0f),
                      g3 = ((float)((u >> 24) & 0xff) - 127.5f) * (sig / 128.0f);
                p[0] = (unsigned char)clampf(p[0] + g + 0.5f, 0, 255);
                p[1] = (unsigned char)clampf(p[1] + g2 + 0.5f, 0, 255);
                p[2] = (unsigned char)clampf(p[2] + g3 + 0.5f, 0, 255);
            }
        }
    }
    if (s->binarize > 0) { /* grey scans only (document styles): every channel alike */
        /* the cut is measured from the darkest pixel: blur and resolution loss lighten thin strokes */
        float paper = lum(s->bg1) * 255.0f, ink = lum(s->text) * 255.0f, darkest = 255.0f;
        for (size_t i = 0; i < n; i++) darkest = fminf(darkest, (float)rgb[3 * i]);
        float cut = paper - s->binarize * (paper - darkest);
        for (size_t i = 0; i < n; i++) {
            unsigned char *p = rgb + 3 * i;
            unsigned char v = (float)p[0] > cut ? (unsigned char)(paper + 0.5f) : (unsigned char)(ink + 0.5f);
            p[0] = p[1] = p[2] = v;
        }
    }
    if (s->jpeg_q > 0) {
        int q = s->jpeg_q + (int)uni(r, -5, 5);
        render_jpeg_roundtrip(rgb, Wout, Hout, q < 10 ? 10 : q > 95 ? 95 : q); /* on failure: no artefacts */
    }
    scratch_free(&S);
    (void)d;

    /* character boxes */
    memcpy(out->label, text, (size_t)L.n + 1);
    out->n_boxes = 0;
    for (int i = 0; i < L.n; i++) {
        if (text[i] == ' ') continue;
        double b4[4];
        render_warp_rect_bbox(&w, L.ix0[i], L.Y0, L.ix1[i], L.Y1, 2, b4);
        icstr_render_box *B = &out->boxes[out->n_boxes];
        B->x0 = clampf((float)((b4[0] - wx0) * sc), 0, (float)Wout);
        B->y0 = clampf((float)((b4[1] - wy0) * sc), 0, (float)Hout);
        B->x1 = clampf((float)((b4[2] - wx0) * sc), 0, (float)Wout);
        B->y1 = clampf((float)((b4[3] - wy0) * sc), 0, (float)Hout);
        out->box_char[out->n_boxes++] = i;
    }
    return ICSTR_OK;
}
