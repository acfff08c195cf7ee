/* The pool's LMDB environment: create, open (with the model fingerprint check, and checks of the
 * file that LMDB does not make: empty, truncated, disagreeing meta pages), close, the metadata,
 * and the transaction helpers that grow the map on MDB_MAP_FULL and adopt a map that another
 * process grew. */
#include "pool_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

int pool_db_fail(const icstr_pool *p, int mrc, const char *what) {
    /* LMDB reports a short write to a full disk as EIO: say what the file system says */
    struct statvfs fs;
    if (p && (mrc == EIO || mrc == ENOSPC || mrc == EDQUOT || mrc == EFBIG) && !statvfs(p->path, &fs) &&
        (unsigned long long)fs.f_bavail * fs.f_frsize < ((unsigned long long)4 << 20))
        return icstr_fail(ICSTR_ERR_DB, "pool %s: %s: %s: the disk is full (%llu KiB free); nothing of this "
                          "transaction was written, the pool is as it was before it", p->path, what, mdb_strerror(mrc),
                          (unsigned long long)fs.f_bavail * fs.f_frsize >> 10);
    return icstr_fail(ICSTR_ERR_DB, "pool %s: %s: %s", p ? p->path : "?", what, mdb_strerror(mrc));
}

int pool_mdb_rc(const icstr_pool *p, int mrc, const char *what) {
    if (mrc == MDB_MAP_FULL) return POOL_RETRY_GROW;
    return pool_db_fail(p, mrc, what);
}

void pool_gen_names(unsigned gen, char rec[32], char emb[32]) {
    snprintf(rec, 32, "rec.%u", gen);
    snprintf(emb, 32, "emb.%u", gen);
}

/* ---- meta values: integers as 8 bytes little-endian, strings as their bytes ---- */

int pool_meta_get_u64(MDB_txn *txn, MDB_dbi meta, const char *key, uint64_t *v) {
    MDB_val k = {strlen(key), (void *)key}, d;
    int mrc = mdb_get(txn, meta, &k, &d);
    if (mrc == MDB_NOTFOUND) return icstr_fail(ICSTR_ERR_FORMAT, "pool metadata: no '%s'", key);
    if (mrc) return icstr_fail(ICSTR_ERR_DB, "pool metadata '%s': %s", key, mdb_strerror(mrc));
    if (d.mv_size != 8) return icstr_fail(ICSTR_ERR_FORMAT, "pool metadata: '%s' has %zu bytes, not 8", key, d.mv_size);
    *v = pool_get_u64(d.mv_data);
    return ICSTR_OK;
}

int pool_meta_put_u64(MDB_txn *txn, MDB_dbi meta, const char *key, uint64_t v) {
    unsigned char b[8];
    pool_put_u64(b, v);
    MDB_val k = {strlen(key), (void *)key}, d = {8, b};
    int mrc = mdb_put(txn, meta, &k, &d, 0);
    if (mrc == MDB_MAP_FULL) return POOL_RETRY_GROW;
    return mrc ? icstr_fail(ICSTR_ERR_DB, "pool metadata '%s': %s", key, mdb_strerror(mrc)) : ICSTR_OK;
}

int pool_meta_get_str(MDB_txn *txn, MDB_dbi meta, const char *key, char *out, size_t cap) {
    MDB_val k = {strlen(key), (void *)key}, d;
    int mrc = mdb_get(txn, meta, &k, &d);
    if (mrc == MDB_NOTFOUND) return icstr_fail(ICSTR_ERR_NOTFOUND, "pool metadata: no '%s'", key);
    if (mrc) return icstr_fail(ICSTR_ERR_DB, "pool metadata '%s': %s", key, mdb_strerror(mrc));
    if (d.mv_size >= cap || memchr(d.mv_data, 0, d.mv_size))
        return icstr_fail(ICSTR_ERR_FORMAT, "pool metadata: '%s' of %zu bytes is malformed", key, d.mv_size);
    memcpy(out, d.mv_data, d.mv_size);
    out[d.mv_size] = 0;
    return ICSTR_OK;
}

int pool_meta_put_str(MDB_txn *txn, MDB_dbi meta, const char *key, const char *s) {
    MDB_val k = {strlen(key), (void *)key}, d = {strlen(s), (void *)s};
    int mrc = mdb_put(txn, meta, &k, &d, 0);
    if (mrc == MDB_MAP_FULL) return POOL_RETRY_GROW;
    return mrc ? icstr_fail(ICSTR_ERR_DB, "pool metadata '%s': %s", key, mdb_strerror(mrc)) : ICSTR_OK;
}

