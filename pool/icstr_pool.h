/* icstr pool: the one public header of the pool module, the persistent prompt pool of
 * ../shared/DESIGN.md. A pool is an LMDB environment (a directory holding data.mdb and lock.mdb)
 * with one record per labelled crop: the label, the embedding (the L2-normalised mean of the M
 * visual latents, D floats), the M latents, the original image bytes (so the pool can be
 * re-embedded for another model), a source tag and the time it was added.
 *
 * Layout (format 1), named databases:
 *   "meta"    format, fingerprint, M, D, generation, next_id, created, model_path, and (once
 *             `icstr pool view` set one) view: "TOP,BOTTOM,LEFT,RIGHT" or "full", and
 *             view.alternates: such views apart by ';'
 *   "rec.G"   u64 id (big-endian, so LMDB's byte order is id order) -> record (below)
 *   "emb.G"   the same id -> the search entry: the embedding alone (D f32 LE), then (written since
 *             record version 2) u32 CRC-32C of those 4D bytes; search loads only these. Entries of
 *             4D bytes (older pools) are read unchecked.
 *   "hash"    u64 hash of the image bytes -> ids holding those bytes (sorted duplicates)
 * G is the generation: re-embedding writes rec.G+1/emb.G+1 in chunks and switches to them in
 * one final transaction, so an interrupted reembed leaves the pool as it was.
 *
 * Record (version 2, written by every add and reembed), little-endian, fields one by one:
 *   "ICPR" u16 version u16 reserved(0) u64 id i64 time u64 image_hash u32 M u32 D
 *   u32 label_len, label (UTF-8, no NUL)   u32 tag_len, tag (UTF-8, no NUL)
 *   D f32 embedding   M*D f32 latents   u64 image_len, image bytes
 *   u32 CRC-32C (Castagnoli) of every byte before it
 * Version 1 is the same without the CRC (the image runs to the end of the record); it is still
 * read, unchecked. The decoder checks every length against what is left of the record, then the
 * CRC: a record with a flipped byte anywhere (label, latents, image) is refused, naming its id.
 *
 * Damage on disk: opening refuses an empty data.mdb, one shorter than its last page (truncated),
 * and one whose two LMDB meta pages hold non-consecutive transaction ids (a flipped id would
 * make LMDB silently use the older state). `icstr pool check` (icstr_pool_check) reads and
 * cross-checks everything. LMDB itself trusts its pages: a program that wants a damaged branch
 * or leaf page to end in a message rather than a SIGSEGV calls icstr_pool_guard_faults.
 *
 * Consistency: every change is one LMDB write transaction (adds commit a whole batch or
 * nothing); LMDB serialises writers across processes; the map doubles on MDB_MAP_FULL and a
 * handle adopts a map another process grew. Identical image bytes are stored once.
 *
 * Thread-safety: a handle is used by one thread at a time; separate handles (or processes) on
 * one pool may be used at once. Handles must not cross fork(): open one in the child.
 */
#ifndef ICSTR_POOL_H
#define ICSTR_POOL_H

#include "icstr_core.h"
#include "icstr_data.h"
#include "model.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define ICSTR_POOL_FORMAT 1          /* the pool layout this code reads and writes */
#define ICSTR_POOL_RECORD_VERSION 2  /* the record encoding written (1 and 2 are read) */
#define ICSTR_POOL_LABEL_MAX 1024    /* bytes of a label in a record */
#define ICSTR_POOL_TAG_MAX 255       /* bytes of a tag */
#define ICSTR_POOL_M_MAX 4096        /* latents per record */
#define ICSTR_POOL_D_MAX 16384       /* embedding width */
#define ICSTR_POOL_IMAGE_MAX ((size_t)64 << 20) /* image bytes per record */
#define ICSTR_POOL_PATH_MAX 1024     /* model_path hint */

/* ---- records ---- */

typedef struct {
    uint64_t id;
    int64_t time_added;       /* seconds since the Unix epoch */
    uint64_t image_hash;      /* icstr_pool_hash of the image bytes */
    char *label;              /* UTF-8, NUL-terminated */
    char *tag;                /* UTF-8, NUL-terminated, may be "" */
    int M, D;
    float *embedding;         /* (D) L2-normalised; NULL unless asked for */
    float *latents;           /* (M, D); NULL unless asked for */
    unsigned char *image;     /* (image_len) the encoded image file; NULL unless asked for */
    size_t image_len;         /* always set */
} icstr_pool_record;

