/* icstr data: scoring predictions against labels (part of icstr_data.h).
 *
 * Protocols (each cleans both prediction and label the same way, then compares):
 *   ICSTR_SCORE_STANDARD  the one PARSeq, MMOCR and E2STR report: lower-case (ASCII A-Z only),
 *                         delete every character outside [a-z0-9] (so every non-ASCII code point
 *                         goes: "Café" -> "caf"; no Unicode normalisation), skip the sample when
 *                         the cleaned label is empty or longer than 25 characters.
 *   ICSTR_SCORE_CASE94    case-sensitive: keep the 94 printable ASCII characters and space
 *                         (0x20..0x7E), drop everything else, skip the sample when the cleaned
 *                         label is empty.
 *   ICSTR_SCORE_UNICODE   no cleaning at all (code points compared as written), skip empty labels.
 * Word accuracy = exact matches / counted samples. NED = edit distance / max(len(pred), len(gt))
 * on the cleaned strings, lengths and distance in Unicode code points (UTF-8 decoded; an invalid
 * byte counts as one code point U+FFFD); the score reported is 1 - mean NED.
 */
#ifndef ICSTR_SCORE_H
#define ICSTR_SCORE_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

enum { ICSTR_SCORE_STANDARD = 0, ICSTR_SCORE_CASE94 = 1, ICSTR_SCORE_UNICODE = 2 };
#define ICSTR_SCORE_MAX_LABEL 25 /* the standard protocol skips longer cleaned labels */

/* What icstr_score_add did with a sample. */
enum { ICSTR_SCORE_SKIPPED = 0, ICSTR_SCORE_WRONG = 1, ICSTR_SCORE_RIGHT = 2 };

typedef struct {
    int protocol;
    long n;         /* samples counted */
    long skipped;   /* samples skipped by the protocol */
    long correct;   /* exact matches among the counted */
    double ned_sum; /* sum of the counted samples' NED */
} icstr_score;

/* Errors: ICSTR_ERR_ARG for a NULL sc or an unknown protocol. */
int icstr_score_init(icstr_score *sc, int protocol);
/* Scores one sample. Returns ICSTR_SCORE_SKIPPED, _WRONG or _RIGHT, or a negative error:
 * ICSTR_ERR_ARG (NULL sc/pred/gt), ICSTR_ERR_NOMEM (very long strings). */
int icstr_score_add(icstr_score *sc, const char *pred, const char *gt);
/* Any output may be NULL. With no counted samples acc and one_minus_ned are 0. */
void icstr_score_result(const icstr_score *sc, long *n, long *skipped, double *acc,
                        double *one_minus_ned);
/* "standard", "case94", "unicode"; NULL for an unknown protocol. */
const char *icstr_score_protocol_name(int protocol);
/* Parses a name as above; ICSTR_ERR_ARG when unknown. */
int icstr_score_protocol_from_name(const char *name, int *protocol);

/* Cleans s by the protocol into out (NUL-terminated, at most cap - 1 bytes, cut at a code point
 * boundary); returns the cleaned length in code points, or a negative error (ICSTR_ERR_ARG).
 * Tells nothing about skipping: see icstr_score_skips. */
int icstr_score_clean(int protocol, const char *s, char *out, size_t cap);
/* 1 if the protocol skips a sample with this (raw) label, else 0. */
int icstr_score_skips(int protocol, const char *gt);
/* 1 if a and b are the same text once every space (U+0020) is left out, else 0. */
int icstr_text_same_but_spaces(const char *a, const char *b);

/* Levenshtein distance between two UTF-8 strings in code points (insert, delete, substitute
 * all cost 1). Returns >= 0, or ICSTR_ERR_NOMEM / ICSTR_ERR_ARG. */
long icstr_edit_distance_utf8(const char *a, const char *b);
/* Decodes UTF-8 into code points (invalid bytes become 0xFFFD, one per byte); returns the number
 * of code points, writing at most cap of them (out may be NULL to count). */
size_t icstr_utf8_decode(const char *s, size_t n, unsigned *out, size_t cap);
/* One step of the same decoder: sets *cp and returns the bytes taken (1..4; an invalid byte
 * gives U+FFFD and 1). n must be >= 1. */
size_t icstr_utf8_next(const char *s, size_t n, unsigned *cp);

#ifdef __cplusplus
}
#endif

#endif
