/* icstr data: images (part of icstr_data.h).
 *
 * Decoding (stb_image: PNG, JPEG, BMP, GIF first frame, TGA, PNM, and the rest stb reads) into 8-bit
 * RGB, the model's preprocessing (resize to H x W, aspect not kept, then float CHW in [-1, 1]),
 * PNG writing, and contact sheets (a grid of crops with their labels written under them).
 *
 * Colour: grey is replicated to R=G=B; 16-bit samples keep their high byte (stb's conversion),
 * except binary PNM with maxval > 255, decoded here (stb 2.27 swaps its bytes) and scaled by
 * v * 255 / maxval, rounded;
 * an alpha channel is composited on WHITE: out = (c*a + 255*(255-a)) / 255, rounded. White,
 * because a transparent background behind dark text is the common case in word crops.
 *
 * Limits: the header is read first (stbi_info_from_memory, and our own PNG IHDR peek) and images
 * with no pixels, a side above max_side or more than max_pixels are refused with ICSTR_ERR_LIMIT
 * BEFORE anything image-sized is allocated.
 *
 * Thread-safety: all functions are reentrant (stb's failure reason is thread-local in this build).
 */
#ifndef ICSTR_IMAGE_H
#define ICSTR_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* An 8-bit RGB image, rows top to bottom, pixels interleaved R,G,B (w*h*3 bytes).
 * rgb is owned by the struct: release with icstr_image_free. */
typedef struct {
    int w, h;
    unsigned char *rgb;
} icstr_image;

typedef struct {
    int64_t max_pixels;  /* w*h above this is refused (default 64 * 1024 * 1024) */
    int max_side;        /* w or h above this is refused (default 32768) */
    size_t max_file_bytes; /* icstr_image_load_file refuses bigger files (default 256 MiB) */
} icstr_image_limits;

#define ICSTR_IMAGE_DEFAULT_MAX_PIXELS ((int64_t)64 * 1024 * 1024)
#define ICSTR_IMAGE_DEFAULT_MAX_SIDE 32768
#define ICSTR_IMAGE_DEFAULT_MAX_FILE_BYTES ((size_t)256 * 1024 * 1024)

icstr_image_limits icstr_image_default_limits(void);

/* Decodes an encoded image held in memory. name (may be NULL) is used in error details only.
 * limits NULL means the defaults. On success *out owns a new buffer; on failure *out is zeroed.
 * Errors: ICSTR_ERR_ARG (NULL out/bytes), ICSTR_ERR_IMAGE (not an image stb reads, truncated,
 * corrupt: the detail carries stbi_failure_reason), ICSTR_ERR_LIMIT (0 size or over the limits),
 * ICSTR_ERR_NOMEM. */
int icstr_image_load_memory_ex(const void *bytes, size_t n, const char *name,
                               const icstr_image_limits *limits, icstr_image *out);
int icstr_image_load_memory(const void *bytes, size_t n, const char *name, icstr_image *out);

/* Reads a whole file and decodes it; errors as above plus ICSTR_ERR_IO (open/read, with strerror)
 * and ICSTR_ERR_LIMIT for a file over max_file_bytes. The detail names the file. */
int icstr_image_load_file_ex(const char *path, const icstr_image_limits *limits, icstr_image *out);
int icstr_image_load_file(const char *path, icstr_image *out);

/* Only the header: size and the number of channels stored in the file (1 grey, 2 grey+alpha,
 * 3 RGB, 4 RGBA). Errors as icstr_image_load_memory_ex, without the limit check. */
int icstr_image_info_memory(const void *bytes, size_t n, const char *name, int *w, int *h,
                            int *channels);

/* Short name of the container format from its magic bytes: "png", "jpeg", "bmp", "gif", "pnm",
 * or "other" (TGA has no magic). Never NULL. */
const char *icstr_image_format_name(const void *bytes, size_t n);

/* Frees the pixels and zeroes the struct; NULL and already-freed images are fine. */
void icstr_image_free(icstr_image *img);

/* Allocates an image of w x h filled with one colour (rgb may be NULL: white). */
int icstr_image_alloc(int w, int h, const unsigned char rgb[3], icstr_image *out);

/* The model's preprocessing: resize img to H x W (aspect not kept) and write float CHW,
 * channel c of pixel (y, x) at chw[(c*H + y)*W + x] = (v/255 - 0.5)/0.5, in [-1, 1].
 * Per axis: shrinking uses an area (box) filter, each output pixel the exact average of the
 * source span it covers, partial pixels weighted by their overlap; enlarging uses bilinear with
 * pixel centres aligned (align_corners = false, the PIL/OpenCV convention, edges clamped);
 * an unchanged axis is copied. chw holds 3*H*W floats (caller-owned).
 * Errors: ICSTR_ERR_ARG (NULL, empty image, H or W < 1 or above 65536), ICSTR_ERR_NOMEM. */
int icstr_image_to_input(const icstr_image *img, int H, int W, float *chw);

