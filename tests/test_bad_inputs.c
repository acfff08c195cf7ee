/* Bad input end to end, through the built icstr binary: a folder of 1000 crops, 950 drawn here and
 * 50 odd ones of 20 kinds (empty, truncated, not images, absurd headers, a 1x1 and a 20000x20 image
 * that decode but are no text crop (icstr_image_check_crop), a directory and a broken symlink
 * with image names, an unreadable file; kind j % 20 for odd file j), recognized with a tiny model trained for 2 steps. Every good crop must get exactly one stdout line, every bad one
 * a stderr line naming it with a reason, the exit code must be 1, and --json must say the same
 * with error objects. Then labels `icstr pool add` must refuse (empty, outside the charset, over
 * max_label, over the record limit, not UTF-8) with clear messages and without touching the pool.
 * Uses $ICSTR_BUILD_DIR (set by ctest) for the binary; ICSTR_KEEP_TMP=1 keeps the fixtures. */
#include "check.h"
#include "cli_util.h"
#include "icstr_core.h"
#include "icstr_data.h"

#include <stb_image_write.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define N_GOOD 950
#define N_KINDS 20
#define N_ODD 50
#define N_ALL (N_GOOD + N_ODD)

static char B[4096], T[4096], D[4200];

typedef struct {
    const char *name;
    int valid;          /* 1: a real image, must be recognized */
    const char *reason; /* a piece of the expected reason on stderr (NULL: any non-empty reason) */
} odd_file;

/* The 20 kinds of odd file; the first of each kind by this name, the others xNN_<the same suffix>
 * (odd_name). */
static odd_file odd[N_KINDS] = {
    {"x01_empty.png", 0, "empty image"},
    {"x02_truncated.png", 0, "truncated or corrupt png data"},
    {"x03_text.png", 0, "unknown image type"},
    {"x04_random.png", 0, NULL},
    {"x05_huge_header.png", 0, "over the limit"},
    {"x06_one_pixel.png", 0, "too small to hold text"},
    {"x07_very_wide.png", 0, "1000 times as wide as tall"},
    {"x08_dir.png", 0, "directory"},
    {"x09_unreadable.png", 0, "Permission denied"}, /* valid when run as root: root reads it */
    {"x10_dangling.png", 0, "No such file"},
    {"x11_truncated.jpg", 0, "truncated or corrupt jpeg header"},
    {"x12_huge_header.bmp", 0, "over the limit"},
    {"x13_header_only.png", 0, "truncated or corrupt png data"},
    {"x14_bad_zlib.png", 0, "bad zlib header"},
    {"x15_header_only.gif", 0, "no pixels"},
    {"x16_no_pixels.ppm", 0, "no pixels"},
    {"x17_truncated16.pgm", 0, "truncated"},
    {"x18_zero_width.png", 0, "no pixels"},
    {"x19_jpeg_junk.png", 0, "truncated or corrupt jpeg header"},
    {"x20_pdf.png", 0, "unknown image type"},
};

static int write_file(const char *path, const void *b, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    size_t w = n ? fwrite(b, 1, n, f) : 0;
    return fclose(f) || w != n ? -1 : 0;
}

/* name in the crops folder */
static int write_bytes(const char *name, const void *b, size_t n) {
    char path[8300];
    snprintf(path, sizeof path, "%s/%s", D, name);
    return write_file(path, b, n);
}

/* A crop with a word drawn on it; size, colours and format vary with i. */
static int write_crop(int i) {
    static const char *words[] = {"open", "EXIT", "42", "Cafe", "road", "STOP", "x7", "main st", "OK", "lamp"};
    int scale = 1 + i % 3, w, h;
    char text[32];
    snprintf(text, sizeof text, "%s%d", words[i % 10], i);
    icstr_text_size(text, scale, &w, &h);
    unsigned char bg[3] = {(unsigned char)(120 + (i * 37) % 136), (unsigned char)(200 - i % 50), 220};
    unsigned char fg[3] = {(unsigned char)(i % 60), 20, (unsigned char)(80 - i % 70)};
    icstr_image im;
    if (icstr_image_alloc(w + 8 + i % 13, h + 6 + i % 5, bg, &im)) return -1;
    icstr_draw_text(&im, 4, 3, text, scale, fg);
    int rc = 0;
    char name[32];
    if (i % 9 == 4) { /* a few JPEG and BMP crops among the PNGs */
        icstr_byte_sink s = {0};
        snprintf(name, sizeof name, "c%03d.%s", i, i % 2 ? "bmp" : "jpg");
        int ok = i % 2 ? stbi_write_bmp_to_func(icstr_byte_sink_write, &s, im.w, im.h, 3, im.rgb)
                       : stbi_write_jpg_to_func(icstr_byte_sink_write, &s, im.w, im.h, 3, im.rgb, 85);
        rc = ok && !s.failed ? write_bytes(name, s.buf, s.len) : -1;
        icstr_byte_sink_free(&s);
    } else {
        char path[8300];
        snprintf(path, sizeof path, "%s/c%03d.png", D, i);
        rc = icstr_image_write_png(path, im.w, im.h, 3, im.rgb);
    }
    icstr_image_free(&im);
    return rc;
}

