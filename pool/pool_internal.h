/* icstr pool internals: the handle, little-endian helpers, the parsed view of a record and the
 * transaction helpers shared by the pool module. Not part of the public API (tests may include it). */
#ifndef ICSTR_POOL_INTERNAL_H
#define ICSTR_POOL_INTERNAL_H

#include "icstr_pool.h"

#include <lmdb.h>
#include <string.h>

/* Returned by a write body when LMDB said MDB_MAP_FULL: the map grows and the body is replayed.
 * Outside the library's range; never escapes pool_write. */
#define POOL_RETRY_GROW (-1000)

#define POOL_MAP_START ((size_t)64 << 20)
#define POOL_MAX_DBS 16

/* Tests only: the hash database key is icstr_pool_hash(...) & icstr_pool_hash_mask_, so a test
 * can force every image into one bucket and exercise the byte comparison. Default: all bits. */
extern uint64_t icstr_pool_hash_mask_;

/* The process's one environment of a pool directory (pool_shared.c). */
typedef struct pool_env pool_env;
/* Opens the environment, or shares the one this process already has for that directory
 * (map_bytes applies to a new file only). rdonly: fall back to MDB_RDONLY without write access. */
int pool_env_acquire(const char *path, int rdonly, size_t map_bytes, pool_env **out);
void pool_env_release(pool_env *e);
MDB_env *pool_env_mdb(const pool_env *e);
/* Held from the beginning of a transaction to its end (pool_txn_begin .. pool_txn_abort/commit).
 * While held, the thread's fault context (icstr_pool_fault_context) names the pool: every read
 * of the mapped file happens inside a transaction. */
void pool_env_lock(pool_env *e);
void pool_env_unlock(pool_env *e);

struct icstr_pool {
    pool_env *shared;
    MDB_env *env;             /* shared->env */
    char *path;
    icstr_model *model;       /* not owned; NULL for metadata-only use */
    int rdonly;
    MDB_dbi meta, hash, rec, emb;
    unsigned gen;             /* the generation rec/emb belong to */
    int M, D;
    char fingerprint[65];
    icstr_view view;          /* the view records and queries are read with (meta "view", absent: full) */
    icstr_view alternates[ICSTR_POOL_ALTERNATES_MAX]; /* meta "view.alternates" */
    int n_alternates;
    /* the search matrix (pool_search.c) */
    int loaded;
    long n;                   /* rows */
    int Dp;                   /* row stride in floats: D rounded up to 16 (zero padding) */
    float *E;                 /* (n, Dp) normalised rows */
    uint16_t *E16;            /* (n, Dp) the same in half precision (POOL_HALF_KEYS), made at the
                                 first single query over pool_half_rows_ rows or more; else NULL */
    long *rows;               /* (n) a single query's shortlist (with E16) */
    uint64_t *row_id;         /* (n) ascending */
    float *scratch;           /* scores of a chunk of queries */
    size_t scratch_floats;
    float *qbuf;              /* normalised queries (chunk, Dp) */
    size_t qbuf_floats;
};