/* What icstr_pool_record_decode, icstr_pool_get and icstr_pool_foreach copy out besides the
 * small fields (id, time, hash, label, tag, M, D, image_len). Every field is validated either way. */
enum {
    ICSTR_POOL_WANT_EMBEDDING = 1,
    ICSTR_POOL_WANT_LATENTS = 2,
    ICSTR_POOL_WANT_IMAGE = 4,
    ICSTR_POOL_WANT_ALL = 7,
};

/* Encodes r (all fields set; embedding, latents and image non-NULL) as a version 2 record (with
 * its CRC-32C) into *out (malloc'd, the caller frees it) of *len bytes. Errors: ICSTR_ERR_ARG (a field out of range: the detail says
 * which), ICSTR_ERR_NOMEM. */
int icstr_pool_record_encode(const icstr_pool_record *r, unsigned char **out, size_t *len);
/* Decodes and validates a record (version 1 or 2): magic, version, every length against the
 * bytes left, M and D in range, label and tag valid UTF-8 without NUL, the checksum (version 2),
 * the floats finite, the image at least one byte and (when the image is asked for) matching its
 * hash. On success *out owns copies (free with icstr_pool_record_free); on failure *out is
 * zeroed. Errors: ICSTR_ERR_FORMAT (the detail says what is wrong; "checksum mismatch" for a
 * corrupt version 2 record), ICSTR_ERR_UNSUPPORTED (another record version), ICSTR_ERR_NOMEM. */
int icstr_pool_record_decode(const void *buf, size_t len, int want, icstr_pool_record *out);
void icstr_pool_record_free(icstr_pool_record *r);

/* 64-bit hash of image bytes for deduplication (not cryptographic: a match is confirmed by
 * comparing the bytes). */
uint64_t icstr_pool_hash(const void *bytes, size_t n);

/* ---- the pool ---- */

typedef struct icstr_pool icstr_pool;

/* The model input (3, H, W) of record r's stored image under the pool's view (decoded as `pool add` decodes a crop); an
 * image that does not decode fails with a message that names the pool and the record and says to
 * remove it. Errors: those of icstr_image_load_memory and icstr_image_to_input. */
int icstr_pool_record_input(const icstr_pool *p, const icstr_pool_record *r, int H, int W, float *chw);

typedef struct {
    char fingerprint[65];     /* icstr_model_fingerprint of the model that makes the embeddings */
    int M, D;                 /* latents and their width (the model's latents and dec_dim) */
    char model_path[ICSTR_POOL_PATH_MAX]; /* where that model lives ("" unknown): a hint the CLI
                                              uses when --model is not given */
    size_t map_bytes;         /* create only: the initial LMDB map (0 = 64 MiB; at least 64 KiB) */
} icstr_pool_meta;

/* Fills meta for model m (model_path may be NULL). */
void icstr_pool_meta_from_model(const icstr_model *m, const char *model_path, icstr_pool_meta *meta);

/* Creates an empty pool at path (a directory, made if missing). Errors: ICSTR_ERR_ARG (bad meta,
 * or path already holds a data.mdb), ICSTR_ERR_IO (mkdir), ICSTR_ERR_DB. */
int icstr_pool_create(const char *path, const icstr_pool_meta *meta);

enum { ICSTR_POOL_RDONLY = 1 };  /* open flag: no changes through this handle */

/* Opens a pool. With a model, the pool must hold that model's embeddings: another fingerprint
 * gives ICSTR_ERR_MISMATCH and a detail that says to run `icstr pool reembed`. With m NULL the
 * pool opens whatever made it (ls, stats, rm, export, search with given vectors) but adding
 * images and building prompts fail with ICSTR_ERR_ARG. The handle keeps m (not owned).
 * Errors: ICSTR_ERR_NOTFOUND (no pool there), ICSTR_ERR_FORMAT (not a pool, bad metadata),
 * ICSTR_ERR_UNSUPPORTED (another pool format), ICSTR_ERR_MISMATCH, ICSTR_ERR_DB, ICSTR_ERR_NOMEM. */
