/* Re-embedding a pool for another model. Records are re-encoded from their stored images in
 * chunks into the next generation's databases (rec.G+1, emb.G+1), each chunk one transaction;
 * one final transaction takes in what other processes added or removed meanwhile, drops the old
 * generation and points the metadata at the new one. Killed midway, the pool is as it was, and
 * a new run for the same model skips the records already done. Ids, times, tags and the hash
 * index do not change. */
#include "pool_internal.h"
#include "icstr_data.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REEMBED_CHUNK 256
#define SWITCH_TRIES 64

typedef struct {
    icstr_model *m;
    const char *fp;            /* the new fingerprint */
    const char *model_path;
    icstr_view view;           /* the new view */
    int M, D;                  /* the new model's */
    unsigned g1;               /* the generation being written */
    MDB_dbi rec1, emb1;
    /* the chunk being written */
    icstr_pool_record *recs;
    int n;
    /* switch */
    int missing;               /* records of the old generation not yet re-embedded */
} reembed_ctx;

/* 1 when the pending generation is being filled for this model and view, 0 when not (or none
 * is), < 0 on error */
static int pending_matches(icstr_pool *p, MDB_txn *txn, const reembed_ctx *x) {
    char fp[65];
    int rc = pool_meta_get_str(txn, p->meta, "reembed.fingerprint", fp, sizeof fp);
    if (rc == ICSTR_ERR_NOTFOUND) return 0;
    if (rc) return rc;
    icstr_view v = icstr_view_full();
    if ((rc = pool_meta_get_view(txn, p->meta, "reembed.view", &v))) return rc;
    return !strcmp(fp, x->fp) && icstr_view_equal(&v, &x->view);
}

static int pending_is_ours(icstr_pool *p, MDB_txn *txn, reembed_ctx *x) {
    int rc = pending_matches(p, txn, x);
    if (rc == 0) return icstr_fail(ICSTR_ERR_MISMATCH, "pool %s: another reembed took over; run it again", p->path);
    return rc < 0 ? rc : ICSTR_OK;
}

/* Starts (or resumes) generation g1 for this model: its databases are emptied unless they were
 * being filled for the same fingerprint. */
static int setup_body(icstr_pool *p, MDB_txn *txn, void *arg) {
    reembed_ctx *x = arg;
    char rec[32], emb[32];
    pool_gen_names(x->g1, rec, emb);
    int mrc, rc;
    if ((mrc = mdb_dbi_open(txn, rec, MDB_CREATE, &x->rec1)) || (mrc = mdb_dbi_open(txn, emb, MDB_CREATE, &x->emb1)))
        return pool_mdb_rc(p, mrc, "create the new generation");
    if ((rc = pending_matches(p, txn, x)) < 0) return rc;
    if (!rc) {
        if ((mrc = mdb_drop(txn, x->rec1, 0)) || (mrc = mdb_drop(txn, x->emb1, 0)))
            return pool_mdb_rc(p, mrc, "empty the new generation");
        if ((rc = pool_meta_put_str(txn, p->meta, "reembed.fingerprint", x->fp)) ||
            (rc = pool_meta_put_view(txn, p->meta, "reembed.view", &x->view)))
            return rc;
    } else {
        ICSTR_INFO("pool %s: resuming an interrupted reembed", p->path);
    }
    return ICSTR_OK;
}