int pool_meta_del(const icstr_pool *p, MDB_txn *txn, const char *key) {
    MDB_val k = {strlen(key), (void *)key};
    int mrc = mdb_del(txn, p->meta, &k, NULL);
    return mrc && mrc != MDB_NOTFOUND ? pool_mdb_rc(p, mrc, "metadata") : ICSTR_OK;
}

/* ---- transactions ---- */

int pool_txn_begin(icstr_pool *p, int rdonly, MDB_txn **txn) {
    *txn = NULL;
    pool_env_lock(p->shared);
    for (int tries = 0;; tries++) {
        int mrc = mdb_txn_begin(p->env, NULL, rdonly ? MDB_RDONLY : 0, txn);
        if (mrc == MDB_MAP_RESIZED && tries < 8) {
            /* another process grew the map: adopt its size (no transaction of ours is open) */
            if (!(mrc = mdb_env_set_mapsize(p->env, 0))) continue;
        }
        if (mrc) {
            pool_env_unlock(p->shared);
            return pool_db_fail(p, mrc, rdonly ? "begin a read transaction" : "begin a write transaction");
        }
        break;
    }
    uint64_t gen;
    int rc = pool_meta_get_u64(*txn, p->meta, "generation", &gen);
    if (!rc && gen != p->gen)
        rc = icstr_fail(ICSTR_ERR_MISMATCH, "pool %s was re-embedded since it was opened; open it again", p->path);
    if (rc) {
        pool_txn_abort(p, *txn);
        *txn = NULL;
    }
    return rc;
}

void pool_txn_abort(icstr_pool *p, MDB_txn *txn) {
    mdb_txn_abort(txn);
    pool_env_unlock(p->shared);
}

int pool_txn_commit(icstr_pool *p, MDB_txn *txn) {
    int mrc = mdb_txn_commit(txn); /* frees the transaction, committed or not */
    pool_env_unlock(p->shared);
    return mrc;
}

static int grow_map(icstr_pool *p) {
    MDB_envinfo info;
    pool_env_lock(p->shared); /* no transaction of this process may be open meanwhile */
    int mrc = mdb_env_info(p->env, &info), rc = ICSTR_OK;
    size_t next = info.me_mapsize * 2;
    if (mrc) rc = pool_db_fail(p, mrc, "env info");
    else if (info.me_mapsize > SIZE_MAX / 2) rc = icstr_fail(ICSTR_ERR_DB, "pool %s: the map cannot grow", p->path);
    else if ((mrc = mdb_env_set_mapsize(p->env, next))) rc = pool_db_fail(p, mrc, "grow the map");
    pool_env_unlock(p->shared);
    if (!rc) ICSTR_DEBUG("pool %s: map grown to %zu KiB", p->path, next >> 10);
    return rc;
}

int pool_write(icstr_pool *p, pool_write_body body, void *arg) {
    if (p->rdonly) return icstr_fail(ICSTR_ERR_ARG, "pool %s is open read-only", p->path);
    for (int tries = 0; tries < 48; tries++) {
        MDB_txn *txn;
        int rc = pool_txn_begin(p, 0, &txn);
        if (rc) return rc;
        rc = body(p, txn, arg);
        if (rc == POOL_RETRY_GROW) {
            pool_txn_abort(p, txn);
            if ((rc = grow_map(p))) return rc;
            continue;
        }
        if (rc) {
            pool_txn_abort(p, txn);
            return rc;
        }
        int mrc = pool_txn_commit(p, txn);
        if (mrc == MDB_MAP_FULL) {
            if ((rc = grow_map(p))) return rc;
            continue;
        }
        if (mrc) return pool_db_fail(p, mrc, "commit");
        return ICSTR_OK;
    }
    return icstr_fail(ICSTR_ERR_DB, "pool %s: the write did not fit after growing the map many times", p->path);
}

/* ---- create, open ---- */

static int has_data_mdb(const char *path) {
    char f[4096];
    struct stat st;
    if (snprintf(f, sizeof f, "%s/data.mdb", path) >= (int)sizeof f) return 0;
    return stat(f, &st) == 0;
}