int icstr_pool_open(const char *path, icstr_model *m, int flags, icstr_pool **out);
void icstr_pool_close(icstr_pool *p);

typedef struct {
    int format;
    int generation;
    char fingerprint[65];
    int M, D;
    char model_path[ICSTR_POOL_PATH_MAX];
    int64_t created;          /* seconds since the Unix epoch */
    icstr_view view;          /* the view of every image (records and queries) the model reads */
    long count;               /* records */
    uint64_t next_id;         /* the id the next added record gets */
    size_t map_bytes;         /* the LMDB map size */
    size_t used_bytes;        /* pages in use times the page size */
} icstr_pool_info;

/* The metadata and size as of now (reads a fresh transaction). Errors: ICSTR_ERR_DB. */
int icstr_pool_get_info(icstr_pool *p, icstr_pool_info *out);

/* ---- adding ---- */

typedef struct {
    const void *image;        /* the encoded image file */
    size_t image_len;
    const char *label;        /* UTF-8 */
    const char *name;         /* for messages (may be NULL) */
} icstr_pool_item;

enum { ICSTR_POOL_ADDED = 1, ICSTR_POOL_DUPLICATE = 2 };

typedef struct {
    int status;               /* ICSTR_POOL_ADDED, ICSTR_POOL_DUPLICATE (the bytes are already in
                                 the pool: nothing added), or a negative ICSTR_ERR_* (refused) */
    uint64_t id;              /* the new record, or the one holding the same bytes; 0 if refused */
    char reason[256];         /* why it was refused, or for a duplicate with another label, that */
} icstr_pool_add_result;

/* Adds n crops: validates each label with icstr_model_encode_label (empty labels, code points
 * outside the charset and labels longer than max_label are refused, naming the label), decodes
 * each image (icstr_image_load_memory + icstr_image_to_input), encodes them with the pool's
 * model in batches, and writes all the accepted ones in ONE write transaction (replayed after
 * growing the map), so a crash leaves the pool with all of them or none. Duplicates of records
 * already in the pool, or earlier in the same call, are not added. tag (may be NULL: "") is
 * stored with each record; results (n, may be NULL) tells what became of each item.
 * The return is ICSTR_OK when the transaction committed even if some items were refused.
 * Errors: ICSTR_ERR_ARG (no model, read-only handle, a tag over ICSTR_POOL_TAG_MAX or not UTF-8),
 * ICSTR_ERR_MISMATCH (the pool was re-embedded since open), ICSTR_ERR_DB, ICSTR_ERR_NOMEM, the
 * model's errors. */
int icstr_pool_add(icstr_pool *p, const icstr_pool_item *items, int n, const char *tag,
                   icstr_pool_add_result *results);

/* Adds records whose embedding and latents are already computed (r[i]: label, tag, image,
 * embedding, latents, M and D matching the pool; id, time and hash are ignored and set), in one
 * write transaction, with the same deduplication. Labels are checked against the model when
 * the handle has one. For re-embedding tools, benchmarks and tests. */
int icstr_pool_add_encoded(icstr_pool *p, const icstr_pool_record *r, int n,
                           icstr_pool_add_result *results);

/* ---- reading, removing ---- */

/* Record id. Errors: ICSTR_ERR_NOTFOUND, ICSTR_ERR_FORMAT (a corrupt record: the detail names
 * the id), ICSTR_ERR_DB, ICSTR_ERR_NOMEM. *out is freed with icstr_pool_record_free. */
int icstr_pool_get(icstr_pool *p, uint64_t id, int want, icstr_pool_record *out);

/* Calls fn for every record in id order, with what `want` asks for; the record is valid during
 * the call only. Reads in short transactions of a few hundred records, so fn may take its time
 * and may use other handles; records added or removed meanwhile may or may not be seen. A
 * non-zero return of fn stops the walk and is returned. Errors: those of icstr_pool_get. */
typedef int (*icstr_pool_visit_fn)(void *user, const icstr_pool_record *r);
int icstr_pool_foreach(icstr_pool *p, int want, icstr_pool_visit_fn fn, void *user);

/* Removes the records ids (n) in one write transaction. found (n, may be NULL) gets 1 for each
 * id that was there; *removed (may be NULL) the number removed. Ids not in the pool are no error.
 * Errors: ICSTR_ERR_ARG (read-only handle), ICSTR_ERR_DB, ICSTR_ERR_MISMATCH. */
