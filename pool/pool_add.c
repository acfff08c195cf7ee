/* Adding to the pool: label checks, image decoding and encoding with the model (outside any
 * transaction: it is the slow part), then one write transaction per call that deduplicates by
 * image bytes and writes the record, its embedding and its hash entry. */
#include "pool_internal.h"
#include "icstr_data.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ENCODE_BATCH 64 /* images decoded and encoded at once (bounds the image buffer) */

int pool_find_duplicate(icstr_pool *p, MDB_txn *txn, const void *image, size_t len, uint64_t hash,
                        uint64_t *id) {
    unsigned char hk[8];
    pool_put_u64(hk, hash & icstr_pool_hash_mask_);
    MDB_cursor *cur;
    int mrc = mdb_cursor_open(txn, p->hash, &cur);
    if (mrc) return pool_db_fail(p, mrc, "cursor");
    MDB_val k = {8, hk}, v;
    int found = 0, rc = ICSTR_OK;
    for (mrc = mdb_cursor_get(cur, &k, &v, MDB_SET_KEY); !mrc; mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT_DUP)) {
        if (v.mv_size != 8) {
            rc = icstr_fail(ICSTR_ERR_FORMAT, "pool %s: a hash entry of %zu bytes", p->path, v.mv_size);
            break;
        }
        MDB_val rk = {8, v.mv_data}, rv;
        int g = mdb_get(txn, p->rec, &rk, &rv);
        if (g == MDB_NOTFOUND) continue; /* a stale entry never matches */
        if (g) {
            rc = pool_db_fail(p, g, "get");
            break;
        }
        pool_record_view view;
        if ((rc = pool_record_parse(rv.mv_data, rv.mv_size, 0, &view))) {
            icstr_fail_context(rc, "pool %s, record %llu", p->path, (unsigned long long)pool_key_id(v.mv_data));
            break;
        }
        if (view.image_len == len && !memcmp(view.image, image, len)) {
            *id = pool_key_id(v.mv_data);
            found = 1;
            break;
        }
    }
    if (!rc && mrc && mrc != MDB_NOTFOUND) rc = pool_db_fail(p, mrc, "cursor");
    mdb_cursor_close(cur);
    return rc ? rc : found;
}

/* Why a label cannot be a prompt (0 = it can). The model decides the charset and length. */
static int label_refused(const icstr_pool *p, const char *label, char *why, size_t cap) {
    if (!label || !*label) return snprintf(why, cap, "empty label"), ICSTR_ERR_ARG;
    size_t n = strlen(label);
    if (!icstr_utf8_valid(label, n)) return snprintf(why, cap, "label is not valid UTF-8"), ICSTR_ERR_RANGE;
    if (n > ICSTR_POOL_LABEL_MAX) {
        int cut = 40; /* show the start, cut on a character boundary */
        while (cut > 0 && (label[cut] & 0xC0) == 0x80) cut--;
        return snprintf(why, cap, "label '%.*s...' is %zu bytes long, over the limit of %d bytes", cut, label, n,
                        ICSTR_POOL_LABEL_MAX),
               ICSTR_ERR_RANGE;
    }
    if (p->model) {
        int tokens[4096], nt;
        const icstr_model_config *c = icstr_model_get_config(p->model);
        int *tok = c->max_label <= 4096 ? tokens : malloc((size_t)c->max_label * sizeof(int));
        if (!tok) return snprintf(why, cap, "out of memory"), ICSTR_ERR_NOMEM;
        int rc = icstr_model_encode_label(p->model, label, tok, &nt);
        if (tok != tokens) free(tok);
        if (rc) return snprintf(why, cap, "label '%.80s' does not fit the model: %s", label, icstr_last_error()), rc;
    }
    return ICSTR_OK;
}

/* ---- the write transaction ---- */

