/* Checking a whole pool (`icstr pool check`): every record decoded in full (lengths, the
 * checksum of version 2 records, finite floats, the image against its hash, the id against its
 * key), every search entry (its checksum, and equal to its record's embedding, and no entry
 * without a record), the duplicate index (every record in it under its image hash) and next_id.
 * Unlike icstr_pool_foreach it does not stop at the first bad record: it reports each one and
 * goes on, so one flipped byte costs one record, and what is left can still be listed. */
#include "pool_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK_CHUNK 64   /* records decoded in full per read transaction */
#define KEY_CHUNK 4096   /* search entries per read transaction */

typedef struct {
    icstr_pool *p;
    icstr_pool_problem_fn problem;
    void *user;
    icstr_pool_check_report *rep;
} checker;

static void report(checker *c, long *counter, uint64_t id, const char *fmt, const char *detail) {
    char what[768];
    snprintf(what, sizeof what, fmt, detail);
    (*counter)++;
    c->rep->problems++;
    if (c->problem) c->problem(c->user, id, what);
}

/* The search entry and the duplicate index entry of a record that decoded. */
static int check_links(checker *c, MDB_txn *txn, MDB_cursor *hc, const unsigned char key[8],
                       const pool_record_view *v, uint64_t id, int *ok) {
    icstr_pool *p = c->p;
    MDB_val k = {8, (void *)key}, e;
    int mrc = mdb_get(txn, p->emb, &k, &e);
    if (mrc == MDB_NOTFOUND) {
        report(c, &c->rep->bad_entries, id, "%s", "the record has no search entry: search cannot find it");
        *ok = 0;
    } else if (mrc) {
        return pool_db_fail(p, mrc, "get a search entry");
    } else {
        float *a = icstr_alloc((size_t)p->D, sizeof(float)), *b = icstr_alloc((size_t)p->D, sizeof(float));
        if (!a || !b) {
            icstr_free(a);
            icstr_free(b);
            return icstr_fail(ICSTR_ERR_NOMEM, "pool check");
        }
        if (pool_emb_get(p, id, &e, a, NULL)) {
            report(c, &c->rep->bad_entries, id, "%s", icstr_last_error());
            *ok = 0;
        } else if ((int)v->D != p->D || (pool_get_f32s(b, v->embedding, (size_t)p->D), memcmp(a, b, 4 * (size_t)p->D))) {
            report(c, &c->rep->bad_entries, id, "%s", "the search entry differs from the record's embedding");
            *ok = 0;
        }
        icstr_free(a);
        icstr_free(b);
    }
    unsigned char hk[8];
    pool_put_u64(hk, v->image_hash & icstr_pool_hash_mask_);
    MDB_val h = {8, hk}, hv = {8, (void *)key};
    mrc = mdb_cursor_get(hc, &h, &hv, MDB_GET_BOTH);
    if (mrc == MDB_NOTFOUND) {
        report(c, &c->rep->bad_index, id, "%s", "the record is missing from the duplicate index (its image could be "
                                                "added again)");
        *ok = 0;
    } else if (mrc) {
        return pool_db_fail(p, mrc, "get a duplicate index entry");
    }
    return ICSTR_OK;
}

/* Records from id *next on, up to CHECK_CHUNK good ones into recs (*got); *done at the end. */
static int check_records(checker *c, uint64_t *next, uint64_t *max_id, icstr_pool_record *recs, int *got, int *done) {
    icstr_pool *p = c->p;
    MDB_txn *txn;
    int rc = pool_txn_begin(p, 1, &txn);
    if (rc) return rc;
    MDB_cursor *cur = NULL, *hc = NULL;
    int mrc = mdb_cursor_open(txn, p->rec, &cur);
    if (!mrc) mrc = mdb_cursor_open(txn, p->hash, &hc);
    if (mrc) rc = pool_db_fail(p, mrc, "cursor");
    unsigned char key[8];
    pool_id_key(key, *next);
    MDB_val k = {8, key}, v;
    int seen = 0;
    for (mrc = rc ? MDB_NOTFOUND : mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); !rc && !mrc && seen < CHECK_CHUNK;
         mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (k.mv_size != 8) {
            rc = icstr_fail(ICSTR_ERR_FORMAT, "pool %s: a record key of %zu bytes (the record database is corrupt)",
                            p->path, k.mv_size);
            break;
        }
        seen++;
        uint64_t id = pool_key_id(k.mv_data);
        if (id > *max_id) *max_id = id;
        *next = id + 1;
        pool_record_view view;
        int ok = 1;
        if (pool_record_parse(v.mv_data, v.mv_size, 1, &view)) {
            report(c, &c->rep->bad_records, id, "%s", icstr_last_error());
            ok = 0;
        } else if (pool_record_check_key(p, id, view.id)) {
            report(c, &c->rep->bad_records, id, "%s", icstr_last_error());
            ok = 0;
        } else if ((rc = check_links(c, txn, hc, k.mv_data, &view, id, &ok))) {
            break;
        }
        if (!ok) continue;
        if ((rc = icstr_pool_record_decode(v.mv_data, v.mv_size, ICSTR_POOL_WANT_ALL, &recs[*got]))) break;
        (*got)++;
        c->rep->records++;
        if (view.version >= 2) c->rep->checksummed++;
        if (!*next) break; /* id 2^64-1: nothing can follow */
    }
    if (!rc && mrc == MDB_NOTFOUND) *done = 1;
    else if (!rc && mrc) rc = pool_db_fail(p, mrc, "walk the records");
    if (!rc && seen && !*next) *done = 1;
    if (hc) mdb_cursor_close(hc);
    if (cur) mdb_cursor_close(cur);
    pool_txn_abort(p, txn);
    return rc;
}

