/* icstr data: the standard STR LMDB layout and gt.txt folders (part of icstr_data.h).
 *
 * STR LMDB (as prepared for PARSeq, ABINet, MMOCR): key "num-samples" = decimal count,
 * "image-%09d" = encoded image file bytes, "label-%09d" = UTF-8 label, indices 1-based.
 * The environment is a directory holding data.mdb (MDB_NOSUBDIR is not used).
 *
 * gt.txt folder: one sample per line, `path<TAB>label`, path relative to the folder holding the
 * list file or absolute, label UTF-8 (may be empty; the scoring protocol skips such samples later).
 * Accepted: a UTF-8 BOM at the start, CRLF line ends, blank lines (ignored, not samples).
 * Refused lines are counted by reason (icstr_dataset_bad_lines) and each reported with a warning
 * naming file:line (the first 20, then a count): no TAB, empty path, label not valid UTF-8.
 */
#ifndef ICSTR_DATASET_H
#define ICSTR_DATASET_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- writer: creates (or overwrites) an STR LMDB at path (a directory, as lmdb makes) ----
 * The directory is created if missing; an existing data.mdb/lock.mdb in it is replaced.
 * Samples are committed in batches of 1000 (or 64 MiB); the map starts at 64 MiB and doubles whenever LMDB
 * reports MDB_MAP_FULL (the pending batch is replayed), so any size fits and the file stays as
 * small as its data. Not thread-safe: one writer, one thread. After any failure the writer only
 * accepts icstr_str_writer_close (which then discards the uncommitted batch and fails). */
typedef struct icstr_str_writer icstr_str_writer;
/* Errors: ICSTR_ERR_ARG, ICSTR_ERR_IO (mkdir/unlink), ICSTR_ERR_DB (mdb_strerror), ICSTR_ERR_NOMEM. */
int icstr_str_writer_open(const char *path, icstr_str_writer **out);
/* The same with the initial map size in bytes (at least 64 KiB; tests use a small one to make
 * the map grow). */
int icstr_str_writer_open_map(const char *path, size_t map_bytes, icstr_str_writer **out);
/* Appends one sample; *index_out (may be NULL) receives its 1-based index.
 * ICSTR_ERR_ARG for NULL/empty image bytes, a NULL label or a label that is not valid UTF-8
 * (an empty label is fine). The bytes are copied. */
int icstr_str_writer_add(icstr_str_writer *w, const void *image_bytes, size_t n, const char *label,
                         long *index_out);
/* Stores an extra key beside the standard ones (e.g. "boxes-%09d" from the renderer).
 * ICSTR_ERR_ARG for the reserved key "num-samples", an empty key or one over 511 bytes. */
int icstr_str_writer_put(icstr_str_writer *w, const char *key, const void *value, size_t n);
/* Samples added so far. */
long icstr_str_writer_count(const icstr_str_writer *w);
/* Writes num-samples, commits and closes; frees w even on failure. */
int icstr_str_writer_close(icstr_str_writer *w);

/* ---- reader: one handle over an STR LMDB or a gt.txt list ----
 * Thread-safety: a handle is used by one thread at a time (its buffers are reused by every get).
 * Separate handles on the same path may be used from separate threads. LMDB sets are opened
 * MDB_RDONLY|MDB_NOLOCK (no lock file is touched): they must not be written while read. */
/* ---- writer of a gt.txt folder: DIR/images/NNNNNNNNN.<ext> (the bytes as given, the extension
 * from the format) and DIR/gt.txt (`images/NAME<TAB>label`), readable by icstr_dataset_open ---- */
typedef struct icstr_folder_writer icstr_folder_writer;
/* Creates DIR and DIR/images when missing; refuses a DIR that already has a gt.txt.
 * Errors: ICSTR_ERR_IO (with strerror), ICSTR_ERR_ARG (gt.txt exists), ICSTR_ERR_NOMEM. */
int icstr_folder_writer_open(const char *dir, icstr_folder_writer **out);
/* Errors: ICSTR_ERR_ARG (a label holding TAB, CR or LF: gt.txt cannot hold it), ICSTR_ERR_IO. */
int icstr_folder_writer_add(icstr_folder_writer *w, const void *image_bytes, size_t n, const char *label);
long icstr_folder_writer_count(const icstr_folder_writer *w);
/* Flushes gt.txt and frees w, even on failure. */
int icstr_folder_writer_close(icstr_folder_writer *w);

