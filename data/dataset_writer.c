/* Writing the standard STR LMDB layout (num-samples, image-%09d, label-%09d, 1-based), as
 * PARSeq, ABINet and MMOCR read it. Samples are committed in batches; the batch stays in memory
 * until its commit so that MDB_MAP_FULL can be answered by doubling the map and replaying it. */
#include "icstr_data.h"

#include <errno.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define BATCH_SAMPLES 1000
#define BATCH_BYTES ((size_t)64 << 20) /* or sooner, when the kept batch gets this big */
#define MAP_START ((size_t)64 << 20)
#define KEY_MAX 511 /* LMDB's default maximum key size */

struct icstr_str_writer {
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    char *path;
    size_t mapsize;
    long count;      /* samples added */
    long in_batch;   /* samples in the uncommitted batch */
    int failed;      /* the rc of the first failure; later calls refuse */
    /* the uncommitted batch: records of [size_t klen][size_t vlen][key][value] */
    unsigned char *pend;
    size_t pend_len, pend_cap;
};

static int db_fail(icstr_str_writer *w, int mrc, const char *what) {
    w->failed = ICSTR_ERR_DB;
    return icstr_fail(ICSTR_ERR_DB, "%s: %s: %s", w->path, what, mdb_strerror(mrc));
}

static int remember(icstr_str_writer *w, const char *key, size_t kl, const void *val, size_t vl) {
    size_t need = 2 * sizeof(size_t) + kl + vl;
    if (vl > SIZE_MAX / 2 || w->pend_len > SIZE_MAX / 2 - need)
        return icstr_fail(ICSTR_ERR_RANGE, "%s: value of %zu bytes is too big", w->path, vl);
    if (w->pend_len + need > w->pend_cap) {
        size_t cap = w->pend_cap ? w->pend_cap : 1 << 20;
        while (cap < w->pend_len + need) cap *= 2;
        unsigned char *p = realloc(w->pend, cap);
        if (!p) return icstr_fail(ICSTR_ERR_NOMEM, "%s: batch of %zu bytes", w->path, cap);
        w->pend = p;
        w->pend_cap = cap;
    }
    unsigned char *d = w->pend + w->pend_len;
    memcpy(d, &kl, sizeof kl);
    memcpy(d + sizeof kl, &vl, sizeof vl);
    memcpy(d + 2 * sizeof kl, key, kl);
    if (vl) memcpy(d + 2 * sizeof kl + kl, val, vl);
    w->pend_len += need;
    return ICSTR_OK;
}

/* Puts the records of the pending batch from byte offset `from` into the open transaction. */
static int put_pending(icstr_str_writer *w, size_t from) {
    size_t off = from;
    while (off < w->pend_len) {
        size_t kl, vl;
        memcpy(&kl, w->pend + off, sizeof kl);
        memcpy(&vl, w->pend + off + sizeof kl, sizeof vl);
        unsigned char *key = w->pend + off + 2 * sizeof kl;
        MDB_val k = {kl, key}, v = {vl, key + kl};
        int mrc = mdb_put(w->txn, w->dbi, &k, &v, 0);
        if (mrc) return mrc;
        off += 2 * sizeof kl + kl + vl;
    }
    return 0;
}

/* After MDB_MAP_FULL (the transaction is dead): doubles the map and replays the whole batch,
 * as often as needed. */
static int grow_and_replay(icstr_str_writer *w) {
    for (int tries = 0; tries < 40; tries++) {
        if (w->txn) mdb_txn_abort(w->txn);
        w->txn = NULL;
        if (w->mapsize > SIZE_MAX / 2) break;
        w->mapsize *= 2;
        int mrc = mdb_env_set_mapsize(w->env, w->mapsize);
        if (mrc) return db_fail(w, mrc, "grow the map");
        if ((mrc = mdb_txn_begin(w->env, NULL, 0, &w->txn))) return db_fail(w, mrc, "begin");
        mrc = put_pending(w, 0);
        if (mrc == MDB_MAP_FULL) continue;
        if (mrc) return db_fail(w, mrc, "put");
        return ICSTR_OK;
    }
    w->failed = ICSTR_ERR_DB;
    return icstr_fail(ICSTR_ERR_DB, "%s: the map cannot grow beyond %zu bytes", w->path, w->mapsize);
}

static int put(icstr_str_writer *w, const char *key, const void *val, size_t vl) {
    size_t kl = strlen(key), from = w->pend_len;
    int rc = remember(w, key, kl, val, vl);
    if (rc) {
        w->failed = rc;
        return rc;
    }
    int mrc = put_pending(w, from);
    if (mrc == MDB_MAP_FULL) return grow_and_replay(w);
    if (mrc) return db_fail(w, mrc, key);
    return ICSTR_OK;
}

static int commit(icstr_str_writer *w) {
    for (;;) {
        int mrc = mdb_txn_commit(w->txn);
        w->txn = NULL; /* commit frees the transaction, failed or not */
        if (mrc == MDB_MAP_FULL) {
            int rc = grow_and_replay(w);
            if (rc) return rc;
            continue;
        }
        if (mrc) return db_fail(w, mrc, "commit");
        break;
    }
    w->pend_len = 0;
    w->in_batch = 0;
    return ICSTR_OK;
}

static int begin(icstr_str_writer *w) {
    int mrc = mdb_txn_begin(w->env, NULL, 0, &w->txn);
    return mrc ? db_fail(w, mrc, "begin") : ICSTR_OK;
}

static int remove_if_there(const char *dir, const char *name) {
    char p[4096];
    if (snprintf(p, sizeof p, "%s/%s", dir, name) >= (int)sizeof p)
        return icstr_fail(ICSTR_ERR_ARG, "%s: path too long", dir);
    if (unlink(p) && errno != ENOENT) return icstr_fail(ICSTR_ERR_IO, "%s: %s", p, strerror(errno));
    return ICSTR_OK;
}

