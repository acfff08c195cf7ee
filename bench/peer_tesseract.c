/* peer_tesseract: Tesseract 5 as a peer of icstr, timed in-process through libtesseract's C API.
 *
 * Reads binary PPM (P6) crops named one per line on stdin (the files `icstr bench peers` exports,
 * so every system sees the same decoded pixels), recognizes each as one text line (--psm 7,
 * PSM_SINGLE_LINE) and prints PATH<TAB>TEXT<TAB>MS per crop, MS being the milliseconds of
 * SetImage + Recognize + GetUTF8Text on one thread. Loading the model is reported once, as a
 * "#load_ms<TAB>X" line, and not counted per crop. A crop that cannot be read prints an empty TEXT
 * and MS -1 (and the reason on stderr).
 *
 * Not part of the CMake build (nothing there depends on Tesseract): bench/run_peers.sh compiles it
 * with `cc -O2 bench/peer_tesseract.c $(pkg-config --cflags --libs tesseract lept)`.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <tesseract/capi.h>

static const char *usage =
    "usage: peer_tesseract [--lang L] [--tessdata DIR] [--dpi N] < LIST\n"
    "Reads P6 PPM paths from stdin, prints PATH<TAB>TEXT<TAB>MS per crop (psm 7, one thread).\n"
    "  --lang L        traineddata language (default eng)\n"
    "  --tessdata DIR  folder of the traineddata (default: Tesseract's own)\n"
    "  --dpi N         source resolution given to Tesseract (default 70, what the tesseract\n"
    "                  command line assumes for an image that states none)\n";

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return 1e3 * (double)ts.tv_sec + 1e-6 * (double)ts.tv_nsec;
}

/* Next PPM header token (skipping whitespace and # comments); -1 on a malformed header. */
static long ppm_int(FILE *f) {
    int c;
    for (;;) {
        c = fgetc(f);
        if (c == '#') {
            while (c != '\n' && c != EOF) c = fgetc(f);
        } else if (c != ' ' && c != '\t' && c != '\n' && c != '\r') {
            break;
        }
    }
    long v = 0;
    int digits = 0;
    while (c >= '0' && c <= '9' && digits < 9) {
        v = v * 10 + (c - '0');
        digits++;
        c = fgetc(f);
    }
    return digits && digits < 9 ? v : -1;
}

/* Reads an 8-bit P6 file; sizes are checked before the pixel buffer is sized. */
static unsigned char *read_ppm(const char *path, int *w, int *h, const char **why) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        *why = "cannot open";
        return NULL;
    }
    unsigned char *px = NULL;
    *why = "not an 8-bit P6 PPM";
    if (fgetc(f) == 'P' && fgetc(f) == '6') {
        long W = ppm_int(f), H = ppm_int(f), maxval = ppm_int(f);
        if (W > 0 && H > 0 && W <= 32768 && H <= 32768 && W * H <= 64L * 1024 * 1024 && maxval == 255) {
            size_t n = (size_t)W * (size_t)H * 3;
            px = malloc(n);
            if (!px) {
                *why = "out of memory";
            } else if (fread(px, 1, n, f) != n) {
                free(px);
                px = NULL;
                *why = "truncated";
            } else {
                *w = (int)W;
                *h = (int)H;
            }
        }
    }
    fclose(f);
    return px;
}

/* One line of output: tabs and newlines inside the text become spaces, ends are trimmed. */
static void clean_text(char *s) {
    for (char *p = s; *p; p++)
        if (*p == '\t' || *p == '\n' || *p == '\r' || *p == '\f') *p = ' ';
    size_t n = strlen(s);
    while (n && s[n - 1] == ' ') s[--n] = 0;
    size_t k = 0;
    while (s[k] == ' ') k++;
    memmove(s, s + k, n - k + 1);
}

int main(int argc, char **argv) {
    const char *lang = "eng", *tessdata = NULL;
    int dpi = 70;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            fputs(usage, stdout);
            return 0;
        } else if (!strcmp(argv[i], "--lang") && i + 1 < argc) {
            lang = argv[++i];
        } else if (!strcmp(argv[i], "--tessdata") && i + 1 < argc) {
            tessdata = argv[++i];
        } else if (!strcmp(argv[i], "--dpi") && i + 1 < argc) {
            dpi = atoi(argv[++i]);
            if (dpi < 1 || dpi > 2400) {
                fprintf(stderr, "peer_tesseract: --dpi wants 1..2400\n");
                return 2;
            }
        } else {
            fprintf(stderr, "peer_tesseract: unexpected argument '%s'\n%s", argv[i], usage);
            return 2;
        }
    }
    /* Tesseract's OpenMP parallelism (if built with it) must not use the other core. */
    setenv("OMP_THREAD_LIMIT", "1", 0);
    double t0 = now_ms();
    TessBaseAPI *api = TessBaseAPICreate();
    if (!api || TessBaseAPIInit3(api, tessdata, lang) != 0) {
        fprintf(stderr, "peer_tesseract: cannot load the '%s' model\n", lang);
        if (api) TessBaseAPIDelete(api);
        return 1;
    }
    TessBaseAPISetPageSegMode(api, PSM_SINGLE_LINE);
    printf("#load_ms\t%.3f\n", now_ms() - t0);
    printf("#version\t%s\n", TessVersion());
    char line[8192];
    while (fgets(line, sizeof line, stdin)) {
        line[strcspn(line, "\r\n")] = 0;
        if (!line[0]) continue;
        int w = 0, h = 0;
        const char *why = NULL;
        unsigned char *px = read_ppm(line, &w, &h, &why);
        if (!px) {
            fprintf(stderr, "peer_tesseract: %s: %s\n", line, why);
            printf("%s\t\t-1\n", line);
            continue;
        }
        double t = now_ms();
        TessBaseAPISetImage(api, px, w, h, 3, 3 * w);
        TessBaseAPISetSourceResolution(api, dpi);
        char *text = TessBaseAPIGetUTF8Text(api);
        double ms = now_ms() - t;
        if (text) clean_text(text);
        printf("%s\t%s\t%.3f\n", line, text ? text : "", ms);
        fflush(stdout);
        if (text) TessDeleteText(text);
        TessBaseAPIClear(api);
        free(px);
    }
    TessBaseAPIEnd(api);
    TessBaseAPIDelete(api);
    return 0;
}
