/* The recognizer model's construction: the default config and its validation, the declaration
 * of every parameter in the slab, weight initialisation, the charset and label <-> token ids. */
#include "model_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

icstr_model_config icstr_model_default_config(void) {
    icstr_model_config c;
    memset(&c, 0, sizeof c);
    c.img_h = 32;
    c.img_w = 128;
    c.stem = 1;
    c.patch_h = 4;
    c.patch_w = 8;
    c.stem_channels = 64;
    c.enc_dim = 192;
    c.enc_layers = 4;
    c.enc_heads = 6;
    c.enc_mlp = 768;
    c.latents = 16;
    c.resampler_layers = 1;
    c.dec_dim = 192;
    c.dec_layers = 4;
    c.dec_heads = 6;
    c.dec_mlp = 768;
    c.max_label = 25;
    c.max_prompts = 4;
    /* space and the 94 printable ASCII characters, in code point order */
    for (int ch = 0x20; ch < 0x7f; ch++) c.charset[ch - 0x20] = (char)ch;
    c.ctc_weight = 0.5f;
    c.label_smoothing = 0.1f;
    c.dropout = 0.0f;
    c.key_weight = 0.0f;
    c.key_temperature = 0.1f;
    return c;
}

/* Decodes one UTF-8 code point at s (n bytes left); returns its length or 0 when invalid. */
static int utf8_decode(const unsigned char *s, size_t n, uint32_t *cp) {
    if (n == 0) return 0;
    unsigned c = s[0];
    int len;
    uint32_t v;
    if (c < 0x80) {
        *cp = c;
        return 1;
    } else if ((c & 0xe0) == 0xc0) {
        len = 2;
        v = c & 0x1f;
    } else if ((c & 0xf0) == 0xe0) {
        len = 3;
        v = c & 0x0f;
    } else if ((c & 0xf8) == 0xf0) {
        len = 4;
        v = c & 0x07;
    } else {
        return 0;
    }
    if ((size_t)len > n) return 0;
    for (int i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80) return 0;
        v = (v << 6) | (s[i] & 0x3f);
    }
    static const uint32_t min_of_len[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (v < min_of_len[len] || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff)) return 0;
    *cp = v;
    return len;
}

