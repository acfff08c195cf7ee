/* icstr core: safetensors weights, written atomically and read through mmap (part of
 * icstr_core.h).
 *
 * The format (the one Hugging Face's Python and Rust tools read): 8 bytes of little-endian u64 N,
 * N bytes of a JSON object {"__metadata__": {"key": "value", ...}, "name": {"dtype": "F32",
 * "shape": [3, 5], "data_offsets": [begin, end]}, ...}, then the data section; offsets are
 * relative to its start, tensors are row-major little-endian.
 *
 * The reader trusts nothing in a file. icstr_st_open checks, before it hands back a handle: the
 * file holds the 8-byte length; the header length fits in the file and is at most
 * ICSTR_ST_HEADER_MAX (checked before anything is allocated); the header is strict JSON of the
 * safetensors shape; every tensor has a non-empty unique name of at most ICSTR_ST_NAME_MAX - 1
 * bytes, a supported dtype, at most ICSTR_MAX_DIMS dims each >= 0, an element count that does not
 * overflow, data_offsets with begin <= end <= the data section's size and end - begin equal to
 * the tensor's byte size, and no two tensors share a byte. Nothing is allocated from what the
 * header claims about tensor sizes: the data stays in the map (or the caller's buffer), and the
 * only allocations are proportional to the header bytes actually present.
 *
 * Accepted although the reference implementation refuses it: gaps between tensors and bytes after
 * the last one (harmless to read). The writer never makes them: its files are contiguous, so
 * Python's safetensors.safe_open reads them.
 *
 * Errors (LMDB style): every fallible call returns ICSTR_OK or a negative ICSTR_ERR_* code and sets
 * the detail (icstr_last_error) to "<path>: tensor '<name>': <problem>" where a tensor is
 * involved ("<memory>" stands for the path of a buffer opened with icstr_st_open_memory).
 *
 * Threads: an open file is read-only; any number of threads may read it at once.
 * Caveat (as with every mmap reader): if another program truncates the file while it is mapped,
 * touching the lost pages raises SIGBUS. icstr's writer replaces files by rename, never in place.
 */
#ifndef ICSTR_SAFETENSORS_H
#define ICSTR_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "icstr_core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Element types icstr reads and writes. Other safetensors dtypes (F64, I64, U8, ...) make
 * icstr_st_open fail with ICSTR_ERR_UNSUPPORTED naming the tensor and the dtype. */
typedef enum {
    ICSTR_ST_F32 = 0,
    ICSTR_ST_F16 = 1,
    ICSTR_ST_BF16 = 2,
} icstr_st_dtype;

#define ICSTR_ST_HEADER_MAX 100000000u  /* bytes of JSON header accepted, as in the reference */
#define ICSTR_ST_NAME_MAX 256           /* tensor names are 1 .. ICSTR_ST_NAME_MAX - 1 bytes */

/* "F32", "F16", "BF16"; "?" for anything else. Static strings. */
const char *icstr_st_dtype_name(int dtype);
/* Bytes per element: 4, 2, 2; 0 for anything else. */
size_t icstr_st_dtype_size(int dtype);

/* ---- writer ---- */

/* One tensor to write. The writer converts data (float32) to dtype (round to nearest even). */
typedef struct {
    const char *name;                /* 1 .. ICSTR_ST_NAME_MAX - 1 bytes of UTF-8, unique, not "__metadata__" */
    int dtype;                       /* icstr_st_dtype */
    int ndim;                        /* 0 .. ICSTR_MAX_DIMS; 0 is a scalar of one element */
    int64_t shape[ICSTR_MAX_DIMS];   /* each >= 0 */
    const float *data;               /* (numel) row-major; may be NULL only when numel == 0 */
} icstr_st_tensor;

/* Writes n tensors and n_meta metadata strings (keys unique UTF-8, values UTF-8; both arrays may
 * be NULL when n_meta == 0) to path, atomically: the bytes go to "<path>.tmp", which is fsync'ed
 * and renamed over path, so a reader sees the old file or the new one, never a partial one.
 *
 * Layout: the header lists "__metadata__" (when n_meta > 0) then the tensors in the given order,
 * padded with spaces so the data section starts at a multiple of 8 bytes. The data section is
 * contiguous (the reference reader requires it): first every 4-byte tensor, then every 2-byte one,
 * each group in the given order, so every tensor is aligned to its element size in the file and
 * in a map of it (a gap to reach 8-byte alignment would make the file unreadable from Python).
 *
 * Errors: ICSTR_ERR_ARG (a bad name, dtype, ndim, shape, NULL data, duplicate name or key),
 * ICSTR_ERR_RANGE (sizes overflow), ICSTR_ERR_LIMIT (header over ICSTR_ST_HEADER_MAX),
 * ICSTR_ERR_NOMEM, ICSTR_ERR_IO (with strerror; "<path>.tmp" is removed, path is untouched). */
int icstr_st_write(const char *path, const icstr_st_tensor *tensors, int n,
                   const char *const *meta_keys, const char *const *meta_values, int n_meta);

/* ---- reader ---- */

typedef struct icstr_st_file icstr_st_file;