int icstr_pool_remove(icstr_pool *p, const uint64_t *ids, int n, int *found, long *removed);

/* Writes every record's image and label, in id order, to a standard STR LMDB at out_path
 * (icstr_str_writer; an existing data.mdb there is replaced). *count (may be NULL) gets the
 * number written. */
int icstr_pool_export(icstr_pool *p, const char *out_path, long *count);

/* ---- retrieval ---- */

/* Exact top-N by cosine similarity. The first search (or the first after a change through this
 * handle, or icstr_pool_reload) loads the embeddings into one (n, D) matrix of normalised rows;
 * changes made by other handles are seen after icstr_pool_reload. queries (q, D) need not be
 * normalised (they are, on a copy). One query: one matrix-vector product; several: matrix-matrix
 * products over chunks of queries; then a partial top-N selection per query. ids and scores
 * (q, N) get the best first (ties: the lower id first); *found = min(N, records) (slots after it
 * get id 0 and score -1e30). Errors: ICSTR_ERR_ARG (N < 1, q < 0, a query of zero norm or not
 * finite, a width other than D), ICSTR_ERR_FORMAT (a stored embedding of the wrong size or not
 * finite), ICSTR_ERR_DB, ICSTR_ERR_NOMEM. */
int icstr_pool_search(icstr_pool *p, const float *queries, int q, int N, uint64_t *ids,
                      float *scores, int *found);
/* Drops the loaded matrix so the next search sees the pool as it is now. */
void icstr_pool_reload(icstr_pool *p);
/* Records in the loaded matrix (loads it); < 0 on error. */
long icstr_pool_search_count(icstr_pool *p);

/* Prompts for decoding with context: for each query, the `shots` most similar records as an
 * icstr_context (latents and label tokens), ordered so the MOST similar is LAST (nearest the
 * query), as icstr_model_decode wants; records less similar than min_score (cosine; init sets
 * -2, i.e. none is left out) are left out. Buffers for up to cap queries. */
typedef struct {
    int cap, shots, M, D, max_label;
    float min_score;
    float *latents;           /* (cap, shots, M, D) */
    int *labels;              /* (cap, shots, max_label) */
    int *label_len;           /* (cap, shots) */
    uint64_t *ids;            /* (cap, shots) context order: most similar last */
    float *scores;            /* (cap, shots) cosine similarity, same order */
    icstr_context *ctx;       /* (cap) ctx[i].n_prompts <= shots */
    uint64_t *found_ids;      /* (cap, shots) search output, best first (scratch) */
    float *found_scores;      /* (cap, shots) */
} icstr_pool_prompts;

/* Needs a handle with a model. shots in [0, max_prompts of the model].
 * Errors: ICSTR_ERR_ARG, ICSTR_ERR_LIMIT (shots over max_prompts), ICSTR_ERR_NOMEM. */
int icstr_pool_prompts_init(icstr_pool_prompts *pp, const icstr_pool *p, int cap, int shots);
/* Retrieves and fills contexts for q <= cap queries given their embeddings (q, D) (from
 * icstr_model_encode). A record removed by another process since the matrix was loaded is left
 * out (that query gets fewer prompts). Errors: those of icstr_pool_search and icstr_pool_get. */
int icstr_pool_prompts_fill(icstr_pool *p, const float *embeddings, int q, icstr_pool_prompts *pp);
void icstr_pool_prompts_free(icstr_pool_prompts *pp);
/* The model the handle was opened with (NULL for metadata-only use). */
icstr_model *icstr_pool_model(const icstr_pool *p);
/* The directory the pool was opened from (as given to icstr_pool_open). */
const char *icstr_pool_path(const icstr_pool *p);
/* The view the pool's records were read with, as of opening (icstr_view_full() for a pool
 * that never set one): readers cut their queries to it (icstr_image_view_to_input). */