static int put_body(icstr_pool *p, MDB_txn *txn, void *arg) {
    pool_put_batch *b = arg;
    uint64_t next;
    int rc = pool_meta_get_u64(txn, p->meta, "next_id", &next);
    if (rc) return rc;
    int64_t now = (int64_t)time(NULL);
    for (int i = 0; i < b->n; i++) {
        if (b->skip && b->skip[i]) continue;
        const icstr_pool_record *in = &b->recs[i];
        icstr_pool_add_result *res = &b->results[i];
        uint64_t hash = icstr_pool_hash(in->image, in->image_len), dup = 0;
        int d = pool_find_duplicate(p, txn, in->image, in->image_len, hash, &dup);
        if (d < 0) return d;
        res->reason[0] = 0;
        if (d) {
            res->status = ICSTR_POOL_DUPLICATE;
            res->id = dup;
            continue;
        }
        icstr_pool_record r = *in;
        r.id = next++;
        r.time_added = now;
        r.image_hash = hash;
        unsigned char *buf, key[8], hk[8], idv[8];
        size_t len;
        if ((rc = icstr_pool_record_encode(&r, &buf, &len))) return rc;
        pool_id_key(key, r.id);
        pool_put_u64(hk, hash & icstr_pool_hash_mask_);
        pool_id_key(idv, r.id);
        unsigned char *emb = malloc(pool_emb_bytes(r.D));
        if (!emb) {
            free(buf);
            return icstr_fail(ICSTR_ERR_NOMEM, "pool add: embedding");
        }
        pool_emb_put(emb, r.embedding, r.D);
        MDB_val k = {8, key}, v = {len, buf}, e = {pool_emb_bytes(r.D), emb}, h = {8, hk}, hv = {8, idv};
        int mrc = mdb_put(txn, p->rec, &k, &v, MDB_NOOVERWRITE);
        if (!mrc) mrc = mdb_put(txn, p->emb, &k, &e, MDB_NOOVERWRITE);
        if (!mrc) mrc = mdb_put(txn, p->hash, &h, &hv, MDB_NODUPDATA);
        free(buf);
        free(emb);
        if (mrc) return pool_mdb_rc(p, mrc, "put a record");
        res->status = ICSTR_POOL_ADDED;
        res->id = r.id;
    }
    return pool_meta_put_u64(txn, p->meta, "next_id", next);
}

int pool_put_records(icstr_pool *p, pool_put_batch *b) {
    int rc = pool_write(p, put_body, b);
    if (!rc) {
        for (int i = 0; i < b->n; i++)
            if ((!b->skip || !b->skip[i]) && b->results[i].status == ICSTR_POOL_ADDED) p->loaded = 0;
    }
    return rc;
}

/* For a duplicate whose stored label differs, say so in its reason (the stored one is kept). */
static void note_label_conflicts(icstr_pool *p, const icstr_pool_record *recs, const int *skip, int n,
                                 icstr_pool_add_result *res) {
    for (int i = 0; i < n; i++) {
        if ((skip && skip[i]) || res[i].status != ICSTR_POOL_DUPLICATE) continue;
        icstr_pool_record old;
        if (icstr_pool_get(p, res[i].id, 0, &old)) continue;
        if (strcmp(old.label, recs[i].label))
            snprintf(res[i].reason, sizeof res[i].reason, "same image as record %llu, which is labelled '%.80s', not '%.80s'",
                     (unsigned long long)res[i].id, old.label, recs[i].label);
        icstr_pool_record_free(&old);
    }
}

static int tag_ok(const char *tag) {
    size_t n = strlen(tag);
    if (n > ICSTR_POOL_TAG_MAX || !icstr_utf8_valid(tag, n))
        return icstr_fail(ICSTR_ERR_ARG, "pool add: the tag '%.40s' is over %d bytes or not UTF-8", tag,
                          ICSTR_POOL_TAG_MAX);
    return ICSTR_OK;
}

