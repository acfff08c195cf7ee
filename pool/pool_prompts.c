/* Prompts for in-context decoding: retrieve each query's most similar records and lay out
 * their latents and label tokens as icstr_context, the most similar LAST (nearest the query). */
#include "pool_internal.h"

#include <stdlib.h>
#include <string.h>

void icstr_pool_prompts_free(icstr_pool_prompts *pp) {
    if (!pp) return;
    icstr_free(pp->latents);
    free(pp->labels);
    free(pp->label_len);
    free(pp->ids);
    free(pp->scores);
    free(pp->ctx);
    free(pp->found_ids);
    free(pp->found_scores);
    memset(pp, 0, sizeof *pp);
}

int icstr_pool_prompts_init(icstr_pool_prompts *pp, const icstr_pool *p, int cap, int shots) {
    if (!pp) return icstr_fail(ICSTR_ERR_ARG, "pool prompts: NULL");
    memset(pp, 0, sizeof *pp);
    if (!p || !p->model) return icstr_fail(ICSTR_ERR_ARG, "pool prompts: the pool was opened without a model");
    const icstr_model_config *c = icstr_model_get_config(p->model);
    if (cap < 1 || shots < 0) return icstr_fail(ICSTR_ERR_ARG, "pool prompts: cap %d, shots %d", cap, shots);
    if (shots > c->max_prompts)
        return icstr_fail(ICSTR_ERR_LIMIT, "pool prompts: %d shots, the model takes at most %d prompts", shots,
                          c->max_prompts);
    pp->cap = cap;
    pp->shots = shots;
    pp->min_score = -2.0f;
    pp->M = p->M;
    pp->D = p->D;
    pp->max_label = c->max_label;
    size_t slots = (size_t)cap * (shots ? shots : 1);
    pp->latents = icstr_alloc(slots * p->M * p->D, sizeof(float));
    pp->labels = calloc(slots * c->max_label, sizeof(int));
    pp->label_len = calloc(slots, sizeof(int));
    pp->ids = calloc(slots, sizeof(uint64_t));
    pp->scores = calloc(slots, sizeof(float));
    pp->ctx = calloc((size_t)cap, sizeof(icstr_context));
    pp->found_ids = calloc(slots, sizeof(uint64_t));
    pp->found_scores = calloc(slots, sizeof(float));
    if (!pp->latents || !pp->labels || !pp->label_len || !pp->ids || !pp->scores || !pp->ctx || !pp->found_ids ||
        !pp->found_scores) {
        icstr_pool_prompts_free(pp);
        return icstr_fail(ICSTR_ERR_NOMEM, "pool prompts for %d queries", cap);
    }
    return ICSTR_OK;
}

/* Copies record id's latents and label tokens into slot s. 1 = done, 0 = the record is gone. */
static int fetch(icstr_pool *p, MDB_txn *txn, uint64_t id, icstr_pool_prompts *pp, size_t s) {
    unsigned char key[8];
    pool_id_key(key, id);
    MDB_val k = {8, key}, v;
    int mrc = mdb_get(txn, p->rec, &k, &v);
    if (mrc == MDB_NOTFOUND) {
        /* removed since the matrix was loaded, with its search entry; a search entry without its
         * record in the same snapshot is damage, not a removal */
        MDB_val e;
        if ((mrc = mdb_get(txn, p->emb, &k, &e)) == MDB_NOTFOUND) return 0;
        if (mrc) return pool_db_fail(p, mrc, "get a search entry");
        return icstr_fail(ICSTR_ERR_FORMAT, "pool %s is corrupt: record %llu has a search entry but no record "
                          "(run `icstr pool check %s`)", p->path, (unsigned long long)id, p->path);
    }
    if (mrc) return pool_db_fail(p, mrc, "get a prompt");
    pool_record_view view;
    int rc = pool_record_parse(v.mv_data, v.mv_size, 0, &view);
    if (rc) return icstr_fail_context(rc, "pool %s, record %llu", p->path, (unsigned long long)id);
    if ((rc = pool_record_check_key(p, id, view.id))) return rc;
    if ((int)view.M != pp->M || (int)view.D != pp->D)
        return icstr_fail(ICSTR_ERR_FORMAT, "pool %s: record %llu has M = %u, D = %u, the pool %d, %d", p->path,
                          (unsigned long long)id, view.M, view.D, pp->M, pp->D);
    char label[ICSTR_POOL_LABEL_MAX + 1];
    memcpy(label, view.label, view.label_len);
    label[view.label_len] = 0;
    int *tok = pp->labels + s * pp->max_label, nt = 0;
    if ((rc = icstr_model_encode_label(p->model, label, tok, &nt)))
        return icstr_fail_context(rc, "pool %s, record %llu", p->path, (unsigned long long)id);
    icstr_vocab_info vi = icstr_model_vocab(p->model);
    for (int j = nt; j < pp->max_label; j++) tok[j] = vi.pad;
    pp->label_len[s] = nt;
    pool_get_f32s(pp->latents + s * pp->M * pp->D, view.latents, (size_t)pp->M * pp->D);
    return 1;
}

int icstr_pool_prompts_fill(icstr_pool *p, const float *embeddings, int q, icstr_pool_prompts *pp) {
    if (!p || !pp || !pp->ctx || q < 0 || q > pp->cap || (q && !embeddings))
        return icstr_fail(ICSTR_ERR_ARG, "pool prompts: bad arguments (q %d)", q);
    if (!p->model || pp->M != p->M || pp->D != p->D)
        return icstr_fail(ICSTR_ERR_ARG, "pool prompts: not made for this pool");
    int S = pp->shots, found = 0, rc = ICSTR_OK;
    for (int i = 0; i < q; i++) {
        size_t base = (size_t)i * (S ? S : 1);
        pp->ctx[i] = (icstr_context){0, pp->latents + base * pp->M * pp->D, pp->labels + base * pp->max_label,
                                     pp->label_len + base};
    }
    if (!S || !q) return ICSTR_OK;
    if ((rc = icstr_pool_search(p, embeddings, q, S, pp->found_ids, pp->found_scores, &found))) return rc;
    if (!found) return ICSTR_OK;
    MDB_txn *txn;
    if ((rc = pool_txn_begin(p, 1, &txn))) return rc;
    for (int i = 0; i < q && !rc; i++) {
        size_t base = (size_t)i * S;
        int c = 0;
        /* the least similar first, so the most similar ends up last */
        for (int j = found - 1; j >= 0; j--) {
            uint64_t id = pp->found_ids[base + j];
            if (pp->found_scores[base + j] < pp->min_score) continue;
            int got = fetch(p, txn, id, pp, base + c);
            if (got < 0) {
                rc = got;
                break;
            }
            if (!got) continue;
            pp->ids[base + c] = id;
            pp->scores[base + c] = pp->found_scores[base + j];
            c++;
        }
        pp->ctx[i].n_prompts = c;
    }
    pool_txn_abort(p, txn);
    return rc;
}

icstr_model *icstr_pool_model(const icstr_pool *p) { return p ? p->model : NULL; }
const char *icstr_pool_path(const icstr_pool *p) { return p ? p->path : NULL; }