/* Search entries without a record, KEY_CHUNK at a time. */
static int check_orphans(checker *c) {
    icstr_pool *p = c->p;
    uint64_t next = 0;
    for (int done = 0; !done;) {
        MDB_txn *txn;
        int rc = pool_txn_begin(p, 1, &txn);
        if (rc) return rc;
        MDB_cursor *cur;
        int mrc = mdb_cursor_open(txn, p->emb, &cur), n = 0;
        if (mrc) {
            pool_txn_abort(p, txn);
            return pool_db_fail(p, mrc, "cursor");
        }
        unsigned char key[8];
        pool_id_key(key, next);
        MDB_val k = {8, key}, v, r;
        for (mrc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); !rc && !mrc && n < KEY_CHUNK;
             mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT), n++) {
            if (k.mv_size != 8) {
                rc = icstr_fail(ICSTR_ERR_FORMAT, "pool %s: a search entry key of %zu bytes (the search database is "
                                "corrupt)", p->path, k.mv_size);
                break;
            }
            uint64_t id = pool_key_id(k.mv_data);
            next = id + 1;
            int g = mdb_get(txn, p->rec, &k, &r);
            if (g == MDB_NOTFOUND) report(c, &c->rep->bad_entries, id, "%s", "a search entry without a record");
            else if (g) rc = pool_db_fail(p, g, "get a record");
            if (!next) break;
        }
        if (!rc && (mrc == MDB_NOTFOUND || !next)) done = 1;
        else if (!rc && mrc) rc = pool_db_fail(p, mrc, "walk the search entries");
        mdb_cursor_close(cur);
        pool_txn_abort(p, txn);
        if (rc) return rc;
    }
    return ICSTR_OK;
}

/* Duplicate index entries: each names a record holding that hash, or a removed one (stale). One
 * read transaction (resuming inside duplicate lists is not worth it for a check). */
static int check_index(checker *c) {
    icstr_pool *p = c->p;
    MDB_txn *txn;
    int rc = pool_txn_begin(p, 1, &txn);
    if (rc) return rc;
    MDB_cursor *cur;
    int mrc = mdb_cursor_open(txn, p->hash, &cur);
    if (mrc) {
        pool_txn_abort(p, txn);
        return pool_db_fail(p, mrc, "cursor");
    }
    MDB_val k, v, r;
    for (mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); !rc && !mrc; mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (k.mv_size != 8 || v.mv_size != 8) {
            report(c, &c->rep->bad_index, 0, "%s", "a duplicate index entry of the wrong size");
            continue;
        }
        uint64_t id = pool_key_id(v.mv_data);
        MDB_val rk = {8, v.mv_data};
        int g = mdb_get(txn, p->rec, &rk, &r);
        pool_record_view view;
        if (g == MDB_NOTFOUND) c->rep->stale_index++;
        else if (g) rc = pool_db_fail(p, g, "get a record");
        else if (!pool_record_parse(r.mv_data, r.mv_size, 0, &view) &&
                 (view.image_hash & icstr_pool_hash_mask_) != pool_get_u64(k.mv_data))
            report(c, &c->rep->bad_index, id, "%s", "a duplicate index entry under another image's hash");
        /* a record that does not parse was reported by the record walk */
    }
    if (!rc && mrc != MDB_NOTFOUND) rc = pool_db_fail(p, mrc, "walk the duplicate index");
    mdb_cursor_close(cur);
    pool_txn_abort(p, txn);
    return rc;
}

int icstr_pool_check(icstr_pool *p, icstr_pool_visit_fn fn, icstr_pool_problem_fn problem, void *user,
                     icstr_pool_check_report *out) {
    if (!p || !out) return icstr_fail(ICSTR_ERR_ARG, "pool check: NULL argument");
    memset(out, 0, sizeof *out);
    out->next_id_ok = 1;
    checker c = {p, problem, user, out};
    icstr_pool_record *recs = calloc(CHECK_CHUNK, sizeof *recs);
    if (!recs) return icstr_fail(ICSTR_ERR_NOMEM, "pool check");
    uint64_t next = 0, max_id = 0;
    int rc = ICSTR_OK;
    for (int done = 0; !rc && !done;) {
        int got = 0;
        rc = check_records(&c, &next, &max_id, recs, &got, &done);
        for (int i = 0; i < got; i++) {
            if (!rc && fn) rc = fn(user, &recs[i]);
            icstr_pool_record_free(&recs[i]);
        }
    }
    free(recs);
    if (!rc) rc = check_orphans(&c);
    if (!rc) rc = check_index(&c);
    if (!rc) {
        MDB_txn *txn;
        uint64_t next_id = 0;
        if (!(rc = pool_txn_begin(p, 1, &txn))) {
            rc = pool_meta_get_u64(txn, p->meta, "next_id", &next_id);
            pool_txn_abort(p, txn);
        }
        if (!rc && max_id && next_id <= max_id) {
            char d[96];
            snprintf(d, sizeof d, "next_id %llu is not above the last id %llu", (unsigned long long)next_id,
                     (unsigned long long)max_id);
            out->next_id_ok = 0;
            long ignored = 0;
            report(&c, &ignored, 0, "%s (new records would collide)", d);
        }
    }
    return rc;
}