int icstr_pool_add_encoded(icstr_pool *p, const icstr_pool_record *r, int n, icstr_pool_add_result *results) {
    if (!p || n < 0 || (n && !r)) return icstr_fail(ICSTR_ERR_ARG, "pool add: bad arguments");
    if (p->rdonly) return icstr_fail(ICSTR_ERR_ARG, "pool %s is open read-only", p->path);
    if (!n) return ICSTR_OK;
    icstr_pool_add_result *res = results ? results : calloc((size_t)n, sizeof *res);
    int *skip = calloc((size_t)n, sizeof *skip);
    icstr_pool_record *recs = calloc((size_t)n, sizeof *recs);
    float *embs = icstr_alloc((size_t)n * p->D, sizeof(float));
    int rc = ICSTR_OK;
    if (!res || !skip || !recs || !embs) {
        rc = icstr_fail(ICSTR_ERR_NOMEM, "pool add of %d records", n);
        goto out;
    }
    for (int i = 0; i < n; i++) {
        memset(&res[i], 0, sizeof res[i]);
        recs[i] = r[i];
        if (!recs[i].tag) recs[i].tag = "";
        int bad = label_refused(p, r[i].label, res[i].reason, sizeof res[i].reason);
        if (!bad && (r[i].M != p->M || r[i].D != p->D || !r[i].embedding || !r[i].latents || !r[i].image ||
                     !r[i].image_len)) {
            bad = ICSTR_ERR_ARG;
            snprintf(res[i].reason, sizeof res[i].reason, "record of M = %d, D = %d (pool %d, %d) or without data",
                     r[i].M, r[i].D, p->M, p->D);
        }
        if (!bad && tag_ok(recs[i].tag)) {
            bad = ICSTR_ERR_ARG;
            snprintf(res[i].reason, sizeof res[i].reason, "%s", icstr_last_error());
        }
        if (!bad) {
            /* stored normalised, as the model makes them */
            float *e = embs + (size_t)i * p->D;
            double s = 0.0;
            for (int k = 0; k < p->D; k++) s += (double)r[i].embedding[k] * r[i].embedding[k];
            if (!(s > 0.0) || !isfinite(s)) {
                bad = ICSTR_ERR_ARG;
                snprintf(res[i].reason, sizeof res[i].reason, "embedding of zero or non-finite norm");
            } else {
                float inv = fabs(s - 1.0) > 1e-5 ? (float)(1.0 / sqrt(s)) : 1.0f;
                for (int k = 0; k < p->D; k++) e[k] = r[i].embedding[k] * inv;
                recs[i].embedding = e;
            }
        }
        if (bad) {
            res[i].status = bad;
            skip[i] = 1;
        }
    }
    pool_put_batch b = {recs, n, skip, res};
    if (!(rc = pool_put_records(p, &b))) note_label_conflicts(p, recs, skip, n, res);
out:
    if (res != results) free(res);
    free(skip);
    free(recs);
    icstr_free(embs);
    return rc;
}

/* Marks items whose bytes are already stored, before paying for their encoding (the write
 * transaction checks again, for adds by other processes meanwhile). */
static int predetect_duplicates(icstr_pool *p, const icstr_pool_item *items, int n, int *skip,
                                icstr_pool_add_result *res) {
    MDB_txn *txn;
    int rc = pool_txn_begin(p, 1, &txn);
    if (rc) return rc;
    for (int i = 0; i < n && !rc; i++) {
        if (skip[i]) continue;
        uint64_t id;
        int d = pool_find_duplicate(p, txn, items[i].image, items[i].image_len,
                                    icstr_pool_hash(items[i].image, items[i].image_len), &id);
        if (d < 0) rc = d;
        else if (d) {
            res[i].status = ICSTR_POOL_DUPLICATE;
            res[i].id = id;
            skip[i] = 1;
        }
    }
    pool_txn_abort(p, txn);
    return rc;
}