static void writer_free(icstr_str_writer *w) {
    if (w->txn) mdb_txn_abort(w->txn);
    if (w->env) mdb_env_close(w->env);
    free(w->pend);
    free(w->path);
    free(w);
}

int icstr_str_writer_open(const char *path, icstr_str_writer **out) {
    return icstr_str_writer_open_map(path, MAP_START, out);
}

int icstr_str_writer_open_map(const char *path, size_t map_bytes, icstr_str_writer **out) {
    if (!out || !path || !*path) return icstr_fail(ICSTR_ERR_ARG, "STR writer: no path");
    *out = NULL;
    if (map_bytes < ((size_t)64 << 10))
        return icstr_fail(ICSTR_ERR_ARG, "STR writer: map of %zu bytes is too small", map_bytes);
    struct stat st;
    if (stat(path, &st)) {
        if (errno != ENOENT) return icstr_fail(ICSTR_ERR_IO, "%s: %s", path, strerror(errno));
        if (mkdir(path, 0775)) return icstr_fail(ICSTR_ERR_IO, "mkdir %s: %s", path, strerror(errno));
    } else if (!S_ISDIR(st.st_mode)) {
        return icstr_fail(ICSTR_ERR_IO, "%s: exists and is not a directory", path);
    }
    int rc;
    if ((rc = remove_if_there(path, "data.mdb")) || (rc = remove_if_there(path, "lock.mdb")))
        return rc;
    icstr_str_writer *w = calloc(1, sizeof *w);
    if (!w || !(w->path = strdup(path))) {
        free(w);
        return icstr_fail(ICSTR_ERR_NOMEM, "STR writer %s", path);
    }
    w->mapsize = map_bytes;
    int mrc;
    if ((mrc = mdb_env_create(&w->env))) rc = db_fail(w, mrc, "mdb_env_create");
    else if ((mrc = mdb_env_set_mapsize(w->env, w->mapsize))) rc = db_fail(w, mrc, "set map size");
    /* NOSYNC: one fsync at close instead of one per batch; a crash loses the set anyway */
    else if ((mrc = mdb_env_open(w->env, path, MDB_NOSYNC, 0664))) rc = db_fail(w, mrc, "open");
    else if ((mrc = mdb_txn_begin(w->env, NULL, 0, &w->txn))) rc = db_fail(w, mrc, "begin");
    else if ((mrc = mdb_dbi_open(w->txn, NULL, 0, &w->dbi))) rc = db_fail(w, mrc, "open database");
    if (rc) {
        writer_free(w);
        return rc;
    }
    *out = w;
    return ICSTR_OK;
}

long icstr_str_writer_count(const icstr_str_writer *w) { return w ? w->count : 0; }

static int usable(icstr_str_writer *w) {
    if (!w) return icstr_fail(ICSTR_ERR_ARG, "STR writer: NULL writer");
    if (w->failed)
        return icstr_fail(w->failed, "%s: the writer failed earlier and only accepts close",
                          w->path);
    return ICSTR_OK;
}

int icstr_str_writer_add(icstr_str_writer *w, const void *image_bytes, size_t n, const char *label,
                         long *index_out) {
    int rc = usable(w);
    if (rc) return rc;
    if (!image_bytes || n == 0) return icstr_fail(ICSTR_ERR_ARG, "%s: empty image", w->path);
    if (!label) return icstr_fail(ICSTR_ERR_ARG, "%s: NULL label", w->path);
    size_t ll = strlen(label);
    if (!icstr_utf8_valid(label, ll))
        return icstr_fail(ICSTR_ERR_ARG, "%s: label is not valid UTF-8", w->path);
    long idx = w->count + 1;
    char key[32];
    snprintf(key, sizeof key, "image-%09ld", idx);
    if ((rc = put(w, key, image_bytes, n))) return rc;
    snprintf(key, sizeof key, "label-%09ld", idx);
    if ((rc = put(w, key, label, ll))) return rc;
    w->count = idx;
    if ((++w->in_batch >= BATCH_SAMPLES || w->pend_len >= BATCH_BYTES) &&
        ((rc = commit(w)) || (rc = begin(w))))
        return rc;
    if (index_out) *index_out = idx;
    return ICSTR_OK;
}

int icstr_str_writer_put(icstr_str_writer *w, const char *key, const void *value, size_t n) {
    int rc = usable(w);
    if (rc) return rc;
    if (!key || !*key || strlen(key) > KEY_MAX || !strcmp(key, "num-samples"))
        return icstr_fail(ICSTR_ERR_ARG, "%s: key '%s' is empty, too long or reserved", w->path,
                          key ? key : "(null)");
    if (!value && n) return icstr_fail(ICSTR_ERR_ARG, "%s: NULL value for %s", w->path, key);
    return put(w, key, value ? value : "", n);
}

int icstr_str_writer_close(icstr_str_writer *w) {
    if (!w) return icstr_fail(ICSTR_ERR_ARG, "STR writer: NULL writer");
    int rc = w->failed;
    if (rc) {
        icstr_fail(rc, "%s: closed after a failure; the last batch was discarded", w->path);
    } else {
        char num[32];
        snprintf(num, sizeof num, "%ld", w->count);
        int mrc;
        if (!(rc = put(w, "num-samples", num, strlen(num))) && !(rc = commit(w)) &&
            (mrc = mdb_env_sync(w->env, 1)))
            rc = db_fail(w, mrc, "sync");
    }
    writer_free(w);
    return rc;
}