/* ---- little-endian fields (pool_record.c) ---- */
static inline void pool_put_u16(unsigned char *p, uint16_t v) {
    p[0] = (unsigned char)v, p[1] = (unsigned char)(v >> 8);
}
static inline void pool_put_u32(unsigned char *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i));
}
static inline void pool_put_u64(unsigned char *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i));
}
static inline uint16_t pool_get_u16(const unsigned char *p) { return (uint16_t)(p[0] | p[1] << 8); }
static inline uint32_t pool_get_u32(const unsigned char *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline uint64_t pool_get_u64(const unsigned char *p) {
    return (uint64_t)pool_get_u32(p) | (uint64_t)pool_get_u32(p + 4) << 32;
}
static inline void pool_put_f32(unsigned char *p, float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    pool_put_u32(p, u);
}
static inline float pool_get_f32(const unsigned char *p) {
    uint32_t u = pool_get_u32(p);
    float f;
    memcpy(&f, &u, 4);
    return f;
}
/* n floats to/from little-endian bytes (a memcpy on little-endian hosts) */
void pool_put_f32s(unsigned char *dst, const float *src, size_t n);
void pool_get_f32s(float *dst, const unsigned char *src, size_t n);

/* CRC-32C of n bytes, continuing from crc (0 to start) (pool_crc32c.c). */
uint32_t pool_crc32c(uint32_t crc, const void *buf, size_t n);

/* ---- search entries (emb.G values): D little-endian floats, then (written since record
 * version 2) the CRC-32C of those 4D bytes; entries of 4D bytes (older pools) are read unchecked. */
static inline size_t pool_emb_bytes(int D) { return 4 * (size_t)D + 4; }
/* Writes the entry of embedding e (D) into dst (pool_emb_bytes(D) bytes). */
void pool_emb_put(unsigned char *dst, const float *e, int D);
/* Reads the entry v of record id into out (D): ICSTR_ERR_FORMAT (naming the record and the pool)
 * for a wrong size or a checksum that does not match; *checked (may be NULL) = 1 when it had one. */
int pool_emb_get(const icstr_pool *p, uint64_t id, const MDB_val *v, float *out, int *checked);

/* Record keys: the id big-endian, so LMDB's byte order is numeric order. */
static inline void pool_id_key(unsigned char k[8], uint64_t id) {
    for (int i = 0; i < 8; i++) k[i] = (unsigned char)(id >> (56 - 8 * i));
}
static inline uint64_t pool_key_id(const unsigned char k[8]) {
    uint64_t id = 0;
    for (int i = 0; i < 8; i++) id = id << 8 | k[i];
    return id;
}

/* A validated record, pointing into its buffer. */
typedef struct {
    int version;                    /* 1: no checksum, 2: CRC-32C verified */
    uint64_t id;
    int64_t time_added;
    uint64_t image_hash;
    uint32_t M, D;
    const char *label;
    size_t label_len;
    const char *tag;
    size_t tag_len;
    const unsigned char *embedding; /* D little-endian floats */
    const unsigned char *latents;   /* M*D */
    const unsigned char *image;
    size_t image_len;
} pool_record_view;

/* Parses and validates (the image hash only when check_hash; the checksum of a version 2 record
 * always, after the lengths, so a corrupt length never sends it past the value).
 * ICSTR_ERR_FORMAT/UNSUPPORTED. */
int pool_record_parse(const void *buf, size_t len, int check_hash, pool_record_view *v);
/* ICSTR_OK when the record read under key key_id says it is that record, else ICSTR_ERR_FORMAT
 * naming both (a damaged key or id: a lookup by the record's own id would not find it). */
int pool_record_check_key(const icstr_pool *p, uint64_t key_id, uint64_t record_id);
/* icstr_pool_record_input under view v (re-embedding reads the records under the view it moves to). */
int pool_record_input_view(const icstr_pool *p, const icstr_pool_record *r, const icstr_view *v, int H, int W,
                           float *chw);

/* ---- environment and transactions (pool_env.c) ---- */
int pool_db_fail(const icstr_pool *p, int mrc, const char *what);
/* Begins a transaction (adopting a map grown by another process) and checks that the pool's
 * generation is still the handle's: ICSTR_ERR_MISMATCH when it was re-embedded meanwhile. */
int pool_txn_begin(icstr_pool *p, int rdonly, MDB_txn **txn);
/* End a transaction from pool_txn_begin (and let the process's other handles in). */
void pool_txn_abort(icstr_pool *p, MDB_txn *txn);
int pool_txn_commit(icstr_pool *p, MDB_txn *txn); /* the mdb_txn_commit status */
/* Runs body in a write transaction and commits; on POOL_RETRY_GROW (or MAP_FULL at commit)
 * doubles the map and runs it again. body must be replayable (read its state in the txn). */
typedef int (*pool_write_body)(icstr_pool *p, MDB_txn *txn, void *arg);
int pool_write(icstr_pool *p, pool_write_body body, void *arg);
/* An LMDB put/del status as a body's return: MAP_FULL -> POOL_RETRY_GROW, others -> ICSTR_ERR_DB. */
int pool_mdb_rc(const icstr_pool *p, int mrc, const char *what);

/* meta values */
int pool_meta_get_u64(MDB_txn *txn, MDB_dbi meta, const char *key, uint64_t *v);
int pool_meta_put_u64(MDB_txn *txn, MDB_dbi meta, const char *key, uint64_t v);
int pool_meta_get_str(MDB_txn *txn, MDB_dbi meta, const char *key, char *out, size_t cap);
int pool_meta_put_str(MDB_txn *txn, MDB_dbi meta, const char *key, const char *s);
/* Deletes `key` (absent: ICSTR_OK); errors as pool_mdb_rc. */
int pool_meta_del(const icstr_pool *p, MDB_txn *txn, const char *key);
/* The view under `key` (absent: *v untouched, ICSTR_OK; malformed: ICSTR_ERR_FORMAT) and its
 * writing (the full view is written as "full"). */
int pool_meta_get_view(MDB_txn *txn, MDB_dbi meta, const char *key, icstr_view *v);
int pool_meta_put_view(MDB_txn *txn, MDB_dbi meta, const char *key, const icstr_view *v);
/* Loads p->view and p->alternates from the metadata (pool_views.c). */
int pool_load_views(icstr_pool *p, MDB_txn *txn);
/* the rec/emb database names of a generation */
void pool_gen_names(unsigned gen, char rec[32], char emb[32]);
/* Opens the handle's env without the model check (reembed uses it). */
int pool_open_env(const char *path, int rdonly, icstr_pool **out);

/* ---- adding (pool_add.c) ---- */
/* Writes prepared records (new ids, the time now) in one write transaction, deduplicating by
 * image bytes; used by add and add_encoded. */
typedef struct {
    const icstr_pool_record *recs;  /* (n) */
    int n;
    const int *skip;                /* (n) 1 = not to be written (may be NULL) */
    icstr_pool_add_result *results; /* (n) */
} pool_put_batch;
int pool_put_records(icstr_pool *p, pool_put_batch *b);
/* 1 when the bytes are already in the pool (*id gets the record) under txn. */
int pool_find_duplicate(icstr_pool *p, MDB_txn *txn, const void *image, size_t len, uint64_t hash,
                        uint64_t *id);

/* ---- search (pool_search.c) ---- */
/* Floats of the score block of one chunk of queries (default 8 Mi); tests lower it. */
extern size_t pool_score_floats_;
void pool_search_free(icstr_pool *p);
/* Dot products of rows [0, n) of E (stride Dp) with q (Dp, zero-padded): out[i]. */
void pool_scores_one(const float *E, long n, int Dp, const float *q, float *out);
/* A single query over at least this many rows reads the half-precision keys first (default
 * 4096; tests lower it): half the bytes of a memory-bound loop. */
extern long pool_half_rows_;
#if defined(__AVX512F__) || (defined(__AVX2__) && defined(__FMA__) && defined(__F16C__))
#define POOL_HALF_KEYS 1
/* The same with the rows in half precision (E16). */
void pool_scores_one_half(const uint16_t *E16, long n, int Dp, const float *q, float *out);
#else
#define POOL_HALF_KEYS 0
#endif

#endif