int icstr_pool_add(icstr_pool *p, const icstr_pool_item *items, int n, const char *tag,
                   icstr_pool_add_result *results) {
    if (!p || n < 0 || (n && !items)) return icstr_fail(ICSTR_ERR_ARG, "pool add: bad arguments");
    if (!p->model) return icstr_fail(ICSTR_ERR_ARG, "pool add: the pool was opened without a model");
    if (p->rdonly) return icstr_fail(ICSTR_ERR_ARG, "pool %s is open read-only", p->path);
    if (!tag) tag = "";
    int rc = tag_ok(tag);
    if (rc || !n) return rc;
    const icstr_model_config *c = icstr_model_get_config(p->model);
    int M = p->M, D = p->D, H = c->img_h, W = c->img_w;
    size_t img = (size_t)3 * H * W;
    icstr_pool_add_result *res = results ? results : calloc((size_t)n, sizeof *res);
    int *skip = calloc((size_t)n, sizeof *skip);
    icstr_pool_record *recs = calloc((size_t)n, sizeof *recs);
    float *lat = icstr_alloc((size_t)n * M * D, sizeof(float));
    float *emb = icstr_alloc((size_t)n * D, sizeof(float));
    float *images = icstr_alloc((size_t)ENCODE_BATCH * img, sizeof(float));
    int *slot = calloc(ENCODE_BATCH, sizeof *slot);
    if (!res || !skip || !recs || !lat || !emb || !images || !slot) {
        rc = icstr_fail(ICSTR_ERR_NOMEM, "pool add of %d crops", n);
        goto out;
    }
    for (int i = 0; i < n; i++) {
        memset(&res[i], 0, sizeof res[i]);
        int bad = label_refused(p, items[i].label, res[i].reason, sizeof res[i].reason);
        if (!bad && (!items[i].image || !items[i].image_len)) {
            bad = ICSTR_ERR_ARG;
            snprintf(res[i].reason, sizeof res[i].reason, "no image bytes");
        }
        if (bad) {
            res[i].status = bad;
            skip[i] = 1;
        }
    }
    if ((rc = predetect_duplicates(p, items, n, skip, res))) goto out;
    /* decode and encode the rest, ENCODE_BATCH at a time */
    for (int i0 = 0; i0 < n;) {
        int g = 0, i = i0;
        for (; i < n && g < ENCODE_BATCH; i++) {
            if (skip[i]) continue;
            icstr_image im;
            int r = icstr_image_load_memory(items[i].image, items[i].image_len, items[i].name, &im);
            if (!r && (r = icstr_image_check_crop(&im, items[i].name))) icstr_image_free(&im);
            if (!r) {
                r = icstr_image_view_to_input(&im, &p->view, H, W, images + (size_t)g * img);
                icstr_image_free(&im);
            }
            if (r) {
                res[i].status = r;
                snprintf(res[i].reason, sizeof res[i].reason, "%s", icstr_last_error());
                skip[i] = 1;
                continue;
            }
            slot[g++] = i;
        }
        i0 = i;
        if (!g) continue;
        /* latents and embeddings land at the item's own index */
        float *glat = icstr_alloc((size_t)g * M * D, sizeof(float)), *gemb = icstr_alloc((size_t)g * D, sizeof(float));
        if (!glat || !gemb) rc = icstr_fail(ICSTR_ERR_NOMEM, "pool add: latents of %d crops", g);
        else rc = icstr_model_encode(p->model, images, g, glat, gemb);
        for (int k = 0; !rc && k < g; k++) {
            memcpy(lat + (size_t)slot[k] * M * D, glat + (size_t)k * M * D, (size_t)M * D * sizeof(float));
            memcpy(emb + (size_t)slot[k] * D, gemb + (size_t)k * D, (size_t)D * sizeof(float));
        }
        icstr_free(glat);
        icstr_free(gemb);
        if (rc) goto out;
    }
    for (int i = 0; i < n; i++) {
        recs[i].label = (char *)items[i].label;
        recs[i].tag = (char *)tag;
        recs[i].M = M;
        recs[i].D = D;
        recs[i].embedding = emb + (size_t)i * D;
        recs[i].latents = lat + (size_t)i * M * D;
        recs[i].image = (unsigned char *)items[i].image;
        recs[i].image_len = items[i].image_len;
    }
    pool_put_batch b = {recs, n, skip, res};
    if ((rc = pool_put_records(p, &b))) goto out;
    for (int i = 0; i < n; i++) skip[i] = skip[i] && res[i].status != ICSTR_POOL_DUPLICATE;
    note_label_conflicts(p, recs, skip, n, res);
out:
    if (res != results) free(res);
    free(skip);
    free(recs);
    icstr_free(lat);
    icstr_free(emb);
    icstr_free(images);
    free(slot);
    return rc;
}