static icstr_pool *pool_alloc(const char *path) {
    icstr_pool *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    if (!(p->path = strdup(path))) {
        free(p);
        return NULL;
    }
    return p;
}

void icstr_pool_close(icstr_pool *p) {
    if (!p) return;
    pool_search_free(p);
    pool_env_release(p->shared);
    free(p->path);
    free(p);
}

void icstr_pool_meta_from_model(const icstr_model *m, const char *model_path, icstr_pool_meta *meta) {
    memset(meta, 0, sizeof *meta);
    icstr_model_fingerprint(m, meta->fingerprint);
    const icstr_model_config *c = icstr_model_get_config(m);
    meta->M = c->latents;
    meta->D = c->dec_dim;
    if (model_path) snprintf(meta->model_path, sizeof meta->model_path, "%s", model_path);
}

static int fingerprint_ok(const char *fp) {
    if (strlen(fp) != 64) return 0;
    for (int i = 0; i < 64; i++)
        if (!((fp[i] >= '0' && fp[i] <= '9') || (fp[i] >= 'a' && fp[i] <= 'f'))) return 0;
    return 1;
}

typedef struct {
    const icstr_pool_meta *meta;
} create_arg;

static int create_body(icstr_pool *p, MDB_txn *txn, void *arg) {
    const icstr_pool_meta *m = ((create_arg *)arg)->meta;
    char rec[32], emb[32];
    pool_gen_names(0, rec, emb);
    int mrc, rc;
    if ((mrc = mdb_dbi_open(txn, rec, MDB_CREATE, &p->rec)) || (mrc = mdb_dbi_open(txn, emb, MDB_CREATE, &p->emb)) ||
        (mrc = mdb_dbi_open(txn, "hash", MDB_CREATE | MDB_DUPSORT, &p->hash)))
        return pool_mdb_rc(p, mrc, "create the databases");
    if ((rc = pool_meta_put_u64(txn, p->meta, "format", ICSTR_POOL_FORMAT)) ||
        (rc = pool_meta_put_u64(txn, p->meta, "M", (uint64_t)m->M)) ||
        (rc = pool_meta_put_u64(txn, p->meta, "D", (uint64_t)m->D)) ||
        (rc = pool_meta_put_u64(txn, p->meta, "next_id", 1)) ||
        (rc = pool_meta_put_u64(txn, p->meta, "created", (uint64_t)time(NULL))) ||
        (rc = pool_meta_put_str(txn, p->meta, "fingerprint", m->fingerprint)) ||
        (rc = pool_meta_put_str(txn, p->meta, "model_path", m->model_path)))
        return rc;
    return ICSTR_OK;
}

int icstr_pool_create(const char *path, const icstr_pool_meta *meta) {
    if (!path || !*path || !meta) return icstr_fail(ICSTR_ERR_ARG, "pool create: no path or metadata");
    if (!fingerprint_ok(meta->fingerprint))
        return icstr_fail(ICSTR_ERR_ARG, "pool create: the fingerprint is not 64 lower-case hex digits");
    if (meta->M < 1 || meta->M > ICSTR_POOL_M_MAX || meta->D < 1 || meta->D > ICSTR_POOL_D_MAX)
        return icstr_fail(ICSTR_ERR_ARG, "pool create: M = %d, D = %d out of range", meta->M, meta->D);
    if (memchr(meta->model_path, 0, sizeof meta->model_path) == NULL)
        return icstr_fail(ICSTR_ERR_ARG, "pool create: model_path is not terminated");
    if (meta->map_bytes && meta->map_bytes < ((size_t)64 << 10))
        return icstr_fail(ICSTR_ERR_ARG, "pool create: a map of %zu bytes is too small", meta->map_bytes);
    struct stat st;
    if (stat(path, &st)) {
        if (errno != ENOENT) return icstr_fail(ICSTR_ERR_IO, "%s: %s", path, strerror(errno));
        if (mkdir(path, 0775)) return icstr_fail(ICSTR_ERR_IO, "mkdir %s: %s", path, strerror(errno));
    } else if (!S_ISDIR(st.st_mode)) {
        return icstr_fail(ICSTR_ERR_ARG, "%s exists and is not a directory", path);
    } else if (has_data_mdb(path)) {
        return icstr_fail(ICSTR_ERR_ARG, "%s already holds an LMDB (data.mdb); not overwritten", path);
    }
    icstr_pool *p = pool_alloc(path);
    if (!p) return icstr_fail(ICSTR_ERR_NOMEM, "pool %s", path);
    int rc = pool_env_acquire(path, 0, meta->map_bytes ? meta->map_bytes : POOL_MAP_START, &p->shared);
    if (!rc) {
        /* the meta database first, so pool_write's generation check can read it */
        p->env = pool_env_mdb(p->shared);
        pool_env_lock(p->shared);
        MDB_txn *txn;
        int mrc = mdb_txn_begin(p->env, NULL, 0, &txn);
        if (!mrc) mrc = mdb_dbi_open(txn, "meta", MDB_CREATE, &p->meta);
        if (!mrc) {
            unsigned char b[8];
            pool_put_u64(b, 0);
            MDB_val k = {10, "generation"}, d = {8, b};
            mrc = mdb_put(txn, p->meta, &k, &d, 0);
        }
        if (!mrc) mrc = mdb_txn_commit(txn);
        else mdb_txn_abort(txn);
        pool_env_unlock(p->shared);
        if (mrc) rc = pool_db_fail(p, mrc, "create the metadata");
    }
    create_arg a = {meta};
    if (!rc) rc = pool_write(p, create_body, &a);
    icstr_pool_close(p);
    return rc;
}