icstr_view icstr_pool_view(const icstr_pool *p);
/* Other views a reading may also read each crop under and vote over (`--views`), best first, as
 * `icstr pool view --auto` ranked them on the pool's records; a reembed that changes the pool's
 * view drops them. icstr_pool_alternates copies up to cap of them (as of opening, or as set
 * through this handle) and returns how many there are. icstr_pool_set_alternates stores n (at
 * most ICSTR_POOL_ALTERNATES_MAX; 0 drops them) in one write transaction. Errors: ICSTR_ERR_ARG
 * (a read-only handle, too many, a view failing icstr_view_check), ICSTR_ERR_MISMATCH (re-embedded
 * since open), ICSTR_ERR_DB. */
#define ICSTR_POOL_ALTERNATES_MAX 8
int icstr_pool_alternates(const icstr_pool *p, icstr_view *out, int cap);
int icstr_pool_set_alternates(icstr_pool *p, const icstr_view *views, int n);

/* ---- re-embedding ---- */

/* Recomputes every record's embedding and latents with model m from its stored image, read
 * under view (NULL: the pool's own), and makes m the pool's model (fingerprint, M, D,
 * model_path) and view the pool's view (queries read with the pool are cut to it too). Every label must fit m's charset and
 * max_label, else ICSTR_ERR_RANGE before anything changes (the detail names the labels).
 * Works in chunks of `chunk` records (0 = 256) into the next generation's databases; the switch
 * is one final transaction that also takes in records added or removed meanwhile, so a killed
 * reembed leaves the pool as before (and a new run for the same model and view resumes where it
 * stopped). The same model and view as now change nothing. *count (may be NULL) gets the
 * number of records re-embedded. Errors: ICSTR_ERR_ARG (a view failing icstr_view_check) and
 * the above. */
int icstr_pool_reembed(const char *path, icstr_model *m, const char *model_path, const icstr_view *view,
                       int chunk, long *count);

/* ---- checking a damaged pool ---- */

typedef struct {
    long records;       /* records that passed every check */
    long checksummed;   /* of those, version 2 records whose checksum was verified (the rest are v1) */
    long bad_records;   /* records refused: a length, the checksum, a float, the image hash, the id */
    long bad_entries;   /* search entries missing, corrupt, unlike their record's embedding, orphaned */
    long bad_index;     /* duplicate index: records missing from it, entries under another hash */
    long stale_index;   /* index entries of removed records (harmless: they never match) */
    int next_id_ok;     /* next_id is above every id */
    long problems;      /* all of the above that are problems (0: the pool is intact) */
} icstr_pool_check_report;

typedef void (*icstr_pool_problem_fn)(void *user, uint64_t id, const char *what);

/* Reads the whole pool and cross-checks it: every record decoded in full (ICSTR_POOL_WANT_ALL:
 * lengths, checksum, finite floats, the image against its hash, the id against its key), every
 * search entry (its checksum, equal to the record's embedding, none without a record), the
 * duplicate index, next_id. Unlike icstr_pool_foreach it goes on past a bad record: problem
 * (may be NULL) is called for each problem (id 0 when none applies), fn (may be NULL) for each
 * good record in id order (valid during the call; a non-zero return stops the check and is
 * returned). Returns ICSTR_OK when the check ran to the end, whatever it found (out->problems);
 * an error when LMDB could not walk a database (ICSTR_ERR_DB: MDB_CORRUPTED, MDB_PAGE_NOTFOUND)
 * or a key is malformed (ICSTR_ERR_FORMAT), ICSTR_ERR_NOMEM. Short read transactions, except
 * one over the duplicate index. */
int icstr_pool_check(icstr_pool *p, icstr_pool_visit_fn fn, icstr_pool_problem_fn problem, void *user,
                     icstr_pool_check_report *out);

/* The pool whose mapped file the calling thread is reading right now (a transaction of it is
 * open), or NULL. For a fault handler. */
const char *icstr_pool_fault_context(void);

/* For programs, once at start: a SIGSEGV or SIGBUS raised while a thread reads a pool (LMDB
 * faulting on a damaged page), or an abort() there (LMDB's assertions), prints "icstr: the pool P is corrupt: ..." to stderr and exits
 * with status 1 (_exit: nothing else runs); other faults keep what was installed before (the
 * default action, a sanitizer's report). The library never calls it itself. Errors:
 * ICSTR_ERR_INTERNAL (sigaction failed). */
int icstr_pool_guard_faults(void);

#ifdef __cplusplus
}
#endif

#endif
