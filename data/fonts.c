/* Font discovery and loading for the renderer: scans font folders (and an optional list file),
 * maps every .ttf/.otf/.ttc once, and keeps the faces stb_truetype can draw Latin text with.
 *
 * A face is kept when it has non-empty glyphs for a-z A-Z 0-9 and . , - ' ! ? : ( ) /, renders
 * ink, and passes cheap shape checks that drop symbol and dingbat fonts mapped onto ASCII (a '.'
 * smaller than an 'M', an 'i' narrower than a 'W', x-height below the ascender). Optional
 * characters a face lacks are recorded so the text is redrawn for it. Faces whose lowercase
 * letters are capitals are marked caps_only (their labels are upper-cased: the crop shows capitals).
 *
 * Sizes are normalised to the ink: one nominal unit is the distance from the top of 'H'/'d' to the
 * bottom of 'p'/'g', so every face draws at the same visual size whatever its vertical metrics.
 *
 * Sampling weight: the faces of one folder (usually one Debian package or family) share a weight
 * that grows as the square root of their number, so a package of 465 display faces does not
 * drown the 20 faces of DejaVu, and a family with many weights still counts for more than one.
 * Within that, heavier faces (more ink per glyph box) weigh more: sign text is mostly bold.
 */
#include "render_internal.h"
#include "files.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_FONT_FILES 20000
#define MAX_FONT_BYTES ((off_t)64 * 1024 * 1024)
#define MAX_SCAN_DEPTH 12

/* Faces that pass the checks but draw something other than the letters asked for (found by
 * looking at a sheet of every face): matched against the file's base name. */
static const char *const blocklist[] = {
    "StandardSymbolsPS.otf", /* Greek letters on the ASCII codes */
    "encapsul.ttf",
    "jawbrko2.ttf",
    "konecto1.ttf",
    "konecto2.ttf",
    "sclnmaze.ttf", /* unreadable */
    "sequence.ttf", /* capitals drawn as lowercase */
    "wyvernww.ttf", /* 'H' and 'u' look like 'O' */
    "dkg.ttf",      /* '?' 'E' 'W' 'Z': stb_truetype reads past its vertex array (nothings/stb#1962;
                       found by scripts/valgrind.sh) */
    "dkgIt.ttf",
    NULL,
};

typedef struct {
    char *path; /* as found (groups by its folder) */
    char *real; /* realpath, for de-duplication and order */
} font_file;

typedef struct {
    font_file *v;
    int n, cap;
} file_list;

static int has_font_ext(const char *name) {
    const char *dot = strrchr(name, '.');
    return dot && (!strcasecmp(dot, ".ttf") || !strcasecmp(dot, ".otf") || !strcasecmp(dot, ".ttc"));
}

static int list_add(file_list *l, const char *path) {
    char real[PATH_MAX];
    if (!realpath(path, real)) return ICSTR_OK; /* dangling link: skip */
    if (l->n >= MAX_FONT_FILES) return icstr_fail(ICSTR_ERR_LIMIT, "more than %d font files", MAX_FONT_FILES);
    if (l->n == l->cap) {
        int cap = l->cap ? 2 * l->cap : 256;
        font_file *v = realloc(l->v, (size_t)cap * sizeof *v);
        if (!v) return icstr_fail(ICSTR_ERR_NOMEM, "font list");
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n].path = strdup(path);
    l->v[l->n].real = strdup(real);
    if (!l->v[l->n].path || !l->v[l->n].real) {
        free(l->v[l->n].path);
        free(l->v[l->n].real);
        return icstr_fail(ICSTR_ERR_NOMEM, "font list");
    }
    l->n++;
    return ICSTR_OK;
}

static int scan_dir(file_list *l, const char *dir) {
    icstr_paths found = {0};
    int rc = icstr_paths_scan(&found, dir, MAX_SCAN_DEPTH, has_font_ext, MAX_FONT_FILES);
    if (rc) rc = icstr_fail_context(rc, "font folder");
    for (int i = 0; i < found.n && rc == ICSTR_OK; i++) rc = list_add(l, found.v[i]);
    icstr_paths_free(&found);
    return rc;
}

static int read_list_file(file_list *l, const char *list_file) {
    FILE *f = fopen(list_file, "r");
    if (!f) return icstr_fail(ICSTR_ERR_IO, "font list %s: %s", list_file, strerror(errno));
    char line[PATH_MAX + 2];
    int rc = ICSTR_OK;
    while (rc == ICSTR_OK && fgets(line, sizeof line, f)) {
        size_t n = strlen(line);
        while (n && isspace((unsigned char)line[n - 1])) line[--n] = 0;
        char *p = line;
        while (isspace((unsigned char)*p)) p++;
        if (!*p || *p == '#') continue;
        rc = list_add(l, p);
    }
    fclose(f);
    return rc;
}