typedef struct icstr_dataset icstr_dataset;

enum { ICSTR_DATASET_LMDB = 1, ICSTR_DATASET_FOLDER = 2 };

/* Detects the kind of path and opens it:
 *   a directory containing data.mdb              -> STR LMDB
 *   a directory containing gt.txt                -> folder (DIR/gt.txt)
 *   a regular file named data.mdb                -> STR LMDB (its directory)
 *   any other regular file (gt.txt, test.txt...) -> folder (the list; paths relative to its dir)
 * LMDB: num-samples must parse as a decimal in [0, (entries - 1) / 2].
 * Errors: ICSTR_ERR_ARG, ICSTR_ERR_NOTFOUND (no such path, or a directory with neither file),
 * ICSTR_ERR_IO, ICSTR_ERR_DB (mdb_strerror), ICSTR_ERR_FORMAT (num-samples missing or bad),
 * ICSTR_ERR_LIMIT (a list file over 1 GiB), ICSTR_ERR_NOMEM. */
int icstr_dataset_open(const char *path, icstr_dataset **out);
/* A gt.txt list held in memory (n bytes, copied; need not be NUL-terminated), parsed exactly as
 * a list file; relative paths are taken from dir, name stands for the list in messages and is
 * what icstr_dataset_path returns. For tests and fuzzing.
 * Errors: ICSTR_ERR_ARG, ICSTR_ERR_LIMIT (over 1 GiB), ICSTR_ERR_NOMEM. */
int icstr_dataset_open_list_memory(const void *text, size_t n, const char *name, const char *dir,
                                   icstr_dataset **out);
void icstr_dataset_close(icstr_dataset *ds);

int icstr_dataset_kind(const icstr_dataset *ds);  /* ICSTR_DATASET_LMDB or _FOLDER */
long icstr_dataset_count(const icstr_dataset *ds); /* samples; 0 for NULL */
const char *icstr_dataset_path(const icstr_dataset *ds); /* as given to open */

/* Sample i, 0-based (LMDB key index i + 1). Outputs may be NULL when not wanted:
 *   *bytes, *len  the encoded image file (NOT NUL-terminated)
 *   *label        NUL-terminated UTF-8 label (LMDB: as stored, unvalidated; folder: validated)
 *   *name         for messages: the image path (folder) or "PATH/image-000000001" (LMDB)
 * The pointers are owned by the handle (copies, not LMDB pages) and stay valid until the next
 * get on this handle or its close. When only label/name are asked for (bytes NULL), the image
 * file is not read.
 * Errors: ICSTR_ERR_RANGE (i outside [0, count)), ICSTR_ERR_IO (folder: the image file cannot be
 * read; *label and *name are still set), ICSTR_ERR_NOTFOUND (LMDB: key missing), ICSTR_ERR_DB,
 * ICSTR_ERR_LIMIT (an image file over 256 MiB), ICSTR_ERR_NOMEM. */
int icstr_dataset_get(icstr_dataset *ds, long i, const unsigned char **bytes, size_t *len,
                      const char **label, const char **name);

/* Lines of the list file refused while opening (all zero for LMDB). */
typedef struct {
    long no_tab;      /* no TAB in the line */
    long empty_path;  /* nothing before the TAB */
    long bad_utf8;    /* label not valid UTF-8 (or holding a NUL byte) */
    long blank;       /* empty lines, ignored (not counted in total) */
    long total;       /* no_tab + empty_path + bad_utf8 */
} icstr_dataset_bad;
void icstr_dataset_bad_lines(const icstr_dataset *ds, icstr_dataset_bad *out);

/* 1 if the n bytes at s are valid UTF-8: shortest forms only, no surrogates, <= U+10FFFF
 * (a NUL byte is valid UTF-8; callers that need C strings check for it). */
int icstr_utf8_valid(const char *s, size_t n);

#ifdef __cplusplus
}
#endif

#endif