static unsigned char *png_of(int w, int h, size_t *n) {
    icstr_image im;
    unsigned char col[3] = {30, 160, 90};
    if (icstr_image_alloc(w, h, col, &im)) return NULL;
    unsigned char *png = NULL;
    if (icstr_image_encode_png(w, h, 3, im.rgb, &png, n)) png = NULL;
    icstr_image_free(&im);
    return png;
}

static void put_be32(unsigned char *p, uint32_t v) {
    p[0] = (unsigned char)(v >> 24), p[1] = (unsigned char)(v >> 16), p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

static int make_odd_files(void) {
    int bad = 0;
    size_t n;
    unsigned char *png = png_of(40, 16, &n);
    if (!png) return -1;
    /* the IDAT chunk starts after the signature (8) and IHDR (25): length, "IDAT", zlib header */
    if (n < 45 || memcmp(png + 37, "IDAT", 4)) return -1;
    bad |= write_bytes(odd[0].name, "", 0);
    bad |= write_bytes(odd[1].name, png, n / 2);
    const char *txt = "name,label\nfoo.png,hello\n";
    bad |= write_bytes(odd[2].name, txt, strlen(txt));
    unsigned char rnd[512];
    icstr_rng r;
    icstr_rng_seed(&r, 20);
    for (size_t i = 0; i < sizeof rnd; i++) rnd[i] = (unsigned char)icstr_rng_below(&r, 256);
    rnd[0] = 0x42; /* 'B' then not 'M': not a BMP; fixed, so no other format's magic */
    rnd[1] = 0x17;
    bad |= write_bytes(odd[3].name, rnd, sizeof rnd);
    unsigned char *huge = malloc(n);
    if (!huge) return -1;
    memcpy(huge, png, n);
    put_be32(huge + 16, 100000);
    put_be32(huge + 20, 100000);
    bad |= write_bytes(odd[4].name, huge, n);
    put_be32(huge + 16, 0); /* zero width */
    put_be32(huge + 20, 16);
    bad |= write_bytes(odd[17].name, huge, n);
    free(huge);
    size_t n1, nw, nc;
    unsigned char *one = png_of(1, 1, &n1), *wide = png_of(20000, 20, &nw), *crop = png_of(24, 12, &nc);
    if (!one || !wide || !crop) return -1;
    bad |= write_bytes(odd[5].name, one, n1);
    bad |= write_bytes(odd[6].name, wide, nw);
    /* the unreadable file holds a crop (root reads it); its copies come from T/unreadable.png */
    bad |= write_bytes(odd[8].name, crop, nc);
    char keep[8300];
    snprintf(keep, sizeof keep, "%s/unreadable.png", T);
    bad |= write_file(keep, crop, nc);
    free(one);
    free(wide);
    free(crop);
    char path[8300];
    snprintf(path, sizeof path, "%s/%s", D, odd[7].name);
    bad |= mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/%s", D, odd[8].name);
    bad |= chmod(path, 0);
    snprintf(path, sizeof path, "%s/%s", D, odd[9].name);
    bad |= symlink("/nonexistent/icstr/nowhere.png", path);
    /* a JPEG cut after its first 100 bytes */
    icstr_image im;
    unsigned char col[3] = {200, 40, 40};
    icstr_byte_sink s = {0};
    if (icstr_image_alloc(48, 16, col, &im) ||
        !stbi_write_jpg_to_func(icstr_byte_sink_write, &s, im.w, im.h, 3, im.rgb, 90) || s.len < 200)
        return -1;
    icstr_image_free(&im);
    bad |= write_bytes(odd[10].name, s.buf, 100);
    icstr_byte_sink_free(&s);
    /* a BMP header claiming 100000 x 100000 pixels at 24 bits, and no pixels */
    unsigned char bmp[54] = {'B', 'M'};
    bmp[10] = 54, bmp[14] = 40;
    bmp[18] = 0xA0, bmp[19] = 0x86, bmp[20] = 0x01;  /* width 100000, little-endian */
    bmp[22] = 0xA0, bmp[23] = 0x86, bmp[24] = 0x01;  /* height */
    bmp[26] = 1, bmp[28] = 24;
    bad |= write_bytes(odd[11].name, bmp, sizeof bmp);
    bad |= write_bytes(odd[12].name, png, 33);  /* signature and IHDR only */
    unsigned char *z = malloc(n);
    if (!z) return -1;
    memcpy(z, png, n);
    z[41] = 0xFF, z[42] = 0xFF;  /* the zlib header: no valid method */
    bad |= write_bytes(odd[13].name, z, n);
    free(z);
    bad |= write_bytes(odd[14].name, "GIF89a\x10\x00", 8);
    const char *p0 = "P6\n0 5\n255\n";
    bad |= write_bytes(odd[15].name, p0, strlen(p0));
    const char *p16 = "P5 4 4 65535\n\x01\x02\x03";
    bad |= write_bytes(odd[16].name, p16, strlen(p16));
    bad |= write_bytes(odd[18].name, "\xFF\xD8\xFF\xE0junk junk junk", 18);
    const char *pdf = "%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n";
    bad |= write_bytes(odd[19].name, pdf, strlen(pdf));
    free(png);
    return bad ? -1 : 0;
}

/* The name of odd file j (0 .. N_ODD - 1), of kind j % N_KINDS. */
static void odd_name(int j, char *buf, size_t cap) {
    const char *kind = odd[j % N_KINDS].name;
    if (j < N_KINDS) snprintf(buf, cap, "%s", kind);
    else snprintf(buf, cap, "x%02d%s", j + 1, strchr(kind, '_'));
}

/* The odd files past the first of each kind: copies of it (the directory made again, the
 * unreadable file copied and made unreadable, the dangling symlink pointing nowhere alike). */
static int replicate_odd_files(void) {
    char from[8300], to[8300], name[64];
    int bad = 0;
    for (int j = N_KINDS; j < N_ODD && !bad; j++) {
        int k = j % N_KINDS;
        odd_name(j, name, sizeof name);
        snprintf(from, sizeof from, "%s/%s", D, odd[k].name);
        snprintf(to, sizeof to, "%s/%s", D, name);
        if (k == 7) bad |= mkdir(to, 0755);
        else if (k == 9) bad |= symlink("/nonexistent/icstr/nowhere.png", to);
        else if (k == 8) { /* the first is unreadable already: the same bytes from T */
            snprintf(from, sizeof from, "%s/unreadable.png", T);
            bad |= sh("cp '%s' '%s' && chmod 0 '%s'", from, to, to) != 0;
        }
        else bad |= sh("cp '%s' '%s'", from, to) != 0;
    }
    return bad ? -1 : 0;
}

static int line_count(const char *s) {
    int n = 0;
    for (; s && *s; s++) n += *s == '\n';
    return n;
}

/* The line of text that starts with prefix (at a line start), or NULL. */
static const char *find_line(const char *text, const char *prefix) {
    size_t n = strlen(prefix);
    for (const char *p = text; p && *p;) {
        if (!strncmp(p, prefix, n)) return p;
        p = strchr(p, '\n');
        if (p) p++;
    }
    return NULL;
}

static int expect_valid(int k) {
    return odd[k].valid || (k == 8 && geteuid() == 0); /* root reads a mode 000 file anyway */
}

static void check_recognize(const char *model, int json) {
    CHECK(sh("'%s/icstr' recognize --model '%s' --threads 1 --batch 32 %s '%s' > '%s/out.txt' 2> '%s/err.txt'", B,
             model, json ? "--json" : "", D, T, T) == 1);
    char *out = slurp("%s/out.txt", T), *err = slurp("%s/err.txt", T);
    CHECK(out && err);
    if (!out || !err) {
        free(out);
        free(err);
        return;
    }
    int n_valid = N_GOOD, n_bad = 0;
    for (int j = 0; j < N_ODD; j++) expect_valid(j % N_KINDS) ? n_valid++ : n_bad++;
    /* one line per crop with --json (errors too), one per readable crop without */
    CHECK_MSG(line_count(out) == (json ? N_ALL : n_valid), "%d stdout lines", line_count(out));
    char prefix[8400], name[64];
    for (int i = 0; i < N_ALL; i++) {
        int k = i < N_GOOD ? -1 : (i - N_GOOD) % N_KINDS, valid = k < 0 || expect_valid(k);
        if (k < 0) snprintf(name, sizeof name, "c%03d.%s", i, i % 9 == 4 ? (i % 2 ? "bmp" : "jpg") : "png");
        else odd_name(i - N_GOOD, name, sizeof name);
        if (json) snprintf(prefix, sizeof prefix, "{\"path\": \"%s/%s\", ", D, name);
        else snprintf(prefix, sizeof prefix, "%s/%s\t", D, name);
        const char *l = find_line(out, prefix);
        if (valid) {
            CHECK_MSG(l != NULL, "%s: no result line", name);
            if (!l) continue;
            l += strlen(prefix);
            double conf = -1;
            if (json) {
                const char *c = strstr(l, "\"confidence\": ");
                CHECK_MSG(!strncmp(l, "\"text\": \"", 9) && c && c < strchr(l, '\n'), "%s: %.80s", name, l);
                if (c) conf = atof(c + 14);
            } else {
                const char *tab = strchr(l, '\t');
                CHECK_MSG(tab && tab < strchr(l, '\n'), "%s: %.80s", name, l);
                if (tab) conf = atof(tab + 1);
            }
            CHECK_MSG(conf >= 0 && conf <= 1, "%s: confidence %g", name, conf);
        } else {
            if (json) {
                CHECK_MSG(l && !strncmp(l + strlen(prefix), "\"error\": \"", 10) && l[strlen(prefix) + 10] != '"',
                          "%s: no JSON error object", name);
            } else {
                CHECK_MSG(l == NULL, "%s: a result line for a broken file", name);
            }
            /* stderr: "icstr recognize: DIR/NAME: reason" */
            snprintf(prefix, sizeof prefix, "icstr recognize: %s/%s: ", D, name);
            const char *e = find_line(err, prefix);
            CHECK_MSG(e != NULL, "%s: not reported on stderr", name);
            if (e) {
                e += strlen(prefix);
                const char *eol = strchr(e, '\n');
                CHECK_MSG(eol && eol > e, "%s: no reason", name);
                if (odd[k].reason && eol) {
                    char reason[512];
                    snprintf(reason, sizeof reason, "%.*s", (int)(eol - e), e);
                    CHECK_MSG(strstr(reason, odd[k].reason) != NULL, "%s: reason '%s' lacks '%s'", name, reason,
                              odd[k].reason);
                }
            }
        }
    }
    char summary[128];
    snprintf(summary, sizeof summary, "icstr recognize: %d of %d crops could not be read\n", n_bad, N_ALL);
    CHECK_MSG(strstr(err, summary) != NULL, "no summary '%s' in:\n%s", summary, err);
    CHECK(line_count(err) == n_bad + 1); /* nothing else on stderr at the default log level */
    free(out);
    free(err);
}

/* `icstr pool add P IMAGE LABEL` (IMAGE a file of the folder): the exit code and whether stderr
 * holds want. */
static int pool_add_image(const char *image, const char *label, const char *want) {
    char img[8300];
    snprintf(img, sizeof img, "%s/%s", D, image);
    /* the label goes through a file and $(cat) so any byte reaches argv unchanged */
    char lf[8300];
    snprintf(lf, sizeof lf, "%s/label.txt", T);
    FILE *f = fopen(lf, "wb");
    if (!f) return -1;
    fputs(label, f);
    fclose(f);
    int rc = sh("'%s/icstr' pool add '%s/pool' '%s' \"$(cat '%s')\" > '%s/out.txt' 2> '%s/err.txt'", B, T, img, lf, T,
                T);
    char *err = slurp("%s/err.txt", T);
    if (want) CHECK_MSG(err && strstr(err, want), "label '%.40s': stderr lacks '%s': %s", label, want, err ? err : "");
    free(err);
    return rc;
}

static int pool_add(const char *label, const char *want) { return pool_add_image("c001.png", label, want); }

static void check_pool_labels(const char *model) {
    CHECK(sh("'%s/icstr' pool create '%s/pool' --model '%s' > /dev/null 2>&1", B, T, model) == 0);
    char long_label[2100];
    memset(long_label, 'a', 2000);
    long_label[2000] = 0;
    CHECK(pool_add("", "refused: empty label") == 1);
    CHECK(pool_add("h\xC3\xA9llo", "'\xC3\xA9' (U+00E9) is not in the charset") == 1);
    CHECK(pool_add("a\tb", "(U+0009) is not in the charset") == 1);
    CHECK(pool_add("abcdefghijklmnopqrstuvwxyz", "longer than max_label = 25 characters") == 1);
    CHECK(pool_add(long_label, "is 2000 bytes long, over the limit of 1024 bytes") == 1);
    CHECK(pool_add("ab\xFF", "label is not valid UTF-8") == 1);
    CHECK(pool_add("ab\xC3", "label is not valid UTF-8") == 1);
    /* a good label on an image that is no text crop */
    CHECK(pool_add_image(odd[5].name, "dot", "too small to hold text") == 1);
    CHECK(pool_add_image(odd[6].name, "strip", "1000 times as wide as tall") == 1);
    /* a good label after all that; the pool holds it alone, exactly as given */
    CHECK(pool_add("Main St 42", NULL) == 0);
    CHECK(sh("'%s/icstr' pool ls '%s/pool' > '%s/ls.txt' 2>/dev/null", B, T, T) == 0);
    char *ls = slurp("%s/ls.txt", T);
    CHECK_MSG(ls && line_count(ls) == 1 && !strncmp(ls, "1\tMain St 42\t", 13), "pool ls: %s", ls ? ls : "");
    free(ls);
    /* a gt.txt set with the same kinds of labels: each refused by name, the good one added */
    char gt[8300];
    snprintf(gt, sizeof gt, "%s/gt.txt", D);
    FILE *f = fopen(gt, "w");
    CHECK(f != NULL);
    if (!f) return;
    fprintf(f, "c010.png\t\nc011.png\tna\xC3\xAFve\nc012.png\t%.30s\nc014.png\tfine\nc016.png\tab\xFF\n", long_label);
    fclose(f);
    CHECK(sh("'%s/icstr' pool add '%s/pool' --data '%s' > '%s/out.txt' 2> '%s/err.txt'", B, T, gt, T, T) == 1);
    char *out = slurp("%s/out.txt", T), *err = slurp("%s/err.txt", T);
    CHECK_MSG(out && strstr(out, "added 1, already present 0, refused 3"), "%s", out ? out : "");
    CHECK(err && strstr(err, "c010.png refused: empty label"));
    CHECK(err && strstr(err, "c011.png refused: label 'na\xC3\xAFve' does not fit the model"));
    CHECK(err && strstr(err, "c012.png refused:") && strstr(err, "longer than max_label"));
    CHECK(err && strstr(err, "gt.txt:5: label is not valid UTF-8")); /* the list reader drops that line */
    free(out);
    free(err);
    CHECK(sh("'%s/icstr' pool ls '%s/pool' > '%s/ls.txt' 2>/dev/null", B, T, T) == 0);
    ls = slurp("%s/ls.txt", T);
    CHECK_MSG(ls && line_count(ls) == 2 && !strncmp(ls, "1\tMain St 42\t", 13) && strstr(ls, "\n2\tfine\t"),
              "pool ls: %s", ls ? ls : "");
    free(ls);
    unlink(gt);
}

int main(void) {
    const char *b = getenv("ICSTR_BUILD_DIR");
    snprintf(B, sizeof B, "%s", b && *b ? b : ".");
    snprintf(T, sizeof T, "%s/icstr-test-bad-inputs-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(T)) {
        perror("mkdtemp");
        return 1;
    }
    snprintf(D, sizeof D, "%s/crops", T);
    CHECK(mkdir(D, 0755) == 0);
    int ok = 1;
    for (int i = 0; i < N_GOOD && ok; i++) ok = write_crop(i) == 0;
    CHECK_MSG(ok, "writing the crops");
    CHECK_MSG(make_odd_files() == 0 && replicate_odd_files() == 0, "writing the odd files");
    char model[8300];
    snprintf(model, sizeof model, "%s/m/model.safetensors", T);
    int trained = sh("'%s/icstr' train --config '%s/configs/tiny.yaml' --steps-now 2 --threads 1 --out '%s/m' "
                     "> /dev/null 2>&1",
                     B, ICSTR_SOURCE_DIR, T) == 0;
    CHECK_MSG(trained, "icstr train (tiny, 2 steps) in %s", B);
    if (trained) {
        check_recognize(model, 0);
        check_recognize(model, 1);
        check_pool_labels(model);
    }
    if (getenv("ICSTR_KEEP_TMP")) printf("fixtures kept in %s\n", T);
    else if (sh("chmod -R u+rwX '%s' && rm -rf '%s'", T, T)) fprintf(stderr, "could not remove %s\n", T);
    return check_finish("test_bad_inputs");
}