static int cmp_real(const void *a, const void *b) {
    return strcmp(((const font_file *)a)->real, ((const font_file *)b)->real);
}

static int blocked(const char *path) {
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    for (int i = 0; blocklist[i]; i++)
        if (!strcasecmp(base, blocklist[i])) return 1;
    return 0;
}

/* Glyph box in font units, y up; 0 when the glyph has no outline. */
static int glyph_box(const stbtt_fontinfo *info, int g, int *x0, int *y0, int *x1, int *y1) {
    if (!g || stbtt_IsGlyphEmpty(info, g)) return 0;
    if (!stbtt_GetGlyphBox(info, g, x0, y0, x1, y1)) return 0;
    return *x1 > *x0 && *y1 > *y0;
}

/* Share of the glyph's box its ink covers at this scale (0 when nothing renders). */
static float ink_cover(const stbtt_fontinfo *info, int g, float scale) {
    int x0, y0, x1, y1;
    stbtt_GetGlyphBitmapBox(info, g, scale, scale, &x0, &y0, &x1, &y1);
    int w = x1 - x0, h = y1 - y0;
    if (w <= 0 || h <= 0 || w > 512 || h > 512) return 0;
    unsigned char *buf = calloc((size_t)w * h, 1);
    if (!buf) return 0;
    stbtt_MakeGlyphBitmap(info, buf, w, h, w, scale, scale, g);
    long sum = 0;
    for (int i = 0; i < w * h; i++) sum += buf[i];
    free(buf);
    return sum > 255 * 2 ? (float)sum / (255.0f * (float)(w * h)) : 0.0f;
}

/* Fills f from a face of the mapped file; 1 if it is usable. */
static int check_face(icstr_face *f, const unsigned char *data, int offset) {
    if (!stbtt_InitFont(&f->info, data, offset)) return 0;
    const stbtt_fontinfo *info = &f->info;
    int box[RENDER_NCHARS][4];
    int ok[RENDER_NCHARS];
    for (int c = 33; c < 127; c++) {
        int g = stbtt_FindGlyphIndex(info, c);
        int *b = box[c - 32];
        ok[c - 32] = glyph_box(info, g, &b[0], &b[1], &b[2], &b[3]);
        f->glyph[c - 32] = ok[c - 32] ? g : 0;
    }
    static const char required[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.,-'!?:()/";
    for (const char *p = required; *p; p++)
        if (!ok[*p - 32]) return 0;
#define B(ch, k) ((float)box[(ch)-32][k])
#define W(ch) (B(ch, 2) - B(ch, 0))
#define H(ch) (B(ch, 3) - B(ch, 1))
    /* shape checks against symbol fonts mapped onto ASCII */
    if (W('.') * H('.') > 0.35f * W('M') * H('M')) return 0;
    if (W('i') > 0.8f * W('W')) return 0;
    if (H('-') > 0.6f * H('H')) return 0;
    int same = 0, distinct = 0;
    for (int c = 'a'; c <= 'z'; c++) {
        int u = c - 'a' + 'A';
        if (f->glyph[c - 32] == f->glyph[u - 32] ||
            (B(c, 0) == B(u, 0) && B(c, 1) == B(u, 1) && B(c, 2) == B(u, 2) && B(c, 3) == B(u, 3)))
            same++;
    }
    f->caps_only = same >= 20;
    if (!f->caps_only && H('o') > 0.9f * H('l')) return 0;
    for (int c = 'A'; c <= 'Z'; c++)
        for (int d = c + 1; d <= 'Z'; d++)
            if (f->glyph[c - 32] == f->glyph[d - 32]) goto dup;
    distinct = 1;
dup:
    if (!distinct) return 0;
    float top = fmaxf(B('H', 3), B('d', 3)), bottom = fminf(B('p', 1), B('g', 1));
    if (f->caps_only) bottom = fminf(bottom, B('H', 1));
    if (!(top - bottom > 0)) return 0;
    f->unit = 1.0f / (top - bottom);
    f->ascent = top * f->unit;
    /* the font is meant to be drawn at this scale; it must give ink at a small pixel size */
    float s32 = 32.0f * f->unit;
    float ca = ink_cover(info, f->glyph['a' - 32], s32), cm = ink_cover(info, f->glyph['M' - 32], s32);
    float c0 = ink_cover(info, f->glyph['0' - 32], s32), ch = ink_cover(info, f->glyph['H' - 32], s32);
    if (ca <= 0 || cm <= 0 || c0 <= 0 || ch <= 0) return 0;
    f->boldness = 0.25f * (ca + cm + c0 + ch);
    int adv, lsb, gs = stbtt_FindGlyphIndex(info, ' ');
    if (gs) {
        stbtt_GetGlyphHMetrics(info, gs, &adv, &lsb);
        f->space_adv = (float)adv * f->unit;
    } else {
        f->space_adv = 0;
    }
    if (!(f->space_adv > 0.1f && f->space_adv < 1.5f)) f->space_adv = 0.3f;
    f->glyph[0] = gs; /* the space: drawn as an advance only */
    /* fixed pitch: i, m, W and 0 advance alike (within 2%) */
    int adv_i;
    stbtt_GetGlyphHMetrics(info, f->glyph['i' - 32], &adv_i, &lsb);
    f->mono = adv_i > 0;
    for (const char *c = "mW0"; *c && f->mono; c++) {
        stbtt_GetGlyphHMetrics(info, f->glyph[*c - 32], &adv, &lsb);
        f->mono = abs(adv - adv_i) * 50 <= adv_i;
    }
#undef B
#undef W
#undef H
    return 1;
}

void icstr_fontset_free(icstr_fontset *fs) {
    if (!fs) return;
    for (int i = 0; i < fs->n; i++) free(fs->faces[i].path);
    for (int i = 0; i < fs->n_maps; i++) munmap(fs->maps[i], fs->map_len[i]);
    free(fs->faces);
    free(fs->cum);
    free(fs->mono_ids);
    free(fs->maps);
    free(fs->map_len);
    free(fs);
}

static int map_file(const char *path, void **addr, size_t *len) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return icstr_fail(ICSTR_ERR_IO, "%s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) || st.st_size < 12 || st.st_size > MAX_FONT_BYTES) {
        close(fd);
        return icstr_fail(ICSTR_ERR_RANGE, "%s: not a font-sized file", path);
    }
    void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (p == MAP_FAILED) return icstr_fail(ICSTR_ERR_IO, "mmap %s: %s", path, strerror(errno));
    *addr = p;
    *len = (size_t)st.st_size;
    return ICSTR_OK;
}

