/* icstr recognizer: the entries a derived store computes from each record of a prompt pool (the
 * glyph store's encoder frames, the kNN store's decoder states), kept in a file in the pool's
 * directory, POOL/NAME.cache, so that the next reading with that pool loads them instead of
 * running the model over every record again (`icstr recognize --pool P --glyphs` on one crop:
 * the glyph store alone encodes every record's image).
 *
 * A file belongs to one state of one pool: its fingerprint, creation time, generation and view,
 * the width of the entries and whether the model's products run in bf16 (a stamp, hashed); and
 * an entry serves only the record of its id whose image and label it was made from. So a reembed, a new view
 * or another pool made at the same path passes the whole file over, and records added since are
 * computed and the file written anew with them; removed ones drop out at that writing. A
 * missing, stale, truncated or damaged file (its checksum) costs the computing, nothing else; a
 * directory the process may not write to is read without a cache (no message), and a file of
 * over 1 GiB is not written (an info line; the glyph store takes about 100 KB a record at the
 * default model's sizes). ICSTR_STORE_CACHE=0
 * in the environment turns the files off (neither read nor written).
 *
 * The entries are float32 as computed, so a store loaded from the file is the one computed. File
 * (native byte order, checked by a mark): "ICSTRSC1" u32 0x01020304 u32 width u64 stamp
 * u64 records u64 entries, then ids (u64), record keys (u64), entry counts (u32) of the records
 * in id order, keys (entries x width f32), values (entries i32), and u64 icstr_pool_hash of every
 * byte before it. Written to a temporary name and renamed over the old one. */
#ifndef ICSTR_STORE_CACHE_H
#define ICSTR_STORE_CACHE_H

#include "icstr_pool.h"

typedef struct {
    char *path;          /* POOL/NAME.cache; NULL when caching is off */
    uint64_t stamp;      /* the pool state (above) */
    int width;           /* floats per key */
    /* what the file held (all zero / NULL when it was missing or stale) */
    long n;              /* records, ids ascending */
    uint64_t *ids, *hashes;
    long *first;         /* (n + 1) entry offsets */
    float *keys;         /* (entries, width) */
    int *values;         /* (entries) */
    unsigned char *file; /* the file's bytes, which the arrays above (but first) point into */
} icstr_store_cache;

/* 0 when ICSTR_STORE_CACHE=0 turns the files off. */
int icstr_store_cache_enabled(void);

/* Reads POOL/name.cache when it is valid for the pool as it is and entries of `width` floats;
 * otherwise c holds no records. Fails only with ICSTR_ERR_NOMEM or a pool without a model. */
int icstr_store_cache_open(icstr_pool *pool, const char *name, int width, icstr_store_cache *c);
void icstr_store_cache_free(icstr_store_cache *c);

/* What a record's entries rest on besides its id: its image bytes (their hash) and its label. */
uint64_t icstr_store_record_key(const icstr_pool_record *r);

/* The entries of record id whose icstr_store_record_key is `hash`: their count (0 for a record cached with none)
 * with *keys and *values into the cache, or -1 when the file does not hold that record. */
int icstr_store_cache_find(const icstr_store_cache *c, uint64_t id, uint64_t hash, const float **keys,
                           const int **values);

/* The records a store was built from, in id order (the cached ones and the computed ones), and
 * their entries back to back, as the file keeps them. */
typedef struct {
    long n, cap;
    uint64_t *ids, *hashes;
    int *counts;
} icstr_store_records;
/* Appends a record with `count` entries. Errors: ICSTR_ERR_NOMEM. */
int icstr_store_records_add(icstr_store_records *r, uint64_t id, uint64_t hash, int count);
void icstr_store_records_free(icstr_store_records *r);

/* Writes the file anew with records r (entries: keys (sum of counts, width), values), when the
 * file does not already hold exactly those records. A file that cannot be written is passed over
 * (ICSTR_OK); errors: ICSTR_ERR_NOMEM. */
int icstr_store_cache_save(const icstr_store_cache *c, const icstr_store_records *r, const float *keys,
                           const int *values);

/* The file's bytes for records r (entries: keys (sum of counts, width), values) under stamp, into
 * *out (malloc'd; the caller frees it) of *len bytes. Errors: ICSTR_ERR_NOMEM. */
int icstr_store_cache_encode(uint64_t stamp, int width, const icstr_store_records *r, const float *keys,
                             const int *values, unsigned char **out, size_t *len);
/* Takes a file's bytes (buf, malloc'd, or NULL) into c when they are whole (lengths, ids in order,
 * checksum) and belong to c->stamp and c->width; otherwise frees them and leaves c without
 * records. Errors: ICSTR_ERR_NOMEM only. */
int icstr_store_cache_parse(icstr_store_cache *c, unsigned char *buf, size_t len);

#endif