/* What a word or line crop can be: a side under ICSTR_CROP_MIN_SIDE pixels holds no legible text
 * (a 1x1 image), and a crop over ICSTR_CROP_MAX_ASPECT times as long as it is high (a 20000x20
 * strip) is no text line (receipt lines are under 25:1; the model reads 4:1). The recognizer and
 * the pool refuse such images with ICSTR_ERR_IMAGE and a reason that names them (name may be
 * NULL); the loader itself takes them, as any image. */
#define ICSTR_CROP_MIN_SIDE 4
#define ICSTR_CROP_MAX_ASPECT 100
int icstr_image_check_crop(const icstr_image *img, const char *name);

/* Copies the w x h rectangle at (x, y) of img into *out (a new buffer).
 * Errors: ICSTR_ERR_ARG (NULL, or the rectangle not inside img), ICSTR_ERR_NOMEM. */
int icstr_image_crop(const icstr_image *img, int x, int y, int w, int h, icstr_image *out);

/* ---- views (data/image_view.c) ---- */

/* The part of a crop the model reads: rows top*h .. bottom*h and columns left*w .. right*w
 * (fractions; the first row floor(top*h), the row after the last ceil(bottom*h), and likewise
 * for columns). The full view {0, 1, 0, 1} is the whole crop. A prompt pool keeps one view for
 * its records and the queries read with it (`icstr pool view`): a domain whose crops carry
 * other text around the word (a plate's state name) reads better from its middle band. */
typedef struct {
    float top, bottom, left, right;
} icstr_view;

icstr_view icstr_view_full(void);
int icstr_view_is_full(const icstr_view *v);
/* ICSTR_OK when 0 <= top < bottom <= 1 and 0 <= left < right <= 1 with at least ICSTR_VIEW_MIN
 * of each side kept (and every value finite); else ICSTR_ERR_ARG with a detail. */
#define ICSTR_VIEW_MIN 0.25f
int icstr_view_check(const icstr_view *v);
/* "TOP,BOTTOM,LEFT,RIGHT" (e.g. "0.15,0.85,0.03,0.97"; "full" is the full view), checked as
 * above. Errors: ICSTR_ERR_ARG naming the text. */
int icstr_view_parse(const char *s, icstr_view *v);
/* The same form, shortest digits that read back the same floats ("full" for the full view);
 * out holds at least ICSTR_VIEW_TEXT bytes. */
#define ICSTR_VIEW_TEXT 64
void icstr_view_format(const icstr_view *v, char *out);
int icstr_view_equal(const icstr_view *a, const icstr_view *b);
/* The view's rectangle of img (at least one pixel each way) copied into *out (a new buffer);
 * the full view copies the whole image. Errors: ICSTR_ERR_ARG (NULL, empty image, a view that
 * fails icstr_view_check), ICSTR_ERR_NOMEM. */
int icstr_image_view(const icstr_image *img, const icstr_view *v, icstr_image *out);
/* icstr_image_to_input of the view of img (no copy for the full view). */
int icstr_image_view_to_input(const icstr_image *img, const icstr_view *v, int H, int W, float *chw);

/* ---- long text lines (data/line_split.c) ---- */

/* Where to cut a crop much wider than the model's input into pieces read one by one. */
typedef struct {
    float split_aspect; /* only crops wider than this many heights are cut (default 3.6; <= 0: never) */
    float piece_aspect; /* pieces at most this many heights wide where the gaps allow (default 3.5) */
    float min_gap;      /* a cut needs a blank column run at least this many heights wide (0.25) */
    float whole_aspect; /* for the reader (crop_batch): a crop cut in pieces and wider than this
                           many heights is read in pieces only, never whole (default 8; <= 0: any
                           crop is also read whole) */
    float fine_gap;     /* the reader's second pass: a piece still wider than piece_aspect is cut
                           again at blank runs at least this many heights wide (0.15: the gaps
                           between letters; <= 0 or >= min_gap: off) */
} icstr_line_split_params;
icstr_line_split_params icstr_line_split_default_params(void);

#define ICSTR_LINE_MAX_PIECES 12

/* Cuts img between words: piece i is columns [x0[i], x1[i]) at full height, the pieces tile
 * the crop left to right, and each cut lies in the middle of a blank column run (ink told
 * from background by Otsu's two classes of grey values, the background being the class that
 * holds most of the border, ink 65% of the way from its mean to the other's) at least
 * min_gap heights wide. Greedy: each piece runs to the farthest such cut that keeps it within
 * piece_aspect heights, or to the next cut when one word alone is wider. A piece still wider
 * than piece_aspect heights is then cut again the same way at the blank runs inside it at least
 * fine_gap heights wide (between letters; fine_gap <= 0 or >= min_gap: not). A crop no wider than
 * split_aspect heights, without contrast or without such gaps is one piece [0, w).
 * x0, x1 hold max_pieces ints; glued (NULL or max_pieces bytes) gets 1 for a piece that begins
 * at a cut between letters (the second pass: its reading joins the previous one's without a
 * space), 0 for the others. Returns the number of pieces (>= 1) or ICSTR_ERR_ARG /
 * ICSTR_ERR_NOMEM. */