static void free_list(file_list *l) {
    for (int i = 0; i < l->n; i++) {
        free(l->v[i].path);
        free(l->v[i].real);
    }
    free(l->v);
}

int icstr_fontset_load(const char *dirs, const char *list_file, int max_fonts, icstr_fontset **out) {
    if (!out) return icstr_fail(ICSTR_ERR_ARG, "fontset: NULL out");
    *out = NULL;
    file_list l = {0};
    int rc = ICSTR_OK;
    if (!dirs) dirs = "/usr/share/fonts";
    char *dcopy = strdup(dirs);
    if (!dcopy) return icstr_fail(ICSTR_ERR_NOMEM, "fontset");
    char *save = NULL;
    for (char *d = strtok_r(dcopy, ":", &save); d && rc == ICSTR_OK; d = strtok_r(NULL, ":", &save))
        rc = scan_dir(&l, d);
    free(dcopy);
    if (rc == ICSTR_OK && list_file && *list_file) rc = read_list_file(&l, list_file);
    if (rc) {
        free_list(&l);
        return rc;
    }
    if (l.n > 1) qsort(l.v, (size_t)l.n, sizeof *l.v, cmp_real);

    icstr_fontset *fs = calloc(1, sizeof *fs);
    if (!fs) {
        free_list(&l);
        return icstr_fail(ICSTR_ERR_NOMEM, "fontset");
    }
    int cap = 0;
    char **groups = NULL;
    int n_groups = 0, rejected = 0;
    for (int i = 0; i < l.n && rc == ICSTR_OK; i++) {
        if (i > 0 && !strcmp(l.v[i].real, l.v[i - 1].real)) continue;
        if (max_fonts > 0 && fs->n >= max_fonts) break;
        if (blocked(l.v[i].path)) continue;
        void *addr = NULL;
        size_t len = 0;
        if (map_file(l.v[i].real, &addr, &len)) {
            ICSTR_DEBUG("font skipped: %s", icstr_last_error());
            continue;
        }
        void **maps = realloc(fs->maps, (size_t)(fs->n_maps + 1) * sizeof *maps);
        size_t *lens = maps ? realloc(fs->map_len, (size_t)(fs->n_maps + 1) * sizeof *lens) : NULL;
        if (maps) fs->maps = maps;
        if (lens) fs->map_len = lens;
        if (!maps || !lens) {
            munmap(addr, len);
            rc = icstr_fail(ICSTR_ERR_NOMEM, "fontset");
            break;
        }
        fs->maps[fs->n_maps] = addr;
        fs->map_len[fs->n_maps++] = len;
        int nfaces = stbtt_GetNumberOfFonts(addr);
        if (nfaces < 1 || nfaces > 64) nfaces = 1;
        int kept_here = 0;
        for (int k = 0; k < nfaces && rc == ICSTR_OK; k++) {
            if (max_fonts > 0 && fs->n >= max_fonts) break;
            int off = stbtt_GetFontOffsetForIndex(addr, k);
            if (off < 0 || (size_t)off >= len) continue;
            if (fs->n == cap) {
                cap = cap ? 2 * cap : 256;
                icstr_face *v = realloc(fs->faces, (size_t)cap * sizeof *v);
                if (!v) {
                    rc = icstr_fail(ICSTR_ERR_NOMEM, "fontset");
                    break;
                }
                fs->faces = v;
            }
            icstr_face *f = &fs->faces[fs->n];
            memset(f, 0, sizeof *f);
            if (!check_face(f, addr, off)) {
                rejected++;
                ICSTR_DEBUG("font rejected: %s#%d", l.v[i].path, k);
                continue;
            }
            f->face_index = k;
            f->path = strdup(l.v[i].real);
            if (!f->path) {
                rc = icstr_fail(ICSTR_ERR_NOMEM, "fontset");
                break;
            }
            /* group: the folder the file was found in */
            const char *slash = strrchr(l.v[i].path, '/');
            size_t dlen = slash ? (size_t)(slash - l.v[i].path) : 0;
            int g;
            for (g = 0; g < n_groups; g++)
                if (strlen(groups[g]) == dlen && !strncmp(groups[g], l.v[i].path, dlen)) break;
            if (g == n_groups) {
                char **ng = realloc(groups, (size_t)(n_groups + 1) * sizeof *ng);
                if (!ng || !(ng[n_groups] = strndup(l.v[i].path, dlen))) {
                    if (ng) groups = ng;
                    free(f->path);
                    rc = icstr_fail(ICSTR_ERR_NOMEM, "fontset");
                    break;
                }
                groups = ng;
                n_groups++;
            }
            f->group = g;
            fs->n++;
            kept_here++;
        }
        if (!kept_here) { /* nothing usable in this file: give the mapping back */
            munmap(fs->maps[fs->n_maps - 1], fs->map_len[fs->n_maps - 1]);
            fs->n_maps--;
        }
    }
    for (int g = 0; g < n_groups; g++) free(groups[g]);
    free(groups);
    free_list(&l);
    if (rc == ICSTR_OK && fs->n == 0)
        rc = icstr_fail(ICSTR_ERR_NOTFOUND, "no usable font in %s%s%s (install scripts/debian-packages.txt)",
                        dirs, list_file ? " or " : "", list_file ? list_file : "");
    if (rc == ICSTR_OK && !(fs->cum = malloc((size_t)fs->n * sizeof *fs->cum)))
        rc = icstr_fail(ICSTR_ERR_NOMEM, "fontset");
    if (rc) {
        icstr_fontset_free(fs);
        return rc;
    }
    int *count = calloc((size_t)n_groups + 1, sizeof *count);
    if (!count) {
        icstr_fontset_free(fs);
        return icstr_fail(ICSTR_ERR_NOMEM, "fontset");
    }
    for (int i = 0; i < fs->n; i++) count[fs->faces[i].group]++;
    double total = 0;
    for (int i = 0; i < fs->n; i++) {
        /* signs favour heavy strokes: bold faces are drawn more often, hairlines less */
        double heavy = fs->faces[i].boldness / 0.33;
        heavy = heavy < 0.5 ? 0.5 : heavy > 1.8 ? 1.8 : heavy;
        fs->faces[i].weight = heavy / sqrt((double)count[fs->faces[i].group]);
        total += fs->faces[i].weight;
        fs->cum[i] = total;
    }
    free(count);
    if (!(fs->mono_ids = malloc((size_t)fs->n * sizeof *fs->mono_ids))) {
        icstr_fontset_free(fs);
        return icstr_fail(ICSTR_ERR_NOMEM, "fontset");
    }
    for (int i = 0; i < fs->n; i++)
        if (fs->faces[i].mono) fs->mono_ids[fs->n_mono++] = i;
    ICSTR_DEBUG("fonts: %d faces kept, %d rejected, %d folders", fs->n, rejected, n_groups);
    *out = fs;
    return ICSTR_OK;
}

int icstr_fontset_pick(const icstr_fontset *fs, icstr_rng *rng) {
    double u = (double)icstr_rng_uniform(rng) * fs->cum[fs->n - 1];
    int lo = 0, hi = fs->n - 1;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (fs->cum[mid] > u)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

int icstr_fontset_pick_mono(const icstr_fontset *fs, icstr_rng *rng) {
    if (fs->n_mono == 0) return icstr_fontset_pick(fs, rng);
    return fs->mono_ids[icstr_rng_below(rng, (uint32_t)fs->n_mono)];
}

int icstr_face_covers(const icstr_face *f, const char *s) {
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c < 32 || c > 126) return 0;
        if (c != ' ' && !f->glyph[c - 32]) return 0;
    }
    return 1;
}