/* Up to `chunk` records of the old generation that the new one lacks, from id *next on. */
static int collect(icstr_pool *p, reembed_ctx *x, uint64_t *next, int chunk, int *done) {
    MDB_txn *txn;
    int rc = pool_txn_begin(p, 1, &txn);
    if (rc) return rc;
    MDB_cursor *cur;
    int mrc = mdb_cursor_open(txn, p->rec, &cur);
    if (mrc) {
        pool_txn_abort(p, txn);
        return pool_db_fail(p, mrc, "cursor");
    }
    unsigned char key[8];
    pool_id_key(key, *next);
    MDB_val k = {8, key}, v, v1;
    x->n = 0;
    *done = 0;
    for (mrc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); !mrc && x->n < chunk;
         mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        uint64_t id = pool_key_id(k.mv_data);
        *next = id + 1;
        int g = mdb_get(txn, x->rec1, &k, &v1);
        if (!g) continue; /* done in an earlier run */
        if (g != MDB_NOTFOUND) {
            rc = pool_db_fail(p, g, "get");
            break;
        }
        if ((rc = icstr_pool_record_decode(v.mv_data, v.mv_size, ICSTR_POOL_WANT_IMAGE, &x->recs[x->n]))) {
            icstr_fail_context(rc, "pool %s, record %llu", p->path, (unsigned long long)id);
            break;
        }
        x->n++;
    }
    if (!rc && mrc == MDB_NOTFOUND) *done = 1;
    else if (!rc && mrc) rc = pool_db_fail(p, mrc, "cursor");
    mdb_cursor_close(cur);
    pool_txn_abort(p, txn);
    return rc;
}

static int encode_chunk(icstr_pool *p, reembed_ctx *x) {
    const icstr_model_config *c = icstr_model_get_config(x->m);
    size_t img = (size_t)3 * c->img_h * c->img_w;
    float *images = icstr_alloc((size_t)x->n * img, sizeof(float));
    float *lat = icstr_alloc((size_t)x->n * x->M * x->D, sizeof(float));
    float *emb = icstr_alloc((size_t)x->n * x->D, sizeof(float));
    int rc = images && lat && emb ? ICSTR_OK : icstr_fail(ICSTR_ERR_NOMEM, "reembed: chunk of %d", x->n);
    for (int i = 0; i < x->n && !rc; i++)
        rc = pool_record_input_view(p, &x->recs[i], &x->view, c->img_h, c->img_w, images + (size_t)i * img);
    if (!rc) rc = icstr_model_encode(x->m, images, x->n, lat, emb);
    for (int i = 0; i < x->n && !rc; i++) {
        icstr_pool_record *r = &x->recs[i];
        icstr_free(r->embedding);
        icstr_free(r->latents);
        r->embedding = icstr_alloc((size_t)x->D, sizeof(float));
        r->latents = icstr_alloc((size_t)x->M * x->D, sizeof(float));
        if (!r->embedding || !r->latents) {
            rc = icstr_fail(ICSTR_ERR_NOMEM, "reembed");
            break;
        }
        memcpy(r->embedding, emb + (size_t)i * x->D, (size_t)x->D * sizeof(float));
        memcpy(r->latents, lat + (size_t)i * x->M * x->D, (size_t)x->M * x->D * sizeof(float));
        r->M = x->M;
        r->D = x->D;
    }
    icstr_free(images);
    icstr_free(lat);
    icstr_free(emb);
    return rc;
}

static int write_body(icstr_pool *p, MDB_txn *txn, void *arg) {
    reembed_ctx *x = arg;
    int rc = pending_is_ours(p, txn, x);
    if (rc) return rc;
    for (int i = 0; i < x->n; i++) {
        const icstr_pool_record *r = &x->recs[i];
        unsigned char *buf, key[8], *e = malloc(pool_emb_bytes(x->D));
        size_t len;
        if (!e) return icstr_fail(ICSTR_ERR_NOMEM, "reembed");
        if ((rc = icstr_pool_record_encode(r, &buf, &len))) {
            free(e);
            return rc;
        }
        pool_emb_put(e, r->embedding, x->D);
        pool_id_key(key, r->id);
        MDB_val k = {8, key}, v = {len, buf}, ev = {pool_emb_bytes(x->D), e};
        int mrc = mdb_put(txn, x->rec1, &k, &v, 0);
        if (!mrc) mrc = mdb_put(txn, x->emb1, &k, &ev, 0);
        free(buf);
        free(e);
        if (mrc) return pool_mdb_rc(p, mrc, "put a re-embedded record");
    }
    return ICSTR_OK;
}

static int has_key(MDB_txn *txn, MDB_dbi dbi, MDB_val *k) {
    MDB_val v;
    return mdb_get(txn, dbi, k, &v) == 0;
}

