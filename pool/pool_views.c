/* The pool's views (icstr_pool.h): the one its records and queries are read with (meta "view")
 * and the alternates a reading may vote over (meta "view.alternates", views apart by ';'). */
#include "pool_internal.h"

#include <stdio.h>
#include <string.h>

int pool_meta_get_view(MDB_txn *txn, MDB_dbi meta, const char *key, icstr_view *v) {
    char s[ICSTR_VIEW_TEXT];
    int rc = pool_meta_get_str(txn, meta, key, s, sizeof s);
    if (rc == ICSTR_ERR_NOTFOUND) return ICSTR_OK;
    if (rc) return rc;
    if (icstr_view_parse(s, v)) return icstr_fail(ICSTR_ERR_FORMAT, "pool metadata: '%s' is not a view ('%s')", key, s);
    return ICSTR_OK;
}

int pool_meta_put_view(MDB_txn *txn, MDB_dbi meta, const char *key, const icstr_view *v) {
    char s[ICSTR_VIEW_TEXT];
    icstr_view_format(v, s);
    return pool_meta_put_str(txn, meta, key, s);
}

int pool_load_views(icstr_pool *p, MDB_txn *txn) {
    p->view = icstr_view_full();
    p->n_alternates = 0;
    int rc = pool_meta_get_view(txn, p->meta, "view", &p->view);
    if (rc) return rc;
    char s[ICSTR_POOL_ALTERNATES_MAX * ICSTR_VIEW_TEXT + 8];
    rc = pool_meta_get_str(txn, p->meta, "view.alternates", s, sizeof s);
    if (rc == ICSTR_ERR_NOTFOUND) return ICSTR_OK;
    if (rc) return rc;
    for (char *save = NULL, *t = strtok_r(s, ";", &save); t; t = strtok_r(NULL, ";", &save)) {
        if (p->n_alternates == ICSTR_POOL_ALTERNATES_MAX || icstr_view_parse(t, &p->alternates[p->n_alternates]))
            return icstr_fail(ICSTR_ERR_FORMAT, "pool %s: metadata 'view.alternates' is malformed", p->path);
        p->n_alternates++;
    }
    return ICSTR_OK;
}

icstr_view icstr_pool_view(const icstr_pool *p) { return p ? p->view : icstr_view_full(); }

int icstr_pool_alternates(const icstr_pool *p, icstr_view *out, int cap) {
    int n = p->n_alternates < cap ? p->n_alternates : cap;
    memcpy(out, p->alternates, (size_t)(n > 0 ? n : 0) * sizeof *out);
    return p->n_alternates;
}

typedef struct {
    const icstr_view *views;
    int n;
} alternates_arg;

static int alternates_body(icstr_pool *p, MDB_txn *txn, void *arg) {
    alternates_arg *a = arg; /* pool_write refuses a pool re-embedded since open */
    if (!a->n) return pool_meta_del(p, txn, "view.alternates");
    char s[ICSTR_POOL_ALTERNATES_MAX * ICSTR_VIEW_TEXT + 8] = "";
    size_t len = 0;
    for (int i = 0; i < a->n; i++) {
        char v[ICSTR_VIEW_TEXT];
        icstr_view_format(&a->views[i], v);
        len += (size_t)snprintf(s + len, sizeof s - len, "%s%s", i ? ";" : "", v);
    }
    return pool_meta_put_str(txn, p->meta, "view.alternates", s);
}

int icstr_pool_set_alternates(icstr_pool *p, const icstr_view *views, int n) {
    if (!p || n < 0 || n > ICSTR_POOL_ALTERNATES_MAX || (n && !views))
        return icstr_fail(ICSTR_ERR_ARG, "pool alternates: %d views (at most %d)", n, ICSTR_POOL_ALTERNATES_MAX);
    if (p->rdonly) return icstr_fail(ICSTR_ERR_ARG, "pool %s: opened read-only", p->path);
    for (int i = 0; i < n; i++)
        if (icstr_view_check(&views[i])) return icstr_fail_context(ICSTR_ERR_ARG, "pool alternates: view %d", i);
    alternates_arg a = {views, n};
    int rc = pool_write(p, alternates_body, &a);
    if (rc) return rc;
    if (n) memcpy(p->alternates, views, (size_t)n * sizeof *views);
    p->n_alternates = n;
    return ICSTR_OK;
}
