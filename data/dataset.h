/* icstr data: the standard STR LMDB layout and gt.txt folders (part of icstr_data.h).
 *
 * STR LMDB (as prepared for PARSeq, ABINet, MMOCR): key "num-samples" = decimal count,
 * "image-%09d" = encoded image file bytes, "label-%09d" = UTF-8 label, indices 1-based.
 */
#ifndef ICSTR_DATASET_H
#define ICSTR_DATASET_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- writer: creates (or overwrites) an STR LMDB at path (a directory, as lmdb makes) ---- */
typedef struct icstr_str_writer icstr_str_writer;
int icstr_str_writer_open(const char *path, icstr_str_writer **out);
/* Appends one sample; *index_out (may be NULL) receives its 1-based index. */
int icstr_str_writer_add(icstr_str_writer *w, const void *image_bytes, size_t n, const char *label,
                         long *index_out);
/* Stores an extra key beside the standard ones (e.g. "boxes-%09d" from the renderer). */
int icstr_str_writer_put(icstr_str_writer *w, const char *key, const void *value, size_t n);
/* Writes num-samples, commits and closes; frees w even on failure. */
int icstr_str_writer_close(icstr_str_writer *w);

#ifdef __cplusplus
}
#endif

#endif
