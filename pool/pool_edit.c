/* Reading records one by one or all in id order, removing them, and exporting the pool as a
 * standard STR LMDB. Reads use short read transactions (LMDB's advice: a long reader keeps
 * writers from reusing pages). */
#include "pool_internal.h"
#include "icstr_data.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WALK_CHUNK 256

static int get_in(icstr_pool *p, MDB_txn *txn, uint64_t id, int want, icstr_pool_record *out) {
    unsigned char key[8];
    pool_id_key(key, id);
    MDB_val k = {8, key}, v;
    int mrc = mdb_get(txn, p->rec, &k, &v);
    if (mrc == MDB_NOTFOUND)
        return icstr_fail(ICSTR_ERR_NOTFOUND, "pool %s has no record %llu", p->path, (unsigned long long)id);
    if (mrc) return pool_db_fail(p, mrc, "get");
    int rc = icstr_pool_record_decode(v.mv_data, v.mv_size, want, out);
    if (rc) return icstr_fail_context(rc, "pool %s, record %llu", p->path, (unsigned long long)id);
    if ((rc = pool_record_check_key(p, id, out->id))) icstr_pool_record_free(out);
    return rc;
}

int icstr_pool_get(icstr_pool *p, uint64_t id, int want, icstr_pool_record *out) {
    if (!p || !out) return icstr_fail(ICSTR_ERR_ARG, "pool get: NULL argument");
    memset(out, 0, sizeof *out);
    MDB_txn *txn;
    int rc = pool_txn_begin(p, 1, &txn);
    if (rc) return rc;
    rc = get_in(p, txn, id, want, out);
    pool_txn_abort(p, txn);
    return rc;
}

int icstr_pool_foreach(icstr_pool *p, int want, icstr_pool_visit_fn fn, void *user) {
    if (!p || !fn) return icstr_fail(ICSTR_ERR_ARG, "pool foreach: NULL argument");
    icstr_pool_record *chunk = calloc(WALK_CHUNK, sizeof *chunk);
    if (!chunk) return icstr_fail(ICSTR_ERR_NOMEM, "pool walk");
    uint64_t next = 0; /* the smallest id not yet visited */
    int rc = ICSTR_OK, done = 0;
    while (!rc && !done) {
        MDB_txn *txn;
        if ((rc = pool_txn_begin(p, 1, &txn))) break;
        MDB_cursor *cur;
        int mrc = mdb_cursor_open(txn, p->rec, &cur), got = 0;
        if (mrc) rc = pool_db_fail(p, mrc, "cursor");
        else {
            unsigned char key[8];
            pool_id_key(key, next);
            MDB_val k = {8, key}, v;
            for (mrc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); !mrc && got < WALK_CHUNK;
                 mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
                if (k.mv_size != 8) {
                    rc = icstr_fail(ICSTR_ERR_FORMAT, "pool %s: a record key of %zu bytes", p->path, k.mv_size);
                    break;
                }
                uint64_t id = pool_key_id(k.mv_data);
                if ((rc = icstr_pool_record_decode(v.mv_data, v.mv_size, want, &chunk[got]))) {
                    icstr_fail_context(rc, "pool %s, record %llu", p->path, (unsigned long long)id);
                    break;
                }
                if ((rc = pool_record_check_key(p, id, chunk[got].id))) {
                    icstr_pool_record_free(&chunk[got]);
                    break;
                }
                got++;
                next = id + 1;
                if (!next) break; /* id 2^64-1: nothing can follow */
            }
            if (!rc && mrc == MDB_NOTFOUND) done = 1;
            else if (!rc && mrc) rc = pool_db_fail(p, mrc, "cursor");
            if (!rc && !next && got) done = 1;
            mdb_cursor_close(cur);
        }
        pool_txn_abort(p, txn);
        for (int i = 0; i < got; i++) {
            if (!rc) rc = fn(user, &chunk[i]);
            icstr_pool_record_free(&chunk[i]);
        }
    }
    free(chunk);
    return rc;
}

typedef struct {
    const uint64_t *ids;
    int n;
    int *found;
    long removed;
} remove_arg;

static int remove_body(icstr_pool *p, MDB_txn *txn, void *arg) {
    remove_arg *a = arg;
    a->removed = 0;
    for (int i = 0; i < a->n; i++) {
        a->found[i] = 0;
        unsigned char key[8], hk[8];
        pool_id_key(key, a->ids[i]);
        MDB_val k = {8, key}, v;
        int mrc = mdb_get(txn, p->rec, &k, &v);
        if (mrc == MDB_NOTFOUND) continue;
        if (mrc) return pool_db_fail(p, mrc, "get");
        pool_record_view view;
        int rc = pool_record_parse(v.mv_data, v.mv_size, 0, &view);
        if (rc) return icstr_fail_context(rc, "pool %s, record %llu", p->path, (unsigned long long)a->ids[i]);
        pool_put_u64(hk, view.image_hash & icstr_pool_hash_mask_);
        MDB_val h = {8, hk}, hv = {8, key};
        if ((mrc = mdb_del(txn, p->rec, &k, NULL))) return pool_mdb_rc(p, mrc, "delete a record");
        if ((mrc = mdb_del(txn, p->emb, &k, NULL)) && mrc != MDB_NOTFOUND) return pool_mdb_rc(p, mrc, "delete an embedding");
        if ((mrc = mdb_del(txn, p->hash, &h, &hv)) && mrc != MDB_NOTFOUND) return pool_mdb_rc(p, mrc, "delete a hash");
        a->found[i] = 1;
        a->removed++;
    }
    return ICSTR_OK;
}

int icstr_pool_remove(icstr_pool *p, const uint64_t *ids, int n, int *found, long *removed) {
    if (!p || n < 0 || (n && !ids)) return icstr_fail(ICSTR_ERR_ARG, "pool remove: bad arguments");
    if (removed) *removed = 0;
    if (!n) return ICSTR_OK;
    int *f = found ? found : calloc((size_t)n, sizeof *f);
    if (!f) return icstr_fail(ICSTR_ERR_NOMEM, "pool remove");
    remove_arg a = {ids, n, f, 0};
    int rc = pool_write(p, remove_body, &a);
    if (!rc) {
        if (removed) *removed = a.removed;
        if (a.removed) p->loaded = 0;
    }
    if (f != found) free(f);
    return rc;
}

typedef struct {
    icstr_str_writer *w;
} export_arg;

static int export_one(void *user, const icstr_pool_record *r) {
    export_arg *a = user;
    return icstr_str_writer_add(a->w, r->image, r->image_len, r->label, NULL);
}

int icstr_pool_export(icstr_pool *p, const char *out_path, long *count) {
    if (!p || !out_path) return icstr_fail(ICSTR_ERR_ARG, "pool export: NULL argument");
    if (count) *count = 0;
    if (!strcmp(out_path, p->path)) return icstr_fail(ICSTR_ERR_ARG, "pool export: the output is the pool itself");
    export_arg a = {NULL};
    int rc = icstr_str_writer_open(out_path, &a.w);
    if (rc) return rc;
    rc = icstr_pool_foreach(p, ICSTR_POOL_WANT_IMAGE, export_one, &a);
    long n = icstr_str_writer_count(a.w);
    if (rc) {
        char why[512];
        snprintf(why, sizeof why, "%s", icstr_last_error());
        icstr_str_writer_close(a.w); /* discards the unfinished set */
        return icstr_fail(rc, "%s", why);
    }
    if ((rc = icstr_str_writer_close(a.w))) return rc;
    if (count) *count = n;
    return ICSTR_OK;
}