static int switch_body(icstr_pool *p, MDB_txn *txn, void *arg) {
    reembed_ctx *x = arg;
    int rc = pending_is_ours(p, txn, x);
    if (rc) return rc;
    MDB_cursor *cur;
    MDB_val k, v;
    int mrc;
    x->missing = 0;
    /* records added to the old generation after their chunk went by */
    if ((mrc = mdb_cursor_open(txn, p->rec, &cur))) return pool_db_fail(p, mrc, "cursor");
    for (mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); !mrc; mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT))
        if (!has_key(txn, x->rec1, &k)) x->missing++;
    mdb_cursor_close(cur);
    if (mrc != MDB_NOTFOUND) return pool_db_fail(p, mrc, "cursor");
    if (x->missing) return ICSTR_OK; /* the caller aborts, re-embeds them and comes back */
    /* records removed from the old generation after they were re-embedded */
    if ((mrc = mdb_cursor_open(txn, x->rec1, &cur))) return pool_db_fail(p, mrc, "cursor");
    for (mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); !mrc; mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (has_key(txn, p->rec, &k)) continue;
        int d = mdb_cursor_del(cur, 0);
        if (!d) d = mdb_del(txn, x->emb1, &k, NULL);
        if (d && d != MDB_NOTFOUND) {
            mdb_cursor_close(cur);
            return pool_mdb_rc(p, d, "delete a removed record");
        }
    }
    mdb_cursor_close(cur);
    if (mrc != MDB_NOTFOUND) return pool_db_fail(p, mrc, "cursor");
    if ((mrc = mdb_drop(txn, p->rec, 1)) || (mrc = mdb_drop(txn, p->emb, 1)))
        return pool_mdb_rc(p, mrc, "drop the old generation");
    MDB_val pk = {19, "reembed.fingerprint"};
    if ((mrc = mdb_del(txn, p->meta, &pk, NULL))) return pool_mdb_rc(p, mrc, "metadata");
    if ((rc = pool_meta_del(p, txn, "reembed.view"))) return rc;
    /* alternates were ranked against the old view */
    if (!icstr_view_equal(&x->view, &p->view) && (rc = pool_meta_del(p, txn, "view.alternates"))) return rc;
    if ((rc = pool_meta_put_u64(txn, p->meta, "generation", x->g1)) ||
        (rc = pool_meta_put_u64(txn, p->meta, "M", (uint64_t)x->M)) ||
        (rc = pool_meta_put_u64(txn, p->meta, "D", (uint64_t)x->D)) ||
        (rc = pool_meta_put_str(txn, p->meta, "fingerprint", x->fp)) ||
        (rc = pool_meta_put_str(txn, p->meta, "model_path", x->model_path)) ||
        (rc = pool_meta_put_view(txn, p->meta, "view", &x->view)))
        return rc;
    return ICSTR_OK;
}

typedef struct {
    icstr_model *m;
    long n, bad;
    char names[512];
} label_check;

static int check_label(void *user, const icstr_pool_record *r) {
    label_check *lc = user;
    int tokens[4096], nt;
    const icstr_model_config *c = icstr_model_get_config(lc->m);
    int *tok = c->max_label <= 4096 ? tokens : malloc((size_t)c->max_label * sizeof(int));
    if (!tok) return icstr_fail(ICSTR_ERR_NOMEM, "reembed");
    int rc = icstr_model_encode_label(lc->m, r->label, tok, &nt);
    if (tok != tokens) free(tok);
    lc->n++;
    if (rc) {
        if (lc->bad++ < 5) {
            size_t used = strlen(lc->names);
            snprintf(lc->names + used, sizeof lc->names - used, "%s%llu '%.40s'", used ? ", " : "",
                     (unsigned long long)r->id, r->label);
        }
    }
    return ICSTR_OK;
}