/* A tensor of an open file. Pointers are owned by the file and valid until icstr_st_close. */
typedef struct {
    const char *name;
    int dtype;                       /* icstr_st_dtype */
    int ndim;                        /* 0 .. ICSTR_MAX_DIMS */
    int64_t shape[ICSTR_MAX_DIMS];   /* entries past ndim are 0 */
    size_t numel;                    /* product of the dims (1 for a scalar) */
    const void *data;                /* little-endian elements in the map: aligned to the element
                                        size in files icstr writes, not guaranteed in others */
    size_t nbytes;                   /* numel * dtype size */
} icstr_st_tensor_info;

/* Maps path read-only and validates it (see the top of this file). *out receives the handle
 * (NULL on failure). Errors: ICSTR_ERR_ARG, ICSTR_ERR_IO (open, fstat, mmap, not a regular file),
 * ICSTR_ERR_FORMAT (malformed), ICSTR_ERR_UNSUPPORTED (dtype or dims icstr does not read),
 * ICSTR_ERR_NOMEM. */
int icstr_st_open(const char *path, icstr_st_file **out);

/* Same on a buffer, without copying it: buf must stay valid and unchanged until icstr_st_close.
 * For tests, fuzzing and files read by other means. */
int icstr_st_open_memory(const void *buf, size_t len, icstr_st_file **out);

/* Unmaps and frees; NULL is ignored. Every pointer obtained from f dies with it. */
void icstr_st_close(icstr_st_file *f);

/* Number of tensors, and tensor i (0 <= i < count) in header order. icstr_st_tensor_info fails with
 * ICSTR_ERR_RANGE for a bad i. */
int icstr_st_count(const icstr_st_file *f);
int icstr_st_info(const icstr_st_file *f, int i, icstr_st_tensor_info *info);

/* Finds a tensor by name (binary search). ICSTR_ERR_NOTFOUND when absent. */
int icstr_st_find(const icstr_st_file *f, const char *name, icstr_st_tensor_info *info);

/* The metadata value for key, or NULL when absent. Owned by the file. */
const char *icstr_st_meta(const icstr_st_file *f, const char *key);
/* Metadata entries, in key order (strcmp), for listing. ICSTR_ERR_RANGE for a bad i. */
int icstr_st_meta_count(const icstr_st_file *f);
int icstr_st_meta_at(const icstr_st_file *f, int i, const char **key, const char **value);

/* Converts tensor t's data to float32 into dst (t->numel floats). Cannot fail on a tensor
 * obtained from icstr_st_tensor_info or icstr_st_find. */
void icstr_st_to_f32(const icstr_st_tensor_info *t, float *dst);

/* Finds tensor name, checks that it has exactly ndim dims equal to shape (whatever its dtype),
 * and converts it into dst (numel floats). Errors: ICSTR_ERR_NOTFOUND, ICSTR_ERR_MISMATCH
 * ("<path>: tensor 'w': expected shape [3, 5], found [5, 3]"), ICSTR_ERR_ARG. */
int icstr_st_read_f32(const icstr_st_file *f, const char *name, int ndim, const int64_t *shape, float *dst);

/* The path given to icstr_st_open, or "<memory>". Owned by the file. */
const char *icstr_st_path(const icstr_st_file *f);

/* ---- parameter slabs (checkpoints) ---- */

/* Flags for the slab functions. */
enum {
    /* Also save/load the AdamW moments s->m and s->v, as float32 tensors named
     * ICSTR_ST_PREFIX_M "<param>" and ICSTR_ST_PREFIX_V "<param>", so training resumes exactly.
     * Without it, load ignores tensors with those prefixes (a checkpoint loads for inference). */
    ICSTR_ST_MOMENTS = 1,
    /* Load: ignore tensors of the file that the slab does not declare (default: an error). */
    ICSTR_ST_ALLOW_EXTRA = 2,
    /* Load: a parameter the file does not hold keeps its value in the slab (default: an error).
     * For a model grown by new parameters that start from their initial values. */
    ICSTR_ST_ALLOW_MISSING = 4,
};
#define ICSTR_ST_PREFIX_M "adam_m/"
#define ICSTR_ST_PREFIX_V "adam_v/"

/* Writes every parameter of s (s->data) under its name and shape, converted to dtype, plus the
 * moments when flags has ICSTR_ST_MOMENTS (always float32), plus the metadata, atomically
 * (icstr_st_write). Errors: those of icstr_st_write; ICSTR_ERR_ARG when s has no data (or no
 * moments while ICSTR_ST_MOMENTS is asked). */
int icstr_slab_save(const icstr_slab *s, const char *path, int dtype, int flags,
                    const char *const *meta_keys, const char *const *meta_values, int n_meta);

/* Fills s->data (and s->m, s->v with ICSTR_ST_MOMENTS) from an open file, converting from the
 * file's dtype. s must be declared and allocated by the model. All or nothing: every check runs
 * before the first float is written, so on failure s is unchanged. Errors: ICSTR_ERR_ARG (s not
 * allocated), ICSTR_ERR_MISMATCH with a detail listing the missing tensors, the unexpected ones
 * and the wrong shapes by name ("<path>: does not match the model: 1 missing: 'dec.w';
 * 1 unexpected: 'old.b';
 * 'enc.w': expected shape [3, 5], found [5, 3]"; long lists end in "..."). */
int icstr_slab_load(icstr_slab *s, const icstr_st_file *f, int flags);

/* icstr_st_open + icstr_slab_load + icstr_st_close. */
int icstr_slab_load_file(icstr_slab *s, const char *path, int flags);

#ifdef __cplusplus
}
#endif

#endif