/* ---- the file against its metadata: checks LMDB does not make ---- */

/* The two LMDB meta pages (LMDB 0.9, data format 1, 64-bit): magic, version, the page size (the
 * free database's md_pad), the last page and the transaction id. LMDB writes transaction t's meta
 * to page t & 1, so the two hold consecutive ids (a compacting copy writes 0 and 1). */
#define LMDB_MAGIC 0xBEEFC0DEu
typedef struct {
    uint32_t magic, version, psize;
    uint64_t last_pg, txnid;
} lmdb_meta;

static int read_meta(int fd, off_t at, lmdb_meta *m) {
    unsigned char b[152];
    if (pread(fd, b, sizeof b, at) != (ssize_t)sizeof b) return 0;
    m->magic = pool_get_u32(b + 16);
    m->version = pool_get_u32(b + 20);
    m->psize = pool_get_u32(b + 40);
    m->last_pg = pool_get_u64(b + 136);
    m->txnid = pool_get_u64(b + 144);
    return m->magic == LMDB_MAGIC && m->version == 1;
}

/* Refuses an empty or cut data.mdb before LMDB maps it (LMDB would initialise an empty file as a
 * new environment, and fault with SIGBUS reading a page past the end of a cut one), and meta
 * pages whose transaction ids are not consecutive (a flipped id makes LMDB pick the older meta,
 * a silent step back in time). */
static int check_file_once(const char *path, const char *f, int fd) {
    struct stat st;
    lmdb_meta m0, m1;
    /* the metas before the size: a writer extends the file before it writes a meta */
    int ok0 = read_meta(fd, 0, &m0), ok1 = ok0 && m0.psize >= 512 && m0.psize <= 65536 &&
                                           !(m0.psize & (m0.psize - 1)) && read_meta(fd, m0.psize, &m1);
    if (fstat(fd, &st)) return icstr_fail(ICSTR_ERR_IO, "%s: %s", f, strerror(errno));
    if (st.st_size == 0)
        return icstr_fail(ICSTR_ERR_FORMAT, "pool %s is corrupt: its data.mdb is empty (0 bytes; truncated?)", path);
    if (!ok0)
        return icstr_fail(ICSTR_ERR_FORMAT, "pool %s is corrupt: its data.mdb (%lld bytes) does not start with an "
                          "LMDB meta page", path, (long long)st.st_size);
    if (!ok1)
        return icstr_fail(ICSTR_ERR_FORMAT, "pool %s is corrupt: its data.mdb (%lld bytes) lacks a valid second meta "
                          "page (page size %u)", path, (long long)st.st_size, m0.psize);
    const lmdb_meta *now = m0.txnid >= m1.txnid ? &m0 : &m1, *old = now == &m0 ? &m1 : &m0;
    if (now->txnid - old->txnid > 1 && old->txnid > 0)
        return icstr_fail(ICSTR_ERR_FORMAT, "pool %s is corrupt: the two LMDB meta pages of its data.mdb disagree "
                          "(transaction ids %llu and %llu are not consecutive)", path,
                          (unsigned long long)m0.txnid, (unsigned long long)m1.txnid);
    if (now->last_pg >= (uint64_t)st.st_size / m0.psize)
        return icstr_fail(ICSTR_ERR_FORMAT, "pool %s is corrupt: its data.mdb has %lld bytes but its pages go up to "
                          "byte %llu (the file was truncated)", path, (long long)st.st_size,
                          (unsigned long long)((now->last_pg + 1) * m0.psize));
    return ICSTR_OK;
}