/* Re-embeds every record of the old generation the new one lacks; *count adds them up. */
static int fill(icstr_pool *p, reembed_ctx *x, int chunk, long total, long *count) {
    uint64_t next = 0;
    int done = 0, rc = ICSTR_OK;
    while (!done && !rc) {
        if ((rc = collect(p, x, &next, chunk, &done)) || !x->n) {
            for (int i = 0; i < x->n; i++) icstr_pool_record_free(&x->recs[i]);
            break;
        }
        if (!(rc = encode_chunk(p, x))) rc = pool_write(p, write_body, x);
        for (int i = 0; i < x->n; i++) icstr_pool_record_free(&x->recs[i]);
        if (!rc) {
            *count += x->n;
            ICSTR_INFO("pool %s: re-embedded %ld of %ld records", p->path, *count, total);
        }
        x->n = 0;
    }
    return rc;
}

int icstr_pool_reembed(const char *path, icstr_model *m, const char *model_path, const icstr_view *view, int chunk,
                       long *count) {
    if (!m || !path) return icstr_fail(ICSTR_ERR_ARG, "reembed: no pool or no model");
    if (view && icstr_view_check(view)) return icstr_fail_context(ICSTR_ERR_ARG, "reembed");
    if (count) *count = 0;
    if (chunk <= 0) chunk = REEMBED_CHUNK;
    icstr_pool *p;
    int rc = pool_open_env(path, 0, &p);
    if (rc) return rc;
    reembed_ctx x = {0};
    char fp[65];
    icstr_model_fingerprint(m, fp);
    const icstr_model_config *c = icstr_model_get_config(m);
    x.m = m;
    x.fp = fp;
    x.model_path = model_path ? model_path : "";
    x.M = c->latents;
    x.D = c->dec_dim;
    x.view = view ? *view : p->view;
    x.g1 = p->gen + 1;
    long n = 0;
    icstr_pool_info info;
    label_check lc = {m, 0, 0, ""};
    if (strlen(x.model_path) >= ICSTR_POOL_PATH_MAX) {
        rc = icstr_fail(ICSTR_ERR_ARG, "reembed: the model path is too long");
        goto out;
    }
    if ((rc = icstr_pool_get_info(p, &info))) goto out;
    if (!strcmp(fp, p->fingerprint) && x.M == p->M && x.D == p->D && icstr_view_equal(&x.view, &p->view)) {
        ICSTR_INFO("pool %s already holds this model's embeddings under this view", path);
        if (count) *count = info.count;
        goto out;
    }
    if (x.D > ICSTR_POOL_D_MAX || x.M > ICSTR_POOL_M_MAX) {
        rc = icstr_fail(ICSTR_ERR_RANGE, "reembed: the model's M = %d, D = %d are too large for a pool", x.M, x.D);
        goto out;
    }
    if ((rc = icstr_pool_foreach(p, 0, check_label, &lc))) goto out;
    if (lc.bad) {
        rc = icstr_fail(ICSTR_ERR_RANGE, "pool %s: %ld of %ld labels do not fit the new model's charset or max_label "
                        "(%s%s); remove them with `icstr pool rm` first; nothing was changed",
                        path, lc.bad, lc.n, lc.names, lc.bad > 5 ? ", ..." : "");
        goto out;
    }
    if (!(x.recs = calloc((size_t)chunk, sizeof *x.recs))) {
        rc = icstr_fail(ICSTR_ERR_NOMEM, "reembed");
        goto out;
    }
    if ((rc = pool_write(p, setup_body, &x))) goto out;
    for (int tries = 0;; tries++) {
        if ((rc = fill(p, &x, chunk, info.count, &n))) goto out;
        if ((rc = pool_write(p, switch_body, &x))) goto out;
        if (!x.missing) break;
        /* records were added meanwhile: switch_body changed nothing; re-embed them and retry */
        if (tries >= SWITCH_TRIES) {
            rc = icstr_fail(ICSTR_ERR_DB, "pool %s: records keep arriving; reembed did not catch up", path);
            goto out;
        }
    }
    char vs[ICSTR_VIEW_TEXT];
    icstr_view_format(&x.view, vs);
    ICSTR_INFO("pool %s: now embedded by model %.16s..., view %s (%ld records re-embedded)", path, fp, vs, n);
    if (count) *count = n;
out:
    free(x.recs);
    icstr_pool_close(p);
    return rc;
}