static int utf8_encode(uint32_t cp, char *out) {
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    } else if (cp < 0x800) {
        out[0] = (char)(0xc0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    } else if (cp < 0x10000) {
        out[0] = (char)(0xe0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        out[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    out[0] = (char)(0xf0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
    out[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

static int cmp_u32(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

#define CFG_FAIL(...) icstr_fail(ICSTR_ERR_CONFIG, __VA_ARGS__)

int icstr_model_check_config_(const icstr_model_config *c, icstr_model *m) {
    /* generous bounds that keep every product below in int range */
    struct { const char *name; int v, lo, hi; } ranges[] = {
        {"img_h", c->img_h, 1, 1024}, {"img_w", c->img_w, 1, 4096},
        {"stem", c->stem, 0, 1}, {"patch_h", c->patch_h, 1, 256}, {"patch_w", c->patch_w, 1, 256},
        {"enc_dim", c->enc_dim, 1, 8192}, {"enc_layers", c->enc_layers, 0, 256},
        {"enc_heads", c->enc_heads, 1, 1024}, {"enc_mlp", c->enc_mlp, 1, 65536},
        {"latents", c->latents, 1, 4096}, {"resampler_layers", c->resampler_layers, 0, 256},
        {"dec_dim", c->dec_dim, 1, ICSTR_GLYPH_DIM_MAX}, {"dec_layers", c->dec_layers, 0, 256},
        {"dec_heads", c->dec_heads, 1, 1024}, {"dec_mlp", c->dec_mlp, 1, 65536},
        {"max_label", c->max_label, 1, 4096}, {"max_prompts", c->max_prompts, 0, 1024},
        {"prompt_similarity", c->prompt_similarity, 0, 1},
        {"glyph_labels", c->glyph_labels, 0, 1},
    };
    for (size_t i = 0; i < sizeof ranges / sizeof *ranges; i++)
        if (ranges[i].v < ranges[i].lo || ranges[i].v > ranges[i].hi)
            return CFG_FAIL("model.%s = %d is outside [%d, %d]", ranges[i].name, ranges[i].v,
                            ranges[i].lo, ranges[i].hi);
    if (c->enc_dim % c->enc_heads)
        return CFG_FAIL("model.enc_dim %d is not a multiple of enc_heads %d", c->enc_dim, c->enc_heads);
    if (c->dec_dim % c->dec_heads)
        return CFG_FAIL("model.dec_dim %d is not a multiple of dec_heads %d", c->dec_dim, c->dec_heads);
    if (c->img_h % c->patch_h || c->img_w % c->patch_w)
        return CFG_FAIL("model.img %dx%d is not a multiple of the patch %dx%d", c->img_h, c->img_w,
                        c->patch_h, c->patch_w);
    if (c->stem == 1) {
        if (c->stem_channels < 2 || c->stem_channels > 4096 || c->stem_channels % 2)
            return CFG_FAIL("model.stem_channels = %d must be even and in [2, 4096]", c->stem_channels);
        if (c->patch_h % 4 || c->patch_w % 4)
            return CFG_FAIL("model.patch %dx%d: the conv stem divides the image by 4, so the patch "
                            "sides must be multiples of 4", c->patch_h, c->patch_w);
    }
    long tokens = (long)(c->img_h / c->patch_h) * (c->img_w / c->patch_w);
    if (tokens > 65536) return CFG_FAIL("model: %ld encoder tokens is too many", tokens);
    if (!(c->glyph_init >= 0.0f && c->glyph_init <= 10.0f))
        return CFG_FAIL("model.glyph_init = %g is outside [0, 10]", c->glyph_init);
    if (!(c->ctc_weight >= 0.0f && c->ctc_weight <= 100.0f))
        return CFG_FAIL("model.ctc_weight = %g is outside [0, 100]", c->ctc_weight);
    if (!(c->label_smoothing >= 0.0f && c->label_smoothing < 1.0f))
        return CFG_FAIL("model.label_smoothing = %g is outside [0, 1)", c->label_smoothing);
    if (!(c->dropout >= 0.0f && c->dropout < 1.0f))
        return CFG_FAIL("model.dropout = %g is outside [0, 1)", c->dropout);
    if (!(c->key_weight >= 0.0f && c->key_weight <= 100.0f))
        return CFG_FAIL("model.key_weight = %g is outside [0, 100]", c->key_weight);
    if (!(c->key_temperature >= 0.01f && c->key_temperature <= 10.0f))
        return CFG_FAIL("model.key_temperature = %g is outside [0.01, 10]", c->key_temperature);

    size_t len = strnlen(c->charset, sizeof c->charset);
    if (len == sizeof c->charset) return CFG_FAIL("model.charset is not NUL-terminated");
    uint32_t cps[ICSTR_CHARSET_MAX];
    int n = 0;
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        int k = utf8_decode((const unsigned char *)c->charset + i, len - i, &cp);
        if (!k) return CFG_FAIL("model.charset: invalid UTF-8 at byte %zu", i);
        if (n == ICSTR_CHARSET_MAX)
            return CFG_FAIL("model.charset has more than %d characters", ICSTR_CHARSET_MAX);
        cps[n++] = cp;
        i += (size_t)k;
    }
    if (n == 0) return CFG_FAIL("model.charset is empty");
    uint32_t sorted[ICSTR_CHARSET_MAX];
    memcpy(sorted, cps, (size_t)n * sizeof *cps);
    qsort(sorted, (size_t)n, sizeof *sorted, cmp_u32);
    for (int i = 1; i < n; i++)
        if (sorted[i] == sorted[i - 1])
            return CFG_FAIL("model.charset lists U+%04X twice", (unsigned)sorted[i]);
    if (!m) return ICSTR_OK;

    m->cfg = *c;
    m->voc.n_chars = n;
    m->voc.bos = n;
    m->voc.eoc = n + 1;
    m->voc.pad = n + 2;
    m->voc.vocab = n + 3;
    memcpy(m->cp, cps, (size_t)n * sizeof *cps);
    memcpy(m->cp_sorted, sorted, (size_t)n * sizeof *sorted);
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++)
            if (cps[j] == sorted[i]) m->cp_sorted_id[i] = j;
    m->Hp = c->img_h / c->patch_h;
    m->Wp = c->img_w / c->patch_w;
    m->N = m->Hp * m->Wp;
    if (c->stem == 1) {
        m->c1 = c->stem_channels / 2;
        m->h1 = icstr_conv2d_out_size(c->img_h, 3, 2, 1);
        m->w1 = icstr_conv2d_out_size(c->img_w, 3, 2, 1);
        m->c2 = c->stem_channels;
        m->h2 = icstr_conv2d_out_size(m->h1, 3, 2, 1);
        m->w2 = icstr_conv2d_out_size(m->w1, 3, 2, 1);
        m->sph = c->patch_h / 4;
        m->spw = c->patch_w / 4;
        m->pin = m->c2;
        if (m->h2 != m->Hp * m->sph || m->w2 != m->Wp * m->spw)
            return CFG_FAIL("model: the conv stem's %dx%d map does not tile into %dx%d patches",
                            m->h2, m->w2, m->sph, m->spw);
    } else {
        m->sph = c->patch_h;
        m->spw = c->patch_w;
        m->pin = 3;
    }
    m->ctc_v = 1 + n;
    m->max_txt = c->max_label + 2;
    return ICSTR_OK;
}

/* ---- parameter declaration ---- */

typedef struct {
    icstr_slab *s;
    int rc;
} declarer;

static size_t decl(declarer *d, const char *name, int decay, int ndim, int64_t d0, int64_t d1) {
    size_t off = 0;
    if (d->rc) return 0;
    int64_t shape[2] = {d0, d1};
    d->rc = icstr_slab_declare(d->s, name, ndim, shape, decay, &off);
    return off;
}

static void decl_block(declarer *d, blk_params *p, const char *prefix, int C, int F) {
    char n[ICSTR_NAME_MAX];
#define D1(field, decay, a) (snprintf(n, sizeof n, "%s.%s", prefix, #field), p->field = decl(d, n, decay, 1, a, 0))
#define D2(field, decay, a, b) (snprintf(n, sizeof n, "%s.%s", prefix, #field), p->field = decl(d, n, decay, 2, a, b))
    D1(ln1_w, 0, C);
    D1(ln1_b, 0, C);
    D2(qkv_w, 1, 3 * C, C);
    D1(qkv_b, 0, 3 * C);
    D2(proj_w, 1, C, C);
    D1(proj_b, 0, C);
    D1(ln2_w, 0, C);
    D1(ln2_b, 0, C);
    D2(fc1_w, 1, F, C);
    D1(fc1_b, 0, F);
    D2(fc2_w, 1, C, F);
    D1(fc2_b, 0, C);
}

static void decl_xblock(declarer *d, xblk_params *p, const char *prefix, int D, int E, int F) {
    char n[ICSTR_NAME_MAX];
    D1(lnq_w, 0, D);
    D1(lnq_b, 0, D);
    D1(lnkv_w, 0, E);
    D1(lnkv_b, 0, E);
    D2(q_w, 1, D, D);
    D1(q_b, 0, D);
    D2(kv_w, 1, 2 * D, E);
    D1(kv_b, 0, 2 * D);
    D2(proj_w, 1, D, D);
    D1(proj_b, 0, D);
    D1(ln2_w, 0, D);
    D1(ln2_b, 0, D);
    D2(fc1_w, 1, F, D);
    D1(fc1_b, 0, F);
    D2(fc2_w, 1, D, F);
    D1(fc2_b, 0, D);
#undef D1
#undef D2
}

static int declare_all(icstr_model *m) {
    const icstr_model_config *c = &m->cfg;
    int E = c->enc_dim, D = c->dec_dim, M = c->latents, V = m->voc.vocab;
    declarer d = {&m->slab, ICSTR_OK};
    char name[32]; /* "enc.blocks.NNN": short, so the per-tensor names always fit */
    if (c->stem == 1) {
        m->conv1_w = decl(&d, "enc.conv1.w", 1, 2, m->c1, 3 * 9);
        m->conv1_b = decl(&d, "enc.conv1.b", 0, 1, m->c1, 0);
        m->conv2_w = decl(&d, "enc.conv2.w", 1, 2, m->c2, (int64_t)m->c1 * 9);
        m->conv2_b = decl(&d, "enc.conv2.b", 0, 1, m->c2, 0);
    }
    m->patch_w = decl(&d, "enc.patch.w", 1, 2, E, (int64_t)m->pin * m->sph * m->spw);
    m->patch_b = decl(&d, "enc.patch.b", 0, 1, E, 0);
    m->enc_pos = decl(&d, "enc.pos", 0, 2, m->N, E);
    for (int l = 0; l < c->enc_layers; l++) {
        snprintf(name, sizeof name, "enc.blocks.%d", l);
        decl_block(&d, &m->enc[l], name, E, c->enc_mlp);
    }
    m->enc_lnf_w = decl(&d, "enc.ln_f.w", 0, 1, E, 0);
    m->enc_lnf_b = decl(&d, "enc.ln_f.b", 0, 1, E, 0);
    m->ctc_w = decl(&d, "ctc.w", 1, 2, m->ctc_v, E);
    m->ctc_b = decl(&d, "ctc.b", 0, 1, m->ctc_v, 0);
    m->lat = decl(&d, "res.latents", 0, 2, M, D);
    m->pool_w = decl(&d, "res.pool.w", 1, 2, D, E);
    m->pool_b = decl(&d, "res.pool.b", 0, 1, D, 0);
    for (int l = 0; l < c->resampler_layers; l++) {
        snprintf(name, sizeof name, "res.blocks.%d", l);
        decl_xblock(&d, &m->res[l], name, D, E, c->dec_mlp);
    }
    m->res_lnf_w = decl(&d, "res.ln_f.w", 0, 1, D, 0);
    m->res_lnf_b = decl(&d, "res.ln_f.b", 0, 1, D, 0);
    m->tok_emb = decl(&d, "dec.tok_emb", 0, 2, V, D);
    m->lat_pos = decl(&d, "dec.lat_pos", 0, 2, M, D);
    m->txt_pos = decl(&d, "dec.txt_pos", 0, 2, m->max_txt, D);
    m->seg_emb = decl(&d, "dec.seg_emb", 0, 2, 2, D);
    if (c->prompt_similarity) m->sim_emb = decl(&d, "dec.sim_emb", 0, 2, ICSTR_SIM_BANDS, D);
    if (c->glyph_labels) m->glyph_w = decl(&d, "dec.glyph_w", 1, 2, D, D);
    for (int l = 0; l < c->dec_layers; l++) {
        snprintf(name, sizeof name, "dec.blocks.%d", l);
        decl_block(&d, &m->dec[l], name, D, c->dec_mlp);
    }
    m->dec_lnf_w = decl(&d, "dec.ln_f.w", 0, 1, D, 0);
    m->dec_lnf_b = decl(&d, "dec.ln_f.b", 0, 1, D, 0);
    m->head_w = decl(&d, "dec.head.w", 1, 2, V, D);
    m->head_b = decl(&d, "dec.head.b", 0, 1, V, 0);
    return d.rc;
}

int icstr_model_create(const icstr_model_config *cfg, int with_train, icstr_model **out) {
    return icstr_model_create_(cfg, with_train, 1, out);
}

int icstr_model_create_(const icstr_model_config *cfg, int with_train, int init, icstr_model **out) {
    *out = NULL;
    if (!cfg) return icstr_fail(ICSTR_ERR_ARG, "model: no config");
    icstr_model *m = calloc(1, sizeof *m);
    if (!m) return icstr_fail(ICSTR_ERR_NOMEM, "model: cannot allocate the handle");
    icstr_slab_init(&m->slab);
    int rc = icstr_model_check_config_(cfg, m);
    if (rc) goto fail;
    m->enc = calloc((size_t)cfg->enc_layers + 1, sizeof *m->enc);
    m->res = calloc((size_t)cfg->resampler_layers + 1, sizeof *m->res);
    m->dec = calloc((size_t)cfg->dec_layers + 1, sizeof *m->dec);
    m->e.blk = calloc((size_t)cfg->enc_layers + 1, sizeof *m->e.blk);
    m->r.blk = calloc((size_t)cfg->resampler_layers + 1, sizeof *m->r.blk);
    m->d.blk = calloc((size_t)cfg->dec_layers + 1, sizeof *m->d.blk);
    if (!m->enc || !m->res || !m->dec || !m->e.blk || !m->r.blk || !m->d.blk) {
        rc = icstr_fail(ICSTR_ERR_NOMEM, "model: cannot allocate the layer tables");
        goto fail;
    }
    if ((rc = declare_all(m))) goto fail;
    if ((rc = icstr_slab_alloc(&m->slab, with_train))) goto fail;
    m->with_train = with_train;
    if (init) icstr_model_init_weights(m, 0);
    *out = m;
    return ICSTR_OK;
fail:
    icstr_model_free(m);
    return rc;
}

void icstr_model_freeze(icstr_model *m) {
    if (m && !m->frozen && icstr_ops_freeze(m->slab.data, m->slab.total) == ICSTR_OK) m->frozen = 1;
}

void icstr_model_free(icstr_model *m) {
    if (!m) return;
    if (m->frozen) icstr_ops_thaw(m->slab.data);
    icstr_slab_free(&m->slab);
    icstr_arena_free(&m->act);
    icstr_arena_free(&m->dec_ws);
    free(m->enc);
    free(m->res);
    free(m->dec);
    free(m->e.blk);
    free(m->r.blk);
    free(m->d.blk);
    free(m);
}

/* ---- initialisation ---- */

static void fill_normal(icstr_model *m, size_t off, size_t n, float std, icstr_rng *r) {
    float *p = mp(m, off);
    for (size_t i = 0; i < n; i++) p[i] = std * icstr_rng_normal(r);
}

static void fill_const(icstr_model *m, size_t off, size_t n, float v) {
    float *p = mp(m, off);
    for (size_t i = 0; i < n; i++) p[i] = v;
}

/* Standard pre-LN transformer init: N(0, 0.02) matrices, the two matrices that write into the
 * residual stream scaled down by sqrt(2 * layers) (GPT-2), zero biases, unit norms. */
static void init_block(icstr_model *m, const blk_params *p, int C, int F, int layers, icstr_rng *r) {
    float res_std = 0.02f / sqrtf(2.0f * (float)(layers > 0 ? layers : 1));
    fill_const(m, p->ln1_w, (size_t)C, 1.0f);
    fill_const(m, p->ln1_b, (size_t)C, 0.0f);
    fill_normal(m, p->qkv_w, (size_t)3 * C * C, 0.02f, r);
    fill_const(m, p->qkv_b, (size_t)3 * C, 0.0f);
    fill_normal(m, p->proj_w, (size_t)C * C, res_std, r);
    fill_const(m, p->proj_b, (size_t)C, 0.0f);
    fill_const(m, p->ln2_w, (size_t)C, 1.0f);
    fill_const(m, p->ln2_b, (size_t)C, 0.0f);
    fill_normal(m, p->fc1_w, (size_t)F * C, 0.02f, r);
    fill_const(m, p->fc1_b, (size_t)F, 0.0f);
    fill_normal(m, p->fc2_w, (size_t)C * F, res_std, r);
    fill_const(m, p->fc2_b, (size_t)C, 0.0f);
}

static void init_xblock(icstr_model *m, const xblk_params *p, int D, int E, int F, int layers,
                        icstr_rng *r) {
    float res_std = 0.02f / sqrtf(2.0f * (float)(layers > 0 ? layers : 1));
    fill_const(m, p->lnq_w, (size_t)D, 1.0f);
    fill_const(m, p->lnq_b, (size_t)D, 0.0f);
    fill_const(m, p->lnkv_w, (size_t)E, 1.0f);
    fill_const(m, p->lnkv_b, (size_t)E, 0.0f);
    fill_normal(m, p->q_w, (size_t)D * D, 0.02f, r);
    fill_const(m, p->q_b, (size_t)D, 0.0f);
    fill_normal(m, p->kv_w, (size_t)2 * D * E, 0.02f, r);
    fill_const(m, p->kv_b, (size_t)2 * D, 0.0f);
    fill_normal(m, p->proj_w, (size_t)D * D, res_std, r);
    fill_const(m, p->proj_b, (size_t)D, 0.0f);
    fill_const(m, p->ln2_w, (size_t)D, 1.0f);
    fill_const(m, p->ln2_b, (size_t)D, 0.0f);
    fill_normal(m, p->fc1_w, (size_t)F * D, 0.02f, r);
    fill_const(m, p->fc1_b, (size_t)F, 0.0f);
    fill_normal(m, p->fc2_w, (size_t)D * F, res_std, r);
    fill_const(m, p->fc2_b, (size_t)D, 0.0f);
}

/* 2-D sine-cosine table (MAE): a quarter of the channels each for sin(y w), cos(y w), sin(x w),
 * cos(x w) with w_k = 10000^(-k / quarter); leftover channels (C % 4) stay 0. */
static void sincos_2d(float *pos, int Hp, int Wp, int C) {
    int q = C / 4;
    for (int y = 0; y < Hp; y++)
        for (int x = 0; x < Wp; x++) {
            float *row = pos + ((size_t)y * Wp + x) * C;
            memset(row, 0, (size_t)C * sizeof *row);
            for (int k = 0; k < q; k++) {
                double w = pow(10000.0, -(double)k / (double)q);
                row[k] = (float)sin(y * w);
                row[q + k] = (float)cos(y * w);
                row[2 * q + k] = (float)sin(x * w);
                row[3 * q + k] = (float)cos(x * w);
            }
        }
}

void icstr_model_init_weights(icstr_model *m, uint64_t seed) {
    const icstr_model_config *c = &m->cfg;
    int E = c->enc_dim, D = c->dec_dim, M = c->latents, V = m->voc.vocab;
    icstr_rng r;
    icstr_rng_seed(&r, seed);
    if (c->stem == 1) {
        /* He init: the stem feeds GELUs */
        fill_normal(m, m->conv1_w, (size_t)m->c1 * 27, sqrtf(2.0f / 27.0f), &r);
        fill_const(m, m->conv1_b, (size_t)m->c1, 0.0f);
        fill_normal(m, m->conv2_w, (size_t)m->c2 * m->c1 * 9, sqrtf(2.0f / (9.0f * (float)m->c1)), &r);
        fill_const(m, m->conv2_b, (size_t)m->c2, 0.0f);
    }
    int pk = m->pin * m->sph * m->spw;
    fill_normal(m, m->patch_w, (size_t)E * pk, 1.0f / sqrtf((float)pk), &r);
    fill_const(m, m->patch_b, (size_t)E, 0.0f);
    sincos_2d(mp(m, m->enc_pos), m->Hp, m->Wp, E);
    for (int l = 0; l < c->enc_layers; l++) init_block(m, &m->enc[l], E, c->enc_mlp, c->enc_layers, &r);
    fill_const(m, m->enc_lnf_w, (size_t)E, 1.0f);
    fill_const(m, m->enc_lnf_b, (size_t)E, 0.0f);
    fill_normal(m, m->ctc_w, (size_t)m->ctc_v * E, 0.02f, &r);
    fill_const(m, m->ctc_b, (size_t)m->ctc_v, 0.0f);
    fill_normal(m, m->lat, (size_t)M * D, 0.02f, &r);
    /* unit-scale projection so the pooled column blocks dominate the latents at the start */
    fill_normal(m, m->pool_w, (size_t)D * E, 1.0f / sqrtf((float)E), &r);
    fill_const(m, m->pool_b, (size_t)D, 0.0f);
    for (int l = 0; l < c->resampler_layers; l++)
        init_xblock(m, &m->res[l], D, E, c->dec_mlp, c->resampler_layers, &r);
    fill_const(m, m->res_lnf_w, (size_t)D, 1.0f);
    fill_const(m, m->res_lnf_b, (size_t)D, 0.0f);
    fill_normal(m, m->tok_emb, (size_t)V * D, 0.02f, &r);
    fill_normal(m, m->lat_pos, (size_t)M * D, 0.02f, &r);
    fill_normal(m, m->txt_pos, (size_t)m->max_txt * D, 0.02f, &r);
    fill_normal(m, m->seg_emb, (size_t)2 * D, 0.02f, &r);
    /* zero: a model given the bands (init_from a model without them) starts as it was */
    if (c->prompt_similarity) fill_const(m, m->sim_emb, (size_t)ICSTR_SIM_BANDS * D, 0.0f);
    if (c->glyph_labels) {
        fill_const(m, m->glyph_w, (size_t)D * D, 0.0f);
        float *w = mp(m, m->glyph_w);
        for (int i = 0; i < D; i++) w[(size_t)i * D + i] = c->glyph_init;
    }
    for (int l = 0; l < c->dec_layers; l++) init_block(m, &m->dec[l], D, c->dec_mlp, c->dec_layers, &r);
    fill_const(m, m->dec_lnf_w, (size_t)D, 1.0f);
    fill_const(m, m->dec_lnf_b, (size_t)D, 0.0f);
    fill_normal(m, m->head_w, (size_t)V * D, 0.02f, &r);
    fill_const(m, m->head_b, (size_t)V, 0.0f);
}

icstr_slab *icstr_model_slab(icstr_model *m) { return &m->slab; }
const icstr_model_config *icstr_model_get_config(const icstr_model *m) { return &m->cfg; }
icstr_vocab_info icstr_model_vocab(const icstr_model *m) { return m->voc; }

/* ---- labels ---- */

int icstr_model_char_token_(const icstr_model *m, uint32_t cp) {
    int lo = 0, hi = m->voc.n_chars - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        if (m->cp_sorted[mid] == cp) return m->cp_sorted_id[mid];
        if (m->cp_sorted[mid] < cp) lo = mid + 1;
        else hi = mid - 1;
    }
    return -1;
}

int icstr_model_encode_label(const icstr_model *m, const char *utf8, int *tokens, int *n_out) {
    *n_out = 0;
    if (!utf8) return icstr_fail(ICSTR_ERR_ARG, "label: NULL");
    size_t len = strlen(utf8);
    int n = 0;
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        int k = utf8_decode((const unsigned char *)utf8 + i, len - i, &cp);
        if (!k) return icstr_fail(ICSTR_ERR_FORMAT, "label: invalid UTF-8 at byte %zu", i);
        int t = icstr_model_char_token_(m, cp);
        if (t < 0) {
            char ch[5] = {0};
            utf8_encode(cp, ch);
            return icstr_fail(ICSTR_ERR_RANGE, "label: '%s' (U+%04X) is not in the charset", ch,
                              (unsigned)cp);
        }
        if (n == m->cfg.max_label)
            return icstr_fail(ICSTR_ERR_RANGE, "label: longer than max_label = %d characters",
                              m->cfg.max_label);
        tokens[n++] = t;
        i += (size_t)k;
    }
    *n_out = n;
    return ICSTR_OK;
}

int icstr_model_decode_tokens(const icstr_model *m, const int *tokens, int n, char *utf8, int cap) {
    if (!utf8 || cap <= 0) return 0;
    int w = 0;
    for (int i = 0; i < n; i++) {
        if (tokens[i] < 0 || tokens[i] >= m->voc.n_chars) break;
        char buf[4];
        int k = utf8_encode(m->cp[tokens[i]], buf);
        if (w + k > cap - 1) break; /* never split a code point */
        memcpy(utf8 + w, buf, (size_t)k);
        w += k;
    }
    utf8[w] = '\0';
    return w;
}