static int check_file(const char *path) {
    char f[4096];
    if (snprintf(f, sizeof f, "%s/data.mdb", path) >= (int)sizeof f) return icstr_fail(ICSTR_ERR_ARG, "pool path too long");
    int fd = open(f, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return icstr_fail(ICSTR_ERR_IO, "%s: %s", f, strerror(errno));
    /* a meta page being written by another process can be read half old, half new: look again */
    int rc = ICSTR_OK;
    for (int tries = 0; tries < 3; tries++) {
        if (tries) usleep(2000);
        if (!(rc = check_file_once(path, f, fd)) || rc == ICSTR_ERR_IO) break;
    }
    close(fd);
    return rc;
}

int pool_open_env(const char *path, int rdonly, icstr_pool **out) {
    *out = NULL;
    if (!path || !*path) return icstr_fail(ICSTR_ERR_ARG, "pool: no path");
    struct stat st;
    if (stat(path, &st) || !S_ISDIR(st.st_mode) || !has_data_mdb(path))
        return icstr_fail(ICSTR_ERR_NOTFOUND, "%s is not a pool (no directory with a data.mdb); make one with "
                          "`icstr pool create %s`", path, path);
    int rc = check_file(path);
    if (rc) return rc;
    icstr_pool *p = pool_alloc(path);
    if (!p) return icstr_fail(ICSTR_ERR_NOMEM, "pool %s", path);
    p->rdonly = rdonly;
    rc = pool_env_acquire(path, rdonly, 0, &p->shared);
    MDB_txn *txn = NULL;
    int mrc = 0;
    if (!rc) {
        p->env = pool_env_mdb(p->shared);
        pool_env_lock(p->shared);
        for (int tries = 0; tries < 8; tries++) {
            mrc = mdb_txn_begin(p->env, NULL, MDB_RDONLY, &txn);
            if (mrc != MDB_MAP_RESIZED) break;
            mdb_env_set_mapsize(p->env, 0);
        }
        if (mrc) {
            pool_env_unlock(p->shared);
            rc = pool_db_fail(p, mrc, "begin");
        }
    }
    if (!rc) {
        mrc = mdb_dbi_open(txn, "meta", 0, &p->meta);
        if (mrc == MDB_NOTFOUND || mrc == MDB_INCOMPATIBLE)
            rc = icstr_fail(ICSTR_ERR_FORMAT, "%s is an LMDB but not an icstr pool (no metadata)", path);
        else if (mrc) rc = pool_db_fail(p, mrc, "open the metadata");
    }
    uint64_t format = 0, gen = 0, M = 0, D = 0;
    if (!rc && !(rc = pool_meta_get_u64(txn, p->meta, "format", &format)) && format != ICSTR_POOL_FORMAT)
        rc = icstr_fail(ICSTR_ERR_UNSUPPORTED, "pool %s has format %llu; this icstr reads format %d", path,
                        (unsigned long long)format, ICSTR_POOL_FORMAT);
    if (!rc) rc = pool_meta_get_u64(txn, p->meta, "generation", &gen);
    if (!rc) rc = pool_meta_get_u64(txn, p->meta, "M", &M);
    if (!rc) rc = pool_meta_get_u64(txn, p->meta, "D", &D);
    if (!rc) rc = pool_meta_get_str(txn, p->meta, "fingerprint", p->fingerprint, sizeof p->fingerprint);
    if (!rc && (gen > 0xffffffffu || M < 1 || M > ICSTR_POOL_M_MAX || D < 1 || D > ICSTR_POOL_D_MAX ||
                !fingerprint_ok(p->fingerprint)))
        rc = icstr_fail(ICSTR_ERR_FORMAT, "pool %s: bad metadata (generation %llu, M %llu, D %llu)", path,
                        (unsigned long long)gen, (unsigned long long)M, (unsigned long long)D);
    if (!rc) rc = pool_load_views(p, txn);
    if (!rc) {
        p->gen = (unsigned)gen;
        p->M = (int)M;
        p->D = (int)D;
        char rec[32], emb[32];
        pool_gen_names(p->gen, rec, emb);
        if ((mrc = mdb_dbi_open(txn, rec, 0, &p->rec)) || (mrc = mdb_dbi_open(txn, emb, 0, &p->emb)) ||
            (mrc = mdb_dbi_open(txn, "hash", MDB_DUPSORT, &p->hash)))
            rc = mrc == MDB_NOTFOUND ? icstr_fail(ICSTR_ERR_FORMAT, "pool %s: the databases of generation %u are missing",
                                                  path, p->gen)
                                     : pool_db_fail(p, mrc, "open the databases");
    }
    if (txn) {
        /* committing a read transaction keeps the database handles it opened */
        if (rc) pool_txn_abort(p, txn);
        else if ((mrc = pool_txn_commit(p, txn))) rc = pool_db_fail(p, mrc, "commit");
    }
    if (rc) {
        icstr_pool_close(p);
        return rc;
    }
    *out = p;
    return ICSTR_OK;
}

int icstr_pool_open(const char *path, icstr_model *m, int flags, icstr_pool **out) {
    if (!out) return icstr_fail(ICSTR_ERR_ARG, "pool open: NULL out");
    icstr_pool *p;
    int rc = pool_open_env(path, (flags & ICSTR_POOL_RDONLY) != 0, &p);
    if (rc) return rc;
    if (m) {
        char fp[65];
        icstr_model_fingerprint(m, fp);
        const icstr_model_config *c = icstr_model_get_config(m);
        if (strcmp(fp, p->fingerprint)) {
            rc = icstr_fail(ICSTR_ERR_MISMATCH,
                            "pool %s holds embeddings of another model (fingerprint %.16s..., this model %.16s...); "
                            "re-embed it for this model with `icstr pool reembed %s --model MODEL`",
                            path, p->fingerprint, fp, path);
        } else if (c->latents != p->M || c->dec_dim != p->D) {
            rc = icstr_fail(ICSTR_ERR_MISMATCH, "pool %s has M = %d, D = %d but the model %d, %d; run "
                            "`icstr pool reembed %s --model MODEL`", path, p->M, p->D, c->latents, c->dec_dim, path);
        }
        if (rc) {
            icstr_pool_close(p);
            return rc;
        }
        p->model = m;
    }
    *out = p;
    return ICSTR_OK;
}

int icstr_pool_get_info(icstr_pool *p, icstr_pool_info *out) {
    if (!p || !out) return icstr_fail(ICSTR_ERR_ARG, "pool info: NULL argument");
    memset(out, 0, sizeof *out);
    MDB_txn *txn;
    int rc = pool_txn_begin(p, 1, &txn);
    if (rc) return rc;
    uint64_t next = 0, created = 0;
    MDB_stat st;
    int mrc;
    if (!(rc = pool_meta_get_u64(txn, p->meta, "next_id", &next)) &&
        !(rc = pool_meta_get_u64(txn, p->meta, "created", &created))) {
        rc = pool_meta_get_str(txn, p->meta, "model_path", out->model_path, sizeof out->model_path);
        if (rc == ICSTR_ERR_NOTFOUND) rc = ICSTR_OK;
    }
    if (!rc && (mrc = mdb_stat(txn, p->rec, &st))) rc = pool_db_fail(p, mrc, "stat");
    MDB_envinfo info;
    MDB_stat est;
    if (!rc && ((mrc = mdb_env_info(p->env, &info)) || (mrc = mdb_env_stat(p->env, &est))))
        rc = pool_db_fail(p, mrc, "env info");
    pool_txn_abort(p, txn);
    if (rc) return rc;
    out->format = ICSTR_POOL_FORMAT;
    out->generation = (int)p->gen;
    memcpy(out->fingerprint, p->fingerprint, sizeof out->fingerprint);
    out->view = p->view;
    out->M = p->M;
    out->D = p->D;
    out->created = (int64_t)created;
    out->count = (long)st.ms_entries;
    out->next_id = next;
    out->map_bytes = info.me_mapsize;
    out->used_bytes = (info.me_last_pgno + 1) * (size_t)est.ms_psize;
    return ICSTR_OK;
}