int icstr_line_split(const icstr_image *img, const icstr_line_split_params *p, int *x0, int *x1, int max_pieces,
                     unsigned char *glued);

/* Joins the readings of count pieces into out (cap bytes, NUL-terminated, cut before a UTF-8
 * sequence that does not fit): each reading without its leading and trailing spaces, empty ones
 * left out, one space between two readings unless every cut between them was between letters
 * (glued[j] = 1: piece j begins at such a cut, as icstr_line_split says; glued NULL: none is).
 * Returns the length written. */
size_t icstr_line_join(const char *const *texts, const unsigned char *glued, int count, char *out, size_t cap);

#define ICSTR_LINE_MAX_WORDS 64

/* The same cuts for a labelled crop (a pool's record: a long line added in pieces), each piece
 * with its label: when the label's words (runs of non-spaces) are exactly one more than the
 * blank runs the cuts are chosen from, word i lies between run i-1 and run i, and piece j's
 * label is its words joined by single spaces, at labels + j * cap (NUL-terminated). Otherwise,
 * or when a piece's label would not fit cap, one piece: the whole crop under the label as it
 * is (cut to cap). Returns the number of pieces or ICSTR_ERR_ARG / ICSTR_ERR_NOMEM. */
int icstr_line_split_labelled(const icstr_image *img, const char *label, const icstr_line_split_params *p, int *x0,
                              int *x1, char *labels, int cap, int max_pieces);

/* The same resampling to an 8-bit RGB image of w x h (values rounded); *out owns a new buffer. */
int icstr_image_resize(const icstr_image *img, int w, int h, icstr_image *out);

/* Writes an 8-bit image as PNG (channels 1..4, rows top to bottom, tightly packed).
 * Errors: ICSTR_ERR_ARG, ICSTR_ERR_IO (with strerror; the detail names the file), ICSTR_ERR_NOMEM. */
int icstr_image_write_png(const char *path, int w, int h, int channels, const unsigned char *pixels);
/* A growable byte buffer for stb_image_write's *_to_func writers: pass icstr_byte_sink_write as
 * the function and the sink as its context. Reuse it by setting len to 0; failed is set when
 * growing failed (the bytes are then incomplete). Free with icstr_byte_sink_free. */
typedef struct {
    unsigned char *buf;
    size_t len, cap;
    int failed;
} icstr_byte_sink;
void icstr_byte_sink_write(void *ctx, void *data, int size);
void icstr_byte_sink_free(icstr_byte_sink *s);

/* The same PNG into memory: *out (malloc'd, the caller frees it) holds *len bytes.
 * Errors: ICSTR_ERR_ARG, ICSTR_ERR_NOMEM. */
int icstr_image_encode_png(int w, int h, int channels, const unsigned char *pixels, unsigned char **out,
                           size_t *len);

/* ---- text and contact sheets (data/sheet.c) ---- */

/* Draws text with stb_easy_font into an RGB image, scaled by an integer factor, clipped to the
 * image. Non-ASCII code points and control characters are drawn as '?'. The top-left corner of
 * the text is (x, y). Returns the width in pixels the text takes. */
int icstr_draw_text(icstr_image *img, int x, int y, const char *utf8, int scale,
                    const unsigned char rgb[3]);
/* Width and height in pixels text would take at this scale (one line). */
void icstr_text_size(const char *utf8, int scale, int *w, int *h);

typedef struct {
    int cols;         /* cells per row (default 4) */
    int cell_w;       /* image area of a cell (default 256 x 64: the model input at 2x) */
    int cell_h;
    int lines;        /* text lines under each image, 1 or 2 (default 1) */
    int keep_aspect;  /* 0 stretch to the cell (what the model sees), 1 fit inside it (default 0) */
} icstr_sheet_params;

icstr_sheet_params icstr_sheet_default_params(void);

/* A grid of cells, each a crop with one or two text lines under it (for misreads: the truth
 * in black, the prediction in red). */
typedef struct icstr_sheet icstr_sheet;

/* n_cells fixes the number of rows. Errors: ICSTR_ERR_ARG, ICSTR_ERR_LIMIT (sheet over 64 Mpx),
 * ICSTR_ERR_NOMEM. */
int icstr_sheet_create(const icstr_sheet_params *p, int n_cells, icstr_sheet **out);
/* Fills the next cell. img NULL draws a grey cell with a cross (e.g. an undecodable image).
 * text (black) and text2 (dark red, only when params.lines == 2) may be NULL; text too long for
 * the cell is drawn smaller or cut with "..". ICSTR_ERR_RANGE when the sheet is full. */
int icstr_sheet_add(icstr_sheet *s, const icstr_image *img, const char *text, const char *text2);
/* The sheet so far (owned by the sheet, valid until icstr_sheet_free). */
const icstr_image *icstr_sheet_image(const icstr_sheet *s);
int icstr_sheet_write_png(const icstr_sheet *s, const char *path);
void icstr_sheet_free(icstr_sheet *s);

#ifdef __cplusplus
}
#endif

#endif
